//! A real Redis (Debian's package) for tests: `redis-server` on a free loopback port, nothing
//! saved to disk, stopped when dropped. [`Redis::restart`] stops it and starts it again on
//! the same port (empty: what a crashed Redis without persistence comes back as).

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::START_TIMEOUT;

pub struct Redis {
    child: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Starts redis-server; ready when it answers PING. Panics with what went wrong when Redis
    /// is not installed (scripts/test.sh installs it).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut last = String::new();
        for _ in 0..5 {
            let port = crate::free_port();
            match spawn(port, dir.path()) {
                Ok(child) => {
                    return Self {
                        child: Some(child),
                        port,
                        _dir: dir,
                    }
                }
                Err(err) => last = err,
            }
        }
        panic!("{last}");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills it (SIGKILL: a crash, every connection cut).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match spawn(self.port, self._dir.path()) {
                Ok(child) => {
                    self.child = Some(child);
                    return;
                }
                // The port can take a moment to be free again.
                Err(err) if Instant::now() > deadline => panic!("{err}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(port: u16, dir: &std::path::Path) -> Result<Child, String> {
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .args(["--loglevel", "warning"])
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("start redis-server (Debian package redis-server): {e}"))?;
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server exited at start: {status}"));
        }
        if answers_ping(port) {
            return Ok(child);
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            return Err("redis-server did not answer in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    matches!(stream.read(&mut answer), Ok(n) if answer[..n].starts_with(b"+PONG"))
}

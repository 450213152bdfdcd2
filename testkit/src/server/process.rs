//! The server as a child process: `parley-server --config … --data … serve --listen …`,
//! ready once it prints its one stdout line, `listening on http(s)://<addr>`; stopped with
//! SIGTERM, killed with SIGKILL. Also the admin subcommands and the process helpers the
//! lifecycle tests use on processes they start themselves.

use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use crate::{Error, START_TIMEOUT};

/// What a start needs to know.
pub(super) struct Launch<'a> {
    pub binary: &'a Path,
    pub shell_prefix: Option<&'a str>,
    pub config: &'a Path,
    pub data: &'a Path,
    pub listen: SocketAddr,
    pub env: &'a [(String, String)],
    pub log_filter: &'a str,
}

/// A running server process; killed if dropped.
pub(super) struct ServerProcess {
    child: Option<Child>,
}

impl ServerProcess {
    /// The process and where it listens (`http` or `https`, and the address).
    pub(super) async fn spawn(
        launch: &Launch<'_>,
    ) -> Result<(Self, (&'static str, SocketAddr)), Error> {
        let mut command = match launch.shell_prefix {
            None => Command::new(launch.binary),
            Some(prefix) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                    .arg(launch.binary);
                sh
            }
        };
        command
            .arg("--config")
            .arg(launch.config)
            .arg("--data")
            .arg(launch.data)
            .args(["serve", "--listen", &launch.listen.to_string()])
            .env("PARLEY_LOG", launch.log_filter)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let child = command.spawn().map_err(|source| Error::Start {
            what: launch.binary.display().to_string(),
            source,
        })?;
        let mut process = Self { child: Some(child) };
        let line = read_first_line(process.child_mut()).await?;
        let url = line.trim().strip_prefix("listening on ");
        let at = |scheme: &'static str| {
            url.and_then(|u| u.strip_prefix(scheme))
                .and_then(|u| u.strip_prefix("://"))
                .and_then(|addr| addr.parse().ok())
                .map(|addr| (scheme, addr))
        };
        let listening = at("http")
            .or_else(|| at("https"))
            .ok_or_else(|| Error::StartFailed(format!("its first line was {line:?}")))?;
        Ok((process, listening))
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("a running child")
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running child").id()
    }

    /// SIGTERM, then the exit status (within `timeout`).
    pub(super) async fn stop(mut self, timeout: Duration) -> Result<ExitStatus, Error> {
        let mut child = self.child.take().expect("a running child");
        let pid = child.id();
        send_signal(pid, rustix::process::Signal::TERM);
        let waited = tokio::time::timeout(
            timeout,
            tokio::task::spawn_blocking(move || {
                let status = child.wait();
                (child, status)
            }),
        )
        .await;
        match waited {
            Ok(Ok((_, status))) => Ok(status?),
            Ok(Err(join)) => Err(Error::StartFailed(format!(
                "waiting for the server: {join}"
            ))),
            Err(_) => {
                // The blocking wait owns the child: a kill ends it, and that wait reaps it.
                send_signal(pid, rustix::process::Signal::KILL);
                Err(Error::StopTimeout(timeout))
            }
        }
    }

    /// SIGKILL, and the zombie reaped.
    pub(super) async fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }

    pub(super) fn into_child(mut self) -> Child {
        self.child.take().expect("a running child")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first line a spawned process prints on stdout, within [`START_TIMEOUT`].
async fn read_first_line(child: &mut Child) -> Result<String, Error> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::StartFailed("its stdout is not piped".to_owned()))?;
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    match tokio::time::timeout(START_TIMEOUT, read).await {
        Err(_) => Err(Error::StartTimeout),
        Ok(Err(join)) => Err(Error::StartFailed(join.to_string())),
        Ok(Ok(line)) => Ok(line?),
    }
}

/// The first line a spawned server prints on stdout (its `listening on` line), with a
/// timeout; for tests that start `parley-server` themselves.
pub async fn first_stdout_line(child: &mut Child) -> String {
    read_first_line(child)
        .await
        .unwrap_or_else(|e| panic!("reading the server's first line: {e}"))
}

/// Sends a signal by name (`TERM`, `INT`, `KILL`, `HUP`) to a child process.
pub fn signal(child: &Child, name: &str) {
    use rustix::process::Signal;
    let signal = match name {
        "TERM" => Signal::TERM,
        "INT" => Signal::INT,
        "KILL" => Signal::KILL,
        "HUP" => Signal::HUP,
        other => panic!("no signal {other} in the kit"),
    };
    assert!(
        send_signal(child.id(), signal),
        "cannot signal {}",
        child.id()
    );
}

fn send_signal(pid: u32, signal: rustix::process::Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::kill_process(pid, signal).is_ok())
}

/// Runs an admin subcommand (`user add`, `token create`, …) on a data directory.
pub(super) fn admin(
    binary: &Path,
    config: &Path,
    data: &Path,
    env: &[(String, String)],
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .args(args)
        .env("PARLEY_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

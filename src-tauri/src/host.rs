//! "Host a workspace on this computer": the bundled `parley-server` binary, run as a child
//! process with its data under the app's data directory, listening on loopback. It is
//! installed next to the app (`/usr/bin/parley-server` from the .deb; `target/<profile>/` in a
//! workspace build); `PARLEY_SERVER_BIN` overrides the path.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{io::AsyncWriteExt, process::Command};

use crate::types::AppError;

pub struct HostedServer {
    child: tokio::process::Child,
    pub port: u16,
}

/// Where the bundled server binary is.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PARLEY_SERVER_BIN") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("parley-server")))
        .unwrap_or_else(|| PathBuf::from("parley-server"))
}

/// A port free right now on loopback.
pub fn free_port() -> Result<u16, AppError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AppError::new("host_failed", format!("no free port: {e}")))
}

/// Creates the first admin account in a new workspace's data directory.
pub async fn create_admin(data: &Path, username: &str, password: &str) -> Result<(), AppError> {
    std::fs::create_dir_all(data)
        .map_err(|e| AppError::new("host_failed", format!("{}: {e}", data.display())))?;
    let mut child = Command::new(server_binary())
        .arg("--data")
        .arg(data)
        .args(["user", "add", username, "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            AppError::new(
                "host_failed",
                format!(
                    "cannot start the bundled server ({}): {e}",
                    server_binary().display()
                ),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let line = format!("{password}\n");
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| AppError::new("host_failed", "creating the account timed out"))?
        .map_err(|e| AppError::new("host_failed", e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reason = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("unknown error")
        .trim()
        .to_owned();
    Err(AppError::new(
        if reason.contains("taken") || reason.contains("exists") {
            "name_taken"
        } else {
            "host_failed"
        },
        format!("cannot create the account: {reason}"),
    ))
}

impl HostedServer {
    /// Starts the server on `port` and waits until it answers `/healthz`.
    pub async fn start(data: &Path, port: u16) -> Result<Self, AppError> {
        std::fs::create_dir_all(data)
            .map_err(|e| AppError::new("host_failed", format!("{}: {e}", data.display())))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("server.log"))
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let mut child = Command::new(server_binary())
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                AppError::new(
                    "host_failed",
                    format!(
                        "cannot start the bundled server ({}): {e}",
                        server_binary().display()
                    ),
                )
            })?;
        let url = format!("http://127.0.0.1:{port}/healthz");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(AppError::new(
                    "host_failed",
                    format!(
                        "the bundled server stopped ({status}); see {}",
                        data.join("server.log").display()
                    ),
                ));
            }
            if let Ok(Ok(r)) =
                tokio::time::timeout(Duration::from_secs(2), http.get(&url).send()).await
            {
                if r.status().is_success() {
                    return Ok(Self { child, port });
                }
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.start_kill();
                return Err(AppError::new(
                    "host_failed",
                    "the bundled server did not answer within 20 s",
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it cleanly (SIGTERM: it flushes documents and closes the store), killing it if it
    /// has not ended within 10 s.
    pub async fn stop(mut self) {
        if let Some(pid) = self
            .child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

//! The server this app hosts, kept running: [`HostedServer`] starts it (`host.rs` has the
//! command line it shares with the admin commands), waits for `/healthz`, and a supervisor
//! task restarts it with backoff when it dies, gives up after repeated exits, and reports each
//! change as a [`HostState`]. Open to the LAN, it serves TLS with the certificate of `lan.rs`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use crate::{
    host::{error_line, server_binary, server_command, stop_stale_servers},
    types::{AppError, HostState},
};

/// The shortest password the app lets anyone choose (the server's rule).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Restarts within [`CRASH_WINDOW`] after which the supervisor gives up.
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(300);
/// Backoff between restarts: doubled from the first, up to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Told of every change of [`HostState`].
pub type OnHostState = Arc<dyn Fn(HostState) + Send + Sync>;

/// What one start of the server needs.
#[derive(Clone)]
struct Launch {
    data: PathBuf,
    port: u16,
    /// Open to the LAN with this certificate (else loopback only, plain HTTP).
    lan: Option<crate::lan::HostCertificate>,
}

impl Launch {
    fn url(&self) -> String {
        match self.lan {
            Some(_) => format!("https://127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Starts the process and waits until it answers `/healthz`.
    async fn start(&self) -> Result<tokio::process::Child, AppError> {
        let data = &self.data;
        parley_client::files::private_dir(data)
            .map_err(|e| AppError::new("host_failed", format!("{}: {e}", data.display())))?;
        let log_path = data.join("server.log");
        parley_client::files::private_file(&log_path)
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_path)
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let mut cmd = server_command(data);
        match &self.lan {
            Some(cert) => {
                cmd.env("PARLEY_SERVER_TLS_CERT", &cert.cert)
                    .env("PARLEY_SERVER_TLS_KEY", &cert.key)
                    .env("PARLEY_SERVER_ALLOWED_HOSTS", crate::lan::allowed_hosts())
                    .args(["serve", "--exit-with-parent", "--listen"])
                    .arg(format!("0.0.0.0:{}", self.port));
                // The app's own client trusts exactly this certificate.
                parley_client::tls::pin(&self.url(), &cert.fingerprint)
                    .map_err(|e| AppError::new("host_failed", e.to_string()))?;
            }
            None => {
                cmd.args(["serve", "--exit-with-parent", "--listen"])
                    .arg(format!("127.0.0.1:{}", self.port));
            }
        }
        // Ends with the app even when the app is killed (a parent-death signal). Linux sends
        // that signal when the *thread* that spawned the child ends: this runs on one of the
        // async runtime's worker threads, which live as long as the app (never call it from
        // `spawn_blocking`, whose threads end when idle).
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
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
        let server = parley_client::HttpApi::new(&self.url())
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(AppError::new(
                    "host_failed",
                    format!(
                        "the bundled server stopped ({}); see {}",
                        exit_reason(status, data),
                        log_path.display()
                    ),
                ));
            }
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), server.health()).await {
                return Ok(child);
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
}

/// Why the server process ended, for a person: the signal or status, and its own last word.
fn exit_reason(status: std::process::ExitStatus, data: &Path) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(9) => "it was killed (SIGKILL)".to_owned(),
        Some(signal) => format!("it was ended by signal {signal}"),
        None => {
            let tail = recent_log(data, 20).join("\n");
            format!(
                "it exited with status {}: {}",
                status.code().unwrap_or(-1),
                error_line(&tail)
            )
        }
    }
}

/// The last `max` lines of the hosted server's log (its last 64 KiB at most).
pub fn recent_log(data: &Path, max: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 64 * 1024;
    let Ok(mut file) = std::fs::File::open(data.join("server.log")) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let from = len.saturating_sub(TAIL);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(from)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if from > 0 && !lines.is_empty() {
        // The first line was cut by the window.
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(max);
    lines.split_off(skip)
}

/// The hosted server and the task that keeps it running: restarted with backoff when it dies,
/// given up after [`MAX_CRASHES`] within [`CRASH_WINDOW`].
pub struct HostedServer {
    pub port: u16,
    launch: Launch,
    state: tokio::sync::watch::Receiver<HostState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl HostedServer {
    /// Starts the server on `port` (open to the LAN with TLS when `lan`), waits until it
    /// answers, and supervises it from then on.
    pub async fn start(
        data: &Path,
        port: u16,
        lan: bool,
        on_state: OnHostState,
    ) -> Result<Self, AppError> {
        stop_stale_servers(data).await;
        let lan = if lan {
            Some(crate::lan::certificate(data)?)
        } else {
            None
        };
        let launch = Launch {
            data: data.to_owned(),
            port,
            lan,
        };
        let child = launch.start().await?;
        let (state_tx, state) = tokio::sync::watch::channel(HostState::Running {
            restarts: 0,
            last_exit: None,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(supervise(
            child,
            launch.clone(),
            stopped,
            state_tx,
            on_state,
        ));
        Ok(Self {
            port,
            launch,
            state,
            stop: Some(stop),
            task,
        })
    }

    /// The address the app itself uses: `http(s)://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.launch.url()
    }

    /// The certificate's fingerprint when open to the LAN.
    pub fn fingerprint(&self) -> Option<String> {
        self.launch.lan.as_ref().map(|c| c.fingerprint.clone())
    }

    pub fn state(&self) -> HostState {
        self.state.borrow().clone()
    }

    /// Stops it cleanly (SIGTERM: it flushes documents and closes the store), killing it if it
    /// has not ended within 10 s.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
    }
}

async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

async fn supervise(
    mut child: tokio::process::Child,
    launch: Launch,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    state: tokio::sync::watch::Sender<HostState>,
    on_state: OnHostState,
) {
    let set = |next: HostState| {
        state.send_replace(next.clone());
        on_state(next);
    };
    let mut crashes: std::collections::VecDeque<tokio::time::Instant> = Default::default();
    let mut restarts = 0u32;
    loop {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = &mut stop => {
                terminate(&mut child).await;
                return;
            }
        };
        let mut reason = match status {
            Ok(status) => exit_reason(status, &launch.data),
            Err(err) => format!("it could not be waited for: {err}"),
        };
        tracing::warn!(%reason, "the hosted server stopped");
        let mut attempt = 0u32;
        loop {
            let now = tokio::time::Instant::now();
            crashes.push_back(now);
            while crashes
                .front()
                .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
            {
                crashes.pop_front();
            }
            if crashes.len() >= MAX_CRASHES {
                let reason = format!(
                    "The workspace server on this computer stopped {} times within {} minutes, \
                     so Parley stopped restarting it. The last time, {reason}. Its recent log \
                     is in Settings → Hosting.",
                    crashes.len(),
                    CRASH_WINDOW.as_secs() / 60
                );
                tracing::error!(%reason, "giving up on the hosted server");
                set(HostState::Failed { reason });
                let _ = stop.await;
                return;
            }
            attempt += 1;
            let delay = FIRST_BACKOFF
                .saturating_mul(1 << (crashes.len() - 1).min(16))
                .min(MAX_BACKOFF);
            set(HostState::Restarting {
                reason: reason.clone(),
                attempt,
                retry_in_ms: delay.as_millis() as u64,
            });
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = &mut stop => return,
            }
            match launch.start().await {
                Ok(started) => {
                    tracing::info!(attempt, "the hosted server is running again");
                    child = started;
                    restarts += 1;
                    set(HostState::Running {
                        restarts,
                        last_exit: Some(reason.clone()),
                    });
                    break;
                }
                Err(err) => reason = err.message,
            }
        }
    }
}

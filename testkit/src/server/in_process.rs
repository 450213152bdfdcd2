//! The server in the test's own process: what `parley-server serve` does after parsing its
//! arguments (bind, `Server::open`, `serve` until shut down), on a multi-threaded runtime of
//! its own on a thread of its own. The test's runtime may be single-threaded and may block
//! (a child process, a file read); the server never waits for it. When `serve` returns, the
//! thread drops the runtime, which ends whatever the server left running, as the end of the
//! process would.
//!
//! What it does not do, unlike the binary: take the data-directory lock, raise the open-file
//! limit, print the `listening on` line, install its own allocator, or read the process's
//! environment (settings come from the config text and the builder's variables only).

use std::{
    net::SocketAddr,
    sync::Once,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use parley_server::config::Config;
use tokio::sync::oneshot;

use crate::{Error, START_TIMEOUT};

/// How long dropping a running server waits for its shutdown (the server's own grace period
/// for connections to close is 10 s).
const DROP_WAIT: Duration = Duration::from_secs(15);

/// What the server thread returns: what `serve` returned, as text.
type Served = Result<(), String>;

pub(super) struct InProcessServer {
    /// Dropping it asks the server to shut down.
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Served>>,
}

impl InProcessServer {
    /// Binds `listen` (port 0 for any), opens storage and serves; returns once it answers.
    pub(super) async fn start(
        config: Config,
        listen: SocketAddr,
    ) -> Result<(Self, SocketAddr), Error> {
        init_logging();
        let (ready_tx, ready_rx) = oneshot::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("parley-server".to_owned())
            .spawn(move || run(config, listen, ready_tx, shutdown_rx))
            .map_err(|source| Error::Start {
                what: "the server's thread".to_owned(),
                source,
            })?;
        let mut server = Self {
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        };
        match tokio::time::timeout(START_TIMEOUT, ready_rx).await {
            Ok(Ok(Ok(addr))) => Ok((server, addr)),
            Ok(Ok(Err(message))) => Err(Error::StartFailed(message)),
            // The thread ended without a word: it panicked.
            Ok(Err(_)) => Err(Error::StartFailed(match server.thread.take().map(join) {
                Some(Err(message)) => message,
                _ => "the server's thread ended".to_owned(),
            })),
            Err(_) => Err(Error::StartTimeout),
        }
    }

    /// Shuts the server down and waits (at most `timeout`) for `serve` to return.
    pub(super) async fn stop(mut self, timeout: Duration) -> Result<Served, Error> {
        drop(self.shutdown.take());
        let thread = self.thread.take().expect("a running server");
        match tokio::time::timeout(timeout, tokio::task::spawn_blocking(move || join(thread))).await
        {
            Ok(Ok(served)) => Ok(served),
            Ok(Err(join)) => Ok(Err(join.to_string())),
            Err(_) => Err(Error::StopTimeout(timeout)),
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        drop(self.shutdown.take());
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Waits without joining blindly: a server that does not end is left behind, not
        // allowed to hang the test.
        let deadline = Instant::now() + DROP_WAIT;
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = join(thread);
        } else {
            eprintln!("parley-testkit: the in-process server did not shut down in {DROP_WAIT:?}");
        }
    }
}

fn join(thread: JoinHandle<Served>) -> Served {
    thread.join().unwrap_or_else(|panic| {
        Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the server's thread panicked".to_owned()))
    })
}

/// The server thread: a runtime, then bind, open, tell the starter, serve.
fn run(
    config: Config,
    listen: SocketAddr,
    ready: oneshot::Sender<Result<SocketAddr, String>>,
    shutdown: oneshot::Receiver<()>,
) -> Served {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("parley-server-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let message = format!("cannot build the server's runtime: {e}");
            let _ = ready.send(Err(message.clone()));
            return Err(message);
        }
    };
    let served = runtime.block_on(async move {
        let opened = async {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let tls = match config.server.tls_files() {
                Some((cert, key)) => {
                    Some(parley_server::Tls::load(&cert, &key).map_err(|e| e.to_string())?)
                }
                None => None,
            };
            let server = parley_server::Server::open(config)
                .await
                .map_err(|e| format!("cannot open the server: {e}"))?
                .with_tls(tls);
            Ok::<_, String>((listener, addr, server))
        };
        let (listener, addr, server) = match opened.await {
            Ok(opened) => opened,
            Err(message) => {
                let _ = ready.send(Err(message.clone()));
                return Err(message);
            }
        };
        let _ = ready.send(Ok(addr));
        // A dropped sender counts as the request: the test or its server handle is gone.
        let shutdown = async move {
            let _ = shutdown.await;
        };
        server
            .serve(listener, shutdown)
            .await
            .map_err(|e| e.to_string())
    });
    // Tasks the server left (timers, idle loops) end here; blocking work gets a moment.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

/// One log subscriber for every in-process server of this test process, to the test's
/// output, filtered by `PARLEY_LOG` (`warn` unless set), as a server process logs to stderr.
fn init_logging() {
    static LOGGING: Once = Once::new();
    LOGGING.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        // Another subscriber already set by the test binary is kept.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

//! Parley's one test kit, shared by the server's, the client's and the desktop app's tests and
//! by the benchmark: a [`TestServer`] on `127.0.0.1:0` with a temporary data directory, run
//! in-process for ordinary tests or as the real `parley-server` binary for tests that kill,
//! restart, signal or measure the process; a WebSocket client whose every wait has a timeout
//! ([`WsClient`]); a y-websocket document client ([`ydoc::DocClient`]); a proxy that cuts
//! connections and records requests; the `parley` CLI run as a process ([`Cli`]); a real
//! nginx or Caddy in front of a server, as docs/deployment.md configures them ([`nginx`],
//! [`caddy`], [`proxied`]); and the relaxed config most tests run with.
//!
//! A kit for tests: a failure panics the test that called it, with what went wrong. The few
//! calls the benchmark makes have `try_` forms that return [`Error`] instead.
#![allow(clippy::unwrap_used)]

mod binaries;
#[cfg(unix)]
pub mod caddy;
mod cli;
mod http;
#[cfg(unix)]
pub mod nginx;
pub mod node;
#[cfg(unix)]
pub mod postgres;
pub mod proxied;
mod proxy;
#[cfg(unix)]
pub mod redis;
mod server;
pub mod tls;
pub mod webhooks;
mod ws;
pub mod ydoc;

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

pub use binaries::{find_workspace_binary, target_profile_dir, workspace_binary};
pub use cli::{run_parley, run_parley_with, Cli, CliOutput};
pub use proxy::{free_port, Proxy};
pub use server::{first_stdout_line, signal, Exit, ServerBuilder, TestServer};
pub use ws::{seq_of, Ended, Ws, WsClient};

/// How long any single wait of the kit lasts (a frame, a reply, an HTTP answer) before the
/// test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may take to start (to print its `listening on` line, or to open its
/// storage in-process): longer than [`TIMEOUT`], for a loaded machine building beside it.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The config most tests run with: no rate limits, so tests measure behaviour rather than
/// limits, and revoked tokens noticed within 200 ms.
pub const RELAXED: &str = r#"
[rate_limit]
messages_per_second = 0
user_messages_per_second = 0
requests_per_second = 0
logins_per_second = 0
[server]
token_check_interval = "200ms"
"#;

/// The password [`TestServer::register`] gives every user.
pub const PASSWORD: &str = "correct horse";

/// What can go wrong starting or stopping a server, for callers that handle it (the
/// benchmark) rather than panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{} is not built: run `cargo build --workspace --bins` with the same profile as the \
         tests (the desktop app also needs `(cd ui && npm run build)` first), or ./scripts/test.sh",
        .0.display()
    )]
    NotBuilt(std::path::PathBuf),
    #[error("cannot start {what}: {source}")]
    Start {
        what: String,
        source: std::io::Error,
    },
    #[error("the server did not start within {START_TIMEOUT:?}")]
    StartTimeout,
    #[error("the server did not start: {0}")]
    StartFailed(String),
    #[error("the server did not stop within {0:?}")]
    StopTimeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A name no other test in any running test process uses: `prefix-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

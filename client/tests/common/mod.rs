//! Test harness for the client: the shared test kit (`parley-testkit`: the server, in-process
//! or as a process that can be killed and restarted on the same port, the proxy that cuts
//! connections, the `parley` CLI run as a process) and the client's longer wait.
#![allow(dead_code, clippy::unwrap_used)]

use std::{path::Path, time::Duration};

pub use parley_testkit::*;

/// Waits of the client's own tests (a flush, coming online): the client backs off between
/// attempts, so they get longer than the kit's.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `parley` with `PARLEY_HOME` = `home` (no keyring: the file fallback): whether it
/// succeeded, its output and its error output.
pub async fn parley(home: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    eprintln!("parley {args:?}");
    let out = run_parley(home, args, stdin).await;
    (out.success, out.stdout, out.stderr)
}

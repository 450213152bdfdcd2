//! Test harness for the client: the shared test kit (`parley-testkit`: the server, in-process
//! or as a process that can be killed and restarted on the same port, and the proxy that cuts
//! connections) and the `parley` binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::{path::Path, process::Stdio, time::Duration};

pub use parley_testkit::*;

/// Waits of the client's own tests (a flush, coming online): the client backs off between
/// attempts, so they get longer than the kit's.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `parley` with `PARLEY_HOME` = `home` (no keyring: the file fallback).
pub async fn parley(home: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    eprintln!("parley {args:?}");
    let mut cmd = tokio::process::Command::new(workspace_binary("parley"));
    cmd.args(args)
        .env("PARLEY_HOME", home)
        .env("PARLEY_NO_KEYRING", "1")
        .env_remove("PARLEY_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut input = child.stdin.take().unwrap();
        input.write_all(text.as_bytes()).await.unwrap();
    } else {
        drop(child.stdin.take());
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("parley timed out")
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

//! The `parley` command-line client, run as a process with a home of its own.

use std::process::Stdio;

use crate::{workspace_binary, TIMEOUT};

/// The `parley` command-line client with its own home (its token in a 0600 file: it runs
/// outside the app's keyring session).
pub struct Cli {
    home: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.output(args, stdin).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "parley {args:?} failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a command that must fail; its error output.
    pub async fn run_failing(&self, args: &[&str]) -> String {
        let out = self.output(args, None).await;
        assert!(!out.status.success(), "parley {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    async fn output(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(workspace_binary("parley"));
        cmd.args(args)
            .env("PARLEY_HOME", self.home.path())
            .env("PARLEY_NO_KEYRING", "1")
            .env_remove("PARLEY_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(input.as_bytes()).await.unwrap();
        }
        drop(child.stdin.take());
        tokio::time::timeout(TIMEOUT, child.wait_with_output())
            .await
            .expect("parley timed out")
            .unwrap()
    }
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

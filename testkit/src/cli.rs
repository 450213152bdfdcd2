//! The `parley` command-line client run as a process, with a home of its own and no keyring
//! (its token goes to the 0600 file fallback), so tests never touch the session's keyring.

use std::{path::Path, process::Stdio, time::Duration};

use crate::workspace_binary;

/// How long one `parley` command may take before the test fails.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// What one `parley` command did.
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `parley` with `PARLEY_HOME` = `home`, `stdin` written to it (or closed).
pub async fn run_parley(home: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    run_parley_with(home, args, stdin, &[]).await
}

/// [`run_parley`] with more environment variables (`PARLEY_CA_FILE`, ...).
pub async fn run_parley_with(
    home: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &Path)],
) -> CliOutput {
    let mut cmd = tokio::process::Command::new(workspace_binary("parley"));
    cmd.args(args)
        .envs(env.iter().copied())
        .env("PARLEY_HOME", home)
        .env("PARLEY_NO_KEYRING", "1")
        .env_remove("PARLEY_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let input = child.stdin.take();
    if let (Some(text), Some(mut pipe)) = (stdin, input) {
        use tokio::io::AsyncWriteExt;
        // A command that refuses its arguments exits before reading: its input is not wanted.
        if let Err(err) = pipe.write_all(text.as_bytes()).await {
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
        }
    }
    let output = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("parley {args:?} timed out"))
        .unwrap();
    CliOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The `parley` CLI with a temporary home of its own.
pub struct Cli {
    home: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs a command that must succeed; its standard output.
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = run_parley(self.home(), args, stdin).await;
        assert!(
            out.success,
            "parley {args:?} failed: {}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs a command that must fail; its error output.
    pub async fn run_failing(&self, args: &[&str]) -> String {
        let out = run_parley(self.home(), args, None).await;
        assert!(!out.success, "parley {args:?} succeeded");
        out.stderr
    }
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

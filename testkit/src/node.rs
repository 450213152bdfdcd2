//! A Node.js script driven over JSON lines: one command per line on its stdin, exactly one
//! JSON reply line per command on its stdout, in order (the SDK's `sdk/js/test/driver.mjs`,
//! the stock Yjs client `tests/interop/yclient.mjs`). Each reply waits at most a minute; the
//! process is killed when the driver is dropped.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

pub struct NodeDriver {
    name: String,
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl NodeDriver {
    /// Runs `node <dir>/<script>` in `dir`; its stderr goes to the test's when `logs`.
    pub fn spawn(dir: &Path, script: &str, logs: bool) -> Self {
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            name: script.to_owned(),
            _child: child,
            stdin,
            stdout,
        }
    }

    /// Sends a command; its reply.
    pub async fn call(&mut self, cmd: Value) -> Value {
        self.stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{} did not answer {cmd}", self.name))
            .unwrap()
            .unwrap_or_else(|| panic!("{} exited", self.name));
        serde_json::from_str(&line).unwrap()
    }

    /// A command that must succeed (`"ok": true`); its reply.
    pub async fn ok(&mut self, cmd: Value) -> Value {
        let reply = self.call(cmd.clone()).await;
        assert_eq!(reply["ok"], true, "{cmd} -> {reply}");
        reply
    }
}

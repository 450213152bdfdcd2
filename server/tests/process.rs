//! The server process and the machine: one server per data directory (a lock with a clear
//! refusal), the open-file limit raised at start, and `--exit-with-parent`.
#![allow(clippy::unwrap_used)]

use std::{
    io::Read,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use parley_testkit::*;
use serde_json::json;

/// Starts `parley-server serve` on `data` (with `extra` arguments) and returns the child.
fn serve_command(server: &TestServer, data: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(workspace_binary("parley-server"));
    command
        .arg("--config")
        .arg(server.config_path())
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("PARLEY_LOG", "warn");
    command
}

/// Waits (off the async threads, with a timeout) for a child to exit; kills it if it does not.
async fn exit_of(mut child: std::process::Child) -> (std::process::ExitStatus, String, String) {
    let waited = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let status = match waited {
        Ok(status) => status,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the second server did not exit: it is serving the same data directory");
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout, stderr)
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    let second = serve_command(&server, server.data_dir(), &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, stdout, stderr) = exit_of(second).await;
    assert!(!status.success());
    assert!(stdout.is_empty(), "it must not listen: {stdout:?}");
    let expected = format!(
        "parley-server: the data directory {} is in use by another parley-server (pid {}, {})",
        server.data_dir().display(),
        server.pid(),
        server.url()
    );
    assert!(
        stderr.contains(&expected),
        "{stderr:?}\nexpected {expected:?}"
    );
    // The first keeps serving, and admin commands still work beside it.
    let (status, me) = server.get("/api/me", Some(&token)).await;
    assert_eq!((status, me["name"].as_str()), (200, Some("alice")));
    let out = server.admin(&["token", "create", "alice"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Once it stops, a new server starts on the directory (the lock goes with the process).
    assert!(server.stop().await.success());
    server.start_again().await;
    let (status, _) = server.get("/api/me", Some(&token)).await;
    assert_eq!(status, 200);
    // Even after a crash.
    server.kill().await;
    server.start_again().await;
    assert_eq!(server.get("/healthz", None).await.0, 200);
}

/// Soft and hard "Max open files" of a process, from /proc/<pid>/limits.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    (fields[3].to_owned(), fields[4].to_owned())
}

#[tokio::test]
async fn the_open_file_limit_is_raised_to_the_hard_limit() {
    let hard = open_file_limits(std::process::id()).1;
    if hard.parse::<u64>().is_ok_and(|h| h <= 256) {
        eprintln!("skipped: the hard open-file limit ({hard}) leaves nothing to raise");
        return;
    }
    let server = TestServer::builder()
        .config(RELAXED)
        .shell_prefix("ulimit -Sn 256")
        .start_process()
        .await;
    let (soft, hard) = open_file_limits(server.pid());
    assert_eq!(
        soft, hard,
        "the server kept a soft limit below its hard limit"
    );
}

#[tokio::test]
async fn the_server_ends_with_its_parent() {
    let server = TestServer::start_process(RELAXED).await;
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("server.log");
    // A parent that starts the server in the background and is then killed outright.
    let inner = serve_command(&server, data.path(), &["--exit-with-parent"]);
    let mut parent = Command::new("sh");
    parent
        .arg("-c")
        .arg("\"$0\" \"$@\" & wait")
        .arg(inner.get_program())
        .args(inner.get_args())
        .env("PARLEY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut parent = parent.spawn().unwrap();
    // Read the listening line but keep the pipe: its end tells when the server has exited.
    let stdout = std::io::BufReader::new(parent.stdout.take().unwrap());
    let (line, mut stdout) = tokio::time::timeout(
        TIMEOUT,
        tokio::task::spawn_blocking(move || {
            let mut stdout = stdout;
            let mut line = String::new();
            std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
            (line, stdout)
        }),
    )
    .await
    .expect("the server did not start")
    .unwrap();
    assert!(line.starts_with("listening on "), "{line:?}");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("parley.lock")).unwrap())
            .unwrap();
    let pid = lock["pid"].as_u64().unwrap();
    assert_eq!(lock["url"], json!(url));
    // Kills the server if the test fails before it ends by itself.
    let _guard = KillOnDrop(pid);

    parent.kill().unwrap();
    parent.wait().unwrap();
    // The server held the other end of the pipe: it closes when the server has exited.
    tokio::time::timeout(
        TIMEOUT,
        tokio::task::spawn_blocking(move || {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest);
        }),
    )
    .await
    .expect("the server outlived its parent")
    .unwrap();
    // It shut down cleanly (SIGTERM, not a kill) ...
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("shut down"), "{logged}");
    // ... and let go of its data directory.
    let next = serve_command(&server, data.path(), &[])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut next = ChildGuard(next);
    let line = first_stdout_line(&mut next.0).await;
    assert!(line.starts_with("listening on "), "{line:?}");
}

#[tokio::test]
async fn exit_with_parent_refuses_to_start_as_an_orphan() {
    let server = TestServer::start_process(RELAXED).await;
    let data = tempfile::tempdir().unwrap();
    // The shell starts a subshell that waits for a line, then becomes the server; the shell
    // exits at once, so by the time the line comes the server-to-be is an orphan (adopted by
    // init): the parent-death signal could never come, and it must not run unsupervised.
    let inner = serve_command(&server, data.path(), &["--exit-with-parent"]);
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg("exec 3<&0; (read go <&3; exec \"$0\" \"$@\") & exit 0")
        .arg(inner.get_program())
        .args(inner.get_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut go = parent.stdin.take().unwrap();
    assert!(parent.wait().unwrap().success());
    std::io::Write::write_all(&mut go, b"go\n").unwrap();
    drop(go);
    let (mut stdout, mut stderr) = (parent.stdout.take().unwrap(), parent.stderr.take().unwrap());
    let (out, err) = tokio::time::timeout(
        TIMEOUT,
        tokio::task::spawn_blocking(move || {
            let (mut out, mut err) = (String::new(), String::new());
            let _ = stdout.read_to_string(&mut out);
            let _ = stderr.read_to_string(&mut err);
            (out, err)
        }),
    )
    .await
    .expect("the orphaned server kept running")
    .unwrap();
    assert!(out.is_empty(), "it must not listen: {out:?}");
    assert!(
        err.contains("parley-server: the process that started parley-server has already exited"),
        "{err:?}"
    );
}

/// Under writes that never pause, the write-ahead log stays near `storage.checkpoint_pages`:
/// the writer folds it into the database itself and it starts again from its beginning, where
/// before it grew by the size of everything written (gigabytes a minute at full speed).
#[tokio::test]
async fn the_write_ahead_log_stays_bounded_under_sustained_writes() {
    const WRITERS: usize = 4;
    const SENDS: usize = 1500;
    let server = TestServer::start(&format!(
        "{RELAXED}\n[storage]\ncheckpoint_pages = 64\n[realtime]\nmax_message_length = 4000\n"
    ))
    .await;
    let owner = server.register("owner").await;
    server.create_channel(&owner, "load").await;
    let wal = server.data_dir().join("parley.db-wal");
    let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = tokio_util::sync::CancellationToken::new();
    let watcher = {
        let (wal, largest, done) = (wal.clone(), largest.clone(), done.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            while !done.is_cancelled() {
                tick.tick().await;
                let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                largest.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let text = "x".repeat(2000);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let token = server.register(&format!("writer{w}")).await;
        let mut ws = server.connect(Some(&token)).await;
        ws.ok(json!({"type": "channel_join", "channel": "load"}))
            .await;
        let text = text.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(SENDS);
            for i in 0..SENDS {
                let op = json!({"type": "send", "channel": "load", "text": text, "client_id": format!("w{w}-{i}")});
                ids.push(ws.send(op).await);
            }
            for id in ids {
                let reply = ws.wait_for(|f| f["id"] == json!(id)).await;
                assert_eq!(reply["type"], "reply", "{reply}");
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.cancel();
    watcher.await.unwrap();
    // 6,000 messages of 2,000 characters wrote more than 24 MB through the log (each is
    // stored as a message and as its event). 64 pages is 256 KiB; one batch of at most
    // 4 × 64 pipelined sends adds up to about 1.5 MiB before the writer's checkpoint.
    let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("the log's largest size: {largest} bytes");
    assert!(
        largest <= 3 * 1024 * 1024,
        "the log reached {largest} bytes"
    );
    let mut reader = server.connect(Some(&owner)).await;
    let list = reader.ok(json!({"type": "channel_list"})).await;
    let head = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "load")
        .map(|c| c["head"].as_u64().unwrap())
        .unwrap();
    assert!(head >= (WRITERS * SENDS) as u64, "head {head}");
}

struct KillOnDrop(u64);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(self.0.to_string())
            .stderr(Stdio::null())
            .status();
    }
}

struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

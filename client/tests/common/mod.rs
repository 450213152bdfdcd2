//! Test harness for the client: the real `parley-server` (built with the workspace) on a port
//! chosen at run time with a temporary data directory, which can be killed and restarted on
//! the same port; a TCP proxy that cuts connections on demand; and the `parley` binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub const RELAXED: &str = r#"
[rate_limit]
messages_per_second = 0
user_messages_per_second = 0
requests_per_second = 0
logins_per_second = 0
"#;

/// A binary of the workspace, next to this test's executable.
pub fn workspace_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run ./scripts/test.sh, or `cargo build --workspace --bins` (the same \
         profile as the tests)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct TestServer {
    pub port: u16,
    data: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
}

impl TestServer {
    pub async fn start(config: &str) -> Self {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("parley.toml");
        std::fs::write(&path, config).unwrap();
        let mut server = Self {
            port: free_port(),
            data,
            config: path,
            child: None,
        };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub async fn spawn(&mut self) {
        let mut child = Command::new(workspace_binary("parley-server"))
            .arg("--config")
            .arg(&self.config)
            .arg("--data")
            .arg(self.data.path())
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env("PARLEY_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = tokio::time::timeout(
            TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await
        .expect("server start timed out")
        .unwrap()
        .unwrap();
        assert!(line.starts_with("listening on"), "{line}");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown at all.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.url()))
            .json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = tokio::time::timeout(TIMEOUT, req.send())
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.url()));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = tokio::time::timeout(TIMEOUT, req.send())
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn register(&self, name: &str) -> String {
        let (status, body) = self
            .post(
                "/api/register",
                None,
                json!({"name": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn create_channel(&self, token: &str, name: &str) {
        let (status, body) = self
            .post("/api/channels", Some(token), json!({"channel": name}))
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// Every message of a channel, oldest first (all pages).
    pub async fn history(&self, token: &str, channel: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut before: Option<u64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/api/channels/{channel}/messages?limit=500&before={b}"),
                None => format!("/api/channels/{channel}/messages?limit=500"),
            };
            let (status, page) = self.get(&path, Some(token)).await;
            assert_eq!(status, 200, "{page}");
            let messages = page["messages"].as_array().unwrap().clone();
            before = messages.last().and_then(|m| m["seq"].as_u64());
            all.extend(messages);
            if page["has_more"] != true {
                break;
            }
        }
        all.reverse();
        all
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of the server that can cut every open connection at once.
pub struct Proxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let list = Arc::clone(&conns);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                list.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            port,
            conns,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection through the proxy (as a network failure would).
    pub fn cut(&self) {
        for conn in self.conns.lock().unwrap().drain(..) {
            conn.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

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

/// A TCP proxy that records the head (request line and headers) of every request that
/// passes through it.
pub struct RecordingProxy {
    pub port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    pub async fn start(upstream: u16) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&heads);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    // The first read holds the request's head (clients send it in one write).
                    let mut buf = vec![0u8; 16 * 1024];
                    let Ok(n) = inbound.read(&mut buf).await else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(head);
                    if outbound.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        Self {
            port,
            heads,
            accept,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

//! Test harness: starts the real `parley-server` binary on port 0 with a temporary data dir and
//! drives it over real WebSockets and HTTP. Every wait has a timeout.
#![allow(dead_code, clippy::unwrap_used)]

pub mod ydoc;

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Config used by most tests: generous rate limits so tests measure behaviour, not limits.
pub const RELAXED: &str = r#"
[rate_limit]
messages_per_second = 0
user_messages_per_second = 0
requests_per_second = 0
logins_per_second = 0
[server]
token_check_interval = "200ms"
"#;

pub struct TestServer {
    pub url: String,
    pub addr: String,
    data: tempfile::TempDir,
    config_path: PathBuf,
    child: Option<Child>,
    pub http: reqwest::Client,
    /// Shell commands run before the server (through `sh -c`), e.g. `ulimit -Sn 256`.
    shell_prefix: Option<String>,
    /// Extra environment variables for the server (`PARLEY_*` settings).
    env: Vec<(String, String)>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_parley-server")
}

impl TestServer {
    pub async fn start(config: &str) -> Self {
        Self::start_with(config, None, &[]).await
    }

    /// Starts the server from `sh -c '<prefix>; exec parley-server ...'`, so the prefix can set
    /// up the process (limits) before it runs.
    pub async fn start_in_shell(config: &str, prefix: &str) -> Self {
        Self::start_with(config, Some(prefix.to_owned()), &[]).await
    }

    /// Starts the server with extra environment variables (settings as `PARLEY_*`).
    pub async fn start_with_env(config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with(config, None, env).await
    }

    async fn start_with(config: &str, shell_prefix: Option<String>, env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let config_path = data.path().join("parley.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut server = Self {
            url: String::new(),
            addr: String::new(),
            data,
            config_path,
            child: None,
            http: reqwest::Client::new(),
            shell_prefix,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        server.spawn().await;
        server
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// The server process's id (to read its memory use from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The server process's resident-memory high-water mark so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("VmHWM in /proc/<pid>/status");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib / 1024
    }

    /// Replaces the configuration file; it takes effect at the next (re)start.
    pub fn set_config(&self, config: &str) {
        std::fs::write(&self.config_path, config).unwrap();
    }

    async fn spawn(&mut self) {
        let mut command = match &self.shell_prefix {
            None => Command::new(binary()),
            Some(prefix) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("{prefix}; exec \"$0\" \"$@\""))
                    .arg(binary());
                sh
            }
        };
        let mut child = command
            .arg("--config")
            .arg(&self.config_path)
            .arg("--data")
            .arg(self.data.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PARLEY_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let line = first_stdout_line(&mut child).await;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        self.addr = url.trim_start_matches("http://").to_owned();
        self.url = url;
        self.child = Some(child);
    }

    /// SIGTERM, wait for a clean exit (asserting status 0), then start again on the same data.
    pub async fn restart(&mut self) {
        let status = self.stop().await;
        assert!(status.success(), "server exited with {status:?}");
        self.spawn().await;
    }

    /// SIGTERM and wait for the exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(&child, "TERM");
        tokio::time::timeout(
            TIMEOUT,
            tokio::task::spawn_blocking(move || child.wait().unwrap()),
        )
        .await
        .expect("server did not exit after SIGTERM")
        .unwrap()
    }

    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        let _ = child.wait();
    }

    /// Hands the process to the test (to signal it directly).
    pub fn take_child(&mut self) -> Child {
        self.child.take().expect("running")
    }

    pub async fn start_again(&mut self) {
        self.spawn().await;
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Runs an admin subcommand against this server's data dir, with optional stdin.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut child = Command::new(binary())
            .arg("--config")
            .arg(&self.config_path)
            .arg("--data")
            .arg(self.data.path())
            .args(args)
            .env("PARLEY_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.post(format!("{}{}", self.url, path)).json(&body);
        Self::call(req, token).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        Self::call(self.http.get(format!("{}{}", self.url, path)), token).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.patch(format!("{}{}", self.url, path)).json(&body);
        Self::call(req, token).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let req = self.http.put(format!("{}{}", self.url, path)).json(&body);
        Self::call(req, token).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        Self::call(self.http.delete(format!("{}{}", self.url, path)), token).await
    }

    /// Sends an HTTP request (with a bearer token if given): status and JSON body (or null).
    async fn call(mut req: reqwest::RequestBuilder, token: Option<&str>) -> (u16, Value) {
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = tokio::time::timeout(TIMEOUT, req.send())
            .await
            .unwrap()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Registers a user and returns their token.
    pub async fn register(&self, name: &str) -> String {
        let (status, body) = self
            .post(
                "/api/register",
                None,
                json!({"name": name, "password": "correct horse"}),
            )
            .await;
        assert_eq!(status, 201, "register {name}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn connect(&self, token: Option<&str>) -> Client {
        Client::connect(&self.ws_url(), token).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The first line a spawned server prints on stdout (its `listening on` line), with a timeout.
pub async fn first_stdout_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    tokio::time::timeout(
        TIMEOUT,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            line
        }),
    )
    .await
    .expect("server did not print its address in time")
    .unwrap()
}

pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client that keeps frames it was not waiting for.
pub struct Client {
    pub ws: Ws,
    pub hello: Value,
    next_id: u64,
    pending: std::collections::VecDeque<Value>,
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<u16>, String),
    Error(String),
}

impl Client {
    pub async fn connect(url: &str, token: Option<&str>) -> Self {
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let (ws, _) = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        let mut client = Self {
            ws,
            hello: Value::Null,
            next_id: 1,
            pending: Default::default(),
        };
        client.hello = client.recv().await;
        assert_eq!(
            client.hello["type"], "hello",
            "first frame: {}",
            client.hello
        );
        client
    }

    /// Sends a text frame as is.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a request (`type` and fields in `op`) and returns its id.
    pub async fn send(&mut self, mut op: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        op["id"] = json!(id);
        self.send_raw(&op.to_string()).await;
        id
    }

    /// The next text frame, whatever it is.
    pub async fn recv(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        self.recv_wire().await
    }

    async fn recv_wire(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("connection ended")
                .expect("read failed");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the first frame matching `pred`, keeping the others for later.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.pending.iter().position(&pred) {
            return self.pending.remove(pos).unwrap();
        }
        loop {
            let frame = self.recv_wire().await;
            if pred(&frame) {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// Sends a request and waits for its reply or error frame.
    pub async fn request(&mut self, op: Value) -> Value {
        let id = self.send(op).await;
        self.wait_for(|f| f["id"] == json!(id) && (f["type"] == "reply" || f["type"] == "error"))
            .await
    }

    /// A request that must succeed; returns its `result`.
    pub async fn ok(&mut self, op: Value) -> Value {
        let reply = self.request(op.clone()).await;
        assert_eq!(reply["type"], "reply", "{op} failed: {reply}");
        reply["result"].clone()
    }

    /// A request that must fail with `code`; returns the error frame.
    pub async fn err(&mut self, op: Value, code: &str) -> Value {
        let reply = self.request(op.clone()).await;
        assert_eq!(
            reply["type"], "error",
            "{op} should fail with {code}: {reply}"
        );
        assert_eq!(reply["code"], code, "{op}: {reply}");
        reply
    }

    pub async fn event(&mut self, channel: &str, kind: &str) -> Value {
        self.wait_for(|f| f["type"] == "event" && f["channel"] == channel && f["kind"] == kind)
            .await
    }

    /// True if no frame matching `pred` arrives within `wait` (frames seen are kept).
    pub async fn none_within(&mut self, wait: Duration, pred: impl Fn(&Value) -> bool) -> bool {
        if self.pending.iter().any(&pred) {
            return false;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
            match next {
                Err(_) => return true,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    let matched = pred(&frame);
                    self.pending.push_back(frame);
                    if matched {
                        return false;
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(_) => return true,
            }
        }
    }

    /// Reads until the connection ends; returns how. Text frames are discarded.
    pub async fn until_closed(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(TIMEOUT, self.ws.next()).await {
                Err(_) => panic!("connection did not close in time"),
                Ok(None) => return Ended::Error("ended without close frame".into()),
                Ok(Some(Err(e))) => return Ended::Error(e.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let frame: Option<CloseFrame> = frame;
                    return Ended::Closed(
                        frame.as_ref().map(|f| u16::from(f.code)),
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next text frame, or the close code if the connection closes first.
    pub async fn until_closed_or_text(&mut self) -> Result<Value, Option<u16>> {
        if let Some(frame) = self.pending.pop_front() {
            return Ok(frame);
        }
        loop {
            match tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out")
            {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                other => panic!("connection ended without close frame: {other:?}"),
            }
        }
    }

    pub async fn close_code(&mut self) -> Option<u16> {
        match self.until_closed().await {
            Ended::Closed(code, _) => code,
            Ended::Error(e) => panic!("expected a close frame, got {e}"),
        }
    }
}

/// Messages in a channel as (seq, text) from events.
pub fn seq_of(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

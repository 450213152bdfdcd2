//! The server under test: a `parley-server` process the benchmark starts on port 0 with a
//! temporary data directory (or restarts, for `resume`), its RSS from /proc, and the accounts
//! and channels a scenario needs.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::client::{connect, Ws};

/// Server settings for benchmarking: no rate limits, room for many connections, all of them
/// from 127.0.0.1 (so no per-address caps either).
pub fn bench_config(extra: &str) -> String {
    format!(
        "[rate_limit]\nmessages_per_second = 0\nuser_messages_per_second = 0\n\
         requests_per_second = 0\nlogins_per_second = 0\naddress_logins_per_second = 0\n\
         [server]\nmax_http_connections_per_address = 100000\n\
         [realtime]\nmax_connections = 100000\nchannel_limit = 1000\n\
         max_connections_per_address = 100000\n\
         max_anonymous_connections_per_address = 100000\n\
         max_message_length = 100000\nhandshake_timeout = \"10m\"\n{extra}"
    )
}

pub struct ParleyServer {
    binary: PathBuf,
    data: tempfile::TempDir,
    config: PathBuf,
    child: Option<Child>,
    pub addr: String,
}

/// `parley-server` next to this benchmark's executable (both live in the same target dir),
/// unless `--server-bin` says otherwise.
pub fn default_server_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("no exe dir")?.to_path_buf();
    // Test binaries live in target/<profile>/deps.
    if dir.ends_with("deps") {
        dir.pop();
    }
    let candidate = dir.join("parley-server");
    if candidate.exists() {
        Ok(candidate)
    } else {
        bail!(
            "{} not found: build it first (cargo build -p parley-server, with --release for figures)",
            candidate.display()
        )
    }
}

impl ParleyServer {
    pub async fn start(binary: &Path, config: &str) -> Result<Self> {
        let data = tempfile::tempdir()?;
        let config_path = data.path().join("bench.toml");
        std::fs::write(&config_path, config)?;
        let mut server = Self {
            binary: binary.to_owned(),
            data,
            config: config_path,
            child: None,
            addr: String::new(),
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> Result<()> {
        let mut child = Command::new(&self.binary)
            .arg("--config")
            .arg(&self.config)
            .arg("--data")
            .arg(self.data.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PARLEY_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await
        .context("server did not start in time")???;
        self.addr = line
            .trim()
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident set size of the server process, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss_of(self.pid().context("not running")?)
    }

    /// Total CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time_of(self.pid().context("not running")?)
    }

    /// SIGTERM and wait for exit.
    pub async fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()?;
            tokio::time::timeout(
                Duration::from_secs(30),
                tokio::task::spawn_blocking(move || child.wait()),
            )
            .await
            .context("server did not stop")???;
        }
        Ok(())
    }

    pub async fn restart(&mut self) -> Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Registers `name` and returns a bearer token.
    pub async fn token(&self, name: &str) -> Result<String> {
        let body: Value = reqwest::Client::new()
            .post(format!("http://{}/api/register", self.addr))
            .json(&json!({"name": name, "password": "benchmark password"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(body["token"].as_str().context("no token")?.to_owned())
    }

    /// Creates public channels (readable anonymously) as `token`'s user.
    pub async fn create_channels(&self, token: &str, names: &[String]) -> Result<()> {
        let mut ws = connect(&self.ws_url(), Some(token)).await?;
        for (i, name) in names.iter().enumerate() {
            let op = json!({"id": i + 1, "type": "channel_create", "channel": name,
                            "authentication": "optional"});
            request(&mut ws, &op).await?;
        }
        Ok(())
    }
}

impl Drop for ParleyServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends one request and waits for its answer (skipping other frames); errors are errors.
pub async fn request(ws: &mut Ws, op: &Value) -> Result<Value> {
    let id = op["id"].clone();
    ws.send(Message::text(op.to_string())).await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no answer")?
            .context("closed")??;
        if let Message::Text(text) = msg {
            let frame: Value = serde_json::from_str(&text)?;
            if frame["id"] == id {
                if frame["type"] == "error" {
                    bail!("{op} failed: {frame}");
                }
                return Ok(frame);
            }
        }
    }
}

pub fn rss_of(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?;
    Ok(kb * 1024)
}

pub fn cpu_time_of(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').context("bad stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    let ticks = 100; // USER_HZ on Linux
    Ok(Duration::from_millis((utime + stime) * 1000 / ticks))
}

/// A request with an `Authorization` header.
pub fn ws_request(
    url: &str,
    token: Option<&str>,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    Ok(request)
}

//! The server under test: a `parley-server` process the benchmark starts on port 0 with a
//! temporary data directory through the test kit (or restarts, for `resume`), its RSS and CPU
//! time from /proc, and the accounts and channels a scenario needs.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use parley_testkit::TestServer;

use crate::client::{connect, Ws};

/// Server settings for benchmarking: no rate limits, room for many connections, all of them
/// from 127.0.0.1 (so no per-address caps either), and no per-user quotas (the docs scenario
/// opens 1,000 documents as one user).
pub fn bench_config(extra: &str) -> String {
    format!(
        "[rate_limit]\nmessages_per_second = 0\nuser_messages_per_second = 0\n\
         requests_per_second = 0\nlogins_per_second = 0\naddress_logins_per_second = 0\n\
         [server]\nmax_http_connections_per_address = 100000\n\
         [realtime]\nmax_connections = 100000\nchannel_limit = 1000\n\
         max_connections_per_address = 100000\n\
         max_anonymous_connections_per_address = 100000\n\
         max_message_length = 100000\nhandshake_timeout = \"10m\"\n\
         [limits]\nchannels_per_user = 1000000\ndocuments_per_user = 1000000\n\
         dms_per_user = 1000000\n{extra}"
    )
}

/// The server process of one scenario (the test kit's `TestServer` in process mode), with
/// what the benchmark reads and sets up on it.
pub struct ParleyServer {
    server: TestServer,
}

/// `parley-server` next to this benchmark's executable (both live in the same target dir),
/// unless `--server-bin` says otherwise.
pub fn default_server_binary() -> Result<PathBuf> {
    parley_testkit::find_workspace_binary("parley-server")
        .context("build it first (with --release for figures)")
}

impl ParleyServer {
    /// Starts `binary` on `127.0.0.1:0` with `config` and a temporary data directory.
    pub async fn start(binary: &Path, config: &str) -> Result<Self> {
        let server = TestServer::builder()
            .config(config)
            .binary(binary)
            .log_filter("error")
            .stop_timeout(Duration::from_secs(30))
            .try_start_process()
            .await?;
        Ok(Self { server })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.server.addr()
    }

    pub fn pid(&self) -> Option<u32> {
        self.server.is_running().then(|| self.server.pid())
    }

    /// Resident set size of the server process, in bytes.
    pub fn rss(&self) -> Result<u64> {
        rss_of(self.pid().context("not running")?)
    }

    /// Total CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        cpu_time_of(self.pid().context("not running")?)
    }

    /// SIGTERM, wait for a clean exit, then start again on the same address and data.
    pub async fn restart(&mut self) -> Result<()> {
        Ok(self.server.try_restart().await?)
    }

    pub fn ws_url(&self) -> String {
        self.server.ws_url()
    }

    /// Registers `name` and returns a bearer token.
    pub async fn token(&self, name: &str) -> Result<String> {
        let body: Value = self
            .server
            .http()
            .post(format!("{}/api/register", self.server.url()))
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

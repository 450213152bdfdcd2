//! The scenarios: connections, durable, resume (fanout is in `fanout.rs`).

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures_util::{stream, SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{connect, Ws},
    stats::{percentile, Report},
    target::{bench_config, request, rss_of, ParleyServer},
};

/// Connections opened at once while ramping up.
pub(crate) const CONNECT_CONCURRENCY: usize = 128;

// ---------------------------------------------------------------------------------------------
// connections

/// N connections subscribed to K channels each, on Parley and then on Node's `ws` holding the
/// same connections and subscriptions (tests/interop/ws-channels.mjs): resident memory grown
/// per connection on each, and Parley's as a ratio to Node's from the same run.
pub async fn connections(
    binary: &Path,
    n: usize,
    k: usize,
    settle: Duration,
) -> Result<Vec<Report>> {
    let server = ParleyServer::start(binary, &bench_config("")).await?;
    let owner = server.token("owner").await?;
    let channels: Vec<String> = (0..k).map(|i| format!("bench:c{i}")).collect();
    server.create_channels(&owner, &channels).await?;
    let users = n.div_ceil(500).max(1);
    let mut tokens = Vec::with_capacity(users);
    for i in 0..users {
        tokens.push(server.token(&format!("user{i}")).await?);
    }
    let parley = measure_connections(
        &server.ws_url(),
        || server.rss(),
        &channels,
        tokens,
        n,
        settle,
    )
    .await?
    .into_report("parley", n, k, settle);
    drop(server);
    let node = NodeChannels::start().await?;
    let url = format!("ws://127.0.0.1:{}/", node.port);
    let pid = node.child.id().context("node has no pid")?;
    let tokens = vec!["unused".to_owned()];
    let mut reference = measure_connections(&url, || rss_of(pid), &channels, tokens, n, settle)
        .await?
        .into_report("node ws", n, k, settle);
    let ratio = |field: &str| {
        let theirs = reference.number(field);
        (theirs > 0.0).then(|| (parley.number(field) / theirs * 100.0).round() / 100.0)
    };
    let (marginal, total) = (
        ratio("rss_marginal_per_connection_kib"),
        ratio("rss_per_connection_kib"),
    );
    // Always both fields (null when the reference grew by nothing: a very short run), so the
    // report keeps its shape.
    let mut parley = parley;
    parley.set("marginal_vs_reference", marginal);
    parley.set("total_vs_reference", total);
    reference.set("reference_of", "parley");
    Ok(vec![parley, reference])
}

/// What one run of [`measure_connections`] saw.
struct ConnectionFigures {
    connect_per_sec: f64,
    rss_before: u64,
    rss_after: u64,
    per_conn: f64,
    marginal: f64,
}

impl ConnectionFigures {
    fn into_report(self, target: &str, n: usize, k: usize, settle: Duration) -> Report {
        let mut report = Report::new("connections", target);
        report.set("connections", n);
        report.set("channels_per_connection", k);
        report.set("settle_ms", settle.as_millis() as u64);
        report.set("connect_per_sec", self.connect_per_sec.round());
        report.set("rss_before_mib", mib(self.rss_before));
        report.set("rss_after_mib", mib(self.rss_after));
        report.set(
            "rss_per_connection_kib",
            (self.per_conn / 1024.0 * 100.0).round() / 100.0,
        );
        report.set(
            "rss_marginal_per_connection_kib",
            (self.marginal / 1024.0 * 100.0).round() / 100.0,
        );
        report
    }
}

/// Opens `n` connections to `url` in two halves, each subscribing to every channel, and reads
/// the server's resident memory before, and after each half has sat idle for `settle`.
async fn measure_connections(
    url: &str,
    rss: impl Fn() -> Result<u64>,
    channels: &[String],
    tokens: Vec<String>,
    n: usize,
    settle: Duration,
) -> Result<ConnectionFigures> {
    // Let the server settle (allocator, first connections) before the baseline.
    let warm = connect(url, Some(&tokens[0])).await?;
    drop(warm);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss()?;
    let started = Instant::now();
    let channels = Arc::new(channels.to_vec());
    let tokens = Arc::new(tokens);
    // Two halves: the growth over the second half is the marginal cost of a connection, free
    // of start-up effects (memory the allocator kept from account setup gets reused first).
    let half = n / 2;
    let first = open_connections(url, 0..half, &channels, &tokens).await?;
    let opened_first = started.elapsed();
    tokio::time::sleep(settle).await;
    let rss_mid = rss()?;
    let resumed = Instant::now();
    let second = open_connections(url, half..n, &channels, &tokens).await?;
    let elapsed = opened_first + resumed.elapsed();
    tokio::time::sleep(settle).await;
    let rss_after = rss()?;
    drop((first, second));
    Ok(ConnectionFigures {
        connect_per_sec: n as f64 / elapsed.as_secs_f64(),
        rss_before,
        rss_after,
        per_conn: (rss_after.saturating_sub(rss_before)) as f64 / n as f64,
        marginal: (rss_after.saturating_sub(rss_mid)) as f64 / (n - half).max(1) as f64,
    })
}

/// Node's `ws` with channels (tests/interop/ws-channels.mjs) on a free port; killed on drop.
struct NodeChannels {
    child: tokio::process::Child,
    port: u16,
}

impl NodeChannels {
    async fn start() -> Result<Self> {
        let script = crate::docs::repo_path("tests/interop/ws-channels.mjs");
        if !script.with_file_name("node_modules").join("ws").exists() {
            bail!("tests/interop/node_modules is missing: run `npm ci` in tests/interop (scripts/test.sh does)");
        }
        let mut child = tokio::process::Command::new("node")
            .arg(&script)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start node")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("node did not start")??
            .context("node ended")?;
        let port = line
            .strip_prefix("listening on ")
            .and_then(|p| p.trim().parse().ok())
            .with_context(|| format!("unexpected {line:?}"))?;
        Ok(Self { child, port })
    }
}

async fn open_connections(
    url: &str,
    range: std::ops::Range<usize>,
    channels: &Arc<Vec<String>>,
    tokens: &Arc<Vec<String>>,
) -> Result<Vec<Ws>> {
    let conns: Vec<Result<Ws>> = stream::iter(range)
        .map(|i| {
            let (url, channels, tokens) =
                (url.to_owned(), Arc::clone(channels), Arc::clone(tokens));
            async move {
                let mut ws = connect(&url, Some(&tokens[i % tokens.len()])).await?;
                for (j, channel) in channels.iter().enumerate() {
                    let op = json!({"id": j + 1, "type": "subscribe", "channel": channel});
                    request(&mut ws, &op).await?;
                }
                Ok(ws)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    conns.into_iter().collect()
}

fn mib(bytes: u64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
}

// ---------------------------------------------------------------------------------------------
// durable

pub async fn durable(
    binary: &Path,
    senders: usize,
    duration: Duration,
    per_write: bool,
) -> Result<Report> {
    let mode = if per_write { "per_write" } else { "per_batch" };
    let config = bench_config(&format!("[storage]\ncommit_mode = \"{mode}\"\n"));
    let server = ParleyServer::start(binary, &config).await?;
    let token = server.token("writer").await?;
    server
        .create_channels(&token, &["bench:durable".to_owned()])
        .await?;
    let cpu_before = server.cpu_time()?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|i| tokio::spawn(durable_sender(server.ws_url(), token.clone(), i, deadline)))
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (server.cpu_time()? - cpu_before).as_secs_f64();
    latencies.sort_unstable();
    // Every acknowledged send is stored: the channel's head counts them (plus the creation).
    let mut ws = connect(&server.ws_url(), Some(&token)).await?;
    let list = request(&mut ws, &json!({"id": 1, "type": "channel_list"})).await?;
    let head = list["result"]["channels"][0]["head"]
        .as_u64()
        .context("head")?;
    let acked = latencies.len() as u64;
    if head != acked + 1 {
        bail!("{acked} sends acknowledged but the channel head is {head}");
    }
    let mut report = Report::new("durable", &format!("parley ({mode})"));
    report.set("senders", senders);
    report.set("acked", acked);
    report.set("stored", head - 1);
    report.set("acked_per_sec", (acked as f64 / elapsed).round());
    report.set("p50_ms", percentile(&latencies, 50.0));
    report.set("p99_ms", percentile(&latencies, 99.0));
    report.set("server_cpu_secs", (cpu * 100.0).round() / 100.0);
    report.set(
        "server_cpu_us_per_ack",
        (cpu * 1e6 / acked.max(1) as f64).round(),
    );
    Ok(report)
}

/// One sender of the durable scenarios: sends to `bench:durable` and waits for each ack until
/// `deadline`; the latency of each acknowledged send, in microseconds.
pub(crate) async fn durable_sender(
    url: String,
    token: String,
    i: usize,
    deadline: Instant,
) -> Result<Vec<u32>> {
    let mut ws = connect(&url, Some(&token)).await?;
    let mut latencies = Vec::new();
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        // Built and checked as plain text: the load generator shares the machine with the
        // server, so it must stay cheap.
        let op = format!(
            r#"{{"id":{n},"type":"send","channel":"bench:durable","text":"durable {i} {n}","client_id":"d{i}-{n}"}}"#
        );
        let sent = Instant::now();
        ws.send(Message::text(op)).await?;
        let expected = format!(r#"{{"type":"reply","id":{n},"op":"send""#);
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .context("no ack")?
                .context("closed")??;
            if let Message::Text(t) = msg {
                if t.starts_with(&expected) {
                    break;
                }
                if t.starts_with(r#"{"type":"error""#) {
                    bail!("send failed: {t}");
                }
            }
        }
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    Ok(latencies)
}

// ---------------------------------------------------------------------------------------------
// resume

pub async fn resume(binary: &Path, clients: usize, backlog: u32) -> Result<Report> {
    let mut server = ParleyServer::start(binary, &bench_config("")).await?;
    let token = server.token("writer").await?;
    server
        .create_channels(&token, &["bench:resume".to_owned()])
        .await?;
    // Everyone subscribes and sees a first message: that is where each will resume from.
    let url = server.ws_url();
    let subs: Vec<Result<(Ws, String)>> = stream::iter(0..clients)
        .map(|_| {
            let url = url.clone();
            async move {
                let mut ws = connect(&url, None).await?;
                let reply = request(
                    &mut ws,
                    &json!({"id": 1, "type": "subscribe", "channel": "bench:resume"}),
                )
                .await?;
                let epoch = reply["result"]["epoch"]
                    .as_str()
                    .context("epoch")?
                    .to_owned();
                Ok((ws, epoch))
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let subs: Vec<(Ws, String)> = subs.into_iter().collect::<Result<_>>()?;
    let mut publisher = connect(&url, Some(&token)).await?;
    let first = request(&mut publisher, &json!({"id": 1, "type": "send", "channel": "bench:resume", "text": "before", "client_id": "r0"})).await?;
    let seen_seq = first["result"]["message"]["seq"].as_u64().context("seq")?;
    // Clients go away; messages keep coming; the server restarts.
    drop(subs);
    for i in 0..backlog {
        let op = json!({"id": i + 2, "type": "send", "channel": "bench:resume", "text": format!("missed {i}"), "client_id": format!("r{}", i + 1)});
        request(&mut publisher, &op).await?;
    }
    let epoch = {
        let reply = request(
            &mut publisher,
            &json!({"id": 9_999_999, "type": "channel_list"}),
        )
        .await?;
        reply["result"]["channels"][0]["epoch"]
            .as_str()
            .context("epoch")?
            .to_owned()
    };
    drop(publisher);
    server.restart().await?;
    let ready = Instant::now();
    let url = server.ws_url();
    let expected_last = seen_seq + backlog as u64;
    let (slowest, lost) =
        resume_all(&[url], clients, (seen_seq, &epoch, expected_last), ready).await?;
    let mut report = Report::new("resume", "parley");
    report.set("clients", clients);
    report.set("backlog", backlog);
    report.set("all_caught_up_ms", (slowest.as_secs_f64() * 1000.0).round());
    report.set("lost", lost);
    Ok(report)
}

/// `clients` connections, spread over `urls`, resume `bench:resume` from `seen_seq` all at
/// once: how long after `ready` the last one was synced, and how many seqs they missed in all.
pub(crate) async fn resume_all(
    urls: &[String],
    clients: usize,
    (seen_seq, epoch, expected_last): (u64, &str, u64),
    ready: Instant,
) -> Result<(Duration, u64)> {
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let (url, epoch) = (urls[i % urls.len()].clone(), epoch.to_owned());
            tokio::spawn(async move {
                let mut ws = connect(&url, None).await?;
                let op = json!({"id": 1, "type": "subscribe", "channel": "bench:resume", "since": seen_seq, "epoch": epoch});
                ws.send(Message::text(op.to_string())).await?;
                let mut next = seen_seq + 1;
                let mut missing = 0u64;
                loop {
                    let msg = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("stalled")?;
                    let Some(Ok(Message::Text(t))) = msg else { bail!("ended: {msg:?}") };
                    let frame: Value = serde_json::from_str(&t)?;
                    match frame["type"].as_str() {
                        Some("event") => {
                            let seq = frame["seq"].as_u64().unwrap_or(0);
                            if seq != next {
                                missing += seq.saturating_sub(next);
                            }
                            next = seq + 1;
                        }
                        Some("synced") => {
                            missing += (expected_last + 1).saturating_sub(next);
                            return Ok::<_, anyhow::Error>((ready.elapsed(), missing));
                        }
                        Some("error") => bail!("subscribe failed: {frame}"),
                        _ => {}
                    }
                }
            })
        })
        .collect();
    let (mut slowest, mut lost) = (Duration::ZERO, 0u64);
    for task in tasks {
        let (took, missing) = task.await??;
        slowest = slowest.max(took);
        lost += missing;
    }
    Ok((slowest, lost))
}

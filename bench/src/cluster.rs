//! Several nodes on PostgreSQL + Redis (docs/scaling.md) against one node on the same engines:
//! fan-out with the subscribers spread over the nodes and one publisher, durable acked sends
//! from senders spread over the nodes, and a resume storm (every client resumes a backlog at
//! once, spread over the nodes). PostgreSQL and Redis are started by the test kit; each run
//! gets a fresh database and its own Redis prefix.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures_util::{stream, SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use parley_testkit::{postgres::Postgres, redis::Redis};

use crate::{
    client::{connect, Ws},
    fanout::{measure_fanout, warm_up, FanoutParams},
    scenarios::{durable_sender, resume_all},
    stats::{percentile, Report},
    target::{bench_config, request, ParleyServer},
};

#[derive(Clone, Debug)]
pub struct ClusterParams {
    /// Node counts to compare (one run each).
    pub nodes: Vec<usize>,
    pub subscribers: usize,
    pub messages: u32,
    /// Fan-out messages per second (0 = as fast as possible).
    pub rate: u32,
    pub senders: usize,
    pub seconds: u64,
    pub clients: usize,
    pub backlog: u32,
}

const CONNECT_CONCURRENCY: usize = 64;

pub async fn cluster(binary: &Path, p: ClusterParams) -> Result<Vec<Report>> {
    let pg = tokio::task::spawn_blocking(Postgres::try_start)
        .await?
        .map_err(anyhow::Error::msg)
        .context("PostgreSQL (Debian's postgresql package) is needed")?;
    let redis = tokio::task::spawn_blocking(Redis::start).await?;
    let mut reports = Vec::new();
    for (run, &n) in p.nodes.iter().enumerate() {
        let db = format!("bench_{run}_{n}");
        {
            let pg = &pg;
            let db = db.clone();
            tokio::task::block_in_place(move || pg.create_database(&db));
        }
        let config = bench_config(&format!(
            "[storage]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n\
             [cluster]\nredis_url = \"{}\"\nprefix = \"bench{run}\"\n",
            pg.url_of(&db),
            redis.url()
        ));
        let nodes = start_nodes(binary, &config, n).await?;
        let label = format!("{n} node{}", if n == 1 { "" } else { "s" });
        reports.push(fanout(&nodes, &p, &label).await?);
        reports.push(durable(&nodes, &p, &label).await?);
        reports.push(resume(&nodes, &p, &label).await?);
    }
    Ok(reports)
}

/// `n` nodes on one database, started together (they take turns migrating it).
async fn start_nodes(binary: &Path, config: &str, n: usize) -> Result<Vec<ParleyServer>> {
    let started =
        futures_util::future::join_all((0..n).map(|_| ParleyServer::start(binary, config))).await;
    started.into_iter().collect()
}

fn urls(nodes: &[ParleyServer]) -> Vec<String> {
    nodes.iter().map(ParleyServer::ws_url).collect()
}

/// The nodes' CPU time in all.
fn cpu_secs(nodes: &[ParleyServer]) -> Result<f64> {
    let mut total = 0.0;
    for node in nodes {
        total += node.cpu_time()?.as_secs_f64();
    }
    Ok(total)
}

async fn fanout(nodes: &[ParleyServer], p: &ClusterParams, label: &str) -> Result<Report> {
    let token = nodes[0].token("publisher").await?;
    nodes[0]
        .create_channels(&token, &["bench:fanout".to_owned()])
        .await?;
    let urls = urls(nodes);
    let subs: Vec<Result<Ws>> = stream::iter(0..p.subscribers)
        .map(|i| {
            let url = urls[i % urls.len()].clone();
            async move {
                let mut ws = connect(&url, None).await?;
                let frame = json!({"id": 1, "type": "subscribe", "channel": "bench:fanout"});
                ws.send(Message::text(frame.to_string())).await?;
                Ok(ws)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let subs: Vec<Ws> = subs.into_iter().collect::<Result<_>>()?;
    let mut publisher = connect(&urls[0], Some(&token)).await?;
    let subs = warm_up(&mut publisher, subs, true).await?;
    let params = FanoutParams {
        subscribers: p.subscribers,
        publishers: 1,
        messages: p.messages,
        rate: p.rate,
        pad: 64,
        batch_ms: 0,
    };
    let cpu_before = cpu_secs(nodes)?;
    let mut report = measure_fanout(
        subs,
        vec![publisher],
        true,
        params,
        Instant::now(),
        &format!("parley {label}"),
    )
    .await?;
    report.scenario = "cluster-fanout".into();
    report.set("nodes", nodes.len());
    let cpu = cpu_secs(nodes)? - cpu_before;
    report.set("server_cpu_secs", (cpu * 100.0).round() / 100.0);
    let deliveries = report.number("deliveries").max(1.0);
    report.set(
        "server_cpu_us_per_delivery",
        (cpu * 1e6 / deliveries * 100.0).round() / 100.0,
    );
    Ok(report)
}

async fn durable(nodes: &[ParleyServer], p: &ClusterParams, label: &str) -> Result<Report> {
    let token = nodes[0].token("writer").await?;
    nodes[0]
        .create_channels(&token, &["bench:durable".to_owned()])
        .await?;
    let urls = urls(nodes);
    let cpu_before = cpu_secs(nodes)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(p.seconds);
    let tasks: Vec<_> = (0..p.senders)
        .map(|i| {
            tokio::spawn(durable_sender(
                urls[i % urls.len()].clone(),
                token.clone(),
                i,
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_secs(nodes)? - cpu_before;
    latencies.sort_unstable();
    let mut ws = connect(&urls[urls.len() - 1], Some(&token)).await?;
    let list = request(&mut ws, &json!({"id": 1, "type": "channel_list"})).await?;
    let head = list["result"]["channels"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == "bench:durable"))
        .and_then(|c| c["head"].as_u64())
        .context("head")?;
    let acked = latencies.len() as u64;
    if head != acked + 1 {
        bail!("{acked} sends acknowledged but the channel head is {head}");
    }
    let mut report = Report::new("cluster-durable", &format!("parley {label}"));
    report.set("nodes", nodes.len());
    report.set("senders", p.senders);
    report.set("acked", acked);
    report.set("acked_per_sec", (acked as f64 / elapsed).round());
    report.set("p50_ms", percentile(&latencies, 50.0));
    report.set("p99_ms", percentile(&latencies, 99.0));
    report.set("server_cpu_secs", (cpu * 100.0).round() / 100.0);
    Ok(report)
}

async fn resume(nodes: &[ParleyServer], p: &ClusterParams, label: &str) -> Result<Report> {
    let token = nodes[0].token("resumer").await?;
    nodes[0]
        .create_channels(&token, &["bench:resume".to_owned()])
        .await?;
    let urls = urls(nodes);
    let mut publisher = connect(&urls[0], Some(&token)).await?;
    let first = request(&mut publisher, &json!({"id": 1, "type": "send", "channel": "bench:resume", "text": "before", "client_id": "r0"})).await?;
    let seen_seq = first["result"]["message"]["seq"].as_u64().context("seq")?;
    for i in 0..p.backlog {
        let op = json!({"id": i + 2, "type": "send", "channel": "bench:resume", "text": format!("missed {i}"), "client_id": format!("r{}", i + 1)});
        request(&mut publisher, &op).await?;
    }
    let list = request(
        &mut publisher,
        &json!({"id": 9_999_999, "type": "channel_list"}),
    )
    .await?;
    let epoch = list["result"]["channels"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == "bench:resume"))
        .and_then(|c| c["epoch"].as_str())
        .context("epoch")?
        .to_owned();
    let expected_last = seen_seq + u64::from(p.backlog);
    let ready = Instant::now();
    let (slowest, lost) =
        resume_all(&urls, p.clients, (seen_seq, &epoch, expected_last), ready).await?;
    let mut report = Report::new("cluster-resume", &format!("parley {label}"));
    report.set("nodes", nodes.len());
    report.set("clients", p.clients);
    report.set("backlog", p.backlog);
    report.set("all_caught_up_ms", (slowest.as_secs_f64() * 1000.0).round());
    report.set(
        "events_per_sec",
        ((p.clients as f64 * f64::from(p.backlog)) / slowest.as_secs_f64().max(1e-3)).round(),
    );
    report.set("lost", lost);
    Ok(report)
}

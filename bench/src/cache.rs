//! The `cache` scenario: parley-client's local cache and outbox. Full-text search over a cache
//! of N messages (p50/p95 over random queries), opening a channel of M cached messages (the
//! newest 50), and the outbox: how fast sends are queued locally, and how fast a queue drains
//! through a real server.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use parley_client::{store, Client, ClientConfig};
use parley_protocol::{Message, UserRef};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{
    stats::{percentile, Report},
    target::{bench_config, ParleyServer},
};

pub struct CacheParams {
    pub messages: usize,
    pub channel_messages: usize,
    pub outbox: usize,
}

/// A vocabulary with a skewed use, so some words are common (many matches) and most rare.
fn vocabulary(rng: &mut StdRng) -> Vec<String> {
    (0..20_000)
        .map(|_| {
            let len = rng.gen_range(3..10);
            (0..len)
                .map(|_| rng.gen_range(b'a'..=b'z') as char)
                .collect()
        })
        .collect()
}

fn word<'a>(rng: &mut StdRng, words: &'a [String]) -> &'a str {
    // Roughly Zipf: square a uniform sample.
    let x: f64 = rng.gen();
    &words[((x * x) * (words.len() - 1) as f64) as usize]
}

fn message(channel: &str, seq: u64, text: String) -> Message {
    Message {
        id: seq as i64,
        channel: channel.to_owned(),
        seq,
        author: UserRef {
            id: (seq % 50) as i64,
            name: format!("user{}", seq % 50),
            display_name: None,
            avatar: None,
        },
        text,
        client_id: format!("c{seq}"),
        created_at: "2026-11-28T00:00:00.000Z".into(),
        ts: 1_790_000_000_000 + seq as i64,
        edited_at: None,
        deleted: false,
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    }
}

/// Fills a cache with `total` messages over 100 channels (`big` of them in `big-channel`).
fn fill(
    path: &Path,
    total: usize,
    big: usize,
    rng: &mut StdRng,
    words: &[String],
) -> Result<store::Store> {
    let cache = store::Store::open(path, parley_client::DEFAULT_CACHE_MEMORY_KIB)?;
    cache.run_blocking(|conn| {
        let tx = conn.transaction()?;
        let mut seqs = vec![0u64; 100];
        for i in 0..total {
            let (channel, seq) = if i < big {
                ("big-channel".to_owned(), i as u64 + 1)
            } else {
                let c = rng.gen_range(0..100);
                seqs[c] += 1;
                (format!("channel-{c}"), seqs[c])
            };
            let n = rng.gen_range(4..20);
            let text: Vec<&str> = (0..n).map(|_| word(rng, words)).collect();
            store::insert_message(&tx, &message(&channel, seq, text.join(" ")), true)?;
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(cache)
}

pub async fn cache(binary: &Path, params: CacheParams) -> Result<Vec<Report>> {
    let mut reports = Vec::new();
    let dir = tempfile::tempdir()?;
    let mut rng = StdRng::seed_from_u64(7);
    let words = vocabulary(&mut rng);

    let started = Instant::now();
    let cache = fill(
        &dir.path().join("cache.db"),
        params.messages,
        params.channel_messages,
        &mut rng,
        &words,
    )?;
    let fill_secs = started.elapsed().as_secs_f64();

    // Search: one- and two-word queries, the last word possibly a prefix (as typed).
    let mut samples = Vec::new();
    let mut hits_total = 0usize;
    for i in 0..300 {
        let mut query = word(&mut rng, &words).to_owned();
        if i % 2 == 0 {
            query = format!("{query} {}", word(&mut rng, &words));
        }
        if i % 3 == 0 {
            query.truncate(query.len().saturating_sub(2).max(3));
        }
        let t = Instant::now();
        let hits = cache.run_blocking(|c| store::search(c, &query, None, 20))?;
        samples.push(t.elapsed().as_micros() as u32);
        hits_total += hits.len();
    }
    samples.sort_unstable();
    let mut report = Report::new("cache", "search");
    report.set("messages", params.messages as u64);
    report.set("queries", samples.len() as u64);
    report.set("avg_hits", (hits_total / samples.len()) as u64);
    report.set("p50_ms", percentile(&samples, 50.0));
    report.set("p95_ms", percentile(&samples, 95.0));
    report.set("max_ms", percentile(&samples, 100.0));
    report.set("fill_secs", (fill_secs * 10.0).round() / 10.0);
    reports.push(report);

    // Opening a big channel: the newest 50, then paging back once.
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let newest = cache.run_blocking(|c| store::history(c, "big-channel", None, 50))?;
        samples.push(t.elapsed().as_micros() as u32);
        anyhow::ensure!(newest.len() == 50, "expected 50 messages");
        anyhow::ensure!(
            newest.last().map(|m| m.seq) == Some(params.channel_messages as u64),
            "not the newest"
        );
    }
    samples.sort_unstable();
    let mut report = Report::new("cache", "open-channel");
    report.set("channel_messages", params.channel_messages as u64);
    report.set("p50_ms", percentile(&samples, 50.0));
    report.set("p95_ms", percentile(&samples, 95.0));
    reports.push(report);
    drop(cache);

    // The outbox: queue N sends offline (local writes), then drain them through a server.
    let server = ParleyServer::start(binary, &bench_config("")).await?;
    let token = server.token("outbox-bench").await?;
    server
        .create_channels(&token, &["outbox".to_owned()])
        .await?;
    let config = ClientConfig::new(
        "http://127.0.0.1:1", // nothing listens: offline while queueing
        &token,
        dir.path().join("outbox.db"),
    );
    let client = Client::start(config)?;
    let t = Instant::now();
    for i in 0..params.outbox {
        client.send("outbox", &format!("queued {i}")).await?;
    }
    let queue_secs = t.elapsed().as_secs_f64();
    client.shutdown();
    drop(client);
    let config = ClientConfig::new(
        &format!("http://{}", server.addr()),
        &token,
        dir.path().join("outbox.db"),
    );
    let t = Instant::now();
    let client = Client::start(config)?;
    let drained = client.flushed(Duration::from_secs(600)).await?;
    let drain_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(drained, "the outbox did not drain");
    let history = client.history("outbox", None, 1).await?;
    let last = history.last().context("nothing delivered")?;
    anyhow::ensure!(
        last.text == format!("queued {}", params.outbox - 1),
        "wrong last message"
    );
    client.shutdown();
    let mut report = Report::new("cache", "outbox");
    report.set("messages", params.outbox as u64);
    report.set(
        "queued_per_sec",
        (params.outbox as f64 / queue_secs).round(),
    );
    report.set(
        "delivered_per_sec",
        (params.outbox as f64 / drain_secs).round(),
    );
    reports.push(report);
    Ok(reports)
}

//! The fanout scenario: S subscribers on one channel, P publishers; Parley unbatched, Parley
//! with its subscribers batched (`batch_ms`), and the raw reference under the same load.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use futures_util::{stream, SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    client::{connect, now_us, stamp, stamps_in, DeliveryCheck, Ws},
    reference,
    scenarios::CONNECT_CONCURRENCY,
    stats::{percentile, Report},
    target::{bench_config, cpu_time_of, ParleyServer},
};

#[derive(Clone, Copy, Debug)]
pub struct FanoutParams {
    pub subscribers: usize,
    pub publishers: u32,
    pub messages: u32,
    /// Messages per second across all publishers; 0 = as fast as possible.
    pub rate: u32,
    pub pad: usize,
    /// Subscribers' batch window (`batch_ms` at connect) for a second Parley run; 0 = none.
    pub batch_ms: u32,
}

enum Target<'a> {
    /// The server, a publisher's token, and the subscribers' `batch_ms` (0 = unbatched).
    Parley(&'a ParleyServer, String, u32),
    Raw(String),
}

/// One Parley fan-out run on a fresh server, with the server's CPU time per delivery.
async fn parley_fanout(binary: &Path, params: FanoutParams, batch_ms: u32) -> Result<Report> {
    let server = ParleyServer::start(binary, &bench_config("")).await?;
    let token = server.token("publisher").await?;
    server
        .create_channels(&token, &["bench:fanout".to_owned()])
        .await?;
    let cpu_before = server.cpu_time()?;
    let mut report = run_fanout(Target::Parley(&server, token, batch_ms), params).await?;
    let cpu = (server.cpu_time()? - cpu_before).as_secs_f64();
    report.set("server_cpu_secs", cpu);
    per_delivery_cpu(&mut report, cpu);
    Ok(report)
}

fn per_delivery_cpu(report: &mut Report, cpu_secs: f64) {
    let deliveries = report.number("deliveries").max(1.0);
    report.set(
        "cpu_us_per_delivery",
        (cpu_secs * 1e6 / deliveries * 100.0).round() / 100.0,
    );
}

/// Parley unbatched, Parley with the subscribers batched (when `batch_ms` is set), and the
/// raw reference, with the same load.
pub async fn fanout(binary: &Path, params: FanoutParams) -> Result<Vec<Report>> {
    let mut parley = parley_fanout(binary, params, 0).await?;
    let batched = if params.batch_ms > 0 {
        Some(parley_fanout(binary, params, params.batch_ms).await?)
    } else {
        None
    };
    // Same bytes per delivery for both: the raw frame is padded to Parley's frame size, so the
    // comparison measures the servers, not the size of Parley's message envelope.
    let raw_frame = json!({"type": "event", "channel": "bench:fanout",
                           "text": stamp(0, params.messages / 2, 10_000_000, params.pad)})
    .to_string()
    .len();
    let extra = (parley.number("frame_bytes") as usize).saturating_sub(raw_frame);
    let raw_params = FanoutParams {
        pad: params.pad + extra,
        ..params
    };
    let reference = reference::ReferenceProcess::start().await?;
    let cpu_before = reference.cpu_time()?;
    let mut raw = run_fanout(Target::Raw(reference.addr.clone()), raw_params).await?;
    let cpu = (reference.cpu_time()? - cpu_before).as_secs_f64();
    raw.set("server_cpu_secs", cpu);
    per_delivery_cpu(&mut raw, cpu);
    let raw_rate = raw.number("deliveries_per_sec").max(1.0);
    let ratio = parley.number("deliveries_per_sec") / raw_rate;
    parley.set("ratio_to_raw", (ratio * 1000.0).round() / 1000.0);
    let mut reports = vec![parley];
    if let Some(mut batched) = batched {
        let ratio = batched.number("deliveries_per_sec") / raw_rate;
        batched.set("ratio_to_raw", (ratio * 1000.0).round() / 1000.0);
        reports.push(batched);
    }
    reports.push(raw);
    Ok(reports)
}

async fn run_fanout(target: Target<'_>, p: FanoutParams) -> Result<Report> {
    let epoch = Instant::now();
    let (url, sub_url, name) = match &target {
        Target::Parley(server, _, 0) => (server.ws_url(), server.ws_url(), "parley".to_owned()),
        Target::Parley(server, _, batch_ms) => (
            server.ws_url(),
            format!("{}?batch_ms={batch_ms}", server.ws_url()),
            format!("parley-batch{batch_ms}ms"),
        ),
        Target::Raw(addr) => {
            let url = format!("ws://{addr}/");
            (url.clone(), url, "raw".to_owned())
        }
    };
    // Subscribers.
    let subscribe_frame = match &target {
        Target::Parley(..) => json!({"id": 1, "type": "subscribe", "channel": "bench:fanout"}),
        Target::Raw(_) => json!({"sub": "bench:fanout"}),
    };
    let subs: Vec<Result<Ws>> = stream::iter(0..p.subscribers)
        .map(|_| {
            let (url, frame) = (sub_url.clone(), subscribe_frame.clone());
            async move {
                let mut ws = connect(&url, None).await?;
                ws.send(Message::text(frame.to_string())).await?;
                Ok(ws)
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let subs: Vec<Ws> = subs.into_iter().collect::<Result<_>>()?;

    // Publishers.
    let mut pubs = Vec::new();
    for _ in 0..p.publishers {
        let token = match &target {
            Target::Parley(_, token, _) => Some(token.as_str()),
            Target::Raw(_) => None,
        };
        pubs.push(connect(&url, token).await?);
    }
    let parley = matches!(target, Target::Parley(..));
    let subs = warm_up(&mut pubs[0], subs, parley).await?;
    // The load generator's own CPU (subscribers reading frames, publishers): what frames cost
    // the receiving side, which batching is for.
    let own_before = cpu_time_of(std::process::id())?;
    let mut report = measure_fanout(subs, pubs, parley, p, epoch, &name).await?;
    let own = (cpu_time_of(std::process::id())? - own_before).as_secs_f64();
    let deliveries = report.number("deliveries").max(1.0);
    report.set(
        "client_cpu_us_per_delivery",
        (own * 1e6 / deliveries * 100.0).round() / 100.0,
    );
    Ok(report)
}

/// Sends a marker until every subscriber has seen one, so measurement starts with everyone
/// subscribed and live (the reference server has no subscribe reply to wait for).
pub(crate) async fn warm_up(publisher: &mut Ws, subs: Vec<Ws>, parley: bool) -> Result<Vec<Ws>> {
    const MARKER: &str = "WARMUP-MARKER";
    let waiters: Vec<_> = subs
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                loop {
                    match tokio::time::timeout(Duration::from_secs(120), ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) if t.contains(MARKER) => return Ok(ws),
                        Ok(Some(Ok(_))) => continue,
                        Ok(other) => bail!("subscriber ended during warm-up: {other:?}"),
                        Err(_) => bail!("warm-up timed out"),
                    }
                }
            })
        })
        .collect();
    let all = futures_util::future::join_all(waiters);
    tokio::pin!(all);
    let mut sent = 0u32;
    let results = loop {
        sent += 1;
        let frame = if parley {
            json!({"id": 1_000_000 + sent, "type": "send", "channel": "bench:fanout", "text": MARKER,
                   "client_id": format!("warmup-{sent}")})
        } else {
            json!({"pub": "bench:fanout", "text": MARKER})
        };
        publisher.send(Message::text(frame.to_string())).await?;
        tokio::select! {
            results = &mut all => break results,
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        if sent > 480 {
            bail!("subscribers never all went live");
        }
    };
    if parley {
        // Consume the replies to the markers so the publisher's ack counting starts clean.
        let mut replies = 0;
        while replies < sent {
            match tokio::time::timeout(Duration::from_secs(30), publisher.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"type":"reply""#) => {
                    replies += 1
                }
                Ok(Some(Ok(_))) => {}
                other => bail!("publisher ended during warm-up: {other:?}"),
            }
        }
    }
    results.into_iter().map(|r| r?).collect()
}

pub(crate) async fn measure_fanout(
    subs: Vec<Ws>,
    pubs: Vec<Ws>,
    parley: bool,
    p: FanoutParams,
    epoch: Instant,
    name: &str,
) -> Result<Report> {
    let expected_per_sub = p.publishers as u64 * p.messages as u64;
    let timeout = Duration::from_secs(60)
        + if p.rate > 0 {
            Duration::from_secs_f64(p.messages as f64 * p.publishers as f64 / p.rate as f64)
        } else {
            Duration::ZERO
        };
    let readers: Vec<_> = subs
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut check = DeliveryCheck::new(p.publishers, p.messages);
                let deadline = Instant::now() + timeout;
                while check.received < expected_per_sub {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            // One stamp per frame, or several in a batch.
                            let now = now_us(epoch);
                            let mut stamps = 0;
                            for (publisher, n, sent) in stamps_in(&t) {
                                check.record(publisher, n, sent, now);
                                stamps += 1;
                            }
                            if stamps > 0 {
                                check.frames += 1;
                                check.frame_bytes += t.len() as u64;
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
                check
            })
        })
        .collect();

    let first_send = now_us(epoch);
    let senders: Vec<_> = pubs
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(publish(ws, i as u32, parley, p, epoch)))
        .collect();
    for sender in senders {
        sender.await??;
    }
    let mut latencies = Vec::new();
    let (mut received, mut duplicates, mut out_of_order, mut last) = (0u64, 0u64, 0u64, 0u64);
    let (mut bytes, mut frames) = (0u64, 0u64);
    for reader in readers {
        let check = reader.await?;
        bytes += check.frame_bytes;
        frames += check.frames;
        received += check.received;
        duplicates += check.duplicates;
        out_of_order += check.out_of_order;
        last = last.max(check.last_delivery_us);
        latencies.extend_from_slice(&check.latencies_us);
    }
    let expected = expected_per_sub * p.subscribers as u64;
    let secs = (last.saturating_sub(first_send)) as f64 / 1e6;
    latencies.sort_unstable();
    let mut report = Report::new("fanout", name);
    report.set("subscribers", p.subscribers);
    report.set("publishers", p.publishers);
    report.set("messages", p.messages);
    report.set("rate", p.rate);
    report.set("deliveries", received);
    // Bytes on the wire per delivery (a batch's share included).
    report.set("frame_bytes", bytes / received.max(1));
    report.set("frames", frames);
    let per_sec = |n: u64| {
        if secs > 0.0 {
            (n as f64 / secs).round()
        } else {
            0.0
        }
    };
    report.set("frames_per_sec", per_sec(frames));
    report.set("deliveries_per_sec", per_sec(received));
    report.set("p50_ms", percentile(&latencies, 50.0));
    report.set("p99_ms", percentile(&latencies, 99.0));
    report.set("p999_ms", percentile(&latencies, 99.9));
    report.set("max_ms", percentile(&latencies, 100.0));
    report.set("lost", expected - received);
    report.set("duplicated", duplicates);
    report.set("out_of_order", out_of_order);
    Ok(report)
}

async fn publish(
    ws: Ws,
    publisher: u32,
    parley: bool,
    p: FanoutParams,
    epoch: Instant,
) -> Result<()> {
    let interval =
        (p.rate > 0).then(|| Duration::from_secs_f64(p.publishers as f64 / p.rate as f64));
    let mut ticker = interval.map(|i| {
        let mut t = tokio::time::interval(i);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    // Parley acknowledges each send; keep a bounded window outstanding so the publisher is
    // not limited to one commit per round trip.
    let window = Arc::new(Semaphore::new(256));
    let (mut sink, mut stream) = ws.split();
    let acks = {
        let window = Arc::clone(&window);
        tokio::spawn(async move {
            let mut acked = 0;
            while acked < p.messages && parley {
                match tokio::time::timeout(Duration::from_secs(60), stream.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        if t.starts_with(r#"{"type":"reply""#) {
                            acked += 1;
                            window.add_permits(1);
                        } else if t.starts_with(r#"{"type":"error""#) {
                            bail!("send failed: {t}");
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    other => bail!("publisher connection ended: {other:?}"),
                }
            }
            Ok(())
        })
    };
    for n in 0..p.messages {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        let text = stamp(publisher, n, now_us(epoch), p.pad);
        let frame = if parley {
            window.acquire().await?.forget();
            json!({"id": n + 2, "type": "send", "channel": "bench:fanout", "text": text,
                   "client_id": format!("p{publisher}-{n}")})
        } else {
            json!({"pub": "bench:fanout", "text": text})
        };
        sink.send(Message::text(frame.to_string())).await?;
    }
    acks.await??;
    Ok(())
}

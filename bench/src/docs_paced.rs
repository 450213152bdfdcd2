//! The `docs-paced` scenario: documents edited at a typing pace. `docs` documents with
//! `writers` writers and `observers` read-only watchers each; every writer sends one update per
//! keystroke, each in its own frame (as an editor's provider sends them), `rate` keystrokes a
//! second for `seconds`. Real editing is paced, so the server's CPU time per update under this
//! load is what bounds how many people can type at once (a burst, `docs`, lets the server batch
//! and hides it). The same load runs against the reference Yjs server in the same run.
//!
//! Every connection applies what it receives; the run checks that each one ends up with every
//! writer's edits (none lost) and measures send → receive latency per update.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::{
    sync::{Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    ReadTxn, Text, Transact, Update,
};

use crate::{
    docs::{
        handshake, load_trace, ms, parley_target, round2, synthetic_trace, Reference, Target, Trace,
    },
    stats::{percentile, Report},
    target::cpu_time_of,
};

#[derive(Clone)]
pub struct PacedParams {
    pub docs: usize,
    pub writers: usize,
    pub observers: usize,
    /// Updates a second per writer.
    pub rate: f64,
    pub seconds: f64,
    pub trace: PathBuf,
}

impl PacedParams {
    fn per_writer(&self) -> usize {
        ((self.rate * self.seconds).round() as usize).max(1)
    }
}

/// One writer's keystrokes: the frames it sends, and which update inserted at each clock
/// (deletions add no clock: they are not matched for latency).
struct Stream {
    client: yrs::block::ClientID,
    frames: Vec<Vec<u8>>,
    by_start_clock: HashMap<u32, usize>,
    end_clock: u32,
}

/// Writer `w` replays the trace's first keystrokes in its own document (client id `w + 1`):
/// its updates only refer to its own text, so every writer's stream is valid in any order
/// with the others', and concurrent writers interleave as people typing at once do.
fn streams(trace: &Trace, writers: usize) -> Vec<Stream> {
    (0..writers)
        .map(|w| {
            let doc = yrs::Doc::with_client_id(w as u64 + 1);
            let client = doc.client_id();
            let text = doc.get_or_insert_text("content");
            let mut frames = Vec::with_capacity(trace.patches.len());
            let mut by_start_clock = HashMap::new();
            for (pos, del, ins) in &trace.patches {
                let start = doc.transact().state_vector().get(&client);
                let mut txn = doc.transact_mut();
                if *del > 0 {
                    text.remove_range(&mut txn, *pos, *del);
                }
                if !ins.is_empty() {
                    text.insert(&mut txn, *pos, ins);
                }
                let update = txn.encode_update_v1();
                drop(txn);
                if !ins.is_empty() {
                    by_start_clock.insert(start, frames.len());
                }
                frames.push(Message::Sync(SyncMessage::Update(update)).encode_v1());
            }
            let end_clock = doc.transact().state_vector().get(&client);
            Stream {
                client,
                frames,
                by_start_clock,
                end_clock,
            }
        })
        .collect()
}

/// When each update was sent (µs since the run's start; 0: not yet), per document and writer.
struct SendTimes {
    per_writer: usize,
    writers: usize,
    times: Vec<AtomicU64>,
}

impl SendTimes {
    fn slot(&self, doc: usize, writer: usize, index: usize) -> &AtomicU64 {
        &self.times[(doc * self.writers + writer) * self.per_writer + index]
    }
}

/// What one connection saw: its received content, and latencies.
struct Received {
    latencies_us: Vec<u32>,
    complete: bool,
}

/// Reads a connection until it holds every writer's final edits (or `deadline`), applying
/// what arrives and matching each update to its send time. `own`: the writer index of this
/// connection (its own updates, which the reference echoes back, are not counted).
async fn receive(
    mut stream: futures_util::stream::SplitStream<crate::client::Ws>,
    doc_index: usize,
    own: Option<usize>,
    streams: Arc<Vec<Stream>>,
    sent: Arc<SendTimes>,
    epoch: Instant,
    mut deadline: tokio::sync::watch::Receiver<Option<Instant>>,
) -> Result<Received> {
    let doc = yrs::Doc::new();
    let mut latencies_us = Vec::new();
    let complete = |doc: &yrs::Doc| {
        let sv = doc.transact().state_vector();
        streams
            .iter()
            .enumerate()
            .all(|(w, s)| Some(w) == own || sv.get(&s.client) >= s.end_clock)
    };
    loop {
        if complete(&doc) {
            // Keep reading (the reference echoes a writer's own updates back to it) until
            // the connection closes, so the server never waits on a full socket.
            tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
            return Ok(Received {
                latencies_us,
                complete: true,
            });
        }
        // No deadline while the writers send; once they are done, a fixed time to catch up.
        let limit = *deadline.borrow();
        let next = match limit {
            Some(limit) => match tokio::time::timeout_at(limit.into(), stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    return Ok(Received {
                        latencies_us,
                        complete: false,
                    })
                }
            },
            None => tokio::select! {
                next = stream.next() => next,
                _ = deadline.changed() => continue,
            },
        };
        let Some(msg) = next else {
            bail!("the server closed a document connection");
        };
        let WsMessage::Binary(bytes) = msg? else {
            continue;
        };
        let now = epoch.elapsed().as_micros() as u64;
        let mut decoder = DecoderV1::from(bytes.as_ref());
        let mut txn = doc.transact_mut();
        for m in MessageReader::new(&mut decoder) {
            let (Message::Sync(SyncMessage::Update(u)) | Message::Sync(SyncMessage::SyncStep2(u))) =
                m?
            else {
                continue;
            };
            let update = Update::decode_v1(&u)?;
            for (client, start) in update.state_vector_lower().iter() {
                let Some(w) = streams.iter().position(|s| s.client == *client) else {
                    continue;
                };
                if Some(w) == own {
                    continue;
                }
                if let Some(&index) = streams[w].by_start_clock.get(start) {
                    let at = sent.slot(doc_index, w, index).load(Ordering::Acquire);
                    if at > 0 && now >= at {
                        latencies_us.push((now - at).min(u64::from(u32::MAX)) as u32);
                    }
                }
            }
            txn.apply_update(update)?;
        }
    }
}

/// One target under the paced load: the server's CPU per update and the latencies.
async fn run_against(
    target: &Target,
    params: &PacedParams,
    streams: Arc<Vec<Stream>>,
) -> Result<Report> {
    let per_writer = params.per_writer();
    let sent = Arc::new(SendTimes {
        per_writer,
        writers: params.writers,
        times: (0..params.docs * params.writers * per_writer)
            .map(|_| AtomicU64::new(0))
            .collect(),
    });
    let epoch = Instant::now();
    let (deadline_tx, deadline_rx) = tokio::sync::watch::channel(None::<Instant>);
    // Everyone connects (and finishes the handshake) before the first keystroke.
    let mut sinks = Vec::new();
    let mut readers = Vec::new();
    for d in 0..params.docs {
        let room = format!("paced-{d}");
        for slot in 0..params.writers + params.observers {
            let ws = handshake(&target.url(&room)).await?;
            let (sink, stream) = ws.split();
            let own = (slot < params.writers).then_some(slot);
            readers.push(tokio::spawn(receive(
                stream,
                d,
                own,
                Arc::clone(&streams),
                Arc::clone(&sent),
                epoch,
                deadline_rx.clone(),
            )));
            if let Some(w) = own {
                sinks.push((d, w, sink));
            }
        }
    }
    let interval = Duration::from_secs_f64(1.0 / params.rate);
    let all_writers = sinks.len();
    let cpu_before = cpu_time_of(target.pid)?;
    let started = Instant::now();
    let mut senders = Vec::new();
    for (i, (d, w, mut sink)) in sinks.into_iter().enumerate() {
        let streams = Arc::clone(&streams);
        let sent = Arc::clone(&sent);
        // Writers start spread over one interval, as people do not type in step.
        let offset = interval.mul_f64(i as f64 / all_writers as f64);
        senders.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for index in 0..per_writer {
                tick.tick().await;
                let frame = streams[w].frames[index].clone();
                sent.slot(d, w, index)
                    .store(epoch.elapsed().as_micros() as u64, Ordering::Release);
                sink.send(WsMessage::binary(frame)).await?;
            }
            anyhow::Ok(sink)
        }));
    }
    let mut sinks = Vec::new();
    for sender in senders {
        sinks.push(sender.await??);
    }
    let sending = started.elapsed();
    deadline_tx.send_replace(Some(Instant::now() + Duration::from_secs(30)));
    let mut latencies = Vec::new();
    let mut incomplete = 0u64;
    for reader in readers {
        let received = reader.await??;
        latencies.extend(received.latencies_us);
        if !received.complete {
            incomplete += 1;
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time_of(target.pid)?.saturating_sub(cpu_before);
    drop(sinks);
    latencies.sort_unstable();
    let updates = (params.docs * params.writers * per_writer) as u64;
    let mut report = Report::new("docs-paced", target.name);
    report.set("docs", params.docs as u64);
    report.set("writers_per_doc", params.writers as u64);
    report.set("observers_per_doc", params.observers as u64);
    report.set("rate_per_writer", params.rate);
    report.set("updates", updates);
    report.set(
        "updates_per_sec",
        round2(updates as f64 / sending.as_secs_f64()),
    );
    report.set("server_cpu_ms", ms(cpu));
    report.set(
        "cpu_us_per_update",
        round2(cpu.as_secs_f64() * 1e6 / updates as f64),
    );
    report.set("latency_p50_ms", percentile(&latencies, 50.0));
    report.set("latency_p99_ms", percentile(&latencies, 99.0));
    report.set("matched_updates", latencies.len() as u64);
    report.set("until_all_received_ms", ms(elapsed));
    // A connection that never got every writer's edits lost some.
    report.set("lost", incomplete);
    Ok(report)
}

pub async fn docs_paced(binary: &std::path::Path, params: PacedParams) -> Result<Vec<Report>> {
    if params.docs == 0 || params.writers == 0 || params.rate <= 0.0 || params.seconds <= 0.0 {
        bail!("docs-paced needs at least one document, one writer, a rate and a duration");
    }
    let keystrokes = params.per_writer();
    let trace = if params.trace.exists() {
        load_trace(&params.trace, Some(keystrokes))?
    } else {
        eprintln!(
            "docs-paced: {} not found; a synthetic trace",
            params.trace.display()
        );
        synthetic_trace(keystrokes)
    };
    if trace.patches.len() < keystrokes {
        bail!(
            "the trace has {} keystrokes, fewer than rate × seconds = {keystrokes}",
            trace.patches.len()
        );
    }
    let streams = Arc::new(streams(&trace, params.writers));
    // Each writer's last edit is what its readers wait for: a stream of deletions only would
    // leave nothing to wait for.
    if streams
        .iter()
        .any(|s| s.end_clock == 0 || s.by_start_clock.is_empty())
    {
        bail!("the trace's first {keystrokes} keystrokes insert nothing");
    }
    let (server, parley) = parley_target(binary, "docs-paced").await?;
    let mut reports = vec![run_against(&parley, &params, Arc::clone(&streams)).await?];
    drop(server);
    match Reference::start().await {
        Ok(reference) => {
            let target = Target {
                name: "y-websocket",
                base: format!("ws://127.0.0.1:{}", reference.port),
                query: String::new(),
                pid: reference.child.id(),
            };
            let report = run_against(&target, &params, streams).await?;
            let ratio = reports[0].number("cpu_us_per_update") / report.number("cpu_us_per_update");
            reports[0].set("cpu_vs_reference", round2(ratio));
            reports.push(report);
        }
        Err(err) => eprintln!("docs-paced: no reference server: {err:#}"),
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every insert a writer sends is found again from what a reader decodes, so latency is
    /// matched for each of them; and each stream ends where its document does.
    #[test]
    fn each_insert_is_matched_from_its_update() {
        let trace = synthetic_trace(200);
        let streams = streams(&trace, 2);
        for stream in &streams {
            assert!(stream.end_clock > 0);
            let mut matched = 0;
            for (index, frame) in stream.frames.iter().enumerate() {
                let mut decoder = DecoderV1::from(frame.as_slice());
                for m in MessageReader::new(&mut decoder) {
                    let Message::Sync(SyncMessage::Update(u)) = m.expect("a message") else {
                        panic!("not an update");
                    };
                    let update = Update::decode_v1(&u).expect("an update");
                    for (client, start) in update.state_vector_lower().iter() {
                        assert_eq!(*client, stream.client);
                        if stream.by_start_clock.get(start) == Some(&index) {
                            matched += 1;
                        }
                    }
                }
            }
            assert_eq!(matched, stream.by_start_clock.len());
            assert!(matched >= 100, "{matched}");
        }
    }
}

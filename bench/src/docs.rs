//! The `docs` scenario: replay a real editing trace (one writer, one observer) through a
//! document server and time how long until the observer holds the final text; beside it, the
//! time to apply the same trace to a local yrs `Doc`, and the reference Yjs server
//! (`y-websocket@1`'s `bin/server.js` under Node) on the same trace in the same run. Also the
//! server's memory per open idle document.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message as WsMessage};
use yrs::{
    sync::{Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    GetString, ReadTxn, StateVector, Text, Transact, Update,
};

use crate::{
    client::Ws,
    stats::Report,
    target::{bench_config, cpu_time_of, rss_of, ParleyServer},
};

/// The trace: every transaction's patches `(position, deleted, inserted)` and the final text.
pub struct Trace {
    pub patches: Vec<(u32, u32, String)>,
    pub end: String,
}

/// `$PARLEY_TRACE`, else the shared data folder beside the repository.
pub fn default_trace() -> PathBuf {
    match std::env::var_os("PARLEY_TRACE") {
        Some(path) => PathBuf::from(path),
        None => repo_path("../shared/data/automerge-paper.json.gz"),
    }
}

/// A path relative to the repository's root: the working directory when it is the repository
/// (`make bench` runs there), else the checkout this binary was built from. The build's path
/// alone is not enough: cargo does not rebuild when a checkout moves (its fingerprints are
/// relative), so a binary can carry the path of a checkout that is gone.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = if cwd.join("bench/Cargo.toml").is_file() {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    };
    root.join(relative)
}

/// A stand-in for smoke runs where the real trace is not at hand: `n` single-character edits
/// (three inserts to one delete) at pseudo-random positions, the same every time.
pub fn synthetic_trace(n: usize) -> Trace {
    let mut text: Vec<char> = Vec::new();
    let mut patches = Vec::with_capacity(n);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pos = (state % (text.len() as u64 + 1)) as usize;
        if i % 4 == 3 && pos < text.len() {
            text.remove(pos);
            patches.push((pos as u32, 1, String::new()));
        } else {
            let c = char::from(b'a' + (state % 26) as u8);
            text.insert(pos, c);
            patches.push((pos as u32, 0, c.to_string()));
        }
    }
    Trace {
        patches,
        end: text.into_iter().collect(),
    }
}

/// Loads a trace from josephg/editing-traces (`.json.gz`). With `limit`, only the first
/// `limit` transactions, and `end` is computed by applying them.
pub fn load_trace(path: &Path, limit: Option<usize>) -> Result<Trace> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the editing trace {}", path.display()))?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(file).read_to_string(&mut json)?;
    let value: serde_json::Value = serde_json::from_str(&json)?;
    let txns = value["txns"].as_array().context("no txns")?;
    let mut patches = Vec::new();
    for txn in txns.iter().take(limit.unwrap_or(usize::MAX)) {
        for patch in txn["patches"].as_array().context("no patches")? {
            let pos = patch[0].as_u64().context("pos")? as u32;
            let del = patch[1].as_u64().context("del")? as u32;
            let ins = patch[2].as_str().context("ins")?.to_owned();
            patches.push((pos, del, ins));
        }
    }
    let end = match limit {
        None => value["endContent"]
            .as_str()
            .context("endContent")?
            .to_owned(),
        Some(_) => {
            let mut text: Vec<char> = Vec::new();
            for (pos, del, ins) in &patches {
                let pos = *pos as usize;
                text.splice(pos..pos + *del as usize, ins.chars());
            }
            text.into_iter().collect()
        }
    };
    Ok(Trace { patches, end })
}

/// Applies the trace to a local Doc: the time, and the update of each transaction (what an
/// editor would send).
fn replay_locally(trace: &Trace) -> Result<(Duration, Vec<Vec<u8>>)> {
    // Timed on its own, without capturing updates: the CRDT's cost alone.
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("content");
    let started = Instant::now();
    for (pos, del, ins) in &trace.patches {
        let mut txn = doc.transact_mut();
        if *del > 0 {
            text.remove_range(&mut txn, *pos, *del);
        }
        if !ins.is_empty() {
            text.insert(&mut txn, *pos, ins);
        }
    }
    let local = started.elapsed();
    if text.get_string(&doc.transact()) != trace.end {
        bail!("the local replay does not end with the trace's final text");
    }
    // Again, capturing each transaction's update.
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("content");
    let mut updates = Vec::with_capacity(trace.patches.len());
    for (pos, del, ins) in &trace.patches {
        let mut txn = doc.transact_mut();
        if *del > 0 {
            text.remove_range(&mut txn, *pos, *del);
        }
        if !ins.is_empty() {
            text.insert(&mut txn, *pos, ins);
        }
        updates.push(txn.encode_update_v1());
    }
    Ok((local, updates))
}

/// A document server under test: where rooms are and how to measure the process.
pub(crate) struct Target {
    pub(crate) name: &'static str,
    /// `ws://host:port/prefix` + `/{room}` (+ query).
    pub(crate) base: String,
    pub(crate) query: String,
    pub(crate) pid: u32,
}

impl Target {
    pub(crate) fn url(&self, room: &str) -> String {
        format!("{}/{room}{}", self.base, self.query)
    }
}

fn doc_socket_config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(64 << 20))
}

async fn open(url: &str) -> Result<Ws> {
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(url, Some(doc_socket_config()), true),
    )
    .await
    .context("connect timed out")??;
    Ok(ws)
}

/// Connects and completes the y-websocket handshake for an empty local document.
pub(crate) async fn handshake(url: &str) -> Result<Ws> {
    let mut ws = open(url).await?;
    let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
    ws.send(WsMessage::binary(step1)).await?;
    // Until the server's step 2 (our copy starts empty: nothing to apply here).
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no handshake")?
            .context("closed in handshake")??;
        if let WsMessage::Binary(bytes) = msg {
            let mut decoder = DecoderV1::from(bytes.as_ref());
            for m in MessageReader::new(&mut decoder) {
                match m? {
                    Message::Sync(SyncMessage::SyncStep1(_)) => {
                        let step2 = Message::Sync(SyncMessage::SyncStep2(
                            yrs::Doc::new()
                                .transact()
                                .encode_state_as_update_v1(&StateVector::default()),
                        ))
                        .encode_v1();
                        ws.send(WsMessage::binary(step2)).await?;
                    }
                    Message::Sync(SyncMessage::SyncStep2(_)) => return Ok(ws),
                    _ => {}
                }
            }
        }
    }
}

/// One writer sends every update as fast as the socket takes them; one observer applies what
/// arrives until its text is the trace's final text. Returns the time to that moment and the
/// server's CPU time over the run, and how many frames the observer read (a server may send
/// a reader that falls behind one merged catch-up instead of every update).
async fn replay_through(
    target: &Target,
    room: &str,
    updates: &[Vec<u8>],
    end: &str,
) -> Result<(Duration, Duration, u64)> {
    let mut observer = handshake(&target.url(room)).await?;
    let writer = handshake(&target.url(room)).await?;
    let (mut sink, mut echoes) = writer.split();
    // The reference server echoes updates to their sender: keep reading them.
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = echoes.next().await {} });
    let frames: Vec<Vec<u8>> = updates
        .iter()
        .map(|u| Message::Sync(SyncMessage::Update(u.clone())).encode_v1())
        .collect();
    let cpu_before = cpu_time_of(target.pid)?;
    let started = Instant::now();
    let send = tokio::spawn(async move {
        for (i, frame) in frames.into_iter().enumerate() {
            sink.feed(WsMessage::binary(frame)).await?;
            if i % 64 == 63 {
                sink.flush().await?;
            }
        }
        sink.flush().await?;
        anyhow::Ok(sink)
    });
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("content");
    let expected_len = end.encode_utf16().count() as u32;
    let deadline = started + Duration::from_secs(600);
    let mut frames_read = 0u64;
    loop {
        let msg = tokio::time::timeout_at(deadline.into(), observer.next())
            .await
            .context("the observer never got the final text")?
            .context("observer closed")??;
        let WsMessage::Binary(bytes) = msg else {
            continue;
        };
        frames_read += 1;
        let mut decoder = DecoderV1::from(bytes.as_ref());
        let mut txn = doc.transact_mut();
        for m in MessageReader::new(&mut decoder) {
            if let Message::Sync(SyncMessage::Update(u) | SyncMessage::SyncStep2(u)) = m? {
                txn.apply_update(Update::decode_v1(&u)?)?;
            }
        }
        drop(txn);
        let txn = doc.transact();
        if text.len(&txn) == expected_len && text.get_string(&txn) == end {
            break;
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time_of(target.pid)?.saturating_sub(cpu_before);
    let sink = send.await??;
    drop(sink);
    drain.abort();
    Ok((elapsed, cpu, frames_read))
}

/// Opens `count` documents with a little content each, then disconnects; the growth of the
/// server's RSS per document, with the documents still loaded.
async fn idle_documents(target: &Target, count: usize) -> Result<f64> {
    let rss_before = rss_of(target.pid)?;
    for i in 0..count {
        let mut ws = handshake(&target.url(&format!("idle-{i}"))).await?;
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("content");
        text.insert(
            &mut doc.transact_mut(),
            0,
            &format!("document {i}: a short note."),
        );
        let update = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        ws.send(WsMessage::binary(
            Message::Sync(SyncMessage::Update(update)).encode_v1(),
        ))
        .await?;
        // A round trip: the server has applied it before we go.
        let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
        ws.send(WsMessage::binary(step1)).await?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
                .await
                .context("no answer")?
                .context("closed")??;
            if let WsMessage::Binary(b) = msg {
                if b.len() > 2 && b[0] == 0 && b[1] == 1 {
                    break;
                }
            }
        }
        ws.close(None).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_of(target.pid)?;
    Ok(rss_after.saturating_sub(rss_before) as f64 / count as f64)
}

/// A Parley server for documents (loaded documents stay for an hour, no size limit to speak
/// of) and its `/docs` endpoint as `user`; the target lives as long as the server.
pub(crate) async fn parley_target(binary: &Path, user: &str) -> Result<(ParleyServer, Target)> {
    let server = ParleyServer::start(
        binary,
        &bench_config("[documents]\nidle_timeout = \"1h\"\nmax_document_size = \"1GiB\"\n"),
    )
    .await?;
    let token = server.token(user).await?;
    let target = Target {
        name: "parley",
        base: format!("ws://{}/docs", server.addr()),
        query: format!("?token={token}"),
        pid: server.pid().context("pid")?,
    };
    Ok((server, target))
}

/// The reference server: y-websocket 1.x `bin/server.js` (in memory) on a free port.
pub(crate) struct Reference {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Reference {
    fn script() -> PathBuf {
        repo_path("tests/interop/node_modules/y-websocket/bin/server.js")
    }

    pub(crate) async fn start() -> Result<Self> {
        let script = Self::script();
        if !script.exists() {
            bail!(
                "{} is missing: run `npm ci` in tests/interop (scripts/test.sh does)",
                script.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("node")
            .arg(&script)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start node")?;
        let stdout = child.stdout.take().context("stdout")?;
        let line = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                    .map(|_| line)
            }),
        )
        .await
        .context("the reference server did not start")???;
        if !line.contains("running") {
            bail!("unexpected reference server output {line:?}");
        }
        Ok(Self { child, port })
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct DocsParams {
    pub limit: Option<usize>,
    pub idle_docs: usize,
    pub trace: PathBuf,
}

pub async fn docs(binary: &Path, params: DocsParams) -> Result<Vec<Report>> {
    let trace = match (params.trace.exists(), params.limit) {
        (false, Some(limit)) => {
            eprintln!(
                "docs: {} not found; smoke run on a synthetic trace",
                params.trace.display()
            );
            synthetic_trace(limit)
        }
        _ => load_trace(&params.trace, params.limit)?,
    };
    let (local, updates) = replay_locally(&trace)?;
    let update_bytes: usize = updates.iter().map(Vec::len).sum();
    let mut reports = Vec::new();
    let mut local_report = Report::new("docs", "local-yrs");
    local_report.set("transactions", updates.len() as u64);
    local_report.set("apply_ms", ms(local));
    reports.push(local_report);

    let (_server, parley) = parley_target(binary, "docs-bench").await?;
    let reference = Reference::start().await;
    let mut targets = vec![parley];
    match &reference {
        Ok(r) => targets.push(Target {
            name: "y-websocket",
            base: format!("ws://127.0.0.1:{}", r.port),
            query: String::new(),
            pid: r.child.id(),
        }),
        Err(err) => eprintln!("docs: no reference server: {err:#}"),
    }
    for target in &targets {
        // Memory first, on the fresh process (a heap grown by the trace would hide it).
        let per_doc = idle_documents(target, params.idle_docs).await?;
        let (elapsed, cpu, frames) = replay_through(target, "trace", &updates, &trace.end).await?;
        let mut report = Report::new("docs", target.name);
        report.set("transactions", updates.len() as u64);
        report.set("update_bytes", update_bytes as u64);
        report.set("to_observer_ms", ms(elapsed));
        report.set("server_cpu_ms", ms(cpu));
        report.set("observer_frames", frames);
        report.set(
            "vs_local_apply",
            round2(elapsed.as_secs_f64() / local.as_secs_f64()),
        );
        report.set(
            "rss_after_trace_mib",
            round2(rss_of(target.pid)? as f64 / 1048576.0),
        );
        report.set("idle_docs", params.idle_docs as u64);
        report.set("rss_per_idle_doc_kib", round2(per_doc / 1024.0));
        reports.push(report);
    }
    Ok(reports)
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

//! One `/docs/{name}` WebSocket: the y-websocket protocol. The connection decodes and checks
//! every frame itself (size, message syntax, update encoding) so that a malformed frame closes
//! only this connection and never reaches the document's actor.

use std::sync::{atomic::Ordering, Arc};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::StreamExt;
use parley_protocol::{close_code, DocRole};
use tokio::sync::oneshot;
use yrs::{
    sync::{Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    Update,
};

use super::actor::{Command, Incoming};
use crate::{
    store::{self, TokenRecord},
    ws::{ConnControl, Opened, WriterTiming},
    AppState,
};

pub fn run(
    state: Arc<AppState>,
    socket: WebSocket,
    auth: TokenRecord,
    doc_id: i64,
    (role, decided): (DocRole, std::time::Instant),
    permit: crate::address::ConnectionPermit,
) -> impl std::future::Future<Output = ()> + Send {
    let Opened {
        control,
        out,
        mut stream,
        writer,
    } = open(&state, socket, &auth, &permit);
    let tracker = state.connections.tracker.clone();
    tracker.track_future(async move {
        let env = state.docs.actor_env();
        let (joined, joined_rx) = oneshot::channel();
        let join = Command::Join {
            conn: Arc::clone(&control),
            user_id: auth.user.id,
            decided,
            out,
            can_write: role >= DocRole::Editor,
            joined,
        };
        let started =
            state.docs.dir.actors.send(doc_id, &env, join).await.is_ok() && joined_rx.await.is_ok();
        let mut peer_gone = false;
        if started {
            peer_gone = read_loop(&state, &control, &mut stream, doc_id, &env).await;
            state.docs.dir.actors.send_if_open(
                doc_id,
                Command::Leave {
                    conn_id: control.id,
                },
            );
        } else {
            control.close_with(1011, "the document could not be opened");
        }
        if !peer_gone {
            control.closing.cancel();
        }
        state
            .connections
            .close(&control, stream, writer, peer_gone)
            .await;
        drop(permit);
        tracing::debug!(conn = control.id, doc_id, "document connection closed");
    })
}

/// Registers a `/docs` connection (direct, or relayed to another node: `proxy`) and starts
/// its writer; revoking the token closes it.
pub(super) fn open(
    state: &AppState,
    socket: WebSocket,
    auth: &TokenRecord,
    permit: &crate::address::ConnectionPermit,
) -> Opened {
    let opened = state.connections.open(
        socket,
        state.config.documents.outbound_queue.max(4),
        WriterTiming::from(&state.config),
        ("/docs/{name}", permit.client()),
    );
    opened.control.token_id.store(auth.id, Ordering::Relaxed);
    opened
        .control
        .user_id
        .store(auth.user.id, Ordering::Relaxed);
    opened
}

/// Reads until the peer goes (true) or we close (false).
async fn read_loop(
    state: &Arc<AppState>,
    control: &Arc<ConnControl>,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
    doc_id: i64,
    env: &super::actor::ActorEnv,
) -> bool {
    loop {
        let next = tokio::select! {
            biased;
            () = control.closing.cancelled() => return false,
            () = state.connections.shutdown.cancelled() => {
                control.close_with(1001, "server shutting down");
                return false;
            }
            next = stream.next() => next,
        };
        let message = match control.received(next) {
            Ok(message) => message,
            Err(peer_gone) => return peer_gone,
        };
        match message {
            WsMessage::Binary(bytes) => {
                let max_state = state.config.documents.max_awareness_state;
                let decoded =
                    decode_frame(&bytes).and_then(|m| check_awareness(&m, max_state).map(|()| m));
                let messages = match decoded {
                    Ok(messages) => messages,
                    Err(reason) => {
                        tracing::debug!(conn = control.id, doc_id, reason, "malformed frame");
                        control.close_with(close_code::DOC_INVALID_FRAME, reason);
                        return false;
                    }
                };
                if messages.is_empty() {
                    continue;
                }
                let command = Command::Messages {
                    conn_id: control.id,
                    messages,
                };
                // Waits when the actor is busy: back-pressure on a fast writer.
                if state
                    .docs
                    .dir
                    .actors
                    .send(doc_id, env, command)
                    .await
                    .is_err()
                {
                    control.close_with(1011, "the document is unavailable");
                    return false;
                }
            }
            WsMessage::Text(_) => {
                control.close_with(1003, "the document protocol uses binary frames");
                return false;
            }
            WsMessage::Pong(_) => control.last_pong.store(store::now_ms(), Ordering::Relaxed),
            WsMessage::Ping(_) => {}
            WsMessage::Close(_) => return true,
        }
    }
}

/// Decodes one binary frame: one or more y-websocket messages back to back. Updates are decoded
/// here (off the actor) so a broken one is refused before it can reach the document. A frame
/// that ends inside a message (the reader stops there) or carries trailing bytes is refused:
/// the decoded messages must account for every byte.
pub fn decode_frame(bytes: &[u8]) -> Result<Vec<Incoming>, &'static str> {
    // yrs asserts on some impossible values (client ids over 53 bits) in debug builds: a
    // hostile frame must be refused, never take the connection's task down.
    std::panic::catch_unwind(|| decode_unguarded(bytes))
        .unwrap_or(Err("undecodable y-websocket message"))
}

fn decode_unguarded(bytes: &[u8]) -> Result<Vec<Incoming>, &'static str> {
    check_counts(bytes)?;
    let mut decoder = DecoderV1::from(bytes);
    let mut out = Vec::new();
    let mut consumed = 0usize;
    for message in MessageReader::new(&mut decoder) {
        let message = message.map_err(|_| "malformed y-websocket message")?;
        match message {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                consumed += Message::Sync(SyncMessage::SyncStep1(sv.clone()))
                    .encode_v1()
                    .len();
                out.push(Incoming::SyncStep1(sv));
            }
            Message::Sync(SyncMessage::SyncStep2(update))
            | Message::Sync(SyncMessage::Update(update)) => {
                // tag, sync tag, length, bytes
                consumed += 2 + var_len(update.len()) + update.len();
                let decoded = Update::decode_v1(&update).map_err(|_| "malformed update")?;
                out.push(Incoming::Update(decoded, update));
            }
            Message::Awareness(update) => {
                // Relayed to others as a message of its own.
                let raw = Message::Awareness(update.clone()).encode_v1();
                consumed += raw.len();
                out.push(Incoming::Awareness(update, raw));
            }
            Message::AwarenessQuery => {
                consumed += 1;
                out.push(Incoming::AwarenessQuery);
            }
            // Clients do not send these; accepted and ignored (forward compatible).
            other @ (Message::Auth(_) | Message::Custom(..)) => {
                consumed += other.encode_v1().len();
            }
        }
    }
    if consumed != bytes.len() {
        return Err("truncated y-websocket message");
    }
    Ok(out)
}

/// Refuses awareness states that are larger than `max_state` bytes or are not what y-protocols
/// sends: a JSON object, or `null` for a client that left. Every connection relays them to
/// every other, so an 8 MiB string of anything must not get that far.
pub fn check_awareness(messages: &[Incoming], max_state: u64) -> Result<(), &'static str> {
    for message in messages {
        let Incoming::Awareness(update, _) = message else {
            continue;
        };
        for entry in update.clients.values() {
            if entry.json.len() as u64 > max_state {
                return Err("awareness state too large");
            }
            let parsed = serde_json::from_str::<Option<serde_json::Map<String, serde_json::Value>>>(
                &entry.json,
            );
            if parsed.is_err() {
                return Err("awareness state is not a JSON object");
            }
        }
    }
    Ok(())
}

/// A little-endian base-128 reader over a frame, for [`check_counts`].
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn var(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn buf(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.var()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (buf, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(buf)
    }
}

/// Refuses entry counts that the bytes after them cannot hold. yrs reserves room for the
/// declared number of entries before reading them, so a 13-byte state vector claiming 2^28
/// entries costs hundreds of megabytes; every entry takes at least `min` bytes, which bounds
/// the count by the frame's size. (Checked: state vectors, the client list of updates,
/// awareness updates. Counts deeper inside an update are reserved without being touched.)
fn check_counts(frame: &[u8]) -> Result<(), &'static str> {
    const BAD: &str = "entry count larger than the message";
    let fits = |buf: &[u8], min: usize| {
        let mut inner = Bytes(buf);
        match inner.var() {
            Some(count) => count <= (inner.0.len() / min) as u64,
            None => true, // empty or truncated: yrs reports it
        }
    };
    let mut reader = Bytes(frame);
    while !reader.0.is_empty() {
        match reader.var() {
            Some(0) => {
                let sub = reader.var();
                let Some(buf) = reader.buf() else {
                    return Ok(()); // truncated: the decoder refuses it
                };
                let ok = match sub {
                    Some(0) => fits(buf, 2),
                    Some(1 | 2) => fits(buf, 3),
                    _ => true,
                };
                if !ok {
                    return Err(BAD);
                }
            }
            Some(1) => {
                let Some(buf) = reader.buf() else {
                    return Ok(());
                };
                if !fits(buf, 3) {
                    return Err(BAD);
                }
            }
            Some(2) => {
                // auth: permission byte and (when denied) a reason
                if reader.var() == Some(0) && reader.buf().is_none() {
                    return Ok(());
                }
            }
            Some(3) => {}
            // Unknown tags carry one buffer.
            Some(_) => {
                if reader.buf().is_none() {
                    return Ok(());
                }
            }
            None => return Ok(()),
        }
    }
    Ok(())
}

/// Bytes of an unsigned LEB128 varint.
fn var_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    use yrs::{Text, Transact};

    fn valid_frames() -> Vec<Vec<u8>> {
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("content");
        let mut frames = Vec::new();
        for i in 0..20u32 {
            let mut txn = doc.transact_mut();
            let at = i.min(text.len(&txn));
            text.insert(&mut txn, at, "hello");
            if i % 3 == 0 {
                text.remove_range(&mut txn, 0, 2);
            }
            let update = txn.encode_update_v1();
            frames.push(Message::Sync(SyncMessage::Update(update)).encode_v1());
        }
        let sv = yrs::ReadTxn::state_vector(&doc.transact());
        frames.push(Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1());
        frames.push(vec![3]);
        // A state vector that claims 2^28 entries in a few bytes.
        frames.push(vec![0, 0, 6, 128, 128, 128, 128, 1, 5]);
        frames.push(vec![
            1, 20, 1, 200, 1, 1, 14, 123, 34, 110, 97, 109, 101, 34, 58, 34, 97, 34, 125, 0,
        ]);
        frames
    }

    #[test]
    fn counts_larger_than_the_message_are_refused() {
        // Sync step 1 with a state vector claiming 2^28 entries; an update claiming 2^28
        // clients; an awareness update claiming 2^28 clients.
        for frame in [
            vec![0, 0, 6, 128, 128, 128, 128, 1, 5],
            vec![0, 2, 6, 128, 128, 128, 128, 1, 5],
            vec![1, 6, 128, 128, 128, 128, 1, 5],
        ] {
            let started = std::time::Instant::now();
            assert!(decode_frame(&frame).is_err(), "{frame:?}");
            assert!(started.elapsed() < std::time::Duration::from_millis(20));
        }
        // Honest counts pass.
        assert!(decode_frame(&valid_frames()[0]).is_ok());
    }

    /// Random damage to valid frames never panics the decoder, and whatever it accepts can be
    /// applied to a document without panicking (the actor applies accepted updates).
    #[test]
    fn damaged_frames_are_refused_or_harmless() {
        // Caught panics (yrs debug assertions) would print and capture backtraces, which is
        // slow and would blur the timing check below; this test runs in its own process.
        std::panic::set_hook(Box::new(|_| {}));
        let seed: u64 = rand::random();
        let mut rng = StdRng::seed_from_u64(seed);
        let frames = valid_frames();
        for _ in 0..20_000 {
            let mut frame = frames[rng.gen_range(0..frames.len())].clone();
            for _ in 0..rng.gen_range(1..4) {
                match rng.gen_range(0..3) {
                    0 if !frame.is_empty() => {
                        let i = rng.gen_range(0..frame.len());
                        frame[i] = rng.gen();
                    }
                    1 if !frame.is_empty() => {
                        frame.truncate(rng.gen_range(0..frame.len()));
                    }
                    _ => frame.push(rng.gen()),
                }
            }
            let started = std::time::Instant::now();
            let decoded = decode_frame(&frame);
            // A few bytes must never cost the server much (allocation bombs show up as time).
            assert!(
                started.elapsed() < std::time::Duration::from_millis(100),
                "seed {seed}: decoding {frame:?} took {:?}",
                started.elapsed()
            );
            let Ok(messages) = decoded else {
                continue;
            };
            let doc = yrs::Doc::new();
            for message in messages {
                if let Incoming::Update(update, _) = message {
                    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let _ = doc.transact_mut().apply_update(update);
                    }));
                    assert!(applied.is_ok(), "seed {seed}: applying {frame:?} panicked");
                }
            }
        }
    }
}

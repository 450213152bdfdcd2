//! One `/docs/{name}` WebSocket: the y-websocket protocol. The connection decodes and checks
//! every frame itself (size, message syntax, update encoding) so that a malformed frame closes
//! only this connection and never reaches the document's actor.

use std::sync::{atomic::Ordering, Arc};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::StreamExt;
use parley_protocol::{close_code, DocRole};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
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
    session::{write_loop, ConnControl, WriterTiming},
    store::{self, TokenRecord},
    AppState,
};

/// How long the connection waits for the client's close reply after closing.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

pub fn run(
    state: Arc<AppState>,
    socket: WebSocket,
    auth: TokenRecord,
    doc_id: i64,
    role: DocRole,
    permit: OwnedSemaphorePermit,
) -> impl std::future::Future<Output = ()> + Send {
    let control = Arc::new(ConnControl::new(state.next_connection_id()));
    control.token_id.store(auth.id, Ordering::Relaxed);
    state.sessions.add(Arc::clone(&control));
    let tracker = state.tracker.clone();
    tracker.track_future(async move {
        let (sink, mut stream) = socket.split();
        let (out, out_rx) = mpsc::channel(state.config.documents.outbound_queue.max(4));
        let writer = tokio::spawn(write_loop(
            sink,
            out_rx,
            Arc::clone(&control),
            WriterTiming::from(&state.config),
        ));
        let env = state.docs.env(&state);
        let (joined, joined_rx) = oneshot::channel();
        let join = Command::Join {
            conn: Arc::clone(&control),
            user_id: auth.user.id,
            out,
            can_write: role >= DocRole::Editor,
            joined,
        };
        let started =
            state.docs.actors.send(doc_id, &env, join).await.is_ok() && joined_rx.await.is_ok();
        let mut peer_gone = false;
        if started {
            peer_gone = read_loop(&state, &control, &mut stream, doc_id, &env).await;
            state.docs.actors.send_if_open(
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
            let drain = async {
                while let Some(Ok(message)) = stream.next().await {
                    if matches!(message, WsMessage::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
        }
        let _ = writer.await;
        state.sessions.remove(control.id);
        drop(permit);
        tracing::debug!(conn = control.id, doc_id, "document connection closed");
    })
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
            () = state.shutdown.cancelled() => {
                control.close_with(1001, "server shutting down");
                return false;
            }
            next = stream.next() => next,
        };
        let message = match next {
            None => return true,
            Some(Ok(message)) => message,
            Some(Err(err)) => {
                control.close_for_read_error(err);
                return false;
            }
        };
        control.touch();
        match message {
            WsMessage::Binary(bytes) => {
                let messages = match decode_frame(&bytes) {
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
                if state.docs.actors.send(doc_id, env, command).await.is_err() {
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

/// Bytes of an unsigned LEB128 varint.
fn var_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

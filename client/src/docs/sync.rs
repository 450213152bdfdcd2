//! A replica's sync task: the `/docs/{name}` connection (the token in a header, the document's
//! id once known), the y-websocket exchange, and what a refusal or a close means for the
//! replica (deleted: stop and drop; renamed: follow; no access: stop; otherwise reconnect with
//! backoff).

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use parley_protocol::{close_code, ErrorCode, DOC_ID_HEADER, DOC_ID_PARAM};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::{
    sync::{Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    ReadTxn, Transact, Update,
};

use super::{DocGone, Outgoing, ReplicaEvent, Shared};
use crate::{store, ClientEvent, Error, Result};

/// How a connection attempt ended.
enum Attempt {
    /// Connected, then lost (reconnect with backoff).
    Lost,
    /// Connected, then closed by the server with this code.
    Closed(u16),
    /// Stopped by the replica's owner or the client.
    Stopped,
    /// Refused at the upgrade with this status and error code.
    Refused(u16, Option<parley_protocol::ErrorCode>),
    /// Could not connect at all.
    Failed,
}

/// What to do after the server refused a replica's document by id (404): the document was
/// renamed (follow it), deleted (stop) or the answer is unknown for now (retry).
enum Resolved {
    Renamed(String),
    Deleted,
    Unknown,
}

pub(super) async fn sync_loop(
    this: Arc<Shared>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    mut stop: watch::Receiver<bool>,
    mut client_stop: watch::Receiver<bool>,
) {
    let mut attempt: u32 = 0;
    let mut connection = 0u64;
    loop {
        if *stop.borrow() || *client_stop.borrow() {
            return;
        }
        connection += 1;
        let result = connect_once(
            &this,
            connection,
            &mut outgoing,
            &mut stop,
            &mut client_stop,
        )
        .await;
        let mut now = false;
        match result {
            Attempt::Stopped => return,
            Attempt::Lost => attempt = 0,
            Attempt::Closed(close_code::DOC_DELETED) => {
                this.stop_for_good(DocGone::Deleted).await;
                return;
            }
            // Access changed or the document was renamed: reconnect at once; the upgrade's
            // answer says which (the new role, 403, or 404 for a rename). Moved to another
            // node of a cluster: reconnect at once too.
            Attempt::Closed(close_code::DOC_ACCESS_CHANGED | close_code::DOC_MOVED) => {
                attempt = 0;
                now = true;
            }
            Attempt::Closed(_) => attempt = 0,
            // No access (other 403s, such as a limit, may pass: retried with backoff).
            Attempt::Refused(403, Some(ErrorCode::Forbidden)) => {
                this.stop_for_good(DocGone::Forbidden).await;
                return;
            }
            Attempt::Refused(404, Some(ErrorCode::DocNotFound)) if this.doc_id().is_some() => {
                match resolve(&this).await {
                    Resolved::Deleted => {
                        this.stop_for_good(DocGone::Deleted).await;
                        return;
                    }
                    Resolved::Renamed(new) => {
                        if let Err(err) = follow_rename(&this, &new).await {
                            tracing::warn!(%err, "cannot move a renamed document's replica");
                        } else {
                            now = true;
                        }
                    }
                    Resolved::Unknown => attempt = attempt.saturating_add(1),
                }
            }
            Attempt::Refused(..) | Attempt::Failed => attempt = attempt.saturating_add(1),
        }
        if now {
            continue;
        }
        let config = &this.client.config;
        let ceiling = (config.backoff_min.as_millis() as u64)
            .saturating_mul(1 << attempt.min(16))
            .min(config.backoff_max.as_millis() as u64)
            .max(1);
        let delay = Duration::from_millis(rand::thread_rng().gen_range(0..=ceiling));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return,
            _ = client_stop.changed() => return,
        }
    }
}

/// One connection attempt: the upgrade (the token in the `Authorization` header, never in the
/// URL, which proxies log; the document id once known), then the session.
async fn connect_once(
    this: &Arc<Shared>,
    connection: u64,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    stop: &mut watch::Receiver<bool>,
    client_stop: &mut watch::Receiver<bool>,
) -> Attempt {
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue};
    let expected = this.doc_id();
    let mut url = format!("{}/docs/{}", this.client.config.ws_base(), this.name());
    if let Some(id) = expected {
        url.push_str(&format!("?{DOC_ID_PARAM}={id}"));
    }
    let Ok(mut request) = url.into_client_request() else {
        return Attempt::Failed;
    };
    let Ok(auth) = HeaderValue::from_str(&format!("Bearer {}", this.client.config.token)) else {
        return Attempt::Failed;
    };
    request.headers_mut().insert("authorization", auth);
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        crate::tls::connect_ws(&this.client.config.server, request),
    )
    .await;
    let (mut ws, response) = match connected {
        Ok(Ok(pair)) => pair,
        Ok(Err(crate::tls::WsConnectError::Http(response))) => {
            let code = response
                .body()
                .as_deref()
                .and_then(|body| serde_json::from_slice::<parley_protocol::ErrorBody>(body).ok())
                .map(|body| body.code);
            return Attempt::Refused(response.status().as_u16(), code);
        }
        _ => return Attempt::Failed,
    };
    let answered = response
        .headers()
        .get(DOC_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    match (expected, answered) {
        (None, Some(id)) => {
            // The first connection: from now on this replica is document `id`.
            let name = this.name();
            let bound = this
                .client
                .store
                .run(move |c| store::set_doc_id(c, &name, id))
                .await;
            if bound.is_err() {
                let _ = ws.close(None).await;
                return Attempt::Failed;
            }
            if let Ok(mut doc_id) = this.doc_id.lock() {
                *doc_id = Some(id);
            }
        }
        // Another document than the one this replica holds: never sync into it.
        (Some(want), Some(got)) if want != got => {
            let _ = ws.close(None).await;
            return Attempt::Refused(404, Some(ErrorCode::DocNotFound));
        }
        _ => {}
    }
    let end = session(this, connection, &mut ws, outgoing, stop, client_stop).await;
    this.connected.send_replace(false);
    let _ = this.events.send(ReplicaEvent::Connected(false));
    end
}

/// Where document `id` is now, from the documents the user can see.
async fn resolve(this: &Arc<Shared>) -> Resolved {
    let Some(id) = this.doc_id() else {
        return Resolved::Unknown;
    };
    let listed = tokio::time::timeout(Duration::from_secs(10), this.client.http.docs()).await;
    let Ok(Ok(docs)) = listed else {
        return Resolved::Unknown;
    };
    match docs.into_iter().find(|d| d.id == id) {
        Some(info) if info.name != this.name() => Resolved::Renamed(info.name),
        // Still under this name: the 404 raced with something; try again later.
        Some(_) => Resolved::Unknown,
        None => Resolved::Deleted,
    }
}

async fn follow_rename(this: &Arc<Shared>, new: &str) -> Result<()> {
    let (old, new_name) = (this.name(), new.to_owned());
    this.client
        .store
        .run(move |c| store::doc_rename(c, &old, &new_name))
        .await?;
    if let Ok(mut name) = this.name.lock() {
        *name = new.to_owned();
    }
    tracing::info!(doc = %new, "the document was renamed; following it");
    let _ = this.events.send(ReplicaEvent::Renamed(new.to_owned()));
    Ok(())
}

/// One connection, until it is lost, closed or stopped.
async fn session(
    this: &Arc<Shared>,
    connection: u64,
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    stop: &mut watch::Receiver<bool>,
    client_stop: &mut watch::Receiver<bool>,
) -> Attempt {
    this.answers.send_replace((connection, 0));
    // Step 1s sent on this connection (the handshake's is the first).
    let mut step1s = 1u64;
    let mut barriers = Vec::new();
    // Local edits queued while offline are covered by the handshake's step 2 (our answer to
    // the server's step 1); barriers asked for meanwhile are sent right after that answer.
    while let Ok(item) = outgoing.try_recv() {
        if let Outgoing::Barrier(tx) = item {
            barriers.push(tx);
        }
    }
    let sv = this.doc.transact().state_vector();
    let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
    if ws.send(WsMessage::binary(step1)).await.is_err() {
        return Attempt::Lost;
    }
    let _ = this.events.send(ReplicaEvent::Connected(true));
    let last_awareness = this.awareness.lock().ok().and_then(|a| a.clone());
    if let Some(update) = last_awareness {
        if ws
            .send(WsMessage::binary(awareness_frame(&update)))
            .await
            .is_err()
        {
            return Attempt::Lost;
        }
    }
    loop {
        tokio::select! {
            frame = ws.next() => {
                let bytes = match frame {
                    Some(Ok(WsMessage::Binary(bytes))) => bytes,
                    Some(Ok(WsMessage::Close(frame))) => {
                        return frame.map_or(Attempt::Lost, |f| Attempt::Closed(f.code.into()));
                    }
                    None | Some(Err(_)) => return Attempt::Lost,
                    Some(Ok(_)) => continue,
                };
                match handle(this, &bytes).await {
                    Ok(replies) => {
                        let answered_step1 = !replies.is_empty();
                        for reply in replies {
                            if ws.send(WsMessage::binary(reply)).await.is_err() {
                                return Attempt::Lost;
                            }
                        }
                        if answered_step1 {
                            for tx in barriers.drain(..) {
                                step1s += 1;
                                let sv = this.doc.transact().state_vector();
                                let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
                                if ws.send(WsMessage::binary(step1)).await.is_err() {
                                    return Attempt::Lost;
                                }
                                let _ = tx.send((connection, step1s));
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(doc = %this.name(), %err, "document frame");
                        return Attempt::Lost;
                    }
                }
            }
            item = outgoing.recv() => {
                let Some(item) = item else { return Attempt::Stopped };
                let frame = match item {
                    Outgoing::Update(update) => {
                        Message::Sync(SyncMessage::Update(update)).encode_v1()
                    }
                    Outgoing::Barrier(tx) => {
                        step1s += 1;
                        let _ = tx.send((connection, step1s));
                        let sv = this.doc.transact().state_vector();
                        Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1()
                    }
                    Outgoing::Awareness(update) => awareness_frame(&update),
                };
                if ws.send(WsMessage::binary(frame)).await.is_err() {
                    return Attempt::Lost;
                }
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return Attempt::Stopped;
            }
            _ = client_stop.changed() => {
                let _ = ws.close(None).await;
                return Attempt::Stopped;
            }
        }
    }
}

/// Applies a frame from the server; returns the frames to answer with.
async fn handle(this: &Arc<Shared>, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut replies = Vec::new();
    let mut received = Vec::new();
    let mut answered = false;
    {
        let mut decoder = DecoderV1::from(bytes);
        for message in MessageReader::new(&mut decoder) {
            let message = message.map_err(|e| Error::Invalid(e.to_string()))?;
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = this.doc.transact().encode_diff_v1(&sv);
                    replies.push(Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1());
                    this.connected.send_replace(true);
                }
                Message::Sync(SyncMessage::SyncStep2(update)) => {
                    // An empty answer ([0, 0]) carries nothing to keep.
                    if update.len() > 2 {
                        received.push(update);
                    }
                    answered = true;
                }
                Message::Sync(SyncMessage::Update(update)) => received.push(update),
                Message::Awareness(update) => {
                    let _ = this
                        .events
                        .send(ReplicaEvent::Awareness(update.encode_v1()));
                }
                Message::Auth(Some(reason)) => {
                    tracing::warn!(doc = %this.name(), reason, "the server refused an edit");
                }
                _ => {}
            }
        }
    }
    if !received.is_empty() {
        {
            let mut txn = this.doc.transact_mut();
            for bytes in &received {
                let update = Update::decode_v1(bytes).map_err(|e| Error::Invalid(e.to_string()))?;
                txn.apply_update(update)
                    .map_err(|e| Error::Invalid(e.to_string()))?;
            }
        }
        this.persist(received).await?;
        this.client
            .emit(ClientEvent::DocUpdated { doc: this.name() });
    }
    if answered {
        this.answers.send_modify(|(_, n)| *n += 1);
    }
    Ok(replies)
}

/// A y-websocket awareness frame: message type 1, then the update as a byte array.
fn awareness_frame(update: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(update.len() + 6);
    frame.push(1);
    let mut len = update.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            frame.push(byte);
            break;
        }
        frame.push(byte | 0x80);
    }
    frame.extend_from_slice(update);
    frame
}

//! Document replicas: a yrs `Doc` per open document, persisted in the cache (every update,
//! local or remote, is appended; compacted when the replica opens), editable offline, synced
//! both ways over `/docs/{name}` (y-websocket protocol) whenever the server is reachable.
//! Comments are cached from their events and can be written offline through the outbox.
//!
//! A replica is bound to its document's identity, not to its name: it learns the document's
//! id on its first connection (the `Parley-Doc-Id` answer) and states it on every reconnect
//! (`?doc_id=`), so the server never connects it to another document that took the name. When
//! the document is deleted (close 4005, or the id is no longer anywhere in `GET /api/docs`) the
//! replica stops and its cached state is dropped; when it was renamed, the replica follows it
//! to its new name; when access is lost (403), it stops.

use std::{sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::{
    sync::{Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    GetString, ReadTxn, StateVector, Text, Transact, TransactionMut, Update,
};

use parley_protocol::{close_code, ErrorCode, DOC_ID_HEADER, DOC_ID_PARAM};

use crate::{store, Client, ClientEvent, Error, Inner, OutboxEntry, Result};

/// A local replica of one document. Cheap to clone; dropping every clone stops its sync
/// (so does `Client::shutdown`).
#[derive(Clone)]
pub struct DocReplica {
    shared: Arc<Shared>,
    _guard: Arc<StopOnDrop>,
}

struct StopOnDrop(watch::Sender<bool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// What the replica hands to its sync task.
enum Outgoing {
    Update(Vec<u8>),
    /// Send a sync step 1 and say which answer (per connection) will be its reply.
    Barrier(tokio::sync::oneshot::Sender<(u64, u64)>),
    /// An encoded awareness update (y-protocols) to relay.
    Awareness(Vec<u8>),
}

/// The transaction origin of updates that came from [`DocReplica::apply_local_update`], so an
/// observer can tell them from remote ones.
pub const LOCAL_ORIGIN: &str = "parley-local";

/// What a replica reports to whoever shows it (the desktop app's editor).
#[derive(Debug, Clone)]
pub enum ReplicaEvent {
    /// An encoded awareness update (y-protocols) from another client.
    Awareness(Vec<u8>),
    /// The sync connection came up (true) or went down (false).
    Connected(bool),
    /// The document was renamed on the server: the replica follows it under this name.
    Renamed(String),
    /// The replica stopped for good: the document is gone, or the user lost access.
    Gone(DocGone),
}

/// Why a replica stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocGone {
    /// The document was deleted on the server. Its cached state was dropped, and the comments
    /// still queued for it failed: nothing of it can reach another document of that name.
    Deleted,
    /// The server refused the user access to the document (403).
    Forbidden,
}

struct Shared {
    /// The document's current name (it follows renames).
    name: std::sync::Mutex<String>,
    /// The document's id on the server, once known.
    doc_id: std::sync::Mutex<Option<i64>>,
    /// Set once the replica has stopped for good; nothing is cached or sent after that.
    gone: watch::Sender<Option<DocGone>>,
    doc: yrs::Doc,
    client: Arc<Inner>,
    /// Local updates to send (the sync task drains it while connected).
    outgoing: mpsc::UnboundedSender<Outgoing>,
    /// (connection number, sync step 2 answers received on it): `flush` waits on it.
    answers: watch::Sender<(u64, u64)>,
    connected: watch::Sender<bool>,
    /// Awareness from other clients and connection changes (bounded; lagging drops old ones).
    events: tokio::sync::broadcast::Sender<ReplicaEvent>,
    /// The last local awareness update, re-sent on every connect.
    awareness: std::sync::Mutex<Option<Vec<u8>>>,
}

impl Client {
    /// Opens (or creates) the local replica of `name` and starts syncing it. A replica that
    /// has never connected learns its document's id on its first connection.
    pub async fn open_doc(&self, name: &str) -> Result<DocReplica> {
        self.open_doc_bound(name, None).await
    }

    /// Opens the local replica of document `id`, named `name` now (as the document info
    /// says). A cached replica of `name` that belongs to another document (one deleted or
    /// renamed away since) is dropped first, so its state never reaches this one.
    pub async fn open_doc_as(&self, name: &str, id: i64) -> Result<DocReplica> {
        self.open_doc_bound(name, Some(id)).await
    }

    async fn open_doc_bound(&self, name: &str, expected: Option<i64>) -> Result<DocReplica> {
        let doc_name = name.to_owned();
        let (updates, doc_id) = self
            .inner
            .store
            .run(move |c| {
                let cached = store::doc_id(c, &doc_name)?;
                if let Some(id) = expected {
                    if cached.is_some_and(|cached| cached != id) {
                        store::doc_forget(
                            c,
                            &doc_name,
                            "doc_not_found",
                            "the document was deleted or renamed",
                        )?;
                    }
                    store::set_doc_id(c, &doc_name, id)?;
                }
                Ok((store::doc_updates(c, &doc_name)?, expected.or(cached)))
            })
            .await?;
        let doc = yrs::Doc::new();
        {
            let mut txn = doc.transact_mut();
            for bytes in &updates {
                let update = Update::decode_v1(bytes)
                    .map_err(|e| Error::Storage(format!("cached document update: {e}")))?;
                txn.apply_update(update)
                    .map_err(|e| Error::Storage(format!("cached document update: {e}")))?;
            }
        }
        if updates.len() > 1 {
            let state = doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default());
            let doc_name = name.to_owned();
            self.inner
                .store
                .run(move |c| store::doc_compact(c, &doc_name, &state))
                .await?;
        }
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            name: std::sync::Mutex::new(name.to_owned()),
            doc_id: std::sync::Mutex::new(doc_id),
            gone: watch::channel(None).0,
            doc,
            client: Arc::clone(&self.inner),
            outgoing,
            answers: watch::channel((0, 0)).0,
            connected: watch::channel(false).0,
            events: tokio::sync::broadcast::channel(256).0,
            awareness: std::sync::Mutex::new(None),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(sync_loop(
            Arc::clone(&shared),
            outgoing_rx,
            stop_rx,
            self.inner.stop.subscribe(),
        ));
        Ok(DocReplica {
            shared,
            _guard: Arc::new(StopOnDrop(stop)),
        })
    }

    /// Writes a comment (or reply) on a document: queued like a message, sent when connected.
    /// `comment` is the API's body (`body`, `anchor`, `quote`, `parent`).
    pub async fn comment(&self, doc: &str, mut comment: serde_json::Value) -> Result<OutboxEntry> {
        let client_id = self.new_client_id();
        comment["client_id"] = serde_json::Value::String(client_id.clone());
        self.queue("comment", doc, &comment.to_string(), &client_id)
            .await
    }

    /// Comments of a document as cached from its events and API reads.
    pub async fn cached_comments(&self, doc: &str) -> Result<Vec<serde_json::Value>> {
        let name = doc.to_owned();
        let rows = self
            .inner
            .store
            .run(move |c| store::comments(c, &name))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r).ok())
            .collect())
    }
}

impl Shared {
    fn name(&self) -> String {
        self.name.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn doc_id(&self) -> Option<i64> {
        self.doc_id.lock().ok().and_then(|id| *id)
    }

    fn check_live(&self) -> Result<()> {
        match *self.gone.borrow() {
            Some(reason) => Err(Error::DocGone {
                doc: self.name(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Appends an update to the cache, unless the replica is gone (checked inside the cache's
    /// turn, after which `forget` cannot have run yet: no row outlives the drop).
    async fn persist(self: &Arc<Self>, updates: Vec<Vec<u8>>) -> Result<()> {
        let this = Arc::clone(self);
        self.client
            .store
            .run(move |c| {
                this.check_live()?;
                let name = this.name();
                for bytes in &updates {
                    store::doc_append(c, &name, bytes)?;
                }
                Ok(())
            })
            .await
    }

    /// Stops the replica for good. A deleted document's cached state is dropped. `gone` is set
    /// inside the same turn of the cache as the drop: a `persist` that runs after it sees it,
    /// and whoever waits on `gone` (a `flush`) wakes only once the copy is gone (a command
    /// that exits then leaves nothing behind).
    async fn stop_for_good(self: &Arc<Self>, reason: DocGone) {
        let this = Arc::clone(self);
        let dropped = self
            .client
            .store
            .run(move |c| {
                let result = if reason == DocGone::Deleted {
                    store::doc_forget(
                        c,
                        &this.name(),
                        "doc_not_found",
                        "the document was deleted on the server",
                    )
                } else {
                    Ok(())
                };
                this.gone.send_replace(Some(reason));
                result
            })
            .await;
        if let Err(err) = dropped {
            // The cache failed (or its task could not run): stop all the same.
            self.gone.send_replace(Some(reason));
            tracing::warn!(doc = %self.name(), %err, "cannot drop a deleted document's replica");
        }
        tracing::info!(doc = %self.name(), ?reason, "document replica stopped");
        let _ = self.events.send(ReplicaEvent::Gone(reason));
    }
}

impl DocReplica {
    /// The document's current name (it follows renames on the server).
    pub fn name(&self) -> String {
        self.shared.name()
    }

    /// The document's id on the server, once the replica has learnt it.
    pub fn doc_id(&self) -> Option<i64> {
        self.shared.doc_id()
    }

    /// Why the replica stopped for good, if it did.
    pub fn gone(&self) -> Option<DocGone> {
        *self.shared.gone.borrow()
    }

    pub fn doc(&self) -> &yrs::Doc {
        &self.shared.doc
    }

    /// A local edit: persisted at once, sent now or when connected. Get the root types you
    /// need (`doc().get_or_insert_text(..)`) before calling: they cannot be created inside
    /// the transaction.
    pub async fn edit(&self, f: impl FnOnce(&mut TransactionMut)) -> Result<()> {
        self.shared.check_live()?;
        let update = {
            let mut txn = self.shared.doc.transact_mut();
            f(&mut txn);
            txn.encode_update_v1()
        };
        if update.len() <= 2 {
            return Ok(()); // nothing changed
        }
        self.shared.persist(vec![update.clone()]).await?;
        let _ = self.shared.outgoing.send(Outgoing::Update(update));
        Ok(())
    }

    /// Appends to the text root `root` (what `parley doc append` does).
    pub async fn append_text(&self, root: &str, text: &str) -> Result<()> {
        let t = self.shared.doc.get_or_insert_text(root);
        let text = text.to_owned();
        self.edit(move |txn| {
            let len = t.len(txn);
            t.insert(txn, len, &text);
        })
        .await
    }

    pub async fn insert_text(&self, root: &str, index: u32, text: &str) -> Result<()> {
        let t = self.shared.doc.get_or_insert_text(root);
        let text = text.to_owned();
        self.edit(move |txn| {
            let len = t.len(txn);
            t.insert(txn, index.min(len), &text);
        })
        .await
    }

    pub fn text(&self, root: &str) -> String {
        let t = self.shared.doc.get_or_insert_text(root);
        let txn = self.shared.doc.transact();
        t.get_string(&txn)
    }

    /// Applies an update made elsewhere in this process (an editor's own Y.Doc): persisted at
    /// once and sent now or when connected, like `edit`. Applied with [`LOCAL_ORIGIN`].
    pub async fn apply_local_update(&self, update: &[u8]) -> Result<()> {
        self.shared.check_live()?;
        let decoded = Update::decode_v1(update).map_err(|e| Error::Invalid(e.to_string()))?;
        {
            let mut txn = self.shared.doc.transact_mut_with(LOCAL_ORIGIN);
            txn.apply_update(decoded)
                .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        if update.len() <= 2 {
            return Ok(());
        }
        self.shared.persist(vec![update.to_vec()]).await?;
        let _ = self.shared.outgoing.send(Outgoing::Update(update.to_vec()));
        Ok(())
    }

    /// Relays this client's awareness state (an encoded y-protocols awareness update) to the
    /// others; kept and sent again after every reconnect.
    pub fn set_awareness(&self, update: Vec<u8>) {
        if let Ok(mut last) = self.shared.awareness.lock() {
            *last = Some(update.clone());
        }
        let _ = self.shared.outgoing.send(Outgoing::Awareness(update));
    }

    /// Awareness of other clients and connection changes, from now on.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ReplicaEvent> {
        self.shared.events.subscribe()
    }

    /// The whole document as one update (for an editor that starts empty).
    pub fn state(&self) -> Vec<u8> {
        self.shared
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    pub fn is_connected(&self) -> bool {
        *self.shared.connected.borrow()
    }

    /// Waits until the server holds every local edit and this replica holds the server's
    /// state at that moment (a sync round trip), or `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.shared.check_live()?;
        let mut connected = self.shared.connected.subscribe();
        let mut gone = self.shared.gone.subscribe();
        tokio::select! {
            up = tokio::time::timeout_at(deadline, connected.wait_for(|c| *c)) => {
                up.map_err(|_| Error::Offline)?.map_err(|_| Error::Offline)?;
            }
            _ = gone.wait_for(Option::is_some) => return self.shared.check_live(),
        }
        let mut answers = self.shared.answers.subscribe();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.shared.outgoing.send(Outgoing::Barrier(tx));
        // The server answers each step 1 with one step 2, in order: ours is the n-th.
        let (connection, n) = tokio::time::timeout_at(deadline, rx)
            .await
            .map_err(|_| Error::Timeout)?
            .map_err(|_| Error::Disconnected)?;
        let done = tokio::time::timeout_at(
            deadline,
            answers.wait_for(|(c, count)| *c != connection || *count >= n),
        )
        .await
        .map_err(|_| Error::Timeout)?
        .map_err(|_| Error::Disconnected)?;
        if done.0 != connection {
            return Err(Error::Disconnected);
        }
        Ok(())
    }
}

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

async fn sync_loop(
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
            // answer says which (the new role, 403, or 404 for a rename).
            Attempt::Closed(close_code::DOC_ACCESS_CHANGED) => {
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
        tokio_tungstenite::connect_async(request),
    )
    .await;
    let (mut ws, response) = match connected {
        Ok(Ok(pair)) => pair,
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
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
    let config = &this.client.config;
    let response = this
        .client
        .http
        .get(format!("{}/api/docs", config.server))
        .bearer_auth(&config.token)
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let Ok(response) = response else {
        return Resolved::Unknown;
    };
    if !response.status().is_success() {
        return Resolved::Unknown;
    }
    #[derive(serde::Deserialize)]
    struct DocList {
        docs: Vec<parley_protocol::DocInfo>,
    }
    let Ok(list) = response.json::<DocList>().await else {
        return Resolved::Unknown;
    };
    match list.docs.into_iter().find(|d| d.id == id) {
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

/// Caches a comment event (created/edited/resolved/deleted) and passes it on.
pub(crate) async fn comment_event(inner: &Arc<Inner>, event: &serde_json::Value) -> Result<()> {
    let kind = event["kind"].as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "comment_created" | "comment_edited" | "comment_resolved" => {
            let comment = event["comment"].clone();
            let (doc, id) = (
                comment["doc"].as_str().unwrap_or_default().to_owned(),
                comment["id"].as_i64().unwrap_or_default(),
            );
            let body = comment.to_string();
            let d = doc.clone();
            inner
                .store
                .run(move |c| store::save_comment(c, &d, id, &body))
                .await?;
            inner.emit(ClientEvent::Comment {
                doc,
                event: event.clone(),
            });
        }
        "comment_deleted" => {
            let id = event["comment_id"].as_i64().unwrap_or_default();
            inner
                .store
                .run(move |c| {
                    c.execute("DELETE FROM comments WHERE id = ?1", [id])?;
                    Ok(())
                })
                .await?;
            inner.emit(ClientEvent::Comment {
                doc: String::new(),
                event: event.clone(),
            });
        }
        _ => {}
    }
    Ok(())
}

/// Sends a queued comment over HTTP (`client_id` makes a resend return the original). The
/// API names documents by name, so a comment for a document this client knows by id is only
/// posted while that name still belongs to that id: a comment queued for a document that was
/// deleted meanwhile must not land on another document that took its name.
pub(crate) async fn post_comment(client: &Client, entry: &OutboxEntry) -> Result<()> {
    let target = entry.target.clone();
    let bound = client
        .inner
        .store
        .run(move |c| store::doc_id(c, &target))
        .await?;
    if let Some(id) = bound {
        let response = client
            .inner
            .http
            .get(format!(
                "{}/api/docs/{}",
                client.config().server,
                entry.target
            ))
            .bearer_auth(&client.config().token)
            .send()
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        let status = response.status();
        let now = if status.is_success() {
            response
                .json::<parley_protocol::DocInfo>()
                .await
                .ok()
                .map(|info| info.id)
        } else {
            None
        };
        if status.as_u16() == 404 || (status.is_success() && now != Some(id)) {
            let (target, message) = (
                entry.target.clone(),
                "the document was deleted on the server".to_owned(),
            );
            let reason = message.clone();
            client
                .inner
                .store
                .run(move |c| store::doc_forget(c, &target, "doc_not_found", &reason))
                .await?;
            return Err(Error::Server(parley_protocol::ErrorBody::new(
                ErrorCode::DocNotFound,
                message,
            )));
        }
    }
    let url = format!(
        "{}/api/docs/{}/comments",
        client.config().server,
        entry.target
    );
    let body: serde_json::Value =
        serde_json::from_str(&entry.body).map_err(|e| Error::Invalid(e.to_string()))?;
    let response = client
        .inner
        .http
        .post(url)
        .bearer_auth(&client.config().token)
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    let status = response.status();
    let value: serde_json::Value = response
        .json()
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    if status.is_success() {
        let (doc, id, text) = (
            entry.target.clone(),
            value["id"].as_i64().unwrap_or_default(),
            value.to_string(),
        );
        client
            .inner
            .store
            .run(move |c| store::save_comment(c, &doc, id, &text))
            .await?;
        Ok(())
    } else {
        match serde_json::from_value::<parley_protocol::ErrorBody>(value) {
            Ok(body) => Err(Error::Server(body)),
            Err(_) => Err(Error::Http(format!("HTTP {status}"))),
        }
    }
}

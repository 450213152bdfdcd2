//! Document replicas: a yrs `Doc` per open document, persisted in the cache (every update,
//! local or remote, is appended; compacted when the replica opens), editable offline, synced
//! both ways over `/docs/{name}` (y-websocket protocol) whenever the server is reachable.
//! Comments are cached from their events and can be written offline through the outbox.

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
}

struct Shared {
    name: String,
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
    /// Opens (or creates) the local replica of `name` and starts syncing it.
    pub async fn open_doc(&self, name: &str) -> Result<DocReplica> {
        let doc_name = name.to_owned();
        let updates = self
            .inner
            .store
            .run(move |c| store::doc_updates(c, &doc_name))
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
            name: name.to_owned(),
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

impl DocReplica {
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn doc(&self) -> &yrs::Doc {
        &self.shared.doc
    }

    /// A local edit: persisted at once, sent now or when connected. Get the root types you
    /// need (`doc().get_or_insert_text(..)`) before calling: they cannot be created inside
    /// the transaction.
    pub async fn edit(&self, f: impl FnOnce(&mut TransactionMut)) -> Result<()> {
        let update = {
            let mut txn = self.shared.doc.transact_mut();
            f(&mut txn);
            txn.encode_update_v1()
        };
        if update.len() <= 2 {
            return Ok(()); // nothing changed
        }
        let (name, bytes) = (self.shared.name.clone(), update.clone());
        self.shared
            .client
            .store
            .run(move |c| store::doc_append(c, &name, &bytes))
            .await?;
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
        let decoded = Update::decode_v1(update).map_err(|e| Error::Invalid(e.to_string()))?;
        {
            let mut txn = self.shared.doc.transact_mut_with(LOCAL_ORIGIN);
            txn.apply_update(decoded)
                .map_err(|e| Error::Invalid(e.to_string()))?;
        }
        if update.len() <= 2 {
            return Ok(());
        }
        let (name, bytes) = (self.shared.name.clone(), update.to_vec());
        self.shared
            .client
            .store
            .run(move |c| store::doc_append(c, &name, &bytes))
            .await?;
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
        let mut connected = self.shared.connected.subscribe();
        tokio::time::timeout_at(deadline, connected.wait_for(|c| *c))
            .await
            .map_err(|_| Error::Offline)?
            .map_err(|_| Error::Offline)?;
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
        let url = format!(
            "{}/docs/{}?token={}",
            this.client.config.ws_base(),
            this.name,
            this.client.config.token
        );
        let connected = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(url),
        )
        .await;
        let ws = match connected {
            Ok(Ok((ws, _))) => Some(ws),
            _ => None,
        };
        if let Some(mut ws) = ws {
            attempt = 0;
            let lost = session(
                &this,
                connection,
                &mut ws,
                &mut outgoing,
                &mut stop,
                &mut client_stop,
            )
            .await;
            let _ = this.connected.send(false);
            let _ = this.events.send(ReplicaEvent::Connected(false));
            if !lost {
                return;
            }
        } else {
            attempt = attempt.saturating_add(1);
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

/// One connection; returns true when it was lost (reconnect), false when stopped.
async fn session(
    this: &Arc<Shared>,
    connection: u64,
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    outgoing: &mut mpsc::UnboundedReceiver<Outgoing>,
    stop: &mut watch::Receiver<bool>,
    client_stop: &mut watch::Receiver<bool>,
) -> bool {
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
        return true;
    }
    let _ = this.events.send(ReplicaEvent::Connected(true));
    let last_awareness = this.awareness.lock().ok().and_then(|a| a.clone());
    if let Some(update) = last_awareness {
        if ws
            .send(WsMessage::binary(awareness_frame(&update)))
            .await
            .is_err()
        {
            return true;
        }
    }
    loop {
        tokio::select! {
            frame = ws.next() => {
                let bytes = match frame {
                    Some(Ok(WsMessage::Binary(bytes))) => bytes,
                    Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return true,
                    Some(Ok(_)) => continue,
                };
                match handle(this, &bytes).await {
                    Ok(replies) => {
                        let answered_step1 = !replies.is_empty();
                        for reply in replies {
                            if ws.send(WsMessage::binary(reply)).await.is_err() {
                                return true;
                            }
                        }
                        if answered_step1 {
                            for tx in barriers.drain(..) {
                                step1s += 1;
                                let sv = this.doc.transact().state_vector();
                                let step1 = Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1();
                                if ws.send(WsMessage::binary(step1)).await.is_err() {
                                    return true;
                                }
                                let _ = tx.send((connection, step1s));
                            }
                        }
                    }
                    Err(err) => {
                        tracing::warn!(doc = %this.name, %err, "document frame");
                        return true;
                    }
                }
            }
            item = outgoing.recv() => {
                let Some(item) = item else { return false };
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
                    return true;
                }
            }
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return false;
            }
            _ = client_stop.changed() => {
                let _ = ws.close(None).await;
                return false;
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
                    let _ = this.connected.send(true);
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
                    tracing::warn!(doc = %this.name, reason, "the server refused an edit");
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
        let name = this.name.clone();
        this.client
            .store
            .run(move |c| {
                for bytes in &received {
                    store::doc_append(c, &name, bytes)?;
                }
                Ok(())
            })
            .await?;
        this.client.emit(ClientEvent::DocUpdated {
            doc: this.name.clone(),
        });
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

/// Sends a queued comment over HTTP (`client_id` makes a resend return the original).
pub(crate) async fn post_comment(client: &Client, entry: &OutboxEntry) -> Result<()> {
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

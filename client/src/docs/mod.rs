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
//!
//! Documents are managed over HTTP (list, create, rename, delete, roles, versions: `manage`),
//! and so are their comments (`comments`).

mod comments;
mod manage;
mod sync;

use std::{sync::Arc, time::Duration};

use tokio::sync::{mpsc, watch};
use yrs::{
    updates::decoder::Decode, GetString, ReadTxn, StateVector, Text, Transact, TransactionMut,
    Update,
};

/// Why a replica stopped for good (defined with the error that carries it).
pub use crate::error::DocGone;
pub(crate) use comments::{comment_event, post_comment};
pub use manage::check_name;
use sync::sync_loop;

use crate::{store, Client, Error, Inner, Result};

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

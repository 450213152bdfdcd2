//! The directory of documents this server knows (by id and by name, with who may open each and
//! names recently given up) and the actors of the open ones.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use parley_protocol::DocRole;

use super::actor;
use crate::{
    chat::{channels::Channel, ChannelListener},
    error::Result,
    store::{DocRecord, DocumentStore},
};

/// A document as the directory holds it.
pub struct DocEntry {
    pub id: i64,
    pub(crate) record: RwLock<DocRecord>,
    pub(crate) grants: RwLock<HashMap<i64, DocRole>>,
    /// The comments channel (`doc#<id>`).
    pub comments: Arc<Channel>,
}

impl DocEntry {
    pub fn record(&self) -> DocRecord {
        match self.record.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub(crate) fn grant(&self, user_id: i64) -> Option<DocRole> {
        self.grants.read().ok()?.get(&user_id).copied()
    }
}

/// Documents known to this server and the actors of open ones.
pub struct Docs {
    inner: RwLock<DocsInner>,
    pub actors: Arc<actor::Actors>,
}

#[derive(Default)]
struct DocsInner {
    by_name: HashMap<String, Arc<DocEntry>>,
    by_id: HashMap<i64, Arc<DocEntry>>,
    /// Names deleted or renamed away recently: a stock client still open on one reconnects on
    /// its own, and must not silently recreate the document from its local copy.
    retired: HashMap<String, std::time::Instant>,
}

/// How long a deleted or renamed-away name is not created by connecting to it.
const RETIRED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

impl DocsInner {
    fn retire(&mut self, name: String) {
        self.retired.retain(|_, at| at.elapsed() < RETIRED_FOR);
        self.retired.insert(name, std::time::Instant::now());
    }
}

impl Docs {
    /// Loads every document record (content loads when a document is opened), with its
    /// comments channel from the channel directory.
    pub async fn load(
        store: &dyn DocumentStore,
        directory: &crate::chat::channels::Directory,
    ) -> Result<Self> {
        let docs = store.load_documents().await?;
        let channels: HashMap<i64, Arc<Channel>> = directory
            .all()
            .into_iter()
            .filter_map(|c| c.record.doc_id.map(|d| (d, c)))
            .collect();
        let this = Self {
            inner: RwLock::new(DocsInner::default()),
            actors: Arc::new(actor::Actors::default()),
        };
        for (record, grants) in docs {
            let Some(comments) = channels.get(&record.id) else {
                tracing::warn!(doc_id = record.id, "document without comments channel");
                continue;
            };
            this.insert(Arc::new(DocEntry {
                id: record.id,
                grants: RwLock::new(grants.into_iter().collect()),
                record: RwLock::new(record),
                comments: Arc::clone(comments),
            }));
        }
        Ok(this)
    }

    pub(crate) fn insert(&self, entry: Arc<DocEntry>) {
        if let Ok(mut inner) = self.inner.write() {
            inner
                .by_name
                .insert(entry.record().name, Arc::clone(&entry));
            inner.by_id.insert(entry.id, entry);
        }
    }

    pub(crate) fn remove(&self, id: i64) {
        if let Ok(mut inner) = self.inner.write() {
            if let Some(entry) = inner.by_id.remove(&id) {
                let name = entry.record().name;
                inner.by_name.remove(&name);
                inner.retire(name);
            }
        }
        self.actors.send_if_open(id, actor::Command::Deleted);
    }

    pub(crate) fn rename(&self, entry: &Arc<DocEntry>, old: &str) {
        let new = entry.record().name;
        if new == old {
            return;
        }
        if let Ok(mut inner) = self.inner.write() {
            inner.by_name.remove(old);
            inner.retired.remove(&new);
            inner.by_name.insert(new, Arc::clone(entry));
            inner.retire(old.to_owned());
        }
        // Connections opened under the old name close (4007); a reconnect under the old name
        // is refused for a while instead of creating an empty document there.
        self.actors.send_if_open(
            entry.id,
            actor::Command::AccessChanged {
                user_id: None,
                issued: std::time::Instant::now(),
            },
        );
    }

    /// True when connecting to `name` must not create it (deleted or renamed away lately).
    /// A name taken again: it is no longer held back.
    pub(crate) fn unretire(&self, name: &str) {
        if let Ok(mut inner) = self.inner.write() {
            inner.retired.remove(name);
        }
    }

    pub(crate) fn is_retired(&self, name: &str) -> bool {
        self.inner
            .read()
            .ok()
            .and_then(|i| i.retired.get(name).map(|at| at.elapsed() < RETIRED_FOR))
            .unwrap_or(false)
    }

    /// Tells the open document that `user_id`'s access (None: everyone's) changed.
    pub fn access_changed(&self, doc_id: i64, user_id: Option<i64>) {
        self.actors.send_if_open(
            doc_id,
            actor::Command::AccessChanged {
                user_id,
                issued: std::time::Instant::now(),
            },
        );
    }

    /// A user left (or was removed from) a channel: their connections to its documents close.
    fn left_channel(&self, channel_id: i64, user_id: i64) {
        for entry in self.all() {
            if entry.record().channel_id == Some(channel_id) {
                self.access_changed(entry.id, Some(user_id));
            }
        }
    }

    pub fn by_id(&self, id: i64) -> Option<Arc<DocEntry>> {
        self.inner.read().ok()?.by_id.get(&id).cloned()
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<DocEntry>> {
        self.inner.read().ok()?.by_name.get(name).cloned()
    }

    pub(crate) fn all(&self) -> Vec<Arc<DocEntry>> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        let mut all: Vec<_> = inner.by_id.values().cloned().collect();
        all.sort_by_key(|e| e.id);
        all
    }

    /// Forgets the documents of a deleted channel (the database cascades).
    fn forget_channel(&self, channel_id: i64) {
        let ids: Vec<i64> = self
            .all()
            .into_iter()
            .filter(|e| e.record().channel_id == Some(channel_id))
            .map(|e| e.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }
}

impl ChannelListener for Docs {
    fn member_left(&self, channel_id: i64, user_id: i64) {
        self.left_channel(channel_id, user_id);
    }

    fn channel_deleted(&self, channel_id: i64) {
        self.forget_channel(channel_id);
    }
}

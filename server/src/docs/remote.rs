//! The document directory on a server of several nodes (docs/scaling.md). Each node caches
//! document records and roles; the store holds the truth. A document another node created is
//! loaded on first use here (and by a listing), and a change another node made (rename, roles,
//! default role, delete) arrives as news over the cluster: the record is reloaded, and the
//! connections it concerns close with 4007 (or 4005) as on the node that made it.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use yrs::{updates::decoder::Decode, ReadTxn, Transact};

use super::{directory::DocEntry, owner::Owner, Docs, Documents};
use crate::{
    chat::Chat,
    error::{Error, Result},
    store::{DocRecord, Grants, Stores},
};

/// What the cluster's receiver needs to apply another node's document changes here.
pub struct RemoteDocs {
    stores: Stores,
    chat: Arc<Chat>,
    dir: Arc<Docs>,
}

impl Documents {
    /// The cluster's handle on this node's document directory.
    pub fn remote(&self) -> Arc<RemoteDocs> {
        Arc::new(RemoteDocs {
            stores: self.stores.clone(),
            chat: Arc::clone(&self.chat),
            dir: Arc::clone(&self.dir),
        })
    }

    /// The document named `name`: from the directory, or, on a server of several nodes, from
    /// the store when another node created it.
    pub(crate) async fn lookup(&self, name: &str) -> Result<Option<Arc<DocEntry>>> {
        if let Some(doc) = self.dir.by_name(name) {
            return Ok(Some(doc));
        }
        if self.leases.is_none() {
            return Ok(None);
        }
        match self
            .stores
            .documents
            .document_by_name(name.to_owned())
            .await?
        {
            Some((record, grants)) => entry(&self.chat, &self.dir, record, grants).await,
            None => Ok(None),
        }
    }

    /// On a server of several nodes, adds the documents other nodes created to the directory
    /// (before a listing).
    pub(super) async fn load_new(&self) -> Result<()> {
        if self.leases.is_none() {
            return Ok(());
        }
        for (record, grants) in self.stores.documents.load_documents().await? {
            if self.dir.by_id(record.id).is_none() {
                entry(&self.chat, &self.dir, record, grants).await?;
            }
        }
        Ok(())
    }

    /// Which node serves the document (this one when alone).
    pub async fn owner(&self, doc_id: i64) -> Owner {
        match &self.leases {
            Some(leases) => leases.owner(doc_id).await,
            None => Owner::Here,
        }
    }

    /// The committed state read from the store, for a document another node serves (what its
    /// actor would answer: it only ever holds committed updates beyond what is stored for a
    /// moment before writing them).
    pub(super) async fn stored_state(&self, doc_id: i64) -> Result<Vec<u8>> {
        let stored = self.stores.documents.load_content(doc_id).await?;
        tokio::task::spawn_blocking(move || {
            let doc = yrs::Doc::new();
            let mut txn = doc.transact_mut();
            for bytes in stored.snapshot.iter().chain(stored.updates.iter()) {
                let update = yrs::Update::decode_v1(bytes).map_err(|e| {
                    Error::internal(format_args!("stored update of a document: {e}"))
                })?;
                txn.apply_update(update).map_err(|e| {
                    Error::internal(format_args!("stored update of a document: {e}"))
                })?;
            }
            Ok(txn.encode_state_as_update_v1(&yrs::StateVector::default()))
        })
        .await
        .map_err(Error::internal)?
    }

    /// Tells the other nodes that this document's record or roles changed.
    pub(super) fn announce(&self, doc_id: i64, user_id: Option<i64>) {
        if let Some(leases) = &self.leases {
            leases.changed(doc_id, user_id);
        }
    }
}

/// A directory entry for a record read from the store, with its comments channel. A document
/// the directory holds under another name was renamed elsewhere (the news may still be on its
/// way): its entry takes the new record, as the news would do.
async fn entry(
    chat: &Chat,
    dir: &Docs,
    record: DocRecord,
    grants: Grants,
) -> Result<Option<Arc<DocEntry>>> {
    if let Some(known) = dir.by_id(record.id) {
        refresh(dir, &known, record, grants);
        return Ok(Some(known));
    }
    let comments = chat.channel(&format!("doc#{}", record.id), None).await?;
    let entry = Arc::new(DocEntry {
        id: record.id,
        record: RwLock::new(record),
        grants: RwLock::new(grants.into_iter().collect::<HashMap<_, _>>()),
        comments,
    });
    dir.insert(Arc::clone(&entry));
    Ok(Some(entry))
}

impl RemoteDocs {
    /// Reloads every cached document whose record or roles differ from the store's: news of
    /// changes may have been lost while this node was cut off from the others.
    pub async fn refresh_all(self: Arc<Self>) {
        for entry in self.dir.all() {
            let stored = match self.stores.documents.document_by_id(entry.id).await {
                Ok(stored) => stored,
                Err(err) => {
                    tracing::warn!(%err, "cannot check cached documents against the store");
                    return;
                }
            };
            let changed = match &stored {
                None => true,
                Some((record, grants)) => {
                    let cached = entry.record();
                    let cached_grants = entry.grants.read().map(|g| g.clone()).unwrap_or_default();
                    (
                        &cached.name,
                        &cached.title,
                        cached.default_role,
                        cached.channel_id,
                    ) != (
                        &record.name,
                        &record.title,
                        record.default_role,
                        record.channel_id,
                    ) || cached_grants != grants.iter().copied().collect()
                }
            };
            if changed {
                self.changed(entry.id, None).await;
            }
        }
    }

    /// Another node changed the document (for `user_id`, or for everyone): reloads it.
    pub async fn changed(&self, doc_id: i64, user_id: Option<i64>) {
        let Some(entry) = self.dir.by_id(doc_id) else {
            // Not cached here: the next use reads it from the store.
            return;
        };
        match self.stores.documents.document_by_id(doc_id).await {
            Ok(Some((record, grants))) => {
                refresh(&self.dir, &entry, record, grants);
                self.dir.access_changed(doc_id, user_id);
            }
            Ok(None) => {
                let channel_id = entry.comments.record.id;
                self.dir.remove(doc_id);
                self.chat.directory.forget_channel(channel_id);
                self.chat.hubs.remove(channel_id);
            }
            Err(err) => {
                // Stale until the next change; every write is checked again by the store.
                tracing::warn!(%err, doc_id, "cannot reload a document another node changed");
            }
        }
    }
}

/// Gives a known document its record and grants as stored now (under its new name, if any).
fn refresh(dir: &Docs, entry: &Arc<DocEntry>, record: DocRecord, grants: Grants) {
    let old = entry.record().name;
    if let Ok(mut r) = entry.record.write() {
        *r = record;
    }
    if let Ok(mut g) = entry.grants.write() {
        *g = grants.into_iter().collect();
    }
    dir.rename(entry, &old);
}

//! Applying a batch of commands to an open document: joins and leaves, y-sync messages and
//! awareness, one commit for every update in the batch before anything is sent, and compaction
//! of the update log into a snapshot.

use std::{collections::HashSet, sync::Arc};

use parley_protocol::close_code;
use tokio::sync::oneshot;
use yrs::{
    sync::{Message, SyncMessage},
    ReadTxn, StateVector, Transact,
};

use super::{awareness, encode, log_error, Actor, Command, Conn, Incoming};
use crate::{ratelimit::TokenBucket, ws::ConnControl};

impl Actor {
    /// Handles a batch of commands: applies every update, commits them in one write, and only
    /// then broadcasts them and answers sync requests. Returns true when the document was deleted.
    pub(super) async fn handle_batch(&mut self, batch: Vec<Command>) -> bool {
        // What every client had before this batch: the catch-up point for one that falls
        // behind while the batch's updates go out.
        let before = self.awareness.doc().transact().state_vector();
        // Updates applied but not yet committed, with the connection they came from.
        let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut answers: Vec<(u64, StateVector)> = Vec::new();
        let mut state_requests = Vec::new();
        for command in batch {
            match command {
                Command::Join {
                    conn,
                    user_id,
                    decided,
                    out,
                    can_write,
                    joined,
                } => self.join(conn, (user_id, decided), out, can_write, joined),
                Command::AccessChanged { user_id, issued } => {
                    for conn in self.conns.values() {
                        if user_id.is_none_or(|u| u == conn.user_id) && conn.joined <= issued {
                            conn.control.close_with(
                                close_code::DOC_ACCESS_CHANGED,
                                "access to the document changed",
                            );
                        }
                    }
                }
                Command::Messages { conn_id, messages } => {
                    for message in messages {
                        self.message(conn_id, message, &mut pending, &mut answers);
                    }
                }
                Command::Leave { conn_id } => self.leave(conn_id),
                Command::State { reply } => state_requests.push(reply),
                Command::Deleted => {
                    for conn in self.conns.values() {
                        conn.control
                            .close_with(close_code::DOC_DELETED, "document deleted");
                    }
                    self.conns.clear();
                    return true;
                }
            }
        }
        if self.failed {
            // Nothing of this batch leaves: everyone reconnects against the committed state
            // (their own edits come back with their sync).
            for conn in self.conns.values() {
                conn.control.close_with(1011, "the document is reloading");
            }
            self.conns.clear();
            return false;
        }
        if !pending.is_empty() && !self.commit(&pending).await {
            return false;
        }
        for (origin, bytes) in pending {
            let frame = encode(&Message::Sync(SyncMessage::Update(bytes)));
            for (id, conn) in self.conns.iter_mut() {
                if *id != origin {
                    conn.push_content(frame.clone(), || before.clone());
                }
            }
        }
        let txn = self.awareness.doc().transact();
        for (conn_id, sv) in answers {
            let diff = txn.encode_diff_v1(&sv);
            if let Some(conn) = self.conns.get_mut(&conn_id) {
                conn.push_content(encode(&Message::Sync(SyncMessage::SyncStep2(diff))), || sv);
            }
        }
        if !state_requests.is_empty() {
            let state = txn.encode_state_as_update_v1(&StateVector::default());
            for reply in state_requests {
                let _ = reply.send(state.clone());
            }
        }
        drop(txn);
        if self.any_behind() {
            self.catch_up();
        }
        if self.log_bytes >= self.env.config.compact_after {
            self.compact().await;
        }
        false
    }

    pub(super) fn join(
        &mut self,
        control: Arc<ConnControl>,
        (user_id, decided): (i64, std::time::Instant),
        out: crate::ws::Outbound,
        can_write: bool,
        joined: oneshot::Sender<()>,
    ) {
        let id = control.id;
        let conn = Conn {
            control,
            user_id,
            joined: decided,
            out,
            can_write,
            clients: HashSet::new(),
            awareness_budget: TokenBucket::new(
                self.env.config.awareness_per_second,
                self.env.config.awareness_burst,
            ),
            behind: None,
            metrics: Arc::clone(&self.env.metrics),
        };
        // The server's side of the handshake: its state vector, then who is here (the queue is
        // empty: both fit).
        let sv = self.awareness.doc().transact().state_vector();
        conn.push_ephemeral(encode(&Message::Sync(SyncMessage::SyncStep1(sv))));
        if let Ok(update) = self.awareness.update() {
            if !update.clients.is_empty() {
                conn.push_ephemeral(encode(&Message::Awareness(update)));
            }
        }
        self.conns.insert(id, conn);
        let _ = joined.send(());
    }

    pub(super) fn leave(&mut self, conn_id: u64) {
        let Some(conn) = self.conns.remove(&conn_id) else {
            return;
        };
        if conn.clients.is_empty() {
            return;
        }
        let clients: Vec<yrs::block::ClientID> = conn.clients.into_iter().collect();
        for client in &clients {
            self.owners.remove(client);
            self.awareness.remove_state(*client);
        }
        self.tombstones += clients.len();
        if let Ok(update) = self.awareness.update_with_clients(clients) {
            self.broadcast_ephemeral(&encode(&Message::Awareness(update)));
        }
        if self.tombstones > awareness::MAX_TOMBSTONES {
            self.drop_tombstones();
        }
    }

    pub(super) fn message(
        &mut self,
        conn_id: u64,
        message: Incoming,
        pending: &mut Vec<(u64, Vec<u8>)>,
        answers: &mut Vec<(u64, StateVector)>,
    ) {
        let Some(conn) = self.conns.get(&conn_id) else {
            return;
        };
        // Closed (bad frame, size limit, access changed): nothing more from it counts.
        if conn.control.closing.is_cancelled() {
            return;
        }
        match message {
            Incoming::SyncStep1(sv) => answers.push((conn_id, sv)),
            Incoming::Update(update, bytes) => {
                if update.is_empty() {
                    return;
                }
                if !conn.can_write {
                    // The standard answer: y-websocket clients log the reason.
                    conn.push_ephemeral(encode(&Message::Auth(Some(
                        "read-only: your role does not allow editing this document".into(),
                    ))));
                    return;
                }
                let len = bytes.len() as u64;
                if self.size.saturating_add(len) > self.env.config.max_document_size {
                    conn.control.close_with(
                        close_code::DOC_TOO_LARGE,
                        "the document is at max_document_size",
                    );
                    return;
                }
                let doc = self.awareness.doc();
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    doc.transact_mut().apply_update(update)
                }));
                match applied {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        tracing::debug!(doc_id = self.doc_id, %err, "update refused");
                        conn.control
                            .close_with(close_code::DOC_INVALID_FRAME, "update cannot be applied");
                        return;
                    }
                    Err(_) => {
                        // The document may be half-changed: start over from what is committed.
                        tracing::error!(doc_id = self.doc_id, "applying an update panicked");
                        conn.control
                            .close_with(close_code::DOC_INVALID_FRAME, "update cannot be applied");
                        self.failed = true;
                        return;
                    }
                }
                self.size += len;
                pending.push((conn_id, bytes));
            }
            Incoming::Awareness(update, raw) => self.awareness_update(conn_id, update, raw),
            Incoming::AwarenessQuery => {
                // A query costs one full awareness frame: it takes from the same budget.
                let Some(conn) = self.conns.get_mut(&conn_id) else {
                    return;
                };
                if conn.awareness_allowed() {
                    if let Ok(update) = self.awareness.update() {
                        conn.push_ephemeral(encode(&Message::Awareness(update)));
                    }
                }
            }
        }
    }

    /// Appends the batch's updates to the log and waits for the commit. On failure the actor
    /// closes everyone (they reconnect and resync against the committed state).
    pub(super) async fn commit(&mut self, pending: &[(u64, Vec<u8>)]) -> bool {
        let doc_id = self.doc_id;
        let updates: Vec<Vec<u8>> = pending.iter().map(|(_, b)| b.clone()).collect();
        let bytes: u64 = updates.iter().map(|u| u.len() as u64).sum();
        let result = self
            .env
            .store
            .append_updates(doc_id, self.claim, updates)
            .await;
        match result {
            Ok(None) => {
                // Another node claimed the document: nothing of this batch was written, and
                // its clients send it again to the new owner when they reconnect.
                self.moved();
                self.failed = true;
                false
            }
            Ok(Some(last)) => {
                self.last_update = last;
                self.log_bytes += bytes;
                self.dirty = true;
                true
            }
            Err(err) => {
                log_error(doc_id, "cannot store document updates", &err);
                for conn in self.conns.values() {
                    conn.control.close_with(1011, "storage failed");
                }
                self.conns.clear();
                self.failed = true;
                false
            }
        }
    }

    /// Folds the log into a snapshot (the full state), in one transaction.
    pub(super) async fn compact(&mut self) {
        if !self.dirty {
            return;
        }
        let state = self
            .awareness
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let (doc_id, through) = (self.doc_id, self.last_update);
        let size = state.len() as u64;
        let result = self
            .env
            .store
            .compact(doc_id, self.claim, state, through)
            .await;
        match result {
            // Another node writes the document now; it compacts its own log.
            Ok(false) => self.dirty = false,
            Ok(true) => {
                self.size = size;
                self.log_bytes = 0;
                self.dirty = false;
            }
            // The log still holds everything; compaction is tried again later.
            Err(err) => log_error(doc_id, "cannot compact document", &err),
        }
    }
}

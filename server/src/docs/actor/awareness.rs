//! The actor's awareness rules (see the actor's module comment): who owns an awareness client
//! id, how many one connection may announce, its rate, what is relayed, and forgetting removed
//! states.

use std::collections::HashMap;

use parley_protocol::close_code;
use yrs::sync::{awareness::AwarenessUpdate, Awareness, Message};

use super::{encode, Actor};
use crate::ws::Frame;

/// yrs keeps a removed awareness state's clock forever; past this many the actor rebuilds its
/// awareness from the live states, so connections that come and go with fresh client ids cannot
/// grow an open document's memory without bound.
pub(super) const MAX_TOMBSTONES: usize = 1024;

impl Actor {
    /// Rebuilds the awareness from its live states, forgetting the clocks of removed ones. A
    /// client id removed long ago may then be announced again at any clock, which is what a
    /// client that comes back does anyway.
    pub(super) fn drop_tombstones(&mut self) {
        let mut fresh = Awareness::new(self.awareness.doc().clone());
        if let Ok(live) = self.awareness.update() {
            if let Err(err) = fresh.apply_update(live) {
                tracing::warn!(doc_id = self.doc_id, %err, "awareness rebuild failed");
                return;
            }
        }
        self.awareness = fresh;
        self.tombstones = 0;
    }

    /// An awareness update from a connection: applied and relayed only for the client ids the
    /// connection owns (or announces now, within its limit), and only within its rate.
    pub(super) fn awareness_update(&mut self, conn_id: u64, update: AwarenessUpdate, raw: Vec<u8>) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        let total = update.clients.len();
        let mut kept = HashMap::with_capacity(total);
        let mut claims = Vec::new();
        for (client, entry) in update.clients {
            match self.owners.get(&client) {
                Some(owner) if *owner == conn_id => {
                    kept.insert(client, entry);
                }
                // Another connection's client: an echo of what it heard, or a forgery.
                Some(_) => {}
                // Nobody announces it: a removal has nothing to remove.
                None if &*entry.json == "null" => {}
                None => {
                    claims.push(client);
                    kept.insert(client, entry);
                }
            }
        }
        let max = self.env.config.max_awareness_clients;
        if conn.clients.len() + claims.len() > max {
            conn.control.close_with(
                close_code::DOC_INVALID_FRAME,
                "too many awareness clients on one connection",
            );
            return;
        }
        if kept.is_empty() || !conn.awareness_allowed() {
            return;
        }
        let relay = if kept.len() == total {
            Frame::binary(raw)
        } else {
            encode(&Message::Awareness(AwarenessUpdate {
                clients: kept.clone(),
            }))
        };
        for client in claims {
            conn.clients.insert(client);
            self.owners.insert(client, conn_id);
        }
        match self
            .awareness
            .apply_update_summary(AwarenessUpdate { clients: kept })
        {
            // To everyone, the sender too: y-websocket clients close a connection that hears
            // nothing for 30 s, and their own awareness renewal (every 15 s) coming back is
            // what keeps a lone editor's connection open.
            Ok(Some(_)) => self.broadcast_ephemeral(&relay),
            // Nothing newer than what everyone already heard.
            Ok(None) => {}
            Err(_) => conn
                .control
                .close_with(close_code::DOC_INVALID_FRAME, "invalid awareness update"),
        }
    }
}

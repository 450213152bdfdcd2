//! Seq order across nodes. On one node the store publishes every channel's events in seq order,
//! and the hub delivers them as they come. With several nodes (docs/scaling.md), a hub also gets
//! the events other nodes committed, over Redis pub/sub: they can arrive after a later event
//! committed here, or not at all (pub/sub is at most once). Every published seq implies every
//! lower one is committed (a seq is taken under the channel's row lock, held to the commit), so
//! a hub that sees a gap holds what came after it and asks the store for the missing events
//! (`HubConfig::gap_filler`), then delivers in order: every subscriber sees every seq once, in
//! order, whichever node committed it.
//!
//! Bounded: at most `catchup_limit` events wait behind a gap; past that, or when the store
//! cannot fill it, every subscriber is closed with `RESYNC` and resumes from its own last seq
//! through the store, which loses nothing.

use std::{collections::BTreeMap, sync::Arc};

use parley_protocol::close_code;
use tokio::sync::mpsc;

use super::{Hub, HubCmd};
use crate::store::Published;

/// Asks for the events of a gap; answers later with [`HubCmd::Filled`] on `hub`.
pub type GapFiller = Arc<dyn Fn(GapRequest) + Send + Sync>;

/// Events `after < seq <= until` of a channel, wanted by the hub behind `hub`.
pub struct GapRequest {
    pub channel_id: i64,
    pub after: u64,
    pub until: u64,
    pub hub: mpsc::WeakSender<HubCmd>,
}

/// What a hub holds while it waits for a gap to be filled.
#[derive(Default)]
pub(super) struct Gaps {
    pending: BTreeMap<u64, Published>,
    filling: bool,
    /// The newest seq known to be committed (a published seq, or the store's head at a sync).
    known: u64,
}

impl Hub {
    /// A published event, from this node's store or another node's: delivered in seq order.
    pub(super) fn accept(&mut self, event: Published) {
        if self.config.gap_filler.get().is_none() {
            return self.publish(event);
        }
        if event.seq <= self.head {
            return;
        }
        self.gaps.known = self.gaps.known.max(event.seq);
        if event.seq == self.head + 1 {
            self.publish(event);
            self.drain_pending();
        } else {
            self.gaps.pending.insert(event.seq, event);
            if self.gaps.pending.len() > self.config.catchup_limit {
                return self.resync_all("fell behind the channel");
            }
        }
        self.fill_next();
    }

    /// The store's head, after this node lost touch with the others (Redis reconnected): events
    /// up to it may have been missed.
    pub(super) fn sync(&mut self, stored_head: u64) {
        if self.config.gap_filler.get().is_none() || stored_head <= self.head {
            return;
        }
        self.gaps.known = self.gaps.known.max(stored_head);
        self.fill_next();
    }

    /// The events of a gap, read from the store (`None`: the read failed).
    pub(super) fn filled(&mut self, events: Option<Vec<Published>>, through: u64) {
        self.gaps.filling = false;
        let Some(events) = events else {
            return self.resync_all("could not read the channel's history");
        };
        for event in events {
            if event.seq == self.head + 1 {
                self.publish(event);
            }
        }
        if self.head < through {
            // Removed by retention meanwhile: subscribers cannot be given them in order.
            return self.resync_all("history was pruned");
        }
        self.drain_pending();
        self.fill_next();
    }

    fn drain_pending(&mut self) {
        while let Some(entry) = self.gaps.pending.first_entry() {
            let seq = *entry.key();
            if seq <= self.head {
                entry.remove();
            } else if seq == self.head + 1 {
                let event = entry.remove();
                self.publish(event);
            } else {
                break;
            }
        }
    }

    /// Asks for the next missing run of events, unless a request is out already.
    fn fill_next(&mut self) {
        if self.gaps.filling {
            return;
        }
        let until = match self.gaps.pending.keys().next() {
            Some(first) => first - 1,
            None => self.gaps.known,
        };
        if until <= self.head {
            return;
        }
        let Some(filler) = self.config.gap_filler.get() else {
            return;
        };
        self.gaps.filling = true;
        filler(GapRequest {
            channel_id: self.channel_id,
            after: self.head,
            until,
            hub: self.me.clone(),
        });
    }

    /// Gives up on ordering what is missing: every subscriber resumes from its own last seq
    /// through the store; the hub continues after everything known.
    fn resync_all(&mut self, reason: &'static str) {
        let ids: Vec<u64> = self.subs.keys().copied().collect();
        for id in ids {
            if let Some(sub) = self.subs.get(&id) {
                sub.control.close_with(close_code::RESYNC, reason);
            }
            self.doomed.push(id);
        }
        let newest = self.gaps.pending.keys().next_back().copied().unwrap_or(0);
        self.head = self.head.max(newest).max(self.gaps.known);
        self.gaps.pending.clear();
        tracing::warn!(channel = %self.channel, reason, "subscribers resync");
    }
}

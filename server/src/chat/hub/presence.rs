//! Presence and typing in one channel's hub: who is here (per user, across their sessions),
//! status changes, typing indicators and their expiry, and timing out silent sessions.

use std::collections::HashSet;

use parley_protocol::{close_code, Event, PresenceEntry, PresenceState, UserRef};
use tokio::time::Instant;

use super::{Hub, Present, Typing};

impl Hub {
    pub(super) fn add_presence(&mut self, conn_id: u64, user: UserRef) {
        let entry = self.present.entry(user.id).or_insert_with(|| Present {
            user: user.clone(),
            sessions: HashSet::new(),
            status: "online".into(),
            text: None,
        });
        let first = entry.sessions.is_empty();
        entry.sessions.insert(conn_id);
        if first {
            let event = Event::Presence {
                state: PresenceState::Joined,
                user,
                status: entry.status.clone(),
                status_text: entry.text.clone(),
            };
            self.announce_presence(event, Some(conn_id));
        }
    }
    /// Who is here: this node's sessions and, with several nodes, the others' (a user present
    /// through several nodes once, their sessions added up).
    pub(super) fn presence_snapshot(&self) -> Vec<PresenceEntry> {
        let mut by_user: std::collections::HashMap<i64, PresenceEntry> = self
            .present
            .values()
            .map(|p| {
                let entry = PresenceEntry {
                    user: p.user.clone(),
                    status: p.status.clone(),
                    status_text: p.text.clone(),
                    sessions: p.sessions.len() as u32,
                };
                (p.user.id, entry)
            })
            .collect();
        for (user_id, nodes) in &self.remote_present {
            for remote in nodes.values() {
                by_user
                    .entry(*user_id)
                    .and_modify(|e| e.sessions += remote.sessions)
                    .or_insert_with(|| remote.clone());
            }
        }
        let mut entries: Vec<PresenceEntry> = by_user.into_values().collect();
        entries.sort_by(|a, b| a.user.name.cmp(&b.user.name));
        entries
    }

    pub(super) fn typing(&mut self, conn_id: u64) {
        let Some(user) = self.subs.get(&conn_id).and_then(|s| s.user.clone()) else {
            return;
        };
        let now = Instant::now();
        let ttl = self.config.typing_ttl;
        if let Some(state) = self.typing.get_mut(&user.id) {
            state.expires = now + ttl;
            if now.duration_since(state.last_broadcast) < self.config.typing_interval {
                return; // Rate limited: renewed silently.
            }
            state.last_broadcast = now;
        } else {
            self.typing.insert(
                user.id,
                Typing {
                    expires: now + ttl,
                    last_broadcast: now,
                    user: UserRef::clone(&user),
                },
            );
        }
        let event = Event::Typing {
            user: UserRef::clone(&user),
            typing: true,
            expires_in_ms: ttl.as_millis() as u64,
        };
        self.broadcast_ephemeral(event, Some(conn_id));
    }

    pub(super) fn next_typing_expiry(&self) -> Option<Instant> {
        self.typing.values().map(|t| t.expires).min()
    }

    pub(super) fn expire_typing(&mut self, now: Instant) {
        let expired: Vec<i64> = self
            .typing
            .iter()
            .filter(|(_, t)| t.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(state) = self.typing.remove(&id) {
                let event = Event::Typing {
                    user: state.user,
                    typing: false,
                    expires_in_ms: 0,
                };
                self.broadcast_ephemeral(event, None);
            }
        }
    }

    /// Sessions silent for longer than `presence_timeout` are dropped and their connections
    /// closed (a live connection answers pings well within that time).
    pub(super) fn sweep_idle_sessions(&mut self) {
        let limit = self.config.presence_timeout.as_millis() as i64;
        let now = crate::store::now_ms();
        let idle: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.user.is_some() && now - s.control.last_active() > limit)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            if let Some(sub) = self.subs.get(&id) {
                sub.control
                    .close_with(close_code::PONG_TIMEOUT, "presence timeout");
            }
            self.remove_sub(id);
        }
    }
}

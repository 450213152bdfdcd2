//! Ephemeral events (typing, presence, custom events published without `durable`): delivered to
//! this hub's subscribers and, with several nodes (docs/scaling.md), handed to the relay, which
//! sends them to the other nodes over Redis pub/sub; what the other nodes send arrives as
//! [`HubCmd::Remote`](super::HubCmd) and is delivered here as it was there.
//!
//! Presence is per user across nodes: each node keeps who is present through the others
//! (`remote_present`, by user and node), learned from their presence events, from their answers
//! when a hub starts (`EphemeralRelay::hub_started`: every node with that channel announces its
//! present users), and forgotten when a node falls silent (`HubCmd::NodeGone`). Subscribers see
//! a user join when they become present on the first node and leave when they are present on
//! none; the snapshot at subscribe time counts every node's sessions. Webhooks hear of presence
//! changes on the node where they happened (a node's departure is not a webhook event).

use parley_protocol::{Event, EventFrame, PresenceEntry, PresenceState, ServerFrame};

use super::{Hub, Offer};
use crate::ws::Frame;

/// A presence frame's kind. Every quote inside a JSON string value is escaped, so this can
/// only be the event's own kind.
const PRESENCE: &str = r#""kind":"presence""#;

/// Where a hub's ephemeral events go beyond this node (set with several nodes).
pub trait EphemeralRelay: Send + Sync {
    /// An ephemeral event this node's subscribers caused, as the frame they got. Never waits.
    fn ephemeral(&self, channel_id: i64, frame: &str);
    /// A hub started on this node: the others are asked who is present in its channel.
    fn hub_started(&self, channel_id: i64);
}

impl Hub {
    /// Delivers an ephemeral event caused here to every subscriber (but `except_conn`), and to
    /// the other nodes.
    pub(super) fn broadcast_ephemeral(&mut self, event: Event, except_conn: Option<u64>) {
        let Some(text) = self.ephemeral_text(event) else {
            return;
        };
        if text.contains(PRESENCE) {
            if let Some(tap) = self.config.presence_tap.get() {
                tap(&self.channel, text.clone());
            }
        }
        if let Some(relay) = self.config.relay.get() {
            relay.ephemeral(self.channel_id, &text);
        }
        self.deliver_ephemeral(text, except_conn);
    }

    /// A presence join or leave caused here: always told to the other nodes, but delivered only
    /// when it changes whether the user is present at all (a join while present through
    /// another node, or a leave while still present through one, changes nothing for
    /// subscribers).
    pub(super) fn announce_presence(&mut self, event: Event, except_conn: Option<u64>) {
        let user_id = match &event {
            Event::Presence { user, .. } => user.id,
            _ => return self.broadcast_ephemeral(event, except_conn),
        };
        if !self.present_remotely(user_id) {
            return self.broadcast_ephemeral(event, except_conn);
        }
        if let (Some(relay), Some(text)) = (self.config.relay.get(), self.ephemeral_text(event)) {
            relay.ephemeral(self.channel_id, &text);
        }
    }

    /// An ephemeral event from another node.
    pub(super) fn remote_ephemeral(&mut self, node: u64, text: &str) {
        let Ok(ServerFrame::Event(frame)) = serde_json::from_str::<ServerFrame>(text) else {
            return;
        };
        if let Event::Presence {
            state,
            user,
            status,
            status_text,
        } = frame.event
        {
            let was_present = self.present_anywhere(user.id);
            let user_id = user.id;
            match state {
                PresenceState::Left => {
                    if let Some(nodes) = self.remote_present.get_mut(&user_id) {
                        nodes.remove(&node);
                        if nodes.is_empty() {
                            self.remote_present.remove(&user_id);
                        }
                    }
                }
                PresenceState::Joined | PresenceState::Status => {
                    let nodes = self.remote_present.entry(user_id).or_default();
                    let entry = nodes.entry(node).or_insert(PresenceEntry {
                        user: user.clone(),
                        status: status.clone(),
                        status_text: status_text.clone(),
                        sessions: 1,
                    });
                    entry.status = status;
                    entry.status_text = status_text;
                }
            }
            let now_present = self.present_anywhere(user_id);
            let changes = match state {
                PresenceState::Joined => !was_present,
                PresenceState::Left => !now_present,
                PresenceState::Status => true,
            };
            if changes {
                self.deliver_ephemeral(text.to_owned(), None);
            }
            return;
        }
        self.deliver_ephemeral(text.to_owned(), None);
    }

    /// Another node is gone: the users present only through it leave.
    pub(super) fn node_gone(&mut self, node: u64) {
        let mut gone: Vec<(i64, PresenceEntry)> = Vec::new();
        self.remote_present.retain(|user_id, nodes| {
            if let Some(entry) = nodes.remove(&node) {
                gone.push((*user_id, entry));
            }
            !nodes.is_empty()
        });
        for (user_id, entry) in gone {
            if self.present_anywhere(user_id) {
                continue;
            }
            let event = Event::Presence {
                state: PresenceState::Left,
                user: entry.user,
                status: entry.status,
                status_text: None,
            };
            if let Some(text) = self.ephemeral_text(event) {
                self.deliver_ephemeral(text, None);
            }
        }
    }

    /// Tells the other nodes every user present here (one of them started a hub for this
    /// channel and needs to know).
    pub(super) fn announce_all_presence(&mut self) {
        let Some(relay) = self.config.relay.get().cloned() else {
            return;
        };
        let joined: Vec<Event> = self
            .present
            .values()
            .map(|p| Event::Presence {
                state: PresenceState::Joined,
                user: p.user.clone(),
                status: p.status.clone(),
                status_text: p.text.clone(),
            })
            .collect();
        for event in joined {
            if let Some(text) = self.ephemeral_text(event) {
                relay.ephemeral(self.channel_id, &text);
            }
        }
    }

    fn present_remotely(&self, user_id: i64) -> bool {
        self.remote_present.contains_key(&user_id)
    }

    fn present_anywhere(&self, user_id: i64) -> bool {
        self.present.contains_key(&user_id) || self.present_remotely(user_id)
    }

    fn ephemeral_text(&self, event: Event) -> Option<String> {
        serde_json::to_string(&ServerFrame::Event(EventFrame {
            channel: self.channel.clone(),
            seq: None,
            event,
        }))
        .ok()
    }

    fn deliver_ephemeral(&mut self, text: String, except_conn: Option<u64>) {
        let frame = Frame::from(text);
        let limit = self.config.catchup_limit;
        let mut gone = Vec::new();
        let (mut delivered, mut shed) = (0, 0);
        for (id, sub) in &mut self.subs {
            if Some(*id) == except_conn {
                continue;
            }
            match Self::offer(sub, frame.clone(), false, limit) {
                Offer::Queued => delivered += 1,
                Offer::Shed => shed += 1,
                Offer::Gone => gone.push(*id),
            }
        }
        if delivered > 0 {
            self.metrics.deliveries_ephemeral.inc_by(delivered);
        }
        if shed > 0 {
            self.metrics.dropped_chat.inc_by(shed);
        }
        // Not removed here: removing broadcasts (left, typing stopped), which can overflow
        // more queues; `reap` works through them in a loop instead of recursing.
        self.doomed.extend(gone);
    }
}

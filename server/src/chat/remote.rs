//! Events other nodes committed (docs/scaling.md) that change what this node keeps in memory:
//! a channel's record and members are cached in the directory, so a join, a leave or a topic
//! change made through another node reloads the channel from the store, and a leave of a
//! private channel ends the user's subscriptions here too, as it does on the node that made it.
//! Everything else in those events reaches subscribers through the hubs as usual.

use parley_protocol::{ChannelType, Event, ServerFrame};

use super::{hub::HubCmd, Chat};
use crate::store::{ChannelWithMembers, Published};

/// The kinds that change a channel's cached record or members. A frame is JSON in which every
/// quote inside a string value is escaped, so `"kind":"…"` can only be the event's own kind.
const MEMBERSHIP_KINDS: [&str; 3] = [
    r#""kind":"member_joined""#,
    r#""kind":"member_left""#,
    r#""kind":"channel_updated""#,
];

impl Chat {
    /// Called for every event another node committed, before the hubs deliver it.
    pub async fn apply_remote(&self, event: &Published) {
        if !MEMBERSHIP_KINDS.iter().any(|k| event.frame.contains(k)) {
            return;
        }
        if self.directory.by_id(event.channel_id).is_none() {
            // Not cached here: the next use loads it from the store.
            return;
        }
        match self.stores.channels.channel_by_id(event.channel_id).await {
            Ok(Some(ChannelWithMembers { record, members })) => {
                self.directory.insert(record, members);
            }
            Ok(None) => self.directory.forget(event.channel_id),
            Err(err) => {
                // Stale until the next membership event; access is checked again by the
                // node that writes.
                tracing::warn!(%err, channel = event.channel_id, "cannot reload a channel");
            }
        }
        let Ok(ServerFrame::Event(frame)) = serde_json::from_str::<ServerFrame>(&event.frame)
        else {
            return;
        };
        let Event::MemberLeft { user } = frame.event else {
            return;
        };
        let private = self
            .directory
            .by_id(event.channel_id)
            .is_some_and(|c| c.record.kind == ChannelType::Private);
        if private {
            let threads = self
                .directory
                .all()
                .into_iter()
                .filter(|c| c.is_thread() && c.record.parent_id == Some(event.channel_id))
                .map(|c| c.record.id);
            for id in std::iter::once(event.channel_id).chain(threads) {
                if let Some(hub) = self.hubs.existing(id) {
                    let _ = hub.send(HubCmd::RemoveUser { user_id: user.id }).await;
                }
            }
        }
        for listener in &self.listeners {
            listener.member_left(event.channel_id, user.id);
        }
    }
}

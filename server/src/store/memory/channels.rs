//! Channels, members and the durable log, in memory.

use std::collections::HashSet;

use parley_protocol::{Authentication, ChannelType, Event, PublishPolicy, UserRef};

use super::{
    state::{ChannelRow, EventRow, State, Table},
    MemoryStore,
};
use crate::store::refusals;
use crate::{
    error::Result,
    store::{
        limits, now_ms, ChannelDirectory, ChannelRecord, ChannelStore, ChannelWithMembers,
        CreateChannel, CustomEvent, CustomStored, EnsureChannel, EventStore, Join, LogPosition,
        MemberRole, Membership, NewChannel, NewEvent, StoreFuture, StoredEvent,
    },
};

/// A fresh random epoch.
fn new_epoch() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode(bytes)
}

/// A channel with the defaults the schema gives: threads' and comments' channels are public,
/// require sign-in, and have no settings of their own.
pub(super) fn plain_channel(id: i64, name: String) -> ChannelRecord {
    ChannelRecord {
        id,
        name,
        kind: ChannelType::Public,
        authentication: Authentication::Required,
        presence: false,
        message_history: None,
        message_retention_secs: None,
        user_specific: false,
        auto_subscribe: false,
        max_participants: None,
        topic: None,
        owner_id: None,
        template_id: None,
        epoch: new_epoch(),
        head_seq: 0,
        pruned_through: 0,
        doc_id: None,
        parent_id: None,
        thread_root: None,
        publish: PublishPolicy::Members,
    }
}

impl State {
    /// Creates a channel; `channel_exists` if the name is taken.
    pub(super) fn insert_channel(
        &mut self,
        new: &NewChannel,
        created_by: Option<i64>,
        owner: Option<(i64, i64)>,
    ) -> Result<ChannelRecord> {
        if self.channel_named(&new.name).is_some() {
            return Err(refusals::channel_exists(&new.name));
        }
        let id = self.next_id(Table::Channel);
        let mut record = plain_channel(id, new.name.clone());
        apply_settings(&mut record, new);
        record.owner_id = owner.map(|(user, _)| user);
        record.template_id = owner.map(|(_, template)| template);
        Ok(self.add_channel(record, created_by))
    }

    pub(super) fn add_channel(
        &mut self,
        record: ChannelRecord,
        created_by: Option<i64>,
    ) -> ChannelRecord {
        let row = ChannelRow {
            record: record.clone(),
            created_by,
        };
        self.channels.insert(record.id, row);
        record
    }

    /// Channels the user created and still has (see `limits`).
    fn channels_created(&self, user_id: i64, dm: bool) -> u64 {
        self.channels
            .values()
            .filter(|c| {
                let r = &c.record;
                c.created_by == Some(user_id)
                    && r.doc_id.is_none()
                    && r.thread_root.is_none()
                    && r.template_id.is_none()
                    && !r.user_specific
                    && limits::is_dm(&r.name) == dm
            })
            .count() as u64
    }

    fn members_of(&self, channel_id: i64) -> Vec<(i64, MemberRole)> {
        self.members
            .range((channel_id, i64::MIN)..=(channel_id, i64::MAX))
            .map(|((_, user), role)| (*user, *role))
            .collect()
    }

    fn prune(&mut self, channel_id: i64, cutoff: Option<i64>, keep: Option<u64>) -> Option<u64> {
        let log = || {
            self.events
                .range((channel_id, 0)..=(channel_id, u64::MAX))
                .map(|((_, seq), row)| (*seq, row))
        };
        let by_age = cutoff.and_then(|cutoff| {
            log()
                .filter(|(_, row)| row.created_at < cutoff)
                .map(|(seq, _)| seq)
                .max()
        });
        let by_count = keep
            .filter(|k| *k > 0)
            .and_then(|keep| log().map(|(seq, _)| seq).rev().nth(keep as usize));
        let through = by_age.max(by_count)?;
        self.events
            .retain(|(c, seq), _| *c != channel_id || *seq > through);
        self.published
            .retain(|_, (c, seq)| *c != channel_id || *seq > through);
        let gone: HashSet<i64> = self
            .message_at
            .range((channel_id, 0)..=(channel_id, through))
            .map(|(_, id)| *id)
            .collect();
        self.remove_messages(&gone);
        if let Some(channel) = self.channels.get_mut(&channel_id) {
            channel.record.pruned_through = channel.record.pruned_through.max(through);
        }
        Some(through)
    }
}

/// Applies configured settings (the topic only when one is given).
fn apply_settings(record: &mut ChannelRecord, new: &NewChannel) {
    record.kind = new.kind;
    record.authentication = new.authentication;
    record.presence = new.presence;
    record.message_history = new.message_history;
    record.message_retention_secs = new.message_retention_secs;
    record.user_specific = new.user_specific;
    record.auto_subscribe = new.auto_subscribe;
    record.max_participants = new.max_participants;
    record.publish = new.publish;
    if new.topic.is_some() {
        record.topic.clone_from(&new.topic);
    }
}

impl EventStore for MemoryStore {
    fn append_event(&self, new: NewEvent) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |state| {
            let published = state.append_event(
                new.channel_id,
                &new.channel_name,
                new.event,
                now_ms(),
                new.author_id,
            )?;
            Ok((published.seq, vec![published]))
        }))
    }

    fn append_custom(&self, new: CustomEvent) -> StoreFuture<'_, CustomStored> {
        Box::pin(self.write(move |state| {
            let key = new.client_id.map(|id| (new.publisher_id, id));
            if let Some(seq) = key.as_ref().and_then(|k| state.published.get(k)) {
                let stored = CustomStored {
                    seq: seq.1,
                    duplicate: true,
                };
                return Ok((stored, Vec::new()));
            }
            let published =
                state.append_event(new.channel_id, &new.channel_name, new.event, now_ms(), None)?;
            if let Some(key) = key {
                state.published.insert(key, (new.channel_id, published.seq));
            }
            let stored = CustomStored {
                seq: published.seq,
                duplicate: false,
            };
            Ok((stored, vec![published]))
        }))
    }

    fn log_position(&self, channel_id: i64) -> StoreFuture<'_, LogPosition> {
        let found = self.read(|state| {
            let channel = state.channel(channel_id)?;
            Ok(LogPosition {
                head: channel.head_seq,
                pruned_through: channel.pruned_through,
            })
        });
        Box::pin(async move { found })
    }

    fn events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>> {
        let found = self.read(|state| {
            if after >= until {
                return Ok(Vec::new());
            }
            Ok(state
                .events
                .range((channel_id, after + 1)..=(channel_id, until))
                .take(limit as usize)
                .map(|((_, seq), EventRow { frame, .. })| StoredEvent {
                    seq: *seq,
                    frame: frame.clone(),
                })
                .collect())
        });
        Box::pin(async move { found })
    }

    fn count_events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
    ) -> StoreFuture<'_, u64> {
        let found = self.read(|state| {
            if after >= until {
                return Ok(0);
            }
            Ok(state
                .events
                .range((channel_id, after + 1)..=(channel_id, until))
                .count() as u64)
        });
        Box::pin(async move { found })
    }

    fn prune(
        &self,
        channel_id: i64,
        cutoff_ms: Option<i64>,
        keep: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>> {
        Box::pin(
            self.write(move |state| Ok((state.prune(channel_id, cutoff_ms, keep), Vec::new()))),
        )
    }
}

impl ChannelStore for MemoryStore {
    fn load_directory(&self) -> StoreFuture<'_, ChannelDirectory> {
        let found = self.read(|state| {
            let mut channels: Vec<ChannelRecord> =
                state.channels.values().map(|c| c.record.clone()).collect();
            channels.sort_by(|a, b| a.name.cmp(&b.name));
            let members = state
                .members
                .iter()
                .map(|((channel_id, user_id), role)| Membership {
                    channel_id: *channel_id,
                    user_id: *user_id,
                    role: *role,
                })
                .collect();
            Ok(ChannelDirectory { channels, members })
        });
        Box::pin(async move { found })
    }

    fn channel_by_name(&self, name: String) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        let found = self.read(|state| {
            Ok(state.channel_named(&name).map(|record| ChannelWithMembers {
                members: state.members_of(record.id),
                record: record.clone(),
            }))
        });
        Box::pin(async move { found })
    }

    fn channel_by_id(&self, channel_id: i64) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        let found = self.read(|state| {
            Ok(state.channels.get(&channel_id).map(|c| ChannelWithMembers {
                members: state.members_of(channel_id),
                record: c.record.clone(),
            }))
        });
        Box::pin(async move { found })
    }

    fn member_role(&self, channel_id: i64, user_id: i64) -> StoreFuture<'_, Option<MemberRole>> {
        let found = self.read(|state| Ok(state.members.get(&(channel_id, user_id)).copied()));
        Box::pin(async move { found })
    }

    fn memberships_of(&self, user_id: i64) -> StoreFuture<'_, Vec<Membership>> {
        let found = self.read(|state| {
            Ok(state
                .members
                .iter()
                .filter(|((_, user), _)| *user == user_id)
                .map(|((channel_id, _), role)| Membership {
                    channel_id: *channel_id,
                    user_id,
                    role: *role,
                })
                .collect())
        });
        Box::pin(async move { found })
    }

    fn channel_names(&self) -> StoreFuture<'_, Vec<String>> {
        let found = self.read(|state| {
            Ok(state
                .channels
                .values()
                .filter(|c| c.record.template_id.is_none())
                .map(|c| c.record.name.clone())
                .collect())
        });
        Box::pin(async move { found })
    }

    fn create_channel(&self, create: CreateChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |state| {
            let CreateChannel {
                channel,
                creator,
                read_receipts,
                limit,
            } = create;
            if let Some(max) = limit {
                let dm = limits::is_dm(&channel.name);
                let (key, what) = limits::channel_limit(dm);
                limits::check(key, what, state.channels_created(creator.id, dm), 1, max)?;
            }
            let mut record = state.insert_channel(&channel, Some(creator.id), None)?;
            state
                .members
                .insert((record.id, creator.id), MemberRole::Admin);
            if read_receipts {
                state.read_receipts.insert(record.id);
            }
            let event = state.append_event(
                record.id,
                &record.name,
                Event::MemberJoined { user: creator },
                now_ms(),
                None,
            )?;
            record.head_seq = event.seq;
            Ok((record, vec![event]))
        }))
    }

    fn ensure_channel(&self, ensure: EnsureChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |state| {
            if let Some(existing) = state.channel_named(&ensure.channel.name) {
                return Ok((existing.clone(), Vec::new()));
            }
            let record = state.insert_channel(&ensure.channel, ensure.created_by, ensure.owner)?;
            Ok((record, Vec::new()))
        }))
    }

    fn configure_channel(&self, channel: NewChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |state| {
            let Some(id) = state.channel_named(&channel.name).map(|c| c.id) else {
                return Ok((state.insert_channel(&channel, None, None)?, Vec::new()));
            };
            for row in state.channels.values_mut() {
                let record = &mut row.record;
                if record.id == id {
                    apply_settings(record, &channel);
                } else if record.template_id == Some(id) {
                    record.presence = channel.presence;
                    record.message_history = channel.message_history;
                    record.message_retention_secs = channel.message_retention_secs;
                    record.auto_subscribe = channel.auto_subscribe;
                    record.publish = channel.publish;
                    if channel.topic.is_some() {
                        record.topic.clone_from(&channel.topic);
                    }
                }
            }
            Ok((state.channel(id)?.clone(), Vec::new()))
        }))
    }

    fn add_member(&self, join: Join) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            let Join {
                channel_id,
                channel_name,
                user,
                max_participants,
            } = join;
            state.channel(channel_id)?;
            if let Some(max) = max_participants {
                if state.members_of(channel_id).len() as u64 >= u64::from(max) {
                    return Err(refusals::channel_full(&channel_name, max));
                }
            }
            if state.members.contains_key(&(channel_id, user.id)) {
                return Ok((false, Vec::new()));
            }
            state
                .members
                .insert((channel_id, user.id), MemberRole::Member);
            let event = state.append_event(
                channel_id,
                &channel_name,
                Event::MemberJoined { user },
                now_ms(),
                None,
            )?;
            Ok((true, vec![event]))
        }))
    }

    fn remove_member(
        &self,
        channel_id: i64,
        channel_name: String,
        user: UserRef,
    ) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            if state.members.remove(&(channel_id, user.id)).is_none() {
                return Ok((false, Vec::new()));
            }
            let event = state.append_event(
                channel_id,
                &channel_name,
                Event::MemberLeft { user },
                now_ms(),
                None,
            )?;
            Ok((true, vec![event]))
        }))
    }

    fn set_topic(
        &self,
        channel_id: i64,
        channel_name: String,
        topic: Option<String>,
        by: UserRef,
    ) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |state| {
            let row = state
                .channels
                .get_mut(&channel_id)
                .ok_or_else(refusals::channel_gone)?;
            row.record.topic = topic.clone();
            let by_id = by.id;
            let event = state.append_event(
                channel_id,
                &channel_name,
                Event::ChannelUpdated { topic, by },
                now_ms(),
                Some(by_id),
            )?;
            let mut record = state
                .channels
                .get(&channel_id)
                .map(|c| c.record.clone())
                .ok_or_else(refusals::channel_gone)?;
            record.head_seq = event.seq;
            Ok((record, vec![event]))
        }))
    }

    fn delete_channel(&self, channel_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            state.cascade(vec![channel_id], Vec::new());
            Ok(((), Vec::new()))
        }))
    }
}

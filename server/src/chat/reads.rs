//! Read positions, mutes, unread and mention counts, and mention delivery to each mentioned
//! user's personal channel `@me` (which also carries read positions to their other devices).

use std::sync::Arc;

use parley_protocol::{ErrorCode, Event, ReadState};

use crate::{
    chat::channels::{Channel, PERSONAL},
    chat::Chat,
    error::{Error, Result},
    store::{self, MentionNotice, NewEvent, ReadCounts, ReadMark, UserRecord},
};

/// Most users one message may notify (`@channel` in a huge channel notifies the first ones).
const MAX_MENTIONED: usize = 1000;

impl Chat {
    async fn personal(&self, user: &UserRecord) -> Result<Arc<Channel>> {
        self.channel(PERSONAL, Some(user)).await
    }

    /// The users `text` mentions who may read `channel`: `@name`, and every member for
    /// `@channel` / `@here`. Not the author.
    pub(crate) async fn mention_targets(
        &self,
        channel: &Channel,
        author: &UserRecord,
        text: &str,
    ) -> Result<Vec<MentionNotice>> {
        if !text.contains('@') {
            return Ok(Vec::new());
        }
        let names = crate::names::mentioned_names(text);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // In a thread, members, mutes and access are the parent channel's.
        let parent = channel
            .record
            .parent_id
            .filter(|_| channel.is_thread())
            .and_then(|id| self.directory.by_id(id));
        let home: &Channel = parent.as_deref().unwrap_or(channel);
        let everyone = names.iter().any(|n| n == "channel" || n == "here");
        let mut ids: Vec<i64> = if everyone {
            home.member_ids()
        } else {
            Vec::new()
        };
        let named: Vec<String> = names
            .into_iter()
            .filter(|n| n != "channel" && n != "here")
            .collect();
        let channel_id = home.record.id;
        if !named.is_empty() {
            let found = self.stores.accounts.users_by_name(named).await?;
            ids.extend(found.into_iter().flatten().map(|user| user.id));
        }
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| *id != author.id);
        ids.truncate(MAX_MENTIONED);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let users = self.stores.accounts.users_by_id(ids).await?;
        let mutes = self
            .stores
            .reads
            .mutes(channel_id, users.iter().map(|user| user.id).collect())
            .await?;
        let now = store::now_ms();
        let mut targets = Vec::new();
        for (user, muted_until) in users.into_iter().zip(mutes) {
            if channel.check_read(Some(&user)).is_err() {
                continue;
            }
            let personal = self.personal(&user).await?;
            targets.push(MentionNotice {
                user_id: user.id,
                personal_channel_id: personal.record.id,
                personal_channel: personal.record.name.clone(),
                muted: muted_until.is_some_and(|until| until > now),
            });
        }
        Ok(targets)
    }

    async fn read_state_of(&self, user: &UserRecord, channel: &Channel) -> Result<ReadState> {
        let ReadCounts {
            position,
            unread,
            mentions,
        } = self
            .stores
            .reads
            .read_counts(user.id, channel.record.id)
            .await?;
        Ok(ReadState {
            channel: channel.record.name.clone(),
            last_read: position.last_read,
            unread,
            mentions,
            muted_until: position.muted_until,
        })
    }

    /// Records a read position (never moving back) and tells the user's other devices. A
    /// position that is not beyond the current one changes nothing and stores no event.
    pub async fn mark_read(&self, user: &UserRecord, channel: &str, seq: u64) -> Result<ReadState> {
        self.rates.check_state_change(user.id).await?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_read(Some(user))?;
        let head = self.channel_info(&channel, Some(user)).head;
        let seq = seq.min(head);
        let moved = self
            .stores
            .reads
            .mark_read(ReadMark {
                user: user.to_ref(),
                channel_id: channel.record.id,
                channel_name: channel.record.name.clone(),
                seq,
            })
            .await?;
        if moved {
            self.announce(user, &channel).await
        } else {
            self.read_state_of(user, &channel).await
        }
    }

    /// Mutes until `until` (None: forever) or unmutes (`unmute`). Muting again until the same
    /// time, or unmuting a channel that is not muted, changes nothing and stores no event.
    pub async fn mute(
        &self,
        user: &UserRecord,
        channel: &str,
        until: Option<i64>,
        unmute: bool,
    ) -> Result<ReadState> {
        self.rates.check_state_change(user.id).await?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_read(Some(user))?;
        if until.is_some_and(|t| t <= store::now_ms()) {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "`until` must be in the future (leave it out to mute forever)",
            ));
        }
        let value = if unmute {
            None
        } else {
            Some(until.unwrap_or(i64::MAX))
        };
        let changed = self
            .stores
            .reads
            .set_mute(user.id, channel.record.id, value)
            .await?;
        if changed {
            self.announce(user, &channel).await
        } else {
            self.read_state_of(user, &channel).await
        }
    }

    /// A durable event on `user`'s personal channel (`author`: who caused it).
    pub(crate) async fn tell_personal(
        &self,
        user: &UserRecord,
        event: parley_protocol::Event,
        author: i64,
    ) -> Result<()> {
        let personal = self.personal(user).await?;
        self.stores
            .events
            .append_event(NewEvent {
                channel_id: personal.record.id,
                channel_name: personal.record.name.clone(),
                event,
                author_id: Some(author),
            })
            .await?;
        Ok(())
    }

    /// The new read state, as a durable `read` event on the user's personal channel.
    async fn announce(&self, user: &UserRecord, channel: &Channel) -> Result<ReadState> {
        let state = self.read_state_of(user, channel).await?;
        let personal = self.personal(user).await?;
        self.stores
            .events
            .append_event(NewEvent {
                channel_id: personal.record.id,
                channel_name: personal.record.name.clone(),
                event: Event::Read {
                    read: state.clone(),
                },
                author_id: Some(user.id),
            })
            .await?;
        Ok(state)
    }

    /// Read states of every channel the user belongs to (DMs included; documents' comments
    /// channels and the personal channel not).
    pub async fn unread(&self, user: &UserRecord) -> Result<Vec<ReadState>> {
        let mut out = Vec::new();
        for channel in self.directory.all() {
            let mine =
                channel.is_member(user.id) && !channel.is_document() && !channel.is_instance();
            if mine {
                out.push(self.read_state_of(user, &channel).await?);
            }
        }
        Ok(out)
    }
}

//! Read positions, mutes, unread and mention counts, and mention delivery to each mentioned
//! user's personal channel `@me` (which also carries read positions to their other devices).

use std::sync::Arc;

use parley_protocol::{ErrorCode, Event, ReadState};

use crate::{
    chat::channels::{Channel, PERSONAL},
    error::{Error, Result},
    store::{self, UserRecord},
    AppState,
};

/// Most users one message may notify (`@channel` in a huge channel notifies the first ones).
const MAX_MENTIONED: usize = 1000;

/// A user a message mentions, with where to tell them.
pub struct MentionTarget {
    pub user_id: i64,
    pub personal: Arc<Channel>,
    pub muted: bool,
}

impl AppState {
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
    ) -> Result<Vec<MentionTarget>> {
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
        let (users, mutes) = {
            let mut ids_for_read = std::mem::take(&mut ids);
            let author_id = author.id;
            self.store
                .read(move |conn| {
                    for name in &named {
                        if let Some(user) = store::user_by_name(conn, name)? {
                            ids_for_read.push(user.id);
                        }
                    }
                    ids_for_read.sort_unstable();
                    ids_for_read.dedup();
                    ids_for_read.retain(|id| *id != author_id);
                    ids_for_read.truncate(MAX_MENTIONED);
                    let mut users = Vec::new();
                    let mut mutes = Vec::new();
                    for id in ids_for_read {
                        if let Some(user) = store::user_by_id(conn, id)? {
                            let (_, muted) = store::read_state(conn, id, channel_id)?;
                            users.push(user);
                            mutes.push(muted);
                        }
                    }
                    Ok((users, mutes))
                })
                .await?
        };
        let now = store::now_ms();
        let mut targets = Vec::new();
        for (user, muted_until) in users.into_iter().zip(mutes) {
            if channel.check_read(Some(&user)).is_err() {
                continue;
            }
            targets.push(MentionTarget {
                user_id: user.id,
                personal: self.personal(&user).await?,
                muted: muted_until.is_some_and(|until| until > now),
            });
        }
        Ok(targets)
    }

    async fn read_state_of(&self, user: &UserRecord, channel: &Channel) -> Result<ReadState> {
        let (user_id, channel_id) = (user.id, channel.record.id);
        let (last_read, muted_until, unread, mentions) = self
            .store
            .read(move |conn| {
                let (last_read, muted) = store::read_state(conn, user_id, channel_id)?;
                let (unread, mentions) =
                    store::unread_counts(conn, user_id, channel_id, last_read)?;
                Ok((last_read, muted, unread, mentions))
            })
            .await?;
        Ok(ReadState {
            channel: channel.record.name.clone(),
            last_read,
            unread,
            mentions,
            muted_until,
        })
    }

    /// Records a read position (never moving back) and tells the user's other devices. A
    /// position that is not beyond the current one changes nothing and stores no event.
    pub async fn mark_read(&self, user: &UserRecord, channel: &str, seq: u64) -> Result<ReadState> {
        self.check_user_state_rate(user.id)?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_read(Some(user))?;
        let head = self.channel_info(&channel, Some(user)).head;
        let seq = seq.min(head);
        let (user_id, channel_id, name, who) = (
            user.id,
            channel.record.id,
            channel.record.name.clone(),
            user.to_ref(),
        );
        let moved = self
            .store
            .write(move |tx, state| {
                let (before, _) = store::read_state(tx, user_id, channel_id)?;
                if seq <= before {
                    return Ok((false, Vec::new()));
                }
                store::mark_read(tx, user_id, channel_id, seq)?;
                // Members of channels with read receipts see how far each read.
                let mut published = Vec::new();
                if seq > before && store::read_receipts_on(tx, channel_id)? {
                    published.push(store::append_event(
                        tx,
                        state,
                        channel_id,
                        &name,
                        Event::ReadReceipt { user: who, seq },
                        store::now_ms(),
                        Some(user_id),
                    )?);
                }
                Ok((true, published))
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
        self.check_user_state_rate(user.id)?;
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
        let (user_id, channel_id) = (user.id, channel.record.id);
        let changed = self
            .store
            .write(move |tx, _| {
                let (_, current) = store::read_state(tx, user_id, channel_id)?;
                if current == value {
                    return Ok((false, Vec::new()));
                }
                store::set_mute(tx, user_id, channel_id, value)?;
                Ok((true, Vec::new()))
            })
            .await?;
        if changed {
            self.announce(user, &channel).await
        } else {
            self.read_state_of(user, &channel).await
        }
    }

    /// The new read state, as a durable `read` event on the user's personal channel.
    async fn announce(&self, user: &UserRecord, channel: &Channel) -> Result<ReadState> {
        let state = self.read_state_of(user, channel).await?;
        let personal = self.personal(user).await?;
        let (id, name, read, author) = (
            personal.record.id,
            personal.record.name.clone(),
            state.clone(),
            user.id,
        );
        self.store
            .write(move |tx, writer| {
                let published = store::append_event(
                    tx,
                    writer,
                    id,
                    &name,
                    Event::Read { read },
                    store::now_ms(),
                    Some(author),
                )?;
                Ok(((), vec![published]))
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

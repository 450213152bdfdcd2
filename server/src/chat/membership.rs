//! Changing which channels exist and who is in them: create (and the configured channels at
//! start), open a direct message, join, invite, leave, delete. Every operation checks access
//! itself; nothing relies on an earlier check.

use std::sync::Arc;

use parley_protocol::{Authentication, ChannelSettings, ChannelType, ErrorCode};

use super::channels::{invalid_name, validate_name, Channel, Role, DM_PREFIX, PERSONAL};
use crate::{
    chat::Chat,
    config::ChannelConfig,
    error::{Error, Result},
    store::{self, CreateChannel, EnsureChannel, Join, NewChannel, UserRecord},
};

/// A `channel_members` page when the request names no `limit`, and the largest one.
pub const DEFAULT_MEMBERS_PAGE: u32 = 100;
pub const MAX_MEMBERS_PAGE: u32 = 500;

/// One page of a channel's members.
pub struct MemberPage {
    pub channel: String,
    pub members: Vec<parley_protocol::ChannelMember>,
    pub has_more: bool,
}

impl Chat {
    /// Creates a channel; the creator becomes its admin.
    pub async fn create_channel(
        &self,
        user: &UserRecord,
        name: &str,
        settings: ChannelSettings,
    ) -> Result<Arc<Channel>> {
        validate_name(name).map_err(invalid_name)?;
        if name.starts_with(DM_PREFIX) {
            return Err(invalid_name(format!(
                "channel names starting with {DM_PREFIX:?} are direct messages: use dm_open"
            )));
        }
        self.create_channel_unchecked(user, name, settings).await
    }

    async fn create_channel_unchecked(
        &self,
        user: &UserRecord,
        name: &str,
        settings: ChannelSettings,
    ) -> Result<Arc<Channel>> {
        if let Some(topic) = &settings.topic {
            check_topic(topic)?;
        }
        let kind = settings.kind.unwrap_or_default();
        let settings_read_receipts = settings.read_receipts.unwrap_or(false);
        let new = NewChannel {
            name: name.to_owned(),
            kind,
            authentication: settings.authentication.unwrap_or_default(),
            presence: settings.presence.unwrap_or(kind == ChannelType::Presence),
            message_history: settings.message_history,
            message_retention_secs: settings.message_retention_secs,
            user_specific: false,
            auto_subscribe: false,
            max_participants: settings.max_participants,
            topic: settings.topic,
            publish: settings.publish.unwrap_or_default(),
        };
        // Workspace admins are exempt from the per-user limits.
        let limits = &self.config.limits;
        let limit = (!user.is_admin).then_some(if store::limits::is_dm(name) {
            limits.dms_per_user
        } else {
            limits.channels_per_user
        });
        let record = self
            .stores
            .channels
            .create_channel(CreateChannel {
                channel: new,
                creator: user.to_ref(),
                read_receipts: settings_read_receipts,
                limit,
            })
            .await?;
        Ok(self.directory.insert(record, vec![(user.id, Role::Admin)]))
    }

    /// The direct-message channel of this user with `names` (created on first use, with
    /// exactly these members, private). The same set of people always gets the same channel.
    pub async fn dm_open(&self, user: &UserRecord, names: &[String]) -> Result<Arc<Channel>> {
        let found = self.stores.accounts.users_by_name(names.to_vec()).await?;
        let mut members: Vec<UserRecord> = vec![user.clone()];
        for (name, other) in names.iter().zip(found) {
            let other = other
                .ok_or_else(|| Error::new(ErrorCode::UserNotFound, format!("no user {name:?}")))?;
            if !members.iter().any(|m| m.id == other.id) {
                members.push(other);
            }
        }
        let max = self.config.realtime.max_dm_members;
        if members.len() < 2 || members.len() > max {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("a direct message has 2 to {max} people, you included"),
            ));
        }
        let mut ids: Vec<i64> = members.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        let name = format!(
            "{DM_PREFIX}{}",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join("-")
        );
        let existing = match self.directory.by_name(&name) {
            Some(channel) => Some(channel),
            None => match self.load_channel(&name).await {
                Ok(channel) => Some(channel),
                Err(err) if err.0.code == ErrorCode::ChannelNotFound => None,
                Err(err) => return Err(err),
            },
        };
        if let Some(channel) = existing {
            // One of its people who left comes back by opening it again.
            if !channel.is_member(user.id) {
                self.add_member(&channel, user).await?;
            }
            return Ok(channel);
        }
        // The topic names its people, so clients can title it; presence shows who is online.
        let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let settings = ChannelSettings {
            kind: Some(ChannelType::Private),
            presence: Some(true),
            topic: Some(names.join(", ")),
            ..Default::default()
        };
        let channel = match self.create_channel_unchecked(user, &name, settings).await {
            Ok(channel) => channel,
            // Opened by someone else at the same moment.
            Err(err) if err.0.code == ErrorCode::ChannelExists => {
                return self.channel(&name, Some(user)).await;
            }
            Err(err) => return Err(err),
        };
        for member in members.iter().filter(|m| m.id != user.id) {
            self.add_member(&channel, member).await?;
        }
        Ok(channel)
    }

    /// Adds `user` to a channel (self-join for public/presence channels, or an invitation).
    async fn add_member(&self, channel: &Arc<Channel>, user: &UserRecord) -> Result<bool> {
        if channel.is_member(user.id) {
            return Ok(false);
        }
        if let Some(max) = channel.record.max_participants {
            if channel.member_count() >= u64::from(max) {
                return Err(Error::new(
                    ErrorCode::ChannelFull,
                    format!(
                        "channel {} has reached its {max} participants",
                        channel.record.name
                    ),
                ));
            }
        }
        // Checked again inside the write: concurrent joins are serialized there, so they
        // cannot all pass the quick check above.
        let added = self
            .stores
            .channels
            .add_member(Join {
                channel_id: channel.record.id,
                channel_name: channel.record.name.clone(),
                user: user.to_ref(),
                max_participants: channel.record.max_participants,
            })
            .await?;
        channel.set_member(user.id, Some(Role::Member));
        Ok(added)
    }

    /// A new account joins the channels everyone joins (`ChannelRecord::everyone_joins`, e.g.
    /// the workspace's first channel); their members see `member_joined`. A full channel is
    /// skipped, not an error: the account exists either way.
    pub async fn welcome(&self, user: &UserRecord) {
        let channels: Vec<Arc<Channel>> = self
            .directory
            .all()
            .into_iter()
            .filter(|c| c.record.everyone_joins())
            .collect();
        for channel in channels {
            if let Err(err) = self.add_member(&channel, user).await {
                tracing::info!(%err, channel = %channel.record.name, user = %user.name,
                    "a new account did not join a channel everyone joins");
            }
        }
    }

    pub async fn join_channel(&self, user: &UserRecord, name: &str) -> Result<Arc<Channel>> {
        let channel = self.channel(name, Some(user)).await?;
        channel.check_read(Some(user))?;
        if channel.is_document() || channel.is_thread() {
            return Err(Error::forbidden(
                "this channel has no members of its own; subscribe to it",
            ));
        }
        if channel.record.kind == ChannelType::Private && !channel.is_member(user.id) {
            return Err(Error::forbidden(
                "private channels are joined by invitation",
            ));
        }
        if !channel.is_instance() {
            self.add_member(&channel, user).await?;
        }
        Ok(channel)
    }

    pub async fn invite(
        &self,
        user: &UserRecord,
        name: &str,
        invitee: &str,
    ) -> Result<(Arc<Channel>, UserRecord)> {
        let channel = self.channel(name, Some(user)).await?;
        // Members invite; workspace admins may invite into any channel (the way into a
        // private channel declared in the configuration, which starts with no members).
        if !user.is_admin {
            channel.check_send(user)?;
        }
        if channel.is_instance() || channel.is_document() || channel.is_thread() {
            return Err(Error::forbidden("this channel takes no members"));
        }
        if channel.record.name.starts_with(DM_PREFIX) {
            return Err(Error::forbidden(
                "a direct-message channel has fixed members: open one with everyone in it",
            ));
        }
        let invitee = self
            .stores
            .accounts
            .user_by_name(invitee.to_owned())
            .await?
            .ok_or_else(|| Error::new(ErrorCode::UserNotFound, format!("no user {invitee:?}")))?;
        self.add_member(&channel, &invitee).await?;
        Ok((channel, invitee))
    }

    /// A page of a channel's members in user id order, after `after`: anyone signed in who may
    /// read the channel may list them. Threads and documents' comment channels have none of
    /// their own. One page costs a pass over the member set and one store read of at most
    /// [`MAX_MEMBERS_PAGE`] users.
    pub async fn members(
        &self,
        user: &UserRecord,
        name: &str,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<MemberPage> {
        let channel = self.channel(name, Some(user)).await?;
        channel.check_read(Some(user))?;
        if channel.is_document() || channel.is_thread() {
            return Err(Error::forbidden(
                "this channel has no members of its own; ask its parent channel",
            ));
        }
        let limit = limit
            .unwrap_or(DEFAULT_MEMBERS_PAGE)
            .clamp(1, MAX_MEMBERS_PAGE) as usize;
        let mut page: Vec<(i64, Role)> = channel
            .members
            .read()
            .map(|m| {
                m.iter()
                    .filter(|(id, _)| after.is_none_or(|a| **id > a))
                    .map(|(id, role)| (*id, *role))
                    .collect()
            })
            .unwrap_or_default();
        page.sort_unstable_by_key(|(id, _)| *id);
        let has_more = page.len() > limit;
        page.truncate(limit);
        let users = self
            .stores
            .accounts
            .users_by_id(page.iter().map(|(id, _)| *id).collect())
            .await?;
        let by_id: std::collections::HashMap<i64, UserRecord> =
            users.into_iter().map(|u| (u.id, u)).collect();
        let members = page
            .into_iter()
            .filter_map(|(id, role)| {
                by_id.get(&id).map(|u| parley_protocol::ChannelMember {
                    user: u.to_ref(),
                    role: role.as_str().to_owned(),
                })
            })
            .collect();
        Ok(MemberPage {
            channel: channel.record.name.clone(),
            members,
            has_more,
        })
    }

    /// Leaves a channel. Returns it so the caller can drop subscriptions.
    pub async fn leave_channel(&self, user: &UserRecord, name: &str) -> Result<Arc<Channel>> {
        let channel = self.channel(name, Some(user)).await?;
        if channel.is_instance() {
            return Err(Error::forbidden("you cannot leave your personal channel"));
        }
        if !channel.is_member(user.id) {
            return Err(Error::new(
                ErrorCode::NotMember,
                "you are not a member of this channel",
            ));
        }
        self.stores
            .channels
            .remove_member(
                channel.record.id,
                channel.record.name.clone(),
                user.to_ref(),
            )
            .await?;
        channel.set_member(user.id, None);
        if channel.record.kind == ChannelType::Private {
            // The channel's threads go with it.
            let threads = self
                .directory
                .all()
                .into_iter()
                .filter(|c| c.is_thread() && c.record.parent_id == Some(channel.record.id))
                .map(|c| c.record.id);
            for id in std::iter::once(channel.record.id).chain(threads) {
                if let Some(hub) = self.hubs.existing(id) {
                    let _ = hub
                        .send(crate::chat::hub::HubCmd::RemoveUser { user_id: user.id })
                        .await;
                }
            }
        }
        // Their role on the channel's documents changed (viewer, or no access at all).
        for listener in &self.listeners {
            listener.member_left(channel.record.id, user.id);
        }
        Ok(channel)
    }

    /// Deletes a channel and its history. Recreating the name starts a new epoch.
    /// The name is taken literally: deleting a `user_specific` template deletes every personal
    /// instance with it. Channel admins (members) and workspace admins may delete.
    pub async fn delete_channel(&self, user: &UserRecord, name: &str) -> Result<()> {
        let channel = match self.directory.by_name(name) {
            Some(channel) => channel,
            None => self.load_channel(name).await?,
        };
        if channel.is_thread() || channel.is_document() {
            return Err(Error::forbidden(
                "this channel goes with its message or document, not on its own",
            ));
        }
        if let Err(err) = channel.check_manage(user) {
            // Outsiders of a private channel learn nothing more than "forbidden".
            channel.check_read(Some(user))?;
            return Err(err);
        }
        let id = channel.record.id;
        self.stores.channels.delete_channel(id).await?;
        // A template takes its personal instances with it (the database cascades; the hubs and
        // cached heads of the instances go here).
        let instances: Vec<i64> = self
            .directory
            .all()
            .iter()
            .filter(|c| c.record.template_id == Some(id) || c.record.parent_id == Some(id))
            .map(|c| c.record.id)
            .collect();
        self.directory.forget(id);
        for listener in &self.listeners {
            listener.channel_deleted(id);
        }
        for channel_id in std::iter::once(id).chain(instances) {
            self.hubs.remove(channel_id);
        }
        Ok(())
    }

    /// Sets a channel's topic (an empty or blank one clears it): its members and workspace
    /// admins may, in channels people made (not direct messages, threads, documents' comments
    /// or personal channels). Everyone following the channel gets `channel_updated`.
    pub async fn set_topic(
        &self,
        user: &UserRecord,
        name: &str,
        topic: &str,
    ) -> Result<Arc<Channel>> {
        let channel = self.channel(name, Some(user)).await?;
        // Outsiders of a private channel learn nothing more than "forbidden".
        channel.check_read(Some(user))?;
        if channel.is_thread() || channel.is_document() || channel.is_instance() {
            return Err(Error::forbidden("this channel has no topic of its own"));
        }
        if channel.record.name.starts_with(DM_PREFIX) {
            return Err(Error::forbidden(
                "a direct message is titled by its people; it has no topic to set",
            ));
        }
        if !channel.is_member(user.id) && !user.is_admin {
            return Err(Error::new(
                ErrorCode::NotMember,
                "only the channel's members may set its topic",
            ));
        }
        check_topic(topic)?;
        self.rates.check_state_change(user.id).await?;
        let topic = Some(topic.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if topic == channel.record.topic {
            return Ok(channel);
        }
        let record = self
            .stores
            .channels
            .set_topic(
                channel.record.id,
                channel.record.name.clone(),
                topic,
                user.to_ref(),
            )
            .await?;
        let members = channel
            .members
            .read()
            .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        Ok(self.directory.insert(record, members))
    }

    /// The built-in template of every user's personal channel `@me` (mentions, read positions
    /// and mutes of their other devices). `@` cannot appear in channel names people choose.
    pub async fn ensure_personal_template(&self) -> Result<()> {
        if self.directory.by_name(PERSONAL).is_some() {
            return Ok(());
        }
        let record = self
            .stores
            .channels
            .ensure_channel(EnsureChannel {
                channel: NewChannel {
                    name: PERSONAL.into(),
                    kind: ChannelType::Private,
                    authentication: Authentication::Required,
                    presence: false,
                    message_history: None,
                    message_retention_secs: None,
                    user_specific: true,
                    auto_subscribe: false,
                    max_participants: Some(1),
                    topic: Some("your mentions and read positions".into()),
                    publish: parley_protocol::PublishPolicy::Members,
                },
                created_by: None,
                owner: None,
            })
            .await?;
        self.directory.insert(record, Vec::new());
        Ok(())
    }

    /// The private channel of workspace admins alone (live analytics), made if missing, with
    /// every admin a member (those made since the last call are added). Only admins publish
    /// there.
    pub async fn ensure_admin_channel(&self, name: &str, history: u64) -> Result<Arc<Channel>> {
        let channel = match self.directory.by_name(name) {
            Some(channel) => channel,
            None => {
                let record = self
                    .stores
                    .channels
                    .ensure_channel(EnsureChannel {
                        channel: NewChannel {
                            name: name.to_owned(),
                            kind: ChannelType::Private,
                            authentication: Authentication::Required,
                            presence: false,
                            message_history: Some(history),
                            message_retention_secs: None,
                            user_specific: false,
                            auto_subscribe: false,
                            max_participants: None,
                            topic: Some("live numbers of the workspace, for its admins".into()),
                            publish: parley_protocol::PublishPolicy::Admins,
                        },
                        created_by: None,
                        owner: None,
                    })
                    .await?;
                match self.directory.by_name(name) {
                    Some(channel) => channel,
                    None => self.load_channel(&record.name).await?,
                }
            }
        };
        let mut after = 0;
        loop {
            let page = self.stores.people.accounts(after, 200).await?;
            let Some(last) = page.last() else { break };
            after = last.user.id;
            for account in &page {
                let admin = account.user.is_admin && !account.disabled && !account.deleted;
                if admin && !channel.is_member(account.user.id) {
                    self.add_member(&channel, &account.user).await?;
                }
            }
        }
        Ok(channel)
    }

    /// Creates or updates the channels declared in the configuration.
    pub async fn apply_configured_channels(&self) -> Result<()> {
        for (name, config) in &self.config.channels {
            let record = self
                .stores
                .channels
                .configure_channel(configured_channel(name, config))
                .await?;
            let members = self.directory.by_id(record.id).map(|c| {
                c.members
                    .read()
                    .map(|m| m.iter().map(|(k, v)| (*k, *v)).collect())
                    .unwrap_or_default()
            });
            self.directory.insert(record, members.unwrap_or_default());
        }
        Ok(())
    }
}

/// The longest topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 500;

fn check_topic(topic: &str) -> Result<()> {
    if topic.chars().count() > MAX_TOPIC_CHARS {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("topics are at most {MAX_TOPIC_CHARS} characters"),
        ));
    }
    if topic.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            "a topic cannot hold control characters",
        ));
    }
    Ok(())
}

fn configured_channel(name: &str, config: &ChannelConfig) -> NewChannel {
    NewChannel {
        name: name.to_owned(),
        kind: config.kind,
        authentication: config.authentication,
        presence: config
            .presence
            .unwrap_or(config.kind == ChannelType::Presence),
        message_history: config.message_history,
        message_retention_secs: config.message_retention.map(|d| d.as_secs()),
        user_specific: config.user_specific,
        auto_subscribe: config.auto_subscribe,
        max_participants: config.max_participants,
        topic: config.topic.clone(),
        publish: config.publish,
    }
}

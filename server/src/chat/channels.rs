//! Channels: names, the in-memory directory of channels and members, who may do what, and the
//! channel operations shared by the WebSocket and HTTP APIs (create, list, join, leave, invite,
//! delete). Every operation checks access itself; nothing relies on an earlier check.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use parley_protocol::{
    Authentication, ChannelInfo, ChannelSettings, ChannelType, ErrorCode, Event,
};

use crate::{
    config::{ChannelConfig, RealtimeConfig},
    error::{Error, Result},
    store::{self, ChannelRecord, NewChannel, Store, UserRecord},
    AppState,
};

pub const MAX_NAME_LEN: usize = 100;

/// Every user's personal channel (a `user_specific` template).
pub const PERSONAL: &str = "@me";

/// Direct-message channels are named `dm:<user ids, ascending, joined by '-'>`.
pub const DM_PREFIX: &str = "dm:";

/// `team:general`, `random`, `ops:alerts.prod`: lowercase letters, digits, `-`, `_`, `.`;
/// namespaces separated by `:`; every segment non-empty. `#` is reserved for the personal
/// instances of `user_specific` channels (`inbox#42`).
pub fn validate_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("channel names are 1 to {MAX_NAME_LEN} characters"));
    }
    for segment in name.split(':') {
        let ok = !segment.is_empty()
            && segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !ok {
            return Err(format!(
                "invalid channel name {name:?}: use lowercase letters, digits, '-', '_', '.', \
                 with ':' between namespaces"
            ));
        }
    }
    Ok(())
}

fn invalid_name(message: String) -> Error {
    Error::new(ErrorCode::InvalidChannelName, message)
}

/// Member role in a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
    fn parse(text: &str) -> Self {
        if text == "admin" {
            Role::Admin
        } else {
            Role::Member
        }
    }
}

/// A channel as the directory holds it: settings (replaced as a whole when they change) and
/// the member set.
pub struct Channel {
    pub record: ChannelRecord,
    members: RwLock<HashMap<i64, Role>>,
    /// For a document's comments channel: the channel the document belongs to.
    /// Kept current when the parent's entry is replaced (configured channels are reloaded).
    parent: RwLock<Option<Arc<Channel>>>,
}

impl Channel {
    pub fn is_member(&self, user_id: i64) -> bool {
        self.members
            .read()
            .map(|m| m.contains_key(&user_id))
            .unwrap_or(false)
    }
    pub fn role(&self, user_id: i64) -> Option<Role> {
        self.members.read().ok()?.get(&user_id).copied()
    }
    pub fn member_ids(&self) -> Vec<i64> {
        self.members
            .read()
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }
    pub fn member_count(&self) -> u64 {
        self.members.read().map(|m| m.len() as u64).unwrap_or(0)
    }
    fn set_member(&self, user_id: i64, role: Option<Role>) {
        if let Ok(mut members) = self.members.write() {
            match role {
                Some(role) => members.insert(user_id, role),
                None => members.remove(&user_id),
            };
        }
    }

    /// A personal instance of a `user_specific` channel.
    pub fn is_instance(&self) -> bool {
        self.record.owner_id.is_some()
    }
    /// The template of `user_specific` channels, which is never used directly.
    pub fn is_template(&self) -> bool {
        self.record.user_specific && self.record.owner_id.is_none()
    }
    pub fn presence_enabled(&self) -> bool {
        self.record.presence || self.record.kind == ChannelType::Presence
    }

    /// A document's comments channel: read access follows the document's channel (or any
    /// signed-in user for workspace documents); written only through the comment operations.
    pub fn is_document(&self) -> bool {
        self.record.doc_id.is_some()
    }

    /// A thread's channel: read and post as in its parent channel.
    pub fn is_thread(&self) -> bool {
        self.record.thread_root.is_some()
    }

    fn parent(&self) -> Option<Arc<Channel>> {
        self.parent.read().ok().and_then(|p| p.clone())
    }

    /// May this session read (subscribe, history, presence)?
    pub fn check_read(&self, user: Option<&UserRecord>) -> Result<()> {
        if self.is_thread() {
            return match self.parent() {
                Some(parent) => parent.check_read(user),
                None => Err(Error::forbidden("this thread's channel is gone")),
            };
        }
        if self.is_document() {
            let parent = self.parent.read().ok().and_then(|p| p.clone());
            return match (parent, user) {
                (Some(parent), _) => parent.check_read(user),
                (None, Some(_)) => Ok(()),
                (None, None) => Err(Error::unauthenticated()),
            };
        }
        if let Some(owner) = self.record.owner_id {
            return match user {
                Some(u) if u.id == owner => Ok(()),
                Some(_) => Err(Error::forbidden("this is another user's personal channel")),
                None => Err(Error::unauthenticated()),
            };
        }
        match (self.record.kind, user) {
            (ChannelType::Private, Some(u)) if self.is_member(u.id) => Ok(()),
            (ChannelType::Private, Some(_)) => {
                Err(Error::forbidden("this channel is private to its members"))
            }
            (ChannelType::Private, None) => Err(Error::unauthenticated()),
            (_, Some(_)) => Ok(()),
            (_, None) if self.record.authentication == Authentication::Optional => Ok(()),
            (_, None) => Err(Error::unauthenticated()),
        }
    }

    /// May this user post?
    pub fn check_send(&self, user: &UserRecord) -> Result<()> {
        if self.is_thread() {
            return match self.parent() {
                Some(parent) => parent.check_send(user),
                None => Err(Error::forbidden("this thread's channel is gone")),
            };
        }
        self.check_read(Some(user))?;
        if self.is_document() {
            return Err(Error::forbidden(
                "a document's comments channel takes comments through the document API",
            ));
        }
        if self.is_instance() || self.is_member(user.id) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::NotMember,
                "join the channel before sending to it",
            ))
        }
    }

    /// Channel admins and workspace admins may manage the channel.
    pub fn check_manage(&self, user: &UserRecord) -> Result<()> {
        if self.is_thread() {
            return match self.parent() {
                Some(parent) => parent.check_manage(user),
                None => Err(Error::forbidden("this thread's channel is gone")),
            };
        }
        if self.is_document() {
            return Err(Error::forbidden(
                "a document's comments channel is managed with its document",
            ));
        }
        if user.is_admin || self.role(user.id) == Some(Role::Admin) {
            Ok(())
        } else {
            Err(Error::forbidden("only channel admins may do this"))
        }
    }

    /// The channel as listed to `user`; `head` is the newest seq (see `AppState::channel_info`).
    pub fn info(
        &self,
        user: Option<&UserRecord>,
        realtime: &RealtimeConfig,
        head: u64,
    ) -> ChannelInfo {
        let r = &self.record;
        ChannelInfo {
            name: r.name.clone(),
            kind: r.kind,
            authentication: r.authentication,
            presence: self.presence_enabled(),
            user_specific: r.user_specific,
            auto_subscribe: r.auto_subscribe,
            max_participants: r.max_participants,
            message_history: r.message_history.unwrap_or(realtime.message_history),
            message_retention_secs: r
                .message_retention_secs
                .unwrap_or(realtime.message_retention.as_secs()),
            topic: r.topic.clone(),
            epoch: r.epoch.clone(),
            head,
            member: user.is_some_and(|u| self.is_instance() || self.is_member(u.id)),
            member_count: self.member_count(),
        }
    }
}

/// Every channel known to this server, by name and by id.
#[derive(Default)]
pub struct Directory {
    inner: RwLock<DirectoryInner>,
}

#[derive(Default)]
struct DirectoryInner {
    by_name: HashMap<String, Arc<Channel>>,
    by_id: HashMap<i64, Arc<Channel>>,
}

impl Directory {
    /// Loads every channel and membership.
    pub async fn load(store: &Store) -> Result<Self> {
        let (records, members) = store
            .read(|conn| Ok((store::channels_all(conn)?, store::members_all(conn)?)))
            .await?;
        let directory = Directory::default();
        // By id: a document's comments channel comes after the channel it refers to.
        let mut records = records;
        records.sort_by_key(|r| r.id);
        for record in records {
            directory.insert(record, Vec::new());
        }
        for (channel_id, user_id, role) in members {
            if let Some(channel) = directory.by_id(channel_id) {
                channel.set_member(user_id, Some(Role::parse(&role)));
            }
        }
        Ok(directory)
    }

    /// Adds a channel created elsewhere (a document's comments channel).
    pub(crate) fn insert_channel(&self, record: ChannelRecord) -> Arc<Channel> {
        self.insert(record, Vec::new())
    }

    fn insert(&self, record: ChannelRecord, members: Vec<(i64, Role)>) -> Arc<Channel> {
        let parent = record.parent_id.and_then(|id| self.by_id(id));
        let channel = Arc::new(Channel {
            record,
            members: RwLock::new(members.into_iter().collect()),
            parent: RwLock::new(parent),
        });
        // Documents' comments channels follow the newest entry of the channel they belong to
        // (only a replaced entry can have children already).
        let replaced = self.by_id(channel.record.id).is_some();
        for child in self.all().into_iter().filter(|_| replaced) {
            if child.record.parent_id == Some(channel.record.id) {
                if let Ok(mut p) = child.parent.write() {
                    *p = Some(Arc::clone(&channel));
                }
            }
        }
        if let Ok(mut inner) = self.inner.write() {
            inner
                .by_name
                .insert(channel.record.name.clone(), Arc::clone(&channel));
            inner.by_id.insert(channel.record.id, Arc::clone(&channel));
        }
        channel
    }

    /// Forgets a channel with its personal instances and its documents' comments channels.
    fn forget(&self, id: i64) {
        if let Ok(mut inner) = self.inner.write() {
            if let Some(channel) = inner.by_id.remove(&id) {
                inner.by_name.remove(&channel.record.name);
            }
            let dependent = |c: &Arc<Channel>| {
                c.record.template_id == Some(id) || c.record.parent_id == Some(id)
            };
            inner.by_id.retain(|_, c| !dependent(c));
            inner.by_name.retain(|_, c| !dependent(c));
        }
    }

    pub(crate) fn forget_channel(&self, id: i64) {
        self.forget(id);
    }

    pub fn by_id(&self, id: i64) -> Option<Arc<Channel>> {
        self.inner.read().ok()?.by_id.get(&id).cloned()
    }

    fn by_name(&self, name: &str) -> Option<Arc<Channel>> {
        self.inner.read().ok()?.by_name.get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Channel>> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        let mut all: Vec<_> = inner.by_id.values().cloned().collect();
        all.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        all
    }
}

impl AppState {
    /// Finds a channel by name, as `user` addresses it: the name of a `user_specific` channel
    /// means the user's own instance (created on first use). Channels created by the admin CLI
    /// while the server runs are picked up from the database.
    pub async fn channel(&self, name: &str, user: Option<&UserRecord>) -> Result<Arc<Channel>> {
        let channel = match self.directory.by_name(name) {
            Some(channel) => channel,
            None => self.load_channel(name).await?,
        };
        if !channel.is_template() {
            return Ok(channel);
        }
        let Some(user) = user else {
            return Err(Error::unauthenticated());
        };
        self.personal_instance(&channel, user).await
    }

    async fn load_channel(&self, name: &str) -> Result<Arc<Channel>> {
        let owned = name.to_owned();
        let found = self
            .store
            .read(move |conn| {
                let Some(record) = store::channel_by_name(conn, &owned)? else {
                    return Ok(None);
                };
                let members = store::channel_members(conn, record.id)?;
                Ok(Some((record, members)))
            })
            .await?;
        match found {
            Some((record, members)) => Ok(self.directory.insert(
                record,
                members
                    .into_iter()
                    .map(|(u, r)| (u, Role::parse(&r)))
                    .collect(),
            )),
            None => Err(Error::new(
                ErrorCode::ChannelNotFound,
                format!("no channel {name:?}"),
            )),
        }
    }

    async fn personal_instance(
        &self,
        template: &Channel,
        user: &UserRecord,
    ) -> Result<Arc<Channel>> {
        let name = format!("{}#{}", template.record.name, user.id);
        if let Some(instance) = self.directory.by_name(&name) {
            return Ok(instance);
        }
        let t = template.record.clone();
        let user_id = user.id;
        let record = self
            .store
            .write(move |tx, _| {
                if let Some(existing) = store::channel_by_name(tx, &name)? {
                    return Ok((existing, Vec::new()));
                }
                let new = NewChannel {
                    name,
                    kind: ChannelType::Private,
                    authentication: Authentication::Required,
                    presence: t.presence,
                    message_history: t.message_history,
                    message_retention_secs: t.message_retention_secs,
                    user_specific: true,
                    auto_subscribe: t.auto_subscribe,
                    max_participants: Some(1),
                    topic: t.topic.clone(),
                };
                Ok((
                    store::channel_insert(tx, &new, Some(user_id), Some((user_id, t.id)))?,
                    Vec::new(),
                ))
            })
            .await?;
        Ok(self
            .directory
            .by_name(&record.name)
            .unwrap_or_else(|| self.directory.insert(record, Vec::new())))
    }

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
            if topic.chars().count() > 500 {
                return Err(Error::new(
                    ErrorCode::InvalidRequest,
                    "topics are at most 500 characters",
                ));
            }
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
        };
        let author = user.to_ref();
        let read_receipts = settings_read_receipts;
        // Workspace admins are exempt from the per-user limits.
        let dm = name.starts_with(DM_PREFIX);
        let limit = (!user.is_admin).then(|| {
            let limits = &self.config.limits;
            if dm {
                (
                    "dms_per_user",
                    "direct-message channels",
                    limits.dms_per_user,
                )
            } else {
                ("channels_per_user", "channels", limits.channels_per_user)
            }
        });
        let record = self
            .store
            .write(move |tx, state| {
                if let Some((key, what, max)) = limit {
                    let used = store::limits::channels_created(tx, author.id, dm)?;
                    store::limits::check(key, what, used, 1, max)?;
                }
                let record = store::channel_insert(tx, &new, Some(author.id), None)?;
                store::member_add(tx, record.id, author.id, Role::Admin.as_str())?;
                if read_receipts {
                    store::set_read_receipts(tx, record.id, true)?;
                }
                let now = store::now_ms();
                let event = store::append_event(
                    tx,
                    state,
                    record.id,
                    &record.name,
                    Event::MemberJoined { user: author },
                    now,
                    None,
                )?;
                let mut record = record;
                record.head_seq = event.seq;
                Ok((record, vec![event]))
            })
            .await?;
        Ok(self.directory.insert(record, vec![(user.id, Role::Admin)]))
    }

    /// The direct-message channel of this user with `names` (created on first use, with
    /// exactly these members, private). The same set of people always gets the same channel.
    pub async fn dm_open(&self, user: &UserRecord, names: &[String]) -> Result<Arc<Channel>> {
        let wanted: Vec<String> = names.to_vec();
        let others = self
            .store
            .read(move |conn| {
                let mut found = Vec::new();
                for name in &wanted {
                    let user = store::user_by_name(conn, name)?.ok_or_else(|| {
                        Error::new(ErrorCode::UserNotFound, format!("no user {name:?}"))
                    })?;
                    found.push(user);
                }
                Ok(found)
            })
            .await?;
        let mut members: Vec<UserRecord> = vec![user.clone()];
        for other in others {
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

    /// Channels this session may see.
    pub async fn visible_channels(&self, user: Option<&UserRecord>) -> Result<Vec<ChannelInfo>> {
        // Channels created by the admin CLI while the server runs are not in the directory yet.
        let names = self.store.read(store::channel_names).await?;
        for name in names {
            if self.directory.by_name(&name).is_none() {
                let _ = self.load_channel(&name).await;
            }
        }
        Ok(self
            .directory
            .all()
            .into_iter()
            .filter(|c| {
                !c.is_template() && !c.is_document() && !c.is_thread() && c.check_read(user).is_ok()
            })
            .map(|c| self.channel_info(&c, user))
            .collect())
    }

    /// A channel's public description, with its current head.
    pub fn channel_info(&self, channel: &Channel, user: Option<&UserRecord>) -> ChannelInfo {
        let head = self
            .hubs
            .head(channel.record.id)
            .unwrap_or(channel.record.head_seq)
            .max(channel.record.head_seq);
        channel.info(user, &self.config.realtime, head)
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
        let (channel_id, name) = (channel.record.id, channel.record.name.clone());
        let max = channel.record.max_participants;
        let member = user.to_ref();
        let added = self
            .store
            .write(move |tx, state| {
                // Checked again inside the write: concurrent joins are serialized here, so
                // they cannot all pass the quick check above.
                if let Some(max) = max {
                    if store::member_count(tx, channel_id)? >= u64::from(max) {
                        return Err(Error::new(
                            ErrorCode::ChannelFull,
                            format!("channel {name} has reached its {max} participants"),
                        ));
                    }
                }
                if !store::member_add(tx, channel_id, member.id, Role::Member.as_str())? {
                    return Ok((false, Vec::new()));
                }
                let event = store::append_event(
                    tx,
                    state,
                    channel_id,
                    &name,
                    Event::MemberJoined { user: member },
                    store::now_ms(),
                    None,
                )?;
                Ok((true, vec![event]))
            })
            .await?;
        channel.set_member(user.id, Some(Role::Member));
        Ok(added)
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
        let invitee_name = invitee.to_owned();
        let invitee = self
            .store
            .read(move |conn| store::user_by_name(conn, &invitee_name))
            .await?
            .ok_or_else(|| Error::new(ErrorCode::UserNotFound, format!("no user {invitee:?}")))?;
        self.add_member(&channel, &invitee).await?;
        Ok((channel, invitee))
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
        let (channel_id, name) = (channel.record.id, channel.record.name.clone());
        let member = user.to_ref();
        self.store
            .write(move |tx, state| {
                if !store::member_remove(tx, channel_id, member.id)? {
                    return Ok(((), Vec::new()));
                }
                let event = store::append_event(
                    tx,
                    state,
                    channel_id,
                    &name,
                    Event::MemberLeft { user: member },
                    store::now_ms(),
                    None,
                )?;
                Ok(((), vec![event]))
            })
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
        self.docs.left_channel(channel.record.id, user.id);
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
        self.store
            .write(move |tx, state| {
                let mut instances = store::channel_instances(tx, id)?;
                instances.extend(store::docs::comment_channels_of(tx, id)?);
                store::channel_delete(tx, id)?;
                // Only once the delete succeeded: a failed write must leave the state alone.
                for instance in instances {
                    state.forget(instance);
                }
                state.forget(id);
                Ok(((), Vec::new()))
            })
            .await?;
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
        self.docs.forget_channel(id);
        for channel_id in std::iter::once(id).chain(instances) {
            self.hubs.remove(channel_id);
        }
        Ok(())
    }

    /// The built-in template of every user's personal channel `@me` (mentions, read positions
    /// and mutes of their other devices). `@` cannot appear in channel names people choose.
    pub async fn ensure_personal_template(&self) -> Result<()> {
        if self.directory.by_name(PERSONAL).is_some() {
            return Ok(());
        }
        let record = self
            .store
            .write(|tx, _| {
                if let Some(existing) = store::channel_by_name(tx, PERSONAL)? {
                    return Ok((existing, Vec::new()));
                }
                let new = NewChannel {
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
                };
                Ok((store::channel_insert(tx, &new, None, None)?, Vec::new()))
            })
            .await?;
        self.directory.insert(record, Vec::new());
        Ok(())
    }

    /// Creates or updates the channels declared in the configuration.
    pub async fn apply_configured_channels(&self) -> Result<()> {
        for (name, config) in &self.config.channels {
            let new = configured_channel(name, config);
            let record = self
                .store
                .write(move |tx, _| {
                    let record = match store::channel_by_name(tx, &new.name)? {
                        Some(existing) => {
                            store::channel_update_settings(tx, existing.id, &new)?;
                            store::channel_by_id(tx, existing.id)?
                                .ok_or_else(|| Error::internal("configured channel vanished"))?
                        }
                        None => store::channel_insert(tx, &new, None, None)?,
                    };
                    Ok((record, Vec::new()))
                })
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
    }
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn names() {
        assert!(validate_name("team:general").is_ok());
        assert!(validate_name("a.b-c_d:e1").is_ok());
        for bad in [
            "",
            "Team",
            "a::b",
            ":a",
            "a:",
            "a b",
            "a#1",
            &"x".repeat(101),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}

//! Channels: names, the in-memory directory of channels and members, and who may do what.
//! Finding a channel by name (loading it, or a user's personal instance, on first use) is in
//! `service`; changes to channels and members are in `membership`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use parley_protocol::{Authentication, ChannelInfo, ChannelType, ErrorCode};

use crate::{
    config::RealtimeConfig,
    error::{Error, Result},
    store::{ChannelDirectory, ChannelRecord, ChannelStore, Membership, UserRecord},
};

/// Every user's personal channel (a `user_specific` template).
pub const PERSONAL: &str = crate::names::PERSONAL_CHANNEL;

/// Direct-message channels are named `dm:<user ids, ascending, joined by '-'>`.
pub const DM_PREFIX: &str = "dm:";

pub use crate::names::{
    validate_channel_name as validate_name, MAX_CHANNEL_NAME_LEN as MAX_NAME_LEN,
};

pub(crate) fn invalid_name(message: String) -> Error {
    Error::new(ErrorCode::InvalidChannelName, message)
}

/// Member role in a channel (as the store records it).
pub use crate::store::MemberRole as Role;

/// A channel as the directory holds it: settings (replaced as a whole when they change) and
/// the member set.
pub struct Channel {
    pub record: ChannelRecord,
    pub(crate) members: RwLock<HashMap<i64, Role>>,
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
    pub(crate) fn set_member(&self, user_id: i64, role: Option<Role>) {
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

    pub(crate) fn parent(&self) -> Option<Arc<Channel>> {
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

    /// The channel as listed to `user`; `head` is the newest seq (see `Chat::channel_info`).
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
            publish: r.publish,
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
    pub async fn load(store: &dyn ChannelStore) -> Result<Self> {
        let ChannelDirectory {
            channels: mut records,
            members,
        } = store.load_directory().await?;
        let directory = Directory::default();
        // By id: a document's comments channel comes after the channel it refers to.
        records.sort_by_key(|r| r.id);
        for record in records {
            directory.insert(record, Vec::new());
        }
        for Membership {
            channel_id,
            user_id,
            role,
        } in members
        {
            if let Some(channel) = directory.by_id(channel_id) {
                channel.set_member(user_id, Some(role));
            }
        }
        Ok(directory)
    }

    /// Adds a channel created elsewhere (a document's comments channel).
    pub(crate) fn insert_channel(&self, record: ChannelRecord) -> Arc<Channel> {
        self.insert(record, Vec::new())
    }

    pub(crate) fn insert(&self, record: ChannelRecord, members: Vec<(i64, Role)>) -> Arc<Channel> {
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
    pub(crate) fn forget(&self, id: i64) {
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

    pub(crate) fn by_name(&self, name: &str) -> Option<Arc<Channel>> {
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

//! The chat service ([`Chat`]) and finding a channel by name: loading it from the store when
//! the directory does not hold it yet, or creating a user's personal instance on first use.
//! The service's other operations are in the files named after them (`membership`, `send`,
//! `reads`, `threads`, `search`).

use std::sync::Arc;

use parley_protocol::{Authentication, ChannelInfo, ChannelType, ErrorCode};

use crate::{
    chat::{
        channels::{Channel, Directory},
        hub::Hubs,
    },
    config::Config,
    error::{Error, Result},
    gate::WorkGate,
    metrics::Metrics,
    ratelimit::UserRates,
    store::{ChannelWithMembers, EnsureChannel, NewChannel, Stores, UserRecord},
};

/// What another area needs to hear about channels: documents live in channels, so the document
/// area closes a leaver's connections and forgets a deleted channel's documents. Chat calls its
/// listeners and knows nothing more about them (imports run from docs to chat, not back).
pub trait ChannelListener: Send + Sync {
    /// `user_id` left (or was removed from) the channel.
    fn member_left(&self, channel_id: i64, user_id: i64);
    /// The channel is gone (the database has cascaded its rows).
    fn channel_deleted(&self, channel_id: i64);
}

/// The chat service: its operations (channels, membership, sends, history, reads, threads,
/// search) are methods on this, in the files named after them.
pub struct Chat {
    pub(super) config: Arc<Config>,
    pub(super) stores: Stores,
    /// One hub per live channel: fan-out, presence, typing.
    pub hubs: Arc<Hubs>,
    /// Every channel and its members.
    pub directory: Arc<Directory>,
    pub(super) rates: Arc<UserRates>,
    /// Searches running (`realtime.max_concurrent_searches`).
    pub(super) search_gate: WorkGate,
    pub(super) listeners: Vec<Arc<dyn ChannelListener>>,
    /// Stored messages are counted.
    pub(super) metrics: Arc<Metrics>,
    /// `client_id`s of recent ephemeral custom events.
    pub(super) recent_publishes: super::dedup::RecentPublishes,
    /// Outbound webhooks, told of ephemeral events (set once at start).
    pub(super) webhooks: std::sync::OnceLock<Arc<crate::webhooks::Dispatcher>>,
}

impl Chat {
    pub fn new(
        config: Arc<Config>,
        stores: Stores,
        hubs: Arc<Hubs>,
        directory: Arc<Directory>,
        rates: Arc<UserRates>,
        listeners: Vec<Arc<dyn ChannelListener>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let searches = config.realtime.max_concurrent_searches;
        let recent_publishes = super::dedup::RecentPublishes::new(
            config.realtime.publish_dedup_window,
            config.realtime.publish_dedup_entries,
        );
        Self {
            search_gate: WorkGate::new("searches", searches, searches * 4),
            recent_publishes,
            webhooks: std::sync::OnceLock::new(),
            config,
            stores,
            hubs,
            directory,
            rates,
            listeners,
            metrics,
        }
    }

    /// Hands ephemeral events to outbound webhooks from now on (once, at start); presence
    /// changes too, through the hubs.
    pub fn set_webhooks(&self, webhooks: Arc<crate::webhooks::Dispatcher>) {
        let tap = Arc::clone(&webhooks);
        self.hubs
            .set_presence_tap(Arc::new(move |channel: &str, frame: String| {
                tap.ephemeral(channel, "presence.changed", frame);
            }));
        let _ = self.webhooks.set(webhooks);
    }

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

    pub(crate) async fn load_channel(&self, name: &str) -> Result<Arc<Channel>> {
        let found = self
            .stores
            .channels
            .channel_by_name(name.to_owned())
            .await?;
        match found {
            Some(ChannelWithMembers { record, members }) => {
                Ok(self.directory.insert(record, members))
            }
            None => Err(Error::new(
                ErrorCode::ChannelNotFound,
                format!("no channel {name:?}"),
            )),
        }
    }

    pub(crate) async fn personal_instance(
        &self,
        template: &Channel,
        user: &UserRecord,
    ) -> Result<Arc<Channel>> {
        let name = format!("{}#{}", template.record.name, user.id);
        if let Some(instance) = self.directory.by_name(&name) {
            return Ok(instance);
        }
        let t = &template.record;
        let record = self
            .stores
            .channels
            .ensure_channel(EnsureChannel {
                channel: NewChannel {
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
                    publish: t.publish,
                },
                created_by: Some(user.id),
                owner: Some((user.id, t.id)),
            })
            .await?;
        Ok(self
            .directory
            .by_name(&record.name)
            .unwrap_or_else(|| self.directory.insert(record, Vec::new())))
    }

    /// Channels this session may see.
    /// The analytics channel is not a conversation: dashboards subscribe to it by name, and
    /// channel lists (so clients' sidebars) leave it out.
    pub async fn visible_channels(&self, user: Option<&UserRecord>) -> Result<Vec<ChannelInfo>> {
        // Channels created by the admin CLI while the server runs are not in the directory yet.
        let names = self.stores.channels.channel_names().await?;
        for name in names {
            if self.directory.by_name(&name).is_none() {
                let _ = self.load_channel(&name).await;
            }
        }
        let analytics = &self.config.analytics;
        let system = |c: &Channel| analytics.enabled && c.record.name == analytics.channel;
        Ok(self
            .directory
            .all()
            .into_iter()
            .filter(|c| {
                !c.is_template()
                    && !c.is_document()
                    && !c.is_thread()
                    && !system(c)
                    && c.check_read(user).is_ok()
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
}

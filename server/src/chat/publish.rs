//! Custom events: an application's own events published to a channel (`publish` on `/ws`,
//! `POST /api/channels/{name}/events`). A durable one is a row of the channel's log like a
//! message (a seq, resumable, subject to retention); an ephemeral one goes to the channel's
//! current subscribers only and is shed first when one falls behind. Both are idempotent per
//! publisher and `client_id`.

use std::time::Instant;

use parley_protocol::{
    api::{ScopeOp, TokenScope},
    ErrorCode, Event, EventFrame, PublishPolicy, PublishResult, ServerFrame,
};

use super::{channels::Channel, hub::HubCmd, send::validate_client_id, Chat};
pub use crate::names::validate_event_name;
use crate::{
    error::{Error, Result},
    store::{CustomEvent, UserRecord},
};

/// What a publisher asks for (the fields of `publish` and of the HTTP body).
#[derive(Debug, Clone)]
pub struct Publish {
    pub channel: String,
    pub event: String,
    pub data: serde_json::Value,
    pub durable: bool,
    pub client_id: Option<String>,
    /// For a `user_specific` channel: whose instance.
    pub user: Option<String>,
}

impl Chat {
    /// Publishes a custom event (see the module comment). `scope` is the session's token scope
    /// (a bot's); the surface has already checked that it admits `publish` in the channel.
    pub async fn publish(
        &self,
        publisher: &UserRecord,
        scope: Option<&TokenScope>,
        request: Publish,
    ) -> Result<PublishResult> {
        validate_event_name(&request.event)?;
        if let Some(client_id) = &request.client_id {
            validate_client_id(client_id)?;
        }
        let size = serde_json::to_vec(&request.data)
            .map_err(Error::internal)?
            .len() as u64;
        let max = self.config.realtime.max_event_size;
        if size > max {
            return Err(Error::new(
                ErrorCode::EventTooLarge,
                format!(
                    "the event's data is {size} bytes of JSON; the limit is {max} \
                     (realtime.max_event_size)"
                ),
            ));
        }
        self.rates.check_send(publisher.id).await?;
        let bot = scope.is_some_and(|s| s.allows(ScopeOp::Publish, &request.channel));
        let channel = match &request.user {
            Some(user) => {
                self.someones_channel(publisher, bot, &request.channel, user)
                    .await?
            }
            None => {
                let channel = self.channel(&request.channel, Some(publisher)).await?;
                check_publish(&channel, publisher, bot)?;
                channel
            }
        };
        let event = Event::Custom {
            event: request.event,
            data: request.data,
            publisher: publisher.to_ref(),
        };
        let name = channel.record.name.clone();
        if request.durable {
            let stored = self
                .stores
                .events
                .append_custom(CustomEvent {
                    channel_id: channel.record.id,
                    channel_name: name.clone(),
                    publisher_id: publisher.id,
                    client_id: request.client_id,
                    event,
                })
                .await?;
            if !stored.duplicate {
                self.metrics.custom_events.durable.inc();
            }
            return Ok(PublishResult {
                channel: name,
                seq: Some(stored.seq),
                duplicate: stored.duplicate,
            });
        }
        if let Some(client_id) = &request.client_id {
            if !self
                .recent_publishes
                .first_time(publisher.id, client_id, Instant::now())
            {
                return Ok(PublishResult {
                    channel: name,
                    seq: None,
                    duplicate: true,
                });
            }
        }
        self.metrics.custom_events.ephemeral.inc();
        if let (Some(webhooks), Some(kind)) = (self.webhooks.get(), event.webhook_type()) {
            if webhooks.wants(&name, &kind) {
                let frame = ServerFrame::Event(EventFrame {
                    channel: name.clone(),
                    seq: None,
                    event: event.clone(),
                });
                let text = serde_json::to_string(&frame).map_err(Error::internal)?;
                webhooks.ephemeral(&name, &kind, text);
            }
        }
        if let Some(hub) = self.hubs.existing(channel.record.id) {
            // Never waits: a hub too busy to take it sheds it, as it would for a slow reader.
            if hub.try_send(HubCmd::Ephemeral(Box::new(event))).is_err() {
                self.metrics.dropped_chat.inc();
            }
        }
        Ok(PublishResult {
            channel: name,
            seq: None,
            duplicate: false,
        })
    }

    /// `user`'s instance of the `user_specific` channel `template`, for a workspace admin or a
    /// bot token with the `publish` scope on the template: how a backend notifies one person.
    async fn someones_channel(
        &self,
        publisher: &UserRecord,
        bot: bool,
        template: &str,
        user: &str,
    ) -> Result<std::sync::Arc<Channel>> {
        let Some(found) = self.directory.by_name(template) else {
            return Err(Error::new(
                ErrorCode::ChannelNotFound,
                format!("no channel {template:?}"),
            ));
        };
        if !found.is_template() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "`user` is only for user_specific channels (such as @me)",
            ));
        }
        if !(publisher.is_admin || bot) {
            return Err(Error::forbidden(
                "only workspace admins and bots may publish to another user's personal channel",
            ));
        }
        let target = self
            .stores
            .accounts
            .user_by_name(user.to_owned())
            .await?
            .ok_or_else(|| Error::new(ErrorCode::UserNotFound, format!("no user {user:?}")))?;
        self.personal_instance(&found, &target).await
    }
}

/// The channel's publish policy, for a publisher who addressed it by name.
fn check_publish(channel: &Channel, publisher: &UserRecord, bot: bool) -> Result<()> {
    if channel.is_document() {
        return Err(Error::forbidden(
            "a document's comments channel carries only its comments",
        ));
    }
    if publisher.is_admin {
        return channel.check_read(Some(publisher));
    }
    match channel.record.publish {
        PublishPolicy::Members => channel.check_send(publisher),
        PublishPolicy::Admins => channel
            .check_manage(publisher)
            .map_err(|_| Error::forbidden("only this channel's admins may publish events in it")),
        PublishPolicy::Bots if bot => channel.check_read(Some(publisher)),
        PublishPolicy::Bots => Err(Error::forbidden(
            "only bots may publish events in this channel",
        )),
    }
}

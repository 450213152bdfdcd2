//! Subscriptions of one connection: registering with channel hubs, the resume sequence
//! (reply, backlog, `synced`, hand-over of held live events), unsubscribing, presence lists.

use std::sync::Arc;

use parley_protocol::{
    close_code, ErrorCode, PresenceEntry, Reply, ResetReason, ServerFrame, Synced,
};
use tokio::sync::oneshot;

use super::{subscribe_result, Session, Subscription, BACKLOG_PAGE};
use crate::{
    chat::{
        channels::Channel,
        hub::{HubCmd, HubHandle, SubscribeAck, Subscriber},
    },
    error::{Error, Result},
    store::LogPosition,
    ws::Frame,
};

impl Session {
    pub(super) fn at_channel_limit(&self, channel: &Channel) -> bool {
        !self.subs.contains_key(&channel.record.id)
            && self.subs.len() >= self.state.config.realtime.channel_limit as usize
    }

    /// Registers this connection with the channel's hub (live events are held until `CaughtUp`).
    pub(super) async fn register(
        &mut self,
        channel: &Arc<Channel>,
    ) -> Result<(HubHandle, SubscribeAck)> {
        let id = channel.record.id;
        let LogPosition {
            head: stored_head,
            pruned_through,
        } = self.state.stores.events.log_position(id).await?;
        let hub = self.state.chat.hubs.hub(
            id,
            &channel.record.name,
            channel.presence_enabled(),
            stored_head,
        );
        let (reply, ack) = oneshot::channel();
        let sub = Subscriber {
            conn_id: self.control.id,
            user: self.user_ref.clone(),
            tx: self.out.clone(),
            control: Arc::clone(&self.control),
        };
        hub.send(HubCmd::Subscribe { sub, reply })
            .await
            .map_err(|_| Error::internal("channel hub stopped"))?;
        let mut ack = ack
            .await
            .map_err(|_| Error::internal("channel hub stopped"))?;
        ack.pruned_through = pruned_through;
        ack.stored_head = stored_head;
        self.subs.insert(
            id,
            Subscription {
                hub: hub.clone(),
                presence: channel.presence_enabled(),
            },
        );
        if let (Some((status, text)), true) = (self.status.as_deref(), channel.presence_enabled()) {
            if let Some(user) = &self.user {
                let cmd = HubCmd::SetStatus {
                    user_id: user.id,
                    status: status.clone(),
                    text: text.clone(),
                };
                let _ = hub.send(cmd).await;
            }
        }
        Ok((hub, ack))
    }

    /// Subscribe: reply, then the backlog after `since`, then `synced`, then live events.
    pub(super) async fn subscribe(
        &mut self,
        request_id: u64,
        name: &str,
        since: Option<u64>,
        epoch: Option<String>,
    ) -> Result<()> {
        let channel = self.state.chat.channel(name, self.user.as_ref()).await?;
        channel.check_read(self.user.as_ref())?;
        if self.at_channel_limit(&channel) {
            return Err(Error::new(
                ErrorCode::ChannelLimit,
                format!(
                    "at most {} subscriptions per connection",
                    self.state.config.realtime.channel_limit
                ),
            ));
        }
        let (hub, ack) = self.register(&channel).await?;
        let id = channel.record.id;
        // Access again, now that the hub holds the subscription: a leave (or kick) that
        // committed meanwhile has either been seen here, or its removal of this user's
        // subscriptions is queued in the hub behind ours.
        if let Err(err) = channel.check_read(self.user.as_ref()) {
            self.unsubscribe(id).await;
            return Err(err);
        }
        let head = ack.head;
        let pruned = ack.pruned_through;
        let (after, reset) = match since {
            None => (head, None),
            Some(_) if epoch.as_deref().is_some_and(|e| e != channel.record.epoch) => {
                (head, Some(ResetReason::EpochChanged))
            }
            // Ahead of everything stored: this history is not the one the client saw. (A
            // `since` taken from `history` may be ahead of the hub by events not yet handed
            // to it, so compare with the stored head.)
            Some(since) if since > head.max(ack.stored_head) => {
                (head, Some(ResetReason::EpochChanged))
            }
            Some(since) if since > head => (head, None),
            Some(since) if since < pruned => (pruned, Some(ResetReason::HistoryTruncated)),
            Some(since) => (since, None),
        };
        let backlog = if after < head {
            let counted = self
                .state
                .stores
                .events
                .count_events_between(id, after, head)
                .await;
            match counted {
                Ok(n) => n,
                Err(err) => {
                    // Registered but not answered: undo, so the hub does not hold events for a
                    // subscription that never started.
                    self.unsubscribe(id).await;
                    return Err(err);
                }
            }
        } else {
            0
        };
        let result = subscribe_result(&channel, &ack, backlog, reset);
        self.push_frame(&ServerFrame::Reply {
            id: request_id,
            reply: Reply::Subscribe(result),
        })
        .await;

        let mut cursor = after;
        while cursor < head {
            let page = self
                .state
                .stores
                .events
                .events_between(id, cursor, head, BACKLOG_PAGE)
                .await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    // The reply is out and part of the backlog may be too: the honest answer
                    // is a resync, after which the client resumes from what it has.
                    tracing::warn!(%err, conn = self.control.id, "backlog read failed");
                    self.control
                        .close_with(close_code::RESYNC, "backlog read failed");
                    return Ok(());
                }
            };
            // Retention may have removed events since the count: never skip silently.
            if page.first().is_some_and(|e| e.seq != cursor + 1) || page.is_empty() {
                tracing::debug!(channel = %channel.record.name, "backlog changed under a resume");
                self.control
                    .close_with(close_code::RESYNC, "history changed while resuming");
                return Ok(());
            }
            let Some(last) = page.last() else { break };
            cursor = last.seq;
            for event in page {
                if !self.push(Frame::from(event.frame)).await {
                    return Ok(());
                }
            }
        }
        let synced = ServerFrame::Synced(Synced {
            channel: channel.record.name.clone(),
            epoch: channel.record.epoch.clone(),
            seq: head,
        });
        self.push_frame(&synced).await;
        self.go_live(&hub).await;
        Ok(())
    }

    /// Queues the live events the hub held during catch-up, until it holds none and switches
    /// this subscription to live delivery.
    pub(super) async fn go_live(&self, hub: &HubHandle) {
        loop {
            let (reply, held) = oneshot::channel();
            let cmd = HubCmd::CaughtUp {
                conn_id: self.control.id,
                reply,
            };
            if hub.send(cmd).await.is_err() {
                return;
            }
            let Ok(held) = held.await else { return };
            if held.is_empty() {
                return;
            }
            for frame in held {
                if !self.push(frame).await {
                    return;
                }
            }
        }
    }

    pub(super) async fn unsubscribe(&mut self, channel_id: i64) -> bool {
        match self.subs.remove(&channel_id) {
            Some(sub) => {
                let _ = sub
                    .hub
                    .send(HubCmd::Unsubscribe {
                        conn_id: self.control.id,
                    })
                    .await;
                true
            }
            None => false,
        }
    }

    pub(super) async fn presence_of(&self, channel: &Channel) -> Result<Vec<PresenceEntry>> {
        if !channel.presence_enabled() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "presence is not enabled in this channel",
            ));
        }
        let Some(hub) = self.state.chat.hubs.existing(channel.record.id) else {
            return Ok(Vec::new());
        };
        let (reply, rx) = oneshot::channel();
        if hub.send(HubCmd::PresenceList { reply }).await.is_err() {
            return Ok(Vec::new());
        }
        Ok(rx.await.unwrap_or_default())
    }
}

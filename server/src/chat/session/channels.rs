//! The `/ws` requests about channels: list, create, join, leave, invite, set the topic, list
//! members, open a direct message, subscribe and unsubscribe.

use std::sync::Arc;

use parley_protocol::{ErrorCode, Op, Reply};

use super::{misrouted, Session};
use crate::error::{Error, Result};

impl Session {
    /// `Ok(None)` for subscribe, which queues its reply itself.
    pub(super) async fn channel_request(&mut self, id: u64, op: Op) -> Result<Option<Reply>> {
        let state = Arc::clone(&self.state);
        let reply = match op {
            Op::ChannelList => {
                let mut channels = state.chat.visible_channels(self.user.as_ref()).await?;
                channels.retain(|c| crate::scope::shows(self.scope.as_deref(), &c.name));
                Reply::ChannelList { channels }
            }
            Op::ChannelCreate { channel, settings } => {
                let channel = state
                    .chat
                    .create_channel(self.user()?, &channel, settings)
                    .await?;
                Reply::ChannelCreate {
                    channel: state.chat.channel_info(&channel, self.user.as_ref()),
                }
            }
            Op::ChannelJoin { channel } => {
                let channel = state.chat.join_channel(self.user()?, &channel).await?;
                Reply::ChannelJoin {
                    channel: state.chat.channel_info(&channel, self.user.as_ref()),
                }
            }
            Op::ChannelLeave { channel } => {
                let channel = state.chat.leave_channel(self.user()?, &channel).await?;
                self.unsubscribe(channel.record.id).await;
                Reply::ChannelLeave {
                    channel: channel.record.name.clone(),
                }
            }
            Op::ChannelInvite { channel, user } => {
                let (channel, invitee) = state.chat.invite(self.user()?, &channel, &user).await?;
                Reply::ChannelInvite {
                    channel: channel.record.name.clone(),
                    user: invitee.to_ref(),
                }
            }
            Op::ChannelUpdate { channel, topic } => {
                let channel = state.chat.set_topic(self.user()?, &channel, &topic).await?;
                Reply::ChannelUpdate {
                    channel: state.chat.channel_info(&channel, self.user.as_ref()),
                }
            }
            Op::ChannelMembers {
                channel,
                after,
                limit,
            } => {
                let page = state
                    .chat
                    .members(self.user()?, &channel, after, limit)
                    .await?;
                Reply::ChannelMembers {
                    channel: page.channel,
                    members: page.members,
                    has_more: page.has_more,
                }
            }
            Op::DmOpen { users } => {
                let user = self.user()?;
                let channel = state.chat.dm_open(user, &users).await?;
                Reply::DmOpen {
                    channel: state.chat.channel_info(&channel, Some(user)),
                }
            }
            Op::Subscribe {
                channel,
                since,
                epoch,
            } => {
                self.subscribe(id, &channel, since, epoch).await?;
                return Ok(None);
            }
            Op::Unsubscribe { channel } => {
                let found = state.chat.channel(&channel, self.user.as_ref()).await?;
                if !self.unsubscribe(found.record.id).await {
                    return Err(Error::new(
                        ErrorCode::NotSubscribed,
                        format!("not subscribed to {channel:?}"),
                    ));
                }
                Reply::Unsubscribe {
                    channel: found.record.name.clone(),
                }
            }
            op => return Err(misrouted(&op)),
        };
        Ok(Some(reply))
    }
}

//! The `/ws` requests about presence: who is here, typing, and the session's status.

use std::sync::Arc;

use parley_protocol::{ErrorCode, Op, Reply};

use super::{misrouted, Session};
use crate::{
    chat::hub::HubCmd,
    error::{Error, Result},
};

impl Session {
    pub(super) async fn presence_request(&mut self, op: Op) -> Result<Reply> {
        let state = Arc::clone(&self.state);
        Ok(match op {
            Op::PresenceList { channel } => {
                let channel = state.chat.channel(&channel, self.user.as_ref()).await?;
                channel.check_read(self.user.as_ref())?;
                let presence = self.presence_of(&channel).await?;
                Reply::PresenceList {
                    channel: channel.record.name.clone(),
                    presence,
                }
            }
            Op::Typing { channel } => {
                self.user()?;
                let channel = state.chat.channel(&channel, self.user.as_ref()).await?;
                channel.check_send(self.user()?)?;
                let Some(sub) = self.subs.get(&channel.record.id) else {
                    return Err(Error::new(
                        ErrorCode::NotSubscribed,
                        "subscribe to the channel before typing in it",
                    ));
                };
                let _ = sub
                    .hub
                    .send(HubCmd::Typing {
                        conn_id: self.control.id,
                    })
                    .await;
                Reply::Typing {
                    channel: channel.record.name.clone(),
                }
            }
            Op::SetStatus { status, text } => {
                let user_id = self.user()?.id;
                if !matches!(status.as_str(), "online" | "away" | "dnd") {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        "status is one of online, away, dnd",
                    ));
                }
                if text.as_ref().is_some_and(|t| t.chars().count() > 140) {
                    return Err(Error::new(
                        ErrorCode::InvalidRequest,
                        "status text is at most 140 characters",
                    ));
                }
                for sub in self.subs.values().filter(|s| s.presence) {
                    let cmd = HubCmd::SetStatus {
                        user_id,
                        status: status.clone(),
                        text: text.clone(),
                    };
                    let _ = sub.hub.send(cmd).await;
                }
                self.status = Some(Box::new((status.clone(), text)));
                Reply::SetStatus { status }
            }
            op => return Err(misrouted(&op)),
        })
    }
}

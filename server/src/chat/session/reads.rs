//! The `/ws` requests about read state: mark read, mute, unmute, unread counts.

use parley_protocol::{Op, Reply};

use super::{misrouted, Session};
use crate::error::Result;

impl Session {
    pub(super) async fn read_state_request(&mut self, op: Op) -> Result<Reply> {
        let state = &self.state;
        Ok(match op {
            Op::MarkRead { channel, seq } => {
                Reply::MarkRead(state.chat.mark_read(self.user()?, &channel, seq).await?)
            }
            Op::Mute { channel, until } => Reply::Mute(
                state
                    .chat
                    .mute(self.user()?, &channel, until, false)
                    .await?,
            ),
            Op::Unmute { channel } => {
                Reply::Unmute(state.chat.mute(self.user()?, &channel, None, true).await?)
            }
            Op::Unread => Reply::Unread {
                channels: state.chat.unread(self.user()?).await?,
            },
            op => return Err(misrouted(&op)),
        })
    }
}

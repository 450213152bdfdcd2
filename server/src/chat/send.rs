//! Messages: validation, the idempotent durable send, and history paging. Shared by the
//! WebSocket session and the HTTP API.

use parley_protocol::{ErrorCode, HistoryPage, Message, ReactionChange, SendResult};

use crate::{
    chat::Chat,
    error::{Error, Result},
    store::{
        HistorySlice, MessageDelete, MessageEdit, PostMessage, ReactionUpdate, ThreadReply,
        UserRecord,
    },
};

/// Most attachments on one message.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;

/// Longest `client_id` a client may choose.
pub const MAX_CLIENT_ID_LEN: usize = 64;

pub fn validate_client_id(client_id: &str) -> Result<()> {
    let ok = !client_id.is_empty()
        && client_id.len() <= MAX_CLIENT_ID_LEN
        && client_id.chars().all(|c| !c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidClientId,
            format!("client_id must be 1 to {MAX_CLIENT_ID_LEN} bytes without control characters"),
        ))
    }
}

impl Chat {
    /// Validates and stores a message; answers only after it is committed. A repeated
    /// `client_id` from the same author returns the original message with `duplicate: true`.
    pub async fn send_message(
        &self,
        user: &UserRecord,
        channel: &str,
        text: &str,
        client_id: &str,
    ) -> Result<SendResult> {
        self.submit_message(user, channel, text, client_id, &[])
            .await?
            .await
    }

    /// Validates a message and queues it for storage, returning once it is queued: messages
    /// queued by one connection are stored in that order. The returned future resolves to the
    /// result once it is committed.
    pub async fn submit_message(
        &self,
        user: &UserRecord,
        channel: &str,
        text: &str,
        client_id: &str,
        attachments: &[i64],
    ) -> Result<impl std::future::Future<Output = Result<SendResult>> + Send + 'static> {
        let started = std::time::Instant::now();
        validate_client_id(client_id)?;
        if text.trim().is_empty() {
            return Err(Error::new(ErrorCode::MessageEmpty, "the message is empty"));
        }
        let max = self.config.realtime.max_message_length;
        let length = text.chars().count() as u64;
        if length > max {
            return Err(Error::new(
                ErrorCode::MessageTooLong,
                format!("the message is {length} characters; the limit is {max}"),
            ));
        }
        self.rates.check_send(user.id).await?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        let mentions = self.mention_targets(&channel, user, text).await?;
        let attachments = self.own_attachments(user, attachments).await?;
        // A reply in a thread: the root's summary changes, and its channel hears it.
        let thread = match (channel.record.thread_root, channel.record.parent_id) {
            (Some(root_id), Some(parent_id)) => {
                self.directory.by_id(parent_id).map(|parent| ThreadReply {
                    root_id,
                    parent_id: parent.record.id,
                    parent_name: parent.record.name.clone(),
                })
            }
            _ => None,
        };
        // Each mentioned user hears of it on their personal channel, in the same transaction:
        // a mention is never stored without its notification.
        let committed = self
            .stores
            .messages
            .submit_message(PostMessage {
                channel_id: channel.record.id,
                channel_name: channel.record.name.clone(),
                author: user.to_ref(),
                text: text.to_owned(),
                client_id: client_id.to_owned(),
                mentions,
                attachments,
                thread,
            })
            .await?;
        let metrics = std::sync::Arc::clone(&self.metrics);
        Ok(async move {
            let outcome = committed.await?;
            if !outcome.duplicate {
                metrics.messages_accepted.inc();
                metrics.send_latency.record(started.elapsed());
            }
            Ok(SendResult {
                message: outcome.message,
                duplicate: outcome.duplicate,
            })
        })
    }

    /// A page of messages before `before`, newest first.
    pub async fn history(
        &self,
        user: Option<&UserRecord>,
        channel: &str,
        before: Option<u64>,
        limit: Option<u32>,
    ) -> Result<HistoryPage> {
        let channel = self.channel(channel, user).await?;
        channel.check_read(user)?;
        let max = self.config.realtime.max_history_page;
        let limit = limit.unwrap_or(50).clamp(1, max);
        let HistorySlice { messages, has_more } = self
            .stores
            .messages
            .history(channel.record.id, before, limit)
            .await?;
        Ok(HistoryPage {
            channel: channel.record.name.clone(),
            epoch: channel.record.epoch.clone(),
            messages,
            has_more,
        })
    }

    fn check_text(&self, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(Error::new(ErrorCode::MessageEmpty, "the message is empty"));
        }
        let max = self.config.realtime.max_message_length;
        let length = text.chars().count() as u64;
        if length > max {
            return Err(Error::new(
                ErrorCode::MessageTooLong,
                format!("the message is {length} characters; the limit is {max}"),
            ));
        }
        Ok(())
    }

    /// Edits one's own message (members only, as for sending).
    pub async fn edit_message(
        &self,
        user: &UserRecord,
        channel: &str,
        message_id: i64,
        text: &str,
    ) -> Result<Message> {
        self.check_text(text)?;
        self.rates.check_send(user.id).await?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        self.stores
            .messages
            .edit_message(MessageEdit {
                channel_id: channel.record.id,
                message_id,
                text: text.to_owned(),
                editor: user.id,
            })
            .await
    }

    /// Deletes a message: its author, channel admins and workspace admins may.
    pub async fn delete_message(
        &self,
        user: &UserRecord,
        channel: &str,
        message_id: i64,
    ) -> Result<()> {
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_read(Some(user))?;
        self.stores
            .messages
            .delete_message(MessageDelete {
                channel_id: channel.record.id,
                message_id,
                by: user.to_ref(),
                as_manager: channel.check_manage(user).is_ok(),
            })
            .await
    }

    /// Adds (or removes) a reaction; members only.
    pub async fn react(
        &self,
        user: &UserRecord,
        channel: &str,
        message_id: i64,
        emoji: &str,
        add: bool,
    ) -> Result<ReactionChange> {
        validate_emoji(emoji)?;
        self.rates.check_send(user.id).await?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        self.stores
            .reactions
            .react(ReactionUpdate {
                channel_id: channel.record.id,
                message_id,
                user: user.to_ref(),
                emoji: emoji.to_owned(),
                add,
            })
            .await
    }
}

/// An emoji (or short code like `:tada:`): 1 to 64 bytes, no whitespace or control characters.
pub fn validate_emoji(emoji: &str) -> Result<()> {
    let ok = !emoji.is_empty()
        && emoji.len() <= 64
        && !emoji.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidEmoji,
            "an emoji is 1 to 64 bytes without spaces or control characters",
        ))
    }
}

impl Chat {
    /// Checks that every id is an attachment this user uploaded.
    pub(crate) async fn own_attachments(&self, user: &UserRecord, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_ATTACHMENTS_PER_MESSAGE {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                format!("at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments per message"),
            ));
        }
        let wanted = ids.to_vec();
        match self
            .stores
            .attachments
            .first_not_owned(user.id, wanted.clone())
            .await?
        {
            None => Ok(wanted),
            Some(id) => Err(Error::new(
                ErrorCode::AttachmentNotFound,
                format!("no attachment {id} of yours"),
            )),
        }
    }
}

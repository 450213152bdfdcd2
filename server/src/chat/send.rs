//! Messages: validation, the idempotent durable send, and history paging. Shared by the
//! WebSocket session and the HTTP API.

use parley_protocol::{ErrorCode, HistoryPage, Message, ReactionChange, SendResult};

use crate::{
    error::{Error, Result},
    store::{self, UserRecord},
    AppState,
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

impl AppState {
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
        self.check_user_send_rate(user.id)?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        let targets = self.mention_targets(&channel, user, text).await?;
        let attachments = self.own_attachments(user, attachments).await?;
        let thread_root = channel.record.thread_root;
        let parent = channel
            .record
            .parent_id
            .and_then(|id| self.directory.by_id(id))
            .map(|p| (p.record.id, p.record.name.clone()));
        let (channel_id, name) = (channel.record.id, channel.record.name.clone());
        let author = user.to_ref();
        let (text, client_id) = (text.to_owned(), client_id.to_owned());
        let committed = self
            .store
            .submit(move |tx, state| {
                let mentioned: Vec<i64> = targets.iter().map(|t| t.user_id).collect();
                let now = store::now_ms();
                let new = store::NewMessage {
                    channel_id,
                    channel_name: &name,
                    author: &author,
                    text: &text,
                    client_id: &client_id,
                    now,
                    mentions: &mentioned,
                    attachments: &attachments,
                };
                let (outcome, published) = store::append_message(tx, state, new)?;
                let mut published: Vec<_> = published.into_iter().collect();
                // A reply in a thread: the root's summary changes, and its channel hears it.
                if let (Some(root), Some((parent_id, parent_name))) = (thread_root, &parent) {
                    if !outcome.duplicate {
                        let thread = store::thread_reply(tx, root, author.id, now)?;
                        published.push(store::append_event(
                            tx,
                            state,
                            *parent_id,
                            parent_name,
                            parley_protocol::Event::ThreadUpdated { thread },
                            now,
                            Some(author.id),
                        )?);
                    }
                }
                // Each mentioned user hears of it on their personal channel, in the same
                // transaction: a mention is never stored without its notification.
                if !outcome.duplicate {
                    for target in &targets {
                        let event = store::append_event(
                            tx,
                            state,
                            target.personal.record.id,
                            &target.personal.record.name,
                            parley_protocol::Event::Mention {
                                message: Box::new(outcome.message.clone()),
                                muted: target.muted,
                            },
                            now,
                            Some(author.id),
                        )?;
                        store::mention_event(
                            tx,
                            target.user_id,
                            outcome.message.id,
                            event.channel_id,
                            event.seq,
                        )?;
                        published.push(event);
                    }
                }
                Ok((outcome, published))
            })
            .await?;
        Ok(async move {
            let outcome = committed.await?;
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
        let id = channel.record.id;
        let (messages, has_more) = self
            .store
            .read(move |conn| store::history(conn, id, before, limit))
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
        self.check_user_send_rate(user.id)?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        let (channel_id, editor, text) = (channel.record.id, user.id, text.to_owned());
        self.store
            .write(move |tx, state| {
                let (message, published) = store::edit_message(
                    tx,
                    state,
                    channel_id,
                    message_id,
                    &text,
                    store::now_ms(),
                    editor,
                )?;
                Ok((message, vec![published]))
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
        let manager = channel.check_manage(user).is_ok();
        let (channel_id, by) = (channel.record.id, user.to_ref());
        self.store
            .write(move |tx, state| {
                let author = store::message_in(tx, channel_id, message_id)?
                    .filter(|m| !m.deleted)
                    .map(|m| m.author.id)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::MessageNotFound,
                            format!("no message {message_id}"),
                        )
                    })?;
                if author != by.id && !manager {
                    return Err(Error::forbidden(
                        "only its author and channel admins may delete a message",
                    ));
                }
                let published =
                    store::delete_message(tx, state, channel_id, message_id, &by, store::now_ms())?;
                Ok(((), vec![published]))
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
        self.check_user_send_rate(user.id)?;
        let channel = self.channel(channel, Some(user)).await?;
        channel.check_send(user)?;
        let (channel_id, who, emoji) = (channel.record.id, user.to_ref(), emoji.to_owned());
        self.store
            .write(move |tx, state| {
                let (change, published) = store::react(
                    tx,
                    state,
                    store::Reacting {
                        channel_id,
                        message_id,
                        user: &who,
                        emoji: &emoji,
                        add,
                        now: store::now_ms(),
                    },
                )?;
                Ok((change, published.into_iter().collect()))
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

impl AppState {
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
        let (wanted, user_id) = (ids.to_vec(), user.id);
        self.store
            .read(move |conn| {
                for id in &wanted {
                    match store::attachment(conn, *id)? {
                        Some((_, uploader)) if uploader == user_id => {}
                        _ => {
                            return Err(Error::new(
                                ErrorCode::AttachmentNotFound,
                                format!("no attachment {id} of yours"),
                            ))
                        }
                    }
                }
                Ok(wanted)
            })
            .await
    }
}

//! Messages (PostgreSQL): the idempotent send with its mentions, attachments and thread
//! summary, edits and deletes with their redaction rewrites, history pages.

use parley_protocol::{Event, Message, UserRef};
use postgres::{GenericClient, Transaction};

use super::events::{append_event, store_event};
use super::{
    attachments::attachments_of,
    message_rows::{message_from_row, MESSAGE_SELECT},
    reads::{insert_mentions, mention_event},
    threads::thread_reply,
    WriterState,
};
use crate::{
    error::{Error, Result},
    store::{format_ts, now_ms, AppendOutcome, PostMessage, Published},
};

/// A message to store.
pub struct NewMessage<'a> {
    pub channel_id: i64,
    pub channel_name: &'a str,
    pub author: &'a UserRef,
    pub text: &'a str,
    pub client_id: &'a str,
    pub now: i64,
    /// Users the text mentions (resolved by the caller).
    pub mentions: &'a [i64],
    /// Attachments (checked by the caller to be the author's).
    pub attachments: &'a [i64],
}

/// Stores a message unless this author already sent this `client_id`, in which case the
/// original is returned and nothing is written.
pub fn append_message(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    new: NewMessage<'_>,
) -> Result<(AppendOutcome, Option<Published>)> {
    let NewMessage {
        channel_id,
        channel_name,
        author,
        text,
        client_id,
        now,
        mentions,
        attachments,
    } = new;
    // The seq is taken first (the channel's row stays locked until the batch commits); a
    // resend meets the (author, client_id) index, inserts nothing and gives the seq back,
    // which no one else can have taken meanwhile: the row is still ours.
    let seq = state.next_seq(tx, channel_id)?;
    let inserted = tx.query_opt(
        "INSERT INTO messages (channel_id, seq, author_id, client_id, text, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (author_id, client_id) DO NOTHING
         RETURNING id",
        &[
            &channel_id,
            &(seq as i64),
            &author.id,
            &client_id,
            &text,
            &now,
        ],
    )?;
    let Some(inserted) = inserted else {
        state.give_back_seq(tx, channel_id)?;
        let original = message_by_client_id(tx, author.id, client_id)?.ok_or_else(|| {
            Error::internal("a message conflicted on its client_id but cannot be read")
        })?;
        return Ok((
            AppendOutcome {
                message: original,
                duplicate: true,
            },
            None,
        ));
    };
    let mut message = Message {
        id: inserted.get(0),
        channel: channel_name.to_owned(),
        seq,
        author: author.clone(),
        text: text.to_owned(),
        client_id: client_id.to_owned(),
        created_at: format_ts(now),
        ts: now,
        edited_at: None,
        deleted: false,
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    };
    message.mentions = mentions.to_vec();
    message.mentions.retain(|u| *u != author.id);
    insert_mentions(tx, &message, channel_id)?;
    for id in attachments {
        tx.execute(
            "INSERT INTO message_attachments (message_id, attachment_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&message.id, id],
        )?;
    }
    if !attachments.is_empty() {
        message.attachments = attachments_of(tx, message.id)?;
    }
    let published = store_event(
        tx,
        state,
        channel_id,
        channel_name,
        seq,
        Event::Message {
            message: message.clone(),
        },
        now,
        Some(author.id),
    )?;
    Ok((
        AppendOutcome {
            message,
            duplicate: false,
        },
        Some(published),
    ))
}

/// The message this author sent with this `client_id`, if any (a resend: its insert met the
/// index).
fn message_by_client_id(
    client: &mut impl GenericClient,
    author_id: i64,
    client_id: &str,
) -> Result<Option<Message>> {
    Ok(client
        .query_opt(
            &format!("{MESSAGE_SELECT} WHERE m.author_id = $1 AND m.client_id = $2"),
            &[&author_id, &client_id],
        )?
        .map(|r| message_from_row(&r)))
}

/// A send in one transaction: the message (unless it is a repeat), for a thread reply the
/// root's summary with its `thread_updated` event, and one `mention` event per mentioned user
/// on their `@me` (a mention is never stored without its notification).
pub fn post_message(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    post: &PostMessage,
) -> Result<(AppendOutcome, Vec<Published>)> {
    let now = now_ms();
    let mentioned: Vec<i64> = post.mentions.iter().map(|m| m.user_id).collect();
    let new = NewMessage {
        channel_id: post.channel_id,
        channel_name: &post.channel_name,
        author: &post.author,
        text: &post.text,
        client_id: &post.client_id,
        now,
        mentions: &mentioned,
        attachments: &post.attachments,
    };
    let (outcome, published) = append_message(tx, state, new)?;
    let mut published: Vec<_> = published.into_iter().collect();
    if outcome.duplicate {
        return Ok((outcome, published));
    }
    let author = post.author.id;
    if let Some(thread) = &post.thread {
        let summary = thread_reply(tx, thread.root_id, author, now)?;
        published.push(append_event(
            tx,
            state,
            thread.parent_id,
            &thread.parent_name,
            Event::ThreadUpdated { thread: summary },
            now,
            Some(author),
        )?);
    }
    for target in &post.mentions {
        let event = append_event(
            tx,
            state,
            target.personal_channel_id,
            &target.personal_channel,
            Event::Mention {
                message: Box::new(outcome.message.clone()),
                muted: target.muted,
            },
            now,
            Some(author),
        )?;
        mention_event(
            tx,
            target.user_id,
            outcome.message.id,
            event.channel_id,
            event.seq,
        )?;
        published.push(event);
    }
    Ok((outcome, published))
}

#[allow(unused_imports)]
use std::collections::{HashMap, HashSet};

#[allow(unused_imports)]
use parley_protocol::*;

use super::PgStore;
#[allow(unused_imports)]
use crate::store::*;

impl MessageStore for PgStore {
    fn submit_message(&self, post: PostMessage) -> StoreFuture<'_, Committed<AppendOutcome>> {
        Box::pin(self.submit(move |tx, state| post_message(tx, state, &post)))
    }

    fn edit_message(&self, _edit: MessageEdit) -> StoreFuture<'_, Message> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_message(&self, _delete: MessageDelete) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn history(
        &self,
        _channel_id: i64,
        _before: Option<u64>,
        _limit: u32,
    ) -> StoreFuture<'_, HistorySlice> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

//! Messages (PostgreSQL): the idempotent send with its mentions, attachments and thread
//! summary, edits and deletes with their redaction rewrites (`redact.rs`); history pages are in
//! `history.rs`.

use parley_protocol::{Event, Message, UserRef};
use postgres::{GenericClient, Transaction};

use super::events::{append_event, store_event};
use super::{
    attachments::attachments_of,
    history::history,
    message_rows::{message_from_row, message_in, MESSAGE_SELECT},
    reads::{insert_mentions, mention_event},
    redact,
    search_text::vector_literal,
    threads::thread_reply,
    PgStore, WriterState,
};
use crate::{
    error::{Error, Result},
    store::{
        format_ts, frames, now_ms, refusals, AppendOutcome, Committed, HistorySlice, MessageDelete,
        MessageEdit, MessageStore, PostMessage, Published, StoreFuture,
    },
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
    let insert = state.prepared(
        tx,
        "INSERT INTO messages (channel_id, seq, author_id, client_id, text, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (author_id, client_id) DO NOTHING
         RETURNING id",
    )?;
    let inserted = tx.query_opt(
        &insert,
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

/// Takes the message's row lock: edits, deletes and reactions of one message, through any
/// node, run one after the other, each reading what the one before it left (the frame that
/// carries the current text, the reactions to count).
pub fn lock_message(tx: &mut Transaction<'_>, message_id: i64) -> Result<()> {
    tx.execute(
        "SELECT 1 FROM messages WHERE id = $1 FOR UPDATE",
        &[&message_id],
    )?;
    Ok(())
}

/// Replaces a message's text, keeping the old one in its edit history, and appends the
/// `message_edited` event. The caller checked who may edit.
pub fn edit_message(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    channel_id: i64,
    message_id: i64,
    text: &str,
    now: i64,
    editor: i64,
) -> Result<(Message, Published)> {
    lock_message(tx, message_id)?;
    let old = message_in(tx, channel_id, message_id)?
        .filter(|m| !m.deleted)
        .ok_or_else(|| refusals::message_not_found(message_id))?;
    if old.author.id != editor {
        return Err(refusals::not_the_editor());
    }
    let previous = redact::message_text_frame(tx, message_id, old.seq)?;
    // An indexed message is indexed again with its new text; one still waiting for the
    // indexer keeps waiting (it reads the text then).
    tx.execute(
        "UPDATE messages SET text = $2, edited_at = $3,
             search_vector = CASE WHEN search_vector IS NULL THEN NULL
                                  ELSE CAST($4::text AS tsvector) END
         WHERE id = $1",
        &[&message_id, &text, &now, &vector_literal(text)],
    )?;
    let mut message = message_in(tx, channel_id, message_id)?
        .ok_or_else(|| Error::internal("edited message vanished"))?;
    message.reactions = Vec::new(); // events carry the text; reactions have their own events
    let channel_name = message.channel.clone();
    let published = append_event(
        tx,
        state,
        channel_id,
        &channel_name,
        Event::MessageEdited {
            message: Box::new(message.clone()),
        },
        now,
        Some(editor),
    )?;
    tx.execute(
        "INSERT INTO message_edits (message_id, event_seq, old_text, edited_at)
         VALUES ($1, $2, $3, $4)",
        &[&message_id, &(published.seq as i64), &old.text, &now],
    )?;
    redact::message_edited(tx, channel_id, previous, &message)?;
    Ok((message, published))
}

/// Deletes a message's content everywhere it is stored (its text, its search vector, its edit
/// history, the stored frames of its `message` and `message_edited` events, which resuming
/// clients would replay) and appends the `message_deleted` event. The caller checked who may
/// delete, holding the message's row (`lock_message`).
pub fn delete_message(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    channel_id: i64,
    message_id: i64,
    by: &UserRef,
    now: i64,
) -> Result<Published> {
    let message = message_in(tx, channel_id, message_id)?
        .filter(|m| !m.deleted)
        .ok_or_else(|| refusals::message_not_found(message_id))?;
    let edit_seqs: Vec<i64> = tx
        .query(
            "SELECT event_seq FROM message_edits WHERE message_id = $1",
            &[&message_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.execute(
        "UPDATE messages SET text = '', deleted_at = $2, search_vector = NULL WHERE id = $1",
        &[&message_id, &now],
    )?;
    tx.execute(
        "DELETE FROM message_edits WHERE message_id = $1",
        &[&message_id],
    )?;
    tx.execute(
        "DELETE FROM reactions WHERE message_id = $1",
        &[&message_id],
    )?;
    // Its files are no longer reachable through it.
    tx.execute(
        "DELETE FROM message_attachments WHERE message_id = $1",
        &[&message_id],
    )?;
    let redacted = frames::redacted(&message);
    let frame = |seq: u64, event: Event| frames::event_frame(&message.channel, seq, event);
    let seq = message.seq as i64;
    let own = frame(
        message.seq,
        Event::Message {
            message: redacted.clone(),
        },
    )?;
    redact::set_frame(tx, channel_id, seq, &own)?;
    for seq in edit_seqs {
        let edited = frame(
            seq as u64,
            Event::MessageEdited {
                message: Box::new(redacted.clone()),
            },
        )?;
        redact::set_frame(tx, channel_id, seq, &edited)?;
    }
    // The mention notifications on personal channels carry the message too.
    let mention_events: Vec<(i64, i64, String)> = tx
        .query(
            "SELECT n.event_channel_id, n.event_seq, c.name FROM mentions n
             JOIN channels c ON c.id = n.event_channel_id
             WHERE n.message_id = $1 AND n.event_seq IS NOT NULL",
            &[&message_id],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (event_channel, event_seq, name) in mention_events {
        let text = frames::event_frame(
            &name,
            event_seq as u64,
            Event::Mention {
                message: Box::new(redacted.clone()),
                muted: false,
            },
        )?;
        redact::set_frame(tx, event_channel, event_seq, &text)?;
    }
    append_event(
        tx,
        state,
        channel_id,
        &message.channel,
        Event::MessageDeleted {
            message_id,
            message_seq: message.seq,
            by: by.clone(),
        },
        now,
        Some(by.id),
    )
}

/// A delete by the author or a manager (`forbidden` for anyone else).
fn delete_checked(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    delete: &MessageDelete,
) -> Result<Published> {
    lock_message(tx, delete.message_id)?;
    let author = message_in(tx, delete.channel_id, delete.message_id)?
        .filter(|m| !m.deleted)
        .map(|m| m.author.id)
        .ok_or_else(|| refusals::message_not_found(delete.message_id))?;
    if author != delete.by.id && !delete.as_manager {
        return Err(refusals::not_a_deleter());
    }
    delete_message(
        tx,
        state,
        delete.channel_id,
        delete.message_id,
        &delete.by,
        now_ms(),
    )
}

impl MessageStore for PgStore {
    fn submit_message(&self, post: PostMessage) -> StoreFuture<'_, Committed<AppendOutcome>> {
        // Repeatable: it only reads `post` and writes the database.
        Box::pin(self.submit_repeatable(move |tx, state| post_message(tx, state, &post)))
    }

    fn edit_message(&self, edit: MessageEdit) -> StoreFuture<'_, Message> {
        Box::pin(self.write(move |tx, state| {
            let (message, published) = edit_message(
                tx,
                state,
                edit.channel_id,
                edit.message_id,
                &edit.text,
                now_ms(),
                edit.editor,
            )?;
            Ok((message, vec![published]))
        }))
    }

    fn delete_message(&self, delete: MessageDelete) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            let published = delete_checked(tx, state, &delete)?;
            Ok(((), vec![published]))
        }))
    }

    fn history(
        &self,
        channel_id: i64,
        before: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'_, HistorySlice> {
        Box::pin(self.read(move |client| {
            let (messages, has_more) = history(client, channel_id, before, limit)?;
            Ok(HistorySlice { messages, has_more })
        }))
    }
}

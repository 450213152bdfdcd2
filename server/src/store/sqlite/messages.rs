//! Messages (SQLite): the idempotent send with its mentions, attachments and thread summary,
//! edits and deletes with their redaction rewrites, history pages.

use parley_protocol::{Event, Message, UserRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::events::append_event;
use super::{
    attachments::attachments_of,
    message_rows::{message_from_row, message_in, reactions_of, thread_summary, MESSAGE_SELECT},
    reads::{insert_mentions, mention_event, mentions_of},
    threads::thread_reply,
    SqliteStore, WriterState,
};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        format_ts, frames, now_ms, AppendOutcome, Committed, HistorySlice, MessageDelete,
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
    tx: &Connection,
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
    // The seq is only taken (`set_head` in `append_event`) once the row is in. A resend of a
    // stored message meets the (author, client_id) index and inserts nothing: one index probe
    // on every send instead of a lookup before each insert.
    let seq = state.next_seq(tx, channel_id)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO messages (channel_id, seq, author_id, client_id, text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (author_id, client_id) DO NOTHING",
        )?
        .execute(params![
            channel_id, seq as i64, author.id, client_id, text, now
        ])?;
    if inserted == 0 {
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
    }
    let mut message = Message {
        id: tx.last_insert_rowid(),
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
        tx.prepare_cached(
            "INSERT INTO message_attachments (message_id, attachment_id) VALUES (?1, ?2)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![message.id, id])?;
    }
    if !attachments.is_empty() {
        message.attachments = attachments_of(tx, message.id)?;
    }
    let published = append_event(
        tx,
        state,
        channel_id,
        channel_name,
        Event::Message {
            message: message.clone(),
        },
        now,
        Some(author.id),
    )?;
    debug_assert_eq!(published.seq, seq);
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
    conn: &Connection,
    author_id: i64,
    client_id: &str,
) -> Result<Option<Message>> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM messages WHERE author_id = ?1 AND client_id = ?2")?
        .query_row(params![author_id, client_id], |r| r.get(0))
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    Ok(conn
        .prepare_cached(&format!("{MESSAGE_SELECT} WHERE m.id = ?1"))?
        .query_row([id], message_from_row)
        .optional()?)
}

/// Messages before `before` (exclusive; None = newest), newest first, and whether older ones exist.
pub fn history(
    conn: &Connection,
    channel_id: i64,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<Message>, bool)> {
    let before = before.map(|b| b as i64).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "{MESSAGE_SELECT} WHERE m.channel_id = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"
    ))?;
    let mut messages = stmt
        .query_map(
            params![channel_id, before, limit as i64 + 1],
            message_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    for message in &mut messages {
        if message.deleted {
            message.edited_at = None;
            continue; // a deleted message is only its place in history
        }
        message.reactions = reactions_of(conn, message.id)?;
        message.mentions = mentions_of(conn, message.id)?;
        message.thread = thread_summary(conn, message.id)?.map(Box::new);
        message.attachments = attachments_of(conn, message.id)?;
    }
    Ok((messages, has_more))
}

/// Replaces a message's text, keeping the old one in its edit history, and appends the
/// `message_edited` event. The caller checked who may edit.
pub fn edit_message(
    tx: &Connection,
    state: &mut WriterState,
    channel_id: i64,
    message_id: i64,
    text: &str,
    now: i64,
    editor: i64,
) -> Result<(Message, Published)> {
    let old = message_in(tx, channel_id, message_id)?
        .filter(|m| !m.deleted)
        .ok_or_else(|| refusals::message_not_found(message_id))?;
    if old.author.id != editor {
        return Err(refusals::not_the_editor());
    }
    let previous = super::redact::message_text_frame(tx, message_id, old.seq)?;
    tx.prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![message_id, text, now])?;
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
    tx.prepare_cached(
        "INSERT INTO message_edits (message_id, event_seq, old_text, edited_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![message_id, published.seq as i64, old.text, now])?;
    super::redact::message_edited(tx, channel_id, previous, &message)?;
    Ok((message, published))
}

/// Deletes a message's content everywhere it is stored (its text, its edit history, the stored
/// frames of its `message` and `message_edited` events, which resuming clients would replay)
/// and appends the `message_deleted` event. The caller checked who may delete.
pub fn delete_message(
    tx: &Connection,
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
        .prepare_cached("SELECT event_seq FROM message_edits WHERE message_id = ?1")?
        .query_map([message_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.prepare_cached("UPDATE messages SET text = '', deleted_at = ?2 WHERE id = ?1")?
        .execute(params![message_id, now])?;
    tx.prepare_cached("DELETE FROM message_edits WHERE message_id = ?1")?
        .execute([message_id])?;
    tx.prepare_cached("DELETE FROM reactions WHERE message_id = ?1")?
        .execute([message_id])?;
    // Its files are no longer reachable through it.
    tx.prepare_cached("DELETE FROM message_attachments WHERE message_id = ?1")?
        .execute([message_id])?;
    let redacted = frames::redacted(&message);
    let frame = |seq: u64, event: Event| frames::event_frame(&message.channel, seq, event);
    let mut redact =
        tx.prepare_cached("UPDATE events SET frame = ?3 WHERE channel_id = ?1 AND seq = ?2")?;
    redact.execute(params![
        channel_id,
        message.seq as i64,
        frame(
            message.seq,
            Event::Message {
                message: redacted.clone()
            }
        )?
    ])?;
    for seq in edit_seqs {
        redact.execute(params![
            channel_id,
            seq,
            frame(
                seq as u64,
                Event::MessageEdited {
                    message: Box::new(redacted.clone())
                }
            )?
        ])?;
    }
    // The mention notifications on personal channels carry the message too.
    let mention_events: Vec<(i64, i64, String)> = tx
        .prepare_cached(
            "SELECT n.event_channel_id, n.event_seq, c.name FROM mentions n
             JOIN channels c ON c.id = n.event_channel_id
             WHERE n.message_id = ?1 AND n.event_seq IS NOT NULL",
        )?
        .query_map([message_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (event_channel, event_seq, name) in mention_events {
        let text = frames::event_frame(
            &name,
            event_seq as u64,
            Event::Mention {
                message: Box::new(redacted.clone()),
                muted: false,
            },
        )?;
        redact.execute(params![event_channel, event_seq, text])?;
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

/// A send in one transaction: the message (unless it is a repeat), for a thread reply the
/// root's summary with its `thread_updated` event, and one `mention` event per mentioned user
/// on their `@me` (a mention is never stored without its notification).
pub fn post_message(
    tx: &Connection,
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

/// A delete by the author or a manager (`forbidden` for anyone else).
fn delete_checked(
    tx: &Connection,
    state: &mut WriterState,
    delete: &MessageDelete,
) -> Result<Published> {
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

impl MessageStore for SqliteStore {
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
        Box::pin(self.read(move |conn| {
            let (messages, has_more) = history(conn, channel_id, before, limit)?;
            Ok(HistorySlice { messages, has_more })
        }))
    }
}

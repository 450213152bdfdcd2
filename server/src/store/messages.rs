//! Messages and the durable event log. Every durable event of a channel is one row of `events`
//! holding the exact frame subscribers received, so resuming replays identical bytes.

use parley_protocol::{
    ErrorCode, Event, EventFrame, Message, ReactionChange, ReactionCount, ServerFrame,
    ThreadSummary, UserRef,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::{attachments::attachments_of, channels, format_ts, Published, WriterState};
use crate::error::{Error, Result};

/// The result of a send.
#[derive(Debug, Clone)]
pub struct AppendOutcome {
    pub message: Message,
    /// The (author, client_id) pair had been stored before; `message` is the original.
    pub duplicate: bool,
}

/// A stored durable event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    /// The frame subscribers received, as JSON text.
    pub frame: String,
}

/// Appends a durable event to a channel: assigns the next seq, stores the serialized frame.
pub fn append_event(
    tx: &Connection,
    state: &mut WriterState,
    channel_id: i64,
    channel_name: &str,
    event: Event,
    now: i64,
    author_id: Option<i64>,
) -> Result<Published> {
    let seq = state.next_seq(tx, channel_id)?;
    let frame = ServerFrame::Event(EventFrame {
        channel: channel_name.to_owned(),
        seq: Some(seq),
        event,
    });
    let text = serde_json::to_string(&frame).map_err(Error::internal)?;
    tx.prepare_cached(
        "INSERT INTO events (channel_id, seq, created_at, frame) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![channel_id, seq as i64, now, text])?;
    state.set_head(channel_id, seq);
    Ok(Published {
        channel_id,
        seq,
        frame: text,
        author_id,
    })
}

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
    if let Some(original) = message_by_client_id(tx, author.id, client_id)? {
        return Ok((
            AppendOutcome {
                message: original,
                duplicate: true,
            },
            None,
        ));
    }
    let seq = state.next_seq(tx, channel_id)?;
    tx.prepare_cached(
        "INSERT INTO messages (channel_id, seq, author_id, client_id, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        channel_id, seq as i64, author.id, client_id, text, now
    ])?;
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
    message.attachments = attachments_of(tx, message.id)?;
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

pub(super) const MESSAGE_SELECT: &str =
    "SELECT m.id, c.name, m.seq, u.id, u.name, u.display_name, u.avatar,
        m.text, m.client_id, m.created_at, m.edited_at, m.deleted_at
    FROM messages m JOIN users u ON u.id = m.author_id JOIN channels c ON c.id = m.channel_id";

pub(super) fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    let ts: i64 = row.get(9)?;
    Ok(Message {
        id: row.get(0)?,
        channel: row.get(1)?,
        seq: row.get::<_, i64>(2)? as u64,
        author: UserRef {
            id: row.get(3)?,
            name: row.get(4)?,
            display_name: row.get(5)?,
            avatar: row.get(6)?,
        },
        text: row.get(7)?,
        client_id: row.get(8)?,
        created_at: format_ts(ts),
        ts,
        edited_at: row.get::<_, Option<i64>>(10)?.map(format_ts),
        deleted: row.get::<_, Option<i64>>(11)?.is_some(),
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    })
}

/// The message this author sent with this `client_id`, if any. Checked on every send, and
/// almost always absent: the cheap index probe runs first, the full load only on a hit.
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

/// Durable events with `after < seq <= until`, oldest first, at most `limit`.
pub fn events_between(
    conn: &Connection,
    channel_id: i64,
    after: u64,
    until: u64,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, frame FROM events WHERE channel_id = ?1 AND seq > ?2 AND seq <= ?3
         ORDER BY seq LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(
            params![channel_id, after as i64, until as i64, limit as i64],
            |r| {
                Ok(StoredEvent {
                    seq: r.get::<_, i64>(0)? as u64,
                    frame: r.get::<_, String>(1)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn count_events_between(
    conn: &Connection,
    channel_id: i64,
    after: u64,
    until: u64,
) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM events WHERE channel_id = ?1 AND seq > ?2 AND seq <= ?3",
        )?
        .query_row(params![channel_id, after as i64, until as i64], |r| {
            r.get(0)
        })?;
    Ok(n as u64)
}

/// Removes events (and their messages) older than `cutoff_ms` or beyond the newest `keep`
/// events. Returns the highest seq removed, if any.
pub fn prune(
    tx: &Connection,
    channel_id: i64,
    cutoff_ms: Option<i64>,
    keep: Option<u64>,
) -> Result<Option<u64>> {
    let mut through: Option<i64> = None;
    if let Some(cutoff) = cutoff_ms {
        let max: Option<i64> = tx.query_row(
            "SELECT max(seq) FROM events WHERE channel_id = ?1 AND created_at < ?2",
            params![channel_id, cutoff],
            |r| r.get(0),
        )?;
        through = through.max(max);
    }
    if let Some(keep) = keep.filter(|k| *k > 0) {
        let max: Option<i64> = tx
            .query_row(
                "SELECT seq FROM events WHERE channel_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                params![channel_id, keep as i64],
                |r| r.get(0),
            )
            .optional()?;
        through = through.max(max);
    }
    let Some(through) = through else {
        return Ok(None);
    };
    tx.execute(
        "DELETE FROM events WHERE channel_id = ?1 AND seq <= ?2",
        params![channel_id, through],
    )?;
    tx.execute(
        "DELETE FROM messages WHERE channel_id = ?1 AND seq <= ?2",
        params![channel_id, through],
    )?;
    channels::set_pruned_through(tx, channel_id, through as u64)?;
    Ok(Some(through as u64))
}

/// Reactions of a message, by emoji (first reacted first).
pub fn reactions_of(conn: &Connection, message_id: i64) -> Result<Vec<ReactionCount>> {
    let mut stmt = conn.prepare_cached(
        "SELECT emoji, user_id FROM reactions WHERE message_id = ?1 ORDER BY created_at, user_id",
    )?;
    let rows = stmt
        .query_map([message_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out: Vec<ReactionCount> = Vec::new();
    for (emoji, user) in rows {
        match out.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => {
                r.count += 1;
                r.users.push(user);
            }
            None => out.push(ReactionCount {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    Ok(out)
}

/// A message of a channel by id, with its reactions.
pub fn message_in(conn: &Connection, channel_id: i64, message_id: i64) -> Result<Option<Message>> {
    let found = conn
        .prepare_cached(&format!(
            "{MESSAGE_SELECT} WHERE m.id = ?1 AND m.channel_id = ?2"
        ))?
        .query_row(params![message_id, channel_id], message_from_row)
        .optional()?;
    match found {
        Some(mut message) => {
            message.reactions = reactions_of(conn, message.id)?;
            message.mentions = mentions_of(conn, message.id)?;
            message.attachments = attachments_of(conn, message.id)?;
            message.thread = thread_summary(conn, message.id)?.map(Box::new);
            Ok(Some(message))
        }
        None => Ok(None),
    }
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
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MessageNotFound,
                format!("no message {message_id}"),
            )
        })?;
    if old.author.id != editor {
        return Err(Error::forbidden("only its author may edit a message"));
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
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MessageNotFound,
                format!("no message {message_id}"),
            )
        })?;
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
    let mut redacted = message.clone();
    redacted.text = String::new();
    redacted.deleted = true;
    redacted.edited_at = None;
    redacted.reactions = Vec::new();
    redacted.mentions = Vec::new();
    redacted.attachments = Vec::new();
    redacted.thread = None;
    let frame = |seq: u64, event: Event| {
        serde_json::to_string(&ServerFrame::Event(EventFrame {
            channel: message.channel.clone(),
            seq: Some(seq),
            event,
        }))
        .map_err(Error::internal)
    };
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
        let text = serde_json::to_string(&ServerFrame::Event(EventFrame {
            channel: name,
            seq: Some(event_seq as u64),
            event: Event::Mention {
                message: Box::new(redacted.clone()),
                muted: false,
            },
        }))
        .map_err(Error::internal)?;
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

/// One user's reaction to add or remove.
pub struct Reacting<'a> {
    pub channel_id: i64,
    pub message_id: i64,
    pub user: &'a UserRef,
    pub emoji: &'a str,
    pub add: bool,
    pub now: i64,
}

/// Adds or removes one user's reaction; no event when nothing changed (already there / not
/// there).
pub fn react(
    tx: &Connection,
    state: &mut WriterState,
    reacting: Reacting<'_>,
) -> Result<(ReactionChange, Option<Published>)> {
    let Reacting {
        channel_id,
        message_id,
        user,
        emoji,
        add,
        now,
    } = reacting;
    let message = message_in(tx, channel_id, message_id)?
        .filter(|m| !m.deleted)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::MessageNotFound,
                format!("no message {message_id}"),
            )
        })?;
    let changed = if add {
        tx.prepare_cached(
            "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![message_id, user.id, emoji, now])?
    } else {
        tx.prepare_cached(
            "DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3",
        )?
        .execute(params![message_id, user.id, emoji])?
    } > 0;
    let count: i64 = tx
        .prepare_cached("SELECT count(*) FROM reactions WHERE message_id = ?1 AND emoji = ?2")?
        .query_row(params![message_id, emoji], |r| r.get(0))?;
    let change = ReactionChange {
        channel: message.channel.clone(),
        message_id,
        emoji: emoji.to_owned(),
        user: user.clone(),
        added: add,
        count: count as u64,
    };
    if !changed {
        return Ok((change, None));
    }
    let published = append_event(
        tx,
        state,
        channel_id,
        &message.channel,
        Event::Reaction {
            reaction: change.clone(),
        },
        now,
        Some(user.id),
    )?;
    Ok((change, Some(published)))
}

pub fn mentions_of(conn: &Connection, message_id: i64) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id FROM mentions WHERE message_id = ?1 ORDER BY user_id")?;
    let rows = stmt
        .query_map([message_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

pub fn insert_mentions(tx: &Connection, message: &Message, channel_id: i64) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO mentions (user_id, message_id, channel_id, seq) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?;
    for user in &message.mentions {
        stmt.execute(params![user, message.id, channel_id, message.seq as i64])?;
    }
    Ok(())
}

/// (last read seq, muted until) of a user in a channel.
pub fn read_state(conn: &Connection, user_id: i64, channel_id: i64) -> Result<(u64, Option<i64>)> {
    Ok(conn
        .prepare_cached(
            "SELECT last_read, muted_until FROM read_state WHERE user_id = ?1 AND channel_id = ?2",
        )?
        .query_row(params![user_id, channel_id], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<i64>>(1)?))
        })
        .optional()?
        .unwrap_or((0, None)))
}

/// Moves the read position forward (never back).
pub fn mark_read(tx: &Connection, user_id: i64, channel_id: i64, seq: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO read_state (user_id, channel_id, last_read) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id, channel_id) DO UPDATE SET last_read = max(last_read, excluded.last_read)",
    )?
    .execute(params![user_id, channel_id, seq as i64])?;
    Ok(())
}

pub fn set_mute(tx: &Connection, user_id: i64, channel_id: i64, until: Option<i64>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO read_state (user_id, channel_id, muted_until) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id, channel_id) DO UPDATE SET muted_until = excluded.muted_until",
    )?
    .execute(params![user_id, channel_id, until])?;
    Ok(())
}

/// Messages by others after `last_read` (not deleted), and how many of them mention the user.
pub fn unread_counts(
    conn: &Connection,
    user_id: i64,
    channel_id: i64,
    last_read: u64,
) -> Result<(u64, u64)> {
    let unread: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM messages WHERE channel_id = ?1 AND seq > ?2 AND author_id != ?3
             AND deleted_at IS NULL",
        )?
        .query_row(params![channel_id, last_read as i64, user_id], |r| r.get(0))?;
    let mentions: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM mentions n JOIN messages m ON m.id = n.message_id
             WHERE n.user_id = ?1 AND n.channel_id = ?2 AND n.seq > ?3 AND m.deleted_at IS NULL",
        )?
        .query_row(params![user_id, channel_id, last_read as i64], |r| r.get(0))?;
    Ok((unread as u64, mentions as u64))
}

/// The thread under `root_id`, if one was opened.
pub fn thread_summary(conn: &Connection, root_id: i64) -> Result<Option<ThreadSummary>> {
    let row = conn
        .prepare_cached(
            "SELECT c.name, t.reply_count, t.last_reply_at, t.participants
             FROM threads t JOIN channels c ON c.id = t.channel_id WHERE t.root_id = ?1",
        )?
        .query_row([root_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    Ok(
        row.map(|(channel, count, last, participants)| ThreadSummary {
            root_id,
            channel,
            reply_count: count.max(0) as u64,
            last_reply_at: last.map(format_ts),
            participants: serde_json::from_str(&participants).unwrap_or_default(),
        }),
    )
}

/// Creates the channel of the thread under `root_id` (in `parent_id`).
pub fn open_thread(
    tx: &Connection,
    root_id: i64,
    parent_id: i64,
    created_by: i64,
) -> Result<super::ChannelRecord> {
    let name = format!("thread#{root_id}");
    if let Some(existing) = super::channels::by_name(tx, &name)? {
        return Ok(existing);
    }
    tx.execute(
        "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
             created_at, parent_id, thread_root)
         VALUES (?1, 'public', 'required', 0, ?2, ?3, ?4, ?5, ?6)",
        params![
            name,
            super::channels::new_epoch(),
            created_by,
            super::now_ms(),
            parent_id,
            root_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO threads (root_id, channel_id) VALUES (?1, ?2)",
        params![root_id, id],
    )?;
    super::channels::by_id(tx, id)?.ok_or_else(|| Error::internal("thread channel vanished"))
}

/// Counts a reply in its thread's summary.
pub fn thread_reply(
    tx: &Connection,
    root_id: i64,
    author_id: i64,
    now: i64,
) -> Result<ThreadSummary> {
    let mut summary = thread_summary(tx, root_id)?
        .ok_or_else(|| Error::new(ErrorCode::MessageNotFound, "this thread's root is gone"))?;
    if !summary.participants.contains(&author_id) {
        summary.participants.push(author_id);
    }
    let participants = serde_json::to_string(&summary.participants).map_err(Error::internal)?;
    tx.prepare_cached(
        "UPDATE threads SET reply_count = reply_count + 1, last_reply_at = ?2, participants = ?3
         WHERE root_id = ?1",
    )?
    .execute(params![root_id, now, participants])?;
    summary.reply_count += 1;
    summary.last_reply_at = Some(format_ts(now));
    Ok(summary)
}

/// Indexes messages written since the last run (at most `batch` ids); true when more wait.
pub fn index_pending(tx: &Connection, batch: i64) -> Result<bool> {
    let through: i64 = tx
        .prepare_cached("SELECT indexed_through FROM search_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let newest: i64 = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))?;
    if newest <= through {
        return Ok(false);
    }
    let upto = newest.min(through + batch);
    tx.prepare_cached(
        "INSERT INTO messages_fts (rowid, text)
             SELECT id, text FROM messages WHERE id > ?1 AND id <= ?2 AND deleted_at IS NULL",
    )?
    .execute(params![through, upto])?;
    tx.prepare_cached("UPDATE search_state SET indexed_through = ?1 WHERE id = 1")?
        .execute([upto])?;
    Ok(upto < newest)
}

/// Records where a mention's notification event was stored.
pub fn mention_event(
    tx: &Connection,
    user_id: i64,
    message_id: i64,
    event_channel_id: i64,
    event_seq: u64,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE mentions SET event_channel_id = ?3, event_seq = ?4
         WHERE user_id = ?1 AND message_id = ?2",
    )?
    .execute(params![
        user_id,
        message_id,
        event_channel_id,
        event_seq as i64
    ])?;
    Ok(())
}

pub fn set_read_receipts(tx: &Connection, channel_id: i64, on: bool) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO channel_options (channel_id, read_receipts) VALUES (?1, ?2)
         ON CONFLICT(channel_id) DO UPDATE SET read_receipts = excluded.read_receipts",
    )?
    .execute(params![channel_id, on])?;
    Ok(())
}

pub fn read_receipts_on(conn: &Connection, channel_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT read_receipts FROM channel_options WHERE channel_id = ?1")?
        .query_row([channel_id], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

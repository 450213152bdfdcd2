//! Loading a message as clients see it (SQLite): its row, and the reactions, mentions,
//! attachments and thread summary that go with it. Writers of messages, reactions and threads
//! read through here, so none of them depends on another.

use parley_protocol::{Message, ReactionCount, ThreadSummary, UserRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::{attachments::attachments_of, reads::mentions_of};
use crate::error::Result;
use crate::store::{format_ts, frames};

pub const MESSAGE_SELECT: &str =
    "SELECT m.id, c.name, m.seq, u.id, u.name, u.display_name, u.avatar,
        m.text, m.client_id, m.created_at, m.edited_at, m.deleted_at
    FROM messages m JOIN users u ON u.id = m.author_id JOIN channels c ON c.id = m.channel_id";

pub fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
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
    Ok(frames::group_reactions(rows))
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

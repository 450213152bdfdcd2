//! Loading a message as clients see it (PostgreSQL): its row, and the reactions, mentions,
//! attachments and thread summary that go with it. Writers of messages, reactions and threads
//! read through here, so none of them depends on another.

use parley_protocol::{Message, ReactionCount, ThreadSummary, UserRef};
use postgres::{GenericClient, Row};

use super::{attachments::attachments_of, reads::mentions_of};
use crate::error::Result;
use crate::store::{format_ts, frames};

pub const MESSAGE_SELECT: &str =
    "SELECT m.id, c.name, m.seq, u.id, u.name, u.display_name, u.avatar,
        m.text, m.client_id, m.created_at, m.edited_at, m.deleted_at
    FROM messages m JOIN users u ON u.id = m.author_id JOIN channels c ON c.id = m.channel_id";

pub fn message_from_row(row: &Row) -> Message {
    let ts: i64 = row.get(9);
    Message {
        id: row.get(0),
        channel: row.get(1),
        seq: row.get::<_, i64>(2) as u64,
        author: UserRef {
            id: row.get(3),
            name: row.get(4),
            display_name: row.get(5),
            avatar: row.get(6),
        },
        text: row.get(7),
        client_id: row.get(8),
        created_at: format_ts(ts),
        ts,
        edited_at: row.get::<_, Option<i64>>(10).map(format_ts),
        deleted: row.get::<_, Option<i64>>(11).is_some(),
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    }
}

/// A message by id (without what goes with it).
pub fn message_row(client: &mut impl GenericClient, message_id: i64) -> Result<Option<Message>> {
    Ok(client
        .query_opt(&format!("{MESSAGE_SELECT} WHERE m.id = $1"), &[&message_id])?
        .map(|r| message_from_row(&r)))
}

/// A message of a channel by id, with its reactions, mentions, attachments and thread.
pub fn message_in(
    client: &mut impl GenericClient,
    channel_id: i64,
    message_id: i64,
) -> Result<Option<Message>> {
    let found = client
        .query_opt(
            &format!("{MESSAGE_SELECT} WHERE m.id = $1 AND m.channel_id = $2"),
            &[&message_id, &channel_id],
        )?
        .map(|r| message_from_row(&r));
    match found {
        Some(mut message) => {
            message.reactions = reactions_of(client, message.id)?;
            message.mentions = mentions_of(client, message.id)?;
            message.attachments = attachments_of(client, message.id)?;
            message.thread = thread_summary(client, message.id)?.map(Box::new);
            Ok(Some(message))
        }
        None => Ok(None),
    }
}

/// Reactions of a message, by emoji (first reacted first).
pub fn reactions_of(
    client: &mut impl GenericClient,
    message_id: i64,
) -> Result<Vec<ReactionCount>> {
    let rows = client.query(
        "SELECT emoji, user_id FROM reactions WHERE message_id = $1 ORDER BY created_at, user_id",
        &[&message_id],
    )?;
    Ok(frames::group_reactions(
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))),
    ))
}

/// The thread under `root_id`, if one was opened.
pub fn thread_summary(
    client: &mut impl GenericClient,
    root_id: i64,
) -> Result<Option<ThreadSummary>> {
    let row = client.query_opt(
        "SELECT c.name, t.reply_count, t.last_reply_at, t.participants
         FROM threads t JOIN channels c ON c.id = t.channel_id WHERE t.root_id = $1",
        &[&root_id],
    )?;
    Ok(row.map(|r| ThreadSummary {
        root_id,
        channel: r.get(0),
        reply_count: r.get::<_, i64>(1).max(0) as u64,
        last_reply_at: r.get::<_, Option<i64>>(2).map(format_ts),
        participants: serde_json::from_str(r.get(3)).unwrap_or_default(),
    }))
}

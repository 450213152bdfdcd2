//! History pages (PostgreSQL): a page of messages with what goes with them, loaded in one
//! snapshot and a fixed number of statements (the reactions, mentions, attachments and thread
//! summaries of the whole page at once: the database is a round trip away, not in-process).

use std::collections::HashMap;

use parley_protocol::{Attachment, Message, ThreadSummary};
use postgres::Client;

use super::{
    attachments::{attachment_from_row, ATTACHMENT_COLUMNS},
    message_rows::{message_from_row, MESSAGE_SELECT},
};
use crate::{
    error::Result,
    store::{format_ts, frames},
};

/// Messages before `before` (exclusive; None = newest), newest first, and whether older ones
/// exist.
pub fn history(
    client: &mut Client,
    channel_id: i64,
    before: Option<u64>,
    limit: u32,
) -> Result<(Vec<Message>, bool)> {
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    // One snapshot: a page never shows a reaction or reply its messages do not have yet.
    let mut tx = super::snapshot(client)?;
    let mut messages: Vec<Message> = tx
        .query(
            &format!(
                "{MESSAGE_SELECT} WHERE m.channel_id = $1 AND m.seq < $2
                 ORDER BY m.seq DESC LIMIT $3"
            ),
            &[&channel_id, &before, &(i64::from(limit) + 1)],
        )?
        .iter()
        .map(message_from_row)
        .collect();
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let mut live = Vec::new();
    for message in &mut messages {
        if message.deleted {
            message.edited_at = None; // a deleted message is only its place in history
        } else {
            live.push(message.id);
        }
    }
    if live.is_empty() {
        tx.commit()?;
        return Ok((messages, has_more));
    }
    let mut reactions: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    for r in tx.query(
        "SELECT message_id, emoji, user_id FROM reactions WHERE message_id = ANY($1)
         ORDER BY message_id, created_at, user_id",
        &[&live],
    )? {
        reactions
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let mut mentions: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in tx.query(
        "SELECT message_id, user_id FROM mentions WHERE message_id = ANY($1)
         ORDER BY message_id, user_id",
        &[&live],
    )? {
        mentions.entry(r.get(0)).or_default().push(r.get(1));
    }
    let mut attachments: HashMap<i64, Vec<Attachment>> = HashMap::new();
    for r in tx.query(
        &format!(
            "SELECT {ATTACHMENT_COLUMNS}, ma.message_id FROM message_attachments ma
             JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ANY($1)
             ORDER BY ma.message_id, a.id"
        ),
        &[&live],
    )? {
        attachments
            .entry(r.get(8))
            .or_default()
            .push(attachment_from_row(&r));
    }
    let mut threads: HashMap<i64, ThreadSummary> = HashMap::new();
    for r in tx.query(
        "SELECT t.root_id, c.name, t.reply_count, t.last_reply_at, t.participants
         FROM threads t JOIN channels c ON c.id = t.channel_id WHERE t.root_id = ANY($1)",
        &[&live],
    )? {
        let root_id: i64 = r.get(0);
        threads.insert(
            root_id,
            ThreadSummary {
                root_id,
                channel: r.get(1),
                reply_count: r.get::<_, i64>(2).max(0) as u64,
                last_reply_at: r.get::<_, Option<i64>>(3).map(format_ts),
                participants: serde_json::from_str(r.get(4)).unwrap_or_default(),
            },
        );
    }
    tx.commit()?;
    for message in messages.iter_mut().filter(|m| !m.deleted) {
        message.reactions =
            frames::group_reactions(reactions.remove(&message.id).unwrap_or_default());
        message.mentions = mentions.remove(&message.id).unwrap_or_default();
        message.thread = threads.remove(&message.id).map(Box::new);
        message.attachments = attachments.remove(&message.id).unwrap_or_default();
    }
    Ok((messages, has_more))
}

//! Messages in the cache: storing them as events arrive (edits, deletions, reactions and thread
//! summaries land on the cached copy), history pages and the FTS5 search index.

use parley_protocol::{Message, UserRef};
use rusqlite::{params, Connection, OptionalExtension};

use super::SearchHit;
use crate::{Error, Result};

/// Stores a message delivered as the channel's event `seq`; advances the resume point when
/// `advance` (events do; send replies do not, so a gap before them is still fetched).
/// Returns false when it was stored already.
pub fn insert_message(conn: &Connection, message: &Message, advance: bool) -> Result<bool> {
    if message.deleted {
        // A deleted message's place in history: nothing to keep.
        if advance {
            advance_to(conn, &message.channel, message.seq)?;
        }
        return Ok(false);
    }
    let author =
        serde_json::to_string(&message.author).map_err(|e| Error::Storage(e.to_string()))?;
    let inserted =
        conn.prepare_cached(
            "INSERT INTO messages (channel, seq, id, author_id, author, text, client_id,
                 created_at, ts, extra)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(channel, seq) DO NOTHING",
        )?
        .execute(params![
            message.channel,
            message.seq as i64,
            message.id,
            message.author.id,
            author,
            message.text,
            message.client_id,
            message.created_at,
            message.ts,
            extra_of(message)
        ])? > 0;
    if advance {
        advance_to(conn, &message.channel, message.seq)?;
    }
    Ok(inserted)
}

/// Applies an edit to the cached message (its text, in the search index too).
pub fn edit_cached(conn: &Connection, message: &Message) -> Result<()> {
    conn.prepare_cached("UPDATE messages SET text = ?3 WHERE channel = ?1 AND seq = ?2")?
        .execute(params![message.channel, message.seq as i64, message.text])?;
    let edited_at = message.edited_at.clone();
    update_message(conn, &message.channel, "seq", message.seq as i64, |m| {
        m.edited_at = edited_at;
    })?;
    Ok(())
}

/// Removes a deleted message from the cache and the search index.
pub fn delete_cached(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM messages WHERE channel = ?1 AND seq = ?2")?
        .execute(params![channel, seq as i64])?;
    Ok(())
}

/// Records that every event up to `seq` was stored (non-message events count too).
pub fn advance_to(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, last_seq) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
    )?
    .execute(params![channel, seq as i64])?;
    Ok(())
}

/// The parts of a message beyond its columns, as JSON (None when there are none).
fn extra_of(message: &Message) -> Option<String> {
    let extra = serde_json::json!({
        "edited_at": message.edited_at,
        "thread": message.thread,
        "attachments": message.attachments,
        "mentions": message.mentions,
        "reactions": message.reactions,
    });
    let empty = message.edited_at.is_none()
        && message.thread.is_none()
        && message.attachments.is_empty()
        && message.mentions.is_empty()
        && message.reactions.is_empty();
    (!empty).then(|| extra.to_string())
}

fn apply_extra(message: &mut Message, extra: Option<String>) {
    let Some(extra) = extra.and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok()) else {
        return;
    };
    let get = |key: &str| extra.get(key).cloned().unwrap_or_default();
    message.edited_at = serde_json::from_value(get("edited_at")).unwrap_or_default();
    message.thread = serde_json::from_value(get("thread")).unwrap_or_default();
    message.attachments = serde_json::from_value(get("attachments")).unwrap_or_default();
    message.mentions = serde_json::from_value(get("mentions")).unwrap_or_default();
    message.reactions = serde_json::from_value(get("reactions")).unwrap_or_default();
}

/// Reads a cached message, changes it, writes its extra parts back.
fn update_message(
    conn: &Connection,
    channel: &str,
    pick: &str,
    key: i64,
    change: impl FnOnce(&mut Message),
) -> Result<Option<Message>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel = ?1 AND {pick} = ?2"
        ))?
        .query_row(params![channel, key], message_from_row)
        .optional()?;
    let Some(mut message) = found else {
        return Ok(None);
    };
    change(&mut message);
    conn.prepare_cached("UPDATE messages SET extra = ?3 WHERE channel = ?1 AND seq = ?2")?
        .execute(params![channel, message.seq as i64, extra_of(&message)])?;
    Ok(Some(message))
}

/// A reaction change lands on the cached message (counts and who).
pub fn react_cached(conn: &Connection, r: &parley_protocol::ReactionChange) -> Result<()> {
    update_message(conn, &r.channel, "id", r.message_id, |m| {
        let entry = match m.reactions.iter_mut().position(|x| x.emoji == r.emoji) {
            Some(i) => &mut m.reactions[i],
            None => {
                m.reactions.push(parley_protocol::ReactionCount {
                    emoji: r.emoji.clone(),
                    count: 0,
                    users: Vec::new(),
                });
                let last = m.reactions.len() - 1;
                &mut m.reactions[last]
            }
        };
        entry.users.retain(|u| *u != r.user.id);
        if r.added {
            entry.users.push(r.user.id);
        }
        entry.count = r.count;
        m.reactions.retain(|x| x.count > 0);
    })?;
    Ok(())
}

/// A thread's new summary lands on its cached root.
pub fn thread_cached(
    conn: &Connection,
    channel: &str,
    thread: &parley_protocol::ThreadSummary,
) -> Result<()> {
    update_message(conn, channel, "id", thread.root_id, |m| {
        m.thread = Some(Box::new(thread.clone()));
    })?;
    Ok(())
}

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    let author: String = row.get(4)?;
    let author: UserRef = serde_json::from_str(&author).unwrap_or(UserRef {
        id: row.get(3)?,
        name: String::new(),
        display_name: None,
        avatar: None,
    });
    Ok(Message {
        channel: row.get(0)?,
        seq: row.get::<_, i64>(1)? as u64,
        id: row.get(2)?,
        author,
        text: row.get(5)?,
        client_id: row.get(6)?,
        created_at: row.get(7)?,
        ts: row.get(8)?,
        edited_at: None,
        deleted: false,
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    })
    .map(|mut m| {
        apply_extra(&mut m, row.get::<_, Option<String>>(9).ok().flatten());
        m
    })
}

const MESSAGE_COLUMNS: &str =
    "channel, seq, id, author_id, author, text, client_id, created_at, ts, extra";

/// The newest `limit` messages before `before` (all when None), oldest first.
pub fn history(
    conn: &Connection,
    channel: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT ?3"
    ))?;
    let mut rows = stmt
        .query_map(
            params![channel, before.map_or(i64::MAX, |b| b as i64), limit],
            message_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// Full-text search over the cache, best matches first. `query` is plain words (each must
/// appear; the last may be a prefix); FTS syntax characters are neutralised.
pub fn search(
    conn: &Connection,
    query: &str,
    channel: Option<&str>,
    limit: u32,
) -> Result<Vec<SearchHit>> {
    let Some(fts) = parley_protocol::search_terms(query) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.channel, m.seq, m.id, m.author_id, m.author, m.text, m.client_id,
             m.created_at, m.ts, m.extra, snippet(messages_fts, 0, '[', ']', '…', 12)
         FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
         WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.channel = ?2)
         ORDER BY rank LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![fts, channel, limit], |r| {
            Ok(SearchHit {
                message: message_from_row(r)?,
                snippet: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The channel of a cached message (not a thread reply), by its server id.
pub fn message_channel(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT channel FROM messages WHERE id = ?1 AND channel NOT LIKE 'thread#%' LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn message_count(conn: &Connection, channel: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM messages WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))?;
    Ok(n as u64)
}

//! Read positions, mutes, unread counts, mentions and read receipts (SQLite).

use parley_protocol::{Event, Message};
use rusqlite::{params, Connection, OptionalExtension};

use super::{events::append_event, SqliteStore};
use crate::{
    error::Result,
    store::{now_ms, ReadCounts, ReadMark, ReadPosition, ReadStore, StoreFuture},
};

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

fn position(conn: &Connection, user_id: i64, channel_id: i64) -> Result<ReadPosition> {
    let (last_read, muted_until) = read_state(conn, user_id, channel_id)?;
    Ok(ReadPosition {
        last_read,
        muted_until,
    })
}

impl ReadStore for SqliteStore {
    fn read_position(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadPosition> {
        Box::pin(self.read(move |conn| position(conn, user_id, channel_id)))
    }

    fn read_counts(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadCounts> {
        Box::pin(self.read(move |conn| {
            let position = position(conn, user_id, channel_id)?;
            let (unread, mentions) = unread_counts(conn, user_id, channel_id, position.last_read)?;
            Ok(ReadCounts {
                position,
                unread,
                mentions,
            })
        }))
    }

    fn mutes(&self, channel_id: i64, user_ids: Vec<i64>) -> StoreFuture<'_, Vec<Option<i64>>> {
        Box::pin(self.read(move |conn| {
            user_ids
                .iter()
                .map(|user| Ok(read_state(conn, *user, channel_id)?.1))
                .collect()
        }))
    }

    fn mark_read(&self, mark: ReadMark) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, state| {
            let ReadMark {
                user,
                channel_id,
                channel_name,
                seq,
            } = mark;
            let (before, _) = read_state(tx, user.id, channel_id)?;
            if seq <= before {
                return Ok((false, Vec::new()));
            }
            mark_read(tx, user.id, channel_id, seq)?;
            // Members of channels with read receipts see how far each read.
            let mut published = Vec::new();
            if read_receipts_on(tx, channel_id)? {
                let user_id = user.id;
                published.push(append_event(
                    tx,
                    state,
                    channel_id,
                    &channel_name,
                    Event::ReadReceipt { user, seq },
                    now_ms(),
                    Some(user_id),
                )?);
            }
            Ok((true, published))
        }))
    }

    fn set_mute(&self, user_id: i64, channel_id: i64, until: Option<i64>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| {
            let (_, current) = read_state(tx, user_id, channel_id)?;
            if current == until {
                return Ok((false, Vec::new()));
            }
            set_mute(tx, user_id, channel_id, until)?;
            Ok((true, Vec::new()))
        }))
    }
}

//! Channels in the cache: which are followed, their resume points (epoch, last stored seq),
//! the server's description of each, read positions, members and presence last seen.

use parley_protocol::UserRef;
use rusqlite::{params, Connection, OptionalExtension};

use crate::Result;

/// Where to resume a channel: (epoch, last stored seq).
pub fn resume_point(conn: &Connection, channel: &str) -> Result<(Option<String>, u64)> {
    Ok(conn
        .prepare_cached("SELECT epoch, last_seq FROM channels WHERE name = ?1")?
        .query_row([channel], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .optional()?
        .unwrap_or((None, 0)))
}

pub fn set_subscribed(conn: &Connection, channel: &str, subscribed: bool) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, subscribed) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET subscribed = excluded.subscribed",
    )?
    .execute(params![channel, subscribed])?;
    Ok(())
}

pub fn subscribed_channels(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM channels WHERE subscribed = 1 ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// A new epoch means a recreated history: the cached one is dropped.
pub fn set_epoch(conn: &mut Connection, channel: &str, epoch: &str) -> Result<bool> {
    let tx = conn.transaction()?;
    let old: Option<Option<String>> = tx
        .query_row(
            "SELECT epoch FROM channels WHERE name = ?1",
            [channel],
            |r| r.get(0),
        )
        .optional()?;
    let changed = matches!(&old, Some(Some(e)) if e != epoch);
    if changed {
        tx.execute("DELETE FROM messages WHERE channel = ?1", [channel])?;
        tx.execute("DELETE FROM read_positions WHERE channel = ?1", [channel])?;
        tx.execute(
            "UPDATE channels SET last_seq = 0 WHERE name = ?1",
            [channel],
        )?;
    }
    tx.execute(
        "INSERT INTO channels (name, epoch) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET epoch = excluded.epoch",
        params![channel, epoch],
    )?;
    tx.commit()?;
    Ok(changed)
}

/// Forgets a channel's cached history and resumes from `head`.
pub fn reset_channel(conn: &Connection, channel: &str, head: u64) -> Result<()> {
    conn.execute("DELETE FROM messages WHERE channel = ?1", [channel])?;
    conn.execute("DELETE FROM read_positions WHERE channel = ?1", [channel])?;
    conn.execute(
        "UPDATE channels SET last_seq = ?2 WHERE name = ?1",
        params![channel, head as i64],
    )?;
    Ok(())
}

pub fn save_channel_info(conn: &Connection, channel: &str, info: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, info) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET info = excluded.info",
    )?
    .execute(params![channel, info])?;
    Ok(())
}

/// A new topic in the cached description of a channel (None: cleared).
pub fn set_topic(conn: &Connection, channel: &str, topic: Option<&str>) -> Result<()> {
    conn.prepare_cached(
        "UPDATE channels SET info = json_set(info, '$.topic', ?2)
         WHERE name = ?1 AND info IS NOT NULL AND json_valid(info)",
    )?
    .execute(params![channel, topic])?;
    Ok(())
}

/// A cached channel: name, the server's description (JSON), followed, last stored seq.
pub type ChannelRow = (String, Option<String>, bool, u64);

pub fn channel_infos(conn: &Connection) -> Result<Vec<ChannelRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, info, subscribed, last_seq FROM channels ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn set_read(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO read_positions (channel, seq) VALUES (?1, ?2)
         ON CONFLICT(channel) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![channel, seq as i64])?;
    Ok(())
}

pub fn read_position(conn: &Connection, channel: &str) -> Result<u64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM read_positions WHERE channel = ?1")?
        .query_row([channel], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64)
}

pub fn saw_presence(
    conn: &Connection,
    channel: &str,
    user: &UserRef,
    status: &str,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO presence (channel, user_id, name, status, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(channel, user_id) DO UPDATE SET name = excluded.name,
             status = excluded.status, last_seen = excluded.last_seen",
    )?
    .execute(params![channel, user.id, user.name, status, at])?;
    Ok(())
}

pub fn set_member(conn: &Connection, channel: &str, user: &UserRef, member: bool) -> Result<()> {
    if member {
        conn.prepare_cached(
            "INSERT INTO members (channel, user_id, name) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET name = excluded.name",
        )?
        .execute(params![channel, user.id, user.name])?;
    } else {
        conn.prepare_cached("DELETE FROM members WHERE channel = ?1 AND user_id = ?2")?
            .execute(params![channel, user.id])?;
    }
    Ok(())
}

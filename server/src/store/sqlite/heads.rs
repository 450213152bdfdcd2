//! A channel's position in its event log (SQLite): its head seq, the last one allocated, and
//! the seq through which retention has pruned it. The writer allocates seqs from the head; the
//! log and subscriptions read both.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::store::refusals;

/// The last seq allocated in a channel.
pub fn head_seq(conn: &Connection, channel_id: i64) -> Result<u64> {
    let head: Option<i64> = conn
        .prepare_cached("SELECT head_seq FROM channels WHERE id = ?1")?
        .query_row([channel_id], |r| r.get(0))
        .optional()?;
    head.map(|h| h as u64).ok_or_else(refusals::channel_gone)
}

/// The seq through which retention removed a channel's events (0: nothing pruned).
pub fn pruned_through(conn: &Connection, channel_id: i64) -> Result<u64> {
    let seq: Option<i64> = conn
        .prepare_cached("SELECT pruned_through FROM channels WHERE id = ?1")?
        .query_row([channel_id], |r| r.get(0))
        .optional()?;
    seq.map(|s| s as u64).ok_or_else(refusals::channel_gone)
}

/// Writes back a channel's head (the writer does, once per channel per batch).
pub fn set_head(conn: &Connection, channel_id: i64, seq: u64) -> Result<()> {
    conn.prepare_cached("UPDATE channels SET head_seq = ?2 WHERE id = ?1")?
        .execute(params![channel_id, seq as i64])?;
    Ok(())
}

/// Raises the seq through which a channel was pruned (never lowers it).
pub fn set_pruned_through(conn: &Connection, channel_id: i64, seq: u64) -> Result<()> {
    conn.execute(
        "UPDATE channels SET pruned_through = MAX(pruned_through, ?2) WHERE id = ?1",
        params![channel_id, seq as i64],
    )?;
    Ok(())
}

//! The durable log of every channel (SQLite): one row of `events` per durable event, holding
//! the exact frame subscribers received, so that resuming replays identical bytes. Seqs come
//! from the writer's `WriterState`, inside the write's transaction.

use parley_protocol::Event;
use rusqlite::{params, Connection, OptionalExtension};

use super::{heads, SqliteStore, WriterState};
use crate::{
    error::Result,
    store::{
        frames, now_ms, CustomEvent, CustomStored, EventStore, LogPosition, NewEvent, Published,
        StoreFuture, StoredEvent,
    },
};

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
    let webhook = state.webhooks.then(|| event.webhook_type()).flatten();
    let text = frames::event_frame(channel_name, seq, event)?;
    tx.prepare_cached(
        "INSERT INTO events (channel_id, seq, created_at, frame) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![channel_id, seq as i64, now, text])?;
    if let Some(kind) = webhook {
        // In the event's own transaction: committed together, or not at all.
        super::webhooks::enqueue(tx, channel_name, &kind, &text, now)?;
    }
    state.set_head(channel_id, seq);
    Ok(Published {
        channel_id,
        seq,
        frame: text,
        author_id,
    })
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
    // The client ids of durable custom events go with them (custom_events.rs).
    tx.prepare_cached("DELETE FROM published WHERE channel_id = ?1 AND seq <= ?2")?
        .execute(params![channel_id, through])?;
    heads::set_pruned_through(tx, channel_id, through as u64)?;
    Ok(Some(through as u64))
}

impl EventStore for SqliteStore {
    fn append_event(&self, new: NewEvent) -> StoreFuture<'_, u64> {
        Box::pin(self.write(move |tx, state| {
            let published = append_event(
                tx,
                state,
                new.channel_id,
                &new.channel_name,
                new.event,
                now_ms(),
                new.author_id,
            )?;
            Ok((published.seq, vec![published]))
        }))
    }

    fn append_custom(&self, new: CustomEvent) -> StoreFuture<'_, CustomStored> {
        self.append_custom_event(new)
    }

    fn log_position(&self, channel_id: i64) -> StoreFuture<'_, LogPosition> {
        Box::pin(self.read(move |conn| {
            Ok(LogPosition {
                head: heads::head_seq(conn, channel_id)?,
                pruned_through: heads::pruned_through(conn, channel_id)?,
            })
        }))
    }

    fn events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(self.read(move |conn| events_between(conn, channel_id, after, until, limit)))
    }

    fn count_events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.read(move |conn| count_events_between(conn, channel_id, after, until)))
    }

    fn prune(
        &self,
        channel_id: i64,
        cutoff_ms: Option<i64>,
        keep: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>> {
        Box::pin(self.write(move |tx, _| Ok((prune(tx, channel_id, cutoff_ms, keep)?, Vec::new()))))
    }
}

//! The durable log of every channel (PostgreSQL): one row of `events` per durable event,
//! holding the exact frame subscribers received, so that resuming replays identical bytes.
//! Seqs come from the channel's row, inside the write's transaction (`WriterState::next_seq`).

use parley_protocol::Event;
use postgres::{GenericClient, Transaction};

use super::{PgStore, WriterState};
use crate::{
    error::Result,
    store::{
        frames, now_ms, refusals, CustomEvent, CustomStored, EventStore, LogPosition, NewEvent,
        Published, StoreFuture, StoredEvent,
    },
};

/// Appends a durable event to a channel: takes the next seq, stores the serialized frame.
pub fn append_event(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    channel_id: i64,
    channel_name: &str,
    event: Event,
    now: i64,
    author_id: Option<i64>,
) -> Result<Published> {
    let seq = state.next_seq(tx, channel_id)?;
    store_event(
        tx,
        state,
        channel_id,
        channel_name,
        seq,
        event,
        now,
        author_id,
    )
}

/// Stores a durable event under a seq the write already took (`WriterState::next_seq`).
#[allow(clippy::too_many_arguments)]
pub fn store_event(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    channel_id: i64,
    channel_name: &str,
    seq: u64,
    event: Event,
    now: i64,
    author_id: Option<i64>,
) -> Result<Published> {
    let webhook = state.webhooks.then(|| event.webhook_type()).flatten();
    let text = frames::event_frame(channel_name, seq, event)?;
    let insert = state.prepared(
        tx,
        "INSERT INTO events (channel_id, seq, created_at, frame) VALUES ($1, $2, $3, $4)",
    )?;
    tx.execute(&insert, &[&channel_id, &(seq as i64), &now, &text])?;
    if let Some(kind) = webhook {
        // In the event's own transaction: committed together, or not at all.
        super::webhooks::enqueue(tx, channel_name, &kind, &text, now)?;
    }
    Ok(Published {
        channel_id,
        seq,
        frame: text,
        author_id,
    })
}

/// The channel's head and retention mark (`channel_not_found` when it is gone).
pub fn log_position(client: &mut impl GenericClient, channel_id: i64) -> Result<LogPosition> {
    let row = client
        .query_opt(
            "SELECT head_seq, pruned_through FROM channels WHERE id = $1",
            &[&channel_id],
        )?
        .ok_or_else(refusals::channel_gone)?;
    Ok(LogPosition {
        head: row.get::<_, i64>(0) as u64,
        pruned_through: row.get::<_, i64>(1) as u64,
    })
}

/// The last seq taken in a channel (`channel_not_found` when it is gone).
pub fn head_seq(client: &mut impl GenericClient, channel_id: i64) -> Result<u64> {
    Ok(log_position(client, channel_id)?.head)
}

/// Durable events with `after < seq <= until`, oldest first, at most `limit`.
pub fn events_between(
    client: &mut impl GenericClient,
    channel_id: i64,
    after: u64,
    until: u64,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    let rows = client.query(
        "SELECT seq, frame FROM events WHERE channel_id = $1 AND seq > $2 AND seq <= $3
         ORDER BY seq LIMIT $4",
        &[
            &channel_id,
            &(after as i64),
            &(until as i64),
            &i64::from(limit),
        ],
    )?;
    Ok(rows
        .iter()
        .map(|r| StoredEvent {
            seq: r.get::<_, i64>(0) as u64,
            frame: r.get(1),
        })
        .collect())
}

pub fn count_events_between(
    client: &mut impl GenericClient,
    channel_id: i64,
    after: u64,
    until: u64,
) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM events WHERE channel_id = $1 AND seq > $2 AND seq <= $3",
            &[&channel_id, &(after as i64), &(until as i64)],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// Removes events (and their messages) older than `cutoff_ms` or beyond the newest `keep`
/// events. Returns the highest seq removed, if any.
pub fn prune(
    tx: &mut Transaction<'_>,
    channel_id: i64,
    cutoff_ms: Option<i64>,
    keep: Option<u64>,
) -> Result<Option<u64>> {
    let mut through: Option<i64> = None;
    if let Some(cutoff) = cutoff_ms {
        let max: Option<i64> = tx
            .query_one(
                "SELECT max(seq) FROM events WHERE channel_id = $1 AND created_at < $2",
                &[&channel_id, &cutoff],
            )?
            .get(0);
        through = through.max(max);
    }
    if let Some(keep) = keep.filter(|k| *k > 0) {
        let max: Option<i64> = tx
            .query_opt(
                "SELECT seq FROM events WHERE channel_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2",
                &[&channel_id, &(keep as i64)],
            )?
            .map(|r| r.get(0));
        through = through.max(max);
    }
    let Some(through) = through else {
        return Ok(None);
    };
    tx.execute(
        "DELETE FROM events WHERE channel_id = $1 AND seq <= $2",
        &[&channel_id, &through],
    )?;
    tx.execute(
        "DELETE FROM messages WHERE channel_id = $1 AND seq <= $2",
        &[&channel_id, &through],
    )?;
    // The client ids of durable custom events go with them.
    tx.execute(
        "DELETE FROM published WHERE channel_id = $1 AND seq <= $2",
        &[&channel_id, &through],
    )?;
    tx.execute(
        "UPDATE channels SET pruned_through = GREATEST(pruned_through, $2) WHERE id = $1",
        &[&channel_id, &through],
    )?;
    Ok(Some(through as u64))
}

impl EventStore for PgStore {
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
        Box::pin(self.read(move |client| log_position(client, channel_id)))
    }

    fn events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>> {
        Box::pin(self.read(move |client| events_between(client, channel_id, after, until, limit)))
    }

    fn count_events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.read(move |client| count_events_between(client, channel_id, after, until)))
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

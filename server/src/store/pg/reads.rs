//! Read positions, mutes, unread counts, mentions and read receipts (PostgreSQL).

use parley_protocol::{Event, Message};
use postgres::{GenericClient, Transaction};

use super::{events::append_event, PgStore};
use crate::{
    error::Result,
    store::{now_ms, ReadCounts, ReadMark, ReadPosition, ReadStore, StoreFuture},
};

/// (last read seq, muted until) of a user in a channel.
pub fn read_state(
    client: &mut impl GenericClient,
    user_id: i64,
    channel_id: i64,
) -> Result<(u64, Option<i64>)> {
    Ok(client
        .query_opt(
            "SELECT last_read, muted_until FROM read_state WHERE user_id = $1 AND channel_id = $2",
            &[&user_id, &channel_id],
        )?
        .map(|r| (r.get::<_, i64>(0).max(0) as u64, r.get::<_, Option<i64>>(1)))
        .unwrap_or((0, None)))
}

/// Moves the read position forward (never back); false when it was there already. One
/// statement, so that marks of one user through several nodes cannot both move it (and both
/// announce it): the upsert locks the row and compares with its latest version.
pub fn mark_read(
    tx: &mut Transaction<'_>,
    user_id: i64,
    channel_id: i64,
    seq: u64,
) -> Result<bool> {
    if seq == 0 {
        return Ok(false);
    }
    Ok(tx
        .query_opt(
            "INSERT INTO read_state (user_id, channel_id, last_read) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, channel_id) DO UPDATE SET last_read = excluded.last_read
             WHERE read_state.last_read < excluded.last_read
             RETURNING 1",
            &[&user_id, &channel_id, &(seq as i64)],
        )?
        .is_some())
}

/// Sets or clears a mute; false when it was so already (no row is made to clear a mute).
pub fn set_mute(
    tx: &mut Transaction<'_>,
    user_id: i64,
    channel_id: i64,
    until: Option<i64>,
) -> Result<bool> {
    if until.is_none() {
        return Ok(tx.execute(
            "UPDATE read_state SET muted_until = NULL
             WHERE user_id = $1 AND channel_id = $2 AND muted_until IS NOT NULL",
            &[&user_id, &channel_id],
        )? > 0);
    }
    Ok(tx
        .query_opt(
            "INSERT INTO read_state (user_id, channel_id, muted_until) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, channel_id) DO UPDATE SET muted_until = excluded.muted_until
             WHERE read_state.muted_until IS DISTINCT FROM excluded.muted_until
             RETURNING 1",
            &[&user_id, &channel_id, &until],
        )?
        .is_some())
}

/// Messages by others after `last_read` (not deleted), and how many of them mention the user.
pub fn unread_counts(
    client: &mut impl GenericClient,
    user_id: i64,
    channel_id: i64,
    last_read: u64,
) -> Result<(u64, u64)> {
    let unread: i64 = client
        .query_one(
            "SELECT count(*) FROM messages WHERE channel_id = $1 AND seq > $2 AND author_id <> $3
             AND deleted_at IS NULL",
            &[&channel_id, &(last_read as i64), &user_id],
        )?
        .get(0);
    let mentions: i64 = client
        .query_one(
            "SELECT count(*) FROM mentions n JOIN messages m ON m.id = n.message_id
             WHERE n.user_id = $1 AND n.channel_id = $2 AND n.seq > $3 AND m.deleted_at IS NULL",
            &[&user_id, &channel_id, &(last_read as i64)],
        )?
        .get(0);
    Ok((unread.max(0) as u64, mentions.max(0) as u64))
}

pub fn read_receipts_on(client: &mut impl GenericClient, channel_id: i64) -> Result<bool> {
    Ok(client
        .query_opt(
            "SELECT read_receipts FROM channel_options WHERE channel_id = $1",
            &[&channel_id],
        )?
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false))
}

fn position(
    client: &mut impl GenericClient,
    user_id: i64,
    channel_id: i64,
) -> Result<ReadPosition> {
    let (last_read, muted_until) = read_state(client, user_id, channel_id)?;
    Ok(ReadPosition {
        last_read,
        muted_until,
    })
}

impl ReadStore for PgStore {
    fn read_position(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadPosition> {
        Box::pin(self.read(move |client| position(client, user_id, channel_id)))
    }

    fn read_counts(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadCounts> {
        Box::pin(self.read(move |client| {
            // One snapshot: the counts are of what follows the position read.
            let mut tx = super::snapshot(client)?;
            let position = position(&mut tx, user_id, channel_id)?;
            let (unread, mentions) =
                unread_counts(&mut tx, user_id, channel_id, position.last_read)?;
            tx.commit()?;
            Ok(ReadCounts {
                position,
                unread,
                mentions,
            })
        }))
    }

    fn mutes(&self, channel_id: i64, user_ids: Vec<i64>) -> StoreFuture<'_, Vec<Option<i64>>> {
        Box::pin(self.read(move |client| {
            let rows = client.query(
                "SELECT user_id, muted_until FROM read_state
                 WHERE channel_id = $1 AND user_id = ANY($2)",
                &[&channel_id, &user_ids],
            )?;
            let muted: std::collections::HashMap<i64, Option<i64>> =
                rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            Ok(user_ids
                .iter()
                .map(|user| muted.get(user).copied().flatten())
                .collect())
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
            if !mark_read(tx, user.id, channel_id, seq)? {
                return Ok((false, Vec::new()));
            }
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
        Box::pin(
            self.write(move |tx, _| Ok((set_mute(tx, user_id, channel_id, until)?, Vec::new()))),
        )
    }
}

/// The users a message mentions.
pub fn mentions_of(client: &mut impl GenericClient, message_id: i64) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT user_id FROM mentions WHERE message_id = $1 ORDER BY user_id",
            &[&message_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub fn insert_mentions(tx: &mut Transaction<'_>, message: &Message, channel_id: i64) -> Result<()> {
    for user in &message.mentions {
        tx.execute(
            "INSERT INTO mentions (user_id, message_id, channel_id, seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[user, &message.id, &channel_id, &(message.seq as i64)],
        )?;
    }
    Ok(())
}

/// Where a mention's `mention` event is stored, so that deleting the message redacts it.
pub fn mention_event(
    tx: &mut Transaction<'_>,
    user_id: i64,
    message_id: i64,
    event_channel_id: i64,
    event_seq: u64,
) -> Result<()> {
    tx.execute(
        "UPDATE mentions SET event_channel_id = $3, event_seq = $4
         WHERE user_id = $1 AND message_id = $2",
        &[
            &user_id,
            &message_id,
            &event_channel_id,
            &(event_seq as i64),
        ],
    )?;
    Ok(())
}

/// Turns read receipts on or off for a channel.
pub fn set_read_receipts(tx: &mut Transaction<'_>, channel_id: i64, on: bool) -> Result<()> {
    tx.execute(
        "INSERT INTO channel_options (channel_id, read_receipts) VALUES ($1, $2)
         ON CONFLICT (channel_id) DO UPDATE SET read_receipts = excluded.read_receipts",
        &[&channel_id, &on],
    )?;
    Ok(())
}

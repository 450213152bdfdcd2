//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl ReadStore for PgStore {
    fn read_position(&self, _user_id: i64, _channel_id: i64) -> StoreFuture<'_, ReadPosition> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn read_counts(&self, _user_id: i64, _channel_id: i64) -> StoreFuture<'_, ReadCounts> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn mutes(&self, _channel_id: i64, _user_ids: Vec<i64>) -> StoreFuture<'_, Vec<Option<i64>>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn mark_read(&self, _mark: ReadMark) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_mute(
        &self,
        _user_id: i64,
        _channel_id: i64,
        _until: Option<i64>,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

/// The users a message mentions.
pub fn mentions_of(
    client: &mut impl postgres::GenericClient,
    message_id: i64,
) -> crate::error::Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT user_id FROM mentions WHERE message_id = $1 ORDER BY user_id",
            &[&message_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub fn insert_mentions(
    tx: &mut postgres::Transaction<'_>,
    message: &Message,
    channel_id: i64,
) -> crate::error::Result<()> {
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
    tx: &mut postgres::Transaction<'_>,
    user_id: i64,
    message_id: i64,
    event_channel_id: i64,
    event_seq: u64,
) -> crate::error::Result<()> {
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
pub fn set_read_receipts(
    tx: &mut postgres::Transaction<'_>,
    channel_id: i64,
    on: bool,
) -> crate::error::Result<()> {
    tx.execute(
        "INSERT INTO channel_options (channel_id, read_receipts) VALUES ($1, $2)
         ON CONFLICT (channel_id) DO UPDATE SET read_receipts = excluded.read_receipts",
        &[&channel_id, &on],
    )?;
    Ok(())
}

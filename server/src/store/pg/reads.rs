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

/// Turns read receipts on or off for a channel.
pub fn set_read_receipts(
    _tx: &mut postgres::Transaction<'_>,
    _channel_id: i64,
    _on: bool,
) -> crate::error::Result<()> {
    Err(super::not_yet())
}

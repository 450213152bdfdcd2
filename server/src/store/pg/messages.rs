//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl MessageStore for PgStore {
    fn submit_message(&self, _post: PostMessage) -> StoreFuture<'_, Committed<AppendOutcome>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn edit_message(&self, _edit: MessageEdit) -> StoreFuture<'_, Message> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_message(&self, _delete: MessageDelete) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn history(
        &self,
        _channel_id: i64,
        _before: Option<u64>,
        _limit: u32,
    ) -> StoreFuture<'_, HistorySlice> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

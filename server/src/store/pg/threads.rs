//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl ThreadStore for PgStore {
    fn open_thread(
        &self,
        _channel_id: i64,
        _root_id: i64,
        _opened_by: i64,
    ) -> StoreFuture<'_, OpenedThread> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

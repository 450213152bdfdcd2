//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl SearchStore for PgStore {
    fn index_pending(&self, _batch: i64) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn search(&self, _request: SearchRequest) -> StoreFuture<'_, Vec<SearchHit>> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

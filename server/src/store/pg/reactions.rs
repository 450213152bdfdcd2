//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl ReactionStore for PgStore {
    fn react(&self, _update: ReactionUpdate) -> StoreFuture<'_, ReactionChange> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

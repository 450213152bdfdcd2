//! (PostgreSQL) Durable custom events: to be ported from sqlite/custom_events.rs.

use super::PgStore;
use crate::store::{CustomEvent, CustomStored, StoreFuture};

impl PgStore {
    pub(super) fn append_custom_event(&self, _new: CustomEvent) -> StoreFuture<'_, CustomStored> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

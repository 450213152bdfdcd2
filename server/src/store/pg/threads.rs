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

/// Counts a reply in its thread's summary.
pub fn thread_reply(
    tx: &mut postgres::Transaction<'_>,
    root_id: i64,
    author_id: i64,
    now: i64,
) -> crate::error::Result<ThreadSummary> {
    // The row lock first: replies through several nodes count one after the other.
    tx.execute(
        "SELECT 1 FROM threads WHERE root_id = $1 FOR UPDATE",
        &[&root_id],
    )?;
    let mut summary = super::message_rows::thread_summary(tx, root_id)?
        .ok_or_else(crate::store::refusals::thread_root_gone)?;
    frames::thread_replied(&mut summary, author_id, now);
    let participants =
        serde_json::to_string(&summary.participants).map_err(crate::error::Error::internal)?;
    tx.execute(
        "UPDATE threads SET reply_count = reply_count + 1, last_reply_at = $2, participants = $3
         WHERE root_id = $1",
        &[&root_id, &now, &participants],
    )?;
    Ok(summary)
}

//! Full-text search over message text (SQLite FTS5, `messages_fts`), restricted to the channels
//! the caller may read, and bounded in time: ranking scores every match, so a query matching much
//! of the history (a one-letter prefix) is stopped at `realtime.search_timeout`. The index is
//! filled behind the writes (`index_pending`).

use parley_protocol::{ErrorCode, Message};
use rusqlite::{params, Connection};

use super::{
    message_rows::{message_from_row, MESSAGE_SELECT},
    SqliteStore,
};
use crate::{
    error::{Error, Result},
    store::{SearchRequest, SearchStore, StoreFuture},
};

/// What a search may look at.
pub struct SearchFilter<'a> {
    /// The channels the user may read (only these are searched).
    pub channels: &'a [i64],
    pub author_id: Option<i64>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
}

/// SQLite virtual-machine steps between two looks at a search's deadline (a look costs a clock
/// read; this many steps take well under a millisecond).
const DEADLINE_STEPS: std::ffi::c_int = 1000;

/// Full-text search: plain words (each must appear, the last may be a prefix), best first.
/// Finding and ranking the matches stops after `timeout` (SQLite's progress handler interrupts
/// the query) and answers `query_too_broad`: a one-letter prefix over a long history ranks
/// every message that has a word starting with that letter.
pub fn search(
    conn: &mut Connection,
    query: &str,
    filter: &SearchFilter<'_>,
    timeout: std::time::Duration,
) -> Result<Vec<parley_protocol::SearchHit>> {
    let Some(fts) = parley_protocol::search_terms(query) else {
        return Ok(Vec::new());
    };
    if filter.channels.is_empty() {
        return Ok(Vec::new());
    }
    let deadline = std::time::Instant::now() + timeout;
    conn.progress_handler(
        DEADLINE_STEPS,
        Some(move || std::time::Instant::now() >= deadline),
    )?;
    let hits = best_matches(conn, &fts, filter);
    // The connection goes back to the pool: no deadline may outlive this search.
    conn.progress_handler(0, None::<fn() -> bool>)?;
    let hits = hits.map_err(|err| match err {
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            Error::new(
                ErrorCode::QueryTooBroad,
                format!(
                    "this search takes longer than the server allows ({} ms); type more of it",
                    timeout.as_millis()
                ),
            )
        }
        other => Error::from(other),
    })?;
    let mut out = Vec::with_capacity(hits.len());
    let mut snippet = conn.prepare_cached(
        "SELECT snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts
         WHERE messages_fts MATCH ?1 AND rowid = ?2",
    )?;
    for message in hits {
        let text: String = snippet
            .query_row(params![fts, message.id], |r| r.get(0))
            .unwrap_or_else(|_| message.text.clone());
        out.push(parley_protocol::SearchHit {
            message,
            snippet: text,
        });
    }
    Ok(out)
}

/// The best `filter.limit` messages matching `fts` (SQLite errors as they are, so that an
/// interrupted search can be told apart).
fn best_matches(
    conn: &Connection,
    fts: &str,
    filter: &SearchFilter<'_>,
) -> rusqlite::Result<Vec<Message>> {
    let channels = serde_json::to_string(filter.channels)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let mut stmt = conn.prepare_cached(&format!(
        "{MESSAGE_SELECT} JOIN messages_fts ON messages_fts.rowid = m.id
         WHERE messages_fts MATCH ?1
           AND m.channel_id IN (SELECT value FROM json_each(?2))
           AND m.deleted_at IS NULL
           AND (?3 IS NULL OR m.author_id = ?3)
           AND (?4 IS NULL OR m.created_at >= ?4)
           AND (?5 IS NULL OR m.created_at < ?5)
         ORDER BY rank LIMIT ?6"
    ))?;
    let mut hits = Vec::new();
    let mut rows = stmt.query(params![
        fts,
        channels,
        filter.author_id,
        filter.after,
        filter.before,
        filter.limit
    ])?;
    while let Some(row) = rows.next()? {
        hits.push(message_from_row(row)?);
    }
    Ok(hits)
}

/// Indexes messages written since the last run (at most `batch` ids); true when more wait.
pub fn index_pending(tx: &Connection, batch: i64) -> Result<bool> {
    let through: i64 = tx
        .prepare_cached("SELECT indexed_through FROM search_state WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let newest: i64 = tx
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))?;
    if newest <= through {
        return Ok(false);
    }
    let upto = newest.min(through + batch);
    tx.prepare_cached(
        "INSERT INTO messages_fts (rowid, text)
             SELECT id, text FROM messages WHERE id > ?1 AND id <= ?2 AND deleted_at IS NULL",
    )?
    .execute(params![through, upto])?;
    tx.prepare_cached("UPDATE search_state SET indexed_through = ?1 WHERE id = 1")?
        .execute([upto])?;
    Ok(upto < newest)
}

impl SearchStore for SqliteStore {
    fn index_pending(&self, batch: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| Ok((index_pending(tx, batch)?, Vec::new()))))
    }

    fn search(&self, request: SearchRequest) -> StoreFuture<'_, Vec<parley_protocol::SearchHit>> {
        Box::pin(self.read_mut(move |conn| {
            let SearchRequest {
                query,
                channels,
                author_id,
                after,
                before,
                limit,
                timeout,
                admission,
            } = request;
            // Held until the query ends, on this blocking thread.
            let _admission = admission;
            search(
                conn,
                &query,
                &SearchFilter {
                    channels: &channels,
                    author_id,
                    after,
                    before,
                    limit,
                },
                timeout,
            )
        }))
    }
}

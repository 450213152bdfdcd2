//! Full-text search over message text (PostgreSQL: `messages.search_vector`, a `tsvector` with
//! a GIN index, words as `search_text.rs` makes them), restricted to the channels the caller
//! may read, and bounded in time: ranking scores every match, so a query matching much of the
//! history (a one-letter prefix) is stopped at `realtime.search_timeout`. The index is filled
//! behind the writes (`index_pending`).
//!
//! Which messages wait for the index is told by their vector, not by a mark: a message is
//! pending while its `search_vector` is NULL (the partial index `messages_unindexed` finds
//! them). Ids are taken at insert and committed in any order across nodes, so a mark alone
//! ("indexed up to id N", as the SQLite store keeps it) would skip a message that committed
//! after a higher id was indexed. `search_state.indexed_through` still records the highest id
//! indexed. Edits of indexed messages recompute their vector, deletes clear it, in the same
//! write (`messages.rs`).

use parley_protocol::{ErrorCode, Message, SearchHit};
use postgres::{error::SqlState, Client, Transaction};

use super::{
    message_rows::{message_from_row, MESSAGE_SELECT},
    search_text::{query_literal, query_words, snippet, vector_literal, MAX_LEXEME},
    PgStore,
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

/// Full-text search: plain words (each must appear, the last may be a prefix), best first.
/// Finding and ranking the matches stops after `timeout` (the statement's
/// `statement_timeout`, set for this search's transaction only) and answers
/// `query_too_broad`: a one-letter prefix over a long history ranks every message that has a
/// word starting with that letter.
pub fn search(
    client: &mut Client,
    query: &str,
    filter: &SearchFilter<'_>,
    timeout: std::time::Duration,
) -> Result<Vec<SearchHit>> {
    let Some(words) = query_words(query) else {
        return Ok(Vec::new());
    };
    // No lexeme that long is indexed.
    if filter.channels.is_empty() || words.iter().any(|w| w.len() > MAX_LEXEME) {
        return Ok(Vec::new());
    }
    let mut tx = client.build_transaction().read_only(true).start()?;
    // SET LOCAL: the deadline ends with the transaction; the connection goes back to the
    // pool without it. (0 would mean no deadline: at least a millisecond.)
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128);
    tx.batch_execute(&format!("SET LOCAL statement_timeout = {millis}"))?;
    let hits = best_matches(&mut tx, &query_literal(&words), filter).map_err(|err| {
        if err.code() == Some(&SqlState::QUERY_CANCELED) {
            Error::new(
                ErrorCode::QueryTooBroad,
                format!(
                    "this search takes longer than the server allows ({} ms); type more of it",
                    timeout.as_millis()
                ),
            )
        } else {
            Error::from(err)
        }
    })?;
    tx.commit()?;
    Ok(hits
        .into_iter()
        .map(|message| SearchHit {
            snippet: snippet(&message.text, &words),
            message,
        })
        .collect())
}

/// The best `filter.limit` messages matching the `tsquery` literal `terms` (PostgreSQL's
/// error as it is, so that a cancelled search can be told apart). Equal ranks: newest first.
fn best_matches(
    tx: &mut Transaction<'_>,
    terms: &str,
    filter: &SearchFilter<'_>,
) -> std::result::Result<Vec<Message>, postgres::Error> {
    let channels = filter.channels.to_vec();
    let rows = tx.query(
        &format!(
            "{MESSAGE_SELECT}
             WHERE m.search_vector @@ CAST($1::text AS tsquery)
               AND m.channel_id = ANY($2)
               AND m.deleted_at IS NULL
               AND ($3::bigint IS NULL OR m.author_id = $3)
               AND ($4::bigint IS NULL OR m.created_at >= $4)
               AND ($5::bigint IS NULL OR m.created_at < $5)
             ORDER BY ts_rank(m.search_vector, CAST($1::text AS tsquery)) DESC, m.id DESC
             LIMIT $6"
        ),
        &[
            &terms,
            &channels,
            &filter.author_id,
            &filter.after,
            &filter.before,
            &i64::from(filter.limit),
        ],
    )?;
    Ok(rows.iter().map(message_from_row).collect())
}

/// Indexes at most `batch` messages that wait for it, oldest first; true when more wait.
/// Several nodes index at once without waiting on each other (`SKIP LOCKED`: a message
/// another indexer holds is theirs; an edit holding it leaves it for the next run, with its
/// new text).
pub fn index_pending(tx: &mut Transaction<'_>, batch: i64) -> Result<bool> {
    let rows = tx.query(
        "SELECT id, text FROM messages WHERE search_vector IS NULL AND deleted_at IS NULL
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        &[&batch.max(1)],
    )?;
    let Some(newest) = rows.last().map(|r| r.get::<_, i64>(0)) else {
        return Ok(false);
    };
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let vectors: Vec<String> = rows
        .iter()
        .map(|r| vector_literal(r.get::<_, &str>(1)))
        .collect();
    tx.execute(
        "UPDATE messages m SET search_vector = CAST(v.vector AS tsvector)
         FROM unnest($1::bigint[], $2::text[]) AS v(id, vector) WHERE m.id = v.id",
        &[&ids, &vectors],
    )?;
    // Only when no other indexer holds the row: never wait inside a batch of writes.
    tx.execute(
        "UPDATE search_state SET indexed_through = GREATEST(indexed_through, $1)
         WHERE id = (SELECT id FROM search_state WHERE id = 1 FOR UPDATE SKIP LOCKED)",
        &[&newest],
    )?;
    Ok(tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM messages
                            WHERE search_vector IS NULL AND deleted_at IS NULL)",
            &[],
        )?
        .get(0))
}

impl SearchStore for PgStore {
    fn index_pending(&self, batch: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| Ok((index_pending(tx, batch)?, Vec::new()))))
    }

    fn search(&self, request: SearchRequest) -> StoreFuture<'_, Vec<SearchHit>> {
        Box::pin(self.read(move |client| {
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
                client,
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

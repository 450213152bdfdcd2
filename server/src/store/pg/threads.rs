//! Threads (PostgreSQL): a thread is a channel (`thread#<root id>`) with a summary kept on its
//! root.

use parley_protocol::ThreadSummary;
use postgres::Transaction;

use super::{
    channels,
    message_rows::{message_in, thread_summary},
    PgStore,
};
use crate::store::sqlite::channels::new_epoch;
use crate::{
    error::{Error, Result},
    store::{frames, now_ms, refusals, ChannelRecord, OpenedThread, StoreFuture, ThreadStore},
};

/// Creates the channel of the thread under `root_id` (in `parent_id`), or finds it. Two nodes
/// may open the same thread at once: the insert does nothing on the taken name (or root),
/// after waiting for the other's commit, and the thread found is theirs.
pub fn open_thread(
    tx: &mut Transaction<'_>,
    root_id: i64,
    parent_id: i64,
    created_by: i64,
) -> Result<ChannelRecord> {
    let name = format!("thread#{root_id}");
    if let Some(existing) = channels::by_name(tx, &name)? {
        return Ok(existing);
    }
    let inserted = tx.query_opt(
        "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
             created_at, parent_id, thread_root)
         VALUES ($1, 'public', 'required', FALSE, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING id",
        &[
            &name,
            &new_epoch(),
            &created_by,
            &now_ms(),
            &parent_id,
            &root_id,
        ],
    )?;
    let Some(row) = inserted else {
        return channels::by_name(tx, &name)?
            .ok_or_else(|| Error::internal("thread channel vanished"));
    };
    let id: i64 = row.get(0);
    tx.execute(
        "INSERT INTO threads (root_id, channel_id) VALUES ($1, $2)",
        &[&root_id, &id],
    )?;
    channels::by_id(tx, id)?.ok_or_else(|| Error::internal("thread channel vanished"))
}

/// Counts a reply in its thread's summary.
pub fn thread_reply(
    tx: &mut Transaction<'_>,
    root_id: i64,
    author_id: i64,
    now: i64,
) -> Result<ThreadSummary> {
    // The row lock first: replies through several nodes count one after the other.
    tx.execute(
        "SELECT 1 FROM threads WHERE root_id = $1 FOR NO KEY UPDATE",
        &[&root_id],
    )?;
    let mut summary = thread_summary(tx, root_id)?.ok_or_else(refusals::thread_root_gone)?;
    frames::thread_replied(&mut summary, author_id, now);
    let participants = serde_json::to_string(&summary.participants).map_err(Error::internal)?;
    tx.execute(
        "UPDATE threads SET reply_count = reply_count + 1, last_reply_at = $2, participants = $3
         WHERE root_id = $1",
        &[&root_id, &now, &participants],
    )?;
    Ok(summary)
}

impl ThreadStore for PgStore {
    fn open_thread(
        &self,
        channel_id: i64,
        root_id: i64,
        opened_by: i64,
    ) -> StoreFuture<'_, OpenedThread> {
        Box::pin(self.write(move |tx, _| {
            // The root's row first: a deletion through another node waits for the thread, or
            // the thread for the deletion, whose mark the check below then sees.
            tx.query_opt(
                "SELECT 1 FROM messages WHERE id = $1 AND channel_id = $2 FOR SHARE",
                &[&root_id, &channel_id],
            )?;
            let root = message_in(tx, channel_id, root_id)?
                .filter(|m| !m.deleted)
                .ok_or_else(|| refusals::message_not_found(root_id))?;
            let channel = open_thread(tx, root_id, channel_id, opened_by)?;
            let summary =
                thread_summary(tx, root_id)?.ok_or_else(|| Error::internal("thread vanished"))?;
            Ok((
                OpenedThread {
                    root,
                    channel,
                    summary,
                },
                Vec::new(),
            ))
        }))
    }
}

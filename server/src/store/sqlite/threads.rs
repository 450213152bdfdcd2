//! Threads (SQLite): a thread is a channel (`thread#<root id>`) with a summary kept on its root.

use parley_protocol::ThreadSummary;
use rusqlite::{params, Connection};

use super::{
    channels,
    message_rows::{message_in, thread_summary},
    SqliteStore,
};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{frames, now_ms, ChannelRecord, OpenedThread, StoreFuture, ThreadStore},
};

/// Creates the channel of the thread under `root_id` (in `parent_id`).
pub fn open_thread(
    tx: &Connection,
    root_id: i64,
    parent_id: i64,
    created_by: i64,
) -> Result<ChannelRecord> {
    let name = format!("thread#{root_id}");
    if let Some(existing) = channels::by_name(tx, &name)? {
        return Ok(existing);
    }
    tx.execute(
        "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
             created_at, parent_id, thread_root)
         VALUES (?1, 'public', 'required', 0, ?2, ?3, ?4, ?5, ?6)",
        params![
            name,
            channels::new_epoch(),
            created_by,
            now_ms(),
            parent_id,
            root_id
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO threads (root_id, channel_id) VALUES (?1, ?2)",
        params![root_id, id],
    )?;
    channels::by_id(tx, id)?.ok_or_else(|| Error::internal("thread channel vanished"))
}

/// Counts a reply in its thread's summary.
pub fn thread_reply(
    tx: &Connection,
    root_id: i64,
    author_id: i64,
    now: i64,
) -> Result<ThreadSummary> {
    let mut summary = thread_summary(tx, root_id)?.ok_or_else(refusals::thread_root_gone)?;
    frames::thread_replied(&mut summary, author_id, now);
    let participants = serde_json::to_string(&summary.participants).map_err(Error::internal)?;
    tx.prepare_cached(
        "UPDATE threads SET reply_count = reply_count + 1, last_reply_at = ?2, participants = ?3
         WHERE root_id = ?1",
    )?
    .execute(params![root_id, now, participants])?;
    Ok(summary)
}

impl ThreadStore for SqliteStore {
    fn open_thread(
        &self,
        channel_id: i64,
        root_id: i64,
        opened_by: i64,
    ) -> StoreFuture<'_, OpenedThread> {
        Box::pin(self.write(move |tx, _| {
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

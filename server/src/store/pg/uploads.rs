//! Resumable upload sessions in PostgreSQL (`UploadSessionStore`): `upload_sessions` (who,
//! what, how far, and until when a request holds it) and `upload_parts` (the bytes received,
//! one row per part). Any node continues a session another node opened: the client's next
//! chunk or its `finish` may land anywhere. Written through pooled connections, never the
//! writer, so chat writes do not wait behind an upload.

use parley_protocol::ErrorCode;
use postgres::Client;

use super::PgStore;
use crate::{
    error::{Error, Result},
    store::{now_ms, NewUploadSession, StoreFuture, UploadSessionRow, UploadSessionStore},
};

const SESSION_COLUMNS: &str = "id, user_id, name, size, received, started_at";

fn session_from_row(row: &postgres::Row) -> UploadSessionRow {
    UploadSessionRow {
        id: row.get(0),
        user_id: row.get(1),
        name: row.get(2),
        size: row.get::<_, i64>(3).max(0) as u64,
        received: row.get::<_, i64>(4).max(0) as u64,
        started_at: row.get(5),
    }
}

fn no_session(id: &str) -> Error {
    Error::new(ErrorCode::AttachmentNotFound, format!("no upload {id}"))
}

fn open(client: &mut Client, new: &NewUploadSession, max_open: usize) -> Result<()> {
    let mut tx = client.transaction()?;
    // One user's opens take turns: two at once cannot both pass the count.
    tx.execute(
        "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
        &[&new.user_id],
    )?;
    let open: i64 = tx
        .query_one(
            "SELECT count(*) FROM upload_sessions WHERE user_id = $1 AND started_at > $2",
            &[&new.user_id, &new.live_after_ms],
        )?
        .get(0);
    if open.max(0) as usize >= max_open {
        return Err(Error::new(
            ErrorCode::RateLimited,
            format!("at most {max_open} unfinished uploads; finish or cancel one"),
        ));
    }
    tx.execute(
        "INSERT INTO upload_sessions (id, user_id, name, size, received, started_at, busy_until)
         VALUES ($1, $2, $3, $4, 0, $5, 0)",
        &[
            &new.id,
            &new.user_id,
            &new.name,
            &(new.size as i64),
            &now_ms(),
        ],
    )?;
    tx.commit()?;
    Ok(())
}

fn lease(
    client: &mut Client,
    user_id: i64,
    id: &str,
    live_after_ms: i64,
    hold_ms: i64,
) -> Result<UploadSessionRow> {
    let now = now_ms();
    let taken = client.query_opt(
        &format!(
            "UPDATE upload_sessions SET busy_until = $5
              WHERE id = $1 AND user_id = $2 AND started_at > $3 AND busy_until < $4
              RETURNING {SESSION_COLUMNS}"
        ),
        &[&id, &user_id, &live_after_ms, &now, &(now + hold_ms)],
    )?;
    if let Some(row) = taken {
        return Ok(session_from_row(&row));
    }
    let exists = client
        .query_opt(
            "SELECT 1 FROM upload_sessions WHERE id = $1 AND user_id = $2 AND started_at > $3",
            &[&id, &user_id, &live_after_ms],
        )?
        .is_some();
    if exists {
        Err(Error::new(
            ErrorCode::UploadConflict,
            format!("another request is using upload {id}; send one at a time"),
        ))
    } else {
        Err(no_session(id))
    }
}

fn append(client: &mut Client, id: &str, start: u64, data: &[u8], hold_ms: i64) -> Result<u64> {
    let mut tx = client.transaction()?;
    let row = tx
        .query_opt(
            "SELECT received, size FROM upload_sessions WHERE id = $1 FOR UPDATE",
            &[&id],
        )?
        .ok_or_else(|| no_session(id))?;
    let (received, size) = (
        row.get::<_, i64>(0).max(0) as u64,
        row.get::<_, i64>(1).max(0) as u64,
    );
    if received != start {
        return Err(Error::new(
            ErrorCode::UploadConflict,
            format!("upload {id} has {received} bytes, not {start}"),
        ));
    }
    let end = start + data.len() as u64;
    if end > size {
        return Err(Error::new(
            ErrorCode::AttachmentTooLarge,
            format!("more bytes than the {size} announced"),
        ));
    }
    tx.execute(
        "INSERT INTO upload_parts (session_id, start, data) VALUES ($1, $2, $3)",
        &[&id, &(start as i64), &data],
    )?;
    tx.execute(
        "UPDATE upload_sessions SET received = $2, busy_until = $3 WHERE id = $1",
        &[&id, &(end as i64), &(now_ms() + hold_ms)],
    )?;
    tx.commit()?;
    Ok(end)
}

impl UploadSessionStore for PgStore {
    fn open_session(&self, new: NewUploadSession, max_open: usize) -> StoreFuture<'_, ()> {
        Box::pin(self.read(move |client| open(client, &new, max_open)))
    }

    fn upload_session(
        &self,
        user_id: i64,
        id: String,
        live_after_ms: i64,
    ) -> StoreFuture<'_, Option<UploadSessionRow>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_opt(
                    &format!(
                        "SELECT {SESSION_COLUMNS} FROM upload_sessions
                          WHERE id = $1 AND user_id = $2 AND started_at > $3"
                    ),
                    &[&id, &user_id, &live_after_ms],
                )?
                .map(|row| session_from_row(&row)))
        }))
    }

    fn lease_session(
        &self,
        user_id: i64,
        id: String,
        live_after_ms: i64,
        hold_ms: i64,
    ) -> StoreFuture<'_, UploadSessionRow> {
        Box::pin(self.read(move |client| lease(client, user_id, &id, live_after_ms, hold_ms)))
    }

    fn append_part(
        &self,
        id: String,
        start: u64,
        data: Vec<u8>,
        hold_ms: i64,
    ) -> StoreFuture<'_, u64> {
        Box::pin(self.read(move |client| append(client, &id, start, &data, hold_ms)))
    }

    fn release_session(&self, id: String) -> StoreFuture<'_, ()> {
        Box::pin(self.read(move |client| {
            client.execute(
                "UPDATE upload_sessions SET busy_until = 0 WHERE id = $1",
                &[&id],
            )?;
            Ok(())
        }))
    }

    fn end_session(&self, id: String) -> StoreFuture<'_, ()> {
        Box::pin(self.read(move |client| {
            client.execute("DELETE FROM upload_sessions WHERE id = $1", &[&id])?;
            Ok(())
        }))
    }

    fn session_part(&self, id: String, from: u64) -> StoreFuture<'_, Option<(u64, Vec<u8>)>> {
        Box::pin(self.read(move |client| {
            Ok(client
                .query_opt(
                    "SELECT start, data FROM upload_parts
                      WHERE session_id = $1 AND start >= $2 ORDER BY start LIMIT 1",
                    &[&id, &(from as i64)],
                )?
                .map(|row| (row.get::<_, i64>(0).max(0) as u64, row.get(1))))
        }))
    }

    fn sweep_sessions(&self, started_before_ms: i64) -> StoreFuture<'_, usize> {
        Box::pin(self.read(move |client| {
            let removed = client.execute(
                "DELETE FROM upload_sessions WHERE started_at <= $1 AND busy_until < $2",
                &[&started_before_ms, &now_ms()],
            )?;
            Ok(removed as usize)
        }))
    }
}

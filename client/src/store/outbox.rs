//! What waits to go to the server: the outbox (messages, changes and comments, in order) and
//! the upload sessions of resumable uploads.

use parley_protocol::Message;
use rusqlite::{params, Connection, OptionalExtension};

use super::{insert_message, OutboxEntry};
use crate::{Error, Result};

pub fn outbox_push(
    conn: &Connection,
    kind: &str,
    target: &str,
    body: &str,
    client_id: &str,
    now: i64,
) -> Result<OutboxEntry> {
    conn.prepare_cached(
        "INSERT INTO outbox (kind, target, body, client_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, target, body, client_id, now])?;
    let local_id = conn.last_insert_rowid();
    outbox_get(conn, local_id)?.ok_or_else(|| Error::Storage("outbox entry vanished".into()))
}

const OUTBOX_COLUMNS: &str =
    "local_id, kind, target, body, client_id, created_at, state, error_code, error, attempts";

fn outbox_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        local_id: r.get(0)?,
        kind: r.get(1)?,
        target: r.get(2)?,
        body: r.get(3)?,
        client_id: r.get(4)?,
        created_at: r.get(5)?,
        state: r.get(6)?,
        error_code: r.get(7)?,
        error: r.get(8)?,
        attempts: r.get(9)?,
    })
}

pub fn outbox_get(conn: &Connection, local_id: i64) -> Result<Option<OutboxEntry>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE local_id = ?1"
        ))?
        .query_row([local_id], outbox_from_row)
        .optional()?)
}

/// Every entry, oldest first.
pub fn outbox_all(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY local_id"
    ))?;
    let rows = stmt
        .query_map([], outbox_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The oldest pending entry.
pub fn outbox_next(conn: &Connection) -> Result<Option<OutboxEntry>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY local_id LIMIT 1"
        ))?
        .query_row([], outbox_from_row)
        .optional()?)
}

pub fn outbox_attempt(conn: &Connection, local_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1 WHERE local_id = ?1")?
        .execute([local_id])?;
    Ok(())
}

/// The server accepted a message: the pending entry goes, the server's message is stored.
pub fn outbox_delivered(
    conn: &mut Connection,
    local_id: i64,
    message: Option<&Message>,
) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM outbox WHERE local_id = ?1", [local_id])?;
    if let Some(message) = message {
        insert_message(&tx, message, false)?;
    }
    tx.commit()?;
    Ok(())
}

pub fn outbox_failed(conn: &Connection, local_id: i64, code: &str, error: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'failed', error_code = ?2, error = ?3 WHERE local_id = ?1",
    )?
    .execute(params![local_id, code, error])?;
    Ok(())
}

/// Puts a failed entry back in the queue (the user chose to retry it), at its old place.
pub fn outbox_retry(conn: &Connection, local_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', error_code = NULL, error = NULL
             WHERE local_id = ?1 AND state = 'failed'",
        )?
        .execute([local_id])?
        > 0)
}

pub fn outbox_discard(conn: &Connection, local_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM outbox WHERE local_id = ?1")?
        .execute([local_id])?
        > 0)
}

pub fn upload_session(conn: &Connection, path: &str) -> Result<Option<(String, u64)>> {
    Ok(conn
        .prepare_cached("SELECT upload_id, size FROM uploads WHERE path = ?1")?
        .query_row([path], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .optional()?)
}

pub fn set_upload_session(
    conn: &Connection,
    path: &str,
    session: Option<(&str, u64)>,
) -> Result<()> {
    match session {
        Some((id, size)) => conn
            .prepare_cached(
                "INSERT INTO uploads (path, upload_id, size) VALUES (?1, ?2, ?3)
                 ON CONFLICT(path) DO UPDATE SET upload_id = excluded.upload_id, size = excluded.size",
            )?
            .execute(params![path, id, size as i64])?,
        None => conn
            .prepare_cached("DELETE FROM uploads WHERE path = ?1")?
            .execute([path])?,
    };
    Ok(())
}

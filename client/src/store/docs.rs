//! Document replicas in the cache: their updates (compacted when a replica opens), the server
//! id each is bound to, and their comments.

use rusqlite::{params, Connection, OptionalExtension};

use crate::Result;

pub fn doc_updates(conn: &Connection, doc: &str) -> Result<Vec<Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT data FROM doc_updates WHERE doc = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([doc], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?;
    Ok(rows)
}

pub fn doc_append(conn: &Connection, doc: &str, update: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT INTO doc_updates (doc, data) VALUES (?1, ?2)")?
        .execute(params![doc, update])?;
    Ok(())
}

/// The server id the replica of `doc` is bound to (None: not learnt yet).
pub fn doc_id(conn: &Connection, doc: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM doc_ids WHERE doc = ?1")?
        .query_row([doc], |r| r.get(0))
        .optional()?)
}

pub fn set_doc_id(conn: &Connection, doc: &str, id: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO doc_ids (doc, id) VALUES (?1, ?2)
         ON CONFLICT(doc) DO UPDATE SET id = excluded.id",
    )?
    .execute(params![doc, id])?;
    Ok(())
}

/// Drops everything cached for the replica of `doc` (its updates, comments and binding), and
/// fails the comments still queued for it with `code`: the document is gone, and nothing of it
/// may ever reach a document that takes its name later.
pub fn doc_forget(conn: &mut Connection, doc: &str, code: &str, reason: &str) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM doc_updates WHERE doc = ?1", [doc])?;
    tx.execute("DELETE FROM comments WHERE doc = ?1", [doc])?;
    tx.execute("DELETE FROM doc_ids WHERE doc = ?1", [doc])?;
    tx.execute(
        "UPDATE outbox SET state = 'failed', error_code = ?2, error = ?3
         WHERE kind = 'comment' AND target = ?1 AND state = 'pending'",
        params![doc, code, reason],
    )?;
    tx.commit()?;
    Ok(())
}

/// Moves the replica of a renamed document to its new name (anything cached under the new
/// name belonged to another document and goes).
pub fn doc_rename(conn: &mut Connection, old: &str, new: &str) -> Result<()> {
    let tx = conn.transaction()?;
    for table in ["doc_updates", "comments", "doc_ids"] {
        tx.execute(&format!("DELETE FROM {table} WHERE doc = ?1"), [new])?;
        tx.execute(
            &format!("UPDATE {table} SET doc = ?2 WHERE doc = ?1"),
            params![old, new],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Replaces a document's updates with one full state.
pub fn doc_compact(conn: &mut Connection, doc: &str, state: &[u8]) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM doc_updates WHERE doc = ?1", [doc])?;
    tx.execute(
        "INSERT INTO doc_updates (doc, data) VALUES (?1, ?2)",
        params![doc, state],
    )?;
    tx.commit()?;
    Ok(())
}

pub fn save_comment(conn: &Connection, doc: &str, id: i64, body: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO comments (doc, id, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc, id) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![doc, id, body])?;
    Ok(())
}

pub fn delete_comment(conn: &Connection, doc: &str, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM comments WHERE doc = ?1 AND id = ?2")?
        .execute(params![doc, id])?;
    Ok(())
}

pub fn comments(conn: &Connection, doc: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM comments WHERE doc = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([doc], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Drops a deleted comment, whatever document it is on (its event names only the comment).
pub fn forget_comment(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM comments WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

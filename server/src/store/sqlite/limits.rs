//! What one user has created and still keeps, for the per-user limits (`[limits]`,
//! `store::limits`).

use rusqlite::{params, Connection};

use crate::error::Result;

/// Channels the user created that still exist: ordinary channels when `dm` is false, direct
/// messages (`dm:` names) when true. Threads, documents' comments channels and personal
/// instances are not counted.
pub fn channels_created(conn: &Connection, user_id: i64, dm: bool) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM channels
             WHERE created_by = ?1 AND doc_id IS NULL AND thread_root IS NULL
               AND template_id IS NULL AND user_specific = 0
               AND (substr(name, 1, 3) = 'dm:') = ?2",
        )?
        .query_row(params![user_id, dm], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Documents the user created that still exist.
pub fn documents_created(conn: &Connection, user_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM docs WHERE created_by = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Bytes of the named versions the user saved.
pub fn version_bytes_saved(conn: &Connection, user_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT coalesce(sum(length(state)), 0) FROM doc_versions WHERE created_by = ?1",
        )?
        .query_row([user_id], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

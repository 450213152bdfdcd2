//! Documents (SQLite): records, roles, the update log with its snapshot, named versions.
//! Comments are in `comments.rs`.

use std::sync::Arc;

use parley_protocol::{DocRole, ErrorCode, UserRef, VersionInfo};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{channels, users, SqliteStore};
use crate::store::refusals;
pub use crate::store::{DocRecord, Grants, StoredDoc};
use crate::{
    error::{Error, Result},
    store::{
        format_ts, limits, now_ms, ChannelRecord, DocumentStore, NewDocument, NewVersion,
        StoreFuture,
    },
};

const DOC_COLUMNS: &str = "d.id, d.name, d.title, d.channel_id, d.default_role, d.created_by, \
    d.created_at, u.name, u.display_name, u.avatar";
const DOC_FROM: &str = "docs d LEFT JOIN users u ON u.id = d.created_by";

fn doc_from_row(row: &Row<'_>) -> rusqlite::Result<DocRecord> {
    let role: String = row.get(4)?;
    let created_by: Option<i64> = row.get(5)?;
    let creator_name: Option<String> = row.get(7)?;
    Ok(DocRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        title: row.get(2)?,
        channel_id: row.get(3)?,
        default_role: DocRole::parse(&role).unwrap_or(DocRole::Viewer),
        created_by,
        creator: match (created_by, creator_name) {
            (Some(id), Some(name)) => Some(UserRef {
                id,
                name,
                display_name: row.get(8)?,
                avatar: row.get(9)?,
            }),
            _ => None,
        },
        created_at: row.get(6)?,
    })
}

/// Every document with its per-user roles.
pub fn all(conn: &Connection) -> Result<Vec<(DocRecord, Grants)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DOC_COLUMNS} FROM {DOC_FROM} ORDER BY d.id"
    ))?;
    let docs = stmt
        .query_map([], doc_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    docs.into_iter()
        .map(|doc| {
            let grants = grants_of(conn, doc.id)?;
            Ok((doc, grants))
        })
        .collect()
}

/// The roles granted on a document, by user id.
fn grants_of(conn: &Connection, doc_id: i64) -> Result<Grants> {
    let mut roles = conn
        .prepare_cached("SELECT user_id, role FROM doc_roles WHERE doc_id = ?1 ORDER BY user_id")?;
    let grants = roles
        .query_map([doc_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .filter_map(|r| match r {
            Ok((user, role)) => DocRole::parse(&role).map(|role| Ok((user, role))),
            Err(e) => Some(Err(e)),
        })
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(grants)
}

fn with_grants(conn: &Connection, doc_id: i64) -> Result<Option<(DocRecord, Grants)>> {
    match by_id(conn, doc_id)? {
        Some(doc) => Ok(Some((doc, grants_of(conn, doc_id)?))),
        None => Ok(None),
    }
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<DocRecord>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {DOC_COLUMNS} FROM {DOC_FROM} WHERE d.id = ?1"
        ))?
        .query_row([id], doc_from_row)
        .optional()?)
}

/// Creates a document and its comments channel (`doc#<id>`); returns both.
pub fn insert(
    tx: &Connection,
    name: &str,
    title: Option<&str>,
    channel_id: Option<i64>,
    default_role: DocRole,
    created_by: i64,
) -> Result<(DocRecord, ChannelRecord)> {
    let now = now_ms();
    let inserted = tx.execute(
        "INSERT INTO docs (name, title, channel_id, default_role, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO NOTHING",
        params![
            name,
            title,
            channel_id,
            default_role.as_str(),
            created_by,
            now
        ],
    )?;
    if inserted == 0 {
        return Err(refusals::doc_exists(name));
    }
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
             created_at, doc_id, parent_id)
         VALUES (?1, 'public', 'required', 0, ?2, ?3, ?4, ?5, ?6)",
        params![
            format!("doc#{id}"),
            channels::new_epoch(),
            created_by,
            now,
            id,
            channel_id
        ],
    )?;
    let channel_row = tx.last_insert_rowid();
    let doc = by_id(tx, id)?.ok_or_else(|| Error::internal("inserted document vanished"))?;
    let channel = channels::by_id(tx, channel_row)?
        .ok_or_else(|| Error::internal("inserted comments channel vanished"))?;
    Ok((doc, channel))
}

pub fn update(tx: &Connection, doc: &DocRecord) -> Result<()> {
    let result = tx.execute(
        "UPDATE docs SET name = ?2, title = ?3, default_role = ?4 WHERE id = ?1",
        params![doc.id, doc.name, doc.title, doc.default_role.as_str()],
    );
    match result {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(refusals::doc_exists(&doc.name))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a document with everything it owns (log, versions, comments, comments channel).
pub fn delete(tx: &Connection, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM docs WHERE id = ?1", [id])? > 0)
}

pub fn set_role(tx: &Connection, doc_id: i64, user_id: i64, role: Option<DocRole>) -> Result<()> {
    match role {
        Some(role) => tx.execute(
            "INSERT INTO doc_roles (doc_id, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT(doc_id, user_id) DO UPDATE SET role = excluded.role",
            params![doc_id, user_id, role.as_str()],
        )?,
        None => tx.execute(
            "DELETE FROM doc_roles WHERE doc_id = ?1 AND user_id = ?2",
            params![doc_id, user_id],
        )?,
    };
    Ok(())
}

pub fn load(conn: &Connection, doc_id: i64) -> Result<StoredDoc> {
    let snapshot = conn
        .prepare_cached("SELECT state FROM doc_snapshots WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get::<_, Vec<u8>>(0))
        .optional()?;
    let mut stmt =
        conn.prepare_cached("SELECT id, data FROM doc_updates WHERE doc_id = ?1 ORDER BY id")?;
    let mut last_update = 0;
    let mut updates = Vec::new();
    let mut rows = stmt.query([doc_id])?;
    while let Some(row) = rows.next()? {
        last_update = row.get(0)?;
        updates.push(row.get(1)?);
    }
    Ok(StoredDoc {
        snapshot,
        updates,
        last_update,
    })
}

/// Appends updates to the document's log; returns the id of the last one.
pub fn append_updates(tx: &Connection, doc_id: i64, updates: &[Vec<u8>]) -> Result<i64> {
    let mut stmt = tx.prepare_cached("INSERT INTO doc_updates (doc_id, data) VALUES (?1, ?2)")?;
    for update in updates {
        stmt.execute(params![doc_id, update])?;
    }
    Ok(tx.last_insert_rowid())
}

/// Replaces the log up to `through` (inclusive) with `state`, a full state update.
pub fn compact(tx: &Connection, doc_id: i64, state: &[u8], through: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO doc_snapshots (doc_id, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
    )?
    .execute(params![doc_id, state, now_ms()])?;
    tx.prepare_cached("DELETE FROM doc_updates WHERE doc_id = ?1 AND id <= ?2")?
        .execute(params![doc_id, through])?;
    Ok(())
}

pub fn version_count(conn: &Connection, doc_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM doc_versions WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))?;
    Ok(n as u64)
}

pub fn insert_version(
    tx: &Connection,
    doc_id: i64,
    doc_name: &str,
    name: &str,
    state: &[u8],
    created_by: i64,
) -> Result<VersionInfo> {
    let now = now_ms();
    tx.execute(
        "INSERT INTO doc_versions (doc_id, name, state, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![doc_id, name, state, created_by, now],
    )?;
    Ok(VersionInfo {
        id: tx.last_insert_rowid(),
        doc: doc_name.to_owned(),
        name: name.to_owned(),
        created_by: users::user_ref(tx, Some(created_by))?,
        created_at: format_ts(now),
        size: state.len() as u64,
    })
}

pub fn versions(conn: &Connection, doc_id: i64, doc_name: &str) -> Result<Vec<VersionInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created_by, created_at, length(state) FROM doc_versions
         WHERE doc_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([doc_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, by, at, size)| {
            Ok(VersionInfo {
                id,
                doc: doc_name.to_owned(),
                name,
                created_by: users::user_ref(conn, by)?,
                created_at: format_ts(at),
                size: size.max(0) as u64,
            })
        })
        .collect()
}

/// A version's description and its state (a full Yjs update).
pub fn version(
    conn: &Connection,
    doc_id: i64,
    doc_name: &str,
    id: i64,
) -> Result<Option<(VersionInfo, Vec<u8>)>> {
    let row = conn
        .prepare_cached(
            "SELECT name, created_by, created_at, state FROM doc_versions
             WHERE doc_id = ?1 AND id = ?2",
        )?
        .query_row(params![doc_id, id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })
        .optional()?;
    let Some((name, by, at, state)) = row else {
        return Ok(None);
    };
    Ok(Some((
        VersionInfo {
            id,
            doc: doc_name.to_owned(),
            name,
            created_by: users::user_ref(conn, by)?,
            created_at: format_ts(at),
            size: state.len() as u64,
        },
        state,
    )))
}

/// The comments channel of a document.
fn comments_channel_of(conn: &Connection, doc_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM channels WHERE doc_id = ?1")?
        .query_row([doc_id], |r| r.get(0))
        .optional()?)
}

/// Saves a named version within the document's and the saver's limits.
fn save_version(tx: &Connection, new: &NewVersion) -> Result<VersionInfo> {
    let max = new.max_versions;
    if version_count(tx, new.doc_id)? >= max {
        return Err(refusals::too_many_versions(max));
    }
    if let Some(max_bytes) = new.max_bytes {
        let used = super::limits::version_bytes_saved(tx, new.created_by)?;
        limits::check(
            "version_bytes_per_user",
            "bytes of named versions",
            used,
            new.state.len() as u64,
            max_bytes,
        )?;
    }
    insert_version(
        tx,
        new.doc_id,
        &new.doc_name,
        &new.name,
        &new.state,
        new.created_by,
    )
}

impl DocumentStore for SqliteStore {
    fn load_documents(&self) -> StoreFuture<'_, Vec<(DocRecord, Grants)>> {
        Box::pin(self.read(all))
    }

    fn document_by_name(&self, name: String) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(self.read(move |conn| {
            let id: Option<i64> = conn
                .prepare_cached("SELECT id FROM docs WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => with_grants(conn, id),
                None => Ok(None),
            }
        }))
    }

    fn document_by_id(&self, doc_id: i64) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(self.read(move |conn| with_grants(conn, doc_id)))
    }

    fn create_document(&self, new: NewDocument) -> StoreFuture<'_, (DocRecord, ChannelRecord)> {
        Box::pin(self.write(move |tx, state| {
            if let Some(max) = new.limit {
                let used = super::limits::documents_created(tx, new.created_by)?;
                limits::check("documents_per_user", "documents", used, 1, max)?;
            }
            let created = insert(
                tx,
                &new.name,
                new.title.as_deref(),
                new.channel_id,
                new.default_role,
                new.created_by,
            )?;
            if state.webhooks {
                let (doc, comments) = &created;
                let channel = match doc.channel_id {
                    Some(id) => super::channels::by_id(tx, id)?.map(|c| c.name),
                    None => None,
                }
                .unwrap_or_else(|| comments.name.clone());
                let frame = crate::store::frames::document_created(&channel, doc)?;
                super::webhooks::enqueue(tx, &channel, "document.created", &frame, doc.created_at)?;
            }
            Ok((created, Vec::new()))
        }))
    }

    fn update_document(&self, record: DocRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| Ok((update(tx, &record)?, Vec::new()))))
    }

    fn delete_document(&self, doc_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            let channel = comments_channel_of(tx, doc_id)?;
            delete(tx, doc_id)?;
            if let Some(channel) = channel {
                state.forget(channel);
            }
            Ok(((), Vec::new()))
        }))
    }

    fn set_role(
        &self,
        doc_id: i64,
        user_name: String,
        role: Option<DocRole>,
    ) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |tx, _| {
            let found = super::users::user_by_name(tx, &user_name)?
                .ok_or_else(|| refusals::user_not_found(&user_name))?;
            set_role(tx, doc_id, found.id, role)?;
            Ok((found.id, Vec::new()))
        }))
    }

    fn load_content(&self, doc_id: i64) -> StoreFuture<'_, StoredDoc> {
        Box::pin(self.read(move |conn| load(conn, doc_id)))
    }

    fn claim_document(&self, doc_id: i64) -> StoreFuture<'_, i64> {
        // Through the writer, after the writes already queued under the older claim.
        let claims = Arc::clone(&self.claims);
        Box::pin(self.write(move |tx, _| {
            let exists = tx
                .prepare_cached("SELECT 1 FROM docs WHERE id = ?1")?
                .exists(params![doc_id])?;
            if !exists {
                return Err(Error::new(ErrorCode::DocNotFound, "the document is gone"));
            }
            Ok((claims.claim(doc_id), Vec::new()))
        }))
    }

    fn append_updates(
        &self,
        doc_id: i64,
        claim: i64,
        updates: Vec<Vec<u8>>,
    ) -> StoreFuture<'_, Option<i64>> {
        let claims = Arc::clone(&self.claims);
        // Repeatable: the claim is only read, the updates only written to the database.
        Box::pin(async move {
            self.submit_repeatable(move |tx, _| {
                if !claims.holds(doc_id, claim) {
                    return Ok((None, Vec::new()));
                }
                Ok((Some(append_updates(tx, doc_id, &updates)?), Vec::new()))
            })
            .await?
            .await
        })
    }

    fn compact(
        &self,
        doc_id: i64,
        claim: i64,
        state: Vec<u8>,
        through: i64,
    ) -> StoreFuture<'_, bool> {
        let claims = Arc::clone(&self.claims);
        Box::pin(self.write(move |tx, _| {
            if !claims.holds(doc_id, claim) {
                return Ok((false, Vec::new()));
            }
            compact(tx, doc_id, &state, through)?;
            Ok((true, Vec::new()))
        }))
    }

    fn save_version(&self, version: NewVersion) -> StoreFuture<'_, VersionInfo> {
        Box::pin(self.write(move |tx, _| Ok((save_version(tx, &version)?, Vec::new()))))
    }

    fn versions(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<VersionInfo>> {
        Box::pin(self.read(move |conn| versions(conn, doc_id, &doc_name)))
    }

    fn version(
        &self,
        doc_id: i64,
        doc_name: String,
        id: i64,
    ) -> StoreFuture<'_, Option<(VersionInfo, Vec<u8>)>> {
        Box::pin(self.read(move |conn| version(conn, doc_id, &doc_name, id)))
    }
}

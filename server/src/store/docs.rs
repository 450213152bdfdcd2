//! Documents: records, roles, the update log with its snapshot, named versions and comments.

use parley_protocol::{Comment, CommentAnchor, DocRole, ErrorCode, UserRef, VersionInfo};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{format_ts, now_ms};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct DocRecord {
    pub id: i64,
    pub name: String,
    pub title: Option<String>,
    /// The channel the document belongs to (None: the workspace).
    pub channel_id: Option<i64>,
    pub default_role: DocRole,
    pub created_by: Option<i64>,
    /// The creator as shown to clients (None once the account is gone).
    pub creator: Option<UserRef>,
    pub created_at: i64,
}

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

/// Roles granted on a document: (user id, role).
pub type Grants = Vec<(i64, DocRole)>;

/// Every document with its per-user roles.
pub fn all(conn: &Connection) -> Result<Vec<(DocRecord, Grants)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {DOC_COLUMNS} FROM {DOC_FROM} ORDER BY d.id"
    ))?;
    let docs = stmt
        .query_map([], doc_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut roles = conn.prepare("SELECT user_id, role FROM doc_roles WHERE doc_id = ?1")?;
    docs.into_iter()
        .map(|doc| {
            let grants = roles
                .query_map([doc.id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .filter_map(|r| match r {
                    Ok((user, role)) => DocRole::parse(&role).map(|role| Ok((user, role))),
                    Err(e) => Some(Err(e)),
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((doc, grants))
        })
        .collect()
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
) -> Result<(DocRecord, super::ChannelRecord)> {
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
        return Err(Error::new(
            ErrorCode::DocExists,
            format!("document {name:?} exists already"),
        ));
    }
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
             created_at, doc_id, parent_id)
         VALUES (?1, 'public', 'required', 0, ?2, ?3, ?4, ?5, ?6)",
        params![
            format!("doc#{id}"),
            super::channels::new_epoch(),
            created_by,
            now,
            id,
            channel_id
        ],
    )?;
    let channel_row = tx.last_insert_rowid();
    let doc = by_id(tx, id)?.ok_or_else(|| Error::internal("inserted document vanished"))?;
    let channel = super::channels::by_id(tx, channel_row)?
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
            Err(Error::new(
                ErrorCode::DocExists,
                format!("document {:?} exists already", doc.name),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a document with everything it owns (log, versions, comments, comments channel).
pub fn delete(tx: &Connection, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM docs WHERE id = ?1", [id])? > 0)
}

/// The comments channels of the documents of `channel_id` (deleted with it).
pub fn comment_channels_of(conn: &Connection, channel_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM channels WHERE parent_id = ?1")?;
    let rows = stmt
        .query_map([channel_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
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

/// The stored state: the snapshot (if any) and the updates logged after it, in order.
pub struct StoredDoc {
    pub snapshot: Option<Vec<u8>>,
    pub updates: Vec<Vec<u8>>,
    /// The id of the last logged update (0 when none); compaction removes up to it.
    pub last_update: i64,
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

fn user_ref(conn: &Connection, id: Option<i64>) -> Result<Option<UserRef>> {
    let Some(id) = id else { return Ok(None) };
    Ok(conn
        .prepare_cached("SELECT id, name, display_name, avatar FROM users WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(UserRef {
                id: r.get(0)?,
                name: r.get(1)?,
                display_name: r.get(2)?,
                avatar: r.get(3)?,
            })
        })
        .optional()?)
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
        created_by: user_ref(tx, Some(created_by))?,
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
                created_by: user_ref(conn, by)?,
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
            created_by: user_ref(conn, by)?,
            created_at: format_ts(at),
            size: state.len() as u64,
        },
        state,
    )))
}

/// A comment row as stored (ids, not user records).
#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: i64,
    pub doc_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
}

pub struct NewComment<'a> {
    pub doc_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
    pub anchor: Option<&'a CommentAnchor>,
    pub quote: Option<&'a str>,
    pub body: &'a str,
    pub mentions: &'a [i64],
    pub client_id: Option<&'a str>,
}

pub fn insert_comment(tx: &Connection, new: NewComment<'_>) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO comments (doc_id, parent_id, author_id, anchor_start, anchor_end, quote,
             body, created_at, client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        new.doc_id,
        new.parent_id,
        new.author_id,
        new.anchor.map(|a| a.start.as_str()),
        new.anchor.map(|a| a.end.as_str()),
        new.quote,
        new.body,
        now_ms(),
        new.client_id
    ])?;
    let id = tx.last_insert_rowid();
    set_mentions(tx, id, new.mentions)?;
    Ok(id)
}

fn set_mentions(tx: &Connection, comment_id: i64, users: &[i64]) -> Result<()> {
    tx.prepare_cached("DELETE FROM comment_mentions WHERE comment_id = ?1")?
        .execute([comment_id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO comment_mentions (comment_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for user in users {
        stmt.execute(params![comment_id, user])?;
    }
    Ok(())
}

pub fn comment_row(conn: &Connection, doc_id: i64, id: i64) -> Result<Option<CommentRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, doc_id, parent_id, author_id FROM comments WHERE id = ?1 AND doc_id = ?2",
        )?
        .query_row(params![id, doc_id], |r| {
            Ok(CommentRow {
                id: r.get(0)?,
                doc_id: r.get(1)?,
                parent_id: r.get(2)?,
                author_id: r.get(3)?,
            })
        })
        .optional()?)
}

/// The comment this author already wrote with this `client_id` (on any document): its id
/// and document id.
pub fn comment_by_client_id(
    conn: &Connection,
    author_id: i64,
    client_id: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT id, doc_id FROM comments WHERE author_id = ?1 AND client_id = ?2")?
        .query_row(params![author_id, client_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

pub fn edit_comment(tx: &Connection, id: i64, body: &str, mentions: &[i64]) -> Result<()> {
    tx.prepare_cached("UPDATE comments SET body = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id, body, now_ms()])?;
    set_mentions(tx, id, mentions)
}

pub fn resolve_comment(tx: &Connection, id: i64, by: Option<i64>) -> Result<()> {
    tx.prepare_cached("UPDATE comments SET resolved_by = ?2, resolved_at = ?3 WHERE id = ?1")?
        .execute(params![id, by, by.map(|_| now_ms())])?;
    Ok(())
}

pub fn delete_comment(tx: &Connection, id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM comments WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// A comment as clients see it.
pub fn comment(conn: &Connection, doc_name: &str, id: i64) -> Result<Option<Comment>> {
    let row = conn
        .prepare_cached(
            "SELECT parent_id, author_id, anchor_start, anchor_end, quote, body, resolved_by,
                 resolved_at, created_at, edited_at FROM comments WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        })
        .optional()?;
    let Some((parent, author, start, end, quote, body, resolved_by, resolved_at, created, edited)) =
        row
    else {
        return Ok(None);
    };
    let mut mentions = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT user_id FROM comment_mentions WHERE comment_id = ?1 ORDER BY user_id",
        )?;
        let ids = stmt
            .query_map([id], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for user in ids {
            if let Some(user) = user_ref(conn, Some(user))? {
                mentions.push(user);
            }
        }
    }
    Ok(Some(Comment {
        id,
        doc: doc_name.to_owned(),
        parent,
        anchor: match (start, end) {
            (Some(start), Some(end)) => Some(CommentAnchor { start, end }),
            _ => None,
        },
        quote,
        author: user_ref(conn, Some(author))?
            .ok_or_else(|| Error::internal("comment author vanished"))?,
        body,
        mentions,
        resolved: resolved_at.is_some(),
        resolved_by: user_ref(conn, resolved_by)?,
        created_at: format_ts(created),
        edited_at: edited.map(format_ts),
    }))
}

/// Every comment of a document, oldest first (replies after their parents).
pub fn comments(conn: &Connection, doc_id: i64, doc_name: &str) -> Result<Vec<Comment>> {
    let ids = conn
        .prepare_cached("SELECT id FROM comments WHERE doc_id = ?1 ORDER BY id")?
        .query_map([doc_id], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = comment(conn, doc_name, id)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Users named by `@name` mentions, by id.
pub fn users_named(conn: &Connection, names: &[String]) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE name = ?1")?;
    let mut ids = Vec::new();
    for name in names {
        if let Some(id) = stmt.query_row([name], |r| r.get::<_, i64>(0)).optional()? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

//! Attachment rows (SQLite): one per upload (content hash, size, sniffed type, name, dimensions,
//! thumbnail, uploader), and which messages carry which (`message_attachments`).

use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        AttachmentAccess, AttachmentStore, AttachmentUpload, PlaceFiles, StoreFuture,
        StoredAttachment,
    },
};

fn attachment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<parley_protocol::Attachment> {
    Ok(parley_protocol::Attachment {
        id: r.get(0)?,
        sha256: r.get(1)?,
        size: r.get::<_, i64>(2)?.max(0) as u64,
        mime: r.get(3)?,
        name: r.get(4)?,
        width: r.get(5)?,
        height: r.get(6)?,
        thumbnail: r.get::<_, Option<String>>(7)?.is_some(),
    })
}

const ATTACHMENT_COLUMNS: &str =
    "a.id, a.sha256, a.size, a.mime, a.name, a.width, a.height, a.thumbnail_sha256";

pub fn attachments_of(
    conn: &Connection,
    message_id: i64,
) -> Result<Vec<parley_protocol::Attachment>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM message_attachments ma
         JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = ?1 ORDER BY a.id"
    ))?;
    let rows = stmt
        .query_map([message_id], attachment_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// An attachment with its uploader.
pub fn attachment(
    conn: &Connection,
    id: i64,
) -> Result<Option<(parley_protocol::Attachment, i64)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ATTACHMENT_COLUMNS}, a.uploader_id FROM attachments a WHERE a.id = ?1"
        ))?
        .query_row([id], |r| Ok((attachment_from_row(r)?, r.get(8)?)))
        .optional()?)
}

/// Channels where a (not deleted) message carries this attachment.
pub fn attachment_channels(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT m.channel_id FROM message_attachments ma JOIN messages m ON m.id = ma.message_id
         WHERE ma.attachment_id = ?1 AND m.deleted_at IS NULL",
    )?;
    let rows = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

/// Bytes this user has uploaded.
pub fn uploaded_bytes(conn: &Connection, user_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT coalesce(sum(size), 0) FROM attachments WHERE uploader_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

pub struct NewAttachment<'a> {
    pub sha256: &'a str,
    pub size: u64,
    pub mime: &'a str,
    pub name: &'a str,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub uploader_id: i64,
    /// The user's quota, checked inside the write (concurrent uploads cannot both pass).
    pub quota: u64,
    pub thumbnail_sha256: Option<&'a str>,
}

pub fn insert_attachment(
    tx: &Connection,
    new: NewAttachment<'_>,
) -> Result<parley_protocol::Attachment> {
    let used = uploaded_bytes(tx, new.uploader_id)?;
    if used.saturating_add(new.size) > new.quota {
        return Err(refusals::quota_exceeded(new.size, new.quota, used));
    }
    tx.prepare_cached(
        "INSERT INTO attachments (sha256, size, mime, name, width, height, uploader_id, created_at,
             thumbnail_sha256)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        new.sha256,
        new.size as i64,
        new.mime,
        new.name,
        new.width,
        new.height,
        new.uploader_id,
        crate::store::now_ms(),
        new.thumbnail_sha256
    ])?;
    let id = tx.last_insert_rowid();
    attachment(tx, id)?
        .map(|(a, _)| a)
        .ok_or_else(|| Error::internal("attachment vanished"))
}

/// The thumbnail's content hash of an attachment, if it has one.
pub fn thumbnail_of(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT thumbnail_sha256 FROM attachments WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// What the earliest upload of this content got for a thumbnail: `None` when the content was
/// never uploaded, `Some(None)` when it got none.
pub fn thumbnail_of_content(conn: &Connection, sha256: &str) -> Result<Option<Option<String>>> {
    Ok(conn
        .prepare_cached(
            "SELECT thumbnail_sha256 FROM attachments WHERE sha256 = ?1 ORDER BY id LIMIT 1",
        )?
        .query_row([sha256], |r| r.get::<_, Option<String>>(0))
        .optional()?)
}

/// Every content hash a row refers to, files and thumbnails (32 bytes each, to keep the set
/// small on a large instance).
pub fn attachment_contents(conn: &Connection) -> Result<std::collections::HashSet<[u8; 32]>> {
    let mut stmt = conn.prepare(
        "SELECT sha256 FROM attachments
         UNION SELECT thumbnail_sha256 FROM attachments WHERE thumbnail_sha256 IS NOT NULL",
    )?;
    let mut rows = stmt.query([])?;
    let mut set = std::collections::HashSet::new();
    while let Some(row) = rows.next()? {
        let text: String = row.get(0)?;
        let mut sha = [0u8; 32];
        if hex::decode_to_slice(&text, &mut sha).is_ok() {
            set.insert(sha);
        }
    }
    Ok(set)
}

/// Contents whose file is missing: thumbnails that point at them are forgotten (the file
/// rows are kept). Returns (attachments whose file is missing, thumbnails forgotten).
pub fn forget_missing_content(tx: &Connection, missing: &[String]) -> Result<(usize, usize)> {
    let (mut files, mut thumbnails) = (0, 0);
    for sha in missing {
        files += tx
            .prepare_cached("SELECT count(*) FROM attachments WHERE sha256 = ?1")?
            .query_row([sha], |r| r.get::<_, i64>(0))?
            .max(0) as usize;
        thumbnails += tx
            .prepare_cached(
                "UPDATE attachments SET thumbnail_sha256 = NULL WHERE thumbnail_sha256 = ?1",
            )?
            .execute([sha])?;
    }
    Ok((files, thumbnails))
}

fn stored(conn: &Connection, id: i64) -> Result<Option<StoredAttachment>> {
    Ok(
        attachment(conn, id)?.map(|(attachment, uploader_id)| StoredAttachment {
            attachment,
            uploader_id,
        }),
    )
}

impl AttachmentStore for SqliteStore {
    fn attachment(&self, id: i64) -> StoreFuture<'_, Option<StoredAttachment>> {
        Box::pin(self.read(move |conn| stored(conn, id)))
    }

    fn attachment_access(&self, id: i64) -> StoreFuture<'_, Option<AttachmentAccess>> {
        Box::pin(self.read(move |conn| {
            let Some(stored) = stored(conn, id)? else {
                return Ok(None);
            };
            let channels = attachment_channels(conn, id)?;
            Ok(Some(AttachmentAccess { stored, channels }))
        }))
    }

    fn first_not_owned(&self, user_id: i64, ids: Vec<i64>) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |conn| {
            for id in ids {
                match attachment(conn, id)? {
                    Some((_, uploader)) if uploader == user_id => {}
                    _ => return Ok(Some(id)),
                }
            }
            Ok(None)
        }))
    }

    fn uploaded_bytes(&self, user_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.read(move |conn| uploaded_bytes(conn, user_id)))
    }

    fn thumbnail_of(&self, id: i64) -> StoreFuture<'_, Option<String>> {
        Box::pin(self.read(move |conn| thumbnail_of(conn, id)))
    }

    fn thumbnail_of_content(&self, sha256: String) -> StoreFuture<'_, Option<Option<String>>> {
        Box::pin(self.read(move |conn| thumbnail_of_content(conn, &sha256)))
    }

    fn insert_attachment(
        &self,
        upload: AttachmentUpload,
        place: PlaceFiles,
    ) -> StoreFuture<'_, parley_protocol::Attachment> {
        Box::pin(self.write(move |tx, _| {
            let attachment = insert_attachment(
                tx,
                NewAttachment {
                    sha256: &upload.sha256,
                    size: upload.size,
                    mime: &upload.mime,
                    name: &upload.name,
                    width: upload.width,
                    height: upload.height,
                    uploader_id: upload.uploader_id,
                    quota: upload.quota,
                    thumbnail_sha256: upload.thumbnail_sha256.as_deref(),
                },
            )?;
            place()?;
            Ok((attachment, Vec::new()))
        }))
    }

    fn attachment_contents(&self) -> StoreFuture<'_, std::collections::HashSet<[u8; 32]>> {
        Box::pin(self.read(attachment_contents))
    }

    fn forget_missing_content(&self, missing: Vec<String>) -> StoreFuture<'_, (usize, usize)> {
        Box::pin(self.write(move |tx, _| Ok((forget_missing_content(tx, &missing)?, Vec::new()))))
    }
}

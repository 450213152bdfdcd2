//! Attachment rows (PostgreSQL): one per upload (content hash, size, sniffed type, name,
//! dimensions, thumbnail, uploader), and which messages carry which (`message_attachments`).

use std::collections::{HashMap, HashSet};

use postgres::{GenericClient, Transaction};

use super::{channels::lock_user, PgStore};
use crate::{
    error::Result,
    store::{
        now_ms, refusals, AttachmentAccess, AttachmentStore, AttachmentUpload, PlaceFiles,
        StoreFuture, StoredAttachment,
    },
};

/// An attachment with its uploader.
pub fn attachment(
    client: &mut impl GenericClient,
    id: i64,
) -> Result<Option<(parley_protocol::Attachment, i64)>> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT {ATTACHMENT_COLUMNS}, a.uploader_id FROM attachments a WHERE a.id = $1"
            ),
            &[&id],
        )?
        .map(|r| (attachment_from_row(&r), r.get(8))))
}

/// Channels where a (not deleted) message carries this attachment.
pub fn attachment_channels(client: &mut impl GenericClient, id: i64) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT DISTINCT m.channel_id FROM message_attachments ma
             JOIN messages m ON m.id = ma.message_id
             WHERE ma.attachment_id = $1 AND m.deleted_at IS NULL",
            &[&id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Bytes this user has uploaded.
pub fn uploaded_bytes(client: &mut impl GenericClient, user_id: i64) -> Result<u64> {
    // sum(bigint) is numeric in PostgreSQL: cast back.
    let n: i64 = client
        .query_one(
            "SELECT coalesce(sum(size), 0)::BIGINT FROM attachments WHERE uploader_id = $1",
            &[&user_id],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// Inserts an upload's row, within the uploader's quota. The uploader's row is locked before
/// the bytes are counted: uploads on several nodes at once cannot both pass the quota.
pub fn insert_attachment(
    tx: &mut Transaction<'_>,
    upload: &AttachmentUpload,
) -> Result<parley_protocol::Attachment> {
    lock_user(tx, upload.uploader_id)?;
    let used = uploaded_bytes(tx, upload.uploader_id)?;
    if used.saturating_add(upload.size) > upload.quota {
        return Err(refusals::quota_exceeded(upload.size, upload.quota, used));
    }
    let row = tx.query_one(
        &format!(
            "INSERT INTO attachments AS a (sha256, size, mime, name, width, height, uploader_id,
                 created_at, thumbnail_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING {ATTACHMENT_COLUMNS}"
        ),
        &[
            &upload.sha256,
            &(upload.size as i64),
            &upload.mime,
            &upload.name,
            &upload.width.map(i64::from),
            &upload.height.map(i64::from),
            &upload.uploader_id,
            &now_ms(),
            &upload.thumbnail_sha256,
        ],
    )?;
    Ok(attachment_from_row(&row))
}

/// The thumbnail's content hash of an attachment, if it has one.
pub fn thumbnail_of(client: &mut impl GenericClient, id: i64) -> Result<Option<String>> {
    Ok(client
        .query_opt(
            "SELECT thumbnail_sha256 FROM attachments WHERE id = $1",
            &[&id],
        )?
        .and_then(|r| r.get::<_, Option<String>>(0)))
}

/// What the earliest upload of this content got for a thumbnail: `None` when the content was
/// never uploaded, `Some(None)` when it got none.
pub fn thumbnail_of_content(
    client: &mut impl GenericClient,
    sha256: &str,
) -> Result<Option<Option<String>>> {
    Ok(client
        .query_opt(
            "SELECT thumbnail_sha256 FROM attachments WHERE sha256 = $1 ORDER BY id LIMIT 1",
            &[&sha256],
        )?
        .map(|r| r.get::<_, Option<String>>(0)))
}

/// Every content hash a row refers to, files and thumbnails (32 bytes each, to keep the set
/// small on a large instance).
pub fn attachment_contents(client: &mut impl GenericClient) -> Result<HashSet<[u8; 32]>> {
    let rows = client.query(
        "SELECT sha256 FROM attachments
         UNION SELECT thumbnail_sha256 FROM attachments WHERE thumbnail_sha256 IS NOT NULL",
        &[],
    )?;
    let mut set = HashSet::new();
    for row in rows {
        let text: &str = row.get(0);
        let mut sha = [0u8; 32];
        if hex::decode_to_slice(text, &mut sha).is_ok() {
            set.insert(sha);
        }
    }
    Ok(set)
}

/// Contents whose file is missing: thumbnails that point at them are forgotten (the file
/// rows are kept). Returns (attachments whose file is missing, thumbnails forgotten).
pub fn forget_missing_content(
    tx: &mut Transaction<'_>,
    missing: &[String],
) -> Result<(usize, usize)> {
    let missing = missing.to_vec();
    // Joined with the list itself, not `= ANY`: a hash listed twice counts twice, as when
    // each is looked up in turn.
    let files: i64 = tx
        .query_one(
            "SELECT count(*) FROM attachments a JOIN unnest($1::TEXT[]) m(sha) ON a.sha256 = m.sha",
            &[&missing],
        )?
        .get(0);
    let thumbnails = tx.execute(
        "UPDATE attachments SET thumbnail_sha256 = NULL WHERE thumbnail_sha256 = ANY($1)",
        &[&missing],
    )?;
    Ok((files.max(0) as usize, thumbnails as usize))
}

fn stored(client: &mut impl GenericClient, id: i64) -> Result<Option<StoredAttachment>> {
    Ok(
        attachment(client, id)?.map(|(attachment, uploader_id)| StoredAttachment {
            attachment,
            uploader_id,
        }),
    )
}

impl AttachmentStore for PgStore {
    fn attachment(&self, id: i64) -> StoreFuture<'_, Option<StoredAttachment>> {
        Box::pin(self.read(move |client| stored(client, id)))
    }

    fn attachment_access(&self, id: i64) -> StoreFuture<'_, Option<AttachmentAccess>> {
        Box::pin(self.read(move |client| {
            let Some(stored) = stored(client, id)? else {
                return Ok(None);
            };
            let channels = attachment_channels(client, id)?;
            Ok(Some(AttachmentAccess { stored, channels }))
        }))
    }

    fn first_not_owned(&self, user_id: i64, ids: Vec<i64>) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.read(move |client| {
            // One look-up for the whole list; the first one in the caller's order answers.
            let uploaders: HashMap<i64, i64> = client
                .query(
                    "SELECT id, uploader_id FROM attachments WHERE id = ANY($1)",
                    &[&ids],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            Ok(ids
                .into_iter()
                .find(|id| uploaders.get(id) != Some(&user_id)))
        }))
    }

    fn uploaded_bytes(&self, user_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(self.read(move |client| uploaded_bytes(client, user_id)))
    }

    fn thumbnail_of(&self, id: i64) -> StoreFuture<'_, Option<String>> {
        Box::pin(self.read(move |client| thumbnail_of(client, id)))
    }

    fn thumbnail_of_content(&self, sha256: String) -> StoreFuture<'_, Option<Option<String>>> {
        Box::pin(self.read(move |client| thumbnail_of_content(client, &sha256)))
    }

    fn insert_attachment(
        &self,
        upload: AttachmentUpload,
        place: PlaceFiles,
    ) -> StoreFuture<'_, parley_protocol::Attachment> {
        Box::pin(self.write(move |tx, _| {
            let attachment = insert_attachment(tx, &upload)?;
            // The files go into place inside the write: a failure rolls the row back.
            place()?;
            Ok((attachment, Vec::new()))
        }))
    }

    fn attachment_contents(&self) -> StoreFuture<'_, HashSet<[u8; 32]>> {
        Box::pin(self.read(attachment_contents))
    }

    fn forget_missing_content(&self, missing: Vec<String>) -> StoreFuture<'_, (usize, usize)> {
        Box::pin(self.write(move |tx, _| Ok((forget_missing_content(tx, &missing)?, Vec::new()))))
    }
}

pub(super) const ATTACHMENT_COLUMNS: &str =
    "a.id, a.sha256, a.size, a.mime, a.name, a.width, a.height, a.thumbnail_sha256";

pub(super) fn attachment_from_row(r: &postgres::Row) -> parley_protocol::Attachment {
    parley_protocol::Attachment {
        id: r.get(0),
        sha256: r.get(1),
        size: r.get::<_, i64>(2).max(0) as u64,
        mime: r.get(3),
        name: r.get(4),
        width: r
            .get::<_, Option<i64>>(5)
            .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32),
        height: r
            .get::<_, Option<i64>>(6)
            .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32),
        thumbnail: r.get::<_, Option<String>>(7).is_some(),
    }
}

/// The attachments a message carries, oldest first.
pub fn attachments_of(
    client: &mut impl postgres::GenericClient,
    message_id: i64,
) -> crate::error::Result<Vec<parley_protocol::Attachment>> {
    Ok(client
        .query(
            &format!(
                "SELECT {ATTACHMENT_COLUMNS} FROM message_attachments ma
                 JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = $1
                 ORDER BY a.id"
            ),
            &[&message_id],
        )?
        .iter()
        .map(attachment_from_row)
        .collect())
}

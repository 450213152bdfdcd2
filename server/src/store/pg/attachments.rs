//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl AttachmentStore for PgStore {
    fn attachment(&self, _id: i64) -> StoreFuture<'_, Option<StoredAttachment>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn attachment_access(&self, _id: i64) -> StoreFuture<'_, Option<AttachmentAccess>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn first_not_owned(&self, _user_id: i64, _ids: Vec<i64>) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn uploaded_bytes(&self, _user_id: i64) -> StoreFuture<'_, u64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn thumbnail_of(&self, _id: i64) -> StoreFuture<'_, Option<String>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn thumbnail_of_content(&self, _sha256: String) -> StoreFuture<'_, Option<Option<String>>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn insert_attachment(
        &self,
        _upload: AttachmentUpload,
        _place: PlaceFiles,
    ) -> StoreFuture<'_, parley_protocol::Attachment> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn attachment_contents(&self) -> StoreFuture<'_, HashSet<[u8; 32]>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn forget_missing_content(&self, _missing: Vec<String>) -> StoreFuture<'_, (usize, usize)> {
        Box::pin(async { Err(super::not_yet()) })
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

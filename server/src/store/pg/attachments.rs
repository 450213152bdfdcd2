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

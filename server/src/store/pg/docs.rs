//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl DocumentStore for PgStore {
    fn load_documents(&self) -> StoreFuture<'_, Vec<(DocRecord, Grants)>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn document_by_name(&self, _name: String) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn document_by_id(&self, _doc_id: i64) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn create_document(&self, _new: NewDocument) -> StoreFuture<'_, (DocRecord, ChannelRecord)> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn update_document(&self, _record: DocRecord) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_document(&self, _doc_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_role(
        &self,
        _doc_id: i64,
        _user_name: String,
        _role: Option<DocRole>,
    ) -> StoreFuture<'_, i64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn load_content(&self, _doc_id: i64) -> StoreFuture<'_, StoredDoc> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn append_updates(&self, _doc_id: i64, _updates: Vec<Vec<u8>>) -> StoreFuture<'_, i64> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn compact(&self, _doc_id: i64, _state: Vec<u8>, _through: i64) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn save_version(&self, _version: NewVersion) -> StoreFuture<'_, VersionInfo> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn versions(&self, _doc_id: i64, _doc_name: String) -> StoreFuture<'_, Vec<VersionInfo>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn version(
        &self,
        _doc_id: i64,
        _doc_name: String,
        _id: i64,
    ) -> StoreFuture<'_, Option<(VersionInfo, Vec<u8>)>> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl CommentStore for PgStore {
    fn comments(&self, _doc_id: i64, _doc_name: String) -> StoreFuture<'_, Vec<Comment>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn comment_row(&self, _doc_id: i64, _id: i64) -> StoreFuture<'_, Option<CommentRow>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn comment_by_client_id(
        &self,
        _doc: CommentsOf,
        _author_id: i64,
        _client_id: String,
    ) -> StoreFuture<'_, Option<Comment>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn create_comment(&self, _doc: CommentsOf, _post: CommentPost) -> StoreFuture<'_, Comment> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn edit_comment(
        &self,
        _doc: CommentsOf,
        _id: i64,
        _body: String,
        _mention_names: Vec<String>,
        _by: i64,
    ) -> StoreFuture<'_, Comment> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn resolve_comment(
        &self,
        _doc: CommentsOf,
        _id: i64,
        _resolved_by: Option<i64>,
        _by: i64,
    ) -> StoreFuture<'_, Comment> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_comment(&self, _doc: CommentsOf, _id: i64, _by: i64) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

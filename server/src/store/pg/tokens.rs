//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl TokenStore for PgStore {
    fn list_tokens(&self, _user_id: i64, _limit: u32) -> StoreFuture<'_, Vec<StoredToken>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn revoke_token_of(&self, _user_id: i64, _token_id: i64) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn touch_tokens(&self, _uses: Vec<(i64, i64)>) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn issue_capped(
        &self,
        _user_id: i64,
        _token: NewToken,
        _cap: usize,
        _evict: bool,
    ) -> StoreFuture<'_, Issued> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn create_bot(&self, _user: NewUser) -> StoreFuture<'_, UserCreation> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn bot_by_id(&self, _id: i64) -> StoreFuture<'_, Option<UserRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

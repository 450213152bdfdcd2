//! (PostgreSQL) To be ported from the SQLite store's file of the same area.

#![allow(unused_imports)]

use std::collections::{HashMap, HashSet};

use parley_protocol::*;

use super::PgStore;
use crate::store::*;

impl PeopleStore for PgStore {
    fn create_invite(&self, _invite: NewInvite) -> StoreFuture<'_, InviteRecord> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn invite(&self, _id: i64) -> StoreFuture<'_, Option<InviteRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn live_invites(&self, _creator: Option<i64>, _now: i64) -> StoreFuture<'_, Vec<InviteRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn revoke_invite(&self, _id: i64, _now: i64) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn register_with_invite(
        &self,
        _code_hash: Vec<u8>,
        _now: i64,
        _user: NewUser,
        _token: NewToken,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn accounts(&self, _after: i64, _limit: u32) -> StoreFuture<'_, Vec<AccountRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn account(&self, _user_id: i64) -> StoreFuture<'_, Option<AccountRecord>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_disabled(&self, _user_id: i64, _disabled: bool) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_user(&self, _user_id: i64) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_reset_code(
        &self,
        _user_id: i64,
        _code_hash: Vec<u8>,
        _expires_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn reset_code_user(
        &self,
        _name: String,
        _code_hash: Vec<u8>,
        _now: i64,
    ) -> StoreFuture<'_, Option<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn reset_password(
        &self,
        _user_id: i64,
        _code_hash: Vec<u8>,
        _password_hash: String,
        _now: i64,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_display_name(
        &self,
        _user_id: i64,
        _display_name: Option<String>,
        _display_key: Option<String>,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_avatar(&self, _user_id: i64, _image: Option<Vec<u8>>) -> StoreFuture<'_, UserRecord> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn avatar(&self, _user_id: i64) -> StoreFuture<'_, Option<(Vec<u8>, String)>> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

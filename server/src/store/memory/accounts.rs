//! Users and tokens, in memory. User names are unique without regard to ASCII case.

use parley_protocol::ErrorCode;

use super::{
    state::{State, Table, TokenRow, UserRow},
    MemoryStore,
};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        now_ms, AccountStore, NewToken, NewUser, StoreFuture, TokenRecord, UserCreation,
        UserRecord, UserRules,
    },
};

impl State {
    /// A user (other than `except`) whose name key is `key`.
    fn user_named_like(&self, key: &str, except: Option<i64>) -> Option<String> {
        self.users
            .values()
            .find(|u| u.name_key.as_deref() == Some(key) && Some(u.record.id) != except)
            .map(|u| u.record.name.clone())
    }

    pub(super) fn create_user(
        &mut self,
        user: NewUser,
        token: Option<NewToken>,
    ) -> Result<UserCreation> {
        if let Some(key) = &user.display_key {
            if let Some(other) = self.user_named_like(key, None) {
                if !other.eq_ignore_ascii_case(&user.name) {
                    return Ok(UserCreation::LooksLike(other));
                }
            }
        }
        if self.user_named(&user.name).is_some() {
            return Err(refusals::user_exists(&user.name));
        }
        let record = UserRecord {
            id: self.next_id(Table::User),
            name: user.name,
            display_name: user.display_name,
            avatar: None,
            is_admin: user.is_admin,
        };
        self.users.insert(
            record.id,
            UserRow {
                record: record.clone(),
                name_key: Some(user.name_key),
                password_hash: user.password_hash,
            },
        );
        if let Some(token) = token {
            self.issue_token(record.id, token);
        }
        Ok(UserCreation::Created(record))
    }

    pub(super) fn issue_token(&mut self, user_id: i64, token: NewToken) -> i64 {
        let id = self.next_id(Table::Token);
        self.tokens.insert(
            id,
            TokenRow {
                user_id,
                hash: token.hash,
                revoked: false,
                label: token.label,
                created_at: now_ms(),
                last_used_at: None,
                expires_at: token.expires_at,
                scope: token.scope,
            },
        );
        id
    }

    fn repair_users(&mut self, rules: UserRules) -> usize {
        for user in self.users.values_mut() {
            if user.name_key.is_none() {
                user.name_key = Some((rules.name_key)(&user.record.name));
            }
        }
        let stored: Vec<(i64, String)> = self
            .users
            .values()
            .filter_map(|u| Some((u.record.id, u.record.display_name.clone()?)))
            .collect();
        let mut repaired = 0;
        for (id, stored) in stored {
            let fixed = (rules.repaired)(&stored).filter(|candidate| {
                self.user_named_like(&(rules.name_key)(candidate), Some(id))
                    .is_none()
            });
            if fixed.as_deref() != Some(stored.as_str()) {
                if let Some(user) = self.users.get_mut(&id) {
                    let name = &user.record.name;
                    tracing::warn!(user = %name, "display name repaired under the display-name rules");
                    user.record.display_name = fixed;
                }
                repaired += 1;
            }
        }
        repaired
    }
}

impl AccountStore for MemoryStore {
    fn token_by_hash(&self, hash: Vec<u8>) -> StoreFuture<'_, Option<TokenRecord>> {
        let now = now_ms();
        let found = self.read(|state| {
            Ok(state
                .tokens
                .iter()
                .find(|(_, t)| t.hash == hash && t.live(now) && !state.people.blocked(t.user_id))
                .and_then(|(id, t)| {
                    Some(TokenRecord {
                        id: *id,
                        user: state.users.get(&t.user_id)?.record.clone(),
                        scope: t.scope.clone().map(std::sync::Arc::new),
                        expires_at: t.expires_at,
                    })
                }))
        });
        Box::pin(async move { found })
    }

    fn user_with_password(&self, name: String) -> StoreFuture<'_, Option<(UserRecord, String)>> {
        let found = self.read(|state| {
            Ok(state
                .users
                .values()
                .find(|u| u.record.name.eq_ignore_ascii_case(&name))
                .map(|u| (u.record.clone(), u.password_hash.clone())))
        });
        Box::pin(async move { found })
    }

    fn user_by_name(&self, name: String) -> StoreFuture<'_, Option<UserRecord>> {
        let found = self.read(|state| Ok(state.user_named(&name).cloned()));
        Box::pin(async move { found })
    }

    fn users_by_name(&self, names: Vec<String>) -> StoreFuture<'_, Vec<Option<UserRecord>>> {
        let found =
            self.read(|state| Ok(names.iter().map(|n| state.user_named(n).cloned()).collect()));
        Box::pin(async move { found })
    }

    fn users_by_id(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<UserRecord>> {
        let found = self.read(|state| {
            Ok(ids
                .iter()
                .filter_map(|id| state.users.get(id).map(|u| u.record.clone()))
                .collect())
        });
        Box::pin(async move { found })
    }

    fn create_user(&self, user: NewUser, token: Option<NewToken>) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |state| Ok((state.create_user(user, token)?, Vec::new()))))
    }

    fn issue_token(&self, user_id: i64, token: NewToken) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |state| {
            if !state.users.contains_key(&user_id) {
                return Err(Error::new(
                    ErrorCode::UserNotFound,
                    format!("no user {user_id}"),
                ));
            }
            Ok((state.issue_token(user_id, token), Vec::new()))
        }))
    }

    fn revoke_token(&self, hash: Vec<u8>) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            let live = state
                .tokens
                .values_mut()
                .find(|t| t.hash == hash && !t.revoked);
            let revoked = live.map(|t| t.revoked = true).is_some();
            Ok((revoked, Vec::new()))
        }))
    }

    fn revoke_user_tokens(&self, user_id: i64) -> StoreFuture<'_, usize> {
        Box::pin(self.write(move |state| {
            let mut n = 0;
            for token in state.tokens.values_mut() {
                if token.user_id == user_id && !token.revoked {
                    token.revoked = true;
                    n += 1;
                }
            }
            Ok((n, Vec::new()))
        }))
    }

    fn change_password(
        &self,
        user_id: i64,
        hash: String,
        keep_token: Option<i64>,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |state| {
            let Some(user) = state.users.get_mut(&user_id) else {
                return Err(Error::new(ErrorCode::UserNotFound, "no such user"));
            };
            user.password_hash = hash;
            let mut revoked = Vec::new();
            if let Some(keep) = keep_token {
                for (id, token) in state.tokens.iter_mut() {
                    if token.user_id == user_id && *id != keep && !token.revoked {
                        token.revoked = true;
                        revoked.push(*id);
                    }
                }
            }
            revoked.sort_unstable();
            Ok((revoked, Vec::new()))
        }))
    }

    fn revoked_among(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<i64>> {
        let now = now_ms();
        let found = self.read(|state| {
            Ok(ids
                .into_iter()
                .filter(|id| state.tokens.get(id).is_none_or(|t| !t.live(now)))
                .collect())
        });
        Box::pin(async move { found })
    }

    fn repair_users(&self, rules: UserRules) -> StoreFuture<'_, usize> {
        Box::pin(self.write(move |state| Ok((state.repair_users(rules), Vec::new()))))
    }
}

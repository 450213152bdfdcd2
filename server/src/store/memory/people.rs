//! Invites, account states, reset codes, display names and avatars, in memory.

use parley_protocol::ErrorCode;
use sha2::{Digest, Sha256};

use super::{people_state::InviteRow, state::State, MemoryStore};
use crate::{
    error::{Error, Result},
    store::{
        avatar_path, now_ms, AccountRecord, InviteRecord, NewInvite, NewToken, NewUser,
        PeopleStore, StoreFuture, UserCreation, UserRecord, DELETED_DISPLAY_NAME,
    },
};

fn live(row: &InviteRow, now: i64) -> bool {
    !row.revoked && row.uses_left > 0 && row.expires_at > now
}

impl State {
    fn invite_record(&self, id: i64, row: &InviteRow) -> Option<InviteRecord> {
        Some(InviteRecord {
            id,
            created_by: self.users.get(&row.created_by)?.record.clone(),
            created_at: row.created_at,
            expires_at: row.expires_at,
            uses_left: row.uses_left,
            revoked: row.revoked,
            used_by: row.used_by.clone(),
        })
    }

    fn account_of(&self, user_id: i64) -> Option<AccountRecord> {
        let user = self.users.get(&user_id)?;
        Some(AccountRecord {
            user: user.record.clone(),
            disabled: self.people.disabled.get(&user_id).copied().unwrap_or(false),
            deleted: self.people.deleted.get(&user_id).copied().unwrap_or(false),
            created_at: 0,
        })
    }

    fn live_account(&self, user_id: i64) -> Result<AccountRecord> {
        self.account_of(user_id)
            .filter(|a| !a.deleted)
            .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))
    }

    fn keep_an_admin(&self, account: &AccountRecord) -> Result<()> {
        if !account.user.is_admin || account.disabled {
            return Ok(());
        }
        let others = self.users.keys().any(|id| {
            *id != account.user.id
                && self
                    .account_of(*id)
                    .is_some_and(|a| a.user.is_admin && !a.disabled && !a.deleted)
        });
        if others {
            Ok(())
        } else {
            Err(Error::forbidden(
                "this is the workspace's last admin: make another admin first",
            ))
        }
    }

    fn revoke_all(&mut self, user_id: i64) -> Vec<i64> {
        let mut ids = Vec::new();
        for (id, token) in &mut self.tokens {
            if token.user_id == user_id && !token.revoked {
                token.revoked = true;
                ids.push(*id);
            }
        }
        ids
    }

    fn delete_account(&mut self, user_id: i64) -> Result<Vec<i64>> {
        let account = self.live_account(user_id)?;
        self.keep_an_admin(&account)?;
        let revoked = self.revoke_all(user_id);
        let mut name = format!("deleted-{user_id}");
        if self.user_named(&name).is_some_and(|u| u.id != user_id) {
            name = format!(
                "deleted-{user_id}-{}",
                hex::encode(rand::random::<[u8; 4]>())
            );
        }
        if let Some(row) = self.users.get_mut(&user_id) {
            row.record.name = name;
            row.record.display_name = Some(DELETED_DISPLAY_NAME.to_owned());
            row.record.avatar = None;
            row.record.is_admin = false;
            row.name_key = None;
            row.password_hash = String::new();
        }
        self.people.deleted.insert(user_id, true);
        self.people.invites.retain(|_, i| i.created_by != user_id);
        self.people.reset_codes.remove(&user_id);
        self.people.avatars.remove(&user_id);
        self.members.retain(|(_, member), _| *member != user_id);
        Ok(revoked)
    }
}

impl PeopleStore for MemoryStore {
    fn create_invite(&self, invite: NewInvite) -> StoreFuture<'_, InviteRecord> {
        Box::pin(self.write(move |state| {
            let now = now_ms();
            let held = state
                .people
                .invites
                .values()
                .filter(|i| i.created_by == invite.created_by && live(i, now))
                .count();
            if held >= invite.max_live as usize {
                return Err(Error::new(
                    ErrorCode::LimitReached,
                    format!(
                        "you hold {held} live invites, the most allowed \
                         (accounts.max_live_invites_per_user); revoke one first"
                    ),
                ));
            }
            state.people.last_invite += 1;
            let id = state.people.last_invite;
            let row = InviteRow {
                code_hash: invite.code_hash,
                created_by: invite.created_by,
                created_at: now,
                expires_at: invite.expires_at,
                uses_left: invite.uses,
                revoked: false,
                used_by: Vec::new(),
            };
            let record = state
                .invite_record(id, &row)
                .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))?;
            state.people.invites.insert(id, row);
            Ok((record, Vec::new()))
        }))
    }

    fn invite(&self, id: i64) -> StoreFuture<'_, Option<InviteRecord>> {
        let found = self.read(|state| {
            Ok(state
                .people
                .invites
                .get(&id)
                .and_then(|row| state.invite_record(id, row)))
        });
        Box::pin(async move { found })
    }

    fn live_invites(&self, creator: Option<i64>, now: i64) -> StoreFuture<'_, Vec<InviteRecord>> {
        let found = self.read(|state| {
            Ok(state
                .people
                .invites
                .iter()
                .filter(|(_, i)| live(i, now) && creator.is_none_or(|c| c == i.created_by))
                .filter_map(|(id, row)| state.invite_record(*id, row))
                .collect())
        });
        Box::pin(async move { found })
    }

    fn revoke_invite(&self, id: i64, now: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            let row = state.people.invites.get_mut(&id).filter(|i| live(i, now));
            Ok((row.map(|i| i.revoked = true).is_some(), Vec::new()))
        }))
    }

    fn register_with_invite(
        &self,
        code_hash: Vec<u8>,
        now: i64,
        user: NewUser,
        token: NewToken,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |state| {
            let id = state
                .people
                .invites
                .iter()
                .find(|(_, i)| i.code_hash == code_hash && live(i, now))
                .map(|(id, _)| *id)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidInvite,
                        "this invite is unknown, used up, expired or revoked",
                    )
                })?;
            let created = state.create_user(user, Some(token))?;
            if let (UserCreation::Created(record), Some(row)) =
                (&created, state.people.invites.get_mut(&id))
            {
                row.uses_left -= 1;
                row.used_by.push(record.id);
            }
            Ok((created, Vec::new()))
        }))
    }

    fn accounts(&self, after: i64, limit: u32) -> StoreFuture<'_, Vec<AccountRecord>> {
        let found = self.read(|state| {
            Ok(state
                .users
                .range(after.saturating_add(1)..)
                .filter_map(|(id, _)| state.account_of(*id))
                .filter(|a| !a.deleted)
                .take(limit as usize)
                .collect())
        });
        Box::pin(async move { found })
    }

    fn account(&self, user_id: i64) -> StoreFuture<'_, Option<AccountRecord>> {
        let found = self.read(|state| Ok(state.account_of(user_id)));
        Box::pin(async move { found })
    }

    fn set_disabled(&self, user_id: i64, disabled: bool) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |state| {
            let account = state.live_account(user_id)?;
            if !disabled {
                state.people.disabled.insert(user_id, false);
                return Ok((Vec::new(), Vec::new()));
            }
            state.keep_an_admin(&account)?;
            state.people.disabled.insert(user_id, true);
            Ok((state.revoke_all(user_id), Vec::new()))
        }))
    }

    fn delete_user(&self, user_id: i64) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |state| Ok((state.delete_account(user_id)?, Vec::new()))))
    }

    fn set_reset_code(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        expires_at: i64,
    ) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            state.live_account(user_id)?;
            state
                .people
                .reset_codes
                .insert(user_id, (code_hash, expires_at));
            Ok(((), Vec::new()))
        }))
    }

    fn reset_code_user(
        &self,
        name: String,
        code_hash: Vec<u8>,
        now: i64,
    ) -> StoreFuture<'_, Option<i64>> {
        let found = self.read(|state| {
            let Some(user) = state.user_named(&name) else {
                return Ok(None);
            };
            let valid = state
                .people
                .reset_codes
                .get(&user.id)
                .is_some_and(|(hash, until)| *hash == code_hash && *until > now);
            Ok((valid && !state.people.blocked(user.id)).then_some(user.id))
        });
        Box::pin(async move { found })
    }

    fn reset_password(
        &self,
        user_id: i64,
        code_hash: Vec<u8>,
        password_hash: String,
        now: i64,
    ) -> StoreFuture<'_, Vec<i64>> {
        Box::pin(self.write(move |state| {
            let valid = state
                .people
                .reset_codes
                .get(&user_id)
                .is_some_and(|(hash, until)| *hash == code_hash && *until > now);
            if !valid {
                return Err(crate::store::invalid_reset_code());
            }
            state.people.reset_codes.remove(&user_id);
            if let Some(row) = state.users.get_mut(&user_id) {
                row.password_hash = password_hash;
            }
            Ok((state.revoke_all(user_id), Vec::new()))
        }))
    }

    fn set_display_name(
        &self,
        user_id: i64,
        display_name: Option<String>,
        display_key: Option<String>,
    ) -> StoreFuture<'_, UserCreation> {
        Box::pin(self.write(move |state| {
            state.live_account(user_id)?;
            if let Some(key) = &display_key {
                let other = state.users.values().find(|u| {
                    u.name_key.as_deref() == Some(key.as_str()) && u.record.id != user_id
                });
                if let Some(other) = other {
                    return Ok((
                        UserCreation::LooksLike(other.record.name.clone()),
                        Vec::new(),
                    ));
                }
            }
            let row = state
                .users
                .get_mut(&user_id)
                .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))?;
            row.record.display_name = display_name;
            Ok((UserCreation::Created(row.record.clone()), Vec::new()))
        }))
    }

    fn set_avatar(&self, user_id: i64, image: Option<Vec<u8>>) -> StoreFuture<'_, UserRecord> {
        Box::pin(self.write(move |state| {
            state.live_account(user_id)?;
            let avatar = match image {
                Some(image) => {
                    let tag = hex::encode(&Sha256::digest(&image)[..8]);
                    let path = avatar_path(user_id, &tag);
                    state.people.avatars.insert(user_id, (image, tag));
                    Some(path)
                }
                None => {
                    state.people.avatars.remove(&user_id);
                    None
                }
            };
            let row = state
                .users
                .get_mut(&user_id)
                .ok_or_else(|| Error::new(ErrorCode::UserNotFound, "no such user"))?;
            row.record.avatar = avatar;
            Ok((row.record.clone(), Vec::new()))
        }))
    }

    fn avatar(&self, user_id: i64) -> StoreFuture<'_, Option<(Vec<u8>, String)>> {
        let found = self.read(|state| Ok(state.people.avatars.get(&user_id).cloned()));
        Box::pin(async move { found })
    }
}

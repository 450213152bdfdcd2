//! The people of a workspace, as its admins manage them: listing accounts, disabling,
//! enabling and deleting them (their live sessions closed at once), one-time password-reset
//! codes, and one's own display name and avatar.

use std::net::IpAddr;

use parley_protocol::ErrorCode;

use super::{
    display_names::{impersonation_error, name_key, normalize_display_name},
    hash_password, hash_token,
    invites::{new_code, well_formed},
    validate_password, validate_user_name, Accounts,
};
use crate::{
    error::{Error, Result},
    store::{invalid_reset_code, now_ms, AccountRecord, UserCreation, UserRecord},
};

/// The prefix of password-reset codes (then 128 random bits in hex).
pub const RESET_PREFIX: &str = "rst_";
/// The most accounts one `GET /api/users` page holds.
pub const MAX_USERS_PAGE: u32 = 200;

fn admin_only(user: &UserRecord) -> Result<()> {
    if user.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden("only workspace admins may manage people"))
    }
}

impl Accounts {
    /// Refuses a disabled (or deleted) account with `account_disabled`.
    pub(super) async fn check_enabled(&self, user_id: i64) -> Result<()> {
        match self.people.account(user_id).await? {
            Some(account) if !account.disabled && !account.deleted => Ok(()),
            _ => Err(Error::new(
                ErrorCode::AccountDisabled,
                "this account is disabled; ask a workspace admin",
            )),
        }
    }

    /// `GET /api/users`: one page of accounts after the id `after`.
    pub async fn accounts(
        &self,
        by: &UserRecord,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<AccountRecord>> {
        admin_only(by)?;
        let limit = limit.unwrap_or(MAX_USERS_PAGE).clamp(1, MAX_USERS_PAGE);
        self.people.accounts(after.unwrap_or(0), limit).await
    }

    /// Disables or enables `user_id`. Disabling revokes every token and closes the user's live
    /// sessions at once (4002). Nobody disables themselves, and the last admin stays.
    pub async fn set_disabled(&self, by: &UserRecord, user_id: i64, disabled: bool) -> Result<()> {
        admin_only(by)?;
        if disabled && by.id == user_id {
            return Err(Error::forbidden("you cannot disable your own account"));
        }
        let revoked = self.people.set_disabled(user_id, disabled).await?;
        self.connections.close_tokens(&revoked);
        Ok(())
    }

    /// Deletes `user_id`'s account (see `PeopleStore::delete_user`): their sessions close at
    /// once, their messages stay under "deleted user".
    pub async fn delete_user(&self, by: &UserRecord, user_id: i64) -> Result<()> {
        admin_only(by)?;
        let revoked = self.people.delete_user(user_id).await?;
        self.connections.close_tokens(&revoked);
        Ok(())
    }

    /// `POST /api/users/{id}/reset-code`: a new one-time code (replacing any earlier one) and
    /// when it expires.
    pub async fn reset_code(&self, by: &UserRecord, user_id: i64) -> Result<(String, i64)> {
        admin_only(by)?;
        let (code, hash) = new_code(RESET_PREFIX);
        let expires_at = now_ms().saturating_add(reset_expiry_ms(&self.config.accounts));
        self.people
            .set_reset_code(user_id, hash, expires_at)
            .await?;
        Ok((code, expires_at))
    }

    /// `POST /api/password-reset`: with a live code, sets the password, burns the code and
    /// revokes every token of the account (its sessions close at once). Limited like a login.
    pub async fn reset_password(
        &self,
        client: IpAddr,
        name: &str,
        code: &str,
        new_password: &str,
    ) -> Result<()> {
        if validate_user_name(name).is_err() || !well_formed(code, RESET_PREFIX) {
            return Err(invalid_reset_code());
        }
        self.check_address_login_rate(client).await?;
        self.check_login_rate(name).await?;
        validate_password(new_password)?;
        let hash = hash_token(code);
        let now = now_ms();
        let user_id = (self.people)
            .reset_code_user(name.to_owned(), hash.clone(), now)
            .await?
            .ok_or_else(invalid_reset_code)?;
        let ticket = self.hashing.admit()?;
        let password = new_password.to_owned();
        let password_hash = ticket.run(move || hash_password(&password)).await??;
        let revoked = (self.people)
            .reset_password(user_id, hash, password_hash, now)
            .await?;
        self.connections.close_tokens(&revoked);
        Ok(())
    }

    /// `PATCH /api/me`: a new display name (an empty one clears it), under the display-name
    /// rules.
    pub async fn set_display_name(
        &self,
        user: &UserRecord,
        display_name: &str,
    ) -> Result<UserRecord> {
        let display_name = match display_name.trim() {
            "" => None,
            text => Some(normalize_display_name(text)?),
        };
        let key = display_name.as_deref().map(name_key);
        match (self.people)
            .set_display_name(user.id, display_name, key)
            .await?
        {
            UserCreation::Created(user) => {
                self.connections.update_profile(&user);
                Ok(user)
            }
            UserCreation::LooksLike(other) => Err(impersonation_error(&other)),
        }
    }

    /// Stores (or with None removes) the user's avatar, an image already checked and encoded.
    pub async fn set_avatar(&self, user: &UserRecord, png: Option<Vec<u8>>) -> Result<UserRecord> {
        let user = self.people.set_avatar(user.id, png).await?;
        self.connections.update_profile(&user);
        Ok(user)
    }

    /// The user's avatar and its tag, if they have one.
    pub async fn avatar(&self, user_id: i64) -> Result<Option<(Vec<u8>, String)>> {
        self.people.avatar(user_id).await
    }
}

/// `accounts.reset_code_expiry` in milliseconds.
pub fn reset_expiry_ms(config: &crate::config::AccountsConfig) -> i64 {
    i64::try_from(config.reset_code_expiry.as_millis()).unwrap_or(i64::MAX)
}

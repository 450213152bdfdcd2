//! Invites: codes of 128 random bits (`inv_` and 32 hex digits) that let people register when
//! `accounts.registration = "invite"`. Only a code's SHA-256 is stored; taking a use and
//! creating the account are one store write, so a single-use invite admits one account however
//! many registrations race for it.

use std::time::Duration;

use parley_protocol::ErrorCode;

use super::{hash_token, Accounts};
use crate::{
    config::{AccountsConfig, Registration},
    error::{Error, Result},
    store::{now_ms, InviteRecord, NewInvite, UserRecord},
};

/// The prefix of invite codes.
pub const INVITE_PREFIX: &str = "inv_";
/// How long an invite lasts when the request says nothing.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(7 * 86400);

/// A new code with `prefix` and 128 random bits in hex, and its SHA-256.
pub fn new_code(prefix: &str) -> (String, Vec<u8>) {
    let bytes: [u8; 16] = rand::random();
    let code = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash_token(&code);
    (code, hash)
}

/// Whether `code` has the shape of a code of ours (before anything costs).
pub(super) fn well_formed(code: &str, prefix: &str) -> bool {
    code.trim()
        .strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An invite to store: `uses` (default 1) and `expires_in` (default 7 days) checked against
/// the configured maximums.
pub fn new_invite(
    config: &AccountsConfig,
    by: &UserRecord,
    uses: Option<u32>,
    expires_in: Option<&str>,
) -> Result<(String, NewInvite)> {
    let uses = uses.unwrap_or(1);
    if uses == 0 || uses > config.max_invite_uses {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "uses must be 1 to {} (accounts.max_invite_uses)",
                config.max_invite_uses
            ),
        ));
    }
    let expiry = match expires_in {
        None => DEFAULT_EXPIRY.min(config.max_invite_expiry),
        Some(text) => crate::config::parse_duration(text)
            .map_err(|e| Error::new(ErrorCode::InvalidRequest, format!("expires_in: {e}")))?,
    };
    if expiry.is_zero() || expiry > config.max_invite_expiry {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!(
                "expires_in must be above zero and at most {} (accounts.max_invite_expiry)",
                humantime::format_duration(config.max_invite_expiry)
            ),
        ));
    }
    let (code, code_hash) = new_code(INVITE_PREFIX);
    let invite = NewInvite {
        code_hash,
        created_by: by.id,
        uses,
        expires_at: now_ms().saturating_add(expiry.as_millis() as i64),
        max_live: config.max_live_invites_per_user,
    };
    Ok((code, invite))
}

impl Accounts {
    /// What registration needs under `accounts.registration`: nothing (open), or the hash of a
    /// well-formed invite code (invite); closed refuses.
    pub(super) fn registration_invite(&self, invite: Option<&str>) -> Result<Option<Vec<u8>>> {
        match self.config.accounts.registration {
            Registration::Open => Ok(None),
            Registration::Closed => Err(Error::new(
                ErrorCode::RegistrationClosed,
                "registration is closed on this server",
            )),
            Registration::Invite => match invite {
                Some(code) if well_formed(code, INVITE_PREFIX) => Ok(Some(hash_token(code))),
                Some(_) => Err(invalid_invite()),
                None => Err(Error::new(
                    ErrorCode::InvalidInvite,
                    "registration on this server needs an invite code",
                )),
            },
        }
    }

    /// Whether `user` may make invites: admins, and members when `members_can_invite`.
    fn may_invite(&self, user: &UserRecord) -> Result<()> {
        if user.is_admin || self.config.accounts.members_can_invite {
            Ok(())
        } else {
            Err(Error::forbidden("only workspace admins may invite people"))
        }
    }

    /// `POST /api/invites`: the code (shown once) and the stored invite.
    pub async fn create_invite(
        &self,
        by: &UserRecord,
        uses: Option<u32>,
        expires_in: Option<&str>,
    ) -> Result<(String, InviteRecord)> {
        self.may_invite(by)?;
        let (code, invite) = new_invite(&self.config.accounts, by, uses, expires_in)?;
        let record = self.people.create_invite(invite).await?;
        Ok((code, record))
    }

    /// `GET /api/invites`: the live invites `user` may see (admins all, members their own).
    pub async fn invites(&self, user: &UserRecord) -> Result<Vec<InviteRecord>> {
        let creator = (!user.is_admin).then_some(user.id);
        if creator.is_some() {
            self.may_invite(user)?;
        }
        self.people.live_invites(creator, now_ms()).await
    }

    /// `DELETE /api/invites/{id}`: by an admin or the invite's creator.
    pub async fn revoke_invite(&self, user: &UserRecord, id: i64) -> Result<()> {
        let invite = self.people.invite(id).await?;
        let now = now_ms();
        let Some(invite) = invite.filter(|i| i.is_live(now)) else {
            return Err(Error::new(ErrorCode::InvalidInvite, "no such live invite"));
        };
        if !user.is_admin && invite.created_by.id != user.id {
            return Err(Error::forbidden(
                "only its creator or an admin may revoke an invite",
            ));
        }
        if !self.people.revoke_invite(id, now).await? {
            return Err(Error::new(ErrorCode::InvalidInvite, "no such live invite"));
        }
        Ok(())
    }
}

fn invalid_invite() -> Error {
    Error::new(
        ErrorCode::InvalidInvite,
        "this invite is unknown, used up, expired or revoked",
    )
}

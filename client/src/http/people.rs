//! One's own profile (`PATCH /api/me`, `/api/me/avatar`), avatars, and the people of a workspace
//! as its admins manage them (`/api/users`, `/api/invites`).

use std::time::Duration;

use parley_protocol::{api, UserRef};
use reqwest::Method;

use super::HttpApi;
use crate::{Error, Result};

/// Uploading an image may take a moment on a slow link.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest avatar answer read (the server serves PNGs of a few hundred KiB at most).
const MAX_AVATAR_ANSWER: usize = 4 * 1024 * 1024;

impl HttpApi {
    /// `PATCH /api/me`: sets this account's display name (`""` clears it); the account as it
    /// is now.
    pub async fn set_display_name(&self, name: &str) -> Result<UserRef> {
        let change = api::ProfileChange {
            display_name: Some(name.to_owned()),
        };
        self.send_json(Method::PATCH, &["api", "me"], &change).await
    }

    /// `PUT /api/me/avatar`: an image (PNG, JPEG, GIF, WebP) the server turns into this
    /// account's avatar; the account with its new avatar path.
    pub async fn set_avatar(&self, image: Vec<u8>) -> Result<UserRef> {
        self.json(
            self.call(Method::PUT, &["api", "me", "avatar"])?
                .timeout(UPLOAD_TIMEOUT)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(image),
        )
        .await
    }

    /// `DELETE /api/me/avatar`: back to initials.
    pub async fn remove_avatar(&self) -> Result<UserRef> {
        self.json(self.call(Method::DELETE, &["api", "me", "avatar"])?)
            .await
    }

    /// A user's avatar (PNG), from the path a [`UserRef`] carries
    /// (`/api/users/{id}/avatar?v=…`). Any other path is refused: the path comes from the
    /// network, and this must not become a way to fetch other things with the token.
    pub async fn avatar(&self, path: &str) -> Result<Vec<u8>> {
        let (id, tag) = parse_avatar_path(path)
            .ok_or_else(|| Error::Invalid(format!("not an avatar path: {path}")))?;
        let id = id.to_string();
        let request = self
            .call(Method::GET, &["api", "users", &id, "avatar"])?
            .query(&[("v", tag)]);
        let response = self.send(request).await?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_AVATAR_ANSWER as u64)
        {
            return Err(Error::Http("the avatar is too large".into()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        if bytes.len() > MAX_AVATAR_ANSWER {
            return Err(Error::Http("the avatar is too large".into()));
        }
        Ok(bytes.to_vec())
    }

    /// `GET /api/users` (admins): one page of the workspace's accounts, by id, after `after`.
    pub async fn users(&self, after: Option<i64>) -> Result<api::UserList> {
        let query = api::UsersQuery { after, limit: None };
        self.json(self.call(Method::GET, &["api", "users"])?.query(&query))
            .await
    }

    /// `GET /api/analytics` (admins): the recent live analytics, oldest first, and the channel
    /// the next ones arrive on.
    pub async fn analytics(&self) -> Result<api::AnalyticsHistory> {
        self.json(self.call(Method::GET, &["api", "analytics"])?)
            .await
    }

    /// `POST /api/users/{id}/disable` or `/enable` (admins). Disabling closes the account's
    /// sessions at once.
    pub async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<()> {
        let id = id.to_string();
        let action = if disabled { "disable" } else { "enable" };
        self.no_content(self.call(Method::POST, &["api", "users", &id, action])?)
            .await
    }

    /// `DELETE /api/users/{id}` (admins): the account is gone; its messages stay, attributed to
    /// "deleted user".
    /// `DELETE /api/channels/{name}` (the channel's admins and workspace admins): the channel
    /// and everything in it, for everyone.
    pub async fn delete_channel(&self, name: &str) -> Result<()> {
        self.no_content(self.call(Method::DELETE, &["api", "channels", name])?)
            .await
    }

    pub async fn delete_user(&self, id: i64) -> Result<()> {
        let id = id.to_string();
        self.no_content(self.call(Method::DELETE, &["api", "users", &id])?)
            .await
    }

    /// `POST /api/users/{id}/reset-code` (admins): a one-time password-reset code for the user.
    pub async fn reset_code(&self, id: i64) -> Result<api::ResetCode> {
        let id = id.to_string();
        self.json(self.call(Method::POST, &["api", "users", &id, "reset-code"])?)
            .await
    }

    /// `POST /api/password-reset` (no token): a new password with a reset code.
    pub async fn reset_password(&self, reset: &api::PasswordReset) -> Result<()> {
        self.no_content(
            self.call(Method::POST, &["api", "password-reset"])?
                .json(reset),
        )
        .await
    }

    /// `POST /api/invites` (admins; members where the server allows): a new invite; its code
    /// is in this answer only.
    pub async fn create_invite(&self, invite: &api::CreateInvite) -> Result<api::InviteCreated> {
        self.send_json(Method::POST, &["api", "invites"], invite)
            .await
    }

    /// `GET /api/invites`: the live invites (admins: all; members: their own).
    pub async fn invites(&self) -> Result<api::InviteList> {
        self.json(self.call(Method::GET, &["api", "invites"])?)
            .await
    }

    /// `DELETE /api/invites/{id}`: the invite admits nobody any more.
    pub async fn revoke_invite(&self, id: i64) -> Result<()> {
        let id = id.to_string();
        self.no_content(self.call(Method::DELETE, &["api", "invites", &id])?)
            .await
    }
}

/// `/api/users/{id}/avatar?v={tag}` → (id, tag); None for anything else.
fn parse_avatar_path(path: &str) -> Option<(i64, &str)> {
    let rest = path.strip_prefix("/api/users/")?;
    let (id, rest) = rest.split_once('/')?;
    let tag = rest.strip_prefix("avatar?v=")?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (!tag.is_empty() && tag.len() <= 128 && tag.chars().all(plain)).then_some((id, tag))
}

#[cfg(test)]
mod tests {
    use super::parse_avatar_path;

    #[test]
    fn only_avatar_paths_are_fetched() {
        assert_eq!(
            parse_avatar_path("/api/users/12/avatar?v=ab12"),
            Some((12, "ab12"))
        );
        for bad in [
            "/api/users/12/avatar",
            "/api/users/12/avatar?v=",
            "/api/users/x/avatar?v=a",
            "/api/users/-1/avatar?v=a",
            "/api/users/12/avatar?v=a&b=c",
            "/api/users/12/../../me/tokens?v=a",
            "https://elsewhere.example/api/users/1/avatar?v=a",
            "/api/me/tokens",
        ] {
            assert_eq!(parse_avatar_path(bad), None, "{bad}");
        }
    }
}

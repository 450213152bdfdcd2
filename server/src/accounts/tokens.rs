//! Token lists and revocation by id, the last use of each token (recorded without a write per
//! request), bot accounts and their scoped, expiring tokens.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use parley_protocol::{
    api::{Bot, IssuedToken, NewBotToken, ScopeOp, TokenInfo, TokenList, TokenScope},
    ErrorCode,
};

use super::{created, display_names::normalize_display_name, new_token, new_user, Accounts};
use crate::{
    config::parse_duration,
    error::{Error, Result},
    store::{format_ts, now_ms, NewToken, StoredToken, UserRecord},
};

/// Tokens whose last recorded use the server remembers at once (~40 bytes each). When full,
/// entries older than the resolution go first; if none are, all are forgotten (which costs at
/// most one extra write per token).
const MAX_TRACKED: usize = 100_000;
/// The most tokens one list shows (the per-user cap keeps a list shorter in practice).
pub const MAX_LISTED: u32 = 1000;
/// The most channels one scope names.
pub const MAX_SCOPE_CHANNELS: usize = 100;
/// The longest label a token may carry, in characters.
const MAX_LABEL: usize = 100;

/// Decides, in memory, when a token's use is worth a write: at most once per token per
/// `accounts.token_last_used_resolution`.
pub(crate) struct LastUse {
    resolution: Duration,
    seen: Mutex<HashMap<i64, Instant>>,
}

impl LastUse {
    pub(crate) fn new(resolution: Duration) -> Self {
        Self {
            resolution,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True when a use of `token_id` now should be recorded (and remembers that it was).
    fn due(&self, token_id: i64, now: Instant) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let fresh = |at: &Instant| now.saturating_duration_since(*at) < self.resolution;
        if seen.get(&token_id).is_some_and(fresh) {
            return false;
        }
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&token_id) {
            seen.retain(|_, at| fresh(at));
            if seen.len() >= MAX_TRACKED {
                seen.clear();
            }
        }
        seen.insert(token_id, now);
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }
}

/// A scope from what a request or the command line names: at least one channel (at most
/// [`MAX_SCOPE_CHANNELS`]) and at least one of the operations `read`, `send`, `docs`.
pub fn parse_scope(channels: &[String], operations: &[String]) -> Result<TokenScope> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidRequest, message);
    if channels.is_empty() || operations.is_empty() {
        return Err(invalid(
            "a scope names at least one channel and one operation".into(),
        ));
    }
    if channels.len() > MAX_SCOPE_CHANNELS {
        return Err(invalid(format!(
            "a scope names at most {MAX_SCOPE_CHANNELS} channels"
        )));
    }
    let mut names: Vec<String> = Vec::with_capacity(channels.len());
    for channel in channels {
        let channel = channel.trim();
        // Every user's personal channel has a name of its own: a bot scoped to it may publish
        // to anyone's (`publish` with `user`).
        if channel != crate::chat::channels::PERSONAL {
            crate::names::validate_channel_name(channel)
                .map_err(|why| Error::new(ErrorCode::InvalidChannelName, why))?;
        }
        if !names.iter().any(|n| n == channel) {
            names.push(channel.to_owned());
        }
    }
    let mut ops = Vec::new();
    for op in operations {
        let parsed = ScopeOp::parse(op.trim()).ok_or_else(|| {
            invalid(format!(
                "unknown operation {op:?}; the operations are read, send, docs and publish"
            ))
        })?;
        if !ops.contains(&parsed) {
            ops.push(parsed);
        }
    }
    ops.sort_unstable();
    Ok(TokenScope {
        channels: names,
        operations: ops,
    })
}

/// The expiry (milliseconds since the epoch) of a token made now that lives `text` ("30d").
pub fn expiry(text: &str) -> Result<i64> {
    let invalid = |message: String| Error::new(ErrorCode::InvalidRequest, message);
    let lifetime = parse_duration(text).map_err(invalid)?;
    if lifetime.is_zero() {
        return Err(invalid("a token's lifetime must be above zero".into()));
    }
    let ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
    Ok(now_ms().saturating_add(ms))
}

fn check_label(label: &str) -> Result<()> {
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("a token label is at most {MAX_LABEL} characters, without control characters"),
        ));
    }
    Ok(())
}

/// A new token to hand out (the text) and to store.
pub fn scoped_token(
    label: &str,
    scope: Option<TokenScope>,
    expires_at: Option<i64>,
) -> Result<(String, NewToken)> {
    check_label(label)?;
    let (token, hash) = new_token();
    Ok((
        token,
        NewToken {
            hash,
            label: label.to_owned(),
            scope,
            expires_at,
        },
    ))
}

/// A stored token as its owner's list shows it.
pub fn token_info(token: StoredToken, current: i64) -> TokenInfo {
    TokenInfo {
        id: token.id,
        label: token.label,
        created_at: format_ts(token.created_at),
        last_used_at: token.last_used_at.map(format_ts),
        current: token.id == current,
        expires_at: token.expires_at.map(format_ts),
        scope: token.scope,
    }
}

/// Creates a bot account from the admin CLI (`parley-server bot add`).
pub fn create_bot_admin(
    store: &crate::store::AdminStore,
    name: &str,
    display_name: Option<&str>,
) -> Result<UserRecord> {
    super::validate_user_name(name)?;
    let display_name = display_name.map(normalize_display_name).transpose()?;
    let user = new_user(name, display_name, String::new(), false);
    created(store.create_bot(&user, super::display_names::name_key)?)
}

fn bot(user: &UserRecord) -> Bot {
    Bot {
        id: user.id,
        name: user.name.clone(),
        display_name: user.display_name.clone(),
        avatar: user.avatar.clone(),
        bot: true,
    }
}

fn admins_only(user: &UserRecord) -> Result<()> {
    if user.is_admin {
        Ok(())
    } else {
        Err(Error::forbidden("only workspace admins manage bots"))
    }
}

impl Accounts {
    /// Records that `token_id` was used, when the last recorded use is older than the
    /// resolution: one write queued on the store's writer, never waited for.
    pub(super) fn record_use(&self, token_id: i64) {
        if !self.last_use.due(token_id, Instant::now()) {
            return;
        }
        let store = Arc::clone(&self.tokens);
        let at = now_ms();
        tokio::spawn(async move {
            if let Err(err) = store.touch_tokens(vec![(token_id, at)]).await {
                tracing::warn!(%err, "cannot record a token's last use");
            }
        });
    }

    /// The user's live tokens, `current` marked.
    pub async fn list_tokens(&self, user_id: i64, current: i64) -> Result<TokenList> {
        let tokens = self.tokens.list_tokens(user_id, MAX_LISTED).await?;
        Ok(TokenList {
            tokens: tokens.into_iter().map(|t| token_info(t, current)).collect(),
        })
    }

    /// Revokes one of the user's tokens and closes its live sessions at once.
    pub async fn revoke_own_token(&self, user_id: i64, token_id: i64) -> Result<()> {
        if !self.tokens.revoke_token_of(user_id, token_id).await? {
            return Err(Error::new(
                ErrorCode::TokenNotFound,
                format!("you have no live token {token_id}"),
            ));
        }
        self.connections.close_tokens(&[token_id]);
        Ok(())
    }

    /// A workspace admin creates a bot account: it has no password and signs in only with the
    /// tokens made for it.
    pub async fn create_bot(
        &self,
        by: &UserRecord,
        name: &str,
        display_name: Option<&str>,
    ) -> Result<Bot> {
        admins_only(by)?;
        super::validate_user_name(name)?;
        let display_name = display_name.map(normalize_display_name).transpose()?;
        let user = new_user(name, display_name, String::new(), false);
        Ok(bot(&created(self.tokens.create_bot(user).await?)?))
    }

    /// A workspace admin makes a scoped token for a bot (`user_not_found` for a person's
    /// account); refused past `accounts.max_tokens_per_user`.
    pub async fn issue_bot_token(
        &self,
        by: &UserRecord,
        bot_id: i64,
        request: NewBotToken,
    ) -> Result<IssuedToken> {
        admins_only(by)?;
        let scope = parse_scope(&request.channels, &request.operations)?;
        let expires_at = request.expires_in.as_deref().map(expiry).transpose()?;
        let bot = self
            .tokens
            .bot_by_id(bot_id)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::UserNotFound, format!("no bot {bot_id}")))?;
        let label = request.label.unwrap_or_else(|| "bot".into());
        let (token, stored) = scoped_token(&label, Some(scope.clone()), expires_at)?;
        let cap = self.config.accounts.max_tokens_per_user;
        let issued = self.tokens.issue_capped(bot.id, stored, cap, false).await?;
        Ok(IssuedToken {
            token,
            id: issued.id,
            expires_at: expires_at.map(format_ts),
            scope: Some(scope),
        })
    }

    /// Issues a login's token under the per-user cap: the least recently used tokens make
    /// room, and their sessions close.
    pub(super) async fn issue_login_token(&self, user_id: i64, token: NewToken) -> Result<()> {
        let cap = self.config.accounts.max_tokens_per_user;
        let issued = self.tokens.issue_capped(user_id, token, cap, true).await?;
        if !issued.evicted.is_empty() {
            self.connections.close_tokens(&issued.evicted);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uses_are_recorded_once_per_resolution() {
        let uses = LastUse::new(Duration::from_secs(60));
        let now = Instant::now();
        assert!(uses.due(1, now));
        assert!(!uses.due(1, now + Duration::from_secs(59)));
        assert!(uses.due(1, now + Duration::from_secs(60)));
        assert!(uses.due(2, now));
        let every = LastUse::new(Duration::ZERO);
        assert!(every.due(1, now) && every.due(1, now));
    }

    #[test]
    fn the_map_stays_bounded() {
        let uses = LastUse::new(Duration::from_secs(60));
        let now = Instant::now();
        for id in 0..(MAX_TRACKED as i64 + 10) {
            uses.due(id, now);
        }
        assert!(uses.len() <= MAX_TRACKED);
    }

    #[test]
    fn scopes_are_checked() {
        let s = |c: &[&str], o: &[&str]| {
            parse_scope(
                &c.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                &o.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            )
        };
        let scope = s(&["alerts", "alerts"], &["send", "read", "send"]).unwrap();
        assert_eq!(scope.channels, ["alerts"]);
        assert_eq!(scope.operations, [ScopeOp::Read, ScopeOp::Send]);
        assert_eq!(
            s(&[], &["read"]).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            s(&["a"], &["admin"]).unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            s(&["no spaces"], &["read"]).unwrap_err().code(),
            ErrorCode::InvalidChannelName
        );
        assert!(expiry("0s").is_err() && expiry("soon").is_err());
        assert!(expiry("30d").unwrap() > now_ms());
    }
}

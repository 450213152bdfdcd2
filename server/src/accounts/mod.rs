//! Accounts: password hashing (argon2id), bearer tokens, and the account operations behind
//! `/api/register`, `/api/login`, `/api/logout` and the admin CLI. Inside the server they are
//! the [`Accounts`] service: hashing runs through the bounded workers of `passwords`; login and
//! registration are limited per user name and per client address first.

pub mod display_names;
pub mod invites;
pub mod passwords;
pub mod people;
pub mod tokens;

use std::{net::IpAddr, sync::Arc};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use parley_protocol::ErrorCode;
use sha2::{Digest, Sha256};

use display_names::{impersonation_error, name_key, normalize_display_name};

use crate::{
    address,
    error::{Error, Result},
    metrics::Metrics,
    ratelimit::{Limit, SharedLimiter},
    store::{
        AccountStore, AdminStore, NewToken, NewUser, PeopleStore, TokenRecord, TokenStore,
        UserCreation, UserRecord, UserRules,
    },
    ws::Connections,
    Config,
};

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;
pub const MAX_USER_NAME_LEN: usize = parley_protocol::names::USER_NAME_MAX_LEN;

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes). Slow on purpose:
/// inside the server, call it through [`passwords::PasswordHashing`] only.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format_args!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that no password matches, so an unknown user name costs the same time as a known
/// one (no user enumeration by timing).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("parley-timing-equaliser").unwrap_or_default())
}

/// A new bearer token: `pl_` and 32 random bytes in hex. Only its SHA-256 is stored.
pub fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("pl_{}", hex::encode(bytes));
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// The rule lives in `parley_protocol::names`, shared with the clients and the app's UI.
pub fn validate_user_name(name: &str) -> Result<()> {
    if parley_protocol::names::is_valid_user_name(name) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidUser,
            parley_protocol::names::user_name_rule(),
        ))
    }
}

pub fn validate_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidUser,
            format!("passwords are {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ))
    }
}

/// Creates a user from the admin CLI (its own process: it hashes on its own thread).
/// Registration follows the same rules through [`Accounts::register`].
pub fn create_user(
    store: &AdminStore,
    name: &str,
    password: &str,
    display_name: Option<&str>,
    is_admin: bool,
) -> Result<UserRecord> {
    validate_user_name(name)?;
    validate_password(password)?;
    let display_name = display_name.map(normalize_display_name).transpose()?;
    let hash = hash_password(password)?;
    created(store.create_user(&new_user(name, display_name, hash, is_admin), name_key)?)
}

/// A user to create, with the look-alike keys of their names: the store refuses a display name
/// that passes for another user's user name, in the insert's transaction.
fn new_user(
    name: &str,
    display_name: Option<String>,
    password_hash: String,
    is_admin: bool,
) -> NewUser {
    NewUser {
        name: name.to_owned(),
        name_key: name_key(name),
        display_key: display_name.as_deref().map(name_key),
        display_name,
        password_hash,
        is_admin,
    }
}

fn created(creation: UserCreation) -> Result<UserRecord> {
    match creation {
        UserCreation::Created(user) => Ok(user),
        UserCreation::LooksLike(other) => Err(impersonation_error(&other)),
    }
}

/// The rules [`AccountStore::repair_users`] applies to stored users, once at start: missing
/// name keys filled in, and display names set before they were checked (docs/protocol.md
/// §12) repaired: control and invisible characters dropped, cut to 64 characters, and cleared
/// when nothing is left or when the name passes for another user's user name.
pub fn user_rules() -> UserRules {
    UserRules {
        name_key,
        repaired: display_names::repaired,
    }
}

/// A new token for a user: the token to hand out, and what the store keeps of it.
pub fn token_for(label: &str) -> (String, NewToken) {
    let (token, hash) = new_token();
    (
        token,
        NewToken {
            hash,
            label: label.to_owned(),
            ..NewToken::default()
        },
    )
}

/// Most user names, and most client addresses, the login limits remember at once (full
/// buckets are forgotten first; see `ratelimit::KeyedBuckets`). ~100 bytes each.
const MAX_LOGIN_KEYS: usize = 100_000;

/// Signing in, registering, signing out, and the user behind a token: what the HTTP routes,
/// the WebSocket upgrades and the `/ws` session's `auth` call.
pub struct Accounts {
    store: Arc<dyn AccountStore>,
    /// Token lists, last uses, the per-user cap, bots (`tokens`).
    tokens: Arc<dyn TokenStore>,
    /// When a token's use is worth recording (`accounts.token_last_used_resolution`).
    last_use: tokens::LastUse,
    /// Invites, account states, reset codes, avatars (`invites.rs`, `people.rs`).
    people: Arc<dyn PeopleStore>,
    config: Arc<Config>,
    /// The bounded password-hashing workers (`[accounts]`).
    hashing: passwords::PasswordHashing,
    /// Login and registration attempts per user name.
    login_limits: Limit<String>,
    /// Login and registration attempts per client address (IPv6: per /64).
    address_login_limits: Limit<IpAddr>,
    /// Logging out closes the connections that use the token.
    connections: Arc<Connections>,
    /// Login outcomes and refusals by the login limits are counted.
    metrics: Arc<Metrics>,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn AccountStore>,
        tokens: Arc<dyn TokenStore>,
        people: Arc<dyn PeopleStore>,
        config: Arc<Config>,
        connections: Arc<Connections>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            last_use: tokens::LastUse::new(config.accounts.token_last_used_resolution),
            tokens,
            hashing: passwords::PasswordHashing::new(
                config.accounts.hash_workers(),
                config.accounts.hash_queue,
            ),
            login_limits: Limit::new(
                "login",
                config.rate_limit.logins_per_second,
                config.rate_limit.login_burst,
                MAX_LOGIN_KEYS,
            ),
            address_login_limits: Limit::new(
                "login_address",
                config.rate_limit.address_logins_per_second,
                config.rate_limit.address_login_burst,
                MAX_LOGIN_KEYS,
            ),
            store,
            people,
            config,
            connections,
            metrics,
        }
    }

    /// Counts the login limits with the other nodes of a cluster.
    pub fn with_shared_limits(mut self, shared: Option<Arc<dyn SharedLimiter>>) -> Self {
        self.login_limits = self.login_limits.shared(shared.clone());
        self.address_login_limits = self.address_login_limits.shared(shared);
        self
    }

    async fn check_login_rate(&self, name: &str) -> Result<()> {
        self.login_limits
            .take(name.to_ascii_lowercase())
            .await
            .map_err(|ms| {
                self.metrics.rate_limited.login_name.inc();
                Error(parley_protocol::ErrorBody::rate_limited(ms))
            })
    }

    async fn check_address_login_rate(&self, client: IpAddr) -> Result<()> {
        self.address_login_limits
            .take(address::address_key(client))
            .await
            .map_err(|ms| {
                self.metrics.rate_limited.login_address.inc();
                Error(parley_protocol::ErrorBody::rate_limited(ms))
            })
    }

    /// Forgets full buckets so the limits stay bounded by recent activity.
    pub(crate) fn prune_rate_limits(&self) {
        self.login_limits.prune();
        self.address_login_limits.prune();
    }

    /// The user behind a bearer token, or `invalid_credentials` (also for an expired one).
    /// The use is recorded (`tokens::LastUse`).
    pub async fn authenticate(&self, token: &str) -> Result<TokenRecord> {
        let hash = hash_token(token);
        let record = self.store.token_by_hash(hash).await?.ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidCredentials,
                "unknown, revoked or expired token",
            )
        })?;
        self.record_use(record.id);
        Ok(record)
    }

    /// Checks a name and password from `client`; returns the user and a fresh token. Every
    /// attempt is counted by its outcome.
    pub async fn login(
        &self,
        client: IpAddr,
        name: &str,
        password: &str,
        label: &str,
    ) -> Result<(UserRecord, String)> {
        let result = self.check_login(client, name, password, label).await;
        let logins = &self.metrics.logins;
        let outcome = match result.as_ref().map_err(Error::code) {
            Ok(_) => &logins.success,
            Err(ErrorCode::InvalidCredentials) => &logins.invalid_credentials,
            Err(ErrorCode::RateLimited) => &logins.rate_limited,
            Err(ErrorCode::ServerBusy) => &logins.busy,
            Err(_) => &logins.error,
        };
        outcome.inc();
        result
    }

    async fn check_login(
        &self,
        client: IpAddr,
        name: &str,
        password: &str,
        label: &str,
    ) -> Result<(UserRecord, String)> {
        // A name that cannot exist is refused before it becomes a rate-limit key, so the
        // limiter's memory is bounded by real-looking names.
        if validate_user_name(name).is_err() {
            return Err(Error::new(
                ErrorCode::InvalidCredentials,
                "wrong user name or password",
            ));
        }
        self.check_address_login_rate(client).await?;
        self.check_login_rate(name).await?;
        // A place in the hashing queue before anything else costs: refused attempts are cheap.
        let ticket = self.hashing.admit()?;
        let found = self.store.user_with_password(name.to_owned()).await?;
        let password = password.to_owned();
        let user = ticket
            .run(move || match found {
                Some((user, hash)) if verify_password(&password, &hash) => Some(user),
                Some(_) => None,
                None => {
                    verify_password(&password, dummy_hash());
                    None
                }
            })
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::InvalidCredentials, "wrong user name or password")
            })?;
        self.check_enabled(user.id).await?;
        let (token, stored) = token_for(label);
        self.issue_login_token(user.id, stored).await?;
        Ok((user, token))
    }

    /// Registration from `client` (open, or with an invite as `accounts.registration` says):
    /// creates the user and signs them in.
    pub async fn register(
        &self,
        client: IpAddr,
        name: &str,
        password: &str,
        display_name: Option<String>,
        invite: Option<&str>,
    ) -> Result<(UserRecord, String)> {
        let invite = self.registration_invite(invite)?;
        validate_user_name(name)?;
        self.check_address_login_rate(client).await?;
        self.check_login_rate(name).await?;
        validate_password(password)?;
        let display_name = display_name
            .as_deref()
            .map(normalize_display_name)
            .transpose()?;
        let ticket = self.hashing.admit()?;
        let password = password.to_owned();
        let hash = ticket.run(move || hash_password(&password)).await??;
        let (token, stored) = token_for("registration");
        let user = new_user(name, display_name, hash, false);
        let creation = match invite {
            Some(code_hash) => {
                let now = crate::store::now_ms();
                (self.people)
                    .register_with_invite(code_hash, now, user, stored)
                    .await?
            }
            None => self.store.create_user(user, Some(stored)).await?,
        };
        Ok((created(creation)?, token))
    }

    /// Changes the password of the account behind `token` (checked against the current one,
    /// under the same per-name and per-address limits as a login: a stolen token must not make
    /// guessing the password cheap). With `sign_out_others`, every other token of the account is
    /// revoked and its connections closed at once. Returns how many tokens were revoked.
    pub async fn change_password(
        &self,
        client: IpAddr,
        token: &TokenRecord,
        current: &str,
        new: &str,
        sign_out_others: bool,
    ) -> Result<usize> {
        let user = &token.user;
        self.check_address_login_rate(client).await?;
        self.check_login_rate(&user.name).await?;
        validate_password(new)?;
        let ticket = self.hashing.admit()?;
        let found = self.store.user_with_password(user.name.clone()).await?;
        let (current, new) = (current.to_owned(), new.to_owned());
        let hash = ticket
            .run(move || match found {
                Some((_, stored)) if verify_password(&current, &stored) => {
                    Some(hash_password(&new))
                }
                _ => None,
            })
            .await?
            .ok_or_else(|| Error::forbidden("the current password is wrong"))??;
        let revoked = self
            .store
            .change_password(user.id, hash, sign_out_others.then_some(token.id))
            .await?;
        self.connections.close_tokens(&revoked);
        Ok(revoked.len())
    }

    /// Revokes the token and closes every live session that uses it.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let record = self.authenticate(token).await?;
        let hash = hash_token(token);
        self.store.revoke_token(hash).await?;
        self.connections.close_tokens(&[record.id]);
        Ok(())
    }
}

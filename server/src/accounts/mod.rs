//! Accounts: password hashing (argon2id), bearer tokens, and the account operations behind
//! `/api/register`, `/api/login`, `/api/logout` and the admin CLI. Inside the server they are
//! the [`Accounts`] service: hashing runs through the bounded workers of `passwords`; login and
//! registration are limited per user name and per client address first.

pub mod display_names;
pub mod passwords;

use std::{net::IpAddr, sync::Arc};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use parley_protocol::ErrorCode;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use display_names::{impersonation_error, name_key, normalize_display_name};

use crate::{
    address,
    error::{Error, Result},
    ratelimit::KeyedBuckets,
    store::{self, Store, TokenRecord, UserRecord},
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
    conn: &Connection,
    name: &str,
    password: &str,
    display_name: Option<&str>,
    is_admin: bool,
) -> Result<UserRecord> {
    validate_user_name(name)?;
    validate_password(password)?;
    let display_name = display_name.map(normalize_display_name).transpose()?;
    let hash = hash_password(password)?;
    store::fill_name_keys(conn, &name_key)?;
    insert_user_checked(conn, name, display_name.as_deref(), &hash, is_admin)
}

/// Inserts a user unless their display name passes for another user's user name. Runs inside
/// one transaction (the writer's, or the CLI's own connection), so the check and the insert
/// see the same users.
fn insert_user_checked(
    conn: &Connection,
    name: &str,
    display_name: Option<&str>,
    hash: &str,
    is_admin: bool,
) -> Result<UserRecord> {
    if let Some(display_name) = display_name {
        if let Some(other) = store::user_named_like(conn, &name_key(display_name), None)? {
            if !other.eq_ignore_ascii_case(name) {
                return Err(impersonation_error(&other));
            }
        }
    }
    store::insert_user(conn, name, &name_key(name), display_name, hash, is_admin)
}

/// Brings stored users under the current rules, once at start: fills in missing name keys,
/// and repairs display names set before they were checked (docs/protocol.md §12): control and invisible characters dropped, cut to 64 characters, and
/// cleared when nothing is left or when the name passes for another user's user name.
pub fn repair_stored_users(conn: &Connection) -> Result<usize> {
    store::fill_name_keys(conn, &name_key)?;
    let mut repaired = 0;
    for (id, name, stored) in store::display_names(conn)? {
        let mut fixed = display_names::repaired(&stored);
        if let Some(candidate) = &fixed {
            if store::user_named_like(conn, &name_key(candidate), Some(id))?.is_some() {
                fixed = None;
            }
        }
        if fixed.as_deref() != Some(stored.as_str()) {
            tracing::warn!(user = %name, "display name repaired under the display-name rules");
            store::set_display_name(conn, id, fixed.as_deref())?;
            repaired += 1;
        }
    }
    Ok(repaired)
}

/// Issues a new token for a user.
pub fn issue_token(conn: &Connection, user_id: i64, label: &str) -> Result<String> {
    let (token, hash) = new_token();
    store::insert_token(conn, user_id, &hash, label)?;
    Ok(token)
}

/// Most user names, and most client addresses, the login limits remember at once (full
/// buckets are forgotten first; see `ratelimit::KeyedBuckets`). ~100 bytes each.
const MAX_LOGIN_KEYS: usize = 100_000;

/// Signing in, registering, signing out, and the user behind a token: what the HTTP routes,
/// the WebSocket upgrades and the `/ws` session's `auth` call.
pub struct Accounts {
    store: Store,
    config: Arc<Config>,
    /// The bounded password-hashing workers (`[accounts]`).
    hashing: passwords::PasswordHashing,
    /// Login and registration attempts per user name.
    login_limits: KeyedBuckets<String>,
    /// Login and registration attempts per client address (IPv6: per /64).
    address_login_limits: KeyedBuckets<IpAddr>,
    /// Logging out closes the connections that use the token.
    connections: Arc<Connections>,
}

impl Accounts {
    pub fn new(store: Store, config: Arc<Config>, connections: Arc<Connections>) -> Self {
        Self {
            hashing: passwords::PasswordHashing::new(
                config.accounts.hash_workers(),
                config.accounts.hash_queue,
            ),
            login_limits: KeyedBuckets::new(
                config.rate_limit.logins_per_second,
                config.rate_limit.login_burst,
                MAX_LOGIN_KEYS,
            ),
            address_login_limits: KeyedBuckets::new(
                config.rate_limit.address_logins_per_second,
                config.rate_limit.address_login_burst,
                MAX_LOGIN_KEYS,
            ),
            store,
            config,
            connections,
        }
    }

    fn check_login_rate(&self, name: &str) -> Result<()> {
        self.login_limits
            .take(name.to_ascii_lowercase())
            .map_err(|ms| Error(parley_protocol::ErrorBody::rate_limited(ms)))
    }

    fn check_address_login_rate(&self, client: IpAddr) -> Result<()> {
        self.address_login_limits
            .take(address::address_key(client))
            .map_err(|ms| Error(parley_protocol::ErrorBody::rate_limited(ms)))
    }

    /// Forgets full buckets so the limits stay bounded by recent activity.
    pub(crate) fn prune_rate_limits(&self) {
        self.login_limits.prune();
        self.address_login_limits.prune();
    }

    /// The user behind a bearer token, or `invalid_credentials`.
    pub async fn authenticate(&self, token: &str) -> Result<TokenRecord> {
        let hash = hash_token(token);
        self.store
            .read_auth(move |conn| store::token_by_hash(conn, &hash))
            .await?
            .ok_or_else(|| Error::new(ErrorCode::InvalidCredentials, "unknown or revoked token"))
    }

    /// Checks a name and password from `client`; returns the user and a fresh token.
    pub async fn login(
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
        self.check_address_login_rate(client)?;
        self.check_login_rate(name)?;
        // A place in the hashing queue before anything else costs: refused attempts are cheap.
        let ticket = self.hashing.admit()?;
        let name = name.to_owned();
        let found = self
            .store
            .read(move |conn| store::user_with_password(conn, &name))
            .await?;
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
        let label = label.to_owned();
        let user_id = user.id;
        let token = self
            .store
            .write(move |tx, _| Ok((issue_token(tx, user_id, &label)?, Vec::new())))
            .await?;
        Ok((user, token))
    }

    /// Open registration from `client`: creates the user and signs them in.
    pub async fn register(
        &self,
        client: IpAddr,
        name: &str,
        password: &str,
        display_name: Option<String>,
    ) -> Result<(UserRecord, String)> {
        if !self.config.server.registration {
            return Err(Error::new(
                ErrorCode::RegistrationClosed,
                "registration is closed on this server",
            ));
        }
        validate_user_name(name)?;
        self.check_address_login_rate(client)?;
        self.check_login_rate(name)?;
        validate_password(password)?;
        let display_name = display_name
            .as_deref()
            .map(normalize_display_name)
            .transpose()?;
        let ticket = self.hashing.admit()?;
        let password = password.to_owned();
        let hash = ticket.run(move || hash_password(&password)).await??;
        let name = name.to_owned();
        self.store
            .write(move |tx, _| {
                let user = insert_user_checked(tx, &name, display_name.as_deref(), &hash, false)?;
                let token = issue_token(tx, user.id, "registration")?;
                Ok(((user, token), Vec::new()))
            })
            .await
    }

    /// Revokes the token and closes every live session that uses it.
    pub async fn logout(&self, token: &str) -> Result<()> {
        let record = self.authenticate(token).await?;
        let hash = hash_token(token);
        self.store
            .write(move |tx, _| Ok((store::revoke_token_hash(tx, &hash)?, Vec::new())))
            .await?;
        self.connections.close_tokens(&[record.id]);
        Ok(())
    }
}

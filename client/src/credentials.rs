//! Where a session token is kept: the OS keyring (Secret Service on Linux, through the
//! `keyring` crate). Where no keyring service runs (a server without a desktop session, a
//! container), the token goes to a file readable only by its owner, and the caller is told so:
//! `parley` prints a warning naming the file. `PARLEY_TOKEN` overrides both.

use std::path::{Path, PathBuf};

const SERVICE: &str = "parley";

/// Where a token ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Keyring,
    /// No keyring service: this file (mode 0600) holds it.
    File(PathBuf),
}

fn account(server: &str, user: &str) -> String {
    format!("{user}@{server}")
}

fn file_for(dir: &Path, server: &str, user: &str) -> PathBuf {
    let slug: String = account(server, user)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!("token-{slug}"))
}

/// Saves the token; `fallback_dir` is used when the keyring cannot be reached.
pub fn save(server: &str, user: &str, token: &str, fallback_dir: &Path) -> std::io::Result<Stored> {
    if std::env::var_os("PARLEY_NO_KEYRING").is_none() {
        if let Ok(entry) = keyring::Entry::new(SERVICE, &account(server, user)) {
            if entry.set_password(token).is_ok() {
                // A stale fallback file must not outlive a keyring save.
                let _ = std::fs::remove_file(file_for(fallback_dir, server, user));
                return Ok(Stored::Keyring);
            }
        }
    }
    // An older keyring entry must not shadow the file (`load` looks at the keyring first).
    if std::env::var_os("PARLEY_NO_KEYRING").is_none() {
        if let Ok(entry) = keyring::Entry::new(SERVICE, &account(server, user)) {
            let _ = entry.delete_credential();
        }
    }
    crate::files::private_dir(fallback_dir)?;
    let path = file_for(fallback_dir, server, user);
    write_private(&path, token)?;
    Ok(Stored::File(path))
}

pub fn load(server: &str, user: &str, fallback_dir: &Path) -> Option<String> {
    if let Ok(token) = std::env::var("PARLEY_TOKEN") {
        return Some(token);
    }
    if std::env::var_os("PARLEY_NO_KEYRING").is_none() {
        if let Ok(entry) = keyring::Entry::new(SERVICE, &account(server, user)) {
            if let Ok(token) = entry.get_password() {
                return Some(token);
            }
        }
    }
    std::fs::read_to_string(file_for(fallback_dir, server, user))
        .ok()
        .map(|t| t.trim().to_owned())
}

/// Removes the token from the keyring and the fallback file.
pub fn delete(server: &str, user: &str, fallback_dir: &Path) {
    if let Ok(entry) = keyring::Entry::new(SERVICE, &account(server, user)) {
        let _ = entry.delete_credential();
    }
    let _ = std::fs::remove_file(file_for(fallback_dir, server, user));
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // `mode` applies only when the file is created: tighten an existing one too.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The OS keyring only, never a file: for the desktop app, which keeps the session in memory
/// when no keyring service answers. The same entries as `save`/`load`, so the app and the CLI
/// share a sign-in.
pub mod keyring_only {
    use super::{account, SERVICE};

    pub fn save(server: &str, user: &str, token: &str) -> Result<(), String> {
        let entry =
            keyring::Entry::new(SERVICE, &account(server, user)).map_err(|e| e.to_string())?;
        entry.set_password(token).map_err(|e| e.to_string())
    }

    pub fn load(server: &str, user: &str) -> Result<Option<String>, String> {
        let entry =
            keyring::Entry::new(SERVICE, &account(server, user)).map_err(|e| e.to_string())?;
        match entry.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err.to_string()),
        }
    }

    pub fn delete(server: &str, user: &str) -> Result<(), String> {
        let entry =
            keyring::Entry::new(SERVICE, &account(server, user)).map_err(|e| e.to_string())?;
        match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(err.to_string()),
        }
    }
}

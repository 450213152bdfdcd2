//! `parley-server backup DEST` and `parley-server restore SRC` (docs/operations.md).
//!
//! A backup is a directory: `parley.db` (a consistent copy of the database, made through SQLite's
//! online backup API beside a running server), `attachments/<sha[0..2]>/<sha>` (every attachment
//! file and thumbnail that copy refers to) and `backup.json`, the [`Manifest`] (written last:
//! a directory without it is not a backup). A restore checks all of it (every file's size and
//! sha256, SQLite's integrity check, a schema version this server can run) in a staging
//! directory before it touches the data directory, and holds the data directory's lock
//! throughout, so it never runs beside a server.
//!
//! Files are copied as streams (a fixed buffer), never read whole. Everything written is private:
//! directories 0700, files 0600 (the database holds password hashes and token hashes).

mod restore;
mod take;

use std::{
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::datadir::LockError;

pub use restore::{restore, Restored};
pub use take::{backup, Summary};

/// The version of the backup layout and of `backup.json`; a restore refuses other versions.
pub const FORMAT: u32 = 1;

/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "backup.json";

/// The largest `backup.json` a restore reads (its file list grows with the attachments).
const MAX_MANIFEST: u64 = 256 * 1024 * 1024;

/// `backup.json`: what a backup holds, so a restore can check it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of the parley-server that made it.
    pub parley_version: String,
    /// The database's schema version (its last migration).
    pub schema_version: u32,
    /// When the backup was taken (RFC 3339, UTC).
    pub created_at: String,
    /// Every file of the backup but `backup.json`, with `/` between path components.
    pub files: Vec<FileEntry>,
    /// Attachment contents the database refers to whose files were already missing from the
    /// data directory when the backup was taken (the server answers 404 for those).
    #[serde(default)]
    pub missing_attachments: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// Why a backup or a restore did not happen. The wording is stable: scripts may match it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the backup destination {} is not empty: give a new or empty directory", .0.display())]
    DestinationNotEmpty(PathBuf),
    #[error("the backup destination {} is not a directory", .0.display())]
    DestinationNotDirectory(PathBuf),
    #[error("there is no Parley database in {}", .0.display())]
    NoDatabase(PathBuf),
    #[error("{} is not a Parley backup: {reason}", dir.display())]
    NotABackup { dir: PathBuf, reason: String },
    #[error("the backup's format version is {0}; this parley-server reads version {FORMAT}")]
    UnsupportedFormat(u32),
    #[error(
        "the backup's database is at schema version {backup}, newer than this parley-server \
         supports ({supported}); restore it with a newer parley-server"
    )]
    SchemaTooNew { backup: i64, supported: usize },
    #[error("the backup is damaged: {path}: {reason}")]
    Damaged { path: String, reason: String },
    #[error("the backup is damaged: its database fails SQLite's integrity check: {0}")]
    IntegrityCheck(String),
    #[error(transparent)]
    InUse(#[from] LockError),
    #[error(
        "the data directory {} already holds Parley data; restore --force moves it aside to a \
         directory beside it first",
        .0.display()
    )]
    HoldsData(PathBuf),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Database {
        what: String,
        source: rusqlite::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an IO error with what was being done.
fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.to_string();
    move |source| Error::Io { what, source }
}

/// What the data directory holds that is Parley's data (and so what a backup replaces): the
/// database with its WAL and journal files, and the attachment files. Anything else there (the
/// lock file, a config file kept beside the data) is left alone.
const DATA_ENTRIES: &[&str] = &[
    crate::store::backup::DATABASE,
    "parley.db-wal",
    "parley.db-shm",
    "parley.db-journal",
    ATTACHMENTS,
];

const ATTACHMENTS: &str = "attachments";

/// True for a content address as the server writes it: 64 lowercase hex digits.
fn is_content_address(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `attachments/<sha[0..2]>/<sha>`, with `/` (a manifest path).
fn attachment_path(sha: &str) -> String {
    format!("{ATTACHMENTS}/{}/{sha}", sha.get(..2).unwrap_or("00"))
}

/// The relative path a manifest entry names, if it is one a backup may hold: the database, or
/// an attachment file at its content address. Anything else (`..`, absolute paths, other
/// files) is refused, so a manifest cannot make a restore write outside its staging directory.
fn manifest_path(path: &str) -> Option<PathBuf> {
    if path == crate::store::backup::DATABASE {
        return Some(PathBuf::from(path));
    }
    let mut parts = path.split('/');
    let (Some(ATTACHMENTS), Some(prefix), Some(sha), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (is_content_address(sha) && sha.starts_with(prefix) && prefix.len() == 2)
        .then(|| Path::new(ATTACHMENTS).join(prefix).join(sha))
}

/// Creates a directory (and its missing parents) readable by its owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// A new file readable and writable by its owner only; fails if it exists.
fn create_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Streams `from` into a new private file `to` (synced), hashing as it goes: its size and
/// sha256 (hex).
fn copy_hashed(from: &Path, to: &Path) -> std::io::Result<(u64, String)> {
    let mut source = File::open(from)?;
    let mut dest = create_private_file(to)?;
    let (size, sha) = stream(&mut source, Some(&mut dest))?;
    dest.sync_all()?;
    Ok((size, sha))
}

/// The size and sha256 (hex) of a file.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    stream(&mut File::open(path)?, None)
}

fn stream(source: &mut File, mut dest: Option<&mut File>) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        if let Some(dest) = dest.as_deref_mut() {
            dest.write_all(chunk)?;
        }
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Makes a directory's entries (renames, new files) durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Now, as RFC 3339 in UTC to the second.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside_the_backup() {
        let sha = "ab".to_owned() + &"0".repeat(62);
        assert_eq!(manifest_path("parley.db"), Some(PathBuf::from("parley.db")));
        assert_eq!(
            manifest_path(&format!("attachments/ab/{sha}")),
            Some(Path::new("attachments").join("ab").join(&sha))
        );
        for bad in [
            "../parley.db".to_owned(),
            "/etc/passwd".to_owned(),
            "parley.db-wal".to_owned(),
            format!("attachments/cd/{sha}"),
            format!("attachments/../{sha}"),
            format!("attachments/ab/{sha}/x"),
            format!("attachments/ab/{}", sha.to_uppercase()),
            "attachments/ab/..".to_owned(),
        ] {
            assert_eq!(manifest_path(&bad), None, "{bad}");
        }
    }
}

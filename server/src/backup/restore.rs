//! `parley-server restore SRC [--force]`: checks a backup and installs it into the data
//! directory, holding the directory's lock so no server runs on it meanwhile.
//!
//! The order: read and check `backup.json`; take the lock; refuse a directory that holds data
//! (unless `--force`); copy every file into a staging directory inside the data directory,
//! checking its size and sha256 as it streams; run SQLite's integrity check on the staged
//! database; only then move the old data aside (with `--force`) and rename the staged files
//! into place. A failure before the last step leaves the data directory as it was.

use std::{
    collections::HashSet,
    io::Read,
    path::{Path, PathBuf},
};

use super::{
    copy_hashed, create_private_dir, io, manifest_path, now_rfc3339, sync_dir, Error, Manifest,
    Result, DATA_ENTRIES, FORMAT, MANIFEST, MAX_MANIFEST,
};
use crate::{
    datadir::DataDirLock,
    store::backup::{check_database, DATABASE, SCHEMA_VERSION},
};

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the data that was in the data directory went (`--force`), if there was any.
    pub moved_aside: Option<PathBuf>,
}

/// The prefix of a restore's staging directory inside the data directory.
const STAGING_PREFIX: &str = ".restore-";

/// Restores the backup in `src` into the data directory `data`.
pub fn restore(data: &Path, src: &Path, force: bool) -> Result<Restored> {
    let manifest = read_manifest(src)?;
    create_private_dir(data).map_err(io(format_args!("cannot create {}", data.display())))?;
    let _lock = DataDirLock::acquire(data)?;
    remove_stale_staging(data);
    let existing: Vec<&str> = DATA_ENTRIES
        .iter()
        .copied()
        .filter(|name| std::fs::symlink_metadata(data.join(name)).is_ok())
        .collect();
    if !existing.is_empty() && !force {
        return Err(Error::HoldsData(data.to_owned()));
    }
    let staging = tempfile::Builder::new()
        .prefix(STAGING_PREFIX)
        .tempdir_in(data)
        .map_err(io(format_args!(
            "cannot create a staging directory in {}",
            data.display()
        )))?;
    stage(src, staging.path(), &manifest)?;
    check_staged(&staging.path().join(DATABASE), &manifest)?;
    let moved_aside = if existing.is_empty() {
        None
    } else {
        Some(move_aside(data, &existing)?)
    };
    if let Err(err) = install(staging.path(), data) {
        if let Some(aside) = &moved_aside {
            put_back(aside, data, &existing);
        }
        return Err(err);
    }
    give_to_owner(data)?;
    Ok(Restored {
        manifest,
        moved_aside,
    })
}

fn read_manifest(src: &Path) -> Result<Manifest> {
    let not_a_backup = |reason: String| Error::NotABackup {
        dir: src.to_owned(),
        reason,
    };
    let path = src.join(MANIFEST);
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_backup(format!(
                "it has no {MANIFEST} (an unfinished backup has none)"
            )))
        }
        Err(err) => return Err(io(format_args!("cannot read {}", path.display()))(err)),
    };
    let mut text = Vec::new();
    file.take(MAX_MANIFEST + 1)
        .read_to_end(&mut text)
        .map_err(io(format_args!("cannot read {}", path.display())))?;
    if text.len() as u64 > MAX_MANIFEST {
        return Err(not_a_backup(format!("{MANIFEST} is too large")));
    }
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| not_a_backup(format!("{MANIFEST} cannot be read: {e}")))?;
    if manifest.format != FORMAT {
        return Err(Error::UnsupportedFormat(manifest.format));
    }
    if manifest.schema_version as usize > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            backup: i64::from(manifest.schema_version),
            supported: SCHEMA_VERSION,
        });
    }
    let mut seen = HashSet::new();
    for entry in &manifest.files {
        if manifest_path(&entry.path).is_none() {
            return Err(not_a_backup(format!(
                "{MANIFEST} lists a file a backup does not hold: {:?}",
                entry.path
            )));
        }
        if !seen.insert(entry.path.as_str()) {
            return Err(not_a_backup(format!(
                "{MANIFEST} lists {:?} twice",
                entry.path
            )));
        }
    }
    if !seen.contains(DATABASE) {
        return Err(not_a_backup(format!("{MANIFEST} lists no {DATABASE}")));
    }
    Ok(manifest)
}

/// A staging directory left by a restore that was killed: nobody else can be using it, since
/// this restore holds the lock.
fn remove_stale_staging(data: &Path) {
    let Ok(entries) = std::fs::read_dir(data) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Copies every file the manifest lists from `src` into `staging`, checking each.
fn stage(src: &Path, staging: &Path, manifest: &Manifest) -> Result<()> {
    for entry in &manifest.files {
        let damaged = |reason: String| Error::Damaged {
            path: entry.path.clone(),
            reason,
        };
        let rel = manifest_path(&entry.path).ok_or_else(|| damaged("not a backup path".into()))?;
        let to = staging.join(&rel);
        if let Some(parent) = to.parent() {
            create_private_dir(parent)
                .map_err(io(format_args!("cannot create {}", parent.display())))?;
        }
        let from = src.join(&rel);
        let (size, sha) = match copy_hashed(&from, &to) {
            Ok(copied) => copied,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(damaged("the file is missing".into()))
            }
            Err(err) => return Err(io(format_args!("cannot copy {}", from.display()))(err)),
        };
        if size != entry.size {
            return Err(damaged(format!(
                "{size} bytes where {MANIFEST} says {}",
                entry.size
            )));
        }
        if sha != entry.sha256 {
            return Err(damaged(format!(
                "its sha256 does not match the one in {MANIFEST}"
            )));
        }
        if rel != Path::new(DATABASE) {
            // Content files are never written again (as the server keeps them).
            let mut permissions = std::fs::metadata(&to)
                .map_err(io(format_args!("cannot read {}", to.display())))?
                .permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(&to, permissions)
                .map_err(io(format_args!("cannot seal {}", to.display())))?;
        }
    }
    Ok(())
}

fn check_staged(database: &Path, manifest: &Manifest) -> Result<()> {
    let checked = check_database(database).map_err(|e| Error::IntegrityCheck(e.to_string()))?;
    if !checked.problems.is_empty() {
        return Err(Error::IntegrityCheck(checked.problems.join("; ")));
    }
    if checked.schema_version != i64::from(manifest.schema_version) {
        return Err(Error::Damaged {
            path: DATABASE.to_owned(),
            reason: format!(
                "its schema version is {}, {MANIFEST} says {}",
                checked.schema_version, manifest.schema_version
            ),
        });
    }
    if checked.schema_version > SCHEMA_VERSION as i64 {
        return Err(Error::SchemaTooNew {
            backup: checked.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Moves the data directory's Parley entries into a new timestamped directory beside it,
/// `<data>.before-restore-<UTC time>`; on failure, puts back what was moved.
fn move_aside(data: &Path, existing: &[&str]) -> Result<PathBuf> {
    let name = data
        .file_name()
        .map_or_else(|| "parley".into(), |n| n.to_string_lossy().into_owned());
    let stamp: String = now_rfc3339()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let parent = data.parent().unwrap_or(Path::new("."));
    let mut aside = parent.join(format!("{name}.before-restore-{stamp}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = parent.join(format!("{name}.before-restore-{stamp}-{n}"));
    }
    create_private_dir(&aside).map_err(io(format_args!(
        "cannot create {} to move the current data aside",
        aside.display()
    )))?;
    for (i, entry) in existing.iter().enumerate() {
        if let Err(err) = std::fs::rename(data.join(entry), aside.join(entry)) {
            put_back(&aside, data, existing.get(..i).unwrap_or_default());
            return Err(io(format_args!(
                "cannot move {} to {}",
                data.join(entry).display(),
                aside.display()
            ))(err));
        }
    }
    let _ = sync_dir(parent);
    let _ = sync_dir(data);
    Ok(aside)
}

/// Best effort: moves entries back from the aside directory after a failed restore.
fn put_back(aside: &Path, data: &Path, entries: &[&str]) {
    for entry in entries {
        let _ = std::fs::remove_dir_all(data.join(entry));
        let _ = std::fs::remove_file(data.join(entry));
        if let Err(err) = std::fs::rename(aside.join(entry), data.join(entry)) {
            tracing::error!(%err, entry, aside = %aside.display(), "cannot move data back");
        }
    }
}

/// Renames the staged database and attachments into the data directory; on failure removes
/// what it had put there.
fn install(staging: &Path, data: &Path) -> Result<()> {
    let mut installed = Vec::new();
    for entry in [DATABASE, super::ATTACHMENTS] {
        let from = staging.join(entry);
        if !from.exists() {
            continue;
        }
        if let Err(err) = std::fs::rename(&from, data.join(entry)) {
            for done in installed {
                let path = data.join(done);
                let _ = std::fs::remove_dir_all(&path);
                let _ = std::fs::remove_file(&path);
            }
            return Err(io(format_args!(
                "cannot install {}",
                data.join(entry).display()
            ))(err));
        }
        installed.push(entry);
    }
    sync_dir(data).map_err(io(format_args!("cannot sync {}", data.display())))
}

/// Run as root on a data directory that belongs to another user (the packaged server's, say),
/// the restored files (and the lock file) are given to that user, so the server can open them.
#[cfg(unix)]
fn give_to_owner(data: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let meta =
        std::fs::metadata(data).map_err(io(format_args!("cannot read {}", data.display())))?;
    if meta.uid() == 0 {
        return Ok(());
    }
    fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
        if std::fs::symlink_metadata(path)?.is_dir() {
            for entry in std::fs::read_dir(path)? {
                chown_tree(&entry?.path(), uid, gid)?;
            }
        }
        Ok(())
    }
    for entry in [DATABASE, super::ATTACHMENTS, crate::datadir::LOCK_FILE] {
        let path = data.join(entry);
        if path.exists() {
            chown_tree(&path, meta.uid(), meta.gid()).map_err(io(format_args!(
                "cannot give {} to its owner",
                path.display()
            )))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn give_to_owner(_data: &Path) -> Result<()> {
    Ok(())
}

//! `parley-server backup DEST`: copies the database, then the attachment files it refers to,
//! then writes `backup.json`.

use std::{io::Write, path::Path};

use super::{
    attachment_path, copy_hashed, create_private_dir, create_private_file, hash_file, io,
    is_content_address, now_rfc3339, sync_dir, Error, FileEntry, Manifest, Result, ATTACHMENTS,
    FORMAT, MANIFEST,
};
use crate::store::backup::{copy_database, DATABASE};

/// What a backup wrote.
#[derive(Debug)]
pub struct Summary {
    pub manifest: Manifest,
    /// The total size of the files listed in the manifest.
    pub bytes: u64,
}

/// Backs up the data directory `data` into `dest`, a new or empty directory. Works beside a
/// running server (the server is not asked anything; SQLite's locking keeps the copy
/// consistent). On failure, what was written into `dest` is removed again.
pub fn backup(data: &Path, dest: &Path) -> Result<Summary> {
    let database = data.join(DATABASE);
    if !database.is_file() {
        return Err(Error::NoDatabase(data.to_owned()));
    }
    let created = prepare_destination(dest)?;
    let result = write_backup(data, dest);
    if result.is_err() {
        // Best effort: the destination was new or empty, so everything in it is ours.
        if created {
            let _ = std::fs::remove_dir_all(dest);
        } else if let Ok(entries) = std::fs::read_dir(dest) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
    result
}

/// Checks that `dest` is a new or empty directory and makes it private; true when it was
/// created here.
fn prepare_destination(dest: &Path) -> Result<bool> {
    let created = match std::fs::metadata(dest) {
        Ok(meta) if !meta.is_dir() => return Err(Error::DestinationNotDirectory(dest.to_owned())),
        Ok(_) => {
            let mut entries = std::fs::read_dir(dest)
                .map_err(io(format_args!("cannot read {}", dest.display())))?;
            if entries.next().is_some() {
                return Err(Error::DestinationNotEmpty(dest.to_owned()));
            }
            false
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => true,
        Err(err) => return Err(io(format_args!("cannot read {}", dest.display()))(err)),
    };
    create_private_dir(dest).map_err(io(format_args!("cannot create {}", dest.display())))?;
    Ok(created)
}

fn write_backup(data: &Path, dest: &Path) -> Result<Summary> {
    // The order matters: the database first, then the attachment files. The server puts an
    // attachment's file in place (renamed in, directory synced) inside the write that inserts
    // its row, before that write commits, and never changes or removes a content file while it
    // runs (only its start-up sweep removes files no row refers to). So every attachment row in
    // the snapshot below has its file on disk by the time the snapshot is taken, and it is still
    // there when it is copied afterwards. Copying the files first could miss the file of a row
    // committed in between. Files of rows committed after the snapshot are not copied at all:
    // the backup holds exactly what its database refers to.
    let db_copy = dest.join(DATABASE);
    // Created private before SQLite opens it (SQLite takes an empty file as an empty database).
    drop(
        create_private_file(&db_copy)
            .map_err(io(format_args!("cannot create {}", db_copy.display())))?,
    );
    let copied =
        copy_database(&data.join(DATABASE), &db_copy).map_err(|source| Error::Database {
            what: format!("cannot copy the database in {}", data.display()),
            source,
        })?;
    let schema_version = u32::try_from(copied.schema_version).unwrap_or(0);
    let (size, sha256) =
        hash_file(&db_copy).map_err(io(format_args!("cannot read {}", db_copy.display())))?;
    let mut files = vec![FileEntry {
        path: DATABASE.to_owned(),
        size,
        sha256,
    }];
    let mut bytes = size;
    let mut missing = Vec::new();
    let source_root = data.join(ATTACHMENTS);
    for sha in copied.contents {
        if !is_content_address(&sha) {
            tracing::warn!(content = %sha, "skipping an attachment row with a malformed address");
            continue;
        }
        let rel = attachment_path(&sha);
        let prefix = sha.get(..2).unwrap_or("00");
        let from = source_root.join(prefix).join(&sha);
        let dir = dest.join(ATTACHMENTS).join(prefix);
        create_private_dir(&dir).map_err(io(format_args!("cannot create {}", dir.display())))?;
        let to = dir.join(&sha);
        let (size, actual) = match copy_hashed(&from, &to) {
            Ok(copied) => copied,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    content = %sha,
                    "an attachment file is missing from the data directory; the backup lists it \
                     as missing"
                );
                missing.push(sha);
                continue;
            }
            Err(err) => return Err(io(format_args!("cannot copy {}", from.display()))(err)),
        };
        if actual != sha {
            tracing::warn!(
                content = %sha,
                actual,
                "an attachment file's content does not match its address; copied as it is"
            );
        }
        bytes += size;
        files.push(FileEntry {
            path: rel,
            size,
            sha256: actual,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        parley_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        created_at: now_rfc3339(),
        files,
        missing_attachments: missing,
    };
    write_manifest(dest, &manifest)?;
    Ok(Summary { manifest, bytes })
}

/// Writes `backup.json` last, through a temporary name, so a backup that stopped half-way has
/// none and a restore refuses it.
fn write_manifest(dest: &Path, manifest: &Manifest) -> Result<()> {
    let temp = dest.join(format!("{MANIFEST}.partial"));
    let mut file =
        create_private_file(&temp).map_err(io(format_args!("cannot create {}", temp.display())))?;
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| io(format_args!("cannot write {}", temp.display()))(e.into()))?;
    file.write_all(&text)
        .and_then(|()| file.sync_all())
        .map_err(io(format_args!("cannot write {}", temp.display())))?;
    drop(file);
    std::fs::rename(&temp, dest.join(MANIFEST)).map_err(io(format_args!(
        "cannot write {}",
        dest.join(MANIFEST).display()
    )))?;
    sync_dir(dest).map_err(io(format_args!("cannot sync {}", dest.display())))
}

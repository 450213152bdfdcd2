//! The files behind attachments, under `<data>/attachments`: one per content at
//! `<sha[0..2]>/<sha>`, and temporary files in `incoming/`.
//!
//! A content file is written once: the bytes go to a fresh temporary file, which is synced,
//! made read-only and then renamed into place without replacing anything (the same content
//! stored earlier is kept as it is). Nothing opens a content file for writing afterwards, so a
//! request that still holds some other file open (an upload session's, say) cannot change what
//! is stored. The rename happens inside the database write that inserts the row, before that
//! write commits: a crash in between leaves a file no row names, never a row without its file.
//! [`sweep_at_start`] removes such files, and everything left in `incoming/`, before the
//! server answers anyone.

use std::{
    collections::HashSet,
    io::Write,
    path::{Path, PathBuf},
};

use tempfile::TempPath;

use super::Attachments;
use crate::error::{Error, Result};

pub(super) fn root(state: &Attachments) -> PathBuf {
    state.config.attachments_dir()
}

pub(super) fn path_of(root: &Path, sha: &str) -> PathBuf {
    root.join(sha.get(..2).unwrap_or("00")).join(sha)
}

fn incoming(root: &Path) -> PathBuf {
    root.join("incoming")
}

/// A new temporary file in `incoming/`, removed when its path is dropped unless it was placed.
pub(super) async fn temp_file(root: &Path) -> Result<(std::fs::File, TempPath)> {
    let dir = incoming(root);
    tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        std::fs::create_dir_all(&dir)?;
        let file = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&dir)?;
        Ok(file.into_parts())
    })
    .await
    .map_err(|e| Error::internal(format_args!("temporary file: {e}")))?
    .map_err(|e| Error::internal(format_args!("temporary file: {e}")))
}

/// Writes `bytes` to a new synced, read-only temporary file (a thumbnail waiting for its row).
pub(super) async fn temp_with(root: &Path, bytes: Vec<u8>) -> Result<TempPath> {
    let (mut file, path) = temp_file(root).await?;
    tokio::task::spawn_blocking(move || -> std::io::Result<TempPath> {
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        seal(&path)?;
        Ok(path)
    })
    .await
    .map_err(|e| Error::internal(format_args!("temporary file: {e}")))?
    .map_err(|e| Error::internal(format_args!("temporary file: {e}")))
}

/// Makes a complete temporary file read-only before it is placed: content files are never
/// written again.
pub(super) fn seal(path: &Path) -> std::io::Result<()> {
    let mut permissions = std::fs::metadata(path)?.permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(path, permissions)
}

/// Puts the sealed temporary file at `target` (its content address) unless that content is
/// stored already, in which case the stored file is left alone and the temporary one removed.
/// Called on the store's writer thread inside the write that inserts the row; the directory is
/// synced so the rename is on disk before the row can be.
pub(super) fn place(temp: TempPath, target: &Path) -> std::io::Result<()> {
    if target.exists() {
        return Ok(()); // dropping `temp` removes it
    }
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    match temp.persist_noclobber(target) {
        Ok(()) => {}
        Err(err) if err.error.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(err) => return Err(err.error),
    }
    sync_dir(parent)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Removes a file even when it is read-only (Windows refuses to delete those).
fn remove(path: &Path) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(path) {
        let mut permissions = meta.permissions();
        if permissions.readonly() {
            #[allow(clippy::permissions_set_readonly_false)] // the file is deleted right after
            permissions.set_readonly(false);
            let _ = std::fs::set_permissions(path, permissions);
        }
    }
    std::fs::remove_file(path)
}

/// Tidies `attachments/` before the server answers anyone (no upload can be under way): removes
/// everything in `incoming/` (upload sessions do not survive a restart, and temporary files
/// there belong to uploads that were cut off) and every content file no row refers to (a crash
/// between placing a file and committing its row, or a user deleted with their uploads). Rows
/// whose file is missing are kept (their messages still show them; downloads answer 404 and
/// the server logs it), except that a missing thumbnail is forgotten so clients stop asking for
/// it. A failure is logged, not fatal: the sweep only reclaims space.
pub(crate) async fn sweep_at_start(state: &Attachments) {
    if let Err(err) = sweep(state).await {
        tracing::warn!(%err, "could not tidy the attachments directory");
    }
}

async fn sweep(state: &Attachments) -> Result<()> {
    let root = root(state);
    if let Some(contents) = &state.contents {
        // Contents live in the database: here only this node's temporary files, and there
        // content no row names, once it is too old to belong to an upload under way.
        let incoming = incoming(&root);
        let cleared = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&incoming))
            .await
            .map_err(|e| Error::internal(format_args!("attachments sweep: {e}")))?;
        if let Err(err) = cleared {
            if err.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%err, "cannot clear incoming attachments");
            }
        }
        let before = crate::store::now_ms() - SHARED_GRACE.as_millis() as i64;
        let removed = contents.sweep_contents(before).await?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed attachment contents no attachment refers to"
            );
        }
        return Ok(());
    }
    if !root.exists() {
        return Ok(());
    }
    // A directory other nodes write too: only what is surely no upload under way elsewhere.
    let shared = state.config.attachments.dir.is_some().then(|| Spare {
        incoming: state.config.attachments.upload_expiry + SHARED_GRACE,
        content: SHARED_GRACE,
    });
    let referenced = state.store.attachment_contents().await?;
    let (removed, missing) =
        tokio::task::spawn_blocking(move || sweep_files(&root, referenced, shared))
            .await
            .map_err(|e| Error::internal(format_args!("attachments sweep: {e}")))?
            .map_err(|e| Error::internal(format_args!("attachments sweep: {e}")))?;
    if removed > 0 {
        tracing::info!(removed, "removed files no attachment refers to");
    }
    if missing.is_empty() {
        return Ok(());
    }
    let missing: Vec<String> = missing.iter().map(hex::encode).collect();
    let count = missing.len();
    let (files, thumbnails) = state.store.forget_missing_content(missing).await?;
    tracing::warn!(
        missing = count,
        attachments = files,
        thumbnails_forgotten = thumbnails,
        "attachment files are missing from the data directory; their downloads answer 404"
    );
    Ok(())
}

/// In a shared directory (`attachments.dir`), how old a file must be before the sweep may take
/// it: another node may be writing one younger (an upload, or a file placed a moment before
/// its row commits).
#[derive(Clone, Copy)]
struct Spare {
    incoming: std::time::Duration,
    content: std::time::Duration,
}

/// Content files no row names are removed from a shared directory only once this old.
const SHARED_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// True when `path` was modified less than `age` ago (or its time cannot be read).
fn younger_than(path: &Path, age: std::time::Duration) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map_or(true, |modified| {
            modified.elapsed().map_or(true, |elapsed| elapsed < age)
        })
}

/// Removes `incoming/` and unreferenced content files (in a shared directory, only those older
/// than `shared` says); returns how many files went and which referenced contents have no file.
fn sweep_files(
    root: &Path,
    mut referenced: HashSet<[u8; 32]>,
    shared: Option<Spare>,
) -> std::io::Result<(usize, HashSet<[u8; 32]>)> {
    let mut removed = 0;
    let incoming = incoming(root);
    if incoming.exists() {
        for entry in std::fs::read_dir(&incoming)? {
            let path = entry?.path();
            if shared.is_some_and(|s| younger_than(&path, s.incoming)) {
                continue;
            }
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                remove(&path)
            };
            match gone {
                Ok(()) => removed += 1,
                Err(err) => tracing::warn!(%err, path = %path.display(), "cannot remove"),
            }
        }
    }
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let prefix = entry.file_name().to_string_lossy().into_owned();
        let is_prefix = prefix.len() == 2 && prefix.bytes().all(is_lower_hex);
        if !is_prefix || !entry.file_type()?.is_dir() {
            continue; // not ours (incoming/, or something an operator put there)
        }
        for file in std::fs::read_dir(entry.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            let mut sha = [0u8; 32];
            let known = name.starts_with(&prefix)
                && name.bytes().all(is_lower_hex)
                && hex::decode_to_slice(&name, &mut sha).is_ok()
                && referenced.remove(&sha);
            if known || shared.is_some_and(|s| younger_than(&file.path(), s.content)) {
                continue;
            }
            match remove(&file.path()) {
                Ok(()) => removed += 1,
                Err(err) => tracing::warn!(%err, file = name, "cannot remove"),
            }
        }
    }
    Ok((removed, referenced))
}

/// Content addresses are lowercase hex (as `hex::encode` writes them).
fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

//! One server per data directory. Two servers on one database would each keep their own hubs
//! and sequence state in memory over the same SQLite file (split brain), so `serve` holds an
//! exclusive advisory lock on `<data_dir>/parley.lock` for its whole life, taken before it
//! binds anything. The file says who holds it, as JSON: `{"pid": N, "url": "http://..."}`
//! (the url once the server listens). The lock goes with the process, however it ends; a file
//! left behind by a crash is simply locked again by the next server.
//!
//! Admin subcommands do not take it: they work beside a running server through SQLite's own
//! locking. `restore` does, for its whole run: it replaces the database and must never run
//! beside a server (crate::backup).

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "parley.lock";

/// Held for as long as the server runs; dropping it (or the process ending) releases the lock.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    holder: Holder,
}

/// What the lock file says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Holder {
    pub pid: Option<u32>,
    pub url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the data directory {} is in use by another parley-server ({})", dir.display(), describe(holder))]
    InUse { dir: PathBuf, holder: Holder },
    #[error("cannot lock the data directory {}: {source}", dir.display())]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
}

fn describe(holder: &Holder) -> String {
    let pid = holder
        .pid
        .map_or_else(|| "pid unknown".to_owned(), |p| format!("pid {p}"));
    match &holder.url {
        Some(url) => format!("{pid}, {url}"),
        None => format!("{pid}, not listening yet"),
    }
}

impl DataDirLock {
    /// Creates `dir` if needed and takes its lock, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            dir: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // Not truncated on open: the holder's record must survive a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // Best effort: the holder may be between taking the lock and writing its record.
                let _ = file.read_to_string(&mut text);
                let holder = serde_json::from_str(&text).unwrap_or_default();
                return Err(LockError::InUse {
                    dir: dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        let mut lock = Self {
            file,
            holder: Holder {
                pid: Some(std::process::id()),
                url: None,
            },
        };
        lock.write().map_err(io)?;
        Ok(lock)
    }

    /// Records the address the server listens on, for whoever finds the directory in use.
    pub fn record_url(&mut self, url: &str) -> std::io::Result<()> {
        self.holder.url = Some(url.to_owned());
        self.write()
    }

    fn write(&mut self) -> std::io::Result<()> {
        let text = serde_json::to_string(&self.holder).map_err(std::io::Error::other)?;
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut first = DataDirLock::acquire(dir.path()).expect("first");
        first.record_url("http://127.0.0.1:7878").expect("record");
        let err = DataDirLock::acquire(dir.path()).expect_err("second");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "pid {}, http://127.0.0.1:7878",
                std::process::id()
            )),
            "{text}"
        );
        drop(first);
        DataDirLock::acquire(dir.path()).expect("free again");
    }
}

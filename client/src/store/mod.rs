//! The local cache: one SQLite database per server and user (WAL, numbered migrations).
//! Channels with their resume point, messages with an FTS5 index, members, read positions,
//! presence last seen, the outbox, and document replicas' updates.
//!
//! All SQL of the client lives here: this file holds the schema and the connection; the queries
//! are in `channels`, `messages`, `outbox` and `docs`, whose functions are used as `store::…`.
//! The connection sits behind a mutex and is used from blocking threads (`Store::run`), never
//! on the async workers.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use parley_protocol::Message;
use rusqlite::Connection;

use crate::{Error, Result};

mod channels;
mod docs;
mod messages;
mod outbox;

pub use channels::*;
pub use docs::*;
pub use messages::*;
pub use outbox::*;

const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE channels (
        name       TEXT PRIMARY KEY,
        epoch      TEXT,
        -- The newest seq stored from the server: resume with since = last_seq.
        last_seq   INTEGER NOT NULL DEFAULT 0,
        subscribed INTEGER NOT NULL DEFAULT 0,
        info       TEXT
    );
    CREATE TABLE messages (
        rowid      INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        id         INTEGER NOT NULL,
        author_id  INTEGER NOT NULL,
        author     TEXT NOT NULL,
        text       TEXT NOT NULL,
        client_id  TEXT NOT NULL,
        created_at TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        UNIQUE (channel, seq)
    );
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = 'messages', content_rowid = 'rowid', tokenize = 'unicode61'
    );
    CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END;
    CREATE TABLE members (
        channel TEXT NOT NULL,
        user_id INTEGER NOT NULL,
        name    TEXT NOT NULL,
        PRIMARY KEY (channel, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE read_positions (
        channel TEXT PRIMARY KEY,
        seq     INTEGER NOT NULL
    );
    CREATE TABLE presence (
        channel   TEXT NOT NULL,
        user_id   INTEGER NOT NULL,
        name      TEXT NOT NULL,
        status    TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (channel, user_id)
    ) WITHOUT ROWID;
    -- Messages (and comments) written here first, sent in local_id order when connected.
    CREATE TABLE outbox (
        local_id   INTEGER PRIMARY KEY AUTOINCREMENT,
        kind       TEXT NOT NULL,
        target     TEXT NOT NULL,
        body       TEXT NOT NULL,
        client_id  TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending',
        error_code TEXT,
        error      TEXT,
        attempts   INTEGER NOT NULL DEFAULT 0
    );
    -- Document replicas: every update (local or from the server), compacted now and then.
    CREATE TABLE doc_updates (
        id   INTEGER PRIMARY KEY,
        doc  TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX doc_updates_doc ON doc_updates (doc, id);
    CREATE TABLE comments (
        doc  TEXT NOT NULL,
        id   INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (doc, id)
    ) WITHOUT ROWID;
"#,
    // 2: edits reach the search index.
    r#"
    CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
"#,
    // 3: what a message carries besides its text (edit time, reactions, thread summary,
    // attachments, mentions), as the server's JSON.
    r#"
    ALTER TABLE messages ADD COLUMN extra TEXT;
"#,
    // 4: uploads in progress, so a restarted client resumes them.
    r#"
    CREATE TABLE uploads (
        path      TEXT PRIMARY KEY,
        upload_id TEXT NOT NULL,
        size      INTEGER NOT NULL
    );
"#,
    // 5: the document (server id) each replica belongs to, learnt on its first connection.
    // A replica is bound to that identity, never to its name alone.
    r#"
    CREATE TABLE doc_ids (
        doc TEXT PRIMARY KEY,
        id  INTEGER NOT NULL
    );
"#,
];

/// A message as the cache holds it.
pub type CachedMessage = Message;

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OutboxEntry {
    pub local_id: i64,
    /// `message` or `comment`.
    pub kind: String,
    /// The channel (messages) or document (comments).
    pub target: String,
    /// The text (messages) or the comment request as JSON (comments).
    pub body: String,
    pub client_id: String,
    pub created_at: i64,
    /// `pending` or `failed`.
    pub state: String,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
}

/// A full-text search hit.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub message: Message,
    /// The text with matches between `[` and `]`.
    pub snippet: String,
}

/// SQLite's `<db>-wal` / `<db>-shm` next to `path`.
fn sidecar(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating it) the cache at `path`; SQLite keeps at most `memory_kib` KiB of its
    /// pages in memory (the OS page cache holds the rest).
    pub fn open(path: &Path, memory_kib: u32) -> Result<Self> {
        // The cache holds private messages and documents: owner only (SQLite gives its WAL
        // and shared-memory files the database file's mode).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::private_dir(dir)
                .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        }
        for file in [
            path.to_owned(),
            sidecar(path, "-wal"),
            sidecar(path, "-shm"),
        ] {
            if file == path || file.exists() {
                crate::files::private_file(&file)
                    .map_err(|e| Error::Storage(format!("{}: {e}", file.display())))?;
            }
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "cache_size", -i64::from(memory_kib.max(64)))?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| Error::Storage("the cache lock is poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Storage(format!("cache task failed: {e}")))?
    }

    /// Runs `f` on the calling thread (for synchronous callers and benchmarks).
    pub fn run_blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| Error::Storage("the cache lock is poisoned".into()))?;
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(Error::Storage(format!(
            "the cache is at schema version {current}, newer than this client"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

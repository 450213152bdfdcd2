//! The local cache: one SQLite database per server and user (WAL, numbered migrations).
//! Channels with their resume point, messages with an FTS5 index, members, read positions,
//! presence last seen, the outbox, and document replicas' updates.
//!
//! All SQL of the client lives here. The connection sits behind a mutex and is used from
//! blocking threads (`Store::run`), never on the async workers.

use std::{
    path::Path,
    sync::{Arc, Mutex},
};

use parley_protocol::{Message, UserRef};
use rusqlite::{params, Connection, OptionalExtension};

use crate::{Error, Result};

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

// ---- channels ----------------------------------------------------------------------------

/// Where to resume a channel: (epoch, last stored seq).
pub fn resume_point(conn: &Connection, channel: &str) -> Result<(Option<String>, u64)> {
    Ok(conn
        .prepare_cached("SELECT epoch, last_seq FROM channels WHERE name = ?1")?
        .query_row([channel], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .optional()?
        .unwrap_or((None, 0)))
}

pub fn set_subscribed(conn: &Connection, channel: &str, subscribed: bool) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, subscribed) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET subscribed = excluded.subscribed",
    )?
    .execute(params![channel, subscribed])?;
    Ok(())
}

pub fn subscribed_channels(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT name FROM channels WHERE subscribed = 1 ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// A new epoch means a recreated history: the cached one is dropped.
pub fn set_epoch(conn: &mut Connection, channel: &str, epoch: &str) -> Result<bool> {
    let tx = conn.transaction()?;
    let old: Option<Option<String>> = tx
        .query_row(
            "SELECT epoch FROM channels WHERE name = ?1",
            [channel],
            |r| r.get(0),
        )
        .optional()?;
    let changed = matches!(&old, Some(Some(e)) if e != epoch);
    if changed {
        tx.execute("DELETE FROM messages WHERE channel = ?1", [channel])?;
        tx.execute("DELETE FROM read_positions WHERE channel = ?1", [channel])?;
        tx.execute(
            "UPDATE channels SET last_seq = 0 WHERE name = ?1",
            [channel],
        )?;
    }
    tx.execute(
        "INSERT INTO channels (name, epoch) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET epoch = excluded.epoch",
        params![channel, epoch],
    )?;
    tx.commit()?;
    Ok(changed)
}

/// Forgets a channel's cached history and resumes from `head`.
pub fn reset_channel(conn: &Connection, channel: &str, head: u64) -> Result<()> {
    conn.execute("DELETE FROM messages WHERE channel = ?1", [channel])?;
    conn.execute("DELETE FROM read_positions WHERE channel = ?1", [channel])?;
    conn.execute(
        "UPDATE channels SET last_seq = ?2 WHERE name = ?1",
        params![channel, head as i64],
    )?;
    Ok(())
}

pub fn save_channel_info(conn: &Connection, channel: &str, info: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, info) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET info = excluded.info",
    )?
    .execute(params![channel, info])?;
    Ok(())
}

/// A cached channel: name, the server's description (JSON), followed, last stored seq.
pub type ChannelRow = (String, Option<String>, bool, u64);

pub fn channel_infos(conn: &Connection) -> Result<Vec<ChannelRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, info, subscribed, last_seq FROM channels ORDER BY name")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)? as u64,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

// ---- messages ----------------------------------------------------------------------------

/// Stores a message delivered as the channel's event `seq`; advances the resume point when
/// `advance` (events do; send replies do not, so a gap before them is still fetched).
/// Returns false when it was stored already.
pub fn insert_message(conn: &Connection, message: &Message, advance: bool) -> Result<bool> {
    if message.deleted {
        // A deleted message's place in history: nothing to keep.
        if advance {
            advance_to(conn, &message.channel, message.seq)?;
        }
        return Ok(false);
    }
    let author =
        serde_json::to_string(&message.author).map_err(|e| Error::Storage(e.to_string()))?;
    let inserted =
        conn.prepare_cached(
            "INSERT INTO messages (channel, seq, id, author_id, author, text, client_id,
                 created_at, ts, extra)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(channel, seq) DO NOTHING",
        )?
        .execute(params![
            message.channel,
            message.seq as i64,
            message.id,
            message.author.id,
            author,
            message.text,
            message.client_id,
            message.created_at,
            message.ts,
            extra_of(message)
        ])? > 0;
    if advance {
        advance_to(conn, &message.channel, message.seq)?;
    }
    Ok(inserted)
}

/// Applies an edit to the cached message (its text, in the search index too).
pub fn edit_cached(conn: &Connection, message: &Message) -> Result<()> {
    conn.prepare_cached("UPDATE messages SET text = ?3 WHERE channel = ?1 AND seq = ?2")?
        .execute(params![message.channel, message.seq as i64, message.text])?;
    let edited_at = message.edited_at.clone();
    update_message(conn, &message.channel, "seq", message.seq as i64, |m| {
        m.edited_at = edited_at;
    })?;
    Ok(())
}

/// Removes a deleted message from the cache and the search index.
pub fn delete_cached(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM messages WHERE channel = ?1 AND seq = ?2")?
        .execute(params![channel, seq as i64])?;
    Ok(())
}

/// Records that every event up to `seq` was stored (non-message events count too).
pub fn advance_to(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO channels (name, last_seq) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
    )?
    .execute(params![channel, seq as i64])?;
    Ok(())
}

/// The parts of a message beyond its columns, as JSON (None when there are none).
fn extra_of(message: &Message) -> Option<String> {
    let extra = serde_json::json!({
        "edited_at": message.edited_at,
        "thread": message.thread,
        "attachments": message.attachments,
        "mentions": message.mentions,
        "reactions": message.reactions,
    });
    let empty = message.edited_at.is_none()
        && message.thread.is_none()
        && message.attachments.is_empty()
        && message.mentions.is_empty()
        && message.reactions.is_empty();
    (!empty).then(|| extra.to_string())
}

fn apply_extra(message: &mut Message, extra: Option<String>) {
    let Some(extra) = extra.and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok()) else {
        return;
    };
    let get = |key: &str| extra.get(key).cloned().unwrap_or_default();
    message.edited_at = serde_json::from_value(get("edited_at")).unwrap_or_default();
    message.thread = serde_json::from_value(get("thread")).unwrap_or_default();
    message.attachments = serde_json::from_value(get("attachments")).unwrap_or_default();
    message.mentions = serde_json::from_value(get("mentions")).unwrap_or_default();
    message.reactions = serde_json::from_value(get("reactions")).unwrap_or_default();
}

/// Reads a cached message, changes it, writes its extra parts back.
fn update_message(
    conn: &Connection,
    channel: &str,
    pick: &str,
    key: i64,
    change: impl FnOnce(&mut Message),
) -> Result<Option<Message>> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel = ?1 AND {pick} = ?2"
        ))?
        .query_row(params![channel, key], message_from_row)
        .optional()?;
    let Some(mut message) = found else {
        return Ok(None);
    };
    change(&mut message);
    conn.prepare_cached("UPDATE messages SET extra = ?3 WHERE channel = ?1 AND seq = ?2")?
        .execute(params![channel, message.seq as i64, extra_of(&message)])?;
    Ok(Some(message))
}

/// A reaction change lands on the cached message (counts and who).
pub fn react_cached(conn: &Connection, r: &parley_protocol::ReactionChange) -> Result<()> {
    update_message(conn, &r.channel, "id", r.message_id, |m| {
        let entry = match m.reactions.iter_mut().position(|x| x.emoji == r.emoji) {
            Some(i) => &mut m.reactions[i],
            None => {
                m.reactions.push(parley_protocol::ReactionCount {
                    emoji: r.emoji.clone(),
                    count: 0,
                    users: Vec::new(),
                });
                let last = m.reactions.len() - 1;
                &mut m.reactions[last]
            }
        };
        entry.users.retain(|u| *u != r.user.id);
        if r.added {
            entry.users.push(r.user.id);
        }
        entry.count = r.count;
        m.reactions.retain(|x| x.count > 0);
    })?;
    Ok(())
}

/// A thread's new summary lands on its cached root.
pub fn thread_cached(
    conn: &Connection,
    channel: &str,
    thread: &parley_protocol::ThreadSummary,
) -> Result<()> {
    update_message(conn, channel, "id", thread.root_id, |m| {
        m.thread = Some(Box::new(thread.clone()));
    })?;
    Ok(())
}

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    let author: String = row.get(4)?;
    let author: UserRef = serde_json::from_str(&author).unwrap_or(UserRef {
        id: row.get(3)?,
        name: String::new(),
        display_name: None,
        avatar: None,
    });
    Ok(Message {
        channel: row.get(0)?,
        seq: row.get::<_, i64>(1)? as u64,
        id: row.get(2)?,
        author,
        text: row.get(5)?,
        client_id: row.get(6)?,
        created_at: row.get(7)?,
        ts: row.get(8)?,
        edited_at: None,
        deleted: false,
        thread: None,
        attachments: Vec::new(),
        mentions: Vec::new(),
        reactions: Vec::new(),
    })
    .map(|mut m| {
        apply_extra(&mut m, row.get::<_, Option<String>>(9).ok().flatten());
        m
    })
}

const MESSAGE_COLUMNS: &str =
    "channel, seq, id, author_id, author, text, client_id, created_at, ts, extra";

/// The newest `limit` messages before `before` (all when None), oldest first.
pub fn history(
    conn: &Connection,
    channel: &str,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE channel = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT ?3"
    ))?;
    let mut rows = stmt
        .query_map(
            params![channel, before.map_or(i64::MAX, |b| b as i64), limit],
            message_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// Full-text search over the cache, best matches first. `query` is plain words (each must
/// appear; the last may be a prefix); FTS syntax characters are neutralised.
pub fn search(
    conn: &Connection,
    query: &str,
    channel: Option<&str>,
    limit: u32,
) -> Result<Vec<SearchHit>> {
    let Some(fts) = parley_protocol::search_terms(query) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.channel, m.seq, m.id, m.author_id, m.author, m.text, m.client_id,
             m.created_at, m.ts, m.extra, snippet(messages_fts, 0, '[', ']', '…', 12)
         FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
         WHERE messages_fts MATCH ?1 AND (?2 IS NULL OR m.channel = ?2)
         ORDER BY rank LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![fts, channel, limit], |r| {
            Ok(SearchHit {
                message: message_from_row(r)?,
                snippet: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The channel of a cached message (not a thread reply), by its server id.
pub fn message_channel(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT channel FROM messages WHERE id = ?1 AND channel NOT LIKE 'thread#%' LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn message_count(conn: &Connection, channel: &str) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM messages WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))?;
    Ok(n as u64)
}

// ---- read positions and presence ----------------------------------------------------------

pub fn set_read(conn: &Connection, channel: &str, seq: u64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO read_positions (channel, seq) VALUES (?1, ?2)
         ON CONFLICT(channel) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![channel, seq as i64])?;
    Ok(())
}

pub fn read_position(conn: &Connection, channel: &str) -> Result<u64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM read_positions WHERE channel = ?1")?
        .query_row([channel], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64)
}

pub fn saw_presence(
    conn: &Connection,
    channel: &str,
    user: &UserRef,
    status: &str,
    at: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO presence (channel, user_id, name, status, last_seen) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(channel, user_id) DO UPDATE SET name = excluded.name,
             status = excluded.status, last_seen = excluded.last_seen",
    )?
    .execute(params![channel, user.id, user.name, status, at])?;
    Ok(())
}

pub fn set_member(conn: &Connection, channel: &str, user: &UserRef, member: bool) -> Result<()> {
    if member {
        conn.prepare_cached(
            "INSERT INTO members (channel, user_id, name) VALUES (?1, ?2, ?3)
             ON CONFLICT DO UPDATE SET name = excluded.name",
        )?
        .execute(params![channel, user.id, user.name])?;
    } else {
        conn.prepare_cached("DELETE FROM members WHERE channel = ?1 AND user_id = ?2")?
            .execute(params![channel, user.id])?;
    }
    Ok(())
}

// ---- outbox --------------------------------------------------------------------------------

pub fn outbox_push(
    conn: &Connection,
    kind: &str,
    target: &str,
    body: &str,
    client_id: &str,
    now: i64,
) -> Result<OutboxEntry> {
    conn.prepare_cached(
        "INSERT INTO outbox (kind, target, body, client_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind, target, body, client_id, now])?;
    let local_id = conn.last_insert_rowid();
    outbox_get(conn, local_id)?.ok_or_else(|| Error::Storage("outbox entry vanished".into()))
}

const OUTBOX_COLUMNS: &str =
    "local_id, kind, target, body, client_id, created_at, state, error_code, error, attempts";

fn outbox_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        local_id: r.get(0)?,
        kind: r.get(1)?,
        target: r.get(2)?,
        body: r.get(3)?,
        client_id: r.get(4)?,
        created_at: r.get(5)?,
        state: r.get(6)?,
        error_code: r.get(7)?,
        error: r.get(8)?,
        attempts: r.get(9)?,
    })
}

pub fn outbox_get(conn: &Connection, local_id: i64) -> Result<Option<OutboxEntry>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE local_id = ?1"
        ))?
        .query_row([local_id], outbox_from_row)
        .optional()?)
}

/// Every entry, oldest first.
pub fn outbox_all(conn: &Connection) -> Result<Vec<OutboxEntry>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY local_id"
    ))?;
    let rows = stmt
        .query_map([], outbox_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The oldest pending entry.
pub fn outbox_next(conn: &Connection) -> Result<Option<OutboxEntry>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY local_id LIMIT 1"
        ))?
        .query_row([], outbox_from_row)
        .optional()?)
}

pub fn outbox_attempt(conn: &Connection, local_id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE outbox SET attempts = attempts + 1 WHERE local_id = ?1")?
        .execute([local_id])?;
    Ok(())
}

/// The server accepted a message: the pending entry goes, the server's message is stored.
pub fn outbox_delivered(
    conn: &mut Connection,
    local_id: i64,
    message: Option<&Message>,
) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM outbox WHERE local_id = ?1", [local_id])?;
    if let Some(message) = message {
        insert_message(&tx, message, false)?;
    }
    tx.commit()?;
    Ok(())
}

pub fn outbox_failed(conn: &Connection, local_id: i64, code: &str, error: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'failed', error_code = ?2, error = ?3 WHERE local_id = ?1",
    )?
    .execute(params![local_id, code, error])?;
    Ok(())
}

/// Puts a failed entry back in the queue (the user chose to retry it), at its old place.
pub fn outbox_retry(conn: &Connection, local_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET state = 'pending', error_code = NULL, error = NULL
             WHERE local_id = ?1 AND state = 'failed'",
        )?
        .execute([local_id])?
        > 0)
}

pub fn outbox_discard(conn: &Connection, local_id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM outbox WHERE local_id = ?1")?
        .execute([local_id])?
        > 0)
}

// ---- documents ----------------------------------------------------------------------------

pub fn doc_updates(conn: &Connection, doc: &str) -> Result<Vec<Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT data FROM doc_updates WHERE doc = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([doc], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?;
    Ok(rows)
}

pub fn doc_append(conn: &Connection, doc: &str, update: &[u8]) -> Result<()> {
    conn.prepare_cached("INSERT INTO doc_updates (doc, data) VALUES (?1, ?2)")?
        .execute(params![doc, update])?;
    Ok(())
}

/// The server id the replica of `doc` is bound to (None: not learnt yet).
pub fn doc_id(conn: &Connection, doc: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM doc_ids WHERE doc = ?1")?
        .query_row([doc], |r| r.get(0))
        .optional()?)
}

pub fn set_doc_id(conn: &Connection, doc: &str, id: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO doc_ids (doc, id) VALUES (?1, ?2)
         ON CONFLICT(doc) DO UPDATE SET id = excluded.id",
    )?
    .execute(params![doc, id])?;
    Ok(())
}

/// Drops everything cached for the replica of `doc` (its updates, comments and binding), and
/// fails the comments still queued for it with `code`: the document is gone, and nothing of it
/// may ever reach a document that takes its name later.
pub fn doc_forget(conn: &mut Connection, doc: &str, code: &str, reason: &str) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM doc_updates WHERE doc = ?1", [doc])?;
    tx.execute("DELETE FROM comments WHERE doc = ?1", [doc])?;
    tx.execute("DELETE FROM doc_ids WHERE doc = ?1", [doc])?;
    tx.execute(
        "UPDATE outbox SET state = 'failed', error_code = ?2, error = ?3
         WHERE kind = 'comment' AND target = ?1 AND state = 'pending'",
        params![doc, code, reason],
    )?;
    tx.commit()?;
    Ok(())
}

/// Moves the replica of a renamed document to its new name (anything cached under the new
/// name belonged to another document and goes).
pub fn doc_rename(conn: &mut Connection, old: &str, new: &str) -> Result<()> {
    let tx = conn.transaction()?;
    for table in ["doc_updates", "comments", "doc_ids"] {
        tx.execute(&format!("DELETE FROM {table} WHERE doc = ?1"), [new])?;
        tx.execute(
            &format!("UPDATE {table} SET doc = ?2 WHERE doc = ?1"),
            params![old, new],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Replaces a document's updates with one full state.
pub fn doc_compact(conn: &mut Connection, doc: &str, state: &[u8]) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM doc_updates WHERE doc = ?1", [doc])?;
    tx.execute(
        "INSERT INTO doc_updates (doc, data) VALUES (?1, ?2)",
        params![doc, state],
    )?;
    tx.commit()?;
    Ok(())
}

pub fn save_comment(conn: &Connection, doc: &str, id: i64, body: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO comments (doc, id, body) VALUES (?1, ?2, ?3)
         ON CONFLICT(doc, id) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![doc, id, body])?;
    Ok(())
}

pub fn delete_comment(conn: &Connection, doc: &str, id: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM comments WHERE doc = ?1 AND id = ?2")?
        .execute(params![doc, id])?;
    Ok(())
}

pub fn comments(conn: &Connection, doc: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT body FROM comments WHERE doc = ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([doc], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub fn upload_session(conn: &Connection, path: &str) -> Result<Option<(String, u64)>> {
    Ok(conn
        .prepare_cached("SELECT upload_id, size FROM uploads WHERE path = ?1")?
        .query_row([path], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .optional()?)
}

pub fn set_upload_session(
    conn: &Connection,
    path: &str,
    session: Option<(&str, u64)>,
) -> Result<()> {
    match session {
        Some((id, size)) => conn
            .prepare_cached(
                "INSERT INTO uploads (path, upload_id, size) VALUES (?1, ?2, ?3)
                 ON CONFLICT(path) DO UPDATE SET upload_id = excluded.upload_id, size = excluded.size",
            )?
            .execute(params![path, id, size as i64])?,
        None => conn
            .prepare_cached("DELETE FROM uploads WHERE path = ?1")?
            .execute([path])?,
    };
    Ok(())
}

//! Numbered schema migrations. Each runs once, in order, inside a transaction; the version is
//! kept in SQLite's `user_version`. Never edit a released migration: add the next one.

use rusqlite::Connection;

use crate::error::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 1: accounts, channels, membership, messages and the durable event log.
    r#"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name  TEXT,
        avatar        TEXT,
        password_hash TEXT NOT NULL,
        is_admin      INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id          INTEGER PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash  BLOB NOT NULL UNIQUE,
        label       TEXT,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    );
    CREATE INDEX tokens_user ON tokens(user_id);
    CREATE TABLE channels (
        -- AUTOINCREMENT: a deleted channel's id is never reused, so nothing keyed by it (hubs,
        -- cached heads, clients' caches) can be mistaken for a new channel's.
        id                     INTEGER PRIMARY KEY AUTOINCREMENT,
        name                   TEXT NOT NULL UNIQUE,
        kind                   TEXT NOT NULL,
        authentication         TEXT NOT NULL,
        presence               INTEGER NOT NULL,
        message_history        INTEGER,
        message_retention_secs INTEGER,
        user_specific          INTEGER NOT NULL DEFAULT 0,
        auto_subscribe         INTEGER NOT NULL DEFAULT 0,
        max_participants       INTEGER,
        topic                  TEXT,
        owner_id               INTEGER REFERENCES users(id) ON DELETE CASCADE,
        template_id            INTEGER REFERENCES channels(id) ON DELETE CASCADE,
        epoch                  TEXT NOT NULL,
        head_seq               INTEGER NOT NULL DEFAULT 0,
        pruned_through         INTEGER NOT NULL DEFAULT 0,
        created_by             INTEGER,
        created_at             INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX channels_instance ON channels(template_id, owner_id)
        WHERE template_id IS NOT NULL;
    CREATE TABLE members (
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role       TEXT NOT NULL,
        joined_at  INTEGER NOT NULL,
        PRIMARY KEY (channel_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members(user_id);
    CREATE TABLE messages (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        author_id   INTEGER NOT NULL REFERENCES users(id),
        client_id   TEXT NOT NULL,
        text        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        UNIQUE (channel_id, seq)
    );
    CREATE UNIQUE INDEX messages_author_client ON messages(author_id, client_id);
    CREATE TABLE events (
        channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        frame      TEXT NOT NULL,
        PRIMARY KEY (channel_id, seq)
    ) WITHOUT ROWID;
    "#,
    // 2: collaborative documents, their update logs, snapshots, named versions and comments.
    // Each document has a comments channel of its own (channels.doc_id), whose access follows
    // the channel the document belongs to (channels.parent_id), if any.
    r#"
    CREATE TABLE docs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL UNIQUE,
        title         TEXT,
        channel_id    INTEGER REFERENCES channels(id) ON DELETE CASCADE,
        default_role  TEXT NOT NULL,
        created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE INDEX docs_channel ON docs(channel_id);
    ALTER TABLE channels ADD COLUMN doc_id INTEGER REFERENCES docs(id) ON DELETE CASCADE;
    ALTER TABLE channels ADD COLUMN parent_id INTEGER REFERENCES channels(id) ON DELETE CASCADE;
    CREATE UNIQUE INDEX channels_doc ON channels(doc_id) WHERE doc_id IS NOT NULL;
    CREATE TABLE doc_roles (
        doc_id  INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role    TEXT NOT NULL,
        PRIMARY KEY (doc_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE doc_updates (
        id     INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        data   BLOB NOT NULL
    );
    CREATE INDEX doc_updates_doc ON doc_updates(doc_id, id);
    CREATE TABLE doc_snapshots (
        doc_id     INTEGER PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE,
        state      BLOB NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE doc_versions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id     INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        state      BLOB NOT NULL,
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX doc_versions_doc ON doc_versions(doc_id, id);
    CREATE TABLE comments (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_id       INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        parent_id    INTEGER REFERENCES comments(id) ON DELETE CASCADE,
        author_id    INTEGER NOT NULL REFERENCES users(id),
        anchor_start TEXT,
        anchor_end   TEXT,
        quote        TEXT,
        body         TEXT NOT NULL,
        resolved_by  INTEGER REFERENCES users(id),
        resolved_at  INTEGER,
        created_at   INTEGER NOT NULL,
        edited_at    INTEGER
    );
    CREATE INDEX comments_doc ON comments(doc_id, id);
    CREATE TABLE comment_mentions (
        comment_id INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (comment_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX comment_mentions_user ON comment_mentions(user_id);
    "#,
    // 3: comments carry the client's id, so a client resending a comment (offline outbox)
    // gets the original back instead of a duplicate.
    r#"
    ALTER TABLE comments ADD COLUMN client_id TEXT;
    CREATE UNIQUE INDEX comments_client ON comments(author_id, client_id)
        WHERE client_id IS NOT NULL;
    "#,
    // 4: message edits (with history), deletes (content removed), reactions.
    r#"
    ALTER TABLE messages ADD COLUMN edited_at INTEGER;
    ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
    CREATE TABLE message_edits (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        -- The seq of the message_edited event, so a delete can redact its stored frame.
        event_seq  INTEGER NOT NULL,
        old_text   TEXT NOT NULL,
        edited_at  INTEGER NOT NULL
    );
    CREATE INDEX message_edits_message ON message_edits(message_id);
    CREATE TABLE reactions (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        emoji      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, emoji, user_id)
    ) WITHOUT ROWID;
    "#,
    // 5: server-side full-text search over messages (edits and deletes keep it current).
    r#"
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61'
    );
    INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE deleted_at IS NULL;
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    "#,
    // 6: read positions, mutes and mentions.
    r#"
    CREATE TABLE read_state (
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        last_read   INTEGER NOT NULL DEFAULT 0,
        muted_until INTEGER,
        PRIMARY KEY (user_id, channel_id)
    ) WITHOUT ROWID;
    CREATE TABLE mentions (
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        channel_id INTEGER NOT NULL,
        seq        INTEGER NOT NULL,
        PRIMARY KEY (user_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX mentions_unread ON mentions(user_id, channel_id, seq);
    CREATE INDEX mentions_message ON mentions(message_id);
    "#,
    // 7: threads. A thread's replies live in a channel of their own (channels.thread_root),
    // whose access follows its parent channel; the summary is kept on the root.
    r#"
    -- No foreign keys to messages: retention may prune a root message, its thread stays.
    ALTER TABLE channels ADD COLUMN thread_root INTEGER;
    CREATE UNIQUE INDEX channels_thread ON channels(thread_root) WHERE thread_root IS NOT NULL;
    CREATE TABLE threads (
        root_id       INTEGER PRIMARY KEY,
        channel_id    INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        reply_count   INTEGER NOT NULL DEFAULT 0,
        last_reply_at INTEGER,
        participants  TEXT NOT NULL DEFAULT '[]'
    );
    "#,
    // 8: the search index is filled in batches behind the writes (indexing every message in
    // the send's own transaction cost a third of the durable send rate). Edits and deletes of
    // rows already indexed keep it current; `search_state` says how far it goes.
    r#"
    DROP TRIGGER messages_fts_insert;
    DROP TRIGGER messages_fts_update;
    DROP TRIGGER messages_fts_delete;
    CREATE TABLE search_state (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_through INTEGER NOT NULL
    );
    INSERT INTO search_state (id, indexed_through)
        VALUES (1, (SELECT coalesce(max(id), 0) FROM messages));
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
        WHEN old.id <= (SELECT indexed_through FROM search_state) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.id <= (SELECT indexed_through FROM search_state) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    "#,
    // 9: where each mention's event is stored, so deleting the message redacts it there too.
    r#"
    ALTER TABLE mentions ADD COLUMN event_channel_id INTEGER;
    ALTER TABLE mentions ADD COLUMN event_seq INTEGER;
    "#,
    // 10: attachments: content-addressed files (attachments/<sha256>) with their metadata.
    r#"
    CREATE TABLE attachments (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        mime        TEXT NOT NULL,
        name        TEXT NOT NULL,
        width       INTEGER,
        height      INTEGER,
        uploader_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX attachments_uploader ON attachments(uploader_id);
    CREATE INDEX attachments_sha ON attachments(sha256);
    CREATE TABLE message_attachments (
        message_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        attachment_id INTEGER NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
        PRIMARY KEY (message_id, attachment_id)
    ) WITHOUT ROWID;
    CREATE INDEX message_attachments_attachment ON message_attachments(attachment_id);
    "#,
    // 11: image thumbnails (content-addressed like the files).
    r#"
    ALTER TABLE attachments ADD COLUMN thumbnail_sha256 TEXT;
    "#,
    // 12: per-channel options that most channels leave off.
    r#"
    CREATE TABLE channel_options (
        channel_id    INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
        read_receipts INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 13: the key look-alike user names share (display_names::name_key), so a display name that
    // passes for another user's name is found by index. Computed in Rust: the server fills it
    // in for existing users at start, and every new user gets it when inserted.
    r#"
    ALTER TABLE users ADD COLUMN name_key TEXT;
    CREATE INDEX users_name_key ON users(name_key);
    "#,
];

pub fn run(conn: &mut Connection) -> Result<()> {
    // IMMEDIATE takes the write lock before reading the version, so two processes opening a
    // fresh data directory at once (a server and an admin command) cannot both migrate.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    if current > MIGRATIONS.len() {
        return Err(Error::internal(format_args!(
            "the database is at schema version {current}, newer than this server ({}); \
             upgrade parley-server",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tracing::info!(version = index + 1, "applied migration");
    }
    tx.commit()?;
    Ok(())
}

//! Numbered schema migrations. Each runs once, in order, inside a transaction; the version is
//! kept in SQLite's `user_version`. Never edit a released migration: add the next one.

use rusqlite::Connection;

use crate::error::{Error, Result};

pub(super) const MIGRATIONS: &[&str] = &[
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
    // 13: stored frames stop carrying text that was edited away or deleted (store/redact.rs).
    // `comment_events` says where each comment's events are, so that editing or deleting it
    // rewrites them. Frames stored before this migration are brought in line here: those of
    // deleted comments lose body, quote and mentions; those of edited comments and messages
    // that carry replaced text lose it; `mention` frames of edited messages get the current
    // text.
    r#"
    CREATE TABLE comment_events (
        comment_id   INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
        channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        carries_body INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (channel_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX comment_events_comment ON comment_events(comment_id);
    UPDATE events
       SET frame = json_set(frame, '$.comment.body', '', '$.comment.quote', NULL,
                            '$.comment.mentions', json('[]'))
     WHERE channel_id IN (SELECT id FROM channels WHERE doc_id IS NOT NULL)
       AND json_extract(frame, '$.comment.id') IS NOT NULL
       AND json_extract(frame, '$.comment.id') NOT IN (SELECT id FROM comments);
    INSERT INTO comment_events (comment_id, channel_id, seq)
        SELECT c.id, e.channel_id, e.seq FROM events e
          JOIN comments c ON c.id = json_extract(e.frame, '$.comment.id')
         WHERE e.channel_id IN (SELECT id FROM channels WHERE doc_id IS NOT NULL);
    UPDATE comment_events SET carries_body = 0
     WHERE EXISTS (SELECT 1 FROM events e JOIN comments c ON c.id = comment_events.comment_id
                    WHERE e.channel_id = comment_events.channel_id
                      AND e.seq = comment_events.seq
                      AND json_extract(e.frame, '$.comment.body') IS NOT c.body);
    UPDATE events
       SET frame = json_set(frame, '$.comment.body', '', '$.comment.mentions', json('[]'))
     WHERE (channel_id, seq) IN
           (SELECT channel_id, seq FROM comment_events WHERE carries_body = 0);
    UPDATE events
       SET frame = json_set(frame, '$.message.text', '')
     WHERE (channel_id, seq) IN (
           SELECT m.channel_id, m.seq FROM messages m
            WHERE m.deleted_at IS NULL
              AND EXISTS (SELECT 1 FROM message_edits x WHERE x.message_id = m.id)
           UNION ALL
           SELECT m.channel_id, x.event_seq FROM message_edits x
             JOIN messages m ON m.id = x.message_id
            WHERE m.deleted_at IS NULL
              AND x.event_seq < (SELECT max(y.event_seq) FROM message_edits y
                                  WHERE y.message_id = x.message_id));
    UPDATE events
       SET frame = json_set(events.frame, '$.message.text', m.text, '$.message.edited_at',
                            strftime('%Y-%m-%dT%H:%M:%fZ', m.edited_at / 1000.0, 'unixepoch'))
      FROM mentions n JOIN messages m ON m.id = n.message_id
     WHERE events.channel_id = n.event_channel_id AND events.seq = n.event_seq
       AND m.edited_at IS NOT NULL AND m.deleted_at IS NULL;
    "#,
    // 14: the key look-alike user names share (display_names::name_key), so a display name that
    // passes for another user's name is found by index. Computed in Rust (at start, and per insert).
    r#"
    ALTER TABLE users ADD COLUMN name_key TEXT;
    CREATE INDEX users_name_key ON users(name_key);
    "#,
    super::tokens::MIGRATION, // 15: bots, token scopes, expiry and last use (tokens.rs)
    super::people::MIGRATION, // 16: account states, invites, reset codes, avatars (people.rs)
    super::custom_events::MIGRATION, // 17: publish policies, custom events' client ids
    super::webhooks::MIGRATION, // 18: webhook endpoints, outbox and deliveries
];

/// Brings the database to the current schema. A database created here (schema version 0)
/// starts with `first_channel`, made in the same transaction, so it exists exactly once per
/// workspace: opening it again, or upgrading an older workspace, never makes it.
pub fn run(conn: &mut Connection, first_channel: Option<&str>) -> Result<()> {
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
    if current == 0 {
        if let Some(name) = first_channel {
            super::channels::insert(&tx, &super::channels::first_channel(name), None, None)?;
            tracing::info!(channel = name, "created the workspace's first channel");
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test: a panic is how it fails
mod tests {
    use super::*;

    fn frame(conn: &Connection, channel: i64, seq: i64, path: &str) -> Option<String> {
        conn.query_row(
            "SELECT json_extract(frame, ?3) FROM events WHERE channel_id = ?1 AND seq = ?2",
            rusqlite::params![channel, seq, path],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn channels_named(conn: &Connection, name: &str) -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM channels WHERE name = ?1 AND auto_subscribe = 1 AND kind = 'public'",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// The first channel is made with a new database, in its first migration run, and never
    /// again: not when the database is opened later, not when an older one is upgraded.
    #[test]
    fn only_a_new_database_gets_the_first_channel() {
        let mut conn = Connection::open_in_memory().unwrap();
        run(&mut conn, Some("general")).unwrap();
        assert_eq!(channels_named(&conn, "general"), 1);
        run(&mut conn, Some("lobby")).unwrap();
        assert_eq!(channels_named(&conn, "lobby"), 0);

        let mut older = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..12] {
            older.execute_batch(sql).unwrap();
        }
        older.pragma_update(None, "user_version", 12).unwrap();
        run(&mut older, Some("general")).unwrap();
        assert_eq!(channels_named(&older, "general"), 0);

        let mut none = Connection::open_in_memory().unwrap();
        run(&mut none, None).unwrap();
        let count: i64 = none
            .query_row("SELECT COUNT(*) FROM channels", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }

    /// Migration 13 brings frames stored before it in line with the rewrites that edits and
    /// deletes now make (store/redact.rs).
    #[test]
    fn migration_13_redacts_frames_stored_before_it() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..12] {
            conn.execute_batch(sql).unwrap();
        }
        let comment = |id: i64, body: &str, quote: &str| {
            format!(
                r#"{{"id":{id},"doc":"plan","parent":null,"anchor":null,"quote":"{quote}","author":{{"id":1,"name":"alice","display_name":null,"avatar":null}},"body":"{body}","mentions":[],"resolved":false,"resolved_by":null,"created_at":"x","edited_at":null}}"#
            )
        };
        let message = |text: &str| {
            format!(r#"{{"id":100,"channel":"team","seq":1,"text":"{text}","edited_at":null}}"#)
        };
        let event = |channel: &str, seq: i64, kind: &str, field: &str, value: &str| {
            format!(
                r#"{{"type":"event","channel":"{channel}","seq":{seq},"kind":"{kind}","{field}":{value}}}"#
            )
        };
        conn.execute_batch(
            "INSERT INTO users (id, name, password_hash, created_at) VALUES (1, 'alice', 'x', 0);
             INSERT INTO channels (id, name, kind, authentication, presence, epoch, created_at)
                 VALUES (1, 'team', 'public', 'required', 0, 'e', 0),
                        (3, '@me#1', 'private', 'required', 0, 'e', 0);
             INSERT INTO docs (id, name, default_role, created_by, created_at)
                 VALUES (1, 'plan', 'editor', 1, 0);
             INSERT INTO channels (id, name, kind, authentication, presence, epoch, created_at,
                     doc_id)
                 VALUES (2, 'doc#1', 'public', 'required', 0, 'e', 0, 1);
             INSERT INTO comments (id, doc_id, author_id, body, created_at, edited_at, quote)
                 VALUES (10, 1, 1, 'now', 0, 5, 'kept');
             INSERT INTO messages (id, channel_id, seq, author_id, client_id, text, created_at,
                     edited_at)
                 VALUES (100, 1, 1, 1, 'c', 'final', 0, 2000);
             INSERT INTO message_edits (message_id, event_seq, old_text, edited_at)
                 VALUES (100, 2, 'old', 1000), (100, 3, 'middle', 2000);
             INSERT INTO mentions (user_id, message_id, channel_id, seq, event_channel_id,
                     event_seq)
                 VALUES (1, 100, 1, 1, 3, 1);",
        )
        .unwrap();
        let events = [
            (
                2,
                1,
                event(
                    "doc#1",
                    1,
                    "comment_created",
                    "comment",
                    &comment(10, "before", "kept"),
                ),
            ),
            (
                2,
                2,
                event(
                    "doc#1",
                    2,
                    "comment_edited",
                    "comment",
                    &comment(10, "now", "kept"),
                ),
            ),
            (
                2,
                3,
                event(
                    "doc#1",
                    3,
                    "comment_created",
                    "comment",
                    &comment(11, "gone", "q"),
                ),
            ),
            (
                2,
                4,
                event("doc#1", 4, "comment_deleted", "comment_id", "11"),
            ),
            (
                1,
                1,
                event("team", 1, "message", "message", &message("old")),
            ),
            (
                1,
                2,
                event("team", 2, "message_edited", "message", &message("middle")),
            ),
            (
                1,
                3,
                event("team", 3, "message_edited", "message", &message("final")),
            ),
            (
                3,
                1,
                event("@me#1", 1, "mention", "message", &message("old")),
            ),
        ];
        for (channel, seq, frame) in &events {
            conn.execute(
                "INSERT INTO events (channel_id, seq, created_at, frame) VALUES (?1, ?2, 0, ?3)",
                rusqlite::params![channel, seq, frame],
            )
            .unwrap();
        }
        conn.execute_batch(MIGRATIONS[12]).unwrap();

        // Comments: the replaced body and the deleted comment are gone; the current body stays.
        assert_eq!(frame(&conn, 2, 1, "$.comment.body").as_deref(), Some(""));
        assert_eq!(
            frame(&conn, 2, 1, "$.comment.quote").as_deref(),
            Some("kept")
        );
        assert_eq!(frame(&conn, 2, 2, "$.comment.body").as_deref(), Some("now"));
        assert_eq!(frame(&conn, 2, 3, "$.comment.body").as_deref(), Some(""));
        assert_eq!(frame(&conn, 2, 3, "$.comment.quote"), None);
        let tracked: Vec<(i64, i64, bool)> = conn
            .prepare("SELECT comment_id, seq, carries_body FROM comment_events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(tracked, [(10, 1, false), (10, 2, true)]);
        // Messages: only the last edit carries text; the mention carries the current text.
        assert_eq!(frame(&conn, 1, 1, "$.message.text").as_deref(), Some(""));
        assert_eq!(frame(&conn, 1, 2, "$.message.text").as_deref(), Some(""));
        assert_eq!(
            frame(&conn, 1, 3, "$.message.text").as_deref(),
            Some("final")
        );
        assert_eq!(
            frame(&conn, 3, 1, "$.message.text").as_deref(),
            Some("final")
        );
        assert_eq!(
            frame(&conn, 3, 1, "$.message.edited_at").as_deref(),
            Some("1970-01-01T00:00:02.000Z")
        );
        // Frames keep their shape (the rewrite edits them in place).
        let whole: String = conn
            .query_row(
                "SELECT frame FROM events WHERE channel_id = 1 AND seq = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            whole.starts_with(r#"{"type":"event","channel":"team","seq":1"#),
            "{whole}"
        );
    }
}

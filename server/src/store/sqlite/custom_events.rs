//! Custom events (SQLite): who may publish them in a channel (`channels.publish`), and the
//! `client_id`s of durable ones, so a repeated publish is answered with the first one's seq.
//! The events themselves are ordinary rows of the channel's log (`events`); retention
//! forgets their client ids with them (`events::prune`).

use rusqlite::{params, OptionalExtension};

use super::{events::append_event, SqliteStore};
use crate::store::{now_ms, CustomEvent, CustomStored};

/// The schema of this file: the publish policy of each channel, and the durable custom events
/// by publisher and `client_id` (gone with their event when retention removes it).
pub const MIGRATION: &str = r#"
    ALTER TABLE channels ADD COLUMN publish TEXT NOT NULL DEFAULT 'members';
    CREATE TABLE published (
        publisher_id INTEGER NOT NULL,
        client_id    TEXT NOT NULL,
        channel_id   INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        PRIMARY KEY (publisher_id, client_id)
    ) WITHOUT ROWID;
    CREATE INDEX published_by_event ON published(channel_id, seq);
"#;

impl SqliteStore {
    pub(super) fn append_custom_event(
        &self,
        new: CustomEvent,
    ) -> crate::store::StoreFuture<'_, CustomStored> {
        Box::pin(self.write(move |tx, state| {
            if let Some(client_id) = &new.client_id {
                let seen: Option<i64> = tx
                    .prepare_cached(
                        "SELECT seq FROM published WHERE publisher_id = ?1 AND client_id = ?2",
                    )?
                    .query_row(params![new.publisher_id, client_id], |r| r.get(0))
                    .optional()?;
                if let Some(seq) = seen {
                    let stored = CustomStored {
                        seq: seq as u64,
                        duplicate: true,
                    };
                    return Ok((stored, Vec::new()));
                }
            }
            // No author: a custom event does not end its publisher's typing indicator.
            let published = append_event(
                tx,
                state,
                new.channel_id,
                &new.channel_name,
                new.event,
                now_ms(),
                None,
            )?;
            if let Some(client_id) = &new.client_id {
                tx.prepare_cached(
                    "INSERT INTO published (publisher_id, client_id, channel_id, seq)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    new.publisher_id,
                    client_id,
                    new.channel_id,
                    published.seq as i64
                ])?;
            }
            let stored = CustomStored {
                seq: published.seq,
                duplicate: false,
            };
            Ok((stored, vec![published]))
        }))
    }
}

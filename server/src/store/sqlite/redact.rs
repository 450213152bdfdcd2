//! Rewriting stored event frames (SQLite), by the rules in `store/frames.rs`, always inside the
//! transaction of the edit or delete that calls for them. (Message deletes are in
//! `messages::delete_message`.)

use parley_protocol::{Event, Message};
use rusqlite::{params, Connection, OptionalExtension};

use crate::{error::Result, store::frames};

/// Rewrites the stored frame at (`channel_id`, `seq`) with `change` applied to its event. A
/// frame that retention removed is skipped.
fn rewrite(
    tx: &Connection,
    channel_id: i64,
    seq: i64,
    change: impl FnOnce(&mut Event),
) -> Result<()> {
    let stored: Option<String> = tx
        .prepare_cached("SELECT frame FROM events WHERE channel_id = ?1 AND seq = ?2")?
        .query_row(params![channel_id, seq], |r| r.get(0))
        .optional()?;
    let Some(stored) = stored else {
        return Ok(());
    };
    let text = frames::rewrite(&stored, change)?;
    tx.prepare_cached("UPDATE events SET frame = ?3 WHERE channel_id = ?1 AND seq = ?2")?
        .execute(params![channel_id, seq, text])?;
    Ok(())
}

/// After an edit of `message` (as it is now, edited at `edited_at`): the frame at
/// `previous_seq`, which carried the previous text, carries none; the mention frames carry the
/// message as it is now.
pub fn message_edited(
    tx: &Connection,
    channel_id: i64,
    previous_seq: i64,
    message: &Message,
) -> Result<()> {
    rewrite(tx, channel_id, previous_seq, |event| {
        frames::text_superseded(event, message)
    })?;
    let mention_frames: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT event_channel_id, event_seq FROM mentions
             WHERE message_id = ?1 AND event_seq IS NOT NULL",
        )?
        .query_map([message.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (event_channel, event_seq) in mention_frames {
        rewrite(tx, event_channel, event_seq, |event| {
            frames::mention_edited(event, message)
        })?;
    }
    Ok(())
}

/// Where the frame that carries a message's current text is: its last edit's event, or the
/// message's own event when it was never edited.
pub fn message_text_frame(tx: &Connection, message_id: i64, message_seq: u64) -> Result<i64> {
    let last_edit: Option<i64> = tx
        .prepare_cached("SELECT max(event_seq) FROM message_edits WHERE message_id = ?1")?
        .query_row([message_id], |r| r.get(0))?;
    Ok(last_edit.unwrap_or(message_seq as i64))
}

/// Records that the frame at (`channel_id`, `seq`) carries comment `comment_id`.
pub fn comment_event(tx: &Connection, comment_id: i64, channel_id: i64, seq: u64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO comment_events (comment_id, channel_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![comment_id, channel_id, seq as i64])?;
    Ok(())
}

fn frames_of(tx: &Connection, comment_id: i64, carrying_body: bool) -> Result<Vec<(i64, i64)>> {
    Ok(tx
        .prepare_cached(
            "SELECT channel_id, seq FROM comment_events
             WHERE comment_id = ?1 AND (carries_body = 1 OR ?2 = 0)",
        )?
        .query_map(params![comment_id, carrying_body], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Before an edit of comment `comment_id` (at `edited_at`, RFC 3339): the frames that carry its
/// body carry none from now on.
pub fn comment_edited(tx: &Connection, comment_id: i64, edited_at: &str) -> Result<()> {
    for (channel_id, seq) in frames_of(tx, comment_id, true)? {
        rewrite(tx, channel_id, seq, |event| {
            frames::comment_body_replaced(event, edited_at)
        })?;
    }
    tx.prepare_cached("UPDATE comment_events SET carries_body = 0 WHERE comment_id = ?1")?
        .execute([comment_id])?;
    Ok(())
}

/// Before comment `comment_id` is deleted: the frames of it and of its replies carry no body,
/// quote or mentions. (Deleting the comments then removes their `comment_events` rows.)
pub fn comment_deleted(tx: &Connection, comment_id: i64) -> Result<()> {
    let mut ids = vec![comment_id];
    ids.extend(
        tx.prepare_cached("SELECT id FROM comments WHERE parent_id = ?1")?
            .query_map([comment_id], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    );
    for id in ids {
        for (channel_id, seq) in frames_of(tx, id, false)? {
            rewrite(tx, channel_id, seq, frames::comment_removed)?;
        }
    }
    Ok(())
}

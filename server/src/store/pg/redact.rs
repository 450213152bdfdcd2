//! Rewriting stored event frames (PostgreSQL), by the rules in `store/frames.rs`, always inside
//! the transaction of the edit or delete that calls for them. The JSON is rewritten in Rust:
//! a frame keeps its exact shape (a `jsonb` round trip would reorder its keys). (Message
//! deletes are in `messages::delete_message`.)

use parley_protocol::{Event, Message};
use postgres::Transaction;

use crate::{error::Result, store::frames};

/// Rewrites the stored frame at (`channel_id`, `seq`) with `change` applied to its event. A
/// frame that retention removed is skipped.
pub fn rewrite(
    tx: &mut Transaction<'_>,
    channel_id: i64,
    seq: i64,
    change: impl FnOnce(&mut Event),
) -> Result<()> {
    let stored = tx.query_opt(
        "SELECT frame FROM events WHERE channel_id = $1 AND seq = $2",
        &[&channel_id, &seq],
    )?;
    let Some(stored) = stored else {
        return Ok(());
    };
    let text = frames::rewrite(stored.get(0), change)?;
    set_frame(tx, channel_id, seq, &text)
}

/// Replaces the stored frame at (`channel_id`, `seq`), if retention left it.
pub fn set_frame(tx: &mut Transaction<'_>, channel_id: i64, seq: i64, frame: &str) -> Result<()> {
    tx.execute(
        "UPDATE events SET frame = $3 WHERE channel_id = $1 AND seq = $2",
        &[&channel_id, &seq, &frame],
    )?;
    Ok(())
}

/// After an edit of `message` (as it is now, edited at `edited_at`): the frame at
/// `previous_seq`, which carried the previous text, carries none; the mention frames carry the
/// message as it is now.
pub fn message_edited(
    tx: &mut Transaction<'_>,
    channel_id: i64,
    previous_seq: i64,
    message: &Message,
) -> Result<()> {
    rewrite(tx, channel_id, previous_seq, |event| {
        frames::text_superseded(event, message)
    })?;
    let mention_frames: Vec<(i64, i64)> = tx
        .query(
            "SELECT event_channel_id, event_seq FROM mentions
             WHERE message_id = $1 AND event_seq IS NOT NULL",
            &[&message.id],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (event_channel, event_seq) in mention_frames {
        rewrite(tx, event_channel, event_seq, |event| {
            frames::mention_edited(event, message)
        })?;
    }
    Ok(())
}

/// Where the frame that carries a message's current text is: its last edit's event, or the
/// message's own event when it was never edited.
pub fn message_text_frame(
    tx: &mut Transaction<'_>,
    message_id: i64,
    message_seq: u64,
) -> Result<i64> {
    let last_edit: Option<i64> = tx
        .query_one(
            "SELECT max(event_seq) FROM message_edits WHERE message_id = $1",
            &[&message_id],
        )?
        .get(0);
    Ok(last_edit.unwrap_or(message_seq as i64))
}

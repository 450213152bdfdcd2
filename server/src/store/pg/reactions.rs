//! Reactions (PostgreSQL): one row per (message, emoji, user).

use parley_protocol::{Event, ReactionChange, UserRef};
use postgres::Transaction;

use super::{
    events::append_event, message_rows::message_in, messages::lock_message, PgStore, WriterState,
};
use crate::{
    error::Result,
    store::{now_ms, refusals, Published, ReactionStore, ReactionUpdate, StoreFuture},
};

/// One user's reaction to add or remove.
pub struct Reacting<'a> {
    pub channel_id: i64,
    pub message_id: i64,
    pub user: &'a UserRef,
    pub emoji: &'a str,
    pub add: bool,
    pub now: i64,
}

/// Adds or removes one user's reaction; no event when nothing changed (already there / not
/// there).
pub fn react(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    reacting: Reacting<'_>,
) -> Result<(ReactionChange, Option<Published>)> {
    let Reacting {
        channel_id,
        message_id,
        user,
        emoji,
        add,
        now,
    } = reacting;
    // The message's row first: reactions through several nodes count one after the other
    // (each event's count is right), and none lands on a message being deleted.
    lock_message(tx, message_id)?;
    let message = message_in(tx, channel_id, message_id)?
        .filter(|m| !m.deleted)
        .ok_or_else(|| refusals::message_not_found(message_id))?;
    let changed = if add {
        tx.execute(
            "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&message_id, &user.id, &emoji, &now],
        )?
    } else {
        tx.execute(
            "DELETE FROM reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3",
            &[&message_id, &user.id, &emoji],
        )?
    } > 0;
    let count: i64 = tx
        .query_one(
            "SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = $2",
            &[&message_id, &emoji],
        )?
        .get(0);
    let change = ReactionChange {
        channel: message.channel.clone(),
        message_id,
        emoji: emoji.to_owned(),
        user: user.clone(),
        added: add,
        count: count.max(0) as u64,
    };
    if !changed {
        return Ok((change, None));
    }
    let published = append_event(
        tx,
        state,
        channel_id,
        &message.channel,
        Event::Reaction {
            reaction: change.clone(),
        },
        now,
        Some(user.id),
    )?;
    Ok((change, Some(published)))
}

impl ReactionStore for PgStore {
    fn react(&self, update: ReactionUpdate) -> StoreFuture<'_, ReactionChange> {
        Box::pin(self.write(move |tx, state| {
            let (change, published) = react(
                tx,
                state,
                Reacting {
                    channel_id: update.channel_id,
                    message_id: update.message_id,
                    user: &update.user,
                    emoji: &update.emoji,
                    add: update.add,
                    now: now_ms(),
                },
            )?;
            Ok((change, published.into_iter().collect()))
        }))
    }
}

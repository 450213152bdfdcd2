//! Custom events (PostgreSQL): the `client_id`s of durable ones, so a repeated publish is
//! answered with the first one's seq. The events themselves are ordinary rows of the channel's
//! log (`events`); retention forgets their client ids with them (`events::prune`).

use postgres::{GenericClient, Transaction};

use super::{events::store_event, PgStore, WriterState};
use crate::{
    error::{Error, Result},
    store::{now_ms, CustomEvent, CustomStored, Published, StoreFuture},
};

/// The seq a publisher's earlier event with this `client_id` got, if any.
fn published_seq(
    client: &mut impl GenericClient,
    publisher_id: i64,
    client_id: &str,
) -> Result<Option<u64>> {
    Ok(client
        .query_opt(
            "SELECT seq FROM published WHERE publisher_id = $1 AND client_id = $2",
            &[&publisher_id, &client_id],
        )?
        .map(|r| r.get::<_, i64>(0) as u64))
}

fn duplicate(seq: u64) -> (CustomStored, Vec<Published>) {
    let stored = CustomStored {
        seq,
        duplicate: true,
    };
    (stored, Vec::new())
}

fn append_custom(
    tx: &mut Transaction<'_>,
    state: &mut WriterState,
    new: CustomEvent,
) -> Result<(CustomStored, Vec<Published>)> {
    if let Some(client_id) = &new.client_id {
        if let Some(seq) = published_seq(tx, new.publisher_id, client_id)? {
            return Ok(duplicate(seq));
        }
    }
    // The seq is taken first (the channel's row stays locked until the batch commits). A
    // publish of the same client id on another node, not committed when we looked, makes the
    // insert below wait for it and insert nothing: the seq goes back (no one else can have
    // taken it, the row is ours) and the answer is the first one's.
    let seq = state.next_seq(tx, new.channel_id)?;
    if let Some(client_id) = &new.client_id {
        let inserted = tx.query_opt(
            "INSERT INTO published (publisher_id, client_id, channel_id, seq)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING seq",
            &[&new.publisher_id, client_id, &new.channel_id, &(seq as i64)],
        )?;
        if inserted.is_none() {
            state.give_back_seq(tx, new.channel_id)?;
            let first = published_seq(tx, new.publisher_id, client_id)?
                .ok_or_else(|| Error::internal("a published client id vanished"))?;
            return Ok(duplicate(first));
        }
    }
    // No author: a custom event does not end its publisher's typing indicator.
    let published = store_event(
        tx,
        state,
        new.channel_id,
        &new.channel_name,
        seq,
        new.event,
        now_ms(),
        None,
    )?;
    let stored = CustomStored {
        seq: published.seq,
        duplicate: false,
    };
    Ok((stored, vec![published]))
}

impl PgStore {
    pub(super) fn append_custom_event(&self, new: CustomEvent) -> StoreFuture<'_, CustomStored> {
        Box::pin(self.write(move |tx, state| append_custom(tx, state, new)))
    }
}

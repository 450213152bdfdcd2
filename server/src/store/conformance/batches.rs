//! The writers' batches, for the stores whose writer group-commits (SQLite, PostgreSQL): called
//! from each writer's own tests (`sqlite/writer/tests.rs`, `pg/writer/tests.rs`), which can hold
//! their writer so that the sends queued meanwhile commit as one batch.

use std::{future::Future, time::Duration};

use super::{post, Harness};

/// How long the writers' tests wait for anything.
pub const WAIT: Duration = Duration::from_secs(30);

/// `future`'s output, or a panic naming `what` after [`WAIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A send that fails after writing its message row (an attachment that does not exist breaks a
/// foreign key) fails alone: the sends around it in the same batch commit with consecutive
/// seqs, and only their events are published. `hold` keeps the writer busy in a write of its
/// own until `release` lets it go.
pub async fn a_failed_send_among_queued_sends_keeps_the_seqs_gapless<Held, Hold, Release>(
    h: &Harness,
    hold: impl FnOnce() -> Hold,
    release: impl FnOnce(Held) -> Release,
) where
    Hold: Future<Output = Held>,
    Release: Future<Output = ()>,
{
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    h.published();
    let held = hold().await;
    let mut queued = Vec::new();
    for i in 0..6 {
        let mut send = post(&team, &alice, &format!("m{i}"), &format!("c{i}"));
        if i == 2 || i == 3 {
            send.attachments = vec![424_242];
        }
        queued.push(h.stores.messages.submit_message(send).await.unwrap());
    }
    release(held).await;
    let mut seqs = Vec::new();
    for (i, done) in queued.into_iter().enumerate() {
        match within("a send", done).await {
            Ok(outcome) => seqs.push((i, outcome.message.seq)),
            Err(_) => assert!(i == 2 || i == 3, "send {i} failed"),
        }
    }
    assert_eq!(seqs, [(0, 2), (1, 3), (4, 4), (5, 5)]);
    let published: Vec<u64> = h
        .published()
        .iter()
        .map(|p| super::event_of(&p.frame).0)
        .collect();
    assert_eq!(published, [2, 3, 4, 5]);
    let history = h.stores.messages.history(team.id, None, 10).await.unwrap();
    let texts: Vec<&str> = history.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["m5", "m4", "m1", "m0"]);
    // The writer's next seq agrees with the database.
    let later = post(&team, &alice, "later", "c-later");
    let next = h.post(later).await;
    assert_eq!(next.message.seq, 6);
}

//! The writer's batches on PostgreSQL: repeatable writes commit without savepoints, and a
//! failed one still rolls back alone (the SQLite writer's tests, `sqlite/writer/tests.rs`, on a
//! cluster of its own).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use parley_protocol::ErrorCode;

use crate::{
    error::Error,
    store::{
        conformance::{
            batches::{self, within, WAIT},
            Harness,
        },
        pg::PgStore,
        Committed,
    },
};

struct Fixture {
    store: PgStore,
    _harness: Harness,
}

async fn open() -> Fixture {
    let (harness, store) = Harness::postgres_and_store().await;
    Fixture {
        store,
        _harness: harness,
    }
}

/// Keeps the writer inside a write of its own until released, so that the writes queued
/// meanwhile are taken as one batch.
async fn hold_writer(store: &PgStore) -> (std::sync::mpsc::Sender<()>, Committed<()>) {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (entered, inside) = tokio::sync::oneshot::channel();
    let held = store
        .submit(move |_, _| {
            let _ = entered.send(());
            let _ = wait.recv_timeout(WAIT);
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    within("the writer to take the holding write", inside)
        .await
        .unwrap();
    (release, held)
}

async fn release(hold: (std::sync::mpsc::Sender<()>, Committed<()>)) {
    hold.0.send(()).unwrap();
    within("the holding write", hold.1).await.unwrap();
}

#[tokio::test]
async fn a_failed_repeatable_write_rolls_back_alone() {
    let f = open().await;
    f.store
        .write(|tx, _| {
            tx.batch_execute("CREATE TABLE t (x BIGINT NOT NULL)")?;
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    let counts: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::default()).collect();
    let hold = hold_writer(&f.store).await;
    let mut queued = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let (x, count) = (i as i64 + 1, Arc::clone(count));
        let write = move |tx: &mut postgres::Transaction<'_>, _: &mut super::WriterState| {
            count.fetch_add(1, Ordering::SeqCst);
            tx.execute("INSERT INTO t (x) VALUES ($1)", &[&x])?;
            if x == 2 {
                return Err(Error::new(ErrorCode::MessageTooLong, "write 2 refused"));
            }
            Ok((x, Vec::new()))
        };
        queued.push(f.store.submit_repeatable(write).await.unwrap());
    }
    release(hold).await;
    let mut outcomes = Vec::new();
    for done in queued {
        outcomes.push(within("a write", done).await.map_err(|e| e.to_string()));
    }
    assert_eq!(outcomes[0], Ok(1));
    assert!(outcomes[1]
        .as_ref()
        .unwrap_err()
        .contains("write 2 refused"));
    assert_eq!(outcomes[2], Ok(3));
    let rows: Vec<i64> = f
        .store
        .read(|client| {
            let rows = client.query("SELECT x FROM t ORDER BY x", &[])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
        .unwrap();
    assert_eq!(rows, [1, 3], "the failed write's row is gone");
    let runs: Vec<usize> = counts.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    assert_eq!(runs, [2, 2, 1], "without savepoints first, then with them");
}

#[tokio::test]
async fn a_failed_send_among_queued_sends_keeps_the_channel_s_seqs_gapless() {
    let (h, store) = Harness::postgres_and_store().await;
    batches::a_failed_send_among_queued_sends_keeps_the_seqs_gapless(
        &h,
        || hold_writer(&store),
        release,
    )
    .await;
}

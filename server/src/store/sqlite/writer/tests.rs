//! The writer's batches: repeatable writes commit without savepoints, and a failed one still
//! rolls back alone.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use parley_protocol::ErrorCode;

use crate::{
    error::{Error, Result},
    store::{
        conformance::{
            batches::{self, within, WAIT},
            Harness,
        },
        Committed, Published, SqliteStore,
    },
};

struct Fixture {
    store: SqliteStore,
    _harness: Harness,
}

async fn open() -> Fixture {
    let (harness, store) = Harness::sqlite_and_store().await;
    Fixture {
        store,
        _harness: harness,
    }
}

/// Keeps the writer inside a write of its own until `release` is called, so that the writes
/// queued meanwhile are taken as one batch.
struct Hold {
    release: std::sync::mpsc::Sender<()>,
    held: Committed<()>,
}

async fn hold_writer(store: &SqliteStore) -> Hold {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (entered, inside) = tokio::sync::oneshot::channel();
    let held = store
        .submit(move |_, _| {
            let _ = entered.send(());
            // Bounded: a test that never releases fails on its own timeouts, not by hanging.
            let _ = wait.recv_timeout(WAIT);
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    within("the writer to take the holding write", inside)
        .await
        .unwrap();
    Hold { release, held }
}

impl Hold {
    async fn release(self) {
        self.release.send(()).unwrap();
        within("the holding write", self.held).await.unwrap();
    }
}

/// A repeatable write that inserts `x` into `t`, counts its runs, and fails after the insert
/// when `fail` is set (so that its row must be rolled back).
fn insert(
    x: i64,
    fail: bool,
    runs: &Arc<AtomicUsize>,
) -> impl FnMut(&rusqlite::Connection, &mut super::WriterState) -> Result<(i64, Vec<Published>)>
       + Send
       + 'static {
    let runs = Arc::clone(runs);
    move |tx, _| {
        runs.fetch_add(1, Ordering::SeqCst);
        tx.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
        if fail {
            return Err(Error::new(
                ErrorCode::MessageTooLong,
                format!("write {x} refused"),
            ));
        }
        Ok((x, Vec::new()))
    }
}

async fn create_table(store: &SqliteStore) {
    store
        .write(|tx, _| {
            Ok((
                tx.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)")?,
                Vec::new(),
            ))
        })
        .await
        .unwrap();
}

async fn rows(store: &SqliteStore) -> Vec<i64> {
    store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT x FROM t ORDER BY x")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            Ok(rows)
        })
        .await
        .unwrap()
}

fn counters(n: usize) -> Vec<Arc<AtomicUsize>> {
    (0..n).map(|_| Arc::new(AtomicUsize::new(0))).collect()
}

fn runs(counters: &[Arc<AtomicUsize>]) -> Vec<usize> {
    counters.iter().map(|c| c.load(Ordering::SeqCst)).collect()
}

/// Repeatable inserts of 1, 2, 3... queued so that they commit as one batch; `fail[i]` makes
/// the write of `i + 1` fail after its insert.
async fn one_batch(
    store: &SqliteStore,
    fail: &[bool],
) -> (Vec<Arc<AtomicUsize>>, Vec<Committed<i64>>) {
    let counts = counters(fail.len());
    let hold = hold_writer(store).await;
    let mut queued = Vec::new();
    for (i, count) in counts.iter().enumerate() {
        let write = insert(i as i64 + 1, fail[i], count);
        queued.push(store.submit_repeatable(write).await.unwrap());
    }
    hold.release().await;
    (counts, queued)
}

#[tokio::test]
async fn a_batch_of_repeatable_writes_runs_each_once() {
    let f = open().await;
    create_table(&f.store).await;
    let (counts, queued) = one_batch(&f.store, &[false, false, false]).await;
    for (i, done) in queued.into_iter().enumerate() {
        assert_eq!(within("a write", done).await.unwrap(), i as i64 + 1);
    }
    assert_eq!(runs(&counts), [1, 1, 1]);
    assert_eq!(rows(&f.store).await, [1, 2, 3]);
}

#[tokio::test]
async fn a_failed_repeatable_write_rolls_back_alone() {
    let f = open().await;
    create_table(&f.store).await;
    let (counts, queued) = one_batch(&f.store, &[false, true, false]).await;
    let mut outcomes = Vec::new();
    for done in queued {
        outcomes.push(within("a write", done).await.map_err(|e| e.to_string()));
    }
    assert_eq!(outcomes[0], Ok(1));
    assert!(
        outcomes[1]
            .as_ref()
            .unwrap_err()
            .contains("write 2 refused"),
        "the failed write gets its own error: {:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], Ok(3));
    assert_eq!(
        rows(&f.store).await,
        [1, 3],
        "the failed write's row is gone"
    );
    // The batch ran without savepoints up to the failure, was rolled back, and ran again with
    // a savepoint per write: the first write twice, the failed one twice, the last once.
    assert_eq!(runs(&counts), [2, 2, 1]);
}

#[tokio::test]
async fn a_batch_with_a_write_that_runs_once_keeps_a_savepoint_per_write() {
    let f = open().await;
    create_table(&f.store).await;
    let counts = counters(2);
    let hold = hold_writer(&f.store).await;
    let once_runs = Arc::clone(&counts[0]);
    // A plain write runs only once: had the batch run without savepoints and then again, it
    // would have failed ("a write ran twice").
    let once = f
        .store
        .submit(move |tx, _| {
            once_runs.fetch_add(1, Ordering::SeqCst);
            tx.execute("INSERT INTO t (x) VALUES (1)", [])?;
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    let failing = f
        .store
        .submit_repeatable(insert(2, true, &counts[1]))
        .await
        .unwrap();
    hold.release().await;
    within("the plain write", once).await.unwrap();
    assert!(within("the failing write", failing).await.is_err());
    assert_eq!(runs(&counts), [1, 1]);
    assert_eq!(rows(&f.store).await, [1]);
}

/// The case the optimization is for: sends, one of which fails after writing its row.
#[tokio::test]
async fn a_failed_send_among_queued_sends_keeps_the_channel_s_seqs_gapless() {
    let (h, store) = Harness::sqlite_and_store().await;
    batches::a_failed_send_among_queued_sends_keeps_the_seqs_gapless(
        &h,
        || hold_writer(&store),
        Hold::release,
    )
    .await;
}

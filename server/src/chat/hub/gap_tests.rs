//! Seq order across nodes (`gap.rs`): events that arrive out of order or not at all are
#![allow(clippy::unwrap_used)]
//! delivered in order once the store filled the gap; duplicates are dropped; what cannot be
//! ordered ends in a resync, never a silent gap.

use super::tests::{caught_up, config, drain, published, subscribe, user};
use super::*;

/// A filler that answers from a fixed history (seq -> present), recording each request.
/// The (after, until) of each gap request a filler got.
type Asked = Arc<Mutex<Vec<(u64, u64)>>>;

fn filler_with(history: Vec<u64>, fail: bool) -> (GapFiller, Asked) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let filler: GapFiller = Arc::new(move |request: GapRequest| {
        log.lock().unwrap().push((request.after, request.until));
        let events = (!fail).then(|| {
            history
                .iter()
                .filter(|s| **s > request.after && **s <= request.until)
                .map(|s| published(*s))
                .collect()
        });
        let hub = request.hub.upgrade().expect("hub alive");
        tokio::spawn(async move {
            let _ = hub
                .send(HubCmd::Filled {
                    events,
                    through: request.until,
                })
                .await;
        });
    });
    (filler, asked)
}

async fn flush(hub: &HubHandle) {
    // Twice: a fill answered during the first flush is handled before the second answers.
    for _ in 0..3 {
        let (reply, done) = tokio::sync::oneshot::channel();
        hub.send(HubCmd::Flush { reply }).await.expect("send");
        done.await.expect("flushed");
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_gap_is_filled_from_the_store_before_later_events() {
    let hubs = Hubs::new(config(), Arc::default());
    let (filler, asked) = filler_with(vec![1, 2, 3, 4, 5], false);
    hubs.set_gap_filler(filler);
    let hub = hubs.hub(1, "c", false, 0);
    let (mut rx, _control, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    for seq in [1, 4, 3, 5, 1, 2] {
        hub.send(HubCmd::Publish(published(seq)))
            .await
            .expect("send");
    }
    flush(&hub).await;
    assert_eq!(
        drain(&mut rx),
        [
            "durable 1",
            "durable 2",
            "durable 3",
            "durable 4",
            "durable 5"
        ]
    );
    assert_eq!(
        asked.lock().unwrap()[0],
        (1, 3),
        "asked for what 4 revealed missing"
    );
}

#[tokio::test]
async fn a_sync_fetches_what_was_missed_on_a_quiet_channel() {
    let hubs = Hubs::new(config(), Arc::default());
    let (filler, _) = filler_with(vec![1, 2], false);
    hubs.set_gap_filler(filler);
    let hub = hubs.hub(1, "c", false, 0);
    let (mut rx, _control, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    hub.send(HubCmd::Sync { stored_head: 2 })
        .await
        .expect("send");
    flush(&hub).await;
    assert_eq!(drain(&mut rx), ["durable 1", "durable 2"]);
}

#[tokio::test]
async fn what_cannot_be_ordered_ends_in_a_resync() {
    // The store cannot answer: subscribers resume on their own.
    let hubs = Hubs::new(config(), Arc::default());
    let (filler, _) = filler_with(vec![], true);
    hubs.set_gap_filler(filler);
    let hub = hubs.hub(1, "c", false, 0);
    let (mut rx, control, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    hub.send(HubCmd::Publish(published(2))).await.expect("send");
    flush(&hub).await;
    assert_eq!(control.close_code(), close_code::RESYNC);
    assert!(
        drain(&mut rx).is_empty(),
        "nothing out of order was delivered"
    );

    // Too much waits behind a gap (catchup_limit is 3): the same.
    let hubs = Hubs::new(config(), Arc::default());
    let never: GapFiller = Arc::new(|_| {});
    hubs.set_gap_filler(never);
    let hub = hubs.hub(1, "c", false, 0);
    let (_rx, control, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    for seq in 2..=6 {
        hub.send(HubCmd::Publish(published(seq)))
            .await
            .expect("send");
    }
    flush(&hub).await;
    assert_eq!(control.close_code(), close_code::RESYNC);
}

//! Parking a receiver's owner (`Parker`): how an idle connection's writer stops being a task
//! and is started again by what is queued for it.

use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::*;

const LIMIT: Duration = Duration::from_secs(10);

/// A parked owner: the receiver, and where to hand it when it is resumed.
struct Owner {
    rx: Receiver<u32>,
    resumed: UnboundedSender<Receiver<u32>>,
}

fn hand_back(owner: Owner) {
    let _ = owner.resumed.send(owner.rx);
}

#[tokio::test]
async fn an_item_resumes_a_parked_owner_with_the_item_waiting() {
    let (tx, rx) = queue::<u32>(4);
    let parker = rx.parker();
    let (resumed, mut back) = unbounded_channel();
    assert!(parker.park(Owner { rx, resumed }, hand_back).is_ok());
    assert!(parker.is_parked());
    assert!(back.try_recv().is_err(), "not resumed before anything came");
    tx.try_send(7).expect("room");
    // Resumed at once, by the sender's own call.
    let mut rx = back.try_recv().expect("resumed by the item");
    assert!(!parker.is_parked());
    assert_eq!(rx.try_recv(), Ok(7));
    // A second item finds the owner running: nothing is resumed twice.
    tx.try_send(8).expect("room");
    assert!(back.try_recv().is_err());
    assert_eq!(rx.next().await, Next::Item(8));
}

#[tokio::test]
async fn parking_is_refused_while_there_is_something_for_the_owner() {
    let (tx, mut rx) = queue::<u32>(4);
    let parker = rx.parker();
    let (resumed, _back) = unbounded_channel();
    tx.try_send(1).expect("room");
    let owner = parker
        .park(Owner { rx, resumed }, hand_back)
        .expect_err("an item is waiting");
    rx = owner.rx;
    assert_eq!(rx.try_recv(), Ok(1));
    // A wake-up not yet taken: refused, and `next` reports it before anything else.
    parker.wake();
    tx.try_send(2).expect("room");
    let owner = parker
        .park(
            Owner {
                rx,
                resumed: owner.resumed,
            },
            hand_back,
        )
        .expect_err("a wake-up is waiting");
    rx = owner.rx;
    assert_eq!(rx.next().await, Next::Woken);
    assert_eq!(rx.next().await, Next::Item(2));
    // No sender left: refused (the owner must see the end).
    drop(tx);
    let owner = parker
        .park(
            Owner {
                rx,
                resumed: owner.resumed,
            },
            hand_back,
        )
        .expect_err("no sender left");
    rx = owner.rx;
    assert_eq!(rx.next().await, Next::Ended);
    assert!(!parker.is_parked());
}

#[tokio::test]
async fn the_last_sender_going_or_a_wake_resumes_a_parked_owner() {
    let (tx, rx) = queue::<u32>(4);
    let other = tx.clone();
    let parker = rx.parker();
    let (resumed, mut back) = unbounded_channel();
    assert!(parker
        .park(
            Owner {
                rx,
                resumed: resumed.clone()
            },
            hand_back
        )
        .is_ok());
    parker.wake();
    let rx = back.try_recv().expect("woken");
    // Resumed by the wake itself: no wake-up is left over for `next`.
    assert!(parker.park(Owner { rx, resumed }, hand_back).is_ok());
    drop(tx);
    assert!(back.try_recv().is_err(), "a sender is left");
    drop(other);
    let mut rx = back.try_recv().expect("resumed by the last sender going");
    assert_eq!(rx.next().await, Next::Ended);
}

#[tokio::test]
async fn a_wake_reaches_a_receiver_waiting_in_next() {
    let (_tx, mut rx) = queue::<u32>(4);
    let parker = rx.parker();
    let waiting = tokio::spawn(async move { rx.next().await });
    // One thread: the task runs until it waits in `next`, and the wake must reach it there.
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished(), "waiting before the wake");
    parker.wake();
    let got = tokio::time::timeout(LIMIT, waiting).await.expect("woken");
    assert_eq!(got.expect("task"), Next::Woken);
}

#[tokio::test]
async fn receiver_gone_returns_when_the_owner_ends() {
    let (tx, rx) = queue::<u32>(4);
    let parker = rx.parker();
    let watching = parker.clone();
    let watcher = tokio::spawn(async move { watching.receiver_gone().await });
    tokio::task::yield_now().await;
    assert!(!watcher.is_finished());
    // Parked, resumed by a wake, and dropped by whoever it was handed to.
    let (resumed, mut back) = unbounded_channel();
    assert!(parker.park(Owner { rx, resumed }, hand_back).is_ok());
    parker.wake();
    drop(back.try_recv().expect("woken"));
    tokio::time::timeout(LIMIT, watcher)
        .await
        .expect("saw the receiver go")
        .expect("task");
    assert!(tx.is_closed());
    // And at once when it is gone already.
    tokio::time::timeout(LIMIT, parker.receiver_gone())
        .await
        .expect("gone already");
}

/// Producers on other threads against an owner that parks whenever the queue is empty, as a
/// connection's writer does: nothing is lost, duplicated or reordered, and it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_parking_between_items_misses_none() {
    const PRODUCERS: u32 = 4;
    const EACH: u32 = 5_000;
    let (tx, rx) = queue::<u32>(8);
    let (resumed, mut back) = unbounded_channel();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let tx = tx.clone();
        producers.push(tokio::spawn(async move {
            for i in 0..EACH {
                tx.send(p * EACH + i).await.expect("receiver alive");
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    drop(tx);
    let consumer = async move {
        let mut last = vec![None::<u32>; PRODUCERS as usize];
        let mut seen = 0u32;
        let mut rx = rx;
        loop {
            // Drain what is there, then park; resumed by the next item (or the end).
            loop {
                match rx.try_recv() {
                    Ok(item) => {
                        let p = (item / EACH) as usize;
                        assert!(last[p].is_none_or(|l| l < item), "out of order: {item}");
                        last[p] = Some(item);
                        seen += 1;
                    }
                    Err(TryRecvError::Disconnected) => return seen,
                    Err(TryRecvError::Empty) => break,
                }
            }
            let parker = rx.parker();
            rx = match parker.park(
                Owner {
                    rx,
                    resumed: resumed.clone(),
                },
                hand_back,
            ) {
                Ok(()) => back.recv().await.expect("resumed"),
                Err(owner) => owner.rx,
            };
        }
    };
    let seen = tokio::time::timeout(LIMIT, consumer)
        .await
        .expect("the owner was resumed every time");
    assert_eq!(seen, PRODUCERS * EACH);
    for producer in producers {
        producer.await.expect("producer");
    }
}

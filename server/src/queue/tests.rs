use std::time::Duration;

use super::*;

/// Every wait in these tests is bounded.
const LIMIT: Duration = Duration::from_secs(10);

async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {LIMIT:?}"))
}

#[tokio::test]
async fn items_come_out_in_order_and_a_full_queue_refuses() {
    let (tx, mut rx) = queue::<u32>(3);
    assert_eq!((tx.capacity(), tx.max_capacity()), (3, 3));
    for i in 0..3 {
        tx.try_send(i).expect("room");
    }
    assert_eq!(tx.capacity(), 0);
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert_eq!(rx.len(), 3);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(tx.capacity(), 1);
    tx.try_send(3).expect("room again");
    let mut got = Vec::new();
    while let Ok(item) = rx.try_recv() {
        got.push(item);
    }
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
}

#[tokio::test]
async fn recv_ends_once_every_sender_is_gone_and_the_queue_is_drained() {
    let (tx, mut rx) = queue::<u32>(4);
    let other = tx.clone();
    tx.try_send(1).expect("room");
    drop(tx);
    other.try_send(2).expect("room");
    let waiting = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
        }
        got
    });
    tokio::task::yield_now().await;
    other.try_send(3).expect("room");
    drop(other);
    assert_eq!(
        within("the receiver", waiting).await.expect("task"),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn a_waiting_receiver_sees_the_last_sender_go() {
    let (tx, mut rx) = queue::<u32>(1);
    let waiting = tokio::spawn(async move { rx.recv().await });
    // The (single-threaded) test runtime runs the receiver into its wait here.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished());
    drop(tx);
    assert_eq!(within("the receiver", waiting).await.expect("task"), None);
}

#[tokio::test]
async fn a_receiver_waiting_is_woken_by_a_send() {
    let (tx, mut rx) = queue::<u32>(1);
    let waiting = tokio::spawn(async move { rx.recv().await });
    // Let the receiver reach its wait first.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    tx.send(7).await.expect("sent");
    assert_eq!(
        within("the receiver", waiting).await.expect("task"),
        Some(7)
    );
}

#[tokio::test]
async fn send_waits_for_room_and_a_cancelled_send_queues_nothing() {
    let (tx, mut rx) = queue::<u32>(1);
    tx.try_send(1).expect("room");
    // A send that gives up while the queue is full leaves nothing behind.
    let gave_up = tokio::time::timeout(Duration::from_millis(20), tx.send(2)).await;
    assert!(gave_up.is_err(), "the queue was full");
    assert_eq!(rx.len(), 1);
    assert_eq!(rx.shared.lock().waiting_senders, 0);
    // Two senders wait; each take makes room for one of them.
    let (a, b) = (tx.clone(), tx.clone());
    let first = tokio::spawn(async move { a.send(3).await.is_ok() });
    let second = tokio::spawn(async move { b.send(4).await.is_ok() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(within("an item", rx.recv()).await.expect("open"));
    }
    assert!(within("a sender", first).await.expect("task"));
    assert!(within("a sender", second).await.expect("task"));
    // Waiting senders are not served in the order they came (see `Sender::send`).
    got[1..].sort_unstable();
    assert_eq!(got, [1, 3, 4]);
}

#[tokio::test]
async fn dropping_the_receiver_closes_the_queue_for_senders() {
    let (tx, rx) = queue::<u32>(1);
    tx.try_send(1).expect("room");
    let blocked = tx.clone();
    let waiting = tokio::spawn(async move { blocked.send(2).await.map_err(|e| e.0) });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    drop(rx);
    assert_eq!(
        within("the waiting sender", waiting).await.expect("task"),
        Err(2)
    );
    assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    assert!(tx.send(4).await.is_err());
}

#[tokio::test]
async fn a_drained_queue_gives_its_memory_back() {
    let (tx, mut rx) = queue::<u64>(10_000);
    assert_eq!(
        rx.shared.lock().items.capacity(),
        0,
        "nothing allocated before use"
    );
    for i in 0..5_000 {
        tx.try_send(i).expect("room");
    }
    assert!(rx.shared.lock().items.capacity() >= 5_000);
    for i in 0..5_000 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert!(rx.shared.lock().items.capacity() <= KEPT_SLOTS);
    // A few items at a time keep their small buffer (no allocation per item).
    tx.try_send(1).expect("room");
    assert_eq!(rx.try_recv(), Ok(1));
    let kept = rx.shared.lock().items.capacity();
    assert!(kept > 0 && kept <= KEPT_SLOTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_senders_through_a_small_queue_lose_and_reorder_nothing() {
    const SENDERS: u64 = 8;
    const EACH: u64 = 20_000;
    let (tx, mut rx) = queue::<(u64, u64)>(4);
    let mut tasks = Vec::new();
    for sender in 0..SENDERS {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                // Half the items wait for room, half retry on a full queue.
                if n % 2 == 0 {
                    tx.send((sender, n)).await.expect("open");
                } else {
                    let mut item = (sender, n);
                    loop {
                        match tx.try_send(item) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => {
                                item = back;
                                tokio::task::yield_now().await;
                            }
                            Err(TrySendError::Closed(_)) => panic!("closed"),
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    let receive = async {
        let mut next = vec![0u64; SENDERS as usize];
        let mut count = 0;
        while let Some((sender, n)) = rx.recv().await {
            assert_eq!(next[sender as usize], n, "sender {sender}'s items in order");
            next[sender as usize] += 1;
            count += 1;
        }
        count
    };
    assert_eq!(within("every item", receive).await, SENDERS * EACH);
    for task in tasks {
        within("a sender", task).await.expect("task");
    }
}

#[tokio::test]
async fn a_closed_queue_refuses_items_and_still_gives_what_it_holds() {
    let (tx, mut rx) = queue::<u32>(4);
    tx.try_send(1).expect("room");
    tx.try_send(2).expect("room");
    let blocked = tx.clone();
    for _ in 0..2 {
        tx.try_send(0).expect("room");
    }
    let waiting = tokio::spawn(async move { blocked.send(3).await.map_err(|e| e.0) });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!tx.is_closed());
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(
        within("the waiting sender", waiting).await.expect("task"),
        Err(3)
    );
    assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
    // What was queued before the close still comes out, then the end (a sender lives on).
    let mut got = Vec::new();
    while let Some(item) = within("an item", rx.recv()).await {
        got.push(item);
    }
    assert_eq!(got, [1, 2, 0, 0]);
}

#[tokio::test]
async fn recv_many_waits_for_one_and_takes_up_to_its_limit() {
    let (tx, mut rx) = queue::<u32>(16);
    let mut batch = Vec::new();
    assert_eq!(rx.recv_many(&mut batch, 0).await, 0);
    let waiting = tokio::spawn(async move {
        let mut batch = Vec::new();
        let n = rx.recv_many(&mut batch, 3).await;
        (n, batch, rx)
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    for i in 0..5 {
        tx.try_send(i).expect("room");
    }
    let (n, batch, mut rx) = within("the receiver", waiting).await.expect("task");
    assert_eq!((n, batch), (3, vec![0, 1, 2]));
    let mut rest = Vec::new();
    assert_eq!(rx.recv_many(&mut rest, 10).await, 2);
    assert_eq!(rest, [3, 4]);
    drop(tx);
    assert_eq!(rx.recv_many(&mut rest, 10).await, 0, "every sender gone");
}

#[tokio::test]
async fn room_freed_while_a_sender_waits_is_that_senders() {
    let (tx, mut rx) = queue::<u32>(1);
    tx.try_send(1).expect("room");
    let waiter = tx.clone();
    let waiting = tokio::spawn(async move { waiter.send(2).await.is_ok() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(rx.try_recv(), Ok(1));
    // The waiting sender has been woken but has not run yet: neither `try_send` nor a new
    // sender takes its room.
    assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
    let newcomer = tokio::time::timeout(Duration::from_millis(20), tx.send(4)).await;
    assert!(
        newcomer.is_err(),
        "a new sender waits behind the one already waiting"
    );
    assert!(within("the waiting sender", waiting).await.expect("task"));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.shared.lock().waiting_senders, 0);
    tx.try_send(5).expect("no one waits any more");
}

#[tokio::test]
async fn an_aborted_waiting_sender_leaves_the_room_to_the_others() {
    let (tx, mut rx) = queue::<u32>(1);
    tx.try_send(1).expect("room");
    let (a, b) = (tx.clone(), tx.clone());
    let first = tokio::spawn(async move { a.send(2).await.is_ok() });
    let second = tokio::spawn(async move { b.send(3).await.is_ok() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(rx.shared.lock().waiting_senders, 2);
    first.abort();
    assert!(within("the aborted sender", first).await.is_err());
    assert_eq!(rx.shared.lock().waiting_senders, 1);
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(within("the other sender", second).await.expect("task"));
    assert_eq!(within("its item", rx.recv()).await, Some(3));
    assert_eq!(rx.shared.lock().waiting_senders, 0);
}

#[tokio::test]
async fn a_receive_given_up_while_waiting_loses_nothing() {
    let (tx, mut rx) = queue::<u32>(4);
    for _ in 0..3 {
        tokio::select! {
            biased;
            item = rx.recv() => panic!("nothing was sent, got {item:?}"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        let mut batch = Vec::new();
        tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, 8) => panic!("nothing was sent, got {n}"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    tx.try_send(7).expect("room");
    tx.try_send(8).expect("room");
    assert_eq!(within("the first item", rx.recv()).await, Some(7));
    let mut batch = Vec::new();
    assert_eq!(within("the rest", rx.recv_many(&mut batch, 8)).await, 1);
    assert_eq!(batch, [8]);
}

#[tokio::test]
async fn each_side_sees_the_end_of_the_queue() {
    // The receiver gone: senders see a closed queue (how a document's actor is restarted).
    let (tx, rx) = queue::<u32>(2);
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    // Every sender gone: an empty queue is disconnected, not merely empty.
    let (tx, mut rx) = queue::<u32>(2);
    tx.try_send(1).expect("room");
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    // Closed with items left: they still come out, in batches, then the end.
    let (tx, mut rx) = queue::<u32>(8);
    for i in 0..5 {
        tx.try_send(i).expect("room");
    }
    rx.close();
    let mut batch = Vec::new();
    assert_eq!(within("a batch", rx.recv_many(&mut batch, 3)).await, 3);
    assert_eq!(within("a batch", rx.recv_many(&mut batch, 3)).await, 2);
    assert_eq!(within("the end", rx.recv_many(&mut batch, 3)).await, 0);
    assert_eq!(batch, [0, 1, 2, 3, 4]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[tokio::test]
async fn room_left_after_a_waiting_sender_is_passed_to_those_behind_it() {
    let (tx, mut rx) = queue::<u32>(2);
    for i in 0..2 {
        tx.try_send(i).expect("room");
    }
    let a = tx.clone();
    let first = tokio::spawn(async move { a.send(10).await.is_ok() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    // A take wakes the waiting sender; before it runs, a new sender finds the one free slot
    // kept for it and waits too. Then the first gives up: no take follows, so only its
    // leaving can wake the newcomer.
    assert_eq!(rx.try_recv(), Ok(0));
    let newcomer = tx.send(20);
    tokio::pin!(newcomer);
    tokio::select! {
        biased;
        sent = &mut newcomer => panic!("the room was reserved, yet: {sent:?}"),
        () = std::future::ready(()) => {}
    }
    assert_eq!(rx.shared.lock().waiting_senders, 2);
    first.abort();
    assert!(within("the aborted sender", first).await.is_err());
    within("the newcomer", newcomer).await.expect("open");
    let mut got = Vec::new();
    while let Ok(item) = rx.try_recv() {
        got.push(item);
    }
    assert_eq!(got, [1, 20]);
}

#[tokio::test]
async fn only_one_slot_is_kept_for_each_waiting_sender() {
    let (tx, mut rx) = queue::<u32>(4);
    for i in 0..4 {
        tx.try_send(i).expect("room");
    }
    let waiter = tx.clone();
    let waiting = tokio::spawn(async move { waiter.send(10).await.is_ok() });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    // Three taken before the waiting sender runs: one slot is its, two are anyone's (a hub
    // must not see a queue with free room as full and close a connection for it).
    for i in 0..3 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert_eq!(tx.capacity(), 2);
    tx.try_send(20).expect("a free slot");
    tx.try_send(21).expect("a free slot");
    assert!(matches!(tx.try_send(22), Err(TrySendError::Full(22))));
    assert!(within("the waiting sender", waiting).await.expect("task"));
    let mut got = Vec::new();
    while let Ok(item) = rx.try_recv() {
        got.push(item);
    }
    got.sort_unstable();
    assert_eq!(got, [3, 10, 20, 21]);
}

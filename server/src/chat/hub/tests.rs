//! The hub's delivery rules: shedding, resync, and catching up without losing live events.

use super::*;
use tokio::sync::oneshot;

use crate::ws::OutboundRx;

pub(super) fn config() -> HubConfig {
    HubConfig {
        presence_tap: std::sync::OnceLock::new(),
        gap_filler: std::sync::OnceLock::new(),
        relay: std::sync::OnceLock::new(),
        presence_timeout: Duration::from_secs(60),
        typing_ttl: Duration::from_secs(5),
        typing_interval: Duration::from_secs(1),
        catchup_limit: 3,
        queue: 64,
    }
}

pub(super) fn user(id: i64, name: &str) -> UserRef {
    UserRef {
        id,
        name: name.into(),
        display_name: None,
        avatar: None,
    }
}

pub(super) fn published(seq: u64) -> Published {
    Published {
        channel_id: 1,
        seq,
        frame: format!("durable {seq}"),
        author_id: None,
    }
}

pub(super) async fn subscribe(
    hub: &HubHandle,
    conn_id: u64,
    who: UserRef,
    queue: usize,
) -> (OutboundRx, Arc<ConnControl>, u64) {
    let (tx, rx) = crate::queue::queue(queue);
    let control = Arc::new(ConnControl::new(
        conn_id,
        "/ws",
        std::net::Ipv4Addr::LOCALHOST.into(),
    ));
    let (reply, ack) = oneshot::channel();
    let sub = Subscriber {
        conn_id,
        user: Some(Arc::new(who)),
        tx,
        control: Arc::clone(&control),
    };
    hub.send(HubCmd::Subscribe { sub, reply })
        .await
        .expect("hub alive");
    let head = ack.await.expect("ack").head;
    (rx, control, head)
}

/// Completes a catch-up, returning the held frames the connection would queue.
pub(super) async fn caught_up(hub: &HubHandle, conn_id: u64) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let (reply, held) = oneshot::channel();
        hub.send(HubCmd::CaughtUp { conn_id, reply })
            .await
            .expect("send");
        let held = held.await.expect("hub answered");
        if held.is_empty() {
            return all;
        }
        all.extend(held.iter().map(|f| f.as_str().to_owned()));
    }
}

pub(super) fn drain(rx: &mut OutboundRx) -> Vec<String> {
    let mut frames = Vec::new();
    while let Ok(frame) = rx.try_recv() {
        frames.push(frame.as_str().to_owned());
    }
    frames
}

/// A slow subscriber loses ephemeral events first, and is closed for resync (never silently
/// skipped) when a durable event does not fit.
#[tokio::test]
async fn sheds_ephemeral_then_closes_for_resync() {
    let hubs = Hubs::new(config(), Arc::default());
    let hub = hubs.hub(1, "c", false, 0);
    let (_bob_rx, _, _) = subscribe(&hub, 8, user(2, "bob"), 64).await;
    caught_up(&hub, 8).await;
    let (mut rx, control, head) = subscribe(&hub, 7, user(1, "alice"), 4).await;
    assert_eq!(head, 0);
    caught_up(&hub, 7).await;
    for seq in 1..=3 {
        hub.send(HubCmd::Publish(published(seq)))
            .await
            .expect("send");
    }
    hub.send(HubCmd::Typing { conn_id: 8 }).await.expect("send"); // more than half full: shed
    hub.send(HubCmd::Publish(published(4))).await.expect("send"); // still fits
    hub.send(HubCmd::Publish(published(5))).await.expect("send"); // does not: resync
    tokio::time::timeout(Duration::from_secs(5), control.closing.cancelled())
        .await
        .expect("closed");
    assert_eq!(control.close_code(), close_code::RESYNC);
    let frames = drain(&mut rx);
    assert_eq!(frames, ["durable 1", "durable 2", "durable 3", "durable 4"]);
}

/// Live events are held while a subscriber reads its backlog, released in order after it;
/// events at or below the head it was given are never delivered live (no duplicate).
#[tokio::test]
async fn holds_live_events_until_caught_up_and_bounds_the_buffer() {
    let hubs = Hubs::new(config(), Arc::default());
    let hub = hubs.hub(1, "c", false, 2);
    let (mut rx, control, head) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    assert_eq!(head, 2, "head comes from the stored head");
    hub.send(HubCmd::Publish(published(2))).await.expect("send"); // covered by backlog
    hub.send(HubCmd::Publish(published(3))).await.expect("send");
    hub.send(HubCmd::Publish(published(4))).await.expect("send");
    let (reply, presence) = oneshot::channel();
    hub.send(HubCmd::PresenceList { reply })
        .await
        .expect("send");
    presence.await.expect("hub answered");
    assert!(drain(&mut rx).is_empty(), "nothing live before CaughtUp");
    // The held events come back to the connection (which queues them after its backlog).
    assert_eq!(caught_up(&hub, 7).await, ["durable 3", "durable 4"]);
    hub.send(HubCmd::Publish(published(5))).await.expect("send");
    let (reply, presence) = oneshot::channel();
    hub.send(HubCmd::PresenceList { reply })
        .await
        .expect("send");
    presence.await.expect("hub answered");
    assert_eq!(drain(&mut rx), ["durable 5"]);

    // A subscriber that never catches up overflows its bounded buffer and is resynced.
    let (_rx2, control2, _) = subscribe(&hub, 9, user(3, "carol"), 64).await;
    for seq in 6..=9 {
        hub.send(HubCmd::Publish(published(seq)))
            .await
            .expect("send");
    }
    tokio::time::timeout(Duration::from_secs(5), control2.closing.cancelled())
        .await
        .expect("closed");
    assert_eq!(control2.close_code(), close_code::RESYNC);
    assert!(!control.closing.is_cancelled());
}

/// A flush is answered only after what was queued before it reached the subscribers: what a
/// session waits on at a server stop so acknowledged messages are delivered before the 1001.
#[tokio::test]
async fn a_flush_answers_after_everything_queued_before_it() {
    let hubs = Arc::new(Hubs::new(config(), Arc::default()));
    let hub = hubs.hub(1, "c", false, 0);
    let (mut rx, _, _) = subscribe(&hub, 7, user(1, "alice"), 64).await;
    caught_up(&hub, 7).await;
    // As the store's writer thread hands over commits.
    let writer = Arc::clone(&hubs);
    tokio::task::spawn_blocking(move || {
        for seq in 1..=20 {
            writer.publish(published(seq));
        }
    })
    .await
    .expect("published");
    let (reply, done) = oneshot::channel();
    hub.send(HubCmd::Flush { reply }).await.expect("send");
    tokio::time::timeout(Duration::from_secs(5), done)
        .await
        .expect("answered in time")
        .expect("hub alive");
    let expected: Vec<String> = (1..=20).map(|seq| format!("durable {seq}")).collect();
    assert_eq!(drain(&mut rx), expected);
}

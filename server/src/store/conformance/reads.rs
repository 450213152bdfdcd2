//! Read positions, read receipts, unread counts and mutes.

use super::{new_channel, Harness};
use crate::store::{CreateChannel, MessageDelete, ReadMark, ReadPosition};

pub async fn read_positions_move_forward_only(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let mark = |seq: u64| ReadMark {
        user: alice.to_ref(),
        channel_id: team.id,
        channel_name: team.name.clone(),
        seq,
    };
    let reads = &h.stores.reads;
    assert_eq!(
        reads.read_position(alice.id, team.id).await.unwrap(),
        ReadPosition::default()
    );
    assert!(reads.mark_read(mark(5)).await.unwrap());
    assert!(!reads.mark_read(mark(3)).await.unwrap());
    assert!(!reads.mark_read(mark(5)).await.unwrap());
    assert!(reads.mark_read(mark(6)).await.unwrap());
    assert_eq!(
        reads
            .read_position(alice.id, team.id)
            .await
            .unwrap()
            .last_read,
        6
    );
    h.published();
    assert!(reads.mark_read(mark(7)).await.unwrap());
    assert!(
        h.published().is_empty(),
        "no receipts unless the channel has them on"
    );
}

pub async fn read_receipts_are_announced_when_on(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h
        .stores
        .channels
        .create_channel(CreateChannel {
            channel: new_channel("team"),
            creator: alice.to_ref(),
            read_receipts: true,
            limit: None,
        })
        .await
        .unwrap();
    h.published();
    let mark = ReadMark {
        user: alice.to_ref(),
        channel_id: team.id,
        channel_name: team.name.clone(),
        seq: 1,
    };
    assert!(h.stores.reads.mark_read(mark.clone()).await.unwrap());
    let published = h.published();
    assert_eq!(published.len(), 1);
    assert_eq!((published[0].channel_id, published[0].seq), (team.id, 2));
    // Read as JSON, not as a `ServerFrame`: this event's own `seq` field repeats the frame's
    // key, which serde refuses to read back (a protocol matter, left to the protocol).
    let stored = h
        .stores
        .events
        .events_between(team.id, 1, 2, 1)
        .await
        .unwrap();
    let frame = stored[0].frame.as_str();
    assert_eq!(frame, published[0].frame.as_str());
    assert!(frame.contains(r#""kind":"read_receipt""#), "{frame}");
    assert!(!h.stores.reads.mark_read(mark).await.unwrap());
    assert!(
        h.published().is_empty(),
        "a position that did not move is not announced"
    );
}

pub async fn unread_counts_skip_own_and_deleted_messages(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let bob_me = h.personal(&bob).await;
    let mine = h.send(&team, &bob, "mine").await;
    let first = h.send(&team, &alice, "one").await;
    let mut mention = super::post(&team, &alice, "@bob two", "m2");
    mention.mentions = vec![super::notice(&bob, &bob_me, false)];
    let second = h.post(mention).await.message;
    h.send(&team, &alice, "three").await;
    let reads = &h.stores.reads;
    let counts = reads.read_counts(bob.id, team.id).await.unwrap();
    assert_eq!((counts.unread, counts.mentions), (3, 1));
    h.stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: first.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await
        .unwrap();
    let counts = reads.read_counts(bob.id, team.id).await.unwrap();
    assert_eq!((counts.unread, counts.mentions), (2, 1));
    reads
        .mark_read(ReadMark {
            user: bob.to_ref(),
            channel_id: team.id,
            channel_name: team.name.clone(),
            seq: second.seq,
        })
        .await
        .unwrap();
    let counts = reads.read_counts(bob.id, team.id).await.unwrap();
    assert_eq!(counts.position.last_read, second.seq);
    assert_eq!((counts.unread, counts.mentions), (1, 0));
    let alice_counts = reads.read_counts(alice.id, team.id).await.unwrap();
    assert_eq!(
        alice_counts.unread, 1,
        "only bob's message is unread for alice"
    );
    assert!(mine.seq < first.seq);
}

pub async fn mutes_are_set_and_cleared(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let reads = &h.stores.reads;
    let until = crate::store::now_ms() + 60_000;
    assert!(reads
        .set_mute(alice.id, team.id, Some(until))
        .await
        .unwrap());
    assert!(!reads
        .set_mute(alice.id, team.id, Some(until))
        .await
        .unwrap());
    assert_eq!(
        reads.mutes(team.id, vec![bob.id, alice.id]).await.unwrap(),
        [None, Some(until)]
    );
    assert!(reads
        .set_mute(alice.id, team.id, Some(i64::MAX))
        .await
        .unwrap());
    assert!(reads.set_mute(alice.id, team.id, None).await.unwrap());
    assert!(!reads.set_mute(alice.id, team.id, None).await.unwrap());
    assert_eq!(
        reads.read_position(alice.id, team.id).await.unwrap(),
        ReadPosition::default()
    );
    assert!(
        h.published().len() == 1,
        "only the channel's creation was published"
    );
}

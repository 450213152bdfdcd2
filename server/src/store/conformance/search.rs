//! Search and its index.

use std::time::Duration;

use super::Harness;
use crate::store::{MessageDelete, MessageEdit, SearchRequest};

fn request(query: &str, channels: Vec<i64>) -> SearchRequest {
    SearchRequest {
        query: query.to_owned(),
        channels,
        author_id: None,
        after: None,
        before: None,
        limit: 20,
        timeout: Duration::from_secs(5),
        admission: None,
    }
}

async fn found(h: &Harness, request: SearchRequest) -> Vec<i64> {
    let mut ids: Vec<i64> = h
        .stores
        .search
        .search(request)
        .await
        .unwrap()
        .iter()
        .map(|hit| hit.message.id)
        .collect();
    ids.sort_unstable();
    ids
}

async fn index_all(h: &Harness) {
    while h.stores.search.index_pending(5000).await.unwrap() {}
}

pub async fn search_finds_indexed_words_in_the_given_channels(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let other = h.channel("other", &alice).await;
    let hello = h.send(&team, &alice, "Hello brave world").await;
    let world = h.send(&team, &alice, "the world is wide").await;
    let elsewhere = h.send(&other, &alice, "hello from elsewhere").await;
    assert!(
        found(h, request("hello", vec![team.id])).await.is_empty(),
        "messages are searchable once indexed"
    );
    index_all(h).await;
    assert_eq!(found(h, request("hello", vec![team.id])).await, [hello.id]);
    assert_eq!(
        found(h, request("hello", vec![team.id, other.id])).await,
        [hello.id, elsewhere.id]
    );
    assert_eq!(found(h, request("HEL", vec![team.id])).await, [hello.id]);
    assert_eq!(
        found(h, request("world", vec![team.id])).await,
        [hello.id, world.id]
    );
    assert_eq!(
        found(h, request("brave wor", vec![team.id])).await,
        [hello.id],
        "every word must match; the last may be a prefix"
    );
    assert!(found(h, request("bra world", vec![team.id]))
        .await
        .is_empty());
    assert!(found(h, request("hello", Vec::new())).await.is_empty());
    assert!(found(h, request("  ** ", vec![team.id])).await.is_empty());
    let limited = SearchRequest {
        limit: 1,
        ..request("world", vec![team.id])
    };
    assert_eq!(found(h, limited).await.len(), 1);
    let hits = h
        .stores
        .search
        .search(request("brave", vec![team.id]))
        .await
        .unwrap();
    assert_eq!(hits[0].message.text, "Hello brave world");
    assert!(hits[0].snippet.contains("[brave]"), "{}", hits[0].snippet);
}

pub async fn the_index_follows_edits_and_deletes(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    let message = h.send(&team, &alice, "original words").await;
    let gone = h.send(&team, &alice, "soon deleted words").await;
    index_all(h).await;
    h.stores
        .messages
        .edit_message(MessageEdit {
            channel_id: team.id,
            message_id: message.id,
            text: "replacement words".into(),
            editor: alice.id,
        })
        .await
        .unwrap();
    h.stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: gone.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await
        .unwrap();
    assert!(found(h, request("original", vec![team.id]))
        .await
        .is_empty());
    assert_eq!(
        found(h, request("replacement", vec![team.id])).await,
        [message.id]
    );
    assert_eq!(
        found(h, request("words", vec![team.id])).await,
        [message.id]
    );
    // Deleted before it was indexed: never found.
    let late = h.send(&team, &alice, "late words").await;
    h.stores
        .messages
        .delete_message(MessageDelete {
            channel_id: team.id,
            message_id: late.id,
            by: alice.to_ref(),
            as_manager: false,
        })
        .await
        .unwrap();
    index_all(h).await;
    assert!(found(h, request("late", vec![team.id])).await.is_empty());
}

pub async fn indexing_runs_in_batches(h: &Harness) {
    let alice = h.user("alice").await;
    let team = h.channel("team", &alice).await;
    assert!(
        !h.stores.search.index_pending(2).await.unwrap(),
        "nothing to index"
    );
    for i in 0..5 {
        h.send(&team, &alice, &format!("batch word{i}")).await;
    }
    let search = &h.stores.search;
    assert!(search.index_pending(2).await.unwrap());
    assert_eq!(found(h, request("batch", vec![team.id])).await.len(), 2);
    assert!(search.index_pending(2).await.unwrap());
    assert!(!search.index_pending(2).await.unwrap());
    assert_eq!(found(h, request("batch", vec![team.id])).await.len(), 5);
    assert!(!search.index_pending(2).await.unwrap());
}

pub async fn search_filters_by_author_and_time(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let team = h.channel("team", &alice).await;
    let hers = h.send(&team, &alice, "shared topic").await;
    let his = h.send(&team, &bob, "shared topic too").await;
    index_all(h).await;
    let by_bob = SearchRequest {
        author_id: Some(bob.id),
        ..request("shared", vec![team.id])
    };
    assert_eq!(found(h, by_bob).await, [his.id]);
    let before = SearchRequest {
        before: Some(hers.ts),
        ..request("shared", vec![team.id])
    };
    assert!(found(h, before).await.is_empty(), "`before` is exclusive");
    let after = SearchRequest {
        after: Some(his.ts),
        ..request("shared", vec![team.id])
    };
    assert!(
        found(h, after).await.contains(&his.id),
        "`after` is inclusive"
    );
    let window = SearchRequest {
        after: Some(hers.ts),
        before: Some(his.ts + 1),
        ..request("shared", vec![team.id])
    };
    assert_eq!(found(h, window).await, [hers.id, his.id]);
}

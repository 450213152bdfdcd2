//! A comment that mentions someone tells them on their personal channel `@me` (durable, like a
//! chat mention), when they may read the document; the notice carries no text of its own.
#![allow(clippy::unwrap_used)]

use parley_testkit::{ydoc::DocClient, *};
use serde_json::json;

#[tokio::test]
async fn people_mentioned_in_a_comment_are_told_on_their_personal_channel() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let mut ws = server.connect(Some(&alice)).await;
    ws.ok(json!({"type": "channel_create", "channel": "inner", "channel_type": "private"}))
        .await;
    ws.ok(json!({"type": "channel_invite", "channel": "inner", "user": "bob"}))
        .await;
    let (status, doc) = server
        .post(
            "/api/docs",
            Some(&alice),
            json!({"name": "plan", "channel": "inner"}),
        )
        .await;
    assert_eq!(status, 201, "{doc}");
    let mut editor = DocClient::connect(&server.addr(), "plan", &alice).await;
    editor.insert(0, "The quick brown fox").await;
    editor.sync().await;

    let mut bob_ws = server.connect(Some(&bob)).await;
    let me = bob_ws
        .ok(json!({"type": "subscribe", "channel": "@me"}))
        .await;
    let mut carol_ws = server.connect(Some(&carol)).await;
    carol_ws
        .ok(json!({"type": "subscribe", "channel": "@me"}))
        .await;
    let mut alice_me = server.connect(Some(&alice)).await;
    alice_me
        .ok(json!({"type": "subscribe", "channel": "@me"}))
        .await;

    // Bob (a member of the channel) is told; carol (an outsider) and alice (the author) are not.
    let (status, comment) = server
        .post(
            "/api/docs/plan/comments",
            Some(&alice),
            json!({"body": "@bob @carol @alice faster?", "anchor": editor.anchor(4, 9)}),
        )
        .await;
    assert_eq!(status, 201, "{comment}");
    let event = bob_ws.wait_for(|f| f["kind"] == "comment_mention").await;
    assert_eq!(event["doc"], "plan");
    assert_eq!(event["comment_id"], comment["id"]);
    assert_eq!(event["by"]["name"], "alice");
    assert!(event["ts"].as_i64().unwrap() > 0);
    assert!(
        event.get("body").is_none(),
        "no text in the notice: {event}"
    );
    assert!(seq_of(&event) > me["head"].as_u64().unwrap());
    let quiet = std::time::Duration::from_millis(300);
    assert!(
        carol_ws
            .none_within(quiet, |f| f["kind"] == "comment_mention")
            .await,
        "an outsider of the private channel is not told"
    );
    assert!(
        alice_me
            .none_within(quiet, |f| f["kind"] == "comment_mention")
            .await,
        "nor the author"
    );

    // Durable: a device that was away gets it on resume; a repeated client_id tells nobody twice.
    let mut later = server.connect(Some(&bob)).await;
    later
        .send(json!({"type": "subscribe", "channel": "@me", "since": me["head"], "epoch": me["epoch"]}))
        .await;
    let replayed = later.wait_for(|f| f["kind"] == "comment_mention").await;
    assert_eq!(replayed["comment_id"], comment["id"]);
    let reply = json!({"body": "@bob again", "parent": comment["id"], "client_id": "r-1"});
    for _ in 0..2 {
        let (status, body) = server
            .post("/api/docs/plan/comments", Some(&alice), reply.clone())
            .await;
        assert!(status == 201 || status == 200, "{status} {body}");
    }
    let second = bob_ws.wait_for(|f| f["kind"] == "comment_mention").await;
    assert_ne!(second["comment_id"], comment["id"]);
    assert!(
        bob_ws
            .none_within(quiet, |f| f["kind"] == "comment_mention")
            .await,
        "the repeated reply told bob once"
    );
}

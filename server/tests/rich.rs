//! Edits, deletes and reactions: durable events, access, and a delete removes the content from
//! storage, from replayed history and from what resuming clients receive.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn edits_deletes_and_reactions() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let carol_token = server.register("carol").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    bob.ok(json!({"type": "subscribe", "channel": "team"}))
        .await;
    let sent = alice
        .ok(json!({"type": "send", "channel": "team", "text": "the secret plan", "client_id": "m1"}))
        .await;
    let id = sent["message"]["id"].as_i64().unwrap();
    let seq = sent["message"]["seq"].as_u64().unwrap();
    bob.event("team", "message").await;

    // Only the author edits.
    bob.err(
        json!({"type": "message_edit", "channel": "team", "message_id": id, "text": "mine"}),
        "forbidden",
    )
    .await;
    let edited = alice
        .ok(json!({"type": "message_edit", "channel": "team", "message_id": id, "text": "the new plan"}))
        .await;
    assert_eq!(edited["message"]["text"], "the new plan");
    assert!(edited["message"]["edited_at"].is_string());
    let event = bob.event("team", "message_edited").await;
    assert_eq!(event["message"]["text"], "the new plan");
    alice
        .err(
            json!({"type": "message_edit", "channel": "team", "message_id": id, "text": " "}),
            "message_empty",
        )
        .await;
    alice
        .err(
            json!({"type": "message_edit", "channel": "team", "message_id": 9999, "text": "x"}),
            "message_not_found",
        )
        .await;

    // Reactions: members only, idempotent, counted, with who reacted.
    let mut carol = server.connect(Some(&carol_token)).await;
    carol
        .err(
            json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}),
            "not_member",
        )
        .await;
    let r = bob
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(r["count"], 1);
    let again = bob
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(again["count"], 1, "adding twice changes nothing");
    alice
        .ok(json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    let reaction = bob.event("team", "reaction").await;
    assert_eq!(reaction["reaction"]["emoji"], "👍");
    bob.err(
        json!({"type": "reaction_add", "channel": "team", "message_id": id, "emoji": "a b"}),
        "invalid_emoji",
    )
    .await;
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&bob_token))
        .await;
    let reactions = &page["messages"][0]["reactions"];
    assert_eq!(reactions[0]["emoji"], "👍");
    assert_eq!(reactions[0]["count"], 2);
    let removed = bob
        .ok(json!({"type": "reaction_remove", "channel": "team", "message_id": id, "emoji": "👍"}))
        .await;
    assert_eq!(removed["count"], 1);
    assert_eq!(removed["added"], false);

    // Delete: not by another member; by the author. The content is gone everywhere.
    bob.err(
        json!({"type": "message_delete", "channel": "team", "message_id": id}),
        "forbidden",
    )
    .await;
    alice
        .ok(json!({"type": "message_delete", "channel": "team", "message_id": id}))
        .await;
    let deleted = bob.event("team", "message_deleted").await;
    assert_eq!(deleted["message_id"], id);
    assert_eq!(deleted["message_seq"], seq);
    alice
        .err(
            json!({"type": "message_delete", "channel": "team", "message_id": id}),
            "message_not_found",
        )
        .await;
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&bob_token))
        .await;
    assert_eq!(page["messages"][0]["deleted"], true);
    assert_eq!(page["messages"][0]["text"], "");
    // A client resuming from before the message replays no trace of its text.
    let mut late = server.connect(Some(&bob_token)).await;
    late.ok(json!({"type": "subscribe", "channel": "team", "since": 0}))
        .await;
    let mut replayed = String::new();
    loop {
        let frame = late.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        replayed.push_str(&frame.to_string());
    }
    assert!(
        !replayed.contains("plan"),
        "deleted text replayed: {replayed}"
    );
    assert!(replayed.contains("message_deleted"));
    // Nor is it anywhere in the database.
    drop(late);
    let db = rusqlite::Connection::open(server.data_dir().join("parley.db")).unwrap();
    let hits: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM messages WHERE text LIKE '%plan%')
                  + (SELECT count(*) FROM events WHERE frame LIKE '%plan%')
                  + (SELECT count(*) FROM message_edits)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 0, "deleted content still stored");

    // Channel admins delete others' messages.
    let sent = bob
        .ok(json!({"type": "send", "channel": "team", "text": "off topic", "client_id": "b1"}))
        .await;
    let bob_msg = sent["message"]["id"].as_i64().unwrap();
    alice
        .ok(json!({"type": "message_delete", "channel": "team", "message_id": bob_msg}))
        .await;
}

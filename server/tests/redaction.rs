//! Text that was edited away or deleted is not replayed: a new subscriber resuming from the start
//! (`since: 0`) of a document's comments channel, a chat channel or `@me` finds it in no stored
//! frame. The raw frames of the whole replay are searched.
#![allow(clippy::unwrap_used)]

use parley_testkit::{unique, ydoc::DocClient, TestServer, RELAXED};
use serde_json::{json, Value};

/// Every frame of a replay from seq 0 (reply, backlog, up to `synced`), as raw text.
async fn replay(server: &TestServer, token: &str, channel: &str) -> (Vec<Value>, String) {
    let mut client = server.connect(Some(token)).await;
    let id = client
        .send(json!({"type": "subscribe", "channel": channel, "since": 0}))
        .await;
    let mut frames = Vec::new();
    loop {
        let frame = client.recv().await;
        if frame["type"] == "error" && frame["id"] == json!(id) {
            panic!("subscribe {channel}: {frame}");
        }
        let done = frame["type"] == "synced";
        frames.push(frame);
        if done {
            break;
        }
    }
    let raw = frames
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    (frames, raw)
}

/// A valid anchor (two relative positions in the document's text).
fn anchor() -> Value {
    use base64::Engine;
    use yrs::{updates::encoder::Encode, Assoc, IndexedSequence, Text, Transact};
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("content");
    text.insert(&mut doc.transact_mut(), 0, "some text");
    let txn = doc.transact();
    let b64 = |i| {
        let pos = text.sticky_index(&txn, i, Assoc::After).unwrap();
        base64::engine::general_purpose::STANDARD.encode(pos.encode_v1())
    };
    json!({"start": b64(0), "end": b64(0)})
}

#[tokio::test]
async fn edited_and_deleted_comments_are_not_replayed() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob_name = unique("bob");
    let bob = server.register(&bob_name).await;
    DocClient::connect(&server.addr(), "plan", &alice).await;
    let (_, info) = server.get("/api/docs/plan", Some(&alice)).await;
    let channel = info["comments_channel"].as_str().unwrap().to_owned();
    let post = |token: &str, body: Value| {
        let (server, token) = (&server, token.to_owned());
        async move {
            let (status, comment) = server
                .post("/api/docs/plan/comments", Some(&token), body)
                .await;
            assert_eq!(status, 201, "{comment}");
            comment["id"].as_i64().unwrap()
        }
    };

    // Kept, edited twice, with a reply that is edited too, resolved between the edits.
    let kept = post(
        &alice,
        json!({"body": format!("first-secret for @{bob_name}"), "anchor": anchor(), "quote": "kept-quote"}),
    )
    .await;
    let reply = post(&bob, json!({"body": "reply-secret", "parent": kept})).await;
    let path = format!("/api/docs/plan/comments/{kept}");
    assert_eq!(
        server
            .patch(&path, Some(&alice), json!({"body": "second-secret"}))
            .await
            .0,
        200
    );
    server
        .post(&format!("{path}/resolve"), Some(&bob), json!({}))
        .await;
    assert_eq!(
        server
            .patch(&path, Some(&alice), json!({"body": "final words"}))
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .patch(
                &format!("/api/docs/plan/comments/{reply}"),
                Some(&bob),
                json!({"body": "reply final"})
            )
            .await
            .0,
        200
    );
    // Deleted, with a reply (which goes with it), and after an edit.
    let gone = post(
        &alice,
        json!({"body": "deleted-secret", "anchor": anchor(), "quote": "deleted-quote"}),
    )
    .await;
    post(
        &bob,
        json!({"body": "reply-to-deleted-secret", "parent": gone}),
    )
    .await;
    server
        .patch(
            &format!("/api/docs/plan/comments/{gone}"),
            Some(&alice),
            json!({"body": "edited-then-deleted-secret"}),
        )
        .await;
    assert_eq!(
        server
            .delete(&format!("/api/docs/plan/comments/{gone}"), Some(&alice))
            .await
            .0,
        204
    );

    let (frames, raw) = replay(&server, &bob, &channel).await;
    for secret in [
        "first-secret",
        "second-secret",
        "reply-secret",
        "deleted-secret",
        "deleted-quote",
        "reply-to-deleted-secret",
        "edited-then-deleted-secret",
    ] {
        assert!(!raw.contains(secret), "{secret:?} replayed:\n{raw}");
    }
    // What is current is there, and every event is still in its place.
    assert!(raw.contains("final words") && raw.contains("reply final"));
    assert!(raw.contains("kept-quote"), "an edit keeps the quote");
    let kinds: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "event")
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "comment_created",
            "comment_created",
            "comment_edited",
            "comment_resolved",
            "comment_edited",
            "comment_edited",
            "comment_created",
            "comment_created",
            "comment_edited",
            "comment_deleted"
        ]
    );
    // Applying the replay in order ends with what the comment list says.
    let (_, list) = server.get("/api/docs/plan/comments", Some(&bob)).await;
    let mut state = std::collections::BTreeMap::new();
    for frame in frames.iter().filter(|f| f["type"] == "event") {
        match frame["kind"].as_str().unwrap() {
            "comment_deleted" => {
                state.remove(&frame["comment_id"].as_i64().unwrap());
            }
            _ => {
                let c = &frame["comment"];
                state.insert(c["id"].as_i64().unwrap(), c["body"].clone());
            }
        }
    }
    state.retain(|id, _| *id == kept || *id == reply);
    let listed: std::collections::BTreeMap<i64, Value> = list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["body"].clone()))
        .collect();
    assert_eq!(state, listed);
}

#[tokio::test]
async fn edited_messages_are_not_replayed_with_their_old_text() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob_name = unique("bob");
    let bob = server.register(&bob_name).await;
    let mut a = server.connect(Some(&alice)).await;
    let mut b = server.connect(Some(&bob)).await;
    a.ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    b.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    let sent = a
        .ok(json!({"type": "send", "channel": "team", "text": format!("@{bob_name} old-secret"), "client_id": "m1"}))
        .await;
    let id = sent["message"]["id"].as_i64().unwrap();
    for text in [
        "middle-secret".to_owned(),
        format!("@{bob_name} final text"),
    ] {
        a.ok(json!({"type": "message_edit", "channel": "team", "message_id": id, "text": text}))
            .await;
    }
    let (frames, raw) = replay(&server, &bob, "team").await;
    for secret in ["old-secret", "middle-secret"] {
        assert!(!raw.contains(secret), "{secret:?} replayed:\n{raw}");
    }
    assert!(raw.contains("final text"));
    // The message keeps its place: its frame is there, without text, marked edited.
    let original = frames
        .iter()
        .find(|f| f["kind"] == "message" && f["message"]["id"] == id)
        .unwrap();
    assert_eq!(original["message"]["text"], "");
    assert!(original["message"]["edited_at"].is_string());
    // The mention on bob's @me carries the message as it is now.
    let (_, raw) = replay(&server, &bob, "@me").await;
    assert!(!raw.contains("old-secret"), "{raw}");
    assert!(raw.contains("final text"), "{raw}");
}

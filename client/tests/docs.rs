//! Document replicas: edits made offline on two clients converge after reconnecting, survive a
//! client restart (they are in the cache), and a comment written offline arrives once.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use parley_client::{Client, ClientConfig};
use serde_json::json;

fn client(server: &TestServer, token: &str, cache: &std::path::Path) -> Client {
    let mut config = ClientConfig::new(&server.url(), token, cache.to_owned());
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(300);
    Client::start(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_edits_converge_and_offline_comments_arrive() {
    let mut server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let b = client(&server, &bob, &dir.path().join("b.db"));
    let da = a.open_doc("plan").await.unwrap();
    da.append_text("content", "shared start.").await.unwrap();
    da.flush(TIMEOUT).await.unwrap();
    let db = b.open_doc("plan").await.unwrap();
    db.flush(TIMEOUT).await.unwrap();
    assert_eq!(db.text("content"), "shared start.");

    // The server goes away; both edit.
    server.kill();
    da.append_text("content", " alice offline.").await.unwrap();
    db.insert_text("content", 0, "bob offline. ").await.unwrap();
    let anchor_start = {
        use yrs::{Assoc, IndexedSequence, Transact};
        let text = da.doc().get_or_insert_text("content");
        let txn = da.doc().transact();
        let pos = text.sticky_index(&txn, 0, Assoc::After).unwrap();
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            yrs::updates::encoder::Encode::encode_v1(&pos),
        )
    };
    let entry = a
        .comment(
            "plan",
            json!({"body": "written offline", "anchor": {"start": anchor_start, "end": anchor_start}}),
        )
        .await
        .unwrap();
    assert_eq!(entry.state, "pending");

    // Alice's process restarts while offline: her edit is in the cache.
    drop(da);
    a.shutdown();
    drop(a);
    let a = client(&server, &alice, &dir.path().join("a.db"));
    let da = a.open_doc("plan").await.unwrap();
    assert_eq!(da.text("content"), "shared start. alice offline.");

    server.spawn().await;
    da.flush(TIMEOUT).await.unwrap();
    db.flush(TIMEOUT).await.unwrap();
    da.flush(TIMEOUT).await.unwrap();
    let expected = "bob offline. shared start. alice offline.";
    assert_eq!(da.text("content"), expected);
    assert_eq!(db.text("content"), expected);
    let (_, content) = server.get("/api/docs/plan/content", Some(&alice)).await;
    assert_eq!(content["text"]["content"], expected);

    assert!(a.flushed(TIMEOUT).await.unwrap());
    let (_, comments) = server.get("/api/docs/plan/comments", Some(&bob)).await;
    let comments = comments["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0]["body"], "written offline");
    assert_eq!(comments[0]["author"]["name"], "alice");
    let cached = a.cached_comments("plan").await.unwrap();
    assert_eq!(cached.len(), 1);
    // Resending the same comment (a lost answer) returns the original, adds nothing.
    let (status, again) = server
        .post(
            "/api/docs/plan/comments",
            Some(&alice),
            json!({"body": "written offline", "client_id": entry.client_id,
                   "anchor": {"start": anchor_start, "end": anchor_start}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], comments[0]["id"]);
    let (_, comments) = server.get("/api/docs/plan/comments", Some(&bob)).await;
    assert_eq!(comments["comments"].as_array().unwrap().len(), 1);
}

//! Per-user limits on what one may create or keep (`[limits]`: channels, direct messages,
//! documents, bytes of named versions; `documents.max_versions`), the rate of read-state
//! changes, and read-state changes that change nothing storing no event.
#![allow(clippy::unwrap_used)]

use parley_testkit::{unique, ydoc::DocClient, TestServer, WsClient, RELAXED};
use serde_json::json;

/// An admin (created with the CLI) and their token.
fn admin(server: &TestServer, name: &str) -> String {
    let out = server.admin(
        &["user", "add", name, "--admin", "--password-stdin"],
        Some("root password\n"),
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(server.admin(&["token", "create", name], None).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn limit_config(extra: &str) -> String {
    format!("{RELAXED}\n[limits]\n{extra}\n")
}

#[tokio::test]
async fn channels_per_user_counts_what_a_user_created_and_still_has() {
    let server = TestServer::start(&limit_config("channels_per_user = 2")).await;
    let alice = server.register(&unique("alice")).await;
    let mut a = server.connect(Some(&alice)).await;
    for name in ["one", "two"] {
        a.ok(json!({"type": "channel_create", "channel": name}))
            .await;
    }
    let refused = a
        .err(
            json!({"type": "channel_create", "channel": "three"}),
            "limit_reached",
        )
        .await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("limits.channels_per_user"),
        "{refused}"
    );
    // The same over HTTP: 403.
    let (status, body) = server
        .post("/api/channels", Some(&alice), json!({"channel": "three"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("limit_reached"))
    );
    // Direct messages are counted on their own.
    let bob_name = unique("bob");
    server.register(&bob_name).await;
    a.ok(json!({"type": "dm_open", "users": [bob_name]})).await;
    // Deleting one frees its place.
    let (status, _) = server.delete("/api/channels/one", Some(&alice)).await;
    assert_eq!(status, 204);
    a.ok(json!({"type": "channel_create", "channel": "three"}))
        .await;
    // Workspace admins are exempt.
    let root = admin(&server, "root");
    let mut r = server.connect(Some(&root)).await;
    for i in 0..4 {
        r.ok(json!({"type": "channel_create", "channel": format!("staff-{i}")}))
            .await;
    }
}

#[tokio::test]
async fn dms_per_user_counts_direct_messages_a_user_opened() {
    let server = TestServer::start(&limit_config("dms_per_user = 1")).await;
    let alice_name = unique("alice");
    let alice = server.register(&alice_name).await;
    let (bob, carol) = (unique("bob"), unique("carol"));
    let bob_token = server.register(&bob).await;
    server.register(&carol).await;
    let mut a = server.connect(Some(&alice)).await;
    a.ok(json!({"type": "dm_open", "users": [bob]})).await;
    let refused = a
        .err(
            json!({"type": "dm_open", "users": [carol]}),
            "limit_reached",
        )
        .await;
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("limits.dms_per_user"));
    // Opening the existing one again creates nothing, by either of its people.
    a.ok(json!({"type": "dm_open", "users": [bob]})).await;
    let mut b = server.connect(Some(&bob_token)).await;
    b.ok(json!({"type": "dm_open", "users": [alice_name]}))
        .await;
    // Ordinary channels are counted on their own.
    a.ok(json!({"type": "channel_create", "channel": "plans"}))
        .await;
}

#[tokio::test]
async fn documents_per_user_limits_creation_by_api_and_by_connecting() {
    let server = TestServer::start(&limit_config("documents_per_user = 1")).await;
    let alice = server.register(&unique("alice")).await;
    let (status, body) = server
        .post("/api/docs", Some(&alice), json!({"name": "first"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post("/api/docs", Some(&alice), json!({"name": "second"}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("limit_reached"))
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("limits.documents_per_user"));
    // Connecting to a new name would create one: refused the same way.
    let mut client = DocClient::new();
    let refused = client.try_connect(&server.addr(), "third", &alice).await;
    assert_eq!(refused.unwrap_err().0, 403);
    // Someone else's documents are theirs to count; opening an existing one creates nothing.
    let bob = server.register(&unique("bob")).await;
    let (status, _) = server
        .post("/api/docs", Some(&bob), json!({"name": "bobs"}))
        .await;
    assert_eq!(status, 201);
    DocClient::connect(&server.addr(), "bobs", &alice).await;
    // Deleting frees the place.
    assert_eq!(server.delete("/api/docs/first", Some(&alice)).await.0, 204);
    let (status, _) = server
        .post("/api/docs", Some(&alice), json!({"name": "second"}))
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn named_versions_are_limited_per_document_and_in_bytes_per_user() {
    let server = TestServer::start(&format!(
        "{RELAXED}\n[documents]\nmax_versions = 3\n[limits]\nversion_bytes_per_user = 2000\n"
    ))
    .await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let mut a = DocClient::connect(&server.addr(), "report", &alice).await;
    a.insert(0, &"x".repeat(700)).await;
    a.sync().await;
    let save = |token: String, name: &'static str| {
        let server = &server;
        async move {
            server
                .post(
                    "/api/docs/report/versions",
                    Some(&token),
                    json!({"name": name}),
                )
                .await
        }
    };
    // Each version holds the whole state (over 700 bytes): two fit in 2000 bytes, not three.
    assert_eq!(save(alice.clone(), "v1").await.0, 201);
    assert_eq!(save(alice.clone(), "v2").await.0, 201);
    let (status, body) = save(alice.clone(), "v3").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("limit_reached"))
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("limits.version_bytes_per_user"));
    // Bob's own bytes are his; the document's third version is his.
    assert_eq!(save(bob.clone(), "v3").await.0, 201);
    // The fourth passes documents.max_versions, whoever saves it.
    let (status, body) = save(bob.clone(), "v4").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("limit_reached"))
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("documents.max_versions"));
}

/// The `@me` head: subscribing answers the newest seq.
async fn me_head(client: &mut WsClient) -> u64 {
    let reply = client
        .ok(json!({"type": "subscribe", "channel": "@me", "since": 0}))
        .await;
    client.wait_for(|f| f["type"] == "synced").await;
    client
        .ok(json!({"type": "unsubscribe", "channel": "@me"}))
        .await;
    reply["head"].as_u64().unwrap()
}

#[tokio::test]
async fn read_state_changes_that_change_nothing_store_no_event() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let mut a = server.connect(Some(&alice)).await;
    a.ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    for i in 0..3 {
        a.ok(json!({"type": "send", "channel": "team", "text": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    let start = me_head(&mut a).await;
    let read = a
        .ok(json!({"type": "mark_read", "channel": "team", "seq": 3}))
        .await;
    assert_eq!(read["last_read"], 3);
    assert_eq!(me_head(&mut a).await, start + 1, "a move is announced");
    // Not beyond the current position: the same answer, no event.
    for seq in [3, 2, 0] {
        let again = a
            .ok(json!({"type": "mark_read", "channel": "team", "seq": seq}))
            .await;
        assert_eq!(again["last_read"], 3);
    }
    assert_eq!(me_head(&mut a).await, start + 1);
    // Mute, then mute the same way again; unmute, then unmute again.
    let muted = a.ok(json!({"type": "mute", "channel": "team"})).await;
    assert_eq!(muted["muted_until"].as_i64(), Some(i64::MAX));
    a.ok(json!({"type": "mute", "channel": "team"})).await;
    assert_eq!(me_head(&mut a).await, start + 2);
    a.ok(json!({"type": "unmute", "channel": "team"})).await;
    let unmuted = a.ok(json!({"type": "unmute", "channel": "team"})).await;
    assert!(unmuted.get("muted_until").is_none(), "{unmuted}");
    assert_eq!(me_head(&mut a).await, start + 3);
    // A channel never muted: unmuting changes nothing.
    a.ok(json!({"type": "channel_create", "channel": "other"}))
        .await;
    a.ok(json!({"type": "unmute", "channel": "other"})).await;
    assert_eq!(me_head(&mut a).await, start + 3);
}

#[tokio::test]
async fn read_state_changes_are_rate_limited_per_user() {
    // RELAXED's rate limits, with this one on.
    let server = TestServer::start(
        "[rate_limit]\nmessages_per_second = 0\nuser_messages_per_second = 0\n\
         requests_per_second = 0\nlogins_per_second = 0\n\
         user_state_changes_per_second = 0.5\nuser_state_change_burst = 3\n",
    )
    .await;
    let alice = server.register(&unique("alice")).await;
    let mut a = server.connect(Some(&alice)).await;
    let mut a2 = server.connect(Some(&alice)).await;
    a.ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    a.ok(json!({"type": "mute", "channel": "team"})).await;
    a.ok(json!({"type": "unmute", "channel": "team"})).await;
    a.ok(json!({"type": "mark_read", "channel": "team", "seq": 1}))
        .await;
    // The bucket is the user's, whichever connection asks.
    let refused = a2
        .err(json!({"type": "mute", "channel": "team"}), "rate_limited")
        .await;
    assert!(refused["retry_after_ms"].as_u64().unwrap() > 0);
}

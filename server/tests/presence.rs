//! Presence and typing: snapshots, joined/left/status diffs, several sessions of one user
//! counting once, typing expiry and rate limiting, and clean-up on leave and disconnect.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::*;
use serde_json::{json, Value};

fn presence_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn presence_counts_users_not_sessions() {
    let config = format!("{RELAXED}\n[channels.\"lobby\"]\ntype = \"presence\"\n");
    let server = TestServer::start(&config).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;

    let mut alice = server.connect(Some(&alice_token)).await;
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(presence_names(&sub["presence"]), ["alice"]);

    let mut bob1 = server.connect(Some(&bob_token)).await;
    let sub = bob1
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(presence_names(&sub["presence"]), ["alice", "bob"]);
    let joined = alice.event("lobby", "presence").await;
    assert_eq!(
        (joined["state"].clone(), joined["user"]["name"].clone()),
        (json!("joined"), json!("bob"))
    );

    // Bob's second session: no second "joined", but the snapshot shows two sessions.
    let mut bob2 = server.connect(Some(&bob_token)).await;
    let sub = bob2
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    let bob_entry = sub["presence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["name"] == "bob")
        .unwrap()
        .clone();
    assert_eq!(bob_entry["sessions"], 2);
    assert!(
        alice
            .none_within(Duration::from_millis(300), |f| f["kind"] == "presence")
            .await
    );

    // Status changes reach everyone.
    bob2.ok(json!({"type": "set_status", "status": "away", "text": "lunch"}))
        .await;
    let status = alice.event("lobby", "presence").await;
    assert_eq!(
        (
            status["state"].clone(),
            status["status"].clone(),
            status["status_text"].clone()
        ),
        (json!("status"), json!("away"), json!("lunch"))
    );
    bob2.err(
        json!({"type": "set_status", "status": "sleeping"}),
        "invalid_request",
    )
    .await;

    // One session going away is not "left"; the last one is.
    bob1.ok(json!({"type": "unsubscribe", "channel": "lobby"}))
        .await;
    assert!(
        alice
            .none_within(Duration::from_millis(300), |f| f["kind"] == "presence")
            .await
    );
    drop(bob2); // disconnect without unsubscribing
    let left = alice.event("lobby", "presence").await;
    assert_eq!(
        (left["state"].clone(), left["user"]["name"].clone()),
        (json!("left"), json!("bob"))
    );
    let list = alice
        .ok(json!({"type": "presence_list", "channel": "lobby"}))
        .await;
    assert_eq!(presence_names(&list["presence"]), ["alice"]);
    // Presence is ephemeral: no seq.
    assert!(left.get("seq").is_none());
}

#[tokio::test]
async fn typing_is_ephemeral_expires_and_is_rate_limited() {
    let config =
        format!("{RELAXED}\n[realtime]\ntyping_ttl = \"400ms\"\ntyping_interval = \"10s\"\n");
    let server = TestServer::start(&config).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "general"}))
        .await;
    bob.ok(json!({"type": "subscribe", "channel": "general"}))
        .await;
    alice
        .err(
            json!({"type": "typing", "channel": "general"}),
            "not_subscribed",
        )
        .await;
    alice
        .ok(json!({"type": "subscribe", "channel": "general"}))
        .await;

    alice
        .ok(json!({"type": "typing", "channel": "general"}))
        .await;
    let typing = bob.event("general", "typing").await;
    assert_eq!(
        (typing["typing"].clone(), typing["user"]["name"].clone()),
        (json!(true), json!("alice"))
    );
    assert_eq!(typing["expires_in_ms"], 400);
    assert!(typing.get("seq").is_none());
    // Renewals inside typing_interval are not re-broadcast.
    alice
        .ok(json!({"type": "typing", "channel": "general"}))
        .await;
    alice
        .ok(json!({"type": "typing", "channel": "general"}))
        .await;
    let stop = bob.event("general", "typing").await;
    assert_eq!(stop["typing"], false, "expiry is announced: {stop}");

    // A message ends the indicator without waiting for expiry; leaving clears it too.
    let mut bob2 = server.connect(Some(&bob_token)).await;
    bob2.ok(json!({"type": "subscribe", "channel": "general"}))
        .await;
    bob2.ok(json!({"type": "typing", "channel": "general"}))
        .await;
    alice.event("general", "typing").await;
    drop(bob2);
    drop(bob);
    // bob still has no session: his typing ends when his last session went away.
    let end = alice
        .wait_for(|f| f["kind"] == "typing" && f["typing"] == false)
        .await;
    assert_eq!(end["user"]["name"], "bob");
}

#[tokio::test]
async fn presence_refused_to_outsiders_and_channels_without_presence() {
    let server = TestServer::start(RELAXED).await;
    let alice_token = server.register("alice").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "plain"}))
        .await;
    alice
        .err(
            json!({"type": "presence_list", "channel": "plain"}),
            "invalid_request",
        )
        .await;
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "plain"}))
        .await;
    assert!(
        sub.get("presence").is_none(),
        "no presence in channels without it: {sub}"
    );
}

/// A session that goes silent (no frames, no pongs) for `presence_timeout` is dropped from
/// presence and its connection closed; an active one stays.
#[tokio::test]
async fn silent_sessions_time_out_of_presence() {
    let config = format!(
        "{RELAXED}\n[realtime]\npresence_timeout = \"600ms\"\n[websocket]\nping_interval = \"60s\"\n\
         [channels.\"lobby\"]\ntype = \"presence\"\n"
    );
    let server = TestServer::start(&config).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    alice.event("lobby", "presence").await; // bob joined
                                            // Alice keeps talking; Bob says nothing.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let left = loop {
        alice.ok(json!({"type": "ping"})).await;
        if !alice
            .none_within(Duration::from_millis(100), |f| {
                f["kind"] == "presence" && f["state"] == "left"
            })
            .await
        {
            break alice.event("lobby", "presence").await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob never timed out"
        );
    };
    assert_eq!(left["user"]["name"], "bob");
    assert_eq!(bob.close_code().await, Some(4001));
    let list = alice
        .ok(json!({"type": "presence_list", "channel": "lobby"}))
        .await;
    assert_eq!(presence_names(&list["presence"]), ["alice"]);
}

/// Subscribing before signing in: the subscription becomes the user's on `auth`.
#[tokio::test]
async fn anonymous_subscription_joins_presence_on_auth() {
    let config = format!(
        "{RELAXED}\n[channels.\"lobby\"]\ntype = \"presence\"\nauthentication = \"optional\"\n"
    );
    let server = TestServer::start(&config).await;
    let alice_token = server.register("alice").await;
    let bob_token = server.register("bob").await;
    let mut alice = server.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    let mut bob = server.connect(None).await;
    let sub = bob
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(
        presence_names(&sub["presence"]),
        ["alice"],
        "anonymous readers are not present"
    );
    bob.ok(json!({"type": "auth", "token": bob_token})).await;
    let joined = alice.event("lobby", "presence").await;
    assert_eq!(
        (joined["state"].clone(), joined["user"]["name"].clone()),
        (json!("joined"), json!("bob"))
    );
}

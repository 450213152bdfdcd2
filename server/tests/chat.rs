//! Channels and messages over real WebSockets: send, broadcast, idempotency, validation,
//! history paging, resume with `since` (including across a restart), epochs and retention.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

async fn setup_channel(server: &TestServer, name: &str) -> (String, WsClient) {
    let token = server.register(&unique("u")).await;
    let mut client = server.connect(Some(&token)).await;
    client
        .ok(json!({"type": "channel_create", "channel": name}))
        .await;
    (token, client)
}

#[tokio::test]
async fn send_broadcasts_with_author_and_is_idempotent() {
    let server = TestServer::start(RELAXED).await;
    let (_, mut alice) = setup_channel(&server, "team:general").await;
    let bob_token = server.register("bob").await;
    let mut bob = server.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "team:general"}))
        .await;
    bob.ok(json!({"type": "subscribe", "channel": "team:general"}))
        .await;
    bob.wait_for(|f| f["type"] == "synced").await;

    let sent = alice
        .ok(json!({"type": "send", "channel": "team:general", "text": "hello bob", "client_id": "m1"}))
        .await;
    assert_eq!(sent["duplicate"], false);
    let message = &sent["message"];
    assert_eq!(message["text"], "hello bob");
    assert!(message["created_at"].as_str().unwrap().ends_with('Z'));

    let event = bob.event("team:general", "message").await;
    assert_eq!(event["message"]["text"], "hello bob");
    assert_eq!(
        event["message"]["author"]["name"],
        alice.hello["user"]["name"]
    );
    assert!(event["message"]["author"].get("avatar").is_some());
    assert_eq!(event["seq"], message["seq"]);

    // The same client_id again: one stored message, the original returned, no new event.
    let again = alice
        .ok(json!({"type": "send", "channel": "team:general", "text": "different text", "client_id": "m1"}))
        .await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["message"]["id"], message["id"]);
    assert_eq!(again["message"]["text"], "hello bob");
    assert!(
        bob.none_within(std::time::Duration::from_millis(300), |f| f["kind"]
            == "message")
            .await
    );
    let history = alice
        .ok(json!({"type": "history", "channel": "team:general"}))
        .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_messages_get_clear_codes() {
    let config = format!("{RELAXED}\n[realtime]\nmax_message_length = 10\n");
    let server = TestServer::start(&config).await;
    let (_, mut alice) = setup_channel(&server, "general").await;
    let send = |text: &str, id: &str| json!({"type": "send", "channel": "general", "text": text, "client_id": id});
    alice.err(send("   \n\t ", "a"), "message_empty").await;
    alice
        .err(send("01234567890", "b"), "message_too_long")
        .await;
    alice.ok(send("0123456789", "c")).await; // exactly the limit
    alice.ok(send("ééééééééé", "c2")).await; // counted in characters, not bytes
    alice.err(send("hi", ""), "invalid_client_id").await;
    alice
        .err(send("hi", &"x".repeat(65)), "invalid_client_id")
        .await;
    alice
        .err(
            json!({"type": "send", "channel": "nope", "text": "hi", "client_id": "d"}),
            "channel_not_found",
        )
        .await;
    alice
        .err(
            json!({"type": "send", "channel": "general", "text": "hi"}),
            "invalid_request",
        )
        .await;
    // Sending needs membership; anonymous sessions cannot send at all.
    let carol = server.register("carol").await;
    let mut carol = server.connect(Some(&carol)).await;
    carol.err(send("hi", "e"), "not_member").await;
    let mut anon = server.connect(None).await;
    anon.err(send("hi", "f"), "unauthenticated").await;
}

#[tokio::test]
async fn history_pages_backwards() {
    let server = TestServer::start(RELAXED).await;
    let (_, mut alice) = setup_channel(&server, "general").await;
    for i in 0..25 {
        alice.ok(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    let mut seen = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut op = json!({"type": "history", "channel": "general", "limit": 10});
        if let Some(b) = before {
            op["before"] = json!(b);
        }
        let page = alice.ok(op).await;
        let messages = page["messages"].as_array().unwrap().clone();
        for m in &messages {
            seen.push(m["text"].as_str().unwrap().to_owned());
        }
        before = messages.last().map(|m| m["seq"].as_u64().unwrap());
        if page["has_more"] == false {
            break;
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
    // The same over HTTP.
    let (status, page) = server
        .get("/api/channels/general/messages?limit=3", None)
        .await;
    assert_eq!(status, 401, "general requires authentication: {page}");
}

/// Subscribing with `since` gives exactly the events after it, then `synced`, then live events:
/// with a concurrent sender, every seq arrives exactly once and in order.
#[tokio::test]
async fn resume_with_since_has_no_gap_and_no_duplicate() {
    let server = TestServer::start(RELAXED).await;
    let (token, mut alice) = setup_channel(&server, "general").await;
    for i in 0..20 {
        alice.ok(json!({"type": "send", "channel": "general", "text": format!("a{i}"), "client_id": format!("a{i}")})).await;
    }
    // A second connection of the sender keeps sending while the reader resumes.
    let mut sender = server.connect(Some(&token)).await;
    let writer = tokio::spawn(async move {
        for i in 0..200 {
            sender.ok(json!({"type": "send", "channel": "general", "text": format!("b{i}"), "client_id": format!("b{i}")})).await;
        }
        sender
    });
    let reader_token = server.register("reader").await;
    let mut reader = server.connect(Some(&reader_token)).await;
    let sub = reader
        .ok(json!({"type": "subscribe", "channel": "general", "since": 5}))
        .await;
    assert!(sub["reset"].is_null());
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let head = sub["head"].as_u64().unwrap();
    let mut expected = 6;
    let mut synced = false;
    // Channel creation is seq 1 (member_joined); messages follow.
    let last = 1 + 20 + 200;
    while expected <= last {
        let frame = reader.recv().await;
        match frame["type"].as_str().unwrap() {
            "synced" => {
                assert_eq!(frame["seq"].as_u64().unwrap(), head);
                assert_eq!(expected, head + 1, "synced after exactly the backlog");
                synced = true;
            }
            "event" if frame["seq"].is_u64() => {
                assert_eq!(seq_of(&frame), expected, "gap or duplicate at {frame}");
                expected += 1;
            }
            _ => {}
        }
    }
    if !synced {
        // Everything was already stored when we subscribed: synced follows the backlog.
        let frame = reader.wait_for(|f| f["type"] == "synced").await;
        assert_eq!(frame["seq"].as_u64().unwrap(), last);
    }
    writer.await.unwrap();
    assert!(
        reader
            .none_within(std::time::Duration::from_millis(200), |f| f["seq"].is_u64())
            .await
    );

    // A wrong epoch is answered with an explicit reset, never a silent gap.
    let mut other = server.connect(Some(&reader_token)).await;
    let sub = other
        .ok(json!({"type": "subscribe", "channel": "general", "since": 3, "epoch": "not-it"}))
        .await;
    assert_eq!(sub["reset"], "epoch_changed");
    assert_eq!(sub["backlog"], 0);
    let sub = other
        .ok(json!({"type": "subscribe", "channel": "general", "since": 3, "epoch": epoch}))
        .await;
    assert!(sub["reset"].is_null());
    assert_eq!(sub["backlog"].as_u64().unwrap(), last - 3);
}

#[tokio::test]
async fn resume_across_restart_and_recreated_history_changes_epoch() {
    let mut server = TestServer::start_process(RELAXED).await;
    let (token, mut alice) = setup_channel(&server, "general").await;
    for i in 0..10 {
        alice.ok(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "general"}))
        .await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let seen = sub["head"].as_u64().unwrap();
    drop(alice);

    server.restart().await;
    let mut alice = server.connect(Some(&token)).await;
    for i in 10..15 {
        alice.ok(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    // Resending an old client_id after the restart still returns the original.
    let dup = alice
        .ok(json!({"type": "send", "channel": "general", "text": "x", "client_id": "c3"}))
        .await;
    assert_eq!(
        (dup["duplicate"].clone(), dup["message"]["text"].clone()),
        (json!(true), json!("m3"))
    );

    let mut reader = server.connect(Some(&token)).await;
    let sub = reader
        .ok(json!({"type": "subscribe", "channel": "general", "since": seen, "epoch": epoch}))
        .await;
    assert!(sub["reset"].is_null(), "{sub}");
    assert_eq!(sub["epoch"], json!(epoch), "a restart keeps the epoch");
    let mut texts = Vec::new();
    loop {
        let frame = reader.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        texts.push(frame["message"]["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(texts, (10..15).map(|i| format!("m{i}")).collect::<Vec<_>>());

    // Deleting and recreating the channel is a new history: the old epoch is refused.
    let (status, _) = server.delete("/api/channels/general", Some(&token)).await;
    assert_eq!(status, 204);
    alice
        .ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    let sub = reader
        .ok(json!({"type": "subscribe", "channel": "general", "since": seen, "epoch": epoch}))
        .await;
    assert_eq!(sub["reset"], "epoch_changed");
    assert_ne!(sub["epoch"], json!(epoch));
}

#[tokio::test]
async fn retention_truncates_history_and_says_so() {
    let config = format!(
        "{RELAXED}\n[realtime]\nretention_sweep_interval = \"100ms\"\n[channels.\"short\"]\nmessage_history = 5\n"
    );
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_join", "channel": "short"}))
        .await;
    for i in 0..20 {
        alice.ok(json!({"type": "send", "channel": "short", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    // Wait (bounded) for the sweep to keep only the newest 5 events.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let page = alice
            .ok(json!({"type": "history", "channel": "short", "limit": 100}))
            .await;
        if page["messages"].as_array().unwrap().len() <= 5 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "retention never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "short", "since": 2}))
        .await;
    assert_eq!(sub["reset"], "history_truncated");
    let oldest = sub["oldest_seq"].as_u64().unwrap();
    assert_eq!(
        sub["backlog"].as_u64().unwrap(),
        sub["head"].as_u64().unwrap() - oldest + 1
    );
    let first = alice.wait_for(|f| f["type"] == "event").await;
    assert_eq!(seq_of(&first), oldest);
}

#[tokio::test]
async fn http_api_sends_and_reads() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("bot").await;
    let (status, body) = server.post("/api/channels", Some(&token), json!({"channel": "ops:alerts", "channel_type": "public", "authentication": "optional"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/api/channels/ops:alerts/messages",
            Some(&token),
            json!({"text": "deploy done", "client_id": "d1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/api/channels/ops:alerts/messages",
            Some(&token),
            json!({"text": "deploy done", "client_id": "d1"}),
        )
        .await;
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)));
    let (status, body) = server
        .post(
            "/api/channels/ops:alerts/messages",
            Some(&token),
            json!({"text": ""}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_request")),
        "{body}"
    );
    // `authentication = optional`: anonymous readers may read over HTTP and WebSocket.
    let (status, page) = server.get("/api/channels/ops:alerts/messages", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"][0]["text"], "deploy done");
    let mut anon = server.connect(None).await;
    assert!(anon.hello["user"].is_null());
    anon.ok(json!({"type": "subscribe", "channel": "ops:alerts", "since": 0}))
        .await;
    let event = anon.event("ops:alerts", "message").await;
    assert_eq!(event["message"]["text"], "deploy done");
}

#[tokio::test]
async fn instance_retention_by_age() {
    let config = format!(
        "{RELAXED}\n[realtime]\nmessage_retention = \"1s\"\nretention_sweep_interval = \"100ms\"\n"
    );
    let server = TestServer::start(&config).await;
    let (_, mut alice) = setup_channel(&server, "general").await;
    alice
        .ok(json!({"type": "send", "channel": "general", "text": "old news", "client_id": "c1"}))
        .await;
    let info = alice.ok(json!({"type": "channel_list"})).await;
    assert_eq!(info["channels"][0]["message_retention_secs"], 1);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let page = alice
            .ok(json!({"type": "history", "channel": "general"}))
            .await;
        if page["messages"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message outlived its retention"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "general", "since": 0}))
        .await;
    assert_eq!(sub["reset"], "history_truncated");
    assert_eq!(sub["backlog"], 0);
}

/// Sends are pipelined (a connection reads on while earlier sends commit) but keep their
/// order: sent back to back without waiting, they get increasing seqs in the order sent.
#[tokio::test]
async fn pipelined_sends_keep_their_order() {
    for pending in [1, 64] {
        let config = format!("{RELAXED}\n[realtime]\nmax_pending_sends = {pending}\n");
        let server = TestServer::start(&config).await;
        let (_, mut alice) = setup_channel(&server, "general").await;
        let mut ids = Vec::new();
        for i in 0..200 {
            ids.push(
                alice
                    .send(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")}))
                    .await,
            );
        }
        let mut seq_by_text = std::collections::HashMap::new();
        for id in ids {
            let reply = alice.wait_for(|f| f["id"] == json!(id)).await;
            assert_eq!(reply["type"], "reply", "{reply}");
            let m = &reply["result"]["message"];
            seq_by_text.insert(
                m["text"].as_str().unwrap().to_owned(),
                m["seq"].as_u64().unwrap(),
            );
        }
        let seqs: Vec<u64> = (0..200).map(|i| seq_by_text[&format!("m{i}")]).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "order lost with {pending} pending: {seqs:?}"
        );
    }
}

#[tokio::test]
async fn history_pages_are_capped_by_max_history_page() {
    let config = format!("{RELAXED}\n[realtime]\nmax_history_page = 5\n");
    let server = TestServer::start(&config).await;
    let (_, mut alice) = setup_channel(&server, "general").await;
    for i in 0..8 {
        alice.ok(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    let page = alice
        .ok(json!({"type": "history", "channel": "general", "limit": 100}))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 5);
    assert_eq!(page["has_more"], true);
    let page = alice
        .ok(json!({"type": "history", "channel": "general", "limit": 0}))
        .await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        1,
        "limits below 1 mean 1"
    );
}

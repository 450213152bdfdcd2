//! What one document client can cost the server: content reads of a document built to be
//! expensive (many root types), and awareness (size and shape of a state, client ids per
//! connection, rate, and changing other clients' states).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::{unique, ydoc::DocClient, TestServer, RELAXED};
use serde_json::json;
use yrs::{
    block::ClientID,
    sync::{
        awareness::{AwarenessUpdate, AwarenessUpdateEntry},
        Message, SyncMessage,
    },
    ReadTxn, Text, Transact,
};

/// Roots in the expensive document: per-root decoding of it took minutes per request.
const ROOTS: usize = 100_000;

/// A document state with `n` text roots `r0`, `r1`, … each holding "x".
fn many_roots(n: usize) -> Vec<u8> {
    let doc = yrs::Doc::new();
    let roots: Vec<yrs::TextRef> = (0..n)
        .map(|i| doc.get_or_insert_text(format!("r{i}")))
        .collect();
    {
        let mut txn = doc.transact_mut();
        for root in &roots {
            root.insert(&mut txn, 0, "x");
        }
    }
    let state = doc
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default());
    state
}

/// GET with a generous timeout; status, body and the `Retry-After` header.
async fn get_slow(
    server: &TestServer,
    path: &str,
    token: &str,
) -> (u16, serde_json::Value, Option<String>) {
    let resp = tokio::time::timeout(
        Duration::from_secs(120),
        server
            .http()
            .get(format!("{}{path}", server.url()))
            .bearer_auth(token)
            .send(),
    )
    .await
    .expect("content answered in time")
    .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body, retry)
}

#[tokio::test]
async fn content_of_a_document_with_many_roots_is_bounded_and_others_stay_served() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut client = DocClient::connect(&server.addr(), "many-roots", &token).await;
    client
        .send_message(Message::Sync(SyncMessage::Update(many_roots(ROOTS))))
        .await;
    client.sync().await;
    let (status, version) = server
        .post(
            "/api/docs/many-roots/versions",
            Some(&token),
            json!({"name": "v1"}),
        )
        .await;
    assert_eq!(status, 201, "{version}");

    // Six reads at once, current content and the version: the server decodes two at a time
    // and lets the others wait (up to eight), so all are answered; meanwhile token checks
    // (which need an async worker each) are answered too.
    let version_path = format!("/api/docs/many-roots/versions/{}", version["id"]);
    let reads: Vec<_> = (0..6)
        .map(|i| {
            let path = if i % 2 == 0 {
                "/api/docs/many-roots/content".to_owned()
            } else {
                version_path.clone()
            };
            let (url, http, token) = (server.url().clone(), server.http().clone(), token.clone());
            tokio::spawn(async move {
                let resp = tokio::time::timeout(
                    Duration::from_secs(120),
                    http.get(format!("{url}{path}")).bearer_auth(&token).send(),
                )
                .await
                .expect("content answered in time")
                .unwrap();
                let status = resp.status().as_u16();
                let body: serde_json::Value = resp.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while reads.iter().any(|r| !r.is_finished()) {
        assert!(tokio::time::Instant::now() < deadline, "reads never ended");
        let me = tokio::time::timeout(Duration::from_secs(5), server.get("/api/me", Some(&token)))
            .await
            .expect("/api/me waited behind content reads");
        assert_eq!(me.0, 200);
    }
    for read in reads {
        let (status, body) = read.await.unwrap();
        assert_eq!(status, 200, "{body}");
        let text = body["text"].as_object().unwrap();
        assert_eq!(
            text.len(),
            1000,
            "max_content_roots (default) roots rendered"
        );
        assert_eq!(body["truncated"], true);
        assert!(text.values().all(|v| v == "x"));
        assert!(!body["update"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn content_reads_beyond_the_queue_are_refused_with_retry_after() {
    // One decode at a time and four waiting: of twelve reads at once, the first five are
    // served and some of the others refused.
    let server = TestServer::start(
        &(RELAXED.to_owned() + "[documents]\nmax_content_reads = 1\nmax_content_roots = 5\n"),
    )
    .await;
    let token = server.register(&unique("u")).await;
    let mut client = DocClient::connect(&server.addr(), "busy", &token).await;
    client
        .send_message(Message::Sync(SyncMessage::Update(many_roots(ROOTS))))
        .await;
    client.sync().await;
    let reads: Vec<_> = (0..12)
        .map(|_| {
            let (url, http, token) = (server.url().clone(), server.http().clone(), token.clone());
            tokio::spawn(async move {
                let resp = tokio::time::timeout(
                    Duration::from_secs(120),
                    http.get(format!("{url}/api/docs/busy/content"))
                        .bearer_auth(&token)
                        .send(),
                )
                .await
                .expect("answered in time")
                .unwrap();
                let status = resp.status().as_u16();
                let retry = resp.headers().get("retry-after").cloned();
                let body: serde_json::Value = resp.json().await.unwrap();
                (status, retry, body)
            })
        })
        .collect();
    let mut served = 0;
    let mut refused = 0;
    for read in reads {
        let (status, retry, body) = read.await.unwrap();
        match status {
            200 => {
                served += 1;
                assert_eq!(body["text"].as_object().unwrap().len(), 5);
            }
            503 => {
                refused += 1;
                assert_eq!(body["code"], "server_busy");
                assert!(retry.is_some(), "Retry-After");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(served + refused, 12);
    assert!(
        served >= 5,
        "one running and four waiting are served: {served}"
    );
    assert!(refused >= 1, "the rest are refused: {served} served");
    // Once they are done, reads are served again.
    let (status, _, _) = get_slow(&server, "/api/docs/busy/content", &token).await;
    assert_eq!(status, 200);
}

fn entry(clock: u32, json: &str) -> AwarenessUpdateEntry {
    AwarenessUpdateEntry {
        clock,
        json: json.into(),
    }
}

fn awareness(entries: &[(u64, u32, &str)]) -> Message {
    let mut update = AwarenessUpdate {
        clients: Default::default(),
    };
    for (id, clock, json) in entries {
        update
            .clients
            .insert(ClientID::new(*id), entry(*clock, json));
    }
    Message::Awareness(update)
}

/// True when `client` has heard a state for `id` containing `needle`.
fn heard(client: &DocClient, id: u64, needle: &str) -> bool {
    client.awareness.iter().any(|u| {
        u.clients
            .get(&ClientID::new(id))
            .is_some_and(|e| e.json.contains(needle))
    })
}

#[tokio::test]
async fn oversized_or_malformed_awareness_states_close_the_connection() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let big = format!(r#"{{"user":{{"name":"{}"}}}}"#, "x".repeat(17 * 1024));
    let cases: [(&str, String); 5] = [
        ("larger than max_awareness_state", big),
        ("not JSON", "{not json".to_owned()),
        ("an array", "[1,2,3]".to_owned()),
        ("a string", r#""alice""#.to_owned()),
        ("a number", "42".to_owned()),
    ];
    for (what, state) in cases {
        let mut client = DocClient::connect(&server.addr(), "shapes", &token).await;
        client.send_message(awareness(&[(7, 1, &state)])).await;
        assert_eq!(client.close_code().await, Some(4006), "{what}");
    }
    // Objects and null (a client leaving) are what y-protocols sends: accepted.
    let mut client = DocClient::connect(&server.addr(), "shapes", &token).await;
    client
        .send_message(awareness(&[(7, 1, r#"{"user":{"name":"a"}}"#)]))
        .await;
    client.send_message(awareness(&[(7, 2, "null")])).await;
    client.sync().await;
    assert!(client.stays_open(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn one_connection_announces_a_bounded_number_of_awareness_clients() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    // Eight client ids (the default) from one connection are accepted, in one frame or several.
    let mut ok = DocClient::connect(&server.addr(), "crowd", &token).await;
    let eight: Vec<(u64, u32, &str)> = (1..=8).map(|id| (id, 1, r#"{"n":1}"#)).collect();
    ok.send_message(awareness(&eight[..4])).await;
    ok.send_message(awareness(&eight[4..])).await;
    ok.sync().await;
    assert!(ok.stays_open(Duration::from_millis(200)).await);
    // Renewing them is fine too.
    let renewed: Vec<(u64, u32, &str)> = (1..=8).map(|id| (id, 2, r#"{"n":2}"#)).collect();
    ok.send_message(awareness(&renewed)).await;
    ok.sync().await;
    // A ninth fresh id closes the connection that announces it.
    let mut greedy = DocClient::connect(&server.addr(), "crowd", &token).await;
    let nine: Vec<(u64, u32, &str)> = (100..109).map(|id| (id, 1, r#"{"n":1}"#)).collect();
    greedy.send_message(awareness(&nine)).await;
    assert_eq!(greedy.close_code().await, Some(4006));
    // Its states are gone with it; the first connection is unaffected.
    let mut late = DocClient::new();
    late.open(&server.addr(), "crowd", &token).await.unwrap();
    late.sync().await;
    assert!(heard(&late, 8, r#""n":2"#), "{:?}", late.awareness);
    assert!(!(100..109).any(|id| heard(&late, id, "n")));
}

#[tokio::test]
async fn a_connection_cannot_change_another_connections_awareness_state() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let mallory = server.register(&unique("mallory")).await;
    let mut a = DocClient::connect(&server.addr(), "spoof", &alice).await;
    let mut m = DocClient::connect(&server.addr(), "spoof", &mallory).await;
    let mut watcher = DocClient::connect(&server.addr(), "spoof", &alice).await;
    a.send_message(awareness(&[(11, 1, r#"{"user":"alice"}"#)]))
        .await;
    watcher
        .pump_until(|c, _| heard(c, 11, "alice"))
        .await
        .unwrap();
    // Mallory sends a newer state (and a removal) for alice's client id: ignored.
    m.send_message(awareness(&[(11, 5, r#"{"user":"mallory"}"#)]))
        .await;
    m.send_message(awareness(&[(11, 9, "null")])).await;
    // Alice's own renewal (clock 2) still counts, so mallory's clocks were never applied.
    a.send_message(awareness(&[(11, 2, r#"{"user":"alice-2"}"#)]))
        .await;
    watcher
        .pump_until(|c, _| heard(c, 11, "alice-2"))
        .await
        .unwrap();
    assert!(!heard(&watcher, 11, "mallory"));
    assert!(watcher.awareness.iter().all(|u| u
        .clients
        .get(&ClientID::new(11))
        .is_none_or(|e| &*e.json != "null")));
    // Once alice's connection is gone, the id is free again.
    a.drop_connection();
    watcher
        .pump_until(|c, _| {
            c.awareness.iter().any(|u| {
                u.clients
                    .get(&ClientID::new(11))
                    .is_some_and(|e| &*e.json == "null")
            })
        })
        .await
        .unwrap();
    m.send_message(awareness(&[(11, 20, r#"{"user":"reused"}"#)]))
        .await;
    watcher
        .pump_until(|c, _| heard(c, 11, "reused"))
        .await
        .unwrap();
}

#[tokio::test]
async fn awareness_changes_beyond_the_rate_are_dropped() {
    let server = TestServer::start(
        &(RELAXED.to_owned() + "[documents]\nawareness_per_second = 1\nawareness_burst = 3\n"),
    )
    .await;
    let token = server.register(&unique("u")).await;
    let mut sender = DocClient::connect(&server.addr(), "rate", &token).await;
    let mut watcher = DocClient::connect(&server.addr(), "rate", &token).await;
    let started = std::time::Instant::now();
    const SENT: u32 = 40;
    for clock in 1..=SENT {
        let state = format!(r#"{{"n":{clock}}}"#);
        sender.send_message(awareness(&[(21, clock, &state)])).await;
    }
    // A document round trip after the last one: the server has handled all of them, and
    // whatever it relayed to the watcher was queued before the watcher's own answer.
    sender.sync().await;
    watcher.sync().await;
    let elapsed = started.elapsed().as_secs_f64();
    let relayed = watcher
        .awareness
        .iter()
        .filter(|u| u.clients.contains_key(&ClientID::new(21)))
        .count();
    let allowed = 3 + (elapsed * 1.0).ceil() as usize;
    assert!(relayed >= 1, "the first ones pass");
    assert!(
        relayed <= allowed,
        "{relayed} of {SENT} relayed in {elapsed:.2}s; at most {allowed} allowed"
    );
    // Dropping is not closing.
    assert!(sender.stays_open(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn repeated_awareness_is_not_relayed_again() {
    // y-websocket clients send other clients' states back (their awareness re-broadcasts every
    // update it applies): the server relays only what changed its own state.
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut a = DocClient::connect(&server.addr(), "echo", &token).await;
    let mut b = DocClient::connect(&server.addr(), "echo", &token).await;
    let mut watcher = DocClient::connect(&server.addr(), "echo", &token).await;
    a.send_message(awareness(&[(31, 1, r#"{"u":"a"}"#)])).await;
    watcher.pump_until(|c, _| heard(c, 31, "a")).await.unwrap();
    for _ in 0..5 {
        b.send_message(awareness(&[(31, 1, r#"{"u":"a"}"#)])).await;
    }
    b.sync().await;
    watcher.sync().await;
    let copies = watcher
        .awareness
        .iter()
        .filter(|u| u.clients.contains_key(&ClientID::new(31)))
        .count();
    assert_eq!(copies, 1, "echoes are not relayed");
}

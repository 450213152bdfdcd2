//! Live analytics: `metrics_update` custom events on the admins' channel at
//! `analytics.interval`, their numbers moving as traffic flows, kept for a dashboard opened
//! later, and hidden from members.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

#[tokio::test]
async fn admins_see_the_numbers_move() {
    let server = TestServer::builder()
        .config(&format!("{RELAXED}\n[analytics]\ninterval = \"200ms\"\n"))
        .with_root_admin()
        .start()
        .await;
    let root = server.root().await;
    let alice = server.register("alice").await;
    server.create_channel(&alice, "busy").await;

    // The admins' channel exists once the first update is out; a member may not read it.
    let mut r = server.connect(Some(&root)).await;
    let subscribed = tokio::time::timeout(TIMEOUT, async {
        loop {
            let reply = r
                .request(json!({"type": "subscribe", "channel": "admin-dashboard"}))
                .await;
            if reply["type"] == "reply" {
                return reply;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the analytics channel appears");
    assert_eq!(subscribed["result"]["channel"], "admin-dashboard");
    // Not a conversation: channel lists (clients' sidebars) leave it out, even for admins.
    let listed = r.ok(json!({"type": "channel_list"})).await;
    let names: Vec<&str> = listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(!names.contains(&"admin-dashboard"), "{names:?}");
    let mut a = server.connect(Some(&alice)).await;
    a.err(
        json!({"type": "subscribe", "channel": "admin-dashboard"}),
        "forbidden",
    )
    .await;
    a.err(
        json!({"type": "publish", "channel": "admin-dashboard", "event": "metrics_update", "data": {}}),
        "forbidden",
    )
    .await;

    let update = |r: &Value| r["type"] == "event" && r["kind"] == "custom";
    let first = r.wait_for(update).await;
    assert_eq!(first["event"], "metrics_update");
    assert_eq!(first["publisher"]["name"], "parley");
    assert!(first["seq"].as_u64().is_some(), "durable: {first}");
    let data = &first["data"];
    for key in [
        "active_users",
        "connections",
        "messages",
        "events",
        "errors",
        "rate_limited",
        "webhook_backlog",
    ] {
        assert!(data[key].as_u64().is_some(), "{key}: {data}");
    }
    assert!(data["connections"].as_u64().unwrap() >= 2, "{data}");
    assert!(data["active_users"].as_u64().unwrap() >= 2, "{data}");

    // Traffic: messages and an error; the next updates count them.
    for n in 0..5 {
        a.ok(json!({"type": "send", "channel": "busy", "text": format!("m{n}"), "client_id": format!("c{n}")}))
            .await;
    }
    a.err(
        json!({"type": "send", "channel": "nowhere", "text": "x", "client_id": "e1"}),
        "channel_not_found",
    )
    .await;
    let moved = tokio::time::timeout(TIMEOUT, async {
        loop {
            let next = r.wait_for(update).await;
            if next["data"]["messages"].as_u64().unwrap_or(0) >= 5 {
                return next;
            }
        }
    })
    .await
    .expect("an update counting the messages");
    let data = &moved["data"];
    assert!(data["errors"].as_u64().unwrap() >= 1, "{data}");
    assert!(
        data["send_latency_ms"]["avg"].as_f64().unwrap() > 0.0,
        "{data}"
    );
    assert!(data["send_latency_ms"]["p95"].as_f64().is_some(), "{data}");
    assert_eq!(data["send_latency_ms"]["sends"].as_u64(), Some(5), "{data}");

    // A dashboard opened later draws the recent past: the updates are in the channel's log.
    let mut later = server.connect(Some(&root)).await;
    later
        .ok(json!({"type": "subscribe", "channel": "admin-dashboard", "since": 0}))
        .await;
    let replayed = later.wait_for(update).await;
    assert_eq!(replayed["event"], "metrics_update");
    assert!(
        replayed["seq"].as_u64().unwrap() <= first["seq"].as_u64().unwrap(),
        "the backlog starts before the first live update: {replayed}"
    );

    // The same past over HTTP, oldest first, for admins only.
    let (status, history) = server.get("/api/analytics", Some(&root)).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["channel"], "admin-dashboard");
    assert_eq!(history["interval_ms"], 200);
    let samples = history["samples"].as_array().unwrap();
    assert!(samples.len() >= 2, "{history}");
    let seqs: Vec<u64> = samples.iter().map(|s| s["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs.contains(&moved["seq"].as_u64().unwrap()), "{seqs:?}");
    assert!(samples
        .iter()
        .all(|s| s["data"]["at"].as_i64().unwrap() > 0));
    let (status, body) = server.get("/api/analytics", Some(&alice)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
}

#[tokio::test]
async fn the_history_keeps_the_newest_and_is_refused_when_analytics_are_off() {
    let server = TestServer::builder()
        .config(&format!(
            "{RELAXED}\n[analytics]\ninterval = \"100ms\"\nhistory = 3\n"
        ))
        .with_root_admin()
        .start()
        .await;
    let root = server.root().await;
    // Wait for well over `history` updates: only the newest 3 are kept and returned.
    let history = tokio::time::timeout(TIMEOUT, async {
        loop {
            let (status, history) = server.get("/api/analytics", Some(&root)).await;
            assert_eq!(status, 200, "{history}");
            let seqs: Vec<u64> = history["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["seq"].as_u64().unwrap())
                .collect();
            if seqs.last().is_some_and(|last| *last > 6) {
                return seqs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("updates pile up");
    assert!(history.len() <= 3, "{history:?}");
    assert!(!history.is_empty());

    let off = TestServer::builder()
        .config(&format!("{RELAXED}\n[analytics]\nenabled = false\n"))
        .with_root_admin()
        .start()
        .await;
    let root = off.root().await;
    let (status, body) = off.get("/api/analytics", Some(&root)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("analytics_disabled")),
        "{body}"
    );
}

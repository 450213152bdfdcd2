//! The TypeScript SDK (`sdk/js`, built to `sdk/js/dist`) under Node against the real server,
//! driven through sdk/js/test/driver.mjs: resume across cut connections and a server restart
//! with nothing lost, duplicated or reordered; the familiar event names and custom events;
//! refused credentials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, time::Duration};

use parley_testkit::{unique, Proxy, TestServer, RELAXED};
use parley_tests::node::NodeDriver;
use serde_json::{json, Value};
use tokio::process::Command;

fn sdk_dir() -> PathBuf {
    // As cargo gives it when the test runs (a reused build carries its old path in `env!`).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
        .join("../sdk/js")
}

/// One ParleyClient in a Node process (sdk/js/test/driver.mjs).
struct Driver;

impl Driver {
    async fn spawn() -> NodeDriver {
        let dir = sdk_dir();
        assert!(
            dir.join("dist/node.js").exists() && dir.join("node_modules/ws").exists(),
            "build the SDK first: `npm ci && npm run build` in sdk/js (scripts/test.sh does)"
        );
        NodeDriver::spawn(&dir, "test/driver.mjs", true)
    }
}

fn texts(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_sdk_resumes_across_cuts_and_a_restart_with_nothing_lost_duplicated_or_reordered() {
    let mut server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let channel = unique("room");
    server.create_channel(&alice, &channel).await;
    let (status, body) = server
        .post(
            &format!("/api/channels/{channel}/join"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let proxy = Proxy::start(server.port()).await;

    let mut sdk = Driver::spawn().await;
    let hello = sdk
        .ok(json!({"cmd": "connect", "url": proxy.url(), "token": alice}))
        .await;
    assert!(hello["user"]["name"].as_str().unwrap().starts_with("alice"));
    sdk.ok(json!({"cmd": "subscribe", "channel": channel}))
        .await;

    let mut expected_bob = Vec::new();
    let mut bob_says = |n: usize| {
        let text = format!("bob-{n}");
        expected_bob.push(text.clone());
        text
    };

    // Phase 1: both talk; alice's sends are queued at once and go out one by one.
    sdk.ok(json!({"cmd": "send_many", "channel": channel, "prefix": "a1-", "count": 10}))
        .await;
    for n in 0..5 {
        server.post_message(&bob, &channel, &bob_says(n)).await;
    }
    // Cut mid-stream: what bob says while alice is away comes with the resume.
    proxy.cut();
    for n in 5..10 {
        server.post_message(&bob, &channel, &bob_says(n)).await;
    }
    sdk.ok(json!({"cmd": "send_many", "channel": channel, "prefix": "a2-", "count": 10}))
        .await;
    proxy.cut();
    sdk.ok(json!({"cmd": "wait_messages", "channel": channel, "count": 30}))
        .await;

    // Phase 2: the server restarts while alice has sends in flight and more queued.
    sdk.ok(json!({"cmd": "send_many", "channel": channel, "prefix": "a3-", "count": 10}))
        .await;
    server.restart().await;
    for n in 10..15 {
        server.post_message(&bob, &channel, &bob_says(n)).await;
    }
    sdk.ok(json!({"cmd": "send_many", "channel": channel, "prefix": "a4-", "count": 5}))
        .await;
    proxy.cut();
    for n in 15..20 {
        server.post_message(&bob, &channel, &bob_says(n)).await;
    }

    let acks = sdk
        .ok(json!({"cmd": "wait_acks", "timeoutMs": 30000}))
        .await;
    for send in acks["sends"].as_array().unwrap() {
        assert!(send["error"].is_null(), "a send failed: {send}");
    }
    let got = sdk
        .ok(json!({"cmd": "wait_messages", "channel": channel, "count": 55, "timeoutMs": 30000}))
        .await;
    let messages = got["messages"].as_array().unwrap();
    assert!(got["resets"].as_array().unwrap().is_empty(), "{got}");
    assert!(got["gaps"].as_array().unwrap().is_empty(), "{got}");

    // Every message once, in seq order, exactly the stored history.
    let seqs: Vec<u64> = messages
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated: {seqs:?}"
    );
    let received = texts(&got["messages"]);
    let stored = server.history_texts(&alice, &channel).await;
    assert_eq!(received, stored, "the SDK saw what the server stored");
    assert_eq!(stored.len(), 55, "{stored:?}");
    // Alice's own messages are stored once each, in the order she sent them.
    let mine: Vec<&String> = stored.iter().filter(|t| t.starts_with('a')).collect();
    let sent: Vec<String> = (0..10)
        .map(|i| format!("a1-{i}"))
        .chain((0..10).map(|i| format!("a2-{i}")))
        .chain((0..10).map(|i| format!("a3-{i}")))
        .chain((0..5).map(|i| format!("a4-{i}")))
        .collect();
    assert_eq!(mine, sent.iter().collect::<Vec<_>>());
    let bobs: Vec<&String> = stored.iter().filter(|t| t.starts_with("bob")).collect();
    assert_eq!(bobs, expected_bob.iter().collect::<Vec<_>>());

    // It went through reconnects, not one lucky connection (a cut that lands while the
    // client is already reconnecting changes nothing, so fewer than the four disruptions).
    let state = sdk.ok(json!({"cmd": "state"})).await;
    let states = state["states"].as_array().unwrap();
    assert!(
        states.iter().filter(|s| *s == "reconnecting").count() >= 2,
        "{state}"
    );
    assert_eq!(state["state"], "open");
    assert_eq!(state["unacknowledged"], 0);
    sdk.ok(json!({"cmd": "close"})).await;
}

#[tokio::test]
async fn the_sdk_speaks_the_familiar_event_names_custom_events_and_batches() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let channel = unique("ops");
    server.create_channel(&alice, &channel).await;
    let (status, body) = server
        .post(
            &format!("/api/channels/{channel}/join"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let mut sdk = Driver::spawn().await;
    let hello = sdk
        .ok(json!({"cmd": "connect", "url": server.url(), "token": alice, "batchMs": 20}))
        .await;
    assert_eq!(hello["batch_ms"], 20, "a batched connection: {hello}");
    for name in ["new_message", "data_update", "reaction_update", "typing"] {
        sdk.ok(json!({"cmd": "listen", "name": name})).await;
    }
    sdk.ok(json!({"cmd": "subscribe", "channel": channel}))
        .await;

    server
        .post_message(&bob, &channel, "the numbers are in")
        .await;
    let seen = sdk.ok(json!({"cmd": "seen", "name": "new_message"})).await;
    let frame = &seen["seen"][0];
    assert_eq!(frame["kind"], "message");
    assert_eq!(frame["message"]["text"], "the numbers are in");
    let message_id = frame["message"]["id"].as_i64().unwrap();

    // A backend's custom event reaches `on('data_update')` with its data.
    let (status, body) = server
        .post(
            &format!("/api/channels/{channel}/events"),
            Some(&bob),
            json!({"event": "data_update", "data": {"rows": 3}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let seen = sdk.ok(json!({"cmd": "seen", "name": "data_update"})).await;
    assert_eq!(seen["seen"][0]["data"], json!({"rows": 3}));
    assert_eq!(seen["seen"][0]["frame"]["kind"], "custom");

    // Alice's own publish and reaction come back through the same names.
    let published = sdk
        .ok(json!({"cmd": "publish", "channel": channel, "event": "data_update", "data": {"rows": 4}, "durable": true}))
        .await;
    assert!(published["result"]["seq"].as_u64().is_some(), "{published}");
    let seen = sdk
        .ok(json!({"cmd": "seen", "name": "data_update", "count": 2}))
        .await;
    assert_eq!(seen["seen"][1]["data"], json!({"rows": 4}));
    sdk.ok(json!({"cmd": "react", "channel": channel, "id": message_id, "emoji": "👍"}))
        .await;
    let seen = sdk
        .ok(json!({"cmd": "seen", "name": "reaction_update"}))
        .await;
    assert_eq!(seen["seen"][0]["reaction"]["emoji"], "👍");

    // History pages through the SDK.
    let history = sdk
        .ok(json!({"cmd": "history", "channel": channel, "limit": 1}))
        .await;
    assert_eq!(texts(&history["messages"]), vec!["the numbers are in"]);
    sdk.ok(json!({"cmd": "close"})).await;
}

#[tokio::test]
async fn the_sdk_gives_up_on_a_refused_token_with_a_stable_code() {
    let server = TestServer::start(RELAXED).await;
    let mut sdk = Driver::spawn().await;
    let token = format!("pl_{}", "0".repeat(64));
    let reply = sdk
        .call(json!({"cmd": "connect", "url": server.url(), "token": token}))
        .await;
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(reply["code"], "invalid_credentials", "{reply}");
}

#[tokio::test]
async fn the_sdk_packs_as_a_package_versioned_with_the_protocol() {
    let dir = sdk_dir();
    let out = tempfile::tempdir().unwrap();
    let pack = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new("npm")
            .args(["pack", "--json", "--pack-destination"])
            .arg(out.path())
            .current_dir(&dir)
            .output(),
    )
    .await
    .expect("npm pack in time")
    .expect("npm runs");
    assert!(
        pack.status.success(),
        "{}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let report: Value = serde_json::from_slice(&pack.stdout).unwrap();
    let version = report[0]["version"].as_str().unwrap();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert_eq!(
        major,
        parley_protocol::PROTOCOL_VERSION,
        "the package's major version is the protocol's"
    );
    let files: Vec<&str> = report[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for needed in [
        "README.md",
        "package.json",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/node.js",
        "dist/protocol.d.ts",
    ] {
        assert!(
            files.contains(&needed),
            "{needed} missing from the package: {files:?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("src/") || f.starts_with("test/")),
        "{files:?}"
    );

    // Unpacked on its own (no node_modules around it), the package loads and speaks its protocol.
    let tarball = out.path().join(report[0]["filename"].as_str().unwrap());
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let entry = out.path().join("package/dist/node.js");
    let script = format!(
        "const m = await import({:?}); console.log(JSON.stringify({{client: typeof m.ParleyClient, login: typeof m.login, v: m.PROTOCOL_VERSION}}))",
        entry.display().to_string()
    );
    let run = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .await
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let loaded: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        loaded,
        json!({"client": "function", "login": "function", "v": parley_protocol::PROTOCOL_VERSION})
    );
}

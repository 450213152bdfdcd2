//! Interop with stock Yjs: `yjs` + `y-websocket`'s `WebsocketProvider` under Node (driven
//! through tests/interop/yclient.mjs) against the real server.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use parley_testkit::{node::NodeDriver, unique, TestServer, RELAXED};
use serde_json::{json, Value};

/// One stock Yjs client in a Node process.
struct YClient(NodeDriver);

fn interop_dir() -> PathBuf {
    manifest_dir().join("../tests/interop")
}

impl YClient {
    async fn spawn() -> Self {
        let dir = interop_dir();
        assert!(
            dir.join("node_modules/y-websocket").exists(),
            "run `npm ci` in tests/interop first (scripts/test.sh does)"
        );
        Self(NodeDriver::spawn(&dir, "yclient.mjs", false))
    }

    async fn call(&mut self, cmd: Value) -> Value {
        self.0.call(cmd).await
    }

    async fn ok(&mut self, cmd: Value) -> Value {
        let reply = self.call(cmd.clone()).await;
        assert_eq!(reply["ok"], true, "{cmd} -> {reply}");
        reply
    }

    async fn connect(&mut self, server: &TestServer, room: &str, token: &str) -> Value {
        self.ok(json!({
            "cmd": "connect",
            "url": format!("ws://{}/docs", server.addr()),
            "room": room,
            "params": {"token": token},
        }))
        .await
    }

    async fn text(&mut self) -> String {
        self.ok(json!({"cmd": "text"})).await["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn wait_text(&mut self, text: &str) {
        self.ok(json!({"cmd": "wait_text", "text": text})).await;
    }

    async fn insert(&mut self, index: u32, text: &str) {
        self.ok(json!({"cmd": "insert", "index": index, "text": text}))
            .await;
    }
}

#[tokio::test]
async fn stock_clients_converge() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let (mut a, mut b) = (YClient::spawn().await, YClient::spawn().await);
    let a_id = a.connect(&server, "shared", &alice).await["client_id"]
        .as_u64()
        .unwrap();
    let b_id = b.connect(&server, "shared", &bob).await["client_id"]
        .as_u64()
        .unwrap();
    a.insert(0, "hello").await;
    b.wait_text("hello").await;
    b.insert(5, " world").await;
    a.wait_text("hello world").await;
    // Concurrent inserts at the same spot (b offline, so neither has seen the other's):
    // Yjs puts the lower client id first, on both sides.
    b.ok(json!({"cmd": "disconnect"})).await;
    a.insert(0, "A").await;
    b.insert(0, "B").await;
    b.ok(json!({"cmd": "connect"})).await;
    let merged = if a_id < b_id {
        "ABhello world"
    } else {
        "BAhello world"
    };
    a.wait_text(merged).await;
    b.wait_text(merged).await;
    let (_, content) = server.get("/api/docs/shared/content", Some(&alice)).await;
    assert_eq!(content["text"]["content"], merged);
}

#[tokio::test]
async fn offline_edits_sync_on_reconnect() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let (mut a, mut b) = (YClient::spawn().await, YClient::spawn().await);
    a.connect(&server, "offline", &token).await;
    b.connect(&server, "offline", &token).await;
    a.insert(0, "base").await;
    b.wait_text("base").await;
    a.ok(json!({"cmd": "disconnect"})).await;
    a.insert(4, " +offline").await;
    b.insert(0, "online: ").await;
    a.ok(json!({"cmd": "connect"})).await;
    a.wait_text("online: base +offline").await;
    b.wait_text("online: base +offline").await;
    let sa = a.ok(json!({"cmd": "state"})).await;
    let sb = b.ok(json!({"cmd": "state"})).await;
    assert_eq!(sa["state_vector"], sb["state_vector"]);
}

#[tokio::test]
async fn a_late_joiner_receives_the_full_state() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut a = YClient::spawn().await;
    a.connect(&server, "history", &token).await;
    let mut expected = String::new();
    for i in 0..50 {
        let chunk = format!("line {i}\n");
        a.insert(expected.len() as u32, &chunk).await;
        expected.push_str(&chunk);
    }
    a.ok(json!({"cmd": "quit"})).await;
    let mut late = YClient::spawn().await;
    late.connect(&server, "history", &token).await;
    late.wait_text(&expected).await;
}

#[tokio::test]
async fn awareness_is_shared_and_cleared() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let (mut a, mut b) = (YClient::spawn().await, YClient::spawn().await);
    let a_id = a.connect(&server, "cursors", &alice).await["client_id"].clone();
    b.connect(&server, "cursors", &bob).await;
    a.ok(json!({"cmd": "set_awareness", "state": {"user": {"name": "alice", "color": "#f00"}, "cursor": 3}}))
        .await;
    let seen = b
        .ok(json!({"cmd": "wait_awareness", "match": {"user": {"name": "alice", "color": "#f00"}}}))
        .await;
    assert!(seen["states"].to_string().contains("alice"), "{seen}");
    // A third client joining later sees alice's state at once.
    let mut c = YClient::spawn().await;
    c.connect(&server, "cursors", &bob).await;
    c.ok(json!({"cmd": "wait_awareness", "match": {"cursor": 3}}))
        .await;
    // Alice goes: her state disappears for the others.
    a.ok(json!({"cmd": "quit"})).await;
    b.ok(json!({"cmd": "wait_awareness_gone", "client": a_id}))
        .await;
    c.ok(json!({"cmd": "wait_awareness_gone", "client": a_id}))
        .await;
}

#[tokio::test]
async fn the_document_is_intact_after_a_restart() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut a = YClient::spawn().await;
    a.connect(&server, "durable", &token).await;
    a.insert(0, "survives restarts").await;
    // The server answers a fresh client only from committed state.
    let mut check = YClient::spawn().await;
    check.connect(&server, "durable", &token).await;
    check.wait_text("survives restarts").await;
    server.restart().await;
    let mut after = YClient::spawn().await;
    after.connect(&server, "durable", &token).await;
    after.wait_text("survives restarts").await;
    // And after a kill without shutdown.
    after.insert(0, "still ").await;
    let mut check = YClient::spawn().await;
    check.connect(&server, "durable", &token).await;
    check.wait_text("still survives restarts").await;
    server.kill().await;
    server.start_again().await;
    let mut last = YClient::spawn().await;
    last.connect(&server, "durable", &token).await;
    last.wait_text("still survives restarts").await;
}

#[tokio::test]
async fn refused_clients_see_the_close_and_read_only_updates_are_rejected() {
    let server = TestServer::start(RELAXED).await;
    let owner = server.register(&unique("owner")).await;
    let reader_name = unique("reader");
    let reader = server.register(&reader_name).await;
    let (status, _) = server
        .post("/api/docs", Some(&owner), json!({"name": "readonly"}))
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .put(
            &format!("/api/docs/readonly/roles/{reader_name}"),
            Some(&owner),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, 204);
    let mut w = YClient::spawn().await;
    w.connect(&server, "readonly", &owner).await;
    w.insert(0, "by the owner").await;
    let mut r = YClient::spawn().await;
    r.connect(&server, "readonly", &reader).await;
    r.wait_text("by the owner").await;
    // The viewer's local edit is refused by the server: nobody else sees it. Its awareness
    // update travels behind the edit on the same connection, so once the owner sees it, the
    // server has handled (and refused) the edit.
    r.insert(0, "vandalism ").await;
    r.ok(json!({"cmd": "set_awareness", "state": {"after_edit": true}}))
        .await;
    w.ok(json!({"cmd": "wait_awareness", "match": {"after_edit": true}}))
        .await;
    assert_eq!(w.text().await, "by the owner");
    let mut check = YClient::spawn().await;
    check.connect(&server, "readonly", &owner).await;
    assert_eq!(check.text().await, "by the owner");
    let (_, content) = server.get("/api/docs/readonly/content", Some(&owner)).await;
    assert_eq!(content["text"]["content"], "by the owner");
    // A bad token: the upgrade is refused (the provider sees the socket fail).
    let mut bad = YClient::spawn().await;
    let reply = bad
        .call(json!({
            "cmd": "connect",
            "url": format!("ws://{}/docs", server.addr()),
            "room": "readonly",
            "params": {"token": "pl_nope"},
            "fail_on_close": true,
            "timeout_ms": 3000,
        }))
        .await;
    assert_eq!(reply["ok"], false);
    assert!(reply.to_string().contains("401"), "{reply}");
}

/// This package's directory: as cargo gives it to the running test, else as it was at build
/// time. (A build reused from a checkout at another path carries that path in `env!`.)
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}

//! Custom events (`publish`, `POST /api/channels/{name}/events`): ephemeral and durable,
//! idempotent by `client_id`, validated, resumable when durable, limited by the channel's
//! publish policy, and addressed to one user's personal channel by admins and bots.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

/// A server with an admin `root` (its token) and open registration.
async fn workspace(config: &str) -> (TestServer, String) {
    let server = TestServer::builder()
        .config(&format!("{RELAXED}\n{config}\n"))
        .with_root_admin()
        .start()
        .await;
    let root = server.root().await;
    (server, root)
}

fn publish(channel: &str, event: &str, data: Value) -> Value {
    json!({"type": "publish", "channel": channel, "event": event, "data": data})
}

/// A connection subscribed to `channel`, past its `synced` frame (a personal channel such as
/// `@me` answers with its instance's name).
async fn subscribed(server: &TestServer, token: &str, channel: &str) -> WsClient {
    let mut ws = server.connect(Some(token)).await;
    let reply = ws
        .ok(json!({"type": "subscribe", "channel": channel}))
        .await;
    let name = reply["channel"].clone();
    ws.wait_for(|f| f["type"] == "synced" && f["channel"] == name)
        .await;
    ws
}

#[tokio::test]
async fn ephemeral_events_reach_subscribers_once_per_client_id() {
    let (server, _root) = workspace("").await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    server.create_channel(&alice, "ops").await;
    let mut a = server.connect(Some(&alice)).await;
    let mut b = server.connect(Some(&bob)).await;
    b.ok(json!({"type": "channel_join", "channel": "ops"}))
        .await;
    drop(b);
    let mut b = subscribed(&server, &bob, "ops").await;

    let data = json!({"rows": [1, 2, 3], "source": "etl", "nested": {"ok": true}});
    let mut op = publish("ops", "data_update", data.clone());
    op["client_id"] = json!("u1");
    let reply = a.ok(op.clone()).await;
    assert_eq!(reply["duplicate"], false, "{reply}");
    assert!(reply.get("seq").is_none(), "{reply}");
    let event = b.event("ops", "custom").await;
    assert_eq!(event["event"], "data_update");
    assert_eq!(event["data"], data);
    assert_eq!(event["publisher"]["name"], "alice");
    assert!(event.get("seq").is_none(), "ephemeral: {event}");

    // The same client_id again: answered, not published again. A marker shows the order.
    let again = a.ok(op).await;
    assert_eq!(again["duplicate"], true, "{again}");
    a.ok(publish("ops", "marker", json!(null))).await;
    let next = b.event("ops", "custom").await;
    assert_eq!(
        next["event"], "marker",
        "the duplicate was delivered: {next}"
    );

    // Not a message: history has none.
    let (status, page) = server.get("/api/channels/ops/messages", Some(&alice)).await;
    assert_eq!(status, 200);
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn durable_events_have_a_seq_and_are_replayed_on_resume() {
    let (server, _root) = workspace("").await;
    let alice = server.register("alice").await;
    server.create_channel(&alice, "ops").await;
    let mut a = subscribed(&server, &alice, "ops").await;
    let mut op = publish(
        "ops",
        "achievement_unlocked",
        json!({"user": "alice", "badge": 7}),
    );
    op["durable"] = json!(true);
    op["client_id"] = json!("d1");
    let reply = a.ok(op.clone()).await;
    let seq = reply["seq"].as_u64().expect("a seq");
    assert_eq!(reply["duplicate"], false);
    let live = a.event("ops", "custom").await;
    assert_eq!(live["seq"].as_u64(), Some(seq));
    // Idempotent: the first one's seq, nothing stored twice.
    let again = a.ok(op).await;
    assert_eq!(
        (again["seq"].as_u64(), again["duplicate"].clone()),
        (Some(seq), json!(true))
    );
    a.ok(json!({"type": "send", "channel": "ops", "text": "after", "client_id": "m1"}))
        .await;

    // A new connection resuming from before it gets the same frame, then the message.
    let mut later = server.connect(Some(&alice)).await;
    later
        .ok(json!({"type": "subscribe", "channel": "ops", "since": seq - 1}))
        .await;
    let replayed = later.event("ops", "custom").await;
    assert_eq!(replayed, live);
    let message = later.event("ops", "message").await;
    assert_eq!(message["message"]["text"], "after");
    assert_eq!(message["seq"].as_u64(), Some(seq + 1), "stored once");
}

#[tokio::test]
async fn bad_events_are_refused_with_stable_codes() {
    let (server, _root) = workspace("[realtime]\nmax_event_size = \"1kb\"").await;
    let alice = server.register("alice").await;
    server.create_channel(&alice, "ops").await;
    let mut a = server.connect(Some(&alice)).await;
    for name in ["", "Data", "a b", "x/y", &"e".repeat(65)] {
        a.err(publish("ops", name, json!(1)), "invalid_event").await;
    }
    a.err(
        publish("ops", "big", json!({"blob": "x".repeat(2000)})),
        "event_too_large",
    )
    .await;
    let mut op = publish("ops", "fine", json!(1));
    op["client_id"] = json!("");
    a.err(op, "invalid_client_id").await;
    a.err(publish("nowhere", "fine", json!(1)), "channel_not_found")
        .await;
    // Over HTTP: the same codes, with their statuses.
    let (status, body) = server
        .post(
            "/api/channels/ops/events",
            Some(&alice),
            json!({"event": "Bad"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_event"))
    );
    let (status, body) = server
        .post(
            "/api/channels/ops/events",
            Some(&alice),
            json!({"event": "big", "data": "x".repeat(2000)}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (413, json!("event_too_large"))
    );
}

#[tokio::test]
async fn the_http_api_publishes_like_the_websocket() {
    let (server, _root) = workspace("").await;
    let alice = server.register("alice").await;
    server.create_channel(&alice, "ops").await;
    let mut a = subscribed(&server, &alice, "ops").await;
    let body = json!({"event": "metrics_update", "data": {"users": 3}, "durable": true,
                      "client_id": "h1"});
    let (status, first) = server
        .post("/api/channels/ops/events", Some(&alice), body.clone())
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["channel"], "ops");
    let event = a.event("ops", "custom").await;
    assert_eq!(event["data"], json!({"users": 3}));
    assert_eq!(event["seq"], first["seq"]);
    let (status, again) = server
        .post("/api/channels/ops/events", Some(&alice), body)
        .await;
    assert_eq!((status, again["duplicate"].clone()), (200, json!(true)));
    assert_eq!(again["seq"], first["seq"]);
    let (status, _) = server
        .post(
            "/api/channels/ops/events",
            None,
            json!({"event": "metrics_update"}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_channel_decides_who_publishes() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let mut a = server.connect(Some(&alice)).await;
    let created = a
        .ok(json!({"type": "channel_create", "channel": "announce", "publish": "admins"}))
        .await;
    assert_eq!(created["channel"]["publish"], "admins");
    a.ok(json!({"type": "channel_create", "channel": "feeds", "publish": "bots"}))
        .await;
    a.ok(json!({"type": "channel_create", "channel": "open"}))
        .await;
    let mut b = server.connect(Some(&bob)).await;
    for channel in ["announce", "feeds", "open"] {
        b.ok(json!({"type": "channel_join", "channel": channel}))
            .await;
    }
    // A member may publish where members may; not where only admins or bots may.
    b.ok(publish("open", "x", json!(1))).await;
    b.err(publish("announce", "x", json!(1)), "forbidden").await;
    b.err(publish("feeds", "x", json!(1)), "forbidden").await;
    // The channel's admin (its creator) may in `admins`; a workspace admin anywhere.
    a.ok(publish("announce", "x", json!(1))).await;
    let mut r = server.connect(Some(&root)).await;
    r.ok(publish("feeds", "x", json!(1))).await;
    r.ok(publish("announce", "x", json!(1))).await;
    // Someone outside a private channel may not publish in it.
    a.ok(json!({"type": "channel_create", "channel": "secret", "channel_type": "private"}))
        .await;
    b.err(publish("secret", "x", json!(1)), "forbidden").await;

    // A bot with the publish scope on `feeds` may publish there, and only there.
    let (status, bot) = server
        .post("/api/bots", Some(&root), json!({"name": "feedbot"}))
        .await;
    assert_eq!(status, 201, "{bot}");
    let id = bot["id"].as_i64().unwrap();
    let token = |ops: Value| json!({"channels": ["feeds", "open"], "operations": ops});
    let (status, issued) = server
        .post(
            &format!("/api/bots/{id}/tokens"),
            Some(&root),
            token(json!(["publish"])),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let bot_token = issued["token"].as_str().unwrap().to_owned();
    let mut feeds = subscribed(&server, &bob, "feeds").await;
    let mut botws = server.connect(Some(&bot_token)).await;
    botws
        .ok(publish("feeds", "data_update", json!({"n": 1})))
        .await;
    let seen = feeds.event("feeds", "custom").await;
    assert_eq!(seen["publisher"]["name"], "feedbot");
    botws
        .err(publish("announce", "x", json!(1)), "token_scope")
        .await;
    // Sending a message is another operation: outside this token's scope.
    botws
        .err(
            json!({"type": "send", "channel": "feeds", "text": "hi", "client_id": "b1"}),
            "token_scope",
        )
        .await;
    // A bot token without the publish operation cannot publish, even in `open`.
    let (_, send_only) = server
        .post(
            &format!("/api/bots/{id}/tokens"),
            Some(&root),
            token(json!(["send"])),
        )
        .await;
    let (status, body) = server
        .post(
            "/api/channels/open/events",
            Some(send_only["token"].as_str().unwrap()),
            json!({"event": "x"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!("token_scope")));
}

#[tokio::test]
async fn admins_and_bots_notify_one_person_on_their_personal_channel() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    // Bob follows his personal channel `@me` (his instance of it).
    let mut b = subscribed(&server, &bob, "@me").await;
    let mut r = server.connect(Some(&root)).await;
    let mut op = publish(
        "@me",
        "achievement_unlocked",
        json!({"badge": "first-post"}),
    );
    op["user"] = json!("bob");
    op["durable"] = json!(true);
    let reply = r.ok(op.clone()).await;
    let instance = reply["channel"].as_str().unwrap().to_owned();
    assert!(instance.starts_with("@me#"), "{reply}");
    let seen = b.wait_for(|f| f["kind"] == "custom").await;
    assert_eq!(seen["data"], json!({"badge": "first-post"}));
    assert_eq!(seen["channel"], instance.as_str());

    // Alice (no admin) may not write to bob's personal channel; nor name a user for a
    // channel that is not user_specific.
    let mut a = server.connect(Some(&alice)).await;
    a.err(op.clone(), "forbidden").await;
    server.create_channel(&alice, "plain").await;
    let mut plain = publish("plain", "x", json!(1));
    plain["user"] = json!("bob");
    r.err(plain, "invalid_request").await;
    let mut nobody = op.clone();
    nobody["user"] = json!("nobody");
    r.err(nobody, "user_not_found").await;

    // A bot whose scope names `@me` with publish may.
    let (_, bot) = server
        .post("/api/bots", Some(&root), json!({"name": "notifier"}))
        .await;
    let (status, issued) = server
        .post(
            &format!("/api/bots/{}/tokens", bot["id"]),
            Some(&root),
            json!({"channels": ["@me"], "operations": ["publish"]}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let (status, body) = server
        .post(
            "/api/channels/@me/events",
            Some(issued["token"].as_str().unwrap()),
            json!({"event": "ping", "user": "bob", "data": {"from": "bot"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let seen = b
        .wait_for(|f| f["kind"] == "custom" && f["event"] == "ping")
        .await;
    assert_eq!(seen["publisher"]["name"], "notifier");
}

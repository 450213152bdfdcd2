//! Outbound webhooks against a real receiver on a free port: Standard Webhooks headers and
//! signatures (checked with the `standardwebhooks` reference library), event types and channel
//! patterns, retries in order across a receiver that fails and comes back, dead letters and
//! replay, 410 disabling an endpoint, the admin API, and a server SIGKILLed between the commit
//! and the delivery.
#![allow(clippy::unwrap_used)]

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc, Mutex,
    },
};

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
use parley_testkit::*;
use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// Quick retries: the schedule under test, not a day of waiting.
const FAST: &str = r#"
[webhook_delivery]
retry_schedule = ["100ms", "200ms", "300ms"]
poll_interval = "50ms"
timeout = "2s"
"#;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
    /// What the receiver answered.
    status: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Received>>>,
    /// What to answer (200 until changed).
    status: Arc<AtomicU16>,
    changed: Arc<tokio::sync::Notify>,
}

/// An HTTP receiver on 127.0.0.1, recording every request.
struct Receiver {
    addr: SocketAddr,
    shared: Shared,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// On a free port.
    async fn start() -> Self {
        let shared = Shared {
            seen: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            changed: Arc::default(),
        };
        async fn record(
            State(shared): State<Shared>,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::http::StatusCode {
            let status = shared.status.load(Ordering::SeqCst);
            shared.seen.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                status,
            });
            shared.changed.notify_waiters();
            axum::http::StatusCode::from_u16(status).unwrap()
        }
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            shared,
            _task: task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    fn seen(&self) -> Vec<Received> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Waits (with the kit's timeout) until `check` holds for what was received.
    async fn until(&self, what: &str, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                let changed = self.shared.changed.notified();
                let seen = self.seen();
                if check(&seen) {
                    return seen;
                }
                changed.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}; got {:#?}", self.seen()))
    }

    /// The deliveries answered 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.seen()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

fn endpoint(url: &str, events: &[&str], channels: &[&str]) -> String {
    format!(
        "[[webhooks]]\nurl = \"{url}\"\nsecret = \"{SECRET}\"\nevents = {}\nchannels = {}\n",
        json!(events),
        json!(channels)
    )
}

/// A server (a real process) with an admin `root`, its token and these endpoints.
async fn workspace(extra: &str) -> (TestServer, String) {
    let server = TestServer::builder()
        .config(&format!("{RELAXED}\n{FAST}\n{extra}\n"))
        .with_root_admin()
        .start_process()
        .await;
    let root = server.root().await;
    (server, root)
}

/// Waits until the admin list of endpoints satisfies `check`: the list.
async fn until_listed(server: &TestServer, root: &str, check: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let (_, list) = server.get("/api/webhooks", Some(root)).await;
            if check(&list) {
                return list;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the endpoint list in time")
}

async fn say(server: &TestServer, token: &str, channel: &str, text: &str) {
    let (status, body) = server
        .post(
            &format!("/api/channels/{channel}/messages"),
            Some(token),
            json!({"text": text, "client_id": text}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn verify(received: &Received) {
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(received.body.as_bytes(), &received.headers)
        .unwrap_or_else(|e| panic!("the signature does not verify: {e:?} {received:?}"));
}

#[tokio::test]
async fn deliveries_are_signed_standard_webhooks_for_the_chosen_events() {
    let receiver = Receiver::start().await;
    let hook = endpoint(
        &receiver.url(),
        &["message.created", "custom.*"],
        &["team:*"],
    );
    let (server, root) = workspace(&hook).await;
    for channel in ["team:a", "other"] {
        server.create_channel(&root, channel).await;
    }
    say(&server, &root, "team:a", "hello hooks").await;
    say(&server, &root, "other", "not for the hook").await;
    let (status, _) = server
        .post(
            "/api/channels/team:a/events",
            Some(&root),
            json!({"event": "data_update", "data": {"rows": 3}, "durable": true}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .post(
            "/api/channels/team:a/events",
            Some(&root),
            json!({"event": "tick", "data": 1}),
        )
        .await;
    assert_eq!(status, 201);
    let seen = receiver.until("three deliveries", |s| s.len() >= 3).await;
    for r in &seen {
        verify(r);
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.id().starts_with("evt_"), "{}", r.id());
    }
    let kinds: Vec<Value> = seen.iter().map(|r| r.json()["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            json!("message.created"),
            json!("custom.data_update"),
            json!("custom.tick")
        ],
        "member.joined is not asked for, `other` is not in team:*"
    );
    let first = seen[0].json();
    assert_eq!(first["data"]["channel"], "team:a");
    assert_eq!(first["data"]["message"]["text"], "hello hooks");
    assert!(first["data"]["seq"].as_u64().is_some());
    assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(seen[1].json()["data"]["data"]["rows"], 3);
    assert!(seen[2].json()["data"].get("seq").is_none(), "ephemeral");
    // A tampered body does not verify.
    let mut forged = seen[0].clone();
    forged.body = forged.body.replace("hello hooks", "hello forged");
    assert!(standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(forged.body.as_bytes(), &forged.headers)
        .is_err());
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_in_order_until_it_recovers() {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (server, root) = workspace(&endpoint(&receiver.url(), &["message.created"], &[])).await;
    server.create_channel(&root, "ops").await;
    for text in ["one", "two", "three"] {
        say(&server, &root, "ops", text).await;
    }
    // The first is retried; the later ones of the channel wait behind it. (Recover after two
    // attempts: two more retries are left, so a slow test cannot let it run out.)
    let seen = receiver
        .until("a retry of the first", |s| s.len() >= 2)
        .await;
    let ids: Vec<String> = seen.iter().map(Received::id).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "order per channel: {ids:?}"
    );
    receiver.answer(200);
    let delivered = receiver
        .until("all three, after recovering", |s| {
            s.iter().filter(|r| r.status == 200).count() >= 3
        })
        .await;
    let texts: Vec<Value> = delivered
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.json()["data"]["message"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("one"), json!("two"), json!("three")]);
    let mut ok_ids: Vec<String> = receiver.delivered().iter().map(Received::id).collect();
    ok_ids.dedup();
    assert_eq!(ok_ids.len(), 3, "each delivered once: {ok_ids:?}");
}

#[tokio::test]
async fn dead_letters_are_replayed_and_410_disables() {
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (server, root) = workspace(&endpoint(&receiver.url(), &["*"], &["ops"])).await;
    server.create_channel(&root, "ops").await;
    // 1 attempt + 3 retries, then dead.
    receiver.until("four attempts", |s| s.len() >= 4).await;
    let list = until_listed(&server, &root, |l| l["webhooks"][0]["dead"] == 1).await;
    let hook = &list["webhooks"][0];
    assert_eq!(hook["source"], "config");
    assert!(
        hook["last_error"].as_str().unwrap().contains("503"),
        "{hook}"
    );
    let id = hook["id"].as_i64().unwrap();
    receiver.answer(200);
    let (status, replayed) = server
        .post(
            &format!("/api/webhooks/{id}/replay"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!((status, replayed["requeued"].clone()), (200, json!(1)));
    let delivered = receiver
        .until("the replayed delivery", |s| {
            s.iter().any(|r| r.status == 200)
        })
        .await;
    let ok = delivered.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(ok.json()["type"], "member.joined");
    assert_eq!(ok.id(), delivered[0].id(), "a replay keeps the webhook-id");

    // 410 Gone: the endpoint is disabled, and gets nothing more.
    receiver.answer(410);
    say(&server, &root, "ops", "gone?").await;
    let gone = until_listed(&server, &root, |l| l["webhooks"][0]["disabled"] == true).await;
    assert!(gone["webhooks"][0]["last_error"]
        .as_str()
        .unwrap()
        .contains("410"));
    let before = receiver.seen().len();
    say(&server, &root, "ops", "after gone").await;
    // A marker: a new endpoint made over the API gets the next message; the disabled one not.
    let other = Receiver::start().await;
    let (status, made) = server
        .post(
            "/api/webhooks",
            Some(&root),
            json!({"url": other.url(), "events": ["message.created"]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    say(&server, &root, "ops", "marker").await;
    other.until("the marker", |s| !s.is_empty()).await;
    assert_eq!(
        receiver.seen().len(),
        before,
        "a disabled endpoint gets nothing"
    );
}

#[tokio::test]
async fn admins_manage_endpoints_over_the_api() {
    let receiver = Receiver::start().await;
    let (server, root) = workspace(&endpoint(&receiver.url(), &["*"], &[])).await;
    let alice = server.register("alice").await;
    let (status, body) = server.get("/api/webhooks", Some(&alice)).await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    let (status, body) = server
        .post(
            "/api/webhooks",
            Some(&root),
            json!({"url": "ftp://x.example/", "events": ["*"]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_webhook"))
    );
    let (status, body) = server
        .post(
            "/api/webhooks",
            Some(&root),
            json!({"url": "http://127.0.0.1:9/x", "events": ["message.sent"]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_webhook"))
    );
    let (status, made) = server
        .post(
            "/api/webhooks",
            Some(&root),
            json!({"url": "http://127.0.0.1:9/x", "events": ["custom.*"], "channels": ["team:*"]}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let (_, list) = server.get("/api/webhooks", Some(&root)).await;
    let sources: Vec<Value> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["source"].clone())
        .collect();
    assert_eq!(sources, [json!("config"), json!("api")]);
    assert!(
        list.to_string().find("whsec_").is_none(),
        "secrets are never listed"
    );
    let config_id = list["webhooks"][0]["id"].as_i64().unwrap();
    let (status, _) = server
        .delete(&format!("/api/webhooks/{config_id}"), Some(&root))
        .await;
    assert_eq!(status, 403, "declared in the configuration");
    let api_id = made["webhook"]["id"].as_i64().unwrap();
    let (status, _) = server
        .delete(&format!("/api/webhooks/{api_id}"), Some(&root))
        .await;
    assert_eq!(status, 204);
    let (status, body) = server
        .delete(&format!("/api/webhooks/{api_id}"), Some(&root))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("webhook_not_found"))
    );
}

/// SIGKILL after the message committed and before it was delivered (the first run polls its
/// outbox once an hour, so the event is still there when the server dies): after the restart
/// it arrives, once per webhook-id.
#[tokio::test]
async fn an_event_committed_before_a_crash_is_delivered_after_the_restart() {
    let receiver = Receiver::start().await;
    let hook = endpoint(&receiver.url(), &["message.created"], &["ops"]);
    let slow = "[webhook_delivery]\npoll_interval = \"1h\"\n";
    let mut server = TestServer::builder()
        .config(&format!("{RELAXED}\n{slow}\n{hook}"))
        .with_root_admin()
        .start_process()
        .await;
    let root = server.root().await;
    server.create_channel(&root, "ops").await;
    say(&server, &root, "ops", "survives a crash").await;
    server.kill().await;
    assert!(receiver.seen().is_empty(), "delivered before the crash");
    server.set_config(&format!("{RELAXED}\n{FAST}\n{hook}"));
    server.start_again().await;
    let seen = receiver
        .until("the delivery after the restart", |s| !s.is_empty())
        .await;
    verify(&seen[0]);
    assert_eq!(
        seen[0].json()["data"]["message"]["text"],
        "survives a crash"
    );
    // Nothing more comes for it: a later message arrives alone, under another id.
    let root = server.root().await;
    say(&server, &root, "ops", "after").await;
    let seen = receiver.until("the next one", |s| s.len() >= 2).await;
    let texts: Vec<Value> = seen
        .iter()
        .map(|r| r.json()["data"]["message"]["text"].clone())
        .collect();
    assert_eq!(texts, [json!("survives a crash"), json!("after")]);
    assert_ne!(seen[0].id(), seen[1].id());
}

/// `parley-server webhook add|list|replay|remove` on the data of a running server, which picks
/// the endpoint up by itself; ephemeral events (presence) reach it too.
#[tokio::test]
async fn the_admin_cli_manages_endpoints_beside_a_running_server() {
    let receiver = Receiver::start().await;
    let (server, root) = workspace("").await;
    let out = server.admin(
        &[
            "webhook",
            "add",
            &receiver.url(),
            "--events",
            "message.created,presence.changed",
            "--channels",
            "lobby",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let bad = server.admin(&["webhook", "add", "ftp://x/", "--events", "*"], None);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("http"));

    let mut ws = server.connect(Some(&root)).await;
    ws.ok(json!({"type": "channel_create", "channel": "lobby", "channel_type": "presence"}))
        .await;
    // The server takes the new endpoint up within its poll interval: until then, what is
    // said is not captured. Say something until a delivery comes.
    let seen = tokio::time::timeout(TIMEOUT, async {
        for n in 0.. {
            say(&server, &root, "lobby", &format!("probe {n}")).await;
            let got = receiver.seen();
            if !got.is_empty() {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        unreachable!()
    })
    .await
    .expect("the endpoint added by the CLI gets deliveries");
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(seen[0].body.as_bytes(), &seen[0].headers)
        .unwrap();
    // Someone arrives in the presence channel: presence.changed, an ephemeral event.
    let bob = server.register("bob").await;
    let mut b = server.connect(Some(&bob)).await;
    b.ok(json!({"type": "subscribe", "channel": "lobby"})).await;
    let presence = receiver
        .until("presence.changed", |s| {
            s.iter().any(|r| r.json()["type"] == "presence.changed")
        })
        .await;
    let event = presence
        .iter()
        .find(|r| r.json()["type"] == "presence.changed")
        .unwrap()
        .json();
    assert_eq!(event["data"]["channel"], "lobby");
    assert_eq!(event["data"]["user"]["name"], "bob");

    let list = server.admin(&["webhook", "list"], None);
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        text.contains(&receiver.url()) && text.contains("pending"),
        "{text}"
    );
    let id = text.split('\t').next().unwrap().trim().to_owned();
    let replay = server.admin(&["webhook", "replay", &id], None);
    assert!(replay.status.success());
    let remove = server.admin(&["webhook", "remove", &id], None);
    assert!(
        remove.status.success(),
        "{}",
        String::from_utf8_lossy(&remove.stderr)
    );
    let (_, listed) = server.get("/api/webhooks", Some(&root)).await;
    assert_eq!(listed["webhooks"], json!([]));
    let gone = server.admin(&["webhook", "remove", &id], None);
    assert!(!gone.status.success());
}

#[tokio::test]
async fn a_new_document_is_announced() {
    let receiver = Receiver::start().await;
    let (server, root) = workspace(&endpoint(
        &receiver.url(),
        &["document.created"],
        &["team:*"],
    ))
    .await;
    server.create_channel(&root, "team:a").await;
    let (status, doc) = server
        .post(
            "/api/docs",
            Some(&root),
            json!({"name": "plan", "title": "The plan", "channel": "team:a"}),
        )
        .await;
    assert_eq!(status, 201, "{doc}");
    let seen = receiver.until("document.created", |s| !s.is_empty()).await;
    verify(&seen[0]);
    let body = seen[0].json();
    assert_eq!(body["type"], "document.created");
    assert_eq!(body["data"]["channel"], "team:a");
    assert_eq!(body["data"]["doc"]["name"], "plan");
    assert_eq!(body["data"]["doc"]["title"], "The plan");
    assert_eq!(body["data"]["doc"]["creator"]["name"], "root");
}

/// Inbound hooks, Slack-compatible: a URL an admin makes posts `{"text"}` to one channel as
/// a bot; a wrong secret, another hook's id or a disabled bot get nothing in.
#[tokio::test]
async fn inbound_hooks_post_as_a_bot() {
    let (server, root) = workspace("").await;
    server.create_channel(&root, "alerts").await;
    let (status, bot) = server
        .post(
            "/api/bots",
            Some(&root),
            json!({"name": "ci", "display_name": "CI"}),
        )
        .await;
    assert_eq!(status, 201, "{bot}");
    let bot_id = bot["id"].as_i64().unwrap();
    let alice = server.register("alice").await;
    let (status, body) = server
        .post(
            "/api/hooks",
            Some(&alice),
            json!({"channel": "alerts", "bot": bot_id}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    let (status, hook) = server
        .post(
            "/api/hooks",
            Some(&root),
            json!({"channel": "alerts", "bot": bot_id}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let path = hook["path"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with(&format!("/hooks/{}/", hook["id"])),
        "{path}"
    );

    let post = |path: String, body: String| {
        let http = server.http().clone();
        let url = format!("{}{path}", server.url());
        async move {
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, text) = post(
        path.clone(),
        r#"{"text": "build 42 deployed", "username": "x"}"#.into(),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, "ok"));
    let history = server.history(&root, "alerts").await;
    let last = history.last().unwrap();
    assert_eq!(last["text"], "build 42 deployed");
    assert_eq!(last["author"]["name"], "ci");

    let (status, text) = post(path.clone(), r#"{"text": "  "}"#.into()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("message_empty"), "{text}");
    let (status, text) = post(path.clone(), "not json".into()).await;
    assert!(status == 400 && text.contains("invalid_request"), "{text}");
    let wrong_secret = format!("{}x", &path[..path.len() - 1]);
    let (status, text) = post(wrong_secret, r#"{"text": "hi"}"#.into()).await;
    assert!(
        status == 401 && text.contains("invalid_credentials"),
        "{text}"
    );
    let secret = path.rsplit('/').next().unwrap();
    let (status, _) = post(
        format!("/hooks/999999/{secret}"),
        r#"{"text": "hi"}"#.into(),
    )
    .await;
    assert_eq!(status, 401, "another id");
    // A disabled bot's hook stops.
    let (status, _) = server
        .post(
            &format!("/api/users/{bot_id}/disable"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = post(path, r#"{"text": "still?"}"#.into()).await;
    assert_eq!(status, 401);
}

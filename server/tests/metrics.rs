//! `GET /metrics`: the Prometheus text exposition parsed line by line, its families and their
//! types, the counters moved by real traffic (logins, WebSocket sessions, subscriptions, sends,
//! rate limits, documents), `[metrics] enabled = false`, and the token from the environment.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use parley_testkit::{ydoc::DocClient, *};
use serde_json::json;

/// One scrape, parsed: the type of each family and the value of each sample.
#[derive(Debug)]
struct Scrape {
    types: HashMap<String, String>,
    /// `name{a="x",b="y"}` (labels sorted by name) → value.
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    /// Parses the text format (version 0.0.4): `# HELP`, `# TYPE` and sample lines. Fails on
    /// anything else, on a sample whose family has no `TYPE` line, on a malformed label set, a
    /// value that is not a number, and on a sample given twice.
    fn parse(text: &str) -> Self {
        let mut types = HashMap::new();
        let mut samples = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{line}"
                );
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect(line))),
                None => (series, Vec::new()),
            };
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "metric name {name:?}"
            );
            let typed = types.iter().any(|(family, kind)| {
                name == family
                    || (kind == "histogram"
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name.strip_suffix(s) == Some(family.as_str())))
            });
            assert!(typed, "no # TYPE line for {name}");
            let key = key(name, &labels);
            assert!(samples.insert(key, value).is_none(), "twice: {line}");
        }
        Self { types, samples }
    }

    fn kind(&self, family: &str) -> &str {
        self.types
            .get(family)
            .unwrap_or_else(|| panic!("no family {family}"))
    }

    /// A sample's value; labels in any order.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .get(&key(name, &labels))
            .copied()
            .unwrap_or_else(|| panic!("no sample {}", key(name, &labels)))
    }

    /// A sample's value, 0 when the series does not exist yet (label sets made on first use).
    fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .get(&key(name, &labels))
            .copied()
            .unwrap_or(0.0)
    }
}

/// `a="x",b="y"` → pairs, with `\\`, `\"` and `\n` unescaped.
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "label name {name:?} in {text}"
        );
        assert_eq!(chars.next(), Some('"'), "quoted value in {text}");
        let mut value = String::new();
        loop {
            match chars.next().expect("closing quote") {
                '"' => break,
                '\\' => match chars.next().expect("escape") {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c} in {text}"),
                },
                c => value.push(c),
            }
        }
        labels.push((name, value));
        match chars.next() {
            None => break,
            Some(',') => {}
            Some(c) => panic!("unexpected {c:?} in {text}"),
        }
    }
    labels
}

fn key(name: &str, labels: &[(String, String)]) -> String {
    let mut labels = labels.to_vec();
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

async fn scrape(server: &TestServer) -> Scrape {
    let response = tokio::time::timeout(
        TIMEOUT,
        server
            .http()
            .get(format!("{}/metrics", server.url()))
            .send(),
    )
    .await
    .expect("metrics timed out")
    .expect("metrics request");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&response.text().await.unwrap())
}

/// Scrapes until `done` holds, for at most [`TIMEOUT`].
async fn scrape_until(server: &TestServer, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = scrape(server).await;
        if done(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not reached; last scrape {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Closes from the client's side and reads until the server's answer ends the stream.
async fn close(mut client: WsClient) {
    client.ws.close(None).await.unwrap();
    tokio::time::timeout(TIMEOUT, async {
        while let Some(Ok(_)) = client.ws.next().await {}
    })
    .await
    .expect("the server did not finish the close");
}

const CONFIG: &str = r#"
[rate_limit]
messages_per_second = 0.001
message_burst = 5
user_messages_per_second = 0
requests_per_second = 0
logins_per_second = 0.001
login_burst = 3
address_logins_per_second = 0
[documents]
idle_timeout = "200ms"
"#;

const FAMILIES: &[(&str, &str)] = &[
    ("parley_connections", "gauge"),
    ("parley_subscriptions", "gauge"),
    ("parley_messages_accepted_total", "counter"),
    ("parley_deliveries_total", "counter"),
    ("parley_ephemeral_dropped_total", "counter"),
    ("parley_rate_limited_total", "counter"),
    ("parley_store_commit_duration_seconds", "histogram"),
    ("parley_store_write_queue", "gauge"),
    ("parley_open_documents", "gauge"),
    ("parley_websocket_writers_running", "gauge"),
    ("parley_http_requests_total", "counter"),
    ("parley_login_attempts_total", "counter"),
];

const COMMITS: &str = "parley_store_commit_duration_seconds_count";
const ACCEPTED: &str = "parley_messages_accepted_total";
const DELIVERIES: &str = "parley_deliveries_total";
const CONNECTIONS: &str = "parley_connections";
const SUBSCRIPTIONS: &str = "parley_subscriptions";
const LIMITED: &str = "parley_rate_limited_total";
const LOGINS: &str = "parley_login_attempts_total";
const HTTP: &str = "parley_http_requests_total";

fn http(
    method: &'static str,
    route: &'static str,
    status: &'static str,
) -> [(&'static str, &'static str); 3] {
    [("method", method), ("route", route), ("status", status)]
}

#[tokio::test]
async fn families_are_typed_and_counters_follow_the_traffic() {
    let server = TestServer::start(CONFIG).await;
    // Families without a series yet are left out of a scrape: HTTP requests appear once one
    // was answered (the first scrape).
    let first = scrape(&server).await;
    assert!(!first.types.contains_key(HTTP), "{first:#?}");
    let start = scrape(&server).await;
    for (family, kind) in FAMILIES {
        assert_eq!(start.kind(family), *kind, "{family}");
    }
    assert_eq!(start.value(HTTP, &http("GET", "/metrics", "200")), 1.0);
    for name in start.types.keys() {
        assert!(name.starts_with("parley_"), "{name}");
    }
    assert_eq!(start.value(CONNECTIONS, &[("kind", "chat")]), 0.0);
    assert_eq!(start.value(CONNECTIONS, &[("kind", "documents")]), 0.0);
    assert_eq!(start.value(SUBSCRIPTIONS, &[]), 0.0);
    // Start-up upkeep (the first retention sweep, the search indexer) may hold a write for a
    // moment on a loaded machine; the queue is seen empty at the end, once the server is idle.
    assert!(start.value("parley_store_write_queue", &[]) <= 1.0);

    // Logins: one good, one wrong password, then alice's name is over its limit (burst 3,
    // registration took the first token).
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let login = |password: &'static str| {
        server.post(
            "/api/login",
            None,
            json!({"name": "alice", "password": password}),
        )
    };
    assert_eq!(login(PASSWORD).await.0, 200);
    assert_eq!(login("wrong password").await.0, 401);
    let (status, body) = login(PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    let after_logins = scrape(&server).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after_logins.value_or_zero(name, labels) - start.value_or_zero(name, labels)
    };
    assert_eq!(moved(LOGINS, &[("outcome", "success")]), 1.0);
    assert_eq!(moved(LOGINS, &[("outcome", "invalid_credentials")]), 1.0);
    assert_eq!(moved(LOGINS, &[("outcome", "rate_limited")]), 1.0);
    assert_eq!(moved(LIMITED, &[("limit", "login_name")]), 1.0);
    assert_eq!(moved(HTTP, &http("POST", "/api/login", "200")), 1.0);
    assert_eq!(moved(HTTP, &http("POST", "/api/login", "401")), 1.0);
    assert_eq!(moved(HTTP, &http("POST", "/api/login", "429")), 1.0);
    assert_eq!(moved(HTTP, &http("POST", "/api/register", "201")), 2.0);
    assert_eq!(
        moved(HTTP, &http("GET", "/metrics", "200")),
        1.0,
        "a scrape is counted once it is answered"
    );
    assert!(
        after_logins.value(COMMITS, &[]) > start.value(COMMITS, &[]),
        "registrations and logins are store writes"
    );

    // Two sessions, both subscribed to one channel.
    let mut a = server.connect(Some(&alice)).await;
    let mut b = server.connect(Some(&bob)).await;
    let connected = scrape_until(&server, "two chat connections", |s| {
        s.value(CONNECTIONS, &[("kind", "chat")]) == 2.0
    })
    .await;
    a.ok(json!({"type": "channel_create", "channel": "room"}))
        .await;
    a.ok(json!({"type": "subscribe", "channel": "room"})).await;
    b.ok(json!({"type": "subscribe", "channel": "room"})).await;
    let subscribed = scrape(&server).await;
    assert_eq!(
        subscribed.value(SUBSCRIPTIONS, &[]) - connected.value(SUBSCRIPTIONS, &[]),
        2.0,
        "a subscription counts once its reply is out"
    );

    // N sends within the connection's burst, then one over it.
    const N: usize = 5;
    for i in 0..N {
        a.ok(json!({"type": "send", "channel": "room", "text": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    a.err(
        json!({"type": "send", "channel": "room", "text": "one too many", "client_id": "over"}),
        "rate_limited",
    )
    .await;
    for _ in 0..N {
        b.event("room", "message").await;
    }
    let sent = scrape(&server).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        sent.value_or_zero(name, labels) - subscribed.value_or_zero(name, labels)
    };
    assert_eq!(moved(ACCEPTED, &[]), N as f64);
    assert!(
        moved(DELIVERIES, &[("kind", "durable")]) >= (2 * N) as f64,
        "each message reaches both subscribers: {}",
        moved(DELIVERIES, &[("kind", "durable")])
    );
    assert_eq!(moved(LIMITED, &[("limit", "connection_sends")]), 1.0);
    assert!(moved(COMMITS, &[]) >= 1.0, "the sends were committed");
    let sum = "parley_store_commit_duration_seconds_sum";
    assert!(sent.value(sum, &[]) >= start.value(sum, &[]));
    let inf = sent.value(
        "parley_store_commit_duration_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(inf, sent.value(COMMITS, &[]), "+Inf bucket = count");
    // A resend of a stored message (same client_id, here over HTTP) is not counted again.
    let resend = json!({"text": "m0", "client_id": "c0"});
    let (status, body) = server
        .post("/api/channels/room/messages", Some(&alice), resend)
        .await;
    assert_eq!((status, &body["duplicate"]), (200, &json!(true)), "{body}");
    let new = json!({"text": "over http", "client_id": "h1"});
    let (status, _) = server
        .post("/api/channels/room/messages", Some(&alice), new)
        .await;
    assert_eq!(status, 201);
    let posted = scrape(&server).await;
    assert_eq!(posted.value(ACCEPTED, &[]) - sent.value(ACCEPTED, &[]), 1.0);
    b.event("room", "message").await;

    // Closing both: connections and their subscriptions go back to where they started.
    close(a).await;
    close(b).await;
    let closed = scrape_until(&server, "no chat connections or subscriptions", |s| {
        s.value(CONNECTIONS, &[("kind", "chat")]) == 0.0 && s.value(SUBSCRIPTIONS, &[]) == 0.0
    })
    .await;
    // Idle: no write waits for the store.
    scrape_until(&server, "an empty write queue", |s| {
        s.value("parley_store_write_queue", &[]) == 0.0
    })
    .await;
    assert_eq!(closed.value(ACCEPTED, &[]), posted.value(ACCEPTED, &[]));
}

#[tokio::test]
async fn documents_count_as_their_own_connections_and_open_documents() {
    let server = TestServer::start(CONFIG).await;
    let token = server.register("carol").await;
    let mut doc = DocClient::connect(&server.addr(), "notes", &token).await;
    doc.insert(0, "hello").await;
    let open = scrape_until(&server, "one document connection", |s| {
        s.value(CONNECTIONS, &[("kind", "documents")]) == 1.0
    })
    .await;
    assert_eq!(open.value("parley_open_documents", &[]), 1.0);
    assert_eq!(open.value(CONNECTIONS, &[("kind", "chat")]), 0.0);
    assert_eq!(
        open.value(HTTP, &http("GET", "/docs/{name}", "101")),
        1.0,
        "route template, not the path"
    );
    doc.drop_connection();
    // The actor unloads after `idle_timeout` without connections.
    scrape_until(&server, "document closed and unloaded", |s| {
        s.value(CONNECTIONS, &[("kind", "documents")]) == 0.0
            && s.value("parley_open_documents", &[]) == 0.0
    })
    .await;
}

#[tokio::test]
async fn unmatched_paths_are_counted_under_one_label() {
    let server = TestServer::start(CONFIG).await;
    // Under /api: elsewhere the web app at / answers.
    for path in ["/api/nope", "/api/nope/again", "/api/channels/x/y/z"] {
        assert_eq!(server.get(path, None).await.0, 404, "{path}");
    }
    // The web app's answers have a label of their own (a missing file: 404 built or not).
    for path in ["/nope.js", "/nope/again.css"] {
        assert_eq!(server.get(path, None).await.0, 404, "{path}");
    }
    let now = scrape(&server).await;
    assert_eq!(now.value(HTTP, &http("GET", "unmatched", "404")), 3.0);
    assert_eq!(now.value(HTTP, &http("GET", "web", "404")), 2.0);
    assert!(
        !now.samples.keys().any(|k| k.contains("/nope")),
        "a raw path never becomes a label"
    );
}

#[tokio::test]
async fn disabled_metrics_answer_404() {
    let server = TestServer::start("[metrics]\nenabled = false\n").await;
    let (status, _) = server.get("/metrics", None).await;
    assert_eq!(status, 404);
}

/// The binary reads `PARLEY_METRICS_TOKEN` (a token of digits stays text). Tests reach the
/// server from loopback only, which needs no token: so here a token configured changes nothing
/// for loopback. The non-loopback rule is unit-tested (`http::metrics::tests`).
#[tokio::test]
async fn a_token_from_the_environment_leaves_loopback_open() {
    let mut server = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_METRICS_TOKEN", "12345678901234567890")])
        .start_process()
        .await;
    let now = scrape(&server).await;
    assert_eq!(now.kind("parley_connections"), "gauge");
    let response = tokio::time::timeout(
        TIMEOUT,
        server
            .http()
            .get(format!("{}/metrics", server.url()))
            .bearer_auth("not the token")
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        response.status(),
        200,
        "loopback is served whatever it sends"
    );
    assert!(server.stop().await.success());
}

/// An idle connection keeps no writer task: after a second without frames its writer parks
/// (`parley_websocket_writers_running` counts the others), and the next frame queued for it,
/// an event from a hub or a reply, starts it again and is delivered.
#[tokio::test]
async fn idle_connections_park_their_writers_and_the_next_frame_resumes_them() {
    const RUNNING: &str = "parley_websocket_writers_running";
    let server = TestServer::start(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let mut a = server.connect(Some(&alice)).await;
    let mut b = server.connect(Some(&bob)).await;
    a.ok(json!({"type": "channel_create", "channel": "quiet"}))
        .await;
    b.ok(json!({"type": "subscribe", "channel": "quiet"})).await;
    let busy = scrape(&server).await;
    assert_eq!(busy.value(CONNECTIONS, &[("kind", "chat")]), 2.0);
    scrape_until(&server, "both writers parked", |s| {
        s.value(RUNNING, &[]) == 0.0
    })
    .await;

    // A hub's event resumes the subscriber's writer; a reply resumes the sender's.
    let sent = a
        .ok(json!({"type": "send", "channel": "quiet", "text": "wake up", "client_id": "w1"}))
        .await;
    let event = b.event("quiet", "message").await;
    assert_eq!(event["message"]["text"], "wake up");
    assert_eq!(event["message"]["seq"], sent["message"]["seq"]);
    scrape_until(&server, "parked again", |s| s.value(RUNNING, &[]) == 0.0).await;
    // And again, from parked: a request's reply.
    let pong = b.ok(json!({"type": "ping"})).await;
    assert!(pong["server_time"].as_i64().unwrap() > 0);
    close(a).await;
    close(b).await;
}

//! Several nodes on one PostgreSQL and one Redis (docs/scaling.md), each a real server on its
//! own port, the database and Redis started by the test kit from Debian's packages: what one
//! node commits reaches subscribers on another, in order; a client resumes on a third node
//! with no gap and no duplicate; a Redis lost mid-stream costs nothing (gaps are filled from
//! PostgreSQL).
#![allow(clippy::unwrap_used)]

use parley_testkit::{postgres::Postgres, redis::Redis, *};
use serde_json::{json, Value};

struct Cluster {
    nodes: Vec<TestServer>,
    redis: Redis,
    _pg: Postgres,
}

async fn cluster(nodes: usize) -> Cluster {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    // All at once, as an orchestrator starts them: one migrates the empty database, the others
    // wait for it; channels they all ensure are made once.
    let started = futures_util::future::join_all((0..nodes).map(|_| node(&pg, &redis))).await;
    Cluster {
        nodes: started,
        redis,
        _pg: pg,
    }
}

async fn node(pg: &Postgres, redis: &Redis) -> TestServer {
    TestServer::builder()
        .config(RELAXED)
        .postgres(&pg.url())
        .envs(&[
            ("PARLEY_CLUSTER_REDIS_URL", &redis.url()),
            ("PARLEY_CLUSTER_HEARTBEAT_INTERVAL", "200ms"),
        ])
        .start()
        .await
}

/// Sends `texts` as `client` in `channel`, waiting for each ack.
async fn send_all(client: &mut WsClient, channel: &str, texts: impl IntoIterator<Item = String>) {
    for text in texts {
        client
            .ok(json!({"type": "send", "channel": channel, "text": text, "client_id": text}))
            .await;
    }
}

/// Reads message events of `channel` until `count` arrived; checks seqs follow on from `after`
/// with no gap and no duplicate. Returns their texts.
async fn read_in_order(
    client: &mut WsClient,
    channel: &str,
    after: u64,
    count: usize,
) -> Vec<String> {
    let mut expected = after + 1;
    let mut texts = Vec::new();
    while texts.len() < count {
        let frame: Value = client.recv().await;
        if frame["type"] == "event" && frame["channel"] == channel && frame["seq"].is_u64() {
            assert_eq!(seq_of(&frame), expected, "gap or duplicate at {frame}");
            expected += 1;
            if frame["kind"] == "message" {
                texts.push(frame["message"]["text"].as_str().unwrap().to_owned());
            }
        }
    }
    texts
}

#[tokio::test]
async fn what_one_node_commits_reaches_the_others_in_order_and_resumes_on_a_third() {
    let c = cluster(3).await;
    let (a, b, third) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    let alice_token = a.register("alice").await;
    let mut alice = a.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    // Bob registers on another node (the account is in the shared database) and joins there.
    let bob_token = b.register("bob").await;
    let mut bob = b.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    let sub = bob
        .ok(json!({"type": "subscribe", "channel": "team"}))
        .await;
    let epoch = sub["epoch"].as_str().unwrap().to_owned();
    let head = sub["head"].as_u64().unwrap();
    bob.wait_for(|f| f["type"] == "synced").await;

    // Alice sends on A while a second sender writes to the same channel on the third node:
    // seqs are taken in the shared database, and B delivers both streams in one order.
    let carol_token = third.register("carol").await;
    let mut carol = third.connect(Some(&carol_token)).await;
    carol
        .ok(json!({"type": "channel_join", "channel": "team"}))
        .await;
    let carol_sends = tokio::spawn(async move {
        send_all(&mut carol, "team", (0..50).map(|i| format!("c{i}"))).await;
        carol
    });
    send_all(&mut alice, "team", (0..50).map(|i| format!("a{i}"))).await;
    let _carol = carol_sends.await.unwrap();
    // Carol's join is one event, then 100 messages.
    let texts = read_in_order(&mut bob, "team", head, 100).await;
    let from = |p: char| {
        texts
            .iter()
            .filter(|t| t.starts_with(p))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        from('a'),
        (0..50).map(|i| format!("a{i}")).collect::<Vec<_>>(),
        "per-sender order"
    );
    assert_eq!(
        from('c'),
        (0..50).map(|i| format!("c{i}")).collect::<Vec<_>>(),
        "per-sender order"
    );
    let last = head + 101;

    // Bob goes away; Alice sends more; Bob resumes on the third node from where he was.
    drop(bob);
    send_all(&mut alice, "team", (50..70).map(|i| format!("a{i}"))).await;
    let mut bob = third.connect(Some(&bob_token)).await;
    let resumed = bob
        .ok(json!({"type": "subscribe", "channel": "team", "since": last, "epoch": epoch}))
        .await;
    assert!(resumed["reset"].is_null(), "{resumed}");
    let texts = read_in_order(&mut bob, "team", last, 20).await;
    assert_eq!(texts, (50..70).map(|i| format!("a{i}")).collect::<Vec<_>>());

    // B's metrics tell what crossed: events received, the two other nodes heard from.
    assert!(metric(b, "parley_cluster_messages_total{kind=\"received\"}").await >= 100.0);
    assert_eq!(metric(b, "parley_cluster_peers").await, 2.0);
    assert_eq!(
        metric(b, "parley_cluster_messages_total{kind=\"unsent\"}").await,
        0.0
    );
}

#[tokio::test]
async fn a_lost_redis_costs_no_event() {
    let mut c = cluster(2).await;
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice_token = a.register("alice").await;
    let mut alice = a.connect(Some(&alice_token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "ops"}))
        .await;
    let bob_token = b.register("bob").await;
    let mut bob = b.connect(Some(&bob_token)).await;
    bob.ok(json!({"type": "channel_join", "channel": "ops"}))
        .await;
    let head = bob.ok(json!({"type": "subscribe", "channel": "ops"})).await["head"]
        .as_u64()
        .unwrap();
    bob.wait_for(|f| f["type"] == "synced").await;
    send_all(&mut alice, "ops", (0..10).map(|i| format!("m{i}"))).await;
    // Redis dies: what Alice sends meanwhile cannot travel on pub/sub.
    c.redis.kill();
    send_all(&mut alice, "ops", (10..20).map(|i| format!("m{i}"))).await;
    c.redis.restart();
    // Nothing else is sent: B must notice by itself (its subscription comes back and brings
    // the channel up to the stored head).
    let texts = read_in_order(&mut bob, "ops", head, 20).await;
    assert_eq!(texts, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    // Live again afterwards.
    send_all(&mut alice, "ops", ["after".to_owned()]).await;
    assert_eq!(
        read_in_order(&mut bob, "ops", head + 20, 1).await,
        ["after"]
    );
}

fn names(list: &Value) -> Vec<String> {
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
async fn presence_and_typing_are_seen_from_every_node_and_a_killed_nodes_users_leave() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let config = format!("{RELAXED}\n[channels.\"lobby\"]\ntype = \"presence\"\n");
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        ("PARLEY_CLUSTER_HEARTBEAT_INTERVAL", "200ms".to_owned()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = TestServer::builder()
        .config(&config)
        .postgres(&pg.url())
        .envs(&envs)
        .start()
        .await;
    // B is a process, to be killed.
    let mut b = TestServer::builder()
        .config(&config)
        .postgres(&pg.url())
        .envs(&envs)
        .start_process()
        .await;
    let alice_token = a.register("alice").await;
    let bob_token = b.register("bob").await;
    let mut alice = a.connect(Some(&alice_token)).await;
    let sub = alice
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(names(&sub["presence"]), ["alice"]);

    let mut bob = b.connect(Some(&bob_token)).await;
    let sub = bob
        .ok(json!({"type": "subscribe", "channel": "lobby"}))
        .await;
    // Alice is in Bob's snapshot, or announced right after it (B asked A who is here).
    if names(&sub["presence"]) != ["alice", "bob"] {
        let joined = bob
            .wait_for(|f| f["kind"] == "presence" && f["user"]["name"] == "alice")
            .await;
        assert_eq!(joined["state"], "joined");
    }
    let joined = alice
        .wait_for(|f| f["kind"] == "presence" && f["user"]["name"] == "bob")
        .await;
    assert_eq!(joined["state"], "joined");
    let list = alice
        .ok(json!({"type": "presence_list", "channel": "lobby"}))
        .await;
    assert_eq!(names(&list["presence"]), ["alice", "bob"]);

    // Typing on B shows on A (members type).
    bob.ok(json!({"type": "channel_join", "channel": "lobby"}))
        .await;
    bob.ok(json!({"type": "typing", "channel": "lobby"})).await;
    let typing = alice.wait_for(|f| f["kind"] == "typing").await;
    assert_eq!(typing["user"]["name"], "bob");

    // B dies without a word: within three heartbeats Bob has left, as A sees it.
    b.kill().await;
    let left = alice
        .wait_for(|f| f["kind"] == "presence" && f["user"]["name"] == "bob")
        .await;
    assert_eq!(left["state"], "left");
    let list = alice
        .ok(json!({"type": "presence_list", "channel": "lobby"}))
        .await;
    assert_eq!(names(&list["presence"]), ["alice"]);
}

#[tokio::test]
async fn every_node_captures_webhooks_and_one_delivers_each_once() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let sink = parley_testkit::webhooks::WebhookSink::start().await;
    let url = &sink.url;
    let config = format!(
        "{RELAXED}\n[webhook_delivery]\npoll_interval = \"50ms\"\n\
         [[webhooks]]\nurl = \"{url}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
         events = [\"message.created\"]\nchannels = []\n"
    );
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            TestServer::builder()
                .config(&config)
                .postgres(&pg.url())
                .envs(&[("PARLEY_CLUSTER_REDIS_URL", &redis.url())])
                .start()
                .await,
        );
    }
    let mut clients = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let token = node.register(&format!("user{i}")).await;
        let mut client = node.connect(Some(&token)).await;
        let create = if i == 0 {
            "channel_create"
        } else {
            "channel_join"
        };
        client.ok(json!({"type": create, "channel": "team"})).await;
        clients.push(client);
    }
    for round in 0..10 {
        for (i, client) in clients.iter_mut().enumerate() {
            send_all(client, "team", [format!("n{i}-{round}")]).await;
        }
    }
    sink.wait_for(30, TIMEOUT).await;
    // Had two nodes delivered, the 30 arrivals would hold repeated ids.
    let ids = sink.ids();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 30, "{ids:?}");
    assert_eq!(ids.len(), 30, "a delivery went out twice: {ids:?}");
}

/// A metric's value in a node's `/metrics` (0 when absent).
async fn metric(node: &TestServer, name: &str) -> f64 {
    let text = node
        .http()
        .get(format!("{}/metrics", node.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Connects to `name` on `node`, retrying while the document moves between nodes (503 until
/// a dead owner's lease lapses).
async fn connect_doc(
    node: &TestServer,
    name: &str,
    token: &str,
) -> parley_testkit::ydoc::DocClient {
    let mut client = parley_testkit::ydoc::DocClient::new();
    reconnect_doc(&mut client, node, name, token).await;
    client
}

async fn reconnect_doc(
    client: &mut parley_testkit::ydoc::DocClient,
    node: &TestServer,
    name: &str,
    token: &str,
) {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            match client.try_connect(&node.addr(), name, token).await {
                Ok(()) => return,
                Err(parley_testkit::ydoc::Refused(503)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(refused) => panic!("connect to {name} refused: {refused:?}"),
            }
        }
    })
    .await
    .expect("the document opened in time");
}

#[tokio::test]
async fn one_node_serves_a_document_and_the_others_relay_to_it_until_it_dies() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        ("PARLEY_CLUSTER_HEARTBEAT_INTERVAL", "200ms".to_owned()),
        ("PARLEY_CLUSTER_DOCUMENT_LEASE", "1s".to_owned()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A is a process, to be killed.
    let mut a = TestServer::builder()
        .config(RELAXED)
        .postgres(&pg.url())
        .envs(&envs)
        .start_process()
        .await;
    let b = TestServer::builder()
        .config(RELAXED)
        .postgres(&pg.url())
        .envs(&envs)
        .start()
        .await;
    let alice_token = a.register("alice").await;
    let bob_token = b.register("bob").await;

    // Alice creates the document by opening it on A; B knows it from the store.
    let mut alice = connect_doc(&a, "plan", &alice_token).await;
    alice.insert(0, "from A. ").await;
    let (status, listed) = b.get("/api/docs", Some(&bob_token)).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["docs"][0]["name"], "plan");

    // Bob opens it through B: B relays to A, the one node that merges it.
    let mut bob = connect_doc(&b, "plan", &bob_token).await;
    bob.wait_text("from A. ").await;
    bob.insert(8, "from B.").await;
    alice.wait_text("from A. from B.").await;
    alice.insert(0, ">").await;
    bob.wait_text(">from A. from B.").await;
    assert_eq!(metric(&a, "parley_open_documents").await, 1.0);
    assert_eq!(
        metric(&b, "parley_open_documents").await,
        0.0,
        "B merges nothing"
    );
    // The content API on B reads what A committed.
    let (status, content) = b.get("/api/docs/plan/content", Some(&bob_token)).await;
    assert_eq!(status, 200, "{content}");
    assert_eq!(content["text"]["content"], ">from A. from B.", "{content}");

    // A renames it: B's directory follows (news over Redis), and Bob's relayed connection
    // closes with 4007 as on A.
    let (status, body) = a
        .patch(
            "/api/docs/plan",
            Some(&alice_token),
            json!({"name": "roadmap"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bob.close_code().await, Some(4007));
    tokio::time::timeout(TIMEOUT, async {
        while b.get("/api/docs/roadmap", Some(&bob_token)).await.0 != 200 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("B learns the new name");
    assert_eq!(b.get("/api/docs/plan", Some(&bob_token)).await.0, 404);

    // A dies with the document open. Within the lease B takes it over and serves it from
    // what A committed; Bob edits on, and a new reader on B sees everything.
    let mut bob = connect_doc(&b, "roadmap", &bob_token).await;
    bob.wait_text(">from A. from B.").await;
    a.kill().await;
    let code = bob.close_code().await;
    assert!(matches!(code, None | Some(1012)), "{code:?}");
    let mut bob = connect_doc(&b, "roadmap", &bob_token).await;
    assert_eq!(bob.text(), ">from A. from B.");
    bob.insert(0, "after A: ").await;
    let carol_token = b.register("carol").await;
    let mut carol = connect_doc(&b, "roadmap", &carol_token).await;
    carol.wait_text("after A: >from A. from B.").await;
    assert_eq!(metric(&b, "parley_open_documents").await, 1.0);
}

#[tokio::test]
async fn a_node_that_lost_its_lease_writes_nothing_more_and_its_clients_move() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    // A long lease: A does not renew during the test, so the lease can be taken from it.
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        ("PARLEY_CLUSTER_DOCUMENT_LEASE", "60s".to_owned()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&envs)
            .start()
            .await;
        nodes.push(node);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let alice_token = a.register("alice").await;
    let bob_token = b.register("bob").await;
    let mut alice = connect_doc(a, "plan", &alice_token).await;
    alice.insert(0, "one ").await;
    let (_, info) = a.get("/api/docs/plan", Some(&alice_token)).await;
    let id = info["id"].as_i64().unwrap();
    // Committed on A (the content API answers from committed state).
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let (_, content) = a.get("/api/docs/plan/content", Some(&alice_token)).await;
            if content["text"]["content"] == "one " {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("A commits the first edit");

    // As if A had paused past its lease: the lease is gone, and B takes the document.
    let deleted = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "DEL",
            &format!("parley:doc:{id}"),
        ])
        .output()
        .unwrap();
    assert!(deleted.status.success(), "{deleted:?}");
    let mut bob = connect_doc(b, "plan", &bob_token).await;
    bob.wait_text("one ").await;
    assert_eq!(metric(b, "parley_open_documents").await, 1.0);

    // A still holds its actor; its next write is refused by the store's claim, and Alice is
    // sent to the new owner (4008). Her edit is not lost: her reconnect's sync carries it.
    alice.insert(4, "two").await;
    assert_eq!(alice.close_code().await, Some(4008));
    reconnect_doc(&mut alice, a, "plan", &alice_token).await;
    alice.insert(0, "zero ").await;
    bob.wait_text("zero one two").await;
    alice.wait_text("zero one two").await;
    let stored = b.get("/api/docs/plan/content", Some(&bob_token)).await.1;
    assert_eq!(stored["text"]["content"], "zero one two", "{stored}");
    assert_eq!(metric(a, "parley_open_documents").await, 0.0, "A let it go");
}

#[tokio::test]
async fn per_user_and_login_limits_are_counted_across_nodes() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    // Bursts only: at these rates nothing refills while the test runs.
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        (
            "PARLEY_RATE_LIMIT_USER_MESSAGES_PER_SECOND",
            "0.01".to_owned(),
        ),
        ("PARLEY_RATE_LIMIT_USER_MESSAGE_BURST", "6".to_owned()),
        ("PARLEY_RATE_LIMIT_LOGINS_PER_SECOND", "0.01".to_owned()),
        ("PARLEY_RATE_LIMIT_LOGIN_BURST", "4".to_owned()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&envs)
            .start()
            .await;
        nodes.push(node);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let token = a.register("alice").await;
    let mut on_a = a.connect(Some(&token)).await;
    on_a.ok(json!({"type": "channel_create", "channel": "team"}))
        .await;
    let mut on_b = b.connect(Some(&token)).await;
    on_b.ok(json!({"type": "channel_join", "channel": "team"}))
        .await;

    // Alice's sends alternate between the nodes: together they get one burst, not one each.
    let mut accepted = 0;
    for n in 0..12 {
        let client = if n % 2 == 0 { &mut on_a } else { &mut on_b };
        let reply = client
            .request(json!({"type": "send", "channel": "team", "text": format!("m{n}"), "client_id": format!("m{n}")}))
            .await;
        if reply["type"] == "reply" {
            accepted += 1;
        } else {
            assert_eq!(reply["code"], "rate_limited", "{reply}");
            assert!(reply["retry_after_ms"].as_u64().unwrap() > 0, "{reply}");
        }
    }
    assert_eq!(accepted, 6, "the burst is shared by both nodes");

    // Guessing a password through both nodes: one login budget for the name.
    let mut statuses = Vec::new();
    for n in 0..6 {
        let node = if n % 2 == 0 { a } else { b };
        let (status, _) = node
            .post(
                "/api/login",
                None,
                json!({"name": "bob", "password": "wrong password"}),
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn attachments_in_a_shared_directory_are_served_by_every_node() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let shared = tempfile::tempdir().unwrap();
    let config = format!(
        "{RELAXED}\n[attachments]\ndir = \"{}\"\n",
        shared.path().display()
    );
    let start = || {
        TestServer::builder()
            .config(&config)
            .postgres(&pg.url())
            .envs(&[("PARLEY_CLUSTER_REDIS_URL", &redis.url())])
            .start()
    };
    let (a, b) = (start().await, start().await);
    let token = a.register("alice").await;
    let bytes = b"notes written on node A\n".repeat(200);
    let uploaded: Value = a
        .http()
        .post(format!("{}/api/attachments?name=notes.txt", a.url()))
        .bearer_auth(&token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{uploaded}"));
    let download = |node: &TestServer| {
        node.http()
            .get(format!("{}/api/attachments/{id}", node.url()))
            .bearer_auth(&token)
            .send()
    };
    let got = download(&b).await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        got.bytes().await.unwrap().to_vec(),
        bytes,
        "B serves A's upload"
    );

    // A node starting on the shared directory sweeps nothing another node may be writing:
    // a fresh temporary file and a fresh content file no row names yet both stay.
    let stray = shared.path().join("incoming").join("upload-elsewhere");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"half an upload").unwrap();
    let sha = "ab".repeat(32);
    let placed = shared.path().join("ab").join(&sha);
    std::fs::create_dir_all(placed.parent().unwrap()).unwrap();
    std::fs::write(&placed, b"placed, its row not yet committed").unwrap();
    let c = start().await;
    assert!(
        stray.exists() && placed.exists(),
        "a starting node took another's files"
    );
    let got = download(&c).await.unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn attachments_in_postgres_are_served_by_every_node() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let start = || {
        TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&[("PARLEY_CLUSTER_REDIS_URL", &redis.url())])
            .start()
    };
    let (a, b) = (start().await, start().await);
    let token = a.register("alice").await;
    let bytes: Vec<u8> = (0..1_500_000u32).map(|i| (i % 241) as u8).collect();
    let uploaded: Value = a
        .http()
        .post(format!("{}/api/attachments?name=data.bin", a.url()))
        .bearer_auth(&token)
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got = b
        .http()
        .get(format!("{}/api/attachments/{}", b.url(), uploaded["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert!(
        got.bytes().await.unwrap().to_vec() == bytes,
        "B serves what A stored, no shared directory needed"
    );
}

#[tokio::test]
async fn an_upload_session_opened_on_one_node_continues_and_finishes_on_another() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let start = || {
        TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&[("PARLEY_CLUSTER_REDIS_URL", &redis.url())])
            .start()
    };
    let (a, b) = (start().await, start().await);
    let token = a.register("alice").await;
    let file: Vec<u8> = (0..2_300_000u32).map(|i| (i % 239) as u8).collect();
    let (status, opened) = a
        .post(
            "/api/uploads",
            Some(&token),
            json!({"name": "big.bin", "size": file.len()}),
        )
        .await;
    assert_eq!(status, 201, "{opened}");
    let id = opened["upload_id"].as_str().unwrap().to_owned();
    let put = |node: &TestServer, offset: usize, end: usize| {
        node.http()
            .put(format!("{}/api/uploads/{id}?offset={offset}", node.url()))
            .bearer_auth(&token)
            .body(file[offset..end].to_vec())
            .send()
    };
    // The first part through A; then the client lands on B, which knows the session.
    let first = put(&a, 0, 1_000_000).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    let (status, state) = b.get(&format!("/api/uploads/{id}"), Some(&token)).await;
    assert_eq!((status, state["received"].as_u64()), (200, Some(1_000_000)));
    // A chunk from the wrong place is refused with where to resume, on any node.
    let wrong = put(&b, 5, 10).await.unwrap();
    assert_eq!(wrong.status().as_u16(), 409);
    let rest = put(&b, 1_000_000, file.len()).await.unwrap();
    assert_eq!(rest.status().as_u16(), 200);
    let (status, attachment) = b
        .post(
            &format!("/api/uploads/{id}/finish"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{attachment}");
    let got = a
        .http()
        .get(format!("{}/api/attachments/{}", a.url(), attachment["id"]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        got.bytes().await.unwrap().to_vec() == file,
        "the whole file, in order"
    );
    let (status, _) = a.get(&format!("/api/uploads/{id}"), Some(&token)).await;
    assert_eq!(status, 404, "a finished session is gone everywhere");
    assert_eq!(
        pg.psql("postgres", "SELECT count(*) FROM upload_parts")
            .trim(),
        "0",
        "its bytes too"
    );
}

/// A browser's relayed connection: the owner sees the Host the browser used, so the web app's
/// same-origin rule holds there as on the node the browser reached.
#[tokio::test]
async fn a_browsers_document_connection_is_relayed_with_its_host() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let start = || {
        TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&[("PARLEY_CLUSTER_REDIS_URL", &redis.url())])
            .start()
    };
    let (a, b) = (start().await, start().await);
    let token = a.register("alice").await;
    // A serves the document.
    let _alice = connect_doc(&a, "plan", &token).await;
    let mut request = format!("ws://{}/docs/plan?token={token}", b.addr())
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("host", "chat.example:8443".parse().unwrap());
    headers.insert("origin", "https://chat.example:8443".parse().unwrap());
    let connected = tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    match connected {
        Ok((_, response)) => assert_eq!(response.status().as_u16(), 101),
        Err(tokio_tungstenite::tungstenite::Error::Http(refusal)) => panic!(
            "refused {}: {}",
            refusal.status(),
            String::from_utf8_lossy(refusal.body().as_deref().unwrap_or_default())
        ),
        Err(err) => panic!("{err}"),
    }
    assert_eq!(
        metric(&b, "parley_open_documents").await,
        0.0,
        "relayed, not opened on B"
    );
}

/// Upgrade status of a `/ws` connection to `node` (101 when it opened); the socket is kept.
async fn try_ws(
    node: &TestServer,
    token: Option<&str>,
    kept: &mut Vec<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    >,
) -> u16 {
    let url = match token {
        Some(token) => format!("{}?token={token}", node.ws_url()),
        None => node.ws_url(),
    };
    match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
    {
        Ok((ws, response)) => {
            kept.push(ws);
            response.status().as_u16()
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(refusal)) => refusal.status().as_u16(),
        Err(err) => panic!("{err}"),
    }
}

#[tokio::test]
async fn connection_caps_per_address_count_every_node() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        ("PARLEY_CLUSTER_HEARTBEAT_INTERVAL", "200ms".to_owned()),
        (
            "PARLEY_REALTIME_MAX_CONNECTIONS_PER_ADDRESS",
            "3".to_owned(),
        ),
        (
            "PARLEY_REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS",
            "1".to_owned(),
        ),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let node = TestServer::builder()
            .config(RELAXED)
            .postgres(&pg.url())
            .envs(&envs)
            .start()
            .await;
        nodes.push(node);
    }
    let (a, b) = (&nodes[0], &nodes[1]);
    let token = a.register("alice").await;
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    // A node's first heartbeat marks it alive; until then its counts would not be believed.
    let port = redis.port().to_string();
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let keys = std::process::Command::new("redis-cli")
                .args(["-p", &port, "--raw", "KEYS", "parley:alive:*"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&keys.stdout).lines().count() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both nodes alive in Redis");
    assert_eq!(try_ws(a, Some(&token), &mut on_a).await, 101);
    assert_eq!(try_ws(b, Some(&token), &mut on_b).await, 101);
    assert_eq!(try_ws(a, Some(&token), &mut on_a).await, 101);
    // Three across the two nodes: a fourth is refused on either.
    assert_eq!(try_ws(b, Some(&token), &mut on_b).await, 429);
    assert_eq!(try_ws(a, Some(&token), &mut on_a).await, 429);
    // One closes on A: B admits one again (once A has given its count back).
    on_a.pop();
    let mut admitted = false;
    for _ in 0..100 {
        if try_ws(b, Some(&token), &mut on_b).await == 101 {
            admitted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        admitted,
        "a closed connection is given back to the shared count"
    );
    // Anonymous connections have their own, smaller share, across nodes too.
    on_a.clear();
    on_b.clear();
    tokio::time::timeout(TIMEOUT, async {
        while try_ws(a, None, &mut on_a).await != 101 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("an anonymous connection once the others closed");
    assert_eq!(try_ws(b, None, &mut on_b).await, 429);
}

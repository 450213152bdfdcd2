//! Chaos on several nodes (docs/scaling.md): three server processes on one PostgreSQL and one
//! Redis, behind a round-robin TCP balancer. Five clients each send 1,000 messages through
//! their outbox, and two of them edit one document, while nodes are SIGKILLed and restarted,
//! connections are cut at random and Redis restarts once. Afterwards: every message is stored
//! once, each sender's order is kept, every client's cache equals the stored log seq for seq,
//! the document replicas converge with nothing lost, and every message's webhook arrived (under
//! one `webhook-id` each, however often it was sent).
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use common::*;
use parley_client::{Client, ClientConfig};
use parley_testkit::{postgres::Postgres, redis::Redis, webhooks::WebhookSink};
use rand::{Rng, SeedableRng};

const NODES: usize = 3;
const CLIENTS: usize = 5;
const MESSAGES: usize = 1000;
/// The two clients that also edit the document, every this many messages.
const EDITORS: usize = 2;
const EDIT_EVERY: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_cuts_and_a_redis_restart_on_three_nodes_lose_duplicate_and_reorder_nothing() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let mut redis = tokio::task::spawn_blocking(Redis::start).await.unwrap();
    let sink = WebhookSink::start().await;
    let config = format!(
        "{RELAXED}\n[webhook_delivery]\npoll_interval = \"50ms\"\n\
         [[webhooks]]\nurl = \"{}\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
         events = [\"message.created\"]\nchannels = []\n",
        sink.url
    );
    let envs = [
        ("PARLEY_CLUSTER_REDIS_URL", redis.url()),
        ("PARLEY_CLUSTER_HEARTBEAT_INTERVAL", "200ms".to_owned()),
        ("PARLEY_CLUSTER_DOCUMENT_LEASE", "1s".to_owned()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut nodes = futures_util::future::join_all((0..NODES).map(|_| {
        TestServer::builder()
            .config(&config)
            .postgres(&pg.url())
            .envs(&envs)
            .start_process()
    }))
    .await;
    let balancer = Proxy::balance(nodes.iter().map(|n| n.port()).collect()).await;
    let admin = nodes[0].register("admin").await;
    nodes[0].create_channel(&admin, "chaos").await;
    let caches = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        // Registered and joined through different nodes.
        let node = &nodes[i % NODES];
        let token = node.register(&format!("user{i}")).await;
        let (status, body) = node
            .post(
                "/api/channels/chaos/join",
                Some(&token),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let mut config = ClientConfig::new(
            &balancer.url(),
            &token,
            caches.path().join(format!("client{i}.db")),
        );
        config.backoff_min = Duration::from_millis(20);
        config.backoff_max = Duration::from_millis(500);
        config.request_timeout = Duration::from_secs(5);
        let client = Client::start(config).unwrap();
        client.subscribe("chaos").await.unwrap();
        clients.push(client);
    }
    let mut replicas = Vec::new();
    for client in clients.iter().take(EDITORS) {
        replicas.push(client.open_doc("board").await.unwrap());
    }

    // Every client queues its messages as fast as it can; the editors also write to the
    // document as they go.
    let senders: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let client = client.clone();
            let replica = replicas.get(i).cloned();
            tokio::spawn(async move {
                for n in 0..MESSAGES {
                    client.send("chaos", &format!("{i}:{n}")).await.unwrap();
                    if n % EDIT_EVERY == 0 {
                        if let Some(replica) = &replica {
                            replica
                                .append_text("content", &format!("[{i}:{n}]"))
                                .await
                                .unwrap();
                        }
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Meanwhile: each node killed and restarted in turn, random cuts, Redis restarted once.
    let mut rng = rand::rngs::StdRng::from_entropy();
    for round in 0..6 {
        for _ in 0..rng.gen_range(1..3) {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
            balancer.cut();
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..400))).await;
        let victim = &mut nodes[round % NODES];
        victim.kill().await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
        if round == 2 {
            redis.restart();
        }
        victim.start_again().await;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    for client in &clients {
        assert!(
            client.flushed(Duration::from_secs(120)).await.unwrap(),
            "outbox did not drain"
        );
    }

    // Stored once each, in each sender's order.
    // Stored once each, in each sender's order; every cache equals the log.
    let history = nodes[1].history(&admin, "chaos").await;
    assert_log_and_caches(&history, &clients, "chaos", (CLIENTS, MESSAGES)).await;

    // The document: both replicas and the stored state hold every edit, identically.
    for replica in &replicas {
        replica.flush(Duration::from_secs(60)).await.unwrap();
    }
    let (status, content) = nodes[2].get("/api/docs/board/content", Some(&admin)).await;
    assert_eq!(status, 200, "{content}");
    let stored = content["text"]["content"].as_str().unwrap().to_owned();
    for i in 0..EDITORS {
        for n in (0..MESSAGES).step_by(EDIT_EVERY) {
            assert!(stored.contains(&format!("[{i}:{n}]")), "lost [{i}:{n}]");
        }
    }
    for (i, replica) in replicas.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while replica.text("content") != stored {
            assert!(
                tokio::time::Instant::now() < deadline,
                "replica {i} did not converge: {:?} vs {stored:?}",
                replica.text("content")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Webhooks: one id per message, whichever node delivered it and however often.
    let want = CLIENTS * MESSAGES;
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let unique: HashSet<String> = sink.ids().into_iter().collect();
            if unique.len() >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every message's webhook arrives");
    let deliveries = sink.deliveries();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (id, _) in &deliveries {
        *by_id.entry(id.clone()).or_default() += 1;
    }
    assert_eq!(by_id.len(), want, "one webhook id per message");
    let again = deliveries.len() - want;
    eprintln!("webhooks: {want} ids, {again} sent again after a node died mid-delivery");
    for client in &clients {
        client.shutdown();
    }
}

//! Chaos: 5 clients each send 1,000 messages while the server is killed (SIGKILL) and
//! restarted 5 times and connections are cut at random. Afterwards every client's cache of the
//! channel is identical to the server's history: nothing lost, duplicated or reordered.
#![allow(clippy::unwrap_used)]

mod common;

use std::{collections::HashSet, time::Duration};

use common::*;
use parley_client::{store, Client, ClientConfig};
use rand::{Rng, SeedableRng};

const CLIENTS: usize = 5;
const MESSAGES: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_and_cuts_lose_duplicate_and_reorder_nothing() {
    let mut server = TestServer::start_process(RELAXED).await;
    let proxy = Proxy::start(server.port()).await;
    let admin = server.register("admin").await;
    server.create_channel(&admin, "chaos").await;
    let caches = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let token = server.register(&format!("user{i}")).await;
        let (status, _) = server
            .post(
                "/api/channels/chaos/join",
                Some(&token),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200);
        let mut config = ClientConfig::new(
            &proxy.url(),
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
    // Every client queues its messages as fast as it can (the outbox takes them at once).
    let senders: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in 0..MESSAGES {
                    client.send("chaos", &format!("{i}:{n}")).await.unwrap();
                    if n % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Meanwhile: 5 kills with restarts, and random cuts between them.
    let mut rng = rand::rngs::StdRng::from_entropy();
    for _ in 0..5 {
        for _ in 0..rng.gen_range(1..4) {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
            proxy.cut();
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..400))).await;
        server.kill().await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..300))).await;
        server.start_again().await;
    }
    for sender in senders {
        sender.await.unwrap();
    }
    // Let everything drain.
    for client in &clients {
        assert!(
            client.flushed(Duration::from_secs(120)).await.unwrap(),
            "outbox did not drain"
        );
    }
    let history = server.history(&admin, "chaos").await;
    assert_eq!(
        history.len(),
        CLIENTS * MESSAGES,
        "lost or duplicated on the server"
    );
    // Per sender, in the order sent, each exactly once.
    let mut next = [0usize; CLIENTS];
    let mut ids = HashSet::new();
    for m in &history {
        let text = m["text"].as_str().unwrap();
        let (i, n) = text.split_once(':').unwrap();
        let (i, n): (usize, usize) = (i.parse().unwrap(), n.parse().unwrap());
        assert_eq!(
            n, next[i],
            "client {i}: out of order or duplicated at {text}"
        );
        next[i] += 1;
        assert!(ids.insert(m["client_id"].as_str().unwrap().to_owned()));
    }
    // Every cache converges to the server's history, seq for seq.
    let head = history.last().unwrap()["seq"].as_u64().unwrap();
    let expected: Vec<(u64, String)> = history
        .iter()
        .map(|m| {
            (
                m["seq"].as_u64().unwrap(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (i, client) in clients.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (_, last) = client
                .store()
                .run(|c| store::resume_point(c, "chaos"))
                .await
                .unwrap();
            if last >= head {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "client {i} stuck at seq {last} of {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cached = client
            .store()
            .run(|c| store::history(c, "chaos", None, u32::MAX))
            .await
            .unwrap();
        let cached: Vec<(u64, String)> = cached.into_iter().map(|m| (m.seq, m.text)).collect();
        assert_eq!(cached.len(), expected.len(), "client {i}: cache size");
        assert!(
            cached == expected,
            "client {i}: cache differs from the server"
        );
        client.shutdown();
    }
}

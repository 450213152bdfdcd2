//! Chaos: 5 clients each send 1,000 messages while the server is killed (SIGKILL) and
//! restarted 5 times and connections are cut at random. Afterwards every client's cache of the
//! channel is identical to the server's history: nothing lost, duplicated or reordered.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use parley_client::{Client, ClientConfig};
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
    assert_log_and_caches(&history, &clients, "chaos", (CLIENTS, MESSAGES)).await;
    for client in &clients {
        client.shutdown();
    }
}

//! Searching costs the server a bounded amount: a search that would run longer than
//! `realtime.search_timeout` answers `query_too_broad`, only `max_concurrent_searches` run at
//! once (more wait, then `server_busy`), and token checks never wait behind searches.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::{unique, TestServer, WsClient, RELAXED};
use serde_json::json;

/// Messages in the history, and words per message: every word starts with `a`, so the one-letter
/// prefix `a` matches (and ranks) every message.
const MESSAGES: usize = 3000;
const WORDS: usize = 1000;

fn text(i: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let mut words: Vec<String> = (0..WORDS)
        .map(|j| {
            let k = i * 7 + j * 13;
            format!(
                "a{}{}",
                letters[k % 26] as char,
                letters[(k / 26) % 26] as char
            )
        })
        .collect();
    if i == MESSAGES / 2 {
        words.push("quokka".to_owned());
    }
    words.join(" ")
}

/// Sends the history as fast as the server acknowledges: pipelined, a window at a time, reading
/// the replies (and the events of the channel) between windows, so the server never finds this
/// client not reading for longer than its write-stall limit.
async fn fill(client: &mut WsClient, channel: &str) {
    const WINDOW: usize = 200;
    for start in (0..MESSAGES).step_by(WINDOW) {
        let mut ids = Vec::with_capacity(WINDOW);
        for i in start..(start + WINDOW).min(MESSAGES) {
            ids.push(
                client
                    .send(json!({"type": "send", "channel": channel, "text": text(i), "client_id": format!("f{i}")}))
                    .await,
            );
        }
        for id in ids {
            let reply = client
                .wait_for(|f| {
                    f["id"] == json!(id) && (f["type"] == "reply" || f["type"] == "error")
                })
                .await;
            assert_eq!(reply["type"], "reply", "{reply}");
        }
    }
}

#[tokio::test]
async fn broad_searches_are_cut_and_token_checks_stay_answered() {
    let config = |timeout: &str| {
        RELAXED.to_owned()
            + &format!("[realtime]\nmax_message_length = 8000\nsearch_timeout = \"{timeout}\"\n")
    };
    let mut server = TestServer::start_process(&config("10s")).await;
    let token = server.register(&unique("u")).await;
    let mut owner = server.connect(Some(&token)).await;
    owner
        .ok(json!({"type": "channel_create", "channel": "big"}))
        .await;
    fill(&mut owner, "big").await;
    // A narrow search over the same history is answered (the first search also waits for the
    // history to be indexed).
    let narrow = owner.ok(json!({"type": "search", "query": "quokka"})).await;
    assert_eq!(narrow["hits"].as_array().unwrap().len(), 1, "{narrow}");
    // Now a timeout no ranking of this history fits in, whatever the machine's speed, so every
    // broad search is cut (a longer one made the test depend on how fast the box ranks).
    drop(owner);
    server.set_config(&config("1ms"));
    server.restart().await;

    // Sixteen connections search for `a` over and over.
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(server.connect(Some(&token)).await);
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let mut searchers = Vec::new();
    for mut client in clients {
        let stop = stop.clone();
        searchers.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            while !stop.is_cancelled() && codes.len() < 50 {
                let reply = client
                    .request(json!({"type": "search", "query": "a"}))
                    .await;
                codes.push(if reply["type"] == "reply" {
                    "hits".to_owned()
                } else {
                    reply["code"].as_str().unwrap().to_owned()
                });
            }
            codes
        }));
    }
    // Meanwhile every token check is answered promptly.
    for _ in 0..20 {
        let (status, _) =
            tokio::time::timeout(Duration::from_secs(3), server.get("/api/me", Some(&token)))
                .await
                .expect("/api/me waited behind searches");
        assert_eq!(status, 200);
    }
    stop.cancel();
    let mut codes = Vec::new();
    for searcher in searchers {
        codes.extend(
            tokio::time::timeout(Duration::from_secs(60), searcher)
                .await
                .expect("searches end")
                .unwrap(),
        );
    }
    assert!(
        codes.iter().any(|c| c == "query_too_broad"),
        "broad searches were cut: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c == "query_too_broad" || c == "server_busy"),
        "{codes:?}"
    );
}

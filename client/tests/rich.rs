//! Edits and deletes reach every client's cache and search index; reactions come as events;
//! all three queue offline like sends.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use parley_client::{store, Client, ClientConfig, ClientEvent};

fn client(url: &str, token: &str, cache: std::path::PathBuf) -> Client {
    let mut config = ClientConfig::new(url, token, cache);
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(300);
    Client::start(config).unwrap()
}

/// Starts listening now (before the action that causes the event), waits when awaited.
fn wait_for(
    client: &Client,
    mut pred: impl FnMut(&ClientEvent) -> bool,
) -> impl std::future::Future<Output = ()> {
    let mut events = client.events();
    async move {
        tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Ok(event) = events.recv().await {
                    if pred(&event) {
                        return;
                    }
                }
            }
        })
        .await
        .expect("event never came");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_reach_caches_and_search() {
    let mut server = TestServer::start_process(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    server.create_channel(&alice, "team").await;
    let (status, _) = server
        .post("/api/channels/team/join", Some(&bob), serde_json::json!({}))
        .await;
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server.url(), &alice, dir.path().join("a.db"));
    let b = client(&server.url(), &bob, dir.path().join("b.db"));
    a.wait_online(TIMEOUT).await.unwrap();
    b.wait_online(TIMEOUT).await.unwrap();
    a.subscribe("team").await.unwrap();
    b.subscribe("team").await.unwrap();

    let waiting = wait_for(&b, |e| matches!(e, ClientEvent::Message { .. }));
    a.send("team", "meet at the lighthouse").await.unwrap();
    waiting.await;
    let hits = b.search("lighthouse", None, 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    let id = hits[0].message.id;

    let waiting = wait_for(&b, |e| matches!(e, ClientEvent::MessageEdited { .. }));
    a.edit("team", id, "meet at the harbour").await.unwrap();
    waiting.await;
    assert!(b.search("lighthouse", None, 10).await.unwrap().is_empty());
    assert_eq!(b.search("harbour", None, 10).await.unwrap().len(), 1);
    let cached = b
        .store()
        .run(|c| store::history(c, "team", None, 10))
        .await
        .unwrap();
    assert_eq!(cached[0].text, "meet at the harbour");

    let waiting = wait_for(&b, |e| matches!(e, ClientEvent::Reaction { .. }));
    b.react("team", id, "🎉", true).await.unwrap();
    waiting.await;
    // The cache holds the reaction, the edit time and (below) the thread summary.
    let cached = b
        .store()
        .run(|c| store::history(c, "team", None, 10))
        .await
        .unwrap();
    assert_eq!(cached[0].reactions[0].emoji, "🎉");
    assert_eq!(cached[0].reactions[0].count, 1);
    assert!(cached[0].edited_at.is_some());
    let opened = a
        .request(parley_protocol::rpc::OpenThread {
            channel: "team".into(),
            message_id: id,
        })
        .await
        .unwrap();
    let thread = opened.thread.channel;
    let waiting = wait_for(&b, |e| matches!(e, ClientEvent::ThreadUpdated { .. }));
    a.send(&thread, "a reply").await.unwrap();
    waiting.await;
    let cached = b
        .store()
        .run(|c| store::history(c, "team", None, 10))
        .await
        .unwrap();
    assert_eq!(cached[0].thread.as_ref().unwrap().reply_count, 1);
    // Where the thread lives: the root's channel, from the cache (unknown ids: none).
    assert_eq!(
        b.message_channel(id).await.unwrap().as_deref(),
        Some("team")
    );
    assert_eq!(b.message_channel(id + 1000).await.unwrap(), None);
    // Server search finds what this cache never held (the thread reply).
    let hits = b.search_server("reply", None, 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert!(b.search("reply", None, 10).await.unwrap().is_empty());

    // Delete while bob is offline: his cache drops it when he resumes.
    b.shutdown();
    a.delete("team", id).await.unwrap();
    assert!(a.flushed(TIMEOUT).await.unwrap());
    let b = client(&server.url(), &bob, dir.path().join("b.db"));
    b.wait_online(TIMEOUT).await.unwrap();
    b.subscribe("team").await.unwrap();
    for c in [&a, &b] {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let cached = c
                .store()
                .run(|c| store::history(c, "team", None, 10))
                .await
                .unwrap();
            if cached.is_empty() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still cached: {cached:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(c.search("harbour", None, 10).await.unwrap().is_empty());
    }

    // Offline, an edit queues behind a send, in order.
    server.kill().await;
    let sent = a.send("team", "draft").await.unwrap();
    assert_eq!(sent.state, "pending");
    server.start_again().await;
    assert!(a.flushed(TIMEOUT).await.unwrap());
    let history = server.history(&alice, "team").await;
    let draft = history.iter().find(|m| m["text"] == "draft").unwrap();
    let draft_id = draft["id"].as_i64().unwrap();
    server.kill().await;
    a.edit("team", draft_id, "final").await.unwrap();
    server.start_again().await;
    assert!(a.flushed(TIMEOUT).await.unwrap());
    let history = server.history(&alice, "team").await;
    assert!(history
        .iter()
        .any(|m| m["text"] == "final" && m["edited_at"].is_string()));
}

/// An upload stopped half-way (its task aborted, as when the app quits) resumes where the
/// server's copy ends, and the attachment is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_resume_after_an_interruption() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let a = client(&server.url(), &token, dir.path().join("a.db"));
    a.wait_online(TIMEOUT).await.unwrap();
    let path = dir.path().join("big.bin");
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (c, p) = (a.clone(), path.clone());
    let task = tokio::spawn(async move {
        c.upload(&p, move |sent, _| {
            let _ = tx.send(sent);
        })
        .await
    });
    // Stop it once the server holds at least one chunk.
    loop {
        let sent = tokio::time::timeout(TIMEOUT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        if sent >= 512 * 1024 {
            task.abort();
            break;
        }
    }
    let _ = task.await;
    let first = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&first);
    let attachment = a
        .upload(&path, move |sent, _| {
            seen.lock().unwrap().get_or_insert(sent);
        })
        .await
        .unwrap();
    let resumed_at = first.lock().unwrap().unwrap();
    assert!(resumed_at >= 512 * 1024, "started again from {resumed_at}");
    assert_eq!(attachment.size, data.len() as u64);
    use sha2::Digest;
    assert_eq!(attachment.sha256, hex::encode(sha2::Sha256::digest(&data)));
}

/// While another request holds an upload session (the server answers 409 `upload_conflict`,
/// with no `received`), the client backs off and, if the session stays busy, gives up with an
/// error: it never re-sends the chunk at once in a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_session_stays_busy_backs_off_and_fails() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("a.db");
    let a = client(&server.url(), &token, cache.clone());
    a.wait_online(TIMEOUT).await.unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, vec![7u8; 1_500_000]).unwrap();
    // Start the upload and stop it after its first chunk, leaving a session in the cache.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (c, p) = (a.clone(), path.clone());
    let task = tokio::spawn(async move {
        c.upload(&p, move |sent, _| {
            let _ = tx.send(sent);
        })
        .await
    });
    while tokio::time::timeout(TIMEOUT, rx.recv())
        .await
        .unwrap()
        .unwrap()
        < 512 * 1024
    {}
    task.abort();
    let _ = task.await;
    let (id, _) = {
        let conn = rusqlite::Connection::open(&cache).unwrap();
        store::upload_session(&conn, &path.to_string_lossy())
            .unwrap()
            .unwrap()
    };
    // The aborted chunk may still be written on the server after its client is gone: wait until
    // the session is free again (an empty chunk at the offset it reports is accepted), so the
    // offset read here is final.
    let http = reqwest::Client::new();
    let received = tokio::time::timeout(TIMEOUT, async {
        loop {
            let state: serde_json::Value = http
                .get(format!("{}/api/uploads/{id}", server.url()))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let received = state["received"].as_u64().unwrap();
            let probe = http
                .put(format!(
                    "{}/api/uploads/{id}?offset={received}",
                    server.url()
                ))
                .bearer_auth(&token)
                .body(Vec::new())
                .send()
                .await
                .unwrap();
            if probe.status().is_success() {
                break received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the aborted chunk lets the session go");
    // Another request holds the session: a chunk whose body trickles in, a byte a second.
    let mut held = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    held.write_all(
        format!(
            "PUT /api/uploads/{id}?offset={received} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..120 {
            if held.write_all(&[7]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    // Wait until the server has given that request the session (a probe is refused with
    // `upload_conflict`), so the client's chunk cannot take it first.
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let probe: serde_json::Value = reqwest::Client::new()
                .put(format!(
                    "{}/api/uploads/{id}?offset={received}",
                    server.url()
                ))
                .bearer_auth(&token)
                .body(Vec::new())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or_default();
            if probe["code"] == "upload_conflict" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the trickling request holds the session");
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(90), a.upload(&path, |_, _| {}))
        .await
        .expect("the upload kept retrying a busy session");
    trickle.abort();
    let err = result.expect_err("the session was busy throughout");
    assert!(err.to_string().contains("409"), "{err}");
    // It backed off (eight retries, 25 s of waiting in all) rather than spinning.
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

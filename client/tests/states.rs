//! The connection-state stream: offline with the next retry time while nothing answers,
//! version mismatch when the server speaks another protocol, unauthorized for a bad token,
//! online otherwise; and the cache is readable while offline.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use parley_client::{Client, ClientConfig, ConnectionState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(url: &str, token: &str, dir: &std::path::Path) -> ClientConfig {
    let mut config = ClientConfig::new(url, token, dir.join("cache.db"));
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(200);
    config
}

async fn wait_state(client: &Client, pred: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
    let mut rx = client.state_changes();
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let state = rx.borrow_and_update().clone();
            if pred(&state) {
                return state;
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("state never came")
}

#[tokio::test]
async fn connection_states() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens: offline, with a retry time in the near future.
    let port = free_port();
    let client = Client::start(config(
        &format!("http://127.0.0.1:{port}"),
        "pl_x",
        dir.path(),
    ))
    .unwrap();
    let state = wait_state(&client, |s| matches!(s, ConnectionState::Offline { .. })).await;
    let ConnectionState::Offline {
        retry_at_ms,
        reason,
    } = state
    else {
        unreachable!()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        retry_at_ms >= now - 1000 && retry_at_ms <= now + 1000,
        "{retry_at_ms} vs {now}"
    );
    assert!(!reason.is_empty());
    // Offline, sending queues and reading the cache works.
    let entry = client.send("general", "later").await.unwrap();
    assert_eq!(entry.state, "pending");
    assert!(client
        .history("general", None, 10)
        .await
        .unwrap()
        .is_empty());
    client.shutdown();

    // A server that answers every upgrade with 426: version mismatch.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = sock.read(&mut buf).await;
            let body = r#"{"code":"version_mismatch","message":"this server speaks protocol 2"}"#;
            let resp = format!(
                "HTTP/1.1 426 Upgrade Required\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    let dir2 = tempfile::tempdir().unwrap();
    let client = Client::start(config(
        &format!("http://127.0.0.1:{port}"),
        "pl_x",
        dir2.path(),
    ))
    .unwrap();
    let state = wait_state(&client, |s| {
        matches!(s, ConnectionState::VersionMismatch { .. })
    })
    .await;
    assert!(format!("{state:?}").contains("protocol 2"), "{state:?}");
    client.shutdown();

    // The real server: a bad token is unauthorized (no retry loop), a good one online.
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let dir3 = tempfile::tempdir().unwrap();
    let client = Client::start(config(&server.url(), "pl_bad", dir3.path())).unwrap();
    wait_state(&client, |s| *s == ConnectionState::Unauthorized).await;
    client.shutdown();
    let client = Client::start(config(&server.url(), &token, dir3.path())).unwrap();
    let state = wait_state(&client, |s| matches!(s, ConnectionState::Online { .. })).await;
    assert!(format!("{state:?}").contains("alice"));
    client.shutdown();
    wait_state(&client, |s| *s == ConnectionState::Stopped).await;
}

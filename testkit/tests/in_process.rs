//! The kit's in-process server behaves as the tests that use it assume: it serves at once, a
//! restart keeps its address and its data, a stop is clean and waited for, settings given as
//! environment variables apply, and servers started side by side in one process are apart.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn a_restart_keeps_the_address_and_the_data() {
    let mut server = TestServer::start(RELAXED).await;
    let addr = server.addr();
    let token = server.register("alice").await;
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    alice
        .ok(json!({"type": "send", "channel": "general", "text": "kept", "client_id": "c1"}))
        .await;

    // Read meanwhile: the shutdown waits (2 s at most) for the client's answer to its close.
    let closed = tokio::spawn(async move { alice.close_code().await });
    server.restart().await;
    assert_eq!(server.addr(), addr);
    assert_eq!(closed.await.unwrap(), Some(1001), "closed by the shutdown");
    assert_eq!(server.history_texts(&token, "general").await, ["kept"]);

    let exit = server.stop().await;
    assert!(exit.success(), "{exit:?}");
    assert!(!server.is_running());
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "nothing listens once stopped"
    );
    server.start_again().await;
    assert_eq!(server.get("/healthz", None).await.0, 200);
}

#[tokio::test]
async fn environment_settings_apply_and_servers_are_apart() {
    let closed = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", "closed")])
        .start()
        .await;
    let open = TestServer::start(RELAXED).await;
    assert_ne!(closed.addr(), open.addr());
    let (status, _) = closed
        .post(
            "/api/register",
            None,
            json!({"name": "alice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 403);
    open.register("alice").await;
}

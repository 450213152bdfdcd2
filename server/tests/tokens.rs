//! Token lists, last use, revoking one token by id, and the per-user cap.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::*;
use serde_json::{json, Value};

/// Every wait here ends within this.
const WAIT: Duration = Duration::from_secs(10);

fn config(accounts: &str) -> String {
    format!("{RELAXED}\n[accounts]\n{accounts}\n")
}

async fn login(server: &TestServer, name: &str, device: &str) -> String {
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": name, "password": PASSWORD, "device": device}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn tokens(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = server.get("/api/me/tokens", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["tokens"].as_array().unwrap().clone()
}

fn labelled<'a>(list: &'a [Value], label: &str) -> &'a Value {
    list.iter()
        .find(|t| t["label"] == label)
        .unwrap_or_else(|| panic!("no token {label} in {list:?}"))
}

/// Polls the list (through `token`) until `pred` holds for the token labelled `label`.
async fn until_token(
    server: &TestServer,
    token: &str,
    label: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = tokens(server, token).await;
        let found = labelled(&list, label).clone();
        if pred(&found) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "token {label} never matched: {found}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_list_shows_labels_times_uses_and_the_current_token() {
    let server = TestServer::start(&config(r#"token_last_used_resolution = "0s""#)).await;
    let first = server.register("alice").await;
    let laptop = login(&server, "alice", "laptop").await;
    let list = tokens(&server, &laptop).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let registration = labelled(&list, "registration");
    assert_eq!(registration["current"], false);
    assert!(registration["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(registration.get("scope").is_none() && registration.get("expires_at").is_none());
    assert_eq!(labelled(&list, "laptop")["current"], true);
    assert!(
        list.iter().all(|t| !t.to_string().contains("pl_")),
        "never the token itself"
    );

    // Using the laptop's token records its use; the other token was not used.
    let used = until_token(&server, &laptop, "laptop", |t| {
        t["last_used_at"].is_string()
    })
    .await;
    assert!(labelled(&tokens(&server, &laptop).await, "registration")["last_used_at"].is_null());
    // With a resolution of 0 every use is recorded, so a later use moves the time on.
    let (status, _) = server.get("/api/me", Some(&first)).await;
    assert_eq!(status, 200);
    until_token(&server, &laptop, "registration", |t| {
        t["last_used_at"].is_string()
    })
    .await;
    until_token(&server, &laptop, "laptop", |t| {
        t["last_used_at"].as_str() > used["last_used_at"].as_str()
    })
    .await;
}

#[tokio::test]
async fn a_use_within_the_resolution_is_not_written_again() {
    let server = TestServer::start(&config(r#"token_last_used_resolution = "1h""#)).await;
    server.register("alice").await;
    let laptop = login(&server, "alice", "laptop").await;
    let first = until_token(&server, &laptop, "laptop", |t| {
        t["last_used_at"].is_string()
    })
    .await;
    for _ in 0..5 {
        let (status, _) = server.get("/api/me", Some(&laptop)).await;
        assert_eq!(status, 200);
    }
    // The store's writer commits in queue order: a write queued after these uses would have
    // committed before this registration does.
    server.register("bob").await;
    let again = labelled(&tokens(&server, &laptop).await, "laptop").clone();
    assert_eq!(again["last_used_at"], first["last_used_at"]);
}

#[tokio::test]
async fn revoking_one_token_closes_its_sessions_and_leaves_the_others() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    let bob = server.register("bob").await;
    let phone = login(&server, "alice", "phone").await;
    let laptop = login(&server, "alice", "laptop").await;
    let mut on_phone = server.connect(Some(&phone)).await;
    let mut on_laptop = server.connect(Some(&laptop)).await;
    let phone_id = labelled(&tokens(&server, &laptop).await, "phone")["id"].clone();

    // Not someone else's, not an unknown one.
    let (status, body) = server
        .delete(&format!("/api/me/tokens/{phone_id}"), Some(&bob))
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("token_not_found"))
    );
    let (status, body) = server.delete("/api/me/tokens/999999", Some(&laptop)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!("token_not_found"))
    );

    let (status, body) = server
        .delete(&format!("/api/me/tokens/{phone_id}"), Some(&laptop))
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(on_phone.close_code().await, Some(4002));
    let (status, body) = server.get("/api/me", Some(&phone)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    // The laptop's session and token go on working.
    on_laptop.ok(json!({"type": "ping"})).await;
    let list = tokens(&server, &laptop).await;
    assert!(list.iter().all(|t| t["label"] != "phone"), "{list:?}");
    let (status, _) = server
        .delete(&format!("/api/me/tokens/{phone_id}"), Some(&laptop))
        .await;
    assert_eq!(status, 404, "revoked once");
}

#[tokio::test]
async fn a_login_past_the_cap_revokes_the_least_recently_used_token() {
    let server = TestServer::start(&config("max_tokens_per_user = 2")).await;
    let first = server.register("alice").await;
    let mut on_first = server.connect(Some(&first)).await;
    let second = login(&server, "alice", "second").await;
    // The second token is used, the first not since it was made: the first makes room.
    let (status, _) = server.get("/api/me", Some(&second)).await;
    assert_eq!(status, 200);
    let third = login(&server, "alice", "third").await;
    assert_eq!(on_first.close_code().await, Some(4002));
    let list = tokens(&server, &third).await;
    let mut labels: Vec<&str> = list.iter().map(|t| t["label"].as_str().unwrap()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["second", "third"]);
    let (status, _) = server.get("/api/me", Some(&first)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_cap_of_zero_is_refused() {
    let err = parley_server::Config::from_toml_and_env(
        "[accounts]\nmax_tokens_per_user = 0",
        Vec::<(String, String)>::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_tokens_per_user"), "{err}");
}

#[tokio::test]
async fn the_admin_cli_lists_a_users_tokens() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    login(&server, "alice", "laptop").await;
    let out = server.admin(&["token", "list", "alice"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("registration") && text.contains("laptop"),
        "{text}"
    );
    assert!(
        text.contains("scope all") && !text.contains("pl_"),
        "{text}"
    );
    let out = server.admin(&["token", "list", "nobody"], None);
    assert!(!out.status.success());
}

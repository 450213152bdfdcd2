//! Accounts and tokens: the admin CLI, registration, login, logout and revocation.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn cli_user_and_token_commands() {
    let server = TestServer::start(RELAXED).await;
    let out = server.admin(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("s3cret-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server.admin(
        &["user", "add", "root", "--password-stdin"],
        Some("another-password\n"),
    );
    assert!(!out.status.success(), "duplicate user must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    let out = server.admin(
        &["user", "add", "shorty", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success(), "short password must fail");

    // Login with the CLI-created account works against the running server.
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "root", "password": "s3cret-password"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["name"], "root");

    let out = server.admin(&["token", "create", "root"], None);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("pl_"));
    let mut client = server.connect(Some(&token)).await;
    assert_eq!(client.hello["user"]["name"], "root");

    // Revoking the token from the CLI closes the live session (4002) and refuses it afterwards.
    let out = server.admin(&["token", "revoke", &token], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(client.close_code().await, Some(4002));
    let (status, body) = server.get("/api/me", Some(&token)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    let out = server.admin(&["token", "create", "nobody"], None);
    assert!(!out.status.success());
}

#[tokio::test]
async fn register_login_logout() {
    let server = TestServer::start(RELAXED).await;
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "alice", "password": "correct horse", "display_name": "Alice"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "ALICE", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("user_exists")),
        "names are case-insensitive"
    );
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "bad name", "password": "correct horse"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!("invalid_user")));
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "bob", "password": "short"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (400, json!("invalid_user")));

    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "alice", "password": "wrong password"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "ghost", "password": "wrong password"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200);
    let token = body["token"].as_str().unwrap().to_owned();
    let (_, me) = server.get("/api/me", Some(&token)).await;
    assert_eq!(me["display_name"], "Alice");

    // The auth frame signs an anonymous session in.
    let mut client = server.connect(None).await;
    client
        .err(
            json!({"type": "channel_create", "channel": "x"}),
            "unauthenticated",
        )
        .await;
    client
        .err(
            json!({"type": "auth", "token": "pl_nope"}),
            "invalid_credentials",
        )
        .await;
    let result = client.ok(json!({"type": "auth", "token": token})).await;
    assert_eq!(result["user"]["name"], "alice");
    client
        .err(
            json!({"type": "auth", "token": token}),
            "already_authenticated",
        )
        .await;
    client
        .ok(json!({"type": "channel_create", "channel": "x"}))
        .await;

    // Logout revokes the token and closes its sessions.
    let (status, _) = server.post("/api/logout", Some(&token), json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(client.close_code().await, Some(4002));
    let (status, _) = server.get("/api/me", Some(&token)).await;
    assert_eq!(status, 401);
    // A bad token at the upgrade is refused before any WebSocket exists.
    let err = tokio_tungstenite::connect_async({
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut r = server.ws_url().into_client_request().unwrap();
        r.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    })
    .await
    .expect_err("revoked token");
    assert!(err.to_string().contains("401"), "{err}");
}

#[tokio::test]
async fn registration_can_be_closed_and_logins_are_rate_limited() {
    let config = "[rate_limit]\nlogins_per_second = 0.01\nlogin_burst = 3\n";
    let server = TestServer::builder()
        .config(config)
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", "closed")])
        .start()
        .await;
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("registration_closed"))
    );
    let out = server.admin(
        &["user", "add", "alice", "--password-stdin"],
        Some("correct horse\n"),
    );
    assert!(out.status.success());
    for _ in 0..3 {
        let (status, _) = server
            .post(
                "/api/login",
                None,
                json!({"name": "alice", "password": "wrong password"}),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "alice", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (429, json!("rate_limited")),
        "{body}"
    );
    assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
}

/// `POST /api/me/password`: the current password is checked, the new one follows the rules,
/// and `sign_out_others` revokes the account's other tokens and closes their sessions at once
/// (4002) while the token that asked stays signed in.
#[tokio::test]
async fn changing_ones_password_can_sign_out_the_other_sessions() {
    let server = TestServer::start(RELAXED).await;
    let here = server.register("alice").await;
    let login = |password: &'static str| {
        let server = &server;
        async move {
            server
                .post(
                    "/api/login",
                    None,
                    json!({"name": "alice", "password": password}),
                )
                .await
        }
    };
    let (status, other) = login(PASSWORD).await;
    assert_eq!(status, 200, "{other}");
    let elsewhere = other["token"].as_str().unwrap().to_owned();
    let mut elsewhere_ws = server.connect(Some(&elsewhere)).await;

    let change = |current: &str, new: &str, others: bool| json!({"current_password": current, "new_password": new, "sign_out_others": others});
    let (status, body) = server
        .post(
            "/api/me/password",
            Some(&here),
            change("wrong one", "a new password", true),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = server
        .post(
            "/api/me/password",
            Some(&here),
            change(PASSWORD, "short", true),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_user")),
        "{body}"
    );
    let (status, body) = server
        .post(
            "/api/me/password",
            None,
            change(PASSWORD, "a new password", true),
        )
        .await;
    assert_eq!(status, 401, "{body}");

    let (status, body) = server
        .post(
            "/api/me/password",
            Some(&here),
            change(PASSWORD, "a new password", true),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["signed_out"], 1);
    assert_eq!(elsewhere_ws.close_code().await, Some(4002));
    assert_eq!(server.get("/api/me", Some(&elsewhere)).await.0, 401);
    assert_eq!(server.get("/api/me", Some(&here)).await.0, 200);
    assert_eq!(login(PASSWORD).await.0, 401);
    assert_eq!(login("a new password").await.0, 200);

    // Without `sign_out_others`, other sessions stay.
    let (_, third) = login("a new password").await;
    let third = third["token"].as_str().unwrap().to_owned();
    let (status, body) = server
        .post(
            "/api/me/password",
            Some(&here),
            change("a new password", "another new one", false),
        )
        .await;
    assert_eq!(
        (status, body["signed_out"].as_u64()),
        (200, Some(0)),
        "{body}"
    );
    assert_eq!(server.get("/api/me", Some(&third)).await.0, 200);
}

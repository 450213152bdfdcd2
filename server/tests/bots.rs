//! Bot accounts and scoped tokens: who may make them, what a scope admits on HTTP, on `/ws` and
//! on `/docs` (403 `token_scope` for the rest), expiry, and the `parley` CLI with a bot token.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// A server with an admin (`root`), a person (`alice`), the channels `alerts`, `deploys` and
/// `other`, and a bot (`deploybot`). Returns the admin's token and the bot's id.
async fn workspace() -> (TestServer, String, i64) {
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
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "root", "password": "s3cret-password"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let admin = body["token"].as_str().unwrap().to_owned();
    for channel in ["alerts", "deploys", "other"] {
        server.create_channel(&admin, channel).await;
    }
    let (status, bot) = server
        .post(
            "/api/bots",
            Some(&admin),
            json!({"name": "deploybot", "display_name": "Deploy bot"}),
        )
        .await;
    assert_eq!(status, 201, "{bot}");
    assert_eq!(
        (bot["bot"].clone(), bot["name"].clone()),
        (json!(true), json!("deploybot"))
    );
    (server, admin, bot["id"].as_i64().unwrap())
}

/// A scoped token for the bot, made by the admin.
async fn bot_token(server: &TestServer, admin: &str, bot: i64, body: Value) -> String {
    let (status, issued) = server
        .post(&format!("/api/bots/{bot}/tokens"), Some(admin), body)
        .await;
    assert_eq!(status, 201, "{issued}");
    issued["token"].as_str().unwrap().to_owned()
}

fn scope_refusal(status: u16, body: &Value) {
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("token_scope")),
        "{body}"
    );
}

#[tokio::test]
async fn only_admins_make_bots_and_their_tokens() {
    let (server, admin, bot) = workspace().await;
    let alice = server.register("alice").await;
    let (status, body) = server
        .post("/api/bots", Some(&alice), json!({"name": "mybot"}))
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    let body = json!({"channels": ["alerts"], "operations": ["send"]});
    let (status, reply) = server
        .post(
            &format!("/api/bots/{bot}/tokens"),
            Some(&alice),
            body.clone(),
        )
        .await;
    assert_eq!((status, reply["code"].clone()), (403, json!("forbidden")));
    let (status, reply) = server
        .post("/api/bots", Some(&admin), json!({"name": "ALICE"}))
        .await;
    assert_eq!((status, reply["code"].clone()), (409, json!("user_exists")));
    let (status, reply) = server.post("/api/bots", None, json!({"name": "x"})).await;
    assert_eq!(status, 401, "{reply}");

    // Bad scopes and lifetimes get a clear error; a person's account is not a bot.
    for (body, code) in [
        (
            json!({"channels": [], "operations": ["send"]}),
            "invalid_request",
        ),
        (
            json!({"channels": ["alerts"], "operations": []}),
            "invalid_request",
        ),
        (
            json!({"channels": ["alerts"], "operations": ["admin"]}),
            "invalid_request",
        ),
        (
            json!({"channels": ["Not A Name"], "operations": ["read"]}),
            "invalid_channel_name",
        ),
        (
            json!({"channels": ["alerts"], "operations": ["read"], "expires_in": "soon"}),
            "invalid_request",
        ),
        (
            json!({"channels": ["alerts"], "operations": ["read"], "expires_in": "0s"}),
            "invalid_request",
        ),
        (
            json!({"channels": ["alerts"], "operations": ["read"], "extra": 1}),
            "invalid_request",
        ),
    ] {
        let (status, reply) = server
            .post(
                &format!("/api/bots/{bot}/tokens"),
                Some(&admin),
                body.clone(),
            )
            .await;
        assert_eq!(
            (status, reply["code"].clone()),
            (400, json!(code)),
            "{body}: {reply}"
        );
    }
    let (_, me) = server.get("/api/me", Some(&alice)).await;
    let (status, reply) = server
        .post(
            &format!("/api/bots/{}/tokens", me["id"]),
            Some(&admin),
            body.clone(),
        )
        .await;
    assert_eq!(
        (status, reply["code"].clone()),
        (404, json!("user_not_found"))
    );

    // The answer carries the scope and expiry, and the bot's own list shows the token.
    let body = json!({"label": "ci", "channels": ["alerts", "deploys"], "operations": ["send", "read"], "expires_in": "30d"});
    let (status, issued) = server
        .post(&format!("/api/bots/{bot}/tokens"), Some(&admin), body)
        .await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(
        issued["scope"],
        json!({"channels": ["alerts", "deploys"], "operations": ["read", "send"]})
    );
    assert!(issued["expires_at"].is_string() && issued["id"].is_i64());
    let out = server.admin(&["token", "list", "deploybot"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ci") && text.contains("read,send in alerts,deploys"),
        "{text}"
    );
}

#[tokio::test]
async fn bots_cannot_sign_in_with_a_password_or_register() {
    let (server, _, _) = workspace().await;
    for password in ["", "anything at all", "s3cret-password"] {
        let (status, body) = server
            .post(
                "/api/login",
                None,
                json!({"name": "deploybot", "password": password}),
            )
            .await;
        assert_eq!(
            (status, body["code"].clone()),
            (401, json!("invalid_credentials"))
        );
    }
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "deploybot", "password": "correct horse"}),
        )
        .await;
    assert_eq!((status, body["code"].clone()), (409, json!("user_exists")));
}

#[tokio::test]
async fn a_scope_admits_its_operations_and_channels_over_http() {
    let (server, admin, bot) = workspace().await;
    let both = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read", "send"]}),
    )
    .await;
    let read = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read"]}),
    )
    .await;
    let send = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["send"]}),
    )
    .await;

    let (status, body) = server
        .post("/api/channels/alerts/join", Some(&send), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post("/api/channels/other/join", Some(&send), json!({}))
        .await;
    scope_refusal(status, &body);

    let post = json!({"text": "deployed", "client_id": "c1"});
    let (status, body) = server
        .post("/api/channels/alerts/messages", Some(&send), post.clone())
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .post("/api/channels/alerts/messages", Some(&read), post.clone())
        .await;
    scope_refusal(status, &body);
    let (status, body) = server
        .post("/api/channels/other/messages", Some(&both), post.clone())
        .await;
    scope_refusal(status, &body);

    let (status, body) = server
        .get("/api/channels/alerts/messages", Some(&read))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .get("/api/channels/alerts/messages", Some(&send))
        .await;
    scope_refusal(status, &body);
    let (status, body) = server
        .get("/api/channels/other/messages", Some(&both))
        .await;
    scope_refusal(status, &body);

    // Listings show only the scope's channels; who-am-I works.
    let (status, body) = server.get("/api/channels", Some(&both)).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alerts"]);
    let (status, me) = server.get("/api/me", Some(&both)).await;
    assert_eq!((status, me["name"].clone()), (200, json!("deploybot")));

    // No channels, invitations, account changes, tokens, bots, documents or uploads.
    let refused = [
        server
            .post("/api/channels", Some(&both), json!({"channel": "new"}))
            .await,
        server
            .post(
                "/api/me/password",
                Some(&both),
                json!({"current_password": "x", "new_password": "yyyyyyyy"}),
            )
            .await,
        server.get("/api/me/tokens", Some(&both)).await,
        server.delete("/api/me/tokens/1", Some(&both)).await,
        server
            .post("/api/bots", Some(&both), json!({"name": "other"}))
            .await,
        server
            .post(
                &format!("/api/bots/{bot}/tokens"),
                Some(&both),
                json!({"channels": ["alerts"], "operations": ["read"]}),
            )
            .await,
        server.get("/api/docs", Some(&both)).await,
        server.delete("/api/channels/alerts", Some(&both)).await,
    ];
    for (status, body) in refused {
        scope_refusal(status, &body);
    }
    // The person's own tokens are untouched by all this.
    let (status, _) = server.get("/api/me/tokens", Some(&admin)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_scope_admits_its_operations_and_channels_on_the_websocket() {
    let (server, admin, bot) = workspace().await;
    let both = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read", "send"]}),
    )
    .await;
    let read = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read"]}),
    )
    .await;
    let mut ws = server.connect(Some(&both)).await;
    // Auto-subscriptions stay inside the scope (`general` is not in it).
    let subscribed: Vec<&str> = ws.hello["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["channel"].as_str().unwrap())
        .collect();
    assert!(subscribed.is_empty(), "{subscribed:?}");
    let list = ws.ok(json!({"type": "channel_list"})).await;
    let names: Vec<&str> = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alerts"]);

    ws.ok(json!({"type": "channel_join", "channel": "alerts"}))
        .await;
    ws.ok(json!({"type": "subscribe", "channel": "alerts"}))
        .await;
    ws.ok(json!({"type": "send", "channel": "alerts", "text": "hi", "client_id": "w1"}))
        .await;
    ws.ok(json!({"type": "history", "channel": "alerts"})).await;
    ws.ok(json!({"type": "search", "query": "hi", "channel": "alerts"}))
        .await;
    for op in [
        json!({"type": "send", "channel": "other", "text": "hi", "client_id": "w2"}),
        json!({"type": "subscribe", "channel": "other"}),
        json!({"type": "history", "channel": "general"}),
        json!({"type": "channel_join", "channel": "other"}),
        json!({"type": "channel_create", "channel": "new"}),
        json!({"type": "channel_invite", "channel": "alerts", "user": "root"}),
        json!({"type": "dm_open", "users": ["root"]}),
        json!({"type": "search", "query": "hi"}),
        json!({"type": "set_status", "status": "away"}),
        json!({"type": "unread"}),
    ] {
        ws.err(op, "token_scope").await;
    }

    let mut reader = server.connect(Some(&read)).await;
    reader
        .ok(json!({"type": "history", "channel": "alerts"}))
        .await;
    for op in [
        json!({"type": "send", "channel": "alerts", "text": "no", "client_id": "r1"}),
        json!({"type": "reaction_add", "channel": "alerts", "message_id": 1, "emoji": "+1"}),
        json!({"type": "typing", "channel": "alerts"}),
    ] {
        reader.err(op, "token_scope").await;
    }
    // Signing in with `auth` carries the scope as well.
    let mut late = server.connect(None).await;
    late.ok(json!({"type": "auth", "token": read})).await;
    late.err(
        json!({"type": "channel_create", "channel": "new"}),
        "token_scope",
    )
    .await;
}

#[tokio::test]
async fn documents_open_only_with_the_docs_operation_in_the_scope() {
    let (server, admin, bot) = workspace().await;
    for (name, channel) in [("runbook", "alerts"), ("secret", "other")] {
        let (status, body) = server
            .post(
                "/api/docs",
                Some(&admin),
                json!({"name": name, "channel": channel}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server
        .post("/api/docs", Some(&admin), json!({"name": "handbook"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let docs = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["docs"]}),
    )
    .await;
    let chat = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read", "send"]}),
    )
    .await;
    let (status, body) = server
        .post("/api/channels/alerts/join", Some(&docs), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");

    let addr = server.addr().to_string();
    let mut client = ydoc::DocClient::new();
    client.try_connect(&addr, "runbook", &docs).await.unwrap();
    for (name, token) in [
        ("runbook", &chat),
        ("secret", &docs),
        ("handbook", &docs),
        ("brand-new", &docs),
    ] {
        let refused = ydoc::DocClient::new().open(&addr, name, token).await;
        assert_eq!(refused.unwrap_err().0, 403, "{name}");
    }
    // Nothing was created by the refused connection.
    let (status, _) = server.get("/api/docs/brand-new", Some(&admin)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_expired_token_is_refused_and_its_session_closes() {
    let (server, admin, bot) = workspace().await;
    let short = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read"], "expires_in": "1s"}),
    )
    .await;
    let lasting = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read"], "expires_in": "1h"}),
    )
    .await;
    let mut ws = server.connect(Some(&short)).await;
    // The periodic token check (200 ms here) closes the session once the token has expired.
    assert_eq!(
        tokio::time::timeout(WAIT, ws.close_code()).await.unwrap(),
        Some(4002)
    );
    let (status, body) = server.get("/api/me", Some(&short)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    let (status, _) = server.get("/api/me", Some(&lasting)).await;
    assert_eq!(status, 200);

    // The admin CLI makes bots and scoped, expiring tokens too.
    let out = server.admin(&["bot", "add", "cibot"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server.admin(
        &[
            "token",
            "create",
            "cibot",
            "--channel",
            "alerts",
            "--channel",
            "deploys",
            "--op",
            "send",
            "--op",
            "read",
            "--expires",
            "30d",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (status, body) = server
        .post(
            "/api/channels/other/messages",
            Some(&token),
            json!({"text": "x", "client_id": "c"}),
        )
        .await;
    scope_refusal(status, &body);
    let out = server.admin(&["token", "create", "cibot", "--op", "send"], None);
    assert!(!out.status.success(), "a scope without channels is refused");
    let out = server.admin(
        &[
            "token",
            "create",
            "cibot",
            "--channel",
            "alerts",
            "--op",
            "admin",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("read, send, docs and publish"));
}

#[tokio::test]
async fn bot_tokens_stop_at_the_per_user_cap() {
    let server =
        TestServer::start(&format!("{RELAXED}\n[accounts]\nmax_tokens_per_user = 1\n")).await;
    let out = server.admin(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("s3cret-password\n"),
    );
    assert!(out.status.success());
    let out = server.admin(&["token", "create", "root"], None);
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (_, bot) = server
        .post("/api/bots", Some(&admin), json!({"name": "deploybot"}))
        .await;
    let body = json!({"channels": ["general"], "operations": ["read"]});
    let path = format!("/api/bots/{}/tokens", bot["id"]);
    let (status, _) = server.post(&path, Some(&admin), body.clone()).await;
    assert_eq!(status, 201);
    let (status, reply) = server.post(&path, Some(&admin), body).await;
    assert_eq!(
        (status, reply["code"].clone()),
        (403, json!("limit_reached"))
    );
    assert!(reply["message"]
        .as_str()
        .unwrap()
        .contains("accounts.max_tokens_per_user"));
}

#[tokio::test]
async fn the_cli_signs_in_with_a_bot_token_and_is_held_to_its_scope() {
    let (server, admin, bot) = workspace().await;
    let token = bot_token(
        &server,
        &admin,
        bot,
        json!({"channels": ["alerts"], "operations": ["read", "send"]}),
    )
    .await;
    let (status, body) = server
        .post("/api/channels/alerts/join", Some(&token), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let cli = Cli::new();
    let url = server.url();
    let out = cli
        .run(
            &["login", &url, "--token-stdin"],
            Some(&format!("{token}\n")),
        )
        .await;
    assert!(out.contains("deploybot"), "{out}");
    cli.run(&["send", "alerts", "-"], Some("build 42 deployed\n"))
        .await;
    assert_eq!(
        server.history_texts(&admin, "alerts").await,
        ["build 42 deployed"]
    );
    let out = run_parley(cli.home(), &["send", "other", "-"], Some("nope\n")).await;
    assert!(!out.success, "{}", out.stdout);
    assert!(out.stderr.contains("scope"), "{}", out.stderr);
}

//! README.md's "Using the server" and "Command line" steps, as written, on a new workspace:
//! the first account and a bot token made with `parley-server` before the server first runs,
//! then `parley login`, `join general`, `send`, and a bot posting over HTTP. (`parley tail` is
//! covered by `cli.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

const PASSWORD: &str = "a long password";

#[tokio::test]
async fn the_readme_steps_work_on_a_new_workspace() {
    let input = format!("{PASSWORD}\n");
    let server = TestServer::builder()
        .config(RELAXED)
        // The product's default, which the kit turns off for other tests.
        .envs(&[("PARLEY_WORKSPACE_FIRST_CHANNEL", "general")])
        .admin_first(
            &["user", "add", "alice", "--admin", "--password-stdin"],
            Some(&input),
        )
        .start_process()
        .await;
    let out = server.admin(&["token", "create", "alice"], None);
    assert!(out.status.success(), "{out:?}");
    let bot_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!bot_token.is_empty());

    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = parley(
        home.path(),
        &[
            "login",
            &server.url(),
            "--user",
            "alice",
            "--password-stdin",
        ],
        Some(&input),
    )
    .await;
    assert!(ok, "login: {out}{err}");
    let (ok, out, err) = parley(home.path(), &["join", "general"], None).await;
    assert!(ok, "join general: {out}{err}");
    let (ok, out, err) = parley(home.path(), &["send", "general", "hello"], None).await;
    assert!(ok, "send: {out}{err}");

    // "bots can also post over HTTP"
    let (status, body) = server
        .post(
            "/api/channels/general/messages",
            Some(&bot_token),
            json!({"text": "from the bot", "client_id": "bot-1"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    assert_eq!(
        server.history_texts(&bot_token, "general").await,
        ["hello", "from the bot"]
    );
    let (ok, out, err) = parley(home.path(), &["history", "general"], None).await;
    assert!(
        ok && out.contains("hello") && out.contains("from the bot"),
        "{out}{err}"
    );
}

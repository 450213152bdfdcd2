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

/// A bot signs the CLI in with its token (`--token-stdin`) and sends text from standard input
/// (`send CHANNEL -`); a wrong token is refused with the server's reason.
#[tokio::test]
async fn a_bot_signs_in_with_its_token_and_sends_from_stdin() {
    let server = TestServer::start_process(RELAXED).await;
    let owner = server.register("ops").await;
    server.create_channel(&owner, "alerts").await;
    let input = format!("{PASSWORD}\n");
    let out = server.admin(
        &["user", "add", "deploy-bot", "--password-stdin"],
        Some(&input),
    );
    assert!(out.status.success(), "{out:?}");
    let out = server.admin(&["token", "create", "deploy-bot"], None);
    let bot_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = parley(
        home.path(),
        &["login", &server.url(), "--token-stdin"],
        Some("pl_not-a-real-token\n"),
    )
    .await;
    assert!(!ok && err.contains("token refused"), "{out}{err}");
    let (ok, out, err) = parley(
        home.path(),
        &["login", &server.url(), "--token-stdin"],
        Some(&format!("{bot_token}\n")),
    )
    .await;
    assert!(ok && out.contains("as deploy-bot"), "{out}{err}");
    let (ok, out, err) = parley(home.path(), &["join", "alerts"], None).await;
    assert!(ok, "{out}{err}");
    let report = "deploy 42 finished\nall checks green\n";
    let (ok, out, err) = parley(home.path(), &["send", "alerts", "-"], Some(report)).await;
    assert!(ok, "{out}{err}");
    assert_eq!(
        server.history_texts(&owner, "alerts").await,
        ["deploy 42 finished\nall checks green"]
    );
    let (ok, _, err) = parley(home.path(), &["send", "alerts", "-"], Some("\n")).await;
    assert!(!ok && err.contains("empty"), "{err}");
    // The two ways of signing in do not mix.
    let (ok, _, err) = parley(
        home.path(),
        &["login", &server.url(), "--user", "x", "--token-stdin"],
        Some("t\n"),
    )
    .await;
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

/// `parley passwd`: the current and the new password on standard input; `--sign-out-others`
/// revokes the account's other tokens (a bot's included) and keeps this one.
#[tokio::test]
async fn passwd_changes_the_password_and_can_sign_out_the_rest() {
    let server = TestServer::start(RELAXED).await;
    let elsewhere = server.register("erin").await;
    let home = tempfile::tempdir().unwrap();
    let (ok, out, err) = parley(
        home.path(),
        &["login", &server.url(), "--user", "erin", "--password-stdin"],
        Some("correct horse\n"),
    )
    .await;
    assert!(ok, "{out}{err}");
    let (ok, _, err) = parley(home.path(), &["passwd"], Some("not it\nsomething long\n")).await;
    assert!(!ok && err.contains("current password is wrong"), "{err}");
    let (ok, out, err) = parley(
        home.path(),
        &["passwd", "--sign-out-others"],
        Some("correct horse\nsomething long\n"),
    )
    .await;
    assert!(
        ok && out.contains("1 other session(s) signed out"),
        "{out}{err}"
    );
    assert_eq!(server.get("/api/me", Some(&elsewhere)).await.0, 401);
    let (ok, out, err) = parley(home.path(), &["channels"], None).await;
    assert!(ok, "still signed in here: {out}{err}");
}

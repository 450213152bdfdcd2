//! A fresh workspace: the first channel (`[workspace] first_channel`), made once when the data
//! directory is created, which every new account joins, whether registered through the server
//! or added with `parley-server user add`.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

/// The test kit turns the first channel off for every other test; these set it back.
const FIRST: (&str, &str) = ("PARLEY_WORKSPACE_FIRST_CHANNEL", "general");

async fn channels(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = server.get("/api/channels", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["channels"].as_array().unwrap().clone()
}

fn named<'a>(channels: &'a [Value], name: &str) -> Option<&'a Value> {
    channels.iter().find(|c| c["name"] == name)
}

#[tokio::test]
async fn a_fresh_workspace_has_general_and_every_new_account_joins_it() {
    let server = TestServer::builder()
        .config(RELAXED)
        .envs(&[FIRST])
        .start()
        .await;
    let alice = server.register("alice").await;
    let listed = channels(&server, &alice).await;
    let general = named(&listed, "general").expect("general exists");
    assert_eq!(general["channel_type"], "public");
    assert_eq!(general["auto_subscribe"], true);
    assert_eq!(general["member"], true, "{general}");

    // Alice is subscribed at once (auto_subscribe) and sees the next account join.
    let mut alice_ws = server.connect(Some(&alice)).await;
    let subscribed = alice_ws.hello["subscriptions"].as_array().unwrap();
    assert!(
        subscribed.iter().any(|s| s["channel"] == "general"),
        "{}",
        alice_ws.hello
    );
    let bob = server.register("bob").await;
    let joined = alice_ws.event("general", "member_joined").await;
    assert_eq!(joined["user"]["name"], "bob");
    let general = channels(&server, &bob).await;
    let general = named(&general, "general").unwrap();
    assert_eq!(general["member"], true);
    assert_eq!(general["member_count"], 2);

    // Bob can talk there without joining first.
    let mut bob_ws = server.connect(Some(&bob)).await;
    bob_ws
        .ok(json!({"type": "send", "channel": "general", "text": "hi all", "client_id": "b1"}))
        .await;
    let message = alice_ws.event("general", "message").await;
    assert_eq!(message["message"]["text"], "hi all");
}

#[tokio::test]
async fn the_first_channel_is_made_once_and_cli_accounts_join_it() {
    let mut server = TestServer::builder()
        .config(RELAXED)
        .envs(&[FIRST])
        .start_process()
        .await;
    // An admin added with the CLI beside the running server joins it too; the server sees
    // that membership when it next loads the channel (here: after a restart).
    let out = server.admin(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{out:?}");
    server.restart().await;
    let (status, session) = server
        .post(
            "/api/login",
            None,
            json!({"name": "root", "password": "a long password"}),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    let root = session["token"].as_str().unwrap().to_owned();
    let general = channels(&server, &root).await;
    assert_eq!(named(&general, "general").unwrap()["member"], true);

    // Deleted by an admin, it stays deleted across restarts: it belongs to a fresh workspace.
    let (status, body) = server.delete("/api/channels/general", Some(&root)).await;
    assert_eq!(status, 204, "{body}");
    server.restart().await;
    assert!(named(&channels(&server, &root).await, "general").is_none());
}

/// The kit's default, and `first_channel = ""` (a bad name is refused by the configuration's
/// checks: `config::tests`).
#[tokio::test]
async fn a_workspace_can_start_without_a_first_channel() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("carol").await;
    assert!(channels(&server, &token).await.is_empty());
}

/// Any public `auto_subscribe` channel is one everyone joins, not only the first; a full one is
/// skipped and the account is still created.
#[tokio::test]
async fn new_accounts_join_public_auto_subscribe_channels_that_have_room() {
    let config = format!(
        "{RELAXED}\n[channels.\"news\"]\nauto_subscribe = true\n\
         [channels.\"desk\"]\nauto_subscribe = true\nmax_participants = 1\n\
         [channels.\"quiet\"]\n"
    );
    let server = TestServer::start(&config).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let listed = channels(&server, &bob).await;
    let news = named(&listed, "news").unwrap();
    assert_eq!(
        (news["member"].as_bool(), news["member_count"].as_u64()),
        (Some(true), Some(2))
    );
    let desk = named(&listed, "desk").unwrap();
    assert_eq!(
        (desk["member"].as_bool(), desk["member_count"].as_u64()),
        (Some(false), Some(1))
    );
    assert_eq!(named(&listed, "quiet").unwrap()["member"], false);
    let listed = channels(&server, &alice).await;
    assert_eq!(named(&listed, "desk").unwrap()["member"], true);
}

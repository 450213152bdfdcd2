//! Display names: length and characters are checked wherever one is set (registration, the
//! admin CLI), a display name cannot pass for another user's user name, and names stored
//! before the rules are repaired when the server starts.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

async fn register_as(server: &TestServer, name: &str, display_name: &str) -> (u16, Value) {
    server
        .post(
            "/api/register",
            None,
            json!({"name": name, "password": "correct horse", "display_name": display_name}),
        )
        .await
}

fn assert_invalid(answer: (u16, Value), rule: &str) {
    let (status, body) = answer;
    let shown: String = body.to_string().chars().take(300).collect();
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_user")),
        "{shown}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(rule), "{message:?} should name {rule:?}");
}

#[tokio::test]
async fn registration_checks_length_and_characters() {
    let server = TestServer::start(RELAXED).await;
    assert_invalid(
        register_as(&server, "big", &"y".repeat(100_000)).await,
        "at most 64 characters",
    );
    assert_invalid(register_as(&server, "blank", "   ").await, "empty");
    for (name, display) in [
        ("bidi", "moc.evil\u{202E}alice"),
        ("zwsp", "al\u{200B}ice"),
        ("ctrl", "bell\u{7}"),
        ("newline", "two\nlines"),
    ] {
        assert_invalid(register_as(&server, name, display).await, "control");
    }
    // 64 characters (not bytes) is fine; surrounding spaces are trimmed.
    let (status, body) = register_as(&server, "long", &"é".repeat(64)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = register_as(&server, "carol", "  Carol Smith 🌱  ").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["display_name"], "Carol Smith 🌱");
    let token = body["token"].as_str().unwrap();
    let (_, me) = server.get("/api/me", Some(token)).await;
    assert_eq!(me["display_name"], "Carol Smith 🌱");
}

#[tokio::test]
async fn a_display_name_cannot_pass_for_another_users_name() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    for display in [
        "alice",
        "ALICE",
        "Alice",
        "\u{0430}lice",
        "a1ice",
        " alice ",
    ] {
        assert_invalid(
            register_as(&server, "mallory", display).await,
            "another user (alice)",
        );
    }
    // One's own name, in any case, is fine; so is a name nobody has.
    let (status, body) = register_as(&server, "bob", "Bob").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = register_as(&server, "mallory", "Alicia").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_admin_cli_follows_the_same_rules() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    let add = |name: &str, display: &str| {
        server.admin(
            &[
                "user",
                "add",
                name,
                "--password-stdin",
                "--display-name",
                display,
            ],
            Some("correct horse\n"),
        )
    };
    let out = add("eve", "ALICE");
    assert!(!out.status.success(), "impersonation must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("another user (alice)"));
    let out = add("eve", &"z".repeat(65));
    assert!(!out.status.success(), "too long must fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 64 characters"));
    let out = add("eve", " Eve ");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": "eve", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["display_name"], "Eve");
}

#[tokio::test]
async fn names_stored_before_the_rules_are_repaired_at_start() {
    let mut server = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .start_process()
        .await;
    server.register("alice").await;
    let long = server.register("long").await;
    let bidi = server.register("bidi").await;
    let fake = server.register("fake").await;
    let fine = server.register("fine").await;
    // What an older server let in, written straight into the database while it is stopped.
    let status = server.stop().await;
    assert!(status.success());
    {
        let db = rusqlite::Connection::open(server.data_dir().join("parley.db")).unwrap();
        // Users from before name keys existed have none.
        db.execute("UPDATE users SET name_key = NULL", ()).unwrap();
        for (name, display) in [
            ("long", "y".repeat(100_000)),
            ("bidi", " \u{202E}evil\u{200B} ".to_owned()),
            ("fake", "ALICE".to_owned()),
            ("fine", "Fine Person".to_owned()),
        ] {
            db.execute(
                "UPDATE users SET display_name = ?2 WHERE name = ?1",
                (name, display),
            )
            .unwrap();
        }
    }
    server.start_again().await;
    let display = |token: String| {
        let server = &server;
        async move { server.get("/api/me", Some(&token)).await.1["display_name"].clone() }
    };
    assert_eq!(display(long).await, json!("y".repeat(64)));
    assert_eq!(display(bidi).await, json!("evil"));
    assert_eq!(
        display(fake).await,
        Value::Null,
        "an impersonation is cleared"
    );
    assert_eq!(display(fine).await, json!("Fine Person"));
}

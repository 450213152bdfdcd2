//! Registration modes (`accounts.registration`) and invites: single- and multi-use, expired,
//! revoked, raced for, made by members or not, capped per user, and made by the admin CLI.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

/// A server in registration mode `mode`, with these `[accounts]` settings too.
async fn server(mode: &str, accounts: &str) -> TestServer {
    TestServer::builder()
        .config(&format!("{RELAXED}\n[accounts]\n{accounts}\n"))
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", mode)])
        .start()
        .await
}

/// An admin made with the CLI, signed in: their token.
async fn admin(server: &TestServer) -> String {
    let out = server.admin(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    login(server, "root").await
}

async fn login(server: &TestServer, name: &str) -> String {
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": name, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn register(server: &TestServer, name: &str, invite: Option<&str>) -> (u16, Value) {
    let mut body = json!({"name": name, "password": PASSWORD});
    if let Some(code) = invite {
        body["invite"] = json!(code);
    }
    server.post("/api/register", None, body).await
}

async fn invite(server: &TestServer, token: &str, body: Value) -> Value {
    let (status, answer) = server.post("/api/invites", Some(token), body).await;
    assert_eq!(status, 201, "{answer}");
    answer
}

fn code(answer: &(u16, Value)) -> (u16, Value) {
    (answer.0, answer.1["code"].clone())
}

#[tokio::test]
async fn open_mode_registers_anyone() {
    let server = server("open", "").await;
    assert_eq!(register(&server, "alice", None).await.0, 201);
}

#[tokio::test]
async fn closed_mode_refuses_even_with_an_invite() {
    let server = server("closed", "").await;
    let root = admin(&server).await;
    let inv = invite(&server, &root, json!({})).await;
    let code_text = inv["code"].as_str().unwrap().to_owned();
    assert_eq!(
        code(&register(&server, "alice", Some(&code_text)).await),
        (403, json!("registration_closed"))
    );
    assert_eq!(
        code(&register(&server, "bob", None).await),
        (403, json!("registration_closed"))
    );
}

#[tokio::test]
async fn invite_mode_is_the_default_and_needs_a_good_invite() {
    // The builder's default env opens registration; without it the server's default applies.
    let server = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", "invite")])
        .start()
        .await;
    assert_eq!(
        code(&register(&server, "alice", None).await),
        (403, json!("invalid_invite"))
    );
    assert_eq!(
        code(
            &register(
                &server,
                "alice",
                Some("inv_00000000000000000000000000000000")
            )
            .await
        ),
        (403, json!("invalid_invite"))
    );
    assert_eq!(
        code(&register(&server, "alice", Some("not a code")).await),
        (403, json!("invalid_invite"))
    );
    let root = admin(&server).await;
    let inv = invite(&server, &root, json!({})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    assert!(text.starts_with("inv_") && text.len() == 36, "{text}");
    assert_eq!(inv["uses_left"], 1);
    assert_eq!(inv["created_by"]["name"], "root");
    let week = 7 * 86_400_000;
    let expires = inv["expires_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((expires - now - week).abs() < 60_000, "{expires}");
    // Single use: the first registration takes it, the second is refused.
    let (status, body) = register(&server, "alice", Some(&text)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        code(&register(&server, "bob", Some(&text)).await),
        (403, json!("invalid_invite"))
    );
    // A refused registration (a name taken) does not use up an invite.
    let inv = invite(&server, &root, json!({"uses": 1})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    assert_eq!(code(&register(&server, "alice", Some(&text)).await).0, 409);
    assert_eq!(register(&server, "carol", Some(&text)).await.0, 201);
}

#[tokio::test]
async fn multi_use_expired_and_revoked_invites() {
    let server = server("invite", "max_invite_uses = 3\nmax_invite_expiry = \"1h\"").await;
    let root = admin(&server).await;
    let inv = invite(&server, &root, json!({"uses": 2, "expires_in": "10m"})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    assert_eq!(register(&server, "a1", Some(&text)).await.0, 201);
    assert_eq!(register(&server, "a2", Some(&text)).await.0, 201);
    assert_eq!(
        code(&register(&server, "a3", Some(&text)).await).1,
        "invalid_invite"
    );
    // Over the configured maximums: refused.
    for body in [
        json!({"uses": 4}),
        json!({"uses": 0}),
        json!({"expires_in": "2h"}),
        json!({"expires_in": "0"}),
        json!({"expires_in": "soon"}),
    ] {
        let (status, answer) = server.post("/api/invites", Some(&root), body.clone()).await;
        assert_eq!(
            (status, answer["code"].clone()),
            (400, json!("invalid_request")),
            "{body}"
        );
    }
    // Expired: an invite of 1 s, used after it ran out (the wait is bounded by the expiry).
    let inv = invite(&server, &root, json!({"expires_in": "1s"})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    let until = inv["expires_at"].as_i64().unwrap();
    tokio::time::timeout(TIMEOUT, async {
        while std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
            <= until
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(
        code(&register(&server, "late", Some(&text)).await).1,
        "invalid_invite"
    );
    // Revoked: listed before, gone after, unusable.
    let inv = invite(&server, &root, json!({})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    let id = inv["id"].as_i64().unwrap();
    let (status, list) = server.get("/api/invites", Some(&root)).await;
    assert_eq!(status, 200);
    let listed: Vec<i64> = list["invites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(listed.contains(&id), "{list}");
    assert!(
        !list.to_string().contains(&text),
        "the list never shows codes"
    );
    assert_eq!(
        server
            .delete(&format!("/api/invites/{id}"), Some(&root))
            .await
            .0,
        204
    );
    assert_eq!(
        code(&register(&server, "revoked", Some(&text)).await).1,
        "invalid_invite"
    );
    let (_, list) = server.get("/api/invites", Some(&root)).await;
    assert!(
        !list.to_string().contains(&format!("\"id\":{id},")),
        "{list}"
    );
}

#[tokio::test]
async fn a_single_use_invite_admits_exactly_one_of_many_racing_registrations() {
    let server = server("invite", "hash_queue = 64").await;
    let root = admin(&server).await;
    let inv = invite(&server, &root, json!({"uses": 1})).await;
    let text = inv["code"].as_str().unwrap().to_owned();
    let attempts = (0..12).map(|i| {
        let (server, text) = (&server, text.clone());
        async move { register(server, &format!("racer{i}"), Some(&text)).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results
        .iter()
        .filter(|(s, b)| *s == 403 && b["code"] == "invalid_invite")
        .count();
    assert_eq!((won, refused), (1, 11), "{results:?}");
}

#[tokio::test]
async fn members_invite_only_when_allowed_and_within_their_cap() {
    let server = server("open", "").await;
    let alice = server.register("alice").await;
    let (status, body) = server.post("/api/invites", Some(&alice), json!({})).await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    assert_eq!(server.get("/api/invites", Some(&alice)).await.0, 403);

    let server = server_with_members("max_live_invites_per_user = 2").await;
    let root = admin(&server).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let first = invite(&server, &alice, json!({})).await;
    invite(&server, &alice, json!({})).await;
    let (status, body) = server.post("/api/invites", Some(&alice), json!({})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (403, json!("limit_reached")),
        "{body}"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("max_live_invites_per_user"));
    // Members see their own invites; admins see all; only the creator or an admin revokes.
    let (_, mine) = server.get("/api/invites", Some(&alice)).await;
    assert_eq!(mine["invites"].as_array().unwrap().len(), 2);
    let (_, theirs) = server.get("/api/invites", Some(&bob)).await;
    assert_eq!(theirs["invites"].as_array().unwrap().len(), 0);
    let (_, all) = server.get("/api/invites", Some(&root)).await;
    assert_eq!(all["invites"].as_array().unwrap().len(), 2);
    let id = first["id"].as_i64().unwrap();
    let (status, body) = server
        .delete(&format!("/api/invites/{id}"), Some(&bob))
        .await;
    assert_eq!((status, body["code"].clone()), (403, json!("forbidden")));
    assert_eq!(
        server
            .delete(&format!("/api/invites/{id}"), Some(&alice))
            .await
            .0,
        204
    );
    // A revoked invite frees a place under the cap.
    invite(&server, &alice, json!({})).await;
}

async fn server_with_members(more: &str) -> TestServer {
    server("open", &format!("members_can_invite = true\n{more}")).await
}

#[tokio::test]
async fn cli_invites_create_list_revoke() {
    let server = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", "invite")])
        .admin_first(
            &["user", "add", "root", "--admin", "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        )
        .start()
        .await;
    let out = server.admin(
        &["invite", "create", "--uses", "2", "--expires", "1d"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(text.starts_with("inv_"), "{text}");
    assert_eq!(register(&server, "alice", Some(&text)).await.0, 201);
    let out = server.admin(&["invite", "list"], None);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains("by root") && listed.contains("1 use(s) left"),
        "{listed}"
    );
    let id = listed.split('\t').next().unwrap().trim().to_owned();
    assert!(server
        .admin(&["invite", "revoke", &id], None)
        .status
        .success());
    assert_eq!(
        code(&register(&server, "bob", Some(&text)).await).1,
        "invalid_invite"
    );
    assert!(!server
        .admin(&["invite", "revoke", &id], None)
        .status
        .success());
    let out = server.admin(&["invite", "create", "--by", "nobody"], None);
    assert!(!out.status.success());
    let out = server.admin(&["invite", "create", "--uses", "1000"], None);
    assert!(!out.status.success(), "over accounts.max_invite_uses");
}

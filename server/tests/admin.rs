//! People administration: listing accounts, disabling (live sessions closed at once),
//! enabling, deleting (messages kept under "deleted user"), password-reset codes, one's own
//! display name and avatar; every admin route refused to members.
#![allow(clippy::unwrap_used)]

use parley_testkit::*;
use serde_json::{json, Value};

/// A server with an admin `root` (made with the CLI) and open registration: root's token.
async fn workspace(extra: &str) -> (TestServer, String) {
    // The session-closing tests must see sessions closed at once, not by the periodic check.
    let server = TestServer::builder()
        .config(&format!("{RELAXED}\n{extra}\n"))
        .envs(&[("PARLEY_SERVER_TOKEN_CHECK_INTERVAL", "1h")])
        .admin_first(
            &["user", "add", "root", "--admin", "--password-stdin"],
            Some(&format!("{PASSWORD}\n")),
        )
        .start()
        .await;
    let root = login(&server, "root", PASSWORD).await.unwrap();
    (server, root)
}

async fn login(server: &TestServer, name: &str, password: &str) -> Result<String, (u16, Value)> {
    let (status, body) = server
        .post(
            "/api/login",
            None,
            json!({"name": name, "password": password}),
        )
        .await;
    match status {
        200 => Ok(body["token"].as_str().unwrap().to_owned()),
        _ => Err((status, body["code"].clone())),
    }
}

async fn id_of(server: &TestServer, token: &str) -> i64 {
    server.get("/api/me", Some(token)).await.1["id"]
        .as_i64()
        .unwrap()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn put_avatar(server: &TestServer, token: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = tokio::time::timeout(
        TIMEOUT,
        server
            .http()
            .put(format!("{}/api/me/avatar", server.url()))
            .bearer_auth(token)
            .body(body)
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn members_are_refused_every_admin_route() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let root_id = id_of(&server, &root).await;
    let forbidden = (403, json!("forbidden"));
    let (s, b) = server.get("/api/users", Some(&alice)).await;
    assert_eq!((s, b["code"].clone()), forbidden);
    for path in ["disable", "enable", "reset-code"] {
        let (s, b) = server
            .post(
                &format!("/api/users/{root_id}/{path}"),
                Some(&alice),
                json!({}),
            )
            .await;
        assert_eq!((s, b["code"].clone()), forbidden, "{path}");
    }
    let (s, b) = server
        .delete(&format!("/api/users/{root_id}"), Some(&alice))
        .await;
    assert_eq!((s, b["code"].clone()), forbidden);
    assert_eq!(server.get("/api/users", None).await.0, 401);
}

#[tokio::test]
async fn admins_list_people_page_by_page() {
    let (server, root) = workspace("").await;
    for name in ["alice", "bob", "carol"] {
        server.register(name).await;
    }
    let (status, page) = server.get("/api/users?limit=2", Some(&root)).await;
    assert_eq!(status, 200, "{page}");
    let users = page["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["name"], "root");
    assert_eq!(users[0]["admin"], true);
    assert_eq!(users[1]["disabled"], false);
    assert!(users[0]["created_at"].as_i64().unwrap() > 0);
    let next = page["next"].as_i64().unwrap();
    let (_, rest) = server
        .get(&format!("/api/users?after={next}"), Some(&root))
        .await;
    let names: Vec<&str> = rest["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol"]);
    assert!(rest.get("next").is_none(), "{rest}");
}

#[tokio::test]
async fn disabling_closes_live_sessions_at_once_and_stops_sign_in() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let alice_id = id_of(&server, &alice).await;
    let mut ws = server.connect(Some(&alice)).await;
    let (status, body) = server
        .post(
            &format!("/api/users/{alice_id}/disable"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // At once: the token check runs hourly here, so only the disable can close it.
    assert_eq!(ws.close_code().await, Some(4002));
    assert_eq!(server.get("/api/me", Some(&alice)).await.0, 401);
    assert_eq!(
        login(&server, "alice", PASSWORD).await.unwrap_err(),
        (403, json!("account_disabled"))
    );
    // A wrong password still answers as for anyone (nothing revealed without the password).
    assert_eq!(
        login(&server, "alice", "wrong password").await.unwrap_err(),
        (401, json!("invalid_credentials"))
    );
    let (_, list) = server.get("/api/users", Some(&root)).await;
    let entry = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == alice_id)
        .unwrap()
        .clone();
    assert_eq!(entry["disabled"], true);
    let (status, _) = server
        .post(
            &format!("/api/users/{alice_id}/enable"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(login(&server, "alice", PASSWORD).await.is_ok());
}

#[tokio::test]
async fn nobody_disables_or_deletes_themselves_out_of_the_last_admin() {
    let (server, root) = workspace("").await;
    let root_id = id_of(&server, &root).await;
    let (s, b) = server
        .post(
            &format!("/api/users/{root_id}/disable"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!((s, b["code"].clone()), (403, json!("forbidden")));
    let (s, b) = server
        .delete(&format!("/api/users/{root_id}"), Some(&root))
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (403, json!("forbidden")),
        "last admin"
    );
    assert!(b["message"].as_str().unwrap().contains("last admin"));
    let (s, b) = server
        .post("/api/users/999/disable", Some(&root), json!({}))
        .await;
    assert_eq!((s, b["code"].clone()), (404, json!("user_not_found")));
    // The CLI follows the same rule.
    assert!(!server
        .admin(&["user", "disable", "root"], None)
        .status
        .success());
    assert!(!server
        .admin(&["user", "delete", "root"], None)
        .status
        .success());
}

#[tokio::test]
async fn deleting_keeps_messages_as_by_deleted_user() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let alice_id = id_of(&server, &alice).await;
    server.create_channel(&root, "team").await;
    let (s, _) = server
        .post("/api/channels/team/join", Some(&alice), json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = server
        .post(
            "/api/channels/team/messages",
            Some(&alice),
            json!({"text": "still here", "client_id": "a1"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{b}");
    let mut ws = server.connect(Some(&alice)).await;
    assert_eq!(
        server
            .delete(&format!("/api/users/{alice_id}"), Some(&root))
            .await
            .0,
        204
    );
    assert_eq!(ws.close_code().await, Some(4002));
    assert_eq!(server.get("/api/me", Some(&alice)).await.0, 401);
    assert_eq!(
        login(&server, "alice", PASSWORD).await.unwrap_err().0,
        401,
        "the name is gone"
    );
    let history = server.history(&root, "team").await;
    let message = history.iter().find(|m| m["text"] == "still here").unwrap();
    assert_eq!(message["author"]["display_name"], "deleted user");
    assert_eq!(message["author"]["name"], format!("deleted-{alice_id}"));
    // A resume replays the stored frame, rewritten too.
    let mut reader = server.connect(Some(&root)).await;
    let reply = reader
        .request(json!({"type": "subscribe", "channel": "team", "since": 0}))
        .await;
    let replayed = reader.event("team", "message").await;
    assert_eq!(
        replayed["message"]["author"]["display_name"], "deleted user",
        "{reply}"
    );
    // The name is free again, and the deleted account is not listed.
    server.register("alice").await;
    let (_, list) = server.get("/api/users", Some(&root)).await;
    assert!(!list["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == alice_id));
}

#[tokio::test]
async fn reset_codes_work_once_and_sign_out_everywhere() {
    let (server, root) = workspace("").await;
    let alice = server.register("alice").await;
    let alice_id = id_of(&server, &alice).await;
    let mut ws = server.connect(Some(&alice)).await;
    let (status, answer) = server
        .post(
            &format!("/api/users/{alice_id}/reset-code"),
            Some(&root),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let code = answer["code"].as_str().unwrap().to_owned();
    assert!(answer["expires_at"].as_i64().unwrap() > 0);
    let reset = |code: String, password: &'static str| {
        let server = &server;
        async move {
            server
                .post(
                    "/api/password-reset",
                    None,
                    json!({"name": "alice", "code": code, "new_password": password}),
                )
                .await
        }
    };
    let (s, b) = reset(
        "rst_00000000000000000000000000000000".into(),
        "a new password",
    )
    .await;
    assert_eq!((s, b["code"].clone()), (403, json!("invalid_reset_code")));
    let (s, b) = reset(code.clone(), "short").await;
    assert_eq!((s, b["code"].clone()), (400, json!("invalid_user")));
    let (s, b) = reset(code.clone(), "a new password").await;
    assert_eq!(s, 204, "{b}");
    assert_eq!(ws.close_code().await, Some(4002));
    assert_eq!(server.get("/api/me", Some(&alice)).await.0, 401);
    assert!(login(&server, "alice", "a new password").await.is_ok());
    let (s, b) = reset(code, "another password").await;
    assert_eq!(
        (s, b["code"].clone()),
        (403, json!("invalid_reset_code")),
        "used once"
    );
    // The CLI prints one too.
    let out = server.admin(&["user", "reset-code", "alice"], None);
    assert!(out.status.success());
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(reset(code, "third password!").await.0, 204);
}

#[tokio::test]
async fn reset_codes_expire_as_configured() {
    let (server, root) = workspace("[accounts]\nreset_code_expiry = \"1ms\"").await;
    let alice = server.register("alice").await;
    let alice_id = id_of(&server, &alice).await;
    let (_, answer) = server
        .post(
            &format!("/api/users/{alice_id}/reset-code"),
            Some(&root),
            json!({}),
        )
        .await;
    // Wait (bounded) until the code's expiry has passed: a loopback request can take under 1 ms.
    let until = answer["expires_at"].as_i64().unwrap();
    tokio::time::timeout(TIMEOUT, async {
        while now_ms() <= until {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();
    let (s, b) = server
        .post(
            "/api/password-reset",
            None,
            json!({"name": "alice", "code": answer["code"], "new_password": "a new password"}),
        )
        .await;
    assert_eq!((s, b["code"].clone()), (403, json!("invalid_reset_code")));
}

#[tokio::test]
async fn display_names_change_under_the_rules() {
    let (server, _root) = workspace("").await;
    let alice = server.register("alice").await;
    let (s, b) = server
        .patch(
            "/api/me",
            Some(&alice),
            json!({"display_name": "  Alice A.  "}),
        )
        .await;
    assert_eq!((s, b["display_name"].clone()), (200, json!("Alice A.")));
    let (s, b) = server
        .patch(
            "/api/me",
            Some(&alice),
            json!({"display_name": "r\u{43e}\u{43e}t"}),
        )
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (400, json!("invalid_user")),
        "a look-alike of root"
    );
    let (s, b) = server
        .patch(
            "/api/me",
            Some(&alice),
            json!({"display_name": "a\u{202e}b"}),
        )
        .await;
    assert_eq!((s, b["code"].clone()), (400, json!("invalid_user")));
    let (s, b) = server
        .patch("/api/me", Some(&alice), json!({"display_name": ""}))
        .await;
    assert_eq!((s, b["display_name"].clone()), (200, Value::Null));
    let (s, _) = server
        .patch("/api/me", Some(&alice), json!({"nickname": "x"}))
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn avatars_are_checked_reencoded_and_served() {
    let (server, root) = workspace("[accounts]\nmax_avatar_size = \"64kb\"").await;
    let alice = server.register("alice").await;
    let alice_id = id_of(&server, &alice).await;
    let (s, b) = put_avatar(&server, &alice, b"not an image at all".to_vec()).await;
    assert_eq!((s, b["code"].clone()), (400, json!("invalid_image")));
    let (s, b) = put_avatar(&server, &alice, vec![0x89; 70 * 1024]).await;
    assert_eq!((s, b["code"].clone()), (413, json!("attachment_too_large")));
    let (s, user) = put_avatar(&server, &alice, png(600, 300)).await;
    assert_eq!(s, 200, "{user}");
    let path = user["avatar"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with(&format!("/api/users/{alice_id}/avatar?v=")),
        "{path}"
    );
    assert_eq!(
        server.get("/api/me", Some(&alice)).await.1["avatar"],
        json!(path)
    );
    let resp = server
        .http()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = resp.bytes().await.unwrap();
    let stored = image::load_from_memory(&bytes).unwrap();
    assert_eq!(
        (stored.width(), stored.height()),
        (256, 256),
        "square, at most 256"
    );
    let again = server
        .http()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(&root)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert_eq!(
        server
            .get(&format!("/api/users/{alice_id}/avatar"), None)
            .await
            .0,
        401
    );
    let (s, user) = server.delete("/api/me/avatar", Some(&alice)).await;
    assert_eq!((s, user["avatar"].clone()), (200, Value::Null));
    let (s, b) = server
        .get(&format!("/api/users/{alice_id}/avatar"), Some(&root))
        .await;
    assert_eq!((s, b["code"].clone()), (404, json!("user_not_found")));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A session that signed in before its user changed their display name or avatar stamps the
/// new ones on what it sends next: a long-lived connection never speaks with an old profile.
#[tokio::test]
async fn live_sessions_send_with_the_profile_as_it_is_now() {
    let (server, _root) = workspace("").await;
    let alice = server.register("alice").await;
    let mut ws = server.connect(Some(&alice)).await;
    ws.ok(json!({"type": "channel_create", "channel": "room"}))
        .await;
    let send = |text: &str, id: &str| json!({"type": "send", "channel": "room", "text": text, "client_id": id});
    let before = ws.ok(send("before", "m1")).await;
    assert_eq!(before["message"]["author"]["display_name"], Value::Null);
    assert_eq!(before["message"]["author"]["avatar"], Value::Null);

    let (s, _) = server
        .patch("/api/me", Some(&alice), json!({"display_name": "Alice A."}))
        .await;
    assert_eq!(s, 200);
    let (s, user) = put_avatar(&server, &alice, png(32, 32)).await;
    assert_eq!(s, 200, "{user}");
    let after = ws.ok(send("after", "m2")).await;
    assert_eq!(after["message"]["author"]["display_name"], "Alice A.");
    assert_eq!(after["message"]["author"]["avatar"], user["avatar"]);

    // Removing the avatar reaches the session too.
    let (s, _) = server.delete("/api/me/avatar", Some(&alice)).await;
    assert_eq!(s, 200);
    let last = ws.ok(send("last", "m3")).await;
    assert_eq!(last["message"]["author"]["avatar"], Value::Null);
}

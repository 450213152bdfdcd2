//! Browsers' sessions: `"cookie": true` at login or registration sets the HttpOnly
//! `parley_session` cookie, which then signs in API requests, `/ws` and `/docs`; requests it
//! signs in that change something must come from this server's pages (`csrf_rejected`
//! otherwise); logout revokes its token and clears it. And the same-origin rule of the
//! upgrades: with the web app on, the server's own origin may open `/ws` and `/docs`.
#![allow(clippy::unwrap_used)]

use futures_util::StreamExt;
use parley_testkit::{tls::TestCa, *};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const THIRTY_DAYS: u64 = 30 * 24 * 3600;

/// A POST with a JSON body and extra headers: the status, the body, and the `Set-Cookie`.
async fn post(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Value, Option<String>) {
    let mut request = server
        .http()
        .post(format!("{}{path}", server.url()))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request).await
}

async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = server.http().get(format!("{}{path}", server.url()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, body, _) = answer(request).await;
    (status, body)
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

/// `alice` registered; signed in again with a cookie: (token, `Cookie` header value).
async fn cookie_login(server: &TestServer) -> (String, String) {
    server.register("alice").await;
    let login = json!({"name": "alice", "password": PASSWORD, "cookie": true});
    let (status, body, set_cookie) = post(server, "/api/login", &[], login).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(set_cookie.is_some());
    (token.clone(), format!("parley_session={token}"))
}

#[tokio::test]
async fn a_sign_in_that_asks_for_a_cookie_gets_one_with_every_attribute() {
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    let login = json!({"name": "alice", "password": PASSWORD, "cookie": true});
    let (status, body, set_cookie) = post(&server, "/api/login", &[], login).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("pl_") && token.len() == 67, "{token}");
    assert_eq!(body["user"]["name"], "alice");
    assert_eq!(
        set_cookie.as_deref(),
        Some(
            format!(
                "parley_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={THIRTY_DAYS}"
            )
            .as_str()
        )
    );

    // Without asking: no cookie.
    let login = json!({"name": "alice", "password": PASSWORD});
    let (status, _, set_cookie) = post(&server, "/api/login", &[], login).await;
    assert_eq!((status, set_cookie), (200, None));

    // Registration too, with the configured age.
    let short = TestServer::start(&format!(
        "{RELAXED}\n[web]\nsession_cookie_max_age = \"1h\"\n"
    ))
    .await;
    let register = json!({"name": "bob", "password": PASSWORD, "cookie": true});
    let (status, body, set_cookie) = post(&short, "/api/register", &[], register).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        set_cookie.unwrap(),
        format!("parley_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600")
    );
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_server_serves_tls() {
    let mut ca = TestCa::new("Parley cookie CA");
    let cert = ca.issue();
    let server = TestServer::builder()
        .config(RELAXED)
        .tls(&cert, &ca.ca_file())
        .start()
        .await;
    let register = json!({"name": "alice", "password": PASSWORD, "cookie": true});
    let (status, body, set_cookie) = post(&server, "/api/register", &[], register).await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        set_cookie.unwrap(),
        format!(
            "parley_session={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={THIRTY_DAYS}; Secure"
        )
    );
}

#[tokio::test]
async fn the_cookie_signs_in_api_requests_and_a_bad_one_is_refused() {
    let server = TestServer::start(RELAXED).await;
    let (_, cookie) = cookie_login(&server).await;
    let (status, me) = get(&server, "/api/me", &[("cookie", &cookie)]).await;
    assert_eq!((status, &me["name"]), (200, &json!("alice")), "{me}");
    // Among other cookies.
    let several = format!("theme=dark; {cookie}; lang=en");
    assert_eq!(
        get(&server, "/api/me", &[("cookie", &several)]).await.0,
        200
    );

    // An unknown token in the cookie is refused like an unknown bearer token...
    let forged = format!("parley_session=pl_{}", "0".repeat(64));
    let (status, body) = get(&server, "/api/me", &[("cookie", &forged)]).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("invalid_credentials")),
        "{body}"
    );
    // ...but does not keep anyone from signing in.
    let login = json!({"name": "alice", "password": PASSWORD, "cookie": true});
    let (status, _, set_cookie) = post(&server, "/api/login", &[("cookie", &forged)], login).await;
    assert_eq!(status, 200);
    assert!(set_cookie.is_some());
}

#[tokio::test]
async fn changes_signed_in_by_the_cookie_must_come_from_this_server() {
    let server = TestServer::start(RELAXED).await;
    let (token, cookie) = cookie_login(&server).await;
    let own = server.url();
    let channel = |name: &str| json!({"channel": name});

    // No Origin, or another site's: refused before anything happens.
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        let (status, body, _) = post(&server, "/api/channels", &headers, channel("c1")).await;
        assert_eq!(
            (status, &body["code"]),
            (403, &json!("csrf_rejected")),
            "{origin:?}: {body}"
        );
    }
    let (_, list) = get(&server, "/api/channels", &[("cookie", &cookie)]).await;
    assert!(!list.to_string().contains("\"c1\""), "{list}");

    // This server's own pages (the Origin names the Host): allowed.
    let headers = [("cookie", cookie.as_str()), ("origin", own.as_str())];
    let (status, body, _) = post(&server, "/api/channels", &headers, channel("c2")).await;
    assert!(status == 200 || status == 201, "{status} {body}");

    // A bearer token needs no Origin, cookie or not.
    let (status, body) = server
        .post("/api/channels", Some(&token), channel("c3"))
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");

    // Reads need no Origin.
    assert_eq!(
        get(&server, "/api/channels", &[("cookie", &cookie)])
            .await
            .0,
        200
    );

    // An origin in server.cors_origins may too.
    let listed = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_SERVER_CORS_ORIGINS", "[\"https://app.example\"]")])
        .start()
        .await;
    let (_, cookie) = cookie_login(&listed).await;
    let headers = [
        ("cookie", cookie.as_str()),
        ("origin", "https://app.example"),
    ];
    let (status, body, _) = post(&listed, "/api/channels", &headers, channel("c4")).await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

#[tokio::test]
async fn the_cookie_signs_in_a_websocket() {
    let server = TestServer::start(RELAXED).await;
    let (_, cookie) = cookie_login(&server).await;
    let mut request = server.ws_url().into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("cookie", cookie.parse().unwrap());
    headers.insert("origin", server.url().parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = tokio::time::timeout(TIMEOUT, ws.next()).await.unwrap();
    let hello: Value = serde_json::from_str(first.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["user"]["name"], "alice", "{hello}");
}

#[tokio::test]
async fn logout_revokes_the_cookie_token_and_clears_the_cookie() {
    let server = TestServer::start(RELAXED).await;
    let (token, cookie) = cookie_login(&server).await;
    let own = server.url();
    let headers = [("cookie", cookie.as_str()), ("origin", own.as_str())];
    let (status, _, set_cookie) = post(&server, "/api/logout", &headers, json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(
        set_cookie.as_deref(),
        Some("parley_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    );
    let (status, body) = get(&server, "/api/me", &[("cookie", &cookie)]).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("invalid_credentials"))
    );
    assert_eq!(server.get("/api/me", Some(&token)).await.0, 401);

    // A bearer logout clears a cookie that came along too; without one, nothing is set.
    let bearer = server.login("alice", PASSWORD).await;
    let auth = format!("Bearer {bearer}");
    let headers = [
        ("authorization", auth.as_str()),
        ("cookie", "parley_session=pl_old"),
    ];
    let (status, _, set_cookie) = post(&server, "/api/logout", &headers, json!({})).await;
    assert_eq!(status, 204);
    assert!(set_cookie.unwrap().contains("Max-Age=0"));
    let bearer = server.login("alice", PASSWORD).await;
    let auth = format!("Bearer {bearer}");
    let (status, _, set_cookie) = post(
        &server,
        "/api/logout",
        &[("authorization", &auth)],
        json!({}),
    )
    .await;
    assert_eq!((status, set_cookie), (204, None));
}

/// Upgrades from the server's own origin pass while the web app is on; other origins, and the
/// own one with the app off, need `server.allowed_origins`.
#[tokio::test]
async fn the_web_apps_own_origin_may_open_ws_and_docs() {
    let upgrade = |url: String, origin: String, token: &str| {
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("origin", origin.parse().unwrap());
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    let docs = format!("ws://{}/docs/notes", server.addr());
    for url in [server.ws_url(), docs.clone()] {
        let own = format!("http://{}", server.addr());
        upgrade(url.clone(), own, &token).await.expect("own origin");
        // Upper case, and https (TLS ended at a proxy in front): the same host.
        let own = format!("HTTPS://{}", server.addr());
        upgrade(url.clone(), own, &token)
            .await
            .expect("own origin over https");
        for other in [
            "http://evil.example".to_owned(),
            format!("http://127.0.0.1:{}", server.port() + 1),
            format!("http://{}.evil.example", server.addr()),
        ] {
            let err = upgrade(url.clone(), other.clone(), &token)
                .await
                .expect_err(&other);
            assert!(err.to_string().contains("403"), "{other}: {err}");
        }
    }

    // The app off: the own origin is refused unless listed (a Host of our choosing, so that
    // the origin can be listed before the port is known).
    let off = TestServer::builder()
        .config(&format!("{RELAXED}\n[web]\nenabled = false\n"))
        .envs(&[(
            "PARLEY_SERVER_ALLOWED_ORIGINS",
            "[\"http://listed.example\"]",
        )])
        .start()
        .await;
    let token = off.register("alice").await;
    let as_host = |url: String, host: &str, token: &str| {
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("host", host.parse().unwrap());
        headers.insert("origin", format!("http://{host}").parse().unwrap());
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let err = upgrade(off.ws_url(), format!("http://{}", off.addr()), &token)
        .await
        .expect_err("own origin, app off");
    assert!(err.to_string().contains("403"), "{err}");
    let err = as_host(off.ws_url(), "unlisted.example", &token)
        .await
        .expect_err("own origin, app off");
    assert!(err.to_string().contains("403"), "{err}");
    as_host(off.ws_url(), "listed.example", &token)
        .await
        .expect("a listed origin");
    // With the app on, the Host the browser used is what counts.
    as_host(
        server.ws_url(),
        "chat.example",
        &server.register("bob").await,
    )
    .await
    .expect("own origin under another host name");
}

//! HTTP and connection limits over real sockets: request heads and bodies that stall are cut,
//! a request for a host the server does not answer to is refused (DNS rebinding), and one
//! client address holds a bounded number of HTTP and of WebSocket connections.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::*;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Reads until the server closes the connection; returns what it sent. Panics if it does not
/// close within `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept a stalled connection open");
    String::from_utf8_lossy(&received).into_owned()
}

/// An in-process server with the relaxed config and `env` as its environment.
async fn relaxed_with(env: &[(&str, &str)]) -> TestServer {
    TestServer::builder()
        .config(RELAXED)
        .envs(env)
        .start()
        .await
}

// The settings under test are given as environment variables, which a server without them
// ignores: run against one, these tests show the defect rather than a refused config.
const TIMEOUTS: &[(&str, &str)] = &[
    ("PARLEY_SERVER_HEADER_READ_TIMEOUT", "1s"),
    ("PARLEY_SERVER_BODY_READ_TIMEOUT", "1s"),
];

#[tokio::test]
async fn a_request_head_that_stalls_is_cut() {
    let server = relaxed_with(TIMEOUTS).await;
    let mut stream = TcpStream::connect(&server.addr()).await.unwrap();
    // Half a head, then nothing (slowloris).
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, TIMEOUT).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer:?}"
    );
    // Others are served meanwhile and after.
    assert_eq!(server.get("/healthz", None).await.0, 200);
}

#[tokio::test]
async fn a_request_body_that_stalls_is_cut_but_a_slow_one_that_moves_is_not() {
    let server = relaxed_with(TIMEOUTS).await;
    let mut stream = TcpStream::connect(&server.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"name\": ",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, TIMEOUT).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "{answer:?}"
    );

    // A body that arrives in pieces, each within the idle timeout, is read in full although
    // the whole takes longer than the timeout.
    let body = json!({"name": "nobody", "password": "wrong password"}).to_string();
    let mut stream = TcpStream::connect(&server.addr()).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.as_bytes().chunks(body.len() / 4 + 1) {
        // Pacing, not synchronisation: 4 pieces 400 ms apart take longer than the timeout.
        tokio::time::sleep(Duration::from_millis(400)).await;
        stream.write_all(piece).await.unwrap();
    }
    let answer = read_until_closed(&mut stream, TIMEOUT).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
    assert!(answer.contains("invalid_credentials"), "{answer:?}");
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_http_connections() {
    let server = relaxed_with(&[("PARLEY_SERVER_MAX_HTTP_CONNECTIONS_PER_ADDRESS", "2")]).await;
    // Two connections that say nothing (each within the deadlines) take the address's places.
    let first = TcpStream::connect(&server.addr()).await.unwrap();
    let _second = TcpStream::connect(&server.addr()).await.unwrap();
    // Connections are accepted in order, so a third is the one refused: closed unread.
    let mut third = TcpStream::connect(&server.addr()).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut third, TIMEOUT).await;
    assert!(answer.is_empty(), "{answer:?}");
    // Closing one gives its place back, once the server has seen the close (bounded retry).
    drop(first);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let mut next = TcpStream::connect(&server.addr()).await.unwrap();
        let _ = next
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await;
        let answer = read_until_closed(&mut next, TIMEOUT).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.is_empty(), "{answer:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "never got a place back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const HOSTS: &[(&str, &str)] = &[(
    "PARLEY_SERVER_ALLOWED_HOSTS",
    r#"["localhost", "127.0.0.1"]"#,
)];

#[tokio::test]
async fn requests_for_other_hosts_are_refused() {
    let server = relaxed_with(HOSTS).await;
    let port = server.addr().rsplit(':').next().unwrap().to_owned();
    // The usual names (any port) are served.
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let response = server
            .http()
            .get(format!("{}/healthz", server.url()))
            .header("host", host)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    // A rebinding page's host, on the API and on registration.
    for (method, path) in [("GET", "/healthz"), ("POST", "/api/register")] {
        let response = server
            .http()
            .request(method.parse().unwrap(), format!("{}{path}", server.url()))
            .header("host", format!("attacker.example:{port}"))
            .json(&json!({"name": "mallory", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{method} {path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "host_not_allowed");
    }
    // The WebSocket upgrade too.
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("host", format!("attacker.example:{port}").parse().unwrap());
    let err = tokio_tungstenite::connect_async(request)
        .await
        .expect_err("upgrade for another host");
    assert!(err.to_string().contains("403"), "{err}");
    // A raw request without a Host header (HTTP/1.0).
    let mut stream = TcpStream::connect(&server.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, TIMEOUT).await;
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 403 "),
        "{answer:?}"
    );
    assert!(answer.contains("host_not_allowed"), "{answer:?}");
    // Nobody got registered.
    let (status, _) = server
        .post(
            "/api/login",
            None,
            json!({"name": "mallory", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_connections() {
    let server = relaxed_with(&[
        ("PARLEY_REALTIME_MAX_CONNECTIONS_PER_ADDRESS", "3"),
        ("PARLEY_REALTIME_MAX_ANONYMOUS_CONNECTIONS_PER_ADDRESS", "2"),
    ])
    .await;
    let token = server.register("alice").await;
    let (status, _) = server
        .post("/api/docs", Some(&token), json!({"name": "plan"}))
        .await;
    assert_eq!(status, 201);

    let refused = |err: tokio_tungstenite::tungstenite::Error| {
        let text = err.to_string();
        assert!(text.contains("429"), "{text}");
    };
    let anonymous_1 = server.connect(None).await;
    let _anonymous_2 = server.connect(None).await;
    refused(
        tokio_tungstenite::connect_async(server.ws_url())
            .await
            .expect_err("a third anonymous connection"),
    );
    // Signed in, the address still has room for one more.
    let _signed_in = server.connect(Some(&token)).await;
    refused(
        tokio_tungstenite::connect_async(with_token(&server.ws_url(), &token))
            .await
            .expect_err("a fourth connection"),
    );
    // /docs counts against the same cap.
    let docs_url = format!("ws://{}/docs/plan", server.addr());
    refused(
        tokio_tungstenite::connect_async(with_token(&docs_url, &token))
            .await
            .expect_err("a document connection beyond the cap"),
    );
    // The refusal is a JSON error with the stable code.
    let response = server
        .http()
        .get(format!("{}/ws", server.url()))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "too_many_connections");

    // A closed connection gives its place back (once the server has seen the close).
    drop(anonymous_1);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let docs = loop {
        match tokio_tungstenite::connect_async(with_token(&docs_url, &token)).await {
            Ok((docs, _)) => break docs,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never got a place back: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    drop(docs);
}

fn with_token(
    url: &str,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// CORS: pages on `server.cors_origins` may call the API (preflight and the call itself, with
/// credentials); other origins, other paths and a server without the setting answer no CORS
/// headers; `"*"` allows any origin without credentials.
#[tokio::test]
async fn the_api_answers_cors_for_listed_origins_only() {
    const APP: &str = "https://app.example.com";
    let server = TestServer::builder()
        .config(&format!("[server]\ncors_origins = [\"{APP}\"]\n"))
        .start()
        .await;
    let token = server.register("alice").await;
    let http = reqwest::Client::new();
    let preflight = |origin: &str, path: &str| {
        http.request(reqwest::Method::OPTIONS, format!("{}{path}", server.url()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };

    let answer = preflight(APP, "/api/channels").await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(
        header(&answer, "access-control-allow-origin").as_deref(),
        Some(APP)
    );
    assert_eq!(
        header(&answer, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let methods = header(&answer, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = header(&answer, "access-control-allow-headers").unwrap();
    assert!(headers.contains("authorization"), "{headers}");

    // The call itself: answered, with the origin allowed and Retry-After readable.
    let call = http
        .get(format!("{}/api/channels", server.url()))
        .header("origin", "HTTPS://APP.example.com")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(
        header(&call, "access-control-allow-origin").as_deref(),
        Some("HTTPS://APP.example.com")
    );
    let exposed = header(&call, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("retry-after"), "{exposed}");

    // Another origin, or a listed one outside /api: no CORS headers.
    for (origin, path) in [
        ("https://evil.example", "/api/channels"),
        ("https://app.example.com.evil.example", "/api/channels"),
        (APP, "/healthz"),
        (APP, "/metrics"),
    ] {
        let answer = preflight(origin, path).await.unwrap();
        assert_eq!(
            header(&answer, "access-control-allow-origin"),
            None,
            "{origin} {path}"
        );
    }

    // The default: no CORS at all.
    let plain = TestServer::start("").await;
    let answer = http
        .get(format!("{}/healthz", plain.url()))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&answer, "access-control-allow-origin"), None);
    let answer = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/channels", plain.url()),
        )
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&answer, "access-control-allow-origin"), None);

    // "*": any origin may call, never with credentials.
    let open = TestServer::builder()
        .config("[server]\ncors_origins = [\"*\"]\n")
        .start()
        .await;
    let answer = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/login", open.url()),
        )
        .header("origin", "https://anywhere.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&answer, "access-control-allow-origin").as_deref(),
        Some("https://anywhere.example")
    );
    assert_eq!(header(&answer, "access-control-allow-credentials"), None);
}

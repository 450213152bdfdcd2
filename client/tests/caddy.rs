//! Parley behind a real Caddy (Debian's package) terminating TLS, with the site block of
//! docs/deployment.md: the `parley` command line signs in, sends and tails through it (HTTPS
//! and WSS on `/ws`), documents sync through it (`/docs/{name}`), and the server attributes
//! requests to the client behind Caddy, not to Caddy and not to what the client claims. The
//! documented block is the one the test runs, and this Caddy accepts it.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::IpAddr, net::SocketAddr, path::Path};

use common::*;
use parley_testkit::{
    caddy::{site_config, Caddy},
    proxied::{logged_access, logged_client, send_and_tail, server_with_access_log, sign_in},
    tls::TestCa,
};

/// Where the test's own requests come from: not 127.0.0.1, where Caddy connects from.
const ME: [u8; 4] = [127, 0, 0, 5];

/// Opens the WebSocket of document `name` through Caddy from `from` (a plain client: the
/// upgrade, no sync), signed in with `token`; Caddy's answer.
async fn open_doc(
    caddy: &Caddy,
    ca: &Path,
    from: IpAddr,
    name: &str,
    token: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Response {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("wss://{}/docs/{name}", caddy.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let connect = async {
        let stream = socket.connect(caddy.addr).await.unwrap();
        let connector = tokio_tungstenite::Connector::Rustls(tls::rustls_client(ca));
        tokio_tungstenite::client_async_tls_with_config(request, stream, None, Some(connector))
            .await
    };
    let (mut ws, response) = tokio::time::timeout(TIMEOUT, connect)
        .await
        .expect("no WebSocket upgrade in time")
        .unwrap_or_else(|e| panic!("the document's WebSocket through Caddy: {e}"));
    let _ = tokio::time::timeout(TIMEOUT, ws.close(None)).await;
    response
}

#[tokio::test]
async fn the_cli_goes_through_caddy_and_the_server_sees_the_client_behind_it() {
    let mut ca = TestCa::new("Parley test CA");
    let cert = ca.issue();
    let ca_file = ca.ca_file();
    let data = tempfile::tempdir().unwrap();
    // Caddy 2.6 connects from 127.0.0.1 (it has no `local_address`), the one trusted proxy;
    // the test's own requests come from 127.0.0.5, so the log can tell who is who.
    let (mut server, server_url, mut log) = server_with_access_log(data.path(), "127.0.0.1");
    let upstream = server_url.strip_prefix("http://").unwrap().parse().unwrap();
    let caddy = Caddy::start(upstream, &cert).await;

    let me = IpAddr::from(ME);
    let through = reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&tls::rustls_client(&ca_file)))
        .local_address(me)
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let register = |client: &reqwest::Client, base: &str, name: &str, forged: Option<&str>| {
        let mut request = client
            .post(format!("{base}/api/register"))
            .json(&serde_json::json!({"name": name, "password": PASSWORD}));
        if let Some(forged) = forged {
            request = request.header("x-forwarded-for", forged);
        }
        request.send()
    };
    // Through the trusted proxy: the client is the address Caddy saw, not Caddy, and not what
    // the client claimed (Caddy replaces an untrusted client's X-Forwarded-For).
    let response = register(&through, &caddy.url, "alice", Some("198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let alice: serde_json::Value = response.json().await.unwrap();
    let token = alice["token"].as_str().unwrap().to_owned();
    assert_eq!(logged_client(&mut log, "/api/register").await, "127.0.0.5");
    // Directly from an untrusted peer: its header is ignored.
    let direct = reqwest::Client::builder()
        .local_address(me)
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let response = register(&direct, &server_url, "bob", Some("198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(logged_client(&mut log, "/api/register").await, "127.0.0.5");

    // A document's WebSocket upgrade goes through, attributed to the client too.
    let response = open_doc(&caddy, &ca_file, me, "plan", &token).await;
    assert_eq!(response.status(), 101);
    assert!(
        response
            .headers()
            .contains_key(parley_protocol::DOC_ID_HEADER),
        "{:?}",
        response.headers()
    );
    let line = logged_access(&mut log, "/docs/{name}").await;
    assert_eq!(
        (line["status"].as_u64(), line["client"].as_str()),
        (Some(101), Some("127.0.0.5"))
    );

    // The CLI through Caddy: HTTPS for the API, WSS for the tail.
    send_and_tail(&caddy.url, &ca_file, "alice").await;

    // And for documents: an edit synced from one home, read from a fresh one.
    let writer = sign_in(&caddy.url, &ca_file, "alice").await;
    let reader = sign_in(&caddy.url, &ca_file, "alice").await;
    let ca_env = [("PARLEY_CA_FILE", ca_file.as_path())];
    let out = run_parley_with(
        writer.path(),
        &["doc", "append", "plan", "through Caddy"],
        None,
        &ca_env,
    )
    .await;
    assert!(out.success, "doc append: {}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "appended to plan", "{}", out.stderr);
    let out = run_parley_with(reader.path(), &["doc", "cat", "plan"], None, &ca_env).await;
    assert!(out.success, "doc cat: {}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.trim(), "through Caddy", "{}", out.stderr);

    drop(caddy);
    signal(&server, "TERM");
    let stopped = async {
        loop {
            if let Some(status) = server.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    // A server that does not stop is killed when `server` is dropped.
    let status = tokio::time::timeout(TIMEOUT, stopped)
        .await
        .expect("the server did not stop in time");
    assert!(status.success(), "{status}");
}

/// The ```caddyfile block under "### Caddy" in docs/deployment.md.
fn documented_caddyfile() -> String {
    // As cargo gives it when the test runs (a reused build carries its old path in `env!`).
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    );
    let docs = std::fs::read_to_string(dir.join("../docs/deployment.md")).unwrap();
    let section = &docs[docs.find("\n### Caddy\n").expect("a Caddy section")..];
    let block = &section[section.find("```caddyfile\n").expect("a caddyfile block") + 13..];
    block[..block.find("```").unwrap()].to_owned()
}

#[test]
fn the_documented_caddyfile_is_the_tested_one_and_caddy_accepts_it() {
    let documented = documented_caddyfile();
    assert_eq!(
        documented,
        site_config("chat.example.org", "127.0.0.1:7878", None),
        "docs/deployment.md's Caddy block is not the one client/tests/caddy.rs runs"
    );
    // `caddy adapt` parses every directive (an unknown one, such as a newer Caddy's, fails)
    // and needs no network.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, &documented).unwrap();
    let out = std::process::Command::new("caddy")
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .output()
        .expect("run caddy (Debian package caddy; scripts/test.sh installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "caddy adapt: {stderr}");
    // Nor does it warn (an unformatted Caddyfile is warned about).
    assert!(
        !stderr.to_lowercase().contains("warn"),
        "caddy adapt: {stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let proxy = &json["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]["routes"][0]
        ["handle"][0];
    assert_eq!(proxy["handler"], "reverse_proxy", "{json:#}");
    assert_eq!(proxy["upstreams"][0]["dial"], "127.0.0.1:7878", "{json:#}");
    assert_eq!(proxy["flush_interval"], -1, "{json:#}");
}

//! The `parley` command line over `https://`: against the server's own TLS with the CA from
//! `PARLEY_CA_FILE`, through a real nginx terminating TLS (docs/deployment.md's
//! configuration), and refusing certificates it cannot trust with a sentence naming the
//! server and the reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::{net::IpAddr, path::Path};

use common::*;
use parley_testkit::{
    proxied::{logged_client, send_and_tail, server_with_access_log},
    tls::TestCa,
};

/// `parley` with the CA file, as a user would run it.
async fn parley_ca(home: &Path, ca: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    eprintln!("parley {args:?}");
    run_parley_with(home, args, stdin, &[("PARLEY_CA_FILE", ca)]).await
}

#[tokio::test]
async fn the_cli_sends_and_tails_over_the_servers_own_tls() {
    let mut ca = TestCa::new("Parley test CA");
    let cert = ca.issue();
    let server = TestServer::builder()
        .config(RELAXED)
        .tls(&cert, &ca.ca_file())
        .start_process()
        .await;
    let token = server.register("alice").await;
    server.create_channel(&token, "general").await;
    send_and_tail(&server.url(), &ca.ca_file(), "alice").await;
    assert_eq!(
        server.history_texts(&token, "general").await,
        ["over TLS", "and back"]
    );
}

#[tokio::test]
async fn certificates_the_cli_cannot_trust_are_refused_with_the_reason() {
    let mut ca = TestCa::new("Parley test CA");
    let cert = ca.issue();
    let server = TestServer::builder()
        .config(RELAXED)
        .tls(&cert, &ca.ca_file())
        .start_process()
        .await;
    server.register("alice").await;
    let url = server.url();
    let login = ["login", url.as_str(), "--user", "alice", "--password-stdin"];
    let password = format!("{PASSWORD}\n");
    let home = tempfile::tempdir().unwrap();

    // No CA file: the system store does not know the test CA.
    let out = run_parley(home.path(), &login, Some(&password)).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains(&format!("cannot trust {url}"))
            && out
                .stderr
                .contains("not signed by an authority this computer trusts")
            && out.stderr.contains("PARLEY_CA_FILE"),
        "{}",
        out.stderr
    );
    // Another CA's file.
    let other = TestCa::new("Another CA");
    let out = parley_ca(home.path(), &other.ca_file(), &login, Some(&password)).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains(&format!("cannot trust {url}")),
        "{}",
        out.stderr
    );
    // A CA file that is not one is said to be the problem, not the server.
    let garbage = home.path().join("not-a-ca.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let out = parley_ca(home.path(), &garbage, &login, Some(&password)).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("PARLEY_CA_FILE") && out.stderr.contains("holds no PEM certificate"),
        "{}",
        out.stderr
    );
    // The right CA, but a certificate for another name.
    let mut ca2 = TestCa::new("Parley test CA 2");
    let elsewhere = ca2.issue_for(&["parley.example.org"]);
    let misnamed = TestServer::builder()
        .config(RELAXED)
        .tls(&elsewhere, &ca2.ca_file())
        .start_process()
        .await;
    let url = misnamed.url();
    let out = parley_ca(
        home.path(),
        &ca2.ca_file(),
        &["login", &url, "--user", "alice", "--password-stdin"],
        Some(&password),
    )
    .await;
    assert!(!out.success);
    assert!(
        out.stderr.contains(&format!("cannot trust {url}"))
            && out.stderr.contains("for another host name"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn the_cli_goes_through_nginx_and_the_server_sees_the_client_behind_it() {
    let mut ca = TestCa::new("Parley test CA");
    let cert = ca.issue();
    let data = tempfile::tempdir().unwrap();
    // nginx connects from 127.0.0.2, the one trusted proxy; the test's own requests come from
    // 127.0.0.5, so the log can tell who is who.
    let proxy: IpAddr = "127.0.0.2".parse().unwrap();
    let (mut server, server_url, mut log) = server_with_access_log(data.path(), "127.0.0.2");
    let upstream = server_url.strip_prefix("http://").unwrap().parse().unwrap();
    let nginx = parley_testkit::nginx::Nginx::start(upstream, &cert, proxy).await;

    let me: IpAddr = "127.0.0.5".parse().unwrap();
    let through = reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(&tls::rustls_client(
            &ca.ca_file(),
        )))
        .local_address(me)
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
    // Through the trusted proxy: the client is the address nginx saw, not the proxy, and not
    // what the client claimed.
    let response = register(&through, &nginx.url, "alice", Some("198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(logged_client(&mut log, "/api/register").await, "127.0.0.5");
    // Directly from an untrusted peer: its header is ignored.
    let direct = reqwest::Client::builder()
        .local_address(me)
        .build()
        .unwrap();
    let response = register(&direct, &server_url, "bob", Some("198.51.100.7"))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(logged_client(&mut log, "/api/register").await, "127.0.0.5");

    // The CLI through nginx: HTTPS for the API, WSS for the tail.
    send_and_tail(&nginx.url, &ca.ca_file(), "alice").await;

    drop(nginx);
    signal(&server, "TERM");
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

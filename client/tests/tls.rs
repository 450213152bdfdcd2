//! The `parley` command line over `https://`: against the server's own TLS with the CA from
//! `PARLEY_CA_FILE`, through a real nginx terminating TLS (docs/deployment.md's
//! configuration), and refusing certificates it cannot trust with a sentence naming the
//! server and the reason.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::BufRead,
    net::IpAddr,
    path::Path,
    process::{Command, Stdio},
};

use common::*;
use parley_testkit::tls::TestCa;
use tokio::io::AsyncBufReadExt;

/// `parley` with the CA file, as a user would run it.
async fn parley_ca(home: &Path, ca: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    eprintln!("parley {args:?}");
    run_parley_with(home, args, stdin, &[("PARLEY_CA_FILE", ca)]).await
}

/// A new CLI home signed in at `url` as `user`, a member of `general`.
async fn sign_in(url: &str, ca: &Path, user: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let out = parley_ca(
        home.path(),
        ca,
        &["login", url, "--user", user, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert!(out.success, "login: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("signed in to {url} as {user}")),
        "{}",
        out.stdout
    );
    let out = parley_ca(home.path(), ca, &["join", "general"], None).await;
    assert!(out.success, "join: {}{}", out.stdout, out.stderr);
    home
}

/// Signs in at `url`, joins `general`, follows it with `tail` in another process, sends two
/// messages and sees them arrive there: the HTTP API and the WebSocket both over TLS.
async fn send_and_tail(url: &str, ca: &Path, user: &str) {
    // Two homes, as two computers: a home's local cache would already hold what it sent, and
    // the tail shows messages that are new to it.
    let home = sign_in(url, ca, user).await;
    let tail_home = sign_in(url, ca, user).await;
    let mut tail = tokio::process::Command::new(workspace_binary("parley"))
        .args(["--json", "tail", "general"])
        .env("PARLEY_HOME", tail_home.path())
        .env("PARLEY_NO_KEYRING", "1")
        .env("PARLEY_CA_FILE", ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(TIMEOUT, lines.next_line())
            .await
            .expect("tail said nothing in time")
            .unwrap()
            .expect("tail ended")
    };
    while !next_line().await.contains("\"online\"") {}

    for text in ["over TLS", "and back"] {
        let out = parley_ca(home.path(), ca, &["send", "general", text], None).await;
        assert!(out.success, "send: {}{}", out.stdout, out.stderr);
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let value: serde_json::Value = serde_json::from_str(&next_line().await).unwrap();
        if value["kind"] == "message" {
            seen.push(value["message"]["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ["over TLS", "and back"]);
    tail.kill().await.unwrap();
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

/// The server with JSON logs (its access log on), `trusted_proxies` set, and its log lines.
fn server_with_access_log(
    data: &Path,
    trusted: &str,
) -> (
    std::process::Child,
    String,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut child = Command::new(workspace_binary("parley-server"))
        .args(["--data", data.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("PARLEY_LOG", "warn,parley::access=info")
        .env("PARLEY_SERVER_TRUSTED_PROXIES", format!("[\"{trusted}\"]"))
        .env("PARLEY_WORKSPACE_FIRST_CHANNEL", "general")
        .env("PARLEY_ACCOUNTS_REGISTRATION", "open")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, url, rx)
}

/// The client address of the next access-log line for `route`.
async fn logged_client(
    log: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    route: &str,
) -> String {
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let line = log.recv().await.expect("the server's log ended");
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let fields = &value["fields"];
            if fields["route"] == route {
                return fields["client"].as_str().unwrap().to_owned();
            }
        }
    })
    .await
    .expect("no access-log line in time")
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

//! The server's own TLS (`server.tls_cert`, `server.tls_key`): HTTPS and WSS on one port, the
//! `listening on https://` line, a clear refusal to start with unusable files, the certificate
//! replaced on SIGHUP (and kept when the new files are bad), and client addresses taken from
//! `X-Forwarded-For` only when the peer is a trusted proxy.
#![allow(clippy::unwrap_used)]

use std::{
    io::BufRead,
    process::{Command, Stdio},
    time::Duration,
};

use parley_testkit::{tls::TestCa, *};
use serde_json::json;

#[tokio::test]
async fn https_and_wss_are_served_with_the_configured_certificate() {
    let mut ca = TestCa::new("Parley test CA");
    let cert = ca.issue();
    let server = TestServer::builder()
        .config(RELAXED)
        .tls(&cert, &ca.ca_file())
        .start_process()
        .await;
    assert!(
        server.url().starts_with("https://127.0.0.1:"),
        "{}",
        server.url()
    );
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, 200);
    let token = server.register("alice").await;
    server.create_channel(&token, "general").await;
    // A WebSocket over TLS, end to end: subscribe, send, and the message comes back.
    let mut ws = server.connect(Some(&token)).await;
    assert_eq!(ws.hello["user"]["name"], "alice", "{}", ws.hello);
    ws.ok(json!({"type": "subscribe", "channel": "general"}))
        .await;
    ws.ok(json!({"type": "send", "channel": "general", "text": "over wss", "client_id": "c1"}))
        .await;
    assert_eq!(server.history_texts(&token, "general").await, ["over wss"]);

    // Plain HTTP on the TLS port gets no answer, rather than a downgrade.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.addr()))
        .timeout(TIMEOUT)
        .send()
        .await;
    assert!(
        plain.as_ref().map_or(true, |r| r.status() != 200),
        "{plain:?}"
    );
    // A client that does not trust the CA is refused by its own TLS check.
    let other = TestCa::new("Another CA");
    let refused = tls::http_client(&other.ca_file())
        .get(format!("{}/healthz", server.url()))
        .timeout(TIMEOUT)
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
}

/// What `parley-server serve` prints on stderr when it cannot start with these files.
fn start_failure(cert: &std::path::Path, key: &std::path::Path) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(workspace_binary("parley-server"))
        .args(["--data", data.path().to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PARLEY_SERVER_TLS_CERT", cert)
        .env("PARLEY_SERVER_TLS_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It must end by itself, quickly: wait with a deadline.
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.stdout.is_empty(), "it must not say it listens");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn unusable_certificate_files_stop_the_server_with_the_reason() {
    let mut ca = TestCa::new("Parley test CA");
    let good = ca.issue();
    let other = ca.issue();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");

    let err = start_failure(&missing, &good.key);
    assert!(err.contains("cannot read the TLS certificate"), "{err}");
    assert!(err.contains("missing.pem"), "{err}");
    let err = start_failure(&garbage, &good.key);
    assert!(err.contains("holds no PEM certificate"), "{err}");
    let err = start_failure(&good.cert, &garbage);
    assert!(err.contains("holds no PEM private key"), "{err}");
    // A key that belongs to another certificate.
    let err = start_failure(&good.cert, &other.key);
    assert!(err.contains("cannot be used together"), "{err}");
}

#[test]
fn a_certificate_without_its_key_is_a_config_error() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(workspace_binary("parley-server"))
        .args(["--data", data.path().to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PARLEY_SERVER_TLS_CERT", "/some/cert.pem")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("server.tls_cert and server.tls_key must be set together"),
        "{err}"
    );
}

/// Whether a fresh connection trusting only `ca` gets through (a new client each time: no
/// pooled connection from before a reload).
async fn trusted_by(url: &str, ca: &TestCa) -> bool {
    tls::http_client(&ca.ca_file())
        .get(format!("{url}/healthz"))
        .timeout(TIMEOUT)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// Polls until a fresh connection trusting `ca` is answered.
async fn until_trusted_by(url: &str, ca: &TestCa) {
    tokio::time::timeout(TIMEOUT, async {
        while !trusted_by(url, ca).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the new certificate was not served in time");
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_it_when_the_new_files_are_bad() {
    let mut first_ca = TestCa::new("First CA");
    let mut second_ca = TestCa::new("Second CA");
    let first = first_ca.issue();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&first.cert, &cert).unwrap();
    std::fs::copy(&first.key, &key).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(workspace_binary("parley-server"))
        .args(["--data", data.path().to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PARLEY_SERVER_TLS_CERT", &cert)
        .env("PARLEY_SERVER_TLS_KEY", &key)
        .env("PARLEY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_stdout_line(&mut child).await;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    assert!(url.starts_with("https://"), "{url}");
    // The server's log, line by line, for the reload outcomes.
    let (log_tx, mut log) = tokio::sync::mpsc::unbounded_channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if log_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut wait_for_log = async |needle: &str| {
        tokio::time::timeout(TIMEOUT, async {
            while let Some(line) = log.recv().await {
                if line.contains(needle) {
                    return line;
                }
            }
            panic!("the server's log ended before {needle:?}");
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in the log"))
    };

    assert!(trusted_by(&url, &first_ca).await);
    assert!(!trusted_by(&url, &second_ca).await);

    // A renewed certificate, from another CA: served after SIGHUP.
    let second = second_ca.issue();
    std::fs::copy(&second.cert, &cert).unwrap();
    std::fs::copy(&second.key, &key).unwrap();
    signal(&child, "HUP");
    wait_for_log("TLS certificate and key reloaded").await;
    until_trusted_by(&url, &second_ca).await;
    assert!(!trusted_by(&url, &first_ca).await);

    // Broken files: the reload fails, said so, and the certificate in use stays.
    std::fs::write(&cert, "half-written\n").unwrap();
    signal(&child, "HUP");
    let line = wait_for_log("TLS reload failed").await;
    assert!(line.contains("holds no PEM certificate"), "{line}");
    assert!(trusted_by(&url, &second_ca).await);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server must keep running"
    );

    signal(&child, "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_without_tls_does_not_stop_the_server() {
    let mut server = TestServer::start_process(RELAXED).await;
    let pid = rustix::process::Pid::from_raw(server.pid() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).unwrap();
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, 200);
    // Ended by the SIGTERM of the stop, cleanly: not by the SIGHUP's default action.
    let exit = server.stop().await;
    assert!(exit.success(), "{exit:?}");
}

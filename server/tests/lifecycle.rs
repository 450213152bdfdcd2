//! Process lifecycle: the listening line, zero-argument start, graceful shutdown on SIGTERM and
//! SIGINT (1001 after flushing, exit 0, nothing acknowledged lost), health and logs.
#![allow(clippy::unwrap_used)]

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use parley_testkit::*;
use serde_json::json;

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_after_flushing_and_exits_zero() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    let mut watcher = server.connect(Some(&token)).await;
    watcher
        .ok(json!({"type": "subscribe", "channel": "general"}))
        .await;

    // Fire sends without waiting, then stop: every acknowledged send must survive, and the
    // watcher must get every event it was sent before the 1001 close.
    for i in 0..50 {
        alice.send(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")})).await;
    }
    let acked = tokio::spawn(async move {
        let mut acked = Vec::new();
        loop {
            match tokio::time::timeout(TIMEOUT, futures_util::StreamExt::next(&mut alice.ws))
                .await
                .unwrap()
            {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    let f: serde_json::Value = serde_json::from_str(&t).unwrap();
                    if f["type"] == "reply" && f["op"] == "send" {
                        acked.push(
                            f["result"]["message"]["client_id"]
                                .as_str()
                                .unwrap()
                                .to_owned(),
                        );
                    }
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    return (acked, frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                other => panic!("unexpected end {other:?}"),
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let status = server.stop().await;
    assert!(status.success(), "exit status {status:?}");
    let (acked, code) = acked.await.unwrap();
    assert_eq!(code, Some(1001));
    let mut seen = Vec::new();
    loop {
        match watcher.until_closed_or_text().await {
            Ok(frame) if frame["kind"] == "message" => {
                seen.push(frame["message"]["client_id"].as_str().unwrap().to_owned())
            }
            Ok(_) => {}
            Err(code) => {
                assert_eq!(code, Some(1001));
                break;
            }
        }
    }
    assert!(
        acked.iter().all(|c| seen.contains(c)),
        "watcher missed an acknowledged message"
    );

    server.start_again().await;
    let mut reader = server.connect(Some(&token)).await;
    let page = reader
        .ok(json!({"type": "history", "channel": "general", "limit": 100}))
        .await;
    let stored: Vec<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["client_id"].as_str().unwrap().to_owned())
        .collect();
    for c in &acked {
        assert!(stored.contains(c), "acknowledged {c} was lost");
    }
}

#[tokio::test]
async fn sigint_also_shuts_down_cleanly() {
    let mut server = TestServer::start_process(RELAXED).await;
    let mut client = server.connect(None).await;
    client.ok(json!({"type": "ping"})).await;
    let child = server.take_child();
    signal(&child, "INT");
    let status = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait().unwrap()
    });
    assert_eq!(client.close_code().await, Some(1001));
    assert!(tokio::time::timeout(TIMEOUT, status)
        .await
        .unwrap()
        .unwrap()
        .success());
}

#[tokio::test]
async fn starts_with_no_arguments_using_default_data_dir() {
    let home = tempfile::tempdir().unwrap();
    // Only the port is overridden (through the environment, as an operator could), so the test
    // does not depend on a fixed port being free.
    let mut child = Command::new(workspace_binary("parley-server"))
        .env("XDG_DATA_HOME", home.path())
        .env("HOME", home.path())
        .env("PARLEY_SERVER_LISTEN", "127.0.0.1:0")
        .env("PARLEY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = first_stdout_line(&mut child).await;
    let url = lines
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .expect("listening line");
    assert!(url.parse::<u16>().unwrap() > 0);
    assert!(
        home.path().join("parley/parley.db").exists(),
        "default data dir under XDG_DATA_HOME"
    );
    let health = reqwest::get(format!("http://127.0.0.1:{url}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    signal(&child, "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn json_logs_and_bad_config_errors() {
    let data = tempfile::tempdir().unwrap();
    let (child, url) = json_logging_server(data.path(), "info").await;
    assert!(url.starts_with("http://"), "{url}");
    let stderr = stop_for_logs(child).await;
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
        assert!(value["level"].is_string());
    }

    // An invalid config is a clear error and a non-zero exit, not a panic.
    let config = data.path().join("bad.toml");
    std::fs::write(&config, "[websocket]\nmax_frame_size = \"lots\"\n").unwrap();
    let out = Command::new(workspace_binary("parley-server"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("max_frame_size") || err.contains("invalid size"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

/// An acknowledged message is committed: killing the server outright (SIGKILL, no shutdown)
/// loses none of them, whatever the checkpointer had or had not copied out of the WAL.
#[tokio::test]
async fn sigkill_loses_no_acknowledged_message() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("alice").await;
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    for i in 0..300 {
        alice
            .ok(json!({"type": "send", "channel": "general", "text": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    server.kill().await;
    server.start_again().await;
    let mut reader = server.connect(Some(&token)).await;
    let sub = reader
        .ok(json!({"type": "subscribe", "channel": "general", "since": 0}))
        .await;
    assert_eq!(sub["head"], 301, "{sub}");
    assert_eq!(sub["backlog"], 301);
    let page = reader
        .ok(json!({"type": "history", "channel": "general", "limit": 500}))
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 300);
}

/// The data directory holds every message, document and token hash: the server creates it
/// readable by its own user only, and tightens one that is open to others.
#[cfg(unix)]
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("new").join("data");
    let add = |data: &std::path::Path, name: &str| {
        let mut child = Command::new(workspace_binary("parley-server"))
            .arg("--data")
            .arg(data)
            .args(["user", "add", name, "--password-stdin"])
            .env("PARLEY_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    add(&data, "alice");
    assert_eq!(mode(&data), 0o700);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    add(&data, "bob");
    assert_eq!(mode(&data), 0o700, "an existing directory is tightened");
}

/// `/healthz` is liveness, `/readyz` readiness: once a shutdown is requested, `/readyz` answers
/// 503 while the server, through `server.drain_period`, still serves everyone (a load balancer
/// stops sending new clients before the server stops accepting them).
#[tokio::test]
async fn readyz_turns_503_when_draining_while_everything_still_works() {
    let server = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_SERVER_DRAIN_PERIOD", "5m")])
        .start_process()
        .await;
    let (status, body) = server.get("/readyz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    let token = server.register("alice").await;

    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (status, body) = server.get("/readyz", None).await;
        if status == 503 {
            assert_eq!(body["status"], "shutting down");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz stayed {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Draining: alive, and serving WebSockets and requests as before.
    assert_eq!(server.get("/healthz", None).await.0, 200);
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "still-here"}))
        .await;
    alice
        .ok(json!({"type": "send", "channel": "still-here", "text": "draining", "client_id": "d1"}))
        .await;
}

/// The access log: a line per HTTP request and per WebSocket session, with route, status,
/// duration, user id and client address, and never a token (not even one given as `?token=`).
#[tokio::test]
async fn the_access_log_has_a_line_per_request_and_session_and_no_token() {
    let data = tempfile::tempdir().unwrap();
    let (child, url) = json_logging_server(data.path(), "warn,parley::access=info").await;
    let http = reqwest::Client::new();
    let session: serde_json::Value = http
        .post(format!("{url}/api/register"))
        .json(&json!({"name": "alice", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let user_id = session["user"]["id"].as_i64().unwrap();
    let listed = http
        .get(format!("{url}/api/channels"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    // Under /api, so that the web app at / does not answer it.
    let missing = http
        .get(format!("{url}/api/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // A file the web app does not have (404 whether or not the app is built).
    let missing_file = http
        .get(format!("{url}/no/such/file.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_file.status(), 404);
    // A WebSocket that signs in with the token in the query, then closes.
    let ws_url = format!("{}/ws?v=1&token={token}", url.replace("http://", "ws://"));
    let mut ws = WsClient::connect(&ws_url, None).await;
    assert_eq!(ws.hello["user"]["id"], user_id);
    ws.ws.close(None).await.unwrap();
    // The server's answer to the close: from then on the session has seen the client close it,
    // and the shutdown below cannot be mistaken for the end of the session.
    tokio::time::timeout(TIMEOUT, async {
        while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws.ws).await {}
    })
    .await
    .expect("the server answers the close");
    drop(ws);

    let stderr = stop_for_logs(child).await;
    assert!(
        !stderr.contains(&token),
        "a token reached the log:\n{stderr}"
    );
    let access: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "parley::access")
        .map(|l| l["fields"].clone())
        .collect();
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        access
            .iter()
            .find(|f| pred(f))
            .unwrap_or_else(|| panic!("no such access line in {access:#?}"))
            .clone()
    };
    let register = find(&|f| f["route"] == "/api/register");
    assert_eq!(register["method"], "POST");
    assert_eq!(register["status"], 201);
    assert_eq!(register["client"], "127.0.0.1");
    assert!(register["duration_ms"].as_f64().unwrap() >= 0.0);
    let channels = find(&|f| f["route"] == "/api/channels");
    assert_eq!(channels["status"], 200);
    assert_eq!(channels["user_id"], user_id);
    let unmatched = find(&|f| f["status"] == 404 && f["route"] != "web");
    assert_eq!(unmatched["route"], "-");
    let web = find(&|f| f["route"] == "web");
    assert_eq!(
        (web["method"].clone(), web["status"].clone()),
        (json!("GET"), json!(404))
    );
    let upgrade = find(&|f| f["route"] == "/ws" && f["kind"] == "http");
    assert_eq!(upgrade["status"], 101);
    let session = find(&|f| f["kind"] == "websocket");
    assert_eq!(session["route"], "/ws");
    assert_eq!(session["user_id"], user_id);
    assert_eq!(session["closed_by"], "client");
    assert_eq!(session["client"], "127.0.0.1");
}

/// The real binary on a free port with JSON logs filtered by `log` on a piped stderr: the
/// child and its URL (`http://…`).
async fn json_logging_server(data: &std::path::Path, log: &str) -> (std::process::Child, String) {
    let mut child = Command::new(workspace_binary("parley-server"))
        .args(["--data", data.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("PARLEY_LOG", log)
        .env("PARLEY_ACCOUNTS_REGISTRATION", "open")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_stdout_line(&mut child).await;
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a listening line: {line}"))
        .to_owned();
    (child, url)
}

/// SIGTERM, a clean exit, and everything the server logged.
async fn stop_for_logs(child: std::process::Child) -> String {
    signal(&child, "TERM");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

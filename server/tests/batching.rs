//! Batched delivery (`/ws?batch_ms=N`): every frame is a JSON array of the frames due within
//! one window, in order; a reply ends the window at once, a full batch ends it early, and a
//! window left alone ends on time. Asking for more than `websocket.max_batch_window`, or for
//! something that is not a number, is refused before any WebSocket exists.
#![allow(clippy::unwrap_used)]

use futures_util::{SinkExt, StreamExt};
use parley_testkit::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

/// Connects to `/ws?batch_ms=…`, signed in with `token`: the socket, or the refusal.
async fn try_batched(
    server: &TestServer,
    token: &str,
    batch_ms: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}?batch_ms={batch_ms}", server.ws_url());
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .expect("connect timed out")
        .map(|(ws, _)| ws)
}

/// A raw connection to `/ws?batch_ms=…`, signed in with `token`.
async fn connect_batched(server: &TestServer, token: &str, batch_ms: &str) -> Ws {
    try_batched(server, token, batch_ms)
        .await
        .expect("connect failed")
}

/// The next text frame, which must be a JSON array of frames.
async fn next_batch(ws: &mut Ws) -> Vec<Value> {
    loop {
        let msg = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("timed out waiting for a batch")
            .expect("connection ended")
            .expect("read failed");
        if let Message::Text(text) = msg {
            let value: Value = serde_json::from_str(&text).unwrap();
            let frames = value
                .as_array()
                .unwrap_or_else(|| panic!("not a batch: {text}"));
            assert!(!frames.is_empty(), "an empty batch");
            // The protocol crate reads the same frame into typed frames.
            let typed = parley_protocol::decode_server_frames(&text).unwrap();
            assert_eq!(typed.len(), frames.len());
            return frames.clone();
        }
    }
}

async fn request(ws: &mut Ws, id: u64, op: Value) {
    let mut op = op;
    op["id"] = json!(id);
    ws.send(Message::text(op.to_string())).await.unwrap();
}

/// Bob, a member of `ops`, connected with `batch_ms` and subscribed (his hello and the
/// subscribe reply read).
async fn batched_subscriber(server: &TestServer, bob: &str, batch_ms: &str) -> Ws {
    let mut ws = connect_batched(server, bob, batch_ms).await;
    let hello = next_batch(&mut ws).await;
    assert_eq!(hello.len(), 1, "{hello:?}");
    assert_eq!(hello[0]["type"], "hello");
    assert_eq!(
        hello[0]["batch_ms"],
        json!(batch_ms.parse::<u64>().unwrap())
    );
    request(&mut ws, 1, json!({"type": "subscribe", "channel": "ops"})).await;
    // The reply goes out at once, whatever the window (the test's timeout is shorter than it).
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|f: &Value| f["type"] == "reply" && f["id"] == 1)
    {
        seen.extend(next_batch(&mut ws).await);
    }
    ws
}

async fn workspace(config: &str) -> (TestServer, String, String) {
    let server = TestServer::builder()
        .config(&format!("{RELAXED}\n{config}\n"))
        .start()
        .await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    server.create_channel(&alice, "ops").await;
    let mut b = server.connect(Some(&bob)).await;
    b.ok(json!({"type": "channel_join", "channel": "ops"}))
        .await;
    (server, alice, bob)
}

fn message_texts(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "event" && f["kind"] == "message")
        .map(|f| f["message"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_window_gathers_events_in_order_and_a_reply_ends_it() {
    // A window far longer than any wait in this test: events can only leave with a reply.
    let (server, alice, bob) =
        workspace("[websocket]\nmax_batch_window = \"10m\"\nping_interval = \"10m\"\n").await;
    let mut b = batched_subscriber(&server, &bob, "600000").await;
    let mut a = server.connect(Some(&alice)).await;
    let sent: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for text in &sent {
        a.ok(json!({"type": "send", "channel": "ops", "text": text, "client_id": unique("c")}))
            .await;
    }
    let mut received = Vec::new();
    let mut frames = 0;
    let mut id = 10;
    while received.len() < sent.len() {
        id += 1;
        request(&mut b, id, json!({"type": "channel_list"})).await;
        loop {
            let batch = next_batch(&mut b).await;
            frames += 1;
            let last = batch.last().unwrap();
            assert!(
                last["type"] == "reply",
                "a batch left before its window without a reply: {batch:?}"
            );
            received.extend(message_texts(&batch));
            if last["id"] == id {
                break;
            }
        }
    }
    assert_eq!(received, sent, "all delivered, in order, once");
    assert!(
        frames <= sent.len(),
        "{frames} frames for {} events",
        sent.len()
    );
}

#[tokio::test]
async fn a_window_ends_on_time_and_a_full_batch_goes_early() {
    let (server, alice, bob) = workspace("[websocket]\nmax_batch_bytes = \"1kb\"\n").await;
    let mut a = server.connect(Some(&alice)).await;

    // A short window with nothing to end it: the event arrives alone, when the window ends.
    let mut b = batched_subscriber(&server, &bob, "50").await;
    a.ok(json!({"type": "send", "channel": "ops", "text": "alone", "client_id": "alone"}))
        .await;
    let batch = next_batch(&mut b).await;
    assert_eq!(message_texts(&batch), ["alone"], "{batch:?}");
    drop(b);

    // The longest window allowed, and events of 600 characters: a batch reaches 1 KiB with its
    // second event and goes out then, without waiting for the window or a reply.
    let mut b = batched_subscriber(&server, &bob, "1000").await;
    let texts: Vec<String> = (0..4).map(|i| format!("{i}{}", "x".repeat(599))).collect();
    for text in &texts {
        a.ok(json!({"type": "send", "channel": "ops", "text": text, "client_id": unique("c")}))
            .await;
    }
    let mut received = Vec::new();
    while received.len() < texts.len() {
        let batch = next_batch(&mut b).await;
        let events = message_texts(&batch);
        assert!(
            events.len() <= 2,
            "{} events in a 1 KiB batch",
            events.len()
        );
        received.extend(events);
    }
    assert_eq!(received, texts);
}

#[tokio::test]
async fn unbatched_connections_are_unchanged_and_bad_asks_are_refused() {
    let (server, alice, bob) = workspace("").await;
    // batch_ms=0 is off: frames are objects, and hello names no window.
    let mut ws = connect_batched(&server, &bob, "0").await;
    let Some(Ok(Message::Text(text))) = tokio::time::timeout(TIMEOUT, ws.next()).await.unwrap()
    else {
        panic!("no hello");
    };
    let hello: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(hello["type"], "hello", "{hello}");
    assert!(hello.get("batch_ms").is_none(), "{hello}");
    let _ = alice;

    for (asked, why) in [
        ("abc", "whole number"),
        ("-5", "whole number"),
        ("1001", "websocket.max_batch_window"),
    ] {
        let err = try_batched(&server, &bob, asked)
            .await
            .expect_err("refused");
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("not an HTTP refusal: {err}");
        };
        assert_eq!(response.status(), 400, "batch_ms={asked}");
        let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
        assert_eq!(body["code"], "invalid_request", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(why), "batch_ms={asked}: {message}");
    }

    // No window outlasts ping_interval (the writer sends no ping while it gathers).
    let (short, _, carol) = workspace("[websocket]\nping_interval = \"300ms\"\n").await;
    let err = try_batched(&short, &carol, "500")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("400"), "{err}");
    let mut ok = connect_batched(&short, &carol, "300").await;
    assert_eq!(next_batch(&mut ok).await[0]["batch_ms"], 300);
}

/// Shutdown: events waiting in a batched connection's window are not dropped; they go out as
/// one last array before the 1001 close.
#[tokio::test]
async fn a_shutdown_delivers_the_open_window_before_closing() {
    let mut server = TestServer::start_process(RELAXED).await;
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    server.create_channel(&alice, "ops").await;
    let mut join = server.connect(Some(&bob)).await;
    join.ok(json!({"type": "channel_join", "channel": "ops"}))
        .await;
    // The longest window allowed: the messages are still in it when the server stops.
    let mut b = batched_subscriber(&server, &bob, "1000").await;
    let mut a = server.connect(Some(&alice)).await;
    let sent: Vec<String> = (0..3).map(|i| format!("last{i}")).collect();
    for text in &sent {
        a.ok(json!({"type": "send", "channel": "ops", "text": text, "client_id": text}))
            .await;
    }
    let status = server.stop().await;
    assert!(status.success(), "exit status {status:?}");
    let mut received = Vec::new();
    let code = loop {
        let msg = tokio::time::timeout(TIMEOUT, b.next())
            .await
            .expect("timed out before the close");
        match msg {
            Some(Ok(Message::Text(text))) => {
                let frames = parley_protocol::decode_server_frames(&text).expect("frames");
                assert!(text.starts_with('['), "not a batch: {text}");
                let values: Vec<Value> = frames
                    .iter()
                    .map(|f| serde_json::to_value(f).expect("json"))
                    .collect();
                received.extend(message_texts(&values));
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("ended without a close: {other:?}"),
        }
    };
    assert_eq!(code, Some(1001));
    assert_eq!(received, sent, "every event in the open window, in order");
}

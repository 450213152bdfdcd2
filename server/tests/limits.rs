//! Limits and bad input, each over a real socket: oversize and invalid frames, rate limits,
//! connection and subscription caps, slow consumers, liveness, origins and versions.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parley_testkit::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest,
    protocol::frame::{
        coding::{Data, OpCode},
        Frame,
    },
    Message,
};

#[tokio::test]
async fn oversize_frame_closes_with_1009() {
    let config = format!("{RELAXED}\n[websocket]\nmax_frame_size = \"1kb\"\n");
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut client = server.connect(Some(&token)).await;
    assert_eq!(client.hello["limits"]["max_frame_size"], 1024);
    client.ok(json!({"type": "ping"})).await; // a small frame is fine
    let big = json!({"type": "ping", "pad": "x".repeat(2000)});
    client.send(big).await;
    assert_eq!(client.close_code().await, Some(1009));
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = TestServer::start(RELAXED).await;
    let mut client = server.connect(None).await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    client.ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(client.close_code().await, Some(1007));
}

#[tokio::test]
async fn bad_json_and_unknown_types_get_errors_and_the_connection_stays_usable() {
    let server = TestServer::start(RELAXED).await;
    let mut client = server.connect(None).await;
    client.send_raw("{not json").await;
    let err = client.recv().await;
    assert_eq!(
        (err["type"].clone(), err["code"].clone(), err["id"].clone()),
        (json!("error"), json!("invalid_json"), json!(null))
    );
    client.send_raw(r#"{"id": 41, "type": "teleport"}"#).await;
    let err = client.recv().await;
    assert_eq!(
        (err["code"].clone(), err["id"].clone()),
        (json!("unknown_type"), json!(41))
    );
    client.send_raw(r#"{"id": 42, "type": "history"}"#).await;
    let err = client.recv().await;
    assert_eq!(
        (err["code"].clone(), err["id"].clone()),
        (json!("invalid_request"), json!(42))
    );
    client.send_raw(r#"{"type": "ping"}"#).await;
    assert_eq!(client.recv().await["code"], "invalid_request");
    client.send_raw("[]").await;
    assert_eq!(client.recv().await["code"], "invalid_request");
    client
        .ws
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    assert_eq!(client.recv().await["code"], "invalid_request");
    let pong = client.ok(json!({"type": "ping"})).await;
    assert!(pong["server_time"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn send_rate_limits_per_connection_and_per_user() {
    let config = "[rate_limit]\nmessages_per_second = 0.5\nmessage_burst = 3\n\
                  user_messages_per_second = 0.5\nuser_message_burst = 5\n\
                  requests_per_second = 0\nlogins_per_second = 0\n";
    let server = TestServer::start(config).await;
    let token = server.register("alice").await;
    let mut one = server.connect(Some(&token)).await;
    one.ok(json!({"type": "channel_create", "channel": "general"}))
        .await;
    let send = |i: u32| json!({"type": "send", "channel": "general", "text": "hi", "client_id": format!("c{i}")});
    for i in 0..3 {
        one.ok(send(i)).await;
    }
    let err = one.err(send(3), "rate_limited").await;
    let retry = err["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 2000, "{err}");
    // A second connection of the same user has its own bucket but shares the user's.
    let mut two = server.connect(Some(&token)).await;
    two.ok(send(10)).await;
    two.ok(send(11)).await;
    two.err(send(12), "rate_limited").await;
    // The connection is still usable.
    two.ok(json!({"type": "ping"})).await;
}

#[tokio::test]
async fn request_rate_limit() {
    let config = "[rate_limit]\nrequests_per_second = 0.5\nrequest_burst = 5\n";
    let server = TestServer::start(config).await;
    let mut client = server.connect(None).await;
    for _ in 0..5 {
        client.ok(json!({"type": "ping"})).await;
    }
    let err = client.err(json!({"type": "ping"}), "rate_limited").await;
    assert!(err["retry_after_ms"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn max_connections_answers_503_at_the_upgrade() {
    let config = format!("{RELAXED}\n[realtime]\nmax_connections = 2\n");
    let server = TestServer::start(&config).await;
    let first = server.connect(None).await;
    let _second = server.connect(None).await;
    let err = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect_err("third must be refused");
    assert!(err.to_string().contains("503"), "{err}");
    drop(first);
    // The permit comes back once the server has seen the close (bounded retry).
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match tokio_tungstenite::connect_async(server.ws_url()).await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never got a slot back: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn channel_limit_caps_subscriptions_per_connection() {
    let config = format!("{RELAXED}\n[realtime]\nchannel_limit = 2\n");
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut client = server.connect(Some(&token)).await;
    for name in ["a", "b", "c"] {
        client
            .ok(json!({"type": "channel_create", "channel": name}))
            .await;
    }
    client
        .ok(json!({"type": "subscribe", "channel": "a"}))
        .await;
    client
        .ok(json!({"type": "subscribe", "channel": "b"}))
        .await;
    client
        .err(
            json!({"type": "subscribe", "channel": "c"}),
            "channel_limit",
        )
        .await;
    client
        .ok(json!({"type": "subscribe", "channel": "b", "since": 0}))
        .await; // re-subscribe is fine
    client
        .ok(json!({"type": "unsubscribe", "channel": "a"}))
        .await;
    client
        .ok(json!({"type": "subscribe", "channel": "c"}))
        .await;
    client
        .err(
            json!({"type": "unsubscribe", "channel": "a"}),
            "not_subscribed",
        )
        .await;
}

/// A client that stops reading is closed with 4000 (resync) once its queue is full; nobody
/// else is slowed down, nothing durable is lost: resuming with `since` delivers the rest.
#[tokio::test]
async fn slow_consumer_is_closed_for_resync_without_hurting_others() {
    let config =
        format!("{RELAXED}\n[realtime]\noutbound_queue = 16\nmax_message_length = 40000\n");
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut sender = server.connect(Some(&token)).await;
    sender
        .ok(json!({"type": "channel_create", "channel": "firehose"}))
        .await;
    let mut fast = server.connect(Some(&token)).await;
    fast.ok(json!({"type": "subscribe", "channel": "firehose"}))
        .await;

    // The slow client: a tiny receive buffer and, after subscribing, no reading at all.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(server.addr().parse().unwrap())
        .await
        .unwrap();
    let mut request = server.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut slow, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    slow.send(Message::text(
        json!({"id": 1, "type": "subscribe", "channel": "firehose"}).to_string(),
    ))
    .await
    .unwrap();

    let text = "x".repeat(30_000);
    let total = 600u64;
    // The slow client starts reading once the fast one is 400 messages in: by then its own
    // queue has long overflowed (its socket buffers hold far fewer 30 KB frames), and the
    // server is still within the grace it gives a closing connection to read the close.
    let (progress_tx, progress) = tokio::sync::oneshot::channel();
    let fast_reader = tokio::spawn(async move {
        let mut progress_tx = Some(progress_tx);
        let mut last = 0;
        while last < 1 + total {
            let frame = fast.event("firehose", "message").await;
            let seq = seq_of(&frame);
            assert_eq!(
                seq,
                last.max(1) + 1,
                "fast subscriber saw a gap or duplicate"
            );
            last = seq;
            if last >= 400 {
                if let Some(tx) = progress_tx.take() {
                    let _ = tx.send(());
                }
            }
        }
        last
    });
    let sending = tokio::spawn(async move {
        for i in 0..total {
            let op = json!({"type": "send", "channel": "firehose", "text": text, "client_id": format!("m{i}")});
            tokio::time::timeout(Duration::from_secs(5), sender.ok(op))
                .await
                .expect("a slow reader must not slow the sender");
        }
    });
    tokio::time::timeout(TIMEOUT, progress)
        .await
        .unwrap()
        .unwrap();
    // Now read the slow client: what it got is in order, then the resync close.
    let mut last_seq = 0;
    let code = loop {
        match tokio::time::timeout(TIMEOUT, slow.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) => {
                let frame: serde_json::Value = serde_json::from_str(&t).unwrap();
                if let Some(seq) = frame["seq"].as_u64() {
                    assert!(
                        seq == last_seq + 1 || last_seq == 0,
                        "order broken at {seq} after {last_seq}"
                    );
                    last_seq = seq;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("unexpected end: {other:?}"),
        }
    };
    assert_eq!(code, Some(4000));
    tokio::time::timeout(TIMEOUT, sending)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tokio::time::timeout(TIMEOUT, fast_reader)
            .await
            .unwrap()
            .unwrap(),
        1 + total
    );
    assert!(
        last_seq < 1 + total,
        "the slow client should not have received everything"
    );
    // Resume: exactly the rest.
    let mut again = server.connect(Some(&token)).await;
    let sub = again
        .ok(json!({"type": "subscribe", "channel": "firehose", "since": last_seq}))
        .await;
    assert_eq!(sub["backlog"].as_u64().unwrap(), 1 + total - last_seq);
    let mut next = last_seq + 1;
    loop {
        let frame = again.recv().await;
        if frame["type"] == "synced" {
            break;
        }
        assert_eq!(seq_of(&frame), next);
        next += 1;
    }
    assert_eq!(next, total + 2);
}

#[tokio::test]
async fn missing_pongs_close_with_4001() {
    let config =
        format!("{RELAXED}\n[websocket]\nping_interval = \"200ms\"\npong_timeout = \"300ms\"\n");
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut client = server.connect(Some(&token)).await;
    assert_eq!(client.hello["ping_interval_ms"], 200);
    // Not reading means not answering pings.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(client.close_code().await, Some(4001));

    // A client that reads (and so answers pings) stays connected well past the timeout.
    let mut live = server.connect(Some(&token)).await;
    assert!(
        live.none_within(Duration::from_millis(1500), |_| false)
            .await
    );
    live.ok(json!({"type": "ping"})).await;
}

#[tokio::test]
async fn silent_anonymous_connections_are_closed_after_the_handshake_timeout() {
    let config = format!("{RELAXED}\n[realtime]\nhandshake_timeout = \"300ms\"\n");
    let server = TestServer::start(&config).await;
    let mut silent = server.connect(None).await;
    assert_eq!(silent.close_code().await, Some(4003));
}

#[tokio::test]
async fn origins_versions_and_disabled_realtime_are_checked_at_the_upgrade() {
    let server =
        TestServer::start("[server]\nallowed_origins = [\"https://chat.example\"]\n").await;
    let with_header = |name: &'static str, value: &str| {
        let mut r = server.ws_url().into_client_request().unwrap();
        r.headers_mut().insert(name, value.parse().unwrap());
        r
    };
    let err = tokio_tungstenite::connect_async(with_header("origin", "https://evil.example"))
        .await
        .expect_err("bad origin");
    assert!(err.to_string().contains("403"), "{err}");
    tokio_tungstenite::connect_async(with_header("origin", "https://chat.example"))
        .await
        .expect("allowed origin");
    tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("native clients send no origin");

    let err = tokio_tungstenite::connect_async(with_header("parley-protocol", "99"))
        .await
        .expect_err("version");
    assert!(err.to_string().contains("426"), "{err}");
    let err = tokio_tungstenite::connect_async(format!("{}?v=2", server.ws_url()))
        .await
        .expect_err("version");
    assert!(err.to_string().contains("426"), "{err}");
    tokio_tungstenite::connect_async(format!("{}?v=1", server.ws_url()))
        .await
        .expect("current version");

    let off = TestServer::start("[realtime]\nenabled = false\n").await;
    let err = tokio_tungstenite::connect_async(off.ws_url())
        .await
        .expect_err("disabled");
    assert!(err.to_string().contains("503"), "{err}");
    let (status, _) = off.get("/healthz", None).await;
    assert_eq!(status, 200, "HTTP keeps working with realtime off");
}

/// A long catch-up keeps the connection's reader busy (it waits for room to queue the
/// backlog), so it cannot read pongs meanwhile: that must not count as a dead connection.
#[tokio::test]
async fn a_long_catch_up_is_not_a_missing_pong() {
    // Big frames: the socket buffers hold few of them, so the server's reader really waits for
    // room while the client reads slowly, for much longer than pong_timeout in total.
    let config = format!(
        "{RELAXED}\n[realtime]\noutbound_queue = 4\npresence_timeout = \"5s\"\n\
         max_message_length = 40000\n\
         [websocket]\nping_interval = \"100ms\"\npong_timeout = \"400ms\"\n"
    );
    let server = TestServer::start(&config).await;
    let token = server.register("alice").await;
    let mut alice = server.connect(Some(&token)).await;
    alice
        .ok(json!({"type": "channel_create", "channel": "busy", "presence": true}))
        .await;
    let pad = "x".repeat(30_000);
    let mut head = 0;
    for i in 0..300 {
        let op = json!({"type": "send", "channel": "busy", "text": format!("m{i} {pad}"), "client_id": format!("c{i}")});
        head = alice.ok(op).await["message"]["seq"].as_u64().unwrap();
    }
    let mut reader = server.connect(Some(&token)).await;
    reader
        .send(json!({"type": "subscribe", "channel": "busy", "since": 0}))
        .await;
    let started = std::time::Instant::now();
    let mut seen = 0;
    loop {
        match reader.until_closed_or_text().await {
            Ok(frame) if frame["type"] == "synced" => break,
            Ok(frame) if frame["seq"].is_u64() => seen += 1,
            Ok(_) => {}
            Err(code) => panic!("closed with {code:?} after {seen} events"),
        }
        // Pacing the reader, not synchronisation: the catch-up must outlast pong_timeout.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(seen, head);
    assert!(
        started.elapsed() > Duration::from_millis(800),
        "the catch-up was not long enough to test anything"
    );
    reader.ok(json!({"type": "ping"})).await;
}

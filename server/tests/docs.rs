//! Documents over `/docs/{name}` with yrs clients: sync, durability (restart, SIGKILL),
//! randomized convergence, limits and malformed frames.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use parley_testkit::{unique, ydoc::covers, ydoc::DocClient, TestServer, RELAXED};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use yrs::sync::{Message, SyncMessage};

const PEER: yrs::block::ClientID = yrs::block::ClientID::new(4242);

#[tokio::test]
async fn two_clients_converge_and_a_late_joiner_gets_everything() {
    let server = TestServer::start(RELAXED).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let mut a = DocClient::connect(&server.addr(), "notes", &alice).await;
    let mut b = DocClient::connect(&server.addr(), "notes", &bob).await;
    a.insert(0, "hello").await;
    b.wait_text("hello").await;
    b.insert(5, " world").await;
    a.wait_text("hello world").await;
    let mut late = DocClient::connect(&server.addr(), "notes", &bob).await;
    late.wait_text("hello world").await;
    // Connecting created it: it is listed, and its content is readable over HTTP.
    let (status, body) = server.get("/api/docs", Some(&alice)).await;
    assert_eq!(status, 200);
    assert!(body["docs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "notes"));
    let (status, body) = server.get("/api/docs/notes/content", Some(&bob)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"]["content"], "hello world");
}

#[tokio::test]
async fn offline_edits_merge_on_reconnect_and_survive_restart() {
    let mut server = TestServer::builder()
        .config(RELAXED)
        .sqlite()
        .start_process()
        .await;
    let token = server.register(&unique("u")).await;
    let mut a = DocClient::connect(&server.addr(), "plan", &token).await;
    let mut b = DocClient::connect(&server.addr(), "plan", &token).await;
    a.insert(0, "abc").await;
    b.wait_text("abc").await;
    a.drop_connection();
    a.insert(3, "-offline").await;
    b.insert(0, "online-").await;
    a.reconnect(&server.addr(), "plan", &token).await;
    a.wait_text("online-abc-offline").await;
    b.wait_text("online-abc-offline").await;
    // A clean shutdown compacts the log into a snapshot; the content is intact after it.
    let status = server.stop().await;
    assert!(status.success());
    {
        let db = rusqlite::Connection::open(server.data_dir().join("parley.db")).unwrap();
        let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(
            count("SELECT count(*) FROM doc_updates"),
            0,
            "log left after shutdown"
        );
        assert_eq!(count("SELECT count(*) FROM doc_snapshots"), 1);
    }
    server.start_again().await;
    let mut c = DocClient::connect(&server.addr(), "plan", &token).await;
    c.wait_text("online-abc-offline").await;
    a.reconnect(&server.addr(), "plan", &token).await;
    a.sync().await;
    assert_eq!(c.state(), a.state());
}

/// Nothing a client received from the server is lost when the server is killed outright.
#[tokio::test]
async fn sigkill_loses_no_update_a_client_received() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut writer = DocClient::connect(&server.addr(), "log", &token).await;
    let mut observer = DocClient::connect(&server.addr(), "log", &token).await;
    for i in 0..300u32 {
        writer.insert(writer.len(), &format!("{i},")).await;
        if i == 150 {
            // Make sure the observer is mid-stream when the kill comes.
            observer.pump_until(|c, _| c.len() > 100).await.unwrap();
        }
    }
    // Read whatever arrived, then kill without any shutdown.
    let seen = observer.received;
    assert!(seen > 0);
    let _ =
        tokio::time::timeout(Duration::from_millis(50), observer.pump_until(|_, _| false)).await;
    server.kill().await;
    let observed = observer.state_vector();
    server.start_again().await;
    let fresh = DocClient::connect(&server.addr(), "log", &token).await;
    assert!(
        covers(&fresh.state_vector(), &observed),
        "the restarted server lacks updates the observer had received"
    );
    // The writer resends what the server never committed: everyone converges.
    writer.reconnect(&server.addr(), "log", &token).await;
    writer.sync().await;
    let mut check = DocClient::connect(&server.addr(), "log", &token).await;
    check.wait_text(&writer.text()).await;
}

/// N clients edit at random, drop and restore their connections at random, and the server
/// restarts in the middle; at the end every replica is byte-identical.
#[tokio::test]
async fn random_concurrent_edits_with_disconnects_and_a_restart_converge() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let seed: u64 = std::env::var("PARLEY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("seed {seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(DocClient::connect(&server.addr(), "random", &token).await);
    }
    for step in 0..600 {
        if step == 300 {
            server.restart().await;
            for c in clients.iter_mut() {
                c.drop_connection();
            }
        }
        let i = rng.gen_range(0..clients.len());
        let c = &mut clients[i];
        match rng.gen_range(0..20) {
            0 => c.drop_connection(),
            1 if !c.is_connected() => c.reconnect(&server.addr(), "random", &token).await,
            2..=5 if !c.is_empty() => {
                let len = c.len();
                let at = rng.gen_range(0..len);
                let n = rng.gen_range(1..=(len - at).min(4));
                c.remove(at, n).await;
            }
            _ => {
                let at = rng.gen_range(0..=c.len());
                let chunk: String = (0..rng.gen_range(1..4))
                    .map(|_| rng.gen_range(b'a'..=b'z') as char)
                    .collect();
                c.insert(at, &chunk).await;
            }
        }
        // Now and then, read what arrived so far.
        if rng.gen_bool(0.2) && c.is_connected() {
            let _ =
                tokio::time::timeout(Duration::from_millis(2), c.pump_until(|_, _| false)).await;
        }
    }
    for c in clients.iter_mut() {
        if !c.is_connected() {
            c.reconnect(&server.addr(), "random", &token).await;
        }
        c.sync().await; // the server holds this client's edits
    }
    for c in clients.iter_mut() {
        c.sync().await; // this client holds everyone's
    }
    // Replicas may split blocks at different points (the same content in different runs of
    // items); their canonical form (the state loaded into a fresh document in one transaction,
    // which merges neighbouring runs) must be the same bytes.
    let first = canonical(&clients[0].state());
    for c in &clients {
        assert_eq!(c.text(), clients[0].text(), "texts differ (seed {seed})");
        assert_eq!(c.state_vector(), clients[0].state_vector());
        assert!(
            canonical(&c.state()) == first,
            "replicas differ (seed {seed})"
        );
    }
    let fresh = DocClient::connect(&server.addr(), "random", &token).await;
    assert!(
        canonical(&fresh.state()) == first,
        "server differs (seed {seed})"
    );
}

fn canonical(state: &[u8]) -> Vec<u8> {
    use yrs::{updates::decoder::Decode, ReadTxn, Transact};
    let doc = yrs::Doc::new();
    doc.transact_mut()
        .apply_update(yrs::Update::decode_v1(state).unwrap())
        .unwrap();
    let out = doc
        .transact()
        .encode_state_as_update_v1(&yrs::StateVector::default());
    out
}

#[tokio::test]
async fn malformed_frames_close_only_that_connection() {
    let server = TestServer::start(
        &(RELAXED.to_owned()
            + "[documents]\nmax_update_size = \"4KiB\"\nmax_document_size = \"16KiB\"\n"),
    )
    .await;
    let token = server.register(&unique("u")).await;
    let mut good = DocClient::connect(&server.addr(), "fragile", &token).await;
    good.insert(0, "intact").await;
    good.sync().await;
    let bad_frames: Vec<(&str, Vec<u8>, Option<u16>)> = vec![
        ("unknown sync step", vec![0, 9, 1, 0], Some(4006)),
        ("truncated update", vec![0, 2, 50, 1, 2], Some(4006)),
        (
            "garbage update",
            vec![0, 2, 4, 0xff, 0xff, 0xff, 0xff],
            Some(4006),
        ),
        (
            "awareness garbage",
            vec![1, 3, 0xff, 0xff, 0xff],
            Some(4006),
        ),
        ("trailing bytes", vec![3, 0xff], Some(4006)),
        ("oversize frame", vec![0u8; 5000], Some(1009)),
    ];
    for (what, frame, expected) in bad_frames {
        let mut bad = DocClient::new();
        bad.open(&server.addr(), "fragile", &token).await.unwrap();
        bad.send_raw(frame).await;
        assert_eq!(bad.close_code().await, expected, "{what}");
    }
    let mut text = DocClient::new();
    text.open(&server.addr(), "fragile", &token).await.unwrap();
    text.send_text("hello").await;
    assert_eq!(text.close_code().await, Some(1003));
    // The document and the good client are untouched and still live.
    good.insert(6, "!").await;
    let mut check = DocClient::connect(&server.addr(), "fragile", &token).await;
    check.wait_text("intact!").await;
    assert!(good.is_connected());

    // The document size limit: updates that would pass it close the sender (4004), unapplied.
    let mut big = DocClient::connect(&server.addr(), "fragile", &token).await;
    let mut closed = None;
    for _ in 0..8 {
        big.insert(0, &"x".repeat(3000)).await;
        if let Err(code) = big.pump_until(|_, _| true).await {
            closed = code;
            break;
        }
        big.sync_or_closed(&mut closed).await;
        if closed.is_some() {
            break;
        }
    }
    assert_eq!(closed, Some(4004));
    let (_, body) = server.get("/api/docs/fragile/content", Some(&token)).await;
    let stored = body["text"]["content"].as_str().unwrap().len();
    assert!(stored < 16 * 1024, "stored {stored} bytes past the limit");
}

trait SyncOrClosed {
    async fn sync_or_closed(&mut self, closed: &mut Option<u16>);
}

impl SyncOrClosed for DocClient {
    async fn sync_or_closed(&mut self, closed: &mut Option<u16>) {
        let sv = self.state_vector();
        self.send_message(Message::Sync(SyncMessage::SyncStep1(sv)))
            .await;
        if let Err(code) = self
            .pump_until(|_, m| matches!(m, Some(Message::Sync(SyncMessage::SyncStep2(_)))))
            .await
        {
            *closed = code;
        }
    }
}

#[tokio::test]
async fn awareness_is_relayed_and_cleared_when_a_connection_goes() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register(&unique("u")).await;
    let mut a = DocClient::connect(&server.addr(), "aware", &token).await;
    let mut b = DocClient::connect(&server.addr(), "aware", &token).await;
    let mut update = yrs::sync::awareness::AwarenessUpdate {
        clients: Default::default(),
    };
    update.clients.insert(
        PEER,
        yrs::sync::awareness::AwarenessUpdateEntry {
            clock: 1,
            json: r#"{"user":{"name":"alice"},"cursor":3}"#.into(),
        },
    );
    a.send_message(Message::Awareness(update)).await;
    b.pump_until(|c, _| {
        c.awareness.iter().any(|u| {
            u.clients
                .get(&PEER)
                .is_some_and(|e| e.json.contains("alice"))
        })
    })
    .await
    .unwrap();
    // A late joiner gets the current awareness with the handshake.
    let mut c = DocClient::new();
    c.open(&server.addr(), "aware", &token).await.unwrap();
    c.pump_until(|c, _| c.awareness.iter().any(|u| u.clients.contains_key(&PEER)))
        .await
        .unwrap();
    // A goes away: the others hear that its state is gone (null).
    a.drop_connection();
    b.pump_until(|c, _| {
        c.awareness
            .iter()
            .any(|u| u.clients.get(&PEER).is_some_and(|e| &*e.json == "null"))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn idle_documents_unload_and_reload_intact() {
    let server = TestServer::start(
        &(RELAXED.to_owned() + "[documents]\nidle_timeout = \"100ms\"\ncompact_after = \"64\"\n"),
    )
    .await;
    let token = server.register(&unique("u")).await;
    let mut a = DocClient::connect(&server.addr(), "idle", &token).await;
    for i in 0..50 {
        a.insert(a.len(), &format!("line {i}\n")).await;
    }
    a.sync().await;
    let expected = a.text();
    drop(a);
    // Reconnect repeatedly across unloads; the content is always whole.
    for _ in 0..3 {
        let (_, health) = server.get("/healthz", None).await;
        assert_eq!(health["status"], "ok");
        let mut b = DocClient::connect(&server.addr(), "idle", &token).await;
        b.wait_text(&expected).await;
        drop(b);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, body) = server.get("/api/docs/idle/content", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["text"]["content"], expected.as_str());
    let _ = json!({});
}

/// A client that stops reading while others write fast is not dropped and loses nothing:
/// once its queue drains it gets one catch-up with everything it missed.
#[tokio::test]
async fn a_slow_reader_catches_up_without_being_dropped() {
    let server =
        TestServer::start(&(RELAXED.to_owned() + "[documents]\noutbound_queue = 8\n")).await;
    let token = server.register(&unique("u")).await;
    let mut slow = DocClient::connect(&server.addr(), "flood", &token).await;
    let mut writer = DocClient::connect(&server.addr(), "flood", &token).await;
    for i in 0..2000u32 {
        writer.insert(writer.len(), &format!("{i} ")).await;
    }
    writer.sync().await;
    let expected = writer.text();
    // Far more updates than the slow reader's queue holds went by; it reads only now.
    slow.wait_text(&expected).await;
    assert!(slow.is_connected());
    assert!(
        slow.received < 2000,
        "expected a catch-up, got {} separate updates",
        slow.received
    );
}

//! Snapshot tests: the exact JSON of each wire type, so an accidental rename is caught here.

use serde_json::json;

use super::*;

/// alice, the user of the snapshots (here and in `api`'s).
pub(crate) fn user() -> UserRef {
    UserRef {
        id: 1,
        name: "alice".into(),
        display_name: None,
        avatar: None,
    }
}

#[test]
fn request_send_decodes() {
    let req = decode_request(
        r#"{"id":7,"type":"send","channel":"team:general","text":"hi","client_id":"c1"}"#,
    )
    .expect("valid");
    assert_eq!(
        req,
        Request {
            id: 7,
            op: Op::Send {
                channel: "team:general".into(),
                text: "hi".into(),
                client_id: "c1".into(),
                attachments: vec![],
            }
        }
    );
}

#[test]
fn unit_request_and_settings_flatten() {
    assert_eq!(
        decode_request(r#"{"id":1,"type":"ping"}"#)
            .expect("ping")
            .op,
        Op::Ping
    );
    let req = decode_request(
        r#"{"id":2,"type":"channel_create","channel":"a:b","channel_type":"private","max_participants":3}"#,
    )
    .expect("create");
    match req.op {
        Op::ChannelCreate { channel, settings } => {
            assert_eq!(channel, "a:b");
            assert_eq!(settings.kind, Some(ChannelType::Private));
            assert_eq!(settings.max_participants, Some(3));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn decode_errors_are_classified() {
    assert_eq!(
        decode_request("{nope").expect_err("bad").code,
        ErrorCode::InvalidJson
    );
    let e = decode_request(r#"{"id":5,"type":"fly"}"#).expect_err("unknown");
    assert_eq!((e.code, e.request_id), (ErrorCode::UnknownType, Some(5)));
    let e = decode_request(r#"{"id":6,"type":"send","channel":"x"}"#).expect_err("missing");
    assert_eq!((e.code, e.request_id), (ErrorCode::InvalidRequest, Some(6)));
    assert_eq!(
        decode_request("[1,2]").expect_err("array").code,
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        decode_request(r#"{"id":1}"#).expect_err("no type").code,
        ErrorCode::InvalidRequest
    );
    let e = decode_request(r#"{"id":"a","type":"ping"}"#).expect_err("string id");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("`id`"), "{}", e.message);
}

#[test]
fn op_type_list_matches_names() {
    // Every listed name decodes to an op whose name() is itself (given the right fields), and
    // every op's name is listed.
    for name in Op::TYPES {
        assert!(Op::is_known_type(name));
    }
    assert_eq!(Op::Ping.name(), "ping");
    assert!(!Op::is_known_type("pong"));
}

#[test]
fn reply_frame_snapshot() {
    let frame = ServerFrame::Reply {
        id: 3,
        reply: Reply::Unsubscribe {
            channel: "team:general".into(),
        },
    };
    assert_eq!(
        serde_json::to_value(&frame).expect("ser"),
        json!({"type":"reply","id":3,"op":"unsubscribe","result":{"channel":"team:general"}})
    );
    let back: ServerFrame =
        serde_json::from_value(serde_json::to_value(&frame).expect("ser")).expect("round trip");
    assert_eq!(back, frame);
}

#[test]
fn error_frame_snapshot() {
    let mut error = ErrorBody::rate_limited(250);
    error.request_id = Some(9);
    let frame = ServerFrame::Error { id: Some(9), error };
    assert_eq!(
        serde_json::to_value(&frame).expect("ser"),
        json!({"type":"error","id":9,"code":"rate_limited",
               "message":"too many requests; retry in 250 ms","retry_after_ms":250})
    );
}

#[test]
fn event_frame_snapshot() {
    let frame = ServerFrame::Event(EventFrame {
        channel: "team:general".into(),
        seq: Some(12),
        event: Event::Message {
            message: Message {
                id: 40,
                channel: "team:general".into(),
                seq: 12,
                author: user(),
                text: "hi".into(),
                client_id: "c1".into(),
                created_at: "2026-11-28T01:00:00.000Z".into(),
                ts: 1_795_827_600_000,
                edited_at: None,
                deleted: false,
                thread: None,
                attachments: Vec::new(),
                mentions: Vec::new(),
                reactions: Vec::new(),
            },
        },
    });
    let value = serde_json::to_value(&frame).expect("ser");
    assert_eq!(
        value,
        json!({"type":"event","channel":"team:general","seq":12,"kind":"message",
               "message":{"id":40,"channel":"team:general","seq":12,
                          "author":{"id":1,"name":"alice","display_name":null,"avatar":null},
                          "text":"hi","client_id":"c1","created_at":"2026-11-28T01:00:00.000Z",
                          "ts":1_795_827_600_000_i64}})
    );
    let back: ServerFrame = serde_json::from_value(value).expect("round trip");
    assert_eq!(back, frame);

    let typing = ServerFrame::Event(EventFrame {
        channel: "c".into(),
        seq: None,
        event: Event::Typing {
            user: user(),
            typing: true,
            expires_in_ms: 5000,
        },
    });
    let value = serde_json::to_value(&typing).expect("ser");
    assert!(
        value.get("seq").is_none(),
        "ephemeral events carry no seq: {value}"
    );
    assert_eq!(
        serde_json::from_value::<ServerFrame>(value).expect("rt"),
        typing
    );
}

#[test]
fn subscribe_reply_with_reset_round_trips() {
    let frame = ServerFrame::Reply {
        id: 1,
        reply: Reply::Subscribe(SubscribeResult {
            channel: "c".into(),
            epoch: "e1".into(),
            head: 5,
            oldest_seq: 3,
            backlog: 3,
            reset: Some(ResetReason::HistoryTruncated),
            presence: None,
        }),
    };
    let value = serde_json::to_value(&frame).expect("ser");
    assert_eq!(value["result"]["reset"], json!("history_truncated"));
    assert_eq!(
        serde_json::from_value::<ServerFrame>(value).expect("rt"),
        frame
    );
}

/// The fuzz target's properties, checked on every test run over mutations of the fuzz seeds
/// (`fuzz/seeds`, committed; the generated corpus stays local; cargo-fuzz itself needs a nightly-style build and does not run in CI): decoding never
/// panics, every failure has a message, and a decoded request survives a round trip.
#[test]
fn decoding_mutated_frames_never_panics() {
    let corpus: Vec<Vec<u8>> =
        std::fs::read_dir(manifest_dir().join("../fuzz/seeds/decode_request"))
            .expect("fuzz seeds")
            .map(|entry| std::fs::read(entry.expect("entry").path()).expect("read"))
            .collect();
    assert!(!corpus.is_empty());
    // xorshift: deterministic, no dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let interesting = b"{}[]\":,0123456789-.eE\\u nultrfas";
    let mut decoded = 0;
    for round in 0..20_000 {
        let mut bytes = corpus[round % corpus.len()].clone();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if pos < bytes.len() => {
                    bytes[pos] = interesting[(next() as usize) % interesting.len()];
                }
                1 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos, interesting[(next() as usize) % interesting.len()]),
            }
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        match decode_request(text) {
            Ok(request) => {
                decoded += 1;
                let again = serde_json::to_string(&request).expect("serializes");
                assert_eq!(decode_request(&again).expect("decodes again"), request);
            }
            Err(error) => assert!(!error.message.is_empty()),
        }
    }
    assert!(
        decoded > 100,
        "mutations should still decode sometimes ({decoded})"
    );
}

#[test]
fn search_terms_are_plain_words() {
    assert_eq!(
        search_terms("hello wor").as_deref(),
        Some("\"hello\" \"wor\"*")
    );
    assert_eq!(search_terms("e-mail").as_deref(), Some("\"e\" \"mail\"*"));
    assert_eq!(
        search_terms("\"NEAR( * OR -").as_deref(),
        Some("\"NEAR\" \"OR\"*")
    );
    assert_eq!(search_terms("  ** "), None);
}

/// This package's directory: as cargo gives it to the running test, else as it was at build
/// time. (A build reused from a checkout at another path carries that path in `env!`.)
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
        || env!("CARGO_MANIFEST_DIR").into(),
        std::path::PathBuf::from,
    )
}

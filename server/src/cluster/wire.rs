//! How a committed event travels between nodes on Redis pub/sub: one binary message per event,
//! `[1][node u64][channel i64][seq u64][author i64, 0: none][frame bytes]`, integers
//! little-endian; a node's heartbeat is `[2][node u64]`; an ephemeral event (typing, presence,
//! a custom event) `[3][node u64][channel i64][frame bytes]`; a node asking who is present in a
//! channel `[4][node u64][channel i64]`; a document whose record or roles changed
//! `[5][node u64][document i64][user i64, 0: everyone]`. The frame is the exact JSON the
//! committing node's subscribers got, so every node delivers identical bytes.

use crate::store::Published;

const VERSION: u8 = 1;
const HEARTBEAT: u8 = 2;
const EPHEMERAL: u8 = 3;
const PRESENCE_REQUEST: u8 = 4;
const DOC_CHANGED: u8 = 5;

/// What one pub/sub message carries.
pub enum Message {
    Event {
        node: u64,
        event: Published,
    },
    Heartbeat {
        node: u64,
    },
    Ephemeral {
        node: u64,
        channel_id: i64,
        frame: String,
    },
    PresenceRequest {
        node: u64,
        channel_id: i64,
    },
    DocChanged {
        node: u64,
        doc_id: i64,
        user_id: Option<i64>,
    },
}

pub fn doc_changed(node: u64, doc_id: i64, user_id: Option<i64>) -> Vec<u8> {
    let mut out = vec![DOC_CHANGED];
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&doc_id.to_le_bytes());
    out.extend_from_slice(&user_id.unwrap_or(0).to_le_bytes());
    out
}

pub fn ephemeral(node: u64, channel_id: i64, frame: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + frame.len());
    out.push(EPHEMERAL);
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&channel_id.to_le_bytes());
    out.extend_from_slice(frame.as_bytes());
    out
}

pub fn presence_request(node: u64, channel_id: i64) -> Vec<u8> {
    let mut out = vec![PRESENCE_REQUEST];
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&channel_id.to_le_bytes());
    out
}

pub fn heartbeat(node: u64) -> Vec<u8> {
    let mut out = vec![HEARTBEAT];
    out.extend_from_slice(&node.to_le_bytes());
    out
}
const HEADER: usize = 1 + 8 * 4;

pub fn encode(node: u64, event: &Published) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + event.frame.len());
    out.push(VERSION);
    out.extend_from_slice(&node.to_le_bytes());
    out.extend_from_slice(&event.channel_id.to_le_bytes());
    out.extend_from_slice(&event.seq.to_le_bytes());
    out.extend_from_slice(&event.author_id.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(event.frame.as_bytes());
    out
}

/// None for anything else (a newer version, a short or garbled message): ignored, and the gap
/// it leaves is filled from the store.
pub fn decode(bytes: &[u8]) -> Option<Message> {
    let word = |i: usize| -> Option<[u8; 8]> { bytes.get(1 + 8 * i..9 + 8 * i)?.try_into().ok() };
    match *bytes.first()? {
        HEARTBEAT if bytes.len() == 9 => {
            return Some(Message::Heartbeat {
                node: u64::from_le_bytes(word(0)?),
            })
        }
        PRESENCE_REQUEST if bytes.len() == 17 => {
            return Some(Message::PresenceRequest {
                node: u64::from_le_bytes(word(0)?),
                channel_id: i64::from_le_bytes(word(1)?),
            })
        }
        DOC_CHANGED if bytes.len() == 25 => {
            let user = i64::from_le_bytes(word(2)?);
            return Some(Message::DocChanged {
                node: u64::from_le_bytes(word(0)?),
                doc_id: i64::from_le_bytes(word(1)?),
                user_id: (user != 0).then_some(user),
            });
        }
        EPHEMERAL if bytes.len() >= 17 => {
            return Some(Message::Ephemeral {
                node: u64::from_le_bytes(word(0)?),
                channel_id: i64::from_le_bytes(word(1)?),
                frame: std::str::from_utf8(&bytes[17..]).ok()?.to_owned(),
            })
        }
        _ => {}
    }
    if bytes.len() < HEADER || bytes[0] != VERSION {
        return None;
    }
    let node = u64::from_le_bytes(word(0)?);
    let channel_id = i64::from_le_bytes(word(1)?);
    let seq = u64::from_le_bytes(word(2)?);
    let author = i64::from_le_bytes(word(3)?);
    let frame = std::str::from_utf8(&bytes[HEADER..]).ok()?.to_owned();
    Some(Message::Event {
        node,
        event: Published {
            channel_id,
            seq,
            frame,
            author_id: (author != 0).then_some(author),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_of(bytes: &[u8]) -> Option<(u64, Published)> {
        match decode(bytes)? {
            Message::Event { node, event } => Some((node, event)),
            _ => None,
        }
    }

    #[test]
    fn events_round_trip_and_garbage_is_ignored() {
        let event = Published {
            channel_id: 42,
            seq: 7,
            frame: r#"{"type":"event","seq":7}"#.into(),
            author_id: Some(3),
        };
        let bytes = encode(9, &event);
        let (node, back) = event_of(&bytes).expect("decodes");
        assert_eq!(node, 9);
        assert_eq!(
            (
                back.channel_id,
                back.seq,
                back.frame.as_str(),
                back.author_id
            ),
            (42, 7, event.frame.as_str(), Some(3))
        );
        let anonymous = Published {
            author_id: None,
            ..event
        };
        assert_eq!(
            event_of(&encode(1, &anonymous)).map(|(_, e)| e.author_id),
            Some(None)
        );
        assert!(matches!(
            decode(&heartbeat(5)),
            Some(Message::Heartbeat { node: 5 })
        ));
        assert!(matches!(
            decode(&doc_changed(5, 12, Some(3))),
            Some(Message::DocChanged {
                node: 5,
                doc_id: 12,
                user_id: Some(3)
            })
        ));
        assert!(matches!(
            decode(&doc_changed(5, 12, None)),
            Some(Message::DocChanged { user_id: None, .. })
        ));
        for bad in [
            &b""[..],
            &b"\x02whatever-is-long-enough-for-a-header-xx"[..],
            &bytes[..10],
        ] {
            assert!(decode(bad).is_none());
        }
        let mut not_utf8 = encode(1, &anonymous);
        not_utf8.push(0xff);
        assert!(decode(&not_utf8).is_none());
    }
}

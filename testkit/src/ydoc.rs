//! A y-websocket client written with yrs, for tests: a local `Doc` kept in sync with a Parley
//! document over `/docs/{name}`. Every wait has a timeout.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, Message as WsMessage},
    MaybeTlsStream, WebSocketStream,
};
use yrs::{
    sync::{awareness::AwarenessUpdate, Message, MessageReader, SyncMessage},
    updates::{
        decoder::{Decode, DecoderV1},
        encoder::Encode,
    },
    GetString, ReadTxn, StateVector, Text, Transact, Update,
};

use crate::TIMEOUT;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One y-websocket client with its own yrs document (the text `content`).
pub struct DocClient {
    pub doc: yrs::Doc,
    ws: Option<Ws>,
    /// `Auth` denials received (read-only refusals).
    pub denials: Vec<String>,
    /// Awareness updates received.
    pub awareness: Vec<AwarenessUpdate>,
    /// Updates received from the server (sync step 2 or update messages).
    pub received: usize,
}

/// Why a connection attempt failed: the HTTP status of a refused upgrade.
#[derive(Debug)]
pub struct Refused(pub u16);

impl DocClient {
    /// Base64 relative positions around `[start, end)` of the `content` text, as a comment's
    /// anchor (what Yjs editors send: `Y.encodeRelativePosition`).
    pub fn anchor(&self, start: u32, end: u32) -> serde_json::Value {
        use base64::Engine;
        use yrs::{Assoc, IndexedSequence, Transact};
        let text = self.doc.get_or_insert_text("content");
        let txn = self.doc.transact();
        let encode = |index: u32, assoc: Assoc| {
            let pos = text
                .sticky_index(&txn, index, assoc)
                .expect("a position inside the text");
            base64::engine::general_purpose::STANDARD
                .encode(yrs::updates::encoder::Encode::encode_v1(&pos))
        };
        serde_json::json!({"start": encode(start, Assoc::After), "end": encode(end, Assoc::Before)})
    }

    pub fn new() -> Self {
        Self {
            doc: yrs::Doc::new(),
            ws: None,
            denials: Vec::new(),
            awareness: Vec::new(),
            received: 0,
        }
    }

    /// Connects and completes the handshake (our step 1 answered with the server's step 2).
    pub async fn connect(addr: &str, name: &str, token: &str) -> Self {
        let mut client = Self::new();
        client.reconnect(addr, name, token).await;
        client
    }

    pub async fn try_connect(
        &mut self,
        addr: &str,
        name: &str,
        token: &str,
    ) -> Result<(), Refused> {
        self.open(addr, name, token).await?;
        self.sync().await;
        Ok(())
    }

    pub async fn reconnect(&mut self, addr: &str, name: &str, token: &str) {
        self.try_connect(addr, name, token)
            .await
            .unwrap_or_else(|r| panic!("connect to {name} refused: {r:?}"));
    }

    /// Opens the socket without waiting for anything.
    pub async fn open(&mut self, addr: &str, name: &str, token: &str) -> Result<(), Refused> {
        let url = format!("ws://{addr}/docs/{name}?token={token}");
        let request = url.into_client_request().unwrap();
        match tokio::time::timeout(TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .expect("connect timed out")
        {
            Ok((ws, _)) => {
                self.ws = Some(ws);
                Ok(())
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                Err(Refused(resp.status().as_u16()))
            }
            Err(e) => panic!("connect failed: {e}"),
        }
    }

    pub fn is_connected(&self) -> bool {
        self.ws.is_some()
    }

    /// Drops the connection (no close handshake, like a network cut).
    pub fn drop_connection(&mut self) {
        self.ws = None;
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("content");
        let txn = self.doc.transact();
        text.get_string(&txn)
    }

    pub fn len(&self) -> u32 {
        let text = self.doc.get_or_insert_text("content");
        let txn = self.doc.transact();
        text.len(&txn)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn state_vector(&self) -> StateVector {
        self.doc.transact().state_vector()
    }

    pub fn state(&self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    /// Edits locally; sends the update when connected (kept locally otherwise).
    pub async fn insert(&mut self, index: u32, chunk: &str) {
        let update = self.edit(|text, txn| text.insert(txn, index, chunk));
        self.send_update(update).await;
    }

    pub async fn remove(&mut self, index: u32, len: u32) {
        let update = self.edit(|text, txn| text.remove_range(txn, index, len));
        self.send_update(update).await;
    }

    fn edit(&self, f: impl FnOnce(&yrs::TextRef, &mut yrs::TransactionMut)) -> Vec<u8> {
        let text = self.doc.get_or_insert_text("content");
        let before = self.state_vector();
        {
            let mut txn = self.doc.transact_mut();
            f(&text, &mut txn);
        }
        self.doc.transact().encode_diff_v1(&before)
    }

    async fn send_update(&mut self, update: Vec<u8>) {
        if self.ws.is_some() {
            let msg = Message::Sync(SyncMessage::Update(update)).encode_v1();
            self.send_raw(msg).await;
        }
    }

    pub async fn send_message(&mut self, message: Message) {
        self.send_raw(message.encode_v1()).await;
    }

    /// Sends a binary frame as is (a send to a closed socket is ignored: reads will tell).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = ws.send(WsMessage::binary(bytes)).await;
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = ws.send(WsMessage::text(text)).await;
        }
    }

    /// Round trip: sends our state vector and reads (applying everything) until the server's
    /// step 2 answer arrives. Everything we sent before was applied by the server by then.
    pub async fn sync(&mut self) {
        let sv = self.state_vector();
        self.send_message(Message::Sync(SyncMessage::SyncStep1(sv)))
            .await;
        let mut steps = 0;
        self.pump_until(|_, msg| {
            if matches!(msg, Some(Message::Sync(SyncMessage::SyncStep2(_)))) {
                steps += 1;
            }
            steps >= 1
        })
        .await
        .expect("connection closed during sync");
    }

    /// Reads frames, applying them, until `done` says so (it sees each message, and None when
    /// nothing is buffered). Returns the close code if the server closed the connection.
    pub async fn pump_until(
        &mut self,
        mut done: impl FnMut(&Self, Option<&Message>) -> bool,
    ) -> Result<(), Option<u16>> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if done(self, None) {
                return Ok(());
            }
            let ws = self.ws.as_mut().expect("connected");
            let next = tokio::time::timeout_at(deadline, ws.next())
                .await
                .expect("timed out waiting for the document");
            match next {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    for message in self.handle(&bytes).await {
                        if done(self, Some(&message)) {
                            return Ok(());
                        }
                    }
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    self.ws = None;
                    return Err(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    self.ws = None;
                    return Err(None);
                }
            }
        }
    }

    /// Waits until the text is `expected`.
    pub async fn wait_text(&mut self, expected: &str) {
        let result = self.pump_until(|c, _| c.text() == expected).await;
        assert!(result.is_ok(), "closed while waiting for {expected:?}");
    }

    /// Waits for the server to close the connection; its close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        match self.pump_until(|_, _| false).await {
            Err(code) => code,
            Ok(()) => unreachable!(),
        }
    }

    /// True when nothing closes the connection within `wait` (frames are applied meanwhile).
    pub async fn stays_open(&mut self, wait: Duration) -> bool {
        let until = tokio::time::Instant::now() + wait;
        let ws_result =
            tokio::time::timeout_at(until, async { self.pump_until(|_, _| false).await }).await;
        ws_result.is_err()
    }

    async fn handle(&mut self, bytes: &[u8]) -> Vec<Message> {
        let mut decoder = DecoderV1::from(bytes);
        let messages: Vec<Message> = MessageReader::new(&mut decoder)
            .map(|m| m.expect("server sent a malformed message"))
            .collect();
        for message in &messages {
            match message {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self.doc.transact().encode_diff_v1(sv);
                    self.send_message(Message::Sync(SyncMessage::SyncStep2(diff)))
                        .await;
                }
                Message::Sync(SyncMessage::SyncStep2(update))
                | Message::Sync(SyncMessage::Update(update)) => {
                    self.received += 1;
                    let update = Update::decode_v1(update).expect("server update decodes");
                    self.doc.transact_mut().apply_update(update).unwrap();
                }
                Message::Auth(Some(reason)) => self.denials.push(reason.clone()),
                Message::Awareness(update) => self.awareness.push(update.clone()),
                _ => {}
            }
        }
        messages
    }
}

impl Default for DocClient {
    fn default() -> Self {
        Self::new()
    }
}

/// True when `have` holds everything `need` does.
pub fn covers(have: &StateVector, need: &StateVector) -> bool {
    need.iter()
        .all(|(client, clock)| have.get(client) >= *clock)
}

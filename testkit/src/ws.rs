//! [`WsClient`]: a client of the chat protocol on `/ws` for tests. It sends requests with ids,
//! waits for their replies and for events (keeping frames it was not waiting for), and reports
//! how a connection ended. Every wait has a timeout.

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, protocol::CloseFrame, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{TestServer, TIMEOUT};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket client of `/ws` that keeps frames it was not waiting for; every wait has a
/// timeout ([`TIMEOUT`]).
pub struct WsClient {
    pub ws: Ws,
    pub hello: Value,
    next_id: u64,
    pending: VecDeque<Value>,
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    Closed(Option<u16>, String),
    Error(String),
}

impl WsClient {
    pub async fn connect(url: &str, token: Option<&str>) -> Self {
        Self::connect_with(url, token, None).await
    }

    /// The same, through `connector` (a `wss://` URL with a rustls configuration of its own).
    pub async fn connect_with(
        url: &str,
        token: Option<&str>,
        connector: Option<tokio_tungstenite::Connector>,
    ) -> Self {
        let mut request = url.into_client_request().unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector);
        let (ws, _) = tokio::time::timeout(TIMEOUT, connecting)
            .await
            .expect("connect timed out")
            .expect("connect failed");
        let mut client = Self {
            ws,
            hello: Value::Null,
            next_id: 1,
            pending: Default::default(),
        };
        client.hello = client.recv().await;
        assert_eq!(
            client.hello["type"], "hello",
            "first frame: {}",
            client.hello
        );
        client
    }

    /// Sends a text frame as is.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a request (`type` and fields in `op`) and returns its id.
    pub async fn send(&mut self, mut op: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        op["id"] = json!(id);
        self.send_raw(&op.to_string()).await;
        id
    }

    /// The next text frame, whatever it is.
    pub async fn recv(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        self.recv_wire().await
    }

    async fn recv_wire(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out waiting for a frame")
                .expect("connection ended")
                .expect("read failed");
            match msg {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Waits for the first frame matching `pred`, keeping the others for later.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.pending.iter().position(&pred) {
            return self.pending.remove(pos).unwrap();
        }
        loop {
            let frame = self.recv_wire().await;
            if pred(&frame) {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// Sends a request and waits for its reply or error frame.
    pub async fn request(&mut self, op: Value) -> Value {
        let id = self.send(op).await;
        self.wait_for(|f| f["id"] == json!(id) && (f["type"] == "reply" || f["type"] == "error"))
            .await
    }

    /// A request that must succeed; returns its `result`.
    pub async fn ok(&mut self, op: Value) -> Value {
        let reply = self.request(op.clone()).await;
        assert_eq!(reply["type"], "reply", "{op} failed: {reply}");
        reply["result"].clone()
    }

    /// A request that must fail with `code`; returns the error frame.
    pub async fn err(&mut self, op: Value, code: &str) -> Value {
        let reply = self.request(op.clone()).await;
        assert_eq!(
            reply["type"], "error",
            "{op} should fail with {code}: {reply}"
        );
        assert_eq!(reply["code"], code, "{op}: {reply}");
        reply
    }

    pub async fn event(&mut self, channel: &str, kind: &str) -> Value {
        self.wait_for(|f| f["type"] == "event" && f["channel"] == channel && f["kind"] == kind)
            .await
    }

    /// True if no frame matching `pred` arrives within `wait` (frames seen are kept).
    pub async fn none_within(
        &mut self,
        wait: std::time::Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> bool {
        if self.pending.iter().any(&pred) {
            return false;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await;
            match next {
                Err(_) => return true,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    let matched = pred(&frame);
                    self.pending.push_back(frame);
                    if matched {
                        return false;
                    }
                }
                Ok(Some(Ok(_))) => continue,
                Ok(_) => return true,
            }
        }
    }

    /// Reads until the connection ends; returns how. Text frames are discarded.
    pub async fn until_closed(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(TIMEOUT, self.ws.next()).await {
                Err(_) => panic!("connection did not close in time"),
                Ok(None) => return Ended::Error("ended without close frame".into()),
                Ok(Some(Err(e))) => return Ended::Error(e.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.answer_close().await;
                    let frame: Option<CloseFrame> = frame;
                    return Ended::Closed(
                        frame.as_ref().map(|f| u16::from(f.code)),
                        frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    );
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// The next text frame, or the close code if the connection closes first.
    pub async fn until_closed_or_text(&mut self) -> Result<Value, Option<u16>> {
        if let Some(frame) = self.pending.pop_front() {
            return Ok(frame);
        }
        loop {
            match tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("timed out")
            {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    self.answer_close().await;
                    return Err(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                other => panic!("connection ended without close frame: {other:?}"),
            }
        }
    }

    /// Sends the reply to a close frame just read (tungstenite queues it until the next write
    /// or flush), so the server does not wait for it.
    async fn answer_close(&mut self) {
        let _ = tokio::time::timeout(TIMEOUT, self.ws.flush()).await;
    }

    pub async fn close_code(&mut self) -> Option<u16> {
        match self.until_closed().await {
            Ended::Closed(code, _) => code,
            Ended::Error(e) => panic!("expected a close frame, got {e}"),
        }
    }
}

/// The `seq` of an event frame.
pub fn seq_of(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

impl TestServer {
    /// A `/ws` connection (signed in with `token` as a bearer header, if given), past `hello`.
    pub async fn connect(&self, token: Option<&str>) -> WsClient {
        let connector = self
            .tls_ca()
            .map(|ca| tokio_tungstenite::Connector::Rustls(crate::tls::rustls_client(ca)));
        WsClient::connect_with(&self.ws_url(), token, connector).await
    }
}

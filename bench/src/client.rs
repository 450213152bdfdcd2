//! Benchmark clients: small-buffer WebSocket connections, payload stamps and the delivery
//! checker that counts lost, duplicated and out-of-order messages.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::protocol::WebSocketConfig, MaybeTlsStream, WebSocketStream};

use crate::target::ws_request;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Client sockets use small buffers so thousands of them fit beside the server.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
}

pub async fn connect(url: &str, token: Option<&str>) -> Result<Ws> {
    let request = ws_request(url, token)?;
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(request, Some(client_config()), true),
    )
    .await
    .context("connect timed out")??;
    Ok(ws)
}

/// Microseconds since the benchmark started, shared by senders and receivers (one process).
pub fn now_us(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// The payload a publisher sends: `B|publisher|n|sent_us|padding`.
pub fn stamp(publisher: u32, n: u32, sent_us: u64, pad: usize) -> String {
    format!("B|{publisher}|{n}|{sent_us}|{}", "x".repeat(pad))
}

/// Finds a stamp inside a frame's text without parsing the JSON (cheap on the client side,
/// which shares the machine with the server).
pub fn parse_stamp(frame: &str) -> Option<(u32, u32, u64)> {
    let start = frame.find("B|")? + 2;
    let mut parts = frame[start..].splitn(4, '|');
    let publisher = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    Some((publisher, n, sent))
}

/// Every stamp in a frame's text: one, or several in a batched frame (a JSON array).
pub fn stamps_in(frame: &str) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
    frame
        .match_indices("B|")
        .filter_map(|(at, _)| parse_stamp(&frame[at..]))
}

/// Per-subscriber delivery bookkeeping: which (publisher, n) arrived, in what order.
pub struct DeliveryCheck {
    seen: Vec<Vec<u64>>,
    next: Vec<u32>,
    pub received: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub latencies_us: Vec<u32>,
    pub last_delivery_us: u64,
    /// Bytes of the frames that carried deliveries.
    pub frame_bytes: u64,
    /// Frames that carried deliveries.
    pub frames: u64,
}

impl DeliveryCheck {
    pub fn new(publishers: u32, per_publisher: u32) -> Self {
        let words = (per_publisher as usize).div_ceil(64);
        Self {
            seen: vec![vec![0; words]; publishers as usize],
            next: vec![0; publishers as usize],
            received: 0,
            duplicates: 0,
            out_of_order: 0,
            latencies_us: Vec::new(),
            last_delivery_us: 0,
            frame_bytes: 0,
            frames: 0,
        }
    }

    /// Records one delivery; `now_us` on the benchmark clock.
    pub fn record(&mut self, publisher: u32, n: u32, sent_us: u64, now_us: u64) {
        let (p, i) = (publisher as usize, n as usize);
        let Some(bits) = self.seen.get_mut(p) else {
            return;
        };
        let Some(word) = bits.get_mut(i / 64) else {
            return;
        };
        let mask = 1u64 << (i % 64);
        if *word & mask != 0 {
            self.duplicates += 1;
            return;
        }
        *word |= mask;
        if n < self.next[p] {
            self.out_of_order += 1;
        }
        self.next[p] = self.next[p].max(n + 1);
        self.received += 1;
        self.latencies_us
            .push(now_us.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
        self.last_delivery_us = now_us;
    }
}

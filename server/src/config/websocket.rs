//! `[websocket]` (also `[websocket_config]`): pings, frame and buffer sizes, and the bounds of
//! batched delivery.

use std::time::Duration;

use serde::Deserialize;

use super::units::{byte_size, duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebsocketConfig {
    #[serde(deserialize_with = "duration")]
    pub ping_interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub pong_timeout: Duration,
    /// Largest frame (and message) a client may send; bigger ones close with 1009.
    #[serde(deserialize_with = "byte_size")]
    pub max_frame_size: u64,
    /// Socket buffer sizes; small values keep idle connections light.
    #[serde(deserialize_with = "byte_size")]
    pub read_buffer_size: u64,
    #[serde(deserialize_with = "byte_size")]
    pub write_buffer_size: u64,
    /// Longest batch window a client may ask for at connect (`/ws?batch_ms=N`); longer asks
    /// are refused with `invalid_request`.
    #[serde(deserialize_with = "duration")]
    pub max_batch_window: Duration,
    /// A batch goes out early once it holds this many bytes.
    #[serde(deserialize_with = "byte_size")]
    pub max_batch_bytes: u64,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(20),
            max_frame_size: 64 * 1024,
            read_buffer_size: 256,
            write_buffer_size: 16 * 1024,
            max_batch_window: Duration::from_secs(1),
            max_batch_bytes: 256 * 1024,
        }
    }
}

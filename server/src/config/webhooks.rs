//! `[[webhooks]]` (endpoints the operator declares) and `[webhook_delivery]` (how the server
//! delivers to every endpoint: timeouts, the retry schedule, how much runs at once).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::units::{duration, parse_duration};

/// One endpoint of `[[webhooks]]`. Applied at every start: an endpoint is known by its URL;
/// one removed from the file is removed from the server (with its pending deliveries).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// `whsec_` and the base64 of the key (24 to 64 bytes), as Standard Webhooks writes it.
    pub secret: String,
    /// Event types: `message.created`, `custom.*`, `*`...
    pub events: Vec<String>,
    /// Channel name patterns (`team:*`); none: every channel.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// Never prints the secret.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"…")
            .field("events", &self.events)
            .field("channels", &self.channels)
            .finish()
    }
}

/// How deliveries are made.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDeliveryConfig {
    /// The waits between attempts, after the first one (each with up to 20% of random jitter);
    /// a delivery still failing after the last goes to the dead-letter list.
    #[serde(deserialize_with = "schedule")]
    pub retry_schedule: Vec<Duration>,
    /// The longest one attempt may take, connecting included.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Endpoints delivered to at once (each endpoint sends one request at a time, in order).
    pub concurrency: usize,
    /// How often the outbox is checked when nothing woke the dispatcher.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// The most endpoints a workspace may have (configured and made over the API together).
    pub max_endpoints: usize,
    /// The most deliveries kept per endpoint (waiting and dead); beyond, new events for the
    /// endpoint are not recorded (counted and logged) until it catches up or is replayed.
    pub max_pending_per_endpoint: u64,
}

impl Default for WebhookDeliveryConfig {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            // 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h: about 23 hours in all.
            retry_schedule: vec![
                secs(5),
                secs(30),
                secs(120),
                secs(600),
                secs(1800),
                secs(3600),
                secs(3 * 3600),
                secs(6 * 3600),
                secs(12 * 3600),
            ],
            timeout: secs(10),
            concurrency: 8,
            poll_interval: secs(1),
            max_endpoints: 50,
            max_pending_per_endpoint: 100_000,
        }
    }
}

fn schedule<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    items
        .iter()
        .map(|text| parse_duration(text).map_err(serde::de::Error::custom))
        .collect()
}

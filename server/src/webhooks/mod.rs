//! Outbound webhooks, as the Standard Webhooks specification describes them: what happens in
//! channels goes, as signed HTTP POSTs, to the endpoints admins configure (an n8n Webhook
//! trigger, a CI, a bot's backend).
//!
//! Delivery is at least once and loses nothing:
//! - While any endpoint exists, every durable event is also written to `webhook_outbox` by the
//!   write that commits it (same transaction), and ephemeral ones that an endpoint wants
//!   (`presence.changed`, ephemeral `custom.*`) by a write of their own.
//! - The [`Dispatcher`] turns outbox rows into one delivery per matching endpoint (one write:
//!   the deliveries are recorded and the rows leave the outbox together), then sends each,
//!   oldest first per endpoint and channel; a 2xx ends it, a 410 disables the endpoint, and
//!   anything else retries on `webhook_delivery.retry_schedule` (with jitter) until it is
//!   dead-lettered. A crash anywhere in between leaves the row or the delivery to be sent after
//!   the restart, under the same `webhook-id`, so receivers dedup on it.
//! - Sending happens on tasks of its own with their own timeout: a slow or dead endpoint delays
//!   only its own deliveries, never a commit.

mod dispatcher;
mod sign;

pub use dispatcher::Dispatcher;
pub use sign::signature;

use crate::error::{Error, Result};
pub use crate::hook_rules::{
    check_endpoint, new_secret, parse_secret, wants_channel, wants_type, EVENT_TYPES,
};

/// The body of a delivery: `{"type", "timestamp", "data"}`, where `data` is the event frame
/// subscribers got, without its `type` (so `channel`, `seq` when durable, `kind` and the
/// event's fields).
pub fn body(kind: &str, timestamp: &str, frame: &str) -> Result<String> {
    let mut data: serde_json::Value = serde_json::from_str(frame).map_err(Error::internal)?;
    if let Some(object) = data.as_object_mut() {
        object.remove("type");
    }
    serde_json::to_string(&serde_json::json!({
        "type": kind,
        "timestamp": timestamp,
        "data": data,
    }))
    .map_err(Error::internal)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_frame_without_its_type() {
        let frame = r#"{"type":"event","channel":"ops","seq":3,"kind":"custom","event":"e","data":{"a":1}}"#;
        let body: serde_json::Value =
            serde_json::from_str(&body("custom.e", "2026-12-06T00:00:00Z", frame).unwrap())
                .unwrap();
        assert_eq!(body["type"], "custom.e");
        assert_eq!(body["timestamp"], "2026-12-06T00:00:00Z");
        assert_eq!(body["data"]["seq"], 3);
        assert_eq!(body["data"]["data"]["a"], 1);
        assert!(body["data"].get("type").is_none());
    }
}

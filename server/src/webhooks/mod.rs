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

use parley_protocol::ErrorCode;

pub use dispatcher::Dispatcher;
pub use sign::{new_secret, parse_secret, signature};

use crate::error::{Error, Result};

/// The event types an endpoint may ask for (besides `custom.<name>`, `custom.*` and `*`).
pub const EVENT_TYPES: &[&str] = &[
    "message.created",
    "message.edited",
    "message.deleted",
    "reaction.added",
    "member.joined",
    "member.left",
    "presence.changed",
    "comment.created",
    "comment.resolved",
    "document.created",
];

/// Most event types and channel patterns one endpoint may list.
pub const MAX_PATTERNS: usize = 64;
/// Longest endpoint URL.
pub const MAX_URL_LEN: usize = 2048;

/// Whether an endpoint that asked for `patterns` wants events of type `kind`.
pub fn wants_type(patterns: &[String], kind: &str) -> bool {
    patterns
        .iter()
        .any(|p| p == "*" || p == kind || (p == "custom.*" && kind.starts_with("custom.")))
}

/// Whether a channel name matches an endpoint's channel patterns (none: every channel). A
/// pattern is a name, or a prefix ending in `*` (`team:*`, `*`).
pub fn wants_channel(patterns: &[String], channel: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => channel.starts_with(prefix),
            None => p == channel,
        })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidWebhook, message)
}

/// Checks an endpoint's settings (from the configuration or the API).
pub fn check_endpoint(
    url: &str,
    secret: &str,
    events: &[String],
    channels: &[String],
) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(format!("bad URL {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid("the URL must be http:// or https:// with a host"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(invalid(format!(
            "the URL is longer than {MAX_URL_LEN} bytes"
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "put no credentials in the URL: the signature authenticates Parley",
        ));
    }
    parse_secret(secret)?;
    if events.is_empty() || events.len() > MAX_PATTERNS || channels.len() > MAX_PATTERNS {
        return Err(invalid(format!(
            "an endpoint lists 1 to {MAX_PATTERNS} event types and at most {MAX_PATTERNS} \
             channel patterns"
        )));
    }
    for event in events {
        let custom = event
            .strip_prefix("custom.")
            .is_some_and(|name| name == "*" || crate::names::validate_event_name(name).is_ok());
        if !(event == "*" || custom || EVENT_TYPES.contains(&event.as_str())) {
            return Err(invalid(format!(
                "unknown event type {event:?}; the types are {}, custom.NAME, custom.* and *",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    for pattern in channels {
        let name = pattern.strip_suffix('*').unwrap_or(pattern);
        let ok = name.is_empty()
            || name.ends_with(':')
            || crate::names::validate_channel_name(name).is_ok()
            || name == crate::chat::channels::PERSONAL;
        if !ok || name.contains('*') {
            return Err(invalid(format!(
                "bad channel pattern {pattern:?}: a channel name, or a prefix ending in *"
            )));
        }
    }
    Ok(())
}

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

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn types_and_channels_match() {
        let events = strings(&["message.created", "custom.*"]);
        assert!(wants_type(&events, "message.created"));
        assert!(wants_type(&events, "custom.data_update"));
        assert!(!wants_type(&events, "member.joined"));
        assert!(wants_type(&strings(&["*"]), "member.joined"));
        let channels = strings(&["team:*", "ops"]);
        assert!(wants_channel(&channels, "team:general"));
        assert!(wants_channel(&channels, "ops"));
        assert!(!wants_channel(&channels, "ops2"));
        assert!(!wants_channel(&channels, "general"));
        assert!(wants_channel(&[], "anything"));
    }

    #[test]
    fn endpoints_are_checked() {
        let secret = new_secret();
        let ok = |url: &str, events: &[&str], channels: &[&str]| {
            check_endpoint(url, &secret, &strings(events), &strings(channels))
        };
        assert!(ok(
            "https://n8n.example/webhook/abc",
            &["message.created"],
            &["team:*"]
        )
        .is_ok());
        assert!(ok("http://127.0.0.1:5678/hook", &["*", "custom.deploy"], &[]).is_ok());
        for (url, events, channels) in [
            ("ftp://x.example/", &["*"][..], &[][..]),
            ("not a url", &["*"], &[]),
            ("https://user:pw@x.example/", &["*"], &[]),
            ("https://x.example/", &[], &[]),
            ("https://x.example/", &["message.sent"], &[]),
            ("https://x.example/", &["custom.Bad"], &[]),
            ("https://x.example/", &["*"], &["a*b"]),
            ("https://x.example/", &["*"], &["Bad Name"]),
        ] {
            assert!(
                ok(url, events, channels).is_err(),
                "{url} {events:?} {channels:?}"
            );
        }
        assert!(
            check_endpoint("https://x.example/", "whsec_short", &strings(&["*"]), &[]).is_err()
        );
    }

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

//! The rules of webhook endpoints, shared by the configuration (which checks `[[webhooks]]`)
//! and the webhooks area: which event types exist, how event types and channel patterns
//! match, and what a usable URL and secret are (Standard Webhooks: `whsec_` and the base64 of
//! the key).

use base64::{engine::general_purpose::STANDARD, Engine};
use parley_protocol::ErrorCode;

use crate::error::{Error, Result};

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidWebhook, message)
}

const PREFIX: &str = "whsec_";
/// Key lengths accepted (Standard Webhooks suggests 24 to 64 bytes).
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// A new random secret (32 bytes).
pub fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The key of a `whsec_…` secret.
pub fn parse_secret(secret: &str) -> Result<Vec<u8>> {
    let encoded = secret
        .strip_prefix(PREFIX)
        .ok_or_else(|| invalid("a secret starts with whsec_ (then the key in base64)"))?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| invalid("the secret after whsec_ is not base64"))?;
    if !KEY_BYTES.contains(&key.len()) {
        return Err(invalid(format!(
            "the secret's key is {} bytes; it must be {} to {}",
            key.len(),
            KEY_BYTES.start(),
            KEY_BYTES.end()
        )));
    }
    Ok(key)
}

/// The event types an endpoint may ask for (besides `custom.<name>`, `custom.*` and `*`).
pub const EVENT_TYPES: &[&str] = &[
    "message.created",
    "message.edited",
    "message.deleted",
    "reaction.added",
    "member.joined",
    "member.left",
    "channel.updated",
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
            || name == crate::names::PERSONAL_CHANNEL;
        if !ok || name.contains('*') {
            return Err(invalid(format!(
                "bad channel pattern {pattern:?}: a channel name, or a prefix ending in *"
            )));
        }
    }
    Ok(())
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
}

//! Standard Webhooks secrets and signatures: a secret is `whsec_` and the base64 of its key; a
//! delivery's `webhook-signature` is `v1,` and the base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with that key.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::invalid;
use crate::error::Result;

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

/// The `webhook-signature` header of a delivery.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_alike() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked() {
        assert_eq!(parse_secret(&new_secret()).unwrap().len(), 32);
        for bad in [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            assert!(parse_secret(bad).is_err(), "{bad}");
        }
    }
}

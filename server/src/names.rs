//! The syntax of names people type, as the server checks them: channel names (by the chat
//! area and the configuration's `[channels.*]` tables; the rule itself is
//! `parley_protocol::names`') and `@name` mentions (in messages and document comments). Pure
//! functions, so every layer may use them.

/// Longest channel name.
pub use parley_protocol::names::CHANNEL_NAME_MAX_LEN as MAX_CHANNEL_NAME_LEN;

/// The channel-name rule of `parley_protocol::names` (the one the clients check too), with
/// the reason when a name breaks it.
pub fn validate_channel_name(name: &str) -> std::result::Result<(), String> {
    if parley_protocol::names::is_valid_channel_name(name) {
        return Ok(());
    }
    if name.is_empty() || name.len() > MAX_CHANNEL_NAME_LEN {
        return Err(format!(
            "channel names are 1 to {MAX_CHANNEL_NAME_LEN} characters"
        ));
    }
    Err(format!(
        "invalid channel name {name:?}: use lowercase letters, digits, '-', '_', '.', with ':' \
         between namespaces"
    ))
}

/// `@name` mentions in a text (names as users choose them: letters, digits, `-`, `_`, `.`).
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('@') {
        // Not inside a word (e-mail addresses are not mentions).
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.') {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        let name = name.trim_end_matches('.').to_owned();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Every user's personal channel (a `user_specific` template; `chat::channels::PERSONAL`).
pub const PERSONAL_CHANNEL: &str = "@me";

/// Longest custom event name.
pub const MAX_EVENT_NAME_LEN: usize = 64;

/// `[a-z0-9_.:-]{1,64}`.
pub fn validate_event_name(name: &str) -> crate::error::Result<()> {
    let allowed = |c: char| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | ':' | '-')
    };
    if !name.is_empty() && name.len() <= MAX_EVENT_NAME_LEN && name.chars().all(allowed) {
        Ok(())
    } else {
        Err(crate::error::Error::new(
            parley_protocol::ErrorCode::InvalidEvent,
            format!(
                "an event name is 1 to {MAX_EVENT_NAME_LEN} of a-z, 0-9, '_', '.', ':' and '-'"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{mentioned_names, validate_channel_name};

    #[test]
    fn channel_names() {
        assert!(validate_channel_name("team:general").is_ok());
        assert!(validate_channel_name("a.b-c_d:e1").is_ok());
        for bad in [
            "",
            "Team",
            "a::b",
            ":a",
            "a:",
            "a b",
            "a#1",
            &"x".repeat(101),
        ] {
            assert!(
                validate_channel_name(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn mentions() {
        assert_eq!(
            mentioned_names("hi @alice and @bob.smith, mail x@example.com @alice."),
            vec!["alice".to_owned(), "bob.smith".to_owned()]
        );
        assert!(mentioned_names("no mentions @ here").is_empty());
    }
}

#[cfg(test)]
mod event_name_tests {
    use super::*;

    #[test]
    fn event_names() {
        for good in [
            "data_update",
            "a",
            "metrics.v2",
            "ns:thing-1",
            &"x".repeat(64),
        ] {
            assert!(validate_event_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Data", "a b", "é", "a/b", &"x".repeat(65), "a\n"] {
            assert!(validate_event_name(bad).is_err(), "{bad:?}");
        }
    }
}

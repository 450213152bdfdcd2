//! Rules for names that people type, in one place: the server enforces them, the clients check
//! them before asking, and the desktop UI gets them through its generated bindings
//! (`ui/src/lib/rules.ts`), so the three never disagree. User names, document names and the
//! names of channels people create.

/// The longest user name, in bytes (names are ASCII).
pub const USER_NAME_MAX_LEN: usize = 40;

/// The characters a user name may hold besides ASCII letters and digits.
pub const USER_NAME_PUNCTUATION: &str = "-_.";

/// What a user name may be, said for people.
pub fn user_name_rule() -> String {
    format!(
        "user names are 1 to {USER_NAME_MAX_LEN} letters, digits, '-', '_' or '.', \
         starting with a letter or digit"
    )
}

/// Whether `name` is a valid user name.
pub fn is_valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= USER_NAME_MAX_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || USER_NAME_PUNCTUATION.contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// The same rule as a regular expression (JavaScript and most other dialects), for clients
/// that check a name as it is typed.
pub fn user_name_pattern() -> String {
    let punctuation = escaped_for_class(USER_NAME_PUNCTUATION);
    format!(
        "^[A-Za-z0-9][A-Za-z0-9{punctuation}]{{0,{}}}$",
        USER_NAME_MAX_LEN - 1
    )
}

/// The longest document name, in bytes (names are ASCII).
pub const DOC_NAME_MAX_LEN: usize = 100;

/// The characters a document name may hold besides ASCII letters and digits (`.` not first).
pub const DOC_NAME_PUNCTUATION: &str = "-_.";

/// What a document name may be, said for people.
pub fn doc_name_rule() -> String {
    format!(
        "document names are 1 to {DOC_NAME_MAX_LEN} letters, digits, '-', '_' or '.', \
         not starting with '.'"
    )
}

/// Whether `name` is a valid document name (the `{name}` in `/docs/{name}`).
pub fn is_valid_doc_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= DOC_NAME_MAX_LEN
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || DOC_NAME_PUNCTUATION.contains(c))
}

/// The document-name rule as a regular expression (JavaScript and most other dialects).
pub fn doc_name_pattern() -> String {
    let punctuation = escaped_for_class(DOC_NAME_PUNCTUATION);
    let first = escaped_for_class(&DOC_NAME_PUNCTUATION.replace('.', ""));
    format!(
        "^[A-Za-z0-9{first}][A-Za-z0-9{punctuation}]{{0,{}}}$",
        DOC_NAME_MAX_LEN - 1
    )
}

/// The longest channel name, in bytes (names are ASCII).
pub const CHANNEL_NAME_MAX_LEN: usize = 100;

/// The characters a channel name's segments may hold besides lowercase letters and digits.
pub const CHANNEL_NAME_PUNCTUATION: &str = "-_.";

/// What a channel name may be, said for people.
pub fn channel_name_rule() -> String {
    format!(
        "channel names are 1 to {CHANNEL_NAME_MAX_LEN} lowercase letters, digits, '-', '_' or \
         '.', with ':' between namespaces (team:general)"
    )
}

/// Whether `name` is a valid name for a new channel: `team:general`, `random`,
/// `ops:alerts.prod`; namespaces separated by `:`, every segment non-empty. Names the server
/// makes itself are outside this rule on purpose: `#` marks the personal instances of
/// `user_specific` channels (`inbox#42`), `@me` is every user's own channel, `dm:1-2` a direct
/// conversation.
pub fn is_valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= CHANNEL_NAME_MAX_LEN
        && name.split(':').all(|segment| {
            !segment.is_empty()
                && segment.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || CHANNEL_NAME_PUNCTUATION.contains(c)
                })
        })
}

/// The channel-name rule as a regular expression (JavaScript; the length is a lookahead).
pub fn channel_name_pattern() -> String {
    let segment = format!("[a-z0-9{}]+", escaped_for_class(CHANNEL_NAME_PUNCTUATION));
    format!("^(?=.{{1,{CHANNEL_NAME_MAX_LEN}}}$){segment}(?::{segment})*$")
}

/// `chars` written so that they stand for themselves inside a regular expression's `[...]`.
fn escaped_for_class(chars: &str) -> String {
    chars
        .chars()
        .map(|c| match c {
            '-' | '\\' | ']' | '^' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for good in ["alice", "a", "Bob_2", "x.y-z", &"a".repeat(40)] {
            assert!(is_valid_user_name(good), "{good}");
        }
        for bad in ["", "al ice", ".alice", "-a", "é", "a/b", &"a".repeat(41)] {
            assert!(!is_valid_user_name(bad), "{bad}");
        }
        assert_eq!(user_name_pattern(), r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,39}$");
    }

    #[test]
    fn doc_names() {
        for good in ["plan", "a", "Q3-plan_v2.md", "-x", "_", &"d".repeat(100)] {
            assert!(is_valid_doc_name(good), "{good}");
        }
        for bad in ["", ".hidden", "a b", "a/b", "é", "a:b", &"d".repeat(101)] {
            assert!(!is_valid_doc_name(bad), "{bad}");
        }
        assert_eq!(doc_name_pattern(), r"^[A-Za-z0-9\-_][A-Za-z0-9\-_.]{0,99}$");
    }

    #[test]
    fn channel_names() {
        for good in [
            "general",
            "team:general",
            "ops:alerts.prod",
            "a-b_c",
            "0",
            &"c".repeat(100),
        ] {
            assert!(is_valid_channel_name(good), "{good}");
        }
        for bad in [
            "",
            "General",
            "a b",
            ":a",
            "a:",
            "a::b",
            "@me",
            "inbox#42",
            "é",
            &"c".repeat(101),
        ] {
            assert!(!is_valid_channel_name(bad), "{bad}");
        }
        assert_eq!(
            channel_name_pattern(),
            r"^(?=.{1,100}$)[a-z0-9\-_.]+(?::[a-z0-9\-_.]+)*$"
        );
    }
}

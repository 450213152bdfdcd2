//! Rules for names that people type, in one place: the server enforces them, the clients check
//! them before asking, and the desktop UI gets them through its generated bindings
//! (`ui/src/lib/rules.ts`), so the three never disagree. User names and document names.

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
}

//! Display names: the rules a display name must meet wherever it is set (registration, the
//! admin CLI), the key that tells when one would pass for another user's user name, and the
//! repair of names stored before these rules existed.
//!
//! A display name is copied into every stored event and history page that names its user, and
//! is shown wherever the user is, so it is short, printable, and cannot be taken to be someone
//! else's user name: `alice`, `ALICE`, `Alice` and `аlice` (Cyrillic а) all pass for the user
//! `alice`, and only alice may use them. The UI also shows `@name` beside every display name.

use parley_protocol::ErrorCode;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::error::{Error, Result};

/// The longest display name, in characters (Unicode scalar values) after normalisation.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// The display name to store for `given`: trimmed and in NFC, or `invalid_user` naming the
/// rule it breaks. (Whether it passes for another user is checked against the store, see
/// [`name_key`].)
pub fn normalize_display_name(given: &str) -> Result<String> {
    let name: String = given.trim().nfc().collect();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(invalid("display names cannot be empty or only spaces"));
    }
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(invalid(format!(
            "display names are at most {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Err(invalid(format!(
            "display names cannot contain control, formatting or invisible characters \
             (U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(name)
}

/// Refuses a display name that passes for `other`'s user name.
pub fn impersonation_error(other: &str) -> Error {
    invalid(format!(
        "this display name passes for the user name of another user ({other}); choose another"
    ))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidUser, message)
}

/// Characters a display name may hold: not control, format (bidirectional overrides, zero-width
/// joiners and spaces), surrogate, private-use or unassigned ones (all general category C), nor
/// line or paragraph separators; spaces inside are fine.
fn allowed(c: char) -> bool {
    !matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Other
    ) && !matches!(c, '\u{2028}' | '\u{2029}')
        // Hangul fillers and the braille blank are letters and symbols that draw nothing.
        && !matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}')
}

/// The key two names share when they look alike: case-folded, then mapped to the UTS #39
/// "skeleton" that confusable characters share (`а` Cyrillic and `a` Latin, `1` and `l`, `0`
/// and `o`), then case-folded again. User names have it stored (`users.name_key`); a display
/// name whose key equals another user's is refused.
pub fn name_key(name: &str) -> String {
    let folded: String = name.nfkc().flat_map(char::to_lowercase).collect();
    unicode_security::confusable_detection::skeleton(&folded)
        .flat_map(char::to_lowercase)
        .collect()
}

/// What an existing display name becomes under the rules: control and invisible characters
/// dropped, trimmed, cut to [`MAX_DISPLAY_NAME_CHARS`]; None when nothing is left. (Whether it
/// passes for another user is decided by the caller, with the store.)
pub fn repaired(stored: &str) -> Option<String> {
    let cleaned: String = stored.nfc().filter(|&c| allowed(c)).collect();
    let cut: String = cleaned
        .trim()
        .chars()
        .take(MAX_DISPLAY_NAME_CHARS)
        .collect();
    let cut = cut.trim_end();
    (!cut.is_empty()).then(|| cut.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(
            normalize_display_name("  Alice Smith ").ok().as_deref(),
            Some("Alice Smith")
        );
        assert_eq!(
            normalize_display_name("Zoë 🌱").ok().as_deref(),
            Some("Zoë 🌱")
        );
        for bad in [
            "",
            "   ",
            "a\u{202E}gnp.exe",
            "zero\u{200B}width",
            "tab\there",
            "line\u{2028}break",
            "\u{3164}",
        ] {
            assert!(normalize_display_name(bad).is_err(), "{bad:?}");
        }
        let long = "x".repeat(MAX_DISPLAY_NAME_CHARS + 1);
        assert!(normalize_display_name(&long).is_err());
        assert!(normalize_display_name(&long[1..]).is_ok());
    }

    #[test]
    fn lookalikes_share_a_key() {
        let alice = name_key("alice");
        for look in ["Alice", "ALICE", "\u{0430}lice", "a1ice", "ａｌｉｃｅ"] {
            assert_eq!(name_key(look), alice, "{look:?}");
        }
        assert_ne!(name_key("alicia"), alice);
        assert_eq!(name_key("bob0"), name_key("bobo"));
    }

    #[test]
    fn repair_cuts_and_cleans() {
        assert_eq!(repaired(&"y".repeat(100_000)).map(|s| s.len()), Some(64));
        assert_eq!(repaired(" \u{202E}evil ").as_deref(), Some("evil"));
        assert_eq!(repaired("\u{200B}"), None);
    }
}

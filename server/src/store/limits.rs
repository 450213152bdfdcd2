//! The per-user limits (`[limits]`): what one user has created and still keeps is counted
//! inside the write that would add one more, so concurrent requests cannot both pass. This is
//! the refusal every implementation gives.

use parley_protocol::ErrorCode;

use crate::error::{Error, Result};

pub use super::sqlite::limits::{channels_created, documents_created, version_bytes_saved};

/// The setting and what it counts, for channels (`dm`: direct-message channels).
pub fn channel_limit(dm: bool) -> (&'static str, &'static str) {
    if dm {
        ("dms_per_user", "direct-message channels")
    } else {
        ("channels_per_user", "channels")
    }
}

/// True for a direct-message channel's name.
pub fn is_dm(name: &str) -> bool {
    name.starts_with("dm:")
}

/// The refusal when `used` (plus `adding`) would pass `max` of the setting `key`.
pub fn check(key: &str, what: &str, used: u64, adding: u64, max: u64) -> Result<()> {
    if used.saturating_add(adding) <= max {
        return Ok(());
    }
    let this = if adding > 1 {
        format!(" and this one adds {adding}")
    } else {
        String::new()
    };
    Err(Error::new(
        ErrorCode::LimitReached,
        format!("limits.{key} allows {max} {what} per user; you have {used}{this}"),
    ))
}

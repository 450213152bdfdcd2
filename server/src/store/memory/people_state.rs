//! The in-memory rows of invites, account states, reset codes and avatars (`people.rs` works
//! on them; `state.rs` holds them).

use std::collections::{BTreeMap, HashMap};

pub(crate) struct InviteRow {
    pub(crate) code_hash: Vec<u8>,
    pub(crate) created_by: i64,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) uses_left: u32,
    pub(crate) revoked: bool,
    pub(crate) used_by: Vec<i64>,
}

#[derive(Default)]
pub(crate) struct People {
    pub(crate) invites: BTreeMap<i64, InviteRow>,
    pub(crate) last_invite: i64,
    pub(crate) disabled: HashMap<i64, bool>,
    pub(crate) deleted: HashMap<i64, bool>,
    pub(crate) reset_codes: HashMap<i64, (Vec<u8>, i64)>,
    pub(crate) avatars: HashMap<i64, (Vec<u8>, String)>,
}

impl People {
    /// Whether the user's tokens are refused (disabled or deleted).
    pub(crate) fn blocked(&self, user_id: i64) -> bool {
        self.disabled.get(&user_id).copied().unwrap_or(false)
            || self.deleted.get(&user_id).copied().unwrap_or(false)
    }
}

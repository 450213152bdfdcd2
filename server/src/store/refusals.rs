//! The refusals a store gives, worded once for every implementation (clients see the message;
//! the code is what they act on).

use parley_protocol::ErrorCode;

use crate::error::Error;

pub fn message_not_found(id: i64) -> Error {
    Error::new(ErrorCode::MessageNotFound, format!("no message {id}"))
}

pub fn thread_root_gone() -> Error {
    Error::new(ErrorCode::MessageNotFound, "this thread's root is gone")
}

pub fn not_the_editor() -> Error {
    Error::forbidden("only its author may edit a message")
}

pub fn not_a_deleter() -> Error {
    Error::forbidden("only its author and channel admins may delete a message")
}

pub fn channel_gone() -> Error {
    Error::new(ErrorCode::ChannelNotFound, "channel no longer exists")
}

pub fn channel_exists(name: &str) -> Error {
    Error::new(
        ErrorCode::ChannelExists,
        format!("channel {name:?} exists already"),
    )
}

pub fn channel_full(name: &str, max: u32) -> Error {
    Error::new(
        ErrorCode::ChannelFull,
        format!("channel {name} has reached its {max} participants"),
    )
}

pub fn user_exists(name: &str) -> Error {
    Error::new(
        ErrorCode::UserExists,
        format!("user {name:?} exists already"),
    )
}

pub fn user_not_found(name: &str) -> Error {
    Error::new(ErrorCode::UserNotFound, format!("no user {name:?}"))
}

pub fn doc_exists(name: &str) -> Error {
    Error::new(
        ErrorCode::DocExists,
        format!("document {name:?} exists already"),
    )
}

pub fn too_many_versions(max: u64) -> Error {
    Error::new(
        ErrorCode::LimitReached,
        format!("the document has {max} named versions, the most documents.max_versions allows"),
    )
}

pub fn quota_exceeded(size: u64, quota: u64, used: u64) -> Error {
    Error::new(
        ErrorCode::QuotaExceeded,
        format!("this upload ({size} bytes) would pass your quota of {quota} bytes ({used} used)"),
    )
}

pub fn comment_not_found(id: i64) -> Error {
    Error::new(ErrorCode::CommentNotFound, format!("no comment {id}"))
}

pub fn reply_to_reply() -> Error {
    Error::new(
        ErrorCode::InvalidComment,
        "reply to the comment itself, not to a reply",
    )
}

pub fn client_id_used_elsewhere() -> Error {
    Error::new(
        ErrorCode::InvalidClientId,
        "this client_id was used for a comment on another document",
    )
}

pub fn too_many_tokens(cap: usize) -> Error {
    Error::new(
        ErrorCode::LimitReached,
        format!(
            "this account has {cap} live tokens, the most accounts.max_tokens_per_user allows; \
             revoke one first"
        ),
    )
}

//! Collaborative documents: their description, roles, named versions and live comments.
//! The document content itself travels over `/docs/{name}` in the y-websocket protocol.

use serde::{Deserialize, Serialize};

use crate::UserRef;

/// What a user may do with a document. Ordered: each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocRole {
    /// Read the content and the comments; updates sent are rejected.
    Viewer,
    /// Viewer, plus write comments and replies, resolve and reopen them.
    Commenter,
    /// Commenter, plus edit the content and save named versions.
    Editor,
}

impl DocRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DocRole::Viewer => "viewer",
            DocRole::Commenter => "commenter",
            DocRole::Editor => "editor",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(DocRole::Viewer),
            "commenter" => Some(DocRole::Commenter),
            "editor" => Some(DocRole::Editor),
            _ => None,
        }
    }
}

/// A document as listed by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocInfo {
    pub id: i64,
    /// The name in `/docs/{name}` (letters, digits, `-`, `_`, `.`; 1 to 100 characters).
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// The channel the document belongs to; `None` for workspace documents.
    #[serde(default)]
    pub channel: Option<String>,
    /// Subscribe to this channel for the document's comment events (with `since` to resume).
    pub comments_channel: String,
    /// The role of everyone with access who has no role of their own.
    pub default_role: DocRole,
    /// The asking user's role.
    #[serde(default)]
    pub role: Option<DocRole>,
    #[serde(default)]
    pub created_by: Option<UserRef>,
    pub created_at: String,
}

/// Where a comment sits: two Yjs relative positions (`Y.encodeRelativePosition`, base64), so the
/// range follows its text while others edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommentAnchor {
    pub start: String,
    pub end: String,
}

/// A comment (or a reply, when `parent` is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Comment {
    pub id: i64,
    pub doc: String,
    /// The comment this replies to; replies have no anchor of their own.
    #[serde(default)]
    pub parent: Option<i64>,
    #[serde(default)]
    pub anchor: Option<CommentAnchor>,
    /// The text that was selected when the comment was made, for display.
    #[serde(default)]
    pub quote: Option<String>,
    pub author: UserRef,
    pub body: String,
    /// Users mentioned with `@name` in the body (resolved by the server).
    #[serde(default)]
    pub mentions: Vec<UserRef>,
    pub resolved: bool,
    #[serde(default)]
    pub resolved_by: Option<UserRef>,
    pub created_at: String,
    #[serde(default)]
    pub edited_at: Option<String>,
}

/// A named version of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionInfo {
    pub id: i64,
    pub doc: String,
    pub name: String,
    #[serde(default)]
    pub created_by: Option<UserRef>,
    pub created_at: String,
    /// Size of the stored state in bytes.
    pub size: u64,
}

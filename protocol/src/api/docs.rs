//! Documents over HTTP: `/api/docs` (list, create), `/api/docs/{name}` (info, changes, delete),
//! roles, content, named versions and comments. The document's content itself is synced over
//! `/docs/{name}` (y-websocket); these routes describe and manage it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Comment, CommentAnchor, DocInfo, DocRole, VersionInfo};

/// `GET /api/docs`: the documents the caller can open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocList {
    pub docs: Vec<DocInfo>,
}

/// `POST /api/docs` (201 with the [`DocInfo`]). Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct CreateDoc {
    /// See [`names::is_valid_doc_name`](crate::names::is_valid_doc_name).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The channel the document belongs to (its members get access); none: a workspace document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<DocRole>,
}

/// `PATCH /api/docs/{name}`: the fields to change (absent ones stay), answered with the new
/// [`DocInfo`]. Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct DocChanges {
    /// A new name (the document keeps its id, its replicas follow it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<DocRole>,
}

/// `PUT /api/docs/{name}/roles/{user}` (204). `DELETE` on the same path removes the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    pub role: DocRole,
}

/// One person's own role on a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocRoleEntry {
    pub user: crate::UserRef,
    pub role: DocRole,
}

/// `GET /api/docs/{name}/roles`: the people given a role of their own (by name), for the
/// document's managers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocRoleList {
    pub roles: Vec<DocRoleEntry>,
}

/// `GET /api/docs/{name}/content` and `GET /api/docs/{name}/versions/{id}`: the whole state as
/// one Yjs update and the text of each root type (XML for rich-text roots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocContent {
    pub doc: String,
    /// The named version this is (null for the current content).
    pub version: Option<VersionInfo>,
    /// The full state, a Yjs v1 update, in standard base64.
    pub update: String,
    /// Root name → its text, by name order, at most `documents.max_content_roots` of them.
    pub text: BTreeMap<String, String>,
    /// More roots exist than `text` holds.
    pub truncated: bool,
}

/// `GET /api/docs/{name}/versions`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionList {
    pub versions: Vec<VersionInfo>,
}

/// `POST /api/docs/{name}/versions` (201 with the [`VersionInfo`]). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SaveVersion {
    pub name: String,
}

/// `GET /api/docs/{name}/comments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CommentList {
    pub comments: Vec<Comment>,
}

/// `POST /api/docs/{name}/comments`: a new comment or reply (201 with the [`Comment`]).
/// Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<CommentAnchor>,
    /// The text that was selected, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Reply to this comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<i64>,
    /// Chosen by the client (1 to 64 characters): sending the same one again returns the
    /// original comment instead of adding another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `PATCH /api/docs/{name}/comments/{id}`: the new body (answered with the [`Comment`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    pub body: String,
}

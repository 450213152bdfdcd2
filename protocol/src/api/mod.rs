//! The HTTP API under `/api` (and `/healthz`): the request and response bodies of every route,
//! as serde types the server, the client core, the `parley` command line and the desktop app
//! share. docs/protocol.md §14 describes the same routes for people.
//!
//! A refusal is always an [`ErrorBody`](crate::ErrorBody) with the HTTP status the code implies.
//! Routes that answer `204 No Content` have no response type here.

mod accounts;
mod analytics;
mod attachments;
mod channels;
mod docs;
mod people;
mod tokens;
mod webhooks;

pub use accounts::{Credentials, Health, PasswordChange, PasswordChanged, Session};
pub use analytics::{AnalyticsHistory, AnalyticsSample};
pub use attachments::{StartUpload, UploadConflict, UploadOffset, UploadQuery, UploadState};
pub use channels::{ChannelList, CreateChannel, HistoryQuery, PostMessage, PublishEvent};
pub use docs::{
    CommentList, CreateDoc, DocChanges, DocContent, DocList, DocRoleEntry, DocRoleList,
    EditComment, NewComment, RoleGrant, SaveVersion, VersionList,
};
pub use people::{
    CreateInvite, InviteCreated, InviteInfo, InviteList, PasswordReset, ProfileChange, ResetCode,
    UserInfo, UserList, UsersQuery,
};

pub use webhooks::{
    HookCreated, NewHook, NewWebhook, WebhookCreated, WebhookInfo, WebhookList, WebhookReplayed,
};

pub use tokens::{
    Bot, IssuedToken, NewBot, NewBotToken, ScopeOp, TokenInfo, TokenList, TokenScope,
};

#[cfg(test)]
mod tests;

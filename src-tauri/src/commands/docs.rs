//! Document commands: list, create, rename; open a replica and bridge it to the editor's
//! Y.Doc ([`crate::doc_bridge`]); comments. Everything that reaches the
//! server goes through parley-client.

use parley_client::{DocReplica, OutboxEntry};
use parley_protocol::{api, Comment, CommentAnchor, DocInfo, DocRole, ErrorCode, VersionInfo};
use tauri::ipc::Channel;

use super::AppRef;
use crate::{
    doc_bridge::OpenDoc,
    error::CmdResult,
    types::{AppError, DocPush},
};

/// The most bytes one update or awareness message from the editor may have.
const MAX_UPDATE: usize = 8 * 1024 * 1024;

/// The server's rule for document names, checked before anything is touched here.
fn check_doc(name: &str) -> CmdResult<()> {
    Ok(parley_client::docs::check_name(name)?)
}

#[tauri::command]
pub async fn list_docs(state: AppRef<'_>) -> CmdResult<Vec<DocInfo>> {
    Ok(state.client().await?.docs().await?)
}

#[tauri::command]
pub async fn create_doc(
    state: AppRef<'_>,
    name: String,
    title: Option<String>,
    channel: Option<String>,
) -> CmdResult<DocInfo> {
    let client = state.client().await?;
    Ok(client.create_doc(name.trim(), title, channel).await?)
}

#[tauri::command]
pub async fn rename_doc(
    state: AppRef<'_>,
    name: String,
    new_name: Option<String>,
    title: Option<String>,
) -> CmdResult<DocInfo> {
    let client = state.client().await?;
    let info = client.rename_doc(&name, new_name, title).await?;
    if info.name != name {
        state.docs.lock().await.remove(&name);
    }
    Ok(info)
}

/// Deletes a document for everyone (its content, versions and comments): a manager's right;
/// the server answers `forbidden` otherwise. The replica here is closed first.
#[tauri::command]
pub async fn delete_doc(state: AppRef<'_>, name: String) -> CmdResult<()> {
    let client = state.client().await?;
    check_doc(&name)?;
    state.docs.lock().await.remove(&name);
    Ok(client.delete_doc(&name).await?)
}

/// Opens the replica of `name` and returns its whole state as one update; from then on
/// remote updates, awareness and connection changes are pushed on `on_push`.
#[tauri::command]
pub async fn open_doc(
    state: AppRef<'_>,
    name: String,
    on_push: Channel<DocPush>,
) -> CmdResult<Vec<u8>> {
    let client = state.client().await?;
    check_doc(&name)?;
    // The document's identity (and its live comment events, on its comments channel). Online,
    // the replica is opened as this document: a cached replica of another document that had
    // the name is dropped. Offline, the replica's own binding applies.
    let info = match client.doc_info(&name).await {
        Ok(info) => Some(info),
        // Gone or never there: say so rather than open a replica that cannot sync.
        Err(err @ parley_client::Error::Server(_))
            if matches!(
                err.code(),
                Some(ErrorCode::DocNotFound | ErrorCode::Forbidden)
            ) =>
        {
            return Err(err.into())
        }
        Err(_) => None,
    };
    if let Some(info) = &info {
        let c = client.clone();
        let comments = info.comments_channel.clone();
        tokio::spawn(async move {
            let _ = c.subscribe(&comments).await;
        });
    }
    let mut docs = state.docs.lock().await;
    docs.remove(&name);
    let replica = match &info {
        Some(info) => client.open_doc_as(&name, info.id).await?,
        None => client.open_doc(&name).await?,
    };
    let state_bytes = replica.state();
    docs.insert(name, OpenDoc::bridge(replica, on_push)?);
    Ok(state_bytes)
}

async fn open_replica(state: &AppRef<'_>, name: &str) -> CmdResult<DocReplica> {
    state
        .docs
        .lock()
        .await
        .get(name)
        .map(|d| d.replica().clone())
        .ok_or_else(|| AppError::new("doc_not_open", format!("{name} is not open")))
}

/// An update from the editor: applied to the replica, persisted, synced.
#[tauri::command]
pub async fn doc_update(state: AppRef<'_>, name: String, update: Vec<u8>) -> CmdResult<()> {
    if update.len() > MAX_UPDATE {
        return Err(AppError::new("update_too_large", "the update is too large"));
    }
    let replica = open_replica(&state, &name).await?;
    Ok(replica.apply_local_update(&update).await?)
}

/// This client's awareness (cursor, name, colour) for the others.
#[tauri::command]
pub async fn doc_awareness(state: AppRef<'_>, name: String, update: Vec<u8>) -> CmdResult<()> {
    if update.len() > MAX_UPDATE {
        return Err(AppError::new("update_too_large", "the update is too large"));
    }
    open_replica(&state, &name).await?.set_awareness(update);
    Ok(())
}

#[tauri::command]
pub async fn close_doc(state: AppRef<'_>, name: String) -> CmdResult<()> {
    state.docs.lock().await.remove(&name);
    Ok(())
}

/// Comments of a document: from the server when reachable, from the cache otherwise.
#[tauri::command]
pub async fn list_comments(state: AppRef<'_>, doc: String) -> CmdResult<Vec<Comment>> {
    Ok(state.client().await?.comments(&doc).await?)
}

/// Adds a comment (or a reply): queued in the outbox, so it works offline.
#[tauri::command]
pub async fn add_comment(
    state: AppRef<'_>,
    doc: String,
    body: String,
    anchor: Option<CommentAnchor>,
    quote: Option<String>,
    parent: Option<i64>,
) -> CmdResult<OutboxEntry> {
    let comment = api::NewComment {
        body,
        anchor,
        quote,
        parent,
        client_id: None,
    };
    Ok(state.client().await?.comment(&doc, comment).await?)
}

/// Replaces the body of one of the user's own comments (or replies).
#[tauri::command]
pub async fn edit_comment(
    state: AppRef<'_>,
    doc: String,
    id: i64,
    body: String,
) -> CmdResult<Comment> {
    Ok(state.client().await?.edit_comment(&doc, id, &body).await?)
}

/// Deletes a comment (with its replies) or a reply: the author's, or any for a manager.
#[tauri::command]
pub async fn delete_comment(state: AppRef<'_>, doc: String, id: i64) -> CmdResult<()> {
    Ok(state.client().await?.delete_comment(&doc, id).await?)
}

#[tauri::command]
pub async fn resolve_comment(
    state: AppRef<'_>,
    doc: String,
    id: i64,
    resolved: bool,
) -> CmdResult<Comment> {
    Ok(state
        .client()
        .await?
        .resolve_comment(&doc, id, resolved)
        .await?)
}

/// The document's named versions, newest first.
#[tauri::command]
pub async fn doc_versions(state: AppRef<'_>, name: String) -> CmdResult<Vec<VersionInfo>> {
    Ok(state.client().await?.versions(&name).await?)
}

/// Saves the document as it is on the server now as a named version (editors).
#[tauri::command]
pub async fn save_doc_version(
    state: AppRef<'_>,
    name: String,
    version: String,
) -> CmdResult<VersionInfo> {
    let version = version.trim();
    if version.is_empty() {
        return Err(AppError::new("invalid_request", "a version needs a name"));
    }
    Ok(state.client().await?.save_version(&name, version).await?)
}

/// A named version's content: its whole state as one Yjs update (base64) and its text. The
/// editor shows it read-only, and restores it as a new edit of the live document.
#[tauri::command]
pub async fn doc_version(state: AppRef<'_>, name: String, id: i64) -> CmdResult<api::DocContent> {
    Ok(state.client().await?.version_content(&name, id).await?)
}

/// The people given a role of their own on the document (its managers only).
#[tauri::command]
pub async fn doc_roles(state: AppRef<'_>, name: String) -> CmdResult<Vec<api::DocRoleEntry>> {
    Ok(state.client().await?.doc_roles(&name).await?)
}

/// Shares the document with `user` as a viewer, commenter or editor (None: takes their own
/// role away; they keep what everyone with access has).
#[tauri::command]
pub async fn set_doc_role(
    state: AppRef<'_>,
    name: String,
    user: String,
    role: Option<DocRole>,
) -> CmdResult<()> {
    let user = user.trim().trim_start_matches('@');
    Ok(state
        .client()
        .await?
        .set_doc_role(&name, user, role)
        .await?)
}

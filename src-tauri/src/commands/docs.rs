//! Document commands: list, create, rename; open a replica and bridge it to the editor's
//! Y.Doc (local updates come down through `doc_update`, remote ones and other people's
//! awareness go up through the `open_doc` channel); comments.

use std::time::Duration;

use parley_client::{docs::ReplicaEvent, Client, DocReplica, OutboxEntry};
use parley_protocol::{Comment, CommentAnchor, DocInfo};
use tauri::ipc::Channel;

use super::AppRef;
use crate::{
    error::CmdResult,
    types::{AppError, DocPush},
};

/// The most bytes one update or awareness message from the editor may have.
const MAX_UPDATE: usize = 8 * 1024 * 1024;

/// An open document: its replica, the observer of its updates and the task relaying its
/// awareness. Dropping it stops all three.
pub struct OpenDoc {
    replica: DocReplica,
    relay: tokio::task::JoinHandle<()>,
}

/// The key of the update observer the bridge puts on a replica's document.
const OBSERVER: &str = "parley-app-bridge";

impl Drop for OpenDoc {
    fn drop(&mut self) {
        self.relay.abort();
        let _ = self.replica.doc().unobserve_update_v1(OBSERVER);
    }
}

fn check_doc(name: &str) -> CmdResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::new(
            "invalid_doc_name",
            "a document name has 1 to 100 letters, digits, '-', '_' or '.'",
        ))
    }
}

/// The server's HTTP API with the session's token.
async fn api(
    client: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> CmdResult<serde_json::Value> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(AppError::internal)?;
    let mut request = http
        .request(method, format!("{}{path}", client.config().server))
        .bearer_auth(&client.config().token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AppError::new("offline", format!("the server is not reachable: {e}")))?;
    let status = response.status();
    let value: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        Ok(value)
    } else {
        Err(AppError::new(
            value["code"].as_str().unwrap_or("internal"),
            value["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("the server answered {status}")),
        ))
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> CmdResult<T> {
    serde_json::from_value(value).map_err(|e| AppError::internal(format!("unexpected answer: {e}")))
}

#[tauri::command]
pub async fn list_docs(state: AppRef<'_>) -> CmdResult<Vec<DocInfo>> {
    let client = state.client().await?;
    let value = api(&client, reqwest::Method::GET, "/api/docs", None).await?;
    parse(value["docs"].clone())
}

#[tauri::command]
pub async fn create_doc(
    state: AppRef<'_>,
    name: String,
    title: Option<String>,
    channel: Option<String>,
) -> CmdResult<DocInfo> {
    let client = state.client().await?;
    let name = name.trim().to_owned();
    check_doc(&name)?;
    let body = serde_json::json!({
        "name": name,
        "title": title.filter(|t| !t.trim().is_empty()),
        "channel": channel.filter(|c| !c.trim().is_empty()),
    });
    parse(api(&client, reqwest::Method::POST, "/api/docs", Some(body)).await?)
}

#[tauri::command]
pub async fn rename_doc(
    state: AppRef<'_>,
    name: String,
    new_name: Option<String>,
    title: Option<String>,
) -> CmdResult<DocInfo> {
    let client = state.client().await?;
    check_doc(&name)?;
    if let Some(new) = &new_name {
        check_doc(new)?;
    }
    let body = serde_json::json!({"name": new_name, "title": title});
    let info: DocInfo = parse(
        api(
            &client,
            reqwest::Method::PATCH,
            &format!("/api/docs/{name}"),
            Some(body),
        )
        .await?,
    )?;
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
    api(
        &client,
        reqwest::Method::DELETE,
        &format!("/api/docs/{name}"),
        None,
    )
    .await?;
    Ok(())
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
    let info = match api(
        &client,
        reqwest::Method::GET,
        &format!("/api/docs/{name}"),
        None,
    )
    .await
    {
        Ok(value) => parse::<DocInfo>(value).ok(),
        // Gone or never there: say so rather than open a replica that cannot sync.
        Err(err) if err.code == "doc_not_found" || err.code == "forbidden" => return Err(err),
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
    let push = on_push.clone();
    let local = yrs::Origin::from(parley_client::docs::LOCAL_ORIGIN);
    replica
        .doc()
        .observe_update_v1(OBSERVER, move |txn, event| {
            if txn.origin() != Some(&local) {
                let _ = push.send(DocPush::Update {
                    update: event.update.clone(),
                });
            }
        })
        .map_err(AppError::internal)?;
    let mut events = replica.events();
    let push = on_push.clone();
    let _ = push.send(DocPush::Connected {
        connected: replica.is_connected(),
    });
    let relay = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ReplicaEvent::Awareness(update)) => {
                    let _ = push.send(DocPush::Awareness { update });
                }
                Ok(ReplicaEvent::Connected(connected)) => {
                    let _ = push.send(DocPush::Connected { connected });
                }
                Ok(ReplicaEvent::Renamed(name)) => {
                    let _ = push.send(DocPush::Renamed { name });
                }
                // The editor stops: the document was deleted, or access was lost.
                Ok(ReplicaEvent::Gone(reason)) => {
                    let _ = push.send(DocPush::Gone { reason });
                    return;
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let state_bytes = replica.state();
    docs.insert(name, OpenDoc { replica, relay });
    Ok(state_bytes)
}

async fn open_replica(state: &AppRef<'_>, name: &str) -> CmdResult<DocReplica> {
    state
        .docs
        .lock()
        .await
        .get(name)
        .map(|d| d.replica.clone())
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
    let client = state.client().await?;
    check_doc(&doc)?;
    match api(
        &client,
        reqwest::Method::GET,
        &format!("/api/docs/{doc}/comments"),
        None,
    )
    .await
    {
        Ok(value) => parse(value["comments"].clone()),
        Err(err) if err.code == "offline" => Ok(client
            .cached_comments(&doc)
            .await?
            .into_iter()
            .filter_map(|c| serde_json::from_value(c).ok())
            .collect()),
        Err(err) => Err(err),
    }
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
    let client = state.client().await?;
    check_doc(&doc)?;
    if body.trim().is_empty() {
        return Err(AppError::new("invalid_comment", "the comment is empty"));
    }
    let request = serde_json::json!({
        "body": body,
        "anchor": anchor,
        "quote": quote,
        "parent": parent,
    });
    Ok(client.comment(&doc, request).await?)
}

/// Replaces the body of one of the user's own comments (or replies).
#[tauri::command]
pub async fn edit_comment(
    state: AppRef<'_>,
    doc: String,
    id: i64,
    body: String,
) -> CmdResult<Comment> {
    let client = state.client().await?;
    check_doc(&doc)?;
    if body.trim().is_empty() {
        return Err(AppError::new("invalid_comment", "the comment is empty"));
    }
    parse(
        api(
            &client,
            reqwest::Method::PATCH,
            &format!("/api/docs/{doc}/comments/{id}"),
            Some(serde_json::json!({ "body": body })),
        )
        .await?,
    )
}

/// Deletes a comment (with its replies) or a reply: the author's, or any for a manager.
#[tauri::command]
pub async fn delete_comment(state: AppRef<'_>, doc: String, id: i64) -> CmdResult<()> {
    let client = state.client().await?;
    check_doc(&doc)?;
    api(
        &client,
        reqwest::Method::DELETE,
        &format!("/api/docs/{doc}/comments/{id}"),
        None,
    )
    .await?;
    Ok(())
}

#[tauri::command]
pub async fn resolve_comment(
    state: AppRef<'_>,
    doc: String,
    id: i64,
    resolved: bool,
) -> CmdResult<Comment> {
    let client = state.client().await?;
    check_doc(&doc)?;
    let action = if resolved { "resolve" } else { "reopen" };
    parse(
        api(
            &client,
            reqwest::Method::POST,
            &format!("/api/docs/{doc}/comments/{id}/{action}"),
            None,
        )
        .await?,
    )
}

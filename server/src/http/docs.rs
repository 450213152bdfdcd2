//! HTTP for documents: the `/docs/{name}` upgrade (y-websocket) and the `/api/docs` API.

use std::sync::Arc;

use axum::{
    extract::{ws::WebSocketUpgrade, ConnectInfo, OriginalUri, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use parley_protocol::{
    api::{
        CommentList, CreateDoc, DocChanges, DocList, EditComment, NewComment, RoleGrant,
        SaveVersion, VersionList,
    },
    Comment, DocInfo, DocRole, VersionInfo,
};
use serde::Deserialize;

use super::{prepare_upgrade, ApiJson, Authed, UpgradeQuery};
use crate::{
    docs::{content::ContentJson, owner::Owner, proxy},
    error::{Error, Result},
    AppState,
};

type AppRef = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/docs/{name}", get(upgrade))
        .route("/api/docs", get(list).post(create))
        .route("/api/docs/{name}", get(info).patch(update).delete(remove))
        .route("/api/docs/{name}/roles", get(roles))
        .route(
            "/api/docs/{name}/roles/{user}",
            put(set_role).delete(remove_role),
        )
        .route("/api/docs/{name}/content", get(content))
        .route(
            "/api/docs/{name}/versions",
            get(versions).post(save_version),
        )
        .route("/api/docs/{name}/versions/{id}", get(version))
        .route(
            "/api/docs/{name}/comments",
            get(comments).post(create_comment),
        )
        .route(
            "/api/docs/{name}/comments/{id}",
            axum::routing::patch(edit_comment).delete(delete_comment),
        )
        .route("/api/docs/{name}/comments/{id}/resolve", post(resolve))
        .route("/api/docs/{name}/comments/{id}/reopen", post(reopen))
}

/// `/docs/{name}?doc_id=N`: the document the client expects under `name` (the upgrade's other
/// parameters, `v` and `token`, are read by `prepare_upgrade`).
#[derive(Deserialize)]
struct DocIdQuery {
    doc_id: Option<String>,
}

/// A scoped token opens only existing documents of its channels, with the `docs` operation:
/// the one check of a scope on `/docs` (before anything could create a document).
async fn scoped_doc(state: &AppState, auth: &crate::store::TokenRecord, name: &str) -> Result<()> {
    let Some(scope) = auth.scope.as_deref() else {
        return Ok(());
    };
    let doc = state
        .docs
        .lookup(name)
        .await?
        .ok_or_else(|| crate::scope::refused("a scoped token cannot create documents"))?;
    let channel = doc
        .record()
        .channel_id
        .and_then(|id| state.chat.directory.by_id(id))
        .ok_or_else(|| crate::scope::refused("a scoped token cannot open workspace documents"))?;
    let need = crate::scope::Need::Op(
        parley_protocol::api::ScopeOp::Docs,
        channel.record.name.clone(),
    );
    crate::scope::check(Some(scope), &need)
}

/// The y-websocket endpoint. Checks everything before upgrading, so a refused client gets an
/// HTTP status with a JSON error body: 401 without a valid token, 403/404 without access,
/// and the same origin, version and connection-limit answers as `/ws`. A client that names the
/// document it expects (`doc_id`) is connected to that document only, never to another one
/// that took its name, and never creates one; the answer says which document opened
/// (`Parley-Doc-Id`), so a client learns the identity on its first connection.
async fn upgrade(
    State(state): AppRef,
    Path(name): Path<String>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<UpgradeQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let prepared = async {
        let Query(expected) = Query::<DocIdQuery>::try_from_uri(&uri)
            .map_err(|e| Error::new(parley_protocol::ErrorCode::InvalidRequest, e.body_text()))?;
        let expected = match expected.doc_id.as_deref().map(str::trim) {
            None => None,
            Some(id) => Some(id.parse::<i64>().map_err(|_| {
                Error::new(
                    parley_protocol::ErrorCode::InvalidRequest,
                    format!("doc_id must be a document id, not {id:?}"),
                )
            })?),
        };
        let (auth, permit) = prepare_upgrade(&state, client, &headers, query).await?;
        let auth = auth.ok_or_else(Error::unauthenticated)?;
        scoped_doc(&state, &auth, &name).await?;
        // The role is decided now: access changes after this instant close the connection.
        let decided = std::time::Instant::now();
        let (doc, role) = state
            .docs
            .doc_for_connection(&name, &auth.user, expected)
            .await?;
        Ok::<_, Error>((auth, doc.id, (role, decided), permit))
    };
    let (auth, doc_id, role, permit) = match prepared.await {
        Ok(prepared) => prepared,
        Err(err) => return err.into_response(),
    };
    // On a server of several nodes, the node that serves the document gets the connection.
    if let Owner::There(node) = state.docs.owner(doc_id).await {
        if headers.contains_key(proxy::HOP_HEADER) {
            return Error::new(
                parley_protocol::ErrorCode::ServerBusy,
                "the document is moving between nodes; try again shortly",
            )
            .into_response();
        }
        let c = &state.config;
        let limits = (
            c.cluster
                .document_lease
                .min(std::time::Duration::from_secs(5)),
            c.documents.max_document_size as usize + 65_536,
        );
        return match proxy::connect((&node, doc_id), &uri, &headers, client.ip(), limits).await {
            Ok(upstream) => with_doc_id(
                sized(ws, c).on_upgrade(move |socket| {
                    tokio::spawn(proxy::run(state, socket, upstream, auth, doc_id, permit));
                    std::future::ready(())
                }),
                doc_id,
            ),
            Err(refused) => refused,
        };
    }
    let upgrade = sized(ws, &state.config);
    with_doc_id(
        upgrade.on_upgrade(move |socket| {
            tokio::spawn(crate::docs::conn::run(
                state, socket, auth, doc_id, role, permit,
            ));
            std::future::ready(())
        }),
        doc_id,
    )
}

/// The frame limits of a `/docs` connection: one update (the server's answers may be larger).
fn sized(ws: WebSocketUpgrade, c: &crate::config::Config) -> WebSocketUpgrade {
    let max = c.documents.max_update_size as usize + 64;
    ws.max_frame_size(max)
        .max_message_size(max)
        .read_buffer_size(c.websocket.read_buffer_size as usize)
        .write_buffer_size(c.websocket.write_buffer_size as usize)
}

/// The answer says which document opened (`Parley-Doc-Id`).
fn with_doc_id(mut response: Response, doc_id: i64) -> Response {
    response.headers_mut().insert(
        parley_protocol::DOC_ID_HEADER,
        axum::http::HeaderValue::from(doc_id),
    );
    response
}

async fn list(State(state): AppRef, authed: Authed) -> Result<Json<DocList>> {
    Ok(Json(DocList {
        docs: state.docs.visible_docs(&authed.user).await?,
    }))
}

async fn create(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<CreateDoc>,
) -> Result<(StatusCode, Json<DocInfo>)> {
    let doc = state
        .docs
        .create_doc(
            &authed.user,
            &body.name,
            body.title,
            body.channel.as_deref(),
            body.default_role,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(state.docs.doc_info(&doc, Some(&authed.user))),
    ))
}

async fn info(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<DocInfo>> {
    let (doc, _) = state
        .docs
        .doc_access(&name, &authed.user, DocRole::Viewer)
        .await?;
    Ok(Json(state.docs.doc_info(&doc, Some(&authed.user))))
}

async fn update(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(changes): ApiJson<DocChanges>,
) -> Result<Json<DocInfo>> {
    let doc = state.docs.update_doc(&authed.user, &name, changes).await?;
    Ok(Json(state.docs.doc_info(&doc, Some(&authed.user))))
}

async fn remove(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    state.docs.delete_doc(&authed.user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn roles(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<parley_protocol::api::DocRoleList>> {
    let roles = state.docs.doc_roles(&authed.user, &name).await?;
    Ok(Json(parley_protocol::api::DocRoleList { roles }))
}

async fn set_role(
    State(state): AppRef,
    authed: Authed,
    Path((name, user)): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleGrant>,
) -> Result<StatusCode> {
    state
        .docs
        .set_doc_role(&authed.user, &name, &user, Some(body.role))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_role(
    State(state): AppRef,
    authed: Authed,
    Path((name, user)): Path<(String, String)>,
) -> Result<StatusCode> {
    state
        .docs
        .set_doc_role(&authed.user, &name, &user, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn content(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<ContentJson> {
    state.docs.doc_content(&authed.user, &name).await
}

async fn versions(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<VersionList>> {
    Ok(Json(VersionList {
        versions: state.docs.list_versions(&authed.user, &name).await?,
    }))
}

async fn save_version(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<SaveVersion>,
) -> Result<(StatusCode, Json<VersionInfo>)> {
    let info = state
        .docs
        .save_version(&authed.user, &name, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn version(
    State(state): AppRef,
    authed: Authed,
    Path((name, id)): Path<(String, i64)>,
) -> Result<ContentJson> {
    state.docs.version_content(&authed.user, &name, id).await
}

async fn comments(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<CommentList>> {
    Ok(Json(CommentList {
        comments: state.docs.list_comments(&authed.user, &name).await?,
    }))
}

async fn create_comment(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<NewComment>,
) -> Result<(StatusCode, Json<Comment>)> {
    let comment = state.docs.create_comment(&authed.user, &name, body).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

async fn edit_comment(
    State(state): AppRef,
    authed: Authed,
    Path((name, id)): Path<(String, i64)>,
    ApiJson(body): ApiJson<EditComment>,
) -> Result<Json<Comment>> {
    Ok(Json(
        state
            .docs
            .edit_comment(&authed.user, &name, id, body.body)
            .await?,
    ))
}

async fn delete_comment(
    State(state): AppRef,
    authed: Authed,
    Path((name, id)): Path<(String, i64)>,
) -> Result<StatusCode> {
    state.docs.delete_comment(&authed.user, &name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn resolve(
    State(state): AppRef,
    authed: Authed,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Json<Comment>> {
    Ok(Json(
        state
            .docs
            .resolve_comment(&authed.user, &name, id, true)
            .await?,
    ))
}

async fn reopen(
    State(state): AppRef,
    authed: Authed,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Json<Comment>> {
    Ok(Json(
        state
            .docs
            .resolve_comment(&authed.user, &name, id, false)
            .await?,
    ))
}

//! HTTP: the `/ws` upgrade (origin, version, connection limits and bearer checks happen here,
//! before any WebSocket exists), the REST API under `/api`, and `/healthz`.

mod docs;
pub(crate) mod transport;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{
        ws::WebSocketUpgrade, ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request,
        State,
    },
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use parley_protocol::{
    ChannelInfo, ChannelSettings, ErrorCode, HistoryPage, SendResult, UserRef, PROTOCOL_HEADER,
    PROTOCOL_VERSION,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{
    address::ConnectionPermit,
    error::{Error, Result},
    store::{TokenRecord, UserRecord},
    AppState,
};

type AppRef = State<Arc<AppState>>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(healthz))
        .route("/api/register", post(register))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/channels", get(list_channels).post(create_channel))
        .route("/api/channels/{name}", delete(delete_channel))
        .route("/api/channels/{name}/join", post(join_channel))
        .route(
            "/api/channels/{name}/messages",
            get(channel_history).post(post_message),
        )
        .merge(docs::routes())
        .merge(crate::attachments::routes())
        .with_state(state)
}

#[derive(Deserialize)]
pub(crate) struct UpgradeQuery {
    pub(crate) v: Option<String>,
    pub(crate) token: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn upgrade(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<UpgradeQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    match prepare_upgrade(&state, client, &headers, query).await {
        Ok((auth, permit)) => {
            let ws_config = &state.config.websocket;
            let max = ws_config.max_frame_size as usize;
            ws.max_frame_size(max)
                .max_message_size(max)
                .read_buffer_size(ws_config.read_buffer_size as usize)
                .write_buffer_size(ws_config.write_buffer_size as usize)
                .on_upgrade(move |socket| {
                    // Our own task rather than axum's upgrade task: that one keeps the space of
                    // its upgrade machinery for as long as the connection lives (~4 KiB).
                    tokio::spawn(crate::chat::session::run(state, socket, auth, permit));
                    std::future::ready(())
                })
        }
        Err(err) => err.into_response(),
    }
}

pub(crate) async fn prepare_upgrade(
    state: &Arc<AppState>,
    client: SocketAddr,
    headers: &HeaderMap,
    query: UpgradeQuery,
) -> Result<(Option<TokenRecord>, ConnectionPermit)> {
    if !state.config.realtime.enabled {
        return Err(Error::new(
            ErrorCode::RealtimeDisabled,
            "realtime is disabled on this server",
        ));
    }
    if state.connections.shutdown.is_cancelled() {
        return Err(Error::new(
            ErrorCode::ShuttingDown,
            "the server is shutting down",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let allowed = &state.config.server.allowed_origins;
        if !allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
        {
            return Err(Error::new(
                ErrorCode::OriginNotAllowed,
                format!("origin {origin:?} is not in allowed_origins"),
            ));
        }
    }
    let version = match headers.get(PROTOCOL_HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or(0),
        ),
        None => query.v.map(|v| v.trim().parse::<u32>().unwrap_or(0)),
    };
    if let Some(version) = version {
        if version != PROTOCOL_VERSION {
            return Err(Error::new(
                ErrorCode::VersionMismatch,
                format!(
                    "this server speaks protocol {PROTOCOL_VERSION}; the client speaks {version}"
                ),
            ));
        }
    }
    let realtime = &state.config.realtime;
    // The address's share first: one address at its cap must not take the server's last slots.
    let (held, _) = state.connections.per_address.held_by(client.ip());
    if held >= realtime.max_connections_per_address {
        return Err(Error::new(
            ErrorCode::TooManyConnections,
            "this address holds as many connections as one address may              (realtime.max_connections_per_address)",
        ));
    }
    let permit = Arc::clone(&state.connections.permits)
        .try_acquire_owned()
        .map_err(|_| Error::new(ErrorCode::ServerBusy, "the server is at max_connections"))?;
    let token = bearer(headers).map(str::to_owned).or(query.token);
    let auth = match token {
        Some(token) => Some(state.authenticate(&token).await?),
        None => None,
    };
    // Counted for good only now that we know whether the connection is anonymous.
    let slot = state.connections.per_address.admit(
        client.ip(),
        auth.is_none(),
        realtime.max_connections_per_address,
        realtime.max_anonymous_connections_per_address,
    )?;
    Ok((auth, ConnectionPermit::new(permit, slot)))
}

async fn healthz(State(state): AppRef) -> Response {
    if state.store.healthy().await {
        (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "connections": state.connections.len()})),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "database unavailable"})),
        )
            .into_response()
    }
}

/// The signed-in user of an API request (`Authorization: Bearer`).
pub(crate) struct Authed {
    pub(crate) user: UserRecord,
    token: String,
}

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        let token = bearer(&parts.headers)
            .ok_or_else(Error::unauthenticated)?
            .to_owned();
        let record = state.authenticate(&token).await?;
        Ok(Self {
            user: record.user,
            token,
        })
    }
}

/// The user, if the request carries a bearer token (anonymous otherwise).
struct MaybeAuthed(Option<UserRecord>);

impl FromRequestParts<Arc<AppState>> for MaybeAuthed {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self> {
        match bearer(&parts.headers) {
            Some(token) => Ok(Self(Some(state.authenticate(token).await?.user))),
            None => Ok(Self(None)),
        }
    }
}

/// A JSON body whose rejections are Parley errors (`invalid_request` with serde's message).
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(|rejection| Error::new(ErrorCode::InvalidRequest, rejection.body_text()))
    }
}

#[derive(Deserialize)]
struct Credentials {
    name: String,
    password: String,
    #[serde(default)]
    display_name: Option<String>,
    /// A label for the token (e.g. the device), shown in token lists.
    #[serde(default)]
    device: Option<String>,
}

#[derive(Serialize)]
struct Session {
    token: String,
    user: UserRef,
}

async fn register(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Session>)> {
    let (user, token) = state
        .register(client.ip(), &body.name, &body.password, body.display_name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            user: user.to_ref(),
        }),
    ))
}

async fn login(
    State(state): AppRef,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Json<Session>> {
    let label = body.device.unwrap_or_else(|| "login".into());
    let (user, token) = state
        .login(client.ip(), &body.name, &body.password, &label)
        .await?;
    Ok(Json(Session {
        token,
        user: user.to_ref(),
    }))
}

async fn logout(State(state): AppRef, authed: Authed) -> Result<StatusCode> {
    state.logout(&authed.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(authed: Authed) -> Json<UserRef> {
    Json(authed.user.to_ref())
}

#[derive(Serialize)]
struct ChannelList {
    channels: Vec<ChannelInfo>,
}

async fn list_channels(
    State(state): AppRef,
    MaybeAuthed(user): MaybeAuthed,
) -> Result<Json<ChannelList>> {
    Ok(Json(ChannelList {
        channels: state.visible_channels(user.as_ref()).await?,
    }))
}

#[derive(Deserialize)]
struct CreateChannel {
    channel: String,
    #[serde(flatten)]
    settings: ChannelSettings,
}

async fn create_channel(
    State(state): AppRef,
    authed: Authed,
    ApiJson(body): ApiJson<CreateChannel>,
) -> Result<(StatusCode, Json<ChannelInfo>)> {
    let channel = state
        .create_channel(&authed.user, &body.channel, body.settings)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(state.channel_info(&channel, Some(&authed.user))),
    ))
}

async fn delete_channel(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<StatusCode> {
    state.delete_channel(&authed.user, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn join_channel(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
) -> Result<Json<ChannelInfo>> {
    let channel = state.join_channel(&authed.user, &name).await?;
    Ok(Json(state.channel_info(&channel, Some(&authed.user))))
}

#[derive(Deserialize)]
struct HistoryQuery {
    before: Option<u64>,
    limit: Option<u32>,
}

async fn channel_history(
    State(state): AppRef,
    MaybeAuthed(user): MaybeAuthed,
    Path(name): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<HistoryPage>> {
    Ok(Json(
        state
            .history(user.as_ref(), &name, query.before, query.limit)
            .await?,
    ))
}

#[derive(Deserialize)]
struct PostMessage {
    text: String,
    client_id: String,
}

async fn post_message(
    State(state): AppRef,
    authed: Authed,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<SendResult>)> {
    let result = state
        .send_message(&authed.user, &name, &body.text, &body.client_id)
        .await?;
    let status = if result.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(result)))
}

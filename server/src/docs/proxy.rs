//! Passing a `/docs` connection on to the node that serves the document (docs/scaling.md).
//!
//! The node a client reached checks everything a connection needs (origin, version, caps,
//! token, access) and holds the client's connection slot as usual; then it opens the same
//! request on the owner (`cluster.advertise`), with the client's credentials, its address in
//! `X-Forwarded-For` (believed by the owner when this node is in its `server.trusted_proxies`)
//! and [`HOP_HEADER`], and relays frames both ways. The owner checks the request again, as for
//! any client: a node passes on only what the owner would accept from the client itself. A
//! refusal from the owner reaches the client as the owner gave it.
//!
//! [`HOP_HEADER`] only restricts: a request that carries it is never passed on again (a node
//! that does not serve the document answers 503 and the client retries), so a client that
//! sets it gains nothing.
//!
//! The client side is a connection like any other (`ws::Connections`): bounded outbound queue,
//! pings, pong timeout, revocation; so a client that vanishes is noticed here and its relay
//! ends, which the owner sees as that connection leaving.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{
    extract::ws::{Message as WsMessage, WebSocket},
    http::{header, HeaderMap, HeaderValue, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use parley_protocol::{close_code, ErrorCode, PROTOCOL_HEADER};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{
        client::IntoClientRequest,
        protocol::{frame::coding::CloseCode, CloseFrame as UpCloseFrame, WebSocketConfig},
        Message as UpMessage,
    },
    MaybeTlsStream, WebSocketStream,
};

use crate::{
    error::Error,
    store::TokenRecord,
    ws::{Frame, Opened},
    AppState,
};

/// Marks a request one node passed on to another.
pub const HOP_HEADER: &str = "parley-cluster-hop";

/// The request headers the owner needs to see as the client sent them.
const FORWARDED: [&str; 4] = ["authorization", "cookie", "origin", PROTOCOL_HEADER];

pub struct Upstream(WebSocketStream<MaybeTlsStream<TcpStream>>);

/// Opens the client's request on the node at `base`; the owner's refusal, or 503 when it
/// cannot be reached, as the answer to give the client.
pub async fn connect(
    (base, doc_id): (&str, i64),
    uri: &Uri,
    headers: &HeaderMap,
    client: IpAddr,
    (timeout, max_message): (Duration, usize),
) -> Result<Upstream, Response> {
    let unreachable = |why: String| {
        tracing::warn!(node = base, %why, "cannot reach the node serving a document");
        Error::new(
            ErrorCode::ServerBusy,
            "the node serving this document cannot be reached; try again shortly",
        )
        .into_response()
    };
    // Pinned to the document this node resolved: a rename in between reaches no other one.
    let path = match uri.query() {
        Some(query) if query.split('&').any(|p| p.starts_with("doc_id=")) => {
            format!("{}?{query}", uri.path())
        }
        Some(query) => format!("{}?{query}&doc_id={doc_id}", uri.path()),
        None => format!("{}?doc_id={doc_id}", uri.path()),
    };
    let url = format!(
        "{}{path}",
        base.trim_end_matches('/')
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    );
    let mut request = url
        .into_client_request()
        .map_err(|e| unreachable(e.to_string()))?;
    for name in FORWARDED {
        for value in headers.get_all(name) {
            request.headers_mut().append(name, value.clone());
        }
    }
    // The owner checks the Host the client used (`server.allowed_hosts`, the web app's
    // same-origin rule), not the address nodes reach it on.
    if let Some(host) = headers.get(header::HOST) {
        request.headers_mut().insert(header::HOST, host.clone());
    }
    request
        .headers_mut()
        .insert(HOP_HEADER, HeaderValue::from_static("1"));
    if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
        request.headers_mut().insert("x-forwarded-for", value);
    }
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(max_message);
    config.max_frame_size = Some(max_message);
    let connector = tls_connector().map_err(|e| unreachable(e.to_string()))?;
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        true,
        Some(connector),
    );
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok((stream, _))) => Ok(Upstream(stream)),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(refusal))) => {
            let status =
                StatusCode::from_u16(refusal.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = refusal.into_body().unwrap_or_default();
            Err((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Ok(Err(err)) => Err(unreachable(err.to_string())),
        Err(_) => Err(unreachable("timed out".into())),
    }
}

/// TLS to another node trusts the system's certificates, as webhook deliveries do.
fn tls_connector() -> crate::error::Result<tokio_tungstenite::Connector> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(tokio_tungstenite::Connector::Rustls(Arc::clone(config)));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(Error::internal)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let config = CONFIG.get_or_init(|| Arc::new(config));
    Ok(tokio_tungstenite::Connector::Rustls(Arc::clone(config)))
}

/// Relays the client's connection to the owner's until either ends; the close code of one
/// side is given to the other.
pub async fn run(
    state: Arc<AppState>,
    socket: WebSocket,
    upstream: Upstream,
    auth: TokenRecord,
    doc_id: i64,
    permit: crate::address::ConnectionPermit,
) {
    let Opened {
        control,
        out,
        mut stream,
        writer,
    } = super::conn::open(&state, socket, &auth, &permit);
    let (mut up_sink, mut up_stream) = upstream.0.split();
    let mut peer_gone = false;
    let mut upstream_closed = false;
    // The owner is pinged like a client: silence past the pong timeout ends the relay, and so
    // does a send it does not take within that time.
    let (ping_every, patience) = (
        state.config.websocket.ping_interval,
        state.config.websocket.pong_timeout,
    );
    let mut ping = tokio::time::interval(ping_every);
    let mut heard = tokio::time::Instant::now();
    let gone = |control: &crate::ws::ConnControl| {
        control.close_with(1012, "the node serving the document went away");
    };
    loop {
        tokio::select! {
            biased;
            () = control.closing.cancelled() => break,
            () = state.connections.shutdown.cancelled() => {
                control.close_with(1001, "server shutting down");
                break;
            }
            _ = ping.tick() => {
                let sent = tokio::time::timeout(patience, up_sink.send(UpMessage::Ping(Default::default()))).await;
                if heard.elapsed() > ping_every + patience || !matches!(sent, Ok(Ok(()))) {
                    gone(&control);
                    upstream_closed = true;
                    break;
                }
            }
            next = stream.next() => match control.received(next) {
                Ok(WsMessage::Binary(bytes)) => {
                    let sent = tokio::select! {
                        sent = tokio::time::timeout(patience, up_sink.send(UpMessage::Binary(bytes))) => sent,
                        () = control.closing.cancelled() => break,
                    };
                    if !matches!(sent, Ok(Ok(()))) {
                        gone(&control);
                        upstream_closed = true;
                        break;
                    }
                }
                Ok(WsMessage::Text(_)) => {
                    control.close_with(1003, "the document protocol uses binary frames");
                    break;
                }
                Ok(WsMessage::Close(_)) => {
                    peer_gone = true;
                    break;
                }
                Ok(WsMessage::Pong(_)) => control
                    .last_pong
                    .store(crate::store::now_ms(), std::sync::atomic::Ordering::Relaxed),
                Ok(WsMessage::Ping(_)) => {}
                Err(gone) => {
                    peer_gone = gone;
                    break;
                }
            },
            next = up_stream.next() => {
                heard = tokio::time::Instant::now();
                match next {
                Some(Ok(UpMessage::Binary(bytes))) => {
                    tokio::select! {
                        sent = out.send(Frame::binary(bytes.to_vec())) => {
                            if sent.is_err() { break; }
                        }
                        () = control.closing.cancelled() => break,
                    }
                }
                Some(Ok(UpMessage::Close(frame))) => {
                    upstream_closed = true;
                    let code = frame.as_ref().map_or(1000, |f| u16::from(f.code));
                    control.close_with(code, reason(code));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    upstream_closed = true;
                    gone(&control);
                    break;
                }
            }
            }
        }
    }
    if !upstream_closed {
        let code = match control.close_code() {
            0 => 1000,
            code => code,
        };
        let close = UpCloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            up_sink.send(UpMessage::Close(Some(close))),
        )
        .await;
    }
    if !peer_gone {
        control.closing.cancel();
    }
    state
        .connections
        .close(&control, stream, writer, peer_gone)
        .await;
    drop(permit);
    tracing::debug!(
        conn = control.id,
        doc_id,
        "relayed document connection closed"
    );
}

/// The reason given to the client for the owner's close code (reasons here are static).
fn reason(code: u16) -> &'static str {
    match code {
        1000 => "",
        1001 => "the node serving the document is shutting down",
        close_code::DOC_TOO_LARGE => "the document is too large",
        close_code::DOC_DELETED => "document deleted",
        close_code::DOC_INVALID_FRAME => "invalid y-websocket message",
        close_code::DOC_ACCESS_CHANGED => "access to the document changed",
        close_code::DOC_MOVED => "the document moved to another node",
        close_code::PONG_TIMEOUT => "pong timeout",
        close_code::TOKEN_REVOKED => "token revoked",
        _ => "closed by the node serving the document",
    }
}

//! The HTTP server under the router: accepts TCP connections and serves HTTP/1.1 on each with
//! hyper directly, because `axum::serve` has no knobs. What it adds for a server on an open
//! network:
//!
//! - a deadline for each request head (`server.header_read_timeout`), so a client that trickles
//!   its headers (slowloris) is cut off; hyper applies it to idle keep-alive connections too;
//! - an idle deadline between the pieces of a request body (`server.body_read_timeout`), idle
//!   rather than total so a large upload on a slow link keeps going while it moves;
//! - the `Host` check (`server.allowed_hosts`) before any route runs, upgrades included;
//! - a cap on the HTTP connections one client address holds at once
//!   (`server.max_http_connections_per_address`), so that one client cannot hold every file
//!   descriptor with connections that each stay just inside the deadlines;
//! - TLS when configured (`http::tls`), the handshake held to the same deadline as a head;
//! - the client's address for handlers (`ConnectInfo<SocketAddr>`): the peer, or for a peer
//!   in `server.trusted_proxies` the client its `X-Forwarded-For` names (per request, since a
//!   proxy's keep-alive connection carries many clients); trusted proxies are not held to the
//!   per-address HTTP connection cap, their clients' limits apply per request instead;
//! - TCP_NODELAY, WebSocket upgrades, accept errors that back off instead of ending the loop,
//!   and a graceful stop.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{header, Request},
    response::IntoResponse,
    Router,
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parley_protocol::ErrorCode;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::tls::Tls;
use crate::{
    address::{AddressConnections, TrustedProxies},
    config::ServerConfig,
    error::Error,
};

/// How long the accept loop pauses after an error that is not about one connection (out of
/// file descriptors, most often): the condition usually clears as connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection needs to know, shared.
#[derive(Clone)]
pub(crate) struct HttpSettings {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    /// Normalised (`normalize_host`); empty means any host.
    allowed_hosts: Arc<[String]>,
    max_connections_per_address: usize,
    tls: Option<Arc<Tls>>,
    proxies: Arc<TrustedProxies>,
}

impl HttpSettings {
    pub(crate) fn new(config: &ServerConfig, tls: Option<Arc<Tls>>) -> Self {
        Self {
            tls,
            // Checked when the configuration was loaded.
            proxies: Arc::new(TrustedProxies::parse(&config.trusted_proxies).unwrap_or_default()),
            header_read_timeout: config.header_read_timeout,
            body_read_timeout: config.body_read_timeout,
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .filter_map(|h| crate::config::normalize_host(h))
                .collect(),
            max_connections_per_address: config.max_http_connections_per_address,
        }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled; then stops accepting, lets each
/// connection finish the request it is in (idle ones close at once) and waits up to `grace`.
/// Upgraded connections (WebSockets) are not waited for here: they belong to their sessions.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    settings: HttpSettings,
    stop: CancellationToken,
    grace: Duration,
) {
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    // HTTP connections per client address; an upgraded one leaves this count when hyper hands
    // it over (it is counted by the WebSocket limits from then on).
    let per_address = Arc::new(AddressConnections::default());
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                tracing::warn!(%err, "accept failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let place = if settings.proxies.contains(remote.ip()) {
            None
        } else {
            let max = settings.max_connections_per_address;
            match per_address.admit(remote.ip(), false, max, max) {
                Ok(place) => Some(place),
                Err(_) => {
                    // Closed unread: answering would cost what the cap is there to save.
                    tracing::debug!(%remote, "refused: server.max_http_connections_per_address");
                    continue;
                }
            }
        };
        // Small realtime frames must not wait for Nagle's algorithm.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let settings = settings.clone();
        let closing = closing.clone();
        connections.spawn(async move {
            match settings.tls.as_ref().map(|tls| tls.acceptor()) {
                None => serve_connection(stream, remote, router, settings, closing).await,
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        () = closing.cancelled() => return,
                        done = tokio::time::timeout(
                            settings.header_read_timeout,
                            acceptor.accept(stream),
                        ) => done,
                    };
                    match handshake {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, remote, router, settings, closing).await;
                        }
                        Ok(Err(err)) => tracing::debug!(%err, %remote, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
            }
            drop(place);
        });
    }
    drop(listener);
    closing.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some HTTP requests did not finish in time");
    }
}

/// Errors that concern one connection only (it went away before we took it).
fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection<S>(
    stream: S,
    remote: SocketAddr,
    router: Router,
    settings: HttpSettings,
    closing: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let body_timeout = settings.body_read_timeout;
    let hosts = Arc::clone(&settings.allowed_hosts);
    let proxies = Arc::clone(&settings.proxies);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        let hosts = Arc::clone(&hosts);
        let proxies = Arc::clone(&proxies);
        async move {
            if let Err(refusal) = check_host(&hosts, &request) {
                return Ok::<_, Infallible>(refusal.into_response());
            }
            let client = client_address(&proxies, remote, &request);
            let mut request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
            request.extensions_mut().insert(ConnectInfo(client));
            router.oneshot(request).await
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = closing.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, %remote, "HTTP connection ended with an error");
    }
}

/// The client a request comes from (see the module's notes). A forwarded client keeps the
/// peer's port: it has no meaningful one of its own.
fn client_address(
    proxies: &TrustedProxies,
    peer: SocketAddr,
    request: &Request<Incoming>,
) -> SocketAddr {
    if proxies.is_empty() {
        return peer;
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    SocketAddr::new(proxies.client(peer.ip(), forwarded), peer.port())
}

/// Refuses a request whose host is not in `allowed` (when it lists any). The host comes from
/// the request target when it is in absolute form, else from the `Host` header (RFC 9112
/// §3.2.2); the port is ignored. A request without a host is refused too.
fn check_host(allowed: &[String], request: &Request<Incoming>) -> Result<(), Error> {
    if allowed.is_empty() {
        return Ok(());
    }
    let given = match request.uri().authority() {
        Some(authority) => Some(authority.as_str()),
        None => request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok()),
    };
    let host = given.and_then(crate::config::normalize_host);
    if host.as_ref().is_some_and(|h| allowed.contains(h)) {
        return Ok(());
    }
    let shown: String = given.unwrap_or("").chars().take(100).collect();
    Err(Error::new(
        ErrorCode::HostNotAllowed,
        format!("this server does not answer to host {shown:?} (server.allowed_hosts)"),
    ))
}

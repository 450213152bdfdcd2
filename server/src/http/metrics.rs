//! `GET /metrics`: the server's metrics (`crate::metrics`) in the Prometheus text format. Loopback
//! peers read them without credentials; anyone else needs `Authorization: Bearer <metrics.token>`
//! and gets 403 `forbidden` without it (or when no token is configured). The peer is the
//! request's client address (`ConnectInfo`): the TCP peer, or, from one of
//! `server.trusted_proxies`, the client that proxy names; never a header from anyone else. A request
//! that says it was relayed (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`) loses the loopback
//! pass: a reverse proxy on the same machine connects from loopback on behalf of clients from
//! anywhere. Those headers can only take access away, never grant it. The route exists only
//! while `metrics.enabled` (otherwise: 404).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{extract::bearer, AppRef};
use crate::{error::Error, metrics};

pub(super) async fn metrics(
    State(state): AppRef,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let token = state.config.metrics.token.as_deref();
    let relayed = RELAY_HEADERS.iter().any(|h| headers.contains_key(*h));
    if !may_read(peer.ip(), relayed, bearer(&headers), token) {
        let hint = if token.is_some() {
            "metrics need `Authorization: Bearer` with the metrics token from this address"
        } else {
            "metrics are served only to direct connections from loopback addresses"
        };
        return Error::forbidden(hint).into_response();
    }
    let now = metrics::Snapshot {
        chat_connections: state.connections.count_route("/ws"),
        document_connections: state.connections.count_route("/docs/{name}"),
        write_queue: state.stores.control.queued_writes(),
        open_documents: state.docs.dir.actors.open_count(),
        writers_running: state.connections.writers_running(),
        cluster_peers: state.cluster.as_ref().map_or(0, |c| c.peers()),
    };
    let text = state.metrics.render(now);
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// Headers by which a proxy says it relays a request for someone else.
const RELAY_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Whether a request from the TCP peer `peer`, carrying the bearer token `presented`, may read
/// the metrics when `configured` is the metrics token: a loopback peer (127.0.0.0/8, ::1, and
/// 127.0.0.0/8 mapped into IPv6) may unless the request says a proxy `relayed` it; any other
/// request only with the configured token.
pub(crate) fn may_read(
    peer: IpAddr,
    relayed: bool,
    presented: Option<&str>,
    configured: Option<&str>,
) -> bool {
    if peer.to_canonical().is_loopback() && !relayed {
        return true;
    }
    match (presented, configured) {
        (Some(presented), Some(configured)) => same_secret(presented, configured),
        _ => false,
    }
}

/// Compares in constant time. Both sides are hashed first, so neither the length of the token
/// nor where a guess first differs shows in the time taken.
fn same_secret(presented: &str, configured: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use std::{
        net::{Ipv4Addr, Ipv6Addr},
        sync::Arc,
    };

    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;
    use crate::{Config, Server};

    /// The whole route, called as the accept loop calls it, with the TCP peer it would set.
    async fn scrape(
        server: &Server,
        peer: [u8; 4],
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let mut request = Request::get("/metrics");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .extension(ConnectInfo(SocketAddr::from((peer, 40000))))
            .body(Body::empty())
            .expect("a request");
        let response = super::super::router(Arc::clone(&server.state))
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn the_route_serves_other_peers_only_with_the_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[server]\ndata_dir = {:?}\n[metrics]\ntoken = \"s3cret\"\n",
            dir.path().display().to_string()
        );
        let config = Config::from_toml_and_env(&text, []).expect("config");
        let server = Server::open(config).await.expect("server");
        let (status, content_type, text) = scrape(&server, [127, 0, 0, 1], &[]).await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(metrics::CONTENT_TYPE));
        assert!(text.contains("# TYPE parley_connections gauge"), "{text}");
        let remote = [192, 0, 2, 7];
        let forwarded = ("x-forwarded-for", "127.0.0.1");
        let auth = |value| (header::AUTHORIZATION.as_str(), value);
        let local = [127, 0, 0, 1];
        let refused = [
            (remote, vec![]),
            (remote, vec![auth("Bearer wrong")]),
            (remote, vec![auth("s3cret")]),
            (remote, vec![auth("Basic s3cret")]),
            // A forwarded-for header naming loopback grants nothing: the peer decides.
            (remote, vec![forwarded]),
            // Relayed by a proxy on this machine: the client is elsewhere.
            (local, vec![forwarded]),
            (local, vec![("forwarded", "for=198.51.100.1")]),
        ];
        for (peer, headers) in &refused {
            let (status, content_type, body) = scrape(&server, *peer, headers).await;
            assert_eq!(status, 403, "{peer:?} {headers:?}");
            assert_eq!(content_type.as_deref(), Some("application/json"));
            let body: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
            assert_eq!(body["code"], "forbidden", "{body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        for peer in [remote, [127, 0, 0, 1]] {
            let headers = [auth("Bearer s3cret"), forwarded];
            assert_eq!(scrape(&server, peer, &headers).await.0, 200, "{peer:?}");
        }
        let (_, _, text) = scrape(&server, [127, 0, 0, 1], &[]).await;
        assert!(
            text.contains(
                "parley_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"} 7"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn without_a_token_other_peers_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[server]\ndata_dir = {:?}\n",
            dir.path().display().to_string()
        );
        let config = Config::from_toml_and_env(&text, []).expect("config");
        let server = Server::open(config).await.expect("server");
        let headers = [(header::AUTHORIZATION.as_str(), "Bearer anything")];
        let (status, _, body) = scrape(&server, [192, 0, 2, 7], &headers).await;
        assert_eq!(status, 403);
        assert!(body.contains("loopback"), "{body}");
        assert_eq!(scrape(&server, [127, 1, 2, 3], &[]).await.0, 200);
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn loopback_peers_need_nothing_unless_relayed() {
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            let peer = ip(peer);
            assert!(may_read(peer, false, None, None), "{peer}");
            assert!(
                may_read(peer, false, Some("wrong"), Some("right")),
                "{peer}"
            );
            // Relayed by a proxy on this machine: the client is elsewhere, so the token rules.
            assert!(!may_read(peer, true, None, None), "{peer}");
            assert!(!may_read(peer, true, None, Some("right")), "{peer}");
            assert!(
                !may_read(peer, true, Some("wrong"), Some("right")),
                "{peer}"
            );
            assert!(may_read(peer, true, Some("right"), Some("right")), "{peer}");
        }
    }

    #[test]
    fn other_peers_need_the_configured_token() {
        let peers = [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ip("2001:db8::1"),
            ip("::ffff:10.0.0.7"),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            // ::2 is not loopback, whatever it looks like.
            ip("::2"),
        ];
        for (peer, relayed) in peers.into_iter().flat_map(|p| [(p, false), (p, true)]) {
            assert!(
                !may_read(peer, relayed, None, None),
                "{peer}: no token configured"
            );
            assert!(
                !may_read(peer, relayed, Some("anything"), None),
                "{peer}: a token is refused when none is configured"
            );
            assert!(
                !may_read(peer, relayed, None, Some("s3cret")),
                "{peer}: no token sent"
            );
            assert!(
                !may_read(peer, relayed, Some("s3cre"), Some("s3cret")),
                "{peer}: prefix"
            );
            assert!(
                !may_read(peer, relayed, Some("s3cret!"), Some("s3cret")),
                "{peer}: longer"
            );
            assert!(
                !may_read(peer, relayed, Some(""), Some("s3cret")),
                "{peer}: empty"
            );
            assert!(
                may_read(peer, relayed, Some("s3cret"), Some("s3cret")),
                "{peer}: the token"
            );
        }
    }
}

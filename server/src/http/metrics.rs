//! `GET /metrics`: the server's metrics (`crate::metrics`) in the Prometheus text format. Loopback
//! peers read them without credentials; anyone else needs `Authorization: Bearer <metrics.token>`
//! and gets 403 `forbidden` without it (or when no token is configured). The peer is the TCP
//! peer (`ConnectInfo`), never a forwarded-for header, which any client can write. The route
//! exists only while `metrics.enabled` (otherwise: 404).

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
    if !may_read(peer.ip(), bearer(&headers), token) {
        let hint = if token.is_some() {
            "metrics need `Authorization: Bearer` with the metrics token from this address"
        } else {
            "metrics are served to loopback addresses only"
        };
        return Error::forbidden(hint).into_response();
    }
    let now = metrics::Snapshot {
        chat_connections: state.connections.count_route("/ws"),
        document_connections: state.connections.count_route("/docs/{name}"),
        write_queue: state.stores.control.queued_writes(),
        open_documents: state.docs.dir.actors.open_count(),
    };
    let text = state.metrics.render(now);
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// Whether a request from the TCP peer `peer`, carrying the bearer token `presented`, may read
/// the metrics when `configured` is the metrics token: a loopback peer (127.0.0.0/8, ::1, and
/// 127.0.0.0/8 mapped into IPv6) always may; any other only with the configured token.
pub(crate) fn may_read(peer: IpAddr, presented: Option<&str>, configured: Option<&str>) -> bool {
    if peer.to_canonical().is_loopback() {
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
        authorization: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let mut request = Request::get("/metrics");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request
            .header("x-forwarded-for", "127.0.0.1")
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
        let (status, content_type, text) = scrape(&server, [127, 0, 0, 1], None).await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(metrics::CONTENT_TYPE));
        assert!(text.contains("# TYPE parley_connections gauge"), "{text}");
        let remote = [192, 0, 2, 7];
        // A forwarded-for header naming loopback changes nothing: the peer decides.
        for refused in [
            None,
            Some("Bearer wrong"),
            Some("s3cret"),
            Some("Basic s3cret"),
        ] {
            let (status, content_type, body) = scrape(&server, remote, refused).await;
            assert_eq!(status, 403, "{refused:?}");
            assert_eq!(content_type.as_deref(), Some("application/json"));
            let body: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
            assert_eq!(body["code"], "forbidden", "{body}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (status, _, text) = scrape(&server, remote, Some("Bearer s3cret")).await;
        assert_eq!(status, 200);
        assert!(
            text.contains(
                "parley_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"403\"} 4"
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
        let (status, _, body) = scrape(&server, [192, 0, 2, 7], Some("Bearer anything")).await;
        assert_eq!(status, 403);
        assert!(body.contains("loopback"), "{body}");
        assert_eq!(scrape(&server, [127, 1, 2, 3], None).await.0, 200);
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn loopback_peers_need_nothing() {
        for peer in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(may_read(ip(peer), None, None), "{peer}");
            assert!(may_read(ip(peer), Some("wrong"), Some("right")), "{peer}");
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
        for peer in peers {
            assert!(!may_read(peer, None, None), "{peer}: no token configured");
            assert!(
                !may_read(peer, Some("anything"), None),
                "{peer}: a token is refused when none is configured"
            );
            assert!(
                !may_read(peer, None, Some("s3cret")),
                "{peer}: no token sent"
            );
            assert!(
                !may_read(peer, Some("s3cre"), Some("s3cret")),
                "{peer}: prefix"
            );
            assert!(
                !may_read(peer, Some("s3cret!"), Some("s3cret")),
                "{peer}: longer"
            );
            assert!(!may_read(peer, Some(""), Some("s3cret")), "{peer}: empty");
            assert!(
                may_read(peer, Some("s3cret"), Some("s3cret")),
                "{peer}: the token"
            );
        }
    }
}

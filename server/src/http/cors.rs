//! CORS for the HTTP API: browsers on the origins in `server.cors_origins` may call `/api/…`
//! from their own pages (a web front end on another host, a dashboard). Nothing else is
//! opened: other paths and other origins get no CORS headers, so a browser keeps refusing
//! their answers to scripts. `"*"` allows every origin but never with credentials.

use std::{collections::HashSet, sync::Arc, time::Duration};

use axum::http::{header, request::Parts, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins` (checked by the configuration), or None when the list is empty.
pub(super) fn layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let any = origins.iter().any(|o| o == "*");
    let listed: Arc<HashSet<String>> = Arc::new(
        origins
            .iter()
            .filter(|o| *o != "*")
            .map(|o| o.to_ascii_lowercase())
            .collect(),
    );
    let allowed = Arc::clone(&listed);
    let origin = AllowOrigin::predicate(move |origin: &HeaderValue, parts: &Parts| {
        api_path(parts)
            && (any
                || origin
                    .to_str()
                    .is_ok_and(|o| allowed.contains(&o.to_ascii_lowercase())))
    });
    // Credentials (cookies) only for listed origins, never for "any".
    let credentials = AllowCredentials::predicate(move |origin: &HeaderValue, parts: &Parts| {
        api_path(parts)
            && origin
                .to_str()
                .is_ok_and(|o| listed.contains(&o.to_ascii_lowercase()))
    });
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_credentials(credentials)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static(parley_protocol::PROTOCOL_HEADER),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                header::ETAG,
                header::CONTENT_DISPOSITION,
                header::LOCATION,
            ])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

fn api_path(parts: &Parts) -> bool {
    let path = parts.uri.path();
    path == "/api" || path.starts_with("/api/")
}

//! Browsers' sessions: the `parley_session` cookie a sign-in sets when it asks for one
//! (`"cookie": true`), read wherever a token is (after the bearer header and `?token=`), and
//! the rules that keep other sites from using it: it is `HttpOnly` and `SameSite=Strict`, and a
//! request it signs in that changes something must come from this server's own pages
//! (`Origin` naming the request's `Host`) or from `server.cors_origins` (else 403
//! `csrf_rejected`). Also the same-origin rule of the upgrades: the web app served here may
//! open `/ws` and `/docs` without being listed in `server.allowed_origins`.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, Method};
use parley_protocol::ErrorCode;

use crate::error::{Error, Result};

/// The cookie's name.
pub(crate) const COOKIE: &str = "parley_session";

/// The session token the request's `Cookie` headers carry, if any (the first one named
/// [`COOKIE`] with a value).
pub(crate) fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.trim().is_empty())
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// Whether the request carries a session cookie at all (empty or not).
pub(crate) fn present(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .any(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(n, _)| n == COOKIE)
        })
}

/// `Set-Cookie` that signs the browser in with `token` for `max_age`; `Secure` when the server
/// itself serves TLS (behind a TLS-terminating proxy the browser sees https anyway).
pub(crate) fn set(token: &str, max_age: Duration, secure: bool) -> HeaderValue {
    cookie_header(token, max_age.as_secs(), secure)
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear(secure: bool) -> HeaderValue {
    cookie_header("", 0, secure)
}

fn cookie_header(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}");
    // Tokens are `pl_` and hex: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("parley_session="))
}

/// Whether the request's `Origin` is this server as the browser reached it: `http(s)://` and
/// the request's `Host` (host and port, ASCII case-insensitive). Either scheme, as TLS may end
/// at a proxy in front.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let (Some(origin), Some(host)) = (text(header::ORIGIN), text(header::HOST)) else {
        return false;
    };
    origin_names_host(origin, host)
}

fn origin_names_host(origin: &str, host: &str) -> bool {
    let origin = origin.trim();
    let lower = origin.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &origin[8..]
    } else if lower.starts_with("http://") {
        &origin[7..]
    } else {
        return false;
    };
    let host = host.trim();
    !host.is_empty() && !rest.contains(['/', '@', '?', '#']) && rest.eq_ignore_ascii_case(host)
}

/// Whether `method` may change something (everything but GET, HEAD and OPTIONS).
fn unsafe_method(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The cross-site request forgery check of a request signed in by the cookie: one that
/// changes something must come from this server's pages or from a listed CORS origin.
pub(crate) fn check_csrf(
    method: &Method,
    headers: &HeaderMap,
    cors_origins: &[String],
) -> Result<()> {
    if !unsafe_method(method) || same_origin(headers) {
        return Ok(());
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        if cors_origins
            .iter()
            .any(|o| o != "*" && o.eq_ignore_ascii_case(origin))
        {
            return Ok(());
        }
    }
    Err(Error::new(
        ErrorCode::CsrfRejected,
        "a request signed in by the session cookie that changes something must carry an \
         Origin of this server (or of server.cors_origins)",
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is how they fail
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let h = headers(&[
            ("cookie", "theme=dark"),
            ("cookie", "a=1; parley_session=pl_abc ; b=2"),
        ]);
        assert_eq!(token(&h), Some("pl_abc"));
        assert!(present(&h));
        let h = headers(&[("cookie", "parley_session=; x_parley_session=pl_x")]);
        assert_eq!(token(&h), None);
        assert!(present(&h));
        assert!(!present(&headers(&[("cookie", "other=pl_x")])));
    }

    #[test]
    fn set_and_clear_say_every_attribute() {
        assert_eq!(
            set("pl_1", Duration::from_secs(60), false),
            "parley_session=pl_1; HttpOnly; SameSite=Strict; Path=/; Max-Age=60"
        );
        assert_eq!(
            clear(true),
            "parley_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
        );
    }

    #[test]
    fn an_origin_is_same_when_it_names_the_host_and_port() {
        assert!(origin_names_host("http://localhost:7878", "localhost:7878"));
        assert!(origin_names_host("HTTPS://Chat.Example", "chat.example"));
        assert!(!origin_names_host(
            "http://localhost:7879",
            "localhost:7878"
        ));
        assert!(!origin_names_host("http://evil.example", "chat.example"));
        assert!(!origin_names_host("null", "chat.example"));
        assert!(!origin_names_host("http://chat.example/x", "chat.example"));
        assert!(!origin_names_host("tauri://chat.example", "chat.example"));
        assert!(!origin_names_host("http://", ""));
    }

    #[test]
    fn csrf_refuses_cross_site_changes_only() {
        let cors = vec!["https://app.example".to_owned(), "*".to_owned()];
        let same = headers(&[("host", "chat.example"), ("origin", "https://chat.example")]);
        let listed = headers(&[("host", "chat.example"), ("origin", "https://APP.example")]);
        let other = headers(&[("host", "chat.example"), ("origin", "https://evil.example")]);
        let none = headers(&[("host", "chat.example")]);
        assert!(check_csrf(&Method::GET, &other, &cors).is_ok());
        assert!(check_csrf(&Method::POST, &same, &cors).is_ok());
        assert!(check_csrf(&Method::DELETE, &listed, &cors).is_ok());
        for h in [&other, &none] {
            let err = check_csrf(&Method::PATCH, h, &cors).unwrap_err();
            assert_eq!(err.code(), ErrorCode::CsrfRejected);
        }
    }
}

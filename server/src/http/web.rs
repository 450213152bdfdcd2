//! The web app: the browser build of Parley's UI (`npm run build:web` in `ui/` writes
//! `ui/dist-web`), served by the router's fallback when `web.enabled`. Release binaries carry
//! the files inside (rust-embed; debug builds read the folder at run time), or they come from
//! `web.dir`. Paths the other routers own (`/api`, `/ws`, `/docs`, `/hooks`, `/metrics`,
//! `/healthz`, `/readyz`) stay plain 404s; a path that names a file gets it; a path without a
//! file extension that names none is one of the app's own routes and gets `index.html`; any
//! other miss is a 404. Every answer carries the app's Content-Security-Policy.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use parley_protocol::ErrorCode;
use rust_embed::{EmbeddedFile, RustEmbed};

use crate::{error::Error, AppState};

/// The files of `ui/dist-web` (the path is relative to this crate's directory).
#[derive(RustEmbed)]
#[folder = "../ui/dist-web"]
struct Built;

/// What the app's pages may load and run: only this server's scripts; inline styles, as
/// Svelte and TipTap set style attributes.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; \
                   media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// Files under `assets/` carry a hash of their content in their names: they never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (`index.html` first) is checked with the server before each use.
const REVALIDATE: &str = "no-cache";

/// Path prefixes other routes own: a miss under them is the router's plain 404.
const RESERVED: &[&str] = &[
    "/api", "/ws", "/docs", "/hooks", "/metrics", "/healthz", "/readyz",
];

/// The fallback of the router when the web app is on.
pub(super) async fn serve(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let method = request.method().clone();
    if !matches!(method, Method::GET | Method::HEAD) || reserved(request.uri().path()) {
        return super::access::not_found(State(state), request).await;
    }
    let started = Instant::now();
    let client = super::access::client_of(&request);
    let dir = state.config.web.dir().map(Path::to_path_buf);
    let mut response = answer(dir, request.uri().path(), request.headers()).await;
    harden(response.headers_mut());
    super::access::web_request(&state.metrics, &method, response.status(), started, client);
    response
}

fn reserved(path: &str) -> bool {
    RESERVED.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// What the app's folder holds for a request.
enum Found {
    File {
        name: String,
        file: EmbeddedFile,
    },
    Missing,
    /// Not even `index.html`.
    NotBuilt,
}

async fn answer(dir: Option<PathBuf>, path: &str, headers: &HeaderMap) -> Response {
    let Some(rel) = relative_path(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Files are read from disk in debug builds and from `web.dir`.
    let found = tokio::task::spawn_blocking(move || find(dir.as_deref(), &rel)).await;
    match found {
        Ok(Found::File { name, file }) => file_response(&name, file, headers),
        Ok(Found::Missing) => StatusCode::NOT_FOUND.into_response(),
        Ok(Found::NotBuilt) => Error::new(
            ErrorCode::WebNotBuilt,
            "this server's web app is not built: run `npm run build:web` in ui/ and build the \
             server again, or point web.dir at a build",
        )
        .into_response(),
        Err(e) => Error::internal(format!("reading the web app: {e}")).into_response(),
    }
}

fn find(dir: Option<&Path>, rel: &str) -> Found {
    if !rel.is_empty() {
        if let Some(file) = read(dir, rel) {
            return Found::File {
                name: rel.to_owned(),
                file,
            };
        }
        let last = rel.rsplit('/').next().unwrap_or(rel);
        if last.contains('.') {
            return Found::Missing;
        }
    }
    match read(dir, "index.html") {
        Some(file) => Found::File {
            name: "index.html".to_owned(),
            file,
        },
        None => Found::NotBuilt,
    }
}

/// The file `rel` (checked by [`relative_path`]) of `dir`, or of the built-in files.
fn read(dir: Option<&Path>, rel: &str) -> Option<EmbeddedFile> {
    let Some(dir) = dir else {
        return Built::get(rel);
    };
    // Checked again after links are resolved: nothing outside the folder is served.
    let root = dir.canonicalize().ok()?;
    let path = root.join(rel).canonicalize().ok()?;
    if !path.starts_with(&root) || !path.is_file() {
        return None;
    }
    rust_embed::utils::read_file_from_fs(&path).ok()
}

/// The file a request's path names, relative to the app's folder ("" for `/`): percent-decoded,
/// and only when every segment is a plain name (no empty, `.` or `..` segment, none starting
/// with a dot, no backslash, colon or NUL). None: no file of the app can have that path.
fn relative_path(path: &str) -> Option<String> {
    let decoded = percent_decode(path)?;
    let rest = decoded.strip_prefix('/')?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Some(String::new());
    }
    let plain = |segment: &str| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && !segment.contains(['\\', ':', '\0'])
            && !segment.chars().any(char::is_control)
    };
    rest.split('/').all(plain).then(|| rest.to_owned())
}

fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn file_response(name: &str, file: EmbeddedFile, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Body::from(file.data).into_response();
        let mime = content_type(file.metadata.mimetype());
        if let Ok(value) = HeaderValue::from_str(&mime) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    };
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// The media type, with the character set for text (the app's files are UTF-8).
fn content_type(mime: &str) -> String {
    let text = mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    if text && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    }
}

/// The headers of every answer of the web app.
fn harden(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is how they fail
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_name_files() {
        let p = |s| relative_path(s);
        assert_eq!(p("/").as_deref(), Some(""));
        assert_eq!(p("/index.html").as_deref(), Some("index.html"));
        assert_eq!(
            p("/assets/app-1a2b.js").as_deref(),
            Some("assets/app-1a2b.js")
        );
        assert_eq!(p("/channels/general/").as_deref(), Some("channels/general"));
        assert_eq!(p("/a%20b.txt").as_deref(), Some("a b.txt"));
        for bad in [
            "/../etc/passwd",
            "/assets/../../secret",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/assets/%2e%2e%5c..%5cx",
            "/..%2f..%2fetc",
            "//etc/passwd",
            "/.env",
            "/a/./b",
            "/c:/windows",
            "/%00",
            "/%zz",
            "/%c3",
            "relative",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn reserved_prefixes_are_whole_segments() {
        for path in [
            "/api",
            "/api/nope",
            "/ws",
            "/docs/x/y",
            "/metrics",
            "/hooks/a",
        ] {
            assert!(reserved(path), "{path}");
        }
        for path in ["/", "/apis", "/wsx", "/documents", "/index.html"] {
            assert!(!reserved(path), "{path}");
        }
    }

    #[test]
    fn text_types_say_their_charset() {
        assert_eq!(content_type("text/html"), "text/html; charset=utf-8");
        assert_eq!(content_type("image/png"), "image/png");
    }
}

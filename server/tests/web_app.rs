//! The web app at `/` (`[web]`): files with their types, caching and security headers, the
//! app's own routes answered with `index.html`, paths other routes own left alone, no way out
//! of the app's folder, `web.enabled = false`, and the answer of a server built without the
//! app. The files come from `web.dir`, a folder each test fills, so nothing here depends on
//! the UI's build.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use parley_testkit::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const INDEX: &str =
    "<!doctype html><title>Parley</title><script src=\"/assets/app-1a2b3c.js\"></script>";
const SCRIPT: &str = "console.log('parley');";
const STYLE: &str = "body { margin: 0 }";
const SECRET: &str = "outside the web folder";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; \
                   media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// A folder holding `web/` (a small build of the app) and, beside it, `secret.txt`.
fn app_folder(with_index: bool) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let web = root.path().join("web");
    std::fs::create_dir_all(web.join("assets")).unwrap();
    if with_index {
        std::fs::write(web.join("index.html"), INDEX).unwrap();
    }
    std::fs::write(web.join("assets/app-1a2b3c.js"), SCRIPT).unwrap();
    std::fs::write(web.join("assets/app-4d5e6f.css"), STYLE).unwrap();
    std::fs::write(web.join("favicon.svg"), "<svg/>").unwrap();
    std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), web.join("link.txt")).unwrap();
    root
}

async fn serving(root: &Path, extra: &str) -> TestServer {
    let dir = root.join("web");
    TestServer::start(&format!("{RELAXED}\n[web]\ndir = {dir:?}\n{extra}")).await
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server
        .http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn assert_hardened(response: &reqwest::Response, what: &str) {
    assert_eq!(
        header(response, "content-security-policy").as_deref(),
        Some(CSP),
        "{what}"
    );
    assert_eq!(
        header(response, "referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        header(response, "x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
}

/// A raw request line, answered on a connection of its own (no client tidies the path).
async fn raw_get(server: &TestServer, target: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn the_app_is_served_at_the_root_and_at_its_own_routes() {
    let root = app_folder(true);
    let server = serving(root.path(), "").await;
    for path in ["/", "/index.html", "/some/route", "/channels/general/"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        assert_hardened(&response, path);
        assert_eq!(response.text().await.unwrap(), INDEX, "{path}");
    }
}

#[tokio::test]
async fn assets_have_their_types_and_are_cached_for_good() {
    let root = app_folder(true);
    let server = serving(root.path(), "").await;
    let script = get(&server, "/assets/app-1a2b3c.js").await;
    assert_eq!(script.status(), 200);
    let kind = header(&script, "content-type").unwrap();
    assert!(kind.ends_with("/javascript; charset=utf-8"), "{kind}");
    assert_eq!(
        header(&script, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_hardened(&script, "script");
    let etag = header(&script, "etag").unwrap();
    assert_eq!(script.text().await.unwrap(), SCRIPT);

    let style = get(&server, "/assets/app-4d5e6f.css").await;
    assert_eq!(
        header(&style, "content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    let icon = get(&server, "/favicon.svg").await;
    assert_eq!(
        header(&icon, "content-type").as_deref(),
        Some("image/svg+xml; charset=utf-8")
    );
    assert_eq!(header(&icon, "cache-control").as_deref(), Some("no-cache"));

    // The ETag again: 304, nothing sent.
    let again = server
        .http()
        .get(format!("{}/assets/app-1a2b3c.js", server.url()))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
    assert_hardened(&again, "304");
    assert!(again.bytes().await.unwrap().is_empty());

    // HEAD: the headers alone.
    let head = server
        .http()
        .head(format!("{}/assets/app-1a2b3c.js", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "content-length").as_deref(),
        Some(SCRIPT.len().to_string().as_str())
    );

    // A missing file (it has an extension) is a 404, still with the app's headers.
    let missing = get(&server, "/assets/app-000000.js").await;
    assert_eq!(missing.status(), 404);
    assert_hardened(&missing, "missing asset");
}

#[tokio::test]
async fn paths_of_other_routes_stay_plain_404s() {
    let root = app_folder(true);
    let server = serving(root.path(), "[metrics]\nenabled = false\n").await;
    for path in [
        "/api/nope",
        "/api",
        "/docs",
        "/docs/a/b",
        "/hooks/x",
        "/metrics",
        "/ws/x",
    ] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(header(&response, "content-security-policy"), None, "{path}");
        assert!(response.bytes().await.unwrap().is_empty(), "{path}");
    }
    // Other methods are not the app's.
    let (status, _) = server
        .post("/some/route", None, serde_json::json!({}))
        .await;
    assert_eq!(status, 404);
    // The API itself is untouched: no CSP on its answers.
    let response = get(&server, "/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-security-policy"), None);
}

#[tokio::test]
async fn nothing_outside_the_app_folder_is_served() {
    let root = app_folder(true);
    let server = serving(root.path(), "").await;
    for target in [
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/assets/..%5c..%5csecret.txt",
        "/..%2fsecret.txt",
        "//secret.txt",
        "/link.txt",
        "/.%2e/.%2e/etc/passwd",
    ] {
        let answer = raw_get(&server, target).await;
        assert!(!answer.contains(SECRET), "{target} leaked: {answer}");
        assert!(!answer.contains("root:"), "{target} leaked: {answer}");
        let status = answer.split(' ').nth(1).unwrap_or("");
        assert!(status == "404" || status == "400", "{target}: {answer}");
    }
    // The same client reaches the app's files.
    assert!(raw_get(&server, "/assets/app-1a2b3c.js")
        .await
        .contains(SCRIPT));
}

#[tokio::test]
async fn a_server_with_the_app_off_answers_404() {
    let root = app_folder(true);
    let server = serving(root.path(), "enabled = false\n").await;
    for path in ["/", "/index.html", "/some/route", "/assets/app-1a2b3c.js"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(header(&response, "content-security-policy"), None, "{path}");
    }
}

#[tokio::test]
async fn an_app_folder_without_index_html_says_the_app_is_not_built() {
    let root = app_folder(false);
    let server = serving(root.path(), "").await;
    for path in ["/", "/some/route"] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_hardened(&response, path);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "web_not_built", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("npm run build:web"), "{message}");
    }
    // Its other files are still served.
    assert_eq!(get(&server, "/assets/app-1a2b3c.js").await.status(), 200);
}

//! What the tests of Parley behind a reverse proxy (docs/deployment.md) share: the server
//! process with its access log on and `trusted_proxies` set, the client address each request
//! was logged with, and the `parley` command line signing in, sending and tailing at an
//! `https://` URL (the HTTP API and the WebSocket both over TLS).

use std::{
    io::BufRead,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokio::io::AsyncBufReadExt;

use crate::{run_parley_with, workspace_binary, CliOutput, PASSWORD, START_TIMEOUT};

/// The client's waits (a tail coming online, a log line): the client backs off between
/// attempts, so they are longer than the kit's.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A server process that is killed (and reaped) when dropped, so a failing test leaves none
/// behind; otherwise the [`Child`] it derefs to.
pub struct ServerChild(Child);

impl std::ops::Deref for ServerChild {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for ServerChild {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        // Nothing to do for a child already waited for.
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The server with JSON logs (its access log on), `trusted_proxies` = [`trusted`], first
/// channel `general` and open registration, in `data`: the process, its URL and its log lines.
pub fn server_with_access_log(
    data: &Path,
    trusted: &str,
) -> (
    ServerChild,
    String,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut child = ServerChild(
        Command::new(workspace_binary("parley-server"))
            .args(["--data", data.to_str().unwrap()])
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("PARLEY_LOG", "warn,parley::access=info")
            .env("PARLEY_SERVER_TRUSTED_PROXIES", format!("[\"{trusted}\"]"))
            .env("PARLEY_WORKSPACE_FIRST_CHANNEL", "general")
            .env("PARLEY_ACCOUNTS_REGISTRATION", "open")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.stdout.take().unwrap();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut first);
        let _ = first_tx.send(first);
    });
    let first = match first_rx.recv_timeout(START_TIMEOUT) {
        Ok(line) => line,
        Err(_) => panic!("the server printed no first line within {START_TIMEOUT:?}"),
    };
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server's first line: {first:?}"))
        .to_owned();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, url, rx)
}

/// The fields of the next access-log line for `route` (`/api/register`, `/docs/{name}`, …);
/// the lines before it are passed over.
pub async fn logged_access(
    log: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    route: &str,
) -> serde_json::Value {
    tokio::time::timeout(CLIENT_TIMEOUT, async {
        loop {
            let line = log.recv().await.expect("the server's log ended");
            let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if value["fields"]["route"] == route {
                return value["fields"].take();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no access-log line for {route} in time"))
}

/// The client address of the next access-log line for `route`.
pub async fn logged_client(
    log: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    route: &str,
) -> String {
    let fields = logged_access(log, route).await;
    fields["client"].as_str().unwrap().to_owned()
}

/// `parley` with the CA file, as a user would run it.
async fn parley_ca(home: &Path, ca: &Path, args: &[&str], stdin: Option<&str>) -> CliOutput {
    eprintln!("parley {args:?}");
    run_parley_with(home, args, stdin, &[("PARLEY_CA_FILE", ca)]).await
}

/// A new CLI home signed in at `url` as `user` (password [`PASSWORD`]), a member of
/// `general`; the CA file `ca` is trusted.
pub async fn sign_in(url: &str, ca: &Path, user: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let out = parley_ca(
        home.path(),
        ca,
        &["login", url, "--user", user, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert!(out.success, "login: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("signed in to {url} as {user}")),
        "{}",
        out.stdout
    );
    let out = parley_ca(home.path(), ca, &["join", "general"], None).await;
    assert!(out.success, "join: {}{}", out.stdout, out.stderr);
    home
}

/// Signs in at `url`, joins `general`, follows it with `tail` in another process, sends two
/// messages ("over TLS", "and back") and sees them arrive there: the HTTP API and the
/// WebSocket both over TLS.
pub async fn send_and_tail(url: &str, ca: &Path, user: &str) {
    // Two homes, as two computers: a home's local cache would already hold what it sent, and
    // the tail shows messages that are new to it.
    let home = sign_in(url, ca, user).await;
    let tail_home = sign_in(url, ca, user).await;
    let mut tail = tokio::process::Command::new(workspace_binary("parley"))
        .args(["--json", "tail", "general"])
        .env("PARLEY_HOME", tail_home.path())
        .env("PARLEY_NO_KEYRING", "1")
        .env("PARLEY_CA_FILE", ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    let mut next_line = async || {
        tokio::time::timeout(CLIENT_TIMEOUT, lines.next_line())
            .await
            .expect("tail said nothing in time")
            .unwrap()
            .expect("tail ended")
    };
    while !next_line().await.contains("\"online\"") {}

    for text in ["over TLS", "and back"] {
        let out = parley_ca(home.path(), ca, &["send", "general", text], None).await;
        assert!(out.success, "send: {}{}", out.stdout, out.stderr);
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let value: serde_json::Value = serde_json::from_str(&next_line().await).unwrap();
        if value["kind"] == "message" {
            seen.push(value["message"]["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ["over TLS", "and back"]);
    tail.kill().await.unwrap();
}

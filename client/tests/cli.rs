//! The `parley` command line end to end: login, send, history, tail, search, outbox, documents,
//! logout; registration on a server that registers by invitation; and messages composed while
//! the server is down, across separate processes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncBufReadExt;

async fn login(server: &TestServer, home: &std::path::Path, user: &str) {
    let (ok, out, err) = parley(
        home,
        &["login", &server.url(), "--user", user, "--password-stdin"],
        Some("correct horse\n"),
    )
    .await;
    assert!(ok, "login failed: {out} {err}");
    assert!(
        out.contains(&format!("signed in to {} as {user}", server.url())),
        "{out}"
    );
    // No keyring service in tests: the fallback is announced, and the file is private.
    assert!(err.contains("no keyring service is running"), "{err}");
}

#[tokio::test]
async fn the_command_line_end_to_end() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    server.register("bob").await;
    server.create_channel(&token, "general").await;
    let home = tempfile::tempdir().unwrap();
    login(&server, home.path(), "alice").await;
    let token_file = std::fs::read_dir(home.path().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("token-")
        })
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (ok, out, _) = parley(home.path(), &["channels"], None).await;
    assert!(ok && out.contains("general"), "{out}");
    let (ok, out, err) = parley(home.path(), &["join", "general"], None).await;
    assert!(ok, "{out}{err}");

    // tail follows live in another process.
    let bob_home = tempfile::tempdir().unwrap();
    login(&server, bob_home.path(), "bob").await;
    let (ok, _, _) = parley(bob_home.path(), &["join", "general"], None).await;
    assert!(ok);
    let mut tail = spawn_tail(bob_home.path(), "general");
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    // The tail is connected once it says so.
    loop {
        let line = tokio::time::timeout(TIMEOUT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if line.contains("\"online\"") {
            break;
        }
    }

    for text in ["hello from the command line", "second: the quick brown fox"] {
        let (ok, out, err) = parley(home.path(), &["send", "general", text], None).await;
        assert!(ok, "{out}{err}");
        assert!(out.starts_with("sent to general (#"), "{out}");
    }
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let line = tokio::time::timeout(TIMEOUT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        if value["kind"] == "message" {
            seen.push(value["message"]["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        seen,
        ["hello from the command line", "second: the quick brown fox"]
    );
    tail.kill().await.unwrap();

    let (ok, out, _) = parley(home.path(), &["history", "general", "--limit", "10"], None).await;
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].ends_with("alice: hello from the command line"),
        "{out}"
    );
    let (ok, out, _) = parley(home.path(), &["--json", "search", "quick bro"], None).await;
    assert!(ok);
    let hit: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(hit["message"]["text"], "second: the quick brown fox");
    assert!(
        hit["snippet"].as_str().unwrap().contains("[quick]"),
        "{hit}"
    );

    // A refused message is marked failed with the reason and does not block the next one.
    let (ok, _, err) = parley(home.path(), &["send", "nowhere", "lost?"], None).await;
    assert!(!ok);
    assert!(err.contains("not sent"), "{err}");
    let (ok, out, _) = parley(home.path(), &["send", "general", "after the failure"], None).await;
    assert!(ok, "{out}");
    let (ok, out, _) = parley(home.path(), &["--json", "outbox"], None).await;
    assert!(ok);
    let entries: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "outbox")
        .collect();
    assert_eq!(entries.len(), 1, "{out}");
    assert_eq!(entries[0]["entry"]["state"], "failed");
    assert_eq!(entries[0]["entry"]["error_code"], "channel_not_found");
    let id = entries[0]["entry"]["local_id"]
        .as_i64()
        .unwrap()
        .to_string();
    let (ok, out, _) = parley(home.path(), &["outbox", "--discard", &id], None).await;
    assert!(ok && out.is_empty(), "{out}");

    // Documents.
    let (ok, out, err) = parley(home.path(), &["doc", "append", "notes", "line one\n"], None).await;
    assert!(ok && out.contains("appended to notes"), "{out}{err}");
    let (ok, out, _) = parley(
        bob_home.path(),
        &["doc", "append", "notes", "line two\n"],
        None,
    )
    .await;
    assert!(ok, "{out}");
    let (ok, out, _) = parley(home.path(), &["doc", "cat", "notes"], None).await;
    assert!(ok);
    assert_eq!(out, "line one\nline two\n\n");
    let (_, content) = server.get("/api/docs/notes/content", Some(&token)).await;
    assert_eq!(content["text"]["content"], "line one\nline two\n");

    // Logout revokes the token on the server and forgets it here.
    let (ok, out, _) = parley(home.path(), &["logout"], None).await;
    assert!(ok && out.contains("signed out alice"), "{out}");
    assert!(!token_file.exists());
    let (ok, _, err) = parley(home.path(), &["channels"], None).await;
    assert!(!ok && err.contains("not signed in"), "{err}");
}

/// 200 messages written by 200 separate `parley send` processes while the server is down,
/// then the server starts: the next command that connects delivers them all, once, in order.
#[tokio::test]
async fn messages_composed_offline_across_processes_arrive_once_in_order() {
    let mut server = TestServer::start_process(RELAXED).await;
    let token = server.register("writer").await;
    server.create_channel(&token, "log").await;
    let home = tempfile::tempdir().unwrap();
    login(&server, home.path(), "writer").await;
    let (ok, _, _) = parley(home.path(), &["join", "log"], None).await;
    assert!(ok);
    server.kill().await;
    for i in 0..200 {
        let text = format!("offline message {i:03}");
        let (ok, out, err) = parley(
            home.path(),
            &["--connect-timeout", "0.1s", "send", "log", &text],
            None,
        )
        .await;
        assert!(ok, "{out}{err}");
        assert!(out.starts_with("queued (offline)"), "{out}");
    }
    let (ok, out, _) = parley(
        home.path(),
        &["--connect-timeout", "0.1s", "--json", "outbox"],
        None,
    )
    .await;
    assert!(ok);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("\"kind\":\"outbox\""))
            .count(),
        200
    );
    server.start_again().await;
    let (ok, out, err) = parley(home.path(), &["history", "log", "--limit", "5"], None).await;
    assert!(ok, "{out}{err}");
    assert!(err.contains("sent 200 queued message(s)"), "{err}");
    let history = server.history(&token, "log").await;
    let texts: Vec<String> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..200)
        .map(|i| format!("offline message {i:03}"))
        .collect();
    assert_eq!(texts, expected, "exactly once, in order");
    let (ok, out, _) = parley(home.path(), &["outbox"], None).await;
    assert!(ok && out.is_empty(), "{out}");
    let _ = Duration::from_secs(0);
}

#[tokio::test]
async fn conversation_commands() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    server.register("bob").await;
    server.create_channel(&token, "team").await;
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    login(&server, alice.path(), "alice").await;
    login(&server, bob.path(), "bob").await;
    let (ok, _, _) = parley(bob.path(), &["join", "team"], None).await;
    assert!(ok);
    let (ok, _, _) = parley(alice.path(), &["send", "team", "@bob ship it?"], None).await;
    assert!(ok);
    let (ok, out, _) = parley(bob.path(), &["--json", "unread"], None).await;
    assert!(ok, "{out}");
    let team: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["state"]["channel"] == "team")
        .unwrap();
    assert_eq!(team["state"]["mentions"], 1);
    // Find the message id, then thread, react, edit, delete.
    let (_, out, _) = parley(alice.path(), &["--json", "history", "team"], None).await;
    let message: serde_json::Value = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["kind"] == "message")
        .unwrap();
    let id = message["message"]["id"].as_i64().unwrap().to_string();
    let (ok, out, err) = parley(
        bob.path(),
        &["thread", "team", &id, "--reply", "yes, go"],
        None,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("└") && out.contains("bob: yes, go"), "{out}");
    let (ok, out, _) = parley(bob.path(), &["react", "team", &id, "🚀"], None).await;
    assert!(ok && out.contains("reacted"), "{out}");
    let (ok, _, err) = parley(bob.path(), &["edit", "team", &id, "mine now"], None).await;
    assert!(!ok && err.contains("forbidden"), "{err}");
    let (ok, out, _) = parley(
        alice.path(),
        &["edit", "team", &id, "@bob ship it today?"],
        None,
    )
    .await;
    assert!(ok && out.contains("edited"), "{out}");
    let (ok, out, _) = parley(alice.path(), &["delete", "team", &id], None).await;
    assert!(ok && out.contains("deleted"), "{out}");
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&token))
        .await;
    assert_eq!(page["messages"][0]["deleted"], true);
    // A direct message, from either side the same channel.
    let (ok, out_a, _) = parley(alice.path(), &["--json", "dm", "bob"], None).await;
    assert!(ok);
    let (ok, out_b, _) = parley(bob.path(), &["--json", "dm", "alice"], None).await;
    assert!(ok);
    let name = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        v["channel"].as_str().unwrap().to_owned()
    };
    assert_eq!(name(&out_a), name(&out_b));
    let dm = name(&out_a);
    let (ok, _, _) = parley(alice.path(), &["send", &dm, "just between us"], None).await;
    assert!(ok);
    let (ok, out, _) = parley(bob.path(), &["history", &dm], None).await;
    assert!(ok && out.contains("alice: just between us"), "{out}");
    // Upload: the file goes up, then a message carrying it.
    let file = alice.path().join("notes.txt");
    std::fs::write(&file, "meeting notes\n".repeat(1000)).unwrap();
    let (ok, out, err) = parley(
        alice.path(),
        &[
            "upload",
            "team",
            file.to_str().unwrap(),
            "--text",
            "the notes",
        ],
        None,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("uploaded notes.txt (14000 bytes, text/plain)"),
        "{out}"
    );
    assert!(err.contains("uploading 100%"), "{err}");
    let (_, page) = server
        .get("/api/channels/team/messages", Some(&token))
        .await;
    assert_eq!(page["messages"][0]["text"], "the notes");
    assert_eq!(page["messages"][0]["attachments"][0]["size"], 14000);
}

/// `parley register` on a server with `accounts.registration = "invite"`: refused without an
/// invite (the server's code shown, a failing exit), admitted with an admin's invite (and able
/// to send), and the single-use code refused the second time.
#[tokio::test]
async fn register_needs_an_invite_on_an_invite_only_server() {
    let server = TestServer::builder()
        .config(RELAXED)
        .envs(&[("PARLEY_ACCOUNTS_REGISTRATION", "invite")])
        .admin_first(
            &["user", "add", "root", "--admin", "--password-stdin"],
            Some("correct horse\n"),
        )
        .start()
        .await;
    let url = server.url();
    let (status, body) = server
        .post(
            "/api/login",
            None,
            serde_json::json!({"name": "root", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let root = body["token"].as_str().unwrap().to_owned();
    server.create_channel(&root, "general").await;
    let password = format!("{PASSWORD}\n");
    let register = |user: &'static str, invite: Option<&str>| {
        let mut args = vec!["register", url.as_str(), "--user", user, "--password-stdin"];
        args.extend(invite.map(|code| ["--invite", code]).into_iter().flatten());
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let password = password.clone();
        async move {
            let home = tempfile::tempdir().unwrap();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (ok, out, err) = parley(home.path(), &args, Some(&password)).await;
            (home, ok, out, err)
        }
    };

    // No invite: refused, with the server's reason and code, and nothing kept.
    let (home, ok, out, err) = register("erin", None).await;
    assert!(!ok, "registered without an invite: {out}");
    assert!(
        err.contains("registration refused: registration on this server needs an invite code (invalid_invite)"),
        "{err}"
    );
    let (ok, _, err) = parley(home.path(), &["channels"], None).await;
    assert!(!ok, "signed in after a refused registration: {err}");

    // An admin's invite (single use, the default) admits one account.
    let (status, invite) = server
        .post("/api/invites", Some(&root), serde_json::json!({}))
        .await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["uses_left"], 1, "{invite}");
    let code = invite["code"].as_str().unwrap().to_owned();
    let (erin, ok, out, err) = register("erin", Some(&code)).await;
    assert!(ok, "register with the invite: {out}{err}");
    assert!(
        out.contains(&format!("signed in to {url} as erin")),
        "{out}"
    );
    let (ok, out, err) = parley(erin.path(), &["join", "general"], None).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) = parley(erin.path(), &["send", "general", "invited and here"], None).await;
    assert!(ok && out.starts_with("sent to general (#"), "{out}{err}");
    let history = server.history(&root, "general").await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["text"], "invited and here");
    assert_eq!(history[0]["author"]["name"], "erin", "{}", history[0]);

    // The same code again: used up.
    let (_, ok, out, err) = register("frank", Some(&code)).await;
    assert!(!ok, "a single-use invite admitted a second account: {out}");
    assert!(
        err.contains("registration refused: this invite is unknown, used up, expired or revoked (invalid_invite)"),
        "{err}"
    );
    let (status, body) = server
        .post(
            "/api/login",
            None,
            serde_json::json!({"name": "frank", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_credentials")),
        "frank has no account: {body}"
    );
}

/// The CLI's files hold a token (in the fallback) and private conversations (the cache): its
/// directories are its user's alone (0700, tightened when they exist) and the cache is 0600.
#[cfg(unix)]
#[tokio::test]
async fn the_command_lines_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let server = TestServer::start(RELAXED).await;
    server.register("alice").await;
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    login(&server, home.path(), "alice").await;
    let (ok, out, err) = parley(home.path(), &["doc", "append", "notes", "hi"], None).await;
    assert!(ok, "{out} {err}");
    assert_eq!(mode(&home.path().join("config")), 0o700);
    assert_eq!(mode(&data), 0o700, "an existing directory is tightened");
    let caches: Vec<_> = walk(&data)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
    assert_eq!(mode(&caches[0]), 0o600);
    assert_eq!(mode(caches[0].parent().unwrap()), 0o700);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `parley publish` sends custom events (JSON data from the argument or stdin, ephemeral or
/// durable) and `parley tail` shows them; bad data and bad names are refused with the reason.
#[tokio::test]
async fn custom_events_are_published_and_tailed() {
    let server = TestServer::start(RELAXED).await;
    let token = server.register("alice").await;
    server.register("bob").await;
    server.create_channel(&token, "ops").await;
    let alice = tempfile::tempdir().unwrap();
    login(&server, alice.path(), "alice").await;
    let bob = tempfile::tempdir().unwrap();
    login(&server, bob.path(), "bob").await;
    let (ok, _, _) = parley(bob.path(), &["join", "ops"], None).await;
    assert!(ok);
    let mut tail = spawn_tail(bob.path(), "ops");
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().unwrap()).lines();
    while next_json(&mut lines).await["state"]["state"] != "online" {}

    let (ok, out, err) = parley(
        alice.path(),
        &["publish", "ops", "data_update", r#"{"rows": 3}"#],
        None,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "published data_update to ops");
    let (ok, out, err) = parley(
        alice.path(),
        &["publish", "--durable", "ops", "achievement_unlocked", "-"],
        Some("{\"badge\": 7}\n"),
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("published achievement_unlocked to ops as #"),
        "{out}"
    );
    let mut custom = Vec::new();
    while custom.len() < 2 {
        let line = next_json(&mut lines).await;
        if line["kind"] == "custom" {
            custom.push(line);
        }
    }
    assert_eq!(custom[0]["event"], "data_update");
    assert_eq!(custom[0]["data"], serde_json::json!({"rows": 3}));
    assert_eq!(custom[0]["seq"], serde_json::Value::Null);
    assert_eq!(custom[0]["publisher"]["name"], "alice");
    assert_eq!(custom[1]["event"], "achievement_unlocked");
    assert!(custom[1]["seq"].as_u64().is_some(), "{}", custom[1]);
    tail.kill().await.unwrap();

    let (ok, _, err) = parley(alice.path(), &["publish", "ops", "x", "{not json"], None).await;
    assert!(!ok && err.contains("not JSON"), "{err}");
    let (ok, _, err) = parley(alice.path(), &["publish", "ops", "Bad Name"], None).await;
    assert!(!ok && err.contains("invalid_event"), "{err}");
}

/// The next line of a `--json` command's output, parsed.
async fn next_json<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
) -> serde_json::Value {
    let line = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("the command runs");
    serde_json::from_str(&line).unwrap()
}

/// `parley --json tail CHANNEL` of `home`, its output piped.
fn spawn_tail(home: &std::path::Path, channel: &str) -> tokio::process::Child {
    tokio::process::Command::new(workspace_binary("parley"))
        .args(["--json", "tail", channel])
        .env("PARLEY_HOME", home)
        .env("PARLEY_NO_KEYRING", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

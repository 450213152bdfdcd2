//! The desktop app end to end: the real app (tauri-driver + WebKitWebDriver under Xvfb, in a
//! private D-Bus session with gnome-keyring and dunst) against the real server, with the
//! `parley` CLI and parley-client as the second user. Screenshots of each step are saved in
//! `<target>/e2e-screenshots/<test>/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use parley_tests::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// The token the app left in the desktop's keyring for `account` (None: no entry).
fn keyring_token(desktop: &Desktop, account: &str) -> Option<String> {
    let out = desktop
        .command(env!("CARGO_BIN_EXE_keyring-probe"))
        .arg(account)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        Some(3) => None,
        _ => panic!("keyring-probe: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// Files among `files` that contain `secret`.
fn files_containing(files: &[std::path::PathBuf], secret: &str) -> Vec<std::path::PathBuf> {
    files
        .iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|bytes| bytes.windows(secret.len()).any(|w| w == secret.as_bytes()))
                .unwrap_or(false)
        })
        .cloned()
        .collect()
}

async fn join_and_register(app: &App, desktop: &Desktop, server: &TestServer, user: &str) {
    app.click("[data-testid=join-workspace]").await;
    app.type_into("#server-url", &server.url()).await;
    app.click("[data-testid=submit-join]").await;
    app.type_into("#username", user).await;
    app.type_into("#password", PASSWORD).await;
    desktop.screenshot_app(app, "register-form").await;
    app.click("[data-testid=register]").await;
    app.wait_text("[data-testid=current-user]", user).await;
}

async fn send(app: &App, text: &str) {
    app.type_into("[data-testid=composer]", text).await;
    app.type_into("[data-testid=composer]", ENTER).await;
}

/// Register, create a channel, chat with a CLI user, write while the server is down and see
/// it delivered once and in order, get a native notification for a mention, sign out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_offline_and_notifications() {
    let mut server = TestServer::start_process(RELAXED).await;
    let desktop = Desktop::start("chat_offline_and_notifications", DesktopOptions::default()).await;
    let app = desktop.launch().await;
    app.wait_for("[data-testid=join-workspace]").await;
    desktop.screenshot_app(&app, "first-run").await;

    join_and_register(&app, &desktop, &server, "alice").await;
    // The token is in the keyring, and in no file the app wrote.
    let account = format!("alice@{}", server.url());
    let token = keyring_token(&desktop, &account).expect("the token is in the keyring");
    assert!(token.len() >= 16, "{token}");
    let leaks = files_containing(&desktop.app_files(), &token);
    assert!(leaks.is_empty(), "the token is in files: {leaks:?}");

    // A channel, and a message in it.
    app.click("[data-testid=new-channel]").await;
    app.type_into("#new-channel-name", "general").await;
    app.click("[data-testid=create-channel]").await;
    app.wait_text("[data-testid=channel-title]", "general")
        .await;
    send(&app, "hello from the app").await;
    app.wait_until(
        "[data-testid=message][data-state=sent] [data-testid=message-text]",
        "the sent message",
        |els| els.iter().any(|(t, _)| t.contains("hello from the app")),
    )
    .await;

    // A second user, through the command line, answers.
    server.register_with_password("bob", PASSWORD).await;
    let bob = Cli::new();
    bob.run(
        &["login", &server.url(), "--user", "bob", "--password-stdin"],
        Some(PASSWORD),
    )
    .await;
    bob.run(&["join", "general"], None).await;
    bob.run(&["send", "general", "hi alice, bob here"], None)
        .await;
    app.wait_text("[data-testid=message-text]", "hi alice, bob here")
        .await;
    desktop.screenshot_app(&app, "conversation").await;
    assert_eq!(
        server.history_texts(&token, "general").await,
        ["hello from the app", "hi alice, bob here"]
    );

    // The server goes away; three messages are written meanwhile.
    server.stop().await;
    app.wait_until(
        "[data-testid=connection-banner]",
        "the offline banner",
        |els| !els.is_empty(),
    )
    .await;
    for text in [
        "first while offline",
        "second while offline",
        "third while offline",
    ] {
        send(&app, text).await;
    }
    app.wait_until(
        "[data-testid=message][data-state=pending]",
        "three pending messages",
        |els| els.len() == 3,
    )
    .await;
    app.wait_text("[data-testid=queued-count]", "3").await;
    desktop.screenshot_app(&app, "offline-three-queued").await;

    // Back: delivered once each, in order, and shown as sent.
    server.start_again().await;
    app.wait_until(
        "[data-testid=message][data-state=pending], [data-testid=message][data-state=failed]",
        "the queue to drain",
        |els| els.is_empty(),
    )
    .await;
    // On the server: each once, in order.
    let expected = [
        "hello from the app",
        "hi alice, bob here",
        "first while offline",
        "second while offline",
        "third while offline",
    ];
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let texts = server.history_texts(&token, "general").await;
        if texts.len() >= expected.len() || std::time::Instant::now() > deadline {
            assert_eq!(texts, expected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Shown as sent, once each, in this order. (Compared inside the wait: the list may be
    // re-rendered when the channel's backlog is synced, so elements found earlier can go stale.)
    app.wait_until(
        "[data-testid=message][data-state=sent] [data-testid=message-text]",
        "the five messages shown as sent, in order",
        |els| {
            els.iter()
                .map(|(t, _)| t.as_str())
                .eq(expected.iter().copied())
        },
    )
    .await;
    desktop.screenshot_app(&app, "back-online").await;

    // A mention from bob, while alice looks at another channel: a native notification.
    app.click("[data-testid=new-channel]").await;
    app.type_into("#new-channel-name", "random").await;
    app.click("[data-testid=create-channel]").await;
    app.wait_text("[data-testid=channel-title]", "random").await;
    let notifications = desktop.watch_notifications();
    notifications.ready().await;
    bob.run(&["send", "general", "@alice can you look at this?"], None)
        .await;
    let seen = notifications
        .wait_for("bob mentioned you in #general", TIMEOUT)
        .await;
    assert!(seen.contains("can you look at this?"), "{seen}");
    // The sidebar shows the mention on #general.
    app.wait_for("[data-testid=channel-item][data-channel=general] [data-testid=mention-badge]")
        .await;
    // #general is not on screen: its messages reach the UI only as the app's `activity`
    // summary, which brings the unread badge.
    app.wait_for("[data-testid=channel-item][data-channel=general] [data-testid=unread-badge]")
        .await;
    desktop.screenshot_app(&app, "mention").await;

    // A newcomer with a display name of their choosing: the notification and the message row
    // show who it is (@mallory), and the text is escaped for the notification's markup body.
    let (status, body) = server
        .post(
            "/api/register",
            None,
            json!({"name": "mallory", "password": PASSWORD, "display_name": "Alice Smith"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mallory = Cli::new();
    mallory
        .run(
            &[
                "login",
                &server.url(),
                "--user",
                "mallory",
                "--password-stdin",
            ],
            Some(PASSWORD),
        )
        .await;
    mallory.run(&["join", "general"], None).await;
    mallory
        .run(
            &["send", "general", "@alice <b>urgent</b> & <i>now</i>"],
            None,
        )
        .await;
    let seen = notifications
        .wait_for("Alice Smith (@mallory) mentioned you in #general", TIMEOUT)
        .await;
    assert!(
        seen.contains("&lt;b&gt;urgent&lt;/b&gt; &amp; &lt;i&gt;now&lt;/i&gt;"),
        "the body is not escaped markup: {seen}"
    );
    assert!(!seen.contains("<b>urgent</b>"), "{seen}");

    // Clicking it (dunst's default action) brings the window to #general.
    let clicked = desktop.command("dunstctl").arg("action").status().unwrap();
    assert!(clicked.success());
    app.wait_text("[data-testid=channel-title]", "general")
        .await;
    app.wait_text("[data-testid=message-text]", "can you look at this?")
        .await;
    let author = app
        .wait_text("[data-testid=message-author]", "@mallory")
        .await;
    assert!(author.text().await.unwrap().contains("Alice Smith"));
    desktop.screenshot_app(&app, "impersonation-visible").await;

    // The webview cannot name a file for the app to upload: only dropped files are read.
    let secret = desktop.home.path().join("secret.txt");
    std::fs::write(&secret, "private key material").unwrap();
    let refused = app
        .client
        .execute_async(
            r#"const [path, done] = arguments;
               window.__TAURI_INTERNALS__
                 .invoke('upload_path', { path, onProgress: '__CHANNEL__:1' })
                 .then((id) => done({ ok: id }), (err) => done({ err }));"#,
            vec![json!(secret.to_string_lossy())],
        )
        .await
        .unwrap();
    assert_eq!(refused["err"]["code"], "path_not_chosen", "{refused}");

    // A link in a message opens in the system's browser; the app stays where it was.
    let link = "https://example.com/parley/spec?v=2";
    bob.run(&["send", "general", &format!("the spec: {link}")], None)
        .await;
    app.click(&format!("[data-testid=message-text] a[href=\"{link}\"]"))
        .await;
    desktop.wait_link_opened(link).await;
    app.wait_text("[data-testid=channel-title]", "general")
        .await;
    app.wait_text("[data-testid=message-text]", "the spec:")
        .await;

    // A private channel: bob cannot write there until alice invites him from the app.
    app.click("[data-testid=new-channel]").await;
    app.type_into("#new-channel-name", "secret").await;
    app.click("[data-testid=new-channel-private]").await;
    app.click("[data-testid=create-channel]").await;
    app.wait_text("[data-testid=channel-title]", "secret").await;
    app.wait_text("[data-testid=channel-start]", "a private channel")
        .await;
    let refused = bob.run_failing(&["send", "secret", "let me in"]).await;
    assert!(!refused.is_empty());
    app.click("[data-testid=invite-button]").await;
    app.type_into("#invite-name", "bob").await;
    app.click("[data-testid=submit-invite]").await;
    app.wait_text("[data-testid=invite-done]", "bob was added to #secret")
        .await;
    desktop.screenshot_app(&app, "invited").await;
    bob.run(&["send", "secret", "thanks for the invite"], None)
        .await;
    app.wait_text("[data-testid=message-text]", "thanks for the invite")
        .await;

    // Signing out removes the token from the keyring.
    app.click("[data-testid=nav-settings]").await;
    app.click("[data-testid=sign-out]").await;
    app.wait_for("[data-testid=sign-in]").await;
    assert_eq!(keyring_token(&desktop, &account), None);
    desktop.screenshot_app(&app, "signed-out").await;
    app.quit().await;
}

/// The texts of the messages in the open thread panel.
const IN_THREAD: &str = "aside[aria-label=Thread] [data-testid=message-text]";

/// A conversation beyond plain messages, with the CLI user: a reaction and a thread reply reach
/// the app live, the thread opens beside the channel and its next reply appears there live (the
/// app sends an open thread's messages one by one), and search finds a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_threads_and_search() {
    let server = TestServer::start(RELAXED).await;
    let desktop = Desktop::start("reactions_threads_and_search", DesktopOptions::default()).await;
    let app = desktop.launch().await;
    app.wait_for("[data-testid=join-workspace]").await;
    join_and_register(&app, &desktop, &server, "alice").await;
    app.click("[data-testid=new-channel]").await;
    app.type_into("#new-channel-name", "general").await;
    app.click("[data-testid=create-channel]").await;
    app.wait_text("[data-testid=channel-title]", "general")
        .await;
    send(&app, "When do we ship the release?").await;
    app.wait_for("[data-testid=message][data-state=sent]").await;

    server.register_with_password("bob", PASSWORD).await;
    let bob = Cli::new();
    bob.run(
        &["login", &server.url(), "--user", "bob", "--password-stdin"],
        Some(PASSWORD),
    )
    .await;
    bob.run(&["join", "general"], None).await;
    let history = bob.run(&["--json", "history", "general"], None).await;
    let question = history
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|l| l["message"].clone())
        .find(|m| m["text"] == "When do we ship the release?")
        .unwrap_or_else(|| panic!("alice's message in bob's history: {history}"));
    let id = question["id"].as_i64().unwrap().to_string();

    // A reaction from bob appears on the message.
    bob.run(&["react", "general", &id, "👍"], None).await;
    app.wait_until(
        "[data-testid=message] .reactions .reaction",
        "bob's reaction",
        |els| els.iter().any(|(t, _)| t.contains("👍") && t.contains('1')),
    )
    .await;

    // bob answers in a thread: the message shows the thread, which opens beside the channel.
    let reply = |text: &'static str| {
        let (bob, id) = (&bob, id.clone());
        async move {
            bob.run(&["thread", "general", &id, "--reply", text], None)
                .await;
        }
    };
    reply("Friday, if the tests pass").await;
    app.click("[data-testid=message] .thread-link").await;
    app.wait_text(IN_THREAD, "Friday, if the tests pass").await;
    // The next reply arrives live in the open thread.
    reply("They pass: Friday it is").await;
    app.wait_text(IN_THREAD, "They pass: Friday it is").await;
    desktop.screenshot_app(&app, "thread").await;

    // Search (Ctrl+K) finds the channel's message.
    app.type_into(
        "[data-testid=composer]",
        &format!("{CONTROL}k{RELEASE_KEYS}"),
    )
    .await;
    app.type_into("[data-testid=search-input]", "release").await;
    app.wait_text("[data-testid=search-hit]", "release").await;
    desktop.screenshot_app(&app, "search").await;

    // A hit inside a thread opens the thread beside its channel. (Escape closes the search
    // first; the thread panel is closed, and search opened again.)
    app.type_into("[data-testid=search-input]", ESCAPE).await;
    app.wait_until("[data-testid=search-input]", "the search closed", |els| {
        els.is_empty()
    })
    .await;
    app.click("aside[aria-label=Thread] button[aria-label=\"Close the thread\"]")
        .await;
    app.wait_until("aside[aria-label=Thread]", "the thread closed", |els| {
        els.is_empty()
    })
    .await;
    app.type_into(
        "[data-testid=composer]",
        &format!("{CONTROL}k{RELEASE_KEYS}"),
    )
    .await;
    app.type_into("[data-testid=search-input]", "tests pass")
        .await;
    app.click("[data-testid=search-hit][data-channel^=\"thread#\"]")
        .await;
    app.wait_text(IN_THREAD, "Friday, if the tests pass").await;
    app.wait_text("[data-testid=channel-title]", "general")
        .await;
    app.quit().await;
}

/// Without a keyring service the app says so and keeps the session in memory only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_session_stays_in_memory() {
    let server = TestServer::start(RELAXED).await;
    let desktop = Desktop::start(
        "without_a_keyring_the_session_stays_in_memory",
        DesktopOptions {
            keyring: false,
            ..DesktopOptions::default()
        },
    )
    .await;
    let app = desktop.launch().await;
    app.wait_for("[data-testid=join-workspace]").await;
    join_and_register(&app, &desktop, &server, "carol").await;
    let notice = app.wait_for("[data-testid=keyring-notice]").await;
    let text = notice.text().await.unwrap();
    assert!(text.to_lowercase().contains("keyring"), "{text}");
    desktop.screenshot_app(&app, "no-keyring-notice").await;
    // Signed in and working, with the token nowhere on disk.
    let (status, body) = server
        .post(
            "/api/login",
            None,
            serde_json::json!({"name": "carol", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Tokens are `pl_` and 64 hex digits: no file the app wrote holds one.
    let files = desktop.app_files();
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_default();
        let holds_token = bytes
            .windows(67)
            .any(|w| w.starts_with(b"pl_") && w[3..].iter().all(u8::is_ascii_hexdigit));
        assert!(!holds_token, "{} holds a token", file.display());
    }
    app.quit().await;
}

/// Host a workspace on this computer (the bundled server), write in a document with a second
/// client editing too, comment on a selection and resolve it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_workspace_documents_and_comments() {
    let desktop = Desktop::start(
        "hosted_workspace_documents_and_comments",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    // Online: no connection banner.
    app.wait_until("[data-testid=connection-banner]", "no banner", |els| {
        els.is_empty()
    })
    .await;
    desktop.screenshot_app(&app, "hosted").await;
    let workspace = desktop.workspace_file();
    assert_eq!(workspace["hosted"], true);
    let url = workspace["server"].as_str().unwrap().to_owned();
    // The bundled server keeps its data in the app's data directory.
    assert!(desktop
        .home
        .path()
        .join("data/app.parley.desktop/server")
        .is_dir());

    // The hosted server is private: its data directory is its user's alone, and so are the
    // app's own directories.
    let server_data = desktop.home.path().join("data/app.parley.desktop/server");
    for dir in [
        server_data.clone(),
        desktop.home.path().join("data/app.parley.desktop"),
        desktop.home.path().join("config/app.parley.desktop"),
        desktop.home.path().join("data/app.parley.desktop/cache"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    // Nobody registers on it without an invite (a web page that found the port cannot make an
    // account) ...
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{url}/api/register"))
        .json(&serde_json::json!({"name": "erin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "invalid_invite", "{body}");
    // ... and a request naming another host (DNS rebinding) is refused.
    let response = http
        .get(format!("{url}/healthz"))
        .header("Host", "rebind.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "host_not_allowed", "{body}");

    // A second person gets an account from the administrator (Settings, "Add a person": the
    // server's admin command on the workspace's data) and joins with parley-client.
    app.click("[data-testid=nav-settings]").await;
    app.type_into("#add-person-name", "erin smith").await;
    app.type_into("#add-person-password", PASSWORD).await;
    app.click("[data-testid=add-person]").await;
    app.wait_text("[data-testid=add-person-error]", "User names are")
        .await;
    app.find("#add-person-name").await.clear().await.unwrap();
    app.type_into("#add-person-name", "erin").await;
    app.click("[data-testid=add-person]").await;
    app.wait_text("[data-testid=add-person-done]", "erin can now sign in")
        .await;
    desktop.screenshot_app(&app, "person-added").await;
    app.type_into("#add-person-name", ESCAPE).await;
    app.wait_until("#add-person-name", "the settings closed", |els| {
        els.is_empty()
    })
    .await;
    let body: serde_json::Value = http
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"name": "erin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let erin_token = body["token"].as_str().expect("signed in").to_owned();
    let cache = tempfile::tempdir().unwrap();
    let erin = parley_client::Client::start(parley_client::ClientConfig::new(
        &url,
        &erin_token,
        cache.path().join("cache.sqlite"),
    ))
    .unwrap();
    erin.wait_online(TIMEOUT).await.unwrap();

    // A new document, typed into.
    app.click("[data-testid=nav-docs]").await;
    app.click("[data-testid=new-doc]").await;
    app.type_into("#new-doc-name", "plan").await;
    app.type_into("#new-doc-title", "The plan").await;
    app.click("[data-testid=create-doc]").await;
    app.wait_for("[data-testid=doc-sync-state][data-connected=true]")
        .await;
    app.click(".ProseMirror").await;
    app.type_into(".ProseMirror", "Ship the desktop app").await;

    let replica = erin.open_doc("plan").await.unwrap();
    // Awareness from now on (the server sends the current states to a new connection).
    let mut events = replica.events();
    let fragment = replica.doc().get_or_insert_xml_fragment("default");
    let read = |replica: &parley_client::DocReplica| {
        use yrs::{GetString, Transact};
        let txn = replica.doc().transact();
        fragment.get_string(&txn)
    };
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !read(&replica).contains("Ship the desktop app") {
        assert!(
            std::time::Instant::now() < deadline,
            "the second client never saw the text: {:?}",
            read(&replica)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The app's cursor and name reach the other client (awareness through the bridge).
    let named = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(parley_client::docs::ReplicaEvent::Awareness(bytes)) = events.recv().await {
                if String::from_utf8_lossy(&bytes).contains("dana") {
                    return;
                }
            }
        }
    })
    .await;
    assert!(named.is_ok(), "no awareness from the app naming dana");

    // The second client writes a paragraph; the app shows it.
    {
        use yrs::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
        let fragment = fragment.clone();
        replica
            .edit(move |txn| {
                let paragraph = fragment.push_back(txn, XmlElementPrelim::empty("paragraph"));
                paragraph.push_back(txn, XmlTextPrelim::new("Erin agrees"));
            })
            .await
            .unwrap();
    }
    app.wait_text(".ProseMirror", "Erin agrees").await;
    desktop.screenshot_app(&app, "document-two-writers").await;

    // Select the first line and comment on it.
    let editor = app.find(".ProseMirror p").await;
    editor.click().await.unwrap();
    app.client
        .execute(
            r#"const p = document.querySelector('.ProseMirror p');
               const range = document.createRange();
               range.selectNodeContents(p);
               const sel = window.getSelection();
               sel.removeAllRanges();
               sel.addRange(range);
               document.dispatchEvent(new Event('selectionchange'));"#,
            vec![],
        )
        .await
        .unwrap();
    app.click("[data-testid=add-comment]").await;
    app.type_into("#comment-body", "Which version?").await;
    app.click("[data-testid=submit-comment]").await;
    let comment = app
        .wait_text(
            "[data-testid=comment] [data-testid=comment-body]",
            "Which version?",
        )
        .await;
    drop(comment);
    // Confirmed by the server, and its text highlighted in the editor.
    app.wait_for("[data-testid=comment][data-comment-id]").await;
    app.wait_text(".ProseMirror .comment-highlight", "Ship the desktop app")
        .await;
    desktop.screenshot_app(&app, "comment").await;
    let comments: serde_json::Value = doc_comments(&http, &url, &erin_token).await;
    let list = comments["comments"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{comments}");
    assert_eq!(list[0]["body"], "Which version?");
    assert_eq!(list[0]["author"]["name"], "dana");
    assert!(list[0]["anchor"].is_object(), "{comments}");
    assert!(
        list[0]["quote"]
            .as_str()
            .unwrap_or_default()
            .contains("Ship"),
        "{comments}"
    );

    // Edit it (one's own comment): the server has the new text.
    app.click("[data-testid=comment-thread] [data-testid=edit-comment]")
        .await;
    let edit = app.wait_for("[data-testid=edit-comment-body]").await;
    edit.clear().await.unwrap();
    edit.send_keys("Which version, 2 or 3?").await.unwrap();
    app.click("[data-testid=save-comment]").await;
    app.wait_text("[data-testid=comment-body]", "Which version, 2 or 3?")
        .await;
    let comments: serde_json::Value = doc_comments(&http, &url, &erin_token).await;
    assert_eq!(
        comments["comments"][0]["body"], "Which version, 2 or 3?",
        "{comments}"
    );

    // Resolve it.
    app.click("[data-testid=comment-thread] [data-testid=resolve-comment]")
        .await;
    app.wait_for("[data-testid=comment][data-resolved=true]")
        .await;
    let comments: serde_json::Value = doc_comments(&http, &url, &erin_token).await;
    assert_eq!(comments["comments"][0]["resolved"], true, "{comments}");
    desktop.screenshot_app(&app, "resolved").await;

    // Delete it: gone from the app and from the server.
    app.click("[data-testid=comment-thread] [data-testid=delete-comment]")
        .await;
    app.click("[data-testid=confirm-delete-comment]").await;
    app.wait_until("[data-testid=comment-thread]", "no comment left", |els| {
        els.is_empty()
    })
    .await;
    let comments: serde_json::Value = doc_comments(&http, &url, &erin_token).await;
    assert_eq!(comments["comments"], serde_json::json!([]), "{comments}");

    // Delete the document (dana created it): gone from the list and from the server.
    app.click("[data-testid=delete-doc]").await;
    app.click("[data-testid=confirm-delete-doc]").await;
    app.wait_until("[data-testid=doc-item]", "no document left", |els| {
        els.is_empty()
    })
    .await;
    let status = http
        .get(format!("{url}/api/docs/plan"))
        .bearer_auth(&erin_token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);

    // A document open in the editor is deleted by someone else (dana, signed in elsewhere):
    // the editor says so and stops; the server does not get it back.
    let dana: serde_json::Value = http
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"name": "dana", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dana_token = dana["token"].as_str().expect("signed in").to_owned();
    app.click("[data-testid=new-doc]").await;
    app.type_into("#new-doc-name", "draft").await;
    app.click("[data-testid=create-doc]").await;
    app.wait_for("[data-testid=doc-sync-state][data-connected=true]")
        .await;
    app.click(".ProseMirror").await;
    app.type_into(".ProseMirror", "Private draft").await;
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let content: serde_json::Value = http
            .get(format!("{url}/api/docs/draft/content"))
            .bearer_auth(&dana_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if content.to_string().contains("Private draft") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the draft never synced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = http
        .delete(format!("{url}/api/docs/draft"))
        .bearer_auth(&dana_token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
    app.wait_for("[data-testid=doc-gone][data-reason=deleted]")
        .await;
    app.wait_for("[data-testid=doc-sync-state][data-connected=false]")
        .await;
    app.wait_until(
        "[data-testid=doc-item]",
        "the deleted draft gone from the list",
        |els| els.is_empty(),
    )
    .await;
    desktop
        .screenshot_app(&app, "document-deleted-elsewhere")
        .await;
    let status = http
        .get(format!("{url}/api/docs/draft"))
        .bearer_auth(&dana_token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404, "the deleted document came back");

    // Launched again (a second click on the launcher): the new process hands over to the
    // running app and exits; no second server starts on the same data.
    let servers_on_data = || servers_on(&server_data).len();
    assert_eq!(servers_on_data(), 1);
    let mut second = desktop
        .command(workspace_binary("parley-app"))
        .env("NO_AT_BRIDGE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < TIMEOUT,
            "a second launch did not hand over and exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    assert_eq!(servers_on_data(), 1);
    app.wait_text("[data-testid=current-user]", "dana").await;
    erin.shutdown();
    app.quit().await;
}

/// The comments of the document `plan`, from the server's HTTP API.
async fn doc_comments(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    http.get(format!("{url}/api/docs/plan/comments"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

//! The browser side, in headless Chromium (chromedriver + fantoccini) against the real server:
//! the built SDK loaded by a page the server serves under its strict CSP, resuming through cut
//! connections and a restart; and the web app (the UI built for the browser, served at `/`):
//! sign in, history, live messages both ways with the command line, a reaction, a session that
//! survives a reload, and a document co-edited with a stock Yjs client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, time::Duration};

use parley_testkit::{unique, Proxy, PASSWORD};
use parley_tests::{
    browser::Browser, node::NodeDriver, wait_until_async, App, Cli, TestServer, ENTER, RELAXED,
    TIMEOUT,
};
use serde_json::{json, Value};

fn repo() -> PathBuf {
    // As cargo gives it when the test runs (a reused build carries its old path in `env!`).
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from)
        .join("..")
}

/// Copies a directory's files (recursively) into another.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `script` in the page and returns its value.
async fn eval(app: &App, script: &str) -> Value {
    app.client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("{script}: {e}"))
}

async fn wait_js(app: &App, what: &str, script: &str) -> Value {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let value = eval(app, script).await;
        if !value.is_null() && value != json!(false) {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_built_sdk_in_chromium_resumes_through_cuts_and_a_restart() {
    let sdk = repo().join("sdk/js/dist/index.js");
    assert!(
        sdk.exists(),
        "build the SDK first: npm run build in sdk/js (scripts/test.sh does)"
    );
    // The page and the built SDK, served by the server itself (`web.dir`) under its CSP.
    let site = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("sdk/js/test/browser"), site.path());
    copy_dir(&repo().join("sdk/js/dist"), &site.path().join("sdk"));
    let config = format!(
        "{RELAXED}\n[web]\ndir = {:?}\n",
        site.path().display().to_string()
    );
    let mut server = TestServer::start(&config).await;
    let alice = server.register(&unique("alice")).await;
    let bob = server.register(&unique("bob")).await;
    let channel = unique("room");
    server.create_channel(&alice, &channel).await;
    let (status, body) = server
        .post(
            &format!("/api/channels/{channel}/join"),
            Some(&bob),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.post_message(&bob, &channel, "before the page").await;

    // Through a proxy that can cut every connection: the page's origin is the proxy's.
    let proxy = Proxy::start(server.port()).await;
    let browser = Browser::start("sdk_in_chromium").await;
    let page = browser
        .open(&format!("{}/#channel={channel}&token={alice}", proxy.url()))
        .await;
    wait_js(
        &page,
        "the page to connect",
        "return document.body.dataset.ready === 'true' || document.body.dataset.error || null",
    )
    .await;
    assert_eq!(
        eval(&page, "return document.body.dataset.ready ?? null").await,
        json!("true"),
        "{}",
        eval(&page, "return document.body.dataset.error ?? null").await
    );

    let count = "return document.querySelectorAll('#messages li').length";
    for n in 0..5 {
        server
            .post_message(&bob, &channel, &format!("bob-{n}"))
            .await;
    }
    eval(&page, "window.page.sendMany('web-a-', 5); return null").await;
    proxy.cut();
    for n in 5..10 {
        server
            .post_message(&bob, &channel, &format!("bob-{n}"))
            .await;
    }
    eval(&page, "window.page.sendMany('web-b-', 5); return null").await;
    wait_js(&page, "20 messages", &format!("{count} >= 20 || null")).await;
    server.restart().await;
    for n in 10..15 {
        server
            .post_message(&bob, &channel, &format!("bob-{n}"))
            .await;
    }
    eval(&page, "window.page.sendMany('web-c-', 5); return null").await;
    let acks = wait_js(
        &page,
        "acknowledgements",
        "return window.page.acknowledged()",
    )
    .await;
    for send in acks.as_array().unwrap() {
        assert!(
            send["error"].is_null(),
            "a send failed in the browser: {send}"
        );
    }
    wait_js(&page, "30 messages", &format!("{count} >= 30 || null")).await;
    browser.screenshot(&page, "sdk-page").await;

    let shown: Vec<String> = serde_json::from_value(
        eval(
            &page,
            "return [...document.querySelectorAll('#messages li')].map(li => li.textContent)",
        )
        .await,
    )
    .unwrap();
    let stored = server.history_texts(&alice, &channel).await;
    // The page followed from its subscribe on: everything after "before the page", once, in order.
    assert_eq!(stored.first().map(String::as_str), Some("before the page"));
    assert_eq!(
        shown,
        stored[1..].to_vec(),
        "the browser saw exactly what was stored"
    );
    assert_eq!(stored.len(), 31, "{stored:?}");
    assert_eq!(
        eval(&page, "return document.body.dataset.state").await,
        json!("open")
    );
    // Through reconnects, not one lucky connection.
    let states = eval(&page, "return window.page.states").await;
    assert!(
        states
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| *s == "reconnecting")
            .count()
            >= 2,
        "{states}"
    );
    page.quit().await;
}

/// One stock Yjs client (yjs + y-websocket under Node, tests/interop/yclient.mjs).
struct YClient;

impl YClient {
    async fn spawn() -> NodeDriver {
        NodeDriver::spawn(&repo().join("tests/interop"), "yclient.mjs", false)
    }
}

#[tokio::test]
async fn the_web_app_in_chromium_signs_in_chats_reacts_and_co_edits() {
    let index = repo().join("ui/dist-web/index.html");
    assert!(
        index.exists(),
        "build the web app first: npm run build:web in ui/ (scripts/test.sh does)"
    );
    let server = TestServer::start(RELAXED).await;
    let alice = unique("alice");
    let alice_token = server.register(&alice).await;
    let bob = unique("bob");
    server.register(&bob).await;
    let channel = unique("team");
    server.create_channel(&alice_token, &channel).await;
    let side = unique("side");
    server.create_channel(&alice_token, &side).await;
    let lounge = unique("lounge");
    let (status, body) = server
        .post(
            "/api/channels",
            Some(&alice_token),
            json!({"channel": lounge, "presence": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // bob, on the command line, joins and says something before alice opens the web app.
    let cli = Cli::new();
    cli.run(
        &["login", &server.url(), "--user", &bob, "--password-stdin"],
        Some(PASSWORD),
    )
    .await;
    cli.run(&["join", &channel], None).await;
    cli.run(&["join", &side], None).await;
    cli.run(
        &["send", &channel, "Morning! The agenda is in the doc."],
        None,
    )
    .await;

    // The web app, from the server's own address: sign in, staying signed in.
    let browser = Browser::start("web_app_in_chromium").await;
    let app = browser.open(&server.url()).await;
    app.type_into("#username", &alice).await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=stay-signed-in]").await;
    browser.screenshot(&app, "sign-in").await;
    app.click("[data-testid=sign-in]").await;
    app.wait_text("[data-testid=current-user]", &alice).await;
    // The token is in an HttpOnly cookie, not in the page's storage.
    let storage = eval(
        &app,
        "return JSON.stringify({...sessionStorage, ...localStorage}) + document.cookie",
    )
    .await;
    assert!(
        !storage.as_str().unwrap().contains("pl_"),
        "a token in script-readable storage: {storage}"
    );

    // History.
    app.click(&format!(
        "[data-testid=channel-item][data-channel=\"{channel}\"]"
    ))
    .await;
    app.wait_text("[data-testid=message-text]", "The agenda is in the doc")
        .await;
    // Live: a message from the command line arrives.
    cli.run(&["send", &channel, "Sent from the terminal"], None)
        .await;
    app.wait_text("[data-testid=message-text]", "Sent from the terminal")
        .await;
    // Alice answers from the browser; bob's command line reads it.
    app.type_into("[data-testid=composer]", "Answered from the browser")
        .await;
    app.type_into("[data-testid=composer]", ENTER).await;
    app.wait_text(
        "[data-testid=message][data-state=sent]",
        "Answered from the browser",
    )
    .await;
    let history = cli.run(&["--json", "history", &channel], None).await;
    let answer = history
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| l["message"].clone())
        .find(|m| m["text"] == "Answered from the browser")
        .unwrap_or_else(|| panic!("alice's message in bob's history: {history}"));
    assert_eq!(answer["author"]["name"], json!(alice));

    // A reaction on bob's message, from the toolbar's picker.
    eval(
        &app,
        "const row = [...document.querySelectorAll('[data-testid=message]')].find(m => m.textContent.includes('Sent from the terminal'));\
         row.querySelector('[aria-label=\"Add reaction\"]').click(); return null",
    )
    .await;
    let emoji = app
        .wait_for("[aria-label=\"Pick a reaction\"] button.emoji")
        .await;
    let picked = emoji.text().await.unwrap();
    emoji.click().await.unwrap();
    app.wait_until(
        "[data-testid=message] .reactions .reaction",
        "the reaction",
        |els| {
            els.iter()
                .any(|(t, _)| t.contains(&picked) && t.contains('1'))
        },
    )
    .await;
    let stored = server.history(&alice_token, &channel).await;
    let reacted = stored
        .iter()
        .find(|m| m["text"] == "Sent from the terminal")
        .unwrap();
    assert_eq!(reacted["reactions"][0]["emoji"], json!(picked), "{reacted}");
    browser.screenshot(&app, "conversation").await;

    // A mention elsewhere notifies through the Web Notifications API (allowed in this
    // browser's profile; recorded by wrapping the page's Notification), and a click on the
    // notification opens that channel.
    eval(
        &app,
        "const Real = window.Notification; window.notes = [];\
         window.Notification = class extends Real { constructor(title, options) { super(title, options); window.notes.push({title, body: options && options.body, n: this}); } };\
         Object.defineProperty(window.Notification, 'permission', { get: () => Real.permission });\
         return Real.permission",
    )
    .await;
    cli.run(
        &[
            "send",
            &side,
            &format!("@{alice} can you check the numbers?"),
        ],
        None,
    )
    .await;
    let notes = wait_js(&app, "a notification", "return window.notes.length ? window.notes.map(n => ({title: n.title, body: n.body})) : null").await;
    assert_eq!(
        notes[0]["title"],
        json!(format!("{bob} mentioned you in #{side}")),
        "{notes}"
    );
    assert_eq!(
        notes[0]["body"],
        json!(format!("@{alice} can you check the numbers?"))
    );
    eval(&app, "window.notes[0].n.onclick(); return null").await;
    app.wait_text("[data-testid=channel-title]", &side).await;
    app.wait_text("[data-testid=message-text]", "can you check the numbers?")
        .await;

    // A reload keeps the session (the cookie), and the conversation is still there.
    app.client.refresh().await.unwrap();
    app.wait_text("[data-testid=current-user]", &alice).await;

    // A document, co-edited with a stock Yjs client.
    app.click("[data-testid=nav-docs]").await;
    app.click("[data-testid=new-doc]").await;
    app.type_into("#new-doc-name", "agenda").await;
    app.click("[data-testid=create-doc]").await;
    app.wait_for("[data-testid=doc-sync-state][data-connected=true]")
        .await;
    app.click(".ProseMirror").await;
    app.type_into(".ProseMirror", "Typed in the browser").await;
    let bob_token = server.login(&bob, PASSWORD).await;
    let mut yjs = YClient::spawn().await;
    yjs.ok(json!({
        "cmd": "connect",
        "url": format!("ws://{}/docs", server.addr()),
        "room": "agenda",
        "params": {"token": bob_token},
    }))
    .await;
    yjs.ok(
        json!({"cmd": "wait_xml_contains", "text": "Typed in the browser", "timeout_ms": 20000}),
    )
    .await;
    yjs.ok(json!({"cmd": "xml_append", "text": "Written by a stock Yjs client"}))
        .await;
    app.wait_text(".ProseMirror", "Written by a stock Yjs client")
        .await;
    browser.screenshot(&app, "document-two-writers").await;
    // The server holds both.
    wait_until_async("the document's two paragraphs on the server", || async {
        let (status, body) = server
            .get("/api/docs/agenda/content", Some(&alice_token))
            .await;
        let text = body.to_string();
        status == 200
            && text.contains("Typed in the browser")
            && text.contains("Written by a stock Yjs client")
    })
    .await;

    // Alice says she is away, with a text, for an hour: bob sees it in a presence channel.
    app.click("[data-testid=my-status]").await;
    app.click("[data-testid=status-away]").await;
    app.type_into("#status-text", "In a meeting").await;
    app.click("[data-testid=save-status]").await;
    app.wait_for("[data-testid=my-status][data-status=away]")
        .await;
    let mut watcher = server.connect(Some(&bob_token)).await;
    watcher
        .ok(json!({"type": "channel_join", "channel": lounge}))
        .await;
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let list = watcher
            .ok(json!({"type": "presence_list", "channel": lounge}))
            .await;
        let away = list["presence"].as_array().unwrap().iter().any(|p| {
            p["user"]["name"] == json!(alice)
                && p["status"] == "away"
                && p["status_text"] == "In a meeting"
        });
        if away {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "alice never showed as away to bob: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.screenshot(&app, "status-away").await;

    // The channel's people: members with roles; then alice leaves one channel and deletes
    // another for everyone.
    app.click(&format!(
        "[data-testid=channel-item][data-channel=\"{channel}\"]"
    ))
    .await;
    app.click("button[aria-label^=\"Members (\"]").await;
    app.wait_for(&format!("[data-testid=member][data-user=\"{bob}\"]"))
        .await;
    app.wait_text(
        &format!("[data-testid=member][data-user=\"{alice}\"]"),
        "admin",
    )
    .await;
    browser.screenshot(&app, "members").await;
    app.click("[data-testid=leave-channel]").await;
    app.wait_until(
        "[data-testid=channel-title]",
        "another channel on screen",
        |els| els.iter().all(|(t, _)| !t.contains(&channel)),
    )
    .await;
    app.click(&format!(
        "[data-testid=channel-item][data-channel=\"{side}\"]"
    ))
    .await;
    app.click("button[aria-label^=\"Members (\"]").await;
    app.click("[data-testid=delete-channel]").await;
    app.click("[data-testid=confirm-delete-channel]").await;
    app.wait_until(
        "[data-testid=channel-item]",
        "the deleted channel gone",
        |els| els.iter().all(|(t, _)| !t.contains(&side)),
    )
    .await;
    let (status, list) = server.get("/api/channels", Some(&alice_token)).await;
    assert_eq!(status, 200, "{list}");
    let listed = list["channels"].as_array().unwrap();
    assert!(!listed.iter().any(|c| c["name"] == json!(side)), "{list}");
    let team = listed.iter().find(|c| c["name"] == json!(channel)).unwrap();
    assert_eq!(team["member"], false, "{team}");
    app.quit().await;
}

/// The keys WebDriver sends for Shift, Up, Down and Tab.
const SHIFT: &str = "\u{E008}";
const UP: &str = "\u{E013}";
const TAB: &str = "\u{E004}";

/// The element that has focus: its `data-testid` (or tag) and text.
async fn focused(app: &App) -> Value {
    eval(
        app,
        "const e = document.activeElement; return {id: e.getAttribute('data-testid') || e.tagName, text: e.textContent.slice(0, 200), label: e.getAttribute('aria-label')}",
    )
    .await
}

#[tokio::test]
async fn the_web_app_works_from_the_keyboard_alone() {
    let server = TestServer::start(RELAXED).await;
    let alice = unique("alice");
    let token = server.register(&alice).await;
    let channel = unique("keys");
    server.create_channel(&token, &channel).await;
    for text in ["first of all", "then this", "and finally this"] {
        server.post_message(&token, &channel, text).await;
    }
    let browser = Browser::start("web_app_from_the_keyboard").await;
    let app = browser.open(&server.url()).await;
    // Sign in by typing and Enter.
    app.type_into("#username", &alice).await;
    app.type_into("#password", PASSWORD).await;
    app.type_into("#password", ENTER).await;
    app.wait_text("[data-testid=current-user]", &alice).await;
    app.click(&format!(
        "[data-testid=channel-item][data-channel=\"{channel}\"]"
    ))
    .await;
    app.wait_text("[data-testid=message-text]", "and finally this")
        .await;

    // From the composer, Shift+Tab (past the composer's buttons) reaches the timeline: one
    // message takes focus, the newest; Up moves to an older one.
    let composer = app.wait_for("[data-testid=composer]").await;
    composer.click().await.unwrap();
    let mut presses = 0;
    loop {
        let here = focused(&app).await;
        if here["id"] == "message" || here["id"] == "message-list" {
            break;
        }
        presses += 1;
        assert!(presses <= 6, "Shift+Tab never reached the timeline: {here}");
        app.client
            .active_element()
            .await
            .unwrap()
            .send_keys(&format!("{SHIFT}{TAB}{}", parley_tests::RELEASE_KEYS))
            .await
            .unwrap();
    }
    let list = app.client.active_element().await.unwrap();
    list.send_keys(UP).await.unwrap();
    if focused(&app).await["text"]
        .as_str()
        .unwrap_or("")
        .contains("and finally this")
    {
        // The list itself had focus: the first Up entered at the newest message.
        app.client
            .active_element()
            .await
            .unwrap()
            .send_keys(UP)
            .await
            .unwrap();
    }
    let row = focused(&app).await;
    assert_eq!(row["id"], "message", "{row}");
    assert!(row["text"].as_str().unwrap().contains("then this"), "{row}");

    // R on the focused message: the picker, its search field focused; a name and Enter react.
    app.client
        .active_element()
        .await
        .unwrap()
        .send_keys("r")
        .await
        .unwrap();
    app.wait_for("[aria-label=\"Pick a reaction\"]").await;
    let search = focused(&app).await;
    assert_eq!(search["label"], "Search emoji", "{search}");
    let field = app.client.active_element().await.unwrap();
    field.send_keys("thumbs up").await.unwrap();
    field.send_keys(ENTER).await.unwrap();
    app.wait_until(
        "[data-testid=message] .reactions .reaction",
        "the reaction",
        |els| els.iter().any(|(t, _)| t.contains('👍')),
    )
    .await;
    let stored = server.history(&token, &channel).await;
    let reacted = stored.iter().find(|m| m["text"] == "then this").unwrap();
    assert_eq!(reacted["reactions"][0]["emoji"], "👍", "{reacted}");

    // Ctrl+/ opens the shortcuts; Escape closes it.
    let body = app.client.active_element().await.unwrap();
    body.send_keys(&format!(
        "{}/{}",
        parley_tests::CONTROL,
        parley_tests::RELEASE_KEYS
    ))
    .await
    .unwrap();
    app.wait_for("[data-testid=shortcuts-help]").await;
    browser.screenshot(&app, "shortcuts").await;
    app.client
        .active_element()
        .await
        .unwrap()
        .send_keys(parley_tests::ESCAPE)
        .await
        .unwrap();
    app.wait_until("[data-testid=shortcuts-help]", "the help closed", |els| {
        els.is_empty()
    })
    .await;
    app.quit().await;
}

#[tokio::test]
async fn the_web_app_posts_a_pasted_image() {
    let server = TestServer::start(RELAXED).await;
    let alice = unique("alice");
    let token = server.register(&alice).await;
    let channel = unique("pics");
    server.create_channel(&token, &channel).await;
    let browser = Browser::start("web_app_pasted_image").await;
    let app = browser.open(&server.url()).await;
    app.type_into("#username", &alice).await;
    app.type_into("#password", PASSWORD).await;
    app.type_into("#password", ENTER).await;
    app.click(&format!(
        "[data-testid=channel-item][data-channel=\"{channel}\"]"
    ))
    .await;
    app.wait_for("[data-testid=composer]").await;

    // A screenshot on the clipboard, pasted into the composer: a PNG drawn on a canvas, in a
    // paste event's clipboard data, as the browser hands one over.
    app.client
        .execute_async(&parley_tests::paste_image_script("#d33"), vec![])
        .await
        .unwrap();
    // It uploads as an attachment of the message being written (the usual row, its progress).
    app.wait_until(
        "ul[aria-label=Attachments] .upload-name",
        "the pasted image",
        |els| els.iter().any(|(t, _)| t.starts_with("Pasted image")),
    )
    .await;
    app.type_into("[data-testid=composer]", "the red one").await;
    app.type_into("[data-testid=composer]", ENTER).await;
    // Posted with the message: the server has it, and the timeline shows its thumbnail.
    app.wait_text("[data-testid=message-text]", "the red one")
        .await;
    app.wait_for("[data-testid=message] img[alt^=\"Pasted image\"]")
        .await;
    browser.screenshot(&app, "pasted-image").await;
    let stored = server.history(&token, &channel).await;
    let posted = stored.iter().find(|m| m["text"] == "the red one").unwrap();
    let attachment = &posted["attachments"][0];
    assert!(
        attachment["name"]
            .as_str()
            .unwrap()
            .starts_with("Pasted image"),
        "{posted}"
    );
    assert_eq!(attachment["mime"], "image/png", "{posted}");
    assert_eq!(attachment["width"], 120, "{posted}");
    app.quit().await;
}

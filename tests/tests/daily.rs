//! Using the app all day: closing the window keeps Parley in the tray (where the desktop has
//! one) and starting at login writes an XDG autostart entry; a channel's topic is edited from
//! its header and follows someone else's change live. The real app under tauri-driver in a
//! private desktop, as in `app.rs`; the window manager's close request and the tray host are
//! played by the test (`parley_tests::windows`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_client::HttpApi;
use parley_protocol::api;
use parley_tests::{tray::TrayHost, windows::*, *};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// Waits until the topic in the channel's header says `text` (its `textContent`: WebKit's
/// WebDriver reports no visible text for the one-line, ellipsized topic).
async fn wait_topic(app: &App, text: &str) {
    let script = "const e = document.querySelector('[data-testid=channel-topic]'); \
                  return e ? e.textContent : null;";
    let mut seen = serde_json::Value::Null;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        seen = app.client.execute(script, vec![]).await.unwrap();
        if seen.as_str() == Some(text) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the topic is not {text:?}: {seen}");
}

async fn token(server: &str, name: &str) -> String {
    let session = HttpApi::new(server)
        .unwrap()
        .login(&api::Credentials {
            name: name.into(),
            password: PASSWORD.into(),
            display_name: None,
            device: None,
            invite: None,
        })
        .await
        .unwrap();
    session.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_window_keeps_parley_in_the_tray_and_it_can_start_at_login() {
    let desktop = Desktop::start(
        "closing_the_window_keeps_parley_in_the_tray",
        DesktopOptions::default(),
    )
    .await;
    // A desktop that shows tray icons, before the app looks for one.
    let _tray = TrayHost::start(&desktop.dbus);
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let pid = app_pid(&desktop).expect("the app runs");

    // The settings say what closing does, and start at login writes its entry.
    app.click("[data-testid=nav-settings]").await;
    let close_to_tray = app.wait_for("[data-testid=close-to-tray]").await;
    assert_eq!(
        close_to_tray.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    assert_eq!(
        close_to_tray.prop("disabled").await.unwrap().as_deref(),
        Some("false")
    );
    let entry = desktop.home.path().join("config/autostart/parley.desktop");
    assert!(!entry.exists());
    app.click("[data-testid=start-at-login]").await;
    wait_until("the autostart entry is written", || entry.is_file()).await;
    let text = std::fs::read_to_string(&entry).unwrap();
    let exe = workspace_binary("parley-app");
    assert!(
        text.contains(&format!("\nExec=\"{}\" --hidden\n", exe.display())),
        "{text}"
    );
    desktop.screenshot_app(&app, "settings-background").await;

    // The window manager's close button: the window goes, Parley stays.
    let window = *windows_titled(&desktop.display, "Parley")
        .first()
        .expect("the app's window");
    assert!(is_viewable(&desktop.display, window));
    request_close(&desktop.display, window);
    wait_until("the window is hidden", || {
        !is_viewable(&desktop.display, window)
    })
    .await;
    assert!(alive(pid), "closing the window did not quit");
    desktop.screenshot("closed-to-tray");
    // Still signed in and connected: the page answers.
    app.wait_for("[data-testid=current-user]").await;

    // Launching Parley again brings the running one forward and ends at once.
    let status = desktop
        .command(&exe)
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "the second launch: {status}");
    wait_until("the window is shown again", || {
        is_viewable(&desktop.display, window)
    })
    .await;
    assert_eq!(app_pid(&desktop), Some(pid), "one Parley, the same one");
    desktop.screenshot_app(&app, "shown-again").await;

    // Start at login off removes the entry; close to tray off makes closing quit.
    app.click("[data-testid=start-at-login]").await;
    wait_until("the autostart entry is removed", || !entry.exists()).await;
    app.click("[data-testid=close-to-tray]").await;
    desktop.wait_setting("close_to_tray", json!(false)).await;
    request_close(&desktop.display, window);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while windows_titled(&desktop.display, "Parley").contains(&window) {
        if std::time::Instant::now() > deadline {
            desktop.screenshot("not-closed");
            panic!(
                "the window is not closed (viewable: {})",
                is_viewable(&desktop.display, window)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    wait_until("closing quits Parley now", || !alive(pid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_topic_is_edited_in_the_app_and_follows_others_live() {
    let desktop = Desktop::start(
        "a_channel_topic_is_edited_in_the_app",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.click("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();

    // Edited with the keyboard from the header: Enter saves.
    app.click("[data-testid=edit-topic]").await;
    let input = app.wait_for("[data-testid=topic-input]").await;
    input.clear().await.unwrap();
    input
        .send_keys(&format!("Launch on Friday{ENTER}"))
        .await
        .unwrap();
    wait_topic(&app, "Launch on Friday").await;
    desktop.screenshot_app(&app, "topic-set").await;

    // The server has it, and another session's change shows here live.
    let token = token(&server, "dana").await;
    let ws = format!("{}/ws", server.replacen("http://", "ws://", 1));
    let mut other = parley_testkit::WsClient::connect(&ws, Some(&token)).await;
    let list = other.ok(json!({"type": "channel_list"})).await;
    let general = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "general")
        .unwrap()
        .clone();
    assert_eq!(general["topic"], "Launch on Friday");
    other
        .ok(json!({"type": "channel_update", "channel": "general", "topic": "Moved to Monday"}))
        .await;
    wait_topic(&app, "Moved to Monday").await;

    // Escape cancels and keeps the topic as it was.
    app.click("[data-testid=edit-topic]").await;
    let input = app.wait_for("[data-testid=topic-input]").await;
    input
        .send_keys(&format!(" and more{ESCAPE}"))
        .await
        .unwrap();
    wait_topic(&app, "Moved to Monday").await;
    desktop.screenshot_app(&app, "topic-live").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_version_is_saved_viewed_and_restored_as_a_new_edit() {
    let desktop = Desktop::start(
        "a_document_version_is_saved_viewed_and_restored",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = HttpApi::new(&server)
        .unwrap()
        .with_token(&token(&server, "dana").await);
    let server_text = || async {
        http.doc_content("plan")
            .await
            .map(|c| c.text.values().cloned().collect::<String>())
            .unwrap_or_default()
    };

    app.click("[data-testid=nav-docs]").await;
    app.click("[data-testid=new-doc]").await;
    app.type_into("#new-doc-name", "plan").await;
    app.click("[data-testid=create-doc]").await;
    app.wait_for("[data-testid=doc-sync-state][data-connected=true]")
        .await;
    app.click(".ProseMirror").await;
    app.type_into(".ProseMirror", "First draft").await;
    wait_until_async("the server has the first draft", || async {
        server_text().await.contains("First draft")
    })
    .await;

    // Saved under a name, from the header's Versions dialog.
    app.click("[data-testid=doc-versions-button]").await;
    app.type_into("[data-testid=save-version-name]", "Before review")
        .await;
    app.click("[data-testid=save-version]").await;
    // (The name is one ellipsized line, which WebKit's WebDriver reports no text for.)
    app.wait_for("[data-testid=version-row][data-version-name=\"Before review\"]")
        .await;
    app.click("[data-testid=close-versions]").await;

    // Changed since, then the version viewed read-only and restored.
    app.click(".ProseMirror").await;
    app.type_into(".ProseMirror", " and a late change").await;
    wait_until_async("the server has the change", || async {
        server_text().await.contains("late change")
    })
    .await;
    app.click("[data-testid=doc-versions-button]").await;
    app.click("[data-testid=version-view]").await;
    app.wait_text("[data-testid=version-content]", "First draft")
        .await;
    let shown = app
        .find("[data-testid=version-content]")
        .await
        .text()
        .await
        .unwrap();
    assert!(!shown.contains("late change"), "{shown}");
    desktop.screenshot_app(&app, "version-viewed").await;
    app.click("[data-testid=version-restore]").await;
    app.click("[data-testid=confirm-restore]").await;
    app.wait_text("[data-testid=versions-status]", "Restored")
        .await;
    desktop.screenshot_app(&app, "version-restored").await;

    // The live document (and the server's copy) is the version again: a new edit.
    wait_until_async("the server has the restored text", || async {
        let text = server_text().await;
        text.contains("First draft") && !text.contains("late change")
    })
    .await;
    let versions = http.versions("plan").await.unwrap();
    assert_eq!(versions.len(), 1, "restoring saves no version of its own");
}

/// The texts of the attachments being written with the message (`textContent`).
async fn pending_uploads(app: &App) -> Vec<String> {
    let script = "return [...document.querySelectorAll('ul[aria-label=Attachments] .upload-name')]\
                  .map((e) => e.textContent);";
    serde_json::from_value(app.client.execute(script, vec![]).await.unwrap()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_attached_by_drop_and_by_paste_with_their_progress() {
    let desktop = Desktop::start(
        "files_are_attached_by_drop_and_by_paste",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.click("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    app.wait_for("[data-testid=composer]").await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();

    // A picture and a larger file, as a file manager has them.
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("red square.png");
    let status = std::process::Command::new("convert")
        .args(["-size", "90x60", "xc:#c22"])
        .arg(&picture)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    let big = dir.path().join("field-notes.bin");
    let bytes: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&big, &bytes).unwrap();

    // Every progress value the composer shows, from now on.
    app.client
        .execute(
            "window.parleyProgress = [];\
             new MutationObserver(() => document.querySelectorAll('progress')\
               .forEach((p) => window.parleyProgress.push(Number(p.value))))\
             .observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['value']});\
             return true;",
            vec![],
        )
        .await
        .unwrap();

    // Dropped on the window, over the timeline.
    let window = *windows_titled(&desktop.display, "Parley")
        .first()
        .expect("the app's window");
    let (display, files) = (desktop.display.clone(), vec![picture.clone(), big.clone()]);
    tokio::task::spawn_blocking(move || drop_files(&display, window, 600, 300, &files))
        .await
        .unwrap();
    wait_until_async("both dropped files are being attached", || async {
        let names = pending_uploads(&app).await;
        names.iter().any(|n| n == "red square.png") && names.iter().any(|n| n == "field-notes.bin")
    })
    .await;
    desktop.screenshot_app(&app, "dropped").await;
    app.type_into("[data-testid=composer]", "notes and the square")
        .await;
    app.type_into("[data-testid=composer]", ENTER).await;
    app.wait_text("[data-testid=message-text]", "notes and the square")
        .await;
    app.wait_for("[data-testid=message] img[alt=\"red square.png\"]")
        .await;
    app.wait_for("[data-testid=message] button[aria-label^=\"Download field-notes.bin\"]")
        .await;
    let seen: Vec<f64> = serde_json::from_value(
        app.client
            .execute("return window.parleyProgress;", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        seen.iter().any(|v| *v > 0.0 && *v < 100.0),
        "the progress of the 6 MiB upload was shown on its way: {seen:?}"
    );
    desktop.screenshot_app(&app, "dropped-posted").await;

    // A screenshot on the clipboard, pasted into the composer (as WebKit hands a pasted image
    // to the page: a file in the paste event's clipboard data).
    app.client
        .execute_async(&parley_tests::paste_image_script("#36c"), vec![])
        .await
        .unwrap();
    wait_until_async("the pasted image is being attached", || async {
        pending_uploads(&app)
            .await
            .iter()
            .any(|n| n.starts_with("Pasted image"))
    })
    .await;
    app.type_into("[data-testid=composer]", "the blue one")
        .await;
    app.type_into("[data-testid=composer]", ENTER).await;
    app.wait_text("[data-testid=message-text]", "the blue one")
        .await;
    app.wait_for("[data-testid=message] img[alt^=\"Pasted image\"]")
        .await;
    desktop.screenshot_app(&app, "pasted-posted").await;

    // The server has both messages with their files.
    let token = token(&server, "dana").await;
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!("{server}/api/channels/general/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = page["messages"].as_array().expect("a history page");
    let dropped = messages
        .iter()
        .find(|m| m["text"] == "notes and the square")
        .unwrap();
    let sizes: Vec<(String, u64)> = dropped["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        sizes.contains(&("field-notes.bin".to_owned(), bytes.len() as u64)),
        "{sizes:?}"
    );
    assert!(
        sizes.iter().any(|(n, _)| n == "red square.png"),
        "{sizes:?}"
    );
    let pasted = messages
        .iter()
        .find(|m| m["text"] == "the blue one")
        .unwrap();
    assert_eq!(pasted["attachments"][0]["mime"], "image/png", "{pasted}");
    assert_eq!(pasted["attachments"][0]["width"], 120, "{pasted}");
}

const SHIFT: &str = "\u{E008}";
const UP: &str = "\u{E013}";
const TAB: &str = "\u{E004}";

/// What has the keyboard focus: its test id (or tag), text and label.
async fn focused(app: &App) -> serde_json::Value {
    app.client
        .execute(
            "const e = document.activeElement; return {id: e.getAttribute('data-testid') || e.tagName, \
             text: e.textContent.slice(0, 200), label: e.getAttribute('aria-label')}",
            vec![],
        )
        .await
        .unwrap()
}

/// Keys to whatever has the focus.
async fn press(app: &App, keys: &str) {
    app.client
        .active_element()
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_works_from_the_keyboard_alone() {
    let desktop = Desktop::start("the_app_from_the_keyboard", DesktopOptions::default()).await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = token(&server, "dana").await;
    let http = reqwest::Client::new();
    for (n, text) in ["first of all", "then this", "and finally this"]
        .iter()
        .enumerate()
    {
        let status = http
            .post(format!("{server}/api/channels/general/messages"))
            .bearer_auth(&token)
            .json(&json!({"text": text, "client_id": format!("k{n}")}))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{status}");
    }
    app.click("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    app.wait_text("[data-testid=message-text]", "and finally this")
        .await;

    // Up in the empty composer edits one's last message; Enter saves.
    let composer = app.wait_for("[data-testid=composer]").await;
    composer.click().await.unwrap();
    press(&app, UP).await;
    app.wait_for("textarea[id^=edit-]").await;
    let editor = focused(&app).await;
    assert_eq!(
        editor["id"], "TEXTAREA",
        "the editor has the focus: {editor}"
    );
    press(&app, " (edited)").await;
    press(&app, ENTER).await;
    app.wait_text("[data-testid=message-text]", "and finally this (edited)")
        .await;

    // From the composer, Shift+Tab reaches the timeline; Up moves to an older message.
    app.wait_for("[data-testid=composer]")
        .await
        .click()
        .await
        .unwrap();
    let mut presses = 0;
    loop {
        let here = focused(&app).await;
        if here["id"] == "message" || here["id"] == "message-list" {
            break;
        }
        presses += 1;
        assert!(presses <= 6, "Shift+Tab never reached the timeline: {here}");
        press(&app, &format!("{SHIFT}{TAB}{RELEASE_KEYS}")).await;
    }
    press(&app, UP).await;
    if focused(&app).await["text"]
        .as_str()
        .unwrap_or("")
        .contains("and finally this")
    {
        press(&app, UP).await;
    }
    let row = focused(&app).await;
    assert_eq!(row["id"], "message", "{row}");
    assert!(row["text"].as_str().unwrap().contains("then this"), "{row}");

    // R on the focused message: the picker with its search focused; a name and Enter react.
    press(&app, "r").await;
    app.wait_for("[aria-label=\"Pick a reaction\"]").await;
    assert_eq!(focused(&app).await["label"], "Search emoji");
    press(&app, "thumbs up").await;
    press(&app, ENTER).await;
    app.wait_until(
        "[data-testid=message] .reactions .reaction",
        "the reaction",
        |els| els.iter().any(|(t, _)| t.contains('👍')),
    )
    .await;
    desktop.screenshot_app(&app, "reacted-by-keyboard").await;

    // Ctrl+/ opens the shortcuts, focus inside; Escape closes it.
    press(&app, &format!("{CONTROL}/{RELEASE_KEYS}")).await;
    app.wait_for("[data-testid=shortcuts-help]").await;
    desktop.screenshot_app(&app, "shortcuts").await;
    press(&app, ESCAPE).await;
    app.wait_until("[data-testid=shortcuts-help]", "the help closed", |els| {
        els.is_empty()
    })
    .await;

    // The server has the edit and the reaction.
    let page: serde_json::Value = http
        .get(format!("{server}/api/channels/general/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = page["messages"].as_array().unwrap();
    assert!(messages
        .iter()
        .any(|m| m["text"] == "and finally this (edited)"));
    let reacted = messages.iter().find(|m| m["text"] == "then this").unwrap();
    assert_eq!(reacted["reactions"][0]["emoji"], "👍", "{reacted}");
}

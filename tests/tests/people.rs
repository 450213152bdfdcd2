//! The people of a workspace, from the app: one's profile (display name, a picture uploaded
//! through the file picker), avatars shown beside messages, invite links for a workspace
//! hosted for this computer only, and an admin's operations on an account (disable, enable,
//! reset code, delete). The real app under tauri-driver, in a private desktop, as in `app.rs`;
//! the second person is the `parley` command line and parley-client's HTTP API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_client::HttpApi;
use parley_protocol::api;
use parley_tests::*;

const PASSWORD: &str = "correct horse battery";

/// A 64×64 PNG made by ImageMagick (installed with the app's test packages).
fn picture(dir: &std::path::Path, colour: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{colour}.png"));
    let status = std::process::Command::new("convert")
        .args(["-size", "64x64", &format!("xc:{colour}")])
        .arg(&path)
        .status()
        .expect("ImageMagick's convert");
    assert!(status.success());
    path
}

fn credentials(name: &str, password: &str) -> api::Credentials {
    api::Credentials {
        name: name.into(),
        password: password.into(),
        display_name: None,
        device: None,
        invite: None,
    }
}

async fn sign_in(server: &str, name: &str, password: &str) -> HttpApi {
    let api = HttpApi::new(server).unwrap();
    let session = api
        .login(&credentials(name, password))
        .await
        .unwrap_or_else(|e| panic!("{name} signs in: {e}"));
    api.with_token(&session.token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_people_and_pictures_from_the_app() {
    let desktop = Desktop::start(
        "an_admin_manages_people_and_pictures_from_the_app",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();

    // An invite link for a workspace open to this computer only: it says so, and works here.
    app.click("[data-testid=nav-settings]").await;
    app.click("[data-testid=create-invite]").await;
    let link = app
        .wait_for("[data-testid=invite-link]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(link.starts_with("parley://join?"), "{link}");
    app.wait_text("[data-testid=invite-hint]", "this computer only")
        .await;
    app.wait_for("[data-testid=invite-row]").await;
    let erin = Cli::new();
    let out = erin
        .run(
            &["accept-invite", &link, "--user", "erin", "--password-stdin"],
            Some(PASSWORD),
        )
        .await;
    assert!(out.contains("as erin"), "{out}");
    // Used once: no live invite is left.
    app.type_into("#add-person-name", ESCAPE).await;
    app.click("[data-testid=nav-settings]").await;
    app.wait_for("[data-testid=people]").await;
    assert!(app
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=invite-row]"))
        .await
        .unwrap()
        .is_empty());

    // Profile: a display name, and a picture through the file picker.
    app.type_into("#profile-display-name", "Dana Dee").await;
    app.click("[data-testid=save-display-name]").await;
    app.wait_text("[data-testid=profile-done]", "Display name saved")
        .await;
    let red = picture(desktop.home.path(), "red");
    app.type_into("[data-testid=avatar-file]", &red.to_string_lossy())
        .await;
    app.wait_text("[data-testid=profile-done]", "Picture changed")
        .await;
    app.wait_for(".profile [data-testid=avatar-image]").await;
    app.wait_for("[data-testid=remove-avatar]").await;
    desktop.screenshot_app(&app, "profile-and-people").await;
    let erin_api = sign_in(&server, "erin", PASSWORD).await;
    let refusal = erin_api.users(None).await.expect_err("erin is no admin");
    assert!(refusal.to_string().contains("admin"), "{refusal}");
    let me = erin_api.me().await.unwrap();
    assert!(me.avatar.is_none());

    // Erin's picture shows beside erin's message, and dana's beside dana's.
    let blue = std::fs::read(picture(desktop.home.path(), "blue")).unwrap();
    let erin_now = erin_api.set_avatar(blue).await.unwrap();
    assert!(erin_now.avatar.is_some(), "{erin_now:?}");
    app.type_into("#add-person-name", ESCAPE).await;
    erin.run(&["join", "general"], None).await;
    erin.run(&["send", "general", "a picture now"], None).await;
    let row = "[data-testid=message]";
    app.wait_text("[data-testid=message-text]", "a picture now")
        .await;
    app.wait_until(
        &format!("{row} [data-testid=avatar-image]"),
        "erin's picture beside the message",
        |els| !els.is_empty(),
    )
    .await;
    app.type_into("[data-testid=composer]", "lovely").await;
    app.type_into("[data-testid=composer]", ENTER).await;
    app.wait_until(
        &format!("{row} [data-testid=avatar-image]"),
        "dana's picture beside hers",
        |els| els.len() >= 2,
    )
    .await;
    app.wait_text("[data-testid=message-author]", "Dana Dee")
        .await;
    desktop.screenshot_app(&app, "avatars-in-channel").await;

    // Settings → People: disable erin; erin's tokens stop working at once.
    app.click("[data-testid=nav-settings]").await;
    let erin_row = "[data-testid=person][data-name=erin]";
    app.click(&format!("{erin_row} [data-testid=disable-person]"))
        .await;
    app.wait_for(&format!("{erin_row}[data-disabled=true]"))
        .await;
    desktop.screenshot_app(&app, "erin-disabled").await;
    let refused = erin
        .run_failing(&["send", "general", "am I still here?"])
        .await;
    assert!(refused.contains("refused the token"), "{refused}");
    assert!(erin_api.me().await.is_err());
    let login = HttpApi::new(&server)
        .unwrap()
        .login(&credentials("erin", PASSWORD))
        .await
        .expect_err("a disabled account cannot sign in");
    assert!(login.to_string().contains("account_disabled"), "{login}");

    // Enabled again, and a reset code lets erin choose a new password.
    app.click(&format!("{erin_row} [data-testid=enable-person]"))
        .await;
    app.wait_for(&format!("{erin_row}[data-disabled=false]"))
        .await;
    app.click(&format!("{erin_row} [data-testid=reset-person]"))
        .await;
    let code = app
        .wait_for("[data-testid=reset-code-value]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(!code.is_empty());
    HttpApi::new(&server)
        .unwrap()
        .reset_password(&api::PasswordReset {
            name: "erin".into(),
            code: code.clone(),
            new_password: "a brand new password".into(),
        })
        .await
        .unwrap();
    sign_in(&server, "erin", "a brand new password").await;
    let again = HttpApi::new(&server)
        .unwrap()
        .reset_password(&api::PasswordReset {
            name: "erin".into(),
            code,
            new_password: "yet another password".into(),
        })
        .await
        .expect_err("a reset code works once");
    assert!(again.to_string().contains("reset code"), "{again}");

    // Deleted: erin is gone from People; the message stays, from "deleted user".
    app.click(&format!("{erin_row} [data-testid=delete-person]"))
        .await;
    app.click(&format!("{erin_row} [data-testid=confirm-delete-person]"))
        .await;
    app.wait_until(erin_row, "erin is gone from People", |els| els.is_empty())
        .await;
    app.type_into("#add-person-name", ESCAPE).await;
    let gone = HttpApi::new(&server)
        .unwrap()
        .login(&credentials("erin", "a brand new password"))
        .await;
    assert!(gone.is_err());
    app.quit().await;
}

/// The admins' Dashboard: the hosted server publishes its numbers every second here
/// (`PARLEY_ANALYTICS_INTERVAL`, inherited by the server the app starts); the view opens with
/// the current values and charts, and the values move as messages are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_watches_the_dashboard_move() {
    let desktop = Desktop::start(
        "an_admin_watches_the_dashboard_move",
        DesktopOptions {
            env: &[("PARLEY_ANALYTICS_INTERVAL", "1s")],
            ..DesktopOptions::default()
        },
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    // The analytics channel is not a conversation: it is not in the sidebar.
    app.wait_until(
        "[data-testid=channel-item][data-channel=\"admin-dashboard\"]",
        "no analytics channel in the sidebar",
        |els| els.is_empty(),
    )
    .await;

    // Dana hosts the workspace, so she is its admin and has the Dashboard.
    app.click("[data-testid=nav-dashboard]").await;
    app.wait_for("[data-testid=dashboard]").await;
    let stat = |key: &str| format!("[data-testid=stat-{key}] [data-testid=stat-value]");
    app.wait_until(&stat("connections"), "a connection counted", |els| {
        els.first()
            .and_then(|(t, _)| t.trim().parse::<u64>().ok())
            .is_some_and(|n| n >= 1)
    })
    .await;
    app.wait_for("[data-testid=chart-traffic] canvas").await;
    app.wait_for("[data-testid=chart-latency] canvas").await;
    let before: u64 = app
        .find(&stat("messages"))
        .await
        .text()
        .await
        .unwrap()
        .trim()
        .parse()
        .expect("a number of messages");
    desktop.screenshot_app(&app, "dashboard-quiet").await;

    // Three messages in general; back on the Dashboard, the next updates count them.
    app.click("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    for n in 1..=3 {
        app.type_into("[data-testid=composer]", &format!("busy day {n}"))
            .await;
        app.type_into("[data-testid=composer]", ENTER).await;
    }
    app.wait_text("[data-testid=message-text]", "busy day 3")
        .await;
    app.click("[data-testid=nav-dashboard]").await;
    app.wait_until(&stat("messages"), "the messages counted", |els| {
        els.first()
            .and_then(|(t, _)| t.trim().parse::<u64>().ok())
            .is_some_and(|n| n >= before + 3)
    })
    .await;
    app.wait_until(&stat("latency"), "a send latency", |els| {
        els.first().is_some_and(|(t, _)| !t.starts_with('—'))
    })
    .await;
    app.wait_text("[data-testid=dashboard-updated]", "every 1 s")
        .await;
    desktop.screenshot_app(&app, "dashboard-busy").await;
    app.quit().await;
}

/// Dana's status in erin's presence list of `general`, polled until `want` holds.
async fn wait_status(
    erin: &mut parley_testkit::WsClient,
    want: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let list = erin
            .ok(serde_json::json!({"type": "presence_list", "channel": "general"}))
            .await;
        let dana = list["presence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["user"]["name"] == "dana")
            .cloned()
            .unwrap_or_default();
        if want(&dana) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dana's status: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_a_status_and_sees_who_is_in_a_channel() {
    let desktop = Desktop::start(
        "a_person_sets_a_status_and_sees_who_is_in_a_channel",
        DesktopOptions::default(),
    )
    .await;
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let server = desktop.workspace_file()["server"]
        .as_str()
        .unwrap()
        .to_owned();
    app.click("[data-testid=nav-settings]").await;
    app.type_into("#add-person-name", "erin").await;
    app.type_into("#add-person-password", PASSWORD).await;
    app.click("[data-testid=add-person]").await;
    app.wait_text("[data-testid=add-person-done]", "erin can now sign in")
        .await;
    app.type_into("#add-person-name", ESCAPE).await;
    let token = HttpApi::new(&server)
        .unwrap()
        .login(&credentials("erin", PASSWORD))
        .await
        .unwrap()
        .token;
    let ws = format!("{}/ws", server.replacen("http://", "ws://", 1));
    let mut erin = parley_testkit::WsClient::connect(&ws, Some(&token)).await;

    // Dana sets do not disturb with a text, for 30 minutes; erin sees it.
    app.click("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    app.click("[data-testid=my-status]").await;
    app.click("[data-testid=status-dnd]").await;
    app.type_into("#status-text", "Heads down").await;
    app.wait_for("#status-clear").await;
    app.client
        .execute(
            "const s = document.getElementById('status-clear'); s.value = '30m'; s.dispatchEvent(new Event('change', {bubbles: true})); return null",
            vec![],
        )
        .await
        .unwrap();
    app.click("[data-testid=save-status]").await;
    app.wait_for("[data-testid=my-status][data-status=dnd]")
        .await;
    wait_status(&mut erin, |dana| {
        dana["status"] == "dnd" && dana["status_text"] == "Heads down"
    })
    .await;
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            desktop
                .app_files()
                .iter()
                .find(|p| p.ends_with("settings.json"))
                .expect("settings.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let until = settings["status"]["until"].as_i64().expect("an expiry");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((until - now - 30 * 60_000).abs() < 120_000, "{settings}");

    // The members panel: both members (erin joined general when added, through the running
    // server), with dana's status and erin online.
    app.click("button[aria-label^=\"Members (\"]").await;
    app.wait_text("[data-testid=member-count]", "2").await;
    app.wait_for("[data-testid=member][data-user=dana][data-status=dnd]")
        .await;
    app.wait_for("[data-testid=member][data-user=erin][data-status=online]")
        .await;
    desktop.screenshot_app(&app, "status-and-members").await;

    // Back to active: erin sees dana online again.
    app.click("[data-testid=my-status]").await;
    app.click("[data-testid=status-online]").await;
    app.click("[data-testid=save-status]").await;
    app.wait_for("[data-testid=my-status][data-status=online]")
        .await;
    wait_status(&mut erin, |dana| dana["status"] == "online").await;
    app.quit().await;
}

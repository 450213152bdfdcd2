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
    app.click("[data-testid=host-workspace]").await;
    app.type_into("#username", "dana").await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=submit-host]").await;
    app.wait_text("[data-testid=current-user]", "dana").await;
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

//! The tray menu, driven as a panel drives it: the app's icon registers with the desktop's
//! StatusNotifier watcher (played by the test, `parley_tests::tray`) and its items are clicked
//! over `com.canonical.dbusmenu`. The real app under tauri-driver in a private desktop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_tests::{tray::TrayHost, windows::*, *};

const PASSWORD: &str = "correct horse battery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tray_menu_opens_the_window_toggles_do_not_disturb_and_quits() {
    let desktop = Desktop::start("the_tray_menu", DesktopOptions::default()).await;
    let tray = TrayHost::start(&desktop.dbus);
    let app = desktop.launch().await;
    app.host_workspace("dana", PASSWORD).await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let pid = app_pid(&desktop).expect("the app runs");

    let menu = tray.menu().await;
    let labels: Vec<&str> = menu.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["Open Parley", "Do not disturb", "Quit Parley"]);
    assert!(menu.iter().all(|i| i.enabled), "{menu:?}");
    assert_eq!(menu[1].checked, Some(false), "{menu:?}");

    // Closed to the tray, "Open Parley" brings the window back.
    let window = *windows_titled(&desktop.display, "Parley")
        .first()
        .expect("the app's window");
    request_close(&desktop.display, window);
    wait_until("the window is hidden", || {
        !is_viewable(&desktop.display, window)
    })
    .await;
    assert!(alive(pid), "closing the window did not quit");
    tray.click("Open Parley").await;
    wait_until("the window is shown from the tray", || {
        is_viewable(&desktop.display, window)
    })
    .await;
    desktop.screenshot_app(&app, "opened-from-the-tray").await;

    // Do not disturb from the tray: saved, shown in the settings, checked in the menu.
    tray.click("Do not disturb").await;
    desktop
        .wait_setting("do_not_disturb", serde_json::json!(true))
        .await;
    app.click("[data-testid=nav-settings]").await;
    let dnd = app.wait_for("[data-testid=do-not-disturb]").await;
    wait_until_async("the settings show do not disturb", || {
        let dnd = dnd.clone();
        async move { dnd.prop("checked").await.unwrap().as_deref() == Some("true") }
    })
    .await;
    wait_until_async("the tray item is checked", || async {
        tray.menu().await[1].checked == Some(true)
    })
    .await;
    desktop
        .screenshot_app(&app, "do-not-disturb-from-the-tray")
        .await;

    // Quit ends Parley, window hidden or not.
    tray.click("Quit Parley").await;
    wait_until("Quit in the tray ends Parley", || !alive(pid)).await;
}

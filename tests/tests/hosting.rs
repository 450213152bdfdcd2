//! The hosted server's life: it starts a new workspace with its `general` channel, it ends
//! with the app however the app ends, and a launch never leaves two servers on one workspace's
//! data. The real app under tauri-driver, in a private
//! desktop, as in `app.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use parley_tests::*;

const PASSWORD: &str = "correct horse battery";

/// The hosted server ends with the app, however the app ends: SIGTERM (a logout or shutdown)
/// stops it cleanly, and SIGKILL ends it too (the parent-death signal). A launch that finds a
/// server of an earlier run still serving the workspace stops it: never two on one data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_server_ends_with_the_app() {
    let desktop = Desktop::start(
        "the_hosted_server_ends_with_the_app",
        DesktopOptions::default(),
    )
    .await;
    let server_data = desktop.home.path().join("data/app.parley.desktop/server");
    let app = desktop.launch().await;
    app.click("[data-testid=host-workspace]").await;
    app.type_into("#username", "dana").await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=submit-host]").await;
    app.wait_text("[data-testid=current-user]", "dana").await;
    // A new workspace starts with `general`, which its first account has joined.
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    desktop.screenshot_app(&app, "hosted-general").await;
    let servers = servers_on(&server_data);
    assert_eq!(servers.len(), 1, "{servers:?}");

    // SIGTERM to the app: it stops its server (cleanly) and exits.
    let pid = app_pid(&desktop).expect("the app runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    wait_until("the app exits on SIGTERM", || !alive(pid)).await;
    wait_until("its server exits with it", || {
        servers_on(&server_data).is_empty()
    })
    .await;
    drop(app);

    // Launched again, it hosts again; SIGKILL leaves it no chance to stop the server, which
    // ends by itself (its parent died).
    let app = desktop.launch().await;
    app.wait_text("[data-testid=current-user]", "dana").await;
    assert_eq!(servers_on(&server_data).len(), 1);
    let pid = app_pid(&desktop).expect("the app runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    wait_until("the app is gone", || !alive(pid)).await;
    wait_until("its server exits when the app is killed", || {
        servers_on(&server_data).is_empty()
    })
    .await;
    drop(app);

    // A server left from an earlier run (started here by hand on the same data): the next
    // launch stops it and starts its own; one server, and the app works.
    // It holds the workspace's own port, as a left-over would.
    let port = desktop.workspace_file()["port"].as_u64().unwrap();
    let other_port = u16::try_from(port).unwrap();
    let mut stale = std::process::Command::new(workspace_binary("parley-server"))
        .arg("--data")
        .arg(&server_data)
        .args(["serve", "--listen", &format!("127.0.0.1:{other_port}")])
        .env("PARLEY_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stale_pid = stale.id();
    wait_until("the stale server starts", || {
        servers_on(&server_data).contains(&stale_pid)
            && std::net::TcpStream::connect(("127.0.0.1", other_port)).is_ok()
    })
    .await;
    let app = desktop.launch().await;
    app.wait_text("[data-testid=current-user]", "dana").await;
    let servers = servers_on(&server_data);
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert!(!servers.contains(&stale_pid), "the stale server still runs");
    let _ = stale.wait();
    assert_eq!(desktop.workspace_file()["port"].as_u64(), Some(port));
    app.wait_until("[data-testid=connection-banner]", "no banner", |els| {
        els.is_empty()
    })
    .await;
    app.quit().await;
}

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
    app.host_workspace("dana", PASSWORD).await;
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

/// SIGKILL to a process by pid.
fn kill(pid: u32) {
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
}

/// Waits until exactly one server serves `data` and it is not `old`; its pid.
async fn new_server(data: &std::path::Path, old: u32) -> u32 {
    wait_until("the hosted server is started again", || {
        let servers = servers_on(data);
        servers.len() == 1 && servers[0] != old
    })
    .await;
    servers_on(data)[0]
}

/// A workspace hosted on the LAN: TLS on all interfaces with the app's own certificate, an
/// invite link made in Settings, a second person joining with it from the command line
/// (through 127.0.0.1: tests dial loopback only) and the two chatting. Then the server is
/// killed: the app restarts it and says so; killed again and again, it gives up with a clear
/// message, and starts it again when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lan_workspace_invites_people_and_survives_its_server_dying() {
    let desktop = Desktop::start(
        "a_lan_workspace_invites_people_and_survives_its_server_dying",
        DesktopOptions::default(),
    )
    .await;
    let server_data = desktop.home.path().join("data/app.parley.desktop/server");
    let app = desktop.launch().await;
    app.click("[data-testid=host-workspace]").await;
    app.type_into("#username", "dana").await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=host-lan]").await;
    app.click("[data-testid=submit-host]").await;
    app.wait_text("[data-testid=current-user]", "dana").await;
    app.wait_for("[data-testid=channel-item][data-channel=\"general\"]")
        .await;
    let workspace = desktop.workspace_file();
    assert_eq!(workspace["lan"], true, "{workspace}");
    let port = workspace["port"].as_u64().unwrap();
    assert!(
        workspace["server"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{workspace}"
    );
    let fingerprint = workspace["fingerprint"].as_str().unwrap().to_owned();

    // Settings → Hosting: the certificate, and an invite link carrying it.
    app.click("[data-testid=nav-settings]").await;
    app.wait_text("[data-testid=host-fingerprint]", &fingerprint)
        .await;
    app.click("[data-testid=create-invite]").await;
    let link_box = app.wait_for("[data-testid=invite-link]").await;
    let link = link_box.prop("value").await.unwrap().unwrap_or_default();
    assert!(link.starts_with("parley://join?"), "{link}");
    assert!(link.contains(&fingerprint.replace(':', "%3A")), "{link}");
    desktop.screenshot_app(&app, "lan-invite").await;
    app.click("[data-testid=show-host-log]").await;
    let log = app
        .wait_text("[data-testid=host-log]", "listening on https://0.0.0.0:")
        .await
        .text()
        .await
        .unwrap();
    assert!(!log.contains('\u{1b}'), "colour codes in the log: {log}");
    app.type_into("#add-person-name", ESCAPE).await;

    // Erin joins with the link from the command line, pinning the certificate.
    let erin = Cli::new();
    let via = format!("https://127.0.0.1:{port}");
    let out = erin
        .run(
            &[
                "accept-invite",
                &link,
                "--user",
                "erin",
                "--password-stdin",
                "--via",
                &via,
            ],
            Some(PASSWORD),
        )
        .await;
    assert!(
        out.contains(&format!("signed in to {via} as erin")),
        "{out}"
    );
    // A second use of a single-use invite is refused.
    let again = Cli::new();
    let refused = again
        .run_failing(&[
            "accept-invite",
            &link,
            "--user",
            "frank",
            "--password-stdin",
            "--via",
            &via,
        ])
        .await;
    assert!(refused.contains("invite"), "{refused}");
    erin.run(&["join", "general"], None).await;
    erin.run(&["send", "general", "hello from the LAN"], None)
        .await;
    app.wait_text("[data-testid=message-text]", "hello from the LAN")
        .await;
    app.type_into("[data-testid=composer]", "welcome, erin")
        .await;
    app.type_into("[data-testid=composer]", ENTER).await;
    wait_until_async("erin sees the answer", || async {
        erin.run(&["history", "general"], None)
            .await
            .contains("welcome, erin")
    })
    .await;

    // The server dies: the app starts it again and says why.
    let first = servers_on(&server_data)[0];
    kill(first);
    let second = new_server(&server_data, first).await;
    app.wait_until("[data-testid=connection-banner]", "back online", |els| {
        els.is_empty()
    })
    .await;
    app.click("[data-testid=nav-settings]").await;
    app.wait_text("[data-testid=host-state]", "it was killed (SIGKILL)")
        .await;
    app.type_into("#add-person-name", ESCAPE).await;
    erin.run(&["send", "general", "still here"], None).await;
    app.wait_text("[data-testid=message-text]", "still here")
        .await;

    // Dying again and again: the app stops trying and says so; asked, it starts it again.
    let mut last = second;
    for _ in 0..4 {
        kill(last);
        if servers_on(&server_data).is_empty() && app_gave_up(&app).await {
            break;
        }
        let next = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            loop {
                let servers = servers_on(&server_data);
                if servers.len() == 1 && servers[0] != last {
                    return Some(servers[0]);
                }
                if app_gave_up(&app).await {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("restarted or given up in time");
        match next {
            Some(pid) => last = pid,
            None => break,
        }
    }
    let banner = app
        .wait_for("[data-testid=host-banner][data-state=failed]")
        .await;
    let text = banner.text().await.unwrap();
    assert!(text.contains("stopped 5 times"), "{text}");
    desktop.screenshot_app(&app, "host-gave-up").await;
    app.click("[data-testid=host-banner] button").await;
    wait_until("started again when asked", || {
        servers_on(&server_data).len() == 1
    })
    .await;
    app.wait_until("[data-testid=host-banner]", "the banner goes", |els| {
        els.is_empty()
    })
    .await;
    app.wait_until("[data-testid=connection-banner]", "back online", |els| {
        els.is_empty()
    })
    .await;
    app.quit().await;
}

/// Whether the app shows that it gave up on its server.
async fn app_gave_up(app: &App) -> bool {
    app.client
        .find_all(fantoccini::Locator::Css(
            "[data-testid=host-banner][data-state=failed]",
        ))
        .await
        .is_ok_and(|els| !els.is_empty())
}

//! Measures the desktop app: total memory of all its processes (the app, WebKit's web and
//! network processes) after loading 10 channels × 10,000 messages, and cold start time to an
//! interactive channel view. Run with `make measure-app` (release build), in a private
//! headless desktop like the end-to-end tests. Prints one line per figure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use parley_tests::*;

const CHANNELS: usize = 10;
/// Messages per channel; `PARLEY_MEASURE_MESSAGES=0` measures the empty workspace (the floor).
fn per_channel() -> usize {
    std::env::var("PARLEY_MEASURE_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}
const PASSWORD: &str = "correct horse battery";
const STARTS: usize = 5;

/// Proportional set size (KiB) of a process, counting shared pages once across the tree.
fn pss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        // The parent pid is the 2nd field after the command (which is in parentheses).
        let parent = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|v| v.parse::<u32>().ok());
        if parent == Some(pid) {
            out.push(p);
        }
    }
    out
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The app's process and everything it started.
fn app_tree() -> Vec<u32> {
    let mut roots = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() {
            if comm(p) == "parley-app" {
                roots.push(p);
            }
        }
    }
    assert_eq!(roots.len(), 1, "expected one parley-app process: {roots:?}");
    let mut all = Vec::new();
    let mut todo = roots;
    while let Some(p) = todo.pop() {
        all.push(p);
        todo.extend(children(p));
    }
    all
}

async fn populate(server: &Server, token: &str) {
    let http = reqwest::Client::new();
    for c in 0..CHANNELS {
        let name = format!("channel-{c}");
        let (status, body) = server
            .post(
                "/api/channels",
                Some(token),
                serde_json::json!({"channel": name, "presence": true}),
            )
            .await;
        assert!(status == 201 || status == 200, "{body}");
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let http = http.clone();
        let url = server.url.clone();
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while i < CHANNELS * per_channel() {
                let channel = i % CHANNELS;
                let text = format!(
                    "message {i} in channel {channel}: the quick brown fox jumps over the lazy dog"
                );
                let response = http
                    .post(format!("{url}/api/channels/channel-{channel}/messages"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"text": text, "client_id": format!("m{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                i += 16;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "populated {} messages in {:.1} s",
        CHANNELS * per_channel(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = Server::start().await;
    let token = server.register("mia", PASSWORD).await;
    populate(&server, &token).await;
    let desktop = Desktop::start("app-measure", DesktopOptions::default()).await;

    // First launch: sign in and open every channel (the client follows them all and caches
    // their history), then measure memory.
    let app = desktop.launch().await;
    app.click("[data-testid=join-workspace]").await;
    app.type_into("#server-url", &server.url).await;
    app.click("[data-testid=submit-join]").await;
    app.type_into("#username", "mia").await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_text("[data-testid=current-user]", "mia").await;
    for c in 0..CHANNELS {
        app.click(&format!(
            "[data-testid=channel-item][data-channel=channel-{c}]"
        ))
        .await;
        app.wait_text("[data-testid=channel-title]", &format!("channel-{c}"))
            .await;
        if per_channel() > 0 {
            app.wait_text("[data-testid=message-text]", &format!("in channel {c}:"))
                .await;
        }
        // Scroll through some history too, as a person would.
        let _ = app
            .client
            .execute(
                "const l = document.querySelector('[data-testid=message-list]'); if (l) l.scrollTop = 0;",
                vec![],
            )
            .await;
    }
    // Wait until the cache holds all of it (every channel followed and synced).
    let cache_dir = desktop.home.path().join("data/app.parley.desktop/cache");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let count = cached_messages(&cache_dir);
        if count >= (CHANNELS * per_channel()) as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cache holds only {count} messages"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Let the webview settle (garbage collection runs lazily), then read the tree.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let tree = app_tree();
    let mut pss_total = 0;
    let mut rss_total = 0;
    for pid in &tree {
        let (pss, rss) = (pss_kib(*pid), rss_kib(*pid));
        println!(
            "  {:<22} pid {:>7}  PSS {:>7} KiB  RSS {:>7} KiB",
            comm(*pid),
            pid,
            pss,
            rss
        );
        pss_total += pss;
        rss_total += rss;
    }
    println!(
        "memory after loading {CHANNELS} channels x {} messages: PSS {:.1} MB total (RSS sum {:.1} MB) over {} processes",
        per_channel(),
        pss_total as f64 / 1024.0,
        rss_total as f64 / 1024.0,
        tree.len()
    );
    desktop.screenshot("loaded");
    app.quit().await;

    // Cold starts: launch to an interactive channel view (the last channel, its messages
    // shown, the composer ready), signed in from the keyring.
    let mut times = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        let app = desktop.launch().await;
        if per_channel() > 0 {
            app.wait_for("[data-testid=message-text]").await;
        }
        app.wait_for("[data-testid=composer]").await;
        let elapsed = started.elapsed();
        times.push(elapsed.as_secs_f64());
        app.quit().await;
        // The next start must not find the previous app still running.
        let deadline = Instant::now() + Duration::from_secs(20);
        while app_running() {
            assert!(Instant::now() < deadline, "the app did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "cold start to an interactive channel view: median {:.2} s, min {:.2} s, max {:.2} s over {STARTS} starts",
        times[STARTS / 2],
        times[0],
        times[STARTS - 1]
    );
}

fn app_running() -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .any(|p| comm(p) == "parley-app")
}

fn cached_messages(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "sqlite") {
            if let Ok(conn) = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            ) {
                total += conn
                    .query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
                    .unwrap_or(0) as u64;
            }
        }
    }
    total
}

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
/// Memory samples (one a second) after loading.
const SAMPLES: usize = 10;

/// Proportional set size (KiB) of a process, counting shared pages once across the tree.
fn pss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The largest mappings of a process by PSS (KiB), grouped by file (anonymous memory as
/// `[anon]`, `[heap]`...): printed with `PARLEY_MEASURE_BREAKDOWN=1` to see where memory goes.
fn pss_by_mapping(pid: u32) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut totals: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            current = line
                .split_whitespace()
                .nth(5)
                .map(str::to_owned)
                .unwrap_or_else(|| "[anon]".to_owned());
        } else if let Some(v) = line.strip_prefix("Pss:") {
            let kib: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            *totals.entry(current.clone()).or_default() += kib;
        }
    }
    let mut list: Vec<_> = totals.into_iter().collect();
    list.sort_by_key(|e| std::cmp::Reverse(e.1));
    list
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

/// One line with each process's PSS at a stage of the run (`PARLEY_MEASURE_BREAKDOWN=1`).
fn stage(name: &str) {
    if std::env::var_os("PARLEY_MEASURE_BREAKDOWN").is_none() {
        return;
    }
    let figures: Vec<String> = app_tree()
        .into_iter()
        .map(|pid| format!("{} {} KiB", comm(pid), pss_kib(pid)))
        .collect();
    println!("  stage {name}: {}", figures.join(", "));
}

async fn populate(server: &TestServer, token: &str) {
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
        let url = server.url();
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
    let server = TestServer::start_process(RELAXED).await;
    let token = server.register_with_password("mia", PASSWORD).await;
    populate(&server, &token).await;
    let desktop = Desktop::start("app-measure", DesktopOptions::default()).await;

    // First launch: sign in and open every channel (the client follows them all and caches
    // their history), then measure memory.
    let app = desktop.launch().await;
    app.click("[data-testid=join-workspace]").await;
    app.type_into("#server-url", &server.url()).await;
    app.click("[data-testid=submit-join]").await;
    app.type_into("#username", "mia").await;
    app.type_into("#password", PASSWORD).await;
    app.click("[data-testid=sign-in]").await;
    app.wait_text("[data-testid=current-user]", "mia").await;
    stage("signed in");
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
        stage(&format!("channel-{c} open"));
        // Scroll through some history too, as a person would.
        let _ = app
            .client
            .execute(
                "const l = document.querySelector('[data-testid=message-list]'); if (l) l.scrollTop = 0;",
                vec![],
            )
            .await;
        if std::env::var_os("PARLEY_MEASURE_BREAKDOWN").is_some() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rows = app
                .client
                .execute(
                    "return document.querySelectorAll('[data-testid=message-text]').length + ' rows, ' + document.getElementsByTagName('*').length + ' elements';",
                    vec![],
                )
                .await
                .map(|v| v.to_string())
                .unwrap_or_default();
            stage(&format!("channel-{c} scrolled ({rows})"));
        }
    }
    stage("channels opened");
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
    stage("cache complete");
    // The web process's garbage is collected lazily, so the figure moves: sample it for a
    // while and report the median (and the range).
    let mut samples = Vec::new();
    for _ in 0..SAMPLES {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(app_tree().iter().map(|p| pss_kib(*p)).sum::<u64>());
    }
    let tree = app_tree();
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
        rss_total += rss;
        if std::env::var_os("PARLEY_MEASURE_BREAKDOWN").is_some() {
            for (name, kib) in pss_by_mapping(*pid).into_iter().take(25) {
                println!("      {kib:>7} KiB  {name}");
            }
        }
    }
    samples.sort_unstable();
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "memory after loading {CHANNELS} channels x {} messages: PSS median {:.1} MiB (min {:.1}, max {:.1} over {SAMPLES} s; RSS sum {:.1} MiB) over {} processes",
        per_channel(),
        mib(samples[SAMPLES / 2]),
        mib(samples[0]),
        mib(samples[SAMPLES - 1]),
        mib(rss_total),
        tree.len()
    );
    desktop.screenshot("loaded");
    app.quit().await;

    // Cold starts: launch to an interactive channel view (the last channel, its messages
    // shown, the composer ready), signed in from the keyring.
    let mut times = Vec::new();
    let mut launches = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        let app = desktop.launch().await;
        if per_channel() > 0 {
            app.wait_for("[data-testid=message-text]").await;
        }
        app.wait_for("[data-testid=composer]").await;
        let elapsed = started.elapsed();
        launches.push(elapsed.as_secs_f64());
        // From the app's process start to the UI's mark (the first channel view with its
        // messages and the composer ready): WebDriver's own session start is not in it.
        let ready_ms = app
            .client
            .execute(
                "const m = performance.getEntriesByName('parley:channel-ready')[0]; return m ? performance.timeOrigin + m.startTime : null;",
                vec![],
            )
            .await
            .unwrap()
            .as_f64()
            .expect("the UI marks parley:channel-ready");
        let started_ms = process_start_ms(app_tree()[0]);
        times.push((ready_ms - started_ms) / 1000.0);
        app.quit().await;
        // The next start must not find the previous app still running.
        let deadline = Instant::now() + Duration::from_secs(20);
        while app_running() {
            assert!(Instant::now() < deadline, "the app did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    webkit_floor(&desktop).await;
    times.sort_by(f64::total_cmp);
    launches.sort_by(f64::total_cmp);
    println!(
        "cold start to an interactive channel view: median {:.2} s, min {:.2} s, max {:.2} s over {STARTS} starts (process start to the UI's mark)",
        times[STARTS / 2],
        times[0],
        times[STARTS - 1]
    );
    println!(
        "  through WebDriver (session request to the view found, an upper bound): median {:.2} s, min {:.2} s, max {:.2} s",
        launches[STARTS / 2],
        launches[0],
        launches[STARTS - 1]
    );
}

/// WebKitGTK's own cost here: its MiniBrowser showing a one-line page, in the same session
/// and settings (compositing off), measured the same way. Whatever a WebKitGTK app shows
/// comes on top of this.
async fn webkit_floor(desktop: &Desktop) {
    let browser = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
    if !std::path::Path::new(browser).exists() {
        println!("WebKitGTK floor: {browser} not found, not measured");
        return;
    }
    let mut child = desktop
        .command(browser)
        .env("NO_AT_BRIDGE", "1")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .arg("data:text/html,<p>Parley</p>")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tree = |root: u32| {
        let mut all = vec![root];
        let mut i = 0;
        while i < all.len() {
            all.extend(children(all[i]));
            i += 1;
        }
        all
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tree(child.id())
        .iter()
        .any(|p| comm(*p).starts_with("WebKitWebProces"))
    {
        assert!(Instant::now() < deadline, "MiniBrowser did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut samples = Vec::new();
    for _ in 0..SAMPLES {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(tree(child.id()).iter().map(|p| pss_kib(*p)).sum::<u64>());
    }
    samples.sort_unstable();
    let processes: Vec<String> = tree(child.id())
        .iter()
        .map(|p| format!("{} {} KiB", comm(*p), pss_kib(*p)))
        .collect();
    println!(
        "WebKitGTK floor (MiniBrowser, a one-line page): PSS median {:.1} MiB ({})",
        samples[SAMPLES / 2] as f64 / 1024.0,
        processes.join(", ")
    );
    if std::env::var_os("PARLEY_MEASURE_BREAKDOWN").is_some() {
        for pid in tree(child.id()) {
            println!(
                "  {:<22} pid {:>7}  PSS {:>7} KiB",
                comm(pid),
                pid,
                pss_kib(pid)
            );
            for (name, kib) in pss_by_mapping(pid).into_iter().take(25) {
                println!("      {kib:>7} KiB  {name}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// When a process started (Unix ms, 10 ms resolution): its start in clock ticks after boot
/// (`/proc/<pid>/stat`, field 22; USER_HZ is 100 on Linux) plus the boot instant (now minus
/// `/proc/uptime`, which has the same resolution; `btime` has whole seconds only).
fn process_start_ms(pid: u32) -> f64 {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (in parentheses): state is field 3, starttime field 22.
    let rest = stat.rsplit_once(") ").unwrap().1;
    let ticks: f64 = rest.split(' ').nth(22 - 3).unwrap().parse().unwrap();
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0;
    now_ms - uptime * 1000.0 + ticks / USER_HZ * 1000.0
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

//! Headless Chromium (Debian's `chromium` and `chromium-driver`) under WebDriver, for the web
//! app and the SDK in a real browser engine. One chromedriver per test on a port the OS
//! chose; each page ([`Browser::open`]) is its own browser with its own profile (its own
//! cookies and storage), in which notifications are allowed. Screenshots are WebDriver's capture of the page, saved as
//! `<target>/e2e-screenshots/<test>/<n>-<label>.png`.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::Mutex,
};

use fantoccini::ClientBuilder;
use serde_json::json;

use crate::{free_port, target_profile_dir, App, Proc, TIMEOUT};

pub struct Browser {
    port: u16,
    shots: PathBuf,
    shot_count: Mutex<u32>,
    profiles: tempfile::TempDir,
    _driver: Proc,
}

fn executable(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
        .unwrap_or_else(|| {
            panic!(
                "none of {candidates:?} exists: install Debian's chromium and chromium-driver (scripts/test.sh does)"
            )
        })
}

impl Browser {
    /// Starts chromedriver; `name` names the test's screenshot folder.
    pub async fn start(name: &str) -> Self {
        let driver = executable(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
        let port = free_port();
        let proc = Proc::spawn(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        crate::wait_listening(port, "chromedriver").await;
        let shots = target_profile_dir()
            .parent()
            .unwrap()
            .join("e2e-screenshots")
            .join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            port,
            shots,
            shot_count: Mutex::new(0),
            profiles: tempfile::tempdir().unwrap(),
            _driver: proc,
        }
    }

    /// A new browser window (its own profile) on `url`.
    pub async fn open(&self, url: &str) -> App {
        let chromium = executable(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let profile = tempfile::tempdir_in(self.profiles.path()).unwrap().keep();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-default-apps",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.display()),
                ],
                // As if the user had allowed this site's notifications when asked.
                "prefs": {"profile.default_content_setting_values.notifications": 1},
            }),
        );
        let client = tokio::time::timeout(
            TIMEOUT,
            ClientBuilder::native()
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{}", self.port)),
        )
        .await
        .expect("Chromium did not start within the timeout")
        .expect("WebDriver session");
        client.goto(url).await.expect("the page loads");
        App {
            client,
            display: None,
            shots: self.shots.clone(),
        }
    }

    /// Saves the page as `<n>-<label>.png`, once it has painted (two animation frames).
    pub async fn screenshot(&self, app: &App, label: &str) -> PathBuf {
        let _ = app
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        let n = {
            let mut count = self.shot_count.lock().unwrap();
            *count += 1;
            *count
        };
        let path = self.shots.join(format!("{n:02}-{label}.png"));
        let png = app.client.screenshot().await.expect("a screenshot");
        std::fs::write(&path, png).unwrap();
        path
    }
}

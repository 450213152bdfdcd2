//! The end-to-end harness: a private desktop session (Xvfb, a D-Bus session bus,
//! gnome-keyring's Secret Service, the dunst notification daemon) and the real desktop app
//! driven through tauri-driver + WebKitWebDriver with fantoccini, against the server of the
//! shared test kit (`parley-testkit`'s `TestServer`, re-exported here). Every wait has a
//! timeout; ports are chosen by the OS; each test gets its own display, bus and directories,
//! so tests run in parallel. Screenshots (`import -window root`) land in
//! `<target>/e2e-screenshots/<test>/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
pub use parley_testkit::{
    free_port, node, target_profile_dir, workspace_binary, Cli, TestServer, RELAXED,
};
use serde_json::json;

mod app_files;
pub mod browser;
mod processes;
pub mod tray;
pub mod windows;

pub use processes::{
    alive, app_pid, mode, processes_named, servers_on, wait_until, wait_until_async,
};

pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Waits (at most [`TIMEOUT`]) until something listens on `127.0.0.1:<port>`: a WebDriver
/// server just started (`what` names it in the failure).
pub async fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The app the harness launches: `PARLEY_APP_BIN` when set (`make measure-app` measures the
/// `app-small` build people get; that app joins a server and hosts none, so no
/// `parley-server` needs to sit next to it), else the one next to the running executable.
pub fn app_binary() -> PathBuf {
    std::env::var_os("PARLEY_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_binary("parley-app"))
}

/// A child process in its own process group, killed (group and all) when dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: rustix::process::Signal) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, signal);
        }
    }

    /// SIGTERM to the group, then waits (killing after the timeout).
    pub fn stop(&mut self) {
        self.signal(rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal(rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.signal(rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

/// Options for a desktop session.
#[derive(Clone, Copy)]
pub struct DesktopOptions {
    /// Run gnome-keyring's Secret Service on the session bus.
    pub keyring: bool,
    /// More environment for the desktop session: the app, and the server it hosts, inherit it
    /// (`PARLEY_ANALYTICS_INTERVAL`, ...).
    pub env: &'static [(&'static str, &'static str)],
}

impl Default for DesktopOptions {
    fn default() -> Self {
        Self {
            keyring: true,
            env: &[],
        }
    }
}

/// A private desktop: an X display, a D-Bus session with a keyring and a notification daemon,
/// and tauri-driver in it, with the app's XDG directories in a temporary home.
pub struct Desktop {
    pub name: String,
    pub display: String,
    pub dbus: String,
    pub home: tempfile::TempDir,
    driver_port: u16,
    shots: PathBuf,
    shot_count: Mutex<u32>,
    _session: Proc,
    _xvfb: Proc,
}

impl Desktop {
    pub async fn start(name: &str, options: DesktopOptions) -> Self {
        // PARLEY_E2E_KEEP=1 keeps the home (app config, data, the hosted server's log).
        let keep = std::env::var_os("PARLEY_E2E_KEEP").is_some();
        let home = tempfile::Builder::new()
            .prefix("parley-e2e-")
            .disable_cleanup(keep)
            .tempdir()
            .unwrap();
        if keep {
            eprintln!("{name}: desktop home {}", home.path().display());
        }
        // Xvfb picks a free display and prints its number.
        let mut xvfb = Proc::spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "1280x800x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let stdout = xvfb.child.stdout.take().unwrap();
        let number = tokio::time::timeout(
            TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).unwrap();
                line
            }),
        )
        .await
        .expect("Xvfb did not start")
        .unwrap();
        let display = format!(":{}", number.trim());
        let (driver_port, native_port) = (free_port(), free_port());
        let env_file = home.path().join("session.env");
        let script = format!(
            r#"set -e
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
if [ "{keyring}" = 1 ]; then
  eval "$(echo '' | gnome-keyring-daemon --unlock --components=secrets)"
fi
dunst -config /dev/null >/dev/null 2>&1 &
printf 'DBUS_SESSION_BUS_ADDRESS=%s\n' "$DBUS_SESSION_BUS_ADDRESS" > "{env}.tmp"
mv "{env}.tmp" "{env}"
exec tauri-driver --port {driver_port} --native-port {native_port}
"#,
            keyring = u8::from(options.keyring),
            env = env_file.display(),
        );
        let h = home.path();
        // The system's URL handler: records what the app asks to open (no browser here).
        let bin = h.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let opener = bin.join("xdg-open");
        std::fs::write(
            &opener,
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$HOME/opened-links.txt\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&opener, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let session = Proc::spawn(
            Command::new("dbus-run-session")
                .args(["--", "sh", "-c", &script])
                .envs(options.env.iter().copied())
                .env("DISPLAY", &display)
                .env("HOME", h)
                .env("XDG_CONFIG_HOME", h.join("config"))
                .env("XDG_DATA_HOME", h.join("data"))
                .env("XDG_CACHE_HOME", h.join("cache"))
                .env("XDG_RUNTIME_DIR", h.join("run"))
                .env("NO_AT_BRIDGE", "1")
                .env("PATH", &path)
                // Draw straight into the X window, so screenshots show the current frame.
                .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
                .env("PARLEY_LOG", "warn,parley_app=info")
                .env_remove("DBUS_SESSION_BUS_ADDRESS")
                .env_remove("PARLEY_NO_KEYRING")
                .env_remove("WAYLAND_DISPLAY")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit()),
        );
        let deadline = Instant::now() + TIMEOUT;
        let dbus = loop {
            if let Ok(text) = std::fs::read_to_string(&env_file) {
                break text
                    .trim()
                    .strip_prefix("DBUS_SESSION_BUS_ADDRESS=")
                    .unwrap()
                    .to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the desktop session did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // tauri-driver answers once it listens.
        wait_listening(driver_port, "tauri-driver").await;
        let shots = target_profile_dir()
            .parent()
            .unwrap()
            .join("e2e-screenshots")
            .join(name);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Self {
            name: name.to_owned(),
            display,
            dbus,
            home,
            driver_port,
            shots,
            shot_count: Mutex::new(0),
            _session: session,
            _xvfb: xvfb,
        }
    }

    /// Launches the app (a new WebDriver session) and waits for its first screen.
    pub async fn launch(&self) -> App {
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({"application": app_binary()}));
        caps.insert("browserName".into(), json!("wry"));
        let client = tokio::time::timeout(
            TIMEOUT,
            ClientBuilder::native()
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{}", self.driver_port)),
        )
        .await
        .expect("the app did not start within the timeout")
        .expect("WebDriver session");
        App {
            client,
            display: Some(self.display.clone()),
            shots: self.shots.clone(),
        }
    }

    /// Saves what the screen shows (`import -window root`) as `<n>-<label>.png`, once the app
    /// has painted its current state (two animation frames).
    pub async fn screenshot_app(&self, app: &App, label: &str) -> PathBuf {
        let _ = app
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        self.screenshot(label)
    }

    /// Saves what the screen shows now (`import -window root`) as `<n>-<label>.png`.
    pub fn screenshot(&self, label: &str) -> PathBuf {
        let n = {
            let mut count = self.shot_count.lock().unwrap();
            *count += 1;
            *count
        };
        let path = self.shots.join(format!("{n:02}-{label}.png"));
        let status = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(&path)
            .status()
            .expect("ImageMagick's import");
        assert!(status.success(), "screenshot failed");
        path
    }

    /// Waits until the app has asked the system to open `url` (the desktop's `xdg-open`
    /// records every request).
    pub async fn wait_link_opened(&self, url: &str) {
        let file = self.home.path().join("opened-links.txt");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let opened = std::fs::read_to_string(&file).unwrap_or_default();
            if opened.lines().any(|l| l.trim() == url) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the app did not open {url}; opened: {opened:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The environment of a program run inside this desktop's session.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let h = self.home.path();
        cmd.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.dbus)
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join("config"))
            .env("XDG_DATA_HOME", h.join("data"))
            .env("XDG_RUNTIME_DIR", h.join("run"));
        cmd
    }

    /// Notifications shown from now on (each `Notify` call on the session bus, as text).
    pub fn watch_notifications(&self) -> NotificationWatch {
        let mut cmd = self.command("dbus-monitor");
        cmd.args([
            "--session",
            "interface='org.freedesktop.Notifications',member='Notify'",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        let mut proc = Proc::spawn(&mut cmd);
        let stdout = proc.child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                sink.lock().unwrap().push(line);
            }
        });
        NotificationWatch { lines, _proc: proc }
    }

    /// The app's files (config and data), for checking what it wrote.
    pub fn app_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.home.path().join("config"), &mut files);
        walk(&self.home.path().join("data"), &mut files);
        files
    }
}

pub struct NotificationWatch {
    lines: Arc<Mutex<Vec<String>>>,
    _proc: Proc,
}

impl NotificationWatch {
    /// Waits until a notification's text contains `needle`; everything seen so far.
    pub async fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.lines.lock().unwrap().join("\n");
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no notification with {needle:?}; the bus saw:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until dbus-monitor is a monitor: it prints the bus's `NameLost` for its own name
    /// once it has become one; notifications sent after that are seen.
    pub async fn ready(&self) {
        self.wait_for("member=NameLost", TIMEOUT).await;
    }

    pub fn seen(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

/// The app under WebDriver: the desktop app (tauri-driver), or the web app in a browser
/// (chromedriver, [`browser::Browser`]).
pub struct App {
    pub client: Client,
    /// The X display of the desktop app (screenshots of the whole screen); None for a
    /// browser, whose page WebDriver captures.
    display: Option<String>,
    shots: PathBuf,
}

impl App {
    /// A screenshot named after a failed wait, before the test panics.
    async fn failure_shot(&self, what: &str) {
        let name: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(60)
            .collect();
        let path = self.shots.join(format!("failed-{name}.png"));
        match &self.display {
            Some(display) => {
                let _ = Command::new("import")
                    .args(["-display", display, "-window", "root"])
                    .arg(path)
                    .status();
            }
            None => {
                if let Ok(png) = self.client.screenshot().await {
                    let _ = std::fs::write(path, png);
                }
            }
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.wait_for(css).await
    }

    /// Waits until an element matching `css` exists.
    pub async fn wait_for(&self, css: &str) -> Element {
        // Polls find (a re-render between finding and using an element is retried).
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if Instant::now() > deadline => {
                    self.failure_shot(css).await;
                    panic!("no element {css}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Waits until `check` holds for the elements matching `css`.
    pub async fn wait_until<F>(&self, css: &str, what: &str, mut check: F) -> Vec<Element>
    where
        F: FnMut(&[(String, Element)]) -> bool,
    {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let found = self
                .client
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default();
            let mut with_text = Vec::with_capacity(found.len());
            for e in found {
                let text = e.text().await.unwrap_or_default();
                with_text.push((text, e));
            }
            if check(&with_text) {
                return with_text.into_iter().map(|(_, e)| e).collect();
            }
            if Instant::now() > deadline {
                self.failure_shot(what).await;
                let texts: Vec<&String> = with_text.iter().map(|(t, _)| t).collect();
                panic!("timed out waiting for {what} ({css}); found {texts:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until some element matching `css` has text containing `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> Element {
        let mut all = self
            .wait_until(css, text, |els| els.iter().any(|(t, _)| t.contains(text)))
            .await;
        let mut idx = 0;
        for (i, e) in all.iter().enumerate() {
            if e.text().await.unwrap_or_default().contains(text) {
                idx = i;
                break;
            }
        }
        all.swap_remove(idx)
    }

    /// Hosts a new workspace on this computer (the bundled server) from the first screen, as
    /// `user`, its admin; returns once the app shows that user signed in.
    pub async fn host_workspace(&self, user: &str, password: &str) {
        self.click("[data-testid=host-workspace]").await;
        self.type_into("#username", user).await;
        self.type_into("#password", password).await;
        self.click("[data-testid=submit-host]").await;
        self.wait_text("[data-testid=current-user]", user).await;
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    pub async fn attr(&self, e: &Element, name: &str) -> Option<String> {
        e.attr(name).await.unwrap()
    }

    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}

/// A script for `execute_async`: an image on the clipboard pasted into the composer, as a
/// browser hands one to the page (a 120×80 PNG of `colour`, drawn on a canvas, as a file in a
/// paste event's clipboard data).
pub fn paste_image_script(colour: &str) -> String {
    format!(
        "const done = arguments[arguments.length - 1];\
         const canvas = document.createElement('canvas'); canvas.width = 120; canvas.height = 80;\
         const g = canvas.getContext('2d'); g.fillStyle = '{colour}'; g.fillRect(0, 0, 120, 80);\
         canvas.toBlob((blob) => {{\
           const data = new DataTransfer();\
           data.items.add(new File([blob], 'image.png', {{type: 'image/png'}}));\
           const composer = document.querySelector('[data-testid=composer]');\
           composer.focus();\
           composer.dispatchEvent(new ClipboardEvent('paste', {{clipboardData: data, bubbles: true, cancelable: true}}));\
           done(true);\
         }}, 'image/png');"
    )
}

/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";
/// WebDriver's Escape key.
pub const ESCAPE: &str = "\u{E00C}";
/// WebDriver's Control key: held for the following keys until [`RELEASE_KEYS`].
pub const CONTROL: &str = "\u{E009}";
/// WebDriver's NULL key: releases the modifiers held so far.
pub const RELEASE_KEYS: &str = "\u{E000}";

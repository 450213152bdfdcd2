//! Processes and files, for checks on what the app leaves running or writes.

use std::time::Duration;

use crate::{Desktop, TIMEOUT};

/// The permission bits of a file or directory.
pub fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `parley-server serve` processes on this data directory (by their command line).
pub fn servers_on(server_data: &std::path::Path) -> Vec<u32> {
    processes_named("parley-server")
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.contains(&*server_data.to_string_lossy()) && c.contains("serve")
                })
                .unwrap_or(false)
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// The app's process in this desktop (by its `HOME`).
pub fn app_pid(desktop: &Desktop) -> Option<u32> {
    let home = format!("HOME={}", desktop.home.path().display());
    processes_named("parley-app").into_iter().find(|pid| {
        alive(*pid)
            && std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == home.as_bytes()))
    })
}

/// Waits until `check` holds (polling), or panics with `what`.
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Processes with this command name (`/proc/<pid>/comm`).
pub fn processes_named(name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .collect()
}

/// Polls an async check until it holds, for at most the kit's timeout.
pub async fn wait_until_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(TIMEOUT, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out: {what}"));
}

//! "Host a workspace on this computer": the bundled `parley-server` binary, run as a child
//! process with its data under the app's data directory, listening on loopback. It is
//! installed next to the app (`/usr/bin/parley-server` from the .deb; `target/<profile>/` in a
//! workspace build); `PARLEY_SERVER_BIN` overrides the path.
//!
//! The hosted server is locked down for a desktop: registration is off (the administrator adds
//! people), only requests naming a loopback host are served (a web page that rebinds its DNS
//! name to 127.0.0.1 gets 403), its data directory is the user's alone, it ends with the app
//! (`--exit-with-parent`: a parent-death signal), and a launch that finds a server of an
//! earlier run still serving the same data stops it before starting its own.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{io::AsyncWriteExt, process::Command};

use crate::types::AppError;

/// Where the bundled server binary is.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("PARLEY_SERVER_BIN") {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("parley-server")))
        .unwrap_or_else(|| PathBuf::from("parley-server"))
}

/// The bundled server, with the settings every hosted use shares: the hardening above, and no
/// backtraces in what it prints (the app shows its error line to people).
pub(crate) fn server_command(data: &Path) -> Command {
    server_command_with(&server_binary(), data)
}

fn server_command_with(binary: &Path, data: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.arg("--data")
        .arg(data)
        .env("PARLEY_ACCOUNTS_REGISTRATION", "invite")
        .env("PARLEY_SERVER_ALLOWED_HOSTS", crate::lan::LOOPBACK_HOSTS)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .kill_on_drop(true);
    // `server.log` is appended to for the workspace's life: keep the server's own lines, not
    // an access line per request, unless the person asks for them.
    if std::env::var_os("PARLEY_LOG").is_none() {
        cmd.env("PARLEY_LOG", "info,parley::access=off");
    }
    cmd
}

/// The line of the server's error output that says what went wrong: `Error: …` (what its
/// `main` prints), never a backtrace frame or a log line.
pub fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    if let Some(line) = lines.iter().find_map(|l| l.strip_prefix("Error: ")) {
        return line.trim().to_owned();
    }
    // Something else (a panic): its message, not the frames that follow.
    if let Some(line) = lines.iter().find(|l| l.contains("panicked at")) {
        return (*line).to_owned();
    }
    "the server gave no reason".to_owned()
}

/// A port free right now on loopback.
pub fn free_port() -> Result<u16, AppError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AppError::new("host_failed", format!("no free port: {e}")))
}

/// Creates the first admin account in a new workspace's data directory.
pub async fn create_admin(data: &Path, username: &str, password: &str) -> Result<(), AppError> {
    add_account(data, username, password, true).await
}

/// Creates an account in the workspace's data directory (`parley-server user add`; SQLite's
/// locking makes this safe beside the running server).
pub async fn add_account(
    data: &Path,
    username: &str,
    password: &str,
    admin: bool,
) -> Result<(), AppError> {
    add_account_with(&server_binary(), data, username, password, admin).await
}

async fn add_account_with(
    binary: &Path,
    data: &Path,
    username: &str,
    password: &str,
    admin: bool,
) -> Result<(), AppError> {
    // Checked here first, by the rule the server applies (one rule, in parley-protocol).
    if !parley_protocol::names::is_valid_user_name(username) {
        return Err(AppError::new(
            "invalid_user",
            parley_protocol::names::user_name_rule(),
        ));
    }
    parley_client::files::private_dir(data)
        .map_err(|e| AppError::new("host_failed", format!("{}: {e}", data.display())))?;
    let mut cmd = server_command_with(binary, data);
    cmd.args(["user", "add", username, "--password-stdin"]);
    if admin {
        cmd.arg("--admin");
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            AppError::new(
                "host_failed",
                format!(
                    "cannot start the bundled server ({}): {e}",
                    binary.display()
                ),
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let line = format!("{password}\n");
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| AppError::new("host_failed", e.to_string()))?;
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| AppError::new("host_failed", "creating the account timed out"))?
        .map_err(|e| AppError::new("host_failed", e.to_string()))?;
    if out.status.success() {
        return Ok(());
    }
    let reason = error_line(&String::from_utf8_lossy(&out.stderr));
    let code = if reason.contains("taken") || reason.contains("exists") {
        "name_taken"
    } else if reason.contains("invalid_user") || reason.contains("user names") {
        "invalid_user"
    } else {
        "host_failed"
    };
    Err(AppError::new(
        code,
        format!("cannot create the account: {reason}"),
    ))
}

/// Stops a `parley-server` of an earlier run that still serves `data` (the app was killed
/// before it could stop it): the one named by the server's lock file, and any whose command
/// line names the directory. It gets SIGTERM (it flushes and closes its store), then SIGKILL
/// after 10 s. Two servers on one data directory must never run.
pub async fn stop_stale_servers(data: &Path) {
    let mut pids: Vec<i32> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(data.join("parley.lock")) {
        if let Some(pid) = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["pid"].as_i64())
            .and_then(|p| i32::try_from(p).ok())
        {
            pids.push(pid);
        }
    }
    pids.extend(servers_on(data));
    pids.sort_unstable();
    pids.dedup();
    let me = std::process::id() as i32;
    for pid in pids {
        if pid == me || !is_server(pid) {
            continue;
        }
        tracing::warn!(
            pid,
            "a parley-server of an earlier run still serves this workspace: stopping it"
        );
        let Some(target) = rustix::process::Pid::from_raw(pid) else {
            continue;
        };
        let _ = rustix::process::kill_process(target, rustix::process::Signal::TERM);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while is_server(pid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if is_server(pid) {
            let _ = rustix::process::kill_process(target, rustix::process::Signal::KILL);
        }
    }
}

/// Whether `pid` is a live (not zombie) `parley-server`.
fn is_server(pid: i32) -> bool {
    let comm_ok = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim() == "parley-server");
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name in parentheses: Z is a zombie, X dead.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    });
    comm_ok && alive
}

/// `parley-server serve` processes whose command line names `data`.
fn servers_on(data: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let data = data.to_string_lossy().into_owned();
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.contains(&data.as_bytes()) && args.contains(&b"serve".as_slice())
            })
        })
        .filter(|pid| is_server(*pid))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_error_line_is_the_reason_never_a_backtrace() {
        let stderr = "2026-12-06T05:00:00Z  INFO parley_server: opening\n\
            Error: invalid_user: user names are 1 to 40 letters, digits, '-', '_' or '.', starting with a letter or digit\n\
            \n\
            Stack backtrace:\n   0: anyhow::error::<impl anyhow::Error>::msg\n  19: _start\n";
        let line = error_line(stderr);
        assert!(line.starts_with("invalid_user: user names are"), "{line}");
        assert!(!line.contains("_start"));
        assert_eq!(
            error_line("   18: main\n  19: _start\n"),
            "the server gave no reason"
        );
    }

    /// The host flow with a bad user name: refused with the rule before the server is asked,
    /// and (asked anyway, with backtraces on) the server's own reason, not a frame.
    #[tokio::test]
    async fn a_bad_user_name_gets_the_rule() {
        let data = tempfile::tempdir().unwrap();
        let err = create_admin(data.path(), "john smith", "correct horse")
            .await
            .unwrap_err();
        assert_eq!(err.code, "invalid_user");
        assert!(err.message.contains("user names are"), "{}", err.message);
        assert!(
            !data.path().join("parley.db").exists(),
            "the server was asked"
        );
    }

    #[tokio::test]
    async fn the_servers_refusal_is_its_reason() {
        let server = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("parley-server");
        assert!(
            server.exists(),
            "{} is not built: cargo build -p parley-server",
            server.display()
        );
        let data = tempfile::tempdir().unwrap();
        let data = data.path().join("server");
        add_account_with(&server, &data, "alice", "correct horse", true)
            .await
            .unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "the hosted server's data directory is private");
        }
        let err = add_account_with(&server, &data, "alice", "correct horse", false)
            .await
            .unwrap_err();
        assert_eq!(err.code, "name_taken", "{}", err.message);
        assert!(!err.message.contains("_start"), "{}", err.message);
    }
}

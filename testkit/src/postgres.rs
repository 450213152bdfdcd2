//! A real PostgreSQL (Debian's package) for tests: a cluster made by `initdb` in a temporary
//! directory (in memory under `/dev/shm` where there is one), served on a free loopback port
//! and stopped when dropped. `initdb` refuses to run as root, so as root the cluster belongs to
//! the `postgres` user the package creates. Durability is off (`fsync`, `synchronous_commit`):
//! a test never outlives its cluster.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::START_TIMEOUT;

/// A running PostgreSQL; stopped (immediate shutdown) and removed when dropped.
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Makes a cluster and starts it; ready when it accepts connections. Panics with what went
    /// wrong when PostgreSQL is not installed (scripts/test.sh installs it).
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|err| panic!("{err}"))
    }

    pub fn try_start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let base = if roomy_shm() {
            tempfile::Builder::new()
                .prefix("parley-pg-")
                .tempdir_in("/dev/shm")
        } else {
            tempfile::Builder::new().prefix("parley-pg-").tempdir()
        }
        .map_err(|e| format!("temp dir for PostgreSQL: {e}"))?;
        let owner = owner()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(base.path(), Some(uid), Some(gid))
                .map_err(|e| format!("chown the PostgreSQL dir: {e}"))?;
        }
        let dir = base.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&dir)
            .args([
                "-A",
                "trust",
                "-N",
                "--no-locale",
                "-E",
                "UTF8",
                "-U",
                "postgres",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_owner(&mut initdb, owner);
        let out = initdb
            .output()
            .map_err(|e| format!("run initdb (Debian package postgresql): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // A port taken between choosing and binding makes the server exit: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = crate::free_port();
            let mut server = Command::new(bin.join("postgres"));
            server
                .arg("-D")
                .arg(&dir)
                .args(["-p", &port.to_string(), "-k"])
                .arg(base.path())
                .args([
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "shared_buffers=32MB",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "log_min_messages=fatal",
                    "-c",
                    "log_min_error_statement=panic",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            as_owner(&mut server, owner);
            let mut child = server.spawn().map_err(|e| format!("start postgres: {e}"))?;
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Ok(Self {
                        child: Some(child),
                        port,
                        dir,
                        _dir: base,
                    })
                }
                Err(err) => {
                    last = err;
                    stop_child(child);
                }
            }
        }
        Err(last)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for database `postgres` as the superuser.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// A connection URL for database `name` (see [`Postgres::create_database`]).
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database (for several stores on one cluster).
    pub fn create_database(&self, name: &str) {
        let out = Command::new(bin_dir().unwrap().join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "CREATE DATABASE {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs one SQL statement with psql and returns its output, rows one per line, columns
    /// separated by `|`.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(bin_dir().unwrap().join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child);
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `/dev/shm` (memory) has room for clusters: a container's is often 64 MiB, where two
/// clusters at once would not fit; then the temporary directory on disk is used.
fn roomy_shm() -> bool {
    rustix::fs::statvfs("/dev/shm")
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize) > 2 << 30)
        .unwrap_or(false)
}

/// True once the server accepts connections (`pg_isready`: a server still starting answers,
/// but refuses logins).
fn accepts_connections(port: u16) -> bool {
    let Ok(bin) = bin_dir() else { return false };
    Command::new(bin.join("pg_isready"))
        .args([
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-t",
            "2",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Debian's server binaries: `/usr/lib/postgresql/<version>/bin`, the newest installed, or
/// `PARLEY_TEST_PG_BIN`.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PARLEY_TEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); scripts/test.sh installs it")
        })?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server under /usr/lib/postgresql".into())
}

/// The user the cluster runs as when the tests run as root: `postgres`.
fn owner() -> Result<Option<(u32, u32)>, String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == "postgres").then_some(())?;
            let _password = fields.next()?;
            let uid = fields.next()?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some(Some((uid, gid)))
        })
        .ok_or_else(|| "no postgres user (Debian package postgresql creates it)".into())
}

fn as_owner(command: &mut Command, owner: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("postgres exited at start: {status}"));
        }
        if accepts_connections(port) {
            return Ok(());
        }
        if started.elapsed() > START_TIMEOUT {
            return Err("postgres did not accept connections in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Immediate shutdown (SIGQUIT), then SIGKILL if it lingers.
fn stop_child(mut child: Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

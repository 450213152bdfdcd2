//! [`TestServer`]: one Parley server on `127.0.0.1` with a temporary data directory and its
//! config file in it, started in one of two modes.
//!
//! - **In-process** ([`TestServer::start`], [`ServerBuilder::start`]): `Server::open` and
//!   `serve` on a runtime of its own, on a thread of its own, so the test's runtime (often
//!   single-threaded) and its blocking calls never stall the server, and two servers in one test
//!   process share nothing but the log subscriber. Starts in milliseconds.
//! - **A process** ([`TestServer::start_process`], [`ServerBuilder::start_process`]): the real
//!   `parley-server` binary, for tests that kill it, signal it, read its `/proc` entries (pid,
//!   memory with the binary's allocator, open-file limits), check the data-directory lock or
//!   its output.
//!
//! Both modes stop the same way (a graceful shutdown that closes every socket with 1001 after
//! flushing and commits what is pending), restart on the same address and data, and run the
//! admin subcommands of the binary against the data directory.

mod in_process;
mod process;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use self::{in_process::InProcessServer, process::ServerProcess};
use crate::{Error, TIMEOUT};

pub use self::process::{first_stdout_line, signal};

/// How the server is run.
enum Mode {
    InProcess,
    Process {
        binary: PathBuf,
        /// Shell commands run before the server (through `sh -c`), e.g. `ulimit -Sn 256`.
        shell_prefix: Option<String>,
    },
}

enum Running {
    InProcess(InProcessServer),
    Process(ServerProcess),
}

/// Settings for a [`TestServer`] before it starts.
pub struct ServerBuilder {
    config: String,
    env: Vec<(String, String)>,
    binary: Option<PathBuf>,
    shell_prefix: Option<String>,
    log_filter: String,
    stop_timeout: Duration,
    /// Admin subcommands run on the new data directory before the server first starts.
    admin_first: Vec<(Vec<String>, Option<String>)>,
    /// The CA the test trusts when the server serves TLS.
    tls_ca: Option<PathBuf>,
    /// Store everything in this PostgreSQL database (`storage.backend = "postgres"`).
    postgres_url: Option<String>,
    /// SQLite whatever `PARLEY_TEST_BACKEND` says (the test reads the database file).
    sqlite: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            config: String::new(),
            // Test servers start with no channels: tests make the ones they use (many make a
            // `general` of their own). Tests of the first channel set it back with `envs`.
            // Registration is open, so tests register freely; tests of the registration modes
            // set it back with `envs` (a later value wins).
            env: vec![
                ("PARLEY_WORKSPACE_FIRST_CHANNEL".to_owned(), String::new()),
                ("PARLEY_ACCOUNTS_REGISTRATION".to_owned(), "open".to_owned()),
            ],
            binary: None,
            shell_prefix: None,
            log_filter: "warn".to_owned(),
            stop_timeout: TIMEOUT,
            admin_first: Vec::new(),
            tls_ca: None,
            postgres_url: None,
            sqlite: false,
        }
    }
}

impl ServerBuilder {
    /// The config file's text (TOML).
    pub fn config(mut self, text: &str) -> Self {
        text.clone_into(&mut self.config);
        self
    }

    /// `PARLEY_*` settings as environment variables: the process's environment, or applied
    /// to the config in-process exactly as the binary applies its environment.
    pub fn envs(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// The server binary to run (process mode); by default `parley-server` of the workspace
    /// build next to the running executable.
    pub fn binary(mut self, path: &Path) -> Self {
        self.binary = Some(path.to_owned());
        self
    }

    /// Shell commands run before the server starts (process mode), e.g. `ulimit -Sn 256`.
    pub fn shell_prefix(mut self, prefix: &str) -> Self {
        self.shell_prefix = Some(prefix.to_owned());
        self
    }

    /// `PARLEY_LOG` for a server process (`warn` unless set). In-process servers share the
    /// test process's one log subscriber, filtered by its own `PARLEY_LOG`.
    pub fn log_filter(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log_filter);
        self
    }

    /// An admin subcommand (`user add …`, `token create …`) run on the new data directory before
    /// the server first starts, as an operator prepares a workspace; it must succeed.
    pub fn admin_first(mut self, args: &[&str], stdin: Option<&str>) -> Self {
        self.admin_first.push((
            args.iter().map(|a| (*a).to_owned()).collect(),
            stdin.map(str::to_owned),
        ));
        self
    }

    /// A workspace admin `root` (password [`crate::PASSWORD`]) made with the admin CLI before
    /// the server starts; [`TestServer::root`] signs it in.
    pub fn with_root_admin(self) -> Self {
        let stdin = format!("{}\n", crate::PASSWORD);
        self.admin_first(
            &["user", "add", "root", "--admin", "--password-stdin"],
            Some(&stdin),
        )
    }

    /// Serves HTTPS and WSS with `cert` (`server.tls_cert`/`tls_key` through the environment);
    /// the server's [`TestServer::http`] client trusts `ca` only.
    pub fn tls(mut self, cert: &crate::tls::ServerCert, ca: &Path) -> Self {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        self.env
            .push(("PARLEY_SERVER_TLS_CERT".to_owned(), path(&cert.cert)));
        self.env
            .push(("PARLEY_SERVER_TLS_KEY".to_owned(), path(&cert.key)));
        self.tls_ca = Some(ca.to_owned());
        self
    }

    /// How long a stop waits for the server to end ([`TIMEOUT`] unless set).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Starts the server in this process.
    pub async fn start(self) -> TestServer {
        assert!(
            self.binary.is_none() && self.shell_prefix.is_none(),
            "a binary or a shell prefix needs start_process()"
        );
        self.launch(Mode::InProcess)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the real binary as a child process.
    pub async fn start_process(self) -> TestServer {
        self.try_start_process()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the real binary as a child process; errors are returned.
    pub async fn try_start_process(mut self) -> Result<TestServer, Error> {
        let binary = match self.binary.take() {
            Some(binary) => binary,
            None => crate::find_workspace_binary("parley-server")?,
        };
        let shell_prefix = self.shell_prefix.take();
        self.launch(Mode::Process {
            binary,
            shell_prefix,
        })
        .await
    }

    /// Stores everything in the PostgreSQL database at `url` (`storage.backend = "postgres"`)
    /// instead of SQLite in the data directory: for several servers sharing one database.
    pub fn postgres(mut self, url: &str) -> Self {
        self.postgres_url = Some(url.to_owned());
        self
    }

    /// Keeps SQLite even under `PARLEY_TEST_BACKEND=postgres`: for tests that open the data
    /// directory's database file themselves.
    pub fn sqlite(mut self) -> Self {
        self.sqlite = true;
        self
    }

    async fn launch(mut self, mode: Mode) -> Result<TestServer, Error> {
        // `PARLEY_TEST_BACKEND=postgres` runs every test server on a PostgreSQL cluster of its
        // own (started here, stopped with the server): the whole suite against that store.
        let mut own_postgres = None;
        if self.postgres_url.is_none()
            && !self.sqlite
            && std::env::var("PARLEY_TEST_BACKEND").as_deref() == Ok("postgres")
        {
            let pg = tokio::task::spawn_blocking(crate::postgres::Postgres::try_start)
                .await
                .map_err(|e| Error::StartFailed(e.to_string()))?
                .map_err(Error::StartFailed)?;
            self.postgres_url = Some(pg.url());
            own_postgres = Some(pg);
        }
        if let Some(url) = &self.postgres_url {
            self.env
                .push(("PARLEY_STORAGE_BACKEND".to_owned(), "postgres".to_owned()));
            self.env
                .push(("PARLEY_STORAGE_POSTGRES_URL".to_owned(), url.clone()));
        }
        let data = tempfile::tempdir()?;
        let config_path = data.path().join("parley.toml");
        std::fs::write(&config_path, &self.config)?;
        let mut server = TestServer {
            data,
            config_path,
            env: self.env,
            log_filter: self.log_filter,
            stop_timeout: self.stop_timeout,
            mode,
            running: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            scheme: "http",
            http: match &self.tls_ca {
                Some(ca) => crate::tls::http_client(ca),
                None => reqwest::Client::new(),
            },
            tls_ca: self.tls_ca,
            _postgres: own_postgres,
        };
        for (args, stdin) in &self.admin_first {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = server.admin(&args, stdin.as_deref());
            if !out.status.success() {
                return Err(Error::StartFailed(format!(
                    "parley-server {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        server.try_start_again().await?;
        Ok(server)
    }
}

/// How a stopped server ended.
#[derive(Debug)]
pub struct Exit(ExitKind);

#[derive(Debug)]
enum ExitKind {
    Process(std::process::ExitStatus),
    /// What `serve` returned, or how the server's thread panicked.
    InProcess(Result<(), String>),
}

impl Exit {
    /// A clean end: exit status 0, or `serve` returned without an error.
    pub fn success(&self) -> bool {
        match &self.0 {
            ExitKind::Process(status) => status.success(),
            ExitKind::InProcess(result) => result.is_ok(),
        }
    }
}

/// A Parley server for one test (see the module's documentation for its two modes).
pub struct TestServer {
    data: tempfile::TempDir,
    config_path: PathBuf,
    env: Vec<(String, String)>,
    log_filter: String,
    stop_timeout: Duration,
    mode: Mode,
    running: Option<Running>,
    /// Where it listens (port 0 before the first start); restarts listen here again.
    addr: SocketAddr,
    /// `http`, or `https` for a server given a certificate.
    scheme: &'static str,
    /// The CA its clients trust, for a server given a certificate.
    tls_ca: Option<PathBuf>,
    pub(crate) http: reqwest::Client,
    /// The PostgreSQL cluster started for this server alone (`PARLEY_TEST_BACKEND`); dropped
    /// after the server.
    _postgres: Option<crate::postgres::Postgres>,
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// An in-process server with this config.
    pub async fn start(config: &str) -> Self {
        Self::builder().config(config).start().await
    }

    /// A server process with this config.
    pub async fn start_process(config: &str) -> Self {
        Self::builder().config(config).start_process().await
    }

    /// `http://127.0.0.1:<port>` (`https://` with TLS).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `ws://127.0.0.1:<port>/ws` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.scheme == "https" { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// The CA file its clients trust ([`ServerBuilder::tls`]).
    pub fn tls_ca(&self) -> Option<&Path> {
        self.tls_ca.as_deref()
    }

    /// An HTTP client for this server's tests (it keeps connections alive between calls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Replaces the config file; it takes effect at the next (re)start.
    pub fn set_config(&self, config: &str) {
        std::fs::write(&self.config_path, config).unwrap();
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Starts again (after [`stop`](Self::stop) or [`kill`](Self::kill)) on the same address
    /// and data.
    pub async fn start_again(&mut self) {
        self.try_start_again()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub async fn try_start_again(&mut self) -> Result<(), Error> {
        assert!(self.running.is_none(), "the server is running");
        let (running, addr) = match &self.mode {
            Mode::InProcess => {
                let text = std::fs::read_to_string(&self.config_path)?;
                let mut config =
                    parley_server::config::Config::from_toml_and_env(&text, self.env.clone())
                        .map_err(|e| Error::StartFailed(e.to_string()))?;
                config.server.data_dir = Some(self.data.path().to_owned());
                config.server.listen = self.addr;
                let scheme = if config.server.tls_files().is_some() {
                    "https"
                } else {
                    "http"
                };
                let (server, addr) = InProcessServer::start(config, self.addr).await?;
                (Running::InProcess(server), (scheme, addr))
            }
            Mode::Process {
                binary,
                shell_prefix,
            } => {
                let launch = process::Launch {
                    binary,
                    shell_prefix: shell_prefix.as_deref(),
                    config: &self.config_path,
                    data: self.data.path(),
                    listen: self.addr,
                    env: &self.env,
                    log_filter: &self.log_filter,
                };
                let (child, addr) = ServerProcess::spawn(&launch).await?;
                (Running::Process(child), addr)
            }
        };
        (self.scheme, self.addr) = addr;
        self.running = Some(running);
        Ok(())
    }

    /// A graceful shutdown (SIGTERM to a process), waited for: how it ended.
    pub async fn stop(&mut self) -> Exit {
        self.try_stop().await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn try_stop(&mut self) -> Result<Exit, Error> {
        let timeout = self.stop_timeout;
        match self.running.take().expect("the server is not running") {
            Running::InProcess(server) => {
                Ok(Exit(ExitKind::InProcess(server.stop(timeout).await?)))
            }
            Running::Process(child) => Ok(Exit(ExitKind::Process(child.stop(timeout).await?))),
        }
    }

    /// Stops (asserting a clean end), then starts again on the same address and data.
    pub async fn restart(&mut self) {
        let exit = self.stop().await;
        assert!(exit.success(), "the server ended with {exit:?}");
        self.start_again().await;
    }

    /// Stops, then starts again on the same address and data; errors are returned.
    pub async fn try_restart(&mut self) -> Result<(), Error> {
        let exit = self.try_stop().await?;
        if !exit.success() {
            return Err(Error::StartFailed(format!("it had ended with {exit:?}")));
        }
        self.try_start_again().await
    }

    /// SIGKILL: no shutdown at all (process mode).
    pub async fn kill(&mut self) {
        self.take_process("kill").kill().await;
    }

    /// Hands the server process to the test (to signal and wait for it itself).
    pub fn take_child(&mut self) -> std::process::Child {
        self.take_process("take_child").into_child()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        match &self.running {
            Some(Running::Process(child)) => child.pid(),
            Some(Running::InProcess(_)) => panic!("pid needs a server process: start_process()"),
            None => panic!("the server is not running"),
        }
    }

    /// The server process's resident-memory high-water mark so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("VmHWM in /proc/<pid>/status");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap();
        kib / 1024
    }

    fn take_process(&mut self, what: &str) -> ServerProcess {
        match self.running.take() {
            Some(Running::Process(child)) => child,
            Some(Running::InProcess(_)) => panic!("{what} needs a server process: start_process()"),
            None => panic!("the server is not running"),
        }
    }

    /// Runs an admin subcommand of the server binary against this server's config, settings
    /// (`envs`) and data directory, with optional standard input.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let binary = match &self.mode {
            Mode::Process { binary, .. } => binary.clone(),
            Mode::InProcess => crate::workspace_binary("parley-server"),
        };
        process::admin(
            &binary,
            &self.config_path,
            self.data.path(),
            &self.env,
            args,
            stdin,
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A process is killed; an in-process server shuts down (its drop waits for it), so the
        // data directory is removed only after it let go of it.
        drop(self.running.take());
    }
}

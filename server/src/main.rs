//! The `parley-server` command: parses arguments, loads configuration, binds, and runs the
//! library's server; plus admin subcommands that work on the same data directory.

mod people;
mod webhook_admin;

use std::{io::Read, net::SocketAddr, path::PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use parley_server::{
    accounts, backup,
    config::Config,
    datadir::{DataDirLock, LockError},
    process::{self, Parent, ParentError},
    store,
};

/// jemalloc gives freed memory back to the system: after argon2 (19 MiB per password hash)
/// the server's resident memory drops back to ~10 MiB instead of staying at 60-120 MiB with
/// the system allocator (docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "parley-server", version, about = "Parley realtime server")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct Common {
    /// TOML configuration file (every key is optional).
    #[arg(long, global = true, env = "PARLEY_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage bot accounts (they sign in only with tokens made for them).
    #[command(subcommand)]
    Bot(BotCommand),
    /// Manage invites (registration with `accounts.registration = "invite"`).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Manage outbound webhook endpoints (those made here or over the API; `[[webhooks]]` in
    /// the configuration are changed there).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manage channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Copy the data directory (database and attachments) into DEST, a new or empty
    /// directory; works while a server runs on it.
    Backup { dest: PathBuf },
    /// Check the backup in SRC and install it into the data directory (no server may be
    /// running on it).
    Restore {
        src: PathBuf,
        /// Replace data already in the data directory, after moving it to a timestamped
        /// directory beside it.
        #[arg(long)]
        force: bool,
    },
    /// Copy the data directory's database into an empty PostgreSQL database (ids, seqs and
    /// epochs kept), for `storage.backend = "postgres"` (docs/scaling.md). No server may be
    /// running on the data directory.
    MigrateToPostgres {
        /// The PostgreSQL database (default: storage.postgres_url).
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on (overrides server.listen), e.g. 127.0.0.1:0.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// `text` or `json` (overrides server.log_format).
    #[arg(long)]
    log_format: Option<String>,
    /// End (as on SIGTERM) when the process that started the server exits (Linux). For a
    /// server that an app starts and owns.
    #[arg(long)]
    exit_with_parent: bool,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List the accounts (not deleted ones).
    List,
    /// Disable an account: it cannot sign in and its tokens are revoked.
    Disable { name: String },
    /// Enable a disabled account again.
    Enable { name: String },
    /// Delete an account; its messages stay, shown as by "deleted user".
    Delete { name: String },
    /// Print a one-time password-reset code for the user (`accounts.reset_code_expiry`).
    ResetCode { name: String },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// List the endpoints with their pending and dead deliveries.
    List,
    /// Add an endpoint; prints its secret (whsec_…) once.
    Add {
        url: String,
        /// Event types, comma-separated (message.created, custom.*, *...).
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// Channel patterns, comma-separated (team:*); default: every channel.
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
        /// The secret (whsec_ and base64); default: a new random one.
        #[arg(long)]
        secret: Option<String>,
    },
    /// Remove an endpoint and its deliveries.
    Remove { id: i64 },
    /// Send an endpoint's dead deliveries again (and enable it if a 410 disabled it).
    Replay { id: i64 },
}

#[derive(Subcommand)]
enum InviteCommand {
    /// Print a new invite code.
    Create {
        /// How many registrations it admits.
        #[arg(long)]
        uses: Option<u32>,
        /// How long it stays valid, e.g. 7d (at most accounts.max_invite_expiry).
        #[arg(long)]
        expires: Option<String>,
        /// The admin (or member) it is made by; default: the first admin.
        #[arg(long)]
        by: Option<String>,
    },
    /// List the live invites.
    List,
    /// Revoke an invite by its id.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for a user (for bots and scripts). With --channel and --op
    /// the token is scoped to those channels and operations (read, send, docs).
    Create {
        name: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// A channel the token may act in (repeat for more); needs --op.
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// An operation the token may do there: read, send, docs or publish (repeat for more).
        #[arg(long = "op")]
        ops: Vec<String>,
        /// How long the token lives, e.g. 30d or 12h (default: until revoked).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List a user's live tokens (never the tokens themselves).
    List { name: String },
    /// Revoke a token (given as argument or on standard input), or all of a user's tokens.
    Revoke {
        token: Option<String>,
        #[arg(long, conflicts_with = "token")]
        all_of: Option<String>,
    },
}

#[derive(Subcommand)]
enum BotCommand {
    /// Create a bot account; give it tokens with `token create NAME --channel ... --op ...`.
    Add {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Create a channel.
    Create {
        name: String,
        #[arg(long = "type", default_value = "public")]
        kind: String,
        #[arg(long)]
        optional_auth: bool,
        #[arg(long)]
        presence: bool,
        #[arg(long)]
        max_participants: Option<u32>,
    },
}

fn main() -> anyhow::Result<()> {
    // First of all: the later check compares against the parent that started us.
    let parent = Parent::current();
    let cli = Cli::parse();
    let mut config = Config::load(cli.common.config.as_deref(), std::env::vars())?;
    if let Some(data) = &cli.common.data {
        config.server.data_dir = Some(data.clone());
    }
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    if !matches!(command, Command::Serve(_)) {
        // Admin commands log problems (the cause behind an "internal" error) to stderr.
        init_logging(&config.server.log_format);
        warn_ignored_env(&config);
    }
    let sqlite_only = matches!(command, Command::Backup { .. } | Command::Restore { .. });
    if sqlite_only && config.storage.backend == parley_server::config::StorageBackend::Postgres {
        bail!(
            "backup and restore copy a SQLite data directory; with storage.backend = \"postgres\" \
             use PostgreSQL's own tools (pg_dump, point-in-time recovery)"
        );
    }
    match command {
        Command::Serve(args) => serve(config, args, parent),
        Command::MigrateToPostgres { to } => migrate_command(&config, to),
        Command::User(cmd) => user_command(&config, cmd),
        Command::Token(cmd) => token_command(&config, cmd),
        Command::Bot(BotCommand::Add { name, display_name }) => {
            let store = store::AdminStore::open(&config)?;
            let bot = accounts::tokens::create_bot_admin(&store, &name, display_name.as_deref())?;
            eprintln!("created bot {} (id {})", bot.name, bot.id);
            Ok(())
        }
        Command::Invite(cmd) => people::invite_command(&config, cmd),
        Command::Webhook(cmd) => webhook_admin::webhook_command(&config, cmd),
        Command::Channel(cmd) => channel_command(&config, cmd),
        Command::Backup { dest } => backup_command(&config, &dest),
        Command::Restore { src, force } => restore_command(&config, &src, force),
    }
}

fn warn_ignored_env(config: &Config) {
    for name in &config.ignored_env {
        tracing::warn!(variable = %name, "ignoring environment variable: no such setting");
    }
    for notice in config.notices() {
        tracing::info!("{notice}");
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: a log file (the app's server.log, a service's journal)
    // gets plain text.
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn serve(mut config: Config, args: ServeArgs, parent: Parent) -> anyhow::Result<()> {
    if args.exit_with_parent {
        match process::exit_with_parent(parent) {
            Ok(()) => {}
            Err(ParentError::Gone) => exit_with(&ParentError::Gone),
            Err(err @ ParentError::Unsupported(_)) => eprintln!("parley-server: warning: {err}"),
        }
    }
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(format) = args.log_format {
        if !matches!(format.as_str(), "text" | "json") {
            bail!("--log-format is text or json");
        }
        config.server.log_format = format;
    }
    init_logging(&config.server.log_format);
    warn_ignored_env(&config);
    // Before binding anything: a second server on this directory must not even take a port.
    let mut lock = match DataDirLock::acquire(&config.data_dir()) {
        Ok(lock) => lock,
        Err(err @ LockError::InUse { .. }) => exit_with(&err),
        Err(err) => return Err(err.into()),
    };
    process::raise_open_file_limit(config.realtime.max_connections);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Before binding: a bad certificate is a configuration error, reported as one.
    let tls = match config.server.tls_files() {
        Some((cert, key)) => match parley_server::Tls::load(&cert, &key) {
            Ok(tls) => Some(tls),
            Err(err) => exit_with(&err),
        },
        None => None,
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(data = %config.data_dir().display(), "starting");
        let server = parley_server::Server::open(config).await?.with_tls(tls);
        let url = format!("{}://{addr}", server.scheme());
        lock.record_url(&url)
            .context("cannot write the data directory's lock file")?;
        let shutdown = shutdown_signal()?;
        // SIGHUP must not end the server from the ready line on: registering any handler
        // replaces the default action at once (the serving loop installs the one that reloads).
        #[cfg(unix)]
        let _hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        // The one line on stdout, printed once the server is ready: scripts and tests read
        // the port from it.
        println!("listening on {url}");
        use std::io::Write;
        std::io::stdout().flush()?;
        server.serve(listener, shutdown).await?;
        // Released only once everything is committed and closed.
        drop(lock);
        Ok(())
    })
}

/// Ends the process with a one-line reason on stderr, in the form scripts and the app match.
fn exit_with(reason: &dyn std::fmt::Display) -> ! {
    eprintln!("parley-server: {reason}");
    std::process::exit(1)
}

/// Registers SIGTERM and SIGINT handlers now (so a signal that arrives as soon as the
/// listening line is out is not lost to the default action) and returns the future that
/// completes on either.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested");
    })
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .with_context(|| format!("cannot read the {what} from stdin"))?;
    let line = input.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(line)
}

fn user_command(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let store = store::AdminStore::open(config)?;
    match cmd {
        UserCommand::Add {
            name,
            admin,
            password_stdin: _,
            display_name,
        } => {
            let password = read_stdin_line("password")?;
            let user =
                accounts::create_user(&store, &name, &password, display_name.as_deref(), admin)?;
            eprintln!(
                "created user {} (id {}){}",
                user.name,
                user.id,
                if admin { " as admin" } else { "" }
            );
        }
        other => people::user_command(config, &store, other)?,
    }
    Ok(())
}

fn token_command(config: &Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let store = store::AdminStore::open(config)?;
    match cmd {
        TokenCommand::Create {
            name,
            label,
            channels,
            ops,
            expires,
        } => {
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            let scope = if channels.is_empty() && ops.is_empty() {
                None
            } else {
                Some(accounts::tokens::parse_scope(&channels, &ops)?)
            };
            let expires_at = expires
                .as_deref()
                .map(accounts::tokens::expiry)
                .transpose()?;
            let (token, stored) = accounts::tokens::scoped_token(&label, scope, expires_at)?;
            store.issue_token(user.id, &stored, config.accounts.max_tokens_per_user)?;
            println!("{token}");
        }
        TokenCommand::List { name } => {
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            let tokens = store.list_tokens(user.id, accounts::tokens::MAX_LISTED)?;
            for token in tokens {
                let info = accounts::tokens::token_info(token, 0);
                let scope = info.scope.map_or_else(
                    || "all".to_owned(),
                    |s| {
                        let ops: Vec<&str> = s.operations.iter().map(|o| o.as_str()).collect();
                        format!("{} in {}", ops.join(","), s.channels.join(","))
                    },
                );
                println!(
                    "{}\t{}\tcreated {}\tlast used {}\texpires {}\tscope {}",
                    info.id,
                    info.label,
                    info.created_at,
                    info.last_used_at.as_deref().unwrap_or("never"),
                    info.expires_at.as_deref().unwrap_or("never"),
                    scope
                );
            }
        }
        TokenCommand::Revoke {
            token,
            all_of: Some(name),
        } => {
            drop(token);
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user {name:?}"))?;
            let n = store.revoke_user_tokens(user.id)?;
            eprintln!("revoked {n} token(s) of {}", user.name);
        }
        TokenCommand::Revoke {
            token,
            all_of: None,
        } => {
            let token = match token {
                Some(token) => token,
                None => read_stdin_line("token")?,
            };
            if !store.revoke_token(&accounts::hash_token(&token))? {
                bail!("no such live token");
            }
            eprintln!("token revoked");
        }
    }
    Ok(())
}

fn migrate_command(config: &Config, to: Option<String>) -> anyhow::Result<()> {
    let Some(url) = to.or_else(|| config.storage.postgres_url.clone()) else {
        bail!("name the PostgreSQL database with --to or storage.postgres_url");
    };
    let dir = config.data_dir();
    let _lock = DataDirLock::acquire(&dir)?;
    let migrated = store::pg::migrate::migrate(&dir, &url).unwrap_or_else(|err| exit_with(&err));
    for (table, rows) in &migrated.tables {
        eprintln!("{table}: {rows} rows");
    }
    let (copied, missing) = migrated.contents;
    eprintln!(
        "copied {} into PostgreSQL, with {copied} attachment files{}",
        dir.display(),
        if missing > 0 {
            format!(" ({missing} named by attachments were missing from the data directory)")
        } else {
            String::new()
        }
    );
    Ok(())
}

fn backup_command(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    let summary = backup::backup(&config.data_dir(), dest).unwrap_or_else(|err| exit_with(&err));
    let manifest = &summary.manifest;
    eprintln!(
        "backed up {} to {}: {} files, {} bytes, schema version {}",
        config.data_dir().display(),
        dest.display(),
        manifest.files.len(),
        summary.bytes,
        manifest.schema_version
    );
    if !manifest.missing_attachments.is_empty() {
        eprintln!(
            "warning: {} attachment files were already missing from the data directory",
            manifest.missing_attachments.len()
        );
    }
    Ok(())
}

fn restore_command(config: &Config, src: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let restored =
        backup::restore(&config.data_dir(), src, force).unwrap_or_else(|err| exit_with(&err));
    if let Some(aside) = &restored.moved_aside {
        eprintln!("moved the previous data to {}", aside.display());
    }
    eprintln!(
        "restored the backup of {} (schema version {}, {} files) into {}",
        restored.manifest.created_at,
        restored.manifest.schema_version,
        restored.manifest.files.len(),
        config.data_dir().display()
    );
    Ok(())
}

fn channel_command(config: &Config, cmd: ChannelCommand) -> anyhow::Result<()> {
    let store = store::AdminStore::open(config)?;
    match cmd {
        ChannelCommand::Create {
            name,
            kind,
            optional_auth,
            presence,
            max_participants,
        } => {
            parley_server::names::validate_channel_name(&name).map_err(anyhow::Error::msg)?;
            let kind: parley_protocol::ChannelType =
                serde_json::from_value(serde_json::Value::String(kind))
                    .context("--type is public, private or presence")?;
            let new = store::NewChannel {
                name,
                kind,
                authentication: if optional_auth {
                    parley_protocol::Authentication::Optional
                } else {
                    parley_protocol::Authentication::Required
                },
                presence: presence || kind == parley_protocol::ChannelType::Presence,
                message_history: None,
                message_retention_secs: None,
                user_specific: false,
                auto_subscribe: false,
                max_participants,
                topic: None,
                publish: parley_protocol::PublishPolicy::Members,
            };
            let record = store.create_channel(&new)?;
            eprintln!("created channel {} (epoch {})", record.name, record.epoch);
        }
    }
    Ok(())
}

//! `parley`: the command-line client, for people, scripts and bots. Built on parley-client, so
//! it has the same cache, outbox and resume as the desktop app. `--json` prints JSON lines.
//!
//! This file parses the command line, keeps the session and dispatches; the commands are in
//! `account` (login, logout), `channels`, `messages` and `docs`.

mod account;
mod channels;
mod docs;
mod messages;
mod tokens;

use std::{io::Read, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use parley_client::{credentials, Client, ClientConfig};
use serde_json::json;

#[derive(Parser)]
#[command(name = "parley", version, about = "Parley from the command line")]
struct Cli {
    /// Print JSON lines instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for the server before working offline.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    connect_timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in; the token is kept in the OS keyring (or a private file where none runs).
    Login {
        /// The server, e.g. http://127.0.0.1:7878
        url: String,
        /// The account to sign in as (with --password-stdin).
        #[arg(long, required_unless_present = "token_stdin")]
        user: Option<String>,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(
            long,
            conflicts_with = "token_stdin",
            required_unless_present = "token_stdin"
        )]
        password_stdin: bool,
        /// Read an existing token (`parley-server token create`, for bots) from standard input
        /// instead; it is checked with the server, which says whose it is.
        #[arg(long, conflicts_with = "user")]
        token_stdin: bool,
    },
    /// Create an account with an invite link (`parley://join?...`, from the workspace's host)
    /// and sign in. A certificate fingerprint in the link is pinned: that certificate, and only
    /// it, is trusted for the server from now on.
    AcceptInvite {
        link: String,
        /// The account to create (its password is read from standard input).
        #[arg(long)]
        user: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Connect here instead of the link's address (same workspace, another route to it),
        /// e.g. https://127.0.0.1:7878 on the host itself.
        #[arg(long)]
        via: Option<String>,
    },
    /// Create an account and sign in as it; the password is read from standard input.
    Register {
        /// The server, e.g. http://127.0.0.1:7878
        url: String,
        #[arg(long)]
        user: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The invite code, on a server that registers by invitation.
        #[arg(long)]
        invite: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Sign out: revoke the token on the server and forget it here.
    Logout,
    /// Change your password: the current one, then the new one, on two lines of standard input.
    Passwd {
        /// Also sign out every other device and token of the account.
        #[arg(long)]
        sign_out_others: bool,
    },
    /// Your tokens (signed-in devices, scripts): label, created, last used; `revoke ID` one.
    Tokens {
        #[command(subcommand)]
        command: Option<TokensCommand>,
    },
    /// Channels you can see.
    Channels,
    /// Become a member of a channel.
    Join { channel: String },
    /// Send a message (queued when offline; sent by the next command that connects). A text
    /// of `-` is read from standard input (at most 1 MiB; one trailing newline dropped).
    Send { channel: String, text: String },
    /// Publish a custom event to a channel's subscribers (online only). DATA is JSON (default
    /// null); `-` reads it from standard input.
    Publish {
        channel: String,
        event: String,
        #[arg(default_value = "null")]
        data: String,
        /// Store it in the channel's log (a seq; resumable, like a message).
        #[arg(long)]
        durable: bool,
    },
    /// Recent messages of a channel (from the cache, filled from the server).
    History {
        channel: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Follow a channel live (survives reconnects; Ctrl-C to stop).
    Tail { channel: String },
    /// Search the messages in the local cache.
    Search {
        query: String,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Messages waiting to be sent, and failed ones.
    Outbox {
        /// Put a failed message back in the queue.
        #[arg(long)]
        retry: Option<i64>,
        /// Drop a message from the outbox.
        #[arg(long)]
        discard: Option<i64>,
    },
    /// Edit one of your messages (by its id, see `history --json`).
    Edit {
        channel: String,
        message_id: i64,
        text: String,
    },
    /// Delete a message (yours; anyone's if you administer the channel).
    Delete { channel: String, message_id: i64 },
    /// React to a message with an emoji (`--remove` takes it back).
    React {
        channel: String,
        message_id: i64,
        emoji: String,
        #[arg(long)]
        remove: bool,
    },
    /// Upload a file and post it to a channel (progress on stderr).
    Upload {
        channel: String,
        file: PathBuf,
        /// The message text (default: the file's name).
        #[arg(long)]
        text: Option<String>,
    },
    /// Open (or find) the direct-message channel with these people and follow it.
    Dm { users: Vec<String> },
    /// Unread messages and mentions per channel.
    Unread,
    /// Show a message's thread (`--reply TEXT` to answer in it).
    Thread {
        channel: String,
        message_id: i64,
        #[arg(long)]
        reply: Option<String>,
    },
    /// Documents.
    Doc {
        #[command(subcommand)]
        command: DocCommand,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Revoke one of your tokens by its id (its live sessions close at once).
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum DocCommand {
    /// Print a document's text (its `content` text root).
    Cat { doc: String },
    /// Append text to a document (kept locally and synced later when offline).
    Append { doc: String, text: String },
}

/// The most a password or a token read from standard input may be.
const MAX_SECRET: u64 = 4096;
/// The most a message text read from standard input may be (the server's own limit is lower).
const MAX_STDIN_TEXT: u64 = 1024 * 1024;

/// Standard input as text, refused beyond `limit` bytes rather than read without bound.
fn read_stdin(limit: u64) -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(limit + 1)
        .read_to_string(&mut text)
        .context("reading standard input")?;
    if text.len() as u64 > limit {
        bail!("standard input is longer than {limit} bytes");
    }
    Ok(text)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|e| e.to_string());
    }
    text.trim_end_matches('s')
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|e| format!("invalid duration {text:?}: {e}"))
}

/// Where the CLI keeps its session and caches: `$PARLEY_HOME`, else the XDG directories.
struct Paths {
    config: PathBuf,
    data: PathBuf,
}

impl Paths {
    fn new() -> Result<Self> {
        if let Some(home) = std::env::var_os("PARLEY_HOME") {
            let home = PathBuf::from(home);
            return Ok(Self {
                config: home.join("config"),
                data: home.join("data"),
            });
        }
        Ok(Self {
            config: dirs::config_dir()
                .context("no config directory")?
                .join("parley"),
            data: dirs::data_dir()
                .context("no data directory")?
                .join("parley-cli"),
        })
    }

    fn session_file(&self) -> PathBuf {
        self.config.join("session.json")
    }

    fn cache(&self, server: &str, user: &str) -> PathBuf {
        let slug: String = server
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.data.join(slug).join(format!("{user}.db"))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Session {
    server: String,
    user: String,
    /// The server's pinned certificate (from an invite link), re-pinned for every command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

struct Out {
    json: bool,
}

impl Out {
    fn line(&self, value: serde_json::Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{}", text());
        }
    }

    /// Notices go to stderr in text mode (they are not data).
    fn note(&self, value: serde_json::Value, text: &str) {
        if self.json {
            println!("{value}");
        } else {
            eprintln!("{text}");
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PARLEY_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("parley: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if json {
                println!("{}", json!({"kind": "error", "error": format!("{err:#}")}));
            } else {
                eprintln!("parley: {err:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let paths = Paths::new()?;
    let out = Out { json: cli.json };
    match cli.command {
        Command::Login {
            url,
            user,
            password_stdin: _,
            token_stdin,
        } => {
            let secret = read_stdin(MAX_SECRET)?;
            let secret = secret.trim_end_matches(['\n', '\r']);
            match (token_stdin, user) {
                (true, _) => account::login_with_token(&paths, &out, &url, secret.trim()).await,
                (false, Some(user)) => account::login(&paths, &out, &url, &user, secret).await,
                (false, None) => bail!("--user is needed with --password-stdin"),
            }
        }
        Command::AcceptInvite {
            link,
            user,
            password_stdin: _,
            via,
        } => {
            let secret = read_stdin(MAX_SECRET)?;
            let password = secret.trim_end_matches(['\n', '\r']);
            account::accept_invite(&paths, &out, &link, via.as_deref(), &user, password).await
        }
        Command::Register {
            url,
            user,
            password_stdin: _,
            invite,
            display_name,
        } => {
            let secret = read_stdin(MAX_SECRET)?;
            let password = secret.trim_end_matches(['\n', '\r']).to_owned();
            let credentials = parley_protocol::api::Credentials {
                name: user,
                password,
                display_name,
                device: None,
                invite,
            };
            account::register(&paths, &out, &url, &credentials).await
        }
        Command::Logout => account::logout(&paths, &out).await,
        Command::Tokens { command } => match command {
            None => tokens::list(&paths, &out).await,
            Some(TokensCommand::Revoke { id }) => tokens::revoke(&paths, &out, id).await,
        },
        Command::Passwd { sign_out_others } => {
            let input = read_stdin(2 * MAX_SECRET)?;
            let mut lines = input.lines();
            let (Some(current), Some(new)) = (lines.next(), lines.next()) else {
                bail!("give the current password and the new one on two lines of standard input");
            };
            account::passwd(&paths, &out, current, new, sign_out_others).await
        }
        command => {
            let (session, token) = signed_in(&paths)?;
            parley_client::files::private_dir(&paths.data)?;
            let cache = paths.cache(&session.server, &session.user);
            let client = Client::start(ClientConfig::new(&session.server, &token, cache))?;
            let online = connect(&client, &out, cli.connect_timeout).await?;
            let result = command_with(&client, &out, command, online).await;
            client.shutdown();
            result
        }
    }
}

fn signed_in(paths: &Paths) -> Result<(Session, String)> {
    let text = std::fs::read_to_string(paths.session_file())
        .context("not signed in: run `parley login URL --user NAME --password-stdin`")?;
    let session: Session = serde_json::from_str(&text).context("the session file is damaged")?;
    if let Some(fingerprint) = &session.fingerprint {
        parley_client::tls::pin(&session.server, fingerprint)?;
    }
    let token = credentials::load(&session.server, &session.user, &paths.config)
        .context("no token for this session: sign in again with `parley login`")?;
    Ok((session, token))
}

/// Connects (bounded by `timeout`) and flushes the outbox first; false when offline.
async fn connect(client: &Client, out: &Out, timeout: Duration) -> Result<bool> {
    match client.wait_online(timeout).await {
        Ok(_) => {}
        Err(parley_client::Error::Offline) => {
            let pending = client
                .outbox()
                .await?
                .iter()
                .filter(|e| e.state == "pending")
                .count();
            out.note(
                json!({"kind": "offline", "pending": pending}),
                &format!("offline: working from the local cache ({pending} queued)"),
            );
            return Ok(false);
        }
        Err(err) => bail!("{err}"),
    }
    let pending_ids = |entries: &[parley_client::OutboxEntry]| -> Vec<i64> {
        entries
            .iter()
            .filter(|e| e.state == "pending")
            .map(|e| e.local_id)
            .collect()
    };
    let before = pending_ids(&client.outbox().await?);
    if !before.is_empty() {
        let complete = client.flushed(Duration::from_secs(30)).await?;
        let after = client.outbox().await?;
        let still: Vec<i64> = pending_ids(&after);
        let failed = after
            .iter()
            .filter(|e| e.state == "failed" && before.contains(&e.local_id))
            .count();
        let sent = before
            .iter()
            .filter(|id| !still.contains(id) && !after.iter().any(|e| e.local_id == **id))
            .count();
        out.note(
            json!({"kind": "outbox_flushed", "sent": sent, "failed": failed, "complete": complete}),
            &format!(
                "sent {sent} queued message(s){}",
                if failed == 0 {
                    String::new()
                } else {
                    format!("; {failed} failed (see `parley outbox`)")
                }
            ),
        );
    }
    Ok(true)
}

async fn command_with(client: &Client, out: &Out, command: Command, online: bool) -> Result<()> {
    match command {
        Command::Login { .. }
        | Command::AcceptInvite { .. }
        | Command::Register { .. }
        | Command::Logout
        | Command::Passwd { .. }
        | Command::Tokens { .. } => {
            bail!("signing in and out needs no connection")
        }
        Command::Channels => channels::list(client, out).await,
        Command::Join { channel } => channels::join(client, out, online, &channel).await,
        Command::Dm { users } => channels::dm(client, out, online, users).await,
        Command::Unread => channels::unread(client, out, online).await,
        Command::Thread {
            channel,
            message_id,
            reply,
        } => channels::thread(client, out, online, &channel, message_id, reply).await,
        Command::Send { channel, text } => {
            let text = if text == "-" {
                let text = read_stdin(MAX_STDIN_TEXT)?;
                let text = text.strip_suffix('\n').unwrap_or(&text);
                text.strip_suffix('\r').unwrap_or(text).to_owned()
            } else {
                text
            };
            if text.trim().is_empty() {
                bail!("nothing to send: the text is empty");
            }
            messages::send(client, out, online, &channel, &text).await
        }
        Command::Publish {
            channel,
            event,
            data,
            durable,
        } => {
            if !online {
                bail!("publishing needs the server: custom events are not queued offline");
            }
            let data = if data == "-" {
                read_stdin(MAX_STDIN_TEXT)?
            } else {
                data
            };
            messages::publish(client, out, &channel, &event, &data, durable).await
        }
        Command::Edit {
            channel,
            message_id,
            text,
        } => {
            let entry = client.edit(&channel, message_id, &text).await?;
            messages::finish_change(client, out, online, entry, "edited").await
        }
        Command::Delete {
            channel,
            message_id,
        } => {
            let entry = client.delete(&channel, message_id).await?;
            messages::finish_change(client, out, online, entry, "deleted").await
        }
        Command::React {
            channel,
            message_id,
            emoji,
            remove,
        } => {
            let entry = client.react(&channel, message_id, &emoji, !remove).await?;
            let done = if remove { "unreacted" } else { "reacted" };
            messages::finish_change(client, out, online, entry, done).await
        }
        Command::Upload {
            channel,
            file,
            text,
        } => messages::upload(client, out, online, &channel, &file, text).await,
        Command::History { channel, limit } => {
            messages::history(client, out, online, &channel, limit).await
        }
        Command::Tail { channel } => messages::tail(client, out, online, &channel).await,
        Command::Search {
            query,
            channel,
            limit,
        } => messages::search(client, out, &query, channel.as_deref(), limit).await,
        Command::Outbox { retry, discard } => {
            messages::outbox(client, out, online, retry, discard).await
        }
        Command::Doc { command } => match command {
            DocCommand::Cat { doc } => docs::cat(client, out, online, &doc).await,
            DocCommand::Append { doc, text } => {
                docs::append(client, out, online, &doc, &text).await
            }
        },
    }
}

//! `parley`: the command-line client, for people, scripts and bots. Built on parley-client, so
//! it has the same cache, outbox and resume as the desktop app. `--json` prints JSON lines.

use std::{io::Read, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use parley_client::{credentials, Client, ClientConfig, ClientEvent, ConnectionState};
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
        #[arg(long)]
        user: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Sign out: revoke the token on the server and forget it here.
    Logout,
    /// Channels you can see.
    Channels,
    /// Become a member of a channel.
    Join { channel: String },
    /// Send a message (queued when offline; sent by the next command that connects).
    Send { channel: String, text: String },
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
enum DocCommand {
    /// Print a document's text (its `content` text root).
    Cat { doc: String },
    /// Append text to a document (kept locally and synced later when offline).
    Append { doc: String, text: String },
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
            password_stdin,
        } => {
            let _ = password_stdin;
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            login(&paths, &out, &url, &user, password).await
        }
        Command::Logout => logout(&paths, &out).await,
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

async fn login(paths: &Paths, out: &Out, url: &str, user: &str, password: &str) -> Result<()> {
    let server = url.trim_end_matches('/').to_owned();
    let response = reqwest::Client::new()
        .post(format!("{server}/api/login"))
        .json(&json!({"name": user, "password": password, "device": "parley-cli"}))
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        bail!(
            "sign-in refused: {}",
            body["message"].as_str().unwrap_or(status.as_str())
        );
    }
    let token = body["token"].as_str().context("no token in the answer")?;
    let name = body["user"]["name"].as_str().unwrap_or(user).to_owned();
    let stored = credentials::save(&server, &name, token, &paths.config)?;
    parley_client::files::private_dir(&paths.config)?;
    std::fs::write(
        paths.session_file(),
        serde_json::to_string(&Session {
            server: server.clone(),
            user: name.clone(),
        })?,
    )?;
    let (where_, warning) = match &stored {
        credentials::Stored::Keyring => ("keyring".to_owned(), None),
        credentials::Stored::File(path) => (
            path.display().to_string(),
            Some(format!(
                "no keyring service is running: the token is in {} (readable only by you)",
                path.display()
            )),
        ),
    };
    if let Some(warning) = &warning {
        out.note(
            json!({"kind": "warning", "warning": warning}),
            &format!("warning: {warning}"),
        );
    }
    out.line(
        json!({"kind": "signed_in", "server": server, "user": name, "token_store": where_}),
        || format!("signed in to {server} as {name}"),
    );
    Ok(())
}

async fn logout(paths: &Paths, out: &Out) -> Result<()> {
    let (session, token) = signed_in(paths)?;
    let revoked = reqwest::Client::new()
        .post(format!("{}/api/logout", session.server))
        .bearer_auth(&token)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    credentials::delete(&session.server, &session.user, &paths.config);
    let _ = std::fs::remove_file(paths.session_file());
    out.line(
        json!({"kind": "signed_out", "user": session.user, "revoked_on_server": revoked}),
        || {
            if revoked {
                format!("signed out {}", session.user)
            } else {
                format!(
                    "signed out {} here (the server could not be reached to revoke the token)",
                    session.user
                )
            }
        },
    );
    Ok(())
}

async fn command_with(client: &Client, out: &Out, command: Command, online: bool) -> Result<()> {
    match command {
        Command::Login { .. } | Command::Logout => unreachable!("handled before connecting"),
        Command::Channels => {
            for ch in client.channels().await? {
                let line = format!(
                    "{:<30} {:<8} {}{}",
                    ch["name"].as_str().unwrap_or_default(),
                    ch["channel_type"].as_str().unwrap_or_default(),
                    if ch["member"] == true { "member" } else { "-" },
                    ch["topic"]
                        .as_str()
                        .map(|t| format!("  {t}"))
                        .unwrap_or_default()
                );
                out.line(json!({"kind": "channel", "channel": ch}), || line);
            }
        }
        Command::Join { channel } => {
            if !online {
                bail!("joining needs the server, which is not reachable");
            }
            client.join(&channel).await?;
            client.subscribe(&channel).await?;
            out.line(json!({"kind": "joined", "channel": channel}), || {
                format!("joined {channel}")
            });
        }
        Command::Send { channel, text } => {
            let mut events = client.events();
            let entry = client.send(&channel, &text).await?;
            if online {
                let flushed = client.flushed(Duration::from_secs(15)).await?;
                let now = client.outbox().await?;
                if let Some(failed) = now
                    .iter()
                    .find(|e| e.local_id == entry.local_id && e.state == "failed")
                {
                    bail!(
                        "not sent: {} ({})",
                        failed.error.clone().unwrap_or_default(),
                        failed.error_code.clone().unwrap_or_default()
                    );
                }
                if flushed {
                    // The outbox empties just before its `sent` event is emitted: wait for it
                    // (briefly) rather than read only what already arrived.
                    let mut seq = None;
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                    while seq.is_none() {
                        let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await
                        else {
                            break;
                        };
                        if let ClientEvent::Outbox {
                            change,
                            entry: e,
                            message: Some(m),
                        } = event
                        {
                            if change == "sent" && e.local_id == entry.local_id {
                                seq = Some(m.seq);
                            }
                        }
                    }
                    out.line(json!({"kind": "sent", "channel": channel, "seq": seq, "client_id": entry.client_id}), || match seq {
                        Some(seq) => format!("sent to {channel} (#{seq})"),
                        None => format!("sent to {channel}"),
                    });
                    return Ok(());
                }
            }
            out.line(
                json!({"kind": "queued", "channel": channel, "local_id": entry.local_id, "client_id": entry.client_id}),
                || "queued (offline): it will be sent the next time parley connects to the server".to_string(),
            );
        }
        Command::Edit {
            channel,
            message_id,
            text,
        } => {
            let entry = client.edit(&channel, message_id, &text).await?;
            finish_change(client, out, online, entry, "edited").await?;
        }
        Command::Delete {
            channel,
            message_id,
        } => {
            let entry = client.delete(&channel, message_id).await?;
            finish_change(client, out, online, entry, "deleted").await?;
        }
        Command::React {
            channel,
            message_id,
            emoji,
            remove,
        } => {
            let entry = client.react(&channel, message_id, &emoji, !remove).await?;
            finish_change(
                client,
                out,
                online,
                entry,
                if remove { "unreacted" } else { "reacted" },
            )
            .await?;
        }
        Command::Upload {
            channel,
            file,
            text,
        } => {
            if !online {
                bail!("uploading needs the server, which is not reachable");
            }
            let json = out.json;
            let attachment = client
                .upload(&file, move |sent, total| {
                    if !json && total > 0 {
                        eprint!("\ruploading {}%", sent * 100 / total);
                    }
                })
                .await?;
            if !json {
                eprintln!();
            }
            let text = text.unwrap_or_else(|| attachment.name.clone());
            let entry = client.send_with(&channel, &text, &[attachment.id]).await?;
            client.flushed(Duration::from_secs(15)).await?;
            let now = client.outbox().await?;
            if let Some(failed) = now
                .iter()
                .find(|e| e.local_id == entry.local_id && e.state == "failed")
            {
                bail!("not sent: {}", failed.error.clone().unwrap_or_default());
            }
            out.line(
                json!({"kind": "uploaded", "attachment": attachment, "channel": channel}),
                || {
                    format!(
                        "uploaded {} ({} bytes, {}) to {channel}",
                        attachment.name, attachment.size, attachment.mime
                    )
                },
            );
        }
        Command::Dm { users } => {
            if !online {
                bail!("opening a direct message needs the server, which is not reachable");
            }
            let value = client
                .request(parley_protocol::Op::DmOpen {
                    users: users.clone(),
                })
                .await?;
            let name = value["channel"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            client.subscribe(&name).await?;
            out.line(
                json!({"kind": "dm", "channel": name, "users": users}),
                || format!("{name} (send to it with `parley send {name} TEXT`)"),
            );
        }
        Command::Unread => {
            if !online {
                bail!("unread counts come from the server, which is not reachable");
            }
            let value = client.request(parley_protocol::Op::Unread).await?;
            for ch in value["channels"].as_array().cloned().unwrap_or_default() {
                let line = format!(
                    "{:<30} {:>5} unread {:>4} mentions{}",
                    ch["channel"].as_str().unwrap_or_default(),
                    ch["unread"],
                    ch["mentions"],
                    if ch.get("muted_until").is_some() {
                        "  (muted)"
                    } else {
                        ""
                    }
                );
                out.line(json!({"kind": "unread", "state": ch}), || line);
            }
        }
        Command::Thread {
            channel,
            message_id,
            reply,
        } => {
            if !online {
                bail!("opening a thread needs the server, which is not reachable");
            }
            let value = client
                .request(parley_protocol::Op::ThreadOpen {
                    channel: channel.clone(),
                    message_id,
                })
                .await?;
            let thread = value["thread"]["channel"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            client.subscribe(&thread).await?;
            if let Some(text) = reply {
                client.send(&thread, &text).await?;
                client.flushed(Duration::from_secs(15)).await?;
            }
            let root = value["root"].clone();
            out.line(json!({"kind": "root", "message": root}), || {
                format!(
                    "#{} {}: {}",
                    root["seq"],
                    root["author"]["name"].as_str().unwrap_or_default(),
                    root["text"].as_str().unwrap_or_default()
                )
            });
            for m in client.history(&thread, None, 200).await? {
                let line = format!("  └ #{} {}: {}", m.seq, m.author.name, m.text);
                out.line(json!({"kind": "reply", "message": m}), || line);
            }
        }
        Command::History { channel, limit } => {
            if online {
                // Catch up with what happened since the cache was last filled.
                client.subscribe(&channel).await?;
            }
            for m in client.history(&channel, None, limit).await? {
                let line = format!(
                    "#{:<6} {}  {}: {}",
                    m.seq, m.created_at, m.author.name, m.text
                );
                out.line(json!({"kind": "message", "message": m}), || line);
            }
            for e in client
                .outbox()
                .await?
                .into_iter()
                .filter(|e| e.kind == "message" && e.target == channel)
            {
                let line = format!("{:<7} (pending)  {}", "-", e.body);
                let state = e.state.clone();
                out.line(json!({"kind": "pending", "entry": e}), || {
                    if state == "failed" {
                        line.replace("pending", "failed")
                    } else {
                        line
                    }
                });
            }
        }
        Command::Tail { channel } => {
            let mut events = client.events();
            client.subscribe(&channel).await?;
            let state = client.state();
            if online {
                out.note(json!({"kind": "connection", "state": state}), "(connected)");
            } else {
                out.note(json!({"kind": "waiting"}), "waiting for the server…");
            }
            loop {
                let event = tokio::select! {
                    event = events.recv() => event,
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                };
                match event {
                    Ok(ClientEvent::Message { message }) if message.channel == channel => {
                        let line = format!(
                            "#{:<6} {}: {}",
                            message.seq, message.author.name, message.text
                        );
                        out.line(json!({"kind": "message", "message": message}), || line);
                    }
                    Ok(ClientEvent::Connection { state }) => match &state {
                        ConnectionState::Offline { reason, .. } => out.note(
                            json!({"kind": "connection", "state": state}),
                            &format!("(disconnected: {reason}; reconnecting)"),
                        ),
                        ConnectionState::Online { .. } => {
                            out.note(json!({"kind": "connection", "state": state}), "(connected)")
                        }
                        ConnectionState::Unauthorized => {
                            bail!("the server refused the token; sign in again")
                        }
                        _ => {}
                    },
                    Ok(ClientEvent::Unsubscribed { channel: c, reason }) if c == channel => {
                        bail!("the server ended the subscription: {reason}")
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        out.note(
                            json!({"kind": "lagged", "missed": n}),
                            &format!("({n} events skipped on screen; they are in the cache)"),
                        );
                    }
                    Err(_) => return Ok(()),
                }
            }
        }
        Command::Search {
            query,
            channel,
            limit,
        } => {
            for hit in client.search(&query, channel.as_deref(), limit).await? {
                let line = format!(
                    "{} #{} {}: {}",
                    hit.message.channel, hit.message.seq, hit.message.author.name, hit.snippet
                );
                out.line(
                    json!({"kind": "hit", "message": hit.message, "snippet": hit.snippet}),
                    || line,
                );
            }
        }
        Command::Outbox { retry, discard } => {
            if let Some(id) = retry {
                if !client.retry(id).await? {
                    bail!("no failed outbox entry {id}");
                }
                if online {
                    client.flushed(Duration::from_secs(15)).await?;
                }
            }
            if let Some(id) = discard {
                if !client.discard(id).await? {
                    bail!("no outbox entry {id}");
                }
            }
            for e in client.outbox().await? {
                let line = format!(
                    "{:<5} {:<8} {:<20} {}{}",
                    e.local_id,
                    e.state,
                    e.target,
                    e.body,
                    e.error
                        .as_ref()
                        .map(|err| format!("  ({err})"))
                        .unwrap_or_default()
                );
                out.line(json!({"kind": "outbox", "entry": e}), || line);
            }
        }
        Command::Doc { command } => match command {
            DocCommand::Cat { doc } => {
                let replica = client.open_doc(&doc).await?;
                if online {
                    match replica.flush(Duration::from_secs(10)).await {
                        // Deleted (its copy is gone) or no access: nothing to show.
                        Err(err @ parley_client::Error::DocGone { .. }) => return Err(err.into()),
                        Err(_) => out.note(
                            json!({"kind": "offline"}),
                            "(the document could not be synced; showing the local copy)",
                        ),
                        Ok(()) => {}
                    }
                }
                let text = replica.text("content");
                out.line(json!({"kind": "doc", "doc": doc, "text": text}), || {
                    text.clone()
                });
            }
            DocCommand::Append { doc, text } => {
                let replica = client.open_doc(&doc).await?;
                if online {
                    if let Err(err @ parley_client::Error::DocGone { .. }) =
                        replica.flush(Duration::from_secs(10)).await
                    {
                        return Err(err.into());
                    }
                }
                replica.append_text("content", &text).await?;
                let synced = online && replica.flush(Duration::from_secs(10)).await.is_ok();
                out.line(json!({"kind": "appended", "doc": doc, "synced": synced}), || {
                    if synced {
                        format!("appended to {doc}")
                    } else {
                        format!("appended to {doc} locally (offline): it syncs the next time parley opens it online")
                    }
                });
            }
        },
    }
    Ok(())
}

/// Waits for a queued change to go out (when online) and reports it.
async fn finish_change(
    client: &Client,
    out: &Out,
    online: bool,
    entry: parley_client::OutboxEntry,
    done: &str,
) -> Result<()> {
    if online {
        client.flushed(Duration::from_secs(15)).await?;
        let now = client.outbox().await?;
        if let Some(failed) = now
            .iter()
            .find(|e| e.local_id == entry.local_id && e.state == "failed")
        {
            bail!(
                "refused: {} ({})",
                failed.error.clone().unwrap_or_default(),
                failed.error_code.clone().unwrap_or_default()
            );
        }
        if !now.iter().any(|e| e.local_id == entry.local_id) {
            out.line(json!({"kind": done, "entry": entry}), || done.to_owned());
            return Ok(());
        }
    }
    out.line(json!({"kind": "queued", "entry": entry}), || {
        "queued (offline): it will be applied the next time parley connects to the server".into()
    });
    Ok(())
}

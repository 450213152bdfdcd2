//! `parley send`, `edit`, `delete`, `react`, `upload`, `history`, `tail`, `search` and
//! `outbox`: messages, through the client's outbox and cache.

use std::{path::Path, time::Duration};

use anyhow::{bail, Context, Result};
use parley_client::{Client, ClientEvent, ConnectionState, OutboxEntry};
use serde_json::json;

use crate::Out;

/// Queues a message and, online, waits until the server has it (its seq).
pub async fn send(
    client: &Client,
    out: &Out,
    online: bool,
    channel: &str,
    text: &str,
) -> Result<()> {
    let mut events = client.events();
    let entry = client.send(channel, text).await?;
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
                let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await else {
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
    Ok(())
}

/// Uploads a file (progress on stderr) and posts it.
pub async fn upload(
    client: &Client,
    out: &Out,
    online: bool,
    channel: &str,
    file: &Path,
    text: Option<String>,
) -> Result<()> {
    if !online {
        bail!("uploading needs the server, which is not reachable");
    }
    let json = out.json;
    let attachment = client
        .upload(file, move |sent, total| {
            if !json && total > 0 {
                eprint!("\ruploading {}%", sent * 100 / total);
            }
        })
        .await?;
    if !json {
        eprintln!();
    }
    let text = text.unwrap_or_else(|| attachment.name.clone());
    let entry = client.send_with(channel, &text, &[attachment.id]).await?;
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
    Ok(())
}

/// The newest messages of a channel, then what is still queued for it.
pub async fn history(
    client: &Client,
    out: &Out,
    online: bool,
    channel: &str,
    limit: u32,
) -> Result<()> {
    if online {
        // Catch up with what happened since the cache was last filled.
        client.subscribe(channel).await?;
    }
    for m in client.history(channel, None, limit).await? {
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
    Ok(())
}

/// Follows a channel until Ctrl-C.
pub async fn tail(client: &Client, out: &Out, online: bool, channel: &str) -> Result<()> {
    let mut events = client.events();
    client.subscribe(channel).await?;
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
            Ok(ClientEvent::Custom {
                channel: c,
                seq,
                event,
                data,
                publisher,
            }) if c == channel => {
                let place = seq.map_or_else(|| "       ".to_owned(), |s| format!("#{s:<6}"));
                let line = format!("{place} {}: [{event}] {data}", publisher.name);
                out.line(
                    json!({"kind": "custom", "channel": c, "seq": seq, "event": event,
                           "data": data, "publisher": publisher}),
                    || line,
                );
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

/// Publishes a custom event (`data` is JSON text).
pub async fn publish(
    client: &Client,
    out: &Out,
    channel: &str,
    event: &str,
    data: &str,
    durable: bool,
) -> Result<()> {
    let data: serde_json::Value =
        serde_json::from_str(data).context("the event's data is not JSON")?;
    let result = client.publish(channel, event, data, durable).await?;
    let line = match result.seq {
        Some(seq) => format!("published {event} to {} as #{seq}", result.channel),
        None => format!("published {event} to {}", result.channel),
    };
    out.line(json!({"kind": "published", "result": result}), || line);
    Ok(())
}

/// Searches the local cache.
pub async fn search(
    client: &Client,
    out: &Out,
    query: &str,
    channel: Option<&str>,
    limit: u32,
) -> Result<()> {
    for hit in client.search(query, channel, limit).await? {
        let line = format!(
            "{} #{} {}: {}",
            hit.message.channel, hit.message.seq, hit.message.author.name, hit.snippet
        );
        out.line(
            json!({"kind": "hit", "message": hit.message, "snippet": hit.snippet}),
            || line,
        );
    }
    Ok(())
}

/// Lists the outbox, after retrying or discarding an entry.
pub async fn outbox(
    client: &Client,
    out: &Out,
    online: bool,
    retry: Option<i64>,
    discard: Option<i64>,
) -> Result<()> {
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
    Ok(())
}

/// Waits for a queued change to go out (when online) and reports it.
pub async fn finish_change(
    client: &Client,
    out: &Out,
    online: bool,
    entry: OutboxEntry,
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

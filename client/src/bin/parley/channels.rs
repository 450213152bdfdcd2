//! `parley channels`, `join`, `dm`, `unread` and `thread`: channels and where the user stands
//! in them.

use std::time::Duration;

use anyhow::{bail, Result};
use parley_client::Client;
use parley_protocol::rpc;
use serde_json::json;

use crate::Out;

/// The name a value has on the wire (`public`, `private`...).
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The channels the user can see.
pub async fn list(client: &Client, out: &Out) -> Result<()> {
    for ch in client.channels().await? {
        let line = format!(
            "{:<30} {:<8} {}{}",
            ch.name,
            wire_name(&ch.kind),
            if ch.member { "member" } else { "-" },
            ch.topic
                .as_deref()
                .map(|t| format!("  {t}"))
                .unwrap_or_default()
        );
        out.line(json!({"kind": "channel", "channel": ch}), || line);
    }
    Ok(())
}

/// Becomes a member and follows the channel.
pub async fn join(client: &Client, out: &Out, online: bool, channel: &str) -> Result<()> {
    if !online {
        bail!("joining needs the server, which is not reachable");
    }
    client.join(channel).await?;
    client.subscribe(channel).await?;
    out.line(json!({"kind": "joined", "channel": channel}), || {
        format!("joined {channel}")
    });
    Ok(())
}

/// Opens (or finds) the direct-message channel with these people and follows it.
pub async fn dm(client: &Client, out: &Out, online: bool, users: Vec<String>) -> Result<()> {
    if !online {
        bail!("opening a direct message needs the server, which is not reachable");
    }
    let channel = client
        .request(rpc::OpenDm {
            users: users.clone(),
        })
        .await?;
    let name = channel.name;
    client.subscribe(&name).await?;
    out.line(
        json!({"kind": "dm", "channel": name, "users": users}),
        || format!("{name} (send to it with `parley send {name} TEXT`)"),
    );
    Ok(())
}

/// Unread and mention counts per channel.
pub async fn unread(client: &Client, out: &Out, online: bool) -> Result<()> {
    if !online {
        bail!("unread counts come from the server, which is not reachable");
    }
    for state in client.unread().await? {
        let line = format!(
            "{:<30} {:>5} unread {:>4} mentions{}",
            state.channel,
            state.unread,
            state.mentions,
            if state.muted_until.is_some() {
                "  (muted)"
            } else {
                ""
            }
        );
        out.line(json!({"kind": "unread", "state": state}), || line);
    }
    Ok(())
}

/// Shows a thread, after posting a reply to it.
pub async fn thread(
    client: &Client,
    out: &Out,
    online: bool,
    channel: &str,
    message_id: i64,
    reply: Option<String>,
) -> Result<()> {
    if !online {
        bail!("opening a thread needs the server, which is not reachable");
    }
    let opened = client
        .request(rpc::OpenThread {
            channel: channel.to_owned(),
            message_id,
        })
        .await?;
    let thread = opened.thread.channel;
    client.subscribe(&thread).await?;
    if let Some(text) = reply {
        client.send(&thread, &text).await?;
        client.flushed(Duration::from_secs(15)).await?;
    }
    let root = opened.root;
    let line = format!("#{} {}: {}", root.seq, root.author.name, root.text);
    out.line(json!({"kind": "root", "message": root}), || line);
    for m in client.history(&thread, None, 200).await? {
        let line = format!("  └ #{} {}: {}", m.seq, m.author.name, m.text);
        out.line(json!({"kind": "reply", "message": m}), || line);
    }
    Ok(())
}

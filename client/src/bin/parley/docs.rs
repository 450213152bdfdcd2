//! `parley doc cat` and `doc append`: documents through their local replicas.

use std::time::Duration;

use anyhow::Result;
use parley_client::Client;
use serde_json::json;

use crate::Out;

/// Prints a document's text (its `content` text root), synced first when online.
pub async fn cat(client: &Client, out: &Out, online: bool, doc: &str) -> Result<()> {
    let replica = client.open_doc(doc).await?;
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
    Ok(())
}

/// Appends text to a document (kept locally and synced later when offline).
pub async fn append(client: &Client, out: &Out, online: bool, doc: &str, text: &str) -> Result<()> {
    let replica = client.open_doc(doc).await?;
    if online {
        if let Err(err @ parley_client::Error::DocGone { .. }) =
            replica.flush(Duration::from_secs(10)).await
        {
            return Err(err.into());
        }
    }
    replica.append_text("content", text).await?;
    let synced = online && replica.flush(Duration::from_secs(10)).await.is_ok();
    out.line(json!({"kind": "appended", "doc": doc, "synced": synced}), || {
        if synced {
            format!("appended to {doc}")
        } else {
            format!("appended to {doc} locally (offline): it syncs the next time parley opens it online")
        }
    });
    Ok(())
}

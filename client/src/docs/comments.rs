//! Document comments: written through the outbox (so they work offline), cached from their
//! events and from the API's answers, and posted over HTTP only while the document's name still
//! belongs to the document this client knows.

use std::sync::Arc;

use parley_protocol::ErrorCode;

use crate::{store, Client, ClientEvent, Error, Inner, OutboxEntry, Result};

impl Client {
    /// Writes a comment (or reply) on a document: queued like a message, sent when connected.
    /// `comment` is the API's body (`body`, `anchor`, `quote`, `parent`).
    pub async fn comment(&self, doc: &str, mut comment: serde_json::Value) -> Result<OutboxEntry> {
        let client_id = self.new_client_id();
        comment["client_id"] = serde_json::Value::String(client_id.clone());
        self.queue("comment", doc, &comment.to_string(), &client_id)
            .await
    }

    /// Comments of a document as cached from its events and API reads.
    pub async fn cached_comments(&self, doc: &str) -> Result<Vec<serde_json::Value>> {
        let name = doc.to_owned();
        let rows = self
            .inner
            .store
            .run(move |c| store::comments(c, &name))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r).ok())
            .collect())
    }
}

/// Caches a comment event (created/edited/resolved/deleted) and passes it on.
pub(crate) async fn comment_event(inner: &Arc<Inner>, event: &serde_json::Value) -> Result<()> {
    let kind = event["kind"].as_str().unwrap_or_default().to_owned();
    match kind.as_str() {
        "comment_created" | "comment_edited" | "comment_resolved" => {
            let comment = event["comment"].clone();
            let (doc, id) = (
                comment["doc"].as_str().unwrap_or_default().to_owned(),
                comment["id"].as_i64().unwrap_or_default(),
            );
            let body = comment.to_string();
            let d = doc.clone();
            inner
                .store
                .run(move |c| store::save_comment(c, &d, id, &body))
                .await?;
            inner.emit(ClientEvent::Comment {
                doc,
                event: event.clone(),
            });
        }
        "comment_deleted" => {
            let id = event["comment_id"].as_i64().unwrap_or_default();
            inner
                .store
                .run(move |c| {
                    c.execute("DELETE FROM comments WHERE id = ?1", [id])?;
                    Ok(())
                })
                .await?;
            inner.emit(ClientEvent::Comment {
                doc: String::new(),
                event: event.clone(),
            });
        }
        _ => {}
    }
    Ok(())
}

/// Sends a queued comment over HTTP (`client_id` makes a resend return the original). The
/// API names documents by name, so a comment for a document this client knows by id is only
/// posted while that name still belongs to that id: a comment queued for a document that was
/// deleted meanwhile must not land on another document that took its name.
pub(crate) async fn post_comment(client: &Client, entry: &OutboxEntry) -> Result<()> {
    let target = entry.target.clone();
    let bound = client
        .inner
        .store
        .run(move |c| store::doc_id(c, &target))
        .await?;
    if let Some(id) = bound {
        let response = client
            .inner
            .http
            .get(format!(
                "{}/api/docs/{}",
                client.config().server,
                entry.target
            ))
            .bearer_auth(&client.config().token)
            .send()
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        let status = response.status();
        let now = if status.is_success() {
            response
                .json::<parley_protocol::DocInfo>()
                .await
                .ok()
                .map(|info| info.id)
        } else {
            None
        };
        if status.as_u16() == 404 || (status.is_success() && now != Some(id)) {
            let (target, message) = (
                entry.target.clone(),
                "the document was deleted on the server".to_owned(),
            );
            let reason = message.clone();
            client
                .inner
                .store
                .run(move |c| store::doc_forget(c, &target, "doc_not_found", &reason))
                .await?;
            return Err(Error::Server(parley_protocol::ErrorBody::new(
                ErrorCode::DocNotFound,
                message,
            )));
        }
    }
    let url = format!(
        "{}/api/docs/{}/comments",
        client.config().server,
        entry.target
    );
    let body: serde_json::Value =
        serde_json::from_str(&entry.body).map_err(|e| Error::Invalid(e.to_string()))?;
    let response = client
        .inner
        .http
        .post(url)
        .bearer_auth(&client.config().token)
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    let status = response.status();
    let value: serde_json::Value = response
        .json()
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    if status.is_success() {
        let (doc, id, text) = (
            entry.target.clone(),
            value["id"].as_i64().unwrap_or_default(),
            value.to_string(),
        );
        client
            .inner
            .store
            .run(move |c| store::save_comment(c, &doc, id, &text))
            .await?;
        Ok(())
    } else {
        match serde_json::from_value::<parley_protocol::ErrorBody>(value) {
            Ok(body) => Err(Error::Server(body)),
            Err(_) => Err(Error::Http(format!("HTTP {status}"))),
        }
    }
}

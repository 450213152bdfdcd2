//! Document comments: written through the outbox (so they work offline), cached from their
//! events and from the API's answers, and posted over HTTP only while the document's name still
//! belongs to the document this client knows.

use std::sync::Arc;

use parley_protocol::{api, Comment, ErrorBody, ErrorCode};

use crate::{store, Client, ClientEvent, CommentEvent, Error, Inner, OutboxEntry, Result};

impl Client {
    /// Writes a comment (or reply) on a document: queued like a message, sent when connected.
    /// Its `client_id` is chosen here (any given is replaced).
    pub async fn comment(&self, doc: &str, mut comment: api::NewComment) -> Result<OutboxEntry> {
        super::check_name(doc)?;
        if comment.body.trim().is_empty() {
            return Err(Error::rule(
                ErrorCode::InvalidComment,
                "the comment is empty",
            ));
        }
        let client_id = self.new_client_id();
        comment.client_id = Some(client_id.clone());
        let body = serde_json::to_string(&comment).map_err(|e| Error::Invalid(e.to_string()))?;
        self.queue("comment", doc, &body, &client_id).await
    }

    /// Comments of a document as cached from its events and API reads.
    pub async fn cached_comments(&self, doc: &str) -> Result<Vec<Comment>> {
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

    /// Comments of a document: from the server when it answers (and kept in the cache), from
    /// the cache when it cannot be reached.
    pub async fn comments(&self, doc: &str) -> Result<Vec<Comment>> {
        super::check_name(doc)?;
        match self.api().comments(doc).await {
            Ok(comments) => {
                let (name, rows) = (doc.to_owned(), comment_rows(&comments));
                self.inner
                    .store
                    .run(move |c| {
                        for (id, body) in &rows {
                            store::save_comment(c, &name, *id, body)?;
                        }
                        Ok(())
                    })
                    .await?;
                Ok(comments)
            }
            Err(Error::Unreachable(_)) => self.cached_comments(doc).await,
            Err(err) => Err(err),
        }
    }

    /// Replaces the body of one of the user's own comments (or replies).
    pub async fn edit_comment(&self, doc: &str, id: i64, body: &str) -> Result<Comment> {
        super::check_name(doc)?;
        if body.trim().is_empty() {
            return Err(Error::rule(
                ErrorCode::InvalidComment,
                "the comment is empty",
            ));
        }
        self.api().edit_comment(doc, id, body).await
    }

    /// Deletes a comment (with its replies) or a reply: the author's, or any for a manager.
    pub async fn delete_comment(&self, doc: &str, id: i64) -> Result<()> {
        super::check_name(doc)?;
        self.api().delete_comment(doc, id).await
    }

    /// Resolves (`true`) or reopens a comment.
    pub async fn resolve_comment(&self, doc: &str, id: i64, resolved: bool) -> Result<Comment> {
        super::check_name(doc)?;
        self.api().resolve_comment(doc, id, resolved).await
    }
}

/// `(id, JSON)` of each comment, as the cache keeps them.
fn comment_rows(comments: &[Comment]) -> Vec<(i64, String)> {
    comments
        .iter()
        .filter_map(|c| Some((c.id, serde_json::to_string(c).ok()?)))
        .collect()
}

/// Caches a comment event (created/edited/resolved/deleted) and passes it on.
pub(crate) async fn comment_event(inner: &Arc<Inner>, event: CommentEvent) -> Result<()> {
    match &event {
        CommentEvent::CommentCreated { comment }
        | CommentEvent::CommentEdited { comment }
        | CommentEvent::CommentResolved { comment } => {
            let (doc, rows) = (
                comment.doc.clone(),
                comment_rows(std::slice::from_ref(comment)),
            );
            let d = doc.clone();
            inner
                .store
                .run(move |c| {
                    for (id, body) in &rows {
                        store::save_comment(c, &d, *id, body)?;
                    }
                    Ok(())
                })
                .await?;
            inner.emit(ClientEvent::Comment { doc, event });
        }
        CommentEvent::CommentDeleted { comment_id } => {
            let id = *comment_id;
            inner
                .store
                .run(move |c| store::forget_comment(c, id))
                .await?;
            inner.emit(ClientEvent::Comment {
                doc: String::new(),
                event,
            });
        }
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
        let gone = match client.api().doc(&entry.target).await {
            Ok(info) => info.id != id,
            Err(Error::Server(body)) => body.code == ErrorCode::DocNotFound,
            Err(_) => false,
        };
        if gone {
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
            return Err(Error::Server(ErrorBody::new(
                ErrorCode::DocNotFound,
                message,
            )));
        }
    }
    let comment: api::NewComment =
        serde_json::from_str(&entry.body).map_err(|e| Error::Invalid(e.to_string()))?;
    let posted = client.api().create_comment(&entry.target, &comment).await?;
    let (doc, rows) = (entry.target.clone(), comment_rows(&[posted]));
    client
        .inner
        .store
        .run(move |c| {
            for (id, body) in &rows {
                store::save_comment(c, &doc, *id, body)?;
            }
            Ok(())
        })
        .await
}

//! Comments on documents: anchored threads of remarks, with mentions delivered like a message's;
//! listed, created, edited, resolved and deleted under the document's access rules.

use base64::Engine;
use parley_protocol::{Comment, CommentAnchor, DocRole, ErrorCode, Event};
use yrs::updates::decoder::Decode;

use super::{check_label, DocEntry};
use crate::{
    error::{Error, Result},
    store::{self, UserRecord},
    AppState,
};

/// A new comment or reply (the body of `POST /api/docs/{name}/comments`).
pub use parley_protocol::api::NewComment;

fn check_anchor(anchor: &CommentAnchor) -> Result<()> {
    let engine = base64::engine::general_purpose::STANDARD;
    for part in [&anchor.start, &anchor.end] {
        let ok = part.len() <= 4096
            && engine
                .decode(part)
                .ok()
                .is_some_and(|bytes| yrs::StickyIndex::decode_v1(&bytes).is_ok());
        if !ok {
            return Err(Error::new(
                ErrorCode::InvalidComment,
                "anchor positions must be base64 Yjs relative positions \
                 (Y.encodeRelativePosition)",
            ));
        }
    }
    Ok(())
}

impl AppState {
    pub async fn list_comments(&self, user: &UserRecord, name: &str) -> Result<Vec<Comment>> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer)?;
        let (id, doc_name) = (doc.id, doc.record().name);
        self.store
            .read(move |conn| store::docs::comments(conn, id, &doc_name))
            .await
    }

    fn check_comment_body(&self, body: &str) -> Result<()> {
        if body.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidComment,
                "the comment is empty",
            ));
        }
        let max = self.config.documents.max_comment_length;
        let len = body.chars().count() as u64;
        if len > max {
            return Err(Error::new(
                ErrorCode::InvalidComment,
                format!("the comment is {len} characters; the limit is {max}"),
            ));
        }
        Ok(())
    }

    /// Writes a comment change and its durable event on the document's comments channel.
    async fn comment_write(
        &self,
        doc: &DocEntry,
        user: &UserRecord,
        change: impl FnOnce(&rusqlite::Connection) -> Result<Option<i64>> + Send + 'static,
        event: fn(Comment) -> Event,
        deleted: Option<i64>,
    ) -> Result<Option<Comment>> {
        let (channel_id, channel_name) = (doc.comments.record.id, doc.comments.record.name.clone());
        let doc_name = doc.record().name;
        let author = user.id;
        self.store
            .write(move |tx, state| {
                let id = change(tx)?;
                let (comment, ev) = match (id, deleted) {
                    (Some(id), _) => {
                        let comment = store::docs::comment(tx, &doc_name, id)?
                            .ok_or_else(|| Error::internal("comment vanished"))?;
                        (Some(comment.clone()), event(comment))
                    }
                    (None, Some(id)) => (None, Event::CommentDeleted { comment_id: id }),
                    (None, None) => return Err(Error::internal("comment change without id")),
                };
                let published = store::append_event(
                    tx,
                    state,
                    channel_id,
                    &channel_name,
                    ev,
                    store::now_ms(),
                    Some(author),
                )?;
                // So that a later edit or delete can take the text back out of this frame.
                if let Some(comment) = &comment {
                    store::redact::comment_event(tx, comment.id, channel_id, published.seq)?;
                }
                Ok((comment, vec![published]))
            })
            .await
    }

    pub async fn create_comment(
        &self,
        user: &UserRecord,
        name: &str,
        new: NewComment,
    ) -> Result<Comment> {
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter)?;
        if let Some(client_id) = &new.client_id {
            crate::chat::validate_client_id(client_id)?;
            let (doc_id, author, client_id) = (doc.id, user.id, client_id.clone());
            let doc_name = doc.record().name;
            let existing = self
                .store
                .read(move |conn| {
                    match store::docs::comment_by_client_id(conn, author, &client_id)? {
                        Some((id, doc)) if doc == doc_id => {
                            store::docs::comment(conn, &doc_name, id)
                        }
                        Some(_) => Err(Error::new(
                            ErrorCode::InvalidClientId,
                            "this client_id was used for a comment on another document",
                        )),
                        None => Ok(None),
                    }
                })
                .await?;
            if let Some(comment) = existing {
                return Ok(comment);
            }
        }
        self.check_comment_body(&new.body)?;
        // Comments are durable events like messages: the same per-user send limit applies.
        self.check_user_send_rate(user.id)?;
        if let Some(quote) = &new.quote {
            check_label("quote", quote)?;
        }
        match (&new.parent, &new.anchor) {
            (None, Some(anchor)) => check_anchor(anchor)?,
            (None, None) => {
                return Err(Error::new(
                    ErrorCode::InvalidComment,
                    "a comment needs an anchor (a reply needs a parent)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorCode::InvalidComment,
                    "a reply takes its parent's anchor; send no anchor",
                ))
            }
            (Some(_), None) => {}
        }
        let doc_id = doc.id;
        let names = crate::names::mentioned_names(&new.body);
        let author = user.id;
        let comment = self
            .comment_write(
                &doc,
                user,
                move |tx| {
                    if let Some(parent) = new.parent {
                        let row =
                            store::docs::comment_row(tx, doc_id, parent)?.ok_or_else(|| {
                                Error::new(
                                    ErrorCode::CommentNotFound,
                                    format!("no comment {parent}"),
                                )
                            })?;
                        if row.parent_id.is_some() {
                            return Err(Error::new(
                                ErrorCode::InvalidComment,
                                "reply to the comment itself, not to a reply",
                            ));
                        }
                    }
                    let mentions = store::docs::users_named(tx, &names)?;
                    let id = store::docs::insert_comment(
                        tx,
                        store::docs::NewComment {
                            doc_id,
                            parent_id: new.parent,
                            author_id: author,
                            anchor: new.anchor.as_ref(),
                            quote: new.quote.as_deref(),
                            body: &new.body,
                            mentions: &mentions,
                            client_id: new.client_id.as_deref(),
                        },
                    )?;
                    Ok(Some(id))
                },
                |comment| Event::CommentCreated {
                    comment: Box::new(comment),
                },
                None,
            )
            .await?;
        comment.ok_or_else(|| Error::internal("comment vanished"))
    }

    /// Looks up a comment of the document for a change by `user`; `author_only` refuses
    /// everyone but its author (and, for deletes, document managers).
    async fn comment_for_change(
        &self,
        doc: &DocEntry,
        user: &UserRecord,
        id: i64,
        author_only: bool,
    ) -> Result<store::docs::CommentRow> {
        let doc_id = doc.id;
        let row = self
            .store
            .read(move |conn| store::docs::comment_row(conn, doc_id, id))
            .await?
            .ok_or_else(|| Error::new(ErrorCode::CommentNotFound, format!("no comment {id}")))?;
        if author_only && row.author_id != user.id {
            return Err(Error::forbidden("only its author may change a comment"));
        }
        Ok(row)
    }

    pub async fn edit_comment(
        &self,
        user: &UserRecord,
        name: &str,
        id: i64,
        body: String,
    ) -> Result<Comment> {
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter)?;
        self.check_comment_body(&body)?;
        self.check_user_send_rate(user.id)?;
        let row = self.comment_for_change(&doc, user, id, true).await?;
        let names = crate::names::mentioned_names(&body);
        let comment = self
            .comment_write(
                &doc,
                user,
                move |tx| {
                    let mentions = store::docs::users_named(tx, &names)?;
                    store::docs::edit_comment(tx, row.id, &body, &mentions)?;
                    // Earlier frames of the comment stop carrying the body this replaces.
                    let now = store::format_ts(store::now_ms());
                    store::redact::comment_edited(tx, row.id, &now)?;
                    Ok(Some(row.id))
                },
                |comment| Event::CommentEdited {
                    comment: Box::new(comment),
                },
                None,
            )
            .await?;
        comment.ok_or_else(|| Error::internal("comment vanished"))
    }

    pub async fn resolve_comment(
        &self,
        user: &UserRecord,
        name: &str,
        id: i64,
        resolved: bool,
    ) -> Result<Comment> {
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter)?;
        let row = self.comment_for_change(&doc, user, id, false).await?;
        if row.parent_id.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidComment,
                "replies are resolved with their comment",
            ));
        }
        let by = resolved.then_some(user.id);
        let comment = self
            .comment_write(
                &doc,
                user,
                move |tx| {
                    store::docs::resolve_comment(tx, row.id, by)?;
                    Ok(Some(row.id))
                },
                |comment| Event::CommentResolved {
                    comment: Box::new(comment),
                },
                None,
            )
            .await?;
        comment.ok_or_else(|| Error::internal("comment vanished"))
    }

    pub async fn delete_comment(&self, user: &UserRecord, name: &str, id: i64) -> Result<()> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer)?;
        let manager = self.check_manage_doc(&doc, user).is_ok();
        let row = self.comment_for_change(&doc, user, id, !manager).await?;
        self.comment_write(
            &doc,
            user,
            move |tx| {
                store::redact::comment_deleted(tx, row.id)?;
                store::docs::delete_comment(tx, row.id)?;
                Ok(None)
            },
            |comment| Event::CommentCreated {
                comment: Box::new(comment),
            },
            Some(id),
        )
        .await?;
        Ok(())
    }
}

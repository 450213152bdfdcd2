//! Comments on documents: anchored threads of remarks, with mentions delivered like a message's;
//! listed, created, edited, resolved and deleted under the document's access rules.

use base64::Engine;
use parley_protocol::{Comment, CommentAnchor, DocRole, ErrorCode};
use yrs::updates::decoder::Decode;

use super::{check_label, DocEntry};
use crate::{
    docs::Documents,
    error::{Error, Result},
    store::{CommentPost, CommentRow, CommentsOf, UserRecord},
};

/// Most people one comment may notify.
const MAX_MENTIONED: usize = 100;

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

impl Documents {
    pub async fn list_comments(&self, user: &UserRecord, name: &str) -> Result<Vec<Comment>> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer).await?;
        self.stores
            .comments
            .comments(doc.id, doc.record().name)
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

    pub async fn create_comment(
        &self,
        user: &UserRecord,
        name: &str,
        new: NewComment,
    ) -> Result<Comment> {
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter).await?;
        if let Some(client_id) = &new.client_id {
            crate::chat::validate_client_id(client_id)?;
            let existing = self
                .stores
                .comments
                .comment_by_client_id(comments_of(&doc), user.id, client_id.clone())
                .await?;
            if let Some(comment) = existing {
                return Ok(comment);
            }
        }
        self.check_comment_body(&new.body)?;
        // Comments are durable events like messages: the same per-user send limit applies.
        self.rates.check_send(user.id).await?;
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
        // The parent is checked, and mentions resolved, inside the write.
        let post = CommentPost {
            parent: new.parent,
            author_id: user.id,
            anchor: new.anchor,
            quote: new.quote,
            mention_names: crate::names::mentioned_names(&new.body),
            body: new.body,
            client_id: new.client_id,
        };
        let comment = self
            .stores
            .comments
            .create_comment(comments_of(&doc), post)
            .await?;
        self.tell_mentioned(&doc, &comment, user).await;
        Ok(comment)
    }

    /// A `comment_mention` on the personal channel of each person the new comment mentions
    /// who may read the document (not its author). After the comment's commit: a failure is
    /// logged, and the comment stands.
    async fn tell_mentioned(&self, doc: &DocEntry, comment: &Comment, author: &UserRecord) {
        let ids: Vec<i64> = comment
            .mentions
            .iter()
            .map(|u| u.id)
            .filter(|id| *id != author.id)
            .take(MAX_MENTIONED)
            .collect();
        if ids.is_empty() {
            return;
        }
        let users = match self.stores.accounts.users_by_id(ids).await {
            Ok(users) => users,
            Err(err) => {
                tracing::warn!(%err, "comment mentions: users not found");
                return;
            }
        };
        let ts = crate::store::now_ms();
        for user in users {
            if self.doc_role(doc, &user).is_err() {
                continue;
            }
            let event = parley_protocol::Event::CommentMention {
                doc: comment.doc.clone(),
                comment_id: comment.id,
                by: author.to_ref(),
                ts,
            };
            if let Err(err) = self.chat.tell_personal(&user, event, author.id).await {
                tracing::warn!(%err, user = user.id, "comment mention not delivered");
            }
        }
    }

    /// Looks up a comment of the document for a change by `user`; `author_only` refuses
    /// everyone but its author (and, for deletes, document managers).
    async fn comment_for_change(
        &self,
        doc: &DocEntry,
        user: &UserRecord,
        id: i64,
        author_only: bool,
    ) -> Result<CommentRow> {
        let row = self
            .stores
            .comments
            .comment_row(doc.id, id)
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
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter).await?;
        self.check_comment_body(&body)?;
        self.rates.check_send(user.id).await?;
        let row = self.comment_for_change(&doc, user, id, true).await?;
        let names = crate::names::mentioned_names(&body);
        self.stores
            .comments
            .edit_comment(comments_of(&doc), row.id, body, names, user.id)
            .await
    }

    pub async fn resolve_comment(
        &self,
        user: &UserRecord,
        name: &str,
        id: i64,
        resolved: bool,
    ) -> Result<Comment> {
        let (doc, _) = self.doc_access(name, user, DocRole::Commenter).await?;
        let row = self.comment_for_change(&doc, user, id, false).await?;
        if row.parent_id.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidComment,
                "replies are resolved with their comment",
            ));
        }
        let by = resolved.then_some(user.id);
        self.stores
            .comments
            .resolve_comment(comments_of(&doc), row.id, by, user.id)
            .await
    }

    pub async fn delete_comment(&self, user: &UserRecord, name: &str, id: i64) -> Result<()> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer).await?;
        let manager = self.check_manage_doc(&doc, user).is_ok();
        let row = self.comment_for_change(&doc, user, id, !manager).await?;
        self.stores
            .comments
            .delete_comment(comments_of(&doc), row.id, user.id)
            .await?;
        Ok(())
    }
}

/// The document a comment operation is on, with its comments channel.
fn comments_of(doc: &DocEntry) -> CommentsOf {
    CommentsOf {
        doc_id: doc.id,
        doc_name: doc.record().name,
        channel_id: doc.comments.record.id,
        channel_name: doc.comments.record.name.clone(),
    }
}

//! Comments on documents (SQLite): rows, mentions, and each change written with its durable
//! event on the document's comments channel.

use parley_protocol::{Comment, CommentAnchor, Event};
use rusqlite::{params, Connection, OptionalExtension};

use super::{events::append_event, redact, users::user_ref, SqliteStore, WriterState};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        format_ts, now_ms, CommentPost, CommentRow, CommentStore, CommentsOf, Published,
        StoreFuture,
    },
};

pub struct NewComment<'a> {
    pub doc_id: i64,
    pub parent_id: Option<i64>,
    pub author_id: i64,
    pub anchor: Option<&'a CommentAnchor>,
    pub quote: Option<&'a str>,
    pub body: &'a str,
    pub mentions: &'a [i64],
    pub client_id: Option<&'a str>,
}

pub fn insert_comment(tx: &Connection, new: NewComment<'_>) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO comments (doc_id, parent_id, author_id, anchor_start, anchor_end, quote,
             body, created_at, client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        new.doc_id,
        new.parent_id,
        new.author_id,
        new.anchor.map(|a| a.start.as_str()),
        new.anchor.map(|a| a.end.as_str()),
        new.quote,
        new.body,
        now_ms(),
        new.client_id
    ])?;
    let id = tx.last_insert_rowid();
    set_mentions(tx, id, new.mentions)?;
    Ok(id)
}

fn set_mentions(tx: &Connection, comment_id: i64, users: &[i64]) -> Result<()> {
    tx.prepare_cached("DELETE FROM comment_mentions WHERE comment_id = ?1")?
        .execute([comment_id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO comment_mentions (comment_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    for user in users {
        stmt.execute(params![comment_id, user])?;
    }
    Ok(())
}

pub fn comment_row(conn: &Connection, doc_id: i64, id: i64) -> Result<Option<CommentRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, doc_id, parent_id, author_id FROM comments WHERE id = ?1 AND doc_id = ?2",
        )?
        .query_row(params![id, doc_id], |r| {
            Ok(CommentRow {
                id: r.get(0)?,
                doc_id: r.get(1)?,
                parent_id: r.get(2)?,
                author_id: r.get(3)?,
            })
        })
        .optional()?)
}

/// The comment this author already wrote with this `client_id` (on any document): its id
/// and document id.
pub fn comment_by_client_id(
    conn: &Connection,
    author_id: i64,
    client_id: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(conn
        .prepare_cached("SELECT id, doc_id FROM comments WHERE author_id = ?1 AND client_id = ?2")?
        .query_row(params![author_id, client_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

pub fn edit_comment(tx: &Connection, id: i64, body: &str, mentions: &[i64]) -> Result<()> {
    tx.prepare_cached("UPDATE comments SET body = ?2, edited_at = ?3 WHERE id = ?1")?
        .execute(params![id, body, now_ms()])?;
    set_mentions(tx, id, mentions)
}

pub fn resolve_comment(tx: &Connection, id: i64, by: Option<i64>) -> Result<()> {
    tx.prepare_cached("UPDATE comments SET resolved_by = ?2, resolved_at = ?3 WHERE id = ?1")?
        .execute(params![id, by, by.map(|_| now_ms())])?;
    Ok(())
}

pub fn delete_comment(tx: &Connection, id: i64) -> Result<()> {
    tx.prepare_cached("DELETE FROM comments WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// A comment as clients see it.
pub fn comment(conn: &Connection, doc_name: &str, id: i64) -> Result<Option<Comment>> {
    let row = conn
        .prepare_cached(
            "SELECT parent_id, author_id, anchor_start, anchor_end, quote, body, resolved_by,
                 resolved_at, created_at, edited_at FROM comments WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, Option<i64>>(9)?,
            ))
        })
        .optional()?;
    let Some((parent, author, start, end, quote, body, resolved_by, resolved_at, created, edited)) =
        row
    else {
        return Ok(None);
    };
    let mut mentions = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT user_id FROM comment_mentions WHERE comment_id = ?1 ORDER BY user_id",
        )?;
        let ids = stmt
            .query_map([id], |r| r.get::<_, i64>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for user in ids {
            if let Some(user) = user_ref(conn, Some(user))? {
                mentions.push(user);
            }
        }
    }
    Ok(Some(Comment {
        id,
        doc: doc_name.to_owned(),
        parent,
        anchor: match (start, end) {
            (Some(start), Some(end)) => Some(CommentAnchor { start, end }),
            _ => None,
        },
        quote,
        author: user_ref(conn, Some(author))?
            .ok_or_else(|| Error::internal("comment author vanished"))?,
        body,
        mentions,
        resolved: resolved_at.is_some(),
        resolved_by: user_ref(conn, resolved_by)?,
        created_at: format_ts(created),
        edited_at: edited.map(format_ts),
    }))
}

/// Every comment of a document, oldest first (replies after their parents).
pub fn comments(conn: &Connection, doc_id: i64, doc_name: &str) -> Result<Vec<Comment>> {
    let ids = conn
        .prepare_cached("SELECT id FROM comments WHERE doc_id = ?1 ORDER BY id")?
        .query_map([doc_id], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(c) = comment(conn, doc_name, id)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Users named by `@name` mentions, by id.
pub fn users_named(conn: &Connection, names: &[String]) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE name = ?1")?;
    let mut ids = Vec::new();
    for name in names {
        if let Some(id) = stmt.query_row([name], |r| r.get::<_, i64>(0)).optional()? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// The comment `id` as it is now, with its event on the comments channel (recorded, so a later
/// edit or delete can take its text back out of the frame).
fn announce(
    tx: &Connection,
    state: &mut WriterState,
    doc: &CommentsOf,
    id: i64,
    by: i64,
    event: fn(Box<Comment>) -> Event,
) -> Result<(Comment, Vec<Published>)> {
    let comment =
        comment(tx, &doc.doc_name, id)?.ok_or_else(|| Error::internal("comment vanished"))?;
    let published = append_event(
        tx,
        state,
        doc.channel_id,
        &doc.channel_name,
        event(Box::new(comment.clone())),
        now_ms(),
        Some(by),
    )?;
    redact::comment_event(tx, id, doc.channel_id, published.seq)?;
    Ok((comment, vec![published]))
}

fn create(tx: &Connection, doc: &CommentsOf, post: &CommentPost) -> Result<i64> {
    if let Some(parent) = post.parent {
        let row = comment_row(tx, doc.doc_id, parent)?
            .ok_or_else(|| refusals::comment_not_found(parent))?;
        if row.parent_id.is_some() {
            return Err(refusals::reply_to_reply());
        }
    }
    let mentions = users_named(tx, &post.mention_names)?;
    insert_comment(
        tx,
        NewComment {
            doc_id: doc.doc_id,
            parent_id: post.parent,
            author_id: post.author_id,
            anchor: post.anchor.as_ref(),
            quote: post.quote.as_deref(),
            body: &post.body,
            mentions: &mentions,
            client_id: post.client_id.as_deref(),
        },
    )
}

impl CommentStore for SqliteStore {
    fn comments(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<Comment>> {
        Box::pin(self.read(move |conn| comments(conn, doc_id, &doc_name)))
    }

    fn comment_row(&self, doc_id: i64, id: i64) -> StoreFuture<'_, Option<CommentRow>> {
        Box::pin(self.read(move |conn| comment_row(conn, doc_id, id)))
    }

    fn comment_by_client_id(
        &self,
        doc: CommentsOf,
        author_id: i64,
        client_id: String,
    ) -> StoreFuture<'_, Option<Comment>> {
        Box::pin(self.read(
            move |conn| match comment_by_client_id(conn, author_id, &client_id)? {
                Some((id, doc_id)) if doc_id == doc.doc_id => comment(conn, &doc.doc_name, id),
                Some(_) => Err(refusals::client_id_used_elsewhere()),
                None => Ok(None),
            },
        ))
    }

    fn create_comment(&self, doc: CommentsOf, post: CommentPost) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |tx, state| {
            let id = create(tx, &doc, &post)?;
            announce(tx, state, &doc, id, post.author_id, |comment| {
                Event::CommentCreated { comment }
            })
        }))
    }

    fn edit_comment(
        &self,
        doc: CommentsOf,
        id: i64,
        body: String,
        mention_names: Vec<String>,
        by: i64,
    ) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |tx, state| {
            let mentions = users_named(tx, &mention_names)?;
            edit_comment(tx, id, &body, &mentions)?;
            // Earlier frames of the comment stop carrying the body this replaces.
            redact::comment_edited(tx, id, &format_ts(now_ms()))?;
            announce(tx, state, &doc, id, by, |comment| Event::CommentEdited {
                comment,
            })
        }))
    }

    fn resolve_comment(
        &self,
        doc: CommentsOf,
        id: i64,
        resolved_by: Option<i64>,
        by: i64,
    ) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |tx, state| {
            resolve_comment(tx, id, resolved_by)?;
            announce(tx, state, &doc, id, by, |comment| Event::CommentResolved {
                comment,
            })
        }))
    }

    fn delete_comment(&self, doc: CommentsOf, id: i64, by: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            redact::comment_deleted(tx, id)?;
            delete_comment(tx, id)?;
            let published = append_event(
                tx,
                state,
                doc.channel_id,
                &doc.channel_name,
                Event::CommentDeleted { comment_id: id },
                now_ms(),
                Some(by),
            )?;
            Ok(((), vec![published]))
        }))
    }
}

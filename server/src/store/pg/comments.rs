//! Comments on documents (PostgreSQL): rows, mentions, and each change written with its durable
//! event on the document's comments channel. The stored frames an edit or a delete rewrites
//! (by the rules in `store/frames.rs`) are found through `comment_events`, at the end.

use std::collections::HashMap;

use parley_protocol::{Comment, CommentAnchor, Event, UserRef};
use postgres::{GenericClient, Row, Transaction};

use super::{events::append_event, PgStore, WriterState};
use crate::{
    error::{Error, Result},
    store::{
        format_ts, frames, now_ms, refusals, CommentPost, CommentRow, CommentStore, CommentsOf,
        Published, StoreFuture,
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

pub fn insert_comment(tx: &mut Transaction<'_>, new: NewComment<'_>) -> Result<i64> {
    let id: i64 = tx
        .query_one(
            "INSERT INTO comments (doc_id, parent_id, author_id, anchor_start, anchor_end, quote,
                 body, created_at, client_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &new.doc_id,
                &new.parent_id,
                &new.author_id,
                &new.anchor.map(|a| a.start.as_str()),
                &new.anchor.map(|a| a.end.as_str()),
                &new.quote,
                &new.body,
                &now_ms(),
                &new.client_id,
            ],
        )?
        .get(0);
    set_mentions(tx, id, new.mentions)?;
    Ok(id)
}

fn set_mentions(tx: &mut Transaction<'_>, comment_id: i64, users: &[i64]) -> Result<()> {
    tx.execute(
        "DELETE FROM comment_mentions WHERE comment_id = $1",
        &[&comment_id],
    )?;
    tx.execute(
        "INSERT INTO comment_mentions (comment_id, user_id) SELECT $1, unnest($2::BIGINT[])
         ON CONFLICT DO NOTHING",
        &[&comment_id, &users.to_vec()],
    )?;
    Ok(())
}

pub fn comment_row(
    client: &mut impl GenericClient,
    doc_id: i64,
    id: i64,
) -> Result<Option<CommentRow>> {
    Ok(client
        .query_opt(
            "SELECT id, doc_id, parent_id, author_id FROM comments WHERE id = $1 AND doc_id = $2",
            &[&id, &doc_id],
        )?
        .map(|r| CommentRow {
            id: r.get(0),
            doc_id: r.get(1),
            parent_id: r.get(2),
            author_id: r.get(3),
        }))
}

/// The comment this author already wrote with this `client_id` (on any document): its id
/// and document id.
pub fn comment_by_client_id(
    client: &mut impl GenericClient,
    author_id: i64,
    client_id: &str,
) -> Result<Option<(i64, i64)>> {
    Ok(client
        .query_opt(
            "SELECT id, doc_id FROM comments WHERE author_id = $1 AND client_id = $2",
            &[&author_id, &client_id],
        )?
        .map(|r| (r.get(0), r.get(1))))
}

pub fn edit_comment(tx: &mut Transaction<'_>, id: i64, body: &str, mentions: &[i64]) -> Result<()> {
    tx.execute(
        "UPDATE comments SET body = $2, edited_at = $3 WHERE id = $1",
        &[&id, &body, &now_ms()],
    )?;
    set_mentions(tx, id, mentions)
}

pub fn resolve_comment(tx: &mut Transaction<'_>, id: i64, by: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE comments SET resolved_by = $2, resolved_at = $3 WHERE id = $1",
        &[&id, &by, &by.map(|_| now_ms())],
    )?;
    Ok(())
}

pub fn delete_comment(tx: &mut Transaction<'_>, id: i64) -> Result<()> {
    tx.execute("DELETE FROM comments WHERE id = $1", &[&id])?;
    Ok(())
}

const COMMENT_SELECT: &str = "SELECT c.id, c.parent_id, c.anchor_start, c.anchor_end, c.quote,
        c.body, c.resolved_at, c.created_at, c.edited_at,
        a.id, a.name, a.display_name, a.avatar, r.id, r.name, r.display_name, r.avatar
    FROM comments c LEFT JOIN users a ON a.id = c.author_id
        LEFT JOIN users r ON r.id = c.resolved_by";

/// A user of a joined row: columns `at..at + 4`, None when the join found nobody.
fn joined_user(row: &Row, at: usize) -> Option<UserRef> {
    let id: Option<i64> = row.get(at);
    id.map(|id| UserRef {
        id,
        name: row.get(at + 1),
        display_name: row.get(at + 2),
        avatar: row.get(at + 3),
    })
}

fn comment_from_row(row: &Row, doc_name: &str, mentions: Vec<UserRef>) -> Result<Comment> {
    let start: Option<String> = row.get(2);
    let end: Option<String> = row.get(3);
    let resolved_at: Option<i64> = row.get(6);
    Ok(Comment {
        id: row.get(0),
        doc: doc_name.to_owned(),
        parent: row.get(1),
        anchor: match (start, end) {
            (Some(start), Some(end)) => Some(CommentAnchor { start, end }),
            _ => None,
        },
        quote: row.get(4),
        author: joined_user(row, 9).ok_or_else(|| Error::internal("comment author vanished"))?,
        body: row.get(5),
        mentions,
        resolved: resolved_at.is_some(),
        resolved_by: joined_user(row, 13),
        created_at: format_ts(row.get(7)),
        edited_at: row.get::<_, Option<i64>>(8).map(format_ts),
    })
}

const MENTION_SELECT: &str = "SELECT m.comment_id, u.id, u.name, u.display_name, u.avatar
    FROM comment_mentions m JOIN users u ON u.id = m.user_id";

fn mention_from_row(row: &Row) -> (i64, UserRef) {
    (
        row.get(0),
        UserRef {
            id: row.get(1),
            name: row.get(2),
            display_name: row.get(3),
            avatar: row.get(4),
        },
    )
}

/// A comment as clients see it.
pub fn comment(
    client: &mut impl GenericClient,
    doc_name: &str,
    id: i64,
) -> Result<Option<Comment>> {
    let Some(row) = client.query_opt(&format!("{COMMENT_SELECT} WHERE c.id = $1"), &[&id])? else {
        return Ok(None);
    };
    let mentions = client
        .query(
            &format!("{MENTION_SELECT} WHERE m.comment_id = $1 ORDER BY m.user_id"),
            &[&id],
        )?
        .iter()
        .map(|r| mention_from_row(r).1)
        .collect();
    comment_from_row(&row, doc_name, mentions).map(Some)
}

/// Every comment of a document, oldest first (replies after their parents). Two statements:
/// call it inside one snapshot.
pub fn comments(
    client: &mut impl GenericClient,
    doc_id: i64,
    doc_name: &str,
) -> Result<Vec<Comment>> {
    let rows = client.query(
        &format!("{COMMENT_SELECT} WHERE c.doc_id = $1 ORDER BY c.id"),
        &[&doc_id],
    )?;
    let mut mentions: HashMap<i64, Vec<UserRef>> = HashMap::new();
    for row in client.query(
        &format!(
            "{MENTION_SELECT} JOIN comments c ON c.id = m.comment_id WHERE c.doc_id = $1
             ORDER BY m.comment_id, m.user_id"
        ),
        &[&doc_id],
    )? {
        let (comment_id, user) = mention_from_row(&row);
        mentions.entry(comment_id).or_default().push(user);
    }
    rows.iter()
        .map(|row| {
            let of = mentions.remove(&row.get(0)).unwrap_or_default();
            comment_from_row(row, doc_name, of)
        })
        .collect()
}

/// Users named by `@name` mentions (case-insensitive, as user names are), by id.
pub fn users_named(client: &mut impl GenericClient, names: &[String]) -> Result<Vec<i64>> {
    let lowered: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    Ok(client
        .query(
            "SELECT id FROM users WHERE lower(name) = ANY($1) ORDER BY id",
            &[&lowered],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Every change to a document's comments starts by locking its comments channel's row (which
/// the change's event takes anyway): the changes of one document, from any node, then run one
/// after the other, so a delete sees the frames an edit or a reply committed just before it
/// and leaves none of them carrying the text it removes.
fn lock_comments(tx: &mut Transaction<'_>, doc: &CommentsOf) -> Result<()> {
    tx.query_opt(
        "SELECT 1 FROM channels WHERE id = $1 FOR NO KEY UPDATE",
        &[&doc.channel_id],
    )?;
    Ok(())
}

/// The comment `id` as it is now, with its event on the comments channel (recorded, so a later
/// edit or delete can take its text back out of the frame).
fn announce(
    tx: &mut Transaction<'_>,
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
    comment_event(tx, id, doc.channel_id, published.seq)?;
    Ok((comment, vec![published]))
}

fn create(tx: &mut Transaction<'_>, doc: &CommentsOf, post: &CommentPost) -> Result<i64> {
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

/// Records that the frame at (`channel_id`, `seq`) carries comment `comment_id`.
pub fn comment_event(
    tx: &mut Transaction<'_>,
    comment_id: i64,
    channel_id: i64,
    seq: u64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO comment_events (comment_id, channel_id, seq) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&comment_id, &channel_id, &(seq as i64)],
    )?;
    Ok(())
}

/// Rewrites the stored frames of comments `ids` (only those still carrying a body when
/// `carrying_body`) with `change` applied to their events, in Rust so that each frame keeps
/// its exact shape. Frames that retention removed are skipped.
fn rewrite_frames(
    tx: &mut Transaction<'_>,
    ids: &[i64],
    carrying_body: bool,
    change: impl Fn(&mut Event),
) -> Result<()> {
    let rows = tx.query(
        "SELECT e.channel_id, e.seq, e.frame FROM comment_events ce
           JOIN events e ON e.channel_id = ce.channel_id AND e.seq = ce.seq
         WHERE ce.comment_id = ANY($1) AND (ce.carries_body OR NOT $2)",
        &[&ids.to_vec(), &carrying_body],
    )?;
    for row in rows {
        let text = frames::rewrite(row.get(2), &change)?;
        tx.execute(
            "UPDATE events SET frame = $3 WHERE channel_id = $1 AND seq = $2",
            &[&row.get::<_, i64>(0), &row.get::<_, i64>(1), &text],
        )?;
    }
    Ok(())
}

/// Before an edit of comment `comment_id` (at `edited_at`, RFC 3339): the frames that carry its
/// body carry none from now on.
pub fn comment_edited(tx: &mut Transaction<'_>, comment_id: i64, edited_at: &str) -> Result<()> {
    rewrite_frames(tx, &[comment_id], true, |event| {
        frames::comment_body_replaced(event, edited_at)
    })?;
    tx.execute(
        "UPDATE comment_events SET carries_body = FALSE WHERE comment_id = $1",
        &[&comment_id],
    )?;
    Ok(())
}

/// Before comment `comment_id` is deleted: the frames of it and of its replies carry no body,
/// quote or mentions. (Deleting the comments then removes their `comment_events` rows.)
pub fn comment_deleted(tx: &mut Transaction<'_>, comment_id: i64) -> Result<()> {
    let mut ids = vec![comment_id];
    ids.extend(
        tx.query(
            "SELECT id FROM comments WHERE parent_id = $1",
            &[&comment_id],
        )?
        .iter()
        .map(|r| r.get::<_, i64>(0)),
    );
    rewrite_frames(tx, &ids, false, frames::comment_removed)
}

impl CommentStore for PgStore {
    fn comments(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<Comment>> {
        Box::pin(self.read(move |client| {
            let mut tx = super::snapshot(client)?;
            let listed = comments(&mut tx, doc_id, &doc_name)?;
            tx.commit()?;
            Ok(listed)
        }))
    }

    fn comment_row(&self, doc_id: i64, id: i64) -> StoreFuture<'_, Option<CommentRow>> {
        Box::pin(self.read(move |client| comment_row(client, doc_id, id)))
    }

    fn comment_by_client_id(
        &self,
        doc: CommentsOf,
        author_id: i64,
        client_id: String,
    ) -> StoreFuture<'_, Option<Comment>> {
        Box::pin(self.read(move |client| {
            match comment_by_client_id(client, author_id, &client_id)? {
                Some((id, doc_id)) if doc_id == doc.doc_id => comment(client, &doc.doc_name, id),
                Some(_) => Err(refusals::client_id_used_elsewhere()),
                None => Ok(None),
            }
        }))
    }

    fn create_comment(&self, doc: CommentsOf, post: CommentPost) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |tx, state| {
            lock_comments(tx, &doc)?;
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
            lock_comments(tx, &doc)?;
            let mentions = users_named(tx, &mention_names)?;
            edit_comment(tx, id, &body, &mentions)?;
            // Earlier frames of the comment stop carrying the body this replaces.
            comment_edited(tx, id, &format_ts(now_ms()))?;
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
            lock_comments(tx, &doc)?;
            resolve_comment(tx, id, resolved_by)?;
            announce(tx, state, &doc, id, by, |comment| Event::CommentResolved {
                comment,
            })
        }))
    }

    fn delete_comment(&self, doc: CommentsOf, id: i64, by: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            lock_comments(tx, &doc)?;
            comment_deleted(tx, id)?;
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

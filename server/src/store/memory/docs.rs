//! Documents and their comments, in memory.

use parley_protocol::{Comment, DocRole, ErrorCode, Event, VersionInfo};

use super::{
    channels::plain_channel,
    state::{CommentRowM, DocRow, State, Table, VersionRow},
    MemoryStore,
};
use crate::store::refusals;
use crate::{
    error::{Error, Result},
    store::{
        format_ts, frames, limits, now_ms, ChannelRecord, CommentPost, CommentRow, CommentStore,
        CommentsOf, DocRecord, DocumentStore, Grants, NewDocument, NewVersion, Published,
        StoreFuture, StoredDoc,
    },
};

impl State {
    fn doc_record(&self, id: i64) -> Option<DocRecord> {
        let row = self.docs.get(&id)?;
        Some(DocRecord {
            id,
            name: row.name.clone(),
            title: row.title.clone(),
            channel_id: row.channel_id,
            default_role: row.default_role,
            created_by: row.created_by,
            creator: row.created_by.and_then(|u| self.user_ref(u)),
            created_at: row.created_at,
        })
    }

    fn with_grants(&self, id: i64) -> Option<(DocRecord, Grants)> {
        let grants = self
            .doc_roles
            .range((id, i64::MIN)..=(id, i64::MAX))
            .map(|((_, user), role)| (*user, *role))
            .collect();
        Some((self.doc_record(id)?, grants))
    }

    fn doc_named(&self, name: &str) -> Option<i64> {
        self.docs
            .iter()
            .find(|(_, d)| d.name == name)
            .map(|(id, _)| *id)
    }

    fn create_document(&mut self, new: NewDocument) -> Result<(DocRecord, ChannelRecord)> {
        if let Some(max) = new.limit {
            let used = self
                .docs
                .values()
                .filter(|d| d.created_by == Some(new.created_by))
                .count() as u64;
            limits::check("documents_per_user", "documents", used, 1, max)?;
        }
        if self.doc_named(&new.name).is_some() {
            return Err(refusals::doc_exists(&new.name));
        }
        let id = self.next_id(Table::Doc);
        self.docs.insert(
            id,
            DocRow {
                name: new.name,
                title: new.title,
                channel_id: new.channel_id,
                default_role: new.default_role,
                created_by: Some(new.created_by),
                created_at: now_ms(),
            },
        );
        let mut channel = plain_channel(self.next_id(Table::Channel), format!("doc#{id}"));
        channel.doc_id = Some(id);
        channel.parent_id = new.channel_id;
        let channel = self.add_channel(channel, Some(new.created_by));
        let record = self
            .doc_record(id)
            .ok_or_else(|| Error::internal("inserted document vanished"))?;
        Ok((record, channel))
    }

    fn save_version(&mut self, new: NewVersion) -> Result<VersionInfo> {
        let max = new.max_versions;
        let count = self
            .versions
            .values()
            .filter(|v| v.doc_id == new.doc_id)
            .count() as u64;
        if count >= max {
            return Err(refusals::too_many_versions(max));
        }
        if let Some(max_bytes) = new.max_bytes {
            let used: u64 = self
                .versions
                .values()
                .filter(|v| v.created_by == Some(new.created_by))
                .map(|v| v.state.len() as u64)
                .sum();
            limits::check(
                "version_bytes_per_user",
                "bytes of named versions",
                used,
                new.state.len() as u64,
                max_bytes,
            )?;
        }
        let id = self.next_id(Table::Version);
        let row = VersionRow {
            doc_id: new.doc_id,
            name: new.name,
            state: new.state,
            created_by: Some(new.created_by),
            created_at: now_ms(),
        };
        let info = self.version_info(id, &row, &new.doc_name);
        self.versions.insert(id, row);
        Ok(info)
    }

    fn version_info(&self, id: i64, row: &VersionRow, doc_name: &str) -> VersionInfo {
        VersionInfo {
            id,
            doc: doc_name.to_owned(),
            name: row.name.clone(),
            created_by: row.created_by.and_then(|u| self.user_ref(u)),
            created_at: format_ts(row.created_at),
            size: row.state.len() as u64,
        }
    }

    fn comment(&self, doc_name: &str, id: i64) -> Result<Option<Comment>> {
        let Some(row) = self.comments.get(&id) else {
            return Ok(None);
        };
        let mentions = self
            .comment_mentions
            .range((id, i64::MIN)..=(id, i64::MAX))
            .filter_map(|(_, user)| self.user_ref(*user))
            .collect();
        Ok(Some(Comment {
            id,
            doc: doc_name.to_owned(),
            parent: row.parent_id,
            anchor: row.anchor.clone(),
            quote: row.quote.clone(),
            author: self
                .user_ref(row.author_id)
                .ok_or_else(|| Error::internal("comment author vanished"))?,
            body: row.body.clone(),
            mentions,
            resolved: row.resolved_at.is_some(),
            resolved_by: row.resolved_by.and_then(|u| self.user_ref(u)),
            created_at: format_ts(row.created_at),
            edited_at: row.edited_at.map(format_ts),
        }))
    }

    /// Users named in `names` (without regard to case), each once.
    fn users_named(&self, names: &[String]) -> Vec<i64> {
        let mut ids = Vec::new();
        for name in names {
            if let Some(user) = self.user_named(name) {
                if !ids.contains(&user.id) {
                    ids.push(user.id);
                }
            }
        }
        ids
    }

    fn set_comment_mentions(&mut self, id: i64, users: Vec<i64>) {
        self.comment_mentions.retain(|(c, _)| *c != id);
        self.comment_mentions
            .extend(users.into_iter().map(|u| (id, u)));
    }

    /// The comment as it is now, with its event on the comments channel (recorded, so that a
    /// later edit or delete can take its text back out of the frame).
    fn announce(
        &mut self,
        doc: &CommentsOf,
        id: i64,
        by: i64,
        event: fn(Box<Comment>) -> Event,
    ) -> Result<(Comment, Vec<Published>)> {
        let comment = self
            .comment(&doc.doc_name, id)?
            .ok_or_else(|| Error::internal("comment vanished"))?;
        let published = self.append_event(
            doc.channel_id,
            &doc.channel_name,
            event(Box::new(comment.clone())),
            now_ms(),
            Some(by),
        )?;
        self.comment_events
            .entry((doc.channel_id, published.seq))
            .or_insert((id, true));
        Ok((comment, vec![published]))
    }

    fn create_comment(&mut self, doc: &CommentsOf, post: CommentPost) -> Result<i64> {
        self.channel(doc.channel_id)?;
        if let Some(parent) = post.parent {
            let row = self
                .comments
                .get(&parent)
                .filter(|c| c.doc_id == doc.doc_id)
                .ok_or_else(|| refusals::comment_not_found(parent))?;
            if row.parent_id.is_some() {
                return Err(refusals::reply_to_reply());
            }
        }
        let mentions = self.users_named(&post.mention_names);
        let id = self.next_id(Table::Comment);
        self.comments.insert(
            id,
            CommentRowM {
                doc_id: doc.doc_id,
                parent_id: post.parent,
                author_id: post.author_id,
                anchor: post.anchor,
                quote: post.quote,
                body: post.body,
                resolved_by: None,
                resolved_at: None,
                created_at: now_ms(),
                edited_at: None,
                client_id: post.client_id,
            },
        );
        self.set_comment_mentions(id, mentions);
        Ok(id)
    }

    /// The recorded frames of a comment: all of them, or those that still carry its body.
    fn comment_frames(&self, id: i64, carrying_body: bool) -> Vec<(i64, u64)> {
        self.comment_events
            .iter()
            .filter(|(_, (c, carries))| *c == id && (*carries || !carrying_body))
            .map(|(at, _)| *at)
            .collect()
    }
}

impl DocumentStore for MemoryStore {
    fn load_documents(&self) -> StoreFuture<'_, Vec<(DocRecord, Grants)>> {
        let found = self.read(|state| {
            Ok(state
                .docs
                .keys()
                .filter_map(|id| state.with_grants(*id))
                .collect())
        });
        Box::pin(async move { found })
    }

    fn document_by_name(&self, name: String) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        let found =
            self.read(|state| Ok(state.doc_named(&name).and_then(|id| state.with_grants(id))));
        Box::pin(async move { found })
    }

    fn document_by_id(&self, doc_id: i64) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        let found = self.read(|state| Ok(state.with_grants(doc_id)));
        Box::pin(async move { found })
    }

    fn create_document(&self, new: NewDocument) -> StoreFuture<'_, (DocRecord, ChannelRecord)> {
        Box::pin(self.write(move |state| {
            let created = state.create_document(new)?;
            if state.webhooks.capture {
                let (doc, comments) = &created;
                let channel = doc
                    .channel_id
                    .and_then(|id| state.channel(id).ok().map(|c| c.name.clone()))
                    .unwrap_or_else(|| comments.name.clone());
                let frame = crate::store::frames::document_created(&channel, doc)?;
                state
                    .webhooks
                    .enqueue(&channel, "document.created", &frame, doc.created_at);
            }
            Ok((created, Vec::new()))
        }))
    }

    fn update_document(&self, record: DocRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            if state
                .doc_named(&record.name)
                .is_some_and(|id| id != record.id)
            {
                return Err(refusals::doc_exists(&record.name));
            }
            if let Some(row) = state.docs.get_mut(&record.id) {
                row.name = record.name;
                row.title = record.title;
                row.default_role = record.default_role;
            }
            Ok(((), Vec::new()))
        }))
    }

    fn delete_document(&self, doc_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            state.cascade(Vec::new(), vec![doc_id]);
            Ok(((), Vec::new()))
        }))
    }

    fn set_role(
        &self,
        doc_id: i64,
        user_name: String,
        role: Option<DocRole>,
    ) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |state| {
            let user = state
                .user_named(&user_name)
                .map(|u| u.id)
                .ok_or_else(|| refusals::user_not_found(&user_name))?;
            match role {
                Some(role) => state.doc_roles.insert((doc_id, user), role),
                None => state.doc_roles.remove(&(doc_id, user)),
            };
            Ok((user, Vec::new()))
        }))
    }

    fn load_content(&self, doc_id: i64) -> StoreFuture<'_, StoredDoc> {
        let found = self.read(|state| {
            let mut stored = StoredDoc {
                snapshot: state.snapshots.get(&doc_id).cloned(),
                ..StoredDoc::default()
            };
            for (id, (doc, update)) in &state.doc_updates {
                if *doc == doc_id {
                    stored.updates.push(update.clone());
                    stored.last_update = *id;
                }
            }
            Ok(stored)
        });
        Box::pin(async move { found })
    }

    fn claim_document(&self, doc_id: i64) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |state| {
            if !state.docs.contains_key(&doc_id) {
                return Err(Error::new(ErrorCode::DocNotFound, "the document is gone"));
            }
            Ok((state.claims.claim(doc_id), Vec::new()))
        }))
    }

    fn append_updates(
        &self,
        doc_id: i64,
        claim: i64,
        updates: Vec<Vec<u8>>,
    ) -> StoreFuture<'_, Option<i64>> {
        Box::pin(self.write(move |state| {
            if !state.docs.contains_key(&doc_id) {
                return Err(Error::new(ErrorCode::DocNotFound, "the document is gone"));
            }
            if !state.claims.holds(doc_id, claim) {
                return Ok((None, Vec::new()));
            }
            let mut last = 0;
            for update in updates {
                last = state.next_id(Table::Update);
                state.doc_updates.insert(last, (doc_id, update));
            }
            Ok((Some(last), Vec::new()))
        }))
    }

    fn compact(
        &self,
        doc_id: i64,
        claim: i64,
        snapshot: Vec<u8>,
        through: i64,
    ) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |state| {
            if !state.docs.contains_key(&doc_id) {
                return Err(Error::new(ErrorCode::DocNotFound, "the document is gone"));
            }
            if !state.claims.holds(doc_id, claim) {
                return Ok((false, Vec::new()));
            }
            state.snapshots.insert(doc_id, snapshot);
            state
                .doc_updates
                .retain(|id, (doc, _)| *doc != doc_id || *id > through);
            Ok((true, Vec::new()))
        }))
    }

    fn save_version(&self, version: NewVersion) -> StoreFuture<'_, VersionInfo> {
        Box::pin(self.write(move |state| Ok((state.save_version(version)?, Vec::new()))))
    }

    fn versions(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<VersionInfo>> {
        let found = self.read(|state| {
            Ok(state
                .versions
                .iter()
                .filter(|(_, v)| v.doc_id == doc_id)
                .map(|(id, v)| state.version_info(*id, v, &doc_name))
                .collect())
        });
        Box::pin(async move { found })
    }

    fn version(
        &self,
        doc_id: i64,
        doc_name: String,
        id: i64,
    ) -> StoreFuture<'_, Option<(VersionInfo, Vec<u8>)>> {
        let found = self.read(|state| {
            Ok(state
                .versions
                .get(&id)
                .filter(|v| v.doc_id == doc_id)
                .map(|v| (state.version_info(id, v, &doc_name), v.state.clone())))
        });
        Box::pin(async move { found })
    }
}

impl CommentStore for MemoryStore {
    fn comments(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<Comment>> {
        let found = self.read(|state| {
            let ids = state.comments.iter().filter(|(_, c)| c.doc_id == doc_id);
            let mut out = Vec::new();
            for (id, _) in ids {
                out.extend(state.comment(&doc_name, *id)?);
            }
            Ok(out)
        });
        Box::pin(async move { found })
    }

    fn comment_row(&self, doc_id: i64, id: i64) -> StoreFuture<'_, Option<CommentRow>> {
        let found = self.read(|state| {
            Ok(state
                .comments
                .get(&id)
                .filter(|c| c.doc_id == doc_id)
                .map(|c| CommentRow {
                    id,
                    doc_id,
                    parent_id: c.parent_id,
                    author_id: c.author_id,
                }))
        });
        Box::pin(async move { found })
    }

    fn comment_by_client_id(
        &self,
        doc: CommentsOf,
        author_id: i64,
        client_id: String,
    ) -> StoreFuture<'_, Option<Comment>> {
        let found = self.read(|state| {
            let found = state.comments.iter().find(|(_, c)| {
                c.author_id == author_id && c.client_id.as_deref() == Some(client_id.as_str())
            });
            match found {
                Some((id, c)) if c.doc_id == doc.doc_id => state.comment(&doc.doc_name, *id),
                Some(_) => Err(refusals::client_id_used_elsewhere()),
                None => Ok(None),
            }
        });
        Box::pin(async move { found })
    }

    fn create_comment(&self, doc: CommentsOf, post: CommentPost) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |state| {
            let author = post.author_id;
            let id = state.create_comment(&doc, post)?;
            state.announce(&doc, id, author, |comment| Event::CommentCreated {
                comment,
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
        Box::pin(self.write(move |state| {
            state.channel(doc.channel_id)?;
            let mentions = state.users_named(&mention_names);
            let now = now_ms();
            let row = state
                .comments
                .get_mut(&id)
                .ok_or_else(|| Error::internal("comment vanished"))?;
            row.body = body;
            row.edited_at = Some(now);
            state.set_comment_mentions(id, mentions);
            // Earlier frames of the comment stop carrying the body this replaces.
            let edited_at = format_ts(now);
            for (channel, seq) in state.comment_frames(id, true) {
                state.rewrite(channel, seq, |event| {
                    frames::comment_body_replaced(event, &edited_at)
                })?;
            }
            for (_, (comment, carries)) in state.comment_events.iter_mut() {
                if *comment == id {
                    *carries = false;
                }
            }
            state.announce(&doc, id, by, |comment| Event::CommentEdited { comment })
        }))
    }

    fn resolve_comment(
        &self,
        doc: CommentsOf,
        id: i64,
        resolved_by: Option<i64>,
        by: i64,
    ) -> StoreFuture<'_, Comment> {
        Box::pin(self.write(move |state| {
            state.channel(doc.channel_id)?;
            let row = state
                .comments
                .get_mut(&id)
                .ok_or_else(|| Error::internal("comment vanished"))?;
            row.resolved_by = resolved_by;
            row.resolved_at = resolved_by.map(|_| now_ms());
            state.announce(&doc, id, by, |comment| Event::CommentResolved { comment })
        }))
    }

    fn delete_comment(&self, doc: CommentsOf, id: i64, by: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |state| {
            state.channel(doc.channel_id)?;
            let mut ids = vec![id];
            ids.extend(
                state
                    .comments
                    .iter()
                    .filter(|(_, c)| c.parent_id == Some(id))
                    .map(|(reply, _)| *reply),
            );
            for comment in ids {
                for (channel, seq) in state.comment_frames(comment, false) {
                    state.rewrite(channel, seq, frames::comment_removed)?;
                }
            }
            state.remove_comments(&[id]);
            let published = state.append_event(
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

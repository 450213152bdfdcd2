//! Collaborative documents: the directory of documents and who may do what with them, the API
//! operations (create, list, rename, delete, roles, content, named versions, comments), and the
//! `/docs/{name}` connections served by one actor per open document (`actor`, `conn`).
//!
//! Access: a workspace document (no channel) is open to every signed-in user with the
//! document's `default_role`; a channel's document follows the channel: its members get the
//! `default_role`, others who may read the channel are viewers, the rest are refused. A role
//! granted to a user on the document replaces the computed one; the creator, workspace admins
//! and (for channel documents) channel admins are editors and may manage the document.

pub mod actor;
pub mod conn;
pub mod content;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use base64::Engine;
use parley_protocol::{Comment, CommentAnchor, DocInfo, DocRole, ErrorCode, Event, VersionInfo};
use yrs::updates::decoder::Decode;

use crate::{
    chat::channels::{Channel, Role},
    error::{Error, Result},
    store::{self, docs::DocRecord, Store, UserRecord},
    AppState,
};

pub const MAX_NAME_LEN: usize = 100;
/// Longest title, version name or quote.
const MAX_LABEL_LEN: usize = 500;

/// Letters, digits, `-`, `_`, `.`; 1 to 100 characters; not starting with `.`.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidDocName,
            format!(
                "invalid document name {name:?}: use 1 to {MAX_NAME_LEN} letters, digits, '-', \
                 '_', '.' (not starting with '.')"
            ),
        ))
    }
}

/// A document as the directory holds it.
pub struct DocEntry {
    pub id: i64,
    record: RwLock<DocRecord>,
    grants: RwLock<HashMap<i64, DocRole>>,
    /// The comments channel (`doc#<id>`).
    pub comments: Arc<Channel>,
}

impl DocEntry {
    pub fn record(&self) -> DocRecord {
        match self.record.read() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    fn grant(&self, user_id: i64) -> Option<DocRole> {
        self.grants.read().ok()?.get(&user_id).copied()
    }
}

/// Documents known to this server and the actors of open ones.
pub struct Docs {
    inner: RwLock<DocsInner>,
    pub actors: Arc<actor::Actors>,
}

#[derive(Default)]
struct DocsInner {
    by_name: HashMap<String, Arc<DocEntry>>,
    by_id: HashMap<i64, Arc<DocEntry>>,
    /// Names deleted or renamed away recently: a stock client still open on one reconnects on
    /// its own, and must not silently recreate the document from its local copy.
    retired: HashMap<String, std::time::Instant>,
}

/// How long a deleted or renamed-away name is not created by connecting to it.
const RETIRED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

impl DocsInner {
    fn retire(&mut self, name: String) {
        self.retired.retain(|_, at| at.elapsed() < RETIRED_FOR);
        self.retired.insert(name, std::time::Instant::now());
    }
}

impl Docs {
    /// Loads every document record (content loads when a document is opened), with its
    /// comments channel from the channel directory.
    pub async fn load(store: &Store, directory: &crate::chat::channels::Directory) -> Result<Self> {
        let docs = store.read(store::docs::all).await?;
        let channels: HashMap<i64, Arc<Channel>> = directory
            .all()
            .into_iter()
            .filter_map(|c| c.record.doc_id.map(|d| (d, c)))
            .collect();
        let this = Self {
            inner: RwLock::new(DocsInner::default()),
            actors: Arc::new(actor::Actors::default()),
        };
        for (record, grants) in docs {
            let Some(comments) = channels.get(&record.id) else {
                tracing::warn!(doc_id = record.id, "document without comments channel");
                continue;
            };
            this.insert(Arc::new(DocEntry {
                id: record.id,
                grants: RwLock::new(grants.into_iter().collect()),
                record: RwLock::new(record),
                comments: Arc::clone(comments),
            }));
        }
        Ok(this)
    }

    fn insert(&self, entry: Arc<DocEntry>) {
        if let Ok(mut inner) = self.inner.write() {
            inner
                .by_name
                .insert(entry.record().name, Arc::clone(&entry));
            inner.by_id.insert(entry.id, entry);
        }
    }

    fn remove(&self, id: i64) {
        if let Ok(mut inner) = self.inner.write() {
            if let Some(entry) = inner.by_id.remove(&id) {
                let name = entry.record().name;
                inner.by_name.remove(&name);
                inner.retire(name);
            }
        }
        self.actors.send_if_open(id, actor::Command::Deleted);
    }

    fn rename(&self, entry: &Arc<DocEntry>, old: &str) {
        let new = entry.record().name;
        if new == old {
            return;
        }
        if let Ok(mut inner) = self.inner.write() {
            inner.by_name.remove(old);
            inner.retired.remove(&new);
            inner.by_name.insert(new, Arc::clone(entry));
            inner.retire(old.to_owned());
        }
        // Connections opened under the old name close (4007); a reconnect under the old name
        // is refused for a while instead of creating an empty document there.
        self.actors.send_if_open(
            entry.id,
            actor::Command::AccessChanged {
                user_id: None,
                issued: std::time::Instant::now(),
            },
        );
    }

    /// True when connecting to `name` must not create it (deleted or renamed away lately).
    fn is_retired(&self, name: &str) -> bool {
        self.inner
            .read()
            .ok()
            .and_then(|i| i.retired.get(name).map(|at| at.elapsed() < RETIRED_FOR))
            .unwrap_or(false)
    }

    /// Tells the open document that `user_id`'s access (None: everyone's) changed.
    pub fn access_changed(&self, doc_id: i64, user_id: Option<i64>) {
        self.actors.send_if_open(
            doc_id,
            actor::Command::AccessChanged {
                user_id,
                issued: std::time::Instant::now(),
            },
        );
    }

    /// A user left (or was removed from) a channel: their connections to its documents close.
    pub fn left_channel(&self, channel_id: i64, user_id: i64) {
        for entry in self.all() {
            if entry.record().channel_id == Some(channel_id) {
                self.access_changed(entry.id, Some(user_id));
            }
        }
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<DocEntry>> {
        self.inner.read().ok()?.by_name.get(name).cloned()
    }

    fn all(&self) -> Vec<Arc<DocEntry>> {
        let Ok(inner) = self.inner.read() else {
            return Vec::new();
        };
        let mut all: Vec<_> = inner.by_id.values().cloned().collect();
        all.sort_by_key(|e| e.id);
        all
    }

    /// Forgets the documents of a deleted channel (the database cascades).
    pub fn forget_channel(&self, channel_id: i64) {
        let ids: Vec<i64> = self
            .all()
            .into_iter()
            .filter(|e| e.record().channel_id == Some(channel_id))
            .map(|e| e.id)
            .collect();
        for id in ids {
            self.remove(id);
        }
    }

    /// What actors need from the server.
    pub fn env(&self, state: &AppState) -> actor::ActorEnv {
        let c = &state.config.documents;
        actor::ActorEnv {
            store: state.store.clone(),
            actors: Arc::clone(&self.actors),
            config: actor::ActorConfig {
                max_document_size: c.max_document_size,
                compact_after: c.compact_after,
                idle_timeout: c.idle_timeout,
                queue: c.actor_queue,
                max_awareness_clients: c.max_awareness_clients_per_connection,
                awareness_per_second: c.awareness_per_second,
                awareness_burst: c.awareness_burst,
            },
            shutdown: state.connections.shutdown.clone(),
            tracker: state.connections.tracker.clone(),
        }
    }
}

/// Fields a document update may change.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocChanges {
    pub name: Option<String>,
    pub title: Option<String>,
    pub default_role: Option<DocRole>,
}

/// A new comment or reply.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    pub body: String,
    #[serde(default)]
    pub anchor: Option<CommentAnchor>,
    #[serde(default)]
    pub quote: Option<String>,
    /// Reply to this comment.
    #[serde(default)]
    pub parent: Option<i64>,
    /// Chosen by the client (1 to 64 characters): sending the same one again returns the
    /// original comment instead of adding another.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// `@name` mentions in a text (names as users choose them: letters, digits, `-`, `_`, `.`).
pub fn mentioned_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('@') {
        // Not inside a word (e-mail addresses are not mentions).
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.') {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .collect();
        let name = name.trim_end_matches('.').to_owned();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn not_found(name: &str) -> Error {
    Error::new(ErrorCode::DocNotFound, format!("no document {name:?}"))
}

fn check_label(what: &str, text: &str) -> Result<()> {
    if text.chars().count() > MAX_LABEL_LEN {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("{what} is longer than {MAX_LABEL_LEN} characters"),
        ));
    }
    Ok(())
}

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
    /// The user's role on a document; an error when they may not see it at all.
    pub fn doc_role(&self, doc: &DocEntry, user: &UserRecord) -> Result<DocRole> {
        let record = doc.record();
        let parent = match record.channel_id {
            Some(id) => Some(
                self.directory
                    .by_id(id)
                    .ok_or_else(|| not_found(&record.name))?,
            ),
            None => None,
        };
        if let Some(channel) = &parent {
            channel.check_read(Some(user))?;
        }
        if self.can_manage_doc(&record, parent.as_deref(), user) {
            return Ok(DocRole::Editor);
        }
        if let Some(role) = doc.grant(user.id) {
            return Ok(role);
        }
        Ok(match &parent {
            Some(channel) if !(channel.is_instance() || channel.is_member(user.id)) => {
                DocRole::Viewer
            }
            _ => record.default_role,
        })
    }

    fn can_manage_doc(
        &self,
        record: &DocRecord,
        parent: Option<&Channel>,
        user: &UserRecord,
    ) -> bool {
        user.is_admin
            || record.created_by == Some(user.id)
            || parent.is_some_and(|c| c.role(user.id) == Some(Role::Admin))
    }

    fn check_manage_doc(&self, doc: &DocEntry, user: &UserRecord) -> Result<()> {
        self.doc_role(doc, user)?;
        let record = doc.record();
        let parent = record.channel_id.and_then(|id| self.directory.by_id(id));
        if self.can_manage_doc(&record, parent.as_deref(), user) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only the document's creator, channel admins and workspace admins may do this",
            ))
        }
    }

    /// The document and the user's role, requiring at least `needed`.
    pub fn doc_access(
        &self,
        name: &str,
        user: &UserRecord,
        needed: DocRole,
    ) -> Result<(Arc<DocEntry>, DocRole)> {
        let doc = self.docs.by_name(name).ok_or_else(|| not_found(name))?;
        let role = self.doc_role(&doc, user)?;
        if role < needed {
            return Err(Error::forbidden(format!(
                "this needs the {} role on the document; you are a {}",
                needed.as_str(),
                role.as_str()
            )));
        }
        Ok((doc, role))
    }

    pub fn doc_info(&self, doc: &DocEntry, user: Option<&UserRecord>) -> DocInfo {
        let record = doc.record();
        DocInfo {
            id: record.id,
            name: record.name.clone(),
            title: record.title.clone(),
            channel: record
                .channel_id
                .and_then(|id| self.directory.by_id(id))
                .map(|c| c.record.name.clone()),
            comments_channel: doc.comments.record.name.clone(),
            default_role: record.default_role,
            role: user.and_then(|u| self.doc_role(doc, u).ok()),
            created_by: record.creator.clone(),
            created_at: store::format_ts(record.created_at),
        }
    }

    /// Documents the user may see.
    pub fn visible_docs(&self, user: &UserRecord) -> Vec<DocInfo> {
        self.docs
            .all()
            .into_iter()
            .filter(|d| self.doc_role(d, user).is_ok())
            .map(|d| self.doc_info(&d, Some(user)))
            .collect()
    }

    /// Creates a document, in `channel` (members only) or in the workspace.
    pub async fn create_doc(
        &self,
        user: &UserRecord,
        name: &str,
        title: Option<String>,
        channel: Option<&str>,
        default_role: Option<DocRole>,
    ) -> Result<Arc<DocEntry>> {
        validate_name(name)?;
        if let Some(title) = &title {
            check_label("title", title)?;
        }
        let channel_id = match channel {
            Some(channel) => {
                let channel = self.channel(channel, Some(user)).await?;
                if channel.record.doc_id.is_some() || channel.is_template() {
                    return Err(Error::forbidden("documents cannot belong to this channel"));
                }
                channel.check_send(user)?;
                Some(channel.record.id)
            }
            None => {
                if self.config.documents.create == "admins" && !user.is_admin {
                    return Err(Error::forbidden(
                        "only workspace admins may create workspace documents here",
                    ));
                }
                None
            }
        };
        let (name, user_id) = (name.to_owned(), user.id);
        let role = default_role.unwrap_or(DocRole::Editor);
        let max = (!user.is_admin).then_some(self.config.limits.documents_per_user);
        let (record, channel_record) = self
            .store
            .write(move |tx, _| {
                if let Some(max) = max {
                    let used = store::limits::documents_created(tx, user_id)?;
                    store::limits::check("documents_per_user", "documents", used, 1, max)?;
                }
                let created =
                    store::docs::insert(tx, &name, title.as_deref(), channel_id, role, user_id)?;
                Ok((created, Vec::new()))
            })
            .await?;
        let comments = self.directory.insert_channel(channel_record);
        let entry = Arc::new(DocEntry {
            id: record.id,
            record: RwLock::new(record),
            grants: RwLock::new(HashMap::new()),
            comments,
        });
        self.docs.insert(Arc::clone(&entry));
        if let Ok(mut inner) = self.docs.inner.write() {
            inner.retired.remove(&entry.record().name);
        }
        tracing::info!(doc = %entry.record().name, user = %user.name, "document created");
        Ok(entry)
    }

    /// The document a `/docs/{name}` connection opens, created when it does not exist and the
    /// user may create documents (so stock Yjs clients need no extra call). With `expected`
    /// (the client's `doc_id`), only that document, under its current name, and nothing is
    /// created: a replica of a deleted or renamed document must never be written into another
    /// document that has its name now.
    pub async fn doc_for_connection(
        &self,
        name: &str,
        user: &UserRecord,
        expected: Option<i64>,
    ) -> Result<(Arc<DocEntry>, DocRole)> {
        if let Some(id) = expected {
            let moved = || {
                Error::new(
                    ErrorCode::DocNotFound,
                    format!("document {id} is not named {name:?} (it was deleted or renamed)"),
                )
            };
            if self.docs.by_name(name).is_none_or(|doc| doc.id != id) {
                return Err(moved());
            }
            let (doc, role) = self.doc_access(name, user, DocRole::Viewer)?;
            // Renamed or deleted and reused between the two lookups.
            if doc.id != id {
                return Err(moved());
            }
            return Ok((doc, role));
        }
        if self.docs.by_name(name).is_none() {
            if self.docs.is_retired(name) {
                return Err(Error::new(
                    ErrorCode::DocNotFound,
                    format!("document {name:?} was deleted or renamed; create it again explicitly"),
                ));
            }
            match self.create_doc(user, name, None, None, None).await {
                Ok(_) => {}
                // Someone else created it at the same moment.
                Err(err) if err.0.code == ErrorCode::DocExists => {}
                Err(err) => return Err(err),
            }
        }
        self.doc_access(name, user, DocRole::Viewer)
    }

    pub async fn update_doc(
        &self,
        user: &UserRecord,
        name: &str,
        changes: DocChanges,
    ) -> Result<Arc<DocEntry>> {
        let doc = self.docs.by_name(name).ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let mut record = doc.record();
        let old = record.name.clone();
        if let Some(new) = changes.name {
            validate_name(&new)?;
            record.name = new;
        }
        if let Some(title) = changes.title {
            check_label("title", &title)?;
            record.title = Some(title).filter(|t| !t.is_empty());
        }
        let role_changed = changes
            .default_role
            .is_some_and(|role| role != record.default_role);
        if let Some(role) = changes.default_role {
            record.default_role = role;
        }
        let stored = record.clone();
        self.store
            .write(move |tx, _| {
                store::docs::update(tx, &stored)?;
                Ok(((), Vec::new()))
            })
            .await?;
        if let Ok(mut r) = doc.record.write() {
            *r = record;
        }
        self.docs.rename(&doc, &old);
        if role_changed {
            self.docs.access_changed(doc.id, None);
        }
        Ok(doc)
    }

    pub async fn delete_doc(&self, user: &UserRecord, name: &str) -> Result<()> {
        let doc = self.docs.by_name(name).ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let (id, channel_id) = (doc.id, doc.comments.record.id);
        self.store
            .write(move |tx, state| {
                store::docs::delete(tx, id)?;
                state.forget(channel_id);
                Ok(((), Vec::new()))
            })
            .await?;
        self.docs.remove(id);
        self.directory.forget_channel(channel_id);
        self.hubs.remove(channel_id);
        Ok(())
    }

    /// Grants `role` on the document to the user named `target` (None removes their grant).
    pub async fn set_doc_role(
        &self,
        user: &UserRecord,
        name: &str,
        target: &str,
        role: Option<DocRole>,
    ) -> Result<()> {
        let doc = self.docs.by_name(name).ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let target = target.to_owned();
        let doc_id = doc.id;
        let target_id = self
            .store
            .write(move |tx, _| {
                let found = store::user_by_name(tx, &target)?.ok_or_else(|| {
                    Error::new(ErrorCode::UserNotFound, format!("no user {target:?}"))
                })?;
                store::docs::set_role(tx, doc_id, found.id, role)?;
                Ok((found.id, Vec::new()))
            })
            .await?;
        let changed = if let Ok(mut grants) = doc.grants.write() {
            match role {
                Some(role) => grants.insert(target_id, role) != Some(role),
                None => grants.remove(&target_id).is_some(),
            }
        } else {
            false
        };
        if changed {
            self.docs.access_changed(doc.id, Some(target_id));
        }
        Ok(())
    }

    /// The committed state of a document as one Yjs update (opens the document if needed).
    async fn doc_state(&self, doc: &DocEntry) -> Result<Vec<u8>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let env = self.docs.env(self);
        self.docs
            .actors
            .send(doc.id, &env, actor::Command::State { reply })
            .await?;
        rx.await
            .map_err(|_| Error::internal("the document could not be read"))
    }

    /// The document's content: its full state and the text of each root type.
    pub async fn doc_content(&self, user: &UserRecord, name: &str) -> Result<content::ContentJson> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer)?;
        let admission = self.content_gate.enter().await?;
        let state = self.doc_state(&doc).await?;
        self.render_content(admission, doc.record().name, None, state)
            .await
    }

    /// Renders a content answer on a blocking thread, holding its place at the content gate
    /// until the work ends (even if the request goes away first).
    async fn render_content(
        &self,
        admission: crate::gate::Admission,
        doc: String,
        version: Option<VersionInfo>,
        state: Vec<u8>,
    ) -> Result<content::ContentJson> {
        let max_roots = self.config.documents.max_content_roots;
        tokio::task::spawn_blocking(move || {
            let _admission = admission;
            content::render(&doc, version.as_ref(), &state, max_roots)
        })
        .await
        .map_err(Error::internal)?
    }

    pub async fn save_version(
        &self,
        user: &UserRecord,
        name: &str,
        version: &str,
    ) -> Result<VersionInfo> {
        let (doc, _) = self.doc_access(name, user, DocRole::Editor)?;
        let version = version.trim().to_owned();
        if version.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "a version needs a name",
            ));
        }
        check_label("version name", &version)?;
        let state = self.doc_state(&doc).await?;
        let (doc_id, doc_name, user_id) = (doc.id, doc.record().name, user.id);
        let max = self.config.documents.max_versions;
        let max_bytes = (!user.is_admin).then_some(self.config.limits.version_bytes_per_user);
        self.store
            .write(move |tx, _| {
                if store::docs::version_count(tx, doc_id)? >= max {
                    return Err(Error::new(
                        ErrorCode::LimitReached,
                        format!(
                            "the document has {max} named versions, the most \
                             documents.max_versions allows"
                        ),
                    ));
                }
                if let Some(max_bytes) = max_bytes {
                    let used = store::limits::version_bytes_saved(tx, user_id)?;
                    store::limits::check(
                        "version_bytes_per_user",
                        "bytes of named versions",
                        used,
                        state.len() as u64,
                        max_bytes,
                    )?;
                }
                let info =
                    store::docs::insert_version(tx, doc_id, &doc_name, &version, &state, user_id)?;
                Ok((info, Vec::new()))
            })
            .await
    }

    pub async fn list_versions(&self, user: &UserRecord, name: &str) -> Result<Vec<VersionInfo>> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer)?;
        let (id, doc_name) = (doc.id, doc.record().name);
        self.store
            .read(move |conn| store::docs::versions(conn, id, &doc_name))
            .await
    }

    pub async fn version_content(
        &self,
        user: &UserRecord,
        name: &str,
        version: i64,
    ) -> Result<content::ContentJson> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer)?;
        let admission = self.content_gate.enter().await?;
        let (id, doc_name) = (doc.id, doc.record().name);
        let found = self
            .store
            .read(move |conn| store::docs::version(conn, id, &doc_name, version))
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::VersionNotFound, format!("no version {version}"))
            })?;
        let (info, state) = found;
        self.render_content(admission, doc.record().name, Some(info), state)
            .await
    }

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
        let names = mentioned_names(&new.body);
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
        let names = mentioned_names(&body);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["notes", "Design-Doc_2.md", "a"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "with space", "é", &"x".repeat(101)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mentions() {
        assert_eq!(
            mentioned_names("hi @alice and @bob.smith, mail x@example.com @alice."),
            vec!["alice".to_owned(), "bob.smith".to_owned()]
        );
        assert!(mentioned_names("no mentions @ here").is_empty());
    }
}

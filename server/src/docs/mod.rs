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
mod comments;
pub mod conn;
pub mod content;
mod directory;
pub mod owner;
pub mod proxy;
mod remote;
mod service;
mod versions;

pub use comments::NewComment;
pub use directory::{DocEntry, Docs};
pub use remote::RemoteDocs;
pub use service::Documents;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use parley_protocol::{DocInfo, DocRole, ErrorCode, VersionInfo};

use crate::{
    chat::channels::{Channel, Role},
    error::{Error, Result},
    store::{self, DocRecord, NewDocument, UserRecord},
};

pub const MAX_NAME_LEN: usize = parley_protocol::names::DOC_NAME_MAX_LEN;
/// Longest title, version name or quote.
const MAX_LABEL_LEN: usize = 500;

/// Letters, digits, `-`, `_`, `.`; 1 to 100 characters; not starting with `.`
/// (`parley_protocol::names`, the rule every client checks too).
pub fn validate_name(name: &str) -> Result<()> {
    if parley_protocol::names::is_valid_doc_name(name) {
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

/// Fields a document update may change.
pub use parley_protocol::api::DocChanges;

pub(crate) fn not_found(name: &str) -> Error {
    Error::new(ErrorCode::DocNotFound, format!("no document {name:?}"))
}

pub(crate) fn check_label(what: &str, text: &str) -> Result<()> {
    if text.chars().count() > MAX_LABEL_LEN {
        return Err(Error::new(
            ErrorCode::InvalidRequest,
            format!("{what} is longer than {MAX_LABEL_LEN} characters"),
        ));
    }
    Ok(())
}

impl Documents {
    /// The user's role on a document; an error when they may not see it at all.
    pub fn doc_role(&self, doc: &DocEntry, user: &UserRecord) -> Result<DocRole> {
        let record = doc.record();
        let parent = match record.channel_id {
            Some(id) => Some(
                self.chat
                    .directory
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

    pub(crate) fn can_manage_doc(
        &self,
        record: &DocRecord,
        parent: Option<&Channel>,
        user: &UserRecord,
    ) -> bool {
        user.is_admin
            || record.created_by == Some(user.id)
            || parent.is_some_and(|c| c.role(user.id) == Some(Role::Admin))
    }

    pub(crate) fn check_manage_doc(&self, doc: &DocEntry, user: &UserRecord) -> Result<()> {
        self.doc_role(doc, user)?;
        let record = doc.record();
        let parent = record
            .channel_id
            .and_then(|id| self.chat.directory.by_id(id));
        if self.can_manage_doc(&record, parent.as_deref(), user) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "only the document's creator, channel admins and workspace admins may do this",
            ))
        }
    }

    /// The document and the user's role, requiring at least `needed`.
    pub async fn doc_access(
        &self,
        name: &str,
        user: &UserRecord,
        needed: DocRole,
    ) -> Result<(Arc<DocEntry>, DocRole)> {
        let doc = self.lookup(name).await?.ok_or_else(|| not_found(name))?;
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
                .and_then(|id| self.chat.directory.by_id(id))
                .map(|c| c.record.name.clone()),
            comments_channel: doc.comments.record.name.clone(),
            default_role: record.default_role,
            role: user.and_then(|u| self.doc_role(doc, u).ok()),
            created_by: record.creator.clone(),
            created_at: store::format_ts(record.created_at),
        }
    }

    /// Documents the user may see.
    pub async fn visible_docs(&self, user: &UserRecord) -> Result<Vec<DocInfo>> {
        self.load_new().await?;
        Ok(self
            .dir
            .all()
            .into_iter()
            .filter(|d| self.doc_role(d, user).is_ok())
            .map(|d| self.doc_info(&d, Some(user)))
            .collect())
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
                let channel = self.chat.channel(channel, Some(user)).await?;
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
        let (record, channel_record) = self
            .stores
            .documents
            .create_document(NewDocument {
                name: name.to_owned(),
                title,
                channel_id,
                default_role: default_role.unwrap_or(DocRole::Editor),
                created_by: user.id,
                limit: (!user.is_admin).then_some(self.config.limits.documents_per_user),
            })
            .await?;
        let comments = self.chat.directory.insert_channel(channel_record);
        let entry = Arc::new(DocEntry {
            id: record.id,
            record: RwLock::new(record),
            grants: RwLock::new(HashMap::new()),
            comments,
        });
        self.dir.insert(Arc::clone(&entry));
        self.dir.unretire(&entry.record().name);
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
            if self.lookup(name).await?.is_none_or(|doc| doc.id != id) {
                return Err(moved());
            }
            let (doc, role) = self.doc_access(name, user, DocRole::Viewer).await?;
            // Renamed or deleted and reused between the two lookups.
            if doc.id != id {
                return Err(moved());
            }
            return Ok((doc, role));
        }
        if self.lookup(name).await?.is_none() {
            if self.dir.is_retired(name) {
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
        self.doc_access(name, user, DocRole::Viewer).await
    }

    pub async fn update_doc(
        &self,
        user: &UserRecord,
        name: &str,
        changes: DocChanges,
    ) -> Result<Arc<DocEntry>> {
        let doc = self.lookup(name).await?.ok_or_else(|| not_found(name))?;
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
        self.stores
            .documents
            .update_document(record.clone())
            .await?;
        if let Ok(mut r) = doc.record.write() {
            *r = record;
        }
        self.dir.rename(&doc, &old);
        if role_changed {
            self.dir.access_changed(doc.id, None);
        }
        self.announce(doc.id, None);
        Ok(doc)
    }

    pub async fn delete_doc(&self, user: &UserRecord, name: &str) -> Result<()> {
        let doc = self.lookup(name).await?.ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let (id, channel_id) = (doc.id, doc.comments.record.id);
        self.stores.documents.delete_document(id).await?;
        self.dir.remove(id);
        self.announce(id, None);
        self.chat.directory.forget_channel(channel_id);
        self.chat.hubs.remove(channel_id);
        Ok(())
    }

    /// Grants `role` on the document to the user named `target` (None removes their grant).
    /// The people given a role of their own on a document, by name: for its managers.
    pub async fn doc_roles(
        &self,
        user: &UserRecord,
        name: &str,
    ) -> Result<Vec<parley_protocol::api::DocRoleEntry>> {
        let doc = self.lookup(name).await?.ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let grants: Vec<(i64, DocRole)> = doc
            .grants
            .read()
            .map(|g| g.iter().map(|(id, role)| (*id, *role)).collect())
            .unwrap_or_default();
        let users = self
            .stores
            .accounts
            .users_by_id(grants.iter().map(|(id, _)| *id).collect())
            .await?;
        let mut roles: Vec<_> = users
            .into_iter()
            .filter_map(|u| {
                let role = grants.iter().find(|(id, _)| *id == u.id)?.1;
                Some(parley_protocol::api::DocRoleEntry {
                    user: u.to_ref(),
                    role,
                })
            })
            .collect();
        roles.sort_by(|a, b| a.user.name.cmp(&b.user.name));
        Ok(roles)
    }

    pub async fn set_doc_role(
        &self,
        user: &UserRecord,
        name: &str,
        target: &str,
        role: Option<DocRole>,
    ) -> Result<()> {
        let doc = self.lookup(name).await?.ok_or_else(|| not_found(name))?;
        self.check_manage_doc(&doc, user)?;
        let target_id = self
            .stores
            .documents
            .set_role(doc.id, target.to_owned(), role)
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
            self.dir.access_changed(doc.id, Some(target_id));
            self.announce(doc.id, Some(target_id));
        }
        Ok(())
    }

    /// The committed state of a document as one Yjs update (opens the document if needed).
    pub(crate) async fn doc_state(&self, doc: &DocEntry) -> Result<Vec<u8>> {
        if let owner::Owner::There(_) = self.owner(doc.id).await {
            return self.stored_state(doc.id).await;
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let env = self.actor_env();
        self.dir
            .actors
            .send(doc.id, &env, actor::Command::State { reply })
            .await?;
        rx.await
            .map_err(|_| Error::internal("the document could not be read"))
    }

    /// The document's content: its full state and the text of each root type.
    pub async fn doc_content(&self, user: &UserRecord, name: &str) -> Result<content::ContentJson> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer).await?;
        let admission = self.content_gate.enter().await?;
        let state = self.doc_state(&doc).await?;
        self.render_content(admission, doc.record().name, None, state)
            .await
    }

    /// Renders a content answer on a blocking thread, holding its place at the content gate
    /// until the work ends (even if the request goes away first).
    pub(crate) async fn render_content(
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
}

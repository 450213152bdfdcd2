//! The documents themselves over HTTP: listing, creating, renaming and deleting them, their
//! roles, content and named versions. Names are checked by the server's own rule first.

use parley_protocol::{api, names, DocInfo, DocRole, ErrorCode, VersionInfo};

use crate::{Client, Error, Result};

/// `name` is a document name by the server's rule (`parley_protocol::names`), or the refusal
/// the server would give (`invalid_doc_name`).
pub fn check_name(name: &str) -> Result<()> {
    if names::is_valid_doc_name(name) {
        Ok(())
    } else {
        Err(Error::rule(
            ErrorCode::InvalidDocName,
            names::doc_name_rule(),
        ))
    }
}

impl Client {
    /// The documents this user can open.
    pub async fn docs(&self) -> Result<Vec<DocInfo>> {
        self.api().docs().await
    }

    /// One document (its id, the user's role, its comments channel).
    pub async fn doc_info(&self, name: &str) -> Result<DocInfo> {
        check_name(name)?;
        self.api().doc(name).await
    }

    /// Creates a document (in `channel`: for its members; none: for the workspace). Blank
    /// titles and channels count as none.
    pub async fn create_doc(
        &self,
        name: &str,
        title: Option<String>,
        channel: Option<String>,
    ) -> Result<DocInfo> {
        check_name(name)?;
        let doc = api::CreateDoc {
            name: name.to_owned(),
            title: title.filter(|t| !t.trim().is_empty()),
            channel: channel.filter(|c| !c.trim().is_empty()),
            default_role: None,
        };
        self.api().create_doc(&doc).await
    }

    /// Renames a document and/or sets its title.
    pub async fn rename_doc(
        &self,
        name: &str,
        new_name: Option<String>,
        title: Option<String>,
    ) -> Result<DocInfo> {
        check_name(name)?;
        if let Some(new) = &new_name {
            check_name(new)?;
        }
        let changes = api::DocChanges {
            name: new_name,
            title,
            default_role: None,
        };
        self.api().update_doc(name, &changes).await
    }

    /// Deletes a document for everyone: a manager's right (the server answers `forbidden`
    /// otherwise).
    pub async fn delete_doc(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.api().delete_doc(name).await
    }

    /// Gives `user` a role of their own on a document (None: takes it away).
    pub async fn set_doc_role(&self, name: &str, user: &str, role: Option<DocRole>) -> Result<()> {
        check_name(name)?;
        self.api().set_doc_role(name, user, role).await
    }

    /// The people given a role of their own on a document (`forbidden` unless the user may
    /// manage it).
    pub async fn doc_roles(&self, name: &str) -> Result<Vec<api::DocRoleEntry>> {
        check_name(name)?;
        self.api().doc_roles(name).await
    }

    /// The server's copy of a document's content (for the local one, open a replica).
    pub async fn doc_content(&self, name: &str) -> Result<api::DocContent> {
        check_name(name)?;
        self.api().doc_content(name).await
    }

    /// The named versions of a document, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionInfo>> {
        check_name(name)?;
        self.api().versions(name).await
    }

    /// Saves the document's current state on the server as a named version.
    pub async fn save_version(&self, name: &str, version: &str) -> Result<VersionInfo> {
        check_name(name)?;
        self.api().save_version(name, version).await
    }

    /// The content of a named version.
    pub async fn version_content(&self, name: &str, id: i64) -> Result<api::DocContent> {
        check_name(name)?;
        self.api().version_content(name, id).await
    }
}

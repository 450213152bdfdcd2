//! `/api/docs`: documents, their roles, content, named versions and comments.

use parley_protocol::{api, Comment, DocInfo, DocRole, VersionInfo};
use reqwest::Method;

use super::HttpApi;
use crate::Result;

impl HttpApi {
    /// The documents this user can open.
    pub async fn docs(&self) -> Result<Vec<DocInfo>> {
        let list: api::DocList = self.json(self.call(Method::GET, &["api", "docs"])?).await?;
        Ok(list.docs)
    }

    pub async fn create_doc(&self, doc: &api::CreateDoc) -> Result<DocInfo> {
        self.send_json(Method::POST, &["api", "docs"], doc).await
    }

    /// One document (its id, role and comments channel), by its current name.
    pub async fn doc(&self, name: &str) -> Result<DocInfo> {
        self.json(self.call(Method::GET, &["api", "docs", name])?)
            .await
    }

    /// Renames a document, sets its title or default role.
    pub async fn update_doc(&self, name: &str, changes: &api::DocChanges) -> Result<DocInfo> {
        self.send_json(Method::PATCH, &["api", "docs", name], changes)
            .await
    }

    /// Deletes a document for everyone (content, versions and comments).
    pub async fn delete_doc(&self, name: &str) -> Result<()> {
        self.no_content(self.call(Method::DELETE, &["api", "docs", name])?)
            .await
    }

    /// Gives `user` a role of their own on the document (None: takes it away).
    pub async fn set_doc_role(&self, name: &str, user: &str, role: Option<DocRole>) -> Result<()> {
        let path = ["api", "docs", name, "roles", user];
        let request = match role {
            Some(role) => self
                .call(Method::PUT, &path)?
                .json(&api::RoleGrant { role }),
            None => self.call(Method::DELETE, &path)?,
        };
        self.no_content(request).await
    }

    /// The people given a role of their own on the document (for its managers).
    pub async fn doc_roles(&self, name: &str) -> Result<Vec<api::DocRoleEntry>> {
        let list: api::DocRoleList = self
            .json(self.call(Method::GET, &["api", "docs", name, "roles"])?)
            .await?;
        Ok(list.roles)
    }

    /// The document's content now.
    pub async fn doc_content(&self, name: &str) -> Result<api::DocContent> {
        self.json(self.call(Method::GET, &["api", "docs", name, "content"])?)
            .await
    }

    /// The named versions of a document, newest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionInfo>> {
        let list: api::VersionList = self
            .json(self.call(Method::GET, &["api", "docs", name, "versions"])?)
            .await?;
        Ok(list.versions)
    }

    /// Saves the document's current state as a named version.
    pub async fn save_version(&self, name: &str, version: &str) -> Result<VersionInfo> {
        let body = api::SaveVersion {
            name: version.to_owned(),
        };
        self.send_json(Method::POST, &["api", "docs", name, "versions"], &body)
            .await
    }

    /// The content of a named version.
    pub async fn version_content(&self, name: &str, id: i64) -> Result<api::DocContent> {
        let id = id.to_string();
        self.json(self.call(Method::GET, &["api", "docs", name, "versions", &id])?)
            .await
    }

    /// The comments (and replies) of a document.
    pub async fn comments(&self, name: &str) -> Result<Vec<Comment>> {
        let list: api::CommentList = self
            .json(self.call(Method::GET, &["api", "docs", name, "comments"])?)
            .await?;
        Ok(list.comments)
    }

    /// Posts a comment or reply (`client_id` makes a resend return the original).
    pub async fn create_comment(&self, name: &str, comment: &api::NewComment) -> Result<Comment> {
        self.send_json(Method::POST, &["api", "docs", name, "comments"], comment)
            .await
    }

    /// Replaces the body of one's own comment.
    pub async fn edit_comment(&self, name: &str, id: i64, body: &str) -> Result<Comment> {
        let id = id.to_string();
        let body = api::EditComment {
            body: body.to_owned(),
        };
        self.send_json(
            Method::PATCH,
            &["api", "docs", name, "comments", &id],
            &body,
        )
        .await
    }

    /// Deletes a comment (with its replies) or a reply.
    pub async fn delete_comment(&self, name: &str, id: i64) -> Result<()> {
        let id = id.to_string();
        self.no_content(self.call(Method::DELETE, &["api", "docs", name, "comments", &id])?)
            .await
    }

    /// Resolves (`true`) or reopens a comment.
    pub async fn resolve_comment(&self, name: &str, id: i64, resolved: bool) -> Result<Comment> {
        let id = id.to_string();
        let action = if resolved { "resolve" } else { "reopen" };
        let path = ["api", "docs", name, "comments", &id, action];
        self.json(self.call(Method::POST, &path)?).await
    }
}

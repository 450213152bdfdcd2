//! Named versions of a document: saving the current state under a name, listing them, and
//! rendering one as JSON.

use parley_protocol::{DocRole, ErrorCode, VersionInfo};

use super::{check_label, content};
use crate::{
    docs::Documents,
    error::{Error, Result},
    store::{NewVersion, UserRecord},
};

impl Documents {
    pub async fn save_version(
        &self,
        user: &UserRecord,
        name: &str,
        version: &str,
    ) -> Result<VersionInfo> {
        let (doc, _) = self.doc_access(name, user, DocRole::Editor).await?;
        let version = version.trim().to_owned();
        if version.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "a version needs a name",
            ));
        }
        check_label("version name", &version)?;
        let state = self.doc_state(&doc).await?;
        // Both limits are counted inside the write, so concurrent saves cannot both pass.
        self.stores
            .documents
            .save_version(NewVersion {
                doc_id: doc.id,
                doc_name: doc.record().name,
                name: version,
                state,
                created_by: user.id,
                max_versions: self.config.documents.max_versions,
                max_bytes: (!user.is_admin).then_some(self.config.limits.version_bytes_per_user),
            })
            .await
    }

    pub async fn list_versions(&self, user: &UserRecord, name: &str) -> Result<Vec<VersionInfo>> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer).await?;
        self.stores
            .documents
            .versions(doc.id, doc.record().name)
            .await
    }

    pub async fn version_content(
        &self,
        user: &UserRecord,
        name: &str,
        version: i64,
    ) -> Result<content::ContentJson> {
        let (doc, _) = self.doc_access(name, user, DocRole::Viewer).await?;
        let admission = self.content_gate.enter().await?;
        let found = self
            .stores
            .documents
            .version(doc.id, doc.record().name, version)
            .await?
            .ok_or_else(|| {
                Error::new(ErrorCode::VersionNotFound, format!("no version {version}"))
            })?;
        let (info, state) = found;
        self.render_content(admission, doc.record().name, Some(info), state)
            .await
    }
}

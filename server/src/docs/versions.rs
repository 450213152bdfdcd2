//! Named versions of a document: saving the current state under a name, listing them, and
//! rendering one as JSON.

use parley_protocol::{DocRole, ErrorCode, VersionInfo};

use super::{check_label, content};
use crate::{
    error::{Error, Result},
    store::{self, UserRecord},
    AppState,
};

impl AppState {
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
}

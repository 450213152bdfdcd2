//! Full-text search over the messages a user may read, and keeping the index behind the writes.

use parley_protocol::ErrorCode;

use crate::{
    chat::Chat,
    error::{Error, Result},
    store::{SearchRequest, UserRecord},
};

/// Most messages indexed in one write.
const INDEX_BATCH: i64 = 5000;

/// A search as asked (see `Op::Search`).
pub struct SearchQuery<'a> {
    pub query: &'a str,
    pub channel: Option<&'a str>,
    pub author: Option<&'a str>,
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl Chat {
    /// Full-text search over every message this user may read.
    pub async fn search(
        &self,
        user: &UserRecord,
        q: SearchQuery<'_>,
    ) -> Result<Vec<parley_protocol::SearchHit>> {
        let SearchQuery {
            query,
            channel,
            author,
            after,
            before,
            limit,
        } = q;
        if query.chars().count() > 500 {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "the query is too long",
            ));
        }
        let channels: Vec<i64> = match channel {
            Some(name) => {
                let channel = self.channel(name, Some(user)).await?;
                channel.check_read(Some(user))?;
                vec![channel.record.id]
            }
            None => self
                .directory
                .all()
                .into_iter()
                .filter(|c| !c.is_template() && c.check_read(Some(user)).is_ok())
                .map(|c| c.record.id)
                .collect(),
        };
        let author_id = match author {
            Some(name) => {
                let found = self.stores.accounts.user_by_name(name.to_owned()).await?;
                match found {
                    Some(u) => Some(u.id),
                    None => return Ok(Vec::new()),
                }
            }
            None => None,
        };
        let limit = limit
            .unwrap_or(20)
            .clamp(1, self.config.realtime.max_search_results);
        // A bounded number run at once (each may hold a read connection for `search_timeout`),
        // so other reads always find a connection; the rest wait or are refused.
        let admission = self.search_gate.enter().await?;
        // Whatever was sent until now is searchable.
        while self.index_pending().await? {}
        self.stores
            .search
            .search(SearchRequest {
                query: query.to_owned(),
                channels,
                author_id,
                after,
                before,
                limit,
                timeout: self.config.realtime.search_timeout,
                admission: Some(Box::new(admission)),
            })
            .await
    }

    /// Adds what was sent since the last time to the search index (one batch); true when more
    /// waits. The upkeep loop calls it every `INDEX_EVERY`, and every search first.
    pub async fn index_pending(&self) -> Result<bool> {
        self.stores.search.index_pending(INDEX_BATCH).await
    }
}

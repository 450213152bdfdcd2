//! Documents (PostgreSQL): records, roles, the update log with its snapshot, named versions.
//! Comments are in `comments.rs`.

use std::collections::HashMap;

use parley_protocol::{DocRole, ErrorCode, UserRef, VersionInfo};
use postgres::{GenericClient, Row, Transaction};

use super::{channels, is_unique_violation, snapshot, users::user_ref, PgStore};
use crate::{
    error::{Error, Result},
    store::{
        format_ts, limits, now_ms, refusals, ChannelRecord, DocRecord, DocumentStore, Grants,
        NewDocument, NewVersion, StoreFuture, StoredDoc,
    },
};

const DOC_COLUMNS: &str = "d.id, d.name, d.title, d.channel_id, d.default_role, d.created_by, \
    d.created_at, u.name, u.display_name, u.avatar";
const DOC_FROM: &str = "docs d LEFT JOIN users u ON u.id = d.created_by";

fn doc_from_row(row: &Row) -> DocRecord {
    let created_by: Option<i64> = row.get(5);
    let creator_name: Option<String> = row.get(7);
    DocRecord {
        id: row.get(0),
        name: row.get(1),
        title: row.get(2),
        channel_id: row.get(3),
        default_role: DocRole::parse(row.get(4)).unwrap_or(DocRole::Viewer),
        created_by,
        creator: match (created_by, creator_name) {
            (Some(id), Some(name)) => Some(UserRef {
                id,
                name,
                display_name: row.get(8),
                avatar: row.get(9),
            }),
            _ => None,
        },
        created_at: row.get(6),
    }
}

/// Every document with its per-user roles.
pub fn all(client: &mut impl GenericClient) -> Result<Vec<(DocRecord, Grants)>> {
    let docs: Vec<DocRecord> = client
        .query(
            &format!("SELECT {DOC_COLUMNS} FROM {DOC_FROM} ORDER BY d.id"),
            &[],
        )?
        .iter()
        .map(doc_from_row)
        .collect();
    let mut grants: HashMap<i64, Grants> = HashMap::new();
    for row in client.query(
        "SELECT doc_id, user_id, role FROM doc_roles ORDER BY doc_id, user_id",
        &[],
    )? {
        if let Some(role) = DocRole::parse(row.get(2)) {
            grants
                .entry(row.get(0))
                .or_default()
                .push((row.get(1), role));
        }
    }
    Ok(docs
        .into_iter()
        .map(|doc| {
            let roles = grants.remove(&doc.id).unwrap_or_default();
            (doc, roles)
        })
        .collect())
}

/// The roles granted on a document, by user id.
fn grants_of(client: &mut impl GenericClient, doc_id: i64) -> Result<Grants> {
    Ok(client
        .query(
            "SELECT user_id, role FROM doc_roles WHERE doc_id = $1 ORDER BY user_id",
            &[&doc_id],
        )?
        .iter()
        .filter_map(|r| DocRole::parse(r.get(1)).map(|role| (r.get(0), role)))
        .collect())
}

fn with_grants(
    client: &mut impl GenericClient,
    doc_id: i64,
) -> Result<Option<(DocRecord, Grants)>> {
    match by_id(client, doc_id)? {
        Some(doc) => Ok(Some((doc, grants_of(client, doc_id)?))),
        None => Ok(None),
    }
}

pub fn by_id(client: &mut impl GenericClient, id: i64) -> Result<Option<DocRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {DOC_COLUMNS} FROM {DOC_FROM} WHERE d.id = $1"),
            &[&id],
        )?
        .map(|r| doc_from_row(&r)))
}

/// Creates a document and its comments channel (`doc#<id>`); returns both.
pub fn insert(
    tx: &mut Transaction<'_>,
    name: &str,
    title: Option<&str>,
    channel_id: Option<i64>,
    default_role: DocRole,
    created_by: i64,
) -> Result<(DocRecord, ChannelRecord)> {
    let now = now_ms();
    let inserted = tx.query_opt(
        "INSERT INTO docs (name, title, channel_id, default_role, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING id",
        &[
            &name,
            &title,
            &channel_id,
            &default_role.as_str(),
            &created_by,
            &now,
        ],
    )?;
    let Some(inserted) = inserted else {
        return Err(refusals::doc_exists(name));
    };
    let id: i64 = inserted.get(0);
    let channel = tx.query_one(
        &format!(
            "INSERT INTO channels (name, kind, authentication, presence, epoch, created_by,
                 created_at, doc_id, parent_id)
             VALUES ($1, 'public', 'required', FALSE, $2, $3, $4, $5, $6)
             RETURNING {}",
            channels::COLUMNS
        ),
        &[
            &format!("doc#{id}"),
            &crate::store::sqlite::channels::new_epoch(),
            &created_by,
            &now,
            &id,
            &channel_id,
        ],
    )?;
    let doc = by_id(tx, id)?.ok_or_else(|| Error::internal("inserted document vanished"))?;
    Ok((doc, channels::from_row(&channel)))
}

pub fn update(tx: &mut Transaction<'_>, doc: &DocRecord) -> Result<()> {
    let result = tx.execute(
        "UPDATE docs SET name = $2, title = $3, default_role = $4 WHERE id = $1",
        &[&doc.id, &doc.name, &doc.title, &doc.default_role.as_str()],
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(refusals::doc_exists(&doc.name)),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a document with everything it owns (log, versions, comments, comments channel).
pub fn delete(tx: &mut Transaction<'_>, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM docs WHERE id = $1", &[&id])? > 0)
}

pub fn set_role(
    tx: &mut Transaction<'_>,
    doc_id: i64,
    user_id: i64,
    role: Option<DocRole>,
) -> Result<()> {
    match role {
        Some(role) => tx.execute(
            "INSERT INTO doc_roles (doc_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT (doc_id, user_id) DO UPDATE SET role = excluded.role",
            &[&doc_id, &user_id, &role.as_str()],
        )?,
        None => tx.execute(
            "DELETE FROM doc_roles WHERE doc_id = $1 AND user_id = $2",
            &[&doc_id, &user_id],
        )?,
    };
    Ok(())
}

/// The snapshot and the log after it. Call it inside one snapshot (`snapshot`): otherwise a
/// compaction committing between the two statements would lose the updates it folded in.
pub fn load(client: &mut impl GenericClient, doc_id: i64) -> Result<StoredDoc> {
    let snapshot = client
        .query_opt(
            "SELECT state FROM doc_snapshots WHERE doc_id = $1",
            &[&doc_id],
        )?
        .map(|r| r.get::<_, Vec<u8>>(0));
    let mut last_update = 0;
    let mut updates = Vec::new();
    for row in client.query(
        "SELECT id, data FROM doc_updates WHERE doc_id = $1 ORDER BY id",
        &[&doc_id],
    )? {
        last_update = row.get(0);
        updates.push(row.get(1));
    }
    Ok(StoredDoc {
        snapshot,
        updates,
        last_update,
    })
}

/// Appends updates to the document's log; returns the id of the last one (0 when none).
pub fn append_updates(tx: &mut Transaction<'_>, doc_id: i64, updates: &[Vec<u8>]) -> Result<i64> {
    let stmt = tx.prepare("INSERT INTO doc_updates (doc_id, data) VALUES ($1, $2) RETURNING id")?;
    let mut last = 0;
    for update in updates {
        last = tx.query_one(&stmt, &[&doc_id, update])?.get(0);
    }
    Ok(last)
}

/// A new claim on the document's log. The row lock waits for the writes under way (each holds
/// the row in share mode, [`holds`]) and refuses later ones under an older claim.
fn claim(tx: &mut Transaction<'_>, doc_id: i64) -> Result<i64> {
    tx.query_opt(
        "UPDATE docs SET claim = claim + 1 WHERE id = $1 RETURNING claim",
        &[&doc_id],
    )?
    .map(|row| row.get(0))
    .ok_or_else(|| Error::new(ErrorCode::DocNotFound, "the document is gone"))
}

/// True while `claim` is the document's newest; holds the row in share mode until the write
/// commits, so no claim passes in between.
fn holds(tx: &mut Transaction<'_>, doc_id: i64, claim: i64) -> Result<bool> {
    let current: Option<i64> = tx
        .query_opt("SELECT claim FROM docs WHERE id = $1 FOR SHARE", &[&doc_id])?
        .map(|row| row.get(0));
    match current {
        Some(current) => Ok(current == claim),
        None => Err(Error::new(ErrorCode::DocNotFound, "the document is gone")),
    }
}

/// Replaces the log up to `through` (inclusive) with `state`, a full state update: both in the
/// write's transaction, so readers see the old log or the new snapshot, never neither.
pub fn compact(tx: &mut Transaction<'_>, doc_id: i64, state: &[u8], through: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO doc_snapshots (doc_id, state, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (doc_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        &[&doc_id, &state, &now_ms()],
    )?;
    tx.execute(
        "DELETE FROM doc_updates WHERE doc_id = $1 AND id <= $2",
        &[&doc_id, &through],
    )?;
    Ok(())
}

pub fn version_count(client: &mut impl GenericClient, doc_id: i64) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM doc_versions WHERE doc_id = $1",
            &[&doc_id],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// Documents the user created that still exist.
pub fn documents_created(client: &mut impl GenericClient, user_id: i64) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM docs WHERE created_by = $1",
            &[&user_id],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// Bytes of the named versions the user saved.
pub fn version_bytes_saved(client: &mut impl GenericClient, user_id: i64) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT coalesce(sum(octet_length(state)), 0)::BIGINT FROM doc_versions
             WHERE created_by = $1",
            &[&user_id],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

pub fn insert_version(
    tx: &mut Transaction<'_>,
    doc_id: i64,
    doc_name: &str,
    name: &str,
    state: &[u8],
    created_by: i64,
) -> Result<VersionInfo> {
    let now = now_ms();
    let id: i64 = tx
        .query_one(
            "INSERT INTO doc_versions (doc_id, name, state, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&doc_id, &name, &state, &created_by, &now],
        )?
        .get(0);
    Ok(VersionInfo {
        id,
        doc: doc_name.to_owned(),
        name: name.to_owned(),
        created_by: user_ref(tx, Some(created_by))?,
        created_at: format_ts(now),
        size: state.len() as u64,
    })
}

const VERSION_COLUMNS: &str = "v.id, v.name, v.created_by, v.created_at, \
    octet_length(v.state)::BIGINT, u.name, u.display_name, u.avatar";
const VERSION_FROM: &str = "doc_versions v LEFT JOIN users u ON u.id = v.created_by";

fn version_from_row(row: &Row, doc_name: &str) -> VersionInfo {
    let created_by: Option<i64> = row.get(2);
    let creator_name: Option<String> = row.get(5);
    VersionInfo {
        id: row.get(0),
        doc: doc_name.to_owned(),
        name: row.get(1),
        created_by: match (created_by, creator_name) {
            (Some(id), Some(name)) => Some(UserRef {
                id,
                name,
                display_name: row.get(6),
                avatar: row.get(7),
            }),
            _ => None,
        },
        created_at: format_ts(row.get(3)),
        size: row.get::<_, i64>(4).max(0) as u64,
    }
}

pub fn versions(
    client: &mut impl GenericClient,
    doc_id: i64,
    doc_name: &str,
) -> Result<Vec<VersionInfo>> {
    Ok(client
        .query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM {VERSION_FROM} WHERE v.doc_id = $1 ORDER BY v.id"
            ),
            &[&doc_id],
        )?
        .iter()
        .map(|r| version_from_row(r, doc_name))
        .collect())
}

/// A version's description and its state (a full Yjs update).
pub fn version(
    client: &mut impl GenericClient,
    doc_id: i64,
    doc_name: &str,
    id: i64,
) -> Result<Option<(VersionInfo, Vec<u8>)>> {
    let row = client.query_opt(
        &format!(
            "SELECT {VERSION_COLUMNS}, v.state FROM {VERSION_FROM} WHERE v.doc_id = $1 AND v.id = $2"
        ),
        &[&doc_id, &id],
    )?;
    Ok(row.map(|r| (version_from_row(&r, doc_name), r.get(8))))
}

/// Saves a named version within the document's and the saver's limits. Several nodes may save
/// at once: the document's row is locked before its versions are counted, the saver's row
/// (`channels::lock_user`) before their bytes are summed, so two saves cannot both pass on
/// the same count.
fn save_version(tx: &mut Transaction<'_>, new: &NewVersion) -> Result<VersionInfo> {
    tx.query_opt(
        "SELECT 1 FROM docs WHERE id = $1 FOR NO KEY UPDATE",
        &[&new.doc_id],
    )?;
    let max = new.max_versions;
    if version_count(tx, new.doc_id)? >= max {
        return Err(refusals::too_many_versions(max));
    }
    if let Some(max_bytes) = new.max_bytes {
        channels::lock_user(tx, new.created_by)?;
        let used = version_bytes_saved(tx, new.created_by)?;
        limits::check(
            "version_bytes_per_user",
            "bytes of named versions",
            used,
            new.state.len() as u64,
            max_bytes,
        )?;
    }
    insert_version(
        tx,
        new.doc_id,
        &new.doc_name,
        &new.name,
        &new.state,
        new.created_by,
    )
}

/// The id of the user with this name (case-insensitive, as user names are).
fn user_id_named(client: &mut impl GenericClient, name: &str) -> Result<Option<i64>> {
    Ok(client
        .query_opt(
            "SELECT id FROM users WHERE lower(name) = lower($1)",
            &[&name],
        )?
        .map(|r| r.get(0)))
}

impl DocumentStore for PgStore {
    fn load_documents(&self) -> StoreFuture<'_, Vec<(DocRecord, Grants)>> {
        Box::pin(self.read(|client| {
            let mut tx = snapshot(client)?;
            let all = all(&mut tx)?;
            tx.commit()?;
            Ok(all)
        }))
    }

    fn document_by_name(&self, name: String) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(self.read(move |client| {
            let id: Option<i64> = client
                .query_opt("SELECT id FROM docs WHERE name = $1", &[&name])?
                .map(|r| r.get(0));
            match id {
                Some(id) => with_grants(client, id),
                None => Ok(None),
            }
        }))
    }

    fn document_by_id(&self, doc_id: i64) -> StoreFuture<'_, Option<(DocRecord, Grants)>> {
        Box::pin(self.read(move |client| with_grants(client, doc_id)))
    }

    fn create_document(&self, new: NewDocument) -> StoreFuture<'_, (DocRecord, ChannelRecord)> {
        Box::pin(self.write(move |tx, state| {
            if let Some(max) = new.limit {
                // Counted under the creator's row lock: other nodes' creations wait.
                channels::lock_user(tx, new.created_by)?;
                let used = documents_created(tx, new.created_by)?;
                limits::check("documents_per_user", "documents", used, 1, max)?;
            }
            let created = insert(
                tx,
                &new.name,
                new.title.as_deref(),
                new.channel_id,
                new.default_role,
                new.created_by,
            )?;
            if state.webhooks {
                let (doc, comments) = &created;
                let channel = match doc.channel_id {
                    Some(id) => channels::by_id(tx, id)?.map(|c| c.name),
                    None => None,
                }
                .unwrap_or_else(|| comments.name.clone());
                let frame = crate::store::frames::document_created(&channel, doc)?;
                super::webhooks::enqueue(tx, &channel, "document.created", &frame, doc.created_at)?;
            }
            Ok((created, Vec::new()))
        }))
    }

    fn update_document(&self, record: DocRecord) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, _| Ok((update(tx, &record)?, Vec::new()))))
    }

    fn delete_document(&self, doc_id: i64) -> StoreFuture<'_, ()> {
        // The comments channel goes with the document (a cascade); the writer keeps nothing
        // per channel to forget.
        Box::pin(self.write(move |tx, _| {
            delete(tx, doc_id)?;
            Ok(((), Vec::new()))
        }))
    }

    fn set_role(
        &self,
        doc_id: i64,
        user_name: String,
        role: Option<DocRole>,
    ) -> StoreFuture<'_, i64> {
        Box::pin(self.write(move |tx, _| {
            let id = user_id_named(tx, &user_name)?
                .ok_or_else(|| refusals::user_not_found(&user_name))?;
            set_role(tx, doc_id, id, role)?;
            Ok((id, Vec::new()))
        }))
    }

    fn load_content(&self, doc_id: i64) -> StoreFuture<'_, StoredDoc> {
        Box::pin(self.read(move |client| {
            let mut tx = snapshot(client)?;
            let stored = load(&mut tx, doc_id)?;
            tx.commit()?;
            Ok(stored)
        }))
    }

    fn claim_document(&self, doc_id: i64) -> StoreFuture<'_, i64> {
        // Not through the writer: the claim may wait for another node's write to the
        // document, and this node's chat writes must not wait with it. Bounded, so a node
        // stalled mid-write cannot hold the document forever.
        Box::pin(self.read(move |client| {
            let mut tx = client.transaction()?;
            tx.batch_execute("SET LOCAL lock_timeout = '5s'")?;
            let claimed = claim(&mut tx, doc_id)?;
            tx.commit()?;
            Ok(claimed)
        }))
    }

    fn append_updates(
        &self,
        doc_id: i64,
        claim: i64,
        updates: Vec<Vec<u8>>,
    ) -> StoreFuture<'_, Option<i64>> {
        // Repeatable: the claim is read in the transaction, the updates only written to it.
        Box::pin(async move {
            self.submit_repeatable(move |tx, _| {
                if !holds(tx, doc_id, claim)? {
                    return Ok((None, Vec::new()));
                }
                Ok((Some(append_updates(tx, doc_id, &updates)?), Vec::new()))
            })
            .await?
            .await
        })
    }

    fn compact(
        &self,
        doc_id: i64,
        claim: i64,
        state: Vec<u8>,
        through: i64,
    ) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, _| {
            if !holds(tx, doc_id, claim)? {
                return Ok((false, Vec::new()));
            }
            compact(tx, doc_id, &state, through)?;
            Ok((true, Vec::new()))
        }))
    }

    fn save_version(&self, version: NewVersion) -> StoreFuture<'_, VersionInfo> {
        Box::pin(self.write(move |tx, _| Ok((save_version(tx, &version)?, Vec::new()))))
    }

    fn versions(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<VersionInfo>> {
        Box::pin(self.read(move |client| versions(client, doc_id, &doc_name)))
    }

    fn version(
        &self,
        doc_id: i64,
        doc_name: String,
        id: i64,
    ) -> StoreFuture<'_, Option<(VersionInfo, Vec<u8>)>> {
        Box::pin(self.read(move |client| version(client, doc_id, &doc_name, id)))
    }
}

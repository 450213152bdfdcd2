//! Channels and their members (SQLite), and the channel operations of the store traits.

use parley_protocol::{Authentication, ChannelType, Event, PublishPolicy, UserRef};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{events::append_event, SqliteStore};
use crate::store::refusals;
pub use crate::store::{ChannelRecord, NewChannel};
use crate::{
    error::{Error, Result},
    store::{
        limits, now_ms, ChannelDirectory, ChannelStore, ChannelWithMembers, CreateChannel,
        EnsureChannel, Join, MemberRole, Membership, StoreFuture,
    },
};

const COLUMNS: &str = "id, name, kind, authentication, presence, message_history, \
    message_retention_secs, user_specific, auto_subscribe, max_participants, topic, owner_id, \
    template_id, epoch, head_seq, pruned_through, doc_id, parent_id, thread_root, publish";

pub(in crate::store) fn kind_to_str(kind: ChannelType) -> &'static str {
    match kind {
        ChannelType::Public => "public",
        ChannelType::Private => "private",
        ChannelType::Presence => "presence",
    }
}

pub(in crate::store) fn kind_from_str(text: &str) -> ChannelType {
    match text {
        "private" => ChannelType::Private,
        "presence" => ChannelType::Presence,
        _ => ChannelType::Public,
    }
}

pub(in crate::store) fn auth_to_str(auth: Authentication) -> &'static str {
    match auth {
        Authentication::Optional => "optional",
        Authentication::Required => "required",
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<ChannelRecord> {
    let kind: String = row.get(2)?;
    let auth: String = row.get(3)?;
    Ok(ChannelRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        kind: kind_from_str(&kind),
        authentication: if auth == "optional" {
            Authentication::Optional
        } else {
            Authentication::Required
        },
        presence: row.get(4)?,
        message_history: row.get::<_, Option<i64>>(5)?.map(|v| v.max(0) as u64),
        message_retention_secs: row.get::<_, Option<i64>>(6)?.map(|v| v.max(0) as u64),
        user_specific: row.get(7)?,
        auto_subscribe: row.get(8)?,
        max_participants: row.get(9)?,
        topic: row.get(10)?,
        owner_id: row.get(11)?,
        template_id: row.get(12)?,
        epoch: row.get(13)?,
        head_seq: row.get::<_, i64>(14)? as u64,
        pruned_through: row.get::<_, i64>(15)? as u64,
        doc_id: row.get(16)?,
        parent_id: row.get(17)?,
        thread_root: row.get(18)?,
        publish: PublishPolicy::parse(&row.get::<_, String>(19)?).unwrap_or_default(),
    })
}

/// The first channel: public, for signed-in users, with presence, auto-subscribed, so every
/// account joins it (`ChannelRecord::everyone_joins`).
pub fn first_channel(name: &str) -> NewChannel {
    NewChannel {
        name: name.to_owned(),
        kind: parley_protocol::ChannelType::Public,
        authentication: parley_protocol::Authentication::Required,
        presence: true,
        message_history: None,
        message_retention_secs: None,
        user_specific: false,
        auto_subscribe: true,
        max_participants: None,
        topic: Some("Everyone in the workspace".to_owned()),
        publish: parley_protocol::PublishPolicy::Members,
    }
}

/// A fresh random epoch. A history gets a new one only when it is created (or recreated).
pub fn new_epoch() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode(bytes)
}

pub fn by_name(conn: &Connection, name: &str) -> Result<Option<ChannelRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM channels WHERE name = ?1"))?
        .query_row([name], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<ChannelRecord>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM channels WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn all(conn: &Connection) -> Result<Vec<ChannelRecord>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM channels ORDER BY name"))?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Names of all channels except personal instances (which only their owner addresses).
pub fn names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM channels WHERE template_id IS NULL")?;
    let rows = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// The personal instances of a `user_specific` template.
pub fn instances(conn: &Connection, template_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM channels WHERE template_id = ?1")?;
    let rows = stmt
        .query_map([template_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

/// Every (channel, user, role) membership, for loading the directory at start.
pub fn all_members(conn: &Connection) -> Result<Vec<(i64, i64, String)>> {
    let mut stmt = conn.prepare("SELECT channel_id, user_id, role FROM members")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn members_of(conn: &Connection, channel_id: i64) -> Result<Vec<(i64, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id, role FROM members WHERE channel_id = ?1")?;
    let rows = stmt
        .query_map([channel_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Creates a channel; `channel_exists` if the name is taken.
pub fn insert(
    conn: &Connection,
    new: &NewChannel,
    created_by: Option<i64>,
    owner: Option<(i64, i64)>,
) -> Result<ChannelRecord> {
    let epoch = new_epoch();
    let inserted = conn.execute(
        "INSERT INTO channels (name, kind, authentication, presence, message_history,
             message_retention_secs, user_specific, auto_subscribe, max_participants, topic,
             owner_id, template_id, epoch, created_by, created_at, publish)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT(name) DO NOTHING",
        params![
            new.name,
            kind_to_str(new.kind),
            auth_to_str(new.authentication),
            new.presence,
            new.message_history.map(|v| v as i64),
            new.message_retention_secs.map(|v| v as i64),
            new.user_specific,
            new.auto_subscribe,
            new.max_participants,
            new.topic,
            owner.map(|(user, _)| user),
            owner.map(|(_, template)| template),
            epoch,
            created_by,
            now_ms(),
            new.publish.as_str()
        ],
    )?;
    if inserted == 0 {
        return Err(refusals::channel_exists(&new.name));
    }
    let id = conn.last_insert_rowid();
    by_id(conn, id)?.ok_or_else(|| Error::internal("inserted channel vanished"))
}

/// Applies configured settings to an existing channel (configuration wins on every start).
/// Personal instances of a `user_specific` template keep their own kind, authentication and
/// single participant; they follow the template's history, presence and topic settings.
pub fn update_settings(conn: &Connection, id: i64, new: &NewChannel) -> Result<()> {
    conn.execute(
        "UPDATE channels SET kind = ?2, authentication = ?3, presence = ?4, message_history = ?5,
             message_retention_secs = ?6, user_specific = ?7, auto_subscribe = ?8,
             max_participants = ?9, topic = COALESCE(?10, topic), publish = ?11
         WHERE id = ?1",
        params![
            id,
            kind_to_str(new.kind),
            auth_to_str(new.authentication),
            new.presence,
            new.message_history.map(|v| v as i64),
            new.message_retention_secs.map(|v| v as i64),
            new.user_specific,
            new.auto_subscribe,
            new.max_participants,
            new.topic,
            new.publish.as_str(),
        ],
    )?;
    conn.execute(
        "UPDATE channels SET presence = ?2, message_history = ?3, message_retention_secs = ?4,
             auto_subscribe = ?5, topic = COALESCE(?6, topic), publish = ?7
         WHERE template_id = ?1",
        params![
            id,
            new.presence,
            new.message_history.map(|v| v as i64),
            new.message_retention_secs.map(|v| v as i64),
            new.auto_subscribe,
            new.topic,
            new.publish.as_str(),
        ],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM channels WHERE id = ?1 OR template_id = ?1",
        [id],
    )? > 0)
}

pub fn member_count(conn: &Connection, channel_id: i64) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM members WHERE channel_id = ?1")?
        .query_row([channel_id], |r| r.get(0))?;
    Ok(n as u64)
}

/// Adds a member; false when they were one already.
pub fn add_member(conn: &Connection, channel_id: i64, user_id: i64, role: &str) -> Result<bool> {
    Ok(conn.execute(
        "INSERT INTO members (channel_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![channel_id, user_id, role, now_ms()],
    )? > 0)
}

pub fn remove_member(conn: &Connection, channel_id: i64, user_id: i64) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM members WHERE channel_id = ?1 AND user_id = ?2",
        params![channel_id, user_id],
    )? > 0)
}

/// Channels whose `parent_id` is this one: its threads and its documents' comments channels.
pub fn children(conn: &Connection, channel_id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM channels WHERE parent_id = ?1")?;
    let rows = stmt
        .query_map([channel_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(rows)
}

fn with_members(conn: &Connection, record: ChannelRecord) -> Result<ChannelWithMembers> {
    let members = members_of(conn, record.id)?
        .into_iter()
        .map(|(user, role)| (user, MemberRole::parse(&role)))
        .collect();
    Ok(ChannelWithMembers { record, members })
}

impl ChannelStore for SqliteStore {
    fn load_directory(&self) -> StoreFuture<'_, ChannelDirectory> {
        Box::pin(self.read(|conn| {
            let members = all_members(conn)?
                .into_iter()
                .map(|(channel_id, user_id, role)| Membership {
                    channel_id,
                    user_id,
                    role: MemberRole::parse(&role),
                })
                .collect();
            Ok(ChannelDirectory {
                channels: all(conn)?,
                members,
            })
        }))
    }

    fn channel_by_name(&self, name: String) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(self.read(move |conn| {
            let Some(record) = by_name(conn, &name)? else {
                return Ok(None);
            };
            Ok(Some(with_members(conn, record)?))
        }))
    }

    fn channel_by_id(&self, channel_id: i64) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(self.read(move |conn| {
            let Some(record) = by_id(conn, channel_id)? else {
                return Ok(None);
            };
            Ok(Some(with_members(conn, record)?))
        }))
    }

    fn member_role(&self, channel_id: i64, user_id: i64) -> StoreFuture<'_, Option<MemberRole>> {
        Box::pin(self.read(move |conn| {
            let role: Option<String> = conn
                .prepare_cached("SELECT role FROM members WHERE channel_id = ?1 AND user_id = ?2")?
                .query_row(params![channel_id, user_id], |r| r.get(0))
                .optional()?;
            Ok(role.as_deref().map(MemberRole::parse))
        }))
    }

    fn memberships_of(&self, user_id: i64) -> StoreFuture<'_, Vec<Membership>> {
        Box::pin(self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT channel_id, role FROM members WHERE user_id = ?1 ORDER BY channel_id",
            )?;
            let rows = stmt
                .query_map([user_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .map(|(channel_id, role)| Membership {
                    channel_id,
                    user_id,
                    role: MemberRole::parse(&role),
                })
                .collect())
        }))
    }

    fn channel_names(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.read(names))
    }

    fn create_channel(&self, create: CreateChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |tx, state| {
            let CreateChannel {
                channel,
                creator,
                read_receipts,
                limit,
            } = create;
            if let Some(max) = limit {
                let dm = limits::is_dm(&channel.name);
                let (key, what) = limits::channel_limit(dm);
                let used = super::limits::channels_created(tx, creator.id, dm)?;
                limits::check(key, what, used, 1, max)?;
            }
            let mut record = insert(tx, &channel, Some(creator.id), None)?;
            add_member(tx, record.id, creator.id, MemberRole::Admin.as_str())?;
            if read_receipts {
                super::reads::set_read_receipts(tx, record.id, true)?;
            }
            let event = append_event(
                tx,
                state,
                record.id,
                &record.name,
                Event::MemberJoined { user: creator },
                now_ms(),
                None,
            )?;
            record.head_seq = event.seq;
            Ok((record, vec![event]))
        }))
    }

    fn ensure_channel(&self, ensure: EnsureChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |tx, _| {
            if let Some(existing) = by_name(tx, &ensure.channel.name)? {
                return Ok((existing, Vec::new()));
            }
            let record = insert(tx, &ensure.channel, ensure.created_by, ensure.owner)?;
            Ok((record, Vec::new()))
        }))
    }

    fn configure_channel(&self, channel: NewChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |tx, _| {
            let record = match by_name(tx, &channel.name)? {
                Some(existing) => {
                    update_settings(tx, existing.id, &channel)?;
                    by_id(tx, existing.id)?
                        .ok_or_else(|| Error::internal("configured channel vanished"))?
                }
                None => insert(tx, &channel, None, None)?,
            };
            Ok((record, Vec::new()))
        }))
    }

    fn add_member(&self, join: Join) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, state| {
            let Join {
                channel_id,
                channel_name,
                user,
                max_participants,
            } = join;
            if let Some(max) = max_participants {
                if member_count(tx, channel_id)? >= u64::from(max) {
                    return Err(refusals::channel_full(&channel_name, max));
                }
            }
            if !add_member(tx, channel_id, user.id, MemberRole::Member.as_str())? {
                return Ok((false, Vec::new()));
            }
            let event = append_event(
                tx,
                state,
                channel_id,
                &channel_name,
                Event::MemberJoined { user },
                now_ms(),
                None,
            )?;
            Ok((true, vec![event]))
        }))
    }

    fn remove_member(
        &self,
        channel_id: i64,
        channel_name: String,
        user: UserRef,
    ) -> StoreFuture<'_, bool> {
        Box::pin(self.write(move |tx, state| {
            if !remove_member(tx, channel_id, user.id)? {
                return Ok((false, Vec::new()));
            }
            let event = append_event(
                tx,
                state,
                channel_id,
                &channel_name,
                Event::MemberLeft { user },
                now_ms(),
                None,
            )?;
            Ok((true, vec![event]))
        }))
    }

    fn set_topic(
        &self,
        channel_id: i64,
        channel_name: String,
        topic: Option<String>,
        by: UserRef,
    ) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |tx, state| {
            let changed = tx.execute(
                "UPDATE channels SET topic = ?2 WHERE id = ?1",
                params![channel_id, topic],
            )?;
            if changed == 0 {
                return Err(refusals::channel_gone());
            }
            let by_id = by.id;
            let event = append_event(
                tx,
                state,
                channel_id,
                &channel_name,
                Event::ChannelUpdated { topic, by },
                now_ms(),
                Some(by_id),
            )?;
            let mut record = self::by_id(tx, channel_id)?.ok_or_else(refusals::channel_gone)?;
            record.head_seq = event.seq;
            Ok((record, vec![event]))
        }))
    }

    fn delete_channel(&self, channel_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.write(move |tx, state| {
            let mut gone = instances(tx, channel_id)?;
            gone.extend(children(tx, channel_id)?);
            delete(tx, channel_id)?;
            // Only once the delete succeeded: a failed write must leave the state alone.
            for id in gone {
                state.forget(id);
            }
            state.forget(channel_id);
            Ok(((), Vec::new()))
        }))
    }
}

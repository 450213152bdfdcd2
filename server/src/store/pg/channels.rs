//! Channels and their members (PostgreSQL), and the channel operations of the store traits.

use parley_protocol::{Authentication, ErrorCode, Event, PublishPolicy, UserRef};
use postgres::{GenericClient, Row, Transaction};

use super::{events::append_event, is_unique_violation, PgStore};
use crate::store::sqlite::channels::{
    auth_to_str, first_channel, kind_from_str, kind_to_str, new_epoch,
};
use crate::{
    error::{Error, Result},
    store::{
        limits, now_ms, refusals, ChannelDirectory, ChannelRecord, ChannelStore,
        ChannelWithMembers, CreateChannel, EnsureChannel, Join, MemberRole, Membership, NewChannel,
        StoreFuture,
    },
};

pub(super) const COLUMNS: &str = "id, name, kind, authentication, presence, message_history, \
    message_retention_secs, user_specific, auto_subscribe, max_participants, topic, owner_id, \
    template_id, epoch, head_seq, pruned_through, doc_id, parent_id, thread_root, publish";

pub(super) fn from_row(row: &Row) -> ChannelRecord {
    let auth: &str = row.get(3);
    ChannelRecord {
        id: row.get(0),
        name: row.get(1),
        kind: kind_from_str(row.get(2)),
        authentication: if auth == "optional" {
            Authentication::Optional
        } else {
            Authentication::Required
        },
        presence: row.get(4),
        message_history: row.get::<_, Option<i64>>(5).map(|v| v.max(0) as u64),
        message_retention_secs: row.get::<_, Option<i64>>(6).map(|v| v.max(0) as u64),
        user_specific: row.get(7),
        auto_subscribe: row.get(8),
        max_participants: row
            .get::<_, Option<i64>>(9)
            .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32),
        topic: row.get(10),
        owner_id: row.get(11),
        template_id: row.get(12),
        epoch: row.get(13),
        head_seq: row.get::<_, i64>(14) as u64,
        pruned_through: row.get::<_, i64>(15) as u64,
        doc_id: row.get(16),
        parent_id: row.get(17),
        thread_root: row.get(18),
        publish: PublishPolicy::parse(row.get(19)).unwrap_or_default(),
    }
}

pub fn by_name(client: &mut impl GenericClient, name: &str) -> Result<Option<ChannelRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM channels WHERE name = $1"),
            &[&name],
        )?
        .map(|r| from_row(&r)))
}

pub fn by_id(client: &mut impl GenericClient, id: i64) -> Result<Option<ChannelRecord>> {
    Ok(client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM channels WHERE id = $1"),
            &[&id],
        )?
        .map(|r| from_row(&r)))
}

/// Creates a channel; `channel_exists` if the name is taken.
pub fn insert(
    tx: &mut Transaction<'_>,
    new: &NewChannel,
    created_by: Option<i64>,
    owner: Option<(i64, i64)>,
) -> Result<ChannelRecord> {
    let row = tx.query_opt(
        &format!(
            "INSERT INTO channels (name, kind, authentication, presence, message_history,
                 message_retention_secs, user_specific, auto_subscribe, max_participants, topic,
                 owner_id, template_id, epoch, created_by, created_at, publish)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (name) DO NOTHING
             RETURNING {COLUMNS}"
        ),
        &[
            &new.name,
            &kind_to_str(new.kind),
            &auth_to_str(new.authentication),
            &new.presence,
            &new.message_history.map(|v| v as i64),
            &new.message_retention_secs.map(|v| v as i64),
            &new.user_specific,
            &new.auto_subscribe,
            &new.max_participants.map(i64::from),
            &new.topic,
            &owner.map(|(user, _)| user),
            &owner.map(|(_, template)| template),
            &new_epoch(),
            &created_by,
            &now_ms(),
            &new.publish.as_str(),
        ],
    );
    match row {
        Ok(Some(row)) => Ok(from_row(&row)),
        Ok(None) => Err(refusals::channel_exists(&new.name)),
        // Another unique index (a personal instance made twice at once).
        Err(e) if is_unique_violation(&e) => Err(refusals::channel_exists(&new.name)),
        Err(e) => Err(e.into()),
    }
}

/// Creates the workspace's first channel (with a new database).
pub fn insert_first(tx: &mut Transaction<'_>, name: &str) -> Result<()> {
    insert(tx, &first_channel(name), None, None).map(|_| ())
}

/// Adds a member; false when they were one already.
pub fn add_member(
    tx: &mut Transaction<'_>,
    channel_id: i64,
    user_id: i64,
    role: &str,
) -> Result<bool> {
    Ok(tx.execute(
        "INSERT INTO members (channel_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
        &[&channel_id, &user_id, &role, &now_ms()],
    )? > 0)
}

/// Takes the lock on a user's row that per-user limits are counted under: a second write of
/// the same user, on any node, waits for this one's commit before it counts.
pub fn lock_user(tx: &mut Transaction<'_>, user_id: i64) -> Result<()> {
    tx.query_opt(
        "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
        &[&user_id],
    )?;
    Ok(())
}

/// Channels the user created that still exist: ordinary channels when `dm` is false, direct
/// messages (`dm:` names) when true. Threads, documents' comments channels and personal
/// instances are not counted.
pub fn channels_created(client: &mut impl GenericClient, user_id: i64, dm: bool) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM channels
             WHERE created_by = $1 AND doc_id IS NULL AND thread_root IS NULL
               AND template_id IS NULL AND NOT user_specific
               AND (left(name, 3) = 'dm:') = $2",
            &[&user_id, &dm],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

/// Every channel, by name (bytewise, as SQLite orders them, whatever the database's locale).
pub fn all(client: &mut impl GenericClient) -> Result<Vec<ChannelRecord>> {
    Ok(client
        .query(
            &format!("SELECT {COLUMNS} FROM channels ORDER BY name COLLATE \"C\""),
            &[],
        )?
        .iter()
        .map(from_row)
        .collect())
}

/// Names of all channels except personal instances (which only their owner addresses).
pub fn names(client: &mut impl GenericClient) -> Result<Vec<String>> {
    Ok(client
        .query("SELECT name FROM channels WHERE template_id IS NULL", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The personal instances of a `user_specific` template.
pub fn instances(client: &mut impl GenericClient, template_id: i64) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT id FROM channels WHERE template_id = $1",
            &[&template_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Every (channel, user, role) membership, for loading the directory at start.
pub fn all_members(client: &mut impl GenericClient) -> Result<Vec<(i64, i64, String)>> {
    Ok(client
        .query("SELECT channel_id, user_id, role FROM members", &[])?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

pub fn members_of(client: &mut impl GenericClient, channel_id: i64) -> Result<Vec<(i64, String)>> {
    Ok(client
        .query(
            "SELECT user_id, role FROM members WHERE channel_id = $1",
            &[&channel_id],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Applies configured settings to an existing channel (configuration wins on every start).
/// Personal instances of a `user_specific` template keep their own kind, authentication and
/// single participant; they follow the template's history, presence and topic settings.
pub fn update_settings(tx: &mut Transaction<'_>, id: i64, new: &NewChannel) -> Result<()> {
    let history = new.message_history.map(|v| v as i64);
    let retention = new.message_retention_secs.map(|v| v as i64);
    tx.execute(
        "UPDATE channels SET kind = $2, authentication = $3, presence = $4, message_history = $5,
             message_retention_secs = $6, user_specific = $7, auto_subscribe = $8,
             max_participants = $9, topic = COALESCE($10, topic), publish = $11
         WHERE id = $1",
        &[
            &id,
            &kind_to_str(new.kind),
            &auth_to_str(new.authentication),
            &new.presence,
            &history,
            &retention,
            &new.user_specific,
            &new.auto_subscribe,
            &new.max_participants.map(i64::from),
            &new.topic,
            &new.publish.as_str(),
        ],
    )?;
    tx.execute(
        "UPDATE channels SET presence = $2, message_history = $3, message_retention_secs = $4,
             auto_subscribe = $5, topic = COALESCE($6, topic), publish = $7
         WHERE template_id = $1",
        &[
            &id,
            &new.presence,
            &history,
            &retention,
            &new.auto_subscribe,
            &new.topic,
            &new.publish.as_str(),
        ],
    )?;
    Ok(())
}

pub fn delete(tx: &mut Transaction<'_>, id: i64) -> Result<bool> {
    Ok(tx.execute(
        "DELETE FROM channels WHERE id = $1 OR template_id = $1",
        &[&id],
    )? > 0)
}

pub fn member_count(client: &mut impl GenericClient, channel_id: i64) -> Result<u64> {
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM members WHERE channel_id = $1",
            &[&channel_id],
        )?
        .get(0);
    Ok(n.max(0) as u64)
}

pub fn remove_member(tx: &mut Transaction<'_>, channel_id: i64, user_id: i64) -> Result<bool> {
    Ok(tx.execute(
        "DELETE FROM members WHERE channel_id = $1 AND user_id = $2",
        &[&channel_id, &user_id],
    )? > 0)
}

/// Channels whose `parent_id` is this one: its threads and its documents' comments channels.
pub fn children(client: &mut impl GenericClient, channel_id: i64) -> Result<Vec<i64>> {
    Ok(client
        .query(
            "SELECT id FROM channels WHERE parent_id = $1",
            &[&channel_id],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

fn with_members(
    client: &mut impl GenericClient,
    record: ChannelRecord,
) -> Result<ChannelWithMembers> {
    let members = members_of(client, record.id)?
        .into_iter()
        .map(|(user, role)| (user, MemberRole::parse(&role)))
        .collect();
    Ok(ChannelWithMembers { record, members })
}

impl ChannelStore for PgStore {
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
                lock_user(tx, creator.id)?;
                let used = channels_created(tx, creator.id, dm)?;
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
            match insert(tx, &ensure.channel, ensure.created_by, ensure.owner) {
                Ok(record) => Ok((record, Vec::new())),
                // Made by another node between the lookup and the insert (nodes starting
                // together ensure the same channels): the insert did nothing; take theirs.
                Err(err) if err.code() == ErrorCode::ChannelExists => {
                    let existing = by_name(tx, &ensure.channel.name)?.ok_or(err)?;
                    Ok((existing, Vec::new()))
                }
                Err(err) => Err(err),
            }
        }))
    }

    fn load_directory(&self) -> StoreFuture<'_, ChannelDirectory> {
        Box::pin(self.read(|client| {
            // One snapshot: no membership of a channel the list does not hold.
            let mut tx = super::snapshot(client)?;
            let channels = all(&mut tx)?;
            let members = all_members(&mut tx)?
                .into_iter()
                .map(|(channel_id, user_id, role)| Membership {
                    channel_id,
                    user_id,
                    role: MemberRole::parse(&role),
                })
                .collect();
            tx.commit()?;
            Ok(ChannelDirectory { channels, members })
        }))
    }

    fn channel_by_name(&self, name: String) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(self.read(move |client| {
            let Some(record) = by_name(client, &name)? else {
                return Ok(None);
            };
            Ok(Some(with_members(client, record)?))
        }))
    }

    fn channel_by_id(&self, channel_id: i64) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(self.read(move |client| {
            let Some(record) = by_id(client, channel_id)? else {
                return Ok(None);
            };
            Ok(Some(with_members(client, record)?))
        }))
    }

    fn member_role(&self, channel_id: i64, user_id: i64) -> StoreFuture<'_, Option<MemberRole>> {
        Box::pin(self.read(move |client| {
            let role = client.query_opt(
                "SELECT role FROM members WHERE channel_id = $1 AND user_id = $2",
                &[&channel_id, &user_id],
            )?;
            Ok(role.map(|r| MemberRole::parse(r.get(0))))
        }))
    }

    fn memberships_of(&self, user_id: i64) -> StoreFuture<'_, Vec<Membership>> {
        Box::pin(self.read(move |client| {
            let rows = client.query(
                "SELECT channel_id, role FROM members WHERE user_id = $1 ORDER BY channel_id",
                &[&user_id],
            )?;
            Ok(rows
                .iter()
                .map(|r| Membership {
                    channel_id: r.get(0),
                    user_id,
                    role: MemberRole::parse(r.get(1)),
                })
                .collect())
        }))
    }

    fn channel_names(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(self.read(names))
    }

    fn configure_channel(&self, channel: NewChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(self.write(move |tx, _| {
            let existing = match by_name(tx, &channel.name)? {
                Some(existing) => existing,
                None => match insert(tx, &channel, None, None) {
                    Ok(record) => return Ok((record, Vec::new())),
                    // Another node, starting with the same configuration, created it first
                    // (`insert` does nothing on a taken name, so the write can go on).
                    Err(e) if e.code() == ErrorCode::ChannelExists => {
                        by_name(tx, &channel.name)?
                            .ok_or_else(|| Error::internal("configured channel vanished"))?
                    }
                    Err(e) => return Err(e),
                },
            };
            update_settings(tx, existing.id, &channel)?;
            let record = by_id(tx, existing.id)?
                .ok_or_else(|| Error::internal("configured channel vanished"))?;
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
                // The channel's row first: joins on every node count one after the other, so
                // two of them cannot both take the last place.
                tx.query_opt(
                    "SELECT 1 FROM channels WHERE id = $1 FOR NO KEY UPDATE",
                    &[&channel_id],
                )?;
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
                "UPDATE channels SET topic = $2 WHERE id = $1",
                &[&channel_id, &topic],
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
        // Its personal instances go with it; its threads, documents' comments channels,
        // members, events and messages follow by the foreign keys' cascades. The writer keeps
        // nothing per channel here (seqs live in the row), so there is nothing to forget.
        Box::pin(self.write(move |tx, _| {
            delete(tx, channel_id)?;
            Ok(((), Vec::new()))
        }))
    }
}

//! Channels and their members (PostgreSQL), and the channel operations of the store traits.
#![allow(unused_imports)] // scaffolding: the stubs below are being ported

use parley_protocol::{Authentication, Event, PublishPolicy};
use postgres::{GenericClient, Row, Transaction};

use super::{events::append_event, is_unique_violation, PgStore};
use crate::store::sqlite::channels::{
    auth_to_str, first_channel, kind_from_str, kind_to_str, new_epoch,
};
use crate::store::*;
use crate::{
    error::{Error, Result},
    store::{
        limits, now_ms, refusals, ChannelRecord, ChannelStore, CreateChannel, EnsureChannel,
        MemberRole, NewChannel, StoreFuture,
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
    tx.query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])?;
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
            let record = insert(tx, &ensure.channel, ensure.created_by, ensure.owner)?;
            Ok((record, Vec::new()))
        }))
    }

    fn load_directory(&self) -> StoreFuture<'_, ChannelDirectory> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn channel_by_name(&self, _name: String) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn channel_by_id(&self, _channel_id: i64) -> StoreFuture<'_, Option<ChannelWithMembers>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn member_role(&self, _channel_id: i64, _user_id: i64) -> StoreFuture<'_, Option<MemberRole>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn memberships_of(&self, _user_id: i64) -> StoreFuture<'_, Vec<Membership>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn channel_names(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn configure_channel(&self, _channel: NewChannel) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn add_member(&self, _join: Join) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn remove_member(
        &self,
        _channel_id: i64,
        _channel_name: String,
        _user: parley_protocol::UserRef,
    ) -> StoreFuture<'_, bool> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn set_topic(
        &self,
        _channel_id: i64,
        _channel_name: String,
        _topic: Option<String>,
        _by: parley_protocol::UserRef,
    ) -> StoreFuture<'_, ChannelRecord> {
        Box::pin(async { Err(super::not_yet()) })
    }

    fn delete_channel(&self, _channel_id: i64) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(super::not_yet()) })
    }
}

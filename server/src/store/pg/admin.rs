//! The admin subcommands' operations that the store traits lack (PostgreSQL; `store/admin.rs`).

use super::{channels, users, PgStore};
use crate::{
    error::Result,
    store::{now_ms, ChannelRecord, MemberRole, NewChannel, NewUser, UserCreation, UserRecord},
};

impl PgStore {
    /// A user made by the CLI, who joins every channel everyone joins that has room (no
    /// `member_joined` event: running servers own the event log, and see the membership when
    /// they load the channel).
    pub(in crate::store) async fn admin_create_user(&self, user: NewUser) -> Result<UserCreation> {
        self.write(move |tx, _| {
            let created = users::create_user(tx, &user, None)?;
            if let UserCreation::Created(record) = &created {
                tx.execute(
                    "INSERT INTO members (channel_id, user_id, role, joined_at)
                     SELECT c.id, $1, $2, $3 FROM channels c
                      WHERE c.kind = 'public' AND c.auto_subscribe AND NOT c.user_specific
                        AND c.owner_id IS NULL AND c.template_id IS NULL AND c.parent_id IS NULL
                        AND c.doc_id IS NULL AND c.thread_root IS NULL
                        AND (c.max_participants IS NULL
                             OR (SELECT count(*) FROM members m WHERE m.channel_id = c.id)
                                < c.max_participants)
                     ON CONFLICT DO NOTHING",
                    &[&record.id, &MemberRole::Member.as_str(), &now_ms()],
                )?;
            }
            Ok((created, Vec::new()))
        })
        .await
    }

    /// A channel with no creator and no members (`channel_exists` when the name is taken).
    pub(in crate::store) async fn admin_create_channel(
        &self,
        channel: NewChannel,
    ) -> Result<ChannelRecord> {
        self.write(move |tx, _| Ok((channels::insert(tx, &channel, None, None)?, Vec::new())))
            .await
    }

    /// The first enabled admin.
    pub(in crate::store) async fn admin_first_admin(&self) -> Result<Option<UserRecord>> {
        self.read(|client| {
            Ok(client
                .query_opt(
                    &format!(
                        "SELECT {} FROM users u WHERE u.is_admin AND u.disabled_at IS NULL
                           AND u.deleted_at IS NULL ORDER BY u.id LIMIT 1",
                        users::USER_COLUMNS
                    ),
                    &[],
                )?
                .map(|r| users::user_from_row(&r)))
        })
        .await
    }
}

//! The store's contract as one suite of tests, written once against the traits and run against
//! every implementation (the matrix-rust-sdk pattern): `store_conformance!` instantiates each
//! test for a backend, given an async function that opens an empty store as a [`Harness`]. A
//! new backend (PostgreSQL) passes when it runs this suite green.
//!
//! What the suite holds every store to: seqs per channel in commit order, committed events
//! published in that order before the write is answered, idempotent sends per (author,
//! client_id), limits and quotas counted inside the write, redaction of edited and deleted text
//! in stored frames, retention, cascades, pagination, and the queries access checks rely on.

#![allow(clippy::unwrap_used)] // tests: a panic is how they fail

mod accounts;
mod attachments;
pub mod batches;
mod channels;
mod doc_log;
mod docs;
mod messages;
mod people;
mod reads;
mod search;
mod tokens;
mod webhooks;

use std::sync::{Arc, Mutex};

use parley_protocol::{Authentication, ChannelType, ErrorCode, Event, ServerFrame};

use super::{
    memory::MemoryStore, ChannelRecord, CreateChannel, EnsureChannel, MentionNotice, NewChannel,
    NewUser, PostMessage, Published, Publisher, Stores, UserCreation, UserRecord,
};
use crate::{config::StorageConfig, error::Error};

/// Declares every test of the suite for one backend. `$open` is an async fn returning a
/// [`Harness`] on an empty store.
macro_rules! store_conformance {
    ($open:path) => {
        store_conformance!(@tests $open;
            channels: [
                create_channel_makes_the_creator_admin_with_the_first_event,
                create_channel_refuses_a_taken_name,
                create_channel_counts_the_limit_inside_the_write,
                ensure_channel_finds_or_creates,
                configure_channel_applies_settings_to_personal_instances,
                members_join_and_leave_once,
                set_topic_stores_it_with_its_event,
                add_member_refuses_a_full_channel,
                seqs_are_per_channel_in_commit_order,
                concurrent_appends_get_distinct_seqs,
                events_page_and_count,
                prune_by_count_and_by_age,
                delete_channel_takes_everything_under_it,
                a_missing_channel_has_no_log,
                channels_and_memberships_are_found_on_demand,
            ],
            webhooks: [
                custom_events_are_logged_once_per_client_id,
                webhook_outbox_deliveries_and_retries,
            ],
            messages: [
                a_send_commits_the_message_and_its_event,
                sends_are_idempotent_per_author_and_client_id,
                queued_sends_commit_in_queue_order,
                a_send_notifies_mentioned_users,
                a_send_links_attachments,
                thread_replies_update_the_summary,
                open_thread_needs_a_live_root,
                an_edit_takes_the_old_text_out_of_stored_frames,
                only_the_author_edits,
                a_delete_removes_the_content_everywhere,
                who_may_delete,
                history_pages_newest_first,
                reactions_count_and_announce_changes,
            ],
            reads: [
                read_positions_move_forward_only,
                read_receipts_are_announced_when_on,
                unread_counts_skip_own_and_deleted_messages,
                mutes_are_set_and_cleared,
            ],
            search: [
                search_finds_indexed_words_in_the_given_channels,
                the_index_follows_edits_and_deletes,
                indexing_runs_in_batches,
                search_filters_by_author_and_time,
            ],
            accounts: [
                user_names_are_unique_without_regard_to_case,
                look_alike_display_names_are_refused,
                tokens_are_issued_found_and_revoked,
                login_reads_the_password_hash,
                a_password_change_can_revoke_the_other_tokens,
                stored_users_are_repaired,
            ],
            tokens: [
                tokens_are_listed_touched_and_revoked_by_id,
                expired_tokens_count_as_revoked,
                the_token_cap_refuses_or_evicts_inside_the_write,
                bots_are_told_apart,
            ],
            people: [
                invites_are_used_once_per_use_and_capped,
                disabled_and_deleted_accounts_lose_their_tokens,
                the_last_admin_stays,
                reset_codes_burn_on_use,
                display_names_and_avatars_are_set,
            ],
            attachments: [
                the_quota_is_counted_inside_the_write,
                a_failed_placement_leaves_no_row,
                attachment_lookups,
            ],
            docs: [
                a_document_comes_with_its_comments_channel,
                documents_are_renamed_but_names_stay_unique,
                roles_are_granted_and_removed,
                versions_respect_their_limits,
                deleting_a_document_takes_its_channel,
                comments_and_replies,
                a_comment_edit_takes_the_old_body_out_of_stored_frames,
                a_comment_delete_redacts_the_comment_and_its_replies,
                comments_are_resolved_and_reopened,
                documents_are_found_on_demand,
            ],
            doc_log: [
                the_update_log_appends_and_compacts,
                an_older_claim_writes_nothing,
            ],
        );
    };
    (@tests $open:path; $($area:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $area {
                $(
                    #[tokio::test]
                    async fn $test() {
                        let harness = $open().await;
                        crate::store::conformance::$area::$test(&harness).await;
                    }
                )*
            }
        )*
    };
}

mod sqlite {
    store_conformance!(crate::store::conformance::Harness::sqlite);
}

mod memory {
    store_conformance!(crate::store::conformance::Harness::memory);
}

mod postgres {
    store_conformance!(crate::store::conformance::Harness::postgres);
}

/// An empty store with what the tests need to look at it.
pub struct Harness {
    pub stores: Stores,
    published: Arc<Mutex<Vec<Published>>>,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL cluster of a `postgres` harness (stopped last).
    _postgres: Option<parley_testkit::postgres::Postgres>,
}

impl Harness {
    fn collector() -> (Arc<Mutex<Vec<Published>>>, Publisher) {
        let published = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&published);
        let publisher: Publisher = Arc::new(move |event| sink.lock().unwrap().push(event));
        (published, publisher)
    }

    pub async fn sqlite() -> Self {
        Self::sqlite_and_store().await.0
    }

    /// A SQLite harness and its store itself (for what only the store's own tests reach).
    pub async fn sqlite_and_store() -> (Self, super::SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let (published, publisher) = Self::collector();
        let config = StorageConfig {
            read_connections: 2,
            auth_connections: 1,
            ..StorageConfig::default()
        };
        let (store, _writer) =
            super::open(dir.path(), &config, None, publisher, Arc::default()).unwrap();
        let harness = Self {
            stores: Stores::new(Arc::new(store.clone())),
            published,
            _dir: Some(dir),
            _postgres: None,
        };
        (harness, store)
    }

    pub async fn memory() -> Self {
        let (published, publisher) = Self::collector();
        let store = MemoryStore::open(publisher).unwrap();
        Self {
            stores: Stores::new(Arc::new(store)),
            published,
            _dir: None,
            _postgres: None,
        }
    }

    /// A PostgreSQL store on a cluster of its own (Debian's package, started by the test kit).
    pub async fn postgres() -> Self {
        Self::postgres_and_store().await.0
    }

    /// A PostgreSQL harness and its store itself.
    pub async fn postgres_and_store() -> (Self, super::pg::PgStore) {
        let (published, publisher) = Self::collector();
        let config = StorageConfig {
            read_connections: 2,
            auth_connections: 1,
            ..StorageConfig::default()
        };
        let (pg, store) = tokio::task::spawn_blocking(move || {
            let pg = parley_testkit::postgres::Postgres::start();
            let (store, _writer) =
                super::pg::open(&pg.url(), &config, None, publisher, Arc::default()).unwrap();
            (pg, store)
        })
        .await
        .unwrap();
        let harness = Self {
            stores: Stores::new(Arc::new(store.clone())),
            published,
            _dir: None,
            _postgres: Some(pg),
        };
        (harness, store)
    }

    /// The events published since the last call, in publication order.
    pub fn published(&self) -> Vec<Published> {
        std::mem::take(&mut *self.published.lock().unwrap())
    }

    /// A new user named `name` (its look-alike key is the lowercase name).
    pub async fn user(&self, name: &str) -> UserRecord {
        let created = self
            .stores
            .accounts
            .create_user(new_user(name, None), None)
            .await
            .unwrap();
        match created {
            UserCreation::Created(user) => user,
            UserCreation::LooksLike(other) => panic!("{name} looks like {other}"),
        }
    }

    /// A public channel created by `creator`.
    pub async fn channel(&self, name: &str, creator: &UserRecord) -> ChannelRecord {
        self.stores
            .channels
            .create_channel(CreateChannel {
                channel: new_channel(name),
                creator: creator.to_ref(),
                read_receipts: false,
                limit: None,
            })
            .await
            .unwrap()
    }

    /// The user's personal channel (`@me#<id>`), with the `@me` template.
    pub async fn personal(&self, user: &UserRecord) -> ChannelRecord {
        let mut template = new_channel("@me");
        template.kind = ChannelType::Private;
        template.user_specific = true;
        template.max_participants = Some(1);
        let template = self
            .stores
            .channels
            .ensure_channel(EnsureChannel {
                channel: template.clone(),
                created_by: None,
                owner: None,
            })
            .await
            .unwrap();
        let mut instance = template_instance(&template, user);
        instance.name = format!("@me#{}", user.id);
        self.stores
            .channels
            .ensure_channel(EnsureChannel {
                channel: instance,
                created_by: Some(user.id),
                owner: Some((user.id, template.id)),
            })
            .await
            .unwrap()
    }

    /// Sends `text` and waits for the commit.
    pub async fn send(
        &self,
        channel: &ChannelRecord,
        author: &UserRecord,
        text: &str,
    ) -> parley_protocol::Message {
        let post = post(channel, author, text, &next_client_id());
        self.post(post).await.message
    }

    pub async fn post(&self, post: PostMessage) -> super::AppendOutcome {
        self.stores
            .messages
            .submit_message(post)
            .await
            .unwrap()
            .await
            .unwrap()
    }

    /// Every stored event of a channel, as (seq, event).
    pub async fn log(&self, channel_id: i64) -> Vec<(u64, Event)> {
        let head = self
            .stores
            .events
            .log_position(channel_id)
            .await
            .unwrap()
            .head;
        self.stores
            .events
            .events_between(channel_id, 0, head, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                let (seq, event) = event_of(&e.frame);
                assert_eq!(seq, e.seq, "a stored frame carries its own seq");
                (seq, event)
            })
            .collect()
    }
}

/// A client id no other send in the process uses.
pub fn next_client_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!(
        "c{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

pub fn new_user(name: &str, display_name: Option<&str>) -> NewUser {
    NewUser {
        name: name.to_owned(),
        name_key: name.to_lowercase(),
        display_name: display_name.map(str::to_owned),
        display_key: display_name.map(str::to_lowercase),
        password_hash: format!("hash-of-{name}"),
        is_admin: false,
    }
}

pub fn new_channel(name: &str) -> NewChannel {
    NewChannel {
        name: name.to_owned(),
        kind: ChannelType::Public,
        authentication: Authentication::Required,
        presence: false,
        message_history: None,
        message_retention_secs: None,
        user_specific: false,
        auto_subscribe: false,
        max_participants: None,
        topic: None,
        publish: parley_protocol::PublishPolicy::Members,
    }
}

/// A personal instance's settings, as the server derives them from its template.
pub fn template_instance(template: &ChannelRecord, user: &UserRecord) -> NewChannel {
    NewChannel {
        name: format!("{}#{}", template.name, user.id),
        kind: ChannelType::Private,
        authentication: Authentication::Required,
        presence: template.presence,
        message_history: template.message_history,
        message_retention_secs: template.message_retention_secs,
        user_specific: true,
        auto_subscribe: template.auto_subscribe,
        max_participants: Some(1),
        topic: template.topic.clone(),
        publish: template.publish,
    }
}

pub fn post(
    channel: &ChannelRecord,
    author: &UserRecord,
    text: &str,
    client_id: &str,
) -> PostMessage {
    PostMessage {
        channel_id: channel.id,
        channel_name: channel.name.clone(),
        author: author.to_ref(),
        text: text.to_owned(),
        client_id: client_id.to_owned(),
        mentions: Vec::new(),
        attachments: Vec::new(),
        thread: None,
    }
}

pub fn notice(user: &UserRecord, personal: &ChannelRecord, muted: bool) -> MentionNotice {
    MentionNotice {
        user_id: user.id,
        personal_channel_id: personal.id,
        personal_channel: personal.name.clone(),
        muted,
    }
}

/// The (seq, event) a frame carries.
pub fn event_of(frame: &str) -> (u64, Event) {
    match serde_json::from_str::<ServerFrame>(frame).unwrap() {
        ServerFrame::Event(e) => (e.seq.unwrap(), e.event),
        other => panic!("not an event frame: {other:?}"),
    }
}

/// The error code of a failed operation.
pub fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> ErrorCode {
    result.expect_err("the store should refuse this").code()
}

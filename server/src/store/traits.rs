//! The store's interface, one trait per area. Every method is one operation of its area,
//! including the compound writes that must be one transaction (a send with its mentions,
//! attachment links and thread summary; a delete with its redaction rewrites; a comment change
//! with its event); no caller sees a connection, a row or SQL.
//!
//! Written for a store that need not be in-process: methods are async and take owned inputs;
//! writes may be batched (group commit) and answer only once committed; a durable event gets its
//! channel's next `seq` inside the write's transaction, and the store hands committed events to
//! its publisher (given when it is opened) in commit order, before the write is acknowledged.
//! Access checks are the caller's; limits and uniqueness are checked inside the write, so
//! concurrent requests cannot both pass. `store/conformance/` holds the contract as tests that
//! every implementation runs.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::future::BoxFuture;
use parley_protocol::{Comment, DocRole, Message, ReactionChange, SearchHit, VersionInfo};
use tokio::sync::oneshot;

use super::records::*;
use super::webhook_records::*;
use crate::error::{Error, Result};

/// What every store method returns: a boxed future, so the traits can be used as `dyn` (one
/// small allocation per call, next to the write's own queue entry and reply channel).
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T>>;

/// A write that is queued: resolves once it is committed (or failed). Writes queued by one
/// caller commit in the order they were queued.
pub struct Committed<T>(oneshot::Receiver<Result<T>>);

impl<T> Committed<T> {
    pub(crate) fn new(reply: oneshot::Receiver<Result<T>>) -> Self {
        Self(reply)
    }
}

impl<T> Future for Committed<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|reply| {
            reply.unwrap_or_else(|_| Err(Error::internal("the store dropped a write")))
        })
    }
}

/// Each channel's durable log: events with their seq, replayed on resume, pruned by retention.
pub trait EventStore: Send + Sync {
    /// Appends an event under the channel's next seq; returns the seq.
    fn append_event(&self, event: NewEvent) -> StoreFuture<'_, u64>;
    /// Appends a durable custom event, unless its publisher already published its
    /// `client_id` (kept until retention removes the first one's event).
    fn append_custom(&self, event: CustomEvent) -> StoreFuture<'_, CustomStored>;
    /// The channel's head and retention mark (`channel_not_found` when it is gone).
    fn log_position(&self, channel_id: i64) -> StoreFuture<'_, LogPosition>;
    /// Events with `after < seq <= until`, oldest first, at most `limit`, as stored (redacted
    /// frames as rewritten).
    fn events_between(
        &self,
        channel_id: i64,
        after: u64,
        until: u64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<StoredEvent>>;
    fn count_events_between(&self, channel_id: i64, after: u64, until: u64)
        -> StoreFuture<'_, u64>;
    /// Removes events (and their messages) created before `cutoff_ms`, or beyond the newest
    /// `keep` (0: no count limit); returns the highest seq removed, which becomes the channel's
    /// `pruned_through`.
    fn prune(
        &self,
        channel_id: i64,
        cutoff_ms: Option<i64>,
        keep: Option<u64>,
    ) -> StoreFuture<'_, Option<u64>>;
}

/// Channels and their members.
pub trait ChannelStore: Send + Sync {
    fn load_directory(&self) -> StoreFuture<'_, ChannelDirectory>;
    fn channel_by_name(&self, name: String) -> StoreFuture<'_, Option<ChannelWithMembers>>;
    fn channel_by_id(&self, channel_id: i64) -> StoreFuture<'_, Option<ChannelWithMembers>>;
    /// The user's role in the channel, if they are a member (for a node whose directory does
    /// not hold the channel, or holds an old copy of it).
    fn member_role(&self, channel_id: i64, user_id: i64) -> StoreFuture<'_, Option<MemberRole>>;
    /// Every channel the user is a member of.
    fn memberships_of(&self, user_id: i64) -> StoreFuture<'_, Vec<Membership>>;
    /// Names of all channels except personal instances.
    fn channel_names(&self) -> StoreFuture<'_, Vec<String>>;
    /// Creates a channel (`channel_exists` when the name is taken, `limit_reached` past the
    /// creator's limit); the record's `head_seq` is its `member_joined` event.
    fn create_channel(&self, create: CreateChannel) -> StoreFuture<'_, ChannelRecord>;
    /// The channel of this name, created with these settings when there is none.
    fn ensure_channel(&self, ensure: EnsureChannel) -> StoreFuture<'_, ChannelRecord>;
    /// A channel declared in the configuration: created, or its settings applied (to its
    /// personal instances too: history, retention, presence, auto-subscribe, topic).
    fn configure_channel(&self, channel: NewChannel) -> StoreFuture<'_, ChannelRecord>;
    /// Adds a member with a `member_joined` event; false (and no event) when they were one.
    fn add_member(&self, join: Join) -> StoreFuture<'_, bool>;
    /// Removes a member with a `member_left` event; false (and no event) when they were not.
    fn remove_member(
        &self,
        channel_id: i64,
        channel_name: String,
        user: parley_protocol::UserRef,
    ) -> StoreFuture<'_, bool>;
    /// Sets (Some) or clears (None) a channel's topic with a `channel_updated` event by `by`;
    /// the record as it is now (`channel_not_found` when it is gone).
    fn set_topic(
        &self,
        channel_id: i64,
        channel_name: String,
        topic: Option<String>,
        by: parley_protocol::UserRef,
    ) -> StoreFuture<'_, ChannelRecord>;
    /// Deletes a channel with everything under it: history, members, read states, personal
    /// instances (of a template), threads, its documents and their comments channels.
    fn delete_channel(&self, channel_id: i64) -> StoreFuture<'_, ()>;
}

/// Messages: the idempotent durable send, edits, deletes, history.
pub trait MessageStore: Send + Sync {
    /// Queues a send and returns once it is queued; the `Committed` resolves after the commit.
    /// A repeated (author, client_id) writes nothing and returns the original, `duplicate`.
    fn submit_message(&self, post: PostMessage) -> StoreFuture<'_, Committed<AppendOutcome>>;
    /// Replaces the text of a live message, with a `message_edited` event; the frame that
    /// carried the previous text carries none from then on, and the `mention` frames carry the
    /// new text. `message_not_found`, or `forbidden` for someone else's message.
    fn edit_message(&self, edit: MessageEdit) -> StoreFuture<'_, Message>;
    /// Deletes a live message's content everywhere it is stored (text, edit history,
    /// reactions, attachment links, the frames of its `message`, `message_edited` and
    /// `mention` events), with a `message_deleted` event. `message_not_found`, or `forbidden`
    /// when `by` is neither the author nor a manager.
    fn delete_message(&self, delete: MessageDelete) -> StoreFuture<'_, ()>;
    /// Messages before `before` (exclusive; None: the newest), newest first; a deleted one is
    /// only its place. Each carries its reactions, mentions, attachments and thread summary.
    fn history(
        &self,
        channel_id: i64,
        before: Option<u64>,
        limit: u32,
    ) -> StoreFuture<'_, HistorySlice>;
}

/// Reactions to messages.
pub trait ReactionStore: Send + Sync {
    /// Adds or removes one user's reaction to a live message; a `reaction` event only when
    /// something changed. The answer carries the emoji's new count either way.
    fn react(&self, update: ReactionUpdate) -> StoreFuture<'_, ReactionChange>;
}

/// Read positions, mutes, unread counts.
pub trait ReadStore: Send + Sync {
    fn read_position(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadPosition>;
    fn read_counts(&self, user_id: i64, channel_id: i64) -> StoreFuture<'_, ReadCounts>;
    /// Each user's mute of the channel, in the order asked.
    fn mutes(&self, channel_id: i64, user_ids: Vec<i64>) -> StoreFuture<'_, Vec<Option<i64>>>;
    /// Moves the read position forward; false (and nothing written) when `seq` is not beyond
    /// it. With read receipts on, a `read_receipt` event.
    fn mark_read(&self, mark: ReadMark) -> StoreFuture<'_, bool>;
    /// Sets the mute (None: unmuted); false when it was that already.
    fn set_mute(&self, user_id: i64, channel_id: i64, until: Option<i64>) -> StoreFuture<'_, bool>;
}

/// Threads under messages.
pub trait ThreadStore: Send + Sync {
    /// The thread under a live message of the channel, its channel created on first use.
    fn open_thread(
        &self,
        channel_id: i64,
        root_id: i64,
        opened_by: i64,
    ) -> StoreFuture<'_, OpenedThread>;
}

/// Full-text search over message text.
pub trait SearchStore: Send + Sync {
    /// Indexes messages sent since the last run (at most `batch`); true when more wait.
    fn index_pending(&self, batch: i64) -> StoreFuture<'_, bool>;
    /// Indexed, live messages of the given channels matching every word (the last may be a
    /// prefix), best first, with a snippet marking the matches with `[` `]`.
    fn search(&self, request: SearchRequest) -> StoreFuture<'_, Vec<SearchHit>>;
}

/// Uploaded files' records.
pub trait AttachmentStore: Send + Sync {
    fn attachment(&self, id: i64) -> StoreFuture<'_, Option<StoredAttachment>>;
    fn attachment_access(&self, id: i64) -> StoreFuture<'_, Option<AttachmentAccess>>;
    /// The first of `ids` that is not an attachment `user_id` uploaded.
    fn first_not_owned(&self, user_id: i64, ids: Vec<i64>) -> StoreFuture<'_, Option<i64>>;
    fn uploaded_bytes(&self, user_id: i64) -> StoreFuture<'_, u64>;
    fn thumbnail_of(&self, id: i64) -> StoreFuture<'_, Option<String>>;
    /// What the earliest upload of this content got for a thumbnail: None when the content was
    /// never uploaded, Some(None) when it got none.
    fn thumbnail_of_content(&self, sha256: String) -> StoreFuture<'_, Option<Option<String>>>;
    /// Inserts the row (`quota_exceeded` past the uploader's quota), runs `place`, commits.
    fn insert_attachment(
        &self,
        upload: AttachmentUpload,
        place: PlaceFiles,
    ) -> StoreFuture<'_, parley_protocol::Attachment>;
    /// Every content hash a row refers to, files and thumbnails.
    fn attachment_contents(&self) -> StoreFuture<'_, HashSet<[u8; 32]>>;
    /// Contents whose file is missing: thumbnails pointing at them are forgotten. Returns
    /// (attachments whose file is missing, thumbnails forgotten).
    fn forget_missing_content(&self, missing: Vec<String>) -> StoreFuture<'_, (usize, usize)>;
}

/// Attachment contents kept in the database itself (PostgreSQL), so that every node of a
/// cluster serves every attachment with no shared file system. Content is addressed by its
/// SHA-256 and written once; it is stored before the row that names it, so a row never lacks
/// its content, and content no row names is swept ([`ContentStore::sweep_contents`]).
pub trait ContentStore: Send + Sync {
    /// Stores the bytes of the file at `path` as content `sha256`, unless they are stored
    /// already. The file is read in chunks; it is not written through the store's writer, so
    /// chat writes never wait behind a large upload.
    fn put_content(&self, sha256: String, path: std::path::PathBuf) -> StoreFuture<'_, ()>;
    /// The size of content `sha256`, None when it is not stored.
    fn content_size(&self, sha256: String) -> StoreFuture<'_, Option<u64>>;
    /// Chunk `n` of content `sha256` (None past the last).
    fn content_chunk(&self, sha256: String, n: i32) -> StoreFuture<'_, Option<Vec<u8>>>;
    /// Removes content no attachment refers to (as its file or thumbnail) that was stored
    /// before `before_ms`; how much went.
    fn sweep_contents(&self, before_ms: i64) -> StoreFuture<'_, usize>;
}

/// Resumable upload sessions kept in the database (PostgreSQL), so that any node continues a
/// session another opened. A request holds a session until `hold_ms` passes without it
/// storing a part (its node may have died) or it lets go. `live_after_ms`: sessions started
/// before it have expired and are treated as gone.
pub trait UploadSessionStore: Send + Sync {
    /// Opens a session; `rate_limited` when the user has `max_open` live ones.
    fn open_session(&self, new: NewUploadSession, max_open: usize) -> StoreFuture<'_, ()>;
    fn upload_session(
        &self,
        user_id: i64,
        id: String,
        live_after_ms: i64,
    ) -> StoreFuture<'_, Option<UploadSessionRow>>;
    /// Takes the user's live session for one request: `attachment_not_found` when there is
    /// none, `upload_conflict` while another request holds it.
    fn lease_session(
        &self,
        user_id: i64,
        id: String,
        live_after_ms: i64,
        hold_ms: i64,
    ) -> StoreFuture<'_, UploadSessionRow>;
    /// Stores `data` at `start`, which must be where the upload ends; renews the hold.
    /// Returns how many bytes the session has now.
    fn append_part(
        &self,
        id: String,
        start: u64,
        data: Vec<u8>,
        hold_ms: i64,
    ) -> StoreFuture<'_, u64>;
    fn release_session(&self, id: String) -> StoreFuture<'_, ()>;
    /// Removes the session and its bytes.
    fn end_session(&self, id: String) -> StoreFuture<'_, ()>;
    /// The first part starting at or after `from`: its start and bytes.
    fn session_part(&self, id: String, from: u64) -> StoreFuture<'_, Option<(u64, Vec<u8>)>>;
    /// Removes sessions started before `started_before_ms` that no request holds.
    fn sweep_sessions(&self, started_before_ms: i64) -> StoreFuture<'_, usize>;
}

/// Users and bearer tokens.
pub trait AccountStore: Send + Sync {
    /// The live token with this hash and its user. Never waits behind heavy reads.
    fn token_by_hash(&self, hash: Vec<u8>) -> StoreFuture<'_, Option<TokenRecord>>;
    fn user_with_password(&self, name: String) -> StoreFuture<'_, Option<(UserRecord, String)>>;
    fn user_by_name(&self, name: String) -> StoreFuture<'_, Option<UserRecord>>;
    /// Each name's user, in the order asked.
    fn users_by_name(&self, names: Vec<String>) -> StoreFuture<'_, Vec<Option<UserRecord>>>;
    /// The users of these ids that exist, in the order asked.
    fn users_by_id(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<UserRecord>>;
    /// Creates a user (`user_exists`), with a first token when `token` is given.
    fn create_user(&self, user: NewUser, token: Option<NewToken>) -> StoreFuture<'_, UserCreation>;
    fn issue_token(&self, user_id: i64, token: NewToken) -> StoreFuture<'_, i64>;
    /// Revokes a live token; false when there was none with this hash.
    fn revoke_token(&self, hash: Vec<u8>) -> StoreFuture<'_, bool>;
    fn revoke_user_tokens(&self, user_id: i64) -> StoreFuture<'_, usize>;
    /// Replaces the user's password hash and, when `keep_token` is given, revokes every other
    /// live token of the user in the same write: the ids of the tokens revoked.
    fn change_password(
        &self,
        user_id: i64,
        hash: String,
        keep_token: Option<i64>,
    ) -> StoreFuture<'_, Vec<i64>>;
    /// Of these token ids, those revoked or gone.
    fn revoked_among(&self, ids: Vec<i64>) -> StoreFuture<'_, Vec<i64>>;
    /// Brings stored users under the current rules: missing name keys, and display names
    /// repaired (cleared when they pass for another user's name). Returns how many changed.
    fn repair_users(&self, rules: UserRules) -> StoreFuture<'_, usize>;
}

/// Token lists, revocation by id, last use, the per-user cap, and bot accounts. Expired tokens
/// count as revoked everywhere (`token_by_hash`, `revoked_among`, lists, the cap).
pub trait TokenStore: Send + Sync {
    /// The user's live tokens, newest first, at most `limit`.
    fn list_tokens(&self, user_id: i64, limit: u32) -> StoreFuture<'_, Vec<StoredToken>>;
    /// Revokes the user's live token `token_id`; false when the user has no such live token.
    fn revoke_token_of(&self, user_id: i64, token_id: i64) -> StoreFuture<'_, bool>;
    /// Records last uses: (token id, milliseconds). Never moves a time backwards.
    fn touch_tokens(&self, uses: Vec<(i64, i64)>) -> StoreFuture<'_, ()>;
    /// Issues a token unless the user already has `cap` live ones: then, with `evict`, the
    /// least recently used are revoked to make room (their ids returned); without it,
    /// `limit_reached` naming `accounts.max_tokens_per_user`. Counted inside the write.
    fn issue_capped(
        &self,
        user_id: i64,
        token: NewToken,
        cap: usize,
        evict: bool,
    ) -> StoreFuture<'_, Issued>;
    /// Creates a bot account: no password matches it (`user_exists` as for any user).
    fn create_bot(&self, user: NewUser) -> StoreFuture<'_, UserCreation>;
    /// The bot with this id (None for a person's account or no account).
    fn bot_by_id(&self, id: i64) -> StoreFuture<'_, Option<UserRecord>>;
}

/// Documents: records, roles, the update log with its snapshot, named versions.
pub trait DocumentStore: Send + Sync {
    fn load_documents(&self) -> StoreFuture<'_, Vec<(DocRecord, Grants)>>;
    /// A document with its grants, by name or by id (for a node whose directory does not hold
    /// it, or holds an old copy of it).
    fn document_by_name(&self, name: String) -> StoreFuture<'_, Option<(DocRecord, Grants)>>;
    fn document_by_id(&self, doc_id: i64) -> StoreFuture<'_, Option<(DocRecord, Grants)>>;
    /// Creates a document and its comments channel (`doc_exists`, `limit_reached`).
    fn create_document(&self, new: NewDocument) -> StoreFuture<'_, (DocRecord, ChannelRecord)>;
    /// Stores name, title and default role (`doc_exists` when the new name is taken).
    fn update_document(&self, record: DocRecord) -> StoreFuture<'_, ()>;
    /// Deletes a document with everything it owns, its comments channel included.
    fn delete_document(&self, doc_id: i64) -> StoreFuture<'_, ()>;
    /// Grants `role` to the user named `user_name` (None removes the grant); returns their id.
    fn set_role(
        &self,
        doc_id: i64,
        user_name: String,
        role: Option<DocRole>,
    ) -> StoreFuture<'_, i64>;
    fn load_content(&self, doc_id: i64) -> StoreFuture<'_, StoredDoc>;
    /// Takes over writing the document's log and returns the claim to write under. A write
    /// under an older claim is refused from the moment this commits, and this waits for the
    /// writes already under way: what [`DocumentStore::load_content`] reads after it is all
    /// that will ever be written under an older claim. (One actor per document writes; with
    /// several nodes this is what keeps a node that lost the document from writing to it.)
    fn claim_document(&self, doc_id: i64) -> StoreFuture<'_, i64>;
    /// Appends updates to the log in one write; returns the id of the last, or None (nothing
    /// written) when the document was claimed again since `claim`.
    fn append_updates(
        &self,
        doc_id: i64,
        claim: i64,
        updates: Vec<Vec<u8>>,
    ) -> StoreFuture<'_, Option<i64>>;
    /// Replaces the log up to `through` (inclusive) with `state`, in one transaction; false
    /// (nothing written) when the document was claimed again since `claim`.
    fn compact(
        &self,
        doc_id: i64,
        claim: i64,
        state: Vec<u8>,
        through: i64,
    ) -> StoreFuture<'_, bool>;
    fn save_version(&self, version: NewVersion) -> StoreFuture<'_, VersionInfo>;
    fn versions(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<VersionInfo>>;
    fn version(
        &self,
        doc_id: i64,
        doc_name: String,
        id: i64,
    ) -> StoreFuture<'_, Option<(VersionInfo, Vec<u8>)>>;
}

/// Comments on documents. Each change is written with its durable event on the document's
/// comments channel; a later edit or delete takes the text back out of the earlier frames.
pub trait CommentStore: Send + Sync {
    /// Every comment of the document, oldest first.
    fn comments(&self, doc_id: i64, doc_name: String) -> StoreFuture<'_, Vec<Comment>>;
    fn comment_row(&self, doc_id: i64, id: i64) -> StoreFuture<'_, Option<CommentRow>>;
    /// The comment this author wrote with this `client_id` on this document;
    /// `invalid_client_id` when it was used on another one.
    fn comment_by_client_id(
        &self,
        doc: CommentsOf,
        author_id: i64,
        client_id: String,
    ) -> StoreFuture<'_, Option<Comment>>;
    /// `comment_not_found` for a missing parent, `invalid_comment` for a reply to a reply.
    fn create_comment(&self, doc: CommentsOf, post: CommentPost) -> StoreFuture<'_, Comment>;
    fn edit_comment(
        &self,
        doc: CommentsOf,
        id: i64,
        body: String,
        mention_names: Vec<String>,
        by: i64,
    ) -> StoreFuture<'_, Comment>;
    /// Resolves (`resolved_by: Some`) or reopens a comment.
    fn resolve_comment(
        &self,
        doc: CommentsOf,
        id: i64,
        resolved_by: Option<i64>,
        by: i64,
    ) -> StoreFuture<'_, Comment>;
    /// Deletes a comment with its replies; their frames keep no body, quote or mentions.
    fn delete_comment(&self, doc: CommentsOf, id: i64, by: i64) -> StoreFuture<'_, ()>;
}

/// Health and shutdown.
pub trait StoreControl: Send + Sync {
    /// True when the store answers a trivial query (for `/healthz`).
    fn healthy(&self) -> BoxFuture<'_, bool>;
    /// Commits what is queued and stops; later writes fail.
    fn stop(&self) -> BoxFuture<'_, ()>;
    /// Writes queued for the writer and not yet taken into a batch (for metrics).
    fn queued_writes(&self) -> usize;
    /// Resolves once every write queued before it has committed and its events were handed to
    /// the publisher (writes commit in queue order): at a stop, sessions wait for it before
    /// their last flush, so every event acknowledged to anyone reaches them first.
    fn barrier(&self) -> BoxFuture<'_, ()>;
}

/// Everything a store implementation provides.
/// Outbound webhooks: endpoints, the outbox every captured event is written to (by the write
/// that commits it), and the deliveries made of it (`crate::webhooks`).
pub trait WebhookStore: Send + Sync {
    /// From the next write on, durable events with a webhook type are also written to the
    /// outbox (or no longer are).
    fn set_webhook_capture(&self, on: bool) -> StoreFuture<'_, ()>;
    /// An ephemeral event an endpoint wants (`presence.changed`, an ephemeral custom event),
    /// written to the outbox while capture is on.
    fn capture_ephemeral(
        &self,
        channel: String,
        kind: String,
        frame: String,
    ) -> StoreFuture<'_, ()>;
    fn webhook_endpoints(&self) -> StoreFuture<'_, Vec<EndpointRecord>>;
    /// Adds an endpoint (`limit_reached` beyond `max` endpoints).
    fn add_endpoint(&self, endpoint: NewEndpoint, max: usize) -> StoreFuture<'_, EndpointRecord>;
    /// Removes an endpoint and its deliveries; false when there was none.
    fn remove_endpoint(&self, id: i64) -> StoreFuture<'_, bool>;
    /// Makes the `config` endpoints exactly these (known by URL; others removed, settings
    /// updated, a changed one enabled again).
    fn sync_config_endpoints(&self, endpoints: Vec<NewEndpoint>) -> StoreFuture<'_, ()>;
    /// Disables an endpoint (it answered 410) with the reason, or enables it again.
    fn set_endpoint_disabled(&self, id: i64, disabled: Option<String>) -> StoreFuture<'_, ()>;
    /// The oldest outbox events, at most `limit`.
    fn outbox(&self, limit: u32) -> StoreFuture<'_, Vec<OutboxRow>>;
    /// Records deliveries and removes the outbox events that were read (`read`, their ids; not
    /// "everything up to the last": with several nodes, a lower id can commit after a higher
    /// one was read), in one write. An endpoint already holding `max_per_endpoint` deliveries
    /// gets no more: how many were dropped so.
    fn record_deliveries(
        &self,
        deliveries: Vec<NewDelivery>,
        read: Vec<i64>,
        max_per_endpoint: u64,
    ) -> StoreFuture<'_, u64>;
    /// An endpoint's deliveries that are due at `now`: per channel only the oldest waiting
    /// one (so each channel's events arrive in order), oldest first, at most `limit`.
    fn due_deliveries(
        &self,
        endpoint_id: i64,
        now: i64,
        limit: u32,
    ) -> StoreFuture<'_, Vec<DeliveryRow>>;
    /// When the endpoint's next delivery is due: the earliest of each channel's oldest waiting
    /// one (those behind it wait for it). None: nothing waits.
    fn next_due(&self, endpoint_id: i64) -> StoreFuture<'_, Option<i64>>;
    fn finish_delivery(&self, id: i64, outcome: DeliveryOutcome) -> StoreFuture<'_, ()>;
    /// Queues an endpoint's dead deliveries again (and enables it); how many.
    fn replay_dead(&self, endpoint_id: i64) -> StoreFuture<'_, u64>;
    fn webhook_backlog(&self) -> StoreFuture<'_, HashMap<i64, EndpointBacklog>>;
    /// Whether this node turns the outbox into deliveries and sends them: always, for a store
    /// one node uses; with several nodes on one database, exactly one of them at a time (the
    /// one holding the database's lock for it, until it stops or loses its connection).
    fn lead_deliveries(&self) -> StoreFuture<'_, bool>;
}

pub trait Backend:
    EventStore
    + ChannelStore
    + MessageStore
    + ReactionStore
    + ReadStore
    + ThreadStore
    + SearchStore
    + AttachmentStore
    + AccountStore
    + TokenStore
    + DocumentStore
    + CommentStore
    + super::PeopleStore
    + WebhookStore
    + StoreControl
    + 'static
{
}

impl<T> Backend for T where
    T: EventStore
        + ChannelStore
        + MessageStore
        + ReactionStore
        + ReadStore
        + ThreadStore
        + SearchStore
        + AttachmentStore
        + AccountStore
        + TokenStore
        + DocumentStore
        + CommentStore
        + super::PeopleStore
        + WebhookStore
        + StoreControl
        + 'static
{
}

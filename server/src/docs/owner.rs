//! Which node serves a document, on a server of several nodes (docs/scaling.md). One node at a
//! time holds a lease on an open document (in Redis, `cluster::leases`) and runs its actor;
//! a `/docs` connection that lands on another node is passed on to it (`proxy`). The lease
//! only routes: what keeps two nodes from writing one document is the store's claim
//! (`DocumentStore::claim_document`), taken by every actor as it starts, so a node that lost
//! its lease (a pause, a partition) finds its next write refused and closes its connections
//! with 4008 instead of writing over the new owner's work.

use std::time::Duration;

use futures_util::future::BoxFuture;

/// Who serves a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This node (it holds the lease now, or the lease could not be checked: the claim keeps
    /// that safe).
    Here,
    /// Another node, at this base URL (`cluster.advertise`).
    There(String),
}

/// The cluster's side of document ownership and of the document directory.
pub trait DocLeases: Send + Sync {
    /// Who serves the document; takes the lease for this node when nobody holds it.
    fn owner(&self, doc_id: i64) -> BoxFuture<'_, Owner>;
    /// Keeps (or takes again) this node's lease. False when another node holds it: this node
    /// must stop serving the document. An error (what failed) when Redis could not say.
    fn renew(&self, doc_id: i64) -> BoxFuture<'_, Result<bool, String>>;
    /// Gives up the lease, if this node still holds it.
    fn release(&self, doc_id: i64) -> BoxFuture<'_, ()>;
    /// How often an open document renews its lease.
    fn renew_every(&self) -> Duration;
    /// Tells the other nodes that a document's record or roles changed (for one user, or
    /// everyone): they reload it from the store.
    fn changed(&self, doc_id: i64, user_id: Option<i64>);
}

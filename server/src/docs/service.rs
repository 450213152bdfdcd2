//! The document service ([`Documents`]): what the document operations (in `mod.rs`,
//! `comments`, `versions`) and the `/docs/{name}` connections need, and the environment the
//! document actors run in.

use std::sync::Arc;

use crate::{
    chat::Chat,
    config::Config,
    docs::{actor, directory::Docs, owner::DocLeases},
    gate::WorkGate,
    metrics::Metrics,
    ratelimit::UserRates,
    store::Stores,
    ws::Connections,
};

pub struct Documents {
    pub(super) config: Arc<Config>,
    pub(super) stores: Stores,
    /// Channel documents follow their channel's members and roles.
    pub(super) chat: Arc<Chat>,
    /// Every document, the roles granted on them and the actors of open ones.
    pub dir: Arc<Docs>,
    pub(super) rates: Arc<UserRates>,
    /// Document content answers being decoded (`documents.max_content_reads`).
    pub(super) content_gate: WorkGate,
    /// Actors stop with the server and are waited for at shutdown.
    connections: Arc<Connections>,
    /// Actors count what they drop.
    metrics: Arc<Metrics>,
    /// On a server of several nodes: which node serves each document, and news of documents
    /// changed on the others.
    pub(super) leases: Option<Arc<dyn DocLeases>>,
}

impl Documents {
    pub fn new(
        config: Arc<Config>,
        stores: Stores,
        chat: Arc<Chat>,
        dir: Arc<Docs>,
        rates: Arc<UserRates>,
        connections: Arc<Connections>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reads = config.documents.max_content_reads;
        Self {
            content_gate: WorkGate::new("document content reads", reads, reads * 4),
            config,
            stores,
            chat,
            dir,
            rates,
            connections,
            metrics,
            leases: None,
        }
    }

    /// On a server of several nodes: the cluster's leases on documents.
    pub fn with_leases(mut self, leases: Option<Arc<dyn DocLeases>>) -> Self {
        self.leases = leases;
        self
    }

    /// What actors need from the server.
    pub fn actor_env(&self) -> actor::ActorEnv {
        let c = &self.config.documents;
        actor::ActorEnv {
            store: Arc::clone(&self.stores.documents),
            actors: Arc::clone(&self.dir.actors),
            config: actor::ActorConfig {
                max_document_size: c.max_document_size,
                compact_after: c.compact_after,
                idle_timeout: c.idle_timeout,
                queue: c.actor_queue,
                max_awareness_clients: c.max_awareness_clients_per_connection,
                awareness_per_second: c.awareness_per_second,
                awareness_burst: c.awareness_burst,
            },
            shutdown: self.connections.shutdown.clone(),
            tracker: self.connections.tracker.clone(),
            metrics: Arc::clone(&self.metrics),
            leases: self.leases.clone(),
        }
    }
}

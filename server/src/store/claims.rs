//! Claims on documents for the stores of one process (SQLite, memory): the claim a document's
//! log is written under (see `DocumentStore::claim_document`). PostgreSQL keeps its claims in
//! the `docs` row, where every node sees them.

use std::{collections::HashMap, sync::Mutex};

#[derive(Default)]
pub struct Claims(Mutex<HashMap<i64, i64>>);

impl Claims {
    /// A new claim on the document: every older one stops holding.
    pub fn claim(&self, doc_id: i64) -> i64 {
        let mut claims = match self.0.lock() {
            Ok(claims) => claims,
            Err(poisoned) => poisoned.into_inner(),
        };
        let claim = claims.entry(doc_id).or_insert(0);
        *claim += 1;
        *claim
    }

    /// True while `claim` is the document's newest.
    pub fn holds(&self, doc_id: i64, claim: i64) -> bool {
        let claims = match self.0.lock() {
            Ok(claims) => claims,
            Err(poisoned) => poisoned.into_inner(),
        };
        claims.get(&doc_id).copied().unwrap_or(0) == claim
    }
}

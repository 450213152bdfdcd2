//! A document's update log: appends, compaction into a snapshot, and the claim it is written
//! under (one writer per document).

use super::{docs::doc, Harness};

pub async fn the_update_log_appends_and_compacts(h: &Harness) {
    let alice = h.user("alice").await;
    let (plan, _) = doc(h, "plan", &alice).await;
    let (notes, _) = doc(h, "notes", &alice).await;
    let documents = &h.stores.documents;
    let claim = documents.claim_document(plan.id).await.unwrap();
    let other_claim = documents.claim_document(notes.id).await.unwrap();
    let empty = documents.load_content(plan.id).await.unwrap();
    assert!(empty.snapshot.is_none() && empty.updates.is_empty());
    assert_eq!(empty.last_update, 0);
    let first = documents
        .append_updates(plan.id, claim, vec![b"a".to_vec(), b"b".to_vec()])
        .await
        .unwrap()
        .unwrap();
    documents
        .append_updates(notes.id, other_claim, vec![b"elsewhere".to_vec()])
        .await
        .unwrap()
        .unwrap();
    let last = documents
        .append_updates(plan.id, claim, vec![b"c".to_vec()])
        .await
        .unwrap()
        .unwrap();
    assert!(last > first);
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!(
        stored.updates,
        [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!(stored.last_update, last);
    assert!(documents
        .compact(plan.id, claim, b"ab".to_vec(), first)
        .await
        .unwrap());
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&b"ab"[..]));
    assert_eq!(
        stored.updates,
        [b"c".to_vec()],
        "only the log up to `through` goes"
    );
    assert!(documents
        .compact(plan.id, claim, b"abc".to_vec(), stored.last_update)
        .await
        .unwrap());
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&b"abc"[..]));
    assert!(stored.updates.is_empty());
    let next = documents
        .append_updates(plan.id, claim, vec![b"d".to_vec()])
        .await
        .unwrap()
        .unwrap();
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!((stored.updates.len(), stored.last_update), (1, next));
    let other = documents.load_content(notes.id).await.unwrap();
    assert_eq!(other.updates, [b"elsewhere".to_vec()]);
}

/// A claim stops holding once the document is claimed again: nothing more is written under it,
/// while the newer claim writes as usual.
pub async fn an_older_claim_writes_nothing(h: &Harness) {
    let alice = h.user("alice").await;
    let (plan, _) = doc(h, "plan", &alice).await;
    let documents = &h.stores.documents;
    let old = documents.claim_document(plan.id).await.unwrap();
    let kept = documents
        .append_updates(plan.id, old, vec![b"a".to_vec()])
        .await
        .unwrap()
        .unwrap();
    let new = documents.claim_document(plan.id).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(
        documents
            .append_updates(plan.id, old, vec![b"lost".to_vec()])
            .await
            .unwrap(),
        None
    );
    assert!(!documents
        .compact(plan.id, old, b"x".to_vec(), kept)
        .await
        .unwrap());
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!(
        stored.updates,
        [b"a".to_vec()],
        "nothing under the old claim"
    );
    assert!(stored.snapshot.is_none());
    let last = documents
        .append_updates(plan.id, new, vec![b"b".to_vec()])
        .await
        .unwrap()
        .unwrap();
    assert!(documents
        .compact(plan.id, new, b"ab".to_vec(), last)
        .await
        .unwrap());
    let stored = documents.load_content(plan.id).await.unwrap();
    assert_eq!(stored.snapshot.as_deref(), Some(&b"ab"[..]));
    documents.delete_document(plan.id).await.unwrap();
    assert!(documents.claim_document(plan.id).await.is_err());
}

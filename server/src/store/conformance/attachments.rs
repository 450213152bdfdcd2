//! Attachment records.

use parley_protocol::ErrorCode;

use super::{code, Harness};
use crate::{
    error::Error,
    store::{AttachmentUpload, UserRecord},
};

/// An upload of `size` bytes whose content hash is `sha` padded to 64 hex digits.
pub fn upload(user: &UserRecord, sha: &str, size: u64) -> AttachmentUpload {
    AttachmentUpload {
        sha256: format!("{sha:0>64}"),
        size,
        mime: "image/png".into(),
        name: format!("{sha}.png"),
        width: Some(4),
        height: Some(3),
        uploader_id: user.id,
        quota: 100,
        thumbnail_sha256: None,
    }
}

pub async fn the_quota_is_counted_inside_the_write(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let store = &h.stores.attachments;
    let (a, b) = tokio::join!(
        store.insert_attachment(upload(&alice, "a1", 60), Box::new(|| Ok(()))),
        store.insert_attachment(upload(&alice, "a2", 50), Box::new(|| Ok(())))
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "one of two concurrent uploads passes"
    );
    let refused = if a.is_ok() { b } else { a };
    assert_eq!(code(refused), ErrorCode::QuotaExceeded);
    let used = store.uploaded_bytes(alice.id).await.unwrap();
    assert!(used == 60 || used == 50, "{used}");
    assert_eq!(store.uploaded_bytes(bob.id).await.unwrap(), 0);
    store
        .insert_attachment(upload(&bob, "b1", 100), Box::new(|| Ok(())))
        .await
        .unwrap();
}

pub async fn a_failed_placement_leaves_no_row(h: &Harness) {
    let alice = h.user("alice").await;
    let store = &h.stores.attachments;
    let failed = store
        .insert_attachment(
            upload(&alice, "a1", 10),
            Box::new(|| Err(Error::internal("disk full"))),
        )
        .await;
    assert_eq!(code(failed), ErrorCode::Internal);
    assert_eq!(store.uploaded_bytes(alice.id).await.unwrap(), 0);
    assert!(store.attachment_contents().await.unwrap().is_empty());
    let stored = store
        .insert_attachment(upload(&alice, "a1", 10), Box::new(|| Ok(())))
        .await
        .unwrap();
    assert_eq!(store.uploaded_bytes(alice.id).await.unwrap(), 10);
    assert!(store.attachment(stored.id).await.unwrap().is_some());
}

pub async fn attachment_lookups(h: &Harness) {
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let store = &h.stores.attachments;
    let mut first = upload(&alice, "a1", 10);
    first.thumbnail_sha256 = Some(format!("{:0>64}", "c1"));
    let first = store
        .insert_attachment(first, Box::new(|| Ok(())))
        .await
        .unwrap();
    assert!(first.thumbnail);
    assert_eq!(
        (first.size, first.mime.as_str(), first.name.as_str()),
        (10, "image/png", "a1.png")
    );
    assert_eq!((first.width, first.height), (Some(4), Some(3)));
    let same_content = store
        .insert_attachment(upload(&bob, "a1", 10), Box::new(|| Ok(())))
        .await
        .unwrap();
    let plain = store
        .insert_attachment(upload(&bob, "b2", 5), Box::new(|| Ok(())))
        .await
        .unwrap();
    let stored = store.attachment(first.id).await.unwrap().unwrap();
    assert_eq!(stored.attachment, first);
    assert_eq!(stored.uploader_id, alice.id);
    assert!(store.attachment(999).await.unwrap().is_none());
    assert!(store.attachment_access(999).await.unwrap().is_none());
    assert_eq!(
        store
            .first_not_owned(bob.id, vec![same_content.id, plain.id])
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .first_not_owned(bob.id, vec![plain.id, first.id, 999])
            .await
            .unwrap(),
        Some(first.id)
    );
    let thumbnail = format!("{:0>64}", "c1");
    assert_eq!(
        store.thumbnail_of(first.id).await.unwrap().as_deref(),
        Some(thumbnail.as_str())
    );
    assert_eq!(store.thumbnail_of(plain.id).await.unwrap(), None);
    assert_eq!(
        store
            .thumbnail_of_content(first.sha256.clone())
            .await
            .unwrap(),
        Some(Some(thumbnail.clone())),
        "the first upload of the content answers"
    );
    assert_eq!(
        store
            .thumbnail_of_content(plain.sha256.clone())
            .await
            .unwrap(),
        Some(None)
    );
    assert_eq!(
        store
            .thumbnail_of_content(format!("{:0>64}", "ff"))
            .await
            .unwrap(),
        None
    );
    let contents = store.attachment_contents().await.unwrap();
    assert_eq!(contents.len(), 3, "two files and one thumbnail");
    let mut c1 = [0u8; 32];
    hex::decode_to_slice(&thumbnail, &mut c1).unwrap();
    assert!(contents.contains(&c1));
    let forgotten = store
        .forget_missing_content(vec![first.sha256.clone(), thumbnail])
        .await
        .unwrap();
    assert_eq!(
        forgotten,
        (2, 1),
        "two rows lack their file; one thumbnail is forgotten"
    );
    assert_eq!(store.thumbnail_of(first.id).await.unwrap(), None);
    assert!(
        !store
            .attachment(first.id)
            .await
            .unwrap()
            .unwrap()
            .attachment
            .thumbnail
    );
    assert!(
        store.attachment(first.id).await.unwrap().is_some(),
        "rows are kept"
    );
}

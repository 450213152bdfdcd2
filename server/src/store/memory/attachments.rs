//! Attachment records, in memory.

use std::collections::{BTreeSet, HashSet};

use parley_protocol::Attachment;

use super::{
    state::{AttachmentRow, State, Table},
    MemoryStore,
};
use crate::store::refusals;
use crate::{
    error::Result,
    store::{
        AttachmentAccess, AttachmentStore, AttachmentUpload, PlaceFiles, StoreFuture,
        StoredAttachment,
    },
};

impl State {
    fn stored_attachment(&self, id: i64) -> Option<StoredAttachment> {
        self.attachments.get(&id).map(|row| StoredAttachment {
            attachment: row.attachment.clone(),
            uploader_id: row.uploader_id,
        })
    }

    fn uploaded_bytes(&self, user_id: i64) -> u64 {
        self.attachments
            .values()
            .filter(|a| a.uploader_id == user_id)
            .map(|a| a.attachment.size)
            .sum()
    }

    fn insert_attachment(
        &mut self,
        upload: AttachmentUpload,
        place: PlaceFiles,
    ) -> Result<Attachment> {
        let used = self.uploaded_bytes(upload.uploader_id);
        if used.saturating_add(upload.size) > upload.quota {
            return Err(refusals::quota_exceeded(upload.size, upload.quota, used));
        }
        // The files first: if they cannot be placed, no row is written.
        place()?;
        let attachment = Attachment {
            id: self.next_id(Table::Attachment),
            name: upload.name,
            mime: upload.mime,
            size: upload.size,
            sha256: upload.sha256,
            width: upload.width,
            height: upload.height,
            thumbnail: upload.thumbnail_sha256.is_some(),
        };
        self.attachments.insert(
            attachment.id,
            AttachmentRow {
                attachment: attachment.clone(),
                uploader_id: upload.uploader_id,
                thumbnail_sha256: upload.thumbnail_sha256,
            },
        );
        Ok(attachment)
    }

    fn forget_missing_content(&mut self, missing: &[String]) -> (usize, usize) {
        let (mut files, mut thumbnails) = (0, 0);
        for sha in missing {
            files += self
                .attachments
                .values()
                .filter(|a| a.attachment.sha256 == *sha)
                .count();
            for row in self.attachments.values_mut() {
                if row.thumbnail_sha256.as_ref() == Some(sha) {
                    row.thumbnail_sha256 = None;
                    row.attachment.thumbnail = false;
                    thumbnails += 1;
                }
            }
        }
        (files, thumbnails)
    }
}

impl AttachmentStore for MemoryStore {
    fn attachment(&self, id: i64) -> StoreFuture<'_, Option<StoredAttachment>> {
        let found = self.read(|state| Ok(state.stored_attachment(id)));
        Box::pin(async move { found })
    }

    fn attachment_access(&self, id: i64) -> StoreFuture<'_, Option<AttachmentAccess>> {
        let found = self.read(|state| {
            let Some(stored) = state.stored_attachment(id) else {
                return Ok(None);
            };
            let channels: BTreeSet<i64> = state
                .message_attachments
                .iter()
                .filter(|(_, a)| *a == id)
                .filter_map(|(m, _)| state.messages.get(m))
                .filter(|m| m.deleted_at.is_none())
                .map(|m| m.channel_id)
                .collect();
            Ok(Some(AttachmentAccess {
                stored,
                channels: channels.into_iter().collect(),
            }))
        });
        Box::pin(async move { found })
    }

    fn first_not_owned(&self, user_id: i64, ids: Vec<i64>) -> StoreFuture<'_, Option<i64>> {
        let found = self.read(|state| {
            Ok(ids.into_iter().find(|id| {
                state
                    .attachments
                    .get(id)
                    .is_none_or(|a| a.uploader_id != user_id)
            }))
        });
        Box::pin(async move { found })
    }

    fn uploaded_bytes(&self, user_id: i64) -> StoreFuture<'_, u64> {
        let found = self.read(|state| Ok(state.uploaded_bytes(user_id)));
        Box::pin(async move { found })
    }

    fn thumbnail_of(&self, id: i64) -> StoreFuture<'_, Option<String>> {
        let found = self.read(|state| {
            Ok(state
                .attachments
                .get(&id)
                .and_then(|a| a.thumbnail_sha256.clone()))
        });
        Box::pin(async move { found })
    }

    fn thumbnail_of_content(&self, sha256: String) -> StoreFuture<'_, Option<Option<String>>> {
        let found = self.read(|state| {
            Ok(state
                .attachments
                .values()
                .find(|a| a.attachment.sha256 == sha256)
                .map(|a| a.thumbnail_sha256.clone()))
        });
        Box::pin(async move { found })
    }

    fn insert_attachment(
        &self,
        upload: AttachmentUpload,
        place: PlaceFiles,
    ) -> StoreFuture<'_, Attachment> {
        Box::pin(self.write(move |state| Ok((state.insert_attachment(upload, place)?, Vec::new()))))
    }

    fn attachment_contents(&self) -> StoreFuture<'_, HashSet<[u8; 32]>> {
        let found = self.read(|state| {
            let mut set = HashSet::new();
            let hashes = state.attachments.values().flat_map(|a| {
                std::iter::once(&a.attachment.sha256).chain(a.thumbnail_sha256.as_ref())
            });
            for text in hashes {
                let mut sha = [0u8; 32];
                if hex::decode_to_slice(text, &mut sha).is_ok() {
                    set.insert(sha);
                }
            }
            Ok(set)
        });
        Box::pin(async move { found })
    }

    fn forget_missing_content(&self, missing: Vec<String>) -> StoreFuture<'_, (usize, usize)> {
        Box::pin(self.write(move |state| Ok((state.forget_missing_content(&missing), Vec::new()))))
    }
}

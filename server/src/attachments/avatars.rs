//! Avatars: an uploaded picture, checked and decoded like an image attachment's thumbnail
//! (the same memory budget and decode permits, `images.rs`), cropped to a square and
//! re-encoded as a PNG of at most 256 pixels a side. Only the re-encoded image is kept, so
//! what is served is always a small PNG the server made.

use parley_protocol::ErrorCode;

use super::{files, images, Attachments};
use crate::error::{Error, Result};

/// The longest side of a stored avatar.
pub const AVATAR_SIZE: u32 = 256;

impl Attachments {
    /// The avatar to store for the uploaded `bytes`: `attachment_too_large` past
    /// `accounts.max_avatar_size`, `invalid_image` when they are not a PNG, JPEG, GIF or WebP
    /// image that decodes within the thumbnail budget.
    pub async fn avatar_png(&self, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let max = self.config.accounts.max_avatar_size;
        if bytes.len() as u64 > max {
            return Err(too_large(max));
        }
        if bytes.is_empty() {
            return Err(not_an_image());
        }
        let file = files::temp_with(&files::root(self), bytes).await?;
        self.uploads
            .thumbnails
            .decode_with(move |budget| {
                let png = images::render_avatar(&file, budget, AVATAR_SIZE);
                drop(file);
                png
            })
            .await
            .flatten()
            .ok_or_else(not_an_image)
    }
}

pub(crate) fn too_large(max: u64) -> Error {
    Error::new(
        ErrorCode::AttachmentTooLarge,
        format!("an avatar may be at most {max} bytes (accounts.max_avatar_size)"),
    )
}

fn not_an_image() -> Error {
    Error::new(
        ErrorCode::InvalidImage,
        "an avatar must be a PNG, JPEG, GIF or WebP image the server can decode",
    )
}

//! Thumbnails of uploaded images, within a memory budget an uploader cannot raise.
//!
//! A small file can declare a huge image (a 308 KB PNG of zeros declaring 6300×6300 16-bit
//! RGBA decodes to 318 MB; eight at once took the server to 2.4 GB). So, before anything is
//! decoded:
//! - the decoder reads only the header, and the bytes the decode would hold (the pixels at
//!   their real depth, 8 bytes each for 16-bit RGBA, plus the decoder's own buffers: the file
//!   and every coefficient for a progressive JPEG, a canvas for GIF and WebP) must fit the
//!   budget, `4 × attachments.thumbnail_max_pixels` bytes; a larger image gets no thumbnail
//!   (it is still stored);
//! - the decoder gets the same bound as its allocation limit and the header's dimensions as
//!   its size limit, so a frame cannot grow past what the header declared;
//! - at most `attachments.thumbnail_concurrency` decodes run at once (the rest wait), the
//!   permit travelling with the blocking task so a client that leaves does not free it early;
//! - content stored before gets the thumbnail (or the lack of one) its first upload got,
//!   without decoding it again.

use std::{path::Path, sync::Arc};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::sync::Semaphore;

use super::files;
use super::Attachments;
use crate::config::AttachmentsConfig;

/// Longer side of a thumbnail.
const THUMBNAIL_SIZE: u32 = 320;

/// Decodes images into thumbnails, a bounded number at a time.
pub(super) struct Thumbnailer {
    permits: Arc<Semaphore>,
    /// Most bytes one decode may hold.
    budget: u64,
}

/// The thumbnail an upload gets.
pub(super) enum Thumbnail {
    /// One already stored (the same content was uploaded before).
    Stored(String),
    /// A new one: its content hash and the sealed temporary file to place with the row.
    New { sha: String, file: TempPath },
}

impl Thumbnail {
    pub(super) fn sha(&self) -> &str {
        match self {
            Self::Stored(sha) | Self::New { sha, .. } => sha,
        }
    }
}

impl Thumbnailer {
    pub(super) fn new(config: &AttachmentsConfig) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(config.thumbnail_concurrency.max(1))),
            budget: config.thumbnail_max_pixels.saturating_mul(4),
        }
    }

    /// The thumbnail for the image `path` whose content hash is `sha`; `None` for content that
    /// got none before, an image over the budget, or one that does not decode.
    pub(super) async fn for_upload(
        &self,
        state: &Attachments,
        sha: &str,
        path: &Path,
    ) -> Option<Thumbnail> {
        let content = sha.to_owned();
        match state.store.thumbnail_of_content(content).await {
            Ok(Some(earlier)) => return earlier.map(Thumbnail::Stored),
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "looking up an earlier thumbnail"),
        }
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        let (path, budget) = (path.to_owned(), self.budget);
        let png = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            render(&path, budget)
        })
        .await
        .ok()??;
        let sha = hex::encode(Sha256::digest(&png));
        match files::temp_with(&files::root(state), png).await {
            Ok(file) => Some(Thumbnail::New { sha, file }),
            Err(err) => {
                tracing::warn!(%err, "storing a thumbnail");
                None
            }
        }
    }
}

/// Decodes the image at `path` (if it fits `budget`), scales it to fit `THUMBNAIL_SIZE` and
/// encodes it as PNG.
fn render(path: &Path, budget: u64) -> Option<Vec<u8>> {
    let thumb = decode(path, budget)?.thumbnail(THUMBNAIL_SIZE, THUMBNAIL_SIZE);
    let mut png = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut png, ImageFormat::Png).ok()?;
    Some(png.into_inner())
}

/// The image at `path` (PNG, JPEG, GIF or WebP), decoded only if the decode fits `budget`.
fn decode(path: &Path, budget: u64) -> Option<DynamicImage> {
    let format = ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .format()?;
    match format {
        ImageFormat::Jpeg => decode_jpeg(path, budget),
        ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP => {
            decode_bounded(path, format, budget)
        }
        _ => None,
    }
}

/// An avatar: the image at `path` decoded as a thumbnail is (same budget), its centre cropped
/// to a square, scaled to at most `size` pixels a side and encoded as PNG.
pub(super) fn render_avatar(path: &Path, budget: u64, size: u32) -> Option<Vec<u8>> {
    let mut image = decode(path, budget)?;
    let side = image.width().min(image.height());
    let (x, y) = ((image.width() - side) / 2, (image.height() - side) / 2);
    let square = image.crop(x, y, side, side).thumbnail(size, size);
    let mut png = std::io::Cursor::new(Vec::new());
    square.write_to(&mut png, ImageFormat::Png).ok()?;
    Some(png.into_inner())
}

impl Thumbnailer {
    /// Runs `f` on a blocking thread holding one of the decode permits.
    pub(super) async fn decode_with<T: Send + 'static>(
        &self,
        f: impl FnOnce(u64) -> T + Send + 'static,
    ) -> Option<T> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        let budget = self.budget;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(budget)
        })
        .await
        .ok()
    }
}

fn too_large(cost: u64, budget: u64, width: u64, height: u64) -> bool {
    if cost <= budget {
        return false;
    }
    tracing::debug!(
        width,
        height,
        cost,
        budget,
        "image too large to thumbnail; stored without one"
    );
    true
}

/// PNG, GIF and WebP through the `image` crate, after checking the header against the budget.
fn decode_bounded(path: &Path, format: ImageFormat, budget: u64) -> Option<DynamicImage> {
    let mut reader = ImageReader::open(path).ok()?;
    reader.set_format(format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(budget);
    reader.limits(limits);
    // Reads the header (and metadata chunks, within the limit), not the pixels.
    let mut decoder = reader.into_decoder().ok()?;
    let (width, height) = decoder.dimensions();
    let pixels = decoder.total_bytes();
    // GIF and WebP compose a frame on a canvas of the image's size besides the output.
    let working = if format == ImageFormat::Png {
        0
    } else {
        pixels
    };
    let cost = pixels.saturating_add(working);
    if too_large(cost, budget, width.into(), height.into()) {
        return None;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(budget);
    decoder.set_limits(limits).ok()?;
    DynamicImage::from_decoder(decoder).ok()
}

/// JPEG through `zune-jpeg` (the decoder `image` uses), whose header tells whether the image is
/// progressive: such a decoder keeps every coefficient of the image (two bytes per sample of
/// each component) until the last scan, on top of the pixels and the file itself.
fn decode_jpeg(path: &Path, budget: u64) -> Option<DynamicImage> {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options};

    let bytes = std::fs::read(path).ok()?;
    let options = options::DecoderOptions::default().set_strict_mode(false);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(&bytes[..]), options);
    decoder.decode_headers().ok()?;
    // The output `image` asks for: RGB and grayscale (with or without alpha) as they are,
    // anything else (CMYK, YCCK) converted to RGB.
    let output = match decoder.input_colorspace()? {
        space @ (ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA) => {
            space
        }
        _ => ColorSpace::RGB,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(output));
    let info = decoder.info()?;
    let channels = decoder.output_colorspace()?.num_components();
    let (width, height) = (u64::from(info.width), u64::from(info.height));
    let pixels = width.saturating_mul(height).saturating_mul(channels as u64);
    let coefficients = if info.sof.is_progressive() {
        // Blocks are whole MCUs (at most 16×16 pixels), so count the padding too.
        (width + 16)
            .saturating_mul(height + 16)
            .saturating_mul(u64::from(info.components))
            .saturating_mul(2)
    } else {
        0
    };
    let cost = pixels
        .saturating_add(coefficients)
        .saturating_add(bytes.len() as u64);
    if too_large(cost, budget, width, height) {
        return None;
    }
    let samples = decoder.decode().ok()?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    match channels {
        1 => image::GrayImage::from_raw(width, height, samples).map(DynamicImage::ImageLuma8),
        2 => image::GrayAlphaImage::from_raw(width, height, samples).map(DynamicImage::ImageLumaA8),
        3 => image::RgbImage::from_raw(width, height, samples).map(DynamicImage::ImageRgb8),
        4 => image::RgbaImage::from_raw(width, height, samples).map(DynamicImage::ImageRgba8),
        _ => None,
    }
}

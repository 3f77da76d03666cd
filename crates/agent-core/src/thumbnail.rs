//! Small previews of stored photos for checklists and lists.
//!
//! Screens show many photos at once; sending each 250 KB document photo to the webview would
//! waste memory on a cheap phone. A thumbnail is a few KB, made on demand from the stored
//! photo and cached by the UI for the session.

use crate::store::{Store, StoreError};
use daiban_proto::PhotoHash;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;

/// Longest edge of a thumbnail, in pixels (enough for a 88 px tile on a 2x screen).
pub const THUMB_EDGE: u32 = 176;

/// A JPEG thumbnail of a stored photo.
pub fn thumbnail(store: &Store, hash: &PhotoHash) -> Result<Vec<u8>, StoreError> {
    let bytes = store.photos().read(hash)?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| StoreError::Corrupt(format!("stored photo {hash:?}: {e}")))?;
    let small = img.resize(THUMB_EDGE, THUMB_EDGE, FilterType::Triangle).to_rgb8();
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 70).encode_image(&small).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(out)
}

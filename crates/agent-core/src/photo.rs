//! Document photos: from a raw camera shot to a durable, content-addressed JPEG.
//!
//! The agent photographs a resident's documents (ID card, household register, receipts) on a
//! cheap phone. Two steps turn that shot into something the rest of the app can rely on:
//!
//! * [`process`] (in `pipeline`): sniff the format, refuse decompression bombs from the header
//!   alone, decode (in the DCT domain at reduced scale where possible), apply the EXIF
//!   orientation, downscale so the long edge is at most [`PipelineOptions::max_long_edge`], and
//!   re-encode as a baseline JPEG with **no metadata** (GPS and every other EXIF tag are gone).
//!   The result's SHA-256 is its [`PhotoHash`], the name it has on the phone and on the centre.
//! * [`PhotoStore`] (in `store`): a content-addressed directory (`root/ab/cdef…`) written with
//!   temp file + fsync + rename + directory fsync, verified on read, swept of orphans.
//!
//! Errors that callers branch on (ask for a new photo, tell the user the file is too big, …) are
//! the variants of [`PhotoError`]; their messages are Chinese first, for the agent's screen.

mod pipeline;
mod store;

pub use daiban_proto::{PhotoHash, PhotoRef};
pub use pipeline::{process, process_signature, PipelineOptions, Processed, MAX_INPUT_BYTES, MAX_PIXELS, MAX_SIDE};
pub use store::{PhotoStore, SweepReport, DEFAULT_SWEEP_GRACE};

/// Why a photo could not be turned into a stored document JPEG.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The bytes are not any image format we recognise (text, empty file, random data).
    #[error("不是图片文件，请重新拍照 / not an image file")]
    NotAnImage,
    /// A recognised image format (or JPEG feature) that the pipeline does not take.
    #[error("不支持的图片格式（{0}），请用手机相机拍照 / unsupported image format: {0}")]
    Unsupported(String),
    /// The header claims more pixels than a phone photo ever has (a decompression bomb or a
    /// broken file); refused before any pixel memory is allocated.
    #[error("图片尺寸过大（{width}×{height}），请重新拍照 / image dimensions too large: {width}x{height}")]
    TooLarge { width: u32, height: u32 },
    /// The file itself is larger than [`MAX_INPUT_BYTES`].
    #[error("图片文件过大（{bytes} 字节），请重新拍照 / image file too large: {bytes} bytes")]
    FileTooLarge { bytes: u64 },
    /// The format was recognised but the data is damaged or cut short.
    #[error("图片已损坏或不完整，请重新拍照 / image is corrupt or truncated: {0}")]
    Corrupt(String),
    /// Storing the processed photo failed (disk full, permissions, …).
    #[error("照片保存失败 / could not store the photo: {0}")]
    Io(#[from] std::io::Error),
}

//! The last look at an uploaded photo before it enters the photo store.
//!
//! A photo's SHA-256 proves it is the file the phone announced, not that it is a photo: a
//! broken or hostile device could announce (and then send) anything. Every photo a phone
//! makes is a baseline JPEG written by the agent's pipeline (document photos and handover
//! signatures alike), so the centre accepts exactly that: a JPEG whose header parses, whose
//! size is that of a real photo (no decompression bomb for the staff's browsers), and which
//! ends with the end-of-image marker (not cut short). Only the header is decoded, so the
//! check costs microseconds whatever the photo's size.

use std::io::Cursor;

/// Longest side accepted (the phone's pipeline makes at most 2000 px by default).
pub const MAX_SIDE: u32 = 10_000;
/// Most pixels accepted.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Why an upload is not an acceptable photo; the messages are for people, Chinese first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAPhoto {
    #[error("不是 JPEG 照片 / not a JPEG photo")]
    NotJpeg,
    #[error("照片文件头无法读取 / the photo's header cannot be read: {0}")]
    Header(String),
    #[error("照片尺寸{0}×{1}超出限制 / a {0}×{1} photo is beyond the limit ({MAX_SIDE} px a side, {MAX_PIXELS} pixels)")]
    TooLarge(u32, u32),
    #[error("照片文件不完整 / the photo file is cut short")]
    Truncated,
}

/// Accept `bytes` as a photo, or say why not.
pub fn check(bytes: &[u8]) -> Result<(), NotAPhoto> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(NotAPhoto::NotJpeg);
    }
    let reader = image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Jpeg);
    let (w, h) = reader.into_dimensions().map_err(|e| NotAPhoto::Header(e.to_string()))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(NotAPhoto::TooLarge(w, h));
    }
    if !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err(NotAPhoto::Truncated);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn real_jpegs_pass_and_everything_else_is_named() {
        let ok = jpeg(64, 48);
        assert_eq!(check(&ok), Ok(()));
        assert_eq!(check(b"\x89PNG\r\n\x1a\n...."), Err(NotAPhoto::NotJpeg));
        assert_eq!(check(b""), Err(NotAPhoto::NotJpeg));
        assert_eq!(check(&ok[..ok.len() - 2]), Err(NotAPhoto::Truncated));
        assert!(matches!(check(&ok[..20]), Err(NotAPhoto::Header(_))));
        // a header claiming 60000×60000 (a decompression bomb): patch the SOF0 dimensions
        let mut bomb = ok.clone();
        let sof = bomb.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bomb[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert_eq!(check(&bomb), Err(NotAPhoto::TooLarge(60000, 60000)));
    }
}

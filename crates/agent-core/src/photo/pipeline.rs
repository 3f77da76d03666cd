//! The photo pipeline: raw camera bytes in, compact metadata-free document JPEG out.
//!
//! Order matters for a phone with little memory:
//! 1. size cap and format sniffing on the raw bytes;
//! 2. dimensions from the header only, refusing decompression bombs before any pixel buffer
//!    exists;
//! 3. JPEG is decoded at the smallest DCT scale (1, 1/2, 1/4, 1/8, via `jpeg-decoder`) that
//!    still covers the target size, so a 12-megapixel shot never exists at full size in memory
//!    and most of the inverse DCT work is skipped; PNG is decoded by the `image` crate with an
//!    allocation limit, and transparency is laid over white (screen-drawn signatures);
//! 4. a Lanczos3 resize (`fast_image_resize`, SIMD) to the exact target size, never upwards;
//! 5. the EXIF orientation (read with `kamadak-exif`) is applied to the small image;
//! 6. a baseline JPEG is written by `jpeg-encoder` (standard Huffman tables, averaged 4:2:0
//!    chroma); nothing of the input's metadata is copied, so GPS and all EXIF are dropped.

use std::io::Cursor;

use daiban_proto::{PhotoHash, PhotoRef};
use fast_image_resize as fir;
use image::codecs::png::PngDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageError, ImageFormat, RgbImage};

use super::PhotoError;

/// Largest input file accepted (a 12-megapixel phone JPEG is 3–8 MB; a 50-megapixel one ~25 MB).
pub const MAX_INPUT_BYTES: usize = 40 * 1024 * 1024;
/// Most pixels a header may claim (50 megapixels, the largest phone sensors' full mode).
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side a header may claim (a phone panorama is well below this).
pub const MAX_SIDE: u32 = 30_000;

/// Upper bound on what a decoder may allocate; with [`MAX_PIXELS`] checked first this is only
/// reached by a malformed file, never by a real photo.
const DECODE_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// How a photo is turned into a stored JPEG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Longest edge of the output in pixels; smaller inputs are kept at their size.
    /// 2000 px keeps an A4 page photographed edge to edge at ~7 px/mm, so 5-point print stays
    /// readable, while a 12-megapixel photo encodes to roughly 150–350 KB.
    pub max_long_edge: u32,
    /// JPEG quality, 1–100 (values outside are clamped). Below 90 chroma is subsampled 4:2:0.
    pub quality: u8,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self { max_long_edge: 2000, quality: 80 }
    }
}

/// A processed photo: baseline JPEG bytes without metadata, and their content address.
///
/// Only [`process`] makes one, so `hash` is always the SHA-256 of `jpeg` and the dimensions are
/// those of the encoded image.
#[derive(Clone, PartialEq, Eq)]
pub struct Processed {
    jpeg: Vec<u8>,
    width: u32,
    height: u32,
    hash: PhotoHash,
}

impl Processed {
    pub fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }
    pub fn into_jpeg(self) -> Vec<u8> {
        self.jpeg
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
    pub fn hash(&self) -> PhotoHash {
        self.hash
    }
    /// The reference the database keeps for this photo.
    pub fn photo_ref(&self) -> PhotoRef {
        PhotoRef { hash: self.hash, bytes: self.jpeg.len() as u64, width: self.width, height: self.height }
    }
}

impl std::fmt::Debug for Processed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processed")
            .field("hash", &self.hash)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.jpeg.len())
            .finish()
    }
}

/// Turn a raw photo (JPEG or PNG) into a compact document JPEG; see the module docs for steps.
pub fn process(input: &[u8], opts: &PipelineOptions) -> Result<Processed, PhotoError> {
    let format = sniff(input)?;
    process_as(format, input, opts)
}

/// Turn a signature drawn on screen (PNG, usually with a transparent background) into a JPEG on
/// white, kept as a delivery proof. Anything but PNG is refused as [`PhotoError::Unsupported`].
pub fn process_signature(png: &[u8]) -> Result<Processed, PhotoError> {
    match sniff(png)? {
        Format::Png => process_as(Format::Png, png, &PipelineOptions::default()),
        Format::Jpeg => Err(PhotoError::Unsupported("JPEG (signature must be PNG)".into())),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Jpeg,
    Png,
}

fn process_as(format: Format, input: &[u8], opts: &PipelineOptions) -> Result<Processed, PhotoError> {
    let max_long_edge = opts.max_long_edge.clamp(1, MAX_SIDE);
    let image = match format {
        Format::Jpeg => decode_jpeg(input, max_long_edge)?,
        Format::Png => decode_png(input)?,
    };
    let mut image = downscale(image, max_long_edge)?;
    if let Some(orientation) = exif_orientation(input) {
        image.apply_orientation(orientation);
    }
    let jpeg = encode(&image, opts.quality.clamp(1, 100))?;
    Ok(Processed { hash: PhotoHash::of(&jpeg), width: image.width(), height: image.height(), jpeg })
}

/// Size cap and magic-number sniffing; nothing is decoded here.
fn sniff(input: &[u8]) -> Result<Format, PhotoError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(PhotoError::FileTooLarge { bytes: input.len() as u64 });
    }
    // ISO-BMFF `ftyp` boxes that `image::guess_format` does not name: iPhone and some Android
    // cameras save HEIC by default, and the agent should hear that this is the reason.
    if input.len() >= 12
        && &input[4..8] == b"ftyp"
        && matches!(&input[8..12], b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1")
    {
        return Err(PhotoError::Unsupported("HEIC/HEIF".into()));
    }
    match image::guess_format(input) {
        Ok(ImageFormat::Jpeg) => Ok(Format::Jpeg),
        Ok(ImageFormat::Png) => Ok(Format::Png),
        Ok(other) => Err(PhotoError::Unsupported(format!("{other:?}"))),
        Err(_) => Err(PhotoError::NotAnImage),
    }
}

/// Refuse what no phone photo looks like, from header dimensions alone.
fn check_dimensions(width: u32, height: u32) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt(format!("header claims {width}x{height} pixels")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooLarge { width, height });
    }
    Ok(())
}

/// Output size: the long edge brought down to `max_long_edge`, aspect kept, never enlarged.
fn target_size(width: u32, height: u32, max_long_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_long_edge {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(max_long_edge) + u64::from(long) / 2) / u64::from(long);
        (scaled as u32).max(1)
    };
    (scale(width), scale(height))
}

fn decode_jpeg(input: &[u8], max_long_edge: u32) -> Result<DynamicImage, PhotoError> {
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(input));
    decoder.read_info().map_err(jpeg_error)?;
    let info = decoder.info().ok_or_else(|| PhotoError::Corrupt("no JPEG frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(width, height)?;
    match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::RGB24 => {}
        jpeg_decoder::PixelFormat::L16 => return Err(PhotoError::Unsupported("16-bit JPEG".into())),
        jpeg_decoder::PixelFormat::CMYK32 => return Err(PhotoError::Unsupported("CMYK JPEG".into())),
    }
    let (target_w, target_h) = target_size(width, height, max_long_edge);
    if (target_w, target_h) != (width, height) {
        // Both sides fit in u16: they are at most the header's, which are u16.
        decoder.scale(target_w as u16, target_h as u16).map_err(jpeg_error)?;
    }
    decoder.set_max_decoding_buffer_size(DECODE_BUDGET_BYTES);
    let pixels = decoder.decode().map_err(jpeg_error)?;
    let info = decoder.info().ok_or_else(|| PhotoError::Corrupt("no JPEG frame header".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
        _ => RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8),
    };
    image.ok_or_else(|| PhotoError::Corrupt("decoded pixel data is short".into()))
}

fn jpeg_error(e: jpeg_decoder::Error) -> PhotoError {
    match e {
        jpeg_decoder::Error::Unsupported(feature) => PhotoError::Unsupported(format!("JPEG {feature:?}")),
        other => PhotoError::Corrupt(other.to_string()),
    }
}

fn decode_png(input: &[u8]) -> Result<DynamicImage, PhotoError> {
    let mut decoder = PngDecoder::new(Cursor::new(input)).map_err(image_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(DECODE_BUDGET_BYTES as u64);
    decoder.set_limits(limits).map_err(|_| PhotoError::TooLarge { width, height })?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        ImageError::Limits(_) => PhotoError::TooLarge { width, height },
        other => image_error(other),
    })?;
    Ok(flatten_on_white(image))
}

fn image_error(e: ImageError) -> PhotoError {
    match e {
        ImageError::Unsupported(u) => PhotoError::Unsupported(u.to_string()),
        other => PhotoError::Corrupt(other.to_string()),
    }
}

/// Reduce any decoded PNG to 8-bit grey or RGB; transparent pixels become white paper.
fn flatten_on_white(image: DynamicImage) -> DynamicImage {
    let color = image.color();
    if !color.has_alpha() {
        return if color.has_color() { DynamicImage::ImageRgb8(image.into_rgb8()) } else { DynamicImage::ImageLuma8(image.into_luma8()) };
    }
    let mut rgba = image.into_rgba8();
    for pixel in rgba.pixels_mut() {
        let alpha = u16::from(pixel[3]);
        for channel in &mut pixel.0[..3] {
            *channel = ((u16::from(*channel) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).into_rgb8())
}

fn downscale(image: DynamicImage, max_long_edge: u32) -> Result<DynamicImage, PhotoError> {
    let (width, height) = target_size(image.width(), image.height(), max_long_edge);
    if (width, height) == (image.width(), image.height()) {
        return Ok(image);
    }
    let mut resized = DynamicImage::new(width, height, image.color());
    let options = fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
    fir::Resizer::new().resize(&image, &mut resized, &options).map_err(|e| PhotoError::Unsupported(format!("pixel layout: {e}")))?;
    Ok(resized)
}

/// The EXIF orientation tag, if the input has a readable one; a broken EXIF block is ignored
/// (the photo itself is still good).
fn exif_orientation(input: &[u8]) -> Option<Orientation> {
    let exif = exif::Reader::new().read_from_container(&mut Cursor::new(input)).ok()?;
    let value = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?.value.get_uint(0)?;
    Orientation::from_exif(u8::try_from(value).ok()?)
}

fn encode(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let (color, pixels) = match image {
        DynamicImage::ImageLuma8(grey) => (jpeg_encoder::ColorType::Luma, grey.as_raw()),
        DynamicImage::ImageRgb8(rgb) => (jpeg_encoder::ColorType::Rgb, rgb.as_raw()),
        other => return Err(PhotoError::Unsupported(format!("pixel layout {:?}", other.color()))),
    };
    let mut jpeg = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, quality);
    // Standard Huffman tables, not optimised ones: an optimised table for an all-white chroma
    // plane has a single code, which zune-jpeg (the `image` crate's decoder) misreads as green.
    encoder.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
    // Both sides are at most MAX_SIDE (< 65536), checked before decoding.
    encoder
        .encode(pixels, image.width() as u16, image.height() as u16, color)
        .map_err(|e| PhotoError::Corrupt(format!("JPEG encoding failed: {e}")))?;
    Ok(jpeg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_size_keeps_aspect_and_never_enlarges() {
        assert_eq!(target_size(4000, 3000, 2000), (2000, 1500));
        assert_eq!(target_size(3000, 4000, 2000), (1500, 2000));
        assert_eq!(target_size(5312, 2988, 2000), (2000, 1125));
        assert_eq!(target_size(800, 600, 2000), (800, 600));
        assert_eq!(target_size(30000, 1, 2000), (2000, 1));
    }

    #[test]
    fn dimension_checks() {
        assert!(check_dimensions(4000, 3000).is_ok());
        assert!(matches!(check_dimensions(0, 10), Err(PhotoError::Corrupt(_))));
        assert!(matches!(check_dimensions(60000, 60000), Err(PhotoError::TooLarge { .. })));
        assert!(matches!(check_dimensions(10000, 6000), Err(PhotoError::TooLarge { .. })));
    }
}

//! Turning a signature drawn on the screen into an image.
//!
//! The UI records strokes as lists of points; this renders them as dark, round-capped lines
//! on a transparent canvas and encodes a PNG, which the photo store turns into the delivery
//! proof JPEG. Drawing here (not in the webview) keeps the result identical on every platform.

use image::{ImageBuffer, Rgba};

/// A stroke: points in canvas pixels, in drawing order.
pub type Stroke = Vec<(f32, f32)>;

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("请签名后再确认 / please sign first")]
    Empty,
    #[error("签名图片生成失败 / could not render the signature: {0}")]
    Encode(#[from] image::ImageError),
}

/// Render strokes onto a `width`×`height` transparent canvas as PNG bytes.
pub fn to_png(strokes: &[Stroke], width: u32, height: u32, pen: f32) -> Result<Vec<u8>, SignatureError> {
    let ink: usize = strokes.iter().map(Vec::len).sum();
    if ink < 2 {
        return Err(SignatureError::Empty);
    }
    let mut img: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::new(width.max(1), height.max(1));
    let r = pen / 2.0;
    for s in strokes {
        let mut prev = None;
        for &(x, y) in s {
            let (x0, y0) = prev.unwrap_or((x, y));
            // Stamp discs along the segment, at most half a pen width apart.
            let len = ((x - x0).powi(2) + (y - y0).powi(2)).sqrt();
            let steps = (len / (r / 2.0).max(0.5)).ceil().max(1.0) as u32;
            for i in 0..=steps {
                let t = i as f32 / steps as f32;
                disc(&mut img, x0 + (x - x0) * t, y0 + (y - y0) * t, r);
            }
            prev = Some((x, y));
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

fn disc(img: &mut ImageBuffer<Rgba<u8>, Vec<u8>>, cx: f32, cy: f32, r: f32) {
    let (w, h) = (img.width() as i32, img.height() as i32);
    let (x0, x1) = ((cx - r).floor() as i32, (cx + r).ceil() as i32);
    let (y0, y1) = ((cy - r).floor() as i32, (cy + r).ceil() as i32);
    for y in y0.max(0)..=y1.min(h - 1) {
        for x in x0.max(0)..=x1.min(w - 1) {
            if (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) <= r * r {
                img.put_pixel(x as u32, y as u32, Rgba([20, 20, 60, 255]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ink_where_the_strokes_are() {
        let png = to_png(&[vec![(10.0, 10.0), (90.0, 10.0)], vec![(50.0, 5.0), (50.0, 45.0)]], 100, 50, 4.0).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(img.dimensions(), (100, 50));
        assert_eq!(img.get_pixel(50, 10)[3], 255, "ink on the horizontal line");
        assert_eq!(img.get_pixel(30, 10)[3], 255);
        assert_eq!(img.get_pixel(50, 40)[3], 255, "ink on the vertical line");
        assert_eq!(img.get_pixel(10, 40)[3], 0, "no ink elsewhere");
        assert!(matches!(to_png(&[], 10, 10, 3.0), Err(SignatureError::Empty)));
        assert!(matches!(to_png(&[vec![(1.0, 1.0)]], 10, 10, 3.0), Err(SignatureError::Empty)));
    }
}

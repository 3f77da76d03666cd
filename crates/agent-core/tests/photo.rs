//! The photo pipeline and photo store against real photographs.
//!
//! Inputs are real camera JPEGs from the Plasma wallpaper package (`Path` is an Olympus E-M1
//! shot with its EXIF intact); orientation and GPS tags are written into copies with
//! `exiftool`, exactly as a phone camera would have written them. The store tests use a real
//! directory and real files.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use daiban_agent_core::photo::{process, process_signature, PhotoError, PhotoHash, PhotoStore, PipelineOptions, SweepReport};
use image::{imageops, DynamicImage, GenericImageView, ImageFormat, RgbImage, Rgba, RgbaImage};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rand::{RngCore, SeedableRng};

// ---------------------------------------------------------------- helpers

/// A real photograph (2560x1600, Olympus E-M1, forest path) from `plasma-workspace-wallpapers`.
const FOREST: &str = "/usr/share/wallpapers/Path/contents/images/2560x1600.jpg";
/// A 5120x2880 (14.7 MP) JPEG from the same package.
const LARGE: &str = "/usr/share/wallpapers/Flow/contents/images/5120x2880.jpg";

fn read_fixture(path: &str) -> Vec<u8> {
    fs::read(path)
        .unwrap_or_else(|e| panic!("test photo {path} is missing ({e}); install it with `apt-get install plasma-workspace-wallpapers`"))
}

/// Copy `src` into `dir` and let exiftool write `tags` (e.g. `-Orientation=6`) into the copy.
fn with_exif(dir: &Path, src: &str, name: &str, tags: &[&str]) -> Vec<u8> {
    let copy = dir.join(name);
    fs::copy(src, &copy).unwrap();
    let status = Command::new("exiftool")
        .args(["-q", "-q", "-overwrite_original", "-n"])
        .args(tags)
        .arg(&copy)
        .status()
        .unwrap_or_else(|e| panic!("exiftool could not be run ({e}); install it with `apt-get install libimage-exiftool-perl`"));
    assert!(status.success(), "exiftool {tags:?} failed on {}", copy.display());
    fs::read(&copy).unwrap()
}

fn decode(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, ImageFormat::Jpeg).expect("output is a JPEG").to_rgb8()
}

fn opts(max_long_edge: u32) -> PipelineOptions {
    PipelineOptions { max_long_edge, ..PipelineOptions::default() }
}

/// Mean absolute difference per channel value (0–255) after shrinking both images 4×, so that
/// JPEG block noise (which moves with the block grid when an image is rotated) averages out and
/// the picture's content is compared.
fn content_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let shrink = |img: &RgbImage| imageops::resize(img, img.width() / 4, img.height() / 4, imageops::FilterType::Triangle);
    mean_abs_diff(&shrink(a), &shrink(b))
}

/// Mean absolute difference per channel value, 0–255.
fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "compared images differ in size");
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.as_raw().len() as f64
}

/// The JPEG segments of `jpeg` up to the start of scan, as (marker, offset of the marker).
fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, usize)> {
    let mut segments = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        segments.push((marker, i));
        if marker == 0xDA {
            break;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    segments
}

fn jpeg_markers(jpeg: &[u8]) -> Vec<u8> {
    jpeg_segments(jpeg).into_iter().map(|(marker, _)| marker).collect()
}

/// A PNG holding only an IHDR that claims `width`x`height`, plus a tiny IDAT and IEND.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// A real JPEG whose frame header (SOF) is rewritten to claim `width`x`height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = read_fixture(FOREST);
    let (_, sof) = jpeg_segments(&jpeg).into_iter().find(|(m, _)| matches!(m, 0xC0 | 0xC2)).expect("SOF");
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

fn encode_png(image: &DynamicImage) -> Vec<u8> {
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
    png
}

/// A screen-drawn signature: dark strokes on a fully transparent canvas.
fn signature_png() -> Vec<u8> {
    let mut canvas = RgbaImage::from_pixel(600, 200, Rgba([0, 0, 0, 0]));
    for x in 50..550u32 {
        let y = 100.0 + 40.0 * (x as f64 / 40.0).sin();
        for dy in -3..=3 {
            canvas.put_pixel(x, (y as i32 + dy) as u32, Rgba([20, 20, 60, 255]));
        }
    }
    encode_png(&DynamicImage::ImageRgba8(canvas))
}

fn small_jpeg() -> Vec<u8> {
    let photo = image::load_from_memory(&read_fixture(FOREST)).unwrap().thumbnail(320, 200);
    let mut jpeg = Vec::new();
    photo.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
    jpeg
}

fn backdate(path: &Path, by: Duration) {
    File::options().write(true).open(path).unwrap().set_modified(SystemTime::now() - by).unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

// ---------------------------------------------------------------- pipeline

#[test]
fn large_photo_is_downscaled_to_a_baseline_jpeg_with_its_hash() {
    let raw = read_fixture(LARGE);
    let out = process(&raw, &PipelineOptions::default()).unwrap();
    assert_eq!((out.width(), out.height()), (2000, 1125));
    assert_eq!(decode(out.jpeg()).dimensions(), (2000, 1125));
    assert_eq!(out.hash(), PhotoHash::of(out.jpeg()));
    let markers = jpeg_markers(out.jpeg());
    assert!(markers.contains(&0xC0), "baseline SOF0 expected, markers {markers:x?}");
    assert!(!markers.contains(&0xC2), "progressive output");
    assert!(out.jpeg().len() < raw.len() / 4, "{} bytes is not compact", out.jpeg().len());

    let smaller = process(&raw, &opts(1600)).unwrap();
    assert_eq!((smaller.width(), smaller.height()), (1600, 900));
    assert!(smaller.jpeg().len() < out.jpeg().len());
}

#[test]
fn photos_are_never_upscaled() {
    let raw = read_fixture(FOREST);
    let out = process(&raw, &opts(4000)).unwrap();
    assert_eq!((out.width(), out.height()), (2560, 1600));
    let small = image::load_from_memory(&raw).unwrap().thumbnail(300, 300);
    let out = process(&encode_png(&small), &PipelineOptions::default()).unwrap();
    assert_eq!((out.width(), out.height()), small.dimensions());
}

#[test]
fn png_and_greyscale_inputs_become_jpegs() {
    let photo = image::load_from_memory(&read_fixture(FOREST)).unwrap();
    let out = process(&encode_png(&photo), &opts(1000)).unwrap();
    assert_eq!((out.width(), out.height()), (1000, 625));
    let reference = DynamicImage::ImageRgb8(photo.to_rgb8()).resize_exact(1000, 625, imageops::FilterType::Lanczos3);
    let diff = content_diff(&decode(out.jpeg()), &reference.to_rgb8());
    assert!(diff < 3.0, "PNG output differs from a plain resize by {diff:.1}");

    let mut grey_jpeg = Vec::new();
    DynamicImage::ImageLuma8(photo.to_luma8()).write_to(&mut Cursor::new(&mut grey_jpeg), ImageFormat::Jpeg).unwrap();
    let out = process(&grey_jpeg, &opts(1000)).unwrap();
    assert_eq!((out.width(), out.height()), (1000, 625));
    assert_eq!(image::load_from_memory(out.jpeg()).unwrap().color(), image::ColorType::L8);
}

#[test]
fn every_exif_orientation_is_applied_to_the_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let upright = decode(process(&read_fixture(FOREST), &opts(400)).unwrap().jpeg());
    assert_eq!(upright.dimensions(), (400, 250));
    // What a viewer must show for each EXIF value, built with explicit image operations.
    let expected = |value: u32| -> RgbImage {
        match value {
            1 => upright.clone(),
            2 => imageops::flip_horizontal(&upright),
            3 => imageops::rotate180(&upright),
            4 => imageops::flip_vertical(&upright),
            5 => imageops::flip_horizontal(&imageops::rotate90(&upright)),
            6 => imageops::rotate90(&upright),
            7 => imageops::flip_horizontal(&imageops::rotate270(&upright)),
            8 => imageops::rotate270(&upright),
            _ => unreachable!(),
        }
    };
    for value in 1..=8u32 {
        let tag = format!("-Orientation={value}");
        let raw = with_exif(dir.path(), FOREST, &format!("o{value}.jpg"), &[&tag]);
        let out = process(&raw, &opts(400)).unwrap();
        let got = decode(out.jpeg());
        let want = expected(value);
        assert_eq!((out.width(), out.height()), want.dimensions(), "orientation {value}");
        let diff = content_diff(&got, &want);
        assert!(diff < 3.0, "orientation {value}: differs from the reference by {diff:.1}");
        if value == 6 || value == 8 {
            assert_eq!(got.dimensions(), (250, 400), "orientation {value} must swap width and height");
            let wrong = expected(14 - value); // 6 <-> 8: the opposite rotation
            let wrong_diff = content_diff(&got, &wrong);
            assert!(wrong_diff > 5.0 * diff.max(1.0), "orientation {value}: wrong rotation too close ({wrong_diff:.1} vs {diff:.1})");
        }
    }
}

#[test]
fn output_carries_no_exif_and_no_location() {
    let dir = tempfile::tempdir().unwrap();
    let raw = with_exif(
        dir.path(),
        FOREST,
        "gps.jpg",
        &["-GPSLatitude=30.5928", "-GPSLatitudeRef=N", "-GPSLongitude=114.3055", "-GPSLongitudeRef=E", "-Make=TestPhone", "-Orientation=6"],
    );
    let exif_in = exif::Reader::new().read_from_container(&mut Cursor::new(&raw)).expect("input has EXIF");
    assert!(exif_in.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).is_some(), "fixture lacks GPS");

    let out = process(&raw, &PipelineOptions::default()).unwrap();
    assert!(exif::Reader::new().read_from_container(&mut Cursor::new(out.jpeg())).is_err(), "output still has an EXIF block");
    let markers = jpeg_markers(out.jpeg());
    assert!(markers.iter().all(|m| !(0xE1..=0xEF).contains(m) && *m != 0xFE), "output keeps APPn/comment segments: {markers:x?}");
    let out_path = dir.path().join("out.jpg");
    fs::write(&out_path, out.jpeg()).unwrap();
    let report = Command::new("exiftool").args(["-s", "-GPS:all", "-Make", "-Comment"]).arg(&out_path).output().unwrap();
    assert!(report.stdout.is_empty(), "exiftool still finds: {}", String::from_utf8_lossy(&report.stdout));
}

#[test]
fn non_images_are_refused_as_not_an_image() {
    let mut random = vec![0u8; 64 * 1024];
    rand::rngs::StdRng::seed_from_u64(7).fill_bytes(&mut random);
    let text = "姓名,身份证号,地址\n张三,110101199003074514,某村\n".as_bytes();
    for (name, bytes) in [("empty", &[][..]), ("text", text), ("random", &random[..]), ("one byte", &[0xFF][..])] {
        let err = process(bytes, &PipelineOptions::default()).unwrap_err();
        assert!(matches!(err, PhotoError::NotAnImage), "{name}: {err:?}");
        assert!(err.to_string().starts_with("不是图片文件"), "{err}");
    }
}

#[test]
fn other_image_formats_are_named_as_unsupported() {
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    let gif = b"GIF89a\x01\0\x01\0\0\0\0;".to_vec();
    for (bytes, name) in [(heic, "HEIC"), (gif, "Gif")] {
        match process(&bytes, &PipelineOptions::default()) {
            Err(PhotoError::Unsupported(format)) => assert!(format.contains(name), "{format}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn truncated_and_damaged_jpegs_are_corrupt() {
    let raw = read_fixture(FOREST);
    for cut in [raw.len() / 2, raw.len() - 4096, 300] {
        let err = process(&raw[..cut], &PipelineOptions::default()).unwrap_err();
        assert!(matches!(err, PhotoError::Corrupt(_)), "cut at {cut}: {err:?}");
        assert!(err.to_string().starts_with("图片已损坏"), "{err}");
    }
    let truncated_png = &encode_png(&image::load_from_memory(&small_jpeg()).unwrap())[..2000];
    assert!(matches!(process(truncated_png, &PipelineOptions::default()), Err(PhotoError::Corrupt(_))));
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    // Decoding any of these would need gigabytes, and their data is far too short for the
    // claimed size, so a decoder would have failed with `Corrupt`: `TooLarge` shows the refusal
    // came from the header, before decoding.
    for (w, h) in [(60_000u32, 60_000u32), (10_000, 6_000), (30_001, 10)] {
        match process(&png_claiming(w, h), &PipelineOptions::default()) {
            Err(PhotoError::TooLarge { width, height }) => assert_eq!((width, height), (w, h)),
            other => panic!("PNG {w}x{h}: {other:?}"),
        }
    }
    match process(&jpeg_claiming(60_000, 60_000), &PipelineOptions::default()) {
        Err(PhotoError::TooLarge { width: 60_000, height: 60_000 }) => {}
        other => panic!("JPEG 60000x60000: {other:?}"),
    }
    let mut huge = read_fixture(FOREST);
    huge.resize(41 * 1024 * 1024, 0);
    assert!(matches!(
        process(&huge, &PipelineOptions::default()),
        Err(PhotoError::FileTooLarge { bytes }) if bytes == 41 * 1024 * 1024
    ));
}

#[test]
fn mutated_images_never_panic() {
    let jpeg = small_jpeg();
    let png = signature_png();
    assert!(process(&jpeg, &PipelineOptions::default()).is_ok());
    let edits = prop::collection::vec((prop_oneof![0..700usize, any::<usize>()], any::<u8>()), 1..16);
    let mut runner = TestRunner::new(Config { cases: 400, failure_persistence: None, ..Config::default() });
    runner
        .run(&(edits, any::<Option<usize>>(), any::<bool>()), |(edits, cut, use_png)| {
            let mut bytes = if use_png { png.clone() } else { jpeg.clone() };
            for (at, value) in edits {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if let Ok(out) = process(&bytes, &PipelineOptions::default()) {
                prop_assert_eq!(decode(out.jpeg()).dimensions(), (out.width(), out.height()));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn signature_is_stored_on_white() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoStore::open(dir.path()).unwrap();
    let stored = store.put_png_signature(&signature_png()).unwrap();
    assert_eq!((stored.width, stored.height), (600, 200));
    let pixels = decode(&store.read(&stored.hash).unwrap());
    assert!(pixels.get_pixel(5, 5).0.iter().all(|&c| c > 245), "background {:?}", pixels.get_pixel(5, 5));
    let on_stroke = *pixels.get_pixel(300, (100.0 + 40.0 * (7.5f64).sin()) as u32);
    assert!(on_stroke.0.iter().all(|&c| c < 90), "stroke {on_stroke:?}");
    assert!(matches!(process_signature(&small_jpeg()), Err(PhotoError::Unsupported(_))));
}

// ---------------------------------------------------------------- store

#[test]
fn store_round_trip_is_durable_idempotent_and_content_addressed() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoStore::open(dir.path().join("photos")).unwrap();
    let raw = read_fixture(FOREST);
    let stored = store.ingest(&raw, &PipelineOptions::default()).unwrap();
    assert_eq!((stored.width, stored.height), (2000, 1250));
    let path = store.path(&stored.hash);
    let hex = stored.hash.to_hex();
    assert_eq!(path, dir.path().join("photos").join(&hex[..2]).join(&hex[2..]));
    assert!(store.contains(&stored.hash));
    assert_eq!(store.size(&stored.hash).unwrap(), stored.bytes);
    let bytes = store.read(&stored.hash).unwrap();
    assert_eq!(PhotoHash::of(&bytes), stored.hash);
    assert_eq!(bytes, process(&raw, &PipelineOptions::default()).unwrap().into_jpeg(), "pipeline is deterministic");

    let again = store.ingest(&raw, &PipelineOptions::default()).unwrap();
    assert_eq!(again, stored);
    let files = files_under(store.root());
    assert_eq!(files, vec![path], "exactly one file, no temp leftovers");

    let absent = PhotoHash::of(b"never stored");
    assert!(!store.contains(&absent));
    assert_eq!(store.read(&absent).unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn corruption_is_detected_on_read_and_repaired_by_put() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoStore::open(dir.path()).unwrap();
    let photo = process(&read_fixture(FOREST), &opts(800)).unwrap();
    let stored = store.put(&photo).unwrap();
    let path = store.path(&stored.hash);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(&path, &bytes).unwrap();

    let err = store.read(&stored.hash).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("照片文件已损坏"), "{err}");

    store.put(&photo).unwrap();
    assert_eq!(store.read(&stored.hash).unwrap(), photo.jpeg());
}

#[test]
fn sweep_removes_old_orphans_and_temp_files_and_keeps_referenced_photos() {
    let dir = tempfile::tempdir().unwrap();
    let store = PhotoStore::open(dir.path()).unwrap();
    let raw = read_fixture(FOREST);
    let referenced = store.ingest(&raw, &opts(300)).unwrap();
    let orphan = store.ingest(&raw, &opts(200)).unwrap();
    let fresh_orphan = store.ingest(&raw, &opts(100)).unwrap();
    let leftover = dir.path().join("tmp").join(format!("{}.abc123.part", orphan.hash));
    fs::write(&leftover, b"half a photo").unwrap();
    let foreign = dir.path().join(&referenced.hash.to_hex()[..2]).join("notes.txt");
    fs::write(&foreign, b"not ours").unwrap();
    let hour_and_a_half = Duration::from_secs(90 * 60);
    for path in [store.path(&referenced.hash), store.path(&orphan.hash), leftover.clone(), foreign.clone()] {
        backdate(&path, hour_and_a_half);
    }

    let keep = HashSet::from([referenced.hash]);
    let report = store.sweep(&keep).unwrap();
    assert_eq!(
        report,
        SweepReport {
            kept: 1,
            orphans_removed: 1,
            temps_removed: 1,
            young_left: 1,
            bytes_freed: orphan.bytes + b"half a photo".len() as u64,
        }
    );
    assert!(store.contains(&referenced.hash));
    assert!(store.read(&referenced.hash).is_ok());
    assert!(!store.contains(&orphan.hash));
    assert!(!leftover.exists());
    assert!(foreign.exists(), "files that are not photos are left alone");
    assert!(store.contains(&fresh_orphan.hash), "a photo put within the grace period may be awaiting its transaction");

    // Putting an old orphan again makes it young: its new reference is about to be committed.
    let orphan_again = store.ingest(&raw, &opts(200)).unwrap();
    assert_eq!(store.sweep(&keep).unwrap().young_left, 2);
    assert!(store.contains(&orphan_again.hash));

    let store = store.with_sweep_grace(Duration::ZERO);
    let report = store.sweep(&keep).unwrap();
    assert_eq!((report.kept, report.orphans_removed), (1, 2));
    assert!(!store.contains(&fresh_orphan.hash));
    assert!(store.contains(&referenced.hash));
}

// ---------------------------------------------------------------- the demo's sample documents

/// `scripts/sample-documents.py` (run by `scripts/demo.sh`) renders one photo for every photo
/// every material of the built-in catalogue asks for; all distinct (the app refuses a photo
/// already in the application, so identical samples made an ID card impossible to complete)
/// and each accepted by the pipeline as a document photo of a useful size.
#[test]
fn the_demos_sample_documents_complete_every_material_with_distinct_photos() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // rendered once per build directory; the script keeps files already there
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sample-documents");
    let status =
        Command::new(root.join("scripts/sample-documents.py")).arg(&dir).status().expect("python3 and ImageMagick (scripts/setup.sh)");
    assert!(status.success(), "sample-documents.py failed");

    let catalogue = daiban_agent_core::catalogue::builtin();
    let files: Vec<PathBuf> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "jpg")).collect();
    let mut hashes = HashSet::new();
    for m in &catalogue.materials {
        let prefix = format!("{}-", m.name.zh);
        let (retakes, mine): (Vec<&PathBuf>, Vec<&PathBuf>) = files
            .iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
            .partition(|p| p.file_stem().unwrap().to_string_lossy().ends_with("-重拍"));
        assert_eq!(mine.len(), usize::from(m.photos), "{}: one sample per photo it asks for: {mine:?}", m.code);
        // the ID card has a second take of each side, for the correction loop
        let wanted_retakes = if m.code == "id_card" { usize::from(m.photos) } else { 0 };
        assert_eq!(retakes.len(), wanted_retakes, "{}: {retakes:?}", m.code);
        let mine: Vec<&PathBuf> = mine.into_iter().chain(retakes).collect();
        for path in mine {
            let out = process(&fs::read(path).unwrap(), &PipelineOptions::default()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert!(out.width().max(out.height()) >= 1000, "{path:?} is big enough to read");
            assert!(hashes.insert(out.hash()), "{path:?} is the same photo as another sample");
        }
    }
    let wanted: usize = catalogue.materials.iter().map(|m| usize::from(m.photos)).sum::<usize>() + 2;
    assert_eq!(hashes.len(), wanted);
}

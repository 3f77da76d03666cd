//! tus 1.0 uploads over real HTTP: creation, HEAD, PATCH with checksums, a cut connection and
//! its resumption, duplicate photos never re-sent, whole-photo verification.

use crate::http::{error, ok_json, Centre};
use crate::support::*;
use base64::Engine;
use daiban_centre::blobs::PhotoBlobs;
use daiban_proto::record::MaterialRecord;
use daiban_proto::sync::{ErrorCode, PushResponse};
use daiban_proto::PhotoHash;
use futures_util::StreamExt;
use reqwest::{Method, Response};
use sha2::{Digest, Sha256};

/// A real photograph (JPEG) from the system's wallpapers.
pub fn real_jpeg() -> Vec<u8> {
    let path = std::fs::read_dir("/usr/share/wallpapers")
        .expect("wallpapers installed")
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path().join("contents/images")).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg"))
        .min()
        .expect("a wallpaper JPEG");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..2], b"\xff\xd8", "{} is a JPEG", path.display());
    bytes
}

/// Push an application of `village`'s device whose ID-card material is `photo`.
pub async fn push_application_with(c: &Centre, token: &str, photo: &[u8]) {
    let r = resident(90);
    let mut a = application(r.id);
    a.materials = vec![MaterialRecord { code: "id_card".into(), photos: vec![photo_ref(photo)], reused_from: None }];
    let out: PushResponse = ok_json(c.push(token, &[upsert(&r), submit(&a)]).await).await;
    assert!(out.outcomes.iter().all(|o| o.result == daiban_proto::sync::EventResult::Applied), "{out:?}");
}

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn tus(c: &Centre, method: Method, url: &str, token: &str) -> reqwest::RequestBuilder {
    c.http.request(method, url).bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

async fn create(c: &Centre, token: &str, hash: &PhotoHash, len: usize) -> Response {
    tus(c, Method::POST, &c.url("/api/v1/uploads"), token)
        .header("Upload-Length", len.to_string())
        .header("Upload-Metadata", format!("filename {},sha256 {}", b64(b"id.jpg"), b64(hash.to_hex().as_bytes())))
        .send()
        .await
        .unwrap()
}

fn header(r: &Response, name: &str) -> String {
    r.headers().get(name).unwrap_or_else(|| panic!("no {name} in {:?}", r.headers())).to_str().unwrap().to_string()
}

async fn offset_of(c: &Centre, url: &str, token: &str) -> usize {
    let r = tus(c, Method::HEAD, url, token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert_eq!(header(&r, "tus-resumable"), "1.0.0");
    header(&r, "upload-offset").parse().unwrap()
}

async fn patch(c: &Centre, url: &str, token: &str, offset: usize, chunk: Vec<u8>, checksum: Option<String>) -> Response {
    let mut req = tus(c, Method::PATCH, url, token)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string());
    if let Some(sum) = checksum {
        req = req.header("Upload-Checksum", sum);
    }
    req.body(chunk).send().await.unwrap()
}

fn sha256_b64(b: &[u8]) -> String {
    format!("sha256 {}", b64(&Sha256::digest(b)))
}

#[tokio::test]
async fn tus_upload_with_checksums_interruption_and_resume() {
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    let (other, _) = c.enrol(c.world.village_b).await;
    let jpeg = real_jpeg();
    let hash = PhotoHash::of(&jpeg);
    let t = dev.token.as_str();

    let opts = c.http.request(Method::OPTIONS, c.url("/api/v1/uploads")).send().await.unwrap();
    assert_eq!(opts.status(), 204);
    assert_eq!(header(&opts, "tus-extension"), "creation,checksum");
    assert!(header(&opts, "tus-checksum-algorithm").contains("sha1"));
    let max: usize = header(&opts, "tus-max-size").parse().unwrap();

    error(create(&c, t, &hash, jpeg.len()).await, 403, ErrorCode::Forbidden).await;
    push_application_with(&c, t, &jpeg).await;
    error(create(&c, t, &hash, max + 1).await, 413, ErrorCode::PayloadTooLarge).await;
    let no_hash = tus(&c, Method::POST, &c.url("/api/v1/uploads"), t).header("Upload-Length", "5").send().await.unwrap();
    assert_eq!(error(no_hash, 400, ErrorCode::BadRequest).await.field.as_deref(), Some("Upload-Metadata"));
    error(create(&c, &other.token, &hash, jpeg.len()).await, 403, ErrorCode::Forbidden).await;

    let created = create(&c, t, &hash, jpeg.len()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "upload-offset"), "0");
    let url = c.url(&header(&created, "location"));
    assert_eq!(offset_of(&c, &url, t).await, 0);
    let head_other = tus(&c, Method::HEAD, &url, &other.token).send().await.unwrap();
    assert_eq!(head_other.status(), 404, "another device's upload does not exist for it");

    let first = 64 * 1024;
    let r = patch(&c, &url, t, 0, jpeg[..first].to_vec(), Some(sha256_b64(&jpeg[..first]))).await;
    assert_eq!((r.status().as_u16(), header(&r, "upload-offset")), (204, first.to_string()));
    error(patch(&c, &url, t, 0, jpeg[..10].to_vec(), None).await, 409, ErrorCode::Conflict).await;
    let second = &jpeg[first..2 * first];
    let sha1 = format!("sha1 {}", b64(&sha1::Sha1::digest(b"something else")));
    error(patch(&c, &url, t, first, second.to_vec(), Some(sha1)).await, 460, ErrorCode::ChecksumMismatch).await;
    assert_eq!(offset_of(&c, &url, t).await, first, "a chunk that failed its checksum is not kept");
    let wrong_type = tus(&c, Method::PATCH, &url, t).header("Upload-Offset", first.to_string()).body(second.to_vec()).send().await.unwrap();
    assert_eq!(wrong_type.status(), 415);
    error(patch(&c, &url, &other.token, first, second.to_vec(), None).await, 404, ErrorCode::NotFound).await;

    // the connection breaks in the middle of a chunk sent without a checksum
    let (head, tail) = jpeg[first..].split_at((jpeg.len() - first) / 2);
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(head.to_vec()), Err(std::io::Error::other("cable cut"))];
    let cut = tus(&c, Method::PATCH, &url, t)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", first.to_string())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await;
    assert!(cut.is_err(), "the client gave up mid-body");
    let _ = tail;
    // resume like a tus client: ask for the offset, send the rest from there (the server may
    // still be finishing the broken request: 423 or 409 mean "ask again")
    let mut attempts = 0;
    let done = loop {
        attempts += 1;
        assert!(attempts < 200, "upload never completed");
        let at = offset_of(&c, &url, t).await;
        assert!(at >= first && at <= first + head.len(), "acknowledged bytes are never lost: {at}");
        let r = patch(&c, &url, t, at, jpeg[at..].to_vec(), Some(sha256_b64(&jpeg[at..]))).await;
        match r.status().as_u16() {
            204 => break r,
            409 | 423 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            s => panic!("{s}: {}", r.text().await.unwrap()),
        }
    };
    assert_eq!(header(&done, "upload-offset"), jpeg.len().to_string());
    assert_eq!(c.photos.get(&hash).await.unwrap().as_deref(), Some(&jpeg[..]), "stored photo is byte-identical");
    assert!(c.world.store.photos_missing(vec![hash]).await.unwrap().is_empty());
    assert_eq!(offset_of(&c, &url, t).await, jpeg.len());

    // the same photo again: complete at creation, not one byte to send
    let again = create(&c, t, &hash, jpeg.len()).await;
    assert_eq!((again.status().as_u16(), header(&again, "upload-offset")), (201, jpeg.len().to_string()));
    let again_url = c.url(&header(&again, "location"));
    assert_eq!(offset_of(&c, &again_url, t).await, jpeg.len());
    assert_eq!(std::fs::read_dir(&c.uploads).unwrap().count(), 0, "no staging files left behind");
    c.stop().await;
}

#[tokio::test]
async fn a_photo_that_does_not_match_its_hash_is_discarded() {
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    let t = dev.token.as_str();
    let real = real_jpeg();
    let hash = PhotoHash::of(&real);
    push_application_with(&c, t, &real).await;
    let mut forged = real.clone();
    let mid = forged.len() / 2;
    forged[mid] ^= 0xff;
    let created = create(&c, t, &hash, forged.len()).await;
    let url = c.url(&header(&created, "location"));
    let body = error(patch(&c, &url, t, 0, forged.clone(), Some(sha256_b64(&forged))).await, 460, ErrorCode::ChecksumMismatch).await;
    assert!(body.message.contains("SHA-256"), "{}", body.message);
    assert_eq!(tus(&c, Method::HEAD, &url, t).send().await.unwrap().status(), 404, "the upload is gone");
    assert_eq!(c.world.store.photos_missing(vec![hash]).await.unwrap(), vec![hash]);
    assert_eq!(c.photos.get(&hash).await.unwrap(), None);
    // too much data for the announced length is refused, and nothing is kept
    let created = create(&c, t, &hash, real.len()).await;
    let url = c.url(&header(&created, "location"));
    let mut long = real.clone();
    long.push(0);
    error(patch(&c, &url, t, 0, long, None).await, 413, ErrorCode::PayloadTooLarge).await;
    assert_eq!(offset_of(&c, &url, t).await, 0);
    c.stop().await;
}

/// A device with a pushed application whose photo is a real JPEG, and a fresh upload of it:
/// (token, photo, its hash, upload URL).
async fn upload_of_a_real_photo(c: &Centre) -> (String, Vec<u8>, PhotoHash, String) {
    let (dev, _) = c.enrol(c.world.village_a).await;
    let jpeg = real_jpeg();
    let hash = PhotoHash::of(&jpeg);
    push_application_with(c, &dev.token, &jpeg).await;
    let url = c.url(&header(&create(c, &dev.token, &hash, jpeg.len()).await, "location"));
    (dev.token, jpeg, hash, url)
}

/// A PATCH from offset 0 that sends `sent` and then nothing, its connection kept open (a
/// phone gone without a reset), with `Content-Length` if given; left running.
fn stalled_patch(
    c: &Centre,
    url: &str,
    token: &str,
    sent: Vec<u8>,
    length: Option<usize>,
) -> tokio::task::JoinHandle<reqwest::Result<Response>> {
    let first: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(sent)];
    let body = futures_util::stream::iter(first).chain(futures_util::stream::pending());
    let mut req = tus(c, Method::PATCH, url, token).header("Content-Type", "application/offset+octet-stream").header("Upload-Offset", "0");
    if let Some(n) = length {
        req = req.header("Content-Length", n.to_string());
    }
    tokio::spawn(req.body(reqwest::Body::wrap_stream(body)).send())
}

/// A phone's connection dies without a reset (it changed cells): the centre still waits for
/// the rest of the PATCH. When the phone asks again, the stale request is stopped at once,
/// what it received is kept, and the upload goes on from there — no waiting out the centre's
/// idle timeout, no byte that arrived sent twice.
#[tokio::test]
async fn a_newer_request_takes_an_upload_over_from_a_dead_one() {
    let c = Centre::start().await;
    let (t, jpeg, hash, url) = upload_of_a_real_photo(&c).await;
    let t = t.as_str();
    let sent = jpeg.len() / 3;
    // the body's first third goes, then nothing, and the connection stays open
    let stale = stalled_patch(&c, &url, t, jpeg[..sent].to_vec(), Some(jpeg.len()));
    // until the centre has taken the bytes in (it keeps them in memory while more may come)
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!stale.is_finished(), "the centre is still waiting for the rest");

    let asked = std::time::Instant::now();
    let at = offset_of(&c, &url, t).await;
    assert!(asked.elapsed() < std::time::Duration::from_secs(5), "answered without waiting for the idle timeout: {:?}", asked.elapsed());
    assert_eq!(at, sent, "the stale request was stopped and what it received kept");
    let done = patch(&c, &url, t, at, jpeg[at..].to_vec(), None).await;
    assert_eq!((done.status().as_u16(), header(&done, "upload-offset")), (204, jpeg.len().to_string()));
    assert_eq!(c.photos.get(&hash).await.unwrap().as_deref(), Some(&jpeg[..]), "stored photo is byte-identical");
    let stale = stale.await.unwrap();
    assert!(stale.is_err() || stale.unwrap().status().is_client_error(), "the stale request ended with an error");

    // another device cannot stop a device's upload: it is told the upload does not exist
    let (other, _) = c.enrol(c.world.village_b).await;
    let head_other = tus(&c, Method::HEAD, &url, &other.token).send().await.unwrap();
    assert_eq!(head_other.status(), 404);
    c.stop().await;
}

/// Every byte of a photo arrives, but the request never ends (its end-of-body is lost with the
/// connection): when the phone asks again, the photo is stored and verified — the offset must
/// never say "complete" for a photo the centre does not have.
#[tokio::test]
async fn a_request_that_brought_every_byte_but_never_ended_stores_the_photo() {
    let c = Centre::start().await;
    let (t, jpeg, hash, url) = upload_of_a_real_photo(&c).await;
    // no Content-Length: the body ends with a chunked-encoding terminator that never comes
    let stale = stalled_patch(&c, &url, &t, jpeg.clone(), None);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!stale.is_finished(), "the centre still waits for the end of the body");
    assert_eq!(offset_of(&c, &url, &t).await, jpeg.len());
    assert_eq!(c.photos.get(&hash).await.unwrap().as_deref(), Some(&jpeg[..]), "complete means stored, byte-identical");
    assert!(c.world.store.photos_missing(vec![hash]).await.unwrap().is_empty());
    stale.abort();
    c.stop().await;
}

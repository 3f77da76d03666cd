//! A real third-party tus client — the PyPI package `tuspy` — uploads a real JPEG to the
//! running centre with the device's token, stops after a few chunks (its process ends), and a
//! second process resumes from the same upload URL. The stored photo must be byte-identical.

use crate::http::{ok_json, Centre};
use crate::tus::{push_application_with, real_jpeg};
use daiban_centre::blobs::PhotoBlobs;
use daiban_proto::PhotoHash;
use std::path::Path;
use std::process::Command;

const CHUNK: usize = 32 * 1024;

const SCRIPT: &str = r#"
import hashlib, sys
from tusclient import client

endpoint, token, photo, state, mode, chunk = sys.argv[1:7]
chunk = int(chunk)
tus = client.TusClient(endpoint, headers={"Authorization": "Bearer " + token})
if mode == "start":
    digest = hashlib.sha256(open(photo, "rb").read()).hexdigest()
    up = tus.uploader(photo, chunk_size=chunk, upload_checksum=True,
                      metadata={"sha256": digest, "filename": "id_card.jpg"})
    up.upload(stop_at=3 * chunk)      # three chunks, then this process ends: the interruption
    open(state, "w").write(up.url)
    print(up.offset)
else:
    up = tus.uploader(photo, url=open(state).read(), chunk_size=chunk, upload_checksum=True)
    print(up.offset)                  # where the server says to resume (HEAD)
    up.upload()
    print(up.offset)
"#;

/// `tuspy` importable, installing it from PyPI if needed (a test set-up step; fails the test if
/// it cannot be had).
fn ensure_tuspy() {
    let have = |py: &str| Command::new("python3").args(["-c", py]).status().is_ok_and(|s| s.success());
    if !have("import tusclient") {
        let st = Command::new("python3").args(["-m", "pip", "install", "--quiet", "tuspy"]).status().expect("run pip");
        assert!(st.success() && have("import tusclient"), "could not install the tuspy package");
    }
}

fn run_client(args: &[&str]) -> Vec<usize> {
    let out = Command::new("python3").args(args).output().expect("run python3");
    assert!(
        out.status.success(),
        "tuspy client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuspy_uploads_and_resumes_a_real_jpeg() {
    tokio::task::spawn_blocking(ensure_tuspy).await.unwrap();
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    let jpeg = real_jpeg();
    assert!(jpeg.len() > 4 * CHUNK, "a photo of several chunks");
    push_application_with(&c, &dev.token, &jpeg).await;
    let dir = tempfile::tempdir().unwrap();
    let (script, photo, state) = (dir.path().join("client.py"), dir.path().join("photo.jpg"), dir.path().join("upload-url"));
    std::fs::write(&script, SCRIPT).unwrap();
    std::fs::write(&photo, &jpeg).unwrap();
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let endpoint = c.url("/api/v1/uploads");
    let chunk = CHUNK.to_string();
    let args = |mode: &str| vec![p(&script), endpoint.clone(), dev.token.clone(), p(&photo), p(&state), mode.to_string(), chunk.clone()];

    let started = tokio::task::spawn_blocking({
        let a = args("start");
        move || run_client(&a.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(started, [3 * CHUNK]);
    let hash = PhotoHash::of(&jpeg);
    assert_eq!(c.photos.get(&hash).await.unwrap(), None, "not stored before the last byte");
    let missing: daiban_proto::sync::PhotosMissingResponse = ok_json(
        c.request(reqwest::Method::POST, "/api/v1/photos/missing", Some(&dev.token))
            .json(&daiban_proto::sync::PhotosMissingRequest { hashes: vec![hash] })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.missing, [hash]);

    let resumed = tokio::task::spawn_blocking({
        let a = args("resume");
        move || run_client(&a.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    assert_eq!(resumed, [3 * CHUNK, jpeg.len()], "resumed from the acknowledged offset, finished");
    assert_eq!(c.photos.get(&hash).await.unwrap().as_deref(), Some(&jpeg[..]), "byte-identical");
    assert!(c.world.store.photos_missing(vec![hash]).await.unwrap().is_empty());
    c.stop().await;
}

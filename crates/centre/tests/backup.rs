//! `daiban-centre backup` / `verify-backup` / `restore` on a real centre (SQLite file, photo
//! store on disk, loopback server): a backup taken while applications keep arriving restores
//! every application that was there before it started, with every photo byte-identical; a
//! changed byte in the backup is found; a restore never overwrites.

mod web_support;

use daiban_centre::backup::{self, BackupError};
use daiban_centre::blobs::{FsPhotoBlobs, PhotoBlobs};
use daiban_centre::store::{self, DatabaseUrl, Rules};
use daiban_proto::PhotoHash;
use web_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_application_and_photo() {
    let c = WebCentre::start().await;
    let w = &c.world;
    let (device, _) = w.device(w.village_a).await;
    let mut before = Vec::new();
    for i in 0..8u16 {
        let r = named_resident(i + 1, "王秀英", true);
        let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2), ("photo_1inch", 1)], u32::from(i) + 1);
        c.submit(device, &r, &app, &photos).await;
        before.push((app.id, photos));
    }

    // the backup runs while more applications (and their photos) arrive
    let out = tempfile::tempdir().unwrap();
    let (db, photos_dir, into) = (c.sqlite_path(), c.photos_dir(), out.path().to_path_buf());
    let backing_up = tokio::task::spawn_blocking(move || backup::backup(&db, &photos_dir, &into));
    for i in 8..16u16 {
        let r = named_resident(i + 1, "李桂兰", true);
        let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2)], u32::from(i) + 1);
        c.submit(device, &r, &app, &photos).await;
    }
    let (made, made_manifest) = backing_up.await.unwrap().expect("backup");
    assert!(made.file_name().unwrap().to_string_lossy().starts_with("daiban-backup-"));
    let manifest = backup::verify(&made).expect("a fresh backup verifies");
    assert_eq!(manifest, made_manifest, "the manifest returned is the one written");
    assert!(manifest.photos.len() >= 8 * 3, "{} photos", manifest.photos.len());

    // restored into a fresh place: every application from before, every photo byte-identical
    let fresh = tempfile::tempdir().unwrap();
    let (db, photos) = (fresh.path().join("centre.sqlite3"), fresh.path().join("photos"));
    backup::restore(&made, &db, &photos).expect("restore");
    let restored = store::open(&DatabaseUrl::Sqlite(db.clone()), Rules::default()).await.unwrap();
    let blobs = FsPhotoBlobs::new(&photos).unwrap();
    for (id, sent) in &before {
        assert!(restored.application(w.township, *id).await.unwrap().is_some(), "application {id} restored");
        let revisions = restored.revisions(w.township, *id).await.unwrap();
        let mut hashes: Vec<PhotoHash> = revisions[0].record.photos().map(|p| p.hash).collect();
        let mut expected: Vec<PhotoHash> = sent.iter().map(|b| PhotoHash::of(b)).collect();
        hashes.sort();
        expected.sort();
        assert_eq!(hashes, expected);
        for bytes in sent {
            let hash = PhotoHash::of(bytes);
            assert_eq!(blobs.get(&hash).await.unwrap().as_deref(), Some(bytes.as_slice()), "photo {hash} byte-identical");
        }
    }

    // a restore never overwrites: not into a database that exists, not into photos that do
    assert!(matches!(backup::restore(&made, &db, &fresh.path().join("elsewhere")), Err(BackupError::NotEmpty(_))));
    assert!(matches!(backup::restore(&made, &fresh.path().join("new.sqlite3"), &photos), Err(BackupError::NotEmpty(_))));

    // one changed byte in a photo of the backup is found, naming the file
    let victim = made.join(&manifest.photos[0].path);
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    match backup::verify(&made) {
        Err(BackupError::Corrupt { path, .. }) => assert_eq!(path, manifest.photos[0].path),
        other => panic!("a corrupted backup must not verify: {other:?}"),
    }
    let elsewhere = tempfile::tempdir().unwrap();
    assert!(backup::restore(&made, &elsewhere.path().join("c.sqlite3"), &elsewhere.path().join("p")).is_err(), "nothing restored from it");
    assert!(!elsewhere.path().join("c.sqlite3").exists());
    c.stop().await;
}

/// Scheduled backups of a running centre: each one verifies, a photo already backed up is the
/// same file (a hard link) in the next backup while a new photo is copied, and only the newest
/// are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_link_what_they_have_and_keep_the_newest() {
    use std::os::unix::fs::MetadataExt;
    let c = WebCentre::start().await;
    let w = &c.world;
    let (device, _) = w.device(w.village_a).await;
    let r = named_resident(1, "王秀英", true);
    let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2)], 1);
    c.submit(device, &r, &app, &photos).await;
    let out = tempfile::tempdir().unwrap();
    let every = std::time::Duration::from_millis(1100);
    let task = backup::spawn_scheduled(c.sqlite_path(), c.photos_dir(), out.path().to_path_buf(), every, 2);
    let backups = |n: usize| {
        let dir = out.path().to_path_buf();
        async move {
            for _ in 0..100 {
                let mut found: Vec<_> = std::fs::read_dir(&dir)
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| !p.to_string_lossy().ends_with(".partial"))
                    .collect();
                found.sort();
                if found.len() >= n {
                    return found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("fewer than {n} backups in {}", dir.display());
        }
    };
    let first = backups(1).await[0].clone();
    // a new application between two backups
    let r2 = named_resident(2, "李桂兰", true);
    let (app2, photos2) = application_with_photos(&r2, &["elderly_card"], &[("id_card", 1)], 2);
    c.submit(device, &r2, &app2, &photos2).await;
    let two = backups(2).await;
    let second = two.iter().find(|p| **p != first).unwrap().clone();
    let (m1, m2) = (backup::verify(&first).unwrap(), backup::verify(&second).unwrap());
    assert_eq!((m1.photos.len(), m2.photos.len()), (2, 3));
    for e in &m1.photos {
        let (a, b) = (std::fs::metadata(first.join(&e.path)).unwrap(), std::fs::metadata(second.join(&e.path)).unwrap());
        assert_eq!(a.ino(), b.ino(), "{} is linked, not copied again", e.path);
    }
    let new = m2.photos.iter().find(|e| !m1.photos.contains(e)).expect("the new photo");
    let live = c.photos_dir().join(new.path.strip_prefix("photos/").unwrap());
    assert_ne!(std::fs::metadata(second.join(&new.path)).unwrap().ino(), std::fs::metadata(live).unwrap().ino(), "the new photo is a copy");
    // the third backup removes the first: two are kept
    let mut kept = backups(2).await;
    for _ in 0..40 {
        kept = backups(2).await;
        if !kept.contains(&first) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    task.abort();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(!kept.contains(&first), "the oldest went: {kept:?}");
    for dir in &kept {
        backup::verify(dir).expect("every kept backup verifies");
    }
}

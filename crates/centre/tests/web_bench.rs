//! Benchmark (ignored by default; it prints figures and asserts none): the staff inbox over
//! 100,000 applications in SQLite, seeded through the real store as phones would send them.
//!
//! ```text
//! cargo test -p daiban-centre --release --test web_bench -- --ignored --nocapture
//! ```
//!
//! Measured per filter: the store query for one page (50 rows) at the first page and at
//! pages reached by the keyset cursor deep in the list, and the whole `GET /staff/inbox` page
//! over HTTP on loopback (session check, query, catalogue, devices, HTML). Figures go to
//! docs/staff-ui.md.

mod web_support;

use daiban_centre::store::{InboxCursor, InboxFilter};
use daiban_proto::status::{AppStatus, Decision};
use std::time::{Duration, Instant};
use web_support::store::*;
use web_support::*;

const APPLICATIONS: usize = 100_000;
const SAMPLES: usize = 200;

fn summary(name: &str, mut t: Vec<Duration>) {
    t.sort();
    let at = |p: usize| t[(p * t.len()).div_ceil(100).max(1) - 1];
    println!("{name:<44} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms", ms(at(50)), ms(at(99)), ms(t[t.len() - 1]));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: seeds 100,000 applications (minutes)"]
async fn inbox_pages_at_100k_applications() {
    let c = WebCentre::start().await;
    let w = &c.world;
    let s = w.store.clone();
    let devices = [w.device(w.village_a).await.0, w.device(w.village_a).await.0, w.device(w.village_b).await.0];
    let items = ["elderly_card", "residence_certificate", "social_security_card"];
    let started = Instant::now();
    for i in 0..APPLICATIONS {
        let dev = devices[i % devices.len()];
        let r = resident((i % 60_000) as u16);
        let mut a = application(r.id);
        a.items = vec![items[i % items.len()].to_string()];
        if a.items[0] == "residence_certificate" {
            a.materials.clear();
        }
        push_ok(s.as_ref(), dev, &[upsert(&r), submit(&a)]).await;
        // a working centre: most applications are accepted, many decided
        match i % 10 {
            0..=5 => {
                s.decide(w.reviewer, a.id, 1, Decision::Accept).await.unwrap();
                if i % 10 < 3 {
                    s.decide(w.reviewer, a.id, 1, Decision::Approve { item: a.items[0].clone() }).await.unwrap();
                }
            }
            6 => {
                s.decide(w.reviewer, a.id, 1, Decision::Reject { item: a.items[0].clone(), reason: daiban_proto::text::Remark::parse("不符合条件").unwrap() })
                    .await
                    .unwrap();
            }
            _ => {}
        }
        if (i + 1) % 10_000 == 0 {
            println!("seeded {} applications in {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    let filters: Vec<(&str, InboxFilter)> = vec![
        ("open (default view)", InboxFilter { open: true, ..Default::default() }),
        ("all", InboxFilter::default()),
        ("status = accepted", InboxFilter { status: Some(AppStatus::Accepted), ..Default::default() }),
        ("village A, open", InboxFilter { village: Some(w.village_a), open: true, ..Default::default() }),
        ("item = residence_certificate", InboxFilter { item: Some("residence_certificate".into()), ..Default::default() }),
        ("agent (device)", InboxFilter { device: Some(devices[2].device_id), ..Default::default() }),
        ("overdue (none are)", InboxFilter { overdue_on: Some(daiban_centre::store::china_date(chrono::Utc::now())), ..Default::default() }),
    ];
    for (name, f) in &filters {
        // cursors spread through the whole list, taken by paging (every 20th page)
        let mut cursors: Vec<Option<InboxCursor>> = vec![None];
        let mut after = None;
        for page in 0.. {
            let p = s.inbox(w.township, f.clone(), after.clone(), 50).await.unwrap();
            match p.next {
                Some(n) if cursors.len() < SAMPLES => {
                    if page % 20 == 0 {
                        cursors.push(Some(n.clone()));
                    }
                    after = Some(n);
                }
                _ => break,
            }
        }
        let mut times = Vec::new();
        for i in 0..SAMPLES {
            let cursor = cursors[i % cursors.len()].clone();
            let t = Instant::now();
            let page = s.inbox(w.township, f.clone(), cursor, 50).await.unwrap();
            times.push(t.elapsed());
            std::hint::black_box(page);
        }
        summary(&format!("store.inbox: {name} ({} start points)", cursors.len()), times);
    }
    let mut staff = StaffClient::signed_in(&c.base, "reviewer").await;
    for (name, path) in [("GET /staff/inbox (open)", "/staff/inbox"), ("GET /staff/inbox?status=all", "/staff/inbox?status=all")] {
        let mut times = Vec::new();
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let page = staff.get(path).await;
            times.push(t.elapsed());
            assert_eq!(page.status, reqwest::StatusCode::OK);
        }
        summary(name, times);
    }
    let t = Instant::now();
    let stats = s.statistics(w.township, Default::default()).await.unwrap();
    println!("store.statistics over everything: {:.0} ms ({} approvals)", ms(t.elapsed()), stats.approvals.len());
    let t = Instant::now();
    assert_eq!(staff.get("/staff/stats").await.status, reqwest::StatusCode::OK);
    println!("GET /staff/stats: {:.0} ms", ms(t.elapsed()));
    c.stop().await;
}

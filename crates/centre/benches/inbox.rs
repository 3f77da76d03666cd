//! Staff inbox benchmark (issue 6, part 5): one page of 50 applications out of 100,000, on
//! SQLite, against two baselines measured in the same run.
//!
//! Seeding: 100,000 applications pushed through `Store::ingest` as phones send them (3
//! devices in 2 villages, 3 items; 60% accepted, 30% approved, 10% rejected), as the earlier
//! ignored test `web_bench` did. The database lives on `/dev/shm` when there is one, so that
//! seeding does not wait for a quarter of a million fsyncs; the reads measured afterwards come
//! from the page cache either way.
//!
//! Measured, 200 pages per row, starting at keyset cursors spread through the whole list:
//! * ours: `Store::inbox` (keyset paging) per filter, and the whole `GET /staff/inbox` page
//!   over HTTP on loopback (session check, query, catalogue, devices, HTML);
//! * baseline 1 — `LIMIT 50 OFFSET n`, the naive way to page: the same columns, joins and
//!   order as the store's query, at the same depths, on a read-only connection to the same
//!   file (it gets no transaction or decoding overhead, so the comparison favours it);
//! * baseline 2 — the store call alone, against which the HTTP page's overhead is a ratio.
//!
//! Target: server time per page p99 ≤ 50 ms (the whole HTTP page is the server time).
//!
//! `cargo bench -p daiban-centre --bench inbox` (`DAIBAN_BENCH_APPLICATIONS` to change the
//! 100,000). Exits non-zero when the target fails.

mod support;
#[path = "../tests/web_support/mod.rs"]
mod web_support;

use daiban_centre::store::{InboxCursor, InboxFilter, Store};
use daiban_proto::status::{AppStatus, Decision};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_or, ms, ratio, Samples, Table, Targets};
use web_support::store::*;
use web_support::*;

const SAMPLES: usize = 200;
const PAGE: u32 = 50;
const TARGET_P99: Duration = Duration::from_millis(50);

fn main() -> ExitCode {
    // The seeded database goes to tmpfs (see the module docs) unless TMPDIR says otherwise.
    if std::env::var_os("TMPDIR").is_none() && std::path::Path::new("/dev/shm").is_dir() {
        std::env::set_var("TMPDIR", "/dev/shm");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    rt.block_on(bench())
}

/// 100,000 applications of a working centre, pushed through the store as phones would.
/// Returns the devices used (the agent filter picks one).
async fn seed(w: &World, applications: usize) -> Vec<daiban_centre::store::DeviceAuth> {
    let s = w.store.clone();
    let devices = vec![w.device(w.village_a).await.0, w.device(w.village_a).await.0, w.device(w.village_b).await.0];
    let items = ["elderly_card", "residence_certificate", "social_security_card"];
    let started = Instant::now();
    for i in 0..applications {
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
                let reason = daiban_proto::text::Remark::parse("不符合条件").unwrap();
                s.decide(w.reviewer, a.id, 1, Decision::Reject { item: a.items[0].clone(), reason }).await.unwrap();
            }
            _ => {}
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!("seeded {} applications in {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    devices
}

/// The number of pages in the list, and keyset cursors spread through it (every `stride`-th
/// page, at most `SAMPLES`), each with its page number (0 = first page, no cursor).
async fn cursors(s: &Arc<dyn Store>, w: &World, f: &InboxFilter) -> (usize, Vec<(usize, Option<InboxCursor>)>) {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let p = s.inbox(w.township, f.clone(), after.clone(), PAGE).await.unwrap();
        pages.push(after.clone());
        match p.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let (total, stride) = (pages.len(), pages.len().div_ceil(SAMPLES).max(1));
    (total, pages.into_iter().enumerate().step_by(stride).collect())
}

/// `LIMIT/OFFSET` paging of the same rows in the same order (baseline 1). Only the two views
/// whose `WHERE` is simple enough to restate here: everything, and open work.
fn offset_sql(open: bool) -> String {
    let open = if open { " AND a.status IN ('received', 'accepted', 'approved', 'result_ready')" } else { "" };
    format!(
        "SELECT a.id, a.village_id, v.name_zh, v.name_en, a.resident_id, r.name, a.device_id, a.bundle, a.items, \
                a.status, a.revision, a.received_at, a.deadline \
         FROM applications a JOIN villages v ON v.id = a.village_id JOIN residents r ON r.id = a.resident_id \
         WHERE a.township_id = ?1{open} ORDER BY a.deadline, a.received_at, a.id LIMIT ?2 OFFSET ?3"
    )
}

fn offset_page(conn: &rusqlite::Connection, sql: &str, township: i64, page: usize) -> usize {
    let mut stmt = conn.prepare_cached(sql).unwrap();
    let rows = stmt.query_map(rusqlite::params![township, PAGE, (page * PAGE as usize) as i64], |r| r.get::<_, Vec<u8>>(0)).unwrap();
    rows.collect::<rusqlite::Result<Vec<_>>>().unwrap().len()
}

fn http_path(base: &str, cursor: &Option<InboxCursor>) -> String {
    match cursor {
        None => base.to_string(),
        Some(c) => {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}{}", form_urlencoded::Serializer::new(String::new()).append_pair("after", &c.to_string()).finish())
        }
    }
}

async fn bench() -> ExitCode {
    let applications: usize = env_or("DAIBAN_BENCH_APPLICATIONS", 100_000);
    println!("## Staff inbox, {applications} applications (SQLite)\n");
    println!("machine: {}\n", support::machine());
    let c = WebCentre::start().await;
    let w = &c.world;
    let s = w.store.clone();
    let t = Instant::now();
    let devices = seed(w, applications).await;
    println!(
        "seeded {applications} applications through Store::ingest in {:.0} s (database in {})\n",
        t.elapsed().as_secs_f64(),
        std::env::temp_dir().display()
    );

    let filters: Vec<(&str, InboxFilter, Option<&str>)> = vec![
        ("open (default view)", InboxFilter { open: true, ..Default::default() }, Some("/staff/inbox")),
        ("all", InboxFilter::default(), Some("/staff/inbox?status=all")),
        ("status = accepted", InboxFilter { status: Some(AppStatus::Accepted), ..Default::default() }, None),
        ("village A, open", InboxFilter { village: Some(w.village_a), open: true, ..Default::default() }, None),
        ("item = residence_certificate", InboxFilter { item: Some("residence_certificate".into()), ..Default::default() }, None),
        ("agent (device)", InboxFilter { device: Some(devices[2].device_id), ..Default::default() }, None),
        (
            "overdue (none are)",
            InboxFilter { overdue_on: Some(daiban_centre::store::china_date(chrono::Utc::now())), ..Default::default() },
            None,
        ),
    ];
    let conn = rusqlite::Connection::open_with_flags(c.sqlite_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut staff = StaffClient::signed_in(&c.base, "reviewer").await;

    let mut store_table = Table::new(&["filter (one page of 50)", "pages in list", "store p50 ms", "store p99 ms", "store max ms"]);
    let mut offset_table = Table::new(&[
        "view",
        "keyset (ours) p50 ms",
        "keyset p99 ms",
        "OFFSET (baseline) p50 ms",
        "OFFSET p99 ms",
        "OFFSET last page ms (median of 5)",
        "OFFSET ÷ keyset, p50",
        "OFFSET ÷ keyset, p99",
    ]);
    let mut http_table =
        Table::new(&["page", "store call p50 ms", "store p99 ms", "whole HTTP page p50 ms", "HTTP p99 ms", "HTTP ÷ store, p99"]);
    let mut worst_http = Duration::ZERO;
    let mut worst_store = Duration::ZERO;
    for (name, f, http) in &filters {
        let (total_pages, starts) = cursors(&s, w, f).await;
        let mut ours = Samples::default();
        for i in 0..SAMPLES {
            let (_, cursor) = &starts[i % starts.len()];
            let t = Instant::now();
            std::hint::black_box(s.inbox(w.township, f.clone(), cursor.clone(), PAGE).await.unwrap());
            ours.push(t.elapsed());
        }
        worst_store = worst_store.max(ours.p99());
        store_table.row(vec![name.to_string(), total_pages.to_string(), f2(ours.p50()), f2(ours.p99()), f2(ours.max())]);
        let Some(http) = http else { continue };
        // baseline 1: the same depths with OFFSET
        let sql = offset_sql(f.open);
        let mut offset = Samples::default();
        for i in 0..SAMPLES {
            let (page, _) = starts[i % starts.len()];
            let t = Instant::now();
            std::hint::black_box(offset_page(&conn, &sql, w.township.0, page));
            offset.push(t.elapsed());
        }
        let mut offset_last = Samples::default();
        for _ in 0..5 {
            let t = Instant::now();
            assert!(offset_page(&conn, &sql, w.township.0, total_pages - 1) > 0, "the last page has rows");
            offset_last.push(t.elapsed());
        }
        offset_table.row(vec![
            name.to_string(),
            f2(ours.p50()),
            f2(ours.p99()),
            f2(offset.p50()),
            f2(offset.p99()),
            f2(offset_last.p50()),
            ratio(ms(offset.p50()), ms(ours.p50())),
            ratio(ms(offset.p99()), ms(ours.p99())),
        ]);
        // ours over HTTP at the same cursors
        let mut pages = Samples::default();
        for i in 0..SAMPLES {
            let (_, cursor) = &starts[i % starts.len()];
            let path = http_path(http, cursor);
            let t = Instant::now();
            let page = staff.get(&path).await;
            pages.push(t.elapsed());
            assert_eq!(page.status, reqwest::StatusCode::OK, "{path}");
        }
        worst_http = worst_http.max(pages.p99());
        http_table.row(vec![
            format!("`GET {http}` ({name})"),
            f2(ours.p50()),
            f2(ours.p99()),
            f2(pages.p50()),
            f2(pages.p99()),
            ratio(ms(pages.p99()), ms(ours.p99())),
        ]);
    }
    println!("### Store query per filter (ours)\n");
    store_table.print();
    println!("### Keyset (ours) vs LIMIT/OFFSET (baseline 1), same views and depths\n");
    offset_table.print();
    println!("### Whole HTTP page (ours) vs the store call alone (baseline 2)\n");
    http_table.print();

    let t = Instant::now();
    let stats = s.statistics(w.township, Default::default()).await.unwrap();
    println!("statistics over everything (not paged): {:.0} ms ({} approvals)\n", ms(t.elapsed()), stats.approvals.len());

    let mut targets = Targets::default();
    targets.check(worst_http <= TARGET_P99, format!("whole inbox page p99 {:.2} ms ≤ 50 ms (worst view)", ms(worst_http)));
    targets.check(
        worst_store <= TARGET_P99,
        format!("store query p99 {:.2} ms ≤ 50 ms (worst of {} filters)", ms(worst_store), filters.len()),
    );
    c.stop().await;
    targets.exit_code()
}

fn f2(d: Duration) -> String {
    format!("{:.2}", ms(d))
}

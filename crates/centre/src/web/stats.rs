//! Statistics (统计): applications by status and by item, processing time (median and 90th
//! percentile, acceptance → approval, in working days and hours), on-time rate against the
//! promised deadline, satisfaction (5 levels), bad ratings awaiting follow-up (差评整改, with
//! a form to record what was done), and a per-village breakdown; charts are inline SVG drawn
//! here; the CSV export has one row per village and item, UTF-8 with a BOM so that Excel
//! reads the Chinese correctly.
//!
//! Period: applications first submitted, items approved and ratings given between `from`
//! and `to` (China dates, inclusive; empty = unbounded). "Overdue" is judged today.

use crate::api::AppState;
use crate::store::{Approval, InboxFilter, RatingCount, Statistics, StatsPeriod, StoreError, Timing, VillageId};
use crate::web::auth::Me;
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::layout::{self, alert, csrf, date, frame, notice, time, Nav};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::NaiveDate;
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::status::{AppStatus, ItemStatus};
use daiban_proto::text::Remark;
use daiban_proto::{ApplicationId, Rating};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

#[derive(Deserialize, Default, Clone)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    done: Option<String>,
}

impl PeriodQuery {
    fn period(&self) -> WebResult<StatsPeriod> {
        let day = |s: &str, zh: &str, en: &str| -> WebResult<Option<NaiveDate>> {
            match s.trim() {
                "" => Ok(None),
                s => s.parse().map(Some).map_err(|_| WebError::bad_request(format!("{zh}应为 年-月-日 / {en} must be YYYY-MM-DD"))),
            }
        };
        let p = StatsPeriod { from: day(&self.from, "开始日期", "from")?, to: day(&self.to, "结束日期", "to")? };
        if let (Some(f), Some(t)) = (p.from, p.to) {
            if f > t {
                return Err(WebError::bad_request("开始日期晚于结束日期 / the period starts after it ends"));
            }
        }
        Ok(p)
    }

    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("from", self.from.trim()).append_pair("to", self.to.trim());
        q.finish()
    }
}

/// Counts and timings of one slice (a village, an item, both, or everything).
#[derive(Clone, Debug, Default, PartialEq)]
struct Summary {
    items: u64,
    pending: u64,
    /// Approved, and whatever followed (result ready, delivered, rated).
    approved: u64,
    rejected: u64,
    overdue: u64,
    timing: Option<Timing>,
    ratings: [u64; 5],
}

impl Summary {
    fn rated(&self) -> u64 {
        self.ratings.iter().sum()
    }
    /// Share of "very satisfied" and "satisfied".
    fn satisfaction(&self) -> Option<f64> {
        let n = self.rated();
        (n > 0).then(|| (self.ratings[0] + self.ratings[1]) as f64 / n as f64)
    }
    fn bad(&self) -> u64 {
        self.ratings[3] + self.ratings[4]
    }
}

/// The statistics regrouped by village and item.
struct Report {
    stats: Statistics,
    approvals: HashMap<(VillageId, String), Vec<Approval>>,
}

impl Report {
    fn new(mut stats: Statistics) -> Self {
        let mut approvals: HashMap<(VillageId, String), Vec<Approval>> = HashMap::new();
        for a in std::mem::take(&mut stats.approvals) {
            approvals.entry((a.village_id, a.item.clone())).or_default().push(a);
        }
        Self { stats, approvals }
    }

    fn summary(&self, village: Option<VillageId>, item: Option<&str>) -> Summary {
        let hit = |v: VillageId, i: &str| village.is_none_or(|x| x == v) && item.is_none_or(|x| x == i);
        let mut s = Summary::default();
        for c in self.stats.items.iter().filter(|c| hit(c.village_id, &c.item)) {
            s.items += c.count;
            s.overdue += c.overdue;
            match c.status {
                ItemStatus::Pending => s.pending += c.count,
                ItemStatus::Rejected => s.rejected += c.count,
                _ => s.approved += c.count,
            }
        }
        s.timing = Timing::of(self.approvals.iter().filter(|((v, i), _)| hit(*v, i)).flat_map(|(_, a)| a));
        s.ratings = crate::store::rating_distribution(self.stats.ratings.iter().filter(|r: &&RatingCount| hit(r.village_id, &r.item)));
        s
    }

    /// Villages and items that appear anywhere in the statistics.
    fn keys(&self) -> (BTreeSet<VillageId>, BTreeSet<String>) {
        let mut villages: BTreeSet<VillageId> = self.stats.applications.iter().map(|c| c.village_id).collect();
        let mut items: BTreeSet<String> = self.stats.items.iter().map(|c| c.item.clone()).collect();
        for (v, i) in self.approvals.keys().cloned().chain(self.stats.ratings.iter().map(|r| (r.village_id, r.item.clone()))) {
            villages.insert(v);
            items.insert(i);
        }
        (villages, items)
    }

    fn applications_by_status(&self, village: Option<VillageId>) -> BTreeMap<AppStatus, (u64, u64)> {
        let mut out = BTreeMap::new();
        for c in self.stats.applications.iter().filter(|c| village.is_none_or(|v| v == c.village_id)) {
            let e = out.entry(c.status).or_insert((0, 0));
            e.0 += c.count;
            e.1 += c.overdue;
        }
        out
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn one_decimal(x: f64) -> String {
    format!("{x:.1}")
}

/// A horizontal bar chart as inline SVG: one row per `(label, value, css class)`.
fn bar_chart(title: &str, rows: &[(String, u64, String)]) -> Markup {
    let (label_w, bar_w, row_h) = (110.0, 300.0, 26.0);
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let height = row_h * rows.len() as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-label="{t}" viewBox="0 0 {w} {height}" width="{w}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        t = maud::html! { (title) }.into_string(),
        w = label_w + bar_w + 60.0,
    );
    for (i, (label, value, class)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (*value as f64 / max * bar_w).max(if *value > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect class="{class}" x="{label_w}" y="{y}" width="{w:.1}" height="{bh}" rx="3"/><text x="{vx:.1}" y="{ty}">{value}</text>"#,
            lx = label_w - 8.0,
            ty = y + 15.0,
            bh = row_h - 8.0,
            vx = label_w + w + 6.0,
            label = maud::html! { (label) }.into_string(),
            class = maud::html! { (class) }.into_string(),
        );
    }
    svg.push_str("</svg>");
    layout::trusted(svg)
}

fn village_names(villages: &[crate::store::Village]) -> HashMap<VillageId, L10n> {
    villages.iter().map(|v| (v.id, v.name.clone())).collect()
}

fn item_name(lang: Lang, c: Option<&Catalogue>, code: &str) -> String {
    c.and_then(|c| c.item(code)).map_or(code.to_string(), |i| lang.l(&i.name).to_string())
}

fn timing_cells(lang: Lang, s: &Summary) -> Markup {
    html! {
        @match &s.timing {
            Some(t) => {
                td.num { (pct(t.on_time_rate())) }
                td.num { (t.median_days) " / " (t.p90_days) (lang.t(" 工作日", " wd")) }
                td.num { (one_decimal(t.median_hours)) " / " (one_decimal(t.p90_hours)) (lang.t(" 小时", " h")) }
            }
            None => { td.num { "—" } td.num { "—" } td.num { "—" } }
        }
    }
}

fn rating_cells(s: &Summary) -> Markup {
    html! {
        td.num { (s.rated()) }
        td.num { @match s.satisfaction() { Some(x) => (pct(x)), None => "—" } }
        td.num { (s.bad()) }
    }
}

/// A bad rating's follow-up form that failed, shown again with its note.
struct FollowUpDraft {
    application: String,
    item: String,
    note: String,
    error: String,
}

async fn render(state: &AppState, me: &Me, q: &PeriodQuery, draft: Option<&FollowUpDraft>) -> WebResult<Markup> {
    let lang = me.lang;
    let township = me.staff.township_id;
    // a period that cannot be read is said next to the dates, and the whole record is shown
    let (period, period_error) = match q.period() {
        Ok(p) => (p, None),
        Err(e) => (StatsPeriod::default(), Some(e.message)),
    };
    let report = Report::new(state.store.statistics(township, period).await?);
    let catalogue = state.store.catalogue(township, None).await?;
    let c = catalogue.as_ref();
    let villages = village_names(&state.store.villages(township).await?);
    let follow_ups = state.store.ratings_needing_follow_up(township).await?;
    let (village_keys, item_keys) = report.keys();
    let total = report.summary(None, None);
    let by_status = report.applications_by_status(None);
    let apps: u64 = by_status.values().map(|x| x.0).sum();
    let open: u64 = by_status.iter().filter(|(s, _)| InboxFilter::OPEN.contains(s)).map(|(_, x)| x.0).sum();
    let overdue: u64 = by_status.values().map(|x| x.1).sum();
    let status_rows: Vec<(String, u64, String)> =
        by_status.iter().map(|(s, (n, _))| (lang.l(&s.label()).to_string(), *n, format!("st-{}", s.as_str()))).collect();
    let rating_rows: Vec<(String, u64, String)> =
        Rating::ALL.iter().zip(total.ratings).map(|(r, n)| (lang.l(&r.label()).to_string(), n, format!("rate-{}", r.score()))).collect();
    let vname = |v: &VillageId| villages.get(v).map_or(v.to_string(), |n| lang.l(n).to_string());
    let body = html! {
        h1 { (lang.t("统计", "Statistics")) }
        @if let Some(d) = &q.done { @if d == "follow_up" { (notice(lang.t("已记录差评整改情况。", "Follow-up recorded."))) } }
        form.filters method="get" action="/staff/stats" {
            label { (lang.t("开始日期", "From")) input type="date" name="from" value=(q.from); }
            label { (lang.t("结束日期", "To")) input type="date" name="to" value=(q.to); }
            button.primary type="submit" { (lang.t("统计", "Show")) }
            a.button #csv href=(format!("/staff/stats.csv?{}", q.query())) download { (lang.t("导出 CSV", "Export CSV")) }
        }
        @if let Some(e) = &period_error { div #period-error { (alert(lang, e)) p.hint { (lang.t("下面是全部时间的统计。", "Showing all time below.")) } } }
        p.hint { (lang.t("期间：首次提交、办结和评价的日期（北京时间）。“逾期”按今天计算：", "Period: dates of first submission, approval and rating (China time). Overdue as of today: ")) (date(report.stats.today)) }
        div.kpis #kpis {
            div.kpi { span.n { (apps) } span.l { (lang.t("申请", "applications")) } }
            div.kpi { span.n { (open) } span.l { (lang.t("在办", "open")) } }
            div.kpi.warn { span.n #kpi-overdue { (overdue) } span.l { (lang.t("逾期未办", "overdue")) } }
            div.kpi { span.n { (total.approved) } span.l { (lang.t("已办结事项", "items approved")) } }
            div.kpi { span.n #kpi-ontime { @match &total.timing { Some(t) => (pct(t.on_time_rate())), None => "—" } } span.l { (lang.t("按时办结率", "on time")) } }
            div.kpi {
                span.n #kpi-median { @match &total.timing { Some(t) => { (t.median_days) " / " (t.p90_days) }, None => "—" } }
                span.l { (lang.t("办理时长 中位数/P90（工作日）", "days: median / P90 (working)")) }
            }
            div.kpi { span.n { @match total.satisfaction() { Some(x) => (pct(x)), None => "—" } } span.l { (lang.t("满意率", "satisfied")) } }
            div.kpi.warn { span.n { (follow_ups.len()) } span.l { (lang.t("差评待整改", "bad ratings to follow up")) } }
        }
        div.charts {
            section.card { h2 { (lang.t("申请按状态", "Applications by status")) } (bar_chart(lang.t("申请按状态", "Applications by status"), &status_rows)) }
            section.card { h2 { (lang.t("满意度分布", "Satisfaction")) } (bar_chart(lang.t("满意度分布", "Satisfaction"), &rating_rows)) }
        }
        section.card #follow-ups {
            h2 { (lang.t("差评待整改", "Bad ratings awaiting follow-up")) }
            @if follow_ups.is_empty() { p.muted { (lang.t("没有待整改的差评。", "None.")) } }
            @for r in &follow_ups {
                @let mine = draft.filter(|d| d.application == r.application_id.to_string() && d.item == r.item);
                div.follow-up {
                    p {
                        span.badge.bad { (lang.l(&r.rating.label())) } " "
                        a href=(format!("/staff/applications/{}", r.application_id)) { (item_name(lang, c, &r.item)) } " · "
                        (vname(&r.village_id)) " · " (time(r.rated_at))
                        @if let Some(text) = &r.comment { br; q { (text) } }
                    }
                    @if let Some(d) = mine { (alert(lang, &d.error)) }
                    form method="post" action="/staff/ratings/follow-up" {
                        (csrf(me))
                        input type="hidden" name="application" value=(r.application_id);
                        input type="hidden" name="item" value=(r.item);
                        input type="hidden" name="from" value=(q.from);
                        input type="hidden" name="to" value=(q.to);
                        label { (lang.t("整改情况", "What was done"))
                            textarea name="note" rows="2" maxlength="500" required { (mine.map_or("", |d| d.note.as_str())) } }
                        button type="submit" { (lang.t("标记已整改", "Mark followed up")) }
                    }
                }
            }
        }
        section.card #by-item {
            h2 { (lang.t("按事项", "By item")) }
            table.stats {
                thead { tr {
                    th { (lang.t("事项", "Item")) } th { (lang.t("件数", "Items")) } th { (lang.t("审核中", "Pending")) } th { (lang.t("逾期", "Overdue")) }
                    th { (lang.t("已办结", "Approved")) } th { (lang.t("不予批准", "Rejected")) } th { (lang.t("按时率", "On time")) }
                    th { (lang.t("时长 中位/P90", "Median/P90")) } th { (lang.t("小时 中位/P90", "Hours")) }
                    th { (lang.t("评价", "Ratings")) } th { (lang.t("满意率", "Satisfied")) } th { (lang.t("差评", "Bad")) }
                } }
                tbody {
                    @for i in &item_keys {
                        @let s = report.summary(None, Some(i));
                        tr { td { (item_name(lang, c, i)) } td.num { (s.items) } td.num { (s.pending) } td.num { (s.overdue) } td.num { (s.approved) } td.num { (s.rejected) } (timing_cells(lang, &s)) (rating_cells(&s)) }
                    }
                }
            }
        }
        section.card #by-village {
            h2 { (lang.t("按村", "By village")) }
            table.stats {
                thead { tr {
                    th { (lang.t("村", "Village")) } th { (lang.t("申请", "Applications")) } th { (lang.t("在办", "Open")) } th { (lang.t("逾期", "Overdue")) }
                    th { (lang.t("退回补正", "Returned")) } th { (lang.t("已办结事项", "Approved")) } th { (lang.t("按时率", "On time")) }
                    th { (lang.t("时长 中位/P90", "Median/P90")) } th { (lang.t("小时 中位/P90", "Hours")) }
                    th { (lang.t("评价", "Ratings")) } th { (lang.t("满意率", "Satisfied")) } th { (lang.t("差评", "Bad")) }
                } }
                tbody {
                    @for v in &village_keys {
                        @let s = report.summary(Some(*v), None);
                        @let st = report.applications_by_status(Some(*v));
                        tr data-village=(v) {
                            td { (vname(v)) }
                            td.num { (st.values().map(|x| x.0).sum::<u64>()) }
                            td.num { (st.iter().filter(|(s, _)| InboxFilter::OPEN.contains(s)).map(|(_, x)| x.0).sum::<u64>()) }
                            td.num { (st.values().map(|x| x.1).sum::<u64>()) }
                            td.num { (st.get(&AppStatus::Returned).map_or(0, |x| x.0)) }
                            td.num { (s.approved) }
                            (timing_cells(lang, &s)) (rating_cells(&s))
                        }
                    }
                }
            }
        }
    };
    Ok(frame(me, Nav::Stats, lang.t("统计", "Statistics"), body))
}

/// `GET /staff/stats`
pub async fn page(State(state): State<AppState>, me: Me, Query(q): Query<PeriodQuery>) -> WebResult<Markup> {
    render(&state, &me, &q, None).await
}

/// `GET /staff/stats.csv`: one row per village and item.
pub async fn csv(State(state): State<AppState>, me: Me, Query(q): Query<PeriodQuery>) -> WebResult<Response> {
    let lang = me.lang;
    let township = me.staff.township_id;
    let report = Report::new(state.store.statistics(township, q.period()?).await?);
    let catalogue = state.store.catalogue(township, None).await?;
    let villages = village_names(&state.store.villages(township).await?);
    let (village_keys, item_keys) = report.keys();
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let header = [
        "村 / Village",
        "事项 / Item",
        "件数 / Items",
        "审核中 / Pending",
        "逾期未办 / Overdue",
        "已办结 / Approved",
        "不予批准 / Rejected",
        "按时办结率 / On time",
        "办理时长中位数(工作日) / Median working days",
        "办理时长P90(工作日) / P90 working days",
        "办理时长中位数(小时) / Median hours",
        "办理时长P90(小时) / P90 hours",
        "评价数 / Ratings",
        "非常满意 / Very satisfied",
        "满意 / Satisfied",
        "基本满意 / Fairly satisfied",
        "不满意 / Dissatisfied",
        "非常不满意 / Very dissatisfied",
    ];
    let write_err = |e: csv::Error| WebError::from(StoreError::backend(e));
    out.write_record(header).map_err(write_err)?;
    for v in &village_keys {
        for i in &item_keys {
            let s = report.summary(Some(*v), Some(i));
            if s.items == 0 && s.timing.is_none() && s.rated() == 0 {
                continue;
            }
            let (on_time, md, pd, mh, ph) = match &s.timing {
                Some(t) => (
                    pct(t.on_time_rate()),
                    t.median_days.to_string(),
                    t.p90_days.to_string(),
                    one_decimal(t.median_hours),
                    one_decimal(t.p90_hours),
                ),
                None => Default::default(),
            };
            let mut row = vec![
                villages.get(v).map_or(v.to_string(), |n| lang.l(n).to_string()),
                item_name(lang, catalogue.as_ref(), i),
                s.items.to_string(),
                s.pending.to_string(),
                s.overdue.to_string(),
                s.approved.to_string(),
                s.rejected.to_string(),
                on_time,
                md,
                pd,
                mh,
                ph,
                s.rated().to_string(),
            ];
            row.extend(s.ratings.iter().map(u64::to_string));
            out.write_record(&row).map_err(write_err)?;
        }
    }
    let bytes = out.into_inner().map_err(|e| WebError::from(StoreError::backend(e.into_error())))?;
    let p = q.period()?;
    let name =
        format!("daiban-stats-{}-{}.csv", p.from.map_or("start".into(), |d| d.to_string()), p.to.map_or("today".into(), |d| d.to_string()));
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
    ];
    Ok((headers, bytes).into_response())
}

#[derive(Deserialize)]
pub struct FollowUpForm {
    application: String,
    item: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /staff/ratings/follow-up`
pub async fn follow_up(State(state): State<AppState>, me: Me, Form(f): Form<FollowUpForm>) -> WebResult<Response> {
    let q = PeriodQuery { from: f.from.clone(), to: f.to.clone(), done: None };
    let app: ApplicationId = f.application.parse().map_err(|_| WebError::not_found("评价不存在 / no such rating"))?;
    let note = daiban_proto::text::clean(&f.note, "整改情况", "follow-up note", Remark::MAX, true)
        .map_err(|e| e.to_string())
        .and_then(|n| Remark::parse(&n).map_err(|e| e.to_string()));
    let result = match note {
        Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
        Ok(note) => match state.store.follow_up_rating(me.staff.id, app, f.item.clone(), note).await {
            Ok(()) => Ok(()),
            Err(StoreError::Refused(r)) if r.code == daiban_proto::sync::ErrorCode::NotFound => {
                return Err(WebError::from(StoreError::Refused(r)))
            }
            Err(StoreError::Refused(r)) => Err((crate::api::error::status_of(r.code), r.message)),
            Err(e) => return Err(e.into()),
        },
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/staff/stats?{}&done=follow_up#follow-ups", q.query())).into_response()),
        Err((status, error)) => {
            let draft = FollowUpDraft { application: f.application, item: f.item, note: f.note, error };
            Ok((status, render(&state, &me, &q, Some(&draft)).await?).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ItemCount, StatusCount};

    fn report() -> Report {
        let (a, b) = (VillageId(1), VillageId(2));
        let approval = |v, item: &str, days, on_time| Approval {
            village_id: v,
            item: item.into(),
            hours: f64::from(days) * 24.0,
            working_days: days,
            on_time,
        };
        Report::new(Statistics {
            today: "2026-11-20".parse().unwrap(),
            applications: vec![
                StatusCount { village_id: a, status: AppStatus::Accepted, count: 3, overdue: 1 },
                StatusCount { village_id: b, status: AppStatus::Rated, count: 2, overdue: 0 },
            ],
            items: vec![
                ItemCount { village_id: a, item: "x".into(), status: ItemStatus::Pending, count: 3, overdue: 1 },
                ItemCount { village_id: b, item: "x".into(), status: ItemStatus::Rated, count: 1, overdue: 0 },
                ItemCount { village_id: b, item: "y".into(), status: ItemStatus::Rejected, count: 1, overdue: 0 },
            ],
            approvals: vec![approval(b, "x", 2, true), approval(b, "x", 9, false), approval(a, "y", 1, true)],
            ratings: vec![
                RatingCount { village_id: b, item: "x".into(), rating: Rating::VerySatisfied, count: 3 },
                RatingCount { village_id: b, item: "x".into(), rating: Rating::VeryDissatisfied, count: 1 },
            ],
        })
    }

    #[test]
    fn slices_add_up() {
        let r = report();
        let all = r.summary(None, None);
        assert_eq!((all.items, all.pending, all.approved, all.rejected, all.overdue), (5, 3, 1, 1, 1));
        assert_eq!(all.timing.unwrap().approved, 3);
        assert_eq!(all.ratings, [3, 0, 0, 0, 1]);
        assert_eq!((all.satisfaction(), all.bad()), (Some(0.75), 1));
        let bx = r.summary(Some(VillageId(2)), Some("x"));
        let t = bx.timing.unwrap();
        assert_eq!((t.approved, t.on_time, t.median_days, t.p90_days), (2, 1, 2, 9));
        assert!(r.summary(Some(VillageId(1)), Some("x")).timing.is_none());
        let (villages, items) = r.keys();
        assert_eq!((villages.len(), items.len()), (2, 2));
        assert_eq!(r.applications_by_status(Some(VillageId(1)))[&AppStatus::Accepted], (3, 1));
    }

    #[test]
    fn charts_escape_labels() {
        let svg = bar_chart("状态", &[("<b>".into(), 3, "st-x".into()), ("零".into(), 0, "st-y".into())]).into_string();
        assert!(svg.starts_with("<svg") && svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn periods_parse() {
        let q = PeriodQuery { from: "2026-11-01".into(), to: "2026-11-30".into(), done: None };
        assert!(q.period().unwrap().from.is_some());
        assert!(PeriodQuery { from: "2026-12-01".into(), to: "2026-11-30".into(), done: None }.period().is_err());
        assert!(PeriodQuery { from: "yesterday".into(), ..Default::default() }.period().is_err());
    }
}

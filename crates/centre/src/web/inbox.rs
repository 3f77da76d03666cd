//! The inbox (工作台): every application of the township's villages, by deadline.
//!
//! By default it shows work still open at the centre ([`InboxFilter::OPEN`]); filters narrow
//! it by status, village, item, agent (device) and overdue. Deadlines are the store's:
//! working days from acceptance, or provisionally from receipt for applications not yet
//! accepted, so that everything sorts by urgency. Paging is by keyset (the `after` cursor),
//! so the 1,000th page costs what the first does. Keyboard: j/k or ↓/↑ move between rows,
//! Enter opens one (assets/app.js); `/` jumps to the filters.

use crate::api::AppState;
use crate::store::{InboxCursor, InboxFilter, InboxPage, InboxRow, VillageId};
use crate::web::auth::Me;
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::layout::{date, frame, status_badge, time, Nav};
use axum::extract::{Query, State};
use chrono::NaiveDate;
use daiban_proto::catalogue::Catalogue;
use daiban_proto::status::AppStatus;
use daiban_proto::DeviceId;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Rows per page.
pub const PAGE_SIZE: u32 = 50;

/// Statuses staff can filter by (drafts and queued ones never reach the centre).
fn statuses() -> impl Iterator<Item = AppStatus> {
    AppStatus::ALL.into_iter().filter(|s| !matches!(s, AppStatus::Draft | AppStatus::Queued))
}

/// The query string as typed; empty values mean "any".
#[derive(Deserialize, Default, Clone)]
pub struct InboxQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    village: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    after: String,
}

fn bad(field_zh: &str, field_en: &str) -> WebError {
    WebError::bad_request(format!("筛选条件“{field_zh}”有误 / invalid filter: {field_en}"))
}

/// The China calendar day now.
pub fn today() -> NaiveDate {
    daiban_proto::china_time::today()
}

impl InboxQuery {
    /// Parse into the store's filter and cursor.
    fn parse(&self) -> WebResult<(InboxFilter, Option<InboxCursor>)> {
        let mut f = InboxFilter::default();
        match self.status.as_str() {
            "" => f.open = true,
            "all" => {}
            s => f.status = Some(AppStatus::parse(s).filter(|s| statuses().any(|x| x == *s)).ok_or_else(|| bad("状态", "status"))?),
        }
        if !self.village.is_empty() {
            f.village = Some(self.village.parse::<VillageId>().map_err(|_| bad("村", "village"))?);
        }
        if !self.item.is_empty() {
            f.item = Some(self.item.clone());
        }
        if !self.device.is_empty() {
            f.device = Some(self.device.parse::<DeviceId>().map_err(|_| bad("代办员", "agent"))?);
        }
        if !self.overdue.is_empty() {
            f.overdue_on = Some(today());
        }
        let after = match self.after.as_str() {
            "" => None,
            s => Some(s.parse::<InboxCursor>().map_err(|_| bad("页码", "page"))?),
        };
        Ok((f, after))
    }

    /// This query's URL with another cursor (`None`: first page).
    fn url(&self, after: Option<&InboxCursor>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &self.status),
            ("village", &self.village),
            ("item", &self.item),
            ("device", &self.device),
            ("overdue", &self.overdue),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if let Some(c) = after {
            q.append_pair("after", &c.to_string());
        }
        format!("/staff/inbox?{}", q.finish())
    }
}

/// Item names of a row ("一件事" name first when it is a bundle).
pub fn items_label(lang: Lang, catalogue: Option<&Catalogue>, bundle: Option<&str>, items: &[String]) -> String {
    let name = |code: &str| catalogue.and_then(|c| c.item(code)).map_or(code.to_string(), |i| lang.l(&i.name).to_string());
    let names: Vec<String> = items.iter().map(|c| name(c)).collect();
    match bundle.and_then(|b| catalogue.and_then(|c| c.bundle(b))) {
        Some(b) => format!("{}{}{}", lang.l(&b.name), lang.t("：", ": "), names.join(lang.t("、", ", "))),
        None => names.join("、"),
    }
}

/// "逾期3天" / "今天到期" / "还剩5天", while a decision is due (the time limit is for 办结:
/// once approved, nothing is counted down any more).
pub fn due_note(lang: Lang, deadline: NaiveDate, status: AppStatus, today: NaiveDate) -> Option<Markup> {
    if !matches!(status, AppStatus::Received | AppStatus::Accepted) {
        return None;
    }
    let days = (deadline - today).num_days();
    Some(match days {
        d if d < 0 => html! { span.due.overdue { (lang.t("逾期", "overdue ")) (-d) (lang.t("天", " d")) } },
        0 => html! { span.due.today { (lang.t("今天到期", "due today")) } },
        d => html! { span.due { (lang.t("还剩", "")) (d) (lang.t("天", " d left")) } },
    })
}

fn row(lang: Lang, r: &InboxRow, catalogue: Option<&Catalogue>, devices: &HashMap<DeviceId, String>, today: NaiveDate) -> Markup {
    let href = format!("/staff/applications/{}", r.id);
    html! {
        tr {
            td.deadline { (date(r.deadline)) " " @if let Some(n) = due_note(lang, r.deadline, r.status, today) { (n) } }
            td { (status_badge(lang, r.status)) }
            td { a.row-link href=(href) { (r.resident_name) } }
            td { (lang.l(&r.village_name)) }
            td.items { (items_label(lang, catalogue, r.bundle.as_deref(), &r.items)) }
            td { (devices.get(&r.device_id).map_or("—", String::as_str)) }
            td.when { (time(r.received_at)) }
            td.num { @if r.revision > 1 { span.rev title=(lang.t("补正后重新提交", "resubmitted after correction")) { (r.revision) } } @else { (r.revision) } }
        }
    }
}

/// `GET /staff/inbox`
pub async fn page(State(state): State<AppState>, me: Me, Query(q): Query<InboxQuery>) -> WebResult<maud::Markup> {
    let (filter, after) = q.parse()?;
    let township = me.staff.township_id;
    let InboxPage { rows, next } = state.store.inbox(township, filter, after.clone(), PAGE_SIZE).await?;
    let catalogue = state.store.catalogue(township, None).await?;
    let villages = state.store.villages(township).await?;
    let device_list = state.store.devices(township).await?;
    let devices: HashMap<DeviceId, String> =
        device_list.iter().map(|d| (d.id, format!("{} · {}", d.label(), me.lang.l(&d.village_name)))).collect();
    let lang = me.lang;
    let today = today();
    let selected = |a: &str, b: &str| a == b;
    let body = html! {
        form.filters #filters method="get" action="/staff/inbox" {
            label { (lang.t("状态", "Status"))
                select name="status" {
                    option value="" selected[q.status.is_empty()] { (lang.t("在办（待中心处理）", "Open at the centre")) }
                    option value="all" selected[q.status == "all"] { (lang.t("全部", "All")) }
                    @for s in statuses() { option value=(s.as_str()) selected[selected(&q.status, s.as_str())] { (lang.l(&s.label())) } }
                }
            }
            label { (lang.t("村", "Village"))
                select name="village" {
                    option value="" { (lang.t("全部村", "All villages")) }
                    @for v in &villages { option value=(v.id) selected[selected(&q.village, &v.id.to_string())] { (lang.l(&v.name)) } }
                }
            }
            label { (lang.t("事项", "Item"))
                select name="item" {
                    option value="" { (lang.t("全部事项", "All items")) }
                    @if let Some(c) = &catalogue { @for i in &c.items { option value=(i.code) selected[q.item == i.code] { (lang.l(&i.name)) } } }
                }
            }
            label { (lang.t("代办员", "Agent"))
                select name="device" {
                    option value="" { (lang.t("全部代办员", "All agents")) }
                    @for d in &device_list { option value=(d.id) selected[selected(&q.device, &d.id.to_string())] { (devices[&d.id]) } }
                }
            }
            label.check { input type="checkbox" name="overdue" value="1" checked[!q.overdue.is_empty()]; (lang.t("只看逾期", "Overdue only")) }
            button.primary type="submit" { (lang.t("筛选", "Filter")) }
            a.button href="/staff/inbox" { (lang.t("重置", "Reset")) }
        }
        p.hint { (lang.t("键盘：j/k 或 ↓/↑ 选择，回车打开，/ 跳到筛选。", "Keys: j/k or ↓/↑ to move, Enter to open, / for the filters.")) }
        @if rows.is_empty() {
            p.empty #inbox-empty { (lang.t("没有符合条件的申请。", "No applications match.")) }
        } @else {
            table.inbox #inbox {
                thead { tr {
                    th { (lang.t("办结期限", "Deadline")) } th { (lang.t("状态", "Status")) } th { (lang.t("居民", "Resident")) }
                    th { (lang.t("村", "Village")) } th { (lang.t("事项", "Items")) } th { (lang.t("代办员", "Agent")) }
                    th { (lang.t("收到时间", "Received")) } th { (lang.t("修订", "Rev.")) }
                } }
                tbody { @for r in &rows { (row(lang, r, catalogue.as_ref(), &devices, today)) } }
            }
        }
        nav.pager {
            @if after.is_some() { a.button href=(q.url(None)) { (lang.t("« 第一页", "« First page")) } }
            @if let Some(n) = &next { a.button #next-page href=(q.url(Some(n))) rel="next" { (lang.t("下一页 »", "Next page »")) } }
        }
    };
    Ok(frame(&me, Nav::Inbox, lang.t("工作台", "Inbox"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_into_filters_and_back() {
        let q = InboxQuery { village: "3".into(), overdue: "1".into(), ..Default::default() };
        let (f, after) = q.parse().unwrap();
        assert!(f.open && f.village == Some(VillageId(3)) && f.overdue_on.is_some() && after.is_none());
        assert_eq!(q.url(None), "/staff/inbox?village=3&overdue=1");
        let all = InboxQuery { status: "all".into(), ..Default::default() };
        assert!(!all.parse().unwrap().0.open);
        let returned = InboxQuery { status: "returned".into(), ..Default::default() };
        assert_eq!(returned.parse().unwrap().0.status, Some(AppStatus::Returned));
        for bad in [
            InboxQuery { status: "draft".into(), ..Default::default() },
            InboxQuery { village: "x".into(), ..Default::default() },
            InboxQuery { device: "nope".into(), ..Default::default() },
            InboxQuery { after: "garbage".into(), ..Default::default() },
        ] {
            assert_eq!(bad.parse().unwrap_err().status, axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn due_notes_only_for_open_work() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let t = d("2026-11-20");
        assert!(due_note(Lang::Zh, d("2026-11-18"), AppStatus::Accepted, t).unwrap().into_string().contains("逾期2天"));
        assert!(due_note(Lang::Zh, t, AppStatus::Received, t).unwrap().into_string().contains("今天到期"));
        assert!(due_note(Lang::En, d("2026-11-25"), AppStatus::Received, t).unwrap().into_string().contains("5 d left"));
        assert!(due_note(Lang::Zh, d("2026-11-18"), AppStatus::Rated, t).is_none());
    }
}

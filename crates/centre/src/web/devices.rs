//! Devices and enrolment codes (设备与注册码).
//!
//! A township admin makes a one-time enrolment code for a village; it is shown big (to read
//! out over the phone) and as a QR code for the agent app to scan. The QR holds
//! `daiban://enrol?centre=<centre URL>&code=<code>` (see docs/staff-ui.md): everything the
//! app needs to enrol itself against the right centre. The list shows every device of the
//! township with its last sync and the queue it last reported; an admin can revoke one, and
//! its very next request is refused. Reviewers see the list only.
//!
//! Agents are people (代办员, the roster here): a code can be issued to a named agent, and the
//! phone enrolled with it is theirs, so reviewers see the agent's name and phone and a replaced
//! phone keeps the agent's history.

use crate::api::AppState;
use crate::store::{Agent, AgentId, NewEnrolmentCode, Role, StoreError, VillageId};
use crate::web::auth::Me;
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::layout::{self, alert, csrf, frame, notice, time, Nav};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::{Duration, Utc};
use daiban_proto::DeviceId;
use maud::{html, Markup};
use serde::Deserialize;

/// Validity choices offered for a new code, in hours.
const VALIDITY_HOURS: [i64; 3] = [24, 72, 168];

/// What the enrolment QR code says: the app's enrolment link.
pub fn enrolment_link(centre: &str, code: &str, cert_pin: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("centre", centre.trim_end_matches('/')).append_pair("code", code);
    if let Some(pin) = cert_pin {
        q.append_pair("pin", pin);
    }
    format!("daiban://enrol?{}", q.finish())
}

/// The centre's address as phones should use it.
fn centre_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.web.public_url {
        return u.trim_end_matches('/').to_string();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let scheme = header("x-forwarded-proto").filter(|p| *p == "https").unwrap_or("http");
    format!("{scheme}://{}", header("host").unwrap_or("localhost"))
}

/// The QR code as inline SVG.
fn qr_svg(lang: Lang, content: &str) -> Markup {
    let svg = match qrcode::QrCode::new(content.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).quiet_zone(true).build(),
        Err(_) => return html! { p.error { (lang.t("二维码生成失败，请使用注册码。", "Could not draw the QR code; use the code.")) } },
    };
    let start = svg.find("<svg").unwrap_or(0);
    let label = lang.t("设备注册二维码", "Enrolment QR code");
    layout::trusted(svg[start..].replacen("<svg ", &format!("<svg id=\"qr\" role=\"img\" aria-label=\"{label}\" "), 1))
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// Everything the page shows.
struct Page<'a> {
    villages: &'a [crate::store::Village],
    agents: &'a [Agent],
    devices: &'a [crate::store::DeviceInfo],
}

/// An agent form that was refused, shown again with its message.
struct AgentDraft<'a> {
    form: &'a AgentForm,
    error: String,
}

fn render(me: &Me, page: &Page, created: Option<(&NewEnrolmentCode, String)>, done: Option<&str>, draft: Option<&AgentDraft>) -> Markup {
    let (state_villages, agents, devices) = (page.villages, page.agents, page.devices);
    let lang = me.lang;
    let admin = me.staff.role == Role::TownshipAdmin;
    let village_name = |id: VillageId| state_villages.iter().find(|v| v.id == id).map_or(id.to_string(), |v| lang.l(&v.name).to_string());
    let now = Utc::now();
    let body = html! {
        h1 { (lang.t("设备与注册码", "Devices and enrolment codes")) }
        @if done == Some("revoked") { (notice(lang.t("设备已停用，它的下一次同步会被拒绝。", "Device revoked; its next sync is refused."))) }
        @if done == Some("agent") { (notice(lang.t("代办员已登记，可以为他生成注册码。", "Agent added; you can make an enrolment code for them."))) }
        @if let Some((code, link)) = created {
            section.card.enrol-code #new-code {
                h2 { (lang.t("新注册码：", "New enrolment code: ")) (village_name(code.village_id))
                    @if let Some(a) = code.agent_id.and_then(|id| agents.iter().find(|a| a.id == id)) { " · " (a.name) } }
                div.code-and-qr {
                    div {
                        p.big-code #code { (code.code) }
                        p { (lang.t("有效至 ", "Valid until ")) (time(code.expires_at)) (lang.t("，只能使用一次。", "; works once.")) }
                        p.muted { (lang.t("代办员在手机“同步”页扫码，或输入注册码和中心地址。", "The agent scans it on the phone's Sync page, or types the code and the centre address.")) }
                        p.muted.small { (lang.t("二维码内容：", "QR content: ")) code #qr-content { (link) } }
                        p.muted { (lang.t("离开本页后注册码不再显示（中心只保存其摘要）。", "The code is not shown again after you leave this page (the centre keeps only its hash).")) }
                    }
                    div.qr { (qr_svg(lang, &link)) }
                }
            }
        }
        @if admin {
            section.card #enrol-form {
                h2 { (lang.t("生成设备注册码", "Make an enrolment code")) }
                form.filters method="post" action="/staff/enrolment-codes" {
                    (csrf(me))
                    label { (lang.t("代办员", "Agent"))
                        select name="agent" #code-agent {
                            option value="" { (lang.t("不指定（按村）", "none (by village)")) }
                            @for a in agents { option value=(a.id) { (a.name) "（" (village_name(a.village_id)) "）" } }
                        } }
                    label { (lang.t("村（不指定代办员时）", "Village (without an agent)"))
                        select name="village" { @for v in state_villages { option value=(v.id) { (lang.l(&v.name)) } } } }
                    label { (lang.t("有效期", "Valid for"))
                        select name="valid_hours" {
                            @for h in VALIDITY_HOURS { option value=(h) selected[h == 72] { (h / 24) (lang.t("天", " day(s)")) } }
                        } }
                    button.primary #make-code type="submit" { (lang.t("生成注册码", "Make code")) }
                }
            }
        }
        section.card #agents {
            h2 { (lang.t("代办员", "Agents")) }
            @if agents.is_empty() { p.muted { (lang.t("还没有登记代办员。", "No agents yet.")) } }
            @else {
                table.devices {
                    thead { tr { th { (lang.t("姓名", "Name")) } th { (lang.t("电话", "Phone")) } th { (lang.t("村", "Village")) } th { (lang.t("在用手机", "Phones in use")) } } }
                    tbody {
                        @for a in agents {
                            tr data-agent=(a.id) {
                                td { (a.name) } td { (a.phone) } td { (village_name(a.village_id)) }
                                td.num { (devices.iter().filter(|d| d.revoked_at.is_none() && d.agent.as_ref().is_some_and(|x| x.id == a.id)).count()) }
                            }
                        }
                    }
                }
            }
            @if admin {
                h3 { (lang.t("登记代办员", "Add an agent")) }
                @if let Some(d) = draft { (alert(lang, &d.error)) }
                form.filters method="post" action="/staff/agents" #agent-form {
                    (csrf(me))
                    label { (lang.t("姓名", "Name")) input name="name" required maxlength="40" value=(draft.map_or("", |d| d.form.name.as_str())); }
                    label { (lang.t("手机号", "Phone")) input name="phone" required inputmode="tel" value=(draft.map_or("", |d| d.form.phone.as_str())); }
                    label { (lang.t("村", "Village"))
                        select name="village" required { @for v in state_villages { option value=(v.id) selected[draft.is_some_and(|d| d.form.village == v.id.to_string())] { (lang.l(&v.name)) } } } }
                    button.primary #add-agent type="submit" { (lang.t("登记", "Add")) }
                }
                p.hint { (lang.t("换手机时：为代办员生成新注册码，新手机注册后停用旧手机；以前办理的记录都还在他名下。", "A new phone: make a new code for the agent, enrol the new phone, then revoke the old one; the history stays with the agent.")) }
            }
        }
        section.card #devices {
            h2 { (lang.t("已注册设备", "Enrolled devices")) }
            @if devices.is_empty() { p.muted { (lang.t("还没有设备。", "No devices yet.")) } }
            @else {
                table.devices {
                    thead { tr {
                        th { (lang.t("村", "Village")) } th { (lang.t("代办员", "Agent")) } th { (lang.t("设备", "Device")) } th { (lang.t("注册时间", "Enrolled")) }
                        th { (lang.t("最近同步", "Last sync")) } th { (lang.t("待上传", "Queued")) } th { (lang.t("状态", "State")) } th {}
                    } }
                    tbody {
                        @for d in devices {
                            tr data-device=(d.id) class=[d.revoked_at.map(|_| "revoked")] {
                                td { (lang.l(&d.village_name)) }
                                td { @match &d.agent { Some(a) => { (a.name) " " (a.phone) }, None => span.muted { "—" } } }
                                td { (d.name) }
                                td { (time(d.enrolled_at)) }
                                td { @match d.last_seen_at {
                                    Some(t) => { (time(t)) @let h = (now - t).num_hours(); @if h >= 48 { " " span.due.overdue { (h / 24) (lang.t("天未同步", " days silent")) } } },
                                    None => span.muted { (lang.t("从未同步", "never")) },
                                } }
                                td.num { (d.queue_len) }
                                td { @match d.revoked_at { Some(t) => { (lang.t("已停用 ", "revoked ")) (time(t)) }, None => (lang.t("使用中", "active")) } }
                                td { @if admin && d.revoked_at.is_none() {
                                    form.inline method="post" action=(format!("/staff/devices/{}/revoke", d.id))
                                        data-confirm=(lang.t("确认停用这部手机？它的下一次同步会被拒绝，手机上没发出的内容不会再收到。", "Revoke this phone? Its next sync is refused; what it has not sent will not arrive.")) {
                                        (csrf(me))
                                        button.danger.small type="submit" { (lang.t("停用", "Revoke")) }
                                    }
                                } }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(me, Nav::Devices, lang.t("设备与注册码", "Devices"), body)
}

/// `GET /staff/devices`
pub async fn page(State(state): State<AppState>, me: Me, Query(q): Query<Done>) -> WebResult<Markup> {
    show(&state, &me, None, q.done.as_deref(), None).await
}

async fn show(
    state: &AppState,
    me: &Me,
    created: Option<(&NewEnrolmentCode, String)>,
    done: Option<&str>,
    draft: Option<&AgentDraft<'_>>,
) -> WebResult<Markup> {
    let township = me.staff.township_id;
    let (villages, agents, devices) =
        (state.store.villages(township).await?, state.store.agents(township).await?, state.store.devices(township).await?);
    Ok(render(me, &Page { villages: &villages, agents: &agents, devices: &devices }, created, done, draft))
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    village: String,
    #[serde(default)]
    agent: String,
    valid_hours: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AgentForm {
    name: String,
    phone: String,
    village: String,
}

/// `POST /staff/agents`: put an agent on the roster; a refusal comes back with what was typed.
pub async fn add_agent(State(state): State<AppState>, me: Me, Form(f): Form<AgentForm>) -> WebResult<Response> {
    let village: VillageId = f.village.parse().map_err(|_| WebError::not_found("村不存在 / no such village"))?;
    match state.store.add_agent(me.staff.id, village, &f.name, &f.phone).await {
        Ok(_) => Ok(Redirect::to("/staff/devices?done=agent#agents").into_response()),
        Err(StoreError::Refused(r)) if r.code == daiban_proto::sync::ErrorCode::Validation => {
            let draft = AgentDraft { form: &f, error: r.message };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, show(&state, &me, None, None, Some(&draft)).await?).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /staff/enrolment-codes`
pub async fn create_code(State(state): State<AppState>, me: Me, headers: HeaderMap, Form(f): Form<CodeForm>) -> WebResult<Markup> {
    if !VALIDITY_HOURS.contains(&f.valid_hours) {
        return Err(WebError::bad_request("有效期不在可选范围内 / unsupported validity"));
    }
    let valid_for = Duration::hours(f.valid_hours);
    let code = if f.agent.is_empty() {
        let village: VillageId = f.village.parse().map_err(|_| WebError::not_found("村不存在 / no such village"))?;
        state.store.create_enrolment_code(me.staff.id, village, valid_for).await?
    } else {
        let agent: AgentId = f.agent.parse().map_err(|_| WebError::not_found("代办员不存在 / no such agent"))?;
        state.store.create_agent_enrolment_code(me.staff.id, agent, valid_for).await?
    };
    let link = enrolment_link(&centre_url(&state, &headers), &code.code, state.web.cert_pin.as_deref());
    show(&state, &me, Some((&code, link)), None, None).await
}

/// `POST /staff/devices/{id}/revoke`
pub async fn revoke(State(state): State<AppState>, me: Me, Path(id): Path<String>) -> WebResult<Response> {
    let id: DeviceId = id.parse().map_err(|_| WebError::not_found("设备不存在 / no such device"))?;
    state.store.revoke_device(me.staff.id, id).await?;
    Ok(Redirect::to("/staff/devices?done=revoked").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_links_carry_centre_and_code() {
        assert_eq!(
            enrolment_link("http://192.168.1.10:8080/", "K7PQ-2M9X", None),
            "daiban://enrol?centre=http%3A%2F%2F192.168.1.10%3A8080&code=K7PQ-2M9X"
        );
        assert_eq!(
            enrolment_link("https://10.0.0.2", "K7PQ-2M9X", Some("sha256:ab12")),
            "daiban://enrol?centre=https%3A%2F%2F10.0.0.2&code=K7PQ-2M9X&pin=sha256%3Aab12"
        );
        let svg = qr_svg(Lang::Zh, &enrolment_link("http://x", "AAAA-BBBB", None)).into_string();
        assert!(svg.starts_with("<svg id=\"qr\"") && svg.contains("设备注册二维码"));
    }
}

//! The page frame (header with navigation, user, language switch and logout), small shared
//! pieces (CSRF field, status badges, China-time formatting) and the static CSS/JS.

use crate::store::Role;
use crate::web::auth::Me;
use crate::web::i18n::Lang;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use daiban_proto::status::AppStatus;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Sections of the header navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Inbox,
    Stats,
    Devices,
    Accounts,
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        (DOCTYPE)
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · " (lang.t("代办 · 镇便民服务中心", "Daiban · township centre")) }
        link rel="stylesheet" href="/staff/assets/style.css";
        script src="/staff/assets/app.js" defer {}
    }
}

fn lang_switch(lang: Lang, back: &str) -> Markup {
    let (to, label) = if lang.english() { ("zh", "中文") } else { ("en", "English") };
    let href = format!("/staff/lang/{to}?back={}", form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>());
    html! { a.lang-switch href=(href) lang=(if lang.english() { "zh-CN" } else { "en" }) { (label) } }
}

/// A page without navigation (login, errors).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        html lang=(lang.code()) {
            (head(lang, title))
            body.bare {
                header.top {
                    span.brand { (lang.t("代办 · 镇便民服务中心工作台", "Daiban · township centre desk")) }
                    span.spacer {}
                    (lang_switch(lang, "/staff/login"))
                }
                (body)
            }
        }
    }
}

/// A signed-in page.
pub fn frame(me: &Me, nav: Nav, title: &str, body: Markup) -> Markup {
    let lang = me.lang;
    let admin = me.staff.role == Role::TownshipAdmin;
    let link = |n: Nav, href: &str, zh: &str, en: &str, key: &str| {
        html! { a href=(href) accesskey=(key) aria-current=[(n == nav).then_some("page")] { (lang.t(zh, en)) } }
    };
    html! {
        html lang=(lang.code()) {
            (head(lang, title))
            body {
                header.top {
                    span.brand { (lang.l(&me.township)) }
                    nav {
                        (link(Nav::Inbox, "/staff/inbox", "工作台", "Inbox", "1"))
                        (link(Nav::Stats, "/staff/stats", "统计", "Statistics", "2"))
                        (link(Nav::Devices, "/staff/devices", "设备与注册码", "Devices", "3"))
                        @if admin { (link(Nav::Accounts, "/staff/accounts", "工作人员", "Staff", "4")) }
                    }
                    span.spacer {}
                    span.who { (me.staff.display_name) " · " (lang.l(&me.staff.role.label())) }
                    (lang_switch(lang, &me.path))
                    form.inline method="post" action="/staff/logout" {
                        (csrf(me))
                        button.link type="submit" { (lang.t("退出", "Log out")) }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden CSRF field every POST form carries.
pub fn csrf(me: &Me) -> Markup {
    html! { input type="hidden" name="csrf" value=(me.csrf); }
}

pub fn status_badge(lang: Lang, s: AppStatus) -> Markup {
    html! { span class=(format!("badge st-{}", s.as_str())) { (lang.l(&s.label())) } }
}

fn china() -> FixedOffset {
    daiban_proto::china_time::offset()
}

/// `2026-11-23 16:30` in China time.
pub fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&china()).format("%Y-%m-%d %H:%M").to_string()
}

pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A flash line after a successful action (`?done=…`).
pub fn notice(text: &str) -> Markup {
    html! { p.notice role="status" { "✓ " (text) } }
}

/// An error line that keeps the reader's attention (`role=alert`).
/// An error message (written `中文 / English`) in the reader's language.
pub fn alert(lang: Lang, text: &str) -> Markup {
    html! { p.error role="alert" { (daiban_proto::text::in_language(text, lang.english())) } }
}

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// The stylesheet (no personal data: cacheable).
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLE)
}

pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], SCRIPT)
}

/// Raw, trusted markup (generated SVG).
pub fn trusted(svg: String) -> Markup {
    PreEscaped(svg)
}

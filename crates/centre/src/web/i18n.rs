//! Language of the staff UI: Chinese by default, English when the `daiban_lang` cookie says
//! so (set by the switch in the page header, which works without being logged in).

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use daiban_proto::catalogue::L10n;
use serde::Deserialize;
use std::convert::Infallible;

pub const LANG_COOKIE: &str = "daiban_lang";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn english(self) -> bool {
        self == Lang::En
    }
    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        if self.english() {
            en
        } else {
            zh
        }
    }
    /// A catalogue or label text in this language (Chinese when no translation exists).
    pub fn l(self, text: &L10n) -> &str {
        text.get(self.english())
    }
    pub fn code(self) -> &'static str {
        self.t("zh-CN", "en")
    }
    pub fn from_jar(jar: &CookieJar) -> Self {
        match jar.get(LANG_COOKIE).map(|c| c.value()) {
            Some("en") => Lang::En,
            _ => Lang::Zh,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Lang::from_jar(&CookieJar::from_headers(&parts.headers)))
    }
}

#[derive(Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// A path of this UI to go back to (never another site: no scheme, no `//`).
pub fn local_path(p: Option<&str>) -> Option<&str> {
    p.filter(|p| p.starts_with("/staff/") && !p.starts_with("//") && !p.contains('\\') && !p.contains("://"))
}

/// `GET /staff/lang/{zh|en}?back=/staff/…`: remember the language, go back.
pub async fn switch(Path(lang): Path<String>, Query(q): Query<Back>, jar: CookieJar) -> impl IntoResponse {
    let value = if lang == "en" { "en" } else { "zh" };
    let cookie = Cookie::build((LANG_COOKIE, value)).path("/").same_site(SameSite::Lax).permanent().build();
    let back = local_path(q.back.as_deref()).unwrap_or("/staff/inbox").to_string();
    (jar.add(cookie), Redirect::to(&back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/staff/inbox?status=all")), Some("/staff/inbox?status=all"));
        for bad in ["//evil.example/staff/", "https://evil.example/", "/api/v1/push", "/staff/\\evil", "/staff/x?u=http://e"] {
            assert_eq!(local_path(Some(bad)), None, "{bad}");
        }
    }
}

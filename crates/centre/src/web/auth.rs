//! Staff login, sessions and CSRF.
//!
//! - Login checks the password with argon2 through the store (same cost for unknown users).
//!   The login form itself is protected by a double-submit token: a random `daiban_login`
//!   cookie that the form must echo.
//! - A session is a random 256-bit token in the `daiban_staff` cookie (HttpOnly,
//!   SameSite=Strict, Path=/staff, Secure under TLS); the store keeps only its SHA-256, with
//!   an idle and an absolute expiry ([`crate::store::SessionPolicy`]). Logout deletes it.
//! - CSRF: every signed-in form carries `csrf` = SHA-256 of a fixed label and the session
//!   token, so it is per session, needs no storage, and cannot be computed without the
//!   HttpOnly cookie. [`require_staff`] checks it on EVERY POST before any handler runs
//!   (constant-time), so a handler cannot forget it; a bad or missing token is a 403 and
//!   nothing happens.

use crate::api::AppState;
use crate::store::secret::fingerprint;
use crate::store::{Staff, Township};
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::{local_path, Lang};
use crate::web::layout::{self, alert};
use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use axum_extra::extract::Form;
use chrono::Utc;
use daiban_proto::catalogue::L10n;
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use std::time::Instant;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "daiban_staff";
const LOGIN_COOKIE: &str = "daiban_login";
/// Largest form body (reasons, notes and checklists are small).
const FORM_LIMIT: usize = 64 * 1024;
/// A session's activity is written back at most this often.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// The signed-in staff member, for handlers (put in place by [`require_staff`]).
#[derive(Clone, Debug)]
pub struct Me {
    pub staff: Staff,
    pub township: L10n,
    /// This session's CSRF token, for the forms of the page.
    pub csrf: String,
    pub lang: Lang,
    /// Path and query of the current request (for the language switch).
    pub path: String,
    token_hash: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Me {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WebError> {
        parts.extensions.get::<Me>().cloned().ok_or_else(|| WebError::forbidden("请先登录 / please log in"))
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn csrf_of(session_token: &str) -> String {
    fingerprint(&format!("daiban-staff-csrf\n{session_token}"))
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Cookies are `Secure` when configured, or when a TLS-ending proxy says the request was https.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.web.secure_cookies || headers.get("x-forwarded-proto").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value)).path("/staff").http_only(true).same_site(SameSite::Strict).secure(secure).build()
}

fn to_login(next: Option<&str>, expired: bool) -> Response {
    let mut url = String::from("/staff/login");
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(n) = next {
        q.append_pair("next", n);
    }
    if expired {
        q.append_pair("expired", "1");
    }
    let q = q.finish();
    if !q.is_empty() {
        url = format!("{url}?{q}");
    }
    Redirect::to(&url).into_response()
}

/// Middleware of every signed-in route: a live session, and on POST a valid CSRF token.
pub async fn require_staff(State(state): State<AppState>, jar: CookieJar, req: Request, next: Next) -> Result<Response, WebError> {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return Ok(to_login((req.method() == Method::GET).then_some(path.as_str()), false));
    };
    let token_hash = fingerprint(&token);
    let Some(session) = state.store.staff_session(&token_hash, state.web.session).await? else {
        let back = (req.method() == Method::GET).then_some(path.as_str());
        return Ok((jar.remove(Cookie::build(SESSION_COOKIE).path("/staff")), to_login(back, true)).into_response());
    };
    if Utc::now() - session.last_seen_at > TOUCH_EVERY {
        state.store.touch_staff_session(&token_hash).await?;
    }
    let csrf = csrf_of(&token);
    let (mut parts, body) = req.into_parts();
    let body = if parts.method == Method::POST {
        let bytes = to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "提交的内容太大 / form too large"))?;
        let sent = form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        if !sent.is_some_and(|s| same(&s, &csrf)) {
            return Err(WebError::forbidden(
                "安全校验失败(CSRF),请刷新页面后重试 / security check failed (CSRF): reload the page and try again",
            ));
        }
        Body::from(bytes)
    } else {
        body
    };
    let township = state.store.township(session.staff.township_id).await?.map(|t: Township| t.name).unwrap_or_default();
    let lang = Lang::from_jar(&jar);
    crate::api::observe::record_staff(session.staff.id);
    parts.extensions.insert(Me { staff: session.staff, township, csrf, lang, path, token_hash });
    Ok(next.run(Request::from_parts(parts, body)).await)
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
    bye: Option<String>,
    setup: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

fn login_form(lang: Lang, token: &str, username: &str, next: Option<&str>, message: Option<(bool, &str)>) -> maud::Markup {
    let body = html! {
        main.narrow {
            section.card.login {
                h1 { (lang.t("工作人员登录", "Staff login")) }
                @match message {
                    Some((true, m)) => (alert(lang, m)),
                    Some((false, m)) => (layout::notice(m)),
                    None => {},
                }
                form method="post" action="/staff/login" {
                    input type="hidden" name="csrf" value=(token);
                    @if let Some(n) = next { input type="hidden" name="next" value=(n); }
                    label for="username" { (lang.t("用户名", "User name")) }
                    input #username name="username" value=(username) autocomplete="username" required autofocus[username.is_empty()];
                    label for="password" { (lang.t("密码", "Password")) }
                    input #password type="password" name="password" autocomplete="current-password" required autofocus[!username.is_empty()];
                    button.primary type="submit" { (lang.t("登录", "Log in")) }
                }
            }
        }
    };
    layout::bare(lang, lang.t("登录", "Log in"), body)
}

/// `GET /staff/login`
pub async fn login_page(
    State(state): State<AppState>,
    lang: Lang,
    jar: CookieJar,
    headers: HeaderMap,
    q: axum::extract::Query<LoginQuery>,
) -> Response {
    let token = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string()).unwrap_or_else(random_token);
    let message = if q.expired.is_some() {
        Some((true, lang.t("登录已过期，请重新登录。", "Your session has expired; please log in again.")))
    } else if q.bye.is_some() {
        Some((false, lang.t("已退出登录。", "You have logged out.")))
    } else if q.setup.is_some() {
        Some((
            false,
            lang.t("首次设置已完成，请用刚建立的管理员账号登录。", "Set up: log in with the administrator account you just made."),
        ))
    } else if state.web.first_run.as_ref().is_some_and(|r| r.pending()) {
        Some((
            true,
            lang.t(
                "这台中心还没有完成首次设置：请打开服务启动时打印的一次性设置链接。",
                "This centre is not set up yet: open the one-time set-up link printed when the service started.",
            ),
        ))
    } else {
        None
    };
    let next = local_path(q.next.as_deref());
    let jar = jar.add(cookie(LOGIN_COOKIE, token.clone(), secure(&state, &headers)));
    (jar, login_form(lang, &token, "", next, message)).into_response()
}

/// `POST /staff/login`
pub async fn login(
    State(state): State<AppState>,
    lang: Lang,
    jar: CookieJar,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> WebResult<Response> {
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.as_deref().is_some_and(|e| same(e, &f.csrf)) {
        return Err(WebError::forbidden(
            "安全校验失败(CSRF),请刷新登录页后重试 / security check failed (CSRF): reload the login page and try again",
        ));
    }
    let next = local_path(f.next.as_deref());
    let throttle = &state.web.login_throttle;
    if let Some(wait) = throttle.locked(&f.username, Instant::now()) {
        // refused before the password is even checked
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let m = match lang {
            Lang::Zh => format!("连续输错密码的次数太多，请{minutes}分钟后再试。"),
            Lang::En => format!("Too many wrong passwords: try again in {minutes} minute(s)."),
        };
        let page = login_form(lang, &f.csrf, f.username.trim(), next, Some((true, &m)));
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    let Some(staff) = state.store.verify_staff_password(&f.username, &f.password).await? else {
        throttle.failed(&f.username, Instant::now());
        let m = lang.t("用户名或密码错误。", "Wrong user name or password.");
        let page = login_form(lang, &f.csrf, f.username.trim(), next, Some((true, m)));
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    };
    throttle.succeeded(&f.username);
    let token = random_token();
    state.store.start_staff_session(staff.id, fingerprint(&token), state.web.session).await?;
    let secure = secure(&state, &headers);
    let jar = jar.remove(Cookie::build(LOGIN_COOKIE).path("/staff")).add(cookie(SESSION_COOKIE, token, secure));
    Ok((jar, Redirect::to(next.unwrap_or("/staff/inbox"))).into_response())
}

/// `POST /staff/logout`
pub async fn logout(State(state): State<AppState>, me: Me, jar: CookieJar) -> WebResult<Response> {
    state.store.end_staff_session(&me.token_hash).await?;
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/staff"));
    Ok((jar, Redirect::to("/staff/login?bye=1")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_are_per_session() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(csrf_of(&a), csrf_of(&b));
        assert_eq!(csrf_of(&a), csrf_of(&a));
        assert!(same(&csrf_of(&a), &csrf_of(&a)) && !same(&csrf_of(&a), &csrf_of(&b)) && !same("", "x"));
    }
}

//! First run: a centre whose database has no township yet prints a one-time, expiring link
//! (`serve` does, on start); whoever opens it sets up the township and its first
//! administrator, who then logs in and does the rest in the web UI or with
//! `daiban-centre admin`. Until then nobody can log in, because there is nobody.
//!
//! The link's token is 256 random bits, kept only as its SHA-256, compared in constant time,
//! good once and for [`FirstRun::VALID_FOR`]; the token in the form also stands in for the
//! CSRF check (nobody else knows it). A restart prints a new link while the set-up is not done.

use crate::admin::{self, AdminError};
use crate::api::AppState;
use crate::store::secret::fingerprint;
use crate::store::{Role, MIN_PASSWORD_CHARS};
use crate::web::error::{WebError, WebResult};
use crate::web::i18n::Lang;
use crate::web::layout::{self, alert};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use chrono::{DateTime, Duration, Utc};
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use subtle::ConstantTimeEq;

/// The pending first-run set-up of a centre without a township.
#[derive(Debug)]
pub struct FirstRun {
    token_hash: String,
    expires_at: DateTime<Utc>,
    done: AtomicBool,
}

impl FirstRun {
    /// How long the printed link works.
    pub const VALID_FOR: Duration = Duration::hours(24);

    /// A new set-up and its token, to be put into the printed link ([`FirstRun::link`]).
    pub fn new() -> (FirstRun, String) {
        let mut b = [0u8; 32];
        rand::rng().fill_bytes(&mut b);
        let token = hex::encode(b);
        (FirstRun { token_hash: fingerprint(&token), expires_at: Utc::now() + Self::VALID_FOR, done: AtomicBool::new(false) }, token)
    }

    /// `{centre}/staff/setup?token=…`
    pub fn link(centre: &str, token: &str) -> String {
        format!("{}/staff/setup?token={token}", centre.trim_end_matches('/'))
    }

    pub fn pending(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
    }

    fn check(&self, token: &str, now: DateTime<Utc>) -> WebResult<()> {
        if !self.pending() {
            return Err(WebError::not_found("首次设置已经完成，请登录 / the first set-up is done: log in"));
        }
        let ok: bool = fingerprint(token).as_bytes().ct_eq(self.token_hash.as_bytes()).into();
        if !ok || now > self.expires_at {
            return Err(WebError::forbidden(
                "设置链接不对或已过期：重启中心服务会打印新的链接 / wrong or expired set-up link: restart the centre for a new one",
            ));
        }
        Ok(())
    }
}

/// The pending set-up, when there is one.
fn first_run(state: &AppState) -> WebResult<&FirstRun> {
    state.web.first_run.as_deref().ok_or_else(|| WebError::not_found("首次设置已经完成，请登录 / the first set-up is done: log in"))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SetupForm {
    token: String,
    township_code: String,
    township_name: String,
    township_name_en: String,
    username: String,
    display_name: String,
    password: String,
    password_again: String,
}

fn form(lang: Lang, f: &SetupForm, error: Option<&str>) -> maud::Markup {
    let body = html! {
        main.narrow {
            section.card.setup {
                h1 { (lang.t("首次设置", "First set-up")) }
                p.hint { (lang.t(
                    "建立本中心服务的乡镇和第一个镇管理员账号。之后用这个账号登录，添加审核员、发放设备注册码；村名单、事项清单也可以用 daiban-centre admin 命令导入。",
                    "Create the township this centre serves and its first administrator. Log in with that account to add reviewers and issue enrolment codes; villages and the catalogue can also be imported with daiban-centre admin.")) }
                @if let Some(e) = error { (alert(lang, e)) }
                form.stack method="post" action="/staff/setup" #setup-form {
                    input type="hidden" name="token" value=(f.token);
                    fieldset {
                        legend { (lang.t("乡镇", "Township")) }
                        label { (lang.t("统计用区划代码（12位）", "Division code (12 digits)")) input #township_code name="township_code" required inputmode="numeric" value=(f.township_code) placeholder="370611101000"; }
                        label { (lang.t("镇名", "Name")) input #township_name name="township_name" required value=(f.township_name) placeholder="桃源镇"; }
                        label { (lang.t("英文名（可不填）", "English name (optional)")) input #township_name_en name="township_name_en" value=(f.township_name_en); }
                    }
                    fieldset {
                        legend { (lang.t("镇管理员", "Township administrator")) }
                        label { (lang.t("用户名（登录用，不含空格）", "User name (for login, no spaces)")) input #username name="username" required autocomplete="off" value=(f.username); }
                        label { (lang.t("姓名", "Name")) input #display_name name="display_name" required value=(f.display_name); }
                        label { (lang.t("密码（至少10位）", "Password (at least 10 characters)")) input #password type="password" name="password" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password"; }
                        label { (lang.t("再输一次密码", "Password again")) input #password_again type="password" name="password_again" required minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password"; }
                    }
                    button.primary type="submit" { (lang.t("完成设置", "Set up")) }
                }
            }
        }
    };
    layout::bare(lang, lang.t("首次设置", "First set-up"), body)
}

/// `GET /staff/setup?token=…`
pub async fn page(State(state): State<AppState>, lang: Lang, Query(q): Query<TokenQuery>) -> WebResult<maud::Markup> {
    first_run(&state)?.check(&q.token, Utc::now())?;
    Ok(form(lang, &SetupForm { token: q.token, ..SetupForm::default() }, None))
}

/// `POST /staff/setup`: the township and its first administrator; then the login page.
pub async fn submit(State(state): State<AppState>, lang: Lang, Form(f): Form<SetupForm>) -> WebResult<Response> {
    let run = first_run(&state)?;
    run.check(&f.token, Utc::now())?;
    let again = |message: String| (StatusCode::UNPROCESSABLE_ENTITY, form(lang, &f, Some(&message))).into_response();
    if f.password != f.password_again {
        return Ok(again("两次输入的密码不一样 / the passwords differ".into()));
    }
    // the administrator's account is checked before the township is made, so a wrong field
    // leaves nothing half set up
    if let Err(e) = admin::check_staff(state.store.as_ref(), &f.username, &f.display_name, &f.password).await {
        return Ok(again(e.to_string()));
    }
    let name_en = Some(f.township_name_en.as_str()).filter(|s| !s.trim().is_empty());
    let township = match admin::township(state.store.as_ref(), &f.township_code, &f.township_name, name_en).await {
        Ok((t, _)) => t,
        Err(AdminError::Invalid(m)) => return Ok(again(m)),
        Err(e) => return Err(WebError::from(e)),
    };
    match admin::add_staff(state.store.as_ref(), &township, &f.username, &f.display_name, Role::TownshipAdmin, &f.password).await {
        Ok(_) => {}
        Err(AdminError::Invalid(m)) => return Ok(again(m)),
        Err(e) => return Err(WebError::from(e)),
    }
    run.done.store(true, Ordering::SeqCst);
    tracing::info!(township = %township.code, "first set-up done");
    Ok(Redirect::to("/staff/login?setup=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_works_once_for_its_own_token_and_not_after_it_expires() {
        let (run, token) = FirstRun::new();
        let now = Utc::now();
        assert!(run.check(&token, now).is_ok());
        assert_eq!(run.check("0".repeat(64).as_str(), now).unwrap_err().status, StatusCode::FORBIDDEN);
        assert_eq!(run.check(&token, now + FirstRun::VALID_FOR + Duration::minutes(1)).unwrap_err().status, StatusCode::FORBIDDEN);
        run.done.store(true, Ordering::SeqCst);
        assert_eq!(run.check(&token, now).unwrap_err().status, StatusCode::NOT_FOUND);
        assert_eq!(FirstRun::link("http://10.0.0.2:8080/", "ab"), "http://10.0.0.2:8080/staff/setup?token=ab");
    }
}

//! Staff accounts of the township (工作人员). Only a township admin sees this page and adds
//! accounts (the store checks the role again); passwords are hashed with argon2 by the store.

use crate::api::AppState;
use crate::store::{NewStaff, Role, StoreError};
use crate::web::auth::Me;
use crate::web::error::{WebError, WebResult};
use crate::web::layout::{alert, csrf, frame, notice, Nav};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use maud::{html, Markup};
use serde::Deserialize;

/// Shortest password accepted for a new account.
const MIN_PASSWORD: usize = crate::store::MIN_PASSWORD_CHARS;

fn admin_only(me: &Me) -> WebResult<()> {
    if me.staff.role == Role::TownshipAdmin {
        Ok(())
    } else {
        Err(WebError::forbidden("只有镇管理员可以管理工作人员账号 / only a township admin manages staff accounts"))
    }
}

#[derive(Deserialize, Default)]
pub struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn render(state: &AppState, me: &Me, draft: Option<(&AccountForm, &str)>, done: bool) -> WebResult<Markup> {
    let lang = me.lang;
    let staff = state.store.staff_of(me.staff.township_id).await?;
    let (form, error) = match draft {
        Some((f, e)) => (Some(f), Some(e)),
        None => (None, None),
    };
    let value = |get: fn(&AccountForm) -> &str| form.map_or("", get);
    let role = form.map_or("reviewer", |f| f.role.as_str());
    let body = html! {
        h1 { (lang.t("工作人员", "Staff accounts")) }
        @if done { (notice(lang.t("账号已创建。", "Account created."))) }
        section.card #accounts {
            table.devices {
                thead { tr { th { (lang.t("姓名", "Name")) } th { (lang.t("用户名", "User name")) } th { (lang.t("角色", "Role")) } th { (lang.t("状态", "State")) } } }
                tbody { @for s in &staff {
                    tr { td { (s.display_name) } td { (s.username) } td { (lang.l(&s.role.label())) } td { @if s.active { (lang.t("在用", "active")) } @else { (lang.t("已停用", "disabled")) } } }
                } }
            }
        }
        section.card #new-account {
            h2 { (lang.t("添加账号", "Add an account")) }
            @if let Some(e) = error { (alert(lang, e)) }
            form.stack method="post" action="/staff/accounts" {
                (csrf(me))
                label { (lang.t("用户名（登录用，不含空格）", "User name (for login, no spaces)")) input name="username" required value=(value(|f| &f.username)) autocomplete="off"; }
                label { (lang.t("显示姓名", "Display name")) input name="display_name" required value=(value(|f| &f.display_name)); }
                label { (lang.t("初始密码（至少10位）", "Initial password (at least 10 characters)")) input type="password" name="password" required minlength=(MIN_PASSWORD) autocomplete="new-password"; }
                fieldset.modes {
                    legend { (lang.t("角色", "Role")) }
                    @for r in [Role::Reviewer, Role::TownshipAdmin] {
                        label.check { input type="radio" name="role" value=(r.as_str()) checked[role == r.as_str()]; (lang.l(&r.label())) }
                    }
                }
                button.primary type="submit" { (lang.t("创建账号", "Create account")) }
            }
        }
    };
    Ok(frame(me, Nav::Accounts, lang.t("工作人员", "Staff"), body))
}

/// `GET /staff/accounts`
pub async fn page(State(state): State<AppState>, me: Me, Query(q): Query<Done>) -> WebResult<Markup> {
    admin_only(&me)?;
    render(&state, &me, None, q.done.is_some()).await
}

/// `POST /staff/accounts`
pub async fn create(State(state): State<AppState>, me: Me, Form(f): Form<AccountForm>) -> WebResult<Response> {
    admin_only(&me)?;
    let refused = |status: StatusCode, message: String| (status, message);
    let outcome = match Role::parse(&f.role) {
        None => Err(refused(StatusCode::UNPROCESSABLE_ENTITY, "请选择角色 / choose a role".to_string())),
        Some(_) if f.password.chars().count() < MIN_PASSWORD => Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("密码至少{MIN_PASSWORD}位 / the password needs at least {MIN_PASSWORD} characters"),
        )),
        Some(role) => {
            let new = NewStaff {
                township_id: me.staff.township_id,
                username: f.username.clone(),
                display_name: f.display_name.clone(),
                role,
                password: f.password.clone(),
            };
            match state.store.add_staff(me.staff.id, new).await {
                Ok(_) => Ok(()),
                Err(StoreError::Refused(r)) => Err(refused(crate::api::error::status_of(r.code), r.message)),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/staff/accounts?done=1").into_response()),
        Err((status, message)) => Ok((status, render(&state, &me, Some((&f, &message)), false).await?).into_response()),
    }
}

//! The server-rendered pages: sign-in, the home page of each role, and the administration
//! pages of the foundation (users, departments, the audit log).

use crate::auth::{self, Ctx, PRE_CSRF_COOKIE, SESSION_COOKIE, Signed};
use crate::error::{ErrorKind, PageError, from_store};
use crate::i18n::{Lang, T};
use crate::templates::*;
use crate::{AppState, client_addr};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dadong_domain::Role;
use dadong_store::{Actor, NewUser, StoreError};
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

fn internal(lang: Lang) -> impl Fn(StoreError) -> PageError {
    move |e| {
        let (kind, message) = from_store(e);
        PageError::new(kind, message, lang)
    }
}

pub fn actor_of(p: &auth::Principal) -> Actor {
    Actor::User {
        id: p.user.id,
        username: p.user.username.clone(),
    }
}

/// Only a path on this site is a safe place to return to after signing in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() < 512 => n.to_string(),
        _ => "/home".to_string(),
    }
}

pub async fn root(Ctx(ctx): Ctx) -> Redirect {
    Redirect::to(if ctx.principal.is_some() { "/home" } else { "/login" })
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn login_page(State(state): State<AppState>, Ctx(ctx): Ctx, Query(q): Query<NextQuery>) -> Response {
    if ctx.principal.is_some() {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    login_form(
        &state,
        ctx.lang,
        ctx.pre_csrf,
        safe_next(q.next.as_deref()),
        String::new(),
        None,
        StatusCode::OK,
    )
}

fn login_form(state: &AppState, lang: Lang, pre_csrf: Option<String>, next: String, username: String, error: Option<String>, status: StatusCode) -> Response {
    let t = T::new(lang);
    let token = pre_csrf.filter(|t| !t.is_empty()).unwrap_or_else(|| dadong_domain::crypto::random_token(24));
    let page = LoginPage {
        t,
        nav: Nav::anonymous(t),
        pre_csrf: token.clone(),
        next,
        username,
        error,
    };
    let mut response = (status, render(&page)).into_response();
    let cookie = auth::set_cookie(PRE_CSRF_COOKIE, &token, 3600, state.config.secure_cookies, true);
    response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

pub async fn login_submit(State(state): State<AppState>, Ctx(ctx): Ctx, req: Request) -> Response {
    let lang = ctx.lang;
    let addr = client_addr(&req);
    let form: LoginForm = match read_form::<LoginForm>(req).await {
        Ok(f) => f,
        Err(e) => return PageError::new(ErrorKind::BadRequest, e, lang).into_response(),
    };
    let t = T::new(lang);
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim().to_ascii_lowercase();
    match auth::sign_in(&state, &username, &form.password, &addr, "web").await {
        Ok(auth::SignIn::Throttled { retry_after_s }) => {
            let message = Some(t.t("login.throttled").to_string());
            let mut r = login_form(&state, lang, ctx.pre_csrf, next, username, message, StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut().insert(header::RETRY_AFTER, retry_after_s.to_string().parse().expect("digits"));
            r
        }
        Ok(auth::SignIn::Refused) => {
            let message = Some(t.t("login.failed").to_string());
            login_form(&state, lang, ctx.pre_csrf, next, username, message, StatusCode::UNAUTHORIZED)
        }
        Ok(auth::SignIn::Signed { token, .. }) => auth::with_session_cookie(&state, Redirect::to(&next).into_response(), &token),
        Err(e) => internal(lang)(e).into_response(),
    }
}

pub async fn logout(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    state.store.delete_session(&p.session_token).await.map_err(internal(lang))?;
    state
        .store
        .audit_event(&actor_of(&p), "session.logout", &format!("user:{}", p.user.id), None)
        .await
        .map_err(internal(lang))?;
    let mut r = Redirect::to("/login").into_response();
    let cookie = auth::set_cookie(SESSION_COOKIE, "", 0, state.config.secure_cookies, true);
    r.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    Ok(r)
}

pub async fn set_lang(State(state): State<AppState>, Path(lang): Path<String>, Query(q): Query<NextQuery>, Ctx(ctx): Ctx) -> PageResult {
    let chosen = Lang::parse(&lang).ok_or_else(|| PageError::new(ErrorKind::NotFound, format!("no language '{lang}'"), ctx.lang))?;
    let mut r = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    let cookie = auth::set_cookie(auth::LANG_COOKIE, chosen.key(), 365 * 24 * 3600, state.config.secure_cookies, false);
    r.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    Ok(r)
}

pub async fn home(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let t = T::new(lang);
    let role = p.role();
    let (scope_key, scope_lines) = match role {
        Role::Leader | Role::Admin => ("home.scope.district", vec![]),
        Role::Analyst => ("home.scope.district", vec![]),
        Role::Clerk => {
            let dept = match p.user.department_id {
                Some(id) => state.store.department(id).await.map_err(internal(lang))?,
                None => None,
            };
            (
                "home.scope.department",
                dept.map(|d| if t.is_en() { d.name_en } else { d.name_zh }).into_iter().collect(),
            )
        }
        Role::Enterprise | Role::Merchant => ("home.scope.company", p.user.company_code.clone().into_iter().collect()),
        Role::Cadre => (
            "home.scope.assigned",
            if p.assigned.is_empty() {
                vec![t.t("home.scope.none").to_string()]
            } else {
                p.assigned.clone()
            },
        ),
        Role::Citizen => ("home.scope.own", vec![]),
    };
    let mut tiles = Vec::new();
    if role == Role::Admin {
        tiles.push(("/admin/users", "nav.users", "tile.users"));
        tiles.push(("/admin/departments", "nav.departments", "tile.departments"));
    }
    if matches!(role, Role::Admin | Role::Leader) {
        tiles.push(("/audit", "nav.audit", "tile.audit"));
    }
    for (href, title, description, action) in ECONOMY_PAGES.iter().chain(crate::appeals_web::SERVICE_PAGES) {
        if action.allows(role) {
            tiles.push((*href, *title, *description));
        }
    }
    let duty_key = match role {
        Role::Citizen => "duty.citizen",
        Role::Enterprise => "duty.enterprise",
        Role::Merchant => "duty.merchant",
        Role::Clerk => "duty.clerk",
        Role::Cadre => "duty.cadre",
        Role::Analyst => "duty.analyst",
        Role::Leader => "duty.leader",
        Role::Admin => "duty.admin",
    };
    let page = HomePage {
        t,
        nav: Nav::for_user(&p, "/home"),
        user: p.user.clone(),
        duty_key,
        scope_key,
        scope_lines,
        tiles,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct CreatedQuery {
    created: Option<String>,
}

async fn users_page(
    state: &AppState,
    p: &auth::Principal,
    lang: Lang,
    form: UserForm,
    errors: Vec<String>,
    created: Option<String>,
    status: StatusCode,
) -> PageResult {
    let t = T::new(lang);
    let departments = state.store.departments().await.map_err(internal(lang))?;
    let users = state.store.users().await.map_err(internal(lang))?;
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            department: u
                .department_id
                .and_then(|id| departments.iter().find(|d| d.id == id))
                .map(|d| if t.is_en() { d.name_en.clone() } else { d.name_zh.clone() })
                .unwrap_or_default(),
            company_code: u.company_code.unwrap_or_default(),
            phone: u.phone_masked.unwrap_or_default(),
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            active: u.active,
        })
        .collect();
    let page = UsersPage {
        t,
        nav: Nav::for_user(p, "/admin/users"),
        users: rows,
        departments,
        roles: Role::ALL.to_vec(),
        form,
        errors,
        created,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn users(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<CreatedQuery>) -> PageResult {
    users_page(
        &state,
        &p,
        lang,
        UserForm {
            role: "citizen".into(),
            ..Default::default()
        },
        vec![],
        q.created,
        StatusCode::OK,
    )
    .await
}

pub async fn users_create(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let form: UserForm = read_form::<UserForm>(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let new = NewUser {
        username: form.username.clone(),
        display_name: form.display_name.clone(),
        password: form.password.clone(),
        role: form.role.clone(),
        department_code: Some(form.department.clone()),
        company_code: Some(form.company_code.clone()),
        phone: Some(form.phone.clone()),
        id_number: Some(form.id_number.clone()),
    };
    match state.store.create_user(&actor_of(&p), new).await {
        Ok(u) => Ok(Redirect::to(&format!(
            "/admin/users?{}",
            serde_urlencoded::to_string([("created", &u.username)]).unwrap_or_default()
        ))
        .into_response()),
        Err(StoreError::Invalid { field, message }) => {
            users_page(
                &state,
                &p,
                lang,
                form,
                vec![format!("{field}: {message}")],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(internal(lang)(e)),
    }
}

async fn departments_page(
    state: &AppState,
    p: &auth::Principal,
    lang: Lang,
    form: DepartmentForm,
    errors: Vec<String>,
    created: Option<String>,
    status: StatusCode,
) -> PageResult {
    let t = T::new(lang);
    let departments = state.store.departments().await.map_err(internal(lang))?;
    let page = DepartmentsPage {
        t,
        nav: Nav::for_user(p, "/admin/departments"),
        departments,
        form,
        errors,
        created,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn departments(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<CreatedQuery>) -> PageResult {
    departments_page(&state, &p, lang, DepartmentForm::default(), vec![], q.created, StatusCode::OK).await
}

pub async fn departments_create(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let form: DepartmentForm = read_form::<DepartmentForm>(req)
        .await
        .map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    match state.store.create_department(&actor_of(&p), &form.code, &form.name_zh, &form.name_en).await {
        Ok(d) => Ok(Redirect::to(&format!(
            "/admin/departments?{}",
            serde_urlencoded::to_string([("created", &d.code)]).unwrap_or_default()
        ))
        .into_response()),
        Err(StoreError::Invalid { field, message }) => {
            departments_page(
                &state,
                &p,
                lang,
                form,
                vec![format!("{field}: {message}")],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Conflict(message)) => departments_page(&state, &p, lang, form, vec![message], None, StatusCode::CONFLICT).await,
        Err(e) => Err(internal(lang)(e)),
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    verify: Option<String>,
    before: Option<i64>,
}

pub const AUDIT_PAGE_SIZE: i64 = 50;

pub async fn audit(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<AuditQuery>) -> PageResult {
    let t = T::new(lang);
    let records = state.store.audit_records(AUDIT_PAGE_SIZE, q.before).await.map_err(internal(lang))?;
    let verify = match q.verify.as_deref() {
        Some("1") => Some(state.store.verify_audit().await.map_err(internal(lang))?),
        _ => None,
    };
    let older = if records.len() as i64 == AUDIT_PAGE_SIZE {
        records.last().map(|r| r.seq)
    } else {
        None
    };
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            at: crate::format_time(r.at_ms),
            actor: r.actor,
            action: r.action,
            object: r.object,
            after: r.after.map(|v| v.to_string()).unwrap_or_default(),
        })
        .collect();
    Ok(render(&AuditPage {
        t,
        nav: Nav::for_user(&p, "/audit"),
        records: rows,
        verify,
        older,
    }))
}

/// Reads a URL-encoded form. Text that is not UTF-8, raw or percent-encoded, is refused
/// rather than patched with replacement characters, so nothing garbled is ever stored.
pub(crate) async fn read_form<F: serde::de::DeserializeOwned>(req: Request) -> Result<F, String> {
    if !crate::auth::has_content_type(req.headers(), "application/x-www-form-urlencoded") {
        return Err("send the form as application/x-www-form-urlencoded".into());
    }
    let bytes = axum::body::to_bytes(req.into_body(), crate::auth::FORM_BODY_MAX_BYTES)
        .await
        .map_err(|_| "the form is too large".to_string())?;
    if !form_is_utf8(&bytes) {
        return Err("the form's text is not UTF-8".into());
    }
    serde_urlencoded::from_bytes(&bytes).map_err(|e| format!("the form could not be read: {e}"))
}

/// True when the form body and every percent-encoded sequence in it decode to UTF-8.
fn form_is_utf8(bytes: &[u8]) -> bool {
    if std::str::from_utf8(bytes).is_err() {
        return false;
    }
    bytes.split(|b| *b == b'&' || *b == b'=').all(|part| {
        let mut decoded = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'%' if i + 2 < part.len() => {
                    match std::str::from_utf8(&part[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => decoded.push(b),
                        None => return false,
                    }
                    i += 3;
                }
                b'%' => return false,
                b'+' => {
                    decoded.push(b' ');
                    i += 1;
                }
                b => {
                    decoded.push(b);
                    i += 1;
                }
            }
        }
        std::str::from_utf8(&decoded).is_ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms_must_be_utf8_raw_and_percent_encoded() {
        use super::form_is_utf8 as ok;
        assert!(ok(b"a=1&b=%E5%A4%A7&c=x+y"));
        assert!(ok("name=大东".as_bytes()));
        assert!(!ok(b"a=%FF%FE"));
        assert!(!ok(&[b'a', b'=', 0xff]));
        assert!(!ok(b"a=%E5%A4"), "a cut-off sequence");
        assert!(!ok(b"a=%G1"));
        assert!(!ok(b"a=%4"));
    }
}

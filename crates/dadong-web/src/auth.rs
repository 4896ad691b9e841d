//! Who is asking, and may they: the session layer that finds the signed-in user, and the
//! guard that every route goes through (authentication, the route's [`Action`], then CSRF
//! for every request that can change state). Handlers never repeat these checks; for an
//! object they load, they ask [`Principal::can_see`] with the object's [`Scope`].

use crate::AppState;
use crate::error::{ApiError, ErrorKind, PageError};
use crate::i18n::Lang;
use crate::policy::Action;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use dadong_domain::Role;
use dadong_store::User;

pub const SESSION_COOKIE: &str = "dadong_session";
/// Before sign-in there is no session to hold a CSRF token, so the login form uses a
/// double-submit cookie instead.
pub const PRE_CSRF_COOKIE: &str = "dadong_precsrf";
pub const LANG_COOKIE: &str = "dadong_lang";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf_token";

/// The signed-in user with what bounds their view.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub csrf_token: String,
    pub session_token: String,
    /// Credit codes of the enterprises a cadre is assigned to.
    pub assigned: Vec<String>,
}

/// What an object belongs to, for the scope check.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    District,
    Department(i64),
    Company(&'a str),
    User(i64),
}

impl Principal {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether this user may see an object in `scope`: leaders and admins see the district; a
    /// clerk its department; an enterprise agent or merchant its company; a cadre its assigned
    /// enterprises; everyone their own records.
    pub fn can_see(&self, scope: Scope<'_>) -> bool {
        if self.role().sees_district() {
            return true;
        }
        match scope {
            Scope::District => self.role() == Role::Analyst,
            Scope::Department(id) => self.user.department_id == Some(id),
            Scope::Company(code) => self.user.company_code.as_deref() == Some(code) || self.assigned.iter().any(|c| c == code),
            Scope::User(id) => self.user.id == id,
        }
    }
}

/// Per-request facts the session layer puts in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal: Option<Principal>,
    pub lang: Lang,
    pub pre_csrf: Option<String>,
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool, http_only: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age_s}; SameSite=Lax{}{}",
        if http_only { "; HttpOnly" } else { "" },
        if secure { "; Secure" } else { "" }
    )
}

pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

/// Finds the session and language of every request before routing.
pub async fn session_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let lang = cookie(headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_default();
    let pre_csrf = cookie(headers, PRE_CSRF_COOKIE).map(str::to_string);
    let mut principal = None;
    if let Some(token) = cookie(headers, SESSION_COOKIE).map(str::to_string) {
        match state.store.session(&token).await {
            Ok(Some(session)) => {
                let assigned = if session.user.role == Role::Cadre {
                    state.store.assigned_companies(session.user.id).await.unwrap_or_default()
                } else {
                    Vec::new()
                };
                principal = Some(Principal {
                    user: session.user,
                    csrf_token: session.csrf_token,
                    session_token: token,
                    assigned,
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = ?e, "session lookup failed");
                return fail(req.uri().path(), ErrorKind::Internal, "internal error".into(), lang);
            }
        }
    }
    req.extensions_mut().insert(RequestContext { principal, lang, pre_csrf });
    next.run(req).await
}

fn fail(path: &str, kind: ErrorKind, message: String, lang: Lang) -> Response {
    fail_as(is_api(path), kind, message, lang)
}

/// An API error or an error page, as the request was one or the other.
fn fail_as(api: bool, kind: ErrorKind, message: String, lang: Lang) -> Response {
    if api {
        ApiError::new(kind, message).into_response()
    } else {
        PageError::new(kind, message, lang).into_response()
    }
}

/// The largest URL-encoded form body the guard reads to find a CSRF token.
pub const FORM_BODY_MAX_BYTES: usize = 256 * 1024;

/// The guard each route is wrapped in, with the route's action. It also names the matched
/// route on the response for the metrics.
pub async fn guard(action: Action, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<axum::extract::MatchedPath>().cloned();
    crate::named(route, admit(action, req, next).await)
}

async fn admit(action: Action, mut req: Request, next: Next) -> Response {
    // The context is taken out and put back rather than copied: a signed-in user's context
    // holds several strings, and this runs on every request.
    let ctx = req.extensions_mut().remove::<RequestContext>().unwrap_or(RequestContext {
        principal: None,
        lang: Lang::Zh,
        pre_csrf: None,
    });
    let api = is_api(req.uri().path());
    if action != Action::Public {
        match &ctx.principal {
            None if api => return fail_as(api, ErrorKind::Unauthenticated, "sign in first".into(), ctx.lang),
            None => {
                let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let next_q = serde_urlencoded::to_string([("next", target)]).unwrap_or_default();
                return Redirect::to(&format!("/login?{next_q}")).into_response();
            }
            Some(p) if !action.allows(p.role()) => {
                return fail_as(api, ErrorKind::Forbidden, format!("a {} may not do this", p.role()), ctx.lang);
            }
            Some(_) => {}
        }
    }
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        req.extensions_mut().insert(ctx);
        return next.run(req).await;
    }
    match check_csrf(req, &ctx, api).await {
        Ok(mut req) => {
            req.extensions_mut().insert(ctx);
            next.run(req).await
        }
        Err((kind, message)) => fail_as(api, kind, message, ctx.lang),
    }
}

/// Whether a request's `content-type` begins with `media` (parameters such as a charset may
/// follow), ignoring ASCII case as media types are compared.
pub(crate) fn has_content_type(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..media.len()))
        .is_some_and(|start| start.eq_ignore_ascii_case(media))
}

/// Checks the CSRF token of a state-changing request and hands the request back intact.
async fn check_csrf(req: Request, ctx: &RequestContext, api: bool) -> Result<Request, (ErrorKind, String)> {
    let form = has_content_type(req.headers(), "application/x-www-form-urlencoded");
    let expected: &str = match (&ctx.principal, api) {
        (Some(p), _) => &p.csrf_token,
        // An anonymous JSON call (signing in through the API) cannot be forged by another
        // site's form: browsers only send application/json cross-site after a CORS check
        // this server never grants.
        (None, true) if has_content_type(req.headers(), "application/json") => return Ok(req),
        (None, _) => match &ctx.pre_csrf {
            Some(t) if !t.is_empty() => t,
            _ => return Err((ErrorKind::CsrfFailed, "missing CSRF cookie: reload the form".into())),
        },
    };
    let matches = match req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        Some(given) => Some(constant_time_eq(given, expected)),
        None => req
            .uri()
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD))
            .map(|(_, given)| constant_time_eq(&given, expected)),
    };
    match matches {
        Some(true) => return Ok(req),
        Some(false) => return Err((ErrorKind::CsrfFailed, "CSRF token does not match".into())),
        None => {}
    }
    if !form {
        return Err((ErrorKind::CsrfFailed, "missing CSRF token".into()));
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, FORM_BODY_MAX_BYTES)
        .await
        .map_err(|_| (ErrorKind::PayloadTooLarge, format!("a form may be at most {FORM_BODY_MAX_BYTES} bytes")))?;
    let given = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v));
    match given {
        Some(g) if constant_time_eq(&g, expected) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Some(_) => Err((ErrorKind::CsrfFailed, "CSRF token does not match".into())),
        None => Err((ErrorKind::CsrfFailed, "missing CSRF token".into())),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request's context, for handlers.
pub fn context(req_ext: &axum::http::Extensions) -> RequestContext {
    req_ext.get::<RequestContext>().cloned().unwrap_or(RequestContext {
        principal: None,
        lang: Lang::Zh,
        pre_csrf: None,
    })
}

/// Extractor: the request context (always present after the session layer).
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Ctx {
    type Rejection = StatusCode;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Ctx(context(&parts.extensions)))
    }
}

/// Extractor: the signed-in user; the guard has already turned anonymous requests away
/// from every route that takes this.
pub struct Signed(pub Principal, pub Lang);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Signed {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = context(&parts.extensions);
        match ctx.principal {
            Some(p) => Ok(Signed(p, ctx.lang)),
            None => Err(fail(parts.uri.path(), ErrorKind::Unauthenticated, "sign in first".into(), ctx.lang)),
        }
    }
}

/// How a sign-in attempt ended.
pub enum SignIn {
    /// Signed in: the session token for the cookie and the session's CSRF token.
    Signed { user: User, token: String, csrf_token: String },
    /// Too many failures for this account or address; try again after this many seconds.
    Throttled { retry_after_s: i64 },
    /// Wrong username or password (or an inactive user): which one is not said.
    Refused,
}

/// Signs a user in, for the login page and the API alike: throttling, the password check,
/// the record of the attempt, the new session and its audit record.
pub async fn sign_in(state: &AppState, username: &str, password: &str, addr: &str, via: &str) -> Result<SignIn, dadong_store::StoreError> {
    let username = username.trim().to_ascii_lowercase();
    let (account_key, address_key) = (format!("user:{username}"), format!("addr:{addr}"));
    if let Some(wait_ms) = state.store.login_throttled(&account_key, &address_key).await? {
        return Ok(SignIn::Throttled {
            retry_after_s: (wait_ms + 999) / 1000,
        });
    }
    let Some(user) = state.store.authenticate(&username, password).await? else {
        state.store.record_login_attempt(&[&account_key, &address_key], false).await?;
        return Ok(SignIn::Refused);
    };
    state.store.record_login_attempt(&[&account_key, &address_key], true).await?;
    let (token, csrf_token) = state.store.create_session(user.id).await?;
    let actor = dadong_store::Actor::User {
        id: user.id,
        username: user.username.clone(),
    };
    state
        .store
        .audit_event(&actor, "session.login", &format!("user:{}", user.id), Some(&serde_json::json!({"via": via})))
        .await?;
    Ok(SignIn::Signed { user, token, csrf_token })
}

/// Adds the session cookie for `token` to a response.
pub fn with_session_cookie(state: &AppState, mut response: Response, token: &str) -> Response {
    let cookie = set_cookie(
        SESSION_COOKIE,
        token,
        dadong_store::sessions::SESSION_TTL_MS / 1000,
        state.config.secure_cookies,
        true,
    );
    response.headers_mut().append(header::SET_COOKIE, cookie.parse().expect("cookie is ASCII"));
    response
}

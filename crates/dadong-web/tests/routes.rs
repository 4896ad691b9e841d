//! Every route with every role (and with none) gets exactly the intended answer, and malformed
//! requests get a clear 4xx, never a 500 or a half-written record. Runs the real server on a
//! loopback port over a fresh database, on SQLite and on PostgreSQL.

use dadong_domain::Role;
use dadong_testkit::{Backend, TestApp, on_both_backends};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const ANON_CSRF: &str = "anonymous-form-token";

/// Someone calling the server: anonymous, or signed in with a session cookie and CSRF token.
#[derive(Clone)]
struct Caller {
    role: Option<Role>,
    session: Option<String>,
    csrf: String,
}

impl Caller {
    fn anonymous() -> Caller {
        Caller {
            role: None,
            session: None,
            csrf: ANON_CSRF.into(),
        }
    }

    fn cookie(&self) -> String {
        match &self.session {
            Some(s) => format!("dadong_session={s}"),
            None => format!("dadong_precsrf={ANON_CSRF}"),
        }
    }
}

#[derive(Clone, Copy)]
enum Body {
    None,
    /// URL-encoded form; the caller's CSRF token is added.
    Form(&'static str),
    /// JSON; the caller's CSRF token goes in the header.
    Json(&'static str),
    /// A file upload form (`multipart/form-data`) with the fields `kind` and `file`; the
    /// caller's CSRF token goes in the query string, as the upload page's form sends it.
    Multipart {
        kind: &'static str,
        file: &'static str,
    },
    /// A raw body of this content type; the caller's CSRF token goes in the header.
    Raw(&'static str, &'static str),
}

const BOUNDARY: &str = "dadong-test-boundary-7f3a";

/// A `multipart/form-data` body as a browser sends the upload form.
fn multipart_body(kind: &str, file_name: &str, file: &str) -> Vec<u8> {
    format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
    )
    .into_bytes()
}

fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn call(app: &TestApp, caller: &Caller, method: Method, path: &str, body: Body) -> reqwest::Response {
    let url = match body {
        Body::Multipart { .. } => format!("{}{}csrf_token={}", app.url(path), if path.contains('?') { "&" } else { "?" }, caller.csrf),
        _ => app.url(path),
    };
    let mut req = client().request(method, url).header(COOKIE, caller.cookie());
    req = match body {
        Body::None => req,
        Body::Form(f) => {
            let f = f.replace("{who}", caller.role.map_or("anonymous", |r| r.key()));
            let sep = if f.is_empty() { "" } else { "&" };
            req.header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("{f}{sep}csrf_token={}", caller.csrf))
        }
        Body::Json(j) => {
            let j = j.replace("{who}", caller.role.map_or("anonymous", |r| r.key()));
            req.header(CONTENT_TYPE, "application/json").header("x-csrf-token", &caller.csrf).body(j)
        }
        Body::Multipart { kind, file } => req
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart_body(kind, "upload.csv", file)),
        Body::Raw(content_type, raw) => req.header(CONTENT_TYPE, content_type).header("x-csrf-token", &caller.csrf).body(raw),
    };
    req.send().await.unwrap()
}

async fn sign_in(app: &TestApp, username: &str, password: &str, role: Role) -> Caller {
    let r = client()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "sign in {username}");
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("dadong_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let session = cookie.trim_start_matches("dadong_session=").split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    Caller {
        role: Some(role),
        session: Some(session),
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// The intended answer for a route, by who calls it.
#[derive(Clone, Copy)]
enum Expect {
    /// A page for these roles: anonymous callers are sent to sign in (303), others refused (403).
    Page(&'static [Role], u16),
    /// An API call for these roles: anonymous 401, others 403.
    Api(&'static [Role], u16),
    /// The same answer for everyone.
    All(u16),
    /// One answer when anonymous, another when signed in.
    Split { anonymous: u16, signed_in: u16 },
    /// A route whose answer depends on the caller's scope: these roles get these answers,
    /// other signed-in roles `otherwise`.
    Roles {
        anonymous: u16,
        by_role: &'static [(Role, u16)],
        otherwise: u16,
    },
}

impl Expect {
    fn status(self, role: Option<Role>) -> u16 {
        match (self, role) {
            (Expect::Page(..), None) => 303,
            (Expect::Api(..), None) => 401,
            (Expect::Page(roles, ok), Some(r)) | (Expect::Api(roles, ok), Some(r)) => {
                if roles.contains(&r) {
                    ok
                } else {
                    403
                }
            }
            (Expect::All(s), _) => s,
            (Expect::Split { anonymous, .. }, None) => anonymous,
            (Expect::Split { signed_in, .. }, Some(_)) => signed_in,
            (Expect::Roles { anonymous, .. }, None) => anonymous,
            (Expect::Roles { by_role, otherwise, .. }, Some(r)) => by_role.iter().find(|(role, _)| *role == r).map_or(otherwise, |(_, s)| *s),
        }
    }
}

use Role::*;
const EVERYONE: &[Role] = &Role::ALL;
const ADMIN: &[Role] = &[Admin];
const AUDITORS: &[Role] = &[Admin, Leader];
const STAFF: &[Role] = &[Clerk, Cadre, Analyst, Leader, Admin];
const BULLETIN: &[Role] = &[Analyst, Leader, Admin];
const IMPORTERS: &[Role] = &[Analyst, Admin];
const ENTERPRISE_VIEWERS: &[Role] = &[Analyst, Leader, Admin, Cadre, Enterprise];
const PROJECT_VIEWERS: &[Role] = &[Analyst, Leader, Admin, Cadre];
// Issue 6: enterprise service and daily dispatch.
const APPEAL_VIEWERS: &[Role] = &[Enterprise, Clerk, Cadre, Leader, Admin];
const APPEAL_RAISERS: &[Role] = &[Enterprise, Cadre, Leader, Admin];
const APPEAL_WORKERS: &[Role] = &[Enterprise, Clerk, Leader, Admin];
const DISPATCHERS: &[Role] = &[Leader, Admin];
const SERVICE: &[Role] = &[Cadre, Leader, Admin];
const FIGURE_REPORTERS: &[Role] = &[Enterprise, Cadre, Analyst, Admin];
const KEY_MANAGERS: &[Role] = &[Analyst, Admin];

const CITIZENS: &[Role] = &[Citizen];
const MERCHANTS: &[Role] = &[Merchant];
/// A registered enterprise that the demo's cadre is not assigned to and that is not the
/// demo agent's company: the district sees it, the cadre and the agent get a 404.
const OUT_OF_SCOPE: &[(Role, u16)] = &[(Analyst, 200), (Leader, 200), (Admin, 200), (Cadre, 404), (Enterprise, 404)];
/// An enterprises file whose every row is wrong, so an import of it stores nothing.
const APPLICANTS: &[Role] = &[Citizen, Enterprise];
/// An `open_company` application of the demo's citizen: the applicant, every clerk of a
/// department with a step in it (all the demo's clerks) and the district see it; others get 404.
const SEES_APPLICATION: &[(Role, u16)] = &[(Citizen, 200), (Clerk, 200), (Leader, 200), (Admin, 200)];
const ACTS_ON_APPLICATION: &[(Role, u16)] = &[(Citizen, 422), (Clerk, 422), (Leader, 422), (Admin, 422)];
const BAD_CATALOG_CSV: &str = "code,name\nx,y\n";
const BAD_ENTERPRISES_CSV: &str = "credit_code,name,industry,above_size,park,tags,registered\nNOT-A-CODE,x,C36,maybe,,,2022-13-01\n";

/// Leaks a path built at run time into the `'static` table.
fn path(p: String) -> &'static str {
    Box::leak(p.into_boxed_str())
}

/// `(method, route as mounted, concrete path, body, intended answer, ends the session)`;
/// `enterprise` and `project` name a registered enterprise and a project of the demo.
fn table(enterprise: &str, project: &str, application: i64) -> Vec<(Method, &'static str, &'static str, Body, Expect, bool)> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        (get.clone(), "/", "/", Body::None, Expect::All(303), false),
        (
            get.clone(),
            "/login",
            "/login",
            Body::None,
            Expect::Split {
                anonymous: 200,
                signed_in: 303,
            },
            false,
        ),
        (
            post.clone(),
            "/login",
            "/login",
            Body::Form("username=nobody-{who}&password=wrong-password"),
            Expect::All(401),
            false,
        ),
        (get.clone(), "/lang/{lang}", "/lang/en?next=/home", Body::None, Expect::All(303), false),
        (get.clone(), "/home", "/home", Body::None, Expect::Page(EVERYONE, 200), false),
        (get.clone(), "/admin/users", "/admin/users", Body::None, Expect::Page(ADMIN, 200), false),
        (
            post.clone(),
            "/admin/users",
            "/admin/users",
            Body::Form("username=&password=x&role=nobody"),
            Expect::Page(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/admin/departments",
            "/admin/departments",
            Body::None,
            Expect::Page(ADMIN, 200),
            false,
        ),
        (
            post.clone(),
            "/admin/departments",
            "/admin/departments",
            Body::Form("code=BAD CODE&name_zh=&name_en="),
            Expect::Page(ADMIN, 422),
            false,
        ),
        (get.clone(), "/audit", "/audit", Body::None, Expect::Page(AUDITORS, 200), false),
        (get.clone(), "/audit", "/audit?verify=1", Body::None, Expect::Page(AUDITORS, 200), false),
        (
            get.clone(),
            "/economy/bulletin",
            "/economy/bulletin?through=2022-08",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/bulletin",
            "/economy/bulletin",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/bulletin",
            "/economy/bulletin?through=2022-13",
            Body::None,
            Expect::Page(BULLETIN, 422),
            false,
        ),
        (
            get.clone(),
            "/economy/bulletin.md",
            "/economy/bulletin.md?through=2022-08",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/bulletin.xlsx",
            "/economy/bulletin.xlsx?through=2022-08",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/bulletin.xlsx",
            "/economy/bulletin.xlsx?through=08-2022",
            Body::None,
            Expect::Page(BULLETIN, 422),
            false,
        ),
        (
            get.clone(),
            "/economy/enterprises",
            "/economy/enterprises?q=%E6%B2%88%E9%98%B3&page=2",
            Body::None,
            Expect::Page(ENTERPRISE_VIEWERS, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/enterprises/{credit_code}",
            path(format!("/economy/enterprises/{enterprise}")),
            Body::None,
            Expect::Roles {
                anonymous: 303,
                by_role: OUT_OF_SCOPE,
                otherwise: 403,
            },
            false,
        ),
        (
            get.clone(),
            "/economy/enterprises/{credit_code}",
            "/economy/enterprises/91210104MA0000000X",
            Body::None,
            Expect::Page(ENTERPRISE_VIEWERS, 404),
            false,
        ),
        (
            get.clone(),
            "/economy/projects",
            "/economy/projects",
            Body::None,
            Expect::Page(PROJECT_VIEWERS, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/projects/{id}",
            path(format!("/economy/projects/{project}")),
            Body::None,
            Expect::Page(PROJECT_VIEWERS, 200),
            false,
        ),
        (
            get.clone(),
            "/economy/projects/{id}",
            "/economy/projects/no-such-project",
            Body::None,
            Expect::Page(PROJECT_VIEWERS, 404),
            false,
        ),
        (
            get.clone(),
            "/economy/import",
            "/economy/import",
            Body::None,
            Expect::Page(IMPORTERS, 200),
            false,
        ),
        (
            post.clone(),
            "/economy/import",
            "/economy/import",
            Body::Multipart {
                kind: "enterprises",
                file: BAD_ENTERPRISES_CSV,
            },
            Expect::Page(IMPORTERS, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/session",
            "/api/v1/session",
            Body::Json(r#"{"username":"nobody-{who}","password":"wrong-password"}"#),
            Expect::All(401),
            false,
        ),
        (get.clone(), "/api/v1/me", "/api/v1/me", Body::None, Expect::Api(EVERYONE, 200), false),
        (get.clone(), "/api/v1/users", "/api/v1/users", Body::None, Expect::Api(ADMIN, 200), false),
        (post.clone(), "/api/v1/users", "/api/v1/users", Body::Json("{}"), Expect::Api(ADMIN, 422), false),
        (
            get.clone(),
            "/api/v1/departments",
            "/api/v1/departments",
            Body::None,
            Expect::Api(STAFF, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/departments",
            "/api/v1/departments",
            Body::Json(r#"{"code":"","name_zh":"","name_en":""}"#),
            Expect::Api(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/audit",
            "/api/v1/audit?limit=5",
            Body::None,
            Expect::Api(AUDITORS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/audit/verify",
            "/api/v1/audit/verify",
            Body::None,
            Expect::Api(AUDITORS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/calendar/working-days",
            "/api/v1/calendar/working-days?from=2022-09-30&days=1",
            Body::None,
            Expect::All(200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/economy/bulletin",
            "/api/v1/economy/bulletin?through=2022-08",
            Body::None,
            Expect::Api(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/economy/enterprises",
            "/api/v1/economy/enterprises?q=C36&page=1",
            Body::None,
            Expect::Api(ENTERPRISE_VIEWERS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/economy/enterprises/{credit_code}",
            path(format!("/api/v1/economy/enterprises/{enterprise}")),
            Body::None,
            Expect::Roles {
                anonymous: 401,
                by_role: OUT_OF_SCOPE,
                otherwise: 403,
            },
            false,
        ),
        (
            get.clone(),
            "/api/v1/economy/projects",
            "/api/v1/economy/projects?page=1",
            Body::None,
            Expect::Api(PROJECT_VIEWERS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/economy/projects/{id}",
            path(format!("/api/v1/economy/projects/{project}")),
            Body::None,
            Expect::Api(PROJECT_VIEWERS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/economy/import/{kind}",
            "/api/v1/economy/import/enterprises",
            Body::Raw("text/csv", BAD_ENTERPRISES_CSV),
            Expect::Api(IMPORTERS, 422),
            false,
        ),
        (get.clone(), "/services", "/services", Body::None, Expect::Page(EVERYONE, 200), false),
        (
            get.clone(),
            "/services/bundles/{id}",
            "/services/bundles/open_company",
            Body::None,
            Expect::Page(APPLICANTS, 200),
            false,
        ),
        (
            get.clone(),
            "/services/bundles/{id}",
            "/services/bundles/no_such_bundle",
            Body::None,
            Expect::Page(APPLICANTS, 404),
            false,
        ),
        (
            post.clone(),
            "/services/bundles/{id}",
            "/services/bundles/open_company",
            Body::Form("company_name="),
            Expect::Page(APPLICANTS, 422),
            false,
        ),
        (
            get.clone(),
            "/services/applications",
            "/services/applications",
            Body::None,
            Expect::Page(APPLICANTS, 200),
            false,
        ),
        (
            get.clone(),
            "/services/applications/{id}",
            path(format!("/services/applications/{application}")),
            Body::None,
            Expect::Roles {
                anonymous: 303,
                by_role: SEES_APPLICATION,
                otherwise: 404,
            },
            false,
        ),
        (
            post.clone(),
            "/services/applications/{id}/upload",
            path(format!("/services/applications/{application}/upload")),
            Body::Multipart { kind: "x", file: "x" },
            Expect::Page(APPLICANTS, 422),
            false,
        ),
        (
            post.clone(),
            "/services/applications/{id}/act",
            path(format!("/services/applications/{application}/act")),
            Body::Form("act=bogus"),
            Expect::Roles {
                anonymous: 303,
                by_role: ACTS_ON_APPLICATION,
                otherwise: 404,
            },
            false,
        ),
        (
            post.clone(),
            "/services/applications/{id}/rate",
            path(format!("/services/applications/{application}/rate")),
            Body::Form("level_market=9"),
            Expect::Roles {
                anonymous: 303,
                by_role: &[(Citizen, 422), (Enterprise, 404)],
                otherwise: 403,
            },
            false,
        ),
        (
            get.clone(),
            "/services/certificates/{id}",
            "/services/certificates/LIC-NONE",
            Body::None,
            Expect::Split {
                anonymous: 303,
                signed_in: 404,
            },
            false,
        ),
        (
            get.clone(),
            "/services/queue",
            "/services/queue",
            Body::None,
            Expect::Page(&[Clerk], 200),
            false,
        ),
        (
            post.clone(),
            "/services/rectifications/{id}",
            "/services/rectifications/999999",
            Body::Form("answer="),
            Expect::Page(&[Clerk], 422),
            false,
        ),
        (
            get.clone(),
            "/services/figures",
            "/services/figures",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (get.clone(), "/services/admin", "/services/admin", Body::None, Expect::Page(ADMIN, 200), false),
        (
            post.clone(),
            "/services/admin/bundles",
            "/services/admin/bundles",
            Body::Form("definition=not-json"),
            Expect::Page(ADMIN, 422),
            false,
        ),
        (
            post.clone(),
            "/services/admin/catalog",
            "/services/admin/catalog",
            Body::Multipart {
                kind: "x",
                file: BAD_CATALOG_CSV,
            },
            Expect::Page(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/matters",
            "/api/v1/services/matters",
            Body::None,
            Expect::Api(EVERYONE, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/bundles",
            "/api/v1/services/bundles",
            Body::None,
            Expect::Api(EVERYONE, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/services/bundles",
            "/api/v1/services/bundles",
            Body::Json("{}"),
            Expect::Api(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/applications",
            "/api/v1/services/applications",
            Body::None,
            Expect::Api(APPLICANTS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/services/applications",
            "/api/v1/services/applications",
            Body::Json("{}"),
            Expect::Api(APPLICANTS, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/applications/{id}",
            path(format!("/api/v1/services/applications/{application}")),
            Body::None,
            Expect::Roles {
                anonymous: 401,
                by_role: SEES_APPLICATION,
                otherwise: 404,
            },
            false,
        ),
        (
            post.clone(),
            "/api/v1/services/applications/{id}/materials",
            path(format!("/api/v1/services/applications/{application}/materials")),
            Body::Json("{}"),
            Expect::Api(APPLICANTS, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/services/applications/{id}/act",
            path(format!("/api/v1/services/applications/{application}/act")),
            Body::Json(r#"{"act":"bogus"}"#),
            Expect::Roles {
                anonymous: 401,
                by_role: ACTS_ON_APPLICATION,
                otherwise: 404,
            },
            false,
        ),
        (
            post.clone(),
            "/api/v1/services/applications/{id}/ratings",
            path(format!("/api/v1/services/applications/{application}/ratings")),
            Body::Json(r#"{"ratings":[{"department":"market","level":9}]}"#),
            Expect::Roles {
                anonymous: 401,
                by_role: &[(Citizen, 422), (Enterprise, 404)],
                otherwise: 403,
            },
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/queue",
            "/api/v1/services/queue",
            Body::None,
            Expect::Api(&[Clerk], 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/services/figures",
            "/api/v1/services/figures",
            Body::None,
            Expect::Api(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/notifications",
            "/api/v1/notifications",
            Body::None,
            Expect::Api(EVERYONE, 200),
            false,
        ),
        (get.clone(), "/notifications", "/notifications", Body::None, Expect::Page(EVERYONE, 200), false),
        (get.clone(), "/verify/{id}", "/verify/LIC-NONE", Body::None, Expect::All(404), false),
        (
            post.clone(),
            "/verify/{id}",
            "/verify/LIC-NONE",
            Body::Multipart {
                kind: "x",
                file: "%PDF-1.4 not signed",
            },
            Expect::All(200),
            false,
        ),
        (get.clone(), "/api/openapi.json", "/api/openapi.json", Body::None, Expect::All(200), false),
        // Issue 6. Refused inputs change nothing; an appeal that does not exist is a 404 for
        // everyone allowed to ask.
        (get.clone(), "/appeals", "/appeals", Body::None, Expect::Page(APPEAL_VIEWERS, 200), false),
        (
            get.clone(),
            "/appeals",
            "/appeals?status=closed&overdue=1",
            Body::None,
            Expect::Page(APPEAL_VIEWERS, 200),
            false,
        ),
        (
            post.clone(),
            "/appeals",
            "/appeals",
            Body::Form("category=labour&title="),
            Expect::Page(APPEAL_RAISERS, 422),
            false,
        ),
        (
            get.clone(),
            "/appeals/{id}",
            "/appeals/999999999",
            Body::None,
            Expect::Page(APPEAL_VIEWERS, 404),
            false,
        ),
        (
            post.clone(),
            "/appeals/{id}/{step}",
            "/appeals/999999999/accept",
            Body::Form(""),
            Expect::Page(APPEAL_WORKERS, 404),
            false,
        ),
        (
            post.clone(),
            "/appeals/{id}/follow-up",
            "/appeals/999999999/follow-up",
            Body::Form("reached=1&score=5"),
            Expect::Page(&[Clerk, Leader, Admin], 404),
            false,
        ),
        (get.clone(), "/dispatch", "/dispatch", Body::None, Expect::Page(DISPATCHERS, 200), false),
        (get.clone(), "/service", "/service", Body::None, Expect::Page(SERVICE, 200), false),
        (get.clone(), "/service", "/service?month=2026-13", Body::None, Expect::Page(SERVICE, 422), false),
        (
            post.clone(),
            "/service/visits",
            "/service/visits",
            Body::Form("target=enterprise:bad"),
            Expect::Page(SERVICE, 422),
            false,
        ),
        (
            get.clone(),
            "/service/figures",
            "/service/figures",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/service/figures",
            "/service/figures?through=2022-08",
            Body::None,
            Expect::Page(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/figures/daily",
            "/figures/daily",
            Body::None,
            Expect::Page(FIGURE_REPORTERS, 200),
            false,
        ),
        (
            post.clone(),
            "/figures/daily",
            "/figures/daily",
            Body::Form("date=2020-01-01&output=-1"),
            Expect::Page(FIGURE_REPORTERS, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/appeals",
            "/api/v1/appeals",
            Body::None,
            Expect::Api(APPEAL_VIEWERS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals",
            "/api/v1/appeals",
            Body::Json(r#"{"category":"labour","title":""}"#),
            Expect::Api(APPEAL_RAISERS, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/appeals/{id}",
            "/api/v1/appeals/999999999",
            Body::None,
            Expect::Api(APPEAL_VIEWERS, 404),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/{id}/{step}",
            "/api/v1/appeals/999999999/accept",
            Body::Json("{}"),
            Expect::Api(APPEAL_WORKERS, 404),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/{id}/follow-up",
            "/api/v1/appeals/999999999/follow-up",
            Body::Json(r#"{"reached":true,"score":5}"#),
            Expect::Api(&[Clerk, Leader, Admin], 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/dispatch/board",
            "/api/v1/dispatch/board",
            Body::None,
            Expect::Api(DISPATCHERS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/service/visits",
            "/api/v1/service/visits",
            Body::None,
            Expect::Api(SERVICE, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/service/visits",
            "/api/v1/service/visits",
            Body::Json(r#"{"target":"x","visit_date":"","people_met":"","findings":""}"#),
            Expect::Api(SERVICE, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/service/coverage",
            "/api/v1/service/coverage",
            Body::None,
            Expect::Api(SERVICE, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/service/figures",
            "/api/v1/service/figures",
            Body::None,
            Expect::Api(BULLETIN, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/figures/daily",
            "/api/v1/figures/daily",
            Body::Json(r#"{"date":"2020-01-01","output":"-1"}"#),
            Expect::Api(FIGURE_REPORTERS, 422),
            false,
        ),
        (
            get.clone(),
            "/admin/appeal-rules",
            "/admin/appeal-rules",
            Body::None,
            Expect::Page(ADMIN, 200),
            false,
        ),
        (
            post.clone(),
            "/admin/appeal-rules",
            "/admin/appeal-rules",
            Body::Form("category=labour&department="),
            Expect::Page(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/service/assignments",
            "/service/assignments",
            Body::None,
            Expect::Page(DISPATCHERS, 200),
            false,
        ),
        (
            post.clone(),
            "/service/assignments",
            "/service/assignments",
            Body::Form("kind=enterprise&target=bad&user_id=x&duty=cadre"),
            Expect::Page(DISPATCHERS, 422),
            false,
        ),
        (
            post.clone(),
            "/service/assignments/remove",
            "/service/assignments/remove",
            Body::Form("kind=planet&target=x&user_id=1"),
            Expect::Page(DISPATCHERS, 422),
            false,
        ),
        (
            get.clone(),
            "/dispatch/key-enterprises",
            "/dispatch/key-enterprises",
            Body::None,
            Expect::Page(KEY_MANAGERS, 200),
            false,
        ),
        (
            post.clone(),
            "/dispatch/key-enterprises",
            "/dispatch/key-enterprises",
            Body::Form("credit_code=NOT-A-CODE"),
            Expect::Page(KEY_MANAGERS, 422),
            false,
        ),
        (
            post.clone(),
            "/dispatch/key-enterprises/remove",
            "/dispatch/key-enterprises/remove",
            Body::Form("credit_code=NOT-A-KEY"),
            Expect::Page(KEY_MANAGERS, 404),
            false,
        ),
        (
            post.clone(),
            "/dispatch/plans",
            "/dispatch/plans",
            Body::Form("credit_code=x&period=2026-13&metric=output&value=1"),
            Expect::Page(KEY_MANAGERS, 422),
            false,
        ),
        (
            post.clone(),
            "/dispatch/tasks",
            "/dispatch/tasks",
            Body::Form("title=&owner_user_id=1&due_date=2020-01-01"),
            Expect::Page(DISPATCHERS, 422),
            false,
        ),
        (
            post.clone(),
            "/dispatch/tasks/{id}/done",
            "/dispatch/tasks/999999999/done",
            Body::Form(""),
            Expect::Page(DISPATCHERS, 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/appeals/rules",
            "/api/v1/appeals/rules",
            Body::None,
            Expect::Api(ADMIN, 200),
            false,
        ),
        (
            Method::PUT,
            "/api/v1/appeals/rules/{category}",
            "/api/v1/appeals/rules/weather",
            Body::Json(r#"{"department":"x"}"#),
            Expect::Api(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/appeals/assignments",
            "/api/v1/appeals/assignments",
            Body::None,
            Expect::Api(DISPATCHERS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/assignments",
            "/api/v1/appeals/assignments",
            Body::Json(r#"{"kind":"planet","target":"x","user_id":1,"duty":"cadre"}"#),
            Expect::Api(DISPATCHERS, 422),
            false,
        ),
        (
            Method::DELETE,
            "/api/v1/appeals/assignments",
            "/api/v1/appeals/assignments?kind=planet&target=x&user_id=1",
            Body::Json("{}"),
            Expect::Api(DISPATCHERS, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/key-enterprises",
            "/api/v1/appeals/key-enterprises",
            Body::Json(r#"{"credit_code":"NOT-A-CODE"}"#),
            Expect::Api(KEY_MANAGERS, 422),
            false,
        ),
        (
            Method::DELETE,
            "/api/v1/appeals/key-enterprises/{credit_code}",
            "/api/v1/appeals/key-enterprises/NOT-A-KEY",
            Body::Json("{}"),
            Expect::Api(KEY_MANAGERS, 404),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/monthly-plans",
            "/api/v1/appeals/monthly-plans",
            Body::Json(r#"{"credit_code":"x","period":"2026-13","metric":"output","value":"1"}"#),
            Expect::Api(KEY_MANAGERS, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/dispatch-tasks",
            "/api/v1/appeals/dispatch-tasks",
            Body::Json(r#"{"title":"","owner_user_id":1,"due_date":"2020-01-01"}"#),
            Expect::Api(DISPATCHERS, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/appeals/dispatch-tasks/{id}/done",
            "/api/v1/appeals/dispatch-tasks/999999999/done",
            Body::Json("{}"),
            Expect::Api(DISPATCHERS, 404),
            false,
        ),
        (get.clone(), "/healthz", "/healthz", Body::None, Expect::All(200), false),
        (get.clone(), "/metrics", "/metrics", Body::None, Expect::All(200), false),
        (get.clone(), "/static/{file}", "/static/app.css", Body::None, Expect::All(200), false),
        (get.clone(), "/static/{file}", "/static/htmx.min.js", Body::None, Expect::All(200), false),
        (get.clone(), "/static/{file}", "/static/missing.js", Body::None, Expect::All(404), false),
        (get.clone(), "(unknown)", "/no/such/page", Body::None, Expect::All(404), false),
        (get.clone(), "(unknown)", "/api/v1/no-such-thing", Body::None, Expect::All(404), false),
        (Method::DELETE, "(unknown)", "/home", Body::None, Expect::All(405), false),
        (Method::PUT, "(unknown)", "/api/v1/users", Body::Json("{}"), Expect::All(405), false),
        // Vouchers (issue 5). Requests that change nothing: unknown campaigns, vouchers and
        // merchants, malformed input; the demo's merchant account is linked to a demo merchant.
        (get.clone(), "/vouchers", "/vouchers", Body::None, Expect::Page(EVERYONE, 200), false),
        (
            post.clone(),
            "/vouchers/claim",
            "/vouchers/claim",
            Body::Form("campaign_id=999999&kind_id=1&idempotency_key=route-{who}"),
            Expect::Page(CITIZENS, 303),
            false,
        ),
        (
            post.clone(),
            "/vouchers/register",
            "/vouchers/register",
            Body::Form("campaign_id=999999&kind_id=1"),
            Expect::Page(CITIZENS, 404),
            false,
        ),
        (
            get.clone(),
            "/vouchers/wallet",
            "/vouchers/wallet",
            Body::None,
            Expect::Page(CITIZENS, 200),
            false,
        ),
        (get.clone(), "/merchant", "/merchant", Body::None, Expect::Page(MERCHANTS, 200), false),
        (
            post.clone(),
            "/merchant/apply",
            "/merchant/apply",
            Body::Form("credit_code=NOT-A-CODE&name=x&category=car"),
            Expect::Page(MERCHANTS, 422),
            false,
        ),
        (
            post.clone(),
            "/merchant/redeem",
            "/merchant/redeem",
            Body::Form("token=not-a-token&purchase=100"),
            Expect::Page(MERCHANTS, 422),
            false,
        ),
        (get.clone(), "/admin/vouchers", "/admin/vouchers", Body::None, Expect::Page(ADMIN, 200), false),
        (
            post.clone(),
            "/admin/vouchers/merchants",
            "/admin/vouchers/merchants",
            Body::Form("merchant_id=999999&category=car&approve=1"),
            Expect::Page(ADMIN, 404),
            false,
        ),
        (
            post.clone(),
            "/admin/vouchers/settle",
            "/admin/vouchers/settle",
            Body::Form("day=not-a-day"),
            Expect::Page(ADMIN, 422),
            false,
        ),
        (
            post.clone(),
            "/admin/vouchers/flags",
            "/admin/vouchers/flags",
            Body::Form("key=no-such-flag&confirmed=1"),
            Expect::Page(ADMIN, 404),
            false,
        ),
        (
            post.clone(),
            "/admin/vouchers/draw",
            "/admin/vouchers/draw",
            Body::Form("campaign_id=999999"),
            Expect::Page(ADMIN, 404),
            false,
        ),
        (
            get.clone(),
            "/admin/vouchers/settlements.xlsx",
            "/admin/vouchers/settlements.xlsx",
            Body::None,
            Expect::Page(AUDITORS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/campaigns",
            "/api/v1/vouchers/campaigns",
            Body::None,
            Expect::Api(EVERYONE, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/campaigns",
            "/api/v1/vouchers/campaigns",
            Body::Json("{}"),
            Expect::Api(ADMIN, 422),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/campaigns/{id}/claims",
            "/api/v1/vouchers/campaigns/999999/claims",
            Body::Json(r#"{"kind_id": 1, "idempotency_key": "route-{who}"}"#),
            Expect::Api(CITIZENS, 409),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/campaigns/{id}/registrations",
            "/api/v1/vouchers/campaigns/999999/registrations",
            Body::Json(r#"{"kind_id": 1}"#),
            Expect::Api(CITIZENS, 404),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/campaigns/{id}/draw",
            "/api/v1/vouchers/campaigns/999999/draw",
            Body::Json(""),
            Expect::Api(ADMIN, 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/campaigns/{id}/draw",
            "/api/v1/vouchers/campaigns/999999/draw",
            Body::None,
            Expect::Api(EVERYONE, 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/wallet",
            "/api/v1/vouchers/wallet",
            Body::None,
            Expect::Api(CITIZENS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/merchant",
            "/api/v1/vouchers/merchant",
            Body::None,
            Expect::Api(MERCHANTS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/merchant/application",
            "/api/v1/vouchers/merchant/application",
            Body::Json(r#"{"credit_code": "NOT-A-CODE", "name": "x", "categories": ["car"]}"#),
            Expect::Api(MERCHANTS, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/merchant/history",
            "/api/v1/vouchers/merchant/history",
            Body::None,
            Expect::Api(MERCHANTS, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/merchant/settlements",
            "/api/v1/vouchers/merchant/settlements",
            Body::None,
            Expect::Api(MERCHANTS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/redemptions",
            "/api/v1/vouchers/redemptions",
            Body::Json(r#"{"token": "not-a-token", "purchase": "100"}"#),
            Expect::Api(MERCHANTS, 409),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/redemptions/{voucher_id}/refund",
            "/api/v1/vouchers/redemptions/999999999/refund",
            Body::Json(""),
            Expect::Api(MERCHANTS, 409),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/merchants",
            "/api/v1/vouchers/merchants",
            Body::None,
            Expect::Api(ADMIN, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/merchants/{id}/categories/{category}",
            "/api/v1/vouchers/merchants/999999/categories/car",
            Body::Json(r#"{"approve": true}"#),
            Expect::Api(ADMIN, 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/settlements",
            "/api/v1/vouchers/settlements",
            Body::None,
            Expect::Api(AUDITORS, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/settlements",
            "/api/v1/vouchers/settlements",
            Body::Json(r#"{"day": "not-a-day"}"#),
            Expect::Api(ADMIN, 422),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/figures",
            "/api/v1/vouchers/figures",
            Body::None,
            Expect::Api(BULLETIN, 200),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/fraud-flags",
            "/api/v1/vouchers/fraud-flags",
            Body::None,
            Expect::Api(ADMIN, 200),
            false,
        ),
        (
            post.clone(),
            "/api/v1/vouchers/fraud-flags/review",
            "/api/v1/vouchers/fraud-flags/review",
            Body::Json(r#"{"key": "no-such-flag", "confirmed": true}"#),
            Expect::Api(ADMIN, 404),
            false,
        ),
        (
            get.clone(),
            "/api/v1/vouchers/ledger/verify",
            "/api/v1/vouchers/ledger/verify",
            Body::None,
            Expect::Api(AUDITORS, 200),
            false,
        ),
        // Last: these end the caller's session, which is opened again afterwards.
        (
            Method::DELETE,
            "/api/v1/session",
            "/api/v1/session",
            Body::Json(""),
            Expect::Api(EVERYONE, 204),
            true,
        ),
        (post.clone(), "/logout", "/logout", Body::Form(""), Expect::Page(EVERYONE, 303), true),
    ]
}

async fn every_route_with_every_role_gets_exactly_the_intended_answer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "route matrix").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let enterprise = app.store.enterprises_page("", None, 1, 1).await.unwrap().items[0].credit_code.clone();
    let project = app.store.projects_page(1, 1).await.unwrap().items[0].project_id.clone();
    let citizen = app.store.users().await.unwrap().into_iter().find(|u| u.username == "citizen").unwrap().id;
    let application = app
        .store
        .applications_of(citizen, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, subject, state, _)| subject == "open_company" && state == "delivered")
        .expect("the demo citizen opened a company")
        .0;
    let table = table(&enterprise, &project, application);

    // The table covers every route the application mounts.
    for spec in dadong_web::routes() {
        assert!(
            table.iter().any(|(m, route, ..)| *m == spec.method && *route == spec.path),
            "route {} {} is missing from the table",
            spec.method,
            spec.path
        );
    }

    let mut failures = Vec::new();
    // One caller per role (the demo has several clerks; the first stands for them).
    let mut callers = vec![Caller::anonymous()];
    for login in &demo.logins {
        if !callers.iter().any(|c| c.role == Some(login.role)) {
            callers.push(sign_in(&app, &login.username, &login.password, login.role).await);
        }
    }
    for caller in callers.iter_mut() {
        for (method, _, path, body, expect, ends_session) in &table {
            let r = call(&app, caller, method.clone(), path, *body).await;
            let got = r.status().as_u16();
            let want = expect.status(caller.role);
            if got != want {
                failures.push(format!("{:?} {method} {path}: got {got}, want {want}", caller.role.map(|r| r.key())));
            }
            if *ends_session && caller.role.is_some() {
                let login = demo.logins.iter().find(|l| Some(l.role) == caller.role).unwrap();
                *caller = sign_in(&app, &login.username, &login.password, login.role).await;
            }
        }
    }
    assert!(failures.is_empty(), "unintended answers:\n{}", failures.join("\n"));
}

async fn malformed_requests_get_a_clear_4xx_and_change_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "malformed requests").await else {
        return;
    };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let admin_login = demo.logins.iter().find(|l| l.role == Admin).unwrap();
    let admin = sign_in(&app, &admin_login.username, &admin_login.password, Admin).await;
    let departments_before = app.store.departments().await.unwrap().len();
    let users_before = app.store.users().await.unwrap().len();
    let audit_before = app.store.verify_audit().await.unwrap().records;

    let huge_json: &'static str = Box::leak(format!(r#"{{"code":"x","name_zh":"{}","name_en":"y"}}"#, "大".repeat(700_000)).into_boxed_str());
    let huge_form: &'static str = Box::leak(format!("code=x&name_zh={}&name_en=y", "a".repeat(300_000)).into_boxed_str());
    let cases: Vec<(&str, Method, &str, Body, u16, &str)> = vec![
        (
            "bad JSON",
            Method::POST,
            "/api/v1/departments",
            Body::Json(r#"{"code": "x", "#),
            400,
            "bad_request",
        ),
        (
            "wrong types",
            Method::POST,
            "/api/v1/departments",
            Body::Json(r#"{"code": 1, "name_zh": true, "name_en": []}"#),
            422,
            "validation_failed",
        ),
        (
            "unknown field",
            Method::POST,
            "/api/v1/departments",
            Body::Json(r#"{"code":"x","name_zh":"x","name_en":"x","admin":true}"#),
            422,
            "validation_failed",
        ),
        ("a JSON array", Method::POST, "/api/v1/users", Body::Json("[1,2,3]"), 422, "validation_failed"),
        (
            "oversize JSON body",
            Method::POST,
            "/api/v1/departments",
            Body::Json(huge_json),
            413,
            "payload_too_large",
        ),
        (
            "bad credit code",
            Method::POST,
            "/api/v1/users",
            Body::Json(r#"{"username":"agent2","display_name":"x","password":"long-enough-1","role":"enterprise","company_code":"91350100M000100Y42"}"#),
            422,
            "validation_failed",
        ),
        (
            "bad resident ID",
            Method::POST,
            "/api/v1/users",
            Body::Json(r#"{"username":"citizen2","display_name":"x","password":"long-enough-1","role":"citizen","id_number":"110105194912310021"}"#),
            422,
            "validation_failed",
        ),
        ("bad query type", Method::GET, "/api/v1/audit?limit=many", Body::None, 400, "bad_request"),
        (
            "bad date",
            Method::GET,
            "/api/v1/calendar/working-days?from=2022-13-01&days=1",
            Body::None,
            422,
            "validation_failed",
        ),
        ("unknown API route", Method::GET, "/api/v1/nothing/here", Body::None, 404, "not_found"),
        (
            "bad bulletin month",
            Method::GET,
            "/api/v1/economy/bulletin?through=2022-8",
            Body::None,
            422,
            "validation_failed",
        ),
        (
            "bad page number",
            Method::GET,
            "/api/v1/economy/enterprises?page=two",
            Body::None,
            400,
            "bad_request",
        ),
        (
            "unknown import kind",
            Method::POST,
            "/api/v1/economy/import/widgets",
            Body::Raw("text/csv", "a,b\n"),
            404,
            "not_found",
        ),
        (
            "import sent as JSON",
            Method::POST,
            "/api/v1/economy/import/enterprises",
            Body::Json("{}"),
            415,
            "unsupported_media_type",
        ),
        (
            "a refused import file",
            Method::POST,
            "/api/v1/economy/import/enterprises",
            Body::Raw("text/csv", BAD_ENTERPRISES_CSV),
            422,
            "validation_failed",
        ),
    ];
    for (name, method, path, body, want, code) in cases {
        let r = call(&app, &admin, method, path, body).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, want, "{name}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{name}: not JSON: {text}"));
        assert_eq!(v["error"]["code"], code, "{name}: {text}");
    }

    // No Content-Type on an API call.
    let r = client()
        .post(app.url("/api/v1/departments"))
        .header(COOKIE, admin.cookie())
        .header("x-csrf-token", &admin.csrf)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // CSRF: a wrong or missing token is refused, for API calls and for forms alike.
    let mut forged = admin.clone();
    forged.csrf = "forged".into();
    let r = call(
        &app,
        &forged,
        Method::POST,
        "/api/v1/departments",
        Body::Json(r#"{"code":"forged","name_zh":"伪","name_en":"Forged"}"#),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "csrf_failed");
    let r = call(
        &app,
        &forged,
        Method::POST,
        "/admin/departments",
        Body::Form("code=forged&name_zh=伪&name_en=Forged"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("csrf_failed"));
    let r = client()
        .post(app.url("/admin/departments"))
        .header(COOKIE, admin.cookie())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("code=forged&name_zh=x&name_en=y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "a form without its token");
    let r = call(
        &app,
        &Caller {
            role: None,
            session: None,
            csrf: "other".into(),
        },
        Method::POST,
        "/login",
        Body::Form("username=admin&password=x"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 403, "a login form whose token does not match its cookie");

    // Oversize and non-UTF-8 forms.
    let r = call(&app, &admin, Method::POST, "/admin/departments", Body::Form(huge_form)).await;
    assert_eq!(r.status().as_u16(), 413);
    let r = client()
        .post(app.url("/admin/departments"))
        .header(COOKIE, admin.cookie())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(
            [
                b"code=x&name_zh=".as_slice(),
                &[0xff, 0xfe],
                format!("&name_en=y&csrf_token={}", admin.csrf).as_bytes(),
            ]
            .concat(),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "non-UTF-8 form: {}", r.status());

    // An unknown page is a page, not JSON.
    let r = call(&app, &admin, Method::GET, "/no/such/page", Body::None).await;
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));

    // Nothing was written by any of it.
    assert_eq!(app.store.departments().await.unwrap().len(), departments_before);
    assert_eq!(app.store.users().await.unwrap().len(), users_before);
    let audit = app.store.verify_audit().await.unwrap();
    assert_eq!(audit.records, audit_before);
    assert!(audit.first_break.is_none());
}

async fn forms_and_api_create_records_that_are_audited(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "create through the web").await else {
        return;
    };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let admin_login = demo.logins.iter().find(|l| l.role == Admin).unwrap();
    let admin = sign_in(&app, &admin_login.username, &admin_login.password, Admin).await;

    let r = call(
        &app,
        &admin,
        Method::POST,
        "/admin/departments",
        Body::Form("code=urban_renewal&name_zh=城市更新局&name_en=Urban+Renewal+Bureau"),
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(app.store.departments().await.unwrap().iter().any(|d| d.code == "urban_renewal"));

    let r = call(
        &app,
        &admin,
        Method::POST,
        "/api/v1/users",
        Body::Json(
            r#"{"username":"clerk2","display_name":"李四","password":"long-enough-1","role":"clerk","department":"urban_renewal","phone":"13900001111"}"#,
        ),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let user: Value = r.json().await.unwrap();
    assert_eq!(user["phone"], "139****1111");

    let records = app.store.audit_records(2, None).await.unwrap();
    assert_eq!(records[0].action, "user.create");
    assert_eq!(records[1].action, "department.create");
    assert!(
        !records[0].after.as_ref().unwrap().to_string().contains("13900001111"),
        "no personal data in clear in the chain"
    );
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn repeated_failed_sign_ins_are_throttled(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "login throttling").await else {
        return;
    };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let leader = demo.logins.iter().find(|l| l.role == Leader).unwrap();
    for _ in 0..dadong_store::sessions::FAILURES_PER_ACCOUNT_MAX {
        let r = client()
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "leader", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // Now even the right password waits.
    let r = client()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "leader", "password": leader.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let r = call(&app, &Caller::anonymous(), Method::POST, "/login", Body::Form("username=leader&password=wrong")).await;
    assert_eq!(r.status().as_u16(), 429);
}

async fn the_openapi_document_lists_every_api_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "openapi").await else { return };
    let doc: Value = client().get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for spec in dadong_web::routes().into_iter().filter(|s| s.path.starts_with("/api/v1/")) {
        let method = spec.method.as_str().to_ascii_lowercase();
        assert!(
            doc["paths"][spec.path][&method].is_object(),
            "{} {} is not in the OpenAPI document",
            spec.method,
            spec.path
        );
    }
    let due: Value = client()
        .get(app.url("/api/v1/calendar/working-days?from=2022-09-30&days=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(due["due"], "2022-10-08");
    assert_eq!(due["provisional"], false);
    // Every answered request is counted under its method, matched route and status: the
    // metrics layer wraps the whole router, and learns the route from the response.
    assert_eq!(client().get(app.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(client().delete(app.url("/api/v1/no-such-thing")).send().await.unwrap().status(), 404);
    assert_eq!(client().put(app.url("/healthz")).send().await.unwrap().status(), 405);
    assert_eq!(client().get(app.url("/api/v1/me")).send().await.unwrap().status(), 401);
    let metrics = client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for series in [
        r#"dadong_http_requests_total{method="GET",route="/healthz",status="200"}"#,
        r#"dadong_http_requests_total{method="DELETE",route="unmatched",status="404"}"#,
        r#"dadong_http_requests_total{method="PUT",route="/healthz",status="405"}"#,
        r#"dadong_http_requests_total{method="GET",route="/api/v1/calendar/working-days",status="200"}"#,
        r#"dadong_http_requests_total{method="GET",route="/api/v1/me",status="401"}"#,
        r#"dadong_http_requests_total{method="GET",route="/api/openapi.json",status="200"}"#,
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}

on_both_backends!(
    every_route_with_every_role_gets_exactly_the_intended_answer,
    malformed_requests_get_a_clear_4xx_and_change_nothing,
    forms_and_api_create_records_that_are_audited,
    repeated_failed_sign_ins_are_throttled,
    the_openapi_document_lists_every_api_route,
);

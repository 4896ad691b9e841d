//! The page templates (compiled by askama from `templates/`) and the navigation every page
//! shares. HTML is only ever produced here, never with `format!`.

use crate::auth::Principal;
use crate::i18n::T;
use crate::policy::Action;
use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use dadong_domain::Role;
use dadong_store::Department;
use dadong_store::audit::AuditReport;

/// The header: who is signed in, the links their role may follow, and the CSRF token.
pub struct Nav {
    pub user_name: Option<String>,
    pub csrf: String,
    pub items: Vec<(&'static str, &'static str)>,
    pub path: String,
    /// `path` URL-encoded, for the language switch's `next`.
    pub path_q: String,
}

impl Nav {
    pub fn anonymous(_t: T) -> Nav {
        Nav {
            user_name: None,
            csrf: String::new(),
            items: Vec::new(),
            path: String::new(),
            path_q: "%2F".into(),
        }
    }

    pub fn for_user(p: &Principal, path: &str) -> Nav {
        let path_q = serde_urlencoded::to_string([("", path)])
            .unwrap_or_default()
            .trim_start_matches('=')
            .to_string();
        Nav {
            user_name: Some(p.user.display_name.clone()),
            csrf: p.csrf_token.clone(),
            items: nav_items(p.role()),
            path: path.to_string(),
            path_q,
        }
    }
}

/// The pages each role reaches from the header, in the order shown.
pub fn nav_items(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut items = vec![("/home", "nav.home")];
    if role == Role::Admin {
        items.push(("/admin/users", "nav.users"));
        items.push(("/admin/departments", "nav.departments"));
    }
    if matches!(role, Role::Admin | Role::Leader) {
        items.push(("/audit", "nav.audit"));
    }
    // Vouchers (issue 5).
    for (href, key, action) in VOUCHER_PAGES {
        if action.allows(role) {
            items.push((*href, *key));
        }
    }
    // The economy's pages, for the roles the policy table lets through.
    for (href, key, _, action) in ECONOMY_PAGES.iter().chain(crate::appeals_web::SERVICE_PAGES) {
        if action.allows(role) {
            items.push((*href, *key));
        }
    }
    for (href, key, action) in SERVICES_PAGES {
        if action.allows(role) {
            items.push((*href, *key));
        }
    }
    items
}

/// Government services' entry pages: `(href, title key, action)`.
pub const SERVICES_PAGES: &[(&str, &str, Action)] = &[
    ("/services", "nav.services", Action::SignedIn),
    ("/services/applications", "nav.my_applications", Action::ApplyServices),
    ("/services/queue", "nav.queue", Action::WorkServices),
    ("/services/figures", "nav.service_figures", Action::ViewServiceFigures),
    ("/services/admin", "nav.services_admin", Action::ManageServices),
    ("/notifications", "nav.notifications", Action::SignedIn),
];

/// The vouchers' entry pages: `(href, title key, action)`.
pub const VOUCHER_PAGES: &[(&str, &str, Action)] = &[
    ("/vouchers", "nav.vouchers", Action::ViewCampaigns),
    ("/vouchers/wallet", "vouchers.wallet", Action::ClaimVoucher),
    ("/merchant", "vouchers.merchant", Action::RedeemVoucher),
    ("/admin/vouchers", "vouchers.admin", Action::ManageVouchers),
];

/// The economy's entry pages: `(href, title key, home tile's description key, action)`.
pub const ECONOMY_PAGES: &[(&str, &str, &str, Action)] = &[
    ("/economy/bulletin", "nav.bulletin", "tile.bulletin", Action::ViewBulletin),
    ("/economy/enterprises", "nav.enterprises", "tile.enterprises", Action::ViewEnterprises),
    ("/economy/projects", "nav.projects", "tile.projects", Action::ViewProjects),
    ("/economy/import", "nav.import", "tile.import", Action::ImportEconomy),
];

pub fn render<P: Template>(page: &P) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub t: T,
    pub nav: Nav,
    pub status: u16,
    pub code: &'static str,
    pub headline: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub t: T,
    pub nav: Nav,
    pub pre_csrf: String,
    pub next: String,
    pub username: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub t: T,
    pub nav: Nav,
    pub user: dadong_store::User,
    pub duty_key: &'static str,
    pub scope_key: &'static str,
    pub scope_lines: Vec<String>,
    /// `(href, title key, description key)`.
    pub tiles: Vec<(&'static str, &'static str, &'static str)>,
}

pub struct UserRow {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: String,
    pub company_code: String,
    pub phone: String,
    pub active: bool,
}

#[derive(Default, serde::Deserialize)]
pub struct UserForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub company_code: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub id_number: String,
}

#[derive(Template)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub t: T,
    pub nav: Nav,
    pub users: Vec<UserRow>,
    pub departments: Vec<Department>,
    pub roles: Vec<Role>,
    pub form: UserForm,
    pub errors: Vec<String>,
    pub created: Option<String>,
}

#[derive(Default, serde::Deserialize)]
pub struct DepartmentForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name_zh: String,
    #[serde(default)]
    pub name_en: String,
}

#[derive(Template)]
#[template(path = "departments.html")]
pub struct DepartmentsPage {
    pub t: T,
    pub nav: Nav,
    pub departments: Vec<Department>,
    pub form: DepartmentForm,
    pub errors: Vec<String>,
    pub created: Option<String>,
}

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub struct AuditPage {
    pub t: T,
    pub nav: Nav,
    pub records: Vec<AuditRow>,
    pub verify: Option<AuditReport>,
    pub older: Option<i64>,
}

/// A chart drawn by our own code (`dadong_economy::report`), with its XML escaped there, so
/// the template inlines it with `|safe`.
pub struct ChartView {
    pub caption: String,
    pub svg: String,
}

/// One indicator's line in the bulletin's table.
pub struct IndicatorLine {
    pub name: String,
    pub unit: String,
    pub total: String,
    pub month_total: String,
    pub growth: String,
    pub record: bool,
    pub rank: String,
}

/// One line of the bulletin's project counts.
pub struct ProjectCountLine {
    pub label_key: &'static str,
    pub now: i64,
    pub prior: i64,
    pub change: String,
}

/// The figures of one bulletin, ready to show.
pub struct BulletinView {
    pub heading: String,
    pub month: i8,
    pub prose: Vec<String>,
    pub lines: Vec<IndicatorLine>,
    pub month_charts: Vec<ChartView>,
    pub industry_charts: Vec<ChartView>,
    pub projects_chart: String,
    pub projects: Vec<ProjectCountLine>,
    /// `(i18n key, count)`.
    pub pools: Vec<(&'static str, i64)>,
    pub json_href: String,
    pub md_href: String,
    pub xlsx_href: String,
}

#[derive(Template)]
#[template(path = "economy_bulletin.html")]
pub struct BulletinPage {
    pub t: T,
    pub nav: Nav,
    /// `(YYYY-MM, selected)`, newest first.
    pub periods: Vec<(String, bool)>,
    pub error: Option<String>,
    /// Shown instead of the figures when there are none for the period.
    pub no_data: Option<String>,
    pub view: Option<BulletinView>,
}

pub struct EnterpriseLine {
    pub credit_code: String,
    pub name: String,
    pub industry: String,
    pub above_size: bool,
    pub park: String,
}

/// Links to the neighbouring pages of a list, and where this one is.
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "economy_enterprises.html")]
pub struct EnterprisesPage {
    pub t: T,
    pub nav: Nav,
    pub q: String,
    /// True when the user sees only some enterprises (a cadre's, an agent's own).
    pub scoped: bool,
    pub items: Vec<EnterpriseLine>,
    pub pager: Pager,
}

#[derive(Template)]
#[template(path = "economy_enterprise.html")]
pub struct EnterprisePage {
    pub t: T,
    pub nav: Nav,
    pub enterprise: EnterpriseLine,
    pub registered: String,
    /// `(pool name, date entered)`.
    pub tags: Vec<(String, String)>,
    pub charts: Vec<ChartView>,
    pub value_headers: Vec<String>,
    /// `(YYYY-MM, one cell per header)`, newest first.
    pub value_rows: Vec<(String, Vec<String>)>,
}

pub struct ProjectLine {
    pub project_id: String,
    pub name: String,
    pub investment: String,
    pub industry: String,
    pub kind_key: &'static str,
    pub stage_key: &'static str,
}

#[derive(Template)]
#[template(path = "economy_projects.html")]
pub struct ProjectsPage {
    pub t: T,
    pub nav: Nav,
    pub items: Vec<ProjectLine>,
    pub pager: Pager,
}

pub struct StageLine {
    pub date: String,
    pub stage_key: &'static str,
    pub recorded: String,
}

#[derive(Template)]
#[template(path = "economy_project.html")]
pub struct ProjectPage {
    pub t: T,
    pub nav: Nav,
    pub project: ProjectLine,
    pub over_100m: bool,
    /// `(i18n key of the stage, date or empty)`.
    pub dates: Vec<(&'static str, String)>,
    pub stages: Vec<StageLine>,
}

/// One kind of exchange file on the upload form.
pub struct ImportKindOption {
    pub key: &'static str,
    pub label_key: &'static str,
    pub columns: &'static str,
    pub selected: bool,
}

pub struct ImportDone {
    pub kind: String,
    pub file_name: String,
    pub rows: usize,
    pub inserted: usize,
    pub replaced: usize,
    pub import_id: i64,
}

pub struct ImportLine {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub file_name: String,
    pub rows: i64,
    pub actor: String,
}

#[derive(Template)]
#[template(path = "economy_import.html")]
pub struct ImportPage {
    pub t: T,
    pub nav: Nav,
    pub kinds: Vec<ImportKindOption>,
    pub done: Option<ImportDone>,
    /// A problem with the upload itself (no file, no kind).
    pub problem: Option<String>,
    pub file_name: String,
    /// Every row-level problem of a refused file.
    pub row_errors: Vec<dadong_economy::import::ImportError>,
    pub recent: Vec<ImportLine>,
    pub body_max_mib: usize,
}

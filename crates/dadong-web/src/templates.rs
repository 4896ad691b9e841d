//! The page templates (compiled by askama from `templates/`) and the navigation every page
//! shares. HTML is only ever produced here, never with `format!`.

use crate::auth::Principal;
use crate::i18n::T;
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
    items
}

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

//! The management pages of enterprise service and daily dispatch (SPEC section 4): the appeal
//! routing rules (admins), assignments of leaders and cadres to enterprises and projects
//! (the leadership), key enterprises and their monthly plans (the statistics office), and the
//! dispatch tasks created from the board (the leadership).
//!
//! Input is read here into the store's types with a message per field; the store checks what
//! needs the database (a department exists, a user exists, an enterprise is a key one) and
//! refuses with its own message, which the page shows. The JSON API in
//! [`crate::appeals_admin_api`] uses the same parsers, so both refuse the same input alike.

use crate::AppState;
use crate::appeals_web::parse_value;
use crate::auth::Signed;
use crate::error::{ErrorKind, PageError, from_store};
use crate::i18n::{Lang, T};
use crate::pages::{actor_of, read_form};
use crate::templates::{Nav, render};
use askama::Template;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use dadong_appeals::{Category, Metric, RoutingRule};
use dadong_domain::{Period, Role};
use dadong_store::StoreError;
use dadong_store::appeals::{Duty, TargetKind};
use jiff::civil::Date;
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

/// Longest promise a rule may make, in working days (the rules crate's limit).
pub const RULE_DAYS_MAX: u32 = dadong_appeals::routing::PROMISE_DAYS_MAX;
/// Longest dispatch task title, in characters (the store holds the same limit).
pub const TASK_TITLE_MAX: usize = 200;

/// A field's refusal: `(field, message)`.
pub type FieldError = (String, String);

fn field(name: &str, message: impl Into<String>) -> FieldError {
    (name.to_string(), message.into())
}

fn store_error(lang: Lang) -> impl Fn(StoreError) -> PageError {
    move |e| {
        let (kind, message) = from_store(e);
        PageError::new(kind, message, lang)
    }
}

fn invalid_page(lang: Lang) -> impl Fn(FieldError) -> PageError {
    move |(f, m)| PageError::new(ErrorKind::Validation { field: f.clone() }, format!("{f}: {m}"), lang)
}

fn bad_form(lang: Lang) -> impl Fn(String) -> PageError {
    move |e| PageError::new(ErrorKind::BadRequest, e, lang)
}

// ---------------------------------------------------------------------------------------------
// Parsers shared with the API

fn days(name: &str, text: Option<&str>, default: u32) -> Result<u32, FieldError> {
    match text.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(t) => match t.parse::<u32>() {
            Ok(n) if (1..=RULE_DAYS_MAX).contains(&n) => Ok(n),
            _ => Err(field(name, format!("'{t}': a whole number of working days from 1 to {RULE_DAYS_MAX}"))),
        },
    }
}

/// A routing rule from its parts; the days default to SPEC's 3 and 15. Whether the department
/// exists is the store's check.
pub fn routing_rule(category: &str, department: &str, reply_days: Option<&str>, resolve_days: Option<&str>) -> Result<RoutingRule, FieldError> {
    let category = Category::parse(category).map_err(|e| field("category", e.to_string()))?;
    let department = department.trim();
    if department.is_empty() {
        return Err(field("department", "name a department by its code"));
    }
    let mut rule = RoutingRule::new(category, department);
    rule.reply_days = days("reply_days", reply_days, rule.reply_days)?;
    rule.resolve_days = days("resolve_days", resolve_days, rule.resolve_days)?;
    if rule.reply_days > rule.resolve_days {
        return Err(field(
            "reply_days",
            format!(
                "the reply ({} days) cannot come after the resolution ({} days)",
                rule.reply_days, rule.resolve_days
            ),
        ));
    }
    Ok(rule)
}

pub fn duty(text: &str) -> Result<Duty, FieldError> {
    match text.trim() {
        "leader" => Ok(Duty::Leader),
        "cadre" => Ok(Duty::Cadre),
        other => Err(field("duty", format!("'{other}': use leader or cadre"))),
    }
}

pub fn target_kind(text: &str) -> Result<TargetKind, FieldError> {
    TargetKind::parse(text).map_err(|_| field("kind", format!("'{}': use enterprise or project", text.trim())))
}

pub fn user_id(name: &str, text: &str) -> Result<i64, FieldError> {
    text.trim().parse().map_err(|_| field(name, "choose a user"))
}

/// A dispatch task's title and due date: 1 to 200 characters, today or later.
pub fn task_fields(title: &str, due_date: &str, today: Date) -> Result<(String, Date), FieldError> {
    let title = title.trim();
    let n = title.chars().count();
    if n == 0 || n > TASK_TITLE_MAX {
        return Err(field("title", format!("1 to {TASK_TITLE_MAX} characters (got {n})")));
    }
    let due: Date = due_date
        .trim()
        .parse()
        .map_err(|_| field("due_date", format!("'{}': a date YYYY-MM-DD", due_date.trim())))?;
    if due < today {
        return Err(field("due_date", format!("{due} is in the past (today is {today})")));
    }
    Ok((title.to_string(), due))
}

/// A monthly plan: month, metric and value (money in yuan to fen, counts whole).
pub fn plan_fields(period: &str, metric: &str, value: &str) -> Result<(Period, Metric, i64), FieldError> {
    let period = Period::parse(period.trim()).map_err(|e| field("period", e.to_string()))?;
    let metric = Metric::ALL
        .into_iter()
        .find(|m| m.code() == metric.trim())
        .ok_or_else(|| field("metric", format!("'{}': use output, orders, headcount or parts_stock", metric.trim())))?;
    let value = parse_value(metric, value)
        .map_err(|m| field("value", m))?
        .ok_or_else(|| field("value", "enter the planned value"))?;
    if value < 0 {
        return Err(field("value", "must not be negative"));
    }
    Ok((period, metric, value))
}

fn category_label(t: T, c: Category) -> &'static str {
    if t.is_en() { c.name_en() } else { c.name_zh() }
}

// ---------------------------------------------------------------------------------------------
// Routing rules

#[derive(Template)]
#[template(path = "appeal_rules.html")]
pub struct RulesPage {
    pub t: T,
    pub nav: Nav,
    /// `(category code, label, department code, department name, reply days, resolve days)`.
    pub rules: Vec<(String, String, String, String, String, String)>,
    pub categories: Vec<(String, String)>,
    pub departments: Vec<(String, String)>,
}

pub async fn rules(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let t = T::new(lang);
    let err = store_error(lang);
    let table = state.store.routing_table().await.map_err(&err)?;
    let departments = state.store.departments().await.map_err(&err)?;
    let dept_name = |code: &str| {
        departments
            .iter()
            .find(|d| d.code == code)
            .map(|d| if lang == Lang::En { d.name_en.clone() } else { d.name_zh.clone() })
            .unwrap_or_default()
    };
    let rules = Category::ALL
        .into_iter()
        .map(|c| match table.rules().find(|r| r.category == c) {
            Some(r) => (
                c.code().to_string(),
                category_label(t, c).to_string(),
                r.department.clone(),
                dept_name(&r.department),
                r.reply_days.to_string(),
                r.resolve_days.to_string(),
            ),
            None => (
                c.code().to_string(),
                category_label(t, c).to_string(),
                String::new(),
                t.t("rules.none").to_string(),
                String::new(),
                String::new(),
            ),
        })
        .collect();
    Ok(render(&RulesPage {
        t,
        nav: Nav::for_user(&p, "/admin/appeal-rules"),
        rules,
        categories: Category::ALL
            .into_iter()
            .map(|c| (c.code().to_string(), category_label(t, c).to_string()))
            .collect(),
        departments: departments
            .iter()
            .map(|d| (d.code.clone(), if lang == Lang::En { d.name_en.clone() } else { d.name_zh.clone() }))
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct RuleForm {
    category: Option<String>,
    department: Option<String>,
    reply_days: Option<String>,
    resolve_days: Option<String>,
}

pub async fn set_rule(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: RuleForm = read_form(req).await.map_err(bad_form(lang))?;
    let rule = routing_rule(
        f.category.as_deref().unwrap_or(""),
        f.department.as_deref().unwrap_or(""),
        f.reply_days.as_deref(),
        f.resolve_days.as_deref(),
    )
    .map_err(invalid_page(lang))?;
    state.store.set_routing_rule(&actor_of(&p), &rule).await.map_err(store_error(lang))?;
    Ok(Redirect::to("/admin/appeal-rules").into_response())
}

// ---------------------------------------------------------------------------------------------
// Assignments

#[derive(Template)]
#[template(path = "assignments.html")]
pub struct AssignmentsPage {
    pub t: T,
    pub nav: Nav,
    /// `(kind code, kind label, target, name, user id, user name, duty label)`.
    pub rows: Vec<(String, String, String, String, i64, String, String)>,
    /// Leaders and cadres: `(id, "name (username, role)")`.
    pub people: Vec<(i64, String)>,
}

pub async fn assignments(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let t = T::new(lang);
    let err = store_error(lang);
    let list = state.store.assignments(&p.user).await.map_err(&err)?;
    let users = state.store.users().await.map_err(&err)?;
    let rows = list
        .iter()
        .map(|a| {
            (
                a.kind.code().to_string(),
                t.t(if a.kind == TargetKind::Enterprise {
                    "service.enterprise"
                } else {
                    "service.project"
                })
                .to_string(),
                a.target.clone(),
                a.name.clone().unwrap_or_default(),
                a.user_id,
                a.user_name.clone(),
                t.t(if a.duty == Duty::Leader {
                    "service.duty.leader"
                } else {
                    "service.duty.cadre"
                })
                .to_string(),
            )
        })
        .collect();
    let people = users
        .iter()
        .filter(|u| u.active && matches!(u.role, Role::Leader | Role::Cadre))
        .map(|u| (u.id, format!("{} ({}, {})", u.display_name, u.username, t.role(&u.role))))
        .collect();
    Ok(render(&AssignmentsPage {
        t,
        nav: Nav::for_user(&p, "/service/assignments"),
        rows,
        people,
    }))
}

#[derive(Deserialize)]
pub struct AssignForm {
    kind: Option<String>,
    target: Option<String>,
    user_id: Option<String>,
    duty: Option<String>,
}

pub async fn assign(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: AssignForm = read_form(req).await.map_err(bad_form(lang))?;
    let invalid = invalid_page(lang);
    let kind = target_kind(f.kind.as_deref().unwrap_or("")).map_err(&invalid)?;
    let user = user_id("user_id", f.user_id.as_deref().unwrap_or("")).map_err(&invalid)?;
    let duty = duty(f.duty.as_deref().unwrap_or("")).map_err(&invalid)?;
    state
        .store
        .assign(&actor_of(&p), kind, f.target.as_deref().unwrap_or(""), user, duty)
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/service/assignments").into_response())
}

pub async fn unassign(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: AssignForm = read_form(req).await.map_err(bad_form(lang))?;
    let invalid = invalid_page(lang);
    let kind = target_kind(f.kind.as_deref().unwrap_or("")).map_err(&invalid)?;
    let user = user_id("user_id", f.user_id.as_deref().unwrap_or("")).map_err(&invalid)?;
    state
        .store
        .unassign(&actor_of(&p), kind, f.target.as_deref().unwrap_or(""), user)
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/service/assignments").into_response())
}

// ---------------------------------------------------------------------------------------------
// Key enterprises and monthly plans

#[derive(Template)]
#[template(path = "key_enterprises.html")]
pub struct KeyEnterprisesPage {
    pub t: T,
    pub nav: Nav,
    /// `(credit code, name, latest report day)`.
    pub key: Vec<(String, String, String)>,
    pub metrics: Vec<(&'static str, &'static str)>,
    pub month: String,
}

pub async fn key_enterprises(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let t = T::new(lang);
    let today = crate::appeals_web::today();
    let lines = state.store.key_figures(today).await.map_err(store_error(lang))?;
    Ok(render(&KeyEnterprisesPage {
        t,
        nav: Nav::for_user(&p, "/dispatch/key-enterprises"),
        key: lines
            .iter()
            .map(|l| {
                (
                    l.credit_code.clone(),
                    l.name.clone().unwrap_or_default(),
                    l.latest_day.clone().unwrap_or_default(),
                )
            })
            .collect(),
        metrics: Metric::ALL
            .iter()
            .map(|m| {
                (
                    m.code(),
                    match m {
                        Metric::Output => "metric.output",
                        Metric::Orders => "metric.orders",
                        Metric::Headcount => "metric.headcount",
                        Metric::PartsStock => "metric.parts_stock",
                    },
                )
            })
            .collect(),
        month: format!("{:04}-{:02}", today.year(), today.month()),
    }))
}

#[derive(Deserialize)]
pub struct KeyForm {
    credit_code: Option<String>,
}

pub async fn add_key(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: KeyForm = read_form(req).await.map_err(bad_form(lang))?;
    state
        .store
        .add_key_enterprise(&actor_of(&p), f.credit_code.as_deref().unwrap_or(""))
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/dispatch/key-enterprises").into_response())
}

pub async fn remove_key(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: KeyForm = read_form(req).await.map_err(bad_form(lang))?;
    state
        .store
        .remove_key_enterprise(&actor_of(&p), f.credit_code.as_deref().unwrap_or(""))
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/dispatch/key-enterprises").into_response())
}

#[derive(Deserialize)]
pub struct PlanForm {
    credit_code: Option<String>,
    period: Option<String>,
    metric: Option<String>,
    value: Option<String>,
}

pub async fn set_plan(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: PlanForm = read_form(req).await.map_err(bad_form(lang))?;
    let (period, metric, value) = plan_fields(
        f.period.as_deref().unwrap_or(""),
        f.metric.as_deref().unwrap_or(""),
        f.value.as_deref().unwrap_or(""),
    )
    .map_err(invalid_page(lang))?;
    let code = f.credit_code.unwrap_or_default();
    state
        .store
        .set_monthly_plan(&actor_of(&p), code.trim(), period, metric, value)
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/dispatch/key-enterprises").into_response())
}

// ---------------------------------------------------------------------------------------------
// Dispatch tasks

#[derive(Deserialize)]
pub struct TaskForm {
    title: Option<String>,
    owner_user_id: Option<String>,
    due_date: Option<String>,
}

pub async fn create_task(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: TaskForm = read_form(req).await.map_err(bad_form(lang))?;
    let invalid = invalid_page(lang);
    let (title, due) = task_fields(
        f.title.as_deref().unwrap_or(""),
        f.due_date.as_deref().unwrap_or(""),
        crate::appeals_web::today(),
    )
    .map_err(&invalid)?;
    let owner = user_id("owner_user_id", f.owner_user_id.as_deref().unwrap_or("")).map_err(&invalid)?;
    state
        .store
        .create_dispatch_task(&actor_of(&p), &p.user, &title, owner, due)
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/dispatch").into_response())
}

pub async fn complete_task(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>) -> PageResult {
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| PageError::new(ErrorKind::NotFound, format!("dispatch task {id} not found"), lang))?;
    state.store.complete_dispatch_task(&actor_of(&p), id).await.map_err(store_error(lang))?;
    Ok(Redirect::to("/dispatch").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_task_due_yesterday_or_with_an_empty_title_is_refused_with_its_field() {
        let today = date(2026, 3, 10);
        assert_eq!(task_fields(" 调度 ", "2026-03-10", today).unwrap(), ("调度".to_string(), today));
        assert_eq!(task_fields("x", "2026-03-09", today).unwrap_err().0, "due_date");
        assert_eq!(task_fields("  ", "2026-03-10", today).unwrap_err().0, "title");
        assert_eq!(task_fields(&"长".repeat(201), "2026-03-10", today).unwrap_err().0, "title");
        assert_eq!(task_fields("x", "10/03/2026", today).unwrap_err().0, "due_date");
    }

    #[test]
    fn a_rule_takes_spec_days_by_default_and_refuses_a_reply_after_the_resolution() {
        let r = routing_rule("land", "land", None, Some("")).unwrap();
        assert_eq!((r.reply_days, r.resolve_days), (3, 15));
        assert_eq!(routing_rule("land", "land", Some("20"), Some("10")).unwrap_err().0, "reply_days");
        assert_eq!(routing_rule("land", "land", Some("0"), None).unwrap_err().0, "reply_days");
        assert_eq!(routing_rule("weather", "land", None, None).unwrap_err().0, "category");
        assert_eq!(routing_rule("land", " ", None, None).unwrap_err().0, "department");
    }

    #[test]
    fn a_plan_reads_money_in_yuan_and_counts_whole() {
        assert_eq!(plan_fields("2026-03", "output", "12.5").unwrap().2, 1250);
        assert_eq!(plan_fields("2026-03", "headcount", "120").unwrap().2, 120);
        assert_eq!(plan_fields("2026-03", "output", "-1").unwrap_err().0, "value");
        assert_eq!(plan_fields("2026-13", "output", "1").unwrap_err().0, "period");
        assert_eq!(plan_fields("2026-03", "profit", "1").unwrap_err().0, "metric");
    }
}

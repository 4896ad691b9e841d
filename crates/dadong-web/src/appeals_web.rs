//! Enterprise service and daily dispatch pages (SPEC section 4): appeals for the enterprise
//! agent (raise, follow, confirm with a score, reopen), the department's queue with yellow and
//! red flags for its clerks (accept, reply, resolve), cadres' assignments, visits and monthly
//! coverage, the leaders' dispatch board (refreshing itself with htmx), the key enterprises'
//! daily figures form, and the appeals figures of a period.
//!
//! What each user sees is decided in the store's scoped queries; an appeal outside a user's
//! scope is a 404 as if it did not exist.

use crate::auth::Signed;
use crate::error::{ErrorKind, PageError, from_store};
use crate::i18n::{Lang, T};
use crate::pages::{actor_of, read_form};
use crate::policy::Action;
use crate::templates::{Nav, render};
use crate::{AppState, format_time};
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use dadong_appeals::{Category, DailyFigure, Flag, Metric, PlanFlag, Status};
use dadong_domain::{Period, Role};
use dadong_store::StoreError;
use dadong_store::appeals::{AppealAction, AppealFilter, AppealItem, DispatchBoard, NewAppeal, NewVisit};
use jiff::Timestamp;
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

/// The area's entry pages: `(href, title key, home tile's description key, action)`.
pub const SERVICE_PAGES: &[(&str, &str, &str, Action)] = &[
    ("/appeals", "nav.appeals", "tile.appeals", Action::ViewAppeals),
    ("/dispatch", "nav.dispatch", "tile.dispatch", Action::ViewDispatch),
    ("/service", "nav.service", "tile.service", Action::Service),
    ("/figures/daily", "nav.daily", "tile.daily", Action::ReportFigures),
    ("/service/figures", "nav.appeal_figures", "tile.appeal_figures", Action::ViewBulletin),
    ("/service/assignments", "nav.assignments", "tile.assignments", Action::ManageAssignments),
    (
        "/dispatch/key-enterprises",
        "nav.key_enterprises",
        "tile.key_enterprises",
        Action::ManageKeyEnterprises,
    ),
    ("/admin/appeal-rules", "nav.appeal_rules", "tile.appeal_rules", Action::ManageAppealRules),
];

/// Seconds between the dispatch board's refreshes.
pub const BOARD_REFRESH_S: u32 = 30;

fn store_error(lang: Lang) -> impl Fn(StoreError) -> PageError {
    move |e| {
        let (kind, message) = from_store(e);
        PageError::new(kind, message, lang)
    }
}

pub(crate) fn today() -> jiff::civil::Date {
    dadong_appeals::local_date(Timestamp::now())
}

/// The step named in a path, with its form fields, as the store's action.
pub(crate) fn parse_step(step: &str, note: Option<String>, score: Option<&str>, department: Option<String>) -> Result<AppealAction, (String, String)> {
    let note = note.unwrap_or_default();
    Ok(match step {
        "accept" => AppealAction::Accept,
        "reply" => AppealAction::Reply(note),
        "resolve" => AppealAction::Resolve(note),
        "reopen" => AppealAction::Reopen(note),
        "route" => AppealAction::Route(department.unwrap_or_default()),
        "confirm" => {
            let score = score
                .map(str::trim)
                .and_then(|s| s.parse::<u8>().ok())
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| ("satisfaction".to_string(), "a score from 1 to 5".to_string()))?;
            AppealAction::Confirm { score, note }
        }
        other => return Err(("step".into(), format!("no step '{other}': accept, reply, resolve, confirm, reopen or route"))),
    })
}

fn flag_class(flag: Option<Flag>) -> &'static str {
    match flag {
        Some(Flag::Red) => "flag-red",
        Some(Flag::Yellow) => "flag-yellow",
        Some(Flag::Green) => "flag-green",
        None => "",
    }
}

fn plan_class(flag: Option<PlanFlag>) -> &'static str {
    match flag {
        Some(PlanFlag::Red) => "flag-red",
        Some(PlanFlag::Yellow) => "flag-yellow",
        Some(PlanFlag::Green) => "flag-green",
        None => "",
    }
}

fn category_label(t: T, c: Category) -> &'static str {
    if t.is_en() { c.name_en() } else { c.name_zh() }
}

/// One appeal as a row of a list.
pub struct AppealRow {
    pub id: i64,
    pub title: String,
    pub company: String,
    pub category: &'static str,
    pub status: &'static str,
    pub status_code: &'static str,
    pub department: String,
    pub due: String,
    pub flag_class: &'static str,
    pub flag_key: &'static str,
    pub escalation_key: &'static str,
}

fn status_key(s: Status) -> &'static str {
    match s {
        Status::Raised => "appeal.status.raised",
        Status::Routed => "appeal.status.routed",
        Status::Accepted => "appeal.status.accepted",
        Status::Replied => "appeal.status.replied",
        Status::Resolved => "appeal.status.resolved",
        Status::Closed => "appeal.status.closed",
    }
}

fn escalation_key(e: dadong_appeals::Escalation) -> &'static str {
    match e {
        dadong_appeals::Escalation::None => "",
        dadong_appeals::Escalation::DepartmentHead => "appeal.escalated.head",
        dadong_appeals::Escalation::Leader => "appeal.escalated.leader",
    }
}

/// A dispatch task as the board lists it: id, title, owner, due date.
fn task_row(x: &dadong_store::appeals::DispatchTask) -> (i64, String, String, String) {
    (x.id, x.title.clone(), x.owner_name.clone(), x.due_date.clone())
}

fn row(t: T, a: &AppealItem) -> AppealRow {
    AppealRow {
        id: a.id,
        title: a.title.clone(),
        company: a.company_name.clone().unwrap_or_else(|| a.credit_code.clone()),
        category: category_label(t, a.category),
        status: t.t(status_key(a.status)),
        status_code: a.status.code(),
        department: a.department_name.clone().unwrap_or_default(),
        due: a.due_at.map(|d| format_time(d)[..10].to_string()).unwrap_or_default(),
        flag_class: flag_class(a.flag),
        flag_key: match a.flag {
            Some(Flag::Red) => "flag.red",
            Some(Flag::Yellow) => "flag.yellow",
            Some(Flag::Green) => "flag.green",
            None => "",
        },
        escalation_key: escalation_key(a.escalation),
    }
}

// ---------------------------------------------------------------------------------------------
// Appeals

#[derive(Template)]
#[template(path = "appeals.html")]
pub struct AppealsPage {
    pub t: T,
    pub nav: Nav,
    pub heading_key: &'static str,
    pub rows: Vec<AppealRow>,
    pub can_raise: bool,
    /// The companies the user may raise for (an agent's own; a cadre's assigned).
    pub companies: Vec<String>,
    pub categories: Vec<(&'static str, &'static str)>,
    pub filter_status: String,
    pub overdue_only: bool,
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    overdue: Option<String>,
}

pub async fn list(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<ListQuery>) -> PageResult {
    let t = T::new(lang);
    let now = Timestamp::now();
    let status = q.status.as_deref().filter(|s| !s.is_empty()).and_then(Status::parse);
    let overdue = q.overdue.as_deref() == Some("1");
    let filter = AppealFilter {
        status,
        overdue,
        limit: 200,
        ..AppealFilter::default()
    };
    let items = state.store.appeals(&p.user, &filter, now).await.map_err(store_error(lang))?;
    let heading_key = match p.role() {
        Role::Enterprise => "appeals.title.enterprise",
        Role::Clerk => "appeals.title.clerk",
        Role::Cadre => "appeals.title.cadre",
        _ => "appeals.title.all",
    };
    let companies = match p.role() {
        Role::Enterprise => p.user.company_code.clone().into_iter().collect(),
        Role::Cadre => p.assigned.clone(),
        _ => Vec::new(),
    };
    let page = AppealsPage {
        t,
        nav: Nav::for_user(&p, "/appeals"),
        heading_key,
        rows: items.iter().map(|a| row(t, a)).collect(),
        can_raise: Action::RaiseAppeal.allows(p.role()),
        companies,
        categories: Category::ALL.iter().map(|c| (c.code(), category_label(t, *c))).collect(),
        filter_status: status.map(|s| s.code().to_string()).unwrap_or_default(),
        overdue_only: overdue,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct RaiseForm {
    credit_code: Option<String>,
    category: Option<String>,
    title: Option<String>,
    body: Option<String>,
}

pub async fn raise(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let form: RaiseForm = read_form(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let new = NewAppeal {
        credit_code: form.credit_code.or(p.user.company_code.clone()).unwrap_or_default(),
        category: form.category.unwrap_or_default(),
        title: form.title.unwrap_or_default(),
        body: form.body.unwrap_or_default(),
        visit_id: None,
    };
    let raised = state
        .store
        .raise_appeal(&actor_of(&p), &p.user, &new, Timestamp::now())
        .await
        .map_err(store_error(lang))?;
    let similar: Vec<String> = raised.possible_duplicates.iter().map(|d| d.id.to_string()).collect();
    let to = if similar.is_empty() {
        format!("/appeals/{}", raised.appeal.id)
    } else {
        format!("/appeals/{}?similar={}", raised.appeal.id, similar.join(","))
    };
    Ok(Redirect::to(&to).into_response())
}

pub struct EventRow {
    pub at: String,
    pub who: String,
    pub kind_key: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "appeal.html")]
pub struct AppealPage {
    pub t: T,
    pub nav: Nav,
    pub a: AppealRow,
    pub body: String,
    pub credit_code: String,
    pub raised_at: String,
    pub reply_due: String,
    pub resolve_due: String,
    pub satisfaction: String,
    pub events: Vec<EventRow>,
    pub similar: Vec<(i64, String)>,
    /// The step forms this user may use now.
    pub can_accept: bool,
    pub can_reply: bool,
    pub can_resolve: bool,
    pub can_confirm: bool,
    pub can_reopen: bool,
    pub follow_up: String,
    /// A closed appeal drawn for the sample whose call is still to be made, for staff.
    pub can_follow_up: bool,
}

#[derive(Deserialize)]
pub struct DetailQuery {
    similar: Option<String>,
}

pub async fn detail(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>, Query(q): Query<DetailQuery>) -> PageResult {
    let t = T::new(lang);
    let not_found = || PageError::new(ErrorKind::NotFound, format!("appeal {id} not found"), lang);
    let id_n: i64 = id.parse().map_err(|_| not_found())?;
    let now = Timestamp::now();
    let d = state.store.appeal(&p.user, id_n, now).await.map_err(store_error(lang))?.ok_or_else(not_found)?;
    let a = &d.appeal;
    let mut similar = Vec::new();
    for s in q
        .similar
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter_map(|s| s.trim().parse::<i64>().ok())
        .take(5)
    {
        if let Some(other) = state.store.appeal(&p.user, s, now).await.map_err(store_error(lang))? {
            similar.push((s, other.appeal.title));
        }
    }
    let clerk_here = (p.role() == Role::Clerk && p.user.department_id.is_some() && p.user.department_id == a.department_id) || p.role() == Role::Admin;
    let own = p.role() == Role::Enterprise && p.user.company_code.as_deref() == Some(a.credit_code.as_str());
    let page = AppealPage {
        t,
        nav: Nav::for_user(&p, "/appeals"),
        a: row(t, a),
        body: a.body.clone(),
        credit_code: a.credit_code.clone(),
        raised_at: format_time(a.raised_at),
        reply_due: a.reply_due.map(format_time).unwrap_or_default(),
        resolve_due: a.resolve_due.map(format_time).unwrap_or_default(),
        satisfaction: a.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
        events: d
            .events
            .iter()
            .map(|e| EventRow {
                at: format_time(e.at),
                who: e.user_name.clone().unwrap_or_else(|| t.t("appeal.system").to_string()),
                kind_key: format!("appeal.event.{}", e.kind),
                note: e.note.clone(),
            })
            .collect(),
        similar,
        can_accept: clerk_here && a.status == Status::Routed,
        can_reply: clerk_here && matches!(a.status, Status::Accepted | Status::Replied),
        can_resolve: clerk_here && matches!(a.status, Status::Accepted | Status::Replied),
        can_confirm: own && a.status == Status::Resolved,
        can_reopen: own && a.status == Status::Closed,
        follow_up: d
            .follow_up
            .as_ref()
            .map(|f| format!("{} · {}", format_time(f.called_at), f.satisfaction.map(|s| s.to_string()).unwrap_or_default()))
            .unwrap_or_default(),
        can_follow_up: d.follow_up_sampled && d.follow_up.is_none() && Action::FollowUpAppeal.allows(p.role()),
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct FollowUpForm {
    reached: Option<String>,
    score: Option<String>,
    note: Option<String>,
}

/// `reached` is "1" when the enterprise answered; a score only then.
pub(crate) fn follow_up_fields(reached: bool, score: Option<&str>) -> Result<Option<u8>, (String, String)> {
    match score.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(_) if !reached => Err(("score".into(), "no score when the enterprise was not reached".into())),
        Some(s) => s
            .parse::<u8>()
            .ok()
            .filter(|s| (1..=5).contains(s))
            .map(Some)
            .ok_or_else(|| ("score".into(), "a score from 1 to 5".into())),
    }
}

pub async fn follow_up(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>, req: Request) -> PageResult {
    let not_found = || PageError::new(ErrorKind::NotFound, format!("appeal {id} not found"), lang);
    let id_n: i64 = id.parse().map_err(|_| not_found())?;
    let form: FollowUpForm = read_form(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let reached = form.reached.as_deref() == Some("1");
    let score = follow_up_fields(reached, form.score.as_deref())
        .map_err(|(field, m)| PageError::new(ErrorKind::Validation { field: field.clone() }, format!("{field}: {m}"), lang))?;
    state
        .store
        .record_follow_up(
            &actor_of(&p),
            &p.user,
            id_n,
            &dadong_store::appeals::FollowUpCall {
                reached,
                satisfaction: score,
                note: form.note.unwrap_or_default(),
            },
            Timestamp::now(),
        )
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/appeals/{id_n}")).into_response())
}

#[derive(Deserialize)]
pub struct StepForm {
    note: Option<String>,
    score: Option<String>,
    department: Option<String>,
}

pub async fn step(State(state): State<AppState>, Signed(p, lang): Signed, Path((id, step)): Path<(String, String)>, req: Request) -> PageResult {
    let not_found = || PageError::new(ErrorKind::NotFound, format!("appeal {id} not found"), lang);
    let id_n: i64 = id.parse().map_err(|_| not_found())?;
    let form: StepForm = read_form(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let action = parse_step(&step, form.note, form.score.as_deref(), form.department).map_err(|(field, message)| {
        if field == "step" {
            PageError::new(ErrorKind::NotFound, message, lang)
        } else {
            PageError::new(ErrorKind::Validation { field: field.clone() }, format!("{field}: {message}"), lang)
        }
    })?;
    state
        .store
        .appeal_step(&actor_of(&p), &p.user, id_n, action, Timestamp::now())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/appeals/{id_n}")).into_response())
}

// ---------------------------------------------------------------------------------------------
// The dispatch board

pub struct FigureRow {
    pub company: String,
    pub latest_day: String,
    pub cells: Vec<(String, String, String, &'static str)>,
    pub flag_class: &'static str,
}

#[derive(Template)]
#[template(path = "dispatch.html")]
pub struct DispatchPage {
    pub t: T,
    pub nav: Nav,
    pub board: BoardView,
    pub refresh_s: u32,
    /// Who may own a new dispatch task: active government staff, `(id, label)`.
    pub owners: Vec<(i64, String)>,
    pub today: String,
}

#[derive(Template)]
#[template(path = "dispatch_board.html")]
pub struct BoardFragment {
    pub t: T,
    pub board: BoardView,
    pub refresh_s: u32,
}

pub struct BoardView {
    pub today: String,
    pub updated: String,
    pub figures: Vec<FigureRow>,
    pub metric_keys: Vec<&'static str>,
    pub overdue: Vec<AppealRow>,
    pub escalated: Vec<AppealRow>,
    pub open_appeals: i64,
    pub problems: Vec<(String, String, String, String)>,
    /// `(id, title, owner, due date)`.
    pub tasks: Vec<(i64, String, String, String)>,
    /// Open tasks due in the coming days, shown with the same "done" button.
    pub upcoming: Vec<(i64, String, String, String)>,
    /// The form token for the tasks' "done" buttons, which the refreshed fragment carries too.
    pub csrf: String,
}

fn amount(metric: Metric, v: i64) -> String {
    if metric.is_money() {
        // Fen as 万元 with two decimals.
        dadong_domain::money::format_scaled(i128::from(v), 1_000_000, 2)
    } else {
        v.to_string()
    }
}

fn board_view(t: T, b: &DispatchBoard) -> BoardView {
    let figures = b
        .key_enterprises
        .iter()
        .map(|k| FigureRow {
            company: k.name.clone().unwrap_or_else(|| k.credit_code.clone()),
            latest_day: k.latest_day.clone().unwrap_or_default(),
            cells: k
                .metrics
                .iter()
                .map(|m| {
                    let growth = m
                        .growth_tenths
                        .map(|g| format!("{}{}.{}%", if g < 0 { "-" } else { "" }, g.abs() / 10, g.abs() % 10))
                        .unwrap_or_default();
                    (
                        m.value.map(|v| amount(m.metric, v)).unwrap_or_else(|| "—".into()),
                        m.plan.map(|v| amount(m.metric, v)).unwrap_or_default(),
                        growth,
                        plan_class(m.flag),
                    )
                })
                .collect(),
            flag_class: plan_class(k.flag),
        })
        .collect();
    BoardView {
        today: b.today.clone(),
        updated: format_time(Timestamp::now().as_millisecond()),
        figures,
        metric_keys: Metric::ALL
            .iter()
            .map(|m| match m {
                Metric::Output => "metric.output",
                Metric::Orders => "metric.orders",
                Metric::Headcount => "metric.headcount",
                Metric::PartsStock => "metric.parts_stock",
            })
            .collect(),
        overdue: b.overdue.iter().map(|a| row(t, a)).collect(),
        escalated: b.escalated.iter().map(|a| row(t, a)).collect(),
        open_appeals: b.open_appeals,
        problems: b
            .projects_with_problems
            .iter()
            .map(|p| (p.project_id.clone(), p.name.clone(), p.visit_date.clone(), p.problems.clone()))
            .collect(),
        tasks: b.tasks_today.iter().map(task_row).collect(),
        upcoming: b.tasks_upcoming.iter().map(task_row).collect(),
        csrf: String::new(),
    }
}

pub async fn dispatch(State(state): State<AppState>, Signed(p, lang): Signed, headers: HeaderMap) -> PageResult {
    let t = T::new(lang);
    let board = state.store.dispatch_board(Timestamp::now()).await.map_err(store_error(lang))?;
    let mut board = board_view(t, &board);
    board.csrf = p.csrf_token.clone();
    // htmx asks for the board alone when it refreshes it.
    if headers.contains_key("hx-request") {
        return Ok(render(&BoardFragment {
            t,
            board,
            refresh_s: BOARD_REFRESH_S,
        }));
    }
    Ok(render(&DispatchPage {
        t,
        nav: Nav::for_user(&p, "/dispatch"),
        board,
        refresh_s: BOARD_REFRESH_S,
        owners: state
            .store
            .users()
            .await
            .map_err(store_error(lang))?
            .iter()
            .filter(|u| u.active && u.role.is_staff())
            .map(|u| (u.id, format!("{} ({})", u.display_name, u.username)))
            .collect(),
        today: today().to_string(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Service: assignments, visits, coverage

#[derive(Template)]
#[template(path = "service.html")]
pub struct ServicePage {
    pub t: T,
    pub nav: Nav,
    pub month: String,
    pub assignments: Vec<(String, String, String, String)>,
    pub coverage: Vec<(String, String, i64)>,
    pub not_visited: usize,
    pub visits: Vec<(String, String, String, String, String, String)>,
    pub targets: Vec<(String, String)>,
    pub today: String,
}

#[derive(Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

pub async fn service(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<MonthQuery>) -> PageResult {
    let t = T::new(lang);
    let today = today();
    let month = match q.month.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => Period::parse(m).map_err(|e| PageError::new(ErrorKind::Validation { field: "month".into() }, format!("month: {e}"), lang))?,
        None => Period::new(today.year(), today.month()).map_err(|e| PageError::new(ErrorKind::Internal, e.to_string(), lang))?,
    };
    let err = store_error(lang);
    let assignments = state.store.assignments(&p.user).await.map_err(&err)?;
    let coverage = state.store.coverage(&p.user, month).await.map_err(&err)?;
    let visits = state.store.visits(&p.user, None, 100).await.map_err(&err)?;
    let mut targets: Vec<(String, String)> = assignments
        .iter()
        .filter(|a| p.role() != Role::Cadre || a.user_id == p.user.id)
        .map(|a| (format!("{}:{}", a.kind.code(), a.target), a.name.clone().unwrap_or_else(|| a.target.clone())))
        .collect();
    targets.sort();
    targets.dedup();
    let page = ServicePage {
        t,
        nav: Nav::for_user(&p, "/service"),
        month: month.to_string(),
        not_visited: coverage.iter().filter(|c| c.visits == 0).count(),
        assignments: assignments
            .iter()
            .map(|a| {
                (
                    t.t(if a.kind == dadong_store::appeals::TargetKind::Enterprise {
                        "service.enterprise"
                    } else {
                        "service.project"
                    })
                    .to_string(),
                    a.name.clone().unwrap_or_else(|| a.target.clone()),
                    a.user_name.clone(),
                    t.t(if a.duty == dadong_store::appeals::Duty::Leader {
                        "service.duty.leader"
                    } else {
                        "service.duty.cadre"
                    })
                    .to_string(),
                )
            })
            .collect(),
        coverage: coverage
            .iter()
            .map(|c| (c.user_name.clone(), c.name.clone().unwrap_or_else(|| c.credit_code.clone()), c.visits))
            .collect(),
        visits: visits
            .iter()
            .map(|v| {
                (
                    v.visit_date.clone(),
                    v.target.clone(),
                    v.user_name.clone(),
                    v.people_met.clone(),
                    v.findings.clone(),
                    v.problems.clone(),
                )
            })
            .collect(),
        targets,
        today: today.to_string(),
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct VisitForm {
    target: Option<String>,
    visit_date: Option<String>,
    people_met: Option<String>,
    findings: Option<String>,
    problems: Option<String>,
}

pub(crate) fn new_visit(target: &str, visit_date: String, people_met: String, findings: String, problems: String) -> NewVisit {
    let (kind, target) = target.split_once(':').unwrap_or(("enterprise", target));
    NewVisit {
        kind: kind.to_string(),
        target: target.to_string(),
        visit_date,
        people_met,
        findings,
        problems,
    }
}

pub async fn record_visit(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: VisitForm = read_form(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let visit = new_visit(
        f.target.as_deref().unwrap_or(""),
        f.visit_date.unwrap_or_default(),
        f.people_met.unwrap_or_default(),
        f.findings.unwrap_or_default(),
        f.problems.unwrap_or_default(),
    );
    state
        .store
        .record_visit(&actor_of(&p), &p.user, &visit, today())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/service").into_response())
}

// ---------------------------------------------------------------------------------------------
// Daily figures

#[derive(Template)]
#[template(path = "daily_figures.html")]
pub struct DailyPage {
    pub t: T,
    pub nav: Nav,
    pub company: String,
    pub today: String,
    pub saved: bool,
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn daily_form(Signed(p, lang): Signed, Query(q): Query<SavedQuery>) -> PageResult {
    Ok(render(&DailyPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/figures/daily"),
        company: p.user.company_code.clone().unwrap_or_default(),
        today: today().to_string(),
        saved: q.saved.is_some(),
    }))
}

#[derive(Deserialize)]
pub struct DailyForm {
    credit_code: Option<String>,
    date: Option<String>,
    output: Option<String>,
    orders: Option<String>,
    headcount: Option<String>,
    parts_stock: Option<String>,
}

/// A figure's text: money in yuan with at most two decimals (to fen), counts whole; empty is
/// "not reported".
pub(crate) fn parse_value(metric: Metric, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches('-');
    let value = if metric.is_money() {
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() || frac.len() > 2 || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return Err(format!("'{text}' is not an amount in yuan with at most two decimals"));
        }
        let whole: i64 = whole.parse().map_err(|_| format!("'{text}' is too large"))?;
        let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
        whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(|| format!("'{text}' is too large"))?
    } else {
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() {
            return Err(format!("'{text}' is not a whole number"));
        }
        digits.parse().map_err(|_| format!("'{text}' is too large"))?
    };
    Ok(Some(if negative { -value } else { value }))
}

pub(crate) fn daily_figure(date: &str, values: [(Metric, Option<&str>); 4]) -> Result<DailyFigure, (String, String)> {
    let date: jiff::civil::Date = date.trim().parse().map_err(|_| ("date".to_string(), "a date YYYY-MM-DD".to_string()))?;
    let mut out = Vec::new();
    for (metric, text) in values {
        if let Some(v) = parse_value(metric, text.unwrap_or("")).map_err(|m| (metric.code().to_string(), m))? {
            out.push((metric, v));
        }
    }
    Ok(DailyFigure { date, values: out })
}

pub async fn daily_submit(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: DailyForm = read_form(req).await.map_err(|e| PageError::new(ErrorKind::BadRequest, e, lang))?;
    let invalid = |(field, message): (String, String)| PageError::new(ErrorKind::Validation { field: field.clone() }, format!("{field}: {message}"), lang);
    let figure = daily_figure(
        f.date.as_deref().unwrap_or(""),
        [
            (Metric::Output, f.output.as_deref()),
            (Metric::Orders, f.orders.as_deref()),
            (Metric::Headcount, f.headcount.as_deref()),
            (Metric::PartsStock, f.parts_stock.as_deref()),
        ],
    )
    .map_err(invalid)?;
    let code = f
        .credit_code
        .filter(|c| !c.trim().is_empty())
        .or(p.user.company_code.clone())
        .unwrap_or_default();
    state
        .store
        .report_daily_figures(&actor_of(&p), &p.user, code.trim(), &figure, today())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/figures/daily?saved=1").into_response())
}

// ---------------------------------------------------------------------------------------------
// Figures of a period

#[derive(Template)]
#[template(path = "appeal_figures.html")]
pub struct FiguresPage {
    pub t: T,
    pub nav: Nav,
    pub through: String,
    pub f: dadong_store::appeals::AppealFigures,
    /// `(heading key, lines)`: by department, then by category.
    pub tables: Vec<(&'static str, Vec<dadong_store::appeals::SatisfactionLine>)>,
}

#[derive(Deserialize)]
pub struct ThroughQuery {
    through: Option<String>,
}

pub(crate) fn through_or_now(raw: Option<&str>) -> Result<Period, String> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Period::parse(s).map_err(|e| format!("through: {e}")),
        None => {
            let d = today();
            Period::new(d.year(), d.month()).map_err(|e| e.to_string())
        }
    }
}

pub async fn figures(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<ThroughQuery>) -> PageResult {
    let through = through_or_now(q.through.as_deref()).map_err(|m| PageError::new(ErrorKind::Validation { field: "through".into() }, m, lang))?;
    let (from, to) = dadong_store::appeals::report_period_ms(through);
    let f = state.store.appeal_figures(from, to).await.map_err(store_error(lang))?;
    Ok(render(&FiguresPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/service/figures"),
        through: through.to_string(),
        tables: vec![("appeal.department", f.by_department.clone()), ("appeal.category", f.by_category.clone())],
        f,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_yuan_to_fen_and_counts_as_whole_numbers() {
        assert_eq!(parse_value(Metric::Output, "12.5"), Ok(Some(1250)));
        assert_eq!(parse_value(Metric::Output, "-3"), Ok(Some(-300)));
        assert_eq!(parse_value(Metric::Output, ""), Ok(None));
        assert!(parse_value(Metric::Output, "1.234").is_err());
        assert_eq!(parse_value(Metric::Headcount, "120"), Ok(Some(120)));
        assert!(parse_value(Metric::Headcount, "1.5").is_err());
    }
}

//! Government services' pages (SPEC section 5): the catalog and its one-thing bundles, applying
//! with one combined form, uploading materials, following each step, the hall's and the
//! departments' queues, ratings and rectifications, the figures, the bundle and catalog
//! administration, and the public certificate check at `/verify/<id>`.
//!
//! Who may open each route is its action (see `routes`); inside, an application is shown only to
//! its applicant, to clerks of the hall or of a department with a step in it, and to the
//! district's leaders and admins: to anyone else it does not exist (404).

use std::collections::{BTreeMap, BTreeSet};

use crate::auth::{self, Ctx, PRE_CSRF_COOKIE, Principal, Signed};
use crate::error::{ErrorKind, PageError, from_store};
use crate::i18n::{Lang, T};
use crate::pages::actor_of;
use crate::templates::{Nav, render};
use crate::{AppState, format_time};
use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dadong_domain::{Role, WorkCalendar};
use dadong_services::BundleDef;
use dadong_services::lifecycle::{self, Flag};
use dadong_store::StoreError;
use dadong_store::services::{Act, Acting, HALL_DEPARTMENT, RATING_LEVELS, StoredApplication, VerifyOutcome};
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

/// The largest request the upload and verification forms accept (a 5 MB file and the form).
pub const UPLOAD_REQUEST_MAX_BYTES: usize = 6 * 1024 * 1024;
/// Rows shown in a queue.
const QUEUE_ROWS: i64 = 100;

fn store_error(lang: Lang) -> impl Fn(StoreError) -> PageError {
    move |e| {
        let (kind, message) = from_store(e);
        PageError::new(kind, message, lang)
    }
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn calendar() -> &'static WorkCalendar {
    WorkCalendar::national()
}

/// The code of the department a user works in.
pub(crate) async fn department_code(state: &AppState, p: &Principal) -> Option<String> {
    let id = p.user.department_id?;
    state.store.department(id).await.ok()?.map(|d| d.code)
}

pub(crate) fn acting(p: &Principal, department: Option<String>) -> Acting {
    match (p.role(), department) {
        (Role::Clerk, Some(department)) => Acting::Clerk {
            user_id: p.user.id,
            department,
        },
        _ => Acting::Applicant(p.user.id),
    }
}

/// Whether `p` may see the application: its applicant, the hall, a department with a step in
/// it, or the district's leaders and admins.
pub(crate) fn sees(p: &Principal, department: Option<&str>, a: &StoredApplication) -> bool {
    if matches!(p.role(), Role::Leader | Role::Admin) || a.applicant_id == p.user.id {
        return true;
    }
    match (p.role(), department) {
        (Role::Clerk, Some(d)) => d == HALL_DEPARTMENT || a.app.steps.iter().any(|s| s.department == d),
        _ => false,
    }
}

async fn visible_application(state: &AppState, p: &Principal, lang: Lang, id: i64) -> Result<(StoredApplication, Option<String>), PageError> {
    let department = department_code(state, p).await;
    match state.store.application(id).await.map_err(store_error(lang))? {
        Some(a) if sees(p, department.as_deref(), &a) => Ok((a, department)),
        _ => Err(PageError::new(ErrorKind::NotFound, format!("application {id} not found"), lang)),
    }
}

fn flag_key(flag: Option<Flag>) -> &'static str {
    match flag {
        Some(Flag::Red) => "flag.red",
        Some(Flag::Yellow) => "flag.yellow",
        Some(Flag::Green) => "flag.green",
        None => "flag.none",
    }
}

fn flag_class(flag: Option<Flag>) -> &'static str {
    match flag {
        Some(Flag::Red) => "red",
        Some(Flag::Yellow) => "yellow",
        Some(Flag::Green) => "green",
        None => "",
    }
}

// ---------------------------------------------------------------------------------------------
// The catalog and applying

/// Every bundle with its number of steps and the departments it involves.
async fn bundle_lines(state: &AppState, lang: Lang) -> Result<Vec<BundleLine>, PageError> {
    Ok(state
        .store
        .bundles()
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|b| BundleLine {
            departments: b
                .steps
                .iter()
                .map(|s| s.department.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", "),
            steps: b.steps.len(),
            id: b.id,
            name: b.name,
        })
        .collect())
}

pub struct BundleLine {
    pub id: String,
    pub name: String,
    pub steps: usize,
    pub departments: String,
}

#[derive(Template)]
#[template(path = "services.html")]
pub struct ServicesPage {
    pub t: T,
    pub nav: Nav,
    pub matters: i64,
    pub fully_online_pct: String,
    pub bundled: i64,
    pub bundles: Vec<BundleLine>,
    pub can_apply: bool,
}

pub async fn services_home(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let t = T::new(lang);
    let f = state.store.catalog_counts().await.map_err(store_error(lang))?;
    let bundles = bundle_lines(&state, lang).await?;
    let page = ServicesPage {
        t,
        nav: Nav::for_user(&p, "/services"),
        matters: f.matters,
        fully_online_pct: f.fully_online_pct.unwrap_or_else(|| "-".into()),
        bundled: f.bundled_matters,
        bundles,
        can_apply: matches!(p.role(), Role::Citizen | Role::Enterprise),
    };
    Ok(render(&page))
}

pub struct FieldLine {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub required: bool,
}

#[derive(Template)]
#[template(path = "services_apply.html")]
pub struct ApplyPage {
    pub t: T,
    pub nav: Nav,
    pub id: String,
    pub name: String,
    pub steps: Vec<(String, String, String, String)>,
    pub fields: Vec<FieldLine>,
    pub materials: Vec<(String, String, bool)>,
    pub promised_days: u32,
}

pub async fn apply_form(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>) -> PageResult {
    let t = T::new(lang);
    let bundle = state
        .store
        .bundle(&id)
        .await
        .map_err(store_error(lang))?
        .ok_or_else(|| PageError::new(ErrorKind::NotFound, format!("bundle '{id}' not found"), lang))?;
    let draft = lifecycle::Application::draft(&bundle);
    let steps = bundle
        .steps()
        .iter()
        .zip(bundle.matters())
        .map(|(s, m)| (s.id.clone(), m.name.clone(), s.department.clone(), s.needs.join(", ")))
        .collect();
    let page = ApplyPage {
        t,
        nav: Nav::for_user(&p, "/services"),
        id: bundle.id().to_string(),
        name: bundle.name().to_string(),
        steps,
        fields: bundle
            .def()
            .form
            .iter()
            .map(|f| FieldLine {
                id: f.id.clone(),
                label: f.label.clone(),
                kind: format!("{:?}", f.kind),
                required: f.required,
            })
            .collect(),
        materials: draft.materials.iter().map(|m| (m.code.clone(), m.name.clone(), m.required)).collect(),
        promised_days: bundle.critical_path_days(),
    };
    Ok(render(&page))
}

/// The combined form, entered once: creates the draft and goes to it.
pub async fn apply_submit(
    State(state): State<AppState>,
    Signed(p, lang): Signed,
    Path(id): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> PageResult {
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf_token").collect();
    let app = state
        .store
        .create_application(&actor_of(&p), p.user.id, p.user.company_code.as_deref(), "bundle", &id, &values, now())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/services/applications/{app}")).into_response())
}

pub struct AppLine {
    pub id: i64,
    pub subject: String,
    pub state: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "services_applications.html")]
pub struct ApplicationsPage {
    pub t: T,
    pub nav: Nav,
    pub items: Vec<AppLine>,
}

pub async fn my_applications(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let items = state
        .store
        .applications_of(p.user.id, 200)
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|(id, subject, state, updated)| AppLine {
            id,
            subject,
            state,
            updated: format_time(updated),
        })
        .collect();
    Ok(render(&ApplicationsPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/services/applications"),
        items,
    }))
}

// ---------------------------------------------------------------------------------------------
// One application

pub struct StepLine {
    pub id: String,
    pub matter: String,
    pub department: String,
    pub state: String,
    pub deadline: String,
    pub flag_key: &'static str,
    pub flag_class: &'static str,
    /// The signed-in clerk's department does this step.
    pub mine: bool,
}

pub struct MaterialLine {
    pub code: String,
    pub name: String,
    pub required: bool,
    pub uploaded: Vec<String>,
}

#[derive(Template)]
#[template(path = "services_application.html")]
pub struct ApplicationPage {
    pub t: T,
    pub nav: Nav,
    pub id: i64,
    pub subject: String,
    pub state: String,
    pub detail: String,
    pub form: Vec<(String, String)>,
    pub steps: Vec<StepLine>,
    pub materials: Vec<MaterialLine>,
    pub is_applicant: bool,
    pub editable: bool,
    pub is_hall: bool,
    pub certificate: Option<String>,
    pub can_rate: bool,
    pub rate_departments: Vec<String>,
    pub ratings: Vec<(String, String)>,
    pub levels: Vec<(i64, &'static str)>,
}

pub async fn application(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<i64>) -> PageResult {
    let (a, department) = visible_application(&state, &p, lang, id).await?;
    let uploads = state.store.uploads(id).await.map_err(store_error(lang))?;
    let matters: BTreeMap<String, String> = state
        .store
        .matters()
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|m| (m.code, m.name))
        .collect();
    let now = now();
    let is_applicant = a.applicant_id == p.user.id;
    let steps = a
        .app
        .steps
        .iter()
        .map(|s| {
            let flag = s.flag(now, calendar());
            StepLine {
                id: s.id.clone(),
                matter: matters.get(&s.matter).cloned().unwrap_or_else(|| s.matter.clone()),
                department: s.department.clone(),
                state: s.state.code().to_string(),
                deadline: s.deadline.map(|d| format_time(d.as_millisecond())).unwrap_or_default(),
                flag_key: flag_key(flag),
                flag_class: flag_class(flag),
                mine: p.role() == Role::Clerk && department.as_deref() == Some(s.department.as_str()),
            }
        })
        .collect();
    let materials = a
        .app
        .materials
        .iter()
        .map(|m| MaterialLine {
            code: m.code.clone(),
            name: m.name.clone(),
            required: m.required,
            uploaded: uploads
                .iter()
                .filter(|u| u.material_code == m.code)
                .map(|u| format!("{} ({} B)", u.file_name, u.size_bytes))
                .collect(),
        })
        .collect();
    let ratings = state.store.ratings_of(id).await.map_err(store_error(lang))?;
    let finished = matches!(a.state.as_str(), "done" | "delivered" | "refused" | "not_accepted");
    let rate_departments: Vec<String> = a
        .app
        .steps
        .iter()
        .map(|s| s.department.clone())
        .chain([HALL_DEPARTMENT.to_string()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let detail = match &a.app.state {
        lifecycle::AppState::NotAccepted { reason } => reason.clone(),
        lifecycle::AppState::CorrectionRequested { items } => items.join("；"),
        lifecycle::AppState::Refused { step, reason } => format!("{step}: {reason}"),
        _ => String::new(),
    };
    let page = ApplicationPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/services/applications"),
        id,
        subject: a.subject.clone(),
        state: a.state.clone(),
        detail,
        form: a.form_masked.clone().into_iter().collect(),
        steps,
        materials,
        is_applicant,
        editable: is_applicant && matches!(a.state.as_str(), "draft" | "correction_requested"),
        is_hall: p.role() == Role::Clerk && department.as_deref() == Some(HALL_DEPARTMENT),
        certificate: a.certificate_id.clone(),
        can_rate: is_applicant && finished && ratings.is_empty(),
        rate_departments,
        ratings: ratings
            .into_iter()
            .map(|(d, l, _)| (d, RATING_LEVELS.iter().find(|(n, _)| *n == l).map(|(_, s)| s.to_string()).unwrap_or_default()))
            .collect(),
        levels: RATING_LEVELS.to_vec(),
    };
    Ok(render(&page))
}

/// A material file (`multipart/form-data` with `material` and `file`); the CSRF token comes in
/// the query string.
pub async fn upload(
    State(state): State<AppState>,
    Signed(p, lang): Signed,
    Path(id): Path<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let bad = |m: String| PageError::new(ErrorKind::BadRequest, m, lang);
    let mut multipart = multipart.map_err(|e| bad(format!("send the form as multipart/form-data: {e}")))?;
    let (mut material, mut file) = (None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(PageError::new(ErrorKind::PayloadTooLarge, "a file may be at most 5 MB", lang));
            }
            Err(e) => return Err(bad(format!("the form could not be read: {e}"))),
        };
        match field.name() {
            Some("material") => material = Some(field.text().await.map_err(|e| bad(format!("the form could not be read: {e}")))?),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        PageError::new(ErrorKind::PayloadTooLarge, "a file may be at most 5 MB", lang)
                    } else {
                        bad(format!("the file could not be read: {e}"))
                    }
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    let material = material.ok_or_else(|| PageError::new(ErrorKind::Validation { field: "material".into() }, "choose the material", lang))?;
    let (name, bytes) = file.ok_or_else(|| PageError::new(ErrorKind::Validation { field: "file".into() }, "choose a file", lang))?;
    state
        .store
        .upload_material(&actor_of(&p), id, p.user.id, &material, &name, &bytes, now())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/services/applications/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct ActForm {
    pub act: String,
    #[serde(default)]
    pub step: String,
    #[serde(default)]
    pub reason: String,
    /// One correction item per line.
    #[serde(default)]
    pub items: String,
}

impl ActForm {
    pub fn to_act(&self) -> Result<Act, String> {
        Ok(match self.act.as_str() {
            "submit" => Act::Submit,
            "accept" => Act::Accept,
            "not_accept" => Act::NotAccept { reason: self.reason.clone() },
            "request_correction" => Act::RequestCorrection {
                items: self.items.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
            },
            "start" => Act::StartStep { step: self.step.clone() },
            "complete" => Act::CompleteStep { step: self.step.clone() },
            "refuse" => Act::RefuseStep {
                step: self.step.clone(),
                reason: self.reason.clone(),
            },
            "deliver" => Act::Deliver,
            other => return Err(format!("unknown action '{}'", other.chars().take(40).collect::<String>())),
        })
    }
}

/// An applicant's submission or a clerk's action on the application or one of its steps.
pub async fn act(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<i64>, Form(form): Form<ActForm>) -> PageResult {
    let (_, department) = visible_application(&state, &p, lang, id).await?;
    let act = form
        .to_act()
        .map_err(|m| PageError::new(ErrorKind::Validation { field: "act".into() }, m, lang))?;
    let request = dadong_store::services::ActRequest {
        actor: actor_of(&p),
        acting: acting(&p, department),
        application_id: id,
        act,
        now: now(),
        public_url: state.config.public_url.clone(),
    };
    state.store.act_grouped(request).await.map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/services/applications/{id}")).into_response())
}

/// Ratings: a field `level_<department>` per department (1..5) and `comment`.
pub async fn rate(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<i64>, Form(form): Form<BTreeMap<String, String>>) -> PageResult {
    let comment = form.get("comment").cloned().unwrap_or_default();
    let mut ratings = Vec::new();
    for (k, v) in &form {
        if let Some(department) = k.strip_prefix("level_") {
            let level: i64 = v
                .trim()
                .parse()
                .map_err(|_| PageError::new(ErrorKind::Validation { field: k.clone() }, "choose one of the five levels", lang))?;
            ratings.push((department.to_string(), level, comment.clone()));
        }
    }
    state
        .store
        .rate_application(&actor_of(&p), id, p.user.id, &ratings, now())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to(&format!("/services/applications/{id}")).into_response())
}

/// The issued licence as a PDF, for those who may see the application.
pub async fn certificate_download(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>) -> PageResult {
    let not_found = || PageError::new(ErrorKind::NotFound, format!("certificate {id} not found"), lang);
    let (application, pdf) = state.store.certificate_pdf(&id).await.map_err(store_error(lang))?.ok_or_else(not_found)?;
    visible_application(&state, &p, lang, application).await.map_err(|_| not_found())?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.pdf\"")),
        ],
        pdf,
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Queues and rectifications

pub struct QueueLine {
    pub application_id: i64,
    pub step_id: String,
    pub matter: String,
    pub subject: String,
    pub state: String,
    pub deadline: String,
    pub flag_key: &'static str,
    pub flag_class: &'static str,
    pub escalated: bool,
}

pub struct RectLine {
    pub id: i64,
    pub application_id: i64,
    pub level: String,
    pub comment: String,
    pub opened: String,
    pub answer: Option<String>,
}

#[derive(Template)]
#[template(path = "services_queue.html")]
pub struct QueuePage {
    pub t: T,
    pub nav: Nav,
    pub department: String,
    pub hall: Vec<(i64, String, String, String)>,
    pub is_hall: bool,
    pub items: Vec<QueueLine>,
    pub rectifications: Vec<RectLine>,
}

pub async fn queue(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let department = department_code(&state, &p).await.ok_or_else(|| {
        PageError::new(
            ErrorKind::Forbidden,
            "a department's clerk works its queue; this account has no department",
            lang,
        )
    })?;
    let now = now();
    let items = state
        .store
        .department_queue(&department, QUEUE_ROWS, 0)
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|q| {
            let flag = q
                .deadline_ms
                .and_then(|d| jiff::Timestamp::from_millisecond(d).ok())
                .map(|d| lifecycle::flag(d, now, calendar()));
            QueueLine {
                application_id: q.application_id,
                step_id: q.step_id,
                matter: if q.matter_name.is_empty() { q.matter_code } else { q.matter_name },
                subject: q.subject,
                state: q.state,
                deadline: q.deadline_ms.map(format_time).unwrap_or_default(),
                flag_key: flag_key(flag),
                flag_class: flag_class(flag),
                escalated: q.escalated,
            }
        })
        .collect();
    let is_hall = department == HALL_DEPARTMENT;
    let hall = if is_hall {
        state
            .store
            .hall_queue(QUEUE_ROWS)
            .await
            .map_err(store_error(lang))?
            .into_iter()
            .map(|h| (h.application_id, h.subject, h.applicant, format_time(h.submitted_at_ms)))
            .collect()
    } else {
        Vec::new()
    };
    let rectifications = state
        .store
        .rectifications(Some(&department), 50)
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|r| RectLine {
            id: r.id,
            application_id: r.application_id,
            level: RATING_LEVELS
                .iter()
                .find(|(n, _)| *n == r.level)
                .map(|(_, s)| s.to_string())
                .unwrap_or_default(),
            comment: r.comment,
            opened: format_time(r.opened_at_ms),
            answer: r.answer,
        })
        .collect();
    Ok(render(&QueuePage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/services/queue"),
        department,
        hall,
        is_hall,
        items,
        rectifications,
    }))
}

#[derive(Deserialize)]
pub struct AnswerForm {
    pub answer: String,
}

pub async fn answer_rectification(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<i64>, Form(form): Form<AnswerForm>) -> PageResult {
    let department = department_code(&state, &p)
        .await
        .ok_or_else(|| PageError::new(ErrorKind::NotFound, format!("rectification {id} not found"), lang))?;
    state
        .store
        .answer_rectification(&actor_of(&p), id, p.user.id, &department, &form.answer, now())
        .await
        .map_err(store_error(lang))?;
    Ok(Redirect::to("/services/queue").into_response())
}

// ---------------------------------------------------------------------------------------------
// Notifications

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub t: T,
    pub nav: Nav,
    pub items: Vec<(String, String, String, Option<i64>)>,
}

pub async fn notifications(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let department = department_code(&state, &p).await.filter(|_| p.role() == Role::Clerk);
    let items = state
        .store
        .notifications_for(p.user.id, department.as_deref(), 100)
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|n| (format_time(n.created_at_ms), n.kind, n.body.to_string(), n.application_id))
        .collect();
    Ok(render(&NotificationsPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/notifications"),
        items,
    }))
}

// ---------------------------------------------------------------------------------------------
// Figures

#[derive(Template)]
#[template(path = "services_figures.html")]
pub struct FiguresPage {
    pub t: T,
    pub nav: Nav,
    pub year: i16,
    pub f: dadong_store::services::ServicesFigures,
}

pub(crate) fn year_bounds(year: i16) -> (jiff::Timestamp, jiff::Timestamp) {
    let start = |y: i16| {
        jiff::civil::date(y, 1, 1)
            .to_zoned(lifecycle::shanghai())
            .map(|z| z.timestamp())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    };
    (start(year), start(year + 1))
}

pub async fn figures(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    let year = lifecycle::local_date(now()).year();
    let (from, to) = year_bounds(year);
    let f = state.store.services_figures(from, to.min(now()), calendar()).await.map_err(store_error(lang))?;
    Ok(render(&FiguresPage {
        t: T::new(lang),
        nav: Nav::for_user(&p, "/services/figures"),
        year,
        f,
    }))
}

// ---------------------------------------------------------------------------------------------
// Administration: bundles and the catalog

#[derive(Template)]
#[template(path = "services_admin.html")]
pub struct AdminPage {
    pub t: T,
    pub nav: Nav,
    pub bundles: Vec<BundleLine>,
    pub definition: String,
    pub problem: Option<String>,
    pub done: Option<String>,
}

async fn admin_page(
    state: &AppState,
    p: &Principal,
    lang: Lang,
    definition: String,
    problem: Option<String>,
    done: Option<String>,
    status: StatusCode,
) -> PageResult {
    let bundles = bundle_lines(state, lang).await?;
    let page = AdminPage {
        t: T::new(lang),
        nav: Nav::for_user(p, "/services/admin"),
        bundles,
        definition,
        problem,
        done,
    };
    Ok((status, render(&page)).into_response())
}

pub async fn admin(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    admin_page(&state, &p, lang, String::new(), None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct BundleForm {
    pub definition: String,
}

/// A bundle defined as JSON, without code: validated as a graph against the catalog and saved.
pub async fn admin_bundle(State(state): State<AppState>, Signed(p, lang): Signed, Form(form): Form<BundleForm>) -> PageResult {
    let outcome = match BundleDef::from_json(&form.definition) {
        Err(e) => Err(e.to_string()),
        Ok(def) => match state.store.save_bundle(&actor_of(&p), &def).await {
            Ok(b) => Ok(format!("{} ({})", b.name(), b.id())),
            Err(StoreError::Invalid { message, .. }) => Err(message),
            Err(e) => return Err(store_error(lang)(e)),
        },
    };
    match outcome {
        Ok(done) => admin_page(&state, &p, lang, String::new(), None, Some(done), StatusCode::OK).await,
        Err(problem) => admin_page(&state, &p, lang, form.definition, Some(problem), None, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}

/// A catalog file (CSV or XLSX, field `file`), imported all or nothing.
pub async fn admin_catalog(State(state): State<AppState>, Signed(p, lang): Signed, multipart: Result<Multipart, MultipartRejection>) -> PageResult {
    let bad = |m: String| PageError::new(ErrorKind::BadRequest, m, lang);
    let mut multipart = multipart.map_err(|e| bad(format!("send the form as multipart/form-data: {e}")))?;
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(format!("the form could not be read: {e}")))? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("catalog.csv").to_string();
            file = Some((name, field.bytes().await.map_err(|e| bad(format!("the file could not be read: {e}")))?.to_vec()));
        }
    }
    let (name, bytes) = file.ok_or_else(|| PageError::new(ErrorKind::Validation { field: "file".into() }, "choose a file", lang))?;
    match state.store.import_matters_file(&actor_of(&p), &name, &bytes).await {
        Ok(n) => admin_page(&state, &p, lang, String::new(), None, Some(format!("{name}: {n}")), StatusCode::OK).await,
        Err(dadong_store::economy::ImportFailure::Rows(rows)) => {
            let text = rows.iter().take(50).map(|r| r.to_string()).collect::<Vec<_>>().join("\n");
            admin_page(&state, &p, lang, String::new(), Some(text), None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(dadong_store::economy::ImportFailure::Store(e)) => Err(store_error(lang)(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Public verification

#[derive(Template)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub t: T,
    pub nav: Nav,
    pub id: String,
    pub csrf: String,
    pub record: Option<dadong_store::services::CertificateInfo>,
    pub issued: String,
    pub checked: Option<VerifyOutcome>,
}

fn verify_page(
    state: &AppState,
    ctx: auth::RequestContext,
    id: String,
    record: Option<dadong_store::services::CertificateInfo>,
    checked: Option<VerifyOutcome>,
    status: StatusCode,
) -> Response {
    let t = T::new(ctx.lang);
    let (nav, csrf, cookie) = match &ctx.principal {
        Some(p) => (Nav::for_user(p, "/verify"), p.csrf_token.clone(), None),
        None => {
            let token = ctx
                .pre_csrf
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| dadong_domain::crypto::random_token(24));
            (
                Nav::anonymous(t),
                token.clone(),
                Some(auth::set_cookie(PRE_CSRF_COOKIE, &token, 3600, state.config.secure_cookies, true)),
            )
        }
    };
    let page = VerifyPage {
        t,
        nav,
        id,
        csrf,
        issued: record.as_ref().map(|r| format_time(r.issued_at_ms)).unwrap_or_default(),
        record,
        checked,
    };
    let mut response = (status, render(&page)).into_response();
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c.parse().expect("cookie is ASCII"));
    }
    response
}

/// What the QR code on a licence opens: the registry's record of the certificate, and a form
/// to check a copy of the file against it.
pub async fn verify(State(state): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<String>) -> Response {
    let record = state.store.certificate(&id).await.ok().flatten();
    let status = if record.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    verify_page(&state, ctx, id, record, None, status)
}

/// A copy of a certificate (field `file`) checked: signature over every byte, then the registry.
pub async fn verify_file(State(state): State<AppState>, Ctx(ctx): Ctx, Path(id): Path<String>, multipart: Result<Multipart, MultipartRejection>) -> Response {
    let lang = ctx.lang;
    let mut file = None;
    if let Ok(mut multipart) = multipart {
        while let Ok(Some(field)) = multipart.next_field().await {
            if field.name() == Some("file") {
                file = field.bytes().await.ok().map(|b| b.to_vec());
            }
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return PageError::new(ErrorKind::Validation { field: "file".into() }, "choose the certificate file to check", lang).into_response();
    };
    let outcome = match state.store.verify_certificate_file(&bytes).await {
        Ok(mut o) => {
            if o.genuine && o.certificate.as_ref().is_some_and(|c| c.id != id) {
                o.genuine = false;
                o.reason = Some(format!("this file is a genuine certificate, but it is not certificate {id}"));
            }
            o
        }
        Err(e) => return store_error(lang)(e).into_response(),
    };
    let record = state.store.certificate(&id).await.ok().flatten();
    verify_page(&state, ctx, id, record, Some(outcome), StatusCode::OK)
}

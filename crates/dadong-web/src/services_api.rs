//! The JSON API of government services (一网通办): the catalog and its bundles, applying
//! (create, hand in materials, submit), following an application, the clerks' acts and
//! queues, ratings, notifications and the figures of a year. The same store methods as the
//! pages, so both refuse the same input with the same message, and the same visibility: an
//! application is shown only to its applicant, the hall, the departments with a step in it,
//! and the district's leaders and admins.

use crate::AppState;
use crate::api::{ApiJson, ApiQuery, ErrorOut};
use crate::auth::{Principal, Signed};
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use crate::services::{ActForm, acting, department_code, sees, year_bounds};
use axum::Json;
use axum::extract::{Path, State};
use base64::Engine;
use dadong_domain::{Role, WorkCalendar};
use dadong_services::BundleDef;
use dadong_services::lifecycle::Flag;
use dadong_store::services::{ActRequest, HALL_DEPARTMENT, StoredApplication};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};

type ApiResult = Result<Json<Value>, ApiError>;

/// Largest request of the materials route: a 5 MB file grows by a third in base64.
pub const MATERIAL_REQUEST_MAX_BYTES: usize = 7 * 1024 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Validation { field: field.to_string() }, format!("{field}: {}", message.into()))
}

fn flag_code(flag: Option<Flag>) -> Option<&'static str> {
    flag.map(|f| match f {
        Flag::Green => "green",
        Flag::Yellow => "yellow",
        Flag::Red => "red",
    })
}

/// An application as the API shows it: its state, form (personal fields masked), materials,
/// and each step with its deadline and flag now.
fn application_out(a: &StoredApplication) -> Value {
    let now = jiff::Timestamp::now();
    let steps: Vec<Value> = a
        .app
        .steps
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "matter": s.matter, "department": s.department, "state": s.state.code(),
                "time_limit_days": s.time_limit_days,
                "deadline": s.deadline.map(|d| d.to_string()),
                "flag": flag_code(s.flag(now, WorkCalendar::national())),
            })
        })
        .collect();
    let detail = match &a.app.state {
        dadong_services::lifecycle::AppState::NotAccepted { reason } => json!({ "reason": reason }),
        dadong_services::lifecycle::AppState::CorrectionRequested { items } => json!({ "items": items }),
        dadong_services::lifecycle::AppState::Refused { step, reason } => json!({ "step": step, "reason": reason }),
        _ => Value::Null,
    };
    json!({
        "id": a.id, "kind": a.kind, "subject": a.subject, "state": a.state, "detail": detail,
        "applicant_id": a.applicant_id, "company_code": a.company_code, "promised_days": a.promised_days,
        "form": a.form_masked, "materials": a.app.materials, "provided": a.app.provided, "steps": steps,
        "certificate": a.certificate_id, "created_at_ms": a.created_at_ms, "updated_at_ms": a.updated_at_ms,
    })
}

async fn visible(state: &AppState, p: &Principal, id: i64) -> Result<(StoredApplication, Option<String>), ApiError> {
    let department = department_code(state, p).await;
    match state.store.application(id).await? {
        Some(a) if sees(p, department.as_deref(), &a) => Ok((a, department)),
        _ => Err(ApiError::new(ErrorKind::NotFound, format!("application {id} not found"))),
    }
}

/// The matter catalog: every matter with its department, materials, promised time limit in
/// working days, fee, processing level and channels.
#[utoipa::path(get, path = "/api/v1/services/matters", responses((status = 200, body = Object, description = "{matters: [...]}")))]
pub async fn matters(State(state): State<AppState>, Signed(_p, _lang): Signed) -> ApiResult {
    Ok(Json(json!({ "matters": state.store.matters().await? })))
}

/// The one-thing bundles, as the data that defines them.
#[utoipa::path(get, path = "/api/v1/services/bundles", responses((status = 200, body = Object, description = "{bundles: [...]}")))]
pub async fn bundles(State(state): State<AppState>, Signed(_p, _lang): Signed) -> ApiResult {
    Ok(Json(json!({ "bundles": state.store.bundles().await? })))
}

/// Defines (or replaces) a bundle: validated as a graph (no cycle, no dangling step, known
/// matters of matching departments) before anything is stored.
#[utoipa::path(post, path = "/api/v1/services/bundles", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn define_bundle(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(def): ApiJson<BundleDef>) -> ApiResult {
    let valid = state.store.save_bundle(&actor_of(&p), &def).await?;
    Ok(Json(json!({ "bundle": valid.def() })))
}

#[derive(Deserialize, ToSchema)]
pub struct ApplyIn {
    /// The bundle's id, e.g. `open_company`.
    bundle: String,
    /// The combined form: each field entered once, mapped to every matter of the bundle.
    #[serde(default)]
    form: BTreeMap<String, String>,
}

/// Starts a draft application for a bundle with its combined form.
#[utoipa::path(post, path = "/api/v1/services/applications", request_body = ApplyIn,
    responses((status = 201, body = Object), (status = 422, body = ErrorOut)))]
pub async fn apply(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiJson(body): ApiJson<ApplyIn>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let id = state
        .store
        .create_application(
            &actor_of(&p),
            p.user.id,
            p.user.company_code.as_deref(),
            "bundle",
            body.bundle.trim(),
            &body.form,
            jiff::Timestamp::now(),
        )
        .await?;
    let a = state
        .store
        .application(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("application {id} not found")))?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "application": application_out(&a) }))))
}

#[derive(Deserialize, IntoParams)]
pub struct MineParams {
    /// At most 500; default 100.
    limit: Option<i64>,
}

/// The caller's own applications, newest first.
#[utoipa::path(get, path = "/api/v1/services/applications", params(MineParams), responses((status = 200, body = Object)))]
pub async fn mine(State(state): State<AppState>, Signed(p, _): Signed, ApiQuery(q): ApiQuery<MineParams>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let items: Vec<Value> = state
        .store
        .applications_of(p.user.id, limit)
        .await?
        .into_iter()
        .map(|(id, subject, state, updated)| json!({ "id": id, "subject": subject, "state": state, "updated_at_ms": updated }))
        .collect();
    Ok(Json(json!({ "applications": items })))
}

/// One application with its steps, deadlines and flags, uploads and ratings.
#[utoipa::path(get, path = "/api/v1/services/applications/{id}", responses((status = 200, body = Object), (status = 404, body = ErrorOut)))]
pub async fn detail(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<i64>) -> ApiResult {
    let (a, _) = visible(&state, &p, id).await?;
    let uploads = state.store.uploads(id).await?;
    let ratings: Vec<Value> = state
        .store
        .ratings_of(id)
        .await?
        .into_iter()
        .map(|(department, level, comment)| json!({ "department": department, "level": level, "comment": comment }))
        .collect();
    let mut out = application_out(&a);
    out["uploads"] = json!(uploads);
    out["ratings"] = json!(ratings);
    Ok(Json(json!({ "application": out })))
}

#[derive(Deserialize, ToSchema)]
pub struct MaterialIn {
    /// The material's code, as the application lists it.
    material: String,
    /// The file's name; its extension must agree with its content (PDF, JPEG or PNG).
    file_name: String,
    /// The file, base64-encoded; at most 5 MB once decoded.
    content_base64: String,
}

/// Hands in one material of a draft (or of an application asked for a correction).
#[utoipa::path(post, path = "/api/v1/services/applications/{id}/materials", request_body = MaterialIn,
    responses((status = 200, body = Object), (status = 413, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn material(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<i64>, ApiJson(body): ApiJson<MaterialIn>) -> ApiResult {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.content_base64.trim())
        .map_err(|e| invalid("content_base64", format!("not base64: {e}")))?;
    let upload = state
        .store
        .upload_material(
            &actor_of(&p),
            id,
            p.user.id,
            body.material.trim(),
            &body.file_name,
            &bytes,
            jiff::Timestamp::now(),
        )
        .await?;
    Ok(Json(json!({ "upload_id": upload })))
}

#[derive(Deserialize, ToSchema)]
pub struct ActIn {
    /// submit, accept, not_accept, request_correction, start, complete, refuse or deliver.
    act: String,
    /// The step, for start, complete and refuse.
    #[serde(default)]
    step: String,
    /// The reason, for not_accept and refuse.
    #[serde(default)]
    reason: String,
    /// Every missing item, for request_correction.
    #[serde(default)]
    items: Vec<String>,
}

/// The applicant's submission, or a clerk's act on the application (the hall) or on one of
/// its steps (the step's department). Answers the application as it stands after the act.
#[utoipa::path(post, path = "/api/v1/services/applications/{id}/act", request_body = ActIn,
    responses((status = 200, body = Object), (status = 404, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn act(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<i64>, ApiJson(body): ApiJson<ActIn>) -> ApiResult {
    let (_, department) = visible(&state, &p, id).await?;
    let form = ActForm {
        act: body.act.trim().to_string(),
        step: body.step.trim().to_string(),
        reason: body.reason,
        items: body.items.join("\n"),
    };
    let act = form.to_act().map_err(|m| invalid("act", m))?;
    let a = state
        .store
        .act_grouped(ActRequest {
            actor: actor_of(&p),
            acting: acting(&p, department),
            application_id: id,
            act,
            now: jiff::Timestamp::now(),
            public_url: state.config.public_url.clone(),
        })
        .await?;
    Ok(Json(json!({ "application": application_out(&a) })))
}

#[derive(Deserialize, ToSchema)]
pub struct RatingIn {
    department: String,
    /// 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意.
    level: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct RateIn {
    ratings: Vec<RatingIn>,
    #[serde(default)]
    comment: String,
}

/// Rates a finished application, once per department (好差评); 不满意 or worse opens a
/// rectification ticket for the department.
#[utoipa::path(post, path = "/api/v1/services/applications/{id}/ratings", request_body = RateIn,
    responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn rate(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<i64>, ApiJson(body): ApiJson<RateIn>) -> ApiResult {
    let ratings: Vec<(String, i64, String)> = body
        .ratings
        .into_iter()
        .map(|r| (r.department.trim().to_string(), r.level, body.comment.clone()))
        .collect();
    state
        .store
        .rate_application(&actor_of(&p), id, p.user.id, &ratings, jiff::Timestamp::now())
        .await?;
    Ok(Json(
        json!({ "ratings": state.store.ratings_of(id).await?.into_iter().map(|(d, l, _)| json!({"department": d, "level": l})).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct QueueParams {
    /// At most 500; default 100.
    limit: Option<i64>,
    /// Rows to skip, for the next page.
    offset: Option<i64>,
}

/// The clerk's department queue (ready and running steps by deadline, with flags), the
/// hall's waiting submissions for the hall's clerks, and the department's rectifications.
#[utoipa::path(get, path = "/api/v1/services/queue", params(QueueParams), responses((status = 200, body = Object), (status = 403, body = ErrorOut)))]
pub async fn queue(State(state): State<AppState>, Signed(p, _): Signed, ApiQuery(q): ApiQuery<QueueParams>) -> ApiResult {
    let department = department_code(&state, &p)
        .await
        .filter(|_| p.role() == Role::Clerk)
        .ok_or_else(|| ApiError::new(ErrorKind::Forbidden, "a department's clerk works its queue; this account has no department"))?;
    let (limit, offset) = (q.limit.unwrap_or(100).clamp(1, 500), q.offset.unwrap_or(0).max(0));
    let now = jiff::Timestamp::now();
    let steps: Vec<Value> = state
        .store
        .department_queue(&department, limit, offset)
        .await?
        .into_iter()
        .map(|item| {
            let flag = item
                .deadline_ms
                .and_then(|d| jiff::Timestamp::from_millisecond(d).ok())
                .map(|d| dadong_services::lifecycle::flag(d, now, WorkCalendar::national()));
            let mut v = json!(item);
            v["flag"] = json!(flag_code(flag));
            v
        })
        .collect();
    let hall = if department == HALL_DEPARTMENT {
        json!(state.store.hall_queue(limit).await?)
    } else {
        json!([])
    };
    let rectifications = state.store.rectifications(Some(&department), 50).await?;
    Ok(Json(
        json!({ "department": department, "steps": steps, "hall": hall, "rectifications": rectifications }),
    ))
}

/// The caller's notifications (its own, and its department's for a clerk), newest first.
#[utoipa::path(get, path = "/api/v1/notifications", responses((status = 200, body = Object)))]
pub async fn notifications(State(state): State<AppState>, Signed(p, _): Signed) -> ApiResult {
    let department = department_code(&state, &p).await;
    let items = state.store.notifications_for(p.user.id, department.as_deref(), 100).await?;
    Ok(Json(json!({ "notifications": items })))
}

#[derive(Deserialize, IntoParams)]
pub struct FiguresParams {
    /// The year of the applications counted (submitted in it); this year by default.
    year: Option<i16>,
}

/// The government-services figures of a year: the `services` part of the report JSON.
#[utoipa::path(get, path = "/api/v1/services/figures", params(FiguresParams), responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn figures(State(state): State<AppState>, Signed(_p, _lang): Signed, ApiQuery(q): ApiQuery<FiguresParams>) -> ApiResult {
    let now = jiff::Timestamp::now();
    let this_year = now.in_tz(dadong_domain::DISTRICT_TIME_ZONE).map(|z| z.year()).unwrap_or(2026);
    let year = q.year.unwrap_or(this_year);
    if !(2000..=this_year).contains(&year) {
        return Err(invalid("year", format!("a year from 2000 to {this_year}")));
    }
    let (from, to) = year_bounds(year);
    let f = state.store.services_figures(from, to.min(now), WorkCalendar::national()).await?;
    Ok(Json(json!({ "year": year, "services": f })))
}

#[derive(OpenApi)]
#[openapi(
    paths(matters, bundles, define_bundle, apply, mine, detail, material, act, rate, queue, notifications, figures),
    components(schemas(ApplyIn, MaterialIn, ActIn, RatingIn, RateIn))
)]
pub struct ServicesDoc;

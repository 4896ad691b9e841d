//! The JSON API of enterprise service and daily dispatch: appeals (list within the caller's
//! scope, raise, read, each step of their life), the dispatch board, visits and coverage, the
//! key enterprises' daily figures and the appeals figures of a period. The same store methods
//! as the pages, so both refuse the same input with the same message.

use crate::AppState;
use crate::api::{ApiJson, ApiQuery, ErrorOut};
use crate::appeals_web::{daily_figure, new_visit, parse_step, through_or_now, today};
use crate::auth::Signed;
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use dadong_appeals::{Metric, Status};
use dadong_domain::Period;
use dadong_store::appeals::{AppealFilter, NewAppeal};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};

type ApiResult = Result<Json<Value>, ApiError>;

fn invalid((field, message): (String, String)) -> ApiError {
    ApiError::new(ErrorKind::Validation { field: field.clone() }, format!("{field}: {message}"))
}

fn id_of(id: &str) -> Result<i64, ApiError> {
    id.trim()
        .parse()
        .map_err(|_| ApiError::new(ErrorKind::NotFound, format!("appeal {id} not found")))
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// raised, routed, accepted, replied, resolved or closed.
    status: Option<String>,
    /// `true`: only appeals past their deadline.
    overdue: Option<bool>,
    /// `true`: only escalated open appeals.
    escalated: Option<bool>,
    /// At most 500; default 100.
    limit: Option<i64>,
}

/// Appeals within the caller's scope, most urgent first, with yellow/red flags.
#[utoipa::path(get, path = "/api/v1/appeals", params(ListParams),
    responses((status = 200, body = Object, description = "{appeals: [...]}"), (status = 422, body = ErrorOut)))]
pub async fn list(State(state): State<AppState>, Signed(p, _): Signed, ApiQuery(q): ApiQuery<ListParams>) -> ApiResult {
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(Status::parse(s).ok_or_else(|| invalid(("status".into(), format!("unknown status '{s}'"))))?),
        None => None,
    };
    let filter = AppealFilter {
        status,
        overdue: q.overdue.unwrap_or(false),
        escalated: q.escalated.unwrap_or(false),
        credit_code: None,
        limit: q.limit.unwrap_or(100),
    };
    let items = state.store.appeals(&p.user, &filter, Timestamp::now()).await?;
    Ok(Json(json!({ "appeals": items })))
}

#[derive(Deserialize, ToSchema)]
pub struct RaiseIn {
    /// The enterprise's credit code; an agent's own company when left out.
    credit_code: Option<String>,
    /// labour, funding, supply_chain, approval, land or other.
    category: String,
    title: String,
    #[serde(default)]
    body: String,
    /// The visit during which a cadre raised it.
    visit_id: Option<i64>,
}

/// Raises an appeal for an enterprise the caller acts for; it is routed by the rules at once.
#[utoipa::path(post, path = "/api/v1/appeals", request_body = RaiseIn,
    responses((status = 201, body = Object, description = "{appeal, possible_duplicates}"), (status = 422, body = ErrorOut)))]
pub async fn raise(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(body): ApiJson<RaiseIn>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewAppeal {
        credit_code: body.credit_code.or(p.user.company_code.clone()).unwrap_or_default(),
        category: body.category,
        title: body.title,
        body: body.body,
        visit_id: body.visit_id,
    };
    let raised = state.store.raise_appeal(&actor_of(&p), &p.user, &new, Timestamp::now()).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(raised).unwrap_or_default())))
}

/// One appeal with its history, if the caller may see it (404 otherwise).
#[utoipa::path(get, path = "/api/v1/appeals/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorOut)))]
pub async fn detail(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<String>) -> ApiResult {
    let id = id_of(&id)?;
    let d = state
        .store
        .appeal(&p.user, id, Timestamp::now())
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("appeal {id} not found")))?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct StepIn {
    /// The reply, resolution, comment or reason.
    note: Option<String>,
    /// 1 to 5, to confirm.
    score: Option<u8>,
    /// A department code, to route by hand.
    department: Option<String>,
}

/// One step: accept, reply, resolve (the department's clerks), confirm with a score, reopen
/// (the enterprise's agent), route (leaders and admins).
#[utoipa::path(post, path = "/api/v1/appeals/{id}/{step}", request_body = StepIn,
    params(("id" = i64, Path), ("step" = String, Path, description = "accept, reply, resolve, confirm, reopen or route")),
    responses((status = 200, body = Object), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn step(State(state): State<AppState>, Signed(p, _): Signed, Path((id, step)): Path<(String, String)>, ApiJson(body): ApiJson<StepIn>) -> ApiResult {
    let id = id_of(&id)?;
    let score = body.score.map(|s| s.to_string());
    let action = parse_step(&step, body.note, score.as_deref(), body.department).map_err(|(field, message)| {
        if field == "step" {
            ApiError::new(ErrorKind::NotFound, message)
        } else {
            invalid((field, message))
        }
    })?;
    let a = state.store.appeal_step(&actor_of(&p), &p.user, id, action, Timestamp::now()).await?;
    Ok(Json(serde_json::to_value(a).unwrap_or_default()))
}

#[derive(Deserialize, ToSchema)]
pub struct FollowUpIn {
    /// Whether the enterprise answered the call.
    reached: bool,
    /// 1 to 5, when reached.
    score: Option<u8>,
    #[serde(default)]
    note: String,
}

/// Records the follow-up call (回访) of a closed appeal (its department's clerks, leaders, admins).
#[utoipa::path(post, path = "/api/v1/appeals/{id}/follow-up", request_body = FollowUpIn, params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn follow_up(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<FollowUpIn>,
) -> Result<StatusCode, ApiError> {
    let id = id_of(&id)?;
    let score = b.score.map(|s| s.to_string());
    let score = crate::appeals_web::follow_up_fields(b.reached, score.as_deref()).map_err(invalid)?;
    state
        .store
        .record_follow_up(
            &actor_of(&p),
            &p.user,
            id,
            &dadong_store::appeals::FollowUpCall {
                reached: b.reached,
                satisfaction: score,
                note: b.note,
            },
            Timestamp::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The dispatch board now: key enterprises against plan and last year, overdue and escalated
/// appeals, projects with open problems, today's tasks.
#[utoipa::path(get, path = "/api/v1/dispatch/board", responses((status = 200, body = Object)))]
pub async fn board(State(state): State<AppState>) -> ApiResult {
    let b = state.store.dispatch_board(Timestamp::now()).await?;
    Ok(Json(serde_json::to_value(b).unwrap_or_default()))
}

/// Visits within the caller's scope, newest first.
#[utoipa::path(get, path = "/api/v1/service/visits", responses((status = 200, body = Object, description = "{visits: [...]}")))]
pub async fn visits(State(state): State<AppState>, Signed(p, _): Signed) -> ApiResult {
    let v = state.store.visits(&p.user, None, 200).await?;
    Ok(Json(json!({ "visits": v })))
}

#[derive(Deserialize, ToSchema)]
pub struct VisitIn {
    /// `enterprise:CREDITCODE` or `project:ID` (a bare credit code means an enterprise).
    target: String,
    /// YYYY-MM-DD, not in the future.
    visit_date: String,
    people_met: String,
    findings: String,
    #[serde(default)]
    problems: String,
}

/// Records a visit to an assigned enterprise or project.
#[utoipa::path(post, path = "/api/v1/service/visits", request_body = VisitIn,
    responses((status = 201, body = Object), (status = 422, body = ErrorOut)))]
pub async fn record_visit(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<VisitIn>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let visit = new_visit(&b.target, b.visit_date, b.people_met, b.findings, b.problems);
    let v = state.store.record_visit(&actor_of(&p), &p.user, &visit, today()).await?;
    Ok((StatusCode::CREATED, Json(serde_json::to_value(v).unwrap_or_default())))
}

#[derive(Deserialize, IntoParams)]
pub struct MonthParams {
    /// YYYY-MM; default this month.
    month: Option<String>,
}

/// Monthly coverage: each assigned enterprise with its number of visits in the month.
#[utoipa::path(get, path = "/api/v1/service/coverage", params(MonthParams),
    responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn coverage(State(state): State<AppState>, Signed(p, _): Signed, ApiQuery(q): ApiQuery<MonthParams>) -> ApiResult {
    let month = match q.month.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => Period::parse(m).map_err(|e| invalid(("month".into(), e.to_string())))?,
        None => through_or_now(None).map_err(|e| ApiError::new(ErrorKind::Internal, e))?,
    };
    let lines = state.store.coverage(&p.user, month).await?;
    Ok(Json(json!({ "month": month.to_string(), "coverage": lines })))
}

#[derive(Deserialize, IntoParams)]
pub struct ThroughParams {
    /// YYYY-MM: January of its year to it; default this month.
    through: Option<String>,
}

/// The appeals figures of a period: raised, resolved, overdue at its end, on-time share,
/// satisfaction by department and category.
#[utoipa::path(get, path = "/api/v1/service/figures", params(ThroughParams),
    responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn figures(State(state): State<AppState>, ApiQuery(q): ApiQuery<ThroughParams>) -> ApiResult {
    let through = through_or_now(q.through.as_deref()).map_err(|m| invalid(("through".into(), m)))?;
    let (from, to) = dadong_store::appeals::report_period_ms(through);
    let f = state.store.appeal_figures(from, to).await?;
    Ok(Json(json!({ "through": through.to_string(), "appeals": f })))
}

#[derive(Deserialize, ToSchema)]
pub struct DailyIn {
    /// A key enterprise; an agent's own company when left out.
    credit_code: Option<String>,
    /// YYYY-MM-DD, today or earlier (a week's figures are dated on its last day).
    date: String,
    /// Yuan with at most two decimals, as a string ("1234.50").
    output: Option<String>,
    orders: Option<String>,
    /// Whole numbers.
    headcount: Option<String>,
    parts_stock: Option<String>,
}

/// Reports a key enterprise's figures for a day.
#[utoipa::path(post, path = "/api/v1/figures/daily", request_body = DailyIn,
    responses((status = 204), (status = 422, body = ErrorOut)))]
pub async fn daily(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<DailyIn>) -> Result<StatusCode, ApiError> {
    let figure = daily_figure(
        &b.date,
        [
            (Metric::Output, b.output.as_deref()),
            (Metric::Orders, b.orders.as_deref()),
            (Metric::Headcount, b.headcount.as_deref()),
            (Metric::PartsStock, b.parts_stock.as_deref()),
        ],
    )
    .map_err(invalid)?;
    let code = b
        .credit_code
        .filter(|c| !c.trim().is_empty())
        .or(p.user.company_code.clone())
        .unwrap_or_default();
    state.store.report_daily_figures(&actor_of(&p), &p.user, code.trim(), &figure, today()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(OpenApi)]
#[openapi(
    paths(list, raise, detail, step, follow_up, board, visits, record_visit, coverage, figures, daily),
    components(schemas(RaiseIn, StepIn, FollowUpIn, VisitIn, DailyIn))
)]
pub struct AppealsDoc;

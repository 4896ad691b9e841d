//! The JSON API of managing enterprise service and daily dispatch: routing rules, assignments,
//! key enterprises with their monthly plans, and dispatch tasks. The same parsers
//! ([`crate::appeals_admin`]) and store methods as the pages, so both refuse the same input
//! with the same message.

use crate::AppState;
use crate::api::{ApiJson, ApiQuery, ErrorOut};
use crate::appeals_admin::{FieldError, duty, plan_fields, routing_rule, target_kind, task_fields};
use crate::appeals_web::today;
use crate::auth::Signed;
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};

type ApiResult = Result<Json<Value>, ApiError>;

fn invalid((field, message): FieldError) -> ApiError {
    ApiError::new(ErrorKind::Validation { field: field.clone() }, format!("{field}: {message}"))
}

/// The routing rule of each category that has one.
#[utoipa::path(get, path = "/api/v1/appeals/rules", responses((status = 200, body = Object, description = "{rules: [{category, department, reply_days, resolve_days}]}")))]
pub async fn rules(State(state): State<AppState>) -> ApiResult {
    let table = state.store.routing_table().await?;
    let rules: Vec<_> = table.rules().cloned().collect();
    Ok(Json(json!({ "rules": rules })))
}

#[derive(Deserialize, ToSchema)]
pub struct RuleIn {
    /// The department's code; it must exist.
    department: String,
    /// Working days to reply, 1 to 60; default 3.
    reply_days: Option<u32>,
    /// Working days to resolve, reply to 60; default 15.
    resolve_days: Option<u32>,
}

/// Sets (or replaces) the rule of one category. A department that does not exist is refused
/// (422) and the old rule stays.
#[utoipa::path(put, path = "/api/v1/appeals/rules/{category}", request_body = RuleIn,
    params(("category" = String, Path, description = "labour, funding, supply_chain, approval, land or other")),
    responses((status = 200, body = Object), (status = 422, body = ErrorOut)))]
pub async fn set_rule(State(state): State<AppState>, Signed(p, _): Signed, Path(category): Path<String>, ApiJson(b): ApiJson<RuleIn>) -> ApiResult {
    let reply = b.reply_days.map(|d| d.to_string());
    let resolve = b.resolve_days.map(|d| d.to_string());
    let rule = routing_rule(&category, &b.department, reply.as_deref(), resolve.as_deref()).map_err(invalid)?;
    state.store.set_routing_rule(&actor_of(&p), &rule).await?;
    Ok(Json(serde_json::to_value(rule).unwrap_or_default()))
}

/// Every assignment (leaders and admins see all).
#[utoipa::path(get, path = "/api/v1/appeals/assignments", responses((status = 200, body = Object, description = "{assignments: [...]}")))]
pub async fn assignments(State(state): State<AppState>, Signed(p, _): Signed) -> ApiResult {
    let list = state.store.assignments(&p.user).await?;
    Ok(Json(json!({ "assignments": list })))
}

#[derive(Deserialize, ToSchema)]
pub struct AssignIn {
    /// enterprise or project.
    kind: String,
    /// A credit code or a project id.
    target: String,
    user_id: i64,
    /// leader (the responsible leader, who must have the leader role) or cadre.
    duty: String,
}

/// Assigns a leader or cadre to an enterprise or project; assigning twice changes nothing.
#[utoipa::path(post, path = "/api/v1/appeals/assignments", request_body = AssignIn,
    responses((status = 201, body = Object), (status = 404, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn assign(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<AssignIn>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kind = target_kind(&b.kind).map_err(invalid)?;
    let duty = duty(&b.duty).map_err(invalid)?;
    state.store.assign(&actor_of(&p), kind, &b.target, b.user_id, duty).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"kind": kind.code(), "target": b.target.trim(), "user_id": b.user_id, "duty": duty.code()})),
    ))
}

#[derive(Deserialize, IntoParams)]
pub struct AssignmentKey {
    /// enterprise or project.
    kind: String,
    target: String,
    user_id: i64,
}

/// Ends an assignment; a cadre stops seeing the enterprise's appeals.
#[utoipa::path(delete, path = "/api/v1/appeals/assignments", params(AssignmentKey),
    responses((status = 204), (status = 404, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn unassign(State(state): State<AppState>, Signed(p, _): Signed, ApiQuery(q): ApiQuery<AssignmentKey>) -> Result<StatusCode, ApiError> {
    let kind = target_kind(&q.kind).map_err(invalid)?;
    state.store.unassign(&actor_of(&p), kind, &q.target, q.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct KeyIn {
    credit_code: String,
}

/// Names a key enterprise, whose daily figures then show on the dispatch board.
#[utoipa::path(post, path = "/api/v1/appeals/key-enterprises", request_body = KeyIn,
    responses((status = 204), (status = 422, body = ErrorOut)))]
pub async fn add_key(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<KeyIn>) -> Result<StatusCode, ApiError> {
    state.store.add_key_enterprise(&actor_of(&p), &b.credit_code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes an enterprise off the key list; its figures and plans stay on record.
#[utoipa::path(delete, path = "/api/v1/appeals/key-enterprises/{credit_code}", params(("credit_code" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorOut)))]
pub async fn remove_key(State(state): State<AppState>, Signed(p, _): Signed, Path(credit_code): Path<String>) -> Result<StatusCode, ApiError> {
    state.store.remove_key_enterprise(&actor_of(&p), &credit_code).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct PlanIn {
    /// A key enterprise.
    credit_code: String,
    /// YYYY-MM.
    period: String,
    /// output, orders, headcount or parts_stock.
    metric: String,
    /// Yuan with at most two decimals for output and orders ("1234.50"), whole numbers otherwise.
    value: String,
}

/// Sets a key enterprise's plan for one metric and month.
#[utoipa::path(post, path = "/api/v1/appeals/monthly-plans", request_body = PlanIn,
    responses((status = 204), (status = 422, body = ErrorOut)))]
pub async fn set_plan(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<PlanIn>) -> Result<StatusCode, ApiError> {
    let (period, metric, value) = plan_fields(&b.period, &b.metric, &b.value).map_err(invalid)?;
    state.store.set_monthly_plan(&actor_of(&p), b.credit_code.trim(), period, metric, value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct TaskIn {
    /// 1 to 200 characters.
    title: String,
    /// The user who owns the task.
    owner_user_id: i64,
    /// YYYY-MM-DD, today or later.
    due_date: String,
}

/// Creates a dispatch task; it shows on the board from its due date until it is done.
#[utoipa::path(post, path = "/api/v1/appeals/dispatch-tasks", request_body = TaskIn,
    responses((status = 201, body = Object, description = "{id}"), (status = 422, body = ErrorOut)))]
pub async fn create_task(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(b): ApiJson<TaskIn>) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (title, due) = task_fields(&b.title, &b.due_date, today()).map_err(invalid)?;
    let id = state.store.create_dispatch_task(&actor_of(&p), &p.user, &title, b.owner_user_id, due).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// Marks a dispatch task done (409 when it is done already).
#[utoipa::path(post, path = "/api/v1/appeals/dispatch-tasks/{id}/done", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut)))]
pub async fn complete_task(State(state): State<AppState>, Signed(p, _): Signed, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| ApiError::new(ErrorKind::NotFound, format!("dispatch task {id} not found")))?;
    state.store.complete_dispatch_task(&actor_of(&p), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(OpenApi)]
#[openapi(
    paths(rules, set_rule, assignments, assign, unassign, add_key, remove_key, set_plan, create_task, complete_task),
    components(schemas(RuleIn, AssignIn, KeyIn, PlanIn, TaskIn))
)]
pub struct AppealsAdminDoc;

//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/openapi.json`.
//!
//! It covers what the pages do. A browser session's cookie authenticates it; state-changing
//! calls of a signed-in user carry the session's CSRF token in `X-CSRF-Token`.

use crate::auth::{self, Signed};
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use crate::{AppState, client_addr, economy_api};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dadong_store::NewUser;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// JSON body extractor whose rejections are API errors with stable codes.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match &rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(ErrorKind::UnsupportedMediaType, "send Content-Type: application/json"),
                JsonRejection::JsonDataError(e) => ApiError::new(ErrorKind::Validation { field: "body".into() }, e.body_text()),
                JsonRejection::JsonSyntaxError(e) => ApiError::new(ErrorKind::BadRequest, e.body_text()),
                other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorKind::PayloadTooLarge, "the body is too large"),
                other => ApiError::new(ErrorKind::BadRequest, other.body_text()),
            }),
        }
    }
}

/// Query-string extractor whose rejections are API errors.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::new(ErrorKind::BadRequest, e.body_text()))
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    id: i64,
    username: String,
    display_name: String,
    /// One of citizen, enterprise, merchant, clerk, cadre, analyst, leader, admin.
    role: String,
    department_id: Option<i64>,
    company_code: Option<String>,
    /// Masked, e.g. 138****5678.
    phone: Option<String>,
    /// Masked, e.g. 210104********1234.
    id_number: Option<String>,
    active: bool,
}

impl From<dadong_store::User> for UserOut {
    fn from(u: dadong_store::User) -> Self {
        UserOut {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role.key().to_string(),
            department_id: u.department_id,
            company_code: u.company_code,
            phone: u.phone_masked,
            id_number: u.id_number_masked,
            active: u.active,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginIn {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    /// Send this in the X-CSRF-Token header with every state-changing call.
    csrf_token: String,
    user: UserOut,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorOut {
    error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable: bad_request, validation_failed, unauthenticated, forbidden, csrf_failed, not_found,
    /// method_not_allowed, conflict, payload_too_large, unsupported_media_type, too_many_requests, internal.
    code: String,
    message: String,
    field: Option<String>,
    /// Only for a refused import: every problem of the file.
    rows: Option<Vec<crate::economy_api::ImportRowErrorOut>>,
}

/// Signs in and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", request_body = LoginIn,
    responses((status = 200, body = SessionOut), (status = 401, body = ErrorOut), (status = 429, body = ErrorOut)))]
pub async fn login(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let addr = client_addr(&req);
    let ApiJson(body): ApiJson<LoginIn> = ApiJson::from_request(req, &()).await?;
    match auth::sign_in(&state, &body.username, &body.password, &addr, "api").await? {
        auth::SignIn::Throttled { retry_after_s } => Err(ApiError::new(
            ErrorKind::TooManyRequests { retry_after_s },
            "too many failed sign-ins; try again later",
        )),
        auth::SignIn::Refused => Err(ApiError::new(ErrorKind::Unauthenticated, "wrong username or password")),
        auth::SignIn::Signed { user, token, csrf_token } => Ok(auth::with_session_cookie(
            &state,
            Json(SessionOut { csrf_token, user: user.into() }).into_response(),
            &token,
        )),
    }
}

/// Signs out.
#[utoipa::path(delete, path = "/api/v1/session", responses((status = 204), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn logout(State(state): State<AppState>, Signed(p, _): Signed) -> Result<StatusCode, ApiError> {
    state.store.delete_session(&p.session_token).await?;
    state
        .store
        .audit_event(&actor_of(&p), "session.logout", &format!("user:{}", p.user.id), None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = UserOut), (status = 401, body = ErrorOut)))]
pub async fn me(Signed(p, _): Signed) -> Json<UserOut> {
    Json(p.user.into())
}

/// Every user (admin).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = [UserOut]), (status = 401, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn users(State(state): State<AppState>) -> Result<Json<Vec<UserOut>>, ApiError> {
    Ok(Json(state.store.users().await?.into_iter().map(UserOut::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    username: String,
    display_name: String,
    password: String,
    role: String,
    department: Option<String>,
    company_code: Option<String>,
    phone: Option<String>,
    id_number: Option<String>,
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserIn,
    responses((status = 201, body = UserOut), (status = 422, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn create_user(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiJson(body): ApiJson<NewUserIn>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let new = NewUser {
        username: body.username,
        display_name: body.display_name,
        password: body.password,
        role: body.role,
        department_code: body.department,
        company_code: body.company_code,
        phone: body.phone,
        id_number: body.id_number,
    };
    let user = state.store.create_user(&actor_of(&p), new).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentOut {
    id: i64,
    code: String,
    name_zh: String,
    name_en: String,
}

impl From<dadong_store::Department> for DepartmentOut {
    fn from(d: dadong_store::Department) -> Self {
        DepartmentOut {
            id: d.id,
            code: d.code,
            name_zh: d.name_zh,
            name_en: d.name_en,
        }
    }
}

/// The district's departments (staff).
#[utoipa::path(get, path = "/api/v1/departments", responses((status = 200, body = [DepartmentOut]), (status = 403, body = ErrorOut)))]
pub async fn departments(State(state): State<AppState>) -> Result<Json<Vec<DepartmentOut>>, ApiError> {
    Ok(Json(state.store.departments().await?.into_iter().map(DepartmentOut::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartmentIn {
    code: String,
    name_zh: String,
    name_en: String,
}

/// Creates a department (admin).
#[utoipa::path(post, path = "/api/v1/departments", request_body = NewDepartmentIn,
    responses((status = 201, body = DepartmentOut), (status = 409, body = ErrorOut), (status = 422, body = ErrorOut)))]
pub async fn create_department(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiJson(body): ApiJson<NewDepartmentIn>,
) -> Result<(StatusCode, Json<DepartmentOut>), ApiError> {
    let d = state.store.create_department(&actor_of(&p), &body.code, &body.name_zh, &body.name_en).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[derive(Deserialize, IntoParams)]
pub struct AuditParams {
    /// At most this many records, newest first (1 to 1000; default 100).
    limit: Option<i64>,
    /// Only records numbered below this.
    before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    seq: i64,
    /// RFC 3339, Asia/Shanghai.
    at: String,
    actor: String,
    action: String,
    object: String,
    #[schema(value_type = Object)]
    before: Option<serde_json::Value>,
    #[schema(value_type = Object)]
    after: Option<serde_json::Value>,
    hash: String,
}

/// The audit log, newest first (admin, leader).
#[utoipa::path(get, path = "/api/v1/audit", params(AuditParams), responses((status = 200, body = [AuditOut]), (status = 403, body = ErrorOut)))]
pub async fn audit(State(state): State<AppState>, ApiQuery(q): ApiQuery<AuditParams>) -> Result<Json<Vec<AuditOut>>, ApiError> {
    let records = state.store.audit_records(q.limit.unwrap_or(100), q.before).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r| AuditOut {
                seq: r.seq,
                at: crate::format_time(r.at_ms),
                actor: r.actor,
                action: r.action,
                object: r.object,
                before: r.before,
                after: r.after,
                hash: r.hash,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct AuditVerifyOut {
    records: i64,
    ok: bool,
    /// Where the chain first breaks, in words.
    first_break: Option<String>,
}

/// Checks the whole audit chain (admin, leader).
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = AuditVerifyOut), (status = 403, body = ErrorOut)))]
pub async fn audit_verify(State(state): State<AppState>) -> Result<Json<AuditVerifyOut>, ApiError> {
    let report = state.store.verify_audit().await?;
    Ok(Json(AuditVerifyOut {
        records: report.records,
        ok: report.first_break.is_none(),
        first_break: report.first_break.map(|b| b.to_string()),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct WorkingDaysParams {
    /// YYYY-MM-DD
    from: String,
    /// Working days to add, 0 to 3650.
    days: u32,
}

#[derive(Serialize, ToSchema)]
pub struct WorkingDaysOut {
    from: String,
    days: u32,
    due: String,
    /// True when a year crossed has no official notice in the calendar (weekends only).
    provisional: bool,
}

/// The date `days` working days after `from`, on the national calendar.
#[utoipa::path(get, path = "/api/v1/calendar/working-days", params(WorkingDaysParams), responses((status = 200, body = WorkingDaysOut), (status = 400, body = ErrorOut)))]
pub async fn working_days(ApiQuery(q): ApiQuery<WorkingDaysParams>) -> Result<Json<WorkingDaysOut>, ApiError> {
    let from: jiff::civil::Date = q
        .from
        .parse()
        .map_err(|_| ApiError::new(ErrorKind::Validation { field: "from".into() }, format!("'{}' is not a date YYYY-MM-DD", q.from)))?;
    if q.days > 3650 {
        return Err(ApiError::new(ErrorKind::Validation { field: "days".into() }, "at most 3650 working days"));
    }
    let cal = dadong_domain::WorkCalendar::national();
    let due = cal.add_working_days(from, q.days);
    let provisional = (from.year()..=due.year()).any(|y| cal.is_provisional(y));
    Ok(Json(WorkingDaysOut {
        from: from.to_string(),
        days: q.days,
        due: due.to_string(),
        provisional,
    }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Digital Dadong API",
        description = "数字大东 — the district platform's JSON API. Errors are {\"error\": {\"code\", \"message\", \"field\"}} with a stable code."
    ),
    paths(
        login,
        logout,
        me,
        users,
        create_user,
        departments,
        create_department,
        audit,
        audit_verify,
        working_days,
        economy_api::bulletin,
        economy_api::enterprises,
        economy_api::enterprise,
        economy_api::projects,
        economy_api::project,
        economy_api::import,
        crate::vouchers_api::campaigns,
        crate::vouchers_api::create_campaign,
        crate::vouchers_api::claim,
        crate::vouchers_api::register,
        crate::vouchers_api::draw,
        crate::vouchers_api::draw_record,
        crate::vouchers_api::wallet,
        crate::vouchers_api::merchant_me,
        crate::vouchers_api::merchant_apply,
        crate::vouchers_api::merchant_history,
        crate::vouchers_api::merchant_settlements,
        crate::vouchers_api::redeem,
        crate::vouchers_api::refund,
        crate::vouchers_api::merchants,
        crate::vouchers_api::decide_merchant,
        crate::vouchers_api::settlements,
        crate::vouchers_api::settle,
        crate::vouchers_api::figures,
        crate::vouchers_api::fraud_flags,
        crate::vouchers_api::review_flag,
        crate::vouchers_api::ledger_verify
    ),
    components(schemas(
        UserOut,
        LoginIn,
        SessionOut,
        ErrorOut,
        ErrorBody,
        NewUserIn,
        DepartmentOut,
        NewDepartmentIn,
        AuditOut,
        AuditVerifyOut,
        WorkingDaysOut,
        economy_api::EnterpriseOut,
        economy_api::EnterprisePageOut,
        economy_api::TagOut,
        economy_api::ValueOut,
        economy_api::IndicatorValuesOut,
        economy_api::EnterpriseDetailOut,
        economy_api::ProjectOut,
        economy_api::ProjectPageOut,
        economy_api::StageOut,
        economy_api::ProjectDetailOut,
        economy_api::ImportSummaryOut,
        economy_api::ImportRowErrorOut,
        crate::vouchers_api::CampaignOut,
        crate::vouchers_api::KindOut,
        crate::vouchers_api::CampaignIn,
        crate::vouchers_api::KindIn,
        crate::vouchers_api::ClaimIn,
        crate::vouchers_api::ClaimOut,
        crate::vouchers_api::RegistrationIn,
        crate::vouchers_api::RegistrationOut,
        crate::vouchers_api::DrawOut,
        crate::vouchers_api::DrawnKindOut,
        crate::vouchers_api::VoucherOut,
        crate::vouchers_api::MerchantApplyIn,
        crate::vouchers_api::MerchantOut,
        crate::vouchers_api::RedeemIn,
        crate::vouchers_api::ReceiptOut,
        crate::vouchers_api::RedemptionOut,
        crate::vouchers_api::SettlementOut,
        crate::vouchers_api::DecisionIn,
        crate::vouchers_api::SettleIn,
        crate::vouchers_api::FigureRowOut,
        crate::vouchers_api::FiguresOut,
        crate::vouchers_api::FraudFlagOut,
        crate::vouchers_api::ReviewIn,
        crate::vouchers_api::LedgerVerifyOut
    ))
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::appeals_api::AppealsDoc::openapi());
    doc.merge(crate::appeals_admin_api::AppealsAdminDoc::openapi());
    doc.merge(crate::services_api::ServicesDoc::openapi());
    Json(doc)
}

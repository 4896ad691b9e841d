//! The economy's JSON API under `/api/v1/economy`: the bulletin in the stable JSON form of
//! SPEC section 9, the enterprise registry within the caller's scope, the major projects, and
//! the import of an exchange file sent as the request body.

use crate::AppState;
use crate::api::{ApiQuery, ErrorOut};
use crate::auth::Signed;
use crate::economy::{IMPORT_BODY_MAX_BYTES, LIST_PAGE_SIZE, bulletin_for, clean_file_name, enterprise_scope, parse_through, sees_enterprise};
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use dadong_economy::report;
use dadong_store::economy::ImportFailure;
use dadong_store::economy_import::ImportKind;
use dadong_store::economy_queries::{Page, ProjectItem};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

pub const CSV_TYPE: &str = "text/csv";
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Deserialize, IntoParams)]
pub struct BulletinParams {
    /// The period's last month, YYYY-MM (January of its year to it); default the latest month with data.
    through: Option<String>,
}

/// The bulletin for January to `through`: the stable JSON of SPEC section 9 (analyst, leader, admin).
#[utoipa::path(get, path = "/api/v1/economy/bulletin", params(BulletinParams),
    responses((status = 200, body = Object, description = "district, from, through, indicators, projects, enterprises"),
        (status = 404, body = ErrorOut, description = "no indicator values stored"), (status = 422, body = ErrorOut)))]
pub async fn bulletin(State(state): State<AppState>, ApiQuery(q): ApiQuery<BulletinParams>) -> Result<Json<serde_json::Value>, ApiError> {
    let through = parse_through(q.through.as_deref()).map_err(|m| ApiError::new(ErrorKind::Validation { field: "through".into() }, m))?;
    let b = bulletin_for(&state.store, through)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "no indicator values are stored yet"))?;
    Ok(Json(report::to_json(&b, &serde_json::Map::new())))
}

#[derive(Deserialize, IntoParams)]
pub struct EnterpriseListParams {
    /// A part of the name or of the credit code.
    q: Option<String>,
    /// From 1; 50 enterprises a page.
    page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct EnterpriseOut {
    credit_code: String,
    name: String,
    /// GB/T 4754-2017, e.g. C3670.
    industry: String,
    above_size: bool,
    park: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EnterprisePageOut {
    /// Every enterprise that matched, within the caller's scope.
    total: i64,
    page: i64,
    per_page: i64,
    items: Vec<EnterpriseOut>,
}

/// The enterprises the caller may see, by credit code: all for analysts, leaders and admins, the
/// assigned ones for a cadre, its own company for an enterprise agent.
#[utoipa::path(get, path = "/api/v1/economy/enterprises", params(EnterpriseListParams),
    responses((status = 200, body = EnterprisePageOut), (status = 400, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn enterprises(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiQuery(q): ApiQuery<EnterpriseListParams>,
) -> Result<Json<EnterprisePageOut>, ApiError> {
    let scope = enterprise_scope(&p);
    let page = state
        .store
        .enterprises_page(q.q.as_deref().unwrap_or(""), scope.as_deref(), q.page.unwrap_or(1), LIST_PAGE_SIZE)
        .await?;
    Ok(Json(EnterprisePageOut {
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        items: page
            .items
            .into_iter()
            .map(|e| EnterpriseOut {
                credit_code: e.credit_code,
                name: e.name,
                industry: e.industry,
                above_size: e.above_size,
                park: e.park,
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TagOut {
    /// tech_sme, high_tech, eaglet, gazelle, little_giant_national, little_giant_provincial, key.
    tag: String,
    /// YYYY-MM-DD, the day the enterprise entered the pool.
    entered: String,
}

#[derive(Serialize, ToSchema)]
pub struct ValueOut {
    /// YYYY-MM.
    period: String,
    /// In the indicator's unit, two decimals.
    value: String,
}

#[derive(Serialize, ToSchema)]
pub struct IndicatorValuesOut {
    indicator: String,
    /// yuan, units or persons.
    unit: String,
    values: Vec<ValueOut>,
}

#[derive(Serialize, ToSchema)]
pub struct EnterpriseDetailOut {
    credit_code: String,
    name: String,
    industry: String,
    above_size: bool,
    park: Option<String>,
    /// YYYY-MM-DD.
    registered: String,
    tags: Vec<TagOut>,
    indicators: Vec<IndicatorValuesOut>,
}

/// One enterprise with its pools and monthly values; 404 for one outside the caller's scope,
/// exactly as for one that does not exist.
#[utoipa::path(get, path = "/api/v1/economy/enterprises/{credit_code}", params(("credit_code" = String, Path, description = "Unified Social Credit Code")),
    responses((status = 200, body = EnterpriseDetailOut), (status = 404, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn enterprise(State(state): State<AppState>, Signed(p, _): Signed, Path(code): Path<String>) -> Result<Json<EnterpriseDetailOut>, ApiError> {
    let not_found = || ApiError::new(ErrorKind::NotFound, format!("no enterprise '{code}'"));
    if !sees_enterprise(&p, &code) {
        return Err(not_found());
    }
    let profile = state.store.enterprise_profile(&code).await?.ok_or_else(not_found)?;
    let catalog = state.store.indicator_catalog().await?;
    let indicators = state
        .store
        .enterprise_values(&code)
        .await?
        .into_iter()
        .map(|h| IndicatorValuesOut {
            unit: catalog.iter().find(|i| i.code == h.indicator).map(|i| i.unit.clone()).unwrap_or_default(),
            values: h
                .points
                .iter()
                .map(|(period, v)| ValueOut {
                    period: period.to_string(),
                    value: report::centi_string(*v),
                })
                .collect(),
            indicator: h.indicator,
        })
        .collect();
    Ok(Json(EnterpriseDetailOut {
        credit_code: profile.credit_code,
        name: profile.name,
        industry: profile.industry,
        above_size: profile.above_size,
        park: profile.park,
        registered: profile.registered,
        tags: profile
            .tags
            .into_iter()
            .map(|t| TagOut {
                tag: t.tag,
                entered: t.entered,
            })
            .collect(),
        indicators,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ProjectListParams {
    /// From 1; 50 projects a page.
    page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectOut {
    project_id: String,
    name: String,
    /// Yuan, two decimals.
    investment: String,
    industry: String,
    /// industrial, commercial, livelihood or infrastructure.
    kind: String,
    signed: Option<String>,
    landed: Option<String>,
    started: Option<String>,
    completed: Option<String>,
    /// The furthest stage reached: signed, landed, started, completed, or null.
    stage: Option<String>,
}

impl From<ProjectItem> for ProjectOut {
    fn from(p: ProjectItem) -> Self {
        ProjectOut {
            stage: p.stage().map(str::to_string),
            project_id: p.project_id,
            name: p.name,
            investment: report::centi_string(p.investment.into()),
            industry: p.industry,
            kind: p.kind,
            signed: p.signed,
            landed: p.landed,
            started: p.started,
            completed: p.completed,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProjectPageOut {
    total: i64,
    page: i64,
    per_page: i64,
    items: Vec<ProjectOut>,
}

fn project_page(page: Page<ProjectItem>) -> ProjectPageOut {
    ProjectPageOut {
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        items: page.items.into_iter().map(ProjectOut::from).collect(),
    }
}

/// The major projects by id (analyst, leader, admin, cadre).
#[utoipa::path(get, path = "/api/v1/economy/projects", params(ProjectListParams),
    responses((status = 200, body = ProjectPageOut), (status = 400, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn projects(State(state): State<AppState>, ApiQuery(q): ApiQuery<ProjectListParams>) -> Result<Json<ProjectPageOut>, ApiError> {
    Ok(Json(project_page(state.store.projects_page(q.page.unwrap_or(1), LIST_PAGE_SIZE).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct StageOut {
    stage: String,
    /// YYYY-MM-DD.
    date: String,
    /// RFC 3339, Asia/Shanghai: when the import that brought it ran.
    recorded_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectDetailOut {
    project: ProjectOut,
    /// Ordered by date.
    stages: Vec<StageOut>,
}

/// One project with its stage history (analyst, leader, admin, cadre).
#[utoipa::path(get, path = "/api/v1/economy/projects/{id}", params(("id" = String, Path, description = "project_id")),
    responses((status = 200, body = ProjectDetailOut), (status = 404, body = ErrorOut), (status = 403, body = ErrorOut)))]
pub async fn project(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ProjectDetailOut>, ApiError> {
    let detail = state
        .store
        .project_detail(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, format!("no project '{id}'")))?;
    Ok(Json(ProjectDetailOut {
        project: detail.project.into(),
        stages: detail
            .stages
            .into_iter()
            .map(|s| StageOut {
                stage: s.stage,
                date: s.date,
                recorded_at: crate::format_time(s.recorded_at_ms),
            })
            .collect(),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ImportParams {
    /// The file's name for the record of imports; default `{kind}.csv` or `{kind}.xlsx`.
    file_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportSummaryOut {
    kind: String,
    rows: usize,
    inserted: usize,
    replaced: usize,
    import_id: i64,
}

/// One problem of a refused file, listed under `error.rows` of a 422 answer.
#[derive(Serialize, ToSchema)]
pub struct ImportRowErrorOut {
    /// The spreadsheet row, the header being row 1; 0 for the whole file.
    row: usize,
    column: String,
    value: String,
    reason: String,
}

/// Imports one exchange file sent as the body, all or nothing (analyst, admin). A refused file
/// answers 422 with every row's problem in `error.rows`, and nothing is stored.
#[utoipa::path(post, path = "/api/v1/economy/import/{kind}",
    params(("kind" = String, Path, description = "enterprises, indicators, districts or projects"), ImportParams),
    request_body(description = "The file, CSV (UTF-8) or XLSX, with the header of SPEC section 9; at most 32 MiB",
        content(("text/csv"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses((status = 201, body = ImportSummaryOut), (status = 404, body = ErrorOut, description = "no such kind"),
        (status = 413, body = ErrorOut), (status = 415, body = ErrorOut),
        (status = 422, body = ErrorOut, description = "refused: error.rows lists every problem")))]
pub async fn import(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    Path(kind): Path<String>,
    ApiQuery(q): ApiQuery<ImportParams>,
    req: Request,
) -> Result<(StatusCode, Json<ImportSummaryOut>), ApiError> {
    let kind = ImportKind::parse(&kind).ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            format!("no import kind '{kind}': use enterprises, indicators, districts or projects"),
        )
    })?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let extension = match content_type.as_str() {
        CSV_TYPE => ".csv",
        XLSX_TYPE => ".xlsx",
        _ => {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                format!("send the file as Content-Type {CSV_TYPE} or {XLSX_TYPE}"),
            ));
        }
    };
    // The Content-Type decides the format: the name the file is recorded under ends in its extension.
    let mut name = clean_file_name(q.file_name.as_deref().unwrap_or(""));
    if name.is_empty() {
        name = kind.key().to_string();
    }
    if !name.to_ascii_lowercase().ends_with(extension) {
        name.push_str(extension);
    }
    let bytes = axum::body::to_bytes(req.into_body(), IMPORT_BODY_MAX_BYTES).await.map_err(|_| {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!(
                "the file could not be read whole; it may be at most {} MiB",
                IMPORT_BODY_MAX_BYTES / (1024 * 1024)
            ),
        )
    })?;
    match state.store.import_file_bytes(&actor_of(&p), kind, &name, &bytes).await {
        Ok(s) => Ok((
            StatusCode::CREATED,
            Json(ImportSummaryOut {
                kind: s.kind,
                rows: s.rows,
                inserted: s.inserted,
                replaced: s.replaced,
                import_id: s.import_id,
            }),
        )),
        Err(ImportFailure::Rows(errors)) => Err(ApiError::new(
            ErrorKind::Validation { field: "file".into() },
            format!("the file was refused and nothing was stored: {} problems", errors.len()),
        )
        .with_detail("rows", json!(errors))),
        Err(ImportFailure::Store(e)) => Err(e.into()),
    }
}

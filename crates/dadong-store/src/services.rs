//! Government services (一网通办) in the store: the matter catalog, bundles, applications with
//! their steps, uploads, the notification outbox, ratings with rectification tickets and
//! electronic certificates.
//!
//! The rules live in `dadong-services`: a change to an application loads it (locked on
//! PostgreSQL, under the write lock on SQLite), runs `lifecycle::apply`, and writes the new state,
//! the changed steps, the effects (notifications) and the audit record in one transaction, so a
//! refused event changes nothing and two clerks acting at once on one application never lose
//! each other's step.

use std::collections::{BTreeMap, BTreeSet};

use dadong_domain::WorkCalendar;
use dadong_domain::crypto::sha256_hex;
use dadong_domain::ids::CreditCode;
use dadong_domain::money::{Fen, Unit};
use dadong_services::bundle::FieldKind;
use dadong_services::certificate::{self, CertificateKey, Licence};
use dadong_services::lifecycle::{self, AppState, Application, Effect, Event, Notice, Recipient, Step, StepState};
use dadong_services::{BundleDef, Channel, Level, Material, Matter, ValidBundle};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use crate::audit::{self, Actor};
use crate::{Backend, PerBackend, Result, Store, StoreError, ids_from_json, json_rows, placeholders, rows_per_insert};

/// The columns of an acted application's new state, one JSON object per application.
const APPLICATION_ROW_COLUMNS: &[(&str, &str)] = &[
    ("id", "bigint"),
    ("state", "text"),
    ("state_json", "text"),
    ("provided_json", "text"),
    ("correction_requested", "bigint"),
    ("submitted_at", "bigint"),
    ("accepted_at", "bigint"),
    ("completed_at", "bigint"),
    ("delivered_at", "bigint"),
    ("updated_at", "bigint"),
];

/// The columns of a changed step, one JSON object per step.
const STEP_ROW_COLUMNS: &[(&str, &str)] = &[
    ("application_id", "bigint"),
    ("step_id", "text"),
    ("state", "text"),
    ("reason", "text"),
    ("ready_at", "bigint"),
    ("deadline_at", "bigint"),
    ("started_at", "bigint"),
    ("finished_at", "bigint"),
    ("clerk", "bigint"),
];

/// The columns of an in-app notice, one JSON object per notice.
const NOTICE_ROW_COLUMNS: &[(&str, &str)] = &[
    ("user_id", "bigint"),
    ("department_code", "text"),
    ("kind", "text"),
    ("body_json", "text"),
    ("application_id", "bigint"),
    ("created_at", "bigint"),
];

/// The department that runs the service hall: it accepts applications and delivers results.
pub const HALL_DEPARTMENT: &str = "business_env";
/// The material a licence step produces; completing such a step issues the e-licence.
pub const LICENCE_MATERIAL: &str = "business_licence";
/// Largest uploaded file.
pub const UPLOAD_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Longest free text (reasons, comments, answers), in characters.
pub const TEXT_CHARS_MAX: usize = 2000;
/// The administrative division code of the district, the 3rd to 8th characters of the credit
/// codes its market regulation bureau issues (沈阳市大东区).
pub const DIVISION_CODE: &str = "210104";
/// The authority printed on the licences this district issues.
pub const LICENCE_AUTHORITY: &str = "沈阳市大东区市场监督管理局";

const SETTING_CERT_KEY: &str = "certificate_signing_key";
const SETTING_CERT_PUBLIC: &str = "certificate_public_key";

/// One act, as queued for [`Store::act_on_applications`].
#[derive(Debug, Clone)]
pub struct ActRequest {
    pub actor: Actor,
    pub acting: Acting,
    pub application_id: i64,
    pub act: Act,
    pub now: Timestamp,
    /// Where the site is reached, for a licence's QR code.
    pub public_url: String,
}

/// Who is acting on an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acting {
    /// The applicant (a citizen or an enterprise agent), by user id.
    Applicant(i64),
    /// A clerk of a department.
    Clerk { user_id: i64, department: String },
}

/// What a person does to an application through the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    Submit,
    Accept,
    NotAccept { reason: String },
    RequestCorrection { items: Vec<String> },
    StartStep { step: String },
    CompleteStep { step: String },
    RefuseStep { step: String, reason: String },
    Deliver,
}

impl Act {
    fn name(&self) -> &'static str {
        match self {
            Act::Submit => "submit",
            Act::Accept => "accept",
            Act::NotAccept { .. } => "not_accept",
            Act::RequestCorrection { .. } => "request_correction",
            Act::StartStep { .. } => "start_step",
            Act::CompleteStep { .. } => "complete_step",
            Act::RefuseStep { .. } => "refuse_step",
            Act::Deliver => "deliver",
        }
    }
}

/// An application as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredApplication {
    pub id: i64,
    /// The bundle id or, for a single matter, its code.
    pub subject: String,
    pub kind: String,
    pub applicant_id: i64,
    pub company_code: Option<String>,
    #[serde(skip)]
    pub app: Application,
    pub state: String,
    /// The combined form with personal fields masked.
    pub form_masked: BTreeMap<String, String>,
    pub promised_days: u32,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub certificate_id: Option<String>,
}

/// One upload, without its bytes.
#[derive(Debug, Clone, Serialize)]
pub struct UploadInfo {
    pub id: i64,
    pub material_code: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at_ms: i64,
}

/// One row of a department's queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    pub application_id: i64,
    pub step_id: String,
    pub matter_code: String,
    pub matter_name: String,
    pub subject: String,
    pub state: String,
    pub ready_at_ms: Option<i64>,
    pub deadline_ms: Option<i64>,
    pub escalated: bool,
}

/// A submitted application waiting for the hall.
#[derive(Debug, Clone, Serialize)]
pub struct HallItem {
    pub application_id: i64,
    pub subject: String,
    pub applicant: String,
    pub submitted_at_ms: i64,
}

/// A notification in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub body: Value,
    pub application_id: Option<i64>,
    pub created_at_ms: i64,
    pub read: bool,
}

/// A rectification ticket opened by a bad rating.
#[derive(Debug, Clone, Serialize)]
pub struct Rectification {
    pub id: i64,
    pub application_id: i64,
    pub department_code: String,
    pub level: i64,
    pub comment: String,
    pub opened_at_ms: i64,
    pub answer: Option<String>,
    pub answered_at_ms: Option<i64>,
}

/// An issued certificate, without its file.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateInfo {
    pub id: String,
    pub application_id: i64,
    pub kind: String,
    pub credit_code: String,
    pub company_name: String,
    pub licence: Licence,
    pub file_sha256: String,
    pub issued_at_ms: i64,
}

/// What checking a certificate file found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyOutcome {
    pub genuine: bool,
    /// Why not, in words for whoever checks it.
    pub reason: Option<String>,
    pub certificate: Option<CertificateInfo>,
}

/// The five national rating levels (好差评), 5 best.
pub const RATING_LEVELS: [(i64, &str); 5] = [(5, "非常满意"), (4, "满意"), (3, "基本满意"), (2, "不满意"), (1, "非常不满意")];

/// The government-services figures of a period (SPEC section 5 and 9).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServicesFigures {
    pub matters: i64,
    pub fully_online: i64,
    pub fully_online_pct: Option<String>,
    pub bundles: i64,
    pub bundled_matters: i64,
    /// Applications submitted in the period.
    pub applications: i64,
    /// Those applications by their current state.
    pub by_status: BTreeMap<String, i64>,
    /// Completed applications of the period.
    pub completed: i64,
    /// Mean and 95th percentile of completion time in working days, against the mean promise.
    pub avg_completion_days: Option<String>,
    pub p95_completion_days: Option<String>,
    pub avg_promised_days: Option<String>,
    pub on_time_pct: Option<String>,
    /// Companies opened through `open_company` in the period and the share within one working day.
    pub companies_opened: i64,
    pub opened_within_one_day_pct: Option<String>,
    /// Still open and past the deadline at the end of the period.
    pub overdue: i64,
    pub ratings: Vec<DepartmentRating>,
}

/// The catalog's size, as the services home page and the figures show it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CatalogCounts {
    pub matters: i64,
    pub fully_online: i64,
    pub fully_online_pct: Option<String>,
    pub bundles: i64,
    pub bundled_matters: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentRating {
    pub department: String,
    pub ratings: i64,
    /// Mean level to one decimal.
    pub average: String,
    /// Share rated 满意 or better.
    pub satisfied_pct: String,
    pub rectifications_open: i64,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn opt_ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(ts)
}

fn text_ok(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.chars().count() > TEXT_CHARS_MAX {
        return Err(StoreError::invalid(field, format!("is longer than {TEXT_CHARS_MAX} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(StoreError::invalid(field, "holds control characters"));
    }
    Ok(value.to_string())
}

fn lifecycle_error(e: lifecycle::LifecycleError) -> StoreError {
    use lifecycle::LifecycleError as L;
    match e {
        L::WrongState { .. }
        | L::StepFinished { .. }
        | L::StepWaiting { .. }
        | L::StepAlreadyStarted { .. }
        | L::StepNotStarted { .. }
        | L::SecondCorrection => StoreError::Conflict(e.to_string()),
        L::OtherDepartment { .. } => StoreError::invalid("department", e.to_string()),
        L::MissingMaterials { .. } | L::UnknownMaterials { .. } => StoreError::invalid("materials", e.to_string()),
        L::NoCorrectionItems | L::BadCorrectionItem { .. } => StoreError::invalid("items", e.to_string()),
        L::NoReason => StoreError::invalid("reason", e.to_string()),
        L::UnknownStep { .. } => StoreError::NotFound(e.to_string()),
    }
}

/// What a file's first bytes say it is, among the types accepted for materials.
pub fn sniff_content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn extension_matches(file_name: &str, content_type: &str) -> bool {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match content_type {
        "application/pdf" => ext == "pdf",
        "image/png" => ext == "png",
        "image/jpeg" => ext == "jpg" || ext == "jpeg",
        _ => false,
    }
}

/// A credit code of the district for a new company: registration authority 9 (market
/// regulation), type 1 (enterprise), the division code, an organisation code (GB 11714, with its
/// check digit) made from `serial`, and the GB 32100 check character.
pub fn new_credit_code(serial: u64) -> CreditCode {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let body = format!("{:08}", 80_000_000 + serial % 20_000_000);
    let sum: u32 = body.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    let check = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        d => char::from_digit(d, 10).unwrap_or('0'),
    };
    let first17 = format!("91{DIVISION_CODE}{body}{check}");
    let last = CreditCode::check_char(&first17).expect("17 characters of the code alphabet");
    CreditCode::parse(&format!("{first17}{last}")).expect("a code built with its check characters parses")
}

fn state_json(state: &AppState) -> Option<String> {
    match state {
        AppState::NotAccepted { reason } => Some(json!({ "reason": reason }).to_string()),
        AppState::CorrectionRequested { items } => Some(json!({ "items": items }).to_string()),
        AppState::Refused { step, reason } => Some(json!({ "step": step, "reason": reason }).to_string()),
        _ => None,
    }
}

fn parse_state(code: &str, detail: Option<&str>) -> AppState {
    let detail: Value = detail.and_then(|d| serde_json::from_str(d).ok()).unwrap_or(Value::Null);
    let s = |k: &str| detail.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match code {
        "draft" => AppState::Draft,
        "submitted" => AppState::Submitted,
        "accepted" => AppState::Accepted,
        "not_accepted" => AppState::NotAccepted { reason: s("reason") },
        "correction_requested" => AppState::CorrectionRequested {
            items: detail
                .get("items")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default(),
        },
        "in_progress" => AppState::InProgress,
        "done" => AppState::Done,
        "delivered" => AppState::Delivered,
        _ => AppState::Refused {
            step: s("step"),
            reason: s("reason"),
        },
    }
}

fn parse_step_state(code: &str, reason: Option<String>) -> StepState {
    match code {
        "waiting" => StepState::Waiting,
        "ready" => StepState::Ready,
        "in_progress" => StepState::InProgress,
        "done" => StepState::Done,
        _ => StepState::Refused {
            reason: reason.unwrap_or_default(),
        },
    }
}

fn step_reason(state: &StepState) -> Option<&str> {
    match state {
        StepState::Refused { reason } => Some(reason),
        _ => None,
    }
}

fn notice_json(notice: &Notice) -> (&'static str, Value) {
    match notice {
        Notice::Submitted => ("submitted", json!({})),
        Notice::Accepted => ("accepted", json!({})),
        Notice::NotAccepted { reason } => ("not_accepted", json!({ "reason": reason })),
        Notice::CorrectionRequested { items } => ("correction_requested", json!({ "items": items })),
        Notice::StepReady { step, deadline } => ("step_ready", json!({ "step": step, "deadline_ms": deadline.as_millisecond() })),
        Notice::StepStarted { step } => ("step_started", json!({ "step": step })),
        Notice::StepDone { step } => ("step_done", json!({ "step": step })),
        Notice::StepRefused { step, reason } => ("step_refused", json!({ "step": step, "reason": reason })),
        Notice::Done => ("done", json!({})),
        Notice::Delivered => ("delivered", json!({})),
    }
}

fn matter_from_row(row: &sqlx::any::AnyRow) -> Result<Matter> {
    let materials: Vec<Material> = serde_json::from_str(&row.try_get::<String, _>("materials_json")?).unwrap_or_default();
    let level: String = row.try_get("level")?;
    let channels: String = row.try_get("channels")?;
    Ok(Matter {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        department: row.try_get("department_code")?,
        legal_basis: row.try_get("legal_basis")?,
        materials,
        time_limit_days: row.try_get::<i64, _>("time_limit_days")?.try_into().unwrap_or(0),
        fee: Fen(row.try_get("fee_fen")?),
        level: Level::parse(&level).unwrap_or(Level::Counter),
        channels: channels.split(';').filter_map(Channel::parse).collect(),
    })
}

const MATTER_COLUMNS: &str = "code, name, department_code, legal_basis, materials_json, time_limit_days, fee_fen, level, channels";

impl Store {
    // -----------------------------------------------------------------------------------------
    // Catalog and bundles

    /// Inserts or replaces `matters` (already validated by `parse_matters`) in one transaction
    /// with one audit record naming the source.
    pub async fn upsert_matters(&self, actor: &Actor, matters: &[Matter], source: &str, source_sha256: &str) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let now = crate::now_ms();
        const COLS: usize = 10;
        for chunk in matters.chunks(rows_per_insert(self.backend(), COLS)) {
            let rows: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * COLS + 1, COLS))).collect();
            let sql = format!(
                "INSERT INTO matters ({MATTER_COLUMNS}, updated_at) VALUES {} ON CONFLICT (code) DO UPDATE SET name = excluded.name, department_code = excluded.department_code, legal_basis = excluded.legal_basis, materials_json = excluded.materials_json, time_limit_days = excluded.time_limit_days, fee_fen = excluded.fee_fen, level = excluded.level, channels = excluded.channels, updated_at = excluded.updated_at",
                rows.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for m in chunk {
                q = q
                    .bind(m.code.clone())
                    .bind(m.name.clone())
                    .bind(m.department.clone())
                    .bind(m.legal_basis.clone())
                    .bind(serde_json::to_string(&m.materials).unwrap_or_else(|_| "[]".into()))
                    .bind(i64::from(m.time_limit_days))
                    .bind(m.fee.0)
                    .bind(m.level.code())
                    .bind(m.channels.iter().map(|c| c.code()).collect::<Vec<_>>().join(";"))
                    .bind(now);
            }
            q.execute(&mut *tx).await.map_err(|e| match &e {
                sqlx::Error::Database(d) if d.message().to_lowercase().contains("foreign") => {
                    StoreError::invalid("department", "a matter names a department that does not exist")
                }
                _ => StoreError::Database(e),
            })?;
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.catalog.import",
            "matters",
            None,
            Some(&json!({ "source": source, "sha256": source_sha256, "rows": matters.len() })),
        )
        .await?;
        tx.commit().await?;
        Ok(matters.len())
    }

    /// Imports a catalog file (CSV or XLSX), all or nothing, with every row error.
    pub async fn import_matters_file(&self, actor: &Actor, file_name: &str, bytes: &[u8]) -> Result<usize, crate::economy::ImportFailure> {
        let format = dadong_services::catalog::detect_format(file_name, bytes);
        let departments = self.departments().await?;
        let codes: Vec<&str> = departments.iter().map(|d| d.code.as_str()).collect();
        let matters = dadong_services::parse_matters(bytes, format, &codes).map_err(crate::economy::ImportFailure::Rows)?;
        Ok(self.upsert_matters(actor, &matters, file_name, &sha256_hex(bytes)).await?)
    }

    pub async fn matters(&self) -> Result<Vec<Matter>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MATTER_COLUMNS} FROM matters ORDER BY department_code, code"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(matter_from_row).collect()
    }

    pub async fn matter(&self, code: &str) -> Result<Option<Matter>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MATTER_COLUMNS} FROM matters WHERE code = $1")))
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(matter_from_row).transpose()
    }

    async fn matters_by_codes(&self, conn: &mut AnyConnection, codes: &[String]) -> Result<Vec<Matter>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {MATTER_COLUMNS} FROM matters WHERE code IN ({})", placeholders(1, codes.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in codes {
            q = q.bind(c.clone());
        }
        q.fetch_all(&mut *conn).await?.iter().map(matter_from_row).collect()
    }

    /// Validates `def` against the catalog and saves it (a new bundle, or a new version of one),
    /// with the matters it composes. Every problem of the definition is reported at once.
    pub async fn save_bundle(&self, actor: &Actor, def: &BundleDef) -> Result<ValidBundle> {
        let mut tx = self.begin_write().await?;
        let codes: Vec<String> = def.steps.iter().map(|s| s.matter.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let catalog = self.matters_by_codes(&mut tx, &codes).await?;
        let valid = def
            .validate(&catalog)
            .map_err(|errors| StoreError::invalid("definition", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
        let before: Option<String> = sqlx::query_scalar("SELECT definition_json FROM bundles WHERE id = $1")
            .bind(&def.id)
            .fetch_optional(&mut *tx)
            .await?;
        let now = crate::now_ms();
        sqlx::query(
            "INSERT INTO bundles (id, name, definition_json, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET name = excluded.name, definition_json = excluded.definition_json, updated_at = excluded.updated_at",
        )
        .bind(&def.id)
        .bind(&def.name)
        .bind(def.to_json())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM bundle_matters WHERE bundle_id = $1")
            .bind(&def.id)
            .execute(&mut *tx)
            .await?;
        for code in &codes {
            sqlx::query("INSERT INTO bundle_matters (bundle_id, matter_code) VALUES ($1, $2)")
                .bind(&def.id)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            if before.is_some() {
                "services.bundle.update"
            } else {
                "services.bundle.create"
            },
            &format!("bundle:{}", def.id),
            before.as_deref().and_then(|b| serde_json::from_str(b).ok()).as_ref(),
            serde_json::from_str::<Value>(&def.to_json()).ok().as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(valid)
    }

    /// Every bundle: id, name and number of steps.
    pub async fn bundles(&self) -> Result<Vec<BundleDef>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT definition_json FROM bundles ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().filter_map(|j| BundleDef::from_json(j).ok()).collect())
    }

    /// A bundle, validated against the catalog as it is now.
    pub async fn bundle(&self, id: &str) -> Result<Option<ValidBundle>> {
        let mut conn = self.pool().acquire().await?;
        self.bundle_on(&mut conn, id).await
    }

    async fn bundle_on(&self, conn: &mut AnyConnection, id: &str) -> Result<Option<ValidBundle>> {
        let json: Option<String> = sqlx::query_scalar("SELECT definition_json FROM bundles WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(json) = json else { return Ok(None) };
        let def = BundleDef::from_json(&json).map_err(|e| StoreError::Config(format!("stored bundle {id}: {e}")))?;
        let codes: Vec<String> = def.steps.iter().map(|s| s.matter.clone()).collect();
        let catalog = self.matters_by_codes(conn, &codes).await?;
        def.validate(&catalog).map(Some).map_err(|e| {
            StoreError::Config(format!(
                "stored bundle {id} no longer validates: {}",
                e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ))
        })
    }

    // -----------------------------------------------------------------------------------------
    // Applications

    /// Starts a draft application for a bundle (`kind` = "bundle") or a single matter
    /// (`kind` = "matter") with the combined form's values, checked field by field. Personal
    /// fields (ID numbers, phones) are stored encrypted.
    #[allow(clippy::too_many_arguments)] // who, for whom, what, with which values, when
    pub async fn create_application(
        &self,
        actor: &Actor,
        applicant_id: i64,
        company_code: Option<&str>,
        kind: &str,
        subject: &str,
        form: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let (app, stored_form, promised_days) = match kind {
            "bundle" => {
                let bundle = self
                    .bundle_on(&mut tx, subject)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("bundle '{subject}'")))?;
                if let Err(errors) = bundle.fill_form(form) {
                    let first = &errors[0];
                    return Err(StoreError::invalid(
                        first.field.clone(),
                        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "),
                    ));
                }
                let mut stored = BTreeMap::new();
                for field in &bundle.def().form {
                    let Some(value) = form.get(&field.id).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
                        continue;
                    };
                    let value = field.kind.normalize(value).map_err(|reason| StoreError::invalid(field.id.clone(), reason))?;
                    let value = match field.kind {
                        FieldKind::IdNumber | FieldKind::Phone => self.pii().encrypt(&value),
                        _ => value,
                    };
                    stored.insert(field.id.clone(), value);
                }
                (Application::draft(&bundle), stored, bundle.critical_path_days())
            }
            "matter" => {
                let matter = self.matter(subject).await?.ok_or_else(|| StoreError::NotFound(format!("matter '{subject}'")))?;
                let days = matter.time_limit_days;
                (Application::draft_single(&matter), BTreeMap::new(), days)
            }
            _ => return Err(StoreError::invalid("kind", "is 'bundle' or 'matter'")),
        };
        let at = ms(now);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO applications (subject, kind, applicant_id, company_code, state, form_json, materials_json, provided_json, promised_days, created_at, updated_at) VALUES ($1, $2, $3, $4, 'draft', $5, $6, '[]', $7, $8, $8) RETURNING id",
        )
        .bind(subject)
        .bind(kind)
        .bind(applicant_id)
        .bind(company_code)
        .bind(serde_json::to_string(&stored_form).unwrap_or_default())
        .bind(serde_json::to_string(&app.materials).unwrap_or_default())
        .bind(i64::from(promised_days))
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for (position, step) in app.steps.iter().enumerate() {
            sqlx::query(
                "INSERT INTO application_steps (application_id, step_id, position, matter_code, department_code, needs_json, time_limit_days, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting')",
            )
            .bind(id)
            .bind(&step.id)
            .bind(position as i64)
            .bind(&step.matter)
            .bind(&step.department)
            .bind(serde_json::to_string(&step.needs).unwrap_or_default())
            .bind(i64::from(step.time_limit_days))
            .execute(&mut *tx)
            .await?;
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.application.create",
            &format!("application:{id}"),
            None,
            Some(&json!({ "kind": kind, "subject": subject, "applicant_id": applicant_id, "steps": app.steps.len() })),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Adds a material to a draft (or an application sent back for correction) of `applicant_id`.
    /// The file's type is read from its first bytes, not trusted from its name.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_material(
        &self,
        actor: &Actor,
        application_id: i64,
        applicant_id: i64,
        material_code: &str,
        file_name: &str,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<i64> {
        let file_name = text_ok("file", file_name)?;
        if file_name.is_empty() || file_name.chars().count() > 200 {
            return Err(StoreError::invalid("file", "needs a name of at most 200 characters"));
        }
        if bytes.is_empty() {
            return Err(StoreError::invalid("file", "is empty"));
        }
        if bytes.len() > UPLOAD_BYTES_MAX {
            return Err(StoreError::invalid(
                "file",
                format!(
                    "is {:.1} MB; the limit is {} MB",
                    bytes.len() as f64 / 1_048_576.0,
                    UPLOAD_BYTES_MAX / 1_048_576
                ),
            ));
        }
        let content_type = sniff_content_type(bytes).ok_or_else(|| StoreError::invalid("file", "is not a PDF, PNG or JPEG file"))?;
        if !extension_matches(&file_name, content_type) {
            return Err(StoreError::invalid(
                "file",
                format!("is a {content_type} file but its name '{file_name}' says otherwise"),
            ));
        }
        let mut tx = self.begin_write().await?;
        let stored = self.load_application(&mut tx, application_id, true).await?;
        if stored.applicant_id != applicant_id {
            return Err(StoreError::NotFound(format!("application {application_id}")));
        }
        if !matches!(stored.app.state, AppState::Draft | AppState::CorrectionRequested { .. }) {
            return Err(StoreError::Conflict(format!(
                "materials can be added only to a draft or an application sent back for correction; this one is {}",
                stored.app.state.code()
            )));
        }
        if !stored.app.materials.iter().any(|m| m.code == material_code) {
            return Err(StoreError::invalid(
                "material",
                format!("this application does not ask for material '{material_code}'"),
            ));
        }
        let sha = sha256_hex(bytes);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO uploads (application_id, material_code, file_name, content_type, size_bytes, sha256, content, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(application_id)
        .bind(material_code)
        .bind(&file_name)
        .bind(content_type)
        .bind(bytes.len() as i64)
        .bind(&sha)
        .bind(bytes.to_vec())
        .bind(applicant_id)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.application.upload",
            &format!("application:{application_id}"),
            None,
            Some(&json!({ "upload": id, "material": material_code, "file": file_name, "bytes": bytes.len(), "sha256": sha })),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn uploads(&self, application_id: i64) -> Result<Vec<UploadInfo>> {
        let rows = sqlx::query(
            "SELECT id, material_code, file_name, content_type, size_bytes, sha256, uploaded_at FROM uploads WHERE application_id = $1 ORDER BY id",
        )
        .bind(application_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(UploadInfo {
                    id: r.try_get("id")?,
                    material_code: r.try_get("material_code")?,
                    file_name: r.try_get("file_name")?,
                    content_type: r.try_get("content_type")?,
                    size_bytes: r.try_get("size_bytes")?,
                    sha256: r.try_get("sha256")?,
                    uploaded_at_ms: r.try_get("uploaded_at")?,
                })
            })
            .collect()
    }

    /// An upload's name, type and bytes.
    pub async fn upload_content(&self, application_id: i64, upload_id: i64) -> Result<Option<(String, String, Vec<u8>)>> {
        let row = sqlx::query("SELECT file_name, content_type, content FROM uploads WHERE application_id = $1 AND id = $2")
            .bind(application_id)
            .bind(upload_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("file_name")?, r.try_get("content_type")?, r.try_get("content")?)))
            .transpose()
    }

    /// Loads an application; `lock` takes its row lock on PostgreSQL (SQLite's write
    /// transaction already excludes other writers).
    async fn load_application(&self, conn: &mut AnyConnection, id: i64, lock: bool) -> Result<StoredApplication> {
        self.load_applications(conn, &[id], lock)
            .await?
            .remove(&id)
            .ok_or_else(|| StoreError::NotFound(format!("application {id}")))
    }

    /// Reads applications with their steps and certificates by id, with three statements
    /// whatever their number (the ids travel as one JSON parameter). With `lock`, PostgreSQL
    /// locks the rows in id order, so that two writers never wait on each other crosswise.
    /// Ids that do not exist are absent from the answer.
    async fn load_applications(&self, conn: &mut AnyConnection, ids: &[i64], lock: bool) -> Result<BTreeMap<i64, StoredApplication>> {
        let ids_json = serde_json::to_string(ids).unwrap_or_default();
        let id_set = ids_from_json(self.backend(), 1);
        let lock_clause = if lock && self.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, subject, kind, applicant_id, company_code, state, state_json, form_json, materials_json, provided_json, correction_requested, promised_days, created_at, submitted_at, accepted_at, completed_at, delivered_at, updated_at FROM applications WHERE id IN ({id_set}) ORDER BY id{lock_clause}"
        )))
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await?;
        let step_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT application_id, step_id, matter_code, department_code, needs_json, time_limit_days, state, reason, ready_at, deadline_at, started_at, finished_at FROM application_steps WHERE application_id IN ({id_set}) ORDER BY application_id, position"
        )))
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await?;
        let mut steps: BTreeMap<i64, Vec<Step>> = BTreeMap::new();
        for r in &step_rows {
            steps.entry(r.try_get("application_id")?).or_default().push(Step {
                id: r.try_get("step_id")?,
                matter: r.try_get("matter_code")?,
                department: r.try_get("department_code")?,
                needs: serde_json::from_str(&r.try_get::<String, _>("needs_json")?).unwrap_or_default(),
                time_limit_days: r.try_get::<i64, _>("time_limit_days")?.try_into().unwrap_or(0),
                state: parse_step_state(&r.try_get::<String, _>("state")?, r.try_get("reason")?),
                ready_at: opt_ts(r.try_get("ready_at")?),
                deadline: opt_ts(r.try_get("deadline_at")?),
                started_at: opt_ts(r.try_get("started_at")?),
                finished_at: opt_ts(r.try_get("finished_at")?),
            });
        }
        let mut certificates: BTreeMap<i64, String> = BTreeMap::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT application_id, id FROM certificates WHERE application_id IN ({id_set})"
        )))
        .bind(&ids_json)
        .fetch_all(&mut *conn)
        .await?
        {
            certificates.insert(r.try_get(0)?, r.try_get(1)?);
        }
        let mut out = BTreeMap::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let state_code: String = row.try_get("state")?;
            let state_detail: Option<String> = row.try_get("state_json")?;
            let form: BTreeMap<String, String> = serde_json::from_str(&row.try_get::<String, _>("form_json")?).unwrap_or_default();
            let app = Application {
                bundle: row.try_get("subject")?,
                state: parse_state(&state_code, state_detail.as_deref()),
                steps: steps.remove(&id).unwrap_or_default(),
                materials: serde_json::from_str(&row.try_get::<String, _>("materials_json")?).unwrap_or_default(),
                provided: serde_json::from_str(&row.try_get::<String, _>("provided_json")?).unwrap_or_default(),
                correction_requested: row.try_get::<i64, _>("correction_requested")? == 1,
                submitted_at: opt_ts(row.try_get("submitted_at")?),
                accepted_at: opt_ts(row.try_get("accepted_at")?),
                completed_at: opt_ts(row.try_get("completed_at")?),
                delivered_at: opt_ts(row.try_get("delivered_at")?),
            };
            let form_masked = form
                .iter()
                .map(|(k, v)| {
                    let shown = if v.starts_with("aes256gcm:") {
                        match self.pii().decrypt(v) {
                            Ok(clear) if clear.len() == 11 => dadong_domain::crypto::mask_phone(&clear),
                            Ok(clear) => dadong_domain::crypto::mask_middle(&clear, 4, 4),
                            Err(_) => "****".to_string(),
                        }
                    } else {
                        v.clone()
                    };
                    (k.clone(), shown)
                })
                .collect();
            out.insert(
                id,
                StoredApplication {
                    id,
                    subject: row.try_get("subject")?,
                    kind: row.try_get("kind")?,
                    applicant_id: row.try_get("applicant_id")?,
                    company_code: row.try_get("company_code")?,
                    state: state_code,
                    app,
                    form_masked,
                    promised_days: row.try_get::<i64, _>("promised_days")?.try_into().unwrap_or(0),
                    created_at_ms: row.try_get("created_at")?,
                    updated_at_ms: row.try_get("updated_at")?,
                    certificate_id: certificates.remove(&id),
                },
            );
        }
        Ok(out)
    }

    pub async fn application(&self, id: i64) -> Result<Option<StoredApplication>> {
        let mut conn = self.pool().acquire().await?;
        match self.load_application(&mut conn, id, false).await {
            Ok(a) => Ok(Some(a)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `applicant_id`'s applications, newest first: (id, subject, state, updated).
    pub async fn applications_of(&self, applicant_id: i64, limit: i64) -> Result<Vec<(i64, String, String, i64)>> {
        let rows = sqlx::query("SELECT id, subject, state, updated_at FROM applications WHERE applicant_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(applicant_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("subject")?, r.try_get("state")?, r.try_get("updated_at")?)))
            .collect()
    }

    /// Carries out `act` by `acting` at `now`: checks who may do it, applies the lifecycle, and
    /// writes the result, its notifications and its audit record together. Completing a step
    /// that produces the business licence issues the e-licence, its QR code pointing under
    /// `public_url`.
    #[allow(clippy::too_many_arguments)]
    pub async fn act_on_application(
        &self,
        actor: &Actor,
        acting: &Acting,
        application_id: i64,
        act: Act,
        now: Timestamp,
        calendar: &WorkCalendar,
        public_url: &str,
    ) -> Result<StoredApplication> {
        let request = ActRequest {
            actor: actor.clone(),
            acting: acting.clone(),
            application_id,
            act,
            now,
            public_url: public_url.to_string(),
        };
        self.act_on_applications(vec![request], calendar).await.pop().expect("one answer per request")
    }

    /// Like [`Store::act_on_application`] on the national calendar, but queued: one writer task
    /// per store commits the acts waiting at the same moment together (group commit), each
    /// under its own savepoint, and answers each once its transaction is durable. Under load
    /// this turns one disk flush per act into one per group.
    pub async fn act_grouped(&self, request: ActRequest) -> Result<StoredApplication> {
        self.services_writer
            .submit(self, "services", 0, request, |store, requests| async move {
                store.act_on_applications(requests, WorkCalendar::national()).await
            })
            .await?
    }

    /// Carries out several acts in one transaction (group commit: one durable write for all of
    /// them). The answers are in the order of the requests, and a refused act changes nothing.
    ///
    /// The group is set-based: its applications are read (and on PostgreSQL locked) together,
    /// each act is decided in memory in arrival order by `lifecycle::apply` (two acts on one
    /// application follow each other), and the group's changes are written with a handful of
    /// statements whatever its size. Should the database refuse the group (a constraint, a lost
    /// connection), it is rolled back and carried out again one act at a time, each under its
    /// own savepoint, so that one act's failure does not fail the others.
    pub async fn act_on_applications(&self, requests: Vec<ActRequest>, calendar: &WorkCalendar) -> Vec<Result<StoredApplication>> {
        let fail_all = |e: StoreError, n: usize| (0..n).map(|_| Err(StoreError::Conflict(format!("not carried out: {e}")))).collect::<Vec<_>>();
        // The key is read (or made, in its own transaction) before this one takes the write lock.
        let key = if requests.iter().any(|r| matches!(r.act, Act::CompleteStep { .. })) {
            match self.certificate_key().await {
                Ok(k) => Some(k),
                Err(e) => return fail_all(e, requests.len()),
            }
        } else {
            None
        };
        let grouped = async {
            let mut tx = self.begin_write().await?;
            let outcomes = self.act_group(&mut tx, key.as_ref(), &requests, calendar).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(outcomes)
        };
        match grouped.await {
            Ok(outcomes) => return outcomes,
            Err(e) if requests.len() > 1 => {
                tracing::warn!(error = %e, acts = requests.len(), "group of acts refused by the database; carrying them out one by one")
            }
            Err(e) => return vec![Err(e)],
        }
        let mut tx = match self.begin_write().await {
            Ok(tx) => tx,
            Err(e) => return fail_all(e, requests.len()),
        };
        let mut outcomes: Vec<Result<StoredApplication>> = Vec::with_capacity(requests.len());
        for r in &requests {
            let one = async {
                sqlx::query("SAVEPOINT act").execute(&mut *tx).await?;
                let result = match self.act_group(&mut tx, key.as_ref(), std::slice::from_ref(r), calendar).await {
                    Ok(mut answers) => answers.pop().unwrap_or_else(|| Err(StoreError::Conflict("no answer".into()))),
                    Err(e) => Err(e),
                };
                if result.is_err() {
                    sqlx::query("ROLLBACK TO SAVEPOINT act").execute(&mut *tx).await?;
                }
                sqlx::query("RELEASE SAVEPOINT act").execute(&mut *tx).await?;
                result
            };
            outcomes.push(one.await);
        }
        if let Err(e) = tx.commit().await {
            return fail_all(StoreError::from(e), requests.len());
        }
        outcomes
    }

    /// Decides `requests` in order against their applications and writes the outcome inside
    /// `tx`. The outer error is the database's (the caller rolls back); the inner ones are the
    /// refused acts, which wrote nothing.
    async fn act_group(
        &self,
        tx: &mut AnyConnection,
        key: Option<&CertificateKey>,
        requests: &[ActRequest],
        calendar: &WorkCalendar,
    ) -> Result<Vec<Result<StoredApplication>>> {
        let mut ids: Vec<i64> = requests.iter().map(|r| r.application_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut apps = self.load_applications(tx, &ids, true).await?;
        let before: BTreeMap<i64, Vec<Step>> = apps.iter().map(|(id, a)| (*id, a.app.steps.clone())).collect();
        let mut submitting: Vec<i64> = requests
            .iter()
            .filter(|r| r.act == Act::Submit && apps.contains_key(&r.application_id))
            .map(|r| r.application_id)
            .collect();
        submitting.dedup();
        let mut uploaded: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        if !submitting.is_empty() {
            let sql = format!(
                "SELECT DISTINCT application_id, material_code FROM uploads WHERE application_id IN ({})",
                ids_from_json(self.backend(), 1)
            );
            for r in sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(serde_json::to_string(&submitting).unwrap_or_default())
                .fetch_all(&mut *tx)
                .await?
            {
                uploaded.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?);
            }
        }
        let none = BTreeSet::new();
        let mut notices: Vec<Value> = Vec::new();
        let mut records: Vec<audit::NewRecord> = Vec::new();
        let mut clerks: BTreeMap<(i64, String), i64> = BTreeMap::new();
        let mut touched: BTreeSet<i64> = BTreeSet::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            let id = request.application_id;
            let Some(stored) = apps.get(&id) else {
                outcomes.push(Err(StoreError::NotFound(format!("application {id}"))));
                continue;
            };
            let transition = event_for(stored, request, uploaded.get(&id).unwrap_or(&none))
                .and_then(|event| lifecycle::apply(&stored.app, event, request.now, calendar).map_err(lifecycle_error));
            let transition = match transition {
                Ok(t) => t,
                Err(e) => {
                    outcomes.push(Err(e));
                    continue;
                }
            };
            let at = ms(request.now);
            // The licence, when this completes the step that produces it.
            let mut issued: Option<String> = None;
            if let Act::CompleteStep { step } = &request.act
                && stored.kind == "bundle"
            {
                let bundle = self.bundle_on(&mut *tx, &stored.subject).await?;
                let produces = bundle
                    .as_ref()
                    .and_then(|b| {
                        b.steps()
                            .iter()
                            .find(|s| &s.id == step)
                            .map(|s| s.produces.iter().any(|p| p == LICENCE_MATERIAL))
                    })
                    .unwrap_or(false);
                if produces && let (Some(bundle), Some(key)) = (bundle, key) {
                    let (certificate, record) = self
                        .issue_licence(tx, &request.actor, key, stored, &bundle, step, request.now, &request.public_url)
                        .await?;
                    records.push(record);
                    issued = Some(certificate);
                }
            }
            let next = &transition.application;
            if let Acting::Clerk { user_id, .. } = &request.acting {
                for (old, new) in stored.app.steps.iter().zip(&next.steps) {
                    if old.started_at != new.started_at || old.finished_at != new.finished_at {
                        clerks.insert((id, new.id.clone()), *user_id);
                    }
                }
            }
            for effect in &transition.effects {
                if let Effect::Notify { to, notice } = effect {
                    let (user, department) = match to {
                        Recipient::Applicant => (Some(stored.applicant_id), None),
                        Recipient::Hall => (None, Some(HALL_DEPARTMENT.to_string())),
                        Recipient::Department(d) => (None, Some(d.clone())),
                    };
                    let (kind, body) = notice_json(notice);
                    notices.push(json!({"user_id": user, "department_code": department, "kind": kind, "body_json": body.to_string(), "application_id": id, "created_at": at}));
                }
            }
            let step = match &request.act {
                Act::StartStep { step } | Act::CompleteStep { step } | Act::RefuseStep { step, .. } => Some(step.clone()),
                _ => None,
            };
            records.push(audit::NewRecord {
                actor: request.actor.clone(),
                action: format!("services.application.{}", request.act.name()),
                object: format!("application:{id}"),
                before: Some(json!({ "state": stored.app.state.code() })),
                after: Some(json!({ "state": next.state.code(), "step": step, "certificate": issued, "detail": state_json(&next.state) })),
            });
            let stored = apps.get_mut(&id).expect("read above");
            stored.state = transition.application.state.code().to_string();
            stored.app = transition.application;
            stored.updated_at_ms = at;
            stored.certificate_id = stored.certificate_id.take().or(issued);
            touched.insert(id);
            outcomes.push(Ok(stored.clone()));
        }
        self.write_acted(tx, &apps, &before, &touched, &clerks, &notices).await?;
        audit::append_many(&mut *tx, self.backend(), &records).await?;
        Ok(outcomes)
    }

    /// Writes the acted applications' new state and changed steps, and the group's notices:
    /// one statement each, the rows passed as one JSON parameter.
    async fn write_acted(
        &self,
        tx: &mut AnyConnection,
        apps: &BTreeMap<i64, StoredApplication>,
        before: &BTreeMap<i64, Vec<Step>>,
        touched: &BTreeSet<i64>,
        clerks: &BTreeMap<(i64, String), i64>,
        notices: &[Value],
    ) -> Result<()> {
        if touched.is_empty() {
            return Ok(());
        }
        let mut app_rows = Vec::with_capacity(touched.len());
        let mut step_rows = Vec::new();
        for id in touched {
            let a = &apps[id];
            let next = &a.app;
            app_rows.push(json!({
                "id": id, "state": next.state.code(), "state_json": state_json(&next.state),
                "provided_json": serde_json::to_string(&next.provided).unwrap_or_default(),
                "correction_requested": i64::from(next.correction_requested),
                "submitted_at": next.submitted_at.map(ms), "accepted_at": next.accepted_at.map(ms),
                "completed_at": next.completed_at.map(ms), "delivered_at": next.delivered_at.map(ms),
                "updated_at": a.updated_at_ms,
            }));
            for (old, new) in before[id].iter().zip(&next.steps) {
                if old == new {
                    continue;
                }
                step_rows.push(json!({
                    "application_id": id, "step_id": new.id, "state": new.state.code(), "reason": step_reason(&new.state),
                    "ready_at": new.ready_at.map(ms), "deadline_at": new.deadline.map(ms),
                    "started_at": new.started_at.map(ms), "finished_at": new.finished_at.map(ms),
                    "clerk": clerks.get(&(*id, new.id.clone())),
                }));
            }
        }
        static APPS_SQL: PerBackend = PerBackend::new();
        static STEPS_SQL: PerBackend = PerBackend::new();
        static NOTICES_SQL: PerBackend = PerBackend::new();
        let apps_sql = APPS_SQL.get(self.backend(), |b| {
            format!(
                "UPDATE applications SET state = t.state, state_json = t.state_json, provided_json = t.provided_json, correction_requested = t.correction_requested, \
                 submitted_at = t.submitted_at, accepted_at = t.accepted_at, completed_at = t.completed_at, delivered_at = t.delivered_at, updated_at = t.updated_at \
                 FROM {} WHERE applications.id = t.id",
                json_rows(b, 1, APPLICATION_ROW_COLUMNS)
            )
        });
        let steps_sql = STEPS_SQL.get(self.backend(), |b| {
            format!(
                "UPDATE application_steps SET state = t.state, reason = t.reason, ready_at = t.ready_at, deadline_at = t.deadline_at, started_at = t.started_at, \
                 finished_at = t.finished_at, clerk_id = COALESCE(t.clerk, application_steps.clerk_id) \
                 FROM {} WHERE application_steps.application_id = t.application_id AND application_steps.step_id = t.step_id",
                json_rows(b, 1, STEP_ROW_COLUMNS)
            )
        });
        let notices_sql = NOTICES_SQL.get(self.backend(), |b| {
            format!(
                "INSERT INTO notifications (user_id, department_code, channel, kind, body_json, application_id, created_at, sent_at) \
                 SELECT t.user_id, t.department_code, 'in_app', t.kind, t.body_json, t.application_id, t.created_at, t.created_at FROM {}",
                json_rows(b, 1, NOTICE_ROW_COLUMNS)
            )
        });
        let updated = sqlx::query(AssertSqlSafe(apps_sql))
            .bind(Value::Array(app_rows).to_string())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() != touched.len() as u64 {
            return Err(StoreError::Conflict(format!(
                "{} of {} applications were written",
                updated.rows_affected(),
                touched.len()
            )));
        }
        if !step_rows.is_empty() {
            sqlx::query(AssertSqlSafe(steps_sql))
                .bind(Value::Array(step_rows).to_string())
                .execute(&mut *tx)
                .await?;
        }
        if !notices.is_empty() {
            sqlx::query(AssertSqlSafe(notices_sql))
                .bind(Value::Array(notices.to_vec()).to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// The platform's certificate key, created on first use and kept in the settings table,
    /// encrypted with the personal-data key, so that every server of one database signs alike.
    pub async fn certificate_key(&self) -> Result<CertificateKey> {
        if let Some(stored) = self.setting(SETTING_CERT_KEY).await? {
            let secret = self.pii().decrypt(&stored).map_err(|e| StoreError::Config(format!("certificate key: {e}")))?;
            return CertificateKey::from_secret_base64(&secret).map_err(StoreError::Config);
        }
        let key = CertificateKey::generate();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(SETTING_CERT_KEY)
            .bind(self.pii().encrypt(&key.secret_base64()))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 1 {
            sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                .bind(SETTING_CERT_PUBLIC)
                .bind(key.public_base64())
                .execute(&mut *tx)
                .await?;
            audit::append(
                &mut tx,
                self.backend(),
                &Actor::System,
                "services.certificate_key.create",
                "settings:certificate_public_key",
                None,
                Some(&json!({ "public_key": key.public_base64() })),
            )
            .await?;
        }
        tx.commit().await?;
        if inserted == 1 {
            return Ok(key);
        }
        // Another server created it first.
        Box::pin(self.certificate_key()).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue_licence(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        key: &CertificateKey,
        stored: &StoredApplication,
        bundle: &ValidBundle,
        step: &str,
        now: Timestamp,
        public_url: &str,
    ) -> Result<(String, audit::NewRecord)> {
        let matter = bundle.steps().iter().find(|s| s.id == step).map(|s| s.matter.clone()).unwrap_or_default();
        let mut form: BTreeMap<String, String> = serde_json::from_str(
            &sqlx::query_scalar::<_, String>("SELECT form_json FROM applications WHERE id = $1")
                .bind(stored.id)
                .fetch_one(&mut *conn)
                .await?,
        )
        .unwrap_or_default();
        for value in form.values_mut() {
            if value.starts_with("aes256gcm:") {
                *value = self.pii().decrypt(value).map_err(|e| StoreError::Config(format!("form: {e}")))?;
            }
        }
        let filled = bundle
            .fill_form(&form)
            .map_err(|e| StoreError::invalid("form", e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
        let fields = filled.get(&matter).cloned().unwrap_or_default();
        let field = |name: &str| -> Result<String> {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| StoreError::invalid("form", format!("the licence cannot be issued: the form fills no '{name}' of matter '{matter}'")))
        };
        let capital = field("registered_capital")?;
        let capital = Fen::parse_yuan(&capital)
            .map(|f| {
                let wan = dadong_domain::money::format_scaled(i128::from(f.0), Unit::Wan.fen(), 2);
                let wan = if wan.contains('.') {
                    wan.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    wan
                };
                format!("{wan}万元人民币")
            })
            .unwrap_or(capital);
        let code = {
            let mut serial = stored.id as u64;
            loop {
                let code = new_credit_code(serial);
                let taken: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COUNT(*) FROM certificates WHERE credit_code = $1) + (SELECT COUNT(*) FROM market_entities WHERE credit_code = $1)",
                )
                .bind(code.as_str())
                .fetch_one(&mut *conn)
                .await?;
                if taken == 0 {
                    break code;
                }
                serial += 1_000_003;
            }
        };
        let date = lifecycle::local_date(now);
        let id = format!("LIC{}{:08}", date.strftime("%Y%m%d"), stored.id);
        let licence = Licence {
            id: id.clone(),
            credit_code: code.as_str().to_string(),
            name: field("company_name")?,
            company_type: fields.get("company_type").cloned().unwrap_or_else(|| "有限责任公司".to_string()),
            legal_representative: field("legal_rep_name")?,
            registered_capital: capital,
            address: field("address")?,
            business_scope: field("business_scope")?,
            established: date,
            authority: LICENCE_AUTHORITY.to_string(),
        };
        let url = format!("{}/verify/{id}", public_url.trim_end_matches('/'));
        let pdf = key.issue(&licence, &url).map_err(|e| StoreError::invalid("licence", e))?;
        let sha = sha256_hex(&pdf);
        sqlx::query(
            "INSERT INTO certificates (id, application_id, kind, credit_code, company_name, licence_json, file_sha256, pdf, issued_at) VALUES ($1, $2, 'business_licence', $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(stored.id)
        .bind(&licence.credit_code)
        .bind(&licence.name)
        .bind(serde_json::to_string(&licence).unwrap_or_default())
        .bind(&sha)
        .bind(pdf)
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE applications SET company_code = COALESCE(company_code, $1) WHERE id = $2")
            .bind(&licence.credit_code)
            .bind(stored.id)
            .execute(&mut *conn)
            .await?;
        let record = audit::NewRecord {
            actor: actor.clone(),
            action: "services.certificate.issue".into(),
            object: format!("certificate:{id}"),
            before: None,
            after: Some(json!({ "application": stored.id, "credit_code": licence.credit_code, "name": licence.name, "sha256": sha })),
        };
        Ok((id, record))
    }

    async fn certificate_info_from(&self, row: &sqlx::any::AnyRow) -> Result<CertificateInfo> {
        Ok(CertificateInfo {
            id: row.try_get("id")?,
            application_id: row.try_get("application_id")?,
            kind: row.try_get("kind")?,
            credit_code: row.try_get("credit_code")?,
            company_name: row.try_get("company_name")?,
            licence: serde_json::from_str(&row.try_get::<String, _>("licence_json")?).map_err(|e| StoreError::Config(format!("licence: {e}")))?,
            file_sha256: row.try_get("file_sha256")?,
            issued_at_ms: row.try_get("issued_at")?,
        })
    }

    pub async fn certificate(&self, id: &str) -> Result<Option<CertificateInfo>> {
        let row =
            sqlx::query("SELECT id, application_id, kind, credit_code, company_name, licence_json, file_sha256, issued_at FROM certificates WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        match row {
            Some(r) => Ok(Some(self.certificate_info_from(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn certificate_pdf(&self, id: &str) -> Result<Option<(i64, Vec<u8>)>> {
        let row = sqlx::query("SELECT application_id, pdf FROM certificates WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("application_id")?, r.try_get("pdf")?))).transpose()
    }

    /// Checks a certificate file: the platform's signature over every byte, then the registry
    /// (issued here, and this very file).
    pub async fn verify_certificate_file(&self, file: &[u8]) -> Result<VerifyOutcome> {
        let public = match self.setting(SETTING_CERT_PUBLIC).await? {
            Some(p) => certificate::verifying_key_from_base64(&p).map_err(StoreError::Config)?,
            None => {
                return Ok(VerifyOutcome {
                    genuine: false,
                    reason: Some("this platform has not issued any certificate".into()),
                    certificate: None,
                });
            }
        };
        let verified = match certificate::verify(file, &public) {
            Ok(v) => v,
            Err(e) => {
                return Ok(VerifyOutcome {
                    genuine: false,
                    reason: Some(e.to_string()),
                    certificate: None,
                });
            }
        };
        let Some(info) = self.certificate(&verified.id).await? else {
            return Ok(VerifyOutcome {
                genuine: false,
                reason: Some(format!("no certificate '{}' was issued here", verified.id)),
                certificate: None,
            });
        };
        if info.file_sha256 != verified.file_sha256 {
            return Ok(VerifyOutcome {
                genuine: false,
                reason: Some("the signature is valid but the file is not the one issued under this id".into()),
                certificate: Some(info),
            });
        }
        Ok(VerifyOutcome {
            genuine: true,
            reason: None,
            certificate: Some(info),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Queues, escalation, notifications

    /// `department`'s ready and running steps, earliest deadline first.
    pub async fn department_queue(&self, department: &str, limit: i64, offset: i64) -> Result<Vec<QueueItem>> {
        let rows = sqlx::query(
            "SELECT s.application_id, s.step_id, s.matter_code, m.name AS matter_name, a.subject, s.state, s.ready_at, s.deadline_at, s.escalated_at
             FROM application_steps s JOIN applications a ON a.id = s.application_id LEFT JOIN matters m ON m.code = s.matter_code
             WHERE s.department_code = $1 AND s.state IN ('ready', 'in_progress')
             ORDER BY s.deadline_at, s.application_id LIMIT $2 OFFSET $3",
        )
        .bind(department)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueItem {
                    application_id: r.try_get("application_id")?,
                    step_id: r.try_get("step_id")?,
                    matter_code: r.try_get("matter_code")?,
                    matter_name: r.try_get::<Option<String>, _>("matter_name")?.unwrap_or_default(),
                    subject: r.try_get("subject")?,
                    state: r.try_get("state")?,
                    ready_at_ms: r.try_get("ready_at")?,
                    deadline_ms: r.try_get("deadline_at")?,
                    escalated: r.try_get::<Option<i64>, _>("escalated_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Submitted applications waiting for the hall, oldest first.
    pub async fn hall_queue(&self, limit: i64) -> Result<Vec<HallItem>> {
        let rows = sqlx::query(
            "SELECT a.id, a.subject, u.display_name, a.submitted_at FROM applications a JOIN users u ON u.id = a.applicant_id
             WHERE a.state = 'submitted' ORDER BY a.submitted_at, a.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HallItem {
                    application_id: r.try_get("id")?,
                    subject: r.try_get("subject")?,
                    applicant: r.try_get("display_name")?,
                    submitted_at_ms: r.try_get::<Option<i64>, _>("submitted_at")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Marks every running step past its deadline at `now` as escalated, once, and tells its
    /// department's head through the department's inbox. Returns how many were escalated.
    pub async fn escalate_overdue_steps(&self, actor: &Actor, now: Timestamp) -> Result<usize> {
        let at = ms(now);
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT application_id, step_id, department_code, deadline_at FROM application_steps
             WHERE state IN ('ready', 'in_progress') AND deadline_at < $1 AND escalated_at IS NULL ORDER BY deadline_at LIMIT 10000",
        )
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let app: i64 = r.try_get("application_id")?;
            let step: String = r.try_get("step_id")?;
            let department: String = r.try_get("department_code")?;
            let deadline: i64 = r.try_get("deadline_at")?;
            sqlx::query("UPDATE application_steps SET escalated_at = $1 WHERE application_id = $2 AND step_id = $3")
                .bind(at)
                .bind(app)
                .bind(&step)
                .execute(&mut *tx)
                .await?;
            notify(
                &mut tx,
                None,
                Some(&department),
                "step_overdue",
                &json!({ "step": step, "deadline_ms": deadline, "to": "department_head" }),
                Some(app),
                at,
            )
            .await?;
        }
        if !rows.is_empty() {
            audit::append(
                &mut tx,
                self.backend(),
                actor,
                "services.escalate",
                "application_steps",
                None,
                Some(&json!({ "escalated": rows.len(), "at_ms": at })),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// The in-app notices for a user: its own and, for a clerk, its department's.
    pub async fn notifications_for(&self, user_id: i64, department: Option<&str>, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, kind, body_json, application_id, created_at, read_at FROM notifications
             WHERE channel = 'in_app' AND (user_id = $1 OR department_code = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(department)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    body: serde_json::from_str(&r.try_get::<String, _>("body_json")?).unwrap_or(Value::Null),
                    application_id: r.try_get("application_id")?,
                    created_at_ms: r.try_get("created_at")?,
                    read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Up to `limit` unsent messages of an outbox channel (`email`, `sms`) for its sender, which
    /// calls [`Store::mark_sent`] once the gateway took them.
    pub async fn outbox(&self, channel: &str, limit: i64) -> Result<Vec<(i64, Option<i64>, String, Value)>> {
        let rows = sqlx::query("SELECT id, user_id, kind, body_json FROM notifications WHERE channel = $1 AND sent_at IS NULL ORDER BY id LIMIT $2")
            .bind(channel)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("user_id")?,
                    r.try_get("kind")?,
                    serde_json::from_str(&r.try_get::<String, _>("body_json")?).unwrap_or(Value::Null),
                ))
            })
            .collect()
    }

    pub async fn mark_sent(&self, ids: &[i64], now: Timestamp) -> Result<()> {
        let sql = format!(
            "UPDATE notifications SET sent_at = $1 WHERE sent_at IS NULL AND id IN ({})",
            ids_from_json(self.backend(), 2)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(ms(now))
            .bind(serde_json::to_string(ids).unwrap_or_default())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Ratings

    /// The applicant rates each department of a finished application once (好差评). A rating of
    /// 不满意 (2) or worse opens a rectification ticket that the department must answer.
    pub async fn rate_application(
        &self,
        actor: &Actor,
        application_id: i64,
        applicant_id: i64,
        ratings: &[(String, i64, String)],
        now: Timestamp,
    ) -> Result<usize> {
        if ratings.is_empty() {
            return Err(StoreError::invalid("level", "choose a rating"));
        }
        let mut tx = self.begin_write().await?;
        let stored = self.load_application(&mut tx, application_id, true).await?;
        if stored.applicant_id != applicant_id {
            return Err(StoreError::NotFound(format!("application {application_id}")));
        }
        if !matches!(
            stored.app.state,
            AppState::Done | AppState::Delivered | AppState::Refused { .. } | AppState::NotAccepted { .. }
        ) {
            return Err(StoreError::Conflict(format!(
                "an application can be rated once it is finished; this one is {}",
                stored.app.state.code()
            )));
        }
        let departments: BTreeSet<&str> = stored.app.steps.iter().map(|s| s.department.as_str()).chain([HALL_DEPARTMENT]).collect();
        let at = ms(now);
        for (department, level, comment) in ratings {
            if !departments.contains(department.as_str()) {
                return Err(StoreError::invalid(
                    "department",
                    format!("department '{department}' did not work on this application"),
                ));
            }
            if !(1..=5).contains(level) {
                return Err(StoreError::invalid("level", "is one of the five levels, 1 (非常不满意) to 5 (非常满意)"));
            }
            let comment = text_ok("comment", comment)?;
            let inserted = sqlx::query(
                "INSERT INTO ratings (application_id, department_code, level, comment, rated_by, rated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(application_id)
            .bind(department)
            .bind(level)
            .bind(&comment)
            .bind(applicant_id)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "department '{department}' was already rated for this application"
                )));
            }
            if *level <= 2 {
                sqlx::query("INSERT INTO rectifications (application_id, department_code, level, comment, opened_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(application_id)
                    .bind(department)
                    .bind(level)
                    .bind(&comment)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                notify(
                    &mut tx,
                    None,
                    Some(department),
                    "rectification_opened",
                    &json!({ "level": level }),
                    Some(application_id),
                    at,
                )
                .await?;
            }
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.application.rate",
            &format!("application:{application_id}"),
            None,
            Some(&json!({ "ratings": ratings.iter().map(|(d, l, _)| json!({"department": d, "level": l})).collect::<Vec<_>>() })),
        )
        .await?;
        tx.commit().await?;
        Ok(ratings.len())
    }

    pub async fn ratings_of(&self, application_id: i64) -> Result<Vec<(String, i64, String)>> {
        let rows = sqlx::query("SELECT department_code, level, comment FROM ratings WHERE application_id = $1 ORDER BY department_code")
            .bind(application_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("department_code")?, r.try_get("level")?, r.try_get("comment")?)))
            .collect()
    }

    /// Rectification tickets, of one department or all, unanswered first.
    pub async fn rectifications(&self, department: Option<&str>, limit: i64) -> Result<Vec<Rectification>> {
        let rows = sqlx::query(
            "SELECT id, application_id, department_code, level, comment, opened_at, answer, answered_at FROM rectifications
             WHERE ($1 = '' OR department_code = $1) ORDER BY (answered_at IS NOT NULL), opened_at DESC LIMIT $2",
        )
        .bind(department.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Rectification {
                    id: r.try_get("id")?,
                    application_id: r.try_get("application_id")?,
                    department_code: r.try_get("department_code")?,
                    level: r.try_get("level")?,
                    comment: r.try_get("comment")?,
                    opened_at_ms: r.try_get("opened_at")?,
                    answer: r.try_get("answer")?,
                    answered_at_ms: r.try_get("answered_at")?,
                })
            })
            .collect()
    }

    /// The department answers a rectification ticket, once.
    pub async fn answer_rectification(&self, actor: &Actor, id: i64, clerk_id: i64, department: &str, answer: &str, now: Timestamp) -> Result<()> {
        let answer = text_ok("answer", answer)?;
        if answer.is_empty() {
            return Err(StoreError::invalid("answer", "is required"));
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT department_code, answered_at FROM rectifications WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("rectification {id}")))?;
        let owner: String = row.try_get("department_code")?;
        if owner != department {
            return Err(StoreError::NotFound(format!("rectification {id}")));
        }
        if row.try_get::<Option<i64>, _>("answered_at")?.is_some() {
            return Err(StoreError::Conflict("this rectification was already answered".into()));
        }
        sqlx::query("UPDATE rectifications SET answer = $1, answered_by = $2, answered_at = $3 WHERE id = $4")
            .bind(&answer)
            .bind(clerk_id)
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.rectification.answer",
            &format!("rectification:{id}"),
            None,
            Some(&json!({ "answer": answer })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Figures

    /// The catalog's counts in one statement: matters, those fully online, bundles, and the
    /// distinct matters the bundles compose.
    pub async fn catalog_counts(&self) -> Result<CatalogCounts> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM matters), (SELECT COUNT(*) FROM matters WHERE level = 'full_online'),
                    (SELECT COUNT(*) FROM bundles), (SELECT COUNT(DISTINCT matter_code) FROM bundle_matters)",
        )
        .fetch_one(self.pool())
        .await?;
        let (matters, fully_online) = (r.try_get(0)?, r.try_get(1)?);
        Ok(CatalogCounts {
            matters,
            fully_online,
            fully_online_pct: dadong_domain::money::share_pct(i128::from(fully_online), i128::from(matters)),
            bundles: r.try_get(2)?,
            bundled_matters: r.try_get(3)?,
        })
    }

    /// The services figures for applications submitted in `[from, to)`; `overdue` counts those
    /// still open and past a step's deadline at `to`.
    pub async fn services_figures(&self, from: Timestamp, to: Timestamp, calendar: &WorkCalendar) -> Result<ServicesFigures> {
        let (from_ms, to_ms) = (ms(from), ms(to));
        let catalog = self.catalog_counts().await?;
        let mut f = ServicesFigures {
            matters: catalog.matters,
            fully_online: catalog.fully_online,
            bundles: catalog.bundles,
            bundled_matters: catalog.bundled_matters,
            ..Default::default()
        };
        f.fully_online_pct = dadong_domain::money::share_pct(f.fully_online.into(), f.matters.into());
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM applications WHERE submitted_at >= $1 AND submitted_at < $2 GROUP BY state")
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(self.pool())
            .await?;
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            f.applications += n;
            f.by_status.insert(r.try_get("state")?, n);
        }
        let done = sqlx::query(
            "SELECT subject, promised_days, submitted_at, completed_at FROM applications
             WHERE submitted_at >= $1 AND submitted_at < $2 AND completed_at IS NOT NULL AND completed_at < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        let mut days: Vec<i64> = Vec::with_capacity(done.len());
        let (mut promised_sum, mut on_time, mut opened, mut opened_in_day) = (0i64, 0i64, 0i64, 0i64);
        for r in &done {
            let submitted = ts(r.try_get("submitted_at")?);
            let completed = ts(r.try_get("completed_at")?);
            let promised: i64 = r.try_get("promised_days")?;
            let subject: String = r.try_get("subject")?;
            let (d0, d1) = (lifecycle::local_date(submitted), lifecycle::local_date(completed));
            days.push(if d1 > d0 { i64::from(calendar.working_days_between(d0, d1)) } else { 0 });
            promised_sum += promised;
            if completed <= lifecycle::deadline(submitted, promised.try_into().unwrap_or(0), calendar) {
                on_time += 1;
            }
            if subject == "open_company" {
                opened += 1;
                if lifecycle::opened_within_one_working_day(submitted, completed, calendar) {
                    opened_in_day += 1;
                }
            }
        }
        f.completed = days.len() as i64;
        if !days.is_empty() {
            let n = days.len() as i128;
            let tenths = |sum: i128| dadong_domain::money::format_scaled(dadong_domain::money::div_round_half_away(sum * 10, n), 10, 1);
            f.avg_completion_days = Some(tenths(days.iter().map(|&d| i128::from(d)).sum()));
            f.avg_promised_days = Some(tenths(i128::from(promised_sum)));
            days.sort_unstable();
            // Nearest rank.
            let rank = (days.len() * 95).div_ceil(100).max(1);
            f.p95_completion_days = Some(days[rank - 1].to_string());
            f.on_time_pct = dadong_domain::money::share_pct(on_time.into(), f.completed.into());
        }
        f.companies_opened = opened;
        f.opened_within_one_day_pct = dadong_domain::money::share_pct(opened_in_day.into(), opened.into());
        f.overdue = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT s.application_id) FROM application_steps s JOIN applications a ON a.id = s.application_id
             WHERE a.submitted_at < $1 AND s.deadline_at < $1 AND (s.finished_at IS NULL OR s.finished_at >= $1) AND s.ready_at IS NOT NULL AND s.ready_at < $1
               AND a.state NOT IN ('not_accepted', 'refused')",
        )
        .bind(to_ms)
        .fetch_one(self.pool())
        .await?;
        let rows = sqlx::query(
            "SELECT r.department_code, COUNT(*) AS n, CAST(SUM(r.level) AS BIGINT) AS total, CAST(SUM(CASE WHEN r.level >= 4 THEN 1 ELSE 0 END) AS BIGINT) AS good,
                    (SELECT COUNT(*) FROM rectifications x WHERE x.department_code = r.department_code AND x.answered_at IS NULL) AS open
             FROM ratings r WHERE r.rated_at >= $1 AND r.rated_at < $2 GROUP BY r.department_code ORDER BY r.department_code",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        for r in &rows {
            let department: String = r.try_get("department_code")?;
            let n: i64 = r.try_get("n")?;
            let total: i64 = r.try_get("total")?;
            let good: i64 = r.try_get("good")?;
            let open: i64 = r.try_get("open")?;
            f.ratings.push(DepartmentRating {
                department,
                ratings: n,
                average: dadong_domain::money::format_scaled(dadong_domain::money::div_round_half_away(i128::from(total) * 10, i128::from(n)), 10, 1),
                satisfied_pct: dadong_domain::money::share_pct(good.into(), n.into()).unwrap_or_default(),
                rectifications_open: open,
            });
        }
        Ok(f)
    }
}

/// The lifecycle event that `request` asks of `stored`, if the one acting may ask it;
/// `uploaded` is the materials handed in so far (read for a submission).
fn event_for(stored: &StoredApplication, request: &ActRequest, uploaded: &BTreeSet<String>) -> Result<Event> {
    let application_id = stored.id;
    let name = request.act.name();
    Ok(match (&request.act, &request.acting) {
        (Act::Submit, Acting::Applicant(user)) if *user == stored.applicant_id => Event::Submit { materials: uploaded.clone() },
        (Act::Submit, _) => return Err(StoreError::NotFound(format!("application {application_id}"))),
        (Act::Accept | Act::NotAccept { .. } | Act::RequestCorrection { .. } | Act::Deliver, Acting::Clerk { department, .. })
            if department == HALL_DEPARTMENT =>
        {
            match &request.act {
                Act::Accept => Event::Accept,
                Act::NotAccept { reason } => Event::NotAccept {
                    reason: text_ok("reason", reason)?,
                },
                Act::RequestCorrection { items } => Event::RequestCorrection {
                    items: items.iter().map(|i| text_ok("items", i)).collect::<Result<_>>()?,
                },
                _ => Event::Deliver,
            }
        }
        (Act::Accept | Act::NotAccept { .. } | Act::RequestCorrection { .. } | Act::Deliver, _) => {
            return Err(StoreError::invalid(
                "department",
                format!("only the service hall ({HALL_DEPARTMENT}) can {}", name.replace('_', " ")),
            ));
        }
        (Act::StartStep { step }, Acting::Clerk { department, .. }) => Event::StartStep {
            step: step.clone(),
            department: department.clone(),
        },
        (Act::CompleteStep { step }, Acting::Clerk { department, .. }) => Event::CompleteStep {
            step: step.clone(),
            department: department.clone(),
        },
        (Act::RefuseStep { step, reason }, Acting::Clerk { department, .. }) => Event::RefuseStep {
            step: step.clone(),
            department: department.clone(),
            reason: text_ok("reason", reason)?,
        },
        (_, Acting::Applicant(_)) => return Err(StoreError::invalid("role", "only a department's clerk can act on a step")),
    })
}

async fn notify(
    conn: &mut AnyConnection,
    user: Option<i64>,
    department: Option<&str>,
    kind: &str,
    body: &Value,
    application: Option<i64>,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (user_id, department_code, channel, kind, body_json, application_id, created_at, sent_at) VALUES ($1, $2, 'in_app', $3, $4, $5, $6, $6)",
    )
    .bind(user)
    .bind(department)
    .bind(kind)
    .bind(body.to_string())
    .bind(application)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An application with its whole history already decided (by the lifecycle's own rules), as
/// the demo and migrations from an older system load them.
#[derive(Debug, Clone)]
pub struct HistoricApplication {
    pub applicant_id: i64,
    pub kind: String,
    pub subject: String,
    pub app: Application,
    pub promised_days: u32,
    pub created_at: Timestamp,
    /// (department, level 1..5, comment)
    pub ratings: Vec<(String, i64, String)>,
}

impl Store {
    /// Loads applications with their steps and ratings in one transaction and one audit record
    /// naming the source. The caller built each state with `lifecycle::apply`.
    pub async fn import_application_history(&self, actor: &Actor, source: &str, records: &[HistoricApplication]) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        for r in records {
            let a = &r.app;
            let updated = [a.delivered_at, a.completed_at, a.accepted_at, a.submitted_at]
                .into_iter()
                .flatten()
                .max()
                .map(ms)
                .unwrap_or(ms(r.created_at));
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO applications (subject, kind, applicant_id, state, state_json, form_json, materials_json, provided_json, correction_requested, promised_days, created_at, submitted_at, accepted_at, completed_at, delivered_at, updated_at) VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            )
            .bind(&r.subject)
            .bind(&r.kind)
            .bind(r.applicant_id)
            .bind(a.state.code())
            .bind(state_json(&a.state))
            .bind(serde_json::to_string(&a.materials).unwrap_or_default())
            .bind(serde_json::to_string(&a.provided).unwrap_or_default())
            .bind(i64::from(a.correction_requested))
            .bind(i64::from(r.promised_days))
            .bind(ms(r.created_at))
            .bind(a.submitted_at.map(ms))
            .bind(a.accepted_at.map(ms))
            .bind(a.completed_at.map(ms))
            .bind(a.delivered_at.map(ms))
            .bind(updated)
            .fetch_one(&mut *tx)
            .await?;
            for (position, s) in a.steps.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO application_steps (application_id, step_id, position, matter_code, department_code, needs_json, time_limit_days, state, reason, ready_at, deadline_at, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(id)
                .bind(&s.id)
                .bind(position as i64)
                .bind(&s.matter)
                .bind(&s.department)
                .bind(serde_json::to_string(&s.needs).unwrap_or_default())
                .bind(i64::from(s.time_limit_days))
                .bind(s.state.code())
                .bind(step_reason(&s.state))
                .bind(s.ready_at.map(ms))
                .bind(s.deadline.map(ms))
                .bind(s.started_at.map(ms))
                .bind(s.finished_at.map(ms))
                .execute(&mut *tx)
                .await?;
            }
            for (department, level, comment) in &r.ratings {
                sqlx::query("INSERT INTO ratings (application_id, department_code, level, comment, rated_by, rated_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id)
                    .bind(department)
                    .bind(level)
                    .bind(comment)
                    .bind(r.applicant_id)
                    .bind(updated)
                    .execute(&mut *tx)
                    .await?;
                if *level <= 2 {
                    sqlx::query("INSERT INTO rectifications (application_id, department_code, level, comment, opened_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id)
                        .bind(department)
                        .bind(level)
                        .bind(comment)
                        .bind(updated)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "services.application.import_history",
            "applications",
            None,
            Some(&json!({ "source": source, "applications": records.len() })),
        )
        .await?;
        tx.commit().await?;
        Ok(records.len())
    }
}

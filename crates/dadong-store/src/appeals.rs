//! Enterprise service and daily dispatch (包保、日调度) in the database: assignments of leaders
//! and cadres, visits, appeals with routing, their event history and escalation, follow-up
//! calls, key enterprises' daily figures and plans, dispatch tasks, and the dispatch board.
//!
//! The rules live in `dadong_appeals`; this module loads an appeal, lets the rules decide the
//! next state ([`dadong_appeals::apply`]), and writes the new state, its event and its audit
//! record in one transaction. Every read is scoped to the user ([`Reach`]): a cadre sees its
//! assigned enterprises, a clerk its department's appeals, an enterprise agent its company's,
//! leaders and admins everything. An appeal outside a user's reach is "not found", so that
//! its existence is not revealed. Free text (titles, replies, notes) stays in the appeal's own
//! tables; the audit chain records ids, codes and states, never the words, since a citizen's
//! name or phone number may be in them and the chain cannot be rewritten.

use crate::audit::{self, Actor};
use crate::{Backend, PerBackend, Result, Store, StoreError, User, json_rows, now_ms};
use dadong_appeals::{Appeal, Candidate, Category, DailyFigure, Escalation, Event, Flag, Metric, RouteTo, RoutingRule, RoutingTable, Status, TransitionError};
use dadong_domain::{CreditCode, Period, Role, WorkCalendar};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

/// Most rows any list returns in one page.
pub const LIST_MAX: i64 = 500;
/// Most open appeals of one enterprise compared with a new one for duplicates.
const DUPLICATE_POOL_MAX: i64 = 200;
/// Most overdue appeals one escalation run moves, per transaction.
const ESCALATION_BATCH: i64 = 500;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn calendar() -> &'static WorkCalendar {
    WorkCalendar::national()
}

fn text_field(field: &str, value: &str, min: usize, max: usize) -> Result<String> {
    let value = value.trim();
    let n = value.chars().count();
    if n < min || n > max {
        let what = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(StoreError::invalid(field, what));
    }
    Ok(value.to_string())
}

fn refused(e: TransitionError) -> StoreError {
    match e {
        TransitionError::BadScore(_) => StoreError::invalid("satisfaction", e.to_string()),
        TransitionError::ReopenWindowPassed => StoreError::invalid("appeal", e.to_string()),
        _ => StoreError::Conflict(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Types

/// Enterprise or project, as the target of an assignment or a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Enterprise,
    Project,
}

impl TargetKind {
    pub fn code(self) -> &'static str {
        match self {
            TargetKind::Enterprise => "enterprise",
            TargetKind::Project => "project",
        }
    }

    pub fn parse(s: &str) -> Result<TargetKind> {
        match s.trim() {
            "enterprise" => Ok(TargetKind::Enterprise),
            "project" => Ok(TargetKind::Project),
            other => Err(StoreError::invalid("kind", format!("'{other}': use enterprise or project"))),
        }
    }
}

/// The duty of an assigned person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// The responsible leader (包保领导): escalations reach them last.
    Leader,
    Cadre,
}

impl Duty {
    pub fn code(self) -> &'static str {
        match self {
            Duty::Leader => "leader",
            Duty::Cadre => "cadre",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub kind: TargetKind,
    pub target: String,
    pub name: Option<String>,
    pub user_id: i64,
    pub user_name: String,
    pub duty: Duty,
}

#[derive(Debug, Clone, Default)]
pub struct NewVisit {
    pub kind: String,
    pub target: String,
    pub visit_date: String,
    pub people_met: String,
    pub findings: String,
    pub problems: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visit {
    pub id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub kind: TargetKind,
    pub target: String,
    pub visit_date: String,
    pub people_met: String,
    pub findings: String,
    pub problems: String,
}

/// One assigned enterprise of a cadre and whether it was visited in the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageLine {
    pub user_id: i64,
    pub user_name: String,
    pub credit_code: String,
    pub name: Option<String>,
    pub visits: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewAppeal {
    pub credit_code: String,
    pub category: String,
    pub title: String,
    pub body: String,
    pub visit_id: Option<i64>,
}

/// An appeal as lists and pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppealItem {
    pub id: i64,
    pub credit_code: String,
    pub company_name: Option<String>,
    pub category: Category,
    pub title: String,
    pub body: String,
    pub status: Status,
    pub department_id: Option<i64>,
    pub department_code: Option<String>,
    pub department_name: Option<String>,
    pub raised_by: Option<i64>,
    pub visit_id: Option<i64>,
    pub reply_days: i64,
    pub resolve_days: i64,
    pub raised_at: i64,
    pub routed_at: Option<i64>,
    pub reply_due: Option<i64>,
    pub resolve_due: Option<i64>,
    /// The deadline that counts now.
    pub due_at: Option<i64>,
    pub accepted_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub satisfaction: Option<i64>,
    pub escalation: Escalation,
    pub escalated_at: Option<i64>,
    pub reopened: i64,
    pub updated_at: i64,
    /// Yellow or red against `due_at` at the time the list was read.
    pub flag: Option<Flag>,
}

impl AppealItem {
    /// The appeal as [`Pending::flush`] leaves it once the rules moved it to `next` (with
    /// the department's id and name) at `now`, flagged at `now`.
    fn after(&self, next: &Appeal, department: (Option<i64>, Option<String>), now: Timestamp) -> AppealItem {
        let mut item = AppealItem {
            status: next.status,
            department_id: department.0,
            department_code: next.department.clone(),
            department_name: department.1,
            reply_days: next.reply_days as i64,
            resolve_days: next.resolve_days as i64,
            routed_at: next.routed_at.map(ms),
            reply_due: next.reply_due.map(ms),
            resolve_due: next.resolve_due.map(ms),
            due_at: next.current_deadline().map(ms),
            accepted_at: next.accepted_at.map(ms),
            replied_at: next.replied_at.map(ms),
            resolved_at: next.resolved_at.map(ms),
            closed_at: next.closed_at.map(ms),
            satisfaction: next.satisfaction.map(i64::from),
            escalation: next.escalation,
            escalated_at: if next.escalation.level() == 0 { None } else { self.escalated_at },
            reopened: next.reopened as i64,
            updated_at: ms(now).max(self.updated_at),
            flag: None,
            ..self.clone()
        };
        item.flag = item.rules().flag(now, calendar());
        item
    }

    fn rules(&self) -> Appeal {
        Appeal {
            category: self.category,
            status: self.status,
            department: self.department_code.clone(),
            reply_days: self.reply_days as u32,
            resolve_days: self.resolve_days as u32,
            raised_at: ts(self.raised_at),
            routed_at: self.routed_at.map(ts),
            reply_due: self.reply_due.map(ts),
            resolve_due: self.resolve_due.map(ts),
            accepted_at: self.accepted_at.map(ts),
            replied_at: self.replied_at.map(ts),
            resolved_at: self.resolved_at.map(ts),
            closed_at: self.closed_at.map(ts),
            satisfaction: self.satisfaction.map(|s| s as u8),
            escalation: self.escalation,
            reopened: self.reopened as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppealEvent {
    pub at: i64,
    pub user_id: Option<i64>,
    pub user_name: Option<String>,
    pub kind: String,
    pub status_after: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    pub called_at: i64,
    pub reached: bool,
    pub satisfaction: Option<i64>,
    pub note: String,
}

/// What a follow-up call found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowUpCall {
    /// Whether the enterprise answered.
    pub reached: bool,
    /// Its satisfaction now, 1 to 5, when reached.
    pub satisfaction: Option<u8>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppealDetail {
    pub appeal: AppealItem,
    pub events: Vec<AppealEvent>,
    pub follow_up: Option<FollowUp>,
    /// Whether this closed appeal is in the follow-up sample.
    pub follow_up_sampled: bool,
}

/// What the appeals writer answers for one write: the appeal as written (known without
/// reading it back) and a raise's possible duplicates.
#[derive(Debug)]
pub(crate) struct Written {
    item: AppealItem,
    hints: Vec<DuplicateHint>,
}

/// One write of an appeal's life, its form already checked, queued for the appeals writer
/// (group commit: see [`crate::group`]).
#[derive(Debug)]
pub(crate) enum AppealWrite {
    Raise {
        actor: Actor,
        user: User,
        code: String,
        category: Category,
        title: String,
        body: String,
        visit_id: Option<i64>,
        now: Timestamp,
    },
    Step {
        actor: Actor,
        user: User,
        id: i64,
        action: AppealAction,
        note: String,
        now: Timestamp,
    },
}

/// A new appeal and the open appeals of the same enterprise that look like it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Raised {
    pub appeal: AppealItem,
    pub possible_duplicates: Vec<DuplicateHint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateHint {
    pub id: i64,
    pub title: String,
    pub status: Status,
    pub likeness_pct: u32,
}

/// What a user does to an appeal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppealAction {
    /// Send it to the department with this code (leaders and admins, when no rule fits or a
    /// department hands it back before accepting).
    Route(String),
    Accept,
    Reply(String),
    Resolve(String),
    Confirm {
        score: u8,
        note: String,
    },
    Reopen(String),
}

/// Filter for appeal lists.
#[derive(Debug, Clone, Default)]
pub struct AppealFilter {
    pub status: Option<Status>,
    /// Only appeals still with a department whose deadline has passed.
    pub overdue: bool,
    /// Only escalated appeals still open.
    pub escalated: bool,
    pub credit_code: Option<String>,
    pub limit: i64,
}

/// What one escalation run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct EscalationRun {
    pub to_department_head: u64,
    pub to_leader: u64,
}

/// The appeals part of the report: records dated in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppealFigures {
    pub raised: i64,
    pub resolved: i64,
    /// Still open at the end of the period and past the deadline that counted then.
    pub overdue: i64,
    /// Resolved in the period by their resolve deadline, in percent with one decimal.
    pub on_time_pct: Option<String>,
    pub closed: i64,
    /// Mean satisfaction of appeals closed in the period, one decimal.
    pub satisfaction: Option<String>,
    pub by_department: Vec<SatisfactionLine>,
    pub by_category: Vec<SatisfactionLine>,
    pub follow_up_calls: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SatisfactionLine {
    pub key: String,
    pub raised: i64,
    pub resolved: i64,
    pub closed: i64,
    pub satisfaction: Option<String>,
}

/// One key enterprise's line on the dispatch board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFigureLine {
    pub credit_code: String,
    pub name: Option<String>,
    pub latest_day: Option<String>,
    /// Month to date of the flows, latest value of the stocks, in `Metric::ALL` order.
    pub metrics: Vec<MetricLine>,
    /// The worst plan flag of the enterprise's metrics.
    pub flag: Option<dadong_appeals::PlanFlag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricLine {
    pub metric: Metric,
    pub value: Option<i64>,
    pub plan: Option<i64>,
    pub last_year: Option<i64>,
    pub growth_tenths: Option<i64>,
    pub flag: Option<dadong_appeals::PlanFlag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectProblem {
    pub project_id: String,
    pub name: String,
    pub visit_date: String,
    pub problems: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchTask {
    pub id: i64,
    pub title: String,
    pub owner_user_id: i64,
    pub owner_name: String,
    pub due_date: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DispatchBoard {
    pub today: String,
    pub key_enterprises: Vec<KeyFigureLine>,
    pub overdue: Vec<AppealItem>,
    pub escalated: Vec<AppealItem>,
    pub open_appeals: i64,
    pub projects_with_problems: Vec<ProjectProblem>,
    /// Open tasks due today or earlier.
    pub tasks_today: Vec<DispatchTask>,
    /// Open tasks due in the coming [`UPCOMING_DAYS`] days.
    pub tasks_upcoming: Vec<DispatchTask>,
}

/// How far ahead the dispatch board lists tasks not yet due.
pub const UPCOMING_DAYS: i64 = 7;

// ---------------------------------------------------------------------------------------------
// Scope

/// How far a user's view of service records reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    Company(String),
    Department(i64),
    /// A cadre: the enterprises assigned to this user.
    Assigned(i64),
    Nothing,
}

impl Reach {
    pub fn of(user: &User) -> Reach {
        match user.role {
            Role::Leader | Role::Admin => Reach::All,
            Role::Enterprise => user.company_code.clone().map(Reach::Company).unwrap_or(Reach::Nothing),
            Role::Clerk => user.department_id.map(Reach::Department).unwrap_or(Reach::Nothing),
            Role::Cadre => Reach::Assigned(user.id),
            _ => Reach::Nothing,
        }
    }
}

#[derive(Debug, Clone)]
enum Bind {
    Int(i64),
    Text(String),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// The parameters of a statement built piece by piece, numbered in the order they are added.
#[derive(Default)]
struct Params(Vec<Bind>);

impl Params {
    fn push(&mut self, b: Bind) -> String {
        self.0.push(b);
        format!("${}", self.0.len())
    }

    fn bind(self, mut q: AnyQuery<'_>) -> AnyQuery<'_> {
        for b in self.0 {
            q = match b {
                Bind::Int(i) => q.bind(i),
                Bind::Text(t) => q.bind(t),
            };
        }
        q
    }
}

/// The condition on appeals `a` for `reach`, its parameter added to `params`.
fn reach_clause(reach: &Reach, params: &mut Params) -> String {
    match reach {
        Reach::All => "1 = 1".into(),
        Reach::Nothing => "1 = 0".into(),
        Reach::Company(code) => format!("a.credit_code = {}", params.push(Bind::Text(code.clone()))),
        Reach::Department(id) => format!("a.department_id = {}", params.push(Bind::Int(*id))),
        Reach::Assigned(user) => {
            let p = params.push(Bind::Int(*user));
            format!("a.credit_code IN ({})", assigned_companies_sql(&p))
        }
    }
}

/// The credit codes assigned to the user in parameter `p`: as a cadre in the sign-in scope,
/// or as leader or cadre in the service assignments.
fn assigned_companies_sql(p: &str) -> String {
    format!(
        "SELECT company_code FROM user_assignments WHERE user_id = {p} UNION SELECT target FROM service_assignments WHERE user_id = {p} AND kind = 'enterprise'"
    )
}

const APPEAL_COLUMNS: &str = "a.id, a.credit_code, e.name, a.category, a.title, a.body, a.status, a.department_id, d.code, d.name_zh, a.raised_by, a.visit_id,
     a.reply_days, a.resolve_days, a.raised_at, a.routed_at, a.reply_due, a.resolve_due, a.due_at, a.accepted_at, a.replied_at,
     a.resolved_at, a.closed_at, a.satisfaction, a.escalation, a.escalated_at, a.reopened, a.updated_at";
const APPEAL_FROM: &str = "appeals a LEFT JOIN departments d ON d.id = a.department_id LEFT JOIN enterprises e ON e.credit_code = a.credit_code";

fn appeal_from_row(r: &AnyRow, now: Option<Timestamp>) -> Result<AppealItem> {
    let category: String = r.try_get(3)?;
    let status: String = r.try_get(6)?;
    let bad = |what: &str, v: &str| StoreError::Config(format!("stored appeal has an unknown {what} '{v}'"));
    let mut item = AppealItem {
        id: r.try_get(0)?,
        credit_code: r.try_get(1)?,
        company_name: r.try_get(2)?,
        category: Category::parse(&category).map_err(|_| bad("category", &category))?,
        title: r.try_get(4)?,
        body: r.try_get(5)?,
        status: Status::parse(&status).ok_or_else(|| bad("status", &status))?,
        department_id: r.try_get(7)?,
        department_code: r.try_get(8)?,
        department_name: r.try_get(9)?,
        raised_by: r.try_get(10)?,
        visit_id: r.try_get(11)?,
        reply_days: r.try_get(12)?,
        resolve_days: r.try_get(13)?,
        raised_at: r.try_get(14)?,
        routed_at: r.try_get(15)?,
        reply_due: r.try_get(16)?,
        resolve_due: r.try_get(17)?,
        due_at: r.try_get(18)?,
        accepted_at: r.try_get(19)?,
        replied_at: r.try_get(20)?,
        resolved_at: r.try_get(21)?,
        closed_at: r.try_get(22)?,
        satisfaction: r.try_get(23)?,
        escalation: Escalation::from_level(r.try_get(24)?),
        escalated_at: r.try_get(25)?,
        reopened: r.try_get(26)?,
        updated_at: r.try_get(27)?,
        flag: None,
    };
    if let Some(now) = now {
        item.flag = item.rules().flag(now, calendar());
    }
    Ok(item)
}

fn one_decimal(numerator: i64, denominator: i64) -> Option<String> {
    if denominator <= 0 {
        return None;
    }
    // Tenths, rounded half away from zero (all figures here are non-negative).
    let tenths = (numerator as i128 * 20 + denominator as i128) / (denominator as i128 * 2);
    Some(format!("{}.{}", tenths / 10, tenths % 10))
}

impl Store {
    // -----------------------------------------------------------------------------------------
    // Routing rules

    /// Stores (or replaces) the rule for one category after checking that its department
    /// exists and its promises are sane.
    pub async fn set_routing_rule(&self, actor: &Actor, rule: &RoutingRule) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let codes: Vec<String> = sqlx::query_scalar("SELECT code FROM departments").fetch_all(&mut *tx).await?;
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        dadong_appeals::routing::validate_rule(rule, &codes).map_err(|e| StoreError::invalid("department", e.to_string()))?;
        let dept: i64 = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
            .bind(&rule.department)
            .fetch_one(&mut *tx)
            .await?;
        let before: Option<(String, i64, i64)> =
            sqlx::query("SELECT d.code, r.reply_days, r.resolve_days FROM appeal_rules r JOIN departments d ON d.id = r.department_id WHERE r.category = $1")
                .bind(rule.category.code())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .transpose()?;
        sqlx::query(
            "INSERT INTO appeal_rules (category, department_id, reply_days, resolve_days, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (category) DO UPDATE SET department_id = excluded.department_id, reply_days = excluded.reply_days,
             resolve_days = excluded.resolve_days, updated_at = excluded.updated_at",
        )
        .bind(rule.category.code())
        .bind(dept)
        .bind(rule.reply_days as i64)
        .bind(rule.resolve_days as i64)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let before = before.map(|(d, r, s)| json!({"department": d, "reply_days": r, "resolve_days": s}));
        let after = json!({"department": rule.department, "reply_days": rule.reply_days, "resolve_days": rule.resolve_days});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "appeal_rule.set",
            &format!("appeal_rule:{}", rule.category),
            before.as_ref(),
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored routing rules, validated again against the departments (a department
    /// cannot be removed, so a stored rule always points somewhere).
    pub async fn routing_table(&self) -> Result<RoutingTable> {
        let mut conn = self.pool().acquire().await?;
        routing_table_in(&mut conn).await
    }

    // -----------------------------------------------------------------------------------------
    // Assignments, visits, coverage

    /// Makes `user_id` responsible for an enterprise or project: a leader (the responsible
    /// leader) or a cadre. A cadre's enterprise also widens its sign-in scope.
    pub async fn assign(&self, actor: &Actor, kind: TargetKind, target: &str, user_id: i64, duty: Duty) -> Result<()> {
        let target = self.checked_target(kind, target).await?;
        let user = self.user(user_id).await?.ok_or_else(|| StoreError::NotFound(format!("user {user_id}")))?;
        let fits = match duty {
            Duty::Leader => user.role == Role::Leader,
            Duty::Cadre => user.role == Role::Cadre,
        };
        if !fits {
            return Err(StoreError::invalid(
                "user",
                format!("{} is a {}, not a {}", user.username, user.role, duty.code()),
            ));
        }
        let mut tx = self.begin_write().await?;
        let inserted =
            sqlx::query("INSERT INTO service_assignments (kind, target, user_id, duty, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                .bind(kind.code())
                .bind(&target)
                .bind(user_id)
                .bind(duty.code())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if inserted == 1 {
            let after = json!({"kind": kind.code(), "target": target, "user_id": user_id, "duty": duty.code()});
            audit::append(
                &mut tx,
                self.backend(),
                actor,
                "service_assignment.create",
                &format!("user:{user_id}"),
                None,
                Some(&after),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn checked_target(&self, kind: TargetKind, target: &str) -> Result<String> {
        match kind {
            TargetKind::Enterprise => Ok(CreditCode::parse(target)
                .map_err(|e| StoreError::invalid("target", e.to_string()))?
                .as_str()
                .to_string()),
            TargetKind::Project => {
                let id: Option<String> = sqlx::query_scalar("SELECT project_id FROM projects WHERE project_id = $1")
                    .bind(target.trim())
                    .fetch_optional(self.pool())
                    .await?;
                id.ok_or_else(|| StoreError::invalid("target", format!("there is no project '{}'", target.trim())))
            }
        }
    }

    /// The assignments a user can see: their own for a cadre, everything for leaders and
    /// admins, their company's for an enterprise agent.
    pub async fn assignments(&self, user: &User) -> Result<Vec<Assignment>> {
        let mut params = Params::default();
        let clause = match Reach::of(user) {
            Reach::All => "1 = 1".to_string(),
            Reach::Assigned(id) => format!("s.user_id = {}", params.push(Bind::Int(id))),
            Reach::Company(code) => format!("s.kind = 'enterprise' AND s.target = {}", params.push(Bind::Text(code))),
            _ => "1 = 0".to_string(),
        };
        let sql = format!(
            "SELECT s.kind, s.target, COALESCE(e.name, p.name), s.user_id, u.display_name, s.duty FROM service_assignments s
             JOIN users u ON u.id = s.user_id
             LEFT JOIN enterprises e ON s.kind = 'enterprise' AND e.credit_code = s.target
             LEFT JOIN projects p ON s.kind = 'project' AND p.project_id = s.target
             WHERE {clause} ORDER BY s.kind, s.target, s.duty DESC, s.user_id LIMIT {LIST_MAX}"
        );
        let rows = params.bind(sqlx::query(AssertSqlSafe(sql))).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(0)?;
                let duty: String = r.try_get(5)?;
                Ok(Assignment {
                    kind: TargetKind::parse(&kind)?,
                    target: r.try_get(1)?,
                    name: r.try_get(2)?,
                    user_id: r.try_get(3)?,
                    user_name: r.try_get(4)?,
                    duty: if duty == "leader" { Duty::Leader } else { Duty::Cadre },
                })
            })
            .collect()
    }

    /// Whether `user` may act for the enterprise `code`: its own agent, an assigned cadre or
    /// leader, or a leader or admin of the district.
    pub async fn acts_for(&self, user: &User, code: &str) -> Result<bool> {
        Ok(match Reach::of(user) {
            Reach::All => true,
            Reach::Company(own) => own == code,
            Reach::Assigned(id) => {
                let sql = format!("SELECT COUNT(*) FROM ({}) x WHERE x.company_code = $2", assigned_companies_sql("$1"));
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).bind(id).bind(code).fetch_one(self.pool()).await?;
                n > 0
            }
            _ => false,
        })
    }

    async fn assigned_project(&self, user: &User, project_id: &str) -> Result<bool> {
        if matches!(user.role, Role::Leader | Role::Admin) {
            return Ok(true);
        }
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_assignments WHERE kind = 'project' AND target = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user.id)
            .fetch_one(self.pool())
            .await?;
        let own: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE project_id = $1 AND cadre_user_id = $2")
            .bind(project_id)
            .bind(user.id)
            .fetch_one(self.pool())
            .await?;
        Ok(n + own > 0)
    }

    /// Records a visit by `user` to one of their assigned enterprises or projects.
    pub async fn record_visit(&self, actor: &Actor, user: &User, new: &NewVisit, today: Date) -> Result<Visit> {
        let kind = TargetKind::parse(&new.kind)?;
        let target = self.checked_target(kind, &new.target).await?;
        let date: Date = new
            .visit_date
            .trim()
            .parse()
            .map_err(|_| StoreError::invalid("visit_date", "a date YYYY-MM-DD"))?;
        if date > today {
            return Err(StoreError::invalid("visit_date", format!("{date} lies in the future")));
        }
        let people_met = text_field("people_met", &new.people_met, 1, 500)?;
        let findings = text_field("findings", &new.findings, 1, 4000)?;
        let problems = text_field("problems", &new.problems, 0, 4000)?;
        let allowed = match kind {
            TargetKind::Enterprise => matches!(user.role, Role::Cadre | Role::Leader | Role::Admin) && self.acts_for(user, &target).await?,
            TargetKind::Project => matches!(user.role, Role::Cadre | Role::Leader | Role::Admin) && self.assigned_project(user, &target).await?,
        };
        if !allowed {
            return Err(StoreError::invalid("target", format!("{target} is not assigned to you")));
        }
        let mut tx = self.begin_write().await?;
        let id = insert_visit(&mut tx, user.id, kind, &target, &date.to_string(), &people_met, &findings, &problems).await?;
        let after = json!({"kind": kind.code(), "target": target, "visit_date": date.to_string(), "problems_raised": !problems.is_empty()});
        audit::append(&mut tx, self.backend(), actor, "visit.create", &format!("visit:{id}"), None, Some(&after)).await?;
        tx.commit().await?;
        Ok(Visit {
            id,
            user_id: user.id,
            user_name: user.display_name.clone(),
            kind,
            target,
            visit_date: date.to_string(),
            people_met,
            findings,
            problems,
        })
    }

    /// Visits within the user's reach, newest first.
    pub async fn visits(&self, user: &User, target: Option<&str>, limit: i64) -> Result<Vec<Visit>> {
        let limit = limit.clamp(1, LIST_MAX);
        let mut params = Params::default();
        let clause = match Reach::of(user) {
            Reach::All => "1 = 1".to_string(),
            Reach::Assigned(id) => {
                let p = params.push(Bind::Int(id));
                format!(
                    "(v.user_id = {p} OR (v.kind = 'enterprise' AND v.target IN ({})) OR (v.kind = 'project' AND v.target IN (SELECT target FROM service_assignments WHERE user_id = {p} AND kind = 'project')))",
                    assigned_companies_sql(&p)
                )
            }
            Reach::Company(code) => format!("v.kind = 'enterprise' AND v.target = {}", params.push(Bind::Text(code))),
            _ => "1 = 0".to_string(),
        };
        let target_clause = match target {
            Some(t) => format!(" AND v.target = {}", params.push(Bind::Text(t.trim().to_string()))),
            None => String::new(),
        };
        let sql = format!(
            "SELECT v.id, v.user_id, u.display_name, v.kind, v.target, v.visit_date, v.people_met, v.findings, v.problems
             FROM visits v JOIN users u ON u.id = v.user_id WHERE {clause}{target_clause} ORDER BY v.visit_date DESC, v.id DESC LIMIT {limit}"
        );
        let rows = params.bind(sqlx::query(AssertSqlSafe(sql))).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(3)?;
                Ok(Visit {
                    id: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    user_name: r.try_get(2)?,
                    kind: TargetKind::parse(&kind)?,
                    target: r.try_get(4)?,
                    visit_date: r.try_get(5)?,
                    people_met: r.try_get(6)?,
                    findings: r.try_get(7)?,
                    problems: r.try_get(8)?,
                })
            })
            .collect()
    }

    /// Monthly coverage: each cadre's assigned enterprises with the number of visits in
    /// `month` (zero = not yet visited). A cadre sees its own lines, leaders and admins all.
    pub async fn coverage(&self, user: &User, month: Period) -> Result<Vec<CoverageLine>> {
        let (from, to) = (month.first_day().to_string(), month.last_day().to_string());
        let (clause, user_bind) = match Reach::of(user) {
            Reach::All => ("1 = 1", None),
            Reach::Assigned(id) => ("s.user_id = $3", Some(id)),
            _ => return Ok(Vec::new()),
        };
        let sql = format!(
            "SELECT s.user_id, u.display_name, s.target, e.name,
                    (SELECT COUNT(*) FROM visits v WHERE v.kind = 'enterprise' AND v.target = s.target AND v.user_id = s.user_id
                       AND v.visit_date >= $1 AND v.visit_date <= $2)
             FROM service_assignments s JOIN users u ON u.id = s.user_id LEFT JOIN enterprises e ON e.credit_code = s.target
             WHERE s.kind = 'enterprise' AND s.duty = 'cadre' AND {clause} ORDER BY u.display_name, s.target LIMIT 5000"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(from).bind(to);
        if let Some(id) = user_bind {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(CoverageLine {
                    user_id: r.try_get(0)?,
                    user_name: r.try_get(1)?,
                    credit_code: r.try_get(2)?,
                    name: r.try_get(3)?,
                    visits: r.try_get(4)?,
                })
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // Appeals

    /// Raises an appeal for an enterprise the user acts for, routes it by the rules at once
    /// (when a rule fits), and returns it with the open appeals that look like it.
    pub async fn raise_appeal(&self, actor: &Actor, user: &User, new: &NewAppeal, now: Timestamp) -> Result<Raised> {
        let code = CreditCode::parse(&new.credit_code).map_err(|e| StoreError::invalid("credit_code", e.to_string()))?;
        let code = code.as_str().to_string();
        let category = Category::parse(&new.category).map_err(|e| StoreError::invalid("category", e.to_string()))?;
        let title = text_field("title", &new.title, 1, dadong_appeals::TITLE_CHARS_MAX)?;
        let body = text_field("body", &new.body, 0, dadong_appeals::BODY_CHARS_MAX)?;
        if !matches!(user.role, Role::Enterprise | Role::Cadre | Role::Leader | Role::Admin) || !self.acts_for(user, &code).await? {
            return Err(StoreError::invalid(
                "credit_code",
                format!("you do not act for enterprise {code}: an appeal is raised by its own agent or its assigned cadre"),
            ));
        }
        // An enterprise's raises share a lane, so each one's duplicate check sees the ones before.
        let lane = code.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let write = AppealWrite::Raise {
            actor: actor.clone(),
            user: user.clone(),
            code,
            category,
            title,
            body,
            visit_id: new.visit_id,
            now,
        };
        let Written {
            item: appeal,
            hints: possible_duplicates,
        } = self.appeals_writer.submit(self, "appeals", lane, write, Store::write_appeals).await??;
        Ok(Raised { appeal, possible_duplicates })
    }

    /// Carries out a group of appeal writes in one transaction with one audit append for the
    /// group. The answers are in the order of the writes.
    ///
    /// Every refusal (who may act, the rules, a missing department, a stale state) is decided
    /// from reads before the write's first change, so a refused write is simply left out and
    /// the others go on without savepoints. Should the database itself fail the group, it is
    /// rolled back and carried out again with a savepoint per write, so that one write's
    /// failure does not fail the others.
    async fn write_appeals(self, writes: Vec<AppealWrite>) -> Vec<Result<Written>> {
        match self.write_appeal_group(&writes, false).await {
            Ok(answers) => answers,
            Err(e) if writes.len() > 1 => {
                tracing::warn!(error = %e, writes = writes.len(), "group of appeal writes refused by the database; one savepoint each");
                self.write_appeal_group(&writes, true)
                    .await
                    .unwrap_or_else(|e| writes.iter().map(|_| Err(StoreError::Conflict(format!("not carried out: {e}")))).collect())
            }
            Err(e) => vec![Err(e)],
        }
    }

    async fn write_appeal_group(&self, writes: &[AppealWrite], savepoints: bool) -> Result<Vec<Result<Written>>> {
        let backend = self.backend();
        let mut tx = self.begin_write().await?;
        let mut known = Known::default();
        let mut pending = Pending::default();
        let mut answers = Vec::with_capacity(writes.len());
        let mut records = Vec::with_capacity(writes.len());
        for write in writes {
            // A write that reads what an earlier one of the group changed reads it written.
            let reads_pending = match write {
                AppealWrite::Raise { code, .. } => pending.touches_company(code),
                AppealWrite::Step { id, .. } => pending.touches(*id),
            };
            if reads_pending {
                pending.flush(&mut tx, backend).await?;
            }
            if savepoints {
                sqlx::query("SAVEPOINT appeal").execute(&mut *tx).await?;
            }
            let result = match write {
                AppealWrite::Raise {
                    actor,
                    user,
                    code,
                    category,
                    title,
                    body,
                    visit_id,
                    now,
                } => self
                    .raise_in(&mut tx, &mut known, &mut pending, actor, user, code, *category, title, body, *visit_id, *now)
                    .await
                    .map(|(item, hints, record)| (Written { item, hints }, record)),
                AppealWrite::Step {
                    actor,
                    user,
                    id,
                    action,
                    note,
                    now,
                } => self
                    .step_in(&mut tx, &mut known, &mut pending, actor, user, *id, action, note, *now)
                    .await
                    .map(|(record, item)| (Written { item, hints: Vec::new() }, record)),
            };
            // Under savepoints each write is written before the next one starts.
            let result = match result {
                Ok(done) if savepoints => pending.flush(&mut tx, backend).await.map(|()| done),
                other => other,
            };
            match result {
                Ok((written, record)) => {
                    records.push(record);
                    answers.push(Ok(written));
                }
                Err(e @ (StoreError::Database(_) | StoreError::Io(_))) if !savepoints => return Err(e),
                Err(e) => {
                    if savepoints {
                        sqlx::query("ROLLBACK TO SAVEPOINT appeal").execute(&mut *tx).await?;
                        pending = Pending::default();
                    }
                    answers.push(Err(e));
                }
            }
            if savepoints {
                sqlx::query("RELEASE SAVEPOINT appeal").execute(&mut *tx).await?;
            }
        }
        pending.flush(&mut tx, backend).await?;
        audit::append_many(&mut tx, backend, &records).await?;
        tx.commit().await?;
        Ok(answers)
    }

    /// A new appeal, checked and routed, inside the writer's transaction.
    #[allow(clippy::too_many_arguments)]
    async fn raise_in(
        &self,
        tx: &mut AnyConnection,
        known: &mut Known,
        pending: &mut Pending,
        actor: &Actor,
        user: &User,
        code: &str,
        category: Category,
        title: &str,
        body: &str,
        visit_id: Option<i64>,
        now: Timestamp,
    ) -> Result<(AppealItem, Vec<DuplicateHint>, audit::NewRecord)> {
        if let Some(visit) = visit_id {
            let target: Option<String> = sqlx::query_scalar("SELECT target FROM visits WHERE id = $1 AND kind = 'enterprise'")
                .bind(visit)
                .fetch_optional(&mut *tx)
                .await?;
            if target.as_deref() != Some(code) {
                return Err(StoreError::invalid("visit_id", format!("visit {visit} was not to enterprise {code}")));
            }
        }
        // The enterprise's name, and its open appeals that may be duplicates (one row with
        // no appeal when it has none).
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT e.name, a.id, a.category, a.title, a.body, a.status FROM (SELECT CAST($1 AS TEXT) AS code) k
             LEFT JOIN enterprises e ON e.credit_code = k.code
             LEFT JOIN (SELECT id, category, title, body, status FROM appeals WHERE credit_code = $1 AND status IN ('raised', 'routed', 'accepted', 'replied')
                        ORDER BY id DESC LIMIT {DUPLICATE_POOL_MAX}) a ON 1 = 1
             ORDER BY a.id DESC"
        )))
        .bind(code)
        .fetch_all(&mut *tx)
        .await?;
        let company_name: Option<String> = match rows.first() {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        let mut open = Vec::with_capacity(rows.len());
        let mut statuses = std::collections::HashMap::new();
        for r in &rows {
            let Some(id) = r.try_get::<Option<i64>, _>(1)? else {
                continue;
            };
            let cat: String = r.try_get(2)?;
            let status: String = r.try_get(5)?;
            statuses.insert(id, Status::parse(&status).unwrap_or(Status::Raised));
            open.push(Candidate {
                id,
                category: Category::parse(&cat).unwrap_or(Category::Other),
                title: r.try_get(3)?,
                body: r.try_get(4)?,
            });
        }
        let hints: Vec<DuplicateHint> = dadong_appeals::possible_duplicates(category, title, body, &open)
            .into_iter()
            .map(|(id, pct)| DuplicateHint {
                id,
                title: open.iter().find(|c| c.id == id).map(|c| c.title.clone()).unwrap_or_default(),
                status: statuses[&id],
                likeness_pct: pct,
            })
            .collect();

        let table = known.routing_table(tx).await?;
        let raised = Appeal::raise(category, now);
        let routed = table
            .route(category)
            .ok()
            .map(|to| dadong_appeals::apply(&raised, Event::Route(to), now, calendar()).expect("a raised appeal can be routed"));
        let state = routed.as_ref().unwrap_or(&raised);
        let (department_id, department_name) = match &state.department {
            Some(code) => {
                let (id, name) = known.department(tx, code).await?;
                (Some(id), Some(name))
            }
            None => (None, None),
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO appeals (credit_code, category, title, body, status, department_id, raised_by, visit_id, reply_days, resolve_days,
                                  raised_at, routed_at, reply_due, resolve_due, due_at, escalation, reopened, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, 0, $11) RETURNING id",
        )
        .bind(code)
        .bind(category.code())
        .bind(title)
        .bind(body)
        .bind(state.status.code())
        .bind(department_id)
        .bind(user.id)
        .bind(visit_id)
        .bind(state.reply_days as i64)
        .bind(state.resolve_days as i64)
        .bind(ms(now))
        .bind(state.routed_at.map(ms))
        .bind(state.reply_due.map(ms))
        .bind(state.resolve_due.map(ms))
        .bind(state.current_deadline().map(ms))
        .fetch_one(&mut *tx)
        .await?;
        pending.event(id, now, Some(user.id), "raise", Status::Raised, "");
        let mut after = json!({"credit_code": code, "category": category.code(), "status": "raised"});
        if let Some(r) = &routed {
            pending.event(id, now, None, "route", Status::Routed, r.department.as_deref().unwrap_or(""));
            after["status"] = json!("routed");
            after["department"] = json!(r.department);
        }
        if !hints.is_empty() {
            after["possible_duplicates"] = json!(hints.iter().map(|h| h.id).collect::<Vec<_>>());
        }
        let record = audit::NewRecord {
            actor: actor.clone(),
            action: "appeal.raise".into(),
            object: format!("appeal:{id}"),
            before: None,
            after: Some(after),
        };
        let mut item = AppealItem {
            id,
            credit_code: code.to_string(),
            company_name,
            category,
            title: title.to_string(),
            body: body.to_string(),
            status: state.status,
            department_id,
            department_code: state.department.clone(),
            department_name,
            raised_by: Some(user.id),
            visit_id,
            reply_days: state.reply_days as i64,
            resolve_days: state.resolve_days as i64,
            raised_at: ms(now),
            routed_at: state.routed_at.map(ms),
            reply_due: state.reply_due.map(ms),
            resolve_due: state.resolve_due.map(ms),
            due_at: state.current_deadline().map(ms),
            accepted_at: state.accepted_at.map(ms),
            replied_at: state.replied_at.map(ms),
            resolved_at: state.resolved_at.map(ms),
            closed_at: state.closed_at.map(ms),
            satisfaction: state.satisfaction.map(i64::from),
            escalation: state.escalation,
            escalated_at: None,
            reopened: state.reopened as i64,
            updated_at: ms(now),
            flag: None,
        };
        item.flag = state.flag(now, calendar());
        Ok((item, hints, record))
    }

    /// One appeal with its history, if the user may see it.
    pub async fn appeal(&self, user: &User, id: i64, now: Timestamp) -> Result<Option<AppealDetail>> {
        let mut params = Params::default();
        let p = params.push(Bind::Int(id));
        let clause = reach_clause(&Reach::of(user), &mut params);
        let sql = format!("SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE a.id = {p} AND {clause}");
        let Some(row) = params.bind(sqlx::query(AssertSqlSafe(sql))).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let appeal = appeal_from_row(&row, Some(now))?;
        let rows = sqlx::query(
            "SELECT ev.at, ev.user_id, u.display_name, ev.kind, ev.status_after, ev.note FROM appeal_events ev
             LEFT JOIN users u ON u.id = ev.user_id WHERE ev.appeal_id = $1 ORDER BY ev.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let events = rows
            .iter()
            .map(|r| {
                Ok(AppealEvent {
                    at: r.try_get(0)?,
                    user_id: r.try_get(1)?,
                    user_name: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    status_after: r.try_get(4)?,
                    note: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let follow_up = sqlx::query("SELECT called_at, reached, satisfaction, note FROM follow_up_calls WHERE appeal_id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| {
                Ok::<_, StoreError>(FollowUp {
                    called_at: r.try_get(0)?,
                    reached: r.try_get::<i64, _>(1)? == 1,
                    satisfaction: r.try_get(2)?,
                    note: r.try_get(3)?,
                })
            })
            .transpose()?;
        Ok(Some(AppealDetail {
            follow_up_sampled: appeal.status == Status::Closed && dadong_appeals::follow_up_sampled(id),
            appeal,
            events,
            follow_up,
        }))
    }

    /// Appeals within the user's reach, most urgent first (earliest deadline), then newest.
    pub async fn appeals(&self, user: &User, filter: &AppealFilter, now: Timestamp) -> Result<Vec<AppealItem>> {
        let mut params = Params::default();
        let mut conds = vec![reach_clause(&Reach::of(user), &mut params)];
        if let Some(status) = filter.status {
            conds.push(format!("a.status = '{}'", status.code()));
        }
        if filter.overdue {
            conds.push(format!("a.due_at < {}", ms(now)));
        }
        if filter.escalated {
            conds.push("a.escalation > 0 AND a.due_at IS NOT NULL".to_string());
        }
        if let Some(code) = &filter.credit_code {
            conds.push(format!("a.credit_code = {}", params.push(Bind::Text(code.trim().to_string()))));
        }
        let limit = if filter.limit <= 0 { 100 } else { filter.limit.min(LIST_MAX) };
        let sql = format!(
            "SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE {} ORDER BY CASE WHEN a.due_at IS NULL THEN 1 ELSE 0 END, a.due_at, a.id DESC LIMIT {limit}",
            conds.join(" AND ")
        );
        let q = params.bind(sqlx::query(AssertSqlSafe(sql)));
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| appeal_from_row(r, Some(now))).collect()
    }

    /// One step of an appeal's life by `user`: route (leaders, admins), accept, reply, resolve
    /// (the department's clerks), confirm with a score or reopen (the enterprise's agent).
    pub async fn appeal_step(&self, actor: &Actor, user: &User, id: i64, action: AppealAction, now: Timestamp) -> Result<AppealItem> {
        let note = match &action {
            AppealAction::Reply(t) => text_field("note", t, 1, dadong_appeals::NOTE_CHARS_MAX)?,
            AppealAction::Resolve(t) | AppealAction::Reopen(t) => text_field("note", t, 0, dadong_appeals::NOTE_CHARS_MAX)?,
            AppealAction::Confirm { note, .. } => text_field("note", note, 0, dadong_appeals::NOTE_CHARS_MAX)?,
            AppealAction::Route(code) => code.trim().to_string(),
            AppealAction::Accept => String::new(),
        };
        let write = AppealWrite::Step {
            actor: actor.clone(),
            user: user.clone(),
            id,
            action,
            note,
            now,
        };
        Ok(self.appeals_writer.submit(self, "appeals", id as u64, write, Store::write_appeals).await??.item)
    }

    /// One step of an appeal's life, checked against who acts and the rules, inside the
    /// writer's transaction.
    #[allow(clippy::too_many_arguments)]
    async fn step_in(
        &self,
        tx: &mut AnyConnection,
        known: &mut Known,
        pending: &mut Pending,
        actor: &Actor,
        user: &User,
        id: i64,
        action: &AppealAction,
        note: &str,
        now: Timestamp,
    ) -> Result<(audit::NewRecord, AppealItem)> {
        let mut params = Params::default();
        let p = params.push(Bind::Int(id));
        let clause = reach_clause(&Reach::of(user), &mut params);
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE OF a" } else { "" };
        let sql = format!("SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE a.id = {p} AND {clause}{lock}");
        let row = params
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("appeal {id}")))?;
        let item = appeal_from_row(&row, None)?;
        let who_may = match action {
            AppealAction::Route(_) => matches!(user.role, Role::Leader | Role::Admin),
            AppealAction::Accept | AppealAction::Reply(_) | AppealAction::Resolve(_) => {
                user.role == Role::Admin || (user.role == Role::Clerk && user.department_id.is_some() && user.department_id == item.department_id)
            }
            AppealAction::Confirm { .. } | AppealAction::Reopen(_) => {
                user.role == Role::Enterprise && user.company_code.as_deref() == Some(item.credit_code.as_str())
            }
        };
        if !who_may {
            let who = match action {
                AppealAction::Route(_) => "a leader or an admin routes an appeal by hand",
                AppealAction::Accept | AppealAction::Reply(_) | AppealAction::Resolve(_) => {
                    "only the clerks of the appeal's department accept, reply to and resolve it"
                }
                _ => "only the enterprise's own agent confirms or reopens its appeal",
            };
            return Err(StoreError::invalid("user", who));
        }
        let (event, kind) = match action {
            AppealAction::Route(code) => {
                let promise = known.routing_table(tx).await?.route(item.category).ok();
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM departments WHERE code = $1")
                    .bind(code.trim())
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    return Err(StoreError::invalid("department", format!("there is no department '{}'", code.trim())));
                }
                let to = RouteTo {
                    department: code.trim().to_string(),
                    reply_days: promise.as_ref().map(|p| p.reply_days).unwrap_or(dadong_appeals::REPLY_DAYS_DEFAULT),
                    resolve_days: promise.as_ref().map(|p| p.resolve_days).unwrap_or(dadong_appeals::RESOLVE_DAYS_DEFAULT),
                };
                (Event::Route(to), "route")
            }
            AppealAction::Accept => (Event::Accept, "accept"),
            AppealAction::Reply(_) => (Event::Reply, "reply"),
            AppealAction::Resolve(_) => (Event::Resolve, "resolve"),
            AppealAction::Confirm { score, .. } => (Event::Confirm { score: *score }, "confirm"),
            AppealAction::Reopen(_) => (Event::Reopen, "reopen"),
        };
        let next = dadong_appeals::apply(&item.rules(), event, now, calendar()).map_err(refused)?;
        let department = match &next.department {
            Some(code) if next.department != item.department_code => {
                let (id, name) = known.department(tx, code).await?;
                (Some(id), Some(name))
            }
            _ => (item.department_id, item.department_name.clone()),
        };
        let after_item = item.after(&next, department, now);
        pending.event(id, now, Some(user.id), kind, next.status, note);
        pending.states.push((item.clone(), after_item.clone()));
        let mut after = json!({"status": next.status.code()});
        if let Some(s) = next.satisfaction {
            after["satisfaction"] = json!(s);
        }
        if kind == "route" {
            after["department"] = json!(next.department);
        }
        let record = audit::NewRecord {
            actor: actor.clone(),
            action: format!("appeal.{kind}"),
            object: format!("appeal:{id}"),
            before: Some(json!({"status": item.status.code()})),
            after: Some(after),
        };
        Ok((record, after_item))
    }

    /// Moves every overdue appeal one step up the escalation ladder that is due at `now`:
    /// past its deadline to the department head; two working days later to the responsible
    /// leader. Each step is its own event and audit record. Running it again at the same
    /// `now` changes nothing more than the second step that became due.
    pub async fn escalate(&self, actor: &Actor, now: Timestamp) -> Result<EscalationRun> {
        let mut run = EscalationRun::default();
        let mut after_id = 0i64;
        loop {
            let mut tx = self.begin_write().await?;
            let sql = format!(
                "SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE a.due_at < $1 AND a.escalation < 2 AND a.id > $2 ORDER BY a.id LIMIT {ESCALATION_BATCH}"
            );
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(ms(now)).bind(after_id).fetch_all(&mut *tx).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let item = appeal_from_row(row, None)?;
                after_id = item.id;
                let Ok(next) = dadong_appeals::apply(&item.rules(), Event::Escalate, now, calendar()) else {
                    continue;
                };
                let updated = sqlx::query("UPDATE appeals SET escalation = $1, escalated_at = $2, updated_at = $2 WHERE id = $3 AND escalation = $4")
                    .bind(next.escalation.level())
                    .bind(ms(now))
                    .bind(item.id)
                    .bind(item.escalation.level())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if updated == 0 {
                    continue;
                }
                let to = match next.escalation {
                    Escalation::Leader => {
                        run.to_leader += 1;
                        let leader: Option<String> = sqlx::query_scalar(
                            "SELECT u.display_name FROM service_assignments s JOIN users u ON u.id = s.user_id
                             WHERE s.kind = 'enterprise' AND s.target = $1 AND s.duty = 'leader' ORDER BY s.id LIMIT 1",
                        )
                        .bind(&item.credit_code)
                        .fetch_optional(&mut *tx)
                        .await?;
                        format!("leader: {}", leader.unwrap_or_else(|| "district leadership".into()))
                    }
                    _ => {
                        run.to_department_head += 1;
                        format!("department head: {}", item.department_name.clone().unwrap_or_default())
                    }
                };
                insert_event(&mut tx, item.id, now, None, "escalate", item.status, &to).await?;
                audit::append(
                    &mut tx,
                    self.backend(),
                    actor,
                    "appeal.escalate",
                    &format!("appeal:{}", item.id),
                    Some(&json!({"escalation": item.escalation.code()})),
                    Some(&json!({"escalation": next.escalation.code()})),
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(run)
    }

    /// Records the follow-up call (回访) of a closed appeal: by a leader, an admin, or a clerk
    /// of its department.
    pub async fn record_follow_up(&self, actor: &Actor, user: &User, id: i64, call: &FollowUpCall, now: Timestamp) -> Result<()> {
        let (reached, satisfaction) = (call.reached, call.satisfaction);
        let note = text_field("note", &call.note, 0, dadong_appeals::NOTE_CHARS_MAX)?;
        if let Some(s) = satisfaction
            && !(1..=5).contains(&s)
        {
            return Err(StoreError::invalid("satisfaction", format!("a score from 1 to 5 (got {s})")));
        }
        let item = self.appeal(user, id, now).await?.ok_or_else(|| StoreError::NotFound(format!("appeal {id}")))?;
        if !matches!(user.role, Role::Leader | Role::Admin | Role::Clerk) {
            return Err(StoreError::invalid("user", "follow-up calls are made by the department or the leadership"));
        }
        if item.appeal.status != Status::Closed {
            return Err(StoreError::Conflict(format!(
                "the appeal is {}: only a closed appeal gets a follow-up call",
                item.appeal.status
            )));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO follow_up_calls (appeal_id, user_id, called_at, reached, satisfaction, note) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(user.id)
            .bind(ms(now))
            .bind(reached as i64)
            .bind(satisfaction.map(i64::from))
            .bind(&note)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!("appeal {id} already has its follow-up call")),
                _ => e.into(),
            })?;
        let after = json!({"reached": reached, "satisfaction": satisfaction});
        audit::append(&mut tx, self.backend(), actor, "appeal.follow_up", &format!("appeal:{id}"), None, Some(&after)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The appeals figures of a period `[from, to)` (milliseconds): raised, resolved, overdue at
    /// its end, the on-time share and satisfaction by department and category.
    pub async fn appeal_figures(&self, from_ms: i64, to_ms: i64) -> Result<AppealFigures> {
        let scalar = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(from_ms).bind(to_ms);
        let raised = scalar("SELECT COUNT(*) FROM appeals WHERE raised_at >= $1 AND raised_at < $2")
            .fetch_one(self.pool())
            .await?;
        let resolved = scalar("SELECT COUNT(*) FROM appeals WHERE resolved_at >= $1 AND resolved_at < $2")
            .fetch_one(self.pool())
            .await?;
        let on_time = scalar("SELECT COUNT(*) FROM appeals WHERE resolved_at >= $1 AND resolved_at < $2 AND resolved_at <= resolve_due")
            .fetch_one(self.pool())
            .await?;
        // Open at the end of the period: raised before it ended and not resolved by then. Its
        // deadline then: the reply deadline if no reply had come by then, else the resolve one.
        // (A reopened appeal counts from its latest routing, as the history keeps one clock.)
        let overdue: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM appeals WHERE raised_at < $1 AND routed_at IS NOT NULL AND routed_at < $1
               AND (resolved_at IS NULL OR resolved_at >= $1)
               AND CASE WHEN replied_at IS NULL OR replied_at >= $1 THEN reply_due ELSE resolve_due END < $1",
        )
        .bind(to_ms)
        .fetch_one(self.pool())
        .await?;
        let closed_sat: (i64, i64) =
            sqlx::query("SELECT COUNT(*), CAST(COALESCE(SUM(satisfaction), 0) AS BIGINT) FROM appeals WHERE closed_at >= $1 AND closed_at < $2")
                .bind(from_ms)
                .bind(to_ms)
                .fetch_one(self.pool())
                .await
                .and_then(|r| Ok((r.try_get(0)?, r.try_get(1)?)))?;
        let follow_up_calls = scalar("SELECT COUNT(*) FROM follow_up_calls WHERE called_at >= $1 AND called_at < $2")
            .fetch_one(self.pool())
            .await?;
        let lines = |key: &str| {
            format!(
                "SELECT {key},
                   SUM(CASE WHEN a.raised_at >= $1 AND a.raised_at < $2 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN a.resolved_at >= $1 AND a.resolved_at < $2 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN a.closed_at >= $1 AND a.closed_at < $2 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN a.closed_at >= $1 AND a.closed_at < $2 THEN a.satisfaction ELSE 0 END)
                 FROM appeals a LEFT JOIN departments d ON d.id = a.department_id
                 WHERE (a.raised_at >= $1 AND a.raised_at < $2) OR (a.resolved_at >= $1 AND a.resolved_at < $2) OR (a.closed_at >= $1 AND a.closed_at < $2)
                 GROUP BY {key} ORDER BY {key}"
            )
        };
        let mut by = Vec::new();
        for key in ["COALESCE(d.code, '-')", "a.category"] {
            // SUM over integers is NUMERIC on PostgreSQL: cast each to BIGINT for the Any driver.
            let sql = lines(key).replace("SUM(", "CAST(SUM(").replace(" END)", " END) AS BIGINT)");
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(to_ms).fetch_all(self.pool()).await?;
            let mut out = Vec::new();
            for r in &rows {
                let closed: i64 = r.try_get(3)?;
                let sum: i64 = r.try_get(4)?;
                out.push(SatisfactionLine {
                    key: r.try_get(0)?,
                    raised: r.try_get(1)?,
                    resolved: r.try_get(2)?,
                    closed,
                    satisfaction: one_decimal(sum, closed),
                });
            }
            by.push(out);
        }
        let by_category = by.pop().unwrap_or_default();
        let by_department = by.pop().unwrap_or_default();
        Ok(AppealFigures {
            raised,
            resolved,
            overdue,
            on_time_pct: one_decimal(on_time * 100, resolved),
            closed: closed_sat.0,
            satisfaction: one_decimal(closed_sat.1, closed_sat.0),
            by_department,
            by_category,
            follow_up_calls,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Key enterprises: figures, plans, the board

    /// Names a key enterprise; one removed before comes back with its figures and plans.
    pub async fn add_key_enterprise(&self, actor: &Actor, credit_code: &str) -> Result<()> {
        let code = CreditCode::parse(credit_code).map_err(|e| StoreError::invalid("credit_code", e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO key_enterprises (credit_code, added_at) VALUES ($1, $2)
             ON CONFLICT (credit_code) DO UPDATE SET added_at = excluded.added_at, removed_at = NULL
             WHERE key_enterprises.removed_at IS NOT NULL",
        )
        .bind(code.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            audit::append(
                &mut tx,
                self.backend(),
                actor,
                "key_enterprise.add",
                &format!("enterprise:{}", code.as_str()),
                None,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes an enterprise off the key list: off the board and the plan and figure forms. What
    /// it reported and its plans stay on record, and naming it again brings them back.
    pub async fn remove_key_enterprise(&self, actor: &Actor, credit_code: &str) -> Result<()> {
        let credit_code = credit_code.trim();
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE key_enterprises SET removed_at = $1 WHERE credit_code = $2 AND removed_at IS NULL")
            .bind(now_ms())
            .bind(credit_code)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("key enterprise {credit_code}")));
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "key_enterprise.remove",
            &format!("enterprise:{credit_code}"),
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a key enterprise's plan for one metric and month.
    pub async fn set_monthly_plan(&self, actor: &Actor, credit_code: &str, period: Period, metric: Metric, value: i64) -> Result<()> {
        if value < 0 {
            return Err(StoreError::invalid("value", format!("must not be negative (got {value})")));
        }
        let mut tx = self.begin_write().await?;
        self.require_key(&mut tx, credit_code).await?;
        let p = i64::from(period.year()) * 100 + i64::from(period.month());
        sqlx::query(
            "INSERT INTO monthly_plans (credit_code, period, metric, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (credit_code, period, metric) DO UPDATE SET value = excluded.value",
        )
        .bind(credit_code)
        .bind(p)
        .bind(metric.code())
        .bind(value)
        .execute(&mut *tx)
        .await?;
        let after = json!({"period": p, "metric": metric.code(), "value": value});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "monthly_plan.set",
            &format!("enterprise:{credit_code}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn require_key(&self, conn: &mut AnyConnection, credit_code: &str) -> Result<()> {
        let key: Option<String> = sqlx::query_scalar("SELECT credit_code FROM key_enterprises WHERE credit_code = $1 AND removed_at IS NULL")
            .bind(credit_code)
            .fetch_optional(&mut *conn)
            .await?;
        if key.is_none() {
            return Err(StoreError::invalid("credit_code", format!("{credit_code} is not a key enterprise")));
        }
        Ok(())
    }

    /// Stores a key enterprise's figures for a day (or a week, dated on its last day), replacing
    /// what was reported for that day. `today` is the date in Asia/Shanghai.
    pub async fn report_daily_figures(&self, actor: &Actor, user: &User, credit_code: &str, figure: &DailyFigure, today: Date) -> Result<()> {
        figure.validate(today).map_err(|e| {
            let field = match &e {
                dadong_appeals::FigureError::FutureDate { .. } => "date".to_string(),
                dadong_appeals::FigureError::Negative { metric, .. } | dadong_appeals::FigureError::Twice(metric) => metric.to_string(),
                dadong_appeals::FigureError::Empty => "values".to_string(),
            };
            let msg = e.to_string();
            let msg = msg.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(msg);
            StoreError::invalid(field, msg)
        })?;
        let may = match user.role {
            Role::Enterprise => user.company_code.as_deref() == Some(credit_code),
            Role::Admin | Role::Analyst => true,
            Role::Cadre => self.acts_for(user, credit_code).await?,
            _ => false,
        };
        if !may {
            return Err(StoreError::invalid("credit_code", format!("you do not report for enterprise {credit_code}")));
        }
        let mut tx = self.begin_write().await?;
        self.require_key(&mut tx, credit_code).await?;
        let day = figure.date.to_string();
        for (metric, value) in &figure.values {
            sqlx::query(
                "INSERT INTO daily_figures (credit_code, day, metric, value, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (credit_code, day, metric) DO UPDATE SET value = excluded.value, recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
            )
            .bind(credit_code)
            .bind(&day)
            .bind(metric.code())
            .bind(*value)
            .bind(user.id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        let after = json!({"day": day, "values": figure.values.iter().map(|(m, v)| (m.code(), *v)).collect::<std::collections::BTreeMap<_, _>>()});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "daily_figure.report",
            &format!("enterprise:{credit_code}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The key enterprises with their month-to-date figures against plan and last year.
    pub async fn key_figures(&self, today: Date) -> Result<Vec<KeyFigureLine>> {
        let month_start = today.first_of_month();
        let ly_today = today.checked_sub(jiff::Span::new().years(1)).unwrap_or(today);
        let ly_start = ly_today.first_of_month();
        let period = i64::from(today.year()) * 100 + i64::from(today.month());
        let rows = sqlx::query(
            "SELECT k.credit_code, e.name, (SELECT MAX(day) FROM daily_figures f WHERE f.credit_code = k.credit_code)
             FROM key_enterprises k LEFT JOIN enterprises e ON e.credit_code = k.credit_code WHERE k.removed_at IS NULL ORDER BY k.credit_code",
        )
        .fetch_all(self.pool())
        .await?;
        // Month-to-date sums (flows) and latest values (stocks) for this year and last, and
        // this month's plans, each in one grouped query.
        let sums = |from: String, to: String| {
            sqlx::query("SELECT credit_code, metric, CAST(SUM(value) AS BIGINT) FROM daily_figures WHERE day >= $1 AND day <= $2 GROUP BY credit_code, metric")
                .bind(from)
                .bind(to)
        };
        let mut flows = std::collections::HashMap::new();
        for r in sums(month_start.to_string(), today.to_string()).fetch_all(self.pool()).await? {
            flows.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?), r.try_get::<i64, _>(2)?);
        }
        let mut flows_ly = std::collections::HashMap::new();
        for r in sums(ly_start.to_string(), ly_today.to_string()).fetch_all(self.pool()).await? {
            flows_ly.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?), r.try_get::<i64, _>(2)?);
        }
        let latest = |upto: String| {
            sqlx::query(
                "SELECT f.credit_code, f.metric, f.value FROM daily_figures f
                 JOIN (SELECT credit_code, metric, MAX(day) AS day FROM daily_figures WHERE day <= $1 AND metric IN ('headcount', 'parts_stock') GROUP BY credit_code, metric) m
                   ON m.credit_code = f.credit_code AND m.metric = f.metric AND m.day = f.day",
            )
            .bind(upto)
        };
        let mut stocks = std::collections::HashMap::new();
        for r in latest(today.to_string()).fetch_all(self.pool()).await? {
            stocks.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?), r.try_get::<i64, _>(2)?);
        }
        let mut stocks_ly = std::collections::HashMap::new();
        for r in latest(ly_today.to_string()).fetch_all(self.pool()).await? {
            stocks_ly.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?), r.try_get::<i64, _>(2)?);
        }
        let mut plans = std::collections::HashMap::new();
        for r in sqlx::query("SELECT credit_code, metric, value FROM monthly_plans WHERE period = $1")
            .bind(period)
            .fetch_all(self.pool())
            .await?
        {
            plans.insert((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?), r.try_get::<i64, _>(2)?);
        }
        let days_in_month = i64::from(today.days_in_month());
        let days_gone = i64::from(today.day());
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let code: String = r.try_get(0)?;
            let mut metrics = Vec::new();
            for metric in Metric::ALL {
                let key = (code.clone(), metric.code().to_string());
                let (value, last_year) = if metric.is_flow() {
                    (flows.get(&key).copied(), flows_ly.get(&key).copied())
                } else {
                    (stocks.get(&key).copied(), stocks_ly.get(&key).copied())
                };
                let plan = plans.get(&key).copied();
                let flag = match (value, plan) {
                    (Some(v), Some(p)) if metric.is_flow() => dadong_appeals::plan_flag(v, p, days_gone, days_in_month),
                    // A stock is held against its plan as it stands, not pro rata.
                    (Some(v), Some(p)) => dadong_appeals::plan_flag(v, p, days_in_month, days_in_month),
                    _ => None,
                };
                metrics.push(MetricLine {
                    metric,
                    value,
                    plan,
                    last_year,
                    growth_tenths: value.zip(last_year).and_then(|(v, l)| dadong_appeals::figures::growth_tenths(v, l)),
                    flag,
                });
            }
            let flag = metrics.iter().filter_map(|m| m.flag).max();
            out.push(KeyFigureLine {
                credit_code: code,
                name: r.try_get(1)?,
                latest_day: r.try_get(2)?,
                metrics,
                flag,
            });
        }
        Ok(out)
    }

    pub async fn create_dispatch_task(&self, actor: &Actor, creator: &User, title: &str, owner_user_id: i64, due_date: Date) -> Result<i64> {
        let title = text_field("title", title, 1, 200)?;
        if self.user(owner_user_id).await?.is_none() {
            return Err(StoreError::invalid("owner", format!("there is no user {owner_user_id}")));
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dispatch_tasks (title, owner_user_id, due_date, status, created_by, created_at) VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id",
        )
        .bind(&title)
        .bind(owner_user_id)
        .bind(due_date.to_string())
        .bind(creator.id)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let after = json!({"owner": owner_user_id, "due_date": due_date.to_string()});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "dispatch_task.create",
            &format!("dispatch_task:{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The dispatch board at `now`: key enterprises' figures against plan and last year,
    /// overdue and escalated appeals, projects whose latest visit raised problems, and the
    /// open dispatch tasks due today or earlier.
    pub async fn dispatch_board(&self, now: Timestamp) -> Result<DispatchBoard> {
        let today = dadong_appeals::local_date(now);
        let key_enterprises = self.key_figures(today).await?;
        let overdue_sql = format!("SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE a.due_at < $1 ORDER BY a.escalation DESC, a.due_at LIMIT 50");
        let overdue = sqlx::query(AssertSqlSafe(overdue_sql))
            .bind(ms(now))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| appeal_from_row(r, Some(now)))
            .collect::<Result<Vec<_>>>()?;
        let escalated_sql = format!(
            "SELECT {APPEAL_COLUMNS} FROM {APPEAL_FROM} WHERE a.escalation > 0 AND a.due_at IS NOT NULL ORDER BY a.escalation DESC, a.escalated_at DESC LIMIT 50"
        );
        let escalated = sqlx::query(AssertSqlSafe(escalated_sql))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| appeal_from_row(r, Some(now)))
            .collect::<Result<Vec<_>>>()?;
        let open_appeals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM appeals WHERE due_at IS NOT NULL")
            .fetch_one(self.pool())
            .await?;
        let rows = sqlx::query(
            "SELECT p.project_id, p.name, v.visit_date, v.problems FROM visits v
             JOIN (SELECT target, MAX(id) AS id FROM visits WHERE kind = 'project' GROUP BY target) last ON last.id = v.id
             JOIN projects p ON p.project_id = v.target
             WHERE v.problems <> '' ORDER BY v.visit_date DESC LIMIT 50",
        )
        .fetch_all(self.pool())
        .await?;
        let projects_with_problems = rows
            .iter()
            .map(|r| {
                Ok(ProjectProblem {
                    project_id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    visit_date: r.try_get(2)?,
                    problems: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let rows = sqlx::query(
            "SELECT t.id, t.title, t.owner_user_id, u.display_name, t.due_date, t.status FROM dispatch_tasks t JOIN users u ON u.id = t.owner_user_id
             WHERE t.status = 'open' AND t.due_date <= $1 ORDER BY t.due_date, t.id LIMIT 200",
        )
        .bind(today.saturating_add(jiff::Span::new().days(UPCOMING_DAYS)).to_string())
        .fetch_all(self.pool())
        .await?;
        let tasks: Vec<DispatchTask> = rows
            .iter()
            .map(|r| {
                Ok(DispatchTask {
                    id: r.try_get(0)?,
                    title: r.try_get(1)?,
                    owner_user_id: r.try_get(2)?,
                    owner_name: r.try_get(3)?,
                    due_date: r.try_get(4)?,
                    status: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Dates are ISO text, so they order as text.
        let today_text = today.to_string();
        let (tasks_today, tasks_upcoming) = tasks.into_iter().partition(|t| t.due_date <= today_text);
        Ok(DispatchBoard {
            today: today.to_string(),
            key_enterprises,
            overdue,
            escalated,
            open_appeals,
            projects_with_problems,
            tasks_today,
            tasks_upcoming,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Management added with the admin pages: removing an assignment, closing a dispatch task.

    /// Ends `user_id`'s assignment to an enterprise or project. A cadre's enterprise leaves
    /// its sign-in scope with it (see [`Store::assigned_companies`]), unless the cadre was also
    /// given the enterprise directly with [`Store::assign_company`]. An assignment that does
    /// not exist is "not found".
    pub async fn unassign(&self, actor: &Actor, kind: TargetKind, target: &str, user_id: i64) -> Result<()> {
        let target = target.trim();
        let mut tx = self.begin_write().await?;
        let duty: Option<String> = sqlx::query_scalar("SELECT duty FROM service_assignments WHERE kind = $1 AND target = $2 AND user_id = $3")
            .bind(kind.code())
            .bind(target)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(duty) = duty else {
            return Err(StoreError::NotFound(format!("assignment of user {user_id} to {} {target}", kind.code())));
        };
        sqlx::query("DELETE FROM service_assignments WHERE kind = $1 AND target = $2 AND user_id = $3")
            .bind(kind.code())
            .bind(target)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let before = json!({"kind": kind.code(), "target": target, "user_id": user_id, "duty": duty});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "service_assignment.remove",
            &format!("user:{user_id}"),
            Some(&before),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks an open dispatch task done. A task that does not exist is "not found"; one that
    /// is done already is a conflict, and nothing changes.
    pub async fn complete_dispatch_task(&self, actor: &Actor, id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM dispatch_tasks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        match status.as_deref() {
            None => return Err(StoreError::NotFound(format!("dispatch task {id}"))),
            Some("open") => {}
            Some(_) => return Err(StoreError::Conflict(format!("dispatch task {id} is done already"))),
        }
        sqlx::query("UPDATE dispatch_tasks SET status = 'done', done_at = $1 WHERE id = $2 AND status = 'open'")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "dispatch_task.complete",
            &format!("dispatch_task:{id}"),
            Some(&json!({"status": "open"})),
            Some(&json!({"status": "done"})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What one group of appeal writes reads once: the routing table and departments (no rule
/// or department changes while the group holds the write lock).
#[derive(Default)]
struct Known {
    table: Option<RoutingTable>,
    departments: std::collections::HashMap<String, (i64, String)>,
}

impl Known {
    async fn routing_table(&mut self, conn: &mut AnyConnection) -> Result<&RoutingTable> {
        if self.table.is_none() {
            self.table = Some(routing_table_in(conn).await?);
        }
        Ok(self.table.as_ref().expect("just read"))
    }

    /// The id and name of the department with `code`.
    async fn department(&mut self, conn: &mut AnyConnection, code: &str) -> Result<(i64, String)> {
        if let Some(known) = self.departments.get(code) {
            return Ok(known.clone());
        }
        let row = sqlx::query("SELECT id, name_zh FROM departments WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| StoreError::invalid("department", format!("there is no department '{code}'")))?;
        let known = (row.try_get(0)?, row.try_get(1)?);
        self.departments.insert(code.to_string(), known.clone());
        Ok(known)
    }
}

/// A group's writes not yet sent to the database: the appeals' new states, each guarded by
/// the state it was read in, and their events in order. [`Pending::flush`] sends them as two
/// statements, whatever their number.
#[derive(Default)]
struct Pending {
    /// (as read, as written)
    states: Vec<(AppealItem, AppealItem)>,
    events: Vec<serde_json::Value>,
}

/// The columns a step writes, as [`json_rows`] reads them; `was_*` is the state it was read in.
const STATE_COLUMNS: &[(&str, &str)] = &[
    ("id", "bigint"),
    ("was_status", "text"),
    ("was_updated_at", "bigint"),
    ("status", "text"),
    ("department_id", "bigint"),
    ("reply_days", "bigint"),
    ("resolve_days", "bigint"),
    ("routed_at", "bigint"),
    ("reply_due", "bigint"),
    ("resolve_due", "bigint"),
    ("due_at", "bigint"),
    ("accepted_at", "bigint"),
    ("replied_at", "bigint"),
    ("resolved_at", "bigint"),
    ("closed_at", "bigint"),
    ("satisfaction", "bigint"),
    ("escalation", "bigint"),
    ("escalated_at", "bigint"),
    ("reopened", "bigint"),
    ("updated_at", "bigint"),
];

const EVENT_COLUMNS: &[(&str, &str)] = &[
    ("n", "bigint"),
    ("appeal_id", "bigint"),
    ("at", "bigint"),
    ("user_id", "bigint"),
    ("kind", "text"),
    ("status_after", "text"),
    ("note", "text"),
];

impl Pending {
    /// Whether a write to appeal `id` is waiting.
    fn touches(&self, id: i64) -> bool {
        self.states.iter().any(|(before, _)| before.id == id)
    }

    /// Whether a write to one of the enterprise's appeals is waiting.
    fn touches_company(&self, code: &str) -> bool {
        self.states.iter().any(|(before, _)| before.credit_code == code)
    }

    fn event(&mut self, appeal_id: i64, at: Timestamp, user_id: Option<i64>, kind: &str, status_after: Status, note: &str) {
        self.events.push(json!({
            "n": self.events.len(), "appeal_id": appeal_id, "at": ms(at), "user_id": user_id, "kind": kind,
            "status_after": status_after.code(), "note": note,
        }));
    }

    /// Writes what is waiting. A state whose row no longer holds the state it was read in
    /// fails the whole flush (the group is then carried out again one write at a time).
    async fn flush(&mut self, conn: &mut AnyConnection, backend: Backend) -> Result<()> {
        let states = std::mem::take(&mut self.states);
        let events = std::mem::take(&mut self.events);
        if !states.is_empty() {
            static SQL: PerBackend = PerBackend::new();
            let sql = SQL.get(backend, |b| {
                let set: Vec<String> = STATE_COLUMNS[3..].iter().map(|(c, _)| format!("{c} = t.{c}")).collect();
                format!(
                    "UPDATE appeals SET {} FROM {} WHERE appeals.id = t.id AND appeals.status = t.was_status AND appeals.updated_at = t.was_updated_at",
                    set.join(", "),
                    json_rows(b, 1, STATE_COLUMNS)
                )
            });
            let rows: Vec<serde_json::Value> = states
                .iter()
                .map(|(before, after)| {
                    json!({
                        "id": before.id, "was_status": before.status.code(), "was_updated_at": before.updated_at,
                        "status": after.status.code(), "department_id": after.department_id, "reply_days": after.reply_days,
                        "resolve_days": after.resolve_days, "routed_at": after.routed_at, "reply_due": after.reply_due,
                        "resolve_due": after.resolve_due, "due_at": after.due_at, "accepted_at": after.accepted_at,
                        "replied_at": after.replied_at, "resolved_at": after.resolved_at, "closed_at": after.closed_at,
                        "satisfaction": after.satisfaction, "escalation": after.escalation.level(), "escalated_at": after.escalated_at,
                        "reopened": after.reopened, "updated_at": after.updated_at,
                    })
                })
                .collect();
            let written = sqlx::query(AssertSqlSafe(sql))
                .bind(serde_json::Value::Array(rows).to_string())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if written != states.len() as u64 {
                let ids: Vec<String> = states.iter().map(|(before, _)| before.id.to_string()).collect();
                return Err(StoreError::Conflict(format!(
                    "one of appeals {} was changed meanwhile: reload it and try again",
                    ids.join(", ")
                )));
            }
        }
        if !events.is_empty() {
            static SQL: PerBackend = PerBackend::new();
            let sql = SQL.get(backend, |b| {
                format!(
                    "INSERT INTO appeal_events (appeal_id, at, user_id, kind, status_after, note)
                     SELECT t.appeal_id, t.at, t.user_id, t.kind, t.status_after, t.note FROM {} ORDER BY t.n",
                    json_rows(b, 1, EVENT_COLUMNS)
                )
            });
            sqlx::query(AssertSqlSafe(sql))
                .bind(serde_json::Value::Array(events).to_string())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

async fn routing_table_in(conn: &mut AnyConnection) -> Result<RoutingTable> {
    let rows = sqlx::query("SELECT r.category, d.code, r.reply_days, r.resolve_days FROM appeal_rules r JOIN departments d ON d.id = r.department_id")
        .fetch_all(&mut *conn)
        .await?;
    let mut rules = Vec::with_capacity(rows.len());
    let mut codes = Vec::with_capacity(rows.len());
    for r in &rows {
        let cat: String = r.try_get(0)?;
        let dept: String = r.try_get(1)?;
        codes.push(dept.clone());
        rules.push(RoutingRule {
            category: Category::parse(&cat).map_err(|e| StoreError::Config(e.to_string()))?,
            department: dept,
            reply_days: r.try_get::<i64, _>(2)? as u32,
            resolve_days: r.try_get::<i64, _>(3)? as u32,
        });
    }
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    RoutingTable::new(rules, &codes).map_err(|e| StoreError::Config(format!("stored routing rules: {e}")))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_visit(
    conn: &mut AnyConnection,
    user_id: i64,
    kind: TargetKind,
    target: &str,
    date: &str,
    people_met: &str,
    findings: &str,
    problems: &str,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO visits (user_id, kind, target, visit_date, people_met, findings, problems, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(user_id)
    .bind(kind.code())
    .bind(target)
    .bind(date)
    .bind(people_met)
    .bind(findings)
    .bind(problems)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await?)
}

async fn insert_event(
    conn: &mut AnyConnection,
    appeal_id: i64,
    at: Timestamp,
    user_id: Option<i64>,
    kind: &str,
    status_after: Status,
    note: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO appeal_events (appeal_id, at, user_id, kind, status_after, note) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(appeal_id)
        .bind(ms(at))
        .bind(user_id)
        .bind(kind)
        .bind(status_after.code())
        .bind(note)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A report's period, January of `through`'s year to the end of `through`, as milliseconds
/// `[from, to)` on Asia/Shanghai days.
pub fn report_period_ms(through: Period) -> (i64, i64) {
    let start = jiff::civil::date(through.year(), 1, 1);
    let end = through.last_day().tomorrow().unwrap_or(through.last_day());
    (start_of_day_ms(start), start_of_day_ms(end))
}

/// Midnight at the start of `d` in Asia/Shanghai, in milliseconds.
fn start_of_day_ms(d: Date) -> i64 {
    d.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decimal_rounds_half_away_from_zero() {
        assert_eq!(one_decimal(2, 3).as_deref(), Some("0.7"));
        assert_eq!(one_decimal(1, 8).as_deref(), Some("0.1"));
        assert_eq!(one_decimal(3, 8).as_deref(), Some("0.4"));
        assert_eq!(one_decimal(9, 2).as_deref(), Some("4.5"));
        assert_eq!(one_decimal(1, 0), None);
    }
}

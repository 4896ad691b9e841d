//! Bulk loading of enterprise-service records, for the demo district: assignments, visits,
//! appeals with their whole history (states worked out beforehand by the lifecycle rules of
//! `dadong_appeals`), daily figures and plans, dispatch tasks. Each load is one transaction
//! with one audit record naming what was loaded, as an import is, so that a district's worth
//! of records takes well under a second instead of thousands of single commits.

use crate::appeals::{Duty, TargetKind};
use crate::audit::{self, Actor};
use crate::{Backend, Result, Store, StoreError, now_ms, placeholders, rows_per_insert};
use dadong_appeals::{Appeal, Metric, Status};
use jiff::Timestamp;
use serde_json::json;
use sqlx::AssertSqlSafe;

/// One step of an appeal's history.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub at: Timestamp,
    pub user_id: Option<i64>,
    pub kind: &'static str,
    pub status_after: Status,
    pub note: String,
}

/// An appeal as it stands, with the history that brought it there.
#[derive(Debug, Clone)]
pub struct AppealRecord {
    pub credit_code: String,
    pub title: String,
    pub body: String,
    pub raised_by: Option<i64>,
    pub state: Appeal,
    pub events: Vec<EventRecord>,
    /// The follow-up call, recorded when the appeal is closed and drawn for the sample.
    pub follow_up: Option<(Timestamp, bool, Option<u8>, String)>,
}

#[derive(Debug, Clone)]
pub struct VisitRecord {
    pub user_id: i64,
    pub kind: TargetKind,
    pub target: String,
    pub visit_date: String,
    pub people_met: String,
    pub findings: String,
    pub problems: String,
}

async fn insert_rows(tx: &mut sqlx::AnyConnection, backend: Backend, head: &str, width: usize, rows: Vec<Vec<Value>>) -> Result<()> {
    for chunk in rows.chunks(rows_per_insert(backend, width)) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * width + 1, width))).collect();
        let sql = format!("{head} VALUES {}", values.join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    Value::Int(i) => q.bind(*i),
                    Value::OptInt(i) => q.bind(*i),
                    Value::Text(t) => q.bind(t.clone()),
                };
            }
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

enum Value {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Store {
    /// Stores many assignments at once (a cadre's enterprises are in its sign-in scope by them).
    pub async fn load_assignments(&self, actor: &Actor, rows: &[(TargetKind, String, i64, Duty)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let mut a = Vec::new();
        for (kind, target, user, duty) in rows {
            a.push(vec![
                Value::Text(kind.code().into()),
                Value::Text(target.clone()),
                Value::Int(*user),
                Value::Text(duty.code().into()),
                Value::Int(now),
            ]);
        }
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO service_assignments (kind, target, user_id, duty, created_at)",
            5,
            a,
        )
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "service_assignment.load",
            "store",
            None,
            Some(&json!({"assignments": rows.len()})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn load_visits(&self, actor: &Actor, visits: &[VisitRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        let rows = visits
            .iter()
            .map(|v| {
                vec![
                    Value::Int(v.user_id),
                    Value::Text(v.kind.code().into()),
                    Value::Text(v.target.clone()),
                    Value::Text(v.visit_date.clone()),
                    Value::Text(v.people_met.clone()),
                    Value::Text(v.findings.clone()),
                    Value::Text(v.problems.clone()),
                    Value::Int(now),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO visits (user_id, kind, target, visit_date, people_met, findings, problems, created_at)",
            8,
            rows,
        )
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "visit.load",
            "store",
            None,
            Some(&json!({"visits": visits.len()})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores appeals with their histories. Each record's state must be one the lifecycle
    /// reaches (the caller ran the rules); the departments must exist.
    pub async fn load_appeals(&self, actor: &Actor, records: &[AppealRecord]) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let depts: Vec<(i64, String)> = sqlx::query_as("SELECT id, code FROM departments").fetch_all(&mut *tx).await?;
        let mut events = Vec::new();
        let mut follow_ups = Vec::new();
        for r in records {
            let s = &r.state;
            if s.status == Status::Closed && s.satisfaction.is_none() {
                return Err(StoreError::invalid("satisfaction", "a closed appeal has a score"));
            }
            let department_id = match &s.department {
                Some(code) => Some(
                    depts
                        .iter()
                        .find(|(_, c)| c == code)
                        .map(|(id, _)| *id)
                        .ok_or_else(|| StoreError::invalid("department", format!("there is no department '{code}'")))?,
                ),
                None => None,
            };
            let updated = r.events.last().map(|e| ms(e.at)).unwrap_or(ms(s.raised_at));
            let escalated_at = r.events.iter().rev().find(|e| e.kind == "escalate").map(|e| ms(e.at));
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO appeals (credit_code, category, title, body, status, department_id, raised_by, visit_id, reply_days, resolve_days,
                                      raised_at, routed_at, reply_due, resolve_due, due_at, accepted_at, replied_at, resolved_at, closed_at,
                                      satisfaction, escalation, escalated_at, reopened, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) RETURNING id",
            )
            .bind(&r.credit_code)
            .bind(s.category.code())
            .bind(&r.title)
            .bind(&r.body)
            .bind(s.status.code())
            .bind(department_id)
            .bind(r.raised_by)
            .bind(s.reply_days as i64)
            .bind(s.resolve_days as i64)
            .bind(ms(s.raised_at))
            .bind(s.routed_at.map(ms))
            .bind(s.reply_due.map(ms))
            .bind(s.resolve_due.map(ms))
            .bind(s.current_deadline().map(ms))
            .bind(s.accepted_at.map(ms))
            .bind(s.replied_at.map(ms))
            .bind(s.resolved_at.map(ms))
            .bind(s.closed_at.map(ms))
            .bind(s.satisfaction.map(i64::from))
            .bind(s.escalation.level())
            .bind(escalated_at.filter(|_| s.escalation.level() > 0))
            .bind(s.reopened as i64)
            .bind(updated)
            .fetch_one(&mut *tx)
            .await?;
            for e in &r.events {
                events.push(vec![
                    Value::Int(id),
                    Value::Int(ms(e.at)),
                    Value::OptInt(e.user_id),
                    Value::Text(e.kind.into()),
                    Value::Text(e.status_after.code().into()),
                    Value::Text(e.note.clone()),
                ]);
            }
            if let (Status::Closed, Some((at, reached, score, note))) = (s.status, &r.follow_up)
                && dadong_appeals::follow_up_sampled(id)
            {
                follow_ups.push(vec![
                    Value::Int(id),
                    Value::Int(ms(*at)),
                    Value::Int(*reached as i64),
                    Value::OptInt(score.map(i64::from)),
                    Value::Text(note.clone()),
                ]);
            }
        }
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO appeal_events (appeal_id, at, user_id, kind, status_after, note)",
            6,
            events,
        )
        .await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO follow_up_calls (appeal_id, called_at, reached, satisfaction, note)",
            5,
            follow_ups,
        )
        .await?;
        let by_status: std::collections::BTreeMap<&str, usize> = records.iter().fold(Default::default(), |mut m, r| {
            *m.entry(r.state.status.code()).or_default() += 1;
            m
        });
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "appeal.load",
            "store",
            None,
            Some(&json!({"appeals": records.len(), "by_status": by_status})),
        )
        .await?;
        tx.commit().await?;
        Ok(records.len())
    }

    /// Key enterprises with their daily figures `(code, day, metric, value)` and monthly plans
    /// `(code, period YYYYMM, metric, value)`.
    pub async fn load_key_figures(
        &self,
        actor: &Actor,
        keys: &[String],
        figures: &[(String, String, Metric, i64)],
        plans: &[(String, i64, Metric, i64)],
        recorded_by: Option<i64>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO key_enterprises (credit_code, added_at)",
            2,
            keys.iter().map(|k| vec![Value::Text(k.clone()), Value::Int(now)]).collect(),
        )
        .await?;
        if figures.iter().any(|f| f.3 < 0) || plans.iter().any(|p| p.3 < 0) {
            return Err(StoreError::invalid("value", "figures and plans are not negative"));
        }
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO daily_figures (credit_code, day, metric, value, recorded_by, recorded_at)",
            6,
            figures
                .iter()
                .map(|(c, d, m, v)| {
                    vec![
                        Value::Text(c.clone()),
                        Value::Text(d.clone()),
                        Value::Text(m.code().into()),
                        Value::Int(*v),
                        Value::OptInt(recorded_by),
                        Value::Int(now),
                    ]
                })
                .collect(),
        )
        .await?;
        insert_rows(
            &mut tx,
            self.backend(),
            "INSERT INTO monthly_plans (credit_code, period, metric, value)",
            4,
            plans
                .iter()
                .map(|(c, p, m, v)| vec![Value::Text(c.clone()), Value::Int(*p), Value::Text(m.code().into()), Value::Int(*v)])
                .collect(),
        )
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "daily_figure.load",
            "store",
            None,
            Some(&json!({"key_enterprises": keys.len(), "figures": figures.len(), "plans": plans.len()})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

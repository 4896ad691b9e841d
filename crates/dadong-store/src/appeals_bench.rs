//! Synthetic appeals for `dadong bench appeals`: a million stored appeals generated inside the
//! database with set-based SQL (as `bench` does for the province), so that the timed appeal
//! lives run against tables and indexes of the size the target names.
//!
//! The generated appeals belong to codes that are not real credit codes (`BENCH…`): this data
//! is for timing only and belongs in a database of its own.

use crate::{Backend, Result, Store, StoreError};
use sqlx::AssertSqlSafe;

impl Store {
    /// Adds `n` appeals over the last two years before `now_ms`, in every state (most closed,
    /// a few thousand open), each with its `raise` event, to a store that has a department.
    pub async fn generate_bench_appeals(&self, n: i64, now_ms: i64) -> Result<()> {
        if n <= 0 {
            return Ok(());
        }
        let dept: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM departments").fetch_one(self.pool()).await?;
        let dept = dept.ok_or_else(|| StoreError::Conflict("the store has no department to route bench appeals to".into()))?;
        let first: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM appeals").fetch_one(self.pool()).await?;
        let series = match self.backend() {
            // BIGINT, so that the millisecond arithmetic below does not overflow PostgreSQL's INTEGER.
            Backend::Postgres => format!("(SELECT CAST(g AS BIGINT) AS n FROM generate_series(1, {n}) AS g) s"),
            Backend::Sqlite => format!("(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {n}) SELECT n FROM r) s"),
        };
        let day = 86_400_000i64;
        // Raised up to two years back; statuses by n % 100: 0–3 routed, 4–5 accepted, 6–7
        // replied, 8–9 resolved, the rest closed. Open ones run on deadlines a few days out.
        let raised = format!("{now_ms} - (s.n % 730) * {day} - (s.n % 86400) * 1000");
        let status = "CASE WHEN s.n % 100 < 4 THEN 'routed' WHEN s.n % 100 < 6 THEN 'accepted' WHEN s.n % 100 < 8 THEN 'replied' WHEN s.n % 100 < 10 THEN 'resolved' ELSE 'closed' END";
        let open = "s.n % 100 < 8";
        let sql = format!(
            "INSERT INTO appeals (id, credit_code, category, title, body, status, department_id, raised_by, visit_id, reply_days, resolve_days,
                                  raised_at, routed_at, reply_due, resolve_due, due_at, accepted_at, replied_at, resolved_at, closed_at,
                                  satisfaction, escalation, escalated_at, reopened, updated_at)
             SELECT {first} + s.n, 'BENCH' || CAST(s.n % 50000 AS TEXT),
                    CASE s.n % 6 WHEN 0 THEN 'labour' WHEN 1 THEN 'funding' WHEN 2 THEN 'supply_chain' WHEN 3 THEN 'approval' WHEN 4 THEN 'land' ELSE 'other' END,
                    'bench appeal ' || CAST(s.n AS TEXT), '', {status}, {dept}, NULL, NULL, 3, 15,
                    {raised}, {raised}, {raised} + 3 * {day}, {raised} + 21 * {day},
                    CASE WHEN {open} THEN {now_ms} + (s.n % 5) * {day} END,
                    CASE WHEN s.n % 100 >= 4 THEN {raised} + {day} END,
                    CASE WHEN s.n % 100 >= 6 THEN {raised} + 2 * {day} END,
                    CASE WHEN s.n % 100 >= 8 THEN {raised} + 10 * {day} END,
                    CASE WHEN s.n % 100 >= 10 THEN {raised} + 12 * {day} END,
                    CASE WHEN s.n % 100 >= 10 THEN 1 + s.n % 5 END, 0, NULL, 0, {raised}
             FROM {series}"
        );
        let events = format!(
            "INSERT INTO appeal_events (appeal_id, at, user_id, kind, status_after, note)
             SELECT {first} + s.n, {raised}, NULL, 'raise', 'raised', '' FROM {series}"
        );
        let mut tx = self.begin_write().await?;
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        sqlx::query(AssertSqlSafe(events)).execute(&mut *tx).await?;
        crate::audit::append(
            &mut tx,
            self.backend(),
            &crate::Actor::cli(),
            "bench.generate_appeals",
            "store",
            None,
            Some(&serde_json::json!({"appeals": n})),
        )
        .await?;
        tx.commit().await?;
        if self.backend() == Backend::Postgres {
            // The ids were given explicitly: move the sequence past them.
            sqlx::query("SELECT setval(pg_get_serial_sequence('appeals', 'id'), (SELECT MAX(id) FROM appeals))")
                .execute(self.pool())
                .await?;
            sqlx::query("ANALYZE appeals").execute(self.pool()).await?;
            sqlx::query("ANALYZE appeal_events").execute(self.pool()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// How many appeals are stored.
    pub async fn appeal_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM appeals").fetch_one(self.pool()).await?)
    }
}

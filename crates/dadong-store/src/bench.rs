//! Synthetic data at province scale for `dadong bench bulletin --province`: generated inside
//! the database with set-based SQL, so that millions of rows take minutes, not hours.
//!
//! The codes are not real credit codes (`PROV…`): this data is for timing only and belongs in
//! a database of its own.

use crate::{Backend, Result, Store, StoreError};
use sqlx::AssertSqlSafe;

/// The scale the performance target names: 1,000,000 market entities, 50,000 above-size
/// enterprises, 60 months of 6 indicators.
#[derive(Debug, Clone, Copy)]
pub struct ProvinceScale {
    pub entities: i64,
    pub above_size: i64,
    pub months: i64,
    pub first_year: i64,
}

pub const PROVINCE: ProvinceScale = ProvinceScale {
    entities: 1_000_000,
    above_size: 50_000,
    months: 60,
    first_year: 2019,
};

impl Store {
    fn series(&self, n: i64) -> String {
        match self.backend() {
            Backend::Postgres => format!("(SELECT g AS n FROM generate_series(1, {n}) AS g) s"),
            Backend::Sqlite => format!("(WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {n}) SELECT n FROM r) s"),
        }
    }

    /// Fills an empty store with province-scale records and builds the rollups.
    pub async fn generate_province(&self, scale: ProvinceScale) -> Result<()> {
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enterprises").fetch_one(self.pool()).await?;
        if existing > 0 {
            return Err(StoreError::Conflict(
                "the store already holds enterprises: generate province data into a new database".into(),
            ));
        }
        let ProvinceScale {
            entities,
            above_size,
            months,
            first_year,
        } = scale;
        let code = "'PROV' || CAST(s.n AS TEXT)";
        let statements = [
            format!(
                "INSERT INTO market_entities (credit_code, name, kind, registered) SELECT {code}, 'entity ' || CAST(s.n AS TEXT),
                 CASE WHEN s.n % 3 = 0 THEN 'company' ELSE 'individual' END, CASE WHEN s.n % 10 = 0 THEN '2023-05-01' ELSE '2012-03-01' END FROM {}",
                self.series(entities)
            ),
            format!(
                "INSERT INTO enterprises (credit_code, name, industry, above_size, park, registered, updated_at)
                 SELECT {code}, 'enterprise ' || CAST(s.n AS TEXT), 'C' || CAST(13 + s.n % 30 AS TEXT) || '1', 1, 'park ' || CAST(s.n % 25 AS TEXT), '2012-03-01', 0
                 FROM {}",
                self.series(above_size)
            ),
            format!(
                "INSERT INTO enterprise_tags (credit_code, tag, entered) SELECT {code}, 'high_tech', CASE WHEN s.n % 3 = 0 THEN '{y}-04-01' ELSE '2018-04-01' END FROM {} WHERE s.n % 50 = 0",
                self.series(above_size),
                y = first_year + months / 12 - 1
            ),
            format!("INSERT INTO enterprise_tags (credit_code, tag, entered) SELECT {code}, 'tech_sme', '2018-04-01' FROM {} WHERE s.n % 97 = 0", self.series(above_size)),
            // Six indicators for every enterprise and month; vehicles are built by one in 500.
            format!(
                "INSERT INTO indicator_values (credit_code, indicator, period, value)
                 SELECT 'PROV' || CAST(e.n AS TEXT), i.code, ({first_year} + (m.n - 1) / 12) * 100 + (m.n - 1) % 12 + 1,
                        CASE WHEN i.code = 'vehicles' AND e.n % 500 <> 0 THEN 0 ELSE ((e.n * 7919 + m.n * 104729 + i.k * 1299709) % 100000 + 1000) * 100 END
                 FROM {} CROSS JOIN {} CROSS JOIN (SELECT code, LENGTH(code) AS k FROM indicators) i",
                self.series(above_size).replace(") s", ") e"),
                self.series(months).replace(") s", ") m"),
            ),
            format!(
                "INSERT INTO projects (project_id, name, investment, industry, kind, signed, landed, started, completed, updated_at)
                 SELECT 'PP' || CAST(s.n AS TEXT), 'project ' || CAST(s.n AS TEXT), CAST(s.n % 50 + 1 AS BIGINT) * 2000000000, 'C361', 'industrial',
                        CAST({first_year} + s.n % 5 AS TEXT) || '-02-01', CAST({first_year} + s.n % 5 AS TEXT) || '-05-01',
                        CAST({first_year} + s.n % 5 AS TEXT) || '-07-01', CASE WHEN s.n % 4 = 0 THEN CAST({first_year} + s.n % 5 + 1 AS TEXT) || '-09-01' END, 0
                 FROM {}",
                self.series(20_000)
            ),
        ];
        let mut tx = self.begin_write().await?;
        for sql in statements {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        self.refresh_all_rollups(&mut tx).await?;
        crate::audit::append(
            &mut tx,
            self.backend(),
            &crate::Actor::cli(),
            "bench.generate_province",
            "store",
            None,
            Some(&serde_json::json!({
                "entities": entities, "above_size": above_size, "months": months
            })),
        )
        .await?;
        tx.commit().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("ANALYZE").execute(self.pool()).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Adds `n` delivered `open_company` applications of `applicant_id`, five steps each, dated
    /// over the past five years, for timing only (`dadong bench services`); one in a hundred
    /// still has a step in progress, so the departments' queues are long. Set-based SQL.
    pub async fn generate_applications(&self, n: i64, applicant_id: i64, now_ms: i64) -> Result<()> {
        let base: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM applications")
            .fetch_one(self.pool())
            .await?;
        let day = 86_400_000i64;
        let t = format!("({now_ms} - (CAST(s.n AS BIGINT) % 1800) * {day} - {day})");
        let mut tx = self.begin_write().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO applications (id, subject, kind, applicant_id, state, form_json, materials_json, provided_json, promised_days, created_at, submitted_at, accepted_at, completed_at, delivered_at, updated_at)
             SELECT {base} + s.n, 'open_company', 'bundle', {applicant_id}, CASE WHEN s.n % 100 = 0 THEN 'in_progress' ELSE 'delivered' END, '{{}}', '[]', '[]', 1,
                    {t}, {t}, {t} + 600000, CASE WHEN s.n % 100 = 0 THEN NULL ELSE {t} + 7200000 END, CASE WHEN s.n % 100 = 0 THEN NULL ELSE {t} + 7300000 END, {t} + 7300000
             FROM {}",
            self.series(n)
        )))
        .execute(&mut *tx)
        .await?;
        let steps = [
            ("licence", "market.company_registration", "market", "[]", 0),
            ("seal", "police.seal_engraving", "police", "[\"licence\"]", 1),
            ("invoice", "tax.invoice_application", "tax", "[\"licence\"]", 2),
            ("bank_account", "bank.account_opening", "bank", "[\"licence\"]", 3),
            ("social_insurance", "hrss.employer_insurance_registration", "hrss", "[\"licence\"]", 4),
        ];
        for (step, matter, department, needs, position) in steps {
            let open = if position == 0 { "1 = 0".to_string() } else { "s.n % 100 = 0".to_string() };
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO application_steps (application_id, step_id, position, matter_code, department_code, needs_json, time_limit_days, state, ready_at, deadline_at, started_at, finished_at)
                 SELECT {base} + s.n, '{step}', {position}, '{matter}', '{department}', '{needs}', {days}, CASE WHEN {open} THEN 'in_progress' ELSE 'done' END,
                        {t} + 600000, {t} + {day}, {t} + 900000, CASE WHEN {open} THEN NULL ELSE {t} + 7200000 END
                 FROM {}",
                self.series(n),
                days = if position == 0 { 0 } else { 1 },
            )))
            .execute(&mut *tx)
            .await?;
        }
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT setval(pg_get_serial_sequence('applications', 'id'), (SELECT MAX(id) FROM applications))")
                .execute(&mut *tx)
                .await?;
        }
        crate::audit::append(
            &mut tx,
            self.backend(),
            &crate::Actor::Cli("bench".into()),
            "services.bench.generate",
            "applications",
            None,
            Some(&serde_json::json!({ "applications": n })),
        )
        .await?;
        tx.commit().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("ANALYZE applications").execute(self.pool()).await?;
            sqlx::query("ANALYZE application_steps").execute(self.pool()).await?;
        }
        Ok(())
    }
}

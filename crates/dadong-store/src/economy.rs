//! The economy's records: imports of the four exchange files, and the figures of a bulletin
//! computed from the raw rows (SPEC section 3).
//!
//! Every import is one transaction with one audit record: it lands whole or not at all.
//! Periods are stored as integers `YYYYMM`, so the same month a year earlier is `period - 100`.

use crate::audit::{self, Actor};
use crate::{Backend, Result, Store, StoreError, now_ms, placeholders, rows_per_insert};
use dadong_domain::Period;
use dadong_domain::money::{div_round_half_away, growth_pct};
use dadong_economy::import::ImportError;
use dadong_economy::*;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Over 100 million yuan (亿元以上), in fen.
pub const OVER_100M_FEN: i64 = 100_000_000 * 100;
/// GB/T 4754-2017 group C361, vehicle manufacturing (汽车整车制造), and the first code after it.
pub const VEHICLE_MAKERS_INDUSTRY: &str = "C361";
const VEHICLE_MAKERS_INDUSTRY_END: &str = "C362";
/// Rows per multi-row INSERT: well inside both databases' parameter limits.
const BATCH_ROWS: usize = 500;

/// Where the bulletin reads its sums from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Rollups,
    RawRows,
}

/// The dimensions figures are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dim {
    All,
    Industry,
    Park,
    Tag,
}

impl Dim {
    const ALL: [Dim; 4] = [Dim::All, Dim::Industry, Dim::Park, Dim::Tag];

    fn name(self) -> &'static str {
        match self {
            Dim::All => "all",
            Dim::Industry => "industry",
            Dim::Park => "park",
            Dim::Tag => "tag",
        }
    }

    /// The SQL for a row's key in this dimension (`c` the value, `e` its enterprise, `t` a tag).
    fn key_sql(self) -> &'static str {
        match self {
            Dim::All => "'all'",
            Dim::Industry => "SUBSTR(e.industry, 1, 3)",
            Dim::Park => "COALESCE(e.park, '')",
            Dim::Tag => "t.tag",
        }
    }

    fn join_sql(self) -> &'static str {
        match self {
            Dim::Tag => "JOIN enterprise_tags t ON t.credit_code = e.credit_code",
            _ => "",
        }
    }
}

struct KeySums {
    key: String,
    total: i128,
    paired_total: i128,
    paired_prior: i128,
}

/// Sums the raw rows of one dimension into rollup rows; `filter` narrows the values (`c`).
fn rollup_insert_sql(dim: Dim, filter: &str) -> String {
    // PostgreSQL refuses a constant in GROUP BY, so the whole-district rows group by month only.
    let (key, group_key) = match dim {
        Dim::All => ("''".to_string(), String::new()),
        other => (other.key_sql().to_string(), format!(", {}", other.key_sql())),
    };
    format!(
        "INSERT INTO indicator_rollups (indicator, period, dim, dim_key, total, paired_total, paired_prior)
         SELECT c.indicator, c.period, '{dim}', {key}, CAST(SUM(c.value) AS BIGINT),
                CAST(SUM(CASE WHEN p.value IS NULL THEN 0 ELSE c.value END) AS BIGINT), CAST(SUM(COALESCE(p.value, 0)) AS BIGINT)
         FROM indicator_values c JOIN enterprises e ON e.credit_code = c.credit_code {join}
         LEFT JOIN indicator_values p ON p.credit_code = c.credit_code AND p.indicator = c.indicator AND p.period = c.period - 100
         WHERE e.above_size = 1 {filter}
         GROUP BY c.indicator, c.period{group_key}",
        dim = dim.name(),
        join = dim.join_sql()
    )
}

pub fn period_int(p: Period) -> i64 {
    p.year() as i64 * 100 + p.month() as i64
}

pub fn period_of_int(v: i64) -> Option<Period> {
    Period::new((v / 100) as i16, (v % 100) as i8).ok()
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub kind: String,
    pub rows: usize,
    pub inserted: usize,
    pub replaced: usize,
    pub import_id: i64,
}

/// An import refused: every row-level problem, nothing stored.
#[derive(Debug)]
pub enum ImportFailure {
    Rows(Vec<ImportError>),
    Store(StoreError),
}

impl From<StoreError> for ImportFailure {
    fn from(e: StoreError) -> Self {
        ImportFailure::Store(e)
    }
}

impl From<sqlx::Error> for ImportFailure {
    fn from(e: sqlx::Error) -> Self {
        ImportFailure::Store(e.into())
    }
}

impl std::fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportFailure::Rows(errors) => {
                writeln!(f, "the file was refused; nothing was stored ({} problems):", errors.len())?;
                for e in errors {
                    writeln!(f, "  row {}, column {}, '{}': {}", e.row, e.column, e.value, e.reason)?;
                }
                Ok(())
            }
            ImportFailure::Store(e) => write!(f, "{e}"),
        }
    }
}

fn row_error(row: usize, column: &str, value: &str, reason: &str) -> ImportError {
    ImportError {
        row,
        column: column.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// Inserts rows in multi-row statements: `head` is `INSERT INTO t (a, b, c) VALUES`, `tail`
/// an optional `ON CONFLICT …` clause; `bind` adds one row's values in column order.
async fn insert_batched<T>(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    bind: impl for<'q> Fn(sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>, &'q T) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
) -> Result<()> {
    for chunk in rows.chunks(rows_per_insert(backend, columns)) {
        let mut sql = String::from(head);
        for r in 0..chunk.len() {
            sql.push_str(if r == 0 { " (" } else { ", (" });
            sql.push_str(&placeholders(r * columns + 1, columns));
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            q = bind(q, row);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn date_text(d: Option<jiff::civil::Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

impl Store {
    /// Records the import with its audit record and commits it: the last step of every import.
    #[allow(clippy::too_many_arguments)] // the import's facts, each recorded
    async fn finish_import(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        actor: &Actor,
        kind: &str,
        source: (&str, &str),
        rows: usize,
        replaced: usize,
        mut extra: serde_json::Value,
    ) -> Result<ImportSummary, ImportFailure> {
        let inserted = rows - replaced;
        if let Some(e) = extra.as_object_mut() {
            e.insert("inserted".into(), json!(inserted));
            e.insert("replaced".into(), json!(replaced));
        }
        let import_id = self.record_import(&mut tx, actor, kind, source, rows, extra).await?;
        tx.commit().await?;
        Ok(ImportSummary {
            kind: kind.into(),
            rows,
            inserted,
            replaced,
            import_id,
        })
    }

    async fn record_import(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        kind: &str,
        (file_name, sha256): (&str, &str),
        rows: usize,
        extra: serde_json::Value,
    ) -> Result<i64> {
        let id: i64 = sqlx::query_scalar("INSERT INTO imports (kind, file_name, sha256, rows_count, actor, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(kind)
            .bind(file_name)
            .bind(sha256)
            .bind(rows as i64)
            .bind(actor.label())
            .bind(now_ms())
            .fetch_one(&mut *conn)
            .await?;
        let mut after = json!({"kind": kind, "file": file_name, "sha256": sha256, "rows": rows});
        if let (Some(a), Some(e)) = (after.as_object_mut(), extra.as_object()) {
            a.extend(e.clone());
        }
        audit::append(
            conn,
            self.backend(),
            actor,
            &format!("import.{kind}"),
            &format!("import:{id}"),
            None,
            Some(&after),
        )
        .await?;
        Ok(id)
    }

    /// Upserts enterprises (and their market-entity records) and sets each one's pools to the
    /// file's tags, keeping the entry date of a pool it was already in.
    pub async fn import_enterprises(&self, actor: &Actor, file_name: &str, sha256: &str, rows: &[EnterpriseRow]) -> Result<ImportSummary, ImportFailure> {
        let today = jiff::Zoned::now().date().to_string();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let codes: Vec<&str> = rows.iter().map(|r| r.credit_code.as_str()).collect();
        let existing = self.existing_codes(&mut tx, "enterprises", &codes).await?;
        let mut old_tags: HashMap<(String, String), String> = HashMap::new();
        for chunk in codes.chunks(BATCH_ROWS) {
            let placeholders = placeholders(1, chunk.len());
            let sql = format!("SELECT credit_code, tag, entered FROM enterprise_tags WHERE credit_code IN ({})", placeholders);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(*c);
            }
            for r in q.fetch_all(&mut *tx).await? {
                old_tags.insert((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?);
            }
        }
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO enterprises (credit_code, name, industry, above_size, park, registered, updated_at) VALUES",
            7,
            "ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, industry = excluded.industry, above_size = excluded.above_size, park = excluded.park, registered = excluded.registered, updated_at = excluded.updated_at",
            rows,
            |q, r| {
                q.bind(r.credit_code.as_str())
                    .bind(r.name.as_str())
                    .bind(r.industry.as_str())
                    .bind(r.above_size as i64)
                    .bind(r.park.as_deref())
                    .bind(r.registered.to_string())
                    .bind(now)
            },
        )
        .await?;
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO market_entities (credit_code, name, kind, registered) VALUES",
            4,
            "ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, registered = excluded.registered",
            rows,
            |q, r| {
                q.bind(r.credit_code.as_str())
                    .bind(r.name.as_str())
                    .bind("company")
                    .bind(r.registered.to_string())
            },
        )
        .await?;
        for chunk in codes.chunks(BATCH_ROWS) {
            let placeholders = placeholders(1, chunk.len());
            let sql = format!("DELETE FROM enterprise_tags WHERE credit_code IN ({})", placeholders);
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(*c);
            }
            q.execute(&mut *tx).await?;
        }
        let tags: Vec<(String, String, String)> = rows
            .iter()
            .flat_map(|r| {
                let code = r.credit_code.as_str().to_string();
                let old_tags = &old_tags;
                let today = &today;
                r.tags.iter().map(move |t| {
                    let entered = match t.entered {
                        Some(d) => d.to_string(),
                        None => old_tags.get(&(code.clone(), t.tag.clone())).cloned().unwrap_or_else(|| today.clone()),
                    };
                    (code.clone(), t.tag.clone(), entered)
                })
            })
            .collect();
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO enterprise_tags (credit_code, tag, entered) VALUES",
            3,
            "",
            &tags,
            |q, t| q.bind(t.0.as_str()).bind(t.1.as_str()).bind(t.2.as_str()),
        )
        .await?;
        // Size, industry, park and pools decide which sums a value falls in: rebuild them all.
        self.refresh_rollups(&mut tx, None).await?;
        self.finish_import(tx, actor, "enterprises", (file_name, sha256), rows.len(), existing.len(), json!({}))
            .await
    }

    async fn existing_codes(&self, conn: &mut AnyConnection, table: &str, codes: &[&str]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        for chunk in codes.chunks(BATCH_ROWS) {
            let placeholders = placeholders(1, chunk.len());
            let sql = format!("SELECT credit_code FROM {table} WHERE credit_code IN ({})", placeholders);
            let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(*c);
            }
            found.extend(q.fetch_all(&mut *conn).await?);
        }
        Ok(found)
    }

    /// The codes of the indicator catalog.
    pub async fn indicator_catalog(&self) -> Result<Vec<Indicator>> {
        let rows = sqlx::query("SELECT code, name_zh, name_en, unit, aggregation FROM indicators ORDER BY code")
            .fetch_all(self.pool())
            .await?;
        let order: Vec<String> = shipped_indicators().into_iter().map(|i| i.code).collect();
        let mut list: Vec<Indicator> = rows
            .iter()
            .map(|r| {
                let agg: String = r.try_get(4)?;
                Ok(Indicator {
                    code: r.try_get(0)?,
                    name_zh: r.try_get(1)?,
                    name_en: r.try_get(2)?,
                    unit: r.try_get(3)?,
                    aggregation: if agg == "stock" { Aggregation::Stock } else { Aggregation::Flow },
                })
            })
            .collect::<Result<_>>()?;
        list.sort_by_key(|i| order.iter().position(|c| *c == i.code).unwrap_or(usize::MAX));
        Ok(list)
    }

    /// Replaces the stored values for exactly the (enterprise, period, indicator) rows of the
    /// file and adds the new ones; every enterprise must be in the registry.
    pub async fn import_indicators(&self, actor: &Actor, file_name: &str, sha256: &str, rows: &[IndicatorRow]) -> Result<ImportSummary, ImportFailure> {
        let mut tx = self.begin_write().await?;
        let codes: Vec<&str> = rows.iter().map(|r| r.credit_code.as_str()).collect::<HashSet<_>>().into_iter().collect();
        let known = self.existing_codes(&mut tx, "enterprises", &codes).await?;
        let errors: Vec<ImportError> = rows
            .iter()
            .filter(|r| !known.contains(r.credit_code.as_str()))
            .map(|r| {
                row_error(
                    r.row,
                    "credit_code",
                    r.credit_code.as_str(),
                    "no enterprise with this credit code in the registry: import it in enterprises.csv first",
                )
            })
            .take(dadong_economy::import::ERRORS_MAX)
            .collect();
        if !errors.is_empty() {
            return Err(ImportFailure::Rows(errors));
        }
        let replaced = self.count_existing_values(&mut tx, rows).await?;
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO indicator_values (credit_code, indicator, period, value) VALUES",
            4,
            "ON CONFLICT (credit_code, indicator, period) DO UPDATE SET value = excluded.value",
            rows,
            |q, r| {
                q.bind(r.credit_code.as_str())
                    .bind(r.indicator.as_str())
                    .bind(period_int(r.period))
                    .bind(r.value as i64)
            },
        )
        .await?;
        // A value is summed in its own month and, as the prior of a pair, a year later.
        let keys: BTreeSet<(String, i64)> = rows
            .iter()
            .flat_map(|r| [(r.indicator.clone(), period_int(r.period)), (r.indicator.clone(), period_int(r.period) + 100)])
            .collect();
        self.refresh_rollups(&mut tx, Some(&keys)).await?;
        let periods: Vec<String> = rows
            .iter()
            .map(|r| r.period)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        self.finish_import(tx, actor, "indicators", (file_name, sha256), rows.len(), replaced, json!({"periods": periods}))
            .await
    }

    async fn count_existing_values(&self, conn: &mut AnyConnection, rows: &[IndicatorRow]) -> Result<usize> {
        // Group by (indicator, period) to ask one question per group.
        let mut groups: BTreeMap<(String, i64), Vec<&str>> = BTreeMap::new();
        for r in rows {
            groups
                .entry((r.indicator.clone(), period_int(r.period)))
                .or_default()
                .push(r.credit_code.as_str());
        }
        let mut count = 0usize;
        for ((indicator, period), codes) in groups {
            for chunk in codes.chunks(BATCH_ROWS) {
                let placeholders = placeholders(3, chunk.len());
                let sql = format!(
                    "SELECT COUNT(*) FROM indicator_values WHERE indicator = $1 AND period = $2 AND credit_code IN ({})",
                    placeholders
                );
                let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(indicator.as_str()).bind(period);
                for c in chunk {
                    q = q.bind(*c);
                }
                count += q.fetch_one(&mut *conn).await? as usize;
            }
        }
        Ok(count)
    }

    /// Upserts other districts' published figures.
    pub async fn import_districts(&self, actor: &Actor, file_name: &str, sha256: &str, rows: &[DistrictRow]) -> Result<ImportSummary, ImportFailure> {
        let mut tx = self.begin_write().await?;
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO district_figures (district, indicator, period, total, growth_tenths) VALUES",
            5,
            "ON CONFLICT (district, indicator, period) DO UPDATE SET total = excluded.total, growth_tenths = excluded.growth_tenths",
            rows,
            |q, r| {
                q.bind(r.district.as_str())
                    .bind(r.indicator.as_str())
                    .bind(period_int(r.period))
                    .bind(r.total as i64)
                    .bind(r.growth_tenths)
            },
        )
        .await?;
        self.finish_import(tx, actor, "districts", (file_name, sha256), rows.len(), 0, json!({})).await
    }

    /// Upserts projects and records each stage date that is new or changed in their history.
    pub async fn import_projects(&self, actor: &Actor, file_name: &str, sha256: &str, rows: &[ProjectRow]) -> Result<ImportSummary, ImportFailure> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut old: HashMap<String, [Option<String>; 4]> = HashMap::new();
        let ids: Vec<&str> = rows.iter().map(|r| r.project_id.as_str()).collect();
        for chunk in ids.chunks(BATCH_ROWS) {
            let placeholders = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT project_id, signed, landed, started, completed FROM projects WHERE project_id IN ({})",
                placeholders
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                q = q.bind(*c);
            }
            for r in q.fetch_all(&mut *tx).await? {
                old.insert(r.try_get(0)?, [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?]);
            }
        }
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO projects (project_id, name, investment, industry, kind, signed, landed, started, completed, updated_at) VALUES",
            10,
            "ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, investment = excluded.investment, industry = excluded.industry, kind = excluded.kind, signed = excluded.signed, landed = excluded.landed, started = excluded.started, completed = excluded.completed, updated_at = excluded.updated_at",
            rows,
            |q, r| {
                q.bind(r.project_id.as_str())
                    .bind(r.name.as_str())
                    .bind(r.investment as i64)
                    .bind(r.industry.as_str())
                    .bind(r.kind.as_str())
                    .bind(date_text(r.signed))
                    .bind(date_text(r.landed))
                    .bind(date_text(r.started))
                    .bind(date_text(r.completed))
                    .bind(now)
            },
        )
        .await?;
        let mut stages: Vec<(String, &'static str, String)> = Vec::new();
        for r in rows {
            let new = [date_text(r.signed), date_text(r.landed), date_text(r.started), date_text(r.completed)];
            let before = old.get(&r.project_id).cloned().unwrap_or_default();
            for (i, stage) in ["signed", "landed", "started", "completed"].into_iter().enumerate() {
                if let Some(d) = &new[i]
                    && before[i].as_ref() != Some(d)
                {
                    stages.push((r.project_id.clone(), stage, d.clone()));
                }
            }
        }
        insert_batched(
            &mut tx,
            self.backend(),
            "INSERT INTO project_stages (project_id, stage, stage_date, recorded_at) VALUES",
            4,
            "",
            &stages,
            |q, s| q.bind(s.0.as_str()).bind(s.1).bind(s.2.as_str()).bind(now),
        )
        .await?;
        self.finish_import(tx, actor, "projects", (file_name, sha256), rows.len(), old.len(), json!({}))
            .await
    }

    /// The district's name as the bulletin states it.
    pub async fn district_name(&self) -> Result<String> {
        Ok(self.setting("district_name").await?.unwrap_or_else(|| "大东区".to_string()))
    }

    /// The first and last periods with indicator values, if any.
    pub async fn indicator_period_range(&self) -> Result<Option<(Period, Period)>> {
        let row = sqlx::query("SELECT MIN(period), MAX(period) FROM indicator_values")
            .fetch_one(self.pool())
            .await?;
        let (a, b): (Option<i64>, Option<i64>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(a.and_then(period_of_int).zip(b.and_then(period_of_int)))
    }

    pub async fn indicator_row_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM indicator_values").fetch_one(self.pool()).await?)
    }

    /// The baseline the bench compares with: each indicator's total for January to `through`
    /// as one plain GROUP BY over the raw rows.
    pub async fn plain_totals(&self, through: Period) -> Result<Vec<(String, Centi)>> {
        let rows = sqlx::query(
            "SELECT v.indicator, CAST(SUM(v.value) AS BIGINT) FROM indicator_values v JOIN enterprises e ON e.credit_code = v.credit_code
             WHERE e.above_size = 1 AND v.period BETWEEN $1 AND $2 GROUP BY v.indicator",
        )
        .bind(period_int(through) / 100 * 100 + 1)
        .bind(period_int(through))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? as i128))).collect()
    }

    /// The newest period with any indicator value, if any.
    pub async fn latest_period(&self) -> Result<Option<Period>> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(period) FROM indicator_values").fetch_one(self.pool()).await?;
        Ok(v.and_then(period_of_int))
    }

    /// The bulletin for January to `through`, from the rollups the imports keep.
    pub async fn bulletin(&self, through: Period) -> Result<Bulletin> {
        self.bulletin_with(Source::Rollups, through).await
    }

    async fn bulletin_with(&self, source: Source, through: Period) -> Result<Bulletin> {
        let from = Period::new(through.year(), 1).expect("January");
        let (p_from, p_to) = (period_int(from), period_int(through));
        let mut indicators = Vec::new();
        for ind in self.indicator_catalog().await? {
            if let Some(f) = self.indicator_figures(source, &ind, p_from, p_to).await? {
                indicators.push(f);
            }
        }
        let (vehicle_makers, vehicle_makers_output) = self.vehicle_makers(p_from, p_to).await?;
        Ok(Bulletin {
            district: self.district_name().await?,
            from,
            through,
            indicators,
            projects: self.project_figures(from, through).await?,
            enterprises: self.enterprise_figures(through).await?,
            vehicle_makers,
            vehicle_makers_output,
        })
    }

    /// Monthly totals of an indicator up to `p_to`, from the rollups or from the raw rows.
    async fn monthly_totals(&self, source: Source, indicator: &str, p_to: i64) -> Result<BTreeMap<i64, i128>> {
        let sql = match source {
            Source::Rollups => "SELECT period, total FROM indicator_rollups WHERE indicator = $1 AND dim = 'all' AND period <= $2",
            Source::RawRows => {
                "SELECT v.period, CAST(SUM(v.value) AS BIGINT) FROM indicator_values v JOIN enterprises e ON e.credit_code = v.credit_code
                 WHERE v.indicator = $1 AND e.above_size = 1 AND v.period <= $2 GROUP BY v.period"
            }
        };
        let rows = sqlx::query(sql).bind(indicator).bind(p_to).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)? as i128))).collect()
    }

    /// For one dimension, each key's total and comparable sums over the months `t_from..=t_to`.
    async fn sums_by(&self, source: Source, indicator: &str, dim: Dim, t_from: i64, t_to: i64) -> Result<Vec<KeySums>> {
        let sql =
            match source {
                Source::Rollups => "SELECT dim_key, CAST(SUM(total) AS BIGINT), CAST(SUM(paired_total) AS BIGINT), CAST(SUM(paired_prior) AS BIGINT)
                 FROM indicator_rollups WHERE indicator = $1 AND dim = $4 AND period BETWEEN $2 AND $3 GROUP BY dim_key"
                    .to_string(),
                // PostgreSQL refuses a constant in GROUP BY, so the whole district is one plain
                // aggregate (one row, zeros when there is nothing).
                Source::RawRows => format!(
                "SELECT {key}, CAST(COALESCE(SUM(c.value), 0) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN p.value IS NULL THEN 0 ELSE c.value END), 0) AS BIGINT),
                        CAST(COALESCE(SUM(p.value), 0) AS BIGINT)
                 FROM indicator_values c JOIN enterprises e ON e.credit_code = c.credit_code {join}
                 LEFT JOIN indicator_values p ON p.credit_code = c.credit_code AND p.indicator = c.indicator AND p.period = c.period - 100
                 WHERE c.indicator = $1 AND e.above_size = 1 AND c.period BETWEEN $2 AND $3 {group}",
                key = dim.key_sql(),
                join = dim.join_sql(),
                group = if dim == Dim::All { String::new() } else { format!("GROUP BY {}", dim.key_sql()) }
            ),
            };
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(indicator).bind(t_from).bind(t_to);
        if source == Source::Rollups {
            query = query.bind(dim.name());
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(KeySums {
                    key: r.try_get(0)?,
                    total: r.try_get::<i64, _>(1)? as i128,
                    paired_total: r.try_get::<i64, _>(2)? as i128,
                    paired_prior: r.try_get::<i64, _>(3)? as i128,
                })
            })
            .collect()
    }

    async fn indicator_figures(&self, source: Source, ind: &Indicator, p_from: i64, p_to: i64) -> Result<Option<IndicatorFigures>> {
        let stock = ind.aggregation == Aggregation::Stock;
        // The months that make the total and the growth: all of the period's for a flow, its last for a stock.
        let (t_from, t_to) = if stock { (p_to, p_to) } else { (p_from, p_to) };
        let monthly = self.monthly_totals(source, &ind.code, p_to).await?;
        if monthly.range(t_from..=t_to).next().is_none() {
            return Ok(None);
        }
        let total: i128 = monthly.range(t_from..=t_to).map(|(_, v)| v).sum();
        let month_total = monthly.get(&p_to).copied().unwrap_or(0);
        let month_is_record = monthly.contains_key(&p_to) && monthly.range(..p_to).all(|(_, v)| *v < month_total);
        let months = (p_from..=p_to)
            .filter_map(|p| {
                period_of_int(p).map(|period| MonthPoint {
                    period,
                    total: monthly.get(&p).copied().unwrap_or(0),
                    prior_total: monthly.get(&(p - 100)).copied(),
                })
            })
            .collect();
        let breakdown = |sums: Vec<KeySums>| {
            let mut list: Vec<Breakdown> = sums
                .into_iter()
                .map(|k| Breakdown {
                    growth_pct: growth_pct(k.paired_total, k.paired_prior),
                    key: k.key,
                    total: k.total,
                })
                .collect();
            list.sort_by(|a, b| b.total.cmp(&a.total).then(a.key.cmp(&b.key)));
            list
        };
        let all = self.sums_by(source, &ind.code, Dim::All, t_from, t_to).await?;
        let (paired_total, paired_prior) = all.iter().fold((0, 0), |(c, p), k| (c + k.paired_total, p + k.paired_prior));
        let growth = growth_pct(paired_total, paired_prior);
        let own_tenths = (paired_prior > 0).then(|| div_round_half_away((paired_total - paired_prior) * 1000, paired_prior) as i64);
        let by_industry = breakdown(self.sums_by(source, &ind.code, Dim::Industry, t_from, t_to).await?);
        let by_park = breakdown(self.sums_by(source, &ind.code, Dim::Park, t_from, t_to).await?);
        let by_tag = breakdown(self.sums_by(source, &ind.code, Dim::Tag, t_from, t_to).await?);
        let (rank, of) = match own_tenths {
            Some(own) => {
                let others: Vec<Option<i64>> =
                    sqlx::query_scalar("SELECT growth_tenths FROM district_figures WHERE indicator = $1 AND period = $2 AND district <> $3")
                        .bind(&ind.code)
                        .bind(p_to)
                        .bind(self.district_name().await?)
                        .fetch_all(self.pool())
                        .await?;
                let others: Vec<i64> = others.into_iter().flatten().collect();
                if others.is_empty() {
                    (None, None)
                } else {
                    // Equal rates share a rank and the next rank counts them: 1, 2, 2, 4. The
                    // district's own published row, if a file carries it, is not a rival.
                    let rank = 1 + others.iter().filter(|g| **g > own).count() as u32;
                    (Some(rank), Some(others.len() as u32 + 1))
                }
            }
            None => (None, None),
        };
        Ok(Some(IndicatorFigures {
            indicator: ind.clone(),
            total,
            month_total,
            growth_pct: growth,
            month_is_record,
            rank,
            of,
            months,
            by_industry,
            by_park,
            by_tag,
        }))
    }

    /// Rebuilds the rollups of the given (indicator, period) keys, or of everything. Runs inside
    /// the import's transaction, so the rollups never disagree with the rows they sum.
    async fn refresh_rollups(&self, conn: &mut AnyConnection, keys: Option<&BTreeSet<(String, i64)>>) -> Result<()> {
        let Some(keys) = keys else {
            sqlx::query("DELETE FROM indicator_rollups").execute(&mut *conn).await?;
            for dim in Dim::ALL {
                sqlx::query(AssertSqlSafe(rollup_insert_sql(dim, ""))).execute(&mut *conn).await?;
            }
            return Ok(());
        };
        let mut by_indicator: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (indicator, period) in keys {
            by_indicator.entry(indicator.as_str()).or_default().push(*period);
        }
        for (indicator, periods) in by_indicator {
            for chunk in periods.chunks(BATCH_ROWS) {
                // Periods are integers we built, so listing them in the statement is safe.
                let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM indicator_rollups WHERE indicator = $1 AND period IN ({list})"
                )))
                .bind(indicator)
                .execute(&mut *conn)
                .await?;
                for dim in Dim::ALL {
                    let filter = format!("AND c.indicator = $1 AND c.period IN ({list})");
                    sqlx::query(AssertSqlSafe(rollup_insert_sql(dim, &filter)))
                        .bind(indicator)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Rebuilds every rollup from the raw rows.
    pub(crate) async fn refresh_all_rollups(&self, conn: &mut AnyConnection) -> Result<()> {
        self.refresh_rollups(conn, None).await
    }

    /// The bulletin computed straight from the raw rows, without the rollups: the reference
    /// the rollups are checked against (tests) and what the bench compares with.
    pub async fn bulletin_from_raw_rows(&self, through: Period) -> Result<Bulletin> {
        self.bulletin_with(Source::RawRows, through).await
    }

    /// The vehicle makers are the above-size enterprises of industry group C361 (汽车整车制造,
    /// GB/T 4754-2017) with output in the period; their count and industrial output. The range
    /// test on the code lets both databases walk the industry index to those few enterprises.
    async fn vehicle_makers(&self, p_from: i64, p_to: i64) -> Result<(i64, Centi)> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT o.credit_code), CAST(COALESCE(SUM(o.value), 0) AS BIGINT) FROM enterprises e JOIN indicator_values o ON o.credit_code = e.credit_code
             WHERE e.industry >= $3 AND e.industry < $4 AND e.above_size = 1 AND o.indicator = 'industrial_output' AND o.period BETWEEN $1 AND $2",
        )
        .bind(p_from)
        .bind(p_to)
        .bind(VEHICLE_MAKERS_INDUSTRY)
        .bind(VEHICLE_MAKERS_INDUSTRY_END)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get(0)?, row.try_get::<i64, _>(1)? as i128))
    }

    async fn project_figures(&self, from: Period, through: Period) -> Result<ProjectFigures> {
        let count = |sql: &'static str, a: String, b: String| async move {
            let n: i64 = sqlx::query_scalar(sql).bind(OVER_100M_FEN).bind(a).bind(b).fetch_one(self.pool()).await?;
            Ok::<_, StoreError>(n)
        };
        let (first, last) = (from.first_day().to_string(), through.last_day().to_string());
        let (pfirst, plast) = (from.year_before().first_day().to_string(), through.year_before().last_day().to_string());
        const SIGNED: &str = "SELECT COUNT(*) FROM projects WHERE investment >= $1 AND signed BETWEEN $2 AND $3";
        const LANDED: &str = "SELECT COUNT(*) FROM projects WHERE investment >= $1 AND landed BETWEEN $2 AND $3";
        // Started or resumed (开复工): started by the period's end and not completed before its start.
        const STARTED: &str = "SELECT COUNT(*) FROM projects WHERE investment >= $1 AND started <= $3 AND (completed IS NULL OR completed >= $2)";
        let stage_rows = sqlx::query(
            "SELECT CASE WHEN completed <= $2 THEN 'completed' WHEN started <= $2 THEN 'started' WHEN landed <= $2 THEN 'landed' ELSE 'signed' END AS stage, COUNT(*)
             FROM projects WHERE investment >= $1 AND signed <= $2 GROUP BY 1",
        )
        .bind(OVER_100M_FEN)
        .bind(&last)
        .fetch_all(self.pool())
        .await?;
        let counts: HashMap<String, i64> = stage_rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect::<Result<_>>()?;
        let by_stage = ["signed", "landed", "started", "completed"]
            .iter()
            .map(|s| (s.to_string(), counts.get(*s).copied().unwrap_or(0)))
            .collect();
        Ok(ProjectFigures {
            started_over_100m: count(STARTED, first.clone(), last.clone()).await?,
            started_over_100m_prior: count(STARTED, pfirst.clone(), plast.clone()).await?,
            signed_over_100m: count(SIGNED, first.clone(), last.clone()).await?,
            signed_over_100m_prior: count(SIGNED, pfirst.clone(), plast.clone()).await?,
            landed_over_100m: count(LANDED, first, last).await?,
            landed_over_100m_prior: count(LANDED, pfirst, plast).await?,
            by_stage,
        })
    }

    async fn enterprise_figures(&self, through: Period) -> Result<EnterpriseFigures> {
        let last = through.last_day().to_string();
        let year_start = Period::new(through.year(), 1).expect("January").first_day().to_string();
        let market_entities: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM market_entities WHERE registered <= $1 AND (deregistered IS NULL OR deregistered > $1)")
                .bind(&last)
                .fetch_one(self.pool())
                .await?;
        let rows = sqlx::query("SELECT tag, COUNT(*) FROM enterprise_tags WHERE entered <= $1 GROUP BY tag")
            .bind(&last)
            .fetch_all(self.pool())
            .await?;
        let pools: HashMap<String, i64> = rows
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect::<Result<_>>()?;
        let new_high_tech: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enterprise_tags WHERE tag = 'high_tech' AND entered BETWEEN $1 AND $2")
            .bind(&year_start)
            .bind(&last)
            .fetch_one(self.pool())
            .await?;
        let pool = |t: &str| pools.get(t).copied().unwrap_or(0);
        Ok(EnterpriseFigures {
            market_entities,
            tech_sme: pool("tech_sme"),
            new_high_tech,
            eaglet: pool("eaglet"),
            gazelle: pool("gazelle"),
            little_giant_national: pool("little_giant_national"),
            little_giant_provincial: pool("little_giant_provincial"),
        })
    }

    /// Adds market entities that are not enterprises with profiles (the demo's lightweight
    /// registry), in one transaction with one audit record.
    /// Each entity is `(credit code, name, kind, registered, deregistered)`.
    pub async fn add_market_entities(&self, actor: &Actor, entities: &[(String, String, String, String, Option<String>)]) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        // The rows travel as one JSON parameter per 10,000: a registry of a hundred thousand
        // entities is a dozen statements, not hundreds of thousands of bound values.
        let sql = match self.backend() {
            // SQLite needs a WHERE in an INSERT … SELECT that has an ON CONFLICT clause.
            Backend::Sqlite => {
                "INSERT INTO market_entities (credit_code, name, kind, registered, deregistered) \
                 SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]', value ->> '$[4]' FROM json_each($1) WHERE true \
                 ON CONFLICT (credit_code) DO NOTHING"
            }
            Backend::Postgres => {
                "INSERT INTO market_entities (credit_code, name, kind, registered, deregistered) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_array_elements(CAST($1 AS json)) \
                 ON CONFLICT (credit_code) DO NOTHING"
            }
        };
        for chunk in entities.chunks(10_000) {
            let rows: Vec<_> = chunk.iter().map(|e| json!([e.0, e.1, e.2, e.3, e.4])).collect();
            sqlx::query(sql).bind(serde_json::Value::Array(rows).to_string()).execute(&mut *tx).await?;
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "market_entities.add",
            "market_entities",
            None,
            Some(&json!({"count": entities.len()})),
        )
        .await?;
        tx.commit().await?;
        Ok(entities.len())
    }
}

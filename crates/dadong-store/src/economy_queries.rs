//! Reading the economy's records for the pages and the API: the enterprise registry (listed,
//! searched and narrowed to what a user may see), one enterprise with its pools and monthly
//! values, the major projects with their stage history, and the record of imports.
//!
//! Plain SQL that both databases run through the `Any` driver: `$n` placeholders, `LIMIT` and
//! `OFFSET`, `LIKE … ESCAPE`. Periods are integers `YYYYMM`, dates `YYYY-MM-DD` text.

use crate::economy::period_of_int;
use crate::{Result, Store};
use dadong_domain::Period;
use dadong_economy::Centi;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

/// Most rows one page of a list holds, whatever the caller asks for.
pub const PAGE_SIZE_MAX: i64 = 200;
/// Longest search text, in characters; a longer one is cut rather than refused.
pub const SEARCH_CHARS_MAX: usize = 100;
/// Most credit codes one scope may list: far more than any cadre is assigned, and well inside
/// both databases' limits on parameters.
pub const SCOPE_CODES_MAX: usize = 1000;

/// One enterprise as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnterpriseListItem {
    pub credit_code: String,
    pub name: String,
    pub industry: String,
    pub above_size: bool,
    pub park: Option<String>,
}

/// One page of a list, with the count of every row that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// A pool membership with the date the enterprise entered the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagMembership {
    pub tag: String,
    /// `YYYY-MM-DD`.
    pub entered: String,
}

/// An enterprise's full profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnterpriseProfile {
    pub credit_code: String,
    pub name: String,
    pub industry: String,
    pub above_size: bool,
    pub park: Option<String>,
    /// `YYYY-MM-DD`.
    pub registered: String,
    pub tags: Vec<TagMembership>,
}

/// One indicator's monthly values for one enterprise, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorHistory {
    pub indicator: String,
    pub points: Vec<(Period, Centi)>,
}

/// A major project with its dates (`YYYY-MM-DD` or none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectItem {
    pub project_id: String,
    pub name: String,
    /// Fen.
    pub investment: i64,
    pub industry: String,
    pub kind: String,
    pub signed: Option<String>,
    pub landed: Option<String>,
    pub started: Option<String>,
    pub completed: Option<String>,
}

impl ProjectItem {
    /// The furthest stage the project has reached: `completed`, `started`, `landed`, `signed`,
    /// or `None` before it is signed.
    pub fn stage(&self) -> Option<&'static str> {
        if self.completed.is_some() {
            Some("completed")
        } else if self.started.is_some() {
            Some("started")
        } else if self.landed.is_some() {
            Some("landed")
        } else if self.signed.is_some() {
            Some("signed")
        } else {
            None
        }
    }
}

/// One entry of a project's stage history, as it became known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageEntry {
    /// `signed`, `landed`, `started` or `completed`.
    pub stage: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// When the import that brought it ran, milliseconds since the epoch.
    pub recorded_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectDetail {
    pub project: ProjectItem,
    pub cadre_user_id: Option<i64>,
    /// Ordered by date, then by when it was recorded.
    pub stages: Vec<StageEntry>,
}

/// One row of the record of imports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRecord {
    pub id: i64,
    pub kind: String,
    pub file_name: String,
    pub sha256: String,
    pub rows: i64,
    pub actor: String,
    pub at_ms: i64,
}

/// `LIKE` pattern for "contains `text`", with the pattern characters escaped (`\` escapes).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Page number and size made safe: pages from 1, sizes from 1 to [`PAGE_SIZE_MAX`].
fn clamp_page(page: i64, per_page: i64) -> (i64, i64) {
    (page.max(1), per_page.clamp(1, PAGE_SIZE_MAX))
}

const PROJECT_COLUMNS: &str = "project_id, name, investment, industry, kind, signed, landed, started, completed";

fn project_from_row(r: &sqlx::any::AnyRow) -> Result<ProjectItem> {
    Ok(ProjectItem {
        project_id: r.try_get(0)?,
        name: r.try_get(1)?,
        investment: r.try_get(2)?,
        industry: r.try_get(3)?,
        kind: r.try_get(4)?,
        signed: r.try_get(5)?,
        landed: r.try_get(6)?,
        started: r.try_get(7)?,
        completed: r.try_get(8)?,
    })
}

impl Store {
    /// One page of the enterprise registry, ordered by credit code, optionally searched by a
    /// part of the name or of the credit code, and narrowed to `scope` (the credit codes the
    /// caller may see) unless that is `None` (the whole district). An empty scope sees nothing.
    pub async fn enterprises_page(&self, search: &str, scope: Option<&[String]>, page: i64, per_page: i64) -> Result<Page<EnterpriseListItem>> {
        let (page, per_page) = clamp_page(page, per_page);
        let empty = |total| Page {
            items: Vec::new(),
            total,
            page,
            per_page,
        };
        if scope.is_some_and(|s| s.is_empty()) {
            return Ok(empty(0));
        }
        let search: String = search.trim().chars().take(SEARCH_CHARS_MAX).collect();
        // Conditions and their values, numbered in order; the values are bound, never spliced.
        let mut conditions: Vec<String> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if !search.is_empty() {
            // Credit codes are upper case; names are matched as typed.
            values.push(contains_pattern(&search));
            values.push(contains_pattern(&search.to_uppercase()));
            conditions.push(format!(
                "(name LIKE ${} ESCAPE '\\' OR credit_code LIKE ${} ESCAPE '\\')",
                values.len() - 1,
                values.len()
            ));
        }
        if let Some(codes) = scope {
            let first = values.len() + 1;
            let codes = &codes[..codes.len().min(SCOPE_CODES_MAX)];
            values.extend(codes.iter().cloned());
            let list: Vec<String> = (first..first + codes.len()).map(|i| format!("${i}")).collect();
            conditions.push(format!("credit_code IN ({})", list.join(", ")));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT COUNT(*) FROM enterprises {filter}")));
        for v in &values {
            count = count.bind(v.as_str());
        }
        let total = count.fetch_one(self.pool()).await?;
        if total == 0 {
            return Ok(empty(0));
        }
        let sql = format!(
            "SELECT credit_code, name, industry, above_size, park FROM enterprises {filter} ORDER BY credit_code LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in &values {
            q = q.bind(v.as_str());
        }
        let rows = q.bind(per_page).bind((page - 1).saturating_mul(per_page)).fetch_all(self.pool()).await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(EnterpriseListItem {
                    credit_code: r.try_get(0)?,
                    name: r.try_get(1)?,
                    industry: r.try_get(2)?,
                    above_size: r.try_get::<i64, _>(3)? == 1,
                    park: r.try_get(4)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, total, page, per_page })
    }

    /// One enterprise with its pools (ordered by entry date), or `None`.
    pub async fn enterprise_profile(&self, credit_code: &str) -> Result<Option<EnterpriseProfile>> {
        let Some(r) = sqlx::query("SELECT credit_code, name, industry, above_size, park, registered FROM enterprises WHERE credit_code = $1")
            .bind(credit_code)
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let tags = sqlx::query("SELECT tag, entered FROM enterprise_tags WHERE credit_code = $1 ORDER BY entered, tag")
            .bind(credit_code)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|t| {
                Ok(TagMembership {
                    tag: t.try_get(0)?,
                    entered: t.try_get(1)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(EnterpriseProfile {
            credit_code: r.try_get(0)?,
            name: r.try_get(1)?,
            industry: r.try_get(2)?,
            above_size: r.try_get::<i64, _>(3)? == 1,
            park: r.try_get(4)?,
            registered: r.try_get(5)?,
            tags,
        }))
    }

    /// An enterprise's monthly values, one history per indicator it has values for, in the
    /// catalog's order.
    pub async fn enterprise_values(&self, credit_code: &str) -> Result<Vec<IndicatorHistory>> {
        let rows = sqlx::query("SELECT indicator, period, value FROM indicator_values WHERE credit_code = $1 ORDER BY indicator, period")
            .bind(credit_code)
            .fetch_all(self.pool())
            .await?;
        let mut out: Vec<IndicatorHistory> = Vec::new();
        for r in &rows {
            let indicator: String = r.try_get(0)?;
            let Some(period) = period_of_int(r.try_get(1)?) else { continue };
            let value = Centi::from(r.try_get::<i64, _>(2)?);
            match out.last_mut() {
                Some(h) if h.indicator == indicator => h.points.push((period, value)),
                _ => out.push(IndicatorHistory {
                    indicator,
                    points: vec![(period, value)],
                }),
            }
        }
        let order: Vec<String> = self.indicator_catalog().await?.into_iter().map(|i| i.code).collect();
        out.sort_by_key(|h| order.iter().position(|c| *c == h.indicator).unwrap_or(usize::MAX));
        Ok(out)
    }

    /// One page of the major projects, ordered by id.
    pub async fn projects_page(&self, page: i64, per_page: i64) -> Result<Page<ProjectItem>> {
        let (page, per_page) = clamp_page(page, per_page);
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects").fetch_one(self.pool()).await?;
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects ORDER BY project_id LIMIT $1 OFFSET $2");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(per_page)
            .bind((page - 1).saturating_mul(per_page))
            .fetch_all(self.pool())
            .await?;
        Ok(Page {
            items: rows.iter().map(project_from_row).collect::<Result<_>>()?,
            total,
            page,
            per_page,
        })
    }

    /// One project with its stage history, or `None`.
    pub async fn project_detail(&self, project_id: &str) -> Result<Option<ProjectDetail>> {
        let sql = format!("SELECT {PROJECT_COLUMNS}, cadre_user_id FROM projects WHERE project_id = $1");
        let Some(r) = sqlx::query(AssertSqlSafe(sql)).bind(project_id).fetch_optional(self.pool()).await? else {
            return Ok(None);
        };
        let stages = sqlx::query("SELECT stage, stage_date, recorded_at FROM project_stages WHERE project_id = $1 ORDER BY stage_date, recorded_at, id")
            .bind(project_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|s| {
                Ok(StageEntry {
                    stage: s.try_get(0)?,
                    date: s.try_get(1)?,
                    recorded_at_ms: s.try_get(2)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(ProjectDetail {
            project: project_from_row(&r)?,
            cadre_user_id: r.try_get(9)?,
            stages,
        }))
    }

    /// The most recent imports, newest first.
    pub async fn recent_imports(&self, limit: i64) -> Result<Vec<ImportRecord>> {
        let rows = sqlx::query("SELECT id, kind, file_name, sha256, rows_count, actor, at FROM imports ORDER BY id DESC LIMIT $1")
            .bind(limit.clamp(1, PAGE_SIZE_MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ImportRecord {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    file_name: r.try_get(2)?,
                    sha256: r.try_get(3)?,
                    rows: r.try_get(4)?,
                    actor: r.try_get(5)?,
                    at_ms: r.try_get(6)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(contains_pattern("沈阳"), "%沈阳%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn pages_are_clamped_to_sane_bounds() {
        assert_eq!(clamp_page(0, 0), (1, 1));
        assert_eq!(clamp_page(-3, 10_000), (1, PAGE_SIZE_MAX));
        assert_eq!(clamp_page(7, 50), (7, 50));
    }
}

//! Backup and restore: a logical copy of every table as JSON lines, readable by either
//! backend, so a store can be moved between SQLite and PostgreSQL as well as restored.
//!
//! A backup is read inside one transaction, so it is a consistent snapshot of a live store.
//! A restore runs inside one transaction: it lands whole or not at all.

use crate::{Backend, Result, Store, StoreError, now_ms};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::TryStreamExt;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row, ValueRef};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// The tables a backup leaves out: `schema_migrations`, because a restore target is migrated
/// already, and `auth_generation`, a counter that must only ever grow (the restore's own
/// deletions move it, so no process keeps a session from before).
pub const NOT_BACKED_UP: &[&str] = &["schema_migrations", "auth_generation"];

/// Every table in the order foreign keys allow inserting them, with the column that orders
/// its rows; the tables of [`NOT_BACKED_UP`] are left out.
pub const TABLES: &[(&str, &str)] = &[
    ("settings", "key"),
    ("departments", "id"),
    ("users", "id"),
    ("user_assignments", "user_id, company_code"),
    ("sessions", "token_hash"),
    ("market_entities", "credit_code"),
    ("enterprises", "credit_code"),
    ("enterprise_tags", "credit_code, tag"),
    ("indicators", "code"),
    ("indicator_values", "credit_code, indicator, period"),
    ("district_figures", "district, indicator, period"),
    ("indicator_rollups", "indicator, dim, period, dim_key"),
    ("projects", "project_id"),
    ("project_stages", "id"),
    ("imports", "id"),
    ("matters", "code"),
    ("bundles", "id"),
    ("bundle_matters", "bundle_id, matter_code"),
    ("applications", "id"),
    ("application_steps", "application_id, step_id"),
    ("uploads", "id"),
    ("notifications", "id"),
    ("ratings", "application_id, department_code"),
    ("rectifications", "id"),
    ("certificates", "id"),
    // Issue 6: enterprise service and daily dispatch.
    ("service_assignments", "id"),
    ("visits", "id"),
    ("appeal_rules", "category"),
    ("appeals", "id"),
    ("appeal_events", "id"),
    ("follow_up_calls", "id"),
    ("key_enterprises", "credit_code"),
    ("monthly_plans", "credit_code, period, metric"),
    ("daily_figures", "credit_code, day, metric"),
    ("dispatch_tasks", "id"),
    ("login_attempts", "id"),
    // Vouchers (issue 5).
    ("voucher_keys", "id"),
    ("voucher_campaigns", "id"),
    ("voucher_kinds", "id"),
    ("voucher_merchants", "id"),
    ("voucher_merchant_categories", "merchant_id, category"),
    ("voucher_settlements", "id"),
    ("vouchers", "id"),
    ("voucher_redemptions", "id"),
    ("voucher_ledger", "campaign_id, seq"),
    ("voucher_registrations", "campaign_id, citizen_id, kind_id"),
    ("voucher_draws", "campaign_id"),
    ("voucher_fraud_flags", "flag_key"),
    ("audit_log", "seq"),
    ("audit_head", "id"),
];

/// Tables whose `id` comes from a sequence that PostgreSQL must be told about after a restore.
const SERIAL_TABLES: &[&str] = &[
    "departments",
    "users",
    "login_attempts",
    "project_stages",
    "imports",
    "applications",
    "uploads",
    "notifications",
    "rectifications",
    // Issue 6.
    "service_assignments",
    "visits",
    "appeals",
    "appeal_events",
    "follow_up_calls",
    "dispatch_tasks",
    // Vouchers (issue 5).
    "voucher_campaigns",
    "voucher_kinds",
    "voucher_merchants",
    "voucher_settlements",
    "vouchers",
    "voucher_redemptions",
];

const FORMAT: &str = "dadong-backup";

type TableInsert = (String, Vec<(String, ColumnKind)>, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    Integer,
    Text,
    Blob,
    Real,
}

impl Store {
    /// Writes the whole store to `out` and returns the number of rows written.
    pub async fn backup(&self, out: &mut dyn Write) -> Result<u64> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let schema: i64 = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *tx).await?;
        let header = json!({"format": FORMAT, "version": 1, "schema": schema, "backend": self.backend().name(), "created_at_ms": now_ms()});
        writeln!(out, "{header}")?;
        let mut rows_written = 0;
        for (table, order) in TABLES {
            let kinds = self.column_kinds(&mut tx, table).await?;
            let columns: Vec<&String> = kinds.iter().map(|(c, _)| c).collect();
            writeln!(out, "{}", json!({"table": table, "columns": columns}))?;
            let sql = format!(
                "SELECT {} FROM {table} ORDER BY {order}",
                columns.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            );
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let mut values = Vec::with_capacity(kinds.len());
                for (i, (_, kind)) in kinds.iter().enumerate() {
                    values.push(if row.try_get_raw(i)?.is_null() {
                        Value::Null
                    } else {
                        match kind {
                            ColumnKind::Integer => json!(row.try_get::<i64, _>(i)?),
                            ColumnKind::Text => json!(row.try_get::<String, _>(i)?),
                            ColumnKind::Real => json!(row.try_get::<f64, _>(i)?),
                            ColumnKind::Blob => json!({"b64": B64.encode(row.try_get::<Vec<u8>, _>(i)?)}),
                        }
                    });
                }
                writeln!(out, "{}", Value::Array(values))?;
                rows_written += 1;
            }
        }
        writeln!(out, "{}", json!({"end": true, "rows": rows_written}))?;
        out.flush()?;
        drop(tx);
        Ok(rows_written)
    }

    /// Replaces the store's content with a backup. Refuses a store that already holds users
    /// or audit records unless `replace` is set; either way it is all or nothing.
    pub async fn restore(&self, input: &mut dyn BufRead, replace: bool) -> Result<u64> {
        let bad = |line: usize, why: &str| StoreError::invalid("backup", format!("line {line}: {why}"));
        let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (_, header) = lines.next().ok_or_else(|| bad(1, "the file is empty"))?;
        let header: Value = serde_json::from_str(&header?).map_err(|_| bad(1, "not a dadong backup"))?;
        if header["format"] != FORMAT {
            return Err(bad(1, "not a dadong backup"));
        }
        let schema = header["schema"].as_i64().unwrap_or(0);
        let ours = crate::migrate::latest_version();
        if schema > ours {
            return Err(bad(1, &format!("written by a newer schema ({schema}) than this binary knows ({ours})")));
        }

        let mut tx = self.begin_write().await?;
        if !replace {
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
            let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&mut *tx).await?;
            if users + audit > 0 {
                return Err(StoreError::Conflict(
                    "the target store is not empty; restore into a new data folder or database, or pass --replace".to_string(),
                ));
            }
        }
        for (table, _) in TABLES.iter().rev() {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        // The table being read: its name, its columns with their kinds, and its INSERT statement.
        let mut table: Option<TableInsert> = None;
        let mut restored = 0u64;
        let mut ended = false;
        for (n, line) in lines {
            let line = line?;
            let value: Value = serde_json::from_str(&line).map_err(|_| bad(n, "not JSON"))?;
            match value {
                Value::Object(obj) if obj.contains_key("table") => {
                    let name = obj["table"].as_str().ok_or_else(|| bad(n, "table name"))?;
                    if !TABLES.iter().any(|(t, _)| *t == name) {
                        return Err(bad(n, &format!("unknown table '{name}'")));
                    }
                    let ours = self.column_kinds(&mut tx, name).await?;
                    let kinds: HashMap<_, _> = ours.iter().cloned().collect();
                    let mut cols = Vec::new();
                    for c in obj["columns"].as_array().ok_or_else(|| bad(n, "columns"))? {
                        let c = c.as_str().ok_or_else(|| bad(n, "column name"))?;
                        let kind = *kinds.get(c).ok_or_else(|| bad(n, &format!("table {name} has no column '{c}'")))?;
                        cols.push((c.to_string(), kind));
                    }
                    let sql = format!(
                        "INSERT INTO {name} ({}) VALUES ({})",
                        cols.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(", "),
                        crate::placeholders(1, cols.len())
                    );
                    table = Some((name.to_string(), cols, sql));
                }
                Value::Object(obj) if obj.contains_key("end") => {
                    ended = true;
                    break;
                }
                Value::Array(values) => {
                    let (_, cols, sql) = table.as_ref().ok_or_else(|| bad(n, "a row before any table"))?;
                    if values.len() != cols.len() {
                        return Err(bad(n, "wrong number of values"));
                    }
                    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                    for (v, (_, kind)) in values.iter().zip(cols) {
                        q = match (kind, v) {
                            (ColumnKind::Integer, Value::Null) => q.bind(None::<i64>),
                            (ColumnKind::Text, Value::Null) => q.bind(None::<String>),
                            (ColumnKind::Real, Value::Null) => q.bind(None::<f64>),
                            (ColumnKind::Blob, Value::Null) => q.bind(None::<Vec<u8>>),
                            (ColumnKind::Integer, Value::Number(x)) => q.bind(x.as_i64().ok_or_else(|| bad(n, "integer"))?),
                            (ColumnKind::Real, Value::Number(x)) => q.bind(x.as_f64().ok_or_else(|| bad(n, "number"))?),
                            (ColumnKind::Text, Value::String(s)) => q.bind(s.clone()),
                            (ColumnKind::Blob, Value::Object(o)) => {
                                let b = o.get("b64").and_then(Value::as_str).ok_or_else(|| bad(n, "blob"))?;
                                q.bind(B64.decode(b).map_err(|_| bad(n, "blob"))?)
                            }
                            _ => return Err(bad(n, "a value of the wrong type")),
                        };
                    }
                    q.execute(&mut *tx).await?;
                    restored += 1;
                }
                _ => return Err(bad(n, "unexpected line")),
            }
        }
        if !ended {
            return Err(StoreError::invalid("backup", "the file is cut short: no end marker"));
        }
        if self.backend() == Backend::Postgres {
            for t in SERIAL_TABLES {
                let sql = format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {t}");
                sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
        }
        // The restore is itself a change of state: it continues the restored chain.
        let after = json!({"rows": restored, "schema": schema, "from_backend": header["backend"], "replace": replace});
        crate::audit::append(&mut tx, self.backend(), &crate::Actor::cli(), "store.restore", "store", None, Some(&after)).await?;
        tx.commit().await?;
        Ok(restored)
    }

    /// The columns of a table in their declared order, with the kind of value each holds.
    async fn column_kinds(&self, conn: &mut sqlx::AnyConnection, table: &str) -> Result<Vec<(String, ColumnKind)>> {
        let rows = match self.backend() {
            Backend::Sqlite => {
                sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(&mut *conn).await?
            }
            Backend::Postgres => {
                sqlx::query("SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position")
                    .bind(table)
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let ty: String = r.try_get::<String, _>(1)?.to_ascii_lowercase();
                let kind = if ty.contains("int") || ty.contains("serial") {
                    ColumnKind::Integer
                } else if ty.contains("blob") || ty.contains("bytea") {
                    ColumnKind::Blob
                } else if ty.contains("real") || ty.contains("double") || ty.contains("float") {
                    ColumnKind::Real
                } else {
                    ColumnKind::Text
                };
                Ok((name, kind))
            })
            .collect()
    }

    /// The names of all tables in the store, for checking that [`TABLES`] misses none.
    pub async fn table_names(&self) -> Result<Vec<String>> {
        let sql = match self.backend() {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            Backend::Postgres => "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
        };
        Ok(sqlx::query_scalar(sql).fetch_all(self.pool()).await?)
    }
}

//! The audit chain: every change of state appends a record (who, when, what, before, after)
//! whose hash covers the previous record's hash, so that a record altered, deleted or moved
//! in the database is found by [`Store::verify_audit`].
//!
//! Appends are serialised by the one-row `audit_head` table, updated in the same transaction
//! as the change itself. Personal data never enters the chain in clear: callers pass masked
//! values or ids, since the chain cannot be rewritten.

use crate::{Backend, Result, Store, now_ms};
use dadong_domain::crypto::sha256_hex;
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something: a signed-in user, an operator at the command line, or the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Actor {
    User { id: i64, username: String },
    Cli(String),
    System,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::User { id, username } => format!("user:{id}:{username}"),
            Actor::Cli(who) => format!("cli:{who}"),
            Actor::System => "system".to_string(),
        }
    }

    /// The operator running a command, named by the login name where the OS tells it.
    pub fn cli() -> Actor {
        Actor::Cli(std::env::var("USER").unwrap_or_else(|_| "operator".to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub prev_hash: String,
    pub hash: String,
}

/// The first place where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuditBreak {
    /// The record with this number is missing (deleted) from the middle of the log.
    Missing { seq: i64 },
    /// The record's content does not match its hash: edited, or moved from another position.
    Altered { seq: i64 },
    /// The record does not follow the one before it: records were re-ordered or replaced.
    OutOfOrder { seq: i64 },
    /// The log ends before the head says it should: records were deleted from its end.
    Truncated { last_seq: i64, head_seq: i64 },
}

impl std::fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditBreak::Missing { seq } => write!(f, "record {seq} is missing: deleted from the log"),
            AuditBreak::Altered { seq } => write!(f, "record {seq} does not match its hash: altered, or moved from another position"),
            AuditBreak::OutOfOrder { seq } => write!(f, "record {seq} does not follow record {}: re-ordered or replaced", seq - 1),
            AuditBreak::Truncated { last_seq, head_seq } => {
                write!(f, "the log ends at record {last_seq} but {head_seq} were written: records deleted from its end")
            }
        }
    }
}

/// The outcome of a full check of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub records: i64,
    pub first_break: Option<AuditBreak>,
}

#[allow(clippy::too_many_arguments)] // the record's fields, each hashed in order
fn record_hash(prev_hash: &str, seq: i64, at_ms: i64, actor: &str, action: &str, object: &str, before: Option<&str>, after: Option<&str>) -> String {
    // A JSON array is an unambiguous encoding of the fields: no separator can be forged.
    let body = serde_json::to_string(&(seq, at_ms, actor, action, object, before, after)).expect("strings serialise");
    sha256_hex(format!("{prev_hash}\n{body}").as_bytes())
}

/// One record for [`append_many`].
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub actor: Actor,
    pub action: String,
    pub object: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The audit log's columns as [`append_many`] passes them, one JSON object per record.
const APPEND_COLUMNS: &[(&str, &str)] = &[
    ("seq", "bigint"),
    ("at", "bigint"),
    ("actor", "text"),
    ("action", "text"),
    ("object", "text"),
    ("before_json", "text"),
    ("after_json", "text"),
    ("prev_hash", "text"),
    ("hash", "text"),
];

/// Appends several records, in order, inside the caller's transaction with three statements
/// whatever their number: one read of the head, one insert of every record (passed as one
/// JSON parameter, so the statement text and its prepared plan never change), one update of
/// the head. The chain is the same as `records.len()` calls of [`append`] would write.
pub async fn append_many(conn: &mut AnyConnection, backend: Backend, records: &[NewRecord]) -> Result<Vec<i64>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let head = sqlx::query(head_sql(backend)).fetch_one(&mut *conn).await?;
    let mut seq: i64 = head.try_get(0)?;
    let mut prev_hash: String = head.try_get(1)?;
    let at_ms = now_ms();
    let mut rows = Vec::with_capacity(records.len());
    let mut seqs = Vec::with_capacity(records.len());
    for r in records {
        seq += 1;
        let actor = r.actor.label();
        let before = r.before.as_ref().map(Value::to_string);
        let after = r.after.as_ref().map(Value::to_string);
        let hash = record_hash(&prev_hash, seq, at_ms, &actor, &r.action, &r.object, before.as_deref(), after.as_deref());
        rows.push(serde_json::json!({
            "seq": seq, "at": at_ms, "actor": actor, "action": r.action, "object": r.object,
            "before_json": before, "after_json": after, "prev_hash": prev_hash, "hash": hash,
        }));
        seqs.push(seq);
        prev_hash = hash;
    }
    static INSERT: crate::PerBackend = crate::PerBackend::new();
    let insert = INSERT.get(backend, |b| {
        format!(
            "INSERT INTO audit_log (seq, at, actor, action, object, before_json, after_json, prev_hash, hash) \
             SELECT t.seq, t.at, t.actor, t.action, t.object, t.before_json, t.after_json, t.prev_hash, t.hash FROM {}",
            crate::json_rows(b, 1, APPEND_COLUMNS)
        )
    });
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind(Value::Array(rows).to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev_hash)
        .execute(&mut *conn)
        .await?;
    Ok(seqs)
}

fn head_sql(backend: Backend) -> &'static str {
    match backend {
        // The row lock queues concurrent appenders; SQLite's write lock already does.
        Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
    }
}

/// Appends one record inside the caller's transaction and returns its number.
pub async fn append(
    conn: &mut AnyConnection,
    backend: Backend,
    actor: &Actor,
    action: &str,
    object: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<i64> {
    let head = sqlx::query(head_sql(backend)).fetch_one(&mut *conn).await?;
    let prev_seq: i64 = head.try_get(0)?;
    let prev_hash: String = head.try_get(1)?;
    let seq = prev_seq + 1;
    let at_ms = now_ms();
    let actor = actor.label();
    let before = before.map(Value::to_string);
    let after = after.map(Value::to_string);
    let hash = record_hash(&prev_hash, seq, at_ms, &actor, action, object, before.as_deref(), after.as_deref());
    sqlx::query("INSERT INTO audit_log (seq, at, actor, action, object, before_json, after_json, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(seq)
        .bind(at_ms)
        .bind(&actor)
        .bind(action)
        .bind(object)
        .bind(before)
        .bind(after)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    let parse = |s: Option<String>| s.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)));
    Ok(AuditRecord {
        seq: row.try_get(0)?,
        at_ms: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        object: row.try_get(4)?,
        before: parse(row.try_get(5)?),
        after: parse(row.try_get(6)?),
        prev_hash: row.try_get(7)?,
        hash: row.try_get(8)?,
    })
}

const RECORD_COLUMNS: &str = "seq, at, actor, action, object, before_json, after_json, prev_hash, hash";

impl Store {
    /// Records an act that changes nothing else in the database (a login, say) on its own.
    pub async fn audit_event(&self, actor: &Actor, action: &str, object: &str, after: Option<&Value>) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let seq = append(&mut tx, self.backend(), actor, action, object, None, after).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The newest records first, at most `limit`, optionally before record `before_seq`.
    pub async fn audit_records(&self, limit: i64, before_seq: Option<i64>) -> Result<Vec<AuditRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Walks the whole chain in order and reports the first record that breaks it.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        // One read transaction, so that appends made meanwhile cannot look like a break.
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit_log ORDER BY seq");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
        let mut expected_seq = 1;
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut count = 0;
        let mut first_break = None;
        while let Some(row) = rows.try_next().await? {
            let seq: i64 = row.try_get(0)?;
            let at_ms: i64 = row.try_get(1)?;
            let actor: String = row.try_get(2)?;
            let action: String = row.try_get(3)?;
            let object: String = row.try_get(4)?;
            let before: Option<String> = row.try_get(5)?;
            let after: Option<String> = row.try_get(6)?;
            let stored_prev: String = row.try_get(7)?;
            let hash: String = row.try_get(8)?;
            count += 1;
            if seq != expected_seq {
                first_break = Some(AuditBreak::Missing { seq: expected_seq });
                break;
            }
            if record_hash(&stored_prev, seq, at_ms, &actor, &action, &object, before.as_deref(), after.as_deref()) != hash {
                first_break = Some(AuditBreak::Altered { seq });
                break;
            }
            if stored_prev != prev_hash {
                first_break = Some(AuditBreak::OutOfOrder { seq });
                break;
            }
            prev_hash = hash;
            expected_seq += 1;
        }
        drop(rows);
        tx.commit().await?;
        let last_seq = expected_seq - 1;
        if first_break.is_none() && (last_seq != head_seq || prev_hash != head_hash) {
            first_break = Some(if last_seq < head_seq {
                AuditBreak::Truncated { last_seq, head_seq }
            } else {
                // Records beyond the head, or a head that names another hash: the tail was
                // rewritten without going through the chain.
                AuditBreak::Altered {
                    seq: last_seq.min(head_seq.max(1)),
                }
            });
        }
        Ok(AuditReport { records: count, first_break })
    }
}

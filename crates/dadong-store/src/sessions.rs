//! Sign-in sessions and login throttling, both kept in the database so that several server
//! processes agree on them.
//!
//! The browser holds a random token; the store keeps only its SHA-256, so a copy of the
//! database does not let anyone sign in. Each session carries its own CSRF token.

use crate::{PerBackend, Result, Store, StoreError, User, now_ms, texts_from_json};
use dadong_domain::crypto::{random_token, sha256_hex};
use sqlx::Row;
use std::collections::HashMap;

pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// Failed sign-ins allowed per account within the window before it is throttled.
pub const FAILURES_PER_ACCOUNT_MAX: i64 = 5;
/// Failed sign-ins allowed per client address within the window.
pub const FAILURES_PER_ADDRESS_MAX: i64 = 20;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at_ms: i64,
}

impl Store {
    /// Opens a session and returns the token for the cookie and the CSRF token.
    pub async fn create_session(&self, user_id: i64) -> Result<(String, String)> {
        let token = random_token(32);
        let csrf = random_token(32);
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(user_id)
            .bind(&csrf)
            .bind(now)
            .bind(now + SESSION_TTL_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((token, csrf))
    }

    /// The live session for a token, if any; an expired one or one of a deactivated user is none.
    ///
    /// This runs on every request, so the lookups that wait at the same moment are read
    /// together, in one query (a group, as writes are grouped). Each lookup is answered by a
    /// query that began after it was asked, so a session ended or a user deactivated by any
    /// process is seen at once, as with a query of its own.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        if token.len() > 128 {
            return Ok(None);
        }
        let hash = sha256_hex(token.as_bytes());
        let lane = hash.bytes().take(8).fold(0u64, |k, b| k << 8 | u64::from(b));
        self.session_reader.submit(self, "session", lane, hash, Store::read_sessions).await?
    }

    /// One group of session lookups (token hashes), answered in order.
    async fn read_sessions(self, hashes: Vec<String>) -> Vec<Result<Option<Session>>> {
        match self.sessions_by_hash(&hashes).await {
            Ok(found) => hashes.iter().map(|h| Ok(found.get(h).cloned().flatten())).collect(),
            Err(e) => hashes
                .iter()
                .map(|_| Err(StoreError::Conflict(format!("the session lookup failed: {e}"))))
                .collect(),
        }
    }

    async fn sessions_by_hash(&self, hashes: &[String]) -> Result<HashMap<String, Option<Session>>> {
        static SQL: PerBackend = PerBackend::new();
        let sql = SQL.get(self.backend(), |backend| {
            format!(
                "SELECT {}, s.token_hash, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash IN ({})",
                crate::accounts::user_columns("u"),
                texts_from_json(backend, 1)
            )
        });
        let payload = serde_json::to_string(hashes).map_err(|e| StoreError::Config(format!("session hashes: {e}")))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(payload).fetch_all(self.pool()).await?;
        let now = now_ms();
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let expires_at_ms: i64 = row.try_get("expires_at")?;
            let user = self.user_from_row(&row)?;
            let session = if expires_at_ms < now || !user.active {
                None
            } else {
                Some(Session {
                    user,
                    csrf_token: row.try_get("csrf_token")?,
                    expires_at_ms,
                })
            };
            found.insert(row.try_get("token_hash")?, session);
        }
        Ok(found)
    }

    pub async fn delete_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(token.as_bytes()))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Milliseconds to wait before another attempt is allowed for these keys, if throttled.
    pub async fn login_throttled(&self, account_key: &str, address_key: &str) -> Result<Option<i64>> {
        let now = now_ms();
        let mut wait = None;
        for (key, max) in [(account_key, FAILURES_PER_ACCOUNT_MAX), (address_key, FAILURES_PER_ADDRESS_MAX)] {
            // Failures count since the last success, within the window.
            let row = sqlx::query(
                "SELECT COUNT(*), MIN(at) FROM login_attempts WHERE throttle_key = $1 AND success = 0 AND at > $2
                 AND at > COALESCE((SELECT MAX(at) FROM login_attempts WHERE throttle_key = $1 AND success = 1), 0)",
            )
            .bind(key)
            .bind(now - THROTTLE_WINDOW_MS)
            .fetch_one(self.pool())
            .await?;
            let failures: i64 = row.try_get(0)?;
            let oldest: Option<i64> = row.try_get(1)?;
            if failures >= max {
                let until = oldest.unwrap_or(now) + THROTTLE_WINDOW_MS - now;
                wait = Some(wait.map_or(until, |w: i64| w.max(until)));
            }
        }
        Ok(wait)
    }

    pub async fn record_login_attempt(&self, keys: &[&str], success: bool) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM login_attempts WHERE at < $1")
            .bind(now - 2 * THROTTLE_WINDOW_MS)
            .execute(&mut *tx)
            .await?;
        for key in keys {
            sqlx::query("INSERT INTO login_attempts (throttle_key, at, success) VALUES ($1, $2, $3)")
                .bind(*key)
                .bind(now)
                .bind(success as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

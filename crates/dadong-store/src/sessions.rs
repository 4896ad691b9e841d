//! Sign-in sessions and login throttling, both kept in the database so that several server
//! processes agree on them.
//!
//! The browser holds a random token; the store keeps only its SHA-256, so a copy of the
//! database does not let anyone sign in. Each session carries its own CSRF token.

use crate::{Result, Store, User, now_ms};
use dadong_domain::crypto::{random_token, sha256_hex};
use sqlx::Row;
use std::sync::LazyLock;

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
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        if token.len() > 128 {
            return Ok(None);
        }
        // One round trip: the session and its user together (this runs on every request).
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                crate::accounts::user_columns("u")
            )
        });
        let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(sha256_hex(token.as_bytes()))
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let expires_at_ms: i64 = row.try_get(crate::accounts::USER_COLUMN_COUNT + 1)?;
        if expires_at_ms < now_ms() {
            return Ok(None);
        }
        let user = self.user_from_row(&row)?;
        if !user.active {
            return Ok(None);
        }
        Ok(Some(Session {
            user,
            csrf_token: row.try_get(crate::accounts::USER_COLUMN_COUNT)?,
            expires_at_ms,
        }))
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

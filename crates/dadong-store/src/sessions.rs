//! Sign-in sessions and login throttling, both kept in the database so that several server
//! processes agree on them.
//!
//! The browser holds a random token; the store keeps only its SHA-256, so a copy of the
//! database does not let anyone sign in. Each session carries its own CSRF token.
//!
//! Every request looks its session up, so each process keeps the sessions it has read
//! ([`SessionCache`]) and trusts them only while the database's auth generation, a counter
//! that triggers move on any change to a user or a session (migration 0011), has not moved.
//! A lookup still reads the database, but one integer for a whole group of lookups instead
//! of a join returning each user.

use crate::{PerBackend, Result, Store, StoreError, User, now_ms, texts_from_json};
use dadong_domain::crypto::{random_token, sha256_hex};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

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
        match self.sessions_through_cache(&hashes).await {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(e) => hashes
                .iter()
                .map(|_| Err(StoreError::Conflict(format!("the session lookup failed: {e}"))))
                .collect(),
        }
    }

    /// The sessions of `hashes`, in order: those this process has read under the current auth
    /// generation from its cache, the others from the database.
    ///
    /// The generation is read before the sessions, so a session read under generation `g` is
    /// at least as new as `g`; while the database still says `g`, nothing about any user or
    /// session has changed since, and the copy is exact.
    async fn sessions_through_cache(&self, hashes: &[String]) -> Result<Vec<Option<Session>>> {
        let generation: i64 = sqlx::query_scalar("SELECT n FROM auth_generation WHERE id = 1").fetch_one(self.pool()).await?;
        let now = now_ms();
        let mut answers = Vec::with_capacity(hashes.len());
        let mut missing = Vec::new();
        {
            let mut cache = self.session_cache.lock().unwrap_or_else(PoisonError::into_inner);
            let current = cache.observe(generation);
            for hash in hashes {
                let kept = if current { cache.get(hash, now) } else { None };
                if kept.is_none() {
                    missing.push(hash.clone());
                }
                answers.push(kept);
            }
        }
        if missing.is_empty() {
            return Ok(answers);
        }
        let read = self.sessions_by_hash(&missing).await?;
        {
            let mut cache = self.session_cache.lock().unwrap_or_else(PoisonError::into_inner);
            for hash in &missing {
                cache.keep(generation, hash, read.get(hash).cloned().flatten());
            }
        }
        for (hash, answer) in hashes.iter().zip(&mut answers) {
            if answer.is_none() {
                *answer = read.get(hash).cloned().flatten();
            }
        }
        Ok(answers)
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

/// Most sessions one process keeps; past it the cache starts again empty.
pub const SESSION_CACHE_MAX: usize = 50_000;

/// The sessions one process has read, with the auth generation they were read under; shared
/// by every clone of a store.
#[derive(Debug, Default)]
pub(crate) struct SessionCache {
    /// The generation the kept sessions are exact for; `None` before the first read.
    generation: Option<i64>,
    sessions: HashMap<String, Session>,
}

pub(crate) type SharedSessionCache = Arc<Mutex<SessionCache>>;

impl SessionCache {
    /// Takes note of the generation the database holds now, forgetting every session if it
    /// has moved on. Whether the kept sessions are exact for `generation`: not if it is older
    /// than one already seen (a group whose read began before another's finished).
    fn observe(&mut self, generation: i64) -> bool {
        match self.generation {
            Some(seen) if generation < seen => false,
            Some(seen) if generation == seen => true,
            _ => {
                self.sessions.clear();
                self.generation = Some(generation);
                true
            }
        }
    }

    /// The kept session of `hash`, if it has not expired by `now`.
    fn get(&self, hash: &str, now: i64) -> Option<Session> {
        self.sessions.get(hash).filter(|s| s.expires_at_ms >= now).cloned()
    }

    /// Keeps what the database said of `hash` under `generation`, unless the cache has moved
    /// to another generation meanwhile; a session found no longer live is forgotten.
    fn keep(&mut self, generation: i64, hash: &str, session: Option<Session>) {
        if self.generation != Some(generation) {
            return;
        }
        match session {
            Some(session) => {
                if self.sessions.len() >= SESSION_CACHE_MAX && !self.sessions.contains_key(hash) {
                    self.sessions.clear();
                }
                self.sessions.insert(hash.to_string(), session);
            }
            None => {
                self.sessions.remove(hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dadong_domain::Role;

    fn session(user_id: i64, expires_at_ms: i64) -> Session {
        Session {
            user: User {
                id: user_id,
                username: format!("u{user_id}"),
                display_name: "测试".into(),
                role: Role::Citizen,
                department_id: None,
                company_code: None,
                phone_masked: None,
                id_number_masked: None,
                active: true,
            },
            csrf_token: "csrf".into(),
            expires_at_ms,
        }
    }

    #[test]
    fn a_kept_session_is_answered_only_under_its_generation_and_before_it_expires() {
        let mut cache = SessionCache::default();
        assert!(cache.observe(3));
        cache.keep(3, "a", Some(session(1, 1_000)));
        assert_eq!(cache.get("a", 1_000).map(|s| s.user.id), Some(1), "live until its last millisecond");
        assert!(cache.get("a", 1_001).is_none(), "an expired session is not answered");
        assert!(cache.get("b", 0).is_none());

        // An older generation (a slower group) neither uses nor clears the cache.
        assert!(!cache.observe(2));
        cache.keep(2, "b", Some(session(2, 1_000)));
        assert!(cache.get("b", 0).is_none(), "nothing is kept under an older generation");
        assert!(cache.observe(3));
        assert!(cache.get("a", 0).is_some());

        // A newer generation forgets everything kept under the old one.
        assert!(cache.observe(4));
        assert!(cache.get("a", 0).is_none(), "a change anywhere forgets every session");
        cache.keep(3, "a", Some(session(1, 1_000)));
        assert!(cache.get("a", 0).is_none(), "a read made under the old generation is not kept");

        // A session found gone is forgotten.
        cache.keep(4, "a", Some(session(1, 1_000)));
        cache.keep(4, "a", None);
        assert!(cache.get("a", 0).is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let mut cache = SessionCache::default();
        cache.observe(0);
        for i in 0..(SESSION_CACHE_MAX + 10) {
            cache.keep(0, &format!("h{i}"), Some(session(i as i64, i64::MAX)));
        }
        assert!(cache.sessions.len() <= SESSION_CACHE_MAX);
        assert!(cache.get(&format!("h{}", SESSION_CACHE_MAX + 9), 0).is_some(), "the newest is kept");
    }
}

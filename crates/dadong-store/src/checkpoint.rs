//! Copying SQLite's write-ahead log back into the database file (a checkpoint) in the
//! background, so that no commit pays for it.
//!
//! By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that
//! commit then also copies every page the log holds and syncs the database file, and every
//! request waiting on it (a whole claim batch, say) waits for that too. Here the connections'
//! own checkpoint is only a backstop at [`AUTOCHECKPOINT_BACKSTOP_PAGES`], and a task copies
//! the log every [`CHECKPOINT_EVERY`] on a connection of its own, beside the writers. A
//! passive checkpoint never blocks a reader or a writer, and a crash in the middle of one
//! loses nothing: the log stays the record until it has been copied.
//!
//! With `dadong bench vouchers` (1,000 connections claiming over HTTP) the log grows by about
//! 100 MB/s; checkpointing inside the commits cost the claims about 9 ms of their p99.

use crate::{Result, Store};
use sqlx::AnyPool;
use sqlx::Row;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Pages the log may reach before a committing connection checkpoints it itself: only if
/// the background task falls behind or no process runs one (SQLite's default is 1,000).
pub const AUTOCHECKPOINT_BACKSTOP_PAGES: u32 = 16_384;

/// How often the background task checkpoints the log.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// What one checkpoint did, as `PRAGMA wal_checkpoint` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Whether another checkpoint held the lock, so that this one did nothing.
    pub busy: bool,
    /// Pages in the log.
    pub log_pages: i64,
    /// Pages of the log now copied into the database file.
    pub copied_pages: i64,
}

impl Store {
    /// Checkpoints the write-ahead log without waiting on readers or writers (SQLite; on
    /// PostgreSQL nothing is done and nothing reported).
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>> {
        match self.backend() {
            crate::Backend::Sqlite => Ok(Some(checkpoint(self.pool()).await?)),
            crate::Backend::Postgres => Ok(None),
        }
    }
}

async fn checkpoint(pool: &AnyPool) -> Result<Checkpoint> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(pool).await?;
    Ok(Checkpoint {
        busy: row.try_get::<i64, _>(0)? != 0,
        log_pages: row.try_get(1)?,
        copied_pages: row.try_get(2)?,
    })
}

/// Starts the background checkpoints of a SQLite store's pool. They stop once the returned
/// handle and all its clones are dropped, or the pool is closed.
pub(crate) fn start(pool: AnyPool) -> Arc<()> {
    let alive = Arc::new(());
    tokio::spawn(run(pool, Arc::downgrade(&alive)));
    alive
}

async fn run(pool: AnyPool, alive: Weak<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.strong_count() == 0 || pool.is_closed() {
            return;
        }
        if let Err(e) = checkpoint(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "background checkpoint failed; the next commit past the backstop checkpoints instead");
        }
    }
}

//! Versioned migrations, embedded in the binary, with the same numbers and names for both
//! backends. An applied migration is never edited: its checksum is kept and checked.

use crate::{Backend, Result, Store, StoreError, now_ms};
use dadong_domain::crypto::sha256_hex;
use sqlx::Executor;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "economy",
        sqlite: include_str!("../migrations/sqlite/0002_economy.sql"),
        postgres: include_str!("../migrations/postgres/0002_economy.sql"),
    },
    Migration {
        version: 3,
        name: "indicator_rollups",
        sqlite: include_str!("../migrations/sqlite/0003_indicator_rollups.sql"),
        postgres: include_str!("../migrations/postgres/0003_indicator_rollups.sql"),
    },
    Migration {
        version: 4,
        name: "services",
        sqlite: include_str!("../migrations/sqlite/0004_services.sql"),
        postgres: include_str!("../migrations/postgres/0004_services.sql"),
    },
    // Issue 6: enterprise service and daily dispatch.
    Migration {
        version: 5,
        name: "appeals",
        sqlite: include_str!("../migrations/sqlite/0005_appeals.sql"),
        postgres: include_str!("../migrations/postgres/0005_appeals.sql"),
    },
    Migration {
        version: 6,
        name: "vouchers",
        sqlite: include_str!("../migrations/sqlite/0006_vouchers.sql"),
        postgres: include_str!("../migrations/postgres/0006_vouchers.sql"),
    },
    Migration {
        version: 7,
        name: "voucher_lottery",
        sqlite: include_str!("../migrations/sqlite/0007_voucher_lottery.sql"),
        postgres: include_str!("../migrations/postgres/0007_voucher_lottery.sql"),
    },
    Migration {
        version: 8,
        name: "key_enterprise_removal",
        sqlite: include_str!("../migrations/sqlite/0008_key_enterprise_removal.sql"),
        postgres: include_str!("../migrations/postgres/0008_key_enterprise_removal.sql"),
    },
    Migration {
        version: 9,
        name: "assignment_scope",
        sqlite: include_str!("../migrations/sqlite/0009_assignment_scope.sql"),
        postgres: include_str!("../migrations/postgres/0009_assignment_scope.sql"),
    },
    Migration {
        version: 10,
        name: "voucher_citizen_index",
        sqlite: include_str!("../migrations/sqlite/0010_voucher_citizen_index.sql"),
        postgres: include_str!("../migrations/postgres/0010_voucher_citizen_index.sql"),
    },
    Migration {
        version: 11,
        name: "auth_generation",
        sqlite: include_str!("../migrations/sqlite/0011_auth_generation.sql"),
        postgres: include_str!("../migrations/postgres/0011_auth_generation.sql"),
    },
];

/// How many migrations this binary holds (numbers may have gaps: areas reserve theirs).
pub fn migration_count() -> i64 {
    MIGRATIONS.len() as i64
}

/// The schema version this binary expects.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

pub(crate) async fn run(store: &Store) -> Result<()> {
    const CREATE: &str =
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    if store.pool().execute(CREATE).await.is_err() {
        // On PostgreSQL, a server that creates the table at the same moment as another does
        // not see the other's uncommitted table and fails on the catalog's unique index once
        // the other commits. By then the table exists, so a second try finds it.
        store.pool().execute(CREATE).await?;
    }
    for m in MIGRATIONS {
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let checksum = sha256_hex(sql.as_bytes());
        let mut tx = store.begin_write().await?;
        if store.backend() == Backend::Postgres {
            // Several servers may start at once against one database: one migrates, the
            // others wait here and then find the work done.
            sqlx::query("LOCK TABLE schema_migrations IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        }
        let applied: Option<String> = sqlx::query_scalar("SELECT checksum FROM schema_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        match applied {
            Some(existing) if existing == checksum => continue,
            Some(_) => {
                return Err(StoreError::Config(format!(
                    "migration {} ({}) differs from the one applied to this database; applied migrations must never be edited",
                    m.version, m.name
                )));
            }
            None => {}
        }
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(m.version)
            .bind(m.name)
            .bind(&checksum)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

/// The highest migration applied to the store.
pub async fn current_version(store: &Store) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(store.pool()).await?;
    Ok(v.unwrap_or(0))
}

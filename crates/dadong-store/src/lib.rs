//! Digital Dadong's storage: one schema on embedded SQLite (the default) and on PostgreSQL.
//!
//! This is the only crate that knows SQL. Both backends run the same statements through
//! sqlx's `Any` driver wherever the dialects agree (`$1` placeholders, `RETURNING`,
//! `ON CONFLICT`); where they differ, each backend's SQL is written out in its own branch.
//! Every change of state goes through a [`Store`] method that appends to the audit chain in
//! the same transaction, so a change and its audit record are committed together or not at all.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod appeals;
pub mod appeals_bench;
pub mod appeals_load;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod checkpoint;
pub mod economy;
pub mod economy_import;
pub mod economy_queries;
mod group;
pub mod migrate;
pub mod services;
pub mod sessions;
pub mod voucher_engine;
pub mod vouchers;
pub mod vouchers_lottery;

use dadong_domain::crypto::{PiiCipher, PiiKey};
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use accounts::{Department, NewUser, User};
pub use audit::{Actor, AuditBreak, AuditRecord};

/// Which database a store runs on, picked once from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Everything that can go wrong in the store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Input that breaks a rule; `field` names the form field or column.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// The change would clash with what is stored (a duplicate name, say).
    #[error("{0}")]
    Conflict(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the store lives: a data folder (SQLite file and keys) and optionally a database URL.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// The personal-data key in base64; when absent, `data_dir/pii.key` is used (and created).
    pub pii_key: Option<String>,
    pub max_connections: u32,
}

impl StoreConfig {
    pub fn new(data_dir: impl Into<PathBuf>, database_url: Option<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url,
            pii_key: None,
            max_connections: 16,
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    pii: PiiCipher,
    /// The group-commit writers of service acts (`Store::act_grouped`) and of appeals' lives
    /// (`Store::raise_appeal`, `Store::appeal_step`), each started on first use.
    services_writer: group::Writer<services::ActRequest, Result<services::StoredApplication>>,
    appeals_writer: group::Writer<appeals::AppealWrite, Result<appeals::Written>>,
    /// The session lookups waiting at the same moment, read in one query (`Store::session`).
    session_reader: group::Writer<String, Result<Option<sessions::Session>>>,
    /// The sessions this process has read, shared by every clone (`sessions::SessionCache`).
    session_cache: sessions::SharedSessionCache,
    /// Keeps the background checkpoints of a SQLite store running (`checkpoint`).
    checkpointer: Option<Arc<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// `$first, $first+1, …` for `n` parameters: an `IN (…)` list or one row of a `VALUES` clause.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The id set of a JSON array parameter `$n`, for `... IN (<this>)`: one statement text
/// whatever the number of ids, so its prepared plan is reused.
pub(crate) fn ids_from_json(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Backend::Postgres => format!("SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(${n} AS json))"),
    }
}

/// The text set of a JSON array parameter `$n`, for `... IN (<this>)`, as [`ids_from_json`].
pub(crate) fn texts_from_json(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Backend::Postgres => format!("SELECT value FROM json_array_elements_text(CAST(${n} AS json))"),
    }
}

/// A JSON array of objects bound as parameter `$n`, as a row source named `t` with the
/// given columns (name and PostgreSQL type), for `INSERT … SELECT … FROM <this>` or
/// `UPDATE … FROM <this>`: one statement writes any number of rows, and its text does not
/// depend on how many, so its prepared plan is reused. A key missing from an object is NULL.
pub(crate) fn json_rows(backend: Backend, n: usize, columns: &[(&str, &str)]) -> String {
    match backend {
        // `jsonb_each` hands each object over in SQLite's binary form, which `->>` reads
        // directly; `json_each` would render it as text for every `->>` to parse again
        // (4,096 six-column rows: 15.8 ms to insert that way, 9.2 ms this way).
        Backend::Sqlite => {
            let cols: Vec<String> = columns.iter().map(|(c, _)| format!("value ->> '$.{c}' AS {c}")).collect();
            format!("(SELECT {} FROM jsonb_each(${n})) AS t", cols.join(", "))
        }
        Backend::Postgres => {
            let cols: Vec<String> = columns.iter().map(|(c, ty)| format!("{c} {ty}")).collect();
            format!("json_to_recordset(CAST(${n} AS json)) AS t({})", cols.join(", "))
        }
    }
}

/// `SELECT {json_array_of(b, "x.a, x.b")} FROM (…) x`: the rows of a query as ONE row whose
/// one column is a JSON array of `[a, b]` arrays, read back with [`fetch_json_rows`].
///
/// sqlx's SQLite worker thread hands rows to the waiting task through a channel of 50 and
/// stops at every 50th row until that task is polled again; under load the task waits its
/// turn behind a thousand connections for each refill. The claim batch's three results of
/// a few hundred rows each cross this way in one piece (HTTP claims against the same run's
/// `GET /api/v1/me` floor: 0.44 of it with rows, 0.50 without).
pub(crate) fn json_array_of(backend: Backend, exprs: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_group_array(json_array({exprs}))"),
        Backend::Postgres => format!("COALESCE(json_agg(json_build_array({exprs})), '[]'::json)::text"),
    }
}

/// The rows of a [`json_array_of`] query, each a tuple of its columns.
pub(crate) async fn fetch_json_rows<T: serde::de::DeserializeOwned>(
    query: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    conn: &mut AnyConnection,
) -> Result<Vec<T>> {
    use sqlx::Row;
    let text: String = query.fetch_one(conn).await?.try_get(0)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Config(format!("a grouped result did not read back: {e}")))
}

/// A statement whose text depends on the backend alone (one with a [`json_rows`] source, say),
/// built the first time each backend asks and kept: `static SQL: PerBackend = PerBackend::new();`
/// then `SQL.get(backend, |b| format!(…))`.
pub(crate) struct PerBackend([OnceLock<String>; 2]);

impl PerBackend {
    pub(crate) const fn new() -> Self {
        PerBackend([OnceLock::new(), OnceLock::new()])
    }

    pub(crate) fn get(&self, backend: Backend, build: impl FnOnce(Backend) -> String) -> &str {
        let slot = match backend {
            Backend::Sqlite => &self.0[0],
            Backend::Postgres => &self.0[1],
        };
        slot.get_or_init(|| build(backend))
    }
}

/// Rows per multi-row `INSERT … VALUES (…), (…)` of `columns` placeholders each. SQLite binds
/// each placeholder by looking its name up in a list, so a statement's binding time grows
/// with the square of their number (10,000 cost the demo's load seconds) while a statement
/// costs no round trip: it gets at most 200. PostgreSQL gets 500 rows, well inside its limit.
pub(crate) fn rows_per_insert(backend: Backend, columns: usize) -> usize {
    match backend {
        Backend::Sqlite => (200 / columns.max(1)).max(1),
        Backend::Postgres => 500,
    }
}

/// Milliseconds since the Unix epoch, the store's unit of time.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Store {
    /// Opens the store, creating and migrating it when it is new or behind.
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = match config.database_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => {
                std::fs::create_dir_all(&config.data_dir)?;
                let path = config.data_dir.join("dadong.db");
                (format!("sqlite://{}?mode=rwc", path.display()), Backend::Sqlite)
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => (url.to_string(), Backend::Postgres),
            Some(url) if url.starts_with("sqlite:") => (url.to_string(), Backend::Sqlite),
            Some(url) => {
                let scheme = url.split(':').next().unwrap_or(url);
                return Err(StoreError::Config(format!(
                    "unknown database URL scheme '{scheme}': use postgres://… or leave it out for SQLite in the data folder"
                )));
            }
        };
        let pii = PiiCipher::new(load_pii_key(config)?);
        let mut options = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        if backend == Backend::Sqlite {
            // A SQLite connection is a file handle in this process: there is no server or
            // network between that could have dropped it, so checking it with a ping before
            // every use (sqlx's default) would only add a round trip to its worker thread.
            options = options.test_before_acquire(false);
            // The pragmas live here and nowhere else: WAL for concurrent readers, a busy
            // timeout instead of immediate SQLITE_BUSY, foreign keys enforced, and a full
            // sync so that an acknowledged write survives a crash. Temporary storage in
            // memory: a statement that writes many rows inside a transaction (a claim
            // batch's vouchers) keeps the pages it changes in a statement journal, to undo
            // itself alone; in a file that was a write call per page, a sixth of the CPU the
            // SQLite threads spent under `dadong bench vouchers`' HTTP claims. The journal dies
            // with its statement and a crash needs none of it: the log holds only committed
            // transactions.
            options = options.after_connect(|conn: &mut AnyConnection, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA temp_store = MEMORY;",
                    )
                        .await?;
                    // The log is checkpointed in the background (`checkpoint`); a commit
                    // does it only past this backstop.
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "PRAGMA wal_autocheckpoint = {}",
                        checkpoint::AUTOCHECKPOINT_BACKSTOP_PAGES
                    )))
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        let checkpointer = (backend == Backend::Sqlite).then(|| checkpoint::start(pool.clone()));
        let store = Store {
            pool,
            backend,
            pii,
            services_writer: group::Writer::one_lane(),
            appeals_writer: group::Writer::lanes_by_backend(),
            session_reader: group::Writer::lanes_by_backend(),
            session_cache: Default::default(),
            checkpointer,
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// This store's pool and keys with no group-commit writers of its own.
    pub(crate) fn without_writer(&self) -> Store {
        Store {
            pool: self.pool.clone(),
            backend: self.backend,
            pii: self.pii.clone(),
            services_writer: group::Writer::one_lane(),
            appeals_writer: group::Writer::lanes_by_backend(),
            session_reader: group::Writer::lanes_by_backend(),
            session_cache: self.session_cache.clone(),
            checkpointer: self.checkpointer.clone(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn pii(&self) -> &PiiCipher {
        &self.pii
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so that two writers queue on the busy timeout instead of one failing
    /// when it upgrades a read lock.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }
}

fn load_pii_key(config: &StoreConfig) -> Result<PiiKey> {
    if let Some(text) = &config.pii_key {
        return PiiKey::from_base64(text).map_err(|e| StoreError::Config(e.to_string()));
    }
    let path = config.data_dir.join("pii.key");
    let read = |path: &Path| -> Result<PiiKey> {
        let text = std::fs::read_to_string(path)?;
        PiiKey::from_base64(&text).map_err(|e| StoreError::Config(format!("{}: {e}", path.display())))
    };
    if path.exists() {
        return read(&path);
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let key = PiiKey::generate();
    match write_secret(&path, &key.to_base64()) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a new personal-data key; back it up with the database");
            Ok(key)
        }
        // Another process opening the same folder at the same moment wrote its key first;
        // every process must use that one key, so this one reads it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(&path),
        Err(e) => Err(e.into()),
    }
}

/// Creates `path` holding `text`, failing with `AlreadyExists` if it is there. The file is
/// written under a temporary name and linked into place, so that a process reading it at
/// the same moment never sees it empty or half-written.
fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("secret");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", dadong_domain::crypto::random_token(9)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked
}

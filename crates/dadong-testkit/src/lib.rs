//! Test support shared by every crate's integration tests: a fresh database per test on
//! SQLite and on PostgreSQL, the real server on a loopback port, and headless Chromium.
//!
//! Where PostgreSQL or Chromium is missing (a fresh laptop) the tests that need them print a
//! loud SKIPPED line and pass; under CI (`CI=true`) a missing one fails the test instead,
//! since CI installs and starts both.

#![forbid(unsafe_code)]

pub mod browser;
pub mod http;

use dadong_store::{Store, StoreConfig};
use std::sync::OnceLock;
use tempfile::TempDir;

pub use dadong_store::Backend;
pub use http::PASSWORD;

/// A user named `display_name` in `role` who signs in with [`PASSWORD`].
pub fn user(username: &str, display_name: &str, role: &str) -> dadong_store::NewUser {
    dadong_store::NewUser::new(username, display_name, role, PASSWORD)
}

/// A first-come campaign named `name` whose claim window is open now (from a minute ago for an
/// hour, its vouchers valid for two): one kind, catering 满300减50 (300.00 off 50.00), with
/// `stock` vouchers and `limit` a person, and a budget far above the stock.
#[allow(clippy::inconsistent_digit_grouping)] // amounts in fen are written yuan_fen
pub fn open_campaign(name: &str, stock: i64, limit: i64) -> dadong_vouchers::CampaignSpec {
    use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
    let now = dadong_store::now_ms();
    CampaignSpec {
        name: name.into(),
        budget_fen: 10_000_000_00,
        per_person_limit: limit,
        claim_mode: ClaimMode::FirstCome,
        claim_start_ms: now - 60_000,
        claim_end_ms: now + 3_600_000,
        valid_from_ms: now - 60_000,
        valid_until_ms: now + 7_200_000,
        kinds: vec![KindSpec {
            name: "满300减50".into(),
            category: Category::Catering,
            threshold_fen: 300_00,
            discount_fen: 50_00,
            stock,
        }],
    }
}

/// Generates one test per backend from an async scenario `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$scenario($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    super::$scenario($crate::Backend::Postgres).await
                }
            }
        )+
    };
}

/// True when running under CI, where every dependency must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "0" && v != "false").unwrap_or(false)
}

/// Reports a test that could not run for want of `what`; fails under CI.
pub fn skip(test: &str, what: &str) {
    if in_ci() {
        panic!("{test}: {what} is required under CI but missing");
    }
    eprintln!("\n*** SKIPPED {test}: {what} ***\n");
}

/// The PostgreSQL server tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("DADONG_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

async fn postgres_reachable() -> bool {
    static REACHABLE: OnceLock<bool> = OnceLock::new();
    if let Some(r) = REACHABLE.get() {
        return *r;
    }
    sqlx::any::install_default_drivers();
    let ok = tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::AnyPool::connect(&postgres_admin_url()))
        .await
        .map(|r| r.is_ok())
        .unwrap_or(false);
    *REACHABLE.get_or_init(|| ok)
}

/// A fresh, empty database for one test, dropped afterwards.
pub struct TestDb {
    pub config: StoreConfig,
    pub backend: Backend,
    pub dir: TempDir,
    pg_database: Option<String>,
}

impl TestDb {
    /// A new database on `backend`, or `None` (after a loud skip) where it cannot be had.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        let dir = tempfile::Builder::new().prefix("dadong-test-").tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => Some(TestDb {
                config: StoreConfig::new(dir.path().join("data"), None),
                backend,
                dir,
                pg_database: None,
            }),
            Backend::Postgres => {
                if !postgres_reachable().await {
                    skip(test, &format!("PostgreSQL at {}", postgres_admin_url()));
                    return None;
                }
                let name = format!(
                    "dadong_test_{}",
                    dadong_domain::crypto::random_token(9).to_ascii_lowercase().replace(['-', '_'], "x")
                );
                let admin = sqlx::AnyPool::connect(&postgres_admin_url()).await.expect("postgres admin connection");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                let url = replace_database(&postgres_admin_url(), &name);
                Some(TestDb {
                    config: StoreConfig::new(dir.path().join("data"), Some(url)),
                    backend,
                    dir,
                    pg_database: Some(name),
                })
            }
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.config).await.expect("open test store")
    }

    /// The database URL to hand to the `dadong` binary, if not SQLite in the data folder.
    pub fn database_url(&self) -> Option<&str> {
        self.config.database_url.as_deref()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_database.take() {
            // Drop runs outside async; a short-lived runtime on its own thread does the work.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = sqlx::AnyPool::connect(&postgres_admin_url()).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The real server on a loopback port over a fresh database.
pub struct TestApp {
    pub db: TestDb,
    pub store: Store,
    pub base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(backend: Backend, test: &str) -> Option<TestApp> {
        let db = TestDb::new(backend, test).await?;
        let store = db.open().await;
        let listener = dadong_web::listen("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let config = dadong_web::WebConfig {
            public_url: format!("http://{addr}"),
            ..Default::default()
        };
        let state = dadong_web::AppState::new(store.clone(), config);
        let server = tokio::spawn(async move {
            dadong_web::serve(listener, state, std::future::pending()).await.expect("server runs");
        });
        Some(TestApp {
            db,
            store,
            base_url: format!("http://{addr}"),
            server,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_in_any_url_shape() {
        use super::replace_database as r;
        assert_eq!(r("postgres://postgres@127.0.0.1:5432/postgres", "x"), "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(r("postgres://u@h:1/db?sslmode=disable", "x"), "postgres://u@h:1/x?sslmode=disable");
        assert_eq!(r("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    }
}

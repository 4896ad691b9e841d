//! `dadong`: the one binary. Parses the command line, opens the store the flags name, and
//! hands over to the crate that does the work. Nothing here knows SQL or HTML.

#![forbid(unsafe_code)]

mod appeals;
mod economy;
mod services;
mod vouchers;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use dadong_store::{Actor, NewUser, Store, StoreConfig};
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

/// The nearest-rank percentile `p` (0.5, 0.95, 0.99, 1.0) of sorted figures, 0 when there are
/// none: what every bench reports its latencies by.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// mimalloc instead of the system allocator: under load the server and its database worker
/// threads allocate on both cores at once, and glibc's malloc spent a fifth of the CPU of
/// `dadong bench vouchers` in its own locking and free-list upkeep.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dadong", version, about = "数字大东 Digital Dadong: the district platform")]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; every command that touches data takes these.
#[derive(Args)]
struct StoreArgs {
    /// The data folder: the SQLite database (unless a database URL is given) and the keys.
    #[arg(long, global = true, default_value = "./dadong-data", env = "DADONG_DATA")]
    data: PathBuf,
    /// Run on PostgreSQL instead of SQLite: postgres://user@host:port/database
    #[arg(long, global = true, env = "DADONG_DATABASE_URL")]
    database_url: Option<String>,
    /// The personal-data encryption key (32 bytes, base64); by default DATA/pii.key, created when missing.
    #[arg(long, global = true, env = "DADONG_PII_KEY", hide_env_values = true)]
    pii_key: Option<String>,
}

impl StoreArgs {
    async fn open(&self) -> Result<Store> {
        let mut config = StoreConfig::new(&self.data, self.database_url.clone());
        config.pii_key = self.pii_key.clone();
        Store::open(&config).await.with_context(|| match &self.database_url {
            Some(_) => "cannot open the database given by --database-url".to_string(),
            None => format!("cannot open the store in {}", self.data.display()),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "DADONG_LISTEN")]
        listen: String,
        /// Load the demo district into an empty store first.
        #[arg(long)]
        demo: bool,
        /// The demo's seed.
        #[arg(long, default_value_t = dadong_demo::DEFAULT_SEED)]
        seed: u64,
        /// Mark cookies Secure: set when users reach the site over HTTPS (e.g. behind a TLS proxy).
        #[arg(long, env = "DADONG_SECURE_COOKIES")]
        secure_cookies: bool,
        /// The address users reach the site at, printed in certificates' QR codes
        /// (default: http:// and the listening address).
        #[arg(long, env = "DADONG_PUBLIC_URL")]
        public_url: Option<String>,
        /// Seconds between escalation runs over overdue appeals and service steps (0: none in this process).
        #[arg(long, default_value_t = appeals::ESCALATION_EVERY_S_DEFAULT, env = "DADONG_ESCALATE_EVERY_S")]
        escalate_every_s: u64,
        /// Voucher claims one account may make per minute (0: no limit).
        #[arg(long, default_value_t = 10, env = "DADONG_CLAIMS_PER_ACCOUNT")]
        claims_per_account: u32,
        /// Voucher claims one client address may make per minute (0: no limit).
        #[arg(long, default_value_t = 600, env = "DADONG_CLAIMS_PER_ADDRESS")]
        claims_per_address: u32,
    },
    /// Escalate overdue appeals one step (department head, then responsible leader), and overdue
    /// service steps to their department, as of --now (RFC 3339, default the present), as the
    /// server does on its schedule.
    Escalate {
        #[arg(long)]
        now: Option<String>,
    },
    /// Check an electronic certificate (PDF) issued by this platform: genuine, or altered or forged.
    Verify { file: PathBuf },
    /// The daily voucher settlement, the finance office's batch (run it once a day, from cron
    /// say): each merchant is paid the discounts of the vouchers it redeemed before the day
    /// ended (Asia/Shanghai) and not yet settled. Settling a day again pays nothing twice.
    Settle {
        /// The day, YYYY-MM-DD; by default yesterday in Asia/Shanghai.
        #[arg(long)]
        day: Option<String>,
    },
    /// Draw a lottery voucher campaign, once, at the hour it was announced (from cron, say):
    /// its winners' vouchers are issued and the draw's seed printed, for anyone to check.
    Draw {
        /// The campaign's id.
        #[arg(long)]
        campaign: i64,
    },
    /// Create or update the schema (every command does this on an empty or older store).
    Migrate,
    /// Build the demo district into an empty store and print the demo users' passwords once.
    Demo {
        #[arg(long, default_value_t = dadong_demo::DEFAULT_SEED)]
        seed: u64,
    },
    /// Import one exchange file (CSV or XLSX, SPEC section 9), all or nothing.
    Import {
        #[arg(value_enum)]
        kind: economy::ImportKind,
        file: PathBuf,
    },
    /// Write the district's bulletin for January to --through.
    Report {
        /// The last month, YYYY-MM.
        #[arg(long)]
        through: String,
        #[arg(long, value_enum, default_value = "all")]
        format: economy::ReportFormat,
        /// The folder for the files (default ./report-YYYY-MM).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure the platform's speed against a plain baseline in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The voucher ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Write the whole store to FILE (a consistent snapshot, also of a live store).
    Backup { file: PathBuf },
    /// Load a backup written by `dadong backup` into this store.
    Restore {
        file: PathBuf,
        /// Replace what the store holds (otherwise only an empty store is restored into).
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from --password or DADONG_PASSWORD, or generated and printed once.
    Add {
        username: String,
        #[arg(long)]
        name: String,
        /// citizen, enterprise, merchant, clerk, cadre, analyst, leader or admin
        #[arg(long)]
        role: String,
        /// Department code (required for clerks).
        #[arg(long)]
        department: Option<String>,
        /// Credit code of the company an enterprise agent or merchant acts for.
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long, env = "DADONG_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// List users (personal data masked).
    List,
    /// Set a user's password and end their sessions.
    Passwd {
        username: String,
        #[arg(long, env = "DADONG_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The bulletin through every stored month, beside one plain SQL GROUP BY over the raw rows.
    Bulletin {
        /// Generate province-scale data into the (empty) store first: 1,000,000 entities,
        /// 50,000 above-size enterprises, 60 months of 6 indicators. Use a database of its own.
        #[arg(long)]
        province: bool,
        /// Print the figures as one line of JSON on standard output too.
        #[arg(long)]
        json: bool,
    },
    /// Bundle applications submitted and fanned out per second with many applications stored,
    /// and a clerk's queue page latency over HTTP on loopback.
    Services {
        /// Applications the store should hold before the run (generated when it holds fewer).
        #[arg(long, default_value_t = 1_000_000)]
        stored: i64,
        /// Applications submitted in the timed run.
        #[arg(long, default_value_t = 2_000)]
        count: usize,
        /// Applicants submitting at once, each waiting for its answers before its next act
        /// (a hall's window opening: many at once).
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Print the figures as one line of JSON on standard output too.
        #[arg(long)]
        json: bool,
    },
    /// The dispatch board's latency on the demo district (loaded into an empty store first),
    /// then full appeal lives per second with --appeals appeals stored. Use a database of its own.
    Appeals {
        /// Appeals to generate before the lives are timed.
        #[arg(long, default_value_t = 1_000_000)]
        appeals: i64,
        /// Full appeal lives to time.
        #[arg(long, default_value_t = 5_000)]
        lives: u64,
        /// Concurrent clients, each an enterprise living its appeals one after another (many
        /// enterprises and clerks at once, as a district's working day has them).
        #[arg(long, default_value_t = 128)]
        workers: usize,
        /// Print the figures as one line of JSON on standard output too.
        #[arg(long)]
        json: bool,
    },
    /// Voucher claims on one hot campaign: the engine in-process, over HTTP on loopback (and
    /// the same connections' floor, `GET /api/v1/me`), the engine again with each batch's
    /// claims from different citizens, and one transaction per claim as the baseline. Use a
    /// database of its own.
    Vouchers {
        #[arg(long, default_value_t = 200_000)]
        engine_claims: usize,
        #[arg(long, default_value_t = 100_000)]
        http_claims: usize,
        #[arg(long, default_value_t = 1_000)]
        connections: usize,
        #[arg(long, default_value_t = 5_000)]
        baseline_claims: usize,
        /// Run the baseline on this database (postgres://…) instead of the one the engine
        /// runs on: the engine on SQLite against the usual PostgreSQL design, in one run.
        #[arg(long)]
        baseline_database_url: Option<String>,
        /// Print the figures as one line of JSON on standard output too.
        #[arg(long)]
        json: bool,
    },
}

/// Vouchers (issue 5).
#[derive(Subcommand)]
enum LedgerCommand {
    /// Check every campaign's ledger (hash chain, double entry, balances against the
    /// vouchers, stock, budget, per-person limit); exits 1 naming each break.
    Verify,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole chain; exits 1 and names the first broken record if it does not hold.
    Verify,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DADONG_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let ok = std::process::ExitCode::SUCCESS;
    match cli.command {
        Command::Serve {
            listen,
            demo,
            seed,
            secure_cookies,
            public_url,
            escalate_every_s,
            claims_per_account,
            claims_per_address,
        } => {
            let started = std::time::Instant::now();
            let store = cli.store.open().await?;
            if demo {
                if dadong_demo::store_is_empty(&store).await? {
                    let summary = dadong_demo::load(&store, seed).await?;
                    print_logins(&summary);
                } else {
                    tracing::info!("the store already holds data; the demo is not loaded again");
                }
            }
            let listener = dadong_web::listen(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            let config = dadong_web::WebConfig {
                secure_cookies,
                public_url: public_url.unwrap_or_else(|| format!("http://{addr}")),
                claims_per_account_max: claims_per_account,
                claims_per_address_max: claims_per_address,
                ..Default::default()
            };
            let state = dadong_web::AppState::new(store.clone(), config);
            let escalation = (escalate_every_s > 0).then(|| appeals::spawn_escalation(store.clone(), std::time::Duration::from_secs(escalate_every_s)));
            eprintln!(
                "dadong serving http://{addr} on {} (ready in {} ms)",
                store.backend().name(),
                started.elapsed().as_millis()
            );
            dadong_web::serve(listener, state, shutdown_signal()).await?;
            if let Some(task) = escalation {
                task.abort();
            }
            store.close().await;
            Ok(ok)
        }
        Command::Migrate => {
            let store = cli.store.open().await?;
            let version = dadong_store::migrate::current_version(&store).await?;
            println!("schema at version {version} on {}", store.backend().name());
            Ok(ok)
        }
        Command::Demo { seed } => {
            let store = cli.store.open().await?;
            let summary = dadong_demo::load(&store, seed).await?;
            print_logins(&summary);
            Ok(ok)
        }
        Command::Import { kind, file } => {
            let store = cli.store.open().await?;
            economy::import_file(&store, kind, &file).await
        }
        Command::Report { through, format, out } => {
            let store = cli.store.open().await?;
            economy::write_report(&store, &through, format, out).await?;
            Ok(ok)
        }
        Command::Bench(BenchCommand::Bulletin { province, json }) => {
            let store = cli.store.open().await?;
            economy::bench_bulletin(&store, province, json).await?;
            Ok(ok)
        }
        Command::Bench(BenchCommand::Services {
            stored,
            count,
            concurrency,
            json,
        }) => {
            let store = cli.store.open().await?;
            services::bench(&store, stored, count, concurrency.max(1), json).await?;
            Ok(ok)
        }
        Command::Verify { file } => {
            let store = cli.store.open().await?;
            services::verify_file(&store, &file).await
        }
        Command::Draw { campaign } => {
            let store = cli.store.open().await?;
            vouchers::draw(&store, campaign).await?;
            Ok(ok)
        }
        Command::Settle { day } => {
            let store = cli.store.open().await?;
            vouchers::settle(&store, day.as_deref()).await?;
            Ok(ok)
        }
        Command::Escalate { now } => {
            let store = cli.store.open().await?;
            appeals::escalate(&store, now.as_deref()).await?;
            Ok(ok)
        }
        Command::Bench(BenchCommand::Appeals {
            appeals: n,
            lives,
            workers,
            json,
        }) => {
            let store = cli.store.open().await?;
            appeals::bench(&store, n, lives, workers, json).await?;
            Ok(ok)
        }
        Command::Bench(BenchCommand::Vouchers {
            engine_claims,
            http_claims,
            connections,
            baseline_claims,
            baseline_database_url,
            json,
        }) => {
            let store = cli.store.open().await?;
            let baseline_store = match baseline_database_url {
                Some(url) => {
                    let mut config = StoreConfig::new(&cli.store.data, Some(url));
                    config.pii_key = cli.store.pii_key.clone();
                    Some(
                        Store::open(&config)
                            .await
                            .context("cannot open the database given by --baseline-database-url")?,
                    )
                }
                None => None,
            };
            let options = vouchers::BenchOptions {
                engine_claims,
                http_claims,
                connections,
                baseline_claims,
                json,
            };
            vouchers::bench(&store, baseline_store.as_ref().unwrap_or(&store), options).await?;
            Ok(ok)
        }
        Command::Ledger(LedgerCommand::Verify) => {
            let store = cli.store.open().await?;
            vouchers::verify(&store).await
        }
        Command::User(cmd) => {
            let store = cli.store.open().await?;
            user_command(&store, cmd).await?;
            Ok(ok)
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = cli.store.open().await?;
            let report = store.verify_audit().await?;
            match report.first_break {
                None => {
                    println!("audit chain holds: {} records verified", report.records);
                    Ok(ok)
                }
                Some(b) => {
                    println!("audit chain BROKEN: {b}");
                    Ok(std::process::ExitCode::from(1))
                }
            }
        }
        Command::Backup { file } => {
            let store = cli.store.open().await?;
            let out = std::fs::File::create(&file).with_context(|| format!("cannot create {}", file.display()))?;
            let mut out = BufWriter::new(out);
            let rows = store.backup(&mut out).await?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            println!("backed up {rows} rows to {}", file.display());
            Ok(ok)
        }
        Command::Restore { file, replace } => {
            let store = cli.store.open().await?;
            let input = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let rows = store.restore(&mut BufReader::new(input), replace).await?;
            println!("restored {rows} rows from {}", file.display());
            Ok(ok)
        }
    }
}

async fn user_command(store: &Store, cmd: UserCommand) -> Result<()> {
    let actor = Actor::cli();
    match cmd {
        UserCommand::Add {
            username,
            name,
            role,
            department,
            company,
            phone,
            password,
        } => {
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (dadong_domain::crypto::random_token(12), true),
            };
            let user = store
                .create_user(
                    &actor,
                    NewUser {
                        username,
                        display_name: name,
                        password: password.clone(),
                        role,
                        department_code: department,
                        company_code: company,
                        phone,
                        id_number: None,
                    },
                )
                .await?;
            println!("created user {} ({}) with id {}", user.username, user.role, user.id);
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCommand::List => {
            println!(
                "{:<6} {:<20} {:<12} {:<24} {:<20} {:<14} active",
                "id", "username", "role", "name", "company", "phone"
            );
            for u in store.users().await? {
                println!(
                    "{:<6} {:<20} {:<12} {:<24} {:<20} {:<14} {}",
                    u.id,
                    u.username,
                    u.role.key(),
                    u.display_name,
                    u.company_code.unwrap_or_default(),
                    u.phone_masked.unwrap_or_default(),
                    if u.active { "yes" } else { "no" }
                );
            }
        }
        UserCommand::Passwd { username, password } => {
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (dadong_domain::crypto::random_token(12), true),
            };
            store.set_password(&actor, &username, &password).await?;
            println!("password of {username} changed; their sessions are ended");
            if generated {
                println!("new password (shown once): {password}");
            }
        }
    }
    Ok(())
}

fn print_logins(summary: &dadong_demo::DemoSummary) {
    println!(
        "demo district built (seed {}): {} departments, one user per role",
        summary.seed, summary.departments
    );
    println!("passwords are shown once; change them with `dadong user passwd NAME`");
    for l in &summary.logins {
        println!("  {:<12} {:<12} {}", l.role.key(), l.username, l.password);
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    eprintln!("shutting down");
}

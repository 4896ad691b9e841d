//! Vouchers through the real binary: `dadong serve` killed with SIGKILL in the middle of a
//! claim load, several times, keeps every acknowledged claim, never over-issues and leaves a
//! ledger `dadong ledger verify` finds whole; three `dadong serve` processes against one
//! PostgreSQL, loaded at once, never over-issue either. Bounded in time, loopback only; the
//! only waiting is polling for readiness and for answers.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use dadong_store::Store;
use dadong_testkit::{Backend, TestDb, on_both_backends, open_campaign};
use dadong_vouchers::{Category, ClaimMode};
use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

on_both_backends!(
    killed_servers_keep_every_acknowledged_claim_and_never_over_issue,
    the_demo_reports_its_voucher_figures_and_ledger_verify_names_a_break,
    bench_vouchers_prints_its_figures_and_never_over_issues,
    settle_pays_each_merchant_once_for_a_day,
    draw_issues_a_lottery_once_and_says_why_it_refuses,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_postgresql_never_over_issue() {
    three_servers(Backend::Postgres).await
}

fn dadong_cmd(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dadong"));
    for var in ["DADONG_DATA", "DADONG_DATABASE_URL", "DADONG_PII_KEY", "DADONG_LISTEN"] {
        cmd.env_remove(var);
    }
    cmd.env("DADONG_LOG", "warn");
    cmd.arg("--data").arg(&db.config.data_dir);
    if let Some(url) = db.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    cmd.stdin(Stdio::null());
    cmd.kill_on_drop(true);
    cmd
}

/// Starts `dadong serve` on a free port and waits (bounded) for its ready line.
async fn serve(db: &TestDb) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = dadong_cmd(db)
        .args(["serve", "--listen", &listen, "--claims-per-account", "0", "--claims-per-address", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dadong serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("dadong serving http://") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "dadong serve did not become ready");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, listen)
}

/// An acknowledged claim: (citizen, key) → voucher id.
type Acks = Arc<Mutex<HashMap<(i64, String), i64>>>;

/// Claims through `addr` from `workers` connections until `stop` reaches `until` answers
/// (or the server dies); every 200 is recorded.
#[allow(clippy::too_many_arguments)]
async fn load(
    addr: String,
    campaign: i64,
    kind: i64,
    citizens: Arc<Vec<(i64, String, String)>>,
    round: usize,
    workers: usize,
    per_worker: usize,
    acks: Acks,
    answered: Arc<AtomicUsize>,
) {
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (addr, citizens, acks, answered) = (addr.clone(), citizens.clone(), acks.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
            for i in 0..per_worker {
                let (id, token, csrf) = &citizens[(w * per_worker + i) % citizens.len()];
                let key = format!("r{round}-w{w}-{i}");
                let r = client
                    .post(format!("http://{addr}/api/v1/vouchers/campaigns/{campaign}/claims"))
                    .header("cookie", format!("dadong_session={token}"))
                    .header("x-csrf-token", csrf)
                    .json(&serde_json::json!({"kind_id": kind, "idempotency_key": key}))
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() == 200 {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(v) = body["voucher_id"].as_i64() {
                        acks.lock().await.insert((*id, key), v);
                    }
                } else {
                    assert_eq!(r.status(), 409, "a claim is granted or refused");
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn check(db: &TestDb, store: &Store, campaign: i64, acks: &Acks) {
    let acks = acks.lock().await;
    for ((citizen, key), voucher_id) in acks.iter() {
        let row: Option<(i64, String)> = sqlx::query_as("SELECT citizen_id, idem_key FROM vouchers WHERE id = $1")
            .bind(*voucher_id)
            .fetch_optional(store.pool())
            .await
            .unwrap();
        assert_eq!(row, Some((*citizen, key.clone())), "acknowledged voucher {voucher_id} is stored as answered");
    }
    assert_eq!(store.over_issued(campaign).await.unwrap(), 0, "no over-issue");
    let out = dadong_cmd(db).args(["ledger", "verify"]).output().await.unwrap();
    assert!(out.status.success(), "ledger verify: {}", String::from_utf8_lossy(&out.stdout));
    let out = dadong_cmd(db).args(["audit", "verify"]).output().await.unwrap();
    assert!(out.status.success(), "audit verify: {}", String::from_utf8_lossy(&out.stdout));
}

async fn killed_servers_keep_every_acknowledged_claim_and_never_over_issue(backend: Backend) {
    let Some(db) = TestDb::new(backend, &format!("crash under claim load on {}", backend.name())).await else {
        return;
    };
    let store = db.open().await;
    let c = store
        .create_campaign(&dadong_store::Actor::cli(), &open_campaign("抢券测试", 600, 100), dadong_store::now_ms())
        .await
        .unwrap();
    let kind = c.kinds[0].id;
    let citizens = Arc::new(store.bench_citizen_sessions(40, dadong_store::now_ms()).await.unwrap());
    let acks: Acks = Arc::default();
    for round in 0..3 {
        let (mut child, addr) = serve(&db).await;
        let answered = Arc::new(AtomicUsize::new(0));
        let loader = tokio::spawn(load(addr, c.id, kind, citizens.clone(), round, 20, 40, acks.clone(), answered.clone()));
        // Kill it mid-load: once a few hundred answers are in, with claims still in flight.
        let target = 150 + 50 * round;
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            while answered.load(Ordering::SeqCst) < target {
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert!(waited.is_ok(), "round {round}: the load never reached {target} answers");
        child.kill().await.expect("SIGKILL dadong serve");
        let _ = loader.await;
        assert!(answered.load(Ordering::SeqCst) < 800, "round {round}: killed before the load finished");
    }
    // After the last kill, a fresh server answers a retry of every acknowledged key with the
    // same voucher.
    let (_child, addr) = serve(&db).await;
    let client = reqwest::Client::new();
    let by_id: HashMap<i64, &(i64, String, String)> = citizens.iter().map(|c| (c.0, c)).collect();
    for ((citizen, key), voucher_id) in acks.lock().await.iter().take(50) {
        let (_, token, csrf) = by_id[citizen];
        let r: serde_json::Value = client
            .post(format!("http://{addr}/api/v1/vouchers/campaigns/{}/claims", c.id))
            .header("cookie", format!("dadong_session={token}"))
            .header("x-csrf-token", csrf)
            .json(&serde_json::json!({"kind_id": kind, "idempotency_key": key}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["voucher_id"].as_i64(), Some(*voucher_id), "{r}");
        assert_eq!(r["replayed"], true);
    }
    assert!(acks.lock().await.len() >= 300, "claims were acknowledged in every round");
    check(&db, &store, c.id, &acks).await;
}

async fn three_servers(backend: Backend) {
    let Some(db) = TestDb::new(backend, "three servers on one database").await else {
        return;
    };
    let store = db.open().await;
    // 100 citizens with a limit of 3 could hold 300; the stock of 250 runs out first for some
    // and the limit binds for others.
    let c = store
        .create_campaign(&dadong_store::Actor::cli(), &open_campaign("抢券测试", 250, 3), dadong_store::now_ms())
        .await
        .unwrap();
    let kind = c.kinds[0].id;
    let citizens = Arc::new(store.bench_citizen_sessions(100, dadong_store::now_ms()).await.unwrap());
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(serve(&db).await);
    }
    let acks: Acks = Arc::default();
    let mut loads = Vec::new();
    for (i, (_, addr)) in servers.iter().enumerate() {
        loads.push(tokio::spawn(load(
            addr.clone(),
            c.id,
            kind,
            citizens.clone(),
            i,
            20,
            25,
            acks.clone(),
            Arc::default(),
        )));
    }
    for l in loads {
        l.await.unwrap();
    }
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers").fetch_one(store.pool()).await.unwrap();
    let acked = acks.lock().await.len() as i64;
    assert_eq!(stored, acked, "every stored voucher was acknowledged once and every acknowledgement stored");
    assert!(stored <= 250);
    let ids: HashSet<i64> = acks.lock().await.values().copied().collect();
    assert_eq!(ids.len() as i64, acked, "no voucher handed to two claims");
    check(&db, &store, c.id, &acks).await;
}

async fn the_demo_reports_its_voucher_figures_and_ledger_verify_names_a_break(backend: Backend) {
    let Some(db) = TestDb::new(backend, &format!("demo voucher figures on {}", backend.name())).await else {
        return;
    };
    let out = dadong_cmd(&db).arg("demo").output().await.unwrap();
    assert!(out.status.success(), "demo: {}", String::from_utf8_lossy(&out.stderr));
    let out = dadong_cmd(&db)
        .args(["report", "--through", "2022-08", "--format", "json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let v = &report["vouchers"];
    assert_eq!(v["seasons"], 3, "{v}");
    let yuan = |k: &str| v[k].as_str().unwrap().parse::<f64>().unwrap();
    assert!(v["subsidy"].as_str().unwrap().ends_with(|c: char| c.is_ascii_digit()) && v["subsidy"].as_str().unwrap().contains('.'));
    assert!(yuan("subsidy") > 26_000_000.0, "{v}");
    assert!((1_500_000_000.0..1_700_000_000.0).contains(&yuan("consumption")), "{v}");
    assert_eq!(v["by_category"].as_array().unwrap().len(), 5);
    let out = dadong_cmd(&db).args(["ledger", "verify"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // A settled voucher quietly put back to unspent in the database is named.
    let store = db.open().await;
    sqlx::query("UPDATE vouchers SET status = 'claimed' WHERE id = (SELECT MIN(id) FROM vouchers WHERE status = 'settled')")
        .execute(store.pool())
        .await
        .unwrap();
    let out = dadong_cmd(&db).args(["ledger", "verify"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BROKEN") && text.contains("account issued holds"), "{text}");
}

/// A small `dadong bench vouchers --json` run: every figure the issue names is printed, every
/// claim was answered, and the stock short of the claims ran out without one voucher over.
/// On SQLite with PostgreSQL at hand, the baseline runs there (`--baseline-database-url`).
async fn bench_vouchers_prints_its_figures_and_never_over_issues(backend: Backend) {
    let Some(db) = TestDb::new(backend, &format!("bench vouchers on {}", backend.name())).await else {
        return;
    };
    let baseline_db = match backend {
        Backend::Sqlite => TestDb::new(Backend::Postgres, "bench vouchers with a PostgreSQL baseline").await,
        Backend::Postgres => None,
    };
    let mut cmd = dadong_cmd(&db);
    cmd.args(["bench", "vouchers", "--engine-claims", "3000", "--http-claims", "1000", "--connections", "20"]);
    cmd.args(["--baseline-claims", "200", "--json"]);
    if let Some(url) = baseline_db.as_ref().and_then(|b| b.database_url()) {
        cmd.args(["--baseline-database-url", url]);
    }
    let out = cmd.output().await.unwrap();
    assert!(out.status.success(), "bench: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figures: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for key in [
        "engine_claims_per_s",
        "engine_spread_claims_per_s",
        "http_claims_per_s",
        "http_p99_ms",
        "http_p50_ms",
        "http_p999_ms",
        "http_first_p50_ms",
        "http_first_max_ms",
        "baseline_claims_per_s",
        "http_floor_per_s",
        "http_floor_p99_ms",
    ] {
        assert!(figures[key].as_f64().is_some_and(|v| v > 0.0), "{key} in {figures}");
    }
    assert_eq!(figures["over_issued"], 0, "{figures}");
    assert_eq!(figures["http_claims"], 1000, "{figures}");
    assert_eq!(figures["http_failed"], 0, "{figures}");
    assert_eq!(figures["http_floor_failed"], 0, "{figures}");
    // Stock is nine tenths of the 4,000 claims and every claimant may take 100: it all goes.
    assert_eq!(figures["stock"], 3600, "{figures}");
    assert_eq!(figures["issued"], 3600, "{figures}");
    let baseline = if baseline_db.is_some() { "postgres" } else { backend.name() };
    assert_eq!(figures["baseline_backend"], baseline, "{figures}");
}

/// `dadong settle --day D` pays a merchant what it redeemed before D ended, once: settling D
/// again pays nothing more, and a day that is not a date is refused with the reason.
async fn settle_pays_each_merchant_once_for_a_day(backend: Backend) {
    use dadong_store::voucher_engine::{ClaimEngine, EngineConfig};
    use dadong_store::vouchers::PendingClaim;
    use dadong_vouchers::claim::ClaimRequest;

    let Some(db) = TestDb::new(backend, &format!("settle on {}", backend.name())).await else {
        return;
    };
    let store = db.open().await;
    let actor = dadong_store::Actor::cli();
    let now = dadong_store::now_ms();
    let c = store.create_campaign(&actor, &open_campaign("抢券测试", 10, 5), now).await.unwrap();
    let code = "91350100M000100Y43";
    let merchant = store.apply_merchant(&actor, None, code, "大东百货", &[Category::Catering], now).await.unwrap();
    store.decide_merchant(&actor, merchant.id, Category::Catering, true, now).await.unwrap();
    let citizen = store.bench_citizen_sessions(1, now).await.unwrap()[0].0;
    let engine = ClaimEngine::start(store.clone(), EngineConfig::default());
    for key in ["first", "second"] {
        let request = ClaimRequest {
            citizen_id: citizen,
            kind_id: c.kinds[0].id,
            idempotency_key: key.into(),
        };
        let claim = PendingClaim {
            campaign_id: c.id,
            request,
            device: String::new(),
        };
        engine.claim(claim).await.unwrap();
    }
    let key = store.voucher_key().await.unwrap();
    for v in store.wallet(citizen).await.unwrap() {
        store.redeem(merchant.id, &Store::voucher_token(&key, &v), 400_00, now).await.unwrap();
    }
    let today = jiff::Timestamp::from_millisecond(now)
        .unwrap()
        .in_tz("Asia/Shanghai")
        .unwrap()
        .date()
        .to_string();

    let out = dadong_cmd(&db).args(["settle", "--day", &today]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "settle: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        text.contains(code) && text.contains("2 vouchers") && text.contains("discount 100.00 yuan") && text.contains("purchases 800.00 yuan"),
        "{text}"
    );
    assert!(text.contains(&format!("settlement of {today}: 100.00 yuan paid to 1 merchant(s)")), "{text}");
    let settled = store.settlements(None).await.unwrap();
    assert_eq!((settled.len(), settled[0].discount_fen), (1, 100_00));

    let out = dadong_cmd(&db).args(["settle", "--day", &today]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("0.00 yuan paid to 0 merchant(s)"),
        "settled again: {text}"
    );
    assert_eq!(store.settlements(None).await.unwrap().len(), 1, "nothing is paid twice");

    let out = dadong_cmd(&db).args(["settle", "--day", "2022-13-40"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("day: a date as YYYY-MM-DD"));
    let out = dadong_cmd(&db).args(["ledger", "verify"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

/// `dadong draw --campaign N` draws a lottery among the citizens who registered, issues the
/// winners' vouchers and prints the recorded seed; a second draw, or a draw of a campaign that
/// is not a lottery, is refused with the reason and changes nothing.
async fn draw_issues_a_lottery_once_and_says_why_it_refuses(backend: Backend) {
    let Some(db) = TestDb::new(backend, &format!("draw on {}", backend.name())).await else {
        return;
    };
    let store = db.open().await;
    let actor = dadong_store::Actor::cli();
    let now = dadong_store::now_ms();
    let mut lottery = open_campaign("抢券测试", 2, 1);
    lottery.claim_mode = ClaimMode::Lottery;
    let c = store.create_campaign(&actor, &lottery, now).await.unwrap();
    let mut plain = open_campaign("抢券测试", 2, 1);
    plain.name = "先到先得".into();
    let first_come = store.create_campaign(&actor, &plain, now).await.unwrap();
    let citizens = store.bench_citizen_sessions(5, now).await.unwrap();
    for (id, _, _) in &citizens {
        store.register_for_lottery(&actor, *id, c.id, c.kinds[0].id, now).await.unwrap();
    }

    let out = dadong_cmd(&db).args(["draw", "--campaign", &c.id.to_string()]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "draw: {text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("2 winners among 5 registrations"), "{text}");
    let d = store.lottery_draw(c.id).await.unwrap().expect("recorded");
    assert!(text.contains(&format!("seed {}", d.seed)) && d.drawn_by.is_none(), "{text}");
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers WHERE campaign_id = $1")
        .bind(c.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(issued, 2, "the stock of two goes to two winners");

    for (campaign, reason) in [(c.id, "drawn already"), (first_come.id, "first come, first served")] {
        let out = dadong_cmd(&db).args(["draw", "--campaign", &campaign.to_string()]).output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(reason), "{err}");
    }
    assert_eq!(store.lottery_draw(c.id).await.unwrap(), Some(d), "the first draw stands");
    let out = dadong_cmd(&db).args(["ledger", "verify"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

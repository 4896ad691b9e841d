//! `dadong ledger verify`, `dadong settle`, `dadong draw` and `dadong bench vouchers`.
//!
//! The bench runs, in one process and on one hot campaign, the claim engine in-process
//! (every claim durable before its answer), the same claims over HTTP on loopback through
//! the real server with 1,000 connections, and the baseline most systems use: one
//! transaction per claim. It then counts over-issue from the raw rows. Beside the claims it
//! measures their floor: the same connections asking for their own record, which goes
//! through everything a claim does on the way in (HTTP, middleware, session) and nothing of
//! the claim itself, so that a machine's claims read against what its server does at all.
//! Last it runs the engine once more with each claim of a batch from another citizen, the
//! way a flash sale's claims come, where the first engine phase's citizens claim in runs.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use anyhow::{Context, Result, bail};
use dadong_store::Store;
use dadong_store::voucher_engine::{ClaimEngine, EngineConfig};
use dadong_store::vouchers::{ClaimAnswer, PendingClaim};
use dadong_vouchers::claim::ClaimRequest;
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Instant;

/// `dadong ledger verify`: 0 when every invariant holds, 1 naming each break.
pub async fn verify(store: &Store) -> Result<std::process::ExitCode> {
    let r = store.verify_ledger().await?;
    if r.breaks.is_empty() {
        println!(
            "voucher ledger holds: {} campaigns, {} entries, {} vouchers verified",
            r.campaigns, r.entries, r.vouchers
        );
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("voucher ledger BROKEN ({} breaks):", r.breaks.len());
        for b in &r.breaks {
            println!("  {b}");
        }
        Ok(std::process::ExitCode::from(1))
    }
}

pub struct BenchOptions {
    pub engine_claims: usize,
    pub http_claims: usize,
    pub connections: usize,
    pub baseline_claims: usize,
    pub json: bool,
}

fn campaign(name: String, stock: i64, now: i64) -> CampaignSpec {
    CampaignSpec {
        name,
        budget_fen: 1_000_000_000_00,
        per_person_limit: 100,
        claim_mode: ClaimMode::FirstCome,
        claim_start_ms: now - 1_000,
        claim_end_ms: now + 24 * 3_600_000,
        valid_from_ms: now - 1_000,
        valid_until_ms: now + 30 * 24 * 3_600_000,
        kinds: vec![KindSpec {
            name: "满300减50".into(),
            category: Category::Catering,
            threshold_fen: 300_00,
            discount_fen: 50_00,
            stock,
        }],
    }
}

/// `baseline_store` is where the baseline runs: `store` itself, or another database.
pub async fn bench(store: &Store, baseline_store: &Store, o: BenchOptions) -> Result<()> {
    let now = dadong_store::now_ms();
    let tag = dadong_domain::crypto::random_token(6);
    let actor = dadong_store::Actor::cli();
    // One hot campaign for the engine and HTTP phases; its stock is short of the claims made,
    // so the last claims meet "sold out" and over-issue would show.
    let stock = ((o.engine_claims + o.http_claims) as i64 * 9 / 10).max(1);
    let hot = store.create_campaign(&actor, &campaign(format!("bench-hot-{tag}"), stock, now), now).await?;
    let kind = hot.kinds[0].id;
    eprintln!("bench vouchers on {}: hot campaign {} with stock {stock}", store.backend().name(), hot.id);

    // 1. The engine in-process: claims from 100-claim citizens, many in flight at once.
    let engine = ClaimEngine::start(store.clone(), EngineConfig::default());
    let (engine_s, engine_granted) = engine_phase(&engine, hot.id, kind, o.engine_claims, "e", |i| 1_000_000_000 + (i / 100) as i64).await?;
    let engine_rate = o.engine_claims as f64 / engine_s;
    eprintln!(
        "  engine in-process   {:>8} claims in {engine_s:6.2} s = {engine_rate:>10.0} claims/s ({engine_granted} granted; durable before acknowledged)",
        o.engine_claims
    );

    // 2. Over HTTP on loopback: the real server, each connection a signed-in citizen.
    let listener = dadong_web::listen("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = dadong_web::WebConfig {
        // The load generator is one address and each of its citizens claims many times; the
        // throttles would turn it away, which is their job, not what is measured here.
        claims_per_account_max: 0,
        claims_per_address_max: 0,
        ..Default::default()
    };
    let state = dadong_web::AppState::new(store.clone(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dadong_web::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let citizens = store.bench_citizen_sessions(o.connections, now).await?;
    let claims = Arc::new(Load::Claims {
        path: format!("/api/v1/vouchers/campaigns/{}/claims", hot.id).into(),
        kind,
    });
    let http = http_phase(addr, &citizens, &claims, o.http_claims).await?;
    eprintln!(
        "  HTTP, {} connections {:>6} claims in {:6.2} s = {:>10.0} claims/s, p99 {:.1} ms (p50 {:.1}, p90 {:.1}, p99.9 {:.1}, max {:.1}; each connection's first claim p50 {:.1}, max {:.1}) ({} granted, {} refused, {} failed)",
        o.connections,
        http.latencies.len(),
        http.seconds,
        http.rate(),
        http.p99(),
        http.at(0.5),
        http.at(0.9),
        http.at(0.999),
        http.at(1.0),
        http.first_at(0.5),
        http.first_at(1.0),
        http.granted,
        http.refused,
        http.failed
    );
    // 2b. The floor under the claims: the same connections asking for their own record, the
    // cheapest request that still goes through the session lookup and the middleware.
    let floor = http_phase(addr, &citizens, &Arc::new(Load::Me), o.http_claims).await?;
    eprintln!(
        "  HTTP floor, GET /api/v1/me {:>6} requests in {:6.2} s = {:>10.0} requests/s, p99 {:.1} ms ({} failed)",
        floor.latencies.len(),
        floor.seconds,
        floor.rate(),
        floor.p99(),
        floor.failed
    );
    let _ = stop.send(());
    let _ = server.await;

    // 2c. The engine again, with each claim of a batch from a different citizen, as in a
    // flash sale, where phase 1's citizens claim 100 times in a row: every claim then writes
    // its own index pages. A campaign of its own, so that the hot one's stock is untouched.
    let spread = store
        .create_campaign(&actor, &campaign(format!("bench-spread-{tag}"), o.engine_claims as i64, now), now)
        .await?;
    let citizens_spread = (o.engine_claims / 100).max(1);
    let (spread_s, spread_granted) = engine_phase(&engine, spread.id, spread.kinds[0].id, o.engine_claims, "s", |i| {
        1_500_000_000 + (i % citizens_spread) as i64
    })
    .await?;
    let spread_rate = o.engine_claims as f64 / spread_s;
    eprintln!(
        "  engine, spread      {:>8} claims in {spread_s:6.2} s = {spread_rate:>10.0} claims/s ({spread_granted} granted; each batch's claims from {citizens_spread} citizens in turn)",
        o.engine_claims
    );

    // 3. The baseline: one transaction per claim, on a campaign of its own.
    let base = baseline_store
        .create_campaign(&actor, &campaign(format!("bench-baseline-{tag}"), o.baseline_claims as i64 * 2, now), now)
        .await?;
    let base_kind = base.kinds[0].id;
    let t = Instant::now();
    let done: Vec<Result<bool, dadong_store::StoreError>> = futures::stream::iter(0..o.baseline_claims)
        .map(|i| {
            let store = baseline_store.clone();
            async move {
                store
                    .claim_one_baseline(base.id, base_kind, 2_000_000_000 + (i / 100) as i64, &format!("b{i}"), now)
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let base_s = t.elapsed().as_secs_f64();
    let base_failed = done.iter().filter(|r| r.is_err()).count();
    let base_rate = (o.baseline_claims - base_failed) as f64 / base_s;
    eprintln!(
        "  baseline, 1 tx/claim {:>7} claims in {base_s:6.2} s = {base_rate:>10.0} claims/s on {} ({base_failed} failed); engine is {:.1}x",
        o.baseline_claims,
        baseline_store.backend().name(),
        engine_rate / base_rate
    );

    let over = store.over_issued(hot.id).await?;
    let hot_after = store.campaign(hot.id).await?.context("the hot campaign")?;
    let issued = hot_after.kinds[0].stock_total - hot_after.kinds[0].stock_remaining;
    eprintln!("  hot campaign: {issued} of {stock} issued; over-issued: {over}");
    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "backend": store.backend().name(),
                "engine_claims_per_s": engine_rate.round(),
                "engine_spread_claims_per_s": spread_rate.round(),
                "http_claims_per_s": http.rate().round(),
                "http_p99_ms": (http.p99() * 10.0).round() / 10.0,
                "http_p50_ms": (http.at(0.5) * 10.0).round() / 10.0,
                "http_p999_ms": (http.at(0.999) * 10.0).round() / 10.0,
                "http_first_p50_ms": (http.first_at(0.5) * 10.0).round() / 10.0,
                "http_first_max_ms": (http.first_at(1.0) * 10.0).round() / 10.0,
                "http_floor_per_s": floor.rate().round(),
                "http_floor_p99_ms": (floor.p99() * 10.0).round() / 10.0,
                "http_floor_failed": floor.failed,
                "baseline_claims_per_s": base_rate.round(),
                "baseline_backend": baseline_store.backend().name(),
                "over_issued": over,
                "engine_claims": o.engine_claims,
                "http_claims": http.latencies.len(),
                "http_connections": o.connections,
                "http_failed": http.failed,
                "baseline_claims": o.baseline_claims,
                "stock": stock,
                "issued": issued,
            })
        );
    }
    Ok(())
}

/// `n` claims on one kind through the engine, 20,000 in flight at once, the i-th from
/// `citizen(i)` with the key `{prefix}{i}`: the seconds taken and the claims granted.
async fn engine_phase(engine: &ClaimEngine, campaign_id: i64, kind_id: i64, n: usize, prefix: &str, citizen: impl Fn(usize) -> i64) -> Result<(f64, usize)> {
    let t = Instant::now();
    let results: Vec<Result<ClaimAnswer, dadong_store::StoreError>> = futures::stream::iter(0..n)
        .map(|i| {
            let claim = PendingClaim {
                campaign_id,
                request: ClaimRequest {
                    citizen_id: citizen(i),
                    kind_id,
                    idempotency_key: format!("{prefix}{i}"),
                },
                device: String::new(),
            };
            async move { engine.claim(claim).await }
        })
        .buffer_unordered(20_000)
        .collect()
        .await;
    let seconds = t.elapsed().as_secs_f64();
    if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
        bail!("the engine failed a claim: {e}");
    }
    let granted = results.iter().filter(|r| matches!(r, Ok(ClaimAnswer::Granted { .. }))).count();
    Ok((seconds, granted))
}

/// What the connections of an HTTP phase send.
enum Load {
    /// Claims on one kind, each with a key of its own.
    Claims { path: Arc<str>, kind: i64 },
    /// `GET /api/v1/me`: the signed-in user's own record.
    Me,
}

/// One HTTP phase's answers: latencies in ms (sorted), counted by outcome.
struct Phase {
    seconds: f64,
    latencies: Vec<f64>,
    /// Each connection's first answer (sorted): the moment a claim window opens, when every
    /// citizen arrives at once and nothing has been read for them yet.
    first: Vec<f64>,
    granted: usize,
    refused: usize,
    failed: usize,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    fn p99(&self) -> f64 {
        self.at(0.99)
    }

    /// The latency at quantile `q` in ms (1.0 is the slowest).
    fn at(&self, q: f64) -> f64 {
        crate::percentile(&self.latencies, q)
    }

    /// The latency of the connections' first answers at quantile `q` in ms.
    fn first_at(&self, q: f64) -> f64 {
        crate::percentile(&self.first, q)
    }
}

/// `total` requests of `load` over one keep-alive connection per signed-in citizen, all at once.
async fn http_phase(addr: std::net::SocketAddr, citizens: &[(i64, String, String)], load: &Arc<Load>, total: usize) -> Result<Phase> {
    let per_connection = total.div_ceil(citizens.len().max(1));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (c, (_, token, csrf)) in citizens.iter().enumerate() {
        let n = per_connection.min(total.saturating_sub(c * per_connection));
        let connection = Connection {
            addr,
            cookie: format!("dadong_session={token}"),
            csrf: csrf.clone(),
        };
        let load = load.clone();
        tasks.push(tokio::spawn(async move { connection.run(&load, c, n).await }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut first = Vec::with_capacity(tasks.len());
    let (mut granted, mut refused, mut failed) = (0, 0, 0);
    for task in tasks {
        let (l, g, r, f) = task.await??;
        first.extend(l.first().copied());
        latencies.extend(l);
        granted += g;
        refused += r;
        failed += f;
    }
    let seconds = t.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    first.sort_by(|a, b| a.total_cmp(b));
    Ok(Phase {
        seconds,
        latencies,
        first,
        granted,
        refused,
        failed,
    })
}

/// One load-generating connection of an HTTP phase: a signed-in citizen's keep-alive
/// HTTP/1.1 connection that sends its requests one after another, like `wrk`.
///
/// Like `wrk`, it writes each request's bytes itself and reads the answer with `httparse`
/// (the parser hyper uses) in the connection's one task. hyper's client runs each connection
/// as two tasks that hand every request and answer to each other; on two cores shared with
/// the server, that hand-off was about a third of all the CPU the claims took, and it
/// measured the load generator rather than the server.
struct Connection {
    addr: std::net::SocketAddr,
    cookie: String,
    csrf: String,
}

/// Latencies in ms, then granted (any 2xx), refused (409) and failed requests.
type ConnectionResult = (Vec<f64>, usize, usize, usize);

/// The most bytes a bench answer may take before it is counted as failed.
const ANSWER_MAX_BYTES: usize = 1 << 20;

impl Connection {
    async fn run(self, load: &Load, c: usize, n: usize) -> Result<ConnectionResult> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        // Everything but a claim's body is the same in each request, and is written once.
        let (addr, cookie, csrf) = (self.addr, &self.cookie, &self.csrf);
        let head = match load {
            Load::Claims { path, .. } => format!(
                "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncookie: {cookie}\r\nx-csrf-token: {csrf}\r\ncontent-type: application/json\r\ncontent-length: "
            ),
            Load::Me => format!("GET /api/v1/me HTTP/1.1\r\nhost: {addr}\r\ncookie: {cookie}\r\nx-csrf-token: {csrf}\r\n\r\n"),
        };
        let mut request = Vec::with_capacity(head.len() + 128);
        let mut answer = Vec::with_capacity(4096);
        let mut latencies = Vec::with_capacity(n);
        let (mut granted, mut refused, mut failed) = (0usize, 0usize, 0usize);
        for i in 0..n {
            request.clear();
            request.extend_from_slice(head.as_bytes());
            if let Load::Claims { kind, .. } = load {
                let body = format!(r#"{{"kind_id": {kind}, "idempotency_key": "h{c}-{i}"}}"#);
                request.extend_from_slice(format!("{}\r\n\r\n{body}", body.len()).as_bytes());
            }
            let started = Instant::now();
            let status = exchange(&mut stream, &request, &mut answer).await.ok();
            match status {
                Some(s) if (200..300).contains(&s) => granted += 1,
                Some(409) => refused += 1,
                _ => failed += 1,
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            if status.is_none() {
                // The connection is gone or spoke nonsense: count the rest as failed rather
                // than hang.
                failed += n - i - 1;
                break;
            }
        }
        Ok((latencies, granted, refused, failed))
    }
}

/// Sends one request and reads its whole answer, as a client would, before the next one;
/// returns the answer's status. The answer must carry a `content-length`, as this server's
/// answers do.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &[u8], answer: &mut Vec<u8>) -> Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await?;
    answer.clear();
    loop {
        if stream.read_buf(answer).await? == 0 {
            bail!("the server closed the connection");
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head_len) = parsed.parse(answer)? else {
            if answer.len() > ANSWER_MAX_BYTES {
                bail!("an answer's head is over {ANSWER_MAX_BYTES} bytes");
            }
            continue;
        };
        let status = parsed.code.context("an answer without a status")?;
        let length: usize = parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
            .context("an answer without a content-length")?;
        let whole = head_len + length;
        if whole > ANSWER_MAX_BYTES {
            bail!("an answer of {whole} bytes");
        }
        while answer.len() < whole {
            if stream.read_buf(answer).await? == 0 {
                bail!("the server closed the connection mid-answer");
            }
        }
        if answer.len() > whole {
            bail!("bytes after the answer to a request that was not pipelined");
        }
        return Ok(status);
    }
}

fn yuan(fen: i64) -> String {
    dadong_domain::Fen(fen).to_yuan_string()
}

/// `dadong settle`: the daily settlement of `day` (yesterday in Asia/Shanghai by default),
/// printing what each merchant is paid.
pub async fn settle(store: &Store, day: Option<&str>) -> Result<()> {
    let day = match day {
        Some(d) => d.trim().to_string(),
        None => jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::get(dadong_domain::DISTRICT_TIME_ZONE)?)
            .date()
            .yesterday()?
            .to_string(),
    };
    let made = store.settle_day(&dadong_store::Actor::cli(), &day, dadong_store::now_ms()).await?;
    for s in &made {
        println!(
            "{}  {}  {} vouchers  discount {} yuan  purchases {} yuan",
            s.credit_code,
            s.merchant_name,
            s.vouchers,
            yuan(s.discount_fen),
            yuan(s.purchase_fen)
        );
    }
    let total: i64 = made.iter().map(|s| s.discount_fen).sum();
    println!("settlement of {day}: {} yuan paid to {} merchant(s)", yuan(total), made.len());
    Ok(())
}

/// `dadong draw`: draws a lottery campaign and prints the draw as recorded.
pub async fn draw(store: &Store, campaign_id: i64) -> Result<()> {
    let d = store.draw_lottery(&dadong_store::Actor::cli(), campaign_id, dadong_store::now_ms()).await?;
    println!(
        "campaign {} drawn: {} winners among {} registrations, budget {} yuan",
        d.campaign_id,
        d.winners,
        d.registrations,
        yuan(d.budget_fen)
    );
    for k in &d.kinds {
        println!("  kind {}: stock {}, discount {} yuan", k.kind_id, k.stock, yuan(k.discount_fen));
    }
    println!("seed {} (the winners are recomputed from it and the registrations)", d.seed);
    Ok(())
}

/// The `vouchers` part of the report JSON for January to `through` of its year: seasons
/// whose claim window opened in the period, subsidy paid and consumption driven by their
/// spent vouchers, leverage, by season, category and merchant (amounts in yuan, two decimals).
pub async fn report_part(store: &Store, through: dadong_domain::Period) -> Result<serde_json::Value> {
    let tz = jiff::tz::TimeZone::get(dadong_domain::DISTRICT_TIME_ZONE)?;
    let first = jiff::civil::date(through.year(), 1, 1).to_zoned(tz.clone())?.timestamp().as_millisecond();
    let next = if through.month() == 12 {
        jiff::civil::date(through.year() + 1, 1, 1)
    } else {
        jiff::civil::date(through.year(), through.month() + 1, 1)
    };
    let end = next.to_zoned(tz)?.timestamp().as_millisecond();
    let figures = store.voucher_figures(first, end).await?;
    Ok(serde_json::to_value(dadong_web::vouchers_api::figures_out(figures))?)
}

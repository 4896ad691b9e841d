//! Enterprise service on the command line: `dadong escalate --now TIME`, the escalation task
//! inside `dadong serve`, the `appeals` part of the report JSON, and `dadong bench appeals`.

use anyhow::{Context, Result, bail};
use dadong_domain::Period;
use dadong_store::{Actor, Store};
use jiff::Timestamp;
use std::time::Duration;

/// How often `dadong serve` looks for overdue appeals, unless told otherwise.
pub const ESCALATION_EVERY_S_DEFAULT: u64 = 60;

/// Parses an RFC 3339 time (`2022-08-31T17:00:00+08:00`).
pub fn parse_time(text: &str) -> Result<Timestamp> {
    text.trim()
        .parse::<Timestamp>()
        .with_context(|| format!("'{text}' is not an RFC 3339 time such as 2022-08-31T17:00:00+08:00"))
}

/// `dadong escalate [--now TIME]`: one escalation run at `now`.
pub async fn escalate(store: &Store, now: Option<&str>) -> Result<()> {
    let now = match now {
        Some(t) => parse_time(t)?,
        None => Timestamp::now(),
    };
    let run = store.escalate(&Actor::cli(), now).await?;
    println!(
        "escalated {} appeal(s) to their department head and {} to the responsible leader at {}",
        run.to_department_head,
        run.to_leader,
        now.in_tz(dadong_domain::DISTRICT_TIME_ZONE)
            .map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
            .unwrap_or_else(|_| now.to_string())
    );
    let steps = store.escalate_overdue_steps(&Actor::cli(), now).await?;
    println!("escalated {steps} overdue service step(s) to their department");
    Ok(())
}

/// Runs escalation every `every` for as long as the server runs, over overdue appeals and
/// overdue service steps alike (the one schedule `dadong escalate` also runs); a failed run is
/// logged and the next one tries again.
pub fn spawn_escalation(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            match store.escalate(&Actor::System, Timestamp::now()).await {
                Ok(run) if run.to_department_head + run.to_leader > 0 => {
                    tracing::info!(
                        to_department_head = run.to_department_head,
                        to_leader = run.to_leader,
                        "escalated overdue appeals"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = ?e, "escalation run failed"),
            }
            match store.escalate_overdue_steps(&Actor::System, Timestamp::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(escalated = n, "escalated overdue service steps"),
                Err(e) => tracing::error!(error = ?e, "escalating overdue service steps failed"),
            }
        }
    })
}

/// The `appeals` key of the report JSON.
pub async fn report_extra(store: &Store, through: Period) -> Result<serde_json::Value> {
    let (from, to) = dadong_store::appeals::report_period_ms(through);
    let f = store.appeal_figures(from, to).await?;
    Ok(serde_json::to_value(f)?)
}

/// What `dadong bench appeals` measured.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    pub backend: &'static str,
    pub board_appeals: i64,
    pub board_reads: usize,
    pub board_p50_ms: f64,
    pub board_p95_ms: f64,
    pub board_max_ms: f64,
    pub stored_before: i64,
    pub lives: u64,
    pub workers: usize,
    pub lives_s: f64,
    pub lives_per_s: f64,
}

/// A valid credit code for bench company `n` (organisation code 8xxxxxxxx).
fn bench_code(n: u64) -> Result<String> {
    let body = format!("912101048{n:08}");
    let check = dadong_domain::CreditCode::check_char(&body).context("bench credit code")?;
    Ok(format!("{body}{check}"))
}

/// `dadong bench appeals`: the dispatch board's latency on the demo district (loaded first
/// into an empty store), then `appeals` generated appeals, then `lives` full appeal lives by
/// `workers` concurrent clients, each life five transactions through the store's own methods.
pub async fn bench(store: &Store, appeals: i64, lives: u64, workers: usize, json: bool) -> Result<()> {
    use dadong_store::appeals::{AppealAction, NewAppeal};
    if appeals < 0 || lives == 0 || workers == 0 {
        bail!("--appeals must be 0 or more, --lives and --workers at least 1");
    }
    if dadong_demo::store_is_empty(store).await? {
        eprintln!("loading the demo district …");
        dadong_demo::load(store, dadong_demo::DEFAULT_SEED).await?;
    }
    let board_appeals = store.appeal_count().await?;
    // The board as a leader's page reads it, timed over repeated reads after one warm-up.
    let now = Timestamp::now();
    store.dispatch_board(now).await?;
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = std::time::Instant::now();
        store.dispatch_board(now).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let (board_p50_ms, board_p95_ms, board_max_ms) = (crate::percentile(&times, 0.5), crate::percentile(&times, 0.95), crate::percentile(&times, 1.0));
    eprintln!(
        "dispatch board on the demo district ({board_appeals} appeals): p50 {board_p50_ms:.2} ms, p95 {board_p95_ms:.2} ms, max {board_max_ms:.2} ms over {} reads",
        times.len()
    );

    if appeals > 0 {
        let t = std::time::Instant::now();
        eprintln!("generating {appeals} appeals …");
        store.generate_bench_appeals(appeals, now.as_millisecond()).await?;
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    }
    let stored_before = store.appeal_count().await?;

    // The people of the lives: one clerk of the labour department, one agent per worker.
    let op = Actor::cli();
    let dept = store
        .routing_table()
        .await?
        .route(dadong_appeals::Category::Labour)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .department;
    let tag = dadong_domain::crypto::random_token(4).to_ascii_lowercase().replace(['-', '_'], "x");
    let password = dadong_domain::crypto::random_token(16);
    let clerk = store
        .create_user(
            &op,
            dadong_store::NewUser::new(&format!("bench-clerk-{tag}"), "bench clerk", "clerk", &password).in_department(&dept),
        )
        .await?;
    let mut agents = Vec::new();
    for w in 0..workers {
        agents.push(
            store
                .create_user(
                    &op,
                    dadong_store::NewUser::new(&format!("bench-agent-{tag}-{w}"), "bench agent", "enterprise", &password).for_company(&bench_code(w as u64)?),
                )
                .await?,
        );
    }
    eprintln!("running {lives} appeal lives with {workers} workers …");
    let started = std::time::Instant::now();
    let per_worker = lives.div_ceil(workers as u64);
    let mut tasks = tokio::task::JoinSet::new();
    for (w, agent) in agents.into_iter().enumerate() {
        let store = store.clone();
        let clerk = clerk.clone();
        let n = per_worker.min(lives.saturating_sub(per_worker * w as u64));
        tasks.spawn(async move {
            let agent_actor = Actor::User {
                id: agent.id,
                username: agent.username.clone(),
            };
            let clerk_actor = Actor::User {
                id: clerk.id,
                username: clerk.username.clone(),
            };
            let code = agent.company_code.clone().unwrap_or_default();
            for i in 0..n {
                let now = Timestamp::now();
                let new = NewAppeal {
                    credit_code: code.clone(),
                    category: "labour".into(),
                    title: format!("用工需求 {w}-{i}"),
                    body: "急需焊工".into(),
                    visit_id: None,
                };
                let id = store.raise_appeal(&agent_actor, &agent, &new, now).await?.appeal.id;
                store.appeal_step(&clerk_actor, &clerk, id, AppealAction::Accept, now).await?;
                store.appeal_step(&clerk_actor, &clerk, id, AppealAction::Reply("已受理".into()), now).await?;
                store.appeal_step(&clerk_actor, &clerk, id, AppealAction::Resolve("已解决".into()), now).await?;
                store
                    .appeal_step(&agent_actor, &agent, id, AppealAction::Confirm { score: 5, note: String::new() }, now)
                    .await?;
            }
            Ok::<u64, dadong_store::StoreError>(n)
        });
    }
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        done += r??;
    }
    let lives_s = started.elapsed().as_secs_f64();
    let report = BenchReport {
        backend: store.backend().name(),
        board_appeals,
        board_reads: times.len(),
        board_p50_ms,
        board_p95_ms,
        board_max_ms,
        stored_before,
        lives: done,
        workers,
        lives_s,
        lives_per_s: done as f64 / lives_s,
    };
    eprintln!(
        "full appeal lives (raise+route, accept, reply, resolve, confirm) with {stored_before} appeals stored: {done} lives in {lives_s:.2} s = {:.0} lives/s ({workers} workers)",
        report.lives_per_s
    );
    if store.verify_audit().await?.first_break.is_some() {
        bail!("the audit chain does not hold after the bench");
    }
    if json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

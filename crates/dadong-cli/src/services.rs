//! `dadong verify FILE` and `dadong bench services`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use dadong_services::{shipped_bundles, shipped_matters};
use dadong_store::accounts::NewUser;
use dadong_store::services::{Act, ActRequest, Acting, HALL_DEPARTMENT};
use dadong_store::{Actor, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Checks a certificate file against this platform's key and registry; exit code 1 when it is
/// not genuine.
pub async fn verify_file(store: &Store, path: &Path) -> Result<std::process::ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let outcome = store.verify_certificate_file(&bytes).await?;
    match (&outcome.certificate, outcome.genuine) {
        (Some(c), true) => {
            println!(
                "GENUINE: certificate {} issued to {} ({}) on {}, file SHA-256 {}",
                c.id,
                c.company_name,
                c.credit_code,
                dadong_services::certificate::chinese_date(c.licence.established),
                c.file_sha256
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        _ => {
            println!("NOT GENUINE: {}", outcome.reason.unwrap_or_else(|| "unknown".into()));
            Ok(std::process::ExitCode::from(1))
        }
    }
}

const BENCH_PASSWORD: &str = "bench-password-not-for-production";

fn form() -> BTreeMap<String, String> {
    let first17 = "21010419900307123";
    let id = format!("{first17}{}", dadong_domain::ids::ResidentId::check_char(first17).expect("digits"));
    [
        ("company_name", "沈阳基准测试有限公司"),
        ("address", "辽宁省沈阳市大东区东塔街1号"),
        ("registered_capital", "1000000"),
        ("business_scope", "技术服务"),
        ("legal_rep_name", "测试"),
        ("contact_phone", "13800138000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("legal_rep_id".to_string(), id)])
    .collect()
}

/// What the bench needs beside the stored applications: departments, the shipped catalog and
/// bundles, an applicant and a clerk of the hall and of the market bureau. Reuses what exists.
async fn prepare(store: &Store) -> Result<(i64, i64, i64)> {
    let actor = Actor::Cli("bench".into());
    let departments = store.departments().await?;
    for code in [
        "market",
        "police",
        "tax",
        "bank",
        "hrss",
        "ndrc",
        "natural_resources",
        "construction",
        "ecology",
        HALL_DEPARTMENT,
    ] {
        if !departments.iter().any(|d| d.code == code) {
            store.create_department(&actor, code, code, code).await?;
        }
    }
    if store.matter("market.company_registration").await?.is_none() {
        store.upsert_matters(&actor, &shipped_matters(), "shipped", "-").await?;
    }
    if store.bundle("open_company").await?.is_none() {
        for b in shipped_bundles() {
            store.save_bundle(&actor, &b).await?;
        }
    }
    let mut ids = Vec::new();
    for (name, role, department) in [
        ("bench_applicant", "citizen", None),
        ("bench_hall", "clerk", Some(HALL_DEPARTMENT)),
        ("bench_market", "clerk", Some("market")),
    ] {
        let id = match store.users().await?.into_iter().find(|u| u.username == name) {
            Some(u) => u.id,
            None => {
                store
                    .create_user(
                        &actor,
                        NewUser {
                            department_code: department.map(String::from),
                            ..NewUser::new(name, name, role, BENCH_PASSWORD)
                        },
                    )
                    .await?
                    .id
            }
        };
        ids.push(id);
    }
    Ok((ids[0], ids[1], ids[2]))
}

/// `dadong bench services`: with `stored` applications in the store (generated when fewer),
/// bundle applications submitted and fanned out to their departments per second, and the
/// market clerk's queue page p95 over HTTP on loopback.
pub async fn bench(store: &Store, stored: i64, count: usize, concurrency: usize, json: bool) -> Result<()> {
    let (applicant, hall, market) = prepare(store).await?;
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications").fetch_one(store.pool()).await?;
    if have < stored {
        let started = Instant::now();
        eprintln!("generating {} applications…", stored - have);
        store
            .generate_applications(stored - have, applicant, jiff::Timestamp::now().as_millisecond())
            .await?;
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    }
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications").fetch_one(store.pool()).await?;
    let actor = Actor::Cli("bench".into());
    let now = jiff::Timestamp::now();

    // Drafts with their materials, untimed.
    eprintln!("preparing {count} drafts with their materials…");
    let form = form();
    let mut drafts = Vec::with_capacity(count);
    let prepare_started = Instant::now();
    for _ in 0..count {
        let id = store.create_application(&actor, applicant, None, "bundle", "open_company", &form, now).await?;
        let app = store.application(id).await?.context("draft")?;
        for m in app.app.materials.iter().filter(|m| m.required) {
            let pdf = format!("%PDF-1.4\n% {}\n%%EOF\n", m.code).into_bytes();
            store
                .upload_material(&actor, id, applicant, &m.code, &format!("{}.pdf", m.code), &pdf, now)
                .await?;
        }
        drafts.push(id);
    }
    let draft_s = prepare_started.elapsed().as_secs_f64();

    // Timed: submit and accept (the fan-out to the departments), concurrently.
    let started = Instant::now();
    let chunks: Vec<Vec<i64>> = drafts.chunks(count.div_ceil(concurrency).max(1)).map(|c| c.to_vec()).collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let store = store.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                let request = |acting: Acting, act: Act| ActRequest {
                    actor: actor.clone(),
                    acting,
                    application_id: id,
                    act,
                    now,
                    public_url: "http://127.0.0.1:8080".into(),
                };
                store.act_grouped(request(Acting::Applicant(applicant), Act::Submit)).await?;
                let hall = Acting::Clerk {
                    user_id: hall,
                    department: HALL_DEPARTMENT.into(),
                };
                let a = store.act_grouped(request(hall, Act::Accept)).await?;
                if a.state != "accepted" {
                    bail!("application {id} is {} after acceptance", a.state);
                }
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let submit_s = started.elapsed().as_secs_f64();
    let per_s = count as f64 / submit_s;

    // The market clerk's queue page over HTTP.
    let listener = dadong_web::listen("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = dadong_web::AppState::new(store.clone(), dadong_web::WebConfig::default());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dadong_web::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let _ = market;
    let cookie = sign_in(addr, "bench_market", BENCH_PASSWORD).await?;
    let mut latencies = Vec::new();
    let queue_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM application_steps WHERE department_code = 'market' AND state IN ('ready', 'in_progress')")
        .fetch_one(store.pool())
        .await?;
    for i in 0..220 {
        let t0 = Instant::now();
        let (status, _) = http(
            addr,
            &format!("GET /services/queue HTTP/1.1\r\nHost: bench\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
        )
        .await?;
        if status != 200 {
            bail!("the queue page answered {status}");
        }
        if i >= 20 {
            latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    latencies.sort_by(f64::total_cmp);
    let p50 = crate::percentile(&latencies, 0.5);
    let p95 = crate::percentile(&latencies, 0.95);

    eprintln!(
        "bench services on {}: {total} applications stored before the run\n  drafts with materials: {count} in {draft_s:.2} s ({:.0}/s, untimed preparation)\n  submitted and fanned out: {count} in {submit_s:.2} s = {per_s:.0}/s ({concurrency} concurrent applicants; submit + hall acceptance, each its own audited act, group-committed)\n  market clerk's queue page ({queue_rows} open steps in the department): p50 {p50:.1} ms, p95 {p95:.1} ms over {} requests",
        store.backend().name(),
        count as f64 / draft_s,
        latencies.len()
    );
    if json {
        println!(
            "{}",
            serde_json::json!({
                "backend": store.backend().name(),
                "stored_applications": total,
                "submitted_fanned_out_per_s": (per_s * 10.0).round() / 10.0,
                "drafts_with_materials_per_s": ((count as f64 / draft_s) * 10.0).round() / 10.0,
                "queue_page_p50_ms": (p50 * 10.0).round() / 10.0,
                "queue_page_p95_ms": (p95 * 10.0).round() / 10.0,
                "queue_open_steps": queue_rows,
                "concurrency": concurrency,
            })
        );
    }
    Ok(())
}

/// One HTTP/1.1 exchange over a fresh loopback connection: the status and the raw head.
async fn http(addr: std::net::SocketAddr, request: &str) -> Result<(u16, String)> {
    let mut stream = tokio::time::timeout(Duration::from_secs(10), tokio::net::TcpStream::connect(addr)).await??;
    stream.write_all(request.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf)).await??;
    let text = String::from_utf8_lossy(&buf);
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head))
}

async fn sign_in(addr: std::net::SocketAddr, username: &str, password: &str) -> Result<String> {
    let token = dadong_domain::crypto::random_token(16);
    let body = format!("username={username}&password={password}&csrf_token={token}");
    let (status, head) = http(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: bench\r\nCookie: dadong_precsrf={token}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await?;
    let session = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .find(|c| c.starts_with("dadong_session="))
        .and_then(|c| c.split(';').next())
        .map(String::from);
    session.with_context(|| format!("signing in as {username} answered {status}"))
}

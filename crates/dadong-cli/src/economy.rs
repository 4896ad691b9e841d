//! The economy's commands: `import`, `report` and `bench bulletin`.

use anyhow::{Context, Result, bail};
use dadong_domain::Period;
use dadong_economy::import;
use dadong_economy::report;
use dadong_store::economy::ImportFailure;
use dadong_store::economy_import;
use dadong_store::{Actor, Store};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ImportKind {
    Enterprises,
    Indicators,
    Districts,
    Projects,
}

/// Imports one file, all or nothing; prints every problem when it is refused.
pub async fn import_file(store: &Store, kind: ImportKind, file: &Path) -> Result<std::process::ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    match import_bytes(store, &Actor::cli(), kind, &name, &bytes).await? {
        Ok(summary) => {
            println!(
                "imported {} {} rows from {} ({} new, {} replaced; import {})",
                summary.rows, summary.kind, name, summary.inserted, summary.replaced, summary.import_id
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{}: refused, nothing stored ({} problems):", file.display(), errors.len());
            for e in &errors {
                eprintln!("  row {}, column {}, '{}': {}", e.row, e.column, e.value, e.reason);
            }
            Ok(std::process::ExitCode::from(1))
        }
    }
}

/// Parses and stores a file through the store's one import path (the same the web's upload
/// page and API use); row-level problems come back as the inner error.
pub async fn import_bytes(
    store: &Store,
    actor: &Actor,
    kind: ImportKind,
    name: &str,
    bytes: &[u8],
) -> Result<Result<dadong_store::economy::ImportSummary, Vec<import::ImportError>>> {
    let kind = match kind {
        ImportKind::Enterprises => economy_import::ImportKind::Enterprises,
        ImportKind::Indicators => economy_import::ImportKind::Indicators,
        ImportKind::Districts => economy_import::ImportKind::Districts,
        ImportKind::Projects => economy_import::ImportKind::Projects,
    };
    match store.import_file_bytes(actor, kind, name, bytes).await {
        Ok(summary) => Ok(Ok(summary)),
        Err(ImportFailure::Rows(errors)) => Ok(Err(errors)),
        Err(ImportFailure::Store(e)) => Err(e.into()),
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    /// Every form: HTML, Markdown with its SVG charts, and the XLSX workbook, into --out.
    All,
    /// The stable JSON of the exchange formats, one line on standard output.
    Json,
    Html,
    Markdown,
    Xlsx,
}

pub async fn write_report(store: &Store, through: &str, format: ReportFormat, out: Option<PathBuf>) -> Result<()> {
    let through = Period::parse(through).map_err(|e| anyhow::anyhow!("--through: {e}"))?;
    let bulletin = store.bulletin(through).await?;
    if bulletin.indicators.is_empty() {
        eprintln!("note: no indicator values are stored for {}-01 to {through}", through.year());
    }
    if format == ReportFormat::Json {
        let mut parts = serde_json::Map::new();
        parts.insert("services".into(), services_json(store, through).await?);
        parts.insert("appeals".into(), crate::appeals::report_extra(store, through).await?);
        parts.insert("vouchers".into(), crate::vouchers::report_part(store, through).await?);
        println!("{}", report::to_json(&bulletin, &parts));
        return Ok(());
    }
    let dir = out.unwrap_or_else(|| PathBuf::from(format!("report-{through}")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    let mut write = |name: String, bytes: &[u8]| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    if matches!(format, ReportFormat::All | ReportFormat::Html) {
        write(format!("bulletin-{through}.html"), report::html(&bulletin).as_bytes())?;
    }
    if matches!(format, ReportFormat::All | ReportFormat::Markdown) {
        write(format!("bulletin-{through}.md"), report::markdown(&bulletin).as_bytes())?;
        for (name, svg) in report::charts(&bulletin) {
            write(name, svg.as_bytes())?;
        }
    }
    if matches!(format, ReportFormat::All | ReportFormat::Xlsx) {
        write(
            format!("bulletin-{through}.xlsx"),
            &report::xlsx(&bulletin).context("cannot build the workbook")?,
        )?;
    }
    for p in written {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}

/// The `services` part of the report: applications submitted from January to the end of
/// `through` (Asia/Shanghai), the catalog as it stands.
pub async fn services_json(store: &Store, through: Period) -> Result<serde_json::Value> {
    let zone = dadong_services::lifecycle::shanghai();
    let start = |y: i16, m: i8| -> Result<jiff::Timestamp> { Ok(jiff::civil::date(y, m, 1).to_zoned(zone.clone())?.timestamp()) };
    let (y, m) = (through.year(), through.month());
    let from = start(y, 1)?;
    let to = if m == 12 { start(y + 1, 1)? } else { start(y, m + 1)? };
    let f = store.services_figures(from, to, dadong_domain::WorkCalendar::national()).await?;
    Ok(serde_json::json!({
        "matters": f.matters,
        "fully_online_pct": f.fully_online_pct,
        "bundled_matters": f.bundled_matters,
        "bundles": f.bundles,
        "applications": f.applications,
        "by_status": f.by_status,
        "completed": f.completed,
        "avg_completion_days": f.avg_completion_days,
        "p95_completion_days": f.p95_completion_days,
        "avg_promised_days": f.avg_promised_days,
        "on_time_pct": f.on_time_pct,
        "companies_opened": f.companies_opened,
        "opened_within_one_day_pct": f.opened_within_one_day_pct,
        "overdue": f.overdue,
        "ratings": f.ratings,
    }))
}

/// `dadong bench bulletin`: the bulletin through every month of the stored data, beside one
/// plain SQL GROUP BY over the raw rows computing the same totals, in the same run.
pub async fn bench_bulletin(store: &Store, province: bool, json: bool) -> Result<()> {
    if province && store.indicator_row_count().await? == 0 {
        let t = std::time::Instant::now();
        eprintln!(
            "generating province-scale data on {} (1,000,000 entities, 50,000 above-size, 60 months of 6 indicators)…",
            store.backend().name()
        );
        store.generate_province(dadong_store::bench::PROVINCE).await?;
        eprintln!("generated in {:.0} s", t.elapsed().as_secs_f64());
    }
    let Some((first, latest)) = store.indicator_period_range().await? else {
        bail!("no indicator values stored: run `dadong demo` first, or pass --province")
    };
    let rows = store.indicator_row_count().await?;
    // At province scale the last year's months are timed; the bulletin without rollups takes
    // too long there to run for every month, so it is checked on the demo's scale only.
    let first = if province { Period::new(latest.year(), 1)? } else { first };
    let check_raw = rows < 1_000_000;
    let mut months = Vec::new();
    let mut p = first;
    while p <= latest {
        months.push(p);
        p = if p.month() == 12 {
            Period::new(p.year() + 1, 1)?
        } else {
            Period::new(p.year(), p.month() + 1)?
        };
    }
    let mut bulletin_ms = Vec::new();
    let mut baseline_ms = Vec::new();
    let mut raw_ms = Vec::new();
    for &m in &months {
        let t = std::time::Instant::now();
        let b = store.bulletin(m).await?;
        bulletin_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = std::time::Instant::now();
        let totals = store.plain_totals(m).await?;
        baseline_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if check_raw {
            let t = std::time::Instant::now();
            let raw = store.bulletin_from_raw_rows(m).await?;
            raw_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            if raw != b {
                bail!("the bulletin from the rollups differs from the one from the raw rows through {m}");
            }
        }
        // The two must agree on every flow total: the bench measures equal work.
        for ind in b.indicators.iter().filter(|i| i.indicator.aggregation == dadong_economy::Aggregation::Flow) {
            let plain = totals.iter().find(|(c, _)| *c == ind.indicator.code).map(|(_, v)| *v).unwrap_or(0);
            if plain != ind.total {
                bail!(
                    "bulletin and plain SQL disagree on {} through {m}: {} vs {plain}",
                    ind.indicator.code,
                    ind.total
                );
            }
        }
    }
    let stats = |v: &[f64]| {
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        (s[s.len() / 2], s[s.len() - 1])
    };
    let (b_med, b_max) = stats(&bulletin_ms);
    let (g_med, g_max) = stats(&baseline_ms);
    let (r_med, r_max) = stats(&raw_ms);
    eprintln!(
        "bulletin through each of {} months ({rows} indicator rows, {}):",
        months.len(),
        store.backend().name()
    );
    eprintln!("  bulletin            median {b_med:8.1} ms   max {b_max:8.1} ms   (target <= 100 ms demo, <= 1000 ms province)");
    eprintln!("  plain SQL GROUP BY  median {g_med:8.1} ms   max {g_max:8.1} ms   (the totals alone, one query)");
    if check_raw {
        eprintln!("  bulletin, raw rows  median {r_med:8.1} ms   max {r_max:8.1} ms   (the same bulletin without the rollups; equal)");
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"backend": store.backend().name(), "months": months.len(), "indicator_rows": rows,
                "bulletin_ms_median": b_med, "bulletin_ms_max": b_max, "baseline_ms_median": g_med, "baseline_ms_max": g_max, "raw_bulletin_ms_median": check_raw.then_some(r_med), "raw_bulletin_ms_max": check_raw.then_some(r_max)})
        );
    }
    Ok(())
}

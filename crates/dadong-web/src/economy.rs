//! The economy's pages (SPEC section 3): the bulletin with its period picker and downloads,
//! the enterprise registry and one enterprise's profile and history, the major projects and
//! one project's stage timeline, and the upload page for the exchange files.
//!
//! Who may open each page is the route's action (see `routes`); what each user sees inside
//! the registry is narrowed here by [`enterprise_scope`] and [`sees_enterprise`], in the query
//! for the lists and as a 404 for an enterprise outside the user's scope, so that a page never
//! tells whether an enterprise someone may not see exists.

use crate::auth::{Principal, Scope, Signed};
use crate::error::{ErrorKind, PageError, from_store};
use crate::i18n::{Lang, T};
use crate::pages::actor_of;
use crate::templates::*;
use crate::{AppState, format_time};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dadong_domain::Period;
use dadong_domain::money::format_scaled;
use dadong_economy::report::{self, Display};
use dadong_economy::{Bulletin, Centi};
use dadong_store::economy::{ImportFailure, OVER_100M_FEN};
use dadong_store::economy_import::ImportKind;
use dadong_store::economy_queries::{Page, ProjectItem};
use dadong_store::{Store, StoreError};
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

/// Rows on one page of the enterprise and project lists.
pub const LIST_PAGE_SIZE: i64 = 50;
/// The largest file the upload page and the import API accept: a year of monthly figures for
/// every enterprise with a full profile fits several times over.
pub const IMPORT_BODY_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Imports listed on the upload page.
const RECENT_IMPORTS: i64 = 10;
/// Longest file name kept in the record of imports, in characters.
const FILE_NAME_CHARS_MAX: usize = 200;

/// Fen in one 亿元 and in one 万元.
const FEN_PER_YI: i128 = 10_000_000_000;
const FEN_PER_WAN: i128 = 1_000_000;

fn store_error(lang: Lang) -> impl Fn(StoreError) -> PageError {
    move |e| {
        let (kind, message) = from_store(e);
        PageError::new(kind, message, lang)
    }
}

/// The credit codes a user may see in the registry, or `None` for the whole district: the
/// statistics office and the leadership see every enterprise, a cadre the ones assigned, an
/// enterprise agent its own company.
pub fn enterprise_scope(p: &Principal) -> Option<Vec<String>> {
    if p.can_see(Scope::District) {
        return None;
    }
    let mut codes = p.assigned.clone();
    codes.extend(p.user.company_code.clone());
    codes.sort();
    codes.dedup();
    Some(codes)
}

/// Whether a user may see one enterprise's profile and figures.
pub fn sees_enterprise(p: &Principal, credit_code: &str) -> bool {
    p.can_see(Scope::District) || p.can_see(Scope::Company(credit_code))
}

/// `through` as given: absent or empty means the latest month with data.
pub fn parse_through(raw: Option<&str>) -> Result<Option<Period>, String> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Period::parse(s).map(Some).map_err(|e| format!("through: {e}")),
    }
}

fn next_month(p: Period) -> Option<Period> {
    if p.month() == 12 {
        Period::new(p.year() + 1, 1).ok()
    } else {
        Period::new(p.year(), p.month() + 1).ok()
    }
}

/// Every month from `first` to `last`, newest first.
fn months_desc(first: Period, last: Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut p = Some(first);
    while let Some(m) = p.filter(|m| *m <= last) {
        out.push(m);
        p = next_month(m);
    }
    out.reverse();
    out
}

/// A page number from the query string: anything but a positive number is the first page.
fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|s| s.trim().parse::<i64>().ok()).filter(|n| *n >= 1).unwrap_or(1)
}

fn pager<T>(page: &Page<T>, base: &str, q: &str) -> Pager {
    let href = |n: i64| {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !q.is_empty() {
            pairs.push(("q", q.to_string()));
        }
        pairs.push(("page", n.to_string()));
        format!("{base}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let pages = page.pages();
    Pager {
        page: page.page,
        pages,
        total: page.total,
        prev: (page.page > 1).then(|| href((page.page - 1).min(pages))),
        next: (page.page < pages).then(|| href(page.page + 1)),
    }
}

fn unit_key(unit: &str) -> &'static str {
    match unit {
        "yuan" => "unit.yi_yuan",
        "units" => "unit.wan_units",
        "persons" => "unit.wan_persons",
        _ => "unit.none",
    }
}

/// A pool's name in the user's language, or its code when the code is not a known pool.
fn tag_label(t: T, tag: &str) -> String {
    let key = format!("tag.{tag}");
    let label = t.t(&key);
    if label == key { tag.to_string() } else { label.to_string() }
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "industrial" => "project.kind.industrial",
        "commercial" => "project.kind.commercial",
        "livelihood" => "project.kind.livelihood",
        "infrastructure" => "project.kind.infrastructure",
        _ => "project.kind.other",
    }
}

fn stage_key(stage: Option<&str>) -> &'static str {
    match stage {
        Some("signed") => "project.stage.signed",
        Some("landed") => "project.stage.landed",
        Some("started") => "project.stage.started",
        Some("completed") => "project.stage.completed",
        _ => "project.stage.none",
    }
}

/// An investment in fen as people read it: 亿元 from one 亿 up, else 万元, two decimals.
fn investment_text(t: T, fen: i64) -> String {
    let fen = i128::from(fen);
    if fen >= FEN_PER_YI {
        format!("{} {}", format_scaled(fen, FEN_PER_YI, 2), t.t("unit.yi_yuan_short"))
    } else {
        format!("{} {}", format_scaled(fen, FEN_PER_WAN, 2), t.t("unit.wan_yuan"))
    }
}

fn project_line(t: T, p: &ProjectItem) -> ProjectLine {
    ProjectLine {
        project_id: p.project_id.clone(),
        name: p.name.clone(),
        investment: investment_text(t, p.investment),
        industry: report::industry_label(&p.industry),
        kind_key: kind_key(&p.kind),
        stage_key: stage_key(p.stage()),
    }
}

/// The bulletin for `through`, or for the latest month with data when it is `None`; `Ok(None)`
/// when nothing at all is stored.
pub async fn bulletin_for(store: &Store, through: Option<Period>) -> Result<Option<Bulletin>, StoreError> {
    let through = match through {
        Some(p) => p,
        None => match store.indicator_period_range().await? {
            Some((_, last)) => last,
            None => return Ok(None),
        },
    };
    Ok(Some(store.bulletin(through).await?))
}

fn through_query(p: Period) -> String {
    serde_urlencoded::to_string([("through", p.to_string())]).unwrap_or_default()
}

fn bulletin_view(t: T, b: &Bulletin) -> BulletinView {
    let month = b.through.month();
    let heading = if t.is_en() {
        format!("{} economic bulletin, {} to {}", b.district, b.from, b.through)
    } else if b.from == b.through {
        format!("{}{}年{}月经济运行简报", b.district, b.through.year(), month)
    } else {
        format!("{}{}年{}—{}月经济运行简报", b.district, b.through.year(), b.from.month(), month)
    };
    let lines = b
        .indicators
        .iter()
        .map(|i| {
            let d: Display = report::prose_display(&i.indicator.unit);
            IndicatorLine {
                name: if t.is_en() {
                    i.indicator.name_en.clone()
                } else {
                    i.indicator.name_zh.clone()
                },
                unit: t.t(unit_key(&i.indicator.unit)).to_string(),
                total: d.show(i.total),
                month_total: d.show(i.month_total),
                growth: report::growth_cell(i.growth_pct.as_deref()),
                record: i.month_is_record,
                rank: match (i.rank, i.of) {
                    (Some(r), Some(of)) => format!("{r}/{of}"),
                    (Some(r), None) => r.to_string(),
                    _ => "—".into(),
                },
            }
        })
        .collect();
    let month_charts = b
        .indicators
        .iter()
        .map(|i| ChartView {
            caption: if t.is_en() {
                i.indicator.name_en.clone()
            } else {
                i.indicator.name_zh.clone()
            },
            svg: report::chart_months_svg(i),
        })
        .collect();
    let industry_charts = b
        .indicators
        .iter()
        .filter(|i| !i.by_industry.is_empty())
        .map(|i| ChartView {
            caption: if t.is_en() {
                i.indicator.name_en.clone()
            } else {
                i.indicator.name_zh.clone()
            },
            svg: report::chart_industry_svg(i),
        })
        .collect();
    let p = &b.projects;
    let count_line = |label_key, now: i64, prior: i64| {
        let change = now - prior;
        ProjectCountLine {
            label_key,
            now,
            prior,
            change: if change > 0 { format!("+{change}") } else { change.to_string() },
        }
    };
    let e = &b.enterprises;
    let q = through_query(b.through);
    BulletinView {
        heading,
        month,
        prose: report::prose_zh(b),
        lines,
        month_charts,
        industry_charts,
        projects_chart: report::chart_projects_svg(p),
        projects: vec![
            count_line("bulletin.projects.started", p.started_over_100m, p.started_over_100m_prior),
            count_line("bulletin.projects.signed", p.signed_over_100m, p.signed_over_100m_prior),
            count_line("bulletin.projects.landed", p.landed_over_100m, p.landed_over_100m_prior),
        ],
        pools: vec![
            ("bulletin.market_entities", e.market_entities),
            ("tag.tech_sme", e.tech_sme),
            ("bulletin.new_high_tech", e.new_high_tech),
            ("tag.eaglet", e.eaglet),
            ("tag.gazelle", e.gazelle),
            ("tag.little_giant_national", e.little_giant_national),
            ("tag.little_giant_provincial", e.little_giant_provincial),
            ("bulletin.vehicle_makers", b.vehicle_makers),
        ],
        json_href: format!("/api/v1/economy/bulletin?{q}"),
        md_href: format!("/economy/bulletin.md?{q}"),
        xlsx_href: format!("/economy/bulletin.xlsx?{q}"),
    }
}

#[derive(Deserialize)]
pub struct ThroughQuery {
    through: Option<String>,
}

/// The bulletin page: the period picker, then the figures of January to the chosen month.
pub async fn bulletin(State(state): State<AppState>, Signed(p, lang): Signed, Query(q): Query<ThroughQuery>) -> PageResult {
    let t = T::new(lang);
    let range = state.store.indicator_period_range().await.map_err(store_error(lang))?;
    let latest = range.map(|(_, last)| last);
    let (through, error) = match parse_through(q.through.as_deref()) {
        Ok(chosen) => (chosen.or(latest), None),
        Err(message) => (None, Some(message)),
    };
    let mut months = range.map(|(first, last)| months_desc(first, last)).unwrap_or_default();
    if let Some(chosen) = through
        && !months.contains(&chosen)
    {
        months.push(chosen);
        months.sort_by(|a, b| b.cmp(a));
    }
    let selected = through.or(latest);
    let periods = months.iter().map(|m| (m.to_string(), Some(*m) == selected)).collect();
    let nav = Nav::for_user(&p, "/economy/bulletin");
    let (view, no_data) = match (&error, through) {
        (Some(_), _) => (None, None),
        (None, None) => (None, Some(t.t("bulletin.nothing_stored").to_string())),
        (None, Some(through)) => {
            let b = state.store.bulletin(through).await.map_err(store_error(lang))?;
            if b.indicators.is_empty() {
                (None, Some(format!("{} {}-01 — {through}", t.t("bulletin.no_data"), through.year())))
            } else {
                (Some(bulletin_view(t, &b)), None)
            }
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = BulletinPage {
        t,
        nav,
        periods,
        error,
        no_data,
        view,
    };
    Ok((status, render(&page)).into_response())
}

/// The bulletin a download asks for, or the page error that answers instead.
async fn download_bulletin(state: &AppState, raw: Option<&str>, lang: Lang) -> Result<Bulletin, PageError> {
    let through = parse_through(raw).map_err(|m| PageError::new(ErrorKind::Validation { field: "through".into() }, m, lang))?;
    bulletin_for(&state.store, through)
        .await
        .map_err(store_error(lang))?
        .ok_or_else(|| PageError::new(ErrorKind::NotFound, T::new(lang).t("bulletin.nothing_stored"), lang))
}

fn attachment(content_type: &str, file_name: String, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        body,
    )
        .into_response()
}

/// The bulletin as Markdown (its charts are referenced by file name, as `dadong report` writes them).
pub async fn bulletin_markdown(State(state): State<AppState>, Signed(_, lang): Signed, Query(q): Query<ThroughQuery>) -> PageResult {
    let b = download_bulletin(&state, q.through.as_deref(), lang).await?;
    Ok(attachment(
        "text/markdown; charset=utf-8",
        format!("bulletin-{}.md", b.through),
        report::markdown(&b).into_bytes(),
    ))
}

/// The bulletin's tables as an XLSX workbook.
pub async fn bulletin_xlsx(State(state): State<AppState>, Signed(_, lang): Signed, Query(q): Query<ThroughQuery>) -> PageResult {
    let b = download_bulletin(&state, q.through.as_deref(), lang).await?;
    let bytes = report::xlsx(&b).map_err(|e| {
        tracing::error!(error = %e, "workbook failed");
        PageError::new(ErrorKind::Internal, "internal error", lang)
    })?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("bulletin-{}.xlsx", b.through),
        bytes,
    ))
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
}

/// The enterprises the user may see, searched by name or credit code, fifty to a page.
pub async fn enterprises(State(state): State<AppState>, Signed(p, lang): Signed, Query(query): Query<ListQuery>) -> PageResult {
    let t = T::new(lang);
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(dadong_store::economy_queries::SEARCH_CHARS_MAX)
        .collect();
    let scope = enterprise_scope(&p);
    let page = state
        .store
        .enterprises_page(&q, scope.as_deref(), page_number(query.page.as_deref()), LIST_PAGE_SIZE)
        .await
        .map_err(store_error(lang))?;
    let items = page
        .items
        .iter()
        .map(|e| EnterpriseLine {
            credit_code: e.credit_code.clone(),
            name: e.name.clone(),
            industry: report::industry_label(&e.industry),
            above_size: e.above_size,
            park: e.park.clone().unwrap_or_default(),
        })
        .collect();
    Ok(render(&EnterprisesPage {
        t,
        nav: Nav::for_user(&p, "/economy/enterprises"),
        pager: pager(&page, "/economy/enterprises", &q),
        q,
        scoped: scope.is_some(),
        items,
    }))
}

/// One enterprise: its profile, its pools, and a chart and table of its monthly values. An
/// enterprise outside the user's scope answers exactly as one that does not exist.
pub async fn enterprise(State(state): State<AppState>, Signed(p, lang): Signed, Path(code): Path<String>) -> PageResult {
    let t = T::new(lang);
    let not_found = || PageError::new(ErrorKind::NotFound, format!("no enterprise '{code}'"), lang);
    if !sees_enterprise(&p, &code) {
        return Err(not_found());
    }
    let profile = state.store.enterprise_profile(&code).await.map_err(store_error(lang))?.ok_or_else(not_found)?;
    let histories = state.store.enterprise_values(&code).await.map_err(store_error(lang))?;
    let catalog = state.store.indicator_catalog().await.map_err(store_error(lang))?;
    let mut charts = Vec::new();
    let mut value_headers = Vec::new();
    let mut displays: Vec<Display> = Vec::new();
    for h in &histories {
        let ind = catalog.iter().find(|i| i.code == h.indicator);
        let unit = ind.map(|i| i.unit.as_str()).unwrap_or("");
        let name = match ind {
            Some(i) if t.is_en() => i.name_en.clone(),
            Some(i) => i.name_zh.clone(),
            None => h.indicator.clone(),
        };
        let max: Centi = h.points.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let display = report::history_display(unit, max);
        charts.push(ChartView {
            caption: name.clone(),
            svg: report::history_svg(&name, unit, &h.points),
        });
        value_headers.push(if display.label.is_empty() {
            name
        } else {
            format!("{name}（{}）", display.label)
        });
        displays.push(display);
    }
    let mut periods: Vec<Period> = histories.iter().flat_map(|h| h.points.iter().map(|(p, _)| *p)).collect();
    periods.sort_by(|a, b| b.cmp(a));
    periods.dedup();
    let value_rows = periods
        .iter()
        .map(|period| {
            let cells = histories
                .iter()
                .zip(&displays)
                .map(|(h, d)| {
                    h.points
                        .iter()
                        .find(|(p, _)| p == period)
                        .map(|(_, v)| d.show(*v))
                        .unwrap_or_else(|| "—".into())
                })
                .collect();
            (period.to_string(), cells)
        })
        .collect();
    let path = format!("/economy/enterprises/{}", profile.credit_code);
    Ok(render(&EnterprisePage {
        t,
        nav: Nav::for_user(&p, &path),
        registered: profile.registered.clone(),
        tags: profile.tags.iter().map(|m| (tag_label(t, &m.tag), m.entered.clone())).collect(),
        enterprise: EnterpriseLine {
            industry: report::industry_label(&profile.industry),
            credit_code: profile.credit_code,
            name: profile.name,
            above_size: profile.above_size,
            park: profile.park.unwrap_or_default(),
        },
        charts,
        value_headers,
        value_rows,
    }))
}

/// The major projects, fifty to a page.
pub async fn projects(State(state): State<AppState>, Signed(p, lang): Signed, Query(query): Query<ListQuery>) -> PageResult {
    let t = T::new(lang);
    let page = state
        .store
        .projects_page(page_number(query.page.as_deref()), LIST_PAGE_SIZE)
        .await
        .map_err(store_error(lang))?;
    Ok(render(&ProjectsPage {
        t,
        nav: Nav::for_user(&p, "/economy/projects"),
        items: page.items.iter().map(|i| project_line(t, i)).collect(),
        pager: pager(&page, "/economy/projects", ""),
    }))
}

/// One project: its figures, its dates and the timeline of its stages as they became known.
pub async fn project(State(state): State<AppState>, Signed(p, lang): Signed, Path(id): Path<String>) -> PageResult {
    let t = T::new(lang);
    let detail = state
        .store
        .project_detail(&id)
        .await
        .map_err(store_error(lang))?
        .ok_or_else(|| PageError::new(ErrorKind::NotFound, format!("no project '{id}'"), lang))?;
    let pr = &detail.project;
    let dates = vec![
        ("project.stage.signed", pr.signed.clone().unwrap_or_default()),
        ("project.stage.landed", pr.landed.clone().unwrap_or_default()),
        ("project.stage.started", pr.started.clone().unwrap_or_default()),
        ("project.stage.completed", pr.completed.clone().unwrap_or_default()),
    ];
    let stages = detail
        .stages
        .iter()
        .map(|s| StageLine {
            date: s.date.clone(),
            stage_key: stage_key(Some(&s.stage)),
            recorded: format_time(s.recorded_at_ms),
        })
        .collect();
    let path = format!("/economy/projects/{}", pr.project_id);
    Ok(render(&ProjectPage {
        t,
        nav: Nav::for_user(&p, &path),
        project: project_line(t, pr),
        over_100m: pr.investment >= OVER_100M_FEN,
        dates,
        stages,
    }))
}

/// The header each exchange file must have (SPEC section 9), shown on the upload form.
fn columns_of(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Enterprises => "credit_code,name,industry,above_size,park,tags,registered",
        ImportKind::Indicators => "credit_code,period,indicator,value",
        ImportKind::Districts => "district,period,indicator,total,growth_pct",
        ImportKind::Projects => "project_id,name,investment,industry,kind,signed,landed,started,completed",
    }
}

fn kind_label_key(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Enterprises => "import.kind.enterprises",
        ImportKind::Indicators => "import.kind.indicators",
        ImportKind::Districts => "import.kind.districts",
        ImportKind::Projects => "import.kind.projects",
    }
}

/// A file name as a browser or client sent it, reduced to its last part and a sane length.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars()
        .filter(|c| !c.is_control())
        .take(FILE_NAME_CHARS_MAX)
        .collect::<String>()
        .trim()
        .to_string()
}

/// What the upload page shows besides the form.
#[derive(Default)]
struct ImportOutcome {
    kind: Option<ImportKind>,
    done: Option<ImportDone>,
    problem: Option<String>,
    file_name: String,
    row_errors: Vec<dadong_economy::import::ImportError>,
}

async fn import_page(state: &AppState, p: &Principal, lang: Lang, outcome: ImportOutcome, status: StatusCode) -> PageResult {
    let t = T::new(lang);
    let recent = state
        .store
        .recent_imports(RECENT_IMPORTS)
        .await
        .map_err(store_error(lang))?
        .into_iter()
        .map(|r| ImportLine {
            id: r.id,
            at: format_time(r.at_ms),
            kind: r.kind,
            file_name: r.file_name,
            rows: r.rows,
            actor: r.actor,
        })
        .collect();
    let chosen = outcome.kind.unwrap_or(ImportKind::Enterprises);
    let kinds = ImportKind::ALL
        .into_iter()
        .map(|k| ImportKindOption {
            key: k.key(),
            label_key: kind_label_key(k),
            columns: columns_of(k),
            selected: k == chosen,
        })
        .collect();
    let page = ImportPage {
        t,
        nav: Nav::for_user(p, "/economy/import"),
        kinds,
        done: outcome.done,
        problem: outcome.problem,
        file_name: outcome.file_name,
        row_errors: outcome.row_errors,
        recent,
        body_max_mib: IMPORT_BODY_MAX_BYTES / (1024 * 1024),
    };
    Ok((status, render(&page)).into_response())
}

/// The upload form, with the record of recent imports.
pub async fn import_form(State(state): State<AppState>, Signed(p, lang): Signed) -> PageResult {
    import_page(&state, &p, lang, ImportOutcome::default(), StatusCode::OK).await
}

/// An uploaded file (`multipart/form-data` with the fields `kind` and `file`), imported all or
/// nothing. The CSRF token comes in the form's query string, since the guard does not read
/// multipart bodies.
pub async fn import_submit(State(state): State<AppState>, Signed(p, lang): Signed, multipart: Result<Multipart, MultipartRejection>) -> PageResult {
    let t = T::new(lang);
    let too_large = || {
        PageError::new(
            ErrorKind::PayloadTooLarge,
            format!("a file may be at most {} MiB", IMPORT_BODY_MAX_BYTES / (1024 * 1024)),
            lang,
        )
    };
    let mut multipart = multipart.map_err(|e| PageError::new(ErrorKind::BadRequest, format!("send the form as multipart/form-data: {e}"), lang))?;
    let mut kind_text = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(PageError::new(ErrorKind::BadRequest, format!("the form could not be read: {e}"), lang)),
        };
        match field.name() {
            Some("kind") => {
                kind_text = Some(
                    field
                        .text()
                        .await
                        .map_err(|e| PageError::new(ErrorKind::BadRequest, format!("the form could not be read: {e}"), lang))?,
                );
            }
            Some("file") => {
                let name = clean_file_name(field.file_name().unwrap_or(""));
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                    Err(e) => return Err(PageError::new(ErrorKind::BadRequest, format!("the file could not be read: {e}"), lang)),
                };
                file = Some((name, bytes.to_vec()));
            }
            // Other fields (a CSRF token copied into the body, say) are not needed here.
            _ => {}
        }
    }
    let kind = kind_text.as_deref().and_then(ImportKind::parse);
    let mut outcome = ImportOutcome { kind, ..Default::default() };
    let Some(kind) = kind else {
        outcome.problem = Some(t.t("import.choose_kind").to_string());
        return import_page(&state, &p, lang, outcome, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let (name, bytes) = match file {
        Some((name, bytes)) if !(name.is_empty() && bytes.is_empty()) => (name, bytes),
        _ => {
            outcome.problem = Some(t.t("import.choose_file").to_string());
            return import_page(&state, &p, lang, outcome, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let name = if name.is_empty() { format!("{kind}.csv") } else { name };
    outcome.file_name = name.clone();
    match state.store.import_file_bytes(&actor_of(&p), kind, &name, &bytes).await {
        Ok(summary) => {
            outcome.done = Some(ImportDone {
                kind: summary.kind,
                file_name: name,
                rows: summary.rows,
                inserted: summary.inserted,
                replaced: summary.replaced,
                import_id: summary.import_id,
            });
            import_page(&state, &p, lang, outcome, StatusCode::OK).await
        }
        Err(ImportFailure::Rows(errors)) => {
            outcome.row_errors = errors;
            import_page(&state, &p, lang, outcome, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ImportFailure::Store(e)) => Err(store_error(lang)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn through_is_a_month_or_nothing() {
        assert_eq!(parse_through(None), Ok(None));
        assert_eq!(parse_through(Some(" ")), Ok(None));
        assert_eq!(parse_through(Some("2022-08")).unwrap().unwrap().to_string(), "2022-08");
        assert!(parse_through(Some("2022-13")).unwrap_err().contains("2022-13"));
    }

    #[test]
    fn months_run_newest_first_across_years() {
        let got: Vec<String> = months_desc(Period::parse("2021-11").unwrap(), Period::parse("2022-02").unwrap())
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(got, ["2022-02", "2022-01", "2021-12", "2021-11"]);
    }

    #[test]
    fn file_names_keep_their_last_part_only() {
        assert_eq!(clean_file_name("C:\\Users\\x\\企业.csv"), "企业.csv");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\u{0}b.csv"), "ab.csv");
    }

    #[test]
    fn every_key_chosen_in_code_has_both_languages() {
        let mut keys: Vec<String> = ["yuan", "units", "persons", "other"].iter().map(|u| unit_key(u).to_string()).collect();
        keys.extend(
            ["industrial", "commercial", "livelihood", "infrastructure", "x"]
                .iter()
                .map(|k| kind_key(k).to_string()),
        );
        keys.extend(
            [None, Some("signed"), Some("landed"), Some("started"), Some("completed")]
                .into_iter()
                .map(|s| stage_key(s).to_string()),
        );
        keys.extend(ImportKind::ALL.into_iter().map(|k| kind_label_key(k).to_string()));
        keys.extend(dadong_economy::TAGS.iter().map(|t| format!("tag.{t}")));
        keys.extend(ECONOMY_PAGES.iter().flat_map(|(_, nav, tile, _)| [nav.to_string(), tile.to_string()]));
        let b = empty_bulletin();
        let view = bulletin_view(T::new(Lang::Zh), &b);
        keys.extend(view.projects.iter().map(|l| l.label_key.to_string()));
        keys.extend(view.pools.iter().map(|(k, _)| k.to_string()));
        keys.extend(
            [
                "bulletin.nothing_stored",
                "bulletin.no_data",
                "import.choose_kind",
                "import.choose_file",
                "unit.yi_yuan_short",
                "unit.wan_yuan",
            ]
            .map(String::from),
        );
        let known: std::collections::HashSet<&str> = crate::i18n::STRINGS.iter().map(|(k, _, _)| *k).collect();
        for k in keys {
            assert!(known.contains(k.as_str()), "no strings for {k}");
        }
    }

    fn empty_bulletin() -> Bulletin {
        Bulletin {
            district: "大东区".into(),
            from: Period::parse("2022-01").unwrap(),
            through: Period::parse("2022-08").unwrap(),
            indicators: vec![],
            projects: Default::default(),
            enterprises: Default::default(),
            vehicle_makers: 0,
            vehicle_makers_output: 0,
        }
    }

    #[test]
    fn investments_read_in_yi_or_wan_yuan() {
        let t = T::new(Lang::Zh);
        assert_eq!(investment_text(t, 250_000_000 * 100), "2.50 亿元");
        assert_eq!(investment_text(t, 3_000_000 * 100), "300.00 万元");
    }
}

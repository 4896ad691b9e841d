//! Digital Dadong's web layer: the only crate that knows HTTP and HTML.
//!
//! [`app`] builds the whole router from an [`AppState`] without a socket, so tests can drive
//! it directly; [`serve`] runs it on a listener. Every route is mounted with the [`Action`]
//! it performs, and the guard in [`auth`] checks that action (and CSRF) before the handler.

#![forbid(unsafe_code)]

pub mod api;
pub mod appeals_admin;
pub mod appeals_admin_api;
pub mod appeals_api;
pub mod appeals_web;
pub mod auth;
pub mod economy;
pub mod economy_api;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod policy;
pub mod services;
pub mod services_api;
pub mod templates;
pub mod vouchers;
pub mod vouchers_api;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use dadong_store::Store;
use error::{ApiError, ErrorKind, PageError};
use metrics::{Label, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use policy::Action;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

pub use auth::Principal;

/// The web layer's settings, every limit explicit.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure`; set whenever the site is reached over TLS (directly or behind a proxy).
    pub secure_cookies: bool,
    /// The largest request body any route accepts.
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
    /// The address the site is reached at, printed in certificates' QR codes.
    pub public_url: String,
    /// Vouchers: claims one account may make per throttle window (0: no limit).
    pub claims_per_account_max: u32,
    /// Vouchers: claims one client address may make per throttle window (0: no limit).
    pub claims_per_address_max: u32,
    pub claim_throttle_window_ms: i64,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            secure_cookies: false,
            body_limit_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            public_url: "http://127.0.0.1:8080".into(),
            claims_per_account_max: 10,
            claims_per_address_max: 600,
            claim_throttle_window_ms: 60_000,
        }
    }
}

/// What every handler reads, behind one shared pointer: axum clones the state for each
/// middleware and handler a request passes through, and one reference count to bump (rather
/// than one per field) keeps that clone from costing each request a dozen contended atomic
/// operations.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl std::ops::Deref for AppState {
    type Target = AppStateParts;
    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

pub struct AppStateParts {
    pub store: Store,
    pub config: Arc<WebConfig>,
    pub started: Instant,
    metrics: PrometheusHandle,
    /// Vouchers (issue 5): the claim engine and the claim throttles.
    pub vouchers: Arc<VoucherState>,
}

/// The vouchers' per-process parts: the group-commit claim engine and the bot throttles.
#[derive(Debug)]
pub struct VoucherState {
    pub engine: dadong_store::voucher_engine::ClaimEngine,
    /// Claims per citizen (user id).
    pub per_account: vouchers_api::Throttle<i64>,
    /// Claims per client address.
    pub per_address: vouchers_api::Throttle<String>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> Self {
        let vouchers = Arc::new(VoucherState {
            engine: dadong_store::voucher_engine::ClaimEngine::start(store.clone(), Default::default()),
            per_account: vouchers_api::Throttle::new(config.claims_per_account_max, config.claim_throttle_window_ms),
            per_address: vouchers_api::Throttle::new(config.claims_per_address_max, config.claim_throttle_window_ms),
        });
        Self(Arc::new(AppStateParts {
            store,
            config: Arc::new(config),
            started: Instant::now(),
            metrics: metrics_handle(),
            vouchers,
        }))
    }
}

/// The process-wide Prometheus recorder, installed once however many apps a process builds.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // The recorder keeps every histogram sample until upkeep folds it in; without a
            // periodic upkeep a server nobody scrapes would grow by each request it answers.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            // Another recorder may be installed already (by an embedding program); then ours
            // only renders what it records, which is nothing, and the program's wins.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// One route: its method, path, the action it performs (which the guard checks), and handler.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub action: Action,
    handler: MethodRouter<AppState>,
}

/// A route that takes a material or certificate file.
fn upload_route(m: MethodRouter<AppState>) -> MethodRouter<AppState> {
    m.layer(DefaultBodyLimit::max(services::UPLOAD_REQUEST_MAX_BYTES))
}

fn r(method: Method, path: &'static str, action: Action, handler: MethodRouter<AppState>) -> RouteSpec {
    RouteSpec { method, path, action, handler }
}

/// Every guarded route of the application. The router is built from this list alone, so the
/// list is the whole truth about who may call what (tests walk it with every role).
pub fn routes() -> Vec<RouteSpec> {
    use Action::*;
    use Method as M;
    vec![
        r(M::GET, "/", Public, get(pages::root)),
        r(M::GET, "/login", Public, get(pages::login_page)),
        r(M::POST, "/login", Public, post(pages::login_submit)),
        r(M::POST, "/logout", SignedIn, post(pages::logout)),
        r(M::GET, "/lang/{lang}", Public, get(pages::set_lang)),
        r(M::GET, "/home", SignedIn, get(pages::home)),
        r(M::GET, "/admin/users", ManageUsers, get(pages::users)),
        r(M::POST, "/admin/users", ManageUsers, post(pages::users_create)),
        r(M::GET, "/admin/departments", ManageDepartments, get(pages::departments)),
        r(M::POST, "/admin/departments", ManageDepartments, post(pages::departments_create)),
        r(M::GET, "/audit", ViewAudit, get(pages::audit)),
        r(M::GET, "/services", SignedIn, get(services::services_home)),
        r(M::GET, "/services/bundles/{id}", ApplyServices, get(services::apply_form)),
        r(M::POST, "/services/bundles/{id}", ApplyServices, post(services::apply_submit)),
        r(M::GET, "/services/applications", ApplyServices, get(services::my_applications)),
        r(M::GET, "/services/applications/{id}", SignedIn, get(services::application)),
        r(
            M::POST,
            "/services/applications/{id}/upload",
            ApplyServices,
            upload_route(post(services::upload)),
        ),
        r(M::POST, "/services/applications/{id}/act", SignedIn, post(services::act)),
        r(M::POST, "/services/applications/{id}/rate", ApplyServices, post(services::rate)),
        r(M::GET, "/services/certificates/{id}", SignedIn, get(services::certificate_download)),
        r(M::GET, "/services/queue", WorkServices, get(services::queue)),
        r(M::POST, "/services/rectifications/{id}", WorkServices, post(services::answer_rectification)),
        r(M::GET, "/services/figures", ViewServiceFigures, get(services::figures)),
        r(M::GET, "/services/admin", ManageServices, get(services::admin)),
        r(M::POST, "/services/admin/bundles", ManageServices, post(services::admin_bundle)),
        r(M::POST, "/services/admin/catalog", ManageServices, upload_route(post(services::admin_catalog))),
        r(M::GET, "/notifications", SignedIn, get(services::notifications)),
        r(M::GET, "/api/v1/services/matters", SignedIn, get(services_api::matters)),
        r(M::GET, "/api/v1/services/bundles", SignedIn, get(services_api::bundles)),
        r(M::POST, "/api/v1/services/bundles", ManageServices, post(services_api::define_bundle)),
        r(M::GET, "/api/v1/services/applications", ApplyServices, get(services_api::mine)),
        r(M::POST, "/api/v1/services/applications", ApplyServices, post(services_api::apply)),
        r(M::GET, "/api/v1/services/applications/{id}", SignedIn, get(services_api::detail)),
        r(
            M::POST,
            "/api/v1/services/applications/{id}/materials",
            ApplyServices,
            post(services_api::material).layer(DefaultBodyLimit::max(services_api::MATERIAL_REQUEST_MAX_BYTES)),
        ),
        r(M::POST, "/api/v1/services/applications/{id}/act", SignedIn, post(services_api::act)),
        r(M::POST, "/api/v1/services/applications/{id}/ratings", ApplyServices, post(services_api::rate)),
        r(M::GET, "/api/v1/services/queue", WorkServices, get(services_api::queue)),
        r(M::GET, "/api/v1/services/figures", ViewServiceFigures, get(services_api::figures)),
        r(M::GET, "/api/v1/notifications", SignedIn, get(services_api::notifications)),
        r(M::GET, "/verify/{id}", Public, get(services::verify)),
        r(M::POST, "/verify/{id}", Public, upload_route(post(services::verify_file))),
        r(M::GET, "/economy/bulletin", ViewBulletin, get(economy::bulletin)),
        r(M::GET, "/economy/bulletin.md", ViewBulletin, get(economy::bulletin_markdown)),
        r(M::GET, "/economy/bulletin.xlsx", ViewBulletin, get(economy::bulletin_xlsx)),
        r(M::GET, "/economy/enterprises", ViewEnterprises, get(economy::enterprises)),
        r(M::GET, "/economy/enterprises/{credit_code}", ViewEnterprises, get(economy::enterprise)),
        r(M::GET, "/economy/projects", ViewProjects, get(economy::projects)),
        r(M::GET, "/economy/projects/{id}", ViewProjects, get(economy::project)),
        r(M::GET, "/economy/import", ImportEconomy, get(economy::import_form)),
        // Files are larger than forms: this route alone takes bodies up to the import limit.
        r(
            M::POST,
            "/economy/import",
            ImportEconomy,
            post(economy::import_submit).layer(DefaultBodyLimit::max(economy::IMPORT_BODY_MAX_BYTES)),
        ),
        r(M::POST, "/api/v1/session", Public, post(api::login)),
        r(M::DELETE, "/api/v1/session", SignedIn, delete(api::logout)),
        r(M::GET, "/api/v1/me", SignedIn, get(api::me)),
        r(M::GET, "/api/v1/users", ManageUsers, get(api::users)),
        r(M::POST, "/api/v1/users", ManageUsers, post(api::create_user)),
        r(M::GET, "/api/v1/departments", ViewDepartments, get(api::departments)),
        r(M::POST, "/api/v1/departments", ManageDepartments, post(api::create_department)),
        r(M::GET, "/api/v1/audit", ViewAudit, get(api::audit)),
        r(M::GET, "/api/v1/audit/verify", ViewAudit, get(api::audit_verify)),
        r(M::GET, "/api/v1/calendar/working-days", Public, get(api::working_days)),
        r(M::GET, "/api/v1/economy/bulletin", ViewBulletin, get(economy_api::bulletin)),
        r(M::GET, "/api/v1/economy/enterprises", ViewEnterprises, get(economy_api::enterprises)),
        r(
            M::GET,
            "/api/v1/economy/enterprises/{credit_code}",
            ViewEnterprises,
            get(economy_api::enterprise),
        ),
        r(M::GET, "/api/v1/economy/projects", ViewProjects, get(economy_api::projects)),
        r(M::GET, "/api/v1/economy/projects/{id}", ViewProjects, get(economy_api::project)),
        r(
            M::POST,
            "/api/v1/economy/import/{kind}",
            ImportEconomy,
            post(economy_api::import).layer(DefaultBodyLimit::max(economy::IMPORT_BODY_MAX_BYTES)),
        ),
        r(M::GET, "/api/openapi.json", Public, get(api::openapi)),
        // Issue 6: enterprise service and daily dispatch.
        r(M::GET, "/appeals", ViewAppeals, get(appeals_web::list)),
        r(M::POST, "/appeals", RaiseAppeal, post(appeals_web::raise)),
        r(M::GET, "/appeals/{id}", ViewAppeals, get(appeals_web::detail)),
        r(M::POST, "/appeals/{id}/{step}", WorkAppeal, post(appeals_web::step)),
        r(M::POST, "/appeals/{id}/follow-up", FollowUpAppeal, post(appeals_web::follow_up)),
        r(M::GET, "/dispatch", ViewDispatch, get(appeals_web::dispatch)),
        r(M::GET, "/service", Service, get(appeals_web::service)),
        r(M::POST, "/service/visits", Service, post(appeals_web::record_visit)),
        r(M::GET, "/service/figures", ViewBulletin, get(appeals_web::figures)),
        r(M::GET, "/figures/daily", ReportFigures, get(appeals_web::daily_form)),
        r(M::POST, "/figures/daily", ReportFigures, post(appeals_web::daily_submit)),
        r(M::GET, "/api/v1/appeals", ViewAppeals, get(appeals_api::list)),
        r(M::POST, "/api/v1/appeals", RaiseAppeal, post(appeals_api::raise)),
        r(M::GET, "/api/v1/appeals/{id}", ViewAppeals, get(appeals_api::detail)),
        r(M::POST, "/api/v1/appeals/{id}/{step}", WorkAppeal, post(appeals_api::step)),
        r(M::POST, "/api/v1/appeals/{id}/follow-up", FollowUpAppeal, post(appeals_api::follow_up)),
        r(M::GET, "/api/v1/dispatch/board", ViewDispatch, get(appeals_api::board)),
        r(M::GET, "/api/v1/service/visits", Service, get(appeals_api::visits)),
        r(M::POST, "/api/v1/service/visits", Service, post(appeals_api::record_visit)),
        r(M::GET, "/api/v1/service/coverage", Service, get(appeals_api::coverage)),
        r(M::GET, "/api/v1/service/figures", ViewBulletin, get(appeals_api::figures)),
        r(M::POST, "/api/v1/figures/daily", ReportFigures, post(appeals_api::daily)),
        // Managing the service: rules, assignments, key enterprises and plans, dispatch tasks.
        r(M::GET, "/admin/appeal-rules", ManageAppealRules, get(appeals_admin::rules)),
        r(M::POST, "/admin/appeal-rules", ManageAppealRules, post(appeals_admin::set_rule)),
        r(M::GET, "/service/assignments", ManageAssignments, get(appeals_admin::assignments)),
        r(M::POST, "/service/assignments", ManageAssignments, post(appeals_admin::assign)),
        r(M::POST, "/service/assignments/remove", ManageAssignments, post(appeals_admin::unassign)),
        r(M::GET, "/dispatch/key-enterprises", ManageKeyEnterprises, get(appeals_admin::key_enterprises)),
        r(M::POST, "/dispatch/key-enterprises", ManageKeyEnterprises, post(appeals_admin::add_key)),
        r(
            M::POST,
            "/dispatch/key-enterprises/remove",
            ManageKeyEnterprises,
            post(appeals_admin::remove_key),
        ),
        r(M::POST, "/dispatch/plans", ManageKeyEnterprises, post(appeals_admin::set_plan)),
        r(M::POST, "/dispatch/tasks", ManageDispatch, post(appeals_admin::create_task)),
        r(M::POST, "/dispatch/tasks/{id}/done", ManageDispatch, post(appeals_admin::complete_task)),
        r(M::GET, "/api/v1/appeals/rules", ManageAppealRules, get(appeals_admin_api::rules)),
        r(M::PUT, "/api/v1/appeals/rules/{category}", ManageAppealRules, put(appeals_admin_api::set_rule)),
        r(M::GET, "/api/v1/appeals/assignments", ManageAssignments, get(appeals_admin_api::assignments)),
        r(M::POST, "/api/v1/appeals/assignments", ManageAssignments, post(appeals_admin_api::assign)),
        r(M::DELETE, "/api/v1/appeals/assignments", ManageAssignments, delete(appeals_admin_api::unassign)),
        r(
            M::POST,
            "/api/v1/appeals/key-enterprises",
            ManageKeyEnterprises,
            post(appeals_admin_api::add_key),
        ),
        r(
            M::DELETE,
            "/api/v1/appeals/key-enterprises/{credit_code}",
            ManageKeyEnterprises,
            delete(appeals_admin_api::remove_key),
        ),
        r(
            M::POST,
            "/api/v1/appeals/monthly-plans",
            ManageKeyEnterprises,
            post(appeals_admin_api::set_plan),
        ),
        r(M::POST, "/api/v1/appeals/dispatch-tasks", ManageDispatch, post(appeals_admin_api::create_task)),
        r(
            M::POST,
            "/api/v1/appeals/dispatch-tasks/{id}/done",
            ManageDispatch,
            post(appeals_admin_api::complete_task),
        ),
        // Vouchers (issue 5).
        r(M::GET, "/vouchers", ViewCampaigns, get(vouchers::campaigns)),
        r(M::POST, "/vouchers/claim", ClaimVoucher, post(vouchers::claim)),
        r(M::POST, "/vouchers/register", ClaimVoucher, post(vouchers::register)),
        r(M::GET, "/vouchers/wallet", ClaimVoucher, get(vouchers::wallet)),
        r(M::GET, "/merchant", RedeemVoucher, get(vouchers::merchant)),
        r(M::POST, "/merchant/apply", RedeemVoucher, post(vouchers::merchant_apply)),
        r(M::POST, "/merchant/redeem", RedeemVoucher, post(vouchers::merchant_redeem)),
        r(M::GET, "/admin/vouchers", ManageVouchers, get(vouchers::admin)),
        r(M::POST, "/admin/vouchers/merchants", ManageVouchers, post(vouchers::admin_decide)),
        r(M::POST, "/admin/vouchers/settle", ManageVouchers, post(vouchers::admin_settle)),
        r(M::POST, "/admin/vouchers/flags", ManageVouchers, post(vouchers::admin_review)),
        r(M::POST, "/admin/vouchers/draw", ManageVouchers, post(vouchers::admin_draw)),
        r(
            M::GET,
            "/admin/vouchers/settlements.xlsx",
            ViewVoucherLedger,
            get(vouchers_api::settlements_xlsx),
        ),
        r(M::GET, "/api/v1/vouchers/campaigns", ViewCampaigns, get(vouchers_api::campaigns)),
        r(M::POST, "/api/v1/vouchers/campaigns", ManageVouchers, post(vouchers_api::create_campaign)),
        r(M::POST, "/api/v1/vouchers/campaigns/{id}/claims", ClaimVoucher, post(vouchers_api::claim)),
        r(
            M::POST,
            "/api/v1/vouchers/campaigns/{id}/registrations",
            ClaimVoucher,
            post(vouchers_api::register),
        ),
        r(M::POST, "/api/v1/vouchers/campaigns/{id}/draw", ManageVouchers, post(vouchers_api::draw)),
        r(M::GET, "/api/v1/vouchers/campaigns/{id}/draw", ViewCampaigns, get(vouchers_api::draw_record)),
        r(M::GET, "/api/v1/vouchers/wallet", ClaimVoucher, get(vouchers_api::wallet)),
        r(M::GET, "/api/v1/vouchers/merchant", RedeemVoucher, get(vouchers_api::merchant_me)),
        r(
            M::POST,
            "/api/v1/vouchers/merchant/application",
            RedeemVoucher,
            post(vouchers_api::merchant_apply),
        ),
        r(M::GET, "/api/v1/vouchers/merchant/history", RedeemVoucher, get(vouchers_api::merchant_history)),
        r(
            M::GET,
            "/api/v1/vouchers/merchant/settlements",
            RedeemVoucher,
            get(vouchers_api::merchant_settlements),
        ),
        r(M::POST, "/api/v1/vouchers/redemptions", RedeemVoucher, post(vouchers_api::redeem)),
        r(
            M::POST,
            "/api/v1/vouchers/redemptions/{voucher_id}/refund",
            RedeemVoucher,
            post(vouchers_api::refund),
        ),
        r(M::GET, "/api/v1/vouchers/merchants", ManageVouchers, get(vouchers_api::merchants)),
        r(
            M::POST,
            "/api/v1/vouchers/merchants/{id}/categories/{category}",
            ManageVouchers,
            post(vouchers_api::decide_merchant),
        ),
        r(M::GET, "/api/v1/vouchers/settlements", ViewVoucherLedger, get(vouchers_api::settlements)),
        r(M::POST, "/api/v1/vouchers/settlements", ManageVouchers, post(vouchers_api::settle)),
        r(M::GET, "/api/v1/vouchers/figures", ViewVoucherFigures, get(vouchers_api::figures)),
        r(M::GET, "/api/v1/vouchers/fraud-flags", ManageVouchers, get(vouchers_api::fraud_flags)),
        r(M::POST, "/api/v1/vouchers/fraud-flags/review", ManageVouchers, post(vouchers_api::review_flag)),
        r(M::GET, "/api/v1/vouchers/ledger/verify", ViewVoucherLedger, get(vouchers_api::ledger_verify)),
    ]
}

/// The whole application.
///
/// The layers every request passes through (panic catcher, timeout, security headers,
/// metrics, body limit, session) wrap the routed application once, as one unboxed stack,
/// rather than each route: `Router::layer` would box every layer around every route, and
/// each request would then clone that whole stack, box by box, on its way in. Only the
/// guard, which needs its route's action, is a route layer.
pub fn app(state: AppState) -> Router {
    let mut guarded: Router<AppState> = Router::new();
    for spec in routes() {
        let action = spec.action;
        let handler = spec
            .handler
            .route_layer(middleware::from_fn(move |req: Request, next: Next| auth::guard(action, req, next)));
        guarded = guarded.route(spec.path, handler);
    }
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/static/{file}", get(static_file))
        .route_layer(middleware::from_fn(name_route));
    let routed = guarded
        .merge(ops)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    let body_limit = state.config.body_limit_bytes;
    let timeout = state.config.request_timeout;
    let layered = tower::ServiceBuilder::new()
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(ErrorKind::Internal, "internal error").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(record_metrics))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state, auth::session_layer))
        .service(routed);
    Router::new().fallback_service(layered)
}

/// Names the matched route on the response, for the metrics layer outside the routing: a
/// route layer sees the route's pattern, the layers around the whole router do not.
pub(crate) fn named(req_route: Option<MatchedPath>, mut response: Response) -> Response {
    if let Some(route) = req_route {
        response.extensions_mut().insert(route);
    }
    response
}

async fn name_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    named(route, next.run(req).await)
}

/// Connections the kernel may hold for the server before it accepts them (capped by the
/// system's `net.core.somaxconn`). When a claim window opens, a thousand citizens connect in
/// the same instant; with the usual 128 the rest of their connection requests were dropped,
/// and each waited a second for its retry before it was even read.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` (an address or `host:port`) with [`LISTEN_BACKLOG`].
pub async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut failure = None;
    for a in tokio::net::lookup_host(addr).await? {
        match listen_on(a) {
            Ok(listener) => return Ok(listener),
            Err(e) => failure = Some(e),
        }
    }
    Err(failure.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("'{addr}' names no address"))))
}

fn listen_on(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves the application until `shutdown` completes, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// The client's address as the socket saw it (`unknown` when driven without a socket).
pub fn client_addr(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A stored time shown in Asia/Shanghai, RFC 3339.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.in_tz(dadong_domain::DISTRICT_TIME_ZONE)
                .map(|z| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
                .unwrap_or_else(|_| t.to_string())
        })
        .unwrap_or_default()
}

async fn healthz(State(state): State<AppState>) -> Response {
    let db = state.store.ping().await;
    let body = serde_json::json!({"status": if db { "ok" } else { "degraded" }, "database": state.store.backend().name(), "database_ok": db, "uptime_s": state.started.elapsed().as_secs()});
    let status = if db {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let response = next.run(req).await;
    // The route's text is shared by both series' labels rather than copied into each.
    let route: Arc<str> = response
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| Arc::from("unmatched"), |m| Arc::from(m.as_str()));
    let labels = [
        Label::new("method", method),
        Label::new("route", route),
        Label::new("status", status_label(response.status())),
    ];
    metrics::counter!("dadong_http_requests_total", labels.iter()).increment(1);
    metrics::histogram!("dadong_http_request_duration_seconds", labels.iter()).record(start.elapsed().as_secs_f64());
    response
}

/// A method as a metric label, without an allocation for the methods this server answers.
fn method_label(method: &Method) -> SharedString {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => return SharedString::from(method.as_str().to_string()),
    };
    SharedString::const_str(name)
}

/// A status code as a metric label, without an allocation for the codes this server sends.
fn status_label(status: axum::http::StatusCode) -> SharedString {
    const CODES: [(u16, &str); 19] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (302, "302"),
        (303, "303"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (408, "408"),
        (409, "409"),
        (413, "413"),
        (415, "415"),
        (422, "422"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
    ];
    match CODES.iter().find(|(c, _)| *c == status.as_u16()) {
        Some((_, text)) => SharedString::const_str(text),
        None => SharedString::from(status.as_u16().to_string()),
    }
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
    );
    r
}

/// The vendored front-end files, compiled in so the binary stands alone.
const STATIC_FILES: &[(&str, &str, &[u8])] = &[
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../static/htmx.min.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../static/app.css")),
];

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>, auth::Ctx(ctx): auth::Ctx) -> Response {
    match STATIC_FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, bytes)) => ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=3600")], *bytes).into_response(),
        None => PageError::new(ErrorKind::NotFound, format!("no file '{file}'"), ctx.lang).into_response(),
    }
}

async fn not_found(req: Request) -> Response {
    let ctx = auth::context(req.extensions());
    let path = req.uri().path().to_string();
    if auth::is_api(&path) {
        ApiError::new(ErrorKind::NotFound, format!("no route {path}")).into_response()
    } else {
        PageError::new(ErrorKind::NotFound, path, ctx.lang).into_response()
    }
}

async fn method_not_allowed(req: Request) -> Response {
    let ctx = auth::context(req.extensions());
    let msg = format!("{} is not allowed on {}", req.method(), req.uri().path());
    let response = if auth::is_api(req.uri().path()) {
        ApiError::new(ErrorKind::MethodNotAllowed, msg).into_response()
    } else {
        PageError::new(ErrorKind::MethodNotAllowed, msg, ctx.lang).into_response()
    };
    named(req.extensions().get::<MatchedPath>().cloned(), response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A burst of connections far past the usual backlog of 128 is taken in by the kernel
    /// at once, before the server has accepted any of them.
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_backlog_rather_than_for_a_retry() {
        let listener = super::listen("127.0.0.1:0").await.expect("listen on loopback");
        let addr = listener.local_addr().expect("local address");
        let mut connects = tokio::task::JoinSet::new();
        for _ in 0..600 {
            connects.spawn(tokio::net::TcpStream::connect(addr));
        }
        // A dropped connection request is retried after one second, then three more: with a
        // backlog of 128 and nothing accepted, the burst would outlast this bound.
        let connected = tokio::time::timeout(Duration::from_secs(3), connects.join_all())
            .await
            .expect("every connection of the burst was taken in by the backlog");
        assert_eq!(connected.iter().filter(|c| c.is_ok()).count(), 600);
        drop(listener);
    }
}

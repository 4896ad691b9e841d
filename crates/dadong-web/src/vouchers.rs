//! The vouchers' pages (乐享大东): campaigns and claiming for citizens, the wallet with each
//! voucher's QR code, the merchant's counter (apply, scan or type a token with the purchase
//! amount, history, settlements), and the administration (merchants per category, the
//! settlement run and its workbook, fraud review, figures, the ledger check).
//!
//! Lottery campaigns show a register button (报名) per kind instead of claim, and "registered"
//! once done; administrators draw (抽签) from the same page, after which everyone sees the
//! draw's seed, time and number of winners.
//!
//! Every action goes through the same store calls as the API; refusals are shown with their
//! reason and change nothing.

use crate::auth::Signed;
use crate::error::{ErrorKind, PageError};
use crate::i18n::{Lang, T};
use crate::pages::actor_of;
use crate::templates::{Nav, render};
use crate::vouchers_api::{device_of, figures_out, leverage, submit_claim, yuan};
use crate::{AppState, Principal, client_addr};
use askama::Template;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use dadong_domain::Fen;
use dadong_store::vouchers::{ClaimAnswer, RedeemError, Settlement};
use dadong_store::vouchers_lottery::LotteryError;
use dadong_vouchers::Category;
use serde::Deserialize;

type PageResult = Result<Response, PageError>;

fn internal(lang: Lang) -> impl Fn(dadong_store::StoreError) -> PageError {
    move |e| {
        let (kind, message) = crate::error::from_store(e);
        PageError::new(kind, message, lang)
    }
}

async fn form<F: serde::de::DeserializeOwned>(req: Request, lang: Lang) -> Result<F, PageError> {
    let bytes = axum::body::to_bytes(req.into_body(), crate::auth::FORM_BODY_MAX_BYTES)
        .await
        .map_err(|_| PageError::new(ErrorKind::PayloadTooLarge, "the form is too large", lang))?;
    serde_urlencoded::from_bytes(&bytes).map_err(|e| PageError::new(ErrorKind::BadRequest, format!("the form could not be read: {e}"), lang))
}

fn notice_redirect(path: &str, notice: &str) -> Response {
    Redirect::to(&format!("{path}?{}", serde_urlencoded::to_string([("notice", notice)]).unwrap_or_default())).into_response()
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub struct KindRow {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub threshold: String,
    pub discount: String,
    pub remaining: i64,
    pub total: i64,
    /// Lottery campaigns: whether the signed-in citizen registered for this kind.
    pub registered: bool,
}

/// A lottery campaign's draw as the page shows it.
pub struct DrawView {
    pub seed: String,
    pub at: String,
    pub registrations: i64,
    pub winners: i64,
}

pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub budget: String,
    pub budget_remaining: String,
    pub mode: String,
    pub window: String,
    pub valid: String,
    pub limit: i64,
    pub kinds: Vec<KindRow>,
    pub lottery: bool,
    pub draw: Option<DrawView>,
}

#[derive(Template)]
#[template(path = "vouchers_campaigns.html")]
pub struct CampaignsPage {
    pub t: T,
    pub nav: Nav,
    pub campaigns: Vec<CampaignRow>,
    pub can_claim: bool,
    /// Administrators see a draw button on lottery campaigns not drawn yet.
    pub can_draw: bool,
    pub claim_key: String,
    pub notice: Option<String>,
}

fn category_name(t: T, code: &str) -> String {
    match Category::parse(code) {
        Ok(c) if !t.is_en() => c.zh().to_string(),
        _ => code.replace('_', " "),
    }
}

/// Campaigns, with claim buttons for citizens (register buttons on lottery campaigns), and a
/// draw button for administrators; a drawn campaign shows its seed, time and winners to all.
pub async fn campaigns(State(state): State<AppState>, Signed(p, lang): Signed, axum::extract::Query(q): axum::extract::Query<NoticeQuery>) -> PageResult {
    let t = T::new(lang);
    let list = state.store.campaigns().await.map_err(internal(lang))?;
    let can_claim = crate::policy::Action::ClaimVoucher.allows(p.role());
    let registered: std::collections::HashSet<(i64, i64)> = if can_claim {
        state.store.registrations_of(p.user.id).await.map_err(internal(lang))?.into_iter().collect()
    } else {
        Default::default()
    };
    let mut draws: std::collections::HashMap<i64, DrawView> = state
        .store
        .lottery_draws()
        .await
        .map_err(internal(lang))?
        .into_iter()
        .map(|d| {
            (
                d.campaign_id,
                DrawView {
                    seed: d.seed,
                    at: crate::format_time(d.drawn_at_ms),
                    registrations: d.registrations,
                    winners: d.winners,
                },
            )
        })
        .collect();
    let campaigns = list
        .into_iter()
        .map(|c| CampaignRow {
            lottery: c.claim_mode == dadong_vouchers::ClaimMode::Lottery.code(),
            draw: draws.remove(&c.id),
            id: c.id,
            name: c.name,
            budget: yuan(c.budget_fen),
            budget_remaining: yuan(c.budget_remaining_fen),
            mode: c.claim_mode,
            window: format!("{} — {}", crate::format_time(c.claim_start_ms), crate::format_time(c.claim_end_ms)),
            valid: format!("{} — {}", crate::format_time(c.valid_from_ms), crate::format_time(c.valid_until_ms)),
            limit: c.per_person_limit,
            kinds: c
                .kinds
                .into_iter()
                .map(|k| KindRow {
                    registered: registered.contains(&(c.id, k.id)),
                    id: k.id,
                    category: category_name(t, &k.category),
                    name: k.name,
                    threshold: yuan(k.threshold_fen),
                    discount: yuan(k.discount_fen),
                    remaining: k.stock_remaining,
                    total: k.stock_total,
                })
                .collect(),
        })
        .collect();
    Ok(render(&CampaignsPage {
        t,
        nav: Nav::for_user(&p, "/vouchers"),
        campaigns,
        can_claim,
        can_draw: crate::policy::Action::ManageVouchers.allows(p.role()),
        claim_key: dadong_domain::crypto::random_token(12),
        notice: q.notice,
    }))
}

#[derive(Deserialize)]
pub struct ClaimForm {
    campaign_id: i64,
    kind_id: i64,
    idempotency_key: String,
}

/// Claims from the page; the form carries an idempotency key made when the page was shown,
/// so a double click or a resubmitted form gets the same voucher.
pub async fn claim(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let addr = client_addr(&req);
    let device = device_of(req.headers(), &addr);
    let f: ClaimForm = form(req, lang).await?;
    let t = T::new(lang);
    match submit_claim(&state, p.user.id, &addr, device, f.campaign_id, f.kind_id, f.idempotency_key).await {
        Ok(ClaimAnswer::Granted { .. }) => Ok(notice_redirect("/vouchers/wallet", t.t("vouchers.claimed"))),
        Ok(ClaimAnswer::Refused { reason }) => Ok(notice_redirect("/vouchers", &format!("{}: {}", t.t("vouchers.refused"), reason.message()))),
        Err(e) => Err(PageError::new(e.kind, e.message, lang)),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    campaign_id: i64,
    kind_id: i64,
}

/// Registers for a lottery campaign's kind from the page; a repeat is answered as registered.
pub async fn register(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: RegisterForm = form(req, lang).await?;
    let t = T::new(lang);
    match state
        .store
        .register_for_lottery(&actor_of(&p), p.user.id, f.campaign_id, f.kind_id, dadong_store::now_ms())
        .await
    {
        Ok(_) => Ok(notice_redirect("/vouchers", t.t("vouchers.registered_now"))),
        Err(LotteryError::Register(r)) => Ok(notice_redirect("/vouchers", &format!("{}: {}", t.t("vouchers.register_refused"), r.message()))),
        Err(LotteryError::Draw(d)) => Ok(notice_redirect("/vouchers", d.message())),
        Err(LotteryError::Store(e)) => Err(internal(lang)(e)),
    }
}

pub struct WalletRow {
    pub id: i64,
    pub campaign: String,
    pub kind: String,
    pub category: String,
    pub threshold: String,
    pub discount: String,
    pub status: String,
    pub valid_until: String,
    pub token: Option<String>,
    pub qr_svg: Option<String>,
}

#[derive(Template)]
#[template(path = "vouchers_wallet.html")]
pub struct WalletPage {
    pub t: T,
    pub nav: Nav,
    pub vouchers: Vec<WalletRow>,
    pub notice: Option<String>,
}

/// A token as a QR code in SVG (no script, no external reference).
pub fn qr_svg(token: &str) -> Option<String> {
    let code = qrcode::QrCode::new(token.as_bytes()).ok()?;
    Some(code.render::<qrcode::render::svg::Color>().min_dimensions(180, 180).quiet_zone(true).build())
}

/// The citizen's vouchers, each unspent one with its QR code.
pub async fn wallet(State(state): State<AppState>, Signed(p, lang): Signed, axum::extract::Query(q): axum::extract::Query<NoticeQuery>) -> PageResult {
    let t = T::new(lang);
    let key = state.store.voucher_key().await.map_err(internal(lang))?;
    let vouchers = state
        .store
        .wallet(p.user.id)
        .await
        .map_err(internal(lang))?
        .into_iter()
        .map(|v| {
            let token = (v.status == "claimed").then(|| dadong_store::Store::voucher_token(&key, &v));
            WalletRow {
                id: v.id,
                campaign: v.campaign_name,
                kind: v.kind_name,
                category: category_name(t, &v.category),
                threshold: yuan(v.threshold_fen),
                discount: yuan(v.discount_fen),
                status: t.t(&format!("vouchers.status.{}", v.status)).to_string(),
                valid_until: crate::format_time(v.valid_until_ms),
                qr_svg: token.as_deref().and_then(qr_svg),
                token,
            }
        })
        .collect();
    Ok(render(&WalletPage {
        t,
        nav: Nav::for_user(&p, "/vouchers/wallet"),
        vouchers,
        notice: q.notice,
    }))
}

pub struct HistoryRow {
    pub voucher_id: i64,
    pub action: String,
    pub purchase: String,
    pub discount: String,
    pub at: String,
}

pub struct SettlementRow {
    pub day: String,
    pub merchant: String,
    pub credit_code: String,
    pub vouchers: i64,
    pub discount: String,
    pub purchase: String,
}

fn settlement_rows(list: Vec<Settlement>) -> Vec<SettlementRow> {
    list.into_iter()
        .map(|s| SettlementRow {
            day: s.day,
            merchant: s.merchant_name,
            credit_code: s.credit_code,
            vouchers: s.vouchers,
            discount: yuan(s.discount_fen),
            purchase: yuan(s.purchase_fen),
        })
        .collect()
}

/// (name, credit code, (category, approval) pairs).
type MerchantView = (String, String, Vec<(String, String)>);

#[derive(Template)]
#[template(path = "vouchers_merchant.html")]
pub struct MerchantPage {
    pub t: T,
    pub nav: Nav,
    /// Name, credit code and (category, approval) pairs of the account's merchant, if any.
    pub merchant: Option<MerchantView>,
    pub history: Vec<HistoryRow>,
    pub settlements: Vec<SettlementRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
}

async fn merchant_page(state: &AppState, p: &Principal, lang: Lang, notice: Option<String>, error: Option<String>) -> PageResult {
    let t = T::new(lang);
    let m = state.store.merchant_of_user(p.user.id).await.map_err(internal(lang))?;
    let (history, settlements) = match &m {
        Some(m) => (
            state
                .store
                .merchant_history(m.id)
                .await
                .map_err(internal(lang))?
                .into_iter()
                .map(|r| HistoryRow {
                    voucher_id: r.voucher_id,
                    action: t.t(&format!("vouchers.action.{}", r.action)).to_string(),
                    purchase: yuan(r.purchase_fen),
                    discount: yuan(r.discount_fen),
                    at: crate::format_time(r.at_ms),
                })
                .collect(),
            settlement_rows(state.store.settlements(Some(m.id)).await.map_err(internal(lang))?),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let status = if error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let merchant = m.map(|m| {
        (
            m.name,
            m.credit_code,
            m.categories
                .into_iter()
                .map(|(c, s)| (category_name(t, &c), t.t(&format!("vouchers.approval.{s}")).to_string()))
                .collect(),
        )
    });
    Ok((
        status,
        render(&MerchantPage {
            t,
            nav: Nav::for_user(p, "/merchant"),
            merchant,
            history,
            settlements,
            notice,
            error,
        }),
    )
        .into_response())
}

/// The merchant's counter.
pub async fn merchant(State(state): State<AppState>, Signed(p, lang): Signed, axum::extract::Query(q): axum::extract::Query<NoticeQuery>) -> PageResult {
    merchant_page(&state, &p, lang, q.notice, None).await
}

#[derive(Deserialize)]
pub struct ApplyForm {
    credit_code: String,
    name: String,
    #[serde(default)]
    categories: String,
}

/// A merchant applies (categories as a comma-separated list of codes, from the checkboxes).
pub async fn merchant_apply(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let bytes = axum::body::to_bytes(req.into_body(), crate::auth::FORM_BODY_MAX_BYTES)
        .await
        .map_err(|_| PageError::new(ErrorKind::PayloadTooLarge, "the form is too large", lang))?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|e| PageError::new(ErrorKind::BadRequest, e.to_string(), lang))?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let f = ApplyForm {
        credit_code: get("credit_code"),
        name: get("name"),
        categories: pairs
            .iter()
            .filter(|(n, _)| n == "category")
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(","),
    };
    let mut categories = Vec::new();
    for c in f.categories.split(',').filter(|c| !c.is_empty()) {
        match Category::parse(c) {
            Ok(c) => categories.push(c),
            Err(e) => return merchant_page(&state, &p, lang, None, Some(e.to_string())).await,
        }
    }
    match state
        .store
        .apply_merchant(&actor_of(&p), Some(p.user.id), &f.credit_code, &f.name, &categories, dadong_store::now_ms())
        .await
    {
        Ok(_) => Ok(notice_redirect("/merchant", T::new(lang).t("vouchers.applied"))),
        Err(dadong_store::StoreError::Invalid { field, message }) => merchant_page(&state, &p, lang, None, Some(format!("{field}: {message}"))).await,
        Err(e) => Err(internal(lang)(e)),
    }
}

#[derive(Deserialize)]
pub struct RedeemForm {
    token: String,
    purchase: String,
}

/// A scan (or a typed token) with the purchase amount.
pub async fn merchant_redeem(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: RedeemForm = form(req, lang).await?;
    let t = T::new(lang);
    let Some(m) = state.store.merchant_of_user(p.user.id).await.map_err(internal(lang))? else {
        return merchant_page(&state, &p, lang, None, Some(t.t("vouchers.not_merchant").to_string())).await;
    };
    let purchase = match Fen::parse_yuan_non_negative(&f.purchase) {
        Ok(v) => v.0,
        Err(e) => return merchant_page(&state, &p, lang, None, Some(format!("purchase: {e}"))).await,
    };
    match state.store.redeem(m.id, &f.token, purchase, dadong_store::now_ms()).await {
        Ok(r) => Ok(notice_redirect(
            "/merchant",
            &format!(
                "{}: {} {} {} {}",
                t.t("vouchers.redeemed"),
                yuan(r.discount_fen),
                t.t("vouchers.pay"),
                yuan(r.pay_fen),
                t.t("vouchers.yuan")
            ),
        )),
        Err(RedeemError::Refused(r)) => merchant_page(&state, &p, lang, None, Some(format!("{} ({})", r, r.code()))).await,
        Err(RedeemError::Store(e)) => Err(internal(lang)(e)),
    }
}

pub struct MerchantRow {
    pub id: i64,
    pub name: String,
    pub credit_code: String,
    /// (category code, category name, status code, status in words)
    pub categories: Vec<(String, String, String, String)>,
}

pub struct FigureRow {
    pub name: String,
    pub vouchers: i64,
    pub subsidy: String,
    pub consumption: String,
    pub leverage: String,
}

#[derive(Template)]
#[template(path = "vouchers_admin.html")]
pub struct AdminPage {
    pub t: T,
    pub nav: Nav,
    pub merchants: Vec<MerchantRow>,
    pub flags: Vec<(String, String, String, String)>,
    pub settlements: Vec<SettlementRow>,
    pub totals: (i64, String, String, String),
    pub by_season: Vec<FigureRow>,
    pub by_category: Vec<FigureRow>,
    pub ledger: (i64, i64, Vec<String>),
    pub notice: Option<String>,
}

/// The administration of vouchers: merchants, settlement, fraud review, figures, the ledger.
pub async fn admin(State(state): State<AppState>, Signed(p, lang): Signed, axum::extract::Query(q): axum::extract::Query<NoticeQuery>) -> PageResult {
    let t = T::new(lang);
    let s = &state.store;
    let merchants = s
        .merchants()
        .await
        .map_err(internal(lang))?
        .into_iter()
        .map(|m| MerchantRow {
            id: m.id,
            name: m.name,
            credit_code: m.credit_code,
            categories: m
                .categories
                .into_iter()
                .map(|(c, st)| (c.clone(), category_name(t, &c), st.clone(), t.t(&format!("vouchers.approval.{st}")).to_string()))
                .collect(),
        })
        .collect();
    s.raise_fraud_flags(dadong_store::now_ms()).await.map_err(internal(lang))?;
    let flags = s.fraud_flags().await.map_err(internal(lang))?;
    let settlements = settlement_rows(s.settlements(None).await.map_err(internal(lang))?);
    let f = figures_out_rows(t, s.voucher_figures(i64::MIN, i64::MAX).await.map_err(internal(lang))?);
    let ledger = s.verify_ledger().await.map_err(internal(lang))?;
    Ok(render(&AdminPage {
        t,
        nav: Nav::for_user(&p, "/admin/vouchers"),
        merchants,
        flags,
        settlements,
        totals: f.0,
        by_season: f.1,
        by_category: f.2,
        ledger: (ledger.campaigns, ledger.entries, ledger.breaks.iter().map(ToString::to_string).collect()),
        notice: q.notice,
    }))
}

type FigureTables = ((i64, String, String, String), Vec<FigureRow>, Vec<FigureRow>);

fn figures_out_rows(t: T, f: dadong_store::vouchers::VoucherFigures) -> FigureTables {
    let rows = |rows: &[dadong_store::vouchers::FigureRow], categories: bool| {
        rows.iter()
            .map(|r| FigureRow {
                name: if categories { category_name(t, &r.name) } else { r.name.clone() },
                vouchers: r.vouchers,
                subsidy: yuan(r.subsidy_fen),
                consumption: yuan(r.consumption_fen),
                leverage: leverage(r.consumption_fen, r.subsidy_fen).unwrap_or_else(|| "—".into()),
            })
            .collect()
    };
    let totals = (
        f.redeemed,
        yuan(f.subsidy_fen),
        yuan(f.consumption_fen),
        leverage(f.consumption_fen, f.subsidy_fen).unwrap_or_else(|| "—".into()),
    );
    let by_season = rows(&f.by_season, false);
    let by_category = rows(&f.by_category, true);
    let _ = figures_out;
    (totals, by_season, by_category)
}

#[derive(Deserialize)]
pub struct DecideForm {
    merchant_id: i64,
    category: String,
    approve: String,
}

pub async fn admin_decide(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: DecideForm = form(req, lang).await?;
    let category = Category::parse(&f.category).map_err(|e| PageError::new(ErrorKind::BadRequest, e.to_string(), lang))?;
    state
        .store
        .decide_merchant(&actor_of(&p), f.merchant_id, category, f.approve == "1", dadong_store::now_ms())
        .await
        .map_err(internal(lang))?;
    Ok(notice_redirect("/admin/vouchers", T::new(lang).t("vouchers.decided")))
}

#[derive(Deserialize)]
pub struct SettleForm {
    day: String,
}

pub async fn admin_settle(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: SettleForm = form(req, lang).await?;
    let made = state
        .store
        .settle_day(&actor_of(&p), &f.day, dadong_store::now_ms())
        .await
        .map_err(internal(lang))?;
    Ok(notice_redirect(
        "/admin/vouchers",
        &format!("{}: {}", T::new(lang).t("vouchers.settled"), made.len()),
    ))
}

#[derive(Deserialize)]
pub struct DrawForm {
    campaign_id: i64,
}

/// Draws a lottery campaign from the campaigns page (admin).
pub async fn admin_draw(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: DrawForm = form(req, lang).await?;
    let t = T::new(lang);
    match state.store.draw_lottery(&actor_of(&p), f.campaign_id, dadong_store::now_ms()).await {
        Ok(d) => Ok(notice_redirect(
            "/vouchers",
            &format!("{}: {} {}", t.t("vouchers.drawn_now"), t.t("vouchers.draw.winners"), d.winners),
        )),
        Err(LotteryError::Draw(d)) => Ok(notice_redirect("/vouchers", &format!("{}: {}", t.t("vouchers.draw_refused"), d.message()))),
        Err(LotteryError::Register(r)) => Ok(notice_redirect("/vouchers", r.message())),
        Err(LotteryError::Store(e)) => Err(internal(lang)(e)),
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    key: String,
    confirmed: String,
}

pub async fn admin_review(State(state): State<AppState>, Signed(p, lang): Signed, req: Request) -> PageResult {
    let f: ReviewForm = form(req, lang).await?;
    state
        .store
        .review_fraud_flag(&actor_of(&p), &f.key, f.confirmed == "1", dadong_store::now_ms())
        .await
        .map_err(internal(lang))?;
    Ok(notice_redirect("/admin/vouchers", T::new(lang).t("vouchers.reviewed")))
}

/// The reconciliation workbook: one row per settlement with the merchant's credit code, and
/// a total row, for the finance office.
pub fn settlement_workbook(list: &[Settlement]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("结算对账")?;
    let headers = [
        "结算日 day",
        "商户 merchant",
        "统一社会信用代码 credit_code",
        "核销张数 vouchers",
        "补贴金额(元) discount",
        "消费金额(元) purchase",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    let money = rust_xlsxwriter::Format::new().set_num_format("0.00");
    let (mut vouchers, mut discount, mut purchase) = (0i64, 0i64, 0i64);
    for (i, s) in list.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &s.day)?;
        sheet.write_string(r, 1, &s.merchant_name)?;
        sheet.write_string(r, 2, &s.credit_code)?;
        sheet.write_number(r, 3, s.vouchers as f64)?;
        // Amounts as text with two decimals keep the exact fen; the number beside is for sums.
        sheet.write_string_with_format(r, 4, yuan(s.discount_fen), &money)?;
        sheet.write_string_with_format(r, 5, yuan(s.purchase_fen), &money)?;
        vouchers += s.vouchers;
        discount += s.discount_fen;
        purchase += s.purchase_fen;
    }
    let r = list.len() as u32 + 1;
    sheet.write_string(r, 0, "合计 total")?;
    sheet.write_number(r, 3, vouchers as f64)?;
    sheet.write_string(r, 4, yuan(discount))?;
    sheet.write_string(r, 5, yuan(purchase))?;
    book.save_to_buffer()
}

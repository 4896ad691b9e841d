//! The vouchers' JSON API (乐享大东): campaigns, claims through the group-commit engine,
//! the wallet with each voucher's token, merchants' scans, refunds, history and
//! settlements, and the administration (campaigns, merchant approval, settlement runs,
//! figures, fraud review, ledger verification).
//!
//! Claims are throttled per account and per address before they reach the engine; the
//! throttle only sheds load from bots, since the engine keeps every limit in the database.

use crate::api::ApiJson;
use crate::auth::Signed;
use crate::error::{ApiError, ErrorKind};
use crate::pages::actor_of;
use crate::{AppState, client_addr};
use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dadong_domain::Fen;
use dadong_store::vouchers::{ClaimAnswer, PendingClaim, RedeemError};
use dadong_store::vouchers_lottery::{LotteryDraw, LotteryError};
use dadong_vouchers::claim::{ClaimRequest, valid_key};
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use utoipa::ToSchema;

/// Fixed-window counters per key (an account or an address). Kept per process: a bot spread
/// over several servers gets through a little more, which the database's limits absorb.
#[derive(Debug)]
pub struct Throttle<K> {
    window_ms: i64,
    max: u32,
    counts: Mutex<HashMap<K, (i64, u32)>>,
}

impl<K: Hash + Eq> Throttle<K> {
    /// `max` requests per `window_ms` per key; `max == 0` turns the throttle off.
    pub fn new(max: u32, window_ms: i64) -> Throttle<K> {
        Throttle {
            window_ms: window_ms.max(1),
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; `Err(retry_after_s)` when the key is over its limit. The key is
    /// copied only the first time it is seen in the map.
    pub fn hit<Q>(&self, key: &Q, now_ms: i64) -> Result<(), i64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if self.max == 0 {
            return Ok(());
        }
        let window = now_ms - now_ms.rem_euclid(self.window_ms);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > 200_000 {
            counts.retain(|_, (w, _)| *w == window);
        }
        let count = match counts.get_mut(key) {
            Some(entry) => {
                if entry.0 != window {
                    *entry = (window, 0);
                }
                entry.1 += 1;
                entry.1
            }
            None => {
                counts.insert(key.to_owned(), (window, 1));
                1
            }
        };
        if count > self.max {
            Err(((window + self.window_ms - now_ms) / 1000).max(1))
        } else {
            Ok(())
        }
    }
}

fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    text.trim().parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|_| {
        ApiError::new(
            ErrorKind::Validation { field: field.into() },
            format!("{field}: an RFC 3339 time such as 2022-08-31T17:00:00+08:00"),
        )
    })
}

fn parse_yuan(field: &str, text: &str) -> Result<i64, ApiError> {
    Fen::parse_yuan_non_negative(text)
        .map(|f| f.0)
        .map_err(|e| ApiError::new(ErrorKind::Validation { field: field.into() }, format!("{field}: {e}")))
}

pub(crate) fn yuan(fen: i64) -> String {
    Fen(fen).to_yuan_string()
}

#[derive(Serialize, ToSchema)]
pub struct KindOut {
    id: i64,
    name: String,
    category: String,
    /// Yuan with two decimals.
    threshold: String,
    discount: String,
    stock_total: i64,
    stock_remaining: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignOut {
    id: i64,
    name: String,
    budget: String,
    budget_remaining: String,
    per_person_limit: i64,
    claim_mode: String,
    claim_start: String,
    claim_end: String,
    valid_from: String,
    valid_until: String,
    active: bool,
    kinds: Vec<KindOut>,
}

impl From<dadong_store::vouchers::Campaign> for CampaignOut {
    fn from(c: dadong_store::vouchers::Campaign) -> Self {
        CampaignOut {
            id: c.id,
            name: c.name,
            budget: yuan(c.budget_fen),
            budget_remaining: yuan(c.budget_remaining_fen),
            per_person_limit: c.per_person_limit,
            claim_mode: c.claim_mode,
            claim_start: crate::format_time(c.claim_start_ms),
            claim_end: crate::format_time(c.claim_end_ms),
            valid_from: crate::format_time(c.valid_from_ms),
            valid_until: crate::format_time(c.valid_until_ms),
            active: c.active,
            kinds: c
                .kinds
                .into_iter()
                .map(|k| KindOut {
                    id: k.id,
                    name: k.name,
                    category: k.category,
                    threshold: yuan(k.threshold_fen),
                    discount: yuan(k.discount_fen),
                    stock_total: k.stock_total,
                    stock_remaining: k.stock_remaining,
                })
                .collect(),
        }
    }
}

/// Every campaign (any signed-in user).
#[utoipa::path(get, path = "/api/v1/vouchers/campaigns", responses((status = 200, body = [CampaignOut]), (status = 401, body = crate::api::ErrorOut)))]
pub async fn campaigns(State(state): State<AppState>) -> Result<Json<Vec<CampaignOut>>, ApiError> {
    Ok(Json(state.store.campaigns().await?.into_iter().map(CampaignOut::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KindIn {
    name: String,
    /// housing, car, appliance, department_store or catering.
    category: String,
    /// Yuan, at most two decimals.
    threshold: String,
    discount: String,
    stock: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    name: String,
    /// Yuan, at most two decimals.
    budget: String,
    per_person_limit: i64,
    /// first_come or lottery.
    claim_mode: String,
    /// RFC 3339.
    claim_start: String,
    claim_end: String,
    valid_from: String,
    valid_until: String,
    kinds: Vec<KindIn>,
}

impl CampaignIn {
    pub fn into_spec(self) -> Result<CampaignSpec, ApiError> {
        let invalid = |field: &str, e: dadong_vouchers::ModelError| ApiError::new(ErrorKind::Validation { field: field.into() }, e.to_string());
        let mut kinds = Vec::with_capacity(self.kinds.len());
        for (i, k) in self.kinds.into_iter().enumerate() {
            kinds.push(KindSpec {
                name: k.name,
                category: Category::parse(&k.category).map_err(|e| invalid(&format!("kinds[{i}].category"), e))?,
                threshold_fen: parse_yuan(&format!("kinds[{i}].threshold"), &k.threshold)?,
                discount_fen: parse_yuan(&format!("kinds[{i}].discount"), &k.discount)?,
                stock: k.stock,
            });
        }
        Ok(CampaignSpec {
            name: self.name,
            budget_fen: parse_yuan("budget", &self.budget)?,
            per_person_limit: self.per_person_limit,
            claim_mode: ClaimMode::parse(&self.claim_mode).map_err(|e| invalid("claim_mode", e))?,
            claim_start_ms: parse_time("claim_start", &self.claim_start)?,
            claim_end_ms: parse_time("claim_end", &self.claim_end)?,
            valid_from_ms: parse_time("valid_from", &self.valid_from)?,
            valid_until_ms: parse_time("valid_until", &self.valid_until)?,
            kinds,
        })
    }
}

/// Creates a campaign and funds its budget (admin).
#[utoipa::path(post, path = "/api/v1/vouchers/campaigns", request_body = CampaignIn,
    responses((status = 201, body = CampaignOut), (status = 422, body = crate::api::ErrorOut), (status = 403, body = crate::api::ErrorOut)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiJson(body): ApiJson<CampaignIn>,
) -> Result<(StatusCode, Json<CampaignOut>), ApiError> {
    let spec = body.into_spec()?;
    let c = state.store.create_campaign(&actor_of(&p), &spec, dadong_store::now_ms()).await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimIn {
    kind_id: i64,
    /// 1 to 64 letters, digits, '-' or '_'; a retry with the same key gets the same answer.
    /// The `Idempotency-Key` header may carry it instead.
    idempotency_key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClaimOut {
    voucher_id: i64,
    kind_id: i64,
    /// True when this answers a retry of a claim already granted.
    replayed: bool,
}

/// A device fingerprint for the fraud rules: the address and the user agent, hashed.
pub fn device_of(headers: &HeaderMap, addr: &str) -> String {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    dadong_domain::crypto::sha256_hex(format!("{addr}\n{agent}").as_bytes())[..16].to_string()
}

/// The claim path shared by the API and the page: throttle, then the engine.
pub async fn submit_claim(
    state: &AppState,
    user_id: i64,
    addr: &str,
    device: String,
    campaign_id: i64,
    kind_id: i64,
    key: String,
) -> Result<ClaimAnswer, ApiError> {
    if !valid_key(&key) {
        return Err(ApiError::new(
            ErrorKind::Validation {
                field: "idempotency_key".into(),
            },
            "idempotency_key: 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    let now = dadong_store::now_ms();
    for hit in [state.vouchers.per_account.hit(&user_id, now), state.vouchers.per_address.hit(addr, now)] {
        if let Err(retry_after_s) = hit {
            return Err(ApiError::new(ErrorKind::TooManyRequests { retry_after_s }, "too many claims; try again later"));
        }
    }
    let claim = PendingClaim {
        campaign_id,
        request: ClaimRequest {
            citizen_id: user_id,
            kind_id,
            idempotency_key: key,
        },
        device,
    };
    Ok(state.vouchers.engine.claim(claim).await?)
}

/// Claims a voucher (citizen). Answered only once the claim is committed.
#[utoipa::path(post, path = "/api/v1/vouchers/campaigns/{id}/claims", request_body = ClaimIn,
    responses((status = 200, body = ClaimOut), (status = 409, body = crate::api::ErrorOut, description = "refused: sold_out, per_person_limit_reached, budget_exhausted, not_open_yet, claim_window_closed, …"), (status = 429, body = crate::api::ErrorOut)))]
pub async fn claim(State(state): State<AppState>, Path(campaign_id): Path<i64>, req: Request) -> Result<Json<ClaimOut>, ApiError> {
    let addr = client_addr(&req);
    let signed_in = req.extensions().get::<crate::auth::RequestContext>().and_then(|c| c.principal.as_ref());
    let Some(user_id) = signed_in.map(|p| p.user.id) else {
        return Err(ApiError::new(ErrorKind::Unauthenticated, "sign in first"));
    };
    let device = device_of(req.headers(), &addr);
    let header_key = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let ApiJson(body): ApiJson<ClaimIn> = ApiJson::from_request(req, &()).await?;
    let key = body.idempotency_key.or(header_key).unwrap_or_default();
    match submit_claim(&state, user_id, &addr, device, campaign_id, body.kind_id, key).await? {
        ClaimAnswer::Granted { voucher_id, kind_id, replayed } => Ok(Json(ClaimOut { voucher_id, kind_id, replayed })),
        ClaimAnswer::Refused { reason } => Err(refusal(reason.code(), reason.message())),
    }
}

/// A refusal: 409 with the rule's stable code.
fn refusal(code: &'static str, message: &str) -> ApiError {
    ApiError::new(ErrorKind::Conflict, message).with_detail("reason", serde_json::json!(code))
}

#[derive(Serialize, ToSchema)]
pub struct VoucherOut {
    id: i64,
    campaign_id: i64,
    campaign: String,
    kind_id: i64,
    kind: String,
    category: String,
    threshold: String,
    discount: String,
    /// claimed, redeemed, settled or expired.
    status: String,
    valid_until: String,
    /// The signed token the QR code carries (claimed vouchers only).
    token: Option<String>,
}

/// The signed-in citizen's vouchers, each with its token.
#[utoipa::path(get, path = "/api/v1/vouchers/wallet", responses((status = 200, body = [VoucherOut]), (status = 403, body = crate::api::ErrorOut)))]
pub async fn wallet(State(state): State<AppState>, Signed(p, _): Signed) -> Result<Json<Vec<VoucherOut>>, ApiError> {
    let key = state.store.voucher_key().await?;
    let vouchers = state.store.wallet(p.user.id).await?;
    Ok(Json(
        vouchers
            .into_iter()
            .map(|v| VoucherOut {
                token: (v.status == "claimed").then(|| dadong_store::Store::voucher_token(&key, &v)),
                id: v.id,
                campaign_id: v.campaign_id,
                campaign: v.campaign_name,
                kind_id: v.kind_id,
                kind: v.kind_name,
                category: v.category,
                threshold: yuan(v.threshold_fen),
                discount: yuan(v.discount_fen),
                status: v.status,
                valid_until: crate::format_time(v.valid_until_ms),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantApplyIn {
    credit_code: String,
    name: String,
    categories: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantOut {
    id: i64,
    credit_code: String,
    name: String,
    /// [category, pending|approved|rejected] pairs.
    categories: Vec<(String, String)>,
}

impl From<dadong_store::vouchers::Merchant> for MerchantOut {
    fn from(m: dadong_store::vouchers::Merchant) -> Self {
        MerchantOut {
            id: m.id,
            credit_code: m.credit_code,
            name: m.name,
            categories: m.categories,
        }
    }
}

pub fn parse_categories(list: &[String]) -> Result<Vec<Category>, ApiError> {
    list.iter()
        .map(|c| Category::parse(c).map_err(|e| ApiError::new(ErrorKind::Validation { field: "categories".into() }, e.to_string())))
        .collect()
}

/// A merchant account applies to take vouchers, with its credit code and categories.
#[utoipa::path(post, path = "/api/v1/vouchers/merchant/application", request_body = MerchantApplyIn,
    responses((status = 201, body = MerchantOut), (status = 422, body = crate::api::ErrorOut)))]
pub async fn merchant_apply(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    ApiJson(body): ApiJson<MerchantApplyIn>,
) -> Result<(StatusCode, Json<MerchantOut>), ApiError> {
    let categories = parse_categories(&body.categories)?;
    let m = state
        .store
        .apply_merchant(
            &actor_of(&p),
            Some(p.user.id),
            &body.credit_code,
            &body.name,
            &categories,
            dadong_store::now_ms(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(m.into())))
}

pub async fn own_merchant(state: &AppState, user_id: i64) -> Result<dadong_store::vouchers::Merchant, ApiError> {
    state
        .store
        .merchant_of_user(user_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorKind::NotFound, "this account has not applied as a voucher merchant"))
}

/// The signed-in merchant's application and approvals.
#[utoipa::path(get, path = "/api/v1/vouchers/merchant", responses((status = 200, body = MerchantOut), (status = 404, body = crate::api::ErrorOut)))]
pub async fn merchant_me(State(state): State<AppState>, Signed(p, _): Signed) -> Result<Json<MerchantOut>, ApiError> {
    Ok(Json(own_merchant(&state, p.user.id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemIn {
    /// The voucher's token, as its QR code carries it.
    token: String,
    /// The purchase amount in yuan.
    purchase: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptOut {
    voucher_id: i64,
    kind: String,
    purchase: String,
    discount: String,
    /// What the citizen pays: purchase less discount.
    pay: String,
    at: String,
}

fn redeem_error(e: RedeemError) -> ApiError {
    match e {
        RedeemError::Refused(r) => refusal(r.code(), &r.to_string()),
        RedeemError::Store(s) => s.into(),
    }
}

/// Spends a voucher at the signed-in merchant (merchant). Every refusal changes nothing.
#[utoipa::path(post, path = "/api/v1/vouchers/redemptions", request_body = RedeemIn,
    responses((status = 200, body = ReceiptOut), (status = 409, body = crate::api::ErrorOut, description = "refused: token_forged, voucher_expired, under_threshold, wrong_category, already_redeemed, …")))]
pub async fn redeem(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(body): ApiJson<RedeemIn>) -> Result<Json<ReceiptOut>, ApiError> {
    let m = own_merchant(&state, p.user.id).await?;
    let purchase = parse_yuan("purchase", &body.purchase)?;
    let r = state
        .store
        .redeem(m.id, &body.token, purchase, dadong_store::now_ms())
        .await
        .map_err(redeem_error)?;
    Ok(Json(ReceiptOut {
        voucher_id: r.voucher_id,
        kind: r.kind_name,
        purchase: yuan(r.purchase_fen),
        discount: yuan(r.discount_fen),
        pay: yuan(r.pay_fen),
        at: crate::format_time(r.at_ms),
    }))
}

/// Refunds a purchase: the voucher returns to its holder (the redeeming merchant, before settlement).
#[utoipa::path(post, path = "/api/v1/vouchers/redemptions/{voucher_id}/refund", responses((status = 204), (status = 409, body = crate::api::ErrorOut)))]
pub async fn refund(State(state): State<AppState>, Signed(p, _): Signed, Path(voucher_id): Path<i64>) -> Result<StatusCode, ApiError> {
    let m = own_merchant(&state, p.user.id).await?;
    state.store.refund(m.id, voucher_id, dadong_store::now_ms()).await.map_err(redeem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RedemptionOut {
    voucher_id: i64,
    /// redeem or refund.
    action: String,
    purchase: String,
    discount: String,
    at: String,
}

/// The signed-in merchant's scans and refunds.
#[utoipa::path(get, path = "/api/v1/vouchers/merchant/history", responses((status = 200, body = [RedemptionOut])))]
pub async fn merchant_history(State(state): State<AppState>, Signed(p, _): Signed) -> Result<Json<Vec<RedemptionOut>>, ApiError> {
    let m = own_merchant(&state, p.user.id).await?;
    Ok(Json(
        state
            .store
            .merchant_history(m.id)
            .await?
            .into_iter()
            .map(|r| RedemptionOut {
                voucher_id: r.voucher_id,
                action: r.action,
                purchase: yuan(r.purchase_fen),
                discount: yuan(r.discount_fen),
                at: crate::format_time(r.at_ms),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct SettlementOut {
    id: i64,
    merchant_id: i64,
    merchant: String,
    credit_code: String,
    day: String,
    vouchers: i64,
    /// What the district pays the merchant.
    discount: String,
    purchase: String,
}

fn settlements_out(list: Vec<dadong_store::vouchers::Settlement>) -> Vec<SettlementOut> {
    list.into_iter()
        .map(|s| SettlementOut {
            id: s.id,
            merchant_id: s.merchant_id,
            merchant: s.merchant_name,
            credit_code: s.credit_code,
            day: s.day,
            vouchers: s.vouchers,
            discount: yuan(s.discount_fen),
            purchase: yuan(s.purchase_fen),
        })
        .collect()
}

/// The signed-in merchant's settlements.
#[utoipa::path(get, path = "/api/v1/vouchers/merchant/settlements", responses((status = 200, body = [SettlementOut])))]
pub async fn merchant_settlements(State(state): State<AppState>, Signed(p, _): Signed) -> Result<Json<Vec<SettlementOut>>, ApiError> {
    let m = own_merchant(&state, p.user.id).await?;
    Ok(Json(settlements_out(state.store.settlements(Some(m.id)).await?)))
}

/// Every merchant and its applications (admin).
#[utoipa::path(get, path = "/api/v1/vouchers/merchants", responses((status = 200, body = [MerchantOut])))]
pub async fn merchants(State(state): State<AppState>) -> Result<Json<Vec<MerchantOut>>, ApiError> {
    Ok(Json(state.store.merchants().await?.into_iter().map(MerchantOut::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    approve: bool,
}

/// Approves or rejects a merchant for one category (admin).
#[utoipa::path(post, path = "/api/v1/vouchers/merchants/{id}/categories/{category}", request_body = DecisionIn, responses((status = 204), (status = 404, body = crate::api::ErrorOut)))]
pub async fn decide_merchant(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    Path((id, category)): Path<(i64, String)>,
    ApiJson(body): ApiJson<DecisionIn>,
) -> Result<StatusCode, ApiError> {
    let category = Category::parse(&category).map_err(|e| ApiError::new(ErrorKind::Validation { field: "category".into() }, e.to_string()))?;
    state
        .store
        .decide_merchant(&actor_of(&p), id, category, body.approve, dadong_store::now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleIn {
    /// The day to settle, YYYY-MM-DD (Asia/Shanghai): every voucher redeemed before its end.
    day: String,
}

/// Runs the daily settlement for a day (admin).
#[utoipa::path(post, path = "/api/v1/vouchers/settlements", request_body = SettleIn, responses((status = 200, body = [SettlementOut])))]
pub async fn settle(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(body): ApiJson<SettleIn>) -> Result<Json<Vec<SettlementOut>>, ApiError> {
    let made = state.store.settle_day(&actor_of(&p), &body.day, dadong_store::now_ms()).await?;
    Ok(Json(settlements_out(made)))
}

/// Every settlement (admin, leader).
#[utoipa::path(get, path = "/api/v1/vouchers/settlements", responses((status = 200, body = [SettlementOut])))]
pub async fn settlements(State(state): State<AppState>) -> Result<Json<Vec<SettlementOut>>, ApiError> {
    Ok(Json(settlements_out(state.store.settlements(None).await?)))
}

/// The reconciliation workbook for the finance office (admin, leader).
pub async fn settlements_xlsx(State(state): State<AppState>) -> Result<Response, ApiError> {
    let list = state.store.settlements(None).await?;
    let bytes = crate::vouchers::settlement_workbook(&list).map_err(|e| {
        tracing::error!(error = %e, "settlement workbook");
        ApiError::new(ErrorKind::Internal, "internal error")
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"voucher-settlements.xlsx\""),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct FigureRowOut {
    key: String,
    name: String,
    vouchers: i64,
    subsidy: String,
    consumption: String,
    /// consumption ÷ subsidy, one decimal; null without subsidy.
    leverage: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FiguresOut {
    seasons: i64,
    claimed: i64,
    redeemed: i64,
    subsidy: String,
    consumption: String,
    leverage: Option<String>,
    by_season: Vec<FigureRowOut>,
    by_category: Vec<FigureRowOut>,
    by_merchant: Vec<FigureRowOut>,
}

/// consumption ÷ subsidy to one decimal, half away from zero.
pub fn leverage(consumption_fen: i64, subsidy_fen: i64) -> Option<String> {
    (subsidy_fen > 0).then(|| {
        let tenths = dadong_domain::money::div_round_half_away(i128::from(consumption_fen) * 10, i128::from(subsidy_fen));
        format!("{}.{}", tenths / 10, (tenths % 10).abs())
    })
}

pub fn figures_out(f: dadong_store::vouchers::VoucherFigures) -> FiguresOut {
    let rows = |rows: Vec<dadong_store::vouchers::FigureRow>| {
        rows.into_iter()
            .map(|r| FigureRowOut {
                leverage: leverage(r.consumption_fen, r.subsidy_fen),
                key: r.key,
                name: r.name,
                vouchers: r.vouchers,
                subsidy: yuan(r.subsidy_fen),
                consumption: yuan(r.consumption_fen),
            })
            .collect()
    };
    FiguresOut {
        seasons: f.seasons,
        claimed: f.claimed,
        redeemed: f.redeemed,
        subsidy: yuan(f.subsidy_fen),
        consumption: yuan(f.consumption_fen),
        leverage: leverage(f.consumption_fen, f.subsidy_fen),
        by_season: rows(f.by_season),
        by_category: rows(f.by_category),
        by_merchant: rows(f.by_merchant),
    }
}

/// Subsidy paid, consumption driven and leverage, by season, category and merchant.
#[utoipa::path(get, path = "/api/v1/vouchers/figures", responses((status = 200, body = FiguresOut)))]
pub async fn figures(State(state): State<AppState>) -> Result<Json<FiguresOut>, ApiError> {
    Ok(Json(figures_out(state.store.voucher_figures(i64::MIN, i64::MAX).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct FraudFlagOut {
    key: String,
    rule: String,
    detail: serde_json::Value,
    /// open, cleared or confirmed.
    status: String,
}

/// Runs the fraud rules and lists the flags for review (admin).
#[utoipa::path(get, path = "/api/v1/vouchers/fraud-flags", responses((status = 200, body = [FraudFlagOut])))]
pub async fn fraud_flags(State(state): State<AppState>) -> Result<Json<Vec<FraudFlagOut>>, ApiError> {
    state.store.raise_fraud_flags(dadong_store::now_ms()).await?;
    Ok(Json(
        state
            .store
            .fraud_flags()
            .await?
            .into_iter()
            .map(|(key, rule, detail, status)| FraudFlagOut {
                key,
                rule,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                status,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    key: String,
    confirmed: bool,
}

/// Records a review of a fraud flag (admin).
#[utoipa::path(post, path = "/api/v1/vouchers/fraud-flags/review", request_body = ReviewIn, responses((status = 204), (status = 404, body = crate::api::ErrorOut)))]
pub async fn review_flag(State(state): State<AppState>, Signed(p, _): Signed, ApiJson(body): ApiJson<ReviewIn>) -> Result<StatusCode, ApiError> {
    state
        .store
        .review_fraud_flag(&actor_of(&p), &body.key, body.confirmed, dadong_store::now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct LedgerVerifyOut {
    campaigns: i64,
    entries: i64,
    vouchers: i64,
    /// Each break, in words.
    breaks: Vec<String>,
}

/// Checks every campaign's ledger (admin, leader).
#[utoipa::path(get, path = "/api/v1/vouchers/ledger/verify", responses((status = 200, body = LedgerVerifyOut)))]
pub async fn ledger_verify(State(state): State<AppState>) -> Result<Json<LedgerVerifyOut>, ApiError> {
    let r = state.store.verify_ledger().await?;
    Ok(Json(LedgerVerifyOut {
        campaigns: r.campaigns,
        entries: r.entries,
        vouchers: r.vouchers,
        breaks: r.breaks.iter().map(ToString::to_string).collect(),
    }))
}

// The lottery claim mode: citizens register, an administrator draws once.

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationIn {
    kind_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RegistrationOut {
    campaign_id: i64,
    kind_id: i64,
    registered_at: String,
    /// True when the citizen had registered for this kind already: nothing changed.
    repeated: bool,
}

/// A refused registration or draw is a 409 with the rule's stable code, like a refused claim.
pub fn lottery_error(e: LotteryError) -> ApiError {
    match e {
        LotteryError::Register(r) => refusal(r.code(), r.message()),
        LotteryError::Draw(d) => refusal(d.code(), d.message()),
        LotteryError::Store(e) => e.into(),
    }
}

/// Registers the signed-in citizen for one kind of a lottery campaign (citizen). Registering
/// again for the same kind answers 200 with the first registration and changes nothing.
#[utoipa::path(post, path = "/api/v1/vouchers/campaigns/{id}/registrations", request_body = RegistrationIn,
    responses((status = 201, body = RegistrationOut, description = "registered"), (status = 200, body = RegistrationOut, description = "registered already: nothing changed"),
        (status = 409, body = crate::api::ErrorOut, description = "refused: not_lottery, not_open_yet, registration_closed, already_drawn, per_person_limit_reached, campaign_closed"),
        (status = 422, body = crate::api::ErrorOut), (status = 404, body = crate::api::ErrorOut), (status = 403, body = crate::api::ErrorOut)))]
pub async fn register(
    State(state): State<AppState>,
    Signed(p, _): Signed,
    Path(campaign_id): Path<i64>,
    ApiJson(body): ApiJson<RegistrationIn>,
) -> Result<(StatusCode, Json<RegistrationOut>), ApiError> {
    let r = state
        .store
        .register_for_lottery(&actor_of(&p), p.user.id, campaign_id, body.kind_id, dadong_store::now_ms())
        .await
        .map_err(lottery_error)?;
    let status = if r.repeated { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(RegistrationOut {
            campaign_id: r.campaign_id,
            kind_id: r.kind_id,
            registered_at: crate::format_time(r.registered_at_ms),
            repeated: r.repeated,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct DrawnKindOut {
    kind_id: i64,
    /// The stock the draw was given.
    stock: i64,
    discount: String,
}

#[derive(Serialize, ToSchema)]
pub struct DrawOut {
    campaign_id: i64,
    /// 64 hex digits from the CSPRNG: `lottery::draw` with this seed recomputes the winners.
    seed: String,
    drawn_at: String,
    drawn_by: Option<i64>,
    registrations: i64,
    winners: i64,
    /// The budget the draw was given.
    budget: String,
    kinds: Vec<DrawnKindOut>,
}

impl From<LotteryDraw> for DrawOut {
    fn from(d: LotteryDraw) -> Self {
        DrawOut {
            campaign_id: d.campaign_id,
            seed: d.seed,
            drawn_at: crate::format_time(d.drawn_at_ms),
            drawn_by: d.drawn_by,
            registrations: d.registrations,
            winners: d.winners,
            budget: yuan(d.budget_fen),
            kinds: d
                .kinds
                .into_iter()
                .map(|k| DrawnKindOut {
                    kind_id: k.kind_id,
                    stock: k.stock,
                    discount: yuan(k.discount_fen),
                })
                .collect(),
        }
    }
}

/// A lottery campaign's recorded draw: its seed (with which `lottery::draw` recomputes the
/// winners), the registrations and winners counted, and what each kind gave. Anyone signed in
/// may check it; 404 until the campaign is drawn.
#[utoipa::path(get, path = "/api/v1/vouchers/campaigns/{id}/draw",
    responses((status = 200, body = DrawOut), (status = 404, body = crate::api::ErrorOut)))]
pub async fn draw_record(State(state): State<AppState>, Path(campaign_id): Path<i64>) -> Result<Json<DrawOut>, ApiError> {
    match state.store.lottery_draw(campaign_id).await? {
        Some(d) => Ok(Json(d.into())),
        None => Err(ApiError::new(ErrorKind::NotFound, format!("campaign {campaign_id} has not been drawn"))),
    }
}

/// Draws a lottery campaign and issues the winners' vouchers (admin). A campaign is drawn
/// once: a second draw is refused with `already_drawn` and changes nothing.
#[utoipa::path(post, path = "/api/v1/vouchers/campaigns/{id}/draw",
    responses((status = 201, body = DrawOut), (status = 409, body = crate::api::ErrorOut, description = "refused: not_lottery, not_open_yet, already_drawn, vouchers_expired"),
        (status = 404, body = crate::api::ErrorOut), (status = 403, body = crate::api::ErrorOut)))]
pub async fn draw(State(state): State<AppState>, Signed(p, _): Signed, Path(campaign_id): Path<i64>) -> Result<(StatusCode, Json<DrawOut>), ApiError> {
    let d = state
        .store
        .draw_lottery(&actor_of(&p), campaign_id, dadong_store::now_ms())
        .await
        .map_err(lottery_error)?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    /// Each key has its own count within a window; past `max` it is refused with the seconds
    /// left in the window, and a new window starts it again.
    #[test]
    fn a_throttle_counts_each_key_in_its_window() {
        let per_address: Throttle<String> = Throttle::new(2, 60_000);
        assert_eq!(per_address.hit("10.0.0.1", 1_000), Ok(()));
        assert_eq!(per_address.hit("10.0.0.1", 2_000), Ok(()));
        assert_eq!(per_address.hit("10.0.0.1", 30_000), Err(30));
        assert_eq!(per_address.hit("10.0.0.1", 59_999), Err(1));
        assert_eq!(per_address.hit("10.0.0.2", 30_000), Ok(()), "another address has its own count");
        assert_eq!(per_address.hit("10.0.0.1", 60_000), Ok(()), "a new window starts again");

        let per_account: Throttle<i64> = Throttle::new(1, 1_000);
        assert_eq!(per_account.hit(&7, 0), Ok(()));
        assert_eq!(per_account.hit(&7, 10), Err(1));
        assert_eq!(per_account.hit(&8, 10), Ok(()));

        let off: Throttle<i64> = Throttle::new(0, 1_000);
        assert!((0..100).all(|i| off.hit(&7, i).is_ok()), "a max of 0 turns the throttle off");
    }
}

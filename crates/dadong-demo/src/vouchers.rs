//! The demo's consumption vouchers (乐享大东): three shopping seasons of 2022 designed as a
//! district would run them (kinds, stock, thresholds and discounts per category), claimed by
//! synthetic residents through the claim engine's own batch path, spent at approved merchants
//! with purchase amounts drawn around realistic means, settled at each season's end, and the
//! unspent vouchers expired back to the budget. The subsidy, consumption and leverage figures
//! are then computed from these raw rows by the general queries; nothing here knows them.
//! A small current campaign gives the demo's citizen a voucher to show and the demo's
//! merchant approved categories to redeem it in.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use dadong_store::vouchers::{ClaimAnswer, CounterRedemption, PendingClaim};
use dadong_store::{Actor, Result, Store, StoreError};
use dadong_vouchers::claim::ClaimRequest;
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
use rand::Rng;

/// What the vouchers part of the demo made.
#[derive(Debug, Clone, Default)]
pub struct VoucherSummary {
    pub merchant_id: i64,
    pub seasons: usize,
    pub claimed: usize,
    pub redeemed: usize,
}

/// A kind as designed: name, category, threshold and discount in yuan, stock, the share of
/// vouchers spent (per mille) and the purchase range in yuan.
struct KindPlan {
    name: &'static str,
    category: Category,
    threshold: i64,
    discount: i64,
    stock: i64,
    spent_per_mille: u32,
    purchase: (i64, i64),
}

struct SeasonPlan {
    name: &'static str,
    /// Claim window start (Asia/Shanghai, 10:00) and its length and validity in days.
    start: (i16, i8, i8),
    days_valid: i64,
    kinds: &'static [KindPlan],
}

const fn k(name: &'static str, category: Category, threshold: i64, discount: i64, stock: i64, spent_per_mille: u32, purchase: (i64, i64)) -> KindPlan {
    KindPlan {
        name,
        category,
        threshold,
        discount,
        stock,
        spent_per_mille,
        purchase,
    }
}

use Category::*;

/// The three seasons of 2022: spring (新春), May Day cars and appliances (五一), summer (夏日).
const SEASONS: &[SeasonPlan] = &[
    SeasonPlan {
        name: "2022 乐享大东·新春购物季",
        start: (2022, 1, 20),
        days_valid: 30,
        kinds: &[
            k("餐饮 满300减50", Catering, 300, 50, 25_000, 900, (300, 540)),
            k("百货 满500减100", DepartmentStore, 500, 100, 8_000, 900, (500, 1_200)),
            k("家电 满3000减200", Appliance, 3_000, 200, 5_000, 930, (3_000, 11_000)),
        ],
    },
    SeasonPlan {
        name: "2022 乐享大东·五一汽车家电节",
        start: (2022, 4, 28),
        days_valid: 45,
        kinds: &[
            k("汽车 满10万减3000", Car, 100_000, 3_000, 2_500, 970, (100_000, 300_000)),
            k("家电 满3000减200", Appliance, 3_000, 200, 6_000, 930, (3_000, 11_000)),
            k("购房 满50万减1万", Housing, 500_000, 10_000, 250, 960, (500_000, 1_600_000)),
        ],
    },
    SeasonPlan {
        name: "2022 乐享大东·夏日消费季",
        start: (2022, 7, 15),
        days_valid: 40,
        kinds: &[
            k("餐饮 满300减50", Catering, 300, 50, 35_000, 900, (300, 540)),
            k("百货 满500减100", DepartmentStore, 500, 100, 12_000, 900, (500, 1_200)),
            k("汽车 满10万减3000", Car, 100_000, 3_000, 2_500, 970, (100_000, 300_000)),
            k("购房 满50万减1万", Housing, 500_000, 10_000, 250, 960, (500_000, 1_600_000)),
            k("家电 满3000减200", Appliance, 3_000, 200, 4_000, 930, (3_000, 11_000)),
        ],
    },
];

const DAY_MS: i64 = 86_400_000;
/// Merchants per category; each is approved for its one category.
const MERCHANTS_PER_CATEGORY: usize = 6;
/// Synthetic residents claim up to this many vouchers per season.
const PER_PERSON: i64 = 5;

fn start_ms(d: (i16, i8, i8)) -> Result<i64> {
    let tz = jiff::tz::TimeZone::get(dadong_domain::DISTRICT_TIME_ZONE).map_err(|e| StoreError::Config(e.to_string()))?;
    jiff::civil::date(d.0, d.1, d.2)
        .at(10, 0, 0, 0)
        .to_zoned(tz)
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|e| StoreError::Config(e.to_string()))
}

fn day_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .ok()
        .and_then(|t| t.in_tz(dadong_domain::DISTRICT_TIME_ZONE).ok())
        .map(|z| z.date().to_string())
        .unwrap_or_default()
}

/// Builds the seasons, the merchants and the demo accounts' part in vouchers.
pub async fn load(store: &Store, rng: &mut impl Rng, actor: &Actor, merchant_user_id: i64, shop_code: &str, citizen_user_id: i64) -> Result<VoucherSummary> {
    let now = dadong_store::now_ms();
    // Merchants: the demo merchant account's shop (catering and department store), and six
    // shops per category, each applying with its credit code and approved by the office.
    let shop = store
        .apply_merchant(
            actor,
            Some(merchant_user_id),
            shop_code,
            "大东示范商场",
            &[Catering, DepartmentStore],
            start_ms((2022, 1, 10))?,
        )
        .await?;
    for c in [Catering, DepartmentStore] {
        store.decide_merchant(actor, shop.id, c, true, start_ms((2022, 1, 12))?).await?;
    }
    let mut merchants: Vec<(Category, i64)> = vec![(Catering, shop.id), (DepartmentStore, shop.id)];
    for (ci, c) in Category::ALL.into_iter().enumerate() {
        for i in 0..MERCHANTS_PER_CATEGORY {
            let code = crate::credit_code_with_org(rng, "91", 900_000 + ci * 100 + i);
            let name = format!("大东{}商户{}号", c.zh(), i + 1);
            let m = store.apply_merchant(actor, None, code.as_str(), &name, &[c], start_ms((2022, 1, 10))?).await?;
            store.decide_merchant(actor, m.id, c, true, start_ms((2022, 1, 12))?).await?;
            merchants.push((c, m.id));
        }
    }

    let mut summary = VoucherSummary {
        merchant_id: shop.id,
        ..Default::default()
    };
    let mut next_resident = 50_000_000i64;
    for season in SEASONS {
        let start = start_ms(season.start)?;
        let spec = CampaignSpec {
            name: season.name.to_string(),
            budget_fen: season.kinds.iter().map(|k| k.discount * 100 * k.stock).sum::<i64>() * 21 / 20,
            per_person_limit: PER_PERSON,
            claim_mode: ClaimMode::FirstCome,
            claim_start_ms: start,
            claim_end_ms: start + 7 * DAY_MS,
            valid_from_ms: start,
            valid_until_ms: start + season.days_valid * DAY_MS,
            kinds: season
                .kinds
                .iter()
                .map(|k| KindSpec {
                    name: k.name.to_string(),
                    category: k.category,
                    threshold_fen: k.threshold * 100,
                    discount_fen: k.discount * 100,
                    stock: k.stock,
                })
                .collect(),
        };
        let c = store.create_campaign(actor, &spec, start - DAY_MS).await?;
        // The window opens: residents claim until every kind is sold out (some over-ask).
        let mut claims = Vec::new();
        for (kind, plan) in c.kinds.iter().zip(season.kinds) {
            let asks = plan.stock + plan.stock / 20;
            for n in 0..asks {
                if n % PER_PERSON == 0 {
                    next_resident += 1;
                }
                claims.push(PendingClaim {
                    campaign_id: c.id,
                    request: ClaimRequest {
                        citizen_id: next_resident,
                        kind_id: kind.id,
                        idempotency_key: format!("k{}-{n}", kind.id),
                    },
                    device: format!("d{}", rng.gen_range(0..1_000_000u32)),
                });
            }
        }
        let answers = store.claim_batch(c.id, &claims, start + 3_600_000).await?;
        let mut granted: Vec<(i64, i64)> = Vec::new();
        for (claim, a) in claims.iter().zip(&answers) {
            if let ClaimAnswer::Granted { voucher_id, .. } = a {
                granted.push((*voucher_id, claim.request.kind_id));
            }
        }
        summary.claimed += granted.len();
        // Spending over the validity, at merchants of the voucher's category.
        let mut redemptions = Vec::new();
        for (voucher_id, kind_id) in &granted {
            let i = c.kinds.iter().position(|k| k.id == *kind_id).unwrap_or(0);
            let plan = &season.kinds[i];
            if rng.gen_range(0..1000) >= plan.spent_per_mille {
                continue;
            }
            let shops: Vec<i64> = merchants.iter().filter(|(cat, _)| *cat == plan.category).map(|(_, m)| *m).collect();
            let purchase_yuan = rng.gen_range(plan.purchase.0..=plan.purchase.1);
            redemptions.push(CounterRedemption {
                voucher_id: *voucher_id,
                merchant_id: shops[rng.gen_range(0..shops.len())],
                purchase_fen: purchase_yuan * 100,
                at_ms: start + 3_600_000 + rng.gen_range(0..(season.days_valid - 1) * DAY_MS),
            });
        }
        summary.redeemed += store.redeem_many(c.id, &redemptions).await.map_err(|e| StoreError::Conflict(e.to_string()))?;
        // The finance office settles the season once its vouchers are no longer valid.
        let end = start + season.days_valid * DAY_MS;
        store.settle(actor, &day_of(end), end, end).await?;
        summary.seasons += 1;
    }
    // Every unspent voucher of the past seasons returns to its budget.
    store.expire_vouchers(now).await?;

    // A campaign open today, so the demo citizen holds a voucher and the merchant can take it.
    let today = CampaignSpec {
        name: format!("乐享大东·{} 周末餐饮券", day_of(now)),
        budget_fen: 50_000_00,
        per_person_limit: 2,
        claim_mode: ClaimMode::FirstCome,
        claim_start_ms: now - DAY_MS,
        claim_end_ms: now + 7 * DAY_MS,
        valid_from_ms: now - DAY_MS,
        valid_until_ms: now + 30 * DAY_MS,
        kinds: vec![KindSpec {
            name: "餐饮 满300减50".into(),
            category: Catering,
            threshold_fen: 300_00,
            discount_fen: 50_00,
            stock: 1_000,
        }],
    };
    let c = store.create_campaign(actor, &today, now).await?;
    let claim = PendingClaim {
        campaign_id: c.id,
        request: ClaimRequest {
            citizen_id: citizen_user_id,
            kind_id: c.kinds[0].id,
            idempotency_key: "demo".into(),
        },
        device: String::new(),
    };
    store.claim_batch(c.id, &[claim], now).await?;
    Ok(summary)
}

//! The voucher store on both backends: the group-committed claim engine never over-issues
//! under concurrency, retries get their answer again, a scan spends a voucher exactly once,
//! every refusal changes nothing, refunds, expiry and settlement keep the ledger whole, and
//! `verify_ledger` names a break made with plain SQL.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use dadong_store::voucher_engine::{ClaimEngine, EngineConfig};
use dadong_store::vouchers::{ClaimAnswer, PendingClaim, RedeemError};
use dadong_store::{Actor, Store};
use dadong_testkit::{Backend, TestDb};
use dadong_vouchers::claim::{ClaimRefusal, ClaimRequest};
use dadong_vouchers::ledger::LedgerBreak;
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec, RedeemRefusal};
use std::collections::HashSet;
use std::sync::Arc;

dadong_testkit::on_both_backends!(
    concurrent_claims_through_two_engines_never_exceed_stock_budget_or_the_limit,
    a_retried_claim_gets_the_same_voucher_and_refusals_say_why,
    a_scan_spends_a_voucher_once_and_every_refusal_changes_nothing,
    refund_settlement_and_expiry_keep_the_ledger_whole,
    ledger_verify_names_breaks_made_in_the_database,
    merchants_apply_with_a_valid_credit_code_and_are_approved_per_category,
    a_wallet_holds_its_citizens_vouchers_of_every_campaign_and_no_one_elses,
);

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;
const MERCHANT_CODE: &str = "91350100M000100Y43";
const MERCHANT_CODE_2: &str = "91110000600037341L";

fn actor() -> Actor {
    Actor::Cli("voucher-test".into())
}

async fn fresh(backend: Backend, test: &str) -> Option<(TestDb, Store)> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    Some((db, store))
}

fn spec(stock: i64, budget_fen: i64, limit: i64) -> CampaignSpec {
    CampaignSpec {
        name: "金秋消费季".into(),
        budget_fen,
        per_person_limit: limit,
        claim_mode: ClaimMode::FirstCome,
        claim_start_ms: T0,
        claim_end_ms: T0 + 24 * HOUR,
        valid_from_ms: T0,
        valid_until_ms: T0 + 10 * 24 * HOUR,
        kinds: vec![
            KindSpec {
                name: "满300减50".into(),
                category: Category::Catering,
                threshold_fen: 300_00,
                discount_fen: 50_00,
                stock,
            },
            KindSpec {
                name: "家电满3000减500".into(),
                category: Category::Appliance,
                threshold_fen: 3000_00,
                discount_fen: 500_00,
                stock,
            },
        ],
    }
}

fn claim(campaign_id: i64, citizen_id: i64, kind_id: i64, key: &str) -> PendingClaim {
    PendingClaim {
        campaign_id,
        request: ClaimRequest {
            citizen_id,
            kind_id,
            idempotency_key: key.into(),
        },
        device: format!("dev-{citizen_id}"),
    }
}

fn engine(store: &Store, now: i64, batch_max: usize) -> ClaimEngine {
    ClaimEngine::start(
        store.clone(),
        EngineConfig {
            batch_max,
            clock: Arc::new(move || now),
            ..EngineConfig::default()
        },
    )
}

async fn assert_clean(store: &Store) {
    let report = store.verify_ledger().await.expect("verify");
    assert_eq!(report.breaks, vec![], "the ledger must verify clean");
}

async fn approved_merchant(store: &Store, code: &str, categories: &[Category]) -> i64 {
    let m = store.apply_merchant(&actor(), None, code, "大东百货", categories, T0).await.expect("apply");
    for c in categories {
        store.decide_merchant(&actor(), m.id, *c, true, T0).await.expect("approve");
    }
    m.id
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

async fn concurrent_claims_through_two_engines_never_exceed_stock_budget_or_the_limit(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "claims never over-issue").await else {
        return;
    };
    // Stock 150 of each kind, a budget for 100 of the small ones plus some large ones, two
    // per person: every limit binds somewhere.
    let c = store
        .create_campaign(&actor(), &spec(150, 100 * 50_00 + 10 * 500_00, 2), T0)
        .await
        .expect("campaign");
    let (k1, k2) = (c.kinds[0].id, c.kinds[1].id);
    let engines = [engine(&store, T0 + 1, 64), engine(&store, T0 + 1, 500)];
    let mut tasks = Vec::new();
    for i in 0..1200i64 {
        let e = engines[(i % 2) as usize].clone();
        let citizen = i % 300;
        let kind = if i % 7 == 0 { k2 } else { k1 };
        let key = format!("c{citizen}-{}", i / 300);
        tasks.push(tokio::spawn(async move {
            (citizen, e.claim(claim(c.id, citizen, kind, &key)).await.expect("answer"))
        }));
    }
    let mut granted = HashSet::new();
    for t in tasks {
        if let (
            _,
            ClaimAnswer::Granted {
                voucher_id, replayed: false, ..
            },
        ) = t.await.expect("task")
        {
            assert!(granted.insert(voucher_id), "a voucher id answered twice");
        }
    }
    let vouchers = count(&store, "SELECT COUNT(*) FROM vouchers").await;
    assert_eq!(vouchers, granted.len() as i64, "every granted answer is a stored voucher and no other exists");
    let spent = count(&store, "SELECT CAST(COALESCE(SUM(discount_fen), 0) AS BIGINT) FROM vouchers").await;
    assert!(spent <= 100 * 50_00 + 10 * 500_00, "the budget holds");
    assert!(count(&store, "SELECT COUNT(*) FROM vouchers GROUP BY citizen_id ORDER BY COUNT(*) DESC LIMIT 1").await <= 2);
    assert!(count(&store, &format!("SELECT COUNT(*) FROM vouchers WHERE kind_id = {k1}")).await <= 150);
    assert!(count(&store, &format!("SELECT COUNT(*) FROM vouchers WHERE kind_id = {k2}")).await <= 150);
    let after = store.campaign(c.id).await.expect("read").expect("campaign");
    assert_eq!(after.budget_remaining_fen, c.budget_fen - spent);
    assert_clean(&store).await;
}

async fn a_retried_claim_gets_the_same_voucher_and_refusals_say_why(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "retries and refusals").await else {
        return;
    };
    let c = store.create_campaign(&actor(), &spec(1, 1_000_000_00, 1), T0).await.expect("campaign");
    let k = c.kinds[0].id;
    let e = engine(&store, T0 + 5, 100);
    let first = e.claim(claim(c.id, 7, k, "retry-me")).await.expect("claim");
    let ClaimAnswer::Granted {
        voucher_id, replayed: false, ..
    } = first
    else {
        panic!("granted: {first:?}")
    };
    assert_eq!(
        e.claim(claim(c.id, 7, k, "retry-me")).await.expect("retry"),
        ClaimAnswer::Granted {
            voucher_id,
            kind_id: k,
            replayed: true
        }
    );
    assert_eq!(
        e.claim(claim(c.id, 7, k, "another")).await.unwrap(),
        ClaimAnswer::Refused {
            reason: ClaimRefusal::LimitReached
        }
    );
    assert_eq!(
        e.claim(claim(c.id, 8, k, "x")).await.unwrap(),
        ClaimAnswer::Refused { reason: ClaimRefusal::SoldOut }
    );
    assert_eq!(
        e.claim(claim(c.id, 8, 9999, "x")).await.unwrap(),
        ClaimAnswer::Refused {
            reason: ClaimRefusal::UnknownKind
        }
    );
    assert_eq!(
        e.claim(claim(9999, 8, k, "x")).await.unwrap(),
        ClaimAnswer::Refused {
            reason: ClaimRefusal::CampaignNotFound
        }
    );
    let early = engine(&store, T0 - 1, 100);
    assert_eq!(
        early.claim(claim(c.id, 9, k, "x")).await.unwrap(),
        ClaimAnswer::Refused {
            reason: ClaimRefusal::NotOpenYet
        }
    );
    let late = engine(&store, T0 + 24 * HOUR, 100);
    assert_eq!(
        late.claim(claim(c.id, 9, k, "x")).await.unwrap(),
        ClaimAnswer::Refused { reason: ClaimRefusal::Closed }
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM vouchers").await, 1);
    assert_clean(&store).await;
}

async fn a_scan_spends_a_voucher_once_and_every_refusal_changes_nothing(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "redemption refusals").await else {
        return;
    };
    let c = store.create_campaign(&actor(), &spec(10, 1_000_000_00, 3), T0).await.expect("campaign");
    let e = engine(&store, T0 + 5, 100);
    let ClaimAnswer::Granted { voucher_id, .. } = e.claim(claim(c.id, 7, c.kinds[0].id, "a")).await.unwrap() else {
        panic!()
    };
    let catering = approved_merchant(&store, MERCHANT_CODE, &[Category::Catering]).await;
    let cars = approved_merchant(&store, MERCHANT_CODE_2, &[Category::Car]).await;
    let key = store.voucher_key().await.expect("key");
    let token = Store::voucher_token(&key, &store.voucher(voucher_id).await.unwrap().unwrap());

    let snapshot = |store: Store| async move {
        (
            count(&store, "SELECT COUNT(*) FROM voucher_ledger").await,
            count(&store, "SELECT COUNT(*) FROM voucher_redemptions").await,
            count(&store, "SELECT COUNT(*) FROM vouchers WHERE status = 'claimed'").await,
        )
    };
    let before = snapshot(store.clone()).await;
    let refused = |r: Result<_, RedeemError>| match r {
        Err(RedeemError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // A forged token (another key) and an altered one.
    let forged = dadong_vouchers::VoucherKey::from_seed(&[9; 32]).sign(&dadong_vouchers::VoucherToken {
        voucher_id,
        campaign_id: c.id,
        kind_id: c.kinds[0].id,
        citizen_id: 7,
    });
    assert_eq!(refused(store.redeem(catering, &forged, 400_00, T0 + HOUR).await), RedeemRefusal::Forged);
    let mut altered = token.clone().into_bytes();
    let i = altered.len() - 3;
    altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        refused(store.redeem(catering, std::str::from_utf8(&altered).unwrap(), 400_00, T0 + HOUR).await),
        RedeemRefusal::Forged
    );
    assert_eq!(refused(store.redeem(catering, "not a token", 400_00, T0 + HOUR).await), RedeemRefusal::Forged);
    assert_eq!(refused(store.redeem(catering, &token, 299_99, T0 + HOUR).await), RedeemRefusal::UnderThreshold);
    assert_eq!(refused(store.redeem(cars, &token, 400_00, T0 + HOUR).await), RedeemRefusal::WrongCategory);
    assert_eq!(
        refused(store.redeem(catering, &token, 400_00, T0 + 10 * 24 * HOUR).await),
        RedeemRefusal::Expired
    );
    assert_eq!(snapshot(store.clone()).await, before, "refusals change nothing");

    // Two scans at the same moment: exactly one wins.
    let (a, b) = tokio::join!(
        store.redeem(catering, &token, 400_00, T0 + HOUR),
        store.redeem(catering, &token, 400_00, T0 + HOUR)
    );
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    let receipt = a.or(b).unwrap();
    assert_eq!((receipt.discount_fen, receipt.pay_fen), (50_00, 350_00));
    assert_eq!(refused(store.redeem(catering, &token, 400_00, T0 + HOUR).await), RedeemRefusal::AlreadyRedeemed);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM voucher_redemptions").await, 1);
    assert_clean(&store).await;
}

async fn refund_settlement_and_expiry_keep_the_ledger_whole(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "refund settle expire").await else {
        return;
    };
    let c = store.create_campaign(&actor(), &spec(10, 1_000_000_00, 3), T0).await.expect("campaign");
    let e = engine(&store, T0 + 5, 100);
    let mut ids = Vec::new();
    for citizen in 1..=3 {
        let ClaimAnswer::Granted { voucher_id, .. } = e.claim(claim(c.id, citizen, c.kinds[0].id, "k")).await.unwrap() else {
            panic!()
        };
        ids.push(voucher_id);
    }
    let m = approved_merchant(&store, MERCHANT_CODE, &[Category::Catering]).await;
    let other = approved_merchant(&store, MERCHANT_CODE_2, &[Category::Catering]).await;
    let key = store.voucher_key().await.unwrap();
    let token = |id| {
        let store = store.clone();
        let key = key.clone();
        async move { Store::voucher_token(&key, &store.voucher(id).await.unwrap().unwrap()) }
    };
    store.redeem(m, &token(ids[0]).await, 500_00, T0 + HOUR).await.expect("redeem 1");
    store.redeem(m, &token(ids[1]).await, 800_00, T0 + HOUR).await.expect("redeem 2");
    // The other merchant may not refund; the redeeming one may, and the voucher is usable again.
    assert!(matches!(
        store.refund(other, ids[1], T0 + 2 * HOUR).await,
        Err(RedeemError::Refused(RedeemRefusal::OtherMerchant))
    ));
    store.refund(m, ids[1], T0 + 2 * HOUR).await.expect("refund");
    assert_eq!(store.voucher(ids[1]).await.unwrap().unwrap().status, "claimed");
    store.redeem(m, &token(ids[1]).await, 600_00, T0 + 3 * HOUR).await.expect("spent again");
    assert_clean(&store).await;

    let made = store.settle(&actor(), "2023-11-15", T0 + 4 * HOUR, T0 + 5 * HOUR).await.expect("settle");
    assert_eq!(made.len(), 1);
    assert_eq!((made[0].vouchers, made[0].discount_fen, made[0].purchase_fen), (2, 100_00, 1100_00));
    assert!(matches!(
        store.refund(m, ids[0], T0 + 6 * HOUR).await,
        Err(RedeemError::Refused(RedeemRefusal::AlreadySettled))
    ));
    assert!(
        store.settle(&actor(), "2023-11-16", T0 + 30 * HOUR, T0 + 30 * HOUR).await.unwrap().is_empty(),
        "nothing is settled twice"
    );
    assert_clean(&store).await;

    // After the validity, the unspent third voucher expires and its discount returns.
    let before = store.campaign(c.id).await.unwrap().unwrap().budget_remaining_fen;
    assert_eq!(store.expire_vouchers(T0 + 9 * 24 * HOUR).await.unwrap(), 0, "nothing expires early");
    assert_eq!(store.expire_vouchers(T0 + 10 * 24 * HOUR).await.unwrap(), 1);
    assert_eq!(store.campaign(c.id).await.unwrap().unwrap().budget_remaining_fen, before + 50_00);
    assert_eq!(store.voucher(ids[2]).await.unwrap().unwrap().status, "expired");
    assert_eq!(store.expire_vouchers(T0 + 11 * 24 * HOUR).await.unwrap(), 0);
    assert_clean(&store).await;
    let audit = store.verify_audit().await.expect("audit");
    assert_eq!(audit.first_break, None);
}

async fn ledger_verify_names_breaks_made_in_the_database(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "ledger verify finds breaks").await else {
        return;
    };
    let c = store.create_campaign(&actor(), &spec(10, 1_000_000_00, 3), T0).await.expect("campaign");
    let e = engine(&store, T0 + 5, 100);
    for citizen in 1..=4 {
        e.claim(claim(c.id, citizen, c.kinds[0].id, "k")).await.unwrap();
    }
    assert_clean(&store).await;
    let exec = |sql: &'static str| {
        let store = store.clone();
        async move {
            sqlx::query(sql).execute(store.pool()).await.expect("tamper");
        }
    };
    // A voucher marked spent without its entry.
    exec("UPDATE vouchers SET status = 'redeemed' WHERE id = (SELECT MIN(id) FROM vouchers)").await;
    let breaks = store.verify_ledger().await.unwrap().breaks;
    assert!(breaks.iter().any(|b| matches!(b, LedgerBreak::AccountMismatch { .. })), "{breaks:?}");
    exec("UPDATE vouchers SET status = 'claimed'").await;
    assert_clean(&store).await;
    // A citizen's slots with a gap: the engine reads their count as their highest slot.
    exec("UPDATE vouchers SET slot = 3 WHERE id = (SELECT MIN(id) FROM vouchers)").await;
    let breaks = store.verify_ledger().await.unwrap().breaks;
    assert!(matches!(breaks[..], [LedgerBreak::SlotGaps { citizens: 1, .. }]), "{breaks:?}");
    exec("UPDATE vouchers SET slot = 1 WHERE id = (SELECT MIN(id) FROM vouchers)").await;
    assert_clean(&store).await;
    // An entry edited, then one cut from the end.
    exec("UPDATE voucher_ledger SET amount_fen = amount_fen + 1 WHERE seq = 2").await;
    let breaks = store.verify_ledger().await.unwrap().breaks;
    assert!(breaks.iter().any(|b| matches!(b, LedgerBreak::EntryAltered { seq: 2, .. })), "{breaks:?}");
    exec("UPDATE voucher_ledger SET amount_fen = amount_fen - 1 WHERE seq = 2").await;
    exec("DELETE FROM voucher_ledger WHERE seq = (SELECT MAX(seq) FROM voucher_ledger)").await;
    let breaks = store.verify_ledger().await.unwrap().breaks;
    assert!(breaks.iter().any(|b| matches!(b, LedgerBreak::Truncated { .. })), "{breaks:?}");
    assert!(breaks.iter().all(|b| !b.to_string().is_empty()));
}

async fn merchants_apply_with_a_valid_credit_code_and_are_approved_per_category(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "merchants").await else { return };
    let bad = store.apply_merchant(&actor(), None, "91350100M000100Y44", "坏代码", &[Category::Car], T0).await;
    assert!(
        matches!(bad, Err(dadong_store::StoreError::Invalid { ref field, .. }) if field == "credit_code"),
        "{bad:?}"
    );
    let m = store
        .apply_merchant(&actor(), None, MERCHANT_CODE, "大东汽车城", &[Category::Car, Category::Appliance], T0)
        .await
        .unwrap();
    assert_eq!(
        m.categories,
        vec![("appliance".to_string(), "pending".to_string()), ("car".to_string(), "pending".to_string())]
    );
    store.decide_merchant(&actor(), m.id, Category::Car, true, T0).await.unwrap();
    store.decide_merchant(&actor(), m.id, Category::Appliance, false, T0).await.unwrap();
    let m = store.merchant(m.id).await.unwrap().unwrap();
    assert_eq!(
        m.categories,
        vec![("appliance".to_string(), "rejected".to_string()), ("car".to_string(), "approved".to_string())]
    );
    assert!(
        store.decide_merchant(&actor(), m.id, Category::Catering, true, T0).await.is_err(),
        "not applied for"
    );
    let again = store.apply_merchant(&actor(), None, MERCHANT_CODE, "又一次", &[Category::Car], T0).await;
    assert!(again.is_err());
    assert_eq!(store.verify_audit().await.unwrap().first_break, None);
}

/// The wallet reads a citizen's vouchers by the (campaign, citizen) key of each campaign
/// (there is no index on the citizen alone): every campaign's, newest first, with the ids the
/// claims were answered with, and nobody else's.
async fn a_wallet_holds_its_citizens_vouchers_of_every_campaign_and_no_one_elses(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "wallet across campaigns").await else {
        return;
    };
    let e = engine(&store, T0 + 5, 100);
    let mut mine = Vec::new();
    for name in ["春季消费季", "夏季消费季"] {
        let c = store
            .create_campaign(
                &actor(),
                &CampaignSpec {
                    name: name.into(),
                    ..spec(10, 1_000_000_00, 3)
                },
                T0,
            )
            .await
            .expect("campaign");
        // Sent together, so that they can share a batch: the citizen's claims among another
        // citizen's, whose ids must be matched to their claims by key, not by order.
        let claims = [(7, "a"), (8, "a"), (7, "b"), (8, "b")].map(|(citizen, key)| e.claim(claim(c.id, citizen, c.kinds[0].id, key)));
        for (i, answer) in futures::future::join_all(claims).await.into_iter().enumerate() {
            let ClaimAnswer::Granted { voucher_id, .. } = answer.expect("claim") else {
                panic!("granted")
            };
            if i % 2 == 0 {
                mine.push((voucher_id, c.id));
            }
        }
    }
    mine.sort_by(|a, b| b.cmp(a));
    let wallet: Vec<(i64, i64)> = store.wallet(7).await.expect("wallet").iter().map(|v| (v.id, v.campaign_id)).collect();
    assert_eq!(wallet, mine);
    assert!(store.wallet(7).await.unwrap().iter().all(|v| v.citizen_id == 7));
    assert!(store.wallet(9).await.unwrap().is_empty());
}

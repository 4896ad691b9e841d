//! The lottery claim mode on both backends: registering twice is one registration, the
//! rules refuse the rest with nothing written, a draw issues no more than stock, budget and
//! the per-person limit allow and only to registered citizens, keeps `verify_ledger` clean,
//! can be recomputed from its recorded seed, and happens once: a second draw, at once or
//! later, changes nothing.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use dadong_store::vouchers_lottery::LotteryError;
use dadong_store::{Actor, Store, StoreError};
use dadong_testkit::{Backend, TestDb};
use dadong_vouchers::lottery::{DrawRefusal, RegisterRefusal, Registration, draw};
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
use std::collections::{HashMap, HashSet};

dadong_testkit::on_both_backends!(
    registering_twice_is_one_registration_and_every_refused_registration_writes_nothing,
    a_draw_stays_within_stock_budget_and_limit_gives_only_to_registered_citizens_and_can_be_recomputed,
    a_campaign_is_drawn_once_even_when_two_draws_race,
);

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn actor() -> Actor {
    Actor::Cli("lottery-test".into())
}

async fn fresh(backend: Backend, test: &str) -> Option<(TestDb, Store)> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    Some((db, store))
}

fn spec(name: &str, mode: ClaimMode, stock: (i64, i64), budget_fen: i64, limit: i64) -> CampaignSpec {
    CampaignSpec {
        name: name.into(),
        budget_fen,
        per_person_limit: limit,
        claim_mode: mode,
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
                stock: stock.0,
            },
            KindSpec {
                name: "家电满3000减500".into(),
                category: Category::Appliance,
                threshold_fen: 3000_00,
                discount_fen: 500_00,
                stock: stock.1,
            },
        ],
    }
}

async fn user(store: &Store, username: &str, role: &str) -> i64 {
    store
        .create_user(&actor(), dadong_testkit::user(username, username, role))
        .await
        .expect("user")
        .id
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .expect("count")
}

/// Everything a refused act must leave as it was.
async fn snapshot(store: &Store) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM voucher_registrations",
        "SELECT COUNT(*) FROM vouchers",
        "SELECT COUNT(*) FROM voucher_ledger",
        "SELECT COUNT(*) FROM voucher_draws",
        "SELECT COUNT(*) FROM audit_log",
        "SELECT CAST(COALESCE(SUM(budget_remaining_fen), 0) AS BIGINT) FROM voucher_campaigns",
        "SELECT CAST(COALESCE(SUM(stock_remaining), 0) AS BIGINT) FROM voucher_kinds",
    ] {
        out.push(count(store, sql).await);
    }
    out
}

fn refused_register(r: Result<dadong_store::vouchers_lottery::Registered, LotteryError>) -> RegisterRefusal {
    match r {
        Err(LotteryError::Register(refusal)) => refusal,
        other => panic!("expected a refused registration, got {other:?}"),
    }
}

async fn registering_twice_is_one_registration_and_every_refused_registration_writes_nothing(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "lottery registration").await else {
        return;
    };
    let lottery = store
        .create_campaign(&actor(), &spec("摇号消费季", ClaimMode::Lottery, (10, 10), 10_000_00, 1), T0 - HOUR)
        .await
        .expect("campaign");
    let first_come = store
        .create_campaign(&actor(), &spec("先到先得", ClaimMode::FirstCome, (10, 10), 10_000_00, 1), T0 - HOUR)
        .await
        .expect("campaign");
    let citizen = user(&store, "citizen_a", "citizen").await;
    let leader = user(&store, "leader_a", "leader").await;
    let (k1, k2) = (lottery.kinds[0].id, lottery.kinds[1].id);

    let first = store
        .register_for_lottery(&actor(), citizen, lottery.id, k1, T0 + HOUR)
        .await
        .expect("register");
    assert!(!first.repeated);
    let before = snapshot(&store).await;
    let again = store
        .register_for_lottery(&actor(), citizen, lottery.id, k1, T0 + 2 * HOUR)
        .await
        .expect("again");
    assert!(again.repeated, "a repeat is answered as registered");
    assert_eq!(again.registered_at_ms, T0 + HOUR, "a repeat answers the first registration");
    assert_eq!(snapshot(&store).await, before, "a repeat writes nothing");
    assert_eq!(
        store.lottery_registrations(lottery.id).await.unwrap(),
        vec![Registration {
            citizen_id: citizen,
            kind_id: k1
        }]
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'voucher.lottery.register'").await,
        1
    );

    // Each refusal says why and leaves everything as it was.
    assert_eq!(
        refused_register(
            store
                .register_for_lottery(&actor(), citizen, first_come.id, first_come.kinds[0].id, T0 + HOUR)
                .await
        ),
        RegisterRefusal::NotLottery
    );
    assert_eq!(
        refused_register(store.register_for_lottery(&actor(), citizen, lottery.id, k2, T0 + HOUR).await),
        RegisterRefusal::OverLimit,
        "one kind already reaches a limit of one"
    );
    let other = user(&store, "citizen_b", "citizen").await;
    let before = snapshot(&store).await;
    assert_eq!(
        refused_register(store.register_for_lottery(&actor(), other, lottery.id, k1, T0 - 1).await),
        RegisterRefusal::NotOpenYet
    );
    assert_eq!(
        refused_register(store.register_for_lottery(&actor(), other, lottery.id, k1, T0 + 24 * HOUR).await),
        RegisterRefusal::Closed
    );
    match store.register_for_lottery(&actor(), leader, lottery.id, k1, T0 + HOUR).await {
        Err(LotteryError::Store(StoreError::Invalid { field, .. })) => assert_eq!(field, "citizen_id"),
        other => panic!("only a citizen registers: {other:?}"),
    }
    match store.register_for_lottery(&actor(), other, lottery.id, first_come.kinds[0].id, T0 + HOUR).await {
        Err(LotteryError::Store(StoreError::Invalid { field, .. })) => assert_eq!(field, "kind_id"),
        other => panic!("another campaign's kind must be refused: {other:?}"),
    }
    match store.register_for_lottery(&actor(), other, 999_999, k1, T0 + HOUR).await {
        Err(LotteryError::Store(StoreError::NotFound(_))) => {}
        other => panic!("an unknown campaign is not found: {other:?}"),
    }
    assert_eq!(snapshot(&store).await, before, "refusals write nothing");

    // A first-come campaign cannot be drawn; a lottery's draw closes registration.
    match store.draw_lottery(&actor(), first_come.id, T0 + HOUR).await {
        Err(LotteryError::Draw(r)) => assert_eq!(r, DrawRefusal::NotLottery),
        other => panic!("a first-come campaign has nothing to draw: {other:?}"),
    }
    store.draw_lottery(&actor(), lottery.id, T0 + 3 * HOUR).await.expect("draw");
    assert_eq!(
        refused_register(store.register_for_lottery(&actor(), other, lottery.id, k1, T0 + 4 * HOUR).await),
        RegisterRefusal::AlreadyDrawn
    );
}

async fn a_draw_stays_within_stock_budget_and_limit_gives_only_to_registered_citizens_and_can_be_recomputed(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "lottery draw").await else {
        return;
    };
    // Stock 6 and 3, a budget of 1,200 yuan (so at most two 500-yuan vouchers beside the
    // small ones), two per person; fourteen citizens each register for both kinds.
    let c = store
        .create_campaign(&actor(), &spec("摇号消费季", ClaimMode::Lottery, (6, 3), 1_200_00, 2), T0 - HOUR)
        .await
        .expect("campaign");
    let mut citizens = Vec::new();
    for i in 0..14 {
        let id = user(&store, &format!("citizen_{i}"), "citizen").await;
        for k in &c.kinds {
            store.register_for_lottery(&actor(), id, c.id, k.id, T0 + HOUR).await.expect("register");
        }
        citizens.push(id);
    }
    let registered: HashSet<(i64, i64)> = store
        .lottery_registrations(c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.citizen_id, r.kind_id))
        .collect();
    assert_eq!(registered.len(), 28);
    let audit_before = count(&store, "SELECT COUNT(*) FROM audit_log").await;

    let d = store.draw_lottery(&actor(), c.id, T0 + 2 * HOUR).await.expect("draw");
    assert_eq!(d.seed.len(), 64, "the seed is 32 bytes in hex");
    assert_eq!(d.registrations, 28);
    assert_eq!(d.budget_fen, 1_200_00);

    let issued: Vec<(i64, i64, i64)> = sqlx::query_as("SELECT citizen_id, kind_id, discount_fen FROM vouchers WHERE campaign_id = $1")
        .bind(c.id)
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(issued.len() as i64, d.winners);
    assert!(d.winners > 0);
    let spent: i64 = issued.iter().map(|v| v.2).sum();
    assert!(spent <= 1_200_00, "budget: {spent}");
    for k in &c.kinds {
        let n = issued.iter().filter(|v| v.1 == k.id).count() as i64;
        assert!(n <= k.stock_total, "stock of {}: {n}", k.name);
    }
    let mut per_citizen: HashMap<i64, i64> = HashMap::new();
    for v in &issued {
        *per_citizen.entry(v.0).or_default() += 1;
        assert!(registered.contains(&(v.0, v.1)), "every winner registered for the kind won");
    }
    assert!(per_citizen.values().all(|n| *n <= 2), "per-person limit");
    // The draw stops only at a limit: every registration left out would break the kind's
    // stock, the budget or the citizen's limit had it been granted.
    let won: HashSet<(i64, i64)> = issued.iter().map(|v| (v.0, v.1)).collect();
    for &(citizen, kind_id) in registered.difference(&won) {
        let k = c.kinds.iter().find(|k| k.id == kind_id).unwrap();
        let kind_full = issued.iter().filter(|v| v.1 == kind_id).count() as i64 >= k.stock_total;
        let over_budget = 1_200_00 - spent < k.discount_fen;
        let at_limit = per_citizen.get(&citizen).copied().unwrap_or(0) >= 2;
        assert!(kind_full || over_budget || at_limit, "({citizen}, {kind_id}) was left out with room for it");
    }

    let after = store.campaign(c.id).await.unwrap().unwrap();
    assert_eq!(after.budget_remaining_fen, 1_200_00 - spent);
    for (k, before) in after.kinds.iter().zip(&c.kinds) {
        let n = issued.iter().filter(|v| v.1 == k.id).count() as i64;
        assert_eq!(k.stock_remaining, before.stock_total - n);
    }
    let report = store.verify_ledger().await.expect("verify");
    assert_eq!(report.breaks, vec![], "the ledger verifies clean after a draw");
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM audit_log").await,
        audit_before + 1,
        "one audit record for the draw"
    );
    assert_eq!(count(&store, "SELECT COUNT(*) FROM audit_log WHERE action = 'voucher.lottery.draw'").await, 1);

    // Anyone with the recorded draw recomputes the same winners.
    let recorded = store.lottery_draw(c.id).await.unwrap().expect("recorded draw");
    assert_eq!(recorded, d);
    let regs = store.lottery_registrations(c.id).await.unwrap();
    let again = draw(&recorded.seed, c.id, &recorded.draw_kinds(), recorded.budget_fen, after.per_person_limit, &regs);
    let mut recomputed: Vec<(i64, i64)> = again.iter().map(|r| (r.citizen_id, r.kind_id)).collect();
    let mut stored: Vec<(i64, i64)> = issued.iter().map(|v| (v.0, v.1)).collect();
    recomputed.sort_unstable();
    stored.sort_unstable();
    assert_eq!(recomputed, stored, "the recorded seed gives the same winners");

    // The winners' vouchers are ordinary vouchers: in their wallets, with a claimed status.
    let winner = issued[0].0;
    let wallet = store.wallet(winner).await.unwrap();
    assert!(wallet.iter().all(|v| v.status == "claimed" && v.campaign_id == c.id));

    // A second draw is refused and changes nothing.
    let before = snapshot(&store).await;
    match store.draw_lottery(&actor(), c.id, T0 + 3 * HOUR).await {
        Err(LotteryError::Draw(r)) => assert_eq!(r, DrawRefusal::AlreadyDrawn),
        other => panic!("a second draw must be refused: {other:?}"),
    }
    assert_eq!(snapshot(&store).await, before, "a refused draw writes nothing");
    assert_eq!(store.lottery_draw(c.id).await.unwrap(), Some(d), "the first draw stands");
}

async fn a_campaign_is_drawn_once_even_when_two_draws_race(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "lottery draw race").await else {
        return;
    };
    let c = store
        .create_campaign(&actor(), &spec("摇号消费季", ClaimMode::Lottery, (3, 1), 10_000_00, 1), T0 - HOUR)
        .await
        .expect("campaign");
    for i in 0..5 {
        let id = user(&store, &format!("citizen_{i}"), "citizen").await;
        store
            .register_for_lottery(&actor(), id, c.id, c.kinds[i % 2].id, T0 + HOUR)
            .await
            .expect("register");
    }
    let op = actor();
    let (a, b) = tokio::join!(store.draw_lottery(&op, c.id, T0 + 2 * HOUR), store.draw_lottery(&op, c.id, T0 + 2 * HOUR));
    let ok = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one draw wins: {a:?} {b:?}");
    for r in [a, b] {
        if let Err(e) = r {
            assert!(matches!(e, LotteryError::Draw(DrawRefusal::AlreadyDrawn)), "the other is refused: {e:?}");
        }
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM voucher_draws").await, 1);
    let vouchers = count(&store, "SELECT COUNT(*) FROM vouchers").await;
    assert!(vouchers <= 4 && vouchers == store.lottery_draw(c.id).await.unwrap().unwrap().winners);
    assert_eq!(store.verify_ledger().await.unwrap().breaks, vec![]);
}

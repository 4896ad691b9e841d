//! The claim decision: given what a campaign has left and what its citizens already hold,
//! which claims of a batch are granted, replayed or refused, and why.
//!
//! The store's claim engine reads the campaign's state under its write lock, calls
//! [`decide_batch`], writes exactly the vouchers it returns and answers every request only
//! after the commit. Because the decision is a pure function of the state read under the
//! lock, stock, budget and the per-person limit hold across any number of engine tasks and
//! server processes, and a retried request finds its stored voucher through its key.

use crate::model::ClaimMode;
use serde::Serialize;
use std::collections::HashMap;

/// A kind's state as the engine reads it under the campaign's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindState {
    pub kind_id: i64,
    pub discount_fen: i64,
    pub stock_remaining: i64,
}

/// A campaign's state as the engine reads it under the campaign's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignState {
    pub campaign_id: i64,
    pub mode: ClaimMode,
    pub active: bool,
    pub claim_start_ms: i64,
    pub claim_end_ms: i64,
    pub per_person_limit: i64,
    pub budget_remaining_fen: i64,
    pub kinds: Vec<KindState>,
}

/// One citizen's request for one voucher of a kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClaimRequest {
    pub citizen_id: i64,
    pub kind_id: i64,
    pub idempotency_key: String,
}

/// What the citizens of a batch already hold in the campaign, read under the lock.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    /// Vouchers held per citizen (every status: a spent or expired voucher still counts).
    pub held: HashMap<i64, i64>,
    /// Stored vouchers by (citizen, idempotency key): (voucher id, kind id).
    pub keys: HashMap<(i64, String), (i64, i64)>,
}

/// Why a claim was refused. A refusal changes nothing, so it is not stored: a retry is
/// decided afresh and, with the stock only ever going down during a window, gets the same
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimRefusal {
    CampaignNotFound,
    NotOpenYet,
    Closed,
    LotteryOnly,
    UnknownKind,
    SoldOut,
    BudgetExhausted,
    LimitReached,
    KeyReused,
    BadKey,
}

impl ClaimRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ClaimRefusal::CampaignNotFound => "campaign_not_found",
            ClaimRefusal::NotOpenYet => "not_open_yet",
            ClaimRefusal::Closed => "claim_window_closed",
            ClaimRefusal::LotteryOnly => "lottery_only",
            ClaimRefusal::UnknownKind => "unknown_kind",
            ClaimRefusal::SoldOut => "sold_out",
            ClaimRefusal::BudgetExhausted => "budget_exhausted",
            ClaimRefusal::LimitReached => "per_person_limit_reached",
            ClaimRefusal::KeyReused => "idempotency_key_reused",
            ClaimRefusal::BadKey => "bad_idempotency_key",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ClaimRefusal::CampaignNotFound => "there is no such campaign",
            ClaimRefusal::NotOpenYet => "the claim window has not opened yet",
            ClaimRefusal::Closed => "the claim window has closed",
            ClaimRefusal::LotteryOnly => "this campaign hands out vouchers by lottery: register instead",
            ClaimRefusal::UnknownKind => "the campaign has no such voucher kind",
            ClaimRefusal::SoldOut => "this voucher kind is sold out",
            ClaimRefusal::BudgetExhausted => "the campaign's budget is spent",
            ClaimRefusal::LimitReached => "you hold as many vouchers of this campaign as one person may",
            ClaimRefusal::KeyReused => "this idempotency key was used for a different claim",
            ClaimRefusal::BadKey => "the idempotency key must be 1 to 64 letters, digits, '-' or '_'",
        }
    }
}

/// A voucher the batch grants, to be written by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVoucher {
    pub citizen_id: i64,
    pub kind_id: i64,
    /// 1..=per-person limit: with (campaign, citizen, slot) unique, the database itself refuses
    /// a citizen's voucher beyond the limit.
    pub slot: i64,
    pub idempotency_key: String,
    pub discount_fen: i64,
}

/// The answer to one request of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Granted: the voucher is `new_vouchers[index]` (a duplicate request in the same batch
    /// points at the same one).
    Granted {
        index: usize,
    },
    /// A retry of a stored claim: the same voucher again.
    Replayed {
        voucher_id: i64,
        kind_id: i64,
    },
    Refused(ClaimRefusal),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchDecision {
    pub outcomes: Vec<ClaimOutcome>,
    pub new_vouchers: Vec<NewVoucher>,
    /// Per kind id: vouchers granted and their total discount.
    pub taken: Vec<(i64, i64, i64)>,
    pub budget_taken_fen: i64,
}

/// True when an idempotency key has the shape the API accepts.
pub fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decides a batch of claims on one campaign in arrival order.
pub fn decide_batch(state: &CampaignState, holdings: &Holdings, requests: &[ClaimRequest], now_ms: i64) -> BatchDecision {
    let mut out = BatchDecision::default();
    let mut stock: HashMap<i64, (i64, i64)> = state.kinds.iter().map(|k| (k.kind_id, (k.stock_remaining, k.discount_fen))).collect();
    let mut budget = state.budget_remaining_fen;
    let mut held = holdings.held.clone();
    // Requests of this batch already decided, by (citizen, key): the outcome they got.
    let mut in_batch: HashMap<(i64, &str), (ClaimOutcome, i64)> = HashMap::new();
    let mut taken: HashMap<i64, (i64, i64)> = HashMap::new();
    for r in requests {
        let outcome = (|| {
            if !valid_key(&r.idempotency_key) {
                return ClaimOutcome::Refused(ClaimRefusal::BadKey);
            }
            if let Some(&(voucher_id, kind_id)) = holdings.keys.get(&(r.citizen_id, r.idempotency_key.clone())) {
                return if kind_id == r.kind_id {
                    ClaimOutcome::Replayed { voucher_id, kind_id }
                } else {
                    ClaimOutcome::Refused(ClaimRefusal::KeyReused)
                };
            }
            if let Some((o, kind_id)) = in_batch.get(&(r.citizen_id, r.idempotency_key.as_str())) {
                return if *kind_id == r.kind_id {
                    o.clone()
                } else {
                    ClaimOutcome::Refused(ClaimRefusal::KeyReused)
                };
            }
            if !state.active {
                return ClaimOutcome::Refused(ClaimRefusal::Closed);
            }
            if state.mode == ClaimMode::Lottery {
                return ClaimOutcome::Refused(ClaimRefusal::LotteryOnly);
            }
            if now_ms < state.claim_start_ms {
                return ClaimOutcome::Refused(ClaimRefusal::NotOpenYet);
            }
            if now_ms >= state.claim_end_ms {
                return ClaimOutcome::Refused(ClaimRefusal::Closed);
            }
            let Some((remaining, discount)) = stock.get_mut(&r.kind_id) else {
                return ClaimOutcome::Refused(ClaimRefusal::UnknownKind);
            };
            let count = held.entry(r.citizen_id).or_insert(0);
            if *count >= state.per_person_limit {
                return ClaimOutcome::Refused(ClaimRefusal::LimitReached);
            }
            if *remaining <= 0 {
                return ClaimOutcome::Refused(ClaimRefusal::SoldOut);
            }
            if *discount > budget {
                return ClaimOutcome::Refused(ClaimRefusal::BudgetExhausted);
            }
            *remaining -= 1;
            budget -= *discount;
            *count += 1;
            let t = taken.entry(r.kind_id).or_insert((0, 0));
            t.0 += 1;
            t.1 += *discount;
            out.new_vouchers.push(NewVoucher {
                citizen_id: r.citizen_id,
                kind_id: r.kind_id,
                slot: *count,
                idempotency_key: r.idempotency_key.clone(),
                discount_fen: *discount,
            });
            ClaimOutcome::Granted {
                index: out.new_vouchers.len() - 1,
            }
        })();
        if valid_key(&r.idempotency_key) {
            in_batch
                .entry((r.citizen_id, r.idempotency_key.as_str()))
                .or_insert((outcome.clone(), r.kind_id));
        }
        out.outcomes.push(outcome);
    }
    let mut taken: Vec<(i64, i64, i64)> = taken.into_iter().map(|(k, (n, a))| (k, n, a)).collect();
    taken.sort();
    out.budget_taken_fen = state.budget_remaining_fen - budget;
    out.taken = taken;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stock: i64, budget: i64, limit: i64) -> CampaignState {
        CampaignState {
            campaign_id: 1,
            mode: ClaimMode::FirstCome,
            active: true,
            claim_start_ms: 100,
            claim_end_ms: 200,
            per_person_limit: limit,
            budget_remaining_fen: budget,
            kinds: vec![KindState {
                kind_id: 7,
                discount_fen: 50_00,
                stock_remaining: stock,
            }],
        }
    }

    fn req(citizen: i64, key: &str) -> ClaimRequest {
        ClaimRequest {
            citizen_id: citizen,
            kind_id: 7,
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn stock_budget_and_limit_each_stop_the_batch_at_the_exact_voucher() {
        let reqs: Vec<_> = (0..10).map(|i| req(i, "k")).collect();
        let d = decide_batch(&state(3, 1_000_000, 1), &Holdings::default(), &reqs, 150);
        assert_eq!(d.new_vouchers.len(), 3);
        assert_eq!(d.outcomes[3], ClaimOutcome::Refused(ClaimRefusal::SoldOut));
        let d = decide_batch(&state(100, 120_00, 1), &Holdings::default(), &reqs, 150);
        assert_eq!(d.new_vouchers.len(), 2);
        assert_eq!(d.budget_taken_fen, 100_00);
        assert_eq!(d.outcomes[2], ClaimOutcome::Refused(ClaimRefusal::BudgetExhausted));
        let reqs: Vec<_> = (0..5).map(|i| req(1, &format!("k{i}"))).collect();
        let d = decide_batch(&state(100, 1_000_000, 2), &Holdings::default(), &reqs, 150);
        assert_eq!(d.new_vouchers.iter().map(|v| v.slot).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(d.outcomes[2], ClaimOutcome::Refused(ClaimRefusal::LimitReached));
    }

    #[test]
    fn a_repeated_key_gets_the_same_voucher_in_the_batch_and_after_it() {
        let d = decide_batch(&state(5, 1_000_000, 3), &Holdings::default(), &[req(1, "a"), req(1, "a")], 150);
        assert_eq!(d.new_vouchers.len(), 1);
        assert_eq!(d.outcomes[0], d.outcomes[1]);
        let mut h = Holdings::default();
        h.held.insert(1, 1);
        h.keys.insert((1, "a".into()), (42, 7));
        let d = decide_batch(&state(5, 1_000_000, 3), &h, &[req(1, "a")], 150);
        assert_eq!(d.outcomes[0], ClaimOutcome::Replayed { voucher_id: 42, kind_id: 7 });
        let mut other = req(1, "a");
        other.kind_id = 8;
        let d = decide_batch(&state(5, 1_000_000, 3), &h, &[other], 150);
        assert_eq!(d.outcomes[0], ClaimOutcome::Refused(ClaimRefusal::KeyReused));
    }

    #[test]
    fn the_window_mode_and_key_shape_are_checked() {
        let s = state(5, 1_000_000, 3);
        assert_eq!(
            decide_batch(&s, &Holdings::default(), &[req(1, "a")], 99).outcomes[0],
            ClaimOutcome::Refused(ClaimRefusal::NotOpenYet)
        );
        assert_eq!(
            decide_batch(&s, &Holdings::default(), &[req(1, "a")], 200).outcomes[0],
            ClaimOutcome::Refused(ClaimRefusal::Closed)
        );
        assert_eq!(
            decide_batch(&s, &Holdings::default(), &[req(1, "a b")], 150).outcomes[0],
            ClaimOutcome::Refused(ClaimRefusal::BadKey)
        );
        let mut l = s.clone();
        l.mode = ClaimMode::Lottery;
        assert_eq!(
            decide_batch(&l, &Holdings::default(), &[req(1, "a")], 150).outcomes[0],
            ClaimOutcome::Refused(ClaimRefusal::LotteryOnly)
        );
    }
}

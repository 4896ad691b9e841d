//! An in-memory campaign that applies exactly the crate's rules and writes the same ledger
//! entries the store writes. Property tests drive it through random interleavings of
//! claims, retries, redemptions, refunds, settlements and expiries, and reconcile the ledger
//! after every step; the store's tests then check the store against the same invariants.

use crate::claim::{CampaignState, ClaimOutcome, ClaimRequest, Holdings, KindState, decide_batch};
use crate::ledger::{CampaignFacts, ChainWalker, Entry, EntryKind, GENESIS_HASH, KindFacts, LedgerBreak, VoucherSums, next_entry, reconcile};
use crate::model::{CampaignSpec, Category};
use crate::redeem::{MerchantFacts, RedeemRefusal, VoucherFacts, VoucherStatus, check_redemption, check_refund};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct SimVoucher {
    pub id: i64,
    pub citizen_id: i64,
    pub kind_index: usize,
    pub key: String,
    /// The citizen's count once this voucher was issued (1..n).
    pub slot: i64,
    pub status: VoucherStatus,
    pub redeemed_by: Option<i64>,
}

/// One campaign held in memory.
#[derive(Debug, Clone)]
pub struct SimCampaign {
    pub spec: CampaignSpec,
    pub stock_remaining: Vec<i64>,
    pub budget_remaining_fen: i64,
    pub vouchers: Vec<SimVoucher>,
    pub entries: Vec<Entry>,
}

impl SimCampaign {
    pub fn new(spec: CampaignSpec, at_ms: i64) -> SimCampaign {
        let mut c = SimCampaign {
            stock_remaining: spec.kinds.iter().map(|k| k.stock).collect(),
            budget_remaining_fen: spec.budget_fen,
            spec,
            vouchers: Vec::new(),
            entries: Vec::new(),
        };
        c.append(EntryKind::Fund, None, None, 0, c.spec.budget_fen, at_ms);
        c
    }

    fn append(&mut self, kind: EntryKind, kind_id: Option<i64>, voucher_id: Option<i64>, count: i64, amount: i64, at_ms: i64) {
        let (seq, hash) = self.entries.last().map(|e| (e.seq, e.hash.clone())).unwrap_or((0, GENESIS_HASH.to_string()));
        self.entries.push(next_entry(1, seq, &hash, kind, kind_id, voucher_id, count, amount, at_ms));
    }

    /// Claims a batch; returns each request's voucher id or refusal.
    pub fn claim(&mut self, requests: &[ClaimRequest], now_ms: i64) -> Vec<Result<i64, crate::claim::ClaimRefusal>> {
        let state = CampaignState {
            campaign_id: 1,
            mode: self.spec.claim_mode,
            active: true,
            claim_start_ms: self.spec.claim_start_ms,
            claim_end_ms: self.spec.claim_end_ms,
            per_person_limit: self.spec.per_person_limit,
            budget_remaining_fen: self.budget_remaining_fen,
            kinds: self
                .spec
                .kinds
                .iter()
                .enumerate()
                .map(|(i, k)| KindState {
                    kind_id: i as i64 + 1,
                    discount_fen: k.discount_fen,
                    stock_remaining: self.stock_remaining[i],
                })
                .collect(),
        };
        let mut holdings = Holdings::default();
        for v in &self.vouchers {
            // As the store reads it: the citizen's highest slot.
            let held = holdings.held.entry(v.citizen_id).or_insert(0);
            *held = v.slot.max(*held);
            holdings.keys.insert((v.citizen_id, v.key.clone()), (v.id, v.kind_index as i64 + 1));
        }
        let d = decide_batch(&state, &holdings, requests, now_ms);
        let first_id = self.vouchers.len() as i64 + 1;
        for (i, nv) in d.new_vouchers.iter().enumerate() {
            self.vouchers.push(SimVoucher {
                id: first_id + i as i64,
                citizen_id: nv.citizen_id,
                kind_index: (nv.kind_id - 1) as usize,
                key: nv.idempotency_key.clone(),
                slot: nv.slot,
                status: VoucherStatus::Claimed,
                redeemed_by: None,
            });
        }
        for &(kind_id, n, amount) in &d.taken {
            self.stock_remaining[(kind_id - 1) as usize] -= n;
            self.budget_remaining_fen -= amount;
            self.append(EntryKind::Claim, Some(kind_id), None, n, amount, now_ms);
        }
        d.outcomes
            .iter()
            .map(|o| match o {
                ClaimOutcome::Granted { index } => Ok(first_id + *index as i64),
                ClaimOutcome::Replayed { voucher_id, .. } => Ok(*voucher_id),
                ClaimOutcome::Refused(r) => Err(*r),
            })
            .collect()
    }

    fn facts(&self, id: i64) -> Option<VoucherFacts> {
        let v = self.vouchers.get((id - 1) as usize)?;
        let k = &self.spec.kinds[v.kind_index];
        Some(VoucherFacts {
            status: v.status,
            category: k.category,
            threshold_fen: k.threshold_fen,
            valid_from_ms: self.spec.valid_from_ms,
            valid_until_ms: self.spec.valid_until_ms,
        })
    }

    fn discount(&self, id: i64) -> i64 {
        self.spec.kinds[self.vouchers[(id - 1) as usize].kind_index].discount_fen
    }

    pub fn redeem(&mut self, id: i64, merchant_id: i64, categories: &[Category], purchase_fen: i64, now_ms: i64) -> Result<(), RedeemRefusal> {
        let facts = self.facts(id).ok_or(RedeemRefusal::UnknownVoucher)?;
        let m = MerchantFacts {
            approved: true,
            categories: categories.to_vec(),
        };
        check_redemption(&facts, &m, purchase_fen, now_ms)?;
        let v = &mut self.vouchers[(id - 1) as usize];
        v.status = VoucherStatus::Redeemed;
        v.redeemed_by = Some(merchant_id);
        let amount = self.discount(id);
        self.append(EntryKind::Redeem, None, Some(id), 1, amount, now_ms);
        Ok(())
    }

    pub fn refund(&mut self, id: i64, merchant_id: i64, now_ms: i64) -> Result<(), RedeemRefusal> {
        let facts = self.facts(id).ok_or(RedeemRefusal::UnknownVoucher)?;
        check_refund(&facts, self.vouchers[(id - 1) as usize].redeemed_by, merchant_id, now_ms)?;
        let v = &mut self.vouchers[(id - 1) as usize];
        v.status = VoucherStatus::Claimed;
        v.redeemed_by = None;
        let amount = self.discount(id);
        self.append(EntryKind::Refund, None, Some(id), 1, amount, now_ms);
        Ok(())
    }

    /// Settles every redeemed voucher (the daily batch); returns how many.
    pub fn settle(&mut self, now_ms: i64) -> usize {
        let ids: Vec<i64> = self.vouchers.iter().filter(|v| v.status == VoucherStatus::Redeemed).map(|v| v.id).collect();
        for &id in &ids {
            self.vouchers[(id - 1) as usize].status = VoucherStatus::Settled;
            let amount = self.discount(id);
            self.append(EntryKind::Settle, None, Some(id), 1, amount, now_ms);
        }
        ids.len()
    }

    /// Expires every unspent voucher once the validity has ended; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> usize {
        if now_ms < self.spec.valid_until_ms {
            return 0;
        }
        let ids: Vec<i64> = self.vouchers.iter().filter(|v| v.status == VoucherStatus::Claimed).map(|v| v.id).collect();
        for &id in &ids {
            self.vouchers[(id - 1) as usize].status = VoucherStatus::Expired;
            let amount = self.discount(id);
            self.append(EntryKind::Expire, None, Some(id), 1, amount, now_ms);
            self.append(EntryKind::Return, None, Some(id), 1, amount, now_ms);
            self.budget_remaining_fen += amount;
        }
        ids.len()
    }

    /// Every break of every invariant, from the chain and the vouchers.
    pub fn verify(&self) -> Vec<LedgerBreak> {
        let mut walk = ChainWalker::new(1);
        for e in &self.entries {
            walk.push(e);
        }
        let (seq, hash) = self.entries.last().map(|e| (e.seq, e.hash.clone())).unwrap_or((0, GENESIS_HASH.to_string()));
        walk.finish(seq, &hash);
        let mut sums = VoucherSums::default();
        let mut held: HashMap<i64, (i64, i64)> = HashMap::new();
        let mut per_kind = vec![0i64; self.spec.kinds.len()];
        for v in &self.vouchers {
            let d = self.discount(v.id);
            match v.status {
                VoucherStatus::Claimed => sums.claimed_fen += d,
                VoucherStatus::Redeemed => sums.redeemed_fen += d,
                VoucherStatus::Settled => sums.settled_fen += d,
                VoucherStatus::Expired => sums.expired_fen += d,
            }
            sums.vouchers += 1;
            let (count, top) = held.entry(v.citizen_id).or_insert((0, 0));
            *count += 1;
            *top = v.slot.max(*top);
            per_kind[v.kind_index] += 1;
        }
        let facts = CampaignFacts {
            campaign_id: 1,
            budget_total_fen: self.spec.budget_fen,
            budget_remaining_fen: self.budget_remaining_fen,
            per_person_limit: self.spec.per_person_limit,
            most_held_by_one_citizen: held.values().map(|&(count, _)| count).max().unwrap_or(0),
            citizens_with_slot_gaps: held.values().filter(|&&(count, top)| count != top).count() as i64,
            sums,
            kinds: self
                .spec
                .kinds
                .iter()
                .enumerate()
                .map(|(i, k)| KindFacts {
                    kind_id: i as i64 + 1,
                    stock_total: k.stock,
                    stock_remaining: self.stock_remaining[i],
                    vouchers: per_kind[i],
                })
                .collect(),
        };
        reconcile(&walk, &facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClaimMode, KindSpec};
    use proptest::prelude::*;

    fn spec(stock: i64, budget_fen: i64, limit: i64) -> CampaignSpec {
        CampaignSpec {
            name: "测试".into(),
            budget_fen,
            per_person_limit: limit,
            claim_mode: ClaimMode::FirstCome,
            claim_start_ms: 0,
            claim_end_ms: 1_000,
            valid_from_ms: 0,
            valid_until_ms: 2_000,
            kinds: vec![
                KindSpec {
                    name: "餐饮".into(),
                    category: Category::Catering,
                    threshold_fen: 300,
                    discount_fen: 50,
                    stock,
                },
                KindSpec {
                    name: "家电".into(),
                    category: Category::Appliance,
                    threshold_fen: 1000,
                    discount_fen: 200,
                    stock: stock / 2 + 1,
                },
            ],
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Claim(Vec<(i64, i64, u8)>),
        Redeem(usize, i64, bool),
        Refund(usize, i64),
        Settle,
        Expire,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => prop::collection::vec((1i64..8, 1i64..3, 0u8..6), 1..12).prop_map(Op::Claim),
            3 => (0usize..64, 0i64..1500, any::<bool>()).prop_map(|(v, p, right)| Op::Redeem(v, p, right)),
            1 => (0usize..64, 1i64..3).prop_map(|(v, m)| Op::Refund(v, m)),
            1 => Just(Op::Settle),
            1 => Just(Op::Expire),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn random_interleavings_keep_every_ledger_invariant(
            stock in 1i64..20, budget in 100i64..5_000, limit in 1i64..4,
            ops in prop::collection::vec(op(), 1..40),
        ) {
            let mut c = SimCampaign::new(spec(stock, budget, limit), 0);
            let mut answers: HashMap<(i64, String), i64> = HashMap::new();
            let mut now = 0;
            for op in ops {
                now += 25;
                match op {
                    Op::Claim(reqs) => {
                        let reqs: Vec<ClaimRequest> = reqs.into_iter().map(|(citizen, kind, key)| ClaimRequest {
                            citizen_id: citizen, kind_id: kind, idempotency_key: format!("k{key}-{kind}"),
                        }).collect();
                        let out = c.claim(&reqs, now);
                        for (r, o) in reqs.iter().zip(out) {
                            if let Ok(id) = o {
                                // A key once answered with a voucher always gets that voucher.
                                let first = *answers.entry((r.citizen_id, r.idempotency_key.clone())).or_insert(id);
                                prop_assert_eq!(first, id);
                            }
                        }
                    }
                    Op::Redeem(v, purchase, right) => {
                        if !c.vouchers.is_empty() {
                            let id = (v % c.vouchers.len()) as i64 + 1;
                            let cats = if right { Category::ALL.to_vec() } else { vec![Category::Car] };
                            let before = c.entries.len();
                            if c.redeem(id, 1, &cats, purchase, now).is_err() {
                                prop_assert_eq!(before, c.entries.len());
                            }
                        }
                    }
                    Op::Refund(v, m) => {
                        if !c.vouchers.is_empty() {
                            let id = (v % c.vouchers.len()) as i64 + 1;
                            let _ = c.refund(id, m, now);
                        }
                    }
                    Op::Settle => { c.settle(now); }
                    Op::Expire => { c.expire(now); }
                }
                prop_assert_eq!(c.verify(), vec![]);
                for (i, k) in c.spec.kinds.iter().enumerate() {
                    prop_assert!(c.vouchers.iter().filter(|v| v.kind_index == i).count() as i64 <= k.stock);
                }
            }
        }
    }

    #[test]
    fn a_voucher_row_changed_without_its_entry_is_found() {
        let mut c = SimCampaign::new(spec(5, 1000, 2), 0);
        let ids = c.claim(
            &[ClaimRequest {
                citizen_id: 1,
                kind_id: 1,
                idempotency_key: "a".into(),
            }],
            10,
        );
        assert_eq!(c.verify(), vec![]);
        c.vouchers[(ids[0].unwrap() - 1) as usize].status = VoucherStatus::Redeemed;
        assert!(matches!(c.verify()[0], LedgerBreak::AccountMismatch { .. }));
    }
}

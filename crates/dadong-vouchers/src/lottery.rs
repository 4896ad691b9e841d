//! The lottery claim mode (SPEC section 6): who may register, and the draw.
//!
//! The draw is deterministic and reproducible: each registration is ranked by
//! SHA-256(seed ‖ 0x00 ‖ campaign_id ‖ 0x00 ‖ citizen_id ‖ 0x00 ‖ kind_id), lowest first;
//! registrations are taken in that order while the kind has stock, the budget covers the
//! kind's discount and the citizen is under the per-person limit. The same seed always gives
//! the same winners; anyone holding the recorded seed can recompute them.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One citizen's registration for one voucher kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub citizen_id: i64,
    pub kind_id: i64,
}

/// What a kind offers to the draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawKind {
    pub kind_id: i64,
    pub stock: i64,
    pub discount_fen: i64,
}

/// Why a registration is refused. A refusal changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterRefusal {
    NotLottery,
    NotActive,
    NotOpenYet,
    Closed,
    AlreadyDrawn,
    OverLimit,
}

impl RegisterRefusal {
    /// The stable code the API answers with.
    pub fn code(self) -> &'static str {
        match self {
            RegisterRefusal::NotLottery => "not_lottery",
            RegisterRefusal::NotActive => "campaign_closed",
            RegisterRefusal::NotOpenYet => "not_open_yet",
            RegisterRefusal::Closed => "registration_closed",
            RegisterRefusal::AlreadyDrawn => "already_drawn",
            RegisterRefusal::OverLimit => "per_person_limit_reached",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            RegisterRefusal::NotLottery => "this campaign hands out vouchers first come, first served: claim instead",
            RegisterRefusal::NotActive => "this campaign has been closed",
            RegisterRefusal::NotOpenYet => "registration opens with the claim window",
            RegisterRefusal::Closed => "registration closed with the claim window",
            RegisterRefusal::AlreadyDrawn => "the lottery has been drawn: registration is closed",
            RegisterRefusal::OverLimit => "you have registered for as many kinds as one person may hold vouchers",
        }
    }
}

/// Whether a citizen may register: lottery mode, active, within the claim window (which is
/// the registration window) and before the draw, and under the per-person limit of kinds (a
/// repeat registration for the same kind is answered by the store as idempotent and not
/// checked here).
#[allow(clippy::too_many_arguments)]
pub fn may_register(
    is_lottery: bool,
    active: bool,
    drawn: bool,
    claim_start_ms: i64,
    claim_end_ms: i64,
    now_ms: i64,
    kinds_registered: i64,
    per_person_limit: i64,
) -> Result<(), RegisterRefusal> {
    if !is_lottery {
        return Err(RegisterRefusal::NotLottery);
    }
    if !active {
        return Err(RegisterRefusal::NotActive);
    }
    if drawn {
        return Err(RegisterRefusal::AlreadyDrawn);
    }
    if now_ms < claim_start_ms {
        return Err(RegisterRefusal::NotOpenYet);
    }
    if now_ms >= claim_end_ms {
        return Err(RegisterRefusal::Closed);
    }
    if kinds_registered >= per_person_limit {
        return Err(RegisterRefusal::OverLimit);
    }
    Ok(())
}

/// Why a draw is refused. A refusal changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawRefusal {
    NotLottery,
    NotOpenYet,
    AlreadyDrawn,
    Expired,
}

impl DrawRefusal {
    /// The stable code the API answers with.
    pub fn code(self) -> &'static str {
        match self {
            DrawRefusal::NotLottery => "not_lottery",
            DrawRefusal::NotOpenYet => "not_open_yet",
            DrawRefusal::AlreadyDrawn => "already_drawn",
            DrawRefusal::Expired => "vouchers_expired",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            DrawRefusal::NotLottery => "this campaign hands out vouchers first come, first served: there is nothing to draw",
            DrawRefusal::NotOpenYet => "the draw can be made once registration has opened with the claim window",
            DrawRefusal::AlreadyDrawn => "this campaign has been drawn already: a campaign is drawn once",
            DrawRefusal::Expired => "the vouchers' validity has ended: drawing now would issue vouchers nobody can spend",
        }
    }
}

/// Whether a campaign may be drawn: lottery mode, not drawn yet, registration opened, and the
/// vouchers still valid. The draw may come before the claim window ends: it closes
/// registration (see [`may_register`]), and an administrator closing a campaign early
/// (inactive) may still draw among those who registered.
pub fn may_draw(is_lottery: bool, drawn: bool, claim_start_ms: i64, valid_until_ms: i64, now_ms: i64) -> Result<(), DrawRefusal> {
    if !is_lottery {
        return Err(DrawRefusal::NotLottery);
    }
    if drawn {
        return Err(DrawRefusal::AlreadyDrawn);
    }
    if now_ms < claim_start_ms {
        return Err(DrawRefusal::NotOpenYet);
    }
    if now_ms >= valid_until_ms {
        return Err(DrawRefusal::Expired);
    }
    Ok(())
}

/// The rank of one registration under a seed (lower wins first).
pub fn rank(seed: &str, campaign_id: i64, r: &Registration) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.as_bytes());
    h.update([0]);
    h.update(campaign_id.to_string().as_bytes());
    h.update([0]);
    h.update(r.citizen_id.to_string().as_bytes());
    h.update([0]);
    h.update(r.kind_id.to_string().as_bytes());
    h.finalize().into()
}

/// The winners of a draw, in rank order.
pub fn draw(seed: &str, campaign_id: i64, kinds: &[DrawKind], budget_fen: i64, per_person_limit: i64, registrations: &[Registration]) -> Vec<Registration> {
    let mut ranked: Vec<([u8; 32], &Registration)> = registrations.iter().map(|r| (rank(seed, campaign_id, r), r)).collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then((a.1.citizen_id, a.1.kind_id).cmp(&(b.1.citizen_id, b.1.kind_id))));
    let mut stock: std::collections::HashMap<i64, (i64, i64)> = kinds.iter().map(|k| (k.kind_id, (k.stock, k.discount_fen))).collect();
    let mut per_citizen: std::collections::HashMap<i64, i64> = Default::default();
    let mut seen: std::collections::HashSet<(i64, i64)> = Default::default();
    let mut budget = budget_fen;
    let mut winners = Vec::new();
    for (_, r) in ranked {
        if !seen.insert((r.citizen_id, r.kind_id)) {
            continue;
        }
        let Some((left, discount)) = stock.get_mut(&r.kind_id) else {
            continue;
        };
        let held = per_citizen.entry(r.citizen_id).or_insert(0);
        if *left <= 0 || *discount > budget || *held >= per_person_limit {
            continue;
        }
        *left -= 1;
        budget -= *discount;
        *held += 1;
        winners.push(r.clone());
    }
    winners
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn draw_respects_limits(
            regs in proptest::collection::vec((0i64..20, 0i64..4), 0..80),
            stocks in proptest::collection::vec(0i64..10, 4),
            budget in 0i64..5000,
            limit in 1i64..4,
            seed in "[a-z0-9]{0,12}",
        ) {
            let kinds: Vec<DrawKind> = stocks.iter().enumerate()
                .map(|(i, s)| DrawKind { kind_id: i as i64, stock: *s, discount_fen: 100 * (i as i64 + 1) })
                .collect();
            let regs: Vec<Registration> = regs.into_iter()
                .map(|(c, k)| Registration { citizen_id: c, kind_id: k }).collect();
            let w = draw(&seed, 7, &kinds, budget, limit, &regs);
            prop_assert_eq!(&w, &draw(&seed, 7, &kinds, budget, limit, &regs));
            let mut spent = 0;
            for k in &kinds {
                let n = w.iter().filter(|r| r.kind_id == k.kind_id).count() as i64;
                prop_assert!(n <= k.stock);
                spent += n * k.discount_fen;
            }
            prop_assert!(spent <= budget);
            for r in &w {
                prop_assert!(regs.contains(r));
                prop_assert!(w.iter().filter(|x| x.citizen_id == r.citizen_id).count() as i64 <= limit);
            }
        }
    }

    #[test]
    fn register_rules() {
        assert_eq!(may_register(false, true, false, 0, 10, 0, 0, 1), Err(RegisterRefusal::NotLottery));
        assert_eq!(may_register(true, false, false, 0, 10, 0, 0, 1), Err(RegisterRefusal::NotActive));
        assert_eq!(may_register(true, true, false, 5, 10, 4, 0, 1), Err(RegisterRefusal::NotOpenYet));
        assert_eq!(may_register(true, true, false, 0, 10, 10, 0, 1), Err(RegisterRefusal::Closed));
        assert_eq!(may_register(true, true, true, 0, 10, 0, 0, 1), Err(RegisterRefusal::AlreadyDrawn));
        assert_eq!(may_register(true, true, false, 0, 10, 0, 1, 1), Err(RegisterRefusal::OverLimit));
        assert_eq!(may_register(true, true, false, 0, 10, 0, 0, 1), Ok(()));
    }

    #[test]
    fn draw_rules() {
        assert_eq!(may_draw(false, false, 0, 10, 5), Err(DrawRefusal::NotLottery));
        assert_eq!(may_draw(true, true, 0, 10, 5), Err(DrawRefusal::AlreadyDrawn));
        assert_eq!(may_draw(true, false, 6, 10, 5), Err(DrawRefusal::NotOpenYet));
        assert_eq!(may_draw(true, false, 0, 10, 10), Err(DrawRefusal::Expired));
        assert_eq!(may_draw(true, false, 0, 10, 5), Ok(()));
    }
}

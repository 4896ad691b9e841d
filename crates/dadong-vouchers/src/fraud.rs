//! Fraud flags for review (SPEC section 6): patterns a reviewer should look at, never
//! automatic refusals. Each rule reads plain records and names what it saw.

use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// More distinct citizens than this claiming from one device (or one household) is flagged.
pub const CITIZENS_PER_DEVICE_MAX: usize = 5;
/// A merchant whose top few citizens make up this share (percent) of its redemptions...
pub const REPEAT_TOP_CITIZENS: usize = 3;
pub const REPEAT_SHARE_PCT_MIN: i64 = 50;
/// ...over at least this many redemptions is flagged.
pub const REDEMPTIONS_MIN: usize = 10;
/// A purchase within this many percent above the threshold counts as "just above"...
pub const JUST_ABOVE_PCT: i64 = 5;
/// ...and a merchant with this share (percent) of such purchases is flagged.
pub const JUST_ABOVE_SHARE_PCT_MIN: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum FraudFlag {
    /// Many citizens' claims came from one device or household.
    SharedDevice { device: String, citizens: usize },
    /// A merchant redeems for the same few citizens again and again.
    RepeatCitizens { merchant_id: i64, redemptions: usize, top_share_pct: i64 },
    /// A merchant's purchases cluster just above the threshold.
    JustAboveThreshold { merchant_id: i64, redemptions: usize, share_pct: i64 },
}

impl FraudFlag {
    /// A stable key, so that a flag is raised once and its review kept.
    pub fn key(&self) -> String {
        match self {
            FraudFlag::SharedDevice { device, .. } => format!("shared_device:{device}"),
            FraudFlag::RepeatCitizens { merchant_id, .. } => format!("repeat_citizens:{merchant_id}"),
            FraudFlag::JustAboveThreshold { merchant_id, .. } => format!("just_above_threshold:{merchant_id}"),
        }
    }
}

/// A claim as the fraud rules see it: who, from which device fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSeen {
    pub citizen_id: i64,
    pub device: String,
}

/// A redemption as the fraud rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionSeen {
    pub merchant_id: i64,
    pub citizen_id: i64,
    pub purchase_fen: i64,
    pub threshold_fen: i64,
}

/// Runs every rule; the flags come out in a stable order.
pub fn flags(claims: &[ClaimSeen], redemptions: &[RedemptionSeen]) -> Vec<FraudFlag> {
    let mut out = Vec::new();
    let mut by_device: HashMap<&str, HashSet<i64>> = HashMap::new();
    for c in claims.iter().filter(|c| !c.device.is_empty()) {
        by_device.entry(&c.device).or_default().insert(c.citizen_id);
    }
    let mut devices: Vec<_> = by_device.into_iter().filter(|(_, s)| s.len() > CITIZENS_PER_DEVICE_MAX).collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (device, citizens) in devices {
        out.push(FraudFlag::SharedDevice {
            device: device.to_string(),
            citizens: citizens.len(),
        });
    }
    let mut by_merchant: HashMap<i64, Vec<&RedemptionSeen>> = HashMap::new();
    for r in redemptions {
        by_merchant.entry(r.merchant_id).or_default().push(r);
    }
    let mut merchants: Vec<_> = by_merchant.into_iter().collect();
    merchants.sort_by_key(|(m, _)| *m);
    for (merchant_id, rs) in merchants {
        let n = rs.len();
        if n < REDEMPTIONS_MIN {
            continue;
        }
        let mut per_citizen: HashMap<i64, usize> = HashMap::new();
        for r in &rs {
            *per_citizen.entry(r.citizen_id).or_insert(0) += 1;
        }
        let mut counts: Vec<usize> = per_citizen.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts.iter().take(REPEAT_TOP_CITIZENS).sum();
        let top_share_pct = (top * 100 / n) as i64;
        if top_share_pct >= REPEAT_SHARE_PCT_MIN {
            out.push(FraudFlag::RepeatCitizens {
                merchant_id,
                redemptions: n,
                top_share_pct,
            });
        }
        let just_above = rs
            .iter()
            .filter(|r| r.purchase_fen >= r.threshold_fen && (r.purchase_fen - r.threshold_fen) * 100 <= r.threshold_fen * JUST_ABOVE_PCT)
            .count();
        let share_pct = (just_above * 100 / n) as i64;
        if share_pct >= JUST_ABOVE_SHARE_PCT_MIN {
            out.push(FraudFlag::JustAboveThreshold {
                merchant_id,
                redemptions: n,
                share_pct,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_flags_its_pattern_and_an_ordinary_merchant_is_not_flagged() {
        let claims: Vec<ClaimSeen> = (0..7)
            .map(|i| ClaimSeen {
                citizen_id: i,
                device: "dev-a".into(),
            })
            .chain((0..7).map(|i| ClaimSeen {
                citizen_id: 100 + i,
                device: format!("dev-{i}"),
            }))
            .collect();
        let r = |merchant_id, citizen_id, purchase_fen| RedemptionSeen {
            merchant_id,
            citizen_id,
            purchase_fen,
            threshold_fen: 30_000,
        };
        let mut rs = Vec::new();
        for i in 0..12 {
            rs.push(r(1, i % 2, 45_000)); // two citizens again and again
            rs.push(r(2, 100 + i, 30_500)); // just above the threshold
            rs.push(r(3, 200 + i, 30_000 + 5_000 * i)); // ordinary
        }
        let f = flags(&claims, &rs);
        assert_eq!(
            f,
            vec![
                FraudFlag::SharedDevice {
                    device: "dev-a".into(),
                    citizens: 7
                },
                FraudFlag::RepeatCitizens {
                    merchant_id: 1,
                    redemptions: 12,
                    top_share_pct: 100
                },
                FraudFlag::JustAboveThreshold {
                    merchant_id: 2,
                    redemptions: 12,
                    share_pct: 100
                },
            ]
        );
    }
}

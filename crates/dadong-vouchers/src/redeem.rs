//! What a scan must pass before a voucher is spent, and when a refund may return it.

use crate::model::Category;
use serde::Serialize;

/// A voucher's life: claimed → redeemed → settled, with a refund taking a redeemed voucher
/// back to claimed before settlement, and a claimed voucher expiring after its validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VoucherStatus {
    Claimed,
    Redeemed,
    Settled,
    Expired,
}

impl VoucherStatus {
    pub fn code(self) -> &'static str {
        match self {
            VoucherStatus::Claimed => "claimed",
            VoucherStatus::Redeemed => "redeemed",
            VoucherStatus::Settled => "settled",
            VoucherStatus::Expired => "expired",
        }
    }

    pub fn parse(code: &str) -> Option<VoucherStatus> {
        [VoucherStatus::Claimed, VoucherStatus::Redeemed, VoucherStatus::Settled, VoucherStatus::Expired]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// Why a scan or a refund was refused; none of these changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum RedeemRefusal {
    #[error("the voucher token is not valid: forged or altered")]
    Forged,
    #[error("there is no such voucher")]
    UnknownVoucher,
    #[error("this voucher has already been used")]
    AlreadyRedeemed,
    #[error("this voucher has expired")]
    Expired,
    #[error("this voucher is not valid yet")]
    NotValidYet,
    #[error("the purchase is under the voucher's threshold")]
    UnderThreshold,
    #[error("this merchant is not approved for the voucher's category")]
    WrongCategory,
    #[error("this merchant is not approved to take vouchers")]
    MerchantNotApproved,
    #[error("the purchase amount must be more than zero")]
    BadAmount,
    #[error("this voucher has not been redeemed")]
    NotRedeemed,
    #[error("only the merchant that redeemed a voucher may refund it")]
    OtherMerchant,
    #[error("this voucher has been settled and can no longer be refunded")]
    AlreadySettled,
}

impl RedeemRefusal {
    pub fn code(self) -> &'static str {
        match self {
            RedeemRefusal::Forged => "token_forged",
            RedeemRefusal::UnknownVoucher => "voucher_not_found",
            RedeemRefusal::AlreadyRedeemed => "already_redeemed",
            RedeemRefusal::Expired => "voucher_expired",
            RedeemRefusal::NotValidYet => "voucher_not_valid_yet",
            RedeemRefusal::UnderThreshold => "under_threshold",
            RedeemRefusal::WrongCategory => "wrong_category",
            RedeemRefusal::MerchantNotApproved => "merchant_not_approved",
            RedeemRefusal::BadAmount => "bad_amount",
            RedeemRefusal::NotRedeemed => "not_redeemed",
            RedeemRefusal::OtherMerchant => "other_merchant",
            RedeemRefusal::AlreadySettled => "already_settled",
        }
    }
}

/// The stored facts a scan is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherFacts {
    pub status: VoucherStatus,
    pub category: Category,
    pub threshold_fen: i64,
    pub valid_from_ms: i64,
    pub valid_until_ms: i64,
}

/// A merchant as far as a scan cares: approved or not, and for which categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantFacts {
    pub approved: bool,
    pub categories: Vec<Category>,
}

/// Checks a redemption; the store then spends the voucher with a conditional update, so that
/// of two scans at the same moment exactly one wins.
pub fn check_redemption(v: &VoucherFacts, m: &MerchantFacts, purchase_fen: i64, now_ms: i64) -> Result<(), RedeemRefusal> {
    if purchase_fen <= 0 {
        return Err(RedeemRefusal::BadAmount);
    }
    if !m.approved {
        return Err(RedeemRefusal::MerchantNotApproved);
    }
    match v.status {
        VoucherStatus::Claimed => {}
        VoucherStatus::Redeemed | VoucherStatus::Settled => return Err(RedeemRefusal::AlreadyRedeemed),
        VoucherStatus::Expired => return Err(RedeemRefusal::Expired),
    }
    if now_ms >= v.valid_until_ms {
        return Err(RedeemRefusal::Expired);
    }
    if now_ms < v.valid_from_ms {
        return Err(RedeemRefusal::NotValidYet);
    }
    if !m.categories.contains(&v.category) {
        return Err(RedeemRefusal::WrongCategory);
    }
    if purchase_fen < v.threshold_fen {
        return Err(RedeemRefusal::UnderThreshold);
    }
    Ok(())
}

/// Checks a refund: the redeeming merchant, before settlement, while the voucher is still
/// valid (so that the citizen can spend it again).
pub fn check_refund(v: &VoucherFacts, redeemed_by: Option<i64>, merchant_id: i64, now_ms: i64) -> Result<(), RedeemRefusal> {
    match v.status {
        VoucherStatus::Redeemed => {}
        VoucherStatus::Settled => return Err(RedeemRefusal::AlreadySettled),
        VoucherStatus::Claimed | VoucherStatus::Expired => return Err(RedeemRefusal::NotRedeemed),
    }
    if redeemed_by != Some(merchant_id) {
        return Err(RedeemRefusal::OtherMerchant);
    }
    if now_ms >= v.valid_until_ms {
        return Err(RedeemRefusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> VoucherFacts {
        VoucherFacts {
            status: VoucherStatus::Claimed,
            category: Category::Catering,
            threshold_fen: 300_00,
            valid_from_ms: 100,
            valid_until_ms: 200,
        }
    }

    fn m() -> MerchantFacts {
        MerchantFacts {
            approved: true,
            categories: vec![Category::Catering],
        }
    }

    #[test]
    fn each_rule_refuses_with_its_own_reason() {
        assert_eq!(check_redemption(&v(), &m(), 300_00, 150), Ok(()));
        assert_eq!(check_redemption(&v(), &m(), 299_99, 150), Err(RedeemRefusal::UnderThreshold));
        assert_eq!(check_redemption(&v(), &m(), 300_00, 200), Err(RedeemRefusal::Expired));
        assert_eq!(check_redemption(&v(), &m(), 300_00, 99), Err(RedeemRefusal::NotValidYet));
        assert_eq!(check_redemption(&v(), &m(), 0, 150), Err(RedeemRefusal::BadAmount));
        let car = MerchantFacts {
            approved: true,
            categories: vec![Category::Car],
        };
        assert_eq!(check_redemption(&v(), &car, 300_00, 150), Err(RedeemRefusal::WrongCategory));
        let pending = MerchantFacts { approved: false, ..m() };
        assert_eq!(check_redemption(&v(), &pending, 300_00, 150), Err(RedeemRefusal::MerchantNotApproved));
        let spent = VoucherFacts {
            status: VoucherStatus::Redeemed,
            ..v()
        };
        assert_eq!(check_redemption(&spent, &m(), 300_00, 150), Err(RedeemRefusal::AlreadyRedeemed));
    }

    #[test]
    fn only_the_redeeming_merchant_refunds_before_settlement_and_expiry() {
        let spent = VoucherFacts {
            status: VoucherStatus::Redeemed,
            ..v()
        };
        assert_eq!(check_refund(&spent, Some(4), 4, 150), Ok(()));
        assert_eq!(check_refund(&spent, Some(4), 5, 150), Err(RedeemRefusal::OtherMerchant));
        assert_eq!(check_refund(&spent, Some(4), 4, 200), Err(RedeemRefusal::Expired));
        assert_eq!(check_refund(&v(), None, 4, 150), Err(RedeemRefusal::NotRedeemed));
        let settled = VoucherFacts {
            status: VoucherStatus::Settled,
            ..v()
        };
        assert_eq!(check_refund(&settled, Some(4), 4, 150), Err(RedeemRefusal::AlreadySettled));
    }
}

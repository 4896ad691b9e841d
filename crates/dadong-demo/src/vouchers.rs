//! The demo's consumption vouchers (乐享大东): the demo merchant account takes part as a
//! merchant approved for catering and department stores.

use dadong_store::{Actor, Result, Store};
use dadong_vouchers::Category;

/// What the vouchers part of the demo made.
#[derive(Debug, Clone, Default)]
pub struct VoucherSummary {
    pub merchant_id: i64,
}

/// Links the demo merchant account to an approved voucher merchant.
pub async fn load(store: &Store, actor: &Actor, merchant_user_id: i64, shop_code: &str, at_ms: i64) -> Result<VoucherSummary> {
    let categories = [Category::Catering, Category::DepartmentStore];
    let m = store
        .apply_merchant(actor, Some(merchant_user_id), shop_code, "大东示范商场", &categories, at_ms)
        .await?;
    for c in categories {
        store.decide_merchant(actor, m.id, c, true, at_ms).await?;
    }
    Ok(VoucherSummary { merchant_id: m.id })
}

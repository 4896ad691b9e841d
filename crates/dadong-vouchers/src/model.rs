//! Campaigns and voucher kinds as an administrator defines them, validated once into types
//! the rest of the platform can trust.

use serde::{Deserialize, Serialize};

/// The five spending categories of SPEC section 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Housing,
    Car,
    Appliance,
    DepartmentStore,
    Catering,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Housing,
        Category::Car,
        Category::Appliance,
        Category::DepartmentStore,
        Category::Catering,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::Housing => "housing",
            Category::Car => "car",
            Category::Appliance => "appliance",
            Category::DepartmentStore => "department_store",
            Category::Catering => "catering",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Category::Housing => "住房",
            Category::Car => "汽车",
            Category::Appliance => "家电",
            Category::DepartmentStore => "百货",
            Category::Catering => "餐饮",
        }
    }

    pub fn parse(code: &str) -> Result<Category, ModelError> {
        Category::ALL.into_iter().find(|c| c.code() == code.trim()).ok_or_else(|| {
            ModelError::new(
                "category",
                format!("'{code}' is not a category: use housing, car, appliance, department_store or catering"),
            )
        })
    }
}

/// How vouchers reach citizens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimMode {
    /// First come, first served from the moment the window opens.
    FirstCome,
    /// Citizens register while the window is open; a draw then hands out the stock.
    Lottery,
}

impl ClaimMode {
    pub fn code(self) -> &'static str {
        match self {
            ClaimMode::FirstCome => "first_come",
            ClaimMode::Lottery => "lottery",
        }
    }

    pub fn parse(code: &str) -> Result<ClaimMode, ModelError> {
        match code.trim() {
            "first_come" => Ok(ClaimMode::FirstCome),
            "lottery" => Ok(ClaimMode::Lottery),
            other => Err(ModelError::new(
                "claim_mode",
                format!("'{other}' is not a claim mode: use first_come or lottery"),
            )),
        }
    }
}

/// A rule broken by an administrator's input, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ModelError {
    pub field: String,
    pub message: String,
}

impl ModelError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Upper bounds that keep every sum far inside an `i64` of fen.
pub const BUDGET_FEN_MAX: i64 = 10_000_000_000_000; // 100 亿元
pub const STOCK_MAX: i64 = 100_000_000;
pub const PER_PERSON_LIMIT_MAX: i64 = 100;
pub const KINDS_PER_CAMPAIGN_MAX: usize = 50;

/// A voucher kind: spend `threshold_fen` or more, get `discount_fen` off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSpec {
    pub name: String,
    pub category: Category,
    pub threshold_fen: i64,
    pub discount_fen: i64,
    pub stock: i64,
}

/// A shopping season (购物季) as an administrator defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub budget_fen: i64,
    pub per_person_limit: i64,
    pub claim_mode: ClaimMode,
    pub claim_start_ms: i64,
    pub claim_end_ms: i64,
    pub valid_from_ms: i64,
    pub valid_until_ms: i64,
    pub kinds: Vec<KindSpec>,
}

impl KindSpec {
    pub fn validate(&self, i: usize) -> Result<(), ModelError> {
        let f = |name: &str| format!("kinds[{i}].{name}");
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ModelError::new(f("name"), "a kind needs a name of 1 to 100 characters"));
        }
        if self.discount_fen <= 0 {
            return Err(ModelError::new(f("discount"), "the discount must be more than zero"));
        }
        if self.threshold_fen < self.discount_fen || self.threshold_fen > BUDGET_FEN_MAX {
            return Err(ModelError::new(f("threshold"), "the threshold must be at least the discount"));
        }
        if self.stock <= 0 || self.stock > STOCK_MAX {
            return Err(ModelError::new(f("stock"), format!("the stock must be between 1 and {STOCK_MAX}")));
        }
        Ok(())
    }
}

impl CampaignSpec {
    /// Checks every rule of a campaign, naming the first field that breaks one.
    pub fn validate(&self) -> Result<(), ModelError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ModelError::new("name", "a campaign needs a name of 1 to 100 characters"));
        }
        if self.budget_fen <= 0 || self.budget_fen > BUDGET_FEN_MAX {
            return Err(ModelError::new("budget", "the budget must be more than zero and at most 100 亿元"));
        }
        if self.per_person_limit < 1 || self.per_person_limit > PER_PERSON_LIMIT_MAX {
            return Err(ModelError::new(
                "per_person_limit",
                format!("the per-person limit must be between 1 and {PER_PERSON_LIMIT_MAX}"),
            ));
        }
        if self.claim_end_ms <= self.claim_start_ms {
            return Err(ModelError::new("claim_end", "the claim window must end after it starts"));
        }
        if self.valid_until_ms <= self.valid_from_ms {
            return Err(ModelError::new("valid_until", "vouchers must stay valid after they become valid"));
        }
        if self.valid_until_ms < self.claim_end_ms {
            return Err(ModelError::new("valid_until", "vouchers must stay valid at least until the claim window ends"));
        }
        if self.kinds.is_empty() || self.kinds.len() > KINDS_PER_CAMPAIGN_MAX {
            return Err(ModelError::new(
                "kinds",
                format!("a campaign needs 1 to {KINDS_PER_CAMPAIGN_MAX} voucher kinds"),
            ));
        }
        for (i, k) in self.kinds.iter().enumerate() {
            k.validate(i)?;
            if self.kinds[..i].iter().any(|o| o.name.trim() == k.name.trim()) {
                return Err(ModelError::new(format!("kinds[{i}].name"), "two kinds share this name"));
            }
            if k.discount_fen > self.budget_fen {
                return Err(ModelError::new(
                    format!("kinds[{i}].discount"),
                    "one voucher's discount exceeds the whole budget",
                ));
            }
        }
        Ok(())
    }

    /// The categories the campaign's kinds cover, in order, without repeats.
    pub fn categories(&self) -> Vec<Category> {
        let mut c: Vec<Category> = self.kinds.iter().map(|k| k.category).collect();
        c.sort();
        c.dedup();
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn campaign() -> CampaignSpec {
        CampaignSpec {
            name: "金秋购物季".into(),
            budget_fen: 1_000_000_00,
            per_person_limit: 2,
            claim_mode: ClaimMode::FirstCome,
            claim_start_ms: 1_000,
            claim_end_ms: 2_000,
            valid_from_ms: 1_000,
            valid_until_ms: 10_000,
            kinds: vec![KindSpec {
                name: "满300减50".into(),
                category: Category::Catering,
                threshold_fen: 300_00,
                discount_fen: 50_00,
                stock: 1000,
            }],
        }
    }

    #[test]
    fn a_valid_campaign_passes_and_each_broken_rule_names_its_field() {
        assert_eq!(campaign().validate(), Ok(()));
        type Breaker = Box<dyn Fn(&mut CampaignSpec)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("name", Box::new(|c| c.name = " ".into())),
            ("budget", Box::new(|c| c.budget_fen = 0)),
            ("per_person_limit", Box::new(|c| c.per_person_limit = 0)),
            ("claim_end", Box::new(|c| c.claim_end_ms = c.claim_start_ms)),
            ("valid_until", Box::new(|c| c.valid_until_ms = 1_500)),
            ("kinds", Box::new(|c| c.kinds.clear())),
            ("kinds[0].discount", Box::new(|c| c.kinds[0].discount_fen = 0)),
            ("kinds[0].threshold", Box::new(|c| c.kinds[0].threshold_fen = 10)),
            ("kinds[0].stock", Box::new(|c| c.kinds[0].stock = 0)),
            ("kinds[1].name", Box::new(|c| c.kinds.push(c.kinds[0].clone()))),
        ];
        for (field, break_it) in cases {
            let mut c = campaign();
            break_it(&mut c);
            assert_eq!(c.validate().expect_err(field).field, field);
        }
    }

    #[test]
    fn categories_and_modes_round_trip_their_codes_and_refuse_others() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.code()), Ok(c));
        }
        assert!(Category::parse("jewellery").is_err());
        assert_eq!(ClaimMode::parse("lottery"), Ok(ClaimMode::Lottery));
        assert!(ClaimMode::parse("auction").is_err());
    }
}

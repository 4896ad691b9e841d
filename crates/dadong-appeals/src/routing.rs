//! Categories of appeals and the routing rules that send each to a department, held as data
//! (stored, edited by an admin) and validated here before they are used.

use std::collections::BTreeMap;

use crate::{REPLY_DAYS_DEFAULT, RESOLVE_DAYS_DEFAULT};

/// The category of an appeal (SPEC section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 用工
    Labour,
    /// 资金
    Funding,
    /// 供应链
    SupplyChain,
    /// 审批
    Approval,
    /// 用地
    Land,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Labour,
        Category::Funding,
        Category::SupplyChain,
        Category::Approval,
        Category::Land,
        Category::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Category::Labour => "labour",
            Category::Funding => "funding",
            Category::SupplyChain => "supply_chain",
            Category::Approval => "approval",
            Category::Land => "land",
            Category::Other => "other",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Category::Labour => "用工",
            Category::Funding => "资金",
            Category::SupplyChain => "供应链",
            Category::Approval => "审批",
            Category::Land => "用地",
            Category::Other => "其他",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Category::Labour => "Labour",
            Category::Funding => "Funding",
            Category::SupplyChain => "Supply chain",
            Category::Approval => "Approval",
            Category::Land => "Land",
            Category::Other => "Other",
        }
    }

    pub fn parse(text: &str) -> Result<Category, RuleError> {
        let text = text.trim();
        Category::ALL
            .into_iter()
            .find(|c| c.code() == text)
            .ok_or_else(|| RuleError::UnknownCategory(text.to_string()))
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One rule: appeals of `category` go to the department with code `department`, which
/// promises a first reply within `reply_days` and resolution within `resolve_days` working days.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoutingRule {
    pub category: Category,
    pub department: String,
    #[serde(default = "default_reply")]
    pub reply_days: u32,
    #[serde(default = "default_resolve")]
    pub resolve_days: u32,
}

fn default_reply() -> u32 {
    REPLY_DAYS_DEFAULT
}

fn default_resolve() -> u32 {
    RESOLVE_DAYS_DEFAULT
}

impl RoutingRule {
    /// A rule with the default promises (reply in 3, resolve in 15 working days).
    pub fn new(category: Category, department: &str) -> RoutingRule {
        RoutingRule {
            category,
            department: department.to_string(),
            reply_days: REPLY_DAYS_DEFAULT,
            resolve_days: RESOLVE_DAYS_DEFAULT,
        }
    }
}

/// Longest promise a rule may make, in working days (about a quarter of a year).
pub const PROMISE_DAYS_MAX: u32 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("unknown category '{0}': use labour, funding, supply_chain, approval, land or other")]
    UnknownCategory(String),
    #[error("the rule for {category} names department '{department}', which does not exist")]
    NoSuchDepartment { category: Category, department: String },
    #[error(
        "the rule for {category}: reply within 1 to {PROMISE_DAYS_MAX} working days and resolve within reply to {PROMISE_DAYS_MAX} (got reply {reply_days}, resolve {resolve_days})"
    )]
    BadPromise { category: Category, reply_days: u32, resolve_days: u32 },
    #[error("two rules for {0}: keep one")]
    Duplicate(Category),
    #[error("no rule routes {0} and there is no rule for other to fall back on")]
    Unroutable(Category),
}

/// Where an appeal goes and what its department promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTo {
    pub department: String,
    pub reply_days: u32,
    pub resolve_days: u32,
}

/// A set of rules that passed [`RoutingTable::new`]: every department exists, every promise is
/// sane, one rule per category at most.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingTable {
    rules: BTreeMap<Category, RoutingRule>,
}

/// Checks one rule against the departments that exist.
pub fn validate_rule(rule: &RoutingRule, departments: &[&str]) -> Result<(), RuleError> {
    if !departments.contains(&rule.department.as_str()) {
        return Err(RuleError::NoSuchDepartment {
            category: rule.category,
            department: rule.department.clone(),
        });
    }
    if !(1..=PROMISE_DAYS_MAX).contains(&rule.reply_days) || !(rule.reply_days..=PROMISE_DAYS_MAX).contains(&rule.resolve_days) {
        return Err(RuleError::BadPromise {
            category: rule.category,
            reply_days: rule.reply_days,
            resolve_days: rule.resolve_days,
        });
    }
    Ok(())
}

impl RoutingTable {
    /// Validates `rules` against the codes of the departments that exist.
    pub fn new(rules: Vec<RoutingRule>, departments: &[&str]) -> Result<RoutingTable, RuleError> {
        let mut table = BTreeMap::new();
        for rule in rules {
            validate_rule(&rule, departments)?;
            if table.contains_key(&rule.category) {
                return Err(RuleError::Duplicate(rule.category));
            }
            table.insert(rule.category, rule);
        }
        Ok(RoutingTable { rules: table })
    }

    pub fn rules(&self) -> impl Iterator<Item = &RoutingRule> {
        self.rules.values()
    }

    /// The department for `category`: its own rule, or else the rule for `other`.
    pub fn route(&self, category: Category) -> Result<RouteTo, RuleError> {
        let rule = self
            .rules
            .get(&category)
            .or_else(|| self.rules.get(&Category::Other))
            .ok_or(RuleError::Unroutable(category))?;
        Ok(RouteTo {
            department: rule.department.clone(),
            reply_days: rule.reply_days,
            resolve_days: rule.resolve_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPTS: &[&str] = &["hr", "finance", "commerce", "approval", "land", "office"];

    #[test]
    fn a_rule_naming_a_department_that_does_not_exist_is_refused() {
        let err = RoutingTable::new(vec![RoutingRule::new(Category::Land, "nowhere")], DEPTS).unwrap_err();
        assert_eq!(err.to_string(), "the rule for land names department 'nowhere', which does not exist");
    }

    #[test]
    fn a_category_without_a_rule_falls_back_on_other_and_fails_without_it() {
        let table = RoutingTable::new(vec![RoutingRule::new(Category::Labour, "hr")], DEPTS).unwrap();
        assert_eq!(table.route(Category::Labour).unwrap().department, "hr");
        assert_eq!(table.route(Category::Land), Err(RuleError::Unroutable(Category::Land)));
        let table = RoutingTable::new(
            vec![RoutingRule::new(Category::Labour, "hr"), RoutingRule::new(Category::Other, "office")],
            DEPTS,
        )
        .unwrap();
        assert_eq!(table.route(Category::Land).unwrap().department, "office");
    }

    #[test]
    fn promises_default_to_three_and_fifteen_and_a_rule_may_say_otherwise() {
        let rule: RoutingRule = serde_json::from_str(r#"{"category":"approval","department":"approval"}"#).unwrap();
        assert_eq!((rule.reply_days, rule.resolve_days), (3, 15));
        let rule: RoutingRule = serde_json::from_str(r#"{"category":"land","department":"land","reply_days":5,"resolve_days":30}"#).unwrap();
        let table = RoutingTable::new(vec![rule], DEPTS).unwrap();
        let to = table.route(Category::Land).unwrap();
        assert_eq!((to.reply_days, to.resolve_days), (5, 30));
    }

    #[test]
    fn bad_promises_and_duplicate_rules_are_refused() {
        let mut rule = RoutingRule::new(Category::Funding, "finance");
        rule.reply_days = 0;
        assert!(matches!(RoutingTable::new(vec![rule.clone()], DEPTS), Err(RuleError::BadPromise { .. })));
        rule.reply_days = 10;
        rule.resolve_days = 5;
        assert!(matches!(RoutingTable::new(vec![rule], DEPTS), Err(RuleError::BadPromise { .. })));
        let dup = vec![RoutingRule::new(Category::Funding, "finance"), RoutingRule::new(Category::Funding, "office")];
        assert_eq!(RoutingTable::new(dup, DEPTS), Err(RuleError::Duplicate(Category::Funding)));
    }

    #[test]
    fn category_codes_round_trip_and_unknown_ones_are_named() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.code()), Ok(c));
        }
        assert_eq!(
            Category::parse("tax").unwrap_err().to_string(),
            "unknown category 'tax': use labour, funding, supply_chain, approval, land or other"
        );
    }
}

//! The eight roles of the platform (SPEC section 1) and their names in both languages.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Enterprise,
    Merchant,
    Clerk,
    Cadre,
    Analyst,
    Leader,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a role; roles are citizen, enterprise, merchant, clerk, cadre, analyst, leader, admin")]
pub struct RoleError(pub String);

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Citizen,
        Role::Enterprise,
        Role::Merchant,
        Role::Clerk,
        Role::Cadre,
        Role::Analyst,
        Role::Leader,
        Role::Admin,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Enterprise => "enterprise",
            Role::Merchant => "merchant",
            Role::Clerk => "clerk",
            Role::Cadre => "cadre",
            Role::Analyst => "analyst",
            Role::Leader => "leader",
            Role::Admin => "admin",
        }
    }

    pub fn parse(input: &str) -> Result<Role, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.key() == input.trim())
            .ok_or_else(|| RoleError(input.to_string()))
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Role::Citizen => "市民",
            Role::Enterprise => "企业经办人",
            Role::Merchant => "商户",
            Role::Clerk => "窗口工作人员",
            Role::Cadre => "包保干部",
            Role::Analyst => "统计分析员",
            Role::Leader => "区领导",
            Role::Admin => "系统管理员",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Role::Citizen => "Citizen",
            Role::Enterprise => "Enterprise agent",
            Role::Merchant => "Merchant",
            Role::Clerk => "Clerk",
            Role::Cadre => "Cadre",
            Role::Analyst => "Analyst",
            Role::Leader => "Leader",
            Role::Admin => "Administrator",
        }
    }

    /// Government staff, who work inside the platform rather than use it from outside.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Clerk | Role::Cadre | Role::Analyst | Role::Leader | Role::Admin)
    }

    /// Roles whose scope is the whole district.
    pub fn sees_district(self) -> bool {
        matches!(self, Role::Leader | Role::Admin)
    }

    /// Roles that must belong to a department.
    pub fn needs_department(self) -> bool {
        matches!(self, Role::Clerk)
    }

    /// Roles that act for one company, identified by its credit code.
    pub fn needs_company(self) -> bool {
        matches!(self, Role::Enterprise | Role::Merchant)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

//! The authorisation table: which roles may perform each action. Every route names its
//! action when it is mounted (see `routes`), and the guard consults this table alone.

use dadong_domain::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Anyone, signed in or not: the login page, health, metrics, the OpenAPI document.
    Public,
    /// Any signed-in user: the home page, one's own account.
    SignedIn,
    /// The department list: government staff.
    ViewDepartments,
    ManageDepartments,
    ManageUsers,
    /// Reading the audit log and checking its chain.
    ViewAudit,
    /// The economy's bulletin (page, downloads, JSON): the statistics office and the leadership.
    ViewBulletin,
    /// Importing the economy's exchange files: the statistics office.
    ImportEconomy,
    /// The enterprise registry, each user within their scope: district-wide for the statistics
    /// office and the leadership, assigned enterprises for a cadre, its own company for an agent.
    ViewEnterprises,
    /// Major projects and their stages.
    ViewProjects,
    /// Applying for services and following one's own applications: citizens and enterprise agents.
    ApplyServices,
    /// Working a department's queue (and the hall's): clerks.
    WorkServices,
    /// The government-services figures: the statistics office and the leadership.
    ViewServiceFigures,
    /// The matter catalog and bundle definitions.
    ManageServices,
}

impl Action {
    pub fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Public | Action::SignedIn => true,
            Action::ViewDepartments => role.is_staff(),
            Action::ManageDepartments | Action::ManageUsers => role == Admin,
            Action::ViewAudit => matches!(role, Admin | Leader),
            Action::ViewBulletin => matches!(role, Analyst | Leader | Admin),
            Action::ImportEconomy => matches!(role, Analyst | Admin),
            Action::ViewEnterprises => matches!(role, Analyst | Leader | Admin | Cadre | Enterprise),
            Action::ViewProjects => matches!(role, Analyst | Leader | Admin | Cadre),
            Action::ApplyServices => matches!(role, Citizen | Enterprise),
            Action::WorkServices => role == Clerk,
            Action::ViewServiceFigures => matches!(role, Analyst | Leader | Admin),
            Action::ManageServices => role == Admin,
        }
    }
}

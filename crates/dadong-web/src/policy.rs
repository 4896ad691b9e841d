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
}

impl Action {
    pub fn allows(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Public | Action::SignedIn => true,
            Action::ViewDepartments => role.is_staff(),
            Action::ManageDepartments | Action::ManageUsers => role == Admin,
            Action::ViewAudit => matches!(role, Admin | Leader),
        }
    }
}

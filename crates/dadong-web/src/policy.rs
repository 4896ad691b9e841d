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
    // Issue 6: enterprise service and daily dispatch.
    /// Appeals within the user's scope: an agent its company's, a clerk its department's, a
    /// cadre its assigned enterprises', leaders and admins all.
    ViewAppeals,
    /// Raising an appeal: an enterprise's agent, its assigned cadre, leaders and admins.
    RaiseAppeal,
    /// A step of an appeal's life; the store checks who may take which step.
    WorkAppeal,
    /// Recording the follow-up call (回访) of a closed appeal: the department and the leadership.
    FollowUpAppeal,
    /// The dispatch board.
    ViewDispatch,
    /// Assignments, visits and monthly coverage (包保走访).
    Service,
    /// Key enterprises' daily figures.
    ReportFigures,
    /// The appeal routing rules (category to department, promised days): admins.
    ManageAppealRules,
    /// Assigning leaders and cadres to enterprises and projects (包保), and ending it: the
    /// leadership and admins.
    ManageAssignments,
    /// Naming key enterprises and setting their monthly plans: the statistics office, which
    /// owns the figures, and admins.
    ManageKeyEnterprises,
    /// Creating today's dispatch tasks and marking them done: the leadership and admins.
    ManageDispatch,
    // Vouchers (issue 5).
    /// Seeing the voucher campaigns: every signed-in role.
    ViewCampaigns,
    /// Claiming vouchers (or registering for a lottery campaign's) and seeing one's wallet:
    /// citizens.
    ClaimVoucher,
    /// Applying as a merchant, scanning vouchers, one's history and settlements: merchants.
    RedeemVoucher,
    /// Campaigns, lottery draws, merchant approval, settlement runs, fraud review: admins.
    ManageVouchers,
    /// The vouchers' figures, settlements and ledger check: the leadership and admins
    /// (figures also for the statistics office).
    ViewVoucherFigures,
    ViewVoucherLedger,
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
            Action::ViewAppeals => matches!(role, Enterprise | Clerk | Cadre | Leader | Admin),
            Action::RaiseAppeal => matches!(role, Enterprise | Cadre | Leader | Admin),
            Action::WorkAppeal => matches!(role, Enterprise | Clerk | Leader | Admin),
            Action::FollowUpAppeal => matches!(role, Clerk | Leader | Admin),
            Action::ViewDispatch => matches!(role, Leader | Admin),
            Action::Service => matches!(role, Cadre | Leader | Admin),
            Action::ReportFigures => matches!(role, Enterprise | Cadre | Analyst | Admin),
            Action::ManageAppealRules => role == Admin,
            Action::ManageAssignments => matches!(role, Leader | Admin),
            Action::ManageKeyEnterprises => matches!(role, Analyst | Admin),
            Action::ManageDispatch => matches!(role, Leader | Admin),
            Action::ViewCampaigns => true,
            Action::ClaimVoucher => role == Citizen,
            Action::RedeemVoucher => role == Merchant,
            Action::ManageVouchers => role == Admin,
            Action::ViewVoucherFigures => matches!(role, Analyst | Leader | Admin),
            Action::ViewVoucherLedger => matches!(role, Leader | Admin),
        }
    }
}

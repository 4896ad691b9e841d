//! Enterprise service and daily dispatch (包保服务、日调度, SPEC section 4): the rules of
//! appeals (企业诉求) and of the key enterprises' daily figures, without I/O.
//!
//! - [`Category`] and [`Status`]: the stable codes stored and sent over the API.
//! - [`RoutingTable`]: routing rules held as data (category → department, with the promised
//!   working days), validated against the departments that exist.
//! - [`Appeal`] and [`apply`]: the lifecycle as pure transitions
//!   `raised → routed → accepted → replied → resolved → closed`, closed only on the
//!   enterprise's confirmation with a satisfaction score, reopened within 30 days.
//! - [`Appeal::escalation_due`]: overdue appeals escalate one step at a time, to the department
//!   head and then to the responsible leader.
//! - [`possible_duplicates`]: open appeals of the same enterprise that read like a new one.
//! - [`DailyFigure`] validation and the plan flag of the dispatch board.
//!
//! Deadlines and flags reuse the working-day functions of government services
//! ([`dadong_services::lifecycle::deadline`] and [`dadong_services::lifecycle::flag`]): the
//! same promise ("n working days, kept by the end of the day") holds for an appeal.

#![forbid(unsafe_code)]

pub mod figures;
pub mod lifecycle;
pub mod routing;
pub mod similar;

pub use figures::{DailyFigure, FigureError, Metric, PlanFlag, plan_flag};
pub use lifecycle::{Appeal, Escalation, Event, TransitionError, apply};
pub use routing::{Category, RouteTo, RoutingRule, RoutingTable, RuleError};
pub use similar::{Candidate, possible_duplicates};

pub use dadong_services::lifecycle::{Flag, deadline, flag, local_date};

/// Working days to a first reply when the rule says nothing else.
pub const REPLY_DAYS_DEFAULT: u32 = 3;
/// Working days to resolution when the rule says nothing else.
pub const RESOLVE_DAYS_DEFAULT: u32 = 15;
/// Calendar days after closing within which the enterprise may reopen an appeal.
pub const REOPEN_WINDOW_DAYS: i64 = 30;
/// Working days after the department head was alerted before the responsible leader is.
pub const LEADER_AFTER_HEAD_DAYS: u32 = 2;
/// Longest title and description of an appeal, in characters.
pub const TITLE_CHARS_MAX: usize = 100;
pub const BODY_CHARS_MAX: usize = 4000;
/// Longest reply or note, in characters.
pub const NOTE_CHARS_MAX: usize = 4000;

/// The status of an appeal, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Raised by the enterprise (or a cadre for it); not yet sent to a department.
    Raised,
    /// In a department's queue.
    Routed,
    /// A clerk of the department took it on.
    Accepted,
    /// The department gave its first reply.
    Replied,
    /// The department says the problem is solved; waiting for the enterprise to confirm.
    Resolved,
    /// The enterprise confirmed and rated it.
    Closed,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Raised,
        Status::Routed,
        Status::Accepted,
        Status::Replied,
        Status::Resolved,
        Status::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Raised => "raised",
            Status::Routed => "routed",
            Status::Accepted => "accepted",
            Status::Replied => "replied",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == text)
    }

    /// Still the department's work: routed, accepted or replied.
    pub fn is_with_department(self) -> bool {
        matches!(self, Status::Routed | Status::Accepted | Status::Replied)
    }

    /// Not yet resolved: the department's work or waiting for routing.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Raised | Status::Routed | Status::Accepted | Status::Replied)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether a closed appeal is drawn for a follow-up call (回访): about one in five, picked by a
/// fixed mix of its id so that the sample is stable, spread evenly over ids, and not chosen by
/// the department whose work is being checked.
pub fn follow_up_sampled(appeal_id: i64) -> bool {
    let mut x = appeal_id as u64;
    // SplitMix64's finaliser: consecutive ids land far apart.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x.is_multiple_of(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.code()), Some(s));
        }
        assert_eq!(Status::parse("open"), None);
    }

    #[test]
    fn about_one_closed_appeal_in_five_is_sampled_for_a_follow_up_call() {
        let n = (1..=10_000).filter(|&id| follow_up_sampled(id)).count();
        assert!((1_700..=2_300).contains(&n), "{n} of 10000 sampled");
    }
}

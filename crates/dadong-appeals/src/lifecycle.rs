//! The life of an appeal as pure transitions: [`apply`] takes an appeal, an [`Event`] and the
//! time it happens, and returns the next appeal or a [`TransitionError`] saying why the event
//! is not allowed. Nothing here reads a clock.
//!
//! Deadlines: when an appeal is routed (or reopened) its department owes a first reply within
//! the rule's reply days and resolution within its resolve days, both counted in working days
//! from that day and kept by the end of the due day (the services' [`deadline`]). The deadline
//! that counts is the reply deadline until the department replies, then the resolve deadline;
//! a resolved or closed appeal has none.
//!
//! Escalation (督办): once the deadline that counts has passed, the appeal escalates to the
//! department head; if it is still not done [`LEADER_AFTER_HEAD_DAYS`] working days after that
//! deadline, to the responsible leader. [`Appeal::escalation_due`] says what the next step
//! would be at a given time; the store moves an appeal one step per run, so that both steps
//! leave their own record even when a run comes late.

use dadong_domain::WorkCalendar;
use dadong_services::lifecycle::{Flag, deadline, flag, local_date};
use jiff::{SignedDuration, Timestamp};

use crate::routing::{Category, RouteTo};
use crate::{LEADER_AFTER_HEAD_DAYS, REOPEN_WINDOW_DAYS, Status};

/// How far an overdue appeal has been escalated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    None,
    /// The department's head was alerted.
    DepartmentHead,
    /// The enterprise's responsible leader (包保领导) was alerted.
    Leader,
}

impl Escalation {
    pub fn level(self) -> i64 {
        match self {
            Escalation::None => 0,
            Escalation::DepartmentHead => 1,
            Escalation::Leader => 2,
        }
    }

    pub fn from_level(level: i64) -> Escalation {
        match level {
            i64::MIN..=0 => Escalation::None,
            1 => Escalation::DepartmentHead,
            _ => Escalation::Leader,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Escalation::None => "none",
            Escalation::DepartmentHead => "department_head",
            Escalation::Leader => "leader",
        }
    }

    fn next(self) -> Escalation {
        match self {
            Escalation::None => Escalation::DepartmentHead,
            _ => Escalation::Leader,
        }
    }
}

/// What the lifecycle needs to know of an appeal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appeal {
    pub category: Category,
    pub status: Status,
    /// The department's code, once routed.
    pub department: Option<String>,
    pub reply_days: u32,
    pub resolve_days: u32,
    pub raised_at: Timestamp,
    /// When the department's clock started: routing, or the last reopening.
    pub routed_at: Option<Timestamp>,
    pub reply_due: Option<Timestamp>,
    pub resolve_due: Option<Timestamp>,
    pub accepted_at: Option<Timestamp>,
    pub replied_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// 1 to 5, given on closing.
    pub satisfaction: Option<u8>,
    pub escalation: Escalation,
    pub reopened: u32,
}

/// What can happen to an appeal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Sent to a department by the routing rules (or moved to another before it is accepted).
    Route(RouteTo),
    /// A clerk of the department takes it on.
    Accept,
    /// The department's first (or a further) reply.
    Reply,
    /// The department says the problem is solved.
    Resolve,
    /// The enterprise confirms with a satisfaction score of 1 to 5.
    Confirm { score: u8 },
    /// The enterprise reopens a closed appeal because the problem came back.
    Reopen,
    /// One step of escalation.
    Escalate,
}

impl Event {
    pub fn code(&self) -> &'static str {
        match self {
            Event::Route(_) => "route",
            Event::Accept => "accept",
            Event::Reply => "reply",
            Event::Resolve => "resolve",
            Event::Confirm { .. } => "confirm",
            Event::Reopen => "reopen",
            Event::Escalate => "escalate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the appeal is {status}: it cannot be {verb}")]
    NotAllowed { status: Status, verb: &'static str },
    #[error("satisfaction is a score from 1 to 5 (got {0})")]
    BadScore(u8),
    #[error("the appeal was closed more than {REOPEN_WINDOW_DAYS} days ago: raise a new one")]
    ReopenWindowPassed,
    #[error("the appeal is not overdue: nothing to escalate")]
    NotOverdue,
    #[error("the event's time lies before the appeal's last change")]
    TimeGoesBack,
}

impl Appeal {
    /// A new appeal, raised at `at`.
    pub fn raise(category: Category, at: Timestamp) -> Appeal {
        Appeal {
            category,
            status: Status::Raised,
            department: None,
            reply_days: crate::REPLY_DAYS_DEFAULT,
            resolve_days: crate::RESOLVE_DAYS_DEFAULT,
            raised_at: at,
            routed_at: None,
            reply_due: None,
            resolve_due: None,
            accepted_at: None,
            replied_at: None,
            resolved_at: None,
            closed_at: None,
            satisfaction: None,
            escalation: Escalation::None,
            reopened: 0,
        }
    }

    /// The deadline that counts now: the reply deadline until the first reply, then the
    /// resolve deadline; none once resolved (or before routing).
    pub fn current_deadline(&self) -> Option<Timestamp> {
        match self.status {
            Status::Routed | Status::Accepted => self.reply_due,
            Status::Replied => self.resolve_due,
            _ => None,
        }
    }

    /// Yellow before the deadline (due today or the next working day), red after it; `None`
    /// when no deadline runs.
    pub fn flag(&self, now: Timestamp, calendar: &WorkCalendar) -> Option<Flag> {
        self.current_deadline().map(|d| flag(d, now, calendar))
    }

    /// The escalation step that is due at `now`, one beyond the present level, if any.
    pub fn escalation_due(&self, now: Timestamp, calendar: &WorkCalendar) -> Option<Escalation> {
        let due = self.current_deadline()?;
        if now <= due {
            return None;
        }
        match self.escalation {
            Escalation::None => Some(Escalation::DepartmentHead),
            Escalation::DepartmentHead => {
                let leader_at = deadline(due, LEADER_AFTER_HEAD_DAYS, calendar);
                (now > leader_at).then_some(Escalation::Leader)
            }
            Escalation::Leader => None,
        }
    }

    /// When the last change happened, so that events cannot go back in time.
    fn last_change(&self) -> Timestamp {
        [
            Some(self.raised_at),
            self.routed_at,
            self.accepted_at,
            self.replied_at,
            self.resolved_at,
            self.closed_at,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(self.raised_at)
    }
}

/// The appeal after `event` at `at`.
pub fn apply(appeal: &Appeal, event: Event, at: Timestamp, calendar: &WorkCalendar) -> Result<Appeal, TransitionError> {
    if at < appeal.last_change() && event != Event::Escalate {
        return Err(TransitionError::TimeGoesBack);
    }
    let refuse = |verb: &'static str| TransitionError::NotAllowed { status: appeal.status, verb };
    let mut next = appeal.clone();
    match event {
        Event::Route(to) => {
            if !matches!(appeal.status, Status::Raised | Status::Routed) {
                return Err(refuse("routed"));
            }
            start_clock(&mut next, at, calendar, Some(to));
            next.status = Status::Routed;
        }
        Event::Accept => {
            if appeal.status != Status::Routed {
                return Err(refuse("accepted"));
            }
            next.status = Status::Accepted;
            next.accepted_at = Some(at);
        }
        Event::Reply => {
            if !matches!(appeal.status, Status::Accepted | Status::Replied) {
                return Err(refuse("replied to"));
            }
            if appeal.status == Status::Accepted {
                next.replied_at = Some(at);
            }
            next.status = Status::Replied;
        }
        Event::Resolve => {
            if !matches!(appeal.status, Status::Accepted | Status::Replied) {
                return Err(refuse("resolved"));
            }
            // Resolving is also an answer: an appeal solved at once needs no separate reply.
            next.replied_at.get_or_insert(at);
            next.status = Status::Resolved;
            next.resolved_at = Some(at);
        }
        Event::Confirm { score } => {
            if appeal.status != Status::Resolved {
                return Err(refuse("confirmed"));
            }
            if !(1..=5).contains(&score) {
                return Err(TransitionError::BadScore(score));
            }
            next.status = Status::Closed;
            next.closed_at = Some(at);
            next.satisfaction = Some(score);
        }
        Event::Reopen => {
            if appeal.status != Status::Closed {
                return Err(refuse("reopened"));
            }
            let closed = appeal.closed_at.unwrap_or(at);
            if at.duration_since(closed) > SignedDuration::from_hours(24 * REOPEN_WINDOW_DAYS) {
                return Err(TransitionError::ReopenWindowPassed);
            }
            start_clock(&mut next, at, calendar, None);
            next.status = Status::Routed;
            next.reopened += 1;
        }
        Event::Escalate => match appeal.escalation_due(at, calendar) {
            Some(_) => next.escalation = appeal.escalation.next(),
            None => return Err(TransitionError::NotOverdue),
        },
    }
    Ok(next)
}

/// Starts the department's clock at `at`: new deadlines, the steps since cleared.
fn start_clock(next: &mut Appeal, at: Timestamp, calendar: &WorkCalendar, to: Option<RouteTo>) {
    if let Some(to) = to {
        next.department = Some(to.department);
        next.reply_days = to.reply_days;
        next.resolve_days = to.resolve_days;
    }
    next.routed_at = Some(at);
    next.reply_due = Some(deadline(at, next.reply_days, calendar));
    next.resolve_due = Some(deadline(at, next.resolve_days, calendar));
    next.accepted_at = None;
    next.replied_at = None;
    next.resolved_at = None;
    next.closed_at = None;
    next.satisfaction = None;
    next.escalation = crate::Escalation::None;
}

/// The day in Asia/Shanghai an instant falls on (re-exported for callers that show dates).
pub fn day_of(at: Timestamp) -> jiff::civil::Date {
    local_date(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn cal() -> &'static WorkCalendar {
        WorkCalendar::national()
    }

    fn at(y: i16, m: i8, d: i8, h: i8) -> Timestamp {
        date(y, m, d)
            .at(h, 0, 0, 0)
            .to_zoned(dadong_services::lifecycle::shanghai())
            .unwrap()
            .timestamp()
    }

    fn to(dept: &str) -> RouteTo {
        RouteTo {
            department: dept.into(),
            reply_days: 3,
            resolve_days: 15,
        }
    }

    fn life(start: Timestamp) -> Vec<Appeal> {
        let c = cal();
        let a0 = Appeal::raise(Category::Labour, start);
        let a1 = apply(&a0, Event::Route(to("hr")), start, c).unwrap();
        let a2 = apply(&a1, Event::Accept, start, c).unwrap();
        let a3 = apply(&a2, Event::Reply, start, c).unwrap();
        let a4 = apply(&a3, Event::Resolve, start, c).unwrap();
        let a5 = apply(&a4, Event::Confirm { score: 5 }, start, c).unwrap();
        vec![a0, a1, a2, a3, a4, a5]
    }

    #[test]
    fn a_whole_life_goes_raised_routed_accepted_replied_resolved_closed() {
        let states: Vec<Status> = life(at(2026, 3, 2, 10)).iter().map(|a| a.status).collect();
        assert_eq!(states, Status::ALL.to_vec());
    }

    #[test]
    fn reply_is_due_in_three_and_resolution_in_fifteen_working_days_over_holidays() {
        // Monday 2026-09-28, before the National Day week (1–7 October 2026, and the make-up
        // working days around it as the calendar file says).
        let start = at(2026, 9, 28, 9);
        let a = apply(&Appeal::raise(Category::Land, start), Event::Route(to("land")), start, cal()).unwrap();
        let c = cal();
        assert_eq!(local_date(a.reply_due.unwrap()), c.add_working_days(date(2026, 9, 28), 3));
        assert_eq!(local_date(a.resolve_due.unwrap()), c.add_working_days(date(2026, 9, 28), 15));
        assert!(local_date(a.reply_due.unwrap()) > date(2026, 10, 1));
    }

    #[test]
    fn yellow_before_the_deadline_and_red_after_it() {
        let start = at(2026, 3, 2, 10); // Monday
        let a = apply(&Appeal::raise(Category::Labour, start), Event::Route(to("hr")), start, cal()).unwrap();
        // Reply due Thursday 5 March, end of day.
        assert_eq!(a.flag(at(2026, 3, 2, 12), cal()), Some(Flag::Green));
        assert_eq!(a.flag(at(2026, 3, 4, 12), cal()), Some(Flag::Yellow));
        assert_eq!(a.flag(at(2026, 3, 5, 23), cal()), Some(Flag::Yellow));
        assert_eq!(a.flag(at(2026, 3, 6, 9), cal()), Some(Flag::Red));
    }

    #[test]
    fn escalation_goes_to_the_department_head_then_the_leader_one_step_at_a_time() {
        let start = at(2026, 3, 2, 10);
        let c = cal();
        let a = apply(&Appeal::raise(Category::Labour, start), Event::Route(to("hr")), start, c).unwrap();
        assert_eq!(a.escalation_due(at(2026, 3, 5, 20), c), None);
        assert_eq!(apply(&a, Event::Escalate, at(2026, 3, 5, 20), c), Err(TransitionError::NotOverdue));
        // Friday: past the reply deadline.
        let late = at(2026, 3, 6, 9);
        assert_eq!(a.escalation_due(late, c), Some(Escalation::DepartmentHead));
        let a = apply(&a, Event::Escalate, late, c).unwrap();
        assert_eq!(a.escalation, Escalation::DepartmentHead);
        // The leader two working days after the deadline: not on Monday 9th, on Tuesday 10th.
        assert_eq!(a.escalation_due(at(2026, 3, 9, 20), c), None);
        assert_eq!(a.escalation_due(at(2026, 3, 10, 9), c), Some(Escalation::Leader));
        let a = apply(&a, Event::Escalate, at(2026, 3, 10, 9), c).unwrap();
        assert_eq!(a.escalation, Escalation::Leader);
        assert_eq!(a.escalation_due(at(2027, 1, 1, 0), c), None);
    }

    #[test]
    fn a_reply_to_a_closed_appeal_is_refused() {
        let closed = life(at(2026, 3, 2, 10)).pop().unwrap();
        let err = apply(&closed, Event::Reply, at(2026, 3, 3, 10), cal()).unwrap_err();
        assert_eq!(err.to_string(), "the appeal is closed: it cannot be replied to");
    }

    #[test]
    fn reopening_works_within_thirty_days_of_closing_and_not_after() {
        let closed = life(at(2026, 3, 2, 10)).pop().unwrap();
        let c = cal();
        let reopened = apply(&closed, Event::Reopen, at(2026, 4, 1, 10), c).unwrap();
        assert_eq!(reopened.status, Status::Routed);
        assert_eq!(reopened.reopened, 1);
        assert_eq!(reopened.satisfaction, None);
        assert!(reopened.reply_due.unwrap() > at(2026, 4, 1, 10));
        let err = apply(&closed, Event::Reopen, at(2026, 4, 1, 11), c).unwrap_err();
        assert_eq!(err, TransitionError::ReopenWindowPassed);
    }

    #[test]
    fn only_a_resolved_appeal_can_be_confirmed_and_only_with_a_score_of_one_to_five() {
        let l = life(at(2026, 3, 2, 10));
        let c = cal();
        assert!(matches!(
            apply(&l[3], Event::Confirm { score: 4 }, at(2026, 3, 3, 0), c),
            Err(TransitionError::NotAllowed { .. })
        ));
        assert_eq!(
            apply(&l[4], Event::Confirm { score: 0 }, at(2026, 3, 3, 0), c),
            Err(TransitionError::BadScore(0))
        );
        assert_eq!(
            apply(&l[4], Event::Confirm { score: 6 }, at(2026, 3, 3, 0), c),
            Err(TransitionError::BadScore(6))
        );
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Route(to("hr"))),
            Just(Event::Accept),
            Just(Event::Reply),
            Just(Event::Resolve),
            (0u8..8).prop_map(|score| Event::Confirm { score }),
            Just(Event::Reopen),
            Just(Event::Escalate),
        ]
    }

    proptest! {
        /// Whatever events arrive in whatever order, the appeal stays consistent: closed only
        /// with a score of 1..5, a deadline runs exactly while the department works on it,
        /// escalation only grows between reopenings, and refused events change nothing.
        #[test]
        fn any_sequence_of_events_keeps_the_appeal_consistent(
            events in proptest::collection::vec((any_event(), 0i64..(40 * 24)), 0..40)
        ) {
            let c = cal();
            let mut now = at(2026, 1, 5, 9);
            let mut a = Appeal::raise(Category::Funding, now);
            for (event, hours) in events {
                now += SignedDuration::from_hours(hours);
                let before = a.clone();
                match apply(&a, event.clone(), now, c) {
                    Ok(next) => {
                        if event != Event::Reopen && !matches!(event, Event::Route(_)) {
                            prop_assert!(next.escalation >= before.escalation);
                        }
                        a = next;
                    }
                    Err(_) => prop_assert_eq!(&a, &before),
                }
                prop_assert_eq!(a.status == Status::Closed, a.satisfaction.is_some());
                if let Some(s) = a.satisfaction { prop_assert!((1..=5).contains(&s)); }
                prop_assert_eq!(a.current_deadline().is_some(), a.status.is_with_department());
                if a.status != Status::Raised {
                    prop_assert!(a.reply_due.unwrap() <= a.resolve_due.unwrap());
                    prop_assert!(a.department.is_some());
                }
            }
        }
    }
}

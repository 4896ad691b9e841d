//! The application lifecycle of SPEC section 5 as pure functions over plain data, and the
//! working-day deadlines its steps run against.
//!
//! An [`Application`] goes `draft → submitted → accepted | not_accepted | correction_requested`;
//! a correction is requested at most once, listing every missing item (一次性告知), and the
//! corrected application is submitted again. Once accepted, each step goes
//! `waiting → ready → in_progress → done | refused`: a step is ready when every step it needs
//! is done, and a clerk of the step's department accepts it (`in_progress`) and completes or
//! refuses it. The application is `in_progress` from the first step started, `done` when every
//! step is done, then `delivered`; a refused step ends it as `refused`.
//!
//! [`apply`] takes an application and an [`Event`] and returns the next application with the
//! [`Effect`]s the store must carry out (deadlines to record, notifications to put in the
//! outbox), or a [`LifecycleError`] saying why the event is not allowed. Nothing here reads a
//! clock: the time of the event is passed in.
//!
//! Deadlines: a step's deadline is the end (23:59:59, Asia/Shanghai) of the working day that
//! lies its promised number of working days after the day it became ready, counted on the
//! national calendar ([`WorkCalendar::add_working_days`]: the day it became ready is not
//! counted). The end of the day rather than office hours, because applicants submit online at
//! any hour and a promise kept by midnight is kept. A promise of 0 days (on the spot) is due at
//! the end of the day it became ready, or of the next working day if that day is not one.

use std::collections::BTreeSet;

use dadong_domain::WorkCalendar;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{self, TimeZone};

use crate::bundle::ValidBundle;
use crate::catalog::{Material, Matter};

/// Asia/Shanghai. China has kept UTC+8 without daylight saving since 1991, so a fixed offset
/// gives the zone's local times for every date the platform handles without reading the time
/// zone database at run time.
pub fn shanghai() -> TimeZone {
    TimeZone::fixed(tz::offset(8))
}

/// The day `at` falls on in Asia/Shanghai.
pub fn local_date(at: Timestamp) -> Date {
    at.to_zoned(shanghai()).date()
}

/// 23:59:59 of `date` in Asia/Shanghai: when a deadline on that day passes.
pub fn end_of_day(date: Date) -> Timestamp {
    date.at(23, 59, 59, 0)
        .to_zoned(shanghai())
        .expect("a fixed offset maps every civil time")
        .timestamp()
}

/// The working day a promise of `days` working days, counted from `start`, falls due.
pub fn due_date(start: Date, days: u32, calendar: &WorkCalendar) -> Date {
    let mut due = calendar.add_working_days(start, days);
    // Only a promise of 0 days can land on a day off: the office acts on the next working day.
    while !calendar.is_working_day(due) {
        due = due.tomorrow().expect("dates stay far inside jiff's range");
    }
    due
}

/// The deadline of a step that became ready at `ready_at` with a promise of `days` working days.
pub fn deadline(ready_at: Timestamp, days: u32, calendar: &WorkCalendar) -> Timestamp {
    end_of_day(due_date(local_date(ready_at), days, calendar))
}

/// How close a running step is to its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// More than one working day left.
    Green,
    /// Due today or on the next working day.
    Yellow,
    /// Past the deadline.
    Red,
}

/// Green, yellow when the deadline falls within one working day of `now` (today or the next
/// working day), red once it has passed.
pub fn flag(deadline: Timestamp, now: Timestamp, calendar: &WorkCalendar) -> Flag {
    if now > deadline {
        Flag::Red
    } else if local_date(deadline) <= calendar.add_working_days(local_date(now), 1) {
        Flag::Yellow
    } else {
        Flag::Green
    }
}

/// Whether a company applied for at `submitted_at` was opened by `completed_at` within one
/// working day (the promise of the `open_company` bundle): completed by the end of the next
/// working day after the day of submission. A completion recorded before the submission is bad
/// data and does not count as a promise kept.
pub fn opened_within_one_working_day(submitted_at: Timestamp, completed_at: Timestamp, calendar: &WorkCalendar) -> bool {
    submitted_at <= completed_at && completed_at <= deadline(submitted_at, 1, calendar)
}

// ---------------------------------------------------------------------------------------------
// States

/// Where an application stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppState {
    Draft,
    Submitted,
    /// Accepted (受理): its first steps are ready; no clerk has started one yet.
    Accepted,
    /// Not accepted (不予受理), for this reason. Final.
    NotAccepted {
        reason: String,
    },
    /// Sent back once, listing every missing item (一次性告知); submitted again after correction.
    CorrectionRequested {
        items: Vec<String>,
    },
    /// At least one step started.
    InProgress,
    /// Every step done; the result is waiting to be delivered.
    Done,
    /// The result reached the applicant. Final.
    Delivered,
    /// A step was refused, for this reason. Final.
    Refused {
        step: String,
        reason: String,
    },
}

impl AppState {
    /// The stable snake_case name of the state, as stored and sent over the API.
    pub fn code(&self) -> &'static str {
        match self {
            AppState::Draft => "draft",
            AppState::Submitted => "submitted",
            AppState::Accepted => "accepted",
            AppState::NotAccepted { .. } => "not_accepted",
            AppState::CorrectionRequested { .. } => "correction_requested",
            AppState::InProgress => "in_progress",
            AppState::Done => "done",
            AppState::Delivered => "delivered",
            AppState::Refused { .. } => "refused",
        }
    }

    /// True when nothing more can happen to the application.
    pub fn is_final(&self) -> bool {
        matches!(self, AppState::NotAccepted { .. } | AppState::Delivered | AppState::Refused { .. })
    }

    /// The state as words that follow "an application that is".
    fn described(&self) -> &'static str {
        match self {
            AppState::Draft => "a draft",
            AppState::Submitted => "already submitted",
            AppState::Accepted => "already accepted",
            AppState::NotAccepted { .. } => "not accepted",
            AppState::CorrectionRequested { .. } => "awaiting correction",
            AppState::InProgress => "in progress",
            AppState::Done => "done",
            AppState::Delivered => "delivered",
            AppState::Refused { .. } => "refused",
        }
    }
}

/// Where one step stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Some step it needs is not done.
    Waiting,
    /// In its department's queue.
    Ready,
    /// A clerk accepted it.
    InProgress,
    Done,
    Refused {
        reason: String,
    },
}

impl StepState {
    /// The stable snake_case name of the state.
    pub fn code(&self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Ready => "ready",
            StepState::InProgress => "in_progress",
            StepState::Done => "done",
            StepState::Refused { .. } => "refused",
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self, StepState::Done | StepState::Refused { .. })
    }
}

/// One matter of an application, done by one department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub matter: String,
    pub department: String,
    /// Ids of the steps that must be done first.
    pub needs: Vec<String>,
    /// The matter's promised time limit in working days.
    pub time_limit_days: u32,
    pub state: StepState,
    pub ready_at: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

impl Step {
    /// The step's flag while it runs (ready or in progress); `None` otherwise.
    pub fn flag(&self, now: Timestamp, calendar: &WorkCalendar) -> Option<Flag> {
        match (&self.state, self.deadline) {
            (StepState::Ready | StepState::InProgress, Some(deadline)) => Some(flag(deadline, now, calendar)),
            _ => None,
        }
    }
}

/// An application for a bundle (or a single matter) with the state of each of its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The bundle's id, or the matter's code for a single-matter application.
    pub bundle: String,
    pub state: AppState,
    /// In the order of the bundle's definition.
    pub steps: Vec<Step>,
    /// What the application asks for, once per material code over all its matters (required
    /// if any matter requires it), so that a document shared by matters is handed in once.
    pub materials: Vec<Material>,
    /// The codes of the materials handed in with the last submission.
    pub provided: BTreeSet<String>,
    /// Set by the one correction request an application may receive.
    pub correction_requested: bool,
    /// The last submission.
    pub submitted_at: Option<Timestamp>,
    pub accepted_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
}

impl Application {
    /// A new draft for a validated bundle.
    pub fn draft(bundle: &ValidBundle) -> Application {
        let steps = bundle
            .steps()
            .iter()
            .zip(bundle.matters())
            .map(|(step, matter)| new_step(&step.id, matter, step.needs.clone()))
            .collect();
        let produced: BTreeSet<&str> = bundle.steps().iter().flat_map(|s| s.produces.iter().map(String::as_str)).collect();
        Application::new(bundle.id(), steps, bundle.matters(), &produced)
    }

    /// A new draft for one matter on its own: one step, named by the matter's code.
    pub fn draft_single(matter: &Matter) -> Application {
        Application::new(
            &matter.code,
            vec![new_step(&matter.code, matter, Vec::new())],
            std::slice::from_ref(matter),
            &BTreeSet::new(),
        )
    }

    /// Materials that a step of the bundle itself produces (`produced`) are not asked of the
    /// applicant.
    fn new(bundle: &str, steps: Vec<Step>, matters: &[Matter], produced: &BTreeSet<&str>) -> Application {
        let mut materials: Vec<Material> = Vec::new();
        for material in matters.iter().flat_map(|m| &m.materials).filter(|m| !produced.contains(m.code.as_str())) {
            match materials.iter_mut().find(|m| m.code == material.code) {
                Some(known) => known.required |= material.required,
                None => materials.push(material.clone()),
            }
        }
        Application {
            bundle: bundle.to_string(),
            state: AppState::Draft,
            steps,
            materials,
            provided: BTreeSet::new(),
            correction_requested: false,
            submitted_at: None,
            accepted_at: None,
            completed_at: None,
            delivered_at: None,
        }
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The required materials not in `provided`.
    pub fn missing_materials(&self, provided: &BTreeSet<String>) -> Vec<&Material> {
        self.materials.iter().filter(|m| m.required && !provided.contains(&m.code)).collect()
    }

    /// The steps in `department`'s queue: ready or in progress.
    pub fn queue_of<'a>(&'a self, department: &'a str) -> impl Iterator<Item = &'a Step> + 'a {
        self.steps
            .iter()
            .filter(move |s| s.department == department && matches!(s.state, StepState::Ready | StepState::InProgress))
    }
}

fn new_step(id: &str, matter: &Matter, needs: Vec<String>) -> Step {
    Step {
        id: id.to_string(),
        matter: matter.code.clone(),
        department: matter.department.clone(),
        needs,
        time_limit_days: matter.time_limit_days,
        state: StepState::Waiting,
        ready_at: None,
        deadline: None,
        started_at: None,
        finished_at: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Events, effects, errors

/// Something a person does to an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The applicant submits, handing in these materials (by code): the whole set, which
    /// replaces what an earlier submission handed in.
    Submit { materials: BTreeSet<String> },
    /// The hall accepts the application (受理): the steps that need nothing become ready.
    Accept,
    /// The hall does not accept it (不予受理).
    NotAccept { reason: String },
    /// The hall sends it back once, listing every missing or wrong item.
    RequestCorrection { items: Vec<String> },
    /// A clerk of `department` takes the step on.
    StartStep { step: String, department: String },
    /// A clerk of `department` completes the step; the steps waiting only for it become ready.
    CompleteStep { step: String, department: String },
    /// A clerk of `department` refuses the step, which ends the application.
    RefuseStep { step: String, department: String, reason: String },
    /// The result reaches the applicant.
    Deliver,
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Applicant,
    /// The service hall that accepts applications (营商环境建设局's hall).
    Hall,
    /// A department's queue, by department code.
    Department(String),
}

/// What a notification says; its wording in each language belongs to the web layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Submitted,
    Accepted,
    NotAccepted { reason: String },
    CorrectionRequested { items: Vec<String> },
    StepReady { step: String, deadline: Timestamp },
    StepStarted { step: String },
    StepDone { step: String },
    StepRefused { step: String, reason: String },
    Done,
    Delivered,
}

/// What the store must do besides saving the new application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A step became ready with this deadline.
    DeadlineSet { step: String, department: String, deadline: Timestamp },
    /// Put a notification in the outbox.
    Notify { to: Recipient, notice: Notice },
}

/// The result of an allowed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub application: Application,
    pub effects: Vec<Effect>,
}

/// Why an event is not allowed. Messages are shown to the person who acted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("cannot {action} an application that is {state}: {allowed}")]
    WrongState {
        action: &'static str,
        state: &'static str,
        allowed: &'static str,
    },
    #[error("required materials are missing: {}", names(missing))]
    MissingMaterials { missing: Vec<Material> },
    #[error("materials this application does not ask for: {}", codes.join(", "))]
    UnknownMaterials { codes: Vec<String> },
    #[error("a correction was already requested once for this application, listing every missing item: accept it or do not accept it")]
    SecondCorrection,
    #[error("a correction request must list every missing item, and lists none")]
    NoCorrectionItems,
    #[error("the correction item '{item}' is empty or listed twice")]
    BadCorrectionItem { item: String },
    #[error("a reason is required")]
    NoReason,
    #[error("this application has no step '{step}'")]
    UnknownStep { step: String },
    #[error("step '{step}' belongs to department '{department}', not to '{acting}'")]
    OtherDepartment { step: String, department: String, acting: String },
    #[error("step '{step}' is already {state}: a finished step cannot be acted on")]
    StepFinished { step: String, state: &'static str },
    #[error("step '{step}' is waiting for {} to be done", quoted(waiting_for))]
    StepWaiting { step: String, waiting_for: Vec<String> },
    #[error("step '{step}' is already in progress")]
    StepAlreadyStarted { step: String },
    #[error("step '{step}' has not been started: take it on before completing it")]
    StepNotStarted { step: String },
}

fn names(materials: &[Material]) -> String {
    materials.iter().map(|m| format!("{} ({})", m.name, m.code)).collect::<Vec<_>>().join(", ")
}

fn quoted(steps: &[String]) -> String {
    steps.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
}

/// Applies `event`, happening at `at`, to `app`. On success the returned application replaces
/// `app` and every effect is to be carried out in the same transaction; on error nothing
/// changed.
pub fn apply(app: &Application, event: Event, at: Timestamp, calendar: &WorkCalendar) -> Result<Transition, LifecycleError> {
    let mut next = app.clone();
    let mut effects = Vec::new();
    let notify = |effects: &mut Vec<Effect>, to: Recipient, notice: Notice| effects.push(Effect::Notify { to, notice });
    match event {
        Event::Submit { materials } => {
            require_state(app, "submit", "only a draft or an application awaiting correction can be submitted", |s| {
                matches!(s, AppState::Draft | AppState::CorrectionRequested { .. })
            })?;
            let unknown: Vec<String> = materials.iter().filter(|c| !app.materials.iter().any(|m| &&m.code == c)).cloned().collect();
            if !unknown.is_empty() {
                return Err(LifecycleError::UnknownMaterials { codes: unknown });
            }
            let missing: Vec<Material> = app.missing_materials(&materials).into_iter().cloned().collect();
            if !missing.is_empty() {
                return Err(LifecycleError::MissingMaterials { missing });
            }
            next.provided = materials;
            next.state = AppState::Submitted;
            next.submitted_at = Some(at);
            notify(&mut effects, Recipient::Hall, Notice::Submitted);
            notify(&mut effects, Recipient::Applicant, Notice::Submitted);
        }
        Event::Accept => {
            require_submitted(app, "accept", "only a submitted application can be accepted")?;
            next.state = AppState::Accepted;
            next.accepted_at = Some(at);
            notify(&mut effects, Recipient::Applicant, Notice::Accepted);
            release_ready_steps(&mut next, at, calendar, &mut effects);
        }
        Event::NotAccept { reason } => {
            require_submitted(app, "refuse to accept", "only a submitted application can be refused acceptance")?;
            let reason = non_empty(reason)?;
            next.state = AppState::NotAccepted { reason: reason.clone() };
            notify(&mut effects, Recipient::Applicant, Notice::NotAccepted { reason });
        }
        Event::RequestCorrection { items } => {
            require_submitted(app, "request a correction of", "only a submitted application can be sent back for correction")?;
            if app.correction_requested {
                return Err(LifecycleError::SecondCorrection);
            }
            let mut listed: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let trimmed = item.trim();
                if trimmed.is_empty() || listed.iter().any(|l| l == trimmed) {
                    return Err(LifecycleError::BadCorrectionItem { item });
                }
                listed.push(trimmed.to_string());
            }
            if listed.is_empty() {
                return Err(LifecycleError::NoCorrectionItems);
            }
            next.correction_requested = true;
            next.state = AppState::CorrectionRequested { items: listed.clone() };
            notify(&mut effects, Recipient::Applicant, Notice::CorrectionRequested { items: listed });
        }
        Event::StartStep { step, department } => {
            let i = step_to_act_on(app, &step, &department)?;
            match app.steps[i].state {
                StepState::Ready => {}
                StepState::InProgress => return Err(LifecycleError::StepAlreadyStarted { step }),
                _ => return Err(waiting(app, i)),
            }
            let s = &mut next.steps[i];
            s.state = StepState::InProgress;
            s.started_at = Some(at);
            next.state = AppState::InProgress;
            notify(&mut effects, Recipient::Applicant, Notice::StepStarted { step });
        }
        Event::CompleteStep { step, department } => {
            let i = step_to_act_on(app, &step, &department)?;
            match app.steps[i].state {
                StepState::InProgress => {}
                StepState::Ready => return Err(LifecycleError::StepNotStarted { step }),
                _ => return Err(waiting(app, i)),
            }
            let s = &mut next.steps[i];
            s.state = StepState::Done;
            s.finished_at = Some(at);
            notify(&mut effects, Recipient::Applicant, Notice::StepDone { step });
            release_ready_steps(&mut next, at, calendar, &mut effects);
            if next.steps.iter().all(|s| s.state == StepState::Done) {
                next.state = AppState::Done;
                next.completed_at = Some(at);
                notify(&mut effects, Recipient::Applicant, Notice::Done);
            }
        }
        Event::RefuseStep { step, department, reason } => {
            let i = step_to_act_on(app, &step, &department)?;
            if app.steps[i].state == StepState::Waiting {
                return Err(waiting(app, i));
            }
            let reason = non_empty(reason)?;
            let s = &mut next.steps[i];
            s.state = StepState::Refused { reason: reason.clone() };
            s.finished_at = Some(at);
            next.state = AppState::Refused {
                step: step.clone(),
                reason: reason.clone(),
            };
            notify(&mut effects, Recipient::Applicant, Notice::StepRefused { step, reason });
        }
        Event::Deliver => {
            require_state(app, "deliver the result of", "only a done application can be delivered", |s| {
                *s == AppState::Done
            })?;
            next.state = AppState::Delivered;
            next.delivered_at = Some(at);
            notify(&mut effects, Recipient::Applicant, Notice::Delivered);
        }
    }
    Ok(Transition { application: next, effects })
}

fn require_state(app: &Application, action: &'static str, allowed: &'static str, ok: impl Fn(&AppState) -> bool) -> Result<(), LifecycleError> {
    if ok(&app.state) {
        Ok(())
    } else {
        Err(LifecycleError::WrongState {
            action,
            state: app.state.described(),
            allowed,
        })
    }
}

fn require_submitted(app: &Application, action: &'static str, allowed: &'static str) -> Result<(), LifecycleError> {
    require_state(app, action, allowed, |s| *s == AppState::Submitted)
}

fn non_empty(reason: String) -> Result<String, LifecycleError> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err(LifecycleError::NoReason)
    } else {
        Ok(reason.to_string())
    }
}

/// The index of a step a clerk of `department` may act on now, checking in the order a clerk
/// would want to be told: which step, whose step, whether it is finished, and whether the
/// application is running at all.
fn step_to_act_on(app: &Application, step: &str, department: &str) -> Result<usize, LifecycleError> {
    let i = app
        .steps
        .iter()
        .position(|s| s.id == step)
        .ok_or_else(|| LifecycleError::UnknownStep { step: step.to_string() })?;
    let s = &app.steps[i];
    if s.department != department {
        return Err(LifecycleError::OtherDepartment {
            step: step.to_string(),
            department: s.department.clone(),
            acting: department.to_string(),
        });
    }
    if s.state.is_finished() {
        return Err(LifecycleError::StepFinished {
            step: step.to_string(),
            state: s.state.code(),
        });
    }
    require_state(app, "act on a step of", "steps are acted on only once the application is accepted", |s| {
        matches!(s, AppState::Accepted | AppState::InProgress)
    })?;
    Ok(i)
}

fn waiting(app: &Application, i: usize) -> LifecycleError {
    let step = &app.steps[i];
    let waiting_for = step
        .needs
        .iter()
        .filter(|need| app.step(need).is_some_and(|s| s.state != StepState::Done))
        .cloned()
        .collect();
    LifecycleError::StepWaiting {
        step: step.id.clone(),
        waiting_for,
    }
}

/// Makes ready every waiting step whose needs are all done, setting its deadline.
fn release_ready_steps(app: &mut Application, at: Timestamp, calendar: &WorkCalendar, effects: &mut Vec<Effect>) {
    let done: BTreeSet<String> = app.steps.iter().filter(|s| s.state == StepState::Done).map(|s| s.id.clone()).collect();
    for step in &mut app.steps {
        if step.state != StepState::Waiting || !step.needs.iter().all(|n| done.contains(n)) {
            continue;
        }
        let due = deadline(at, step.time_limit_days, calendar);
        step.state = StepState::Ready;
        step.ready_at = Some(at);
        step.deadline = Some(due);
        effects.push(Effect::DeadlineSet {
            step: step.id.clone(),
            department: step.department.clone(),
            deadline: due,
        });
        effects.push(Effect::Notify {
            to: Recipient::Department(step.department.clone()),
            notice: Notice::StepReady {
                step: step.id.clone(),
                deadline: due,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{shipped_bundles, shipped_matters};

    fn cal() -> &'static WorkCalendar {
        WorkCalendar::national()
    }

    /// A time in Asia/Shanghai, `YYYY-MM-DD HH:MM`.
    fn at(local: &str) -> Timestamp {
        format!("{}:00+08:00", local.replace(' ', "T")).parse().unwrap()
    }

    fn open_company() -> Application {
        let def = shipped_bundles().into_iter().find(|b| b.id == "open_company").unwrap();
        Application::draft(&def.validate(&shipped_matters()).unwrap())
    }

    fn all_materials(app: &Application) -> BTreeSet<String> {
        app.materials.iter().map(|m| m.code.clone()).collect()
    }

    fn required_materials(app: &Application) -> BTreeSet<String> {
        app.materials.iter().filter(|m| m.required).map(|m| m.code.clone()).collect()
    }

    /// Applies events in turn, panicking with the event if one is refused.
    fn run(app: &Application, events: Vec<(Event, &str)>) -> Application {
        events.into_iter().fold(app.clone(), |app, (event, when)| {
            let shown = format!("{event:?}");
            apply(&app, event, at(when), cal()).unwrap_or_else(|e| panic!("{shown}: {e}")).application
        })
    }

    fn refused(app: &Application, event: Event) -> LifecycleError {
        apply(app, event, at("2024-03-11 10:00"), cal()).expect_err("the event should be refused")
    }

    fn start(step: &str, department: &str) -> Event {
        Event::StartStep {
            step: step.into(),
            department: department.into(),
        }
    }

    fn complete(step: &str, department: &str) -> Event {
        Event::CompleteStep {
            step: step.into(),
            department: department.into(),
        }
    }

    fn submit(materials: BTreeSet<String>) -> Event {
        Event::Submit { materials }
    }

    fn accepted(app: &Application) -> Application {
        run(
            app,
            vec![(submit(required_materials(app)), "2024-03-08 09:00"), (Event::Accept, "2024-03-08 09:30")],
        )
    }

    const PARALLEL: [(&str, &str); 4] = [("seal", "police"), ("invoice", "tax"), ("bank_account", "bank"), ("social_insurance", "hrss")];

    #[test]
    fn a_company_is_opened_through_the_whole_lifecycle_with_its_effects() {
        let draft = open_company();
        assert_eq!(draft.state, AppState::Draft);
        // The licence and the ID card are asked for once, though four matters need them.
        assert_eq!(draft.materials.iter().filter(|m| m.code == "legal_rep_id").count(), 1);

        let submitted = apply(&draft, submit(all_materials(&draft)), at("2024-03-08 09:00"), cal()).unwrap();
        assert_eq!(submitted.application.state, AppState::Submitted);
        assert_eq!(
            submitted.effects,
            vec![
                Effect::Notify {
                    to: Recipient::Hall,
                    notice: Notice::Submitted
                },
                Effect::Notify {
                    to: Recipient::Applicant,
                    notice: Notice::Submitted
                },
            ]
        );

        // Accepted on Friday 8 March 2024: the licence is on the spot, due that evening.
        let accepted = apply(&submitted.application, Event::Accept, at("2024-03-08 09:30"), cal()).unwrap();
        let app = &accepted.application;
        assert_eq!(app.state, AppState::Accepted);
        let licence = app.step("licence").unwrap();
        assert_eq!(
            (&licence.state, licence.deadline),
            (&StepState::Ready, Some(end_of_day(jiff::civil::date(2024, 3, 8))))
        );
        assert!(accepted.effects.contains(&Effect::DeadlineSet {
            step: "licence".into(),
            department: "market".into(),
            deadline: end_of_day(jiff::civil::date(2024, 3, 8)),
        }));
        assert!(app.steps.iter().filter(|s| s.id != "licence").all(|s| s.state == StepState::Waiting));
        assert_eq!(app.queue_of("market").count(), 1);

        let app = run(app, vec![(start("licence", "market"), "2024-03-08 10:00")]);
        assert_eq!(app.state, AppState::InProgress);
        let done = apply(&app, complete("licence", "market"), at("2024-03-08 15:00"), cal()).unwrap();
        // The four parallel steps become ready in their four departments, due Monday 11 March.
        for (step, department) in PARALLEL {
            let s = done.application.step(step).unwrap();
            assert_eq!((&s.state, s.deadline), (&StepState::Ready, Some(end_of_day(jiff::civil::date(2024, 3, 11)))));
            assert!(done.effects.contains(&Effect::Notify {
                to: Recipient::Department(department.into()),
                notice: Notice::StepReady {
                    step: step.into(),
                    deadline: end_of_day(jiff::civil::date(2024, 3, 11)),
                },
            }));
        }
        assert!(done.effects.contains(&Effect::Notify {
            to: Recipient::Applicant,
            notice: Notice::StepDone { step: "licence".into() },
        }));

        let mut app = done.application;
        for (step, department) in PARALLEL {
            app = run(
                &app,
                vec![(start(step, department), "2024-03-11 09:00"), (complete(step, department), "2024-03-11 11:00")],
            );
        }
        assert_eq!(app.state, AppState::Done);
        assert_eq!(app.completed_at, Some(at("2024-03-11 11:00")));
        assert!(opened_within_one_working_day(app.submitted_at.unwrap(), app.completed_at.unwrap(), cal()));
        let delivered = apply(&app, Event::Deliver, at("2024-03-11 14:00"), cal()).unwrap();
        assert_eq!(delivered.application.state, AppState::Delivered);
        assert!(delivered.application.state.is_final());
    }

    #[test]
    fn a_correction_is_requested_once_listing_every_item_and_the_corrected_application_is_accepted() {
        let app = run(&open_company(), vec![(submit(required_materials(&open_company())), "2024-03-08 09:00")]);
        let items = vec!["公司章程未签字".to_string(), "住所使用证明不清晰".to_string()];
        let sent_back = apply(&app, Event::RequestCorrection { items: items.clone() }, at("2024-03-08 10:00"), cal()).unwrap();
        assert_eq!(sent_back.application.state, AppState::CorrectionRequested { items: items.clone() });
        assert_eq!(
            sent_back.effects,
            vec![Effect::Notify {
                to: Recipient::Applicant,
                notice: Notice::CorrectionRequested { items }
            }]
        );
        let resubmitted = run(&sent_back.application, vec![(submit(required_materials(&app)), "2024-03-09 08:00")]);
        assert_eq!(resubmitted.submitted_at, Some(at("2024-03-09 08:00")));
        let error = refused(&resubmitted, Event::RequestCorrection { items: vec!["again".into()] });
        assert_eq!(error, LifecycleError::SecondCorrection);
        assert!(error.to_string().starts_with("a correction was already requested once"), "{error}");
        assert_eq!(run(&resubmitted, vec![(Event::Accept, "2024-03-11 09:00")]).state, AppState::Accepted);
    }

    #[test]
    fn submitting_without_every_required_material_lists_the_missing_ones() {
        let draft = open_company();
        let mut materials = required_materials(&draft);
        materials.remove("articles");
        materials.remove("premises");
        let error = refused(&draft, submit(materials));
        let LifecycleError::MissingMaterials { missing } = &error else {
            panic!("{error:?}")
        };
        let codes: Vec<&str> = missing.iter().map(|m| m.code.as_str()).collect();
        assert_eq!(codes, vec!["articles", "premises"]);
        assert_eq!(
            error.to_string(),
            "required materials are missing: 公司章程 (articles), 住所使用证明 (premises)"
        );
        let mut materials = required_materials(&draft);
        materials.insert("selfie".into());
        assert_eq!(
            refused(&draft, submit(materials)).to_string(),
            "materials this application does not ask for: selfie"
        );
    }

    #[test]
    fn a_double_submission_and_acting_out_of_turn_are_refused_with_the_state_named() {
        let draft = open_company();
        let submitted = run(&draft, vec![(submit(required_materials(&draft)), "2024-03-08 09:00")]);
        assert_eq!(
            refused(&submitted, submit(required_materials(&draft))).to_string(),
            "cannot submit an application that is already submitted: only a draft or an application awaiting correction can be submitted"
        );
        assert_eq!(
            refused(&draft, Event::Accept).to_string(),
            "cannot accept an application that is a draft: only a submitted application can be accepted"
        );
        let accepted = accepted(&draft);
        assert!(matches!(refused(&accepted, Event::Accept), LifecycleError::WrongState { action: "accept", .. }));
        assert!(matches!(
            refused(&draft, Event::NotAccept { reason: "x".into() }),
            LifecycleError::WrongState { .. }
        ));
        assert!(matches!(
            refused(&accepted, Event::RequestCorrection { items: vec!["x".into()] }),
            LifecycleError::WrongState { .. }
        ));
        assert_eq!(
            refused(&accepted, Event::Deliver).to_string(),
            "cannot deliver the result of an application that is already accepted: only a done application can be delivered"
        );
        // Steps are not acted on before the application is accepted.
        assert_eq!(
            refused(&submitted, start("licence", "market")).to_string(),
            "cannot act on a step of an application that is already submitted: steps are acted on only once the application is accepted"
        );
    }

    #[test]
    fn not_accepting_needs_a_reason_and_ends_the_application() {
        let submitted = run(&open_company(), vec![(submit(required_materials(&open_company())), "2024-03-08 09:00")]);
        assert_eq!(refused(&submitted, Event::NotAccept { reason: "  ".into() }), LifecycleError::NoReason);
        let app = run(
            &submitted,
            vec![(
                Event::NotAccept {
                    reason: "不属于本部门受理范围".into(),
                },
                "2024-03-08 10:00",
            )],
        );
        assert_eq!(
            app.state,
            AppState::NotAccepted {
                reason: "不属于本部门受理范围".into()
            }
        );
        assert!(app.state.is_final());
        assert!(matches!(refused(&app, Event::Accept), LifecycleError::WrongState { state: "not accepted", .. }));
    }

    #[test]
    fn a_correction_request_must_list_its_items_each_once() {
        let submitted = run(&open_company(), vec![(submit(required_materials(&open_company())), "2024-03-08 09:00")]);
        assert_eq!(
            refused(&submitted, Event::RequestCorrection { items: vec![] }),
            LifecycleError::NoCorrectionItems
        );
        let twice = Event::RequestCorrection {
            items: vec!["章程".into(), " 章程 ".into()],
        };
        assert_eq!(refused(&submitted, twice), LifecycleError::BadCorrectionItem { item: " 章程 ".into() });
        let blank = Event::RequestCorrection { items: vec!["".into()] };
        assert!(matches!(refused(&submitted, blank), LifecycleError::BadCorrectionItem { .. }));
    }

    #[test]
    fn a_clerk_cannot_act_on_another_departments_step_an_unknown_step_or_a_waiting_one() {
        let app = accepted(&open_company());
        assert_eq!(
            refused(&app, start("licence", "tax")).to_string(),
            "step 'licence' belongs to department 'market', not to 'tax'"
        );
        assert_eq!(refused(&app, start("lunch", "market")).to_string(), "this application has no step 'lunch'");
        assert_eq!(
            refused(&app, start("seal", "police")).to_string(),
            "step 'seal' is waiting for 'licence' to be done"
        );
        let refuse_waiting = Event::RefuseStep {
            step: "seal".into(),
            department: "police".into(),
            reason: "x".into(),
        };
        assert!(matches!(refused(&app, refuse_waiting), LifecycleError::StepWaiting { .. }));
        assert_eq!(
            refused(&app, complete("licence", "market")).to_string(),
            "step 'licence' has not been started: take it on before completing it"
        );
        let started = run(&app, vec![(start("licence", "market"), "2024-03-08 10:00")]);
        assert_eq!(
            refused(&started, start("licence", "market")).to_string(),
            "step 'licence' is already in progress"
        );
    }

    #[test]
    fn a_finished_step_cannot_be_acted_on_again() {
        let app = run(
            &accepted(&open_company()),
            vec![
                (start("licence", "market"), "2024-03-08 10:00"),
                (complete("licence", "market"), "2024-03-08 11:00"),
            ],
        );
        for event in [
            start("licence", "market"),
            complete("licence", "market"),
            Event::RefuseStep {
                step: "licence".into(),
                department: "market".into(),
                reason: "x".into(),
            },
        ] {
            assert_eq!(
                refused(&app, event).to_string(),
                "step 'licence' is already done: a finished step cannot be acted on"
            );
        }
    }

    #[test]
    fn a_refused_step_ends_the_application_and_nothing_more_can_be_done() {
        let app = run(
            &accepted(&open_company()),
            vec![
                (start("licence", "market"), "2024-03-08 10:00"),
                (complete("licence", "market"), "2024-03-08 11:00"),
            ],
        );
        let no_reason = Event::RefuseStep {
            step: "bank_account".into(),
            department: "bank".into(),
            reason: String::new(),
        };
        assert_eq!(refused(&app, no_reason), LifecycleError::NoReason);
        let refuse = Event::RefuseStep {
            step: "bank_account".into(),
            department: "bank".into(),
            reason: "法定代表人未到场核实意愿".into(),
        };
        let app = run(&app, vec![(refuse, "2024-03-08 14:00")]);
        assert_eq!(
            app.state,
            AppState::Refused {
                step: "bank_account".into(),
                reason: "法定代表人未到场核实意愿".into()
            }
        );
        assert_eq!(app.step("bank_account").unwrap().state.code(), "refused");
        assert!(matches!(
            refused(&app, start("seal", "police")),
            LifecycleError::WrongState { state: "refused", .. }
        ));
        assert!(matches!(
            refused(&app, start("bank_account", "bank")),
            LifecycleError::StepFinished { state: "refused", .. }
        ));
        assert!(matches!(refused(&app, Event::Deliver), LifecycleError::WrongState { .. }));
    }

    #[test]
    fn a_single_matter_is_an_application_of_one_step() {
        let matter = shipped_matters().into_iter().find(|m| m.code == "ndrc.project_filing").unwrap();
        let app = Application::draft_single(&matter);
        let app = run(
            &app,
            vec![
                (submit(required_materials(&app)), "2024-09-27 16:00"),
                (Event::Accept, "2024-09-27 16:30"),
                (start("ndrc.project_filing", "ndrc"), "2024-09-29 09:00"),
            ],
        );
        // Three working days from Friday 27 September 2024: Sunday 29 (make-up), Monday 30, Tuesday 8 October.
        assert_eq!(
            app.step("ndrc.project_filing").unwrap().deadline,
            Some(end_of_day(jiff::civil::date(2024, 10, 8)))
        );
        let app = run(&app, vec![(complete("ndrc.project_filing", "ndrc"), "2024-10-08 10:00")]);
        assert_eq!(app.state, AppState::Done);
    }

    #[test]
    fn deadlines_count_working_days_from_the_day_a_step_became_ready_to_the_end_of_the_day() {
        let date = jiff::civil::date;
        // One working day from Friday is Monday, 23:59:59 in Shanghai (15:59:59 UTC).
        assert_eq!(deadline(at("2024-03-08 16:00"), 1, cal()).to_string(), "2024-03-11T15:59:59Z");
        // Just after midnight on Friday in Shanghai (Thursday 16:30 UTC) counts from Friday.
        assert_eq!(deadline(at("2024-03-08 00:30"), 1, cal()), end_of_day(date(2024, 3, 11)));
        assert_eq!(deadline(at("2024-03-07 23:30"), 1, cal()), end_of_day(date(2024, 3, 8)));
        // On the spot: the same day, or the next working day when ready on a day off.
        assert_eq!(deadline(at("2024-03-08 10:00"), 0, cal()), end_of_day(date(2024, 3, 8)));
        assert_eq!(deadline(at("2024-03-09 10:00"), 0, cal()), end_of_day(date(2024, 3, 11)));
        assert_eq!(deadline(at("2024-10-01 10:00"), 0, cal()), end_of_day(date(2024, 10, 8)));
        // Five working days from Monday 30 September 2024 skip the National Day week and count
        // Saturday 12 October: 8, 9, 10, 11, 12 October.
        assert_eq!(deadline(at("2024-09-30 10:00"), 5, cal()), end_of_day(date(2024, 10, 12)));
    }

    #[test]
    fn a_step_is_green_then_yellow_within_one_working_day_of_its_deadline_then_red() {
        // Due Tuesday 12 March 2024.
        let due = end_of_day(jiff::civil::date(2024, 3, 12));
        assert_eq!(flag(due, at("2024-03-08 10:00"), cal()), Flag::Green);
        assert_eq!(flag(due, at("2024-03-10 10:00"), cal()), Flag::Green, "Sunday: two working days left");
        assert_eq!(flag(due, at("2024-03-11 09:00"), cal()), Flag::Yellow);
        assert_eq!(flag(due, at("2024-03-12 23:59"), cal()), Flag::Yellow);
        assert_eq!(due.to_string(), "2024-03-12T15:59:59Z", "23:59:59 in Shanghai");
        assert_eq!(flag(due, at("2024-03-13 00:00"), cal()), Flag::Red);
        // Due Monday: already yellow on the Friday before, across the weekend.
        let monday = end_of_day(jiff::civil::date(2024, 3, 11));
        assert_eq!(flag(monday, at("2024-03-08 10:00"), cal()), Flag::Yellow);
        assert_eq!(flag(monday, at("2024-03-07 10:00"), cal()), Flag::Green);
        // Due Tuesday 8 October 2024: yellow from Monday 30 September, across the holiday.
        let after_holiday = end_of_day(jiff::civil::date(2024, 10, 8));
        assert_eq!(flag(after_holiday, at("2024-09-29 10:00"), cal()), Flag::Green);
        assert_eq!(flag(after_holiday, at("2024-09-30 10:00"), cal()), Flag::Yellow);
        // A step's flag exists only while it runs.
        let app = accepted(&open_company());
        let licence = app.step("licence").unwrap();
        assert_eq!(licence.flag(at("2024-03-08 10:00"), cal()), Some(Flag::Yellow));
        assert_eq!(licence.flag(at("2024-03-09 10:00"), cal()), Some(Flag::Red));
        assert_eq!(app.step("seal").unwrap().flag(at("2024-03-08 10:00"), cal()), None);
    }

    #[test]
    fn a_company_submitted_on_friday_and_opened_on_monday_is_within_one_working_day_across_the_weekend() {
        let submitted = at("2024-03-08 16:00");
        assert!(opened_within_one_working_day(submitted, at("2024-03-08 17:00"), cal()));
        assert!(opened_within_one_working_day(submitted, at("2024-03-11 23:59"), cal()));
        assert!(!opened_within_one_working_day(submitted, at("2024-03-12 00:00"), cal()));
        assert!(!opened_within_one_working_day(submitted, at("2024-03-12 09:00"), cal()));
    }

    #[test]
    fn across_national_day_2024_a_company_submitted_on_30_september_may_open_on_8_october_but_not_on_9_october() {
        let submitted = at("2024-09-30 10:00");
        assert!(opened_within_one_working_day(submitted, at("2024-10-08 16:00"), cal()));
        assert!(!opened_within_one_working_day(submitted, at("2024-10-09 09:00"), cal()));
        // Submitted during the holiday: the first working day after it is the one day.
        assert!(opened_within_one_working_day(at("2024-10-03 10:00"), at("2024-10-08 16:00"), cal()));
        assert!(!opened_within_one_working_day(at("2024-10-03 10:00"), at("2024-10-09 09:00"), cal()));
        // Submitted late in the evening of 30 September in Shanghai (the afternoon in UTC).
        assert!(opened_within_one_working_day(at("2024-09-30 23:30"), at("2024-10-08 23:59"), cal()));
    }

    #[test]
    fn a_make_up_working_day_counts_as_the_one_working_day() {
        // Sunday 29 September 2024 is a working day: a company submitted on Friday 27 September
        // must be opened by then, not by Monday.
        let friday = at("2024-09-27 11:00");
        assert!(opened_within_one_working_day(friday, at("2024-09-29 17:00"), cal()));
        assert!(!opened_within_one_working_day(friday, at("2024-09-30 09:00"), cal()));
        // Saturday 12 October 2024 is a working day too.
        let friday = at("2024-10-11 11:00");
        assert!(opened_within_one_working_day(friday, at("2024-10-12 17:00"), cal()));
        assert!(!opened_within_one_working_day(friday, at("2024-10-14 09:00"), cal()));
    }

    #[test]
    fn a_completion_recorded_before_the_submission_is_not_a_promise_kept() {
        assert!(!opened_within_one_working_day(at("2024-03-08 10:00"), at("2024-03-08 09:00"), cal()));
    }

    #[test]
    fn state_codes_are_the_stable_snake_case_names() {
        let codes: Vec<&str> = [
            AppState::Draft,
            AppState::Submitted,
            AppState::Accepted,
            AppState::NotAccepted { reason: String::new() },
            AppState::CorrectionRequested { items: vec![] },
            AppState::InProgress,
            AppState::Done,
            AppState::Delivered,
            AppState::Refused {
                step: String::new(),
                reason: String::new(),
            },
        ]
        .iter()
        .map(AppState::code)
        .collect();
        assert_eq!(
            codes,
            [
                "draft",
                "submitted",
                "accepted",
                "not_accepted",
                "correction_requested",
                "in_progress",
                "done",
                "delivered",
                "refused"
            ]
        );
        let steps: Vec<&str> = [StepState::Waiting, StepState::Ready, StepState::InProgress, StepState::Done]
            .iter()
            .map(StepState::code)
            .collect();
        assert_eq!(steps, ["waiting", "ready", "in_progress", "done"]);
    }
}

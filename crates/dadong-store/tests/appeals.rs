//! Enterprise service and daily dispatch in the store (SPEC section 4), each scenario on
//! SQLite and on PostgreSQL: an appeal's whole life with its events and audit records, scope
//! by role, every refusal with nothing changed, escalation step by step on a clock the test
//! sets, duplicates, coverage, the dispatch board and the report's figures.

use dadong_appeals::{Category, DailyFigure, Escalation, Flag, Metric, PlanFlag, RoutingRule, Status};
use dadong_domain::{CreditCode, Period};
use dadong_store::appeals::{AppealAction, AppealFilter, Duty, NewAppeal, NewVisit, TargetKind};
use dadong_store::{Actor, NewUser, Store, StoreError, User};
use dadong_testkit::{Backend, TestDb};
use jiff::Timestamp;
use jiff::civil::{Date, date};

dadong_testkit::on_both_backends!(
    an_appeal_lives_from_raised_to_closed_with_every_step_in_its_history_and_the_audit_chain,
    a_cadre_sees_only_its_assigned_enterprises_a_clerk_its_department_an_agent_its_company,
    an_appeal_for_an_enterprise_the_user_does_not_act_for_is_refused_and_nothing_is_stored,
    a_reply_to_a_closed_appeal_is_refused_and_nothing_changes,
    a_routing_rule_that_points_nowhere_is_refused_and_the_old_rule_stays,
    a_daily_figure_for_a_future_date_or_a_negative_amount_is_refused_and_nothing_is_stored,
    a_reopen_after_thirty_days_is_refused_and_within_them_starts_a_new_clock,
    overdue_appeals_escalate_to_the_department_head_then_the_leader_one_step_per_run,
    a_new_appeal_like_an_open_one_of_the_same_enterprise_is_offered_as_a_possible_duplicate,
    coverage_shows_which_assigned_enterprises_a_cadre_has_not_visited_this_month,
    the_dispatch_board_shows_figures_against_plan_and_last_year_overdue_items_problems_and_tasks,
    the_report_counts_records_dated_in_the_period_and_overdue_at_its_end,
    a_follow_up_call_is_recorded_once_for_a_closed_appeal_only,
    steps_that_arrive_together_are_written_together_and_a_refused_one_changes_nothing,
    an_unassigned_cadre_no_longer_sees_the_enterprise_and_the_removal_is_audited,
    a_done_dispatch_task_leaves_the_board_and_cannot_be_done_twice,
    a_removed_key_enterprise_leaves_the_board_and_the_forms_and_comes_back_with_its_history,
);

// ---------------------------------------------------------------------------------------
// Fixtures

fn operator() -> Actor {
    Actor::Cli("appeals-test".to_string())
}

fn code(n: u32) -> String {
    let body = format!("91210104{n:09}");
    let check = CreditCode::check_char(&body).expect("digits are in the alphabet");
    format!("{body}{check}")
}

/// 10:00 in Asia/Shanghai on a day.
fn at(d: Date, hour: i8) -> Timestamp {
    d.at(hour, 0, 0, 0).in_tz("Asia/Shanghai").expect("zone").timestamp()
}

/// Monday 2 March 2026, an ordinary working week.
fn monday() -> Date {
    date(2026, 3, 2)
}

struct World {
    _db: TestDb,
    store: Store,
    admin: User,
    leader: User,
    cadre: User,
    other_cadre: User,
    hr_clerk: User,
    land_clerk: User,
    agent: User,
    other_agent: User,
    a: String,
    b: String,
}

async fn user(store: &Store, name: &str, role: &str, dept: Option<&str>, company: Option<&str>) -> User {
    store
        .create_user(
            &operator(),
            NewUser {
                department_code: dept.map(str::to_string),
                company_code: company.map(str::to_string),
                ..dadong_testkit::user(name, name, role)
            },
        )
        .await
        .expect("user")
}

async fn world(backend: Backend, test: &str) -> Option<World> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    let op = operator();
    for (c, zh, en) in [
        ("hr", "人社局", "Human resources"),
        ("land", "自然资源局", "Natural resources"),
        ("office", "营商局", "Business office"),
    ] {
        store.create_department(&op, c, zh, en).await.expect("department");
    }
    store.set_routing_rule(&op, &RoutingRule::new(Category::Labour, "hr")).await.expect("rule");
    let mut land = RoutingRule::new(Category::Land, "land");
    land.reply_days = 5;
    land.resolve_days = 30;
    store.set_routing_rule(&op, &land).await.expect("rule");
    store.set_routing_rule(&op, &RoutingRule::new(Category::Other, "office")).await.expect("rule");
    let (a, b) = (code(1), code(2));
    let w = World {
        admin: user(&store, "admin1", "admin", None, None).await,
        leader: user(&store, "leader1", "leader", None, None).await,
        cadre: user(&store, "cadre1", "cadre", None, None).await,
        other_cadre: user(&store, "cadre2", "cadre", None, None).await,
        hr_clerk: user(&store, "hrclerk", "clerk", Some("hr"), None).await,
        land_clerk: user(&store, "landclerk", "clerk", Some("land"), None).await,
        agent: user(&store, "agent1", "enterprise", None, Some(&a)).await,
        other_agent: user(&store, "agent2", "enterprise", None, Some(&b)).await,
        a,
        b,
        store,
        _db: db,
    };
    w.store
        .assign(&op, TargetKind::Enterprise, &w.a, w.cadre.id, Duty::Cadre)
        .await
        .expect("assign");
    w.store
        .assign(&op, TargetKind::Enterprise, &w.a, w.leader.id, Duty::Leader)
        .await
        .expect("assign");
    w.store
        .assign(&op, TargetKind::Enterprise, &w.b, w.other_cadre.id, Duty::Cadre)
        .await
        .expect("assign");
    Some(w)
}

fn actor(u: &User) -> Actor {
    Actor::User {
        id: u.id,
        username: u.username.clone(),
    }
}

fn new_appeal(code: &str, category: Category, title: &str) -> NewAppeal {
    NewAppeal {
        credit_code: code.into(),
        category: category.code().into(),
        title: title.into(),
        body: String::new(),
        visit_id: None,
    }
}

/// Raises an appeal; the appeal it answers (built by the writer without reading it back)
/// must be the appeal as stored.
async fn raise(w: &World, who: &User, code: &str, category: Category, title: &str, now: Timestamp) -> i64 {
    let raised = w
        .store
        .raise_appeal(&actor(who), who, &new_appeal(code, category, title), now)
        .await
        .expect("raised")
        .appeal;
    let stored = w.store.appeal(&w.admin, raised.id, now).await.expect("read back").expect("the admin sees it");
    assert_eq!(raised, stored.appeal, "the answered appeal is the stored one");
    raised.id
}

/// One step; the appeal it answers (built by the writer without reading it back) must be the
/// appeal as stored.
async fn step(w: &World, who: &User, id: i64, action: AppealAction, now: Timestamp) -> Result<dadong_store::appeals::AppealItem, StoreError> {
    let item = w.store.appeal_step(&actor(who), who, id, action, now).await?;
    let stored = w
        .store
        .appeal(&w.admin, id, now)
        .await
        .expect("read back")
        .expect("the admin sees every appeal");
    assert_eq!(item, stored.appeal, "the answered appeal is the stored one");
    Ok(item)
}

/// Row counts of every table this area writes, and the audit chain's length.
async fn snapshot(store: &Store) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "appeals",
        "appeal_events",
        "appeal_rules",
        "daily_figures",
        "visits",
        "follow_up_calls",
        "audit_log",
    ] {
        out.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(store.pool())
                .await
                .expect("count"),
        );
    }
    out
}

async fn closed_appeal(w: &World, start: Timestamp) -> i64 {
    let id = raise(w, &w.agent, &w.a, Category::Labour, "招工难，急需焊工", start).await;
    step(w, &w.hr_clerk, id, AppealAction::Accept, start).await.expect("accept");
    step(w, &w.hr_clerk, id, AppealAction::Reply("已对接人才市场".into()), start)
        .await
        .expect("reply");
    step(w, &w.hr_clerk, id, AppealAction::Resolve("招聘会已举办".into()), start)
        .await
        .expect("resolve");
    step(
        w,
        &w.agent,
        id,
        AppealAction::Confirm {
            score: 5, note: "满意".into()
        },
        start,
    )
    .await
    .expect("confirm");
    id
}

// ---------------------------------------------------------------------------------------
// Scenarios

async fn an_appeal_lives_from_raised_to_closed_with_every_step_in_its_history_and_the_audit_chain(backend: Backend) {
    let Some(w) = world(backend, "appeal life").await else { return };
    let t0 = at(monday(), 10);
    let raised = w
        .store
        .raise_appeal(&actor(&w.agent), &w.agent, &new_appeal(&w.a, Category::Land, "扩建用地指标"), t0)
        .await
        .expect("raised");
    let a = raised.appeal;
    assert_eq!(a.status, Status::Routed, "routed by the land rule at once");
    assert_eq!(a.department_code.as_deref(), Some("land"));
    assert_eq!((a.reply_days, a.resolve_days), (5, 30), "the rule's own promises");
    assert_eq!(a.due_at, a.reply_due);
    assert_eq!(a.flag, Some(Flag::Green));
    let t1 = at(date(2026, 3, 3), 9);
    let a = step(&w, &w.land_clerk, a.id, AppealAction::Accept, t1).await.expect("accept");
    assert_eq!(a.status, Status::Accepted);
    let a = step(&w, &w.land_clerk, a.id, AppealAction::Reply("正在办理".into()), t1).await.expect("reply");
    assert_eq!((a.status, a.due_at), (Status::Replied, a.resolve_due));
    let a = step(&w, &w.land_clerk, a.id, AppealAction::Resolve("指标已下达".into()), t1)
        .await
        .expect("resolve");
    assert_eq!((a.status, a.due_at, a.flag), (Status::Resolved, None, None));
    let err = step(&w, &w.land_clerk, a.id, AppealAction::Confirm { score: 5, note: String::new() }, t1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only the enterprise's own agent"), "{err}");
    let a = step(&w, &w.agent, a.id, AppealAction::Confirm { score: 4, note: "好".into() }, t1)
        .await
        .expect("confirm");
    assert_eq!((a.status, a.satisfaction), (Status::Closed, Some(4)));
    let detail = w.store.appeal(&w.agent, a.id, t1).await.expect("read").expect("visible");
    let kinds: Vec<&str> = detail.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["raise", "route", "accept", "reply", "resolve", "confirm"]);
    assert_eq!(detail.events[3].note, "正在办理");
    let records = w.store.audit_records(100, None).await.expect("audit");
    let actions: Vec<&str> = records
        .iter()
        .filter(|r| r.object == format!("appeal:{}", a.id))
        .map(|r| r.action.as_str())
        .collect();
    assert_eq!(actions.len(), 5, "{actions:?}");
    assert!(
        records.iter().all(|r| !r.after.as_ref().is_some_and(|v| v.to_string().contains("指标"))),
        "the words of replies stay out of the chain"
    );
    assert!(w.store.verify_audit().await.expect("verify").first_break.is_none());
}

async fn a_cadre_sees_only_its_assigned_enterprises_a_clerk_its_department_an_agent_its_company(backend: Backend) {
    let Some(w) = world(backend, "appeal scope").await else { return };
    let t = at(monday(), 10);
    let in_a = raise(&w, &w.agent, &w.a, Category::Labour, "用工", t).await;
    let in_b = raise(&w, &w.other_agent, &w.b, Category::Land, "用地", t).await;
    let ids = |list: Vec<dadong_store::appeals::AppealItem>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    let f = AppealFilter::default();
    assert_eq!(ids(w.store.appeals(&w.cadre, &f, t).await.unwrap()), vec![in_a]);
    assert_eq!(ids(w.store.appeals(&w.other_cadre, &f, t).await.unwrap()), vec![in_b]);
    assert_eq!(ids(w.store.appeals(&w.hr_clerk, &f, t).await.unwrap()), vec![in_a]);
    assert_eq!(ids(w.store.appeals(&w.land_clerk, &f, t).await.unwrap()), vec![in_b]);
    assert_eq!(ids(w.store.appeals(&w.agent, &f, t).await.unwrap()), vec![in_a]);
    assert_eq!(w.store.appeals(&w.leader, &f, t).await.unwrap().len(), 2);
    assert_eq!(w.store.appeals(&w.admin, &f, t).await.unwrap().len(), 2);
    // One appeal out of reach is not found, whoever asks.
    assert!(w.store.appeal(&w.cadre, in_b, t).await.unwrap().is_none());
    assert!(w.store.appeal(&w.hr_clerk, in_b, t).await.unwrap().is_none());
    assert!(w.store.appeal(&w.other_agent, in_a, t).await.unwrap().is_none());
    let err = step(&w, &w.land_clerk, in_a, AppealAction::Accept, t).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    // Assignments and visits follow the same scope.
    let mine = w.store.assignments(&w.cadre).await.unwrap();
    assert!(mine.iter().all(|a| a.target == w.a), "{mine:?}");
    let visit = NewVisit {
        kind: "enterprise".into(),
        target: w.b.clone(),
        visit_date: "2026-03-02".into(),
        people_met: "总经理".into(),
        findings: "生产正常".into(),
        problems: String::new(),
    };
    let err = w.store.record_visit(&actor(&w.cadre), &w.cadre, &visit, monday()).await.unwrap_err();
    assert!(err.to_string().contains("not assigned to you"), "{err}");
    w.store
        .record_visit(&actor(&w.other_cadre), &w.other_cadre, &visit, monday())
        .await
        .expect("own visit");
    assert!(w.store.visits(&w.cadre, None, 50).await.unwrap().is_empty());
    assert_eq!(w.store.visits(&w.other_cadre, None, 50).await.unwrap().len(), 1);
    assert_eq!(w.store.visits(&w.leader, None, 50).await.unwrap().len(), 1);
}

async fn an_appeal_for_an_enterprise_the_user_does_not_act_for_is_refused_and_nothing_is_stored(backend: Backend) {
    let Some(w) = world(backend, "appeal not acting").await else { return };
    let before = snapshot(&w.store).await;
    let t = at(monday(), 10);
    for who in [&w.agent, &w.cadre, &w.hr_clerk] {
        let err = w
            .store
            .raise_appeal(&actor(who), who, &new_appeal(&w.b, Category::Funding, "贷款"), t)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with(&format!("credit_code: you do not act for enterprise {}", w.b)),
            "{err}"
        );
    }
    let err = w
        .store
        .raise_appeal(&actor(&w.agent), &w.agent, &new_appeal(&w.a, Category::Funding, " "), t)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "title: 1 to 100 characters");
    let err = w
        .store
        .raise_appeal(&actor(&w.agent), &w.agent, &new_appeal(&w.a, Category::Funding, "x").tap_category("tax"), t)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("category: unknown category 'tax'"), "{err}");
    assert_eq!(snapshot(&w.store).await, before);
}

trait TapCategory {
    fn tap_category(self, c: &str) -> Self;
}

impl TapCategory for NewAppeal {
    fn tap_category(mut self, c: &str) -> Self {
        self.category = c.into();
        self
    }
}

async fn a_reply_to_a_closed_appeal_is_refused_and_nothing_changes(backend: Backend) {
    let Some(w) = world(backend, "reply closed").await else { return };
    let t = at(monday(), 10);
    let id = closed_appeal(&w, t).await;
    let before = snapshot(&w.store).await;
    let err = step(&w, &w.hr_clerk, id, AppealAction::Reply("补充".into()), t).await.unwrap_err();
    assert_eq!(err.to_string(), "the appeal is closed: it cannot be replied to");
    let err = step(&w, &w.hr_clerk, id, AppealAction::Resolve(String::new()), t).await.unwrap_err();
    assert_eq!(err.to_string(), "the appeal is closed: it cannot be resolved");
    assert_eq!(snapshot(&w.store).await, before);
    let a = w.store.appeal(&w.admin, id, t).await.unwrap().unwrap().appeal;
    assert_eq!((a.status, a.satisfaction), (Status::Closed, Some(5)));
}

async fn a_routing_rule_that_points_nowhere_is_refused_and_the_old_rule_stays(backend: Backend) {
    let Some(w) = world(backend, "rule nowhere").await else { return };
    let before = snapshot(&w.store).await;
    let err = w
        .store
        .set_routing_rule(&operator(), &RoutingRule::new(Category::Labour, "nowhere"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "department: the rule for labour names department 'nowhere', which does not exist"
    );
    assert_eq!(snapshot(&w.store).await, before);
    let table = w.store.routing_table().await.unwrap();
    assert_eq!(table.route(Category::Labour).unwrap().department, "hr");
    assert_eq!(table.route(Category::Funding).unwrap().department, "office", "other catches the rest");
}

async fn a_daily_figure_for_a_future_date_or_a_negative_amount_is_refused_and_nothing_is_stored(backend: Backend) {
    let Some(w) = world(backend, "daily figure refused").await else { return };
    w.store.add_key_enterprise(&operator(), &w.a).await.unwrap();
    let before = snapshot(&w.store).await;
    let today = date(2026, 3, 4);
    let future = DailyFigure {
        date: date(2026, 3, 5),
        values: vec![(Metric::Output, 100)],
    };
    let err = w
        .store
        .report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &future, today)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "date: 2026-03-05 lies in the future (today is 2026-03-04); report what has happened"
    );
    let negative = DailyFigure {
        date: today,
        values: vec![(Metric::Output, 100), (Metric::Orders, -1)],
    };
    let err = w
        .store
        .report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &negative, today)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "orders: must not be negative (got -1)");
    let fine = DailyFigure {
        date: today,
        values: vec![(Metric::Output, 100)],
    };
    let err = w
        .store
        .report_daily_figures(&actor(&w.other_agent), &w.other_agent, &w.a, &fine, today)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("you do not report for enterprise"), "{err}");
    let err = w
        .store
        .report_daily_figures(&actor(&w.other_agent), &w.other_agent, &w.b, &fine, today)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a key enterprise"), "{err}");
    assert_eq!(snapshot(&w.store).await, before);
    w.store
        .report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &fine, today)
        .await
        .expect("a good figure");
}

async fn a_reopen_after_thirty_days_is_refused_and_within_them_starts_a_new_clock(backend: Backend) {
    let Some(w) = world(backend, "reopen window").await else { return };
    let t = at(monday(), 10);
    let late = closed_appeal(&w, t).await;
    let before = snapshot(&w.store).await;
    let after_31_days = t + jiff::SignedDuration::from_hours(31 * 24);
    let err = step(&w, &w.agent, late, AppealAction::Reopen("又出现了".into()), after_31_days)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "appeal: the appeal was closed more than 30 days ago: raise a new one");
    assert_eq!(snapshot(&w.store).await, before);
    let within = t + jiff::SignedDuration::from_hours(29 * 24);
    let a = step(&w, &w.agent, late, AppealAction::Reopen("又出现了".into()), within).await.expect("reopen");
    assert_eq!((a.status, a.reopened, a.satisfaction), (Status::Routed, 1, None));
    assert!(a.reply_due.unwrap() > within.as_millisecond());
}

async fn overdue_appeals_escalate_to_the_department_head_then_the_leader_one_step_per_run(backend: Backend) {
    let Some(w) = world(backend, "escalation").await else { return };
    let t = at(monday(), 10);
    let id = raise(&w, &w.agent, &w.a, Category::Labour, "社保补贴", t).await;
    let fine = raise(&w, &w.agent, &w.a, Category::Land, "用地", t).await; // reply in 5 days
    let sys = Actor::System;
    // Thursday evening: due today, not yet past.
    let run = w.store.escalate(&sys, at(date(2026, 3, 5), 20)).await.unwrap();
    assert_eq!((run.to_department_head, run.to_leader), (0, 0));
    let a = w.store.appeal(&w.hr_clerk, id, at(date(2026, 3, 5), 20)).await.unwrap().unwrap().appeal;
    assert_eq!(a.flag, Some(Flag::Yellow));
    // Friday: past the reply deadline: to the department head, once however often it runs.
    let fri = at(date(2026, 3, 6), 9);
    let run = w.store.escalate(&sys, fri).await.unwrap();
    assert_eq!((run.to_department_head, run.to_leader), (1, 0));
    let run = w.store.escalate(&sys, fri).await.unwrap();
    assert_eq!((run.to_department_head, run.to_leader), (0, 0));
    let a = w.store.appeal(&w.hr_clerk, id, fri).await.unwrap().unwrap().appeal;
    assert_eq!((a.escalation, a.flag), (Escalation::DepartmentHead, Some(Flag::Red)));
    // Two working days after the deadline: the responsible leader.
    let tue = at(date(2026, 3, 10), 9);
    let run = w.store.escalate(&sys, tue).await.unwrap();
    assert_eq!((run.to_department_head, run.to_leader), (1, 1), "the land appeal is now overdue too");
    let d = w.store.appeal(&w.leader, id, tue).await.unwrap().unwrap();
    assert_eq!(d.appeal.escalation, Escalation::Leader);
    let notes: Vec<&str> = d.events.iter().filter(|e| e.kind == "escalate").map(|e| e.note.as_str()).collect();
    assert_eq!(notes, ["department head: 人社局", "leader: leader1"]);
    let f = AppealFilter {
        escalated: true,
        ..AppealFilter::default()
    };
    assert_eq!(w.store.appeals(&w.leader, &f, tue).await.unwrap().len(), 2);
    let board = w.store.dispatch_board(tue).await.unwrap();
    assert_eq!(board.overdue.iter().map(|a| a.id).collect::<Vec<_>>(), vec![id, fine]);
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn a_new_appeal_like_an_open_one_of_the_same_enterprise_is_offered_as_a_possible_duplicate(backend: Backend) {
    let Some(w) = world(backend, "duplicates").await else { return };
    let t = at(monday(), 10);
    let first = raise(&w, &w.agent, &w.a, Category::Labour, "一线技术工人招工难，急需焊工30名", t).await;
    raise(&w, &w.other_agent, &w.b, Category::Labour, "一线技术工人招工难，急需焊工30名", t).await;
    let second = w
        .store
        .raise_appeal(&actor(&w.agent), &w.agent, &new_appeal(&w.a, Category::Labour, "急需焊工30名，招工难"), t)
        .await
        .unwrap();
    assert_eq!(second.possible_duplicates.iter().map(|d| d.id).collect::<Vec<_>>(), vec![first]);
    let other = w
        .store
        .raise_appeal(&actor(&w.agent), &w.agent, &new_appeal(&w.a, Category::Funding, "流动资金贷款贴息"), t)
        .await
        .unwrap();
    assert!(other.possible_duplicates.is_empty());
}

async fn coverage_shows_which_assigned_enterprises_a_cadre_has_not_visited_this_month(backend: Backend) {
    let Some(w) = world(backend, "coverage").await else { return };
    let c = code(3);
    w.store.assign(&operator(), TargetKind::Enterprise, &c, w.cadre.id, Duty::Cadre).await.unwrap();
    let visit = |target: &str, d: &str| NewVisit {
        kind: "enterprise".into(),
        target: target.into(),
        visit_date: d.into(),
        people_met: "厂长".into(),
        findings: "订单饱满".into(),
        problems: "缺少技工".into(),
    };
    let today = date(2026, 3, 20);
    w.store
        .record_visit(&actor(&w.cadre), &w.cadre, &visit(&w.a, "2026-03-10"), today)
        .await
        .unwrap();
    w.store.record_visit(&actor(&w.cadre), &w.cadre, &visit(&c, "2026-02-27"), today).await.unwrap();
    let err = w
        .store
        .record_visit(&actor(&w.cadre), &w.cadre, &visit(&c, "2026-03-21"), today)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "visit_date: 2026-03-21 lies in the future");
    let march = w.store.coverage(&w.cadre, Period::parse("2026-03").unwrap()).await.unwrap();
    let seen: Vec<(String, i64)> = march.iter().map(|l| (l.credit_code.clone(), l.visits)).collect();
    assert_eq!(seen, vec![(w.a.clone(), 1), (c.clone(), 0)]);
    assert!(
        w.store
            .coverage(&w.other_cadre, Period::parse("2026-03").unwrap())
            .await
            .unwrap()
            .iter()
            .all(|l| l.user_id == w.other_cadre.id)
    );
    assert_eq!(w.store.coverage(&w.leader, Period::parse("2026-03").unwrap()).await.unwrap().len(), 3);
}

async fn the_dispatch_board_shows_figures_against_plan_and_last_year_overdue_items_problems_and_tasks(backend: Backend) {
    let Some(w) = world(backend, "dispatch board").await else { return };
    let op = operator();
    w.store.add_key_enterprise(&op, &w.a).await.unwrap();
    // Plan 3,000 for March 2026 (31 days); by the 10th the share is 967.74: 1,000 is green.
    w.store
        .set_monthly_plan(&op, &w.a, Period::parse("2026-03").unwrap(), Metric::Output, 3_100)
        .await
        .unwrap();
    w.store
        .set_monthly_plan(&op, &w.a, Period::parse("2026-03").unwrap(), Metric::Orders, 3_100)
        .await
        .unwrap();
    let today = date(2026, 3, 10);
    for day in 1..=10 {
        let f = DailyFigure {
            date: date(2026, 3, day),
            values: vec![(Metric::Output, 100), (Metric::Orders, 80), (Metric::Headcount, 500 + i64::from(day))],
        };
        w.store.report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &f, today).await.unwrap();
        let ly = DailyFigure {
            date: date(2025, 3, day),
            values: vec![(Metric::Output, 80)],
        };
        w.store.report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &ly, today).await.unwrap();
    }
    w.store.create_dispatch_task(&op, &w.leader, "调度焊工招聘", w.cadre.id, today).await.unwrap();
    w.store
        .create_dispatch_task(&op, &w.leader, "下周的事", w.cadre.id, date(2026, 3, 17))
        .await
        .unwrap();
    w.store
        .create_dispatch_task(&op, &w.leader, "八天后的事", w.cadre.id, date(2026, 3, 18))
        .await
        .unwrap();
    let board = w.store.dispatch_board(at(today, 15)).await.unwrap();
    assert_eq!(board.today, "2026-03-10");
    let line = &board.key_enterprises[0];
    assert_eq!(line.latest_day.as_deref(), Some("2026-03-10"));
    let output = &line.metrics[0];
    assert_eq!((output.value, output.plan, output.last_year), (Some(1000), Some(3100), Some(800)));
    assert_eq!(output.growth_tenths, Some(250));
    assert_eq!(output.flag, Some(PlanFlag::Green));
    let orders = &line.metrics[1];
    // 800 against a share of 1,000: a fifth below, red.
    assert_eq!(orders.flag, Some(PlanFlag::Red));
    assert_eq!(line.flag, Some(PlanFlag::Red));
    assert_eq!(line.metrics[2].value, Some(510), "headcount is the latest value, not a sum");
    assert_eq!(board.tasks_today.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["调度焊工招聘"]);
    // A week ahead is listed as coming; beyond it, not yet.
    assert_eq!(board.tasks_upcoming.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["下周的事"]);
}

async fn the_report_counts_records_dated_in_the_period_and_overdue_at_its_end(backend: Backend) {
    let Some(w) = world(backend, "report figures").await else { return };
    let march = at(monday(), 10);
    // Resolved on time, closed with 5.
    closed_appeal(&w, march).await;
    // Raised in March, never answered: overdue at the end of March.
    raise(&w, &w.agent, &w.a, Category::Land, "用地", march).await;
    // Raised in March, resolved in April after its deadline.
    let late = raise(&w, &w.agent, &w.a, Category::Labour, "社保", march).await;
    let april = at(date(2026, 4, 20), 10);
    step(&w, &w.hr_clerk, late, AppealAction::Accept, april).await.unwrap();
    step(&w, &w.hr_clerk, late, AppealAction::Resolve("已办结".into()), april).await.unwrap();
    let from = at(date(2026, 3, 1), 0).as_millisecond();
    let to = at(date(2026, 4, 1), 0).as_millisecond();
    let f = w.store.appeal_figures(from, to).await.unwrap();
    assert_eq!((f.raised, f.resolved, f.overdue, f.closed), (3, 1, 2, 1));
    assert_eq!(f.on_time_pct.as_deref(), Some("100.0"));
    assert_eq!(f.satisfaction.as_deref(), Some("5.0"));
    let hr = f.by_department.iter().find(|l| l.key == "hr").unwrap();
    assert_eq!((hr.raised, hr.resolved, hr.closed, hr.satisfaction.as_deref()), (2, 1, 1, Some("5.0")));
    let may = at(date(2026, 5, 1), 0).as_millisecond();
    let f = w.store.appeal_figures(to, may).await.unwrap();
    assert_eq!((f.raised, f.resolved, f.overdue), (0, 1, 1));
    assert_eq!(f.on_time_pct.as_deref(), Some("0.0"));
}

fn call(reached: bool, satisfaction: Option<u8>, note: &str) -> dadong_store::appeals::FollowUpCall {
    dadong_store::appeals::FollowUpCall {
        reached,
        satisfaction,
        note: note.into(),
    }
}

async fn a_follow_up_call_is_recorded_once_for_a_closed_appeal_only(backend: Backend) {
    let Some(w) = world(backend, "follow-up call").await else { return };
    let t = at(monday(), 10);
    let open = raise(&w, &w.agent, &w.a, Category::Labour, "社保", t).await;
    let err = w
        .store
        .record_follow_up(&actor(&w.leader), &w.leader, open, &call(true, Some(5), ""), t)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the appeal is routed: only a closed appeal gets a follow-up call");
    let closed = closed_appeal(&w, t).await;
    let err = w
        .store
        .record_follow_up(&actor(&w.agent), &w.agent, closed, &call(true, Some(5), ""), t)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("follow-up calls are made by the department or the leadership"),
        "{err}"
    );
    let err = w
        .store
        .record_follow_up(&actor(&w.land_clerk), &w.land_clerk, closed, &call(true, Some(5), ""), t)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "another department's clerk does not see it: {err}");
    w.store
        .record_follow_up(&actor(&w.hr_clerk), &w.hr_clerk, closed, &call(true, Some(4), "问题已解决"), t)
        .await
        .expect("the call");
    let err = w
        .store
        .record_follow_up(&actor(&w.leader), &w.leader, closed, &call(false, None, ""), t)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), format!("appeal {closed} already has its follow-up call"));
    let d = w.store.appeal(&w.leader, closed, t).await.unwrap().unwrap();
    assert_eq!(d.follow_up.map(|f| (f.reached, f.satisfaction)), Some((true, Some(4))));
    let f = w
        .store
        .appeal_figures(at(date(2026, 1, 1), 0).as_millisecond(), at(date(2026, 4, 1), 0).as_millisecond())
        .await
        .unwrap();
    assert_eq!(f.follow_up_calls, 1);
}

/// Many steps at once go through the appeals writer in groups (one transaction each): the
/// good ones are all written, each refused one is answered with its reason and leaves no
/// event and no audit record, and the chain holds.
async fn steps_that_arrive_together_are_written_together_and_a_refused_one_changes_nothing(backend: Backend) {
    let Some(w) = world(backend, "group commit").await else { return };
    let t = at(monday(), 10);
    let raises = (0..20).map(|i| {
        let w = &w;
        async move { raise(w, &w.agent, &w.a, Category::Labour, &format!("用工需求 {i}"), t).await }
    });
    let ids = futures::future::join_all(raises).await;
    let events_before = snapshot(&w.store).await;
    // Every appeal accepted by its clerk at once, and every other one also "accepted" by the
    // land clerk, whose department it is not: refused, in the same groups as the good ones.
    let steps = ids.iter().enumerate().map(|(i, id)| {
        let w = &w;
        let who = if i % 2 == 0 { &w.hr_clerk } else { &w.land_clerk };
        async move { (i, w.store.appeal_step(&actor(who), who, *id, AppealAction::Accept, t).await) }
    });
    let answers = futures::future::join_all(steps).await;
    for (i, answer) in &answers {
        if i % 2 == 0 {
            assert_eq!(answer.as_ref().expect("the clerk of the department accepts").status, Status::Accepted);
        } else {
            // Outside the clerk's reach, the appeal is "not found".
            let err = answer.as_ref().expect_err("another department's clerk is refused");
            assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let a = w.store.appeal(&w.admin, *id, t).await.unwrap().unwrap();
        let want = if i % 2 == 0 { Status::Accepted } else { Status::Routed };
        assert_eq!(a.appeal.status, want);
        assert_eq!(a.events.len(), if i % 2 == 0 { 3 } else { 2 }, "raise, route and the accept if it was allowed");
    }
    let after = snapshot(&w.store).await;
    // Ten more events and ten more audit records; nothing else.
    assert_eq!(after[1], events_before[1] + 10);
    assert_eq!(after[6], events_before[6] + 10);
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}
async fn an_unassigned_cadre_no_longer_sees_the_enterprise_and_the_removal_is_audited(backend: Backend) {
    let Some(w) = world(backend, "unassign").await else { return };
    let now = at(monday(), 10);
    let id = raise(&w, &w.agent, &w.a, Category::Labour, "缺焊工", now).await;
    assert!(w.store.appeal(&w.cadre, id, now).await.unwrap().is_some());
    let missing = w.store.unassign(&operator(), TargetKind::Enterprise, &w.b, w.cadre.id).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert!(w.store.assigned_companies(w.cadre.id).await.unwrap().contains(&w.a), "in the sign-in scope");
    w.store.unassign(&operator(), TargetKind::Enterprise, &w.a, w.cadre.id).await.expect("unassign");
    assert!(w.store.appeal(&w.cadre, id, now).await.unwrap().is_none(), "the cadre's reach shrank");
    assert!(w.store.assignments(&w.cadre).await.unwrap().is_empty());
    assert!(
        !w.store.assigned_companies(w.cadre.id).await.unwrap().contains(&w.a),
        "out of the sign-in scope"
    );
    // An enterprise given to the cadre directly stays in scope when a service assignment to
    // it ends: each source keeps its own rows.
    w.store.assign_company(&operator(), w.cadre.id, &w.a).await.unwrap();
    w.store
        .assign(&operator(), TargetKind::Enterprise, &w.a, w.cadre.id, Duty::Cadre)
        .await
        .unwrap();
    w.store.unassign(&operator(), TargetKind::Enterprise, &w.a, w.cadre.id).await.unwrap();
    assert_eq!(
        w.store.assigned_companies(w.cadre.id).await.unwrap(),
        std::slice::from_ref(&w.a),
        "the direct grant stays"
    );
    assert_eq!(w.store.assignments(&w.leader).await.unwrap().len(), 2, "the other assignments stay");
    let records = w.store.audit_records(100, None).await.unwrap();
    let removal = records.iter().find(|r| r.action == "service_assignment.remove").expect("audited");
    assert_eq!(removal.object, format!("user:{}", w.cadre.id));
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn a_removed_key_enterprise_leaves_the_board_and_the_forms_and_comes_back_with_its_history(backend: Backend) {
    let Some(w) = world(backend, "key enterprise removal").await else { return };
    let op = operator();
    let today = date(2026, 3, 10);
    let march = Period::parse("2026-03").unwrap();
    w.store.add_key_enterprise(&op, &w.a).await.unwrap();
    w.store.add_key_enterprise(&op, &w.b).await.unwrap();
    w.store.set_monthly_plan(&op, &w.a, march, Metric::Output, 3_100).await.unwrap();
    let figure = |day| DailyFigure {
        date: date(2026, 3, day),
        values: vec![(Metric::Output, 100)],
    };
    w.store.report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &figure(9), today).await.unwrap();
    let keys = |b: &dadong_store::appeals::DispatchBoard| b.key_enterprises.iter().map(|l| l.credit_code.clone()).collect::<Vec<_>>();

    w.store.remove_key_enterprise(&op, &w.a).await.expect("remove");
    let board = w.store.dispatch_board(at(today, 15)).await.unwrap();
    assert_eq!(keys(&board), vec![w.b.clone()], "off the board, the other one stays");
    // Off the forms: neither figures nor plans are taken for it, and nothing is written.
    let refused = w.store.report_daily_figures(&actor(&w.agent), &w.agent, &w.a, &figure(10), today).await;
    assert_eq!(refused.unwrap_err().to_string(), format!("credit_code: {} is not a key enterprise", w.a));
    assert!(w.store.set_monthly_plan(&op, &w.a, march, Metric::Orders, 1).await.is_err());
    // Removing it twice, or one that never was, names what is missing.
    let again = w.store.remove_key_enterprise(&op, &w.a).await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    assert_eq!(again.unwrap_err().to_string(), format!("key enterprise {} not found", w.a));
    let never = w.store.remove_key_enterprise(&op, &code(999)).await;
    assert!(matches!(never, Err(StoreError::NotFound(_))), "{never:?}");
    let records = w.store.audit_records(1000, None).await.unwrap();
    let removals: Vec<_> = records.iter().filter(|r| r.action == "key_enterprise.remove").collect();
    assert_eq!(removals.len(), 1, "one removal, audited once");
    assert_eq!(removals[0].object, format!("enterprise:{}", w.a));

    // Named again, it comes back with what it reported and its plan.
    w.store.add_key_enterprise(&op, &w.a).await.unwrap();
    let board = w.store.dispatch_board(at(today, 15)).await.unwrap();
    assert_eq!(keys(&board), vec![w.a.clone(), w.b.clone()]);
    let line = &board.key_enterprises[0];
    assert_eq!(line.latest_day.as_deref(), Some("2026-03-09"), "the day 10 figure was not written");
    assert_eq!((line.metrics[0].value, line.metrics[0].plan), (Some(100), Some(3100)));
    let records = w.store.audit_records(1000, None).await.unwrap();
    assert_eq!(records.iter().filter(|r| r.action == "key_enterprise.add").count(), 3, "b, a, and a again");
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn a_done_dispatch_task_leaves_the_board_and_cannot_be_done_twice(backend: Backend) {
    let Some(w) = world(backend, "complete dispatch task").await else { return };
    let op = operator();
    let today = date(2026, 3, 10);
    let id = w.store.create_dispatch_task(&op, &w.leader, "调度焊工招聘", w.cadre.id, today).await.unwrap();
    assert_eq!(w.store.dispatch_board(at(today, 15)).await.unwrap().tasks_today.len(), 1);
    w.store.complete_dispatch_task(&actor(&w.leader), id).await.expect("done");
    assert!(w.store.dispatch_board(at(today, 15)).await.unwrap().tasks_today.is_empty());
    let before = snapshot(&w.store).await;
    let twice = w.store.complete_dispatch_task(&actor(&w.leader), id).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    let missing = w.store.complete_dispatch_task(&actor(&w.leader), id + 100).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert_eq!(snapshot(&w.store).await, before, "nothing changed on a refusal");
    let records = w.store.audit_records(100, None).await.unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.action == "dispatch_task.complete" && r.object == format!("dispatch_task:{id}"))
    );
}

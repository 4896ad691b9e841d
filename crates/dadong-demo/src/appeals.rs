//! The demo district's enterprise service (SPEC section 4): routing rules, leaders and cadres
//! responsible for backbone enterprises and major projects, a year of visits, about 500
//! appeals from 2021-01 up to today in every state, key enterprises' daily figures against
//! their plans, and today's dispatch tasks.
//!
//! Every appeal's state is worked out by the lifecycle rules themselves (`dadong_appeals::apply`)
//! from a drawn timeline of what its department did and when, so deadlines, flags, escalations
//! and scores are what the platform would have recorded; nothing here sets a figure the board
//! or the report shows. The clock is the moment the demo is built: older appeals are mostly
//! closed, recent ones are still in the queues, and some are overdue and escalated.

use dadong_appeals::{Appeal, Category, Escalation, Event, Metric, RouteTo, RoutingRule, Status, apply, deadline};
use dadong_domain::{Role, WorkCalendar};
use dadong_store::appeals::{Duty, TargetKind};
use dadong_store::appeals_load::{AppealRecord, EventRecord, VisitRecord};
use dadong_store::{Actor, NewUser, Result, Store, User};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Where each category goes, with the promises (reply, resolve) in working days.
pub const RULES: &[(Category, &str, u32, u32)] = &[
    (Category::Labour, "hrss", 3, 15),
    (Category::Funding, "finance", 3, 15),
    (Category::SupplyChain, "miit", 3, 15),
    (Category::Approval, "market", 3, 10),
    (Category::Land, "natural_resources", 5, 30),
    (Category::Other, "business_env", 3, 15),
];

/// How often each category is raised, in percent (用工 and 资金 lead, as in the district's
/// service hotline statistics).
const CATEGORY_WEIGHTS: &[(Category, u32)] = &[
    (Category::Labour, 25),
    (Category::Funding, 22),
    (Category::SupplyChain, 15),
    (Category::Approval, 18),
    (Category::Land, 10),
    (Category::Other, 10),
];

const TITLES: &[(Category, &[&str])] = &[
    (
        Category::Labour,
        &["一线技术工人招工难", "急需焊工和钳工", "外地员工子女入学", "稳岗补贴申领", "校企合作招聘实习生"],
    ),
    (
        Category::Funding,
        &["流动资金贷款贴息", "设备更新贷款", "应收账款融资", "专项资金拨付进度", "研发费用加计扣除咨询"],
    ),
    (
        Category::SupplyChain,
        &["芯片供应紧张", "关键零部件断供", "本地配套企业对接", "物流运输受阻", "原材料价格上涨"],
    ),
    (
        Category::Approval,
        &["新产品生产许可办理", "环评审批进度", "消防验收", "食品经营许可变更", "特种设备登记"],
    ),
    (Category::Land, &["扩建用地指标", "厂房产权证办理", "土地出让手续", "临时用地审批"]),
    (Category::Other, &["周边道路改造影响通行", "供电容量不足", "厂区周边公交线路", "供暖管网接入"]),
];

const REPLIES: &[&str] = &["已受理，正在协调相关单位", "已与企业对接，明确办理路径", "已提交专题会研究", "已安排专人跟进"];
const RESOLUTIONS: &[&str] = &["问题已解决，企业反馈良好", "已完成办理并告知企业", "已协调落实到位", "已出具办理结果"];
const FINDINGS: &[&str] = &["生产经营正常，订单饱满", "产能利用率回升", "新产线调试中", "一季度产值同比增长", "用工基本稳定"];
const PROBLEMS: &[&str] = &["缺少熟练技工", "配套企业供货不及时", "融资成本偏高", "审批环节较多", "用地指标紧张"];
const PEOPLE: &[&str] = &["总经理", "生产副总", "财务总监", "人力资源部长", "项目经理"];

/// What the demo's enterprise service holds.
#[derive(Debug, Clone, Default)]
pub struct ServiceSummary {
    pub leaders: usize,
    pub cadres: usize,
    pub assignments: usize,
    pub visits: usize,
    pub appeals: usize,
    pub key_enterprises: usize,
    pub daily_figures: usize,
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

fn category(rng: &mut ChaCha8Rng) -> Category {
    let mut n = rng.gen_range(0..100);
    for (c, w) in CATEGORY_WEIGHTS {
        if n < *w {
            return *c;
        }
        n -= w;
    }
    Category::Other
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_secs(h * 3600)
}

/// A time `days` working days after `from`, at a drawn office hour.
fn after_working_days(rng: &mut ChaCha8Rng, from: Timestamp, days: u32, calendar: &WorkCalendar) -> Timestamp {
    let due_end = deadline(from, days, calendar);
    // The end of the due day is 23:59:59; office hours are 9 to 17.
    due_end - hours(rng.gen_range(7..15))
}

/// Appends `event` at `at` when it is allowed and lies before `now`, escalating first as the
/// platform would have when the event comes after a deadline.
fn step(a: &mut Appeal, events: &mut Vec<EventRecord>, event: Event, at: Timestamp, now: Timestamp, user: Option<i64>, note: &str) -> bool {
    let cal = WorkCalendar::national();
    escalate_until(a, events, at.min(now));
    if at > now {
        return false;
    }
    let at = at.max(events.last().map(|e| e.at).unwrap_or(at));
    let kind = event.code();
    match apply(a, event, at, cal) {
        Ok(next) => {
            *a = next;
            events.push(EventRecord {
                at,
                user_id: user,
                kind,
                status_after: a.status,
                note: note.to_string(),
            });
            true
        }
        Err(_) => false,
    }
}

/// Escalation steps that fell due before `until`, each at the moment it became due.
fn escalate_until(a: &mut Appeal, events: &mut Vec<EventRecord>, until: Timestamp) {
    let cal = WorkCalendar::national();
    while let Some(level) = a.escalation_due(until, cal) {
        let due = a.current_deadline().expect("an overdue appeal has a deadline");
        let at = match level {
            Escalation::Leader => deadline(due, dadong_appeals::LEADER_AFTER_HEAD_DAYS, cal),
            _ => due,
        } + SignedDuration::from_secs(60);
        let Ok(next) = apply(a, Event::Escalate, at, cal) else { break };
        *a = next;
        events.push(EventRecord {
            at,
            user_id: None,
            kind: "escalate",
            status_after: a.status,
            note: match level {
                Escalation::Leader => "leader".into(),
                _ => "department head".into(),
            },
        });
    }
}

struct People {
    leaders: Vec<User>,
    cadres: Vec<User>,
    clerk: User,
    agent: User,
}

async fn user(store: &Store, actor: &Actor, username: &str, name: &str, role: Role) -> Result<User> {
    store
        .create_user(
            actor,
            // Nobody signs in as these: their passwords are random and never shown.
            NewUser::new(username, name, role.key(), &dadong_domain::crypto::random_token(16)),
        )
        .await
}

/// Builds the enterprise service into a store that holds the foundation users and the economy.
pub async fn load(store: &Store, rng: &mut ChaCha8Rng, logins: &[(Role, User)], company: &str, now: Timestamp) -> Result<ServiceSummary> {
    let actor = Actor::Cli("demo".into());
    let cal = WorkCalendar::national();
    for (category, dept, reply, resolve) in RULES {
        let mut rule = RoutingRule::new(*category, dept);
        rule.reply_days = *reply;
        rule.resolve_days = *resolve;
        store.set_routing_rule(&actor, &rule).await?;
    }
    let of = |role: Role| logins.iter().find(|(r, _)| *r == role).map(|(_, u)| u.clone()).expect("one user per role");
    let mut people = People {
        leaders: vec![of(Role::Leader)],
        cadres: vec![of(Role::Cadre)],
        clerk: of(Role::Clerk),
        agent: of(Role::Enterprise),
    };
    for (i, name) in ["李振华", "张红梅"].iter().enumerate() {
        people.leaders.push(user(store, &actor, &format!("leader{}", i + 2), name, Role::Leader).await?);
    }
    for (i, name) in ["刘洋", "杨帆", "黄磊", "何静"].iter().enumerate() {
        people.cadres.push(user(store, &actor, &format!("cadre{}", i + 2), name, Role::Cadre).await?);
    }

    // Backbone enterprises: the demo agent's company and forty above-size industrial ones;
    // major projects: the thirty largest.
    let mut backbone: Vec<String> =
        sqlx::query_scalar("SELECT credit_code FROM enterprises WHERE above_size = 1 AND industry LIKE 'C%' ORDER BY credit_code LIMIT 40")
            .fetch_all(store.pool())
            .await?;
    backbone.insert(0, company.to_string());
    let projects: Vec<String> = sqlx::query_scalar("SELECT project_id FROM projects ORDER BY investment DESC, project_id LIMIT 30")
        .fetch_all(store.pool())
        .await?;
    let mut assignments = Vec::new();
    let mut cadre_of = std::collections::HashMap::new();
    for (i, code) in backbone.iter().enumerate() {
        let leader = &people.leaders[i % people.leaders.len()];
        // The demo cadre keeps the agent's company alone (assigned by the foundation), so that
        // the economy's scope tests see exactly what they assign it; the other cadres share
        // the registered backbone enterprises.
        let cadre = &people.cadres[if i == 0 { 0 } else { 1 + i % (people.cadres.len() - 1) }];
        assignments.push((TargetKind::Enterprise, code.clone(), leader.id, Duty::Leader));
        assignments.push((TargetKind::Enterprise, code.clone(), cadre.id, Duty::Cadre));
        cadre_of.insert(code.clone(), cadre.id);
    }
    for (i, p) in projects.iter().enumerate() {
        assignments.push((TargetKind::Project, p.clone(), people.leaders[i % people.leaders.len()].id, Duty::Leader));
        assignments.push((TargetKind::Project, p.clone(), people.cadres[i % people.cadres.len()].id, Duty::Cadre));
    }
    store.load_assignments(&actor, &assignments).await?;

    // A year of visits: most assigned enterprises every month, projects most months; the
    // current month only partly done, so coverage shows who is still to be visited.
    let today = dadong_appeals::local_date(now);
    let mut visits = Vec::new();
    for back in (0..12).rev() {
        let first = today.first_of_month().checked_sub(jiff::Span::new().months(back)).expect("in range");
        let last_day = if back == 0 { today.day() } else { first.days_in_month() };
        let mut visit = |rng: &mut ChaCha8Rng, kind: TargetKind, target: &str, user_id: i64| {
            let date = first.with().day(rng.gen_range(1..=last_day)).build().expect("a day of the month");
            let problems = if rng.gen_bool(0.3) { pick(rng, PROBLEMS).to_string() } else { String::new() };
            visits.push(VisitRecord {
                user_id,
                kind,
                target: target.to_string(),
                visit_date: date.to_string(),
                people_met: pick(rng, PEOPLE).to_string(),
                findings: pick(rng, FINDINGS).to_string(),
                problems,
            });
        };
        let p_enterprise = if back == 0 { 0.45 } else { 0.85 };
        for code in &backbone {
            if rng.gen_bool(p_enterprise) {
                visit(rng, TargetKind::Enterprise, code, cadre_of[code]);
            }
        }
        for (i, p) in projects.iter().enumerate() {
            if rng.gen_bool(0.6) {
                visit(rng, TargetKind::Project, p, people.cadres[i % people.cadres.len()].id);
            }
        }
    }
    store.load_visits(&actor, &visits).await?;

    // About 500 appeals: 300 spread from 2021-01 to today, 200 in the last quarter, so that
    // every period has some and the queues are live.
    let start = jiff::civil::date(2021, 1, 4).to_zoned(shanghai()).expect("zone").timestamp();
    let span_all = now.duration_since(start).as_secs().max(1);
    let span_recent = 90 * 86_400;
    let mut raised_times: Vec<Timestamp> = (0..300).map(|_| start + SignedDuration::from_secs(rng.gen_range(0..span_all))).collect();
    raised_times.extend((0..200).map(|_| now - SignedDuration::from_secs(rng.gen_range(0..span_recent))));
    raised_times.sort();
    let mut records = Vec::with_capacity(raised_times.len());
    for raised_at in raised_times {
        let category = category(rng);
        let own = rng.gen_bool(0.2);
        let code = if own {
            company.to_string()
        } else {
            backbone[rng.gen_range(1..backbone.len())].clone()
        };
        let raised_by = if code == company { people.agent.id } else { cadre_of[&code] };
        let (_, dept, reply, resolve) = RULES.iter().find(|r| r.0 == category).expect("a rule per category");
        let clerk = (*dept == "market").then_some(people.clerk.id);
        let titles: &[&str] = TITLES.iter().find(|t| t.0 == category).map(|t| t.1).unwrap_or(&["其他诉求"]);
        let title = pick(rng, titles).to_string();
        let mut a = Appeal::raise(category, raised_at);
        let mut events = vec![EventRecord {
            at: raised_at,
            user_id: Some(raised_by),
            kind: "raise",
            status_after: Status::Raised,
            note: String::new(),
        }];
        let to = RouteTo {
            department: dept.to_string(),
            reply_days: *reply,
            resolve_days: *resolve,
        };
        step(&mut a, &mut events, Event::Route(to), raised_at, now, None, dept);
        // How this department worked on it: most on time, one in eight slow, one in
        // twenty-five stuck until someone pushes.
        let slow = rng.gen_bool(0.125);
        let stuck = rng.gen_bool(0.04);
        let accept_days = rng.gen_range(0..=2);
        let accept_at = after_working_days(rng, raised_at, accept_days, cal);
        let reply_days = if slow { reply + rng.gen_range(1..=4) } else { rng.gen_range(1..=*reply) };
        let reply_at = after_working_days(rng, raised_at, reply_days, cal);
        let resolve_days = if slow {
            resolve + rng.gen_range(1..=8)
        } else {
            rng.gen_range(reply_days.max(2)..=*resolve)
        };
        let resolve_at = after_working_days(rng, raised_at, resolve_days, cal);
        let confirm_at = resolve_at + hours(rng.gen_range(2..96));
        if !step(&mut a, &mut events, Event::Accept, accept_at, now, clerk, "") || stuck {
            escalate_until(&mut a, &mut events, now);
        } else if step(&mut a, &mut events, Event::Reply, reply_at, now, clerk, pick(rng, REPLIES))
            && step(&mut a, &mut events, Event::Resolve, resolve_at, now, clerk, pick(rng, RESOLUTIONS))
        {
            let late = a.resolved_at > a.resolve_due;
            let score = match rng.gen_range(0..100) + if late { 30 } else { 0 } {
                0..=54 => 5,
                55..=79 => 4,
                80..=91 => 3,
                92..=96 => 2,
                _ => 1,
            };
            if step(
                &mut a,
                &mut events,
                Event::Confirm { score },
                confirm_at,
                now,
                Some(people.agent.id).filter(|_| own),
                "",
            ) && rng.gen_bool(0.03)
            {
                // The problem came back within the month: reopened and worked again.
                let reopen_at = confirm_at + hours(rng.gen_range(48..400));
                if step(&mut a, &mut events, Event::Reopen, reopen_at, now, None, "问题再次出现") {
                    let again = after_working_days(rng, reopen_at, 2, cal);
                    step(&mut a, &mut events, Event::Accept, again, now, clerk, "");
                    step(&mut a, &mut events, Event::Resolve, again + hours(24), now, clerk, pick(rng, RESOLUTIONS));
                }
            }
        } else {
            escalate_until(&mut a, &mut events, now);
        }
        let follow_up = (a.status == Status::Closed).then(|| {
            let at = a.closed_at.expect("closed") + hours(rng.gen_range(24..120));
            let reached = rng.gen_bool(0.9);
            let score = reached.then(|| a.satisfaction.unwrap_or(5).saturating_sub(u8::from(rng.gen_bool(0.15))).max(1));
            (
                at.min(now),
                reached,
                score,
                if reached {
                    "企业反映问题已解决".to_string()
                } else {
                    "未接通".to_string()
                },
            )
        });
        records.push(AppealRecord {
            credit_code: code,
            title,
            body: String::new(),
            raised_by: Some(raised_by),
            state: a,
            events,
            follow_up,
        });
    }
    store.load_appeals(&actor, &records).await?;

    // Key enterprises: the agent's company and nine backbone enterprises, with daily figures
    // for this year and last (to compare against) and monthly plans.
    let keys: Vec<String> = backbone.iter().take(10).cloned().collect();
    let mut figures = Vec::new();
    let mut plans = Vec::new();
    let first_day = today.checked_sub(jiff::Span::new().days(400)).expect("in range");
    for code in &keys {
        let base_output: i64 = rng.gen_range(500_000..5_000_000) * 100; // fen per day
        let growth = rng.gen_range(90..=115); // percent of last year
        let headcount: i64 = rng.gen_range(150..3_000);
        let mut day = first_day;
        while day <= today {
            let this_year = day > today.checked_sub(jiff::Span::new().years(1)).expect("in range");
            let level = if this_year { growth } else { 100 };
            let working = cal.is_working_day(day);
            // Days off run a skeleton shift: three tenths of a working day's output.
            let (num, den) = if working { (1, 1) } else { (3, 10) };
            let output = base_output * level / 100 * rng.gen_range(80..120) / 100 * num / den;
            let orders = output * rng.gen_range(70..130) / 100;
            figures.push((code.clone(), day.to_string(), Metric::Output, output));
            figures.push((code.clone(), day.to_string(), Metric::Orders, orders));
            figures.push((code.clone(), day.to_string(), Metric::Headcount, headcount + rng.gen_range(-20..20)));
            figures.push((code.clone(), day.to_string(), Metric::PartsStock, rng.gen_range(3..15)));
            day = day.tomorrow().expect("in range");
        }
        // Plans for the last thirteen months: a month's working days at the planned level.
        for back in 0..13 {
            let m: Date = today.first_of_month().checked_sub(jiff::Span::new().months(back)).expect("in range");
            let period = i64::from(m.year()) * 100 + i64::from(m.month());
            let days = i64::from(m.days_in_month());
            let plan_level = growth + rng.gen_range(-5..10);
            let plan = base_output * plan_level / 100 * days * 22 / 30;
            plans.push((code.clone(), period, Metric::Output, plan));
            plans.push((code.clone(), period, Metric::Orders, plan));
            plans.push((code.clone(), period, Metric::Headcount, headcount));
            plans.push((code.clone(), period, Metric::PartsStock, 7));
        }
    }
    store.load_key_figures(&actor, &keys, &figures, &plans, Some(people.agent.id)).await?;

    // Dispatch tasks: today's, two overdue from earlier days, two for later.
    let leader = people.leaders[0].clone();
    let tasks = [
        ("调度重点企业本周产值完成情况", 0),
        ("协调芯片供应商到企业对接", 0),
        ("督办超期用地诉求", 0),
        ("走访新开工项目现场", -2),
        ("汇总本月稳岗补贴申领情况", -1),
        ("准备下周经济运行调度会材料", 3),
        ("复核重点企业月度计划", 5),
    ];
    let mut cadres = people.cadres.clone();
    cadres.shuffle(rng);
    for (i, (title, offset)) in tasks.iter().enumerate() {
        let due = today.checked_add(jiff::Span::new().days(*offset)).expect("in range");
        store.create_dispatch_task(&actor, &leader, title, cadres[i % cadres.len()].id, due).await?;
    }
    Ok(ServiceSummary {
        leaders: people.leaders.len(),
        cadres: people.cadres.len(),
        assignments: assignments.len(),
        visits: visits.len(),
        appeals: records.len(),
        key_enterprises: keys.len(),
        daily_figures: figures.len(),
    })
}

/// Asia/Shanghai (UTC+8 all year since 1991).
fn shanghai() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

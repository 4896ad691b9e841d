//! One appeal's whole life in headless Chromium against the real server, on SQLite and on
//! PostgreSQL: the enterprise's agent raises it and it is routed to the labour department by
//! the rules; the department's clerk accepts and replies; the clock moves past the deadline
//! with `dadong escalate --now` (the real binary, run as an operator would) and the appeal
//! escalates to the department head and then to the responsible leader, who sees it on the
//! dispatch board; the clerk resolves it; the agent confirms and rates it. And the
//! statistics office's management page: an analyst names a key enterprise, plans its month and
//! takes it off the list again, through the page's own forms. And the administrator's: a
//! category routed to a department through the rules page (a department that does not exist
//! refused), a cadre assigned to an enterprise and taken off it through the assignments page.

use dadong_appeals::{Category, RoutingRule};
use dadong_store::appeals::{Duty, TargetKind};
use dadong_store::{Actor, Store};
use dadong_testkit::browser::{Browser, choose, fill, sign_out, submit, submit_at, text};
use dadong_testkit::{Backend, PASSWORD, TestApp, TestDb, on_both_backends, user};
use fantoccini::{Client, Locator};

const COMPANY: &str = "91350100M000100Y43";

async fn sign_in(client: &Client, app: &TestApp, username: &str) {
    dadong_testkit::browser::sign_in(client, app, username, PASSWORD).await
}

async fn people(store: &Store) {
    let op = Actor::Cli("browser-test".into());
    store
        .create_department(&op, "hrss", "人力资源和社会保障局", "Human Resources Bureau")
        .await
        .unwrap();
    store.set_routing_rule(&op, &RoutingRule::new(Category::Labour, "hrss")).await.unwrap();
    store
        .create_user(&op, user("agent", "赵建国", "enterprise").for_company(COMPANY))
        .await
        .unwrap();
    store.create_user(&op, user("clerk", "周文静", "clerk").in_department("hrss")).await.unwrap();
    let leader = store.create_user(&op, user("leader", "王明远", "leader")).await.unwrap();
    store.assign(&op, TargetKind::Enterprise, COMPANY, leader.id, Duty::Leader).await.unwrap();
}

/// The appeal page's status once it reads `status`.
async fn wait_status(client: &Client, status: &str) {
    client
        .wait()
        .for_element(Locator::Css(&format!(r#"#appeal[data-status="{status}"]"#)))
        .await
        .unwrap_or_else(|e| panic!("the appeal reaches {status}: {e}"));
}

/// `dadong escalate --now TIME` against the test's database, as an operator runs it.
async fn escalate(db: &TestDb, now: &str) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dadong"));
    for var in ["DADONG_DATA", "DADONG_DATABASE_URL", "DADONG_PII_KEY"] {
        cmd.env_remove(var);
    }
    cmd.env("DADONG_LOG", "warn").arg("--data").arg(&db.config.data_dir);
    if let Some(url) = db.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.args(["escalate", "--now", now]).output().await.expect("run dadong escalate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn an_appeal_lives_from_raised_to_rated_in_the_browser(backend: Backend) {
    let test = "an_appeal_lives_from_raised_to_rated_in_the_browser";
    let Some(app) = TestApp::spawn(backend, test).await else { return };
    people(&app.store).await;
    let Some(browser) = Browser::start(test).await else { return };
    let client = &browser.client;

    // The enterprise raises it; the labour rule routes it at once.
    sign_in(client, &app, "agent").await;
    client.goto(&app.url("/appeals")).await.unwrap();
    choose(client, "#category", "labour").await;
    fill(client, "#title", "招工难，急需焊工30名").await;
    fill(client, "#body", "新订单需要扩产").await;
    submit(client, "#raise-submit").await;
    wait_status(client, "routed").await;
    assert_eq!(text(client, "#department").await, "人力资源和社会保障局");
    let url = client.current_url().await.unwrap();
    let appeal_path = url.path().to_string();
    let id: i64 = appeal_path.rsplit('/').next().unwrap().parse().expect("the appeal's id in its address");
    sign_out(client).await;

    // The department's clerk finds it in the queue, accepts it and replies.
    sign_in(client, &app, "clerk").await;
    client.goto(&app.url("/appeals")).await.unwrap();
    submit(client, &format!(r#"#appeals tr[data-id="{id}"] a"#)).await;
    submit(client, "#accept").await;
    wait_status(client, "accepted").await;
    fill(client, "#reply-note", "已对接人才市场，下周举办专场招聘").await;
    submit(client, "#reply").await;
    wait_status(client, "replied").await;
    sign_out(client).await;

    // The clock moves: 30 days on, past the resolve deadline (15 working days), the appeal
    // goes to the department head; 40 days on, to the responsible leader.
    let later = |days: i64| {
        (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days))
            .in_tz("Asia/Shanghai")
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    let out = escalate(&app.db, &later(30)).await;
    assert!(out.starts_with("escalated 1 appeal(s) to their department head and 0"), "{out}");
    let out = escalate(&app.db, &later(40)).await;
    assert!(
        out.starts_with("escalated 0 appeal(s) to their department head and 1 to the responsible leader"),
        "{out}"
    );

    // The leader sees it among the escalated appeals on the dispatch board.
    sign_in(client, &app, "leader").await;
    client.goto(&app.url("/dispatch")).await.unwrap();
    let escalated = text(client, "#escalated").await;
    assert!(escalated.contains("招工难") && escalated.contains("已督办至包保领导"), "{escalated}");
    assert!(
        client.find(Locator::Css(r#"#board[hx-trigger^="every"]"#)).await.is_ok(),
        "the board refreshes itself"
    );
    sign_out(client).await;

    // The department resolves it.
    sign_in(client, &app, "clerk").await;
    client.goto(&app.url(&appeal_path)).await.unwrap();
    assert!(text(client, "#escalation").await.contains("包保领导"));
    fill(client, "#resolve-note", "专场招聘会录用焊工32名").await;
    submit(client, "#resolve").await;
    wait_status(client, "resolved").await;
    sign_out(client).await;

    // The enterprise confirms and rates it.
    sign_in(client, &app, "agent").await;
    client.goto(&app.url(&appeal_path)).await.unwrap();
    choose(client, "#score", "4").await;
    submit(client, "#confirm").await;
    wait_status(client, "closed").await;
    assert_eq!(text(client, "#satisfaction").await, "4 / 5");
    let history = text(client, "#events").await;
    for step in ["提出", "分派", "受理", "答复", "督办", "办结", "企业确认"] {
        assert!(history.contains(step), "the history shows {step}: {history}");
    }
    // What the browser did is what the store holds, and every step is in the audit chain.
    let leader = app.store.user_by_name("leader").await.unwrap().unwrap();
    let d = app.store.appeal(&leader, id, jiff::Timestamp::now()).await.unwrap().unwrap();
    let kinds: Vec<&str> = d.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["raise", "route", "accept", "reply", "escalate", "escalate", "resolve", "confirm"]);
    assert_eq!(d.appeal.satisfaction, Some(4));
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());
    browser.client.clone().close().await.expect("close the browser session");
}

async fn an_analyst_names_plans_and_removes_a_key_enterprise_in_the_browser(backend: Backend) {
    let test = "an_analyst_names_plans_and_removes_a_key_enterprise_in_the_browser";
    let Some(app) = TestApp::spawn(backend, test).await else { return };
    people(&app.store).await;
    let analyst = user("analyst", "李统计", "analyst");
    app.store.create_user(&Actor::Cli("browser-test".into()), analyst).await.unwrap();
    let Some(browser) = Browser::start(test).await else { return };
    let client = &browser.client;
    let today = jiff::Timestamp::now().in_tz(dadong_domain::DISTRICT_TIME_ZONE).unwrap().date();

    sign_in(client, &app, "analyst").await;
    client.goto(&app.url("/dispatch/key-enterprises")).await.unwrap();
    assert!(client.find(Locator::Css("#plan-form")).await.is_err(), "no plan form before a key enterprise");
    fill(client, r#"#key-form input[name="credit_code"]"#, COMPANY).await;
    submit(client, "#key-form button").await;
    // The plan form appears once there is a key enterprise to plan.
    client.wait().for_element(Locator::Css("#plan-form")).await.expect("the plan form");
    assert!(text(client, "#key-enterprises tbody").await.contains(COMPANY));

    // This month's output plan, in yuan; the month is filled in.
    fill(client, r#"#plan-form input[name="value"]"#, "3100.50").await;
    submit(client, "#plan-form button").await;
    client.wait().for_element(Locator::Css("#plan-form")).await.expect("back on the page");
    let lines = app.store.key_figures(today).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0].credit_code.as_str(), lines[0].metrics[0].plan), (COMPANY, Some(310_050)));

    // Its row's Remove button takes it off the list; the plan form goes with it.
    submit(client, "#key-enterprises tbody button").await;
    client
        .wait()
        .for_element(Locator::Css("#key-enterprises tbody:empty"))
        .await
        .expect("the list is empty");
    assert!(client.find(Locator::Css("#plan-form")).await.is_err(), "no plan form without a key enterprise");
    assert!(app.store.key_figures(today).await.unwrap().is_empty());
    let actions: Vec<String> = app.store.audit_records(20, None).await.unwrap().into_iter().map(|r| r.action).collect();
    for action in ["key_enterprise.add", "monthly_plan.set", "key_enterprise.remove"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());
    browser.client.clone().close().await.expect("close the browser session");
}

async fn an_administrator_routes_a_category_and_assigns_a_cadre_in_the_browser(backend: Backend) {
    let test = "an_administrator_routes_a_category_and_assigns_a_cadre_in_the_browser";
    let Some(app) = TestApp::spawn(backend, test).await else { return };
    people(&app.store).await;
    let op = Actor::Cli("browser-test".into());
    let admin = app.store.create_user(&op, user("admin", "管理员", "admin")).await.unwrap();
    let cadre = app.store.create_user(&op, user("cadre", "陈服务", "cadre")).await.unwrap();
    let Some(browser) = Browser::start(test).await else { return };
    let client = &browser.client;
    sign_in(client, &app, "admin").await;

    // The rules page: funding has no rule of its own until the form gives it one.
    client.goto(&app.url("/admin/appeal-rules")).await.unwrap();
    let funding_row = Locator::XPath(r#"//table[@id="rules"]//tr[td[contains(., "funding")]]"#);
    assert!(!client.find(funding_row).await.unwrap().text().await.unwrap().contains("hrss"));
    choose(client, r#"#rule-form select[name="category"]"#, "funding").await;
    // A department that does not exist is refused with its name, and nothing changes.
    fill(client, r#"#rule-form input[name="department"]"#, "nosuch").await;
    submit(client, "#rule-form button").await;
    let refusal = text(client, "[data-error-code]").await;
    assert!(refusal.contains("nosuch"), "the refusal names the department: {refusal}");
    assert!(app.store.routing_table().await.unwrap().rules().all(|r| r.category != Category::Funding));
    client.goto(&app.url("/admin/appeal-rules")).await.unwrap();
    choose(client, r#"#rule-form select[name="category"]"#, "funding").await;
    fill(client, r#"#rule-form input[name="department"]"#, "hrss").await;
    fill(client, r#"#rule-form input[name="reply_days"]"#, "5").await;
    fill(client, r#"#rule-form input[name="resolve_days"]"#, "20").await;
    submit(client, "#rule-form button").await;
    client.wait().for_element(Locator::Css("#rule-form")).await.expect("back on the rules page");
    let row = client.find(funding_row).await.unwrap().text().await.unwrap();
    assert!(row.contains("hrss") && row.contains('5') && row.contains("20"), "the funding row: {row}");
    let table = app.store.routing_table().await.unwrap();
    let rule = table.rules().find(|r| r.category == Category::Funding).expect("a funding rule");
    assert_eq!((rule.department.as_str(), rule.reply_days, rule.resolve_days), ("hrss", 5, 20));

    // The assignments page: the cadre is put on the enterprise beside its leader, then taken off.
    client.goto(&app.url("/service/assignments")).await.unwrap();
    fill(client, r#"#assign-form input[name="target"]"#, COMPANY).await;
    choose(client, r#"#assign-form select[name="user_id"]"#, &cadre.id.to_string()).await;
    submit(client, "#assign-form button").await;
    client
        .wait()
        .for_element(Locator::Css("#assign-form"))
        .await
        .expect("back on the assignments page");
    let cadre_row = Locator::XPath(r#"//table[@id="assignments"]//tr[td[contains(., "陈服务")]]"#);
    assert!(client.find(cadre_row).await.unwrap().text().await.unwrap().contains(COMPANY));
    let held = |list: &[dadong_store::appeals::Assignment]| list.iter().any(|a| a.user_id == cadre.id && a.target == COMPANY && a.duty == Duty::Cadre);
    assert!(held(&app.store.assignments(&admin).await.unwrap()));
    submit_at(client, Locator::XPath(r#"//table[@id="assignments"]//tr[td[contains(., "陈服务")]]//button"#)).await;
    client
        .wait()
        .for_element(Locator::Css("#assign-form"))
        .await
        .expect("back on the assignments page");
    assert!(client.find(cadre_row).await.is_err(), "the cadre's row is gone");
    assert!(text(client, "#assignments tbody").await.contains("王明远"), "the leader's assignment stays");
    assert!(!held(&app.store.assignments(&admin).await.unwrap()));

    let actions: Vec<String> = app.store.audit_records(20, None).await.unwrap().into_iter().map(|r| r.action).collect();
    for action in ["appeal_rule.set", "service_assignment.create", "service_assignment.remove"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());
    browser.client.clone().close().await.expect("close the browser session");
}

on_both_backends!(
    an_appeal_lives_from_raised_to_rated_in_the_browser,
    an_analyst_names_plans_and_removes_a_key_enterprise_in_the_browser,
    an_administrator_routes_a_category_and_assigns_a_cadre_in_the_browser,
);

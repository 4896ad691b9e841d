//! Managing enterprise service over HTTP against the real server, on SQLite and on PostgreSQL:
//! an admin's routing rule takes effect on the next appeal and a rule to a missing department
//! is refused with the old rule kept; a leader's assignment widens a cadre's view and its
//! removal narrows it again; key enterprises and plans reach the board; a leader's dispatch
//! task appears on the board until it is done; a clerk is refused every management route.

use dadong_store::{Actor, Store};
use dadong_testkit::http::{Caller, call, form, page, sign_in};
use dadong_testkit::{Backend, TestApp, on_both_backends, user};
use reqwest::Method;
use serde_json::{Value, json};

mod common;
use common::{A, B, appeals_district};

on_both_backends!(
    an_admin_changes_a_rule_and_the_next_appeal_routes_there_and_a_rule_to_a_missing_department_is_refused,
    a_leader_assigns_a_cadre_who_then_sees_the_enterprises_appeals_until_the_assignment_ends,
    a_leader_creates_a_dispatch_task_that_shows_on_the_board_until_it_is_done,
    the_statistics_office_names_a_key_enterprise_and_sets_its_plan,
    a_clerk_is_refused_every_management_route,
);

struct Ids {
    cadre: i64,
    other_cadre: i64,
    leader: i64,
}

/// The shared district, with an administrator and a second cadre serving nobody.
async fn setup(store: &Store) -> Ids {
    let op = Actor::Cli("http-test".into());
    let district = appeals_district(store, &op).await;
    store.create_user(&op, user("admin", "admin", "admin")).await.unwrap();
    let other_cadre = store.create_user(&op, user("cadre_b", "cadre_b", "cadre")).await.unwrap();
    Ids {
        cadre: district.cadre,
        other_cadre: other_cadre.id,
        leader: district.leader,
    }
}

async fn raise(app: &TestApp, who: &Caller, category: &str, title: &str) -> Value {
    let (status, body) = call(app, who, Method::POST, "/api/v1/appeals", Some(json!({"category": category, "title": title}))).await;
    assert_eq!(status, 201, "{body}");
    body["appeal"].clone()
}

fn rule_of(rules: &Value, category: &str) -> Value {
    rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == category)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn audit_count(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(store.pool()).await.unwrap()
}

async fn an_admin_changes_a_rule_and_the_next_appeal_routes_there_and_a_rule_to_a_missing_department_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("appeal rules http on {}", backend.name())).await else {
        return;
    };
    setup(&app.store).await;
    let admin = sign_in(&app, "admin").await;
    let agent = sign_in(&app, "agent_a").await;
    assert_eq!(raise(&app, &agent, "labour", "缺焊工").await["department_code"], "hrss");
    let (status, body) = call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/appeals/rules/labour",
        Some(json!({"department": "land", "reply_days": 2, "resolve_days": 10})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let next = raise(&app, &agent, "labour", "缺电工").await;
    assert_eq!(next["department_code"], "land", "the next appeal follows the new rule");
    assert_eq!((next["reply_days"].as_i64(), next["resolve_days"].as_i64()), (Some(2), Some(10)));

    // A department that does not exist: refused with the store's message, nothing changed.
    let audit_before = audit_count(&app.store).await;
    let (status, body) = call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/appeals/rules/labour",
        Some(json!({"department": "nowhere"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("nowhere"), "{message}");
    let (status, body) = form(&app, &admin, "/admin/appeal-rules", &[("category", "labour"), ("department", "nowhere")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("nowhere"), "the page shows the message");
    let (status, body) = call(&app, &admin, Method::PUT, "/api/v1/appeals/rules/weather", Some(json!({"department": "land"}))).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = call(
        &app,
        &admin,
        Method::PUT,
        "/api/v1/appeals/rules/labour",
        Some(json!({"department": "land", "reply_days": 20, "resolve_days": 10})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(audit_count(&app.store).await, audit_before, "nothing audited, nothing changed");
    let (status, rules) = call(&app, &admin, Method::GET, "/api/v1/appeals/rules", None).await;
    assert_eq!(status, 200);
    let labour = rule_of(&rules, "labour");
    assert_eq!(
        (labour["department"].as_str(), labour["reply_days"].as_i64()),
        (Some("land"), Some(2)),
        "the old rule stays"
    );

    // The page changes a rule too, and lists it.
    let (status, _) = form(
        &app,
        &admin,
        "/admin/appeal-rules",
        &[("category", "land"), ("department", "hrss"), ("reply_days", "5"), ("resolve_days", "30")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = page(&app, &admin, "/admin/appeal-rules").await;
    assert_eq!(status, 200);
    assert!(html.contains("人社局") && html.contains("rule-form"));
    let (_, rules) = call(&app, &admin, Method::GET, "/api/v1/appeals/rules", None).await;
    assert_eq!(rule_of(&rules, "land")["department"], "hrss");
}

async fn a_leader_assigns_a_cadre_who_then_sees_the_enterprises_appeals_until_the_assignment_ends(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("assignments http on {}", backend.name())).await else {
        return;
    };
    let ids = setup(&app.store).await;
    let leader = sign_in(&app, "leader").await;
    let agent_b = sign_in(&app, "agent_b").await;
    let cadre = sign_in(&app, "cadre_b").await;
    let appeal = raise(&app, &agent_b, "land", "B 用地").await["id"].as_i64().unwrap();
    let read = format!("/api/v1/appeals/{appeal}");
    assert_eq!(call(&app, &cadre, Method::GET, &read, None).await.0, 404, "not assigned yet");

    // Bad input: a leader cannot be a cadre, a project must exist; nothing stored.
    let (status, body) = call(
        &app,
        &leader,
        Method::POST,
        "/api/v1/appeals/assignments",
        Some(json!({"kind": "enterprise", "target": B, "user_id": ids.leader, "duty": "cadre"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = call(
        &app,
        &leader,
        Method::POST,
        "/api/v1/appeals/assignments",
        Some(json!({"kind": "project", "target": "P-NONE", "user_id": ids.other_cadre, "duty": "cadre"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("P-NONE"), "{body}");

    let (status, body) = call(
        &app,
        &leader,
        Method::POST,
        "/api/v1/appeals/assignments",
        Some(json!({"kind": "enterprise", "target": B, "user_id": ids.other_cadre, "duty": "cadre"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(call(&app, &cadre, Method::GET, &read, None).await.0, 200, "the cadre now sees B's appeal");
    let (_, list) = call(&app, &leader, Method::GET, "/api/v1/appeals/assignments", None).await;
    let list = list["assignments"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().any(|a| a["target"] == B && a["user_id"] == ids.other_cadre));

    // The page lists both and removes one.
    let (status, html) = page(&app, &leader, "/service/assignments").await;
    assert_eq!(status, 200);
    assert!(html.contains(B) && html.contains(A) && html.contains("cadre_b"));
    let cadre_id = ids.other_cadre.to_string();
    let (status, _) = form(
        &app,
        &leader,
        "/service/assignments/remove",
        &[("kind", "enterprise"), ("target", B), ("user_id", &cadre_id)],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(call(&app, &cadre, Method::GET, &read, None).await.0, 404, "the removal narrows the view again");
    let path = format!("/api/v1/appeals/assignments?kind=enterprise&target={B}&user_id={}", ids.other_cadre);
    assert_eq!(call(&app, &leader, Method::DELETE, &path, None).await.0, 404, "removed already");

    // And the page form assigns as the API does.
    let (status, _) = form(
        &app,
        &leader,
        "/service/assignments",
        &[("kind", "enterprise"), ("target", B), ("user_id", &cadre_id), ("duty", "cadre")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(call(&app, &cadre, Method::GET, &read, None).await.0, 200);
    assert_eq!(call(&app, &leader, Method::DELETE, &path, None).await.0, 204);
    assert_eq!(call(&app, &cadre, Method::GET, &read, None).await.0, 404);
    let cadre_a = sign_in(&app, "cadre_a").await;
    let _ = ids.cadre;
    assert_eq!(call(&app, &cadre_a, Method::GET, &read, None).await.0, 404, "cadre A never saw B");
}

async fn a_leader_creates_a_dispatch_task_that_shows_on_the_board_until_it_is_done(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("dispatch tasks http on {}", backend.name())).await else {
        return;
    };
    let ids = setup(&app.store).await;
    let leader = sign_in(&app, "leader").await;
    let today = dadong_appeals::local_date(jiff::Timestamp::now());
    let yesterday = today.yesterday().unwrap();
    let audit_before = audit_count(&app.store).await;
    for (body, field) in [
        (json!({"title": "  ", "owner_user_id": ids.cadre, "due_date": today.to_string()}), "title"),
        (
            json!({"title": "x".repeat(201), "owner_user_id": ids.cadre, "due_date": today.to_string()}),
            "title",
        ),
        (
            json!({"title": "调度", "owner_user_id": ids.cadre, "due_date": yesterday.to_string()}),
            "due_date",
        ),
        (json!({"title": "调度", "owner_user_id": ids.cadre, "due_date": "tomorrow"}), "due_date"),
        (json!({"title": "调度", "owner_user_id": 999_999, "due_date": today.to_string()}), "owner"),
    ] {
        let (status, out) = call(&app, &leader, Method::POST, "/api/v1/appeals/dispatch-tasks", Some(body.clone())).await;
        assert_eq!(status, 422, "{body} -> {out}");
        assert_eq!(out["error"]["field"], field, "{out}");
    }
    assert_eq!(audit_count(&app.store).await, audit_before, "nothing written on a refusal");

    let (status, body) = call(
        &app,
        &leader,
        Method::POST,
        "/api/v1/appeals/dispatch-tasks",
        Some(json!({"title": "协调焊工招聘", "owner_user_id": ids.cadre, "due_date": today.to_string()})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (_, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    let tasks = board["tasks_today"].as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0]["title"].as_str(), tasks[0]["owner_user_id"].as_i64()),
        (Some("协调焊工招聘"), Some(ids.cadre))
    );

    // The board's form creates one too; the page shows both with their owner.
    let (status, _) = form(
        &app,
        &leader,
        "/dispatch/tasks",
        &[
            ("title", "走访重点项目"),
            ("owner_user_id", &ids.cadre.to_string()),
            ("due_date", &today.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = page(&app, &leader, "/dispatch").await;
    assert_eq!(status, 200);
    assert!(html.contains("协调焊工招聘") && html.contains("走访重点项目") && html.contains("task-form"));
    // A task due in three days is listed among the coming ones, not today's.
    let soon = today.saturating_add(jiff::Span::new().days(3));
    let (status, _) = form(
        &app,
        &leader,
        "/dispatch/tasks",
        &[
            ("title", "三天后验收"),
            ("owner_user_id", &ids.cadre.to_string()),
            ("due_date", &soon.to_string()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (_, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    let coming: Vec<&str> = board["tasks_upcoming"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(coming, ["三天后验收"]);
    let (_, html) = page(&app, &leader, "/dispatch").await;
    let upcoming_list = &html[html.find(r#"id="tasks-upcoming""#).expect("the coming tasks' list")..];
    assert!(upcoming_list.contains("三天后验收") && upcoming_list.contains(&soon.to_string()));
    let (status, html) = form(
        &app,
        &leader,
        "/dispatch/tasks",
        &[("title", "x"), ("owner_user_id", "1"), ("due_date", &yesterday.to_string())],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("in the past"), "the page says why");

    // Done: off the board; done twice is a conflict.
    let done = format!("/api/v1/appeals/dispatch-tasks/{id}/done");
    assert_eq!(call(&app, &leader, Method::POST, &done, None).await.0, 204);
    assert_eq!(call(&app, &leader, Method::POST, &done, None).await.0, 409);
    let (_, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    let titles: Vec<&str> = board["tasks_today"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["走访重点项目"]);
}

async fn the_statistics_office_names_a_key_enterprise_and_sets_its_plan(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("key enterprises http on {}", backend.name())).await else {
        return;
    };
    setup(&app.store).await;
    let analyst = sign_in(&app, "analyst").await;
    let leader = sign_in(&app, "leader").await;
    let month = {
        let d = dadong_appeals::local_date(jiff::Timestamp::now());
        format!("{:04}-{:02}", d.year(), d.month())
    };
    let plan = json!({"credit_code": B, "period": month, "metric": "output", "value": "3100.50"});
    let (status, body) = call(&app, &analyst, Method::POST, "/api/v1/appeals/monthly-plans", Some(plan.clone())).await;
    assert_eq!(status, 422, "not a key enterprise yet: {body}");
    let (status, body) = call(
        &app,
        &analyst,
        Method::POST,
        "/api/v1/appeals/key-enterprises",
        Some(json!({"credit_code": "NOT-A-CODE"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "credit_code");
    let (status, _) = call(&app, &analyst, Method::POST, "/api/v1/appeals/key-enterprises", Some(json!({"credit_code": B}))).await;
    assert_eq!(status, 204);
    let (status, body) = call(&app, &analyst, Method::POST, "/api/v1/appeals/monthly-plans", Some(plan)).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = call(
        &app,
        &analyst,
        Method::POST,
        "/api/v1/appeals/monthly-plans",
        Some(json!({"credit_code": B, "period": month, "metric": "headcount", "value": "1.5"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (_, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    let line = &board["key_enterprises"][0];
    assert_eq!(line["credit_code"], B);
    assert_eq!(line["metrics"][0]["plan"], 310_050, "the plan in fen");
    let (status, _) = form(&app, &analyst, "/dispatch/key-enterprises", &[("credit_code", A)]).await;
    assert_eq!(status, 303);
    let (status, _) = form(
        &app,
        &analyst,
        "/dispatch/plans",
        &[("credit_code", A), ("period", &month), ("metric", "headcount"), ("value", "120")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = page(&app, &analyst, "/dispatch/key-enterprises").await;
    assert_eq!(status, 200);
    assert!(html.contains(A) && html.contains(B) && html.contains("plan-form"));
    // Taken off the list through the API and through the page's form: off the board, and the
    // plan form refuses them; a second removal names what is missing.
    let (status, body) = call(&app, &analyst, Method::DELETE, &format!("/api/v1/appeals/key-enterprises/{B}"), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = call(&app, &analyst, Method::DELETE, &format!("/api/v1/appeals/key-enterprises/{B}"), None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = form(&app, &analyst, "/dispatch/key-enterprises/remove", &[("credit_code", A)]).await;
    assert_eq!(status, 303);
    let (_, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    assert_eq!(board["key_enterprises"], json!([]), "{board}");
    let plan = json!({"credit_code": B, "period": month, "metric": "orders", "value": "1"});
    let (status, body) = call(&app, &analyst, Method::POST, "/api/v1/appeals/monthly-plans", Some(plan)).await;
    assert_eq!(status, 422, "no longer a key enterprise: {body}");
    let (status, html) = page(&app, &analyst, "/dispatch/key-enterprises").await;
    assert_eq!(status, 200);
    assert!(!html.contains(A) && !html.contains(B) && !html.contains("plan-form"), "{html}");
}

async fn a_clerk_is_refused_every_management_route(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("management refusals http on {}", backend.name())).await else {
        return;
    };
    let ids = setup(&app.store).await;
    let clerk = sign_in(&app, "hr_clerk").await;
    let audit_before = audit_count(&app.store).await;
    let api: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/appeals/rules".into(), None),
        (Method::PUT, "/api/v1/appeals/rules/labour".into(), Some(json!({"department": "land"}))),
        (Method::GET, "/api/v1/appeals/assignments".into(), None),
        (
            Method::POST,
            "/api/v1/appeals/assignments".into(),
            Some(json!({"kind": "enterprise", "target": B, "user_id": ids.cadre, "duty": "cadre"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/appeals/assignments?kind=enterprise&target={A}&user_id={}", ids.cadre),
            None,
        ),
        (Method::POST, "/api/v1/appeals/key-enterprises".into(), Some(json!({"credit_code": A}))),
        (Method::DELETE, format!("/api/v1/appeals/key-enterprises/{A}"), None),
        (
            Method::POST,
            "/api/v1/appeals/monthly-plans".into(),
            Some(json!({"credit_code": A, "period": "2026-03", "metric": "output", "value": "1"})),
        ),
        (
            Method::POST,
            "/api/v1/appeals/dispatch-tasks".into(),
            Some(json!({"title": "x", "owner_user_id": ids.cadre, "due_date": "2099-01-01"})),
        ),
        (Method::POST, "/api/v1/appeals/dispatch-tasks/1/done".into(), None),
    ];
    for (method, path, body) in api {
        let (status, out) = call(&app, &clerk, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {out}");
    }
    for path in ["/admin/appeal-rules", "/service/assignments", "/dispatch/key-enterprises"] {
        assert_eq!(page(&app, &clerk, path).await.0, 403, "GET {path}");
    }
    for path in [
        "/admin/appeal-rules",
        "/service/assignments",
        "/service/assignments/remove",
        "/dispatch/key-enterprises",
        "/dispatch/key-enterprises/remove",
        "/dispatch/plans",
        "/dispatch/tasks",
        "/dispatch/tasks/1/done",
    ] {
        assert_eq!(form(&app, &clerk, path, &[]).await.0, 403, "POST {path}");
    }
    assert_eq!(audit_count(&app.store).await, audit_before, "nothing written");
}

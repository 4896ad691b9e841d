//! Enterprise service over HTTP against the real server, on SQLite and on PostgreSQL: scope
//! holds in every list and read (a cadre sees only its assigned enterprises, a clerk only its
//! department's appeals, an enterprise agent only its company's), a whole appeal life through
//! the API, and every refusal of the issue answered with a clear message and nothing changed.

use dadong_store::{Actor, Store};
use dadong_testkit::http::{Caller, call, client, page, sign_in};
use dadong_testkit::{Backend, TestApp, on_both_backends, user};
use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

mod common;
use common::{A, B, appeals_district};

on_both_backends!(
    each_role_sees_only_its_scope_in_lists_reads_and_pages,
    an_appeal_lives_through_the_api_and_bad_input_is_refused_with_nothing_changed,
);

/// The shared district, with a clerk for land appeals and A a key enterprise.
async fn setup(store: &Store) {
    let op = Actor::Cli("http-test".into());
    appeals_district(store, &op).await;
    store
        .create_user(&op, user("land_clerk", "land_clerk", "clerk").in_department("land"))
        .await
        .unwrap();
    store.add_key_enterprise(&op, A).await.unwrap();
}

fn ids(v: &Value) -> Vec<i64> {
    let mut out: Vec<i64> = v["appeals"].as_array().unwrap().iter().map(|a| a["id"].as_i64().unwrap()).collect();
    out.sort();
    out
}

async fn raise(app: &TestApp, who: &Caller, category: &str, title: &str) -> i64 {
    let (status, body) = call(app, who, Method::POST, "/api/v1/appeals", Some(json!({"category": category, "title": title}))).await;
    assert_eq!(status, 201, "{body}");
    body["appeal"]["id"].as_i64().unwrap()
}

async fn each_role_sees_only_its_scope_in_lists_reads_and_pages(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("appeals http scope on {}", backend.name())).await else {
        return;
    };
    setup(&app.store).await;
    let agent_a = sign_in(&app, "agent_a").await;
    let agent_b = sign_in(&app, "agent_b").await;
    let a1 = raise(&app, &agent_a, "labour", "A 用工").await;
    let a2 = raise(&app, &agent_a, "land", "A 用地").await;
    let b1 = raise(&app, &agent_b, "labour", "B 用工").await;
    let cases = [
        ("agent_a", vec![a1, a2]),
        ("agent_b", vec![b1]),
        ("hr_clerk", vec![a1, b1]),
        ("land_clerk", vec![a2]),
        ("cadre_a", vec![a1, a2]),
        ("leader", vec![a1, a2, b1]),
    ];
    for (user, want) in cases {
        let who = sign_in(&app, user).await;
        let (status, list) = call(&app, &who, Method::GET, "/api/v1/appeals", None).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&list), want, "{user}'s list");
        for id in [a1, a2, b1] {
            let (status, _) = call(&app, &who, Method::GET, &format!("/api/v1/appeals/{id}"), None).await;
            assert_eq!(status, if want.contains(&id) { 200 } else { 404 }, "{user} reads appeal {id}");
            let (status, _) = page(&app, &who, &format!("/appeals/{id}")).await;
            assert_eq!(status, if want.contains(&id) { 200 } else { 404 }, "{user} opens appeal {id}");
        }
        let (_, list_page) = page(&app, &who, "/appeals").await;
        for id in [a1, a2, b1] {
            assert_eq!(
                list_page.contains(&format!(r#"data-id="{id}""#)),
                want.contains(&id),
                "{user}'s page and appeal {id}"
            );
        }
    }
    // Visits and coverage: the cadre's own enterprise only.
    let cadre = sign_in(&app, "cadre_a").await;
    let (status, body) = call(
        &app,
        &cadre,
        Method::POST,
        "/api/v1/service/visits",
        Some(json!({"target": format!("enterprise:{B}"), "visit_date": "2026-03-02", "people_met": "厂长", "findings": "正常"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("is not assigned to you"), "{body}");
    let (status, _) = call(
        &app,
        &cadre,
        Method::POST,
        "/api/v1/service/visits",
        Some(json!({"target": format!("enterprise:{A}"), "visit_date": "2026-03-02", "people_met": "厂长", "findings": "正常"})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, coverage) = call(&app, &cadre, Method::GET, "/api/v1/service/coverage?month=2026-03", None).await;
    assert_eq!(coverage["coverage"].as_array().unwrap().len(), 1);
    assert_eq!(coverage["coverage"][0]["visits"], 1);
}

async fn an_appeal_lives_through_the_api_and_bad_input_is_refused_with_nothing_changed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("appeals http life on {}", backend.name())).await else {
        return;
    };
    setup(&app.store).await;
    let agent = sign_in(&app, "agent_a").await;
    let clerk = sign_in(&app, "hr_clerk").await;
    let count = |store: Store| async move {
        let mut out = Vec::new();
        for t in ["appeals", "appeal_events", "appeal_rules", "daily_figures", "audit_log"] {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(store.pool())
                .await
                .unwrap();
            out.push(n);
        }
        out
    };

    // An appeal for an enterprise the agent does not act for.
    let before = count(app.store.clone()).await;
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        "/api/v1/appeals",
        Some(json!({"credit_code": B, "category": "labour", "title": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "credit_code");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("you do not act for enterprise {B}"))
    );
    assert_eq!(count(app.store.clone()).await, before);

    // The life: raise, accept, reply, resolve, confirm.
    let id = raise(&app, &agent, "labour", "招工").await;
    for (who, step, body) in [
        (&clerk, "accept", json!({})),
        (&clerk, "reply", json!({"note": "已受理"})),
        (&clerk, "resolve", json!({"note": "已解决"})),
        (&agent, "confirm", json!({"score": 5})),
    ] {
        let (status, out) = call(&app, who, Method::POST, &format!("/api/v1/appeals/{id}/{step}"), Some(body)).await;
        assert_eq!(status, 200, "{step}: {out}");
    }
    let (_, d) = call(&app, &agent, Method::GET, &format!("/api/v1/appeals/{id}"), None).await;
    assert_eq!(
        (d["appeal"]["status"].as_str(), d["appeal"]["satisfaction"].as_i64()),
        (Some("closed"), Some(5))
    );

    // A reply to the closed appeal.
    let before = count(app.store.clone()).await;
    let (status, body) = call(
        &app,
        &clerk,
        Method::POST,
        &format!("/api/v1/appeals/{id}/reply"),
        Some(json!({"note": "再补充"})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["error"]["message"], "the appeal is closed: it cannot be replied to");
    // A score out of range.
    let (status, _) = call(&app, &agent, Method::POST, &format!("/api/v1/appeals/{id}/confirm"), Some(json!({"score": 9}))).await;
    assert_eq!(status, 422);
    // Daily figures for a future date and with a negative amount.
    let today = jiff::Timestamp::now().in_tz("Asia/Shanghai").unwrap().date();
    let tomorrow = today.tomorrow().unwrap().to_string();
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        "/api/v1/figures/daily",
        Some(json!({"date": tomorrow, "output": "100"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "date");
    assert!(body["error"]["message"].as_str().unwrap().contains("lies in the future"), "{body}");
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        "/api/v1/figures/daily",
        Some(json!({"date": "2026-01-05", "orders": "-2.50"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["message"], "orders: must not be negative (got -250)");
    assert_eq!(count(app.store.clone()).await, before);
    let (status, _) = call(
        &app,
        &agent,
        Method::POST,
        "/api/v1/figures/daily",
        Some(json!({"date": "2026-01-05", "output": "1234.50"})),
    )
    .await;
    assert_eq!(status, 204);

    // The figures and the board see it.
    let analyst = sign_in(&app, "analyst").await;
    let (status, f) = call(
        &app,
        &analyst,
        Method::GET,
        &format!("/api/v1/service/figures?through={}", &today.to_string()[..7]),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(f["appeals"]["raised"], 1);
    let leader = sign_in(&app, "leader").await;
    let (status, board) = call(&app, &leader, Method::GET, "/api/v1/dispatch/board", None).await;
    assert_eq!(status, 200);
    assert_eq!(board["key_enterprises"][0]["credit_code"], A);
    let page = client()
        .get(app.url("/dispatch"))
        .header(COOKIE, &leader.cookie)
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.starts_with(r#"<div id="board""#),
        "htmx gets the board alone: {}",
        &page[..80.min(page.len())]
    );
}

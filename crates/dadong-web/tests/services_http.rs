//! Government services through the JSON API against the real server, on SQLite and on
//! PostgreSQL: an enterprise agent applies for the company bundle, hands in its materials and
//! submits; the hall accepts; the market clerk issues the licence; visibility holds (another
//! applicant gets 404, a clerk acts only on its own department's step), and bad input is
//! refused with a clear message and nothing changed.

use base64::Engine;
use dadong_services::{shipped_bundles, shipped_matters};
use dadong_store::services::HALL_DEPARTMENT;
use dadong_store::{Actor, NewUser};
use dadong_testkit::http::{call, client, sign_in};
use dadong_testkit::{Backend, TestApp, on_both_backends, user};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(a_company_is_applied_for_and_worked_through_the_api_and_bad_input_changes_nothing);

fn form() -> Value {
    let first17 = "21010419900307123";
    let id = format!("{first17}{}", dadong_domain::ids::ResidentId::check_char(first17).unwrap());
    json!({
        "company_name": "沈阳接口测试有限公司", "address": "辽宁省沈阳市大东区东塔街1号", "registered_capital": "1000000",
        "business_scope": "技术服务", "legal_rep_name": "测试", "contact_phone": "13800138000", "legal_rep_id": id,
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn a_company_is_applied_for_and_worked_through_the_api_and_bad_input_changes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &format!("services http on {}", backend.name())).await else {
        return;
    };
    let op = Actor::Cli("http-test".into());
    let departments: Vec<&str> = dadong_services::bundle::SHIPPED_DEPARTMENTS.iter().copied().chain([HALL_DEPARTMENT]).collect();
    for code in &departments {
        app.store.create_department(&op, code, code, code).await.unwrap();
    }
    app.store.upsert_matters(&op, &shipped_matters(), "shipped", "-").await.unwrap();
    for b in shipped_bundles() {
        app.store.save_bundle(&op, &b).await.unwrap();
    }
    for (name, role, department) in [
        ("agent", "enterprise", None),
        ("other", "citizen", None),
        ("hall", "clerk", Some(HALL_DEPARTMENT)),
        ("market", "clerk", Some("market")),
        ("tax", "clerk", Some("tax")),
        ("leader", "leader", None),
    ] {
        let company = (role == "enterprise").then(|| "91350100M000100Y43".to_string());
        app.store
            .create_user(
                &op,
                NewUser {
                    department_code: department.map(String::from),
                    company_code: company,
                    ..user(name, name, role)
                },
            )
            .await
            .unwrap();
    }
    let agent = sign_in(&app, "agent").await;
    let other = sign_in(&app, "other").await;
    let hall = sign_in(&app, "hall").await;
    let market = sign_in(&app, "market").await;
    let tax = sign_in(&app, "tax").await;
    let leader = sign_in(&app, "leader").await;

    // The catalog and the bundles.
    let (status, body) = call(&app, &agent, Method::GET, "/api/v1/services/matters", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["matters"].as_array().unwrap().len(), shipped_matters().len());
    let (_, body) = call(&app, &agent, Method::GET, "/api/v1/services/bundles", None).await;
    assert!(body["bundles"].as_array().unwrap().iter().any(|b| b["id"] == "open_company"), "{body}");

    // A draft; submitting it without its materials is refused, naming them, and changes nothing.
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        "/api/v1/services/applications",
        Some(json!({"bundle": "open_company", "form": form()})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["application"]["id"].as_i64().unwrap();
    assert_eq!(body["application"]["state"], "draft");
    assert_eq!(body["application"]["form"]["contact_phone"], "138****8000", "personal fields are masked");
    let audit_before = app.store.verify_audit().await.unwrap().records;
    let act = |a: &str| Some(json!({ "act": a }));
    let (status, body) = call(&app, &agent, Method::POST, &format!("/api/v1/services/applications/{id}/act"), act("submit")).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("material"), "{body}");
    assert_eq!(app.store.verify_audit().await.unwrap().records, audit_before);

    // A file whose content is not what its name says, and text that is not base64.
    let materials_url = format!("/api/v1/services/applications/{id}/materials");
    let required: Vec<String> = app
        .store
        .application(id)
        .await
        .unwrap()
        .unwrap()
        .app
        .materials
        .iter()
        .filter(|m| m.required)
        .map(|m| m.code.clone())
        .collect();
    let png = b"\x89PNG\r\n\x1a\n0000";
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        &materials_url,
        Some(json!({"material": required[0], "file_name": "a.pdf", "content_base64": b64(png)})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = call(
        &app,
        &agent,
        Method::POST,
        &materials_url,
        Some(json!({"material": required[0], "file_name": "a.pdf", "content_base64": "%%%"})),
    )
    .await;
    assert_eq!(status, 422);
    assert!(app.store.uploads(id).await.unwrap().is_empty(), "nothing was stored");
    for m in &required {
        let pdf = format!("%PDF-1.4\n% {m}\n%%EOF\n");
        let (status, body) = call(
            &app,
            &agent,
            Method::POST,
            &materials_url,
            Some(json!({"material": m, "file_name": format!("{m}.pdf"), "content_base64": b64(pdf.as_bytes())})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call(&app, &agent, Method::POST, &format!("/api/v1/services/applications/{id}/act"), act("submit")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["application"]["state"], "submitted");

    // Only those concerned see it.
    let (status, _) = call(&app, &other, Method::GET, &format!("/api/v1/services/applications/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, body) = call(&app, &agent, Method::GET, "/api/v1/services/applications", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["applications"][0]["id"], id);

    // The hall accepts from its queue; the licence step reaches the market clerk's queue.
    let (status, body) = call(&app, &hall, Method::GET, "/api/v1/services/queue", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["hall"].as_array().unwrap().iter().any(|h| h["application_id"] == id), "{body}");
    let (status, body) = call(&app, &hall, Method::POST, &format!("/api/v1/services/applications/{id}/act"), act("accept")).await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(&app, &market, Method::GET, "/api/v1/services/queue", None).await;
    let step = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["application_id"] == id)
        .unwrap_or_else(|| panic!("the licence step is in the market queue: {body}"))
        .clone();
    // Just made ready: on time (green) or, when the promise ends within a day, near due (yellow).
    assert!(step["flag"] == "green" || step["flag"] == "yellow", "{step}");
    let step_id = step["step_id"].as_str().unwrap().to_string();

    // Another department's clerk may not act on the market's step; nothing changes.
    // (The platform's certificate key is made on first need, in its own audited transaction.)
    app.store.certificate_key().await.unwrap();
    let audit_before = app.store.verify_audit().await.unwrap().records;
    let complete = Some(json!({"act": "complete", "step": step_id}));
    let (status, body) = call(&app, &tax, Method::POST, &format!("/api/v1/services/applications/{id}/act"), complete.clone()).await;
    assert!(status == 404 || status == 422, "{status} {body}");
    assert_eq!(app.store.verify_audit().await.unwrap().records, audit_before);
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        &format!("/api/v1/services/applications/{id}/act"),
        Some(json!({"act": "launch"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    // The market clerk takes the licence step on and completes it: the licence is issued.
    let (status, body) = call(
        &app,
        &market,
        Method::POST,
        &format!("/api/v1/services/applications/{id}/act"),
        Some(json!({"act": "start", "step": step_id})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&app, &market, Method::POST, &format!("/api/v1/services/applications/{id}/act"), complete).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["application"]["certificate"].as_str().is_some_and(|c| c.starts_with("LIC")), "{body}");
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());

    // Figures for those who read them; not for an applicant.
    let (status, body) = call(&app, &leader, Method::GET, "/api/v1/services/figures", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"]["matters"].as_i64().unwrap(), shipped_matters().len() as i64);
    assert!(body["services"]["applications"].as_i64().unwrap() >= 1);
    let (status, _) = call(&app, &agent, Method::GET, "/api/v1/services/figures", None).await;
    assert_eq!(status, 403);
    let (status, body) = call(&app, &agent, Method::GET, "/api/v1/notifications", None).await;
    assert_eq!(status, 200);
    assert!(
        !body["notifications"].as_array().unwrap().is_empty(),
        "the applicant was told of each change: {body}"
    );

    // The OpenAPI document lists the services API.
    let doc: Value = client().get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/services/applications/{id}/act"].is_object());
}

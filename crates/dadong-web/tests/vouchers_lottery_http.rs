//! The lottery claim mode over HTTP against the real server, on SQLite and on PostgreSQL: a
//! citizen registers through the API (a repeat is answered 200 and changes nothing), only an
//! administrator draws, once, and the winner finds the voucher in the wallet with the ledger
//! clean; the campaigns page shows 报名 then 已报名 to a citizen, 抽签 to an administrator and,
//! after the draw, its seed and number of winners. Every other role is refused with 403.

use dadong_store::{Actor, NewUser, Store};
use dadong_testkit::http::{call, form, page, sign_in};
use dadong_testkit::{Backend, TestApp, on_both_backends, user};
use dadong_vouchers::{CampaignSpec, Category, ClaimMode, KindSpec};
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    a_citizen_registers_once_and_only_an_admin_draws_once_through_the_api,
    the_campaigns_page_registers_a_citizen_and_lets_an_admin_draw,
);

const HOUR: i64 = 3_600_000;

/// Users of every role the test needs, and a lottery campaign whose window is open now.
async fn setup(store: &Store) -> (i64, Vec<i64>) {
    let op = Actor::Cli("http-test".into());
    for (u, role) in [("admin", "admin"), ("citizen", "citizen"), ("merchant", "merchant"), ("leader", "leader")] {
        store
            .create_user(
                &op,
                NewUser {
                    // A merchant acts for one company.
                    company_code: (role == "merchant").then(|| "91350100M000100Y43".to_string()),
                    ..user(u, u, role)
                },
            )
            .await
            .unwrap();
    }
    let now = dadong_store::now_ms();
    let spec = CampaignSpec {
        name: "摇号家电券".into(),
        budget_fen: 100_000,
        per_person_limit: 1,
        claim_mode: ClaimMode::Lottery,
        claim_start_ms: now - HOUR,
        claim_end_ms: now + HOUR,
        valid_from_ms: now - HOUR,
        valid_until_ms: now + 240 * HOUR,
        kinds: vec![KindSpec {
            name: "家电满3000减500".into(),
            category: Category::Appliance,
            threshold_fen: 300_000,
            discount_fen: 50_000,
            stock: 1,
        }],
    };
    let c = store.create_campaign(&op, &spec, now).await.unwrap();
    (c.id, c.kinds.iter().map(|k| k.id).collect())
}

async fn a_citizen_registers_once_and_only_an_admin_draws_once_through_the_api(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "lottery api").await else { return };
    let (campaign, kinds) = setup(&app.store).await;
    let citizen = sign_in(&app, "citizen").await;
    let admin = sign_in(&app, "admin").await;
    let merchant = sign_in(&app, "merchant").await;
    let leader = sign_in(&app, "leader").await;
    let register = format!("/api/v1/vouchers/campaigns/{campaign}/registrations");
    let draw = format!("/api/v1/vouchers/campaigns/{campaign}/draw");
    let body = json!({"kind_id": kinds[0]});

    for who in [&admin, &merchant, &leader] {
        let (status, v) = call(&app, who, Method::POST, &register, Some(body.clone())).await;
        assert_eq!(status, 403, "only citizens register: {v}");
    }
    for who in [&citizen, &merchant, &leader] {
        let (status, v) = call(&app, who, Method::POST, &draw, None).await;
        assert_eq!(status, 403, "only admins draw: {v}");
    }
    assert_eq!(app.store.lottery_registrations(campaign).await.unwrap(), vec![]);
    assert_eq!(app.store.lottery_draw(campaign).await.unwrap(), None);
    let (status, v) = call(&app, &citizen, Method::GET, &draw, None).await;
    assert_eq!(status, 404, "no draw recorded yet: {v}");

    let (status, v) = call(&app, &citizen, Method::POST, &register, Some(body.clone())).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["repeated"], json!(false));
    let (status, v) = call(&app, &citizen, Method::POST, &register, Some(body.clone())).await;
    assert_eq!(status, 200, "a repeat is answered as registered: {v}");
    assert_eq!(v["repeated"], json!(true));
    assert_eq!(app.store.lottery_registrations(campaign).await.unwrap().len(), 1);
    let (status, v) = call(&app, &citizen, Method::POST, &register, Some(json!({"kind_id": 999_999}))).await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["field"], json!("kind_id"));
    // A lottery campaign refuses claims, as before.
    let (status, v) = call(
        &app,
        &citizen,
        Method::POST,
        &format!("/api/v1/vouchers/campaigns/{campaign}/claims"),
        Some(json!({"kind_id": kinds[0], "idempotency_key": "try-claim"})),
    )
    .await;
    assert_eq!(status, 409, "{v}");

    let (status, v) = call(&app, &admin, Method::POST, &draw, None).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["winners"], json!(1));
    assert_eq!(v["registrations"], json!(1));
    assert_eq!(v["seed"].as_str().unwrap().len(), 64);
    let (status, again) = call(&app, &admin, Method::POST, &draw, None).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["reason"], json!("already_drawn"), "{again}");
    // Anyone signed in reads the recorded draw back, the same as the draw answered.
    let (status, record) = call(&app, &citizen, Method::GET, &draw, None).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record, v, "the recorded draw is the one made");
    let (status, late) = call(&app, &citizen, Method::POST, &register, Some(body.clone())).await;
    assert_eq!(status, 200, "the citizen's own registration is still answered: {late}");

    let (status, wallet) = call(&app, &citizen, Method::GET, "/api/v1/vouchers/wallet", None).await;
    assert_eq!(status, 200);
    assert_eq!(wallet.as_array().unwrap().len(), 1, "the winner holds the voucher: {wallet}");
    assert!(wallet[0]["token"].is_string());
    let (status, ledger) = call(&app, &admin, Method::GET, "/api/v1/vouchers/ledger/verify", None).await;
    assert_eq!(status, 200);
    assert_eq!(ledger["breaks"], json!([]), "{ledger}");

    // The API document lists both routes.
    let (status, doc) = call(&app, &admin, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(
        doc["paths"]["/api/v1/vouchers/campaigns/{id}/registrations"]["post"].is_object(),
        "registrations in the OpenAPI document"
    );
    assert!(
        doc["paths"]["/api/v1/vouchers/campaigns/{id}/draw"]["post"].is_object(),
        "draw in the OpenAPI document"
    );
    assert!(
        doc["paths"]["/api/v1/vouchers/campaigns/{id}/draw"]["get"].is_object(),
        "the draw record in the OpenAPI document"
    );
}

async fn the_campaigns_page_registers_a_citizen_and_lets_an_admin_draw(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "lottery pages").await else { return };
    let (campaign, kinds) = setup(&app.store).await;
    let citizen = sign_in(&app, "citizen").await;
    let admin = sign_in(&app, "admin").await;
    let merchant = sign_in(&app, "merchant").await;

    let (status, html) = page(&app, &citizen, "/vouchers").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-testid=\"register-{}\"", kinds[0])), "a 报名 button");
    assert!(html.contains("报名"));
    assert!(!html.contains(&format!("data-testid=\"claim-{}\"", kinds[0])), "no 领取 button on a lottery");
    let (campaign_text, kind_text) = (campaign.to_string(), kinds[0].to_string());
    let fields = [("campaign_id", campaign_text.as_str()), ("kind_id", kind_text.as_str())];
    let (status, location) = form(&app, &citizen, "/vouchers/register", &fields).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/vouchers?notice="), "{location}");
    let (_, html) = page(&app, &citizen, "/vouchers").await;
    assert!(html.contains(&format!("data-testid=\"registered-{}\"", kinds[0])), "shows registered");
    assert!(html.contains("已报名"));
    assert!(!html.contains(&format!("data-testid=\"draw-button-{campaign}\"")), "citizens do not draw");

    let (status, _) = form(&app, &merchant, "/vouchers/register", &fields).await;
    assert_eq!(status, 403, "a merchant cannot register");
    let (status, _) = form(&app, &citizen, "/admin/vouchers/draw", &[("campaign_id", campaign_text.as_str())]).await;
    assert_eq!(status, 403, "a citizen cannot draw");

    let (_, html) = page(&app, &admin, "/vouchers").await;
    assert!(html.contains(&format!("data-testid=\"draw-button-{campaign}\"")), "an 抽签 button");
    assert!(html.contains("抽签"));
    let (status, location) = form(&app, &admin, "/admin/vouchers/draw", &[("campaign_id", campaign_text.as_str())]).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/vouchers?notice="), "{location}");
    let d = app.store.lottery_draw(campaign).await.unwrap().expect("drawn");
    let (_, html) = page(&app, &admin, "/vouchers").await;
    assert!(!html.contains(&format!("data-testid=\"draw-button-{campaign}\"")), "no second draw button");
    assert!(html.contains(&d.seed), "the seed is shown");
    assert!(html.contains("中签人数 1"), "the number of winners is shown");
    let (_, html) = page(&app, &citizen, "/vouchers").await;
    assert!(html.contains(&d.seed), "everyone sees the seed to check the draw");
}

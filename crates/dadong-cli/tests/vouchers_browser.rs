//! A voucher's life on its pages in headless Chromium against the real server, on SQLite and on
//! PostgreSQL: a citizen claims one on the campaigns page and a second claim is refused by the
//! per-person limit with its reason shown; the wallet shows the voucher's QR code and its token;
//! the merchant types the token at the counter: a purchase under the threshold is refused and
//! changes nothing, one over it is accepted with the discount and what is left to pay, and the
//! same token again is refused as already used. The store holds what the pages said.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

use dadong_store::Actor;
use dadong_testkit::browser::{Browser, fill, sign_in, sign_out, submit, text};
use dadong_testkit::{Backend, PASSWORD, TestApp, on_both_backends, open_campaign, user};
use dadong_vouchers::{Category, ClaimRefusal, RedeemRefusal};
use fantoccini::{Client, Locator};

const MERCHANT_CODE: &str = "91350100M000100Y43";

/// The merchant's counter: the token typed in with the purchase, and the form sent.
async fn redeem(client: &Client, app: &TestApp, token: &str, purchase: &str) {
    client.goto(&app.url("/merchant")).await.unwrap();
    fill(client, "#token", token).await;
    fill(client, "#purchase", purchase).await;
    submit(client, r#"form[action="/merchant/redeem"] button"#).await;
}

async fn a_citizen_claims_and_a_merchant_redeems_a_voucher_in_the_browser(backend: Backend) {
    let test = "a_citizen_claims_and_a_merchant_redeems_a_voucher_in_the_browser";
    let Some(app) = TestApp::spawn(backend, test).await else { return };
    let op = Actor::Cli("browser-test".into());
    let citizen = app.store.create_user(&op, user("citizen", "刘市民", "citizen")).await.unwrap();
    let shop = app
        .store
        .create_user(&op, user("shop", "大东饭店", "merchant").for_company(MERCHANT_CODE))
        .await
        .unwrap();
    let now = dadong_store::now_ms();
    let merchant = app
        .store
        .apply_merchant(&op, Some(shop.id), MERCHANT_CODE, "大东饭店", &[Category::Catering], now)
        .await
        .unwrap();
    app.store.decide_merchant(&op, merchant.id, Category::Catering, true, now).await.unwrap();
    let campaign = app.store.create_campaign(&op, &open_campaign("乐享大东·餐饮季", 100, 1), now).await.unwrap();
    let kind = campaign.kinds[0].id;
    let Some(browser) = Browser::start(test).await else { return };
    let client = &browser.client;

    // The citizen claims on the campaigns page and lands in the wallet.
    sign_in(client, &app, "citizen", PASSWORD).await;
    client.goto(&app.url("/vouchers")).await.unwrap();
    submit(client, &format!(r#"[data-testid="claim-{kind}"]"#)).await;
    assert_eq!(client.current_url().await.unwrap().path(), "/vouchers/wallet");
    let wallet = app.store.wallet(citizen.id).await.unwrap();
    assert_eq!(wallet.len(), 1, "one voucher claimed");
    let voucher = wallet[0].id;
    assert_eq!(wallet[0].status, "claimed");
    let qr = client
        .find(Locator::Css(&format!(r#"[data-testid="qr-{voucher}"] svg"#)))
        .await
        .expect("the voucher's QR code");
    assert!(qr.attr("viewBox").await.unwrap().is_some(), "the QR code is drawn");
    let token = text(client, &format!(r#"[data-testid="token-{voucher}"]"#)).await;
    assert!(!token.is_empty(), "the wallet shows the voucher's token");

    // A second claim, from a freshly loaded page (a new key), is over the limit of one.
    client.goto(&app.url("/vouchers")).await.unwrap();
    submit(client, &format!(r#"[data-testid="claim-{kind}"]"#)).await;
    let notice = text(client, ".notice").await;
    assert!(notice.contains(ClaimRefusal::LimitReached.message()), "the refusal says why: {notice}");
    assert_eq!(app.store.wallet(citizen.id).await.unwrap().len(), 1, "nothing more was issued");
    sign_out(client).await;

    // The merchant types the token at the counter. Under the threshold: refused, unchanged.
    sign_in(client, &app, "shop", PASSWORD).await;
    redeem(client, &app, &token, "299.99").await;
    let error = text(client, r#"[data-testid="error"]"#).await;
    assert!(error.contains(RedeemRefusal::UnderThreshold.code()), "{error}");
    let unchanged = app.store.voucher(voucher).await.unwrap().unwrap();
    assert_eq!((unchanged.status.as_str(), unchanged.redeemed_by), ("claimed", None));

    // Over it: accepted, 50.00 off and 270.00 to pay, and in the counter's history.
    redeem(client, &app, &token, "320.00").await;
    let notice = text(client, r#"[data-testid="notice"]"#).await;
    assert!(notice.contains("50.00") && notice.contains("270.00"), "{notice}");
    assert!(text(client, "#history tbody").await.contains(&voucher.to_string()));
    let spent = app.store.voucher(voucher).await.unwrap().unwrap();
    assert_eq!(
        (spent.status.as_str(), spent.redeemed_by, spent.purchase_fen),
        ("redeemed", Some(merchant.id), Some(320_00))
    );

    // The same token again: refused as used, and the voucher is as the first scan left it.
    redeem(client, &app, &token, "320.00").await;
    let error = text(client, r#"[data-testid="error"]"#).await;
    assert!(error.contains(RedeemRefusal::AlreadyRedeemed.code()), "{error}");
    assert_eq!(app.store.voucher(voucher).await.unwrap().unwrap(), spent);

    assert_eq!(app.store.verify_ledger().await.unwrap().breaks, vec![]);
    assert!(app.store.verify_audit().await.unwrap().first_break.is_none());
    browser.client.clone().close().await.expect("close the browser session");
}

on_both_backends!(a_citizen_claims_and_a_merchant_redeems_a_voucher_in_the_browser);

//! A company opened through the `open_company` bundle in headless Chromium, on SQLite and on
//! PostgreSQL: the demo's enterprise agent fills the combined form once and uploads the
//! materials, the hall accepts, the market bureau issues the licence, the four departments'
//! clerks act at the same moment in four browsers, the licence downloads as a PDF and verifies at
//! `/verify/<id>` and with `dadong verify FILE`, and an altered copy fails both.

use base64::Engine;
use dadong_testkit::browser::{Browser, fill, sign_in, sign_out, submit};
use dadong_testkit::{Backend, TestApp, on_both_backends};
use fantoccini::{Client, Locator};
use std::time::Instant;

/// The state of the application page shown, after the page has (re)loaded.
async fn app_state(client: &Client) -> String {
    let el = client.wait().for_element(Locator::Css("#app-state")).await.expect("the application page");
    el.attr("data-state").await.unwrap().unwrap_or_default()
}

async fn step_state(client: &Client, step: &str) -> String {
    let row = client.find(Locator::Css(&format!("tr[data-step='{step}']"))).await.expect("step row");
    row.attr("data-state").await.unwrap().unwrap_or_default()
}

/// Runs `fetch` in the signed-in page and returns the body's bytes.
async fn fetch_bytes(client: &Client, path: &str) -> Vec<u8> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
            let s = ''; const a = new Uint8Array(b);
            for (let i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
            done(btoa(s));
        }).catch(e => done('ERR ' + e));
    "#;
    let v = client.execute_async(script, vec![serde_json::json!(path)]).await.expect("fetch runs");
    let text = v.as_str().expect("base64 text").to_string();
    assert!(!text.starts_with("ERR"), "{text}");
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

async fn verdict(client: &Client, app: &TestApp, id: &str, file: &std::path::Path) -> (bool, String) {
    client.goto(&app.url(&format!("/verify/{id}"))).await.unwrap();
    client
        .find(Locator::Css("#verify-file"))
        .await
        .unwrap()
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    submit(client, "#verify-submit").await;
    let v = client.wait().for_element(Locator::Css("#verdict")).await.expect("a verdict");
    (v.attr("data-genuine").await.unwrap().as_deref() == Some("true"), v.text().await.unwrap())
}

async fn a_company_is_opened_through_the_bundle_in_the_browser(backend: Backend) {
    let test = "a_company_is_opened_through_the_bundle_in_the_browser";
    let Some(app) = TestApp::spawn(backend, test).await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.expect("demo");
    let password = |username: &str| demo.logins.iter().find(|l| l.username == username).expect(username).password.clone();
    let started = Instant::now();
    let Some(browser) = Browser::start(test).await else { return };
    let client = &browser.client;
    let files = tempfile::tempdir().unwrap();

    // The enterprise agent applies once.
    sign_in(client, &app, "enterprise", &password("enterprise")).await;
    client.goto(&app.url("/services/bundles/open_company")).await.unwrap();
    let first17 = "21010419850512301";
    let id_number = format!("{first17}{}", dadong_domain::ids::ResidentId::check_char(first17).unwrap());
    for (field, value) in [
        ("company_name", "沈阳浏览器测试机械有限公司"),
        ("address", "辽宁省沈阳市大东区小北关街8号"),
        ("registered_capital", "500000"),
        ("business_scope", "机械设备销售；技术服务"),
        ("legal_rep_name", "李测试"),
        ("legal_rep_id", id_number.as_str()),
        ("contact_phone", "13912345678"),
        ("employees", "12"),
    ] {
        fill(client, &format!("#f-{field}"), value).await;
    }
    submit(client, "#apply-submit").await;
    assert_eq!(app_state(client).await, "draft");
    let url = client.current_url().await.unwrap();
    let application: i64 = url.path().rsplit('/').next().unwrap().parse().unwrap();
    let mut codes = Vec::new();
    for row in client.find_all(Locator::Css("tr[data-material]")).await.unwrap() {
        codes.push(row.attr("data-material").await.unwrap().unwrap());
    }
    assert!(
        !codes.contains(&"business_licence".to_string()),
        "the licence is produced by the bundle, not asked for"
    );
    for code in &codes {
        let path = files.path().join(format!("{code}.pdf"));
        std::fs::write(&path, format!("%PDF-1.4\n% {code}\n%%EOF\n")).unwrap();
        client
            .find(Locator::Css(&format!("#file-{code}")))
            .await
            .unwrap()
            .send_keys(&path.display().to_string())
            .await
            .unwrap();
        submit(client, &format!("#upload-{code}")).await;
        assert_eq!(app_state(client).await, "draft");
    }
    submit(client, "#submit-application").await;
    assert_eq!(app_state(client).await, "submitted");
    sign_out(client).await;

    // The hall accepts; the market bureau takes the licence step on and completes it.
    let page = app.url(&format!("/services/applications/{application}"));
    sign_in(client, &app, "clerk_hall", &password("clerk_hall")).await;
    client.goto(&page).await.unwrap();
    submit(client, "#accept").await;
    assert_eq!(app_state(client).await, "accepted");
    sign_out(client).await;
    sign_in(client, &app, "clerk", &password("clerk")).await;
    client.goto(&page).await.unwrap();
    submit(client, "#start-licence").await;
    app_state(client).await;
    submit(client, "#complete-licence").await;
    assert_eq!(app_state(client).await, "in_progress");
    assert_eq!(step_state(client, "licence").await, "done");
    sign_out(client).await;

    // Four departments at the same moment, each in its own browser.
    let departments = [
        ("clerk_police", "seal"),
        ("clerk_tax", "invoice"),
        ("clerk_bank", "bank_account"),
        ("clerk_hrss", "social_insurance"),
    ];
    let runs = departments.iter().map(|(username, step)| {
        let (app, page, password) = (&app, page.clone(), password(username));
        async move {
            let b = Browser::start(username).await.expect("a browser per clerk");
            let c = &b.client;
            sign_in(c, app, username, &password).await;
            c.goto(&page).await.unwrap();
            submit(c, &format!("#start-{step}")).await;
            app_state(c).await;
            submit(c, &format!("#complete-{step}")).await;
            app_state(c).await;
            assert_eq!(step_state(c, step).await, "done", "{username} completed {step}");
            b.client.clone().close().await.unwrap();
        }
    });
    futures::future::join_all(runs).await;

    // Every step done: the hall delivers, the applicant downloads the licence.
    sign_in(client, &app, "clerk_hall", &password("clerk_hall")).await;
    client.goto(&page).await.unwrap();
    assert_eq!(app_state(client).await, "done", "no step lost to a concurrent clerk");
    submit(client, "#deliver").await;
    assert_eq!(app_state(client).await, "delivered");
    sign_out(client).await;
    sign_in(client, &app, "enterprise", &password("enterprise")).await;
    client.goto(&page).await.unwrap();
    let link = client.find(Locator::Css("#certificate-download")).await.expect("the licence link");
    let href = link.attr("href").await.unwrap().unwrap();
    let certificate = href.rsplit('/').next().unwrap().to_string();
    let pdf = fetch_bytes(client, &href).await;
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");

    // Genuine, and an altered copy is not: on the verification page and on the command line.
    let genuine = files.path().join("licence.pdf");
    std::fs::write(&genuine, &pdf).unwrap();
    let mut altered_bytes = pdf.clone();
    let at = altered_bytes.len() / 2;
    altered_bytes[at] ^= 0x20;
    let altered = files.path().join("altered.pdf");
    std::fs::write(&altered, &altered_bytes).unwrap();
    let (ok, text) = verdict(client, &app, &certificate, &genuine).await;
    assert!(ok, "the issued licence verifies: {text}");
    assert!(
        client
            .find(Locator::Css("#registry-record"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("沈阳浏览器测试机械有限公司")
    );
    let (ok, text) = verdict(client, &app, &certificate, &altered).await;
    assert!(!ok && text.contains("altered"), "the altered copy fails: {text}");

    for (file, code, word) in [(&genuine, 0, "GENUINE"), (&altered, 1, "NOT GENUINE")] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_dadong"));
        cmd.env_remove("DADONG_DATABASE_URL").env_remove("DADONG_PII_KEY").env("DADONG_LOG", "warn");
        cmd.arg("--data").arg(&app.db.config.data_dir);
        if let Some(url) = app.db.database_url() {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.arg("verify").arg(file).output().await.expect("run dadong verify");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "dadong verify {}: {stdout}", file.display());
        assert!(stdout.starts_with(word), "{stdout}");
    }
    eprintln!("services browser journey on {}: {} ms", backend.name(), started.elapsed().as_millis());
    browser.client.clone().close().await.unwrap();
}

on_both_backends!(a_company_is_opened_through_the_bundle_in_the_browser);

//! The economy's pages and API over the demo district, on SQLite and on PostgreSQL: the
//! bulletin with its period picker and downloads, the enterprise registry narrowed to what
//! each role may see, and imports through the upload page and the API, all or nothing.

use dadong_domain::{CreditCode, Role};
use dadong_store::Actor;
use dadong_store::economy_import::ImportKind;
use dadong_testkit::http::{Caller, client, page, sign_in_with};
use dadong_testkit::{Backend, TestApp, on_both_backends};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::Value;

const BOUNDARY: &str = "dadong-economy-test-9c1e";

/// Signs in the demo's user of `role`.
async fn sign_in(app: &TestApp, demo: &dadong_demo::DemoSummary, role: Role) -> Caller {
    let login = demo.logins.iter().find(|l| l.role == role).unwrap();
    sign_in_with(app, &login.username, &login.password).await
}

async fn get_json(app: &TestApp, user: &Caller, path: &str) -> (u16, Value) {
    let (status, text) = page(app, user, path).await;
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}")))
}

/// Posts the upload form as a browser does: multipart, the CSRF token in the query string.
async fn upload(app: &TestApp, user: &Caller, kind: &str, file_name: &str, file: &str) -> (u16, String) {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{BOUNDARY}--\r\n"
    );
    let r = client()
        .post(app.url(&format!("/economy/import?csrf_token={}", user.csrf)))
        .header(COOKIE, &user.cookie)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A valid Dadong credit code that no demo enterprise has.
fn new_code(i: u32) -> String {
    let first17 = format!("91210104{:09}", 770_000_000 + i);
    format!("{first17}{}", CreditCode::check_char(&first17).unwrap())
}

const ENTERPRISES_HEADER: &str = "credit_code,name,industry,above_size,park,tags,registered";

async fn enterprise_count(app: &TestApp) -> i64 {
    app.store.enterprises_page("", None, 1, 1).await.unwrap().total
}

async fn audit_count(app: &TestApp) -> i64 {
    app.store.verify_audit().await.unwrap().records
}

async fn the_bulletin_page_shows_the_figures_with_a_period_picker_and_downloads(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "bulletin page").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let analyst = sign_in(&app, &demo, Role::Analyst).await;

    let (status, html) = page(&app, &analyst, "/economy/bulletin?through=2022-08").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("1251.3"), "the industrial output in 亿元");
    assert!(html.contains("3.9"), "its growth");
    assert!(html.contains(r#"<select id="through" name="through">"#), "the period picker");
    assert!(html.contains(r#"<option value="2022-08" selected>"#), "the chosen month is selected");
    assert!(html.contains(r#"<option value="2021-01">"#), "every stored month is offered");
    assert!(html.contains("<svg") && html.contains("</svg>"), "the charts inline");
    assert!(html.contains("/economy/bulletin.xlsx?through=2022-08"));
    assert!(html.contains("/economy/bulletin.md?through=2022-08"));
    assert!(html.contains("/api/v1/economy/bulletin?through=2022-08"));

    // Without a month, the latest with data.
    let (_, latest) = app.store.indicator_period_range().await.unwrap().unwrap();
    let (status, html) = page(&app, &analyst, "/economy/bulletin").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"<option value="{latest}" selected>"#)), "defaults to {latest}");

    // A month without data says so; a month that is not one is refused with the reason.
    let (status, html) = page(&app, &analyst, "/economy/bulletin?through=2019-05").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="bulletin-no-data""#), "{html}");
    assert!(!html.contains(r#"id="indicators""#));
    let (status, html) = page(&app, &analyst, "/economy/bulletin?through=2022-13").await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="bulletin-error""#) && html.contains("2022-13"), "{html}");

    // The same bulletin as JSON, Markdown and a workbook.
    let (status, v) = get_json(&app, &analyst, "/api/v1/economy/bulletin?through=2022-08").await;
    assert_eq!(status, 200);
    let output = v["indicators"].as_array().unwrap().iter().find(|i| i["code"] == "industrial_output").unwrap();
    assert_eq!(output["total"], "125130000000.00");
    assert_eq!(output["growth_pct"], "3.9");
    let r = client()
        .get(app.url("/economy/bulletin.md?through=2022-08"))
        .header(COOKIE, &analyst.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/markdown"));
    assert!(r.text().await.unwrap().contains("1251.3亿元"));
    let r = client()
        .get(app.url("/economy/bulletin.xlsx?through=2022-08"))
        .header(COOKIE, &analyst.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("bulletin-2022-08.xlsx"));
    assert!(r.bytes().await.unwrap().starts_with(b"PK"), "a zip archive");

    // In English too, with the period picker.
    let r = client()
        .get(app.url("/economy/bulletin?through=2022-08"))
        .header(COOKIE, format!("{}; dadong_lang=en", analyst.cookie))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(html.contains("Economic bulletin") && html.contains("Through month"), "English page");
    assert!(html.contains("1251.3"));
}

async fn a_cadre_sees_exactly_its_assigned_enterprises(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "cadre scope").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let registry = app.store.enterprises_page("", None, 1, 2).await.unwrap().items;
    let (mine, other) = (&registry[0], &registry[1]);
    let cadre_user = app.store.users().await.unwrap().into_iter().find(|u| u.role == Role::Cadre).unwrap();
    app.store.assign_company(&Actor::System, cadre_user.id, &mine.credit_code).await.unwrap();
    let cadre = sign_in(&app, &demo, Role::Cadre).await;

    let (status, v) = get_json(&app, &cadre, "/api/v1/economy/enterprises").await;
    assert_eq!(status, 200);
    assert_eq!(v["total"], 1, "{v}");
    let codes: Vec<&str> = v["items"].as_array().unwrap().iter().map(|i| i["credit_code"].as_str().unwrap()).collect();
    assert_eq!(codes, [mine.credit_code.as_str()]);

    let (status, html) = page(&app, &cadre, "/economy/enterprises").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(r#"data-code="{}""#, mine.credit_code)));
    assert!(!html.contains(&other.credit_code), "another enterprise is not listed");
    // A search does not widen the scope.
    let (_, v) = get_json(&app, &cadre, &format!("/api/v1/economy/enterprises?q={}", other.credit_code)).await;
    assert_eq!(v["total"], 0);

    let (status, html) = page(&app, &cadre, &format!("/economy/enterprises/{}", mine.credit_code)).await;
    assert_eq!(status, 200);
    assert!(html.contains(&mine.name));
    let (status, _) = page(&app, &cadre, &format!("/economy/enterprises/{}", other.credit_code)).await;
    assert_eq!(status, 404, "out of scope answers as not found");
    let (status, v) = get_json(&app, &cadre, &format!("/api/v1/economy/enterprises/{}", other.credit_code)).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["code"], "not_found");

    // The district's roles see the enterprise the cadre may not, with its values.
    let leader = sign_in(&app, &demo, Role::Leader).await;
    let (status, v) = get_json(&app, &leader, &format!("/api/v1/economy/enterprises/{}", other.credit_code)).await;
    assert_eq!(status, 200);
    assert_eq!(v["credit_code"], other.credit_code.as_str());
    let (_, v) = get_json(&app, &leader, "/api/v1/economy/enterprises").await;
    assert_eq!(v["total"], enterprise_count(&app).await);
    assert_eq!(v["items"].as_array().unwrap().len(), 50, "fifty to a page");

    // An above-size enterprise's page charts each indicator it reports, with a table.
    let above = app
        .store
        .enterprises_page("", None, 1, 200)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|e| e.above_size)
        .unwrap();
    let (status, html) = page(&app, &leader, &format!("/economy/enterprises/{}", above.credit_code)).await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg") && html.contains(r#"id="values""#), "history chart and values");
}

async fn an_enterprise_agent_sees_only_its_own_registered_company(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "agent scope").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let own = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.role == Role::Enterprise)
        .unwrap()
        .company_code
        .unwrap();
    let agent = sign_in(&app, &demo, Role::Enterprise).await;
    let (status, v) = get_json(&app, &agent, "/api/v1/economy/enterprises").await;
    assert_eq!(status, 200);
    assert_eq!(v["total"], 0, "its company is not in the registry yet");
    let (_, html) = page(&app, &agent, "/economy/enterprises").await;
    assert!(html.contains(r#"id="no-enterprises""#));
    assert_eq!(page(&app, &agent, &format!("/economy/enterprises/{own}")).await.0, 404);

    let file = format!("{ENTERPRISES_HEADER}\n{own},沈阳示例科技有限公司（虚构）,C3971,false,科技创新港,tech_sme@2022-03-01,2020-05-06\n");
    app.store
        .import_file_bytes(&Actor::System, ImportKind::Enterprises, "own.csv", file.as_bytes())
        .await
        .unwrap();
    let (_, v) = get_json(&app, &agent, "/api/v1/economy/enterprises").await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["credit_code"], own.as_str());
    let (status, html) = page(&app, &agent, &format!("/economy/enterprises/{own}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("2022-03-01"), "the pool with its entry date");
    let other = app.store.enterprises_page("", None, 1, 1).await.unwrap().items[0].credit_code.clone();
    assert_ne!(other, own);
    assert_eq!(page(&app, &agent, &format!("/economy/enterprises/{other}")).await.0, 404);
    // Projects and the bulletin are not for an agent.
    assert_eq!(page(&app, &agent, "/economy/projects").await.0, 403);
    assert_eq!(page(&app, &agent, "/economy/bulletin").await.0, 403);
}

async fn the_upload_page_imports_a_good_file_and_refuses_a_bad_one_whole(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "upload page").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let analyst = sign_in(&app, &demo, Role::Analyst).await;

    let (status, html) = page(&app, &analyst, "/economy/import").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"enctype="multipart/form-data""#));
    assert!(html.contains(&format!("/economy/import?csrf_token={}", analyst.csrf)));

    let (a, b) = (new_code(1), new_code(2));
    let good = format!(
        "{ENTERPRISES_HEADER}\n{a},沈阳甲乙机械有限公司（虚构）,C3484,true,东部智造园,key,2019-04-01\n{b},沈阳丙丁电子有限公司（虚构）,C3971,false,,,2021-09-30\n"
    );
    let before = enterprise_count(&app).await;
    let (status, html) = upload(&app, &analyst, "enterprises", "new-firms.csv", &good).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="import-done""#) && html.contains("new-firms.csv"), "{html}");
    assert_eq!(enterprise_count(&app).await, before + 2);
    assert!(app.store.enterprise_profile(&a).await.unwrap().is_some());
    assert!(html.contains(r#"id="recent-imports""#), "the import is in the record");

    // Three bad rows and a good one: every problem is shown, nothing is stored.
    let c = new_code(3);
    let bad = format!(
        "{ENTERPRISES_HEADER}\n{c},好企业（虚构）,C36,true,,,2020-01-01\n91210104MA0000000X,坏代码,C36,true,,,2020-01-01\n{},无行业,,true,,,2020-01-01\n{},坏日期,C36,maybe,,,2020-02-30\n",
        new_code(4),
        new_code(5)
    );
    let (before, audit_before) = (enterprise_count(&app).await, audit_count(&app).await);
    let (status, html) = upload(&app, &analyst, "enterprises", "bad.csv", &bad).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains(r#"id="import-errors""#), "{html}");
    for row in ["<tr><td>3</td>", "<tr><td>4</td>", "<tr><td>5</td>"] {
        assert!(html.contains(row), "row {row} is listed: {html}");
    }
    assert!(html.contains("above_size") && html.contains("registered") && html.contains("industry"));
    assert_eq!(enterprise_count(&app).await, before, "nothing stored");
    assert!(app.store.enterprise_profile(&c).await.unwrap().is_none(), "not even the good row");
    assert_eq!(audit_count(&app).await, audit_before);

    // No kind, no file, no token.
    let (status, html) = upload(&app, &analyst, "widgets", "x.csv", "a\n").await;
    assert_eq!(status, 422);
    assert!(html.contains(r#"id="import-problem""#));
    let r = client()
        .post(app.url("/economy/import"))
        .header(COOKIE, &analyst.cookie)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(format!("--{BOUNDARY}--\r\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "the CSRF token is required");

    // A leader reads but does not import.
    let leader = sign_in(&app, &demo, Role::Leader).await;
    assert_eq!(upload(&app, &leader, "enterprises", "x.csv", &good).await.0, 403);
}

async fn the_import_api_answers_201_or_422_with_every_row(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "import API").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let admin = sign_in(&app, &demo, Role::Admin).await;
    let post = |path: &str, content_type: &str, body: String| {
        client()
            .post(app.url(path))
            .header(COOKIE, &admin.cookie)
            .header("x-csrf-token", &admin.csrf)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };

    let (before, audit_before) = (enterprise_count(&app).await, audit_count(&app).await);
    let bad = format!(
        "{ENTERPRISES_HEADER}\nNOT-A-CODE,x,C36,true,,,2020-01-01\n{},y,C36,perhaps,,,2020-01-01\n",
        new_code(10)
    );
    let r = post("/api/v1/economy/import/enterprises", "text/csv", bad).await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "validation_failed");
    let rows = v["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(rows[0]["row"], 2);
    assert_eq!(rows[0]["column"], "credit_code");
    assert_eq!(rows[1]["row"], 3);
    assert_eq!(rows[1]["column"], "above_size");
    assert!(rows.iter().all(|r| r["reason"].as_str().is_some_and(|s| !s.is_empty())));
    assert_eq!(enterprise_count(&app).await, before);
    assert_eq!(audit_count(&app).await, audit_before);

    // Values for an enterprise the registry does not hold are refused by the store, row by row.
    let unknown = new_code(11);
    let r = post(
        "/api/v1/economy/import/indicators",
        "text/csv",
        format!("credit_code,period,indicator,value\n{unknown},2022-08,revenue,100.00\n"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["rows"][0]["column"], "credit_code", "{v}");

    let good = format!("{ENTERPRISES_HEADER}\n{},沈阳戊己化工有限公司（虚构）,C2614,true,,,2018-08-08\n", new_code(12));
    let r = post("/api/v1/economy/import/enterprises?file_name=ours.csv", "text/csv; charset=utf-8", good)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["kind"], "enterprises");
    assert_eq!(v["rows"], 1);
    assert_eq!(v["inserted"], 1);
    assert_eq!(enterprise_count(&app).await, before + 1);
    let recent = app.store.recent_imports(1).await.unwrap();
    assert_eq!(recent[0].file_name, "ours.csv");
    assert!(recent[0].actor.contains("admin"));
}

async fn projects_list_and_show_their_stage_timeline(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "projects pages").await else { return };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.unwrap();
    let cadre = sign_in(&app, &demo, Role::Cadre).await;
    let (status, v) = get_json(&app, &cadre, "/api/v1/economy/projects").await;
    assert_eq!(status, 200);
    assert!(v["total"].as_i64().unwrap() > 0);
    let item = &v["items"][0];
    let id = item["project_id"].as_str().unwrap().to_string();
    let (status, html) = page(&app, &cadre, "/economy/projects").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("/economy/projects/{id}")));

    let (status, v) = get_json(&app, &cadre, &format!("/api/v1/economy/projects/{id}")).await;
    assert_eq!(status, 200);
    let stages = v["stages"].as_array().unwrap();
    let dates: Vec<&str> = stages.iter().map(|s| s["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "the timeline runs by date");
    let (status, html) = page(&app, &cadre, &format!("/economy/projects/{id}")).await;
    assert_eq!(status, 200);
    if !stages.is_empty() {
        assert!(html.contains(r#"id="timeline""#) && html.contains(dates[0]));
    }
    assert_eq!(page(&app, &cadre, "/economy/projects/no-such-project").await.0, 404);
}

on_both_backends!(
    the_bulletin_page_shows_the_figures_with_a_period_picker_and_downloads,
    a_cadre_sees_exactly_its_assigned_enterprises,
    an_enterprise_agent_sees_only_its_own_registered_company,
    the_upload_page_imports_a_good_file_and_refuses_a_bad_one_whole,
    the_import_api_answers_201_or_422_with_every_row,
    projects_list_and_show_their_stage_timeline,
);

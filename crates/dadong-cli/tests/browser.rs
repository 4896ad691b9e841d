//! The sign-in journey in headless Chromium against the real server, on SQLite and on
//! PostgreSQL: every demo user signs in, lands on their role's home page and signs out; a
//! wrong password is refused on the login page; the language switch turns the page English.
//!
//! One browser session per backend walks the whole journey, since starting Chromium costs
//! more than everything it is asked to do here.

use dadong_testkit::browser::{Browser, send_login, sign_out, submit};
use dadong_testkit::{Backend, TestApp, on_both_backends};
use fantoccini::Locator;
use std::time::Instant;

async fn every_demo_user_signs_in_sees_their_home_page_and_signs_out(backend: Backend) {
    let test = "every_demo_user_signs_in_sees_their_home_page_and_signs_out";
    let Some(app) = TestApp::spawn(backend, test).await else {
        return;
    };
    let demo = dadong_demo::load(&app.store, dadong_demo::DEFAULT_SEED).await.expect("load the demo");
    for role in dadong_domain::Role::ALL {
        assert!(demo.logins.iter().any(|l| l.role == role), "a demo login for {}", role.key());
    }
    let started = Instant::now();
    let Some(browser) = Browser::start(test).await else {
        return;
    };
    let client = &browser.client;
    let browser_ready = started.elapsed();

    for login in &demo.logins {
        let role = login.role;
        send_login(client, &app, &login.username, &login.password).await;

        let home = client
            .wait()
            .for_element(Locator::Css("#home"))
            .await
            .unwrap_or_else(|e| panic!("{} reaches the home page: {e}", login.username));
        assert_eq!(
            home.attr("data-role").await.unwrap().as_deref(),
            Some(role.key()),
            "{}'s home page is for their role",
            login.username
        );
        let h1 = home.find(Locator::Css("h1")).await.expect("home heading").text().await.expect("heading text");
        assert!(
            h1.contains(role.name_zh()),
            "{}'s heading names the role {}: {h1:?}",
            login.username,
            role.name_zh()
        );

        sign_out(client).await;
        assert_eq!(client.current_url().await.unwrap().path(), "/login", "signing out leads to the login page");
    }

    // A wrong password: the error is shown and the browser stays on the login page.
    let admin = demo.logins.iter().find(|l| l.role == dadong_domain::Role::Admin).expect("an admin login");
    send_login(client, &app, &admin.username, "not-the-password").await;
    let alert = client.wait().for_element(Locator::Css(".alert")).await.expect("an error message");
    assert!(alert.text().await.unwrap().contains("用户名或密码错误"), "the wrong password is reported");
    assert_eq!(client.current_url().await.unwrap().path(), "/login", "still on the login page");
    assert!(client.find(Locator::Css("#home")).await.is_err(), "not signed in");
    client.find(Locator::Css("#login-submit")).await.expect("the login form is still there");

    // The language switch turns the login page English.
    client.goto(&app.url("/login")).await.expect("open /login");
    submit(client, "a.lang").await;
    let h1 = client
        .wait()
        .for_element(Locator::XPath("//h1[contains(., 'Sign in to Digital Dadong')]"))
        .await
        .expect("the login heading in English");
    assert_eq!(h1.text().await.unwrap().trim(), "Sign in to Digital Dadong");
    assert_eq!(client.current_url().await.unwrap().path(), "/login", "the switch returns to the same page");

    eprintln!(
        "browser journey on {}: chromium ready in {} ms, whole journey {} ms",
        backend.name(),
        browser_ready.as_millis(),
        started.elapsed().as_millis()
    );
    browser.client.clone().close().await.expect("close the browser session");
}

on_both_backends!(every_demo_user_signs_in_sees_their_home_page_and_signs_out);

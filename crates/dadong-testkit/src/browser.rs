//! Headless Chromium driven through chromedriver (WebDriver), both from Debian's packages.

use crate::TestApp;
use fantoccini::{Client, Locator};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and one browser session; both end when this is dropped.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless browser, or skips loudly where they are missing.
    pub async fn start(test: &str) -> Option<Browser> {
        let chromium = std::env::var("DADONG_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_string());
        let chromedriver = std::env::var("DADONG_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.to_string());
        if !std::path::Path::new(&chromium).exists() || !std::path::Path::new(&chromedriver).exists() {
            crate::skip(
                test,
                &format!("Chromium and chromedriver ({chromium}, {chromedriver}); install Debian's chromium and chromium-driver"),
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        // chromedriver takes a moment to listen; wait for it by polling its port, bounded.
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{port}");
        let client = loop {
            match fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("chromedriver did not start: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Some(Browser {
            client,
            driver,
            _profile: profile,
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Opens the login page and sends it `username` and `password`, whether right or wrong.
pub async fn send_login(client: &Client, app: &TestApp, username: &str, password: &str) {
    client.goto(&app.url("/login")).await.expect("open /login");
    fill(client, "#username", username).await;
    fill(client, "#password", password).await;
    submit(client, "#login-submit").await;
}

/// Signs `username` in through the login page and waits for their home page.
pub async fn sign_in(client: &Client, app: &TestApp, username: &str, password: &str) {
    send_login(client, app, username, password).await;
    client
        .wait()
        .for_element(Locator::Css("#home"))
        .await
        .unwrap_or_else(|e| panic!("{username} signs in: {e}"));
}

/// Signs out through the navigation's button and waits for the login page.
pub async fn sign_out(client: &Client) {
    submit(client, r#"form[action="/logout"] button"#).await;
    client.wait().for_element(Locator::Css("#login-submit")).await.expect("back at the login page");
}

/// Clicks a form's button (or a link) and waits, bounded, until the browser has left the page:
/// the old document's root goes stale once the answer has replaced it. Whatever the test
/// reads next, on the page or in the store, is then what the request left behind; waiting for
/// an element instead may find it on the old page before the request has landed.
pub async fn submit(client: &Client, css: &str) {
    submit_at(client, Locator::Css(css)).await
}

/// [`submit`] for an element that a CSS selector cannot name (an XPath on its text, say).
pub async fn submit_at(client: &Client, target: Locator<'_>) {
    let old = client.find(Locator::Css("html")).await.expect("a page");
    client
        .find(target)
        .await
        .unwrap_or_else(|e| panic!("{target:?}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {target:?}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "the page did not move on after clicking {target:?}");
    }
}

/// Picks the option `value` of the select `css`.
pub async fn choose(client: &Client, css: &str, value: &str) {
    let select = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    select.select_by_value(value).await.unwrap_or_else(|e| panic!("{css} = {value}: {e}"));
}

/// Types `value` into the form field `css` in place of what it holds.
pub async fn fill(client: &Client, css: &str, value: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
    field.send_keys(value).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// The text of the element `css`, once it is there.
pub async fn text(client: &Client, css: &str) -> String {
    client
        .wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("the text of {css}: {e}"))
}

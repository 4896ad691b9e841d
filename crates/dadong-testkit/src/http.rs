//! An HTTP caller for tests that talk to the real server as a user: sign in through the API,
//! then call JSON routes, post forms and read pages with the session's cookie and token.

use crate::TestApp;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Client, Method};
use serde_json::{Value, json};

/// The password tests give the users they create.
pub const PASSWORD: &str = "correct horse battery";

/// A client that shows redirects instead of following them.
pub fn client() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A signed-in user: the session cookie and the token that state-changing requests carry.
pub struct Caller {
    pub cookie: String,
    pub csrf: String,
}

/// Signs `username` in with [`PASSWORD`] through `POST /api/v1/session`.
pub async fn sign_in(app: &TestApp, username: &str) -> Caller {
    sign_in_with(app, username, PASSWORD).await
}

/// Signs `username` in with `password` through `POST /api/v1/session`.
pub async fn sign_in_with(app: &TestApp, username: &str, password: &str) -> Caller {
    let r = client()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "sign in {username}");
    let cookie = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("dadong_session="))
        .unwrap();
    let body: Value = r.json().await.unwrap();
    Caller {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
    }
}

/// Calls a JSON route; the answer's status and body (as a JSON string when it is not JSON).
pub async fn call(app: &TestApp, who: &Caller, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = client()
        .request(method, app.url(path))
        .header(COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Posts a page's form as a browser does, with the session's form token; the answer's
/// status and, for a redirect, where it leads, else the page.
pub async fn form(app: &TestApp, who: &Caller, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut body: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    body.push(("csrf_token".into(), who.csrf.clone()));
    let encoded = body
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = client()
        .post(app.url(path))
        .header(COOKIE, &who.cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(encoded)
        .send()
        .await
        .unwrap();
    let status = r.status();
    if status.is_redirection() {
        let location = r.headers().get(reqwest::header::LOCATION).map(|l| l.to_str().unwrap().to_string());
        return (status.as_u16(), location.unwrap_or_default());
    }
    (status.as_u16(), r.text().await.unwrap())
}

/// Reads a page as the signed-in user.
pub async fn page(app: &TestApp, who: &Caller, path: &str) -> (u16, String) {
    let r = client().get(app.url(path)).header(COOKIE, &who.cookie).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

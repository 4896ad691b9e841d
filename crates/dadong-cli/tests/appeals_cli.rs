//! `dadong escalate --now TIME` and the `appeals` part of `dadong report --format json`, run
//! as an operator runs them: the real binary against a fresh store on each backend, with the
//! store's own methods setting the scene and reading the outcome.

use dadong_appeals::{Category, Escalation, RoutingRule};
use dadong_store::appeals::{Duty, NewAppeal, TargetKind};
use dadong_store::{Actor, Store, User};
use dadong_testkit::{Backend, TestDb, on_both_backends, user};
use std::process::Stdio;
use tokio::process::Command;

on_both_backends!(
    escalate_now_moves_overdue_appeals_one_step_at_the_time_given_and_refuses_a_bad_time,
    the_report_json_carries_the_appeals_of_its_period,
);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn dadong(db: &TestDb, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dadong"));
    for var in ["DADONG_DATA", "DADONG_DATABASE_URL", "DADONG_PII_KEY", "DADONG_PASSWORD"] {
        cmd.env_remove(var);
    }
    cmd.env("DADONG_LOG", "warn").arg("--data").arg(&db.config.data_dir);
    if let Some(url) = db.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.args(args).stdin(Stdio::null()).output().await.expect("run dadong");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const COMPANY: &str = "91350100M000100Y43";

async fn scene(backend: Backend, test: &str) -> Option<(TestDb, Store, User, i64)> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    let op = Actor::Cli("test".into());
    store.create_department(&op, "hr", "人社局", "Human resources").await.unwrap();
    store.set_routing_rule(&op, &RoutingRule::new(Category::Labour, "hr")).await.unwrap();
    let agent = store.create_user(&op, user("agent", "agent", "enterprise").for_company(COMPANY)).await.unwrap();
    let leader = store.create_user(&op, user("leader", "leader", "leader")).await.unwrap();
    store.assign(&op, TargetKind::Enterprise, COMPANY, leader.id, Duty::Leader).await.unwrap();
    // Monday 2 March 2026, 10:00 in Shanghai: the reply is due by the end of Thursday.
    let raised_at: jiff::Timestamp = "2026-03-02T10:00:00+08:00".parse().unwrap();
    let new = NewAppeal {
        credit_code: COMPANY.into(),
        category: "labour".into(),
        title: "招工难".into(),
        body: String::new(),
        visit_id: None,
    };
    let id = store.raise_appeal(&op, &agent, &new, raised_at).await.unwrap().appeal.id;
    store.close().await;
    let store = db.open().await;
    Some((db, store, leader, id))
}

async fn escalate_now_moves_overdue_appeals_one_step_at_the_time_given_and_refuses_a_bad_time(backend: Backend) {
    let Some((db, store, leader, id)) = scene(backend, "cli escalate").await else {
        return;
    };
    let run = dadong(&db, &["escalate", "--now", "2026-03-05T20:00:00+08:00"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.starts_with("escalated 0 appeal(s) to their department head and 0"), "{}", run.stdout);
    let run = dadong(&db, &["escalate", "--now", "2026-03-06T09:00:00+08:00"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("escalated 1 appeal(s) to their department head and 0 to the responsible leader at 2026-03-06T09:00:00+08:00"),
        "{}",
        run.stdout
    );
    let now: jiff::Timestamp = "2026-03-06T09:00:00+08:00".parse().unwrap();
    let a = store.appeal(&leader, id, now).await.unwrap().unwrap().appeal;
    assert_eq!(a.escalation, Escalation::DepartmentHead);
    let run = dadong(&db, &["escalate", "--now", "2026-03-10T09:00:00+08:00"]).await;
    assert!(
        run.stdout.starts_with("escalated 0 appeal(s) to their department head and 1 to"),
        "{}",
        run.stdout
    );
    let a = store.appeal(&leader, id, now).await.unwrap().unwrap().appeal;
    assert_eq!(a.escalation, Escalation::Leader);
    let run = dadong(&db, &["escalate", "--now", "next tuesday"]).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("'next tuesday' is not an RFC 3339 time"), "{}", run.stderr);
    let run = dadong(&db, &["audit", "verify"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stdout);
}

async fn the_report_json_carries_the_appeals_of_its_period(backend: Backend) {
    let Some((db, _store, _leader, _id)) = scene(backend, "cli report appeals").await else {
        return;
    };
    let run = dadong(&db, &["report", "--through", "2026-03", "--format", "json"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let last = run.stdout.lines().last().expect("a line");
    let v: serde_json::Value = serde_json::from_str(last).expect("json");
    let a = &v["appeals"];
    assert_eq!(
        (a["raised"].as_i64(), a["resolved"].as_i64(), a["overdue"].as_i64()),
        (Some(1), Some(0), Some(1))
    );
    assert!(a["on_time_pct"].is_null(), "nothing resolved: no share");
    assert_eq!(a["by_category"][0]["key"], "labour");
    let run = dadong(&db, &["report", "--through", "2026-02", "--format", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["appeals"]["raised"].as_i64(), Some(0));
}

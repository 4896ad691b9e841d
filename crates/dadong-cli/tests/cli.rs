//! The `dadong` binary as an operator uses it: each test runs the real executable against a
//! fresh database of its own, on SQLite and on PostgreSQL, and checks what it prints, its exit
//! status and what it left in the store.

use dadong_domain::Role;
use dadong_testkit::{Backend, TestDb, on_both_backends};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// What one run of the binary printed and how it ended.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with everything the run printed unless it succeeded.
    fn expect_ok(self, what: &str) -> Run {
        assert!(
            self.success(),
            "`dadong {what}` failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the run failed, and returns it for checks of its message.
    fn expect_failure(self, what: &str) -> Run {
        assert!(
            !self.success(),
            "`dadong {what}` should have failed but succeeded\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The binary with the data folder (and database URL) of `db`, and none of the operator's
/// own settings leaking in from the environment.
fn dadong_cmd(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dadong"));
    for var in [
        "DADONG_DATA",
        "DADONG_DATABASE_URL",
        "DADONG_PII_KEY",
        "DADONG_PASSWORD",
        "DADONG_LISTEN",
        "DADONG_SECURE_COOKIES",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("DADONG_LOG", "warn");
    cmd.arg("--data").arg(&db.config.data_dir);
    if let Some(url) = db.database_url() {
        cmd.arg("--database-url").arg(url);
    }
    cmd.stdin(Stdio::null());
    cmd.kill_on_drop(true);
    cmd
}

async fn dadong(db: &TestDb, args: &[&str]) -> Run {
    let out = dadong_cmd(db).args(args).output().await.expect("run the dadong binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn fresh(backend: Backend, test: &str) -> Option<TestDb> {
    TestDb::new(backend, test).await
}

/// The demo logins as `dadong demo` prints them: (role, username, password).
fn printed_logins(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "a login line has role, username and password: {l:?}");
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// The line of `user list` that shows `username`.
fn list_line<'a>(listing: &'a str, username: &str) -> &'a str {
    listing
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(username))
        .unwrap_or_else(|| panic!("user list shows no {username}:\n{listing}"))
}

async fn migrate_prints_the_schema_version(backend: Backend) {
    let Some(db) = fresh(backend, "migrate_prints_the_schema_version").await else {
        return;
    };
    let run = dadong(&db, &["migrate"]).await.expect_ok("migrate");
    let expected = format!("schema at version {} on {}", dadong_store::migrate::latest_version(), backend.name());
    assert!(run.stdout.contains(&expected), "expected {expected:?} in:\n{}", run.stdout);
    // Running it again on a migrated store is harmless and says the same.
    let again = dadong(&db, &["migrate"]).await.expect_ok("migrate (again)");
    assert!(again.stdout.contains(&expected), "expected {expected:?} in:\n{}", again.stdout);
}

async fn demo_prints_its_users_with_passwords_and_a_second_demo_is_refused(backend: Backend) {
    let Some(db) = fresh(backend, "demo_prints_its_users_with_passwords_and_a_second_demo_is_refused").await else {
        return;
    };
    let run = dadong(&db, &["demo"]).await.expect_ok("demo");
    let logins = printed_logins(&run.stdout);
    let mut roles: Vec<&str> = logins.iter().map(|(r, _, _)| r.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    let mut all: Vec<&str> = Role::ALL.iter().map(|r| r.key()).collect();
    all.sort_unstable();
    assert_eq!(roles, all, "a user for every role:\n{}", run.stdout);
    let by_role_key = logins.iter().filter(|(r, u, _)| r == u).count();
    assert_eq!(by_role_key, 8, "one user per role named by the role's key:\n{}", run.stdout);

    let store = db.open().await;
    for (role, username, password) in &logins {
        // Besides one user per role, the service hall and four departments have a clerk each.
        assert!(
            role == username || (role == "clerk" && username.starts_with("clerk_")),
            "{username} is named by its role"
        );
        let user = store.authenticate(username, password).await.unwrap();
        assert_eq!(
            user.map(|u| u.role.key().to_string()).as_deref(),
            Some(role.as_str()),
            "{username} signs in with the printed password"
        );
    }

    // Besides the eight logins the demo has its own staff (leaders and cadres of the
    // enterprise service), whose passwords are never shown.
    let users = store.users().await.unwrap().len();
    let second = dadong(&db, &["demo"]).await.expect_failure("demo (second)");
    assert!(second.stderr.contains("already holds users"), "a clear refusal:\n{}", second.stderr);
    assert!(printed_logins(&second.stdout).is_empty(), "no passwords printed on refusal:\n{}", second.stdout);
    assert_eq!(store.users().await.unwrap().len(), users, "the second demo added nobody");
    store.close().await;
}

async fn user_add_with_or_without_a_password_creates_a_user_who_can_sign_in(backend: Backend) {
    let Some(db) = fresh(backend, "user_add_with_or_without_a_password_creates_a_user_who_can_sign_in").await else {
        return;
    };
    let given = "given-password-1";
    let run = dadong(&db, &["user", "add", "alice", "--name", "林晓雨", "--role", "citizen", "--password", given])
        .await
        .expect_ok("user add alice");
    assert!(run.stdout.contains("created user alice (citizen)"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(given) && !run.stdout.contains("shown once"),
        "a given password is not echoed:\n{}",
        run.stdout
    );

    let run = dadong(&db, &["user", "add", "bob", "--name", "王明远", "--role", "leader"])
        .await
        .expect_ok("user add bob");
    assert!(run.stdout.contains("created user bob (leader)"), "{}", run.stdout);
    let shown: Vec<&str> = run.stdout.lines().filter_map(|l| l.strip_prefix("password (shown once): ")).collect();
    assert_eq!(shown.len(), 1, "the generated password is printed exactly once:\n{}", run.stdout);
    let generated = shown[0].trim();
    assert!(generated.len() >= 8, "a generated password long enough to be accepted: {generated:?}");

    let store = db.open().await;
    assert!(
        store.authenticate("alice", given).await.unwrap().is_some(),
        "alice signs in with the given password"
    );
    assert!(
        store.authenticate("bob", generated).await.unwrap().is_some(),
        "bob signs in with the generated password"
    );
    assert!(store.authenticate("bob", given).await.unwrap().is_none(), "bob's password is not alice's");
    store.close().await;
}

async fn user_list_shows_the_user_with_the_phone_masked(backend: Backend) {
    let Some(db) = fresh(backend, "user_list_shows_the_user_with_the_phone_masked").await else {
        return;
    };
    dadong(
        &db,
        &[
            "user",
            "add",
            "carol",
            "--name",
            "孙丽华",
            "--role",
            "leader",
            "--phone",
            "13912345678",
            "--password",
            "carol-password",
        ],
    )
    .await
    .expect_ok("user add carol");
    let list = dadong(&db, &["user", "list"]).await.expect_ok("user list");
    let line = list_line(&list.stdout, "carol");
    assert!(line.contains("孙丽华") && line.contains("leader"), "name and role shown: {line:?}");
    assert!(line.contains("139****5678"), "phone shown masked: {line:?}");
    assert!(!list.stdout.contains("13912345678"), "the phone never appears in clear:\n{}", list.stdout);
}

async fn user_passwd_changes_the_password(backend: Backend) {
    let Some(db) = fresh(backend, "user_passwd_changes_the_password").await else {
        return;
    };
    dadong(
        &db,
        &["user", "add", "dave", "--name", "周文静", "--role", "analyst", "--password", "old-password-1"],
    )
    .await
    .expect_ok("user add dave");
    let run = dadong(&db, &["user", "passwd", "dave", "--password", "new-password-2"])
        .await
        .expect_ok("user passwd dave");
    assert!(run.stdout.contains("password of dave changed"), "{}", run.stdout);
    let store = db.open().await;
    assert!(store.authenticate("dave", "new-password-2").await.unwrap().is_some(), "the new password works");
    assert!(
        store.authenticate("dave", "old-password-1").await.unwrap().is_none(),
        "the old password no longer works"
    );
    store.close().await;

    let run = dadong(&db, &["user", "passwd", "nobody", "--password", "new-password-2"])
        .await
        .expect_failure("user passwd nobody");
    assert!(run.stderr.contains("nobody"), "the missing user is named:\n{}", run.stderr);
}

/// A valid credit code with its check character replaced by another, so only the check fails.
fn credit_code_with_a_wrong_check_character() -> String {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    let valid = dadong_demo::credit_code(&mut rand::thread_rng()).to_string();
    let (body, check) = valid.split_at(valid.len() - 1);
    let wrong = ALPHABET.chars().find(|c| c.to_string() != check).expect("another character");
    format!("{body}{wrong}")
}

async fn user_add_with_bad_input_exits_non_zero_naming_the_problem_and_adds_nothing(backend: Backend) {
    let Some(db) = fresh(backend, "user_add_with_bad_input_exits_non_zero_naming_the_problem_and_adds_nothing").await else {
        return;
    };
    let bad_code = credit_code_with_a_wrong_check_character();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["user", "add", "erin", "--name", "赵建国", "--role", "mayor", "--password", "long-enough-1"],
            vec!["role", "mayor"],
        ),
        (
            vec!["user", "add", "erin", "--name", "周文静", "--role", "clerk", "--password", "long-enough-1"],
            vec!["department"],
        ),
        (
            vec![
                "user",
                "add",
                "erin",
                "--name",
                "赵建国",
                "--role",
                "enterprise",
                "--company",
                &bad_code,
                "--password",
                "long-enough-1",
            ],
            vec!["company_code"],
        ),
    ];
    for (args, named) in &cases {
        let what = args.join(" ");
        let run = dadong(&db, args).await.expect_failure(&what);
        for word in named {
            assert!(run.stderr.contains(word), "`dadong {what}` names {word:?}:\n{}", run.stderr);
        }
        assert!(!run.stdout.contains("created user"), "`dadong {what}` created nobody:\n{}", run.stdout);
    }
    let list = dadong(&db, &["user", "list"]).await.expect_ok("user list");
    assert_eq!(list.stdout.lines().count(), 1, "only the header:\n{}", list.stdout);
    let store = db.open().await;
    assert!(store.users().await.unwrap().is_empty(), "no user stored");
    assert!(
        store.audit_records(10, None).await.unwrap().is_empty(),
        "nothing audited, since nothing changed"
    );
    store.close().await;
}

async fn audit_verify_holds_on_a_fresh_demo_store(backend: Backend) {
    let Some(db) = fresh(backend, "audit_verify_holds_on_a_fresh_demo_store").await else {
        return;
    };
    dadong(&db, &["demo"]).await.expect_ok("demo");
    let run = dadong(&db, &["audit", "verify"]).await.expect_ok("audit verify");
    assert!(run.stdout.contains("holds"), "{}", run.stdout);
}

/// Loads the demo, tampers with the audit log directly in the database with `sql`, and
/// returns what `dadong audit verify` then says.
async fn verify_after_tampering(db: &TestDb, sql: &[&str]) -> Run {
    dadong(db, &["demo"]).await.expect_ok("demo");
    let store = db.open().await;
    let mut tx = store.pool().begin().await.unwrap();
    for statement in sql {
        let done = sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut *tx).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{statement} changed one row");
    }
    tx.commit().await.unwrap();
    store.close().await;
    dadong(db, &["audit", "verify"]).await
}

async fn audit_verify_names_a_record_edited_in_the_database(backend: Backend) {
    let Some(db) = fresh(backend, "audit_verify_names_a_record_edited_in_the_database").await else {
        return;
    };
    let run = verify_after_tampering(&db, &["UPDATE audit_log SET action = 'x' WHERE seq = 3"]).await;
    assert_eq!(run.code, Some(1), "exit 1 on a broken chain:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("record 3"), "{}", run.stdout);
}

async fn audit_verify_names_a_record_deleted_from_the_database(backend: Backend) {
    let Some(db) = fresh(backend, "audit_verify_names_a_record_deleted_from_the_database").await else {
        return;
    };
    let run = verify_after_tampering(&db, &["DELETE FROM audit_log WHERE seq = 2"]).await;
    assert_eq!(run.code, Some(1), "exit 1 on a broken chain:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("record 2"), "{}", run.stdout);
}

async fn audit_verify_finds_two_records_swapped_in_the_database(backend: Backend) {
    let Some(db) = fresh(backend, "audit_verify_finds_two_records_swapped_in_the_database").await else {
        return;
    };
    // Records 4 and 5 trade places: each keeps its content and takes the other's number.
    let run = verify_after_tampering(
        &db,
        &[
            "UPDATE audit_log SET seq = -4 WHERE seq = 4",
            "UPDATE audit_log SET seq = 4 WHERE seq = 5",
            "UPDATE audit_log SET seq = 5 WHERE seq = -4",
        ],
    )
    .await;
    assert_eq!(run.code, Some(1), "exit 1 on a broken chain:\n{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("record 4"), "the first out-of-place record is named:\n{}", run.stdout);
}

async fn backup_then_restore_into_a_fresh_store_round_trips(backend: Backend) {
    let test = "backup_then_restore_into_a_fresh_store_round_trips";
    let Some(source) = fresh(backend, test).await else {
        return;
    };
    let Some(target) = fresh(backend, test).await else {
        return;
    };
    dadong(&source, &["demo"]).await.expect_ok("demo");
    dadong(
        &source,
        &[
            "user",
            "add",
            "frank",
            "--name",
            "吴志刚",
            "--role",
            "cadre",
            "--phone",
            "13800001111",
            "--password",
            "frank-password",
        ],
    )
    .await
    .expect_ok("user add frank");
    let file = source.dir.path().join("dadong.backup");
    let file = file.to_str().expect("UTF-8 temp path");
    let run = dadong(&source, &["backup", file]).await.expect_ok("backup");
    assert!(run.stdout.contains("backed up"), "{}", run.stdout);

    // The personal-data key travels beside the backup, not inside it.
    std::fs::create_dir_all(&target.config.data_dir).unwrap();
    std::fs::copy(source.config.data_dir.join("pii.key"), target.config.data_dir.join("pii.key")).unwrap();
    let run = dadong(&target, &["restore", file]).await.expect_ok("restore");
    assert!(run.stdout.contains("restored"), "{}", run.stdout);

    let before = dadong(&source, &["user", "list"]).await.expect_ok("user list (source)");
    let after = dadong(&target, &["user", "list"]).await.expect_ok("user list (target)");
    assert_eq!(before.stdout, after.stdout, "the restored store lists the same users");
    assert!(after.stdout.contains("138****1111"), "personal data stays readable:\n{}", after.stdout);
    let verified_source = dadong(&source, &["audit", "verify"]).await.expect_ok("audit verify (source)");
    let verified_target = dadong(&target, &["audit", "verify"]).await.expect_ok("audit verify (target)");
    assert!(verified_target.stdout.contains("holds"), "{}", verified_target.stdout);
    // The same chain, record for record, continued by one record of the restore itself.
    let records = |out: &str| -> u64 { out.split_whitespace().find_map(|w| w.parse().ok()).expect("a record count") };
    assert_eq!(
        records(&verified_target.stdout),
        records(&verified_source.stdout) + 1,
        "{}",
        verified_target.stdout
    );

    let store = target.open().await;
    assert_eq!(store.audit_records(1, None).await.unwrap()[0].action, "store.restore");
    assert!(
        store.authenticate("frank", "frank-password").await.unwrap().is_some(),
        "passwords survive the round trip"
    );
    store.close().await;
}

async fn restore_into_a_store_that_holds_data_fails_without_replace(backend: Backend) {
    let test = "restore_into_a_store_that_holds_data_fails_without_replace";
    let Some(source) = fresh(backend, test).await else {
        return;
    };
    let Some(target) = fresh(backend, test).await else {
        return;
    };
    dadong(&source, &["demo"]).await.expect_ok("demo (source)");
    let file = source.dir.path().join("dadong.backup");
    let file = file.to_str().expect("UTF-8 temp path");
    dadong(&source, &["backup", file]).await.expect_ok("backup");

    dadong(
        &target,
        &["user", "add", "grace", "--name", "郑雅琪", "--role", "leader", "--password", "grace-password"],
    )
    .await
    .expect_ok("user add grace");
    let before = dadong(&target, &["user", "list"]).await.expect_ok("user list (before)");
    let run = dadong(&target, &["restore", file]).await.expect_failure("restore into a store with data");
    assert!(
        run.stderr.contains("not empty") && run.stderr.contains("--replace"),
        "a clear refusal:\n{}",
        run.stderr
    );
    let after = dadong(&target, &["user", "list"]).await.expect_ok("user list (after)");
    assert_eq!(before.stdout, after.stdout, "the refused restore changed nothing");

    let run = dadong(&target, &["restore", "--replace", file]).await.expect_ok("restore --replace");
    assert!(run.stdout.contains("restored"), "{}", run.stdout);
    let users = dadong(&target, &["user", "list"]).await.expect_ok("user list (replaced)");
    assert!(
        users.stdout.lines().all(|l| l.split_whitespace().nth(1) != Some("grace")),
        "--replace replaced the content:\n{}",
        users.stdout
    );
    dadong(&target, &["audit", "verify"]).await.expect_ok("audit verify (replaced)");
}

async fn serve_with_the_demo_starts_and_answers_healthz(backend: Backend) {
    let Some(db) = fresh(backend, "serve_with_the_demo_starts_and_answers_healthz").await else {
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = dadong_cmd(&db)
        .args(["serve", "--demo", "--listen", &listen])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dadong serve");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();

    // Ready when it says so; bounded, so a server that never comes up fails the test. The bound
    // is for liveness only (the suite runs many servers at once on two cores); the start-up
    // time itself is a figure measured on a quiet machine, not asserted here.
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            if let Some(rest) = line.strip_prefix("dadong serving http://") {
                return Some(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
            seen.push(line);
        }
        None
    })
    .await;
    let addr = match ready {
        Ok(Some(addr)) => addr,
        Ok(None) => panic!("dadong serve exited before it was ready:\n{}", seen.join("\n")),
        Err(_) => panic!("dadong serve was not ready within 180 s:\n{}", seen.join("\n")),
    };
    assert_eq!(addr, listen, "it listens where it was told");
    // Keep draining its log so that a full pipe can never stall the server.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let response = reqwest::get(format!("http://{addr}/healthz")).await.expect("GET /healthz");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["database"], backend.name(), "{body}");

    child.kill().await.expect("kill dadong serve");
    drain.abort();
}

on_both_backends!(
    migrate_prints_the_schema_version,
    demo_prints_its_users_with_passwords_and_a_second_demo_is_refused,
    user_add_with_or_without_a_password_creates_a_user_who_can_sign_in,
    user_list_shows_the_user_with_the_phone_masked,
    user_passwd_changes_the_password,
    user_add_with_bad_input_exits_non_zero_naming_the_problem_and_adds_nothing,
    audit_verify_holds_on_a_fresh_demo_store,
    audit_verify_names_a_record_edited_in_the_database,
    audit_verify_names_a_record_deleted_from_the_database,
    audit_verify_finds_two_records_swapped_in_the_database,
    backup_then_restore_into_a_fresh_store_round_trips,
    restore_into_a_store_that_holds_data_fails_without_replace,
    serve_with_the_demo_starts_and_answers_healthz,
);

#[test]
fn an_unknown_database_url_scheme_is_refused_naming_the_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dadong"))
        .env_remove("DADONG_DATABASE_URL")
        .env("DADONG_LOG", "warn")
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--database-url", "mysql://x", "migrate"])
        .output()
        .expect("run the dadong binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a mysql:// URL is refused");
    assert!(stderr.contains("mysql"), "the message names the scheme:\n{stderr}");
}

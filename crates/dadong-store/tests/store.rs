//! The storage crate's integration tests: migrations, accounts, sessions, login throttling,
//! the audit chain and backup, each scenario run on embedded SQLite and on PostgreSQL.
//!
//! Tampering is done the way an intruder with database access would do it, with plain SQL
//! against the tables, so that the checks are tested against what they are meant to catch.

use dadong_domain::crypto::sha256_hex;
use dadong_domain::{CreditCode, ResidentId};
use dadong_store::backup::{NOT_BACKED_UP, TABLES};
use dadong_store::sessions::{FAILURES_PER_ACCOUNT_MAX, FAILURES_PER_ADDRESS_MAX, THROTTLE_WINDOW_MS};
use dadong_store::{Actor, AuditBreak, AuditRecord, Department, NewUser, Store, StoreError, User, migrate};
use dadong_testkit::{Backend, PASSWORD, TestDb};
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeSet;

dadong_testkit::on_both_backends!(
    migrations_are_idempotent_and_an_edited_migration_is_refused,
    departments_and_users_are_stored_with_personal_data_encrypted,
    invalid_departments_and_users_are_refused_naming_the_field_and_nothing_is_written,
    authentication_accepts_only_the_right_password_of_an_active_user,
    setting_a_password_replaces_the_old_one_and_ends_the_users_sessions,
    sessions_are_found_by_their_token_until_expired_or_deleted_and_only_the_hash_is_stored,
    a_session_ended_or_a_user_changed_by_one_process_is_seen_at_once_by_another,
    login_is_throttled_per_account_and_per_address_until_a_success,
    every_change_appends_one_audit_record_without_personal_data_and_the_chain_holds,
    audit_verify_finds_a_record_edited_in_the_database,
    audit_verify_finds_an_edited_record_whose_hash_was_recomputed,
    audit_verify_finds_a_record_deleted_from_the_middle,
    audit_verify_finds_a_record_deleted_from_the_end,
    audit_verify_finds_two_records_swapped_with_their_hashes,
    audit_verify_finds_two_records_whose_content_was_swapped_under_their_hashes,
    concurrent_changes_append_one_contiguous_valid_chain,
    backup_and_restore_round_trip_a_live_store,
    a_restore_is_refused_whole_for_a_non_empty_target_a_cut_backup_or_garbage,
    a_backup_restores_into_the_other_backend,
    the_backup_covers_every_table_but_the_bookkeeping,
    the_same_name_created_at_once_is_stored_once_and_the_other_is_told_it_is_taken,
    servers_starting_at_once_on_a_new_database_migrate_it_once,
    the_write_ahead_log_is_checkpointed_beside_the_commits,
    every_sqlite_connection_logs_ahead_syncs_fully_and_keeps_temporary_pages_in_memory,
);

// ---------------------------------------------------------------------------------------
// Fixtures

const PHONE: &str = "13812345678";
const PHONE_2: &str = "15900001111";
/// Credit codes published on public business licences (their check characters are right).
const COMPANY: &str = "91350100M000100Y43";
const COMPANY_2: &str = "91110000600037341L";
const COMPANY_3: &str = "9144030071526726XG";

/// A resident ID with the right check digit for its first 17 digits.
fn resident_id(first17: &str) -> String {
    format!("{first17}{}", ResidentId::check_char(first17).expect("17 digits"))
}

/// The same number with a wrong check digit.
fn with_wrong_check_digit(id: &str) -> String {
    let (body, check) = id.split_at(17);
    let wrong = if check == "0" { '1' } else { '0' };
    format!("{body}{wrong}")
}

fn operator() -> Actor {
    Actor::Cli("store-test".to_string())
}

fn new_user(username: &str, role: &str) -> NewUser {
    dadong_testkit::user(username, &format!("测试用户 {username}"), role)
}

async fn fresh(backend: Backend, test: &str) -> Option<(TestDb, Store)> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    Some((db, store))
}

async fn count(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"))
}

/// Runs a tampering statement directly against the database.
async fn tamper(store: &Store, sql: &'static str) -> u64 {
    sqlx::query(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .rows_affected()
}

async fn newest_record(store: &Store) -> AuditRecord {
    store.audit_records(1, None).await.expect("audit records").remove(0)
}

/// Asserts that an error refuses the input and names `field`.
fn assert_refused(err: &StoreError, field: &str, case: &str) {
    match err {
        StoreError::Invalid { field: f, .. } => assert_eq!(f, field, "{case}: wrong field in {err}"),
        StoreError::Conflict(message) => assert!(message.contains(field), "{case}: conflict does not name {field}: {message}"),
        other => panic!("{case}: expected Invalid or Conflict naming {field}, got {other:?}"),
    }
}

/// Creates `count` departments named after `prefix`, one change (and audit record) each.
async fn departments(store: &Store, prefix: &str, count: usize) -> Vec<Department> {
    let mut out = Vec::new();
    for i in 1..=count {
        let d = store
            .create_department(&operator(), &format!("{prefix}_{i}"), &format!("部门{i}"), &format!("Department {i}"))
            .await
            .expect("create department");
        out.push(d);
    }
    out
}

/// One audit record's stored columns, read as they are in the database.
#[derive(Debug, Clone)]
struct RawRecord {
    at: i64,
    actor: String,
    action: String,
    object: String,
    before_json: Option<String>,
    after_json: Option<String>,
    prev_hash: String,
    hash: String,
}

async fn raw_record(conn: &mut sqlx::AnyConnection, seq: i64) -> RawRecord {
    let row = sqlx::query("SELECT at, actor, action, object, before_json, after_json, prev_hash, hash FROM audit_log WHERE seq = $1")
        .bind(seq)
        .fetch_one(&mut *conn)
        .await
        .expect("audit row");
    RawRecord {
        at: row.get(0),
        actor: row.get(1),
        action: row.get(2),
        object: row.get(3),
        before_json: row.get(4),
        after_json: row.get(5),
        prev_hash: row.get(6),
        hash: row.get(7),
    }
}

async fn overwrite_record(conn: &mut sqlx::AnyConnection, seq: i64, r: &RawRecord) {
    sqlx::query(
        "UPDATE audit_log SET at = $1, actor = $2, action = $3, object = $4, before_json = $5, after_json = $6, prev_hash = $7, hash = $8 WHERE seq = $9",
    )
    .bind(r.at)
    .bind(&r.actor)
    .bind(&r.action)
    .bind(&r.object)
    .bind(&r.before_json)
    .bind(&r.after_json)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .bind(seq)
    .execute(&mut *conn)
    .await
    .expect("overwrite audit row");
}

/// The chain's hash of a record, computed independently of the store, the way anyone who
/// reads the code (or the database) can compute it.
fn chain_hash(seq: i64, r: &RawRecord) -> String {
    let body = serde_json::to_string(&(seq, r.at, &r.actor, &r.action, &r.object, &r.before_json, &r.after_json)).expect("json");
    sha256_hex(format!("{}\n{body}", r.prev_hash).as_bytes())
}

async fn assert_chain_holds(store: &Store, context: &str) {
    let report = store.verify_audit().await.expect("verify audit");
    assert_eq!(report.first_break, None, "{context}: the chain breaks");
    assert_eq!(report.records, count(store, "audit_log").await, "{context}: records counted");
}

/// A store with some of everything in it: departments, users of several roles with personal
/// data, an assignment, a changed password, a session, login attempts, a setting and
/// audit records of every kind.
struct Sample {
    session_token: String,
    cadre: User,
}

async fn build_sample(store: &Store) -> Sample {
    let actor = operator();
    store
        .create_department(&actor, "window", "政务服务中心", "Government Service Centre")
        .await
        .expect("department");
    store
        .create_department(&actor, "devreform", "发展和改革局", "Development and Reform Bureau")
        .await
        .expect("department");
    store.create_user(&actor, new_user("admin", "admin")).await.expect("admin");
    store
        .create_user(
            &actor,
            NewUser {
                department_code: Some("window".into()),
                phone: Some(PHONE_2.into()),
                ..new_user("clerk.li", "clerk")
            },
        )
        .await
        .expect("clerk");
    let cadre = store
        .create_user(
            &actor,
            NewUser {
                phone: Some(PHONE.into()),
                id_number: Some(resident_id("21010419850312123")),
                ..new_user("cadre_wang", "cadre")
            },
        )
        .await
        .expect("cadre");
    store
        .create_user(
            &actor,
            NewUser {
                company_code: Some(COMPANY.into()),
                id_number: Some(resident_id("11010519491231002")),
                ..new_user("agent-zhao", "enterprise")
            },
        )
        .await
        .expect("enterprise agent");
    store.assign_company(&actor, cadre.id, COMPANY_2).await.expect("assign");
    store.assign_company(&actor, cadre.id, COMPANY_3).await.expect("assign");
    store.set_password(&actor, "clerk.li", "a new password 2").await.expect("set password");
    store
        .audit_event(&actor, "system.note", "system", Some(&serde_json::json!({"note": "backup test"})))
        .await
        .expect("event");
    store
        .record_login_attempt(&["account:cadre_wang", "address:10.0.0.1"], false)
        .await
        .expect("attempt");
    store
        .record_login_attempt(&["account:cadre_wang", "address:10.0.0.1"], true)
        .await
        .expect("attempt");
    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2)")
        .bind("district.name")
        .bind("大东区")
        .execute(store.pool())
        .await
        .expect("setting");
    let (session_token, _csrf) = store.create_session(cadre.id).await.expect("session");
    Sample { session_token, cadre }
}

/// The tables [`build_sample`] puts rows in: every table of the foundation migration.
const FOUNDATION_TABLES: &[&str] = &[
    "settings",
    "departments",
    "users",
    "user_assignments",
    "sessions",
    "login_attempts",
    "audit_log",
    "audit_head",
];

/// Everything a restore must bring back, read through the store's own API where it has one.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    departments: Vec<Department>,
    users: Vec<User>,
    audit: Vec<AuditRecord>,
    assignments: Vec<(i64, Vec<String>)>,
    settings: Vec<(String, String)>,
    rows: Vec<(String, i64)>,
}

async fn snapshot(store: &Store) -> Snapshot {
    let users = store.users().await.expect("users");
    let mut assignments = Vec::new();
    for u in &users {
        assignments.push((u.id, store.assigned_companies(u.id).await.expect("assignments")));
    }
    let settings = sqlx::query("SELECT key, value FROM settings ORDER BY key")
        .fetch_all(store.pool())
        .await
        .expect("settings")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut rows = Vec::new();
    for (table, _) in TABLES {
        rows.push((table.to_string(), count(store, table).await));
    }
    Snapshot {
        departments: store.departments().await.expect("departments"),
        users,
        audit: store.audit_records(1000, None).await.expect("audit"),
        assignments,
        settings,
        rows,
    }
}

async fn backup_bytes(store: &Store) -> (Vec<u8>, u64) {
    let mut buf = Vec::new();
    let rows = store.backup(&mut buf).await.expect("backup");
    (buf, rows)
}

/// A second fresh store on `backend` that shares `source`'s personal-data key, as an
/// operator restoring a backup must arrange.
async fn fresh_with_key_of(source: &TestDb, backend: Backend, test: &str) -> Option<(TestDb, Store)> {
    let key = std::fs::read_to_string(source.config.data_dir.join("pii.key")).expect("read the source's pii.key");
    let mut db = TestDb::new(backend, &format!("{test} (target on {})", backend.name())).await?;
    db.config.pii_key = Some(key.trim().to_string());
    let store = db.open().await;
    Some((db, store))
}

/// Checks that `restored` holds what `source` held when it was backed up, followed in the
/// audit chain by exactly one record of the restore itself, which continues the chain.
fn assert_same_plus_restore_record(restored: &Snapshot, source: &Snapshot, from: Backend, rows: u64, replace: bool, context: &str) {
    let (record, rest) = restored.audit.split_first().expect("the restored store has audit records");
    assert_eq!(rest, &source.audit[..], "{context}: the restored chain differs");
    assert_eq!(
        (record.action.as_str(), record.object.as_str()),
        ("store.restore", "store"),
        "{context}: the restore is recorded"
    );
    assert_eq!(record.seq, source.audit.len() as i64 + 1, "{context}: the restore record's number");
    assert_eq!(
        Some(&record.prev_hash),
        source.audit.first().map(|r| &r.hash),
        "{context}: the restore record continues the chain"
    );
    let after = record.after.as_ref().expect("the restore record says what was restored");
    assert_eq!(after["rows"].as_u64(), Some(rows), "{context}: rows restored");
    assert_eq!(after["from_backend"].as_str(), Some(from.name()), "{context}: the backup's backend");
    assert_eq!(after["replace"].as_bool(), Some(replace), "{context}: replace");
    let without_record = Snapshot {
        audit: rest.to_vec(),
        rows: restored
            .rows
            .iter()
            .map(|(t, n)| (t.clone(), if t == "audit_log" { n - 1 } else { *n }))
            .collect(),
        ..restored.clone()
    };
    assert_eq!(&without_record, source, "{context}: restored content differs");
}

/// Checks that `target` holds what `source` held when it was backed up (and the restore's
/// own audit record), and works.
async fn assert_restored(source_snapshot: &Snapshot, from: Backend, rows: u64, target: &Store, sample: &Sample, context: &str) {
    let restored = snapshot(target).await;
    assert_same_plus_restore_record(&restored, source_snapshot, from, rows, false, context);
    assert!(
        restored.users.iter().any(|u| u.phone_masked.as_deref() == Some("138****5678")),
        "{context}: phone readable"
    );
    assert_chain_holds(target, context).await;

    let cadre = target.authenticate("cadre_wang", PASSWORD).await.expect("authenticate");
    assert_eq!(cadre.as_ref().map(|u| u.id), Some(sample.cadre.id), "{context}: old password signs in");
    assert!(
        target.authenticate("clerk.li", "a new password 2").await.expect("authenticate").is_some(),
        "{context}: changed password"
    );
    assert!(
        target.authenticate("clerk.li", PASSWORD).await.expect("authenticate").is_none(),
        "{context}: replaced password"
    );
    let session = target.session(&sample.session_token).await.expect("session");
    assert_eq!(session.map(|s| s.user.id), Some(sample.cadre.id), "{context}: a live session survives");

    // New rows get fresh ids after the restored ones: the id sequences were moved on.
    let max_dept = source_snapshot.departments.iter().map(|d| d.id).max().unwrap_or(0);
    let dept = target
        .create_department(&operator(), "after_restore", "新部门", "New department")
        .await
        .expect("department after restore");
    assert!(dept.id > max_dept, "{context}: new department id {} after {max_dept}", dept.id);
    let max_user = source_snapshot.users.iter().map(|u| u.id).max().unwrap_or(0);
    let user = target
        .create_user(&operator(), new_user("after_restore", "analyst"))
        .await
        .expect("user after restore");
    assert!(user.id > max_user, "{context}: new user id {} after {max_user}", user.id);
    target
        .record_login_attempt(&["account:after"], false)
        .await
        .expect("login attempt after restore");
    assert_chain_holds(target, &format!("{context}, after new changes")).await;
}

// ---------------------------------------------------------------------------------------
// Migrations

async fn migrations_are_idempotent_and_an_edited_migration_is_refused(backend: Backend) {
    let Some((db, store)) = fresh(backend, "migrations are idempotent").await else {
        return;
    };
    assert_eq!(migrate::current_version(&store).await.expect("version"), migrate::latest_version());
    assert!(migrate::latest_version() >= 1);
    let dept = store.create_department(&operator(), "kept", "保留", "Kept").await.expect("department");

    // Opening the same store again migrates nothing and loses nothing.
    let again = db.open().await;
    assert_eq!(migrate::current_version(&again).await.expect("version"), migrate::latest_version());
    assert_eq!(count(&again, "schema_migrations").await, migrate::migration_count());
    assert_eq!(again.departments().await.expect("departments"), vec![dept]);
    again.close().await;
    let third = db.open().await;
    assert_eq!(migrate::current_version(&third).await.expect("version"), migrate::latest_version());
    third.close().await;

    // An applied migration whose checksum no longer matches is refused, by name.
    tamper(&store, "UPDATE schema_migrations SET checksum = 'x'").await;
    store.close().await;
    let err = dadong_store::Store::open(&db.config).await.expect_err("an edited migration must be refused");
    match &err {
        StoreError::Config(message) => {
            assert!(message.contains("migration 1 (foundation)"), "message names the migration: {message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Departments and users

async fn departments_and_users_are_stored_with_personal_data_encrypted(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "departments and users are stored").await else {
        return;
    };
    let actor = operator();
    let window = store
        .create_department(&actor, " Window ", " 政务服务中心 ", "Government Service Centre")
        .await
        .expect("department");
    assert_eq!(window.code, "window", "codes are trimmed and lower-cased");
    assert_eq!(window.name_zh, "政务服务中心");
    let dev = store
        .create_department(&actor, "devreform", "发展和改革局", "Development and Reform Bureau")
        .await
        .expect("department");
    assert_eq!(store.departments().await.expect("departments"), vec![window.clone(), dev.clone()]);
    assert_eq!(store.department(dev.id).await.expect("department"), Some(dev.clone()));

    let id_number = resident_id("21010419850312123");
    let admin = store.create_user(&actor, new_user("admin", "admin")).await.expect("admin");
    let clerk = store
        .create_user(
            &actor,
            NewUser {
                department_code: Some("WINDOW".into()),
                ..new_user("Clerk.Li", "clerk")
            },
        )
        .await
        .expect("clerk");
    let agent = store
        .create_user(
            &actor,
            NewUser {
                company_code: Some(COMPANY.to_ascii_lowercase()),
                ..new_user("agent", "enterprise")
            },
        )
        .await
        .expect("enterprise agent");
    let citizen = store
        .create_user(
            &actor,
            NewUser {
                phone: Some("138 1234 5678".into()),
                id_number: Some(id_number.clone()),
                ..new_user("citizen_wu", "citizen")
            },
        )
        .await
        .expect("citizen");

    assert_eq!(clerk.username, "clerk.li", "usernames are lower-cased");
    assert_eq!(clerk.department_id, Some(window.id));
    assert_eq!(agent.company_code.as_deref(), Some(COMPANY), "credit codes are upper-cased");
    assert_eq!(citizen.phone_masked.as_deref(), Some("138****5678"));
    let id_masked = format!("{}********{}", &id_number[..6], &id_number[14..]);
    assert_eq!(citizen.id_number_masked.as_deref(), Some(id_masked.as_str()));
    assert!(admin.active && admin.phone_masked.is_none() && admin.id_number_masked.is_none());

    // Listed as created, and read back (decrypting and masking) the same as returned.
    let listed = store.users().await.expect("users");
    assert_eq!(listed, vec![admin.clone(), clerk.clone(), agent.clone(), citizen.clone()]);
    assert_eq!(store.user(citizen.id).await.expect("user"), Some(citizen.clone()));
    assert_eq!(store.user_by_name(" CITIZEN_WU ").await.expect("user"), Some(citizen.clone()));
    assert_eq!(store.user(999_999).await.expect("user"), None);

    // In the database the personal data is ciphertext that only the store's key opens.
    let row = sqlx::query("SELECT phone_enc, id_number_enc, phone_fp, id_number_fp, password_hash FROM users WHERE id = $1")
        .bind(citizen.id)
        .fetch_one(store.pool())
        .await
        .expect("raw user row");
    let phone_enc: Option<String> = row.get(0);
    let id_enc: Option<String> = row.get(1);
    let (phone_enc, id_enc) = (phone_enc.expect("phone stored"), id_enc.expect("ID stored"));
    for (column, stored) in [("phone_enc", &phone_enc), ("id_number_enc", &id_enc)] {
        assert!(!stored.contains(PHONE), "{column} holds the phone in clear");
        assert!(!stored.contains(&id_number), "{column} holds the resident ID in clear");
        assert!(!stored.contains(&id_number[6..14]), "{column} holds the birth date in clear");
    }
    for i in 2..=3 {
        let fp: Option<String> = row.get(i);
        let fp = fp.expect("fingerprint");
        assert!(!fp.contains(PHONE) && !fp.contains(&id_number), "fingerprints are not the values");
    }
    let hash: String = row.get(4);
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD), "passwords are Argon2id hashes");
    assert_eq!(store.pii().decrypt(&phone_enc).expect("decrypt"), PHONE);
    assert_eq!(store.pii().decrypt(&id_enc).expect("decrypt"), id_number);
}

async fn invalid_departments_and_users_are_refused_naming_the_field_and_nothing_is_written(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "invalid input is refused").await else {
        return;
    };
    let actor = operator();
    store
        .create_department(&actor, "window", "政务服务中心", "Government Service Centre")
        .await
        .expect("department");
    store.create_user(&actor, new_user("taken", "citizen")).await.expect("user");
    let good_id = resident_id("21010419850312123");
    let bad_id = with_wrong_check_digit(&good_id);
    let bad_company = "91350100M000100Y42";
    assert!(
        CreditCode::parse(bad_company).is_err() && ResidentId::parse(&bad_id).is_err(),
        "fixtures are really invalid"
    );

    let cases: Vec<(&str, NewUser, &str)> = vec![
        ("bad username", new_user("No Spaces!", "citizen"), "username"),
        ("too short a username", new_user("ab", "citizen"), "username"),
        (
            "short password",
            NewUser {
                password: "short".into(),
                ..new_user("shorty", "citizen")
            },
            "password",
        ),
        ("unknown role", new_user("boss", "superuser"), "role"),
        ("clerk without department", new_user("clerk_x", "clerk"), "department"),
        ("enterprise without company code", new_user("agent_x", "enterprise"), "company_code"),
        ("merchant without company code", new_user("shop_x", "merchant"), "company_code"),
        (
            "bad credit code check digit",
            NewUser {
                company_code: Some(bad_company.into()),
                ..new_user("agent_y", "enterprise")
            },
            "company_code",
        ),
        (
            "bad resident ID check digit",
            NewUser {
                id_number: Some(bad_id.clone()),
                ..new_user("citizen_x", "citizen")
            },
            "id_number",
        ),
        (
            "bad phone",
            NewUser {
                phone: Some("1381234567".into()),
                ..new_user("citizen_y", "citizen")
            },
            "phone",
        ),
        (
            "unknown department",
            NewUser {
                department_code: Some("nowhere".into()),
                ..new_user("clerk_y", "clerk")
            },
            "department",
        ),
        (
            "duplicate username",
            NewUser {
                phone: Some(PHONE.into()),
                ..new_user("Taken", "citizen")
            },
            "username",
        ),
    ];
    for (case, user, field) in cases {
        let before = (
            count(&store, "users").await,
            count(&store, "audit_log").await,
            count(&store, "departments").await,
        );
        let err = store.create_user(&actor, user).await.expect_err(case);
        assert_refused(&err, field, case);
        let message = err.to_string();
        assert!(
            !message.contains(&bad_id) && !message.contains("1381234567"),
            "{case}: the error repeats personal data: {message}"
        );
        let after = (
            count(&store, "users").await,
            count(&store, "audit_log").await,
            count(&store, "departments").await,
        );
        assert_eq!(before, after, "{case}: something was written");
    }

    let department_cases = [
        ("duplicate department code", " WINDOW ", "窗口", "Window", "code"),
        ("bad department code", "Bad Code!", "窗口", "Window", "code"),
        ("empty Chinese name", "empty_zh", " ", "Window", "name_zh"),
        ("empty English name", "empty_en", "窗口", "", "name_en"),
    ];
    for (case, code, zh, en, field) in department_cases {
        let before = (count(&store, "departments").await, count(&store, "audit_log").await);
        let err = store.create_department(&actor, code, zh, en).await.expect_err(case);
        assert_refused(&err, field, case);
        let after = (count(&store, "departments").await, count(&store, "audit_log").await);
        assert_eq!(before, after, "{case}: something was written");
    }
    assert!(matches!(
        store.create_department(&actor, "window", "窗口", "Window").await,
        Err(StoreError::Conflict(_))
    ));
    assert_chain_holds(&store, "after refusals").await;
}

// ---------------------------------------------------------------------------------------
// Authentication, sessions and throttling

async fn authentication_accepts_only_the_right_password_of_an_active_user(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "authentication").await else { return };
    let user = store.create_user(&operator(), new_user("alice", "analyst")).await.expect("user");
    store.create_user(&operator(), new_user("bob", "analyst")).await.expect("user");

    assert_eq!(store.authenticate("alice", PASSWORD).await.expect("authenticate"), Some(user.clone()));
    assert_eq!(
        store.authenticate(" ALICE ", PASSWORD).await.expect("authenticate"),
        Some(user.clone()),
        "names ignore case"
    );
    assert_eq!(store.authenticate("alice", "correct horse batteryX").await.expect("authenticate"), None);
    assert_eq!(store.authenticate("alice", "").await.expect("authenticate"), None);
    assert_eq!(store.authenticate("alice", &"x".repeat(10_000)).await.expect("authenticate"), None);
    assert_eq!(store.authenticate("nobody", PASSWORD).await.expect("authenticate"), None);
    assert_eq!(store.authenticate("bob", "wrong password").await.expect("authenticate"), None);

    let changed = sqlx::query("UPDATE users SET active = 0 WHERE username = $1")
        .bind("alice")
        .execute(store.pool())
        .await
        .expect("deactivate");
    assert_eq!(changed.rows_affected(), 1);
    assert_eq!(
        store.authenticate("alice", PASSWORD).await.expect("authenticate"),
        None,
        "a deactivated user cannot sign in"
    );
    assert!(store.authenticate("bob", PASSWORD).await.expect("authenticate").is_some(), "others still can");
}

async fn setting_a_password_replaces_the_old_one_and_ends_the_users_sessions(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "set password").await else { return };
    let alice = store.create_user(&operator(), new_user("alice", "analyst")).await.expect("user");
    let bob = store.create_user(&operator(), new_user("bob", "analyst")).await.expect("user");
    let (alice_1, _) = store.create_session(alice.id).await.expect("session");
    let (alice_2, _) = store.create_session(alice.id).await.expect("session");
    let (bob_token, _) = store.create_session(bob.id).await.expect("session");

    store.set_password(&operator(), "alice", "a brand new secret").await.expect("set password");
    assert_eq!(
        store.authenticate("alice", PASSWORD).await.expect("authenticate"),
        None,
        "the old password no longer works"
    );
    assert_eq!(
        store.authenticate("alice", "a brand new secret").await.expect("authenticate"),
        Some(alice.clone())
    );
    for token in [&alice_1, &alice_2] {
        assert!(store.session(token).await.expect("session").is_none(), "alice's sessions end");
    }
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
        .bind(alice.id)
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(left, 0);
    assert_eq!(
        store.session(&bob_token).await.expect("session").map(|s| s.user.id),
        Some(bob.id),
        "bob's session is untouched"
    );

    let audit = count(&store, "audit_log").await;
    assert_refused(
        &store.set_password(&operator(), "alice", "short").await.expect_err("short password"),
        "password",
        "short password",
    );
    assert!(matches!(
        store.set_password(&operator(), "nobody", "long enough password").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(count(&store, "audit_log").await, audit, "refused changes leave no record");
    assert!(store.authenticate("alice", "a brand new secret").await.expect("authenticate").is_some());
}

async fn sessions_are_found_by_their_token_until_expired_or_deleted_and_only_the_hash_is_stored(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "sessions").await else { return };
    let alice = store.create_user(&operator(), new_user("alice", "analyst")).await.expect("user");
    let bob = store.create_user(&operator(), new_user("bob", "analyst")).await.expect("user");
    let (token, csrf) = store.create_session(alice.id).await.expect("session");
    let (other, other_csrf) = store.create_session(alice.id).await.expect("session");
    assert_ne!(token, other);
    assert_ne!(csrf, other_csrf);
    assert_ne!(token, csrf);

    let session = store.session(&token).await.expect("session").expect("a live session");
    assert_eq!(session.user, alice);
    assert_eq!(session.csrf_token, csrf);
    assert!(session.expires_at_ms > dadong_store::now_ms());
    assert_eq!(store.session(&other).await.expect("session").expect("live").csrf_token, other_csrf);

    // Wrong tokens find nothing, including ones too long to be real.
    for wrong in [String::new(), format!("{token}x"), token[..token.len() - 1].to_string(), "x".repeat(4096)] {
        assert!(store.session(&wrong).await.expect("session").is_none(), "token {wrong:.20}… found a session");
    }

    // Lookups made at one moment are read together (one query for a group), and each still
    // gets its own answer: 300 at once, of two live sessions and of tokens that match none.
    let asked: Vec<(String, Option<String>)> = (0..300)
        .map(|i| match i % 3 {
            0 => (token.clone(), Some(csrf.clone())),
            1 => (other.clone(), Some(other_csrf.clone())),
            _ => (format!("{token}{i}"), None),
        })
        .collect();
    let answers = futures::future::join_all(asked.iter().map(|(t, _)| store.session(t))).await;
    for ((t, want), got) in asked.iter().zip(answers) {
        assert_eq!(got.expect("session").map(|s| s.csrf_token), *want, "token {t:.20}…");
    }

    // The database holds the token's SHA-256, never the token.
    let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_all(store.pool())
        .await
        .expect("hashes");
    assert_eq!(hashes.len(), 2);
    for t in [&token, &other] {
        assert!(hashes.iter().all(|h| !h.contains(t.as_str())), "a raw token is stored");
        assert!(hashes.contains(&sha256_hex(t.as_bytes())));
    }

    // Deleting one session leaves the other.
    store.delete_session(&other).await.expect("delete");
    assert!(store.session(&other).await.expect("session").is_none());
    assert!(store.session(&token).await.expect("session").is_some());
    assert_eq!(count(&store, "sessions").await, 1);

    // A session of a deactivated user is none.
    let (bob_token, _) = store.create_session(bob.id).await.expect("session");
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(bob.id)
        .execute(store.pool())
        .await
        .expect("deactivate");
    assert!(store.session(&bob_token).await.expect("session").is_none());

    // An expired session is none, and creating a session clears expired ones away.
    tamper(&store, "UPDATE sessions SET expires_at = 0").await;
    assert!(store.session(&token).await.expect("session").is_none(), "an expired session was found");
    let (fresh_token, _) = store.create_session(alice.id).await.expect("session");
    assert_eq!(count(&store, "sessions").await, 1, "expired sessions are removed");
    assert!(store.session(&fresh_token).await.expect("session").is_some());
    store.delete_session(&fresh_token).await.expect("delete");
    assert!(store.session(&fresh_token).await.expect("session").is_none());
    assert_eq!(count(&store, "sessions").await, 0);
}

/// The auth generation the database holds now.
async fn auth_generation(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT n FROM auth_generation WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .expect("auth generation")
}

/// Each process keeps the sessions it has read; two stores opened on one database stand for
/// two server processes, and what one changes (or an operator changes in SQL) the other must
/// see on its very next lookup.
async fn a_session_ended_or_a_user_changed_by_one_process_is_seen_at_once_by_another(backend: Backend) {
    let Some((db, one)) = fresh(backend, "sessions across processes").await else {
        return;
    };
    let other = db.open().await;
    let alice = one.create_user(&operator(), new_user("alice", "analyst")).await.expect("user");
    let bob = one.create_user(&operator(), new_user("bob", "analyst")).await.expect("user");
    let carol = one.create_user(&operator(), new_user("carol", "analyst")).await.expect("user");
    let before = auth_generation(&one).await;
    let (alice_1, _) = one.create_session(alice.id).await.expect("session");
    let (alice_2, _) = one.create_session(alice.id).await.expect("session");
    let (bob_token, _) = one.create_session(bob.id).await.expect("session");
    let (carol_token, _) = one.create_session(carol.id).await.expect("session");
    assert_eq!(auth_generation(&one).await, before, "opening a session invalidates nobody's sessions");

    let user_of = |store: &Store, token: &str| {
        let (store, token) = (store.clone(), token.to_string());
        async move { store.session(&token).await.expect("session").map(|s| s.user) }
    };
    // Both processes read (and keep) every session, twice.
    for _ in 0..2 {
        for store in [&one, &other] {
            assert_eq!(user_of(store, &alice_1).await.map(|u| u.id), Some(alice.id));
            assert_eq!(user_of(store, &bob_token).await.map(|u| u.id), Some(bob.id));
            assert_eq!(user_of(store, &carol_token).await.map(|u| u.id), Some(carol.id));
        }
    }

    // A sign-out in one process ends the session in the other at once, and only that one.
    one.delete_session(&alice_1).await.expect("sign out");
    assert_eq!(user_of(&other, &alice_1).await, None, "a session signed out elsewhere is still answered");
    assert_eq!(user_of(&other, &alice_2).await.map(|u| u.id), Some(alice.id));

    // A user deactivated by hand in SQL is signed out everywhere at once.
    tamper(&one, "UPDATE users SET active = 0 WHERE username = 'bob'").await;
    assert_eq!(user_of(&other, &bob_token).await, None, "a deactivated user's session is still answered");
    assert_eq!(user_of(&one, &bob_token).await, None);

    // A user's changed role is what the next lookup carries.
    tamper(&one, "UPDATE users SET role = 'leader' WHERE username = 'carol'").await;
    assert_eq!(user_of(&other, &carol_token).await.map(|u| u.role), Some(dadong_domain::Role::Leader));

    // A new password ends the user's sessions in every process.
    one.set_password(&operator(), "alice", "a brand new secret").await.expect("set password");
    assert_eq!(user_of(&other, &alice_2).await, None, "a session ended by a new password is still answered");

    // An expired session is not answered, even by a process that had kept it.
    assert!(user_of(&other, &carol_token).await.is_some());
    tamper(&one, "UPDATE sessions SET expires_at = 0").await;
    assert_eq!(user_of(&other, &carol_token).await, None, "an expired session is still answered");

    // The purge of expired sessions at a sign-in moves the generation only if it removed any.
    let before = auth_generation(&one).await;
    let (renewed, _) = one.create_session(alice.id).await.expect("session");
    assert!(auth_generation(&one).await > before, "removing expired sessions must move the generation");
    assert_eq!(user_of(&other, &renewed).await.map(|u| u.id), Some(alice.id));
}

async fn login_is_throttled_per_account_and_per_address_until_a_success(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "login throttling").await else {
        return;
    };
    let (account, address) = ("account:alice", "address:192.0.2.1");

    // Per account: the limit's worth of failures throttles that account, from any address.
    for i in 1..FAILURES_PER_ACCOUNT_MAX {
        store
            .record_login_attempt(&[account, &format!("address:198.51.100.{i}")], false)
            .await
            .expect("attempt");
    }
    assert_eq!(
        store.login_throttled(account, "address:203.0.113.9").await.expect("throttle"),
        None,
        "one short of the limit"
    );
    store.record_login_attempt(&[account, "address:198.51.100.99"], false).await.expect("attempt");
    let wait = store
        .login_throttled(account, "address:203.0.113.9")
        .await
        .expect("throttle")
        .expect("throttled at the limit");
    assert!(wait > 0 && wait <= THROTTLE_WINDOW_MS, "wait {wait} ms");
    assert_eq!(
        store.login_throttled("account:bob", "address:203.0.113.9").await.expect("throttle"),
        None,
        "other accounts are free"
    );

    // A success resets the account's count: the next failures start again from zero.
    store.record_login_attempt(&[account, address], true).await.expect("attempt");
    assert_eq!(
        store.login_throttled(account, address).await.expect("throttle"),
        None,
        "a success resets the count"
    );
    for _ in 1..FAILURES_PER_ACCOUNT_MAX {
        store.record_login_attempt(&[account, address], false).await.expect("attempt");
    }
    assert_eq!(store.login_throttled(account, address).await.expect("throttle"), None, "the count restarted");

    // Per address: failures on many accounts from one address throttle the address.
    let (crowd, quiet) = ("address:192.0.2.200", "account:carol");
    for i in 1..FAILURES_PER_ADDRESS_MAX {
        store.record_login_attempt(&[&format!("account:user{i}"), crowd], false).await.expect("attempt");
    }
    assert_eq!(
        store.login_throttled(quiet, crowd).await.expect("throttle"),
        None,
        "one short of the address limit"
    );
    store.record_login_attempt(&["account:user_last", crowd], false).await.expect("attempt");
    let wait = store
        .login_throttled(quiet, crowd)
        .await
        .expect("throttle")
        .expect("address throttled at the limit");
    assert!(wait > 0 && wait <= THROTTLE_WINDOW_MS, "wait {wait} ms");
    assert_eq!(
        store.login_throttled(quiet, "address:192.0.2.201").await.expect("throttle"),
        None,
        "other addresses are free"
    );
    store.record_login_attempt(&[quiet, crowd], true).await.expect("attempt");
    assert_eq!(
        store.login_throttled(quiet, crowd).await.expect("throttle"),
        None,
        "a success resets the address too"
    );

    // Failures older than the window do not count.
    let old = dadong_store::now_ms() - THROTTLE_WINDOW_MS - 1000;
    for _ in 0..FAILURES_PER_ACCOUNT_MAX {
        sqlx::query("INSERT INTO login_attempts (throttle_key, at, success) VALUES ($1, $2, 0)")
            .bind("account:dave")
            .bind(old)
            .execute(store.pool())
            .await
            .expect("old attempt");
    }
    assert_eq!(
        store.login_throttled("account:dave", "address:none").await.expect("throttle"),
        None,
        "old failures expire"
    );
}

// ---------------------------------------------------------------------------------------
// The audit chain

async fn every_change_appends_one_audit_record_without_personal_data_and_the_chain_holds(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "audit records").await else { return };
    assert_eq!(store.verify_audit().await.expect("verify").records, 0);
    assert_chain_holds(&store, "empty log").await;

    let admin = store.create_user(&operator(), new_user("admin", "admin")).await.expect("admin");
    let first = newest_record(&store).await;
    assert_eq!((first.seq, first.action.as_str(), first.actor.as_str()), (1, "user.create", "cli:store-test"));
    assert_eq!(first.prev_hash, dadong_store::audit::GENESIS_HASH);

    let actor = Actor::User {
        id: admin.id,
        username: admin.username.clone(),
    };
    let id_number = resident_id("21010419850312123");
    let before = count(&store, "audit_log").await;
    let dept = store
        .create_department(&actor, "window", "政务服务中心", "Government Service Centre")
        .await
        .expect("department");
    let r = newest_record(&store).await;
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!((r.action.as_str(), r.object.clone()), ("department.create", format!("department:{}", dept.id)));
    assert_eq!(r.actor, actor.label());
    assert_eq!(r.before, None);
    assert_eq!(r.after.as_ref().and_then(|a| a["code"].as_str()), Some("window"));

    let before = count(&store, "audit_log").await;
    let cadre = store
        .create_user(
            &actor,
            NewUser {
                phone: Some(PHONE.into()),
                id_number: Some(id_number.clone()),
                ..new_user("cadre_wang", "cadre")
            },
        )
        .await
        .expect("cadre");
    let r = newest_record(&store).await;
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!((r.action.as_str(), r.object.clone()), ("user.create", format!("user:{}", cadre.id)));
    assert_eq!(
        r.after.as_ref().and_then(|a| a["phone_masked"].as_str()),
        Some("138****5678"),
        "personal data is recorded masked"
    );

    let before = count(&store, "audit_log").await;
    store.set_password(&actor, "cadre_wang", "another good password").await.expect("set password");
    let r = newest_record(&store).await;
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!((r.action.as_str(), r.object.clone()), ("user.password", format!("user:{}", cadre.id)));

    let before = count(&store, "audit_log").await;
    store.assign_company(&actor, cadre.id, COMPANY).await.expect("assign");
    let r = newest_record(&store).await;
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!((r.action.as_str(), r.object.clone()), ("assignment.create", format!("user:{}", cadre.id)));
    assert_eq!(r.after.as_ref().and_then(|a| a["company_code"].as_str()), Some(COMPANY));
    // Assigning the same company again changes nothing, so records nothing.
    store.assign_company(&actor, cadre.id, COMPANY).await.expect("assign again");
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!(store.assigned_companies(cadre.id).await.expect("assigned"), vec![COMPANY.to_string()]);
    // Only cadres are assigned; a refusal records nothing.
    assert_refused(
        &store.assign_company(&actor, admin.id, COMPANY_2).await.expect_err("not a cadre"),
        "user",
        "assign an admin",
    );
    assert_refused(
        &store.assign_company(&actor, cadre.id, "91350100M000100Y42").await.expect_err("bad code"),
        "company_code",
        "bad code",
    );
    assert_eq!(count(&store, "audit_log").await, before + 1);

    let before = count(&store, "audit_log").await;
    let seq = store
        .audit_event(&actor, "user.login", &format!("user:{}", cadre.id), Some(&serde_json::json!({"via": "test"})))
        .await
        .expect("event");
    let r = newest_record(&store).await;
    assert_eq!(count(&store, "audit_log").await, before + 1);
    assert_eq!(r.seq, seq);
    assert_eq!((r.action.as_str(), r.object.clone()), ("user.login", format!("user:{}", cadre.id)));

    // Records are numbered 1.. in order and each names its predecessor's hash.
    let mut records = store.audit_records(1000, None).await.expect("records");
    records.reverse();
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=records.len() as i64).collect::<Vec<_>>()
    );
    for pair in records.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    // Paging goes backwards from a record number.
    let page = store.audit_records(2, Some(4)).await.expect("page");
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 2]);

    // No personal data or password in clear anywhere in the chain, as stored.
    let stored: Vec<(Option<String>, Option<String>)> = sqlx::query("SELECT before_json, after_json FROM audit_log")
        .fetch_all(store.pool())
        .await
        .expect("raw audit")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (b, a) in &stored {
        for text in [b, a].into_iter().flatten() {
            for secret in [PHONE, id_number.as_str(), &id_number[6..14], PASSWORD, "another good password"] {
                assert!(!text.contains(secret), "the audit chain holds '{secret}' in clear: {text}");
            }
        }
    }

    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.records, records.len() as i64);
    assert_eq!(report.first_break, None);
}

/// A store with `n` audit records whose consecutive records differ in action, object and
/// content, for the tampering scenarios.
async fn store_with_records(backend: Backend, test: &str, n: usize) -> Option<(TestDb, Store)> {
    let (db, store) = fresh(backend, test).await?;
    for (i, dept) in departments(&store, "d", n).await.into_iter().enumerate() {
        if i % 2 == 1 {
            // Mix in another kind of record so that neighbours differ in action too.
            store
                .audit_event(&operator(), "system.note", &format!("note:{}", dept.id), Some(&serde_json::json!({"i": i})))
                .await
                .expect("event");
        }
    }
    assert_chain_holds(&store, "before tampering").await;
    Some((db, store))
}

async fn audit_verify_finds_a_record_edited_in_the_database(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit edited", 4).await else {
        return;
    };
    let changed = tamper(&store, r#"UPDATE audit_log SET after_json = '{"code":"forged"}' WHERE seq = 2"#).await;
    assert_eq!(changed, 1);
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.first_break, Some(AuditBreak::Altered { seq: 2 }));

    // Any other column edited is found as well: here the actor of the last record.
    let Some((_db2, store2)) = store_with_records(backend, "audit edited actor", 3).await else {
        return;
    };
    let last = count(&store2, "audit_log").await;
    sqlx::query("UPDATE audit_log SET actor = 'cli:someone-else' WHERE seq = $1")
        .bind(last)
        .execute(store2.pool())
        .await
        .expect("edit");
    assert_eq!(
        store2.verify_audit().await.expect("verify").first_break,
        Some(AuditBreak::Altered { seq: last })
    );
}

async fn audit_verify_finds_an_edited_record_whose_hash_was_recomputed(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit edited and re-hashed", 4).await else {
        return;
    };
    let mut tx = store.begin_write().await.expect("begin");
    let mut record = raw_record(&mut tx, 2).await;
    assert_eq!(chain_hash(2, &record), record.hash, "the test computes the chain's hash as the store does");
    record.after_json = Some(r#"{"code":"forged"}"#.to_string());
    record.hash = chain_hash(2, &record);
    overwrite_record(&mut tx, 2, &record).await;
    tx.commit().await.expect("commit");
    // Record 2 is now self-consistent, but record 3 still names the old hash.
    assert_eq!(store.verify_audit().await.expect("verify").first_break, Some(AuditBreak::OutOfOrder { seq: 3 }));
}

async fn audit_verify_finds_a_record_deleted_from_the_middle(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit deleted middle", 4).await else {
        return;
    };
    assert_eq!(tamper(&store, "DELETE FROM audit_log WHERE seq = 2").await, 1);
    assert_eq!(store.verify_audit().await.expect("verify").first_break, Some(AuditBreak::Missing { seq: 2 }));
}

async fn audit_verify_finds_a_record_deleted_from_the_end(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit deleted end", 4).await else {
        return;
    };
    let last = count(&store, "audit_log").await;
    let deleted = sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(last)
        .execute(store.pool())
        .await
        .expect("delete");
    assert_eq!(deleted.rows_affected(), 1);
    assert_eq!(
        store.verify_audit().await.expect("verify").first_break,
        Some(AuditBreak::Truncated {
            last_seq: last - 1,
            head_seq: last
        })
    );
    // Deleting everything is found as well.
    tamper(&store, "DELETE FROM audit_log").await;
    assert_eq!(
        store.verify_audit().await.expect("verify").first_break,
        Some(AuditBreak::Truncated { last_seq: 0, head_seq: last })
    );
}

async fn audit_verify_finds_two_records_swapped_with_their_hashes(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit swapped", 4).await else {
        return;
    };
    let mut tx = store.begin_write().await.expect("begin");
    let (two, three) = (raw_record(&mut tx, 2).await, raw_record(&mut tx, 3).await);
    assert_ne!((&two.action, &two.object), (&three.action, &three.object), "the records differ");
    overwrite_record(&mut tx, 2, &three).await;
    overwrite_record(&mut tx, 3, &two).await;
    tx.commit().await.expect("commit");
    let found = store.verify_audit().await.expect("verify").first_break;
    assert!(
        matches!(found, Some(AuditBreak::Altered { seq: 2 } | AuditBreak::OutOfOrder { seq: 2 })),
        "expected a break at record 2, got {found:?}"
    );
}

async fn audit_verify_finds_two_records_whose_content_was_swapped_under_their_hashes(backend: Backend) {
    let Some((_db, store)) = store_with_records(backend, "audit content swapped", 4).await else {
        return;
    };
    let mut tx = store.begin_write().await.expect("begin");
    let (two, three) = (raw_record(&mut tx, 2).await, raw_record(&mut tx, 3).await);
    let swapped_two = RawRecord {
        action: three.action.clone(),
        object: three.object.clone(),
        after_json: three.after_json.clone(),
        ..two.clone()
    };
    let swapped_three = RawRecord {
        action: two.action.clone(),
        object: two.object.clone(),
        after_json: two.after_json.clone(),
        ..three.clone()
    };
    overwrite_record(&mut tx, 2, &swapped_two).await;
    overwrite_record(&mut tx, 3, &swapped_three).await;
    tx.commit().await.expect("commit");
    let found = store.verify_audit().await.expect("verify").first_break;
    assert!(
        matches!(found, Some(AuditBreak::Altered { seq: 2 } | AuditBreak::OutOfOrder { seq: 2 })),
        "expected a break at record 2, got {found:?}"
    );
}

async fn concurrent_changes_append_one_contiguous_valid_chain(backend: Backend) {
    const TASKS: usize = 8;
    const EACH: usize = 5;
    let Some((_db, store)) = fresh(backend, "concurrent appends").await else {
        return;
    };
    let mut writers = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let store = store.clone();
        writers.spawn(async move { departments(&store, &format!("t{t}"), EACH).await });
    }
    // Checks made while the appends run see a consistent snapshot: never a break.
    while !writers.is_empty() {
        let report = store.verify_audit().await.expect("verify while appending");
        assert_eq!(report.first_break, None, "a check during appends saw a break");
        if let Some(done) = writers.try_join_next() {
            assert_eq!(done.expect("writer task").len(), EACH);
        } else {
            tokio::task::yield_now().await;
        }
    }

    let expected = (TASKS * EACH) as i64;
    let report = store.verify_audit().await.expect("verify");
    assert_eq!(report.records, expected);
    assert_eq!(report.first_break, None);
    let mut records = store.audit_records(1000, None).await.expect("records");
    records.reverse();
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=expected).collect::<Vec<_>>(),
        "seqs are contiguous"
    );
    let objects: BTreeSet<String> = records.iter().map(|r| r.object.clone()).collect();
    let depts = store.departments().await.expect("departments");
    assert_eq!(depts.len() as i64, expected);
    assert_eq!(
        objects,
        depts.iter().map(|d| format!("department:{}", d.id)).collect(),
        "one record per department"
    );
}

// ---------------------------------------------------------------------------------------
// Backup and restore

async fn backup_and_restore_round_trip_a_live_store(backend: Backend) {
    let test = "backup and restore round-trip";
    let Some((source_db, source)) = fresh(backend, test).await else { return };
    let sample = build_sample(&source).await;
    let before = snapshot(&source).await;
    for table in FOUNDATION_TABLES {
        let rows = before.rows.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
        assert!(rows > Some(0), "the sample leaves {table} empty: {:?}", before.rows);
    }
    let (backup, rows) = backup_bytes(&source).await;
    assert_eq!(rows as i64, before.rows.iter().map(|(_, n)| n).sum::<i64>(), "every row is written");
    assert_eq!(snapshot(&source).await, before, "a backup changes nothing");

    let Some((_target_db, target)) = fresh_with_key_of(&source_db, backend, test).await else {
        return;
    };
    let restored = target.restore(&mut &backup[..], false).await.expect("restore into a fresh store");
    assert_eq!(restored, rows);
    assert_restored(&before, backend, rows, &target, &sample, &format!("restore on {}", backend.name())).await;

    // Restoring again with replace brings the store back to the backup exactly.
    assert_eq!(target.restore(&mut &backup[..], true).await.expect("restore with replace"), rows);
    assert_same_plus_restore_record(&snapshot(&target).await, &before, backend, rows, true, "after replacing");
    assert_chain_holds(&target, "after replacing").await;
}

async fn a_restore_is_refused_whole_for_a_non_empty_target_a_cut_backup_or_garbage(backend: Backend) {
    let test = "refused restores";
    let Some((source_db, source)) = fresh(backend, test).await else { return };
    build_sample(&source).await;
    let (backup, _) = backup_bytes(&source).await;
    let text = String::from_utf8(backup.clone()).expect("backups are text");

    let Some((_target_db, target)) = fresh_with_key_of(&source_db, backend, test).await else {
        return;
    };
    departments(&target, "own", 2).await;
    let local = target.create_user(&operator(), new_user("local_admin", "admin")).await.expect("user");
    let (token, _) = target.create_session(local.id).await.expect("session");
    let target_before = snapshot(&target).await;

    // A store that holds data is not overwritten without replace.
    let err = target.restore(&mut &backup[..], false).await.expect_err("non-empty target");
    assert!(matches!(err, StoreError::Conflict(_)), "expected a conflict, got {err:?}");
    assert_eq!(snapshot(&target).await, target_before, "a refused restore changed the store");

    // A backup cut short (its end marker lost, or cut mid-line) is refused whole, even with
    // replace, after it has deleted and inserted rows inside its transaction.
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.pop().expect("end marker").contains("\"end\""));
    let without_end = format!("{}\n", lines.join("\n"));
    let cut_mid_line = backup[..backup.len() * 2 / 3].to_vec();
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("no end marker", without_end.into_bytes()),
        ("cut mid-line", cut_mid_line),
        ("empty file", Vec::new()),
        ("text", b"this is not a backup\nat all\n".to_vec()),
        (
            "another JSON format",
            b"{\"format\":\"something-else\",\"version\":1}\n{\"end\":true}\n".to_vec(),
        ),
        ("binary", (0u8..=255).cycle().take(4096).collect()),
        ("a newer schema", text.replacen("\"schema\":", "\"schema\":99999,\"was\":", 1).into_bytes()),
        (
            "an unknown table",
            text.replacen("\"table\":\"settings\"", "\"table\":\"secrets\"", 1).into_bytes(),
        ),
    ];
    for (case, bytes) in garbage {
        for replace in [false, true] {
            let result = target.restore(&mut &bytes[..], replace).await;
            assert!(result.is_err(), "{case} (replace {replace}) was accepted");
            assert_eq!(snapshot(&target).await, target_before, "{case} (replace {replace}) changed the store");
        }
    }
    assert!(target.session(&token).await.expect("session").is_some(), "the target's own session survives");
    assert_chain_holds(&target, "after refused restores").await;

    // A fresh store stays empty after a refused restore.
    let Some((_empty_db, empty)) = fresh_with_key_of(&source_db, backend, &format!("{test} (empty)")).await else {
        return;
    };
    let empty_before = snapshot(&empty).await;
    let lines: Vec<&str> = text.lines().collect();
    let cut = format!("{}\n", lines[..lines.len() - 1].join("\n"));
    assert!(empty.restore(&mut cut.as_bytes(), false).await.is_err());
    assert_eq!(snapshot(&empty).await, empty_before);
    assert_eq!(count(&empty, "users").await, 0);
}

async fn a_backup_restores_into_the_other_backend(backend: Backend) {
    let other = match backend {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    };
    let test = format!("a backup from {} restores into {}", backend.name(), other.name());
    let Some((source_db, source)) = fresh(backend, &test).await else { return };
    let sample = build_sample(&source).await;
    let before = snapshot(&source).await;
    let (backup, rows) = backup_bytes(&source).await;

    let Some((_target_db, target)) = fresh_with_key_of(&source_db, other, &test).await else {
        return;
    };
    assert_eq!(target.backend(), other);
    assert_eq!(target.restore(&mut &backup[..], false).await.expect("cross-backend restore"), rows);
    assert_restored(&before, backend, rows, &target, &sample, &test).await;

    // And back again: the copy's backup restores into the first backend.
    let moved = snapshot(&target).await;
    let (back, back_rows) = backup_bytes(&target).await;
    let Some((_return_db, returned)) = fresh_with_key_of(&source_db, backend, &format!("{test} and back")).await else {
        return;
    };
    assert_eq!(returned.restore(&mut &back[..], false).await.expect("restore back"), back_rows);
    assert_same_plus_restore_record(&snapshot(&returned).await, &moved, other, back_rows, false, "restored back");
    assert_chain_holds(&returned, "after the round trip between backends").await;
}

async fn the_backup_covers_every_table_but_the_bookkeeping(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "backup covers every table").await else {
        return;
    };
    let listed: Vec<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "a table is listed twice");
    let in_store: BTreeSet<String> = store
        .table_names()
        .await
        .expect("tables")
        .into_iter()
        .filter(|t| !NOT_BACKED_UP.contains(&t.as_str()))
        .collect();
    assert_eq!(unique.into_iter().map(String::from).collect::<BTreeSet<_>>(), in_store);

    // The backup itself names every listed table.
    let (backup, _) = backup_bytes(&store).await;
    let text = String::from_utf8(backup).expect("text");
    for table in &listed {
        assert!(text.contains(&format!("\"table\":\"{table}\"")), "the backup lacks {table}");
    }
}

// ---------------------------------------------------------------------------------------
// Races

async fn the_same_name_created_at_once_is_stored_once_and_the_other_is_told_it_is_taken(backend: Backend) {
    const RIVALS: usize = 6;
    let Some((_db, store)) = fresh(backend, "same name at once").await else {
        return;
    };
    for round in 0..3 {
        let mut users = tokio::task::JoinSet::new();
        let mut depts = tokio::task::JoinSet::new();
        for _ in 0..RIVALS {
            let (s1, s2) = (store.clone(), store.clone());
            users.spawn(async move { s1.create_user(&operator(), new_user(&format!("rival{round}"), "citizen")).await });
            depts.spawn(async move { s2.create_department(&operator(), &format!("rival{round}"), "部门", "Department").await });
        }
        for (what, field, results) in [
            (
                "user",
                "username",
                users.join_all().await.into_iter().map(|r| r.map(|_| ())).collect::<Vec<_>>(),
            ),
            (
                "department",
                "code",
                depts.join_all().await.into_iter().map(|r| r.map(|_| ())).collect::<Vec<_>>(),
            ),
        ] {
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: exactly one {what} is created");
            for err in results.iter().filter_map(|r| r.as_ref().err()) {
                assert_refused(err, field, &format!("round {round}: the rival {what}"));
            }
        }
    }
    assert_eq!(count(&store, "users").await, 3);
    assert_eq!(count(&store, "departments").await, 3);
    assert_chain_holds(&store, "after rival creations").await;
}

async fn servers_starting_at_once_on_a_new_database_migrate_it_once(backend: Backend) {
    for round in 0..3 {
        let Some(db) = TestDb::new(backend, &format!("servers starting at once, round {round}")).await else {
            return;
        };
        let mut opens = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let config = db.config.clone();
            opens.spawn(async move { dadong_store::Store::open(&config).await });
        }
        for opened in opens.join_all().await {
            let store = opened.unwrap_or_else(|e| panic!("round {round}: a server failed to start: {e}"));
            assert_eq!(migrate::current_version(&store).await.expect("version"), migrate::latest_version());
            store.close().await;
        }
        let store = db.open().await;
        assert_eq!(count(&store, "schema_migrations").await, migrate::migration_count());
        assert_eq!(count(&store, "audit_head").await, 1);
        store.close().await;
    }
}

/// On SQLite a commit checkpoints the log only past a high backstop, because the store copies
/// it back into the database file on its own connection; that copy leaves nothing behind.
async fn the_write_ahead_log_is_checkpointed_beside_the_commits(backend: Backend) {
    let Some((_db, store)) = fresh(backend, "checkpoints").await else { return };
    departments(&store, "ckpt", 20).await;
    if backend == Backend::Postgres {
        assert_eq!(store.checkpoint().await.expect("checkpoint"), None, "PostgreSQL checkpoints itself");
        return;
    }
    let backstop: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(store.pool()).await.expect("pragma");
    assert_eq!(backstop, i64::from(dadong_store::checkpoint::AUTOCHECKPOINT_BACKSTOP_PAGES));
    // The background task may hold the checkpoint lock at this very moment; then this one
    // reports busy and the next finds the log copied.
    let mut done = None;
    for _ in 0..3 {
        let c = store.checkpoint().await.expect("checkpoint").expect("SQLite reports its checkpoint");
        if !c.busy {
            done = Some(c);
            break;
        }
    }
    let c = done.expect("a checkpoint that was not busy");
    assert!(c.log_pages >= 0);
    assert_eq!(c.copied_pages, c.log_pages, "every page of the log is copied: {c:?}");
}

async fn every_sqlite_connection_logs_ahead_syncs_fully_and_keeps_temporary_pages_in_memory(backend: Backend) {
    // These are SQLite's settings: PostgreSQL has none of them, and no database is made for it.
    if backend == Backend::Postgres {
        return;
    }
    let Some((_db, store)) = fresh(backend, "pragmas").await else { return };
    // Several connections held at once, so that the pool opens more than one.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(store.pool().acquire().await.expect("a connection"));
    }
    for conn in &mut held {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **conn).await.expect("journal_mode");
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **conn).await.expect("synchronous");
        assert_eq!(sync, 2, "synchronous = FULL: an acknowledged write survives a crash");
        let keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut **conn).await.expect("foreign_keys");
        assert_eq!(keys, 1);
        let temp: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(&mut **conn).await.expect("temp_store");
        assert_eq!(temp, 2, "temp_store = MEMORY: statement journals are not written to files");
    }
}

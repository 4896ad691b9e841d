//! Government services (SPEC section 5) in the store, each scenario on SQLite and PostgreSQL:
//! a company opened through the `open_company` bundle from the first form to the rated result,
//! every refusal leaving the store as it was, escalation and the one-working-day promise on a
//! set clock.

use std::collections::BTreeMap;

use dadong_domain::WorkCalendar;
use dadong_domain::ids::ResidentId;
use dadong_services::{BundleDef, shipped_bundles, shipped_matters};
use dadong_store::services::{Act, Acting, HALL_DEPARTMENT, UPLOAD_BYTES_MAX};
use dadong_store::{Actor, Store, StoreError};
use dadong_testkit::{Backend, TestDb, user};
use jiff::Timestamp;

dadong_testkit::on_both_backends!(
    a_company_is_opened_through_the_bundle_by_four_departments_in_parallel_and_its_licence_verifies,
    bad_input_is_refused_with_a_reason_and_changes_nothing,
    overdue_steps_escalate_once_to_their_department,
    opened_within_one_working_day_counts_across_weekends_holidays_and_make_up_days,
    acts_committed_together_answer_each_and_a_refused_one_changes_nothing,
);

const PUBLIC_URL: &str = "http://127.0.0.1:8080";

fn operator() -> Actor {
    Actor::Cli("services-test".into())
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 time")
}

fn calendar() -> &'static WorkCalendar {
    WorkCalendar::national()
}

fn id_number() -> String {
    let first17 = "21010419900307123";
    format!("{first17}{}", ResidentId::check_char(first17).unwrap())
}

fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {tag}\n%%EOF\n").into_bytes()
}

struct World {
    _db: TestDb,
    store: Store,
    applicant: i64,
    clerks: BTreeMap<String, i64>,
}

async fn world(backend: Backend, test: &str) -> Option<World> {
    let db = TestDb::new(backend, &format!("{test} on {}", backend.name())).await?;
    let store = db.open().await;
    let departments: Vec<&str> = dadong_services::bundle::SHIPPED_DEPARTMENTS.iter().copied().chain([HALL_DEPARTMENT]).collect();
    for code in &departments {
        store.create_department(&operator(), code, code, code).await.unwrap();
    }
    let matters = shipped_matters();
    store.upsert_matters(&operator(), &matters, "shipped_matters.csv", "-").await.unwrap();
    for bundle in shipped_bundles() {
        store.save_bundle(&operator(), &bundle).await.unwrap();
    }
    let applicant = store.create_user(&operator(), user("founder", "founder", "citizen")).await.unwrap().id;
    let mut clerks = BTreeMap::new();
    for code in &departments {
        let id = store
            .create_user(&operator(), user(&format!("clerk_{code}"), "clerk", "clerk").in_department(code))
            .await
            .unwrap()
            .id;
        clerks.insert(code.to_string(), id);
    }
    Some(World {
        _db: db,
        store,
        applicant,
        clerks,
    })
}

impl World {
    fn clerk(&self, department: &str) -> Acting {
        Acting::Clerk {
            user_id: self.clerks[department],
            department: department.into(),
        }
    }

    async fn act(&self, acting: &Acting, app: i64, act: Act, now: Timestamp) -> Result<String, StoreError> {
        self.store
            .act_on_application(&operator(), acting, app, act, now, calendar(), PUBLIC_URL)
            .await
            .map(|a| a.state)
    }

    /// A draft `open_company` application with every required material uploaded.
    async fn ready_draft(&self, now: Timestamp) -> i64 {
        let app = self
            .store
            .create_application(&operator(), self.applicant, None, "bundle", "open_company", &form(), now)
            .await
            .unwrap();
        let stored = self.store.application(app).await.unwrap().unwrap();
        for material in stored.app.materials.iter().filter(|m| m.required) {
            self.store
                .upload_material(
                    &operator(),
                    app,
                    self.applicant,
                    &material.code,
                    &format!("{}.pdf", material.code),
                    &pdf(&material.code),
                    now,
                )
                .await
                .unwrap();
        }
        app
    }

    async fn audit_len(&self) -> i64 {
        self.store.verify_audit().await.unwrap().records
    }
}

fn form() -> BTreeMap<String, String> {
    [
        ("company_name", "沈阳东塔机械制造有限公司"),
        ("address", "辽宁省沈阳市大东区东塔街12号"),
        ("registered_capital", "1000000"),
        ("business_scope", "通用设备制造；机械零部件加工"),
        ("legal_rep_name", "王建国"),
        ("contact_phone", "13800138000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("legal_rep_id".to_string(), id_number())])
    .collect()
}

async fn a_company_is_opened_through_the_bundle_by_four_departments_in_parallel_and_its_licence_verifies(backend: Backend) {
    let Some(w) = world(backend, "open company").await else { return };
    // Friday 2026-11-27, 09:00 in Shanghai.
    let t0 = at("2026-11-27T09:00:00+08:00");
    let app = w.ready_draft(t0).await;
    let stored = w.store.application(app).await.unwrap().unwrap();
    assert!(
        !stored.app.materials.iter().any(|m| m.code == "business_licence"),
        "the licence the bundle produces is not asked of the applicant"
    );
    assert!(stored.form_masked["legal_rep_id"].contains('*'), "the ID number is shown masked");
    assert_eq!(stored.promised_days, 1, "licence on the spot, then one working day in parallel");

    let applicant = Acting::Applicant(w.applicant);
    assert_eq!(w.act(&applicant, app, Act::Submit, t0).await.unwrap(), "submitted");
    assert_eq!(
        w.act(&w.clerk(HALL_DEPARTMENT), app, Act::Accept, at("2026-11-27T09:30:00+08:00"))
            .await
            .unwrap(),
        "accepted"
    );

    let market = w.clerk("market");
    w.act(&market, app, Act::StartStep { step: "licence".into() }, at("2026-11-27T10:00:00+08:00"))
        .await
        .unwrap();
    w.act(&market, app, Act::CompleteStep { step: "licence".into() }, at("2026-11-27T10:30:00+08:00"))
        .await
        .unwrap();
    let stored = w.store.application(app).await.unwrap().unwrap();
    let certificate = stored.certificate_id.clone().expect("completing the licence step issues the e-licence");

    // Four departments at once, each starting and completing its own step.
    let steps = [("police", "seal"), ("tax", "invoice"), ("bank", "bank_account"), ("hrss", "social_insurance")];
    let runs = steps.iter().map(|(department, step)| {
        let w = &w;
        async move {
            let clerk = w.clerk(department);
            w.act(&clerk, app, Act::StartStep { step: step.to_string() }, at("2026-11-27T14:00:00+08:00"))
                .await
                .unwrap();
            w.act(&clerk, app, Act::CompleteStep { step: step.to_string() }, at("2026-11-30T11:00:00+08:00"))
                .await
                .unwrap()
        }
    });
    futures::future::join_all(runs).await;
    let stored = w.store.application(app).await.unwrap().unwrap();
    assert_eq!(stored.state, "done", "every step done, none lost to a concurrent clerk");
    assert!(stored.app.steps.iter().all(|s| s.state.code() == "done"));
    assert_eq!(
        w.act(&w.clerk(HALL_DEPARTMENT), app, Act::Deliver, at("2026-11-30T12:00:00+08:00"))
            .await
            .unwrap(),
        "delivered"
    );

    // The licence verifies; one altered byte, or a copy signed by another key, does not.
    let (_, file) = w.store.certificate_pdf(&certificate).await.unwrap().unwrap();
    let genuine = w.store.verify_certificate_file(&file).await.unwrap();
    assert!(genuine.genuine, "{:?}", genuine.reason);
    let info = genuine.certificate.unwrap();
    assert_eq!(info.company_name, "沈阳东塔机械制造有限公司");
    assert!(dadong_domain::CreditCode::parse(&info.credit_code).is_ok());
    assert_eq!(info.licence.registered_capital, "100万元人民币");
    let mut altered = file.clone();
    let i = altered.len() / 2;
    altered[i] ^= 1;
    let outcome = w.store.verify_certificate_file(&altered).await.unwrap();
    assert!(!outcome.genuine && outcome.reason.unwrap().contains("altered"));
    let forged = dadong_services::certificate::CertificateKey::generate()
        .issue(&info.licence, "http://x/verify/x")
        .unwrap();
    assert!(!w.store.verify_certificate_file(&forged).await.unwrap().genuine);

    // Notifications reached the applicant and every department.
    let notes = w.store.notifications_for(w.applicant, None, 100).await.unwrap();
    assert!(notes.iter().any(|n| n.kind == "delivered"));
    let police = w.store.notifications_for(w.clerks["police"], Some("police"), 100).await.unwrap();
    assert!(police.iter().any(|n| n.kind == "step_ready"));

    // Ratings: a bad one opens a rectification the department answers once.
    w.store
        .rate_application(
            &operator(),
            app,
            w.applicant,
            &[("market".into(), 5, "很快".into()), ("bank".into(), 2, "排队太久".into())],
            at("2026-11-30T13:00:00+08:00"),
        )
        .await
        .unwrap();
    let tickets = w.store.rectifications(Some("bank"), 10).await.unwrap();
    assert_eq!(tickets.len(), 1);
    let err = w
        .store
        .rate_application(
            &operator(),
            app,
            w.applicant,
            &[("market".into(), 1, "".into())],
            at("2026-11-30T13:00:00+08:00"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = w
        .store
        .answer_rectification(&operator(), tickets[0].id, w.clerks["tax"], "tax", "not ours", at("2026-11-30T14:00:00+08:00"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "another department cannot answer it");
    w.store
        .answer_rectification(
            &operator(),
            tickets[0].id,
            w.clerks["bank"],
            "bank",
            "已增加窗口",
            at("2026-11-30T14:00:00+08:00"),
        )
        .await
        .unwrap();

    // The figures of the period.
    let f = w
        .store
        .services_figures(at("2026-11-01T00:00:00+08:00"), at("2026-12-01T00:00:00+08:00"), calendar())
        .await
        .unwrap();
    assert_eq!(f.applications, 1);
    assert_eq!(f.by_status["delivered"], 1);
    assert_eq!(f.companies_opened, 1);
    // Submitted Friday; completed Monday 11:00, the next working day: within one working day.
    assert_eq!(f.opened_within_one_day_pct.as_deref(), Some("100.0"));
    assert_eq!(f.on_time_pct.as_deref(), Some("100.0"));
    let bundled: std::collections::BTreeSet<String> = shipped_bundles().iter().flat_map(|b| b.steps.iter().map(|s| s.matter.clone())).collect();
    assert_eq!(f.bundled_matters, bundled.len() as i64);
    let bank = f.ratings.iter().find(|r| r.department == "bank").unwrap();
    assert_eq!((bank.ratings, bank.average.as_str(), bank.rectifications_open), (1, "2.0", 0));
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn bad_input_is_refused_with_a_reason_and_changes_nothing(backend: Backend) {
    let Some(w) = world(backend, "bad input").await else { return };
    let t0 = at("2026-11-27T09:00:00+08:00");

    // A wrong check digit in the ID number: refused by field, nothing written.
    let before = w.audit_len().await;
    let mut bad = form();
    let id = id_number();
    let wrong = if id.ends_with('0') {
        format!("{}1", &id[..17])
    } else {
        format!("{}0", &id[..17])
    };
    bad.insert("legal_rep_id".into(), wrong);
    let err = w
        .store
        .create_application(&operator(), w.applicant, None, "bundle", "open_company", &bad, t0)
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Invalid { field, .. } if field == "legal_rep_id"), "{err}");
    assert_eq!(w.audit_len().await, before);
    assert!(w.store.applications_of(w.applicant, 10).await.unwrap().is_empty());

    let app = w
        .store
        .create_application(&operator(), w.applicant, None, "bundle", "open_company", &form(), t0)
        .await
        .unwrap();
    let applicant = Acting::Applicant(w.applicant);
    // Missing materials are listed, every one of them.
    let err = w.act(&applicant, app, Act::Submit, t0).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("articles") && message.contains("premises") && message.contains("legal_rep_id"),
        "{message}"
    );
    // Uploads: wrong type, a name that lies, oversize, a material not asked for.
    let upload = |code: &'static str, name: &'static str, bytes: Vec<u8>| {
        let w = &w;
        async move { w.store.upload_material(&operator(), app, w.applicant, code, name, &bytes, t0).await }
    };
    let err = upload("articles", "articles.exe", b"MZ\x90\x00".to_vec()).await.unwrap_err();
    assert!(err.to_string().contains("not a PDF, PNG or JPEG"), "{err}");
    let err = upload("articles", "articles.png", pdf("x")).await.unwrap_err();
    assert!(err.to_string().contains("says otherwise"), "{err}");
    let mut big = pdf("big");
    big.resize(UPLOAD_BYTES_MAX + 1, b' ');
    let err = upload("articles", "articles.pdf", big).await.unwrap_err();
    assert!(err.to_string().contains("the limit is 5 MB"), "{err}");
    let err = upload("nonsense", "x.pdf", pdf("x")).await.unwrap_err();
    assert!(err.to_string().contains("does not ask for"), "{err}");
    assert!(w.store.uploads(app).await.unwrap().is_empty());

    // Someone else's application is not found for them.
    let err = w
        .store
        .upload_material(&operator(), app, w.clerks["tax"], "articles", "a.pdf", &pdf("a"), t0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)));

    // A double submission.
    let app = w.ready_draft(t0).await;
    w.act(&applicant, app, Act::Submit, t0).await.unwrap();
    let err = w.act(&applicant, app, Act::Submit, t0).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)) && err.to_string().contains("already submitted"), "{err}");
    // Only the hall accepts.
    let err = w.act(&w.clerk("tax"), app, Act::Accept, t0).await.unwrap_err();
    assert!(err.to_string().contains("service hall"), "{err}");
    w.act(&w.clerk(HALL_DEPARTMENT), app, Act::Accept, t0).await.unwrap();
    // A clerk acting on another department's step, or on a step still waiting.
    let before = w.audit_len().await;
    let err = w.act(&w.clerk("tax"), app, Act::StartStep { step: "licence".into() }, t0).await.unwrap_err();
    assert!(err.to_string().contains("belongs to department 'market'"), "{err}");
    let err = w.act(&w.clerk("tax"), app, Act::StartStep { step: "invoice".into() }, t0).await.unwrap_err();
    assert!(err.to_string().contains("waiting for 'licence'"), "{err}");
    assert_eq!(w.audit_len().await, before);
    // A finished step.
    let market = w.clerk("market");
    w.act(&market, app, Act::StartStep { step: "licence".into() }, t0).await.unwrap();
    w.act(&market, app, Act::CompleteStep { step: "licence".into() }, t0).await.unwrap();
    let err = w.act(&market, app, Act::CompleteStep { step: "licence".into() }, t0).await.unwrap_err();
    assert!(err.to_string().contains("finished step"), "{err}");

    // Bundles: a cycle and a dangling step are refused, named, and nothing is stored.
    let mut cyclic: BundleDef = shipped_bundles().into_iter().find(|b| b.id == "open_company").unwrap();
    cyclic.id = "cyclic".into();
    cyclic.steps[0].needs = vec!["seal".into()];
    let err = w.store.save_bundle(&operator(), &cyclic).await.unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    let mut dangling = shipped_bundles().into_iter().find(|b| b.id == "open_company").unwrap();
    dangling.id = "dangling".into();
    dangling.steps[1].needs = vec!["nowhere".into()];
    let err = w.store.save_bundle(&operator(), &dangling).await.unwrap_err();
    assert!(err.to_string().contains("'nowhere', which is not a step"), "{err}");
    assert_eq!(w.store.bundles().await.unwrap().len(), 2);
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

async fn overdue_steps_escalate_once_to_their_department(backend: Backend) {
    let Some(w) = world(backend, "escalation").await else { return };
    let t0 = at("2026-11-27T09:00:00+08:00");
    let app = w.ready_draft(t0).await;
    w.act(&Acting::Applicant(w.applicant), app, Act::Submit, t0).await.unwrap();
    w.act(&w.clerk(HALL_DEPARTMENT), app, Act::Accept, t0).await.unwrap();
    let market = w.clerk("market");
    w.act(&market, app, Act::StartStep { step: "licence".into() }, t0).await.unwrap();
    w.act(&market, app, Act::CompleteStep { step: "licence".into() }, t0).await.unwrap();
    // The four steps became ready on Friday with one working day: due Monday 23:59:59.
    let queue = w.store.department_queue("tax", 10, 0).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].deadline_ms, Some(at("2026-11-30T23:59:59+08:00").as_millisecond()));
    assert_eq!(w.store.escalate_overdue_steps(&operator(), at("2026-11-30T23:59:59+08:00")).await.unwrap(), 0);
    assert_eq!(w.store.escalate_overdue_steps(&operator(), at("2026-12-01T08:00:00+08:00")).await.unwrap(), 4);
    assert_eq!(
        w.store.escalate_overdue_steps(&operator(), at("2026-12-02T08:00:00+08:00")).await.unwrap(),
        0,
        "once"
    );
    let queue = w.store.department_queue("tax", 10, 0).await.unwrap();
    assert!(queue[0].escalated);
    let notes = w.store.notifications_for(w.clerks["tax"], Some("tax"), 50).await.unwrap();
    assert!(notes.iter().any(|n| n.kind == "step_overdue"));
}

async fn opened_within_one_working_day_counts_across_weekends_holidays_and_make_up_days(backend: Backend) {
    let Some(w) = world(backend, "one working day").await else { return };
    // (submitted, completed, within one working day?)
    let cases = [
        // Friday → Monday: the weekend does not count.
        ("2026-11-27T16:00:00+08:00", "2026-11-30T17:00:00+08:00", true),
        // Friday → Tuesday: two working days.
        ("2026-11-27T16:00:00+08:00", "2026-12-01T09:00:00+08:00", false),
        // 2026-09-30 (Wed) before the National Day holiday (10-01 to 10-07) → 10-08, the next working day.
        ("2026-09-30T15:00:00+08:00", "2026-10-08T10:00:00+08:00", true),
        // Submitted on 2026-10-09, done on Saturday 10-10, a make-up working day: within.
        ("2026-10-09T15:00:00+08:00", "2026-10-10T18:00:00+08:00", true),
        // Submitted on the make-up Saturday 10-10 → Monday 10-12 is the next working day.
        ("2026-10-10T10:00:00+08:00", "2026-10-12T20:00:00+08:00", true),
        // Friday 10-09 → Monday 10-12 skips the make-up Saturday: two working days.
        ("2026-10-09T10:00:00+08:00", "2026-10-12T10:00:00+08:00", false),
    ];
    for (submitted, completed, _) in cases {
        let (s, c) = (at(submitted), at(completed));
        let app = w.ready_draft(s).await;
        w.act(&Acting::Applicant(w.applicant), app, Act::Submit, s).await.unwrap();
        w.act(&w.clerk(HALL_DEPARTMENT), app, Act::Accept, s).await.unwrap();
        let market = w.clerk("market");
        w.act(&market, app, Act::StartStep { step: "licence".into() }, s).await.unwrap();
        w.act(&market, app, Act::CompleteStep { step: "licence".into() }, s).await.unwrap();
        for (department, step) in [("police", "seal"), ("tax", "invoice"), ("bank", "bank_account"), ("hrss", "social_insurance")] {
            w.act(&w.clerk(department), app, Act::StartStep { step: step.into() }, s).await.unwrap();
            w.act(&w.clerk(department), app, Act::CompleteStep { step: step.into() }, c).await.unwrap();
        }
    }
    for (submitted, completed, within) in cases {
        let (s, c) = (at(submitted), at(completed));
        assert_eq!(
            dadong_services::lifecycle::opened_within_one_working_day(s, c, calendar()),
            within,
            "{submitted} → {completed}"
        );
    }
    let f = w
        .store
        .services_figures(at("2026-09-01T00:00:00+08:00"), at("2026-12-31T00:00:00+08:00"), calendar())
        .await
        .unwrap();
    assert_eq!(f.companies_opened, 6);
    // 4 of 6 within one working day.
    assert_eq!(f.opened_within_one_day_pct.as_deref(), Some("66.7"));
}

async fn acts_committed_together_answer_each_and_a_refused_one_changes_nothing(backend: Backend) {
    let Some(w) = world(backend, "group commit").await else { return };
    let t0 = at("2026-11-27T09:00:00+08:00");
    let (a, b, c) = (w.ready_draft(t0).await, w.ready_draft(t0).await, w.ready_draft(t0).await);
    w.act(&Acting::Applicant(w.applicant), b, Act::Submit, t0).await.unwrap();
    let before = w.audit_len().await;
    let request = |id: i64, act: Act| dadong_store::services::ActRequest {
        actor: operator(),
        acting: Acting::Applicant(w.applicant),
        application_id: id,
        act,
        now: t0,
        public_url: PUBLIC_URL.into(),
    };
    // b is already submitted: refused; a and c go through in the same transaction.
    let answers = w
        .store
        .act_on_applications(vec![request(a, Act::Submit), request(b, Act::Submit), request(c, Act::Submit)], calendar())
        .await;
    assert_eq!(answers[0].as_ref().unwrap().state, "submitted");
    assert!(
        matches!(&answers[1], Err(StoreError::Conflict(m)) if m.contains("already submitted")),
        "{:?}",
        answers[1].as_ref().err()
    );
    assert_eq!(answers[2].as_ref().unwrap().state, "submitted");
    assert_eq!(
        w.audit_len().await,
        before + 2,
        "one audit record per act carried out, none for the refused one"
    );
    // Through the queued writer, many at once.
    let hall = Acting::Clerk {
        user_id: w.clerks[HALL_DEPARTMENT],
        department: HALL_DEPARTMENT.into(),
    };
    let grouped = [a, b, c].map(|id| {
        let mut r = request(id, Act::Accept);
        r.acting = hall.clone();
        w.store.act_grouped(r)
    });
    for answer in futures::future::join_all(grouped).await {
        assert_eq!(answer.unwrap().state, "accepted");
    }
    assert!(w.store.verify_audit().await.unwrap().first_break.is_none());
}

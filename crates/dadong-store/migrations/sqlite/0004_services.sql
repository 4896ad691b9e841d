-- Government services (一网通办): the matter catalog, one-thing bundles, applications and their
-- steps, uploaded materials, the notification outbox, ratings (好差评) with rectification
-- tickets, and electronic certificates. Times are milliseconds since the epoch; money is fen.

CREATE TABLE matters (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department_code TEXT NOT NULL REFERENCES departments(code),
    legal_basis TEXT NOT NULL,
    -- [{"code","name","required"}]
    materials_json TEXT NOT NULL,
    time_limit_days INTEGER NOT NULL CHECK (time_limit_days >= 0),
    fee_fen INTEGER NOT NULL CHECK (fee_fen >= 0),
    level TEXT NOT NULL CHECK (level IN ('full_online', 'partly_online', 'counter')),
    -- channel codes separated by ';'
    channels TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX matters_department ON matters(department_code);

CREATE TABLE bundles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Which matters each bundle composes, kept with the definition so that "matters in bundles"
-- is one query and a matter in a bundle cannot leave the catalog.
CREATE TABLE bundle_matters (
    bundle_id TEXT NOT NULL REFERENCES bundles(id),
    matter_code TEXT NOT NULL REFERENCES matters(code),
    PRIMARY KEY (bundle_id, matter_code)
);
CREATE INDEX bundle_matters_matter ON bundle_matters(matter_code);

CREATE TABLE applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- a bundle id, or a matter code when kind is 'matter'
    subject TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('bundle', 'matter')),
    applicant_id INTEGER NOT NULL REFERENCES users(id),
    company_code TEXT,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'accepted', 'not_accepted', 'correction_requested', 'in_progress', 'done', 'delivered', 'refused')),
    -- the reason, the correction items or the refused step, by state
    state_json TEXT,
    -- the combined form's values; personal fields encrypted
    form_json TEXT NOT NULL,
    -- [{"code","name","required"}] asked of the applicant
    materials_json TEXT NOT NULL,
    -- material codes handed in with the last submission
    provided_json TEXT NOT NULL,
    correction_requested INTEGER NOT NULL DEFAULT 0 CHECK (correction_requested IN (0, 1)),
    -- the promise of the whole application in working days (critical path)
    promised_days INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    submitted_at INTEGER,
    accepted_at INTEGER,
    completed_at INTEGER,
    delivered_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX applications_applicant ON applications(applicant_id, id);
CREATE INDEX applications_state ON applications(state, id);
CREATE INDEX applications_submitted ON applications(submitted_at);

CREATE TABLE application_steps (
    application_id INTEGER NOT NULL REFERENCES applications(id),
    step_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    matter_code TEXT NOT NULL,
    department_code TEXT NOT NULL,
    needs_json TEXT NOT NULL,
    time_limit_days INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'ready', 'in_progress', 'done', 'refused')),
    reason TEXT,
    ready_at INTEGER,
    deadline_at INTEGER,
    started_at INTEGER,
    finished_at INTEGER,
    clerk_id INTEGER REFERENCES users(id),
    escalated_at INTEGER,
    PRIMARY KEY (application_id, step_id)
);
-- A department's queue: its ready and running steps by deadline.
CREATE INDEX application_steps_queue ON application_steps(department_code, state, deadline_at);

CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    material_code TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    uploaded_by INTEGER NOT NULL REFERENCES users(id),
    uploaded_at INTEGER NOT NULL
);
CREATE INDEX uploads_application ON uploads(application_id, material_code);

-- The outbox: in-app notices are read from here; e-mail and SMS senders drain their channel.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES users(id),
    department_code TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('in_app', 'email', 'sms')),
    kind TEXT NOT NULL,
    body_json TEXT NOT NULL,
    application_id INTEGER REFERENCES applications(id),
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    read_at INTEGER
);
CREATE INDEX notifications_user ON notifications(user_id, id);
CREATE INDEX notifications_department ON notifications(department_code, id);
CREATE INDEX notifications_unsent ON notifications(channel, sent_at, id);

-- 好差评: one rating per application and department, 5 非常满意 … 1 非常不满意.
CREATE TABLE ratings (
    application_id INTEGER NOT NULL REFERENCES applications(id),
    department_code TEXT NOT NULL,
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    comment TEXT NOT NULL,
    rated_by INTEGER NOT NULL REFERENCES users(id),
    rated_at INTEGER NOT NULL,
    PRIMARY KEY (application_id, department_code)
);
CREATE INDEX ratings_department ON ratings(department_code);

-- A rating of 不满意 or worse opens one; the department must answer it.
CREATE TABLE rectifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id INTEGER NOT NULL REFERENCES applications(id),
    department_code TEXT NOT NULL,
    level INTEGER NOT NULL,
    comment TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    answer TEXT,
    answered_by INTEGER REFERENCES users(id),
    answered_at INTEGER,
    UNIQUE (application_id, department_code)
);
CREATE INDEX rectifications_department ON rectifications(department_code, answered_at);

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    application_id INTEGER NOT NULL UNIQUE REFERENCES applications(id),
    kind TEXT NOT NULL,
    credit_code TEXT NOT NULL UNIQUE,
    company_name TEXT NOT NULL,
    licence_json TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    pdf BLOB NOT NULL,
    issued_at INTEGER NOT NULL
);

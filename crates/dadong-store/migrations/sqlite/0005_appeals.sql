-- Enterprise service and daily dispatch (包保服务、日调度): who is responsible for which
-- enterprise and project, visits, appeals with their routing rules and event history,
-- follow-up calls, key enterprises' daily figures and monthly plans, and dispatch tasks.
-- Times are milliseconds since the Unix epoch; dates 'YYYY-MM-DD'; periods YYYYMM; money fen.

-- Leaders and cadres responsible (包保) for an enterprise (target = credit code) or a major
-- project (target = project id). A cadre's enterprises are also kept in user_assignments,
-- which the sign-in scope reads.
CREATE TABLE service_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'project')),
    target TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id),
    duty TEXT NOT NULL CHECK (duty IN ('leader', 'cadre')),
    created_at INTEGER NOT NULL,
    UNIQUE (kind, target, user_id)
);
CREATE INDEX service_assignments_user ON service_assignments(user_id, kind);

CREATE TABLE visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'project')),
    target TEXT NOT NULL,
    visit_date TEXT NOT NULL,
    people_met TEXT NOT NULL,
    findings TEXT NOT NULL,
    problems TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX visits_target ON visits(kind, target, visit_date);
CREATE INDEX visits_user ON visits(user_id, visit_date);

-- Routing rules as data: one per category at most; 'other' catches the rest.
CREATE TABLE appeal_rules (
    category TEXT PRIMARY KEY CHECK (category IN ('labour', 'funding', 'supply_chain', 'approval', 'land', 'other')),
    department_id INTEGER NOT NULL REFERENCES departments(id),
    reply_days INTEGER NOT NULL CHECK (reply_days BETWEEN 1 AND 60),
    resolve_days INTEGER NOT NULL CHECK (resolve_days BETWEEN reply_days AND 60),
    updated_at INTEGER NOT NULL
);

-- due_at is the deadline that counts now (reply, then resolve), NULL once none runs, so
-- that the escalation sweep and the overdue lists read one index.
CREATE TABLE appeals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    credit_code TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('labour', 'funding', 'supply_chain', 'approval', 'land', 'other')),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('raised', 'routed', 'accepted', 'replied', 'resolved', 'closed')),
    department_id INTEGER REFERENCES departments(id),
    raised_by INTEGER REFERENCES users(id),
    visit_id INTEGER REFERENCES visits(id),
    reply_days INTEGER NOT NULL,
    resolve_days INTEGER NOT NULL,
    raised_at INTEGER NOT NULL,
    routed_at INTEGER,
    reply_due INTEGER,
    resolve_due INTEGER,
    due_at INTEGER,
    accepted_at INTEGER,
    replied_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    satisfaction INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
    escalation INTEGER NOT NULL DEFAULT 0 CHECK (escalation BETWEEN 0 AND 2),
    escalated_at INTEGER,
    reopened INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);
CREATE INDEX appeals_company ON appeals(credit_code, status);
CREATE INDEX appeals_department ON appeals(department_id, status);
CREATE INDEX appeals_due ON appeals(due_at);
CREATE INDEX appeals_raised ON appeals(raised_at);
CREATE INDEX appeals_resolved ON appeals(resolved_at);
CREATE INDEX appeals_closed ON appeals(closed_at);
CREATE INDEX appeals_escalation ON appeals(escalation, due_at);

-- Every step of an appeal's life, with the words of the reply or note.
CREATE TABLE appeal_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appeal_id INTEGER NOT NULL REFERENCES appeals(id),
    at INTEGER NOT NULL,
    user_id INTEGER REFERENCES users(id),
    kind TEXT NOT NULL,
    status_after TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX appeal_events_appeal ON appeal_events(appeal_id, id);

-- Follow-up calls (回访) to a sample of closed appeals.
CREATE TABLE follow_up_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    appeal_id INTEGER NOT NULL UNIQUE REFERENCES appeals(id),
    user_id INTEGER REFERENCES users(id),
    called_at INTEGER NOT NULL,
    reached INTEGER NOT NULL CHECK (reached IN (0, 1)),
    satisfaction INTEGER CHECK (satisfaction BETWEEN 1 AND 5),
    note TEXT NOT NULL
);

CREATE TABLE key_enterprises (
    credit_code TEXT PRIMARY KEY,
    added_at INTEGER NOT NULL
);

CREATE TABLE monthly_plans (
    credit_code TEXT NOT NULL REFERENCES key_enterprises(credit_code),
    period INTEGER NOT NULL,
    metric TEXT NOT NULL CHECK (metric IN ('output', 'orders', 'headcount', 'parts_stock')),
    value INTEGER NOT NULL CHECK (value >= 0),
    PRIMARY KEY (credit_code, period, metric)
);

CREATE TABLE daily_figures (
    credit_code TEXT NOT NULL REFERENCES key_enterprises(credit_code),
    day TEXT NOT NULL,
    metric TEXT NOT NULL CHECK (metric IN ('output', 'orders', 'headcount', 'parts_stock')),
    value INTEGER NOT NULL CHECK (value >= 0),
    recorded_by INTEGER REFERENCES users(id),
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (credit_code, day, metric)
);

CREATE TABLE dispatch_tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    owner_user_id INTEGER NOT NULL REFERENCES users(id),
    due_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'done')),
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    done_at INTEGER
);
CREATE INDEX dispatch_tasks_due ON dispatch_tasks(status, due_date);

-- Enterprise service and daily dispatch (包保服务、日调度): who is responsible for which
-- enterprise and project, visits, appeals with their routing rules and event history,
-- follow-up calls, key enterprises' daily figures and monthly plans, and dispatch tasks.
-- Times are milliseconds since the Unix epoch; dates 'YYYY-MM-DD'; periods YYYYMM; money fen.

-- Leaders and cadres responsible (包保) for an enterprise (target = credit code) or a major
-- project (target = project id). A cadre's enterprises are also kept in user_assignments,
-- which the sign-in scope reads.
CREATE TABLE service_assignments (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'project')),
    target TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    duty TEXT NOT NULL CHECK (duty IN ('leader', 'cadre')),
    created_at BIGINT NOT NULL,
    UNIQUE (kind, target, user_id)
);
CREATE INDEX service_assignments_user ON service_assignments(user_id, kind);

CREATE TABLE visits (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('enterprise', 'project')),
    target TEXT NOT NULL,
    visit_date TEXT NOT NULL,
    people_met TEXT NOT NULL,
    findings TEXT NOT NULL,
    problems TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX visits_target ON visits(kind, target, visit_date);
CREATE INDEX visits_user ON visits(user_id, visit_date);

-- Routing rules as data: one per category at most; 'other' catches the rest.
CREATE TABLE appeal_rules (
    category TEXT PRIMARY KEY CHECK (category IN ('labour', 'funding', 'supply_chain', 'approval', 'land', 'other')),
    department_id BIGINT NOT NULL REFERENCES departments(id),
    reply_days BIGINT NOT NULL CHECK (reply_days BETWEEN 1 AND 60),
    resolve_days BIGINT NOT NULL CHECK (resolve_days BETWEEN reply_days AND 60),
    updated_at BIGINT NOT NULL
);

-- due_at is the deadline that counts now (reply, then resolve), NULL once none runs, so
-- that the escalation sweep and the overdue lists read one index.
CREATE TABLE appeals (
    id BIGSERIAL PRIMARY KEY,
    credit_code TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('labour', 'funding', 'supply_chain', 'approval', 'land', 'other')),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('raised', 'routed', 'accepted', 'replied', 'resolved', 'closed')),
    department_id BIGINT REFERENCES departments(id),
    raised_by BIGINT REFERENCES users(id),
    visit_id BIGINT REFERENCES visits(id),
    reply_days BIGINT NOT NULL,
    resolve_days BIGINT NOT NULL,
    raised_at BIGINT NOT NULL,
    routed_at BIGINT,
    reply_due BIGINT,
    resolve_due BIGINT,
    due_at BIGINT,
    accepted_at BIGINT,
    replied_at BIGINT,
    resolved_at BIGINT,
    closed_at BIGINT,
    satisfaction BIGINT CHECK (satisfaction BETWEEN 1 AND 5),
    escalation BIGINT NOT NULL DEFAULT 0 CHECK (escalation BETWEEN 0 AND 2),
    escalated_at BIGINT,
    reopened BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
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
    id BIGSERIAL PRIMARY KEY,
    appeal_id BIGINT NOT NULL REFERENCES appeals(id),
    at BIGINT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    kind TEXT NOT NULL,
    status_after TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX appeal_events_appeal ON appeal_events(appeal_id, id);

-- Follow-up calls (回访) to a sample of closed appeals.
CREATE TABLE follow_up_calls (
    id BIGSERIAL PRIMARY KEY,
    appeal_id BIGINT NOT NULL UNIQUE REFERENCES appeals(id),
    user_id BIGINT REFERENCES users(id),
    called_at BIGINT NOT NULL,
    reached BIGINT NOT NULL CHECK (reached IN (0, 1)),
    satisfaction BIGINT CHECK (satisfaction BETWEEN 1 AND 5),
    note TEXT NOT NULL
);

CREATE TABLE key_enterprises (
    credit_code TEXT PRIMARY KEY,
    added_at BIGINT NOT NULL
);

CREATE TABLE monthly_plans (
    credit_code TEXT NOT NULL REFERENCES key_enterprises(credit_code),
    period BIGINT NOT NULL,
    metric TEXT NOT NULL CHECK (metric IN ('output', 'orders', 'headcount', 'parts_stock')),
    value BIGINT NOT NULL CHECK (value >= 0),
    PRIMARY KEY (credit_code, period, metric)
);

CREATE TABLE daily_figures (
    credit_code TEXT NOT NULL REFERENCES key_enterprises(credit_code),
    day TEXT NOT NULL,
    metric TEXT NOT NULL CHECK (metric IN ('output', 'orders', 'headcount', 'parts_stock')),
    value BIGINT NOT NULL CHECK (value >= 0),
    recorded_by BIGINT REFERENCES users(id),
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (credit_code, day, metric)
);

CREATE TABLE dispatch_tasks (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    owner_user_id BIGINT NOT NULL REFERENCES users(id),
    due_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'done')),
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX dispatch_tasks_due ON dispatch_tasks(status, due_date);

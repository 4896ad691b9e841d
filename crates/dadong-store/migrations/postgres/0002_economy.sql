-- The economy: the registry of market entities and enterprises, the indicator catalog and
-- monthly values, other districts' published figures, and major projects with their stages.
-- Dates are 'YYYY-MM-DD' text; periods are integers YYYYMM (so the same month a year earlier
-- is period - 100); values are integers in hundredths of the indicator's unit.

CREATE TABLE market_entities (
    credit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('company', 'individual')),
    registered TEXT NOT NULL,
    deregistered TEXT
);
CREATE INDEX market_entities_registered ON market_entities(registered);

CREATE TABLE enterprises (
    credit_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    industry TEXT NOT NULL,
    above_size BIGINT NOT NULL CHECK (above_size IN (0, 1)),
    park TEXT,
    registered TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX enterprises_industry ON enterprises(industry);

CREATE TABLE enterprise_tags (
    credit_code TEXT NOT NULL REFERENCES enterprises(credit_code),
    tag TEXT NOT NULL,
    entered TEXT NOT NULL,
    PRIMARY KEY (credit_code, tag)
);
CREATE INDEX enterprise_tags_tag ON enterprise_tags(tag, entered);

CREATE TABLE indicators (
    code TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    unit TEXT NOT NULL,
    aggregation TEXT NOT NULL CHECK (aggregation IN ('flow', 'stock'))
);
INSERT INTO indicators (code, name_zh, name_en, unit, aggregation) VALUES
    ('industrial_output', '规模以上工业总产值', 'Industrial output', 'yuan', 'flow'),
    ('retail_sales', '限额以上社会消费品零售额', 'Retail sales above quota', 'yuan', 'flow'),
    ('revenue', '营业收入', 'Revenue', 'yuan', 'flow'),
    ('employees', '从业人员', 'Employees', 'persons', 'stock'),
    ('vehicles', '整车产量', 'Vehicles built', 'units', 'flow'),
    ('investment', '固定资产投资', 'Fixed-asset investment', 'yuan', 'flow');

CREATE TABLE indicator_values (
    credit_code TEXT NOT NULL REFERENCES enterprises(credit_code),
    indicator TEXT NOT NULL REFERENCES indicators(code),
    period BIGINT NOT NULL,
    value BIGINT NOT NULL CHECK (value >= 0),
    PRIMARY KEY (credit_code, indicator, period)
);
CREATE INDEX indicator_values_period ON indicator_values(indicator, period);

CREATE TABLE district_figures (
    district TEXT NOT NULL,
    indicator TEXT NOT NULL REFERENCES indicators(code),
    period BIGINT NOT NULL,
    total BIGINT NOT NULL,
    growth_tenths BIGINT,
    PRIMARY KEY (district, indicator, period)
);

CREATE TABLE projects (
    project_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    investment BIGINT NOT NULL CHECK (investment >= 0),
    industry TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('industrial', 'commercial', 'livelihood', 'infrastructure')),
    signed TEXT,
    landed TEXT,
    started TEXT,
    completed TEXT,
    cadre_user_id BIGINT REFERENCES users(id),
    updated_at BIGINT NOT NULL
);

-- Each stage a project reached, with the date, as it became known.
CREATE TABLE project_stages (
    id BIGSERIAL PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    stage TEXT NOT NULL CHECK (stage IN ('signed', 'landed', 'started', 'completed')),
    stage_date TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
CREATE INDEX project_stages_project ON project_stages(project_id);

-- One row per import, the record an analyst sees of what was loaded when.
CREATE TABLE imports (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    rows_count BIGINT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);

-- Per-month sums of the above-size enterprises' values, kept up to date by every import, so
-- that a bulletin reads a few hundred rows instead of every value of the period.
-- dim is 'all' (dim_key ''), 'industry' (the code's first three characters), 'park' or 'tag'.
-- paired_total and paired_prior sum the (enterprise, month) pairs that also have a value in
-- the same month a year earlier: the comparable scope (同口径) of the growth rate.
CREATE TABLE indicator_rollups (
    indicator TEXT NOT NULL REFERENCES indicators(code),
    period BIGINT NOT NULL,
    dim TEXT NOT NULL CHECK (dim IN ('all', 'industry', 'park', 'tag')),
    dim_key TEXT NOT NULL,
    total BIGINT NOT NULL,
    paired_total BIGINT NOT NULL,
    paired_prior BIGINT NOT NULL,
    PRIMARY KEY (indicator, dim, period, dim_key)
);

-- Counting the registry at a date reads this index alone.
CREATE INDEX market_entities_registry ON market_entities(registered, deregistered);

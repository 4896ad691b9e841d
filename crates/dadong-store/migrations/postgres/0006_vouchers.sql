-- Consumption vouchers (乐享大东): campaigns, kinds, vouchers, merchants, redemptions,
-- settlements, the per-campaign ledger and fraud flags. Money in fen, times in ms.

-- The voucher signing key's seed, encrypted with the personal-data key; one row.
CREATE TABLE voucher_keys (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seed_enc TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A campaign row is also its ledger's head (seq, hash) and holds the budget left, so that
-- locking it serialises everything that moves the campaign's money.
CREATE TABLE voucher_campaigns (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    budget_fen BIGINT NOT NULL CHECK (budget_fen > 0),
    budget_remaining_fen BIGINT NOT NULL CHECK (budget_remaining_fen >= 0),
    per_person_limit BIGINT NOT NULL CHECK (per_person_limit >= 1),
    claim_mode TEXT NOT NULL CHECK (claim_mode IN ('first_come','lottery')),
    claim_start BIGINT NOT NULL,
    claim_end BIGINT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    ledger_seq BIGINT NOT NULL,
    ledger_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE voucher_kinds (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES voucher_campaigns(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL CHECK (category IN ('housing','car','appliance','department_store','catering')),
    threshold_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL CHECK (discount_fen > 0),
    stock_total BIGINT NOT NULL,
    stock_remaining BIGINT NOT NULL CHECK (stock_remaining >= 0),
    UNIQUE (campaign_id, name)
);

CREATE TABLE voucher_merchants (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT REFERENCES users(id),
    credit_code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voucher_merchants_user ON voucher_merchants(user_id);

-- A merchant is approved per category.
CREATE TABLE voucher_merchant_categories (
    merchant_id BIGINT NOT NULL REFERENCES voucher_merchants(id),
    category TEXT NOT NULL CHECK (category IN ('housing','car','appliance','department_store','catering')),
    status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected')),
    decided_at BIGINT,
    PRIMARY KEY (merchant_id, category)
);

CREATE TABLE voucher_settlements (
    id BIGSERIAL PRIMARY KEY,
    merchant_id BIGINT NOT NULL REFERENCES voucher_merchants(id),
    day TEXT NOT NULL,
    vouchers BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    purchase_fen BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voucher_settlements_merchant ON voucher_settlements(merchant_id, day);

-- One row per voucher. (campaign, citizen, slot) unique with slot 1..limit: the database
-- itself refuses a voucher beyond the per-person limit; (campaign, citizen, key) unique: a
-- retried claim finds its voucher. citizen_id is a user id, checked at the edge.
CREATE TABLE vouchers (
    id BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES voucher_campaigns(id),
    kind_id BIGINT NOT NULL REFERENCES voucher_kinds(id),
    citizen_id BIGINT NOT NULL,
    slot BIGINT NOT NULL CHECK (slot >= 1),
    idem_key TEXT NOT NULL,
    discount_fen BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('claimed','redeemed','settled','expired')),
    device TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    redeemed_by BIGINT REFERENCES voucher_merchants(id),
    redeemed_at BIGINT,
    purchase_fen BIGINT,
    settlement_id BIGINT REFERENCES voucher_settlements(id),
    UNIQUE (campaign_id, citizen_id, slot),
    UNIQUE (campaign_id, citizen_id, idem_key)
);
CREATE INDEX vouchers_citizen ON vouchers(citizen_id);
CREATE INDEX vouchers_status ON vouchers(status, campaign_id);
CREATE INDEX vouchers_redeemed_by ON vouchers(redeemed_by, redeemed_at);

-- The append-only history of scans and refunds.
CREATE TABLE voucher_redemptions (
    id BIGSERIAL PRIMARY KEY,
    voucher_id BIGINT NOT NULL REFERENCES vouchers(id),
    merchant_id BIGINT NOT NULL REFERENCES voucher_merchants(id),
    action TEXT NOT NULL CHECK (action IN ('redeem','refund')),
    purchase_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX voucher_redemptions_merchant ON voucher_redemptions(merchant_id, at);

-- The ledger: a hash chain of double-entry movements per campaign.
CREATE TABLE voucher_ledger (
    campaign_id BIGINT NOT NULL REFERENCES voucher_campaigns(id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    voucher_kind_id BIGINT,
    voucher_id BIGINT,
    count BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    at BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (campaign_id, seq)
);

-- Lottery campaigns: who registered for which kind.
CREATE TABLE voucher_registrations (
    campaign_id BIGINT NOT NULL REFERENCES voucher_campaigns(id),
    citizen_id BIGINT NOT NULL,
    kind_id BIGINT NOT NULL REFERENCES voucher_kinds(id),
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, citizen_id, kind_id)
);

CREATE TABLE voucher_fraud_flags (
    flag_key TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open','cleared','confirmed')),
    raised_at BIGINT NOT NULL,
    reviewed_at BIGINT
);

-- The lottery claim mode (SPEC section 6). Registrations are kept in voucher_registrations
-- (migration 0006, one row per campaign, citizen and kind); this adds the draw itself.

-- One row per drawn campaign: the primary key makes a campaign drawable at most once. The
-- seed came from the operating system's CSPRNG; with it anyone can recompute the winners
-- from the registrations (dadong_vouchers::lottery::draw). drawn_by is the administrator's
-- user id (NULL when drawn from the command line). The stock and budget the draw was given
-- are kept so that the recomputation needs nothing that changes later.
CREATE TABLE voucher_draws (
    campaign_id BIGINT PRIMARY KEY REFERENCES voucher_campaigns(id),
    seed TEXT NOT NULL,
    drawn_at BIGINT NOT NULL,
    drawn_by BIGINT REFERENCES users(id),
    registrations BIGINT NOT NULL CHECK (registrations >= 0),
    winners BIGINT NOT NULL CHECK (winners >= 0 AND winners <= registrations),
    budget_fen BIGINT NOT NULL,
    stock_json TEXT NOT NULL
);

-- A citizen's registrations are looked up for the campaign page.
CREATE INDEX voucher_registrations_citizen ON voucher_registrations(citizen_id, campaign_id);

//! Consumption vouchers in the store: campaigns and kinds, merchants approved per category,
//! the group-committed claim batch, redemption exactly once, refunds, expiry back to the
//! budget, the daily settlement, the per-campaign ledger and its verification.
//!
//! Everything that moves a campaign's money first locks the campaign's row (`FOR UPDATE` on
//! PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers). The row holds the
//! budget left and the ledger's head, so the ledger chain, the budget and the stock are
//! always read and written by one transaction at a time per campaign, whichever process runs
//! it. Claims and redemptions are recorded in the ledger; the administrative acts around
//! them (campaigns, merchants, settlements) in the audit chain.

use crate::{Backend, PerBackend, Result, Store, StoreError, audit, fetch_json_rows, ids_from_json, json_array_of, json_rows};
use dadong_domain::CreditCode;
use dadong_vouchers::claim::{CampaignState, ClaimOutcome, ClaimRefusal, ClaimRequest, Holdings, KindState, NewVoucher, decide_batch};
use dadong_vouchers::ledger::{CampaignFacts, ChainWalker, Entry, EntryKind, GENESIS_HASH, KindFacts, LedgerBreak, VoucherSums, next_entry, reconcile};
use dadong_vouchers::redeem::{MerchantFacts, RedeemRefusal, VoucherFacts, VoucherStatus, check_redemption, check_refund};
use dadong_vouchers::token::{VoucherKey, VoucherToken};
use dadong_vouchers::{CampaignSpec, Category, ClaimMode};
use futures::TryStreamExt;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub budget_fen: i64,
    pub budget_remaining_fen: i64,
    pub per_person_limit: i64,
    pub claim_mode: String,
    pub claim_start_ms: i64,
    pub claim_end_ms: i64,
    pub valid_from_ms: i64,
    pub valid_until_ms: i64,
    pub active: bool,
    pub kinds: Vec<Kind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kind {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub threshold_fen: i64,
    pub discount_fen: i64,
    pub stock_total: i64,
    pub stock_remaining: i64,
}

/// A voucher as its holder or a reviewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voucher {
    pub id: i64,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub kind_id: i64,
    pub kind_name: String,
    pub category: String,
    pub threshold_fen: i64,
    pub discount_fen: i64,
    pub citizen_id: i64,
    pub status: String,
    pub claimed_at_ms: i64,
    pub valid_until_ms: i64,
    pub redeemed_by: Option<i64>,
    pub redeemed_at_ms: Option<i64>,
    pub purchase_fen: Option<i64>,
}

/// A claim as it arrives at the engine: the request and the device fingerprint it came
/// from (for the fraud rules; empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingClaim {
    pub campaign_id: i64,
    pub request: ClaimRequest,
    pub device: String,
}

/// The answer to one claim, given only after the batch holding it is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimAnswer {
    Granted { voucher_id: i64, kind_id: i64, replayed: bool },
    Refused { reason: ClaimRefusal },
}

/// Why a scan or refund did not happen: a rule (nothing changed), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("{0}")]
    Refused(RedeemRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RedeemError {
    fn from(e: sqlx::Error) -> Self {
        RedeemError::Store(e.into())
    }
}

/// What a merchant sees after a successful scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub voucher_id: i64,
    pub campaign_id: i64,
    pub kind_name: String,
    pub purchase_fen: i64,
    pub discount_fen: i64,
    pub pay_fen: i64,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merchant {
    pub id: i64,
    pub user_id: Option<i64>,
    pub credit_code: String,
    pub name: String,
    /// (category, status) per category applied for.
    pub categories: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub id: i64,
    pub merchant_id: i64,
    pub merchant_name: String,
    pub credit_code: String,
    pub day: String,
    pub vouchers: i64,
    pub discount_fen: i64,
    pub purchase_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedemptionRow {
    pub id: i64,
    pub voucher_id: i64,
    pub action: String,
    pub purchase_fen: i64,
    pub discount_fen: i64,
    pub at_ms: i64,
}

/// The outcome of `dadong ledger verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    pub campaigns: i64,
    pub entries: i64,
    pub vouchers: i64,
    pub breaks: Vec<LedgerBreak>,
}

fn campaign_lock_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "SELECT claim_mode, active, claim_start, claim_end, per_person_limit, budget_remaining_fen, ledger_seq, ledger_hash, valid_from, valid_until FROM voucher_campaigns WHERE id = $1 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT claim_mode, active, claim_start, claim_end, per_person_limit, budget_remaining_fen, ledger_seq, ledger_hash, valid_from, valid_until FROM voucher_campaigns WHERE id = $1"
        }
    }
}

/// A campaign's row, locked for the rest of the transaction.
pub(crate) struct Locked {
    pub mode: ClaimMode,
    pub active: bool,
    pub claim_start: i64,
    pub claim_end: i64,
    pub per_person_limit: i64,
    pub budget_remaining: i64,
    pub seq: i64,
    pub hash: String,
    pub valid_from: i64,
    pub valid_until: i64,
}

pub(crate) async fn lock_campaign(conn: &mut AnyConnection, backend: Backend, campaign_id: i64) -> Result<Option<Locked>> {
    let row = sqlx::query(campaign_lock_sql(backend)).bind(campaign_id).fetch_optional(&mut *conn).await?;
    let Some(r) = row else { return Ok(None) };
    let mode: String = r.try_get(0)?;
    Ok(Some(Locked {
        mode: ClaimMode::parse(&mode).unwrap_or(ClaimMode::FirstCome),
        active: r.try_get::<i64, _>(1)? == 1,
        claim_start: r.try_get(2)?,
        claim_end: r.try_get(3)?,
        per_person_limit: r.try_get(4)?,
        budget_remaining: r.try_get(5)?,
        seq: r.try_get(6)?,
        hash: r.try_get(7)?,
        valid_from: r.try_get(8)?,
        valid_until: r.try_get(9)?,
    }))
}

/// One ledger movement to append: kind, voucher kind, voucher, count, amount in fen.
type Move = (EntryKind, Option<i64>, Option<i64>, i64, i64);

/// The ledger's columns as [`append_entries`] passes them, one JSON object per entry.
const LEDGER_COLUMNS: &[(&str, &str)] = &[
    ("campaign_id", "bigint"),
    ("seq", "bigint"),
    ("kind", "text"),
    ("voucher_kind_id", "bigint"),
    ("voucher_id", "bigint"),
    ("count", "bigint"),
    ("amount_fen", "bigint"),
    ("at", "bigint"),
    ("prev_hash", "text"),
    ("hash", "text"),
];

/// Appends ledger entries after the locked head and returns the new head. The entries go in
/// as one JSON parameter per statement: thousands of placeholders cost SQLite time that
/// grows with their square (each bind looks its name up in a list).
async fn append_entries(
    conn: &mut AnyConnection,
    backend: Backend,
    campaign_id: i64,
    head: (i64, String),
    moves: &[Move],
    at_ms: i64,
) -> Result<(i64, String)> {
    let (mut seq, mut hash) = head;
    let mut entries = Vec::with_capacity(moves.len());
    for &(kind, kind_id, voucher_id, count, amount) in moves {
        let e = next_entry(campaign_id, seq, &hash, kind, kind_id, voucher_id, count, amount, at_ms);
        seq = e.seq;
        hash = e.hash.clone();
        entries.push(e);
    }
    static SQL: PerBackend = PerBackend::new();
    let sql = SQL.get(backend, |b| {
        let columns: Vec<&str> = LEDGER_COLUMNS.iter().map(|(c, _)| *c).collect();
        format!(
            "INSERT INTO voucher_ledger ({}) SELECT t.{} FROM {} ORDER BY t.seq",
            columns.join(", "),
            columns.join(", t."),
            json_rows(b, 1, LEDGER_COLUMNS)
        )
    });
    for chunk in entries.chunks(10_000) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|e| {
                json!({
                    "campaign_id": e.campaign_id, "seq": e.seq, "kind": e.kind.code(), "voucher_kind_id": e.voucher_kind_id,
                    "voucher_id": e.voucher_id, "count": e.count, "amount_fen": e.amount_fen, "at": e.at_ms,
                    "prev_hash": e.prev_hash, "hash": e.hash,
                })
            })
            .collect();
        sqlx::query(AssertSqlSafe(sql))
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok((seq, hash))
}

async fn set_head(conn: &mut AnyConnection, campaign_id: i64, budget_remaining: i64, head: &(i64, String)) -> Result<()> {
    sqlx::query("UPDATE voucher_campaigns SET budget_remaining_fen = $1, ledger_seq = $2, ledger_hash = $3 WHERE id = $4")
        .bind(budget_remaining)
        .bind(head.0)
        .bind(&head.1)
        .bind(campaign_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A new voucher's own values as [`issue_vouchers`] passes them, one JSON object each.
#[derive(Serialize)]
struct VoucherRow<'a> {
    k: i64,
    c: i64,
    s: i64,
    key: &'a str,
    d: i64,
    dev: &'a str,
}

const VOUCHER_ROW_COLUMNS: &[(&str, &str)] = &[
    ("k", "bigint"),
    ("c", "bigint"),
    ("s", "bigint"),
    ("key", "text"),
    ("d", "bigint"),
    ("dev", "text"),
];

/// Vouchers granted under a campaign's lock, to be written: by a claim batch (from
/// `decide_batch`) or by a lottery draw (from `lottery::draw`).
pub(crate) struct Issue<'a> {
    pub vouchers: &'a [NewVoucher],
    /// The device each voucher came from, index for index (empty when none).
    pub devices: &'a [&'a str],
    /// Per kind id: vouchers granted and their total discount.
    pub taken: &'a [(i64, i64, i64)],
    pub budget_taken_fen: i64,
}

/// Writes granted vouchers the one way every issuing path shares: the rows in one statement
/// per 10,000 (as one JSON parameter), the stock decremented with a guard, one `claim` ledger
/// entry per kind and the new head and budget on the campaign row. The caller holds the
/// campaign's lock (`locked` is what it read) and commits. Returns the new vouchers' ids by
/// (citizen, slot).
pub(crate) async fn issue_vouchers(
    conn: &mut AnyConnection,
    backend: Backend,
    campaign_id: i64,
    locked: &Locked,
    issue: &Issue<'_>,
    now_ms: i64,
) -> Result<HashMap<(i64, i64), i64>> {
    let mut ids: HashMap<(i64, i64), i64> = HashMap::with_capacity(issue.vouchers.len());
    // The rows travel as ONE JSON parameter that the database unpacks: one short
    // statement, prepared once, instead of thousands of bound parameters to parse.
    static INSERT: PerBackend = PerBackend::new();
    let insert = INSERT.get(backend, |b| {
        format!(
            "INSERT INTO vouchers (campaign_id, status, claimed_at, kind_id, citizen_id, slot, idem_key, discount_fen, device) \
             SELECT $1, 'claimed', $2, t.k, t.c, t.s, t.key, t.d, t.dev FROM {}",
            json_rows(b, 3, VOUCHER_ROW_COLUMNS)
        )
    });
    // The new ids, read back by the (campaign, citizen, slot) key as one grouped row rather
    // than through RETURNING, whose rows would cross one by one.
    static IDS: PerBackend = PerBackend::new();
    let ids_sql = IDS.get(backend, |b| {
        format!(
            "SELECT {} FROM (SELECT v.citizen_id AS c, v.slot AS s, v.id AS id FROM {} CROSS JOIN vouchers v \
             WHERE v.campaign_id = $1 AND v.citizen_id = t.c AND v.slot = t.s) x",
            json_array_of(b, "x.c, x.s, x.id"),
            json_rows(b, 2, &[("c", "bigint"), ("s", "bigint")])
        )
    });
    for (chunk_no, chunk) in issue.vouchers.chunks(10_000).enumerate() {
        let rows: Vec<VoucherRow> = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| VoucherRow {
                k: v.kind_id,
                c: v.citizen_id,
                s: v.slot,
                key: &v.idempotency_key,
                d: v.discount_fen,
                dev: issue.devices[chunk_no * 10_000 + i],
            })
            .collect();
        let payload = serde_json::to_string(&rows).map_err(|e| StoreError::Config(format!("voucher rows: {e}")))?;
        sqlx::query(AssertSqlSafe(insert))
            .bind(campaign_id)
            .bind(now_ms)
            .bind(&payload)
            .execute(&mut *conn)
            .await?;
        let issued: Vec<(i64, i64, i64)> = fetch_json_rows(sqlx::query(AssertSqlSafe(ids_sql)).bind(campaign_id).bind(payload), conn).await?;
        ids.extend(issued.into_iter().map(|(c, s, id)| ((c, s), id)));
    }
    for &(kind_id, n, _) in issue.taken {
        // The condition is a second guard: the decision already kept the stock whole.
        let done = sqlx::query("UPDATE voucher_kinds SET stock_remaining = stock_remaining - $1 WHERE id = $2 AND stock_remaining >= $1")
            .bind(n)
            .bind(kind_id)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("voucher kind {kind_id}: stock would go below zero")));
        }
    }
    if !issue.taken.is_empty() {
        let moves: Vec<_> = issue
            .taken
            .iter()
            .map(|&(kind_id, n, amount)| (EntryKind::Claim, Some(kind_id), None, n, amount))
            .collect();
        let head = append_entries(conn, backend, campaign_id, (locked.seq, locked.hash.clone()), &moves, now_ms).await?;
        set_head(conn, campaign_id, locked.budget_remaining - issue.budget_taken_fen, &head).await?;
    }
    Ok(ids)
}

fn status_of(code: &str) -> Result<VoucherStatus> {
    VoucherStatus::parse(code).ok_or_else(|| StoreError::Conflict(format!("unknown voucher status '{code}'")))
}

impl Store {
    /// The platform's voucher signing key, created on first use. The seed is stored
    /// encrypted with the personal-data key, which every server of one database shares.
    pub async fn voucher_key(&self) -> Result<VoucherKey> {
        let stored: Option<String> = sqlx::query_scalar("SELECT seed_enc FROM voucher_keys WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        let enc = match stored {
            Some(enc) => enc,
            None => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
                let key = VoucherKey::from_seed(&seed);
                sqlx::query("INSERT INTO voucher_keys (id, seed_enc, public_key, created_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(self.pii().encrypt(&hex::encode(seed)))
                    .bind(key.public_hex())
                    .bind(crate::now_ms())
                    .execute(self.pool())
                    .await?;
                // Another server may have won the race: everyone uses the stored key.
                sqlx::query_scalar("SELECT seed_enc FROM voucher_keys WHERE id = 1")
                    .fetch_one(self.pool())
                    .await?
            }
        };
        let seed_hex = self.pii().decrypt(&enc).map_err(|e| StoreError::Config(format!("voucher key: {e}")))?;
        let seed: [u8; 32] = hex::decode(seed_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| StoreError::Config("voucher key: the stored seed is not 32 bytes".into()))?;
        Ok(VoucherKey::from_seed(&seed))
    }

    /// The token a voucher's holder shows.
    pub fn voucher_token(key: &VoucherKey, v: &Voucher) -> String {
        key.sign(&VoucherToken {
            voucher_id: v.id,
            campaign_id: v.campaign_id,
            kind_id: v.kind_id,
            citizen_id: v.citizen_id,
        })
    }

    /// Creates a campaign with its kinds and funds its budget in the ledger.
    pub async fn create_campaign(&self, actor: &audit::Actor, spec: &CampaignSpec, now_ms: i64) -> Result<Campaign> {
        spec.validate().map_err(|e| StoreError::invalid(e.field, e.message))?;
        let mut tx = self.begin_write().await?;
        let name = spec.name.trim();
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM voucher_campaigns WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::invalid("name", format!("a campaign named '{name}' exists")));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO voucher_campaigns (name, budget_fen, budget_remaining_fen, per_person_limit, claim_mode, claim_start, claim_end, valid_from, valid_until, active, ledger_seq, ledger_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, 0, $10, $11) RETURNING id",
        )
        .bind(name)
        .bind(spec.budget_fen)
        .bind(0i64)
        .bind(spec.per_person_limit)
        .bind(spec.claim_mode.code())
        .bind(spec.claim_start_ms)
        .bind(spec.claim_end_ms)
        .bind(spec.valid_from_ms)
        .bind(spec.valid_until_ms)
        .bind(GENESIS_HASH)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        for k in &spec.kinds {
            sqlx::query(
                "INSERT INTO voucher_kinds (campaign_id, name, category, threshold_fen, discount_fen, stock_total, stock_remaining) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(id)
            .bind(k.name.trim())
            .bind(k.category.code())
            .bind(k.threshold_fen)
            .bind(k.discount_fen)
            .bind(k.stock)
            .execute(&mut *tx)
            .await?;
        }
        let head = append_entries(
            &mut tx,
            self.backend(),
            id,
            (0, GENESIS_HASH.to_string()),
            &[(EntryKind::Fund, None, None, 0, spec.budget_fen)],
            now_ms,
        )
        .await?;
        set_head(&mut tx, id, spec.budget_fen, &head).await?;
        let after = serde_json::to_value(spec).expect("serialisable");
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.campaign.create",
            &format!("voucher_campaign:{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        self.campaign(id).await?.ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))
    }

    /// Opens or closes a campaign's claim window early (an administrative act).
    pub async fn set_campaign_active(&self, actor: &audit::Actor, campaign_id: i64, active: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        lock_campaign(&mut tx, self.backend(), campaign_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign {campaign_id}")))?;
        sqlx::query("UPDATE voucher_campaigns SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(campaign_id)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.campaign.active",
            &format!("voucher_campaign:{campaign_id}"),
            None,
            Some(&json!({"active": active})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM voucher_campaigns ORDER BY claim_start DESC, id DESC")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = self.campaign(id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    pub async fn campaign(&self, id: i64) -> Result<Option<Campaign>> {
        let row = sqlx::query(
            "SELECT id, name, budget_fen, budget_remaining_fen, per_person_limit, claim_mode, claim_start, claim_end, valid_from, valid_until, active FROM voucher_campaigns WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let kinds = sqlx::query(
            "SELECT id, name, category, threshold_fen, discount_fen, stock_total, stock_remaining FROM voucher_kinds WHERE campaign_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|k| {
            Ok(Kind {
                id: k.try_get(0)?,
                name: k.try_get(1)?,
                category: k.try_get(2)?,
                threshold_fen: k.try_get(3)?,
                discount_fen: k.try_get(4)?,
                stock_total: k.try_get(5)?,
                stock_remaining: k.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(Campaign {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            budget_fen: r.try_get(2)?,
            budget_remaining_fen: r.try_get(3)?,
            per_person_limit: r.try_get(4)?,
            claim_mode: r.try_get(5)?,
            claim_start_ms: r.try_get(6)?,
            claim_end_ms: r.try_get(7)?,
            valid_from_ms: r.try_get(8)?,
            valid_until_ms: r.try_get(9)?,
            active: r.try_get::<i64, _>(10)? == 1,
            kinds,
        }))
    }

    /// Decides and writes one batch of claims on one campaign in ONE transaction, and
    /// returns every request's answer once it is committed (durable before acknowledged).
    pub async fn claim_batch(&self, campaign_id: i64, claims: &[PendingClaim], now_ms: i64) -> Result<Vec<ClaimAnswer>> {
        let mut tx = self.begin_write().await?;
        let Some(locked) = lock_campaign(&mut tx, self.backend(), campaign_id).await? else {
            return Ok(vec![
                ClaimAnswer::Refused {
                    reason: ClaimRefusal::CampaignNotFound
                };
                claims.len()
            ]);
        };
        let kinds: Vec<KindState> = sqlx::query("SELECT id, discount_fen, stock_remaining FROM voucher_kinds WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| {
                Ok(KindState {
                    kind_id: r.try_get(0)?,
                    discount_fen: r.try_get(1)?,
                    stock_remaining: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        // What this batch's citizens already hold, read under the lock: their counts, and the
        // stored vouchers whose keys this batch repeats (a superset filter on the unique key's
        // index, matched exactly in memory).
        let mut citizens: Vec<i64> = claims.iter().map(|c| c.request.citizen_id).collect();
        citizens.sort_unstable();
        citizens.dedup();
        let mut holdings = Holdings::default();
        // Both lookups take the batch as ONE JSON parameter joined to the unique key's index:
        // one statement each whatever the batch size (an OR-chain of pairs cost SQLite ~1.5 s).
        // A citizen's count is their highest slot, since slots run 1..n and no voucher is ever
        // deleted (`ledger verify` checks this): one index seek per citizen, where counting
        // their vouchers would read every one of them (17 ms a batch once 400 citizens hold
        // 50 each).
        static HELD_SQL: PerBackend = PerBackend::new();
        let held_sql = HELD_SQL.get(self.backend(), |b| {
            format!(
                "SELECT {} FROM (SELECT t.c AS c, (SELECT MAX(v.slot) FROM vouchers v WHERE v.campaign_id = $1 AND v.citizen_id = t.c) AS h FROM {}) x",
                json_array_of(b, "x.c, x.h"),
                json_rows(b, 2, &[("c", "bigint")])
            )
        });
        #[derive(Serialize)]
        struct Citizen {
            c: i64,
        }
        let payload: Vec<Citizen> = citizens.iter().map(|&c| Citizen { c }).collect();
        let payload = serde_json::to_string(&payload).map_err(|e| StoreError::Config(format!("citizens: {e}")))?;
        let held: Vec<(i64, Option<i64>)> = fetch_json_rows(sqlx::query(AssertSqlSafe(held_sql)).bind(campaign_id).bind(payload), &mut tx).await?;
        holdings.held.extend(held.into_iter().filter_map(|(c, h)| Some((c, h?))));
        // Only a citizen who holds vouchers already can be retrying: look up the keys of
        // those requests alone, by the unique key (campaign, citizen, key).
        let mut retries: Vec<(i64, &str)> = claims
            .iter()
            .filter(|c| holdings.held.contains_key(&c.request.citizen_id))
            .map(|c| (c.request.citizen_id, c.request.idempotency_key.as_str()))
            .collect();
        retries.sort_unstable();
        retries.dedup();
        if !retries.is_empty() {
            // CROSS JOIN keeps SQLite from scanning the vouchers first.
            static RETRY_SQL: PerBackend = PerBackend::new();
            let retry_sql = RETRY_SQL.get(self.backend(), |b| {
                format!(
                    "SELECT {} FROM (SELECT v.citizen_id AS c, v.idem_key AS ik, v.id AS id, v.kind_id AS k FROM {} CROSS JOIN vouchers v \
                     WHERE v.campaign_id = $1 AND v.citizen_id = t.c AND v.idem_key = t.k) x",
                    json_array_of(b, "x.c, x.ik, x.id, x.k"),
                    json_rows(b, 2, &[("c", "bigint"), ("k", "text")])
                )
            });
            #[derive(Serialize)]
            struct Retry<'a> {
                c: i64,
                k: &'a str,
            }
            let payload: Vec<Retry> = retries.iter().map(|&(c, k)| Retry { c, k }).collect();
            let payload = serde_json::to_string(&payload).map_err(|e| StoreError::Config(format!("retry keys: {e}")))?;
            let found: Vec<(i64, String, i64, i64)> = fetch_json_rows(sqlx::query(AssertSqlSafe(retry_sql)).bind(campaign_id).bind(payload), &mut tx).await?;
            holdings.keys.extend(found.into_iter().map(|(c, key, id, kind)| ((c, key), (id, kind))));
        }
        let state = CampaignState {
            campaign_id,
            mode: locked.mode,
            active: locked.active,
            claim_start_ms: locked.claim_start,
            claim_end_ms: locked.claim_end,
            per_person_limit: locked.per_person_limit,
            budget_remaining_fen: locked.budget_remaining,
            kinds,
        };
        let requests: Vec<ClaimRequest> = claims.iter().map(|c| c.request.clone()).collect();
        let decision = decide_batch(&state, &holdings, &requests, now_ms);
        // Which device each granted voucher came from.
        let mut device_of: Vec<&str> = vec![""; decision.new_vouchers.len()];
        for (c, o) in claims.iter().zip(&decision.outcomes) {
            if let ClaimOutcome::Granted { index } = o {
                device_of[*index] = &c.device;
            }
        }
        let ids = issue_vouchers(
            &mut tx,
            self.backend(),
            campaign_id,
            &locked,
            &Issue {
                vouchers: &decision.new_vouchers,
                devices: &device_of,
                taken: &decision.taken,
                budget_taken_fen: decision.budget_taken_fen,
            },
            now_ms,
        )
        .await?;
        tx.commit().await?;
        let answers = decision
            .outcomes
            .iter()
            .map(|o| match o {
                ClaimOutcome::Granted { index } => {
                    let v = &decision.new_vouchers[*index];
                    ClaimAnswer::Granted {
                        voucher_id: ids.get(&(v.citizen_id, v.slot)).copied().unwrap_or(0),
                        kind_id: v.kind_id,
                        replayed: false,
                    }
                }
                ClaimOutcome::Replayed { voucher_id, kind_id } => ClaimAnswer::Granted {
                    voucher_id: *voucher_id,
                    kind_id: *kind_id,
                    replayed: true,
                },
                ClaimOutcome::Refused(reason) => ClaimAnswer::Refused { reason: *reason },
            })
            .collect();
        Ok(answers)
    }

    /// A citizen's vouchers, newest first.
    pub async fn wallet(&self, citizen_id: i64) -> Result<Vec<Voucher>> {
        // By the (campaign, citizen, slot) key, one seek per campaign: there is no index on
        // the citizen alone (migration 10), since every claim would pay for it.
        self.vouchers_where("v.campaign_id IN (SELECT id FROM voucher_campaigns) AND v.citizen_id = $1", citizen_id)
            .await
    }

    pub async fn voucher(&self, voucher_id: i64) -> Result<Option<Voucher>> {
        Ok(self.vouchers_where("v.id = $1", voucher_id).await?.into_iter().next())
    }

    async fn vouchers_where(&self, condition: &str, value: i64) -> Result<Vec<Voucher>> {
        let sql = format!(
            "SELECT v.id, v.campaign_id, c.name, v.kind_id, k.name, k.category, k.threshold_fen, v.discount_fen, v.citizen_id, v.status, v.claimed_at, c.valid_until, v.redeemed_by, v.redeemed_at, v.purchase_fen \
             FROM vouchers v JOIN voucher_campaigns c ON c.id = v.campaign_id JOIN voucher_kinds k ON k.id = v.kind_id WHERE {condition} ORDER BY v.id DESC LIMIT 500"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(value).fetch_all(self.pool()).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Voucher {
                    id: r.try_get(0)?,
                    campaign_id: r.try_get(1)?,
                    campaign_name: r.try_get(2)?,
                    kind_id: r.try_get(3)?,
                    kind_name: r.try_get(4)?,
                    category: r.try_get(5)?,
                    threshold_fen: r.try_get(6)?,
                    discount_fen: r.try_get(7)?,
                    citizen_id: r.try_get(8)?,
                    status: r.try_get(9)?,
                    claimed_at_ms: r.try_get(10)?,
                    valid_until_ms: r.try_get(11)?,
                    redeemed_by: r.try_get(12)?,
                    redeemed_at_ms: r.try_get(13)?,
                    purchase_fen: r.try_get(14)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A merchant applies with its credit code for some categories (pending approval).
    pub async fn apply_merchant(
        &self,
        actor: &audit::Actor,
        user_id: Option<i64>,
        credit_code: &str,
        name: &str,
        categories: &[Category],
        now_ms: i64,
    ) -> Result<Merchant> {
        let code = CreditCode::parse(credit_code).map_err(|e| StoreError::invalid("credit_code", e.to_string()))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid("name", "1 to 100 characters"));
        }
        if categories.is_empty() {
            return Err(StoreError::invalid("categories", "apply for at least one category"));
        }
        let mut tx = self.begin_write().await?;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM voucher_merchants WHERE credit_code = $1")
            .bind(code.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::invalid("credit_code", "a merchant with this credit code has applied already"));
        }
        let id: i64 = sqlx::query_scalar("INSERT INTO voucher_merchants (user_id, credit_code, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(user_id)
            .bind(code.as_str())
            .bind(name)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
        let mut cats: Vec<Category> = categories.to_vec();
        cats.sort();
        cats.dedup();
        for c in &cats {
            sqlx::query("INSERT INTO voucher_merchant_categories (merchant_id, category, status) VALUES ($1, $2, 'pending')")
                .bind(id)
                .bind(c.code())
                .execute(&mut *tx)
                .await?;
        }
        let after = json!({"credit_code": code.as_str(), "name": name, "user_id": user_id, "categories": cats.iter().map(|c| c.code()).collect::<Vec<_>>()});
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.merchant.apply",
            &format!("voucher_merchant:{id}"),
            None,
            Some(&after),
        )
        .await?;
        tx.commit().await?;
        self.merchant(id).await?.ok_or_else(|| StoreError::NotFound(format!("merchant {id}")))
    }

    /// Approves or rejects a merchant for one category it applied for.
    pub async fn decide_merchant(&self, actor: &audit::Actor, merchant_id: i64, category: Category, approve: bool, now_ms: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let before: Option<String> = sqlx::query_scalar("SELECT status FROM voucher_merchant_categories WHERE merchant_id = $1 AND category = $2")
            .bind(merchant_id)
            .bind(category.code())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(before) = before else {
            return Err(StoreError::NotFound(format!("merchant {merchant_id}'s application for {}", category.code())));
        };
        let status = if approve { "approved" } else { "rejected" };
        sqlx::query("UPDATE voucher_merchant_categories SET status = $1, decided_at = $2 WHERE merchant_id = $3 AND category = $4")
            .bind(status)
            .bind(now_ms)
            .bind(merchant_id)
            .bind(category.code())
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.merchant.decide",
            &format!("voucher_merchant:{merchant_id}"),
            Some(&json!({"category": category.code(), "status": before})),
            Some(&json!({"category": category.code(), "status": status})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn merchant(&self, id: i64) -> Result<Option<Merchant>> {
        Ok(self.merchants_where("id = $1", id).await?.into_iter().next())
    }

    pub async fn merchant_of_user(&self, user_id: i64) -> Result<Option<Merchant>> {
        Ok(self.merchants_where("user_id = $1", user_id).await?.into_iter().next())
    }

    pub async fn merchants(&self) -> Result<Vec<Merchant>> {
        self.merchants_where("1 = $1", 1).await
    }

    async fn merchants_where(&self, condition: &str, value: i64) -> Result<Vec<Merchant>> {
        let sql = format!("SELECT id, user_id, credit_code, name FROM voucher_merchants WHERE {condition} ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(value).fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let categories = sqlx::query("SELECT category, status FROM voucher_merchant_categories WHERE merchant_id = $1 ORDER BY category")
                .bind(id)
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|c| Ok((c.try_get(0)?, c.try_get(1)?)))
                .collect::<Result<_, sqlx::Error>>()?;
            out.push(Merchant {
                id,
                user_id: r.try_get(1)?,
                credit_code: r.try_get(2)?,
                name: r.try_get(3)?,
                categories,
            });
        }
        Ok(out)
    }

    /// Spends a voucher: checks the token's signature, then validity, threshold, category and
    /// merchant; a conditional update (claimed → redeemed) makes it happen exactly once even
    /// when the same code is scanned twice at the same moment. A refusal changes nothing.
    pub async fn redeem(&self, merchant_id: i64, token_text: &str, purchase_fen: i64, now_ms: i64) -> Result<Receipt, RedeemError> {
        let key = self.voucher_key().await?;
        let token = key.open(token_text).map_err(|_| RedeemError::Refused(RedeemRefusal::Forged))?;
        let mut tx = self.begin_write().await?;
        let (locked, v) = self.load_for_scan(&mut tx, &token).await?;
        let merchant = self.merchant_facts(&mut tx, merchant_id).await?;
        check_redemption(&v.0, &merchant, purchase_fen, now_ms).map_err(RedeemError::Refused)?;
        let done =
            sqlx::query("UPDATE vouchers SET status = 'redeemed', redeemed_by = $1, redeemed_at = $2, purchase_fen = $3 WHERE id = $4 AND status = 'claimed'")
                .bind(merchant_id)
                .bind(now_ms)
                .bind(purchase_fen)
                .bind(token.voucher_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Err(RedeemError::Refused(RedeemRefusal::AlreadyRedeemed));
        }
        let discount = v.1;
        sqlx::query("INSERT INTO voucher_redemptions (voucher_id, merchant_id, action, purchase_fen, discount_fen, at) VALUES ($1, $2, 'redeem', $3, $4, $5)")
            .bind(token.voucher_id)
            .bind(merchant_id)
            .bind(purchase_fen)
            .bind(discount)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let head = append_entries(
            &mut tx,
            self.backend(),
            token.campaign_id,
            (locked.seq, locked.hash),
            &[(EntryKind::Redeem, None, Some(token.voucher_id), 1, discount)],
            now_ms,
        )
        .await?;
        set_head(&mut tx, token.campaign_id, locked.budget_remaining, &head).await?;
        tx.commit().await?;
        Ok(Receipt {
            voucher_id: token.voucher_id,
            campaign_id: token.campaign_id,
            kind_name: v.2,
            purchase_fen,
            discount_fen: discount,
            pay_fen: purchase_fen - discount,
            at_ms: now_ms,
        })
    }

    /// Returns a redeemed voucher to its holder (the redeeming merchant, before settlement,
    /// while the voucher is valid).
    pub async fn refund(&self, merchant_id: i64, voucher_id: i64, now_ms: i64) -> Result<(), RedeemError> {
        let Some(voucher) = self.voucher(voucher_id).await? else {
            return Err(RedeemError::Refused(RedeemRefusal::UnknownVoucher));
        };
        let token = VoucherToken {
            voucher_id,
            campaign_id: voucher.campaign_id,
            kind_id: voucher.kind_id,
            citizen_id: voucher.citizen_id,
        };
        let mut tx = self.begin_write().await?;
        let (locked, v) = self.load_for_scan(&mut tx, &token).await?;
        let redeemed_by: Option<i64> = sqlx::query_scalar("SELECT redeemed_by FROM vouchers WHERE id = $1")
            .bind(voucher_id)
            .fetch_one(&mut *tx)
            .await?;
        check_refund(&v.0, redeemed_by, merchant_id, now_ms).map_err(RedeemError::Refused)?;
        let purchase: Option<i64> = sqlx::query_scalar("SELECT purchase_fen FROM vouchers WHERE id = $1")
            .bind(voucher_id)
            .fetch_one(&mut *tx)
            .await?;
        let done = sqlx::query(
            "UPDATE vouchers SET status = 'claimed', redeemed_by = NULL, redeemed_at = NULL, purchase_fen = NULL WHERE id = $1 AND status = 'redeemed' AND redeemed_by = $2",
        )
        .bind(voucher_id)
        .bind(merchant_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(RedeemError::Refused(RedeemRefusal::NotRedeemed));
        }
        sqlx::query("INSERT INTO voucher_redemptions (voucher_id, merchant_id, action, purchase_fen, discount_fen, at) VALUES ($1, $2, 'refund', $3, $4, $5)")
            .bind(voucher_id)
            .bind(merchant_id)
            .bind(purchase.unwrap_or(0))
            .bind(v.1)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        let head = append_entries(
            &mut tx,
            self.backend(),
            token.campaign_id,
            (locked.seq, locked.hash),
            &[(EntryKind::Refund, None, Some(voucher_id), 1, v.1)],
            now_ms,
        )
        .await?;
        set_head(&mut tx, token.campaign_id, locked.budget_remaining, &head).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Locks the voucher's campaign and reads the facts a scan is checked against; a token
    /// whose ids do not match the stored voucher is refused as forged.
    async fn load_for_scan(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        token: &VoucherToken,
    ) -> Result<(Locked, (VoucherFacts, i64, String)), RedeemError> {
        let Some(locked) = lock_campaign(&mut *tx, self.backend(), token.campaign_id).await? else {
            return Err(RedeemError::Refused(RedeemRefusal::UnknownVoucher));
        };
        let row = sqlx::query("SELECT v.status, k.category, k.threshold_fen, v.discount_fen, k.name, v.campaign_id, v.kind_id, v.citizen_id FROM vouchers v JOIN voucher_kinds k ON k.id = v.kind_id WHERE v.id = $1")
            .bind(token.voucher_id)
            .fetch_optional(&mut **tx)
            .await?;
        let Some(r) = row else {
            return Err(RedeemError::Refused(RedeemRefusal::UnknownVoucher));
        };
        let (campaign_id, kind_id, citizen_id): (i64, i64, i64) = (r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
        if (campaign_id, kind_id, citizen_id) != (token.campaign_id, token.kind_id, token.citizen_id) {
            return Err(RedeemError::Refused(RedeemRefusal::Forged));
        }
        let status: String = r.try_get(0)?;
        let category: String = r.try_get(1)?;
        let facts = VoucherFacts {
            status: status_of(&status)?,
            category: Category::parse(&category).map_err(|e| StoreError::Conflict(e.to_string()))?,
            threshold_fen: r.try_get(2)?,
            valid_from_ms: locked.valid_from,
            valid_until_ms: locked.valid_until,
        };
        let discount: i64 = r.try_get(3)?;
        let name: String = r.try_get(4)?;
        Ok((locked, (facts, discount, name)))
    }

    async fn merchant_facts(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, merchant_id: i64) -> Result<MerchantFacts> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT category FROM voucher_merchant_categories WHERE merchant_id = $1 AND status = 'approved'")
            .bind(merchant_id)
            .fetch_all(&mut **tx)
            .await?;
        let categories: Vec<Category> = rows.iter().filter_map(|c| Category::parse(c).ok()).collect();
        Ok(MerchantFacts {
            approved: !categories.is_empty(),
            categories,
        })
    }

    /// Expires every unspent voucher of campaigns whose validity has ended, returning their
    /// discounts to the budget; returns how many vouchers expired.
    pub async fn expire_vouchers(&self, now_ms: i64) -> Result<i64> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM voucher_campaigns WHERE valid_until <= $1 ORDER BY id")
            .bind(now_ms)
            .fetch_all(self.pool())
            .await?;
        let mut total = 0;
        for campaign_id in ids {
            let mut tx = self.begin_write().await?;
            let Some(locked) = lock_campaign(&mut tx, self.backend(), campaign_id).await? else {
                continue;
            };
            let rows = sqlx::query("SELECT kind_id, COUNT(*), CAST(COALESCE(SUM(discount_fen), 0) AS BIGINT) FROM vouchers WHERE campaign_id = $1 AND status = 'claimed' GROUP BY kind_id ORDER BY kind_id")
                .bind(campaign_id)
                .fetch_all(&mut *tx)
                .await?;
            if rows.is_empty() {
                continue;
            }
            let mut moves = Vec::new();
            let mut returned = 0;
            for r in rows {
                let (kind_id, n, amount): (i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                moves.push((EntryKind::Expire, Some(kind_id), None, n, amount));
                moves.push((EntryKind::Return, Some(kind_id), None, n, amount));
                returned += amount;
                total += n;
            }
            sqlx::query("UPDATE vouchers SET status = 'expired' WHERE campaign_id = $1 AND status = 'claimed'")
                .bind(campaign_id)
                .execute(&mut *tx)
                .await?;
            let head = append_entries(&mut tx, self.backend(), campaign_id, (locked.seq, locked.hash), &moves, now_ms).await?;
            set_head(&mut tx, campaign_id, locked.budget_remaining + returned, &head).await?;
            tx.commit().await?;
        }
        Ok(total)
    }

    /// The daily settlement of `day` (YYYY-MM-DD) as the API, the page and `dadong settle`
    /// run it: [`Store::settle`] with the day's end (midnight after it in Asia/Shanghai) as
    /// the cutoff.
    pub async fn settle_day(&self, actor: &audit::Actor, day: &str, now_ms: i64) -> Result<Vec<Settlement>> {
        let day = day.trim();
        let bad = || StoreError::invalid("day", "a date as YYYY-MM-DD");
        let date = jiff::civil::Date::strptime("%Y-%m-%d", day).map_err(|_| bad())?;
        let tz = jiff::tz::TimeZone::get(dadong_domain::DISTRICT_TIME_ZONE).map_err(|e| StoreError::Config(format!("time zone: {e}")))?;
        let cutoff = date
            .tomorrow()
            .and_then(|next| next.to_zoned(tz))
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| bad())?;
        self.settle(actor, day, cutoff, now_ms).await
    }

    /// The daily settlement: pays each merchant the discounts of the vouchers it redeemed
    /// before `cutoff_ms` (the end of `day`), one settlement row per merchant, all in one
    /// transaction. Returns the settlements made.
    pub async fn settle(&self, actor: &audit::Actor, day: &str, cutoff_ms: i64, now_ms: i64) -> Result<Vec<Settlement>> {
        if jiff::civil::Date::strptime("%Y-%m-%d", day).is_err() {
            return Err(StoreError::invalid("day", "a date as YYYY-MM-DD"));
        }
        let mut tx = self.begin_write().await?;
        let campaigns: Vec<i64> =
            sqlx::query_scalar("SELECT DISTINCT campaign_id FROM vouchers WHERE status = 'redeemed' AND redeemed_at < $1 ORDER BY campaign_id")
                .bind(cutoff_ms)
                .fetch_all(&mut *tx)
                .await?;
        let mut locks = BTreeMap::new();
        for c in &campaigns {
            if let Some(l) = lock_campaign(&mut tx, self.backend(), *c).await? {
                locks.insert(*c, l);
            }
        }
        let rows = sqlx::query(
            "SELECT redeemed_by, campaign_id, COUNT(*), CAST(SUM(discount_fen) AS BIGINT), CAST(SUM(purchase_fen) AS BIGINT) FROM vouchers WHERE status = 'redeemed' AND redeemed_at < $1 GROUP BY redeemed_by, campaign_id ORDER BY redeemed_by, campaign_id",
        )
        .bind(cutoff_ms)
        .fetch_all(&mut *tx)
        .await?;
        let mut per_merchant: BTreeMap<i64, (i64, i64, i64)> = BTreeMap::new();
        let mut per_campaign: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for r in rows {
            let (m, c, n, d, p): (i64, i64, i64, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            let e = per_merchant.entry(m).or_default();
            e.0 += n;
            e.1 += d;
            e.2 += p;
            let e = per_campaign.entry(c).or_default();
            e.0 += n;
            e.1 += d;
        }
        let mut made = Vec::new();
        for (merchant_id, (n, d, p)) in &per_merchant {
            let id: i64 = sqlx::query_scalar("INSERT INTO voucher_settlements (merchant_id, day, vouchers, discount_fen, purchase_fen, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(*merchant_id)
                .bind(day)
                .bind(*n)
                .bind(*d)
                .bind(*p)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("UPDATE vouchers SET status = 'settled', settlement_id = $1 WHERE redeemed_by = $2 AND status = 'redeemed' AND redeemed_at < $3")
                .bind(id)
                .bind(*merchant_id)
                .bind(cutoff_ms)
                .execute(&mut *tx)
                .await?;
            made.push(id);
        }
        for (campaign_id, (n, d)) in per_campaign {
            let Some(l) = locks.remove(&campaign_id) else { continue };
            let head = append_entries(
                &mut tx,
                self.backend(),
                campaign_id,
                (l.seq, l.hash),
                &[(EntryKind::Settle, None, None, n, d)],
                now_ms,
            )
            .await?;
            set_head(&mut tx, campaign_id, l.budget_remaining, &head).await?;
        }
        let total: i64 = per_merchant.values().map(|v| v.1).sum();
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.settle",
            &format!("voucher_settlement_day:{day}"),
            None,
            Some(&json!({"settlements": made, "merchants": per_merchant.len(), "discount_fen": total})),
        )
        .await?;
        tx.commit().await?;
        let all = self.settlements(None).await?;
        Ok(all.into_iter().filter(|s| made.contains(&s.id)).collect())
    }

    pub async fn settlements(&self, merchant_id: Option<i64>) -> Result<Vec<Settlement>> {
        let rows = sqlx::query(
            "SELECT s.id, s.merchant_id, m.name, m.credit_code, s.day, s.vouchers, s.discount_fen, s.purchase_fen FROM voucher_settlements s JOIN voucher_merchants m ON m.id = s.merchant_id \
             WHERE $1 = 0 OR s.merchant_id = $1 ORDER BY s.day DESC, s.id DESC LIMIT 1000",
        )
        .bind(merchant_id.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Settlement {
                    id: r.try_get(0)?,
                    merchant_id: r.try_get(1)?,
                    merchant_name: r.try_get(2)?,
                    credit_code: r.try_get(3)?,
                    day: r.try_get(4)?,
                    vouchers: r.try_get(5)?,
                    discount_fen: r.try_get(6)?,
                    purchase_fen: r.try_get(7)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A merchant's scans and refunds, newest first.
    pub async fn merchant_history(&self, merchant_id: i64) -> Result<Vec<RedemptionRow>> {
        let rows = sqlx::query(
            "SELECT id, voucher_id, action, purchase_fen, discount_fen, at FROM voucher_redemptions WHERE merchant_id = $1 ORDER BY id DESC LIMIT 500",
        )
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(RedemptionRow {
                    id: r.try_get(0)?,
                    voucher_id: r.try_get(1)?,
                    action: r.try_get(2)?,
                    purchase_fen: r.try_get(3)?,
                    discount_fen: r.try_get(4)?,
                    at_ms: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Checks every campaign's ledger: the hash chain, double entry, the balances against
    /// the vouchers, the stored budget and stock, and the per-person limit. Read in one
    /// consistent snapshot.
    pub async fn verify_ledger(&self) -> Result<LedgerReport> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let campaigns =
            sqlx::query("SELECT id, budget_fen, budget_remaining_fen, per_person_limit, ledger_seq, ledger_hash FROM voucher_campaigns ORDER BY id")
                .fetch_all(&mut *tx)
                .await?;
        let mut report = LedgerReport {
            campaigns: campaigns.len() as i64,
            entries: 0,
            vouchers: 0,
            breaks: Vec::new(),
        };
        for c in campaigns {
            let (id, budget, remaining, limit, head_seq, head_hash): (i64, i64, i64, i64, i64, String) =
                (c.try_get(0)?, c.try_get(1)?, c.try_get(2)?, c.try_get(3)?, c.try_get(4)?, c.try_get(5)?);
            let mut walk = ChainWalker::new(id);
            {
                let mut rows = sqlx::query("SELECT seq, kind, voucher_kind_id, voucher_id, count, amount_fen, at, prev_hash, hash FROM voucher_ledger WHERE campaign_id = $1 ORDER BY seq")
                    .bind(id)
                    .fetch(&mut *tx);
                while let Some(r) = rows.try_next().await? {
                    let kind: String = r.try_get(1)?;
                    let seq: i64 = r.try_get(0)?;
                    let Some(kind) = EntryKind::parse(&kind) else {
                        report.breaks.push(LedgerBreak::EntryAltered { campaign_id: id, seq });
                        continue;
                    };
                    walk.push(&Entry {
                        campaign_id: id,
                        seq,
                        kind,
                        voucher_kind_id: r.try_get(2)?,
                        voucher_id: r.try_get(3)?,
                        count: r.try_get(4)?,
                        amount_fen: r.try_get(5)?,
                        at_ms: r.try_get(6)?,
                        prev_hash: r.try_get(7)?,
                        hash: r.try_get(8)?,
                    });
                    report.entries += 1;
                }
            }
            walk.finish(head_seq, &head_hash);
            let mut sums = VoucherSums::default();
            for r in sqlx::query("SELECT status, COUNT(*), CAST(COALESCE(SUM(discount_fen), 0) AS BIGINT) FROM vouchers WHERE campaign_id = $1 GROUP BY status")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
            {
                let status: String = r.try_get(0)?;
                let (n, amount): (i64, i64) = (r.try_get(1)?, r.try_get(2)?);
                sums.vouchers += n;
                match status.as_str() {
                    "claimed" => sums.claimed_fen += amount,
                    "redeemed" => sums.redeemed_fen += amount,
                    "settled" => sums.settled_fen += amount,
                    _ => sums.expired_fen += amount,
                }
            }
            report.vouchers += sums.vouchers;
            let held = sqlx::query(
                "SELECT MAX(n), CAST(COALESCE(SUM(CASE WHEN n <> top THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM (SELECT COUNT(*) AS n, MAX(slot) AS top FROM vouchers WHERE campaign_id = $1 GROUP BY citizen_id) t",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let (most, gaps): (Option<i64>, i64) = (held.try_get(0)?, held.try_get(1)?);
            let kinds = sqlx::query(
                "SELECT k.id, k.stock_total, k.stock_remaining, (SELECT COUNT(*) FROM vouchers v WHERE v.kind_id = k.id) FROM voucher_kinds k WHERE k.campaign_id = $1 ORDER BY k.id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| {
                Ok(KindFacts {
                    kind_id: r.try_get(0)?,
                    stock_total: r.try_get(1)?,
                    stock_remaining: r.try_get(2)?,
                    vouchers: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let facts = CampaignFacts {
                campaign_id: id,
                budget_total_fen: budget,
                budget_remaining_fen: remaining,
                per_person_limit: limit,
                most_held_by_one_citizen: most.unwrap_or(0),
                citizens_with_slot_gaps: gaps,
                sums,
                kinds,
            };
            report.breaks.extend(reconcile(&walk, &facts));
        }
        tx.rollback().await?;
        Ok(report)
    }
}

impl Store {
    /// For `dadong bench vouchers` only: `n` citizen accounts that cannot sign in (their
    /// password hash is not a hash) with an open session each, written in bulk. Returns
    /// (user id, session token, CSRF token) per citizen. Use a database of its own.
    pub async fn bench_citizen_sessions(&self, n: usize, now_ms: i64) -> Result<Vec<(i64, String, String)>> {
        let prefix = dadong_domain::crypto::random_token(6).to_ascii_lowercase().replace(['-', '_'], "x");
        let mut out = Vec::with_capacity(n);
        let mut tx = self.begin_write().await?;
        let indices: Vec<usize> = (0..n).collect();
        for chunk in indices.chunks(1000) {
            let mut sql = String::from("INSERT INTO users (username, display_name, password_hash, role, created_at, updated_at) VALUES ");
            for (j, i) in chunk.iter().enumerate() {
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("('bench-{prefix}-{i}', 'bench citizen {i}', '!bench', 'citizen', {now_ms}, {now_ms})"));
            }
            sql.push_str(" RETURNING id");
            let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(&mut *tx).await?;
            let mut sql = String::from("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ");
            let mut rows = Vec::with_capacity(ids.len());
            for (j, id) in ids.iter().enumerate() {
                let token = dadong_domain::crypto::random_token(32);
                let csrf = dadong_domain::crypto::random_token(32);
                if j > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "({}, {id}, {}, {now_ms}, {})",
                    format_args!("${}", j * 2 + 1),
                    format_args!("${}", j * 2 + 2),
                    now_ms + crate::sessions::SESSION_TTL_MS
                ));
                rows.push((*id, token, csrf));
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (_, token, csrf) in &rows {
                q = q.bind(dadong_domain::crypto::sha256_hex(token.as_bytes())).bind(csrf.clone());
            }
            q.execute(&mut *tx).await?;
            out.extend(rows);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The one-transaction-per-claim design most systems use, for the bench's baseline: a
    /// conditional stock update and an insert under the unique keys, committed per claim.
    /// It keeps the per-person limit through the (campaign, citizen, slot) key: the slot is
    /// the citizen's count plus one, and a duplicate slot rolls the claim back.
    pub async fn claim_one_baseline(&self, campaign_id: i64, kind_id: i64, citizen_id: i64, key: &str, now_ms: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("UPDATE voucher_kinds SET stock_remaining = stock_remaining - 1 WHERE id = $1 AND stock_remaining > 0")
            .bind(kind_id)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() != 1 {
            return Ok(false);
        }
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers WHERE campaign_id = $1 AND citizen_id = $2")
            .bind(campaign_id)
            .bind(citizen_id)
            .fetch_one(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO vouchers (campaign_id, status, claimed_at, kind_id, citizen_id, slot, idem_key, discount_fen, device) \
             SELECT $1, 'claimed', $2, id, $3, $4, $5, discount_fen, '' FROM voucher_kinds WHERE id = $6 ON CONFLICT DO NOTHING",
        )
        .bind(campaign_id)
        .bind(now_ms)
        .bind(citizen_id)
        .bind(held + 1)
        .bind(key)
        .bind(kind_id)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Subsidy paid and consumption driven by one group (a season, a category or a merchant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FigureRow {
    pub key: String,
    pub name: String,
    pub vouchers: i64,
    pub subsidy_fen: i64,
    pub consumption_fen: i64,
}

/// The vouchers' figures: spent vouchers (redeemed or settled) only, from the raw rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherFigures {
    pub seasons: i64,
    pub claimed: i64,
    pub redeemed: i64,
    pub subsidy_fen: i64,
    pub consumption_fen: i64,
    pub by_season: Vec<FigureRow>,
    pub by_category: Vec<FigureRow>,
    pub by_merchant: Vec<FigureRow>,
}

impl Store {
    /// Subsidies paid (discounts of spent vouchers), consumption driven (their purchase
    /// amounts), by season, category and merchant, for campaigns whose claim window opened
    /// in [`from_ms`, `to_ms`).
    pub async fn voucher_figures(&self, from_ms: i64, to_ms: i64) -> Result<VoucherFigures> {
        let spent = "v.status IN ('redeemed', 'settled')";
        let group = |key: &str, name: &str, join: &str, group: &str| {
            format!(
                "SELECT {key}, {name}, COUNT(*), CAST(SUM(v.discount_fen) AS BIGINT), CAST(SUM(v.purchase_fen) AS BIGINT) FROM vouchers v \
                 JOIN voucher_campaigns c ON c.id = v.campaign_id {join} WHERE {spent} AND c.claim_start >= $1 AND c.claim_start < $2 GROUP BY {group} ORDER BY 4 DESC, 1"
            )
        };
        let rows = |sql: String| async move {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(from_ms).bind(to_ms).fetch_all(self.pool()).await?;
            rows.into_iter()
                .map(|r| {
                    let key: String = match r.try_get::<i64, _>(0) {
                        Ok(i) => i.to_string(),
                        Err(_) => r.try_get(0)?,
                    };
                    Ok(FigureRow {
                        key,
                        name: r.try_get(1)?,
                        vouchers: r.try_get(2)?,
                        subsidy_fen: r.try_get(3)?,
                        consumption_fen: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        };
        let by_season = rows(group("c.id", "c.name", "", "c.id, c.name")).await?;
        let by_category = rows(group("k.category", "k.category", "JOIN voucher_kinds k ON k.id = v.kind_id", "k.category")).await?;
        let by_merchant = rows(group("m.id", "m.name", "JOIN voucher_merchants m ON m.id = v.redeemed_by", "m.id, m.name")).await?;
        let seasons: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM voucher_campaigns WHERE claim_start >= $1 AND claim_start < $2")
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(self.pool())
            .await?;
        let claimed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM vouchers v JOIN voucher_campaigns c ON c.id = v.campaign_id WHERE c.claim_start >= $1 AND c.claim_start < $2",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(VoucherFigures {
            seasons,
            claimed,
            redeemed: by_season.iter().map(|r| r.vouchers).sum(),
            subsidy_fen: by_season.iter().map(|r| r.subsidy_fen).sum(),
            consumption_fen: by_season.iter().map(|r| r.consumption_fen).sum(),
            by_season,
            by_category,
            by_merchant,
        })
    }

    /// Runs the fraud rules over every claim and redemption and stores new flags (a flag
    /// already raised keeps its review). Returns the flags raised now.
    pub async fn raise_fraud_flags(&self, now_ms: i64) -> Result<Vec<dadong_vouchers::fraud::FraudFlag>> {
        use dadong_vouchers::fraud::{ClaimSeen, RedemptionSeen, flags};
        let claims = sqlx::query("SELECT citizen_id, device FROM vouchers WHERE device <> ''")
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| {
                Ok(ClaimSeen {
                    citizen_id: r.try_get(0)?,
                    device: r.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let redemptions = sqlx::query("SELECT v.redeemed_by, v.citizen_id, v.purchase_fen, k.threshold_fen FROM vouchers v JOIN voucher_kinds k ON k.id = v.kind_id WHERE v.status IN ('redeemed', 'settled')")
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| {
                Ok(RedemptionSeen {
                    merchant_id: r.try_get(0)?,
                    citizen_id: r.try_get(1)?,
                    purchase_fen: r.try_get(2)?,
                    threshold_fen: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut raised = Vec::new();
        let mut tx = self.begin_write().await?;
        for f in flags(&claims, &redemptions) {
            let detail = serde_json::to_string(&f).expect("serialisable");
            let rule = detail.split('"').nth(3).unwrap_or("").to_string();
            let done = sqlx::query("INSERT INTO voucher_fraud_flags (flag_key, rule, detail_json, status, raised_at) VALUES ($1, $2, $3, 'open', $4) ON CONFLICT (flag_key) DO NOTHING")
                .bind(f.key())
                .bind(rule)
                .bind(&detail)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 1 {
                raised.push(f);
            }
        }
        tx.commit().await?;
        Ok(raised)
    }

    /// The stored flags: (key, rule, detail JSON, status), open ones first.
    pub async fn fraud_flags(&self) -> Result<Vec<(String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT flag_key, rule, detail_json, status FROM voucher_fraud_flags ORDER BY CASE status WHEN 'open' THEN 0 ELSE 1 END, raised_at DESC LIMIT 500",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A reviewer's decision on a flag: cleared (nothing wrong) or confirmed.
    pub async fn review_fraud_flag(&self, actor: &audit::Actor, key: &str, confirmed: bool, now_ms: i64) -> Result<()> {
        let status = if confirmed { "confirmed" } else { "cleared" };
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE voucher_fraud_flags SET status = $1, reviewed_at = $2 WHERE flag_key = $3")
            .bind(status)
            .bind(now_ms)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!("fraud flag '{key}'")));
        }
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.fraud.review",
            &format!("voucher_fraud_flag:{key}"),
            None,
            Some(&json!({"status": status})),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Vouchers issued beyond a kind's stock, plus vouchers held beyond the per-person limit,
    /// counted from the raw rows of one campaign: zero unless something is broken.
    pub async fn over_issued(&self, campaign_id: i64) -> Result<i64> {
        let over_stock: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(CASE WHEN n > stock_total THEN n - stock_total ELSE 0 END), 0) AS BIGINT) FROM \
             (SELECT k.stock_total, (SELECT COUNT(*) FROM vouchers v WHERE v.kind_id = k.id) AS n FROM voucher_kinds k WHERE k.campaign_id = $1) t",
        )
        .bind(campaign_id)
        .fetch_one(self.pool())
        .await?;
        let over_limit: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(CASE WHEN n > lim THEN n - lim ELSE 0 END), 0) AS BIGINT) FROM \
             (SELECT COUNT(*) AS n, MAX(c.per_person_limit) AS lim FROM vouchers v JOIN voucher_campaigns c ON c.id = v.campaign_id WHERE v.campaign_id = $1 GROUP BY v.citizen_id) t",
        )
        .bind(campaign_id)
        .fetch_one(self.pool())
        .await?;
        Ok(over_stock + over_limit)
    }
}

/// One redemption of a batch recorded at the counter: voucher, merchant, purchase, time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterRedemption {
    pub voucher_id: i64,
    pub merchant_id: i64,
    pub purchase_fen: i64,
    pub at_ms: i64,
}

impl Store {
    /// Records many redemptions of one campaign in one transaction, all or nothing, with the
    /// same rules as [`Store::redeem`] except the token (the counter checked it when it
    /// scanned): for batches from a counter that was offline, and for the demo. Ledger
    /// entries are written per voucher kind with their count.
    pub async fn redeem_many(&self, campaign_id: i64, items: &[CounterRedemption]) -> Result<usize, RedeemError> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let Some(locked) = lock_campaign(&mut tx, self.backend(), campaign_id).await? else {
            return Err(RedeemError::Refused(RedeemRefusal::UnknownVoucher));
        };
        let mut facts: HashMap<i64, (VoucherFacts, i64, i64)> = HashMap::with_capacity(items.len());
        let ids: Vec<i64> = items.iter().map(|i| i.voucher_id).collect();
        // One statement for the whole batch, its ids looked up in the primary key: a list of
        // placeholders per chunk let PostgreSQL pick a bitmap scan of the whole campaign.
        {
            let sql = format!(
                "SELECT v.id, v.status, k.category, k.threshold_fen, v.discount_fen, v.kind_id FROM vouchers v JOIN voucher_kinds k ON k.id = v.kind_id \
                 WHERE v.id IN ({}) AND v.campaign_id = $1",
                ids_from_json(self.backend(), 2)
            );
            let q = sqlx::query(AssertSqlSafe(sql)).bind(campaign_id).bind(serde_json::Value::from(ids).to_string());
            for r in q.fetch_all(&mut *tx).await? {
                let status: String = r.try_get(1)?;
                let category: String = r.try_get(2)?;
                facts.insert(
                    r.try_get(0)?,
                    (
                        VoucherFacts {
                            status: status_of(&status)?,
                            category: Category::parse(&category).map_err(|e| StoreError::Conflict(e.to_string()))?,
                            threshold_fen: r.try_get(3)?,
                            valid_from_ms: locked.valid_from,
                            valid_until_ms: locked.valid_until,
                        },
                        r.try_get(4)?,
                        r.try_get(5)?,
                    ),
                );
            }
        }
        let mut merchants: HashMap<i64, MerchantFacts> = HashMap::new();
        let mut per_kind: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for it in items {
            if let std::collections::hash_map::Entry::Vacant(slot) = merchants.entry(it.merchant_id) {
                slot.insert(self.merchant_facts(&mut tx, it.merchant_id).await?);
            }
            let Some((f, discount, kind_id)) = facts.get(&it.voucher_id) else {
                return Err(RedeemError::Refused(RedeemRefusal::UnknownVoucher));
            };
            if !seen.insert(it.voucher_id) {
                return Err(RedeemError::Refused(RedeemRefusal::AlreadyRedeemed));
            }
            check_redemption(f, &merchants[&it.merchant_id], it.purchase_fen, it.at_ms).map_err(RedeemError::Refused)?;
            let e = per_kind.entry(*kind_id).or_default();
            e.0 += 1;
            e.1 += discount;
        }
        for chunk in items.chunks(10_000) {
            let done = match self.backend() {
                // SQLite cannot index json_each, so the rows go into a temporary table keyed
                // by voucher id first, and the update joins on that key.
                Backend::Sqlite => {
                    let payload =
                        serde_json::Value::Array(chunk.iter().map(|i| json!([i.voucher_id, i.merchant_id, i.purchase_fen, i.at_ms])).collect()).to_string();
                    sqlx::query(
                        "CREATE TEMP TABLE IF NOT EXISTS redeem_batch (id INTEGER PRIMARY KEY, m INTEGER NOT NULL, p INTEGER NOT NULL, at INTEGER NOT NULL)",
                    )
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM redeem_batch").execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO redeem_batch (id, m, p, at) SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]' FROM json_each($1)")
                        .bind(payload)
                        .execute(&mut *tx)
                        .await?;
                    let done = sqlx::query(
                        "UPDATE vouchers SET status = 'redeemed', redeemed_by = b.m, purchase_fen = b.p, redeemed_at = b.at FROM redeem_batch AS b WHERE vouchers.id = b.id AND vouchers.status = 'claimed'",
                    )
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO voucher_redemptions (voucher_id, merchant_id, action, purchase_fen, discount_fen, at) \
                         SELECT v.id, b.m, 'redeem', b.p, v.discount_fen, b.at FROM redeem_batch b JOIN vouchers v ON v.id = b.id ORDER BY b.id",
                    )
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM redeem_batch").execute(&mut *tx).await?;
                    done
                }
                Backend::Postgres => {
                    let payload = serde_json::Value::Array(
                        chunk
                            .iter()
                            .map(|i| json!({"id": i.voucher_id, "m": i.merchant_id, "p": i.purchase_fen, "at": i.at_ms}))
                            .collect(),
                    )
                    .to_string();
                    let done = sqlx::query(
                        "UPDATE vouchers SET status = 'redeemed', redeemed_by = t.m, purchase_fen = t.p, redeemed_at = t.at \
                         FROM json_to_recordset(CAST($1 AS json)) AS t(id bigint, m bigint, p bigint, at bigint) WHERE vouchers.id = t.id AND vouchers.status = 'claimed'",
                    )
                    .bind(&payload)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO voucher_redemptions (voucher_id, merchant_id, action, purchase_fen, discount_fen, at) \
                         SELECT v.id, t.m, 'redeem', t.p, v.discount_fen, t.at FROM json_to_recordset(CAST($1 AS json)) AS t(id bigint, m bigint, p bigint, at bigint) JOIN vouchers v ON v.id = t.id ORDER BY v.id",
                    )
                    .bind(&payload)
                    .execute(&mut *tx)
                    .await?;
                    done
                }
            };
            if done.rows_affected() != chunk.len() as u64 {
                return Err(RedeemError::Refused(RedeemRefusal::AlreadyRedeemed));
            }
        }
        let at = items.iter().map(|i| i.at_ms).max().unwrap_or(0);
        let moves: Vec<_> = per_kind.iter().map(|(k, (n, d))| (EntryKind::Redeem, Some(*k), None, *n, *d)).collect();
        let head = append_entries(&mut tx, self.backend(), campaign_id, (locked.seq, locked.hash), &moves, at).await?;
        set_head(&mut tx, campaign_id, locked.budget_remaining, &head).await?;
        tx.commit().await?;
        Ok(items.len())
    }
}

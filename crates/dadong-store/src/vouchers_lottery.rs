//! The lottery claim mode in the store (SPEC section 6): citizens register for a campaign's
//! kinds within the claim window, and an administrator draws once.
//!
//! Both acts lock the campaign's row first, like every write that moves a campaign's money
//! (see `vouchers`), so a registration can never slip in beside a draw and two draws of one
//! campaign cannot both proceed: the second finds the first's `voucher_draws` row, whose
//! primary key is the campaign. The draw ranks the registrations with
//! `dadong_vouchers::lottery::draw` under a seed from the operating system's CSPRNG, and
//! issues the winners' vouchers through `vouchers::issue_vouchers`, the very path a claim
//! batch takes (rows, stock, `claim` ledger entries, budget and head), so `dadong ledger
//! verify` checks a drawn campaign exactly as a claimed one. The seed, the stock and budget
//! given to the draw are recorded, so anyone can recompute the winners from the
//! registrations.

use crate::vouchers::{Issue, issue_vouchers, lock_campaign};
use crate::{Result, Store, StoreError, audit};
use dadong_domain::Role;
use dadong_vouchers::ClaimMode;
use dadong_vouchers::claim::NewVoucher;
use dadong_vouchers::lottery::{DrawKind, DrawRefusal, RegisterRefusal, Registration, draw, may_draw, may_register};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

/// Why a registration or a draw did not happen: a rule (nothing changed), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum LotteryError {
    #[error("{}", .0.message())]
    Register(RegisterRefusal),
    #[error("{}", .0.message())]
    Draw(DrawRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LotteryError {
    fn from(e: sqlx::Error) -> Self {
        LotteryError::Store(e.into())
    }
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    pub campaign_id: i64,
    pub kind_id: i64,
    pub registered_at_ms: i64,
    /// True when the citizen had registered for this kind already: nothing was written.
    pub repeated: bool,
}

/// A kind as it was given to the draw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawnKind {
    pub kind_id: i64,
    pub stock: i64,
    pub discount_fen: i64,
}

/// A campaign's draw as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotteryDraw {
    pub campaign_id: i64,
    /// 64 hex digits from the CSPRNG: with it, `lottery::draw` recomputes the winners.
    pub seed: String,
    pub drawn_at_ms: i64,
    /// The administrator's user id; none when drawn from the command line.
    pub drawn_by: Option<i64>,
    pub registrations: i64,
    pub winners: i64,
    /// The budget and the kinds' stock the draw was given.
    pub budget_fen: i64,
    pub kinds: Vec<DrawnKind>,
}

impl LotteryDraw {
    /// The kinds in the form `lottery::draw` takes.
    pub fn draw_kinds(&self) -> Vec<DrawKind> {
        self.kinds
            .iter()
            .map(|k| DrawKind {
                kind_id: k.kind_id,
                stock: k.stock,
                discount_fen: k.discount_fen,
            })
            .collect()
    }
}

async fn drawn(conn: &mut AnyConnection, campaign_id: i64) -> Result<bool> {
    let row: Option<i64> = sqlx::query_scalar("SELECT campaign_id FROM voucher_draws WHERE campaign_id = $1")
        .bind(campaign_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// The idempotency key a lottery voucher is stored with: one per kind, so the unique key
/// (campaign, citizen, key) holds for a citizen who wins several kinds.
fn lottery_key(kind_id: i64) -> String {
    format!("lottery-{kind_id}")
}

impl Store {
    /// Registers a citizen for one kind of a lottery campaign. A repeat for the same kind is
    /// answered with the stored registration and writes nothing; otherwise the rules of
    /// `lottery::may_register` apply under the campaign's lock, and the registration is
    /// audited (the citizen by id).
    pub async fn register_for_lottery(
        &self,
        actor: &audit::Actor,
        citizen_id: i64,
        campaign_id: i64,
        kind_id: i64,
        now_ms: i64,
    ) -> Result<Registered, LotteryError> {
        let mut tx = self.begin_write().await?;
        let locked = lock_campaign(&mut tx, self.backend(), campaign_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign {campaign_id}")))?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND active = 1")
            .bind(citizen_id)
            .fetch_optional(&mut *tx)
            .await?;
        if role.as_deref() != Some(Role::Citizen.key()) {
            return Err(StoreError::invalid("citizen_id", "only an active citizen's account may register for a lottery").into());
        }
        let kind: Option<i64> = sqlx::query_scalar("SELECT id FROM voucher_kinds WHERE id = $1 AND campaign_id = $2")
            .bind(kind_id)
            .bind(campaign_id)
            .fetch_optional(&mut *tx)
            .await?;
        if kind.is_none() {
            return Err(StoreError::invalid("kind_id", format!("campaign {campaign_id} has no voucher kind {kind_id}")).into());
        }
        let earlier: Option<i64> =
            sqlx::query_scalar("SELECT registered_at FROM voucher_registrations WHERE campaign_id = $1 AND citizen_id = $2 AND kind_id = $3")
                .bind(campaign_id)
                .bind(citizen_id)
                .bind(kind_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(at) = earlier {
            return Ok(Registered {
                campaign_id,
                kind_id,
                registered_at_ms: at,
                repeated: true,
            });
        }
        let kinds_registered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM voucher_registrations WHERE campaign_id = $1 AND citizen_id = $2")
            .bind(campaign_id)
            .bind(citizen_id)
            .fetch_one(&mut *tx)
            .await?;
        let is_drawn = drawn(&mut tx, campaign_id).await?;
        may_register(
            locked.mode == ClaimMode::Lottery,
            locked.active,
            is_drawn,
            locked.claim_start,
            locked.claim_end,
            now_ms,
            kinds_registered,
            locked.per_person_limit,
        )
        .map_err(LotteryError::Register)?;
        sqlx::query("INSERT INTO voucher_registrations (campaign_id, citizen_id, kind_id, registered_at) VALUES ($1, $2, $3, $4)")
            .bind(campaign_id)
            .bind(citizen_id)
            .bind(kind_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.lottery.register",
            &format!("voucher_campaign:{campaign_id}"),
            None,
            Some(&json!({"citizen_id": citizen_id, "kind_id": kind_id})),
        )
        .await?;
        tx.commit().await?;
        Ok(Registered {
            campaign_id,
            kind_id,
            registered_at_ms: now_ms,
            repeated: false,
        })
    }

    /// Draws a lottery campaign, once. Under the campaign's lock: checks `lottery::may_draw`,
    /// takes a seed from the CSPRNG, ranks the registrations with `lottery::draw` against
    /// the stock, budget and per-person limit left, issues the winners' vouchers as a claim
    /// batch issues them, records the draw and appends one audit record, in one transaction.
    pub async fn draw_lottery(&self, actor: &audit::Actor, campaign_id: i64, now_ms: i64) -> Result<LotteryDraw, LotteryError> {
        let mut tx = self.begin_write().await?;
        let locked = lock_campaign(&mut tx, self.backend(), campaign_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign {campaign_id}")))?;
        let is_drawn = drawn(&mut tx, campaign_id).await?;
        may_draw(locked.mode == ClaimMode::Lottery, is_drawn, locked.claim_start, locked.valid_until, now_ms).map_err(LotteryError::Draw)?;
        // A lottery campaign's vouchers come from its draw alone (claims are refused), so
        // every citizen starts at slot 1; a voucher found here means the data was changed
        // behind the platform's back, and drawing on top of it could break the limit.
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vouchers WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_one(&mut *tx)
            .await?;
        if held > 0 {
            return Err(StoreError::Conflict(format!("campaign {campaign_id} holds {held} vouchers before its draw: refusing to draw")).into());
        }
        let kinds: Vec<DrawnKind> = sqlx::query("SELECT id, stock_remaining, discount_fen FROM voucher_kinds WHERE campaign_id = $1 ORDER BY id")
            .bind(campaign_id)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| {
                Ok(DrawnKind {
                    kind_id: r.try_get(0)?,
                    stock: r.try_get(1)?,
                    discount_fen: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let registrations = self.registrations_in(&mut tx, campaign_id).await?;
        let mut seed_bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed_bytes);
        let seed = hex::encode(seed_bytes);
        let draw_kinds: Vec<DrawKind> = kinds
            .iter()
            .map(|k| DrawKind {
                kind_id: k.kind_id,
                stock: k.stock,
                discount_fen: k.discount_fen,
            })
            .collect();
        let winners = draw(
            &seed,
            campaign_id,
            &draw_kinds,
            locked.budget_remaining,
            locked.per_person_limit,
            &registrations,
        );
        let discount_of: HashMap<i64, i64> = kinds.iter().map(|k| (k.kind_id, k.discount_fen)).collect();
        let mut slots: HashMap<i64, i64> = HashMap::new();
        let mut taken: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        let mut vouchers = Vec::with_capacity(winners.len());
        for w in &winners {
            let discount_fen = discount_of[&w.kind_id];
            let slot = slots.entry(w.citizen_id).or_insert(0);
            *slot += 1;
            let t = taken.entry(w.kind_id).or_insert((0, 0));
            t.0 += 1;
            t.1 += discount_fen;
            vouchers.push(NewVoucher {
                citizen_id: w.citizen_id,
                kind_id: w.kind_id,
                slot: *slot,
                idempotency_key: lottery_key(w.kind_id),
                discount_fen,
            });
        }
        let taken: Vec<(i64, i64, i64)> = taken.into_iter().map(|(k, (n, a))| (k, n, a)).collect();
        let budget_taken_fen: i64 = taken.iter().map(|t| t.2).sum();
        let devices = vec![""; vouchers.len()];
        issue_vouchers(
            &mut tx,
            self.backend(),
            campaign_id,
            &locked,
            &Issue {
                vouchers: &vouchers,
                devices: &devices,
                taken: &taken,
                budget_taken_fen,
            },
            now_ms,
        )
        .await?;
        let drawn_by = match actor {
            audit::Actor::User { id, .. } => Some(*id),
            _ => None,
        };
        let record = LotteryDraw {
            campaign_id,
            seed,
            drawn_at_ms: now_ms,
            drawn_by,
            registrations: registrations.len() as i64,
            winners: winners.len() as i64,
            budget_fen: locked.budget_remaining,
            kinds,
        };
        sqlx::query(
            "INSERT INTO voucher_draws (campaign_id, seed, drawn_at, drawn_by, registrations, winners, budget_fen, stock_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(campaign_id)
        .bind(&record.seed)
        .bind(now_ms)
        .bind(drawn_by)
        .bind(record.registrations)
        .bind(record.winners)
        .bind(record.budget_fen)
        .bind(serde_json::to_string(&record.kinds).expect("serialisable"))
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            self.backend(),
            actor,
            "voucher.lottery.draw",
            &format!("voucher_campaign:{campaign_id}"),
            None,
            Some(&json!({
                "seed": record.seed,
                "registrations": record.registrations,
                "winners": record.winners,
                "budget_fen": record.budget_fen,
                "kinds": record.kinds,
                "discount_fen": budget_taken_fen,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn registrations_in(&self, conn: &mut AnyConnection, campaign_id: i64) -> Result<Vec<Registration>> {
        sqlx::query("SELECT citizen_id, kind_id FROM voucher_registrations WHERE campaign_id = $1 ORDER BY citizen_id, kind_id")
            .bind(campaign_id)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| {
                Ok(Registration {
                    citizen_id: r.try_get(0)?,
                    kind_id: r.try_get(1)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Every registration of a campaign, by citizen and kind.
    pub async fn lottery_registrations(&self, campaign_id: i64) -> Result<Vec<Registration>> {
        let mut conn = self.pool().acquire().await?;
        self.registrations_in(&mut conn, campaign_id).await
    }

    /// The kinds a citizen registered for, by campaign.
    pub async fn registrations_of(&self, citizen_id: i64) -> Result<Vec<(i64, i64)>> {
        sqlx::query("SELECT campaign_id, kind_id FROM voucher_registrations WHERE citizen_id = $1 ORDER BY campaign_id, kind_id")
            .bind(citizen_id)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// A campaign's draw, if it has been drawn.
    pub async fn lottery_draw(&self, campaign_id: i64) -> Result<Option<LotteryDraw>> {
        Ok(self.draws_where("campaign_id = $1", campaign_id).await?.into_iter().next())
    }

    /// Every draw made.
    pub async fn lottery_draws(&self) -> Result<Vec<LotteryDraw>> {
        self.draws_where("1 = $1", 1).await
    }

    async fn draws_where(&self, condition: &str, value: i64) -> Result<Vec<LotteryDraw>> {
        let sql = format!(
            "SELECT campaign_id, seed, drawn_at, drawn_by, registrations, winners, budget_fen, stock_json FROM voucher_draws WHERE {condition} ORDER BY campaign_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let campaign_id: i64 = r.try_get(0)?;
            let stock: String = r.try_get(7)?;
            let kinds: Vec<DrawnKind> = serde_json::from_str(&stock)
                .map_err(|e| StoreError::Conflict(format!("campaign {campaign_id}'s draw: its stock record is unreadable: {e}")))?;
            out.push(LotteryDraw {
                campaign_id,
                seed: r.try_get(1)?,
                drawn_at_ms: r.try_get(2)?,
                drawn_by: r.try_get(3)?,
                registrations: r.try_get(4)?,
                winners: r.try_get(5)?,
                budget_fen: r.try_get(6)?,
                kinds,
            });
        }
        Ok(out)
    }
}

//! The voucher ledger: double-entry accounts per campaign, a hash chain of entries, and the
//! invariants `dadong ledger verify` checks.
//!
//! Money moves between six accounts. `funding` is where a campaign's budget comes from (its
//! balance is minus the budget); `budget` is what may still be handed out; `issued` is held by
//! citizens as unspent vouchers; `redeemed` is owed to merchants; `settled` has been paid;
//! `expired` is a clearing account through which an expired voucher's discount returns to
//! the budget (its balance is zero after every transaction). Every entry moves one amount
//! from one account to another, so the balances always sum to zero.
//!
//! Entries are chained per campaign: each entry's hash covers the previous one's, so an entry
//! deleted, edited or re-ordered is found; the balances are then checked against the vouchers
//! themselves, so a voucher row changed without its entry is found too.

use dadong_domain::crypto::sha256_hex;
use serde::Serialize;
use std::fmt;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    Funding,
    Budget,
    Issued,
    Redeemed,
    Settled,
    Expired,
}

impl Account {
    pub const ALL: [Account; 6] = [
        Account::Funding,
        Account::Budget,
        Account::Issued,
        Account::Redeemed,
        Account::Settled,
        Account::Expired,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Account::Funding => "funding",
            Account::Budget => "budget",
            Account::Issued => "issued",
            Account::Redeemed => "redeemed",
            Account::Settled => "settled",
            Account::Expired => "expired",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an entry records; each kind moves money between two fixed accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Fund,
    Claim,
    Redeem,
    Refund,
    Settle,
    Expire,
    Return,
}

impl EntryKind {
    pub const ALL: [EntryKind; 7] = [
        EntryKind::Fund,
        EntryKind::Claim,
        EntryKind::Redeem,
        EntryKind::Refund,
        EntryKind::Settle,
        EntryKind::Expire,
        EntryKind::Return,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EntryKind::Fund => "fund",
            EntryKind::Claim => "claim",
            EntryKind::Redeem => "redeem",
            EntryKind::Refund => "refund",
            EntryKind::Settle => "settle",
            EntryKind::Expire => "expire",
            EntryKind::Return => "return",
        }
    }

    pub fn parse(code: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// (from, to): the account debited and the account credited.
    pub fn accounts(self) -> (Account, Account) {
        match self {
            EntryKind::Fund => (Account::Funding, Account::Budget),
            EntryKind::Claim => (Account::Budget, Account::Issued),
            EntryKind::Redeem => (Account::Issued, Account::Redeemed),
            EntryKind::Refund => (Account::Redeemed, Account::Issued),
            EntryKind::Settle => (Account::Redeemed, Account::Settled),
            EntryKind::Expire => (Account::Issued, Account::Expired),
            EntryKind::Return => (Account::Expired, Account::Budget),
        }
    }
}

/// One ledger entry as stored. A claim entry may cover a batch of vouchers of one kind
/// (`count` of them); the others name their voucher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub campaign_id: i64,
    pub seq: i64,
    pub kind: EntryKind,
    pub voucher_kind_id: Option<i64>,
    pub voucher_id: Option<i64>,
    pub count: i64,
    pub amount_fen: i64,
    pub at_ms: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of an entry's content and its predecessor's hash.
#[allow(clippy::too_many_arguments)] // the entry's fields, each hashed in order
pub fn entry_hash(
    prev_hash: &str,
    campaign_id: i64,
    seq: i64,
    kind: EntryKind,
    voucher_kind_id: Option<i64>,
    voucher_id: Option<i64>,
    count: i64,
    amount_fen: i64,
    at_ms: i64,
) -> String {
    // A decimal list with fixed separators: every field is a number or a fixed code, so no
    // separator can be forged.
    let body = format!(
        "{prev_hash}|{campaign_id}|{seq}|{}|{}|{}|{count}|{amount_fen}|{at_ms}",
        kind.code(),
        voucher_kind_id.map(|v| v.to_string()).unwrap_or_default(),
        voucher_id.map(|v| v.to_string()).unwrap_or_default()
    );
    sha256_hex(body.as_bytes())
}

impl Entry {
    pub fn expected_hash(&self) -> String {
        entry_hash(
            &self.prev_hash,
            self.campaign_id,
            self.seq,
            self.kind,
            self.voucher_kind_id,
            self.voucher_id,
            self.count,
            self.amount_fen,
            self.at_ms,
        )
    }
}

/// Running balances of the six accounts (fen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Balances(pub [i64; 6]);

impl Balances {
    pub fn apply(&mut self, kind: EntryKind, amount_fen: i64) {
        let (from, to) = kind.accounts();
        self.0[from.index()] -= amount_fen;
        self.0[to.index()] += amount_fen;
    }

    pub fn get(&self, a: Account) -> i64 {
        self.0[a.index()]
    }
}

/// Walks one campaign's entries in order, checking the chain and summing the balances.
#[derive(Debug, Clone)]
pub struct ChainWalker {
    pub campaign_id: i64,
    pub balances: Balances,
    /// Sum of `count` over entries per kind.
    pub counts: std::collections::HashMap<EntryKind, i64>,
    pub amounts: std::collections::HashMap<EntryKind, i64>,
    expected_seq: i64,
    prev_hash: String,
    pub first_break: Option<LedgerBreak>,
}

impl ChainWalker {
    pub fn new(campaign_id: i64) -> Self {
        ChainWalker {
            campaign_id,
            balances: Balances::default(),
            counts: Default::default(),
            amounts: Default::default(),
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            first_break: None,
        }
    }

    pub fn push(&mut self, e: &Entry) {
        if self.first_break.is_none() {
            let c = self.campaign_id;
            if e.seq != self.expected_seq {
                self.first_break = Some(LedgerBreak::EntryMissing {
                    campaign_id: c,
                    seq: self.expected_seq,
                });
            } else if e.hash != e.expected_hash() {
                self.first_break = Some(LedgerBreak::EntryAltered { campaign_id: c, seq: e.seq });
            } else if e.prev_hash != self.prev_hash {
                self.first_break = Some(LedgerBreak::EntryOutOfOrder { campaign_id: c, seq: e.seq });
            } else if e.amount_fen < 0 || e.count < 0 {
                self.first_break = Some(LedgerBreak::EntryAltered { campaign_id: c, seq: e.seq });
            }
        }
        self.expected_seq = e.seq + 1;
        self.prev_hash = e.hash.clone();
        self.balances.apply(e.kind, e.amount_fen);
        *self.counts.entry(e.kind).or_insert(0) += e.count;
        *self.amounts.entry(e.kind).or_insert(0) += e.amount_fen;
    }

    /// The chain's end must be the head the campaign row records (entries cut from the end).
    pub fn finish(&mut self, head_seq: i64, head_hash: &str) {
        if self.first_break.is_none() && (self.expected_seq - 1 != head_seq || self.prev_hash != head_hash) {
            self.first_break = Some(LedgerBreak::Truncated {
                campaign_id: self.campaign_id,
                last_seq: self.expected_seq - 1,
                head_seq,
            });
        }
    }
}

/// What the vouchers themselves say, summed per status, for one campaign.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VoucherSums {
    pub claimed_fen: i64,
    pub redeemed_fen: i64,
    pub settled_fen: i64,
    pub expired_fen: i64,
    pub vouchers: i64,
}

/// One kind's stock as stored, and the vouchers that exist of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindFacts {
    pub kind_id: i64,
    pub stock_total: i64,
    pub stock_remaining: i64,
    pub vouchers: i64,
}

/// Everything verify knows about one campaign besides its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignFacts {
    pub campaign_id: i64,
    pub budget_total_fen: i64,
    pub budget_remaining_fen: i64,
    pub per_person_limit: i64,
    pub most_held_by_one_citizen: i64,
    /// Citizens whose vouchers' slots are not exactly 1..n. The claim engine reads a
    /// citizen's count as their highest slot, so a gap would cost them a voucher.
    pub citizens_with_slot_gaps: i64,
    pub sums: VoucherSums,
    pub kinds: Vec<KindFacts>,
}

/// A place where the ledger does not hold, named for the person who must look into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "break", rename_all = "snake_case")]
pub enum LedgerBreak {
    EntryMissing {
        campaign_id: i64,
        seq: i64,
    },
    EntryAltered {
        campaign_id: i64,
        seq: i64,
    },
    EntryOutOfOrder {
        campaign_id: i64,
        seq: i64,
    },
    Truncated {
        campaign_id: i64,
        last_seq: i64,
        head_seq: i64,
    },
    Unbalanced {
        campaign_id: i64,
        sum: i64,
    },
    FundingMismatch {
        campaign_id: i64,
        funded: i64,
        budget: i64,
    },
    Negative {
        campaign_id: i64,
        account: Account,
        balance: i64,
    },
    ClearingNotEmpty {
        campaign_id: i64,
        balance: i64,
    },
    AccountMismatch {
        campaign_id: i64,
        account: Account,
        ledger: i64,
        vouchers: i64,
    },
    BudgetMismatch {
        campaign_id: i64,
        ledger: i64,
        stored: i64,
    },
    ClaimCountMismatch {
        campaign_id: i64,
        ledger: i64,
        vouchers: i64,
    },
    OverIssued {
        campaign_id: i64,
        kind_id: i64,
        stock: i64,
        vouchers: i64,
    },
    StockMismatch {
        campaign_id: i64,
        kind_id: i64,
        stored: i64,
        expected: i64,
    },
    OverLimit {
        campaign_id: i64,
        limit: i64,
        held: i64,
    },
    SlotGaps {
        campaign_id: i64,
        citizens: i64,
    },
}

impl fmt::Display for LedgerBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LedgerBreak::*;
        match self {
            EntryMissing { campaign_id, seq } => write!(f, "campaign {campaign_id}: ledger entry {seq} is missing"),
            EntryAltered { campaign_id, seq } => write!(f, "campaign {campaign_id}: ledger entry {seq} does not match its hash: altered"),
            EntryOutOfOrder { campaign_id, seq } => write!(f, "campaign {campaign_id}: ledger entry {seq} does not follow the one before it"),
            Truncated {
                campaign_id,
                last_seq,
                head_seq,
            } => {
                write!(f, "campaign {campaign_id}: the ledger ends at entry {last_seq} but {head_seq} were written")
            }
            Unbalanced { campaign_id, sum } => write!(f, "campaign {campaign_id}: the accounts sum to {sum} fen, not zero"),
            FundingMismatch { campaign_id, funded, budget } => {
                write!(f, "campaign {campaign_id}: funded {funded} fen but the campaign's budget is {budget} fen")
            }
            Negative { campaign_id, account, balance } => write!(f, "campaign {campaign_id}: account {} is negative ({balance} fen)", account.code()),
            ClearingNotEmpty { campaign_id, balance } => write!(f, "campaign {campaign_id}: the expired clearing account holds {balance} fen"),
            AccountMismatch {
                campaign_id,
                account,
                ledger,
                vouchers,
            } => write!(
                f,
                "campaign {campaign_id}: account {} holds {ledger} fen but its vouchers add up to {vouchers} fen",
                account.code()
            ),
            BudgetMismatch { campaign_id, ledger, stored } => {
                write!(
                    f,
                    "campaign {campaign_id}: the ledger's budget is {ledger} fen but the campaign records {stored} fen"
                )
            }
            ClaimCountMismatch { campaign_id, ledger, vouchers } => {
                write!(f, "campaign {campaign_id}: the ledger records {ledger} claims but {vouchers} vouchers exist")
            }
            OverIssued {
                campaign_id,
                kind_id,
                stock,
                vouchers,
            } => {
                write!(
                    f,
                    "campaign {campaign_id}: kind {kind_id} has {vouchers} vouchers for a stock of {stock}: over-issued"
                )
            }
            StockMismatch {
                campaign_id,
                kind_id,
                stored,
                expected,
            } => {
                write!(f, "campaign {campaign_id}: kind {kind_id} records {stored} left but {expected} should be")
            }
            OverLimit { campaign_id, limit, held } => write!(f, "campaign {campaign_id}: a citizen holds {held} vouchers, over the limit of {limit}"),
            SlotGaps { campaign_id, citizens } => {
                write!(
                    f,
                    "campaign {campaign_id}: {citizens} citizen(s) hold vouchers whose slots are not 1..n (a voucher deleted?)"
                )
            }
        }
    }
}

/// Checks a campaign's balances (from its chain) against its vouchers and stored figures.
pub fn reconcile(walk: &ChainWalker, facts: &CampaignFacts) -> Vec<LedgerBreak> {
    let c = facts.campaign_id;
    let b = &walk.balances;
    let mut breaks = Vec::new();
    if let Some(first) = &walk.first_break {
        breaks.push(first.clone());
    }
    let sum: i64 = b.0.iter().sum();
    if sum != 0 {
        breaks.push(LedgerBreak::Unbalanced { campaign_id: c, sum });
    }
    if -b.get(Account::Funding) != facts.budget_total_fen {
        breaks.push(LedgerBreak::FundingMismatch {
            campaign_id: c,
            funded: -b.get(Account::Funding),
            budget: facts.budget_total_fen,
        });
    }
    for a in [Account::Budget, Account::Issued, Account::Redeemed, Account::Settled] {
        if b.get(a) < 0 {
            breaks.push(LedgerBreak::Negative {
                campaign_id: c,
                account: a,
                balance: b.get(a),
            });
        }
    }
    if b.get(Account::Expired) != 0 {
        breaks.push(LedgerBreak::ClearingNotEmpty {
            campaign_id: c,
            balance: b.get(Account::Expired),
        });
    }
    let s = &facts.sums;
    for (account, vouchers) in [
        (Account::Issued, s.claimed_fen),
        (Account::Redeemed, s.redeemed_fen),
        (Account::Settled, s.settled_fen),
    ] {
        if b.get(account) != vouchers {
            breaks.push(LedgerBreak::AccountMismatch {
                campaign_id: c,
                account,
                ledger: b.get(account),
                vouchers,
            });
        }
    }
    let expired_turnover = walk.amounts.get(&EntryKind::Expire).copied().unwrap_or(0);
    if expired_turnover != s.expired_fen {
        breaks.push(LedgerBreak::AccountMismatch {
            campaign_id: c,
            account: Account::Expired,
            ledger: expired_turnover,
            vouchers: s.expired_fen,
        });
    }
    if b.get(Account::Budget) != facts.budget_remaining_fen {
        breaks.push(LedgerBreak::BudgetMismatch {
            campaign_id: c,
            ledger: b.get(Account::Budget),
            stored: facts.budget_remaining_fen,
        });
    }
    let claims = walk.counts.get(&EntryKind::Claim).copied().unwrap_or(0);
    if claims != s.vouchers {
        breaks.push(LedgerBreak::ClaimCountMismatch {
            campaign_id: c,
            ledger: claims,
            vouchers: s.vouchers,
        });
    }
    for k in &facts.kinds {
        if k.vouchers > k.stock_total {
            breaks.push(LedgerBreak::OverIssued {
                campaign_id: c,
                kind_id: k.kind_id,
                stock: k.stock_total,
                vouchers: k.vouchers,
            });
        }
        if k.stock_remaining != k.stock_total - k.vouchers {
            breaks.push(LedgerBreak::StockMismatch {
                campaign_id: c,
                kind_id: k.kind_id,
                stored: k.stock_remaining,
                expected: k.stock_total - k.vouchers,
            });
        }
    }
    if facts.most_held_by_one_citizen > facts.per_person_limit {
        breaks.push(LedgerBreak::OverLimit {
            campaign_id: c,
            limit: facts.per_person_limit,
            held: facts.most_held_by_one_citizen,
        });
    }
    if facts.citizens_with_slot_gaps > 0 {
        breaks.push(LedgerBreak::SlotGaps {
            campaign_id: c,
            citizens: facts.citizens_with_slot_gaps,
        });
    }
    breaks
}

/// Builds the next entry of a chain (used by the store and the simulation alike).
#[allow(clippy::too_many_arguments)]
pub fn next_entry(
    campaign_id: i64,
    prev_seq: i64,
    prev_hash: &str,
    kind: EntryKind,
    voucher_kind_id: Option<i64>,
    voucher_id: Option<i64>,
    count: i64,
    amount_fen: i64,
    at_ms: i64,
) -> Entry {
    let seq = prev_seq + 1;
    let hash = entry_hash(prev_hash, campaign_id, seq, kind, voucher_kind_id, voucher_id, count, amount_fen, at_ms);
    Entry {
        campaign_id,
        seq,
        kind,
        voucher_kind_id,
        voucher_id,
        count,
        amount_fen,
        at_ms,
        prev_hash: prev_hash.to_string(),
        hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_kind_moves_between_two_different_accounts_and_round_trips_its_code() {
        for k in EntryKind::ALL {
            let (a, b) = k.accounts();
            assert_ne!(a, b);
            assert_eq!(EntryKind::parse(k.code()), Some(k));
        }
    }

    #[test]
    fn the_chain_walker_finds_an_altered_a_missing_and_a_cut_entry() {
        let mut entries = Vec::new();
        let (mut seq, mut hash) = (0, GENESIS_HASH.to_string());
        for (k, amount) in [(EntryKind::Fund, 1000), (EntryKind::Claim, 50), (EntryKind::Redeem, 50)] {
            let e = next_entry(1, seq, &hash, k, None, None, 1, amount, 5);
            seq = e.seq;
            hash = e.hash.clone();
            entries.push(e);
        }
        let walk = |es: &[Entry], head: (i64, &str)| {
            let mut w = ChainWalker::new(1);
            es.iter().for_each(|e| w.push(e));
            w.finish(head.0, head.1);
            w.first_break
        };
        assert_eq!(walk(&entries, (seq, &hash)), None);
        let mut altered = entries.clone();
        altered[1].amount_fen = 40;
        assert_eq!(walk(&altered, (seq, &hash)), Some(LedgerBreak::EntryAltered { campaign_id: 1, seq: 2 }));
        let missing = vec![entries[0].clone(), entries[2].clone()];
        assert_eq!(walk(&missing, (seq, &hash)), Some(LedgerBreak::EntryMissing { campaign_id: 1, seq: 2 }));
        assert!(matches!(walk(&entries[..2], (seq, &hash)), Some(LedgerBreak::Truncated { .. })));
    }
}

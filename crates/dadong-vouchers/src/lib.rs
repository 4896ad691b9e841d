//! Consumption vouchers (乐享大东, SPEC section 6): the rules, without I/O.
//!
//! - [`model`]: campaigns (shopping seasons), voucher kinds, categories, claim modes, and
//!   their validation.
//! - [`claim`]: the decision for a batch of pending claims against a campaign's remaining
//!   stock, budget and per-person limit, with idempotency keys; the claim engine in the store
//!   runs it inside one transaction per batch.
//! - [`token`]: the signed voucher token a citizen shows as a QR code (Ed25519), and its
//!   compact text form, parsed defensively.
//! - [`redeem`]: what a merchant's scan must pass: status, validity, threshold, category,
//!   merchant approval; and when a refund may return a voucher.
//! - [`ledger`]: the double-entry accounts (funding, budget, issued, redeemed, settled,
//!   expired), the hash chain of entries, and every invariant `dadong ledger verify` checks.
//! - [`lottery`]: who may register for a lottery campaign, and the draw: registrations ranked
//!   by SHA-256 of seed, campaign, citizen and kind, winners within stock, budget and limit.
//! - [`fraud`]: the review flags: many claims from one device, a merchant redeeming for the
//!   same few citizens, purchases clustered just above the threshold.
//! - [`sim`]: an in-memory campaign that applies the same rules; property tests drive it
//!   through random interleavings and check the ledger after every step.
//!
//! Nothing here knows SQL, HTTP or a clock: `now` is always a parameter.

// Amounts in fen are written as yuan_fen (`300_00` is 300.00 yuan), which clippy reads as
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]
#![forbid(unsafe_code)]

pub mod claim;
pub mod fraud;
pub mod ledger;
pub mod lottery;
pub mod model;
pub mod redeem;
pub mod sim;
pub mod token;

pub use claim::{ClaimOutcome, ClaimRefusal, ClaimRequest, decide_batch};
pub use ledger::{Account, Balances, EntryKind, LedgerBreak};
pub use model::{CampaignSpec, Category, ClaimMode, KindSpec, ModelError};
pub use redeem::{RedeemRefusal, VoucherStatus};
pub use token::{TokenError, VoucherKey, VoucherToken};

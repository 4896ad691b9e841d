//! The economy (SPEC section 3 and 9): the exchange formats and their validation, the
//! figures of a bulletin, and how a bulletin is written up (prose, charts, tables).
//!
//! No I/O here: the store reads and writes records; this crate says what a valid record is,
//! what the figures mean, and how they read.

#![forbid(unsafe_code)]

pub mod import;
pub mod model;
pub mod report;

pub use model::*;

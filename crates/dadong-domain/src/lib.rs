//! Digital Dadong's domain: the types every product area shares, validated once at the edge.
//!
//! Nothing here does I/O: no SQL, no HTTP, no files at run time (reference data such as the
//! working-day calendar is compiled in). Every type that can hold a value was built by a
//! `parse` that refused bad input, so code that receives one need not check it again.

#![forbid(unsafe_code)]

pub mod calendar;
pub mod crypto;
pub mod ids;
pub mod money;
pub mod period;
pub mod role;

pub use calendar::WorkCalendar;

/// The nine urban districts of Shenyang with their GB/T 2260 division codes:
/// `division_code,name_zh,name_en`.
pub const SHENYANG_DISTRICTS_CSV: &str = include_str!("../data/shenyang-districts.csv");
pub use ids::{CreditCode, ResidentId};
pub use money::Fen;
pub use period::Period;
pub use role::Role;

/// The district's time zone, by name, for jiff: settlement days, campaign opening hours,
/// report years and the times the pages show are counted in it, whatever the server's own
/// zone. (The services' and appeals' deadline arithmetic uses the fixed UTC+8 offset China
/// has kept since 1991.)
pub const DISTRICT_TIME_ZONE: &str = "Asia/Shanghai";

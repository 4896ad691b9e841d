//! Government services (一网通办, SPEC section 5): the rules, without I/O.
//!
//! - [`catalog`]: the matter catalog (事项目录) and its all-or-nothing CSV/XLSX import.
//! - [`bundle`]: one-thing bundles (一件事) as data: a dependency graph of matters with one
//!   combined form, validated against the catalog; the two shipped bundles.
//! - [`lifecycle`]: the application state machine and the working-day deadlines of its steps.
//!
//! The store persists what these types describe and carries out the effects [`lifecycle::apply`]
//! returns; the web layer shows them. Nothing here knows SQL, HTTP or a clock.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod catalog;
pub mod certificate;
pub mod lifecycle;

pub use bundle::{BundleDef, BundleError, ValidBundle, shipped_bundles, shipped_matters};
pub use catalog::{Channel, FileFormat, Level, Material, Matter, RowError, fully_online_share, parse_matters};
pub use lifecycle::{AppState, Application, Event, Flag, LifecycleError, StepState, Transition, apply};

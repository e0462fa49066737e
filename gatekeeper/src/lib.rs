//! `dxsim-gatekeeper`: the pure core of dxsim, with no network, terminal or model in sight.
//!
//! It owns the hidden case record and everything that decides what a doctor may learn from it and what
//! that costs. The episode engine, the HTTP server and the terminal app all build on it.
//!
//! # Layout
//! - [`case`]: the case record format and its validator (every problem, with file and field path).
//! - [`catalogue`]: the test catalogue built from `data/*.csv` — ids, synonyms, analytes, ranges, prices.
//! - [`icd10`]: the ICD-10-CM code table, for code validation and the judge's hierarchy.
//! - [`resolve`]: from typed requests to catalogue tests and exam systems (exact → synonym →
//!   abbreviation → fuzzy), with vague and interpretation requests recognised.
//! - [`disclosure`]: the [`Gatekeeper`] — case results, seeded normal results, refusals.
//! - [`synthetic`]: how plausible normal results are drawn.
//! - [`billing`]: visit fees and test charges.
//! - [`money`] and [`text`]: exact cents, and text normalisation shared with the judge.
//!
//! # Example
//! ```
//! use dxsim_gatekeeper::{Catalogue, Resolver, resolve::OrderOutcome};
//!
//! let catalogue = Catalogue::builtin();
//! let resolver = Resolver::new(catalogue);
//! let outcome = resolver.resolve_order("full blood count");
//! let OrderOutcome::Test { test, .. } = outcome else { panic!("resolves") };
//! assert_eq!(catalogue.tests()[test].id, "cbc");
//! ```

pub mod billing;
pub mod case;
pub mod catalogue;
pub mod disclosure;
pub mod icd10;
pub mod memo;
pub mod money;
pub mod resolve;
pub mod synthetic;
pub mod text;

pub use billing::{CostConfig, CostTotals, Ledger};
pub use case::Case;
pub use catalogue::Catalogue;
pub use disclosure::{DisclosureState, Gatekeeper};
pub use icd10::Icd10;
pub use money::Money;
pub use resolve::Resolver;

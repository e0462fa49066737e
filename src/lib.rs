//! dxsim: an interactive sequential-diagnosis simulation environment.
//!
//! The pure core — case records, the test catalogue, request resolution, disclosure, billing — lives in
//! the `dxsim-gatekeeper` crate. This crate builds the simulation on it.
//!
//! # Layout
//! - [`library`]: the built-in case library (embedded from `cases/`), case files on disk, and library
//!   statistics.
//! - [`judge`]: scoring a final diagnosis against the reference, 1–5, correct at 4 or more.

pub mod judge;
pub mod library;

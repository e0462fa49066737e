#![doc = include_str!("../README.md")]
//!
//! # Modules of this crate
//!
//! The pure core — case records, the test catalogue, request resolution, disclosure, billing — lives in
//! the `dxsim-gatekeeper` crate; this crate builds the simulation on it.
//!
//! - [`library`]: the built-in case library (embedded from `cases/`), case files on disk, and library
//!   statistics.
//! - [`action`]: what a doctor can do in a turn, and the text protocol LLM agents speak.
//! - [`agents`]: built-in doctors — the oracle (an upper bound) and a seeded random doctor.
//! - [`episode`]: the episode engine on bevy_ecs — `Env`, `VecEnv`, options and steps.
//! - [`patient`]: the rule-based patient simulator, answering history questions from the case.
//! - [`judge`]: scoring a final diagnosis against the reference, 1–5, correct at 4 or more.
//! - [`eval`]: batch evaluation — agents × cases × biases × seeds, resumable runs and reports.
//! - [`store`]: the SQLite store of episode event logs.
//! - [`llm`]: the client for OpenAI-compatible chat-completions endpoints — per-role configuration,
//!   retries, concurrency limits, the response cache and token usage.
//! - [`server`]: the HTTP step API (`dxsim serve`) on tokio and axum.
//! - `disk_cache`: tables every process of a build would compute again (the judge's terminology, the
//!   validated built-in library), kept on disk under the build's fingerprint.

pub mod action;
pub mod agents;
pub mod builtin_cases;
mod disk_cache;
pub mod episode;
pub mod eval;
pub mod import;
pub mod judge;
pub mod library;
pub mod llm;
pub mod patient;
pub mod server;
pub mod store;

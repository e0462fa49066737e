//! Integration tests for dxsim: one binary, a module per area.

mod bias;
mod cli;
mod discrete;
mod episode;
mod eval;
mod eval_llm;
mod fake_openai;
mod gatekeeper;
mod import;
mod judge;
mod library;
mod lint;
mod llm;
mod model_backed;
mod patient;
mod play;
mod report;
mod server;
mod surface;
mod validator;

/// The valid case fixture written for these tests.
pub(crate) const VALID_CASE: &str = include_str!("fixtures/fixture-valid.toml");

//! Integration tests for dxsim-tui: one binary, a module per area. The screens are driven through the
//! real runtime with a small scripted driver (`fixture`), drawn into ratatui's `TestBackend`, and
//! snapshotted with insta.

mod fixture;
mod runner;
mod snapshots;

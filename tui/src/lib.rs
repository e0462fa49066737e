//! `dxsim-tui`: the trainee terminal app behind `dxsim play` — an encounter screen, an order picker,
//! a debrief after every case and a logbook of finished cases (ratatui + crossterm).
//!
//! # Layout
//!
//! - [`driver`]: the [`EpisodeDriver`] trait through which the app plays an episode, and the plain
//!   data it returns. The app knows this step API, never the engine: the `dxsim` binary implements
//!   it over the in-process engine; a client of `dxsim serve` can implement it over HTTP.
//! - [`app`]: the state — screen, overlay, turns seen, cost meter, the student's notes.
//! - [`update`]: events (keys, mouse wheel, resizes, the driver's replies) → state, and the work to
//!   do next as an [`update::Effect`]. The only writer of the state.
//! - [`ui`]: drawing, a file per screen; reads the state only.
//! - [`run`]: the terminal and the loop: draw, wait for an event, update, carry out the effect.
//! - [`logbook`]: finished cases in SQLite, with accuracy and mean cost by specialty and month.
//! - [`fuzzy`]: ranking catalogue tests against what the student types.

pub mod app;
pub mod driver;
pub mod fuzzy;
pub mod logbook;
pub mod run;
pub mod ui;
pub mod update;

pub use driver::EpisodeDriver;
pub use logbook::{Logbook, LogbookError, logbook_path};
pub use run::{Exit, PlayError, Start, play};

//! Command-line parsing and dispatch. Each subcommand lives in its own module; the clap doc comments
//! below are the help text.

mod cases;
mod catalogue;
mod embedded;
mod episode;
mod eval;
mod import;
mod judge;
mod libraries;
mod llm;
mod loadtest;
mod patient;
mod play;
mod report;
mod serve;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Interactive sequential-diagnosis simulation: hidden cases, a gatekeeper that reveals findings only
/// when asked and charges for them, and a judge.
#[derive(Debug, Parser)]
#[command(name = "dxsim", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List, show and validate cases.
    #[command(subcommand)]
    Cases(cases::CasesCommand),
    /// Search and list the test catalogue.
    #[command(subcommand)]
    Catalogue(catalogue::CatalogueCommand),
    /// Measure the patient's understanding of questions.
    #[command(subcommand)]
    Patient(patient::PatientCommand),
    /// Score diagnoses and measure the judge.
    #[command(subcommand)]
    Judge(judge::JudgeCommand),
    /// Play one case with a built-in doctor and print the transcript (optionally writing its log).
    Run(episode::RunArgs),
    /// Evaluate doctors over cases × patient biases × seeds; results and reports go to --out.
    Eval(eval::EvalArgs),
    /// Serve the HTTP step API over the built-in case library (see docs/http-api.md).
    Serve(serve::ServeArgs),
    /// Load a running `dxsim serve` on this machine and report throughput and latency.
    Loadtest(loadtest::LoadtestArgs),
    /// Replay an episode log exactly and print its transcript (exit 1 if the replay diverges).
    Replay(episode::ReplayArgs),
    /// Practise a case yourself in the terminal app: ask, examine, order, diagnose, then a debrief.
    Play(play::PlayArgs),
    /// Print your logbook: accuracy and mean cost by specialty and by month, and every case.
    Logbook(play::LogbookArgs),
    /// Rebuild the summary (summary.csv) and the HTML report (report.html) of one or more
    /// evaluation runs, merging shards by episode key.
    Report(report::ReportArgs),
}

/// How a command ended, mapped to the process exit code.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Everything went as asked (exit 0).
    Success,
    /// The command ran and found problems, e.g. invalid cases (exit 1).
    ProblemsFound,
    /// `dxsim eval` finished, but an agent errored on more of its episodes than
    /// `--max-error-rate` allows (exit 4).
    AgentErrors,
}

/// A mistake the user can fix (exit 2), with an optional hint.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct UserError {
    message: String,
    hint: Option<String>,
}

impl UserError {
    /// A user error with a message and a hint line.
    pub(crate) fn new(message: impl Into<String>, hint: Option<String>) -> UserError {
        UserError {
            message: message.into(),
            hint,
        }
    }
}

/// Reads and parses a measuring set the user named (`--set`): an unreadable file or a CSV that does
/// not parse is a user error naming the file, with the columns as the hint.
pub(crate) fn read_set<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str) -> Result<T, csv::Error>,
    columns: &str,
) -> Result<T, UserError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        UserError::new(format!("cannot read {}: {error}", path.display()), None)
    })?;
    parse(&text).map_err(|error| {
        UserError::new(
            format!("{}: {error}", path.display()),
            Some(format!("columns: {columns}")),
        )
    })
}

/// Parses the command line, runs the command and turns its result into an exit code: 0 success, 1
/// problems found, 2 a user's mistake, 3 an internal failure.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cases(command) => cases::run(command),
        Command::Catalogue(command) => catalogue::run(command),
        Command::Judge(command) => judge::run(command),
        Command::Patient(command) => patient::run(command),
        Command::Run(args) => episode::run(&args),
        Command::Replay(args) => episode::replay(&args),
        Command::Eval(args) => eval::run(args),
        Command::Serve(args) => serve::run(&args),
        Command::Loadtest(args) => loadtest::run(&args),
        Command::Play(args) => play::play(args),
        Command::Logbook(args) => play::logbook(&args),
        Command::Report(args) => report::run(&args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemsFound) => ExitCode::from(1),
        Ok(Outcome::AgentErrors) => ExitCode::from(4),
        Err(error) => {
            if is_broken_pipe(&error) {
                // The reader went away (`dxsim … | head`): nothing more to say.
                return ExitCode::SUCCESS;
            }
            let mut stderr = io::stderr().lock();
            if let Some(user) = error.downcast_ref::<UserError>() {
                let _ = writeln!(stderr, "error: {user}");
                if let Some(hint) = &user.hint {
                    let _ = writeln!(stderr, "hint: {hint}");
                }
                return ExitCode::from(2);
            }
            let _ = writeln!(stderr, "error: {error:#}");
            ExitCode::from(3)
        }
    }
}

/// Whether an error comes from writing to a closed pipe, however it was wrapped.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io_error| io_error.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|json| json.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}

//! `dxsim play` runs the trainee terminal app on the embedded engine; `dxsim logbook` prints the
//! logbook of finished cases. The app itself lives in the `dxsim-tui` crate; this module turns the
//! command line into its settings and gives it the engine through [`EmbeddedDriver`].

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use dxsim::judge::RuleJudge;
use dxsim_gatekeeper::Money;
use dxsim_tui::driver::{CaseRequest, DriverError};
use dxsim_tui::logbook::{Logbook, write_report};
use dxsim_tui::{Exit, PlayError, Start};

use super::embedded::EmbeddedDriver;
use super::libraries::CasesArgs;
use super::{Outcome, UserError};

/// Arguments of `dxsim play`.
#[derive(Debug, Args)]
pub(crate) struct PlayArgs {
    /// Play this case (see `dxsim cases list`).
    #[arg(long, value_name = "ID", conflicts_with_all = ["specialty", "difficulty"])]
    case: Option<String>,
    /// A case of this specialty, chosen by the seed.
    #[arg(long, value_name = "S")]
    specialty: Option<String>,
    /// A case of this difficulty, chosen by the seed.
    #[arg(long, value_name = "D", value_parser = ["common", "atypical", "rare"])]
    difficulty: Option<String>,
    /// Give the patient a cognitive bias by AgentClinic's name: recency, frequency, false_consensus or
    /// self_diagnosis.
    #[arg(long, value_name = "NAME")]
    bias: Option<String>,
    /// A budget cap in US dollars: the case ends when the total cost passes it.
    #[arg(long, value_name = "USD", value_parser = parse_budget)]
    budget: Option<f64>,
    /// Episode seed: the case chosen, synthetic results and the patient's wording follow from it
    /// (default: from the clock).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Pick up the case left mid-way (saved beside the logbook when you quit).
    #[arg(long, conflicts_with_all = ["case", "specialty", "difficulty", "bias", "budget", "seed"])]
    resume: bool,
    /// The logbook file (default: $DXSIM_LOGBOOK, else dxsim/logbook.sqlite in your data folder).
    #[arg(long, value_name = "PATH")]
    logbook: Option<PathBuf>,
    #[command(flatten)]
    cases: CasesArgs,
}

/// Arguments of `dxsim logbook`.
#[derive(Debug, Args)]
pub(crate) struct LogbookArgs {
    /// The logbook file (default: $DXSIM_LOGBOOK, else dxsim/logbook.sqlite in your data folder).
    #[arg(long, value_name = "PATH")]
    logbook: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn open_logbook(explicit: Option<&Path>) -> anyhow::Result<Logbook> {
    let hint = Some("pass --logbook PATH or set DXSIM_LOGBOOK to a writable file".to_string());
    let path = dxsim_tui::logbook_path(explicit)
        .map_err(|error| UserError::new(error.to_string(), hint.clone()))?;
    Logbook::open(&path).map_err(|error| UserError::new(error.to_string(), hint).into())
}

/// A budget: a finite number of dollars above zero.
fn parse_budget(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(dollars) if dollars.is_finite() && dollars > 0.0 => Ok(dollars),
        _ => Err(format!(
            "`{text}` is not a budget: give dollars above zero, e.g. 1500"
        )),
    }
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            elapsed.as_secs() ^ u64::from(elapsed.subsec_nanos())
        })
}

pub(crate) fn play(args: PlayArgs) -> anyhow::Result<Outcome> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(UserError::new(
            "`dxsim play` needs an interactive terminal",
            Some("run it in a terminal, not through a pipe; `dxsim run` plays without one".into()),
        )
        .into());
    }
    let logbook = open_logbook(args.logbook.as_deref())?;
    let request = CaseRequest {
        case_id: args.case,
        specialty: args.specialty,
        difficulty: args.difficulty,
        bias: args.bias,
        budget: args.budget.map(Money::from_dollars),
        seed: args.seed.unwrap_or_else(clock_seed),
    };
    let start = if args.resume {
        Start::Resume { next: request }
    } else {
        Start::New(request)
    };
    RuleJudge::warm_up_in_background();
    let mut driver = EmbeddedDriver::new(args.cases.load()?);
    match dxsim_tui::play(&mut driver, logbook, start) {
        Ok(Exit::Finished) => Ok(Outcome::Success),
        Ok(Exit::Suspended(path)) => {
            writeln!(
                io::stdout().lock(),
                "case saved to {}; pick it up with `dxsim play --resume`",
                path.display()
            )?;
            Ok(Outcome::Success)
        }
        Err(PlayError::Driver(DriverError::Refused(message))) => {
            Err(UserError::new(message, None).into())
        }
        Err(error @ (PlayError::NothingToResume(_) | PlayError::Driver(_))) => Err(UserError::new(
            error.to_string(),
            Some("start a new case with `dxsim play`".into()),
        )
        .into()),
        Err(error) => Err(error.into()),
    }
}

pub(crate) fn logbook(args: &LogbookArgs) -> anyhow::Result<Outcome> {
    let logbook = open_logbook(args.logbook.as_deref())?;
    let view = logbook
        .view()
        .map_err(|error| UserError::new(error.to_string(), None))?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &view)?;
        writeln!(out)?;
    } else {
        write_report(&mut out, &view)?;
    }
    Ok(Outcome::Success)
}

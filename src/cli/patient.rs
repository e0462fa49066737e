//! `dxsim patient …`: measure the rule-based patient's question understanding on its measuring set.

use std::io::{self, Write};

use clap::Subcommand;
use dxsim::library::CaseLibrary;
use dxsim::patient::measure::{self, Split, Understanding};

use super::{Outcome, UserError};

#[derive(Debug, Subcommand)]
pub(crate) enum PatientCommand {
    /// Ask every question of the measuring set as the first question of a fresh episode and report
    /// recall, precision and none-accuracy for each half (dev: tuned on; test: held out).
    Measure {
        /// A question CSV to use instead of the built-in set (columns case, question, expect, kind).
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// Measure one half only.
        #[arg(long, value_enum)]
        split: Option<SplitArg>,
        /// Also list every question not answered exactly as expected.
        #[arg(long)]
        verbose: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// One half of the measuring set, as `--split` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SplitArg {
    /// The half the matcher was tuned on.
    Dev,
    /// The held-out half.
    Test,
}

impl From<SplitArg> for Split {
    fn from(arg: SplitArg) -> Split {
        match arg {
            SplitArg::Dev => Split::Dev,
            SplitArg::Test => Split::Test,
        }
    }
}

pub(crate) fn run(command: PatientCommand) -> anyhow::Result<Outcome> {
    match command {
        PatientCommand::Measure {
            set,
            split,
            verbose,
            json,
        } => {
            let questions = match &set {
                None => measure::questions(),
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|error| {
                        UserError::new(format!("cannot read {}: {error}", path.display()), None)
                    })?;
                    measure::parse(&text).map_err(|error| {
                        UserError::new(
                            format!("{} is not a question set: {error}", path.display()),
                            Some("the columns are case, question, expect, kind".into()),
                        )
                    })?
                }
            };
            let library = CaseLibrary::builtin()?;
            let halves = measure::measure(library, &questions, split.map(Split::from))
                .map_err(|error| UserError::new(error.to_string(), None))?;
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &halves)?;
                writeln!(out)?;
                return Ok(Outcome::Success);
            }
            for (half, understanding) in &halves {
                print_half(&mut out, *half, understanding, verbose)?;
            }
            Ok(Outcome::Success)
        }
    }
}

fn print_half(
    out: &mut impl Write,
    half: Split,
    understanding: &Understanding,
    verbose: bool,
) -> io::Result<()> {
    let name = match half {
        Split::Dev => "dev",
        Split::Test => "test",
    };
    writeln!(
        out,
        "{name}: {} questions · recall {:.1} % ({}/{}) · precision {:.1} % ({}/{}) · none-accuracy {:.1} % ({}/{})",
        understanding.questions,
        100.0 * understanding.recall(),
        understanding.correct,
        understanding.expected,
        100.0 * understanding.precision(),
        understanding.correct,
        understanding.revealed,
        100.0 * understanding.none_accuracy(),
        understanding.unrecorded_right,
        understanding.unrecorded,
    )?;
    for (kind, (questions, exact)) in &understanding.by_kind {
        writeln!(out, "  {kind:<12} {exact:>4}/{questions:<4} answered exactly")?;
    }
    if verbose {
        for miss in &understanding.misses {
            writeln!(
                out,
                "  miss [{}] {} · {:?}: expected [{}], revealed [{}]: {:?}",
                miss.question.kind,
                miss.question.case,
                miss.question.question,
                miss.question.expect,
                miss.revealed.join("|"),
                miss.answer
            )?;
        }
    }
    Ok(())
}

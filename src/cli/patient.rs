//! `dxsim patient …`: measure the rule-based patient's question understanding on its measuring set.

use std::io::{self, Write};

use clap::Subcommand;
use dxsim::library::CaseLibrary;
use dxsim::patient::measure::{self, Split, Understanding};

use super::judge::SplitArg;
use super::{Outcome, UserError, read_set};

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
    /// Ask a case's patient (rule-based, unbiased) one turn of questions and print the answer and
    /// the ids of the history items it revealed.
    Ask {
        /// A built-in case id, or a case file (`.toml`).
        case: String,
        /// The question(s), as a doctor would type them; several words are joined.
        #[arg(required = true)]
        question: Vec<String>,
    },
}

pub(crate) fn run(command: PatientCommand) -> anyhow::Result<Outcome> {
    match command {
        PatientCommand::Ask { case, question } => ask(&case, &question.join(" ")),
        PatientCommand::Measure {
            set,
            split,
            verbose,
            json,
        } => {
            let questions = match &set {
                None => measure::questions(),
                Some(path) => read_set(path, measure::parse, "case,question,expect,kind")?,
            };
            let library = CaseLibrary::builtin()?;
            let halves = measure::measure(
                |id| library.get(id).cloned(),
                &questions,
                split.map(Split::from),
            )
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
        writeln!(
            out,
            "  {kind:<12} {exact:>4}/{questions:<4} answered exactly"
        )?;
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

fn ask(case: &str, question: &str) -> anyhow::Result<Outcome> {
    use rand::SeedableRng;
    let case = if case.ends_with(".toml") {
        let text = std::fs::read_to_string(case)
            .map_err(|error| UserError::new(format!("cannot read {case}: {error}"), None))?;
        let parsed = dxsim_gatekeeper::case::parse_case(&text, case)
            .map_err(|problem| UserError::new(problem.to_string(), None))?;
        std::sync::Arc::new(parsed)
    } else {
        CaseLibrary::builtin()?.get(case).cloned().ok_or_else(|| {
            UserError::new(
                format!("no built-in case `{case}`"),
                Some("`dxsim cases list` shows the ids; or pass a .toml file".into()),
            )
        })?
    };
    let patient = dxsim::patient::RuleBasedPatient::new(case);
    let reply = patient.answer(
        question,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
        None,
    );
    let mut out = io::stdout().lock();
    writeln!(out, "{}", reply.text)?;
    writeln!(
        out,
        "items: [{}]",
        patient.item_ids(&reply.items).join(", ")
    )?;
    Ok(Outcome::Success)
}

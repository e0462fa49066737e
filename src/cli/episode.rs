//! `dxsim run` plays a case with a built-in doctor; `dxsim replay` re-runs an episode log exactly.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use dxsim::agents::{Doctor, OracleDoctor, RandomDoctor};
use dxsim::episode::{
    CaseSelector, Env, EpisodeLog, EpisodeOptions, LogError, Step, TranscriptEntry,
};
use dxsim::import::ddxplus::DdxplusSource;
use dxsim::library::CaseSource;
use dxsim_gatekeeper::Catalogue;

use super::libraries::CasesArgs;
use super::{Outcome, UserError};

/// Which built-in doctor plays.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AgentArg {
    /// Follows the reference work-up and names the diagnosis (reads the hidden case: an upper bound).
    Oracle,
    /// Random questions, examinations and tests, then a random diagnosis.
    Random,
}

/// Arguments of `dxsim run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The case to play (see `dxsim cases list`); without it, a case drawn by the seed.
    #[arg(long)]
    case: Option<String>,
    #[command(flatten)]
    cases: CasesArgs,
    /// Play DDXPlus patients straight from a release directory's patient CSV, without converting
    /// it (case ids are `ddxplus-<file>-<line>`).
    #[arg(long, conflicts_with = "cases")]
    ddxplus: Option<PathBuf>,
    /// Multiple-choice mode: show an imported case's question and answer options at reset.
    #[arg(long)]
    multiple_choice: bool,
    /// The doctor.
    #[arg(long, value_enum, default_value = "oracle")]
    agent: AgentArg,
    /// Episode seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Turns the random doctor takes before diagnosing.
    #[arg(long, default_value_t = 10)]
    patience: u32,
    /// Write the episode's event log (JSON lines) here.
    #[arg(long)]
    log: Option<PathBuf>,
}

fn print_transcript(out: &mut impl Write, transcript: &[TranscriptEntry]) -> io::Result<()> {
    for entry in transcript {
        let action = serde_json::to_string(&entry.action).unwrap_or_default();
        writeln!(out, "[{}] {action}", entry.turn)?;
        for line in entry.response.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

fn print_outcome(out: &mut impl Write, last: &Step) -> io::Result<()> {
    let cost = &last.info.cost;
    writeln!(
        out,
        "cost: {} ({} visit(s) {}, {} test(s) {})",
        cost.total, cost.visit_count, cost.visits, cost.test_count, cost.tests
    )?;
    if let Some(outcome) = &last.info.outcome {
        writeln!(
            out,
            "reference: {} ({})",
            outcome.reference.name, outcome.reference.icd10
        )?;
        match &outcome.verdict {
            Some(verdict) => writeln!(
                out,
                "verdict: {} — score {}: {}",
                if verdict.correct {
                    "correct"
                } else {
                    "incorrect"
                },
                verdict.score,
                verdict.rationale
            )?,
            None => writeln!(out, "verdict: none (the episode ended without a diagnosis)")?,
        }
        writeln!(
            out,
            "key findings missed: {}",
            outcome.key_findings_missed.len()
        )?;
    }
    Ok(())
}

/// The cases `dxsim run` plays: the libraries `--cases` names (the built-in one by default), or a
/// DDXPlus CSV. Loaded once for the life of the process.
fn source(args: &RunArgs) -> anyhow::Result<&'static dyn CaseSource> {
    if let Some(dir) = &args.ddxplus {
        let source = DdxplusSource::open(dir, None)
            .map_err(|error| UserError::new(error.to_string(), None))?;
        return Ok(Box::leak(Box::new(source)));
    }
    Ok(args.cases.load()?)
}

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let source = source(args)?;
    let options = EpisodeOptions {
        case: CaseSelector {
            id: args.case.clone(),
            ..CaseSelector::default()
        },
        multiple_choice: args.multiple_choice,
        ..EpisodeOptions::default()
    };
    let mut env = Env::with_source(source);
    let (mut observation, _) = env.reset(args.seed, options).map_err(|error| {
        UserError::new(
            error.to_string(),
            Some("run `dxsim cases list` to see the built-in ids".into()),
        )
    })?;
    let case_id = env.state().map(|state| state.case_id).unwrap_or_default();
    let Some(case) = source.get(&case_id) else {
        return Err(UserError::new(format!("no case with id `{case_id}`"), None).into());
    };
    let mut doctor: Box<dyn Doctor> = match args.agent {
        AgentArg::Oracle => Box::new(OracleDoctor::new(&case)),
        AgentArg::Random => {
            let diagnoses = match source.in_memory() {
                Some(cases) => cases
                    .iter()
                    .map(|case| case.diagnosis.name.clone())
                    .collect(),
                None => std::iter::once(&case.diagnosis.name)
                    .chain(case.differential.iter().map(|item| &item.name))
                    .cloned()
                    .collect(),
            };
            Box::new(RandomDoctor::new(
                Catalogue::builtin(),
                diagnoses,
                args.patience,
                args.seed,
            ))
        }
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{}", observation.text)?;
    let last = loop {
        let step = env.step(doctor.act(&observation))?;
        if step.terminated || step.truncated {
            break step;
        }
        observation = step.observation;
    };
    print_transcript(&mut out, env.transcript())?;
    print_outcome(&mut out, &last)?;
    if let (Some(path), Some(log)) = (&args.log, env.log()) {
        std::fs::write(path, log.to_jsonl())
            .with_context(|| format!("writing the log to {}", path.display()))?;
        writeln!(out, "log written to {}", path.display())?;
    }
    Ok(Outcome::Success)
}

/// Arguments of `dxsim replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The log file (JSON lines, as `dxsim run --log` writes).
    log: PathBuf,
    /// The cases the log was recorded on (the built-in library by default).
    #[command(flatten)]
    cases: CasesArgs,
}

pub(crate) fn replay(args: &ReplayArgs) -> anyhow::Result<Outcome> {
    let path = &args.log;
    let text = std::fs::read_to_string(path).map_err(|error| {
        UserError::new(format!("cannot read {}: {error}", path.display()), None)
    })?;
    let log = EpisodeLog::from_jsonl(&text)
        .map_err(|error| UserError::new(format!("{}: {error}", path.display()), None))?;
    if let Some(stamp) = &log.header.case
        && !args.cases.names_libraries()
        && stamp.library != dxsim::library::BUILTIN_NAME
    {
        return Err(UserError::new(
            format!(
                "{} was recorded on case `{}` of library `{}`",
                path.display(),
                log.header.case_id,
                stamp.library
            ),
            Some(format!("pass that library: --cases {}=PATH", stamp.library)),
        )
        .into());
    }
    let library = args.cases.load_all()?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "case {} · seed {}",
        log.header.case_id, log.header.seed
    )?;
    match log.replay(library) {
        Ok(transcript) => {
            print_transcript(&mut out, &transcript)?;
            writeln!(
                out,
                "replayed {} step(s): identical to the log",
                transcript.len()
            )?;
            Ok(Outcome::Success)
        }
        Err(error @ LogError::Diverged { .. }) => {
            writeln!(out, "{error}")?;
            Ok(Outcome::ProblemsFound)
        }
        Err(error) => Err(UserError::new(format!("{}: {error}", path.display()), None).into()),
    }
}

//! `dxsim run` plays a case with a built-in doctor; `dxsim replay` re-runs an episode log exactly.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use dxsim::agents::{Doctor, OracleDoctor, RandomDoctor};
use dxsim::episode::{
    CaseSelector, Env, EpisodeLog, EpisodeOptions, LogError, Step, TranscriptEntry,
};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::Catalogue;

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
    /// The case to play (see `dxsim cases list`).
    #[arg(long)]
    case: String,
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

pub(crate) fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let library = CaseLibrary::builtin()?;
    let Some(case) = library.get(&args.case) else {
        return Err(UserError::new(
            format!("no case with id `{}`", args.case),
            Some("run `dxsim cases list` to see the ids".into()),
        )
        .into());
    };
    let mut doctor: Box<dyn Doctor> = match args.agent {
        AgentArg::Oracle => Box::new(OracleDoctor::new(case)),
        AgentArg::Random => {
            let diagnoses = library
                .cases()
                .iter()
                .map(|case| case.diagnosis.name.clone())
                .collect();
            Box::new(RandomDoctor::new(
                Catalogue::builtin(),
                diagnoses,
                args.patience,
                args.seed,
            ))
        }
    };
    let options = EpisodeOptions {
        case: CaseSelector {
            id: Some(args.case.clone()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    };
    let mut env = Env::new(library);
    let (mut observation, _) = env.reset(args.seed, options)?;
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

pub(crate) fn replay(path: &PathBuf) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        UserError::new(format!("cannot read {}: {error}", path.display()), None)
    })?;
    let log = EpisodeLog::from_jsonl(&text)
        .map_err(|error| UserError::new(format!("{}: {error}", path.display()), None))?;
    let library = CaseLibrary::builtin()?;
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

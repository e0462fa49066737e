//! `dxsim eval`: agents × cases × patient biases × seeds, run concurrently with a progress bar, every
//! finished episode stored as it ends; reports written at the end.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dxsim::episode::EpisodeOptions;
use dxsim::episode::{GatekeeperBackend, PatientBackend};
use dxsim::eval::plan::{AgentSpec, BiasSetting, Shard};
use dxsim::eval::record::EpisodeRecord;
use dxsim::eval::report;
use dxsim::eval::run::{Run, RunError, RunManifest, RunModels, RunOutcome, RunSettings};
use dxsim::library::sources::LibrarySpec;
use dxsim::llm::Role;

use super::judge::JudgeArg;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::libraries::{CasesArgs, load_specs};
use super::{Outcome, UserError};

/// Arguments of `dxsim eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// A doctor to evaluate (repeat for several): `oracle`, `random`, `gaming:STRATEGY` (an
    /// adversary of the score: `specialty-list`, `library-list`, `negation`, `specialty-name`,
    /// `body-part`, `unknown`, `random-guess`, `specialty-guess`), `cmd:PROGRAM [ARGS…]` (JSON
    /// lines on stdin/stdout, see docs/agents.md) or `http:URL` (the same messages as POST bodies).
    /// Not needed with `--resume`, which then takes the whole configuration from `run.json`.
    #[arg(
        long = "agent",
        required_unless_present = "resume",
        value_name = "SPEC"
    )]
    agents: Vec<AgentSpec>,
    #[command(flatten)]
    cases: CasesArgs,
    /// Patient settings, comma-separated: `none`, a bias (`recency`, `gender`, …) or `bias=value` —
    /// the belief a cognitive bias pushes, or the group an implicit one distrusts (the evaluated
    /// doctor is declared a member of it, so the bias acts).
    #[arg(
        long = "patient-bias",
        value_delimiter = ',',
        default_value = "none",
        value_name = "LIST"
    )]
    biases: Vec<BiasSetting>,
    /// Seeds per combination: seeds `seed-base`, `seed-base + 1`, … .
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    seed_base: u64,
    /// Episodes in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
    /// The run directory: run.json, results.sqlite, episodes.jsonl, summary.csv, report.html.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in `--out`, playing only the episodes it lacks. Without `--agent`, its
    /// configuration is read from `run.json`; with it, the options given must match the run's.
    #[arg(long)]
    resume: bool,
    /// Play only share `i` of `n` of the run (episode k belongs to shard k mod n); merge the shards'
    /// directories with `dxsim report`.
    #[arg(long, value_name = "i/n")]
    shard: Option<Shard>,
    /// The share of an agent's episodes (0 to 1) that may end with an agent error (a program that
    /// would not start, a timeout, a malformed reply) before the run exits 4; every agent's errors
    /// are summarised on stderr either way.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = parse_error_rate)]
    max_error_rate: f64,
    /// Turns before an episode is truncated.
    #[arg(long, default_value_t = 40)]
    turn_limit: u32,
    /// Truncate an episode once its cost passes this many dollars.
    #[arg(long, value_name = "USD")]
    budget: Option<f64>,
    /// Turns the random doctor takes before diagnosing.
    #[arg(long, default_value_t = 10)]
    patience: u32,
    /// Seconds an external agent may take to answer one message.
    #[arg(long, default_value_t = 120)]
    agent_timeout: u64,
    /// Who plays the patient: the rule-based simulator, or a language model (the `patient` role of
    /// `--llm-config`).
    #[arg(long, value_enum, default_value = "rule-based")]
    patient: BackendArg,
    /// Who writes the examination findings and text reports a case does not record: the rule-based
    /// gatekeeper's normal templates, or a language model that sees the whole case (the `gatekeeper`
    /// role of `--llm-config`).
    #[arg(long, value_enum, default_value = "rule-based")]
    gatekeeper: BackendArg,
    /// Who scores the diagnoses: the rule-based judge, the LLM judge (the `judge` role of
    /// `--llm-config`), or the jury (its `jury` endpoints; every vote is kept in the record as
    /// `jury`). The rule-based score is kept beside either as `rule_score`.
    #[arg(long, value_enum, default_value = "rule")]
    judge: JudgeArg,
    /// The LLM configuration (endpoints and the role each serves; see docs/llm.toml), for the `llm`
    /// and `panel` agents, `--patient llm` and `--gatekeeper llm`. Give it again with `--resume`.
    #[arg(long, value_name = "FILE")]
    llm_config: Option<PathBuf>,
    /// Where model replies are cached, so a re-run asks nothing twice (default: llm-cache.sqlite in
    /// the run directory).
    #[arg(long, value_name = "FILE")]
    llm_cache: Option<PathBuf>,
}

/// Who plays the patient or the gatekeeper.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    /// The rule-based simulator.
    RuleBased,
    /// A language model.
    Llm,
}

/// Opens the LLM configuration and cache, if a configuration was given.
fn models(args: &EvalArgs) -> anyhow::Result<Option<RunModels>> {
    let Some(path) = &args.llm_config else {
        return Ok(None);
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cache_path = args
        .llm_cache
        .clone()
        .unwrap_or_else(|| args.out.join("llm-cache.sqlite"));
    let (config, clients) = super::llm::open_clients(path, Some(&cache_path))?;
    let roles = Role::ALL
        .into_iter()
        .filter_map(|role| {
            config
                .endpoint_for(role)
                .map(|(_, endpoint)| (role, format!("{} @ {}", endpoint.model, endpoint.base_url)))
        })
        .collect();
    Ok(Some(RunModels {
        clients: Arc::new(clients),
        roles,
    }))
}

/// Running accuracy and cost for the progress bar.
#[derive(Debug, Default)]
struct Tally {
    done: u64,
    correct: u64,
    errors: u64,
    cost: f64,
}

impl Tally {
    fn add(&mut self, record: &EpisodeRecord) -> String {
        self.done += 1;
        self.correct += u64::from(record.correct);
        self.errors += u64::from(record.error.is_some());
        self.cost += record.cost.total_usd;
        let done = self.done as f64;
        let mut message = format!(
            "accuracy {:.1}% · mean cost ${:.0}",
            100.0 * self.correct as f64 / done,
            self.cost / done
        );
        if self.errors > 0 {
            message.push_str(&format!(" · {} agent error(s)", self.errors));
        }
        message
    }
}

pub(crate) fn run(args: EvalArgs) -> anyhow::Result<Outcome> {
    let library = if args.resume && !args.cases.names_libraries() {
        // The libraries the run was started on, as run.json records them.
        let recorded = RunManifest::load(&args.out)
            .map(|manifest| manifest.library_specs())
            .unwrap_or_else(|_| vec![LibrarySpec::builtin()]);
        load_specs(&recorded, args.cases.skip_invalid)?
    } else {
        args.cases.load_all()?
    };
    let options = EpisodeOptions {
        turn_limit: args.turn_limit,
        budget_cap_usd: args.budget,
        patient_backend: match args.patient {
            BackendArg::RuleBased => PatientBackend::RuleBased,
            BackendArg::Llm => PatientBackend::Llm,
        },
        gatekeeper_backend: match args.gatekeeper {
            BackendArg::RuleBased => GatekeeperBackend::RuleBased,
            BackendArg::Llm => GatekeeperBackend::Llm,
        },
        ..EpisodeOptions::default()
    };
    let models = models(&args)?;
    options
        .validate()
        .map_err(|error| UserError::new(error.to_string(), None))?;
    let mut settings = if args.resume && args.agents.is_empty() {
        RunManifest::load(&args.out)
            .map_err(|error| {
                UserError::new(
                    error.to_string(),
                    Some("--resume continues a run started with `dxsim eval --out`".into()),
                )
            })?
            .settings(
                args.concurrency as usize,
                Duration::from_secs(args.agent_timeout),
            )
            .map_err(|error| UserError::new(error.to_string(), None))?
    } else {
        RunSettings {
            agents: args.agents,
            cases: args.cases.selection(),
            biases: args.biases,
            seeds: (0..args.seeds)
                .map(|offset| args.seed_base.wrapping_add(offset))
                .collect(),
            options,
            random_patience: args.patience,
            shard: args.shard,
            concurrency: args.concurrency as usize,
            agent_timeout: Duration::from_secs(args.agent_timeout),
            llm: None,
            llm_judge: args.judge != JudgeArg::Rule,
            jury: args.judge == JudgeArg::Jury,
        }
    };
    settings.llm = models;
    let run = Run::prepare(&args.out, settings, library, args.resume).map_err(|error| {
        let hint = match &error {
            RunError::AlreadyRun(_) => {
                Some("pass --resume to continue it, or choose another --out".to_string())
            }
            RunError::LibraryChanged { .. } => Some(
                "resume with the library as it was, or start a new run with another --out"
                    .to_string(),
            ),
            RunError::Mismatch { .. } => {
                Some("resume with the same options, or choose another --out".to_string())
            }
            RunError::Plan(_) => Some("see `dxsim eval --help`".to_string()),
            RunError::NoModel { .. } => {
                Some("see docs/llm.toml for a configuration with a [roles] table".to_string())
            }
            _ => None,
        };
        UserError::new(error.to_string(), hint)
    })?;
    let progress = ProgressBar::with_draw_target(
        Some(run.planned() as u64),
        ProgressDrawTarget::stderr_with_hz(4),
    )
    .with_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} episodes · ETA {eta} · {msg}")
            .map_err(anyhow::Error::from)?,
    );
    progress.set_position(run.resumed() as u64);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let bar = progress.clone();
    let (outcome, store) = runtime.block_on(async {
        let interrupt_stop = Arc::clone(&stop);
        let interrupt_bar = bar.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupt_stop.store(true, Ordering::Relaxed);
                interrupt_bar.println(
                    "interrupted: finishing the episodes in flight; continue with --resume",
                );
            }
        });
        run.play(Arc::clone(&stop), move |record| {
            let message = tally
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(record);
            bar.set_message(message);
            bar.inc(1);
        })
        .await
    })?;
    progress.finish_and_clear();
    runtime.shutdown_timeout(Duration::from_secs(1));
    let records = store.records()?;
    let title = format!("dxsim eval — {}", args.out.display());
    let rows = report::write_reports(&records, &args.out, &title)?;
    report_outcome(&args.out, &outcome, &records)?;
    let mut out = io::stdout().lock();
    write!(out, "{}", report::format_summary_table(&rows))?;
    writeln!(
        out,
        "summary: {}  report: {}",
        args.out.join(report::SUMMARY_FILE).display(),
        args.out.join(report::REPORT_FILE).display()
    )?;
    let errors = AgentErrors::of(&records);
    let mut stderr = io::stderr().lock();
    for agent in &errors {
        writeln!(stderr, "{agent}")?;
    }
    let over = errors
        .iter()
        .filter(|agent| agent.rate() > args.max_error_rate)
        .count();
    if over > 0 {
        writeln!(
            stderr,
            "error: {over} agent(s) errored on more than {:.0}% of their episodes (--max-error-rate {})",
            100.0 * args.max_error_rate,
            args.max_error_rate
        )?;
        return Ok(Outcome::AgentErrors);
    }
    Ok(Outcome::Success)
}

/// Parses `--max-error-rate`: a share from 0 to 1.
fn parse_error_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{text} is not a share from 0 to 1"))
    }
}

/// One agent's episodes that ended with an agent error, for the end-of-run summary.
#[derive(Debug, PartialEq)]
struct AgentErrors {
    agent: String,
    episodes: usize,
    errors: usize,
    /// The first distinct reasons, in the order the episodes were stored.
    first_reasons: Vec<String>,
}

impl AgentErrors {
    /// How many reasons the summary quotes per agent.
    const REASONS_SHOWN: usize = 3;

    /// Every agent of `records` with at least one error, in the order the agents first appear.
    fn of(records: &[EpisodeRecord]) -> Vec<AgentErrors> {
        let mut agents: Vec<AgentErrors> = Vec::new();
        for record in records {
            let at = match agents.iter().position(|agent| agent.agent == record.agent) {
                Some(at) => at,
                None => {
                    agents.push(AgentErrors {
                        agent: record.agent.clone(),
                        episodes: 0,
                        errors: 0,
                        first_reasons: Vec::new(),
                    });
                    agents.len() - 1
                }
            };
            let agent = &mut agents[at];
            agent.episodes += 1;
            if let Some(reason) = &record.error {
                agent.errors += 1;
                if agent.first_reasons.len() < Self::REASONS_SHOWN
                    && !agent.first_reasons.contains(reason)
                {
                    agent.first_reasons.push(reason.clone());
                }
            }
        }
        agents.retain(|agent| agent.errors > 0);
        agents
    }

    /// The share of the agent's episodes that errored.
    fn rate(&self) -> f64 {
        self.errors as f64 / self.episodes.max(1) as f64
    }
}

impl std::fmt::Display for AgentErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "agent `{}`: {} of {} episode(s) ended with an error",
            self.agent, self.errors, self.episodes
        )?;
        for reason in &self.first_reasons {
            write!(f, "\n  - {reason}")?;
        }
        Ok(())
    }
}

/// Prints what the run did.
fn report_outcome(
    dir: &std::path::Path,
    outcome: &RunOutcome,
    records: &[EpisodeRecord],
) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{} of {} episode(s) stored in {} ({} played now, {} from before){}",
        records.len(),
        outcome.planned,
        dir.display(),
        outcome.played,
        outcome.resumed,
        if outcome.interrupted {
            " — interrupted: continue with --resume"
        } else {
            ""
        }
    )?;
    if outcome.errors > 0 {
        writeln!(
            out,
            "{} episode(s) ended with an agent error (see their `error` in episodes.jsonl)",
            outcome.errors
        )?;
    }
    Ok(())
}

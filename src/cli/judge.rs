//! `dxsim judge …`: score a diagnosis against a reference, and measure the judge on its calibration set.

use std::io::{self, Write};

use clap::Subcommand;
use dxsim::judge::calibration;
use std::sync::Arc;

use dxsim::judge::llm::LlmJudge;
use dxsim::judge::{Reference, RuleJudge};
use dxsim::llm::Role;
use dxsim_gatekeeper::icd10::{Icd10, is_well_formed};

use super::{Outcome, UserError, read_set};

#[derive(Debug, Subcommand)]
pub(crate) enum JudgeCommand {
    /// Score a candidate diagnosis against a reference (1–5; correct at 4 or more).
    Score {
        /// The reference diagnosis.
        #[arg(long)]
        reference: String,
        /// The reference's ICD-10-CM code.
        #[arg(long)]
        icd10: String,
        /// An accepted synonym of the reference (repeatable).
        #[arg(long = "synonym")]
        synonyms: Vec<String>,
        /// The candidate's ICD-10-CM code, if it gave one.
        #[arg(long)]
        candidate_icd10: Option<String>,
        /// The candidate diagnosis; several words are joined.
        #[arg(required = true)]
        candidate: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Report the judge's agreement with the clinician-graded calibration set.
    Calibrate {
        /// A calibration CSV to use instead of the built-in set (same columns).
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// Measure one half only: `dev` (the rules were tuned on it) or `test` (the honest figure).
        /// Without it, both halves are reported, then the whole set.
        #[arg(long, value_enum)]
        split: Option<SplitArg>,
        /// Also list every pair where correct/incorrect disagrees.
        #[arg(long)]
        verbose: bool,
        /// Which judge to measure: the rule-based one, the LLM judge (the `judge` role of
        /// `--llm-config`), or the jury (its `jury` endpoints).
        #[arg(long, value_enum, default_value = "rule")]
        judge: JudgeArg,
        /// The LLM configuration (see docs/llm.toml), for `--judge llm` or `--judge jury`.
        #[arg(
            long,
            value_name = "FILE",
            required_if_eq_any([("judge", "llm"), ("judge", "jury")])
        )]
        llm_config: Option<std::path::PathBuf>,
        /// Cache the LLM judge's replies in this SQLite file, so a re-run asks nothing twice.
        #[arg(long, value_name = "FILE")]
        llm_cache: Option<std::path::PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// One half of a measuring set (the judge's calibration set, the patient's questions), as `--split`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SplitArg {
    /// The half tuned on.
    Dev,
    /// The held-out half.
    Test,
}

impl From<SplitArg> for calibration::Split {
    fn from(arg: SplitArg) -> calibration::Split {
        match arg {
            SplitArg::Dev => calibration::Split::Dev,
            SplitArg::Test => calibration::Split::Test,
        }
    }
}

/// Which judge `dxsim judge calibrate` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum JudgeArg {
    /// The rule-based judge.
    Rule,
    /// The LLM judge.
    Llm,
    /// A jury of LLM endpoints (the configuration's `jury`): the median score stands, the votes are
    /// kept.
    Jury,
}

/// Scores the pairs with the LLM judge of the configuration at `config`.
fn llm_agreement(
    config: &std::path::Path,
    cache: Option<&std::path::Path>,
    jury: bool,
    pairs: &[calibration::CalibrationPair],
) -> anyhow::Result<calibration::Agreement> {
    let (config, clients) = super::llm::open_clients(config, cache)?;
    if jury && config.jury.len() < 2 {
        return Err(UserError::new(
            "the LLM configuration names no jury of two or more endpoints",
            Some("add `jury = [\"a\", \"b\", \"c\"]` (endpoint names; see docs/llm.toml)".into()),
        )
        .into());
    }
    if !jury && config.endpoint_for(Role::Judge).is_none() {
        return Err(UserError::new(
            "the LLM configuration maps no endpoint to the `judge` role",
            Some("add `judge = \"NAME\"` under [roles] (see docs/llm.toml)".into()),
        )
        .into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clients = Arc::new(clients);
    let judge = if jury {
        LlmJudge::jury(clients)
    } else {
        LlmJudge::new(clients)
    };
    let agreement = runtime
        .block_on(judge.calibrate(pairs))
        .map_err(|error| UserError::new(error.to_string(), None))?;
    Ok(agreement)
}

pub(crate) fn run(command: JudgeCommand) -> anyhow::Result<Outcome> {
    match command {
        JudgeCommand::Score {
            reference,
            icd10,
            synonyms,
            candidate_icd10,
            candidate,
            json,
        } => {
            for code in std::iter::once(&icd10).chain(&candidate_icd10) {
                if !is_well_formed(code) || Icd10::builtin().get(code).is_none() {
                    return Err(UserError::new(
                        format!("`{code}` is not an ICD-10-CM code"),
                        Some("codes look like I26.99 or K35.80, with the dot".into()),
                    )
                    .into());
                }
            }
            let judge = RuleJudge::shared();
            let verdict = judge.judge(
                Reference {
                    name: &reference,
                    icd10: &icd10,
                    synonyms: &synonyms,
                },
                &candidate.join(" "),
                candidate_icd10.as_deref(),
            );
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &verdict)?;
                writeln!(out)?;
            } else {
                let call = if verdict.correct {
                    "correct"
                } else {
                    "incorrect"
                };
                writeln!(
                    out,
                    "score {} ({call}): {}",
                    verdict.score, verdict.rationale
                )?;
            }
            Ok(Outcome::Success)
        }
        JudgeCommand::Calibrate {
            set,
            split,
            verbose,
            json,
            judge,
            llm_config,
            llm_cache,
        } => {
            let pairs = match &set {
                None => calibration::pairs(),
                Some(path) => read_set(
                    path,
                    calibration::parse,
                    "reference,reference_icd10,reference_synonyms,candidate,candidate_icd10,expected_score,why",
                )?,
            };
            if pairs.is_empty() {
                return Err(UserError::new("the calibration set has no pairs", None).into());
            }
            let pairs: Vec<calibration::CalibrationPair> = match split {
                Some(half) => {
                    let half = calibration::Split::from(half);
                    pairs
                        .into_iter()
                        .filter(|pair| pair.split() == half)
                        .collect()
                }
                None => pairs,
            };
            if pairs.is_empty() {
                return Err(
                    UserError::new("that half of the calibration set has no pairs", None).into(),
                );
            }
            let agreement = match (judge, &llm_config) {
                (JudgeArg::Llm | JudgeArg::Jury, Some(config)) => llm_agreement(
                    config,
                    llm_cache.as_deref(),
                    judge == JudgeArg::Jury,
                    &pairs,
                )?,
                _ => calibration::measure(RuleJudge::shared(), &pairs),
            };
            let name = match judge {
                JudgeArg::Rule => "rule",
                JudgeArg::Llm => "LLM",
                JudgeArg::Jury => "jury",
            };
            let mut out = io::stdout().lock();
            let halves = [calibration::Split::Dev, calibration::Split::Test];
            // The agreement on one half, from the verdicts already given (the same order as `pairs`).
            let half_agreement = |half: calibration::Split| {
                let (pairs, verdicts): (Vec<_>, Vec<_>) = pairs
                    .iter()
                    .zip(&agreement.verdicts)
                    .filter(|(pair, _)| pair.split() == half)
                    .map(|(pair, verdict)| (pair.clone(), verdict.clone()))
                    .unzip();
                calibration::tally(&pairs, verdicts)
            };
            if json {
                let by_half: std::collections::BTreeMap<&str, calibration::Agreement> = halves
                    .iter()
                    .map(|&half| {
                        (
                            if half == calibration::Split::Dev {
                                "dev"
                            } else {
                                "test"
                            },
                            half_agreement(half),
                        )
                    })
                    .filter(|(_, agreement)| agreement.pairs > 0)
                    .collect();
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "all": &agreement, "halves": by_half }),
                )?;
                writeln!(out)?;
                return Ok(Outcome::Success);
            }
            writeln!(
                out,
                "{name} judge on {} calibration pairs:",
                agreement.pairs
            )?;
            writeln!(
                out,
                "  half     pairs  correct/incorrect  identical  within one  kappa  weighted kappa"
            )?;
            let line = |label: &str, agreement: &calibration::Agreement| {
                format!(
                    "  {label:<6} {:>6}  {:>16.1}%  {:>8.1}%  {:>9.1}%  {:>5.2}  {:>14.2}",
                    agreement.pairs,
                    100.0 * agreement.binary_rate(),
                    100.0 * agreement.exact_rate(),
                    100.0 * agreement.within_one_rate(),
                    agreement.binary_kappa(),
                    agreement.weighted_kappa()
                )
            };
            for half in halves {
                let part = half_agreement(half);
                if part.pairs > 0 && part.pairs < agreement.pairs {
                    let label = if half == calibration::Split::Dev {
                        "dev"
                    } else {
                        "test"
                    };
                    writeln!(out, "{}", line(label, &part))?;
                }
            }
            writeln!(out, "{}", line("all", &agreement))?;
            writeln!(out, "  expected \\ judged   1    2    3    4    5")?;
            for (row, counts) in agreement.confusion.iter().enumerate() {
                let cells: Vec<String> = counts.iter().map(|count| format!("{count:>4}")).collect();
                writeln!(out, "  {:>17} {}", row + 1, cells.join(" "))?;
            }
            if agreement.by_kind.keys().any(|kind| !kind.is_empty()) {
                writeln!(
                    out,
                    "  by kind                   pairs  correct/incorrect  identical"
                )?;
                for (kind, counts) in &agreement.by_kind {
                    let kind = if kind.is_empty() {
                        "(none)"
                    } else {
                        kind.as_str()
                    };
                    writeln!(
                        out,
                        "  {kind:<24} {:>6}  {:>16.1}%  {:>8.1}%",
                        counts.pairs,
                        100.0 * counts.binary as f64 / counts.pairs.max(1) as f64,
                        100.0 * counts.exact as f64 / counts.pairs.max(1) as f64
                    )?;
                }
            }
            if judge != JudgeArg::Rule {
                let rule = calibration::measure(RuleJudge::shared(), &pairs);
                writeln!(
                    out,
                    "rule judge on the same pairs: correct/incorrect agreement {:.1}%, identical score {:.1}%, kappa {:.2}",
                    100.0 * rule.binary_rate(),
                    100.0 * rule.exact_rate(),
                    rule.binary_kappa()
                )?;
            }
            if verbose {
                for (pair, verdict) in &agreement.disagreements {
                    writeln!(
                        out,
                        "  disagree: {} / {}: expected {}, judged {} ({})",
                        pair.reference,
                        pair.candidate,
                        pair.expected_score,
                        verdict.score,
                        verdict.rationale
                    )?;
                }
            }
            Ok(Outcome::Success)
        }
    }
}

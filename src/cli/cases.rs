//! `dxsim cases …`: list the library's public fields, show a hidden record, validate case files.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use dxsim::library::sources::load_path;
use dxsim::library::stats::{age_band_labels, library_stats};
use dxsim::library::{CaseLibrary, LoadReport, builtin_sources, load_paths, load_sources};
use dxsim::patient::RuleBasedPatient;
use dxsim_gatekeeper::Catalogue;
use dxsim_gatekeeper::case::{Difficulty, SPECIALTIES, Split, WorkupStep, lint_case};

use super::libraries::CasesArgs;
use super::{Outcome, UserError};

#[derive(Debug, Subcommand)]
pub(crate) enum CasesCommand {
    /// List the cases for authors: id, handle, specialty, difficulty, split and the
    /// presentation (nothing that names the diagnosis; never show it to an agent).
    List {
        /// Only cases of this specialty.
        #[arg(long)]
        specialty: Option<String>,
        /// Only cases of this difficulty.
        #[arg(long, value_enum)]
        difficulty: Option<DifficultyArg>,
        /// Only cases on this side of the train/test split.
        #[arg(long, value_enum)]
        split: Option<SplitArg>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cases: CasesArgs,
    },
    /// Show a case's whole hidden record (for authors: it reveals the diagnosis).
    Show {
        /// Case id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "toml")]
        format: Format,
        #[command(flatten)]
        cases: CasesArgs,
    },
    /// Validate case files and report every problem (exit 1 if any). Without paths, the built-in library.
    Validate {
        /// Case files, directories of them or AgentClinic JSON-lines files.
        paths: Vec<PathBuf>,
    },
    /// Look for what a clinical reviewer would question beyond validation: physiology that does not add
    /// up, an ECG rate that differs from the vitals, thin histories (exit 1 if anything is found).
    Lint {
        /// Case files, directories of them or AgentClinic JSON-lines files; without paths, the
        /// built-in library.
        paths: Vec<PathBuf>,
    },
    /// Play the exhaustive doctor (every topic, system and test) on each case, in text and discrete
    /// mode, under every patient setting, and report anything hidden it received before the end: the
    /// diagnosis by any name, its code, the case id, specialty, difficulty, teaching points, a
    /// confirmatory report before its own test (exit 1 if anything leaks).
    Audit {
        /// Case files, directories of them or AgentClinic JSON-lines files; without paths, the
        /// built-in library.
        paths: Vec<PathBuf>,
        /// Print the leaks as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// The library's spread: specialties, difficulty, age, sex, split, and what the reference work-ups cost.
    Stats {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        cases: CasesArgs,
    },
    /// Import a public case set as case files, reporting per record what was unmapped or repaired
    /// (exit 1 if any record could not be imported).
    #[command(subcommand)]
    Import(super::import::ImportCommand),
    /// Write a new case file with every field, ready to fill in.
    New {
        /// The new case's id: lowercase words joined by hyphens, never naming the diagnosis.
        id: String,
        /// Its specialty.
        #[arg(long)]
        specialty: String,
        /// Its difficulty.
        #[arg(long, value_enum, default_value = "common")]
        difficulty: DifficultyArg,
        /// Directory to write it to.
        #[arg(long, default_value = "cases")]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum DifficultyArg {
    Common,
    Atypical,
    Rare,
}

impl From<DifficultyArg> for Difficulty {
    fn from(value: DifficultyArg) -> Difficulty {
        match value {
            DifficultyArg::Common => Difficulty::Common,
            DifficultyArg::Atypical => Difficulty::Atypical,
            DifficultyArg::Rare => Difficulty::Rare,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SplitArg {
    Train,
    Test,
}

impl From<SplitArg> for Split {
    fn from(value: SplitArg) -> Split {
        match value {
            SplitArg::Train => Split::Train,
            SplitArg::Test => Split::Test,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Toml,
    Json,
}

pub(crate) fn run(command: CasesCommand) -> anyhow::Result<Outcome> {
    match command {
        CasesCommand::List {
            specialty,
            difficulty,
            split,
            json,
            cases,
        } => list(
            cases.load()?,
            specialty.as_deref(),
            difficulty.map(Into::into),
            split.map(Into::into),
            json,
        ),
        CasesCommand::Show { id, format, cases } => show(cases.load_all()?, &id, format),
        CasesCommand::Validate { paths } => validate(&paths),
        CasesCommand::Lint { paths } => lint(&paths),
        CasesCommand::Audit { paths, json } => audit(&paths, json),
        CasesCommand::Stats { json, cases } => stats(cases.load()?, json),
        CasesCommand::Import(command) => super::import::run(command),
        CasesCommand::New {
            id,
            specialty,
            difficulty,
            dir,
        } => new_case(&id, &specialty, difficulty.into(), &dir),
    }
}

fn list(
    library: &CaseLibrary,
    specialty: Option<&str>,
    difficulty: Option<Difficulty>,
    split: Option<Split>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let cases: Vec<_> = library
        .cases()
        .iter()
        .filter(|case| specialty.is_none_or(|wanted| case.specialty == wanted))
        .filter(|case| difficulty.is_none_or(|wanted| case.difficulty == wanted))
        .filter(|case| split.is_none_or(|wanted| Split::of(&case.id) == wanted))
        .map(|case| CaseListing {
            id: &case.id,
            handle: case.handle(),
            specialty: &case.specialty,
            difficulty: case.difficulty,
            split: Split::of(&case.id),
            library: library.library_of(&case.id).unwrap_or_default(),
            presentation: &case.presentation,
        })
        .collect();
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &cases)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "{:<40} {:<20} {:<9} {:>7}  SETTING",
        "ID", "SPECIALTY", "LEVEL", "PATIENT"
    )?;
    for case in &cases {
        let shown = case.presentation;
        let age = match (shown.age_years, shown.age_months) {
            (0, Some(months)) => format!("{months}mo"),
            (years, _) => years.to_string(),
        };
        let sex = if shown.sex == dxsim_gatekeeper::case::Sex::Female {
            "F"
        } else {
            "M"
        };
        let patient = format!("{age} {sex}");
        writeln!(
            out,
            "{:<40} {:<20} {:<9} {:>7}  {}",
            case.id,
            case.specialty,
            case.difficulty.as_str(),
            patient,
            shown.setting
        )?;
    }
    writeln!(out, "{} case(s)", cases.len())?;
    Ok(Outcome::Success)
}

/// One line of `dxsim cases list`: the authors' view of a case (its id, handle and labels; not the
/// title, which can hint at the answer) with the presentation an agent sees.
#[derive(serde::Serialize)]
struct CaseListing<'a> {
    id: &'a str,
    handle: String,
    specialty: &'a str,
    difficulty: dxsim_gatekeeper::case::Difficulty,
    split: Split,
    library: &'a str,
    #[serde(flatten)]
    presentation: &'a dxsim_gatekeeper::case::Presentation,
}

fn show(library: &CaseLibrary, id: &str, format: Format) -> anyhow::Result<Outcome> {
    let Some(case) = library.get(id) else {
        let similar = library.similar_ids(id);
        let hint = if similar.is_empty() {
            "run `dxsim cases list` to see the ids".to_string()
        } else {
            format!("did you mean: {}", similar.join(", "))
        };
        return Err(UserError::new(format!("no case with id `{id}`"), Some(hint)).into());
    };
    let text = match format {
        Format::Toml => toml::to_string_pretty(&**case).context("writing the case as TOML")?,
        Format::Json => serde_json::to_string_pretty(&**case)? + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// Loads the files named, or the built-in library when none are.
fn load(paths: &[PathBuf]) -> anyhow::Result<LoadReport> {
    let user_error = |error: dxsim::library::LibraryError| UserError::new(error.to_string(), None);
    let report = if paths.is_empty() {
        load_sources(builtin_sources())
    } else {
        // Case TOML is checked together (ids unique across the files); an AgentClinic JSON-lines
        // file is imported in memory, each record that would not import a problem.
        let (json_lines, toml): (Vec<PathBuf>, Vec<PathBuf>) = paths
            .iter()
            .cloned()
            .partition(|path| path.is_file() && is_json_lines(path));
        let mut report = if toml.is_empty() {
            LoadReport::default()
        } else {
            load_paths(&toml).map_err(user_error)?
        };
        for path in &json_lines {
            let imported = load_path(path).map_err(user_error)?;
            report.files += imported.files;
            report.cases.extend(imported.cases);
            report.problems.extend(imported.problems);
        }
        report
    };
    if report.files == 0 {
        return Err(UserError::new(
            "no case files found",
            Some("pass .toml files or directories that hold them".into()),
        )
        .into());
    }
    Ok(report)
}

/// Whether a path is an AgentClinic JSON-lines file (by its extension).
fn is_json_lines(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension == "jsonl" || extension == "json")
}

fn lint(paths: &[PathBuf]) -> anyhow::Result<Outcome> {
    let report = load(paths)?;
    let mut out = io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    let mut findings: Vec<String> = Vec::new();
    for (file, case) in &report.cases {
        findings.extend(lint_case(case, file).iter().map(ToString::to_string));
        findings.extend(unanswered_workup_questions(case, file));
    }
    for finding in &findings {
        writeln!(out, "{finding}")?;
    }
    writeln!(
        out,
        "linted {} valid case(s): {} finding(s); {} file(s) failed validation",
        report.cases.len(),
        findings.len(),
        report.files - report.cases.len()
    )?;
    Ok(if findings.is_empty() && report.problems.is_empty() {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

fn audit(paths: &[PathBuf], json: bool) -> anyhow::Result<Outcome> {
    use dxsim::library::audit::{audit_library, patient_settings};
    let report = load(paths)?;
    let mut out = io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    let cases: Vec<dxsim_gatekeeper::Case> =
        report.cases.into_iter().map(|(_, case)| case).collect();
    let library: &'static CaseLibrary = Box::leak(Box::new(CaseLibrary::new(cases)));
    let results = audit_library(library);
    let mut leaks = 0;
    let mut failures = 0;
    for (case_id, result) in results {
        match result {
            Ok(found) => {
                for leak in found {
                    leaks += 1;
                    if json {
                        writeln!(out, "{}", serde_json::to_string(&leak)?)?;
                    } else {
                        writeln!(
                            out,
                            "{}: {}: {} in {:?}",
                            leak.case_id, leak.surface, leak.what, leak.text
                        )?;
                    }
                }
            }
            Err(error) => {
                failures += 1;
                writeln!(out, "{case_id}: could not be played: {error}")?;
            }
        }
    }
    if !json {
        writeln!(
            out,
            "audited {} case(s) under {} patient settings in text and discrete mode: {leaks} leak(s), {failures} case(s) that could not be played",
            library.cases().len(),
            patient_settings().len()
        )?;
    }
    Ok(
        if leaks == 0 && failures == 0 && report.problems.is_empty() {
            Outcome::Success
        } else {
            Outcome::ProblemsFound
        },
    )
}

/// Reference work-up questions that the rule-based patient cannot answer from the history: the oracle
/// would ask them into the void.
fn unanswered_workup_questions(case: &dxsim_gatekeeper::Case, file: &str) -> Vec<String> {
    use rand::SeedableRng;
    let patient = RuleBasedPatient::new(std::sync::Arc::new(case.clone()));
    case.reference_workup
        .iter()
        .enumerate()
        .filter_map(|(index, step)| match step {
            WorkupStep::Ask { text } => {
                let reply = patient.answer(text, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0), None);
                reply.items.is_empty().then(|| {
                    format!(
                        "{file}: reference_workup[{index}]: the patient cannot answer {text:?} from the history (add keywords to the item it should reach)"
                    )
                })
            }
            _ => None,
        })
        .collect()
}

fn stats(library: &CaseLibrary, json: bool) -> anyhow::Result<Outcome> {
    let stats = library_stats(
        library.cases().iter().map(|case| &**case),
        Catalogue::builtin(),
    );
    let mut out = io::stdout().lock();
    if json {
        let mut value = serde_json::to_value(&stats)?;
        value["libraries"] = serde_json::to_value(library.summaries())?;
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        return Ok(Outcome::Success);
    }
    writeln!(
        out,
        "{} cases, {} specialties",
        stats.cases,
        stats.by_specialty.len()
    )?;
    for stamp in library.stamps() {
        writeln!(
            out,
            "library {}: {} cases, sha256 {}",
            stamp.name,
            stamp.cases.len(),
            stamp.sha256
        )?;
    }
    let mut section = |title: &str, counts: Vec<(String, usize)>| -> io::Result<()> {
        writeln!(out, "\n{title}")?;
        for (name, count) in counts {
            writeln!(out, "  {name:<24} {count:>4}")?;
        }
        Ok(())
    };
    let owned = |map: &std::collections::BTreeMap<&'static str, usize>| -> Vec<(String, usize)> {
        map.iter()
            .map(|(name, count)| ((*name).to_string(), *count))
            .collect()
    };
    section(
        "specialty",
        stats
            .by_specialty
            .iter()
            .map(|(name, count)| (name.clone(), *count))
            .collect(),
    )?;
    section("difficulty", owned(&stats.by_difficulty))?;
    section("hardness (SDBench sense)", owned(&stats.by_hardness))?;
    section("sex", owned(&stats.by_sex))?;
    section(
        "age (years)",
        age_band_labels()
            .filter_map(|band| Some((band.to_string(), *stats.by_age_band.get(band)?)))
            .collect(),
    )?;
    section("setting", owned(&stats.by_setting))?;
    section("clinical review", owned(&stats.by_review))?;
    section("split", owned(&stats.by_split))?;
    writeln!(
        out,
        "\nreference work-up cost (visit fee $300, Medicare prices)"
    )?;
    writeln!(
        out,
        "  {:<10} {:>10} {:>10} {:>10} {:>10}",
        "", "min", "median", "mean", "max"
    )?;
    let rows = stats
        .workup_cost
        .iter()
        .map(|spread| ("all", spread))
        .chain(
            stats
                .workup_cost_by_difficulty
                .iter()
                .map(|(tier, spread)| (*tier, spread)),
        );
    for (label, spread) in rows {
        writeln!(
            out,
            "  {label:<10} {:>10} {:>10} {:>10} {:>10}",
            spread.min.to_string(),
            spread.median.to_string(),
            spread.mean.to_string(),
            spread.max.to_string()
        )?;
    }
    Ok(Outcome::Success)
}

const CASE_TEMPLATE: &str = include_str!("case_template.toml");

fn new_case(
    id: &str,
    specialty: &str,
    difficulty: Difficulty,
    dir: &std::path::Path,
) -> anyhow::Result<Outcome> {
    let well_formed = !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !well_formed {
        return Err(UserError::new(
            format!("`{id}` is not a case id"),
            Some(
                "use lowercase words and digits joined by hyphens, e.g. gi-rlq-pain-young-man"
                    .into(),
            ),
        )
        .into());
    }
    if !SPECIALTIES.contains(&specialty) {
        return Err(UserError::new(
            format!("`{specialty}` is not a specialty"),
            Some(format!("use one of: {}", SPECIALTIES.join(", "))),
        )
        .into());
    }
    let path = dir.join(format!("{id}.toml"));
    let text = CASE_TEMPLATE
        .replace("{{ID}}", id)
        .replace("{{SPECIALTY}}", specialty)
        .replace("{{DIFFICULTY}}", difficulty.as_str());
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(UserError::new(
                format!("{} already exists; nothing was written", path.display()),
                Some("choose another id, or edit the existing file".into()),
            )
            .into());
        }
        Err(error) => return Err(error).with_context(|| format!("creating {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        io::stdout().lock(),
        "wrote {}; fill it in, then run `dxsim cases validate {}`",
        path.display(),
        path.display()
    )?;
    Ok(Outcome::Success)
}

fn validate(paths: &[PathBuf]) -> anyhow::Result<Outcome> {
    let report = load(paths)?;
    let mut out = io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    let files_with_problems = {
        let mut files: Vec<&str> = report
            .problems
            .iter()
            .map(|problem| problem.file.as_str())
            .collect();
        files.sort_unstable();
        files.dedup();
        files.len()
    };
    writeln!(
        out,
        "validated {} file(s): {} valid, {} with problems, {} problem(s) in all",
        report.files,
        report.cases.len(),
        files_with_problems,
        report.problems.len()
    )?;
    Ok(if report.problems.is_empty() {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

//! `dxsim cases …`: list the library's public fields, show a hidden record, validate case files.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use dxsim::library::{CaseLibrary, builtin_sources, load_paths, load_sources};
use dxsim_gatekeeper::case::Difficulty;

use super::{Outcome, UserError};

#[derive(Debug, Subcommand)]
pub(crate) enum CasesCommand {
    /// List the built-in cases (public fields only: nothing that hints at the diagnosis).
    List {
        /// Only cases of this specialty.
        #[arg(long)]
        specialty: Option<String>,
        /// Only cases of this difficulty.
        #[arg(long, value_enum)]
        difficulty: Option<DifficultyArg>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a case's whole hidden record (for authors: it reveals the diagnosis).
    Show {
        /// Case id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "toml")]
        format: Format,
    },
    /// Validate case files and report every problem (exit 1 if any). Without paths, the built-in library.
    Validate {
        /// Case files or directories of them.
        paths: Vec<PathBuf>,
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
pub(crate) enum Format {
    Toml,
    Json,
}

pub(crate) fn run(command: CasesCommand) -> anyhow::Result<Outcome> {
    match command {
        CasesCommand::List {
            specialty,
            difficulty,
            json,
        } => list(specialty.as_deref(), difficulty.map(Into::into), json),
        CasesCommand::Show { id, format } => show(&id, format),
        CasesCommand::Validate { paths } => validate(&paths),
    }
}

fn list(
    specialty: Option<&str>,
    difficulty: Option<Difficulty>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let library = CaseLibrary::builtin()?;
    let cases: Vec<_> = library
        .cases()
        .iter()
        .filter(|case| specialty.is_none_or(|wanted| case.specialty == wanted))
        .filter(|case| difficulty.is_none_or(|wanted| case.difficulty == wanted))
        .map(|case| case.public())
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
        let age = match (case.age_years, case.age_months) {
            (0, Some(months)) => format!("{months}mo"),
            (years, _) => years.to_string(),
        };
        let sex = if case.sex == dxsim_gatekeeper::case::Sex::Female {
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
            case.setting
        )?;
    }
    writeln!(out, "{} case(s)", cases.len())?;
    Ok(Outcome::Success)
}

fn show(id: &str, format: Format) -> anyhow::Result<Outcome> {
    let library = CaseLibrary::builtin()?;
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
        Format::Toml => toml::to_string_pretty(case).context("writing the case as TOML")?,
        Format::Json => serde_json::to_string_pretty(case)? + "\n",
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

fn validate(paths: &[PathBuf]) -> anyhow::Result<Outcome> {
    let report = if paths.is_empty() {
        load_sources(builtin_sources())
    } else {
        load_paths(paths).map_err(|error| UserError::new(error.to_string(), None))?
    };
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
    if report.files == 0 {
        return Err(UserError::new(
            "no case files found",
            Some("pass .toml files or directories that hold them".into()),
        )
        .into());
    }
    Ok(if report.problems.is_empty() {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

//! `--cases`, the one grammar every command uses to name its cases: libraries (`builtin`, a
//! directory or file of case TOML, an AgentClinic JSON-lines file, `NAME=PATH`) and selections
//! (`split=test`, `specialty=NAME`, `difficulty=NAME`, `library=NAME`, case ids).

use clap::Args;
use dxsim::eval::plan::CaseSelection;
use dxsim::library::CaseLibrary;
use dxsim::library::sources::{LibrarySpec, load_libraries};
use dxsim_gatekeeper::case::Problem;

use super::UserError;

/// Which cases a command uses.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct CasesArgs {
    /// Libraries and selections, repeated or comma-separated. A library is `builtin` (the default),
    /// a case file or directory of them, an AgentClinic JSON-lines file (played straight from it),
    /// or `NAME=PATH` (a library is otherwise named after its file or directory). A selection is
    /// `all` (the default), `split=train|test`, `specialty=NAME`, `difficulty=NAME`,
    /// `library=NAME` or case ids: filters narrow each other; ids are added.
    #[arg(long = "cases", value_name = "LIBRARY|SELECTION")]
    pub(crate) cases: Vec<String>,
    /// Load the valid cases and skip case files and records with problems (each is named on
    /// stderr); without it, any problem stops the command.
    #[arg(long)]
    pub(crate) skip_invalid: bool,
}

impl CasesArgs {
    /// The libraries named, in order (the built-in one when none is).
    pub(crate) fn specs(&self) -> Result<Vec<LibrarySpec>, UserError> {
        let mut specs = Vec::new();
        for value in self.values() {
            if LibrarySpec::is_spec(value) {
                specs.push(
                    LibrarySpec::parse(value)
                        .map_err(|error| UserError::new(error.to_string(), None))?,
                );
            }
        }
        if specs.is_empty() {
            specs.push(LibrarySpec::builtin());
        }
        Ok(specs)
    }

    /// Whether any library was named (rather than the built-in one by default).
    pub(crate) fn names_libraries(&self) -> bool {
        self.values().any(LibrarySpec::is_spec)
    }

    /// The selection terms, joined (`all` when none is given).
    pub(crate) fn selection(&self) -> CaseSelection {
        let terms: Vec<&str> = self
            .values()
            .filter(|value| !LibrarySpec::is_spec(value))
            .collect();
        if terms.is_empty() {
            CaseSelection("all".to_string())
        } else {
            CaseSelection(terms.join(","))
        }
    }

    /// Every value given, with comma-separated ones split (a value that names a library as a
    /// whole, such as a path holding a comma, stays whole).
    fn values(&self) -> impl Iterator<Item = &str> {
        self.cases.iter().flat_map(|value| {
            let whole = LibrarySpec::is_spec(value) && !value.contains(',');
            let parts: Vec<&str> = if whole {
                vec![value.as_str()]
            } else {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .collect()
            };
            parts
        })
    }

    /// The libraries named, loaded and merged, for the life of the process (every case, whatever
    /// the selection).
    pub(crate) fn load_all(&self) -> anyhow::Result<&'static CaseLibrary> {
        load_specs(&self.specs()?, self.skip_invalid)
    }

    /// The libraries named, narrowed to the selection (the whole of them for `all`).
    pub(crate) fn load(&self) -> anyhow::Result<&'static CaseLibrary> {
        let library = self.load_all()?;
        let selection = self.selection();
        if selection.0 == "all" {
            return Ok(library);
        }
        let chosen = selection
            .resolve(library)
            .map_err(|error| UserError::new(error.to_string(), None))?;
        let ids: std::collections::HashSet<&str> =
            chosen.iter().map(|case| case.id.as_str()).collect();
        Ok(Box::leak(Box::new(
            library.filtered(|case| ids.contains(case.id.as_str())),
        )))
    }
}

/// Loads and merges `specs` for the life of the process: problems stop the command, or with
/// `skip_invalid` are named on stderr and left out.
pub(crate) fn load_specs(
    specs: &[LibrarySpec],
    skip_invalid: bool,
) -> anyhow::Result<&'static CaseLibrary> {
    if specs == [LibrarySpec::builtin()] {
        return Ok(CaseLibrary::builtin()?);
    }
    let loaded = load_libraries(specs).map_err(|error| UserError::new(error.to_string(), None))?;
    if !loaded.problems.is_empty() {
        if !skip_invalid {
            return Err(UserError::new(
                describe_problems(&loaded.problems),
                Some(
                    "fix them, or pass --skip-invalid to load the rest (`dxsim cases validate PATH` lists every problem)"
                        .into(),
                ),
            )
            .into());
        }
        eprintln!(
            "skipped what has problems (--skip-invalid): {}",
            describe_problems(&loaded.problems)
        );
    }
    if loaded.library.cases().is_empty() {
        return Err(UserError::new(
            format!(
                "no valid case in {}",
                specs
                    .iter()
                    .map(|spec| spec.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        )
        .into());
    }
    Ok(Box::leak(Box::new(loaded.library)))
}

/// The problems that stop case files from loading, each named with its file and field (the first
/// [`PROBLEMS_SHOWN`], then how many more).
pub(crate) fn describe_problems(problems: &[Problem]) -> String {
    let files: std::collections::BTreeSet<&str> = problems
        .iter()
        .map(|problem| problem.file.as_str())
        .collect();
    let mut message = format!(
        "{} problem(s) in {} case file(s):",
        problems.len(),
        files.len()
    );
    for problem in problems.iter().take(PROBLEMS_SHOWN) {
        message.push_str(&format!("\n  {problem}"));
    }
    if problems.len() > PROBLEMS_SHOWN {
        message.push_str(&format!(
            "\n  … and {} more",
            problems.len() - PROBLEMS_SHOWN
        ));
    }
    message
}

/// How many problems a command quotes when case files do not load.
const PROBLEMS_SHOWN: usize = 20;

//! The case library: the built-in cases embedded from `cases/`, or case files read from disk.
//!
//! Loading always validates. [`load_sources`] parses and checks a set of `(name, text)` pairs and returns
//! the good cases together with every problem found; [`CaseLibrary::builtin`] is the embedded library,
//! which the test suite keeps free of problems.

pub mod audit;
pub mod reach;

pub use crate::builtin_cases::sources as builtin_sources;
pub mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dxsim_gatekeeper::case::{
    DiagnosisNames, Problem, ProblemKind, parse_case, validate_case_with, validate_library,
};
use dxsim_gatekeeper::{Case, Catalogue, Icd10};

/// A failure to read case files from disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryError {
    /// A path could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The built-in library has problems (a bug in the shipped files).
    #[error("the built-in case library has {0} problem(s); run `dxsim cases validate`")]
    Invalid(usize),
}

/// The result of loading case files: the cases that passed and every problem found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Cases without problems, with the name of the file each came from.
    pub cases: Vec<(String, Case)>,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
    /// How many files were read.
    pub files: usize,
}

/// Parses and validates `(name, TOML text)` pairs, then checks them as one library (unique ids).
/// Whether a text names a diagnosis is decided by the judge's matcher
/// ([`crate::judge::diagnosis_names`]), the one the episode's guards use.
pub fn load_sources<'a>(sources: impl IntoIterator<Item = (String, &'a str)>) -> LoadReport {
    load(sources, Matcher::Terminology)
}

/// How a load decides whether a text names the diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matcher {
    /// The judge's terminology forms (needs the judge built: up to a second).
    Terminology,
    /// The case's own names and code only: for the embedded library, which passed the full check
    /// in CI (`dxsim cases validate`), so that no process waits for the judge to start.
    OwnNames,
}

fn load<'a>(sources: impl IntoIterator<Item = (String, &'a str)>, matcher: Matcher) -> LoadReport {
    let catalogue = Catalogue::builtin();
    let icd = Icd10::builtin();
    let mut report = LoadReport::default();
    let mut parsed = Vec::new();
    for (name, text) in sources {
        report.files += 1;
        match parse_case(text, &name) {
            Ok(case) => {
                let names = match matcher {
                    Matcher::Terminology => crate::judge::diagnosis_names(&case),
                    Matcher::OwnNames => DiagnosisNames::of(&case),
                };
                let mut problems = validate_case_with(&case, &name, catalogue, icd, &names);
                if matcher == Matcher::Terminology && problems.is_empty() {
                    problems.extend(unrevealed_problems(&case, &name, catalogue));
                }
                parsed.push((name, case, problems.is_empty()));
                report.problems.extend(problems);
            }
            Err(problem) => report.problems.push(problem),
        }
    }
    report.problems.extend(validate_library(
        parsed.iter().map(|(name, case, _)| (name.as_str(), case)),
    ));
    let duplicates: Vec<String> = report
        .problems
        .iter()
        .filter(|problem| problem.kind == dxsim_gatekeeper::case::ProblemKind::DuplicateId)
        .map(|problem| problem.file.clone())
        .collect();
    report.cases = parsed
        .into_iter()
        .filter(|(name, _, ok)| *ok && !duplicates.contains(name))
        .map(|(name, case, _)| (name, case))
        .collect();
    report
}

/// A problem per key finding that the case's reference work-up leaves unrevealed
/// ([`reach::unrevealed_key_findings`]).
fn unrevealed_problems(case: &Case, file: &str, catalogue: &Catalogue) -> Vec<Problem> {
    let case = Arc::new(case.clone());
    reach::unrevealed_key_findings(&case, catalogue)
        .into_iter()
        .map(|index| Problem {
            file: file.to_string(),
            field: format!("key_findings[{index}]"),
            kind: dxsim_gatekeeper::case::ProblemKind::UnrevealedKeyFinding,
            message: format!(
                "the reference work-up never reveals `{}` ({}): add the question, examination or test a clinician would use",
                case.key_findings[index].finding, case.key_findings[index].source
            ),
        })
        .collect()
}

/// Reads case files from paths: each a `.toml` file or a directory searched (not recursively) for
/// `.toml` files.
pub fn load_paths(paths: &[PathBuf]) -> Result<LoadReport, LibraryError> {
    let mut files = Vec::new();
    for path in paths {
        let io = |source| LibraryError::Io {
            path: path.clone(),
            source,
        };
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|file| file.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    // A file that is there but cannot be read (binary, not UTF-8, no permission) is one problem
    // among the rest.
    let mut texts = Vec::new();
    let mut unreadable = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => texts.push((display_path(&file), text)),
            // A path that is not there is a mistake in the command, not a problem of the library.
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(LibraryError::Io { path: file, source });
            }
            Err(error) => unreadable.push(Problem {
                file: display_path(&file),
                field: String::new(),
                kind: ProblemKind::Parse,
                message: format!("cannot read the file: {error}"),
            }),
        }
    }
    let mut report = load_sources(
        texts
            .iter()
            .map(|(name, text)| (name.clone(), text.as_str())),
    );
    report.files += unreadable.len();
    report.problems.extend(unreadable);
    report.problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(report)
}

fn display_path(path: &Path) -> String {
    path.display().to_string()
}

/// Where an environment draws its cases from: an in-memory [`CaseLibrary`], or a source that builds
/// each case on demand (such as [`crate::import::ddxplus::DdxplusSource`], which plays DDXPlus
/// patients straight from the CSV).
pub trait CaseSource: Send + Sync + std::fmt::Debug {
    /// How many cases the source holds.
    fn len(&self) -> usize;

    /// Whether the source holds no case.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The case at a position, or none when it cannot be built.
    fn case_at(&self, index: usize) -> Option<Arc<Case>>;

    /// The case with this id.
    fn get(&self, id: &str) -> Option<Arc<Case>>;

    /// Every case, when the source holds them all in memory (selection then filters them exactly).
    fn in_memory(&self) -> Option<&[Arc<Case>]> {
        None
    }
}

impl CaseSource for CaseLibrary {
    fn len(&self) -> usize {
        self.cases.len()
    }

    fn case_at(&self, index: usize) -> Option<Arc<Case>> {
        self.cases.get(index).cloned()
    }

    fn get(&self, id: &str) -> Option<Arc<Case>> {
        CaseLibrary::get(self, id).cloned()
    }

    fn in_memory(&self) -> Option<&[Arc<Case>]> {
        Some(&self.cases)
    }
}

/// A validated set of cases, looked up by id.
#[derive(Debug)]
pub struct CaseLibrary {
    cases: Vec<Arc<Case>>,
    index: HashMap<String, usize>,
}

impl CaseLibrary {
    /// Builds a library from validated cases.
    pub fn new(cases: Vec<Case>) -> CaseLibrary {
        let cases: Vec<Arc<Case>> = cases.into_iter().map(Arc::new).collect();
        let index = cases
            .iter()
            .enumerate()
            .map(|(position, case)| (case.id.clone(), position))
            .collect();
        CaseLibrary { cases, index }
    }

    /// The built-in library, loaded and validated once per process.
    pub fn builtin() -> Result<&'static CaseLibrary, LibraryError> {
        static BUILTIN: OnceLock<Result<CaseLibrary, usize>> = OnceLock::new();
        let loaded = BUILTIN.get_or_init(|| {
            let report = load(builtin_sources(), Matcher::OwnNames);
            if report.problems.is_empty() {
                Ok(CaseLibrary::new(
                    report.cases.into_iter().map(|(_, case)| case).collect(),
                ))
            } else {
                Err(report.problems.len())
            }
        });
        loaded
            .as_ref()
            .map_err(|count| LibraryError::Invalid(*count))
    }

    /// Every case, sorted by file name.
    pub fn cases(&self) -> &[Arc<Case>] {
        &self.cases
    }

    /// The specialties of the library's cases, sorted, each once.
    pub fn specialties(&self) -> Vec<String> {
        let specialties: std::collections::BTreeSet<&str> = self
            .cases
            .iter()
            .map(|case| case.specialty.as_str())
            .collect();
        specialties.into_iter().map(str::to_string).collect()
    }

    /// The case with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<Case>> {
        self.index.get(id).map(|&position| &self.cases[position])
    }

    /// Ids that start like `id`, or contain it, for "did you mean" hints.
    pub fn similar_ids(&self, id: &str) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .cases
            .iter()
            .map(|case| case.id.as_str())
            .filter(|candidate| candidate.contains(id) || strsim_like(candidate, id))
            .collect();
        ids.truncate(5);
        ids
    }
}

fn strsim_like(a: &str, b: &str) -> bool {
    let shared = a
        .split('-')
        .filter(|part| b.split('-').any(|other| other == *part))
        .count();
    shared >= 2
}

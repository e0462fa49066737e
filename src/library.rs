//! The case library: the built-in cases embedded from `cases/`, or case files read from disk.
//!
//! Loading always validates. [`load_sources`] parses and checks a set of `(name, text)` pairs and returns
//! the good cases together with every problem found; [`CaseLibrary::builtin`] is the embedded library,
//! which the test suite keeps free of problems.

pub mod audit;
pub mod reach;

pub use crate::builtin_cases::sources as builtin_sources;
pub mod sources;
pub mod stats;

/// The name of the built-in library, on the command line (`--cases builtin`) and in stamps.
pub const BUILTIN_NAME: &str = "builtin";

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
    /// A library name that is not lowercase letters, digits, `-`, `_` and `.`, or is `builtin`
    /// given to a path.
    #[error(
        "library `{spec}`: `{name}` cannot name a library; use lowercase letters, digits, `-`, `_` and `.` (write NAME=PATH to choose one), and keep `builtin` for the built-in cases"
    )]
    BadName {
        /// The value given.
        spec: String,
        /// The name it gave.
        name: String,
    },
    /// A DDXPlus release directory given as a library.
    #[error(
        "{} is a DDXPlus release: too many patients to hold in memory; play it with `dxsim run --ddxplus DIR`, or convert some of it with `dxsim cases import ddxplus`",
        .0.display()
    )]
    Ddxplus(PathBuf),
    /// A JSON-lines file that could not be read as AgentClinic records at all.
    #[error("cannot import {path}: {message}")]
    Import {
        /// The file.
        path: PathBuf,
        /// The importer's reason.
        message: String,
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

/// The name of the validated built-in library's file in the disk cache.
const BUILTIN_CACHE: &str = "builtin-cases";

/// The built-in cases as this build validated them before (JSON: the case format has optional
/// and untagged fields a schema-less binary format would misread), in file-name order.
fn cached_builtin_cases() -> Option<Vec<Case>> {
    let json = crate::disk_cache::load(BUILTIN_CACHE, 1)?.pop()?;
    let cases: Vec<Case> = serde_json::from_slice(&json).ok()?;
    (cases.len() == builtin_sources().len()).then_some(cases)
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

    /// The name of the library the case with this id came from, when the source has names.
    fn library_of(&self, _id: &str) -> Option<&str> {
        None
    }

    /// The library and content hash of the case with this id, when the source records them.
    fn case_stamp(&self, _id: &str) -> Option<CaseStamp> {
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

    fn library_of(&self, id: &str) -> Option<&str> {
        CaseLibrary::library_of(self, id)
    }

    fn case_stamp(&self, id: &str) -> Option<CaseStamp> {
        CaseLibrary::case_stamp(self, id)
    }
}

/// A validated set of cases, looked up by id: one library, or several merged (each case remembers
/// which library it came from, for per-episode selection and the stamps logs and runs record).
#[derive(Debug)]
pub struct CaseLibrary {
    cases: Vec<Arc<Case>>,
    index: HashMap<String, usize>,
    /// The libraries merged here, in the order given.
    libraries: Vec<LibraryInfo>,
    /// The position in `libraries` of each case's library, parallel to `cases`.
    membership: Vec<usize>,
    stamps: OnceLock<Vec<LibraryStamp>>,
}

/// One library's name and where its cases were read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibraryInfo {
    /// The name episodes select it by (`options.case.library`, `--cases library=NAME`).
    pub name: String,
    /// Where it was read from: `builtin`, or the path given.
    pub location: String,
}

/// What a library held when it was loaded: its name, location and content hashes. Recorded in
/// `run.json` and compared on `--resume`, so a run never mixes two versions of a library.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LibraryStamp {
    /// The library's name.
    pub name: String,
    /// Where it was read from.
    pub location: String,
    /// SHA-256 over its cases' ids and hashes, in id order.
    pub sha256: String,
    /// Each case's SHA-256 ([`case_sha256`]), by id.
    pub cases: std::collections::BTreeMap<String, String>,
}

impl LibraryStamp {
    /// What changed from `self` (the library as recorded) to `now`, in words: cases added, removed
    /// and changed, by id (the first few of each); empty when the two hold the same cases.
    pub fn changes_to(&self, now: &LibraryStamp) -> String {
        let added: Vec<&str> = now
            .cases
            .keys()
            .filter(|id| !self.cases.contains_key(*id))
            .map(String::as_str)
            .collect();
        let removed: Vec<&str> = self
            .cases
            .keys()
            .filter(|id| !now.cases.contains_key(*id))
            .map(String::as_str)
            .collect();
        let changed: Vec<&str> = self
            .cases
            .iter()
            .filter(|(id, hash)| now.cases.get(*id).is_some_and(|other| other != *hash))
            .map(|(id, _)| id.as_str())
            .collect();
        let mut parts = Vec::new();
        for (word, ids) in [("added", added), ("removed", removed), ("changed", changed)] {
            if ids.is_empty() {
                continue;
            }
            let mut shown = ids.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if ids.len() > 5 {
                shown.push_str(&format!(" and {} more", ids.len() - 5));
            }
            parts.push(format!("{} case(s) {word} ({shown})", ids.len()));
        }
        parts.join("; ")
    }
}

/// The library and content hash of the case an episode played, written into its log's header so
/// that `dxsim replay` can refuse a case that changed since.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseStamp {
    /// The name of the library the case came from.
    pub library: String,
    /// The case's SHA-256 ([`case_sha256`]).
    pub sha256: String,
}

/// One library held: its name, size and content hash (the SHA-256 `run.json` records).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LibrarySummary {
    /// The library's name.
    pub name: String,
    /// How many cases it holds.
    pub cases: usize,
    /// Its content hash ([`LibraryStamp::sha256`]).
    pub sha256: String,
}

/// SHA-256 of a case's content as played: every field but the date it was written (which an import
/// played straight from its source file sets to the day it ran).
pub fn case_sha256(case: &Case) -> String {
    use sha2::{Digest, Sha256};
    let mut content = case.clone();
    content.provenance.created.clear();
    let bytes = serde_json::to_vec(&content).unwrap_or_default();
    format!("{:x}", Sha256::digest(bytes))
}

impl CaseLibrary {
    /// Builds a library named `cases` from validated cases.
    pub fn new(cases: Vec<Case>) -> CaseLibrary {
        CaseLibrary::named(
            LibraryInfo {
                name: "cases".to_string(),
                location: String::new(),
            },
            cases.into_iter().map(Arc::new).collect(),
        )
    }

    /// Builds one named library from validated cases.
    pub fn named(info: LibraryInfo, cases: Vec<Arc<Case>>) -> CaseLibrary {
        let mut library = CaseLibrary::holding(vec![info]);
        for case in cases {
            library.push(case, 0);
        }
        library
    }

    /// A library of these libraries with no cases yet.
    fn holding(libraries: Vec<LibraryInfo>) -> CaseLibrary {
        CaseLibrary {
            cases: Vec::new(),
            index: HashMap::new(),
            libraries,
            membership: Vec::new(),
            stamps: OnceLock::new(),
        }
    }

    /// Adds a case of the library at `member` in `libraries`.
    fn push(&mut self, case: Arc<Case>, member: usize) {
        self.index.insert(case.id.clone(), self.cases.len());
        self.cases.push(case);
        self.membership.push(member);
    }

    /// Merges libraries into one, in order. A case id held by two of them is a problem naming both
    /// (the first keeps the id); so is a library name given twice.
    pub fn merge(parts: Vec<&CaseLibrary>) -> (CaseLibrary, Vec<Problem>) {
        let mut merged = CaseLibrary::holding(Vec::new());
        let mut problems = Vec::new();
        for part in parts {
            for (position, info) in part.libraries.iter().enumerate() {
                if merged.libraries.iter().any(|known| known.name == info.name) {
                    problems.push(Problem {
                        file: info.location.clone(),
                        field: String::new(),
                        kind: ProblemKind::DuplicateId,
                        message: format!(
                            "two libraries are named `{}`: name one of them with NAME=PATH",
                            info.name
                        ),
                    });
                    continue;
                }
                let slot = merged.libraries.len();
                merged.libraries.push(info.clone());
                for (case, _) in part
                    .cases
                    .iter()
                    .zip(&part.membership)
                    .filter(|(_, member)| **member == position)
                {
                    if let Some(&earlier) = merged.index.get(&case.id) {
                        problems.push(Problem {
                            file: info.location.clone(),
                            field: "id".to_string(),
                            kind: ProblemKind::DuplicateId,
                            message: format!(
                                "case id `{}` is also in library `{}`",
                                case.id, merged.libraries[merged.membership[earlier]].name
                            ),
                        });
                        continue;
                    }
                    merged.push(Arc::clone(case), slot);
                }
            }
        }
        (merged, problems)
    }

    /// The libraries held, in the order they were given.
    pub fn libraries(&self) -> &[LibraryInfo] {
        &self.libraries
    }

    /// The name of the library the case with this id came from.
    pub fn library_of(&self, id: &str) -> Option<&str> {
        let position = *self.index.get(id)?;
        Some(self.libraries[self.membership[position]].name.as_str())
    }

    /// Each library's stamp (name, location, content hashes), computed once.
    pub fn stamps(&self) -> &[LibraryStamp] {
        self.stamps.get_or_init(|| {
            let mut stamps: Vec<LibraryStamp> = self
                .libraries
                .iter()
                .map(|info| LibraryStamp {
                    name: info.name.clone(),
                    location: info.location.clone(),
                    sha256: String::new(),
                    cases: std::collections::BTreeMap::new(),
                })
                .collect();
            for (case, &member) in self.cases.iter().zip(&self.membership) {
                stamps[member]
                    .cases
                    .insert(case.id.clone(), case_sha256(case));
            }
            for stamp in &mut stamps {
                use sha2::{Digest, Sha256};
                let mut hasher = Sha256::new();
                for (id, hash) in &stamp.cases {
                    hasher.update(id.as_bytes());
                    hasher.update([0u8]);
                    hasher.update(hash.as_bytes());
                    hasher.update([0u8]);
                }
                stamp.sha256 = format!("{:x}", hasher.finalize());
            }
            stamps
        })
    }

    /// Each library's name, size and content hash, as `/v1/health` and `dxsim cases stats --json`
    /// show them.
    pub fn summaries(&self) -> Vec<LibrarySummary> {
        self.stamps()
            .iter()
            .map(|stamp| LibrarySummary {
                name: stamp.name.clone(),
                cases: stamp.cases.len(),
                sha256: stamp.sha256.clone(),
            })
            .collect()
    }

    /// The library and content hash of the case with this id.
    pub fn case_stamp(&self, id: &str) -> Option<CaseStamp> {
        let position = *self.index.get(id)?;
        let stamp = &self.stamps()[self.membership[position]];
        Some(CaseStamp {
            library: stamp.name.clone(),
            sha256: stamp.cases.get(id)?.clone(),
        })
    }

    /// The cases `keep` admits, as a library with the same names (for `--cases split=test` and
    /// other filters).
    pub fn filtered(&self, keep: impl Fn(&Case) -> bool) -> CaseLibrary {
        let mut narrowed = CaseLibrary::holding(self.libraries.clone());
        for (case, &member) in self.cases.iter().zip(&self.membership) {
            if keep(case) {
                narrowed.push(Arc::clone(case), member);
            }
        }
        narrowed
    }

    /// The built-in library: read from the disk cache when this build has validated it before,
    /// else parsed and validated (about a second) and cached. Once per process.
    pub fn builtin() -> Result<&'static CaseLibrary, LibraryError> {
        static BUILTIN: OnceLock<Result<CaseLibrary, usize>> = OnceLock::new();
        let loaded = BUILTIN.get_or_init(|| {
            let cases = match cached_builtin_cases() {
                Some(cases) => cases,
                None => {
                    let report = load(builtin_sources(), Matcher::OwnNames);
                    if !report.problems.is_empty() {
                        return Err(report.problems.len());
                    }
                    let cases: Vec<Case> = report.cases.into_iter().map(|(_, case)| case).collect();
                    if let Ok(json) = serde_json::to_vec(&cases) {
                        crate::disk_cache::store(BUILTIN_CACHE, &[&json]);
                    }
                    cases
                }
            };
            Ok(CaseLibrary::named(
                LibraryInfo {
                    name: BUILTIN_NAME.to_string(),
                    location: BUILTIN_NAME.to_string(),
                },
                cases.into_iter().map(Arc::new).collect(),
            ))
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

    /// Ids like `id`, for "did you mean" hints: those that contain it, share two of its words or are a
    /// few edits away, closest first.
    pub fn similar_ids(&self, id: &str) -> Vec<&str> {
        let mut ids: Vec<(usize, &str)> = self
            .cases
            .iter()
            .map(|case| case.id.as_str())
            .map(|candidate| (strsim::damerau_levenshtein(candidate, id), candidate))
            .filter(|&(distance, candidate)| {
                candidate.contains(id)
                    || shares_two_words(candidate, id)
                    || distance <= (id.len() / 4).max(2)
            })
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .take(5)
            .map(|(_, candidate)| candidate)
            .collect()
    }
}

/// Whether two hyphenated ids share at least two words.
fn shares_two_words(a: &str, b: &str) -> bool {
    let shared = a
        .split('-')
        .filter(|part| b.split('-').any(|other| other == *part))
        .count();
    shared >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_library_reads_back_from_its_cache_form_unchanged() {
        let parsed = load(builtin_sources(), Matcher::OwnNames);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let cases: Vec<Case> = parsed.cases.into_iter().map(|(_, case)| case).collect();
        let json = serde_json::to_vec(&cases).expect("cases serialise");
        let read: Vec<Case> = serde_json::from_slice(&json).expect("and read back");
        assert_eq!(read.len(), cases.len());
        for (read, case) in read.iter().zip(&cases) {
            assert_eq!(read, case, "{}", case.id);
        }
        let library = CaseLibrary::builtin().expect("the built-in library");
        let ids: Vec<&str> = library
            .cases()
            .iter()
            .map(|case| case.id.as_str())
            .collect();
        let parsed_ids: Vec<&str> = cases.iter().map(|case| case.id.as_str()).collect();
        assert_eq!(
            ids, parsed_ids,
            "the same cases in the same order, cached or not"
        );
    }
}

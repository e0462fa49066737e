//! Libraries named on a command line or in a run's manifest: `builtin`, a directory or file of case
//! TOML, or an AgentClinic JSON-lines file played straight from the source. Each is loaded,
//! validated and named, and several merge into one [`CaseLibrary`] whose cases remember their
//! library.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dxsim_gatekeeper::case::{Problem, ProblemKind};

use super::{BUILTIN_NAME, CaseLibrary, LibraryError, LibraryInfo, LoadReport, load_paths};
use crate::import::agentclinic::{self, Form};
use crate::import::report::CollectSink;
use crate::import::{CollectCases, ImportOptions};

/// The keys of case-selection terms (`split=test`), which a `NAME=PATH` library never uses as its
/// name.
pub const SELECTION_KEYS: [&str; 4] = ["split", "specialty", "difficulty", "library"];

/// Where a library's cases are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The cases built into the binary.
    Builtin,
    /// A case file, a directory of them, or an AgentClinic JSON-lines file.
    Path(PathBuf),
}

/// One library to load: the name episodes select it by, and where its cases are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySpec {
    /// Its name (`builtin`, or a directory's or file's name unless given as `NAME=PATH`).
    pub name: String,
    /// Where its cases are.
    pub location: Location,
}

impl LibrarySpec {
    /// The built-in library.
    pub fn builtin() -> LibrarySpec {
        LibrarySpec {
            name: BUILTIN_NAME.to_string(),
            location: Location::Builtin,
        }
    }

    /// Whether a command-line value names a library rather than selecting cases: `builtin`,
    /// `NAME=PATH`, a path that exists, or text shaped like a path (a separator, or a case-file or
    /// JSON-lines extension).
    pub fn is_spec(text: &str) -> bool {
        if text == BUILTIN_NAME {
            return true;
        }
        if let Some((key, value)) = text.split_once('=') {
            return !SELECTION_KEYS.contains(&key) && !value.is_empty() && valid_name(key);
        }
        text.contains('/')
            || text.contains('\\')
            || [".toml", ".jsonl", ".json"]
                .iter()
                .any(|extension| text.ends_with(extension))
            || Path::new(text).exists()
    }

    /// Reads `builtin`, `NAME=PATH` or `PATH` (then named after the file or directory, without its
    /// extension).
    pub fn parse(text: &str) -> Result<LibrarySpec, LibraryError> {
        if text == BUILTIN_NAME {
            return Ok(LibrarySpec::builtin());
        }
        let (name, path) = match text.split_once('=') {
            Some((name, path)) if !SELECTION_KEYS.contains(&name) => {
                (name.to_string(), PathBuf::from(path))
            }
            _ => {
                let path = PathBuf::from(text);
                (name_of(&path), path)
            }
        };
        if !valid_name(&name) || name == BUILTIN_NAME {
            return Err(LibraryError::BadName {
                spec: text.to_string(),
                name,
            });
        }
        Ok(LibrarySpec {
            name,
            location: Location::Path(path),
        })
    }

    /// The spec a library's recorded location stands for (`builtin`, or `NAME=PATH`).
    pub fn recorded(name: &str, location: &str) -> LibrarySpec {
        if location == BUILTIN_NAME {
            LibrarySpec::builtin()
        } else {
            LibrarySpec {
                name: name.to_string(),
                location: Location::Path(PathBuf::from(location)),
            }
        }
    }
}

/// A library name: lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit.
fn valid_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// A path's file or directory name, lowercased, without its extension, with other characters as
/// `-` (`./My Cases/` → `my-cases`).
fn name_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(std::ffi::OsStr::to_os_string)
        .or_else(|| {
            path.canonicalize()
                .ok()?
                .file_stem()
                .map(|name| name.to_owned())
        })
        .map(|stem| stem.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// Libraries loaded together: every valid case, merged, and every problem found, each naming its
/// file (or its record, for a JSON-lines file).
#[derive(Debug)]
pub struct LoadedLibraries {
    /// The valid cases of every library, merged in the order given.
    pub library: CaseLibrary,
    /// Every problem: invalid case files, records that would not import, ids or names used twice.
    pub problems: Vec<Problem>,
    /// How many files and records were read.
    pub read: usize,
}

/// Loads each library (the built-in one is shared, not reloaded) and merges them. A path that is
/// not there, or a DDXPlus release (too large to hold in memory; play it with `dxsim run --ddxplus`
/// or convert it with `dxsim cases import ddxplus`), is an error; problems inside the files are
/// returned for the caller to report or skip.
pub fn load_libraries(specs: &[LibrarySpec]) -> Result<LoadedLibraries, LibraryError> {
    let mut parts = Vec::with_capacity(specs.len());
    let mut problems = Vec::new();
    let mut read = 0;
    for spec in specs {
        match &spec.location {
            Location::Builtin => {
                let builtin = CaseLibrary::builtin()?;
                read += builtin.cases().len();
                parts.push(Part::Shared(builtin));
            }
            Location::Path(path) => {
                let report = load_path(path)?;
                read += report.files;
                problems.extend(report.problems);
                parts.push(Part::Owned(CaseLibrary::named(
                    LibraryInfo {
                        name: spec.name.clone(),
                        location: path.display().to_string(),
                    },
                    report
                        .cases
                        .into_iter()
                        .map(|(_, case)| Arc::new(case))
                        .collect(),
                )));
            }
        }
    }
    let (library, merge_problems) = CaseLibrary::merge(parts.iter().map(Part::get).collect());
    problems.extend(merge_problems);
    Ok(LoadedLibraries {
        library,
        problems,
        read,
    })
}

/// A library to merge: the shared built-in one, or one loaded here.
enum Part {
    Shared(&'static CaseLibrary),
    Owned(CaseLibrary),
}

impl Part {
    fn get(&self) -> &CaseLibrary {
        match self {
            Part::Shared(library) => library,
            Part::Owned(library) => library,
        }
    }
}

/// Reads the cases at one path: an AgentClinic JSON-lines file imported in memory, or case TOML.
pub fn load_path(path: &Path) -> Result<LoadReport, LibraryError> {
    if !path.exists() {
        return Err(LibraryError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    if path.is_dir() && path.join("release_evidences.json").exists() {
        return Err(LibraryError::Ddxplus(path.to_path_buf()));
    }
    let is_json_lines = path.is_file()
        && path
            .extension()
            .is_some_and(|extension| extension == "jsonl" || extension == "json");
    if is_json_lines {
        return import_agentclinic(path);
    }
    load_paths(&[path.to_path_buf()])
}

/// Imports an AgentClinic JSON-lines file in memory; each record that would not import is a
/// problem naming its line.
fn import_agentclinic(path: &Path) -> Result<LoadReport, LibraryError> {
    let mut cases = CollectCases::default();
    let mut reports = CollectSink::default();
    let totals = agentclinic::import_file(
        path,
        Form::Auto,
        &ImportOptions::default(),
        &mut cases,
        &mut reports,
    )
    .map_err(|error| LibraryError::Import {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    let problems = reports
        .0
        .iter()
        .filter(|record| !record.imported())
        .flat_map(|record| {
            record
                .notes
                .iter()
                .filter(|note| note.kind == crate::import::report::NoteKind::Failed)
                .map(move |note| Problem {
                    file: format!("{} line {}", path.display(), record.line),
                    field: note.field.clone(),
                    kind: ProblemKind::BadImport,
                    message: note.message.clone(),
                })
        })
        .collect();
    Ok(LoadReport {
        cases: cases
            .0
            .into_iter()
            .map(|case| (path.display().to_string(), case))
            .collect(),
        problems,
        files: usize::try_from(totals.read).unwrap_or(usize::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_told_apart_as_libraries_or_selections() {
        for spec in [
            "builtin",
            "./mine",
            "cases/",
            "mine=./my-cases",
            "medqa.jsonl",
            "case.toml",
        ] {
            assert!(LibrarySpec::is_spec(spec), "{spec}");
        }
        for selection in [
            "all",
            "split=test",
            "specialty=cardiology",
            "library=mine",
            "cardio-chest-pressure-snow",
            "split=test,difficulty=rare",
        ] {
            assert!(!LibrarySpec::is_spec(selection), "{selection}");
        }
    }

    #[test]
    fn a_library_is_named_after_its_path_or_as_given() {
        let spec = LibrarySpec::parse("./My Cases/").expect("parses");
        assert_eq!(spec.name, "my-cases");
        assert_eq!(spec.location, Location::Path(PathBuf::from("./My Cases/")));
        assert_eq!(
            LibrarySpec::parse("data/agentclinic_medqa.jsonl")
                .expect("parses")
                .name,
            "agentclinic_medqa"
        );
        assert_eq!(
            LibrarySpec::parse("mine=data/x.jsonl")
                .expect("parses")
                .name,
            "mine"
        );
        assert_eq!(
            LibrarySpec::parse("builtin").ok(),
            Some(LibrarySpec::builtin())
        );
        assert!(matches!(
            LibrarySpec::parse("Bad Name=x"),
            Err(LibraryError::BadName { .. })
        ));
        assert!(matches!(
            LibrarySpec::parse("builtin=./x"),
            Err(LibraryError::BadName { .. })
        ));
    }

    #[test]
    fn merged_libraries_keep_each_cases_library_and_refuse_a_repeated_id() {
        let builtin = CaseLibrary::builtin().expect("the built-in library loads");
        let mut copy = (*builtin.cases()[0]).clone();
        let repeated = copy.id.clone();
        copy.title.push_str(" (copy)");
        let mut other = (*builtin.cases()[1]).clone();
        other.id = "mine-only-case".to_string();
        let mine = CaseLibrary::named(
            LibraryInfo {
                name: "mine".into(),
                location: "./mine".into(),
            },
            vec![Arc::new(copy), Arc::new(other)],
        );
        let (merged, problems) = CaseLibrary::merge(vec![builtin, &mine]);
        assert_eq!(merged.cases().len(), builtin.cases().len() + 1);
        assert_eq!(merged.library_of("mine-only-case"), Some("mine"));
        assert_eq!(merged.library_of(&repeated), Some(BUILTIN_NAME));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains(&repeated), "{problems:?}");
        let stamps = merged.stamps();
        assert_eq!(stamps.len(), 2);
        assert_eq!(stamps[1].cases.len(), 1);
        assert_eq!(stamps[0].sha256, builtin.stamps()[0].sha256);
    }

    #[test]
    fn a_stamp_says_which_cases_changed() {
        let builtin = CaseLibrary::builtin().expect("the built-in library loads");
        let before = builtin.stamps()[0].clone();
        let mut after = before.clone();
        let first = after.cases.keys().next().cloned().expect("a case");
        after.cases.insert(first.clone(), "0".repeat(64));
        after.cases.insert("new-case".into(), "1".repeat(64));
        let last = after.cases.keys().last().cloned().expect("a case");
        after.cases.remove(&last);
        let changes = before.changes_to(&after);
        assert!(changes.contains("1 case(s) added (new-case)"), "{changes}");
        assert!(
            changes.contains(&format!("1 case(s) changed ({first})")),
            "{changes}"
        );
        assert!(
            changes.contains(&format!("1 case(s) removed ({last})")),
            "{changes}"
        );
        assert_eq!(before.changes_to(&before), "");
    }
}

//! Importers: public case sets turned into dxsim cases that pass validation (DESIGN.md §1).
//!
//! - [`agentclinic`]: AgentClinic's JSON-lines files, OSCE form (MedQA, MedQA extended, MIMIC-IV
//!   derived) and NEJM image-challenge form, detected per record.
//! - [`ddxplus`]: DDXPlus's synthetic patients, streamed from CSV against its evidence and condition
//!   tables, written as case files or played straight from the CSV through [`ddxplus::DdxplusSource`].
//! - [`mapping`]: what both share — source text to history topics (the patient's topic lexicon), exam
//!   keys to catalogue systems, test keys to catalogue ids through the gatekeeper's resolver, a
//!   diagnosis name to an ICD-10-CM code, and the repairs that keep a case from naming its diagnosis.
//! - [`report`]: the import report, streamed record by record.
//!
//! Every case an importer produces is checked with the same validator as the library
//! ([`dxsim_gatekeeper::case::validate_case`]); a record whose case would not pass is reported as
//! failed, with the problems, and the import goes on. Imported cases carry an `[import]` section naming
//! the source file and line, which also selects the validator's imported-case rules
//! (`cases/README.md`).

pub mod actor_text;
pub mod agentclinic;
pub mod components;
pub mod ddxplus;
pub mod mapping;
pub mod report;

use std::io::Write;
use std::path::{Path, PathBuf};

use dxsim_gatekeeper::case::validate_case_with;
use dxsim_gatekeeper::{Case, Catalogue, Icd10};

pub use report::{CollectSink, ImportReport, Note, NoteKind, RecordReport, ReportSink};

/// A failure that stops an import as a whole (a broken record never does: it is reported and
/// skipped).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A source table is not what the format describes.
    #[error("{path}: {message}")]
    BadTable {
        /// The table file.
        path: PathBuf,
        /// What is wrong, naming the entry.
        message: String,
    },
    /// The directory holds no patient file to import.
    #[error("{0}: no patient CSV found (expected files named like release_test_patients.csv)")]
    NoPatients(PathBuf),
    /// The report sink failed (a closed pipe, a full disk).
    #[error("writing the import report: {0}")]
    Report(std::io::Error),
    /// A case could not be written as TOML.
    #[error("writing case `{id}` as TOML: {message}")]
    Serialize {
        /// The case id.
        id: String,
        /// The serialiser's reason.
        message: String,
    },
}

impl ImportError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
        move |source| ImportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Settings every importer shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The licence recorded on imported cases (SPDX id; `NOASSERTION` when unknown).
    pub licence: String,
    /// The date recorded as `provenance.created`, `YYYY-MM-DD`.
    pub created: String,
    /// Imports NEJM records whose question asks for something other than a diagnosis ("Which
    /// animal…?"); they are skipped by default, since their answer is no diagnosis to reach.
    pub keep_non_diagnostic: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            licence: "NOASSERTION".to_string(),
            created: today(),
            keep_non_diagnostic: false,
        }
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Gives a freshly built case its history ids and validates it; the validator's problems become
/// failure notes.
pub(crate) fn check(mut case: Case, notes: &mut Vec<Note>) -> Option<Case> {
    case.fill_history_ids();
    derive_reference_workup(&mut case);
    let names = crate::judge::diagnosis_names(&case);
    cover_normals_naming_the_diagnosis(&mut case, &names, notes);
    let problems = validate_case_with(
        &case,
        &case.id,
        Catalogue::builtin(),
        Icd10::builtin(),
        &names,
    );
    if problems.is_empty() {
        return Some(case);
    }
    notes.extend(problems.into_iter().map(|problem| Note {
        kind: NoteKind::Failed,
        field: problem.field,
        message: format!("the case would not validate: {}", problem.message),
    }));
    None
}

/// What an imported case says for an examination or test its source does not record, where the
/// catalogue's normal text would name the diagnosis.
pub const NOTHING_RECORDED: &str = "Nothing abnormal is recorded in the source.";

/// Where the catalogue's normal text for an examination or a test the source does not record names
/// the diagnosis (a rectal examination's "no haemorrhoids" in a case of haemorrhoids), gives the case
/// its own neutral finding, so the case neither names its diagnosis nor fails validation for it.
fn cover_normals_naming_the_diagnosis(
    case: &mut Case,
    names: &dxsim_gatekeeper::case::DiagnosisNames,
    notes: &mut Vec<Note>,
) {
    use dxsim_gatekeeper::case::{ExamFinding, TestResult};
    use dxsim_gatekeeper::catalogue::Reporting;
    let catalogue = Catalogue::builtin();
    let (no_tests, no_exam) = case
        .import
        .as_ref()
        .map_or((false, false), |import| (import.no_tests, import.no_exam));
    let repaired = |what: String, notes: &mut Vec<Note>| {
        notes.push(Note {
            kind: NoteKind::Repaired,
            field: String::new(),
            message: format!(
                "the catalogue's normal {what} names the diagnosis; the case says \"{NOTHING_RECORDED}\" instead"
            ),
        });
    };
    for system in catalogue.systems().iter().filter(|_| !no_exam) {
        if case.exam_finding(&system.id).is_none()
            && !system.normal_text.is_empty()
            && names.found_in(&system.normal_text).is_some()
        {
            case.exam.push(ExamFinding {
                system: system.id.clone(),
                text: NOTHING_RECORDED.to_string(),
                abnormal: false,
            });
            repaired(format!("finding of `{}`", system.id), notes);
        }
    }
    for test in catalogue.tests().iter().filter(|_| !no_tests) {
        if let (Reporting::Report(normal), None) =
            (&test.reporting, case.study(catalogue, &test.id))
            && names.found_in(normal).is_some()
        {
            case.tests.push(TestResult {
                id: test.id.clone(),
                name: None,
                aliases: Vec::new(),
                price_usd: None,
                results: Vec::new(),
                abnormal: false,
                report: Some(NOTHING_RECORDED.to_string()),
                confirmatory: false,
                confirmed_by: Vec::new(),
            });
            repaired(format!("report of `{}`", test.id), notes);
        }
    }
}

/// Gives a case without a reference work-up one derived from what its source lists, so that the
/// oracle pays for what the source shows rather than diagnosing at turn 1 for nothing: one plain
/// question per history topic the case records (in the order the topics first appear), an
/// examination of each system it reports, then one order of every test it reports.
pub(crate) fn derive_reference_workup(case: &mut Case) {
    use dxsim_gatekeeper::case::WorkupStep;
    if !case.reference_workup.is_empty() {
        return;
    }
    let mut topics = Vec::new();
    for item in &case.history {
        if !topics.contains(&item.topic) {
            topics.push(item.topic);
        }
    }
    let questions = topics.iter().filter_map(|topic| {
        crate::agents::TOPIC_QUESTIONS
            .iter()
            .find(|(known, _)| known == topic)
            .map(|(_, question)| WorkupStep::Ask {
                text: (*question).to_string(),
            })
    });
    let mut systems: Vec<&str> = Vec::new();
    for finding in &case.exam {
        if !systems.contains(&finding.system.as_str()) {
            systems.push(&finding.system);
        }
    }
    let examinations = systems.into_iter().map(|system| WorkupStep::Examine {
        system: system.to_string(),
    });
    let tests: Vec<String> = case.tests.iter().map(|test| test.id.clone()).collect();
    let order = (!tests.is_empty()).then_some(WorkupStep::Order { tests });
    case.reference_workup = questions.chain(examinations).chain(order).collect();
}

/// Where imported cases go.
pub trait CaseSink {
    /// Receives one valid case.
    fn case(&mut self, case: Case) -> Result<(), ImportError>;
}

/// Keeps imported cases in memory.
#[derive(Debug, Default)]
pub struct CollectCases(pub Vec<Case>);

impl CaseSink for CollectCases {
    fn case(&mut self, case: Case) -> Result<(), ImportError> {
        self.0.push(case);
        Ok(())
    }
}

/// Writes each case to `<dir>/<id>.toml` (through a temporary file, so a failed write never leaves a
/// half-written case behind).
#[derive(Debug)]
pub struct DirectorySink {
    dir: PathBuf,
    written: u64,
}

impl DirectorySink {
    /// A sink writing into `dir`, created if missing.
    pub fn new(dir: &Path) -> Result<DirectorySink, ImportError> {
        std::fs::create_dir_all(dir).map_err(ImportError::io(dir))?;
        Ok(DirectorySink {
            dir: dir.to_path_buf(),
            written: 0,
        })
    }

    /// How many cases were written.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl CaseSink for DirectorySink {
    fn case(&mut self, case: Case) -> Result<(), ImportError> {
        let text = toml::to_string_pretty(&case).map_err(|error| ImportError::Serialize {
            id: case.id.clone(),
            message: error.to_string(),
        })?;
        let path = self.dir.join(format!("{}.toml", case.id));
        let partial = self.dir.join(format!(".{}.toml.partial", case.id));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(text.as_bytes())?;
            file.flush()?;
            std::fs::rename(&partial, &path)
        };
        write().map_err(ImportError::io(&path))?;
        self.written += 1;
        Ok(())
    }
}

//! DDXPlus: synthetic patients in CSV, read against the set's evidence and condition tables.
//!
//! A release directory holds `release_evidences.json` (each evidence code's English question, its
//! type — B binary, C categorical or numeric, M multi-choice — its values and their meanings, and
//! whether it is an antecedent), `release_conditions.json` (each pathology's English name, ICD-10 code
//! and severity) and patient CSVs with the columns `AGE, SEX, PATHOLOGY, EVIDENCES, INITIAL_EVIDENCE,
//! DIFFERENTIAL_DIAGNOSIS`.
//!
//! A patient becomes a case: each evidence a history item (antecedents under past history, or the
//! more specific topic their question touches), the initial evidence the presentation, the pathology
//! the diagnosis, the differential (with its probabilities) kept on the case for analysis. DDXPlus has
//! no examination and no test results, so the case says so and the gatekeeper answers "not recorded".
//!
//! The CSV is streamed one row at a time ([`import_dir`]), so memory does not grow with the number of
//! patients; [`DdxplusSource`] indexes the rows' offsets once and builds a case on demand, so an
//! environment can play any patient straight from the CSV without converting the file.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::{
    Diagnosis, DifferentialItem, Difficulty, HistoryItem, HistoryTopic, ImportFormat, ImportInfo,
    Presentation, Provenance, Sex,
};
use dxsim_gatekeeper::text::normalize;
use serde::Deserialize;
use serde_json::Value;

use super::mapping::{Guard, Mapper, keywords, person, slug, specialty_for, topic_for};
use super::{
    CaseSink, ImportError, ImportOptions, ImportReport, Note, NoteKind, RecordReport, ReportSink,
    check,
};
use crate::library::CaseSource;

/// The evidence table's file name.
pub const EVIDENCES_FILE: &str = "release_evidences.json";
/// The condition table's file name.
pub const CONDITIONS_FILE: &str = "release_conditions.json";

/// The columns a patient CSV must have.
const COLUMNS: [&str; 6] = [
    "AGE",
    "SEX",
    "PATHOLOGY",
    "EVIDENCES",
    "INITIAL_EVIDENCE",
    "DIFFERENTIAL_DIAGNOSIS",
];

/// Topics an antecedent's question may file it under; otherwise past history.
const ANTECEDENT_TOPICS: &[HistoryTopic] = &[
    HistoryTopic::Travel,
    HistoryTopic::Family,
    HistoryTopic::Medications,
    HistoryTopic::Allergies,
    HistoryTopic::Sexual,
    HistoryTopic::Obstetric,
    HistoryTopic::Exposures,
    HistoryTopic::Social,
    HistoryTopic::PastHistory,
];

/// Topics a symptom's question may file it under; otherwise associated symptoms.
const SYMPTOM_TOPICS: &[HistoryTopic] = &[
    HistoryTopic::Character,
    HistoryTopic::Location,
    HistoryTopic::Severity,
    HistoryTopic::ModifyingFactors,
    HistoryTopic::Course,
    HistoryTopic::Onset,
    HistoryTopic::AssociatedSymptoms,
    HistoryTopic::ReviewOfSystems,
];

#[derive(Debug, Deserialize)]
struct RawEvidence {
    #[serde(default)]
    question_en: String,
    #[serde(default)]
    is_antecedent: bool,
    #[serde(default)]
    data_type: String,
    #[serde(default)]
    value_meaning: HashMap<String, Value>,
    #[serde(default, rename = "possible-values")]
    possible_values: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct RawCondition {
    #[serde(default)]
    condition_name: String,
    #[serde(default, rename = "cond-name-eng")]
    name_en: String,
    #[serde(default, rename = "cond-name-fr")]
    name_fr: String,
    #[serde(default, rename = "icd10-id")]
    icd10: String,
}

/// An evidence's kind of answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataType {
    Binary,
    Categorical,
    Multi,
}

/// One evidence, prepared for building history items.
#[derive(Debug)]
struct Evidence {
    question: String,
    data_type: DataType,
    topic: HistoryTopic,
    keywords: Vec<String>,
    /// Value code → English meaning.
    meanings: HashMap<String, String>,
    /// Numeric scale bounds, for a categorical evidence whose values are numbers.
    scale: Option<(f64, f64)>,
    /// Normalised question, for the diagnosis guard.
    normalized: String,
}

/// One pathology, prepared.
#[derive(Debug)]
struct Condition {
    /// Its key in the condition table (what a CSV's PATHOLOGY column holds).
    key: String,
    name: String,
    icd10: String,
    specialty: &'static str,
    /// What no history text may contain: the English name, its head and its code.
    guard: Guard,
}

/// The evidence and condition tables of a DDXPlus release.
#[derive(Debug)]
pub struct Tables {
    evidences: HashMap<String, Evidence>,
    conditions: Vec<Condition>,
    /// Condition key, French and English names (as written) → index.
    by_name: HashMap<String, usize>,
    notes: Vec<Note>,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Tables {
    /// Reads `release_evidences.json` and `release_conditions.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Tables, ImportError> {
        let read = |name: &str| -> Result<(PathBuf, String), ImportError> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(ImportError::io(&path))?;
            Ok((path, text))
        };
        let (evidence_path, evidence_text) = read(EVIDENCES_FILE)?;
        let (condition_path, condition_text) = read(CONDITIONS_FILE)?;
        let raw_evidences: HashMap<String, RawEvidence> = serde_json::from_str(&evidence_text)
            .map_err(|error| ImportError::BadTable {
                path: evidence_path.clone(),
                message: format!("not an evidence table: {error}"),
            })?;
        let raw_conditions: HashMap<String, RawCondition> =
            serde_json::from_str(&condition_text).map_err(|error| ImportError::BadTable {
                path: condition_path.clone(),
                message: format!("not a condition table: {error}"),
            })?;
        Tables::from_raw(&raw_evidences, &raw_conditions, &evidence_path)
    }

    fn from_raw(
        raw_evidences: &HashMap<String, RawEvidence>,
        raw_conditions: &HashMap<String, RawCondition>,
        evidence_path: &Path,
    ) -> Result<Tables, ImportError> {
        let mut notes = Vec::new();
        let mut evidences = HashMap::new();
        let mut codes: Vec<&String> = raw_evidences.keys().collect();
        codes.sort();
        for code in codes {
            let raw = &raw_evidences[code];
            let data_type = match raw.data_type.as_str() {
                "B" => DataType::Binary,
                "C" => DataType::Categorical,
                "M" => DataType::Multi,
                other => {
                    return Err(ImportError::BadTable {
                        path: evidence_path.to_path_buf(),
                        message: format!(
                            "evidence `{code}` has data_type `{other}`; expected B, C or M"
                        ),
                    });
                }
            };
            if raw.question_en.trim().is_empty() {
                return Err(ImportError::BadTable {
                    path: evidence_path.to_path_buf(),
                    message: format!("evidence `{code}` has no `question_en`"),
                });
            }
            let topic = if raw.is_antecedent {
                topic_for(&raw.question_en, ANTECEDENT_TOPICS).unwrap_or(HistoryTopic::PastHistory)
            } else {
                topic_for(&raw.question_en, SYMPTOM_TOPICS)
                    .unwrap_or(HistoryTopic::AssociatedSymptoms)
            };
            let meanings = raw
                .value_meaning
                .iter()
                .map(|(value, meaning)| {
                    let english = meaning.get("en").map(text_of).unwrap_or_default();
                    (value.clone(), english)
                })
                .collect();
            let numbers: Vec<f64> = raw
                .possible_values
                .iter()
                .filter_map(Value::as_f64)
                .collect();
            let scale = (data_type == DataType::Categorical
                && !numbers.is_empty()
                && numbers.len() == raw.possible_values.len())
            .then(|| {
                let low = numbers.iter().copied().fold(f64::INFINITY, f64::min);
                let high = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (low, high)
            });
            evidences.insert(
                code.clone(),
                Evidence {
                    question: raw.question_en.trim().to_string(),
                    data_type,
                    topic,
                    keywords: keywords(&raw.question_en),
                    meanings,
                    scale,
                    normalized: normalize(&raw.question_en),
                },
            );
        }
        let mapper = Mapper::get();
        let mut conditions = Vec::new();
        let mut by_name = HashMap::new();
        let mut keys: Vec<&String> = raw_conditions.keys().collect();
        keys.sort();
        for key in keys {
            let raw = &raw_conditions[key];
            let name = [&raw.name_en, &raw.condition_name, key]
                .into_iter()
                .find(|name| !name.trim().is_empty())
                .map_or_else(String::new, |name| name.trim().to_string());
            let icd10 = match mapper.known_icd10(&raw.icd10) {
                Some(code) => {
                    if !code.eq_ignore_ascii_case(raw.icd10.trim()) {
                        notes.push(Note {
                            kind: NoteKind::Repaired,
                            field: format!("{CONDITIONS_FILE}: {key}"),
                            message: format!(
                                "icd10-id `{}` is not in the ICD-10-CM table; its parent `{code}` is used",
                                raw.icd10
                            ),
                        });
                    }
                    code
                }
                None => {
                    let by_name = mapper.icd10_for(&name).unwrap_or_default();
                    notes.push(Note {
                        kind: NoteKind::Unmapped,
                        field: format!("{CONDITIONS_FILE}: {key}"),
                        message: if by_name.is_empty() {
                            format!(
                                "icd10-id `{}` is not an ICD-10-CM code and no description matches `{name}`; its cases carry no code",
                                raw.icd10
                            )
                        } else {
                            format!(
                                "icd10-id `{}` is not an ICD-10-CM code; `{by_name}` matched by name",
                                raw.icd10
                            )
                        },
                    });
                    by_name
                }
            };
            let index = conditions.len();
            for alias in [key, &raw.condition_name, &raw.name_en, &raw.name_fr] {
                if !alias.trim().is_empty() {
                    by_name.entry(alias.trim().to_string()).or_insert(index);
                }
            }
            conditions.push(Condition {
                key: key.clone(),
                specialty: if icd10.is_empty() {
                    "emergency_medicine"
                } else {
                    specialty_for(&icd10)
                },
                guard: Guard::strict([name.as_str()], &icd10),
                name,
                icd10,
            });
        }
        Ok(Tables {
            evidences,
            conditions,
            by_name,
            notes,
        })
    }

    /// Notes about the tables themselves (codes repaired or unmapped).
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }
}

/// A small parser for the Python literals DDXPlus writes in its CSV cells: lists of strings, numbers
/// and nested lists (`['E_91', 'E_56_@_4']`, `[['Bronchitis', 0.21], …]`).
#[derive(Debug, Clone, PartialEq)]
enum PyValue {
    Text(String),
    Number(f64),
    List(Vec<PyValue>),
}

fn parse_py(text: &str) -> Result<PyValue, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut at = 0;
    let value = parse_py_value(&chars, &mut at)?;
    skip_space(&chars, &mut at);
    if at != chars.len() {
        return Err(format!("unexpected `{}` after the list", chars[at]));
    }
    Ok(value)
}

fn skip_space(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

fn parse_py_value(chars: &[char], at: &mut usize) -> Result<PyValue, String> {
    skip_space(chars, at);
    match chars.get(*at) {
        Some('[') => {
            *at += 1;
            let mut items = Vec::new();
            loop {
                skip_space(chars, at);
                if chars.get(*at) == Some(&']') {
                    *at += 1;
                    return Ok(PyValue::List(items));
                }
                items.push(parse_py_value(chars, at)?);
                skip_space(chars, at);
                match chars.get(*at) {
                    Some(',') => *at += 1,
                    Some(']') => {}
                    Some(other) => return Err(format!("expected `,` or `]`, found `{other}`")),
                    None => return Err("the list is not closed with `]`".to_string()),
                }
            }
        }
        Some(&quote @ ('\'' | '"')) => {
            *at += 1;
            let mut text = String::new();
            loop {
                match chars.get(*at) {
                    Some('\\') => {
                        if let Some(&escaped) = chars.get(*at + 1) {
                            text.push(escaped);
                        }
                        *at += 2;
                    }
                    Some(&c) if c == quote => {
                        *at += 1;
                        return Ok(PyValue::Text(text));
                    }
                    Some(&c) => {
                        text.push(c);
                        *at += 1;
                    }
                    None => return Err("a string is not closed".to_string()),
                }
            }
        }
        Some(c) if c.is_ascii_digit() || *c == '-' || *c == '.' => {
            let start = *at;
            while chars
                .get(*at)
                .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
            {
                *at += 1;
            }
            let number: String = chars[start..*at].iter().collect();
            number
                .parse()
                .map(PyValue::Number)
                .map_err(|_| format!("`{number}` is not a number"))
        }
        Some(other) => Err(format!("unexpected `{other}`")),
        None => Err("the cell is empty".to_string()),
    }
}

/// The column positions of a patient CSV.
#[derive(Debug, Clone, Copy)]
struct Columns([usize; 6]);

impl Columns {
    fn find(headers: &csv::ByteRecord, path: &Path) -> Result<Columns, ImportError> {
        let mut positions = [0; 6];
        for (slot, wanted) in positions.iter_mut().zip(COLUMNS) {
            *slot = headers
                .iter()
                .position(|header| header.trim_ascii() == wanted.as_bytes())
                .ok_or_else(|| ImportError::BadTable {
                    path: path.to_path_buf(),
                    message: format!(
                        "no `{wanted}` column; a DDXPlus patient file has {}",
                        COLUMNS.join(", ")
                    ),
                })?;
        }
        Ok(Columns(positions))
    }
}

/// One patient file being read.
#[derive(Debug)]
struct PatientFile {
    name: String,
    stem: String,
}

impl PatientFile {
    fn new(path: &Path) -> PatientFile {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let stem = path
            .file_stem()
            .map(|stem| slug(&stem.to_string_lossy(), '-'))
            .filter(|stem| !stem.is_empty())
            .unwrap_or_else(|| "patients".to_string());
        PatientFile { name, stem }
    }

    fn id(&self, line: u64) -> String {
        format!("ddxplus-{}-{line}", self.stem)
    }
}

/// Builds the case of one CSV row; problems go to `notes`.
fn build(
    tables: &Tables,
    file: &PatientFile,
    line: u64,
    row: &csv::ByteRecord,
    columns: Columns,
    options: &ImportOptions,
    notes: &mut Vec<Note>,
) -> Option<Case> {
    let cell = |index: usize| -> Result<&str, Note> {
        let column = COLUMNS[index];
        let bytes = row.get(columns.0[index]).unwrap_or_default();
        std::str::from_utf8(bytes).map(str::trim).map_err(|_| Note {
            kind: NoteKind::Failed,
            field: column.to_string(),
            message: "is not UTF-8 text".to_string(),
        })
    };
    let fail = |notes: &mut Vec<Note>, field: &str, message: String| {
        notes.push(Note {
            kind: NoteKind::Failed,
            field: field.to_string(),
            message,
        });
    };
    let cells: Result<Vec<&str>, Note> = (0..COLUMNS.len()).map(cell).collect();
    let cells = match cells {
        Ok(cells) => cells,
        Err(note) => {
            notes.push(note);
            return None;
        }
    };
    let [
        age,
        sex,
        pathology,
        evidence_cell,
        initial,
        differential_cell,
    ] = cells[..]
    else {
        return None;
    };
    let Some(age) = age
        .parse::<f64>()
        .ok()
        .filter(|age| (0.0..=120.0).contains(age))
    else {
        fail(notes, "AGE", format!("`{age}` is not an age in years"));
        return None;
    };
    let sex = match sex {
        "M" | "m" => Sex::Male,
        "F" | "f" => Sex::Female,
        other => {
            fail(notes, "SEX", format!("`{other}` is not M or F"));
            return None;
        }
    };
    let Some(&condition_index) = tables.by_name.get(pathology) else {
        fail(
            notes,
            "PATHOLOGY",
            format!("`{pathology}` is not in {CONDITIONS_FILE}"),
        );
        return None;
    };
    let condition = &tables.conditions[condition_index];
    let tokens = match parse_py(evidence_cell) {
        Ok(PyValue::List(items)) => items,
        Ok(_) => {
            fail(notes, "EVIDENCES", "is not a list".to_string());
            return None;
        }
        Err(error) => {
            fail(
                notes,
                "EVIDENCES",
                format!("is not a Python-style list: {error}"),
            );
            return None;
        }
    };
    // Evidence code → values, in the order the row gives them.
    let mut answers: Vec<(&str, Vec<String>)> = Vec::new();
    for token in &tokens {
        let PyValue::Text(token) = token else {
            notes.push(Note {
                kind: NoteKind::Unmapped,
                field: "EVIDENCES".to_string(),
                message: format!("{token:?} is not an evidence token; left out"),
            });
            continue;
        };
        let (code, value) = match token.split_once("_@_") {
            Some((code, value)) => (code, Some(value)),
            None => (token.as_str(), None),
        };
        if !tables.evidences.contains_key(code) {
            notes.push(Note {
                kind: NoteKind::Unmapped,
                field: "EVIDENCES".to_string(),
                message: format!("`{code}` is not in {EVIDENCES_FILE}; left out"),
            });
            continue;
        }
        match answers.iter_mut().find(|(known, _)| *known == code) {
            Some((_, values)) => values.extend(value.map(str::to_string)),
            None => answers.push((code, value.map(str::to_string).into_iter().collect())),
        }
    }
    let initial_code = initial.split_once("_@_").map_or(initial, |(code, _)| code);
    if !tables.evidences.contains_key(initial_code) {
        fail(
            notes,
            "INITIAL_EVIDENCE",
            format!("`{initial}` is not in {EVIDENCES_FILE}"),
        );
        return None;
    }
    let mut history = Vec::with_capacity(answers.len());
    let mut complaint = None;
    for (code, values) in &answers {
        let evidence = &tables.evidences[*code];
        let answer = answer_text(evidence, values, code, notes);
        let text = format!("{} {answer}", evidence.question);
        let names = condition.guard.names_normalized(&evidence.normalized)
            || (evidence.data_type != DataType::Binary && condition.guard.names(&answer));
        if names {
            notes.push(Note {
                kind: NoteKind::Repaired,
                field: format!("EVIDENCES {code}"),
                message: format!(
                    "withheld `{text}`: it names the diagnosis before the episode ends"
                ),
            });
            continue;
        }
        if *code == initial_code {
            complaint = Some(text.clone());
        }
        history.push(HistoryItem {
            id: String::new(),
            topic: evidence.topic,
            text,
            keywords: evidence.keywords.clone(),
            negative: false,
        });
    }
    let age_years = age as u32;
    let person = person(age_years, None, sex);
    let summary = match complaint {
        Some(complaint) => format!("{person} consults. First complaint: {complaint}"),
        None => {
            notes.push(Note {
                kind: NoteKind::Repaired,
                field: "INITIAL_EVIDENCE".to_string(),
                message: format!(
                    "`{initial}` is not among the patient's evidences (or names the diagnosis); the presentation gives no complaint"
                ),
            });
            format!("{person} consults.")
        }
    };
    let differential = differential(tables, condition_index, differential_cell, notes);
    let id = file.id(line);
    Some(Case {
        title: format!("DDXPlus patient, {} line {line}", file.name),
        specialty: condition.specialty.to_string(),
        difficulty: Difficulty::Common,
        provenance: Provenance {
            author: "DDXPlus synthetic patient set (imported by dxsim)".to_string(),
            source: format!("DDXPlus patient CSV, {} line {line}", file.name),
            licence: options.licence.clone(),
            created: options.created.clone(),
            review: None,
        },
        presentation: Presentation {
            age_years,
            age_months: None,
            sex,
            setting: "consultation (DDXPlus synthetic patient)".to_string(),
            summary,
        },
        history,
        diagnosis: Diagnosis {
            name: condition.name.clone(),
            icd10: condition.icd10.clone(),
            synonyms: Vec::new(),
        },
        differential,
        import: Some(ImportInfo {
            format: ImportFormat::Ddxplus,
            file: file.name.clone(),
            line,
            no_exam: true,
            no_tests: true,
            ..ImportInfo::default()
        }),
        id,
        ..Case::default()
    })
}

/// The patient's answer to an evidence's question.
fn answer_text(
    evidence: &Evidence,
    values: &[String],
    code: &str,
    notes: &mut Vec<Note>,
) -> String {
    let mut meaning = |value: &String| -> String {
        match evidence.meanings.get(value) {
            Some(meaning) if !meaning.is_empty() => meaning.clone(),
            _ if evidence.data_type == DataType::Multi => {
                notes.push(Note {
                    kind: NoteKind::Unmapped,
                    field: format!("EVIDENCES {code}"),
                    message: format!(
                        "value `{value}` has no meaning in {EVIDENCES_FILE}; kept as the code"
                    ),
                });
                value.clone()
            }
            _ => value.clone(),
        }
    };
    match (evidence.data_type, values) {
        (DataType::Binary, _) | (_, []) => "Yes.".to_string(),
        (DataType::Categorical, [value, ..]) => match evidence.scale {
            Some((low, high)) => format!("{} (on a scale of {low} to {high}).", meaning(value)),
            None => format!("{}.", meaning(value)),
        },
        (DataType::Multi, values) => {
            let meanings: Vec<String> = values.iter().map(meaning).collect();
            format!("{}.", meanings.join(", "))
        }
    }
}

/// The differential of a row: `[name, probability]` pairs, the pathology itself left out.
fn differential(
    tables: &Tables,
    condition_index: usize,
    cell: &str,
    notes: &mut Vec<Note>,
) -> Vec<DifferentialItem> {
    if cell.is_empty() {
        return Vec::new();
    }
    let Ok(PyValue::List(pairs)) = parse_py(cell) else {
        notes.push(Note {
            kind: NoteKind::Unmapped,
            field: "DIFFERENTIAL_DIAGNOSIS".to_string(),
            message: "is not a list of [name, probability] pairs; left out".to_string(),
        });
        return Vec::new();
    };
    let mut items: Vec<DifferentialItem> = Vec::new();
    for pair in pairs {
        let (name, probability) = match &pair {
            PyValue::List(parts) => match parts.as_slice() {
                [PyValue::Text(name), PyValue::Number(probability)] => (name, *probability),
                _ => {
                    notes.push(Note {
                        kind: NoteKind::Unmapped,
                        field: "DIFFERENTIAL_DIAGNOSIS".to_string(),
                        message: format!("{pair:?} is not a [name, probability] pair; left out"),
                    });
                    continue;
                }
            },
            _ => continue,
        };
        let probability = if (0.0..=1.0).contains(&probability) {
            Some(probability)
        } else {
            notes.push(Note {
                kind: NoteKind::Repaired,
                field: "DIFFERENTIAL_DIAGNOSIS".to_string(),
                message: format!(
                    "`{name}` has probability {probability}, outside 0–1; kept without it"
                ),
            });
            None
        };
        let (name, icd10) = match tables.by_name.get(name.as_str()) {
            Some(&index) if index == condition_index => continue,
            Some(&index) => {
                let condition = &tables.conditions[index];
                (
                    condition.name.clone(),
                    Some(condition.icd10.clone()).filter(|code| !code.is_empty()),
                )
            }
            None => {
                notes.push(Note {
                    kind: NoteKind::Unmapped,
                    field: "DIFFERENTIAL_DIAGNOSIS".to_string(),
                    message: format!(
                        "`{name}` is not in {CONDITIONS_FILE}; kept by name without a code"
                    ),
                });
                (name.clone(), None)
            }
        };
        if items.iter().any(|item| item.name == name) {
            continue;
        }
        items.push(DifferentialItem {
            name,
            lay_name: None,
            icd10,
            note: None,
            probability,
        });
    }
    items
}

/// Writes `patients` synthetic rows in DDXPlus's CSV layout to `dir/file`, drawn by `seed` from the
/// tables in `dir`: each row a pathology, three to ten evidences with values their type allows, the
/// first of them the initial evidence, and a two-item differential. For tests and benchmarks of the
/// importer at DDXPlus's scale without the real files.
pub fn write_synthetic_patients(
    dir: &Path,
    file: &str,
    patients: usize,
    seed: u64,
) -> Result<PathBuf, ImportError> {
    use rand::{Rng, SeedableRng};
    let tables = Tables::load(dir)?;
    let path = dir.join(file);
    let mut codes: Vec<&String> = tables.evidences.keys().collect();
    codes.sort();
    if codes.is_empty() || tables.conditions.is_empty() {
        return Err(ImportError::BadTable {
            path: dir.join(EVIDENCES_FILE),
            message: "the tables need at least one evidence and one condition".to_string(),
        });
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let written = |error: csv::Error| csv_error(&path, &error);
    let mut out = csv::Writer::from_path(&path).map_err(written)?;
    out.write_record([
        "AGE",
        "DIFFERENTIAL_DIAGNOSIS",
        "SEX",
        "PATHOLOGY",
        "EVIDENCES",
        "INITIAL_EVIDENCE",
    ])
    .map_err(written)?;
    for _ in 0..patients {
        let condition = &tables.conditions[rng.random_range(0..tables.conditions.len())];
        let other = &tables.conditions[rng.random_range(0..tables.conditions.len())];
        let wanted = rng.random_range(3..=10).min(codes.len());
        let mut chosen: Vec<&String> = Vec::with_capacity(wanted);
        while chosen.len() < wanted {
            let code = codes[rng.random_range(0..codes.len())];
            if !chosen.contains(&code) {
                chosen.push(code);
            }
        }
        let mut tokens = Vec::new();
        for code in &chosen {
            let evidence = &tables.evidences[*code];
            let mut values: Vec<&String> = evidence.meanings.keys().collect();
            values.sort();
            match (evidence.data_type, evidence.scale) {
                (DataType::Binary, _) => tokens.push(format!("'{code}'")),
                (DataType::Categorical, Some((low, high))) => {
                    let value = rng.random_range(low as i64..=high as i64);
                    tokens.push(format!("'{code}_@_{value}'"));
                }
                _ if values.is_empty() => tokens.push(format!("'{code}'")),
                (DataType::Categorical, None) => {
                    let value = values[rng.random_range(0..values.len())];
                    tokens.push(format!("'{code}_@_{value}'"));
                }
                (DataType::Multi, _) => {
                    let first = rng.random_range(0..values.len());
                    tokens.push(format!("'{code}_@_{}'", values[first]));
                    let second = rng.random_range(0..values.len());
                    if second != first {
                        tokens.push(format!("'{code}_@_{}'", values[second]));
                    }
                }
            }
        }
        let sex = if rng.random_bool(0.5) { "F" } else { "M" };
        let quote = |key: &str| key.replace('\\', "\\\\").replace('\'', "\\'");
        let age = rng.random_range(0..95).to_string();
        let differential = format!(
            "[['{}', 0.6], ['{}', 0.4]]",
            quote(&condition.key),
            quote(&other.key)
        );
        let evidences = format!("[{}]", tokens.join(", "));
        out.write_record([
            age.as_str(),
            &differential,
            sex,
            &condition.key,
            &evidences,
            chosen[0],
        ])
        .map_err(written)?;
    }
    out.flush().map_err(ImportError::io(&path))?;
    Ok(path)
}

/// The patient CSVs of a release directory: files whose name holds `patients`, sorted.
pub fn patient_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(ImportError::io(dir))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path.file_name().is_some_and(|name| {
                    let name = name.to_string_lossy();
                    name.contains("patients") && (name.ends_with(".csv") || !name.contains('.'))
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ImportError::NoPatients(dir.to_path_buf()));
    }
    Ok(files)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, ImportError> {
    let file = File::open(path).map_err(ImportError::io(path))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 16, file)))
}

fn csv_error(path: &Path, error: &csv::Error) -> ImportError {
    ImportError::BadTable {
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// Imports every patient CSV in `patients` (or, when empty, every one in `dir`) against the tables in
/// `dir`, row by row.
pub fn import_dir(
    dir: &Path,
    patients: &[PathBuf],
    options: &ImportOptions,
    cases: &mut dyn CaseSink,
    sink: &mut dyn ReportSink,
) -> Result<ImportReport, ImportError> {
    let tables = Tables::load(dir)?;
    let files = if patients.is_empty() {
        patient_files(dir)?
    } else {
        patients.to_vec()
    };
    let mut report = ImportReport {
        table_notes: tables.notes.clone(),
        ..ImportReport::default()
    };
    for path in &files {
        import_csv(&tables, path, options, cases, sink, &mut report)?;
    }
    Ok(report)
}

fn import_csv(
    tables: &Tables,
    path: &Path,
    options: &ImportOptions,
    cases: &mut dyn CaseSink,
    sink: &mut dyn ReportSink,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let file = PatientFile::new(path);
    let mut reader = csv_reader(path)?;
    let headers = reader
        .byte_headers()
        .map_err(|error| csv_error(path, &error))?
        .clone();
    let columns = Columns::find(&headers, path)?;
    let mut row = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        let mut record = RecordReport {
            file: file.name.clone(),
            line,
            case_id: None,
            notes: Vec::new(),
        };
        match reader.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let line = row.position().map_or(line, csv::Position::line);
                record.line = line;
                if row.len() != headers.len() {
                    record.notes.push(Note {
                        kind: NoteKind::Failed,
                        field: String::new(),
                        message: format!(
                            "has {} fields where the header has {}; the row is skipped",
                            row.len(),
                            headers.len()
                        ),
                    });
                } else if let Some(case) = build(
                    tables,
                    &file,
                    line,
                    &row,
                    columns,
                    options,
                    &mut record.notes,
                )
                .and_then(|case| check(case, &mut record.notes))
                {
                    record.case_id = Some(case.id.clone());
                    cases.case(case)?;
                }
            }
            Err(error) if error.is_io_error() => return Err(csv_error(path, &error)),
            Err(error) => {
                if let Some(position) = error.position() {
                    record.line = position.line();
                }
                record.notes.push(Note {
                    kind: NoteKind::Failed,
                    field: String::new(),
                    message: format!("not a CSV row: {error}"),
                });
            }
        }
        report.finish(&record, sink).map_err(ImportError::Report)?;
    }
    Ok(())
}

/// Plays DDXPlus patients straight from a CSV: the rows' offsets are indexed once (16 bytes a row),
/// and each case is built, validated and handed out when an episode asks for it.
#[derive(Debug)]
pub struct DdxplusSource {
    tables: Tables,
    path: PathBuf,
    file: PatientFile,
    columns: Columns,
    /// `(byte offset, line)` of every row, in file order.
    rows: Vec<(u64, u64)>,
    reader: Mutex<csv::Reader<BufReader<File>>>,
    options: ImportOptions,
}

impl DdxplusSource {
    /// Indexes the patient CSV `patients` (or the first patient file in `dir`) against the tables in
    /// `dir`.
    pub fn open(dir: &Path, patients: Option<&Path>) -> Result<DdxplusSource, ImportError> {
        let tables = Tables::load(dir)?;
        let path = match patients {
            Some(path) => path.to_path_buf(),
            None => patient_files(dir)?.remove(0),
        };
        let mut reader = csv_reader(&path)?;
        let headers = reader
            .byte_headers()
            .map_err(|error| csv_error(&path, &error))?
            .clone();
        let columns = Columns::find(&headers, &path)?;
        let mut rows = Vec::new();
        let mut row = csv::ByteRecord::new();
        loop {
            let position = reader.position().clone();
            match reader.read_byte_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {
                    let line = row.position().map_or(position.line(), csv::Position::line);
                    rows.push((position.byte(), line));
                }
                Err(error) if error.is_io_error() => return Err(csv_error(&path, &error)),
                // A broken row is not playable; `dxsim cases import ddxplus` reports it.
                Err(_) => {}
            }
        }
        let reader = csv_reader(&path)?;
        Ok(DdxplusSource {
            tables,
            file: PatientFile::new(&path),
            path,
            columns,
            rows,
            reader: Mutex::new(reader),
            options: ImportOptions::default(),
        })
    }

    /// The patient file played.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The case of the row at `index`, or the notes that explain why it has none.
    pub fn case(&self, index: usize) -> Result<Case, RecordReport> {
        let (byte, line) = self.rows.get(index).copied().unwrap_or_default();
        let mut record = RecordReport {
            file: self.file.name.clone(),
            line,
            case_id: None,
            notes: Vec::new(),
        };
        let mut row = csv::ByteRecord::new();
        let read = {
            let mut reader = match self.reader.lock() {
                Ok(reader) => reader,
                Err(poisoned) => poisoned.into_inner(),
            };
            let mut position = csv::Position::new();
            position.set_byte(byte).set_line(line);
            reader
                .seek(position)
                .and_then(|()| reader.read_byte_record(&mut row))
        };
        match read {
            Ok(true) if index < self.rows.len() => {}
            Ok(_) => {
                record.notes.push(Note {
                    kind: NoteKind::Failed,
                    field: String::new(),
                    message: format!("there is no row {index}"),
                });
                return Err(record);
            }
            Err(error) => {
                record.notes.push(Note {
                    kind: NoteKind::Failed,
                    field: String::new(),
                    message: format!("cannot read the row again: {error}"),
                });
                return Err(record);
            }
        }
        let case = build(
            &self.tables,
            &self.file,
            line,
            &row,
            self.columns,
            &self.options,
            &mut record.notes,
        )
        .and_then(|case| check(case, &mut record.notes));
        case.ok_or(record)
    }
}

impl CaseSource for DdxplusSource {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn case_at(&self, index: usize) -> Option<Arc<Case>> {
        self.case(index).ok().map(Arc::new)
    }

    fn get(&self, id: &str) -> Option<Arc<Case>> {
        let line: u64 = id
            .strip_prefix(&format!("ddxplus-{}-", self.file.stem))?
            .parse()
            .ok()?;
        let index = self
            .rows
            .binary_search_by_key(&line, |&(_, row)| row)
            .ok()?;
        self.case_at(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_lists_parse() {
        assert_eq!(
            parse_py("['E_91', \"E_56_@_4\"]"),
            Ok(PyValue::List(vec![
                PyValue::Text("E_91".into()),
                PyValue::Text("E_56_@_4".into())
            ]))
        );
        assert_eq!(
            parse_py("[['Croup', 0.25], ['Bronchite', 1e-2]]"),
            Ok(PyValue::List(vec![
                PyValue::List(vec![PyValue::Text("Croup".into()), PyValue::Number(0.25)]),
                PyValue::List(vec![
                    PyValue::Text("Bronchite".into()),
                    PyValue::Number(0.01)
                ]),
            ]))
        );
        assert_eq!(parse_py("[]"), Ok(PyValue::List(Vec::new())));
        assert!(parse_py("['E_91'").is_err());
        assert!(parse_py("['E_91', ]x").is_err());
    }
}

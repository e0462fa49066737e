//! AgentClinic's JSON-lines case files, in both of their forms, detected per record.
//!
//! **OSCE** (MedQA, MedQA extended, MIMIC-IV derived): `{"OSCE_Examination": {Objective_for_Doctor,
//! Patient_Actor, Physical_Examination_Findings, Test_Results, Correct_Diagnosis}}`. The patient's
//! sections become history items by topic, the examination keys exam systems (vital signs read into
//! `[vitals]`), the test keys catalogue tests through the resolver — a key the catalogue does not know
//! becomes a case-specific test, and a group key ("Blood_Tests") is opened and its children mapped.
//!
//! **NEJM** (image challenge): `{image_url, question, patient_info, physical_exams, answers: [{text,
//! correct}], type?}`. The narrative becomes history, the examination sentences go to the systems
//! they mention, the answers become multiple-choice options with the correct one as the diagnosis,
//! and the image URL is kept as a reference.
//!
//! A record has no id: its case is named after the file and the line. A line that is not JSON, or
//! not either form, is reported with its line number and the rest of the file still imports.

use std::io::BufRead;
use std::path::Path;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::{
    CASE_TEST_PREFIX, Diagnosis, Difficulty, ExamFinding, HistoryItem, HistoryTopic, ImportFormat,
    ImportInfo, Presentation, Provenance, SPECIALTIES, Sex, TestResult, Vitals,
};
use dxsim_gatekeeper::catalogue::Reporting;
use serde_json::{Map, Value};

use super::actor_text::patient_story;
use super::mapping::{
    Guard, Mapper, TestKey, demographics, flatten, is_body_measurement, is_empty, is_negative,
    is_plain_measurement, keywords, label, looks_abnormal, measured_abnormal, person, race,
    sentences, slug, specialty_for, topic_for, vitals, without_unresulted,
};
use super::{
    CaseSink, ImportError, ImportOptions, ImportReport, Note, NoteKind, RecordReport, ReportSink,
    check,
};

/// Which AgentClinic form to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    /// Decide per record by its keys.
    #[default]
    Auto,
    /// Every record is in the OSCE form.
    Osce,
    /// Every record is in the NEJM form.
    Nejm,
}

/// Topics a symptom's own words may file it under, most specific first.
const SYMPTOM_TOPICS: &[HistoryTopic] = &[
    HistoryTopic::Character,
    HistoryTopic::Location,
    HistoryTopic::Severity,
    HistoryTopic::ModifyingFactors,
    HistoryTopic::Course,
    HistoryTopic::Onset,
    HistoryTopic::AssociatedSymptoms,
];

/// Imports an AgentClinic JSON-lines file.
pub fn import_file(
    path: &Path,
    form: Form,
    options: &ImportOptions,
    cases: &mut dyn CaseSink,
    sink: &mut dyn ReportSink,
) -> Result<ImportReport, ImportError> {
    let file = std::fs::File::open(path).map_err(ImportError::io(path))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    import_reader(
        std::io::BufReader::new(file),
        &name,
        form,
        options,
        cases,
        sink,
    )
    .map_err(|error| match error {
        ImportError::Io { source, .. } => ImportError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => other,
    })
}

/// Imports AgentClinic JSON lines from a reader; `file` names the source in ids and reports.
pub fn import_reader(
    mut reader: impl BufRead,
    file: &str,
    form: Form,
    options: &ImportOptions,
    cases: &mut dyn CaseSink,
    sink: &mut dyn ReportSink,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let mut bytes = Vec::new();
    let mut line = 0u64;
    let stem = slug(
        Path::new(file)
            .file_stem()
            .map_or(file, |stem| stem.to_str().unwrap_or(file)),
        '-',
    );
    let stem = if stem.is_empty() {
        "agentclinic".to_string()
    } else {
        stem
    };
    loop {
        bytes.clear();
        let read = reader
            .read_until(b'\n', &mut bytes)
            .map_err(ImportError::io(Path::new(file)))?;
        if read == 0 {
            break;
        }
        line += 1;
        let mut record = RecordReport {
            file: file.to_string(),
            line,
            case_id: None,
            notes: Vec::new(),
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text.trim_start_matches('\u{feff}').trim(),
            Err(error) => {
                record.notes.push(failed(
                    "",
                    format!("not UTF-8 text (byte {})", error.valid_up_to() + 1),
                ));
                report.finish(&record, sink).map_err(ImportError::Report)?;
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let id = format!("{stem}-{line}");
        let built = match serde_json::from_str::<Value>(text) {
            Ok(value) => build(&value, form, file, line, &id, options, &mut record.notes),
            Err(error) => {
                record.notes.push(failed(
                    "",
                    format!("not valid JSON: {error}; the line is skipped"),
                ));
                None
            }
        };
        if let Some(case) = built.and_then(|case| check(case, &mut record.notes)) {
            record.case_id = Some(case.id.clone());
            cases.case(case)?;
        }
        report.finish(&record, sink).map_err(ImportError::Report)?;
    }
    Ok(report)
}

fn note(kind: NoteKind, field: impl Into<String>, message: impl Into<String>) -> Note {
    Note {
        kind,
        field: field.into(),
        message: message.into(),
    }
}

fn failed(field: &str, message: String) -> Note {
    note(NoteKind::Failed, field, message)
}

/// Builds the case of one parsed record, or explains (in `notes`) why it cannot.
fn build(
    value: &Value,
    form: Form,
    file: &str,
    line: u64,
    id: &str,
    options: &ImportOptions,
    notes: &mut Vec<Note>,
) -> Option<Case> {
    let Some(object) = value.as_object() else {
        notes.push(failed("", "a record must be a JSON object".to_string()));
        return None;
    };
    let is_osce = object.contains_key("OSCE_Examination");
    let is_nejm = ["answers", "patient_info", "question"]
        .iter()
        .any(|key| object.contains_key(*key));
    match (form, is_osce, is_nejm) {
        (Form::Auto | Form::Osce, true, _) => osce(object, file, line, id, options, notes),
        (Form::Auto | Form::Nejm, false, true) => nejm(object, file, line, id, options, notes),
        (Form::Osce, false, _) => {
            notes.push(failed(
                "",
                "not in the OSCE form: no `OSCE_Examination` key".to_string(),
            ));
            None
        }
        (Form::Nejm, true, _) => {
            notes.push(failed(
                "",
                "not in the NEJM form: it is an OSCE record".to_string(),
            ));
            None
        }
        (Form::Nejm | Form::Auto, false, false) => {
            let keys: Vec<&str> = object.keys().map(String::as_str).collect();
            notes.push(failed(
                "",
                format!(
                    "neither AgentClinic form: expected `OSCE_Examination` (OSCE) or `question`, `patient_info`, `answers` (NEJM); found keys: {}",
                    keys.join(", ")
                ),
            ));
            None
        }
    }
}

/// The parts of a case both forms fill in the same way.
struct Skeleton<'a> {
    file: &'a str,
    line: u64,
    id: &'a str,
    format: ImportFormat,
    options: &'a ImportOptions,
}

impl Skeleton<'_> {
    fn case(&self, diagnosis: &str, notes: &mut Vec<Note>) -> Case {
        let mapper = Mapper::get();
        let code = mapper.icd10_for(diagnosis).unwrap_or_default();
        if code.is_empty() {
            notes.push(note(
                NoteKind::Unmapped,
                "diagnosis",
                format!("no ICD-10-CM description matches `{diagnosis}`; the diagnosis is kept without a code"),
            ));
        }
        let (form_name, difficulty) = match self.format {
            ImportFormat::AgentclinicNejm => ("NEJM", Difficulty::Rare),
            _ => ("OSCE", Difficulty::Common),
        };
        Case {
            id: self.id.to_string(),
            title: format!(
                "AgentClinic {form_name} case, {} line {}",
                self.file, self.line
            ),
            specialty: if code.is_empty() {
                String::new()
            } else {
                specialty_for(&code).to_string()
            },
            difficulty,
            provenance: Provenance {
                author: "AgentClinic case set (imported by dxsim)".to_string(),
                source: format!(
                    "AgentClinic {form_name} JSON lines, {} line {}",
                    self.file, self.line
                ),
                licence: self.options.licence.clone(),
                created: self.options.created.clone(),
                review: None,
            },
            diagnosis: Diagnosis {
                name: diagnosis.to_string(),
                icd10: code,
                synonyms: Vec::new(),
            },
            import: Some(ImportInfo {
                format: self.format,
                file: self.file.to_string(),
                line: self.line,
                ..ImportInfo::default()
            }),
            ..Case::default()
        }
    }
}

/// Fills a missing specialty with a stated fallback.
fn settle_specialty(case: &mut Case, hint: Option<&str>, notes: &mut Vec<Note>) {
    if !case.specialty.is_empty() {
        return;
    }
    match hint {
        Some(specialty) => case.specialty = specialty.to_string(),
        None => {
            case.specialty = "emergency_medicine".to_string();
            notes.push(note(
                NoteKind::Repaired,
                "specialty",
                "the source states none and no ICD-10-CM code matched; filed under emergency_medicine",
            ));
        }
    }
}

/// What keeps the diagnosis's names out of what the doctor sees. A diagnosis that is itself a
/// symptom ("Chest pain, unspecified", ICD-10-CM chapter R) is the complaint: the report says so,
/// since withholding it leaves the case little to show.
fn guard_for(case: &Case, diagnosis: &str, notes: &mut Vec<Note>) -> Guard {
    if case.diagnosis.icd10.starts_with('R') {
        notes.push(note(
            NoteKind::Unmapped,
            "diagnosis",
            format!(
                "`{diagnosis}` ({}) is a symptom, not a disease (ICD-10-CM chapter R): the complaint names it, so the complaint is withheld and the case tests little",
                case.diagnosis.icd10
            ),
        ));
    }
    Guard::strict([diagnosis], &case.diagnosis.icd10).with_forms_of(case)
}

/// Sets age and sex from a demographics text, or else from the rest of the story (`story`: "A
/// 60-year-old presented… His wife…"), noting what neither states and an age stated roughly.
fn set_demographics(
    presentation: &mut Presentation,
    text: &str,
    story: &str,
    field: &str,
    notes: &mut Vec<Note>,
) {
    let mut found = demographics(text);
    if found.age_years.is_none() || found.sex.is_none() {
        let told = demographics(story);
        if found.age_years.is_none() {
            found.age_years = told.age_years;
            found.age_months = told.age_months;
            found.approximate = told.approximate;
        }
        found.sex = found.sex.or(told.sex);
    }
    match found.age_years {
        Some(years) => {
            presentation.age_years = years;
            presentation.age_months = found.age_months.filter(|_| years < 2);
            if let Some(phrase) = &found.approximate {
                notes.push(note(
                    NoteKind::Repaired,
                    field,
                    format!(
                        "age given as `{phrase}`; recorded as {years}, the middle of that span"
                    ),
                ));
            }
        }
        None => notes.push(note(
            NoteKind::Repaired,
            field,
            format!("no age in `{text}`; age recorded as 0"),
        )),
    }
    match found.sex {
        Some(sex) => presentation.sex = sex,
        None => {
            presentation.sex = Sex::Female;
            notes.push(note(
                NoteKind::Repaired,
                field,
                format!("no sex in `{text}`; recorded as female"),
            ));
        }
    }
}

/// Adds a history item unless it names the diagnosis (then the naming clauses are withheld and
/// noted).
fn push_history(
    case: &mut Case,
    guard: &Guard,
    topic: HistoryTopic,
    text: &str,
    field: &str,
    notes: &mut Vec<Note>,
) {
    let (kept, withheld) = guard.withhold(text);
    for clause in &withheld {
        notes.push(note(
            NoteKind::Repaired,
            field,
            format!("withheld `{clause}`: it names the diagnosis before the episode ends"),
        ));
    }
    if kept.chars().any(char::is_alphanumeric) {
        case.history.push(HistoryItem {
            id: String::new(),
            topic,
            keywords: keywords(&kept),
            negative: is_negative(&kept),
            text: kept,
        });
    }
}

/// The topic a patient section's key files its items under, if the key says.
fn section_topic(key: &str) -> Option<HistoryTopic> {
    let key = dxsim_gatekeeper::text::normalize(&label(key));
    let has = |words: &[&str]| words.iter().any(|word| key.contains(word));
    Some(if has(&["review of systems", "ros"]) {
        HistoryTopic::ReviewOfSystems
    } else if has(&["allerg"]) {
        HistoryTopic::Allergies
    } else if has(&["family"]) {
        HistoryTopic::Family
    } else if has(&[
        "social",
        "substance",
        "alcohol",
        "smok",
        "tobacco",
        "recreational",
        "illicit",
        "habit",
        "lifestyle",
        "occupation",
        "drug use",
    ]) {
        HistoryTopic::Social
    } else if has(&["medication", "medicine", "drug", "meds", "prescription"]) {
        HistoryTopic::Medications
    } else if has(&["sexual"]) {
        HistoryTopic::Sexual
    } else if has(&["obstetric", "gyn", "menstru", "pregnan"]) {
        HistoryTopic::Obstetric
    } else if has(&["travel"]) {
        HistoryTopic::Travel
    } else if has(&["exposure", "contact"]) {
        HistoryTopic::Exposures
    } else if has(&[
        "past",
        "medical history",
        "surgical",
        "pmh",
        "immuni",
        "vaccin",
    ]) {
        HistoryTopic::PastHistory
    } else {
        return None;
    })
}

/// The pieces of a patient section: list items, object entries ("Label: value") or sentences.
fn section_items(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(flatten)
            .filter(|t| !t.is_empty())
            .collect(),
        Value::Object(map) => map
            .iter()
            .filter(|(_, value)| !is_empty(value))
            .map(|(key, value)| format!("{}: {}", label(key), flatten(value)))
            .collect(),
        other => sentences(&flatten(other)),
    }
}

fn osce(
    record: &Map<String, Value>,
    file: &str,
    line: u64,
    id: &str,
    options: &ImportOptions,
    notes: &mut Vec<Note>,
) -> Option<Case> {
    let Some(exam) = record.get("OSCE_Examination").and_then(Value::as_object) else {
        notes.push(failed("OSCE_Examination", "must be an object".to_string()));
        return None;
    };
    for key in record.keys().filter(|key| *key != "OSCE_Examination") {
        notes.push(note(
            NoteKind::Unmapped,
            key.as_str(),
            "outside `OSCE_Examination`; not part of the form, left out",
        ));
    }
    let diagnosis = exam
        .get("Correct_Diagnosis")
        .map(flatten)
        .unwrap_or_default();
    if diagnosis.is_empty() {
        notes.push(failed(
            "OSCE_Examination.Correct_Diagnosis",
            "is missing or empty; a case needs its diagnosis".to_string(),
        ));
        return None;
    }
    if exam
        .get("Correct_Diagnosis")
        .is_some_and(|value| !value.is_string())
    {
        notes.push(note(
            NoteKind::Repaired,
            "OSCE_Examination.Correct_Diagnosis",
            format!("is not a string; read as `{diagnosis}`"),
        ));
    }
    let skeleton = Skeleton {
        file,
        line,
        id,
        format: ImportFormat::AgentclinicOsce,
        options,
    };
    let mut case = skeleton.case(&diagnosis, notes);
    settle_specialty(&mut case, None, notes);
    let guard = guard_for(&case, &diagnosis, notes);
    let empty = Map::new();
    let patient = exam
        .get("Patient_Actor")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let demographics_text = patient.get("Demographics").map(flatten).unwrap_or_default();
    set_demographics(
        &mut case.presentation,
        &demographics_text,
        "",
        "OSCE_Examination.Patient_Actor.Demographics",
        notes,
    );
    // dxsim records no race; the patient can still tell it, as the source states it.
    if let Some(race) = race(&demographics_text) {
        push_history(
            &mut case,
            &guard,
            HistoryTopic::Social,
            &format!("Race: {race}"),
            "OSCE_Examination.Patient_Actor.Demographics",
            notes,
        );
    }
    let mut primary = String::new();
    for (key, value) in patient {
        let field = format!("OSCE_Examination.Patient_Actor.{key}");
        if key == "Demographics" || is_empty(value) {
            continue;
        }
        if key == "Symptoms" {
            if let Some(symptoms) = value.as_object() {
                for (inner, value) in symptoms {
                    let field = format!("{field}.{inner}");
                    if inner == "Primary_Symptom" {
                        primary = flatten(value);
                        push_history(
                            &mut case,
                            &guard,
                            HistoryTopic::Onset,
                            &primary,
                            &field,
                            notes,
                        );
                        continue;
                    }
                    let pieces = match value {
                        Value::String(text) => text
                            .split([',', ';'])
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(str::to_string)
                            .collect(),
                        other => section_items(other),
                    };
                    for piece in pieces {
                        let topic = section_topic(inner)
                            .filter(|_| inner != "Secondary_Symptoms")
                            .or_else(|| topic_for(&piece, SYMPTOM_TOPICS))
                            .unwrap_or(HistoryTopic::AssociatedSymptoms);
                        push_history(&mut case, &guard, topic, &piece, &field, notes);
                    }
                }
            } else {
                for piece in section_items(value) {
                    let topic = topic_for(&piece, SYMPTOM_TOPICS).unwrap_or(HistoryTopic::Onset);
                    push_history(&mut case, &guard, topic, &piece, &field, notes);
                }
            }
            continue;
        }
        let by_key = section_topic(key);
        let is_story = by_key.is_none()
            && ["history", "present", "hpi", "complaint", "presenting"]
                .iter()
                .any(|word| key.to_lowercase().contains(word));
        if by_key.is_none() && !is_story {
            notes.push(note(
                NoteKind::Unmapped,
                field.as_str(),
                "no history topic for this section; its items are filed by their own words",
            ));
        }
        for piece in section_items(value) {
            let topic = by_key
                .or_else(|| topic_for(&piece, SYMPTOM_TOPICS))
                .unwrap_or(if is_story {
                    HistoryTopic::Onset
                } else {
                    HistoryTopic::AssociatedSymptoms
                });
            push_history(&mut case, &guard, topic, &piece, &field, notes);
        }
    }
    let objective = exam
        .get("Objective_for_Doctor")
        .map(flatten)
        .unwrap_or_default();
    let complaint = if primary.is_empty() {
        objective
    } else {
        primary
    };
    let stated = demographics(&demographics_text);
    let mut summary = match (stated.age_years, stated.sex) {
        (Some(_), Some(_)) => person(
            case.presentation.age_years,
            case.presentation.age_months,
            case.presentation.sex,
        ),
        _ if demographics_text.is_empty() => "A patient".to_string(),
        _ => demographics_text.trim_end_matches('.').to_string(),
    };
    if complaint.is_empty() {
        summary.push('.');
    } else if guard.names(&complaint) {
        // The complaint alone is withheld: the patient is still introduced.
        notes.push(note(
            NoteKind::Repaired,
            "presentation.summary",
            format!(
                "withheld the complaint `{complaint}` from the presentation: it names the diagnosis"
            ),
        ));
        summary.push_str(" presents for assessment.");
    } else {
        summary.push_str(&format!(
            " presents with: {}.",
            complaint.trim_end_matches('.')
        ));
    }
    set_summary(&mut case, &guard, &summary, "presentation.summary", notes);
    if let Some(findings) = exam.get("Physical_Examination_Findings") {
        map_exam(&mut case, &guard, findings, notes);
    }
    if let Some(results) = exam.get("Test_Results") {
        let mut tests = Tests::default();
        tests.walk(results, "OSCE_Examination.Test_Results", None, notes);
        tests.finish(&mut case, &guard, notes);
    }
    for key in exam.keys() {
        let known = [
            "Objective_for_Doctor",
            "Patient_Actor",
            "Physical_Examination_Findings",
            "Test_Results",
            "Correct_Diagnosis",
        ];
        if !known.contains(&key.as_str()) && !is_empty(&exam[key]) {
            notes.push(note(
                NoteKind::Unmapped,
                format!("OSCE_Examination.{key}"),
                "not part of the OSCE form; left out",
            ));
        }
    }
    Some(case)
}

fn set_summary(case: &mut Case, guard: &Guard, summary: &str, field: &str, notes: &mut Vec<Note>) {
    let (kept, withheld) = guard.withhold(summary);
    for clause in &withheld {
        notes.push(note(
            NoteKind::Repaired,
            field,
            format!("withheld `{clause}` from the presentation: it names the diagnosis"),
        ));
    }
    case.presentation.summary = if kept.chars().any(char::is_alphanumeric) {
        kept
    } else {
        "A patient presents for assessment.".to_string()
    };
    case.presentation.setting = "not stated in the source".to_string();
}

/// Adds exam text to a system, merging with what it already has.
fn add_finding(
    case: &mut Case,
    guard: &Guard,
    system: &str,
    text: &str,
    field: &str,
    notes: &mut Vec<Note>,
) {
    let (text, dropped) = without_unresulted(text);
    for clause in &dropped {
        notes.push(note(
            NoteKind::Repaired,
            field,
            format!("left out `{clause}`: not a finding (pending, or what an examination would typically show)"),
        ));
    }
    let (kept, withheld) = guard.withhold(&text);
    for clause in &withheld {
        notes.push(note(
            NoteKind::Repaired,
            field,
            format!("withheld `{clause}`: it names the diagnosis before the episode ends"),
        ));
    }
    if !kept.chars().any(char::is_alphanumeric) {
        return;
    }
    match case
        .exam
        .iter_mut()
        .find(|finding| finding.system == system)
    {
        Some(finding) => {
            finding.text = format!("{}; {kept}", finding.text.trim_end_matches('.'));
            finding.abnormal = looks_abnormal(&finding.text);
        }
        None => case.exam.push(ExamFinding {
            system: system.to_string(),
            abnormal: looks_abnormal(&kept),
            text: kept,
        }),
    }
}

/// Pairs of `(label, value)` from a vital-signs value: an object's entries, or a string's
/// comma-separated parts split before their first digit ("BP 120/80").
fn vital_pairs(value: &Value) -> Vec<(String, String)> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(_, value)| !is_empty(value))
            .map(|(key, value)| (label(key), flatten(value)))
            .collect(),
        other => flatten(other)
            .split([',', ';'])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                // The value starts at the first word that starts with a digit ("SpO2 91%").
                let at = part
                    .char_indices()
                    .find(|&(at, c)| {
                        c.is_ascii_digit()
                            && part[..at]
                                .chars()
                                .next_back()
                                .is_none_or(|before| before == ' ' || before == ':')
                    })
                    .map_or(part.len(), |(at, _)| at);
                (
                    part[..at].trim().trim_end_matches(':').to_string(),
                    part[at..].trim().to_string(),
                )
            })
            .collect(),
    }
}

fn map_exam(case: &mut Case, guard: &Guard, findings: &Value, notes: &mut Vec<Note>) {
    let mapper = Mapper::get();
    let base = "OSCE_Examination.Physical_Examination_Findings";
    let Some(map) = findings.as_object() else {
        for sentence in sentences(&flatten(findings)) {
            let system = mapper.system_mentioned(&sentence).unwrap_or("general");
            add_finding(case, guard, system, &sentence, base, notes);
        }
        return;
    };
    for (key, value) in map {
        let field = format!("{base}.{key}");
        if is_empty(value) {
            continue;
        }
        if label(key).to_lowercase().contains("vital") {
            let (read, unread) = vitals(&vital_pairs(value));
            merge_vitals(&mut case.vitals, &read);
            for (name, text) in unread {
                notes.push(note(
                    NoteKind::Unmapped,
                    field.as_str(),
                    format!("`{name}: {text}` is not a vital sign dxsim records; kept under the general examination"),
                ));
                add_finding(
                    case,
                    guard,
                    "general",
                    &format!("{name}: {text}"),
                    &field,
                    notes,
                );
            }
            continue;
        }
        if let Some(system) = mapper.exam_system(key).filter(|system| *system != "vitals") {
            add_finding(case, guard, system, &flatten(value), &field, notes);
            continue;
        }
        // Not a system by its key: an object may hold systems one level down.
        let children: Vec<(String, &Value)> = match value {
            Value::Object(inner) => inner.iter().map(|(k, v)| (k.clone(), v)).collect(),
            _ => vec![(key.clone(), value)],
        };
        for (child, value) in children {
            let text = flatten(value);
            if text.is_empty() {
                continue;
            }
            let named = mapper
                .exam_system(&child)
                .filter(|system| *system != "vitals");
            // A key that is no system's name ("Heart_Sounds", "Dix_Hallpike") keeps its label.
            let found = named.map(|system| (system, text.clone())).or_else(|| {
                mapper
                    .system_mentioned(&label(&child))
                    .or_else(|| mapper.system_mentioned(&text))
                    .map(|system| (system, format!("{}: {text}", label(&child))))
            });
            let (system, shown) = match found {
                Some(found) => found,
                None => {
                    notes.push(note(
                        NoteKind::Unmapped,
                        field.as_str(),
                        format!(
                            "`{}` is no exam system; kept under the general examination",
                            label(&child)
                        ),
                    ));
                    ("general", format!("{}: {text}", label(&child)))
                }
            };
            add_finding(case, guard, system, &shown, &field, notes);
        }
    }
}

/// Keeps the vital signs a later entry adds without erasing earlier ones.
fn merge_vitals(into: &mut Vitals, read: &Vitals) {
    if read.temperature_c != 0.0 {
        into.temperature_c = read.temperature_c;
    }
    if read.heart_rate != 0 {
        into.heart_rate = read.heart_rate;
    }
    if read.systolic_bp != 0 {
        into.systolic_bp = read.systolic_bp;
        into.diastolic_bp = read.diastolic_bp;
    }
    if read.respiratory_rate != 0 {
        into.respiratory_rate = read.respiratory_rate;
    }
    if read.spo2 != 0 {
        into.spo2 = read.spo2;
        into.oxygen = read.oxygen.clone();
    }
    if read.weight_kg.is_some() {
        into.weight_kg = read.weight_kg;
    }
    if into.oxygen.is_empty() {
        into.oxygen = "room air".to_string();
    }
}

/// Whether an object's keys name at least one catalogue test or analyte (read under `group`).
fn holds_known_tests(value: &Value, group: &str) -> bool {
    let mapper = Mapper::get();
    value.as_object().is_some_and(|map| {
        map.iter().any(|(key, child)| {
            !matches!(
                mapper.test_key(key, child.is_object(), Some(group)),
                TestKey::Unknown
            )
        })
    })
}

/// One test being assembled from the source keys that map to it.
#[derive(Debug)]
struct TestEntry {
    id: String,
    /// Case-specific name and aliases (empty for a catalogue test).
    name: Option<String>,
    aliases: Vec<String>,
    parts: Vec<String>,
    /// A part's value that measures one catalogue analyte, for reading its flag.
    measured: Vec<Option<(usize, String)>>,
    keys: Vec<String>,
}

/// The tests of one record, in the order their keys appear.
#[derive(Debug, Default)]
struct Tests {
    entries: Vec<TestEntry>,
    /// Vital signs and body measurements listed among the results (name, value, field).
    measurements: Vec<(String, String, String)>,
}

impl Tests {
    fn entry(&mut self, id: &str) -> &mut TestEntry {
        let at = match self.entries.iter().position(|entry| entry.id == id) {
            Some(at) => at,
            None => {
                self.entries.push(TestEntry {
                    id: id.to_string(),
                    name: None,
                    aliases: Vec::new(),
                    parts: Vec::new(),
                    measured: Vec::new(),
                    keys: Vec::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[at]
    }

    /// Maps one test key (and, for a group, its children).
    fn walk(&mut self, value: &Value, field: &str, group: Option<&str>, notes: &mut Vec<Note>) {
        let Some(map) = value.as_object() else {
            if !is_empty(value) {
                let name = group.map_or_else(|| "Test results".to_string(), label);
                self.case_specific(&name, None, &flatten(value), field);
            }
            return;
        };
        let mapper = Mapper::get();
        let catalogue = mapper.catalogue();
        let resolved: Vec<(&String, &Value, TestKey)> = map
            .iter()
            .filter(|(_, value)| !is_empty(value))
            .map(|(key, value)| {
                let resolution = match mapper.test_key(key, value.is_object(), group) {
                    // A group the catalogue has no name for ("Blood Chemistry") is still walked when
                    // it holds what the catalogue measures, so those values reach their tests.
                    TestKey::Unknown if holds_known_tests(value, key) => TestKey::Group,
                    other => other,
                };
                (key, value, resolution)
            })
            .collect();
        // Analytes listed side by side go to the one test that reports most of them ("WBC" and
        // "Neutrophils" together are a CBC with differential, not two tests).
        let analytes: Vec<usize> = resolved
            .iter()
            .filter_map(|(_, _, key)| match key {
                TestKey::Analyte { analyte } => Some(*analyte),
                _ => None,
            })
            .collect();
        let coverage = |test: usize| {
            analytes
                .iter()
                .filter(|other| catalogue.tests_reporting(**other).contains(&test))
                .count()
        };
        let panel_for = |analyte: usize| -> usize {
            let reporting = catalogue.tests_reporting(analyte);
            let best = reporting
                .iter()
                .map(|&test| coverage(test))
                .max()
                .unwrap_or(0);
            reporting
                .iter()
                .copied()
                .find(|&test| coverage(test) == best)
                .unwrap_or(reporting[0])
        };
        for (key, value, resolution) in resolved {
            let field = format!("{field}.{key}");
            let mut text = flatten(value);
            if !value.is_object() && is_body_measurement(key) {
                self.measurements.push((label(key), text, field));
                continue;
            }
            if !value.is_object() {
                let (kept, dropped) = without_unresulted(&text);
                for clause in &dropped {
                    notes.push(note(
                        NoteKind::Repaired,
                        field.as_str(),
                        format!("left out `{clause}`: not a result (pending, or what the test would typically show)"),
                    ));
                }
                if !kept.chars().any(char::is_alphanumeric) {
                    continue;
                }
                text = kept;
            }
            match resolution {
                TestKey::Group => self.walk(value, &field, Some(key), notes),
                TestKey::Test { test, fuzzy } => {
                    let definition = &catalogue.tests()[test];
                    if let Some(score) = fuzzy {
                        notes.push(note(
                            NoteKind::Repaired,
                            field.as_str(),
                            format!(
                                "matched catalogue test `{}` ({}) by near spelling, similarity {score:.2}",
                                definition.id, definition.name
                            ),
                        ));
                    }
                    let entry = self.entry(&definition.id);
                    // A bare value ("182") keeps its key, so the report says what it measures.
                    let bare = !value.is_string() || text.starts_with(|c: char| c.is_ascii_digit());
                    // A test of one analyte (TSH, CRP) measures it.
                    let single = match &definition.reporting {
                        Reporting::Analytes(list) if list.len() == 1 => Some(list[0]),
                        _ => None,
                    };
                    entry
                        .measured
                        .push(single.map(|analyte| (analyte, text.clone())));
                    entry.parts.push(if bare {
                        format!("{}: {text}", label(key))
                    } else {
                        text
                    });
                    entry.keys.push(field);
                }
                TestKey::Analyte { analyte } => {
                    let definition = &catalogue.tests()[panel_for(analyte)];
                    let entry = self.entry(&definition.id);
                    entry.parts.push(format!("{}: {text}", label(key)));
                    entry.measured.push(Some((analyte, text)));
                    entry.keys.push(field);
                }
                TestKey::Unknown => {
                    self.case_specific(&label(key), group.map(label), &text, &field);
                    notes.push(note(
                        NoteKind::Unmapped,
                        field.as_str(),
                        format!(
                            "`{}` is not in the catalogue; kept as a case-specific test ordered by that name",
                            label(key)
                        ),
                    ));
                }
            }
        }
    }

    /// Vital signs listed as results fill what the examination's vital signs leave unset; other
    /// body measurements (BMI, height) join the general examination.
    fn record_measurements(&self, case: &mut Case, guard: &Guard, notes: &mut Vec<Note>) {
        for (name, text, field) in &self.measurements {
            let (read, unread) = vitals(&[(name.clone(), text.clone())]);
            if unread.is_empty() {
                let mut merged = read;
                merge_vitals(&mut merged, &case.vitals);
                case.vitals = merged;
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    "a vital sign among the test results; recorded with the vital signs",
                ));
            } else {
                add_finding(
                    case,
                    guard,
                    "general",
                    &format!("{name}: {text}"),
                    field,
                    notes,
                );
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    "a body measurement among the test results; recorded under the general examination",
                ));
            }
        }
    }

    fn case_specific(&mut self, name: &str, group: Option<String>, text: &str, field: &str) {
        let mut stem = slug(name, '_');
        if stem.is_empty() {
            // A name with no ASCII letters keeps a numbered id; its name is kept as written.
            stem = format!("test_{}", self.entries.len() + 1);
        }
        let id = format!("{CASE_TEST_PREFIX}{stem}");
        let entry = self.entry(&id);
        if entry.name.is_none() {
            entry.name = Some(name.replace([',', ';'], " "));
        }
        if let Some(group) = group {
            let alias = format!("{group} {name}");
            if !entry.aliases.contains(&alias) {
                entry.aliases.push(alias);
            }
        }
        entry.parts.push(text.to_string());
        entry.measured.push(None);
        entry.keys.push(field.to_string());
    }

    fn finish(self, case: &mut Case, guard: &Guard, notes: &mut Vec<Note>) {
        self.record_measurements(case, guard, notes);
        let mapper = Mapper::get();
        for entry in self.entries {
            let report = entry.parts.join("; ");
            let field = entry.keys.first().cloned().unwrap_or_default();
            if entry.keys.len() > 1 {
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    format!(
                        "{} keys map to `{}`; their results are reported together: {}",
                        entry.keys.len(),
                        entry.id,
                        entry.keys.join(", ")
                    ),
                ));
            }
            let confirmatory = guard.names_in_part(&report);
            if confirmatory {
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    format!("`{}` is marked confirmatory: its report names the diagnosis, so only an order for it reveals the text", entry.id),
                ));
            }
            let price_usd = entry.name.as_ref().map(|name| {
                let (price, category) = mapper.case_test_price(name);
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    format!(
                        "case-specific test `{name}` priced at the catalogue's median {} price, {price}",
                        category.as_str()
                    ),
                ));
                price.dollars()
            });
            let panel = mapper
                .catalogue()
                .test(&entry.id)
                .is_some_and(|test| matches!(test.reporting, Reporting::Analytes(_)));
            if panel {
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    format!(
                        "`{}` is kept as the source's text rather than catalogue values",
                        entry.id
                    ),
                ));
            }
            // Values whose unit matches the catalogue's are flagged against its range; the rest
            // are read by their words.
            let sex = case.presentation.sex;
            let flags: Vec<Option<bool>> = entry
                .measured
                .iter()
                .map(|measured| {
                    measured.as_ref().and_then(|(analyte, text)| {
                        measured_abnormal(mapper.catalogue(), *analyte, text, sex)
                    })
                })
                .collect();
            let unread: Vec<&str> = entry
                .parts
                .iter()
                .zip(&flags)
                .filter(|(part, flag)| flag.is_none() && !is_plain_measurement(part))
                .map(|(part, _)| part.as_str())
                .collect();
            let abnormal = flags.contains(&Some(true)) || looks_abnormal(&unread.join("; "));
            case.tests.push(TestResult {
                id: entry.id,
                name: entry.name,
                aliases: entry.aliases,
                price_usd,
                results: Vec::new(),
                abnormal,
                report: Some(report),
                confirmatory,
                confirmed_by: Vec::new(),
            });
        }
    }
}

/// Whether an NEJM question asks for a diagnosis: its last sentence (the field may hold the whole
/// vignette) says so, or ("What is the most likely cause of this rash?") its answer names a
/// condition with an ICD-10-CM code outside the external causes (V01–Y99: "Assault"), where
/// "Which animal…?" answered "Cat" or "What activity led to this condition?" answered "Gardening"
/// names none.
fn asks_for_a_diagnosis(question: &str, answer: &str) -> bool {
    let asked = sentences(question).pop().unwrap_or_default().to_lowercase();
    if asked.contains("diagnos") {
        return true;
    }
    Mapper::get()
        .icd10_for(answer)
        .is_some_and(|code| !code.starts_with(['V', 'W', 'X', 'Y']))
}

fn nejm(
    record: &Map<String, Value>,
    file: &str,
    line: u64,
    id: &str,
    options: &ImportOptions,
    notes: &mut Vec<Note>,
) -> Option<Case> {
    let Some(answers) = record.get("answers").and_then(Value::as_array) else {
        notes.push(failed("answers", "is missing or not a list".to_string()));
        return None;
    };
    let mut option_texts: Vec<String> = Vec::new();
    let mut correct: Vec<String> = Vec::new();
    for (index, answer) in answers.iter().enumerate() {
        let field = format!("answers[{index}]");
        let text = answer.get("text").map(flatten).unwrap_or_default();
        if text.is_empty() {
            notes.push(note(
                NoteKind::Repaired,
                field,
                "has no text; left out of the options",
            ));
            continue;
        }
        let is_correct = match answer.get("correct") {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(flag)) if flag.eq_ignore_ascii_case("true") => {
                notes.push(note(
                    NoteKind::Repaired,
                    field.as_str(),
                    "`correct` is the string \"true\"; read as true",
                ));
                true
            }
            Some(Value::Number(number)) => number.as_i64() == Some(1),
            _ => false,
        };
        if option_texts
            .iter()
            .any(|known| known.eq_ignore_ascii_case(&text))
        {
            notes.push(note(
                NoteKind::Repaired,
                field,
                format!("`{text}` is offered twice; kept once"),
            ));
            continue;
        }
        if is_correct {
            correct.push(text.clone());
        }
        option_texts.push(text);
    }
    let diagnosis = match correct.as_slice() {
        [one] => one.clone(),
        [] => {
            notes.push(failed("answers", "no answer is marked correct".to_string()));
            return None;
        }
        many => {
            notes.push(failed(
                "answers",
                format!(
                    "{} answers are marked correct ({}); exactly one must be",
                    many.len(),
                    many.join(", ")
                ),
            ));
            return None;
        }
    };
    let question = record.get("question").map(flatten).unwrap_or_default();
    if !options.keep_non_diagnostic && !asks_for_a_diagnosis(&question, &diagnosis) {
        notes.push(note(
            NoteKind::Skipped,
            "question",
            format!(
                "`{question}` asks for no diagnosis: its answer `{diagnosis}` names no condition; skipped (--keep-non-diagnostic imports it)"
            ),
        ));
        return None;
    }
    if option_texts.len() != 5 {
        notes.push(note(
            NoteKind::Repaired,
            "answers",
            format!(
                "has {} options where the form has five; kept as given",
                option_texts.len()
            ),
        ));
    }
    let skeleton = Skeleton {
        file,
        line,
        id,
        format: ImportFormat::AgentclinicNejm,
        options,
    };
    let mut case = skeleton.case(&diagnosis, notes);
    let types: Vec<String> = match record.get("type") {
        Some(Value::Array(items)) => items.iter().map(flatten).collect(),
        Some(other) if !is_empty(other) => vec![flatten(other)],
        _ => Vec::new(),
    };
    let typed_specialty = types.iter().find_map(|kind| {
        let wanted = slug(kind, '_');
        SPECIALTIES
            .iter()
            .copied()
            .find(|specialty| *specialty == wanted)
    });
    for kind in &types {
        if typed_specialty != Some(slug(kind, '_').as_str()) {
            notes.push(note(
                NoteKind::Unmapped,
                "type",
                format!("`{kind}` is not a dxsim specialty; kept only in this report"),
            ));
        }
    }
    // The specialty the source states wins over the one the code suggests.
    if let Some(specialty) = typed_specialty {
        case.specialty = specialty.to_string();
    }
    settle_specialty(&mut case, None, notes);
    let guard = guard_for(&case, &diagnosis, notes);
    let raw_story = match record.get("patient_info") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => flatten(other),
        None => String::new(),
    };
    let told = patient_story(&raw_story);
    if told.rewritten || told.directions > 0 {
        notes.push(note(
            NoteKind::Repaired,
            "patient_info",
            format!(
                "role-play text read in the patient's voice: lead-in and markdown dropped, \"you\" said as \"I\", {} direction(s) to the actor left out",
                told.directions
            ),
        ));
    }
    let story = flatten(&Value::String(told.text));
    let story_sentences = sentences(&story);
    if story_sentences.is_empty() {
        notes.push(failed(
            "patient_info",
            "is missing or empty; the patient would have nothing to tell".to_string(),
        ));
        return None;
    }
    // The first sentence that states an age introduces the patient.
    let introduction = story_sentences
        .iter()
        .find(|sentence| demographics(sentence).age_years.is_some())
        .unwrap_or(&story_sentences[0]);
    set_demographics(
        &mut case.presentation,
        introduction,
        &story,
        "patient_info",
        notes,
    );
    set_summary(
        &mut case,
        &guard,
        &story_sentences[0],
        "patient_info",
        notes,
    );
    for sentence in &story_sentences {
        let topic = topic_for(
            sentence,
            &[
                HistoryTopic::PastHistory,
                HistoryTopic::Medications,
                HistoryTopic::Family,
                HistoryTopic::Social,
                HistoryTopic::Travel,
                HistoryTopic::Exposures,
            ],
        )
        .or_else(|| topic_for(sentence, SYMPTOM_TOPICS))
        .unwrap_or(HistoryTopic::Onset);
        push_history(&mut case, &guard, topic, sentence, "patient_info", notes);
    }
    let mapper = Mapper::get();
    let exam_text = record
        .get("physical_exams")
        .map(flatten)
        .unwrap_or_default();
    for sentence in sentences(&exam_text) {
        let system = mapper.system_mentioned(&sentence).unwrap_or("general");
        add_finding(
            &mut case,
            &guard,
            system,
            &sentence,
            "physical_exams",
            notes,
        );
    }
    if let Some(import) = case.import.as_mut() {
        import.options = option_texts;
        import.no_tests = true;
        import.question = record
            .get("question")
            .map(flatten)
            .filter(|question| !question.is_empty());
        import.image_url = record
            .get("image_url")
            .map(flatten)
            .filter(|url| !url.is_empty());
    }
    let known = [
        "image_url",
        "question",
        "patient_info",
        "physical_exams",
        "answers",
        "type",
    ];
    for key in record.keys().filter(|key| !known.contains(&key.as_str())) {
        if !is_empty(&record[key]) {
            notes.push(note(
                NoteKind::Unmapped,
                key.as_str(),
                "not part of the NEJM form; left out",
            ));
        }
    }
    Some(case)
}

//! Case validation: every problem in a case file, each with the file, the field path and what is wrong.
//!
//! [`parse_case`] turns TOML text into a [`Case`] (a syntax or type error is one problem); [`validate_case`]
//! then checks everything the schema cannot: cross-references into the catalogue and the ICD-10-CM table,
//! flags against reference ranges, key findings that point at nothing, text that names the diagnosis
//! before the episode ends. [`validate_library`] adds the checks across files (duplicate ids).

use std::collections::HashSet;
use std::fmt;

use crate::case::{
    AnalyteResult, CASE_TEST_PREFIX, Case, DiagnosisNames, FindingTarget, HARD_MIN_ORDER_ROUNDS,
    KeyFinding, Naming, REVIEW_CHECKLIST, Review, SPECIALTIES, TestResult, WorkupStep,
};
use crate::catalogue::{AnalyteKind, Catalogue, Reporting};
use crate::disclosure::computed_flag;
use crate::icd10::{Icd10, is_well_formed};
use crate::text::{contains_phrase, normalize};

/// What kind of problem a case file has; one variant per check, so tests and tools can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid TOML or a value has the wrong type or an unknown key.
    Parse,
    /// The id is malformed or does not match the file name.
    BadId,
    /// Two files carry the same id.
    DuplicateId,
    /// A required field is missing or empty.
    Missing,
    /// Fewer items than the format requires (differential, history, teaching points…).
    TooFew,
    /// The specialty is not one of the known ones.
    UnknownSpecialty,
    /// A value is outside what is physiologically or formally possible.
    Implausible,
    /// An exam system id that the catalogue does not know.
    UnknownExamSystem,
    /// A test id that the catalogue does not know.
    UnknownTest,
    /// An analyte that the test does not report.
    UnknownAnalyte,
    /// The same test, system or analyte listed twice.
    Duplicate,
    /// A result of the wrong shape: a value for a qualitative analyte, a report for a panel…
    WrongResultShape,
    /// A unit that differs from the catalogue's.
    UnitMismatch,
    /// A flag that contradicts the value and its reference range.
    FlagMismatch,
    /// An ICD-10-CM code that is not shaped like one.
    MalformedIcd10,
    /// A well-formed ICD-10-CM code that does not exist.
    UnknownIcd10,
    /// A differential item that is the diagnosis itself.
    DifferentialIsDiagnosis,
    /// A key finding whose source no history, exam or test item provides.
    UnreachableKeyFinding,
    /// A key finding the reference work-up leaves unrevealed (checked by the `dxsim` crate, which
    /// plays the work-up against its patient and this gatekeeper).
    UnrevealedKeyFinding,
    /// A history item id that is malformed or used twice.
    BadHistoryId,
    /// A reference work-up that orders a test the case does not list.
    WorkupTestNotInCase,
    /// Text revealed before the diagnosis names the diagnosis or its code.
    NamesDiagnosis,
    /// The presentation names the case's specialty, which is hidden until the end.
    NamesSpecialty,
    /// Text revealed before the end repeats a teaching point, which belongs to the debrief.
    RevealsTeachingPoint,
    /// An abnormal value listed without the values that must move with it (haemoglobin without
    /// haematocrit), which would be filled with contradicting normal values.
    IncoherentPanel,
    /// A case-specific test without its name, report or price, or a catalogue test carrying a
    /// case-specific test's fields.
    CaseSpecificTest,
    /// An imported case's source record is incomplete, or its multiple-choice options do not hold
    /// the diagnosis exactly once.
    BadImport,
    /// A confirmatory result's door is wrong or undecided: `confirmed_by` names a test outside its
    /// family (or is set on a result that is not confirmatory), or an authored case leaves a test of
    /// the family neither accepted in `confirmed_by` nor listed with its own result.
    ConfirmatoryDoor,
    /// A clinical review without its reviewer, date or every checklist item.
    IncompleteReview,
    /// A case marked `hard` whose reference work-up does not show it: fewer than three rounds of
    /// orders, or a confirmatory result in the first two.
    NotHard,
}

/// One problem found in a case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or other source name) the case came from.
    pub file: String,
    /// Path of the field at fault (`tests[2].results[0].flag`), empty for the whole file.
    pub field: String,
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// What is wrong, naming the value at fault.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

impl std::error::Error for Problem {}

/// Parses one case file's TOML text; `file` names it in the problem.
pub fn parse_case(text: &str, file: &str) -> Result<Case, Problem> {
    let parsed: Result<Case, _> = toml::from_str(text);
    parsed
        .map(|mut case| {
            case.fill_history_ids();
            case
        })
        .map_err(|error: toml::de::Error| {
            let location = error
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
                    format!("line {line}, column {column}")
                })
                .unwrap_or_default();
            Problem {
                file: file.to_string(),
                field: location,
                kind: ProblemKind::Parse,
                message: error.message().trim().to_string(),
            }
        })
}

/// Minimum counts a complete case has.
const MIN_HISTORY: usize = 6;
const MIN_DIFFERENTIAL: usize = 3;
const MIN_KEY_FINDINGS: usize = 2;
const MIN_TEACHING_POINTS: usize = 2;

/// Analytes that move together: when a case lists an abnormal value for one, every other one that the
/// same test reports must be listed too, or it would be filled in with a normal value that contradicts
/// it (a haemoglobin of 7 beside a normal haematocrit).
const COUPLED: &[&[&str]] = &[
    &["hemoglobin", "hematocrit", "rbc"],
    &["wbc", "neutrophils"],
    &["ph", "pco2", "abg_bicarbonate"],
    &["total_bilirubin", "direct_bilirubin"],
    &["iron", "tibc", "transferrin_saturation"],
];

/// Vital-sign fields a key finding may point at.
const VITAL_FIELDS: &[&str] = &[
    "temperature_c",
    "heart_rate",
    "blood_pressure",
    "systolic_bp",
    "diastolic_bp",
    "respiratory_rate",
    "spo2",
];

struct Checker<'a> {
    file: &'a str,
    catalogue: &'a Catalogue,
    icd: &'a Icd10,
    /// The case was imported: completeness minimums are waived (see `cases/README.md`).
    imported: bool,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, field: impl Into<String>, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            field: field.into(),
            kind,
            message: message.into(),
        });
    }

    fn require_text(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.report(field, ProblemKind::Missing, "is missing or empty");
        }
    }

    /// Requires `minimum` items of an authored case; an imported case keeps what its source has.
    fn require_count(&mut self, field: &str, count: usize, minimum: usize) {
        if self.imported {
            return;
        }
        if count < minimum {
            self.report(
                field,
                ProblemKind::TooFew,
                format!("has {count} item(s); a complete case needs at least {minimum}"),
            );
        }
    }

    fn check_icd10(&mut self, field: &str, code: &str) {
        if code.trim().is_empty() {
            self.report(field, ProblemKind::Missing, "is missing or empty");
        } else if !is_well_formed(code) {
            self.report(
                field,
                ProblemKind::MalformedIcd10,
                format!(
                    "`{code}` is not an ICD-10-CM code (expected a form like `I21.4` or `K35.80`)"
                ),
            );
        } else if self.icd.get(code).is_none() {
            self.report(
                field,
                ProblemKind::UnknownIcd10,
                format!("`{code}` is well formed but not in the ICD-10-CM table"),
            );
        }
    }
}

/// Checks one parsed case; `file` names it and, when it is a path, its stem must equal the id. What
/// is revealed before the end is checked against the diagnosis's own names and code; see
/// [`validate_case_with`] to check it against a terminology's forms too.
pub fn validate_case(case: &Case, file: &str, catalogue: &Catalogue, icd: &Icd10) -> Vec<Problem> {
    validate_case_with(case, file, catalogue, icd, &DiagnosisNames::of(case))
}

/// Checks one parsed case as [`validate_case`] does, deciding whether a revealed text or a default
/// bias belief names the diagnosis with `names` (the matcher the episode's guards use).
pub fn validate_case_with(
    case: &Case,
    file: &str,
    catalogue: &Catalogue,
    icd: &Icd10,
    names: &DiagnosisNames,
) -> Vec<Problem> {
    let mut checker = Checker {
        file,
        catalogue,
        icd,
        imported: case.is_imported(),
        problems: Vec::new(),
    };
    check_identity(&mut checker, case);
    check_import(&mut checker, case);
    check_presentation(&mut checker, case);
    check_history(&mut checker, case);
    check_vitals(&mut checker, case);
    check_exam(&mut checker, case);
    for (index, test) in case.tests.iter().enumerate() {
        check_test(&mut checker, case, index, test);
    }
    check_diagnosis(&mut checker, case);
    for (index, finding) in case.key_findings.iter().enumerate() {
        check_key_finding(&mut checker, case, index, finding);
    }
    check_workup(&mut checker, case);
    check_hardness(&mut checker, case);
    check_disclosure(&mut checker, case, names);
    check_beliefs(&mut checker, case, names);
    check_coupled(&mut checker, case);
    checker.problems
}

fn check_import(checker: &mut Checker<'_>, case: &Case) {
    let Some(import) = &case.import else {
        return;
    };
    checker.require_text("import.file", &import.file);
    if import.line == 0 {
        checker.report(
            "import.line",
            ProblemKind::BadImport,
            "is 0; lines count from 1",
        );
    }
    if case.history.is_empty() {
        checker.report(
            "history",
            ProblemKind::TooFew,
            "is empty: even an imported case needs something the patient can tell",
        );
    }
    if !import.options.is_empty() {
        let diagnosis = normalize(&case.diagnosis.name);
        let matching = import
            .options
            .iter()
            .filter(|option| normalize(option) == diagnosis)
            .count();
        if matching != 1 {
            checker.report(
                "import.options",
                ProblemKind::BadImport,
                format!(
                    "the diagnosis `{}` is {matching} of the options; it must be exactly one",
                    case.diagnosis.name
                ),
            );
        }
    }
    for (index, item) in case.differential.iter().enumerate() {
        if let Some(probability) = item.probability.filter(|p| !(0.0..=1.0).contains(p)) {
            checker.report(
                format!("differential[{index}].probability"),
                ProblemKind::Implausible,
                format!("{probability} is not a probability (0–1)"),
            );
        }
    }
}

fn check_coupled(checker: &mut Checker<'_>, case: &Case) {
    let catalogue = checker.catalogue;
    for (index, test) in case.tests.iter().enumerate() {
        let Some(definition) = catalogue.test(&test.id) else {
            continue;
        };
        let reported: Vec<&str> = catalogue
            .test_analytes(definition)
            .map(|a| a.id.as_str())
            .collect();
        for group in COUPLED {
            let abnormal = test.results.iter().find(|result| {
                group.contains(&result.analyte.as_str())
                    && catalogue.analyte(&result.analyte).is_some_and(|analyte| {
                        let range = result
                            .range
                            .or_else(|| analyte.range_for_subject(case.range_subject()));
                        let text = result.text.as_deref().unwrap_or_default();
                        computed_flag(analyte, result.value, text, range).is_abnormal()
                    })
            });
            let Some(abnormal) = abnormal else {
                continue;
            };
            for partner in group.iter().filter(|partner| reported.contains(partner)) {
                if case.analyte(partner).is_none() {
                    checker.report(
                        format!("tests[{index}].results"),
                        ProblemKind::IncoherentPanel,
                        format!(
                            "`{}` is abnormal but `{partner}` is not listed; `{}` would report a normal {partner} that contradicts it",
                            abnormal.analyte, test.id
                        ),
                    );
                }
            }
        }
    }
}

/// Checks across a whole library: ids unique. Each entry is `(file, case)`.
pub fn validate_library<'a>(cases: impl IntoIterator<Item = (&'a str, &'a Case)>) -> Vec<Problem> {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for (file, case) in cases {
        if let Some(first) = seen.insert(&case.id, file) {
            problems.push(Problem {
                file: file.to_string(),
                field: "id".to_string(),
                kind: ProblemKind::DuplicateId,
                message: format!("id `{}` is already used by {first}", case.id),
            });
        }
    }
    problems
}

fn is_case_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn check_identity(checker: &mut Checker<'_>, case: &Case) {
    if case.id.is_empty() {
        checker.report("id", ProblemKind::Missing, "is missing or empty");
    } else if !is_case_id(&case.id) {
        checker.report(
            "id",
            ProblemKind::BadId,
            format!(
                "`{}` must be lowercase letters and digits joined by hyphens",
                case.id
            ),
        );
    } else if let Some(stem) = std::path::Path::new(checker.file)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .filter(|_| checker.file.ends_with(".toml"))
    {
        if stem != case.id {
            checker.report(
                "id",
                ProblemKind::BadId,
                format!("`{}` does not match the file name `{stem}.toml`", case.id),
            );
        }
    }
    checker.require_text("title", &case.title);
    if case.specialty.is_empty() {
        checker.report("specialty", ProblemKind::Missing, "is missing or empty");
    } else if !SPECIALTIES.contains(&case.specialty.as_str()) {
        checker.report(
            "specialty",
            ProblemKind::UnknownSpecialty,
            format!(
                "`{}` is not one of: {}",
                case.specialty,
                SPECIALTIES.join(", ")
            ),
        );
    }
    let provenance = &case.provenance;
    checker.require_text("provenance.author", &provenance.author);
    checker.require_text("provenance.source", &provenance.source);
    checker.require_text("provenance.licence", &provenance.licence);
    if !is_iso_date(&provenance.created) {
        checker.report(
            "provenance.created",
            ProblemKind::Implausible,
            format!("`{}` is not a date written YYYY-MM-DD", provenance.created),
        );
    }
    if let Some(review) = &provenance.review {
        check_review(checker, review, &provenance.author);
    }
}

/// Whether `text` is a date written `YYYY-MM-DD`.
fn is_iso_date(text: &str) -> bool {
    text.len() == 10
        && text.char_indices().all(|(at, c)| {
            if at == 4 || at == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        })
}

fn check_review(checker: &mut Checker<'_>, review: &Review, author: &str) {
    checker.require_text("provenance.review.reviewer", &review.reviewer);
    if !review.reviewer.trim().is_empty() && review.reviewer.trim() == author.trim() {
        checker.report(
            "provenance.review.reviewer",
            ProblemKind::IncompleteReview,
            "is the case's author: a review is a second reading by someone else",
        );
    }
    if !is_iso_date(&review.date) {
        checker.report(
            "provenance.review.date",
            ProblemKind::IncompleteReview,
            format!("`{}` is not a date written YYYY-MM-DD", review.date),
        );
    }
    let missing: Vec<&str> = REVIEW_CHECKLIST
        .iter()
        .copied()
        .filter(|item| !review.checklist.iter().any(|done| done == item))
        .collect();
    if !missing.is_empty() {
        checker.report(
            "provenance.review.checklist",
            ProblemKind::IncompleteReview,
            format!("lacks {}", missing.join(", ")),
        );
    }
    for (index, item) in review.checklist.iter().enumerate() {
        if !REVIEW_CHECKLIST.contains(&item.as_str()) {
            checker.report(
                format!("provenance.review.checklist[{index}]"),
                ProblemKind::IncompleteReview,
                format!(
                    "`{item}` is not a checklist item; use: {}",
                    REVIEW_CHECKLIST.join(", ")
                ),
            );
        }
    }
}

/// Checks that a case marked `hard` is hard in its reference work-up: at least
/// [`HARD_MIN_ORDER_ROUNDS`] rounds of orders, and no confirmatory result in the first two.
fn check_hardness(checker: &mut Checker<'_>, case: &Case) {
    if !case.hard {
        return;
    }
    let rounds: Vec<&Vec<String>> = case
        .reference_workup
        .iter()
        .filter_map(|step| match step {
            WorkupStep::Order { tests } => Some(tests),
            _ => None,
        })
        .collect();
    if rounds.len() < HARD_MIN_ORDER_ROUNDS {
        checker.report(
            "hard",
            ProblemKind::NotHard,
            format!(
                "the reference work-up orders in {} round(s); a hard case needs at least {HARD_MIN_ORDER_ROUNDS}",
                rounds.len()
            ),
        );
    }
    let early_confirmation = rounds
        .iter()
        .take(HARD_MIN_ORDER_ROUNDS - 1)
        .flat_map(|tests| tests.iter())
        .find(|test| case.test(test).is_some_and(|result| result.confirmatory));
    if let Some(test) = early_confirmation {
        checker.report(
            "hard",
            ProblemKind::NotHard,
            format!(
                "`{test}` confirms the diagnosis in the first two rounds of orders; a hard case reaches its confirmation only after a specialised test"
            ),
        );
    }
}

fn check_presentation(checker: &mut Checker<'_>, case: &Case) {
    let presentation = &case.presentation;
    if presentation.summary.trim().is_empty() && presentation.setting.trim().is_empty() {
        checker.report(
            "presentation",
            ProblemKind::Missing,
            "is missing: the doctor would start with nothing",
        );
        return;
    }
    checker.require_text("presentation.setting", &presentation.setting);
    checker.require_text("presentation.summary", &presentation.summary);
    // The specialty is hidden until the end (DESIGN.md §3.9): "cardiology clinic" would give it away.
    let specialty = normalize(&case.specialty.replace('_', " "));
    for (field, text) in [
        ("presentation.setting", &presentation.setting),
        ("presentation.summary", &presentation.summary),
    ] {
        if !specialty.is_empty() && contains_phrase(&normalize(text), &specialty) {
            checker.report(
                field,
                ProblemKind::NamesSpecialty,
                format!(
                    "names the case's specialty (`{}`), which an agent may not see before the end; say where the patient is seen without it (\"hospital outpatient clinic\")",
                    case.specialty
                ),
            );
        }
    }
    if let Some(weeks) = case.pregnancy_weeks {
        if presentation.sex != crate::case::Sex::Female
            || presentation.age_years < 10
            || !(1..=44).contains(&weeks)
        {
            checker.report(
                "pregnancy_weeks",
                ProblemKind::Implausible,
                format!(
                    "{weeks} weeks of pregnancy in a {}-year-old {} is not possible: a pregnant patient is female, at least 10, and 1 to 44 weeks",
                    presentation.age_years,
                    presentation.sex.as_str()
                ),
            );
        }
    }
    if presentation.age_years > 120 {
        checker.report(
            "presentation.age_years",
            ProblemKind::Implausible,
            format!("{} years is not a plausible age", presentation.age_years),
        );
    }
    if let Some(months) = presentation.age_months {
        if presentation.age_years >= 2 || months > 11 {
            checker.report(
                "presentation.age_months",
                ProblemKind::Implausible,
                "is only for children under two, and at most 11",
            );
        }
    }
    let sentences = presentation
        .summary
        .split(['.', '?', '!'])
        .filter(|sentence| sentence.trim().len() > 2)
        .count();
    if sentences > 4 && !checker.imported {
        checker.report(
            "presentation.summary",
            ProblemKind::Implausible,
            format!("has {sentences} sentences; keep the presentation to two or three"),
        );
    }
}

fn check_history(checker: &mut Checker<'_>, case: &Case) {
    checker.require_count("history", case.history.len(), MIN_HISTORY);
    if !checker.imported
        && !case.history.is_empty()
        && !case.history.iter().any(|item| item.negative)
    {
        checker.report(
            "history",
            ProblemKind::TooFew,
            "has no pertinent negative (an item with `negative = true`)",
        );
    }
    let mut ids = std::collections::HashSet::new();
    for (index, item) in case.history.iter().enumerate() {
        checker.require_text(&format!("history[{index}].text"), &item.text);
        let well_formed = !item.id.is_empty()
            && item
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !well_formed {
            checker.report(
                format!("history[{index}].id"),
                ProblemKind::BadHistoryId,
                format!(
                    "`{}` is not an id: use lowercase letters, digits, `_` and `-`",
                    item.id
                ),
            );
        } else if !ids.insert(item.id.as_str()) {
            checker.report(
                format!("history[{index}].id"),
                ProblemKind::BadHistoryId,
                format!("`{}` is used by an earlier history item", item.id),
            );
        }
    }
}

fn check_vitals(checker: &mut Checker<'_>, case: &Case) {
    let vitals = &case.vitals;
    if !vitals.is_recorded() {
        if checker.imported {
            return;
        }
        checker.report(
            "vitals",
            ProblemKind::Missing,
            "is missing: every case lists its vital signs",
        );
        return;
    }
    let checks: [(&str, f64, f64, f64); 6] = [
        // Accidental hypothermia is survived from core temperatures in the teens (°C); 20 °C
        // still catches a Fahrenheit or Kelvin value written as Celsius.
        ("vitals.temperature_c", vitals.temperature_c, 20.0, 43.5),
        (
            "vitals.heart_rate",
            f64::from(vitals.heart_rate),
            20.0,
            250.0,
        ),
        (
            "vitals.systolic_bp",
            f64::from(vitals.systolic_bp),
            40.0,
            280.0,
        ),
        (
            "vitals.diastolic_bp",
            f64::from(vitals.diastolic_bp),
            15.0,
            180.0,
        ),
        (
            "vitals.respiratory_rate",
            f64::from(vitals.respiratory_rate),
            4.0,
            70.0,
        ),
        ("vitals.spo2", f64::from(vitals.spo2), 40.0, 100.0),
    ];
    for (field, value, low, high) in checks {
        // An imported case leaves a sign its source does not state at zero.
        if checker.imported && value == 0.0 {
            continue;
        }
        if !(low..=high).contains(&value) {
            checker.report(
                field,
                ProblemKind::Implausible,
                format!("{value} is outside the plausible range {low}–{high}"),
            );
        }
    }
    if vitals.diastolic_bp >= vitals.systolic_bp && vitals.systolic_bp > 0 {
        checker.report(
            "vitals.diastolic_bp",
            ProblemKind::Implausible,
            format!(
                "{} is not below the systolic {}",
                vitals.diastolic_bp, vitals.systolic_bp
            ),
        );
    }
}

fn check_exam(checker: &mut Checker<'_>, case: &Case) {
    checker.require_count("exam", case.exam.len(), 1);
    let mut seen = HashSet::new();
    for (index, finding) in case.exam.iter().enumerate() {
        let field = format!("exam[{index}].system");
        if finding.system == "vitals" {
            checker.report(
                field,
                ProblemKind::UnknownExamSystem,
                "vital signs belong in [vitals], not in exam",
            );
        } else if checker.catalogue.system(&finding.system).is_none() {
            let known: Vec<&str> = checker
                .catalogue
                .systems()
                .iter()
                .map(|s| s.id.as_str())
                .collect();
            checker.report(
                field,
                ProblemKind::UnknownExamSystem,
                format!(
                    "`{}` is not an exam system; known: {}",
                    finding.system,
                    known.join(", ")
                ),
            );
        } else if !seen.insert(finding.system.as_str()) {
            checker.report(
                field,
                ProblemKind::Duplicate,
                format!(
                    "`{}` is listed twice; write one finding per system",
                    finding.system
                ),
            );
        }
        checker.require_text(&format!("exam[{index}].text"), &finding.text);
    }
}

fn check_test(checker: &mut Checker<'_>, case: &Case, index: usize, test: &TestResult) {
    let base = format!("tests[{index}]");
    if case.tests[..index]
        .iter()
        .any(|earlier| earlier.id == test.id)
    {
        checker.report(
            format!("{base}.id"),
            ProblemKind::Duplicate,
            format!("`{}` is listed twice", test.id),
        );
    }
    check_confirmatory_door(checker, case, &base, test);
    if test.is_case_specific() {
        check_case_specific_test(checker, case, &base, test);
        return;
    }
    let Some(definition) = checker.catalogue.test(&test.id) else {
        checker.report(
            format!("{base}.id"),
            ProblemKind::UnknownTest,
            format!(
                "`{}` is not a catalogue test id (try `dxsim catalogue search {}`; a test the catalogue lacks takes an id starting `{CASE_TEST_PREFIX}`)",
                test.id,
                test.id.replace('_', " ")
            ),
        );
        return;
    };
    if test.name.is_some() || !test.aliases.is_empty() || test.price_usd.is_some() {
        checker.report(
            base.clone(),
            ProblemKind::CaseSpecificTest,
            format!(
                "`{}` is a catalogue test: `name`, `aliases` and `price_usd` belong only to case-specific tests",
                test.id
            ),
        );
    }
    // An imported case may keep a panel as the source reported it, as text.
    let as_reported = checker.imported
        && test.results.is_empty()
        && test
            .report
            .as_ref()
            .is_some_and(|report| !report.trim().is_empty());
    if as_reported {
        return;
    }
    match &definition.reporting {
        Reporting::Report(_) => {
            if !test.results.is_empty() {
                checker.report(
                    format!("{base}.results"),
                    ProblemKind::WrongResultShape,
                    format!(
                        "`{}` is reported as text; give a `report`, not `results`",
                        test.id
                    ),
                );
            }
            match &test.report {
                Some(report) if !report.trim().is_empty() => {}
                _ => checker.report(
                    format!("{base}.report"),
                    ProblemKind::Missing,
                    "is missing or empty",
                ),
            }
        }
        Reporting::Analytes(_) => {
            if test.report.is_some() {
                checker.report(
                    format!("{base}.report"),
                    ProblemKind::WrongResultShape,
                    format!(
                        "`{}` is reported as values; give `results`, not a `report`",
                        test.id
                    ),
                );
            }
            if test.results.is_empty() {
                checker.report(
                    format!("{base}.results"),
                    ProblemKind::Missing,
                    "is missing or empty",
                );
            }
            for (position, result) in test.results.iter().enumerate() {
                check_analyte(
                    checker,
                    case,
                    &format!("{base}.results[{position}]"),
                    test,
                    result,
                );
            }
        }
    }
}

/// A confirmatory report has one door (DESIGN.md §3.9): its own test and the family members the
/// author accepts in `confirmed_by`. Every other member of the family must be decided in an authored
/// case: accepted, or listed with its own (non-diagnostic) result.
fn check_confirmatory_door(checker: &mut Checker<'_>, case: &Case, base: &str, test: &TestResult) {
    if !test.confirmatory {
        if !test.confirmed_by.is_empty() {
            checker.report(
                format!("{base}.confirmed_by"),
                ProblemKind::ConfirmatoryDoor,
                format!(
                    "`{}` is not confirmatory: `confirmed_by` belongs only to a confirmatory result",
                    test.id
                ),
            );
        }
        return;
    }
    let catalogue = checker.catalogue;
    let family = catalogue.family(&test.id);
    for (position, other) in test.confirmed_by.iter().enumerate() {
        let field = format!("{base}.confirmed_by[{position}]");
        if other == &test.id || case.test(other).is_some() {
            checker.report(
                field,
                ProblemKind::ConfirmatoryDoor,
                format!("`{other}` is listed with its own result; it cannot also take this report"),
            );
        } else if family.is_none() || catalogue.family(other) != family {
            checker.report(
                field,
                ProblemKind::ConfirmatoryDoor,
                format!(
                    "`{other}` is not a test of the same family as `{}` ({}); only an equivalent study may take its report",
                    test.id,
                    family.unwrap_or("it has no family")
                ),
            );
        }
    }
    let Some(family) = family.filter(|_| !checker.imported) else {
        return;
    };
    let undecided: Vec<&str> = catalogue
        .tests()
        .iter()
        .filter(|other| other.family.as_deref() == Some(family) && other.id != test.id)
        .map(|other| other.id.as_str())
        .filter(|other| {
            case.test(other).is_none() && !test.confirmed_by.iter().any(|id| id == other)
        })
        .collect();
    if !undecided.is_empty() {
        checker.report(
            format!("{base}.confirmed_by"),
            ProblemKind::ConfirmatoryDoor,
            format!(
                "`{}` is confirmatory and its family `{family}` also holds {}: accept each in `confirmed_by` (a clinician would take it as the same confirmation) or list its own result",
                test.id,
                undecided
                    .iter()
                    .map(|id| format!("`{id}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
}

fn check_case_specific_test(checker: &mut Checker<'_>, case: &Case, base: &str, test: &TestResult) {
    let slug = &test.id[CASE_TEST_PREFIX.len()..];
    if slug.is_empty()
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        checker.report(
            format!("{base}.id"),
            ProblemKind::BadId,
            format!(
                "`{}` must be `{CASE_TEST_PREFIX}` followed by lowercase letters, digits and underscores",
                test.id
            ),
        );
    }
    if !case.is_imported() {
        checker.report(
            format!("{base}.id"),
            ProblemKind::CaseSpecificTest,
            format!(
                "`{}` is case-specific, which only an imported case may have; use a catalogue test",
                test.id
            ),
        );
    }
    if test.name.as_ref().is_none_or(|name| name.trim().is_empty()) {
        checker.report(
            format!("{base}.name"),
            ProblemKind::CaseSpecificTest,
            "is missing: a case-specific test is ordered by its name",
        );
    }
    match test.price_usd {
        Some(price) if price.is_finite() && price >= 0.0 => {}
        Some(price) => checker.report(
            format!("{base}.price_usd"),
            ProblemKind::Implausible,
            format!("{price} is not a price"),
        ),
        None => checker.report(
            format!("{base}.price_usd"),
            ProblemKind::CaseSpecificTest,
            "is missing: a case-specific test has no catalogue price",
        ),
    }
    if !test.results.is_empty() {
        checker.report(
            format!("{base}.results"),
            ProblemKind::WrongResultShape,
            "a case-specific test is reported as text; give a `report`",
        );
    }
    if test
        .report
        .as_ref()
        .is_none_or(|report| report.trim().is_empty())
    {
        checker.report(
            format!("{base}.report"),
            ProblemKind::Missing,
            "is missing or empty",
        );
    }
}

fn check_analyte(
    checker: &mut Checker<'_>,
    case: &Case,
    field: &str,
    test: &TestResult,
    result: &AnalyteResult,
) {
    let catalogue = checker.catalogue;
    let in_test = catalogue.test(&test.id).is_some_and(|definition| {
        catalogue
            .test_analytes(definition)
            .any(|a| a.id == result.analyte)
    });
    let Some(definition) = catalogue.analyte(&result.analyte).filter(|_| in_test) else {
        let components: Vec<String> = catalogue
            .test(&test.id)
            .map(|definition| {
                catalogue
                    .test_analytes(definition)
                    .map(|a| a.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        checker.report(
            format!("{field}.analyte"),
            ProblemKind::UnknownAnalyte,
            format!(
                "`{}` is not reported by `{}`; it reports: {}",
                result.analyte,
                test.id,
                components.join(", ")
            ),
        );
        return;
    };
    if test
        .results
        .iter()
        .filter(|other| other.analyte == result.analyte)
        .count()
        > 1
    {
        checker.report(
            format!("{field}.analyte"),
            ProblemKind::Duplicate,
            format!(
                "`{}` is listed more than once in `{}`",
                result.analyte, test.id
            ),
        );
    }
    let range = result
        .range
        .or_else(|| definition.range_for_subject(case.range_subject()));
    match &definition.kind {
        AnalyteKind::Numeric {
            unit,
            absent_text,
            possible,
            ..
        } => {
            if let Some(stated) = result.unit.as_ref().filter(|stated| *stated != unit) {
                checker.report(
                    format!("{field}.unit"),
                    ProblemKind::UnitMismatch,
                    format!(
                        "`{stated}` differs from the catalogue unit `{unit}` for {}",
                        result.analyte
                    ),
                );
            }
            let absent = match (absent_text, &result.text) {
                (Some(absent), Some(text)) => {
                    result.value.is_none() && normalize(absent) == normalize(text)
                }
                _ => false,
            };
            if !absent && (result.value.is_none() || result.text.is_some()) {
                let or_absent = absent_text
                    .as_ref()
                    .map(|text| format!(", or `text = \"{text}\"`"))
                    .unwrap_or_default();
                checker.report(
                    field,
                    ProblemKind::WrongResultShape,
                    format!(
                        "`{}` is numeric: give `value` (in {unit}) and no `text`{or_absent}",
                        result.analyte
                    ),
                );
                return;
            }
            if let Some(problem) = result
                .value
                .and_then(|value| impossible_value(value, *possible))
            {
                checker.report(
                    format!("{field}.value"),
                    ProblemKind::Implausible,
                    format!("{} = {problem}", result.analyte),
                );
                return;
            }
            if let Some([low, high]) = result.range.filter(|[low, high]| low >= high) {
                checker.report(
                    format!("{field}.range"),
                    ProblemKind::Implausible,
                    format!("low {low} must be below high {high}"),
                );
            }
        }
        AnalyteKind::Qualitative { normal_text } => {
            if result.text.is_none() || result.value.is_some() {
                checker.report(
                    field,
                    ProblemKind::WrongResultShape,
                    format!("`{}` is qualitative: give `text` (normal: \"{normal_text}\") and no `value`", result.analyte),
                );
                return;
            }
        }
    }
    let computed = computed_flag(
        definition,
        result.value,
        result.text.as_deref().unwrap_or_default(),
        range,
    );
    if let Some(flag) = result.flag {
        if flag != computed {
            let shown = result
                .value
                .map(|value| value.to_string())
                .or_else(|| result.text.clone())
                .unwrap_or_default();
            let expected = match &definition.kind {
                AnalyteKind::Numeric { unit, .. } => {
                    let range = range.unwrap_or_default();
                    format!(
                        "the reference range {}–{} {unit} makes it {computed:?}",
                        range[0], range[1]
                    )
                }
                AnalyteKind::Qualitative { normal_text } => {
                    format!("the normal result is \"{normal_text}\", which makes it {computed:?}")
                }
            };
            checker.report(
                format!("{field}.flag"),
                ProblemKind::FlagMismatch,
                format!(
                    "{} = {shown} is flagged {flag:?}, but {expected}",
                    result.analyte
                )
                .to_lowercase(),
            );
        }
    }
}

/// Why a numeric result is impossible whatever the case: not a number, or outside the values any
/// living patient could have (the catalogue's `min_possible`–`max_possible`). `None` for a possible
/// value, however abnormal.
fn impossible_value(value: f64, [min, max]: [f64; 2]) -> Option<String> {
    if !value.is_finite() {
        Some(format!("{value} is not a finite number"))
    } else if value < min || value > max {
        let shown = if value.abs() >= 1e9 {
            format!("{value:e}")
        } else {
            value.to_string()
        };
        Some(format!(
            "{shown} is outside what any patient could have ({min}–{max})"
        ))
    } else {
        None
    }
}

fn check_diagnosis(checker: &mut Checker<'_>, case: &Case) {
    checker.require_text("diagnosis.name", &case.diagnosis.name);
    // An imported diagnosis carries a code only where one matched.
    if !(checker.imported && case.diagnosis.icd10.is_empty()) {
        checker.check_icd10("diagnosis.icd10", &case.diagnosis.icd10);
    }
    checker.require_count("diagnosis.synonyms", case.diagnosis.synonyms.len(), 1);
    checker.require_count("differential", case.differential.len(), MIN_DIFFERENTIAL);
    let diagnosis_names = DiagnosisNames::of(case);
    for (index, item) in case.differential.iter().enumerate() {
        let field = format!("differential[{index}]");
        checker.require_text(&format!("{field}.name"), &item.name);
        if diagnosis_names.phrases().contains(&normalize(&item.name)) {
            checker.report(
                format!("{field}.name"),
                ProblemKind::DifferentialIsDiagnosis,
                format!(
                    "`{}` is the diagnosis itself (or one of its synonyms)",
                    item.name
                ),
            );
        }
        if let Some(code) = &item.icd10 {
            checker.check_icd10(&format!("{field}.icd10"), code);
            if *code == case.diagnosis.icd10 && !checker.imported {
                checker.report(
                    format!("{field}.icd10"),
                    ProblemKind::DifferentialIsDiagnosis,
                    format!("`{code}` is the diagnosis's own code"),
                );
            }
        }
    }
    checker.require_count("key_findings", case.key_findings.len(), MIN_KEY_FINDINGS);
    checker.require_count(
        "teaching_points",
        case.teaching_points.len(),
        MIN_TEACHING_POINTS,
    );
}

fn check_key_finding(checker: &mut Checker<'_>, case: &Case, index: usize, finding: &KeyFinding) {
    let field = format!("key_findings[{index}].source");
    checker.require_text(&format!("key_findings[{index}].finding"), &finding.finding);
    let Some(target) = finding.target() else {
        checker.report(
            field,
            ProblemKind::UnreachableKeyFinding,
            format!("`{}` is not of the form history:<topic or item id>, exam:<system>, vitals:<field> or test:<id>[/<analyte>]", finding.source),
        );
        return;
    };
    let reachable = match target {
        FindingTarget::History(target) => case.history.iter().any(|item| item.answers(target)),
        FindingTarget::Exam(system) => case.exam_finding(system).is_some(),
        FindingTarget::Vitals(field) => VITAL_FIELDS.contains(&field),
        FindingTarget::Analyte { test, analyte } => case
            .test(test)
            .is_some_and(|result| result.results.iter().any(|r| r.analyte == analyte)),
        FindingTarget::Test(test) => case.test(test).is_some(),
    };
    if !reachable {
        checker.report(
            field,
            ProblemKind::UnreachableKeyFinding,
            format!(
                "`{}` points at nothing the case lists, so no action could reveal it",
                finding.source
            ),
        );
    }
}

fn check_workup(checker: &mut Checker<'_>, case: &Case) {
    checker.require_count("reference_workup", case.reference_workup.len(), 2);
    for (index, step) in case.reference_workup.iter().enumerate() {
        let field = format!("reference_workup[{index}]");
        match step {
            WorkupStep::Ask { text } => checker.require_text(&format!("{field}.text"), text),
            WorkupStep::Examine { system } => {
                if checker.catalogue.system(system).is_none() {
                    checker.report(
                        format!("{field}.system"),
                        ProblemKind::UnknownExamSystem,
                        format!("`{system}` is not an exam system"),
                    );
                }
            }
            WorkupStep::Order { tests } => {
                if tests.is_empty() {
                    checker.report(
                        format!("{field}.tests"),
                        ProblemKind::Missing,
                        "orders nothing",
                    );
                }
                for (position, test) in tests.iter().enumerate() {
                    let test_field = format!("{field}.tests[{position}]");
                    let case_specific = case
                        .test(test)
                        .is_some_and(|listed| listed.is_case_specific());
                    if checker.catalogue.test(test).is_none() && !case_specific {
                        checker.report(
                            test_field,
                            ProblemKind::UnknownTest,
                            format!("`{test}` is not a catalogue test id"),
                        );
                    } else if case.test(test).is_none() {
                        checker.report(
                            test_field,
                            ProblemKind::WorkupTestNotInCase,
                            format!("`{test}` is ordered by the reference work-up but the case lists no result for it"),
                        );
                    }
                }
            }
        }
    }
}

/// A cognitive bias's default belief is a differential item that does not name the diagnosis: there
/// must be one.
fn check_beliefs(checker: &mut Checker<'_>, case: &Case, names: &DiagnosisNames) {
    if case.differential.is_empty() {
        return;
    }
    if case
        .differential
        .iter()
        .all(|item| names.found_in(&item.name).is_some())
    {
        checker.report(
            "differential",
            ProblemKind::NamesDiagnosis,
            "every item names the diagnosis, so no default bias belief is left (a biased patient would say it)",
        );
    }
    for (index, item) in case.differential.iter().enumerate() {
        let field = format!("differential[{index}].lay_name");
        match &item.lay_name {
            // A biased patient says a belief in these words.
            Some(lay_name) => {
                checker.require_text(&field, lay_name);
                if names.found_in(lay_name).is_some() {
                    checker.report(
                        field,
                        ProblemKind::NamesDiagnosis,
                        format!(
                            "`{lay_name}` names the diagnosis, and a biased patient would say it"
                        ),
                    );
                }
            }
            None if !checker.imported => checker.report(
                field,
                ProblemKind::Missing,
                "is missing: how a patient would name this item (\"a clot on the lung\")",
            ),
            None => {}
        }
    }
}

fn check_disclosure(checker: &mut Checker<'_>, case: &Case, names: &DiagnosisNames) {
    let mut revealable: Vec<(String, &str)> = vec![
        ("id".to_string(), case.id.as_str()),
        ("title".to_string(), case.title.as_str()),
        (
            "presentation.summary".to_string(),
            case.presentation.summary.as_str(),
        ),
        (
            "presentation.setting".to_string(),
            case.presentation.setting.as_str(),
        ),
    ];
    for (index, item) in case.history.iter().enumerate() {
        revealable.push((format!("history[{index}].text"), &item.text));
    }
    for (index, finding) in case.exam.iter().enumerate() {
        revealable.push((format!("exam[{index}].text"), &finding.text));
    }
    for (index, test) in case.tests.iter().enumerate() {
        // A confirmatory report may name the disease; its values are shared with every test that
        // measures them, so they may not.
        if let Some(report) = test.report.as_ref().filter(|_| !test.confirmatory) {
            revealable.push((format!("tests[{index}].report"), report));
        }
        for (position, result) in test.results.iter().enumerate() {
            if let Some(text) = &result.text {
                revealable.push((format!("tests[{index}].results[{position}].text"), text));
            }
        }
    }
    let catalogue = checker.catalogue;
    let (no_tests, no_exam) = case
        .import
        .as_ref()
        .map_or((false, false), |import| (import.no_tests, import.no_exam));
    // A source that records no tests (or no examination) answers "not recorded", never the
    // catalogue's normal text.
    for test in catalogue.tests().iter().filter(|_| !no_tests) {
        if let (Reporting::Report(normal), None) =
            (&test.reporting, case.study(catalogue, &test.id))
        {
            revealable.push((
                format!(
                    "catalogue normal report of `{}` (list a result for it)",
                    test.id
                ),
                normal,
            ));
        }
    }
    for system in catalogue.systems().iter().filter(|_| !no_exam) {
        if case.exam_finding(&system.id).is_none() && !system.normal_text.is_empty() {
            revealable.push((
                format!(
                    "catalogue normal finding of exam system `{}` (list a finding for it)",
                    system.id
                ),
                &system.normal_text,
            ));
        }
    }
    let teaching_points: Vec<String> = case
        .teaching_points
        .iter()
        .map(|point| normalize(point))
        .filter(|point| point.split(' ').count() >= 4)
        .collect();
    for (field, text) in revealable {
        let shown = normalize(text);
        if field != "id"
            && field != "title"
            && teaching_points
                .iter()
                .any(|point| contains_phrase(&shown, point))
        {
            checker.report(
                field.clone(),
                ProblemKind::RevealsTeachingPoint,
                "repeats a teaching point, which is for the debrief: an agent would read the lesson before the case",
            );
        }
        match names.found_in(text) {
            Some(Naming::Phrase(phrase)) => checker.report(
                field,
                ProblemKind::NamesDiagnosis,
                format!("names the diagnosis (\"{phrase}\") before the episode ends; only a confirmatory test's report may"),
            ),
            Some(Naming::Code) => checker.report(
                field,
                ProblemKind::NamesDiagnosis,
                "contains the diagnosis's ICD-10-CM code",
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::HistoryTopic;

    #[test]
    fn case_ids_are_hyphenated_lowercase() {
        assert!(is_case_id("cardio-stemi-inferior"));
        assert!(!is_case_id("Cardio_STEMI"));
        assert!(!is_case_id("trailing-"));
    }

    #[test]
    fn history_topics_have_distinct_names() {
        let names: HashSet<&str> = HistoryTopic::ALL
            .iter()
            .map(|topic| topic.as_str())
            .collect();
        assert_eq!(names.len(), HistoryTopic::ALL.len());
    }
}

//! The hidden case record (DESIGN.md §3.1): what a case file holds, as Rust types.
//!
//! A case file is TOML, one case per file, documented field by field in `cases/README.md`. Parsing is
//! deliberately lenient about *missing* sections (they default to empty) so that [`validate`] can report
//! every problem in a file at once instead of stopping at the first; only a [`Case`] that passed
//! validation is ever given to the gatekeeper or an episode.

pub mod lint;
pub mod validate;

use serde::{Deserialize, Serialize};

use crate::text::{contains_phrase, normalize};

pub use lint::{LintFinding, lint_case};
pub use validate::{
    Problem, ProblemKind, parse_case, validate_case, validate_case_with, validate_library,
};

/// One hidden clinical case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id, lowercase words joined by hyphens; the file is named `<id>.toml`.
    #[serde(default)]
    pub id: String,
    /// Short title for authors and debriefs; must not name the diagnosis.
    #[serde(default)]
    pub title: String,
    /// Specialty, one of [`SPECIALTIES`].
    #[serde(default)]
    pub specialty: String,
    /// How hard the case is.
    #[serde(default)]
    pub difficulty: Difficulty,
    /// Weeks of pregnancy, for a pregnant patient: hidden from the doctor (the presentation says what
    /// the patient knows); it selects the pregnancy reference ranges ([`Case::range_subject`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pregnancy_weeks: Option<u32>,
    /// Hard in SDBench's sense: no confirmatory result until a specialised test, reached over at least
    /// [`HARD_MIN_ORDER_ROUNDS`] rounds of orders in the reference work-up (the validator checks both).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hard: bool,
    /// Who wrote the case, from what, and under which licence.
    #[serde(default)]
    pub provenance: Provenance,
    /// What the doctor sees at reset.
    #[serde(default)]
    pub presentation: Presentation,
    /// History items in the patient's voice, pertinent negatives included.
    #[serde(default)]
    pub history: Vec<HistoryItem>,
    /// Vital signs, reported when the doctor examines `vitals`.
    #[serde(default)]
    pub vitals: Vitals,
    /// Examination findings by system; a system not listed is reported normal.
    #[serde(default)]
    pub exam: Vec<ExamFinding>,
    /// Test results keyed by catalogue test id; a recognised test not listed is reported normal.
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// The final diagnosis the judge scores against.
    #[serde(default)]
    pub diagnosis: Diagnosis,
    /// Plausible alternatives (at least three).
    #[serde(default)]
    pub differential: Vec<DifferentialItem>,
    /// The findings that discriminate the diagnosis from its differential.
    #[serde(default)]
    pub key_findings: Vec<KeyFinding>,
    /// The minimal sensible sequence of actions that reaches the diagnosis.
    #[serde(default)]
    pub reference_workup: Vec<WorkupStep>,
    /// Short lessons shown in the debrief.
    #[serde(default)]
    pub teaching_points: Vec<String>,
    /// Where an imported case came from (absent on authored cases). Its presence selects the
    /// imported-case rules of the validator (see `cases/README.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportInfo>,
}

/// The public case set an imported case came from, and what the source does and does not record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInfo {
    /// The source format.
    pub format: ImportFormat,
    /// The source file's name (no directories).
    pub file: String,
    /// The record's line in that file, counting from 1 (a JSON line, or a CSV row's line).
    pub line: u64,
    /// An image the source shows with the case, kept as a reference (never fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Multiple-choice options the source offers; exactly one of them is the diagnosis's name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// The source records no physical examination: a system without a finding, and the vital signs
    /// when none are listed, are reported as not recorded rather than normal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_exam: bool,
    /// The source records no test results: a test the case does not list is reported as not
    /// recorded (and not charged) rather than as a normal result.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_tests: bool,
    /// The question the source asks the doctor (NEJM: "What is the most likely diagnosis?").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

/// The public formats dxsim imports.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    /// AgentClinic's OSCE JSON lines (MedQA, MedQA extended, MIMIC-IV derived).
    #[default]
    AgentclinicOsce,
    /// AgentClinic's NEJM image-challenge JSON lines.
    AgentclinicNejm,
    /// DDXPlus's synthetic patients (CSV with evidence and condition tables).
    Ddxplus,
}

impl ImportFormat {
    /// The name used in case files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentclinicOsce => "agentclinic-osce",
            Self::AgentclinicNejm => "agentclinic-nejm",
            Self::Ddxplus => "ddxplus",
        }
    }
}

/// The prefix of a case-specific test id: a result the source reports under a name the catalogue does
/// not know, kept with the case instead of dropped.
pub const CASE_TEST_PREFIX: &str = "case_";

/// The specialties a case may belong to.
pub const SPECIALTIES: &[&str] = &[
    "addiction_medicine",
    "adolescent_medicine",
    "allergy_immunology",
    "cardiology",
    "critical_care",
    "dermatology",
    "emergency_medicine",
    "endocrinology",
    "gastroenterology",
    "general_surgery",
    "geriatrics",
    "hematology",
    "hepatology",
    "infectious_disease",
    "neonatology",
    "nephrology",
    "neurology",
    "neurosurgery",
    "obstetrics_gynecology",
    "occupational_medicine",
    "oncology",
    "ophthalmology",
    "orthopedics",
    "otolaryngology",
    "palliative_care",
    "pediatrics",
    "psychiatry",
    "pulmonology",
    "rheumatology",
    "sports_medicine",
    "toxicology",
    "transplant_medicine",
    "trauma_surgery",
    "travel_medicine",
    "urology",
    "vascular_surgery",
];

/// The fewest rounds of orders the reference work-up of a [`Case::hard`] case takes.
pub const HARD_MIN_ORDER_ROUNDS: usize = 3;

/// The checks a clinical reviewer signs for a case ([`Review::checklist`]), as written in case files.
pub const REVIEW_CHECKLIST: &[&str] = &[
    "physiology_and_units",
    "timeline",
    "icd10_specificity",
    "workup_safety",
    "key_findings_reachable",
    "original_text",
];

/// Difficulty tier of a case.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    /// A common disease presenting typically (MedQA-like).
    #[default]
    Common,
    /// A common disease presenting atypically, or a less common one presenting typically.
    Atypical,
    /// A rare disease or a CPC-like puzzle.
    Rare,
}

impl Difficulty {
    /// The name used in case files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Common => "common",
            Self::Atypical => "atypical",
            Self::Rare => "rare",
        }
    }
}

/// Who wrote a case and on what basis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The author or team.
    #[serde(default)]
    pub author: String,
    /// What the case was written from (e.g. "original composite written from general clinical knowledge").
    #[serde(default)]
    pub source: String,
    /// The licence the case is published under (SPDX id).
    #[serde(default)]
    pub licence: String,
    /// Date written, `YYYY-MM-DD`.
    #[serde(default)]
    pub created: String,
    /// The second author's clinical review, when one was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

/// A clinical review of a case by someone other than its author, against [`REVIEW_CHECKLIST`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Who reviewed the case (a person or a named review role; never the author).
    #[serde(default)]
    pub reviewer: String,
    /// Date of the review, `YYYY-MM-DD`.
    #[serde(default)]
    pub date: String,
    /// The checks passed: every entry of [`REVIEW_CHECKLIST`].
    #[serde(default)]
    pub checklist: Vec<String>,
    /// What the review changed or questioned, in a sentence or two.
    #[serde(default)]
    pub notes: String,
}

/// A group with reference ranges of its own, beyond sex: an age band of childhood or a trimester of
/// pregnancy. Adults who are not pregnant belong to none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RangeGroup {
    /// Birth to 27 days (`age_months = 0`).
    Neonate,
    /// 1 to 11 months.
    Infant,
    /// 1 to 11 years.
    Child,
    /// 12 to 17 years.
    Adolescent,
    /// Pregnant, up to 13 weeks.
    PregnancyFirstTrimester,
    /// Pregnant, 14 to 27 weeks.
    PregnancySecondTrimester,
    /// Pregnant, 28 weeks on.
    PregnancyThirdTrimester,
}

impl RangeGroup {
    /// Every group, in the order above.
    pub const ALL: [RangeGroup; 7] = [
        Self::Neonate,
        Self::Infant,
        Self::Child,
        Self::Adolescent,
        Self::PregnancyFirstTrimester,
        Self::PregnancySecondTrimester,
        Self::PregnancyThirdTrimester,
    ];

    /// The name used in data files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Neonate => "neonate",
            Self::Infant => "infant",
            Self::Child => "child",
            Self::Adolescent => "adolescent",
            Self::PregnancyFirstTrimester => "pregnancy_first_trimester",
            Self::PregnancySecondTrimester => "pregnancy_second_trimester",
            Self::PregnancyThirdTrimester => "pregnancy_third_trimester",
        }
    }

    /// The group named `name` in a data file.
    pub fn parse(name: &str) -> Option<RangeGroup> {
        Self::ALL.into_iter().find(|group| group.as_str() == name)
    }
}

/// Whom a reference range is for: the patient's sex and, for children and pregnancy, their group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RangeSubject {
    /// The patient's sex.
    pub sex: Sex,
    /// The age band or trimester with ranges of its own; `None` for an adult who is not pregnant.
    pub group: Option<RangeGroup>,
}

impl RangeSubject {
    /// An adult of this sex, not pregnant.
    pub fn adult(sex: Sex) -> RangeSubject {
        RangeSubject { sex, group: None }
    }
}

/// Patient sex as recorded in the case.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    #[default]
    Female,
    /// Male.
    Male,
}

impl Sex {
    /// The name used in case files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }
}

/// What the doctor is shown when the episode starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Presentation {
    /// Age in whole years.
    #[serde(default)]
    pub age_years: u32,
    /// Additional months, for children under two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_months: Option<u32>,
    /// Sex.
    #[serde(default)]
    pub sex: Sex,
    /// Where the encounter happens ("emergency department", "primary care clinic").
    #[serde(default)]
    pub setting: String,
    /// Two or three sentences: who, what complaint, how long. Never names the diagnosis.
    #[serde(default)]
    pub summary: String,
}

/// A history topic a question can be about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HistoryTopic {
    /// When and how the complaint began.
    Onset,
    /// How it has changed since.
    Course,
    /// What it feels like.
    Character,
    /// Where it is and where it goes.
    Location,
    /// How bad it is.
    Severity,
    /// What makes it better or worse.
    ModifyingFactors,
    /// Other symptoms that came with it.
    AssociatedSymptoms,
    /// Past illnesses, operations, admissions.
    PastHistory,
    /// Medicines taken, prescribed or not.
    Medications,
    /// Allergies and reactions.
    Allergies,
    /// Illness in the family.
    Family,
    /// Work, home, smoking, alcohol, drugs.
    Social,
    /// Sexual history.
    Sexual,
    /// Menstrual and obstetric history.
    Obstetric,
    /// Recent travel.
    Travel,
    /// Contacts, animals, occupational or environmental exposures.
    Exposures,
    /// Symptoms by system not covered above.
    ReviewOfSystems,
}

impl HistoryTopic {
    /// Every topic, in a fixed order (the discrete action table depends on it: never reorder).
    pub const ALL: [HistoryTopic; 17] = [
        Self::Onset,
        Self::Course,
        Self::Character,
        Self::Location,
        Self::Severity,
        Self::ModifyingFactors,
        Self::AssociatedSymptoms,
        Self::PastHistory,
        Self::Medications,
        Self::Allergies,
        Self::Family,
        Self::Social,
        Self::Sexual,
        Self::Obstetric,
        Self::Travel,
        Self::Exposures,
        Self::ReviewOfSystems,
    ];

    /// The name used in case files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onset => "onset",
            Self::Course => "course",
            Self::Character => "character",
            Self::Location => "location",
            Self::Severity => "severity",
            Self::ModifyingFactors => "modifying_factors",
            Self::AssociatedSymptoms => "associated_symptoms",
            Self::PastHistory => "past_history",
            Self::Medications => "medications",
            Self::Allergies => "allergies",
            Self::Family => "family",
            Self::Social => "social",
            Self::Sexual => "sexual",
            Self::Obstetric => "obstetric",
            Self::Travel => "travel",
            Self::Exposures => "exposures",
            Self::ReviewOfSystems => "review_of_systems",
        }
    }
}

/// One thing the patient can tell, in their own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryItem {
    /// A stable id, unique in the case (`onset`, `associated_symptoms-2`): answers name the items
    /// they reveal by it, and key findings may point at it (`history:<id>`). Left empty in a file, it
    /// is filled in as the topic, then `<topic>-2`, `<topic>-3`… in file order.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The topic a question must touch to hear this.
    pub topic: HistoryTopic,
    /// The patient's answer, first person.
    pub text: String,
    /// Words a question may use to reach this item specifically ("fever", "cough").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// A pertinent negative: something the patient does *not* have.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negative: bool,
}

impl HistoryItem {
    /// Whether a key finding's `history:<target>` points at this item: its topic or its id.
    pub fn answers(&self, target: &str) -> bool {
        self.topic.as_str() == target || self.id == target
    }
}

/// Vital signs at presentation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vitals {
    /// Temperature, degrees Celsius.
    #[serde(default)]
    pub temperature_c: f64,
    /// Heart rate, beats per minute.
    #[serde(default)]
    pub heart_rate: u32,
    /// Systolic blood pressure, mmHg.
    #[serde(default)]
    pub systolic_bp: u32,
    /// Diastolic blood pressure, mmHg.
    #[serde(default)]
    pub diastolic_bp: u32,
    /// Respiratory rate, breaths per minute.
    #[serde(default)]
    pub respiratory_rate: u32,
    /// Oxygen saturation by pulse oximetry, percent.
    #[serde(default)]
    pub spo2: u32,
    /// What the saturation was measured on ("room air", "2 L/min nasal cannula").
    #[serde(default = "room_air")]
    pub oxygen: String,
    /// Weight in kilograms, where it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
}

impl Vitals {
    /// Whether any vital sign is recorded (an imported case may have none).
    pub fn is_recorded(&self) -> bool {
        self.heart_rate != 0 || self.systolic_bp != 0 || self.temperature_c != 0.0
    }
}

fn room_air() -> String {
    "room air".to_string()
}

/// An examination finding for one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExamFinding {
    /// Exam system id from the catalogue (`cardiovascular`, `abdomen`, …).
    pub system: String,
    /// The finding, written as an examiner reports it.
    pub text: String,
    /// Whether the finding is abnormal.
    #[serde(default)]
    pub abnormal: bool,
}

/// A case's result for one catalogue test, or for a case-specific test (id starting with
/// [`CASE_TEST_PREFIX`]) that an imported case reports under a name the catalogue does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// Catalogue test id, or `case_…` for a case-specific test.
    pub id: String,
    /// A case-specific test's display name, as the source names it; an order by this name (or an
    /// alias) reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other names that reach a case-specific test (the source's other spellings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// A case-specific test's price in USD (catalogue tests take the catalogue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<f64>,
    /// Analyte values, for a test reported as values. Components not listed are reported normal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<AnalyteResult>,
    /// Report text, for a test reported as text (imaging, pathology, ECG, cultures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Whether a text report is abnormal (values carry their own flags).
    #[serde(default)]
    pub abnormal: bool,
    /// The report names or proves the diagnosis: its text is revealed only when this exact test, or
    /// one of [`Self::confirmed_by`], is ordered. Its values are measurements like any other and are
    /// shared with every test that reports them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmatory: bool,
    /// For a confirmatory result: the other tests of its catalogue family that a clinician accepts
    /// as the same confirmation (a full nerve conduction study for a limited one); ordering one of
    /// them returns this report. A family member not named here never returns it: the case lists
    /// that test's own result, or it gets the catalogue's normal report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed_by: Vec<String>,
}

/// One analyte's value in a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyteResult {
    /// Analyte id from the catalogue.
    pub analyte: String,
    /// Numeric value, in the catalogue's unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Qualitative result ("positive", "reactive", "detected").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The unit, if the author states it; must equal the catalogue's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// A reference range overriding the catalogue's (children, pregnancy): `[low, high]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// The author's flag; checked against the range, computed from it when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
}

/// A result flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Within the reference range, or the normal qualitative result.
    Normal,
    /// Below the reference range.
    Low,
    /// Above the reference range.
    High,
    /// A qualitative result other than the normal one.
    Abnormal,
}

impl Flag {
    /// Whether the flag marks an abnormal result.
    pub fn is_abnormal(self) -> bool {
        self != Self::Normal
    }

    /// The short mark a lab report prints beside a value (`H`, `L`, `A`, or nothing).
    pub fn mark(self) -> &'static str {
        match self {
            Self::Normal => "",
            Self::Low => "L",
            Self::High => "H",
            Self::Abnormal => "A",
        }
    }
}

/// The final diagnosis of a case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    /// The diagnosis as a clinician would write it.
    #[serde(default)]
    pub name: String,
    /// ICD-10-CM code, with its dot (`I21.19`).
    #[serde(default)]
    pub icd10: String,
    /// Other accepted names and abbreviations.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// A plausible alternative diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DifferentialItem {
    /// The alternative.
    pub name: String,
    /// How a patient would name it, with its article ("a trapped nerve", "a clot on the lung"):
    /// what a patient who believes in it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lay_name: Option<String>,
    /// Its ICD-10-CM code, where one fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icd10: Option<String>,
    /// The probability a source assigns it (DDXPlus's differential), 0–1, kept for analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// What makes it plausible, or what rules it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A finding that discriminates the diagnosis, pointing at the item that reveals it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyFinding {
    /// The finding in a few words ("ST elevation in II, III, aVF").
    pub finding: String,
    /// Where it is revealed: `history:<topic>` (any item of it) or `history:<item id>`, `exam:<system>`, `vitals:<field>`, `test:<test id>` or
    /// `test:<test id>/<analyte id>`.
    pub source: String,
}

/// What a key finding's `source` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingTarget<'a> {
    /// `history:<topic or item id>`: a history item ([`HistoryItem::answers`]).
    History(&'a str),
    /// `exam:<system>`: an examined system.
    Exam(&'a str),
    /// `vitals:<field>`: the vital signs.
    Vitals(&'a str),
    /// `test:<test id>`: a test's report.
    Test(&'a str),
    /// `test:<test id>/<analyte id>`: an analyte's value, on whichever report shows it.
    Analyte {
        /// The test listed in the source.
        test: &'a str,
        /// The analyte.
        analyte: &'a str,
    },
}

impl KeyFinding {
    /// What the source points at; `None` when it is not of a known form.
    pub fn target(&self) -> Option<FindingTarget<'_>> {
        let (kind, target) = self.source.split_once(':')?;
        Some(match kind {
            "history" => FindingTarget::History(target),
            "exam" => FindingTarget::Exam(target),
            "vitals" => FindingTarget::Vitals(target),
            "test" => match target.split_once('/') {
                Some((test, analyte)) => FindingTarget::Analyte { test, analyte },
                None => FindingTarget::Test(target),
            },
            _ => return None,
        })
    }
}

/// One step of the reference work-up, in the same shape as a doctor's action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkupStep {
    /// Ask the patient a question.
    Ask {
        /// The question.
        text: String,
    },
    /// Examine one system.
    Examine {
        /// Exam system id.
        system: String,
    },
    /// Order tests.
    Order {
        /// Catalogue test ids.
        tests: Vec<String>,
    },
}

impl TestResult {
    /// Whether this is a case-specific test rather than a catalogue one.
    pub fn is_case_specific(&self) -> bool {
        self.id.starts_with(CASE_TEST_PREFIX)
    }
}

/// The ways a text can name a case's diagnosis before the episode ends: the diagnosis and its
/// synonyms, and its ICD-10-CM code (dot dropped), each matched as whole words of the normalised
/// text. Built once per case, checked against many texts: by validation, and by the guards on what a
/// language model writes.
#[derive(Debug, Clone)]
pub struct DiagnosisNames {
    phrases: Vec<String>,
    code: String,
}

/// How a text names the diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming<'a> {
    /// By its name or a synonym (normalised).
    Phrase(&'a str),
    /// By its ICD-10-CM code.
    Code,
}

impl DiagnosisNames {
    /// The names of `case`'s diagnosis.
    pub fn of(case: &Case) -> DiagnosisNames {
        DiagnosisNames {
            phrases: std::iter::once(&case.diagnosis.name)
                .chain(&case.diagnosis.synonyms)
                .map(|name| normalize(name))
                .filter(|name| !name.is_empty())
                .collect(),
            code: case.diagnosis.icd10.to_lowercase().replace('.', ""),
        }
    }

    /// The names of `case`'s diagnosis and `forms`, the other names a terminology knows for it
    /// (the classification's inclusion terms, lay and eponym names, abbreviations, plurals).
    pub fn with_forms(case: &Case, forms: impl IntoIterator<Item = String>) -> DiagnosisNames {
        let mut names = DiagnosisNames::of(case);
        for form in forms {
            let form = normalize(&form);
            if !form.is_empty() && !names.phrases.contains(&form) {
                names.phrases.push(form);
            }
        }
        names
    }

    /// The diagnosis, its synonyms and any other forms, normalised.
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }

    /// How `text` names the diagnosis, if it does.
    pub fn found_in(&self, text: &str) -> Option<Naming<'_>> {
        let normalized = normalize(text);
        if let Some(phrase) = self
            .phrases
            .iter()
            .find(|phrase| contains_phrase(&normalized, phrase))
        {
            return Some(Naming::Phrase(phrase));
        }
        (!self.code.is_empty() && contains_phrase(&normalized, &self.code)).then_some(Naming::Code)
    }
}

impl Case {
    /// Whom this patient's reference ranges are for: a trimester when `pregnancy_weeks` is set, else
    /// the childhood age band, else an adult of the patient's sex.
    pub fn range_subject(&self) -> RangeSubject {
        let presentation = &self.presentation;
        let group = match (self.pregnancy_weeks, presentation.age_years) {
            (Some(weeks), _) if weeks < 14 => Some(RangeGroup::PregnancyFirstTrimester),
            (Some(weeks), _) if weeks < 28 => Some(RangeGroup::PregnancySecondTrimester),
            (Some(_), _) => Some(RangeGroup::PregnancyThirdTrimester),
            (None, 0) if presentation.age_months.unwrap_or(0) == 0 => Some(RangeGroup::Neonate),
            (None, 0) => Some(RangeGroup::Infant),
            (None, 1..=11) => Some(RangeGroup::Child),
            (None, 12..=17) => Some(RangeGroup::Adolescent),
            (None, _) => None,
        };
        RangeSubject {
            sex: presentation.sex,
            group,
        }
    }

    /// Gives every history item without an id its default one: the topic, then `<topic>-2`,
    /// `<topic>-3`… counting items of that topic in order. Ids already given are kept.
    pub fn fill_history_ids(&mut self) {
        let mut seen: std::collections::HashMap<HistoryTopic, usize> =
            std::collections::HashMap::new();
        for item in &mut self.history {
            let count = seen.entry(item.topic).or_default();
            *count += 1;
            if item.id.is_empty() {
                item.id = if *count == 1 {
                    item.topic.as_str().to_string()
                } else {
                    format!("{}-{count}", item.topic.as_str())
                };
            }
        }
    }

    /// The history item with this id.
    pub fn history_item(&self, id: &str) -> Option<&HistoryItem> {
        self.history.iter().find(|item| item.id == id)
    }

    /// Whether the case was imported from a public case set.
    pub fn is_imported(&self) -> bool {
        self.import.is_some()
    }

    /// The case's result for a test id, if it lists one.
    pub fn test(&self, test_id: &str) -> Option<&TestResult> {
        self.tests.iter().find(|test| test.id == test_id)
    }

    /// The case's result for a test or, failing that, for an equivalent study of the same family.
    /// A confirmatory result has one door: only its own test and those it names in
    /// [`TestResult::confirmed_by`] reach it.
    pub fn study(&self, catalogue: &crate::Catalogue, test_id: &str) -> Option<&TestResult> {
        self.test(test_id).or_else(|| {
            // Only a test with a family has equivalents: look its family up once.
            let family = catalogue.family(test_id)?;
            self.tests.iter().find(|listed| {
                catalogue.family(&listed.id) == Some(family)
                    && (!listed.confirmatory || listed.confirmed_by.iter().any(|id| id == test_id))
            })
        })
    }

    /// Whether a report of `reported` shows the case's result for `test`: it is that test, or an
    /// equivalent study that reaches its result ([`Case::study`]).
    pub fn report_reaches(&self, catalogue: &crate::Catalogue, reported: &str, test: &str) -> bool {
        reported == test
            || self
                .study(catalogue, reported)
                .is_some_and(|listed| listed.id == test)
    }

    /// The case's finding for an exam system, if it lists one.
    pub fn exam_finding(&self, system: &str) -> Option<&ExamFinding> {
        self.exam.iter().find(|finding| finding.system == system)
    }

    /// The analyte's listed value, from whichever test of the case lists it.
    pub fn analyte(&self, analyte_id: &str) -> Option<&AnalyteResult> {
        self.tests
            .iter()
            .flat_map(|test| &test.results)
            .find(|result| result.analyte == analyte_id)
    }
}

/// Which side of the train/test split a case is on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// For training and development (about 80% of cases).
    Train,
    /// Held out for evaluation (about 20% of cases).
    Test,
}

impl Split {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Test => "test",
        }
    }

    /// The split of a case id: a stable hash of the id alone, so a case never changes sides as the
    /// library grows, and adding cases never moves existing ones.
    pub fn of(id: &str) -> Split {
        if crate::text::stable_hash(id.as_bytes()) % 5 == 0 {
            Split::Test
        } else {
            Split::Train
        }
    }
}

/// The fields of a case an agent may see before an episode ends (DESIGN.md §3.9): an opaque handle
/// and the presentation, nothing that hints at the answer. The id, title, specialty, difficulty and
/// split are the authors' fields, revealed in the outcome once an episode has ended.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PublicCase {
    /// The case's opaque handle (see [`case_handle`]).
    pub handle: String,
    /// What the doctor is shown at reset.
    #[serde(flatten)]
    pub presentation: Presentation,
}

/// An opaque handle for `text`: 16 hex digits of SHA-256 keyed by `domain` (which names what the
/// handle is of, and its version), carrying none of the text's words.
pub fn opaque_handle(domain: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(domain.as_bytes())
        .chain_update([0])
        .chain_update(text.as_bytes())
        .finalize();
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The opaque handle of the case with this id ([`opaque_handle`] in the domain
/// `dxsim case handle v1`), stable for as long as the id is. RL users group rollouts by it; an
/// agent learns nothing from it.
pub fn case_handle(id: &str) -> String {
    opaque_handle("dxsim case handle v1", id)
}

impl Case {
    /// The public view of this case.
    pub fn public(&self) -> PublicCase {
        PublicCase {
            handle: self.handle(),
            presentation: self.presentation.clone(),
        }
    }

    /// This case's opaque handle.
    pub fn handle(&self) -> String {
        case_handle(&self.id)
    }
}

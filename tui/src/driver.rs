//! The step API as the terminal app sees it: the [`EpisodeDriver`] trait and the plain data it returns.
//!
//! The app never names the engine. It starts, steps, saves and resumes an episode, searches the test
//! catalogue and, once the episode is over, asks for the debrief — all through this trait. The `dxsim`
//! binary implements it over the in-process engine (`dxsim::episode::Env`); a client of `dxsim serve`
//! can implement it over HTTP with the same types, which is why they are plain data with serde.
//!
//! Hidden case information appears only in a [`Debrief`], which a driver gives only after the episode
//! has ended.

use dxsim_gatekeeper::Money;
use dxsim_gatekeeper::case::Flag;
use serde::{Deserialize, Serialize};

/// Why a driver call failed. The episode is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The request was refused (an empty action, an unknown case, an option out of range…); the
    /// message says what is wrong and is shown to the student.
    #[error("{0}")]
    Refused(String),
    /// There is no episode to step, save or debrief.
    #[error("no episode is running; start one first")]
    NoEpisode,
    /// The debrief was asked for before the episode ended.
    #[error("the debrief is available only once the episode has ended")]
    NotEnded,
    /// A saved episode could not be read or resumed.
    #[error("the saved episode cannot be resumed: {0}")]
    Resume(String),
}

/// Which case to start: a case id, or a seeded choice among the cases that match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRequest {
    /// A case id; the filters are then ignored.
    pub case_id: Option<String>,
    /// Only cases of this specialty.
    pub specialty: Option<String>,
    /// Only cases of this difficulty (`common`, `atypical`, `rare`).
    pub difficulty: Option<String>,
    /// A patient bias by AgentClinic's name (`recency`, `self_diagnosis`, …).
    pub bias: Option<String>,
    /// A budget cap: the episode ends when the total would pass it.
    pub budget: Option<Money>,
    /// The episode seed: the case drawn, synthetic results and the patient's wording follow from it.
    pub seed: u64,
}

/// What the student does in a turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlayerAction {
    /// Ask the patient a question.
    Ask {
        /// The question.
        text: String,
    },
    /// Examine a system (by id or in words).
    Examine {
        /// The system.
        system: String,
    },
    /// Order tests by catalogue id.
    Order {
        /// The test ids.
        tests: Vec<String>,
    },
    /// Commit to a diagnosis; ends the episode.
    Diagnose {
        /// The diagnosis in words.
        diagnosis: String,
    },
}

impl PlayerAction {
    /// The action as one short line, as the transcript and the debrief show it.
    pub fn describe(&self) -> String {
        match self {
            PlayerAction::Ask { text } => format!("Ask: {text}"),
            PlayerAction::Examine { system } => format!("Examine: {system}"),
            PlayerAction::Order { tests } => format!("Order: {}", tests.join(", ")),
            PlayerAction::Diagnose { diagnosis } => format!("Diagnose: {diagnosis}"),
        }
    }
}

/// The presentation shown at the start: the patient, the setting and the summary, nothing else about
/// the case (its id, specialty and difficulty wait for the debrief).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presentation {
    /// Age and sex ("61-year-old male").
    pub patient: String,
    /// Setting of the encounter.
    pub setting: String,
    /// The two-or-three-sentence presentation.
    pub summary: String,
}

/// One value on a lab report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// Analyte name.
    pub name: String,
    /// The value as printed.
    pub text: String,
    /// Unit, empty for qualitative results.
    pub unit: String,
    /// Reference range as printed, or the normal result of a qualitative analyte.
    pub reference: String,
    /// Result flag.
    pub flag: Flag,
}

/// A test report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Catalogue test id.
    pub test_id: String,
    /// Display name.
    pub name: String,
    /// Values, for a test reported as values.
    pub values: Vec<Value>,
    /// Report text, for imaging, pathology and the like.
    pub text: Option<String>,
    /// Whether anything on it is abnormal.
    pub abnormal: bool,
    /// What this test was charged.
    pub charged: Money,
    /// A remark from the lab (a component reported as part of its panel…).
    pub note: Option<String>,
}

/// One structured piece of what a turn revealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The presentation, at the start.
    Presentation(Presentation),
    /// The patient's answer to a question.
    Answer {
        /// What the patient said.
        text: String,
    },
    /// An examination finding (vital signs included).
    Exam {
        /// The system's display name.
        system: String,
        /// The finding.
        text: String,
        /// Whether it is abnormal.
        abnormal: bool,
    },
    /// A test report.
    Report(Report),
    /// A component already shown on an earlier report; nothing charged.
    AlreadyReported {
        /// The value as shown before.
        value: Value,
        /// The test whose report carries it.
        reported_in: String,
    },
    /// A request refused or not recognised; nothing charged.
    Notice {
        /// The request as made.
        request: String,
        /// What the gatekeeper said.
        message: String,
        /// What to ask for instead.
        suggestions: Vec<String>,
    },
    /// The diagnosis was recorded.
    DiagnosisRecorded {
        /// The diagnosis as given.
        diagnosis: String,
    },
}

/// The running cost and turn count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    /// Turns taken.
    pub turn: u32,
    /// The turn limit.
    pub turn_limit: u32,
    /// Visits charged.
    pub visit_count: u32,
    /// Sum of visit fees.
    pub visits: Money,
    /// Tests charged.
    pub test_count: u32,
    /// Sum of test charges.
    pub tests: Money,
    /// Everything.
    pub total: Money,
    /// Budget left under the cap, if there is one.
    pub budget_left: Option<Money>,
}

/// How an episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// The student gave a diagnosis.
    Diagnosed,
    /// The turn limit or the budget cap was reached first.
    OutOfTurnsOrBudget,
}

/// The result of a start or a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// The action taken (none for the presentation).
    pub action: Option<PlayerAction>,
    /// What it revealed.
    pub entries: Vec<Entry>,
    /// What this turn was charged.
    pub charged: Money,
    /// Costs and turns after it.
    pub meter: Meter,
    /// Set when the episode ended on this turn.
    pub ended: Option<Ending>,
}

/// An orderable test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    /// Catalogue id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Category (lab, imaging…).
    pub category: String,
    /// Price before any multiplier.
    pub price: Money,
}

/// A system the student can examine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamSystem {
    /// System id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// The judge's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// 1–5 on the rubric.
    pub score: u8,
    /// Whether it counts as correct (4 or more).
    pub correct: bool,
    /// Why.
    pub rationale: String,
}

/// One step of a work-up with what it cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    /// The step as one line ("Order: ECG, troponin").
    pub step: String,
    /// What it was charged.
    pub cost: Money,
}

/// Everything the debrief shows; available once the episode has ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Debrief {
    /// The case id.
    pub case_id: String,
    /// The case's title.
    pub title: String,
    /// Specialty.
    pub specialty: String,
    /// Difficulty tier.
    pub difficulty: String,
    /// The episode seed.
    pub seed: u64,
    /// How it ended.
    pub ending: Ending,
    /// The diagnosis the student gave.
    pub diagnosis_given: Option<String>,
    /// The judge's verdict, if a diagnosis was given.
    pub verdict: Option<Verdict>,
    /// The true diagnosis.
    pub true_diagnosis: String,
    /// Its ICD-10-CM code.
    pub icd10: String,
    /// What the student did, turn by turn.
    pub path: Vec<PathStep>,
    /// The student's costs and turns.
    pub meter: Meter,
    /// The case's reference work-up.
    pub reference_path: Vec<PathStep>,
    /// What the reference work-up costs, billed the same way.
    pub reference_total: Money,
    /// Tests ordered that added nothing: normal results that are not key findings, and repeats.
    pub low_yield: Vec<String>,
    /// Key findings uncovered.
    pub key_found: Vec<String>,
    /// Key findings never uncovered.
    pub key_missed: Vec<String>,
    /// The case's teaching points.
    pub teaching_points: Vec<String>,
    /// How the patient saw the encounter, and what a bias did if one was set.
    pub patient_note: Option<String>,
}

/// How the app drives an episode: the embedded engine or, later, a `dxsim serve` over HTTP.
///
/// Calls are synchronous and return when the reply is in; a failed call leaves the episode unchanged.
pub trait EpisodeDriver {
    /// Starts a new episode (ending any current one) and returns its presentation.
    fn reset(&mut self, request: &CaseRequest) -> Result<Turn, DriverError>;
    /// Takes one action.
    fn step(&mut self, action: &PlayerAction) -> Result<Turn, DriverError>;
    /// Every turn of the current episode so far, the presentation first.
    fn transcript(&self) -> Vec<Turn>;
    /// The current episode as text that [`EpisodeDriver::resume`] accepts (the engine's event log).
    fn save(&self) -> Result<String, DriverError>;
    /// Rebuilds an episode from [`EpisodeDriver::save`]'s text and makes it current; its turns are
    /// then in [`EpisodeDriver::transcript`].
    fn resume(&mut self, saved: &str) -> Result<(), DriverError>;
    /// Orderable tests matching a typed query, best first (at most `limit`).
    fn search_catalogue(&self, query: &str, limit: usize) -> Vec<CatalogueEntry>;
    /// The systems that can be examined.
    fn exam_systems(&self) -> Vec<ExamSystem>;
    /// The debrief of the current episode, once it has ended.
    fn debrief(&self) -> Result<Debrief, DriverError>;
}

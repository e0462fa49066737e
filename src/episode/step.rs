//! What a step returns, in Gymnasium's shape: observation, reward, terminated, truncated, info.

use dxsim_gatekeeper::Money;
use dxsim_gatekeeper::billing::{Charge, CostTotals};
use dxsim_gatekeeper::case::{Diagnosis, Difficulty, Presentation};
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply};
use serde::Serialize;

use crate::judge::Verdict;
use crate::patient::bias::{BiasKind, PatientMetrics, Refusals};

/// What the doctor observes after a reset or a step.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Observation {
    /// Everything said this turn, as text for an agent or a person.
    pub text: String,
    /// The same, structured: one entry per answer, finding or test report.
    pub findings: Vec<Finding>,
    /// Turns taken so far.
    pub turn: u32,
}

/// One structured piece of an observation.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// The presentation, at reset: age, sex, setting and summary, nothing else about the case.
    Presentation {
        /// What the doctor is shown.
        case: Presentation,
    },
    /// The patient's answer.
    Answer {
        /// What the patient said.
        text: String,
        /// Ids of the history items it revealed (`onset`, `associated_symptoms-2`), in case order;
        /// empty for "I don't know".
        items: Vec<String>,
    },
    /// The patient refused an ordered test: nothing was done or charged, the turn was spent. The
    /// patient may accept it when ordered again after the doctor explains why it is needed.
    Refusal {
        /// The catalogue id of the test refused.
        test: String,
        /// What the patient said.
        text: String,
    },
    /// An examination reply.
    Exam {
        /// The reply.
        reply: ExamReply,
    },
    /// An order reply.
    Order {
        /// The reply.
        reply: OrderReply,
    },
    /// The diagnosis was recorded; the episode is over.
    DiagnosisRecorded {
        /// The diagnosis as given.
        diagnosis: String,
    },
    /// The answer was not one final diagnosis (several alternatives, or only hedged ones) and was
    /// not recorded; nothing was charged and the episode goes on.
    DiagnosisRefused {
        /// The answer as given.
        diagnosis: String,
        /// Why, and what to do instead.
        reason: String,
    },
}

/// Everything about the episode that is not the observation.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Info {
    /// The case's opaque handle: the same for every episode of the case, carrying none of its words
    /// (its id, specialty and difficulty are in the outcome, once the episode has ended).
    pub case_handle: String,
    /// Turns taken.
    pub turn: u32,
    /// The turn limit.
    pub turn_limit: u32,
    /// Costs so far.
    pub cost: CostTotals,
    /// What this turn was charged.
    pub charges: Vec<Charge>,
    /// Budget left under the cap, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_left: Option<Money>,
    /// The result, present only once the episode has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<EpisodeOutcome>,
}

/// How an episode ended: revealed only after it has.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EpisodeOutcome {
    /// The case played: its id, title, specialty and difficulty, hidden until now.
    pub case: CaseReveal,
    /// The diagnosis the doctor gave, if any.
    pub diagnosis_given: Option<String>,
    /// The judge's verdict on it.
    pub verdict: Option<Verdict>,
    /// The reference diagnosis.
    pub reference: Diagnosis,
    /// Key findings the doctor uncovered.
    pub key_findings_revealed: Vec<String>,
    /// Key findings never uncovered.
    pub key_findings_missed: Vec<String>,
    /// Ids of everything shown that was synthesised rather than taken from the case.
    pub synthetic: Vec<String>,
    /// The patient's view of the encounter, 1–10.
    pub patient: PatientMetrics,
    /// The bias the patient carried, if any: its kind, the belief it pushed, whether it acted, and
    /// the tests it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<BiasReport>,
}

/// The authors' fields of the case an episode played, revealed when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CaseReveal {
    /// The case id.
    pub id: String,
    /// The case's title.
    pub title: String,
    /// Its specialty.
    pub specialty: String,
    /// Its difficulty tier.
    pub difficulty: Difficulty,
}

impl CaseReveal {
    /// The authors' fields of `case`.
    pub fn of(case: &dxsim_gatekeeper::Case) -> CaseReveal {
        CaseReveal {
            id: case.id.clone(),
            title: case.title.clone(),
            specialty: case.specialty.clone(),
            difficulty: case.difficulty,
        }
    }
}

/// What a patient bias did in an episode.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct BiasReport {
    /// The bias.
    pub kind: BiasKind,
    /// The belief a cognitive bias pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub belief: Option<String>,
    /// Whether it acted (an implicit bias acts only on its target group).
    pub triggered: bool,
    /// The tests the patient refused, and those accepted after the doctor explained.
    pub refusals: Refusals,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Step {
    /// What the doctor observes.
    pub observation: Observation,
    /// Reward for this step.
    pub reward: f64,
    /// The episode ended by a diagnosis.
    pub terminated: bool,
    /// The episode ended by the turn limit or the budget cap.
    pub truncated: bool,
    /// Everything else.
    pub info: Info,
}

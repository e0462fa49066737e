//! One evaluated episode as it is stored and written to `episodes.jsonl`: who played what, how it
//! ended, what it cost, what the patient thought, and the full transcript.

use dxsim_gatekeeper::case::Difficulty;
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::episode::TranscriptEntry;
use crate::judge::llm::JuryVote;
use crate::llm::EpisodeUsage;
use crate::patient::bias::PatientMetrics;

/// How an evaluated episode ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// The doctor committed to a diagnosis.
    Diagnosed,
    /// The turn limit or the budget cap ended it first (scored incorrect).
    Truncated,
    /// The agent failed (malformed output, a crash, a timeout); the record says why. Scored incorrect.
    Error,
}

/// The costs of one episode, in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordCost {
    /// Everything charged.
    pub total_usd: f64,
    /// Visit fees.
    pub visits_usd: f64,
    /// Test charges.
    pub tests_usd: f64,
    /// Visits charged.
    pub visit_count: u32,
    /// Tests charged, repeats included.
    pub test_count: u32,
    /// Repeated tests.
    pub repeat_count: u32,
}

/// One evaluated episode: an agent, a case, a patient bias and a seed, and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// The episode's key in its run, `agent|case|bias|seed`: unique, and stable across resumes and
    /// shards.
    pub key: String,
    /// The agent spec as given (`oracle`, `random`, `cmd:…`, `http:…`).
    pub agent: String,
    /// The case played.
    pub case_id: String,
    /// The case's specialty.
    pub specialty: String,
    /// The case's difficulty.
    pub difficulty: Difficulty,
    /// The patient bias, as given (`none`, `recency`, `gender=female`, …).
    pub bias: String,
    /// The episode seed.
    pub seed: u64,
    /// How it ended.
    pub status: RecordStatus,
    /// What went wrong, for [`RecordStatus::Error`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The diagnosis given, if any.
    pub diagnosis: Option<String>,
    /// The reference diagnosis.
    pub reference: String,
    /// The reference's ICD-10-CM code.
    pub reference_icd10: String,
    /// The judge's score, 1–5, when a diagnosis was given.
    pub score: Option<u8>,
    /// Whether the diagnosis was judged correct (score ≥ 4). False for truncated and failed episodes.
    pub correct: bool,
    /// The judge's one-line reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// When the LLM judge scored the episode, the rule-based judge's score, for comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_score: Option<u8>,
    /// When a jury scored the episode, every juror's vote (the record of any disagreement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jury: Option<Vec<JuryVote>>,
    /// Costs.
    pub cost: RecordCost,
    /// Turns taken.
    pub turns: u32,
    /// The patient's view of the encounter (absent when the agent failed before the end).
    pub patient: Option<PatientMetrics>,
    /// Whether the patient's bias acted (absent without a bias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias_triggered: Option<bool>,
    /// Tests the patient refused at least once (a biased patient): care not given, which the cost
    /// alone would hide.
    #[serde(default)]
    pub tests_refused: u32,
    /// Of those, the tests accepted after the doctor explained why they were needed.
    #[serde(default)]
    pub tests_accepted_after_explanation: u32,
    /// Key findings uncovered, and how many the case has.
    pub key_findings_revealed: u32,
    /// Key findings never uncovered.
    pub key_findings_missed: u32,
    /// Ids of everything shown that was synthesised rather than taken from the case.
    pub synthetic: Vec<String>,
    /// Every action, in order.
    pub actions: Vec<Action>,
    /// The transcript: each action and the text it got back.
    pub transcript: Vec<TranscriptEntry>,
    /// Calls and tokens spent on language models in this episode, by role (LLM agents, an LLM
    /// patient).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_usage: Option<EpisodeUsage>,
    /// The LLM panel's deliberation, one JSON object per turn (empty for other agents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliberation: Vec<serde_json::Value>,
    /// Wall-clock time the episode took, milliseconds (not part of any summary).
    pub duration_ms: u64,
}

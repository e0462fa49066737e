//! Episode options: which case, the limits, the cost parameters and the reward.

use dxsim_gatekeeper::case::{Case, Difficulty, Split};

use crate::library::CaseSource;
use crate::patient::bias::{BiasSpec, DoctorProfile};
use dxsim_gatekeeper::{CostConfig, Money};
use serde::{Deserialize, Serialize};

/// How an episode is set up; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EpisodeOptions {
    /// Which case to play.
    pub case: CaseSelector,
    /// Turns before the episode is truncated (1 to 10,000).
    #[schemars(range(min = 1, max = MAX_TURN_LIMIT))]
    pub turn_limit: u32,
    /// Total cost (USD) beyond which the episode is truncated; none by default (above zero, at
    /// most 1,000,000).
    #[schemars(range(max = MAX_USD))]
    pub budget_cap_usd: Option<f64>,
    /// Fee per visit (an unbroken run of ask/examine turns), USD (0 to 1,000,000).
    #[schemars(range(min = 0.0, max = MAX_USD))]
    pub visit_fee_usd: f64,
    /// Multiplier on every catalogue price (1.0 = Medicare 2025; 0 to 1,000).
    #[schemars(range(min = 0.0, max = MAX_FACTOR))]
    pub price_multiplier: f64,
    /// Reward lost per dollar spent (0 to 1,000).
    #[schemars(range(min = 0.0, max = MAX_FACTOR))]
    pub cost_weight: f64,
    /// Whether revealing a key finding earns [`EpisodeOptions::shaping_bonus`].
    pub dense_shaping: bool,
    /// Reward per key finding revealed, when dense shaping is on (0 to 1,000).
    #[schemars(range(min = 0.0, max = MAX_FACTOR))]
    pub shaping_bonus: f64,
    /// A bias the patient carries (see [`crate::patient::bias`]); none by default.
    pub patient_bias: Option<BiasSpec>,
    /// Who answers the doctor's questions: the rule-based patient, or a language model (the caller
    /// then fetches each reply, see [`crate::episode::Env::patient_prompt`]).
    pub patient_backend: PatientBackend,
    /// Who writes the examination findings and text reports the case does not record: the
    /// rule-based gatekeeper's normal templates, or a language model that sees the whole case (the
    /// caller fetches each reply, see [`crate::episode::Env::model_prompt`]).
    pub gatekeeper_backend: GatekeeperBackend,
    /// The doctor's declared attributes, which implicit patient biases react to.
    pub doctor: DoctorProfile,
    /// Multiple-choice mode: a case imported with answer options (AgentClinic's NEJM form) shows
    /// its question, options and image reference in the presentation. Cases without options are
    /// unaffected.
    pub multiple_choice: bool,
    /// What a diagnosis that is not one final diagnosis (several alternatives, or only hedged ones:
    /// "PE or pneumonia", "possible PE") does: refused at no cost while the episode goes on (the
    /// default), or scored on its first or its lowest-scoring condition.
    pub multiple_diagnoses: MultipleDiagnoses,
}

/// The most turns an episode may be given.
pub const MAX_TURN_LIMIT: u32 = 10_000;
/// The largest amount of money an option may name, in USD (a visit fee or a budget cap).
pub const MAX_USD: f64 = 1_000_000.0;
/// The largest price multiplier, cost weight or shaping bonus.
pub const MAX_FACTOR: f64 = 1_000.0;
/// The longest text a client may put in an option (a belief, a bias target, a doctor attribute,
/// a case id or specialty), in characters.
pub const MAX_OPTION_TEXT_CHARS: usize = 500;

/// What an answer naming several alternatives, or only hedged ones, does (DESIGN.md §3.7).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MultipleDiagnoses {
    /// Not recorded: the reply asks for one final diagnosis, nothing is charged, the turn counts and
    /// the episode goes on.
    #[default]
    Refuse,
    /// Recorded and scored on the first condition named.
    ScoreFirst,
    /// Recorded and scored on the condition that scores lowest.
    ScoreLowest,
}

impl Default for EpisodeOptions {
    fn default() -> Self {
        EpisodeOptions {
            case: CaseSelector::default(),
            turn_limit: 40,
            budget_cap_usd: None,
            visit_fee_usd: 300.0,
            price_multiplier: 1.0,
            cost_weight: 0.0,
            dense_shaping: false,
            shaping_bonus: 0.05,
            patient_bias: None,
            patient_backend: PatientBackend::RuleBased,
            gatekeeper_backend: GatekeeperBackend::RuleBased,
            doctor: DoctorProfile::default(),
            multiple_choice: false,
            multiple_diagnoses: MultipleDiagnoses::Refuse,
        }
    }
}

/// Who plays the patient.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PatientBackend {
    /// Answers from the case's history by rule (deterministic; the default).
    #[default]
    RuleBased,
    /// A language model given only the presentation and the history; its replies are guarded.
    Llm,
}

/// Who writes the findings the case does not record.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GatekeeperBackend {
    /// Normal-finding templates (deterministic; the default).
    #[default]
    RuleBased,
    /// A language model given the whole case, for examinations and text-reported tests; numeric
    /// results stay seeded normal values.
    Llm,
}

/// Which case an episode plays: a given id, or a seeded random choice among the cases that match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CaseSelector {
    /// A case id; the other fields are then ignored.
    #[schemars(length(max = 500))]
    pub id: Option<String>,
    /// Only cases on this side of the train/test split.
    pub split: Option<Split>,
    /// Only cases of this specialty.
    #[schemars(length(max = 500))]
    pub specialty: Option<String>,
    /// Only cases of this difficulty.
    pub difficulty: Option<Difficulty>,
    /// Only cases of the library with this name (a server or command given several: `builtin`,
    /// or the name of a directory or file of cases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 500))]
    pub library: Option<String>,
}

impl CaseSelector {
    /// Whether `case`, drawn from `source`, passes the filters (split, specialty, difficulty,
    /// library; the id aside).
    pub fn matches(&self, source: &dyn CaseSource, case: &Case) -> bool {
        self.library
            .as_deref()
            .is_none_or(|library| source.library_of(&case.id) == Some(library))
            && self.split.is_none_or(|split| Split::of(&case.id) == split)
            && self
                .specialty
                .as_ref()
                .is_none_or(|specialty| &case.specialty == specialty)
            && self
                .difficulty
                .is_none_or(|difficulty| case.difficulty == difficulty)
    }

    /// Whether no filter is set, so every case matches.
    pub fn is_unfiltered(&self) -> bool {
        self.split.is_none()
            && self.specialty.is_none()
            && self.difficulty.is_none()
            && self.library.is_none()
    }
}

/// An option out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("option `{field}` is {value}: {expected}")]
pub struct OptionError {
    /// The option at fault.
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// What it must be.
    pub expected: &'static str,
}

/// A number as an error message shows it: huge and tiny figures in exponent form ("1e300").
fn shown(value: f64) -> String {
    if value != 0.0 && !(1e-6..1e9).contains(&value.abs()) {
        format!("{value:e}")
    } else {
        value.to_string()
    }
}

impl EpisodeOptions {
    /// Checks every option's range.
    pub fn validate(&self) -> Result<(), OptionError> {
        let fail = |field, value: String, expected| {
            Err(OptionError {
                field,
                value,
                expected,
            })
        };
        if !(1..=MAX_TURN_LIMIT).contains(&self.turn_limit) {
            return fail("turn_limit", self.turn_limit.to_string(), "from 1 to 10000");
        }
        let bounded = [
            (
                "visit_fee_usd",
                self.visit_fee_usd,
                MAX_USD,
                "from 0 to 1000000 (USD)",
            ),
            (
                "price_multiplier",
                self.price_multiplier,
                MAX_FACTOR,
                "from 0 to 1000",
            ),
            (
                "cost_weight",
                self.cost_weight,
                MAX_FACTOR,
                "from 0 to 1000",
            ),
            (
                "shaping_bonus",
                self.shaping_bonus,
                MAX_FACTOR,
                "from 0 to 1000",
            ),
        ];
        for (field, value, max, expected) in bounded {
            if !value.is_finite() || !(0.0..=max).contains(&value) {
                return fail(field, shown(value), expected);
            }
        }
        for (field, text) in self.texts() {
            let chars = text.chars().count();
            if chars > MAX_OPTION_TEXT_CHARS {
                return fail(
                    field,
                    format!("{chars} characters long"),
                    "at most 500 characters",
                );
            }
        }
        if let Some(bias) = &self.patient_bias {
            if !bias.kind.is_cognitive()
                && bias
                    .target
                    .as_deref()
                    .is_none_or(|target| target.trim().is_empty())
            {
                return fail(
                    "patient_bias.target",
                    "missing".into(),
                    "the group an implicit bias reacts to (e.g. \"female\")",
                );
            }
            if bias.kind.is_cognitive() && bias.target.is_some() {
                return fail(
                    "patient_bias.target",
                    "set".into(),
                    "only for implicit biases; a cognitive bias takes `belief`",
                );
            }
        }
        if let Some(cap) = self.budget_cap_usd {
            if !cap.is_finite() || cap <= 0.0 || cap > MAX_USD {
                return fail(
                    "budget_cap_usd",
                    shown(cap),
                    "above 0 and at most 1000000 (USD)",
                );
            }
        }
        Ok(())
    }

    /// Every free-text option a client sets, by its field name.
    fn texts(&self) -> Vec<(&'static str, &str)> {
        let doctor = &self.doctor;
        let mut texts = vec![
            ("case.id", self.case.id.as_deref()),
            ("case.specialty", self.case.specialty.as_deref()),
            ("doctor.gender", doctor.gender.as_deref()),
            ("doctor.race", doctor.race.as_deref()),
            (
                "doctor.sexual_orientation",
                doctor.sexual_orientation.as_deref(),
            ),
            ("doctor.cultural", doctor.cultural.as_deref()),
            ("doctor.education", doctor.education.as_deref()),
            ("doctor.religion", doctor.religion.as_deref()),
            ("doctor.socioeconomic", doctor.socioeconomic.as_deref()),
        ];
        if let Some(bias) = &self.patient_bias {
            texts.push(("patient_bias.belief", bias.belief.as_deref()));
            texts.push(("patient_bias.target", bias.target.as_deref()));
        }
        texts
            .into_iter()
            .filter_map(|(field, text)| text.map(|text| (field, text)))
            .collect()
    }

    /// The billing parameters.
    pub fn costs(&self) -> CostConfig {
        CostConfig {
            visit_fee: Money::from_dollars(self.visit_fee_usd),
            price_multiplier: self.price_multiplier,
        }
    }

    /// The budget cap in cents, if any.
    pub fn budget_cap(&self) -> Option<Money> {
        self.budget_cap_usd.map(Money::from_dollars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_sdbench() {
        let options = EpisodeOptions::default();
        assert_eq!(options.costs().visit_fee, Money(30_000));
        assert_eq!(options.cost_weight, 0.0);
        assert!(options.validate().is_ok());
    }

    #[test]
    fn out_of_range_options_name_the_field() {
        let options = EpisodeOptions {
            price_multiplier: -1.0,
            ..EpisodeOptions::default()
        };
        let error = options.validate().expect_err("negative multiplier");
        assert_eq!(error.field, "price_multiplier");
        assert!(
            EpisodeOptions {
                turn_limit: 0,
                ..EpisodeOptions::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            EpisodeOptions {
                budget_cap_usd: Some(f64::NAN),
                ..EpisodeOptions::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn unknown_option_is_rejected_when_parsed() {
        let parsed: Result<EpisodeOptions, _> = serde_json::from_str(r#"{"turn_limt": 5}"#);
        assert!(parsed.is_err());
        let parsed: EpisodeOptions =
            serde_json::from_str(r#"{"turn_limit": 5, "case": {"split": "test"}}"#).expect("valid");
        assert_eq!(parsed.turn_limit, 5);
        assert_eq!(parsed.case.split, Some(Split::Test));
    }
}

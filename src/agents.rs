//! Built-in doctors: the oracle (reads the hidden case: a labelled upper bound and a test fixture) and
//! a seeded random doctor (a lower bound, and a fuzzer for the engine); adversaries of the score are in
//! [`gaming`]; the LLM doctor and panel are in [`llm`].

pub mod gaming;
pub mod llm;

use dxsim_gatekeeper::case::HistoryTopic;
use dxsim_gatekeeper::{Case, Catalogue};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::action::Action;
use crate::episode::{Finding, Observation, oracle_actions};

/// A doctor that chooses one action per observation.
pub trait Doctor {
    /// The next action, given what was just observed.
    fn act(&mut self, observation: &Observation) -> Action;
}

/// Follows the case's reference work-up, then names its diagnosis. A test the patient refuses is
/// explained and ordered again at once, as a clinician would. It reads the hidden case, so it is an
/// upper bound, never an agent to compare with fairly.
#[derive(Debug, Clone)]
pub struct OracleDoctor {
    script: std::collections::VecDeque<Action>,
    diagnosis: Action,
}

impl OracleDoctor {
    /// The oracle for `case`.
    pub fn new(case: &Case) -> OracleDoctor {
        let script = oracle_actions(case);
        let diagnosis = script.last().cloned().unwrap_or_else(|| Action::Diagnose {
            diagnosis: case.diagnosis.name.clone(),
            icd10: None,
        });
        OracleDoctor {
            script: script.into(),
            diagnosis,
        }
    }
}

impl Doctor for OracleDoctor {
    fn act(&mut self, observation: &Observation) -> Action {
        let refused: Vec<String> = observation
            .findings
            .iter()
            .filter_map(|finding| match finding {
                Finding::Refusal { test, .. } => Some(test.clone()),
                _ => None,
            })
            .collect();
        if !refused.is_empty() {
            self.script.push_front(Action::Order { tests: refused });
            return Action::Ask {
                text: "I understand you'd rather not, but we need it because it is the only way to rule out something serious and treat you safely.".to_string(),
            };
        }
        self.script
            .pop_front()
            .unwrap_or_else(|| self.diagnosis.clone())
    }
}

/// One plain question per history topic, the random doctor's repertoire (and the leakage walk's).
pub const TOPIC_QUESTIONS: &[(HistoryTopic, &str)] = &[
    (HistoryTopic::Onset, "When did this start?"),
    (
        HistoryTopic::Course,
        "Has it got better or worse since then?",
    ),
    (
        HistoryTopic::Character,
        "Can you describe what it feels like?",
    ),
    (
        HistoryTopic::Location,
        "Where exactly is it, and does it spread anywhere?",
    ),
    (
        HistoryTopic::Severity,
        "How bad is it on a scale of one to ten?",
    ),
    (
        HistoryTopic::ModifyingFactors,
        "Does anything make it better or worse?",
    ),
    (
        HistoryTopic::AssociatedSymptoms,
        "Have you noticed any other symptoms?",
    ),
    (
        HistoryTopic::PastHistory,
        "What medical conditions have you had in the past?",
    ),
    (HistoryTopic::Medications, "What medications do you take?"),
    (HistoryTopic::Allergies, "Do you have any allergies?"),
    (HistoryTopic::Family, "Does anything run in your family?"),
    (
        HistoryTopic::Social,
        "Do you smoke or drink, and what is your job?",
    ),
    (
        HistoryTopic::Sexual,
        "Can you tell me about your sexual partners?",
    ),
    (
        HistoryTopic::Obstetric,
        "When was your last period, and could you be pregnant?",
    ),
    (
        HistoryTopic::Travel,
        "Have you travelled anywhere recently?",
    ),
    (
        HistoryTopic::Exposures,
        "Have you been exposed to anyone sick, or to animals or chemicals?",
    ),
    (
        HistoryTopic::ReviewOfSystems,
        "Any changes in weight, appetite, sleep, bowels or urine?",
    ),
];

/// Picks actions at random: questions, examinations and tests, then a random diagnosis from the
/// library after `patience` turns.
#[derive(Debug, Clone)]
pub struct RandomDoctor {
    rng: ChaCha8Rng,
    tests: Vec<String>,
    systems: Vec<String>,
    diagnoses: Vec<String>,
    patience: u32,
    turns: u32,
}

impl RandomDoctor {
    /// A random doctor drawing tests from `catalogue` and diagnoses from `diagnoses`, seeded by `seed`.
    pub fn new(
        catalogue: &Catalogue,
        diagnoses: Vec<String>,
        patience: u32,
        seed: u64,
    ) -> RandomDoctor {
        RandomDoctor {
            rng: ChaCha8Rng::seed_from_u64(seed),
            tests: catalogue
                .tests()
                .iter()
                .map(|test| test.id.clone())
                .collect(),
            systems: catalogue
                .systems()
                .iter()
                .map(|system| system.id.clone())
                .collect(),
            diagnoses,
            patience,
            turns: 0,
        }
    }
}

impl Doctor for RandomDoctor {
    fn act(&mut self, _observation: &Observation) -> Action {
        self.turns += 1;
        if self.turns > self.patience {
            let diagnosis = self
                .diagnoses
                .choose(&mut self.rng)
                .cloned()
                .unwrap_or_else(|| "unknown".into());
            return Action::Diagnose {
                diagnosis,
                icd10: None,
            };
        }
        match self.rng.random_range(0..3) {
            0 => {
                let (_, question) = TOPIC_QUESTIONS
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or(TOPIC_QUESTIONS[0]);
                Action::Ask {
                    text: question.to_string(),
                }
            }
            1 => Action::Examine {
                system: self
                    .systems
                    .choose(&mut self.rng)
                    .cloned()
                    .unwrap_or_else(|| "general".into()),
            },
            _ => {
                let count = self.rng.random_range(1..=3);
                let tests = (0..count)
                    .filter_map(|_| self.tests.choose(&mut self.rng).cloned())
                    .collect();
                Action::Order { tests }
            }
        }
    }
}

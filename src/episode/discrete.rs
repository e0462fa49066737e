//! Discrete mode for classic RL (PPO, DQN): a fixed, versioned action table and a fixed-length numeric
//! observation.
//!
//! # Action table (`dxsim-discrete-v1`)
//! Indices run through four blocks, in this order:
//! 1. `ask` one history topic — 17 actions, in [`HistoryTopic::ALL`] order, each a plain question
//!    ([`TOPIC_QUESTIONS`]);
//! 2. `examine` one system — one per catalogue exam system, in catalogue order;
//! 3. `order` one test — one per catalogue test, in catalogue order;
//! 4. `diagnose` one candidate — every distinct diagnosis of the library, sorted by name, given with its
//!    ICD-10-CM code.
//!
//! The table's [`DiscreteTable::version`] is `dxsim-discrete-v1+` and a hash of every entry, so a policy
//! trained on one table refuses silently shifted indices after the catalogue or library grows.
//!
//! # Observation
//! `f32` values, in blocks: one per topic (0 not yet heard, 1 heard), one per exam system and one per
//! test (0 not done, 1 normal, 2 abnormal), then the total cost so far in thousands of dollars and the
//! fraction of the turn limit used. The mapping to text mode is exact: a discrete step is the text step
//! of the action [`DiscreteTable::action`] returns.

use std::collections::BTreeSet;

use dxsim_gatekeeper::case::HistoryTopic;
use dxsim_gatekeeper::text::stable_hash;
use dxsim_gatekeeper::{Case, Catalogue};

use crate::action::Action;
use crate::agents::TOPIC_QUESTIONS;
use crate::library::CaseLibrary;

/// The table format's version prefix.
pub const TABLE_VERSION: &str = "dxsim-discrete-v1";

/// The fixed action table and observation layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscreteTable {
    test_prices: Vec<dxsim_gatekeeper::Money>,
    systems: Vec<String>,
    tests: Vec<String>,
    diagnoses: Vec<(String, String)>,
    version: String,
    /// Observation position of each exam system and test id.
    positions: std::collections::HashMap<String, usize>,
}

/// What the state encoder reads: what an episode has revealed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RevealedView<'a> {
    pub(crate) case: &'a Case,
    pub(crate) history_items: &'a BTreeSet<usize>,
    pub(crate) system_flags: &'a std::collections::BTreeMap<String, bool>,
    pub(crate) test_flags: &'a std::collections::BTreeMap<String, bool>,
    pub(crate) cost_dollars: f64,
    pub(crate) turn: u32,
    pub(crate) turn_limit: u32,
}

impl DiscreteTable {
    /// The table for a catalogue and a case library.
    pub fn new(catalogue: &Catalogue, library: &CaseLibrary) -> DiscreteTable {
        let systems: Vec<String> = catalogue
            .systems()
            .iter()
            .map(|system| system.id.clone())
            .collect();
        let tests: Vec<String> = catalogue
            .tests()
            .iter()
            .map(|test| test.id.clone())
            .collect();
        let mut diagnoses: Vec<(String, String)> = library
            .cases()
            .iter()
            .map(|case| (case.diagnosis.name.clone(), case.diagnosis.icd10.clone()))
            .collect();
        diagnoses.sort();
        diagnoses.dedup_by(|a, b| a.0 == b.0);
        let mut fingerprint = String::new();
        for entry in HistoryTopic::ALL
            .iter()
            .map(|topic| topic.as_str())
            .chain(systems.iter().map(String::as_str))
            .chain(tests.iter().map(String::as_str))
        {
            fingerprint.push_str(entry);
            fingerprint.push('\n');
        }
        for (name, code) in &diagnoses {
            fingerprint.push_str(name);
            fingerprint.push_str(code);
            fingerprint.push('\n');
        }
        let version = format!(
            "{TABLE_VERSION}+{:016x}",
            stable_hash(fingerprint.as_bytes())
        );
        let topics = HistoryTopic::ALL.len();
        let positions = systems
            .iter()
            .enumerate()
            .map(|(index, id)| (format!("system:{id}"), topics + index))
            .chain(
                tests
                    .iter()
                    .enumerate()
                    .map(|(index, id)| (format!("test:{id}"), topics + systems.len() + index)),
            )
            .collect();
        let test_prices = catalogue.tests().iter().map(|test| test.price).collect();
        DiscreteTable {
            test_prices,
            systems,
            tests,
            diagnoses,
            version,
            positions,
        }
    }

    /// The version string a policy should store and check.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of discrete actions.
    pub fn action_count(&self) -> usize {
        HistoryTopic::ALL.len() + self.systems.len() + self.tests.len() + self.diagnoses.len()
    }

    /// The sizes of the four blocks: ask, examine, order, diagnose.
    pub fn blocks(&self) -> [usize; 4] {
        [
            HistoryTopic::ALL.len(),
            self.systems.len(),
            self.tests.len(),
            self.diagnoses.len(),
        ]
    }

    /// Number of actions before the diagnosis block (ask, examine, order).
    pub fn playable_count(&self) -> usize {
        HistoryTopic::ALL.len() + self.systems.len() + self.tests.len()
    }

    /// Number of ask and examine actions (the ones billed as a visit).
    pub(crate) fn consultation_count(&self) -> usize {
        HistoryTopic::ALL.len() + self.systems.len()
    }

    /// The catalogue price of the test an order action orders (zero for other actions).
    pub(crate) fn test_price(&self, index: usize) -> dxsim_gatekeeper::Money {
        index
            .checked_sub(self.consultation_count())
            .and_then(|test| self.test_prices.get(test))
            .copied()
            .unwrap_or_default()
    }

    /// Length of the observation vector.
    pub fn observation_len(&self) -> usize {
        HistoryTopic::ALL.len() + self.systems.len() + self.tests.len() + 2
    }

    /// The action behind an index, or an error naming the table's size past its end.
    pub fn checked_action(&self, index: usize) -> Result<Action, super::EnvError> {
        self.action(index).ok_or(super::EnvError::ActionOutOfRange {
            index,
            count: self.action_count(),
        })
    }

    /// The action behind an index, or `None` past the end of the table.
    pub fn action(&self, index: usize) -> Option<Action> {
        let topics = HistoryTopic::ALL.len();
        let systems = topics + self.systems.len();
        let tests = systems + self.tests.len();
        Some(if index < topics {
            let topic = HistoryTopic::ALL[index];
            let question = TOPIC_QUESTIONS
                .iter()
                .find(|(asked, _)| *asked == topic)
                .map_or("Tell me more.", |(_, question)| question);
            Action::Ask {
                text: question.to_string(),
            }
        } else if index < systems {
            Action::Examine {
                system: self.systems[index - topics].clone(),
            }
        } else if index < tests {
            Action::Order {
                tests: vec![self.tests[index - systems].clone()],
            }
        } else {
            let (name, code) = self.diagnoses.get(index - tests)?;
            Action::Diagnose {
                diagnosis: name.clone(),
                icd10: Some(code.clone()),
            }
        })
    }

    /// A short label for an index (`ask:onset`, `order:cbc`, `diagnose:Gout`).
    pub fn label(&self, index: usize) -> Option<String> {
        Some(match self.action(index)? {
            Action::Ask { .. } => format!("ask:{}", HistoryTopic::ALL[index].as_str()),
            Action::Examine { system } => format!("examine:{system}"),
            Action::Order { tests } => format!("order:{}", tests.join(",")),
            Action::Diagnose { diagnosis, .. } => format!("diagnose:{diagnosis}"),
        })
    }

    /// Writes the observation of `view` into `out` (of length [`Self::observation_len`]).
    pub(crate) fn encode(&self, view: RevealedView<'_>, out: &mut [f32]) {
        out.fill(0.0);
        for &item in view.history_items {
            if let Some(position) = view
                .case
                .history
                .get(item)
                .and_then(|h| HistoryTopic::ALL.iter().position(|t| *t == h.topic))
            {
                out[position] = 1.0;
            }
        }
        // Only what was revealed is touched, so encoding costs the same whatever the catalogue's size.
        let flag = |abnormal: bool| if abnormal { 2.0 } else { 1.0 };
        let mut key = String::with_capacity(48);
        for (kind, flags) in [("system:", view.system_flags), ("test:", view.test_flags)] {
            for (id, &abnormal) in flags {
                key.clear();
                key.push_str(kind);
                key.push_str(id);
                if let Some(&position) = self.positions.get(&key) {
                    out[position] = flag(abnormal);
                }
            }
        }
        let end = out.len();
        out[end - 2] = (view.cost_dollars / 1000.0) as f32;
        out[end - 1] = view.turn as f32 / view.turn_limit.max(1) as f32;
    }
}

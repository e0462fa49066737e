//! The patient's measuring set: doctors' questions about built-in cases, each with the history items
//! a sensible patient would give in answer, and the patient's recall, precision and none-accuracy on
//! them.
//!
//! `questions.csv` was written from the case files by authors who never saw the matcher, before it
//! was rebuilt: 10 questions for each of 66 cases, one in four about something the case does not
//! record (`expect` empty: the patient should say it does not know). Each row names its `kind`
//! (specific, topic, lay, inflection, typo, spelling, everyday, bundle, unrecorded). The set is split
//! into halves **by case** with a fixed seed ([`SPLIT_SEED`]), so the test half asks about cases the
//! matcher was never tuned on. It is embedded so `dxsim patient measure` works anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use dxsim_gatekeeper::Case;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::RuleBasedPatient;
pub use crate::judge::calibration::Split;

const QUESTIONS_CSV: &str = include_str!("questions.csv");

/// The seed of the dev/test split: fixed, so every run and every reader splits the same way.
pub const SPLIT_SEED: &str = "dxsim-patient-questions-2026";

/// One question of the set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PatientQuestion {
    /// The case asked about.
    pub case: String,
    /// The doctor's question, as typed.
    pub question: String,
    /// Ids of the history items that answer it, `|`-separated; empty when the case records nothing
    /// on it.
    pub expect: String,
    /// What the question tests (specific, topic, lay, typo, bundle, unrecorded …).
    pub kind: String,
}

impl PatientQuestion {
    /// The half this question's case falls in.
    pub fn split(&self) -> Split {
        Split::of(&format!("{SPLIT_SEED}\u{1f}{}", self.case))
    }

    /// The expected item ids.
    pub fn expected(&self) -> BTreeSet<&str> {
        self.expect
            .split('|')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .collect()
    }
}

/// The embedded measuring set.
///
/// # Panics
/// Never in a released build: the embedded file is parsed by the test suite.
pub fn questions() -> Vec<PatientQuestion> {
    parse(QUESTIONS_CSV)
        .unwrap_or_else(|error| panic!("the embedded questions.csv is broken: {error}"))
}

/// Parses a measuring set in the same CSV layout (for held-out sets kept outside the binary).
pub fn parse(text: &str) -> Result<Vec<PatientQuestion>, csv::Error> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect()
}

/// Why a set could not be measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    /// A question names a case the library does not hold.
    #[error("question {row}: no case `{case}` in the library")]
    UnknownCase {
        /// The question's row (1-based, after the header).
        row: usize,
        /// The case id asked for.
        case: String,
    },
    /// A question expects an item id its case does not have.
    #[error("question {row}: case `{case}` has no history item `{item}`")]
    UnknownItem {
        /// The question's row (1-based, after the header).
        row: usize,
        /// The case id.
        case: String,
        /// The item id expected.
        item: String,
    },
}

/// How well the patient understood a set of questions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Understanding {
    /// Questions asked.
    pub questions: usize,
    /// Items expected over the questions about recorded things.
    pub expected: usize,
    /// Items revealed over all questions.
    pub revealed: usize,
    /// Items both expected and revealed.
    pub correct: usize,
    /// Questions about things the case does not record.
    pub unrecorded: usize,
    /// Of which the patient revealed nothing and said it did not know.
    pub unrecorded_right: usize,
    /// By the questions' kind: (questions, answered exactly as expected).
    pub by_kind: BTreeMap<String, (usize, usize)>,
    /// Every question not answered exactly as expected.
    pub misses: Vec<Miss>,
}

/// A question whose answer differs from the expected one.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// The question.
    pub question: PatientQuestion,
    /// The ids revealed.
    pub revealed: Vec<String>,
    /// What the patient said.
    pub answer: String,
}

impl Understanding {
    /// Share of the expected items revealed.
    pub fn recall(&self) -> f64 {
        self.correct as f64 / self.expected.max(1) as f64
    }

    /// Share of the revealed items that were expected (items revealed for unrecorded questions
    /// count against it).
    pub fn precision(&self) -> f64 {
        if self.revealed == 0 {
            return 1.0;
        }
        self.correct as f64 / self.revealed as f64
    }

    /// Share of unrecorded questions answered with nothing but "I don't know".
    pub fn none_accuracy(&self) -> f64 {
        self.unrecorded_right as f64 / self.unrecorded.max(1) as f64
    }

    fn add(&mut self, question: &PatientQuestion, revealed: &BTreeSet<String>, answer: &str) {
        let expected = question.expected();
        let correct = revealed
            .iter()
            .filter(|id| expected.contains(id.as_str()))
            .count();
        self.questions += 1;
        self.expected += expected.len();
        self.revealed += revealed.len();
        self.correct += correct;
        let exact = correct == expected.len() && revealed.len() == expected.len();
        if expected.is_empty() {
            self.unrecorded += 1;
            self.unrecorded_right += usize::from(revealed.is_empty());
        }
        let kind = self.by_kind.entry(question.kind.clone()).or_default();
        kind.0 += 1;
        kind.1 += usize::from(exact);
        if !exact {
            self.misses.push(Miss {
                question: question.clone(),
                revealed: revealed.iter().cloned().collect(),
                answer: answer.to_string(),
            });
        }
    }
}

/// Asks every question of `set` (of one half, when `split` is given) as the first question of a
/// fresh episode with the rule-based patient and no bias; returns the figures per half. `case_by_id`
/// finds a question's case (a library's `get`).
///
/// # Errors
/// When a question names a case or an item the library does not have.
pub fn measure(
    case_by_id: impl Fn(&str) -> Option<Arc<Case>>,
    set: &[PatientQuestion],
    split: Option<Split>,
) -> Result<BTreeMap<Split, Understanding>, MeasureError> {
    let mut halves: BTreeMap<Split, Understanding> = BTreeMap::new();
    let mut patients: BTreeMap<&str, (Arc<Case>, RuleBasedPatient)> = BTreeMap::new();
    for (index, question) in set.iter().enumerate() {
        let row = index + 1;
        let half = question.split();
        if split.is_some_and(|wanted| wanted != half) {
            continue;
        }
        if !patients.contains_key(question.case.as_str()) {
            let case = case_by_id(&question.case).ok_or_else(|| MeasureError::UnknownCase {
                row,
                case: question.case.clone(),
            })?;
            let patient = RuleBasedPatient::new(Arc::clone(&case));
            patients.insert(&question.case, (case, patient));
        }
        let Some((case, patient)) = patients.get(question.case.as_str()) else {
            continue;
        };
        if let Some(item) = question
            .expected()
            .into_iter()
            .find(|item| case.history_item(item).is_none())
        {
            return Err(MeasureError::UnknownItem {
                row,
                case: question.case.clone(),
                item: item.to_string(),
            });
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(row as u64);
        let reply = patient.answer(&question.question, &mut rng, None);
        let revealed: BTreeSet<String> = reply
            .items
            .iter()
            .map(|&item| case.history[item].id.clone())
            .collect();
        halves
            .entry(half)
            .or_default()
            .add(question, &revealed, &reply.text);
    }
    Ok(halves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_set_parses_and_covers_sixty_cases_in_both_halves() {
        let set = questions();
        assert!(set.len() >= 600, "{} questions", set.len());
        let cases: BTreeSet<&str> = set.iter().map(|q| q.case.as_str()).collect();
        assert!(cases.len() >= 60, "{} cases", cases.len());
        let unrecorded = set.iter().filter(|q| q.expected().is_empty()).count();
        assert!(unrecorded * 5 >= set.len(), "{unrecorded} unrecorded");
        for half in [Split::Dev, Split::Test] {
            assert!(
                set.iter().filter(|q| q.split() == half).count() >= set.len() / 3,
                "{half:?} is too small"
            );
        }
    }

    #[test]
    fn figures_count_items_and_unrecorded_questions() {
        let mut understanding = Understanding::default();
        let question = |expect: &str| PatientQuestion {
            case: "c".into(),
            question: "q".into(),
            expect: expect.into(),
            kind: "specific".into(),
        };
        let ids = |ids: &[&str]| ids.iter().map(|id| (*id).to_string()).collect();
        understanding.add(&question("onset|course"), &ids(&["onset", "family"]), "");
        understanding.add(&question(""), &ids(&[]), "I don't know.");
        understanding.add(&question(""), &ids(&["social"]), "");
        assert_eq!(understanding.recall(), 0.5);
        assert!((understanding.precision() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(understanding.none_accuracy(), 0.5);
        assert_eq!(understanding.misses.len(), 2);
    }
}

//! The rule-based patient simulator (DESIGN.md §3.6): answers history questions from the case, in the
//! patient's own words.
//!
//! The patient knows only the presentation and the history, never examination findings, test results
//! or the diagnosis. A turn may hold several questions; each is read and ranked against the history
//! items by the `understand` module (stems, spelling, a clinical lexicon, topic cues, BM25), and hears
//! only the items that answer it. A question that reaches nothing the case records is answered "I
//! don't know", never with an invented finding. Answers pass a guard that would drop any sentence naming the
//! diagnosis (the validator already keeps such text out of cases; the guard is a second line).

pub mod bias;
mod lexicon;
pub mod llm;
pub mod measure;
mod understand;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use bias::ActiveBias;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::{DiagnosisNames, HistoryTopic};
use dxsim_gatekeeper::memo::TextMemo;
use dxsim_gatekeeper::text::{contains_phrase, normalize, tokens};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Serialize;

/// What the patient said in one turn, and what of the history it revealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientReply {
    /// The answer, in the patient's voice.
    pub text: String,
    /// Indices of the history items revealed, in case order.
    pub items: Vec<usize>,
    /// Whether some question reached nothing the case records.
    pub unknown: bool,
}

/// Ways of saying "I don't know", chosen by the episode's generator.
const DONT_KNOW: &[&str] = &[
    "I'm not sure, doctor.",
    "I don't really know.",
    "I couldn't tell you, I'm afraid.",
    "I don't know about that.",
];

/// What a distrustful patient says instead of answering a sensitive question the first time.
const DEFLECTION: &str = "I'd rather not go into that, if it's all the same to you.";

/// A patient who answers from the case's history by rule.
#[derive(Debug, Clone)]
pub struct RuleBasedPatient {
    case: Arc<Case>,
    history: Arc<PreparedHistory>,
}

/// What a patient needs from its case's history that never changes between episodes: worked out
/// once per case and shared by every patient of it, so starting an episode costs no text work.
#[derive(Debug)]
struct PreparedHistory {
    /// The history items read for ranking against questions.
    index: understand::HistoryIndex,
    /// Per history item: whether it may be said (it never names the diagnosis).
    sayable: Vec<bool>,
    /// The case's own names for its diagnosis, for words the patient says that are not history.
    names: DiagnosisNames,
    /// Turns already asked of this case: their text → the history items reached and whether some
    /// question reached nothing (agents ask the same questions across many episodes).
    reached: TextMemo<(Vec<usize>, bool)>,
}

/// Most distinct turns remembered per case; later new ones are matched afresh.
const REACHED_MEMO_LIMIT: usize = 4096;

/// Prepared histories by case, keyed by the case's address and checked against a weak reference, so
/// a case dropped and another allocated in its place is never confused with it.
type PreparedCache = HashMap<usize, (std::sync::Weak<Case>, Arc<PreparedHistory>)>;

/// Most cases remembered before dropped ones are swept out.
const PREPARED_CACHE_LIMIT: usize = 4096;

impl PreparedHistory {
    /// The prepared history of `case`, from the cache or worked out now.
    fn of(case: &Arc<Case>) -> Arc<PreparedHistory> {
        static CACHE: OnceLock<std::sync::Mutex<PreparedCache>> = OnceLock::new();
        let address = Arc::as_ptr(case) as usize;
        let cache = CACHE.get_or_init(std::sync::Mutex::default);
        let known = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&address)
            .filter(|(weak, _)| weak.upgrade().is_some_and(|live| Arc::ptr_eq(&live, case)))
            .map(|(_, prepared)| Arc::clone(prepared));
        if let Some(prepared) = known {
            return prepared;
        }
        let prepared = Arc::new(PreparedHistory::build(case));
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= PREPARED_CACHE_LIMIT {
            cache.retain(|_, (weak, _)| weak.strong_count() > 0);
        }
        if cache.len() < PREPARED_CACHE_LIMIT {
            cache.insert(address, (Arc::downgrade(case), Arc::clone(&prepared)));
        }
        prepared
    }

    fn build(case: &Case) -> PreparedHistory {
        let index = understand::HistoryIndex::new(case, understand::Reader::get());
        // Every case the engine plays passed the validator, which checks the history with the judge's
        // full matcher (`judge::diagnosis_names`); this last guard needs only the case's own names,
        // so that no episode waits for the judge's terminology to be built.
        let names = DiagnosisNames::of(case);
        let sayable = case
            .history
            .iter()
            .map(|item| names.found_in(&item.text).is_none())
            .collect();
        PreparedHistory {
            index,
            sayable,
            names,
            reached: TextMemo::new(REACHED_MEMO_LIMIT),
        }
    }
}

/// The topic lexicon arranged for lookup: built once per process, shared by every patient.
#[derive(Debug)]
struct LexiconIndex {
    /// Single-word stems → the topics they touch.
    stems: HashMap<&'static str, Vec<HistoryTopic>>,
    /// Multi-word phrases and the topic each touches.
    phrases: Vec<(&'static str, HistoryTopic)>,
}

impl LexiconIndex {
    fn get() -> &'static LexiconIndex {
        static INDEX: OnceLock<LexiconIndex> = OnceLock::new();
        INDEX.get_or_init(|| {
            let mut stems: HashMap<&'static str, Vec<HistoryTopic>> = HashMap::new();
            let mut phrases = Vec::new();
            for (topic, entries) in lexicon::LEXICON {
                for entry in *entries {
                    if entry.contains(' ') {
                        phrases.push((*entry, *topic));
                    } else {
                        stems.entry(entry).or_default().push(*topic);
                    }
                }
            }
            LexiconIndex { stems, phrases }
        })
    }
}

impl LexiconIndex {
    /// The topics a normalised text touches: a lexicon stem at the start of one of its words, or a
    /// lexicon phrase as whole words.
    fn topics(&self, normalized: &str) -> BTreeSet<HistoryTopic> {
        let mut topics = BTreeSet::new();
        for word in tokens(normalized) {
            for end in (1..=word.len()).filter(|&end| word.is_char_boundary(end)) {
                if let Some(found) = self.stems.get(&word[..end]) {
                    topics.extend(found.iter().copied());
                }
            }
        }
        for (phrase, topic) in &self.phrases {
            if !topics.contains(topic) && contains_phrase(normalized, phrase) {
                topics.insert(*topic);
            }
        }
        topics
    }
}

/// The history topics a text touches by the patient's topic lexicon (the same words that route a
/// doctor's question); importers use it to file source text under a topic.
pub fn topics_of(text: &str) -> BTreeSet<HistoryTopic> {
    LexiconIndex::get().topics(&normalize(text))
}

impl RuleBasedPatient {
    /// A patient for `case`.
    pub fn new(case: Arc<Case>) -> RuleBasedPatient {
        RuleBasedPatient {
            history: PreparedHistory::of(&case),
            case,
        }
    }

    /// The history items one question part reaches, ranked by [`understand::HistoryIndex::rank`].
    fn items_for(&self, question: &str) -> Vec<usize> {
        let reader = understand::Reader::get();
        let reading = reader.read_question(question, &self.history.index.words);
        self.history.index.rank(&reading)
    }

    /// The history items a turn's questions reach, and whether some question reached nothing;
    /// remembered per case.
    fn items_reached(&self, text: &str) -> (Vec<usize>, bool) {
        self.history
            .reached
            .get_or_compute(text, || self.match_questions(text))
    }

    /// Matches a turn's questions to the history items they reach.
    fn match_questions(&self, text: &str) -> (Vec<usize>, bool) {
        let mut items: Vec<usize> = Vec::new();
        let mut unknown = false;
        for question in understand::question_parts(text) {
            let reached = self.items_for(&question);
            if reached.is_empty() {
                unknown = true;
            }
            for item in reached {
                if !items.contains(&item) {
                    items.push(item);
                }
            }
        }
        items.sort_unstable();
        (items, unknown)
    }

    /// Whether the patient may say `words` (a test's lay name): they do not name the diagnosis.
    pub fn may_say(&self, words: &str) -> bool {
        self.history.names.found_in(words).is_none()
    }

    /// The stable ids of history items given by index.
    pub fn item_ids(&self, items: &[usize]) -> Vec<String> {
        items
            .iter()
            .filter_map(|&item| self.case.history.get(item))
            .map(|item| item.id.clone())
            .collect()
    }

    /// Takes a language model's reply to a turn's questions as the patient's answer: the reply passes
    /// the guard ([`llm::guard_reply`]); the history items the questions reach count as revealed.
    pub fn answer_from_model(&self, text: &str, model_reply: &str) -> PatientReply {
        let (items, unknown) = self.items_reached(text);
        PatientReply {
            text: llm::guard_reply(&self.case, model_reply),
            items,
            unknown,
        }
    }

    /// Answers a turn's questions; `rng` varies only the wording of "I don't know". A `bias`, when the
    /// patient has one, may deflect sensitive topics and add the patient's own belief.
    pub fn answer(
        &self,
        text: &str,
        rng: &mut impl Rng,
        bias: Option<&mut ActiveBias>,
    ) -> PatientReply {
        let (mut items, unknown) = self.items_reached(text);
        let mut bias = bias;
        let mut deflected = false;
        if let Some(bias) = bias.as_deref_mut() {
            let topics: BTreeSet<HistoryTopic> = items
                .iter()
                .map(|&item| self.case.history[item].topic)
                .collect();
            let deflect = bias.deflect(&topics);
            if !deflect.is_empty() {
                items.retain(|&item| !deflect.contains(&self.case.history[item].topic));
                deflected = true;
            }
        }
        let mut sentences: Vec<String> = items
            .iter()
            .filter(|&&item| self.history.sayable[item])
            .map(|&item| self.case.history[item].text.clone())
            .collect();
        if deflected {
            sentences.push(DEFLECTION.to_string());
        } else if unknown || sentences.is_empty() {
            let dont_know = DONT_KNOW.choose(rng).copied().unwrap_or(DONT_KNOW[0]);
            sentences.push(dont_know.to_string());
        }
        if let Some(statement) = bias.and_then(ActiveBias::volunteer) {
            sentences.push(statement);
        }
        PatientReply {
            text: sentences.join(" "),
            items,
            unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dxsim_gatekeeper::case::{Diagnosis, HistoryItem};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn item(topic: HistoryTopic, text: &str, keywords: &[&str], negative: bool) -> HistoryItem {
        HistoryItem {
            id: String::new(),
            topic,
            text: text.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            negative,
        }
    }

    fn case() -> Arc<Case> {
        Arc::new(Case {
            history: vec![
                item(
                    HistoryTopic::Onset,
                    "It started two days ago.",
                    &["start"],
                    false,
                ),
                item(
                    HistoryTopic::AssociatedSymptoms,
                    "I've been sick twice.",
                    &["vomit", "sick"],
                    false,
                ),
                item(
                    HistoryTopic::AssociatedSymptoms,
                    "No fever that I've noticed.",
                    &["fever", "temperature"],
                    true,
                ),
                item(HistoryTopic::Medications, "Just the pill.", &[], false),
                item(
                    HistoryTopic::Family,
                    "My mother had appendicitis.",
                    &[],
                    false,
                ),
            ],
            diagnosis: Diagnosis {
                name: "Acute appendicitis".into(),
                icd10: "K35.80".into(),
                synonyms: vec!["Appendicitis".into()],
            },
            ..Case::default()
        })
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(1)
    }

    #[test]
    fn keyword_reaches_the_specific_item() {
        let case = case();
        let reply = RuleBasedPatient::new(case).answer("Have you had a fever?", &mut rng(), None);
        assert_eq!(reply.items, vec![2]);
        assert_eq!(reply.text, "No fever that I've noticed.");
        assert!(!reply.unknown);
    }

    #[test]
    fn topic_question_hears_every_item_of_the_topic() {
        let case = case();
        let reply =
            RuleBasedPatient::new(case).answer("Do you take any medications?", &mut rng(), None);
        assert_eq!(reply.items, vec![3]);
    }

    #[test]
    fn several_questions_are_answered_in_one_turn() {
        let case = case();
        let reply = RuleBasedPatient::new(case).answer(
            "When did it start? Any vomiting?",
            &mut rng(),
            None,
        );
        assert_eq!(reply.items, vec![0, 1]);
        assert_eq!(reply.text, "It started two days ago. I've been sick twice.");
    }

    #[test]
    fn unknown_question_gets_dont_know_not_an_invented_finding() {
        let case = case();
        let reply = RuleBasedPatient::new(case).answer(
            "Have you travelled abroad recently?",
            &mut rng(),
            None,
        );
        assert!(reply.items.is_empty());
        assert!(reply.unknown);
        assert!(DONT_KNOW.contains(&reply.text.as_str()), "{}", reply.text);
    }

    #[test]
    fn the_guard_drops_a_sentence_naming_the_diagnosis() {
        let case = case();
        let reply =
            RuleBasedPatient::new(case).answer("Any illness in the family?", &mut rng(), None);
        assert_eq!(reply.items, vec![4]);
        assert!(
            !reply.text.to_lowercase().contains("appendicitis"),
            "{}",
            reply.text
        );
    }

    #[test]
    fn same_seed_same_wording() {
        let case = case();
        let patient = RuleBasedPatient::new(case);
        let first = patient.answer(
            "Where were you born?",
            &mut ChaCha8Rng::seed_from_u64(9),
            None,
        );
        let again = patient.answer(
            "Where were you born?",
            &mut ChaCha8Rng::seed_from_u64(9),
            None,
        );
        assert_eq!(first, again);
    }
}

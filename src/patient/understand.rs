//! How the rule-based patient understands a question: real text tools rather than one keyword list.
//!
//! A text is read into *terms*: its words, with spelling variants folded (UK/US, `-ise`/`-ize`) and
//! stemmed by the Snowball English stemmer (`rust-stemmers`), so plurals and tenses meet; plus the
//! *concepts* the clinical lexicon (`lexicon.csv`: lay words, abbreviations, brand and generic names,
//! drug classes) finds in it, so "blood thinners" meets "apixaban" and "jabs" meets "immunisations".
//! A question's misspelt words are first corrected to the nearest word the case or the lexicon
//! knows (Damerau–Levenshtein). Generic phrases that ask about a whole history topic ("what
//! medicines do you take", "how long", "any allergies") are *cues* for that topic.
//!
//! Each history item of a case is read once, the same way, into an index ([`HistoryIndex`]). A
//! question is split into its parts (sentences, and clauses joined by "and"/"or" that start a new
//! question); each part ranks the items by BM25-weighted term overlap plus a bonus for the items of
//! a cued topic, and hears every item scoring within [`KEEP_RATIO`] of the best. A part that reaches
//! no item, or whose only link is a topic cue while it asks about something the case never mentions,
//! is answered "I don't know". Everything is deterministic.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::HistoryTopic;
use dxsim_gatekeeper::text::{normalize, tokens};
use rust_stemmers::{Algorithm, Stemmer};

use super::lexicon::{STOP_WORDS, TOPIC_CUES};

/// The clinical lexicon: `phrase,concept,kind` rows.
const LEXICON_CSV: &str = include_str!("lexicon.csv");

/// The bonus, in BM25 units, of an item of a topic the question cues.
const CUE_WEIGHT: f64 = 2.5;

/// The least content score that reaches an item without a topic cue: a word most of the history
/// uses ("pain" in a pain case) does not, alone, make an answer.
const MIN_CONTENT: f64 = 1.0;

/// An item is heard when it scores at least this share of the best-scoring item.
pub(crate) const KEEP_RATIO: f64 = 0.6;

/// Shortest word a misspelling is corrected for.
const MIN_CORRECTED_LEN: usize = 5;

/// A lexicon or cue phrase, as stems.
#[derive(Debug)]
struct Phrase {
    stems: Vec<String>,
    /// The concept term (`@anticoagulant`) or the cued topic.
    meaning: Meaning,
}

#[derive(Debug, Clone)]
enum Meaning {
    Concept(String),
    Topic(HistoryTopic),
}

/// What the patient reads with: the stemmer, the lexicon, the topic cues and stop words; built once
/// per process.
pub(crate) struct Reader {
    stemmer: Stemmer,
    /// Phrases by their first stem, longest first.
    phrases: HashMap<String, Vec<Phrase>>,
    /// Stems that carry no meaning of their own in a question ("have", "you", "any").
    stop: HashSet<String>,
    /// Every word the lexicon, the cues and the stop list spell: a question word among them is never
    /// treated as a misspelling.
    known_words: HashSet<String>,
    /// The lexicon's words, as candidates a misspelling may be corrected to.
    lexicon_words: Vec<String>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("phrases", &self.phrases.len())
            .field("stop", &self.stop.len())
            .finish_non_exhaustive()
    }
}

/// A text as the patient reads it.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Reading {
    /// Content terms: stems outside cues and stop words, and `@concept`s.
    pub(crate) terms: BTreeSet<String>,
    /// Topics the text asks about as a whole.
    pub(crate) topics: BTreeSet<HistoryTopic>,
}

impl Reader {
    /// The process's reader.
    pub(crate) fn get() -> &'static Reader {
        static READER: OnceLock<Reader> = OnceLock::new();
        READER.get_or_init(Reader::build)
    }

    fn build() -> Reader {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut reader = Reader {
            stemmer,
            phrases: HashMap::new(),
            stop: HashSet::new(),
            known_words: HashSet::new(),
            lexicon_words: Vec::new(),
        };
        for word in STOP_WORDS {
            reader.known_words.insert((*word).to_string());
            let stem = reader.stem(word);
            reader.stop.insert(stem);
        }
        for (topic, cues) in TOPIC_CUES {
            for cue in *cues {
                reader.add_phrase(cue, Meaning::Topic(*topic));
            }
        }
        let mut lexicon_words = BTreeSet::new();
        let mut rows = csv::Reader::from_reader(LEXICON_CSV.as_bytes());
        for row in rows.records().filter_map(Result::ok) {
            let (Some(phrase), Some(concept)) = (row.get(0), row.get(1)) else {
                continue;
            };
            for word in tokens(&normalize(phrase)) {
                lexicon_words.insert(fold_spelling(word));
            }
            reader.add_phrase(phrase, Meaning::Concept(format!("@{}", concept.trim())));
        }
        reader.known_words.extend(lexicon_words.iter().cloned());
        reader.lexicon_words = lexicon_words.into_iter().collect();
        for phrases in reader.phrases.values_mut() {
            phrases.sort_by_key(|phrase| std::cmp::Reverse(phrase.stems.len()));
        }
        reader
    }

    fn add_phrase(&mut self, text: &str, meaning: Meaning) {
        let stems: Vec<String> = tokens(&normalize(text))
            .map(|word| {
                self.known_words.insert(fold_spelling(word));
                self.stem(word)
            })
            .collect();
        let Some(first) = stems.first().cloned() else {
            return;
        };
        self.phrases
            .entry(first)
            .or_default()
            .push(Phrase { stems, meaning });
    }

    /// A word's stem, after folding its spelling.
    pub(crate) fn stem(&self, word: &str) -> String {
        self.stemmer.stem(&fold_spelling(word)).into_owned()
    }

    /// Reads a text whose words are all taken as spelt.
    pub(crate) fn read(&self, text: &str) -> Reading {
        let normalized = normalize(text);
        let words: Vec<&str> = tokens(&normalized).collect();
        self.read_words(&words)
    }

    /// Reads a question, correcting words that neither the case (`case_words`) nor the lexicon
    /// knows to the nearest word that one of them does.
    pub(crate) fn read_question(&self, text: &str, case_words: &CaseWords) -> Reading {
        let normalized = normalize(text);
        let words: Vec<String> = tokens(&normalized)
            .map(|word| self.correct(word, case_words))
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        self.read_words(&words)
    }

    fn read_words(&self, words: &[&str]) -> Reading {
        let stems: Vec<String> = words.iter().map(|word| self.stem(word)).collect();
        let mut reading = Reading::default();
        let mut cued = vec![false; stems.len()];
        for start in 0..stems.len() {
            let Some(phrases) = self.phrases.get(&stems[start]) else {
                continue;
            };
            for phrase in phrases {
                let end = start + phrase.stems.len();
                if end > stems.len() || stems[start..end] != phrase.stems[..] {
                    continue;
                }
                match &phrase.meaning {
                    Meaning::Concept(concept) => {
                        reading.terms.insert(concept.clone());
                    }
                    Meaning::Topic(topic) => {
                        reading.topics.insert(*topic);
                        cued[start..end].fill(true);
                    }
                }
            }
        }
        for (stem, cued) in stems.into_iter().zip(cued) {
            if !cued && !self.stop.contains(&stem) && stem.chars().any(char::is_alphabetic) {
                reading.terms.insert(stem);
            }
        }
        reading
    }

    /// The word itself when known; otherwise the nearest known word within one edit (two for long
    /// words) that shares its first letter, preferring the case's own words; otherwise the word.
    fn correct(&self, word: &str, case_words: &CaseWords) -> String {
        let folded = fold_spelling(word);
        if folded.len() < MIN_CORRECTED_LEN
            || !folded.chars().all(|c| c.is_ascii_alphabetic())
            || self.known_words.contains(&folded)
            || case_words.words.contains(&folded)
            || case_words.stems.contains(&self.stem(&folded))
        {
            return folded;
        }
        let limit = if folded.len() >= 9 { 2 } else { 1 };
        let nearest = |candidates: &mut dyn Iterator<Item = &String>| -> Option<String> {
            candidates
                .filter(|candidate| {
                    candidate.as_bytes().first() == folded.as_bytes().first()
                        && candidate.len().abs_diff(folded.len()) <= limit
                })
                .map(|candidate| (strsim::damerau_levenshtein(candidate, &folded), candidate))
                .filter(|(distance, _)| *distance <= limit)
                .min()
                .map(|(_, candidate)| candidate.clone())
        };
        nearest(&mut case_words.words.iter())
            .or_else(|| nearest(&mut self.lexicon_words.iter()))
            .unwrap_or(folded)
    }
}

/// Folds spelling variants the shared normaliser leaves apart, so both spellings read alike:
/// `-ise`/`-isation` → `-ize`/`-ization`, `-yse` → `-yze`, `-our` → `-or`, `-ogue` → `-og`, and
/// `-tre` → `-ter`.
fn fold_spelling(word: &str) -> String {
    // The stemmer gives "medical" and "medication" one stem; a patient's medicines are not their
    // medical history.
    match word {
        "medication" => return "medicine".to_string(),
        "medications" => return "medicines".to_string(),
        _ => {}
    }
    const ENDINGS: &[(&str, &str)] = &[
        ("isations", "izations"),
        ("isation", "ization"),
        ("ising", "izing"),
        ("ised", "ized"),
        ("ises", "izes"),
        ("ise", "ize"),
        ("ysing", "yzing"),
        ("ysed", "yzed"),
        ("yse", "yze"),
        ("ours", "ors"),
        ("our", "or"),
        ("ogue", "og"),
        ("tres", "ters"),
        ("tre", "ter"),
    ];
    // Short words ("our", "your", "four", "rise") keep their spelling.
    if word.len() >= 6 {
        for (british, american) in ENDINGS {
            if let Some(stem) = word.strip_suffix(british) {
                return format!("{stem}{american}");
            }
        }
    }
    word.to_string()
}

/// The words a case's history uses, for correcting misspelt questions about it.
#[derive(Debug, Default)]
pub(crate) struct CaseWords {
    words: BTreeSet<String>,
    stems: HashSet<String>,
}

/// A case's history items, read once for ranking.
#[derive(Debug)]
pub(crate) struct HistoryIndex {
    /// Per item: its terms (from its text and keywords) and its topic.
    items: Vec<(BTreeSet<String>, HistoryTopic)>,
    /// Per term: its BM25 inverse document frequency over the items.
    idf: HashMap<String, f64>,
    /// The words the history uses.
    pub(crate) words: CaseWords,
}

impl HistoryIndex {
    /// Reads every history item of `case`.
    pub(crate) fn new(case: &Case, reader: &Reader) -> HistoryIndex {
        let mut words = CaseWords::default();
        let items: Vec<(BTreeSet<String>, HistoryTopic)> = case
            .history
            .iter()
            .map(|item| {
                let text = std::iter::once(item.text.as_str())
                    .chain(item.keywords.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" . ");
                for word in tokens(&normalize(&text)) {
                    let folded = fold_spelling(word);
                    words.stems.insert(reader.stem(&folded));
                    words.words.insert(folded);
                }
                (reader.read(&text).terms, item.topic)
            })
            .collect();
        let count = items.len() as f64;
        let mut frequency: HashMap<String, usize> = HashMap::new();
        for (terms, _) in &items {
            for term in terms {
                *frequency.entry(term.clone()).or_default() += 1;
            }
        }
        let idf = frequency
            .into_iter()
            .map(|(term, n)| {
                let n = n as f64;
                (term, (1.0 + (count - n + 0.5) / (n + 0.5)).ln())
            })
            .collect();
        HistoryIndex { items, idf, words }
    }

    /// The items one question part reaches, in case order: every item scoring within
    /// [`KEEP_RATIO`] of the best. A topic cue alone reaches nothing when the part also asks about
    /// a lexicon concept no item mentions ("any pets at home?" of a case silent on pets).
    pub(crate) fn rank(&self, question: &Reading) -> Vec<usize> {
        let unknown_term = question
            .terms
            .iter()
            .any(|term| term.starts_with('@') && !self.idf.contains_key(term));
        let scores: Vec<f64> = self
            .items
            .iter()
            .map(|(terms, topic)| {
                let content: f64 = question
                    .terms
                    .iter()
                    .filter(|term| terms.contains(*term))
                    .map(|term| self.idf.get(term).copied().unwrap_or(0.0))
                    .sum();
                let cued = question.topics.contains(topic);
                if cued && content > 0.0 {
                    content + CUE_WEIGHT
                } else if content >= MIN_CONTENT {
                    content
                } else if cued && !unknown_term {
                    CUE_WEIGHT
                } else {
                    0.0
                }
            })
            .collect();
        let best = scores.iter().copied().fold(0.0, f64::max);
        if best <= 0.0 {
            return Vec::new();
        }
        scores
            .iter()
            .enumerate()
            .filter(|(_, score)| **score > 0.0 && **score >= KEEP_RATIO * best)
            .map(|(index, _)| index)
            .collect()
    }
}

/// Words that open a new question after "and"/"or" ("Do you smoke, and have you travelled?").
const QUESTION_OPENERS: &[&str] = &[
    "do", "does", "did", "have", "has", "had", "are", "is", "was", "were", "any", "what", "when",
    "where", "how", "who", "which", "can", "could", "would", "will", "tell", "anything",
];

/// Splits a turn into its question parts: on sentence punctuation and new lines, then on "and",
/// "or" and commas that open a new question.
pub(crate) fn question_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for sentence in text.split(['?', '.', ';', '\n', '!']) {
        let normalized = normalize(sentence);
        let words: Vec<&str> = tokens(&normalized).collect();
        let mut current: Vec<&str> = Vec::new();
        for (index, word) in words.iter().enumerate() {
            let next = words.get(index + 1).copied();
            let joins = matches!(*word, "and" | "or" | "also");
            if joins && next.is_some_and(|next| QUESTION_OPENERS.contains(&next)) {
                if !current.is_empty() {
                    parts.push(current.join(" "));
                }
                current.clear();
                continue;
            }
            current.push(word);
        }
        if current.iter().any(|word| word.chars().any(char::is_alphanumeric)) {
            parts.push(current.join(" "));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_variants_fold_together() {
        let reader = Reader::get();
        assert_eq!(reader.stem("immunisations"), reader.stem("immunizations"));
        assert_eq!(reader.stem("behaviour"), reader.stem("behavior"));
        assert_eq!(reader.stem("rashes"), reader.stem("rash"));
        assert_eq!(fold_spelling("your"), "your");
    }

    #[test]
    fn bundled_questions_split_into_parts() {
        assert_eq!(
            question_parts("Do you smoke, and have you travelled? Any nausea or vomiting"),
            vec!["do you smoke", "have you travelled", "any nausea or vomiting"]
        );
    }
}

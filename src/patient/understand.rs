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
//! a cued topic, and hears every item scoring within a share of the best. A part that reaches
//! no item, or whose only link is a topic cue while it asks about something the case never mentions,
//! is answered "I don't know". Everything is deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::HistoryTopic;
use dxsim_gatekeeper::text::{normalize, tokens};
use rust_stemmers::{Algorithm, Stemmer};

use super::lexicon::{STOP_WORDS, TOPIC_CUES};

/// The clinical lexicon: `phrase,concept,kind` rows.
const LEXICON_CSV: &str = include_str!("lexicon.csv");

/// The ranking's settings, tuned on the dev half of the measuring set.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    /// The bonus, in BM25 units, of an item of a topic the question cues.
    cue_weight: f64,
    /// The least score that reaches an item without a topic cue: a word most of the history uses
    /// ("pain" in a pain case) does not, alone, make an answer.
    min_content: f64,
    /// The least share of what a question asks (weighed over the background corpus) that an item
    /// must match without a cue.
    min_coverage: f64,
    /// An item is heard when it scores at least this share of the best-scoring item.
    keep_ratio: f64,
    /// The weight, in coverage, of a question term no patient in the background corpus uses.
    unseen_weight: f64,
    /// What an item outside a cued topic must match to be heard beside the cued topic's items.
    dominant_override: f64,
}

impl Tuning {
    /// The settings in use.
    const TUNED: Tuning = Tuning {
        cue_weight: 2.5,
        min_content: 1.5,
        min_coverage: 0.4,
        keep_ratio: 0.75,
        unseen_weight: 3.0,
        dominant_override: 5.0,
    };
}

/// Stems of the verbs of starting, which with "when" or "how" ask about onset.
const ONSET_VERBS: &[&str] = &["start", "began", "begin", "begun"];

/// Most stop words skipped between two words of a phrase.
const MAX_STOP_GAP: usize = 2;

/// Shortest stem a misspelt stem is corrected to.
const MIN_STEM_CORRECTED_LEN: usize = 7;

/// Shortest word a misspelling is corrected for.
const MIN_CORRECTED_LEN: usize = 4;

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
    /// The lexicon's words and their stems, as candidates a misspelling may be corrected to.
    lexicon_words: Vec<(String, String)>,
    /// Concepts that are medicines (generic and brand names, drug classes): a question naming one
    /// asks about the patient's medicines even when the patient takes something else.
    medicines: HashSet<String>,
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
    /// The stems of the cue phrases (outside stop words): they reach an item that uses them too.
    pub(crate) cue_terms: BTreeSet<String>,
    /// For a question listing several things ("fevers, rashes or weight loss"), the terms of each:
    /// an item need match only one of them well.
    pub(crate) segments: Vec<BTreeSet<String>>,
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
            medicines: HashSet::new(),
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
            let (Some(phrase), Some(concept), Some(kind)) = (row.get(0), row.get(1), row.get(2))
            else {
                continue;
            };
            if matches!(kind, "generic" | "brand" | "class") {
                reader.medicines.insert(format!("@{}", concept.trim()));
            }
            for word in tokens(&normalize(phrase)) {
                lexicon_words.insert(fold_spelling(word));
            }
            reader.add_phrase(phrase, Meaning::Concept(format!("@{}", concept.trim())));
        }
        reader.known_words.extend(lexicon_words.iter().cloned());
        reader.lexicon_words = lexicon_words
            .into_iter()
            .map(|word| {
                let stem = reader.stem(&word);
                (word, stem)
            })
            .collect();
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
        let segments: Vec<Vec<String>> = text
            .split(SEGMENT)
            .map(|segment| {
                tokens(&normalize(segment))
                    .map(|word| self.correct(word, case_words))
                    .collect()
            })
            .collect();
        let words: Vec<&str> = segments.iter().flatten().map(String::as_str).collect();
        let mut reading = self.read_words(&words);
        if segments.len() > 1 {
            reading.segments = segments
                .iter()
                .map(|segment| {
                    let words: Vec<&str> = segment.iter().map(String::as_str).collect();
                    self.read_words(&words).terms
                })
                .filter(|terms| !terms.is_empty())
                .collect();
        }
        reading
    }

    fn read_words(&self, words: &[&str]) -> Reading {
        let stems: Vec<String> = words.iter().map(|word| self.stem(word)).collect();
        let mut reading = Reading::default();
        let mut cued = vec![false; stems.len()];
        // Words inside a longer lexicon phrase mean what the phrase means: "dental work" is not work.
        let mut cover = (0, 0);
        for start in 0..stems.len() {
            let Some(phrases) = self.phrases.get(&stems[start]) else {
                continue;
            };
            for phrase in phrases {
                let Some(end) = self.phrase_end(&stems, start, &phrase.stems) else {
                    continue;
                };
                match &phrase.meaning {
                    Meaning::Concept(concept) => {
                        // Inside a longer phrase already read; one of equal span still counts.
                        if end <= cover.1 && (start, end) != cover {
                            continue;
                        }
                        if end > cover.1 {
                            cover = (start, end);
                        }
                        if self.medicines.contains(concept) {
                            reading.topics.insert(HistoryTopic::Medications);
                        }
                        reading.terms.insert(concept.clone());
                    }
                    Meaning::Topic(topic) => {
                        reading.topics.insert(*topic);
                        cued[start..end].fill(true);
                    }
                }
            }
        }
        // "When did the pain start?", "How did it all begin?": a question word and a verb of
        // starting anywhere in the part ask about onset.
        let asks_when = stems.iter().any(|stem| stem == "when" || stem == "how");
        if asks_when
            && stems
                .iter()
                .any(|stem| ONSET_VERBS.contains(&stem.as_str()))
        {
            reading.topics.insert(HistoryTopic::Onset);
        }
        for (stem, cued) in stems.into_iter().zip(cued) {
            if self.stop.contains(&stem) || !stem.chars().any(char::is_alphabetic) {
                continue;
            }
            if cued {
                reading.cue_terms.insert(stem);
            } else {
                reading.terms.insert(stem);
            }
        }
        reading
    }

    /// Where `phrase` ends when it starts at `start` of `stems`, its words in order with at most
    /// [`MAX_STOP_GAP`] stop words between two of them ("lost any weight" is "lost weight").
    fn phrase_end(&self, stems: &[String], start: usize, phrase: &[String]) -> Option<usize> {
        let mut at = start;
        for (index, wanted) in phrase.iter().enumerate() {
            let mut gap = 0;
            loop {
                let stem = stems.get(at)?;
                if stem == wanted {
                    break;
                }
                if index == 0 || gap == MAX_STOP_GAP || !self.stop.contains(stem) {
                    return None;
                }
                gap += 1;
                at += 1;
            }
            at += 1;
        }
        Some(at)
    }

    /// The word itself when known; otherwise the nearest known word within one edit (two for long
    /// words) that shares its first letter, preferring the case's own words; otherwise the word.
    fn correct(&self, word: &str, case_words: &CaseWords) -> String {
        let folded = fold_spelling(word);
        if folded.len() < MIN_CORRECTED_LEN
            || !folded.chars().all(|c| c.is_ascii_alphabetic())
            || self.known_words.contains(&folded)
            || case_words.words.contains_key(&folded)
        {
            return folded;
        }
        let stem = self.stem(&folded);
        if case_words.stems.contains(&stem) {
            return folded;
        }
        let limit = if folded.len() >= 8 { 2 } else { 1 };
        // The nearer of the two spellings: the word's, or its stem's ("constipted" is one edit
        // from the stem of "constipation").
        let nearest = |candidates: &mut dyn Iterator<Item = (&String, &String)>| -> Option<String> {
            candidates
                .filter(|(candidate, _)| candidate.as_bytes().first() == folded.as_bytes().first())
                .filter_map(|(candidate, candidate_stem)| {
                    let by_word = (candidate.len().abs_diff(folded.len()) <= limit)
                        .then(|| strsim::damerau_levenshtein(candidate, &folded));
                    let by_stem = (candidate_stem.len().abs_diff(stem.len()) <= limit
                        && candidate_stem.len() >= MIN_STEM_CORRECTED_LEN)
                        .then(|| strsim::damerau_levenshtein(candidate_stem, &stem));
                    let distance = by_word.into_iter().chain(by_stem).min()?;
                    (distance <= limit).then_some((distance, candidate))
                })
                .min()
                .map(|(_, candidate)| candidate.clone())
        };
        nearest(&mut case_words.words.iter())
            .or_else(|| nearest(&mut self.lexicon_words.iter().map(|(word, stem)| (word, stem))))
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

/// Whether a concept term is a medicine.
fn reader_medicine(term: &str) -> bool {
    Reader::get().medicines.contains(term)
}

/// The words a case's history uses, for correcting misspelt questions about it.
#[derive(Debug, Default)]
pub(crate) struct CaseWords {
    /// Each word and its stem.
    words: std::collections::BTreeMap<String, String>,
    stems: HashSet<String>,
}

/// BM25's inverse document frequency of a term found in `n` of `count` documents.
fn bm25_idf(count: usize, n: usize) -> f64 {
    let (count, n) = (count as f64, n as f64);
    (1.0 + (count - n + 0.5) / (n + 0.5)).ln()
}

/// What the patient reads of a history item: its text and its keywords.
fn item_text(item: &dxsim_gatekeeper::case::HistoryItem) -> String {
    std::iter::once(item.text.as_str())
        .chain(item.keywords.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" . ")
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
                let text = item_text(item);
                for word in tokens(&normalize(&text)) {
                    let folded = fold_spelling(word);
                    let stem = reader.stem(&folded);
                    words.stems.insert(stem.clone());
                    words.words.insert(folded, stem);
                }
                (reader.read(&text).terms, item.topic)
            })
            .collect();
        let count = items.len();
        let mut frequency: HashMap<String, usize> = HashMap::new();
        for (terms, _) in &items {
            for term in terms {
                *frequency.entry(term.clone()).or_default() += 1;
            }
        }
        let idf = frequency
            .into_iter()
            .map(|(term, n)| (term, bm25_idf(count, n)))
            .collect();
        HistoryIndex { items, idf, words }
    }

    /// The items one question part reaches, in case order: every item scoring within a share of
    /// the best. A topic cue alone reaches nothing when the part also asks about
    /// a lexicon concept no item mentions ("any pets at home?" of a case silent on pets).
    pub(crate) fn rank(&self, question: &Reading) -> Vec<usize> {
        let tuning = Tuning::TUNED;
        let unknown_concept = question.terms.iter().any(|term| {
            term.starts_with('@') && !self.idf.contains_key(term) && !reader_medicine(term)
        });
        // How much of a question an item answers is weighed by how telling each word is in
        // patients' speech at large: "blood" in "do you know your blood group?" is common, "group"
        // is not, so an item about blood in the stools does not answer it.
        let background = Background::get();
        let weight = |term: &String| background.idf(term, tuning.unseen_weight);
        let weigh = |terms: &BTreeSet<String>| -> f64 { terms.iter().map(weight).sum() };
        let matched_of = |asked: &BTreeSet<String>, item: &BTreeSet<String>| -> f64 {
            asked
                .iter()
                .filter(|term| item.contains(*term))
                .map(weight)
                .sum()
        };
        let whole = std::slice::from_ref(&question.terms);
        let segments = if question.segments.is_empty() {
            whole
        } else {
            &question.segments[..]
        };
        let asked: Vec<f64> = segments.iter().map(weigh).collect();
        // A question that cues a topic the history has is about that topic: the words it names
        // ("how long has the diarrhoea lasted") pick among its items, not items elsewhere. An
        // allergy question about medicines is about allergies.
        let mut cued_topics = question.topics.clone();
        if cued_topics.contains(&HistoryTopic::Allergies) {
            cued_topics.remove(&HistoryTopic::Medications);
        }
        let dominant = self
            .items
            .iter()
            .any(|(_, topic)| cued_topics.contains(topic))
            && !unknown_concept;
        let scores: Vec<f64> = self
            .items
            .iter()
            .map(|(terms, topic)| {
                let matched = matched_of(&question.terms, terms);
                let cue_words: f64 = question
                    .cue_terms
                    .iter()
                    .filter(|term| terms.contains(*term))
                    .map(|term| self.idf.get(term).copied().unwrap_or(0.0))
                    .sum();
                // The item answers enough of the question, or of one thing a list asks about.
                let covered = segments.iter().zip(&asked).any(|(segment, asked)| {
                    *asked <= 0.0 || matched_of(segment, terms) / asked >= tuning.min_coverage
                });
                let cued = cued_topics.contains(topic);
                if cued && (matched > 0.0 || !unknown_concept) {
                    tuning.cue_weight + matched + cue_words
                } else if dominant && matched < tuning.dominant_override {
                    0.0
                } else if matched + cue_words >= tuning.min_content && covered {
                    matched + cue_words
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
            .filter(|(_, score)| **score > 0.0 && **score >= tuning.keep_ratio * best)
            .map(|(index, _)| index)
            .collect()
    }
}

/// What separates the things a question part lists, inside the part's text.
const SEGMENT: &str = "|";

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
        // Commas inside a question separate the things it lists.
        let mut words: Vec<String> = Vec::new();
        for chunk in sentence.split(',') {
            if !words.is_empty() {
                words.push(SEGMENT.to_string());
            }
            words.extend(tokens(&normalize(chunk)).map(str::to_string));
        }
        let mut current: Vec<&str> = Vec::new();
        let opens = |word: Option<&String>| {
            word.is_some_and(|word| QUESTION_OPENERS.contains(&word.as_str()))
        };
        for (index, word) in words.iter().enumerate() {
            let joins = matches!(word.as_str(), "and" | "or" | "also");
            let next = words[index + 1..]
                .iter()
                .find(|next| next.as_str() != SEGMENT);
            if joins && opens(next) {
                push_part(&mut parts, &current);
                current.clear();
                continue;
            }
            if word != SEGMENT || !current.is_empty() {
                current.push(word);
            }
        }
        push_part(&mut parts, &current);
    }
    parts
}

/// Adds a part of a question, its segments separated by [`SEGMENT`], when it holds a word.
fn push_part(parts: &mut Vec<String>, words: &[&str]) {
    let start = words.iter().position(|word| *word != SEGMENT);
    let end = words.iter().rposition(|word| *word != SEGMENT);
    if let (Some(start), Some(end)) = (start, end) {
        let words = &words[start..=end];
        if words
            .iter()
            .any(|word| word.chars().any(char::is_alphanumeric))
        {
            parts.push(words.join(" "));
        }
    }
}

/// How common each term is in what patients say: document frequencies over every history item of
/// the built-in library, read as the patient reads. Built once per build of dxsim and kept in the disk
/// cache (`crate::disk_cache`) for later processes.
#[derive(Debug)]
struct Background {
    items: usize,
    /// Term → the number of items that use it.
    frequency: fst::Map<Vec<u8>>,
}

impl Background {
    /// The name of its file in the disk cache.
    const CACHE: &str = "patient-background";

    fn get() -> &'static Background {
        static BACKGROUND: OnceLock<Background> = OnceLock::new();
        BACKGROUND.get_or_init(|| {
            if let Some(background) = Self::cached() {
                return background;
            }
            let background = Self::build();
            crate::disk_cache::store(
                Self::CACHE,
                &[
                    &(background.items as u64).to_le_bytes(),
                    background.frequency.as_fst().as_bytes(),
                ],
            );
            background
        })
    }

    /// The background this build cached before, if its file reads.
    fn cached() -> Option<Background> {
        let [items, frequency]: [Vec<u8>; 2] =
            crate::disk_cache::load(Self::CACHE, 2)?.try_into().ok()?;
        let items = u64::from_le_bytes(items.try_into().ok()?);
        Some(Background {
            items: usize::try_from(items).ok()?,
            frequency: fst::Map::new(frequency).ok()?,
        })
    }

    /// Reads every history item of the built-in library.
    fn build() -> Background {
        let reader = Reader::get();
        let mut items = 0;
        let mut frequency: BTreeMap<String, u64> = BTreeMap::new();
        for (name, text) in crate::builtin_cases::sources() {
            let Ok(case) = dxsim_gatekeeper::case::parse_case(text, &name) else {
                continue;
            };
            for item in &case.history {
                items += 1;
                for term in reader.read(&item_text(item)).terms {
                    *frequency.entry(term).or_default() += 1;
                }
            }
        }
        Background {
            items,
            frequency: fst::Map::from_iter(frequency).expect("a BTreeMap's keys are sorted"),
        }
    }

    /// A term's BM25 inverse document frequency over the corpus; `unseen` for a term it never uses.
    fn idf(&self, term: &str, unseen: f64) -> f64 {
        match self.frequency.get(term) {
            Some(n) => bm25_idf(self.items, usize::try_from(n).unwrap_or(usize::MAX)),
            None => unseen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_background_in_use_is_the_one_the_library_gives() {
        let built = Background::build();
        let in_use = Background::get();
        assert!(built.items > 1_000, "{} history items", built.items);
        assert_eq!(in_use.items, built.items);
        assert_eq!(
            in_use.frequency.as_fst().as_bytes(),
            built.frequency.as_fst().as_bytes()
        );
    }

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
            vec![
                "do you smoke",
                "have you travelled",
                "any nausea or vomiting"
            ]
        );
        assert_eq!(
            question_parts("Any fevers, rashes or weight loss?"),
            vec!["any fevers | rashes or weight loss"]
        );
    }
}

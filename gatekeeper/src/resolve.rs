//! Request resolution: from what a doctor typed to catalogue tests and exam systems.
//!
//! A request is split into items ("CBC, U&E and a chest x-ray" is three), each item is stripped of
//! ordering words ("please order a …"), and then matched in this order:
//! 1. a request for interpretation or hints is refused;
//! 2. a vague request ("bloods", "a scan", "everything") is refused with suggestions;
//! 3. exact: a test id or display name;
//! 4. synonym: one of the listed other names;
//! 5. abbreviation: one of the listed abbreviations (`CBC`, `CXR`);
//! 6. fuzzy: the most similar name above [`FUZZY_THRESHOLD`], if no other test comes close;
//! 7. otherwise unrecognised, with the nearest catalogue names.
//!
//! The same machinery resolves exam systems ("listen to the heart" → `cardiovascular`).

use std::collections::HashMap;

use serde::Serialize;

use crate::catalogue::{Catalogue, Category};
use crate::memo::TextMemo;
use crate::text::{normalize, tokens};

/// Similarity (0–1, from the optimal-string-alignment edit distance on normalised text) a fuzzy match
/// must reach.
pub const FUZZY_THRESHOLD: f64 = 0.84;
/// How much better than the runner-up (another target) a fuzzy match must be to be trusted.
const FUZZY_MARGIN: f64 = 0.04;
/// How many nearest names an unrecognised or vague request is answered with.
const SUGGESTIONS: usize = 5;

/// How a name matched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MatchKind {
    /// The id or the display name.
    Exact,
    /// A listed synonym.
    Synonym,
    /// A listed abbreviation.
    Abbreviation,
    /// A near spelling; `score` is the similarity.
    Fuzzy {
        /// Similarity in 0–1.
        score: f64,
    },
}

/// What an order item resolved to.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum OrderOutcome {
    /// An orderable test (index into [`Catalogue::tests`]).
    Test {
        /// The test.
        test: usize,
        /// How it matched.
        via: MatchKind,
    },
    /// A component analyte with no test of its own name (index into [`Catalogue::analytes`]).
    Analyte {
        /// The analyte.
        analyte: usize,
        /// How it matched.
        via: MatchKind,
    },
    /// Too vague to order; these tests (indices) are suggested.
    Vague {
        /// Suggested tests.
        suggestions: Vec<usize>,
    },
    /// A request for interpretation, hints or a diagnosis.
    Interpretation,
    /// Not recognised; the nearest tests (indices).
    Unknown {
        /// Nearest tests.
        nearest: Vec<usize>,
    },
}

/// What an examination item resolved to.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum ExamOutcome {
    /// An exam system (index into [`Catalogue::systems`]).
    System {
        /// The system.
        system: usize,
        /// How it matched.
        via: MatchKind,
    },
    /// "Examine everything": name the systems instead.
    Vague,
    /// A request for interpretation, hints or a diagnosis.
    Interpretation,
    /// Not recognised; the nearest systems (indices).
    Unknown {
        /// Nearest systems.
        nearest: Vec<usize>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Test(usize),
    Analyte(usize),
    System(usize),
}

/// Phrases (normalised) that ask for interpretation rather than findings.
const INTERPRETATION: &[&str] = &[
    "interpret",
    "interpretation",
    "what does",
    "what do you think",
    "what is the diagnosis",
    "whats the diagnosis",
    "diagnosis",
    "differential",
    "impression",
    "hint",
    "clue",
    "is this normal",
    "is it normal",
    "is that normal",
    "whats wrong",
    "what is wrong",
    "explain",
    "significance",
    "most likely",
    "what should i",
    "which test",
    "what test",
    "recommend",
    "suggest",
    "tell me what",
    "hints",
    "clues",
    "guess",
    "what next",
    "what now",
    "help me",
    "advice",
];

/// Words stripped from the start of an item ("please order a CBC").
const LEADING_FILLER: &[&str] = &[
    "please",
    "order",
    "orders",
    "ordering",
    "id",
    "i",
    "we",
    "would",
    "like",
    "want",
    "need",
    "to",
    "get",
    "send",
    "sending",
    "request",
    "check",
    "do",
    "perform",
    "obtain",
    "run",
    "lets",
    "let",
    "us",
    "can",
    "could",
    "have",
    "a",
    "an",
    "the",
    "some",
    "stat",
    "urgent",
    "urgently",
    "repeat",
    "also",
    "then",
    "and",
    "me",
    "for",
    "of",
    "examine",
    "exam",
    "examination",
    "assess",
    "look",
    "at",
    "listen",
    "auscultate",
    "inspect",
    "palpate",
    "his",
    "her",
    "their",
    "patients",
    "patient",
    "take",
];

/// Words stripped from the end of an item ("potassium level please").
const TRAILING_FILLER: &[&str] = &[
    "please",
    "stat",
    "now",
    "urgently",
    "test",
    "tests",
    "level",
    "levels",
    "result",
    "results",
    "study",
    "exam",
    "examination",
];

/// Qualifiers that may be dropped when nothing matches with them ("serum potassium").
const SPECIMEN_WORDS: &[&str] = &["serum", "plasma", "blood", "random"];

/// A vague term and what to suggest for it.
struct VagueTerm {
    phrases: &'static [&'static str],
    suggest: Suggest,
}

enum Suggest {
    Ids(&'static [&'static str]),
    NameContains(&'static str),
    Category(Category),
}

const BASIC_BLOODS: &[&str] = &[
    "cbc",
    "bmp",
    "cmp",
    "crp",
    "lft",
    "coagulation_panel",
    "urinalysis",
];

const VAGUE: &[VagueTerm] = &[
    VagueTerm {
        phrases: &[
            "bloods",
            "blood work",
            "bloodwork",
            "blood tests",
            "blood test",
            "labs",
            "lab",
            "lab work",
            "lab tests",
            "routine labs",
            "basic labs",
            "routine bloods",
            "baseline bloods",
            "blood panel",
            "panel",
            "chemistry",
            "chemistries",
            "all labs",
            "all bloods",
            "full bloods",
            "screening bloods",
            "basic metabolic workup",
        ],
        suggest: Suggest::Ids(BASIC_BLOODS),
    },
    VagueTerm {
        phrases: &[
            "everything",
            "all tests",
            "all the tests",
            "all",
            "full workup",
            "workup",
            "work up",
            "full work up",
            "every test",
            "tests",
            "investigations",
            "screen",
            "screening",
            "full screen",
            "the works",
            "anything",
            "whatever",
            "standard tests",
            "routine tests",
        ],
        suggest: Suggest::Ids(BASIC_BLOODS),
    },
    VagueTerm {
        phrases: &[
            "imaging",
            "scan",
            "scans",
            "radiology",
            "a scan",
            "body scan",
            "full body scan",
            "whole body scan",
        ],
        suggest: Suggest::Category(Category::Imaging),
    },
    VagueTerm {
        phrases: &[
            "xray",
            "xrays",
            "radiograph",
            "plain film",
            "plain films",
            "film",
        ],
        suggest: Suggest::NameContains("xray"),
    },
    VagueTerm {
        phrases: &["ct", "ct scan", "cat scan", "computed tomography"],
        suggest: Suggest::NameContains("ct"),
    },
    VagueTerm {
        phrases: &["mri", "mri scan", "mr", "magnetic resonance"],
        suggest: Suggest::NameContains("mri"),
    },
    VagueTerm {
        phrases: &[
            "ultrasound",
            "us",
            "sonogram",
            "sonography",
            "ultrasound scan",
            "usg",
        ],
        suggest: Suggest::NameContains("ultrasound"),
    },
    VagueTerm {
        phrases: &["biopsy", "tissue biopsy", "a biopsy", "histology"],
        suggest: Suggest::NameContains("biopsy"),
    },
    VagueTerm {
        phrases: &[
            "culture",
            "cultures",
            "micro",
            "microbiology",
            "swab",
            "swabs",
        ],
        suggest: Suggest::NameContains("culture"),
    },
    VagueTerm {
        phrases: &[
            "serology",
            "antibodies",
            "antibody",
            "autoantibodies",
            "immunology",
            "autoimmune screen",
        ],
        suggest: Suggest::NameContains("antibod"),
    },
    VagueTerm {
        phrases: &["urine", "urine test", "urine tests", "urine studies"],
        suggest: Suggest::NameContains("urin"),
    },
    VagueTerm {
        phrases: &[
            "hormones",
            "hormone levels",
            "endocrine tests",
            "hormone panel",
        ],
        suggest: Suggest::Ids(&["tsh", "free_t4", "cortisol", "prolactin", "lh", "fsh"]),
    },
    VagueTerm {
        phrases: &[
            "tumor markers",
            "tumour markers",
            "cancer markers",
            "cancer screen",
        ],
        suggest: Suggest::Ids(&["cea", "ca_125", "ca_19_9", "psa", "afp"]),
    },
    VagueTerm {
        phrases: &["endoscopy", "scope", "a scope"],
        suggest: Suggest::NameContains("scopy"),
    },
    VagueTerm {
        phrases: &["genetic testing", "genetics", "genetic tests", "dna test"],
        suggest: Suggest::NameContains("variant"),
    },
];

/// Phrases asking to examine everything at once.
const VAGUE_EXAM: &[&str] = &[
    "everything",
    "all",
    "all systems",
    "full",
    "full exam",
    "full examination",
    "complete",
    "complete exam",
    "physical",
    "physical exam",
    "physical examination",
    "head to toe",
    "the patient",
    "patient",
    "general exam",
    "systemic examination",
    "systems",
];

/// Resolves requests against one catalogue. Build once (it indexes every name) and share.
///
/// Resolution depends on the request text and the catalogue alone, so whole requests are remembered
/// (up to [`RESOLUTION_MEMO_LIMIT`] of each kind): agents repeat the same orders and examinations
/// across thousands of episodes, and a repeat costs one lookup instead of normalising and matching.
#[derive(Debug)]
pub struct Resolver<'c> {
    catalogue: &'c Catalogue,
    orders: Index,
    exam: Index,
    vague: HashMap<String, Vec<usize>>,
    order_memo: TextMemo<Vec<(String, OrderOutcome)>>,
    exam_memo: TextMemo<Vec<(String, ExamOutcome)>>,
}

/// Most requests of each kind a [`Resolver`] remembers; later new requests are resolved afresh.
pub const RESOLUTION_MEMO_LIMIT: usize = 65_536;

#[derive(Debug, Default)]
struct Index {
    exact: HashMap<String, (Target, MatchKind)>,
    names: Vec<IndexedName>,
    /// Trigram → the names (indices into `names`) that contain it.
    trigram_postings: HashMap<u64, Vec<u32>>,
    /// Word → the names that contain it as a whole word.
    word_postings: HashMap<String, Vec<u32>>,
}

/// A name prepared for similarity search.
#[derive(Debug)]
struct IndexedName {
    key: String,
    sorted: String,
    trigram_count: usize,
    target: Target,
}

/// How many names the cheap trigram pass hands to the edit-distance pass.
const SHORTLIST: usize = 32;

/// The words of a normalised text in alphabetical order, so "xray chest" meets "chest xray".
fn sorted_words(text: &str) -> String {
    let mut words: Vec<&str> = tokens(text).collect();
    words.sort_unstable();
    words.join(" ")
}

/// Hashed character trigrams of a normalised text (padded with spaces), sorted and unique.
fn trigrams(text: &str) -> Vec<u64> {
    let padded: Vec<char> = format!(" {text} ").chars().collect();
    let mut grams: Vec<u64> = padded
        .windows(3)
        .map(|window| {
            let gram: String = window.iter().collect();
            crate::text::stable_hash(gram.as_bytes())
        })
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Similarity in 0–1 from the optimal-string-alignment distance (edits and transpositions).
fn edit_similarity(a: &str, b: &str) -> f64 {
    let longest = a.chars().count().max(b.chars().count());
    if longest == 0 {
        return 1.0;
    }
    1.0 - strsim::osa_distance(a, b) as f64 / longest as f64
}

impl Index {
    fn add(&mut self, name: &str, target: Target, via: MatchKind) {
        let key = normalize(name);
        if key.is_empty() {
            return;
        }
        // First writer wins: tests are indexed before analytes, display names before synonyms.
        self.exact.entry(key.clone()).or_insert((target, via));
        let position = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let grams = trigrams(&key);
        for gram in &grams {
            self.trigram_postings
                .entry(*gram)
                .or_default()
                .push(position);
        }
        for word in tokens(&key) {
            let postings = self.word_postings.entry(word.to_string()).or_default();
            if postings.last() != Some(&position) {
                postings.push(position);
            }
        }
        self.names.push(IndexedName {
            sorted: sorted_words(&key),
            trigram_count: grams.len(),
            key,
            target,
        });
    }

    /// Targets ranked by similarity to `query`, each target once, best first: the inverted trigram and
    /// word indexes pick a shortlist (Dice coefficient), which is then scored by edit distance on the
    /// words as typed and in alphabetical order. A query word that is a whole word of a name counts
    /// too, as a hint for suggestions.
    fn ranked(&self, query: &str, keep: impl Fn(Target) -> bool) -> Vec<(Target, f64)> {
        let query_trigrams = trigrams(query);
        let query_sorted = sorted_words(query);
        // Only names sharing a trigram or a word with the query are ever touched.
        let mut counts: Vec<u16> = vec![0; self.names.len()];
        let mut touched: Vec<u32> = Vec::new();
        for gram in &query_trigrams {
            for &name in self
                .trigram_postings
                .get(gram)
                .map_or(&[][..], Vec::as_slice)
            {
                let count = &mut counts[name as usize];
                if *count == 0 {
                    touched.push(name);
                }
                *count = count.saturating_add(1);
            }
        }
        let mut shared_words: HashMap<u32, u32> = HashMap::new();
        for word in tokens(query) {
            for &name in self.word_postings.get(word).map_or(&[][..], Vec::as_slice) {
                *shared_words.entry(name).or_insert(0) += 1;
            }
        }
        let word_bonus = |position: u32| {
            shared_words
                .get(&position)
                .map_or(0.0, |&shared| 0.3 + 0.1 * f64::from(shared))
        };
        let mut shortlist: Vec<(f64, u32)> = touched
            .iter()
            .filter(|&&position| keep(self.names[position as usize].target))
            .map(|&position| {
                let name = &self.names[position as usize];
                let shared = f64::from(counts[position as usize]);
                let dice = 2.0 * shared / (query_trigrams.len() + name.trigram_count).max(1) as f64;
                (dice.max(word_bonus(position)), position)
            })
            .collect();
        let keep_count = SHORTLIST.min(shortlist.len());
        if keep_count > 0 {
            shortlist.select_nth_unstable_by(keep_count - 1, |a, b| {
                b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
            });
            shortlist.truncate(keep_count);
        }
        let mut best: HashMap<Target, f64> = HashMap::new();
        for (_, position) in shortlist {
            let name = &self.names[position as usize];
            let score = edit_similarity(query, &name.key)
                .max(edit_similarity(&query_sorted, &name.sorted))
                .max(word_bonus(position));
            let entry = best.entry(name.target).or_insert(0.0);
            *entry = entry.max(score);
        }
        let mut ranked: Vec<(Target, f64)> = best.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| order_key(a.0).cmp(&order_key(b.0)))
        });
        ranked
    }
}

fn order_key(target: Target) -> (u8, usize) {
    match target {
        Target::Test(index) => (0, index),
        Target::Analyte(index) => (1, index),
        Target::System(index) => (2, index),
    }
}

fn is_abbreviation(raw: &str) -> bool {
    !raw.contains(' ')
        && raw.len() <= 8
        && raw.chars().filter(char::is_ascii_uppercase).count() >= 2
}

fn synonym_kind(raw: &str) -> MatchKind {
    if is_abbreviation(raw) {
        MatchKind::Abbreviation
    } else {
        MatchKind::Synonym
    }
}

/// Splits a request into items on commas, semicolons, new lines and the word "and" (but not inside a
/// name the catalogue knows, such as "ova and parasites").
fn split_items(request: &str) -> Vec<String> {
    request
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits an already-normalised item on "and", "plus", "&" and "+", dropping parts that are only
/// ordering words.
fn split_conjunctions(normalized: &str) -> Vec<&str> {
    normalized
        .split(['+', '&'])
        .flat_map(|part| part.split(" and "))
        .flat_map(|part| part.split(" plus "))
        .map(str::trim)
        .filter(|part| !strip_filler(part).is_empty())
        .collect()
}

fn strip_filler(normalized: &str) -> String {
    let words: Vec<&str> = tokens(normalized).collect();
    let start = words
        .iter()
        .take_while(|word| LEADING_FILLER.contains(word))
        .count();
    let mut end = words.len();
    while end > start && TRAILING_FILLER.contains(&words[end - 1]) {
        end -= 1;
    }
    words[start..end].join(" ")
}

fn strip_specimen(text: &str) -> String {
    tokens(text)
        .filter(|word| !SPECIMEN_WORDS.contains(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_interpretation(normalized: &str) -> bool {
    INTERPRETATION
        .iter()
        .any(|phrase| crate::text::contains_phrase(normalized, phrase))
}

impl<'c> Resolver<'c> {
    /// Indexes every test, analyte and exam-system name of `catalogue`.
    pub fn new(catalogue: &'c Catalogue) -> Resolver<'c> {
        let mut orders = Index::default();
        for (index, test) in catalogue.tests().iter().enumerate() {
            orders.add(
                &test.id.replace('_', " "),
                Target::Test(index),
                MatchKind::Exact,
            );
            orders.add(&test.name, Target::Test(index), MatchKind::Exact);
        }
        for (index, test) in catalogue.tests().iter().enumerate() {
            for synonym in &test.synonyms {
                orders.add(synonym, Target::Test(index), synonym_kind(synonym));
            }
        }
        for (index, analyte) in catalogue.analytes().iter().enumerate() {
            orders.add(
                &analyte.id.replace('_', " "),
                Target::Analyte(index),
                MatchKind::Exact,
            );
            orders.add(&analyte.name, Target::Analyte(index), MatchKind::Exact);
            for synonym in &analyte.synonyms {
                orders.add(synonym, Target::Analyte(index), synonym_kind(synonym));
            }
        }
        let mut exam = Index::default();
        for (index, system) in catalogue.systems().iter().enumerate() {
            exam.add(
                &system.id.replace('_', " "),
                Target::System(index),
                MatchKind::Exact,
            );
            exam.add(&system.name, Target::System(index), MatchKind::Exact);
            for synonym in &system.synonyms {
                exam.add(synonym, Target::System(index), synonym_kind(synonym));
            }
        }
        let mut vague = HashMap::new();
        for term in VAGUE {
            let suggestions = Self::vague_suggestions(catalogue, &term.suggest);
            for phrase in term.phrases {
                vague.insert(normalize(phrase), suggestions.clone());
            }
        }
        Resolver {
            catalogue,
            orders,
            exam,
            vague,
            order_memo: TextMemo::new(RESOLUTION_MEMO_LIMIT),
            exam_memo: TextMemo::new(RESOLUTION_MEMO_LIMIT),
        }
    }

    fn vague_suggestions(catalogue: &Catalogue, suggest: &Suggest) -> Vec<usize> {
        let tests = catalogue.tests().iter().enumerate();
        let found: Vec<usize> = match suggest {
            Suggest::Ids(ids) => ids
                .iter()
                .filter_map(|id| catalogue.test_position(id))
                .collect(),
            Suggest::Category(category) => tests
                .filter(|(_, test)| test.category == *category)
                .map(|(index, _)| index)
                .collect(),
            Suggest::NameContains(fragment) => tests
                .filter(|(_, test)| {
                    let name = normalize(&test.name);
                    tokens(&name).any(|word| word.starts_with(fragment))
                })
                .map(|(index, _)| index)
                .collect(),
        };
        found.into_iter().take(8).collect()
    }

    /// The catalogue this resolver indexes.
    pub fn catalogue(&self) -> &'c Catalogue {
        self.catalogue
    }

    /// Splits an order request into items and resolves each; returns `(item as typed, outcome)` pairs.
    pub fn resolve_order_request(&self, request: &str) -> Vec<(String, OrderOutcome)> {
        self.order_memo
            .get_or_compute(request, || self.resolve_order_request_afresh(request))
    }

    /// [`Resolver::resolve_order_request`] without the memo.
    fn resolve_order_request_afresh(&self, request: &str) -> Vec<(String, OrderOutcome)> {
        let mut resolved = Vec::new();
        for item in split_items(request) {
            let normalized = normalize(&item);
            if let Some(outcome) = self.resolve_order_directly(&normalized) {
                resolved.push((item, outcome));
                continue;
            }
            // Not a name as a whole: try it as a list joined by "and", "&", "+" or "plus".
            let parts = split_conjunctions(&normalized);
            if parts.len() > 1 {
                resolved.extend(
                    parts
                        .into_iter()
                        .map(|part| (part.to_string(), self.resolve_order(part))),
                );
            } else {
                resolved.push((item, self.resolve_order_by_similarity(&normalized)));
            }
        }
        resolved
    }

    /// The form of an order item that names are compared in: normalised, without ordering words
    /// ("please order a") or specimen words ("serum"). Case-specific tests are matched on it.
    pub fn order_key(item: &str) -> String {
        strip_specimen(&strip_filler(&normalize(item)))
    }

    /// Similarity (0–1) of two names already in [`Resolver::order_key`] form, as the fuzzy match
    /// scores it (edit distance on the words as typed and in alphabetical order).
    pub fn similarity(a: &str, b: &str) -> f64 {
        edit_similarity(a, b).max(edit_similarity(&sorted_words(a), &sorted_words(b)))
    }

    /// Resolves one order item (no splitting).
    pub fn resolve_order(&self, item: &str) -> OrderOutcome {
        let normalized = normalize(item);
        self.resolve_order_directly(&normalized)
            .unwrap_or_else(|| self.resolve_order_by_similarity(&normalized))
    }

    /// The outcomes that need no similarity search: interpretation, vague, exact, synonym or
    /// abbreviation (with ordering words and then specimen words stripped).
    fn resolve_order_directly(&self, normalized: &str) -> Option<OrderOutcome> {
        if is_interpretation(normalized) {
            return Some(OrderOutcome::Interpretation);
        }
        let stripped = strip_filler(normalized);
        let vague_key = if stripped.is_empty() {
            "everything"
        } else {
            stripped.as_str()
        };
        if let Some(suggestions) = self
            .vague
            .get(vague_key)
            .or_else(|| self.vague.get(normalized))
        {
            return Some(OrderOutcome::Vague {
                suggestions: suggestions.clone(),
            });
        }
        let found = self
            .orders
            .exact
            .get(normalized)
            .or_else(|| self.orders.exact.get(&stripped))
            .or_else(|| self.orders.exact.get(&strip_specimen(&stripped)))
            .copied();
        match found {
            Some((Target::Test(test), via)) => Some(OrderOutcome::Test { test, via }),
            Some((Target::Analyte(analyte), via)) => Some(OrderOutcome::Analyte { analyte, via }),
            _ => None,
        }
    }

    /// A fuzzy match above the threshold, or unknown with the nearest tests.
    fn resolve_order_by_similarity(&self, normalized: &str) -> OrderOutcome {
        let query = strip_specimen(&strip_filler(normalized));
        let ranked = self.orders.ranked(&query, |_| true);
        match self.fuzzy(&query, &ranked) {
            Some((Target::Test(test), via)) => OrderOutcome::Test { test, via },
            Some((Target::Analyte(analyte), via)) => OrderOutcome::Analyte { analyte, via },
            _ => OrderOutcome::Unknown {
                nearest: self.nearest_in(&ranked),
            },
        }
    }

    /// The best-ranked target as a fuzzy match, if it reaches the threshold and no different answer
    /// comes close.
    fn fuzzy(&self, query: &str, ranked: &[(Target, f64)]) -> Option<(Target, MatchKind)> {
        if query.chars().count() < 4 {
            return None;
        }
        let (best, score) = *ranked.first()?;
        // A component of the best test (troponin I in `troponin`) is the same answer, not a rival.
        let same_answer = |target: Target| match (best, target) {
            (Target::Test(test), Target::Analyte(analyte))
            | (Target::Analyte(analyte), Target::Test(test)) => {
                self.catalogue.tests_reporting(analyte).contains(&test)
            }
            _ => false,
        };
        let runner_up = ranked
            .iter()
            .skip(1)
            .find(|(target, _)| !same_answer(*target))
            .map_or(0.0, |(_, score)| *score);
        (score >= FUZZY_THRESHOLD && score - runner_up >= FUZZY_MARGIN)
            .then_some((best, MatchKind::Fuzzy { score }))
    }

    /// The tests whose names are nearest to `query` (indices), best first.
    pub fn nearest_tests(&self, query: &str) -> Vec<usize> {
        self.nearest_in(&self.orders.ranked(&normalize(query), |_| true))
    }

    fn nearest_in(&self, ranked: &[(Target, f64)]) -> Vec<usize> {
        let mut nearest = Vec::new();
        for (target, _) in ranked {
            let test = match *target {
                Target::Test(test) => test,
                Target::Analyte(analyte) => match self.catalogue.tests_reporting(analyte).first() {
                    Some(&test) => test,
                    None => continue,
                },
                Target::System(_) => continue,
            };
            if !nearest.contains(&test) {
                nearest.push(test);
            }
            if nearest.len() == SUGGESTIONS {
                break;
            }
        }
        nearest
    }

    /// Splits an examination request into items and resolves each.
    pub fn resolve_exam_request(&self, request: &str) -> Vec<(String, ExamOutcome)> {
        self.exam_memo
            .get_or_compute(request, || self.resolve_exam_request_afresh(request))
    }

    /// [`Resolver::resolve_exam_request`] without the memo.
    fn resolve_exam_request_afresh(&self, request: &str) -> Vec<(String, ExamOutcome)> {
        let mut resolved = Vec::new();
        for item in split_items(request) {
            let normalized = normalize(&item);
            let whole = self.resolve_exam(&item);
            if !matches!(whole, ExamOutcome::Unknown { .. }) {
                resolved.push((item, whole));
                continue;
            }
            let parts = split_conjunctions(&normalized);
            if parts.len() > 1 {
                resolved.extend(
                    parts
                        .into_iter()
                        .map(|part| (part.to_string(), self.resolve_exam(part))),
                );
            } else {
                resolved.push((item, whole));
            }
        }
        resolved
    }

    /// Resolves one examination item (no splitting).
    pub fn resolve_exam(&self, item: &str) -> ExamOutcome {
        let normalized = normalize(item);
        if is_interpretation(&normalized) {
            return ExamOutcome::Interpretation;
        }
        let stripped = strip_filler(&normalized);
        if stripped.is_empty()
            || VAGUE_EXAM.contains(&stripped.as_str())
            || VAGUE_EXAM.contains(&normalized.as_str())
        {
            return ExamOutcome::Vague;
        }
        let found = [normalized, stripped.clone()]
            .iter()
            .find_map(|form| self.exam.exact.get(form).copied())
            .or_else(|| self.fuzzy(&stripped, &self.exam.ranked(&stripped, |_| true)));
        match found {
            Some((Target::System(system), via)) => ExamOutcome::System { system, via },
            _ => {
                let nearest = self
                    .exam
                    .ranked(&stripped, |_| true)
                    .into_iter()
                    .filter_map(|(target, _)| match target {
                        Target::System(system) => Some(system),
                        _ => None,
                    })
                    .take(SUGGESTIONS)
                    .collect();
                ExamOutcome::Unknown { nearest }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_are_short_capitalised_words() {
        assert!(is_abbreviation("CBC"));
        assert!(is_abbreviation("U&E"));
        assert!(!is_abbreviation("full blood count"));
        assert!(!is_abbreviation("Lipase"));
    }

    #[test]
    fn ordering_words_are_stripped() {
        assert_eq!(strip_filler("please order a cbc stat"), "cbc");
        assert_eq!(
            strip_filler("id like to get a potassium level"),
            "potassium"
        );
        assert_eq!(strip_filler("listen to the heart"), "heart");
    }

    #[test]
    fn remembered_resolutions_are_the_fresh_ones() {
        let resolver = Resolver::new(Catalogue::builtin());
        for request in [
            "cbc, lipase and a chest x-ray",
            "bloods",
            "what is the diagnosis?",
            "trop",
        ] {
            let fresh = resolver.resolve_order_request_afresh(request);
            assert_eq!(resolver.resolve_order_request(request), fresh);
            assert_eq!(
                resolver.resolve_order_request(request),
                fresh,
                "from the memo"
            );
        }
        for request in ["heart and lungs", "everything", "abdomen"] {
            let fresh = resolver.resolve_exam_request_afresh(request);
            assert_eq!(resolver.resolve_exam_request(request), fresh);
            assert_eq!(
                resolver.resolve_exam_request(request),
                fresh,
                "from the memo"
            );
        }
    }
}

//! What the importers share: from a source's names and text to the case format's vocabularies.
//!
//! - history: [`topic_for`] files text under a topic with the patient's own topic lexicon, and
//!   [`keywords`] picks the words a question may use to reach an item;
//! - examination: [`Mapper::exam_system`] resolves an exam key with the gatekeeper's resolver, and
//!   [`Mapper::system_mentioned`] finds the system a free-text sentence is about;
//! - tests: [`Mapper::test_key`] resolves a test key to a catalogue test (exact, synonym,
//!   abbreviation, fuzzy), a component analyte, a group of tests, or nothing;
//! - diagnosis: [`Mapper::icd10_for`] looks the name up among ICD-10-CM descriptions, and
//!   [`specialty_for`] files a code under a specialty;
//! - safety: [`Guard`] withholds clauses that would name the diagnosis before the episode ends.

use std::collections::HashMap;
use std::sync::OnceLock;

use dxsim_gatekeeper::case::{HistoryTopic, Sex, Vitals};
use dxsim_gatekeeper::catalogue::Category;
use dxsim_gatekeeper::resolve::{ExamOutcome, MatchKind, OrderOutcome};
use dxsim_gatekeeper::text::{contains_phrase, normalize, tokens};
use dxsim_gatekeeper::{Catalogue, Icd10, Money, Resolver};
use serde_json::Value;

use super::components::{self, Measure};
use crate::patient::topics_of;

/// Source keys that name a group of tests rather than one ("Blood_Tests", "Imaging"): their
/// children are mapped one by one.
const GROUP_KEYS: &[&str] = &[
    "laboratory",
    "laboratory tests",
    "laboratory results",
    "laboratory studies",
    "laboratory findings",
    "labs",
    "lab results",
    "lab tests",
    "blood tests",
    "blood test",
    "blood work",
    "bloodwork",
    "bloods",
    "blood",
    "serum",
    "serum studies",
    "imaging",
    "imaging studies",
    "imaging results",
    "radiology",
    "investigations",
    "tests",
    "test results",
    "other tests",
    "additional tests",
    "diagnostic tests",
    "studies",
    "results",
    "other",
    "additional",
];

/// Words too common to tell one history item from another.
const STOP_WORDS: &[&str] = &[
    "about",
    "after",
    "also",
    "been",
    "before",
    "being",
    "does",
    "either",
    "ever",
    "from",
    "have",
    "having",
    "into",
    "last",
    "more",
    "much",
    "other",
    "over",
    "patient",
    "recently",
    "reports",
    "since",
    "some",
    "than",
    "that",
    "their",
    "there",
    "these",
    "this",
    "those",
    "very",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "with",
    "within",
    "would",
    "your",
    "related",
    "reason",
    "consulting",
    "usual",
    "usually",
    "feel",
    "felt",
    "noticed",
    "currently",
    "past",
    "weeks",
    "days",
    "months",
    "years",
    "week",
    "month",
    "year",
    "describes",
    "states",
];

/// What a test key of the source resolved to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestKey {
    /// A catalogue test (index into [`Catalogue::tests`]); `fuzzy` is the similarity when it matched
    /// by near spelling.
    Test {
        /// The test.
        test: usize,
        /// The similarity of a near-spelling match.
        fuzzy: Option<f64>,
    },
    /// A component analyte (index into [`Catalogue::analytes`]), reported within a catalogue test.
    Analyte {
        /// The analyte.
        analyte: usize,
    },
    /// A group of tests ("Blood_Tests"): map its children instead.
    Group,
    /// Nothing in the catalogue: keep it as a case-specific test.
    Unknown,
}

/// The catalogue, the resolver and the ICD-10-CM name index, built once per process.
#[derive(Debug)]
pub struct Mapper {
    resolver: Resolver<'static>,
    catalogue: &'static Catalogue,
    icd: &'static Icd10,
    /// Normalised exam-system names and synonyms → system id.
    system_phrases: Vec<(String, &'static str)>,
    /// Median catalogue price per category.
    median_price: HashMap<Category, Money>,
}

impl Mapper {
    /// The shared mapper.
    pub fn get() -> &'static Mapper {
        static MAPPER: OnceLock<Mapper> = OnceLock::new();
        MAPPER.get_or_init(|| {
            let catalogue = Catalogue::builtin();
            let icd = Icd10::builtin();
            let system_phrases: Vec<(String, &'static str)> = catalogue
                .systems()
                .iter()
                .filter(|system| system.id != "vitals")
                .flat_map(|system| {
                    std::iter::once(&system.name)
                        .chain(&system.synonyms)
                        .map(move |name| (normalize(name), system.id.as_str()))
                })
                .filter(|(name, _)| name.len() >= 4)
                .collect();
            let mut by_category: HashMap<Category, Vec<Money>> = HashMap::new();
            for test in catalogue.tests() {
                by_category
                    .entry(test.category)
                    .or_default()
                    .push(test.price);
            }
            let median_price = by_category
                .into_iter()
                .map(|(category, mut prices)| {
                    prices.sort_unstable();
                    (category, prices[prices.len() / 2])
                })
                .collect();
            Mapper {
                resolver: Resolver::new(catalogue),
                catalogue,
                icd,
                system_phrases,
                median_price,
            }
        })
    }

    /// The resolver, the same one the gatekeeper answers orders with.
    pub fn resolver(&self) -> &Resolver<'static> {
        &self.resolver
    }

    /// The catalogue.
    pub fn catalogue(&self) -> &'static Catalogue {
        self.catalogue
    }

    /// The ICD-10-CM table.
    pub fn icd(&self) -> &'static Icd10 {
        self.icd
    }

    /// The ICD-10-CM code whose description is this name (as written, without a parenthesis, or as
    /// the "unspecified" member of its category), else the code the judge's terminology files it
    /// under ([`crate::judge::RuleJudge::code_for`]); failing both, the same for the name's head
    /// ("Multiple myeloma" of "Multiple myeloma with hypercalcemia"). None when nothing finds one.
    pub fn icd10_for(&self, name: &str) -> Option<String> {
        let without_parenthesis = match (name.find('('), name.rfind(')')) {
            (Some(open), Some(close)) if open < close => {
                format!("{}{}", &name[..open], &name[close + 1..])
            }
            _ => name.to_string(),
        };
        // Not the parenthesis alone: a classification's inclusion term may file it elsewhere
        // ("erythema migrans" is an inclusion term of erysipeloid, A26.0).
        [name, without_parenthesis.as_str()]
            .into_iter()
            .chain(name_head(&without_parenthesis))
            .find_map(|form| self.code_of_one(form))
    }

    /// The code of one form of a name: its description, else the judge's reading of it
    /// (abbreviations, spelling, word order and plurals aside).
    fn code_of_one(&self, form: &str) -> Option<String> {
        let index = IcdNames::get(self.icd);
        let normalized = normalize(form);
        if normalized.is_empty() {
            return None;
        }
        index
            .exact
            .get(&normalized)
            .or_else(|| index.unspecified.get(&normalized))
            .map(|code| (*code).to_string())
            .or_else(|| crate::judge::RuleJudge::shared().code_for(form))
    }

    /// Whether a code is in the table, or, failing that, the code with its last character dropped
    /// (DDXPlus sometimes gives a code one level finer than the table).
    pub fn known_icd10(&self, code: &str) -> Option<String> {
        // Sources write codes in either case (`j44.1`); the table's are capitals.
        let code = code.trim().to_ascii_uppercase();
        let code = code.as_str();
        if self.icd.get(code).is_some() {
            return Some(code.to_string());
        }
        let shorter = code.trim_end_matches('.');
        let shorter = &shorter[..shorter.len().saturating_sub(1)];
        let shorter = shorter.trim_end_matches('.');
        (shorter.len() >= 3 && self.icd.get(shorter).is_some()).then(|| shorter.to_string())
    }

    /// The exam system an exam key names ("Cardiovascular_Examination" → `cardiovascular`).
    pub fn exam_system(&self, key: &str) -> Option<&'static str> {
        match self.resolver.resolve_exam(&label(key)) {
            ExamOutcome::System { system, .. } => {
                Some(self.catalogue.systems()[system].id.as_str())
            }
            _ => None,
        }
    }

    /// The exam system a sentence of free text is about: the system name or synonym it mentions
    /// first, as whole words (the longer one where two start at the same word).
    pub fn system_mentioned(&self, sentence: &str) -> Option<&'static str> {
        let normalized = normalize(sentence);
        self.system_phrases
            .iter()
            .filter_map(|(phrase, system)| {
                first_phrase_at(&normalized, phrase)
                    .map(|at| (at, std::cmp::Reverse(phrase.len()), *system))
            })
            .min()
            .map(|(_, _, system)| system)
    }

    /// What a test key resolves to; `group` is the key it sits under ("Urinalysis"), whose
    /// specimen a bare component ("Glucose") is read in.
    pub fn test_key(&self, key: &str, has_children: bool, group: Option<&str>) -> TestKey {
        let name = label(key);
        let normalized = normalize(&name);
        if has_children && GROUP_KEYS.contains(&normalized.as_str()) {
            return TestKey::Group;
        }
        if !has_children
            && let Some(measure) =
                group.and_then(|group| components::measure_in(&name, &label(group)))
        {
            return match measure {
                Measure::Analyte(analyte) => TestKey::Analyte { analyte },
                Measure::Test(test) => TestKey::Test { test, fuzzy: None },
            };
        }
        let is_exact = |outcome: &OrderOutcome| match outcome {
            OrderOutcome::Test { via, .. } | OrderOutcome::Analyte { via, .. } => {
                !matches!(via, MatchKind::Fuzzy { .. })
            }
            _ => false,
        };
        let mut outcome = self.resolver.resolve_order(&name);
        if !is_exact(&outcome)
            && !has_children
            && let Some(found) = name_variants(&name, group.map(label).as_deref())
                .iter()
                .map(|variant| self.resolver.resolve_order(variant))
                .find(is_exact)
        {
            outcome = found;
        }
        let exact = is_exact(&outcome);
        // Lab names with their specimen ("White Blood Cells [Blood]"), through the component
        // vocabulary, before a near spelling is trusted.
        if !exact && let Some(measure) = components::measure(&name) {
            return match measure {
                Measure::Analyte(analyte) => TestKey::Analyte { analyte },
                Measure::Test(test) => TestKey::Test { test, fuzzy: None },
            };
        }
        match outcome {
            OrderOutcome::Test { test, via } => TestKey::Test {
                test,
                fuzzy: match via {
                    MatchKind::Fuzzy { score } => Some(score),
                    _ => None,
                },
            },
            OrderOutcome::Analyte { analyte, .. }
                if !self.catalogue.tests_reporting(analyte).is_empty() =>
            {
                TestKey::Analyte { analyte }
            }
            OrderOutcome::Vague { .. } if has_children => TestKey::Group,
            _ if has_children && GROUP_KEYS.contains(&normalized.as_str()) => TestKey::Group,
            _ => TestKey::Unknown,
        }
    }

    /// The price given to a case-specific test: the catalogue's median price for the category its
    /// name suggests (imaging, pathology, microbiology, cardiology, or laboratory).
    pub fn case_test_price(&self, name: &str) -> (Money, Category) {
        let normalized = normalize(name);
        let has = |stems: &[&str]| {
            tokens(&normalized).any(|word| stems.iter().any(|s| word.starts_with(s)))
        };
        let category = if has(&[
            "xray",
            "ct",
            "mri",
            "ultrasound",
            "sonogra",
            "scan",
            "radiograph",
            "angiogra",
            "doppler",
            "imaging",
            "film",
            "mammogra",
            "fluoroscop",
            "pet",
            "venogra",
        ]) {
            Category::Imaging
        } else if has(&["biops", "histolog", "patholog", "cytolog", "aspirat"]) {
            Category::Pathology
        } else if has(&["culture", "gram", "pcr", "smear", "antigen"]) {
            Category::Microbiology
        } else if has(&["ecg", "ekg", "echo", "holter", "stress", "electrocardiogra"]) {
            Category::Cardiology
        } else {
            Category::Lab
        };
        let price = self
            .median_price
            .get(&category)
            .or_else(|| self.median_price.get(&Category::Lab))
            .copied()
            .unwrap_or(Money::ZERO);
        (price, category)
    }
}

/// ICD-10-CM descriptions indexed by their normalised text, built the first time a diagnosis is
/// looked up by name (a DDXPlus import, whose conditions carry codes, usually never needs it).
#[derive(Debug)]
struct IcdNames {
    /// Normalised description → code.
    exact: HashMap<String, &'static str>,
    /// Normalised description without its ", unspecified …" tail → code.
    unspecified: HashMap<String, &'static str>,
}

impl IcdNames {
    fn get(icd: &'static Icd10) -> &'static IcdNames {
        static NAMES: OnceLock<IcdNames> = OnceLock::new();
        NAMES.get_or_init(|| {
            let mut exact = HashMap::new();
            let mut unspecified = HashMap::new();
            // Billable codes first, so "pneumonia" lands on a code a record can carry.
            let entries = icd
                .entries()
                .iter()
                .filter(|entry| entry.billable)
                .chain(icd.entries().iter().filter(|entry| !entry.billable));
            for entry in entries {
                exact
                    .entry(normalize(entry.description))
                    .or_insert(entry.code);
                let lower = entry.description.to_lowercase();
                if let Some(at) = lower.find(", unspecified") {
                    unspecified
                        .entry(normalize(&entry.description[..at]))
                        .or_insert(entry.code);
                }
            }
            IcdNames { exact, unspecified }
        })
    }
}

/// Where `needle` first occurs in `haystack` as whole words (both normalised).
fn first_phrase_at(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .match_indices(needle)
        .map(|(start, _)| start)
        .find(|&start| {
            let end = start + needle.len();
            (start == 0 || haystack.as_bytes()[start - 1] == b' ')
                && (end == haystack.len() || haystack.as_bytes()[end] == b' ')
        })
}

/// A source key as words: underscores to spaces, trimmed ("Chest_X-Ray" → "Chest X-Ray").
pub fn label(key: &str) -> String {
    key.replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a source's text for a test or finding is no result: pending or not done, or a hedge
/// about what it would show ("would typically show consolidation"), which an episode must never
/// serve as if measured.
pub fn is_unresulted(text: &str) -> bool {
    let text = normalize(text);
    const WHOLE: &[&str] = &[
        "pending",
        "results pending",
        "result pending",
        "awaiting results",
        "not available",
        "not yet available",
        "n a",
        "not done",
        "not performed",
        "not obtained",
        "not reported",
        "to be done",
        "unknown",
    ];
    const HEDGES: &[&str] = &[
        "would typically show",
        "would typically reveal",
        "would typically demonstrate",
        "typically shows",
        "typically reveals",
        "would show",
        "would reveal",
        "would demonstrate",
        "would likely show",
        "would be expected",
        "expected to show",
        "may show",
        "might show",
        "could show",
        "is pending",
        "are pending",
        "results pending",
    ];
    WHOLE.contains(&text.as_str())
        || text.starts_with("pending ")
        || HEDGES.iter().any(|hedge| contains_phrase(&text, hedge))
}

/// `text` without its clauses that are no result ([`is_unresulted`]), and the clauses dropped.
pub fn without_unresulted(text: &str) -> (String, Vec<String>) {
    if !clauses(text).into_iter().any(is_unresulted) {
        return (text.to_string(), Vec::new());
    }
    let mut kept = String::new();
    let mut dropped = Vec::new();
    for clause in clauses(text) {
        if is_unresulted(clause) {
            dropped.push(clause.trim().to_string());
        } else {
            kept.push_str(clause);
        }
    }
    let kept = kept.trim().trim_end_matches(';').trim().to_string();
    (kept, dropped)
}

/// Any JSON value as one line of text: lists joined by "; ", objects as "Key: value" pairs, nested
/// objects in parentheses. Empty parts are left out.
pub fn flatten(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "no".to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        Value::Array(items) => items
            .iter()
            .map(flatten)
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        Value::Object(map) => map
            .iter()
            .filter_map(|(key, value)| {
                let text = flatten(value);
                if text.is_empty() {
                    None
                } else if value.is_object() && text.contains(';') {
                    Some(format!("{}: ({text})", label(key)))
                } else {
                    Some(format!("{}: {text}", label(key)))
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Whether a JSON value holds any text at all.
pub fn is_empty(value: &Value) -> bool {
    flatten(value).is_empty()
}

/// The first of `preferred` that the topic lexicon finds in `text`.
pub fn topic_for(text: &str, preferred: &[HistoryTopic]) -> Option<HistoryTopic> {
    let topics = topics_of(text);
    preferred
        .iter()
        .copied()
        .find(|topic| topics.contains(topic))
}

/// Up to six distinctive words of `text` (four letters or more, not common words), for a history
/// item's keywords.
pub fn keywords(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut words: Vec<String> = Vec::new();
    for word in tokens(&normalized) {
        let distinctive = word.len() >= 4
            && word.chars().all(char::is_alphabetic)
            && !STOP_WORDS.contains(&word)
            && !words.iter().any(|kept| kept == word);
        if distinctive {
            words.push(word.to_string());
        }
        if words.len() == 6 {
            break;
        }
    }
    words
}

/// Whether a statement is a pertinent negative ("No fever", "Denies chest pain").
pub fn is_negative(text: &str) -> bool {
    // A negation among the first words: "No fever", "He had no fever", "She denies chest pain".
    let normalized = normalize(text);
    tokens(&normalized).take(4).any(|word| {
        matches!(
            word,
            "no" | "denies" | "denied" | "none" | "negative" | "never" | "not" | "without" | "nil"
        )
    })
}

/// A heuristic for whether a finding or report describes something abnormal: it does unless every
/// clause reads as normal ("no murmurs", "clear to auscultation", "within normal limits").
pub fn looks_abnormal(text: &str) -> bool {
    const NORMAL: &[&str] = &[
        "normal",
        "unremarkable",
        "within normal limits",
        "wnl",
        "clear",
        "intact",
        "regular",
        "negative",
        "symmetric",
        "soft",
        "nontender",
        "non tender",
        "no acute",
        "benign",
    ];
    text.split([';', '.', ',', '\n'])
        .map(normalize)
        .filter(|clause| !clause.is_empty())
        .any(|clause| {
            let normal = !contains_phrase(&clause, "abnormal")
                && !contains_phrase(&clause, "abnormality")
                && (is_negative(&clause)
                    || NORMAL.iter().any(|word| contains_phrase(&clause, word)));
            !normal
        })
}

/// Whether a result is only a number and its unit ("Urea Nitrogen: 18 mg/dL", "6,800 /µL"): it says
/// nothing of whether it is normal, so it is not read as abnormal for want of the word "normal".
pub fn is_plain_measurement(part: &str) -> bool {
    let value = part
        .rsplit_once(": ")
        .map_or(part, |(_, value)| value)
        .trim();
    let value = value
        .trim_start_matches(['<', '>', '≤', '≥', '~'])
        .trim_start();
    value.starts_with(|c: char| c.is_ascii_digit()) && value.split_whitespace().count() <= 2
}

/// Lowercase letters and digits joined by `separator`, from any text ("Chest X-Ray (PA)" →
/// "chest-x-ray-pa"); letters outside ASCII are dropped.
pub fn slug(text: &str, separator: char) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with(separator) {
            out.push(separator);
        }
    }
    out.trim_end_matches(separator).to_string()
}

/// Age and sex as a source's demographics text states them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Demographics {
    /// Whole years.
    pub age_years: Option<u32>,
    /// Months, for a child under two.
    pub age_months: Option<u32>,
    /// Sex.
    pub sex: Option<Sex>,
    /// The words of an age stated only roughly ("in his 70s"), when `age_years` is read from them.
    pub approximate: Option<String>,
}

/// Reads "45-year-old male", "A 3-month-old girl", "Female, 62 years", "age 70, M", "a newborn",
/// "a man in his 70s" (75: the middle of the decade, marked approximate).
pub fn demographics(text: &str) -> Demographics {
    let normalized = normalize(text);
    let words: Vec<&str> = tokens(&normalized).collect();
    let mut found = Demographics::default();
    for (at, word) in words.iter().enumerate() {
        let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
        if found.age_years.is_none() {
            if let Some((years, phrase)) = decade(&words, at) {
                found.age_years = Some(years);
                found.approximate = Some(phrase);
            } else if matches!(*word, "newborn" | "neonate") {
                found.age_years = Some(0);
                found.age_months = Some(0);
            } else if *word == "infant" {
                found.age_years = Some(0);
            } else if let Some((years, stage)) = match *word {
                "toddler" => Some((2, "toddler")),
                "teenager" | "teen" | "adolescent" => Some((15, *word)),
                _ => None,
            } {
                found.age_years = Some(years);
                found.approximate = Some(format!("a {stage}"));
            }
        }
        if found.age_years.is_none() && !digits.is_empty() {
            let number: u32 = digits.parse().unwrap_or(0);
            let suffix = &word[digits.len()..];
            let unit = if suffix.is_empty() {
                words.get(at + 1).copied().unwrap_or_default()
            } else {
                suffix
            };
            let after_age = at > 0 && matches!(words[at - 1], "age" | "aged");
            // "41F", "61M": clinical shorthand for age and sex, read only in a short demographics
            // text (in a story "walked 20m" is a distance).
            if matches!(suffix, "f" | "m") && text.len() <= 80 {
                found.age_years = Some(number);
                found.sex = found.sex.or(Some(if suffix == "f" {
                    Sex::Female
                } else {
                    Sex::Male
                }));
                continue;
            }
            if unit.starts_with("year") || matches!(unit, "yo" | "y" | "yr" | "yrs" | "yearold") {
                found.age_years = Some(number);
            } else if unit.starts_with("month") || unit == "mo" {
                found.age_years = Some(number / 12);
                found.age_months = (number < 24).then_some(number % 12);
            } else if unit.starts_with("week") || unit.starts_with("day") {
                let months = if unit.starts_with("week") {
                    number / 4
                } else {
                    number / 30
                };
                found.age_years = Some(0);
                found.age_months = Some(months.min(11));
            } else if after_age {
                found.age_years = Some(number);
            }
        }
        if found.sex.is_none() {
            found.sex = match *word {
                "male" | "man" | "boy" | "gentleman" | "m" | "he" | "his" | "him" | "himself"
                | "mr" => Some(Sex::Male),
                "female" | "woman" | "girl" | "lady" | "f" | "she" | "her" | "hers" | "herself"
                | "pregnant" | "mrs" | "ms" | "miss" => Some(Sex::Female),
                _ => None,
            };
        }
    }
    found
}

/// The race or ethnicity a demographics text states ("Race: Black/African American", "71-year-old
/// White male", "HISPANIC/LATINO"), in the source's words; capitals-only text in title case.
pub fn race(text: &str) -> Option<String> {
    /// Categories as US records (MIMIC-IV among them) write them, longest first.
    const CATEGORIES: &[&str] = &[
        "black/african american",
        "hispanic/latino",
        "american indian/alaska native",
        "native hawaiian/other pacific islander",
        "african american",
        "american indian",
        "alaska native",
        "pacific islander",
        "native american",
        "middle eastern",
        "multiracial",
        "caucasian",
        "hispanic",
        "latino",
        "latina",
        "white",
        "black",
        "asian",
    ];
    let stated = text
        .split_once("Race:")
        .or_else(|| text.split_once("race:"))
        .or_else(|| text.split_once("RACE:"))
        .map(|(_, rest)| {
            rest.split([',', ';', '.'])
                .next()
                .unwrap_or_default()
                .trim()
        });
    let found = match stated {
        Some(words) if !words.is_empty() => words.to_string(),
        _ => {
            let lower = text.to_lowercase();
            let (at, category) = CATEGORIES.iter().find_map(|category| {
                lower
                    .match_indices(category)
                    .find(|(at, _)| {
                        let before = lower[..*at].chars().next_back();
                        let after = lower[at + category.len()..].chars().next();
                        before.is_none_or(|c| !c.is_alphanumeric())
                            && after.is_none_or(|c| !c.is_alphanumeric())
                    })
                    .map(|(at, _)| (at, *category))
            })?;
            text[at..at + category.len()].to_string()
        }
    };
    if found.chars().any(char::is_lowercase) {
        return Some(found);
    }
    Some(
        found
            .split_inclusive([' ', '/'])
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_string() + &chars.as_str().to_lowercase()
                })
            })
            .collect(),
    )
}

/// An age stated by its decade at `words[at]`: "in his 70s" (75), "in her early 40s" (42), "in
/// their late sixties" (68), with the words that state it.
fn decade(words: &[&str], at: usize) -> Option<(u32, String)> {
    const TENS: [(&str, u32); 8] = [
        ("twenties", 20),
        ("thirties", 30),
        ("forties", 40),
        ("fifties", 50),
        ("sixties", 60),
        ("seventies", 70),
        ("eighties", 80),
        ("nineties", 90),
    ];
    let word = words[at];
    let tens = match word
        .strip_suffix('s')
        .and_then(|number| number.parse::<u32>().ok())
    {
        Some(number) if number % 10 == 0 && (20..=90).contains(&number) => number,
        _ => TENS.iter().find(|(name, _)| *name == word)?.1,
    };
    let (offset, start) = match at.checked_sub(1).map(|before| words[before]) {
        Some("early") => (2, at.checked_sub(3)?),
        Some("mid") => (5, at.checked_sub(3)?),
        Some("late") => (8, at.checked_sub(3)?),
        _ => (5, at.checked_sub(2)?),
    };
    let owner = words[start + 1];
    if words[start] != "in" || !matches!(owner, "his" | "her" | "their") {
        return None;
    }
    Some((tens + offset, words[start..=at].join(" ")))
}

/// "A 34-year-old woman", "A 3-month-old boy", "An infant under one month old", from age and sex.
pub fn person(age_years: u32, age_months: Option<u32>, sex: Sex) -> String {
    let (adult, child) = match sex {
        Sex::Male => ("man", "boy"),
        Sex::Female => ("woman", "girl"),
    };
    match (age_years, age_months) {
        (0, Some(0)) => format!("An infant {child} under one month old"),
        (0, Some(months)) => format!("A {months}-month-old {child}"),
        (0, None) => format!("An infant {child} under one year old"),
        (years, _) if years < 18 => format!("A {years}-year-old {child}"),
        (years, _) => format!("A {years}-year-old {adult}"),
    }
}

/// Unit spellings that mean the same count per volume as the catalogue's `10^3/uL`.
const THOUSANDS_PER_MICROLITRE: &[&str] = &[
    "10^3/ul", "10^9/l", "k/ul", "10e3/ul", "10e9/l", "10^3/mm3", "/nl", "thou/ul", "giga/l",
];
/// Unit spellings that mean the same count per volume as the catalogue's `10^6/uL` (red cells).
const MILLIONS_PER_MICROLITRE: &[&str] = &[
    "10^6/ul",
    "m/ul",
    "10^12/l",
    "10e6/ul",
    "10e12/l",
    "mil/ul",
    "10^6/mm3",
    "/pl",
    "tera/l",
    "million/ul",
];
/// Unit spellings of a count per microlitre, a thousandth of `10^3/uL`.
const PER_MICROLITRE: &[&str] = &[
    "/ul",
    "/mm3",
    "cells/ul",
    "cells/mm3",
    "/mm^3",
    "cells/mm^3",
];

fn unit_key(unit: &str) -> String {
    unit.trim()
        .to_lowercase()
        .replace(['µ', 'μ'], "u")
        .replace(' ', "")
        .trim_start_matches(['x', '×'])
        .to_string()
}

/// Whether a value as the source writes it ("13.4 g/dL", "6,800 /µL", "16.2 x10^9/L") lies outside
/// the catalogue's reference range for the analyte: none when it has no number, no unit, or a unit
/// the catalogue's cannot be matched with (then the caller reads the words instead).
pub fn measured_abnormal(
    catalogue: &Catalogue,
    analyte: usize,
    text: &str,
    sex: Sex,
) -> Option<bool> {
    let definition = catalogue.analytes().get(analyte)?;
    let dxsim_gatekeeper::catalogue::AnalyteKind::Numeric { unit, .. } = &definition.kind else {
        return None;
    };
    let [low, high] = definition.range_for(sex)?;
    // The number, with thousands separators ("6,800") read as one.
    let trimmed = text.trim();
    let digits_end = trimmed
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(trimmed.len(), |(at, _)| at);
    let number = &trimmed[..digits_end];
    let thousands = number.split(',').skip(1).all(|group| group.len() == 3);
    if number.is_empty() || !thousands {
        return None;
    }
    let value: f64 = number.replace(',', "").parse().ok()?;
    let stated = unit_key(trimmed[digits_end..].split_whitespace().next()?);
    let wanted = unit_key(unit);
    let same = |spellings: &[&str]| {
        spellings.contains(&wanted.as_str()) && spellings.contains(&stated.as_str())
    };
    let scaled =
        if stated == wanted || same(THOUSANDS_PER_MICROLITRE) || same(MILLIONS_PER_MICROLITRE) {
            value
        } else if THOUSANDS_PER_MICROLITRE.contains(&wanted.as_str())
            && PER_MICROLITRE.contains(&stated.as_str())
        {
            value / 1000.0
        } else {
            return None;
        };
    Some(scaled < low || scaled > high)
}

/// Numbers in a text, in order ("120/80 mmHg" → 120, 80; "38.5°C" → 38.5).
fn numbers(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in text.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() || (ch == '.' && !current.is_empty() && !current.contains('.')) {
            current.push(ch);
        } else if !current.is_empty() {
            if let Ok(number) = current.trim_end_matches('.').parse() {
                out.push(number);
            }
            current.clear();
        }
    }
    out
}

/// A temperature in degrees Celsius from a source's text: the first number, in the unit written
/// right after it ("37.2°C (99°F)" is 37.2 °C, "99°F (37.2°C)" is 37.2 °C); a bare number is
/// Fahrenheit above 50.
fn temperature_celsius(text: &str) -> Option<f64> {
    let start = text.find(|ch: char| ch.is_ascii_digit())?;
    let degrees = *numbers(&text[start..]).first()?;
    let after = text[start..].trim_start_matches(|ch: char| ch.is_ascii_digit() || ch == '.');
    let unit = after
        .trim_start_matches(|ch: char| ch.is_whitespace() || ch == '°' || ch == 'º')
        .chars()
        .next()
        .map(|ch| ch.to_ascii_uppercase());
    let fahrenheit = match unit {
        Some('C') => false,
        Some('F') => true,
        _ => degrees > 50.0,
    };
    Some(if fahrenheit {
        (degrees - 32.0) * 5.0 / 9.0
    } else {
        degrees
    })
}

/// Names of each vital sign [`vitals`] reads, as a phrase in a label.
const TEMPERATURE_NAMES: &[&str] = &["temperature", "temp", "t"];
const BLOOD_PRESSURE_NAMES: &[&str] = &["blood pressure", "bp", "arterial pressure"];
const HEART_RATE_NAMES: &[&str] = &["heart rate", "pulse", "hr", "pulse rate"];
const RESPIRATORY_RATE_NAMES: &[&str] = &[
    "respiratory rate",
    "respiration",
    "respirations",
    "rr",
    "resp rate",
];
const SATURATION_NAMES: &[&str] = &[
    "oxygen saturation",
    "spo2",
    "o2 saturation",
    "o2 sat",
    "saturation",
    "pulse oximetry",
    "sao2",
];
const WEIGHT_NAMES: &[&str] = &["weight", "body weight"];

/// Vital signs read from `(label, value)` pairs, with the pairs that could not be read.
pub fn vitals(pairs: &[(String, String)]) -> (Vitals, Vec<(String, String)>) {
    let mut vitals = Vitals {
        oxygen: "room air".to_string(),
        ..Vitals::default()
    };
    let mut unread = Vec::new();
    for (name, value) in pairs {
        let key = normalize(name);
        let has = |words: &[&str]| words.iter().any(|word| contains_phrase(&key, word));
        let values = numbers(value);
        let first = values.first().copied();
        let read = if has(TEMPERATURE_NAMES) {
            temperature_celsius(value).map(|celsius| {
                vitals.temperature_c = (celsius * 10.0).round() / 10.0;
            })
        } else if has(BLOOD_PRESSURE_NAMES) {
            match values.as_slice() {
                [systolic, diastolic, ..] => {
                    vitals.systolic_bp = *systolic as u32;
                    vitals.diastolic_bp = *diastolic as u32;
                    Some(())
                }
                _ => None,
            }
        } else if has(HEART_RATE_NAMES) && !has(&["oximetry"]) {
            first.map(|rate| vitals.heart_rate = rate as u32)
        } else if has(RESPIRATORY_RATE_NAMES) {
            first.map(|rate| vitals.respiratory_rate = rate as u32)
        } else if has(SATURATION_NAMES) {
            first.map(|saturation| {
                vitals.spo2 = saturation as u32;
                let lower = value.to_lowercase();
                if let Some(at) = lower.find(" on ") {
                    vitals.oxygen = value[at + 4..].trim().trim_end_matches('.').to_string();
                }
            })
        } else if has(WEIGHT_NAMES) {
            first.map(|weight| {
                let pounds =
                    value.to_lowercase().contains("lb") || has(&["lb", "lbs", "pounds", "pound"]);
                let kilograms = if pounds { weight * 0.453_592 } else { weight };
                vitals.weight_kg = Some((kilograms * 10.0).round() / 10.0);
            })
        } else {
            None
        };
        if read.is_none() {
            unread.push((name.clone(), value.clone()));
        }
    }
    (vitals, unread)
}

/// Other ways to read a test key the resolver does not know as written: without its side ("X-Ray
/// Right Foot" → "X-Ray Foot") or filler words ("Pulmonary Function Test Results"), and with the
/// group it sits under before or after it ("Synovial Fluid Analysis" › "Gram Stain" → "Synovial
/// Fluid Gram Stain"; "Biopsy" › "Bone Marrow" → "Bone Marrow Biopsy").
fn name_variants(name: &str, group: Option<&str>) -> Vec<String> {
    const SIDES: &[&str] = &["right", "left", "bilateral", "unilateral", "both"];
    const FILLER: &[&str] = &[
        "test",
        "tests",
        "testing",
        "analysis",
        "study",
        "studies",
        "result",
        "results",
        "level",
        "levels",
        "findings",
        "report",
        "imaging",
        "labs",
        "lab",
        "laboratory",
        "panel",
        "serum",
        "scan",
    ];
    let words = |text: &str, drop: &[&[&str]]| -> String {
        normalize(text)
            .split(' ')
            .filter(|word| !word.is_empty() && !drop.iter().any(|list| list.contains(word)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let own = words(name, &[SIDES, FILLER]);
    let mut variants = vec![words(name, &[SIDES]), own.clone()];
    if let Some(group) = group.map(|group| words(group, &[SIDES, FILLER]))
        && !group.is_empty()
        && !own.is_empty()
    {
        variants.push(format!("{group} {own}"));
        variants.push(format!("{own} {group}"));
    }
    let written = normalize(name);
    variants.retain(|variant| !variant.is_empty() && *variant != written);
    variants.dedup();
    variants
}

/// The head of a diagnosis name that joins a condition to its cause or complication: the part
/// before " with ", " due to ", " secondary to ", " associated with " or a comma. None when the
/// name has no such join.
fn name_head(name: &str) -> Option<&str> {
    const JOINS: &[&str] = &[
        " with ",
        " due to ",
        " secondary to ",
        " associated with ",
        " caused by ",
        ",",
    ];
    let lower = name.to_lowercase();
    JOINS
        .iter()
        .filter_map(|join| lower.find(join))
        .min()
        .map(|at| name[..at].trim())
        .filter(|head| !head.is_empty())
}

/// Whether a test key names a vital sign or a body measurement rather than a test ("Blood
/// Pressure", "Weight Lbs", "BMI", "Height (cm)"): what the examination records.
pub fn is_body_measurement(key: &str) -> bool {
    /// What the examination measures besides the vital signs.
    const BODY_SIZE_NAMES: &[&str] = &["height", "bmi", "body mass index"];
    const UNITS: &[&str] = &[
        "lbs", "lb", "kg", "cm", "in", "inches", "mmhg", "bpm", "c", "f", "percent", "kg m2",
    ];
    let key = normalize(&label(key));
    let mut words: Vec<&str> = tokens(&key).collect();
    while words.last().is_some_and(|word| UNITS.contains(word)) {
        words.pop();
    }
    let name = words.join(" ");
    [
        TEMPERATURE_NAMES,
        BLOOD_PRESSURE_NAMES,
        HEART_RATE_NAMES,
        RESPIRATORY_RATE_NAMES,
        SATURATION_NAMES,
        WEIGHT_NAMES,
        BODY_SIZE_NAMES,
    ]
    .iter()
    .any(|names| names.contains(&name.as_str()))
}

/// The specialty a diagnosis code belongs to, by its ICD-10-CM chapter and block.
pub fn specialty_for(code: &str) -> &'static str {
    let mut chars = code.chars();
    let letter = chars.next().unwrap_or('R').to_ascii_uppercase();
    let number: u32 = chars
        .take(2)
        .collect::<String>()
        .parse()
        .unwrap_or_default();
    match letter {
        'A' | 'B' => "infectious_disease",
        'C' => "oncology",
        'D' if number < 50 => "oncology",
        'D' => "hematology",
        'E' => "endocrinology",
        'F' => "psychiatry",
        'G' => "neurology",
        'H' if number < 60 => "ophthalmology",
        'H' => "otolaryngology",
        'I' if (60..70).contains(&number) => "neurology",
        'I' if (70..90).contains(&number) => "vascular_surgery",
        'I' => "cardiology",
        'J' => "pulmonology",
        'K' if (70..78).contains(&number) => "hepatology",
        'K' => "gastroenterology",
        'L' => "dermatology",
        'M' => "rheumatology",
        'N' if (20..54).contains(&number) => "urology",
        'N' if number >= 60 => "obstetrics_gynecology",
        'N' => "nephrology",
        'O' => "obstetrics_gynecology",
        'P' | 'Q' => "pediatrics",
        'T' if (36..66).contains(&number) => "toxicology",
        _ => "emergency_medicine",
    }
}

/// Withholds the clauses of revealable text that name the diagnosis (or its code), as the validator
/// requires.
#[derive(Debug, Clone)]
pub struct Guard {
    phrases: Vec<String>,
    /// The stemmed content words of each name of two words or more: a clause that holds all of
    /// them names the diagnosis in any word order ("dislocation of the right hip, posterior").
    word_sets: Vec<Vec<String>>,
    /// The word sets of the parts of a long name ("hepatic vein thrombosis" and "Budd-Chiari
    /// syndrome" in "PNH with hepatic vein thrombosis (Budd-Chiari syndrome)"): a report naming
    /// one names the diagnosis in part, so it is marked confirmatory.
    parts: Vec<Vec<String>>,
}

/// Words that join the parts of a diagnosis name; what follows "without" is an absent feature.
const NAME_JOINERS: &[&str] = &["with", "without", "due", "secondary", "from", "and", "to"];

/// The word sets of the parts of `name` of two content words or more, absent features left out.
fn name_parts(name: &str) -> Vec<Vec<String>> {
    let mut parts = Vec::new();
    for chunk in name.split(['(', ')', ',', ';']) {
        let normalized = normalize(chunk);
        let mut segment: Vec<&str> = Vec::new();
        let mut negated = false;
        for word in normalized.split(' ').chain(std::iter::once("with")) {
            if NAME_JOINERS.contains(&word) {
                if !negated && !segment.is_empty() {
                    let words = guard_words(&segment.join(" "));
                    if words.len() >= 2 {
                        parts.push(words);
                    }
                }
                segment.clear();
                negated = word == "without";
            } else if !word.is_empty() {
                segment.push(word);
            }
        }
    }
    parts.sort();
    parts.dedup();
    parts
}

/// Words a name's word set leaves out.
const GUARD_STOPWORDS: &[&str] = &[
    "of",
    "the",
    "a",
    "an",
    "and",
    "with",
    "without",
    "in",
    "to",
    "due",
    "on",
    "or",
    "by",
    "for",
    "nos",
    "unspecified",
    "other",
];

/// A Greek or Latin plural as its singular ("keratoses", "metastases", "vertebrae", "emboli"),
/// which the English stemmer leaves apart; other words as they are.
fn singular(word: &str) -> std::borrow::Cow<'_, str> {
    const LATIN_I: &[(&str, &str)] = &[
        ("emboli", "embolus"),
        ("thrombi", "thrombus"),
        ("bronchi", "bronchus"),
        ("calculi", "calculus"),
        ("fungi", "fungus"),
        ("nuclei", "nucleus"),
        ("bacilli", "bacillus"),
        ("alveoli", "alveolus"),
    ];
    if let Some(stem) = word.strip_suffix("oses").filter(|stem| stem.len() >= 3) {
        return format!("{stem}osis").into();
    }
    if let Some(stem) = word.strip_suffix("ases").filter(|stem| stem.len() >= 4) {
        return format!("{stem}asis").into();
    }
    if let Some(stem) = word.strip_suffix("ae").filter(|stem| stem.len() >= 4) {
        return format!("{stem}a").into();
    }
    if let Some((_, singular)) = LATIN_I.iter().find(|(plural, _)| *plural == word) {
        return (*singular).into();
    }
    word.into()
}

/// The stemmed content words of a normalised phrase.
fn guard_words(normalized: &str) -> Vec<String> {
    static STEMMER: OnceLock<rust_stemmers::Stemmer> = OnceLock::new();
    let stemmer =
        STEMMER.get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
    let mut words: Vec<String> = normalized
        .split(' ')
        .filter(|word| !word.is_empty() && !GUARD_STOPWORDS.contains(word))
        .map(|word| stemmer.stem(&singular(word)).into_owned())
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Whether a normalised clause holds every word of one of `sets` (stemmed, as [`guard_words`]).
fn holds_a_word_set(sets: &[Vec<String>], clause: &str) -> bool {
    let words = guard_words(clause);
    sets.iter()
        .any(|set| set.iter().all(|word| words.binary_search(word).is_ok()))
}

impl Guard {
    /// A guard for a diagnosis, its synonyms and its code.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, code: &str) -> Guard {
        let mut phrases: Vec<String> = names
            .into_iter()
            .map(normalize)
            .filter(|phrase| !phrase.is_empty())
            .collect();
        let word_sets = phrases
            .iter()
            .map(|phrase| guard_words(phrase))
            .filter(|words| words.len() >= 2)
            .collect();
        let code = code.to_lowercase().replace('.', "");
        if !code.is_empty() {
            phrases.push(code);
        }
        Guard {
            phrases,
            word_sets,
            parts: Vec::new(),
        }
    }

    /// The guard with the other names the judge knows for the case's diagnosis
    /// ([`crate::judge::diagnosis_forms`]: abbreviations, plurals, lay and classification names).
    pub fn with_forms_of(mut self, case: &dxsim_gatekeeper::Case) -> Guard {
        // As phrases only: a classification's inclusion term ("Coated tongue" under black hairy
        // tongue) is credited as the answer, but its words scattered over a clause ("the coating
        // can be scraped off with a tongue blade") describe a finding rather than name it.
        for form in crate::judge::diagnosis_forms(case).iter() {
            if !self.phrases.contains(form) {
                self.phrases.push(form.clone());
            }
        }
        self
    }

    /// A guard that also withholds the name's head: the part before a comma or a parenthesis
    /// ("Pneumonia, unspecified organism" also guards "pneumonia"), so source text that names the
    /// disease in passing is caught even where the validator's exact-phrase rule would not be.
    pub fn strict<'a>(names: impl IntoIterator<Item = &'a str>, code: &str) -> Guard {
        let names: Vec<&str> = names.into_iter().collect();
        let mut guard = Guard::new(names.iter().copied(), code);
        for name in &names {
            for part in name_parts(name) {
                if !guard.word_sets.contains(&part) && !guard.parts.contains(&part) {
                    guard.parts.push(part);
                }
            }
        }
        for name in names {
            let head = name.split([',', '(']).next().unwrap_or_default();
            let head = normalize(head);
            if head.len() >= 4 && !guard.phrases.contains(&head) {
                let words = guard_words(&head);
                if words.len() >= 2 {
                    guard.word_sets.push(words);
                }
                guard.phrases.push(head);
            }
        }
        guard
    }

    /// Whether text names the diagnosis: one of its names as a phrase, or every content word of a
    /// name within one clause, in any order.
    pub fn names(&self, text: &str) -> bool {
        self.names_normalized(&normalize(text))
            || (!self.word_sets.is_empty()
                && clauses(text)
                    .into_iter()
                    .any(|clause| holds_a_word_set(&self.word_sets, &normalize(clause))))
    }

    /// Whether text names the diagnosis or a part of its name of two words or more, within one
    /// clause in any order: what makes a test's report confirmatory.
    pub fn names_in_part(&self, text: &str) -> bool {
        self.names(text)
            || clauses(text)
                .into_iter()
                .any(|clause| holds_a_word_set(&self.parts, &normalize(clause)))
    }

    /// Whether already-normalised text names the diagnosis as a phrase.
    pub fn names_normalized(&self, normalized: &str) -> bool {
        self.phrases
            .iter()
            .any(|phrase| contains_phrase(normalized, phrase))
    }

    /// `text` without the sentences or clauses that name the diagnosis, and the ones withheld.
    pub fn withhold(&self, text: &str) -> (String, Vec<String>) {
        if !self.names(text) {
            return (text.to_string(), Vec::new());
        }
        let mut kept = String::new();
        let mut withheld = Vec::new();
        for clause in clauses(text) {
            if self.names(clause) {
                withheld.push(clause.trim().to_string());
            } else {
                kept.push_str(clause);
            }
        }
        (kept.trim().to_string(), withheld)
    }
}

/// Splits text into clauses, each keeping its closing separator (". ", "; ", a new line) so that
/// joining them gives the text back; a full stop inside a number does not split.
fn clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        let boundary = match byte {
            b';' | b'\n' => true,
            b'.' | b'?' | b'!' => {
                bytes.get(at + 1).is_none_or(|next| *next == b' ')
                    && !ends_with_title(&text[start..at])
            }
            _ => false,
        };
        if boundary {
            out.push(&text[start..=at]);
            start = at + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Whether text ends with a title whose full stop ends no sentence ("Mr", "Dr").
fn ends_with_title(text: &str) -> bool {
    let last = text
        .rsplit(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or_default();
    matches!(last, "Mr" | "Mrs" | "Ms" | "Dr" | "Prof" | "St")
}

/// Sentences of a paragraph, trimmed.
pub fn sentences(text: &str) -> Vec<String> {
    clauses(text)
        .into_iter()
        .map(|clause| clause.trim().trim_end_matches(';').trim().to_string())
        .filter(|clause| clause.chars().any(char::is_alphanumeric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demographics_read_common_forms() {
        let adult = demographics("45-year-old male");
        assert_eq!((adult.age_years, adult.sex), (Some(45), Some(Sex::Male)));
        let infant = demographics("A 3-month-old girl");
        assert_eq!(
            (infant.age_years, infant.age_months, infant.sex),
            (Some(0), Some(3), Some(Sex::Female))
        );
        let terse = demographics("Female, 62 years");
        assert_eq!((terse.age_years, terse.sex), (Some(62), Some(Sex::Female)));
        assert_eq!(demographics("age 70, M").age_years, Some(70));
        let newborn = demographics("A newborn was jaundiced");
        assert_eq!((newborn.age_years, newborn.age_months), (Some(0), Some(0)));
        let decade = demographics("A man in his 70s presented");
        assert_eq!(
            (decade.age_years, decade.sex, decade.approximate.as_deref()),
            (Some(75), Some(Sex::Male), Some("in his 70s"))
        );
        assert_eq!(
            demographics("a woman in her late sixties").age_years,
            Some(68)
        );
        assert_eq!(demographics("seen in the 1970s").age_years, None);
        let shorthand = demographics("Lucía Ferreira, 41F, office manager");
        assert_eq!(
            (shorthand.age_years, shorthand.sex),
            (Some(41), Some(Sex::Female))
        );
        let toddler = demographics("A toddler was brought in");
        assert_eq!(
            (toddler.age_years, toddler.approximate.as_deref()),
            (Some(2), Some("a toddler"))
        );
    }

    #[test]
    fn test_keys_are_read_without_their_side_and_with_their_group() {
        let mapper = Mapper::get();
        let id = |key: &str, group: Option<&str>| match mapper.test_key(key, false, group) {
            TestKey::Test { test, .. } => Some(mapper.catalogue().tests()[test].id.clone()),
            _ => None,
        };
        assert_eq!(
            id("Gram_Stain", Some("Synovial_Fluid_Analysis")).as_deref(),
            Some("synovial_fluid_gram_stain")
        );
        assert_eq!(
            id("Bone_Marrow", Some("Biopsy")).as_deref(),
            Some("bone_marrow_biopsy")
        );
        assert_eq!(
            id("Culture", Some("Synovial Fluid")).as_deref(),
            Some("synovial_fluid_culture")
        );
        assert_eq!(
            id("CT Scan Chest", None),
            id("CT Chest", None),
            "CT Scan Chest"
        );
        assert_eq!(id("Appearance", Some("Synovial_Fluid_Analysis")), None);
    }

    #[test]
    fn a_report_naming_part_of_a_long_name_names_it_in_part() {
        let guard = Guard::strict(
            [
                "Paroxysmal nocturnal hemoglobinuria with hepatic vein thrombosis (Budd-Chiari syndrome)",
            ],
            "",
        );
        assert!(guard.names_in_part("Thrombosis of the hepatic veins with absent flow; ascites"));
        assert!(!guard.names("Thrombosis of the hepatic veins with absent flow; ascites"));
        let stone = Guard::strict(
            [
                "Obstructing left distal ureteral (ureterovesical junction) calculus with hydronephrosis",
            ],
            "",
        );
        assert!(stone.names_in_part("6-mm calculus at the left ureterovesical junction"));
        // An absent feature is no part of the diagnosis.
        let diverticulitis = Guard::strict(
            ["Diverticulitis of large intestine without perforation or abscess"],
            "",
        );
        assert!(!diverticulitis.names_in_part("No perforation or abscess"));
    }

    #[test]
    fn a_long_name_is_coded_by_its_head() {
        let mapper = Mapper::get();
        let code = |name: &str| mapper.icd10_for(name).unwrap_or_default();
        assert!(
            code("Multiple myeloma with hypercalcemia and acute kidney injury")
                .starts_with("C90.0"),
            "{}",
            code("Multiple myeloma with hypercalcemia and acute kidney injury")
        );
        assert!(
            code("Hyponatremia due to SIADH, likely sertraline-induced").starts_with("E87.1"),
            "{}",
            code("Hyponatremia due to SIADH, likely sertraline-induced")
        );
        assert_eq!(name_head("Hyponatremia due to SIADH"), Some("Hyponatremia"));
        assert_eq!(name_head("Sigmoid volvulus"), None);
    }

    #[test]
    fn race_is_read_as_the_source_states_it() {
        assert_eq!(
            race("58-year-old female, Race: Black/African American").as_deref(),
            Some("Black/African American")
        );
        assert_eq!(race("71-year-old White male").as_deref(), Some("White"));
        assert_eq!(
            race("45 yo M, HISPANIC/LATINO").as_deref(),
            Some("Hispanic/Latino")
        );
        assert_eq!(race("A 30-year-old woman with whiteheads"), None);
        assert_eq!(race("62-year-old man"), None);
    }

    #[test]
    fn vitals_read_units_and_keep_the_rest() {
        let pairs: Vec<(String, String)> = [
            ("Temperature", "101.3°F"),
            ("Blood_Pressure", "128/84 mmHg"),
            ("Heart Rate", "104 bpm"),
            ("Respiratory_Rate", "20/min"),
            ("Oxygen_Saturation", "93% on 2 L nasal cannula"),
            ("Capillary refill", "brisk"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let (vitals, unread) = vitals(&pairs);
        assert_eq!(vitals.temperature_c, 38.5);
        assert_eq!((vitals.systolic_bp, vitals.diastolic_bp), (128, 84));
        assert_eq!((vitals.heart_rate, vitals.respiratory_rate), (104, 20));
        assert_eq!(vitals.spo2, 93);
        assert_eq!(vitals.oxygen, "2 L nasal cannula");
        assert_eq!(unread.len(), 1);
    }

    #[test]
    fn names_without_an_exact_description_get_the_judges_code() {
        let mapper = Mapper::get();
        for (name, code) in [
            ("Chronic lymphocytic leukemia", "C91.1"),
            ("Chronic lymphocytic leukaemia", "C91.1"),
            ("Herpes zoster without complications", "B02"),
            ("Myasthenia gravis", "G70.0"),
        ] {
            let found = mapper.icd10_for(name).unwrap_or_default();
            assert!(found.starts_with(code), "{name}: {found}");
        }
        assert_eq!(mapper.icd10_for("Gardening"), None);
        assert_eq!(mapper.icd10_for("Mosquito"), None);
    }

    #[test]
    fn the_guard_finds_a_name_in_any_word_order_and_by_the_judges_forms() {
        let guard = Guard::strict(["Posterior hip dislocation"], "");
        assert!(guard.names("Alignment suggests posterior dislocation of the right hip."));
        assert!(!guard.names("The hip is tender. Posterior tibial pulse is weak; no dislocation."));
        let (kept, withheld) = guard
            .withhold("Pain after a crash. Alignment suggests posterior dislocation of the hip.");
        assert_eq!(kept, "Pain after a crash.");
        assert_eq!(withheld.len(), 1);

        let case = dxsim_gatekeeper::Case {
            diagnosis: dxsim_gatekeeper::case::Diagnosis {
                name: "Seborrheic keratosis".into(),
                icd10: "L82.1".into(),
                synonyms: Vec::new(),
            },
            ..dxsim_gatekeeper::Case::default()
        };
        let guard = Guard::strict(["Seborrheic keratosis"], "L82.1").with_forms_of(&case);
        assert!(guard.names("Typically shows milia-like cysts in seborrheic keratoses"));
        let case = dxsim_gatekeeper::Case {
            diagnosis: dxsim_gatekeeper::case::Diagnosis {
                name: "Chronic lymphocytic leukemia".into(),
                icd10: "C91.10".into(),
                synonyms: Vec::new(),
            },
            ..dxsim_gatekeeper::Case::default()
        };
        let guard = Guard::strict(["Chronic lymphocytic leukemia"], "C91.10").with_forms_of(&case);
        assert!(guard.names("Flow cytometry: phenotype consistent with CLL/SLL."));
    }

    #[test]
    fn pending_and_hedged_text_is_no_result() {
        for text in [
            "Pending",
            "pending.",
            "Results pending",
            "N/A",
            "Would typically show a left lower lobe consolidation",
            "Chest X-ray may show hyperinflation",
            "Culture is pending",
        ] {
            assert!(is_unresulted(text), "{text}");
        }
        assert_eq!(
            without_unresulted("Spleen tip palpable; would typically show hepatosplenomegaly"),
            (
                "Spleen tip palpable".to_string(),
                vec!["would typically show hepatosplenomegaly".to_string()]
            )
        );
        for text in [
            "Negative",
            "None seen",
            "Left lower lobe consolidation",
            "WBC 14.2 x10^9/L",
            "No growth at 48 hours",
        ] {
            assert!(!is_unresulted(text), "{text}");
        }
    }

    #[test]
    fn codes_are_known_in_either_case() {
        let mapper = Mapper::get();
        assert_eq!(mapper.known_icd10("j44.1").as_deref(), Some("J44.1"));
        assert_eq!(mapper.known_icd10(" g44.009 ").as_deref(), Some("G44.009"));
        assert_eq!(mapper.known_icd10("zz9"), None);
    }

    #[test]
    fn a_temperature_is_read_in_the_unit_written_after_its_first_number() {
        for (text, celsius) in [
            ("37.2°C (99°F)", 37.2),
            ("99°F (37.2°C)", 37.2),
            ("38.9 C", 38.9),
            ("102.2 F", 39.0),
            ("36.8", 36.8),
            ("100.4", 38.0),
            ("Temp 39 ºC, febrile", 39.0),
        ] {
            let read = temperature_celsius(text).expect("a number");
            assert!((read - celsius).abs() < 0.05, "{text}: {read}");
        }
        assert_eq!(temperature_celsius("afebrile"), None);
    }

    #[test]
    fn the_guard_withholds_only_clauses_naming_the_diagnosis() {
        let guard = Guard::new(["Lyme disease"], "A69.20");
        let (kept, withheld) = guard.withhold(
            "Target-shaped rash on the thigh. Serology consistent with Lyme disease; titre 1:256.",
        );
        assert_eq!(kept, "Target-shaped rash on the thigh. titre 1:256.");
        assert_eq!(withheld, ["Serology consistent with Lyme disease;"]);
    }

    #[test]
    fn measured_values_are_flagged_against_catalogue_ranges() {
        let catalogue = Catalogue::builtin();
        let analyte = |id: &str| catalogue.analyte_position(id).expect("analyte");
        let flag =
            |id: &str, text: &str| measured_abnormal(catalogue, analyte(id), text, Sex::Female);
        assert_eq!(flag("hemoglobin", "13.4 g/dL"), Some(false));
        assert_eq!(flag("hemoglobin", "9.1 g/dl"), Some(true));
        assert_eq!(flag("wbc", "6,800 /µL"), Some(false));
        assert_eq!(flag("wbc", "16.2 x10^9/L"), Some(true));
        assert_eq!(flag("tsh", "2.1 mIU/L"), Some(false));
        assert_eq!(flag("tsh", "2.1"), None, "no unit: not read");
        assert_eq!(flag("hemoglobin", "91 g/L"), None, "another unit: not read");
    }

    #[test]
    fn abnormal_unless_every_clause_reads_normal() {
        assert!(!looks_abnormal(
            "Heart sounds normal, no murmurs; lungs clear."
        ));
        assert!(looks_abnormal("Tender right lower quadrant, no guarding."));
    }

    #[test]
    fn codes_map_to_specialties() {
        assert_eq!(specialty_for("I21.4"), "cardiology");
        assert_eq!(specialty_for("K35.80"), "gastroenterology");
        assert_eq!(specialty_for("I63.9"), "neurology");
        assert_eq!(specialty_for("J45.909"), "pulmonology");
    }
}

//! The judge (DESIGN.md §3.7): scores a final diagnosis against the case's reference, 1–5.
//!
//! The rubric, after SDBench: **5** the same diagnosis or a more specific one consistent with it; **4** the
//! core disease right with a minor qualifier off or missing (side, acuity, severity, a site within the
//! organ); **3** the right family with a major error (a sibling disease with other management, or a
//! missing or wrong qualifier that changes management: cause, organ, type, ruptured or not, malignant or
//! drug cause); **2** a related but different condition; **1** unrelated. *Correct* means 4 or more.
//!
//! [`RuleJudge`] reaches a score without a model, in three steps:
//! 1. **Read the answer** ([`answer`]): the conditions it affirms, excludes or hedges. A list,
//!    alternatives or only hedged conditions score 1; excluded ones are dropped; one condition may bring
//!    one cause or complication. The reference's own name, word for word, is always one answer.
//! 2. **Name the concepts**: both texts become *concept forms* (lower case, accents and British
//!    spellings folded, misspellings corrected against the terminology's vocabulary, abbreviations and
//!    lay, eponym, organism and drug forms expanded, plurals stemmed), split into *core* words and minor
//!    *qualifiers*. The reference's forms are its name, its synonyms, its ICD-10-CM code's description,
//!    and the inclusion terms the classification lists under the code.
//! 3. **Grade**: same core words → 5 (4 if a qualifier differs); more specific → 5, unless the extra
//!    words name another condition (a cause, a complication or the kind of the head is not another
//!    condition); less specific → 4, or 3 when what is left out defines the reference: a cause unless
//!    it is an organism or an allergen, a type word in a complication ("with perforation"), any
//!    other [`vocabulary::is_defining_word`]; a narrower cause meets the broader one the reference
//!    names (`judge/related.csv`, `judge/drug_classes.csv`), and two kinds the table files under one
//!    broader term are siblings (3); same head noun, other words → 3, or 4 when only a site or a
//!    non-defining detail differs and the classification does not file the candidate beside the
//!    reference's code. A code the candidate gives, or one its text names, is also compared through the
//!    ICD-10-CM hierarchy. The calibration set in `judge/calibration.csv` measures how often the judge
//!    agrees with clinicians ([`calibration`]).

pub mod answer;
pub mod calibration;
mod forms;
pub mod llm;
mod terminology;
pub mod vocabulary;

pub use forms::{diagnosis_forms, diagnosis_names, lay_name};

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use dxsim_gatekeeper::case::Diagnosis;
use dxsim_gatekeeper::icd10::{Icd10, IcdKind, TermKind};
use dxsim_gatekeeper::text::normalize;
use serde::Serialize;

use answer::{Piece, Reading};
use terminology::is_organism_code;
use vocabulary::{is_defining_word, is_disease_word, is_drug_word, is_type_defining_word};

const ABBREVIATIONS_CSV: &str = include_str!("judge/abbreviations.csv");
const RELATED_CSV: &str = include_str!("judge/related.csv");
const DRUG_CLASSES_CSV: &str = include_str!("judge/drug_classes.csv");
const LAY_TERMS_CSV: &str = include_str!("judge/lay_terms.csv");
const INFLAMED_ORGANS_CSV: &str = include_str!("judge/inflamed_organs.csv");

/// The ways a patient or a hurried note says an organ is inflamed ("inflamed gallbladder",
/// "inflammation of the kidneys", "bladder inflammation"), each with the condition's name, from
/// `judge/inflamed_organs.csv`.
fn inflamed_organ_phrases() -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_reader(INFLAMED_ORGANS_CSV.as_bytes());
    let mut phrases = Vec::new();
    for record in reader.records() {
        let record = record.unwrap_or_else(|error| panic!("judge/inflamed_organs.csv: {error}"));
        let (organ, inflammation) = (&record[0], &record[1]);
        for form in [
            format!("inflamed {organ}"),
            format!("inflammation of the {organ}"),
            format!("inflammation of {organ}"),
            format!("{organ} inflammation"),
        ] {
            phrases.push((form, inflammation.to_string()));
        }
    }
    phrases
}

/// The lowest score that counts as correct.
pub const CORRECT_AT: u8 = 4;

/// What the judge concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    /// 1–5 on the rubric.
    pub score: u8,
    /// Whether the score is at least [`CORRECT_AT`].
    pub correct: bool,
    /// One line on why.
    pub rationale: String,
}

impl Verdict {
    fn new(score: u8, rationale: impl Into<String>) -> Verdict {
        Verdict {
            score,
            correct: score >= CORRECT_AT,
            rationale: rationale.into(),
        }
    }
}

/// The reference diagnosis a candidate is scored against.
#[derive(Debug, Clone, Copy)]
pub struct Reference<'a> {
    /// The diagnosis name.
    pub name: &'a str,
    /// Its ICD-10-CM code.
    pub icd10: &'a str,
    /// Accepted synonyms.
    pub synonyms: &'a [String],
}

impl<'a> From<&'a Diagnosis> for Reference<'a> {
    fn from(diagnosis: &'a Diagnosis) -> Reference<'a> {
        Reference {
            name: &diagnosis.name,
            icd10: &diagnosis.icd10,
            synonyms: &diagnosis.synonyms,
        }
    }
}

/// Qualifiers whose difference leaves the core disease the same (rubric score 4).
const QUALIFIERS: &[&str] = &[
    "acute",
    "newly",
    "chronic",
    "subacute",
    "hyperacute",
    "left",
    "right",
    "bilateral",
    "unilateral",
    "severe",
    "mild",
    "moderate",
    "inferior",
    "anterior",
    "posterior",
    "lateral",
    "septal",
    "wall",
    "recurrent",
    "early",
    "late",
    "uncomplicated",
    "complicated",
    "community",
    "acquired",
    "typical",
    "simple",
    "partial",
    "complete",
    "incomplete",
    "massive",
    "submassive",
    "focal",
    "upper",
    "lower",
    "terminal",
    "proximal",
    "distal",
    "episode",
    "exacerbation",
    "flare",
    "onset",
    "new",
    "unspecified",
    "disease",
    "syndrome",
    "disorder",
    "condition",
    "stage",
    "grade",
    "phase",
    "form",
    "spontaneous",
    "sided",
    "side",
    "lobe",
    "segment",
    "segmental",
    "lobar",
    "saddle",
    "small",
    "large",
    "suspected",
    "probable",
    "possible",
    "presumed",
    "likely",
    "native",
    "state",
    "induced",
    "related",
    "associated",
    "due",
    "type",
    "unstable",
    "stable",
    "first",
    "status",
    "episode",
    "eye",
    "both",
    "process",
    "presentation",
    "picture",
    "crisis",
    "attack",
];

/// Words that make a different entity of the same disease family (NSTEMI is not STEMI; latent TB is not
/// pulmonary TB): a difference in one of them is a major error, not a qualifier (rubric score 3).
const ENTITY_CHANGING: &[&str] = &[
    "non",
    "not",
    "latent",
    "congenital",
    "gestational",
    "neonatal",
    "insipidus",
    "hereditary",
    "factitious",
    "pseudo",
    "neonatorum",
    "juvenile",
    "benign",
    "metastatic",
    "traumatic",
    "drug",
    "iatrogenic",
    "secondary",
];

/// Core words that name different vessels: an arterial thrombosis is not a venous one, though adding
/// "artery" to a stroke only names its territory.
const VESSELS: &[(&str, &str)] = &[("artery", "vein"), ("arterial", "venous")];

/// Qualifiers too generic to tell two named concepts apart ("Addison disease" is "Addison's").
const GENERIC: &[&str] = &[
    "disease",
    "syndrome",
    "disorder",
    "condition",
    "unspecified",
    "episode",
    "state",
    "status",
    "acute",
    "chronic",
    "subacute",
];

/// Qualifier pairs that contradict each other: one of each makes a different disease.
const CONFLICTING: &[(&str, &str)] = &[
    ("acute", "chronic"),
    ("acquired", "hereditary"),
    ("acquired", "congenital"),
];

/// Words that carry no meaning for matching.
const STOPWORDS: &[&str] = &[
    "after",
    "following",
    "of",
    "the",
    "a",
    "an",
    "with",
    "and",
    "in",
    "on",
    "to",
    "from",
    "by",
    "at",
    "or",
    "for",
    "as",
    "is",
    "its",
    "his",
    "her",
    "this",
    "that",
    "which",
    "patient",
    "has",
    "have",
    "having",
    "most",
    "diagnosis",
    "final",
    "working",
    "impression",
    "consistent",
    "i",
    "think",
    "believe",
    "it",
    "be",
    "would",
    "probably",
    "mellitus",
    "are",
    "findings",
    "needs",
    "need",
    "confirm",
    "start",
    "caused",
    "causing",
    "likely",
    "comma",
    "due",
];

/// Word forms mapped to one spelling before comparison (organ nouns to their adjectives, variants of one
/// lesion to one word, lay words to clinical ones).
const WORD_FORMS: &[(&str, &str)] = &[
    ("kidney", "renal"),
    ("kidneys", "renal"),
    ("heart", "cardiac"),
    ("lung", "pulmonary"),
    ("lungs", "pulmonary"),
    ("liver", "hepatic"),
    ("brain", "cerebral"),
    ("pancreas", "pancreatic"),
    ("testis", "testicular"),
    ("testes", "testicular"),
    ("testicle", "testicular"),
    ("aorta", "aortic"),
    ("stomach", "gastric"),
    ("duodenum", "duodenal"),
    ("ovary", "ovarian"),
    ("uterus", "uterine"),
    ("spleen", "splenic"),
    ("esophagus", "esophageal"),
    ("prostate", "prostatic"),
    ("skin", "cutaneous"),
    ("cancer", "carcinoma"),
    ("bleed", "hemorrhage"),
    ("bleeding", "hemorrhage"),
    ("clot", "thrombosis"),
    ("thrombus", "thrombosis"),
    ("embolus", "embolism"),
    ("emboli", "embolism"),
    ("dissecting", "dissection"),
    ("broken", "fracture"),
    ("l", "left"),
    ("r", "right"),
    ("alcoholic", "alcohol"),
    ("break", "fracture"),
    ("fractured", "fracture"),
    ("leaking", "ruptured"),
    ("burst", "ruptured"),
    ("perforated", "ruptured"),
    ("perforation", "ruptured"),
    ("abdomen", "abdominal"),
    ("rupture", "ruptured"),
    ("variceal", "varices"),
    ("atonic", "atony"),
    ("hyperpyrexia", "hyperthermia"),
    ("stones", "stone"),
    ("calculus", "stone"),
    ("calculi", "stone"),
    ("infarct", "infarction"),
    ("tumor", "neoplasm"),
    ("poisoning", "toxicity"),
    ("overdose", "toxicity"),
    ("intoxication", "toxicity"),
    ("ingestion", "toxicity"),
    ("goitre", "goiter"),
    ("addisonian", "addison"),
    ("ureteric", "ureteral"),
    ("nephrolithiasis", "renal urolithiasis"),
    ("ureterolithiasis", "ureteral urolithiasis"),
    ("wegener", "granulomatosis with polyangiitis"),
    ("dx", ""),
    ("ddx", ""),
];

/// Whole answers that stand for a longer name.
const WHOLE_ANSWERS: &[(&str, &str)] = &[
    ("lupus", "systemic lupus erythematosus"),
    ("all", "acute lymphoblastic leukemia"),
    ("stroke", "stroke"),
];

/// Words after which a diagnosis phrase names its cause ("hypoglycaemia *due to* sulfonylurea").
const CAUSE_MARKERS: &[&str] = &["due", "secondary", "caused", "from", "induced"];

/// Markers written after a cause and before its condition ("drug *induced* lupus", "alcohol
/// *related* cirrhosis"): not words of the concept.
const CAUSE_AFTER_MARKERS: &[&str] = &[
    "induced",
    "related",
    "associated",
    "provoked",
    "triggered",
    "mediated",
];

/// Words after which a diagnosis phrase qualifies its head ("ulcer *of* the duodenum", "ketoacidosis *in*
/// type 1 diabetes"); a comma counts as one.
const HEAD_BOUNDARIES: &[&str] = &[
    "after",
    "following",
    "of",
    "in",
    "with",
    "due",
    "from",
    "secondary",
    "caused",
    "complicating",
    "on",
    "comma",
];

/// Latin adjectives that follow their noun ("myasthenia *gravis*", "delirium *tremens*").
const POSTPOSITIVE: &[&str] = &[
    "gravis",
    "nervosa",
    "multiforme",
    "vulgaris",
    "nodosum",
    "migrans",
    "tremens",
    "simplex",
    "zoster",
    "major",
    "minor",
    "perstans",
    "tarda",
    "congenita",
    "dissecans",
    "fugax",
    "pedis",
    "corporis",
    "capitis",
];

/// Head words too generic to identify a disease ("urinary tract *infection*").
const GENERIC_HEADS: &[&str] = &["infection", "comma"];

/// The head word of a phrase: its last core word, skipping postpositive Latin adjectives and generic
/// nouns.
fn head_of(words: &[String], core: &BTreeSet<String>) -> Option<String> {
    let candidates: Vec<&String> = words.iter().filter(|word| core.contains(*word)).collect();
    candidates
        .iter()
        .rev()
        .find(|word| {
            !POSTPOSITIVE.contains(&word.as_str()) && !GENERIC_HEADS.contains(&word.as_str())
        })
        .or(candidates.last())
        .map(|word| (*word).clone())
}

/// A concept form: its words in order, split into core words and qualifiers, and its head word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Concept {
    words: Vec<String>,
    core: BTreeSet<String>,
    qualifiers: BTreeSet<String>,
    head: Option<String>,
    /// Core words that name a cause ("… due to *sulfonylurea*"): leaving them out loses what
    /// defines the diagnosis.
    cause: BTreeSet<String>,
    /// Core words of a complication or setting the phrase adds after "with", "in" or "complicating"
    /// ("appendicitis with *localised peritonitis*", "hypoglycaemia in *type 2 diabetes*"): leaving
    /// them out is a minor omission unless they describe a type ("with psychotic features").
    complication: BTreeSet<String>,
}

/// What [`compare`] needs to know of the terminology.
struct Lexicon<'a> {
    /// Whether the classification files the candidate under a code beside the reference's (neither
    /// its ancestor nor its descendant): a sibling disease, however alike the words.
    sibling_in_icd: bool,
    /// Whether a concept word names a condition.
    is_condition_word: &'a dyn Fn(&str) -> bool,
    /// Sites and organisms.
    modifiers: &'a terminology::WordSet,
    /// Whether a concept word names a drug or drug class.
    is_drug: &'a dyn Fn(&str) -> bool,
}

/// Nouns too general to be a second condition when an answer adds them ("hepatitis A infection").
const GENERIC_NOUNS: &[&str] = &[
    "pain",
    "infection",
    "disease",
    "disorder",
    "syndrome",
    "condition",
    "illness",
    "problem",
];

/// Heads whose qualifier is the diagnosis (the site of a tumour or fracture, the substance of a
/// poisoning): another one is another disease.
const SITE_DEFINED_HEADS: &[&str] = &[
    "aneurysm",
    "toxicity",
    "carcinoma",
    "adenocarcinoma",
    "neoplasm",
    "malignancy",
    "lymphoma",
    "sarcoma",
    "melanoma",
    "metastasis",
    "fracture",
    "dislocation",
];

/// One form of the reference a candidate is compared with.
#[derive(Debug)]
struct ReferenceForm {
    concept: Concept,
    /// Where it comes from, for the verdict's rationale.
    label: &'static str,
    /// Whether it is the reference's own name or a synonym the case lists.
    named: bool,
}

/// A broader–narrower pair of diagnoses, as concepts.
#[derive(Debug)]
struct Relation {
    narrower: Concept,
    broader: Concept,
}

/// Most verdicts the judge remembers before it starts again.
const VERDICT_CACHE_LIMIT: usize = 65_536;

/// The rule-based judge. Cheap to share; build once.
#[derive(Debug)]
pub struct RuleJudge {
    icd: &'static Icd10,
    abbreviations: HashMap<String, String>,
    /// Lay, eponym, organism and drug phrases and what they mean (`judge/lay_terms.csv`), by first
    /// word, longest first.
    lay_terms: HashMap<String, Vec<(Vec<String>, String)>>,
    relations: Vec<Relation>,
    /// Words of the drugs and drug classes in `judge/drug_classes.csv` ("lisinopril", "thiazide",
    /// "diuretic"), beside the drug endings [`is_drug_word`] knows.
    drug_words: BTreeSet<String>,
    /// Drugs as narrower forms of their classes (`judge/drug_classes.csv`): read only where a cause
    /// is generalised, so the diagnosis tables above stay small.
    drug_classes: Vec<Relation>,
    /// Verdicts already given: judging is a pure function of the reference and the candidate, and
    /// agents name the same diagnoses again and again. Bounded by [`VERDICT_CACHE_LIMIT`].
    verdicts: std::sync::Mutex<HashMap<String, Verdict>>,
    /// Answers already read (the environment reads every diagnosis before it scores or refuses it;
    /// a refused list comes back turn after turn). Bounded by [`VERDICT_CACHE_LIMIT`].
    readings: std::sync::Mutex<HashMap<String, Reading>>,
    /// Forms of references already built: one reference meets many candidates (the discrete tables
    /// judge every library diagnosis against each case). Bounded by [`VERDICT_CACHE_LIMIT`].
    forms: std::sync::Mutex<HashMap<String, std::sync::Arc<Vec<ReferenceForm>>>>,
}

impl Default for RuleJudge {
    fn default() -> Self {
        Self::new()
    }
}

/// A word without its plural ending: "bodies" → "body", "ulcers" → "ulcer"; words whose "-s" is
/// not a plural ("abscess", "psoriasis", "rabies") are kept.
fn stem(word: &str) -> String {
    let keep = ["ss", "is", "us", "os", "as", "ys"];
    const SINGULAR_IES: &[&str] = &["rabies", "scabies", "caries", "species", "series"];
    if word.len() > 5 && word.ends_with("ies") && !SINGULAR_IES.contains(&word) {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if word.len() > 4 && word.ends_with('s') && !keep.iter().any(|end| word.ends_with(end)) {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

/// Whether two words are the same word spelled alike: equal, or a one-letter slip (two in a long word
/// with the same start).
fn same_spelling(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (a_chars, b_chars) = (a.chars().count(), b.chars().count());
    let short = a_chars.min(b_chars);
    // An edit distance is at least the difference in length: skip the distance when it cannot match.
    let long_enough = short >= 7 && a_chars.abs_diff(b_chars) <= 2;
    if !long_enough {
        return false;
    }
    let distance = strsim::damerau_levenshtein(a, b);
    (short >= 7 && distance == 1) || (short >= 10 && distance == 2 && a.get(..5) == b.get(..5))
}

/// Prefixes that negate or invert the word they join ("nontraumatic" is not "traumatic").
const NEGATING_PREFIXES: &[&str] = &["non", "un", "in", "a", "an", "anti", "pseudo"];

/// Whether two words name the same thing: alike in spelling, or one a compound ending in the other
/// ("myopericarditis", "pericarditis") unless the extra part negates it.
fn same_word(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    same_spelling(a, b)
        || noun_adjective_root(a).is_some_and(|root| noun_adjective_root(b) == Some(root))
        || (short.len() >= 7
            && long.ends_with(short)
            && !NEGATING_PREFIXES.contains(&&long[..long.len() - short.len()]))
}

/// The root a medical noun shares with its adjective: "thrombocytopenia" and "thrombocytopenic",
/// "thrombosis" and "thrombotic", "anaemia" and "anaemic"; `None` for other words or short roots.
fn noun_adjective_root(word: &str) -> Option<&str> {
    ["osis", "otic", "ism", "ia", "ic"]
        .iter()
        .find_map(|end| word.strip_suffix(end))
        .filter(|root| root.len() >= 5)
}

/// Whether every word of `want` is spelled alike in `have` (no compound matching).
fn covers_by_spelling(have: &BTreeSet<String>, want: &BTreeSet<String>) -> bool {
    want.iter()
        .all(|word| have.iter().any(|other| same_spelling(word, other)))
}

fn covers(have: &BTreeSet<String>, want: &BTreeSet<String>) -> bool {
    want.iter()
        .all(|word| have.iter().any(|other| same_word(word, other)))
}

fn missing<'a>(
    have: &BTreeSet<String>,
    want: &'a BTreeSet<String>,
) -> impl Iterator<Item = &'a String> {
    want.iter()
        .filter(move |word| !have.iter().any(|other| same_word(word, other)))
}

fn shared(a: &BTreeSet<String>, b: &BTreeSet<String>) -> usize {
    a.iter()
        .filter(|word| b.iter().any(|other| same_word(word, other)))
        .count()
}

fn changes_entity<'a>(mut words: impl Iterator<Item = &'a String>) -> bool {
    words.any(|word| ENTITY_CHANGING.contains(&word.as_str()))
}

/// Whether a word of `a` is a word of `b` negated by a prefix ("nonischemic" against "ischemic").
fn negates_a_word(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.iter().any(|word| {
        NEGATING_PREFIXES.iter().any(|prefix| {
            word.strip_prefix(prefix)
                .is_some_and(|rest| rest.len() >= 5 && b.contains(rest) && !a.contains(rest))
        })
    })
}

fn conflicting(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    conflicting_in(CONFLICTING, a, b)
}

/// Whether one set holds one word of a pair in `pairs` and the other set the other word.
fn conflicting_in(pairs: &[(&str, &str)], a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    pairs.iter().any(|(x, y)| {
        let has = |set: &BTreeSet<String>, word: &str| set.contains(word);
        (has(a, x) && has(b, y) && !has(a, y) && !has(b, x))
            || (has(a, y) && has(b, x) && !has(a, x) && !has(b, y))
    })
}

impl Concept {
    /// This concept with adjacent words joined where the join is a word of `other` ("keto acidosis" →
    /// "ketoacidosis").
    fn merged_against(&self, other: &Concept) -> Concept {
        let vocabulary: Vec<&String> = other.words.iter().collect();
        let mut words: Vec<String> = Vec::with_capacity(self.words.len());
        let mut index = 0;
        while index < self.words.len() {
            if let Some(next) = self.words.get(index + 1) {
                let joined = format!("{}{}", self.words[index], next);
                if vocabulary.iter().any(|word| same_spelling(word, &joined)) {
                    words.push(joined);
                    index += 2;
                    continue;
                }
            }
            words.push(self.words[index].clone());
            index += 1;
        }
        if words.len() == self.words.len() {
            return self.clone();
        }
        let head = self.head.as_ref().map(|head| {
            words
                .iter()
                .find(|word| word.contains(head.as_str()))
                .cloned()
                .unwrap_or_else(|| head.clone())
        });
        let mut merged = Concept {
            words,
            head,
            cause: self.cause.clone(),
            ..Concept::default()
        };
        for word in &merged.words {
            if QUALIFIERS.contains(&word.as_str()) {
                merged.qualifiers.insert(word.clone());
            } else {
                merged.core.insert(word.clone());
            }
        }
        merged
    }

    /// The same concept: core words match both ways and the specific qualifiers agree.
    fn equivalent(&self, other: &Concept) -> bool {
        let (a, b) = (self.merged_against(other), other.merged_against(self));
        let specific = |concept: &Concept| -> BTreeSet<String> {
            concept
                .qualifiers
                .iter()
                .filter(|q| !GENERIC.contains(&q.as_str()))
                .cloned()
                .collect()
        };
        !a.core.is_empty()
            && covers(&a.core, &b.core)
            && covers(&b.core, &a.core)
            && specific(&a) == specific(&b)
    }
}

/// Whether leaving `word` of a reference form out loses what defines the diagnosis (DESIGN.md
/// §3.7). A cause defines it when it is a condition, a drug or a type ("due to dehydration", "due to
/// a thiazide"), not when it is an organism or a trigger with the same management ("due to RSV",
/// "due to peanut"); a complication after "with" defines it only when it names a type ("with
/// psychotic features", not "with localised peritonitis"); any other word when it is a defining word.
fn defines(word: &str, form: &Concept, lexicon: &Lexicon<'_>) -> bool {
    if form.complication.contains(word) {
        // "with perforation", "with psychotic features": a type word defines; the adjective of
        // another condition ("with transient *ischaemic* attack") is part of a complication.
        let describes_a_condition = form
            .words
            .iter()
            .skip_while(|other| *other != word)
            .nth(1)
            .is_some_and(|next| (lexicon.is_condition_word)(next));
        is_type_defining_word(word) && !describes_a_condition
    } else if form.cause.contains(word) {
        !lexicon.modifiers.contains(word)
            && ((lexicon.is_condition_word)(word)
                || (lexicon.is_drug)(word)
                || is_defining_word(word))
    } else {
        is_defining_word(word)
    }
}

/// Compares a candidate with one reference form on the rubric; `None` when they share nothing.
fn compare(
    candidate: &Concept,
    form: &Concept,
    label: &str,
    lexicon: &Lexicon<'_>,
) -> Option<Verdict> {
    let is_condition_word = lexicon.is_condition_word;
    if form.core.is_empty() {
        return None;
    }
    let candidate = candidate.merged_against(form);
    let form = form.merged_against(&candidate);
    let (cc, fc) = (&candidate.core, &form.core);
    let conflict = conflicting(&candidate.qualifiers, &form.qualifiers)
        || conflicting_in(VESSELS, cc, fc)
        || negates_a_word(cc, fc)
        || negates_a_word(fc, cc);
    let keeps_qualifiers = form
        .qualifiers
        .iter()
        .all(|q| candidate.qualifiers.contains(q));
    let verdict = if covers(cc, fc) && covers(fc, cc) {
        if conflict {
            Verdict::new(
                3,
                format!("the same disease as {label} but acute and chronic differ"),
            )
        } else if keeps_qualifiers {
            Verdict::new(5, format!("same diagnosis as {label}"))
        } else {
            Verdict::new(
                4,
                format!("core disease matches {label}; a qualifier differs"),
            )
        }
    } else if covers(cc, fc) {
        let added: Vec<&String> = missing(fc, cc).collect();
        // Extra words with a noun of their own ("Whipple disease") name a second condition.
        let own_noun = ["disease", "syndrome", "disorder"]
            .into_iter()
            .find(|noun| candidate.qualifiers.contains(*noun) && !form.qualifiers.contains(*noun));
        // A condition the candidate names as the cause or a complication of the reference ("…
        // secondary to SIADH"), or as the kind of its head ("*iron deficiency* anaemia"), makes it
        // more specific, not a second diagnosis.
        let same_head = match (&candidate.head, &form.head) {
            (Some(a), Some(b)) => same_word(a, b),
            _ => false,
        };
        let before_head: &[String] = candidate
            .head
            .as_ref()
            .and_then(|head| candidate.words.iter().position(|word| word == head))
            .map_or(&[], |at| &candidate.words[..at]);
        let specifies = |word: &String| {
            same_head
                && (candidate.cause.contains(word)
                    || candidate.complication.contains(word)
                    || before_head.contains(word))
        };
        let other = added
            .iter()
            .filter(|word| !specifies(word))
            .find(|word| is_condition_word(word) && !GENERIC_NOUNS.contains(&word.as_str()))
            .map(|word| word.as_str())
            .or(own_noun.filter(|_| added.iter().any(|word| !specifies(word))));
        if let Some(other) = other {
            Verdict::new(
                3,
                format!("adds to {label} another condition (`{other}`), not a more specific form"),
            )
        } else if changes_entity(added.into_iter()) || conflict {
            Verdict::new(
                3,
                format!("adds to {label} a word that makes it a different entity"),
            )
        } else if keeps_qualifiers {
            Verdict::new(5, format!("consistent with {label} and more specific"))
        } else {
            Verdict::new(
                4,
                format!("consistent with {label}, more specific, a qualifier differs"),
            )
        }
    } else if covers_by_spelling(fc, cc) {
        let keeps_head = form
            .head
            .as_ref()
            .is_some_and(|head| cc.iter().any(|word| same_word(word, head)));
        let left_out: Vec<&String> = missing(cc, fc).collect();
        let defining: Vec<&str> = left_out
            .iter()
            .map(|word| word.as_str())
            .chain(
                form.qualifiers
                    .iter()
                    .filter(|q| !candidate.qualifiers.contains(*q))
                    .map(String::as_str),
            )
            .filter(|word| defines(word, &form, lexicon))
            .collect();
        if left_out.iter().any(|word| *word == "non" || *word == "not") {
            Verdict::new(3, format!("drops a negation that defines {label}"))
        } else if keeps_head && defining.is_empty() {
            let words: Vec<&str> = left_out.iter().map(|word| word.as_str()).collect();
            Verdict::new(
                4,
                format!(
                    "right disease, less specific than {label} (leaves out {})",
                    words.join(", ")
                ),
            )
        } else if keeps_head {
            Verdict::new(
                3,
                format!(
                    "right disease family, but leaves out what defines {label} ({})",
                    defining.join(", ")
                ),
            )
        } else {
            Verdict::new(
                3,
                format!("names part of {label} but not the disease itself"),
            )
        }
    } else {
        let head_shared = match (&candidate.head, &form.head) {
            (Some(a), Some(b)) => same_spelling(a, b),
            _ => false,
        };
        // Another site of the same disease ("DVT of the leg" for "of the femoral vein") is a minor
        // difference, except for tumours and fractures, where the site is the diagnosis.
        let site_only = missing(fc, cc)
            .chain(missing(cc, fc))
            .all(|word| lexicon.modifiers.contains(word) && !is_defining_word(word));
        let site_defines = candidate
            .head
            .as_deref()
            .is_some_and(|head| SITE_DEFINED_HEADS.iter().any(|noun| same_word(head, noun)));
        // `missing(fc, cc)` is what the candidate says beyond the reference, `missing(cc, fc)` what
        // the reference says beyond the candidate. The difference defines the disease when the
        // candidate adds a defining word or another condition, or leaves out a condition the
        // reference names.
        let defining_difference = missing(fc, cc)
            .any(|word| is_defining_word(word) || is_condition_word(word))
            || missing(cc, fc).any(|word| {
                is_condition_word(word)
                    || (form.cause.contains(word) && defines(word, &form, lexicon))
            });
        if head_shared && site_only && !site_defines && !conflict && !lexicon.sibling_in_icd {
            Verdict::new(
                4,
                format!("same disease as {label}, at another or less precise site"),
            )
        } else if head_shared
            && !site_defines
            && !defining_difference
            && !conflict
            && !lexicon.sibling_in_icd
        {
            Verdict::new(
                4,
                format!("same disease as {label}; a detail that does not define it differs"),
            )
        } else if head_shared {
            Verdict::new(
                3,
                format!(
                    "same disease family as {label}, but its organism, cause, site or type differs"
                ),
            )
        } else if shared(cc, fc) > 0 {
            Verdict::new(2, format!("superficial overlap with {label}"))
        } else {
            return None;
        }
    };
    Some(verdict)
}

impl RuleJudge {
    /// A judge using the built-in ICD-10-CM table, abbreviation list and broader–narrower table.
    ///
    /// # Panics
    /// Never in a released build: the embedded tables are checked by the test suite.
    pub fn new() -> RuleJudge {
        let mut reader = csv::Reader::from_reader(ABBREVIATIONS_CSV.as_bytes());
        let abbreviations = reader
            .records()
            .map(|record| {
                let record =
                    record.unwrap_or_else(|error| panic!("judge/abbreviations.csv: {error}"));
                (record[0].to_string(), normalize(&record[1]))
            })
            .collect();
        let mut reader = csv::Reader::from_reader(LAY_TERMS_CSV.as_bytes());
        let mut pairs: Vec<(String, String)> = reader
            .records()
            .map(|record| {
                let record = record.unwrap_or_else(|error| panic!("judge/lay_terms.csv: {error}"));
                (record[0].to_string(), record[1].to_string())
            })
            .collect();
        pairs.extend(inflamed_organ_phrases());
        let mut lay_terms: HashMap<String, Vec<(Vec<String>, String)>> = HashMap::new();
        for (term, means) in &pairs {
            let words: Vec<String> = normalize(term)
                .split(' ')
                .filter(|word| !word.is_empty())
                .map(str::to_string)
                .collect();
            let means = normalize(means);
            // A pair already read the other way round ("e coli" → "escherichia coli" after
            // "escherichia coli" → "e coli") would swap the two forms back and forth: the first wins.
            let reversed = means
                .split(' ')
                .next()
                .and_then(|first| lay_terms.get(first))
                .is_some_and(|terms| {
                    terms
                        .iter()
                        .any(|(term, back)| term.join(" ") == means && *back == words.join(" "))
                });
            // A meaning that contains its own term ("covid" → "covid 19") would grow on every pass.
            let contains_itself = format!(" {means} ").contains(&format!(" {} ", words.join(" ")));
            if let (Some(first), false) = (words.first(), reversed || contains_itself) {
                lay_terms
                    .entry(first.clone())
                    .or_default()
                    .push((words, means));
            }
        }
        for terms in lay_terms.values_mut() {
            terms.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
        }
        let mut judge = RuleJudge {
            icd: Icd10::builtin(),
            abbreviations,
            lay_terms,
            relations: Vec::new(),
            drug_words: BTreeSet::new(),
            drug_classes: Vec::new(),
            forms: std::sync::Mutex::default(),
            verdicts: std::sync::Mutex::default(),
            readings: std::sync::Mutex::default(),
        };
        let mut reader = csv::Reader::from_reader(RELATED_CSV.as_bytes());
        judge.relations = reader
            .records()
            .map(|record| {
                let record = record.unwrap_or_else(|error| panic!("judge/related.csv: {error}"));
                Relation {
                    narrower: judge.concept(&record[0]),
                    broader: judge.concept(&record[1]),
                }
            })
            .collect();
        // A drug is a narrower form of its class ("lisinopril", an ACE inhibitor).
        let mut reader = csv::Reader::from_reader(DRUG_CLASSES_CSV.as_bytes());
        let drug_classes: Vec<Relation> = reader
            .records()
            .map(|record| {
                let record =
                    record.unwrap_or_else(|error| panic!("judge/drug_classes.csv: {error}"));
                Relation {
                    narrower: judge.concept(&record[0]),
                    broader: judge.concept(&record[1]),
                }
            })
            .collect();
        judge.drug_words = drug_classes
            .iter()
            .flat_map(|relation| relation.narrower.core.iter().chain(&relation.broader.core))
            .filter(|word| word.len() >= 4 && !GENERIC_NOUNS.contains(&word.as_str()))
            .cloned()
            .collect();
        judge.drug_classes = drug_classes;
        judge
    }

    /// Whether a concept word names a drug or a drug class: by its ending, or as a word of the drug
    /// class table.
    fn is_drug(&self, word: &str) -> bool {
        is_drug_word(word) || self.drug_words.contains(word)
    }

    /// The process's judge, built on first use and shared by the engine and the LLM judge (its
    /// caches are shared with it).
    pub fn shared() -> &'static RuleJudge {
        static JUDGE: OnceLock<RuleJudge> = OnceLock::new();
        JUDGE.get_or_init(RuleJudge::new)
    }

    /// Turns free text into a normalised phrase: lead-ins dropped, abbreviations and lay terms expanded.
    fn phrase(&self, text: &str) -> String {
        // "#NOF": a hash before a word is the fracture sign.
        let lower = text
            .replace("'s", "")
            .replace("’s", "")
            .replace('#', " fracture ")
            .to_lowercase();
        let (mut text, _) = answer::strip_lead_in(&lower);
        // Bracketed asides dropped (the answer reader reads them); the first sentence only; a full
        // stop after a one- or two-letter word ("E. coli") is not an end.
        text = without_brackets(&text);
        let mut end = text.len();
        for (at, _) in text.match_indices(['.', ';', '\n']) {
            let before = text[..at]
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("");
            if text[at..].starts_with('.')
                && (before.len() <= 2
                    || answer::DOTTED_ABBREVIATIONS.contains(&before.to_lowercase().as_str()))
            {
                continue;
            }
            if text[..at].trim().is_empty() {
                continue;
            }
            end = at;
            break;
        }
        text.truncate(end);
        let mut text = answer::cut_plan(&text);
        // "… without psychotic features": what a diagnosis is without does not define it.
        if let Some(at) = text.find(" without ") {
            text.truncate(at);
        }
        let normalized = normalize(&text.replace(',', " comma "));
        let corrected: Vec<std::borrow::Cow<'_, str>> = normalized
            .split(' ')
            .filter(|word| !word.is_empty())
            .map(|word| self.spelled(word))
            .collect();
        let mut expanded: Vec<String> = Vec::new();
        for (at, word) in corrected.iter().map(|word| word.as_ref()).enumerate() {
            // A unit after a number ("5 mm") is not an abbreviation of a disease.
            let after_number = expanded
                .last()
                .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()));
            // "GBS sepsis" is group B streptococcal, "GBS" alone Guillain–Barré syndrome.
            let before_infection = corrected
                .get(at + 1)
                .is_some_and(|next| INFECTIONS.contains(&next.as_ref()));
            if let Some((_, organism)) = ORGANISM_ABBREVIATIONS
                .iter()
                .find(|(abbreviation, _)| *abbreviation == word)
                .filter(|_| before_infection)
            {
                expanded.extend(organism.split(' ').map(str::to_string));
                continue;
            }
            // "PEs", "UTIs": the plural of an abbreviation.
            let expansion = self.abbreviations.get(word).or_else(|| {
                word.strip_suffix('s')
                    .filter(|singular| singular.len() >= 2 && word.len() <= 5)
                    .and_then(|singular| self.abbreviations.get(singular))
            });
            match expansion.filter(|_| !after_number) {
                Some(expansion) => expanded.extend(expansion.split(' ').map(str::to_string)),
                None => expanded.push(word.to_string()),
            }
        }
        // "type A", "type 1" (written or expanded from "T1DM"): the letter or number is the type,
        // one word ("typea"), never a stop word or a qualifier.
        let mut words: Vec<String> = Vec::with_capacity(expanded.len());
        let mut tokens = expanded.into_iter().peekable();
        while let Some(word) = tokens.next() {
            if word == "type" {
                if let Some(kind) = tokens.next_if(|next| next.len() <= 3 && is_type_mark(next)) {
                    words.push(format!("type{kind}"));
                    continue;
                }
            }
            words.push(word);
        }
        let joined = words.join(" ");
        if let Some((_, whole)) = WHOLE_ANSWERS.iter().find(|(answer, _)| *answer == joined) {
            return (*whole).to_string();
        }
        // Lay terms, longest match first at each word; a second pass follows a chain ("c diff" →
        // "clostridioides difficile" → the classification's "clostridium difficile").
        let once = self.replace_lay_terms(&joined);
        self.replace_lay_terms(&once)
    }

    /// The ICD-10-CM code of the condition a diagnosis name describes, read as the judge reads an
    /// answer (abbreviations and lay words expanded, spelling, word order and plurals aside): the
    /// code whose description or inclusion term has its words, else its core words (qualifiers such
    /// as acute or left aside), else the description holding all its words with the fewest others
    /// (at most [`MAX_EXTRA_CODE_WORDS`]: "chronic lymphocytic leukaemia" is filed under "chronic
    /// lymphocytic leukemia of B-cell type"). None for a name that names no condition ("Assault",
    /// "Mosquito"). For importers whose sources give names without codes.
    pub fn code_for(&self, name: &str) -> Option<String> {
        if !self.names_condition(name) {
            return None;
        }
        let concept = self.concept(name);
        if let Some(code) = self
            .infer_code(&concept)
            .filter(|code| terminology::is_condition_code(code))
        {
            return Some(code);
        }
        let words: BTreeSet<&str> = concept.words.iter().map(String::as_str).collect();
        if words.is_empty() {
            return None;
        }
        // The fewest extra words, then the shortest code, then the first code in order.
        let mut best: Option<(usize, String)> = None;
        self.term_index().for_each(|key, code| {
            if !terminology::is_condition_code(code) {
                return;
            }
            let key_words: BTreeSet<&str> = key.split(' ').collect();
            let Some(extra) = key_words.len().checked_sub(words.len()) else {
                return;
            };
            if extra > MAX_EXTRA_CODE_WORDS || !words.is_subset(&key_words) {
                return;
            }
            let better = best.as_ref().is_none_or(|(best_extra, best_code)| {
                (extra, code.len(), code) < (*best_extra, best_code.len(), best_code.as_str())
            });
            if better {
                best = Some((extra, code.to_string()));
            }
        });
        best.map(|(_, code)| code)
    }

    /// Whether `text` names a condition (a disease, injury, finding or state), rather than a site, side,
    /// severity or organism that qualifies one.
    pub fn names_condition(&self, text: &str) -> bool {
        let phrase = self.phrase(text);
        if phrase.split(' ').any(is_drug_word) && !phrase.split(' ').any(is_disease_word) {
            return false;
        }
        if phrase.split(' ').any(is_disease_word) {
            return true;
        }
        let concept = self.concept(text);
        if concept.core.iter().any(|word| self.is_condition_word(word)) {
            return true;
        }
        !concept.core.is_empty()
            && self
                .term_index()
                .get(&concept_key(&concept))
                .is_some_and(|code| !is_organism_code(code))
    }

    /// Whether affirmed `pieces`, together, are one term of the lay table ("haemolysis, elevated liver
    /// enzymes and low platelets" is HELLP syndrome).
    fn is_one_lay_term(&self, pieces: &[String]) -> bool {
        let words: Vec<String> = normalize(&pieces.join(" "))
            .split(' ')
            .filter(|word| *word != "and")
            .map(str::to_string)
            .collect();
        words
            .first()
            .and_then(|first| self.lay_terms.get(first))
            .is_some_and(|terms| {
                terms
                    .iter()
                    .any(|(term, _)| term.iter().filter(|word| *word != "and").eq(words.iter()))
            })
    }

    /// What a piece of an answer is: a condition the terminology knows, unknown words, or a qualifier.
    fn classify_piece(&self, text: &str) -> Piece {
        // A piece with a link is what its first part is ("lymph nodes presenting as …" qualifies).
        let parts = linked_parts(text);
        if parts.len() > 1 && !self.stands_alone(parts[0]) {
            return Piece::Qualifier;
        }
        if !self.stands_alone(text) {
            Piece::Qualifier
        } else if self.names_condition(text) {
            Piece::Condition
        } else {
            Piece::Unknown
        }
    }

    /// Whether a piece of an answer stands as a condition of its own: it names one, or it has a word
    /// that is neither a qualifier, a site nor an organism (an unknown name is presumed a condition,
    /// so no list hides behind words the judge does not know).
    fn stands_alone(&self, text: &str) -> bool {
        // "restrictive subtype", "manic episode", "with psychotic features", "antibody positive":
        // a trailing description of the condition before it.
        let last = text
            .rsplit(|c: char| !c.is_alphanumeric())
            .find(|word| !word.is_empty())
            .unwrap_or("");
        let first = text
            .split(|c: char| !c.is_alphanumeric())
            .find(|word| !word.is_empty())
            .unwrap_or("");
        if QUALIFYING_STARTS.contains(&first) {
            return false;
        }
        if QUALIFYING_ENDS.contains(&last) {
            // Unless a condition comes before a link ("pre-eclampsia with severe features").
            let parts = linked_parts(text);
            return parts.len() > 1 && self.names_condition(parts[0]);
        }
        if self.names_condition(text) {
            return true;
        }
        // "Marsh 3b", "R-ISS stage II", "Child-Pugh C": a short piece ending in a stage, grade or
        // class mark qualifies the condition before it.
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        if words.len() <= 4 && words.len() > 1 && is_stage_mark(last) {
            return false;
        }
        // "right calf", "L wrist": a side and a site.
        if words.len() <= 3 && SIDE_WORDS.contains(&first) {
            return false;
        }
        let modifiers = &self.terminology().modifiers;
        let core = self.concept(text).core;
        // One adjective after a comma ("incarcerated", "embolic", "non-perforated") describes the
        // condition before it.
        let adjectives: Vec<&String> = core
            .iter()
            .filter(|word| !NEGATING_PREFIXES.contains(&word.as_str()))
            .collect();
        if adjectives.len() == 1 && looks_adjectival(adjectives[0]) {
            return false;
        }
        core.iter().any(|word| {
            word.len() > 1
                && !modifiers.contains(word)
                && !is_drug_word(word)
                && !["mm", "cm"].contains(&word.as_str())
                && !word.chars().all(|c| c.is_ascii_digit())
        })
    }

    /// Whether `candidate` is the reference's own name or a listed synonym, word for word (case,
    /// spacing and a final full stop aside): the diagnosis however it is punctuated ("Bipolar I
    /// disorder, manic episode"), never a list to refuse.
    pub fn names_reference_verbatim(reference: Reference<'_>, candidate: &str) -> bool {
        let verbatim = |text: &str| {
            text.trim()
                .trim_end_matches('.')
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let written = verbatim(candidate);
        !written.is_empty()
            && std::iter::once(reference.name)
                .chain(reference.synonyms.iter().map(String::as_str))
                .any(|name| verbatim(name) == written)
    }

    /// Reads a diagnosis answer (DESIGN.md §3.7): one affirmed condition, several, held open, or none.
    /// Alternatives that name the same condition ("infectious mononucleosis (glandular fever)") count
    /// once; a condition may bring one cause or complication ("septic shock due to pyelonephritis"),
    /// and what follows that is left out of the score.
    pub fn read_answer(&self, text: &str) -> Reading {
        bounded_cache(&self.readings, text.to_string(), || {
            self.read_answer_uncached(text)
        })
    }

    fn read_answer_uncached(&self, text: &str) -> Reading {
        let classify = |piece: &str| self.classify_piece(piece);
        match answer::read(text, &classify) {
            Reading::Several(conditions) if self.is_one_lay_term(&conditions) => {
                Reading::One(conditions.join(", "))
            }
            Reading::Several(conditions) => {
                let first = self.concept(&conditions[0]);
                let all_same = conditions[1..]
                    .iter()
                    .all(|other| self.concept(other).equivalent(&first));
                if all_same {
                    Reading::One(conditions[0].clone())
                } else {
                    Reading::Several(conditions)
                }
            }
            other => other,
        }
    }

    /// `phrase` with every lay term replaced by what it means (one pass, longest match first).
    fn replace_lay_terms(&self, phrase: &str) -> String {
        let words: Vec<&str> = phrase.split(' ').filter(|word| !word.is_empty()).collect();
        let mut out: Vec<&str> = Vec::with_capacity(words.len());
        let mut at = 0;
        while at < words.len() {
            let singular = words[at]
                .strip_suffix('s')
                .filter(|singular| singular.len() >= 3);
            let matched = [Some(words[at]), singular]
                .into_iter()
                .flatten()
                .filter_map(|first| self.lay_terms.get(first))
                .flatten()
                .find(|(term, _)| {
                    words.len() - at >= term.len()
                        && term.iter().zip(&words[at..]).all(|(a, b)| {
                            // "Addisons disease", "gallstones": a possessive written without its
                            // apostrophe, or a plural.
                            // An eponym's "disease" or "syndrome" ("Weil's syndrome").
                            a == b
                                || (b.len() > 3 && b.strip_suffix('s') == Some(a.as_str()))
                                || (EPONYM_NOUNS.contains(&a.as_str()) && EPONYM_NOUNS.contains(b))
                        })
                });
            match matched {
                Some((term, means)) => {
                    out.push(means);
                    at += term.len();
                }
                None => {
                    out.push(words[at]);
                    at += 1;
                }
            }
        }
        out.join(" ")
    }

    fn concept(&self, text: &str) -> Concept {
        Self::concept_of_phrase(&self.phrase(text))
    }

    /// The concept of an already normalised phrase (see [`RuleJudge::phrase`]).
    fn concept_of_phrase(phrase: &str) -> Concept {
        let mut concept = Concept::default();
        let mut head_before_of: Option<String> = None;
        let mut in_cause = false;
        let mut in_complication = false;
        // Where the current comma-separated segment starts in `concept.words`.
        let mut segment_start = 0;
        let all: Vec<&str> = phrase.split(' ').filter(|word| !word.is_empty()).collect();
        for (at, &word) in all.iter().enumerate() {
            if HEAD_BOUNDARIES.contains(&word) && head_before_of.is_none() {
                head_before_of = head_of(&concept.words, &concept.core);
            }
            if word == "comma" {
                segment_start = concept.words.len();
            }
            // "SIADH-related hyponatraemia", "alcohol-induced pancreatitis": a marker between a
            // cause and its condition names what comes before it as the cause.
            let follows = all.get(at + 1).copied();
            if CAUSE_AFTER_MARKERS.contains(&word)
                && follows.is_some_and(|next| !["by", "to", "with", "comma"].contains(&next))
                && concept.words.len() > segment_start
            {
                for earlier in &concept.words[segment_start..] {
                    if concept.core.contains(earlier) {
                        concept.cause.insert(earlier.clone());
                    }
                }
                continue;
            }
            if CAUSE_MARKERS.contains(&word) {
                in_cause = true;
                in_complication = false;
                // The marker is grammar, not a word of the concept ("induced by", "due to"), but
                // "secondary" without "to" is a type ("secondary hypertension").
                if word != "secondary" || follows == Some("to") {
                    continue;
                }
            } else if ["with", "in", "complicating"].contains(&word) {
                // A complication ("with …") or the setting ("in type 2 diabetes", "complicating
                // otitis media"), through any commas and "and"s that follow.
                in_cause = false;
                in_complication = true;
            } else if word == "comma" {
                in_cause = false;
            }
            if STOPWORDS.contains(&word) {
                continue;
            }
            let mapped = WORD_FORMS
                .iter()
                .find(|(form, _)| *form == word)
                .map_or(word, |(_, to)| to);
            for word in mapped.split(' ').filter(|word| !word.is_empty()) {
                // "acutely", "severely": the adverb of a qualifier is that qualifier.
                let word = word
                    .strip_suffix("ly")
                    .filter(|adjective| QUALIFIERS.contains(adjective))
                    .unwrap_or(word);
                let word = stem(word);
                if QUALIFIERS.contains(&word.as_str()) {
                    concept.qualifiers.insert(word.clone());
                } else {
                    if in_cause {
                        concept.cause.insert(word.clone());
                    }
                    if in_complication {
                        concept.complication.insert(word.clone());
                    }
                    concept.core.insert(word.clone());
                }
                concept.words.push(word);
            }
        }
        concept.head = head_before_of.or_else(|| head_of(&concept.words, &concept.core));
        concept
    }

    /// An ICD description as reference text: "unspecified", "other" and "without …" clauses removed.
    fn description_text(description: &str) -> String {
        let lower = description.to_lowercase();
        let lower = lower
            .split(" without ")
            .next()
            .unwrap_or(&lower)
            .to_string();
        lower
            .replace(", unspecified", "")
            .replace("unspecified ", "")
            .replace("other ", "")
            .replace(", not elsewhere classified", "")
    }

    /// Builds the per-process tables every judge shares (the ICD-10-CM description index takes a few
    /// seconds) on another thread, so the first diagnosis a user makes is not the one that waits.
    pub fn warm_up_in_background() {
        std::thread::spawn(|| {
            let reference = Reference {
                name: "Community-acquired pneumonia",
                icd10: "J18.9",
                synonyms: &[],
            };
            RuleJudge::shared().judge_uncached(reference, "pneumonia", None)
        });
    }

    /// Scores `candidate` (free text, with an optional ICD-10-CM code) against `reference`.
    pub fn judge(
        &self,
        reference: Reference<'_>,
        candidate: &str,
        candidate_icd10: Option<&str>,
    ) -> Verdict {
        let mut key = format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}",
            reference.icd10,
            reference.name,
            candidate,
            candidate_icd10.unwrap_or("")
        );
        for synonym in reference.synonyms {
            key.push('\u{1f}');
            key.push_str(synonym);
        }
        bounded_cache(&self.verdicts, key, || {
            self.judge_uncached(reference, candidate, candidate_icd10)
        })
    }

    fn judge_uncached(
        &self,
        reference: Reference<'_>,
        candidate: &str,
        candidate_icd10: Option<&str>,
    ) -> Verdict {
        if Self::names_reference_verbatim(reference, candidate) {
            return Verdict::new(5, "the reference's own name");
        }
        let text = match self.read_answer(candidate) {
            Reading::One(text) => text,
            Reading::Several(conditions)
                if self.is_reference_composite(reference, candidate, &conditions) =>
            {
                conditions.join(" with ")
            }
            Reading::Several(conditions) => {
                return Verdict::new(
                    1,
                    format!(
                        "names {} diagnoses ({}): not one final diagnosis",
                        conditions.len(),
                        conditions.join("; ")
                    ),
                );
            }
            Reading::Hedged(conditions) => {
                return Verdict::new(
                    1,
                    format!(
                        "holds {} open (possible, ?, differential): not a final diagnosis",
                        conditions.join("; ")
                    ),
                );
            }
            Reading::NoneAffirmed => {
                let names_nothing = answer::conditions(candidate, &|_| Piece::Condition).is_empty();
                return match candidate_icd10 {
                    Some(code) if names_nothing => self.score_one(reference, "", Some(code)),
                    _ => Verdict::new(
                        1,
                        "affirms no diagnosis: what it names is excluded, or it names none",
                    ),
                };
            }
        };
        // "A with B and C", "A due to B from C": what follows the first cause or complication is
        // left out of the score, so a chain of guesses behind links earns nothing a list cannot.
        let text = first_link_only(&text);
        let mut best = self.score_one(reference, &text, candidate_icd10);
        let parts = linked_parts(&text);
        if parts.len() > 1 && best.score < 5 {
            for part in parts {
                if !self.names_condition(part) {
                    continue;
                }
                let verdict = self.score_one(reference, part, None);
                if verdict.score > best.score {
                    best = verdict;
                }
            }
        }
        best
    }

    /// Whether an answer that names several conditions names the reference's own parts, joined as
    /// one diagnosis ("DKA, T1DM" for "diabetic ketoacidosis in type 1 diabetes"): no alternative is
    /// offered ("or", "/", "?") and every word of every part is a word of the reference's name, a
    /// synonym, its code's description or inclusion terms. An answer of this shape cannot add a guess, so it gains
    /// nothing by listing.
    fn is_reference_composite(
        &self,
        reference: Reference<'_>,
        candidate: &str,
        conditions: &[String],
    ) -> bool {
        if answer::offers_alternative(&candidate.to_lowercase()) {
            return false;
        }
        // Each part within one form: words gathered from several forms (the battery of one,
        // "lithium" of a bracket, "toxicity" of another) may spell a second condition.
        let forms = self.reference_forms(reference);
        conditions.iter().all(|condition| {
            let concept = self.concept(condition);
            !concept.core.is_empty()
                && forms
                    .iter()
                    .any(|form| covers(&form.concept.core, &concept.core))
        })
    }

    /// Scores one affirmed condition's text (and its code, if given) on the rubric.
    fn score_one(&self, reference: Reference<'_>, text: &str, code: Option<&str>) -> Verdict {
        let concept = self.concept(text);
        if concept.core.is_empty() && code.is_none() {
            return Verdict::new(1, "no diagnosis given");
        }
        let mut best = self.score_text(reference, &concept);
        let inferred = self
            .term_index()
            .get(&concept_key(&concept))
            .map(str::to_string);
        // A term the classification files under a code is also read as that code's description
        // ("glandular fever" as "infectious mononucleosis").
        // Only a true synonym counts this way: a term filed under a broader description ("aspergilloma"
        // under "aspergillosis") is not the reference because its description is.
        if let Some(entry) = inferred.as_deref().and_then(|code| self.icd.get(code)) {
            if best.score < 5 {
                let described = self.concept(&Self::description_text(entry.description));
                let verdict = self.score_text(reference, &described);
                if verdict.score == 5 {
                    best = Verdict::new(
                        verdict.score,
                        format!(
                            "{} (read as ICD-10-CM {}, {})",
                            verdict.rationale, entry.code, entry.description
                        ),
                    );
                }
            }
        }
        let given = code.is_some();
        let code = code
            .map(|code| code.trim().to_uppercase())
            .filter(|code| self.icd.get(code).is_some());
        let given = given && code.is_some();
        let by_code = code.or(inferred).as_deref().map(|code| {
            let verdict = self.score_code(reference.icd10, code, given);
            // A code given alone stands on its own; with a text, as a code read from the text, it
            // stands for its description, which may be broader than the case's name: what the
            // name adds and defines must be in the candidate ("angioedema" with T78.3XXA is not
            // "ACE inhibitor-induced angioedema").
            if (given && concept.core.is_empty()) || verdict.score < CORRECT_AT {
                return verdict;
            }
            let description = self
                .icd
                .get(code)
                .map(|entry| self.concept(&Self::description_text(entry.description)))
                .unwrap_or_default();
            let name = self.concept(reference.name);
            let lexicon = Lexicon {
                sibling_in_icd: false,
                is_condition_word: &|word| self.is_condition_word(word),
                modifiers: &self.terminology().modifiers,
                is_drug: &|word| self.is_drug(word),
            };
            let unmet = unmet_defining(&description, &name, &concept, &lexicon);
            if unmet.is_empty() {
                verdict
            } else {
                Verdict::new(
                    3,
                    format!(
                        "{}, but leaves out what the reference names ({})",
                        verdict.rationale,
                        unmet.join(", ")
                    ),
                )
            }
        });
        match by_code {
            Some(coded) if coded.score > best.score => coded,
            _ => best,
        }
    }

    /// The reference's forms: its name and synonyms (`named`), its code's description, and the
    /// inclusion terms the classification lists under its code.
    fn reference_forms(&self, reference: Reference<'_>) -> std::sync::Arc<Vec<ReferenceForm>> {
        let key = format!(
            "{}\u{1}{}\u{1}{}",
            reference.name,
            reference.icd10,
            reference.synonyms.join("\u{2}")
        );
        bounded_cache(&self.forms, key, || {
            std::sync::Arc::new(self.reference_forms_uncached(reference))
        })
    }

    fn reference_forms_uncached(&self, reference: Reference<'_>) -> Vec<ReferenceForm> {
        let mut forms: Vec<ReferenceForm> = std::iter::once(reference.name)
            .chain(reference.synonyms.iter().map(String::as_str))
            .chain(bracketed(reference.name))
            .map(|name| ReferenceForm {
                concept: self.concept(name),
                label: "the reference",
                named: true,
            })
            .collect();
        if let Some(entry) = self.icd.get(reference.icd10) {
            forms.push(ReferenceForm {
                concept: self.concept(&Self::description_text(entry.description)),
                label: "the reference code's description",
                named: false,
            });
            // The tabular list writes inclusion terms once, at the subcategory or category that
            // holds them ("Regional ileitis" under K50.0). They name the reference's code too when
            // that code adds nothing to its holder but "unspecified" or "without …" (K50.00,
            // "… without complications"); a code that adds a defining detail (E05.01, "… with
            // thyrotoxic crisis") is not named by its holder's terms.
            let holders: Vec<&str> = self
                .icd
                .lineage(entry.code)
                .into_iter()
                .take_while(|holder| {
                    holder.code == entry.code
                        || (matches!(holder.kind, IcdKind::Subcategory | IcdKind::Category)
                            && adds_nothing_to(entry.description, holder.description))
                })
                .map(|holder| holder.code)
                .collect();
            let inherited = |term: &&dxsim_gatekeeper::icd10::IcdTerm| {
                term.code == entry.code
                    || (term.kind == TermKind::Inclusion && holders.contains(&term.code))
            };
            for term in Icd10::terms().iter().filter(inherited) {
                let label = match term.kind {
                    TermKind::Inclusion => "an inclusion term of the reference code",
                    TermKind::Includes => "a condition the reference code includes",
                };
                for text in Self::term_texts(term.term) {
                    forms.push(ReferenceForm {
                        concept: self.concept(&text),
                        label,
                        named: false,
                    });
                }
            }
        }
        forms
    }

    fn score_text(&self, reference: Reference<'_>, candidate: &Concept) -> Verdict {
        let forms = self.reference_forms(reference);
        let name = &forms[0].concept;
        let sibling_in_icd = self.infer_code(candidate).is_some_and(|code| {
            self.icd.get(reference.icd10).is_some()
                && !self
                    .icd
                    .lineage(&code)
                    .iter()
                    .any(|entry| entry.code == reference.icd10)
                && !self
                    .icd
                    .lineage(reference.icd10)
                    .iter()
                    .any(|entry| entry.code == code)
        });
        let mut best = Verdict::new(1, "no overlap with the reference diagnosis");
        for form in forms.iter() {
            let lexicon = Lexicon {
                sibling_in_icd,
                is_condition_word: &|word| self.is_condition_word(word),
                modifiers: &self.terminology().modifiers,
                is_drug: &|word| self.is_drug(word),
            };
            let Some(mut verdict) = compare(candidate, &form.concept, form.label, &lexicon) else {
                continue;
            };
            if !form.named && verdict.score >= CORRECT_AT {
                // The classification's term may be broader than the case's name ("acute kidney
                // injury" for "acute kidney injury due to rhabdomyolysis"): what the name adds and
                // defines must still be in the candidate.
                let unmet = unmet_defining(&form.concept, name, candidate, &lexicon);
                if !unmet.is_empty() {
                    verdict = Verdict::new(
                        3,
                        format!(
                            "matches {}, but leaves out what the reference names ({})",
                            form.label,
                            unmet.join(", ")
                        ),
                    );
                }
            }
            if verdict.score > best.score {
                best = verdict;
            }
        }
        if best.score >= CORRECT_AT {
            let named: Vec<&Concept> = forms
                .iter()
                .filter(|form| form.named)
                .map(|form| &form.concept)
                .collect();
            if let Some(conflict) = type_conflict(candidate, &named) {
                return Verdict::new(3, format!("a different type ({conflict})"));
            }
        }
        if best.score >= CORRECT_AT {
            let named: Vec<&Concept> = forms
                .iter()
                .filter(|form| form.named)
                .map(|form| &form.concept)
                .collect();
            if self.is_sibling_in_table(&named, candidate) {
                return Verdict::new(
                    3,
                    "a different disease of the reference's family (the broader–narrower table)",
                );
            }
        }
        if best.score < CORRECT_AT {
            // A narrower term inside the candidate where the reference names the broader one
            // ("delirium from E. coli *cystitis*" for "delirium due to *urinary tract infection*")
            // is more specific, not different: read it as the broader term and compare again.
            for form in forms.iter().filter(|form| form.named) {
                let Some(general) = self.generalised_towards(candidate, &form.concept) else {
                    continue;
                };
                let lexicon = Lexicon {
                    sibling_in_icd: false,
                    is_condition_word: &|word| self.is_condition_word(word),
                    modifiers: &self.terminology().modifiers,
                    is_drug: &|word| self.is_drug(word),
                };
                if let Some(verdict) = compare(&general, &form.concept, form.label, &lexicon) {
                    if verdict.score > best.score {
                        best = Verdict::new(
                            verdict.score,
                            format!("{}, naming a narrower form of its words", verdict.rationale),
                        );
                    }
                }
            }
        }
        if best.score < 5 {
            let named: Vec<&Concept> = forms
                .iter()
                .filter(|form| form.named)
                .map(|form| &form.concept)
                .collect();
            if let Some(related) = self.score_related(&named, candidate) {
                if related.score > best.score {
                    best = related;
                }
            }
        }
        best
    }

    /// The candidate with each narrower term of the broader–narrower table in its cause replaced by
    /// the broader term, where the reference form names the broader term and the candidate does not;
    /// `None` when nothing was replaced.
    fn generalised_towards(&self, candidate: &Concept, form: &Concept) -> Option<Concept> {
        let contains = |words: &[String], part: &[String]| {
            !part.is_empty() && words.windows(part.len()).any(|window| window == part)
        };
        if candidate.cause.is_empty() {
            return None;
        }
        let mut words = candidate.words.clone();
        let mut replaced = false;
        for relation in self.relations.iter().chain(&self.drug_classes) {
            let (narrower, broader) = (&relation.narrower.words, &relation.broader.words);
            if !contains(&form.words, broader) || contains(&words, broader) {
                continue;
            }
            let at = words
                .windows(narrower.len())
                .position(|window| window == narrower.as_slice());
            // Only a cause is read more broadly: a narrower main condition is judged whole
            // (septic cavernous sinus thrombosis is not a form of bland venous sinus thrombosis).
            let in_cause = |at: usize| {
                words[at..at + narrower.len()]
                    .iter()
                    .all(|word| candidate.cause.contains(word))
            };
            if let Some(at) = at.filter(|&at| in_cause(at)) {
                words.splice(at..at + narrower.len(), broader.iter().cloned());
                replaced = true;
            }
        }
        replaced.then(|| Self::concept_of_phrase(&words.join(" ")))
    }

    /// Whether the broader–narrower table files the candidate and the reference as two different
    /// kinds of one broader term (Takayasu and giant cell arteritis, both vasculitis), neither of
    /// them a form of the other (unlike myocardial infarction and STEMI).
    fn is_sibling_in_table(&self, forms: &[&Concept], candidate: &Concept) -> bool {
        if forms.iter().any(|form| form.equivalent(candidate)) {
            return false;
        }
        self.relations
            .iter()
            .filter(|relation| relation.narrower.equivalent(candidate))
            .any(|relation| {
                self.relations.iter().any(|sibling| {
                    sibling.broader.equivalent(&relation.broader)
                        && forms.iter().any(|form| form.equivalent(&sibling.narrower))
                        && !covers(&sibling.narrower.core, &relation.narrower.core)
                        && !covers(&relation.narrower.core, &sibling.narrower.core)
                })
            })
    }

    /// Scores through the broader–narrower table: a narrower term of the reference is more specific (5),
    /// a broader one less specific (4), a sibling a different disease of the family (3).
    fn score_related(&self, forms: &[&Concept], candidate: &Concept) -> Option<Verdict> {
        let is_reference = |concept: &Concept| forms.iter().any(|form| form.equivalent(concept));
        let mut best: Option<Verdict> = None;
        for relation in &self.relations {
            let verdict = if relation.narrower.equivalent(candidate)
                && is_reference(&relation.broader)
            {
                Verdict::new(5, "a recognised, more specific form of the reference")
            } else if relation.broader.equivalent(candidate) && is_reference(&relation.narrower) {
                Verdict::new(
                    3,
                    "a recognised broader term for the reference: what defines it is left out",
                )
            } else if relation.narrower.equivalent(candidate)
                && self.relations.iter().any(|sibling| {
                    sibling.broader.equivalent(&relation.broader) && is_reference(&sibling.narrower)
                })
            {
                Verdict::new(3, "a different disease of the reference's family")
            } else {
                continue;
            };
            if best
                .as_ref()
                .is_none_or(|current| verdict.score > current.score)
            {
                best = Some(verdict);
            }
        }
        best
    }

    /// Scores a candidate's code (`given` by the candidate, or inferred from its text) through the
    /// hierarchy. A parent code the candidate gave is the right disease, less specific (4); a parent
    /// inferred from text says nothing of which words were left out, so the text's verdict decides
    /// (at most 3 here).
    fn score_code(&self, reference: &str, candidate: &str, given: bool) -> Verdict {
        if reference == candidate {
            return Verdict::new(5, format!("ICD-10-CM {candidate} is the reference code"));
        }
        let lineage = self.icd.lineage(candidate);
        if lineage.iter().any(|entry| entry.code == reference) {
            return Verdict::new(
                5,
                format!("ICD-10-CM {candidate} lies under the reference code {reference}"),
            );
        }
        let Some(shared) = self.icd.common_ancestor(reference, candidate) else {
            return Verdict::new(
                1,
                format!("ICD-10-CM {candidate} is unrelated to {reference}"),
            );
        };
        if shared.code == candidate
            && shared.kind != IcdKind::Chapter
            && shared.kind != IcdKind::Block
        {
            return Verdict::new(
                if given { 4 } else { 3 },
                format!("ICD-10-CM {candidate} is a less specific parent of {reference}"),
            );
        }
        match shared.kind {
            IcdKind::Category | IcdKind::Subcategory | IcdKind::Code => Verdict::new(
                3,
                format!(
                    "ICD-10-CM {candidate} shares category {} with {reference}",
                    shared.code
                ),
            ),
            IcdKind::Block => Verdict::new(
                3,
                format!(
                    "ICD-10-CM {candidate} is in the same block ({})",
                    shared.code
                ),
            ),
            IcdKind::Chapter => Verdict::new(
                2,
                format!("ICD-10-CM {candidate} is only in the same chapter"),
            ),
        }
    }
}

/// The defining words the reference's name has beyond `form` that `candidate` does not have either.
fn unmet_defining<'a>(
    form: &Concept,
    name: &'a Concept,
    candidate: &Concept,
    lexicon: &Lexicon<'_>,
) -> Vec<&'a str> {
    missing(&form.core, &name.core)
        .filter(|word| defines(word, name, lexicon))
        .filter(|word| !candidate.core.iter().any(|have| same_word(have, word)))
        .map(String::as_str)
        .collect()
}

/// `text` without its bracketed parts ("pulmonary (acute) (artery) infarction" → "pulmonary
/// infarction").
fn without_brackets(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => kept.push(c),
            _ => {}
        }
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The bracketed parts of a reference name ("Acute CPPD arthritis (pseudogout)" → "pseudogout"): the
/// author's synonyms.
fn bracketed(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        parts.push(rest[open + 1..open + close].trim());
        rest = &rest[open + close + 1..];
    }
    parts
}

/// A type the candidate names ("type2") that none of the reference's names has, while they name one.
fn type_conflict(candidate: &Concept, names: &[&Concept]) -> Option<String> {
    let types = |concept: &Concept| -> Vec<String> {
        concept
            .core
            .iter()
            .filter(|word| word.starts_with("type") && word.len() > 4)
            .cloned()
            .collect()
    };
    let mine = types(candidate);
    let theirs: Vec<String> = names.iter().flat_map(|name| types(name)).collect();
    let differs =
        !mine.is_empty() && !theirs.is_empty() && mine.iter().all(|t| !theirs.contains(t));
    differs.then(|| format!("{} for {}", mine.join(", "), theirs.join(", ")))
}

/// First words that make a piece a description of the condition before it ("current episode manic").
const QUALIFYING_STARTS: &[&str] = &[
    "current",
    "currently",
    "in",
    "recurrent",
    "single",
    // Stages, grades and scores ("Child-Pugh C", "NYHA class III", "GOLD 3", "Forrest Ib").
    "stage",
    "grade",
    "class",
    "child",
    "nyha",
    "gold",
    "killip",
    "forrest",
    "curb",
    "gcs",
    "ecog",
    "figo",
    "gleason",
    "kdigo",
    "meld",
    "sofa",
    "qsofa",
    "hunt",
    "wfns",
    "nihss",
    "breslow",
    "dukes",
    "ann",
    "tnm",
];

/// Abbreviations that name an organism before an infection ("GBS sepsis", "GAS pharyngitis") and
/// something else alone ("GBS", Guillain–Barré syndrome; "gas").
const ORGANISM_ABBREVIATIONS: &[(&str, &str)] = &[
    ("gbs", "group b streptococcus"),
    ("gas", "group a streptococcus"),
];

/// Infections an organism abbreviation may come before.
const INFECTIONS: &[&str] = &[
    "sepsis",
    "septicemia",
    "bacteremia",
    "meningitis",
    "infection",
    "disease",
    "pneumonia",
    "colonization",
    "pharyngitis",
    "tonsillitis",
    "cellulitis",
    "endocarditis",
];

/// Nouns an eponym takes interchangeably ("Weil disease", "Weil's syndrome").
const EPONYM_NOUNS: &[&str] = &["disease", "syndrome"];

/// Words for a side, opening a piece that names where the condition before it is.
const SIDE_WORDS: &[&str] = &["left", "right", "bilateral", "l", "r", "lt", "rt"];

/// Last words that make a piece a description of the condition before it, not a condition.
const QUALIFYING_ENDS: &[&str] = &[
    "rate",
    "source",
    "resistant",
    "sensitive",
    "susceptible",
    "associated",
    "related",
    "induced",
    "homozygous",
    "heterozygous",
    "components",
    "component",
    "on",
    "off",
    "diagnosed",
    "subtype",
    "type",
    "variant",
    "phase",
    "stage",
    "grade",
    "form",
    "pattern",
    "episode",
    "features",
    "feature",
    "symptoms",
    "involvement",
    "positive",
    "negative",
    "presentation",
    "onset",
];

/// Whether a word has an adjective's ending ("embolic", "incarcerated", "bilateral").
fn looks_adjectival(word: &str) -> bool {
    ["al", "ic", "ed", "ous", "ar", "ary", "ive", "ile"]
        .iter()
        .any(|end| word.ends_with(end))
        && !is_disease_word(word)
}

/// Whether a concept word is a type mark ("typea", "type2").
fn is_type_word(word: &str) -> bool {
    word.starts_with("type") && word.len() > 4
}

/// Whether a word after "type" marks the type itself ("A", "1", "II").
/// Whether a word is a stage, grade or class mark: a letter, a number with an optional letter
/// ("3b"), or a Roman numeral up to X with an optional letter ("IIIa").
fn is_stage_mark(word: &str) -> bool {
    let word = word.to_lowercase();
    let body = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let numeral = word.trim_end_matches(['a', 'b', 'c']);
    word.chars().count() == 1
        || (!body.is_empty() && body.chars().all(|c| c.is_ascii_digit()))
        || ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"].contains(&numeral)
}

fn is_type_mark(word: &str) -> bool {
    word.len() == 1
        || word.chars().all(|c| c.is_ascii_digit())
        || ["ii", "iii", "iv"].contains(&word)
}

/// Whether an ICD-10-CM description adds nothing to its holder's but "unspecified", "NOS" or a
/// "without …" clause ("Crohn's disease of small intestine without complications" under "Crohn's
/// disease of small intestine").
fn adds_nothing_to(description: &str, holder: &str) -> bool {
    let (description, holder) = (description.to_lowercase(), holder.to_lowercase());
    let Some(rest) = description.strip_prefix(holder.as_str()) else {
        return false;
    };
    let rest = rest.trim_start_matches([',', ' ']).trim();
    rest.is_empty()
        || rest.starts_with("without ")
        || ["unspecified", "nos", "not otherwise specified"].contains(&rest)
}

/// `text` up to an "and" or a second link after its first link: "TCA overdose complicated by
/// seizures and QRS widening" → "TCA overdose complicated by seizures"; "hyponatraemia secondary to
/// SIADH from small cell lung cancer" → "hyponatraemia secondary to SIADH".
fn first_link_only(text: &str) -> String {
    let linked_at = answer::LINKS
        .iter()
        .filter_map(|link| text.find(link).map(|at| at + link.len()))
        .min();
    let Some(at) = linked_at else {
        return text.to_string();
    };
    let end = answer::LINKS
        .iter()
        .chain(&[" and "])
        .filter_map(|stop| text[at..].find(stop).map(|found| at + found))
        .min();
    match end {
        Some(end) => text[..end].to_string(),
        None => text.to_string(),
    }
}

/// The value cached under `key`, or `build`'s, remembered; the cache starts again when it holds
/// [`VERDICT_CACHE_LIMIT`] values. The lock is not held while building.
fn bounded_cache<V: Clone>(
    cache: &std::sync::Mutex<HashMap<String, V>>,
    key: String,
    build: impl FnOnce() -> V,
) -> V {
    let lock = || {
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(value) = lock().get(&key).cloned() {
        return value;
    }
    let value = build();
    let mut values = lock();
    if values.len() >= VERDICT_CACHE_LIMIT {
        values.clear();
    }
    values.insert(key, value.clone());
    value
}

/// The pieces of one answer split at its links ("septic shock | e. coli pyelonephritis").
fn linked_parts(text: &str) -> Vec<&str> {
    let mut parts = vec![text];
    for link in answer::LINKS {
        parts = parts
            .into_iter()
            .flat_map(|part| part.split(link))
            .collect();
    }
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

/// The core words of a concept, sorted: the key of [`Terminology::core_index`].
/// The most words an ICD-10-CM description may add to a diagnosis name and still give it its code
/// ([`RuleJudge::code_for`]): enough for "of B-cell type", too few for a different disease.
const MAX_EXTRA_CODE_WORDS: usize = 3;

fn core_key(concept: &Concept) -> String {
    concept
        .core
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn concept_key(concept: &Concept) -> String {
    let words: BTreeSet<&str> = concept.words.iter().map(String::as_str).collect();
    words.into_iter().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(reference: &str, icd10: &str, synonyms: &[&str], candidate: &str) -> Verdict {
        let synonyms: Vec<String> = synonyms.iter().map(|s| s.to_string()).collect();
        RuleJudge::new().judge(
            Reference {
                name: reference,
                icd10,
                synonyms: &synonyms,
            },
            candidate,
            None,
        )
    }

    #[test]
    fn abbreviation_matches_its_expansion() {
        let verdict = judge("Diabetic ketoacidosis", "E10.10", &[], "DKA");
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }

    #[test]
    fn lead_in_and_british_spelling_are_ignored() {
        let verdict = judge(
            "Subarachnoid hemorrhage",
            "I60.9",
            &[],
            "Most likely diagnosis: subarachnoid haemorrhage",
        );
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }

    #[test]
    fn missing_qualifier_scores_four() {
        let verdict = judge("Acute appendicitis", "K35.80", &[], "appendicitis");
        assert_eq!(verdict.score, 4, "{verdict:?}");
        assert!(verdict.correct);
    }

    #[test]
    fn different_disease_of_the_same_organ_is_not_correct() {
        let verdict = judge("Acute pancreatitis", "K85.90", &[], "pancreatic cancer");
        assert!(!verdict.correct, "{verdict:?}");
    }

    #[test]
    fn unrelated_diagnosis_scores_one() {
        let verdict = judge("Testicular torsion", "N44.00", &[], "migraine");
        assert_eq!(verdict.score, 1, "{verdict:?}");
    }

    #[test]
    fn a_list_a_negation_and_a_hedge_score_one() {
        for answer in [
            "pneumonia, pulmonary embolism, pneumothorax, MI, pericarditis, dissection",
            "Pulmonary embolism ruled out",
            "possible PE",
        ] {
            let verdict = judge("Pulmonary embolism", "I26.99", &[], answer);
            assert_eq!(verdict.score, 1, "{answer}: {verdict:?}");
        }
    }

    #[test]
    fn a_bracketed_synonym_in_an_inclusion_term_is_read() {
        // K50.0 lists "Crohn's disease [regional enteritis] of ileum".
        let verdict = judge(
            "Crohn's disease of the terminal ileum",
            "K50.00",
            &[],
            "Regional enteritis of ileum",
        );
        assert!(verdict.score >= 4, "{verdict:?}");
    }

    #[test]
    fn the_reference_named_in_its_parts_is_one_diagnosis_but_a_guess_beside_it_is_not() {
        // "T1DM" expands to "type 1 …", read as the same type word as the reference's.
        for answer in ["DKA, T1DM", "DKA and type 1 diabetes"] {
            let verdict = judge(
                "Diabetic ketoacidosis in type 1 diabetes",
                "E10.10",
                &[],
                answer,
            );
            assert_eq!(verdict.score, 5, "{answer}: {verdict:?}");
        }
        for answer in [
            "DKA, acute pancreatitis",
            "DKA or T1DM",
            "DKA / pancreatitis",
        ] {
            let verdict = judge(
                "Diabetic ketoacidosis in type 1 diabetes",
                "E10.10",
                &[],
                answer,
            );
            assert_eq!(verdict.score, 1, "{answer}: {verdict:?}");
        }
    }

    #[test]
    fn a_query_mark_before_a_word_holds_it_open() {
        let verdict = judge(
            "Testicular torsion",
            "N44.00",
            &[],
            "Acute scrotum ?torsion",
        );
        assert_eq!(verdict.score, 1, "{verdict:?}");
    }

    #[test]
    fn shorthand_and_lay_inflammation_are_read() {
        for (reference, code, answer) in [
            (
                "Fracture of the neck of the right femur",
                "S72.001A",
                "#NOF R",
            ),
            ("Heroin overdose", "T40.1X1A", "Heroin OD"),
            (
                "Acute cholecystitis",
                "K81.0",
                "Acutely inflamed gallbladder",
            ),
            (
                "Acute pancreatitis",
                "K85.90",
                "inflammation of the pancreas",
            ),
            ("Perforated duodenal ulcer", "K26.5", "Burst duodenal ulcer"),
        ] {
            let verdict = judge(reference, code, &[], answer);
            assert!(verdict.correct, "{reference} / {answer}: {verdict:?}");
        }
    }

    #[test]
    fn a_negated_alternative_leaves_the_diagnosis_it_affirms() {
        let verdict = judge(
            "Community-acquired pneumonia",
            "J18.9",
            &[],
            "No pulmonary embolism; community-acquired pneumonia",
        );
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }

    #[test]
    fn a_synonym_from_the_classification_scores_five() {
        // ICD-10-CM B27 includes "glandular fever"; the case lists no synonym.
        let verdict = judge("Infectious mononucleosis", "B27.90", &[], "glandular fever");
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }

    #[test]
    fn siblings_and_missing_defining_qualifiers_are_not_correct() {
        for (reference, code, answer) in [
            (
                "Acute lymphoblastic leukaemia",
                "C91.00",
                "acute myeloid leukaemia",
            ),
            ("Acute lymphoblastic leukaemia", "C91.00", "leukaemia"),
            (
                "Stanford type A aortic dissection",
                "I71.010",
                "type B aortic dissection",
            ),
            (
                "Ruptured abdominal aortic aneurysm",
                "I71.3",
                "abdominal aortic aneurysm",
            ),
            ("Hypercalcaemia of malignancy", "E83.52", "hypercalcaemia"),
            ("Pulmonary embolism", "I26.99", "embolism"),
        ] {
            let verdict = judge(reference, code, &[], answer);
            assert!(!verdict.correct, "{answer} for {reference}: {verdict:?}");
        }
    }

    #[test]
    fn a_typo_is_forgiven() {
        let verdict = judge(
            "Carbon monoxide poisoning",
            "T58.91XA",
            &[],
            "carbon monoxide posioning",
        );
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }

    #[test]
    fn a_code_under_the_reference_scores_five() {
        let verdict = RuleJudge::new().judge(
            Reference {
                name: "Acute myocardial infarction",
                icd10: "I21",
                synonyms: &[],
            },
            "something vague",
            Some("I21.4"),
        );
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }
}

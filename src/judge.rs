//! The judge (DESIGN.md §3.7): scores a final diagnosis against the case's reference, 1–5.
//!
//! The rubric, after SDBench: **5** the same diagnosis or a more specific one consistent with it; **4** the
//! core disease right with a minor qualifier off or missing; **3** the right category with a major error;
//! **2** superficial overlap; **1** unrelated. A diagnosis is *correct* when it scores 4 or more.
//!
//! [`RuleJudge`] reaches a score without a model: it turns both texts into *concept forms* (lower case,
//! British and American spellings folded, abbreviations expanded, lead-ins such as "most likely
//! diagnosis:" dropped, plurals stemmed), splits their words into *core* words and minor *qualifiers*
//! (acute, left, severe…), and compares them against the reference name, each accepted synonym and the
//! ICD-10-CM descriptions of the reference code and its category. A code the candidate gives, or one
//! its text names exactly, is compared through the ICD-10-CM hierarchy. The calibration set in
//! `judge/calibration.csv` measures how often the judge agrees with clinicians ([`calibration`]).

pub mod calibration;
pub mod llm;

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use dxsim_gatekeeper::case::Diagnosis;
use dxsim_gatekeeper::icd10::{Icd10, IcdKind};
use dxsim_gatekeeper::text::normalize;
use serde::Serialize;

const ABBREVIATIONS_CSV: &str = include_str!("judge/abbreviations.csv");
const RELATED_CSV: &str = include_str!("judge/related.csv");

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
    "massive",
    "submassive",
    "focal",
    "upper",
    "lower",
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
    "traumatic",
    "drug",
    "secondary",
    "primary",
    "congenital",
    "gestational",
    "neonatal",
    "vulgaris",
    "discoid",
    "sclerosing",
    "appendix",
    "benign",
    "metastatic",
    "insipidus",
    "hereditary",
    "transfusional",
    "iatrogenic",
    "factitious",
    "reactive",
    "pseudo",
    "neonatorum",
    "juvenile",
    "artery",
    "vein",
    "viral",
    "bacterial",
    "fungal",
    "autoimmune",
    "atypical",
    "obstructive",
    "restrictive",
];

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
const CONFLICTING: &[(&str, &str)] = &[("acute", "chronic")];

/// Words that carry no meaning for matching.
const STOPWORDS: &[&str] = &[
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

/// Phrases replaced as a whole before words are split: lay terms, organism and drug names.
const PHRASES: &[(&str, &str)] = &[
    ("heart attack", "myocardial infarction"),
    ("mini stroke", "transient ischemic attack"),
    ("blood clot in the lung", "pulmonary embolism"),
    ("clot in the lung", "pulmonary embolism"),
    ("water on the brain", "hydrocephalus"),
    ("heart failure", "cardiac failure"),
    ("kidney stone", "renal urolithiasis"),
    ("renal stone", "renal urolithiasis"),
    ("renal calculus", "renal urolithiasis"),
    ("ureteric stone", "ureteral urolithiasis"),
    ("ureteral stone", "ureteral urolithiasis"),
    ("ureteric calculus", "ureteral urolithiasis"),
    ("ureteral calculus", "ureteral urolithiasis"),
    ("renal colic", "urolithiasis"),
    ("secondary to", "due to"),
    (
        "churg strauss",
        "eosinophilic granulomatosis with polyangiitis",
    ),
    ("gallstones", "cholelithiasis"),
    ("gallstone", "cholelithiasis"),
    ("st segment elevation", "st elevation"),
    ("temporal arteritis", "giant cell arteritis"),
    ("cerebrovascular accident", "cerebral infarction"),
    ("ischemic stroke", "cerebral infarction"),
    ("cerebral infarction ischemic", "cerebral infarction"),
    ("streptococcus pneumoniae", "pneumococcal"),
    ("strep pneumoniae", "pneumococcal"),
    ("s pneumoniae", "pneumococcal"),
    ("neisseria meningitidis", "meningococcal"),
    ("staphylococcus aureus", "staphylococcal"),
    ("staph aureus", "staphylococcal"),
    ("escherichia coli", "e coli"),
    ("clostridium difficile", "clostridioides difficile"),
    ("c difficile", "clostridioides difficile"),
    ("c diff", "clostridioides difficile"),
    ("post strep", "post streptococcal"),
    ("paracetamol", "acetaminophen"),
    ("tylenol", "acetaminophen"),
    ("panadol", "acetaminophen"),
    ("aspirin", "salicylate"),
    ("amitriptyline", "tricyclic antidepressant"),
    ("nortriptyline", "tricyclic antidepressant"),
    ("imipramine", "tricyclic antidepressant"),
    ("clomipramine", "tricyclic antidepressant"),
    ("doxepin", "tricyclic antidepressant"),
    ("whipples", "whipple"),
    ("angle closure crisis", "angle closure glaucoma"),
    ("sugar", "glucose"),
];

/// Whole answers that stand for a longer name.
const WHOLE_ANSWERS: &[(&str, &str)] = &[
    ("lupus", "systemic lupus erythematosus"),
    ("stroke", "stroke"),
];

/// Words after which a diagnosis phrase qualifies its head ("ulcer *of* the duodenum", "ketoacidosis *in*
/// type 1 diabetes"); a comma counts as one.
const HEAD_BOUNDARIES: &[&str] = &[
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

/// Phrases after which the candidate's text says no more about the diagnosis itself.
const CUT_AFTER: &[&str] = &[
    " recommend ",
    " suggest ",
    " plan ",
    " next step ",
    " rule out ",
    " r/o ",
    " start ",
    " needs ",
    " need ",
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
    relations: Vec<Relation>,
    /// Verdicts already given: judging is a pure function of the reference and the candidate, and
    /// agents name the same diagnoses again and again. Bounded by [`VERDICT_CACHE_LIMIT`].
    verdicts: std::sync::Mutex<HashMap<String, Verdict>>,
}

impl Default for RuleJudge {
    fn default() -> Self {
        Self::new()
    }
}

fn stem(word: &str) -> String {
    let keep = ["ss", "is", "us", "os", "as", "ys"];
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
        || (short.len() >= 7
            && long.ends_with(short)
            && !NEGATING_PREFIXES.contains(&&long[..long.len() - short.len()]))
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

fn conflicting(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    CONFLICTING.iter().any(|(x, y)| {
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

/// Compares a candidate with one reference form on the rubric; `None` when they share nothing.
fn compare(candidate: &Concept, form: &Concept, label: &str) -> Option<Verdict> {
    if form.core.is_empty() {
        return None;
    }
    let candidate = candidate.merged_against(form);
    let form = form.merged_against(&candidate);
    let (cc, fc) = (&candidate.core, &form.core);
    let conflict = conflicting(&candidate.qualifiers, &form.qualifiers);
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
        if changes_entity(missing(fc, cc)) || conflict {
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
        if missing(cc, fc).any(|word| word == "non" || word == "not") {
            Verdict::new(3, format!("drops a negation that defines {label}"))
        } else if keeps_head {
            Verdict::new(4, format!("right disease, less specific than {label}"))
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
        let differing = missing(fc, cc).chain(missing(cc, fc));
        if head_shared && !changes_entity(differing) && !conflict {
            Verdict::new(
                4,
                format!("same disease as {label}; organism, cause, site or subtype differs"),
            )
        } else if head_shared {
            Verdict::new(
                3,
                format!("same disease family as {label} but a different entity"),
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
        let mut judge = RuleJudge {
            icd: Icd10::builtin(),
            abbreviations,
            relations: Vec::new(),
            verdicts: std::sync::Mutex::default(),
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
        judge
    }

    /// Turns free text into a normalised phrase: lead-ins dropped, abbreviations and lay terms expanded.
    fn phrase(&self, text: &str) -> String {
        let mut text = text.replace("'s", "").replace("’s", "").to_lowercase();
        if let Some((before, after)) = text.split_once(':') {
            let before = before.trim();
            if before.contains("diagnos")
                || before.contains("impression")
                || before.contains("answer")
                || before == "dx"
                || before == "ddx"
            {
                text = after.to_string();
            }
        }
        // The first sentence only; a full stop after a one- or two-letter word ("E. coli") is not an end.
        let mut end = text.len();
        for (at, _) in text.match_indices(['.', ';', '\n', '(']) {
            let before = text[..at]
                .rsplit(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("");
            if text[at..].starts_with('.') && before.len() <= 2 {
                continue;
            }
            if text[..at].trim().is_empty() {
                continue;
            }
            end = at;
            break;
        }
        text.truncate(end);
        let padded = format!(" {text} ");
        if let Some(at) = CUT_AFTER
            .iter()
            .filter_map(|marker| padded.find(marker))
            .filter(|&at| at > 1)
            .min()
        {
            text = padded[..at].to_string();
        }
        let normalized = normalize(&text.replace(',', " comma "));
        let mut words: Vec<String> = Vec::new();
        for word in normalized.split(' ').filter(|word| !word.is_empty()) {
            match self.abbreviations.get(word) {
                Some(expansion) => words.extend(expansion.split(' ').map(str::to_string)),
                None => words.push(word.to_string()),
            }
        }
        let joined = words.join(" ");
        if let Some((_, whole)) = WHOLE_ANSWERS.iter().find(|(answer, _)| *answer == joined) {
            return (*whole).to_string();
        }
        let mut phrase = format!(" {joined} ");
        for (lay, clinical) in PHRASES {
            phrase = phrase.replace(&format!(" {lay} "), &format!(" {clinical} "));
        }
        phrase.trim().to_string()
    }

    fn concept(&self, text: &str) -> Concept {
        let phrase = self.phrase(text);
        let mut concept = Concept::default();
        let mut head_before_of: Option<String> = None;
        for word in phrase.split(' ').filter(|word| !word.is_empty()) {
            if HEAD_BOUNDARIES.contains(&word) && head_before_of.is_none() {
                head_before_of = head_of(&concept.words, &concept.core);
            }
            if STOPWORDS.contains(&word) {
                continue;
            }
            let mapped = WORD_FORMS
                .iter()
                .find(|(form, _)| *form == word)
                .map_or(word, |(_, to)| to);
            for word in mapped.split(' ').filter(|word| !word.is_empty()) {
                let word = stem(word);
                if QUALIFIERS.contains(&word.as_str()) {
                    concept.qualifiers.insert(word.clone());
                } else {
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

    /// Concept text of every ICD-10-CM description → code, for codes a candidate's text names exactly.
    /// Built once per process: it depends only on embedded data, which every judge shares.
    fn description_index(&self) -> &'static HashMap<String, String> {
        static DESCRIPTIONS: OnceLock<HashMap<String, String>> = OnceLock::new();
        DESCRIPTIONS.get_or_init(|| {
            let mut index = HashMap::new();
            for entry in self.icd.entries() {
                if matches!(entry.kind, IcdKind::Chapter | IcdKind::Block) {
                    continue;
                }
                let concept = self.concept(&Self::description_text(&entry.description));
                index
                    .entry(concept_key(&concept))
                    .or_insert_with(|| entry.code.clone());
            }
            index
        })
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
            RuleJudge::new().judge_uncached(reference, "pneumonia", None)
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
        let cached = self
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(verdict) = cached {
            return verdict;
        }
        let verdict = self.judge_uncached(reference, candidate, candidate_icd10);
        let mut verdicts = self
            .verdicts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verdicts.len() >= VERDICT_CACHE_LIMIT {
            verdicts.clear();
        }
        verdicts.insert(key, verdict.clone());
        verdict
    }

    fn judge_uncached(
        &self,
        reference: Reference<'_>,
        candidate: &str,
        candidate_icd10: Option<&str>,
    ) -> Verdict {
        let concept = self.concept(candidate);
        if concept.core.is_empty() && candidate_icd10.is_none() {
            return Verdict::new(1, "no diagnosis given");
        }
        let text = self.score_text(reference, &concept);
        let inferred = self
            .description_index()
            .get(&concept_key(&concept))
            .cloned();
        let code = candidate_icd10
            .map(|code| code.trim().to_uppercase())
            .filter(|code| self.icd.get(code).is_some())
            .or(inferred);
        let by_code = code
            .as_deref()
            .map(|code| self.score_code(reference.icd10, code));
        match by_code {
            Some(coded) if coded.score > text.score => coded,
            _ => text,
        }
    }

    fn reference_forms(&self, reference: Reference<'_>) -> Vec<(Concept, &'static str)> {
        let mut forms: Vec<(Concept, &'static str)> = std::iter::once(reference.name)
            .chain(reference.synonyms.iter().map(String::as_str))
            .map(|name| (self.concept(name), "the reference"))
            .collect();
        if let Some(entry) = self.icd.get(reference.icd10) {
            forms.push((
                self.concept(&Self::description_text(&entry.description)),
                "the reference code's description",
            ));
        }
        forms
    }

    fn score_text(&self, reference: Reference<'_>, candidate: &Concept) -> Verdict {
        let forms = self.reference_forms(reference);
        let named = forms.len() - usize::from(self.icd.get(reference.icd10).is_some());
        let mut best = Verdict::new(1, "no overlap with the reference diagnosis");
        for (form, label) in &forms {
            if let Some(verdict) = compare(candidate, form, label) {
                if verdict.score > best.score {
                    best = verdict;
                }
            }
        }
        if best.score < 5 {
            if let Some(related) = self.score_related(&forms[..named], candidate) {
                if related.score > best.score {
                    best = related;
                }
            }
        }
        if best.score < 4 {
            if let Some(category) = self.category_description(reference.icd10) {
                if self.concept(&category).equivalent(candidate) {
                    return Verdict::new(
                        4,
                        "names the reference's ICD-10-CM category, less specific",
                    );
                }
            }
        }
        best
    }

    /// Scores through the broader–narrower table: a narrower term of the reference is more specific (5),
    /// a broader one less specific (4), a sibling a different disease of the family (3).
    fn score_related(&self, forms: &[(Concept, &str)], candidate: &Concept) -> Option<Verdict> {
        let is_reference =
            |concept: &Concept| forms.iter().any(|(form, _)| form.equivalent(concept));
        let mut best: Option<Verdict> = None;
        for relation in &self.relations {
            let verdict = if relation.narrower.equivalent(candidate)
                && is_reference(&relation.broader)
            {
                Verdict::new(5, "a recognised, more specific form of the reference")
            } else if relation.broader.equivalent(candidate) && is_reference(&relation.narrower) {
                Verdict::new(4, "a recognised broader term for the reference")
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

    fn category_description(&self, code: &str) -> Option<String> {
        self.icd
            .lineage(code)
            .into_iter()
            .find(|entry| entry.kind == IcdKind::Category)
            .filter(|entry| entry.code != code)
            .map(|entry| Self::description_text(&entry.description))
    }

    fn score_code(&self, reference: &str, candidate: &str) -> Verdict {
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
                4,
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
        let verdict = judge("Acute pancreatitis", "K85.90", &[], "pancreatitis");
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

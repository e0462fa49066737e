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

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use dxsim_gatekeeper::case::Diagnosis;
use dxsim_gatekeeper::icd10::{Icd10, IcdKind};
use dxsim_gatekeeper::text::normalize;
use serde::Serialize;

const ABBREVIATIONS_CSV: &str = include_str!("judge/abbreviations.csv");

/// The lowest score that counts as correct.
pub const CORRECT_AT: u8 = 4;

/// What the judge concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    "acute", "chronic", "subacute", "hyperacute", "left", "right", "bilateral", "unilateral", "severe", "mild",
    "moderate", "inferior", "anterior", "posterior", "lateral", "septal", "wall", "primary", "recurrent",
    "early", "late", "uncomplicated", "complicated", "community", "acquired", "typical", "simple", "partial",
    "complete", "massive", "submassive", "focal", "diffuse", "upper", "lower", "proximal", "distal", "episode",
    "exacerbation", "flare", "onset", "new", "unspecified", "disease", "syndrome", "disorder", "condition",
    "stage", "grade", "phase", "form", "idiopathic", "spontaneous", "sided", "side", "lobe", "segment",
    "segmental", "lobar", "saddle", "small", "large", "major", "minor", "suspected", "probable", "possible",
    "presumed", "likely", "native", "valve", "state", "crisis", "induced", "related", "associated", "due",
    "secondary", "type", "unstable", "stable", "first", "acquired", "status", "attack", "episode",
];

/// Words that carry no meaning for matching.
const STOPWORDS: &[&str] = &[
    "of", "the", "a", "an", "with", "and", "in", "on", "to", "from", "by", "at", "or", "for", "as", "is", "its",
    "his", "her", "this", "that", "which", "patient", "has", "have", "having", "most", "diagnosis", "final",
    "working", "impression", "consistent", "i", "think", "believe", "it", "be", "would", "probably", "mellitus",
];

/// Lay words and their clinical equivalents, applied word by word.
const LAY_TERMS: &[(&str, &str)] = &[
    ("kidney", "renal"),
    ("kidneys", "renal"),
    ("heart", "cardiac"),
    ("lung", "pulmonary"),
    ("lungs", "pulmonary"),
    ("liver", "hepatic"),
    ("brain", "cerebral"),
    ("cancer", "carcinoma"),
    ("bleed", "hemorrhage"),
    ("bleeding", "hemorrhage"),
    ("haemorrhage", "hemorrhage"),
    ("clot", "thrombosis"),
    ("stones", "stone"),
    ("calculus", "stone"),
    ("calculi", "stone"),
    ("lithiasis", "stone"),
    ("infarct", "infarction"),
    ("tumor", "neoplasm"),
    ("growth", "neoplasm"),
    ("blood", "hematologic"),
    ("poisoning", "toxicity"),
    ("overdose", "toxicity"),
    ("intoxication", "toxicity"),
];

/// Lay phrases replaced as a whole before words are split.
const LAY_PHRASES: &[(&str, &str)] = &[
    ("heart attack", "myocardial infarction"),
    ("stroke", "cerebral infarction"),
    ("mini stroke", "transient ischemic attack"),
    ("blood clot in the lung", "pulmonary embolism"),
    ("clot in the lung", "pulmonary embolism"),
    ("water on the brain", "hydrocephalus"),
    ("heart failure", "cardiac failure"),
    ("kidney stone", "nephrolithiasis"),
    ("renal stone", "nephrolithiasis"),
    ("renal calculus", "nephrolithiasis"),
    ("ureteric stone", "ureterolithiasis"),
    ("ureteral stone", "ureterolithiasis"),
    ("gallstones", "cholelithiasis"),
    ("gallstone", "cholelithiasis"),
    ("st segment elevation", "st elevation"),
    ("st elevation mi", "st elevation myocardial infarction"),
    ("non st elevation", "non st elevation"),
    ("lupus", "systemic lupus erythematosus"),
    ("systemic systemic lupus erythematosus", "systemic lupus erythematosus"),
    ("systemic lupus erythematosus erythematosus", "systemic lupus erythematosus"),
    ("temporal arteritis", "giant cell arteritis"),
    ("cerebrovascular accident", "cerebral infarction"),
    ("ischemic stroke", "cerebral infarction"),
    ("cerebral infarction ischemic", "cerebral infarction"),
    ("whipples", "whipple"),
];

/// Phrases after which the candidate's text says no more about the diagnosis itself.
const CUT_AFTER: &[&str] = &[" recommend ", " suggest ", " plan ", " next step ", " rule out ", " r/o "];

/// A concept form: core words and qualifier words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Concept {
    core: BTreeSet<String>,
    qualifiers: BTreeSet<String>,
}

impl Concept {
    fn all(&self) -> BTreeSet<&str> {
        self.core.iter().chain(&self.qualifiers).map(String::as_str).collect()
    }
}

/// The rule-based judge. Cheap to share; build once.
#[derive(Debug)]
pub struct RuleJudge {
    icd: &'static Icd10,
    abbreviations: HashMap<String, String>,
    /// Concept text (core and qualifiers joined) of every ICD-10-CM description → code, for codes named
    /// exactly by a candidate's text.
    descriptions: OnceLock<HashMap<String, String>>,
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

fn close_words(a: &str, b: &str) -> bool {
    a == b || (a.len() >= 7 && b.len() >= 7 && strsim::damerau_levenshtein(a, b) == 1)
}

fn covers(have: &BTreeSet<String>, want: &BTreeSet<String>) -> bool {
    want.iter().all(|word| have.iter().any(|other| close_words(word, other)))
}

fn shared(a: &BTreeSet<String>, b: &BTreeSet<String>) -> usize {
    a.iter().filter(|word| b.iter().any(|other| close_words(word, other))).count()
}

impl RuleJudge {
    /// A judge using the built-in ICD-10-CM table and abbreviation list.
    ///
    /// # Panics
    /// Never in a released build: the embedded abbreviation list is checked by the test suite.
    pub fn new() -> RuleJudge {
        let mut reader = csv::Reader::from_reader(ABBREVIATIONS_CSV.as_bytes());
        let abbreviations = reader
            .records()
            .map(|record| {
                let record = record.unwrap_or_else(|error| panic!("judge/abbreviations.csv: {error}"));
                (record[0].to_string(), normalize(&record[1]))
            })
            .collect();
        RuleJudge {
            icd: Icd10::builtin(),
            abbreviations,
            descriptions: OnceLock::new(),
        }
    }

    /// Turns free text into a normalised phrase: lead-ins dropped, abbreviations and lay terms expanded.
    fn phrase(&self, text: &str) -> String {
        let mut text = text.replace("'s", "").replace("’s", "").to_lowercase();
        if let Some((before, after)) = text.split_once(':') {
            if before.contains("diagnos") || before.contains("impression") || before.contains("answer") {
                text = after.to_string();
            }
        }
        if let Some(first) = text.split(['.', ';', '\n']).find(|part| !part.trim().is_empty()) {
            text = first.to_string();
        }
        let padded = format!(" {text} ");
        let cut = CUT_AFTER.iter().filter_map(|marker| padded.find(marker)).min();
        if let Some(at) = cut {
            text = padded[..at].to_string();
        }
        let normalized = normalize(&text);
        let mut words: Vec<String> = Vec::new();
        for word in normalized.split(' ').filter(|word| !word.is_empty()) {
            match self.abbreviations.get(word) {
                Some(expansion) => words.extend(expansion.split(' ').map(str::to_string)),
                None => words.push(word.to_string()),
            }
        }
        let mut phrase = format!(" {} ", words.join(" "));
        for (lay, clinical) in LAY_PHRASES {
            phrase = phrase.replace(&format!(" {lay} "), &format!(" {clinical} "));
        }
        phrase.trim().to_string()
    }

    fn concept(&self, text: &str) -> Concept {
        let phrase = self.phrase(text);
        let mut concept = Concept::default();
        for word in phrase.split(' ').filter(|word| !word.is_empty()) {
            if STOPWORDS.contains(&word) {
                continue;
            }
            let word = LAY_TERMS
                .iter()
                .find(|(lay, _)| *lay == word)
                .map_or(word, |(_, clinical)| clinical);
            let word = stem(word);
            if QUALIFIERS.contains(&word.as_str()) {
                concept.qualifiers.insert(word);
            } else {
                concept.core.insert(word);
            }
        }
        concept
    }

    /// An ICD description as reference text: "unspecified", "other" and "without …" clauses removed.
    fn description_text(description: &str) -> String {
        let lower = description.to_lowercase();
        let lower = lower.split(" without ").next().unwrap_or(&lower).to_string();
        lower
            .replace(", unspecified", "")
            .replace("unspecified ", "")
            .replace("other ", "")
            .replace(", not elsewhere classified", "")
    }

    fn description_index(&self) -> &HashMap<String, String> {
        self.descriptions.get_or_init(|| {
            let mut index = HashMap::new();
            for entry in self.icd.entries() {
                if matches!(entry.kind, IcdKind::Chapter | IcdKind::Block) {
                    continue;
                }
                let concept = self.concept(&Self::description_text(&entry.description));
                let key = concept_key(&concept);
                index.entry(key).or_insert_with(|| entry.code.clone());
            }
            index
        })
    }

    /// Scores `candidate` (free text, with an optional ICD-10-CM code) against `reference`.
    pub fn judge(&self, reference: Reference<'_>, candidate: &str, candidate_icd10: Option<&str>) -> Verdict {
        let concept = self.concept(candidate);
        if concept.core.is_empty() && candidate_icd10.is_none() {
            return Verdict::new(1, "no diagnosis given");
        }
        let text = self.score_text(reference, &concept);
        let inferred = self.description_index().get(&concept_key(&concept)).cloned();
        let code = candidate_icd10
            .map(|code| code.trim().to_uppercase())
            .filter(|code| self.icd.get(code).is_some())
            .or(inferred);
        let by_code = code.as_deref().map(|code| self.score_code(reference.icd10, code));
        match by_code {
            Some(coded) if coded.score > text.score => coded,
            _ => text,
        }
    }

    fn score_text(&self, reference: Reference<'_>, candidate: &Concept) -> Verdict {
        let mut forms: Vec<(Concept, &str)> = std::iter::once(reference.name)
            .chain(reference.synonyms.iter().map(String::as_str))
            .map(|name| (self.concept(name), "the reference"))
            .collect();
        if let Some(entry) = self.icd.get(reference.icd10) {
            forms.push((self.concept(&Self::description_text(&entry.description)), "the reference code's description"));
        }
        let mut best = Verdict::new(1, "no overlap with the reference diagnosis");
        for (form, label) in &forms {
            if form.core.is_empty() {
                continue;
            }
            let verdict = if covers(&candidate.core, &form.core) && covers(&form.core, &candidate.core) {
                if candidate.qualifiers == form.qualifiers || form.qualifiers.iter().all(|q| candidate.qualifiers.contains(q)) {
                    Verdict::new(5, format!("same diagnosis as {label}"))
                } else {
                    Verdict::new(4, format!("core disease matches {label}; a qualifier differs"))
                }
            } else if covers(&candidate.core, &form.core) {
                if form.qualifiers.iter().all(|q| candidate.qualifiers.contains(q)) {
                    Verdict::new(5, format!("consistent with {label} and more specific"))
                } else {
                    Verdict::new(4, format!("consistent with {label}, more specific, a qualifier differs"))
                }
            } else if covers(&form.core, &candidate.core) {
                let coverage = candidate.core.len() as f64 / form.core.len() as f64;
                if coverage >= 0.5 {
                    Verdict::new(4, format!("right disease, less specific than {label}"))
                } else {
                    Verdict::new(3, format!("right category but much less specific than {label}"))
                }
            } else {
                let overlap = shared(&candidate.core, &form.core);
                let head_shared = form
                    .core
                    .iter()
                    .max_by_key(|word| word.len())
                    .is_some_and(|head| candidate.core.iter().any(|word| close_words(word, head)));
                if overlap > 0 && head_shared {
                    Verdict::new(3, format!("shares the disease term of {label} but differs in substance"))
                } else if overlap > 0 {
                    Verdict::new(2, format!("superficial overlap with {label}"))
                } else {
                    continue;
                }
            };
            if verdict.score > best.score {
                best = verdict;
            }
        }
        if best.score < 4 {
            if let Some(category) = self.category_description(reference.icd10) {
                let form = self.concept(&category);
                if !form.core.is_empty() && covers(&form.core, &candidate.core) && covers(&candidate.core, &form.core) {
                    return Verdict::new(4, "names the reference's ICD-10-CM category, less specific");
                }
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
            return Verdict::new(5, format!("ICD-10-CM {candidate} lies under the reference code {reference}"));
        }
        let Some(shared) = self.icd.common_ancestor(reference, candidate) else {
            return Verdict::new(1, format!("ICD-10-CM {candidate} is unrelated to {reference}"));
        };
        if shared.code == candidate && shared.kind != IcdKind::Chapter && shared.kind != IcdKind::Block {
            return Verdict::new(4, format!("ICD-10-CM {candidate} is a less specific parent of {reference}"));
        }
        match shared.kind {
            IcdKind::Category | IcdKind::Subcategory | IcdKind::Code => {
                Verdict::new(3, format!("ICD-10-CM {candidate} shares category {} with {reference}", shared.code))
            }
            IcdKind::Block => Verdict::new(3, format!("ICD-10-CM {candidate} is in the same block ({})", shared.code)),
            IcdKind::Chapter => Verdict::new(2, format!("ICD-10-CM {candidate} is only in the same chapter")),
        }
    }
}

fn concept_key(concept: &Concept) -> String {
    concept.all().into_iter().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(reference: &str, icd10: &str, synonyms: &[&str], candidate: &str) -> Verdict {
        let synonyms: Vec<String> = synonyms.iter().map(|s| s.to_string()).collect();
        RuleJudge::new().judge(
            Reference { name: reference, icd10, synonyms: &synonyms },
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
        let verdict = judge("Subarachnoid hemorrhage", "I60.9", &[], "Most likely diagnosis: subarachnoid haemorrhage");
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
            Reference { name: "Acute myocardial infarction", icd10: "I21", synonyms: &[] },
            "something vague",
            Some("I21.4"),
        );
        assert_eq!(verdict.score, 5, "{verdict:?}");
    }
}

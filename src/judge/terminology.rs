//! The judge's terminology, read from ICD-10-CM once per process (DESIGN.md §3.7): every description
//! and inclusion term indexed by its concept (so a candidate's text can be filed under a code), the
//! head nouns of disease descriptions (what names a condition), the sites and organisms that only
//! qualify one, and the vocabulary that misspellings are corrected against. Built on every core at the
//! first verdict; `RuleJudge::warm_up_in_background` builds it early.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use dxsim_gatekeeper::icd10::{Icd10, IcdEntry, IcdKind};
use dxsim_gatekeeper::text::normalize;

use super::vocabulary::{is_disease_word, is_drug_word};
use super::{
    Concept, HEAD_BOUNDARIES, QUALIFIERS, QUALIFYING_ENDS, RuleJudge, STOPWORDS, WORD_FORMS,
    concept_key, core_key, is_type_word, stem, without_brackets,
};

/// What the judge reads from ICD-10-CM once per process.
#[derive(Debug)]
pub(super) struct Terminology {
    /// Concept key of every description and inclusion term → its code.
    pub(super) index: HashMap<String, String>,
    /// The same by core words alone (qualifiers such as acute or left ignored).
    pub(super) core_index: HashMap<String, String>,
    /// Head words of the descriptions of diseases, injuries and symptoms (chapters A–T, organisms
    /// aside).
    pub(super) heads: HashSet<String>,
    /// Sites (the words after the head of neoplasm and injury descriptions) and organisms (B95–B97):
    /// words that qualify a condition without being one.
    pub(super) modifiers: HashSet<String>,
}

/// The words the judge knows, for spelling correction.
#[derive(Debug)]
pub(super) struct Vocabulary {
    pub(super) words: HashSet<String>,
    /// The same words by first letter, sorted (so a tie is found the same way every run).
    pub(super) by_first_letter: HashMap<char, Vec<String>>,
}

/// Words that head ICD-10-CM descriptions without naming a condition.
const NOT_HEADS: &[&str] = &[
    "week",
    "day",
    "month",
    "year",
    "hour",
    "age",
    "level",
    "result",
    "finding",
    "test",
    "examination",
    "history",
    "status",
    "encounter",
    "procedure",
    "newborn",
    "infant",
    "child",
    "person",
    "patient",
    "use",
    "contact",
    "exposure",
    "complication",
];

/// Whether `code` classifies a disease, injury or symptom (A00–T88, infectious agents as causes aside),
/// rather than an external cause or a contact with services.
pub(super) fn is_condition_code(code: &str) -> bool {
    code.chars()
        .next()
        .is_some_and(|letter| ('A'..='T').contains(&letter))
        && !is_organism_code(code)
}

/// Whether `code` classifies by site (neoplasms C00–D49, injuries S00–T14), so its description's
/// words after the head are anatomy.
pub(super) fn is_site_code(code: &str) -> bool {
    matches!(code.chars().next(), Some('C' | 'S'))
        || (code.starts_with('D') && code.get(1..3).is_some_and(|n| n < "50"))
        || (code.starts_with('T') && code.get(1..3).is_some_and(|n| n < "15"))
}

/// Whether `code` classifies an infectious agent as the cause of a disease elsewhere (B95–B97): an
/// organism qualifies a condition, it is not one.
pub(super) fn is_organism_code(code: &str) -> bool {
    matches!(code.get(..3), Some("B95" | "B96" | "B97"))
}

impl RuleJudge {
    /// `word` as the terminology spells it: itself when the judge's vocabulary has it (or it is short),
    /// else the one vocabulary word of the same first letter within one edit (two for long words),
    /// when there is exactly one ("posioning" → "poisoning", "intusussception" → "intussusception").
    pub(super) fn spelled<'w>(&self, word: &'w str) -> std::borrow::Cow<'w, str> {
        use std::borrow::Cow;
        let vocabulary = self.vocabulary();
        let length = word.chars().count();
        if length < 6 || vocabulary.words.contains(word) || self.abbreviations.contains_key(word) {
            return Cow::Borrowed(word);
        }
        let Some(first) = word.chars().next() else {
            return Cow::Borrowed(word);
        };
        let allowed = if length >= 10 { 2 } else { 1 };
        let mut best: Option<(&str, usize)> = None;
        let mut tied = false;
        for known in vocabulary.by_first_letter.get(&first).into_iter().flatten() {
            if known.chars().count().abs_diff(length) > allowed {
                continue;
            }
            let distance = strsim::damerau_levenshtein(word, known);
            if distance > allowed {
                continue;
            }
            match best {
                Some((_, current)) if distance > current => {}
                Some((_, current)) if distance == current => tied = true,
                _ => {
                    best = Some((known, distance));
                    tied = false;
                }
            }
        }
        match best {
            Some((known, _)) if !tied => Cow::Owned(known.to_string()),
            _ => Cow::Borrowed(word),
        }
    }

    /// Every word the judge's terminology uses (ICD-10-CM descriptions and terms, the lay table, the
    /// abbreviations' expansions), for spelling correction. Built once per process.
    pub(super) fn vocabulary(&self) -> &'static Vocabulary {
        static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
        VOCABULARY.get_or_init(|| {
            let mut words: HashSet<String> = HashSet::new();
            let texts = self
                .icd
                .entries()
                .iter()
                .map(|entry| entry.description.as_str())
                .chain(Icd10::terms().iter().map(|term| term.term))
                .map(normalize)
                .chain(self.abbreviations.values().cloned())
                .chain(
                    self.lay_terms
                        .values()
                        .flatten()
                        .flat_map(|(term, means)| [term.join(" "), means.clone()]),
                )
                .chain(WORD_FORMS.iter().map(|(form, to)| format!("{form} {to}")));
            for text in texts {
                words.extend(
                    text.split(' ')
                        .filter(|word| word.len() >= 3)
                        .map(str::to_string),
                );
            }
            let mut by_first_letter: HashMap<char, Vec<String>> = HashMap::new();
            for word in &words {
                if let Some(first) = word.chars().next() {
                    by_first_letter.entry(first).or_default().push(word.clone());
                }
            }
            for list in by_first_letter.values_mut() {
                list.sort();
            }
            Vocabulary {
                words,
                by_first_letter,
            }
        })
    }

    /// The noun a description's phrase is about: its last word before "of", "with", "due to" or a
    /// comma ("malignant neoplasm of stomach" → "neoplasm"), unless that is a qualifier or a type mark.
    pub(super) fn noun_head(phrase: &str) -> Option<String> {
        let head_phrase = phrase
            .split(' ')
            .take_while(|word| !HEAD_BOUNDARIES.contains(word))
            .filter(|word| !STOPWORDS.contains(word))
            .last()?;
        let word = stem(head_phrase);
        let usable = word.len() >= 4
            && !QUALIFIERS.contains(&word.as_str())
            && !QUALIFYING_ENDS.contains(&word.as_str())
            && !is_type_word(&word)
            && !word.chars().any(|c| c.is_ascii_digit());
        usable.then_some(word)
    }

    /// An inclusion term as reference text: the tabular list's nonessential modifiers in brackets
    /// ("pulmonary (acute) (artery) infarction") and a trailing "NOS" dropped.
    fn term_text(term: &str) -> String {
        let text = without_brackets(term);
        let text = text.trim();
        text.strip_suffix(" NOS").unwrap_or(text).to_string()
    }

    /// The texts an inclusion term stands for: itself without brackets, and, for each square
    /// bracket, the term with the bracket's words in place of as many words before it — the
    /// classification's way of giving a synonym ("Crohn's disease [regional enteritis] of ileum"
    /// also reads "regional enteritis of ileum").
    pub(super) fn term_texts(term: &str) -> Vec<String> {
        let mut texts = vec![Self::term_text(term)];
        let mut searched = 0;
        while let Some(open) = term[searched..].find('[').map(|at| searched + at) {
            let Some(close) = term[open..].find(']').map(|at| open + at) else {
                break;
            };
            let synonym = term[open + 1..close].trim();
            let before: Vec<&str> = term[..open].split_whitespace().collect();
            let replaced = synonym.split_whitespace().count();
            if (1..=before.len()).contains(&replaced) {
                let kept = before[..before.len() - replaced].join(" ");
                let variant = format!("{kept} {synonym} {}", &term[close + 1..]);
                let variant = Self::term_text(&variant);
                if !texts.contains(&variant) {
                    texts.push(variant);
                }
            }
            searched = close + 1;
        }
        texts
    }

    /// Concept text of every ICD-10-CM description and inclusion term → code, for codes a candidate's
    /// text names exactly. A description wins over an inclusion term of another code; the first code
    /// wins a tie.
    pub(super) fn term_index(&self) -> &'static HashMap<String, String> {
        &self.terminology().index
    }

    /// The code the classification files a concept under: by its exact words, else by its core words.
    pub(super) fn infer_code(&self, concept: &Concept) -> Option<String> {
        let terminology = self.terminology();
        terminology
            .index
            .get(&concept_key(concept))
            .or_else(|| terminology.core_index.get(&core_key(concept)))
            .cloned()
    }

    /// Whether `word` (a concept word) names a condition: a disease word by its form, or the head
    /// word of an ICD-10-CM description of a disease, injury or symptom ("hydrocephalus").
    pub(super) fn is_condition_word(&self, word: &str) -> bool {
        is_disease_word(word) || self.terminology().heads.contains(word)
    }

    /// The tables read from the classification, built once per process: they depend only on embedded
    /// data, which every judge shares.
    pub(super) fn terminology(&self) -> &'static Terminology {
        static TERMINOLOGY: OnceLock<Terminology> = OnceLock::new();
        TERMINOLOGY.get_or_init(|| {
            let mut index = HashMap::new();
            let mut core_index = HashMap::new();
            let mut head_categories: HashMap<String, HashSet<String>> = HashMap::new();
            let mut modifiers = HashSet::new();
            let entries: Vec<&IcdEntry> = self
                .icd
                .entries()
                .iter()
                .filter(|entry| !matches!(entry.kind, IcdKind::Chapter | IcdKind::Block))
                .collect();
            let terms: Vec<(&str, String)> = Icd10::terms()
                .iter()
                .flat_map(|term| {
                    Self::term_texts(term.term)
                        .into_iter()
                        .map(|text| (term.code, text))
                })
                .collect();
            let texts: Vec<String> = entries
                .iter()
                .map(|entry| Self::description_text(&entry.description))
                .chain(terms.iter().map(|(_, text)| text.clone()))
                .collect();
            let phrases = self.phrases_in_parallel(&texts);
            let (description_phrases, term_phrases) = phrases.split_at(entries.len());
            for (entry, phrase) in entries.iter().zip(description_phrases) {
                let concept = Self::concept_of_phrase(phrase);
                if is_condition_code(&entry.code) {
                    if let Some(head) = Self::noun_head(phrase) {
                        let category = entry.code.get(..3).unwrap_or(&entry.code).to_string();
                        head_categories.entry(head).or_default().insert(category);
                    }
                }
                if is_organism_code(&entry.code) {
                    // "Escherichia coli [E. coli] as the cause of diseases classified elsewhere".
                    let organism = entry
                        .description
                        .split(" as the cause")
                        .next()
                        .unwrap_or("");
                    modifiers.extend(self.concept(organism).core);
                } else if is_site_code(&entry.code) {
                    // "Malignant neoplasm of upper lobe, right bronchus or lung": the words after the
                    // head are sites.
                    let after_head = concept
                        .head
                        .as_ref()
                        .and_then(|head| concept.words.iter().position(|word| word == head))
                        .map_or(&concept.words[..0], |at| &concept.words[at + 1..]);
                    modifiers.extend(after_head.iter().cloned());
                }
                index
                    .entry(concept_key(&concept))
                    .or_insert_with(|| entry.code.clone());
                core_index
                    .entry(core_key(&concept))
                    .or_insert_with(|| entry.code.clone());
            }
            for ((code, _), phrase) in terms.iter().zip(term_phrases) {
                let concept = Self::concept_of_phrase(phrase);
                if concept.core.is_empty() {
                    continue;
                }
                index
                    .entry(concept_key(&concept))
                    .or_insert_with(|| (*code).to_string());
                core_index
                    .entry(core_key(&concept))
                    .or_insert_with(|| (*code).to_string());
            }
            // A head in two categories or more is a disease noun ("hydrocephalus": G91, Q03); one
            // category's odd wording ("failed induction of labor") is not. A disease word is never a
            // mere site or organism; a site or organism is never a head.
            modifiers.retain(|word: &String| !is_disease_word(word));
            let heads: HashSet<String> = head_categories
                .into_iter()
                .filter(|(head, categories)| {
                    categories.len() >= 2
                        && !modifiers.contains(head)
                        && !NOT_HEADS.contains(&head.as_str())
                })
                .map(|(head, _)| head)
                .collect();
            // The lay table's drugs and organisms qualify a condition too.
            for terms in self.lay_terms.values() {
                for (_, means) in terms {
                    if means.split(' ').any(is_drug_word) {
                        modifiers.extend(means.split(' ').map(str::to_string));
                    }
                }
            }
            Terminology {
                index,
                core_index,
                heads,
                modifiers,
            }
        })
    }

    /// The phrases of many texts, computed on every core (the terminology's build), in order.
    pub(super) fn phrases_in_parallel(&self, texts: &[String]) -> Vec<String> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = texts.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = texts
                .chunks(chunk)
                .map(|texts| {
                    scope.spawn(move || {
                        texts
                            .iter()
                            .map(|text| self.phrase(text))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }
}

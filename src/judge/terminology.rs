//! The judge's terminology, read from ICD-10-CM once per process (DESIGN.md §3.7): every description
//! and inclusion term indexed by its concept (so a candidate's text can be filed under a code), the
//! head nouns of disease descriptions (what names a condition), the sites and organisms that only
//! qualify one, and the vocabulary that misspellings are corrected against. Built on every core at the
//! first verdict of a new build and then read from the disk cache (`crate::disk_cache`) in milliseconds;
//! `RuleJudge::warm_up_in_background` loads it early.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use dxsim_gatekeeper::icd10::{Icd10, IcdEntry, IcdKind};
use dxsim_gatekeeper::text::normalize;

use super::vocabulary::{is_disease_word, is_drug_word};
use super::{
    Concept, HEAD_BOUNDARIES, QUALIFIERS, QUALIFYING_ENDS, RuleJudge, STOPWORDS, WORD_FORMS,
    concept_key, core_key, is_type_word, stem, without_brackets,
};

/// What the judge reads from ICD-10-CM, built once per build of dxsim and cached on disk
/// (`crate::disk_cache`).
pub(super) struct Terminology {
    /// Concept key of every description and inclusion term → its code.
    pub(super) index: CodeIndex,
    /// The same by core words alone (qualifiers such as acute or left ignored).
    pub(super) core_index: CodeIndex,
    /// Head words of the descriptions of diseases, injuries and symptoms (chapters A–T, organisms
    /// aside).
    pub(super) heads: WordSet,
    /// Sites (the words after the head of neoplasm and injury descriptions) and organisms (B95–B97):
    /// words that qualify a condition without being one.
    pub(super) modifiers: WordSet,
}

impl Terminology {
    /// The sections of its cache file, in the order `from_sections` reads them.
    fn sections(&self) -> Vec<Vec<u8>> {
        vec![
            self.index.keys.as_fst().as_bytes().to_vec(),
            self.index.codes.join("\n").into_bytes(),
            self.core_index.keys.as_fst().as_bytes().to_vec(),
            self.core_index.codes.join("\n").into_bytes(),
            self.heads.0.as_fst().as_bytes().to_vec(),
            self.modifiers.0.as_fst().as_bytes().to_vec(),
        ]
    }

    /// The terminology a cache file holds, if every section reads and checks.
    fn from_sections(sections: Vec<Vec<u8>>) -> Option<Terminology> {
        let [index, index_codes, core, core_codes, heads, modifiers]: [Vec<u8>; 6] =
            sections.try_into().ok()?;
        Some(Terminology {
            index: CodeIndex::from_bytes(index, index_codes)?,
            core_index: CodeIndex::from_bytes(core, core_codes)?,
            heads: WordSet::from_bytes(heads)?,
            modifiers: WordSet::from_bytes(modifiers)?,
        })
    }
}

/// Texts → ICD-10-CM codes: a transducer over the texts whose outputs are places in a table of codes.
pub(super) struct CodeIndex {
    keys: fst::Map<Vec<u8>>,
    /// Each code once; a key's output is its place here.
    codes: Vec<String>,
}

impl CodeIndex {
    /// The index of `map`.
    fn new(map: HashMap<String, &str>) -> CodeIndex {
        let mut codes: Vec<String> = Vec::new();
        let mut places: HashMap<String, u64> = HashMap::new();
        let mut entries: Vec<(String, u64)> = map
            .into_iter()
            .map(|(key, code)| {
                let next = places.len() as u64;
                let place = *places.entry(code.to_string()).or_insert_with(|| {
                    codes.push(code.to_string());
                    next
                });
                (key, place)
            })
            .collect();
        entries.sort_unstable();
        let keys = fst::Map::from_iter(entries).expect("a map's keys are unique and now sorted");
        CodeIndex { keys, codes }
    }

    /// The index a cache file's two sections hold (the file's checksum has been checked).
    fn from_bytes(keys: Vec<u8>, codes: Vec<u8>) -> Option<CodeIndex> {
        let keys = fst::Map::new(keys).ok()?;
        let codes = String::from_utf8(codes).ok()?;
        Some(CodeIndex {
            keys,
            codes: codes.split('\n').map(str::to_string).collect(),
        })
    }

    /// The code filed under `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        let place = usize::try_from(self.keys.get(key)?).ok()?;
        self.codes.get(place).map(String::as_str)
    }

    /// Calls `visit` with every key and its code, in the keys' byte order.
    pub(super) fn for_each(&self, mut visit: impl FnMut(&str, &str)) {
        use fst::Streamer;
        let mut stream = self.keys.stream();
        while let Some((key, place)) = stream.next() {
            let code = usize::try_from(place)
                .ok()
                .and_then(|place| self.codes.get(place));
            if let (Ok(key), Some(code)) = (std::str::from_utf8(key), code) {
                visit(key, code);
            }
        }
    }
}

/// A set of words held as a transducer (read from a cache file without parsing).
pub(super) struct WordSet(fst::Set<Vec<u8>>);

impl WordSet {
    /// The set of `words`.
    pub(super) fn new(words: impl IntoIterator<Item = String>) -> WordSet {
        let mut words: Vec<String> = words.into_iter().collect();
        words.sort_unstable();
        words.dedup();
        WordSet(fst::Set::from_iter(words).expect("the words are sorted and unique"))
    }

    /// The set a cache file's section holds (the file's checksum has been checked).
    fn from_bytes(bytes: Vec<u8>) -> Option<WordSet> {
        fst::Set::new(bytes).ok().map(WordSet)
    }

    /// Whether `word` is in the set.
    pub(super) fn contains(&self, word: &str) -> bool {
        self.0.contains(word)
    }

    /// Calls `visit` with every word that starts with `first`, in byte order.
    fn for_each_starting_with(&self, first: char, mut visit: impl FnMut(&str)) {
        use fst::{IntoStreamer, Streamer};
        let mut prefix = [0; 4];
        let prefix = first.encode_utf8(&mut prefix).as_bytes();
        let mut stream = self.0.range().ge(prefix).into_stream();
        while let Some(word) = stream.next() {
            if !word.starts_with(prefix) {
                break;
            }
            if let Ok(word) = std::str::from_utf8(word) {
                visit(word);
            }
        }
    }
}

/// The words the judge knows, for spelling correction.
pub(super) struct Vocabulary {
    pub(super) words: WordSet,
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
        let mut best: Option<(String, usize)> = None;
        let mut tied = false;
        vocabulary.words.for_each_starting_with(first, |known| {
            if known.chars().count().abs_diff(length) > allowed {
                return;
            }
            let distance = strsim::damerau_levenshtein(word, known);
            if distance > allowed {
                return;
            }
            match &best {
                Some((_, current)) if distance > *current => {}
                Some((_, current)) if distance == *current => tied = true,
                _ => {
                    best = Some((known.to_string(), distance));
                    tied = false;
                }
            }
        });
        match best {
            Some((known, _)) if !tied => Cow::Owned(known),
            _ => Cow::Borrowed(word),
        }
    }

    /// Every word the judge's terminology uses (ICD-10-CM descriptions and terms, the lay table, the
    /// abbreviations' expansions), for spelling correction. Read from the cache, else built once per
    /// process (and cached).
    pub(super) fn vocabulary(&self) -> &'static Vocabulary {
        static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
        VOCABULARY.get_or_init(|| {
            let cached = crate::disk_cache::load("vocabulary", 1)
                .and_then(|sections| sections.into_iter().next())
                .and_then(WordSet::from_bytes);
            if let Some(words) = cached {
                return Vocabulary { words };
            }
            let words = self.build_vocabulary();
            crate::disk_cache::store("vocabulary", &[words.0.as_fst().as_bytes()]);
            Vocabulary { words }
        })
    }

    /// The vocabulary's words, from the classification and the judge's tables.
    fn build_vocabulary(&self) -> WordSet {
        {
            let mut words: HashSet<String> = HashSet::new();
            let texts = self
                .icd
                .entries()
                .iter()
                .map(|entry| entry.description)
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
            WordSet::new(words)
        }
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
    pub(super) fn term_index(&self) -> &'static CodeIndex {
        &self.terminology().index
    }

    /// The code the classification files a concept under: by its exact words, else by its core words.
    pub(super) fn infer_code(&self, concept: &Concept) -> Option<String> {
        let terminology = self.terminology();
        terminology
            .index
            .get(&concept_key(concept))
            .or_else(|| terminology.core_index.get(&core_key(concept)))
            .map(str::to_string)
    }

    /// Whether `word` (a concept word) names a condition: a disease word by its form, or the head
    /// word of an ICD-10-CM description of a disease, injury or symptom ("hydrocephalus").
    /// Serology words ("anti-AChR *antibody* positive") describe the condition they follow.
    pub(super) fn is_condition_word(&self, word: &str) -> bool {
        const SEROLOGY: &[&str] = &[
            "antibody",
            "antigen",
            "titer",
            "seropositive",
            "seronegative",
        ];
        !SEROLOGY.contains(&word)
            && (is_disease_word(word) || self.terminology().heads.contains(word))
    }

    /// The tables read from the classification: from the cache, else built once per process (and
    /// cached). They depend only on embedded data, which every judge shares.
    pub(super) fn terminology(&self) -> &'static Terminology {
        static TERMINOLOGY: OnceLock<Terminology> = OnceLock::new();
        TERMINOLOGY.get_or_init(|| {
            let sections = crate::disk_cache::load("terminology", 6);
            if let Some(terminology) = sections.and_then(Terminology::from_sections) {
                return terminology;
            }
            let terminology = self.build_terminology();
            let sections = terminology.sections();
            let sections: Vec<&[u8]> = sections.iter().map(Vec::as_slice).collect();
            crate::disk_cache::store("terminology", &sections);
            terminology
        })
    }

    /// The tables, read from the classification (about 1.6 s on one core, spread over every core).
    fn build_terminology(&self) -> Terminology {
        {
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
                .map(|entry| Self::description_text(entry.description))
                .chain(terms.iter().map(|(_, text)| text.clone()))
                .collect();
            let phrases = self.phrases_in_parallel(&texts);
            let (description_phrases, term_phrases) = phrases.split_at(entries.len());
            for (entry, phrase) in entries.iter().zip(description_phrases) {
                let concept = Self::concept_of_phrase(phrase);
                if is_condition_code(entry.code) {
                    if let Some(head) = Self::noun_head(phrase) {
                        let category = entry.code.get(..3).unwrap_or(entry.code).to_string();
                        head_categories.entry(head).or_default().insert(category);
                    }
                }
                if is_organism_code(entry.code) {
                    // "Escherichia coli [E. coli] as the cause of diseases classified elsewhere".
                    let organism = entry
                        .description
                        .split(" as the cause")
                        .next()
                        .unwrap_or("");
                    modifiers.extend(self.concept(organism).core);
                } else if is_site_code(entry.code) {
                    // "Malignant neoplasm of upper lobe, right bronchus or lung": the words after the
                    // head are sites.
                    let after_head = concept
                        .head
                        .as_ref()
                        .and_then(|head| concept.words.iter().position(|word| word == head))
                        .map_or(&concept.words[..0], |at| &concept.words[at + 1..]);
                    modifiers.extend(after_head.iter().cloned());
                }
                index.entry(concept_key(&concept)).or_insert(entry.code);
                core_index.entry(core_key(&concept)).or_insert(entry.code);
            }
            for ((code, _), phrase) in terms.iter().zip(term_phrases) {
                let concept = Self::concept_of_phrase(phrase);
                if concept.core.is_empty() {
                    continue;
                }
                index.entry(concept_key(&concept)).or_insert(*code);
                core_index.entry(core_key(&concept)).or_insert(*code);
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
                index: CodeIndex::new(index),
                core_index: CodeIndex::new(core_index),
                heads: WordSet::new(heads),
                modifiers: WordSet::new(modifiers),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminology_reads_back_from_its_cache_sections_unchanged() {
        let judge = RuleJudge::shared();
        let built = judge.terminology();
        let read = Terminology::from_sections(built.sections()).expect("its own sections read");
        let entries = |index: &CodeIndex| {
            let mut entries = Vec::new();
            index.for_each(|key, code| entries.push((key.to_string(), code.to_string())));
            entries
        };
        let count = entries(&built.index).len();
        assert!(count > 50_000, "the whole index: {count} entries");
        assert_eq!(entries(&read.index), entries(&built.index));
        assert_eq!(entries(&read.core_index), entries(&built.core_index));
        assert_eq!(
            read.heads.0.as_fst().as_bytes(),
            built.heads.0.as_fst().as_bytes()
        );
        assert_eq!(
            read.modifiers.0.as_fst().as_bytes(),
            built.modifiers.0.as_fst().as_bytes()
        );
        assert_eq!(
            read.index.get("pulmonary embolism"),
            built.index.get("pulmonary embolism")
        );
    }

    #[test]
    fn sections_of_another_shape_are_refused() {
        let judge = RuleJudge::shared();
        let mut sections = judge.terminology().sections();
        assert!(Terminology::from_sections(Vec::new()).is_none());
        sections[0] = b"not a transducer".to_vec();
        assert!(Terminology::from_sections(sections).is_none());
    }

    #[test]
    fn spelling_correction_walks_one_first_letter() {
        let words = WordSet::new(["apple", "apply", "banana", "ápice"].map(String::from));
        let mut seen = Vec::new();
        words.for_each_starting_with('a', |word| seen.push(word.to_string()));
        assert_eq!(seen, ["apple", "apply"]);
        assert!(words.contains("banana") && !words.contains("band"));
    }
}

//! The one matcher that decides whether a text names a case's diagnosis (DESIGN.md §3.7, §3.9): the
//! diagnosis and its synonyms as the case gives them, and the other names the judge's terminology
//! knows for it: the ICD-10-CM description and inclusion terms of its code, lay, eponym and clinical
//! names from the lay table, abbreviations, and plurals. The validator, the language-model guards, the
//! bias beliefs and the disclosure audit all ask it, so what counts as naming the diagnosis is decided
//! once. (The rule patient's last guard uses the case's own names: every case it plays passed the
//! validator's check with this matcher.)

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::{Diagnosis, DiagnosisNames};
use dxsim_gatekeeper::icd10::{Icd10, TermKind};
use dxsim_gatekeeper::memo::TextMemo;
use dxsim_gatekeeper::text::{contains_phrase, normalize};

use super::vocabulary::is_disease_word;
use super::{ABBREVIATIONS_CSV, LAY_TERMS_CSV, Reference, RuleJudge};

/// The terminology's other names, by the normalised phrase they stand for.
struct FormIndex {
    /// Lay, eponym, clinical and anatomical names, by what they mean.
    lay: HashMap<String, Vec<String>>,
    /// Abbreviations of three letters or more, by their expansion (a two-letter one, "ms" or "pe",
    /// is too often something else in free text).
    abbreviations: HashMap<String, Vec<String>>,
    /// The classification's inclusion terms, by code.
    inclusion: HashMap<&'static str, Vec<&'static str>>,
}

/// Lay-table kinds that name a condition (not a drug, an organism or a grammatical form).
const CONDITION_KINDS: &[&str] = &["lay", "eponym", "clinical", "anatomy"];

/// A lay name for a condition from the lay table ("heart attack" for "Acute myocardial
/// infarction"): the lay term of the longest clinical phrase the name holds as whole words, if any.
pub fn lay_name(name: &str) -> Option<String> {
    let name = normalize(name);
    index()
        .lay
        .iter()
        .filter(|(means, _)| contains_phrase(&name, means))
        .max_by_key(|(means, terms)| (means.len(), std::cmp::Reverse(terms.first().cloned())))
        .and_then(|(_, terms)| terms.first().cloned())
}

fn index() -> &'static FormIndex {
    static INDEX: OnceLock<FormIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut lay: HashMap<String, Vec<String>> = HashMap::new();
        let mut reader = csv::Reader::from_reader(LAY_TERMS_CSV.as_bytes());
        for record in reader.records().flatten() {
            if CONDITION_KINDS.contains(&&record[2]) {
                lay.entry(normalize(&record[1]))
                    .or_default()
                    .push(normalize(&record[0]));
            }
        }
        let mut abbreviations: HashMap<String, Vec<String>> = HashMap::new();
        let mut reader = csv::Reader::from_reader(ABBREVIATIONS_CSV.as_bytes());
        for record in reader.records().flatten() {
            if record[0]
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .count()
                >= 3
            {
                abbreviations
                    .entry(normalize(&record[1]))
                    .or_default()
                    .push(normalize(&record[0]));
            }
        }
        let mut inclusion: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        for term in Icd10::terms() {
            if term.kind == TermKind::Inclusion {
                inclusion.entry(term.code).or_default().push(term.term);
            }
        }
        FormIndex {
            lay,
            abbreviations,
            inclusion,
        }
    })
}

/// The other names of `case`'s diagnosis, normalised: what [`diagnosis_names`] adds to the case's own.
/// Worked out once per diagnosis (name, code and synonyms) and process.
pub fn diagnosis_forms(case: &Case) -> Arc<Vec<String>> {
    static CACHE: OnceLock<TextMemo<Arc<Vec<String>>>> = OnceLock::new();
    let diagnosis = &case.diagnosis;
    let key = std::iter::once(diagnosis.name.as_str())
        .chain(std::iter::once(diagnosis.icd10.as_str()))
        .chain(diagnosis.synonyms.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\u{1f}");
    CACHE
        .get_or_init(|| TextMemo::new(FORMS_LIMIT))
        .get_or_compute(&key, || Arc::new(work_out_forms(diagnosis)))
}

/// Most diagnoses whose forms a process remembers (a DDXPlus set has 49, the library ~150).
const FORMS_LIMIT: usize = 65_536;

fn work_out_forms(diagnosis: &Diagnosis) -> Vec<String> {
    let index = index();
    let mut forms: Vec<String> = std::iter::once(&diagnosis.name)
        .chain(&diagnosis.synonyms)
        .map(|name| normalize(name))
        .collect();
    let code = diagnosis.icd10.trim();
    if let Some(entry) = Icd10::builtin().get(code).filter(|_| !code.is_empty()) {
        forms.extend(classification_forms(entry.description));
    }
    for term in index.inclusion.get(code).into_iter().flatten() {
        forms.extend(classification_forms(term));
    }
    // Without a minor qualifier (acuity, side, severity): still the diagnosis to the judge.
    let unqualified: Vec<String> = forms.iter().filter_map(|form| unqualified(form)).collect();
    forms.extend(unqualified);
    let named: Vec<String> = forms.clone();
    for name in &named {
        forms.extend(index.lay.get(name).into_iter().flatten().cloned());
        forms.extend(index.abbreviations.get(name).into_iter().flatten().cloned());
    }
    let plurals: Vec<String> = forms.iter().filter_map(|form| plural(form)).collect();
    forms.extend(plurals);
    forms.retain(|form| names_a_condition(form));
    forms.sort();
    forms.dedup();
    // A form names the diagnosis when the judge would credit it as the answer: the classification's
    // broader "hypercalcemia" does not name "hypercalcaemia of malignancy", whose cause is core.
    let judge = RuleJudge::shared();
    let reference = Reference::from(diagnosis);
    let own: Vec<String> = std::iter::once(&diagnosis.name)
        .chain(&diagnosis.synonyms)
        .map(|name| normalize(name))
        .collect();
    forms.retain(|form| {
        own.contains(form) || plural_of(form, &own) || judge.judge(reference, form, None).correct
    });
    forms
}

/// Whether `form` is the plural of one of `names`.
fn plural_of(form: &str, names: &[String]) -> bool {
    names
        .iter()
        .any(|name| plural(name).as_deref() == Some(form))
}

/// Minor qualifiers (DESIGN.md §3.7: laterality, acuity, severity) that leave the diagnosis itself.
const MINOR_QUALIFIERS: &[&str] = &[
    "acute",
    "chronic",
    "left",
    "right",
    "bilateral",
    "unilateral",
    "mild",
    "moderate",
    "severe",
];

/// The form without its minor qualifiers, if it has any and something is left.
fn unqualified(form: &str) -> Option<String> {
    let words: Vec<&str> = form.split(' ').collect();
    let kept: Vec<&str> = words
        .iter()
        .copied()
        .filter(|word| !MINOR_QUALIFIERS.contains(word))
        .collect();
    (kept.len() < words.len() && !kept.is_empty()).then(|| kept.join(" "))
}

/// Every way a text can name `case`'s diagnosis before the episode ends: the matcher the validator,
/// the model guards, the bias beliefs and the audit share.
pub fn diagnosis_names(case: &Case) -> DiagnosisNames {
    DiagnosisNames::with_forms(case, diagnosis_forms(case).iter().cloned())
}

/// A classification term and its shorter forms: the term, then without a trailing qualifier after a
/// comma ("Acute kidney failure, unspecified"), without what it excludes ("… without complications")
/// and without "NOS".
fn classification_forms(term: &str) -> Vec<String> {
    let whole = normalize(term);
    let mut forms = vec![whole.clone()];
    if let Some((head, _)) = term.split_once(',') {
        forms.push(normalize(head));
    }
    if let Some((head, _)) = whole.split_once(" without ") {
        forms.push(head.to_string());
    }
    if let Some(head) = whole.strip_suffix(" nos") {
        forms.push(head.to_string());
    }
    forms
}

/// The form with its last word, a disease word, in the plural ("migraine" → "migraines"), if it is
/// not one already.
fn plural(form: &str) -> Option<String> {
    let last = form.rsplit(' ').next()?;
    if last.len() < 4 || last.ends_with('s') || !is_disease_word(last) {
        return None;
    }
    Some(if last.ends_with('y') && !last.ends_with("ey") {
        format!("{}ies", &form[..form.len() - 1])
    } else {
        format!("{form}s")
    })
}

/// Whether a form could name a condition on its own: two words or more, or one that is a disease
/// word ("pneumonia"), never a lone "other" or "unspecified".
fn names_a_condition(form: &str) -> bool {
    let words: Vec<&str> = form.split(' ').filter(|word| !word.is_empty()).collect();
    match words.as_slice() {
        [] => false,
        [word] => word.len() >= 3 && (is_disease_word(word) || !GENERIC_WORDS.contains(word)),
        _ => true,
    }
}

/// Single words a shortened classification term can leave that name nothing.
const GENERIC_WORDS: &[&str] = &[
    "other",
    "unspecified",
    "disease",
    "disorder",
    "disorders",
    "syndrome",
    "condition",
    "conditions",
    "abnormal",
    "abnormality",
    "acute",
    "chronic",
];

#[cfg(test)]
mod tests {
    use super::*;
    use dxsim_gatekeeper::case::Naming;

    fn case(name: &str, synonyms: &[&str], icd10: &str) -> Case {
        let mut case = Case::default();
        case.diagnosis.name = name.to_string();
        case.diagnosis.synonyms = synonyms.iter().map(|s| s.to_string()).collect();
        case.diagnosis.icd10 = icd10.to_string();
        case
    }

    #[test]
    fn lay_names_plurals_and_the_classification_name_the_diagnosis() {
        let stemi = case("Acute myocardial infarction", &[], "I21.9");
        let names = diagnosis_names(&stemi);
        assert!(names.found_in("He had a heart attack last year.").is_some());
        assert!(names.found_in("the AMI pathway").is_some());
        let migraine = case("Migraine without aura", &["Migraine"], "G43.009");
        let names = diagnosis_names(&migraine);
        assert!(matches!(
            names.found_in("Mum gets migraines."),
            Some(Naming::Phrase(_))
        ));
        assert!(
            names
                .found_in("A throbbing headache on one side.")
                .is_none()
        );
    }

    #[test]
    fn a_broader_or_longer_name_of_something_else_is_checked_as_written() {
        let gpa = case("Granulomatosis with polyangiitis", &[], "M31.30");
        let names = diagnosis_names(&gpa);
        // A belief that contains the diagnosis word for word names it.
        assert!(
            names
                .found_in("Eosinophilic granulomatosis with polyangiitis")
                .is_some()
        );
        assert!(names.found_in("Microscopic polyangiitis").is_none());
    }

    #[test]
    fn generic_leftovers_are_not_forms() {
        assert!(!names_a_condition("other"));
        assert!(!names_a_condition("unspecified"));
        assert!(names_a_condition("pneumonia"));
        assert_eq!(plural("migraine").as_deref(), Some("migraines"));
        assert_eq!(plural("acute pancreatitis"), None);
        assert_eq!(plural("sepsis"), None);
    }
}

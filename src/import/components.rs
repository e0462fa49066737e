//! Laboratory names as case files and EHR exports write them — a component and a specimen, in the
//! style of LOINC's component names and MIMIC-IV's lab labels ("White Blood Cells [Blood]",
//! "Red Blood Cells, Urine", "Urine Ketone") — mapped to the catalogue's analytes through
//! `lab_components.csv` (component, specimen, test id, analyte id; every pair checked against the
//! catalogue by a test).

use std::collections::HashMap;
use std::sync::OnceLock;

use dxsim_gatekeeper::Catalogue;

/// The vocabulary, embedded.
const COMPONENTS_CSV: &str = include_str!("lab_components.csv");

/// What a component name measures in the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// An analyte (index into [`Catalogue::analytes`]).
    Analyte(usize),
    /// A whole test that is exactly this measurement (index into [`Catalogue::tests`]).
    Test(usize),
}

/// The specimens the vocabulary distinguishes, by the words sources use for them.
const SPECIMENS: &[(&str, &[&str])] = &[
    (
        "blood",
        &[
            "blood",
            "serum",
            "plasma",
            "whole blood",
            "venous",
            "arterial",
        ],
    ),
    ("urine", &["urine", "urinalysis", "ua"]),
    ("csf", &["csf", "cerebrospinal fluid", "spinal fluid"]),
    ("pleural", &["pleural", "pleural fluid"]),
    (
        "peritoneal",
        &["peritoneal", "peritoneal fluid", "ascites", "ascitic fluid"],
    ),
    ("synovial", &["synovial", "synovial fluid", "joint fluid"]),
    ("stool", &["stool", "feces", "faeces", "fecal", "faecal"]),
];

/// The vocabulary, keyed by normalised component and specimen (`any` for either).
fn vocabulary() -> &'static HashMap<(String, String), Measure> {
    static VOCABULARY: OnceLock<HashMap<(String, String), Measure>> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let catalogue = Catalogue::builtin();
        let mut reader = csv::Reader::from_reader(COMPONENTS_CSV.as_bytes());
        reader
            .records()
            .filter_map(Result::ok)
            .filter_map(|row| {
                let measure = match row.get(3).filter(|analyte| !analyte.is_empty()) {
                    Some(analyte) => Measure::Analyte(catalogue.analyte_position(analyte)?),
                    None => Measure::Test(catalogue.test_position(row.get(2)?)?),
                };
                Some((
                    (component_text(row.get(0)?), row.get(1)?.to_string()),
                    measure,
                ))
            })
            .collect()
    })
}

/// A component name compared as the vocabulary writes it: lowercase, `_` as a space, spaces
/// collapsed.
fn component_text(name: &str) -> String {
    name.to_lowercase()
        .replace('_', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The specimen a word or phrase names.
fn specimen_of(text: &str) -> Option<&'static str> {
    let text = component_text(text);
    SPECIMENS
        .iter()
        .find(|(_, words)| words.contains(&text.as_str()))
        .map(|(specimen, _)| *specimen)
}

/// A lab name split into its component and the specimen it states: "White Blood Cells [Blood]",
/// "Glucose (CSF)", "Protein, Urine", "Urine Ketone".
fn split_specimen(name: &str) -> (String, Option<&'static str>) {
    let name = component_text(name);
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = name.strip_suffix(close)
            && let Some(at) = inner.rfind(open)
            && let Some(specimen) = specimen_of(&inner[at + 1..])
        {
            return (inner[..at].trim().to_string(), Some(specimen));
        }
    }
    if let Some((component, last)) = name.rsplit_once(',')
        && let Some(specimen) = specimen_of(last)
    {
        return (component.trim().to_string(), Some(specimen));
    }
    for (specimen, words) in SPECIMENS {
        for word in *words {
            if let Some(rest) = name.strip_prefix(&format!("{word} "))
                && !rest.is_empty()
            {
                return (rest.to_string(), Some(specimen));
            }
        }
    }
    (name, None)
}

/// What a lab name measures, by the vocabulary: the name as written (which may carry its specimen:
/// "urine color"), then its component with the specimen it states, or with any specimen, or, when it
/// states none, in blood.
pub fn measure(name: &str) -> Option<Measure> {
    let vocabulary = vocabulary();
    let find = |component: &str, specimen: &str| {
        vocabulary
            .get(&(component.to_string(), specimen.to_string()))
            .copied()
    };
    let whole = component_text(name);
    if let Some(found) = find(&whole, "any") {
        return Some(found);
    }
    let (component, specimen) = split_specimen(name);
    match specimen {
        Some(specimen) => find(&component, specimen).or_else(|| find(&component, "any")),
        None => find(&component, "any").or_else(|| find(&component, "blood")),
    }
}

/// What a lab name measures when it sits under a group that states a specimen ("Glucose" under
/// "Urinalysis" or "CSF Analysis"): the component in that specimen; none when the group states no
/// specimen, the name states its own, or the vocabulary has no entry for that specimen (the name is
/// then read on its own).
pub fn measure_in(name: &str, group: &str) -> Option<Measure> {
    let (component, own) = split_specimen(name);
    if own.is_some() {
        return None;
    }
    let group = component_text(group);
    let words: Vec<&str> = group.split(' ').collect();
    let specimen = SPECIMENS.iter().find_map(|(specimen, names)| {
        names
            .iter()
            .any(|word| {
                let phrase: Vec<&str> = word.split(' ').collect();
                words
                    .windows(phrase.len())
                    .any(|window| window == phrase.as_slice())
            })
            .then_some(*specimen)
    })?;
    if specimen == "blood" {
        return None;
    }
    vocabulary()
        .get(&(component, specimen.to_string()))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_a_catalogue_analyte_or_test() {
        let catalogue = Catalogue::builtin();
        let mut reader = csv::Reader::from_reader(COMPONENTS_CSV.as_bytes());
        let mut rows = 0;
        for row in reader.records() {
            let row = row.expect("a well-formed row");
            rows += 1;
            let (test, analyte) = (&row[2], &row[3]);
            let definition = catalogue
                .test(test)
                .unwrap_or_else(|| panic!("{row:?}: no test `{test}`"));
            if analyte.is_empty() {
                continue;
            }
            assert!(
                catalogue
                    .test_analytes(definition)
                    .any(|reported| reported.id == analyte),
                "{row:?}: `{test}` does not report `{analyte}`"
            );
            assert!(
                SPECIMENS.iter().any(|(specimen, _)| *specimen == &row[1]) || &row[1] == "any",
                "{row:?}: unknown specimen"
            );
        }
        assert_eq!(
            vocabulary().len(),
            rows,
            "a (component, specimen) pair twice"
        );
    }

    #[test]
    fn component_and_specimen_names_find_their_analytes() {
        let catalogue = Catalogue::builtin();
        let analyte = |name: &str| match measure(name) {
            Some(Measure::Analyte(position)) => catalogue.analytes()[position].id.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(analyte("White Blood Cells [Blood]"), "wbc");
        assert_eq!(analyte("White_Blood_Cells"), "wbc");
        assert_eq!(analyte("Red Blood Cells [Blood]"), "rbc");
        assert_ne!(analyte("Red Blood Cells [Urine]"), "rbc");
        assert_ne!(analyte("Red Blood Cells, Urine"), "rbc");
        assert_eq!(
            analyte("Red Blood Cells [Urine]"),
            analyte("Urine Red Blood Cells")
        );
        assert_eq!(analyte("Urea Nitrogen"), "bun");
        let in_group = |name: &str, group: &str| match measure_in(name, group) {
            Some(Measure::Analyte(position)) => catalogue.analytes()[position].id.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(
            in_group("Glucose", "Urinalysis"),
            analyte("Glucose [Urine]")
        );
        assert_eq!(
            in_group("Glucose", "CSF Analysis"),
            analyte("Glucose (CSF)")
        );
        assert_eq!(measure_in("Glucose", "Blood Tests"), None);
        assert_eq!(analyte("Asparate Aminotransferase (AST)"), "ast");
        assert_eq!(measure("Gardening"), None);
    }
}

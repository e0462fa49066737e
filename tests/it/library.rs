//! The built-in case library as a whole.

use std::collections::BTreeSet;

use dxsim::library::{CaseLibrary, builtin_sources, load_sources};
use dxsim_gatekeeper::case::Difficulty;

#[test]
fn builtin_library_has_no_problems() {
    let report = load_sources(builtin_sources());
    let listed: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(listed.is_empty(), "{}", listed.join("\n"));
    assert_eq!(report.cases.len(), report.files);
}

#[test]
fn builtin_library_is_broad_enough() {
    let library = CaseLibrary::builtin().expect("valid library");
    let cases = library.cases();
    let specialties: BTreeSet<&str> = cases.iter().map(|case| case.specialty.as_str()).collect();
    let difficulties: BTreeSet<Difficulty> = cases.iter().map(|case| case.difficulty).collect();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    assert!(
        specialties.len() >= 12,
        "{} specialties: {specialties:?}",
        specialties.len()
    );
    assert_eq!(difficulties.len(), 3, "{difficulties:?}");
}

#[test]
fn every_case_states_its_provenance_and_licence() {
    let library = CaseLibrary::builtin().expect("valid library");
    for case in library.cases() {
        assert!(!case.provenance.source.is_empty(), "{}", case.id);
        assert!(!case.provenance.licence.is_empty(), "{}", case.id);
    }
}

#[test]
fn cases_are_found_by_id() {
    let library = CaseLibrary::builtin().expect("valid library");
    let first = &library.cases()[0];
    assert_eq!(library.get(&first.id).map(|case| &case.id), Some(&first.id));
    assert!(library.get("no-such-case").is_none());
}

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

#[test]
fn split_is_stable_by_id_and_holds_out_about_a_fifth() {
    use dxsim_gatekeeper::case::Split;
    let library = CaseLibrary::builtin().expect("valid library");
    let held_out = library
        .cases()
        .iter()
        .filter(|case| Split::of(&case.id) == Split::Test)
        .count();
    let share = held_out as f64 / library.cases().len() as f64;
    assert!((0.08..=0.35).contains(&share), "test share {share:.2}");
    // The split depends on the id alone: these never change.
    assert_eq!(
        Split::of("cardio-chest-pressure-snow"),
        Split::of("cardio-chest-pressure-snow")
    );
    // Pinned to FNV-1a values computed independently: a change of hash would move cases between sides.
    let fixed: Vec<Split> = ["e", "f", "g", "h"]
        .iter()
        .map(|id| Split::of(id))
        .collect();
    assert_eq!(
        fixed,
        [Split::Train, Split::Test, Split::Train, Split::Test]
    );
}

#[test]
fn stats_count_every_case_once_and_price_every_workup() {
    let library = CaseLibrary::builtin().expect("valid library");
    let stats = dxsim::library::stats::library_stats(
        library.cases().iter().map(|case| &**case),
        dxsim_gatekeeper::Catalogue::builtin(),
    );
    assert_eq!(
        stats.by_specialty.values().sum::<usize>(),
        library.cases().len()
    );
    assert_eq!(
        stats.by_split.values().sum::<usize>(),
        library.cases().len()
    );
    assert_eq!(
        stats.by_age_band.values().sum::<usize>(),
        library.cases().len()
    );
    let spread = stats.workup_cost.expect("some cases");
    assert!(
        spread.min.0 >= 30_000,
        "every work-up includes at least one visit: {spread:?}"
    );
    assert!(spread.min <= spread.median && spread.median <= spread.max);
}

#[test]
fn no_lay_name_a_patient_says_names_a_diagnosis_of_the_library() {
    // A biased patient says a test's lay name when refusing it, whatever the case.
    let library = dxsim::library::CaseLibrary::builtin().expect("valid");
    let catalogue = dxsim_gatekeeper::Catalogue::builtin();
    let mut naming = Vec::new();
    for case in library.cases() {
        let names = dxsim::judge::diagnosis_names(case);
        for test in catalogue.tests() {
            if names.found_in(&test.lay_name).is_some() {
                naming.push(format!("{}: {} ({})", case.id, test.lay_name, test.id));
            }
        }
    }
    assert!(naming.is_empty(), "{}", naming.join("\n"));
}

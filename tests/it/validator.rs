//! The case validator on broken fixtures: one mutation of a valid case per kind of problem, each
//! reported with its field path.

use dxsim_gatekeeper::case::{ProblemKind, parse_case, validate_case, validate_library};
use dxsim_gatekeeper::{Catalogue, Icd10};

use crate::VALID_CASE;

const FILE: &str = "fixtures/fixture-valid.toml";

/// Applies `replace` pairs to the valid fixture and returns every problem found.
fn problems_after(replacements: &[(&str, &str)]) -> Vec<dxsim_gatekeeper::case::Problem> {
    let mut text = VALID_CASE.to_string();
    for (from, to) in replacements {
        assert!(text.contains(from), "fixture lacks {from:?}");
        text = text.replacen(from, to, 1);
    }
    match parse_case(&text, FILE) {
        Ok(case) => validate_case(&case, FILE, Catalogue::builtin(), Icd10::builtin()),
        Err(problem) => vec![problem],
    }
}

fn assert_problem(replacements: &[(&str, &str)], kind: ProblemKind, field: &str) {
    let problems = problems_after(replacements);
    assert!(
        problems
            .iter()
            .any(|problem| problem.kind == kind && problem.field.starts_with(field)),
        "expected {kind:?} at {field}, got {problems:#?}"
    );
}

#[test]
fn valid_fixture_has_no_problems() {
    assert_eq!(problems_after(&[]), vec![]);
}

#[test]
fn toml_type_error_is_a_parse_problem_with_a_line() {
    let problems = problems_after(&[("difficulty = \"common\"", "difficulty = \"easy\"")]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::Parse);
    assert!(problems[0].field.starts_with("line 4"), "{problems:?}");
    assert!(problems[0].to_string().contains("easy"), "{}", problems[0]);
}

#[test]
fn unknown_key_is_a_parse_problem() {
    assert_problem(&[("title =", "titel =")], ProblemKind::Parse, "line");
}

#[test]
fn id_that_does_not_match_the_file_is_reported() {
    assert_problem(
        &[("id = \"fixture-valid\"", "id = \"fixture-other\"")],
        ProblemKind::BadId,
        "id",
    );
    assert_problem(
        &[("id = \"fixture-valid\"", "id = \"Fixture_Valid\"")],
        ProblemKind::BadId,
        "id",
    );
}

#[test]
fn duplicate_ids_across_files_are_reported() {
    let case = parse_case(VALID_CASE, FILE).expect("parses");
    let problems = validate_library([
        ("a/fixture-valid.toml", &case),
        ("b/fixture-valid.toml", &case),
    ]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::DuplicateId);
    assert!(problems[0].message.contains("a/fixture-valid.toml"));
}

#[test]
fn missing_presentation_is_reported() {
    let start = VALID_CASE.find("[presentation]").expect("has presentation");
    let end = VALID_CASE.find("[[history]]").expect("has history");
    let presentation = &VALID_CASE[start..end];
    assert_problem(&[(presentation, "")], ProblemKind::Missing, "presentation");
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let problems = problems_after(&[
        (
            "specialty = \"cardiology\"",
            "specialty = \"heart surgery\"",
        ),
        ("heart_rate = 52", "heart_rate = 400"),
        ("icd10 = \"I21.19\"", "icd10 = \"I2119\""),
    ]);
    let kinds: Vec<ProblemKind> = problems.iter().map(|problem| problem.kind).collect();
    assert!(kinds.contains(&ProblemKind::UnknownSpecialty), "{kinds:?}");
    assert!(kinds.contains(&ProblemKind::Implausible), "{kinds:?}");
    assert!(kinds.contains(&ProblemKind::MalformedIcd10), "{kinds:?}");
}

#[test]
fn too_few_differentials_are_reported() {
    let start = VALID_CASE
        .find("[[differential]]\nname = \"Acute pulmonary embolism\"")
        .expect("present");
    let end = VALID_CASE.find("[[key_findings]]").expect("present");
    assert_problem(
        &[(&VALID_CASE[start..end], "")],
        ProblemKind::TooFew,
        "differential",
    );
}

#[test]
fn unknown_specialty_is_reported() {
    assert_problem(
        &[("specialty = \"cardiology\"", "specialty = \"cardiac\"")],
        ProblemKind::UnknownSpecialty,
        "specialty",
    );
}

#[test]
fn implausible_vital_sign_is_reported() {
    assert_problem(
        &[("spo2 = 96", "spo2 = 160")],
        ProblemKind::Implausible,
        "vitals.spo2",
    );
}

#[test]
fn severe_hypothermia_is_a_valid_temperature_but_fahrenheit_is_not() {
    let temperature = VALID_CASE
        .lines()
        .find(|line| line.trim_start().starts_with("temperature_c"))
        .expect("the fixture records a temperature")
        .trim()
        .to_string();
    let problems = problems_after(&[(temperature.as_str(), "temperature_c = 26.5")]);
    assert_eq!(
        problems,
        vec![],
        "26.5 °C is severe hypothermia, not a typo"
    );
    assert_problem(
        &[(temperature.as_str(), "temperature_c = 98.6")],
        ProblemKind::Implausible,
        "vitals.temperature_c",
    );
    assert_problem(
        &[(temperature.as_str(), "temperature_c = 12.0")],
        ProblemKind::Implausible,
        "vitals.temperature_c",
    );
}

#[test]
fn unknown_exam_system_is_reported() {
    assert_problem(
        &[("system = \"respiratory\"", "system = \"lungs and chest\"")],
        ProblemKind::UnknownExamSystem,
        "exam[2].system",
    );
}

#[test]
fn exam_system_listed_twice_is_reported() {
    assert_problem(
        &[("system = \"respiratory\"", "system = \"general\"")],
        ProblemKind::Duplicate,
        "exam[2].system",
    );
}

#[test]
fn unknown_test_id_is_reported() {
    assert_problem(
        &[("id = \"troponin\"", "id = \"troponin_xyz\"")],
        ProblemKind::UnknownTest,
        "tests[1].id",
    );
}

#[test]
fn analyte_the_test_does_not_report_is_reported() {
    assert_problem(
        &[("analyte = \"sodium\"", "analyte = \"troponin_i\"")],
        ProblemKind::UnknownAnalyte,
        "tests[3].results[0].analyte",
    );
}

#[test]
fn report_given_for_a_panel_is_reported() {
    assert_problem(
        &[("id = \"cbc\"\n", "id = \"cbc\"\nreport = \"Normal.\"\n")],
        ProblemKind::WrongResultShape,
        "tests[4].report",
    );
}

#[test]
fn unit_that_differs_from_the_catalogue_is_reported() {
    assert_problem(
        &[(
            "{ analyte = \"potassium\", value = 4.1 }",
            "{ analyte = \"potassium\", value = 4.1, unit = \"mg/dL\" }",
        )],
        ProblemKind::UnitMismatch,
        "tests[3].results[1].unit",
    );
}

#[test]
fn impossible_values_are_rejected_whatever_their_flag() {
    for (value, flag, words) in [
        ("nan", "high", "not a finite number"),
        ("inf", "high", "not a finite number"),
        ("1e308", "high", "outside what any patient could have"),
        ("-5000", "low", "outside what any patient could have"),
    ] {
        let problems = problems_after(&[(
            "value = 168, flag = \"high\"",
            &format!("value = {value}, flag = \"{flag}\""),
        )]);
        let problem = problems
            .iter()
            .find(|problem| problem.kind == ProblemKind::Implausible)
            .unwrap_or_else(|| panic!("{value}: {problems:#?}"));
        assert_eq!(problem.field, "tests[3].results[6].value", "{value}");
        assert!(problem.message.contains(words), "{value}: {problem}");
        // The impossible value is the one problem: no flag message about "nan is flagged high".
        assert!(
            !problems
                .iter()
                .any(|problem| problem.kind == ProblemKind::FlagMismatch),
            "{value}: {problems:#?}"
        );
    }
}

#[test]
fn value_outside_range_flagged_normal_is_reported() {
    let problems = problems_after(&[(
        "value = 168, flag = \"high\"",
        "value = 168, flag = \"normal\"",
    )]);
    let problem = problems
        .iter()
        .find(|problem| problem.kind == ProblemKind::FlagMismatch)
        .expect("flag mismatch");
    assert_eq!(problem.field, "tests[3].results[6].flag");
    assert!(problem.message.contains("168"), "{problem}");
}

#[test]
fn malformed_icd10_code_is_reported() {
    assert_problem(
        &[("icd10 = \"I21.19\"", "icd10 = \"I2119\"")],
        ProblemKind::MalformedIcd10,
        "diagnosis.icd10",
    );
}

#[test]
fn nonexistent_icd10_code_is_reported() {
    assert_problem(
        &[("icd10 = \"I21.19\"", "icd10 = \"I21.77\"")],
        ProblemKind::UnknownIcd10,
        "diagnosis.icd10",
    );
}

#[test]
fn differential_item_equal_to_the_diagnosis_is_reported() {
    assert_problem(
        &[("name = \"Acute pericarditis\"", "name = \"Inferior STEMI\"")],
        ProblemKind::DifferentialIsDiagnosis,
        "differential[2].name",
    );
}

#[test]
fn key_finding_that_no_item_contains_is_reported() {
    assert_problem(
        &[(
            "source = \"test:ecg\"",
            "source = \"test:ct_head_noncontrast\"",
        )],
        ProblemKind::UnreachableKeyFinding,
        "key_findings[0].source",
    );
    assert_problem(
        &[(
            "source = \"history:location\"",
            "source = \"history:travel\"",
        )],
        ProblemKind::UnreachableKeyFinding,
        "key_findings[3].source",
    );
}

#[test]
fn workup_ordering_a_test_the_case_lacks_is_reported() {
    assert_problem(
        &[(
            "tests = [\"ecg\", \"troponin\"]",
            "tests = [\"ecg\", \"lipase\"]",
        )],
        ProblemKind::WorkupTestNotInCase,
        "reference_workup[3].tests[1]",
    );
}

#[test]
fn presentation_that_names_the_diagnosis_is_reported() {
    assert_problem(
        &[(
            "He is pale and sweaty",
            "An inferior STEMI is suspected. He is pale and sweaty",
        )],
        ProblemKind::NamesDiagnosis,
        "presentation.summary",
    );
}

#[test]
fn catalogue_normal_report_naming_the_diagnosis_forces_the_case_to_list_the_test() {
    // A case whose diagnosis appears in a normal template ("no pneumothorax") must list that test.
    let problems = problems_after(&[(
        "synonyms = [\"Inferior STEMI\",",
        "synonyms = [\"pneumothorax\", \"Inferior STEMI\",",
    )]);
    assert!(
        problems
            .iter()
            .any(|problem| problem.kind == ProblemKind::NamesDiagnosis
                && problem.field.contains("catalogue normal report")),
        "{problems:#?}"
    );
}

#[test]
fn abnormal_value_without_its_coupled_partners_is_reported() {
    let problems = problems_after(&[(
        "{ analyte = \"hemoglobin\", value = 14.9 },",
        "{ analyte = \"hemoglobin\", value = 8.1, flag = \"low\" },",
    )]);
    let incoherent: Vec<&str> = problems
        .iter()
        .filter(|problem| problem.kind == ProblemKind::IncoherentPanel)
        .map(|problem| problem.message.as_str())
        .collect();
    assert_eq!(incoherent.len(), 2, "{problems:#?}");
    assert!(
        incoherent
            .iter()
            .any(|message| message.contains("`hematocrit` is not listed"))
    );
    assert!(
        incoherent
            .iter()
            .any(|message| message.contains("`rbc` is not listed"))
    );
}

#[test]
fn a_setting_or_summary_that_names_the_specialty_is_reported() {
    assert_problem(
        &[(
            "setting = \"emergency department\"",
            "setting = \"cardiology outpatient clinic\"",
        )],
        ProblemKind::NamesSpecialty,
        "presentation.setting",
    );
}

#[test]
fn a_confirmatory_report_has_one_door() {
    // A confirmatory ultrasound whose family sibling (a RUQ ultrasound) is left undecided.
    let undecided = format!(
        "{}\n[[tests]]\nid = \"us_abdomen\"\nreport = \"Normal study.\"\nconfirmatory = true\n",
        VALID_CASE
            .split("[diagnosis]")
            .next()
            .expect("tests come first")
    ) + "[diagnosis]"
        + VALID_CASE.split("[diagnosis]").nth(1).expect("a diagnosis");
    let problems = match parse_case(&undecided, FILE) {
        Ok(case) => validate_case(&case, FILE, Catalogue::builtin(), Icd10::builtin()),
        Err(problem) => vec![problem],
    };
    assert!(
        problems
            .iter()
            .any(|problem| problem.kind == ProblemKind::ConfirmatoryDoor
                && problem.message.contains("ruq_ultrasound")),
        "{problems:#?}"
    );
    // Accepting the sibling decides it; naming a test of another family does not.
    let accepted = undecided.replace(
        "confirmatory = true\n",
        "confirmatory = true\nconfirmed_by = [\"ruq_ultrasound\"]\n",
    );
    let case = parse_case(&accepted, FILE).expect("parses");
    assert_eq!(
        validate_case(&case, FILE, Catalogue::builtin(), Icd10::builtin()),
        vec![]
    );
    assert_eq!(
        case.study(Catalogue::builtin(), "ruq_ultrasound")
            .map(|result| result.id.as_str()),
        Some("us_abdomen")
    );
    let elsewhere = undecided.replace(
        "confirmatory = true\n",
        "confirmatory = true\nconfirmed_by = [\"ruq_ultrasound\", \"ct_head_noncontrast\"]\n",
    );
    let case = parse_case(&elsewhere, FILE).expect("parses");
    let problems = validate_case(&case, FILE, Catalogue::builtin(), Icd10::builtin());
    assert!(
        problems
            .iter()
            .any(|problem| problem.kind == ProblemKind::ConfirmatoryDoor
                && problem.field.ends_with("confirmed_by[1]")),
        "{problems:#?}"
    );
    // Without the door, the sibling gets the catalogue's normal report, never the confirmatory one.
    let closed = parse_case(&undecided, FILE).expect("parses");
    assert!(
        closed
            .study(Catalogue::builtin(), "ruq_ultrasound")
            .is_none()
    );
}

#[test]
fn a_differential_that_all_names_the_diagnosis_leaves_no_belief() {
    let mut text = VALID_CASE.to_string();
    for name in [
        "Acute aortic dissection",
        "Acute pulmonary embolism",
        "Acute pericarditis",
        "Non-ST-elevation myocardial infarction",
    ] {
        text = text.replacen(
            &format!("name = \"{name}\""),
            &format!("name = \"{name} after acute inferior ST-elevation myocardial infarction\""),
            1,
        );
    }
    let case = parse_case(&text, FILE).expect("parses");
    let problems = validate_case(&case, FILE, Catalogue::builtin(), Icd10::builtin());
    assert!(
        problems
            .iter()
            .any(|problem| problem.kind == ProblemKind::NamesDiagnosis
                && problem.field == "differential"),
        "{problems:#?}"
    );
    assert_eq!(
        problems_after(&[]),
        vec![],
        "one item that does not name it is enough"
    );
}

#[test]
fn a_teaching_point_revealed_before_the_debrief_is_reported() {
    assert_problem(
        &[(
            "I smoke about fifteen a day, have done since I was a teenager.",
            "A first troponin may be only mildly raised in the first hours; an unequivocal ECG is enough to activate primary PCI without waiting for it.",
        )],
        ProblemKind::RevealsTeachingPoint,
        "history[",
    );
}

#[test]
fn every_differential_item_has_a_lay_name_that_does_not_name_the_diagnosis() {
    assert_problem(
        &[("lay_name = \"a tear in the main artery\"\n", "")],
        ProblemKind::Missing,
        "differential[0].lay_name",
    );
    assert_problem(
        &[(
            "lay_name = \"a tear in the main artery\"",
            "lay_name = \"an inferior STEMI\"",
        )],
        ProblemKind::NamesDiagnosis,
        "differential[0].lay_name",
    );
}

#[test]
fn history_ids_are_filled_in_well_formed_and_unique() {
    let case = parse_case(VALID_CASE, FILE).expect("parses");
    assert!(case.history.iter().all(|item| !item.id.is_empty()));
    let ids: std::collections::BTreeSet<&str> =
        case.history.iter().map(|item| item.id.as_str()).collect();
    assert_eq!(ids.len(), case.history.len(), "ids are unique");
    assert_problem(
        &[("[[history]]\n", "[[history]]\nid = \"Onset Item\"\n")],
        ProblemKind::BadHistoryId,
        "history[0].id",
    );
    assert_problem(
        &[
            ("[[history]]\n", "[[history]]\nid = \"twice\"\n"),
            ("[[history]]\ntopic", "[[history]]\nid = \"twice\"\ntopic"),
        ],
        ProblemKind::BadHistoryId,
        "history[",
    );
}

#[test]
fn a_case_marked_hard_needs_three_rounds_of_orders() {
    // The fixture orders once: marked hard, that is refused with the count.
    let problems = problems_after(&[(
        "difficulty = \"common\"",
        "difficulty = \"common\"\nhard = true",
    )]);
    let not_hard: Vec<_> = problems
        .iter()
        .filter(|problem| problem.kind == ProblemKind::NotHard)
        .collect();
    assert_eq!(not_hard.len(), 1, "{problems:#?}");
    assert!(
        not_hard[0].message.contains("1 round(s)"),
        "{}",
        not_hard[0]
    );
}

#[test]
fn a_review_must_be_complete_and_by_someone_else() {
    let review = "created = \"2026-11-24\"\n\n[provenance.review]\nreviewer = \"dxsim clinical reviewer\"\ndate = \"2026-12-07\"\nchecklist = [\"physiology_and_units\", \"timeline\", \"icd10_specificity\", \"workup_safety\", \"key_findings_reachable\", \"original_text\"]\nnotes = \"No changes.\"";
    assert_eq!(
        problems_after(&[("created = \"2026-11-24\"", review)]),
        vec![]
    );
    let partial = review.replace(", \"original_text\"", "");
    assert_problem(
        &[("created = \"2026-11-24\"", &partial)],
        ProblemKind::IncompleteReview,
        "provenance.review.checklist",
    );
    let by_the_author = review.replace("dxsim clinical reviewer", "dxsim clinical authors");
    assert_problem(
        &[("created = \"2026-11-24\"", &by_the_author)],
        ProblemKind::IncompleteReview,
        "provenance.review.reviewer",
    );
}

#[test]
fn pregnancy_is_only_for_women_of_an_age_to_be_pregnant() {
    assert_problem(
        &[(
            "difficulty = \"common\"",
            "difficulty = \"common\"\npregnancy_weeks = 30",
        )],
        ProblemKind::Implausible,
        "pregnancy_weeks",
    );
    assert_eq!(
        problems_after(&[
            (
                "difficulty = \"common\"",
                "difficulty = \"common\"\npregnancy_weeks = 30"
            ),
            ("sex = \"male\"", "sex = \"female\""),
        ])
        .into_iter()
        .filter(|problem| problem.field == "pregnancy_weeks")
        .count(),
        0
    );
}

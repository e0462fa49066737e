//! The case linter on fixtures: each physiological check fires on the inconsistency it is for and stays
//! quiet on the valid fixture.

use dxsim_gatekeeper::case::{lint_case, parse_case};

use crate::VALID_CASE;

fn findings_after(replacements: &[(&str, &str)]) -> Vec<String> {
    let mut text = VALID_CASE.to_string();
    for (from, to) in replacements {
        assert!(text.contains(from), "fixture lacks {from:?}");
        text = text.replacen(from, to, 1);
    }
    let case = parse_case(&text, "fixture-valid.toml").expect("parses");
    lint_case(&case, "fixture-valid.toml")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn valid_fixture_lints_clean() {
    assert_eq!(findings_after(&[]), Vec::<String>::new());
}

#[test]
fn implausible_anion_gap_is_found() {
    let findings = findings_after(&[(
        "{ analyte = \"chloride\", value = 103 }",
        "{ analyte = \"chloride\", value = 125, flag = \"high\" }",
    )]);
    assert!(
        findings
            .iter()
            .any(|finding| finding.contains("anion gap 139 − (125 + 24) = -10")),
        "{findings:?}"
    );
}

#[test]
fn ecg_rate_that_differs_from_the_vitals_is_found() {
    let findings = findings_after(&[(
        "Sinus bradycardia, rate 52 per minute.",
        "Sinus bradycardia, rate 44 per minute.",
    )]);
    assert!(
        findings.iter().any(|finding| finding
            .contains("ECG rate 44/min differs from the vital-sign heart rate 52/min")),
        "{findings:?}"
    );
}

#[test]
fn haematocrit_out_of_step_with_haemoglobin_is_found() {
    let findings = findings_after(&[(
        "{ analyte = \"hemoglobin\", value = 14.9 },",
        "{ analyte = \"hemoglobin\", value = 14.9 },\n  { analyte = \"hematocrit\", value = 30.0, flag = \"low\" },\n  { analyte = \"rbc\", value = 4.9 },\n  { analyte = \"mcv\", value = 90 },",
    )]);
    assert!(
        findings
            .iter()
            .any(|finding| finding.contains("haematocrit 30% is 2.0 × haemoglobin")),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|finding| finding.contains("red-cell count 4.9 does not fit")),
        "{findings:?}"
    );
}

#[test]
fn differential_larger_than_the_white_count_is_found() {
    let findings = findings_after(&[(
        "{ analyte = \"neutrophils\", value = 9.2, flag = \"high\" },",
        "{ analyte = \"neutrophils\", value = 9.2, flag = \"high\" },\n  { analyte = \"lymphocytes\", value = 4.5 },",
    )]);
    assert!(
        findings
            .iter()
            .any(|finding| finding.contains("differential adds up to 13.7")),
        "{findings:?}"
    );
}

#[test]
fn workup_without_examination_is_found() {
    let findings = findings_after(&[
        (
            "type = \"examine\"\nsystem = \"vitals\"",
            "type = \"ask\"\ntext = \"Any other symptoms?\"",
        ),
        (
            "type = \"examine\"\nsystem = \"cardiovascular\"",
            "type = \"ask\"\ntext = \"Any palpitations?\"",
        ),
    ]);
    assert!(
        findings
            .iter()
            .any(|finding| finding.contains("never examines the patient")),
        "{findings:?}"
    );
}

//! Case linting: consistency beyond what the schema and the validator can state as rules.
//!
//! The validator rejects what is wrong by definition (an unknown test, a flag that contradicts its
//! range). The linter looks for what a clinician reviewer would question: physiology that does not add
//! up (anion gap, Henderson–Hasselbalch, red-cell indices, the white-cell differential), a heart rate in
//! the ECG report that differs from the vital signs, history that skips the basics, a reference
//! work-up that never asks or never examines. Each finding names the case file and field.

use std::fmt;

use crate::case::{Case, HistoryTopic, WorkupStep};

/// One thing a reviewer would question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintFinding {
    /// The case file.
    pub file: String,
    /// The field at issue.
    pub field: String,
    /// What looks wrong, with the numbers.
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.message)
    }
}

/// History topics every adult case should cover.
const ESSENTIAL_TOPICS: &[HistoryTopic] = &[
    HistoryTopic::PastHistory,
    HistoryTopic::Medications,
    HistoryTopic::Allergies,
];

/// Lints one case that already passed validation.
pub fn lint_case(case: &Case, file: &str) -> Vec<LintFinding> {
    let mut findings = Vec::new();
    let mut flag = |field: &str, message: String| {
        findings.push(LintFinding {
            file: file.to_string(),
            field: field.to_string(),
            message,
        });
    };
    let value = |analyte: &str| case.analyte(analyte).and_then(|result| result.value);

    if let (Some(sodium), Some(chloride), Some(bicarbonate)) =
        (value("sodium"), value("chloride"), value("bicarbonate"))
    {
        let gap = sodium - chloride - bicarbonate;
        if !(3.0..=35.0).contains(&gap) {
            flag(
                "tests",
                format!(
                    "anion gap {sodium} − ({chloride} + {bicarbonate}) = {gap:.0} mmol/L is implausible"
                ),
            );
        }
    }
    if let (Some(ph), Some(pco2), Some(bicarbonate)) =
        (value("ph"), value("pco2"), value("abg_bicarbonate"))
    {
        let expected = 6.1 + (bicarbonate / (0.03 * pco2)).log10();
        if (expected - ph).abs() > 0.06 {
            flag(
                "tests",
                format!(
                    "blood gas pH {ph} does not fit pCO2 {pco2} and bicarbonate {bicarbonate} (Henderson–Hasselbalch gives {expected:.2})"
                ),
            );
        }
    }
    if let (Some(hemoglobin), Some(hematocrit)) = (value("hemoglobin"), value("hematocrit")) {
        let ratio = hematocrit / hemoglobin;
        if !(2.6..=3.6).contains(&ratio) {
            flag(
                "tests",
                format!(
                    "haematocrit {hematocrit}% is {ratio:.1} × haemoglobin {hemoglobin} g/dL; expected about 3"
                ),
            );
        }
        if let (Some(rbc), Some(mcv)) = (value("rbc"), value("mcv")) {
            let implied = hematocrit / mcv * 10.0;
            if (implied - rbc).abs() / implied > 0.15 {
                flag(
                    "tests",
                    format!(
                        "red-cell count {rbc} does not fit haematocrit {hematocrit}% and MCV {mcv} fL (expected about {implied:.2})"
                    ),
                );
            }
        }
    }
    if let Some(wbc) = value("wbc") {
        let differential: f64 = [
            "neutrophils",
            "lymphocytes",
            "monocytes",
            "eosinophils",
            "basophils",
        ]
        .iter()
        .filter_map(|cell| value(cell))
        .sum();
        if differential > wbc * 1.1 + 0.2 {
            flag(
                "tests",
                format!(
                    "the listed differential adds up to {differential:.1}, more than the white count {wbc}"
                ),
            );
        }
    }
    if let Some(ecg) = case.test("ecg").and_then(|test| test.report.as_deref()) {
        if let Some(rate) = stated_rate(ecg) {
            if rate.abs_diff(case.vitals.heart_rate) > 5 {
                flag(
                    "tests.ecg.report",
                    format!(
                        "the ECG rate {rate}/min differs from the vital-sign heart rate {}/min",
                        case.vitals.heart_rate
                    ),
                );
            }
        }
    }
    let adult = case.presentation.age_years >= 16;
    for topic in ESSENTIAL_TOPICS.iter().filter(|_| adult) {
        if !case.history.iter().any(|item| item.topic == *topic) {
            flag("history", format!("no item on `{}`", topic.as_str()));
        }
    }
    let negatives = case.history.iter().filter(|item| item.negative).count();
    if negatives < 2 {
        flag(
            "history",
            format!("only {negatives} pertinent negative(s); a careful history has several"),
        );
    }
    if !case
        .reference_workup
        .iter()
        .any(|step| matches!(step, WorkupStep::Ask { .. }))
    {
        flag(
            "reference_workup",
            "never asks the patient anything".to_string(),
        );
    }
    if !case
        .reference_workup
        .iter()
        .any(|step| matches!(step, WorkupStep::Examine { .. }))
    {
        flag("reference_workup", "never examines the patient".to_string());
    }
    if case.differential.len() < 4 {
        flag(
            "differential",
            format!(
                "{} items; four or more make a better teaching case",
                case.differential.len()
            ),
        );
    }
    findings
}

/// The heart rate an ECG report states ("rate 92 per minute", "rate of 150 bpm"), if any.
fn stated_rate(report: &str) -> Option<u32> {
    let lower = report.to_lowercase();
    let at = lower.find("rate")?;
    lower[at + 4..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|digits| digits.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecg_rate_is_read_from_report_text() {
        assert_eq!(stated_rate("Sinus rhythm, rate 92 per minute."), Some(92));
        assert_eq!(
            stated_rate("Atrial fibrillation with a ventricular rate of 150 bpm"),
            Some(150)
        );
        assert_eq!(stated_rate("Normal sinus rhythm."), None);
    }
}

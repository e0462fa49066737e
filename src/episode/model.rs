//! What the engine asks of a language model, and how it folds the reply in.
//!
//! A step that needs a model — a question to an LLM patient, or an examination or text-reported test
//! the case does not record when the gatekeeper is an LLM — is taken in two halves: the engine builds
//! the prompt ([`ModelPrompt`]), the caller sends it wherever it likes (so an episode waiting on a model
//! never holds the schedule), and the step is then taken with the reply, which is logged with it so the
//! episode replays exactly.
//!
//! The LLM gatekeeper (after SDBench) sees the whole case and writes only the findings the case lacks
//! for the exact items requested; everything the case records, every refusal of a vague or
//! interpretive request, billing, and numeric results (seeded normal values) stay with the rule-based
//! gatekeeper. Its replies pass the same guard as the patient's: a line naming the diagnosis is dropped
//! and the rule-based finding is shown instead.

use std::collections::BTreeMap;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply, format_vitals};
use dxsim_gatekeeper::text::normalize;

use crate::patient::llm::PatientPrompt;

/// A prompt the engine needs answered before it can take a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPrompt {
    /// The LLM patient's prompt for a question.
    Patient(PatientPrompt),
    /// The LLM gatekeeper's prompt for findings the case does not record.
    Gatekeeper(GatekeeperPrompt),
}

/// What the LLM gatekeeper is asked: the whole case, and the items to write findings for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatekeeperPrompt {
    /// The rules and the full case.
    pub system: String,
    /// The request: the items, one per line, by id and name.
    pub request: String,
    /// The items asked for: (id, display name), exam systems or text-reported tests.
    pub items: Vec<(String, String)>,
}

/// An item of a gatekeeper reply the case does not record and the model may write.
pub(crate) fn synthetic_exam_item(
    reply: &dxsim_gatekeeper::disclosure::Revealed<ExamReply>,
) -> Option<(String, String)> {
    match &reply.public {
        ExamReply::Finding { system, name, .. }
            if reply.synthetic.iter().any(|id| **id == **system) =>
        {
            Some((system.clone(), name.clone()))
        }
        _ => None,
    }
}

/// A text-reported test the case does not record, which the model may write.
pub(crate) fn synthetic_report_item(
    reply: &dxsim_gatekeeper::disclosure::Revealed<OrderReply>,
) -> Option<(String, String)> {
    match &reply.public {
        OrderReply::Reported { report, .. }
            if report.text.is_some() && reply.synthetic.iter().any(|id| **id == *report.test) =>
        {
            Some((report.test.clone(), report.name.clone()))
        }
        _ => None,
    }
}

/// The gatekeeper's prompt for `items` of `case`.
pub(crate) fn gatekeeper_prompt(case: &Case, items: Vec<(String, String)>) -> GatekeeperPrompt {
    let shown = &case.presentation;
    let mut system = String::from(
        "You are the gatekeeper of a diagnostic simulation: you hold a patient's full record and \
answer a doctor's requests for examinations and tests. The record below does not contain the items \
the doctor has just requested. For each, write the finding a clinician would report for this patient: \
consistent with everything in the record, normal unless the record implies otherwise, in the style of \
a clinical report, one or two sentences. Report findings only: no interpretation, no advice, no \
differential, and never name or hint at the diagnosis. Reply with one line per item, as `ID: finding`, \
using the ids given.\n\nThe record:\n",
    );
    system.push_str(&format!(
        "Patient: {}-year-old {}, {}. {}\n",
        shown.age_years,
        shown.sex.as_str(),
        shown.setting,
        shown.summary
    ));
    system.push_str("History:\n");
    for item in &case.history {
        system.push_str(&format!("- {}: {}\n", item.topic.as_str(), item.text));
    }
    if case.vitals.is_recorded() {
        system.push_str(&format!("Vital signs: {}\n", format_vitals(case)));
    }
    system.push_str("Examination:\n");
    for finding in &case.exam {
        system.push_str(&format!("- {}: {}\n", finding.system, finding.text));
    }
    system.push_str("Tests:\n");
    for test in &case.tests {
        let mut line = format!("- {}:", test.id);
        for result in &test.results {
            match (&result.value, &result.text) {
                (Some(value), _) => line.push_str(&format!(
                    " {} {value} {};",
                    result.analyte,
                    result.unit.as_deref().unwrap_or("")
                )),
                (None, Some(text)) => line.push_str(&format!(" {} {text};", result.analyte)),
                (None, None) => {}
            }
        }
        if let Some(report) = &test.report {
            line.push_str(&format!(" {report}"));
        }
        system.push_str(&line);
        system.push('\n');
    }
    system.push_str(&format!(
        "Diagnosis (never to be revealed): {}\n",
        case.diagnosis.name
    ));
    let request = items
        .iter()
        .map(|(id, name)| format!("{id} ({name})"))
        .collect::<Vec<_>>()
        .join("\n");
    GatekeeperPrompt {
        system,
        request: format!("The doctor requests:\n{request}"),
        items,
    }
}

/// Reads the gatekeeper's `ID: finding` lines, keyed by id; lines naming the diagnosis, a synonym or
/// its code are dropped.
pub(crate) fn gatekeeper_findings(case: &Case, reply: &str) -> BTreeMap<String, String> {
    let names = crate::judge::diagnosis_names(case);
    let mut findings = BTreeMap::new();
    for line in reply.lines() {
        let line = line.trim().trim_start_matches(['-', '*', ' ']);
        let Some((id, text)) = line.split_once(':') else {
            continue;
        };
        let id = id.trim().trim_matches(['`', '*']).to_string();
        let text = text.trim();
        if id.is_empty() || text.is_empty() || names.found_in(text).is_some() {
            continue;
        }
        findings.insert(normalize(&id), text.to_string());
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::CaseLibrary;

    #[test]
    fn findings_parse_by_id_and_leaks_are_dropped() {
        let library = CaseLibrary::builtin().expect("library");
        let case = library.get("cardio-chest-pressure-snow").expect("case");
        let reply = format!(
            "- skin: Pale and clammy, no rash.\n`eyes`: Pupils equal and reactive.\nabdomen: consistent with {}.\nnonsense line",
            case.diagnosis.synonyms[0]
        );
        let findings = gatekeeper_findings(case, &reply);
        assert_eq!(
            findings.get("skin").map(String::as_str),
            Some("Pale and clammy, no rash.")
        );
        assert!(findings.contains_key("eyes"));
        assert!(!findings.contains_key("abdomen"));
    }

    #[test]
    fn the_prompt_holds_the_whole_case_and_the_items() {
        let library = CaseLibrary::builtin().expect("library");
        let case = library.get("cardio-chest-pressure-snow").expect("case");
        let prompt = gatekeeper_prompt(case, vec![("skin".into(), "Skin".into())]);
        assert!(prompt.system.contains(&case.diagnosis.name));
        assert!(prompt.system.contains(&case.exam[0].text));
        assert!(prompt.request.contains("skin (Skin)"));
    }
}

//! Reachability: whether a case's reference work-up reveals every one of its key findings.
//!
//! The work-up is played as an episode would play it: its questions go to the rule-based patient
//! (without a bias), its examinations and orders to the gatekeeper. A key finding the work-up leaves
//! unrevealed means either the work-up is incomplete (a clinician would add the question, exam or
//! test) or the patient does not understand the question; either way the oracle's figures would be
//! wrong, so `dxsim cases validate` reports it.

use std::collections::BTreeSet;
use std::sync::Arc;

use dxsim_gatekeeper::case::{FindingTarget, KeyFinding, WorkupStep};
use dxsim_gatekeeper::disclosure::{DisclosureState, Gatekeeper, OrderReply};
use dxsim_gatekeeper::resolve::Resolver;
use dxsim_gatekeeper::{Case, Catalogue};
use rand::SeedableRng;

use crate::patient::RuleBasedPatient;

/// What a played reference work-up revealed.
#[derive(Debug, Default)]
struct Uncovered {
    history_items: BTreeSet<usize>,
    systems: BTreeSet<String>,
    tests: BTreeSet<String>,
    disclosure: DisclosureState,
}

/// The indices of `case`'s key findings that its reference work-up leaves unrevealed, in case
/// order.
pub fn unrevealed_key_findings(case: &Arc<Case>, catalogue: &Catalogue) -> Vec<usize> {
    let uncovered = play_workup(case, catalogue);
    case.key_findings
        .iter()
        .enumerate()
        .filter(|(_, finding)| !is_uncovered(finding, case, catalogue, &uncovered))
        .map(|(index, _)| index)
        .collect()
}

fn play_workup(case: &Arc<Case>, catalogue: &Catalogue) -> Uncovered {
    let patient = RuleBasedPatient::new(Arc::clone(case));
    let resolver = Resolver::new(catalogue);
    let gatekeeper = Gatekeeper::new(&resolver, case, 0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut uncovered = Uncovered::default();
    for step in &case.reference_workup {
        match step {
            WorkupStep::Ask { text } => {
                let reply = patient.answer(text, &mut rng, None);
                uncovered.history_items.extend(reply.items);
            }
            WorkupStep::Examine { system } => {
                uncovered.systems.insert(system.clone());
            }
            WorkupStep::Order { tests } => {
                for revealed in gatekeeper.order_items(tests, &mut uncovered.disclosure) {
                    if let OrderReply::Reported { report, .. } = revealed.public {
                        uncovered.tests.insert(report.test);
                    }
                }
            }
        }
    }
    uncovered
}

/// Whether the played work-up revealed a key finding's source, by the rules the episode applies.
fn is_uncovered(
    finding: &KeyFinding,
    case: &Case,
    catalogue: &Catalogue,
    uncovered: &Uncovered,
) -> bool {
    match finding.target() {
        Some(FindingTarget::History(target)) => uncovered.history_items.iter().any(|&index| {
            case.history
                .get(index)
                .is_some_and(|item| item.answers(target))
        }),
        Some(FindingTarget::Exam(system)) => uncovered.systems.contains(system),
        Some(FindingTarget::Vitals(_)) => uncovered.systems.contains("vitals"),
        Some(FindingTarget::Analyte { analyte, .. }) => uncovered.disclosure.has_reported(analyte),
        Some(FindingTarget::Test(test)) => uncovered
            .tests
            .iter()
            .any(|reported| case.report_reaches(catalogue, reported, test)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::CaseLibrary;

    #[test]
    fn the_snow_case_work_up_reveals_every_key_finding() {
        let library = CaseLibrary::builtin().expect("the built-in library loads");
        let case = library
            .get("cardio-chest-pressure-snow")
            .expect("the case exists");
        assert!(unrevealed_key_findings(case, Catalogue::builtin()).is_empty());
    }

    #[test]
    fn a_work_up_without_the_ecg_leaves_its_finding_unrevealed() {
        let library = CaseLibrary::builtin().expect("the built-in library loads");
        let mut case = (**library
            .get("cardio-chest-pressure-snow")
            .expect("the case exists"))
        .clone();
        for step in &mut case.reference_workup {
            if let WorkupStep::Order { tests } = step {
                tests.retain(|test| test != "ecg");
            }
        }
        let ecg = case
            .key_findings
            .iter()
            .position(|finding| finding.source == "test:ecg")
            .expect("the case has an ECG key finding");
        assert_eq!(
            unrevealed_key_findings(&Arc::new(case), Catalogue::builtin()),
            vec![ecg]
        );
    }
}

//! The rule-based patient on the real library.

use dxsim::library::CaseLibrary;
use dxsim::patient::RuleBasedPatient;
use dxsim_gatekeeper::case::WorkupStep;
use dxsim_gatekeeper::text::{contains_phrase, normalize};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn every_reference_workup_question_reaches_the_history() {
    let library = CaseLibrary::builtin().expect("valid library");
    let mut misses = Vec::new();
    for case in library.cases() {
        let patient = RuleBasedPatient::new(case.clone());
        for step in &case.reference_workup {
            if let WorkupStep::Ask { text } = step {
                let reply = patient.answer(text, &mut ChaCha8Rng::seed_from_u64(0), None);
                if reply.items.is_empty() {
                    misses.push(format!("{}: {text:?}", case.id));
                }
            }
        }
    }
    assert!(
        misses.is_empty(),
        "questions that reach nothing:\n{}",
        misses.join("\n")
    );
}

#[test]
fn no_answer_ever_names_the_diagnosis() {
    let library = CaseLibrary::builtin().expect("valid library");
    let questions = [
        "What brings you in today? When did it start?",
        "Any other symptoms? Fever, weight loss, night sweats?",
        "Any medical history, medications or allergies?",
        "Does anything run in the family? Do you smoke or drink?",
        "Any travel, sick contacts, animals? Any sexual partners? When was your last period?",
        "Do you know what is wrong with you?",
    ];
    for case in library.cases() {
        let patient = RuleBasedPatient::new(case.clone());
        let names: Vec<String> = std::iter::once(&case.diagnosis.name)
            .chain(&case.diagnosis.synonyms)
            .map(|name| normalize(name))
            .collect();
        for question in questions {
            let reply = normalize(
                &patient
                    .answer(question, &mut ChaCha8Rng::seed_from_u64(3), None)
                    .text,
            );
            for name in &names {
                assert!(
                    !contains_phrase(&reply, name),
                    "{}: {question:?} revealed {name:?}",
                    case.id
                );
            }
        }
    }
}

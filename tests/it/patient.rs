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

/// The ids a question reveals, asked first of a fresh patient of `case`.
fn revealed(case: &str, question: &str) -> Vec<String> {
    let library = CaseLibrary::builtin().expect("valid library");
    let patient = RuleBasedPatient::new(library.get(case).expect("case").clone());
    let reply = patient.answer(question, &mut ChaCha8Rng::seed_from_u64(0), None);
    patient.item_ids(&reply.items)
}

#[test]
fn the_patient_understands_lay_words_typos_plurals_and_bundles() {
    const SNOW: &str = "cardio-chest-pressure-snow";
    // A drug class reaches the drug the case names; a jab the vaccinations.
    assert_eq!(
        revealed(
            "vasc-cold-numb-right-leg-woman",
            "Are you on any blood thinners?"
        ),
        ["past_history"]
    );
    assert_eq!(
        revealed(
            "ent-sore-throat-fever-schoolgirl",
            "Have you had your jabs?"
        ),
        ["past_history"]
    );
    // A misspelling, an inflection, a bundle of two topics.
    assert_eq!(revealed(SNOW, "Any temprature?"), ["associated_symptoms-2"]);
    assert_eq!(
        revealed(SNOW, "What tablets were you taking?"),
        ["medications"]
    );
    assert_eq!(
        revealed(SNOW, "Do you drink, and what tablets do you take?"),
        ["medications", "social"]
    );
    // Only what was asked: no onset item added to an unrelated answer.
    assert_eq!(revealed(SNOW, "When did the pain start?"), ["onset"]);
    assert_eq!(revealed(SNOW, "Does the pain go anywhere?"), ["location"]);
}

#[test]
fn a_question_the_case_cannot_answer_gets_i_dont_know() {
    let library = CaseLibrary::builtin().expect("valid library");
    let case = library.get("cardio-chest-pressure-snow").expect("case");
    let patient = RuleBasedPatient::new(case.clone());
    for question in [
        "Do you keep any pets?",
        "Have you had any dental work recently?",
        "Any family history of deafness?",
    ] {
        let reply = patient.answer(question, &mut ChaCha8Rng::seed_from_u64(0), None);
        assert!(
            reply.items.is_empty() && reply.unknown,
            "{question}: {}",
            reply.text
        );
    }
}

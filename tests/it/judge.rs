//! The judge against its adversaries: lists, negations and hedges never earn credit, on the judge
//! directly (a property test over the library's diagnoses), in episodes (refused at no cost, or
//! scored by the `multiple_diagnoses` option) and for the built-in gaming agents over the whole
//! library; every case's own name and synonyms still score 5.

use dxsim::action::Action;
use dxsim::agents::Doctor;
use dxsim::agents::gaming::{GamingDoctor, GamingStrategy, diagnoses_by_specialty};
use dxsim::episode::{Env, EpisodeOptions, Finding, MultipleDiagnoses};
use dxsim::judge::answer::LINKS;
use dxsim::judge::{CORRECT_AT, Reference, RuleJudge};
use dxsim::library::CaseLibrary;
use proptest::prelude::*;
use std::sync::Arc;

use crate::episode::options_for;

fn library() -> &'static CaseLibrary {
    CaseLibrary::builtin().expect("valid library")
}

fn judge() -> &'static RuleJudge {
    RuleJudge::shared()
}

#[test]
fn every_case_name_and_synonym_scores_five() {
    let mut wrong = Vec::new();
    for case in library().cases() {
        let reference = Reference::from(&case.diagnosis);
        for name in std::iter::once(&case.diagnosis.name).chain(&case.diagnosis.synonyms) {
            let verdict = judge().judge(reference, name, None);
            if verdict.score < 5 {
                wrong.push(format!("{}: {name:?} → {verdict:?}", case.id));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// How a list of diagnoses is written.
const LIST_FORMS: &[&str] = &[
    "{a}, {b}",
    "{a} or {b}",
    "{a} vs {b}",
    "{a} versus {b}",
    "{a}/{b}",
    "{a}; {b}",
    "{a}\n{b}",
    "{a} and {b}",
    "{a} + {b}",
    "Differential: {a}, {b}",
    "DDx: {a}",
    "{a}, {b}, {a}",
    "1. {a} 2. {b}",
    "{a} (or {b})",
    "Most likely {a}, but {b} possible",
    "{b}. {a}.",
];

/// How a reference is negated or hedged.
const NEGATION_FORMS: &[&str] = &[
    "No {a}",
    "not {a}",
    "{a} ruled out",
    "{a} has been excluded",
    "{a} unlikely",
    "unlikely to be {a}",
    "no evidence of {a}",
    "negative for {a}",
    "possible {a}",
    "?{a}",
    "{a}?",
    "query {a}",
    "cannot exclude {a}",
    "rule out {a}",
    "r/o {a}",
];

/// Whether two library diagnoses are different conditions (the judge does not take one for the other).
/// The property tests' seed: `PROPTEST_RNG_SEED` when set (a number, or `random`), else a fixed one.
fn proptest_seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match std::env::var("PROPTEST_RNG_SEED") {
        Ok(seed) if seed == "random" => RngSeed::Random,
        Ok(seed) => seed.parse().map_or(RngSeed::Fixed(1), RngSeed::Fixed),
        Err(_) => RngSeed::Fixed(1),
    }
}

fn distinct(a: &dxsim_gatekeeper::case::Diagnosis, b: &dxsim_gatekeeper::case::Diagnosis) -> bool {
    judge().judge(Reference::from(a), &b.name, None).score < CORRECT_AT
        && judge().judge(Reference::from(b), &a.name, None).score < CORRECT_AT
}

proptest! {
    // A fixed seed: the same 1,000 pairs in every run, so that CI's verdict does not depend on the
    // draw. Run with PROPTEST_RNG_SEED=random (or another number) to explore further; pairs found
    // that way and not yet fixed are listed in the judge issue's notes.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        rng_seed: proptest_seed(),
        ..ProptestConfig::default()
    })]

    /// No answer that names two alternative conditions scores 4 or more against either.
    #[test]
    fn a_list_of_two_conditions_is_never_correct(
        first in 0usize..1000,
        second in 0usize..1000,
        form in 0usize..LIST_FORMS.len(),
        upper in any::<bool>(),
    ) {
        let cases = library().cases();
        let a = &cases[first % cases.len()].diagnosis;
        let b = &cases[second % cases.len()].diagnosis;
        prop_assume!(distinct(a, b));
        let mut answer = LIST_FORMS[form].replace("{a}", &a.name).replace("{b}", &b.name);
        if upper {
            answer = answer.to_uppercase();
        }
        // "A with X and B": an "and" after A's own link joins B to A's complications, so the
        // answer is A (with complications) and may be credited for A; B must never be.
        let b_is_a_complication = LIST_FORMS[form] == "{a} and {b}"
            && LINKS.iter().any(|link| a.name.to_lowercase().contains(link));
        for reference in [a, b] {
            if b_is_a_complication && std::ptr::eq(reference, a) {
                continue;
            }
            let verdict = judge().judge(Reference::from(reference), &answer, None);
            prop_assert!(
                verdict.score < CORRECT_AT,
                "{answer:?} against {:?}: {verdict:?}", reference.name
            );
        }
    }

    /// No answer that negates, excludes or hedges the reference scores 4 or more.
    #[test]
    fn a_negated_or_hedged_reference_is_never_correct(
        case in 0usize..1000,
        form in 0usize..NEGATION_FORMS.len(),
        synonym in 0usize..4,
    ) {
        let cases = library().cases();
        let diagnosis = &cases[case % cases.len()].diagnosis;
        let name = diagnosis.synonyms.get(synonym).unwrap_or(&diagnosis.name);
        let answer = NEGATION_FORMS[form].replace("{a}", name);
        let verdict = judge().judge(Reference::from(diagnosis), &answer, None);
        prop_assert!(verdict.score < CORRECT_AT, "{answer:?}: {verdict:?}");
    }
}

#[test]
fn a_list_is_refused_at_no_cost_and_the_episode_goes_on() {
    let case = &library().cases()[0];
    let mut env = Env::new(library());
    env.reset(7, options_for(&case.id)).expect("reset");
    let list = format!("{}, pneumonia, migraine", case.diagnosis.name);
    let step = env
        .step(Action::Diagnose {
            diagnosis: list,
            icd10: None,
        })
        .expect("step");
    assert!(!step.terminated && !step.truncated, "{step:?}");
    assert_eq!(step.reward, 0.0);
    assert!(step.info.charges.is_empty(), "{:?}", step.info.charges);
    assert!(
        step.observation
            .findings
            .iter()
            .any(|finding| matches!(finding, Finding::DiagnosisRefused { .. })),
        "{:?}",
        step.observation
    );
    assert!(step.observation.text.contains("Name one final diagnosis"));
    assert_eq!(step.info.turn, 1);
    // One diagnosis afterwards is scored as usual.
    let end = env
        .step(Action::Diagnose {
            diagnosis: case.diagnosis.name.clone(),
            icd10: None,
        })
        .expect("step");
    assert!(end.terminated && end.reward == 1.0, "{end:?}");
}

#[test]
fn the_text_protocol_refuses_a_hedge_too() {
    let case = &library().cases()[0];
    let mut env = Env::new(library());
    env.reset(7, options_for(&case.id)).expect("reset");
    let step = env
        .step_text(&format!(
            "DIAGNOSIS READY: possible {}",
            case.diagnosis.name
        ))
        .expect("step");
    assert!(!step.terminated, "{step:?}");
    assert!(
        step.observation.text.contains("held open"),
        "{}",
        step.observation.text
    );
}

#[test]
fn score_first_and_score_lowest_end_the_episode_on_a_list() {
    let case = &library().cases()[0];
    let list = format!("{} or migraine", case.diagnosis.name);
    let mut env = Env::new(library());
    let mut ending = |policy| {
        let options = EpisodeOptions {
            multiple_diagnoses: policy,
            ..options_for(&case.id)
        };
        env.reset(7, options).expect("reset");
        env.step(Action::Diagnose {
            diagnosis: list.clone(),
            icd10: None,
        })
        .expect("step")
    };
    let first = ending(MultipleDiagnoses::ScoreFirst);
    assert!(first.terminated && first.reward == 1.0, "{first:?}");
    let lowest = ending(MultipleDiagnoses::ScoreLowest);
    assert!(lowest.terminated && lowest.reward == 0.0, "{lowest:?}");
}

#[test]
fn a_negation_is_scored_and_not_credited() {
    let case = &library().cases()[0];
    let mut env = Env::new(library());
    env.reset(7, options_for(&case.id)).expect("reset");
    let step = env
        .step(Action::Diagnose {
            diagnosis: format!("{} ruled out", case.diagnosis.name),
            icd10: None,
        })
        .expect("step");
    assert!(step.terminated && step.reward == 0.0, "{step:?}");
}

/// Plays `doctor` on every case of the library; returns how many episodes it diagnosed correctly.
fn correct_over_library(mut doctor: impl FnMut(u64) -> Box<dyn Doctor>) -> (usize, usize) {
    let mut env = Env::new(library());
    let mut correct = 0;
    let cases = library().cases();
    for (index, case) in cases.iter().enumerate() {
        let mut doctor = doctor(index as u64);
        let (mut observation, _) = env.reset(3, options_for(&case.id)).expect("reset");
        loop {
            let step = env.step(doctor.act(&observation)).expect("step");
            if step.terminated || step.truncated {
                let outcome = step.info.outcome.expect("outcome at the end");
                correct += usize::from(outcome.verdict.is_some_and(|verdict| verdict.correct));
                break;
            }
            observation = step.observation;
        }
    }
    (correct, cases.len())
}

#[test]
fn gaming_agents_score_at_chance_or_below_over_the_library() {
    let diagnoses = diagnoses_by_specialty(library());
    for strategy in GamingStrategy::ALL {
        let (correct, episodes) = correct_over_library(|seed| {
            Box::new(GamingDoctor::new(strategy, Arc::clone(&diagnoses), seed))
        });
        let rate = correct as f64 / episodes as f64;
        eprintln!("gaming:{}: {correct}/{episodes}", strategy.name());
        let ceiling = match strategy {
            // One guess among the library's ~150 diagnoses: chance is under 1 %. With nothing at
            // reset that gives the specialty away, a guess within the specialty it could infer is
            // the same blind guess (it scored 21 % while the presentation showed the specialty).
            GamingStrategy::RandomGuess | GamingStrategy::SpecialtyGuess => 0.03,
            _ => 0.01,
        };
        assert!(
            rate <= ceiling,
            "gaming:{} scored {correct}/{episodes}",
            strategy.name()
        );
    }
}

#[test]
fn every_library_diagnosis_reads_as_one_answer() {
    let mut several = Vec::new();
    for case in library().cases() {
        for name in std::iter::once(&case.diagnosis.name).chain(&case.diagnosis.synonyms) {
            let reading = judge().read_answer(name);
            // "A with B and C" names three conditions (DESIGN.md §3.7): read as a list on purpose,
            // and still the case's own name when given verbatim.
            let three_conditions = name.contains(" with ") && name.contains(" and ");
            if reading.one().is_none() && !three_conditions {
                several.push(format!("{}: {name:?} → {reading:?}", case.id));
            }
        }
    }
    assert!(several.is_empty(), "{}", several.join("\n"));
}

//! Patient biases through the engine: each changes behaviour as documented, none changes an objective
//! finding, and every episode ends with the patient's metrics.

use dxsim::action::Action;
use dxsim::episode::{CaseSelector, Env, EnvError, EpisodeOptions, Finding, Step};
use dxsim::library::CaseLibrary;
use dxsim::patient::bias::{BiasKind, BiasSpec, DoctorProfile};

const CASE: &str = "cardio-chest-pressure-snow";
const SOCIAL: &str = "Do you smoke or drink alcohol?";

fn options(bias: Option<BiasSpec>, doctor: DoctorProfile) -> EpisodeOptions {
    EpisodeOptions {
        case: CaseSelector {
            id: Some(CASE.into()),
            ..CaseSelector::default()
        },
        patient_bias: bias,
        doctor,
        ..EpisodeOptions::default()
    }
}

fn env(options: EpisodeOptions) -> Env {
    let mut env = Env::new(CaseLibrary::builtin().expect("valid"));
    env.reset(11, options).expect("reset");
    env
}

fn ask(env: &mut Env, text: &str) -> String {
    env.step(Action::Ask { text: text.into() })
        .expect("step")
        .observation
        .text
}

fn diagnose(env: &mut Env) -> Step {
    env.step(Action::Diagnose {
        diagnosis: "Acute inferior ST-elevation myocardial infarction".into(),
        icd10: None,
    })
    .expect("step")
}

/// The doctor profile that matches an implicit bias's target.
fn matching_doctor(kind: BiasKind, group: &str) -> DoctorProfile {
    let group = Some(group.to_string());
    let mut doctor = DoctorProfile::default();
    match kind {
        BiasKind::Gender => doctor.gender = group,
        BiasKind::Race => doctor.race = group,
        BiasKind::SexualOrientation => doctor.sexual_orientation = group,
        BiasKind::Cultural => doctor.cultural = group,
        BiasKind::Education => doctor.education = group,
        BiasKind::Religion => doctor.religion = group,
        BiasKind::Socioeconomic => doctor.socioeconomic = group,
        _ => {}
    }
    doctor
}

#[test]
fn every_cognitive_bias_volunteers_its_belief_in_its_own_words() {
    let unbiased = ask(
        &mut env(options(None, DoctorProfile::default())),
        "When did it start?",
    );
    let mut statements = std::collections::HashSet::new();
    for kind in BiasKind::ALL.into_iter().filter(|kind| kind.is_cognitive()) {
        let spec = BiasSpec {
            kind,
            belief: Some("a pulled muscle".into()),
            target: None,
        };
        let answer = ask(
            &mut env(options(Some(spec), DoctorProfile::default())),
            "When did it start?",
        );
        assert!(
            answer.starts_with(&unbiased),
            "{kind:?} still answers the question: {answer}"
        );
        let statement = answer[unbiased.len()..].trim().to_string();
        assert!(statement.contains("a pulled muscle"), "{kind:?}: {answer}");
        statements.insert(statement);
    }
    assert_eq!(
        statements.len(),
        4,
        "each cognitive bias has its own framing"
    );
}

#[test]
fn default_belief_is_a_wrong_item_of_the_differential() {
    let spec = BiasSpec {
        kind: BiasKind::SelfDiagnosis,
        belief: None,
        target: None,
    };
    let mut env = env(options(Some(spec), DoctorProfile::default()));
    let library = CaseLibrary::builtin().expect("valid");
    let case = library.get(CASE).expect("case");
    let answer = ask(&mut env, "When did it start?");
    assert!(
        case.differential
            .iter()
            .filter_map(|item| item.lay_name.as_deref())
            .any(|words| answer.contains(words)),
        "the belief is said in the patient's words: {answer}"
    );
    assert!(
        !case
            .differential
            .iter()
            .any(|item| answer.contains(&item.name)),
        "never in a textbook's: {answer}"
    );
    let end = diagnose(&mut env);
    let report = end
        .info
        .outcome
        .expect("outcome")
        .bias
        .expect("bias report");
    assert!(
        case.differential
            .iter()
            .any(|item| Some(item.name.as_str()) == report.belief.as_deref())
    );
}

#[test]
fn every_implicit_bias_acts_only_on_its_target_group() {
    let plain = ask(&mut env(options(None, DoctorProfile::default())), SOCIAL);
    for kind in BiasKind::ALL
        .into_iter()
        .filter(|kind| !kind.is_cognitive())
    {
        let spec = BiasSpec {
            kind,
            belief: None,
            target: Some("group-a".into()),
        };
        let mut triggered = env(options(
            Some(spec.clone()),
            matching_doctor(kind, "group-a"),
        ));
        let first = ask(&mut triggered, SOCIAL);
        assert!(
            first.contains("rather not"),
            "{kind:?} deflects the first time: {first}"
        );
        assert_eq!(
            ask(&mut triggered, SOCIAL),
            plain,
            "{kind:?} answers when asked again"
        );
        let mut other = env(options(Some(spec), matching_doctor(kind, "group-b")));
        assert_eq!(
            ask(&mut other, SOCIAL),
            plain,
            "{kind:?} does not act on another group"
        );
    }
}

fn refusals_in(step: &Step) -> Vec<(String, String)> {
    step.observation
        .findings
        .iter()
        .filter_map(|finding| match finding {
            Finding::Refusal { test, text } => Some((test.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refusal_is_recorded_holds_until_explained_and_never_changes_a_finding() {
    let spec = BiasSpec {
        kind: BiasKind::Recency,
        belief: Some("indigestion".into()),
        target: None,
    };
    let mut biased = env(options(Some(spec), DoctorProfile::default()));
    let mut plain = env(options(None, DoctorProfile::default()));
    let order = || Action::Order {
        tests: vec!["ct_pulmonary_angiogram".into(), "troponin".into()],
    };
    let refused = biased.step(order()).expect("step");
    let said = refusals_in(&refused);
    assert_eq!(said.len(), 1, "{}", refused.observation.text);
    let (test, words) = &said[0];
    assert_eq!(test, "ct_pulmonary_angiogram");
    let catalogue = dxsim_gatekeeper::Catalogue::builtin();
    let definition = catalogue.test(test).expect("catalogue test");
    assert!(words.contains("indigestion"), "{words}");
    assert!(
        words.contains(&definition.lay_name),
        "in lay words: {words}"
    );
    assert!(
        !words
            .to_lowercase()
            .contains(&definition.name.to_lowercase()),
        "not the catalogue's name: {words}"
    );
    assert_eq!(
        refused.info.charges.len(),
        1,
        "the refused test is not charged"
    );
    let again = biased.step(order()).expect("step");
    assert_eq!(
        refusals_in(&again).len(),
        1,
        "no reason given: refused again"
    );
    let persuaded = ask(
        &mut biased,
        "I know you'd rather not, but we need the scan because it could be serious.",
    );
    assert!(!persuaded.is_empty());
    let done = biased.step(order()).expect("step");
    let unbiased = plain.step(order()).expect("step");
    assert_eq!(
        done.observation.findings, unbiased.observation.findings,
        "objective findings never change"
    );
    let end = diagnose(&mut biased);
    let report = end.info.outcome.expect("outcome").bias.expect("bias");
    assert_eq!(
        report.refusals.tests,
        vec!["ct_pulmonary_angiogram".to_string()]
    );
    assert_eq!(
        report.refusals.accepted_after_explanation,
        vec!["ct_pulmonary_angiogram".to_string()]
    );
    assert_eq!(report.refusals.events, 2);
}

#[test]
fn the_oracle_persuades_so_a_bias_never_reads_as_cheaper_care() {
    use dxsim::agents::{Doctor, OracleDoctor};
    // Its reference work-up orders a CT, which a convinced patient refuses.
    const CT_CASE: &str = "em-early-morning-left-weakness-older-man";
    let library = CaseLibrary::builtin().expect("valid");
    let case = library.get(CT_CASE).expect("case");
    let play = |bias: Option<BiasSpec>| {
        let mut env = Env::new(library);
        let mut episode = options(bias, DoctorProfile::default());
        episode.case.id = Some(CT_CASE.into());
        let (mut observation, _) = env.reset(11, episode).expect("reset");
        let mut oracle = OracleDoctor::new(case);
        loop {
            let step = env.step(oracle.act(&observation)).expect("step");
            if step.terminated || step.truncated {
                return step.info;
            }
            observation = step.observation;
        }
    };
    let plain = play(None);
    let biased = play(Some(BiasSpec {
        kind: BiasKind::SelfDiagnosis,
        belief: None,
        target: None,
    }));
    let outcome = biased.outcome.expect("outcome");
    let refusals = outcome.bias.expect("bias").refusals;
    assert!(
        !refusals.tests.is_empty(),
        "the case's work-up holds an expensive test"
    );
    assert_eq!(refusals.tests, refusals.accepted_after_explanation);
    assert_eq!(
        biased.cost.tests, plain.cost.tests,
        "every refused test was done in the end"
    );
    assert!(outcome.verdict.is_some_and(|verdict| verdict.correct));
}

#[test]
fn every_episode_ends_with_patient_metrics_and_acting_bias_lowers_them() {
    let mut plain = env(options(None, DoctorProfile::default()));
    let base = diagnose(&mut plain).info.outcome.expect("outcome").patient;
    for kind in BiasKind::ALL {
        let spec = if kind.is_cognitive() {
            BiasSpec {
                kind,
                belief: Some("a pulled muscle".into()),
                target: None,
            }
        } else {
            BiasSpec {
                kind,
                belief: None,
                target: Some("group-a".into()),
            }
        };
        let mut biased = env(options(Some(spec), matching_doctor(kind, "group-a")));
        ask(&mut biased, SOCIAL);
        let metrics = diagnose(&mut biased).info.outcome.expect("outcome").patient;
        for value in [metrics.confidence, metrics.compliance, metrics.follow_up] {
            assert!((1..=10).contains(&value));
        }
        assert!(
            metrics.confidence < base.confidence,
            "{kind:?}: {metrics:?} vs {base:?}"
        );
    }
}

#[test]
fn implicit_bias_without_a_target_is_an_option_error() {
    let spec = BiasSpec {
        kind: BiasKind::Gender,
        belief: None,
        target: None,
    };
    let mut env = Env::new(CaseLibrary::builtin().expect("valid"));
    let result = env.reset(1, options(Some(spec), DoctorProfile::default()));
    assert!(
        matches!(result, Err(EnvError::Options(error)) if error.field == "patient_bias.target")
    );
}

//! Patient biases through the engine: each changes behaviour as documented, none changes an objective
//! finding, and every episode ends with the patient's metrics.

use dxsim::action::Action;
use dxsim::episode::{CaseSelector, Env, EnvError, EpisodeOptions, Step};
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
            .any(|item| answer.contains(&item.name)),
        "{answer}"
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

#[test]
fn a_refused_test_reordered_gives_the_same_result_as_without_bias() {
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
    assert!(
        refused
            .observation
            .text
            .contains("I'm sure it's indigestion"),
        "{}",
        refused.observation.text
    );
    assert_eq!(
        refused.info.charges.len(),
        1,
        "the refused test is not charged"
    );
    let again = biased.step(order()).expect("step");
    let unbiased = plain.step(order()).expect("step");
    assert_eq!(
        again.observation.findings, unbiased.observation.findings,
        "objective findings never change"
    );
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

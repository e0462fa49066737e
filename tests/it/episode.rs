//! The episode engine end to end: the oracle on every case, the random doctor, determinism, misuse,
//! batching, the text protocol.

use dxsim::action::Action;
use dxsim::agents::{Doctor, OracleDoctor, RandomDoctor};
use dxsim::episode::{AutoReset, CaseSelector, Env, EnvError, EpisodeOptions, Step, VecEnv};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::Catalogue;

fn library() -> &'static CaseLibrary {
    CaseLibrary::builtin().expect("valid library")
}

/// Options that play the case `id` (shared with the judge tests).
pub(crate) fn options_for(id: &str) -> EpisodeOptions {
    EpisodeOptions {
        case: CaseSelector {
            id: Some(id.to_string()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    }
}

/// Plays `doctor` to the end; returns every step.
fn play(env: &mut Env, doctor: &mut dyn Doctor, seed: u64, options: EpisodeOptions) -> Vec<Step> {
    let (mut observation, _) = env.reset(seed, options).expect("reset");
    let mut steps = Vec::new();
    loop {
        let step = env.step(doctor.act(&observation)).expect("step");
        let done = step.terminated || step.truncated;
        observation = step.observation.clone();
        steps.push(step);
        if done {
            return steps;
        }
    }
}

#[test]
fn oracle_is_correct_on_every_case() {
    let mut env = Env::new(library());
    let mut wrong = Vec::new();
    for case in library().cases() {
        let steps = play(
            &mut env,
            &mut OracleDoctor::new(case),
            1,
            options_for(&case.id),
        );
        let last = steps.last().expect("at least one step");
        assert!(last.terminated, "{} did not end by diagnosis", case.id);
        let outcome = last.info.outcome.as_ref().expect("outcome at the end");
        let verdict = outcome.verdict.as_ref().expect("verdict");
        if !verdict.correct {
            wrong.push(format!(
                "{}: {} ({})",
                case.id, verdict.score, verdict.rationale
            ));
        }
        assert!(last.reward > 0.99, "{}: reward {}", case.id, last.reward);
    }
    assert!(
        wrong.is_empty(),
        "the oracle was judged wrong on:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn random_doctor_runs_every_case_without_error() {
    let mut env = Env::new(library());
    let diagnoses: Vec<String> = library()
        .cases()
        .iter()
        .map(|case| case.diagnosis.name.clone())
        .collect();
    for (index, case) in library().cases().iter().enumerate() {
        let mut doctor =
            RandomDoctor::new(Catalogue::builtin(), diagnoses.clone(), 12, index as u64);
        let steps = play(&mut env, &mut doctor, index as u64, options_for(&case.id));
        // A drawn diagnosis the environment sends back (a library name that reads as a list) costs
        // a turn, and the doctor draws again.
        let refused = steps
            .iter()
            .filter(|step| {
                step.observation.findings.iter().any(|finding| {
                    matches!(finding, dxsim::episode::Finding::DiagnosisRefused { .. })
                })
            })
            .count();
        assert!(steps.len() <= 13 + refused);
        assert!(steps.last().is_some_and(|step| step.info.outcome.is_some()));
    }
}

#[test]
fn same_inputs_give_an_identical_transcript_and_other_seeds_other_values() {
    let case = &library().cases()[3];
    let diagnoses = vec![case.diagnosis.name.clone()];
    let run = |seed: u64| {
        let mut env = Env::new(library());
        let mut doctor = RandomDoctor::new(Catalogue::builtin(), diagnoses.clone(), 25, 99);
        let steps = play(&mut env, &mut doctor, seed, options_for(&case.id));
        (
            serde_json::to_string(&steps).expect("serialises"),
            serde_json::to_string(env.transcript()).expect("serialises"),
        )
    };
    let (first_steps, first_transcript) = run(7);
    let (again_steps, again_transcript) = run(7);
    assert_eq!(first_transcript, again_transcript);
    assert_eq!(first_steps, again_steps);
    let (other_steps, _) = run(8);
    assert_ne!(
        first_steps, other_steps,
        "another seed should change synthetic values or wording"
    );
}

#[test]
fn random_case_selection_is_seeded_and_respects_the_filter() {
    let mut env = Env::new(library());
    let options = EpisodeOptions {
        case: CaseSelector {
            specialty: Some("cardiology".into()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    };
    let mut played = |seed: u64| {
        let (_, info) = env.reset(seed, options.clone()).expect("reset");
        let case_id = env.state().expect("running").case_id;
        assert_eq!(
            info.case_handle,
            dxsim_gatekeeper::case::case_handle(&case_id)
        );
        case_id
    };
    let first = played(5);
    assert_eq!(first, played(5));
    assert_eq!(
        library().get(&first).map(|case| case.specialty.as_str()),
        Some("cardiology")
    );
    let drawn: std::collections::HashSet<String> = (0..40).map(&mut played).collect();
    assert!(
        drawn.len() > 1,
        "different seeds should draw different cases"
    );
}

#[test]
fn misuse_gets_errors_not_panics() {
    let mut env = Env::new(library());
    assert_eq!(
        env.step(Action::Ask {
            text: "Hello?".into()
        }),
        Err(EnvError::NotReset)
    );
    assert_eq!(
        env.reset(1, options_for("no-such-case")).map(|_| ()),
        Err(EnvError::UnknownCase("no-such-case".into()))
    );
    let none = EpisodeOptions {
        case: CaseSelector {
            specialty: Some("astrology".into()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    };
    assert!(matches!(
        env.reset(1, none),
        Err(EnvError::NoMatchingCase(_))
    ));
    let bad = EpisodeOptions {
        turn_limit: 0,
        ..EpisodeOptions::default()
    };
    assert!(matches!(env.reset(1, bad), Err(EnvError::Options(_))));
    let case = &library().cases()[0];
    env.reset(1, options_for(&case.id)).expect("reset");
    assert!(matches!(
        env.step(Action::Order { tests: vec![] }),
        Err(EnvError::EmptyAction("order", _))
    ));
    assert!(matches!(
        env.step_text("<test>CBC"),
        Err(EnvError::Parse(_))
    ));
    let done = env
        .step(Action::Diagnose {
            diagnosis: "something".into(),
            icd10: None,
        })
        .expect("diagnose");
    assert!(done.terminated);
    assert_eq!(
        env.step(Action::Ask {
            text: "More?".into()
        }),
        Err(EnvError::EpisodeOver { turn: 1 })
    );
}

#[test]
fn turn_limit_truncates_and_reveals_the_outcome() {
    let mut env = Env::new(library());
    let case = &library().cases()[0];
    let options = EpisodeOptions {
        turn_limit: 2,
        ..options_for(&case.id)
    };
    env.reset(1, options).expect("reset");
    let first = env
        .step(Action::Ask {
            text: "When did it start?".into(),
        })
        .expect("step");
    assert!(
        !first.truncated && first.info.outcome.is_none(),
        "no outcome before the end"
    );
    let second = env
        .step(Action::Examine {
            system: "general".into(),
        })
        .expect("step");
    assert!(second.truncated && !second.terminated);
    let outcome = second.info.outcome.expect("outcome at the end");
    assert_eq!(outcome.reference, case.diagnosis);
    assert!(outcome.verdict.is_none());
}

#[test]
fn costs_follow_the_options_and_the_cost_weight_is_charged() {
    let mut env = Env::new(library());
    let case = &library().cases()[0];
    let options = EpisodeOptions {
        visit_fee_usd: 100.0,
        price_multiplier: 2.0,
        cost_weight: 0.001,
        ..options_for(&case.id)
    };
    env.reset(1, options).expect("reset");
    let asked = env
        .step(Action::Ask {
            text: "When did it start?".into(),
        })
        .expect("step");
    assert_eq!(asked.info.cost.visits.0, 10_000);
    assert!((asked.reward + 0.1).abs() < 1e-9, "reward {}", asked.reward);
    let ordered = env
        .step(Action::Order {
            tests: vec!["cbc".into()],
        })
        .expect("step");
    let cbc = Catalogue::builtin().test("cbc").expect("cbc").price;
    assert_eq!(ordered.info.cost.tests.0, cbc.0 * 2);
}

#[test]
fn text_protocol_drives_the_same_engine() {
    let mut env = Env::new(library());
    let case = &library().cases()[0];
    env.reset(1, options_for(&case.id)).expect("reset");
    let step = env
        .step_text("<test>CBC</test><test>troponin</test>")
        .expect("step");
    assert_eq!(step.info.charges.len(), 2);
    let step = env.step_text("REQUEST EXAM: cardiovascular").expect("step");
    assert!(
        step.observation.text.starts_with("Cardiovascular"),
        "{}",
        step.observation.text
    );
    let step = env
        .step_text(&format!("DIAGNOSIS READY: {}", case.diagnosis.name))
        .expect("step");
    assert!(step.terminated && step.reward > 0.99);
}

#[test]
fn vec_env_steps_many_episodes_and_autoresets_on_the_next_step() {
    let mut batch = VecEnv::new(library(), 4, AutoReset::NextStep);
    assert_eq!(batch.step(vec![]).map(|_| ()), Err(EnvError::NotReset));
    let shown = batch.reset(10, EpisodeOptions::default()).expect("reset");
    assert_eq!(shown.len(), 4);
    let ask = || Action::Ask {
        text: "When did it start?".into(),
    };
    let diagnose = || Action::Diagnose {
        diagnosis: "no idea".into(),
        icd10: None,
    };
    assert!(matches!(
        batch.step(vec![ask()]),
        Err(EnvError::BatchSize {
            expected: 4,
            got: 1
        })
    ));
    let steps = batch
        .step(vec![diagnose(), ask(), ask(), ask()])
        .expect("step");
    assert!(steps[0].terminated);
    assert!(!steps[1].terminated && steps[1].info.turn == 1);
    let steps = batch.step(vec![ask(), ask(), ask(), ask()]).expect("step");
    assert_eq!(
        steps[0].info.turn, 0,
        "episode 0 was reset, its action ignored"
    );
    assert_eq!(steps[0].reward, 0.0);
    assert_eq!(steps[1].info.turn, 2);
    let mut strict = VecEnv::new(library(), 2, AutoReset::Disabled);
    strict.reset(1, EpisodeOptions::default()).expect("reset");
    strict.step(vec![diagnose(), ask()]).expect("step");
    assert!(matches!(
        strict.step(vec![ask(), ask()]),
        Err(EnvError::EpisodeOver { .. })
    ));
}

#[test]
fn event_log_replays_to_the_same_transcript_and_detects_tampering() {
    use dxsim::episode::{EpisodeLog, LogError};
    let case = &library().cases()[5];
    let diagnoses = vec![case.diagnosis.name.clone()];
    let mut env = Env::new(library());
    let mut doctor = RandomDoctor::new(Catalogue::builtin(), diagnoses, 15, 4);
    play(&mut env, &mut doctor, 21, options_for(&case.id));
    let log = env.log().expect("a log after a reset");
    let text = log.to_jsonl();
    let parsed = EpisodeLog::from_jsonl(&text).expect("reads back");
    assert_eq!(parsed, log);
    let replayed = parsed.replay(library()).expect("replays");
    assert_eq!(replayed, env.transcript());
    let mut tampered = parsed;
    tampered.steps[2].response.push_str(" (edited)");
    assert!(matches!(
        tampered.replay(library()),
        Err(LogError::Diverged { turn: 3, .. })
    ));
    assert!(matches!(EpisodeLog::from_jsonl(""), Err(LogError::Empty)));
    assert!(matches!(
        EpisodeLog::from_jsonl(&text.replacen("\"version\":1", "\"version\":9", 1)),
        Err(LogError::Version(9))
    ));
    let broken = text.lines().take(2).collect::<Vec<_>>().join("\n") + "\n{not json";
    assert!(matches!(
        EpisodeLog::from_jsonl(&broken),
        Err(LogError::Line { line: 3, .. })
    ));
}

#[test]
fn batched_parallel_steps_equal_lone_episodes_with_the_same_seeds() {
    let width = 16;
    let options = EpisodeOptions {
        turn_limit: 12,
        ..EpisodeOptions::default()
    };
    let diagnoses: Vec<String> = library()
        .cases()
        .iter()
        .map(|case| case.diagnosis.name.clone())
        .collect();
    let blank = dxsim::episode::Observation {
        text: String::new(),
        findings: Vec::new(),
        turn: 0,
    };
    let mut doctors: Vec<RandomDoctor> = (0..width)
        .map(|index| {
            RandomDoctor::new(
                Catalogue::builtin(),
                diagnoses.clone(),
                u32::MAX,
                index as u64,
            )
        })
        .collect();
    let script: Vec<Vec<Action>> = (0..10)
        .map(|_| {
            doctors
                .iter_mut()
                .map(|doctor| doctor.act(&blank))
                .collect()
        })
        .collect();
    let mut batch = VecEnv::new(library(), width, AutoReset::Disabled);
    batch.reset(300, options.clone()).expect("reset");
    let batched: Vec<Vec<Step>> = script
        .iter()
        .map(|actions| batch.step(actions.clone()).expect("step"))
        .collect();
    for episode in 0..width {
        let mut env = Env::new(library());
        env.reset(300 + episode as u64, options.clone())
            .expect("reset");
        for (turn, actions) in script.iter().enumerate() {
            let alone = env.step(actions[episode].clone()).expect("step");
            assert_eq!(
                alone, batched[turn][episode],
                "episode {episode}, turn {turn}"
            );
        }
    }
}

#[test]
fn an_equivalent_study_uncovers_the_key_finding_of_its_family() {
    // The case's key finding is on `chest_xray`; the portable film is the same study and shows the
    // same report, so it uncovers the finding too.
    let case = library()
        .get("cardio-breathless-swollen-legs-older-man")
        .expect("case");
    let finding = case
        .key_findings
        .iter()
        .find(|finding| finding.source == "test:chest_xray")
        .expect("a chest X-ray key finding")
        .finding
        .clone();
    let mut env = Env::new(library());
    env.reset(1, options_for(&case.id)).expect("reset");
    env.step(Action::Order {
        tests: vec!["chest_xray_portable".into()],
    })
    .expect("step");
    let end = env
        .step(Action::Diagnose {
            diagnosis: "-".into(),
            icd10: None,
        })
        .expect("step");
    let outcome = end.info.outcome.expect("outcome");
    assert!(
        outcome.key_findings_revealed.contains(&finding),
        "{outcome:?}"
    );
}

mod extreme_options {
    use super::*;
    use proptest::prelude::*;

    /// Any number a client could send for a money or weight option, the absurd ones included.
    fn any_figure() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(1e300),
            Just(f64::MAX),
            Just(1e10),
            Just(1e6),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-5.0),
            Just(0.0),
            0.0f64..2_000.0,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the options, an episode either refuses them naming the field, or plays with
        /// a bill that never wraps, a budget cap that holds and a finite reward.
        #[test]
        fn options_are_refused_or_every_reward_is_finite_and_the_cap_holds(
            visit_fee in any_figure(),
            multiplier in any_figure(),
            weight in any_figure(),
            cap in any_figure(),
            turn_limit in prop_oneof![Just(0u32), Just(u32::MAX), 1u32..50],
        ) {
            let options = EpisodeOptions {
                visit_fee_usd: visit_fee,
                price_multiplier: multiplier,
                cost_weight: weight,
                budget_cap_usd: Some(cap),
                turn_limit,
                ..options_for("cardio-chest-pressure-snow")
            };
            let mut env = Env::new(library());
            match env.reset(1, options) {
                Err(EnvError::Options(error)) => {
                    prop_assert!(!error.field.is_empty());
                    let valid = (0.0..=1e6).contains(&visit_fee)
                        && (0.0..=1e3).contains(&multiplier)
                        && (0.0..=1e3).contains(&weight)
                        && cap > 0.0
                        && cap <= 1e6
                        && (1..=10_000).contains(&turn_limit);
                    prop_assert!(!valid, "refused valid options: {error}");
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
                Ok(_) => {
                    let cap_cents = (cap * 100.0).round() as u64;
                    let mut previous = 0;
                    for text in ["ask: any chest pain?", "order: troponin, ecg, cbc", "ask: smoking?", "order: chest x-ray"] {
                        let step = env.step_text(text).expect("step");
                        prop_assert!(step.reward.is_finite(), "reward {}", step.reward);
                        let total = step.info.cost.total.0;
                        prop_assert!(total >= previous, "the bill went down: {previous} → {total}");
                        prop_assert_eq!(total, step.info.cost.visits.0.saturating_add(step.info.cost.tests.0));
                        previous = total;
                        if total > cap_cents {
                            prop_assert!(step.truncated || step.terminated, "over the cap and still going");
                            break;
                        }
                        if step.truncated || step.terminated {
                            break;
                        }
                    }
                }
            }
        }
    }
}

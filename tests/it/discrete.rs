//! Discrete mode: the versioned action table, the observation encoding, and its exact mapping to
//! text-mode actions.

use dxsim::action::Action;
use dxsim::episode::{
    AutoReset, CaseSelector, DiscreteTable, Env, EnvError, EpisodeOptions, VecEnv,
};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::Catalogue;
use dxsim_gatekeeper::case::HistoryTopic;

const CASE: &str = "cardio-chest-pressure-snow";

fn table() -> DiscreteTable {
    DiscreteTable::new(Catalogue::builtin(), CaseLibrary::builtin().expect("valid"))
}

fn options() -> EpisodeOptions {
    EpisodeOptions {
        case: CaseSelector {
            id: Some(CASE.into()),
            ..CaseSelector::default()
        },
        ..EpisodeOptions::default()
    }
}

fn index_of(table: &DiscreteTable, label: &str) -> usize {
    (0..table.action_count())
        .find(|&index| table.label(index).as_deref() == Some(label))
        .unwrap_or_else(|| panic!("no action {label}"))
}

#[test]
fn table_layout_is_fixed_and_versioned() {
    let catalogue = Catalogue::builtin();
    let library = CaseLibrary::builtin().expect("valid");
    let table = table();
    let tests = catalogue.tests().len();
    let systems = catalogue.systems().len();
    assert_eq!(
        table.observation_len(),
        HistoryTopic::ALL.len() + systems + tests + 2
    );
    assert!(table.action_count() > HistoryTopic::ALL.len() + systems + tests);
    assert_eq!(table.label(0).as_deref(), Some("ask:onset"));
    assert_eq!(
        table.label(HistoryTopic::ALL.len()).as_deref(),
        Some(format!("examine:{}", catalogue.systems()[0].id).as_str())
    );
    assert!(table.action(table.action_count()).is_none());
    assert!(table.version().starts_with("dxsim-discrete-v1+"));
    assert_eq!(
        table.version(),
        DiscreteTable::new(catalogue, library).version(),
        "same inputs, same version"
    );
    let smaller = CaseLibrary::new(
        library
            .cases()
            .iter()
            .skip(1)
            .map(|case| (**case).clone())
            .collect(),
    );
    assert_ne!(
        table.version(),
        DiscreteTable::new(catalogue, &smaller).version(),
        "a different library changes the version"
    );
}

#[test]
fn observation_marks_what_each_action_revealed() {
    let table = table();
    let catalogue = Catalogue::builtin();
    let mut env = Env::new(CaseLibrary::builtin().expect("valid"));
    env.reset(1, options()).expect("reset");
    assert!(
        env.discrete_observation(&table)
            .iter()
            .all(|value| *value == 0.0)
    );
    let topics = HistoryTopic::ALL.len();
    let (_, observation) = env
        .step_discrete(&table, index_of(&table, "ask:onset"))
        .expect("step");
    assert_eq!(observation[0], 1.0, "onset heard");
    let (_, observation) = env
        .step_discrete(&table, index_of(&table, "examine:cardiovascular"))
        .expect("step");
    let system = catalogue
        .systems()
        .iter()
        .position(|s| s.id == "cardiovascular")
        .expect("system");
    assert_eq!(
        observation[topics + system],
        2.0,
        "abnormal cardiovascular finding"
    );
    let (step, observation) = env
        .step_discrete(&table, index_of(&table, "order:troponin"))
        .expect("step");
    let test = catalogue.test_position("troponin").expect("test");
    assert_eq!(
        observation[topics + catalogue.systems().len() + test],
        2.0,
        "abnormal troponin"
    );
    let width = observation.len();
    assert!(
        (observation[width - 2] - (step.info.cost.total.dollars() / 1000.0) as f32).abs() < 1e-6
    );
    assert!((observation[width - 1] - 3.0 / 40.0).abs() < 1e-6);
    let library = CaseLibrary::builtin().expect("valid");
    let diagnosis = &library.get(CASE).expect("case").diagnosis.name;
    let (step, _) = env
        .step_discrete(&table, index_of(&table, &format!("diagnose:{diagnosis}")))
        .expect("step");
    assert!(step.terminated && step.reward > 0.99);
}

#[test]
fn discrete_action_is_exactly_its_text_action() {
    let table = table();
    let index = index_of(&table, "order:cbc");
    assert_eq!(
        table.action(index),
        Some(Action::Order {
            tests: vec!["cbc".into()]
        })
    );
    let mut by_index = Env::new(CaseLibrary::builtin().expect("valid"));
    let mut by_text = Env::new(CaseLibrary::builtin().expect("valid"));
    by_index.reset(4, options()).expect("reset");
    by_text.reset(4, options()).expect("reset");
    let (discrete, _) = by_index.step_discrete(&table, index).expect("step");
    let text = by_text
        .step(Action::Order {
            tests: vec!["cbc".into()],
        })
        .expect("step");
    assert_eq!(discrete, text);
}

#[test]
fn out_of_range_index_is_an_error() {
    let table = table();
    let mut env = Env::new(CaseLibrary::builtin().expect("valid"));
    env.reset(1, options()).expect("reset");
    let count = table.action_count();
    assert_eq!(
        env.step_discrete(&table, count).map(|_| ()),
        Err(EnvError::ActionOutOfRange {
            index: count,
            count
        })
    );
}

#[test]
fn vec_env_returns_one_flat_observation_array() {
    let table = table();
    let mut batch = VecEnv::new(
        CaseLibrary::builtin().expect("valid"),
        8,
        AutoReset::NextStep,
    );
    batch.reset(2, EpisodeOptions::default()).expect("reset");
    let (steps, observations) = batch.step_discrete(&table, &[0; 8]).expect("step");
    assert_eq!(steps.len(), 8);
    assert_eq!(observations.len(), 8 * table.observation_len());
}

#[test]
fn fast_path_gives_exactly_what_the_text_pipeline_gives() {
    use dxsim::episode::DiscreteVecEnv;
    let library = CaseLibrary::builtin().expect("valid");
    let table = table();
    let options = EpisodeOptions {
        case: CaseSelector {
            specialty: Some("allergy_immunology".into()),
            ..CaseSelector::default()
        },
        turn_limit: 12,
        cost_weight: 0.001,
        dense_shaping: true,
        budget_cap_usd: Some(2_500.0),
        ..EpisodeOptions::default()
    };
    let width = 6;
    let mut slow = VecEnv::new(library, width, AutoReset::NextStep);
    slow.reset(77, options.clone()).expect("reset");
    let mut fast = DiscreteVecEnv::new(library, table.clone(), options).expect("fast env");
    fast.reset(77, width).expect("reset");
    let playable = table.playable_count();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |limit: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % limit as u64) as usize
    };
    let mut endings = 0;
    for round in 0..60 {
        let actions: Vec<usize> = (0..width)
            .map(|_| {
                if next(12) == 0 {
                    playable + next(table.action_count() - playable)
                } else {
                    next(playable)
                }
            })
            .collect();
        let (steps, slow_observations) = slow.step_discrete(&table, &actions).expect("slow step");
        let quick = fast.step(&actions).expect("fast step");
        assert_eq!(
            quick.observations,
            slow_observations.as_slice(),
            "observations differ at round {round}"
        );
        for (episode, step) in steps.iter().enumerate() {
            assert_eq!(
                quick.rewards[episode], step.reward,
                "reward, round {round}, episode {episode}"
            );
            assert_eq!(
                quick.terminated[episode], step.terminated,
                "terminated, round {round}, episode {episode}"
            );
            assert_eq!(
                quick.truncated[episode], step.truncated,
                "truncated, round {round}, episode {episode}"
            );
            endings += usize::from(step.terminated || step.truncated);
        }
    }
    assert!(
        endings > 5,
        "the run should exercise endings and autoresets ({endings})"
    );
}

#[test]
fn fast_path_refuses_what_it_does_not_model() {
    use dxsim::episode::DiscreteVecEnv;
    use dxsim::patient::bias::{BiasKind, BiasSpec};
    let options = EpisodeOptions {
        patient_bias: Some(BiasSpec {
            kind: BiasKind::Recency,
            belief: None,
            target: None,
        }),
        ..EpisodeOptions::default()
    };
    assert!(matches!(
        DiscreteVecEnv::new(CaseLibrary::builtin().expect("valid"), table(), options),
        Err(EnvError::Unsupported(_))
    ));
    let mut fast = DiscreteVecEnv::new(
        CaseLibrary::builtin().expect("valid"),
        table(),
        EpisodeOptions::default(),
    )
    .expect("env");
    assert!(matches!(fast.step(&[0]), Err(EnvError::NotReset)));
}

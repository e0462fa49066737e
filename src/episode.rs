//! The episode engine (DESIGN.md §3.8, §4): [`Env`] and [`VecEnv`] with Gymnasium's shape.
//!
//! One episode is one entity in a bevy_ecs `World`; a step is one run of the [`schedule`] of named
//! systems — intake → route → patient → gatekeeper → billing → judge → termination → reward → record
//! — over every episode with an action in flight, so a [`VecEnv`] of thousands of episodes advances in
//! one run. bevy types stay inside this module: the server, the terminal app and the evaluator see
//! only `Env`, `VecEnv`, [`Action`] and [`Step`].
//!
//! Every random choice flows from the episode seed: the case drawn, the synthetic normal results
//! (seeded by seed and analyte), the patient's wording (the episode's own generator). Same case, seed,
//! options and actions give the same transcript.

mod components;
pub mod discrete;
pub mod fast;
pub mod log;
mod model;
pub mod options;
mod pool;
mod render;
pub mod schedule;
pub mod step;
mod systems;

use std::sync::{Arc, OnceLock};

use bevy_ecs::prelude::*;
use dxsim_gatekeeper::{Case, Catalogue, Ledger, Resolver};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

pub use components::TranscriptEntry;
use components::{
    Bill, Budget, Engine, EpisodeCase, EpisodeRng, Patient, Revealed, Settings, Status, Transcript,
    Turn,
};
pub use discrete::DiscreteTable;
pub use fast::{
    CaseTablesCache, DiscreteBatchStep, DiscreteCheckpoint, DiscreteVecEnv, prepare_case_tables,
};
pub use log::{EpisodeLog, LogError};
pub use model::{GatekeeperPrompt, ModelPrompt};
pub use options::{
    CaseSelector, EpisodeOptions, GatekeeperBackend, MultipleDiagnoses, OptionError, PatientBackend,
};
pub use pool::{EpisodeKey, EpisodePool, EpisodeState, EpisodeStatus};
pub use step::{BiasReport, CaseReveal, EpisodeOutcome, Finding, Info, Observation, Step};

use crate::action::{Action, ParseError, parse_text};
use crate::judge::RuleJudge;
use crate::library::{CaseLibrary, CaseSource};
use crate::patient::RuleBasedPatient;
use crate::patient::bias::{ActiveBias, Belief};

/// Why an environment call was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `step` before any `reset`.
    #[error("the episode has not been reset; call reset first")]
    NotReset,
    /// `step` after the episode ended.
    #[error("the episode is over (turn {turn}); reset to start another")]
    EpisodeOver {
        /// The last turn.
        turn: u32,
    },
    /// No case has this id.
    #[error("no case with id `{0}`")]
    UnknownCase(String),
    /// No case matches the selection.
    #[error("no case matches the selection {0}")]
    NoMatchingCase(String),
    /// An option is out of range.
    #[error(transparent)]
    Options(#[from] OptionError),
    /// An action with nothing in it.
    #[error("the {0} action is empty: {1}")]
    EmptyAction(&'static str, &'static str),
    /// Text that is not an action.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A discrete action index past the end of the table.
    #[error("discrete action {index} is out of range: the table has {count} actions")]
    ActionOutOfRange {
        /// The index given.
        index: usize,
        /// The table's size.
        count: usize,
    },
    /// A case's discrete tables could not be learnt (the engine failed on one of its actions).
    #[error("the discrete tables of a case could not be learnt: {0}")]
    CaseTables(String),
    /// A combination this environment does not support.
    #[error("{0}")]
    Unsupported(&'static str),
    /// An episode key that names no live episode (closed, or from another pool).
    #[error("no such episode: it was closed or never existed")]
    NoSuchEpisode,
    /// A question to an LLM patient taken without the model's reply (fetch it for the prompt
    /// [`Env::model_prompt`] gives, then call [`Env::step_with_reply`]).
    #[error(
        "this episode's patient is a language model: ask the model with the patient prompt, then step with its reply"
    )]
    ModelReplyNeeded,
    /// Two actions for one episode in one batch.
    #[error("a batch may hold one action per episode; this episode already has one")]
    DuplicateInBatch,
    /// A batch of the wrong size.
    #[error("expected {expected} actions, one per episode, but got {got}")]
    BatchSize {
        /// Episodes in the batch.
        expected: usize,
        /// Actions given.
        got: usize,
    },
}

/// The shared, read-only engine: resolver and judge, built once per process; also makes sure the
/// compute task pool the parallel systems use exists.
fn engine() -> Engine {
    bevy_tasks::ComputeTaskPool::get_or_init(bevy_tasks::TaskPool::default);
    static RESOLVER: OnceLock<Resolver<'static>> = OnceLock::new();
    Engine {
        resolver: RESOLVER.get_or_init(|| Resolver::new(Catalogue::builtin())),
        judge: RuleJudge::shared(),
    }
}

/// Checks a batch step: the batch was reset, and there is one action per episode.
fn check_batch(episodes: usize, actions: usize) -> Result<(), EnvError> {
    if episodes == 0 {
        return Err(EnvError::NotReset);
    }
    if actions != episodes {
        return Err(EnvError::BatchSize {
            expected: episodes,
            got: actions,
        });
    }
    Ok(())
}

/// Checks an action has content before it is taken.
fn check_action(action: &Action) -> Result<(), EnvError> {
    let empty = match action {
        Action::Ask { text } => text
            .trim()
            .is_empty()
            .then_some(("ask", "give the question")),
        Action::Examine { system } => system
            .trim()
            .is_empty()
            .then_some(("examine", "name a system")),
        Action::Order { tests } => (tests.is_empty()
            || tests.iter().any(|test| test.trim().is_empty()))
        .then_some(("order", "name each test")),
        Action::Diagnose { diagnosis, .. } => diagnosis
            .trim()
            .is_empty()
            .then_some(("diagnose", "give the diagnosis")),
    };
    match empty {
        Some((kind, hint)) => Err(EnvError::EmptyAction(kind, hint)),
        None => Ok(()),
    }
}

/// How many seeded draws a lazy source gets before selection falls back to a scan.
const LAZY_DRAWS: usize = 256;

/// Picks the case for a reset: the id asked for, or a seeded choice among the cases that match.
fn select_case(
    source: &dyn CaseSource,
    selector: &CaseSelector,
    seed: u64,
) -> Result<Arc<Case>, EnvError> {
    if let Some(id) = &selector.id {
        return source
            .get(id)
            .ok_or_else(|| EnvError::UnknownCase(id.clone()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_ca5e);
    let no_match = || EnvError::NoMatchingCase(serde_json::to_string(selector).unwrap_or_default());
    let Some(cases) = source.in_memory() else {
        // A source that builds cases on demand: seeded draws, then a scan from a seeded start.
        use rand::Rng;
        let count = source.len();
        if count == 0 {
            return Err(no_match());
        }
        let start = rng.random_range(0..count);
        let draws = (0..LAZY_DRAWS).map(move |_| rng.random_range(0..count));
        let scan = (0..count).map(|offset| (start + offset) % count);
        return draws
            .chain(scan)
            .filter_map(|index| source.case_at(index))
            .find(|case| selector.matches(source, case))
            .ok_or_else(no_match);
    };
    let chosen = if selector.is_unfiltered() {
        // The same draw as over the filtered list, which would hold every case.
        cases.choose(&mut rng)
    } else {
        let matching: Vec<&Arc<Case>> = cases
            .iter()
            .filter(|case| selector.matches(source, case))
            .collect();
        matching.choose(&mut rng).copied()
    };
    chosen.map(Arc::clone).ok_or_else(no_match)
}

/// The text and findings shown at reset; in multiple-choice mode, with the source's question,
/// options (lettered A, B, …, in an order shuffled by the episode seed, so the answer's place in the
/// source tells nothing) and image reference.
fn presentation(case: &Case, options: &EpisodeOptions, seed: u64) -> Observation {
    let shown = &case.presentation;
    let age = match (shown.age_years, shown.age_months) {
        (0, Some(months)) => format!("{months}-month-old"),
        (years, _) => format!("{years}-year-old"),
    };
    let mut text = format!(
        "{age} {}, {}. {}",
        shown.sex.as_str(),
        shown.setting,
        shown.summary
    );
    if let Some(import) = case
        .import
        .as_ref()
        .filter(|import| options.multiple_choice && !import.options.is_empty())
    {
        if let Some(url) = &import.image_url {
            text.push_str(&format!("\nImage: {url}"));
        }
        if let Some(question) = &import.question {
            text.push_str(&format!("\n{question}"));
        }
        use rand::seq::SliceRandom;
        let mut shown: Vec<&String> = import.options.iter().collect();
        shown.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x0c40_1ce5));
        for (option, letter) in shown.into_iter().zip('A'..='Z') {
            text.push_str(&format!("\n{letter}) {option}"));
        }
    }
    Observation {
        text,
        findings: vec![Finding::Presentation {
            case: shown.clone(),
        }],
        turn: 0,
    }
}

/// The info returned at reset.
fn reset_info(case_handle: &str, options: &EpisodeOptions) -> Info {
    Info {
        case_handle: case_handle.to_string(),
        turn: 0,
        turn_limit: options.turn_limit,
        cost: Default::default(),
        charges: Vec::new(),
        budget_left: options.budget_cap(),
        outcome: None,
    }
}

/// Spawns a fresh episode entity for `case`, shown to the agent as `handle`.
fn spawn(
    world: &mut World,
    case: Arc<Case>,
    handle: Arc<str>,
    options: EpisodeOptions,
    seed: u64,
) -> Entity {
    let bias = options.patient_bias.as_ref().map(|spec| {
        // A default belief is a wrong diagnosis: never a differential item that names the case's
        // own ("Eosinophilic granulomatosis with polyangiitis" holds "granulomatosis with
        // polyangiitis").
        let names = (spec.kind.is_cognitive() && spec.belief.is_none())
            .then(|| crate::judge::diagnosis_names(&case));
        let differential: Vec<Belief> = case
            .differential
            .iter()
            .filter(|item| {
                names
                    .as_ref()
                    .is_none_or(|names| names.found_in(&item.name).is_none())
            })
            .map(|item| Belief {
                name: item.name.clone(),
                // Authored cases name every item in lay words; an imported one falls back on the
                // judge's lay table, then on the name itself.
                words: item
                    .lay_name
                    .clone()
                    .or_else(|| crate::judge::lay_name(&item.name))
                    .unwrap_or_else(|| item.name.to_lowercase()),
            })
            .collect();
        ActiveBias::new(
            spec,
            &differential,
            &options.doctor,
            &mut ChaCha8Rng::seed_from_u64(seed ^ 0xb1a5),
        )
    });
    world
        .spawn((
            Patient {
                model: RuleBasedPatient::new(Arc::clone(&case)),
                bias,
            },
            Bill(Ledger::new(options.costs())),
            Budget {
                turn: 0,
                turn_limit: options.turn_limit,
                cap: options.budget_cap(),
            },
            EpisodeCase(case, handle),
            Settings { options, seed },
            Revealed::default(),
            Transcript::default(),
            Status::Running,
            EpisodeRng(ChaCha8Rng::seed_from_u64(seed)),
            Turn::default(),
        ))
        .id()
}

/// Writes one episode's discrete observation.
fn encode_entity(world: &World, entity: Entity, table: &DiscreteTable, out: &mut [f32]) {
    let entity = world.entity(entity);
    let (Some(case), Some(revealed), Some(budget), Some(bill)) = (
        entity.get::<EpisodeCase>(),
        entity.get::<Revealed>(),
        entity.get::<Budget>(),
        entity.get::<Bill>(),
    ) else {
        out.fill(0.0);
        return;
    };
    table.encode(
        discrete::RevealedView {
            case: &case.0,
            history_items: &revealed.history_items,
            system_flags: &revealed.system_flags,
            test_flags: &revealed.test_flags,
            cost_dollars: bill.0.totals().total.dollars(),
            turn: budget.turn,
            turn_limit: budget.turn_limit,
        },
        out,
    );
}

/// One episode at a time, stepped by the caller.
pub struct Env {
    pool: EpisodePool,
    episode: Option<EpisodeKey>,
}

impl Env {
    /// An environment over `library`.
    pub fn new(library: &'static CaseLibrary) -> Env {
        Env::with_source(library)
    }

    /// An environment drawing its cases from any [`CaseSource`], such as a DDXPlus CSV played
    /// without converting it.
    pub fn with_source(library: &'static dyn CaseSource) -> Env {
        Env {
            pool: EpisodePool::with_source(library, false),
            episode: None,
        }
    }

    /// Starts a new episode.
    pub fn reset(
        &mut self,
        seed: u64,
        options: EpisodeOptions,
    ) -> Result<(Observation, Info), EnvError> {
        let (key, observation, info) = self.pool.start(seed, options)?;
        if let Some(old) = self.episode.replace(key) {
            self.pool.close(old);
        }
        Ok((observation, info))
    }

    /// The discrete-mode observation of the current episode (zeros before any reset).
    pub fn discrete_observation(&self, table: &DiscreteTable) -> Vec<f32> {
        let mut out = vec![0.0; table.observation_len()];
        if let Some(key) = self.episode {
            self.pool.discrete_observation(key, table, &mut out);
        }
        out
    }

    /// Takes the action at `index` of the discrete table; returns the step and the new observation.
    pub fn step_discrete(
        &mut self,
        table: &DiscreteTable,
        index: usize,
    ) -> Result<(Step, Vec<f32>), EnvError> {
        let step = self.step(table.checked_action(index)?)?;
        Ok((step, self.discrete_observation(table)))
    }

    /// Takes one action.
    pub fn step(&mut self, action: Action) -> Result<Step, EnvError> {
        let key = self.episode.ok_or(EnvError::NotReset)?;
        self.pool.step(key, action)
    }

    /// The prompt a language model must answer before `action` can be taken, or `None` when the
    /// action needs no model (see [`EpisodePool::model_prompt`]).
    pub fn model_prompt(&self, action: &Action) -> Result<Option<ModelPrompt>, EnvError> {
        let key = self.episode.ok_or(EnvError::NotReset)?;
        self.pool.model_prompt(key, action)
    }

    /// Takes one action with the model reply it needed.
    pub fn step_with_reply(
        &mut self,
        action: Action,
        model_reply: Option<String>,
    ) -> Result<Step, EnvError> {
        let key = self.episode.ok_or(EnvError::NotReset)?;
        self.pool.step_with_reply(key, action, model_reply)
    }

    /// Reads an action from text (SDBench tags, AgentClinic lines or a plain question) and takes it.
    pub fn step_text(&mut self, text: &str) -> Result<Step, EnvError> {
        let action = parse_text(text)?;
        self.step(action)
    }

    /// A summary of the current episode.
    pub fn state(&self) -> Option<EpisodeState> {
        self.pool.state(self.episode?)
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[TranscriptEntry] {
        self.episode
            .and_then(|key| self.pool.transcript(key))
            .unwrap_or(&[])
    }

    /// The event log of the current episode so far, if one was reset.
    pub fn log(&self) -> Option<EpisodeLog> {
        self.pool.log(self.episode?)
    }
}

/// What a [`VecEnv`] does with an episode that has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoReset {
    /// Gymnasium's default: the step after an episode ends resets it (with the next seed) and returns
    /// the new presentation, with reward 0; the action given for it in that step is ignored.
    #[default]
    NextStep,
    /// Ended episodes stay ended; stepping one is an error until the whole batch is reset.
    Disabled,
}

/// Many episodes advanced together, one schedule run per step.
pub struct VecEnv {
    pool: EpisodePool,
    episodes: Vec<EpisodeKey>,
    seeds: Vec<u64>,
    options: EpisodeOptions,
    auto_reset: AutoReset,
}

impl VecEnv {
    /// `count` episodes over `library`.
    pub fn new(library: &'static CaseLibrary, count: usize, auto_reset: AutoReset) -> VecEnv {
        VecEnv::with_source(library, count, auto_reset)
    }

    /// `count` episodes drawing their cases from any [`CaseSource`] (a DDXPlus CSV, say).
    pub fn with_source(
        library: &'static dyn CaseSource,
        count: usize,
        auto_reset: AutoReset,
    ) -> VecEnv {
        VecEnv {
            pool: EpisodePool::with_source(library, count > 1),
            episodes: Vec::with_capacity(count),
            seeds: vec![0; count],
            options: EpisodeOptions::default(),
            auto_reset,
        }
    }

    /// Number of episodes.
    pub fn len(&self) -> usize {
        self.seeds.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.seeds.is_empty()
    }

    /// Resets every episode; episode `i` gets seed `seed + i`.
    pub fn reset(
        &mut self,
        seed: u64,
        options: EpisodeOptions,
    ) -> Result<Vec<(Observation, Info)>, EnvError> {
        options.validate()?;
        // Select every case first, so a selection that matches nothing changes nothing.
        for offset in 0..self.len() as u64 {
            select_case(self.pool.source(), &options.case, seed.wrapping_add(offset))?;
        }
        for key in self.episodes.drain(..) {
            self.pool.close(key);
        }
        let mut shown = Vec::with_capacity(self.seeds.len());
        for offset in 0..self.seeds.len() {
            let episode_seed = seed.wrapping_add(offset as u64);
            let (key, observation, info) = self.pool.start(episode_seed, options.clone())?;
            shown.push((observation, info));
            self.seeds[offset] = episode_seed;
            self.episodes.push(key);
        }
        self.options = options;
        Ok(shown)
    }

    /// Takes one action in every episode (one per episode, in order).
    pub fn step(&mut self, actions: Vec<Action>) -> Result<Vec<Step>, EnvError> {
        check_batch(self.episodes.len(), actions.len())?;
        let mut restart = vec![false; self.episodes.len()];
        for (index, action) in actions.iter().enumerate() {
            let (status, turn) = self
                .pool
                .progress(self.episodes[index])
                .ok_or(EnvError::NoSuchEpisode)?;
            if status == EpisodeStatus::Running {
                check_action(action)?;
            } else if self.auto_reset == AutoReset::NextStep {
                restart[index] = true;
            } else {
                return Err(EnvError::EpisodeOver { turn });
            }
        }
        let mut results: Vec<Option<Step>> = vec![None; self.episodes.len()];
        let mut stepped = Vec::with_capacity(actions.len());
        let mut batch = Vec::with_capacity(actions.len());
        for (index, action) in actions.into_iter().enumerate() {
            if restart[index] {
                results[index] = Some(self.restart(index)?);
            } else {
                stepped.push(index);
                batch.push((self.episodes[index], action));
            }
        }
        for (index, step) in stepped.into_iter().zip(self.pool.step_many(batch)) {
            results[index] = Some(step?);
        }
        // Steps are large: size the result once rather than growing it step by step.
        let mut steps = Vec::with_capacity(results.len());
        steps.extend(results.into_iter().flatten());
        Ok(steps)
    }

    /// Takes the discrete action `indices[i]` in episode `i`; returns the steps and the observations of
    /// every episode as one flat row-major array (`len() × table.observation_len()`).
    pub fn step_discrete(
        &mut self,
        table: &DiscreteTable,
        indices: &[usize],
    ) -> Result<(Vec<Step>, Vec<f32>), EnvError> {
        let actions = indices
            .iter()
            .map(|&index| table.checked_action(index))
            .collect::<Result<Vec<_>, _>>()?;
        let steps = self.step(actions)?;
        Ok((steps, self.discrete_observations(table)))
    }

    /// Every episode's discrete observation, as one flat row-major array.
    pub fn discrete_observations(&self, table: &DiscreteTable) -> Vec<f32> {
        let width = table.observation_len();
        let mut out = vec![0.0; width * self.episodes.len()];
        for (row, &key) in out.chunks_mut(width).zip(&self.episodes) {
            self.pool.discrete_observation(key, table, row);
        }
        out
    }

    /// Replaces an ended episode with a new one on the next seed and returns its presentation as a step.
    fn restart(&mut self, index: usize) -> Result<Step, EnvError> {
        let seed = self.seeds[index].wrapping_add(self.len() as u64);
        let (key, observation, info) = self.pool.start(seed, self.options.clone())?;
        self.pool.close(self.episodes[index]);
        self.episodes[index] = key;
        self.seeds[index] = seed;
        Ok(Step {
            observation,
            reward: 0.0,
            terminated: false,
            truncated: false,
            info,
        })
    }
}

/// The oracle's script for a case: its reference work-up, then its diagnosis (a labelled upper bound
/// and a test fixture: the oracle reads the hidden case).
pub fn oracle_actions(case: &Case) -> Vec<Action> {
    systems::oracle_script(case)
}

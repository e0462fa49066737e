//! The discrete fast path: many discrete-mode episodes stepped with table lookups and arithmetic.
//!
//! Every discrete action's effect on a case is fixed: which history topics a canonical question
//! reaches, whether a system's finding or a test's report is abnormal, what it costs, which key
//! findings it uncovers, whether a candidate diagnosis is judged correct. [`CaseTables`] learns these
//! once per case by running each action through the real engine ([`Env`]), so the fast path inherits
//! the text pipeline's semantics rather than restating them; stepping is then a few array writes. It
//! gives the same observations, rewards and endings as [`super::VecEnv::step_discrete`] (a test holds
//! it to that), without text, transcripts or patient biases.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use dxsim_gatekeeper::Money;

use super::discrete::DiscreteTable;
use super::{
    CaseSelector, EnvError, EpisodeKey, EpisodeOptions, EpisodePool, check_batch, select_case,
};
use crate::library::CaseLibrary;

/// What each discrete action does in one case, learnt from the real engine.
#[derive(Debug)]
pub struct CaseTables {
    /// Per action: observation positions it sets, with the value written.
    reveals: Vec<Vec<(u32, f32)>>,
    /// Per action: bit mask of the key findings it uncovers.
    key_findings: Vec<u64>,
    /// Per diagnosis candidate: whether the judge calls it correct.
    correct: Vec<bool>,
}

impl CaseTables {
    /// Learns the tables of `case_id` by playing every action once, each from a fresh episode, all
    /// in one schedule run of a throwaway pool.
    fn learn(
        library: &'static CaseLibrary,
        table: &DiscreteTable,
        case_id: &str,
    ) -> Result<CaseTables, EnvError> {
        let options = EpisodeOptions {
            case: CaseSelector {
                id: Some(case_id.to_string()),
                ..CaseSelector::default()
            },
            turn_limit: 4,
            ..EpisodeOptions::default()
        };
        let mut pool = EpisodePool::new(library, true);
        let mut batch = Vec::with_capacity(table.action_count());
        for index in 0..table.action_count() {
            let (key, _, _) = pool.start(0, options.clone())?;
            batch.push((key, table.checked_action(index)?));
        }
        let keys: Vec<EpisodeKey> = batch.iter().map(|(key, _)| *key).collect();
        let steps = pool.step_many(batch);
        let playable = table.playable_count();
        let mut reveals = Vec::with_capacity(playable);
        let mut key_findings = Vec::with_capacity(playable);
        let mut correct = Vec::with_capacity(table.action_count() - playable);
        let mut observation = vec![0.0; table.observation_len()];
        for (index, (key, step)) in keys.into_iter().zip(steps).enumerate() {
            let step = step?;
            if index < playable {
                pool.discrete_observation(key, table, &mut observation);
                let end = observation.len() - 2;
                reveals.push(
                    observation[..end]
                        .iter()
                        .enumerate()
                        .filter(|(_, value)| **value != 0.0)
                        .map(|(position, value)| (position as u32, *value))
                        .collect(),
                );
                key_findings.push(
                    pool.key_findings_revealed(key)
                        .into_iter()
                        .flatten()
                        .fold(0u64, |mask, &bit| mask | (1 << bit.min(63))),
                );
            } else {
                correct.push(
                    step.info
                        .outcome
                        .and_then(|outcome| outcome.verdict)
                        .is_some_and(|verdict| verdict.correct),
                );
            }
        }
        Ok(CaseTables {
            reveals,
            key_findings,
            correct,
        })
    }
}

/// The state of one fast episode.
#[derive(Debug, Clone)]
struct FastEpisode {
    tables: Arc<CaseTables>,
    seed: u64,
    turn: u32,
    in_visit: bool,
    total: Money,
    keys: u64,
    ended: bool,
    /// The actions taken since the reset, for checkpoints.
    history: Vec<u32>,
}

/// One step of a [`DiscreteVecEnv`]: borrowed views of its buffers, one entry per episode.
#[derive(Debug)]
pub struct DiscreteBatchStep<'a> {
    /// Observations, row-major (`episodes × observation_len`).
    pub observations: &'a [f32],
    /// Rewards.
    pub rewards: &'a [f64],
    /// Ended by a diagnosis.
    pub terminated: &'a [bool],
    /// Ended by the turn limit or the budget cap.
    pub truncated: &'a [bool],
    /// Episodes reset at this step (their rows are all zeros again).
    pub reset: &'a [u32],
    /// The observation entries this step changed, as parallel arrays: in episode `changed_episode[k]`,
    /// position `changed_position[k]` now holds `changed_value[k]` (rows in `reset` excepted).
    pub changed_episode: &'a [u32],
    /// See [`DiscreteBatchStep::changed_episode`].
    pub changed_position: &'a [u32],
    /// See [`DiscreteBatchStep::changed_episode`].
    pub changed_value: &'a [f32],
}

/// Each episode's seed and the actions it took since its reset: enough to rebuild a
/// [`DiscreteVecEnv`] exactly with [`DiscreteVecEnv::restore`].
pub type DiscreteCheckpoint = Vec<(u64, Vec<u32>)>;

/// Learnt [`CaseTables`] by case id, shareable between [`DiscreteVecEnv`]s built on the same
/// [`DiscreteTable`] (learning a case takes milliseconds; a server learns each case once). Each case
/// has its own cell: a thread that needs a case another is learning waits for that one case, and
/// no case is learnt twice.
pub type CaseTablesCache = Arc<Mutex<HashMap<String, Arc<OnceLock<LearntTables>>>>>;

/// A case's learnt tables, or why they could not be learnt.
type LearntTables = Result<Arc<CaseTables>, String>;

/// The cached tables of `case_id`, learnt first if the cache lacks them. The cache's lock is held
/// only to find the case's cell, never while a case is learnt.
fn cached_tables(
    library: &'static CaseLibrary,
    table: &DiscreteTable,
    cache: &CaseTablesCache,
    case_id: &str,
) -> Result<Arc<CaseTables>, EnvError> {
    let cell = Arc::clone(
        cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(case_id.to_string())
            .or_default(),
    );
    cell.get_or_init(|| {
        CaseTables::learn(library, table, case_id)
            .map(Arc::new)
            .map_err(|error| error.to_string())
    })
    .clone()
    .map_err(EnvError::CaseTables)
}

/// Learns, into `cache`, the tables of every case `selector` can choose (its id, or every case that
/// passes its filters), so that the [`DiscreteVecEnv`]s that share the cache never learn one while
/// they reset or step (a server runs this off its engine threads).
pub fn prepare_case_tables(
    library: &'static CaseLibrary,
    table: &DiscreteTable,
    cache: &CaseTablesCache,
    selector: &CaseSelector,
) -> Result<(), EnvError> {
    if let Some(id) = &selector.id {
        if library.get(id).is_none() {
            return Err(EnvError::UnknownCase(id.clone()));
        }
        return cached_tables(library, table, cache, id).map(drop);
    }
    for case in library
        .cases()
        .iter()
        .filter(|case| selector.matches(library, case))
    {
        cached_tables(library, table, cache, &case.id)?;
    }
    Ok(())
}

/// Many discrete-mode episodes stepped by table lookup, with next-step autoreset.
pub struct DiscreteVecEnv {
    library: &'static CaseLibrary,
    table: DiscreteTable,
    options: EpisodeOptions,
    cache: CaseTablesCache,
    episodes: Vec<FastEpisode>,
    observations: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
    reset_rows: Vec<u32>,
    changed_episode: Vec<u32>,
    changed_position: Vec<u32>,
    changed_value: Vec<f32>,
}

impl DiscreteVecEnv {
    /// A batch over `library` with `table`; patient biases are not modelled here (use
    /// [`super::VecEnv::step_discrete`] for them).
    pub fn new(
        library: &'static CaseLibrary,
        table: DiscreteTable,
        options: EpisodeOptions,
    ) -> Result<DiscreteVecEnv, EnvError> {
        DiscreteVecEnv::with_cache(library, table, options, CaseTablesCache::default())
    }

    /// As [`DiscreteVecEnv::new`], sharing learnt case tables through `cache`, which must only ever
    /// be used with this `table`.
    pub fn with_cache(
        library: &'static CaseLibrary,
        table: DiscreteTable,
        options: EpisodeOptions,
        cache: CaseTablesCache,
    ) -> Result<DiscreteVecEnv, EnvError> {
        options.validate()?;
        if options.patient_bias.is_some() {
            return Err(EnvError::Unsupported(
                "the discrete fast path does not model patient biases; use VecEnv::step_discrete",
            ));
        }
        Ok(DiscreteVecEnv {
            library,
            table,
            options,
            cache,
            episodes: Vec::new(),
            observations: Vec::new(),
            rewards: Vec::new(),
            terminated: Vec::new(),
            truncated: Vec::new(),
            reset_rows: Vec::new(),
            changed_episode: Vec::new(),
            changed_position: Vec::new(),
            changed_value: Vec::new(),
        })
    }

    /// The action table.
    pub fn table(&self) -> &DiscreteTable {
        &self.table
    }

    /// Number of episodes (zero before the first reset).
    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    /// Whether there are no episodes (before the first reset).
    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    /// Every episode's current observation, row-major (`len() × observation_len`).
    pub fn observations(&self) -> &[f32] {
        &self.observations
    }

    fn tables(&self, case_id: &str) -> Result<Arc<CaseTables>, EnvError> {
        cached_tables(self.library, &self.table, &self.cache, case_id)
    }

    fn fresh(&self, seed: u64) -> Result<FastEpisode, EnvError> {
        let case = select_case(self.library, &self.options.case, seed)?;
        Ok(FastEpisode {
            tables: self.tables(&case.id)?,
            seed,
            turn: 0,
            in_visit: false,
            total: Money::ZERO,
            keys: 0,
            ended: false,
            history: Vec::new(),
        })
    }

    /// Resets `count` episodes; episode `i` gets seed `seed + i`. Returns the (all-zero) observations.
    pub fn reset(&mut self, seed: u64, count: usize) -> Result<&[f32], EnvError> {
        let episodes = (0..count as u64)
            .map(|offset| self.fresh(seed.wrapping_add(offset)))
            .collect::<Result<Vec<_>, _>>()?;
        self.episodes = episodes;
        self.observations = vec![0.0; count * self.table.observation_len()];
        self.rewards = vec![0.0; count];
        self.terminated = vec![false; count];
        self.truncated = vec![false; count];
        Ok(&self.observations)
    }

    /// The episodes' seeds and actions since their resets (see [`DiscreteCheckpoint`]).
    pub fn checkpoint(&self) -> DiscreteCheckpoint {
        self.episodes
            .iter()
            .map(|episode| (episode.seed, episode.history.clone()))
            .collect()
    }

    /// Rebuilds the batch from a checkpoint: each episode restarts on its seed and re-takes its
    /// actions, which gives the same observations, flags and costs as before.
    pub fn restore(&mut self, checkpoint: &DiscreteCheckpoint) -> Result<&[f32], EnvError> {
        let count = self.table.action_count();
        let episodes = checkpoint
            .iter()
            .map(|(seed, _)| self.fresh(*seed))
            .collect::<Result<Vec<_>, _>>()?;
        let width = self.table.observation_len();
        self.episodes = episodes;
        self.observations = vec![0.0; checkpoint.len() * width];
        self.rewards = vec![0.0; checkpoint.len()];
        self.terminated = vec![false; checkpoint.len()];
        self.truncated = vec![false; checkpoint.len()];
        for (index, (_, actions)) in checkpoint.iter().enumerate() {
            for &action in actions {
                if action as usize >= count {
                    return Err(EnvError::ActionOutOfRange {
                        index: action as usize,
                        count,
                    });
                }
                self.advance(index, action as usize, false);
            }
        }
        Ok(&self.observations)
    }

    /// Takes action `actions[i]` in episode `i`. An episode that ended at the previous step is reset
    /// instead (on its seed + the batch size), its action ignored, as [`super::AutoReset::NextStep`].
    pub fn step(&mut self, actions: &[usize]) -> Result<DiscreteBatchStep<'_>, EnvError> {
        check_batch(self.episodes.len(), actions.len())?;
        let count = self.table.action_count();
        if let Some(&index) = actions.iter().find(|&&index| index >= count) {
            return Err(EnvError::ActionOutOfRange { index, count });
        }
        let width = self.table.observation_len();
        let batch = self.episodes.len() as u64;
        self.reset_rows.clear();
        self.changed_episode.clear();
        self.changed_position.clear();
        self.changed_value.clear();
        for (index, &action) in actions.iter().enumerate() {
            if self.episodes[index].ended {
                let seed = self.episodes[index].seed.wrapping_add(batch);
                self.episodes[index] = self.fresh(seed)?;
                self.observations[index * width..(index + 1) * width].fill(0.0);
                self.rewards[index] = 0.0;
                self.terminated[index] = false;
                self.truncated[index] = false;
                self.reset_rows.push(index as u32);
                continue;
            }
            self.advance(index, action, true);
        }
        Ok(DiscreteBatchStep {
            observations: &self.observations,
            rewards: &self.rewards,
            terminated: &self.terminated,
            truncated: &self.truncated,
            reset: &self.reset_rows,
            changed_episode: &self.changed_episode,
            changed_position: &self.changed_position,
            changed_value: &self.changed_value,
        })
    }

    /// Takes one action in one running episode; with `track`, records the changed entries.
    fn advance(&mut self, index: usize, action: usize, track: bool) {
        let width = self.table.observation_len();
        let playable = self.table.playable_count();
        let topics_and_systems = self.table.consultation_count();
        let costs = self.options.costs();
        let cap = self.options.budget_cap();
        let row = &mut self.observations[index * width..(index + 1) * width];
        let episode = &mut self.episodes[index];
        episode.turn += 1;
        episode.history.push(action as u32);
        let mut spent = Money::ZERO;
        let mut correct = false;
        let diagnose = action >= playable;
        let mut changed = |position: usize, value: f32| {
            if track {
                self.changed_episode.push(index as u32);
                self.changed_position.push(position as u32);
                self.changed_value.push(value);
            }
        };
        if diagnose {
            correct = episode.tables.correct[action - playable];
        } else {
            if action < topics_and_systems {
                if !episode.in_visit {
                    episode.in_visit = true;
                    spent = costs.visit_fee;
                }
            } else {
                spent = self.table.test_price(action).scaled(costs.price_multiplier);
                episode.in_visit = false;
            }
            for &(position, value) in &episode.tables.reveals[action] {
                let position = position as usize;
                if row[position] != value {
                    row[position] = value;
                    changed(position, value);
                }
            }
        }
        episode.total += spent;
        let new_keys = if diagnose {
            0
        } else {
            (episode.tables.key_findings[action] & !episode.keys).count_ones()
        };
        if !diagnose {
            episode.keys |= episode.tables.key_findings[action];
        }
        let terminated = diagnose;
        let truncated = !terminated
            && (episode.turn >= self.options.turn_limit
                || cap.is_some_and(|cap| episode.total > cap));
        let mut reward = 0.0 - self.options.cost_weight * spent.dollars();
        if self.options.dense_shaping {
            reward += self.options.shaping_bonus * f64::from(new_keys);
        }
        if correct {
            reward += 1.0;
        }
        row[width - 2] = (episode.total.dollars() / 1000.0) as f32;
        row[width - 1] = episode.turn as f32 / self.options.turn_limit.max(1) as f32;
        changed(width - 2, row[width - 2]);
        changed(width - 1, row[width - 1]);
        episode.ended = terminated || truncated;
        self.rewards[index] = reward;
        self.terminated[index] = terminated;
        self.truncated[index] = truncated;
    }
}

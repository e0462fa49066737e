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
use std::sync::{Arc, Mutex};

use dxsim_gatekeeper::Money;

use super::discrete::DiscreteTable;
use super::{CaseSelector, Env, EnvError, EpisodeOptions, check_batch, select_case};
use crate::action::Action;
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
    /// Learns the tables of `case_id` by playing every action once from a fresh episode.
    fn learn(
        library: &'static CaseLibrary,
        table: &DiscreteTable,
        case_id: &str,
    ) -> Result<CaseTables, EnvError> {
        let mut env = Env::new(library);
        let options = EpisodeOptions {
            case: CaseSelector {
                id: Some(case_id.to_string()),
                ..CaseSelector::default()
            },
            turn_limit: 4,
            ..EpisodeOptions::default()
        };
        let case = library
            .get(case_id)
            .ok_or_else(|| EnvError::UnknownCase(case_id.to_string()))?;
        let playable = table.playable_count();
        let mut reveals = Vec::with_capacity(playable);
        let mut key_findings = Vec::with_capacity(playable);
        for index in 0..playable {
            env.reset(0, options.clone())?;
            let (_, observation) = env.step_discrete(table, index)?;
            let end = observation.len() - 2;
            reveals.push(
                observation[..end]
                    .iter()
                    .enumerate()
                    .filter(|(_, value)| **value != 0.0)
                    .map(|(position, value)| (position as u32, *value))
                    .collect(),
            );
            let ended = env.step(Action::Diagnose {
                diagnosis: "-".into(),
                icd10: None,
            })?;
            let found = ended
                .info
                .outcome
                .map(|outcome| outcome.key_findings_revealed)
                .unwrap_or_default();
            key_findings.push(
                case.key_findings
                    .iter()
                    .enumerate()
                    .filter(|(_, finding)| found.contains(&finding.finding))
                    .fold(0u64, |mask, (bit, _)| mask | (1 << bit.min(63))),
            );
        }
        let mut correct = Vec::with_capacity(table.action_count() - playable);
        for index in playable..table.action_count() {
            env.reset(0, options.clone())?;
            let (step, _) = env.step_discrete(table, index)?;
            correct.push(
                step.info
                    .outcome
                    .and_then(|outcome| outcome.verdict)
                    .is_some_and(|verdict| verdict.correct),
            );
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
}

/// Many discrete-mode episodes stepped by table lookup, with next-step autoreset.
pub struct DiscreteVecEnv {
    library: &'static CaseLibrary,
    table: DiscreteTable,
    options: EpisodeOptions,
    cache: Mutex<HashMap<String, Arc<CaseTables>>>,
    episodes: Vec<FastEpisode>,
    observations: Vec<f32>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

impl DiscreteVecEnv {
    /// A batch over `library` with `table`; patient biases are not modelled here (use
    /// [`super::VecEnv::step_discrete`] for them).
    pub fn new(
        library: &'static CaseLibrary,
        table: DiscreteTable,
        options: EpisodeOptions,
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
            cache: Mutex::new(HashMap::new()),
            episodes: Vec::new(),
            observations: Vec::new(),
            rewards: Vec::new(),
            terminated: Vec::new(),
            truncated: Vec::new(),
        })
    }

    /// The action table.
    pub fn table(&self) -> &DiscreteTable {
        &self.table
    }

    fn tables(&self, case_id: &str) -> Result<Arc<CaseTables>, EnvError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(tables) = cache.get(case_id) {
            return Ok(Arc::clone(tables));
        }
        let tables = Arc::new(CaseTables::learn(self.library, &self.table, case_id)?);
        cache.insert(case_id.to_string(), Arc::clone(&tables));
        Ok(tables)
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

    /// Takes action `actions[i]` in episode `i`. An episode that ended at the previous step is reset
    /// instead (on its seed + the batch size), its action ignored, as [`super::AutoReset::NextStep`].
    pub fn step(&mut self, actions: &[usize]) -> Result<DiscreteBatchStep<'_>, EnvError> {
        check_batch(self.episodes.len(), actions.len())?;
        let count = self.table.action_count();
        if let Some(&index) = actions.iter().find(|&&index| index >= count) {
            return Err(EnvError::ActionOutOfRange { index, count });
        }
        let width = self.table.observation_len();
        let playable = self.table.playable_count();
        let topics_and_systems = self.table.consultation_count();
        let costs = self.options.costs();
        let cap = self.options.budget_cap();
        let batch = self.episodes.len() as u64;
        for (index, &action) in actions.iter().enumerate() {
            if self.episodes[index].ended {
                let seed = self.episodes[index].seed.wrapping_add(batch);
                self.episodes[index] = self.fresh(seed)?;
                self.observations[index * width..(index + 1) * width].fill(0.0);
                self.rewards[index] = 0.0;
                self.terminated[index] = false;
                self.truncated[index] = false;
                continue;
            }
            let row = &mut self.observations[index * width..(index + 1) * width];
            let episode = &mut self.episodes[index];
            episode.turn += 1;
            let mut spent = Money::ZERO;
            let mut correct = false;
            let diagnose = action >= playable;
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
                    row[position as usize] = value;
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
            let mut reward = -self.options.cost_weight * spent.dollars();
            if self.options.dense_shaping {
                reward += self.options.shaping_bonus * f64::from(new_keys);
            }
            if correct {
                reward += 1.0;
            }
            row[width - 2] = (episode.total.dollars() / 1000.0) as f32;
            row[width - 1] = episode.turn as f32 / self.options.turn_limit.max(1) as f32;
            episode.ended = terminated || truncated;
            self.rewards[index] = reward;
            self.terminated[index] = terminated;
            self.truncated[index] = truncated;
        }
        Ok(DiscreteBatchStep {
            observations: &self.observations,
            rewards: &self.rewards,
            terminated: &self.terminated,
            truncated: &self.truncated,
        })
    }
}

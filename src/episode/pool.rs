//! [`EpisodePool`]: a world of independent episodes, each started, stepped and closed on its own,
//! any set of them advanced together in one schedule run.
//!
//! [`super::Env`] is a pool holding one episode and [`super::VecEnv`] a pool holding a fixed batch;
//! the HTTP server keeps one pool per engine shard, with episodes coming and going as clients create
//! and close them. bevy types stay behind [`EpisodeKey`].

use bevy_ecs::prelude::*;
use dxsim_gatekeeper::billing::CostTotals;
use serde::Serialize;

use super::components::{
    Bill, Budget, Engine, EpisodeCase, Parallelism, Patient, Revealed, Settings, Status,
    Transcript, TranscriptEntry, Turn,
};
use super::log::{EpisodeLog, LogError, LogHeader, LogStep};
use super::model::{ModelPrompt, gatekeeper_prompt, synthetic_exam_item, synthetic_report_item};
use super::options::{GatekeeperBackend, PatientBackend};
use super::{
    CaseSelector, DiscreteTable, EnvError, EpisodeOptions, Info, Observation, Step, check_action,
    encode_entity, engine, presentation, reset_info, schedule, select_case, spawn,
};
use crate::action::Action;
use crate::library::{CaseLibrary, CaseSource};
use crate::patient::llm::patient_prompt;
use dxsim_gatekeeper::Gatekeeper;

/// A handle to one episode of an [`EpisodePool`]; valid until the episode is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EpisodeKey(Entity);

/// Where an episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// Waiting for the next action.
    Running,
    /// Ended by a diagnosis.
    Terminated,
    /// Ended by the turn limit or the budget cap.
    Truncated,
}

/// A summary of one episode, for its operator: the case id is kept for logs and records, and must
/// not be shown to the agent while the episode runs (DESIGN.md §3.9); the handle may be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeState {
    /// The case played.
    pub case_id: String,
    /// The case's opaque handle.
    pub case_handle: String,
    /// The episode seed.
    pub seed: u64,
    /// Turns taken.
    pub turn: u32,
    /// Where the episode stands.
    pub status: EpisodeStatus,
    /// Costs so far.
    pub cost: CostTotals,
}

impl EpisodeState {
    /// Whether the episode has ended (its case may then be named).
    pub fn ended(&self) -> bool {
        self.status != EpisodeStatus::Running
    }
}

/// Many independent episodes in one world.
pub struct EpisodePool {
    world: World,
    schedule: Schedule,
    library: &'static dyn CaseSource,
}

impl EpisodePool {
    /// An empty pool over `library`. With `parallel`, the heavy systems spread a schedule run's
    /// episodes over the compute task pool (worth it for batches, not for one episode).
    pub fn new(library: &'static CaseLibrary, parallel: bool) -> EpisodePool {
        EpisodePool::with_source(library, parallel)
    }

    /// An empty pool drawing its cases from any [`CaseSource`] (a DDXPlus CSV played without
    /// converting it, say).
    pub fn with_source(library: &'static dyn CaseSource, parallel: bool) -> EpisodePool {
        let mut world = World::new();
        world.insert_resource(engine());
        world.insert_resource(Parallelism(parallel));
        EpisodePool {
            world,
            schedule: schedule::step_schedule(),
            library,
        }
    }

    /// The source episodes draw their cases from.
    pub fn source(&self) -> &'static dyn CaseSource {
        self.library
    }

    /// Starts a new episode; returns its key and what the doctor sees at reset.
    pub fn start(
        &mut self,
        seed: u64,
        options: EpisodeOptions,
    ) -> Result<(EpisodeKey, Observation, Info), EnvError> {
        options.validate()?;
        let case = select_case(self.library, &options.case, seed)?;
        let observation = presentation(&case, &options, seed);
        let handle: std::sync::Arc<str> = case.handle().into();
        let info = reset_info(&handle, &options);
        let entity = spawn(&mut self.world, case, handle, options, seed);
        Ok((EpisodeKey(entity), observation, info))
    }

    /// Ends an episode and frees it; returns whether it existed.
    pub fn close(&mut self, key: EpisodeKey) -> bool {
        let closed = self.exists(key) && self.world.despawn(key.0);
        // A despawn records each removed component for `RemovedComponents` readers, which only
        // an update frees; nothing here reads them, so without this every closed episode would
        // leave about 1.5 KB behind for the life of the process.
        self.world.clear_trackers();
        closed
    }

    /// Whether `key` names a live episode of this pool.
    fn exists(&self, key: EpisodeKey) -> bool {
        self.world
            .get_entity(key.0)
            .is_ok_and(|entity| entity.contains::<Status>())
    }

    /// Checks that `key` may take `action` now.
    fn check_step(&self, key: EpisodeKey, action: &Action) -> Result<(), EnvError> {
        let (status, turn) = self.progress(key).ok_or(EnvError::NoSuchEpisode)?;
        if status != EpisodeStatus::Running {
            return Err(EnvError::EpisodeOver { turn });
        }
        check_action(action)
    }

    /// Takes one action in one episode.
    pub fn step(&mut self, key: EpisodeKey, action: Action) -> Result<Step, EnvError> {
        self.step_many(vec![(key, action)])
            .pop()
            .unwrap_or(Err(EnvError::NoSuchEpisode))
    }

    /// What a language model must be asked before `action` can be taken: for an LLM patient, its
    /// prompt for a question (the presentation, the history, the bias and the conversation so far);
    /// for an LLM gatekeeper, the findings the case lacks among the examinations or text-reported
    /// tests requested. `None` when the action needs no model.
    pub fn model_prompt(
        &self,
        key: EpisodeKey,
        action: &Action,
    ) -> Result<Option<ModelPrompt>, EnvError> {
        let entity = self
            .world
            .get_entity(key.0)
            .map_err(|_| EnvError::NoSuchEpisode)?;
        let (Some(settings), Some(case), Some(patient), Some(transcript), Some(revealed)) = (
            entity.get::<Settings>(),
            entity.get::<EpisodeCase>(),
            entity.get::<Patient>(),
            entity.get::<Transcript>(),
            entity.get::<Revealed>(),
        ) else {
            return Err(EnvError::NoSuchEpisode);
        };
        let options = &settings.options;
        if let Action::Ask { text } = action {
            if options.patient_backend != PatientBackend::Llm {
                return Ok(None);
            }
            let exchanges = transcript
                .0
                .iter()
                .filter_map(|entry| match &entry.action {
                    Action::Ask { text } => Some((text.clone(), entry.response.clone())),
                    _ => None,
                })
                .collect();
            return Ok(Some(ModelPrompt::Patient(patient_prompt(
                &case.0,
                patient.bias.as_ref(),
                exchanges,
                text,
            ))));
        }
        if options.gatekeeper_backend != GatekeeperBackend::Llm {
            return Ok(None);
        }
        let engine = self.world.resource::<Engine>();
        let gatekeeper = Gatekeeper::new(engine.resolver, &case.0, settings.seed);
        let mut items: Vec<(String, String)> = match action {
            Action::Examine { system } => gatekeeper
                .examine(system)
                .iter()
                .filter_map(synthetic_exam_item)
                .collect(),
            Action::Order { tests } => {
                let mut dry_run = revealed.disclosure.clone();
                gatekeeper
                    .order_items(tests, &mut dry_run)
                    .iter()
                    .filter_map(synthetic_report_item)
                    .collect()
            }
            Action::Ask { .. } | Action::Diagnose { .. } => Vec::new(),
        };
        items.dedup();
        Ok((!items.is_empty()).then(|| ModelPrompt::Gatekeeper(gatekeeper_prompt(&case.0, items))))
    }

    /// Takes one action with the language model's reply it needed (see
    /// [`EpisodePool::model_prompt`]); a reply is ignored where no model plays.
    pub fn step_with_reply(
        &mut self,
        key: EpisodeKey,
        action: Action,
        model_reply: Option<String>,
    ) -> Result<Step, EnvError> {
        self.step_entries(vec![(key, action, model_reply)])
            .pop()
            .unwrap_or(Err(EnvError::NoSuchEpisode))
    }

    /// Takes one action in each of several episodes, all advanced in one schedule run. Results come
    /// back in the order given; a refused entry (unknown or finished episode, empty action, a second
    /// action for the same episode) leaves its episode untouched and does not stop the others.
    pub fn step_many(&mut self, actions: Vec<(EpisodeKey, Action)>) -> Vec<Result<Step, EnvError>> {
        self.step_entries(
            actions
                .into_iter()
                .map(|(key, action)| (key, action, None))
                .collect(),
        )
    }

    /// [`EpisodePool::step_many`] with each entry's model reply, if it has one.
    fn step_entries(
        &mut self,
        actions: Vec<(EpisodeKey, Action, Option<String>)>,
    ) -> Vec<Result<Step, EnvError>> {
        let mut results: Vec<Option<Result<Step, EnvError>>> = Vec::with_capacity(actions.len());
        let mut accepted = Vec::with_capacity(actions.len());
        for (key, action, model_reply) in actions {
            let checked = self.check_step(key, &action).and_then(|()| {
                if model_reply.is_none()
                    && self.options(key).is_some_and(|options| {
                        options.patient_backend == PatientBackend::Llm
                            || options.gatekeeper_backend == GatekeeperBackend::Llm
                    })
                    && self.model_prompt(key, &action)?.is_some()
                {
                    return Err(EnvError::ModelReplyNeeded);
                }
                let mut turn = self
                    .world
                    .get_mut::<Turn>(key.0)
                    .ok_or(EnvError::NoSuchEpisode)?;
                if turn.action.is_some() {
                    return Err(EnvError::DuplicateInBatch);
                }
                turn.action = Some(action);
                turn.model_reply = model_reply;
                Ok(())
            });
            match checked {
                Ok(()) => {
                    accepted.push((results.len(), key));
                    results.push(None);
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        if !accepted.is_empty() {
            self.schedule.run(&mut self.world);
        }
        for (index, key) in accepted {
            let output = self
                .world
                .get_mut::<Turn>(key.0)
                .and_then(|mut turn| turn.output.take());
            results[index] = Some(output.ok_or(EnvError::NoSuchEpisode));
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or(Err(EnvError::NoSuchEpisode)))
            .collect()
    }

    /// A summary of one episode.
    pub fn state(&self, key: EpisodeKey) -> Option<EpisodeState> {
        let (status, turn) = self.progress(key)?;
        let entity = self.world.get_entity(key.0).ok()?;
        let case = entity.get::<EpisodeCase>()?;
        Some(EpisodeState {
            case_id: case.0.id.clone(),
            case_handle: case.1.to_string(),
            seed: entity.get::<Settings>()?.seed,
            turn,
            status,
            cost: entity.get::<Bill>()?.0.totals(),
        })
    }

    /// Where an episode stands and its turn: the cheap part of [`EpisodePool::state`], checked before
    /// every step.
    pub(crate) fn progress(&self, key: EpisodeKey) -> Option<(EpisodeStatus, u32)> {
        let entity = self.world.get_entity(key.0).ok()?;
        let status = match entity.get::<Status>()? {
            Status::Running => EpisodeStatus::Running,
            Status::Terminated => EpisodeStatus::Terminated,
            Status::Truncated => EpisodeStatus::Truncated,
        };
        Some((status, entity.get::<Budget>()?.turn))
    }

    /// The options an episode was started with.
    pub fn options(&self, key: EpisodeKey) -> Option<&EpisodeOptions> {
        self.world
            .get::<Settings>(key.0)
            .map(|settings| &settings.options)
    }

    /// The indices (into the case's key findings) of the key findings an episode has uncovered.
    pub(crate) fn key_findings_revealed(
        &self,
        key: EpisodeKey,
    ) -> Option<&std::collections::BTreeSet<usize>> {
        self.world
            .get::<super::components::Revealed>(key.0)
            .map(|revealed| &revealed.key_findings)
    }

    /// One episode's transcript so far.
    pub fn transcript(&self, key: EpisodeKey) -> Option<&[TranscriptEntry]> {
        self.world
            .get::<Transcript>(key.0)
            .map(|transcript| transcript.0.as_slice())
    }

    /// One episode's event log so far.
    pub fn log(&self, key: EpisodeKey) -> Option<EpisodeLog> {
        let state = self.state(key)?;
        Some(EpisodeLog {
            header: LogHeader::for_case(
                self.library,
                state.case_id,
                state.seed,
                self.options(key)?.clone(),
            ),
            steps: self.transcript(key)?.iter().map(LogStep::from).collect(),
        })
    }

    /// Writes one episode's discrete observation into `out` (zeros for an unknown key).
    pub fn discrete_observation(&self, key: EpisodeKey, table: &DiscreteTable, out: &mut [f32]) {
        if self.exists(key) {
            encode_entity(&self.world, key.0, table, out);
        } else {
            out.fill(0.0);
        }
    }

    /// Rebuilds an episode from its log: starts it on the logged case, seed and options, re-takes
    /// every action and checks each response is the logged one.
    pub fn replay(&mut self, log: &EpisodeLog) -> Result<EpisodeKey, LogError> {
        log.header.check_case(self.library)?;
        let mut options = log.header.options.clone();
        options.case = CaseSelector {
            id: Some(log.header.case_id.clone()),
            ..CaseSelector::default()
        };
        let (key, _, _) = self
            .start(log.header.seed, options)
            .map_err(|source| LogError::Env { turn: 0, source })?;
        // The case is chosen; the episode keeps the options it was asked with, so that reading it
        // after a restart shows what it showed before.
        if let Some(mut settings) = self.world.get_mut::<Settings>(key.0) {
            settings.options.case = log.header.options.case.clone();
        }
        for logged in &log.steps {
            let step = match self.step_with_reply(
                key,
                logged.action.clone(),
                logged.model_reply.clone(),
            ) {
                Ok(step) => step,
                Err(source) => {
                    self.close(key);
                    return Err(LogError::Env {
                        turn: logged.turn,
                        source,
                    });
                }
            };
            if step.observation.text != logged.response {
                self.close(key);
                return Err(LogError::Diverged {
                    turn: logged.turn,
                    expected: logged.response.clone(),
                    got: step.observation.text,
                });
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the world still holds of despawned episodes' components.
    fn removal_records(pool: &EpisodePool) -> usize {
        pool.world
            .removed_components()
            .iter()
            .map(|(_, messages)| messages.len())
            .sum()
    }

    #[test]
    fn closed_episodes_leave_nothing_behind() {
        let library = CaseLibrary::builtin().expect("the built-in library loads");
        let mut pool = EpisodePool::new(library, false);
        for seed in 0..200 {
            let (key, _, _) = pool.start(seed, EpisodeOptions::default()).expect("starts");
            let question = Action::Ask {
                text: "Where is the pain?".into(),
            };
            pool.step(key, question).expect("steps");
            assert!(pool.close(key));
        }
        let records = removal_records(&pool);
        assert!(
            records < 200,
            "{records} removal records kept after 200 closed episodes"
        );
    }
}

//! Engine shards: worker threads that each own a share of the live episodes.
//!
//! A shard owns an [`EpisodePool`] (text-engine episodes) and its vector environments, and takes
//! [`Command`]s from a channel. It drains whatever is waiting and advances every pending step in one
//! schedule run, so concurrent single-step requests batch themselves under load. Every change is
//! handed to the [writer](super::writer) with the replies it unblocks: a client hears of a step only
//! after its event is committed to the store.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::error::{ApiError, JsonBody};
use super::writer::{Completion, Touched, WriteJob};
use crate::action::Action;
use crate::episode::log::{EpisodeLog, LogHeader, LogStep};
use crate::episode::{
    CaseTablesCache, DiscreteTable, DiscreteVecEnv, EpisodeKey, EpisodeOptions, EpisodePool,
    EpisodeStatus, Info, Observation, Step,
};
use crate::library::CaseLibrary;
use crate::store::{StoreEvent, StoredEpisode, StoredVector, VectorCheckpoint, VectorSpec};

/// The token name that owns an episode.
pub(crate) type Owner = Arc<str>;

/// How an episode's observations are given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Text and structured findings.
    #[default]
    Text,
    /// Also the discrete-mode numeric observation.
    Discrete,
}

impl Mode {
    /// The mode's name, as stored.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Mode::Text => "text",
            Mode::Discrete => "discrete",
        }
    }

    /// Reads a stored mode name.
    fn parse(text: &str) -> Mode {
        if text == "discrete" {
            Mode::Discrete
        } else {
            Mode::Text
        }
    }
}

/// One entry of a step request: its position in the request, the episode and the action.
pub(crate) type StepEntry = (usize, String, Action);

/// One entry's answer: its position and the step's JSON object, or why it was refused.
pub(crate) type StepAnswer = (usize, Result<Vec<u8>, ApiError>);

/// A reply with a ready JSON body.
pub(crate) type Reply = oneshot::Sender<Result<JsonBody, ApiError>>;

/// Work for a shard.
pub(crate) enum Command {
    /// Start an episode under a new id.
    Create {
        owner: Owner,
        id: String,
        seed: u64,
        options: EpisodeOptions,
        mode: Mode,
        reply: Reply,
    },
    /// Start a new episode under an existing id.
    Reset {
        owner: Owner,
        id: String,
        seed: u64,
        options: EpisodeOptions,
        mode: Option<Mode>,
        reply: Reply,
    },
    /// Take actions in episodes of this shard.
    Step {
        owner: Owner,
        entries: Vec<StepEntry>,
        reply: oneshot::Sender<Vec<StepAnswer>>,
    },
    /// An episode's state.
    State {
        owner: Owner,
        id: String,
        reply: Reply,
    },
    /// An episode's transcript.
    Transcript {
        owner: Owner,
        id: String,
        reply: Reply,
    },
    /// Close an episode.
    Close {
        owner: Owner,
        id: String,
        reply: Reply,
    },
    /// The owner's live episodes on this shard.
    List {
        owner: Owner,
        reply: oneshot::Sender<Vec<EpisodeSummary>>,
    },
    /// Create a vector environment.
    VectorCreate {
        owner: Owner,
        id: String,
        spec: VectorSpec,
        reply: Reply,
    },
    /// Step a vector environment.
    VectorStep {
        owner: Owner,
        id: String,
        actions: Vec<usize>,
        reply: Reply,
    },
    /// A vector environment's full observation matrix.
    VectorObservations {
        owner: Owner,
        id: String,
        reply: Reply,
    },
    /// Close a vector environment.
    VectorClose {
        owner: Owner,
        id: String,
        reply: Reply,
    },
    /// Close everything idle for longer than this.
    Expire { idle: Duration },
    /// Finish the round and stop.
    Stop,
    /// A commit failed: rebuild an episode from what the store holds (`None`: it holds nothing).
    ResyncEpisode {
        id: String,
        stored: Option<(u64, EpisodeLog)>,
    },
    /// A commit failed: rebuild a vector environment from what the store holds.
    ResyncVector {
        id: String,
        stored: Option<StoredVector>,
    },
}

/// One line of an episode listing.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EpisodeSummary {
    pub(crate) episode_id: String,
    pub(crate) mode: Mode,
    pub(crate) case_handle: String,
    /// Revealed once the episode has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) case_id: Option<String>,
    pub(crate) turn: u32,
    pub(crate) status: EpisodeStatus,
}

/// Live-episode counts, per owner and in total, shared by the handlers (which reserve) and the shards
/// (which release).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) per_owner: HashMap<Owner, usize>,
    pub(crate) total: usize,
}

impl Counts {
    /// Locks the shared counts (a poisoned lock still holds valid counts: every update is one step).
    pub(crate) fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
        counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives back `count` episodes of `owner`.
    pub(crate) fn release(&mut self, owner: &Owner, count: usize) {
        if let Some(held) = self.per_owner.get_mut(owner) {
            *held = held.saturating_sub(count);
            if *held == 0 {
                self.per_owner.remove(owner);
            }
        }
        self.total = self.total.saturating_sub(count);
    }

    /// Takes `count` episodes for `owner` (no limit check: for rebuilding at start).
    pub(crate) fn take(&mut self, owner: &Owner, count: usize) {
        *self.per_owner.entry(Arc::clone(owner)).or_default() += count;
        self.total += count;
    }
}

/// A live episode.
struct Slot {
    key: EpisodeKey,
    owner: Owner,
    mode: Mode,
    seq: u64,
    last_active: Instant,
}

/// A live vector environment.
struct VectorSlot {
    env: DiscreteVecEnv,
    owner: Owner,
    spec: VectorSpec,
    seq: u64,
    last_active: Instant,
}

/// Vector steps between checkpoints.
const CHECKPOINT_EVERY: u64 = 128;

/// Most commands drained into one round.
const MAX_ROUND: usize = 4096;

/// What a shard shares with the rest of the server.
pub(crate) struct ShardContext {
    pub(crate) index: usize,
    pub(crate) library: &'static CaseLibrary,
    pub(crate) table: &'static DiscreteTable,
    pub(crate) tables_cache: CaseTablesCache,
    pub(crate) counts: Arc<Mutex<Counts>>,
    pub(crate) writer: Sender<WriteJob>,
}

/// One engine worker's state.
pub(crate) struct Shard {
    context: ShardContext,
    pool: EpisodePool,
    episodes: HashMap<String, Slot>,
    vectors: HashMap<String, VectorSlot>,
}

/// Step requests gathered for one schedule run.
#[derive(Default)]
struct StepRound {
    entries: Vec<(usize, usize, String, Action)>,
    requests: Vec<(oneshot::Sender<Vec<StepAnswer>>, Vec<StepAnswer>)>,
    ids: std::collections::HashSet<String>,
}

impl Shard {
    /// A shard with no episodes.
    pub(crate) fn new(context: ShardContext) -> Shard {
        Shard {
            pool: EpisodePool::new(context.library, false),
            context,
            episodes: HashMap::new(),
            vectors: HashMap::new(),
        }
    }

    /// Rebuilds stored episodes and vector environments; returns how many failed to replay (those
    /// are marked `failed` in the store).
    pub(crate) fn restore(
        &mut self,
        episodes: Vec<StoredEpisode>,
        vectors: Vec<StoredVector>,
    ) -> usize {
        let mut events = Vec::new();
        let mut failed = 0;
        for stored in episodes {
            let owner: Owner = Arc::from(stored.owner.as_str());
            match self.pool.replay(&stored.log) {
                Ok(key) => {
                    self.lock_counts().take(&owner, 1);
                    self.episodes.insert(
                        stored.id,
                        Slot {
                            key,
                            owner,
                            mode: Mode::parse(&stored.mode),
                            seq: stored.last_seq,
                            last_active: Instant::now(),
                        },
                    );
                }
                Err(error) => {
                    tracing::warn!("episode {} could not be rebuilt: {error}", stored.id);
                    failed += 1;
                    events.push(StoreEvent::EpisodeEnded {
                        id: stored.id,
                        reason: "failed",
                    });
                }
            }
        }
        for stored in vectors {
            let id = stored.id.clone();
            match self.rebuild_vector(stored) {
                Ok(slot) => {
                    self.lock_counts().take(&slot.owner, slot.spec.count);
                    self.vectors.insert(id, slot);
                }
                Err(error) => {
                    tracing::warn!("vector env {id} could not be rebuilt: {error}");
                    failed += 1;
                    events.push(StoreEvent::VectorEnded {
                        id,
                        reason: "failed",
                    });
                }
            }
        }
        self.write(events, Vec::new(), Vec::new());
        failed
    }

    /// Serves commands until told to stop (or every sender is gone).
    pub(crate) fn run(mut self, commands: &Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            let mut round = vec![first];
            while round.len() < MAX_ROUND {
                match commands.try_recv() {
                    Ok(command) => round.push(command),
                    Err(_) => break,
                }
            }
            let stop = round.iter().any(|command| matches!(command, Command::Stop));
            self.handle_round(round);
            if stop {
                return;
            }
        }
    }

    fn lock_counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        Counts::lock(&self.context.counts)
    }

    /// Hands events to the writer with the replies that wait on them.
    fn write(&self, events: Vec<StoreEvent>, completions: Vec<Completion>, touched: Vec<Touched>) {
        if events.is_empty() && completions.is_empty() {
            return;
        }
        let job = WriteJob {
            shard: self.context.index,
            events,
            completions,
            touched,
        };
        if let Err(std::sync::mpsc::SendError(job)) = self.context.writer.send(job) {
            // The writer is gone only during shutdown; answer rather than leave clients hanging.
            for completion in job.completions {
                completion.fail(&ApiError::internal("the store writer has stopped"));
            }
        }
    }

    /// Handles one drained round of commands, in order; consecutive steps share a schedule run.
    fn handle_round(&mut self, commands: Vec<Command>) {
        let mut round = StepRound::default();
        for command in commands {
            match command {
                Command::Step {
                    owner,
                    entries,
                    reply,
                } => {
                    if entries.iter().any(|(_, id, _)| round.ids.contains(id)) {
                        self.run_steps(std::mem::take(&mut round));
                    }
                    let request = round.requests.len();
                    let mut answers = Vec::new();
                    for (position, id, action) in entries {
                        match self.episodes.get(&id) {
                            Some(slot) if slot.owner == owner => {
                                round.ids.insert(id.clone());
                                round.entries.push((request, position, id, action));
                            }
                            _ => answers.push((position, Err(unknown_episode(&id)))),
                        }
                    }
                    round.requests.push((reply, answers));
                }
                other => {
                    if !round.requests.is_empty() {
                        self.run_steps(std::mem::take(&mut round));
                    }
                    self.handle(other);
                }
            }
        }
        if !round.requests.is_empty() {
            self.run_steps(round);
        }
    }

    /// Advances every gathered step in one schedule run and queues the results behind their events.
    fn run_steps(&mut self, round: StepRound) {
        let StepRound {
            entries,
            mut requests,
            ..
        } = round;
        let mut batch = Vec::with_capacity(entries.len());
        let mut stepped = Vec::with_capacity(entries.len());
        for (request, position, id, action) in entries {
            match self.episodes.get(&id) {
                Some(slot) => {
                    // The engine takes one copy; the other goes into the event log.
                    batch.push((slot.key, action.clone()));
                    stepped.push((request, position, id, action));
                }
                None => requests[request]
                    .1
                    .push((position, Err(unknown_episode(&id)))),
            }
        }
        let results = self.pool.step_many(batch);
        let now = Instant::now();
        let mut events = Vec::with_capacity(results.len());
        let mut touched = Vec::with_capacity(results.len());
        for ((request, position, id, action), result) in stepped.into_iter().zip(results) {
            let answer = match (result, self.episodes.get_mut(&id)) {
                (Ok(step), Some(slot)) => {
                    slot.seq += 1;
                    slot.last_active = now;
                    let body = step_body(
                        &id,
                        &step,
                        discrete_view(slot.mode, &self.pool, slot.key, self.context.table),
                    );
                    events.push(StoreEvent::EpisodeStep {
                        id: id.clone(),
                        seq: slot.seq,
                        step: LogStep::new(
                            step.observation.turn,
                            action,
                            step.observation.text,
                            None,
                        ),
                    });
                    touched.push(Touched::Episode(id));
                    body
                }
                (Err(error), _) => Err(ApiError::from(error)),
                (Ok(_), None) => Err(unknown_episode(&id)),
            };
            requests[request].1.push((position, answer));
        }
        let completions = requests
            .into_iter()
            .map(|(reply, answers)| Completion::Steps(reply, answers))
            .collect();
        self.write(events, completions, touched);
    }

    /// Handles one command other than a step.
    fn handle(&mut self, command: Command) {
        match command {
            Command::Create {
                owner,
                id,
                seed,
                options,
                mode,
                reply,
            } => self.create(owner, id, seed, options, mode, reply),
            Command::Reset {
                owner,
                id,
                seed,
                options,
                mode,
                reply,
            } => self.reset(&owner, id, seed, options, mode, reply),
            Command::State { owner, id, reply } => {
                let _ = reply.send(self.state(&owner, &id));
            }
            Command::Transcript { owner, id, reply } => {
                let _ = reply.send(self.transcript(&owner, &id));
            }
            Command::Close { owner, id, reply } => self.close(&owner, id, reply),
            Command::List { owner, reply } => {
                let _ = reply.send(self.list(&owner));
            }
            Command::VectorCreate {
                owner,
                id,
                spec,
                reply,
            } => self.vector_create(owner, id, spec, reply),
            Command::VectorStep {
                owner,
                id,
                actions,
                reply,
            } => self.vector_step(&owner, id, &actions, reply),
            Command::VectorObservations { owner, id, reply } => {
                let _ = reply.send(self.vector_observations(&owner, &id));
            }
            Command::VectorClose { owner, id, reply } => self.vector_close(&owner, id, reply),
            Command::Expire { idle } => self.expire(idle),
            Command::Stop => {}
            step @ Command::Step { .. } => self.handle_round(vec![step]),
            Command::ResyncEpisode { id, stored } => self.resync_episode(&id, stored),
            Command::ResyncVector { id, stored } => self.resync_vector(id, stored),
        }
    }

    fn create(
        &mut self,
        owner: Owner,
        id: String,
        seed: u64,
        options: EpisodeOptions,
        mode: Mode,
        reply: Reply,
    ) {
        let (key, observation, info) = match self.pool.start(seed, options.clone()) {
            Ok(started) => started,
            Err(error) => {
                self.lock_counts().release(&owner, 1);
                let _ = reply.send(Err(error.into()));
                return;
            }
        };
        let body = ResetBody {
            episode_id: &id,
            mode,
            seed,
            observation: &observation,
            info: &info,
            discrete_observation: discrete_view(mode, &self.pool, key, self.context.table),
        };
        let body = JsonBody::with_status(StatusCode::CREATED, &body);
        let events = vec![
            StoreEvent::EpisodeCreated {
                id: id.clone(),
                owner: owner.to_string(),
                mode: mode.as_str().into(),
            },
            StoreEvent::EpisodeReset {
                id: id.clone(),
                seq: 0,
                mode: mode.as_str().into(),
                header: LogHeader::for_case(
                    self.context.library,
                    played_case(&self.pool, key),
                    seed,
                    options,
                ),
            },
        ];
        self.episodes.insert(
            id.clone(),
            Slot {
                key,
                owner,
                mode,
                seq: 0,
                last_active: Instant::now(),
            },
        );
        self.write(
            events,
            vec![Completion::Json(reply, body)],
            vec![Touched::Episode(id)],
        );
    }

    fn reset(
        &mut self,
        owner: &Owner,
        id: String,
        seed: u64,
        options: EpisodeOptions,
        mode: Option<Mode>,
        reply: Reply,
    ) {
        let Some(slot) = self.episodes.get(&id).filter(|slot| &slot.owner == owner) else {
            let _ = reply.send(Err(unknown_episode(&id)));
            return;
        };
        let old = slot.key;
        let mode = mode.unwrap_or(slot.mode);
        let (key, observation, info) = match self.pool.start(seed, options.clone()) {
            Ok(started) => started,
            Err(error) => {
                let _ = reply.send(Err(error.into()));
                return;
            }
        };
        self.pool.close(old);
        let body = ResetBody {
            episode_id: &id,
            mode,
            seed,
            observation: &observation,
            info: &info,
            discrete_observation: discrete_view(mode, &self.pool, key, self.context.table),
        };
        let body = JsonBody::ok(&body);
        let Some(slot) = self.episodes.get_mut(&id) else {
            return;
        };
        slot.key = key;
        slot.mode = mode;
        slot.seq += 1;
        slot.last_active = Instant::now();
        let event = StoreEvent::EpisodeReset {
            id: id.clone(),
            seq: slot.seq,
            mode: mode.as_str().into(),
            header: LogHeader::for_case(
                self.context.library,
                played_case(&self.pool, key),
                seed,
                options,
            ),
        };
        self.write(
            vec![event],
            vec![Completion::Json(reply, body)],
            vec![Touched::Episode(id)],
        );
    }

    fn state(&self, owner: &Owner, id: &str) -> Result<JsonBody, ApiError> {
        let slot = self.owned(owner, id)?;
        let state = self
            .pool
            .state(slot.key)
            .ok_or_else(|| unknown_episode(id))?;
        #[derive(Serialize)]
        struct Body<'a> {
            episode_id: &'a str,
            mode: Mode,
            seed: u64,
            /// The options, without the case selector while the episode runs (it may name the
            /// case, and what selected the case is not echoed to the agent).
            options: Option<serde_json::Value>,
            case_handle: &'a str,
            /// Revealed once the episode has ended.
            #[serde(skip_serializing_if = "Option::is_none")]
            case_id: Option<&'a str>,
            turn: u32,
            status: EpisodeStatus,
            cost: dxsim_gatekeeper::billing::CostTotals,
        }
        JsonBody::ok(&Body {
            episode_id: id,
            mode: slot.mode,
            seed: state.seed,
            options: self.pool.options(slot.key).map(|options| {
                let mut shown = serde_json::to_value(options).unwrap_or_default();
                if let (false, Some(fields)) = (state.ended(), shown.as_object_mut()) {
                    fields.remove("case");
                }
                shown
            }),
            case_handle: &state.case_handle,
            case_id: state.ended().then_some(state.case_id.as_str()),
            turn: state.turn,
            status: state.status,
            cost: state.cost,
        })
    }

    fn transcript(&self, owner: &Owner, id: &str) -> Result<JsonBody, ApiError> {
        let slot = self.owned(owner, id)?;
        #[derive(Serialize)]
        struct Body<'a> {
            episode_id: &'a str,
            entries: &'a [crate::episode::TranscriptEntry],
        }
        JsonBody::ok(&Body {
            episode_id: id,
            entries: self.pool.transcript(slot.key).unwrap_or_default(),
        })
    }

    fn close(&mut self, owner: &Owner, id: String, reply: Reply) {
        if let Err(error) = self.owned(owner, &id) {
            let _ = reply.send(Err(error));
            return;
        }
        if let Some(slot) = self.episodes.remove(&id) {
            self.pool.close(slot.key);
            self.lock_counts().release(&slot.owner, 1);
        }
        let event = StoreEvent::EpisodeEnded {
            id,
            reason: "closed",
        };
        self.write(
            vec![event],
            vec![Completion::Json(reply, Ok(JsonBody::no_content()))],
            Vec::new(),
        );
    }

    fn list(&self, owner: &Owner) -> Vec<EpisodeSummary> {
        self.episodes
            .iter()
            .filter(|(_, slot)| &slot.owner == owner)
            .filter_map(|(id, slot)| {
                let state = self.pool.state(slot.key)?;
                Some(EpisodeSummary {
                    episode_id: id.clone(),
                    mode: slot.mode,
                    case_id: state.ended().then(|| state.case_id.clone()),
                    case_handle: state.case_handle,
                    turn: state.turn,
                    status: state.status,
                })
            })
            .collect()
    }

    fn owned(&self, owner: &Owner, id: &str) -> Result<&Slot, ApiError> {
        self.episodes
            .get(id)
            .filter(|slot| &slot.owner == owner)
            .ok_or_else(|| unknown_episode(id))
    }

    fn new_vector_env(&self, spec: &VectorSpec) -> Result<DiscreteVecEnv, ApiError> {
        DiscreteVecEnv::with_cache(
            self.context.library,
            self.context.table.clone(),
            spec.options.clone(),
            Arc::clone(&self.context.tables_cache),
        )
        .map_err(ApiError::from)
    }

    fn vector_create(&mut self, owner: Owner, id: String, spec: VectorSpec, reply: Reply) {
        let built = self.new_vector_env(&spec).and_then(|mut env| {
            env.reset(spec.seed, spec.count)?;
            Ok(env)
        });
        let env = match built {
            Ok(env) => env,
            Err(error) => {
                self.lock_counts().release(&owner, spec.count);
                let _ = reply.send(Err(error));
                return;
            }
        };
        #[derive(Serialize)]
        struct Body<'a> {
            vec_id: &'a str,
            count: usize,
            observation_len: usize,
            action_count: usize,
            table_version: &'a str,
        }
        let body = JsonBody::with_status(
            StatusCode::CREATED,
            &Body {
                vec_id: &id,
                count: spec.count,
                observation_len: self.context.table.observation_len(),
                action_count: self.context.table.action_count(),
                table_version: self.context.table.version(),
            },
        );
        let event = StoreEvent::VectorCreated {
            id: id.clone(),
            owner: owner.to_string(),
            spec: spec.clone(),
        };
        self.vectors.insert(
            id.clone(),
            VectorSlot {
                env,
                owner,
                spec,
                seq: 0,
                last_active: Instant::now(),
            },
        );
        self.write(
            vec![event],
            vec![Completion::Json(reply, body)],
            vec![Touched::Vector(id)],
        );
    }

    fn vector_step(&mut self, owner: &Owner, id: String, actions: &[usize], reply: Reply) {
        let Some(slot) = self
            .vectors
            .get_mut(&id)
            .filter(|slot| &slot.owner == owner)
        else {
            let _ = reply.send(Err(unknown_vector(&id)));
            return;
        };
        let step = match slot.env.step(actions) {
            Ok(step) => step,
            Err(error) => {
                let _ = reply.send(Err(error.into()));
                return;
            }
        };
        #[derive(Serialize)]
        struct Updates<'a> {
            episode: &'a [u32],
            position: &'a [u32],
            value: &'a [f32],
        }
        #[derive(Serialize)]
        struct Body<'a> {
            rewards: &'a [f64],
            terminated: &'a [bool],
            truncated: &'a [bool],
            reset: &'a [u32],
            updates: Updates<'a>,
        }
        let body = JsonBody::ok(&Body {
            rewards: step.rewards,
            terminated: step.terminated,
            truncated: step.truncated,
            reset: step.reset,
            updates: Updates {
                episode: step.changed_episode,
                position: step.changed_position,
                value: step.changed_value,
            },
        });
        slot.seq += 1;
        slot.last_active = Instant::now();
        let mut events = vec![StoreEvent::VectorStep {
            id: id.clone(),
            seq: slot.seq,
            actions: actions.iter().map(|&action| action as u32).collect(),
        }];
        if slot.seq % CHECKPOINT_EVERY == 0 {
            events.push(StoreEvent::VectorCheckpoint {
                id: id.clone(),
                seq: slot.seq,
                checkpoint: VectorCheckpoint {
                    episodes: slot.env.checkpoint(),
                },
            });
        }
        self.write(
            events,
            vec![Completion::Json(reply, body)],
            vec![Touched::Vector(id)],
        );
    }

    fn vector_observations(&self, owner: &Owner, id: &str) -> Result<JsonBody, ApiError> {
        let slot = self
            .vectors
            .get(id)
            .filter(|slot| &slot.owner == owner)
            .ok_or_else(|| unknown_vector(id))?;
        #[derive(Serialize)]
        struct Body<'a> {
            count: usize,
            observation_len: usize,
            observations: &'a [f32],
        }
        JsonBody::ok(&Body {
            count: slot.env.len(),
            observation_len: self.context.table.observation_len(),
            observations: slot.env.observations(),
        })
    }

    fn vector_close(&mut self, owner: &Owner, id: String, reply: Reply) {
        if self
            .vectors
            .get(&id)
            .is_none_or(|slot| &slot.owner != owner)
        {
            let _ = reply.send(Err(unknown_vector(&id)));
            return;
        }
        let Some(slot) = self.vectors.remove(&id) else {
            return;
        };
        self.lock_counts().release(&slot.owner, slot.spec.count);
        self.write(
            vec![StoreEvent::VectorEnded {
                id,
                reason: "closed",
            }],
            vec![Completion::Json(reply, Ok(JsonBody::no_content()))],
            Vec::new(),
        );
    }

    /// Closes episodes and vector environments idle for longer than `idle`.
    fn expire(&mut self, idle: Duration) {
        let now = Instant::now();
        let is_idle = |last: Instant| now.saturating_duration_since(last) > idle;
        let expired: Vec<String> = self
            .episodes
            .iter()
            .filter(|(_, slot)| is_idle(slot.last_active))
            .map(|(id, _)| id.clone())
            .collect();
        let mut events = Vec::with_capacity(expired.len());
        for id in expired {
            if let Some(slot) = self.episodes.remove(&id) {
                self.pool.close(slot.key);
                self.lock_counts().release(&slot.owner, 1);
                events.push(StoreEvent::EpisodeEnded {
                    id,
                    reason: "expired",
                });
            }
        }
        let expired: Vec<String> = self
            .vectors
            .iter()
            .filter(|(_, slot)| is_idle(slot.last_active))
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(slot) = self.vectors.remove(&id) {
                self.lock_counts().release(&slot.owner, slot.spec.count);
                events.push(StoreEvent::VectorEnded {
                    id,
                    reason: "expired",
                });
            }
        }
        if !events.is_empty() {
            tracing::info!("expired {} idle episodes or vector envs", events.len());
        }
        self.write(events, Vec::new(), Vec::new());
    }

    /// Brings an episode back to what the store holds after a failed commit.
    fn resync_episode(&mut self, id: &str, stored: Option<(u64, EpisodeLog)>) {
        let Some(slot) = self.episodes.get(id) else {
            return;
        };
        self.pool.close(slot.key);
        let rebuilt = stored.and_then(|(seq, log)| Some((seq, self.pool.replay(&log).ok()?)));
        match (rebuilt, self.episodes.get_mut(id)) {
            (Some((seq, key)), Some(slot)) => {
                slot.key = key;
                slot.seq = seq;
            }
            _ => {
                if let Some(slot) = self.episodes.remove(id) {
                    self.lock_counts().release(&slot.owner, 1);
                }
            }
        }
    }

    /// Brings a vector environment back to what the store holds after a failed commit.
    fn resync_vector(&mut self, id: String, stored: Option<StoredVector>) {
        let Some(old) = self.vectors.remove(&id) else {
            return;
        };
        match stored.map(|stored| self.rebuild_vector(stored)) {
            Some(Ok(slot)) => {
                self.vectors.insert(id, slot);
            }
            _ => self.lock_counts().release(&old.owner, old.spec.count),
        }
    }

    /// A vector environment rebuilt from its checkpoint and later steps.
    fn rebuild_vector(&self, stored: StoredVector) -> Result<VectorSlot, ApiError> {
        let mut env = self.new_vector_env(&stored.spec)?;
        match &stored.checkpoint {
            Some(checkpoint) => env.restore(&checkpoint.episodes)?,
            None => env.reset(stored.spec.seed, stored.spec.count)?,
        };
        let mut seq = stored
            .steps
            .first()
            .map_or(0, |(seq, _)| seq.saturating_sub(1));
        for (step_seq, actions) in &stored.steps {
            let actions: Vec<usize> = actions.iter().map(|&action| action as usize).collect();
            env.step(&actions)?;
            seq = *step_seq;
        }
        Ok(VectorSlot {
            env,
            owner: Arc::from(stored.owner.as_str()),
            spec: stored.spec,
            seq,
            last_active: Instant::now(),
        })
    }
}

/// The id of the case an episode plays, for its log (never sent to the agent while it runs).
fn played_case(pool: &EpisodePool, key: EpisodeKey) -> String {
    pool.state(key)
        .map(|state| state.case_id)
        .unwrap_or_default()
}

/// The discrete observation of an episode in discrete mode.
fn discrete_view(
    mode: Mode,
    pool: &EpisodePool,
    key: EpisodeKey,
    table: &DiscreteTable,
) -> Option<Vec<f32>> {
    (mode == Mode::Discrete).then(|| {
        let mut out = vec![0.0; table.observation_len()];
        pool.discrete_observation(key, table, &mut out);
        out
    })
}

/// A step answer's JSON object.
fn step_body(
    id: &str,
    step: &Step,
    discrete_observation: Option<Vec<f32>>,
) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        episode_id: &'a str,
        observation: &'a Observation,
        reward: f64,
        terminated: bool,
        truncated: bool,
        info: &'a Info,
        #[serde(skip_serializing_if = "Option::is_none")]
        discrete_observation: Option<Vec<f32>>,
    }
    serde_json::to_vec(&Body {
        episode_id: id,
        observation: &step.observation,
        reward: step.reward,
        terminated: step.terminated,
        truncated: step.truncated,
        info: &step.info,
        discrete_observation,
    })
    .map_err(ApiError::internal)
}

/// The answer to a create or reset.
#[derive(Serialize)]
struct ResetBody<'a> {
    episode_id: &'a str,
    mode: Mode,
    seed: u64,
    observation: &'a Observation,
    info: &'a Info,
    #[serde(skip_serializing_if = "Option::is_none")]
    discrete_observation: Option<Vec<f32>>,
}

fn unknown_episode(id: &str) -> ApiError {
    ApiError::not_found(format!("no episode `{id}` (for this token)"))
}

fn unknown_vector(id: &str) -> ApiError {
    ApiError::not_found(format!("no vector env `{id}` (for this token)"))
}

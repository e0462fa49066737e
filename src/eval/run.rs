//! Running a plan: concurrent episodes on tokio, each with its own agent, every finished episode
//! committed to the run's [`ResultStore`] as it ends; `run.json` records what was run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dxsim_gatekeeper::Catalogue;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::agent::{AgentMessage, CommandPool, EpisodeAgent};
use super::plan::{
    AgentSpec, BiasSetting, CaseSelection, EpisodeSpec, PlanError, Shard, check_unique, expand,
    library_hash, shard_of,
};
use super::record::{EpisodeRecord, RecordCost, RecordStatus};
use super::results::{ResultStore, ResultsError};
use crate::action::Action;
use crate::agents::gaming::{
    DiagnosesBySpecialty, GamingDoctor, GamingStrategy, diagnoses_by_specialty,
};
use crate::agents::llm::{DoctorStyle, LlmDoctor};
use crate::agents::{OracleDoctor, RandomDoctor};
use crate::episode::{CaseSelector, Env, EpisodeOptions, Step};
use crate::episode::{GatekeeperBackend, GatekeeperPrompt, ModelPrompt, PatientBackend};
use crate::judge::Reference;
use crate::judge::llm::{JuryVerdict, LlmJudge};
use crate::library::sources::LibrarySpec;
use crate::library::{CaseLibrary, LibraryStamp};
use crate::llm::{ChatMessage, ChatRequest, LlmClients, Role};
use crate::patient::llm::PatientPrompt;

/// The run description's file name inside a run directory.
pub const MANIFEST_FILE: &str = "run.json";

/// Why a run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plan is wrong.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The results could not be read or written.
    #[error(transparent)]
    Results(#[from] ResultsError),
    /// The output directory already holds a run and `--resume` was not given.
    #[error("{0} already holds a run")]
    AlreadyRun(PathBuf),
    /// `--resume` with a different configuration from the stored run's.
    #[error("{dir} holds a different run: {fields} differ")]
    Mismatch {
        /// The run directory.
        dir: PathBuf,
        /// Which settings differ.
        fields: String,
    },
    /// `--resume` with a library whose cases changed since the run started, or without one of the
    /// run's libraries.
    #[error(
        "{dir} was run on library `{library}` ({location}), which has changed since: {changes}"
    )]
    LibraryChanged {
        /// The run directory.
        dir: PathBuf,
        /// The library's name.
        library: String,
        /// Where the run read it from.
        location: String,
        /// What changed: cases added, removed or changed, by id.
        changes: String,
    },
    /// Reading or writing a file of the run failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An LLM agent or an LLM patient without a model configured for its role.
    #[error("{what} needs a language model, but {problem}")]
    NoModel {
        /// The agent or patient that needs it.
        what: String,
        /// What is missing.
        problem: String,
    },
    /// `run.json` does not parse.
    #[error("{path}: {source}")]
    Manifest {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// Everything that decides a run's results.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The doctors.
    pub agents: Vec<AgentSpec>,
    /// The cases.
    pub cases: CaseSelection,
    /// The patient settings.
    pub biases: Vec<BiasSetting>,
    /// The episode seeds.
    pub seeds: Vec<u64>,
    /// Turn limit, costs and reward settings (the case selector is set per episode).
    pub options: EpisodeOptions,
    /// Turns the random doctor takes before diagnosing.
    pub random_patience: u32,
    /// This machine's share, if the run is split.
    pub shard: Option<Shard>,
    /// Episodes in flight at once.
    pub concurrency: usize,
    /// How long an external agent may take to answer one message.
    pub agent_timeout: Duration,
    /// The language models (for `llm` and `panel` agents and an LLM patient), with what each role
    /// uses, for `run.json`.
    pub llm: Option<RunModels>,
    /// Whether the LLM judge (the `judge` role) scores the diagnoses instead of the rule-based one.
    pub llm_judge: bool,
    /// Whether that LLM judge is the configuration's jury.
    pub jury: bool,
}

/// The language models a run uses.
#[derive(Debug, Clone)]
pub struct RunModels {
    /// The clients, by role.
    pub clients: Arc<LlmClients>,
    /// Each configured role's model and endpoint (`model @ base_url`), recorded in `run.json`.
    pub roles: BTreeMap<Role, String>,
}

/// `run.json`: what was run, with which version of dxsim and of the case library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// The dxsim version that ran it.
    pub dxsim_version: String,
    /// SHA-256 of the case library (see [`library_hash`]).
    pub library_hash: String,
    /// Cases in the library.
    pub library_cases: usize,
    /// Each library the run drew on: its name, location and the hash of every case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<LibraryStamp>,
    /// The agent specs.
    pub agents: Vec<String>,
    /// The case selector.
    pub cases: String,
    /// The selected case ids.
    pub case_ids: Vec<String>,
    /// The patient settings.
    pub biases: Vec<String>,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// Episode options.
    pub options: EpisodeOptions,
    /// Turns the random doctor takes before diagnosing.
    pub random_patience: u32,
    /// This directory's shard, if the run is split.
    pub shard: Option<Shard>,
    /// Whether the LLM judge scored the diagnoses.
    #[serde(default)]
    pub llm_judge: bool,
    /// Whether the LLM judge was a jury.
    #[serde(default)]
    pub jury: bool,
    /// The model and endpoint of each LLM role used (`model @ base_url`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<Role, String>,
    /// Episodes in the whole plan.
    pub plan_episodes: usize,
    /// Episodes in this directory's share of it.
    pub episodes: usize,
}

impl RunManifest {
    /// Reads `run.json` from a run directory.
    pub fn load(dir: &Path) -> Result<RunManifest, RunError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| RunError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| RunError::Manifest { path, source })
    }

    /// The settings of the run this manifest describes, to resume it with `concurrency` episodes in
    /// flight and `agent_timeout` per answer.
    pub fn settings(
        &self,
        concurrency: usize,
        agent_timeout: Duration,
    ) -> Result<RunSettings, PlanError> {
        Ok(RunSettings {
            agents: self
                .agents
                .iter()
                .map(|agent| agent.parse())
                .collect::<Result<_, _>>()?,
            cases: CaseSelection(self.cases.clone()),
            biases: self
                .biases
                .iter()
                .map(|bias| bias.parse())
                .collect::<Result<_, _>>()?,
            seeds: self.seeds.clone(),
            options: self.options.clone(),
            random_patience: self.random_patience,
            shard: self.shard,
            concurrency,
            agent_timeout,
            llm: None,
            llm_judge: self.llm_judge,
            jury: self.jury,
        })
    }

    /// Checks that `now` draws on the same libraries as the stored run, case for case; the error
    /// names the library and the cases added, removed or changed.
    fn check_libraries(&self, now: &RunManifest, dir: &Path) -> Result<(), RunError> {
        for stored in &self.libraries {
            let changed = |changes: String| RunError::LibraryChanged {
                dir: dir.to_path_buf(),
                library: stored.name.clone(),
                location: stored.location.clone(),
                changes,
            };
            match now.libraries.iter().find(|stamp| stamp.name == stored.name) {
                None => {
                    return Err(changed(
                        "it is not among the libraries given now; pass it with --cases".into(),
                    ));
                }
                Some(current) if current.sha256 != stored.sha256 => {
                    return Err(changed(stored.changes_to(current)));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The libraries this run was recorded on, as `--cases` would name them (the built-in library
    /// for a run that recorded none).
    pub fn library_specs(&self) -> Vec<LibrarySpec> {
        if self.libraries.is_empty() {
            return vec![LibrarySpec::builtin()];
        }
        self.libraries
            .iter()
            .map(|stamp| LibrarySpec::recorded(&stamp.name, &stamp.location))
            .collect()
    }

    /// The settings that differ between two manifests (empty when they describe the same run).
    fn differences(&self, other: &RunManifest) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let mut check = |same: bool, name| {
            if !same {
                fields.push(name);
            }
        };
        check(self.library_hash == other.library_hash, "case library");
        check(self.agents == other.agents, "agents");
        check(self.case_ids == other.case_ids, "cases");
        check(self.biases == other.biases, "patient biases");
        check(self.seeds == other.seeds, "seeds");
        check(self.options == other.options, "episode options");
        check(
            self.random_patience == other.random_patience,
            "random patience",
        );
        check(self.shard == other.shard, "shard");
        check(self.models == other.models, "language models");
        check(
            self.llm_judge == other.llm_judge && self.jury == other.jury,
            "judge",
        );
        fields
    }
}

/// What a finished (or interrupted) run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// Episodes in this directory's share of the plan.
    pub planned: usize,
    /// Episodes already stored when the run started (from an earlier, interrupted run).
    pub resumed: usize,
    /// Episodes played now.
    pub played: usize,
    /// Of those, episodes where the agent failed.
    pub errors: usize,
    /// Whether the run stopped early (interrupted).
    pub interrupted: bool,
}

/// A run, prepared and ready to play.
#[derive(Debug)]
pub struct Run {
    dir: PathBuf,
    settings: RunSettings,
    library: &'static CaseLibrary,
    pending: Vec<EpisodeSpec>,
    planned: usize,
    resumed: usize,
    store: ResultStore,
}

impl Run {
    /// Prepares a run in `dir`: expands the plan, writes `run.json`, opens the results. With
    /// `resume`, a directory holding the same run continues it, playing only missing episodes.
    pub fn prepare(
        dir: &Path,
        settings: RunSettings,
        library: &'static CaseLibrary,
        resume: bool,
    ) -> Result<Run, RunError> {
        check_unique(&settings.agents, &settings.biases)?;
        check_models(&settings)?;
        let cases = settings.cases.resolve(library)?;
        let plan = expand(&settings.agents, &cases, &settings.biases, &settings.seeds);
        let plan_episodes = plan.len();
        let share = shard_of(plan, settings.shard);
        let manifest = RunManifest {
            dxsim_version: env!("CARGO_PKG_VERSION").to_string(),
            library_hash: library_hash(library),
            library_cases: library.cases().len(),
            libraries: library.stamps().to_vec(),
            agents: settings
                .agents
                .iter()
                .map(|a| a.name().to_string())
                .collect(),
            cases: settings.cases.0.clone(),
            case_ids: cases.iter().map(|case| case.id.clone()).collect(),
            biases: settings.biases.iter().map(|b| b.name.clone()).collect(),
            seeds: settings.seeds.clone(),
            options: settings.options.clone(),
            random_patience: settings.random_patience,
            shard: settings.shard,
            llm_judge: settings.llm_judge,
            jury: settings.jury,
            models: settings
                .llm
                .as_ref()
                .map(|models| models.roles.clone())
                .unwrap_or_default(),
            plan_episodes,
            episodes: share.len(),
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            if !resume {
                return Err(RunError::AlreadyRun(dir.to_path_buf()));
            }
            let stored = RunManifest::load(dir)?;
            stored.check_libraries(&manifest, dir)?;
            let differences = stored.differences(&manifest);
            if !differences.is_empty() {
                return Err(RunError::Mismatch {
                    dir: dir.to_path_buf(),
                    fields: differences.join(", "),
                });
            }
        } else {
            let text =
                serde_json::to_string_pretty(&manifest).map_err(|source| RunError::Manifest {
                    path: manifest_path.clone(),
                    source,
                })?;
            std::fs::write(&manifest_path, text + "\n").map_err(io(&manifest_path))?;
        }
        let mut store = ResultStore::open(dir)?;
        store.rewrite_jsonl()?;
        let done = store.keys()?;
        let planned = share.len();
        let pending: Vec<EpisodeSpec> = share
            .into_iter()
            .filter(|episode| !done.contains(&episode.key))
            .collect();
        let resumed = planned - pending.len();
        Ok(Run {
            dir: dir.to_path_buf(),
            settings,
            library,
            pending,
            planned,
            resumed,
            store,
        })
    }

    /// Episodes in this directory's share of the plan.
    pub fn planned(&self) -> usize {
        self.planned
    }

    /// Episodes already stored before this run started.
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// Plays every pending episode, `settings.concurrency` at a time, calling `on_record` as each one
    /// is stored. Setting `stop` lets the episodes in flight finish and starts no more.
    pub async fn play(
        self,
        stop: Arc<AtomicBool>,
        on_record: impl Fn(&EpisodeRecord) + Send + 'static,
    ) -> Result<(RunOutcome, ResultStore), RunError> {
        let Run {
            dir,
            settings,
            library,
            pending,
            planned,
            resumed,
            mut store,
        } = self;
        let context = Arc::new(Context::new(&dir, &settings, library));
        let pending = Arc::new(pending);
        let next = Arc::new(AtomicUsize::new(0));
        let (sender, mut receiver) = mpsc::channel::<EpisodeRecord>(1024);
        let workers: Vec<_> = (0..settings.concurrency.max(1))
            .map(|_| {
                let context = Arc::clone(&context);
                let pending = Arc::clone(&pending);
                let next = Arc::clone(&next);
                let stop = Arc::clone(&stop);
                let sender = sender.clone();
                tokio::spawn(async move {
                    let mut env = Env::new(context.library);
                    while !stop.load(Ordering::Relaxed) {
                        let Some(episode) = pending.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        let record = context.play(&mut env, episode).await;
                        if sender.send(record).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(sender);
        let mut played = 0;
        let mut errors = 0;
        let mut batch = Vec::new();
        while let Some(record) = receiver.recv().await {
            batch.push(record);
            while let Ok(record) = receiver.try_recv() {
                batch.push(record);
            }
            let (committed, store_back) = tokio::task::spawn_blocking(move || {
                let result = store.commit(&batch);
                (result.map(|_| batch), store)
            })
            .await
            .map_err(|error| RunError::Io {
                path: dir.clone(),
                source: std::io::Error::other(error),
            })?;
            store = store_back;
            let committed = committed?;
            for record in &committed {
                played += 1;
                errors += usize::from(record.status == RecordStatus::Error);
                on_record(record);
            }
            batch = committed;
            batch.clear();
        }
        for worker in workers {
            let _ = worker.await;
        }
        context.shutdown().await;
        let outcome = RunOutcome {
            planned,
            resumed,
            played,
            errors,
            interrupted: resumed + played < planned,
        };
        Ok((outcome, store))
    }
}

/// Checks every LLM agent, and an LLM patient, has a model for its role.
fn check_models(settings: &RunSettings) -> Result<(), RunError> {
    let has = |role: Role| {
        settings
            .llm
            .as_ref()
            .is_some_and(|models| models.clients.client_for(role).is_some())
    };
    let missing = |what: String, role: Role| RunError::NoModel {
        what,
        problem: match &settings.llm {
            None => "no LLM configuration was given (--llm-config FILE)".to_string(),
            Some(_) => format!("the LLM configuration maps no endpoint to the `{role}` role"),
        },
    };
    if let Some(agent) = settings.agents.iter().find(|agent| agent.needs_llm())
        && !has(Role::Doctor)
    {
        return Err(missing(format!("agent `{agent}`"), Role::Doctor));
    }
    if settings.options.patient_backend == PatientBackend::Llm && !has(Role::Patient) {
        return Err(missing("the LLM patient".into(), Role::Patient));
    }
    if settings.options.gatekeeper_backend == GatekeeperBackend::Llm && !has(Role::Gatekeeper) {
        return Err(missing("the LLM gatekeeper".into(), Role::Gatekeeper));
    }
    if settings.jury {
        let jurors = settings
            .llm
            .as_ref()
            .map_or(0, |models| models.clients.jurors().len());
        if jurors < 2 {
            return Err(RunError::NoModel {
                what: "the jury (--judge jury)".into(),
                problem: "the LLM configuration names no `jury` of two endpoints or more".into(),
            });
        }
    } else if settings.llm_judge && !has(Role::Judge) {
        return Err(missing("the LLM judge".into(), Role::Judge));
    }
    Ok(())
}

/// An agent of the run, ready to play episodes.
#[derive(Debug)]
enum RunAgent {
    Oracle,
    Random,
    Gaming(GamingStrategy),
    /// A `cmd:` agent and its running programs.
    Command(Arc<CommandPool>),
    Http(String),
    Llm(DoctorStyle),
}

/// What every episode of a run shares.
#[derive(Debug)]
struct Context {
    library: &'static CaseLibrary,
    settings: RunSettings,
    agents: Vec<RunAgent>,
    http: reqwest::Client,
    diagnoses: Vec<String>,
    /// The library's diagnoses by specialty, for the gaming agents.
    by_specialty: DiagnosesBySpecialty,
}

impl Context {
    fn new(dir: &Path, settings: &RunSettings, library: &'static CaseLibrary) -> Context {
        let stderr_log = dir.join("agents.log");
        let agents = settings
            .agents
            .iter()
            .map(|agent| match agent {
                AgentSpec::Oracle => RunAgent::Oracle,
                AgentSpec::Random => RunAgent::Random,
                AgentSpec::Gaming { strategy, .. } => RunAgent::Gaming(*strategy),
                AgentSpec::Command { argv, .. } => {
                    RunAgent::Command(Arc::new(CommandPool::new(argv.clone(), Some(&stderr_log))))
                }
                AgentSpec::Http { url } => RunAgent::Http(url.clone()),
                AgentSpec::Llm { bias, .. } => {
                    RunAgent::Llm(DoctorStyle::Single { bias: bias.clone() })
                }
                AgentSpec::Panel { budget_usd, .. } => RunAgent::Llm(DoctorStyle::Panel {
                    budget_usd: *budget_usd,
                }),
            })
            .collect();
        let mut diagnoses: Vec<String> = library
            .cases()
            .iter()
            .map(|case| case.diagnosis.name.clone())
            .collect();
        diagnoses.sort();
        diagnoses.dedup();
        Context {
            library,
            settings: settings.clone(),
            agents,
            http: reqwest::Client::new(),
            diagnoses,
            by_specialty: diagnoses_by_specialty(library),
        }
    }

    fn agent(&self, episode: &EpisodeSpec) -> Result<EpisodeAgent, String> {
        let timeout = self.settings.agent_timeout;
        Ok(match &self.agents[episode.agent] {
            RunAgent::Oracle => EpisodeAgent::oracle(OracleDoctor::new(&episode.case)),
            RunAgent::Random => EpisodeAgent::random(RandomDoctor::new(
                Catalogue::builtin(),
                self.diagnoses.clone(),
                self.settings.random_patience,
                // Mixed with the case id, so cases played on one seed get different work-ups.
                episode.seed ^ dxsim_gatekeeper::text::stable_hash(episode.case.id.as_bytes()),
            )),
            RunAgent::Gaming(strategy) => EpisodeAgent::gaming(GamingDoctor::new(
                *strategy,
                Arc::clone(&self.by_specialty),
                episode.seed ^ dxsim_gatekeeper::text::stable_hash(episode.case.id.as_bytes()),
            )),
            RunAgent::Command(pool) => EpisodeAgent::command(Arc::clone(pool), timeout),
            RunAgent::Http(url) => EpisodeAgent::http(self.http.clone(), url.clone(), timeout),
            RunAgent::Llm(style) => EpisodeAgent::llm(
                LlmDoctor::new(style.clone()),
                Arc::clone(&self.models()?.clients),
            ),
        })
    }

    /// The run's language models (checked present before the run starts when anything needs them).
    fn models(&self) -> Result<&RunModels, String> {
        self.settings
            .llm
            .as_ref()
            .ok_or_else(|| "no language model is configured".to_string())
    }

    /// Scores the record's diagnosis with the LLM judge, keeping the rule-based score beside it.
    async fn judge_with_model(
        &self,
        episode: &EpisodeSpec,
        record: &mut EpisodeRecord,
    ) -> Result<(), String> {
        let Some(diagnosis) = record.diagnosis.clone() else {
            return Ok(());
        };
        let code = record.actions.last().and_then(|action| match action {
            Action::Diagnose { icd10, .. } => icd10.clone(),
            _ => None,
        });
        let clients = Arc::clone(&self.models()?.clients);
        let judge = if self.settings.jury {
            LlmJudge::jury(clients)
        } else {
            LlmJudge::new(clients)
        };
        let JuryVerdict { verdict, votes } = judge
            .verdict(
                &episode.key,
                Reference::from(&episode.case.diagnosis),
                &diagnosis,
                code.as_deref(),
            )
            .await
            .map_err(|error| format!("the judge's model failed: {error}"))?;
        record.rule_score = record.score;
        record.score = Some(verdict.score);
        record.correct = verdict.correct;
        record.rationale = Some(verdict.rationale);
        record.jury = (!votes.is_empty()).then_some(votes);
        Ok(())
    }

    /// Asks the LLM gatekeeper's model for the findings the case lacks, for the prompt the engine
    /// built (temperature 0: findings should not vary).
    async fn gatekeeper_reply(
        &self,
        prompt: GatekeeperPrompt,
        episode: &str,
    ) -> Result<String, String> {
        let request = ChatRequest {
            temperature: Some(0.0),
            ..ChatRequest::new(vec![
                ChatMessage::system(prompt.system),
                ChatMessage::user(prompt.request),
            ])
        };
        let reply = self
            .models()?
            .clients
            .chat(Role::Gatekeeper, episode, &request)
            .await
            .map_err(|error| format!("the gatekeeper's model failed: {error}"))?;
        Ok(reply.content)
    }

    /// Asks the LLM patient's model to answer, for the prompt the engine built.
    async fn patient_reply(&self, prompt: PatientPrompt, episode: &str) -> Result<String, String> {
        let mut messages = vec![ChatMessage::system(prompt.system)];
        for (question, answer) in prompt.exchanges {
            messages.push(ChatMessage::user(question));
            messages.push(ChatMessage::assistant(answer));
        }
        messages.push(ChatMessage::user(prompt.question));
        let reply = self
            .models()?
            .clients
            .chat(Role::Patient, episode, &ChatRequest::new(messages))
            .await
            .map_err(|error| format!("the patient's model failed: {error}"))?;
        Ok(reply.content)
    }

    /// The options of one episode: the run's, with its case and patient setting. An implicit bias
    /// acts: the evaluated doctor is declared a member of the group it distrusts.
    fn options(&self, episode: &EpisodeSpec) -> EpisodeOptions {
        let mut options = self.settings.options.clone();
        options.case = CaseSelector {
            id: Some(episode.case.id.clone()),
            ..CaseSelector::default()
        };
        let bias = self.settings.biases[episode.bias].spec.clone();
        if let Some(spec) = &bias
            && let Some(target) = &spec.target
            && let Some(attribute) = options.doctor.attribute_mut(spec.kind)
        {
            *attribute = Some(target.clone());
        }
        options.patient_bias = bias;
        options
    }

    /// Plays one episode to its end and makes its record; an agent's failure becomes an error record.
    async fn play(&self, env: &mut Env, episode: &EpisodeSpec) -> EpisodeRecord {
        let started = Instant::now();
        let mut record = EpisodeRecord {
            key: episode.key.clone(),
            agent: self.settings.agents[episode.agent].name().to_string(),
            case_id: episode.case.id.clone(),
            specialty: episode.case.specialty.clone(),
            difficulty: episode.case.difficulty,
            bias: self.settings.biases[episode.bias].name.clone(),
            seed: episode.seed,
            status: RecordStatus::Error,
            error: None,
            diagnosis: None,
            reference: episode.case.diagnosis.name.clone(),
            reference_icd10: episode.case.diagnosis.icd10.clone(),
            score: None,
            correct: false,
            rationale: None,
            rule_score: None,
            jury: None,
            cost: RecordCost::default(),
            turns: 0,
            patient: None,
            bias_triggered: None,
            tests_refused: 0,
            tests_accepted_after_explanation: 0,
            key_findings_revealed: 0,
            key_findings_missed: 0,
            synthetic: Vec::new(),
            actions: Vec::new(),
            transcript: Vec::new(),
            llm_usage: None,
            deliberation: Vec::new(),
            duration_ms: 0,
        };
        let result = match self.agent(episode) {
            Ok(mut agent) => {
                let result = self.drive(env, episode, &mut agent, &mut record).await;
                record.deliberation = agent.deliberation();
                result
            }
            Err(error) => Err(error),
        };
        if let Some(models) = &self.settings.llm {
            let usage = models.clients.usage().take_episode(&episode.key);
            record.llm_usage =
                (usage.total.calls + usage.total.cached_calls + usage.total.failed_calls > 0)
                    .then_some(usage);
        }
        if let Err(error) = result {
            record.status = RecordStatus::Error;
            record.error = Some(error);
        }
        record.transcript = env.transcript().to_vec();
        record.actions = record
            .transcript
            .iter()
            .map(|entry| entry.action.clone())
            .collect();
        if let Some(state) = env.state() {
            record.turns = state.turn;
            record.cost = cost_of(&state.cost);
        }
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record
    }

    /// The episode loop; `Err` carries the reason the agent failed.
    async fn drive(
        &self,
        env: &mut Env,
        episode: &EpisodeSpec,
        agent: &mut EpisodeAgent,
        record: &mut EpisodeRecord,
    ) -> Result<(), String> {
        let (observation, info) = env
            .reset(episode.seed, self.options(episode))
            .map_err(|error| format!("the episode could not start: {error}"))?;
        let mut action = agent
            .send(
                &episode.key,
                &AgentMessage::Reset {
                    episode: &episode.handle,
                    observation: &observation,
                    info: &info,
                },
            )
            .await
            .map_err(|error| error.to_string())?;
        loop {
            let Some(next) = action.take() else {
                return Err("the agent gave no action".into());
            };
            let model_reply = match env
                .model_prompt(&next)
                .map_err(|error| format!("the agent's action was refused: {error}"))?
            {
                Some(ModelPrompt::Patient(prompt)) => {
                    Some(self.patient_reply(prompt, &episode.key).await?)
                }
                Some(ModelPrompt::Gatekeeper(prompt)) => {
                    Some(self.gatekeeper_reply(prompt, &episode.key).await?)
                }
                None => None,
            };
            let step = env
                .step_with_reply(next, model_reply)
                .map_err(|error| format!("the agent's action was refused: {error}"))?;
            if step.terminated || step.truncated {
                fill_outcome(record, &step);
                if self.settings.llm_judge {
                    self.judge_with_model(episode, record).await?;
                }
                agent
                    .send(
                        &episode.key,
                        &AgentMessage::End {
                            episode: &episode.handle,
                            observation: &step.observation,
                            reward: step.reward,
                            terminated: step.terminated,
                            truncated: step.truncated,
                            info: &step.info,
                        },
                    )
                    .await
                    .map_err(|error| format!("after the episode ended: {error}"))?;
                return Ok(());
            }
            action = agent
                .send(
                    &episode.key,
                    &AgentMessage::Step {
                        episode: &episode.handle,
                        observation: &step.observation,
                        reward: step.reward,
                        info: &step.info,
                    },
                )
                .await
                .map_err(|error| error.to_string())?;
        }
    }

    async fn shutdown(&self) {
        for agent in &self.agents {
            if let RunAgent::Command(pool) = agent {
                pool.shutdown().await;
            }
        }
    }
}

fn cost_of(cost: &dxsim_gatekeeper::billing::CostTotals) -> RecordCost {
    RecordCost {
        total_usd: cost.total.dollars(),
        visits_usd: cost.visits.dollars(),
        tests_usd: cost.tests.dollars(),
        visit_count: cost.visit_count,
        test_count: cost.test_count,
        repeat_count: cost.repeat_count,
    }
}

/// Copies the end of an episode into its record.
fn fill_outcome(record: &mut EpisodeRecord, last: &Step) {
    record.status = if last.terminated {
        RecordStatus::Diagnosed
    } else {
        RecordStatus::Truncated
    };
    let Some(outcome) = &last.info.outcome else {
        return;
    };
    record.diagnosis = outcome.diagnosis_given.clone();
    if let Some(verdict) = &outcome.verdict {
        record.score = Some(verdict.score);
        record.correct = verdict.correct;
        record.rationale = Some(verdict.rationale.clone());
    }
    record.patient = Some(outcome.patient);
    record.bias_triggered = outcome.bias.as_ref().map(|bias| bias.triggered);
    if let Some(bias) = &outcome.bias {
        let count = |tests: &[String]| u32::try_from(tests.len()).unwrap_or(u32::MAX);
        record.tests_refused = count(&bias.refusals.tests);
        record.tests_accepted_after_explanation = count(&bias.refusals.accepted_after_explanation);
    }
    record.key_findings_revealed = u32::try_from(outcome.key_findings_revealed.len()).unwrap_or(0);
    record.key_findings_missed = u32::try_from(outcome.key_findings_missed.len()).unwrap_or(0);
    record.synthetic = outcome.synthetic.clone();
}

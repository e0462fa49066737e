//! What a run plays: the agents, the case selection, the patient biases and the seeds, expanded into
//! one [`EpisodeSpec`] per combination in a fixed order, and split into shards.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use dxsim_gatekeeper::Case;
use dxsim_gatekeeper::case::{Difficulty, Split};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agents::gaming::GamingStrategy;
use crate::agents::llm::DoctorBias;
use crate::library::CaseLibrary;
use crate::patient::bias::{BiasKind, BiasSpec};

/// A mistake in a run's plan: a spec that does not parse or a selection that matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// An agent spec that is not one of the known forms.
    #[error(
        "unknown agent `{0}`: expected oracle, random, llm[:DOCTOR_BIAS], panel[:BUDGET_USD], cmd:PROGRAM [ARGS…] or http://URL (http:URL)"
    )]
    UnknownAgent(String),
    /// An `llm:` or `panel:` spec with a bad parameter.
    #[error("agent `{spec}`: {problem}")]
    BadLlmAgent {
        /// The spec.
        spec: String,
        /// What is wrong.
        problem: String,
    },
    /// A `gaming:` spec naming no strategy the built-in adversaries have.
    #[error("agent `{spec}`: {problem}")]
    BadGamingAgent {
        /// The spec.
        spec: String,
        /// What is wrong.
        problem: String,
    },
    /// A `cmd:` spec with no program, or with unbalanced quotes.
    #[error("agent `{0}`: give the program to run after `cmd:`, e.g. `cmd:python3 agent.py`")]
    BadCommand(String),
    /// An `http:` spec that is not an http(s) URL.
    #[error("agent `{0}`: expected an http:// or https:// URL")]
    BadUrl(String),
    /// A bias name that is not in the catalogue.
    #[error("unknown patient bias `{0}`: expected none or one of {list}", list = bias_names())]
    UnknownBias(String),
    /// A term of the case selector that is not understood.
    #[error(
        "case selector term `{0}` is not understood: expected all, split=train|test, specialty=NAME, difficulty=NAME, library=NAME or a case id"
    )]
    BadSelector(String),
    /// A case id that is not in the library.
    #[error("no case with id `{0}` in the library")]
    UnknownCase(String),
    /// A `library=NAME` term naming no library given.
    #[error(
        "no library is named `{0}`: name a library given with --cases (`builtin`, or a directory's or file's name)"
    )]
    UnknownLibrary(String),
    /// A selection that matches no case.
    #[error("the case selector `{0}` matches no case")]
    NoCases(String),
    /// A shard that is not `i/n` with `i < n`.
    #[error("shard `{0}` is not i/n with 0 ≤ i < n (e.g. 0/4)")]
    BadShard(String),
    /// The same agent or bias listed twice.
    #[error("`{0}` is listed twice")]
    Duplicate(String),
}

fn bias_names() -> String {
    BiasKind::ALL
        .iter()
        .map(|kind| bias_name(*kind))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bias kind's name as written on the command line (its serde name).
pub(crate) fn bias_name(kind: BiasKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A doctor taking part in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSpec {
    /// The built-in oracle: follows the reference work-up (an upper bound; reads the hidden case).
    Oracle,
    /// The built-in random doctor (a lower bound).
    Random,
    /// A built-in adversary of the score (`gaming:STRATEGY`, see [`crate::agents::gaming`]).
    Gaming {
        /// The spec as given.
        spec: String,
        /// How it games.
        strategy: GamingStrategy,
    },
    /// An external program speaking JSON lines on stdin/stdout (see `docs/agents.md`).
    Command {
        /// The spec as given.
        spec: String,
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// An external agent behind an HTTP endpoint receiving the same messages as POST bodies.
    Http {
        /// The URL.
        url: String,
    },
    /// The built-in LLM doctor (the `doctor` role of the LLM configuration), optionally biased.
    Llm {
        /// The spec as given.
        spec: String,
        /// The doctor bias it carries.
        bias: Option<DoctorBias>,
    },
    /// The built-in five-role LLM panel, optionally held to a budget.
    Panel {
        /// The spec as given.
        spec: String,
        /// The budget in dollars.
        budget_usd: Option<u32>,
    },
}

impl AgentSpec {
    /// The spec as written on the command line; the agent's name in records and reports.
    pub fn name(&self) -> &str {
        match self {
            AgentSpec::Oracle => "oracle",
            AgentSpec::Random => "random",
            AgentSpec::Gaming { spec, .. } => spec,
            AgentSpec::Command { spec, .. } => spec,
            AgentSpec::Http { url } => url,
            AgentSpec::Llm { spec, .. } | AgentSpec::Panel { spec, .. } => spec,
        }
    }

    /// Whether the agent calls a language model (and so needs an LLM configuration).
    pub fn needs_llm(&self) -> bool {
        matches!(self, AgentSpec::Llm { .. } | AgentSpec::Panel { .. })
    }
}

impl FromStr for AgentSpec {
    type Err = PlanError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        if spec == "oracle" {
            return Ok(AgentSpec::Oracle);
        }
        if spec == "random" {
            return Ok(AgentSpec::Random);
        }
        if let Some(name) = spec.strip_prefix("gaming:") {
            let strategy =
                name.parse::<GamingStrategy>()
                    .map_err(|problem| PlanError::BadGamingAgent {
                        spec: spec.to_string(),
                        problem,
                    })?;
            return Ok(AgentSpec::Gaming {
                spec: spec.to_string(),
                strategy,
            });
        }
        if spec == "llm" || spec.starts_with("llm:") {
            let bias =
                match spec.strip_prefix("llm:") {
                    Some(bias) => Some(bias.parse::<DoctorBias>().map_err(|problem| {
                        PlanError::BadLlmAgent {
                            spec: spec.to_string(),
                            problem,
                        }
                    })?),
                    None => None,
                };
            return Ok(AgentSpec::Llm {
                spec: spec.to_string(),
                bias,
            });
        }
        if spec == "panel" || spec.starts_with("panel:") {
            let budget_usd = match spec.strip_prefix("panel:") {
                Some(budget) => Some(
                    budget
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| PlanError::BadLlmAgent {
                            spec: spec.to_string(),
                            problem:
                                "the panel's budget is a whole number of dollars, e.g. panel:2000"
                                    .into(),
                        })?,
                ),
                None => None,
            };
            return Ok(AgentSpec::Panel {
                spec: spec.to_string(),
                budget_usd,
            });
        }
        if let Some(command) = spec.strip_prefix("cmd:") {
            let argv = shlex::split(command)
                .filter(|argv| !argv.is_empty())
                .ok_or_else(|| PlanError::BadCommand(spec.to_string()))?;
            return Ok(AgentSpec::Command {
                spec: spec.to_string(),
                argv,
            });
        }
        let url = spec
            .strip_prefix("http:")
            .filter(|rest| !rest.starts_with("//"));
        let url = match url {
            Some(rest) => rest.to_string(),
            None if spec.starts_with("http://") || spec.starts_with("https://") => spec.to_string(),
            None => return Err(PlanError::UnknownAgent(spec.to_string())),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
            return Err(PlanError::BadUrl(spec.to_string()));
        }
        Ok(AgentSpec::Http { url })
    }
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A patient setting: no bias, or one bias with its optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BiasSetting {
    /// The setting as given (`none`, `recency`, `recency=pulmonary embolism`, `gender=female`).
    pub name: String,
    /// The bias, absent for `none`.
    pub spec: Option<BiasSpec>,
}

/// The group an implicit bias named without one reacts to; the evaluated doctor is declared a
/// member of it, so the bias acts.
pub const DEFAULT_IMPLICIT_GROUP: &str = "unspecified";

impl FromStr for BiasSetting {
    type Err = PlanError;

    /// Parses `none`, `KIND` or `KIND=VALUE`: the value is the belief a cognitive bias pushes, or
    /// the group an implicit bias distrusts.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("none") {
            return Ok(BiasSetting {
                name: "none".into(),
                spec: None,
            });
        }
        let (kind, value) = match text.split_once('=') {
            Some((kind, value)) => (kind.trim(), Some(value.trim().to_string())),
            None => (text, None),
        };
        let kind = BiasKind::ALL
            .into_iter()
            .find(|candidate| bias_name(*candidate) == kind.to_ascii_lowercase())
            .ok_or_else(|| PlanError::UnknownBias(text.to_string()))?;
        let value = value.filter(|value| !value.is_empty());
        let spec = if kind.is_cognitive() {
            BiasSpec {
                kind,
                belief: value,
                target: None,
            }
        } else {
            BiasSpec {
                kind,
                belief: None,
                target: Some(value.unwrap_or_else(|| DEFAULT_IMPLICIT_GROUP.to_string())),
            }
        };
        Ok(BiasSetting {
            name: text.to_string(),
            spec: Some(spec),
        })
    }
}

/// Which cases a run plays: `all`, filters (`split=test`, `specialty=cardiology`,
/// `difficulty=rare`, `library=mine`) and case ids, comma-separated. Filters narrow each other; ids are added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSelection(pub String);

impl CaseSelection {
    /// The matching cases of `library`, in id order.
    pub fn resolve(&self, library: &CaseLibrary) -> Result<Vec<Arc<Case>>, PlanError> {
        let mut split = None;
        let mut specialty = None;
        let mut difficulty = None;
        let mut from_library = None;
        let mut filtered = false;
        let mut ids = Vec::new();
        for term in self.0.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let bad = || PlanError::BadSelector(term.to_string());
            match term.split_once('=') {
                None if term == "all" => filtered = true,
                None => ids.push(term),
                Some(("split", value)) => {
                    split = Some(match value {
                        "train" => Split::Train,
                        "test" => Split::Test,
                        _ => return Err(bad()),
                    });
                    filtered = true;
                }
                Some(("specialty", value)) => {
                    specialty = Some(value.to_string());
                    filtered = true;
                }
                Some(("library", value)) => {
                    if !library.libraries().iter().any(|info| info.name == value) {
                        return Err(PlanError::UnknownLibrary(value.to_string()));
                    }
                    from_library = Some(value.to_string());
                    filtered = true;
                }
                Some(("difficulty", value)) => {
                    difficulty = Some(
                        serde_json::from_value::<Difficulty>(serde_json::Value::from(value))
                            .map_err(|_| bad())?,
                    );
                    filtered = true;
                }
                Some(_) => return Err(bad()),
            }
        }
        let mut cases: Vec<Arc<Case>> = Vec::new();
        for id in ids {
            let case = library
                .get(id)
                .ok_or_else(|| PlanError::UnknownCase(id.to_string()))?;
            cases.push(Arc::clone(case));
        }
        if filtered {
            let selector = crate::episode::CaseSelector {
                id: None,
                split,
                specialty,
                difficulty,
                library: from_library,
            };
            cases.extend(
                library
                    .cases()
                    .iter()
                    .filter(|case| selector.matches(library, case))
                    .cloned(),
            );
        }
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        cases.dedup_by(|a, b| a.id == b.id);
        if cases.is_empty() {
            return Err(PlanError::NoCases(self.0.clone()));
        }
        Ok(cases)
    }
}

/// One machine's share of a run: episode `k` of the plan belongs to shard `k mod count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the run is split into.
    pub count: u32,
}

impl FromStr for Shard {
    type Err = PlanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || PlanError::BadShard(text.to_string());
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = index.trim().parse().map_err(|_| bad())?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Checks no agent and no patient setting is listed twice (their names key the episodes).
pub fn check_unique(agents: &[AgentSpec], biases: &[BiasSetting]) -> Result<(), PlanError> {
    let names = agents
        .iter()
        .map(AgentSpec::name)
        .chain(biases.iter().map(|bias| bias.name.as_str()));
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(PlanError::Duplicate(name.to_string()));
        }
    }
    Ok(())
}

/// One episode of a run.
#[derive(Debug, Clone)]
pub struct EpisodeSpec {
    /// `agent|case|bias|seed`: the episode's identity across resumes and shards.
    pub key: String,
    /// The opaque name the agent gets for it (see [`episode_handle`]): the key names the case.
    pub handle: String,
    /// Index into the plan's agents.
    pub agent: usize,
    /// The case.
    pub case: Arc<Case>,
    /// Index into the plan's bias settings.
    pub bias: usize,
    /// The episode seed.
    pub seed: u64,
}

/// Every episode of a run, in a fixed order: agents, then biases, then cases, then seeds.
pub fn expand(
    agents: &[AgentSpec],
    cases: &[Arc<Case>],
    biases: &[BiasSetting],
    seeds: &[u64],
) -> Vec<EpisodeSpec> {
    let mut episodes = Vec::with_capacity(agents.len() * cases.len() * biases.len() * seeds.len());
    for (agent_index, agent) in agents.iter().enumerate() {
        for (bias_index, bias) in biases.iter().enumerate() {
            for case in cases {
                for &seed in seeds {
                    let key = format!("{}|{}|{}|{seed}", agent.name(), case.id, bias.name);
                    episodes.push(EpisodeSpec {
                        handle: episode_handle(&key),
                        key,
                        agent: agent_index,
                        case: Arc::clone(case),
                        bias: bias_index,
                        seed,
                    });
                }
            }
        }
    }
    episodes
}

/// The opaque name an agent is given for the episode with run key `key` (DESIGN.md §3.9): its
/// [`dxsim_gatekeeper::case::opaque_handle`] in the domain `dxsim episode handle v1`, so the agent can tell its episodes apart and the evaluator
/// can match them to records, while the case's id never reaches it.
pub fn episode_handle(key: &str) -> String {
    dxsim_gatekeeper::case::opaque_handle("dxsim episode handle v1", key)
}

/// The episodes of `plan` that belong to `shard` (all of them without one).
pub fn shard_of(plan: Vec<EpisodeSpec>, shard: Option<Shard>) -> Vec<EpisodeSpec> {
    match shard {
        None => plan,
        Some(shard) => plan
            .into_iter()
            .enumerate()
            .filter(|(position, _)| {
                *position as u64 % u64::from(shard.count) == u64::from(shard.index)
            })
            .map(|(_, episode)| episode)
            .collect(),
    }
}

/// SHA-256 over the library's parts (each library's name and content hash, [`CaseLibrary::stamps`]):
/// two runs with the same hash played the same cases.
pub fn library_hash(library: &CaseLibrary) -> String {
    let mut hasher = Sha256::new();
    for stamp in library.stamps() {
        hasher.update(stamp.name.as_bytes());
        hasher.update([0u8]);
        hasher.update(stamp.sha256.as_bytes());
        hasher.update([0u8]);
    }
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_specs_parse() {
        assert_eq!("oracle".parse::<AgentSpec>(), Ok(AgentSpec::Oracle));
        assert_eq!(
            "cmd:python3 'my agent.py' --fast".parse::<AgentSpec>(),
            Ok(AgentSpec::Command {
                spec: "cmd:python3 'my agent.py' --fast".into(),
                argv: vec!["python3".into(), "my agent.py".into(), "--fast".into()],
            })
        );
        assert_eq!(
            "http:http://127.0.0.1:9000/act".parse::<AgentSpec>(),
            Ok(AgentSpec::Http {
                url: "http://127.0.0.1:9000/act".into()
            })
        );
        assert!(matches!(
            "http://127.0.0.1:9/a".parse::<AgentSpec>(),
            Ok(AgentSpec::Http { .. })
        ));
        assert!(matches!(
            "llm:confirmation".parse::<AgentSpec>(),
            Ok(AgentSpec::Llm { bias: Some(_), .. })
        ));
        assert!(matches!(
            "panel:2500".parse::<AgentSpec>(),
            Ok(AgentSpec::Panel {
                budget_usd: Some(2500),
                ..
            })
        ));
        assert!(matches!(
            "panel:lots".parse::<AgentSpec>(),
            Err(PlanError::BadLlmAgent { .. })
        ));
        assert!(matches!(
            "llm:grumpy".parse::<AgentSpec>(),
            Err(PlanError::BadLlmAgent { .. })
        ));
        assert!(matches!(
            "cmd:".parse::<AgentSpec>(),
            Err(PlanError::BadCommand(_))
        ));
        assert!(matches!(
            "gpt".parse::<AgentSpec>(),
            Err(PlanError::UnknownAgent(_))
        ));
        assert!(matches!(
            "http:ftp://x/y/z/w".parse::<AgentSpec>(),
            Err(PlanError::BadUrl(_))
        ));
    }

    #[test]
    fn bias_settings_parse() {
        let none: BiasSetting = "none".parse().expect("none");
        assert!(none.spec.is_none());
        let recency: BiasSetting = "recency=pulmonary embolism".parse().expect("recency");
        let spec = recency.spec.expect("a bias");
        assert_eq!(spec.kind, BiasKind::Recency);
        assert_eq!(spec.belief.as_deref(), Some("pulmonary embolism"));
        let gender: BiasSetting = "gender".parse().expect("gender");
        assert_eq!(
            gender.spec.expect("a bias").target.as_deref(),
            Some(DEFAULT_IMPLICIT_GROUP)
        );
        let error = "grumpy".parse::<BiasSetting>().expect_err("unknown");
        assert!(error.to_string().contains("false_consensus"), "{error}");
    }

    #[test]
    fn selection_filters_and_ids() {
        let library = CaseLibrary::builtin().expect("library");
        let all = CaseSelection("all".into()).resolve(library).expect("all");
        assert_eq!(all.len(), library.cases().len());
        let test = CaseSelection("split=test".into())
            .resolve(library)
            .expect("test split");
        assert!(!test.is_empty() && test.len() < all.len());
        let first = &all[0].id;
        let one = CaseSelection(first.clone()).resolve(library).expect("one");
        assert_eq!(one.len(), 1);
        assert!(matches!(
            CaseSelection("no-such-case".into()).resolve(library),
            Err(PlanError::UnknownCase(_))
        ));
        assert!(matches!(
            CaseSelection("colour=red".into()).resolve(library),
            Err(PlanError::BadSelector(_))
        ));
        assert!(matches!(
            CaseSelection("specialty=astrology".into()).resolve(library),
            Err(PlanError::NoCases(_))
        ));
    }

    #[test]
    fn an_agent_or_bias_listed_twice_is_refused() {
        let biases: Vec<BiasSetting> = vec!["none".parse().expect("none")];
        assert_eq!(
            check_unique(&[AgentSpec::Oracle, AgentSpec::Random], &biases),
            Ok(())
        );
        assert_eq!(
            check_unique(&[AgentSpec::Oracle, AgentSpec::Oracle], &biases),
            Err(PlanError::Duplicate("oracle".into()))
        );
        let twice = vec![biases[0].clone(), biases[0].clone()];
        assert_eq!(
            check_unique(&[AgentSpec::Oracle], &twice),
            Err(PlanError::Duplicate("none".into()))
        );
    }

    #[test]
    fn shards_partition_the_plan() {
        let library = CaseLibrary::builtin().expect("library");
        let cases = CaseSelection("all".into()).resolve(library).expect("all");
        let biases = vec!["none".parse().expect("none")];
        let plan = expand(&[AgentSpec::Oracle], &cases, &biases, &[0, 1]);
        let mut keys: Vec<String> = (0..3)
            .flat_map(|index| shard_of(plan.clone(), Some(Shard { index, count: 3 })))
            .map(|episode| episode.key)
            .collect();
        keys.sort();
        let mut all: Vec<String> = plan.into_iter().map(|episode| episode.key).collect();
        all.sort();
        assert_eq!(keys, all);
        assert!("3/3".parse::<Shard>().is_err());
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
    }
}

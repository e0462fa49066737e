//! The doctors a run can evaluate, behind one async interface: the built-in oracle and random
//! doctors, external programs speaking JSON lines on stdin/stdout (`cmd:`), and HTTP endpoints
//! (`http:`).
//!
//! The protocol (documented for agent authors in `docs/agents.md`): dxsim sends one JSON object per
//! message — `{"event":"reset",…}` at the start of an episode, `{"event":"step",…}` after each action
//! that did not end it, `{"event":"end",…}` when it ends — and the agent answers every `reset` and
//! `step` with one action: a structured action (`{"type":"ask","text":"…"}`, `{"type":"order",
//! "tests":["cbc"]}`, …) or `{"text":"…"}` in the text protocol. `end` gets no answer. A `cmd:`
//! program is kept running and plays episode after episode; an `http:` endpoint receives each
//! message as a POST body and answers in the response body.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::action::{Action, parse_text};
use crate::agents::gaming::GamingDoctor;
use crate::agents::llm::LlmDoctor;
use crate::agents::{Doctor, OracleDoctor, RandomDoctor};
use crate::episode::{Info, Observation};
use crate::llm::{LlmClients, LlmError, Role};

/// The longest line an external agent may send, in bytes.
pub const MAX_REPLY_BYTES: u64 = 1 << 20;

/// Why an agent failed to produce an action. The episode is recorded as an error; the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The program closed its output or exited.
    #[error("the agent exited or closed its output without answering{status}")]
    Exited {
        /// How it exited, if known (`: exit status 1`).
        status: String,
    },
    /// Reading from or writing to the program failed.
    #[error("talking to the agent failed: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the time limit.
    #[error("the agent did not answer within {0:?}")]
    Timeout(Duration),
    /// An answer longer than [`MAX_REPLY_BYTES`].
    #[error("the agent's answer is longer than {MAX_REPLY_BYTES} bytes")]
    TooLong,
    /// An answer that is not an action.
    #[error("malformed agent output ({reason}): {snippet}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
        /// The start of what was received.
        snippet: String,
    },
    /// The HTTP endpoint failed or answered with an error status.
    #[error("the agent's endpoint failed: {0}")]
    Http(String),
    /// The doctor's language model could not be reached or answered badly.
    #[error("the doctor's model failed: {0}")]
    Llm(#[from] LlmError),
}

/// One message to an external agent (serialised as a JSON object tagged by `event`).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentMessage<'a> {
    /// A new episode: the presentation.
    Reset {
        /// The episode's opaque handle (the run's key names the case; the record keeps both).
        episode: &'a str,
        /// The presentation.
        observation: &'a Observation,
        /// Turn limit, costs so far, budget.
        info: &'a Info,
    },
    /// What the last action revealed; the episode goes on.
    Step {
        /// The episode's opaque handle.
        episode: &'a str,
        /// What the action revealed.
        observation: &'a Observation,
        /// The step's reward.
        reward: f64,
        /// Turn, costs so far, budget.
        info: &'a Info,
    },
    /// The episode is over (no answer expected); `info.outcome` holds the verdict.
    End {
        /// The episode's opaque handle.
        episode: &'a str,
        /// The last observation.
        observation: &'a Observation,
        /// The last step's reward.
        reward: f64,
        /// Ended by a diagnosis.
        terminated: bool,
        /// Ended by the turn limit or the budget.
        truncated: bool,
        /// The final info, with the outcome.
        info: &'a Info,
    },
}

/// Reads an action from an agent's answer: a structured action, or `{"text": …}` in the text
/// protocol.
pub fn parse_reply(reply: &str) -> Result<Action, AgentError> {
    let malformed = |reason: String| AgentError::Malformed {
        reason,
        snippet: reply.chars().take(120).collect(),
    };
    let value: serde_json::Value = serde_json::from_str(reply.trim())
        .map_err(|error| malformed(format!("not JSON: {error}")))?;
    let Some(object) = value.as_object() else {
        return Err(malformed("expected a JSON object".into()));
    };
    if object.contains_key("type") {
        return serde_json::from_value(value)
            .map_err(|error| malformed(format!("not an action: {error}")));
    }
    match (object.get("text"), object.len()) {
        (Some(serde_json::Value::String(text)), 1) => {
            parse_text(text).map_err(|error| malformed(error.to_string()))
        }
        _ => Err(malformed(
            "expected an action with a `type`, or {\"text\": \"…\"}".into(),
        )),
    }
}

/// A running external agent program.
#[derive(Debug)]
struct AgentProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl AgentProcess {
    /// Sends one message line.
    async fn send(&mut self, message: &[u8]) -> Result<(), AgentError> {
        self.stdin.write_all(message).await?;
        self.stdin.write_all(b"\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Sends one message and reads the answer line.
    async fn exchange(&mut self, message: &[u8]) -> Result<String, AgentError> {
        self.send(message).await?;
        let mut line = String::new();
        let read = (&mut self.stdout)
            .take(MAX_REPLY_BYTES + 1)
            .read_line(&mut line)
            .await?;
        if read == 0 {
            let status = match self.child.try_wait() {
                Ok(Some(status)) => format!(": {status}"),
                _ => String::new(),
            };
            return Err(AgentError::Exited { status });
        }
        if line.len() as u64 > MAX_REPLY_BYTES {
            return Err(AgentError::TooLong);
        }
        Ok(line)
    }
}

/// Running agent programs for one `cmd:` spec, kept between episodes. A program that failed is
/// killed rather than reused.
#[derive(Debug)]
pub struct CommandPool {
    argv: Vec<String>,
    stderr_log: Option<std::path::PathBuf>,
    idle: Mutex<Vec<AgentProcess>>,
}

impl CommandPool {
    /// A pool for `argv`; the programs' standard error is appended to `stderr_log` (or discarded).
    pub fn new(argv: Vec<String>, stderr_log: Option<&Path>) -> CommandPool {
        CommandPool {
            argv,
            stderr_log: stderr_log.map(Path::to_path_buf),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn spawn(&self) -> Result<AgentProcess, AgentError> {
        let program = self.argv[0].clone();
        let stderr = match &self.stderr_log {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .map_err(|source| AgentError::Spawn {
                    program: program.clone(),
                    source,
                })?,
            None => Stdio::null(),
        };
        let mut child = Command::new(&program)
            .args(&self.argv[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| AgentError::Spawn { program, source })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(AgentError::Exited {
                status: String::new(),
            });
        };
        Ok(AgentProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    fn checkout(&self) -> Result<AgentProcess, AgentError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(process) => Ok(process),
            None => self.spawn(),
        }
    }

    fn give_back(&self, process: AgentProcess) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(process);
    }

    /// Closes every idle program's input and waits for it to exit.
    pub async fn shutdown(&self) {
        let idle: Vec<AgentProcess> =
            std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for process in idle {
            let AgentProcess {
                mut child, stdin, ..
            } = process;
            drop(stdin);
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
    }
}

/// How an agent talks: in process, or to an external program or endpoint.
#[derive(Debug)]
enum Backend {
    Oracle(OracleDoctor),
    Random(RandomDoctor),
    Gaming(GamingDoctor),
    Command {
        pool: Arc<CommandPool>,
        process: Option<AgentProcess>,
    },
    Http {
        client: reqwest::Client,
        url: String,
    },
    /// The built-in LLM doctor or panel.
    Llm {
        doctor: Box<LlmDoctor>,
        clients: Arc<LlmClients>,
    },
}

/// A doctor playing one episode of a run.
#[derive(Debug)]
pub struct EpisodeAgent {
    backend: Backend,
    timeout: Duration,
}

impl EpisodeAgent {
    /// The oracle for one case.
    pub fn oracle(oracle: OracleDoctor) -> EpisodeAgent {
        EpisodeAgent::builtin(Backend::Oracle(oracle))
    }

    /// A seeded random doctor.
    pub fn random(random: RandomDoctor) -> EpisodeAgent {
        EpisodeAgent::builtin(Backend::Random(random))
    }

    /// A built-in adversary of the score.
    pub fn gaming(gaming: GamingDoctor) -> EpisodeAgent {
        EpisodeAgent::builtin(Backend::Gaming(gaming))
    }

    fn builtin(backend: Backend) -> EpisodeAgent {
        EpisodeAgent {
            backend,
            timeout: Duration::MAX,
        }
    }

    /// A program from `pool`, answering each message within `timeout`.
    pub fn command(pool: Arc<CommandPool>, timeout: Duration) -> EpisodeAgent {
        EpisodeAgent {
            backend: Backend::Command {
                pool,
                process: None,
            },
            timeout,
        }
    }

    /// An HTTP endpoint, answering each message within `timeout`.
    pub fn http(client: reqwest::Client, url: String, timeout: Duration) -> EpisodeAgent {
        EpisodeAgent {
            backend: Backend::Http { client, url },
            timeout,
        }
    }

    /// The built-in LLM doctor (or panel), calling the `doctor` role of `clients`.
    pub fn llm(doctor: LlmDoctor, clients: Arc<LlmClients>) -> EpisodeAgent {
        EpisodeAgent {
            backend: Backend::Llm {
                doctor: Box::new(doctor),
                clients,
            },
            timeout: Duration::MAX,
        }
    }

    /// The LLM panel's deliberation so far (empty for other agents).
    pub fn deliberation(&self) -> Vec<serde_json::Value> {
        match &self.backend {
            Backend::Llm { doctor, .. } => doctor.deliberation().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Sends a message about the run's episode `key` (kept for accounting, never sent); returns the
    /// agent's action for `reset` and `step`, nothing for `end`.
    pub async fn send(
        &mut self,
        key: &str,
        message: &AgentMessage<'_>,
    ) -> Result<Option<Action>, AgentError> {
        let (observation, info) = match message {
            AgentMessage::Reset {
                observation, info, ..
            }
            | AgentMessage::Step {
                observation, info, ..
            } => (*observation, *info),
            AgentMessage::End { .. } => return self.finish(message).await.map(|()| None),
        };
        let reply = match &mut self.backend {
            Backend::Oracle(doctor) => return Ok(Some(doctor.act(observation))),
            Backend::Random(doctor) => return Ok(Some(doctor.act(observation))),
            Backend::Gaming(doctor) => return Ok(Some(doctor.act(observation))),
            Backend::Command { pool, process } => {
                let running = match process {
                    Some(running) => running,
                    None => process.insert(pool.checkout()?),
                };
                let bytes = serde_json::to_vec(message)
                    .map_err(|error| AgentError::Io(std::io::Error::other(error)))?;
                match tokio::time::timeout(self.timeout, running.exchange(&bytes)).await {
                    Ok(result) => result?,
                    Err(_) => return Err(AgentError::Timeout(self.timeout)),
                }
            }
            Backend::Http { client, url } => post(client, url, message, self.timeout).await?,
            Backend::Llm { doctor, clients } => {
                doctor.observe(&observation.text, info);
                return ask_doctor(doctor, clients, key).await.map(Some);
            }
        };
        parse_reply(&reply).map(Some)
    }

    /// Tells the agent the episode is over; a program that answered well goes back to the pool.
    async fn finish(&mut self, message: &AgentMessage<'_>) -> Result<(), AgentError> {
        match &mut self.backend {
            Backend::Oracle(_) | Backend::Random(_) | Backend::Gaming(_) | Backend::Llm { .. } => {
                Ok(())
            }
            Backend::Command { pool, process } => {
                let Some(mut running) = process.take() else {
                    return Ok(());
                };
                let bytes = serde_json::to_vec(message)
                    .map_err(|error| AgentError::Io(std::io::Error::other(error)))?;
                match tokio::time::timeout(self.timeout, running.send(&bytes)).await {
                    Ok(Ok(_)) => {
                        pool.give_back(running);
                        Ok(())
                    }
                    Ok(Err(error)) => Err(error),
                    Err(_) => Err(AgentError::Timeout(self.timeout)),
                }
            }
            Backend::Http { client, url } => {
                post(client, url, message, self.timeout).await.map(|_| ())
            }
        }
    }
}

/// Asks the LLM doctor's model for its next action; a reply that is not an action gets one more try
/// (the doctor is reminded of the protocol), then the episode fails.
async fn ask_doctor(
    doctor: &mut LlmDoctor,
    clients: &LlmClients,
    episode: &str,
) -> Result<Action, AgentError> {
    let mut attempt = 0;
    loop {
        let reply = clients
            .chat(Role::Doctor, episode, &doctor.request())
            .await?;
        match doctor.take_reply(&reply.content) {
            Ok(action) => return Ok(action),
            Err(error) if attempt == 0 => {
                attempt += 1;
                tracing::debug!(%error, "the doctor's reply was not an action; asking again");
            }
            Err(error) => {
                return Err(AgentError::Malformed {
                    reason: error.reason,
                    snippet: error.snippet,
                });
            }
        }
    }
}

/// POSTs a message and returns the response body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    message: &AgentMessage<'_>,
    timeout: Duration,
) -> Result<String, AgentError> {
    let response = client
        .post(url)
        .timeout(timeout)
        .json(message)
        .send()
        .await
        .map_err(|error| {
            if error.is_timeout() {
                AgentError::Timeout(timeout)
            } else {
                AgentError::Http(format!("{url}: {error}"))
            }
        })?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|error| AgentError::Http(format!("{url}: reading the body: {error}")))?;
    if !status.is_success() {
        return Err(AgentError::Http(format!(
            "{url} answered {status}: {}",
            body.chars().take(120).collect::<String>()
        )));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_in_both_forms() {
        assert_eq!(
            parse_reply(r#"{"type":"order","tests":["cbc"]}"#).expect("structured"),
            Action::Order {
                tests: vec!["cbc".into()]
            }
        );
        assert_eq!(
            parse_reply(r#"{"text":"DIAGNOSIS READY: Gout"}"#).expect("text"),
            Action::Diagnose {
                diagnosis: "Gout".into(),
                icd10: None
            }
        );
        for bad in [
            "ask about pain",
            "[1,2]",
            r#"{"type":"dance"}"#,
            r#"{"text":"<test>cbc"}"#,
            r#"{"txt":"hello"}"#,
        ] {
            assert!(
                matches!(parse_reply(bad), Err(AgentError::Malformed { .. })),
                "{bad}"
            );
        }
    }
}

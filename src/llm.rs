//! LLM endpoints: a client for any OpenAI-compatible chat-completions server (vLLM, llama.cpp's
//! server, Ollama, hosted APIs), configured per role.
//!
//! - [`config`]: the configuration file — named endpoints (`base_url`, `model`, `api_key_env`,
//!   sampling and limits) and the endpoint each [`Role`] uses.
//! - [`client`]: one endpoint's client — retries with backoff and jitter honouring `Retry-After`, a
//!   concurrency limit, timeouts and clear errors.
//! - [`cache`]: the response cache in SQLite, keyed by the full request.
//! - [`usage`]: token usage per episode and role.
//!
//! [`LlmClients`] ties them together: built from an [`LlmConfig`], it holds one
//! [`EndpointClient`] (one HTTP connection pool and one concurrency limit) per endpoint that a role
//! uses, shared by every role mapped to it, plus one [`UsageLedger`] and, optionally, one
//! [`LlmCache`].
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use dxsim::llm::{ChatMessage, ChatRequest, LlmCache, LlmClients, LlmConfig, Role};
//!
//! let config = LlmConfig::load(Path::new("llm.toml"))?;
//! let cache = LlmCache::open(Path::new("dxsim.sqlite"))?;
//! let clients = LlmClients::new(&config, Some(&cache))?;
//! let request = ChatRequest::new(vec![
//!     ChatMessage::system("You are a patient with chest pain."),
//!     ChatMessage::user("When did the pain start?"),
//! ]);
//! let reply = clients.chat(Role::Patient, "episode-1", &request).await?;
//! println!("{} ({} tokens)", reply.content, reply.usage.completion_tokens);
//! println!("{:?}", clients.usage().snapshot_for("episode-1"));
//! # Ok(())
//! # }
//! ```

pub mod cache;
pub mod client;
pub mod config;
pub mod usage;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use cache::{CacheError, LlmCache};
pub use client::{
    ChatMessage, ChatReply, ChatRequest, EndpointClient, LlmError, MessageRole, ResponseFormat,
};
pub use config::{ConfigError, EndpointConfig, LlmConfig, Role};
pub use usage::{EpisodeUsage, Usage, UsageCounts, UsageLedger};

/// The clients for every role: one [`EndpointClient`] per endpoint in use, shared by the roles
/// mapped to it.
#[derive(Debug)]
pub struct LlmClients {
    endpoints: BTreeMap<String, EndpointClient>,
    roles: BTreeMap<Role, String>,
    jury: Vec<String>,
    ledger: Arc<UsageLedger>,
}

impl LlmClients {
    /// Clients for the endpoints `config`'s roles use, reading API keys from the process
    /// environment, answering from `cache` when it holds a reply (and filling it otherwise).
    pub fn new(config: &LlmConfig, cache: Option<&LlmCache>) -> Result<LlmClients, LlmError> {
        LlmClients::with_env(config, cache, &|variable| std::env::var(variable).ok())
    }

    /// As [`LlmClients::new`], reading each endpoint's `api_key_env` variable with `env`.
    pub fn with_env(
        config: &LlmConfig,
        cache: Option<&LlmCache>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LlmClients, LlmError> {
        config
            .check()
            .map_err(|(field, problem)| LlmError::Config { field, problem })?;
        let ledger = Arc::new(UsageLedger::new());
        let mut endpoints = BTreeMap::new();
        for name in config.roles.values().chain(&config.jury) {
            if endpoints.contains_key(name) {
                continue;
            }
            let endpoint = &config.endpoints[name];
            let api_key = match &endpoint.api_key_env {
                Some(variable) => match env(variable) {
                    Some(key) if !key.is_empty() => Some(key),
                    _ => {
                        return Err(LlmError::MissingApiKey {
                            endpoint: name.clone(),
                            variable: variable.clone(),
                        });
                    }
                },
                None => None,
            };
            let client =
                EndpointClient::new(name, endpoint, api_key, cache.cloned(), Arc::clone(&ledger))?;
            endpoints.insert(name.clone(), client);
        }
        Ok(LlmClients {
            endpoints,
            roles: config.roles.clone(),
            jury: config.jury.clone(),
            ledger,
        })
    }

    /// The client `role` uses, if the configuration gives it one.
    pub fn client_for(&self, role: Role) -> Option<&EndpointClient> {
        self.endpoints.get(self.roles.get(&role)?)
    }

    /// The jury's endpoints, in the configuration's order, with their names.
    pub fn jurors(&self) -> Vec<(&str, &EndpointClient)> {
        self.jury
            .iter()
            .filter_map(|name| Some((name.as_str(), self.endpoints.get(name)?)))
            .collect()
    }

    /// Sends `request` for `role` in `episode` through the role's endpoint.
    pub async fn chat(
        &self,
        role: Role,
        episode: &str,
        request: &ChatRequest,
    ) -> Result<ChatReply, LlmError> {
        self.client_for(role)
            .ok_or(LlmError::NoEndpoint { role })?
            .chat(role, episode, request)
            .await
    }

    /// Usage of every call made through these clients.
    pub fn usage(&self) -> &UsageLedger {
        &self.ledger
    }
}

/// The JSON object in a model's reply, which may wrap it in prose or a code fence: from the first `{`
/// to the last `}`. The error says what was wrong, for the model or the record.
pub fn json_object(reply: &str) -> Result<serde_json::Value, String> {
    let span = reply
        .find('{')
        .zip(reply.rfind('}'))
        .filter(|(start, end)| start < end);
    let Some((start, end)) = span else {
        return Err("expected a JSON object".into());
    };
    serde_json::from_str(&reply[start..=end]).map_err(|error| format!("not JSON: {error}"))
}

/// The start of a model's reply, to quote in an error.
pub fn snippet(reply: &str) -> String {
    reply.chars().take(160).collect()
}

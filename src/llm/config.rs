//! The LLM configuration file: named endpoints and which endpoint each role uses.
//!
//! ```toml
//! [endpoints.local]
//! base_url = "http://localhost:11434/v1"   # Ollama; vLLM serves http://localhost:8000/v1
//! model = "llama3.1:8b"
//!
//! [endpoints.hosted]
//! base_url = "https://api.openai.com/v1"
//! model = "gpt-4o-mini"
//! api_key_env = "OPENAI_API_KEY"           # the key is read from this variable, never from the file
//! max_concurrency = 16
//!
//! [roles]
//! doctor = "hosted"
//! patient = "local"
//!
//! # optional: endpoints that judge together (`--judge jury`), a majority deciding
//! jury = ["local", "hosted"]
//! ```
//!
//! Every endpoint field but `base_url` and `model` has a default (see [`EndpointConfig`]); every role
//! is optional. `docs/llm.toml` is a complete example, parsed by this module's tests.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who is calling the model: each role may use a different endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The doctor being evaluated (an LLM agent).
    Doctor,
    /// The patient simulator.
    Patient,
    /// The gatekeeper that answers examination and test requests.
    Gatekeeper,
    /// The judge that scores the final diagnosis.
    Judge,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 4] = [Role::Doctor, Role::Patient, Role::Gatekeeper, Role::Judge];

    /// The role's name as written in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Doctor => "doctor",
            Role::Patient => "patient",
            Role::Gatekeeper => "gatekeeper",
            Role::Judge => "judge",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// The API root, e.g. `http://localhost:8000/v1`; requests go to `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name sent with every request.
    pub model: String,
    /// The environment variable holding the API key, sent as a bearer token; `None` sends no key
    /// (local servers).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Sampling temperature, 0–2 (default 0).
    #[serde(default)]
    pub temperature: f64,
    /// Most tokens a reply may have (default 1024).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Seconds one attempt may take, reply body included, not counting the wait for a concurrency
    /// permit (default 120).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Most requests in flight to this endpoint at once (default 8).
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// Retries after a failed first attempt, on 429, 5xx, timeouts and dropped connections
    /// (default 4).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
}

fn default_max_tokens() -> u32 {
    1024
}

fn default_timeout_secs() -> f64 {
    120.0
}

fn default_max_concurrency() -> usize {
    8
}

fn default_max_retries() -> u32 {
    4
}

/// The most retries a configuration may ask for.
const MAX_RETRIES_LIMIT: u32 = 20;

/// The most requests in flight a configuration may allow per endpoint.
const MAX_CONCURRENCY_LIMIT: usize = 65_536;

/// The longest timeout a configuration may ask for: a day.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

impl EndpointConfig {
    /// An endpoint with every optional field at its default.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            temperature: 0.0,
            max_tokens: default_max_tokens(),
            timeout_secs: default_timeout_secs(),
            max_concurrency: default_max_concurrency(),
            max_retries: default_max_retries(),
        }
    }

    /// The first problem with this endpoint's fields, as (field, problem).
    fn problem(&self) -> Option<(&'static str, String)> {
        match reqwest::Url::parse(&self.base_url) {
            Err(error) => {
                return Some((
                    "base_url",
                    format!("`{}` is not a URL: {error}", self.base_url),
                ));
            }
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                return Some((
                    "base_url",
                    format!("`{}` must start with http:// or https://", self.base_url),
                ));
            }
            Ok(_) => {}
        }
        if self.model.trim().is_empty() {
            return Some(("model", "must not be empty".to_string()));
        }
        if let Some(variable) = &self.api_key_env
            && (variable.is_empty() || variable.contains(['=', '\0']))
        {
            return Some((
                "api_key_env",
                format!("`{variable}` is not an environment variable name"),
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return Some((
                "temperature",
                format!("{} is outside 0–2", self.temperature),
            ));
        }
        if self.max_tokens == 0 {
            return Some(("max_tokens", "must be at least 1".to_string()));
        }
        if !(self.timeout_secs > 0.0 && self.timeout_secs <= MAX_TIMEOUT_SECS) {
            return Some((
                "timeout_secs",
                format!(
                    "{} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECS}",
                    self.timeout_secs
                ),
            ));
        }
        if !(1..=MAX_CONCURRENCY_LIMIT).contains(&self.max_concurrency) {
            return Some((
                "max_concurrency",
                format!(
                    "{} is not between 1 and {MAX_CONCURRENCY_LIMIT}",
                    self.max_concurrency
                ),
            ));
        }
        if self.max_retries > MAX_RETRIES_LIMIT {
            return Some((
                "max_retries",
                format!("{} is more than {MAX_RETRIES_LIMIT}", self.max_retries),
            ));
        }
        None
    }
}

/// The whole LLM configuration: endpoints by name and the endpoint each role uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Endpoints by name.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointConfig>,
    /// The endpoint name each role uses; a role left out has no LLM.
    #[serde(default)]
    pub roles: BTreeMap<Role, String>,
    /// Endpoints that judge together (`--judge jury`): each scores every diagnosis, the median score
    /// (the majority's call) stands, and the votes are kept in the record.
    #[serde(default)]
    pub jury: Vec<String>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the LLM config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has fields of the wrong type or name.
    #[error("LLM config {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's complaint, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A field has a value that cannot work.
    #[error("LLM config {}: {field}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field's path, e.g. `endpoints.local.base_url` or `roles.doctor`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl LlmConfig {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<LlmConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        LlmConfig::parse(&text, path)
    }

    /// Parses and validates configuration `text`; `path` names its origin in errors.
    pub fn parse(text: &str, path: &Path) -> Result<LlmConfig, ConfigError> {
        let config: LlmConfig = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks every endpoint's fields and that each role names a defined endpoint; `path` names the
    /// configuration's origin in the error.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        self.check()
            .map_err(|(field, problem)| ConfigError::Invalid {
                path: path.to_path_buf(),
                field,
                problem,
            })
    }

    /// The first invalid field, as (field path, problem).
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        for (name, endpoint) in &self.endpoints {
            if let Some((field, problem)) = endpoint.problem() {
                return Err((format!("endpoints.{name}.{field}"), problem));
            }
        }
        for (role, name) in &self.roles {
            if !self.endpoints.contains_key(name) {
                let known = if self.endpoints.is_empty() {
                    "no endpoints are defined".to_string()
                } else {
                    let names: Vec<&str> = self.endpoints.keys().map(String::as_str).collect();
                    format!("defined endpoints: {}", names.join(", "))
                };
                return Err((
                    format!("roles.{role}"),
                    format!("no endpoint named `{name}` ({known})"),
                ));
            }
        }
        for (index, name) in self.jury.iter().enumerate() {
            if !self.endpoints.contains_key(name) {
                return Err((
                    format!("jury[{index}]"),
                    format!("no endpoint named `{name}`"),
                ));
            }
            if self.jury[..index].contains(name) {
                return Err((
                    format!("jury[{index}]"),
                    format!("`{name}` sits on the jury twice"),
                ));
            }
        }
        Ok(())
    }

    /// The endpoint configured for `role`, with its name.
    pub fn endpoint_for(&self, role: Role) -> Option<(&str, &EndpointConfig)> {
        let name = self.roles.get(&role)?;
        self.endpoints
            .get(name)
            .map(|endpoint| (name.as_str(), endpoint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LlmConfig, ConfigError> {
        LlmConfig::parse(text, Path::new("llm.toml"))
    }

    fn invalid_field(text: &str) -> (String, String) {
        match parse(text) {
            Err(ConfigError::Invalid { field, problem, .. }) => (field, problem),
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/llm.toml");
        let config = LlmConfig::load(&path).expect("docs/llm.toml is valid");
        assert!(config.endpoints.len() >= 3, "{config:?}");
        for role in Role::ALL {
            assert!(
                config.endpoint_for(role).is_some(),
                "{role} has an endpoint"
            );
        }
        let hosted = config
            .endpoints
            .values()
            .find(|endpoint| endpoint.api_key_env.is_some())
            .expect("a hosted endpoint with a key");
        assert_eq!(hosted.api_key_env.as_deref(), Some("OPENAI_API_KEY"));
        assert!(
            config
                .endpoints
                .values()
                .any(|endpoint| endpoint.base_url == "http://localhost:11434/v1")
        );
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let config = parse(
            "[endpoints.local]\nbase_url = \"http://localhost:8000/v1\"\nmodel = \"m\"\n\
             [roles]\njudge = \"local\"\n",
        )
        .expect("valid");
        let endpoint = &config.endpoints["local"];
        assert_eq!(
            endpoint,
            &EndpointConfig::new("http://localhost:8000/v1", "m")
        );
        assert_eq!(
            config.endpoint_for(Role::Judge).map(|(name, _)| name),
            Some("local")
        );
        assert_eq!(config.endpoint_for(Role::Doctor), None);
    }

    #[test]
    fn an_empty_file_has_no_roles() {
        let config = parse("").expect("valid");
        assert!(config.endpoints.is_empty() && config.roles.is_empty());
    }

    #[test]
    fn bad_values_name_their_field() {
        let endpoint = |extra: &str| {
            format!("[endpoints.e]\nbase_url = \"http://localhost:1/v1\"\nmodel = \"m\"\n{extra}\n")
        };
        for (extra, field) in [
            ("temperature = 2.5", "endpoints.e.temperature"),
            ("max_tokens = 0", "endpoints.e.max_tokens"),
            ("timeout_secs = 0", "endpoints.e.timeout_secs"),
            ("timeout_secs = -1.5", "endpoints.e.timeout_secs"),
            ("timeout_secs = nan", "endpoints.e.timeout_secs"),
            ("timeout_secs = 1e9", "endpoints.e.timeout_secs"),
            ("temperature = nan", "endpoints.e.temperature"),
            ("max_concurrency = 0", "endpoints.e.max_concurrency"),
            ("max_concurrency = 1000000", "endpoints.e.max_concurrency"),
            ("max_retries = 99", "endpoints.e.max_retries"),
            ("api_key_env = \"\"", "endpoints.e.api_key_env"),
        ] {
            assert_eq!(invalid_field(&endpoint(extra)).0, field, "{extra}");
        }
        let (field, problem) =
            invalid_field("[endpoints.e]\nbase_url = \"localhost:8000\"\nmodel = \"m\"\n");
        assert_eq!(field, "endpoints.e.base_url");
        assert!(problem.contains("http://"), "{problem}");
        let (field, _) =
            invalid_field("[endpoints.e]\nbase_url = \"http://localhost/v1\"\nmodel = \" \"\n");
        assert_eq!(field, "endpoints.e.model");
    }

    #[test]
    fn a_role_must_name_a_defined_endpoint() {
        let (field, problem) = invalid_field(
            "[endpoints.a]\nbase_url = \"http://localhost/v1\"\nmodel = \"m\"\n\
             [roles]\npatient = \"b\"\n",
        );
        assert_eq!(field, "roles.patient");
        assert!(
            problem.contains("`b`") && problem.contains("a"),
            "{problem}"
        );
    }

    #[test]
    fn the_error_names_the_file() {
        let error = parse("[roles]\ndoctor = \"nowhere\"\n").expect_err("invalid");
        let message = error.to_string();
        assert!(
            message.starts_with("LLM config llm.toml: roles.doctor:"),
            "{message}"
        );
        assert!(message.contains("no endpoints are defined"), "{message}");
    }

    #[test]
    fn unknown_fields_and_roles_are_parse_errors() {
        for text in [
            "[endpoints.e]\nbase_url = \"http://x/v1\"\nmodel = \"m\"\ntemprature = 1.0\n",
            "[roles]\nnurse = \"e\"\n",
            "[endpoints.e]\nmodel = \"m\"\n",
            "model = \"m\"\n",
        ] {
            let error = parse(text).expect_err(text);
            assert!(
                matches!(error, ConfigError::Parse { .. }),
                "{text}: {error}"
            );
            assert!(
                error.to_string().starts_with("LLM config llm.toml:"),
                "{error}"
            );
        }
        let message = parse("[roles]\nnurse = \"e\"\n")
            .expect_err("unknown role")
            .to_string();
        assert!(message.contains("nurse"), "{message}");
    }

    #[test]
    fn a_missing_file_is_a_read_error() {
        let directory = tempfile::tempdir().expect("temp dir");
        let error = LlmConfig::load(&directory.path().join("dxsim-llm.toml")).expect_err("missing");
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
        assert!(error.to_string().contains("dxsim-llm.toml"), "{error}");
    }
}

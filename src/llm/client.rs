//! The chat-completions client for one endpoint: retries, a concurrency limit, timeouts, the
//! response cache and usage accounting.
//!
//! A call first looks in the response cache (if the clients have one). On a miss it waits for one of
//! the endpoint's `max_concurrency` permits and sends `POST {base_url}/chat/completions`, giving the
//! attempt `timeout_secs` to finish, reply body included. What happens next depends on the outcome:
//!
//! | outcome | retried? |
//! |---|---|
//! | 200 with a chat completion | no: the reply is cached and returned |
//! | 429, 408 or any 5xx | yes, after `Retry-After` (or `retry-after-ms`) if sent, capped at 60 s, else backoff |
//! | the attempt timed out, or the connection dropped mid-request | yes, after backoff |
//! | the connection was refused / the host is unknown | no: [`LlmError::Unreachable`] |
//! | 401 or 403 | no: [`LlmError::BadKey`], naming the key's environment variable |
//! | 404 mentioning the model, or `model_not_found` | no: [`LlmError::ModelNotFound`] |
//! | any other 404 | no: [`LlmError::NotFound`] (a wrong `base_url`) |
//! | 200 whose body is not a chat completion | no: [`LlmError::Malformed`] — a server that sends a broken body once sends it again, so retrying would only multiply the cost |
//! | any other status | no: [`LlmError::Status`] |
//!
//! Backoff is exponential with full jitter: before retry `n` the client sleeps a random time between
//! zero and `min(0.5 s × 2ⁿ⁻¹, 30 s)`. The permit is released while sleeping, so other calls proceed.
//! After `max_retries` retries the call fails with [`LlmError::RetriesExhausted`], carrying the last
//! error and the number of attempts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::cache::{CacheError, CachedReply, LlmCache, cache_key};
use super::config::{EndpointConfig, Role};
use super::usage::{Usage, UsageLedger};

/// The longest wait a `Retry-After` header is honoured for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The backoff before the first retry is drawn from zero to this.
const BACKOFF_BASE: Duration = Duration::from_millis(500);

/// The backoff range never grows beyond this.
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// How much of a body an error quotes.
const SNIPPET_CHARS: usize = 200;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// Instructions for the model.
    System,
    /// The other party's turn.
    User,
    /// The model's own earlier turn.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: MessageRole,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: MessageRole::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: MessageRole::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: MessageRole::Assistant,
            content: content.into(),
        }
    }
}

/// A constraint on the reply's form, sent as `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// The reply must be one JSON object (`{"type": "json_object"}`).
    JsonObject,
}

/// One chat-completions request; the endpoint adds the model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature; `None` uses the endpoint's.
    pub temperature: Option<f64>,
    /// Most tokens in the reply; `None` uses the endpoint's.
    pub max_tokens: Option<u32>,
    /// A constraint on the reply's form, if any.
    pub response_format: Option<ResponseFormat>,
}

impl ChatRequest {
    /// A request for `messages` with the endpoint's temperature and token limit.
    pub fn new(messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            messages,
            ..ChatRequest::default()
        }
    }
}

/// The model's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatReply {
    /// The text of the first choice.
    pub content: String,
    /// The tokens the reply cost when the server made it (zero if the server did not say). A cached
    /// reply carries its original usage, but the ledger counts it as a cached call with no tokens.
    pub usage: Usage,
    /// Whether the reply came from the response cache rather than the server.
    pub cached: bool,
}

/// Why a call failed. Each message names the URL, model or variable to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// No connection could be made: the server is down, the port or host is wrong, or TLS failed.
    #[error("cannot reach {url} (is the server running?): {detail}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// The underlying errors, outermost first.
        detail: String,
    },
    /// An attempt took longer than the endpoint's `timeout_secs`.
    #[error("no complete reply from {url} within {:.1} s (timeout_secs)", after.as_secs_f64())]
    Timeout {
        /// The URL called.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The connection failed after it was made (reset, closed early).
    #[error("the connection to {url} failed: {detail}")]
    Transport {
        /// The URL called.
        url: String,
        /// The underlying errors, outermost first.
        detail: String,
    },
    /// The server refused the API key (401 or 403).
    #[error("{url} refused the API key (HTTP {status}): {}", key_hint(endpoint, api_key_env.as_deref()))]
    BadKey {
        /// The URL called.
        url: String,
        /// The endpoint's name in the configuration.
        endpoint: String,
        /// 401 or 403.
        status: u16,
        /// The environment variable the key was read from, if any.
        api_key_env: Option<String>,
    },
    /// The server does not serve the configured model.
    #[error(
        "{url} has no model `{model}` (check `model`, or pull or load it on the server): {snippet}"
    )]
    ModelNotFound {
        /// The URL called.
        url: String,
        /// The model asked for.
        model: String,
        /// The start of the server's reply.
        snippet: String,
    },
    /// 404 without mention of a model: the URL is wrong.
    #[error(
        "{url} answered 404 Not Found: check base_url (OpenAI-compatible servers serve \
         /v1/chat/completions, so base_url usually ends in /v1): {snippet}"
    )]
    NotFound {
        /// The URL called.
        url: String,
        /// The start of the server's reply.
        snippet: String,
    },
    /// Any other unsuccessful status.
    #[error("{url} answered HTTP {status}: {snippet}")]
    Status {
        /// The URL called.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the server's reply.
        snippet: String,
    },
    /// A successful status whose body is not a chat completion.
    #[error("malformed reply from {url}: {problem}; the body starts: {snippet}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What is wrong with it.
        problem: String,
        /// The start of the body.
        snippet: String,
    },
    /// Every attempt failed with a retryable error.
    #[error(
        "gave up after {attempts} attempt{}; the last error: {last}",
        if *attempts == 1 { "" } else { "s" }
    )]
    RetriesExhausted {
        /// How many attempts were made (the first and every retry).
        attempts: u32,
        /// The last attempt's error.
        last: Box<LlmError>,
    },
    /// The configuration maps no endpoint to this role.
    #[error(
        "no LLM endpoint is configured for the {role} role (add `{role} = \"NAME\"` under [roles])"
    )]
    NoEndpoint {
        /// The role.
        role: Role,
    },
    /// The endpoint's API key variable is not set.
    #[error(
        "endpoint `{endpoint}` reads its API key from the environment variable {variable}, which is \
         not set or empty"
    )]
    MissingApiKey {
        /// The endpoint's name.
        endpoint: String,
        /// The variable.
        variable: String,
    },
    /// The configuration has an invalid field.
    #[error("invalid LLM configuration: {field}: {problem}")]
    Config {
        /// The field's path, e.g. `endpoints.local.base_url`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The HTTP client could not be built (its TLS setup failed).
    #[error("cannot set up the HTTP client for endpoint `{endpoint}`: {detail}")]
    HttpClient {
        /// The endpoint's name.
        endpoint: String,
        /// The underlying errors, outermost first.
        detail: String,
    },
    /// The response cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// What to do about a bad key, for [`LlmError::BadKey`].
fn key_hint(endpoint: &str, api_key_env: Option<&str>) -> String {
    match api_key_env {
        Some(variable) => format!("check the key in the environment variable {variable}"),
        None => format!(
            "endpoint `{endpoint}` sends no key; set api_key_env to the environment variable that \
             holds one"
        ),
    }
}

/// An error's causes on one line. The outermost message of a reqwest error only repeats the URL,
/// so it is left out when there is a cause to show.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut next = Some(error.source().unwrap_or(error));
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// The start of a body, on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return "(empty body)".to_string();
    }
    if let Some((cut, _)) = words.char_indices().nth(SNIPPET_CHARS) {
        words.truncate(cut);
        words.push('…');
    }
    words
}

/// How long a `Retry-After` (seconds or an HTTP date) or `retry-after-ms` header asks to wait,
/// capped at [`MAX_RETRY_AFTER`].
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    // A number of `unit`s, capped.
    let count = |value: &str, unit: f64| {
        let count: f64 = value.trim().parse().ok()?;
        (count.is_finite() && count >= 0.0)
            .then(|| Duration::from_secs_f64((count * unit).min(MAX_RETRY_AFTER.as_secs_f64())))
    };
    if let Some(wait) = header("retry-after-ms").and_then(|value| count(value, 0.001)) {
        return Some(wait);
    }
    let value = header(RETRY_AFTER.as_str())?;
    let wait = match count(value, 1.0) {
        Some(wait) => wait,
        None => httpdate::parse_http_date(value.trim())
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The random wait before retry number `retry` (1 for the first): full jitter over an exponentially
/// growing range.
fn backoff(retry: u32) -> Duration {
    let range = BACKOFF_BASE
        .saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    range.mul_f64(rand::rng().random_range(0.0..=1.0))
}

/// The body sent to the server.
#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [ChatMessage],
    temperature: f64,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<ResponseFormat>,
    stream: bool,
}

/// The parts of a chat completion the client reads.
#[derive(Deserialize)]
struct WireReply {
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// One failed attempt.
struct Failure {
    error: LlmError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: LlmError) -> Failure {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    fn transient(error: LlmError, retry_after: Option<Duration>) -> Failure {
        Failure {
            error,
            retryable: true,
            retry_after,
        }
    }
}

/// The client for one endpoint, shared by every role the configuration maps to it.
#[derive(Debug)]
pub struct EndpointClient {
    name: String,
    config: EndpointConfig,
    url: reqwest::Url,
    api_key: Option<String>,
    timeout: Duration,
    http: reqwest::Client,
    permits: Semaphore,
    cache: Option<LlmCache>,
    ledger: Arc<UsageLedger>,
}

impl EndpointClient {
    /// A client for the endpoint `name`, whose configuration has been checked.
    pub(crate) fn new(
        name: &str,
        config: &EndpointConfig,
        api_key: Option<String>,
        cache: Option<LlmCache>,
        ledger: Arc<UsageLedger>,
    ) -> Result<EndpointClient, LlmError> {
        let invalid = |problem: String| LlmError::Config {
            field: format!("endpoints.{name}.base_url"),
            problem,
        };
        let url = reqwest::Url::parse(&format!(
            "{}/chat/completions",
            config.base_url.trim_end_matches('/')
        ))
        .map_err(|error| invalid(error.to_string()))?;
        let timeout =
            Duration::try_from_secs_f64(config.timeout_secs).map_err(|error| LlmError::Config {
                field: format!("endpoints.{name}.timeout_secs"),
                problem: error.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("dxsim/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(config.max_concurrency)
            .build()
            .map_err(|error| LlmError::HttpClient {
                endpoint: name.to_string(),
                detail: causes(&error),
            })?;
        Ok(EndpointClient {
            name: name.to_string(),
            config: config.clone(),
            url,
            api_key,
            timeout,
            http,
            permits: Semaphore::new(config.max_concurrency),
            cache,
            ledger,
        })
    }

    /// The endpoint's name in the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `request` for `role` in `episode` (for usage accounting), or answers it from the cache.
    pub async fn chat(
        &self,
        role: Role,
        episode: &str,
        request: &ChatRequest,
    ) -> Result<ChatReply, LlmError> {
        let body = serde_json::to_string(&WireRequest {
            model: &self.config.model,
            messages: &request.messages,
            temperature: request.temperature.unwrap_or(self.config.temperature),
            max_tokens: request.max_tokens.unwrap_or(self.config.max_tokens),
            response_format: request.response_format,
            stream: false,
        })
        .expect("strings, numbers and unit enums always serialize");
        let cached = match &self.cache {
            Some(cache) => {
                // The canonical request: the endpoint and the exact body sent to it.
                let canonical = format!(
                    "{{\"base_url\":{},\"body\":{body}}}",
                    serde_json::Value::from(self.config.base_url.as_str())
                );
                let key = cache_key(&canonical);
                if let Some(hit) = cache.get(key.clone()).await? {
                    self.ledger.record_cached(episode, role);
                    return Ok(ChatReply {
                        content: hit.content,
                        usage: hit.usage,
                        cached: true,
                    });
                }
                Some((cache, key, canonical))
            }
            None => None,
        };
        let (reply, retries) = match self.send(body).await {
            Ok(answer) => answer,
            Err((error, retries)) => {
                self.ledger.record_failure(episode, role, retries);
                return Err(error);
            }
        };
        self.ledger.record_call(episode, role, reply.usage, retries);
        if let Some((cache, key, canonical)) = cached {
            let stored = CachedReply {
                content: reply.content.clone(),
                usage: reply.usage,
            };
            cache.put(key, canonical, stored).await?;
        }
        Ok(reply)
    }

    /// Sends `body` until it succeeds, fails for good, or the retries run out; returns the reply or
    /// the error, with the number of retries made.
    async fn send(&self, body: String) -> Result<(ChatReply, u32), (LlmError, u32)> {
        let mut retries = 0;
        loop {
            let failure = match self.attempt(body.clone()).await {
                Ok(reply) => return Ok((reply, retries)),
                Err(failure) => failure,
            };
            if !failure.retryable {
                return Err((failure.error, retries));
            }
            if retries >= self.config.max_retries {
                let error = LlmError::RetriesExhausted {
                    attempts: retries + 1,
                    last: Box::new(failure.error),
                };
                return Err((error, retries));
            }
            retries += 1;
            let wait = failure.retry_after.unwrap_or_else(|| backoff(retries));
            tracing::warn!(
                endpoint = %self.name,
                retry = retries,
                wait_ms = wait.as_millis(),
                "retrying after: {}",
                failure.error
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, holding one of the endpoint's permits.
    async fn attempt(&self, body: String) -> Result<ChatReply, Failure> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the endpoint's semaphore is never closed");
        let mut request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(self.timeout);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport(&error))?;
        let status = response.status();
        let wait = retry_after(response.headers(), SystemTime::now());
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport(&error))?;
        if status.is_success() {
            return self.parse(&bytes).map_err(Failure::fatal);
        }
        let url = self.url.to_string();
        let code = status.as_u16();
        let body_text = String::from_utf8_lossy(&bytes).to_lowercase();
        let error = match code {
            401 | 403 => LlmError::BadKey {
                url,
                endpoint: self.name.clone(),
                status: code,
                api_key_env: self.config.api_key_env.clone(),
            },
            _ if body_text.contains("model_not_found")
                || (code == 404 && body_text.contains("model")) =>
            {
                LlmError::ModelNotFound {
                    url,
                    model: self.config.model.clone(),
                    snippet: snippet(&bytes),
                }
            }
            404 => LlmError::NotFound {
                url,
                snippet: snippet(&bytes),
            },
            _ => LlmError::Status {
                url,
                status: code,
                snippet: snippet(&bytes),
            },
        };
        if code == 408 || code == 429 || status.is_server_error() {
            Err(Failure::transient(error, wait))
        } else {
            Err(Failure::fatal(error))
        }
    }

    /// Classifies a failure to send or to read the reply.
    fn transport(&self, error: &reqwest::Error) -> Failure {
        let url = self.url.to_string();
        if error.is_timeout() {
            Failure::transient(
                LlmError::Timeout {
                    url,
                    after: self.timeout,
                },
                None,
            )
        } else if error.is_connect() {
            Failure::fatal(LlmError::Unreachable {
                url,
                detail: causes(error),
            })
        } else {
            Failure::transient(
                LlmError::Transport {
                    url,
                    detail: causes(error),
                },
                None,
            )
        }
    }

    /// Reads a chat completion from a successful reply's body.
    fn parse(&self, body: &[u8]) -> Result<ChatReply, LlmError> {
        let malformed = |problem: String| LlmError::Malformed {
            url: self.url.to_string(),
            problem,
            snippet: snippet(body),
        };
        let reply: WireReply = serde_json::from_slice(body).map_err(|error| {
            if error.is_data() {
                malformed(format!("not a chat completion ({error})"))
            } else {
                malformed(format!("not JSON ({error})"))
            }
        })?;
        let content = reply
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| malformed("`choices` is empty".to_string()))?
            .message
            .and_then(|message| message.content)
            .ok_or_else(|| malformed("choices[0].message.content is missing".to_string()))?;
        let usage = reply.usage.map_or_else(Usage::default, |usage| Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        });
        Ok(ChatReply {
            content,
            usage,
            cached: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let wait = |pairs: &[(&'static str, &str)]| retry_after(&headers(pairs), now);
        assert_eq!(wait(&[("retry-after", "2")]), Some(Duration::from_secs(2)));
        assert_eq!(
            wait(&[("retry-after", " 0.5 ")]),
            Some(Duration::from_millis(500))
        );
        assert_eq!(wait(&[("retry-after", "3600")]), Some(MAX_RETRY_AFTER));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            wait(&[("retry-after", &date)]),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(wait(&[("retry-after", &past)]), Some(Duration::ZERO));
        assert_eq!(
            wait(&[("retry-after-ms", "250"), ("retry-after", "9")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(wait(&[("retry-after-ms", "120000")]), Some(MAX_RETRY_AFTER));
        assert_eq!(wait(&[("retry-after", "soon")]), None);
        assert_eq!(wait(&[("retry-after", "-1")]), None);
        assert_eq!(wait(&[]), None);
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_a_cap() {
        for retry in 1..40 {
            let range = BACKOFF_BASE
                .saturating_mul(1 << (retry - 1).min(16))
                .min(BACKOFF_CAP);
            for _ in 0..20 {
                assert!(backoff(retry) <= range, "retry {retry}");
            }
        }
        assert!(backoff(30) <= BACKOFF_CAP);
    }

    #[test]
    fn snippets_are_short_single_lines() {
        assert_eq!(snippet(b""), "(empty body)");
        assert_eq!(snippet(b"  a\n b  "), "a b");
        let long = snippet("é".repeat(500).as_bytes());
        assert_eq!(long.chars().count(), SNIPPET_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn response_format_is_the_openai_shape() {
        assert_eq!(
            serde_json::to_value(ResponseFormat::JsonObject).expect("serializes"),
            serde_json::json!({"type": "json_object"})
        );
    }
}

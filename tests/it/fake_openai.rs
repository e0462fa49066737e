//! A fake OpenAI-compatible chat-completions server: a real axum server on a loopback port that
//! answers `POST /v1/chat/completions` from a script, records every request it receives and the most
//! requests it had in flight at once.
//!
//! The integration tests use it as `mod fake_openai`; the LLM benchmark includes this same file with
//! `#[path]`, so there is one fake server and nothing of it ships in the library.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with a completion echoing the last message (`echo: …`), after the server's delay.
    Echo,
    /// 200 with a completion of this text, at once.
    Text(String),
    /// 200 with a completion of this text, after the server's delay (as an echo would take).
    Slow(String),
    /// 429 Too Many Requests with this `Retry-After` value.
    RateLimited(String),
    /// 500 Internal Server Error.
    ServerError,
    /// Waits this long, then echoes: longer than the client's timeout, it is a hang.
    Hang(Duration),
    /// 200 with this body (not a chat completion).
    Malformed(String),
    /// 401 with OpenAI's invalid-key error.
    Unauthorized,
    /// 404 with OpenAI's model-not-found error, naming the requested model.
    ModelNotFound,
}

/// One request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// When the handler started on it.
    pub(crate) at: Instant,
    /// The JSON body (`null` if it was not JSON).
    pub(crate) body: Value,
    /// The `Authorization` header, if sent.
    pub(crate) authorization: Option<String>,
}

impl Received {
    /// The content of the request's last message.
    pub(crate) fn last_message(&self) -> &str {
        last_message(&self.body)
    }
}

/// The content of a request body's last message.
fn last_message(request: &Value) -> &str {
    request["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
}

/// The default reply: `echo: ` and the last message.
fn echo(request: &Value) -> String {
    format!("echo: {}", last_message(request))
}

/// A request as recorded: when, the raw body (parsed only when asked for), the `Authorization`.
type Recorded = (Instant, Bytes, Option<String>);

#[derive(Default)]
struct Shared {
    delay: Duration,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Counts a request in flight until dropped (also when the client gives up and the handler is
/// cancelled).
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> InFlight {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The fake server; it stops when dropped.
pub(crate) struct FakeOpenAi {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl FakeOpenAi {
    /// A server that echoes at once unless scripted otherwise.
    pub(crate) async fn start() -> FakeOpenAi {
        FakeOpenAi::with_delay(Duration::ZERO).await
    }

    /// A server whose echoes (the default reply) each take `delay`.
    pub(crate) async fn with_delay(delay: Duration) -> FakeOpenAi {
        let shared = Arc::new(Shared {
            delay,
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("bound address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        FakeOpenAi {
            base_url: format!("http://{address}/v1"),
            shared,
            server,
        }
    }

    /// The API root to configure as `base_url`: `http://127.0.0.1:PORT/v1`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues replies for the next requests, in order; once they are used up the server echoes.
    pub(crate) fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Received> {
        lock(&self.shared.requests)
            .iter()
            .map(|(at, body, authorization)| Received {
                at: *at,
                body: serde_json::from_slice(body).unwrap_or(Value::Null),
                authorization: authorization.clone(),
            })
            .collect()
    }

    /// The most requests the server was handling at one time.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Whitespace-separated words: the fake's token count.
fn words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// A chat completion of `content` for `request`, with usage counted in words.
fn completion(request: &Value, content: &str) -> Response {
    let prompt_tokens: usize = request["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|message| words(message["content"].as_str().unwrap_or_default()))
                .sum()
        })
        .unwrap_or_default();
    let completion_tokens = words(content);
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }))
    .into_response()
}

fn error(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&shared);
    let at = Instant::now();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // A copy: the body may share hyper's read buffer, which must not be kept alive by the record.
    lock(&shared.requests).push((at, Bytes::copy_from_slice(&body), authorization));
    let reply = lock(&shared.script).pop_front().unwrap_or(Reply::Echo);
    match reply {
        Reply::Echo => {
            if !shared.delay.is_zero() {
                tokio::time::sleep(shared.delay).await;
            }
            completion(&request, &echo(&request))
        }
        Reply::Text(text) => completion(&request, &text),
        Reply::Slow(text) => {
            if !shared.delay.is_zero() {
                tokio::time::sleep(shared.delay).await;
            }
            completion(&request, &text)
        }
        Reply::RateLimited(retry_after) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after)],
            axum::Json(json!({"error": {"message": "Rate limit reached", "type": "requests"}})),
        )
            .into_response(),
        Reply::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        ),
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            completion(&request, &echo(&request))
        }
        Reply::Malformed(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Reply::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            &json!({"error": {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }}),
        ),
        Reply::ModelNotFound => error(
            StatusCode::NOT_FOUND,
            &json!({"error": {
                "message": format!(
                    "The model `{}` does not exist or you do not have access to it.",
                    request["model"].as_str().unwrap_or_default()
                ),
                "type": "invalid_request_error",
                "code": "model_not_found",
            }}),
        ),
    }
}

//! The LLM client against a real HTTP server on loopback (`fake_openai`) that speaks the
//! chat-completions protocol with scripted replies, delays, 429s, 500s, hangs and broken bodies.
//! Timing is checked only from below (a retry came no sooner than asked), never with upper bounds.

use std::sync::Arc;
use std::time::Duration;

use dxsim::llm::{
    ChatMessage, ChatRequest, EndpointConfig, LlmCache, LlmClients, LlmConfig, LlmError,
    ResponseFormat, Role, UsageCounts,
};
use serde_json::json;

use crate::fake_openai::{FakeOpenAi, Reply};

const MODEL: &str = "fake-model";

/// An endpoint on `server` with quick test settings.
fn endpoint(server: &FakeOpenAi) -> EndpointConfig {
    EndpointConfig {
        timeout_secs: 10.0,
        max_retries: 3,
        ..EndpointConfig::new(server.base_url(), MODEL)
    }
}

/// A configuration with one endpoint, `main`, used by `roles`.
fn config(endpoint: EndpointConfig, roles: &[Role]) -> LlmConfig {
    LlmConfig {
        endpoints: [("main".to_string(), endpoint)].into(),
        roles: roles
            .iter()
            .map(|role| (*role, "main".to_string()))
            .collect(),
        jury: Vec::new(),
    }
}

/// Clients for the doctor on `endpoint`, without a cache.
fn doctor(endpoint: EndpointConfig) -> LlmClients {
    LlmClients::new(&config(endpoint, &[Role::Doctor]), None).expect("clients")
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a patient."),
        ChatMessage::user(text),
    ])
}

fn cache_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("dxsim.sqlite");
    (directory, path)
}

#[tokio::test]
async fn a_reply_carries_the_content_and_usage_and_the_request_is_as_configured() {
    let server = FakeOpenAi::start().await;
    let clients = LlmClients::with_env(
        &config(
            EndpointConfig {
                api_key_env: Some("DXSIM_TEST_KEY".into()),
                temperature: 0.7,
                max_tokens: 300,
                ..endpoint(&server)
            },
            &[Role::Doctor],
        ),
        None,
        &|variable| (variable == "DXSIM_TEST_KEY").then(|| "sk-test".to_string()),
    )
    .expect("clients");

    let reply = clients
        .chat(Role::Doctor, "e1", &ask("where does it hurt"))
        .await
        .expect("a reply");
    assert_eq!(reply.content, "echo: where does it hurt");
    assert_eq!(
        (reply.usage.prompt_tokens, reply.usage.completion_tokens),
        (8, 5)
    );
    assert!(!reply.cached);

    let request = ChatRequest {
        temperature: Some(0.0),
        max_tokens: Some(20),
        response_format: Some(ResponseFormat::JsonObject),
        ..ask("answer in JSON")
    };
    clients
        .chat(Role::Doctor, "e1", &request)
        .await
        .expect("a reply");

    let received = server.requests();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].body,
        json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You are a patient."},
                {"role": "user", "content": "where does it hurt"},
            ],
            "temperature": 0.7,
            "max_tokens": 300,
            "stream": false,
        })
    );
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(received[1].body["temperature"], 0.0);
    assert_eq!(received[1].body["max_tokens"], 20);
    assert_eq!(
        received[1].body["response_format"],
        json!({"type": "json_object"})
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_a_reply_comes() {
    let server = FakeOpenAi::start().await;
    server.script([
        Reply::ServerError,
        Reply::ServerError,
        Reply::Text("third time lucky".into()),
    ]);
    let clients = doctor(endpoint(&server));
    let reply = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect("a reply after two 500s");
    assert_eq!(reply.content, "third time lucky");
    assert_eq!(server.requests().len(), 3);
    let counts = clients.usage().snapshot_for("e1").roles[&Role::Doctor];
    assert_eq!(
        (counts.calls, counts.retries, counts.failed_calls),
        (1, 2, 0)
    );
}

#[tokio::test]
async fn a_429_waits_for_its_retry_after() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::RateLimited("1".into())]);
    let clients = doctor(endpoint(&server));
    let reply = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect("a reply after the 429");
    assert_eq!(reply.content, "echo: hello");
    let received = server.requests();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "the retry came after {gap:?}, before the 1 s Retry-After"
    );
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::Hang(Duration::from_secs(30))]);
    let clients = doctor(EndpointConfig {
        timeout_secs: 0.5,
        ..endpoint(&server)
    });
    let reply = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect("a reply after the timeout");
    assert_eq!(reply.content, "echo: hello");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(clients.usage().totals().retries, 1);
}

#[tokio::test]
async fn retries_run_out_with_the_last_error_and_the_attempt_count() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::ServerError, Reply::ServerError, Reply::ServerError]);
    let clients = doctor(EndpointConfig {
        max_retries: 2,
        ..endpoint(&server)
    });
    let error = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect_err("three 500s");
    match &error {
        LlmError::RetriesExhausted { attempts, last } => {
            assert_eq!(*attempts, 3);
            assert!(
                matches!(**last, LlmError::Status { status: 500, .. }),
                "{last}"
            );
        }
        other => panic!("expected retries exhausted, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("3 attempts") && message.contains("HTTP 500"),
        "{message}"
    );
    assert!(message.contains("The server had an error"), "{message}");
    assert_eq!(server.requests().len(), 3);
    let counts = clients.usage().snapshot_for("e1").total;
    assert_eq!(
        counts,
        UsageCounts {
            failed_calls: 1,
            retries: 2,
            ..UsageCounts::default()
        }
    );
}

#[tokio::test]
async fn a_malformed_reply_is_an_error_at_once() {
    for (body, problem) in [
        ("<html>Bad gateway</html>", "not JSON"),
        ("{\"object\": \"list\"}", "not a chat completion"),
        ("{\"choices\": []}", "`choices` is empty"),
        (
            "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": null}}]}",
            "choices[0].message.content is missing",
        ),
    ] {
        let server = FakeOpenAi::start().await;
        server.script([Reply::Malformed(body.into())]);
        let error = doctor(endpoint(&server))
            .chat(Role::Doctor, "e1", &ask("hello"))
            .await
            .expect_err(body);
        assert!(matches!(error, LlmError::Malformed { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(problem), "{message}");
        assert!(
            message.contains(&body[..8]),
            "the error quotes the body: {message}"
        );
        assert_eq!(server.requests().len(), 1, "not retried: {body}");
    }
}

#[tokio::test]
async fn a_rejected_key_names_its_variable() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::Unauthorized]);
    let clients = LlmClients::with_env(
        &config(
            EndpointConfig {
                api_key_env: Some("DXSIM_TEST_KEY".into()),
                ..endpoint(&server)
            },
            &[Role::Judge],
        ),
        None,
        &|_| Some("sk-wrong".to_string()),
    )
    .expect("clients");
    let error = clients
        .chat(Role::Judge, "e1", &ask("score this"))
        .await
        .expect_err("401");
    assert!(
        matches!(error, LlmError::BadKey { status: 401, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("DXSIM_TEST_KEY"), "{message}");
    assert_eq!(server.requests().len(), 1, "a bad key is not retried");
    assert_eq!(
        server.requests()[0].authorization.as_deref(),
        Some("Bearer sk-wrong")
    );
}

#[tokio::test]
async fn an_unset_key_variable_is_named_before_any_call() {
    let server = FakeOpenAi::start().await;
    let error = LlmClients::new(
        &config(
            EndpointConfig {
                api_key_env: Some("DXSIM_TEST_KEY_THAT_IS_NEVER_SET".into()),
                ..endpoint(&server)
            },
            &[Role::Doctor],
        ),
        None,
    )
    .expect_err("the variable is not set");
    assert!(matches!(error, LlmError::MissingApiKey { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("DXSIM_TEST_KEY_THAT_IS_NEVER_SET") && message.contains("`main`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_model_is_named() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::ModelNotFound]);
    let error = doctor(endpoint(&server))
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect_err("404 model not found");
    match &error {
        LlmError::ModelNotFound { model, .. } => assert_eq!(model, MODEL),
        other => panic!("expected a missing model, got {other}"),
    }
    assert!(
        error.to_string().contains("no model `fake-model`"),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_base_url_without_v1_is_a_clear_not_found() {
    let server = FakeOpenAi::start().await;
    let root = server.base_url().trim_end_matches("/v1").to_string();
    let error = doctor(EndpointConfig {
        base_url: root,
        ..endpoint(&server)
    })
    .chat(Role::Doctor, "e1", &ask("hello"))
    .await
    .expect_err("404");
    assert!(matches!(error, LlmError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("check base_url"), "{error}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_server_that_is_not_running_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let clients = doctor(EndpointConfig::new(
        format!("http://127.0.0.1:{port}/v1"),
        MODEL,
    ));
    let error = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, LlmError::Unreachable { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot reach http://127.0.0.1:{port}/v1/chat/completions (is the server running?)"
        )),
        "{message}"
    );
    let counts = clients.usage().totals();
    assert_eq!((counts.failed_calls, counts.retries), (1, 0));
}

#[tokio::test]
async fn a_role_without_an_endpoint_is_named() {
    let server = FakeOpenAi::start().await;
    let error = doctor(endpoint(&server))
        .chat(Role::Gatekeeper, "e1", &ask("hello"))
        .await
        .expect_err("no gatekeeper endpoint");
    assert!(
        matches!(
            error,
            LlmError::NoEndpoint {
                role: Role::Gatekeeper
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("gatekeeper"), "{error}");
}

#[tokio::test]
async fn identical_requests_hit_the_cache_and_changed_ones_miss() {
    let server = FakeOpenAi::start().await;
    let (_directory, path) = cache_file();
    let cache = LlmCache::open(&path).expect("cache");
    let clients = LlmClients::new(&config(endpoint(&server), &[Role::Patient]), Some(&cache))
        .expect("clients");

    let first = clients
        .chat(Role::Patient, "e1", &ask("any allergies"))
        .await
        .expect("reply");
    let second = clients
        .chat(Role::Patient, "e1", &ask("any allergies"))
        .await
        .expect("cached reply");
    assert!(!first.cached && second.cached);
    assert_eq!(
        (&second.content, second.usage),
        (&first.content, first.usage)
    );
    assert_eq!(server.requests().len(), 1, "the second call is free");

    let warmer = ChatRequest {
        temperature: Some(0.9),
        ..ask("any allergies")
    };
    assert!(
        !clients
            .chat(Role::Patient, "e1", &warmer)
            .await
            .expect("reply")
            .cached
    );
    assert!(
        !clients
            .chat(Role::Patient, "e1", &ask("any allergies?"))
            .await
            .expect("reply")
            .cached
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(cache.len().await.expect("count"), 3);

    let counts = clients.usage().snapshot_for("e1").roles[&Role::Patient];
    assert_eq!((counts.calls, counts.cached_calls), (3, 1));
    assert_eq!(
        counts.prompt_tokens,
        3 * first.usage.prompt_tokens,
        "the cached call adds no tokens"
    );
}

#[tokio::test]
async fn the_cache_persists_across_reopening_its_file() {
    let server = FakeOpenAi::start().await;
    let (_directory, path) = cache_file();
    let run = || async {
        let cache = LlmCache::open(&path).expect("cache");
        let clients = LlmClients::new(&config(endpoint(&server), &[Role::Judge]), Some(&cache))
            .expect("clients");
        clients
            .chat(Role::Judge, "e1", &ask("score: pneumonia"))
            .await
            .expect("reply")
    };
    let first = run().await;
    let again = run().await;
    assert!(!first.cached && again.cached);
    assert_eq!(again.content, first.content);
    assert_eq!(server.requests().len(), 1, "the re-run is free");
}

#[tokio::test]
async fn a_failed_call_is_not_cached() {
    let server = FakeOpenAi::start().await;
    server.script([Reply::Malformed("oops".into())]);
    let (_directory, path) = cache_file();
    let cache = LlmCache::open(&path).expect("cache");
    let clients = LlmClients::new(&config(endpoint(&server), &[Role::Doctor]), Some(&cache))
        .expect("clients");
    clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect_err("malformed");
    assert!(cache.is_empty().await.expect("count"));
    let reply = clients
        .chat(Role::Doctor, "e1", &ask("hello"))
        .await
        .expect("reply");
    assert!(!reply.cached);
}

#[tokio::test]
async fn usage_is_accounted_per_episode_and_role() {
    let server = FakeOpenAi::start().await;
    let clients = LlmClients::new(
        &config(
            endpoint(&server),
            &[Role::Doctor, Role::Patient, Role::Judge],
        ),
        None,
    )
    .expect("clients");
    // The fake counts words: the system prompt is 4, so "a b" costs 6 prompt and 3 reply tokens.
    for (episode, role, text) in [
        ("e1", Role::Doctor, "a b"),
        ("e1", Role::Doctor, "a b c"),
        ("e1", Role::Patient, "a"),
        ("e2", Role::Doctor, "a b"),
        ("e2", Role::Judge, "a b c d"),
    ] {
        clients
            .chat(role, episode, &ask(text))
            .await
            .expect("reply");
    }
    let counts = |calls, prompt_tokens, completion_tokens| UsageCounts {
        calls,
        prompt_tokens,
        completion_tokens,
        ..UsageCounts::default()
    };
    let e1 = clients.usage().snapshot_for("e1");
    assert_eq!(e1.roles[&Role::Doctor], counts(2, 13, 7));
    assert_eq!(e1.roles[&Role::Patient], counts(1, 5, 2));
    assert_eq!(e1.roles.len(), 2);
    assert_eq!(e1.total, counts(3, 18, 9));
    let e2 = clients.usage().snapshot_for("e2");
    assert_eq!(e2.roles[&Role::Judge], counts(1, 8, 5));
    assert_eq!(e2.total, counts(2, 14, 8));
    assert_eq!(clients.usage().totals(), counts(5, 32, 17));
    assert_eq!(
        clients.usage().totals_by_role()[&Role::Doctor],
        counts(3, 19, 10)
    );
    let json = serde_json::to_value(&e1).expect("serializes");
    assert_eq!(json["roles"]["doctor"]["prompt_tokens"], 13);
}

#[tokio::test]
async fn each_role_reaches_its_own_endpoint() {
    let a = FakeOpenAi::start().await;
    let b = FakeOpenAi::start().await;
    let config = LlmConfig {
        endpoints: [
            ("a".to_string(), endpoint(&a)),
            (
                "b".to_string(),
                EndpointConfig {
                    model: "other-model".into(),
                    ..endpoint(&b)
                },
            ),
        ]
        .into(),
        roles: [
            (Role::Doctor, "a".to_string()),
            (Role::Gatekeeper, "a".to_string()),
            (Role::Patient, "b".to_string()),
        ]
        .into(),
        jury: Vec::new(),
    };
    let clients = LlmClients::new(&config, None).expect("clients");
    for (role, text) in [
        (Role::Doctor, "doctor asks"),
        (Role::Patient, "patient answers"),
        (Role::Gatekeeper, "gatekeeper reveals"),
        (Role::Patient, "patient answers again"),
    ] {
        let reply = clients.chat(role, "e1", &ask(text)).await.expect("reply");
        assert_eq!(reply.content, format!("echo: {text}"));
    }
    let seen = |server: &FakeOpenAi| {
        server
            .requests()
            .iter()
            .map(|request| {
                (
                    request.body["model"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    request.last_message().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let pair = |model: &str, text: &str| (model.to_string(), text.to_string());
    assert_eq!(
        seen(&a),
        [
            pair(MODEL, "doctor asks"),
            pair(MODEL, "gatekeeper reveals")
        ]
    );
    assert_eq!(
        seen(&b),
        [
            pair("other-model", "patient answers"),
            pair("other-model", "patient answers again")
        ]
    );
    let client = |role| clients.client_for(role).expect("configured");
    assert_eq!(client(Role::Patient).name(), "b");
    assert!(
        std::ptr::eq(client(Role::Doctor), client(Role::Gatekeeper)),
        "roles on one endpoint share its client"
    );
    assert!(clients.client_for(Role::Judge).is_none());
}

#[tokio::test]
async fn the_concurrency_limit_holds() {
    let server = FakeOpenAi::with_delay(Duration::from_millis(250)).await;
    let clients = Arc::new(doctor(EndpointConfig {
        max_concurrency: 3,
        ..endpoint(&server)
    }));
    let mut calls = tokio::task::JoinSet::new();
    for call in 0..12 {
        let clients = Arc::clone(&clients);
        calls.spawn(async move {
            clients
                .chat(Role::Doctor, "e1", &ask(&format!("call {call}")))
                .await
        });
    }
    while let Some(result) = calls.join_next().await {
        result.expect("task").expect("reply");
    }
    assert_eq!(server.requests().len(), 12);
    assert_eq!(server.max_in_flight(), 3, "3 at a time, never more");
}

//! LLM client speed against the fake OpenAI-compatible server on loopback (the integration tests'
//! `tests/it/fake_openai.rs`, included here by path), in one process on one tokio runtime.
//!
//! - `llm_call/raw_reqwest`: one bare reqwest POST of the same body, reading the reply bytes — the
//!   floor: loopback HTTP plus the fake server's work.
//! - `llm_call/endpoint_client`: one `LlmClients::chat` without a cache (body building, the
//!   concurrency permit, the typed reply parse, usage accounting). Its time minus the floor is the
//!   client's overhead per call.
//! - `llm_call/cache_hit`: one call answered from the SQLite response cache.
//! - `llm_concurrent`: 256 concurrent calls against a server that takes 200 ms per reply, with a
//!   concurrency limit of 256; the ideal is one batch per 200 ms, 1,280 calls/s. The bench prints the
//!   achieved rate against the ideal.
//!
//! - `llm_episodes`: 256 LLM-doctor episodes of `dxsim eval` in flight at once (each four doctor turns
//!   against the same 200 ms server — each turn a short question to the rule-based patient — then
//!   truncated; records stored as in any run); the ideal is 256 episodes per 0.8 s, 320 episodes/s.
//!   The bench prints the achieved rate against the ideal.
//!
//! Run with `cargo bench --bench llm`.
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

#[path = "../tests/it/fake_openai.rs"]
#[allow(
    dead_code,
    reason = "the tests' fake server; the bench uses only its echo and slow replies"
)]
mod fake_openai;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dxsim::episode::EpisodeOptions;
use dxsim::eval::plan::CaseSelection;
use dxsim::eval::run::{Run, RunModels, RunSettings};
use dxsim::library::CaseLibrary;
use dxsim::llm::{ChatMessage, ChatRequest, EndpointConfig, LlmCache, LlmClients, LlmConfig, Role};
use fake_openai::{FakeOpenAi, Reply};

/// Concurrent calls in the throughput run.
const CONCURRENT: usize = 256;

/// The fake server's reply delay in the throughput run.
const DELAY: Duration = Duration::from_millis(200);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn clients(server: &FakeOpenAi, max_concurrency: usize, cache: Option<&LlmCache>) -> LlmClients {
    let config = LlmConfig {
        endpoints: [(
            "fake".to_string(),
            EndpointConfig {
                max_concurrency,
                max_retries: 0,
                timeout_secs: 30.0,
                ..EndpointConfig::new(server.base_url(), "fake-model")
            },
        )]
        .into(),
        roles: [(Role::Doctor, "fake".to_string())].into(),
        jury: Vec::new(),
    };
    LlmClients::new(&config, cache).expect("clients")
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        ChatMessage::system("You are a patient in a diagnostic interview. Answer briefly."),
        ChatMessage::user(text),
    ])
}

fn single_calls(c: &mut Criterion) {
    let runtime = runtime();
    let server = runtime.block_on(FakeOpenAi::start());
    let llm = clients(&server, 8, None);
    let ask = request("When did the chest pain start?");

    let raw = reqwest::Client::new();
    let url = format!("{}/chat/completions", server.base_url());
    let body = serde_json::json!({
        "model": "fake-model",
        "messages": ask.messages,
        "temperature": 0.0,
        "max_tokens": 1024,
        "stream": false,
    })
    .to_string();

    let directory = tempfile::tempdir().expect("temp dir");
    let cache = LlmCache::open(&directory.path().join("cache.sqlite")).expect("cache");
    let cached = clients(&server, 8, Some(&cache));
    runtime
        .block_on(cached.chat(Role::Doctor, "warm", &ask))
        .expect("fills the cache");

    let mut group = c.benchmark_group("llm_call");
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_reqwest", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = raw
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("reply");
                black_box(response.bytes().await.expect("body"))
            })
        });
    });
    group.bench_function("endpoint_client", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(llm.chat(Role::Doctor, "bench", &ask))
                    .expect("reply"),
            )
        });
    });
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            black_box(
                runtime
                    .block_on(cached.chat(Role::Doctor, "bench", &ask))
                    .expect("cached reply"),
            )
        });
    });
    group.finish();
}

/// One batch of [`CONCURRENT`] calls, all started at once; returns its wall time.
async fn batch(llm: &Arc<LlmClients>, round: u64) -> Duration {
    let start = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for call in 0..CONCURRENT {
        let llm = Arc::clone(llm);
        calls.spawn(async move {
            llm.chat(
                Role::Doctor,
                "bench",
                &request(&format!("round {round} call {call}")),
            )
            .await
        });
    }
    while let Some(result) = calls.join_next().await {
        black_box(result.expect("task").expect("reply"));
    }
    start.elapsed()
}

fn concurrent_calls(c: &mut Criterion) {
    let runtime = runtime();
    let server = runtime.block_on(FakeOpenAi::with_delay(DELAY));
    let llm = Arc::new(clients(&server, CONCURRENT, None));
    let mut batches = Vec::new();

    let mut group = c.benchmark_group("llm_concurrent");
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("256_calls_200ms_delay", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for round in 0..iterations {
                let took = runtime.block_on(batch(&llm, round));
                batches.push(took);
                total += took;
            }
            total
        });
    });
    group.finish();

    batches.sort();
    if let (Some(best), Some(median)) = (batches.first(), batches.get(batches.len() / 2)) {
        let ideal = CONCURRENT as f64 / DELAY.as_secs_f64();
        let rate = |batch: &Duration| CONCURRENT as f64 / batch.as_secs_f64();
        eprintln!(
            "llm_concurrent: {} batches of {CONCURRENT} calls with a {} ms reply delay: median \
             {:.1} ms = {:.0} calls/s ({:.1}% of the ideal {ideal:.0}/s); best {:.1} ms = {:.0} \
             calls/s ({:.1}%)",
            batches.len(),
            DELAY.as_millis(),
            median.as_secs_f64() * 1e3,
            rate(median),
            100.0 * rate(median) / ideal,
            best.as_secs_f64() * 1e3,
            rate(best),
            100.0 * rate(best) / ideal,
        );
    }
    if !batches.is_empty() {
        assert_eq!(
            server.max_in_flight(),
            CONCURRENT,
            "every call of a batch was in flight at once"
        );
    }
}

/// Doctor turns per episode in the episode run (the turn limit).
const EPISODE_TURNS: u32 = 4;

/// One `dxsim eval` run of [`CONCURRENT`] LLM-doctor episodes, all in flight at once; returns its
/// wall time.
fn episode_run(
    runtime: &tokio::runtime::Runtime,
    server: &FakeOpenAi,
    llm: &Arc<LlmClients>,
) -> Duration {
    server.script((0..CONCURRENT * EPISODE_TURNS as usize).map(|_| {
        Reply::Slow("<question>When did it start, and has it changed?</question>".into())
    }));
    let library = CaseLibrary::builtin().expect("library");
    let cases: Vec<String> = library
        .cases()
        .iter()
        .take(CONCURRENT / 2)
        .map(|case| case.id.clone())
        .collect();
    let settings = RunSettings {
        agents: vec!["llm".parse().expect("agent")],
        cases: CaseSelection(cases.join(",")),
        biases: vec!["none".parse().expect("bias")],
        seeds: vec![0, 1],
        options: EpisodeOptions {
            turn_limit: EPISODE_TURNS,
            ..EpisodeOptions::default()
        },
        random_patience: 10,
        shard: None,
        concurrency: CONCURRENT,
        agent_timeout: Duration::from_secs(60),
        llm: Some(RunModels {
            clients: Arc::clone(llm),
            roles: BTreeMap::new(),
        }),
        llm_judge: false,
        jury: false,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let run = Run::prepare(dir.path(), settings, library, false).expect("run prepares");
    assert_eq!(run.planned(), CONCURRENT);
    let start = Instant::now();
    let (outcome, store) = runtime
        .block_on(run.play(Arc::new(AtomicBool::new(false)), |_| ()))
        .expect("run plays");
    let took = start.elapsed();
    // Closing the store (its final WAL checkpoint) is a once-per-run cost, outside the episodes' rate.
    drop(store);
    assert_eq!((outcome.played, outcome.errors), (CONCURRENT, 0));
    took
}

fn concurrent_episodes(c: &mut Criterion) {
    let runtime = runtime();
    let server = runtime.block_on(FakeOpenAi::with_delay(DELAY));
    let llm = Arc::new(clients(&server, CONCURRENT, None));
    // The judge and the patient's tables are built on first use; keep that out of the timings.
    episode_run(&runtime, &server, &llm);
    let mut runs = Vec::new();
    let mut group = c.benchmark_group("llm_episodes");
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("256_episodes_4_turns_200ms_delay", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let took = episode_run(&runtime, &server, &llm);
                runs.push(took);
                total += took;
            }
            total
        });
    });
    group.finish();
    runs.sort();
    if let Some(median) = runs.get(runs.len() / 2) {
        let ideal = CONCURRENT as f64 / (f64::from(EPISODE_TURNS) * DELAY.as_secs_f64());
        let rate = CONCURRENT as f64 / median.as_secs_f64();
        eprintln!(
            "llm_episodes: {} runs of {CONCURRENT} episodes x {EPISODE_TURNS} doctor turns with a {} ms \
             reply delay: median {:.0} ms = {rate:.0} episodes/s ({:.1}% of the ideal {ideal:.0}/s)",
            runs.len(),
            DELAY.as_millis(),
            median.as_secs_f64() * 1e3,
            100.0 * rate / ideal,
        );
    }
}

criterion_group!(benches, single_calls, concurrent_calls, concurrent_episodes);
criterion_main!(benches);

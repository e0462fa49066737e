//! `dxsim loadtest`: drives a running `dxsim serve` on this machine and reports throughput and
//! latency percentiles. Bounded in time and requests, and refuses any address but loopback.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use reqwest::Client;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Outcome, UserError};

/// What to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LoadMode {
    /// One text-mode step per request (`POST /v1/episodes/{id}/step`), one episode per connection.
    Single,
    /// Many text-mode episodes per request (`POST /v1/episodes/step`).
    Batch,
    /// Discrete vector environments (`POST /v1/vector-envs/{id}/step`).
    Vector,
}

/// Arguments of `dxsim loadtest`.
#[derive(Debug, Args)]
pub(crate) struct LoadtestArgs {
    /// The server's base URL (loopback only), e.g. http://127.0.0.1:8737.
    #[arg(long)]
    url: String,
    /// What to load.
    #[arg(long, value_enum, default_value = "single")]
    mode: LoadMode,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Episodes per request (batch and vector modes).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Seconds to run after the warm-up (at most 120).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of warm-up, not counted.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Stop after this many requests in all.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Bearer token (or DXSIM_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What one connection measured.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    steps: u64,
    errors: u64,
    first_error: Option<String>,
}

/// The report.
#[derive(Debug, Serialize)]
struct Report {
    mode: LoadMode,
    connections: usize,
    batch: usize,
    seconds: f64,
    requests: u64,
    steps: u64,
    errors: u64,
    requests_per_second: f64,
    steps_per_second: f64,
    latency_ms: Percentiles,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

/// The text actions a single-mode connection cycles through; the last ends the episode.
const SCRIPT: [&str; 8] = [
    "When did this start?",
    "REQUEST EXAM: cardiovascular",
    "<test>CBC</test>",
    "Do you take any medicines?",
    "REQUEST EXAM: respiratory",
    "<test>basic metabolic panel</test>",
    "Any allergies?",
    "DIAGNOSIS READY: viral illness",
];

/// A connection's view of the run.
struct Connection {
    client: Client,
    url: String,
    token: Option<String>,
}

impl Connection {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// Closes an episode or vector env; failures only leave it to expire.
    async fn delete(&self, path: &str) {
        let mut request = self.client.delete(format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let _ = request.send().await;
    }

    async fn create(&self, seed: u64) -> anyhow::Result<String> {
        let (status, body) = self.post("/v1/episodes", &json!({ "seed": seed })).await?;
        let value: Value = serde_json::from_slice(&body)?;
        if status != 201 {
            bail!("creating an episode failed with {status}: {value}");
        }
        value["episode_id"]
            .as_str()
            .map(str::to_string)
            .context("no episode_id in the answer")
    }
}

/// Refuses anything but a loopback address.
fn check_loopback(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| UserError::new(format!("`{url}` is not a URL: {error}"), None))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(UserError::new(
            format!("the load test only targets this machine, not `{host}`"),
            Some("start `dxsim serve` locally and pass --url http://127.0.0.1:PORT".into()),
        )
        .into());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Runs `dxsim loadtest`.
pub(crate) fn run(args: &LoadtestArgs) -> anyhow::Result<Outcome> {
    let url = check_loopback(&args.url)?;
    if args.duration == 0 || args.duration > 120 {
        return Err(UserError::new("--duration must be 1 to 120 seconds", None).into());
    }
    if args.connections == 0 || args.connections > 1024 || args.batch == 0 {
        return Err(UserError::new(
            "--connections must be 1 to 1024 and --batch at least 1",
            None,
        )
        .into());
    }
    let token = args
        .token
        .clone()
        .or_else(|| std::env::var("DXSIM_TOKEN").ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(load(args, url, token))?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        writeln!(
            stdout,
            "{:?} mode, {} connections{}: {} requests in {:.1} s, {} errors",
            report.mode,
            report.connections,
            if report.mode == LoadMode::Single {
                String::new()
            } else {
                format!(", {} episodes per request", report.batch)
            },
            report.requests,
            report.seconds,
            report.errors
        )?;
        writeln!(
            stdout,
            "{:.0} requests/s, {:.0} steps/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            report.requests_per_second,
            report.steps_per_second,
            report.latency_ms.p50,
            report.latency_ms.p90,
            report.latency_ms.p99,
            report.latency_ms.max
        )?;
        if let Some(error) = &report.first_error {
            writeln!(stdout, "first error: {error}")?;
        }
    }
    Ok(if report.errors == 0 {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

async fn load(args: &LoadtestArgs, url: String, token: Option<String>) -> anyhow::Result<Report> {
    let client = Client::builder()
        .pool_max_idle_per_host(args.connections)
        .tcp_nodelay(true)
        .build()?;
    let connection = Arc::new(Connection { client, url, token });
    // Every connection sets up (episodes, vector envs) before the clock starts.
    let ready = Arc::new(tokio::sync::Barrier::new(args.connections));
    let window = (
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.duration),
    );
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(args.max_requests));
    let mut tasks = Vec::with_capacity(args.connections);
    for worker in 0..args.connections {
        let connection = Arc::clone(&connection);
        let budget = Arc::clone(&budget);
        let ready = Arc::clone(&ready);
        let (mode, batch) = (args.mode, args.batch);
        tasks.push(tokio::spawn(async move {
            worker_loop(
                &connection,
                (mode, batch, worker as u64),
                &ready,
                window,
                &budget,
            )
            .await
        }));
    }
    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.context("a load worker panicked")??;
        total.latencies_us.extend(tally.latencies_us);
        total.steps += tally.steps;
        total.errors += tally.errors;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    let seconds = args.duration as f64;
    let mut latencies = total.latencies_us;
    latencies.sort_unstable();
    let percentile = |fraction: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let index = ((latencies.len() as f64 - 1.0) * fraction).round() as usize;
        f64::from(latencies[index]) / 1000.0
    };
    let requests = latencies.len() as u64;
    Ok(Report {
        mode: args.mode,
        connections: args.connections,
        batch: args.batch,
        seconds,
        requests,
        steps: total.steps,
        errors: total.errors,
        requests_per_second: requests as f64 / seconds,
        steps_per_second: total.steps as f64 / seconds,
        latency_ms: Percentiles {
            p50: percentile(0.50),
            p90: percentile(0.90),
            p99: percentile(0.99),
            max: percentile(1.0),
        },
        first_error: total.first_error,
    })
}

/// The part of a vector step answer the load test reads.
#[derive(Deserialize)]
struct VectorAnswer {
    rewards: Vec<f64>,
}

/// One connection's loop: set up, then request until the time or the request budget runs out.
async fn worker_loop(
    connection: &Connection,
    (mode, batch, worker): (LoadMode, usize, u64),
    ready: &tokio::sync::Barrier,
    (warmup, duration): (Duration, Duration),
    budget: &std::sync::atomic::AtomicU64,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut episodes = Vec::new();
    let mut vector_id = String::new();
    let mut vector_actions = 0;
    match mode {
        LoadMode::Single => episodes.push(connection.create(worker).await?),
        LoadMode::Batch => {
            for index in 0..batch as u64 {
                episodes.push(connection.create(worker * 100_000 + index).await?);
            }
        }
        LoadMode::Vector => {
            let (status, body) = connection
                .post(
                    "/v1/vector-envs",
                    &json!({"count": batch, "seed": worker * 100_000}),
                )
                .await?;
            let value: Value = serde_json::from_slice(&body)?;
            if status != 201 {
                bail!("creating a vector env failed with {status}: {value}");
            }
            vector_id = value["vec_id"].as_str().unwrap_or_default().to_string();
            vector_actions = value["action_count"].as_u64().unwrap_or(1) as usize;
        }
    }
    ready.wait().await;
    let warmup_end = Instant::now() + warmup;
    let end = warmup_end + duration;
    let mut turn = 0usize;
    let mut state = worker.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    loop {
        let now = Instant::now();
        if now >= end
            || budget
                .fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |left| left.checked_sub(1),
                )
                .is_err()
        {
            for id in &episodes {
                connection.delete(&format!("/v1/episodes/{id}")).await;
            }
            if !vector_id.is_empty() {
                connection
                    .delete(&format!("/v1/vector-envs/{vector_id}"))
                    .await;
            }
            return Ok(tally);
        }
        let (path, body, steps) = match mode {
            LoadMode::Single => (
                format!("/v1/episodes/{}/step", episodes[0]),
                json!({"text": SCRIPT[turn % SCRIPT.len()]}),
                1,
            ),
            LoadMode::Batch => (
                "/v1/episodes/step".to_string(),
                json!({"steps": episodes.iter().map(|id| json!({"episode_id": id, "text": SCRIPT[turn % SCRIPT.len()]})).collect::<Vec<_>>()}),
                batch as u64,
            ),
            LoadMode::Vector => {
                let actions: Vec<usize> = (0..batch)
                    .map(|_| {
                        // xorshift: cheap, seeded per worker.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % vector_actions as u64) as usize
                    })
                    .collect();
                (
                    format!("/v1/vector-envs/{vector_id}/step"),
                    json!({ "actions": actions }),
                    batch as u64,
                )
            }
        };
        let started = Instant::now();
        let answer = connection.post(&path, &body).await;
        let elapsed = started.elapsed();
        let counted = started >= warmup_end;
        let ok = match &answer {
            Ok((200, body)) => match mode {
                LoadMode::Vector => serde_json::from_slice::<VectorAnswer>(body)
                    .map(|answer| answer.rewards.len() == batch)
                    .unwrap_or(false),
                _ => serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok(),
            },
            _ => false,
        };
        if counted {
            tally
                .latencies_us
                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
            if ok {
                tally.steps += steps;
            } else {
                tally.errors += 1;
                if tally.first_error.is_none() {
                    tally.first_error = Some(match answer {
                        Ok((status, body)) => {
                            format!("{status}: {}", String::from_utf8_lossy(&body))
                        }
                        Err(error) => error.to_string(),
                    });
                }
            }
        }
        turn += 1;
        if mode != LoadMode::Vector && turn % SCRIPT.len() == 0 {
            // The script ended every episode: start them again.
            for id in &episodes {
                let (status, body) = connection
                    .post(&format!("/v1/episodes/{id}/reset"), &json!({}))
                    .await?;
                if status != 200 {
                    bail!(
                        "resetting an episode failed with {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
        }
    }
}

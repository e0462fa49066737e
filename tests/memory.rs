//! The server's live heap, counted by a wrapper around the system allocator: steps and closed
//! episodes must not leave memory behind (issue: hardening, item 7). A separate test binary, so
//! that the counting allocator sees only this test.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// The text actions each episode plays; the last ends it with a verdict.
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

/// What one round saw.
struct Round {
    /// Steps answered.
    steps: usize,
    /// The live heap after the last step, before the episodes were closed.
    heap_while_open: usize,
}

/// Plays `episodes` fresh episodes through the whole script (all concurrently), then closes them.
async fn round(client: &Client, url: &str, episodes: u64, first_seed: u64) -> Round {
    let mut ids = Vec::new();
    for seed in first_seed..first_seed + episodes {
        let response = client
            .post(format!("{url}/v1/episodes"))
            .json(&json!({"seed": seed}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("a JSON body");
        ids.push(body["episode_id"].as_str().expect("an id").to_string());
    }
    let mut steps = 0;
    for text in SCRIPT {
        let mut replies = tokio::task::JoinSet::new();
        for id in &ids {
            let request = client
                .post(format!("{url}/v1/episodes/{id}/step"))
                .json(&json!({"text": text}));
            replies.spawn(async move {
                let reply = request.send().await.expect("the server answers");
                let status = reply.status();
                let body = reply.bytes().await.expect("a body");
                assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            });
        }
        while let Some(done) = replies.join_next().await {
            done.expect("a step task");
            steps += 1;
        }
    }
    let heap_while_open = dhat::HeapStats::get().curr_bytes;
    for id in &ids {
        let response = client
            .delete(format!("{url}/v1/episodes/{id}"))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    Round {
        steps,
        heap_while_open,
    }
}

/// Episodes open at once in a round.
const EPISODES: u64 = 64;

/// Rounds played before the heap is first read: connection buffers and memos reach their size.
const SETTLING_ROUNDS: usize = 6;

/// Rounds between the two readings.
const MEASURED_ROUNDS: usize = 10;

/// Growth allowed over the measured rounds (5,120 steps of 640 episodes): connection buffers and
/// hash tables grow in steps. An episode that left even 100 bytes behind would exceed it.
const ALLOWED_GROWTH_BYTES: u64 = 48 * 1024;

/// What the server may hold for one live episode after the script's eight steps (its engine
/// state, log and slot); 8.3 kB when this test was written.
const MAX_BYTES_PER_LIVE_EPISODE: usize = 16 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_episodes_return_the_servers_heap_to_its_level() {
    // The judge's terminology is built once per process; build it before counting.
    let reference = dxsim::judge::Reference {
        name: "Community-acquired pneumonia",
        icd10: "J18.9",
        synonyms: &[],
    };
    dxsim::judge::RuleJudge::shared().judge(reference, "pneumonia", None);
    // A few cases, so that the server's background learning of every case's discrete tables ends
    // before the counting starts.
    let builtin = dxsim::library::CaseLibrary::builtin().expect("the built-in library");
    let kept: Vec<String> = builtin
        .cases()
        .iter()
        .take(8)
        .map(|case| case.id.clone())
        .collect();
    let library: &'static dxsim::library::CaseLibrary =
        Box::leak(Box::new(builtin.filtered(|case| kept.contains(&case.id))));
    let directory = tempfile::tempdir().expect("a scratch directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let config = dxsim::server::ServerConfig {
        store: Some(directory.path().join("store.sqlite")),
        shards: 2,
        library: Some(library),
        ..Default::default()
    };
    let _profiler = dhat::Profiler::builder().testing().build();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dxsim::server::run(listener, config, async {
        let _ = stopped.await;
    }));
    let client = Client::new();
    // A vector env over every case waits until all their tables are learnt.
    let response = client
        .post(format!("{url}/v1/vector-envs"))
        .json(&json!({"count": 1, "seed": 1}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::CREATED);

    for _ in 0..SETTLING_ROUNDS {
        round(&client, &url, EPISODES, 0).await;
    }
    let settled = dhat::HeapStats::get().curr_bytes;
    let mut steps = 0;
    for _ in 0..MEASURED_ROUNDS {
        steps += round(&client, &url, EPISODES, 0).await.steps;
    }
    let after = dhat::HeapStats::get().curr_bytes;
    let last = round(&client, &url, EPISODES, 0).await;
    let per_episode = last
        .heap_while_open
        .saturating_sub(dhat::HeapStats::get().curr_bytes)
        / EPISODES as usize;
    eprintln!(
        "{per_episode} bytes per live episode after {} steps",
        SCRIPT.len()
    );
    dhat::assert!(
        per_episode <= MAX_BYTES_PER_LIVE_EPISODE,
        "a live episode holds {per_episode} bytes after {} steps",
        SCRIPT.len()
    );
    let growth = after.saturating_sub(settled) as u64;
    dhat::assert!(
        growth <= ALLOWED_GROWTH_BYTES,
        "the live heap grew by {growth} bytes over {steps} steps ({settled} → {after} bytes)"
    );
    let _ = stop.send(());
    server
        .await
        .expect("the server task")
        .expect("a clean stop");
}

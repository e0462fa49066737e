//! Batch evaluation speed: episodes per second for the oracle over the whole library (each episode
//! stored in SQLite and `episodes.jsonl`), and the cost per episode of the `cmd:` protocol — the
//! scripted Python agent of the tests (ask, order a CBC, diagnose; four messages an episode) run
//! through `dxsim eval`, against the same three actions played in process.
//!
//! Every iteration is a whole run in a fresh directory. Run with `cargo bench --bench eval` (the
//! `cmd:` benchmark needs `python3`).
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dxsim::action::Action;
use dxsim::episode::{CaseSelector, Env, EpisodeOptions};
use dxsim::eval::plan::{AgentSpec, CaseSelection};
use dxsim::eval::run::{Run, RunSettings};
use dxsim::library::CaseLibrary;

fn settings(agent: AgentSpec, cases: &str, concurrency: usize) -> RunSettings {
    RunSettings {
        agents: vec![agent],
        cases: CaseSelection(cases.into()),
        biases: vec!["none".parse().expect("none parses")],
        seeds: vec![0],
        options: EpisodeOptions::default(),
        random_patience: 10,
        shard: None,
        concurrency,
        agent_timeout: Duration::from_secs(60),
        llm: None,
        llm_judge: false,
        jury: false,
    }
}

/// Plays a whole run in a fresh directory; returns the episodes played.
fn run_once(runtime: &tokio::runtime::Runtime, settings: RunSettings) -> usize {
    let library = CaseLibrary::builtin().expect("library");
    let dir = tempfile::tempdir().expect("temp dir");
    let run = Run::prepare(dir.path(), settings, library, false).expect("run prepares");
    let (outcome, _) = runtime
        .block_on(run.play(Arc::new(AtomicBool::new(false)), |_| ()))
        .expect("run plays");
    assert_eq!(outcome.errors, 0);
    outcome.played
}

fn bench_eval(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let library = CaseLibrary::builtin().expect("library");
    let cases = library.cases().len() as u64;
    // The judge builds its tables on first use; keep that out of the timings.
    run_once(&runtime, settings(AgentSpec::Oracle, "all", 2));

    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(cases));
    group.bench_function("oracle_whole_library", |b| {
        b.iter(|| run_once(&runtime, settings(AgentSpec::Oracle, "all", 2)));
    });

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/agents/scripted_agent.py");
    let agent: AgentSpec = format!("cmd:python3 '{}' good", script.display())
        .parse()
        .expect("agent spec");
    group.bench_function("cmd_scripted_whole_library", |b| {
        b.iter(|| run_once(&runtime, settings(agent.clone(), "all", 1)));
    });
    group.bench_function("in_process_scripted_whole_library", |b| {
        let mut env = Env::new(library);
        b.iter(|| {
            for case in library.cases() {
                let options = EpisodeOptions {
                    case: CaseSelector {
                        id: Some(case.id.clone()),
                        ..CaseSelector::default()
                    },
                    ..EpisodeOptions::default()
                };
                env.reset(0, options).expect("reset");
                for action in [
                    Action::Ask {
                        text: "When did this start?".into(),
                    },
                    Action::Order {
                        tests: vec!["cbc".into()],
                    },
                    Action::Diagnose {
                        diagnosis: "viral infection".into(),
                        icd10: None,
                    },
                ] {
                    env.step(action).expect("step");
                }
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench_eval);
criterion_main!(benches);

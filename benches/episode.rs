//! Episode engine speed: text-mode steps per second for one `Env` and for a `VecEnv` of 1,024
//! episodes, discrete-mode steps per second for a `VecEnv` of 4,096, and the memory one live episode
//! holds.
//!
//! The text workload is the random doctor's mix (questions, examinations, orders of one to three
//! tests), drawn before the timed loop; the discrete workload is uniform over the ask, examine and
//! order blocks of the action table, stepped both through the text pipeline (`VecEnv::step_discrete`)
//! and through the fast path (`DiscreteVecEnv`). Episodes run to a 40-turn limit and reset automatically, as in
//! training. The bench runs on mimalloc, the `dxsim` binary's allocator; on the system allocator
//! (glibc) text steps are about a fifth slower. Run with `cargo bench --bench episode`.
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dxsim::action::Action;
use dxsim::agents::{Doctor, RandomDoctor};
use dxsim::episode::{
    AutoReset, DiscreteTable, DiscreteVecEnv, Env, EpisodeOptions, Observation, VecEnv,
};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::Catalogue;

/// The allocator the `dxsim` binary (and so the server) runs on; the figures are for it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Actions from the random doctor, never diagnosing (so episodes only end at the turn limit).
fn workload(count: usize, seed: u64) -> Vec<Action> {
    let mut doctor = RandomDoctor::new(Catalogue::builtin(), Vec::new(), u32::MAX, seed);
    let blank = Observation {
        text: String::new(),
        findings: Vec::new(),
        turn: 0,
    };
    (0..count).map(|_| doctor.act(&blank)).collect()
}

fn options() -> EpisodeOptions {
    EpisodeOptions {
        turn_limit: 40,
        ..EpisodeOptions::default()
    }
}

/// Resident memory of this process in bytes (Linux), for the per-episode figure.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn episode(c: &mut Criterion) {
    let library = CaseLibrary::builtin().expect("valid library");
    let actions = workload(4_096, 1);

    let mut env = Env::new(library);
    env.reset(1, options()).expect("reset");
    let mut next = 0;
    let mut seed = 1;
    let mut group = c.benchmark_group("env_text");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_episode", |b| {
        b.iter(|| {
            next = (next + 1) % actions.len();
            let step = env.step(actions[next].clone()).expect("step");
            if step.terminated || step.truncated {
                seed += 1;
                env.reset(seed, options()).expect("reset");
            }
            black_box(step)
        });
    });
    group.finish();

    let width = 1_024;
    let mut batch = VecEnv::new(library, width, AutoReset::NextStep);
    batch.reset(1, options()).expect("reset");
    let batches: Vec<Vec<Action>> = (0..16).map(|round| workload(width, round)).collect();
    let mut round = 0;
    let mut group = c.benchmark_group("vec_env_text");
    group.throughput(Throughput::Elements(width as u64));
    group.sample_size(20);
    group.bench_function("1024_episodes", |b| {
        b.iter(|| {
            round = (round + 1) % batches.len();
            black_box(batch.step(batches[round].clone()).expect("step"))
        });
    });
    group.finish();

    let table = DiscreteTable::new(Catalogue::builtin(), library);
    let width = 4_096;
    let mut batch = VecEnv::new(library, width, AutoReset::NextStep);
    batch.reset(1, options()).expect("reset");
    let playable = table.action_count() - library.cases().len();
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let rounds: Vec<Vec<usize>> = (0..16)
        .map(|_| {
            (0..width)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % playable as u64) as usize
                })
                .collect()
        })
        .collect();
    let mut round = 0;
    let mut group = c.benchmark_group("vec_env_discrete");
    group.throughput(Throughput::Elements(width as u64));
    group.sample_size(10);
    group.bench_function("4096_episodes", |b| {
        b.iter(|| {
            round = (round + 1) % rounds.len();
            black_box(batch.step_discrete(&table, &rounds[round]).expect("step"))
        });
    });
    group.finish();

    let mut fast = DiscreteVecEnv::new(library, table.clone(), options()).expect("fast env");
    fast.reset(1, width).expect("reset");
    let mut group = c.benchmark_group("discrete_fast");
    group.throughput(Throughput::Elements(width as u64));
    group.bench_function("4096_episodes", |b| {
        b.iter(|| {
            round = (round + 1) % rounds.len();
            black_box(fast.step(&rounds[round]).expect("step").rewards.len())
        });
    });
    group.finish();

    if let Some(before) = resident_bytes() {
        let count = 20_000;
        let mut many = VecEnv::new(library, count, AutoReset::NextStep);
        many.reset(1, options()).expect("reset");
        if let Some(after) = resident_bytes() {
            eprintln!(
                "memory: {} bytes per live episode (resident growth over {count} fresh episodes)",
                after.saturating_sub(before) / count as u64
            );
        }
        black_box(many.len());
    }
}

criterion_group!(benches, episode);
criterion_main!(benches);

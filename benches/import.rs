//! Importer speed: DDXPlus patients per second (streamed from CSV, built and validated) and
//! AgentClinic OSCE records per second, on the invented fixtures and generated DDXPlus-shaped rows.
//!
//! Run with `cargo bench --bench import`; criterion reports time per batch and, through its
//! throughput setting, records per second. Peak memory of a 100,000-patient import is measured
//! with the release binary (`/usr/bin/time -v dxsim cases import ddxplus DIR --check`); see the
//! `hundred_thousand_generated_patients_import_in_one_stream` test for generating the file.
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dxsim::import::agentclinic::{self, Form};
use dxsim::import::ddxplus::{self, DdxplusSource};
use dxsim::import::{CollectCases, CollectSink, ImportOptions};
use dxsim::library::CaseSource;

const ROWS: usize = 2_000;

fn import(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-ddxplus");
    std::fs::create_dir_all(&dir).expect("bench dir");
    for table in [ddxplus::EVIDENCES_FILE, ddxplus::CONDITIONS_FILE] {
        std::fs::copy(fixtures.join("ddxplus").join(table), dir.join(table)).expect("copy table");
    }
    ddxplus::write_synthetic_patients(&dir, "release_bench_patients.csv", ROWS, 7)
        .expect("generated rows");
    let options = ImportOptions::default();

    let mut group = c.benchmark_group("ddxplus_import");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.bench_function(format!("{ROWS}_patients"), |b| {
        b.iter(|| {
            let mut cases = CollectCases::default();
            let mut sink = CollectSink::default();
            ddxplus::import_dir(&dir, &[], &options, &mut cases, &mut sink).expect("imports")
        });
    });
    group.finish();

    let source = DdxplusSource::open(&dir, None).expect("indexes");
    let mut group = c.benchmark_group("ddxplus_source");
    group.throughput(Throughput::Elements(1));
    let mut index = 0;
    group.bench_function("case_from_csv_row", |b| {
        b.iter(|| {
            index = (index + 7) % ROWS;
            source.case_at(index)
        });
    });
    group.finish();

    let osce = fixtures.join("agentclinic_osce.jsonl");
    let records = std::fs::read_to_string(&osce)
        .expect("fixture")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count();
    let mut group = c.benchmark_group("agentclinic_import");
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("osce_fixture", |b| {
        b.iter(|| {
            let mut cases = CollectCases::default();
            let mut sink = CollectSink::default();
            agentclinic::import_file(&osce, Form::Auto, &options, &mut cases, &mut sink)
                .expect("imports")
        });
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);

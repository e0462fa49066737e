//! Request resolution and disclosure speed: how many order requests per second the gatekeeper handles.
//!
//! Run with `cargo bench --bench resolution`; criterion reports time per request and, through its
//! throughput setting, requests (or items) per second.
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::{Catalogue, DisclosureState, Gatekeeper, Resolver};
use std::hint::black_box;

const SINGLE: &[(&str, &str)] = &[
    ("exact", "cbc"),
    ("synonym", "full blood count"),
    ("abbreviation", "CXR"),
    ("fuzzy", "trponin"),
    ("unknown", "quantum flux assay"),
    ("vague", "bloods"),
];

const MULTI: &str = "Please order a CBC, U&E, LFTs, troponin and a chest x-ray; ECG and lipase";

fn resolution(c: &mut Criterion) {
    let catalogue = Catalogue::builtin();
    let resolver = Resolver::new(catalogue);
    let mut group = c.benchmark_group("resolve_single");
    group.throughput(Throughput::Elements(1));
    for (kind, request) in SINGLE {
        group.bench_with_input(BenchmarkId::from_parameter(kind), request, |b, request| {
            b.iter(|| resolver.resolve_order_request(black_box(request)));
        });
    }
    group.finish();

    let items = resolver.resolve_order_request(MULTI).len() as u64;
    let mut group = c.benchmark_group("resolve_multi");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("{items}_items"), |b| {
        b.iter(|| resolver.resolve_order_request(black_box(MULTI)));
    });
    group.finish();

    let library = CaseLibrary::builtin().expect("the built-in library is valid");
    let case = &library.cases()[0];
    let mut group = c.benchmark_group("gatekeeper_order");
    group.throughput(Throughput::Elements(1));
    group.bench_function("multi_item_with_disclosure", |b| {
        b.iter(|| {
            let gatekeeper = Gatekeeper::new(&resolver, case, 7);
            let mut state = DisclosureState::default();
            gatekeeper.order(black_box(MULTI), &mut state)
        });
    });
    group.finish();

    c.bench_function("resolver_build", |b| {
        b.iter(|| Resolver::new(black_box(catalogue)));
    });
}

criterion_group!(benches, resolution);
criterion_main!(benches);

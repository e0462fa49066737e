//! How long the terminal app takes per event: drawing the encounter screen, and ranking the whole
//! built-in catalogue against a typed query (the order picker does this on every keystroke).
//!
//! Run with `cargo bench -p dxsim-tui --bench screens`.
#![expect(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dxsim_gatekeeper::case::Flag;
use dxsim_gatekeeper::{Catalogue, Money};
use dxsim_tui::app::App;
use dxsim_tui::driver::{
    Entry, ExamSystem, Meter, PlayerAction, Presentation, Report, Turn, Value,
};
use dxsim_tui::ui::{self, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

/// An encounter of twenty turns: questions, examinations and a panel of results, all invented.
fn encounter() -> App {
    let mut turns = vec![Turn {
        action: None,
        entries: vec![Entry::Presentation(Presentation {
            patient: "34-year-old female".into(),
            setting: "general practice".into(),
            summary: "A week of cough and fever, and since yesterday breathless on the stairs."
                .into(),
        })],
        charged: Money::ZERO,
        meter: Meter::default(),
        ended: None,
    }];
    for turn in 1..=20u32 {
        let (action, entry) = match turn % 3 {
            0 => (
                PlayerAction::Ask {
                    text: format!("Question {turn}: any night sweats or weight loss?"),
                },
                Entry::Answer {
                    text:
                        "No night sweats, and my weight has been steady all year as far as I know."
                            .into(),
                },
            ),
            1 => (
                PlayerAction::Examine {
                    system: "respiratory".into(),
                },
                Entry::Exam {
                    system: "Respiratory".into(),
                    text: "Bronchial breathing and coarse crackles at the right base.".into(),
                    abnormal: true,
                },
            ),
            _ => (
                PlayerAction::Order {
                    tests: vec!["cbc".into()],
                },
                Entry::Report(Report {
                    test_id: "cbc".into(),
                    name: "Complete blood count".into(),
                    values: (0..8)
                        .map(|index| Value {
                            name: format!("Analyte {index}"),
                            text: "15.8".into(),
                            unit: "×10⁹/L".into(),
                            reference: "4.0–11.0".into(),
                            flag: if index % 2 == 0 {
                                Flag::High
                            } else {
                                Flag::Normal
                            },
                        })
                        .collect(),
                    text: None,
                    abnormal: true,
                    charged: Money(777),
                    note: None,
                }),
            ),
        };
        turns.push(Turn {
            action: Some(action),
            entries: vec![entry],
            charged: Money(777),
            meter: Meter {
                turn,
                turn_limit: 40,
                ..Meter::default()
            },
            ended: None,
        });
    }
    let systems = vec![ExamSystem {
        id: "respiratory".into(),
        name: "Respiratory".into(),
    }];
    let mut app = App::new(turns, systems, (80, 24));
    app.differential = "Pneumonia\nPulmonary embolism\nLung cancer".into();
    app
}

fn draw(c: &mut Criterion) {
    let app = encounter();
    let theme = Theme::new(true);
    let mut group = c.benchmark_group("draw_encounter");
    for (width, height) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{width}x{height}")),
            &app,
            |b, app| {
                b.iter(|| {
                    terminal
                        .draw(|frame| ui::render(black_box(app), &theme, frame))
                        .map(|_| ())
                        .expect("draws");
                });
            },
        );
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    let tests = Catalogue::builtin().tests();
    let mut group = c.benchmark_group("rank_catalogue");
    for query in ["t", "trop", "chest x", "trpn"] {
        group.bench_with_input(BenchmarkId::from_parameter(query), query, |b, query| {
            b.iter(|| {
                dxsim_tui::fuzzy::rank(tests, black_box(query), 50, |test| {
                    let mut names = vec![test.name.as_str(), test.id.as_str()];
                    names.extend(test.synonyms.iter().map(String::as_str));
                    names
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, draw, search);
criterion_main!(benches);

//! Every screen drawn into ratatui's `TestBackend` and compared with its snapshot (insta), at a
//! roomy size and at 80×24. The states come from the real runtime and a scripted driver; the logbook
//! is written with fixed times, so nothing in a snapshot depends on the clock.

use dxsim_tui::app::App;
use dxsim_tui::run::Runner;
use dxsim_tui::ui::{self, Theme};
use dxsim_tui::update::AppEvent;
use dxsim_tui::{Logbook, Start};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::fixture::FixtureDriver;
use crate::runner::{press, request, scratch_logbook, work_up};

fn draw(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    terminal
        .draw(|frame| ui::render(app, &Theme::new(false), frame))
        .expect("draws");
    terminal.backend().to_string()
}

/// Runs `script` on a fresh encounter at `size`, then draws it.
fn screen(name: &str, size: (u16, u16), script: impl FnOnce(&mut Runner<'_>, &mut App)) -> String {
    let path = scratch_logbook(&format!("snap-{name}"));
    let mut driver = FixtureDriver::new();
    let (mut runner, mut app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(request()),
        size,
    )
    .expect("starts");
    script(&mut runner, &mut app);
    draw(&app, size.0, size.1)
}

#[test]
fn encounter() {
    insta::assert_snapshot!(screen("encounter", (100, 32), work_up));
}

#[test]
fn encounter_at_80_by_24() {
    insta::assert_snapshot!(screen("narrow", (80, 24), work_up));
}

#[test]
fn encounter_with_a_budget_at_80_by_24() {
    let path = scratch_logbook("snap-budget");
    let mut driver = FixtureDriver::new();
    let mut capped = request();
    capped.budget = Some(dxsim_gatekeeper::Money(50_000));
    let (mut runner, mut app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(capped),
        (80, 24),
    )
    .expect("starts");
    work_up(&mut runner, &mut app);
    insta::assert_snapshot!(draw(&app, 80, 24));
}

#[test]
fn encounter_at_the_start() {
    insta::assert_snapshot!(screen("start", (80, 24), |_, _| {}));
}

#[test]
fn order_picker_with_a_selection() {
    insta::assert_snapshot!(screen("picker", (80, 24), |runner, app| {
        press(runner, app, "aAny cough?\n");
        press(runner, app, "oc\t");
    }));
}

#[test]
fn exam_picker() {
    insta::assert_snapshot!(screen("exam", (80, 24), |runner, app| press(
        runner, app, "er"
    )));
}

#[test]
fn help_overlay() {
    insta::assert_snapshot!(screen("help", (80, 24), |runner, app| press(
        runner, app, "?"
    )));
}

#[test]
fn confirm_diagnosis() {
    insta::assert_snapshot!(screen("confirm-diagnosis", (80, 24), |runner, app| {
        work_up(runner, app);
        press(runner, app, "dcommunity-acquired pneumonia\n");
    }));
}

#[test]
fn confirm_order_with_its_total() {
    insta::assert_snapshot!(screen("confirm-order", (80, 24), |runner, app| {
        press(runner, app, "ochest\t");
        runner.handle(
            app,
            AppEvent::Key(ratatui::crossterm::event::KeyEvent::new(
                ratatui::crossterm::event::KeyCode::Char('u'),
                ratatui::crossterm::event::KeyModifiers::CONTROL,
            )),
        );
        press(runner, app, "procal\t\n");
    }));
}

#[test]
fn confirm_quit() {
    insta::assert_snapshot!(screen("confirm-quit", (80, 24), |runner, app| press(
        runner, app, "q"
    )));
}

#[test]
fn debrief() {
    insta::assert_snapshot!(screen("debrief", (100, 48), |runner, app| {
        work_up(runner, app);
        press(runner, app, "oprocal\n\ny");
        press(runner, app, "dcommunity-acquired pneumonia\ny");
    }));
}

#[test]
fn debrief_at_80_by_24() {
    insta::assert_snapshot!(screen("debrief-narrow", (80, 24), |runner, app| {
        work_up(runner, app);
        press(runner, app, "dcommunity-acquired pneumonia\ny");
    }));
}

#[test]
fn debrief_scrolled_to_its_end_at_80_by_24() {
    insta::assert_snapshot!(screen("debrief-end", (80, 24), |runner, app| {
        work_up(runner, app);
        press(runner, app, "dcommunity-acquired pneumonia\ny");
        // Far more than the page holds: scrolling stops with the last lines in view.
        press(runner, app, &" ".repeat(30));
    }));
}

#[test]
fn logbook() {
    let path = scratch_logbook("snap-logbook");
    let logbook = Logbook::open(&path).expect("opens");
    let mut driver = FixtureDriver::new();
    for (seed, tests, diagnosis, finished) in [
        (1, vec!["cxr"], "pneumonia", 1_767_261_600), // 2026-01-01 10:00 UTC
        (2, vec!["cbc", "crp"], "bronchitis", 1_767_348_000), // 2026-01-02 10:00 UTC
        (3, vec!["crp"], "lobar pneumonia", 1_770_026_400), // 2026-02-02 10:00 UTC
    ] {
        use dxsim_tui::driver::{CaseRequest, EpisodeDriver, PlayerAction};
        driver
            .reset(&CaseRequest {
                seed,
                ..CaseRequest::default()
            })
            .expect("starts");
        driver
            .step(&PlayerAction::Order {
                tests: tests.into_iter().map(String::from).collect(),
            })
            .expect("orders");
        driver
            .step(&PlayerAction::Diagnose {
                diagnosis: diagnosis.into(),
            })
            .expect("diagnoses");
        logbook
            .record_at(&driver.debrief().expect("debriefs"), finished)
            .expect("records");
    }
    let (mut runner, mut app) =
        Runner::start(&mut driver, logbook, Start::New(request()), (80, 24)).expect("starts");
    press(&mut runner, &mut app, "l");
    insta::assert_snapshot!(draw(&app, 80, 24));
}

#[test]
fn a_terminal_too_small_says_so() {
    insta::assert_snapshot!(screen("small", (50, 12), work_up));
}

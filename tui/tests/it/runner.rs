//! The runtime with a scripted driver: a whole encounter into the logbook, quitting mid-case and
//! resuming, the next case, and the errors a user can meet before the terminal is taken over.

use std::path::PathBuf;

use dxsim_tui::app::{App, Screen};
use dxsim_tui::driver::{CaseRequest, EpisodeDriver};
use dxsim_tui::run::Runner;
use dxsim_tui::update::AppEvent;
use dxsim_tui::{Exit, Logbook, PlayError, Start};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::fixture::FixtureDriver;

/// A fresh logbook path in a folder of its own.
pub(crate) fn scratch_logbook(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dxsim-tui-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("logbook.sqlite")
}

pub(crate) fn request() -> CaseRequest {
    CaseRequest {
        case_id: Some("fixture-cough".into()),
        seed: 7,
        ..CaseRequest::default()
    }
}

/// Presses keys: a character per key, with `\n` for Enter, `\t` for Tab and `\x1b` for Esc.
pub(crate) fn press(runner: &mut Runner<'_>, app: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            other => KeyCode::Char(other),
        };
        runner.handle(app, AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }
}

/// Ask, examine, order CBC and CRP through the picker, and write a differential.
pub(crate) fn work_up(runner: &mut Runner<'_>, app: &mut App) {
    press(runner, app, "aHow long have you had the cough?\n");
    press(runner, app, "eresp\n");
    press(runner, app, "ocbc\t");
    // Clear the query (Ctrl-U) and find the second test.
    runner.handle(
        app,
        AppEvent::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    press(runner, app, "reactive\t\ny");
    press(runner, app, "nPneumonia\nPE less likely\x1b");
}

#[test]
fn a_finished_case_is_debriefed_and_recorded_in_the_logbook() {
    let path = scratch_logbook("finish");
    let mut driver = FixtureDriver::new();
    let logbook = Logbook::open(&path).expect("opens");
    let (mut runner, mut app) =
        Runner::start(&mut driver, logbook, Start::New(request()), (100, 30)).expect("starts");
    work_up(&mut runner, &mut app);
    assert_eq!(app.meter.test_count, 2);
    assert_eq!(app.meter.total.to_string(), "$313.00");
    press(&mut runner, &mut app, "dRight lower lobe pneumonia\ny");
    assert_eq!(app.screen, Screen::Debrief);
    let debrief = app.debrief.as_ref().expect("debriefed");
    assert!(
        debrief
            .verdict
            .as_ref()
            .is_some_and(|verdict| verdict.correct)
    );
    press(&mut runner, &mut app, "q");
    assert!(app.quit);
    assert_eq!(runner.exit(), &Exit::Finished);

    let view = Logbook::open(&path)
        .expect("reopens")
        .view()
        .expect("reads");
    assert_eq!(view.records.len(), 1);
    assert_eq!(view.records[0].total.to_string(), "$313.00");
    assert!(view.records[0].correct);
}

#[test]
fn quitting_mid_case_saves_it_and_resume_picks_it_up_with_the_notes() {
    let path = scratch_logbook("resume");
    let mut driver = FixtureDriver::new();
    let (mut runner, mut app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(request()),
        (100, 30),
    )
    .expect("starts");
    work_up(&mut runner, &mut app);
    press(&mut runner, &mut app, "q");
    assert!(!app.quit, "quitting mid-case asks first");
    press(&mut runner, &mut app, "y");
    assert!(app.quit);
    let Exit::Suspended(saved) = runner.exit().clone() else {
        panic!("the case was saved: {:?}", runner.exit());
    };
    assert!(saved.exists());
    let turns_before = app.turns.clone();

    // A new case meanwhile is told that one is saved.
    let mut driver = FixtureDriver::new();
    let (_, app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(request()),
        (100, 30),
    )
    .expect("starts");
    assert!(
        app.status
            .as_ref()
            .is_some_and(|status| status.text.contains("dxsim play --resume")),
        "{:?}",
        app.status
    );

    let mut driver = FixtureDriver::new();
    let (mut runner, mut app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::Resume { next: request() },
        (100, 30),
    )
    .expect("resumes");
    assert_eq!(app.turns, turns_before);
    assert_eq!(app.differential, "Pneumonia\nPE less likely");
    press(&mut runner, &mut app, "dpneumonia\ny");
    assert_eq!(app.screen, Screen::Debrief);
    assert!(
        !saved.exists(),
        "a finished case is no longer kept for resuming"
    );
}

#[test]
fn resume_with_nothing_saved_says_where_it_looked() {
    let path = scratch_logbook("nothing");
    let mut driver = FixtureDriver::new();
    let error = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::Resume { next: request() },
        (80, 24),
    )
    .err()
    .expect("nothing to resume");
    assert!(matches!(error, PlayError::NothingToResume(_)), "{error}");
    assert!(
        error.to_string().contains("suspended-episode.jsonl"),
        "{error}"
    );
}

#[test]
fn an_unknown_case_is_refused_before_the_app_starts() {
    let path = scratch_logbook("unknown");
    let mut driver = FixtureDriver::new();
    let mut bad = request();
    bad.case_id = Some("nope".into());
    let error = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(bad),
        (80, 24),
    )
    .err()
    .expect("refused");
    assert_eq!(error.to_string(), "no case with id `nope`");
}

#[test]
fn next_case_from_the_debrief_starts_over_with_the_next_seed() {
    let path = scratch_logbook("next");
    let mut driver = FixtureDriver::new();
    let (mut runner, mut app) = Runner::start(
        &mut driver,
        Logbook::open(&path).expect("opens"),
        Start::New(request()),
        (100, 30),
    )
    .expect("starts");
    press(&mut runner, &mut app, "dviral bronchitis\ny");
    assert!(app.debrief.as_ref().is_some_and(|debrief| {
        debrief
            .verdict
            .as_ref()
            .is_some_and(|verdict| !verdict.correct)
    }));
    press(&mut runner, &mut app, "n");
    assert_eq!(app.screen, Screen::Encounter);
    assert!(app.in_progress());
    assert_eq!(app.turns.len(), 1);
    press(&mut runner, &mut app, "dpneumonia\ny");
    assert_eq!(app.debrief.as_ref().map(|debrief| debrief.seed), Some(8));
    drop(runner);
    assert_eq!(driver.transcript().len(), 2);
    let view = Logbook::open(&path)
        .expect("reopens")
        .view()
        .expect("reads");
    assert_eq!(view.records.len(), 2, "both cases are in the logbook");
}

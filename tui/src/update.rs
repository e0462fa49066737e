//! Events in, state changed, work requested: [`update`] is the app's only writer.
//!
//! Keys, mouse wheels and resizes come from the terminal; replies come back from the driver as events
//! too, so `update` never calls the driver itself. What it wants done — step the episode, search the
//! catalogue, fetch the debrief, save and quit — it returns as an [`Effect`] for the runtime to carry
//! out, which keeps this module testable without an engine or a terminal.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::{App, Confirm, ExamPicker, OrderPicker, Overlay, Pane, PromptKind, Screen};
use crate::driver::{CatalogueEntry, Debrief, DriverError, PlayerAction, Turn};
use crate::logbook::LogbookView;

/// How many results the order picker asks for.
pub const PICKER_RESULTS: usize = 50;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse wheel turned up over a cell.
    ScrollUp {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
    /// The mouse wheel turned down over a cell.
    ScrollDown {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
    /// The terminal was resized.
    Resize(u16, u16),
    /// The driver answered a step.
    Stepped(Result<Turn, DriverError>),
    /// The catalogue's matches for the picker's query.
    Found(Vec<CatalogueEntry>),
    /// The debrief arrived (or could not be made).
    Debriefed(Result<Box<Debrief>, String>),
    /// The logbook was read (or could not be).
    LogbookLoaded(Result<LogbookView, String>),
    /// A new episode started (or could not).
    Started(Result<Turn, DriverError>),
    /// Saving the episode failed; the app stays open.
    SaveFailed(String),
}

/// Work the runtime does for the app, feeding the result back as an [`AppEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Take this action.
    Step(PlayerAction),
    /// Search the catalogue for the picker.
    Search(String),
    /// Fetch the debrief (and record the case in the logbook).
    Debrief,
    /// Read the logbook.
    Logbook,
    /// Start another case with the same filters and the next seed.
    NewCase,
    /// Save the episode for `--resume`, then quit.
    SaveAndQuit,
    /// Quit.
    Quit,
}

/// Applies one event to the state; returns the work it needs done, if any.
pub fn update(app: &mut App, event: AppEvent) -> Option<Effect> {
    match event {
        AppEvent::Key(key) if key.kind != KeyEventKind::Release => on_key(app, normalise(key)),
        AppEvent::Key(_) => None,
        AppEvent::ScrollUp { column, row } => {
            scroll(app, column, row, true);
            None
        }
        AppEvent::ScrollDown { column, row } => {
            scroll(app, column, row, false);
            None
        }
        AppEvent::Resize(columns, rows) => {
            app.size = (columns, rows);
            None
        }
        AppEvent::Stepped(result) => on_step(app, result),
        AppEvent::Found(results) => {
            for entry in &results {
                app.test_names.insert(entry.id.clone(), entry.name.clone());
            }
            if let Some(Overlay::Order(picker)) = &mut app.overlay {
                picker.results = results;
                picker.cursor = picker.cursor.min(picker.results.len().saturating_sub(1));
            }
            None
        }
        AppEvent::Debriefed(Ok(debrief)) => {
            app.debrief = Some(*debrief);
            app.screen = Screen::Debrief;
            app.page_scroll = 0;
            None
        }
        AppEvent::Debriefed(Err(message)) => {
            app.complain(message);
            None
        }
        AppEvent::LogbookLoaded(Ok(view)) => {
            app.logbook = Some(view);
            if app.screen != Screen::Logbook {
                app.previous = app.screen;
            }
            app.screen = Screen::Logbook;
            app.page_scroll = 0;
            None
        }
        AppEvent::LogbookLoaded(Err(message)) | AppEvent::SaveFailed(message) => {
            app.complain(message);
            None
        }
        AppEvent::Started(Ok(turn)) => {
            let systems = std::mem::take(&mut app.exam_systems);
            let names = std::mem::take(&mut app.test_names);
            let logbook = app.logbook.take();
            *app = App::new(vec![turn], systems, app.size);
            app.test_names = names;
            app.logbook = logbook;
            None
        }
        AppEvent::Started(Err(error)) => {
            app.complain(error.to_string());
            None
        }
    }
}

fn on_step(app: &mut App, result: Result<Turn, DriverError>) -> Option<Effect> {
    match result {
        Ok(turn) => {
            app.meter = turn.meter;
            app.ended = turn.ended;
            app.status = None;
            app.conversation_scroll = 0;
            app.findings_scroll = 0;
            let ended = turn.ended.is_some();
            app.turns.push(turn);
            ended.then_some(Effect::Debrief)
        }
        Err(error) => {
            app.complain(error.to_string());
            None
        }
    }
}

/// Ctrl-J is Enter: a terminal sends it for a newline typed before raw mode began.
fn normalise(key: KeyEvent) -> KeyEvent {
    if key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL) {
        KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
    } else {
        key
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    if let Some(overlay) = app.overlay.take() {
        return on_overlay_key(app, overlay, key);
    }
    let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
    if ctrl_c || key.code == KeyCode::Char('q') {
        return ask_to_quit(app);
    }
    if key.code == KeyCode::Char('?') {
        app.overlay = Some(Overlay::Help);
        return None;
    }
    match app.screen {
        Screen::Encounter => on_encounter_key(app, key),
        Screen::Debrief => on_page_key(app, key),
        Screen::Logbook => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Char('b') | KeyCode::Backspace
            ) {
                app.screen = app.previous;
                app.page_scroll = 0;
                return None;
            }
            on_page_key(app, key)
        }
    }
}

fn ask_to_quit(app: &mut App) -> Option<Effect> {
    if app.in_progress() {
        app.overlay = Some(Overlay::Confirm(Confirm::Quit));
        None
    } else {
        Some(Effect::Quit)
    }
}

fn on_encounter_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    let playing = app.in_progress();
    match key.code {
        KeyCode::Char('a') if playing => {
            app.overlay = Some(Overlay::Prompt {
                kind: PromptKind::Ask,
                text: String::new(),
            });
        }
        KeyCode::Char('e') if playing => {
            app.overlay = Some(Overlay::Examine(ExamPicker::default()));
        }
        KeyCode::Char('o') if playing => {
            app.overlay = Some(Overlay::Order(OrderPicker::default()));
            return Some(Effect::Search(String::new()));
        }
        KeyCode::Char('d') if playing => {
            app.overlay = Some(Overlay::Prompt {
                kind: PromptKind::Diagnose,
                text: String::new(),
            });
        }
        KeyCode::Char('a' | 'e' | 'o' | 'd') => {
            app.inform("the case is over; press r for the debrief");
        }
        KeyCode::Char('r') if !playing => {
            return if app.debrief.is_some() {
                app.screen = Screen::Debrief;
                None
            } else {
                Some(Effect::Debrief)
            };
        }
        KeyCode::Char('n') => app.overlay = Some(Overlay::Notes),
        KeyCode::Char('l') => return Some(Effect::Logbook),
        KeyCode::Tab | KeyCode::BackTab => {
            app.focus = match app.focus {
                Pane::Conversation => Pane::Findings,
                Pane::Findings => Pane::Conversation,
            };
        }
        KeyCode::Up | KeyCode::Char('k') => scroll_pane(app, app.focus, true, 1),
        KeyCode::Down | KeyCode::Char('j') => scroll_pane(app, app.focus, false, 1),
        KeyCode::PageUp => scroll_pane(app, app.focus, true, 10),
        KeyCode::PageDown => scroll_pane(app, app.focus, false, 10),
        KeyCode::Esc => app.status = None,
        _ => {}
    }
    None
}

/// Keys of the debrief and logbook pages.
fn on_page_key(app: &mut App, key: KeyEvent) -> Option<Effect> {
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => scroll_page(app, true, 1),
        KeyCode::Down | KeyCode::Char('j') => scroll_page(app, false, 1),
        KeyCode::PageUp => scroll_page(app, true, 10),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll_page(app, false, 10),
        KeyCode::Home | KeyCode::Char('g') => app.page_scroll = 0,
        KeyCode::Char('l') if app.screen == Screen::Debrief => return Some(Effect::Logbook),
        KeyCode::Char('c') if app.screen == Screen::Debrief => {
            app.screen = Screen::Encounter;
        }
        KeyCode::Char('n') if app.screen == Screen::Debrief => return Some(Effect::NewCase),
        _ => {}
    }
    None
}

fn on_overlay_key(app: &mut App, overlay: Overlay, key: KeyEvent) -> Option<Effect> {
    match overlay {
        Overlay::Help => {
            // Any key closes the help; it does nothing else.
            None
        }
        Overlay::Prompt { kind, text } => on_prompt_key(app, kind, text, key),
        Overlay::Examine(picker) => on_exam_key(app, picker, key),
        Overlay::Order(picker) => on_order_key(app, picker, key),
        Overlay::Confirm(confirm) => on_confirm_key(app, confirm, key),
        Overlay::Notes => {
            match key.code {
                KeyCode::Esc => return None,
                KeyCode::Enter => app.differential.push('\n'),
                KeyCode::Backspace => {
                    app.differential.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.differential.push(c);
                }
                _ => {}
            }
            app.overlay = Some(Overlay::Notes);
            None
        }
    }
}

/// Edits a one-line text field; returns whether the key was an edit.
fn edit_line(text: &mut String, key: KeyEvent) -> bool {
    match key.code {
        KeyCode::Backspace => {
            text.pop();
            true
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
            text.clear();
            true
        }
        KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
            text.push(c);
            true
        }
        _ => false,
    }
}

fn on_prompt_key(
    app: &mut App,
    kind: PromptKind,
    mut text: String,
    key: KeyEvent,
) -> Option<Effect> {
    match key.code {
        KeyCode::Esc => None,
        KeyCode::Enter if text.trim().is_empty() => {
            app.overlay = Some(Overlay::Prompt { kind, text });
            app.complain(match kind {
                PromptKind::Ask => "type a question first (Esc cancels)",
                PromptKind::Diagnose => "type a diagnosis first (Esc cancels)",
            });
            None
        }
        KeyCode::Enter => match kind {
            PromptKind::Ask => Some(Effect::Step(PlayerAction::Ask {
                text: text.trim().to_string(),
            })),
            PromptKind::Diagnose => {
                app.overlay = Some(Overlay::Confirm(Confirm::Diagnose(text.trim().to_string())));
                None
            }
        },
        _ => {
            edit_line(&mut text, key);
            app.overlay = Some(Overlay::Prompt { kind, text });
            None
        }
    }
}

fn on_exam_key(app: &mut App, mut picker: ExamPicker, key: KeyEvent) -> Option<Effect> {
    let count = app.matching_systems(&picker.query).len();
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Enter => {
            let chosen = app
                .matching_systems(&picker.query)
                .get(picker.cursor)
                .map(|system| system.id.clone());
            let system = match chosen {
                Some(id) => id,
                None if !picker.query.trim().is_empty() => picker.query.trim().to_string(),
                None => {
                    app.overlay = Some(Overlay::Examine(picker));
                    app.complain("nothing to examine: type a system");
                    return None;
                }
            };
            return Some(Effect::Step(PlayerAction::Examine { system }));
        }
        KeyCode::Up => picker.cursor = picker.cursor.saturating_sub(1),
        KeyCode::Down => picker.cursor = (picker.cursor + 1).min(count.saturating_sub(1)),
        _ => {
            if edit_line(&mut picker.query, key) {
                picker.cursor = 0;
            }
        }
    }
    app.overlay = Some(Overlay::Examine(picker));
    None
}

fn on_order_key(app: &mut App, mut picker: OrderPicker, key: KeyEvent) -> Option<Effect> {
    let mut effect = None;
    match key.code {
        KeyCode::Esc => return None,
        KeyCode::Up => picker.cursor = picker.cursor.saturating_sub(1),
        KeyCode::Down => {
            picker.cursor = (picker.cursor + 1).min(picker.results.len().saturating_sub(1));
        }
        KeyCode::Tab => {
            if let Some(entry) = picker.results.get(picker.cursor).cloned() {
                if picker.is_chosen(&entry.id) {
                    picker.chosen.retain(|chosen| chosen.id != entry.id);
                } else {
                    picker.chosen.push(entry);
                }
                picker.cursor = (picker.cursor + 1).min(picker.results.len().saturating_sub(1));
            }
        }
        KeyCode::Enter => {
            if picker.chosen.is_empty() {
                match picker.results.get(picker.cursor).cloned() {
                    Some(entry) => picker.chosen.push(entry),
                    None => {
                        app.overlay = Some(Overlay::Order(picker));
                        app.complain("no test matches; change the search");
                        return None;
                    }
                }
            }
            app.overlay = Some(Overlay::Confirm(Confirm::Order(picker)));
            return None;
        }
        _ => {
            if edit_line(&mut picker.query, key) {
                picker.cursor = 0;
                effect = Some(Effect::Search(picker.query.clone()));
            }
        }
    }
    app.overlay = Some(Overlay::Order(picker));
    effect
}

fn on_confirm_key(app: &mut App, confirm: Confirm, key: KeyEvent) -> Option<Effect> {
    let yes = matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter);
    let no = matches!(key.code, KeyCode::Char('n' | 'N') | KeyCode::Esc);
    match (confirm, yes, no) {
        (Confirm::Diagnose(diagnosis), true, _) => {
            Some(Effect::Step(PlayerAction::Diagnose { diagnosis }))
        }
        (Confirm::Order(picker), true, _) => Some(Effect::Step(PlayerAction::Order {
            tests: picker.chosen.iter().map(|entry| entry.id.clone()).collect(),
        })),
        (Confirm::Order(picker), _, true) => {
            app.overlay = Some(Overlay::Order(picker));
            None
        }
        (Confirm::Quit, true, _) => Some(Effect::SaveAndQuit),
        (Confirm::Diagnose(_) | Confirm::Quit, _, true) => None,
        (confirm, false, false) => {
            app.overlay = Some(Overlay::Confirm(confirm));
            None
        }
    }
}

fn scroll_pane(app: &mut App, pane: Pane, up: bool, lines: u16) {
    let limit = crate::ui::encounter::scroll_limit(app, pane);
    let offset = match pane {
        Pane::Conversation => &mut app.conversation_scroll,
        Pane::Findings => &mut app.findings_scroll,
    };
    *offset = if up {
        offset.saturating_add(lines).min(limit)
    } else {
        offset.saturating_sub(lines)
    };
}

/// Scrolls the debrief or the logbook, no further than its end.
fn scroll_page(app: &mut App, up: bool, lines: u16) {
    app.page_scroll = if up {
        app.page_scroll.saturating_sub(lines)
    } else {
        app.page_scroll
            .saturating_add(lines)
            .min(crate::ui::page_scroll_limit(app))
    };
}

fn scroll(app: &mut App, column: u16, row: u16, up: bool) {
    match (&mut app.overlay, app.screen) {
        (Some(Overlay::Order(picker)), _) => {
            picker.cursor = if up {
                picker.cursor.saturating_sub(1)
            } else {
                (picker.cursor + 1).min(picker.results.len().saturating_sub(1))
            };
        }
        (Some(_), _) => {}
        (None, Screen::Encounter) => {
            if let Some(pane) = crate::ui::encounter::pane_at(app, column, row) {
                scroll_pane(app, pane, up, 3);
            }
        }
        (None, Screen::Debrief | Screen::Logbook) => scroll_page(app, up, 3),
    }
}

#[cfg(test)]
mod tests {
    use dxsim_gatekeeper::Money;

    use super::*;
    use crate::driver::{Ending, Entry, ExamSystem, Meter, Presentation};

    fn presentation() -> Turn {
        Turn {
            action: None,
            entries: vec![Entry::Presentation(Presentation {
                patient: "34-year-old female".into(),
                setting: "general practice".into(),
                summary: "A week of cough and fever.".into(),
            })],
            charged: Money::ZERO,
            meter: Meter {
                turn_limit: 40,
                ..Meter::default()
            },
            ended: None,
        }
    }

    fn app() -> App {
        let systems = vec![
            ExamSystem {
                id: "cardiovascular".into(),
                name: "Cardiovascular".into(),
            },
            ExamSystem {
                id: "respiratory".into(),
                name: "Respiratory".into(),
            },
        ];
        App::new(vec![presentation()], systems, (100, 30))
    }

    fn key(code: KeyCode) -> AppEvent {
        AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
        text.chars()
            .filter_map(|c| update(app, key(KeyCode::Char(c))))
            .collect()
    }

    fn entry(id: &str, cents: u64) -> CatalogueEntry {
        CatalogueEntry {
            id: id.into(),
            name: id.to_uppercase(),
            category: "lab".into(),
            price: Money(cents),
        }
    }

    #[test]
    fn a_question_is_sent_trimmed_on_enter() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('a')));
        type_text(&mut app, " Any fever? ");
        let effect = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effect,
            Some(Effect::Step(PlayerAction::Ask {
                text: "Any fever?".into()
            }))
        );
        assert_eq!(app.overlay, None);
    }

    #[test]
    fn an_empty_question_is_refused_and_the_prompt_stays() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('a')));
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert!(matches!(app.overlay, Some(Overlay::Prompt { .. })));
        assert!(app.status.as_ref().is_some_and(|status| status.error));
    }

    #[test]
    fn escape_cancels_a_prompt_without_an_effect() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('a')));
        type_text(&mut app, "pain?");
        assert_eq!(update(&mut app, key(KeyCode::Esc)), None);
        assert_eq!(app.overlay, None);
    }

    #[test]
    fn ctrl_j_works_as_enter() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('a')));
        type_text(&mut app, "cough?");
        let effect = update(
            &mut app,
            AppEvent::Key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL)),
        );
        assert!(matches!(
            effect,
            Some(Effect::Step(PlayerAction::Ask { .. }))
        ));
    }

    #[test]
    fn a_diagnosis_is_sent_only_after_confirmation() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('d')));
        type_text(&mut app, "pneumonia");
        assert_eq!(update(&mut app, key(KeyCode::Enter)), None);
        assert_eq!(
            app.overlay,
            Some(Overlay::Confirm(Confirm::Diagnose("pneumonia".into())))
        );
        assert_eq!(update(&mut app, key(KeyCode::Char('n'))), None);
        assert_eq!(app.overlay, None);

        update(&mut app, key(KeyCode::Char('d')));
        type_text(&mut app, "pneumonia");
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Effect::Step(PlayerAction::Diagnose {
                diagnosis: "pneumonia".into()
            }))
        );
    }

    #[test]
    fn the_order_picker_searches_selects_several_and_confirms_with_the_total() {
        let mut app = app();
        assert_eq!(
            update(&mut app, key(KeyCode::Char('o'))),
            Some(Effect::Search(String::new()))
        );
        assert_eq!(
            type_text(&mut app, "cb").last(),
            Some(&Effect::Search("cb".into()))
        );
        update(
            &mut app,
            AppEvent::Found(vec![entry("cbc", 777), entry("crp", 523)]),
        );
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Enter));
        let Some(Overlay::Confirm(Confirm::Order(picker))) = &app.overlay else {
            panic!("the order is reviewed first: {:?}", app.overlay);
        };
        assert_eq!(picker.total(), Money(1300));
        // "No" goes back to the picker with the selection kept.
        update(&mut app, key(KeyCode::Char('n')));
        let Some(Overlay::Order(picker)) = &app.overlay else {
            panic!("back in the picker: {:?}", app.overlay);
        };
        assert_eq!(picker.chosen.len(), 2);
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Effect::Step(PlayerAction::Order {
                tests: vec!["cbc".into(), "crp".into()]
            }))
        );
    }

    #[test]
    fn tab_unselects_a_chosen_test() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('o')));
        update(&mut app, AppEvent::Found(vec![entry("cbc", 777)]));
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, key(KeyCode::Tab));
        let Some(Overlay::Order(picker)) = &app.overlay else {
            panic!("picker open");
        };
        assert!(picker.chosen.is_empty());
    }

    #[test]
    fn the_exam_picker_filters_and_examines_the_highlighted_system_or_the_typed_text() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('e')));
        type_text(&mut app, "resp");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Effect::Step(PlayerAction::Examine {
                system: "respiratory".into()
            }))
        );
        update(&mut app, key(KeyCode::Char('e')));
        type_text(&mut app, "gait");
        assert_eq!(
            update(&mut app, key(KeyCode::Enter)),
            Some(Effect::Step(PlayerAction::Examine {
                system: "gait".into()
            }))
        );
    }

    #[test]
    fn quitting_mid_case_asks_then_saves() {
        let mut app = app();
        assert_eq!(update(&mut app, key(KeyCode::Char('q'))), None);
        assert_eq!(app.overlay, Some(Overlay::Confirm(Confirm::Quit)));
        assert_eq!(update(&mut app, key(KeyCode::Esc)), None);
        assert!(!app.quit && app.overlay.is_none());
        update(&mut app, key(KeyCode::Char('q')));
        assert_eq!(
            update(&mut app, key(KeyCode::Char('y'))),
            Some(Effect::SaveAndQuit)
        );
    }

    #[test]
    fn the_last_turn_asks_for_the_debrief_and_quitting_then_needs_no_question() {
        let mut app = app();
        let mut last = presentation();
        last.action = Some(PlayerAction::Diagnose {
            diagnosis: "pneumonia".into(),
        });
        last.ended = Some(Ending::Diagnosed);
        last.meter.turn = 1;
        assert_eq!(
            update(&mut app, AppEvent::Stepped(Ok(last))),
            Some(Effect::Debrief)
        );
        assert!(!app.in_progress());
        assert_eq!(app.meter.turn, 1);
        assert_eq!(update(&mut app, key(KeyCode::Char('a'))), None);
        assert!(
            app.overlay.is_none(),
            "no more actions once the case is over"
        );
        assert_eq!(
            update(&mut app, key(KeyCode::Char('q'))),
            Some(Effect::Quit)
        );
    }

    #[test]
    fn a_refused_step_is_shown_and_changes_nothing_else() {
        let mut app = app();
        let before = app.turns.len();
        update(
            &mut app,
            AppEvent::Stepped(Err(DriverError::Refused("the ask action is empty".into()))),
        );
        assert_eq!(app.turns.len(), before);
        assert_eq!(
            app.status.as_ref().map(|status| status.text.as_str()),
            Some("the ask action is empty")
        );
    }

    #[test]
    fn help_opens_on_question_mark_and_any_key_closes_it() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('?')));
        assert_eq!(app.overlay, Some(Overlay::Help));
        assert_eq!(update(&mut app, key(KeyCode::Char('a'))), None);
        assert_eq!(app.overlay, None);
    }

    /// An app with more conversation and findings than the panes hold.
    fn long_app() -> App {
        let mut app = app();
        for turn in 1..=12 {
            let mut step = presentation();
            step.action = Some(PlayerAction::Ask {
                text: format!("question {turn}"),
            });
            step.entries = vec![Entry::Answer {
                text: "A long answer that wraps over several lines of the pane, again and again."
                    .into(),
            }];
            update(&mut app, AppEvent::Stepped(Ok(step)));
        }
        app
    }

    #[test]
    fn the_mouse_wheel_scrolls_the_pane_under_it() {
        let mut app = long_app();
        // At 100×30 the conversation is on the left and the findings on the right.
        update(
            &mut app,
            AppEvent::ScrollUp {
                column: 80,
                row: 12,
            },
        );
        assert_eq!((app.conversation_scroll, app.findings_scroll), (0, 3));
        update(
            &mut app,
            AppEvent::ScrollUp {
                column: 10,
                row: 12,
            },
        );
        assert_eq!((app.conversation_scroll, app.findings_scroll), (3, 3));
        update(
            &mut app,
            AppEvent::ScrollDown {
                column: 10,
                row: 12,
            },
        );
        assert_eq!(app.conversation_scroll, 0);
    }

    #[test]
    fn scrolling_stops_at_the_start_of_the_pane() {
        let mut app = long_app();
        for _ in 0..500 {
            update(&mut app, key(KeyCode::PageUp));
        }
        let top = app.conversation_scroll;
        assert!(top > 0 && top < 500, "{top}");
        // One step down moves at once: nothing was scrolled past the start.
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.conversation_scroll, top - 1);
        // A pane with less than a screenful does not scroll at all.
        let mut short = self::app();
        update(&mut short, key(KeyCode::PageUp));
        assert_eq!(short.conversation_scroll, 0);
    }

    #[test]
    fn a_resize_is_remembered_for_hit_testing() {
        let mut app = app();
        update(&mut app, AppEvent::Resize(80, 24));
        assert_eq!(app.size, (80, 24));
    }

    #[test]
    fn notes_are_edited_in_place_and_escape_ends_editing() {
        let mut app = app();
        update(&mut app, key(KeyCode::Char('n')));
        type_text(&mut app, "CAP");
        update(&mut app, key(KeyCode::Enter));
        type_text(&mut app, "PE?");
        update(&mut app, key(KeyCode::Backspace));
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.differential, "CAP\nPE");
        assert_eq!(app.overlay, None);
    }
}

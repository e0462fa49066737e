//! The app's state: what is on screen, what the student has typed, and the episode as far as the
//! student has seen it. [`crate::update`] is the only code that changes it; [`crate::ui`] only reads it.

use std::collections::BTreeMap;

use dxsim_gatekeeper::Money;

use crate::driver::{
    CatalogueEntry, Debrief, Ending, Entry, ExamSystem, Meter, PlayerAction, Presentation, Turn,
};
use crate::logbook::LogbookView;

/// The full-screen view under any overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The case being played.
    Encounter,
    /// The debrief after the episode ended.
    Debrief,
    /// The logbook of finished cases.
    Logbook,
}

/// The encounter panes that scroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The conversation, in order.
    Conversation,
    /// The findings, grouped.
    Findings,
}

/// What a free-text prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// A question for the patient.
    Ask,
    /// The final diagnosis (confirmed before it is sent).
    Diagnose,
}

/// The order picker: a query, the matching tests, the cursor and the tests chosen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPicker {
    /// What the student typed.
    pub query: String,
    /// The catalogue's matches for the query, best first.
    pub results: Vec<CatalogueEntry>,
    /// The highlighted result.
    pub cursor: usize,
    /// The tests chosen, in the order chosen.
    pub chosen: Vec<CatalogueEntry>,
}

impl OrderPicker {
    /// The catalogue price of the chosen tests.
    pub fn total(&self) -> Money {
        self.chosen.iter().map(|entry| entry.price).sum()
    }

    /// Whether a test is among the chosen.
    pub fn is_chosen(&self, id: &str) -> bool {
        self.chosen.iter().any(|entry| entry.id == id)
    }
}

/// The examination picker: a filter over the systems, or free text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExamPicker {
    /// What the student typed.
    pub query: String,
    /// The highlighted system among those matching.
    pub cursor: usize,
}

/// What a confirmation dialog asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Commit to this diagnosis (ends the case).
    Diagnose(String),
    /// Order the picker's chosen tests; "no" goes back to the picker.
    Order(OrderPicker),
    /// Leave mid-case; the episode is saved for `--resume`.
    Quit,
}

/// Something drawn over the screen that takes the keys while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The key reference.
    Help,
    /// A free-text line (ask, diagnose).
    Prompt {
        /// What it is for.
        kind: PromptKind,
        /// The text so far.
        text: String,
    },
    /// Choosing a system to examine.
    Examine(ExamPicker),
    /// Choosing tests to order.
    Order(OrderPicker),
    /// A yes/no question.
    Confirm(Confirm),
    /// Editing the scratch differential.
    Notes,
}

/// A one-line message under the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The message.
    pub text: String,
    /// Whether it reports a problem.
    pub error: bool,
}

/// The whole state of the app.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    /// The full-screen view.
    pub screen: Screen,
    /// What is drawn over it, if anything.
    pub overlay: Option<Overlay>,
    /// The screen this one was opened from, for the logbook's "back".
    pub previous: Screen,
    /// Every turn so far, the presentation first.
    pub turns: Vec<Turn>,
    /// Costs and turns after the last turn.
    pub meter: Meter,
    /// Set once the episode has ended.
    pub ended: Option<Ending>,
    /// The student's scratch differential (free text, never sent anywhere).
    pub differential: String,
    /// The pane that the arrow keys scroll.
    pub focus: Pane,
    /// Lines scrolled up from the end of the conversation (0 follows the newest).
    pub conversation_scroll: u16,
    /// Lines scrolled up from the end of the findings (0 follows the newest).
    pub findings_scroll: u16,
    /// Lines scrolled down from the top of the debrief or the logbook.
    pub page_scroll: u16,
    /// The last message.
    pub status: Option<Status>,
    /// The debrief, once fetched.
    pub debrief: Option<Debrief>,
    /// The logbook, once loaded.
    pub logbook: Option<LogbookView>,
    /// The systems the examination picker offers.
    pub exam_systems: Vec<ExamSystem>,
    /// Display names of the tests the catalogue search has shown, by id.
    pub test_names: BTreeMap<String, String>,
    /// The terminal's size (columns, rows), for mouse hit-testing.
    pub size: (u16, u16),
    /// Set when the app should exit.
    pub quit: bool,
}

impl App {
    /// A fresh app showing the turns of an episode (at least its presentation).
    pub fn new(turns: Vec<Turn>, exam_systems: Vec<ExamSystem>, size: (u16, u16)) -> App {
        let meter = turns.last().map(|turn| turn.meter).unwrap_or_default();
        let ended = turns.last().and_then(|turn| turn.ended);
        App {
            screen: Screen::Encounter,
            overlay: None,
            previous: Screen::Encounter,
            turns,
            meter,
            ended,
            differential: String::new(),
            focus: Pane::Conversation,
            conversation_scroll: 0,
            findings_scroll: 0,
            page_scroll: 0,
            status: None,
            debrief: None,
            logbook: None,
            exam_systems,
            test_names: BTreeMap::new(),
            size,
            quit: false,
        }
    }

    /// The presentation, from the first turn.
    pub fn presentation(&self) -> Option<&Presentation> {
        self.turns
            .iter()
            .flat_map(|turn| &turn.entries)
            .find_map(|entry| match entry {
                Entry::Presentation(presentation) => Some(presentation),
                _ => None,
            })
    }

    /// Whether the episode is still being played.
    pub fn in_progress(&self) -> bool {
        self.ended.is_none()
    }

    /// The systems whose id or name contains the picker's query (all of them for an empty query).
    pub fn matching_systems(&self, query: &str) -> Vec<&ExamSystem> {
        let query = query.trim().to_lowercase();
        self.exam_systems
            .iter()
            .filter(|system| {
                query.is_empty()
                    || system.name.to_lowercase().contains(&query)
                    || system.id.contains(&query)
            })
            .collect()
    }

    /// An action as one line, with tests and systems by their display names where known.
    pub fn describe(&self, action: &PlayerAction) -> String {
        match action {
            PlayerAction::Order { tests } => format!(
                "Order: {}",
                tests
                    .iter()
                    .map(|id| self.test_names.get(id).map_or(id.as_str(), String::as_str))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            PlayerAction::Examine { system } => format!(
                "Examine: {}",
                self.exam_systems
                    .iter()
                    .find(|known| &known.id == system)
                    .map_or(system.as_str(), |known| known.name.as_str())
            ),
            other => other.describe(),
        }
    }

    /// Sets an informational message.
    pub fn inform(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    /// Sets an error message.
    pub fn complain(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: true,
        });
    }
}

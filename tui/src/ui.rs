//! Drawing: [`render`] reads the [`App`] and draws the current screen and overlay, nothing more.
//!
//! A file per screen — [`encounter`], [`picker`] (orders and examinations), [`help`], [`confirm`],
//! [`debrief`], [`logbook`] — plus the helpers they share here: the colour theme, word wrapping, the
//! hint bar built from each screen's commands, and popup placement.

pub mod confirm;
pub mod debrief;
pub mod encounter;
pub mod help;
pub mod logbook;
pub mod picker;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::{App, Overlay, PromptKind, Screen};

/// The smallest terminal (columns, rows) the screens are laid out for.
pub const MIN_SIZE: (u16, u16) = (60, 16);

/// One command a screen offers: the key and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// The key as shown.
    pub key: &'static str,
    /// A word or two for the hint bar.
    pub label: &'static str,
    /// A sentence for the help overlay.
    pub help: &'static str,
}

const fn command(key: &'static str, label: &'static str, help: &'static str) -> Command {
    Command { key, label, help }
}

/// The encounter's commands while the case is being played.
pub const ENCOUNTER: &[Command] = &[
    command("a", "ask", "Ask the patient a question in your own words."),
    command(
        "e",
        "examine",
        "Examine a system: pick from the list or type one.",
    ),
    command(
        "o",
        "order",
        "Order tests: search the catalogue, select several, see the total.",
    ),
    command(
        "d",
        "diagnose",
        "Commit to a final diagnosis (asks to confirm; ends the case).",
    ),
    command(
        "n",
        "notes",
        "Edit your scratch differential (never sent anywhere).",
    ),
    command(
        "tab",
        "pane",
        "Switch the scrolled pane: conversation or findings.",
    ),
    command(
        "↑↓",
        "scroll",
        "Scroll the pane (also PgUp/PgDn, j/k and the mouse wheel).",
    ),
    command("l", "logbook", "Open your logbook of finished cases."),
    command("?", "help", "Show this help."),
    command(
        "q",
        "quit",
        "Leave; a case in progress is saved for `dxsim play --resume`.",
    ),
];

/// The encounter's commands once the case is over.
pub const ENCOUNTER_ENDED: &[Command] = &[
    command("r", "debrief", "Back to the debrief."),
    command("n", "notes", "Edit your scratch differential."),
    command("tab", "pane", "Switch the scrolled pane."),
    command("↑↓", "scroll", "Scroll the pane."),
    command("l", "logbook", "Open your logbook."),
    command("?", "help", "Show this help."),
    command("q", "quit", "Leave."),
];

/// The free-text prompt's commands.
pub const PROMPT: &[Command] = &[
    command("enter", "send", "Send what you typed."),
    command("ctrl-u", "clear", "Clear the line."),
    command("esc", "cancel", "Close without sending."),
];

/// The examination picker's commands.
pub const EXAM: &[Command] = &[
    command(
        "type",
        "filter",
        "Type to filter the systems, or type any system in words.",
    ),
    command("↑↓", "move", "Move the highlight."),
    command(
        "enter",
        "examine",
        "Examine the highlighted system (or what you typed).",
    ),
    command("esc", "cancel", "Close without examining."),
];

/// The order picker's commands.
pub const ORDER: &[Command] = &[
    command(
        "type",
        "search",
        "Type to search the catalogue by name, synonym or abbreviation.",
    ),
    command(
        "↑↓",
        "move",
        "Move the highlight (or turn the mouse wheel).",
    ),
    command("tab", "select", "Select or unselect the highlighted test."),
    command(
        "enter",
        "review",
        "Review the order and its total before it is placed.",
    ),
    command("esc", "cancel", "Close without ordering."),
];

/// A confirmation's commands.
pub const CONFIRM: &[Command] = &[
    command("y", "yes", "Go ahead (Enter too)."),
    command("n", "no", "Go back (Esc too)."),
];

/// The notes editor's commands.
pub const NOTES: &[Command] = &[
    command("type", "write", "Type your differential."),
    command("enter", "new line", "Start a new line."),
    command("esc", "done", "Stop editing."),
];

/// The debrief's commands.
pub const DEBRIEF: &[Command] = &[
    command(
        "↑↓",
        "scroll",
        "Scroll (also PgUp/PgDn, space, g for the top, the mouse wheel).",
    ),
    command("c", "case", "Look back at the encounter."),
    command(
        "n",
        "next case",
        "Start another case with the same choices and the next seed.",
    ),
    command("l", "logbook", "Open your logbook."),
    command("?", "help", "Show this help."),
    command("q", "quit", "Leave."),
];

/// The logbook's commands.
pub const LOGBOOK: &[Command] = &[
    command("↑↓", "scroll", "Scroll."),
    command("b", "back", "Back to where you were (Esc too)."),
    command("?", "help", "Show this help."),
    command("q", "quit", "Leave (asks first if a case is in progress)."),
];

/// The commands that the keys reach right now.
pub fn commands(app: &App) -> &'static [Command] {
    match &app.overlay {
        Some(Overlay::Prompt { .. }) => PROMPT,
        Some(Overlay::Examine(_)) => EXAM,
        Some(Overlay::Order(_)) => ORDER,
        Some(Overlay::Confirm(_)) => CONFIRM,
        Some(Overlay::Notes) => NOTES,
        Some(Overlay::Help) | None => screen_commands(app),
    }
}

/// The commands of the screen under any overlay.
pub fn screen_commands(app: &App) -> &'static [Command] {
    match app.screen {
        Screen::Encounter if app.in_progress() => ENCOUNTER,
        Screen::Encounter => ENCOUNTER_ENDED,
        Screen::Debrief => DEBRIEF,
        Screen::Logbook => LOGBOOK,
    }
}

/// Colours and emphasis; without colour (`NO_COLOR`) abnormal results stay bold and marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Abnormal findings and values.
    pub abnormal: Style,
    /// Section titles.
    pub heading: Style,
    /// Secondary text.
    pub dim: Style,
    /// Keys in the hint bar, the student's own actions.
    pub accent: Style,
    /// The highlighted row of a list.
    pub selected: Style,
    /// Error messages.
    pub error: Style,
    /// Good news (a correct diagnosis).
    pub good: Style,
}

impl Theme {
    /// The theme, with or without colour.
    pub fn new(color: bool) -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        if color {
            Theme {
                abnormal: bold.fg(Color::LightRed),
                heading: bold.fg(Color::Cyan),
                dim: Style::new().fg(Color::DarkGray),
                accent: bold.fg(Color::Yellow),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                error: bold.fg(Color::Red),
                good: bold.fg(Color::Green),
            }
        } else {
            Theme {
                abnormal: bold,
                heading: bold.add_modifier(Modifier::UNDERLINED),
                dim: Style::new(),
                accent: bold,
                selected: Style::new().add_modifier(Modifier::REVERSED),
                error: bold,
                good: bold,
            }
        }
    }

    /// Colour unless `NO_COLOR` is set (to anything but an empty string).
    pub fn from_env() -> Theme {
        Theme::new(std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()))
    }
}

/// Draws the whole app.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let message = format!(
            "The terminal is {}×{}; dxsim needs at least {}×{}. Enlarge it, or press q to leave.",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(
            Paragraph::new(wrap(&[Span::raw(message)], area.width, 0)),
            area,
        );
        return;
    }
    match app.screen {
        Screen::Encounter => encounter::render(app, theme, frame, area),
        Screen::Debrief => debrief::render(app, theme, frame, area),
        Screen::Logbook => logbook::render(app, theme, frame, area),
    }
    match &app.overlay {
        Some(Overlay::Help) => help::render(app, theme, frame, area),
        Some(Overlay::Examine(picker)) => picker::render_exam(app, picker, theme, frame, area),
        Some(Overlay::Order(picker)) => picker::render_order(picker, theme, frame, area),
        Some(Overlay::Confirm(confirm)) => confirm::render(app, confirm, theme, frame, area),
        Some(Overlay::Prompt { .. } | Overlay::Notes) | None => {}
    }
}

/// The hint bar: as many of the commands as fit, always keeping help and quit at the end.
pub fn hint_bar(app: &App, theme: &Theme, width: u16) -> Line<'static> {
    let piece = |command: &Command| command.key.chars().count() + command.label.chars().count() + 3;
    let all = commands(app);
    let pinned = |command: &Command| matches!(command.key, "?" | "q");
    let mut room =
        usize::from(width).saturating_sub(all.iter().filter(|c| pinned(c)).map(piece).sum());
    let mut shown = Vec::new();
    for command in all {
        if pinned(command) {
            continue;
        }
        if piece(command) > room {
            break;
        }
        room -= piece(command);
        shown.push(command);
    }
    shown.extend(all.iter().filter(|c| pinned(c)));
    let mut spans = Vec::new();
    for command in shown {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(command.key, theme.accent));
        spans.push(Span::raw(format!(" {} ", command.label)));
    }
    Line::from(spans)
}

/// The rows of a full-page screen (debrief, logbook): header, body, message, hint bar.
pub fn page_layout(app: &App, area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(app.status.is_some())),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// How far the debrief or the logbook can scroll down at the terminal's size.
pub fn page_scroll_limit(app: &App) -> u16 {
    let [_, body, _, _] = page_layout(app, Rect::new(0, 0, app.size.0, app.size.1));
    let theme = Theme::new(false);
    let lines = match (app.screen, &app.debrief, &app.logbook) {
        (Screen::Debrief, Some(debrief), _) => debrief::lines(debrief, &theme, body.width).len(),
        (Screen::Logbook, _, Some(view)) => logbook::lines(view, &theme, body.width).len(),
        _ => 0,
    };
    u16::try_from(lines.saturating_sub(usize::from(body.height))).unwrap_or(u16::MAX)
}

/// The status line (the last message), if any.
pub fn status_line(app: &App, theme: &Theme) -> Option<Line<'static>> {
    app.status.as_ref().map(|status| {
        let style = if status.error { theme.error } else { theme.dim };
        Line::from(Span::styled(format!(" {}", status.text), style))
    })
}

/// The prompt line while the student types a question or a diagnosis.
pub fn prompt_line(app: &App, theme: &Theme) -> Option<Line<'static>> {
    match &app.overlay {
        Some(Overlay::Prompt { kind, text }) => {
            let label = match kind {
                PromptKind::Ask => " Ask the patient ▸ ",
                PromptKind::Diagnose => " Your diagnosis ▸ ",
            };
            Some(Line::from(vec![
                Span::styled(label, theme.accent),
                Span::raw(text.clone()),
                Span::styled("█", theme.dim),
            ]))
        }
        _ => None,
    }
}

/// Wraps styled text to `width` columns, breaking at spaces (and inside words longer than a line);
/// continuation lines start with `indent` spaces.
pub fn wrap(spans: &[Span<'static>], width: u16, indent: usize) -> Vec<Line<'static>> {
    let width = usize::from(width.max(1));
    let indent = indent.min(width.saturating_sub(1));
    let mut lines = Vec::new();
    let mut current: Vec<Span<'static>> = Vec::new();
    let mut used = 0usize;
    for span in spans {
        for word in split_keeping_spaces(&span.content) {
            let mut word = word.to_string();
            loop {
                let length = word.chars().count();
                if used + length <= width {
                    used += length;
                    current.push(Span::styled(word, span.style));
                    break;
                }
                let is_space = word.trim().is_empty();
                if is_space {
                    // A space at the end of a line is dropped.
                    break;
                }
                if used > indent && length <= width - indent {
                    lines.push(Line::from(std::mem::take(&mut current)));
                    current.push(Span::raw(" ".repeat(indent)));
                    used = indent;
                    continue;
                }
                // A word longer than a line: cut it.
                let room = width - used;
                let head: String = word.chars().take(room).collect();
                let tail: String = word.chars().skip(room).collect();
                current.push(Span::styled(head, span.style));
                lines.push(Line::from(std::mem::take(&mut current)));
                current.push(Span::raw(" ".repeat(indent)));
                used = indent;
                word = tail;
                if word.is_empty() {
                    break;
                }
            }
        }
    }
    if !current.is_empty() {
        lines.push(Line::from(current));
    }
    lines
}

/// Splits text into words and runs of spaces, keeping both.
fn split_keeping_spaces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (index, c) in text.char_indices() {
        let space = c == ' ';
        if in_space.is_some_and(|was| was != space) {
            pieces.push(&text[start..index]);
            start = index;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// A rectangle of at most `width` × `height`, centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// Clears `area` and draws a bordered popup with a title; returns the inside.
pub fn popup(frame: &mut Frame, area: Rect, title: &str, theme: &Theme) -> Rect {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), theme.heading));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// Draws lines into `area`, starting `offset` lines down (clamped so the last page stays full).
pub fn draw_page(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>, offset: u16) {
    let visible = usize::from(area.height);
    let start = usize::from(offset).min(lines.len().saturating_sub(visible));
    let page: Vec<Line<'static>> = lines.into_iter().skip(start).take(visible).collect();
    frame.render_widget(Paragraph::new(page), area);
}

/// Draws lines into `area` so that the last ones show, scrolled `offset` lines up from the end.
pub fn draw_tail(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>, offset: u16) {
    let visible = usize::from(area.height);
    let max_offset = lines.len().saturating_sub(visible);
    let start = max_offset - usize::from(offset).min(max_offset);
    let page: Vec<Line<'static>> = lines.into_iter().skip(start).take(visible).collect();
    frame.render_widget(Paragraph::new(page), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn wrap_breaks_at_spaces_with_a_hanging_indent() {
        let lines = wrap(&[Span::raw("• the pain began two hours ago")], 14, 2);
        assert_eq!(text(&lines), ["• the pain ", "  began two ", "  hours ago"]);
    }

    #[test]
    fn wrap_cuts_words_longer_than_a_line() {
        let lines = wrap(&[Span::raw("abcdefghij")], 4, 0);
        assert_eq!(text(&lines), ["abcd", "efgh", "ij"]);
    }
}

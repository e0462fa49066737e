//! The encounter screen: presentation, cost meter and turn gauge, the conversation, the findings
//! grouped as history, examination and tests, and the scratch differential.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Theme, draw_tail, hint_bar, prompt_line, status_line, wrap};
use crate::app::{App, Overlay, Pane};
use crate::driver::{Entry, Meter, Report, Value};

/// Where each part of the encounter screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The title row.
    pub header: Rect,
    /// The presentation.
    pub presentation: Rect,
    /// The cost meter and turn gauge.
    pub meter: Rect,
    /// The conversation pane.
    pub conversation: Rect,
    /// The findings pane.
    pub findings: Rect,
    /// The differential box.
    pub notes: Rect,
    /// The status or prompt row.
    pub message: Rect,
    /// The hint bar.
    pub footer: Rect,
}

/// Lays the screen out for `area`; the presentation takes the rows it needs, up to a quarter.
pub fn layout(app: &App, area: Rect) -> Areas {
    let presentation_lines = presentation_lines(app, &Theme::new(false), area.width).len();
    let presentation_height = u16::try_from(presentation_lines)
        .unwrap_or(u16::MAX)
        .min((area.height / 4).max(2));
    let message_height =
        u16::from(app.status.is_some() || prompt_line(app, &Theme::new(false)).is_some());
    let [header, presentation, meter, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(presentation_height),
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(message_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let [conversation, right] =
        Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(body);
    let notes_height = if body.height >= 16 { 6 } else { 4 };
    let [findings, notes] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(notes_height)]).areas(right);
    Areas {
        header,
        presentation,
        meter,
        conversation,
        findings,
        notes,
        message,
        footer,
    }
}

/// The scrollable pane under a screen cell, for the mouse wheel.
pub fn pane_at(app: &App, column: u16, row: u16) -> Option<Pane> {
    let (columns, rows) = app.size;
    let areas = layout(app, Rect::new(0, 0, columns, rows));
    let position = ratatui::layout::Position::new(column, row);
    if areas.conversation.contains(position) {
        Some(Pane::Conversation)
    } else if areas.findings.contains(position) {
        Some(Pane::Findings)
    } else {
        None
    }
}

/// How far a pane can scroll up at the terminal's size.
pub fn scroll_limit(app: &App, pane: Pane) -> u16 {
    let areas = layout(app, Rect::new(0, 0, app.size.0, app.size.1));
    let theme = Theme::new(false);
    let (area, lines) = match pane {
        Pane::Conversation => {
            let inner = pane_block("", false, &theme).inner(areas.conversation);
            (inner, conversation_lines(app, &theme, inner.width).len())
        }
        Pane::Findings => {
            let inner = pane_block("", false, &theme).inner(areas.findings);
            (inner, findings_lines(app, &theme, inner.width).len())
        }
    };
    u16::try_from(lines.saturating_sub(usize::from(area.height))).unwrap_or(u16::MAX)
}

/// Draws the encounter screen.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let areas = layout(app, area);
    frame.render_widget(Paragraph::new(header(app, theme)), areas.header);
    frame.render_widget(
        Paragraph::new(presentation_lines(app, theme, areas.presentation.width)),
        areas.presentation,
    );
    frame.render_widget(
        Paragraph::new(meter_line(&app.meter, theme, areas.meter.width)),
        areas.meter,
    );

    let conversation = pane_block("Conversation", app.focus == Pane::Conversation, theme);
    let inner = conversation.inner(areas.conversation);
    frame.render_widget(conversation, areas.conversation);
    draw_tail(
        frame,
        inner,
        conversation_lines(app, theme, inner.width),
        app.conversation_scroll,
    );

    let findings = pane_block("Findings", app.focus == Pane::Findings, theme);
    let inner = findings.inner(areas.findings);
    frame.render_widget(findings, areas.findings);
    draw_tail(
        frame,
        inner,
        findings_lines(app, theme, inner.width),
        app.findings_scroll,
    );

    let editing = app.overlay == Some(Overlay::Notes);
    let notes = pane_block(
        if editing {
            "Differential (editing, Esc done)"
        } else {
            "Differential (n to edit)"
        },
        editing,
        theme,
    );
    let inner = notes.inner(areas.notes);
    frame.render_widget(notes, areas.notes);
    let mut text = app.differential.clone();
    if editing {
        text.push('█');
    }
    let lines: Vec<Line<'static>> = text
        .split('\n')
        .flat_map(|line| wrap(&[Span::raw(line.to_string())], inner.width, 0))
        .collect();
    draw_tail(frame, inner, lines, 0);

    if let Some(line) = prompt_line(app, theme).or_else(|| status_line(app, theme)) {
        frame.render_widget(Paragraph::new(line), areas.message);
    }
    frame.render_widget(
        Paragraph::new(hint_bar(app, theme, areas.footer.width)),
        areas.footer,
    );
}

fn pane_block(title: &str, focused: bool, theme: &Theme) -> Block<'static> {
    let style = if focused { theme.accent } else { theme.heading };
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), style))
}

fn header(app: &App, theme: &Theme) -> Line<'static> {
    // The case's id, specialty and difficulty wait for the debrief (DESIGN.md §3.9); the patient and
    // the setting head the presentation below.
    let mut spans = vec![Span::styled(" dxsim ", theme.accent)];
    if app.presentation().is_some() {
        spans.push(Span::raw("· encounter"));
    }
    if !app.in_progress() {
        spans.push(Span::styled("  · case over", theme.dim));
    }
    Line::from(spans)
}

fn presentation_lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let Some(presentation) = app.presentation() else {
        return Vec::new();
    };
    let mut lines = wrap(
        &[
            Span::styled(format!(" {}", presentation.patient), theme.heading),
            Span::raw(format!(" · {}", presentation.setting)),
        ],
        width,
        1,
    );
    lines.extend(wrap(
        &[Span::raw(format!(" {}", presentation.summary))],
        width,
        1,
    ));
    lines
}

/// The meter row: turn gauge, visits, tests, total, and the budget left under a cap; compact when
/// the full row does not fit.
fn meter_line(meter: &Meter, theme: &Theme, width: u16) -> Line<'static> {
    const GAUGE: usize = 10;
    let filled = (usize::try_from(meter.turn).unwrap_or(usize::MAX) * GAUGE)
        .checked_div(usize::try_from(meter.turn_limit).unwrap_or(usize::MAX))
        .unwrap_or(0)
        .min(GAUGE);
    let full = format!(
        "  Visits {} · {}  Tests {} · {}  ",
        meter.visit_count, meter.visits, meter.test_count, meter.tests
    );
    let total = format!("Total {}", meter.total);
    let budget = meter
        .budget_left
        .map(|left| format!("  Budget left {left}"))
        .unwrap_or_default();
    let turn = format!(" Turn {}/{} ", meter.turn, meter.turn_limit);
    let length = |middle: &str, budget: &str| {
        turn.chars().count() + GAUGE + middle.chars().count() + total.len() + budget.chars().count()
    };
    let (middle, budget) = if length(&full, &budget) <= usize::from(width) {
        (full, budget)
    } else {
        (
            format!("  Visits {}  Tests {}  ", meter.visits, meter.tests),
            meter
                .budget_left
                .map(|left| format!("  Left {left}"))
                .unwrap_or_default(),
        )
    };
    Line::from(vec![
        Span::raw(turn),
        Span::styled("━".repeat(filled), theme.accent),
        Span::styled("─".repeat(GAUGE - filled), theme.dim),
        Span::raw(middle),
        Span::styled(total, theme.accent),
        Span::styled(budget, theme.dim),
    ])
}

fn flagged(abnormal: bool, theme: &Theme) -> Style {
    if abnormal {
        theme.abnormal
    } else {
        Style::new()
    }
}

/// A lab value as one line: name, value, unit, flag mark and reference range.
fn value_spans(value: &Value, theme: &Theme) -> Vec<Span<'static>> {
    let abnormal = value.flag.is_abnormal();
    let mark = if abnormal {
        format!(" {}!", value.flag.mark())
    } else {
        String::new()
    };
    let unit = if value.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", value.unit)
    };
    vec![
        Span::raw(format!("  {} ", value.name)),
        Span::styled(
            format!("{}{unit}{mark}", value.text),
            flagged(abnormal, theme),
        ),
        Span::styled(format!(" (ref {})", value.reference), theme.dim),
    ]
}

/// A report in one line: its text, or its values (only the abnormal ones for a long panel).
fn report_summary(report: &Report) -> String {
    if let Some(text) = &report.text {
        return text.clone();
    }
    let short = |value: &Value| {
        let unit = if value.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", value.unit)
        };
        format!("{} {}{unit} {}", value.name, value.text, value.flag.mark())
            .trim_end()
            .to_string()
    };
    if let [only] = report.values.as_slice()
        && only.name == report.name
    {
        // A single-analyte test: the value alone ("0.21 ng/mL H").
        return short(only)
            .trim_start_matches(only.name.as_str())
            .trim_start()
            .to_string();
    }
    if report.values.len() <= 3 {
        return report
            .values
            .iter()
            .map(short)
            .collect::<Vec<_>>()
            .join("; ");
    }
    let abnormal: Vec<String> = report
        .values
        .iter()
        .filter(|value| value.flag.is_abnormal())
        .map(short)
        .collect();
    if abnormal.is_empty() {
        format!("{} values, all within range", report.values.len())
    } else {
        format!(
            "{} values; abnormal: {}",
            report.values.len(),
            abnormal.join("; ")
        )
    }
}

/// The conversation: every action and what came back, in order.
fn conversation_lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for turn in &app.turns {
        let Some(action) = &turn.action else {
            lines.extend(wrap(
                &[Span::styled(
                    "The patient is waiting. a ask · e examine · o order · d diagnose",
                    theme.dim,
                )],
                width,
                0,
            ));
            continue;
        };
        lines.push(Line::default());
        let mut head = vec![Span::styled(
            format!("▸ {}", app.describe(action)),
            theme.accent,
        )];
        if turn.charged.0 > 0 {
            head.push(Span::styled(format!("  {}", turn.charged), theme.dim));
        }
        lines.extend(wrap(&head, width, 2));
        for entry in &turn.entries {
            let spans = match entry {
                Entry::Presentation(_) => continue,
                Entry::Answer { text, .. } => vec![
                    Span::styled("Patient: ", theme.heading),
                    Span::raw(text.clone()),
                ],
                Entry::Exam {
                    system,
                    text,
                    abnormal,
                } => vec![
                    Span::styled(format!("{system}: "), theme.heading),
                    Span::styled(text.clone(), flagged(*abnormal, theme)),
                ],
                Entry::Report(report) => vec![
                    Span::styled(format!("{}: ", report.name), theme.heading),
                    Span::styled(report_summary(report), flagged(report.abnormal, theme)),
                ],
                Entry::AlreadyReported { value, reported_in } => {
                    let mut spans = value_spans(value, theme);
                    spans.push(Span::styled(
                        format!(" — already on the {reported_in}, not charged"),
                        theme.dim,
                    ));
                    spans
                }
                Entry::Notice {
                    message,
                    suggestions,
                    ..
                } => {
                    let mut text = message.clone();
                    if !suggestions.is_empty() {
                        text.push_str(&format!(" Try: {}.", suggestions.join("; ")));
                    }
                    vec![Span::styled(format!("⚠ {text}"), theme.error)]
                }
                Entry::DiagnosisRecorded { diagnosis } => vec![Span::styled(
                    format!("Diagnosis recorded: {diagnosis}"),
                    theme.accent,
                )],
            };
            let mut indented = vec![Span::raw("  ")];
            indented.extend(spans);
            lines.extend(wrap(&indented, width, 4));
        }
    }
    lines
}

/// The findings, grouped: history, examination, tests (values with units, ranges and flags).
fn findings_lines(app: &App, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let entries: Vec<&Entry> = app.turns.iter().flat_map(|turn| &turn.entries).collect();
    let mut lines = vec![Line::from(Span::styled("History", theme.heading))];
    let history: Vec<&Entry> = entries
        .iter()
        .copied()
        .filter(|entry| matches!(entry, Entry::Answer { .. }))
        .collect();
    if history.is_empty() {
        lines.push(Line::from(Span::styled("  nothing asked yet", theme.dim)));
    }
    for entry in history {
        if let Entry::Answer { text, .. } = entry {
            lines.extend(wrap(&[Span::raw(format!("• {text}"))], width, 2));
        }
    }

    lines.push(Line::from(Span::styled("Examination", theme.heading)));
    let mut examined = false;
    for entry in &entries {
        if let Entry::Exam {
            system,
            text,
            abnormal,
        } = entry
        {
            examined = true;
            let mark = if *abnormal { "! " } else { "• " };
            lines.extend(wrap(
                &[
                    Span::styled(format!("{mark}{system}: "), flagged(*abnormal, theme)),
                    Span::styled(text.clone(), flagged(*abnormal, theme)),
                ],
                width,
                2,
            ));
        }
    }
    if !examined {
        lines.push(Line::from(Span::styled(
            "  nothing examined yet",
            theme.dim,
        )));
    }

    lines.push(Line::from(Span::styled("Tests", theme.heading)));
    let mut tested = false;
    for entry in &entries {
        if let Entry::Report(report) = entry {
            tested = true;
            let mark = if report.abnormal { "! " } else { "• " };
            match &report.text {
                Some(text) => lines.extend(wrap(
                    &[
                        Span::styled(format!("{mark}{}: ", report.name), theme.heading),
                        Span::styled(text.clone(), flagged(report.abnormal, theme)),
                    ],
                    width,
                    2,
                )),
                None => {
                    lines.extend(wrap(
                        &[Span::styled(
                            format!("{mark}{}", report.name),
                            theme.heading,
                        )],
                        width,
                        2,
                    ));
                    for value in &report.values {
                        lines.extend(wrap(&value_spans(value, theme), width, 4));
                    }
                }
            }
            if let Some(note) = &report.note {
                lines.extend(wrap(
                    &[Span::styled(format!("  {note}"), theme.dim)],
                    width,
                    4,
                ));
            }
        }
    }
    if !tested {
        lines.push(Line::from(Span::styled("  nothing ordered yet", theme.dim)));
    }
    lines
}

//! The debrief after the case: verdict, score and rationale; the true diagnosis; the student's path
//! beside the reference work-up; orders that added nothing; key findings missed; teaching points.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, draw_page, hint_bar, page_layout, status_line, wrap};
use crate::app::App;
use crate::driver::{Debrief, Ending, PathStep};

/// Draws the debrief screen.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [header, body, message, footer] = page_layout(app, area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" dxsim ", theme.accent),
            Span::raw("· debrief"),
        ])),
        header,
    );
    let lines = match &app.debrief {
        Some(debrief) => lines(debrief, theme, body.width),
        None => vec![Line::from(" fetching the debrief…")],
    };
    draw_page(frame, body, lines, app.page_scroll);
    if let Some(line) = status_line(app, theme) {
        frame.render_widget(Paragraph::new(line), message);
    }
    frame.render_widget(Paragraph::new(hint_bar(app, theme, footer.width)), footer);
}

fn section(lines: &mut Vec<Line<'static>>, title: &str, theme: &Theme) {
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(format!(" {title}"), theme.heading)));
}

fn bullets(
    lines: &mut Vec<Line<'static>>,
    items: &[String],
    empty: &str,
    theme: &Theme,
    width: u16,
) {
    if items.is_empty() {
        lines.push(Line::from(Span::styled(format!("   {empty}"), theme.dim)));
    }
    for item in items {
        lines.extend(wrap(&[Span::raw(format!("   • {item}"))], width, 5));
    }
}

/// The whole debrief as lines of `width` columns.
pub fn lines(debrief: &Debrief, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let verdict = match (&debrief.verdict, debrief.ending) {
        (Some(verdict), _) if verdict.correct => Span::styled(
            format!(" ✔ Correct — score {}/5", verdict.score),
            theme.good,
        ),
        (Some(verdict), _) => Span::styled(
            format!(" ✘ Incorrect — score {}/5", verdict.score),
            theme.abnormal,
        ),
        (None, Ending::OutOfTurnsOrBudget) => Span::styled(
            " ✘ No diagnosis: the turn limit or the budget ran out",
            theme.abnormal,
        ),
        (None, Ending::Diagnosed) => Span::styled(" No verdict", theme.abnormal),
    };
    lines.push(Line::from(verdict));
    if let Some(verdict) = &debrief.verdict {
        lines.extend(wrap(
            &[
                Span::styled(" Judge: ", theme.dim),
                Span::raw(verdict.rationale.clone()),
            ],
            width,
            3,
        ));
    }
    lines.extend(wrap(
        &[
            Span::styled(" Your diagnosis: ", theme.dim),
            Span::raw(
                debrief
                    .diagnosis_given
                    .clone()
                    .unwrap_or_else(|| "none".into()),
            ),
        ],
        width,
        3,
    ));
    lines.extend(wrap(
        &[
            Span::styled(" True diagnosis: ", theme.dim),
            Span::styled(
                format!("{} ({})", debrief.true_diagnosis, debrief.icd10),
                theme.accent,
            ),
        ],
        width,
        3,
    ));
    lines.extend(wrap(
        &[Span::styled(
            format!(
                " Case {} · {} · {} · {} · seed {}",
                debrief.case_id, debrief.title, debrief.specialty, debrief.difficulty, debrief.seed
            ),
            theme.dim,
        )],
        width,
        3,
    ));

    section(&mut lines, "Your path and the reference work-up", theme);
    let column = usize::from(width.saturating_sub(3)) / 2;
    let column_width = u16::try_from(column).unwrap_or(u16::MAX);
    let left_title = format!(
        "You: {} in {} steps",
        debrief.meter.total,
        debrief.path.len()
    );
    let right_title = format!(
        "Reference: {} in {} steps",
        debrief.reference_total,
        debrief.reference_path.len()
    );
    lines.push(side_by_side(
        vec![Span::styled(left_title, theme.accent)],
        vec![Span::styled(right_title, theme.accent)],
        column,
    ));
    let rows = debrief.path.len().max(debrief.reference_path.len());
    for index in 0..rows {
        let left = step_lines(debrief.path.get(index), index, column_width, theme);
        let right = step_lines(
            debrief.reference_path.get(index),
            index,
            column_width,
            theme,
        );
        for row in 0..left.len().max(right.len()) {
            lines.push(side_by_side(
                left.get(row)
                    .map(|line| line.spans.clone())
                    .unwrap_or_default(),
                right
                    .get(row)
                    .map(|line| line.spans.clone())
                    .unwrap_or_default(),
                column,
            ));
        }
    }
    lines.push(Line::from(Span::styled(
        format!(
            "   visits {} · {}   tests {} · {}",
            debrief.meter.visit_count,
            debrief.meter.visits,
            debrief.meter.test_count,
            debrief.meter.tests
        ),
        theme.dim,
    )));

    section(&mut lines, "Orders that added nothing", theme);
    bullets(
        &mut lines,
        &debrief.low_yield,
        "none: every test you ordered told you something",
        theme,
        width,
    );
    section(&mut lines, "Key findings never uncovered", theme);
    bullets(
        &mut lines,
        &debrief.key_missed,
        "none: you uncovered every key finding",
        theme,
        width,
    );
    section(&mut lines, "Key findings you uncovered", theme);
    bullets(&mut lines, &debrief.key_found, "none", theme, width);
    section(&mut lines, "Teaching points", theme);
    bullets(&mut lines, &debrief.teaching_points, "none", theme, width);
    if let Some(note) = &debrief.patient_note {
        section(&mut lines, "The patient", theme);
        lines.extend(wrap(&[Span::raw(format!("   {note}"))], width, 3));
    }
    lines
}

/// One path step, numbered, with its cost, wrapped to a column.
fn step_lines(
    step: Option<&PathStep>,
    index: usize,
    width: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    match step {
        Some(step) => wrap(
            &[
                Span::raw(format!("{}. {} ", index + 1, step.step)),
                Span::styled(step.cost.to_string(), theme.dim),
            ],
            width,
            3,
        ),
        None => Vec::new(),
    }
}

/// Two columns of `column` characters, with a gutter.
fn side_by_side(
    left: Vec<Span<'static>>,
    right: Vec<Span<'static>>,
    column: usize,
) -> Line<'static> {
    let used: usize = left.iter().map(|span| span.content.chars().count()).sum();
    let mut spans = vec![Span::raw("   ")];
    spans.extend(left);
    spans.push(Span::raw(" ".repeat(column.saturating_sub(used))));
    spans.push(Span::raw("│ "));
    spans.extend(right);
    Line::from(spans)
}

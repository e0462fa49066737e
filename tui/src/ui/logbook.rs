//! The logbook screen: accuracy and mean cost by specialty and by month, and every finished case.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, draw_page, hint_bar, page_layout, status_line, wrap};
use crate::app::App;
use crate::logbook::{LogbookView, Summary};

/// Draws the logbook screen.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [header, body, message, footer] = page_layout(app, area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" dxsim ", theme.accent),
            Span::raw("· logbook"),
        ])),
        header,
    );
    let lines = match &app.logbook {
        Some(view) => lines(view, theme, body.width),
        None => vec![Line::from(" reading the logbook…")],
    };
    draw_page(frame, body, lines, app.page_scroll);
    if let Some(line) = status_line(app, theme) {
        frame.render_widget(Paragraph::new(line), message);
    }
    frame.render_widget(Paragraph::new(hint_bar(app, theme, footer.width)), footer);
}

fn summary_line(summary: &Summary, with_period: bool) -> Line<'static> {
    let period = if with_period {
        format!("{:<8} ", summary.period)
    } else {
        String::new()
    };
    Line::from(format!(
        "   {period}{:<18} {:>5} {:>8}% {:>11}",
        summary.specialty,
        summary.cases,
        summary.accuracy_percent(),
        summary.mean_cost.to_string()
    ))
}

/// The logbook as lines of `width` columns.
pub fn lines(view: &LogbookView, theme: &Theme, width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if view.records.is_empty() {
        lines.push(Line::from(Span::styled(
            " No finished cases yet. Each case you finish is recorded here.",
            theme.dim,
        )));
        return lines;
    }
    lines.push(Line::from(Span::styled(" By specialty", theme.heading)));
    lines.push(Line::from(Span::styled(
        format!(
            "   {:<18} {:>5} {:>9} {:>11}",
            "specialty", "cases", "accuracy", "mean cost"
        ),
        theme.dim,
    )));
    lines.extend(
        view.by_specialty
            .iter()
            .map(|summary| summary_line(summary, false)),
    );
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(" Over time", theme.heading)));
    lines.push(Line::from(Span::styled(
        format!(
            "   {:<8} {:<18} {:>5} {:>9} {:>11}",
            "month", "specialty", "cases", "accuracy", "mean cost"
        ),
        theme.dim,
    )));
    lines.extend(
        view.over_time
            .iter()
            .map(|summary| summary_line(summary, true)),
    );
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        " History, newest first",
        theme.heading,
    )));
    for record in &view.records {
        let (verdict, style) = match record.score {
            Some(score) if record.correct => (format!("✔ {score}/5"), theme.good),
            Some(score) => (format!("✘ {score}/5"), theme.abnormal),
            None => ("✘ none".to_string(), theme.abnormal),
        };
        lines.extend(wrap(
            &[
                Span::styled(format!("   {} ", record.finished), theme.dim),
                Span::styled(format!("{verdict:<6}"), style),
                Span::raw(format!(
                    " {:>10}  {} · {}",
                    record.total.to_string(),
                    record.case_id,
                    record.true_diagnosis
                )),
            ],
            width,
            21,
        ));
    }
    lines
}

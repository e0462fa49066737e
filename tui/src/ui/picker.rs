//! The pickers drawn over the encounter: tests to order (fuzzy search, prices, multi-select, the
//! order total) and a system to examine (a filtered list, or free text).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, popup, wrap};
use crate::app::{App, ExamPicker, OrderPicker};

/// The popup's area: the screen less a margin, keeping the hint bar visible.
fn picker_area(area: Rect) -> Rect {
    let width = area.width.saturating_sub(4).min(84);
    let height = area.height.saturating_sub(4);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 2,
        width,
        height,
    }
}

/// The first row of a list window that keeps `cursor` in view.
fn window_start(cursor: usize, rows: usize) -> usize {
    if rows == 0 {
        0
    } else {
        cursor.saturating_sub(rows - 1)
    }
}

/// Draws the order picker.
pub fn render_order(picker: &OrderPicker, theme: &Theme, frame: &mut Frame, area: Rect) {
    let inner = popup(frame, picker_area(area), "Order tests", theme);
    let [search, list, chosen] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(3),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Search ▸ ", theme.accent),
            Span::raw(picker.query.clone()),
            Span::styled("█", theme.dim),
        ])),
        search,
    );

    let rows = usize::from(list.height);
    let start = window_start(picker.cursor, rows);
    let price_width = 10;
    let category_width = 12;
    let name_width = usize::from(list.width).saturating_sub(4 + price_width + category_width + 2);
    let mut lines = Vec::new();
    if picker.results.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no test matches; try another name or abbreviation",
            theme.dim,
        )));
    }
    for (index, entry) in picker.results.iter().enumerate().skip(start).take(rows) {
        let mark = if picker.is_chosen(&entry.id) {
            "[x] "
        } else {
            "[ ] "
        };
        let name: String = entry.name.chars().take(name_width).collect();
        let text = format!(
            "{mark}{name:<name_width$} {:<category_width$} {:>price_width$}",
            entry.category,
            entry.price.to_string(),
        );
        let style = if index == picker.cursor {
            theme.selected
        } else if picker.is_chosen(&entry.id) {
            theme.accent
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(text, style)));
    }
    frame.render_widget(Paragraph::new(lines), list);

    let summary = if picker.chosen.is_empty() {
        vec![Span::styled(
            "Nothing selected: Tab selects, Enter orders the highlighted test",
            theme.dim,
        )]
    } else {
        let names: Vec<&str> = picker
            .chosen
            .iter()
            .map(|entry| entry.name.as_str())
            .collect();
        vec![
            Span::styled(
                format!(
                    "Selected {} · order total {} · ",
                    picker.chosen.len(),
                    picker.total()
                ),
                theme.accent,
            ),
            Span::raw(names.join(", ")),
        ]
    };
    let mut lines = vec![Line::from(Span::styled(
        "─".repeat(usize::from(chosen.width)),
        theme.dim,
    ))];
    lines.extend(wrap(&summary, chosen.width, 0));
    frame.render_widget(Paragraph::new(lines), chosen);
}

/// Draws the examination picker.
pub fn render_exam(app: &App, picker: &ExamPicker, theme: &Theme, frame: &mut Frame, area: Rect) {
    let systems = app.matching_systems(&picker.query);
    let height = u16::try_from(systems.len().max(1) + 4).unwrap_or(u16::MAX);
    let outer = picker_area(area);
    let outer = Rect {
        width: outer.width.min(48),
        height: outer.height.min(height),
        x: area.x + (area.width - outer.width.min(48)) / 2,
        ..outer
    };
    let inner = popup(frame, outer, "Examine", theme);
    let [search, list] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled("System ▸ ", theme.accent),
                Span::raw(picker.query.clone()),
                Span::styled("█", theme.dim),
            ]),
            Line::default(),
        ]),
        search,
    );
    let rows = usize::from(list.height);
    let start = window_start(picker.cursor, rows);
    let mut lines = Vec::new();
    if systems.is_empty() {
        lines.extend(wrap(
            &[Span::styled(
                format!("Enter examines \"{}\" as typed", picker.query.trim()),
                theme.dim,
            )],
            list.width,
            0,
        ));
    }
    for (index, system) in systems.iter().enumerate().skip(start).take(rows) {
        let style = if index == picker.cursor {
            theme.selected
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(Span::styled(
            format!(
                " {:<width$}",
                system.name,
                width = usize::from(list.width).saturating_sub(1)
            ),
            style,
        )));
    }
    frame.render_widget(Paragraph::new(lines), list);
}

//! Confirmation dialogs: the diagnosis before it ends the case, an order with its total before it is
//! placed, and leaving mid-case.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, centered, popup, wrap};
use crate::app::{App, Confirm};

/// Draws a confirmation dialog.
pub fn render(app: &App, confirm: &Confirm, theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = 64u16.min(area.width.saturating_sub(2));
    let text_width = width.saturating_sub(2);
    let (title, mut lines) = match confirm {
        Confirm::Diagnose(diagnosis) => {
            let mut lines = wrap(
                &[
                    Span::raw("Commit to the diagnosis "),
                    Span::styled(format!("\"{diagnosis}\""), theme.accent),
                    Span::raw("? This ends the case and shows the debrief."),
                ],
                text_width,
                0,
            );
            lines.push(Line::from(Span::styled(
                format!(
                    "{} turns taken, {} spent so far.",
                    app.meter.turn, app.meter.total
                ),
                theme.dim,
            )));
            ("Final diagnosis", lines)
        }
        Confirm::Order(picker) => {
            let mut lines = Vec::new();
            for entry in &picker.chosen {
                let name: String = entry
                    .name
                    .chars()
                    .take(usize::from(text_width).saturating_sub(12))
                    .collect();
                lines.push(Line::from(format!(
                    "{name:<width$}{:>12}",
                    entry.price.to_string(),
                    width = usize::from(text_width).saturating_sub(12)
                )));
            }
            lines.push(Line::from(Span::styled(
                format!(
                    "{:<width$}{:>12}",
                    "Order total",
                    picker.total().to_string(),
                    width = usize::from(text_width).saturating_sub(12)
                ),
                theme.accent,
            )));
            lines.push(Line::from(Span::styled(
                format!("Spent so far {}.", app.meter.total),
                theme.dim,
            )));
            ("Place this order?", lines)
        }
        Confirm::Quit => (
            "Leave this case?",
            wrap(
                &[Span::raw(
                    "The case is saved: pick it up later with `dxsim play --resume`.",
                )],
                text_width,
                0,
            ),
        ),
    };
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(" y ", theme.accent),
        Span::raw("yes    "),
        Span::styled(" n ", theme.accent),
        Span::raw("no, go back"),
    ]));
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let inner = popup(frame, centered(area, width, height), title, theme);
    frame.render_widget(Paragraph::new(lines), inner);
}

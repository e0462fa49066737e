//! The `?` help overlay: every command of the screen underneath, and how a case is scored.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, centered, popup, screen_commands, wrap};
use crate::app::App;

/// How an encounter is charged and scored, in a few lines.
const ABOUT: &str = "Each run of questions and examinations is one visit ($300 by default); an order \
ends the visit. Every test costs its catalogue price. Findings appear only when you ask for them. The \
judge scores your diagnosis 1-5; 4 or more is correct. Cheaper work-ups that reach the right answer \
are better medicine.";

/// Draws the help overlay.
pub fn render(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let outer = centered(area, 76, area.height.saturating_sub(2));
    let inner = popup(frame, outer, "Help · any key closes", theme);
    let mut lines = Vec::new();
    for command in screen_commands(app) {
        lines.extend(wrap(
            &[
                Span::styled(format!(" {:<6} ", command.key), theme.accent),
                Span::raw(command.help),
            ],
            inner.width,
            8,
        ));
    }
    lines.push(Line::default());
    lines.extend(wrap(&[Span::raw(format!(" {ABOUT}"))], inner.width, 1));
    lines.push(Line::default());
    lines.extend(wrap(
        &[Span::styled(
            " In the pickers and prompts: Enter goes ahead, Esc cancels.",
            theme.dim,
        )],
        inner.width,
        1,
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}

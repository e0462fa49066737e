//! Replies rendered as the text an agent or a trainee reads.

use dxsim_gatekeeper::disclosure::{AnalyteValue, ExamReply, OrderReply, Suggestion};

fn suggestions(list: &[Suggestion]) -> String {
    list.iter()
        .map(|suggestion| match suggestion.price {
            Some(price) => format!("{} [{}] {price}", suggestion.name, suggestion.id),
            None => format!("{} [{}]", suggestion.name, suggestion.id),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn value(value: &AnalyteValue) -> String {
    let mark = value.flag.mark();
    let unit = if value.unit.is_empty() {
        String::new()
    } else {
        format!(" {}", value.unit)
    };
    let flag = if mark.is_empty() {
        String::new()
    } else {
        format!(" {mark}")
    };
    format!(
        "{} {}{unit}{flag} (ref {})",
        value.name, value.text, value.reference
    )
}

/// An examination reply as one line.
pub(crate) fn exam(reply: &ExamReply) -> String {
    match reply {
        ExamReply::Finding { name, text, .. } => format!("{name}: {text}"),
        ExamReply::Refused {
            message,
            suggestions: list,
            ..
        } if list.is_empty() => message.clone(),
        ExamReply::Refused {
            message,
            suggestions: list,
            ..
        }
        | ExamReply::Unrecognised {
            message,
            suggestions: list,
            ..
        } => {
            format!("{message} Systems: {}.", suggestions(list))
        }
    }
}

/// An order reply as one line.
pub(crate) fn order(reply: &OrderReply) -> String {
    match reply {
        OrderReply::Reported { report, note, .. } => {
            let body = match &report.text {
                Some(text) => text.clone(),
                None => report
                    .values
                    .iter()
                    .map(value)
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            match note {
                Some(note) => format!("{}: {body} ({note})", report.name),
                None => format!("{}: {body}", report.name),
            }
        }
        OrderReply::AlreadyReported {
            value: shown,
            reported_in,
            ..
        } => {
            format!("{}, already reported on the {reported_in}.", value(shown))
        }
        OrderReply::NotRecorded { message, .. } => message.clone(),
        OrderReply::Refused {
            message,
            suggestions: list,
            ..
        } if list.is_empty() => message.clone(),
        OrderReply::Refused {
            message,
            suggestions: list,
            ..
        }
        | OrderReply::Unrecognised {
            message,
            suggestions: list,
            ..
        } => {
            format!("{message} Consider: {}.", suggestions(list))
        }
    }
}

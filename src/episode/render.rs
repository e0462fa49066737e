//! Replies rendered as the text an agent or a trainee reads, written straight into the turn's text
//! (a step's observation is built without a string per line or per value).

use dxsim_gatekeeper::disclosure::{AnalyteValue, ExamReply, OrderReply, Suggestion};

/// Writes `list` as "name [id] price; …".
fn suggestions(list: &[Suggestion], out: &mut String) {
    for (index, suggestion) in list.iter().enumerate() {
        if index > 0 {
            out.push_str("; ");
        }
        out.push_str(&suggestion.name);
        out.push_str(" [");
        out.push_str(&suggestion.id);
        out.push(']');
        if let Some(price) = suggestion.price {
            out.push(' ');
            out.push_str(&price.to_string());
        }
    }
}

/// Writes one value as "name text unit flag (ref range)".
fn value(value: &AnalyteValue, out: &mut String) {
    out.push_str(&value.name);
    out.push(' ');
    out.push_str(&value.text);
    if !value.unit.is_empty() {
        out.push(' ');
        out.push_str(&value.unit);
    }
    let mark = value.flag.mark();
    if !mark.is_empty() {
        out.push(' ');
        out.push_str(mark);
    }
    out.push_str(" (ref ");
    out.push_str(&value.reference);
    out.push(')');
}

/// Writes an examination reply as one line.
pub(crate) fn exam(reply: &ExamReply, out: &mut String) {
    match reply {
        ExamReply::Finding { name, text, .. } => {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(text);
        }
        ExamReply::Refused {
            message,
            suggestions: list,
            ..
        } if list.is_empty() => out.push_str(message),
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
            out.push_str(message);
            out.push_str(" Systems: ");
            suggestions(list, out);
            out.push('.');
        }
    }
}

/// Writes an order reply as one line.
pub(crate) fn order(reply: &OrderReply, out: &mut String) {
    match reply {
        OrderReply::Reported { report, note, .. } => {
            out.push_str(&report.name);
            out.push_str(": ");
            match &report.text {
                Some(text) => out.push_str(text),
                None => {
                    for (index, shown) in report.values.iter().enumerate() {
                        if index > 0 {
                            out.push_str("; ");
                        }
                        value(shown, out);
                    }
                }
            }
            if let Some(note) = note {
                out.push_str(" (");
                out.push_str(note);
                out.push(')');
            }
        }
        OrderReply::AlreadyReported {
            value: shown,
            reported_in,
            ..
        } => {
            value(shown, out);
            out.push_str(", already reported on the ");
            out.push_str(reported_in);
            out.push('.');
        }
        OrderReply::NotRecorded { message, .. } => out.push_str(message),
        OrderReply::Refused {
            message,
            suggestions: list,
            ..
        } if list.is_empty() => out.push_str(message),
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
            out.push_str(message);
            out.push_str(" Consider: ");
            suggestions(list, out);
            out.push('.');
        }
    }
}

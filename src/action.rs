//! What a doctor can do in a turn (DESIGN.md §3.3), and the text protocol LLM agents speak.
//!
//! Structured actions are JSON tagged by `type`: `ask {text}`, `examine {system}`, `order {tests}`,
//! `diagnose {diagnosis, icd10?}`. [`parse_text`] reads the same actions from free text in the two
//! conventions agents use: SDBench-style tags (`<question>…</question>`, `<exam>…</exam>`,
//! `<test>…</test>`, `<diagnosis>…</diagnosis>`) and AgentClinic-style lines (`REQUEST TEST: …`,
//! `REQUEST EXAM: …`, `DIAGNOSIS READY: …`); plain text with neither is a question to the patient.

use serde::{Deserialize, Serialize};

/// One turn's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Ask the patient one or more questions.
    Ask {
        /// The question(s), as asked.
        text: String,
    },
    /// Examine one or more systems ("heart and lungs").
    Examine {
        /// The system(s), by id or in words.
        system: String,
    },
    /// Order tests, each by catalogue id or in words.
    Order {
        /// The tests.
        tests: Vec<String>,
    },
    /// Commit to a final diagnosis; ends the episode.
    Diagnose {
        /// The diagnosis in words.
        diagnosis: String,
        /// Its ICD-10-CM code, if the doctor gives one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icd10: Option<String>,
    },
}

impl Action {
    /// How many characters of text the action carries (for request limits).
    pub fn text_chars(&self) -> usize {
        match self {
            Action::Ask { text } => text.chars().count(),
            Action::Examine { system } => system.chars().count(),
            Action::Order { tests } => tests.iter().map(|test| test.chars().count()).sum(),
            Action::Diagnose { diagnosis, icd10 } => {
                diagnosis.chars().count() + icd10.as_ref().map_or(0, |code| code.chars().count())
            }
        }
    }

    /// The action's kind as a word (`ask`, `examine`, `order`, `diagnose`).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Ask { .. } => "ask",
            Action::Examine { .. } => "examine",
            Action::Order { .. } => "order",
            Action::Diagnose { .. } => "diagnose",
        }
    }
}

/// Why a text could not be read as an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but white space.
    #[error("the message is empty: ask a question, examine, order tests or give a diagnosis")]
    Empty,
    /// A tag opened and never closed.
    #[error("the tag <{0}> is never closed with </{0}>")]
    Unclosed(String),
    /// A tag the protocol does not have.
    #[error("<{0}> is not a tag of the protocol; use <question>, <exam>, <test> or <diagnosis>")]
    UnknownTag(String),
    /// A tag or line with nothing in it.
    #[error("the {0} is empty")]
    EmptyPart(&'static str),
    /// Two kinds of action in one turn.
    #[error("one turn takes one kind of action, but this message has both {0} and {1}")]
    Mixed(&'static str, &'static str),
    /// More than one diagnosis.
    #[error("give exactly one diagnosis per message")]
    SeveralDiagnoses,
}

/// Tag names and the part of a turn each gives.
const TAGS: &[(&str, Part)] = &[
    ("question", Part::Ask),
    ("ask", Part::Ask),
    ("exam", Part::Examine),
    ("examine", Part::Examine),
    ("examination", Part::Examine),
    ("test", Part::Order),
    ("order", Part::Order),
    ("diagnosis", Part::Diagnose),
];

/// AgentClinic-style line prefixes (upper case, compared case-insensitively).
const LINES: &[(&str, Part)] = &[
    ("REQUEST TEST:", Part::Order),
    ("REQUEST TESTS:", Part::Order),
    ("REQUEST EXAM:", Part::Examine),
    ("REQUEST EXAMINATION:", Part::Examine),
    ("DIAGNOSIS READY:", Part::Diagnose),
    ("FINAL DIAGNOSIS:", Part::Diagnose),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Ask,
    Examine,
    Order,
    Diagnose,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Ask => "a question",
            Part::Examine => "an examination",
            Part::Order => "a test order",
            Part::Diagnose => "a diagnosis",
        }
    }
}

/// Reads one turn's action from free text.
///
/// ```
/// use dxsim::action::{Action, parse_text};
/// let action = parse_text("<test>CBC</test><test>lipase</test>").unwrap();
/// assert_eq!(action, Action::Order { tests: vec!["CBC".into(), "lipase".into()] });
/// assert_eq!(
///     parse_text("DIAGNOSIS READY: Acute pancreatitis").unwrap(),
///     Action::Diagnose { diagnosis: "Acute pancreatitis".into(), icd10: None },
/// );
/// ```
pub fn parse_text(text: &str) -> Result<Action, ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut parts: Vec<(Part, String)> = tagged_parts(text)?;
    if parts.is_empty() {
        parts = line_parts(text);
    }
    if parts.is_empty() {
        return Ok(Action::Ask {
            text: text.trim().to_string(),
        });
    }
    let first = parts[0].0;
    if let Some((other, _)) = parts.iter().find(|(part, _)| *part != first) {
        return Err(ParseError::Mixed(first.name(), other.name()));
    }
    if let Some((part, _)) = parts.iter().find(|(_, body)| body.trim().is_empty()) {
        return Err(ParseError::EmptyPart(part.name()));
    }
    let bodies: Vec<String> = parts
        .into_iter()
        .map(|(_, body)| body.trim().to_string())
        .collect();
    Ok(match first {
        Part::Ask => Action::Ask {
            text: bodies.join(" "),
        },
        Part::Examine => Action::Examine {
            system: bodies.join(", "),
        },
        Part::Order => Action::Order { tests: bodies },
        Part::Diagnose => {
            let [diagnosis] =
                <[String; 1]>::try_from(bodies).map_err(|_| ParseError::SeveralDiagnoses)?;
            Action::Diagnose {
                diagnosis,
                icd10: None,
            }
        }
    })
}

/// The `<tag>body</tag>` parts of a message, in order; an error for a malformed tag.
fn tagged_parts(text: &str) -> Result<Vec<(Part, String)>, ParseError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            break;
        };
        let name = after[..close].trim().to_ascii_lowercase();
        if name.is_empty()
            || name.starts_with('/')
            || !name.chars().all(|c| c.is_ascii_alphabetic())
        {
            rest = &after[close + 1..];
            continue;
        }
        let Some(&(_, part)) = TAGS.iter().find(|(tag, _)| *tag == name) else {
            return Err(ParseError::UnknownTag(name));
        };
        let body_and_rest = &after[close + 1..];
        let closing = format!("</{name}>");
        let Some(end) = body_and_rest.to_ascii_lowercase().find(&closing) else {
            return Err(ParseError::Unclosed(name));
        };
        parts.push((part, body_and_rest[..end].to_string()));
        rest = &body_and_rest[end + closing.len()..];
    }
    Ok(parts)
}

/// The AgentClinic-style lines of a message; a line may list several tests separated by commas.
fn line_parts(text: &str) -> Vec<(Part, String)> {
    let mut parts = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let upper = trimmed.to_ascii_uppercase();
        if let Some((prefix, part)) = LINES.iter().find(|(prefix, _)| upper.starts_with(prefix)) {
            let body = trimmed[prefix.len()..].trim();
            if *part == Part::Order {
                parts.extend(
                    body.split([',', ';'])
                        .map(|test| (Part::Order, test.trim().replace('_', " "))),
                );
            } else {
                parts.push((*part, body.replace('_', " ")));
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_a_question() {
        assert_eq!(
            parse_text("When did the pain start?").expect("parses"),
            Action::Ask {
                text: "When did the pain start?".into()
            }
        );
    }

    #[test]
    fn several_question_tags_make_one_turn() {
        let action = parse_text(
            "Thinking...\n<question>Any fever?</question>\n<question>Any travel?</question>",
        )
        .expect("parses");
        assert_eq!(
            action,
            Action::Ask {
                text: "Any fever? Any travel?".into()
            }
        );
    }

    #[test]
    fn exam_tags_become_an_examination() {
        let action = parse_text("<exam>heart</exam><exam>abdomen</exam>").expect("parses");
        assert_eq!(
            action,
            Action::Examine {
                system: "heart, abdomen".into()
            }
        );
    }

    #[test]
    fn agentclinic_lines_are_read() {
        assert_eq!(
            parse_text("REQUEST TEST: Chest_X-Ray").expect("parses"),
            Action::Order {
                tests: vec!["Chest X-Ray".into()]
            }
        );
        assert_eq!(
            parse_text("request test: CBC, lipase").expect("parses"),
            Action::Order {
                tests: vec!["CBC".into(), "lipase".into()]
            }
        );
        assert_eq!(
            parse_text("I am confident.\nDIAGNOSIS READY: Ectopic pregnancy").expect("parses"),
            Action::Diagnose {
                diagnosis: "Ectopic pregnancy".into(),
                icd10: None
            }
        );
    }

    #[test]
    fn malformed_messages_get_errors_that_say_what_is_wrong() {
        assert_eq!(parse_text("   "), Err(ParseError::Empty));
        assert_eq!(
            parse_text("<test>CBC"),
            Err(ParseError::Unclosed("test".into()))
        );
        assert_eq!(
            parse_text("<scan>CT</scan>"),
            Err(ParseError::UnknownTag("scan".into()))
        );
        assert_eq!(
            parse_text("<test> </test>"),
            Err(ParseError::EmptyPart("a test order"))
        );
        assert_eq!(
            parse_text("<question>Pain?</question><test>CBC</test>"),
            Err(ParseError::Mixed("a question", "a test order"))
        );
        assert_eq!(
            parse_text("<diagnosis>A</diagnosis><diagnosis>B</diagnosis>"),
            Err(ParseError::SeveralDiagnoses)
        );
    }

    #[test]
    fn angle_brackets_that_are_not_tags_are_text() {
        assert_eq!(
            parse_text("Is the pain < 5 out of 10?").expect("parses"),
            Action::Ask {
                text: "Is the pain < 5 out of 10?".into()
            }
        );
    }

    #[test]
    fn structured_json_round_trips() {
        let action = Action::Diagnose {
            diagnosis: "Gout".into(),
            icd10: Some("M10.9".into()),
        };
        let json = serde_json::to_string(&action).expect("serialises");
        assert_eq!(
            json,
            r#"{"type":"diagnose","diagnosis":"Gout","icd10":"M10.9"}"#
        );
        assert_eq!(
            serde_json::from_str::<Action>(&json).expect("parses"),
            action
        );
        assert!(serde_json::from_str::<Action>(r#"{"type":"scan","what":"CT"}"#).is_err());
    }
}

//! Built-in LLM doctors: a single doctor speaking the text protocol, optionally carrying one of
//! AgentClinic's doctor biases, and a panel after MAI-DxO — one model playing hypothesis keeper, test
//! chooser, challenger, cost steward and checklist, whose deliberation is kept with the episode.
//!
//! Both keep the conversation (the observations as the user's turns, their own replies as the
//! assistant's) and turn a reply into an [`Action`]; the caller sends the requests (see
//! `crate::eval`), so an episode waiting on the model never holds the engine.

use std::fmt;
use std::str::FromStr;

use crate::action::{Action, parse_text};
use crate::episode::Info;
use crate::llm::{ChatMessage, ChatRequest, ResponseFormat};

/// A doctor bias, as AgentClinic names them: cognitive `recency`, `frequency`, `false_consensus`,
/// `status_quo`, `confirmation`, and the seven implicit ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoctorBiasKind {
    /// Swayed by a recent memorable case.
    Recency,
    /// Favours what is common in their practice.
    Frequency,
    /// Assumes colleagues would all agree with them.
    FalseConsensus,
    /// Sticks with the first impression.
    StatusQuo,
    /// Seeks evidence for the leading hypothesis and discounts the rest.
    Confirmation,
    /// Assumptions about patients of a gender.
    Gender,
    /// Assumptions about patients of a race or ethnicity.
    Race,
    /// Assumptions about patients of a sexual orientation.
    SexualOrientation,
    /// Assumptions about patients of a cultural background.
    Cultural,
    /// Assumptions about patients of an educational background.
    Education,
    /// Assumptions about patients of a religion.
    Religion,
    /// Assumptions about patients of a socioeconomic background.
    Socioeconomic,
}

impl DoctorBiasKind {
    /// Every doctor bias, cognitive first.
    pub const ALL: [DoctorBiasKind; 12] = [
        Self::Recency,
        Self::Frequency,
        Self::FalseConsensus,
        Self::StatusQuo,
        Self::Confirmation,
        Self::Gender,
        Self::Race,
        Self::SexualOrientation,
        Self::Cultural,
        Self::Education,
        Self::Religion,
        Self::Socioeconomic,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recency => "recency",
            Self::Frequency => "frequency",
            Self::FalseConsensus => "false_consensus",
            Self::StatusQuo => "status_quo",
            Self::Confirmation => "confirmation",
            Self::Gender => "gender",
            Self::Race => "race",
            Self::SexualOrientation => "sexual_orientation",
            Self::Cultural => "cultural",
            Self::Education => "education",
            Self::Religion => "religion",
            Self::Socioeconomic => "socioeconomic",
        }
    }
}

/// A doctor bias and its parameter: the belief a cognitive bias pushes (default `cancer`) or the
/// group an implicit one holds assumptions about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoctorBias {
    /// Which bias.
    pub kind: DoctorBiasKind,
    /// The belief or group.
    pub value: Option<String>,
}

impl FromStr for DoctorBias {
    type Err = String;

    /// Parses `KIND` or `KIND=VALUE`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, value) = match text.split_once('=') {
            Some((kind, value)) => (kind.trim(), Some(value.trim().to_string())),
            None => (text.trim(), None),
        };
        let kind = DoctorBiasKind::ALL
            .into_iter()
            .find(|candidate| candidate.as_str() == kind)
            .ok_or_else(|| {
                let names: Vec<&str> = DoctorBiasKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown doctor bias `{kind}`: expected one of {}",
                    names.join(", ")
                )
            })?;
        Ok(DoctorBias {
            kind,
            value: value.filter(|value| !value.is_empty()),
        })
    }
}

impl fmt::Display for DoctorBias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value}", self.kind.as_str()),
            None => f.write_str(self.kind.as_str()),
        }
    }
}

impl DoctorBias {
    /// How the bias is put to the model, in our own words.
    fn instruction(&self) -> String {
        let belief = self.value.as_deref().unwrap_or("cancer");
        let group = self.value.as_deref().unwrap_or("this patient's background");
        match self.kind {
            DoctorBiasKind::Recency => format!(
                "Last week you saw a patient with similar complaints who turned out to have {belief}, \
and it is still on your mind."
            ),
            DoctorBiasKind::Frequency => format!(
                "In your practice, {belief} is the diagnosis you make most often for complaints like \
these, and you tend to expect it."
            ),
            DoctorBiasKind::FalseConsensus => format!(
                "You assume that most of your colleagues would settle on {belief} for a patient like \
this, and that the evidence will agree."
            ),
            DoctorBiasKind::StatusQuo => "You prefer to stay with your first impression and are \
reluctant to change course or order tests that might overturn it."
                .to_string(),
            DoctorBiasKind::Confirmation => {
                "Once you have a leading diagnosis, you look for findings \
that support it and give less weight to findings that do not."
                    .to_string()
            }
            kind => format!(
                "You hold unexamined assumptions about patients of {group} ({what}), and they colour \
how you read this patient's account.",
                what = kind.as_str().replace('_', " ")
            ),
        }
    }
}

/// How the built-in LLM doctor works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoctorStyle {
    /// One doctor, optionally biased.
    Single {
        /// The bias it carries, if any.
        bias: Option<DoctorBias>,
    },
    /// The five-role panel, optionally held to a budget in dollars.
    Panel {
        /// Spending the panel should stay within.
        budget_usd: Option<u32>,
    },
}

/// Why a reply could not be turned into an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the doctor's reply is not an action ({reason}): {snippet}")]
pub struct ReplyError {
    /// What is wrong.
    pub reason: String,
    /// The start of the reply.
    pub snippet: String,
}

const PROTOCOL: &str = "Each turn, do exactly one of these, and write nothing else:\n\
- ask the patient one or more questions, as <question>…</question>;\n\
- examine, as <exam>system</exam> (for example cardiovascular, respiratory, abdominal, neurological, \
vital signs);\n\
- order tests, one per tag, as <test>name</test> (for example <test>cbc</test><test>troponin</test>);\n\
- commit to your final diagnosis, as <diagnosis>…</diagnosis>. This ends the case, so give one \
specific diagnosis only when you are ready. Name exactly one condition (with its cause or \
complication if you like: \"X due to Y\"); a list, \"X or Y\", \"possible X\" or \"no X\" is not a \
diagnosis and is sent back.\n\
Each visit (an unbroken run of questions and examinations) costs $300, and each test costs its \
Medicare price. You are judged on getting the diagnosis right and on what you spend.";

const PANEL: &str = "You are a panel of five physicians reasoning together over one patient, speaking \
with one voice. Each turn, deliberate in these roles, then choose one action:\n\
- hypothesis keeper: the three most likely diagnoses, with probabilities that sum to at most 1, \
updated on the latest findings;\n\
- test chooser: up to three next steps that would best separate those diagnoses;\n\
- challenger: the strongest argument against the leading diagnosis, and what would disprove it;\n\
- cost steward: which proposed steps are poor value, and a cheaper way to the same information;\n\
- checklist: the chosen action is one of the allowed forms, tests are named as orderable tests, and \
nothing is repeated without reason.\n\
Reply with one JSON object: {\"hypotheses\": [{\"diagnosis\": \"…\", \"probability\": 0.0}], \
\"next_steps\": [\"…\"], \"challenge\": \"…\", \"cost\": \"…\", \"checklist\": \"…\", \
\"action\": \"<one action in the tag form below>\"}.";

/// The built-in LLM doctor of one episode: its conversation, and the panel's deliberation so far.
#[derive(Debug, Clone)]
pub struct LlmDoctor {
    style: DoctorStyle,
    messages: Vec<ChatMessage>,
    deliberation: Vec<serde_json::Value>,
}

impl LlmDoctor {
    /// A doctor of `style` at the start of an episode.
    pub fn new(style: DoctorStyle) -> LlmDoctor {
        let mut system = String::new();
        match &style {
            DoctorStyle::Single { bias } => {
                system.push_str(
                    "You are a physician working out a patient's diagnosis one step at a time.\n",
                );
                system.push_str(PROTOCOL);
                if let Some(bias) = bias {
                    system.push_str("\n\n");
                    system.push_str(&bias.instruction());
                }
            }
            DoctorStyle::Panel { budget_usd } => {
                system.push_str(PANEL);
                system.push_str("\n\nAllowed actions. ");
                system.push_str(PROTOCOL);
                if let Some(budget) = budget_usd {
                    system.push_str(&format!(
                        "\nThe panel's budget for this patient is ${budget}; the cost steward keeps \
the total within it, and the panel commits to a diagnosis before it runs out."
                    ));
                }
            }
        }
        LlmDoctor {
            style,
            messages: vec![ChatMessage::system(system)],
            deliberation: Vec::new(),
        }
    }

    /// Adds what the last action revealed (or the presentation) to the conversation.
    pub fn observe(&mut self, text: &str, info: &Info) {
        let spent = info.cost.total.dollars();
        let mut message = format!(
            "{text}\n\n[turn {} of {}; spent so far ${spent:.2}",
            info.turn, info.turn_limit
        );
        if let Some(left) = info.budget_left {
            message.push_str(&format!("; budget left ${:.2}", left.dollars()));
        }
        message.push(']');
        self.messages.push(ChatMessage::user(message));
    }

    /// The request for the next action.
    pub fn request(&self) -> ChatRequest {
        ChatRequest {
            messages: self.messages.clone(),
            temperature: None,
            max_tokens: None,
            response_format: matches!(self.style, DoctorStyle::Panel { .. })
                .then_some(ResponseFormat::JsonObject),
        }
    }

    /// Takes the model's reply: records it in the conversation and reads the action from it. A reply
    /// that is not an action is answered with a reminder of the protocol, so the next request can
    /// try again.
    pub fn take_reply(&mut self, reply: &str) -> Result<Action, ReplyError> {
        self.messages.push(ChatMessage::assistant(reply));
        let parsed = match self.style {
            DoctorStyle::Single { .. } => parse_text(reply).map_err(|error| error.to_string()),
            DoctorStyle::Panel { .. } => self.panel_action(reply),
        };
        parsed.map_err(|reason| {
            self.messages.push(ChatMessage::user(format!(
                "That was not one action in the allowed form ({reason}). Reply again with exactly one action."
            )));
            ReplyError {
                reason,
                snippet: crate::llm::snippet(reply),
            }
        })
    }

    /// Reads the panel's JSON, keeps its deliberation and returns its action.
    fn panel_action(&mut self, reply: &str) -> Result<Action, String> {
        let value = crate::llm::json_object(reply)?;
        let action = value
            .get("action")
            .and_then(serde_json::Value::as_str)
            .ok_or("no `action` in the panel's reply")?
            .to_string();
        self.deliberation.push(value);
        parse_text(&action).map_err(|error| error.to_string())
    }

    /// The panel's deliberation, one JSON object per turn (empty for a single doctor).
    pub fn deliberation(&self) -> &[serde_json::Value] {
        &self.deliberation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info {
            case_handle: "x".into(),
            turn: 0,
            turn_limit: 40,
            cost: Default::default(),
            charges: Vec::new(),
            budget_left: None,
            outcome: None,
        }
    }

    #[test]
    fn doctor_biases_parse_and_reach_the_prompt() {
        let bias: DoctorBias = "recency=sarcoidosis".parse().expect("parses");
        assert_eq!(bias.kind, DoctorBiasKind::Recency);
        let doctor = LlmDoctor::new(DoctorStyle::Single { bias: Some(bias) });
        assert!(doctor.request().messages[0].content.contains("sarcoidosis"));
        assert!("status_quo".parse::<DoctorBias>().is_ok());
        let error = "grumpy".parse::<DoctorBias>().expect_err("unknown");
        assert!(error.contains("confirmation"), "{error}");
    }

    #[test]
    fn a_single_doctor_reads_the_text_protocol_and_is_reminded_when_it_strays() {
        let mut doctor = LlmDoctor::new(DoctorStyle::Single { bias: None });
        doctor.observe("45-year-old man with chest pain.", &info());
        assert_eq!(
            doctor
                .take_reply("<test>troponin</test>")
                .expect("an order"),
            Action::Order {
                tests: vec!["troponin".into()]
            }
        );
        assert!(doctor.take_reply("<test>troponin").is_err());
        let last = doctor
            .request()
            .messages
            .last()
            .cloned()
            .expect("a reminder");
        assert!(last.content.contains("not one action"));
    }

    #[test]
    fn the_panel_keeps_its_deliberation() {
        let mut doctor = LlmDoctor::new(DoctorStyle::Panel {
            budget_usd: Some(1500),
        });
        assert!(doctor.request().messages[0].content.contains("$1500"));
        doctor.observe("A cough for three weeks.", &info());
        let reply = r#"{"hypotheses":[{"diagnosis":"pneumonia","probability":0.5}],"next_steps":["chest x-ray"],"challenge":"could be TB","cost":"x-ray is cheap","checklist":"ok","action":"<test>chest x-ray</test>"}"#;
        assert_eq!(
            doctor.take_reply(reply).expect("an order"),
            Action::Order {
                tests: vec!["chest x-ray".into()]
            }
        );
        assert_eq!(doctor.deliberation().len(), 1);
        assert_eq!(
            doctor.request().response_format,
            Some(ResponseFormat::JsonObject)
        );
        assert!(doctor.take_reply(r#"{"hypotheses":[]}"#).is_err());
    }
}

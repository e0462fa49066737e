//! AgentClinic actor prompts read as what the patient would say.
//!
//! Some NEJM-extended records give the patient's story as a prompt to an actor: "For your role as a
//! patient, you are a 52-year-old man who…", markdown bullets ("- **Recent Events**: Remember, you
//! noticed…") and directions ("Do not reveal anything you are not asked about."). A dxsim patient
//! answers from facts, so the lead-in becomes the introduction ("A 52-year-old man who…"), the
//! markdown and the directions are left out, and what the actor is told about "you" is said in the
//! patient's own voice ("I noticed a rash on my thigh").

/// A story read out of actor text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientStory {
    /// The story, one sentence after another.
    pub text: String,
    /// Whether any role-play lead-in, markdown or second-person text was rewritten.
    pub rewritten: bool,
    /// How many directions to the actor were left out.
    pub directions: usize,
}

/// Openings that cast the actor ("For your role as a patient, you are …"); what follows is the
/// patient's introduction.
const LEAD_INS: &[&str] = &[
    "for your role as a patient, you are ",
    "for your role as the patient, you are ",
    "in this role-play, you are ",
    "in this role play, you are ",
    "for this role-play, you are ",
    "you are playing the role of ",
    "you will play the role of ",
    "you will be playing ",
    "you will act as ",
    "you are role-playing ",
    "as the patient, you are ",
    "imagine you are ",
    "pretend you are ",
    "pretend that you are ",
    "you are a patient: ",
];

/// Openings that wrap a fact in a reminder ("Remember, you noticed …"): the fact is kept.
const REMINDERS: &[&str] = &[
    "remember, ",
    "remember that ",
    "keep in mind that ",
    "keep in mind, ",
    "note that ",
];

/// Openings of a direction to the actor rather than a fact about the patient.
const DIRECTIONS: &[&str] = &[
    "do not ",
    "don't ",
    "never ",
    "only ",
    "answer ",
    "respond ",
    "reply ",
    "stay in character",
    "stay in role",
    "keep your answers",
    "keep answers",
    "if the doctor",
    "if asked",
    "if you are asked",
    "when the doctor",
    "when asked",
    "be ",
    "try to ",
    "please ",
    "avoid ",
    "use ",
    "speak ",
    "act ",
    "you should ",
    "you must ",
];

/// Labels of a markdown line that holds only directions ("- **Instructions**: …").
const DIRECTION_LABELS: &[&str] = &[
    "instructions",
    "instruction",
    "guidelines",
    "role",
    "rules",
    "reminders",
    "note",
    "notes",
];

/// Words after which a second-person "you" is an object ("told you" → "told me").
const OBJECT_CONTEXT: &[&str] = &[
    "to",
    "with",
    "for",
    "at",
    "about",
    "from",
    "of",
    "on",
    "by",
    "into",
    "told",
    "gave",
    "asked",
    "sent",
    "brought",
    "took",
    "saw",
    "seen",
    "examined",
    "made",
    "let",
    "helped",
    "woke",
    "wakes",
    "keeps",
    "kept",
    "bothers",
    "bothered",
    "makes",
    "hurt",
    "hurts",
    "gives",
    "given",
    "called",
    "visited",
    "treated",
    "prescribed",
    "showed",
];

/// Reads actor text as the patient's story; text with no actor cues comes back unchanged.
pub fn patient_story(raw: &str) -> PatientStory {
    let mut story = PatientStory {
        text: String::new(),
        rewritten: false,
        directions: 0,
    };
    let mut kept: Vec<String> = Vec::new();
    for line in raw.lines() {
        let Some(line) = without_markdown(line, &mut story) else {
            continue;
        };
        for sentence in split_sentences(&line) {
            if let Some(sentence) = read_sentence(sentence, &mut story) {
                kept.push(sentence);
            }
        }
    }
    story.text = kept.join(" ");
    story
}

/// A line without its bullet, emphasis and bold label; none when the label marks directions.
fn without_markdown(line: &str, story: &mut PatientStory) -> Option<String> {
    let trimmed = line.trim();
    let unbulleted = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .or_else(|| trimmed.strip_prefix("• "))
        .unwrap_or_else(|| trimmed.trim_start_matches('#').trim_start());
    let marked = unbulleted.len() != trimmed.len() || unbulleted.contains("**");
    let plain = unbulleted.replace("**", "").replace("__", "");
    if marked {
        story.rewritten = true;
    }
    if plain.trim().is_empty() {
        return None;
    }
    // A short label before a colon, as markdown writes section names.
    if let Some((label, rest)) = plain.split_once(':') {
        let short = label.split_whitespace().count() <= 4 && !label.trim().is_empty();
        if marked && short {
            if DIRECTION_LABELS.contains(&label.trim().to_lowercase().as_str()) {
                story.directions += 1;
                return None;
            }
            return Some(rest.trim().to_string());
        }
    }
    Some(plain.trim().to_string())
}

/// Sentences of one line, each with its closing mark.
fn split_sentences(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (at, byte) in bytes.iter().enumerate() {
        let closes = matches!(byte, b'.' | b'!' | b'?')
            && bytes.get(at + 1).is_none_or(|next| *next == b' ');
        if closes {
            out.push(line[start..=at].trim());
            start = at + 1;
        }
    }
    if start < line.len() {
        out.push(line[start..].trim());
    }
    out.retain(|sentence| sentence.chars().any(char::is_alphanumeric));
    out
}

/// One sentence as the patient's: a lead-in becomes an introduction, a reminder its fact, a
/// direction nothing, "you" the patient's "I".
fn read_sentence(sentence: &str, story: &mut PatientStory) -> Option<String> {
    let lower = sentence.to_lowercase();
    if let Some(lead_in) = LEAD_INS.iter().find(|lead_in| lower.starts_with(**lead_in)) {
        story.rewritten = true;
        return Some(capitalised(&third_person(&sentence[lead_in.len()..])));
    }
    let mut text = sentence;
    if let Some(reminder) = REMINDERS
        .iter()
        .find(|reminder| lower.starts_with(**reminder))
    {
        story.rewritten = true;
        text = &sentence[reminder.len()..];
    }
    let lower = text.to_lowercase();
    if DIRECTIONS
        .iter()
        .any(|direction| lower.starts_with(direction))
    {
        story.directions += 1;
        return None;
    }
    let voiced = first_person(text);
    if voiced != text {
        story.rewritten = true;
    }
    Some(capitalised(&voiced))
}

/// Second person said as first person: "you are" → "I am", "your" → "my", "told you" → "told me".
fn first_person(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut skip_next = false;
    for (at, word) in words.iter().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        let core = word.trim_end_matches([',', '.', ';', ':', '!', '?']);
        let tail = &word[core.len()..];
        let lower = core.to_lowercase();
        let next = words.get(at + 1).map(|next| {
            next.trim_end_matches([',', '.', ';', ':', '!', '?'])
                .to_lowercase()
        });
        let previous = at.checked_sub(1).map(|before| words[before].to_lowercase());
        let replaced = match lower.as_str() {
            "you" => match next.as_deref().filter(|_| tail.is_empty()) {
                Some("are") => {
                    skip_next = true;
                    Some("I am".to_string())
                }
                Some("were") => {
                    skip_next = true;
                    Some("I was".to_string())
                }
                _ => {
                    let object = previous
                        .as_deref()
                        .is_some_and(|before| OBJECT_CONTEXT.contains(&before))
                        || !tail.is_empty();
                    Some(if object { "me" } else { "I" }.to_string())
                }
            },
            "you're" => Some("I'm".to_string()),
            "you've" => Some("I've".to_string()),
            "you'd" => Some("I'd".to_string()),
            "you'll" => Some("I'll".to_string()),
            "your" => Some("my".to_string()),
            "yours" => Some("mine".to_string()),
            "yourself" => Some("myself".to_string()),
            _ => None,
        };
        match replaced {
            Some(mut replacement) => {
                if skip_next {
                    // The verb's own punctuation ("you are." is rare, but kept).
                    let verb = words[at + 1];
                    let verb_core = verb.trim_end_matches([',', '.', ';', ':', '!', '?']);
                    replacement.push_str(&verb[verb_core.len()..]);
                } else {
                    replacement.push_str(tail);
                }
                out.push(replacement);
            }
            None => out.push((*word).to_string()),
        }
    }
    out.join(" ")
}

/// The introduction in the third person: "a 38-year-old woman worried about a sore on your leg" →
/// "… on her leg", by the sex the introduction states ("their" when it states none).
fn third_person(text: &str) -> String {
    let lower = text.to_lowercase();
    let says = |words: &[&str]| {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| words.contains(&word))
    };
    let (subject, possessive, reflexive) = if says(&["woman", "girl", "female", "lady"]) {
        ("she", "her", "herself")
    } else if says(&["man", "boy", "male", "gentleman"]) {
        ("he", "his", "himself")
    } else {
        ("they", "their", "themselves")
    };
    text.split(' ')
        .map(|word| {
            let core = word.trim_end_matches([',', '.', ';', ':', '!', '?']);
            let tail = &word[core.len()..];
            let replaced = match core.to_lowercase().as_str() {
                "you" => subject,
                "your" => possessive,
                "yourself" => reflexive,
                _ => return word.to_string(),
            };
            format!("{replaced}{tail}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalised(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_story_is_left_alone() {
        let text = "A 45-year-old man presented with a rash. He had no fever.";
        let story = patient_story(text);
        assert_eq!(story.text, text);
        assert!(!story.rewritten);
        assert_eq!(story.directions, 0);
    }

    #[test]
    fn actor_text_becomes_the_patients_story() {
        let story = patient_story(
            "For your role as a patient, you are a 30-year-old teacher worried about your cough.\n\
             - **History**: Remember, you have had a cough for a week. Your doctor gave you \
             antibiotics that did not help you.\n\
             - **Instructions**: Never say the diagnosis.\n\
             Do not volunteer information. You're worried it is serious.",
        );
        assert_eq!(
            story.text,
            "A 30-year-old teacher worried about their cough. I have had a cough for a week. My doctor gave me \
             antibiotics that did not help me. I'm worried it is serious."
        );
        assert!(story.rewritten);
        assert_eq!(story.directions, 2);
    }
}

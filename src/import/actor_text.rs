//! AgentClinic actor prompts read as what the patient would say.
//!
//! Some NEJM-extended records give the patient's story as a prompt to an actor: "For your role as a
//! patient, you are a 52-year-old man who…", markdown bullets ("- **Recent Events**: Remember, you
//! noticed…") and directions ("Do not reveal anything you are not asked about."). A dxsim patient
//! answers from facts, so the lead-in becomes the introduction ("A 52-year-old man who…"), the
//! markdown and the directions are left out, and what the actor is told about "you" is said in the
//! patient's own voice ("I noticed a rash on my thigh").

use dxsim_gatekeeper::case::Sex;

use super::mapping::{demographics, person, sentences};

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
    "directions",
    "guidelines",
    "role",
    "rules",
    "reminders",
    "note",
    "notes",
    "how to answer",
    "behaviour",
    "behavior",
];

/// Labels that say who the patient is ("**Age:** 54", "**Age/sex:** 49-year-old woman", "**Who
/// you are:** a 72-year-old retired carpenter").
const PROFILE_LABELS: &[&str] = &[
    "age",
    "sex",
    "gender",
    "age/sex",
    "age/gender",
    "age and sex",
    "sex/age",
    "who you are",
    "you are",
    "your character",
    "character",
    "patient",
    "demographics",
    "name",
    "profile",
    "patient profile",
];

/// Labels of why the patient came.
const COMPLAINT_LABELS: &[&str] = &[
    "reason for visit",
    "chief complaint",
    "chief concern",
    "presenting complaint",
    "presenting problem",
    "main problem",
    "main concern",
    "what brings you in",
    "complaint",
    "concern",
    "presenting complaint and history",
];

/// Labels of the patient's own story in a plain-text script ("Story: …", "PMH: …"): the label is
/// left out, the text read.
const STORY_LABELS: &[&str] = &[
    "story",
    "history",
    "background",
    "timeline",
    "details",
    "symptoms",
    "recent events",
    "lifestyle",
    "habits",
    "social",
    "social history",
    "pmh",
    "past medical history",
    "medical history",
    "medications",
    "allergies",
    "family",
    "family history",
    "occupation",
    "other",
];

/// Words that mark a sentence as framing for an actor or a model rather than a fact about the
/// patient ("You are a standardized patient taking part in a role-play").
const FRAMING: &[&str] = &[
    "role-play",
    "role play",
    "roleplay",
    "standardized patient",
    "standardised patient",
    "simulated",
    "simulation",
    "in character",
    "in role",
    "the actor",
    "actor:",
    "portray",
    "play the patient",
    "play a patient",
    "playing the patient",
    "playing a patient",
    "acting as a patient",
    "act as the patient",
    "the doctor will",
    "described below",
    "not a medical expert",
    "medical terms",
    "medical jargon",
    "first person",
    "language model",
    "as an ai",
    "the model",
    "simulate",
    "you are playing",
    "you will be playing",
    "you are role-playing",
    "you are roleplaying",
];

/// Cues of a clause that tells the actor when or how to say something ("but say so only if
/// asked"): the clause is left out, the fact before it kept.
const CLAUSE_DIRECTIONS: &[&str] = &[
    "only if",
    "if asked",
    "if the doctor",
    "unless asked",
    "when asked",
    "should ask",
    "say so",
    "mention it",
    "will describe",
    "do not",
    "don't",
    "you should",
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

/// Marks that may close a word in running text ("you," "you.").
const CLOSING_MARKS: [char; 6] = [',', '.', ';', ':', '!', '?'];

/// Words after which a "you" before them is an object ("moved you to the scanner" → "moved me").
const OBJECT_FOLLOWERS: &[&str] = &[
    "to", "from", "with", "for", "at", "in", "on", "into", "out", "up", "down", "back", "off",
    "over", "away", "home", "again", "and", "or", "that", "a", "an", "the", "some",
];

/// Reads actor text as the patient's story; text with no actor cues comes back unchanged.
pub fn patient_story(raw: &str) -> PatientStory {
    let mut story = PatientStory {
        text: String::new(),
        rewritten: false,
        directions: 0,
    };
    let mut introduction: Option<String> = None;
    let mut profile: Vec<(String, String)> = Vec::new();
    let mut complaint: Option<String> = None;
    let mut facts: Vec<String> = Vec::new();
    let mut section = Section::Any;
    for line in raw.lines() {
        let Some(line) = read_line(line, &mut section, &mut story) else {
            continue;
        };
        match line {
            Line::Profile(label, text) => profile.push((label, text)),
            Line::Complaint(text) => complaint = Some(text),
            Line::Text(text) => {
                for sentence in sentences(&text) {
                    match read_sentence(&sentence, &mut story) {
                        Some(Sentence::Introduction(text)) if introduction.is_none() => {
                            introduction = Some(text);
                        }
                        Some(Sentence::Introduction(text) | Sentence::Fact(text)) => {
                            facts.push(text);
                        }
                        None => {}
                    }
                }
            }
        }
    }
    let mut told: Vec<String> = Vec::new();
    // The introduction: the lead-in's, else one made from the profile bullets and the complaint.
    let profile_text = profile
        .iter()
        .map(|(label, text)| format!("{label} {text}"))
        .collect::<Vec<_>>()
        .join(", ");
    let introduction = introduction.or_else(|| {
        if profile.is_empty() && complaint.is_none() {
            return None;
        }
        let who = who_from_profile(&profile, &profile_text);
        Some(match &complaint {
            Some(complaint) => {
                let complaint = third_person(complaint, &profile_text);
                let complaint = complaint.trim().trim_end_matches(['.', '!']);
                format!("{who} presents with: {}.", lowercase_first(complaint))
            }
            None => format!("{who}."),
        })
    });
    told.extend(introduction);
    if let Some(complaint) = complaint {
        told.push(with_full_stop(&capitalised(&first_person(&complaint))));
    }
    told.extend(facts);
    story.text = told.join(" ");
    story
}

/// One line of actor text, once its markdown is read.
enum Line {
    /// Who the patient is, under its label: an age, a sex, a description.
    Profile(String, String),
    /// Why the patient came, as the actor was told it.
    Complaint(String),
    /// Anything else: sentences to read one by one.
    Text(String),
}

/// One sentence, once read.
enum Sentence {
    /// The patient introduced in the third person ("A 52-year-old man who…").
    Introduction(String),
    /// A fact in the patient's voice.
    Fact(String),
}

/// The section a heading opens, which sorts the plain lines under it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Nothing special: lines are read as they are.
    Any,
    /// Why the patient came ("## Presenting complaint").
    Complaint,
    /// Directions to the actor ("## Instructions"): left out.
    Directions,
}

/// A line without its bullet, heading marks, emphasis and label, sorted by its label or its
/// section; none when it is a heading, a direction or empty.
fn read_line(line: &str, section: &mut Section, story: &mut PatientStory) -> Option<Line> {
    let trimmed = line.trim().trim_start_matches('>').trim();
    let letters: String = trimmed.chars().filter(|c| c.is_alphabetic()).collect();
    let shouting = letters.chars().count() >= 4 && !letters.chars().any(char::is_lowercase);
    if trimmed.starts_with('#') || (shouting && !trimmed.ends_with(['.', '?', '!'])) {
        // A heading ("## Presenting complaint", "PATIENT SCRIPT") names a section.
        story.rewritten = true;
        let name = trimmed.trim_start_matches('#').trim().to_lowercase();
        *section = if COMPLAINT_LABELS.contains(&name.as_str()) {
            Section::Complaint
        } else if DIRECTION_LABELS.contains(&name.as_str()) {
            Section::Directions
        } else {
            Section::Any
        };
        return None;
    }
    if trimmed.starts_with('(') && trimmed.ends_with(')') {
        // "(Actor: answer in plain language.)"
        story.directions += 1;
        return None;
    }
    let unbulleted = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .or_else(|| trimmed.strip_prefix("• "))
        .unwrap_or(trimmed);
    let marked = unbulleted.len() != trimmed.len() || unbulleted.contains("**");
    let plain = unbulleted.replace("**", "").replace("__", "");
    if marked {
        story.rewritten = true;
    }
    let plain = plain.trim();
    if plain.is_empty() {
        return None;
    }
    if *section == Section::Directions {
        story.directions += 1;
        return None;
    }
    // A short label before a colon: any label after markdown, a known one in plain text
    // ("Age/Sex: 61 M", "Chief concern: …").
    if let Some((label, rest)) = plain.split_once(':') {
        let label = label.trim().to_lowercase();
        let short = label.split_whitespace().count() <= 4 && !label.is_empty();
        let known = [
            DIRECTION_LABELS,
            PROFILE_LABELS,
            COMPLAINT_LABELS,
            STORY_LABELS,
        ]
        .iter()
        .any(|labels| labels.contains(&label.as_str()));
        if short && (marked || known) {
            story.rewritten = true;
            let rest = rest.trim().to_string();
            if DIRECTION_LABELS.contains(&label.as_str()) {
                story.directions += 1;
                return None;
            }
            if rest.is_empty() {
                return None;
            }
            if PROFILE_LABELS.contains(&label.as_str()) {
                return Some(Line::Profile(label, rest));
            }
            if COMPLAINT_LABELS.contains(&label.as_str()) {
                return Some(Line::Complaint(rest));
            }
            return Some(Line::Text(rest));
        }
    }
    if *section == Section::Complaint {
        return Some(Line::Complaint(plain.to_string()));
    }
    Some(Line::Text(plain.to_string()))
}

/// "A 54-year-old woman" from profile bullets ("Age: 54", "Sex: Female", "Age/Sex: 61 M"), or the
/// description they give ("a 72-year-old retired carpenter"), or "A patient".
fn who_from_profile(profile: &[(String, String)], profile_text: &str) -> String {
    let described = profile.iter().find(|(_, text)| {
        let lower = text.to_lowercase();
        lower.starts_with("a ") || lower.starts_with("an ")
    });
    if let Some((_, described)) = described {
        return capitalised(&third_person(described, profile_text));
    }
    let stated = demographics(profile_text);
    // A bare number under an age label ("Age/Sex: 61 M").
    let years = stated.age_years.or_else(|| {
        profile
            .iter()
            .filter(|(label, _)| label.contains("age"))
            .find_map(|(_, text)| {
                let digits: String = text
                    .trim()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
    });
    match (years, stated.sex) {
        (Some(years), Some(sex)) => person(years, stated.age_months, sex),
        (Some(years), None) => format!("A {years}-year-old patient"),
        (None, Some(Sex::Male)) => "A man".to_string(),
        (None, Some(Sex::Female)) => "A woman".to_string(),
        (None, None) => "A patient".to_string(),
    }
}

/// One sentence as the patient's: a lead-in becomes an introduction, a reminder its fact, framing
/// and directions nothing, "you" the patient's "I".
fn read_sentence(sentence: &str, story: &mut PatientStory) -> Option<Sentence> {
    let lower = sentence.to_lowercase();
    let lead_in = LEAD_INS
        .iter()
        .find(|lead_in| lower.starts_with(**lead_in))
        .map(|lead_in| lead_in.len())
        .or_else(|| {
            // "Your name is Maren Holt, and you are a 33-year-old woman who…"
            lower
                .strip_prefix("your name is ")
                .and_then(|rest| rest.find(", and you are "))
                .map(|at| "your name is ".len() + at + ", and you are ".len())
        });
    // A lead-in that says who the patient is introduces them; one that does not is framing.
    if let Some(length) = lead_in.filter(|length| {
        let rest = sentence[*length..].to_lowercase();
        let told = demographics(&rest);
        told.age_years.is_some()
            || told.sex.is_some()
            || ((rest.starts_with("a ") || rest.starts_with("an ")) && !rest.contains("patient"))
    }) {
        story.rewritten = true;
        let rest = &sentence[length..];
        return Some(Sentence::Introduction(capitalised(&third_person(
            rest, rest,
        ))));
    }
    if FRAMING.iter().any(|cue| lower.contains(cue)) {
        story.directions += 1;
        return None;
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
    let fact = without_direction_clauses(text, story);
    if fact.is_empty() {
        return None;
    }
    let voiced = first_person(&fact);
    if voiced != fact {
        story.rewritten = true;
    }
    Some(Sentence::Fact(with_full_stop(&capitalised(&voiced))))
}

/// A sentence without the clauses that tell the actor when or how to say it ("I had chickenpox as
/// a child, but say so only if asked" → "I had chickenpox as a child").
fn without_direction_clauses(text: &str, story: &mut PatientStory) -> String {
    let body = text.trim().trim_end_matches(['.', '!']);
    let mut kept: Vec<&str> = Vec::new();
    for clause in body.split_inclusive([',', ';', ':']) {
        let lower = clause.to_lowercase();
        let opening = lower
            .trim_start()
            .trim_start_matches("but ")
            .trim_start_matches("and ");
        if CLAUSE_DIRECTIONS
            .iter()
            .any(|cue| lower.contains(cue) || opening.starts_with(cue))
        {
            story.directions += 1;
            break;
        }
        kept.push(clause);
    }
    kept.concat()
        .trim()
        .trim_end_matches([',', ';', ':'])
        .trim()
        .to_string()
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
        let core = word.trim_end_matches(CLOSING_MARKS);
        let tail = &word[core.len()..];
        let lower = core.to_lowercase();
        let next = words
            .get(at + 1)
            .map(|next| next.trim_end_matches(CLOSING_MARKS).to_lowercase());
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
                _ => Some(if is_object(&words, at) { "me" } else { "I" }.to_string()),
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
                    let verb_core = verb.trim_end_matches(CLOSING_MARKS);
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
/// "… on her leg", by the sex `profile` states ("their" when it states none).
fn third_person(text: &str, profile: &str) -> String {
    let (subject, object, possessive, reflexive) = match demographics(profile).sex {
        Some(Sex::Female) => ("she", "her", "her", "herself"),
        Some(Sex::Male) => ("he", "him", "his", "himself"),
        None => ("they", "them", "their", "themselves"),
    };
    let singular = subject != "they";
    let mut after_subject = false;
    let words: Vec<&str> = text.split(' ').collect();
    words
        .iter()
        .enumerate()
        .map(|(at, word)| {
            let core = word.trim_end_matches(CLOSING_MARKS);
            let tail = &word[core.len()..];
            let lower = core.to_lowercase();
            // The verb after "he" or "she" agrees with it ("you have" → "she has").
            if std::mem::take(&mut after_subject) && singular {
                let agreed = match lower.as_str() {
                    "have" => Some("has"),
                    "are" => Some("is"),
                    "were" => Some("was"),
                    "do" => Some("does"),
                    "don't" => Some("doesn't"),
                    _ => None,
                };
                if let Some(agreed) = agreed {
                    return format!("{agreed}{tail}");
                }
                const UNCHANGED: &[&str] = &[
                    "can",
                    "cannot",
                    "could",
                    "will",
                    "would",
                    "should",
                    "may",
                    "might",
                    "must",
                    "also",
                    "never",
                    "often",
                    "still",
                    "always",
                    "sometimes",
                    "just",
                    "only",
                    "had",
                    "did",
                    "was",
                    "not",
                ];
                if tail.is_empty()
                    && lower.chars().all(|c| c.is_ascii_lowercase())
                    && !UNCHANGED.contains(&lower.as_str())
                    && !lower.ends_with("ly")
                    && !lower.ends_with("ed")
                {
                    return format!(
                        "{core}{}",
                        if core.ends_with(['s', 'h', 'x']) {
                            "es"
                        } else {
                            "s"
                        }
                    );
                }
                return word.to_string();
            }
            let replaced = match lower.as_str() {
                "you" if is_object(&words, at) => object,
                "you" => {
                    after_subject = tail.is_empty();
                    subject
                }
                "your" => possessive,
                "yourself" => reflexive,
                _ => return word.to_string(),
            };
            format!("{replaced}{tail}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the "you" at `words[at]` is an object ("moved you to", "wakes you", "told you"): after
/// a verb or preposition that takes one, before a preposition, or closing a clause.
fn is_object(words: &[&str], at: usize) -> bool {
    let bare = |word: &str| word.trim_end_matches(CLOSING_MARKS).to_lowercase();
    let closes = words[at].ends_with(CLOSING_MARKS);
    let previous = at.checked_sub(1).map(|before| bare(words[before]));
    let next = words.get(at + 1).map(|next| bare(next));
    closes
        || previous
            .as_deref()
            .is_some_and(|before| OBJECT_CONTEXT.contains(&before))
        || next
            .as_deref()
            .is_none_or(|next| OBJECT_FOLLOWERS.contains(&next))
}

fn lowercase_first(text: &str) -> String {
    let first_word = text.split(' ').next().unwrap_or_default();
    // "MRI…" and "I…" keep their capitals.
    let kept = first_word == "I"
        || (first_word.chars().count() > 1 && !first_word.chars().any(char::is_lowercase));
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !kept => first.to_lowercase().chain(chars).collect(),
        _ => text.to_string(),
    }
}

fn with_full_stop(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
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

    #[test]
    fn profile_bullets_introduce_the_patient_and_framing_is_left_out() {
        let story = patient_story(
            "You are a standardized patient in a role-play.\n\
             **Age:** 54\n\
             **Sex:** Female\n\
             - **Reason for visit:** A rash on your back\n\
             - **History:** You sit with a hot-water bottle on your back every evening.\n\
             Remember, you had chickenpox as a child, but say so only if asked.\n\
             (Actor: keep it short.)",
        );
        assert_eq!(
            story.text,
            "A 54-year-old woman presents with: a rash on her back. A rash on my back. I sit \
             with a hot-water bottle on my back every evening. I had chickenpox as a child."
        );
        assert_eq!(story.directions, 3);
        let terse = patient_story("- **Age/Sex:** 61 M\n- **Main problem:** Your knee is swollen");
        assert_eq!(
            terse.text,
            "A 61-year-old man presents with: his knee is swollen. My knee is swollen."
        );
        let named = patient_story(
            "- **Name:** Mrs. Diaz\n- **Age:** 70\n- **Concern:** You have a cough and you wheeze",
        );
        assert_eq!(
            named.text,
            "A 70-year-old woman presents with: she has a cough and she wheezes. I have a cough \
             and I wheeze."
        );
    }
}

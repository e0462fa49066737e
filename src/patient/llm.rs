//! What an LLM patient is told, and the guard its replies pass (DESIGN.md §3.6).
//!
//! The prompt is built from the presentation and the history only — never the examination, the test
//! results, the differential or the diagnosis — so the model cannot leak what it was never shown. Its
//! replies still pass a guard: a sentence naming the diagnosis, a synonym or its ICD-10-CM code is
//! dropped, and a reply is cut to three sentences.

use dxsim_gatekeeper::Case;

use super::bias::{ActiveBias, BiasKind};

/// The most sentences a patient says in one reply.
pub const MAX_SENTENCES: usize = 3;

/// What the patient says when the guard leaves nothing of a reply.
pub const EMPTY_REPLY: &str = "I'm not sure, doctor.";

/// The conversation an LLM patient is given for one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientPrompt {
    /// Who the patient is, what they know, how to speak, and the bias they carry.
    pub system: String,
    /// The questions already asked and the answers given, in order.
    pub exchanges: Vec<(String, String)>,
    /// This turn's question.
    pub question: String,
}

/// The prompt for `question`, given the case, the bias the patient carries and the conversation so far.
pub fn patient_prompt(
    case: &Case,
    bias: Option<&ActiveBias>,
    exchanges: Vec<(String, String)>,
    question: &str,
) -> PatientPrompt {
    let shown = &case.presentation;
    let mut system = format!(
        "You are playing a patient in a medical consultation, for the training of doctors. You are a \
{age}-year-old {sex} seen in the {setting}. Why you came: {summary}\n\n\
Everything you know about your health is listed below, in your own words. Answer only what the \
doctor asks, from this list. If the list does not cover a question, say you don't know or haven't \
noticed — never invent a symptom, a result or a history. You have had no tests and have not been told \
what is wrong; you do not know medical terms a layperson would not. Never name or guess a diagnosis \
unless the notes below tell you to hold a belief. Speak as the patient, in plain words, in one to \
three sentences, without stage directions.\n\nWhat you know:\n",
        age = shown.age_years,
        sex = shown.sex.as_str(),
        setting = shown.setting,
        summary = shown.summary,
    );
    for item in &case.history {
        system.push_str(&format!("- ({}) {}\n", item.topic.as_str(), item.text));
    }
    if let Some(note) = bias.and_then(bias_note) {
        system.push_str("\nHow you behave:\n");
        system.push_str(&note);
        system.push('\n');
    }
    PatientPrompt {
        system,
        exchanges,
        question: question.to_string(),
    }
}

/// The behaviour a bias asks of an LLM patient, in our own words; none for an implicit bias that is
/// not triggered.
fn bias_note(bias: &ActiveBias) -> Option<String> {
    if !bias.triggered() {
        return None;
    }
    let belief = bias.belief_words().unwrap_or("something serious");
    let note = match bias.kind() {
        BiasKind::Recency => format!(
            "Someone close to you was recently diagnosed with {belief}, and you are worried you have \
the same. Mention it early and come back to it."
        ),
        BiasKind::Frequency => format!(
            "You believe symptoms like yours are nearly always caused by {belief}, because that is \
what you hear about most. Say so, and doubt other explanations."
        ),
        BiasKind::FalseConsensus => format!(
            "Your family and friends all agree this is {belief}, and you assume any sensible person \
would too. Say so, and be surprised if the doctor thinks otherwise."
        ),
        BiasKind::SelfDiagnosis => format!(
            "You have read about your symptoms online and are convinced you have {belief}. Say so, \
and push back on tests that do not look for it."
        ),
        kind => format!(
            "You find it hard to trust doctors of this doctor's {group}, and this shows: you give \
short answers, hold back on personal topics until asked twice, and ask whether tests are really needed.",
            group = implicit_group(kind)
        ),
    };
    Some(note)
}

fn implicit_group(kind: BiasKind) -> &'static str {
    match kind {
        BiasKind::Gender => "gender",
        BiasKind::Race => "race or ethnicity",
        BiasKind::SexualOrientation => "sexual orientation",
        BiasKind::Cultural => "cultural background",
        BiasKind::Education => "educational background",
        BiasKind::Religion => "religion",
        BiasKind::Socioeconomic => "social and economic background",
        BiasKind::Recency
        | BiasKind::Frequency
        | BiasKind::FalseConsensus
        | BiasKind::SelfDiagnosis => "background",
    }
}

/// A model's reply made safe to show: sentences naming the diagnosis, a synonym or its ICD-10-CM code
/// dropped, at most [`MAX_SENTENCES`] kept, and [`EMPTY_REPLY`] if nothing is left.
pub fn guard_reply(case: &Case, reply: &str) -> String {
    let names = crate::judge::diagnosis_names(case);
    let kept: Vec<&str> = sentences(reply)
        .filter(|sentence| names.found_in(sentence).is_none())
        .take(MAX_SENTENCES)
        .collect();
    if kept.is_empty() {
        EMPTY_REPLY.to_string()
    } else {
        kept.join(" ")
    }
}

/// The sentences of a text, each with its closing punctuation: a sentence ends at `.`, `!` or `?`
/// followed by white space (so "I21.19" stays whole), or at a line break.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, character)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        if character == '\n' || (matches!(character, '.' | '!' | '?') && next_is_space) {
            let end = index + character.len_utf8();
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    pieces.push(&text[start..]);
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|sentence| !sentence.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::CaseLibrary;
    use crate::patient::bias::{BiasSpec, DoctorProfile};
    use rand::SeedableRng;

    fn case() -> std::sync::Arc<Case> {
        let library = CaseLibrary::builtin().expect("library");
        std::sync::Arc::clone(
            library
                .get("cardio-chest-pressure-snow")
                .expect("the STEMI case"),
        )
    }

    #[test]
    fn the_prompt_holds_the_history_and_nothing_hidden() {
        let case = case();
        let prompt = patient_prompt(&case, None, Vec::new(), "When did it start?");
        for item in &case.history {
            assert!(prompt.system.contains(&item.text));
        }
        let lower = prompt.system.to_lowercase();
        assert!(!lower.contains(&case.diagnosis.name.to_lowercase()));
        assert!(!lower.contains(&case.diagnosis.icd10.to_lowercase()));
        for finding in &case.exam {
            assert!(
                !prompt.system.contains(&finding.text),
                "exam {} leaked",
                finding.system
            );
        }
        for test in &case.tests {
            if let Some(report) = &test.report {
                assert!(
                    !prompt.system.contains(report.as_str()),
                    "{} leaked",
                    test.id
                );
            }
        }
        for item in &case.differential {
            assert!(!lower.contains(&item.name.to_lowercase()), "{}", item.name);
        }
    }

    #[test]
    fn a_cognitive_bias_is_told_its_belief() {
        let case = case();
        let spec = BiasSpec {
            kind: BiasKind::SelfDiagnosis,
            belief: Some("heartburn".into()),
            target: None,
        };
        let bias = ActiveBias::new(
            &spec,
            &[],
            &DoctorProfile::default(),
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
        );
        let prompt = patient_prompt(&case, Some(&bias), Vec::new(), "Anything else?");
        assert!(prompt.system.contains("convinced you have heartburn"));
    }

    #[test]
    fn the_guard_drops_sentences_naming_the_diagnosis_and_keeps_three() {
        let case = case();
        let reply = format!(
            "It started an hour ago. I think it's {}. It hurts. It spreads to my jaw. I feel sick.",
            case.diagnosis.synonyms[0]
        );
        let guarded = guard_reply(&case, &reply);
        assert_eq!(
            guarded,
            "It started an hour ago. It hurts. It spreads to my jaw."
        );
        assert_eq!(
            guard_reply(&case, &format!("Code {}.", case.diagnosis.icd10)),
            EMPTY_REPLY
        );
    }
}

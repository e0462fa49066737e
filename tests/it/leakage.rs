//! Hidden information never leaks (DESIGN.md §5): an exhaustive doctor walks every case — every history
//! topic, every exam system, every catalogue test — and nothing it observes before its diagnosis may
//! contain the diagnosis, a synonym, its ICD-10-CM code, a teaching point or a synthetic marker. The one
//! exception is the report of a test the case marks confirmatory, which that test (or an equivalent
//! study of its family) is allowed to reveal.

use dxsim::action::Action;
use dxsim::agents::TOPIC_QUESTIONS;
use dxsim::episode::{CaseSelector, Env, EpisodeOptions, Finding};
use dxsim::library::CaseLibrary;
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply};
use dxsim_gatekeeper::text::{contains_phrase, normalize};
use dxsim_gatekeeper::{Case, Catalogue};

/// Words that would betray a synthesised result (not "synthetic" alone: "synthetic cannabinoids" is a
/// drug class a real toxicology report names).
const SYNTHETIC_MARKERS: &[&str] = &[
    "synthetic result",
    "synthetic value",
    "synthetic finding",
    "synthesised",
    "synthesized",
    "simulated",
    "placeholder",
    "template",
    "generated",
    "made up",
    "not in the case",
    "default result",
];

/// Every phrase that must not appear, normalised.
fn forbidden(case: &Case) -> Vec<String> {
    let mut phrases: Vec<String> = std::iter::once(&case.diagnosis.name)
        .chain(&case.diagnosis.synonyms)
        .chain(&case.teaching_points)
        .map(|text| normalize(text))
        .collect();
    phrases.push(normalize(&case.diagnosis.icd10));
    phrases.extend(SYNTHETIC_MARKERS.iter().map(|marker| marker.to_string()));
    phrases.retain(|phrase| !phrase.is_empty());
    phrases
}

/// The case-derived texts of a finding (not the names of what the doctor itself asked for), and
/// whether it is a confirmatory report.
fn revealed_texts(finding: &Finding, case: &Case, catalogue: &Catalogue) -> (Vec<String>, bool) {
    match finding {
        Finding::Answer { text } => (vec![text.clone()], false),
        Finding::Exam {
            reply: ExamReply::Finding { text, .. },
        } => (vec![text.clone()], false),
        Finding::Order {
            reply: OrderReply::Reported { report, note, .. },
        } => {
            let confirmatory = case
                .study(catalogue, &report.test)
                .is_some_and(|listed| listed.confirmatory);
            let mut texts: Vec<String> = report
                .values
                .iter()
                .map(|value| format!("{} {}", value.text, value.reference))
                .collect();
            texts.extend(report.text.clone());
            texts.extend(note.clone());
            (texts, confirmatory)
        }
        Finding::Order {
            reply: OrderReply::AlreadyReported { value, .. },
        } => (vec![value.text.clone()], false),
        Finding::Presentation { case: public } => (
            vec![
                public.summary.clone(),
                public.setting.clone(),
                public.id.clone(),
            ],
            false,
        ),
        _ => (Vec::new(), false),
    }
}

#[test]
fn nothing_before_the_diagnosis_reveals_it() {
    let library = CaseLibrary::builtin().expect("valid library");
    let catalogue = Catalogue::builtin();
    let mut env = Env::new(library);
    let mut actions: Vec<Action> = TOPIC_QUESTIONS
        .iter()
        .map(|(_, question)| Action::Ask {
            text: (*question).to_string(),
        })
        .collect();
    actions.extend(catalogue.systems().iter().map(|system| Action::Examine {
        system: system.id.clone(),
    }));
    let tests: Vec<String> = catalogue
        .tests()
        .iter()
        .map(|test| test.id.clone())
        .collect();
    actions.extend(tests.chunks(25).map(|chunk| Action::Order {
        tests: chunk.to_vec(),
    }));
    let mut leaks = Vec::new();
    for case in library.cases() {
        let options = EpisodeOptions {
            case: CaseSelector {
                id: Some(case.id.clone()),
                ..CaseSelector::default()
            },
            turn_limit: 1_000,
            ..EpisodeOptions::default()
        };
        let phrases = forbidden(case);
        let code = case.diagnosis.icd10.to_lowercase();
        let (shown, info) = env.reset(0, options).expect("reset");
        let mut observed: Vec<(Finding, String)> = shown
            .findings
            .into_iter()
            .map(|finding| (finding, String::new()))
            .collect();
        let mut infos = vec![serde_json::to_string(&info).expect("serialises")];
        for action in &actions {
            let step = env.step(action.clone()).expect("step");
            assert!(
                step.info.outcome.is_none(),
                "{}: the outcome was shown before the end",
                case.id
            );
            infos.push(serde_json::to_string(&step.info).expect("serialises"));
            observed.extend(
                step.observation
                    .findings
                    .into_iter()
                    .map(|finding| (finding, action.kind().to_string())),
            );
        }
        for (finding, _) in &observed {
            let (texts, confirmatory) = revealed_texts(finding, case, catalogue);
            if confirmatory {
                continue;
            }
            for text in texts {
                let normalized = normalize(&text);
                if let Some(phrase) = phrases
                    .iter()
                    .find(|phrase| contains_phrase(&normalized, phrase))
                {
                    leaks.push(format!("{}: {phrase:?} in {text:?}", case.id));
                } else if text.to_lowercase().contains(&code) {
                    leaks.push(format!("{}: the code {code} in {text:?}", case.id));
                }
            }
        }
        for info in infos {
            let normalized = normalize(&info);
            if let Some(phrase) = phrases
                .iter()
                .take(1 + case.diagnosis.synonyms.len())
                .find(|phrase| contains_phrase(&normalized, phrase))
            {
                leaks.push(format!("{}: {phrase:?} in info {info}", case.id));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

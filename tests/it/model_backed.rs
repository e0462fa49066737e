//! Episodes whose patient or gatekeeper is a language model: the engine hands out the prompt, takes
//! the reply, guards it, logs it, and replays the episode exactly from its log.

use dxsim::action::Action;
use dxsim::episode::{
    CaseSelector, Env, EnvError, EpisodeLog, EpisodeOptions, GatekeeperBackend, ModelPrompt,
    PatientBackend,
};
use dxsim::library::CaseLibrary;

const CASE: &str = "cardio-chest-pressure-snow";

fn options() -> EpisodeOptions {
    EpisodeOptions {
        case: CaseSelector {
            id: Some(CASE.into()),
            ..CaseSelector::default()
        },
        patient_backend: PatientBackend::Llm,
        ..EpisodeOptions::default()
    }
}

fn ask(text: &str) -> Action {
    Action::Ask { text: text.into() }
}

#[test]
fn a_model_patient_episode_is_guarded_logged_and_replayed_exactly() {
    let library = CaseLibrary::builtin().expect("library");
    let case = library.get(CASE).expect("case");
    let mut env = Env::new(library);
    env.reset(3, options()).expect("reset");

    // A question needs the model's reply; stepping without it changes nothing.
    assert_eq!(
        env.step(ask("When did it start?")),
        Err(EnvError::ModelReplyNeeded)
    );
    let Some(ModelPrompt::Patient(prompt)) = env
        .model_prompt(&ask("When did it start?"))
        .expect("prompt")
    else {
        panic!("the patient's model is needed");
    };
    assert_eq!(prompt.question, "When did it start?");
    assert!(prompt.exchanges.is_empty());
    let step = env
        .step_with_reply(
            ask("When did it start?"),
            Some("About an hour ago, while I was shovelling snow.".into()),
        )
        .expect("step");
    assert_eq!(
        step.observation.text,
        "About an hour ago, while I was shovelling snow."
    );

    // The next prompt carries the conversation so far.
    let Some(ModelPrompt::Patient(second)) = env
        .model_prompt(&ask("What do you think it is?"))
        .expect("prompt")
    else {
        panic!("the patient's model is needed");
    };
    assert_eq!(second.exchanges.len(), 1);

    // A reply naming the diagnosis loses that sentence.
    let leaky = format!(
        "I bet it's an {}. It really hurts.",
        case.diagnosis.synonyms[0]
    );
    let step = env
        .step_with_reply(ask("What do you think it is?"), Some(leaky))
        .expect("step");
    assert_eq!(step.observation.text, "It really hurts.");

    // Examinations and orders need no model.
    let exam = Action::Examine {
        system: "cardiovascular".into(),
    };
    assert_eq!(env.model_prompt(&exam).expect("no prompt"), None);
    env.step(exam).expect("exam");
    env.step(Action::Diagnose {
        diagnosis: "Inferior STEMI".into(),
        icd10: None,
    })
    .expect("diagnose");

    let log = env.log().expect("a log");
    let text = log.to_jsonl();
    assert!(text.contains("shovelling snow"));
    let replayed = EpisodeLog::from_jsonl(&text)
        .expect("parses")
        .replay(library)
        .expect("replays exactly");
    assert_eq!(replayed, env.transcript());

    // A log whose model reply was tampered with diverges.
    let tampered = text.replace(
        r#""model_reply":"About an hour ago, while I was shovelling snow.""#,
        r#""model_reply":"Yesterday morning.""#,
    );
    assert_ne!(tampered, text);
    let error = EpisodeLog::from_jsonl(&tampered)
        .expect("parses")
        .replay(library)
        .expect_err("diverges");
    assert!(error.to_string().contains("diverged at turn 1"), "{error}");
}

#[test]
fn a_model_gatekeeper_writes_only_what_the_case_lacks_and_replays_exactly() {
    let library = CaseLibrary::builtin().expect("library");
    let mut env = Env::new(library);
    let options = EpisodeOptions {
        patient_backend: PatientBackend::RuleBased,
        gatekeeper_backend: GatekeeperBackend::Llm,
        ..options()
    };
    env.reset(5, options).expect("reset");

    // Systems the case records need no model; asking the patient needs none either.
    let recorded = Action::Examine {
        system: "cardiovascular".into(),
    };
    assert_eq!(env.model_prompt(&recorded).expect("prompt"), None);
    assert_eq!(env.model_prompt(&ask("Any pain?")).expect("prompt"), None);
    env.step(recorded)
        .expect("a recorded system needs no model");

    // Skin and the abdominal film are not in the case: the model is asked for exactly those.
    let lacking = Action::Examine {
        system: "skin and abdomen".into(),
    };
    assert_eq!(env.step(lacking.clone()), Err(EnvError::ModelReplyNeeded));
    let Some(ModelPrompt::Gatekeeper(prompt)) = env.model_prompt(&lacking).expect("prompt") else {
        panic!("the gatekeeper's model is needed");
    };
    let ids: Vec<&str> = prompt.items.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["skin", "abdomen"]);
    let step = env
        .step_with_reply(
            lacking,
            Some("skin: Pale and sweaty, no rash.\nabdomen: Soft and non-tender.".into()),
        )
        .expect("step");
    assert!(step.observation.text.contains("Pale and sweaty, no rash."));
    assert!(step.observation.text.contains("Soft and non-tender."));

    // A film the case lacks: the model's report, guarded; a report naming the diagnosis falls back
    // to the rule-based normal report.
    let library_case = library.get(CASE).expect("case");
    let film = Action::Order {
        tests: vec!["abdominal x-ray".into(), "troponin".into()],
    };
    let Some(ModelPrompt::Gatekeeper(prompt)) = env.model_prompt(&film).expect("prompt") else {
        panic!("the gatekeeper's model is needed");
    };
    assert_eq!(prompt.items.len(), 1, "only the film the case lacks");
    let leaky = format!(
        "abdominal_xray: Changes of {}.",
        library_case.diagnosis.synonyms[0]
    );
    let step = env.step_with_reply(film, Some(leaky)).expect("step");
    assert!(step.observation.text.contains("normal bowel gas pattern"));

    env.step(Action::Diagnose {
        diagnosis: "Inferior STEMI".into(),
        icd10: None,
    })
    .expect("diagnose");
    let replayed = EpisodeLog::from_jsonl(&env.log().expect("log").to_jsonl())
        .expect("parses")
        .replay(library)
        .expect("replays exactly");
    assert_eq!(replayed, env.transcript());
}

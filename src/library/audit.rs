//! The disclosure audit (DESIGN.md §3.9): what an agent receives before an episode ends must not give
//! the case away. [`Secrets`] holds what is hidden about one case and checks every text, JSON body or
//! header an agent receives against it; [`audit_case`] plays the exhaustive doctor (every history
//! topic, every exam system, every catalogue test) through the Rust step API in both modes, under
//! every patient setting, and reports every leak. `dxsim cases audit` runs it over any case set; the
//! test suite runs the same checks over the HTTP API, the agent protocol and the terminal app.
//!
//! Hidden are: the diagnosis by any name the judge's matcher knows ([`crate::judge::diagnosis_names`]),
//! its ICD-10-CM code with and without the dot, the case id (verbatim or as words), the specialty and
//! difficulty (as fields, as values, and the specialty's name in any text), the teaching points, any sign that a result was
//! synthesised, and a confirmatory report before one of its own tests was ordered.

use std::collections::BTreeSet;

use dxsim_gatekeeper::case::DiagnosisNames;
use dxsim_gatekeeper::memo::TextMemo;
use dxsim_gatekeeper::text::{contains_phrase, normalize};
use dxsim_gatekeeper::{Case, Catalogue};
use serde::Serialize;

use crate::action::Action;
use crate::agents::TOPIC_QUESTIONS;
use crate::episode::{CaseSelector, DiscreteTable, Env, EnvError, EpisodeOptions};
use crate::library::{CaseLibrary, CaseSource};
use crate::patient::bias::{BiasKind, BiasSpec, DoctorProfile};

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

/// Most distinct texts a [`Secrets`] remembers having checked.
const CHECKED_LIMIT: usize = 200_000;

/// JSON keys that belong to the authors' view or to the end of an episode.
const HIDDEN_KEYS: &[&str] = &[
    "case_id",
    "specialty",
    "difficulty",
    "title",
    "split",
    "source",
    "library",
    "teaching_points",
    "outcome",
    "synthetic",
    "confirmatory",
    "confirmed_by",
];

/// One piece of hidden information found in what an agent received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// The case.
    pub case_id: String,
    /// Where it was received ("rust text, bias recency, turn 12", "http header x-…").
    pub surface: String,
    /// What was given away.
    pub what: String,
    /// The text it was found in (cut to 200 characters).
    pub text: String,
}

/// A confirmatory report and the tests that may reveal it.
#[derive(Debug, Clone)]
struct Door {
    tests: BTreeSet<String>,
    report: String,
}

/// What is hidden about one case until its episode ends, and the checks against it.
#[derive(Debug)]
pub struct Secrets {
    case_id: String,
    names: DiagnosisNames,
    codes: Vec<String>,
    id_phrases: Vec<String>,
    specialty: String,
    labels: Vec<String>,
    teaching_points: Vec<String>,
    doors: Vec<Door>,
    /// Texts already checked, keyed with the doors open then, and what each gave away.
    checked: TextMemo<Vec<String>>,
    /// Names of catalogue tests and analytes that hold a name of the diagnosis ("Lyme disease
    /// antibody screen", "PCP" for phencyclidine): the catalogue's labels of what the doctor itself
    /// ordered, echoed back, not a disclosure.
    echoes: Vec<String>,
}

impl Secrets {
    /// What is hidden about `case`.
    pub fn of(case: &Case) -> Secrets {
        let code = case.diagnosis.icd10.trim().to_lowercase();
        let codes = [normalize(&code), code.replace('.', "")]
            .into_iter()
            .filter(|code| !code.is_empty())
            .collect();
        let id_words: Vec<String> = normalize(&case.id).split(' ').map(str::to_string).collect();
        let id_phrases = vec![id_words.join(" ")];
        let specialty = normalize(&case.specialty.replace('_', " "));
        let doors = case
            .tests
            .iter()
            .filter(|test| test.confirmatory)
            .filter_map(|test| {
                let report = normalize(test.report.as_deref()?);
                let tests = std::iter::once(test.id.clone())
                    .chain(test.confirmed_by.iter().cloned())
                    .collect();
                Some(Door { tests, report })
            })
            .collect();
        let names = crate::judge::diagnosis_names(case);
        let catalogue = Catalogue::builtin();
        let tests = catalogue.tests().iter().flat_map(|test| {
            [test.id.clone(), test.name.clone()]
                .into_iter()
                .chain(test.synonyms.iter().cloned())
        });
        let analytes = catalogue.analytes().iter().flat_map(|analyte| {
            [analyte.id.clone(), analyte.name.clone()]
                .into_iter()
                .chain(analyte.synonyms.iter().cloned())
        });
        let mut echoes: Vec<String> = tests
            .chain(analytes)
            .map(|name| normalize(&name))
            .filter(|name| names.found_in(name).is_some())
            .collect();
        echoes.sort_by_key(|echo| std::cmp::Reverse(echo.len()));
        Secrets {
            case_id: case.id.clone(),
            checked: TextMemo::new(CHECKED_LIMIT),
            names,
            echoes,
            codes,
            id_phrases,
            labels: vec![
                case.specialty.to_lowercase(),
                specialty.clone(),
                case.difficulty.as_str().to_string(),
            ],
            specialty,
            teaching_points: case
                .teaching_points
                .iter()
                .map(|point| normalize(point))
                .filter(|point| !point.is_empty())
                .collect(),
            doors,
        }
    }

    /// The tests that open a confirmatory report (ordered last by the exhaustive doctor).
    pub fn door_tests(&self) -> BTreeSet<&str> {
        self.doors
            .iter()
            .flat_map(|door| door.tests.iter().map(String::as_str))
            .collect()
    }

    /// The leaks in one received text, given the tests ordered so far (`opened`).
    pub fn check_text(&self, text: &str, opened: &BTreeSet<String>, surface: &str) -> Vec<Leak> {
        // The doors open, as a mask: the same text with the same doors open is checked once.
        let open_doors = self
            .doors
            .iter()
            .enumerate()
            .filter(|(_, door)| door.tests.iter().any(|test| opened.contains(test)))
            .fold(0u64, |mask, (index, _)| mask | (1 << (index % 64)));
        // Texts repeat across turns and settings (reference ranges, names, the same answers).
        let key = format!("{open_doors:x}\u{1f}{text}");
        let found = self
            .checked
            .get_or_compute(&key, || self.what_leaks(text, open_doors));
        found
            .into_iter()
            .map(|what| Leak {
                case_id: self.case_id.clone(),
                surface: surface.to_string(),
                what,
                text: text.chars().take(200).collect(),
            })
            .collect()
    }

    /// What `text` gives away with the doors of `open_doors` open.
    fn what_leaks(&self, text: &str, open_doors: u64) -> Vec<String> {
        let mut found = Vec::new();
        if text.contains(&self.case_id) {
            found.push("the case id".into());
        }
        let mut normalized = normalize(text);
        for (index, door) in self.doors.iter().enumerate() {
            if open_doors & (1 << (index % 64)) != 0 {
                // The report its own test revealed may name the diagnosis.
                normalized = normalized.replace(&door.report, " ");
            } else if !door.report.is_empty() && normalized.contains(&door.report) {
                found.push("a confirmatory report before its own test was ordered".into());
            }
        }
        for echo in &self.echoes {
            normalized = normalized.replace(echo.as_str(), " ");
        }
        if let Some(naming) = self.names.found_in(&normalized) {
            found.push(format!("the diagnosis ({naming:?})"));
        }
        for code in &self.codes {
            if contains_phrase(&normalized, code) {
                found.push(format!("the ICD-10-CM code ({code})"));
            }
        }
        for phrase in &self.id_phrases {
            if contains_phrase(&normalized, phrase) {
                found.push(format!("words of the case id ({phrase})"));
            }
        }
        if contains_phrase(&normalized, &self.specialty) {
            found.push(format!("the specialty ({})", self.specialty));
        }
        for point in &self.teaching_points {
            if contains_phrase(&normalized, point) {
                found.push("a teaching point".into());
            }
        }
        for marker in SYNTHETIC_MARKERS {
            if contains_phrase(&normalized, marker) {
                found.push(format!("a synthetic marker ({marker})"));
            }
        }
        found
    }

    /// The leaks in a received JSON value: hidden keys, labels given as values, and every string.
    pub fn check_json(
        &self,
        value: &serde_json::Value,
        opened: &BTreeSet<String>,
        surface: &str,
    ) -> Vec<Leak> {
        let mut leaks = Vec::new();
        self.walk(value, opened, surface, &mut leaks);
        leaks
    }

    fn walk(
        &self,
        value: &serde_json::Value,
        opened: &BTreeSet<String>,
        surface: &str,
        leaks: &mut Vec<Leak>,
    ) {
        match value {
            serde_json::Value::String(text) => {
                if self.labels.contains(&text.to_lowercase()) {
                    leaks.push(Leak {
                        case_id: self.case_id.clone(),
                        surface: surface.to_string(),
                        what: format!("a label of the case ({text})"),
                        text: text.clone(),
                    });
                }
                leaks.extend(self.check_text(text, opened, surface));
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.walk(item, opened, surface, leaks);
                }
            }
            serde_json::Value::Object(fields) => {
                for (key, item) in fields {
                    if HIDDEN_KEYS.contains(&key.as_str()) {
                        leaks.push(Leak {
                            case_id: self.case_id.clone(),
                            surface: surface.to_string(),
                            what: format!("a hidden field (`{key}`)"),
                            text: item.to_string().chars().take(200).collect(),
                        });
                    }
                    self.walk(item, opened, surface, leaks);
                }
            }
            _ => {}
        }
    }
}

/// Every patient setting an audit plays: no bias, each cognitive bias with its default belief, and
/// each implicit bias aimed at the doctor's own group, so that it acts.
pub fn patient_settings() -> Vec<(String, Option<BiasSpec>, DoctorProfile)> {
    let mut settings = vec![("none".to_string(), None, DoctorProfile::default())];
    for kind in BiasKind::ALL {
        let group = "the doctor's group".to_string();
        let mut doctor = DoctorProfile::default();
        let target = doctor.attribute_mut(kind).map(|attribute| {
            *attribute = Some(group.clone());
            group
        });
        settings.push((
            crate::eval::plan::bias_name(kind),
            Some(BiasSpec {
                kind,
                belief: None,
                target,
            }),
            doctor,
        ));
    }
    settings
}

/// The options that play `case` under one patient setting, with room for every action.
pub fn audit_options(case: &Case, bias: Option<BiasSpec>, doctor: DoctorProfile) -> EpisodeOptions {
    EpisodeOptions {
        case: CaseSelector {
            id: Some(case.id.clone()),
            ..CaseSelector::default()
        },
        turn_limit: 10_000,
        patient_bias: bias,
        doctor,
        ..EpisodeOptions::default()
    }
}

/// A question per history topic, every exam system, then `tests` in orders of `per_order`: the
/// exhaustive doctor before it knows anything of the case.
pub fn consultation(catalogue: &Catalogue, tests: &[String], per_order: usize) -> Vec<Action> {
    let questions = TOPIC_QUESTIONS.iter().map(|(_, question)| Action::Ask {
        text: (*question).to_string(),
    });
    let exams = catalogue.systems().iter().map(|system| Action::Examine {
        system: system.id.clone(),
    });
    let orders = tests.chunks(per_order.max(1)).map(|chunk| Action::Order {
        tests: chunk.to_vec(),
    });
    questions.chain(exams).chain(orders).collect()
}

/// Every test the exhaustive doctor orders on `case` before any that opens a confirmatory report:
/// the catalogue's and the case's own.
pub fn plain_tests(case: &Case, secrets: &Secrets, catalogue: &Catalogue) -> Vec<String> {
    let doors = secrets.door_tests();
    catalogue
        .tests()
        .iter()
        .map(|test| test.id.clone())
        .chain(
            case.tests
                .iter()
                .filter(|test| test.is_case_specific())
                .map(|test| test.id.clone()),
        )
        .filter(|test| !doors.contains(test.as_str()))
        .collect()
}

/// The exhaustive doctor's actions in text mode: the [`consultation`] with every
/// [`plain_tests`] test in orders of 25, and last, one order per test that opens a confirmatory
/// report.
pub fn exhaustive_actions(case: &Case, secrets: &Secrets, catalogue: &Catalogue) -> Vec<Action> {
    let mut actions = consultation(catalogue, &plain_tests(case, secrets, catalogue), 25);
    actions.extend(secrets.door_tests().into_iter().map(|test| Action::Order {
        tests: vec![test.to_string()],
    }));
    actions
}

/// The discrete table's playable actions (ask, examine, order), those that open a confirmatory
/// report last.
pub fn exhaustive_discrete(table: &DiscreteTable, secrets: &Secrets) -> Vec<usize> {
    let doors = secrets.door_tests();
    let opens = |index: &usize| matches!(table.action(*index), Some(Action::Order { tests }) if tests.iter().any(|test| doors.contains(test.as_str())));
    let (last, first): (Vec<usize>, Vec<usize>) = (0..table.playable_count()).partition(opens);
    first.into_iter().chain(last).collect()
}

/// The tests an action orders.
pub fn ordered(action: &Action) -> impl Iterator<Item = &String> {
    match action {
        Action::Order { tests } => tests.iter(),
        _ => [].iter(),
    }
}

/// Plays the exhaustive doctor on `case` through the Rust step API, in text and discrete mode, under
/// every patient setting, and returns every leak in what it received before the end.
///
/// # Errors
/// When the environment refuses a reset or an action (a case it cannot play).
pub fn audit_case(
    source: &'static dyn CaseSource,
    case: &Case,
    table: &DiscreteTable,
    catalogue: &Catalogue,
) -> Result<Vec<Leak>, EnvError> {
    let secrets = Secrets::of(case);
    let text_actions = exhaustive_actions(case, &secrets, catalogue);
    let discrete_actions = exhaustive_discrete(table, &secrets);
    let mut leaks = Vec::new();
    let mut env = Env::with_source(source);
    for (setting, bias, doctor) in patient_settings() {
        for discrete in [false, true] {
            let mode = if discrete { "discrete" } else { "text" };
            let options = audit_options(case, bias.clone(), doctor.clone());
            let (observation, info) = env.reset(0, options)?;
            let mut opened = BTreeSet::new();
            let surface = format!("rust {mode}, patient {setting}, reset");
            let shown = serde_json::json!({"observation": observation, "info": info});
            leaks.extend(secrets.check_json(&shown, &opened, &surface));
            let actions: Vec<(Option<usize>, Action)> = if discrete {
                discrete_actions
                    .iter()
                    .filter_map(|&index| Some((Some(index), table.action(index)?)))
                    .collect()
            } else {
                text_actions
                    .iter()
                    .map(|action| (None, action.clone()))
                    .collect()
            };
            for (index, action) in actions {
                opened.extend(ordered(&action).cloned());
                let step = match index {
                    Some(index) => env.step_discrete(table, index)?.0,
                    None => env.step(action)?,
                };
                let surface = format!("rust {mode}, patient {setting}, turn {}", step.info.turn);
                if step.terminated || step.truncated {
                    leaks.push(Leak {
                        case_id: case.id.clone(),
                        surface,
                        what: "the episode ended before the exhaustive doctor finished".into(),
                        text: String::new(),
                    });
                    break;
                }
                let received = serde_json::to_value(&step).unwrap_or_default();
                leaks.extend(secrets.check_json(&received, &opened, &surface));
            }
        }
    }
    Ok(leaks)
}

/// Audits every case of `library` ([`audit_case`]), shared out over the machine's cores; returns,
/// per case in library order, its id and its leaks, or why it could not be played.
pub fn audit_library(library: &'static CaseLibrary) -> Vec<(String, Result<Vec<Leak>, EnvError>)> {
    let catalogue = Catalogue::builtin();
    let table = DiscreteTable::new(catalogue, library);
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let share = library.cases().len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = library
            .cases()
            .chunks(share)
            .map(|chunk| {
                let table = &table;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|case| {
                            let leaks = audit_case(library, case, table, catalogue);
                            (case.id.clone(), leaks)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    })
}

//! The terminal app's [`EpisodeDriver`] over the in-process engine: `dxsim play` without a server.
//!
//! It turns the app's actions into [`Action`]s for an [`Env`], and each [`Step`] into the app's plain
//! [`Turn`]. Saving is the engine's event log; resuming replays it and checks every response. The
//! debrief reads the hidden case only once the episode has ended.

use dxsim::action::Action;
use dxsim::episode::{
    CaseSelector, Env, EnvError, EpisodeLog, EpisodeOptions, Finding, Info, Observation, Step,
};
use dxsim::library::CaseLibrary;
use dxsim::patient::bias::{BiasKind, BiasSpec};
use dxsim_gatekeeper::billing::{Charge, CostTotals};
use dxsim_gatekeeper::case::{Difficulty, FindingTarget, WorkupStep};
use dxsim_gatekeeper::disclosure::{AnalyteValue, ExamReply, OrderReply, Suggestion};
use dxsim_gatekeeper::resolve::OrderOutcome;
use dxsim_gatekeeper::{Catalogue, Ledger, Money, Resolver};
use dxsim_tui::driver::{
    CaseRequest, CatalogueEntry, Debrief, DriverError, Ending, Entry, EpisodeDriver, ExamSystem,
    Meter, PathStep, PlayerAction, Presentation, Report, Turn, Value, Verdict,
};

/// The app's driver over one in-process [`Env`].
pub(crate) struct EmbeddedDriver {
    library: &'static CaseLibrary,
    catalogue: &'static Catalogue,
    resolver: Resolver<'static>,
    env: Env,
    /// The turns so far, the presentation first.
    turns: Vec<Turn>,
    /// The engine's steps, one per turn after the presentation.
    steps: Vec<Step>,
    /// The current episode's seed and options.
    episode: Option<(u64, EpisodeOptions)>,
}

impl EmbeddedDriver {
    /// A driver over the built-in library and catalogue.
    pub(crate) fn new(library: &'static CaseLibrary) -> EmbeddedDriver {
        let catalogue = Catalogue::builtin();
        EmbeddedDriver {
            library,
            catalogue,
            resolver: Resolver::new(catalogue),
            env: Env::new(library),
            turns: Vec::new(),
            steps: Vec::new(),
            episode: None,
        }
    }

    /// The episode options for a request, with every name checked.
    fn options(&self, request: &CaseRequest) -> Result<EpisodeOptions, DriverError> {
        let mut selector = CaseSelector::default();
        if let Some(id) = &request.case_id {
            if self.library.get(id).is_none() {
                let similar = self.library.similar_ids(id);
                let hint = if similar.is_empty() {
                    "see `dxsim cases list`".to_string()
                } else {
                    format!("did you mean {}?", similar.join(", "))
                };
                return Err(DriverError::Refused(format!(
                    "no case with id `{id}`: {hint}"
                )));
            }
            selector.id = Some(id.clone());
        }
        if let Some(specialty) = &request.specialty {
            let known = self.library.specialties();
            if !known.contains(specialty) {
                return Err(DriverError::Refused(format!(
                    "no case has specialty `{specialty}`; the library has: {}",
                    known.join(", ")
                )));
            }
            selector.specialty = Some(specialty.clone());
        }
        if let Some(difficulty) = &request.difficulty {
            selector.difficulty = Some(
                serde_json::from_value::<Difficulty>(serde_json::Value::String(difficulty.clone()))
                    .map_err(|_| {
                        DriverError::Refused(format!(
                            "`{difficulty}` is not a difficulty: use common, atypical or rare"
                        ))
                    })?,
            );
        }
        let patient_bias = request
            .bias
            .as_ref()
            .map(|name| {
                serde_json::from_value::<BiasKind>(serde_json::Value::String(name.clone()))
                    .ok()
                    .filter(|kind| kind.is_cognitive())
                    .map(|kind| BiasSpec {
                        kind,
                        belief: None,
                        target: None,
                    })
                    .ok_or_else(|| {
                        let cognitive: Vec<String> = BiasKind::ALL
                            .iter()
                            .filter(|kind| kind.is_cognitive())
                            .filter_map(|kind| serde_json::to_value(kind).ok())
                            .filter_map(|value| value.as_str().map(str::to_string))
                            .collect();
                        DriverError::Refused(format!(
                            "`{name}` is not a bias `dxsim play` can give the patient; it takes the \
                             cognitive biases: {} (an implicit bias needs a doctor profile to react to)",
                            cognitive.join(", ")
                        ))
                    })
            })
            .transpose()?;
        Ok(EpisodeOptions {
            case: selector,
            patient_bias,
            budget_cap_usd: request.budget.map(Money::dollars),
            ..EpisodeOptions::default()
        })
    }

    fn test_name(&self, id: &str) -> String {
        self.catalogue
            .test(id)
            .map_or_else(|| id.to_string(), |test| test.name.clone())
    }

    fn system_name(&self, id: &str) -> String {
        self.catalogue
            .system(id)
            .map_or_else(|| id.to_string(), |system| system.name.clone())
    }

    /// An action as the debrief lists it, with tests and systems by name.
    fn describe(&self, action: &PlayerAction) -> String {
        match action {
            PlayerAction::Order { tests } => format!(
                "Order: {}",
                tests
                    .iter()
                    .map(|id| self.test_name(id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            PlayerAction::Examine { system } => format!("Examine: {}", self.system_name(system)),
            other => other.describe(),
        }
    }

    /// The reference work-up, step by step, billed as an episode with these options would be.
    fn reference_path(
        &self,
        case: &dxsim_gatekeeper::Case,
        options: &EpisodeOptions,
    ) -> (Vec<PathStep>, Money) {
        let mut ledger = Ledger::new(options.costs());
        let steps = case
            .reference_workup
            .iter()
            .map(|step| match step {
                WorkupStep::Ask { text } => PathStep {
                    step: format!("Ask: {text}"),
                    cost: ledger
                        .consultation()
                        .map_or(Money::ZERO, |charge| charge.amount()),
                },
                WorkupStep::Examine { system } => PathStep {
                    step: format!("Examine: {}", self.system_name(system)),
                    cost: ledger
                        .consultation()
                        .map_or(Money::ZERO, |charge| charge.amount()),
                },
                WorkupStep::Order { tests } => {
                    let priced: Vec<(&str, Money)> = tests
                        .iter()
                        .map(|id| {
                            let price = dxsim_gatekeeper::billing::workup_test_price(
                                case,
                                self.catalogue,
                                id,
                            )
                            .unwrap_or(Money::ZERO);
                            (id.as_str(), price)
                        })
                        .collect();
                    PathStep {
                        step: format!(
                            "Order: {}",
                            tests
                                .iter()
                                .map(
                                    |id| match case.test(id).and_then(|test| test.name.clone()) {
                                        Some(name) => name,
                                        None => self.test_name(id),
                                    }
                                )
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        cost: ledger.order(priced).iter().map(Charge::amount).sum(),
                    }
                }
            })
            .collect();
        (steps, ledger.totals().total)
    }
}

fn refused(error: &EnvError) -> DriverError {
    DriverError::Refused(error.to_string())
}

fn meter(info: &Info) -> Meter {
    let CostTotals {
        visit_count,
        test_count,
        visits,
        tests,
        total,
        ..
    } = info.cost;
    Meter {
        turn: info.turn,
        turn_limit: info.turn_limit,
        visit_count,
        visits,
        test_count,
        tests,
        total,
        budget_left: info.budget_left,
    }
}

fn presentation(case: &dxsim_gatekeeper::case::Presentation) -> Presentation {
    let age = match (case.age_years, case.age_months) {
        (0, Some(months)) => format!("{months}-month-old"),
        (years, _) => format!("{years}-year-old"),
    };
    Presentation {
        patient: format!("{age} {}", case.sex.as_str()),
        setting: case.setting.clone(),
        summary: case.summary.clone(),
    }
}

fn value(value: &AnalyteValue) -> Value {
    Value {
        name: value.name.to_string(),
        text: value.text.clone(),
        unit: value.unit.to_string(),
        reference: value.reference.to_string(),
        flag: value.flag,
    }
}

fn suggestion_names(suggestions: &[Suggestion]) -> Vec<String> {
    suggestions
        .iter()
        .map(|suggestion| match suggestion.price {
            Some(price) => format!("{} {price}", suggestion.name),
            None => suggestion.name.clone(),
        })
        .collect()
}

/// The app's action as the engine's.
fn engine_action(action: &PlayerAction) -> Action {
    match action.clone() {
        PlayerAction::Ask { text } => Action::Ask { text },
        PlayerAction::Examine { system } => Action::Examine { system },
        PlayerAction::Order { tests } => Action::Order { tests },
        PlayerAction::Diagnose { diagnosis } => Action::Diagnose {
            diagnosis,
            icd10: None,
        },
    }
}

/// The engine's action as the app's.
fn player_action(action: &Action) -> PlayerAction {
    match action.clone() {
        Action::Ask { text } => PlayerAction::Ask { text },
        Action::Examine { system } => PlayerAction::Examine { system },
        Action::Order { tests } => PlayerAction::Order { tests },
        Action::Diagnose { diagnosis, .. } => PlayerAction::Diagnose { diagnosis },
    }
}

/// The presentation as the app's first turn.
fn first_turn(observation: &Observation, info: &Info) -> Turn {
    Turn {
        action: None,
        entries: observation
            .findings
            .iter()
            .filter_map(|finding| match finding {
                Finding::Presentation { case } => Some(Entry::Presentation(presentation(case))),
                _ => None,
            })
            .collect(),
        charged: Money::ZERO,
        meter: meter(info),
        ended: None,
    }
}

/// The engine's step as the app's turn.
fn turn(action: &PlayerAction, step: &Step) -> Turn {
    let charges: Vec<&Charge> = step.info.charges.iter().collect();
    let entries = step
        .observation
        .findings
        .iter()
        .map(|finding| match finding {
            Finding::Presentation { case } => Entry::Presentation(presentation(case)),
            Finding::Answer { text, .. } | Finding::Refusal { text, .. } => {
                Entry::Answer { text: text.clone() }
            }
            Finding::Exam { reply } => match reply {
                ExamReply::Finding {
                    name,
                    text,
                    abnormal,
                    ..
                } => Entry::Exam {
                    system: name.clone(),
                    text: text.clone(),
                    abnormal: *abnormal,
                },
                ExamReply::Refused {
                    request,
                    message,
                    suggestions,
                    ..
                }
                | ExamReply::Unrecognised {
                    request,
                    message,
                    suggestions,
                } => Entry::Notice {
                    request: request.clone(),
                    message: message.clone(),
                    suggestions: suggestion_names(suggestions),
                },
            },
            Finding::Order { reply } => match reply {
                OrderReply::Reported { report, note, .. } => Entry::Report(Report {
                    test_id: report.test.clone(),
                    name: report.name.clone(),
                    values: report.values.iter().map(value).collect(),
                    text: report.text.clone(),
                    abnormal: report.abnormal,
                    charged: charges
                        .iter()
                        .find_map(|charge| match charge {
                            Charge::Test { test, amount, .. } if *test == report.test => {
                                Some(*amount)
                            }
                            _ => None,
                        })
                        .unwrap_or(Money::ZERO),
                    note: note.clone(),
                }),
                OrderReply::AlreadyReported {
                    value: shown,
                    reported_in,
                    ..
                } => Entry::AlreadyReported {
                    value: value(shown),
                    reported_in: reported_in.clone(),
                },
                OrderReply::Refused {
                    request,
                    message,
                    suggestions,
                    ..
                }
                | OrderReply::Unrecognised {
                    request,
                    message,
                    suggestions,
                } => Entry::Notice {
                    request: request.clone(),
                    message: message.clone(),
                    suggestions: suggestion_names(suggestions),
                },
                OrderReply::NotRecorded {
                    request, message, ..
                } => Entry::Notice {
                    request: request.clone(),
                    message: message.clone(),
                    suggestions: Vec::new(),
                },
            },
            Finding::DiagnosisRecorded { diagnosis } => Entry::DiagnosisRecorded {
                diagnosis: diagnosis.clone(),
            },
            Finding::DiagnosisRefused { diagnosis, reason } => Entry::Notice {
                request: diagnosis.clone(),
                message: reason.clone(),
                suggestions: Vec::new(),
            },
        })
        .collect();
    Turn {
        action: Some(action.clone()),
        entries,
        charged: step.info.charges.iter().map(Charge::amount).sum(),
        meter: meter(&step.info),
        ended: if step.terminated {
            Some(Ending::Diagnosed)
        } else if step.truncated {
            Some(Ending::OutOfTurnsOrBudget)
        } else {
            None
        },
    }
}

impl EpisodeDriver for EmbeddedDriver {
    fn reset(&mut self, request: &CaseRequest) -> Result<Turn, DriverError> {
        let options = self.options(request)?;
        let (observation, info) = self
            .env
            .reset(request.seed, options.clone())
            .map_err(|error| refused(&error))?;
        let first = first_turn(&observation, &info);
        self.turns = vec![first.clone()];
        self.steps.clear();
        let mut fixed = options;
        fixed.case = CaseSelector {
            id: self.env.state().map(|state| state.case_id),
            ..CaseSelector::default()
        };
        self.episode = Some((request.seed, fixed));
        Ok(first)
    }

    fn step(&mut self, action: &PlayerAction) -> Result<Turn, DriverError> {
        if self.episode.is_none() {
            return Err(DriverError::NoEpisode);
        }
        let step = self
            .env
            .step(engine_action(action))
            .map_err(|error| refused(&error))?;
        let turn = turn(action, &step);
        self.turns.push(turn.clone());
        self.steps.push(step);
        Ok(turn)
    }

    fn transcript(&self) -> Vec<Turn> {
        self.turns.clone()
    }

    fn save(&self) -> Result<String, DriverError> {
        self.env
            .log()
            .map(|log| log.to_jsonl())
            .ok_or(DriverError::NoEpisode)
    }

    fn resume(&mut self, saved: &str) -> Result<(), DriverError> {
        let log = EpisodeLog::from_jsonl(saved)
            .map_err(|error| DriverError::Resume(error.to_string()))?;
        // The logged options (bias included), with the case fixed by id.
        let mut options = log.header.options.clone();
        options.case = CaseSelector {
            id: Some(log.header.case_id.clone()),
            ..CaseSelector::default()
        };
        let (observation, info) = self
            .env
            .reset(log.header.seed, options.clone())
            .map_err(|error| DriverError::Resume(error.to_string()))?;
        let first = first_turn(&observation, &info);
        let mut turns = vec![first];
        let mut steps = Vec::new();
        for logged in &log.steps {
            let step = self
                .env
                .step(logged.action.clone())
                .map_err(|error| DriverError::Resume(format!("turn {}: {error}", logged.turn)))?;
            if step.observation.text != logged.response {
                return Err(DriverError::Resume(format!(
                    "turn {} no longer gets the same response from this build",
                    logged.turn
                )));
            }
            turns.push(turn(&player_action(&logged.action), &step));
            steps.push(step);
        }
        self.turns = turns;
        self.steps = steps;
        self.episode = Some((log.header.seed, options));
        Ok(())
    }

    fn search_catalogue(&self, query: &str, limit: usize) -> Vec<CatalogueEntry> {
        let tests = self.catalogue.tests();
        let mut indices = Vec::new();
        // The gatekeeper's own reading of the request first ("u&e", "fbc", a misspelling…).
        if !query.trim().is_empty()
            && let OrderOutcome::Test { test, .. } = self.resolver.resolve_order(query)
        {
            indices.push(test);
        }
        for index in dxsim_tui::fuzzy::rank(tests, query, limit, |test| {
            let mut names = vec![test.name.as_str(), test.id.as_str()];
            names.extend(test.synonyms.iter().map(String::as_str));
            names
        }) {
            if !indices.contains(&index) {
                indices.push(index);
            }
        }
        indices
            .into_iter()
            .take(limit)
            .map(|index| {
                let test = &tests[index];
                CatalogueEntry {
                    id: test.id.clone(),
                    name: test.name.clone(),
                    category: test.category.as_str().to_string(),
                    price: test.price,
                }
            })
            .collect()
    }

    fn exam_systems(&self) -> Vec<ExamSystem> {
        self.catalogue
            .systems()
            .iter()
            .map(|system| ExamSystem {
                id: system.id.clone(),
                name: system.name.clone(),
            })
            .collect()
    }

    fn debrief(&self) -> Result<Debrief, DriverError> {
        let (seed, options) = self.episode.as_ref().ok_or(DriverError::NoEpisode)?;
        let last = self.steps.last().ok_or(DriverError::NotEnded)?;
        let outcome = last.info.outcome.as_ref().ok_or(DriverError::NotEnded)?;
        let case = self
            .library
            .get(&outcome.case.id)
            .ok_or(DriverError::NoEpisode)?;
        let path = self
            .turns
            .iter()
            .filter_map(|turn| {
                turn.action.as_ref().map(|action| PathStep {
                    step: self.describe(action),
                    cost: turn.charged,
                })
            })
            .collect();
        let (reference_path, reference_total) = self.reference_path(case, options);

        // Tests that told the student nothing: normal reports that are no key finding, and repeats.
        let key_tests: Vec<&str> = case
            .key_findings
            .iter()
            .filter_map(|key| match key.target()? {
                FindingTarget::Test(test) | FindingTarget::Analyte { test, .. } => Some(test),
                _ => None,
            })
            .collect();
        let mut low_yield = Vec::new();
        for (turn, step) in self.turns.iter().skip(1).zip(&self.steps) {
            for entry in &turn.entries {
                if let Entry::Report(report) = entry {
                    let key = key_tests.iter().any(|key| {
                        *key == report.test_id || self.catalogue.same_study(key, &report.test_id)
                    });
                    if !report.abnormal && !key {
                        low_yield.push(format!(
                            "{} ({}): normal, and not a key finding of this case",
                            report.name, report.charged
                        ));
                    }
                }
            }
            for charge in &step.info.charges {
                if let Charge::Test {
                    test,
                    amount,
                    repeat: true,
                } = charge
                {
                    low_yield.push(format!(
                        "{} ({amount}): ordered again",
                        self.test_name(test)
                    ));
                }
            }
        }

        let patient = &outcome.patient;
        let mut patient_note = format!(
            "Confidence in you {}/10, willingness to follow your plan {}/10, to come back {}/10.",
            patient.confidence, patient.compliance, patient.follow_up
        );
        if let Some(bias) = &outcome.bias {
            let kind = serde_json::to_value(bias.kind)
                .ok()
                .and_then(|value| value.as_str().map(str::to_string))
                .unwrap_or_default();
            patient_note.push_str(&format!(
                " The patient carried a {kind} bias{}{}.",
                bias.belief
                    .as_ref()
                    .map(|belief| format!(" (believing: {belief})"))
                    .unwrap_or_default(),
                if bias.triggered {
                    ", and it acted"
                } else {
                    ", which did not act"
                }
            ));
            let refusals = &bias.refusals;
            if !refusals.tests.is_empty() {
                let catalogue = dxsim_gatekeeper::Catalogue::builtin();
                let names = |ids: &[String]| -> String {
                    ids.iter()
                        .map(|id| {
                            catalogue
                                .test(id)
                                .map_or(id.as_str(), |test| test.name.as_str())
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                patient_note.push_str(&format!(" It refused: {}.", names(&refusals.tests)));
                if !refusals.accepted_after_explanation.is_empty() {
                    patient_note.push_str(&format!(
                        " After you explained, it accepted: {}.",
                        names(&refusals.accepted_after_explanation)
                    ));
                }
            }
        }

        Ok(Debrief {
            case_id: case.id.clone(),
            title: case.title.clone(),
            specialty: case.specialty.clone(),
            difficulty: case.difficulty.as_str().to_string(),
            seed: *seed,
            ending: if last.terminated {
                Ending::Diagnosed
            } else {
                Ending::OutOfTurnsOrBudget
            },
            diagnosis_given: outcome.diagnosis_given.clone(),
            verdict: outcome.verdict.as_ref().map(|verdict| Verdict {
                score: verdict.score,
                correct: verdict.correct,
                rationale: verdict.rationale.clone(),
            }),
            true_diagnosis: outcome.reference.name.clone(),
            icd10: outcome.reference.icd10.clone(),
            path,
            meter: meter(&last.info),
            reference_path,
            reference_total,
            low_yield,
            key_found: outcome.key_findings_revealed.clone(),
            key_missed: outcome.key_findings_missed.clone(),
            teaching_points: case.teaching_points.clone(),
            patient_note: Some(patient_note),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn driver() -> EmbeddedDriver {
        EmbeddedDriver::new(CaseLibrary::builtin().expect("the built-in library loads"))
    }

    fn stemi(seed: u64) -> CaseRequest {
        CaseRequest {
            case_id: Some("cardio-chest-pressure-snow".into()),
            seed,
            ..CaseRequest::default()
        }
    }

    #[test]
    fn a_full_encounter_debriefs_with_costs_and_the_reference_work_up() {
        let mut driver = driver();
        let first = driver.reset(&stemi(42)).expect("starts");
        assert!(matches!(first.entries[0], Entry::Presentation(_)));
        driver
            .step(&PlayerAction::Ask {
                text: "When did the pain start?".into(),
            })
            .expect("asks");
        let order = driver
            .step(&PlayerAction::Order {
                tests: vec!["ecg".into(), "troponin_i".into()],
            })
            .expect("orders");
        assert_eq!(order.meter.test_count, 2);
        assert!(driver.debrief().is_err(), "no debrief before the end");
        let end = driver
            .step(&PlayerAction::Diagnose {
                diagnosis: "inferior STEMI".into(),
            })
            .expect("diagnoses");
        assert_eq!(end.ended, Some(Ending::Diagnosed));
        let debrief = driver.debrief().expect("debriefs");
        assert!(
            debrief
                .verdict
                .as_ref()
                .is_some_and(|verdict| verdict.correct)
        );
        assert_eq!(debrief.path.len(), 3);
        assert_eq!(debrief.meter.total, end.meter.total);
        assert!(!debrief.reference_path.is_empty());
        assert!(!debrief.teaching_points.is_empty());
    }

    #[test]
    fn the_debrief_lists_the_tests_a_biased_patient_refused_and_accepted() {
        let mut driver = driver();
        driver
            .reset(&CaseRequest {
                bias: Some("self_diagnosis".into()),
                ..stemi(5)
            })
            .expect("starts");
        let order = PlayerAction::Order {
            tests: vec!["coronary_angiography".into()],
        };
        let refused = driver.step(&order).expect("orders");
        assert_eq!(refused.meter.test_count, 0, "a refused test is not charged");
        driver
            .step(&PlayerAction::Ask {
                text: "We need it because it could be serious.".into(),
            })
            .expect("explains");
        assert_eq!(driver.step(&order).expect("orders").meter.test_count, 1);
        driver
            .step(&PlayerAction::Diagnose {
                diagnosis: "inferior STEMI".into(),
            })
            .expect("diagnoses");
        let note = driver.debrief().expect("debriefs").patient_note;
        let note = note.expect("a patient note");
        assert!(note.contains("It refused: Coronary angiography"), "{note}");
        assert!(note.contains("After you explained, it accepted"), "{note}");
    }

    #[test]
    fn tests_that_added_nothing_are_listed_and_key_tests_are_not() {
        let mut driver = driver();
        driver.reset(&stemi(3)).expect("starts");
        driver
            .step(&PlayerAction::Order {
                tests: vec!["ecg".into(), "lipase".into()],
            })
            .expect("orders");
        driver
            .step(&PlayerAction::Order {
                tests: vec!["ecg".into()],
            })
            .expect("orders again");
        driver
            .step(&PlayerAction::Diagnose {
                diagnosis: "pancreatitis".into(),
            })
            .expect("diagnoses");
        let debrief = driver.debrief().expect("debriefs");
        assert!(
            debrief
                .verdict
                .as_ref()
                .is_some_and(|verdict| !verdict.correct),
            "{debrief:?}"
        );
        assert!(
            debrief
                .low_yield
                .iter()
                .any(|line| line.starts_with("Lipase")),
            "{:?}",
            debrief.low_yield
        );
        assert!(
            debrief
                .low_yield
                .iter()
                .any(|line| line.contains("electrocardiogram") && line.ends_with("ordered again")),
            "{:?}",
            debrief.low_yield
        );
        assert!(
            !debrief
                .low_yield
                .iter()
                .any(|line| line.contains("electrocardiogram") && line.contains("normal")),
            "the ECG is abnormal and a key finding: {:?}",
            debrief.low_yield
        );
        assert!(!debrief.key_missed.is_empty());
    }

    #[test]
    fn a_budget_cap_ends_the_case_without_a_verdict() {
        let mut driver = driver();
        let mut request = stemi(5);
        request.budget = Some(Money::from_dollars(350.0));
        let first = driver.reset(&request).expect("starts");
        assert_eq!(first.meter.budget_left, Some(Money::from_dollars(350.0)));
        driver
            .step(&PlayerAction::Ask {
                text: "Any chest pain before?".into(),
            })
            .expect("asks");
        let over = driver
            .step(&PlayerAction::Order {
                tests: vec!["ct_chest_contrast".into(), "echo_transthoracic".into()],
            })
            .expect("orders");
        assert_eq!(over.ended, Some(Ending::OutOfTurnsOrBudget), "{over:?}");
        let debrief = driver.debrief().expect("debriefs");
        assert_eq!(debrief.ending, Ending::OutOfTurnsOrBudget);
        assert_eq!(debrief.verdict, None);
    }

    #[test]
    fn resume_rebuilds_the_same_turns_and_refuses_a_tampered_log() {
        let mut driver = driver();
        driver.reset(&stemi(11)).expect("starts");
        driver
            .step(&PlayerAction::Ask {
                text: "Where is the pain?".into(),
            })
            .expect("asks");
        driver
            .step(&PlayerAction::Examine {
                system: "cardiovascular".into(),
            })
            .expect("examines");
        let saved = driver.save().expect("saves");
        let turns = driver.transcript();

        let mut other = self::driver();
        other.resume(&saved).expect("resumes");
        assert_eq!(other.transcript(), turns);

        let tampered = saved.replace("Where is the pain?", "Any allergies?");
        let error = self::driver().resume(&tampered).expect_err("diverges");
        assert!(error.to_string().contains("turn 1"), "{error}");
        let error = self::driver().resume("not json").expect_err("unreadable");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn requests_naming_unknown_things_are_refused_with_the_choices() {
        let mut driver = driver();
        let refused = |request: CaseRequest, driver: &mut EmbeddedDriver| {
            driver.reset(&request).expect_err("refused").to_string()
        };
        let message = refused(
            CaseRequest {
                specialty: Some("astrology".into()),
                ..CaseRequest::default()
            },
            &mut driver,
        );
        assert!(
            message.contains("`astrology`") && message.contains("cardiology"),
            "{message}"
        );
        let message = refused(
            CaseRequest {
                bias: Some("gender".into()),
                ..stemi(1)
            },
            &mut driver,
        );
        assert!(
            message.contains("`gender`") && message.contains("recency"),
            "{message}"
        );
        let message = refused(
            CaseRequest {
                case_id: Some("cardio-chest-presure-snow".into()),
                ..CaseRequest::default()
            },
            &mut driver,
        );
        assert!(
            message.contains("did you mean cardio-chest-pressure-snow"),
            "{message}"
        );
        assert!(
            driver
                .step(&PlayerAction::Ask { text: "hi".into() })
                .is_err()
        );
    }

    #[test]
    fn catalogue_search_puts_the_gatekeepers_reading_first() {
        let driver = driver();
        let found = driver.search_catalogue("fbc", 10);
        assert_eq!(found.first().map(|entry| entry.id.as_str()), Some("cbc"));
        let found = driver.search_catalogue("trop", 10);
        assert_eq!(
            found.first().map(|entry| entry.id.as_str()),
            Some("troponin")
        );
        assert_eq!(driver.search_catalogue("", 7).len(), 7);
    }

    #[test]
    fn every_presentation_in_the_library_fits_the_encounter_screen_at_80_by_24() {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;

        let library = CaseLibrary::builtin().expect("the built-in library loads");
        let mut driver = EmbeddedDriver::new(library);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
        let theme = dxsim_tui::ui::Theme::new(false);
        for case in library.cases() {
            let first = driver
                .reset(&CaseRequest {
                    case_id: Some(case.id.clone()),
                    ..CaseRequest::default()
                })
                .expect("starts");
            let app = dxsim_tui::app::App::new(vec![first], Vec::new(), (80, 24));
            terminal
                .draw(|frame| dxsim_tui::ui::render(&app, &theme, frame))
                .expect("draws");
            let screen: String = terminal
                .backend()
                .buffer()
                .content()
                .iter()
                .map(|cell| cell.symbol())
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let summary = case
                .presentation
                .summary
                .split_whitespace()
                .collect::<Vec<_>>();
            let last_words = summary[summary.len().saturating_sub(3)..].join(" ");
            assert!(
                screen.contains(&last_words),
                "{}: the end of the presentation ({last_words:?}) is cut off",
                case.id
            );
        }
    }

    #[test]
    fn the_terminal_app_shows_nothing_hidden_before_the_debrief() {
        use dxsim::library::audit::{Secrets, consultation, ordered, plain_tests};
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;

        let library = CaseLibrary::builtin().expect("the built-in library loads");
        let catalogue = dxsim_gatekeeper::Catalogue::builtin();
        let mut driver = EmbeddedDriver::new(library);
        let (width, height) = (120, 40);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
        let theme = dxsim_tui::ui::Theme::new(false);
        // Every patient the app offers: none, and the four cognitive biases (an implicit bias needs a
        // doctor profile, which the app does not take).
        let settings = [
            "none",
            "recency",
            "frequency",
            "false_consensus",
            "self_diagnosis",
        ];
        let mut leaks = Vec::new();
        for case in library.cases() {
            let secrets = Secrets::of(case);
            // The app's turn limit is 40: the exhaustive doctor's orders go in four (the door tests,
            // which may return a confirmatory report, in the last one).
            let doors = secrets.door_tests();
            let tests = plain_tests(case, &secrets, catalogue);
            let mut actions = consultation(catalogue, &tests, tests.len().div_ceil(3));
            if !doors.is_empty() {
                actions.push(Action::Order {
                    tests: doors.iter().map(|test| (*test).to_string()).collect(),
                });
            }
            for setting in settings {
                let mut turns = vec![
                    driver
                        .reset(&CaseRequest {
                            case_id: Some(case.id.clone()),
                            bias: (setting != "none").then(|| setting.to_string()),
                            ..CaseRequest::default()
                        })
                        .expect("starts"),
                ];
                let mut opened = std::collections::BTreeSet::new();
                for (turn, action) in std::iter::once(None)
                    .chain(actions.iter().map(Some))
                    .enumerate()
                {
                    if let Some(action) = action {
                        opened.extend(ordered(action).cloned());
                        let played = match action {
                            Action::Ask { text } => PlayerAction::Ask { text: text.clone() },
                            Action::Examine { system } => PlayerAction::Examine {
                                system: system.clone(),
                            },
                            Action::Order { tests } => PlayerAction::Order {
                                tests: tests.clone(),
                            },
                            Action::Diagnose { .. } => continue,
                        };
                        let next = driver.step(&played).expect("a step");
                        assert!(next.ended.is_none(), "{}: ended early", case.id);
                        turns.push(next);
                    }
                    let app = dxsim_tui::app::App::new(turns.clone(), Vec::new(), (width, height));
                    terminal
                        .draw(|frame| dxsim_tui::ui::render(&app, &theme, frame))
                        .expect("draws");
                    let buffer = terminal.backend().buffer();
                    // The frame's text panel by panel: a row's pieces between vertical borders go
                    // to the panel that starts at their column, so side-by-side panels never run
                    // into one another; panels are joined by a word no phrase holds.
                    let mut panels: std::collections::BTreeMap<u16, String> =
                        std::collections::BTreeMap::new();
                    for row in 0..height {
                        let mut start = 0;
                        let mut piece = String::new();
                        for column in 0..=width {
                            let symbol = if column < width {
                                buffer[(column, row)].symbol()
                            } else {
                                "│"
                            };
                            if ["│", "┃", "║"].contains(&symbol) {
                                let panel = panels.entry(start).or_default();
                                panel.push_str(&piece);
                                panel.push('\n');
                                piece.clear();
                                start = column + 1;
                            } else {
                                piece.push_str(symbol);
                            }
                        }
                    }
                    let screen = panels.into_values().collect::<Vec<_>>().join(" ¶panel¶ ");
                    let surface = format!("terminal app, patient {setting}, turn {turn}");
                    let mut found = secrets.check_text(&screen, &opened, &surface);
                    // Once a confirmatory report is on screen, wrapped into panels, it cannot be
                    // matched whole to be set aside: from then on the frame may name the diagnosis.
                    if opened.iter().any(|test| doors.contains(test.as_str())) {
                        found.retain(|leak| !leak.what.starts_with("the diagnosis"));
                    }
                    leaks.extend(found);
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let shown: Vec<String> = leaks
            .iter()
            .filter(|leak| seen.insert((leak.case_id.clone(), leak.what.clone())))
            .take(40)
            .map(|leak| format!("{} · {} · {}", leak.case_id, leak.surface, leak.what))
            .collect();
        assert!(
            leaks.is_empty(),
            "{} leak(s):\n{}",
            leaks.len(),
            shown.join("\n")
        );
    }
}

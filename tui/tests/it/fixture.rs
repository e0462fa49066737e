//! A scripted driver for one invented case — a young adult with a week of cough and fever — so the
//! app can be tested without the engine. It bills like the engine (a visit fee per run of questions
//! and examinations, each test its price) and keeps the debrief until the case ends.

use dxsim_gatekeeper::Money;
use dxsim_gatekeeper::case::Flag;
use dxsim_tui::driver::{
    CaseRequest, CatalogueEntry, Debrief, DriverError, Ending, Entry, EpisodeDriver, ExamSystem,
    Meter, PathStep, PlayerAction, Presentation, Report, Turn, Value, Verdict,
};

/// The visit fee.
pub(crate) const VISIT: Money = Money(30_000);

pub(crate) struct FixtureDriver {
    turns: Vec<Turn>,
    in_visit: bool,
    seed: u64,
    budget: Option<Money>,
}

impl FixtureDriver {
    pub(crate) fn new() -> FixtureDriver {
        FixtureDriver {
            turns: Vec::new(),
            in_visit: false,
            seed: 0,
            budget: None,
        }
    }

    fn meter(&self) -> Meter {
        self.turns.last().map(|turn| turn.meter).unwrap_or(Meter {
            turn_limit: 20,
            ..Meter::default()
        })
    }
}

fn catalogue() -> Vec<CatalogueEntry> {
    [
        ("cbc", "Complete blood count", "lab", 777),
        ("crp", "C-reactive protein", "lab", 523),
        ("cxr", "Chest X-ray, two views", "imaging", 3_580),
        ("procalcitonin", "Procalcitonin", "lab", 3_012),
    ]
    .into_iter()
    .map(|(id, name, category, cents)| CatalogueEntry {
        id: id.into(),
        name: name.into(),
        category: category.into(),
        price: Money(cents),
    })
    .collect()
}

fn value(name: &str, text: &str, unit: &str, reference: &str, flag: Flag) -> Value {
    Value {
        name: name.into(),
        text: text.into(),
        unit: unit.into(),
        reference: reference.into(),
        flag,
    }
}

fn report(entry: &CatalogueEntry) -> Report {
    let (values, text, abnormal) = match entry.id.as_str() {
        "cbc" => (
            vec![
                value("Haemoglobin", "13.1", "g/dL", "12.0–15.5", Flag::Normal),
                value("White cell count", "15.8", "×10⁹/L", "4.0–11.0", Flag::High),
                value("Platelets", "312", "×10⁹/L", "150–400", Flag::Normal),
            ],
            None,
            true,
        ),
        "crp" => (
            vec![value(
                "C-reactive protein",
                "148",
                "mg/L",
                "0–5",
                Flag::High,
            )],
            None,
            true,
        ),
        "cxr" => (
            Vec::new(),
            Some("Dense consolidation in the right lower lobe with air bronchograms.".into()),
            true,
        ),
        _ => (
            vec![value(
                "Procalcitonin",
                "0.04",
                "ng/mL",
                "0.00–0.10",
                Flag::Normal,
            )],
            None,
            false,
        ),
    };
    Report {
        test_id: entry.id.clone(),
        name: entry.name.clone(),
        values,
        text,
        abnormal,
        charged: entry.price,
        note: None,
    }
}

impl EpisodeDriver for FixtureDriver {
    fn reset(&mut self, request: &CaseRequest) -> Result<Turn, DriverError> {
        if request
            .case_id
            .as_deref()
            .is_some_and(|id| id != "fixture-cough")
        {
            return Err(DriverError::Refused("no case with id `nope`".into()));
        }
        self.seed = request.seed;
        self.budget = request.budget;
        self.in_visit = false;
        let first = Turn {
            action: None,
            entries: vec![Entry::Presentation(Presentation {
                patient: "34-year-old female".into(),
                setting: "general practice".into(),
                summary:
                    "A 34-year-old woman has had a cough and fever for a week; since yesterday \
                          she is short of breath climbing stairs."
                        .into(),
            })],
            charged: Money::ZERO,
            meter: Meter {
                turn_limit: 20,
                budget_left: request.budget,
                ..Meter::default()
            },
            ended: None,
        };
        self.turns = vec![first.clone()];
        Ok(first)
    }

    fn step(&mut self, action: &PlayerAction) -> Result<Turn, DriverError> {
        let mut meter = self.meter();
        if self.turns.is_empty() {
            return Err(DriverError::NoEpisode);
        }
        if self.turns.last().is_some_and(|turn| turn.ended.is_some()) {
            return Err(DriverError::Refused("the episode is over".into()));
        }
        meter.turn += 1;
        let mut charged = Money::ZERO;
        let mut ended = None;
        let entries = match action {
            PlayerAction::Ask { .. } | PlayerAction::Examine { .. } => {
                if !self.in_visit {
                    self.in_visit = true;
                    charged = VISIT;
                    meter.visit_count += 1;
                    meter.visits += VISIT;
                }
                match action {
                    PlayerAction::Ask { .. } => vec![Entry::Answer {
                        text: "It started a week ago with a dry cough, and now I bring up green \
                               phlegm. I had shivers last night."
                            .into(),
                    }],
                    _ => vec![Entry::Exam {
                        system: "Respiratory".into(),
                        text:
                            "Respiratory rate 24. Bronchial breathing and coarse crackles at the \
                               right base."
                                .into(),
                        abnormal: true,
                    }],
                }
            }
            PlayerAction::Order { tests } => {
                self.in_visit = false;
                let known = catalogue();
                tests
                    .iter()
                    .map(|id| match known.iter().find(|entry| &entry.id == id) {
                        Some(entry) => {
                            charged += entry.price;
                            meter.test_count += 1;
                            meter.tests += entry.price;
                            Entry::Report(report(entry))
                        }
                        None => Entry::Notice {
                            request: id.clone(),
                            message: format!("\"{id}\" is not a test in the catalogue."),
                            suggestions: Vec::new(),
                        },
                    })
                    .collect()
            }
            PlayerAction::Diagnose { diagnosis } => {
                ended = Some(Ending::Diagnosed);
                vec![Entry::DiagnosisRecorded {
                    diagnosis: diagnosis.clone(),
                }]
            }
        };
        meter.total = meter.visits + meter.tests;
        meter.budget_left = self
            .budget
            .map(|budget| Money(budget.0.saturating_sub(meter.total.0)));
        let turn = Turn {
            action: Some(action.clone()),
            entries,
            charged,
            meter,
            ended,
        };
        self.turns.push(turn.clone());
        Ok(turn)
    }

    fn transcript(&self) -> Vec<Turn> {
        self.turns.clone()
    }

    fn save(&self) -> Result<String, DriverError> {
        let actions: Vec<&PlayerAction> = self
            .turns
            .iter()
            .filter_map(|turn| turn.action.as_ref())
            .collect();
        serde_json::to_string(&(self.seed, actions))
            .map_err(|error| DriverError::Refused(error.to_string()))
    }

    fn resume(&mut self, saved: &str) -> Result<(), DriverError> {
        let (seed, actions): (u64, Vec<PlayerAction>) =
            serde_json::from_str(saved).map_err(|error| DriverError::Resume(error.to_string()))?;
        self.reset(&CaseRequest {
            seed,
            ..CaseRequest::default()
        })?;
        for action in &actions {
            self.step(action)?;
        }
        Ok(())
    }

    fn search_catalogue(&self, query: &str, limit: usize) -> Vec<CatalogueEntry> {
        let entries = catalogue();
        dxsim_tui::fuzzy::rank(&entries, query, limit, |entry| {
            vec![entry.name.as_str(), entry.id.as_str()]
        })
        .into_iter()
        .map(|index| entries[index].clone())
        .collect()
    }

    fn exam_systems(&self) -> Vec<ExamSystem> {
        [
            ("vitals", "Vital signs"),
            ("general", "General appearance"),
            ("cardiovascular", "Cardiovascular"),
            ("respiratory", "Respiratory"),
            ("abdomen", "Abdomen"),
        ]
        .into_iter()
        .map(|(id, name)| ExamSystem {
            id: id.into(),
            name: name.into(),
        })
        .collect()
    }

    fn debrief(&self) -> Result<Debrief, DriverError> {
        let last = self.turns.last().ok_or(DriverError::NoEpisode)?;
        let ending = last.ended.ok_or(DriverError::NotEnded)?;
        let diagnosis_given = self.turns.iter().find_map(|turn| match &turn.action {
            Some(PlayerAction::Diagnose { diagnosis }) => Some(diagnosis.clone()),
            _ => None,
        });
        let correct = diagnosis_given
            .as_deref()
            .is_some_and(|given| given.to_lowercase().contains("pneumonia"));
        Ok(Debrief {
            case_id: "fixture-cough".into(),
            title: "Cough, fever and a crackling right base".into(),
            specialty: "respiratory".into(),
            difficulty: "common".into(),
            seed: self.seed,
            ending,
            verdict: diagnosis_given.as_ref().map(|_| Verdict {
                score: if correct { 5 } else { 1 },
                correct,
                rationale: if correct {
                    "same diagnosis as the reference".into()
                } else {
                    "unrelated to the reference".into()
                },
            }),
            diagnosis_given,
            true_diagnosis: "Community-acquired pneumonia of the right lower lobe".into(),
            icd10: "J18.1".into(),
            path: self
                .turns
                .iter()
                .filter_map(|turn| {
                    turn.action.as_ref().map(|action| PathStep {
                        step: match action {
                            PlayerAction::Order { .. } => format!(
                                "Order: {}",
                                turn.entries
                                    .iter()
                                    .filter_map(|entry| match entry {
                                        Entry::Report(report) => Some(report.name.as_str()),
                                        _ => None,
                                    })
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            other => other.describe(),
                        },
                        cost: turn.charged,
                    })
                })
                .collect(),
            meter: last.meter,
            reference_path: vec![
                PathStep {
                    step: "Ask: How long have you had the cough, and do you bring anything up?"
                        .into(),
                    cost: VISIT,
                },
                PathStep {
                    step: "Examine: Respiratory".into(),
                    cost: Money::ZERO,
                },
                PathStep {
                    step: "Order: Chest X-ray, two views".into(),
                    cost: Money(3_580),
                },
            ],
            reference_total: Money(33_580),
            low_yield: self
                .turns
                .iter()
                .flat_map(|turn| &turn.entries)
                .filter_map(|entry| match entry {
                    Entry::Report(report) if !report.abnormal => Some(format!(
                        "{} ({}): normal, and not a key finding of this case",
                        report.name, report.charged
                    )),
                    _ => None,
                })
                .collect(),
            key_found: vec!["Bronchial breathing at the right base".into()],
            key_missed: vec!["Right lower lobe consolidation on chest X-ray".into()],
            teaching_points: vec![
                "Focal signs with fever and productive cough make pneumonia likely; a chest X-ray \
                 confirms it."
                    .into(),
                "Score severity (CURB-65) before deciding where to treat.".into(),
            ],
            patient_note: Some(
                "Confidence in you 8/10, willingness to follow your plan 9/10, to come back 8/10."
                    .into(),
            ),
        })
    }
}

//! Disclosure (DESIGN.md §3.4): what the gatekeeper reveals for a request, and what it refuses.
//!
//! [`Gatekeeper`] answers order and examination requests for one case and one episode seed, item by
//! item. It reveals only what the exact request returns: the case's own result where it lists one, a
//! seeded plausible normal result where it does not, a component value already on an earlier report when
//! asked again by name. Interpretation, hints and vague orders are refused with suggestions; unrecognised
//! requests get the nearest catalogue names. Every answer comes as a [`Revealed`]: the public reply that
//! an observation may carry, and beside it, for the post-episode record only, what was synthesised.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::case::{AnalyteResult, Case, Flag, TestResult};
use crate::catalogue::{AnalyteDef, AnalyteKind, Catalogue, Reporting, TestDef, reference_range};
use crate::money::Money;
use crate::resolve::{ExamOutcome, MatchKind, OrderOutcome, Resolver};
use crate::synthetic::{format_value, normal_value};
use crate::text::normalize;

/// A reply for the doctor, with what was synthesised to make it (never shown before the episode ends).
///
/// Deliberately not `Serialize`: an observation can carry only [`Revealed::public`]; the synthetic list
/// goes to the post-episode record by its own path.
#[derive(Debug, Clone, PartialEq)]
pub struct Revealed<T> {
    /// What the doctor sees.
    pub public: T,
    /// Ids of the analytes, tests or exam systems whose findings were synthesised for this reply
    /// (shared strings: an analyte's id is its catalogue label, counted rather than copied).
    pub synthetic: Vec<Arc<str>>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Too vague to carry out ("bloods", "a scan", "examine everything").
    Vague,
    /// A request for interpretation, hints or a diagnosis.
    Interpretation,
}

/// A catalogue entry offered instead of what was asked.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Suggestion {
    /// Test or exam-system id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Catalogue price, for tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
}

/// One analyte on a report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AnalyteValue {
    /// Analyte id.
    pub analyte: Arc<str>,
    /// Display name.
    pub name: Arc<str>,
    /// The numeric value, for a numeric analyte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The value as the lab prints it ("14.2", "positive").
    pub text: String,
    /// Unit, empty for qualitative results.
    pub unit: Arc<str>,
    /// Reference range as printed ("3.5–5.1"), or the normal result for a qualitative analyte.
    pub reference: Arc<str>,
    /// Result flag.
    pub flag: Flag,
}

/// A test's report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TestReport {
    /// Catalogue test id.
    pub test: String,
    /// Display name.
    pub name: String,
    /// Values, for a test reported as values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<AnalyteValue>,
    /// Report text, for a test reported as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether anything on the report is abnormal.
    pub abnormal: bool,
}

/// The gatekeeper's answer to one order item.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum OrderReply {
    /// The test was carried out; its report and catalogue price (before any multiplier).
    Reported {
        /// The item as requested.
        request: String,
        /// The report.
        report: TestReport,
        /// Catalogue price.
        price: Money,
        /// How the request matched.
        matched: MatchKind,
        /// A remark, e.g. that a component was reported as part of a panel.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A component already on an earlier report; nothing ordered, nothing charged.
    AlreadyReported {
        /// The item as requested.
        request: String,
        /// The value, as reported before.
        value: AnalyteValue,
        /// The test whose report carries it.
        reported_in: String,
    },
    /// Refused; nothing ordered, nothing charged.
    Refused {
        /// The item as requested.
        request: String,
        /// Why.
        reason: Refusal,
        /// What to do instead.
        message: String,
        /// Tests to consider.
        suggestions: Vec<Suggestion>,
    },
    /// A recognised test whose result the imported source case does not record; nothing charged.
    NotRecorded {
        /// The item as requested.
        request: String,
        /// Catalogue test id.
        test: String,
        /// Display name.
        name: String,
        /// What to tell the doctor.
        message: String,
    },
    /// Not recognised; nothing ordered, nothing charged.
    Unrecognised {
        /// The item as requested.
        request: String,
        /// What to do instead.
        message: String,
        /// The nearest catalogue tests.
        suggestions: Vec<Suggestion>,
    },
}

impl OrderReply {
    /// The test to bill and its catalogue price, if this reply carried out a test.
    pub fn billable(&self) -> Option<(&str, Money)> {
        match self {
            OrderReply::Reported { report, price, .. } => Some((report.test.as_str(), *price)),
            _ => None,
        }
    }
}

/// The gatekeeper's answer to one examination item.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ExamReply {
    /// The finding for a system.
    Finding {
        /// The item as requested.
        request: String,
        /// Exam system id.
        system: String,
        /// Display name of the system.
        name: String,
        /// The finding.
        text: String,
        /// Whether it is abnormal.
        abnormal: bool,
    },
    /// Refused.
    Refused {
        /// The item as requested.
        request: String,
        /// Why.
        reason: Refusal,
        /// What to do instead.
        message: String,
        /// Systems to consider.
        suggestions: Vec<Suggestion>,
    },
    /// Not recognised.
    Unrecognised {
        /// The item as requested.
        request: String,
        /// What to do instead.
        message: String,
        /// The nearest systems.
        suggestions: Vec<Suggestion>,
    },
}

/// What an episode has been shown so far, as far as disclosure needs to know: which test first
/// reported each analyte (so a later request for the component alone returns the same value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DisclosureState {
    reported_analytes: BTreeMap<String, String>,
}

impl DisclosureState {
    /// Whether some report in this episode has shown the analyte's value.
    pub fn has_reported(&self, analyte: &str) -> bool {
        self.reported_analytes.contains_key(analyte)
    }
}

const INTERPRETATION_MESSAGE: &str =
    "I can report findings only; I do not interpret results, give hints or offer a diagnosis.";

/// Answers requests for one case in one episode.
#[derive(Debug, Clone, Copy)]
pub struct Gatekeeper<'a> {
    resolver: &'a Resolver<'a>,
    case: &'a Case,
    seed: u64,
}

impl<'a> Gatekeeper<'a> {
    /// A gatekeeper for `case`, whose synthetic findings are seeded by `seed`.
    pub fn new(resolver: &'a Resolver<'a>, case: &'a Case, seed: u64) -> Gatekeeper<'a> {
        Gatekeeper {
            resolver,
            case,
            seed,
        }
    }

    fn catalogue(&self) -> &'a Catalogue {
        self.resolver.catalogue()
    }

    /// Answers an order written as free text ("CBC, lipase and a CT abdomen"), item by item.
    ///
    /// A case-specific test (an imported case's result the catalogue has no name for) is reached by
    /// its name or an alias: exactly, before the catalogue is consulted, or by a near spelling when
    /// the catalogue does not recognise the item.
    pub fn order(&self, request: &str, state: &mut DisclosureState) -> Vec<Revealed<OrderReply>> {
        if let Some(test) = self.case_specific(request, false) {
            return vec![self.case_specific_report(request.trim().to_string(), test)];
        }
        self.resolver
            .resolve_order_request(request)
            .into_iter()
            .map(|(item, outcome)| {
                let fuzzy = matches!(outcome, OrderOutcome::Unknown { .. });
                match self.case_specific(&item, fuzzy) {
                    Some(test) => self.case_specific_report(item, test),
                    None => self.answer_order(item, outcome, state),
                }
            })
            .collect()
    }

    /// The case-specific test an order item names: by its id, by its name or an alias in
    /// [`Resolver::order_key`] form, or, when `fuzzy`, the single nearest one above the resolver's
    /// fuzzy threshold.
    fn case_specific(&self, item: &str, fuzzy: bool) -> Option<&'a TestResult> {
        let mut specific = self
            .case
            .tests
            .iter()
            .filter(|test| test.is_case_specific())
            .peekable();
        specific.peek()?;
        // Its id, as a reference work-up orders it.
        if let Some(test) = self
            .case
            .tests
            .iter()
            .find(|test| test.is_case_specific() && test.id == item.trim())
        {
            return Some(test);
        }
        let key = Resolver::order_key(item);
        if key.is_empty() {
            return None;
        }
        let names = |test: &'a TestResult| {
            test.name
                .iter()
                .chain(&test.aliases)
                .map(|name| Resolver::order_key(name))
        };
        let mut best: Option<(f64, &'a TestResult)> = None;
        for test in specific {
            for name in names(test) {
                if name == key {
                    return Some(test);
                }
                let score = Resolver::similarity(&key, &name);
                if fuzzy
                    && score >= crate::resolve::FUZZY_THRESHOLD
                    && best.is_none_or(|(top, _)| score > top)
                {
                    best = Some((score, test));
                }
            }
        }
        best.map(|(_, test)| test)
    }

    fn case_specific_report(&self, request: String, test: &TestResult) -> Revealed<OrderReply> {
        let name = test.name.clone().unwrap_or_else(|| test.id.clone());
        Revealed {
            public: OrderReply::Reported {
                request,
                report: TestReport {
                    test: test.id.clone(),
                    name,
                    values: Vec::new(),
                    text: test.report.clone(),
                    abnormal: test.abnormal,
                },
                price: Money::from_dollars(test.price_usd.unwrap_or_default()),
                matched: MatchKind::Exact,
                note: None,
            },
            synthetic: Vec::new(),
        }
    }

    /// Answers a structured order (one entry per test, each an id or free text).
    pub fn order_items(
        &self,
        items: &[String],
        state: &mut DisclosureState,
    ) -> Vec<Revealed<OrderReply>> {
        items
            .iter()
            .flat_map(|item| self.order(item, state))
            .collect()
    }

    fn answer_order(
        &self,
        request: String,
        outcome: OrderOutcome,
        state: &mut DisclosureState,
    ) -> Revealed<OrderReply> {
        let catalogue = self.catalogue();
        let refuse = |reason, message: String, suggestions: &[usize]| Revealed {
            public: OrderReply::Refused {
                request: request.clone(),
                reason,
                message,
                suggestions: self.test_suggestions(suggestions),
            },
            synthetic: Vec::new(),
        };
        match outcome {
            OrderOutcome::Test { test, via } => {
                self.report(request.clone(), &catalogue.tests()[test], via, None, state)
            }
            OrderOutcome::Analyte { analyte, via } => {
                let definition = &catalogue.analytes()[analyte];
                if let Some(test_id) = state.reported_analytes.get(&definition.id) {
                    let (value, _) = self.analyte_value(definition);
                    let reported_in = catalogue
                        .test(test_id)
                        .map_or_else(|| test_id.clone(), |test| test.name.clone());
                    return Revealed {
                        public: OrderReply::AlreadyReported {
                            request,
                            value,
                            reported_in,
                        },
                        synthetic: Vec::new(),
                    };
                }
                // An imported case may hold the panel as the source reported it, as text.
                let reporting = catalogue.tests_reporting(analyte);
                let as_reported = reporting.iter().copied().find(|&test| {
                    self.case
                        .test(&catalogue.tests()[test].id)
                        .is_some_and(is_as_reported)
                });
                let Some(test) = as_reported.or_else(|| reporting.first().copied()) else {
                    let nearest = self.resolver.nearest_tests(&request);
                    return self.unrecognised(request, &nearest);
                };
                let test = &catalogue.tests()[test];
                let note = format!("{} is reported as part of {}.", definition.name, test.name);
                self.report(request.clone(), test, via, Some(note), state)
            }
            OrderOutcome::Vague { suggestions } => refuse(
                Refusal::Vague,
                format!("\"{request}\" is too vague to order: name each test you want."),
                &suggestions,
            ),
            OrderOutcome::Interpretation => refuse(
                Refusal::Interpretation,
                INTERPRETATION_MESSAGE.to_string(),
                &[],
            ),
            OrderOutcome::Unknown { nearest } => self.unrecognised(request, &nearest),
        }
    }

    fn unrecognised(&self, request: String, nearest: &[usize]) -> Revealed<OrderReply> {
        Revealed {
            public: OrderReply::Unrecognised {
                message: format!(
                    "\"{request}\" is not a test I recognise; nothing was ordered or charged."
                ),
                request,
                suggestions: self.test_suggestions(nearest),
            },
            synthetic: Vec::new(),
        }
    }

    fn test_suggestions(&self, tests: &[usize]) -> Vec<Suggestion> {
        tests
            .iter()
            .map(|&index| {
                let test = &self.catalogue().tests()[index];
                Suggestion {
                    id: test.id.clone(),
                    name: test.name.clone(),
                    price: Some(test.price),
                }
            })
            .collect()
    }

    /// The case's listed result for an analyte, from whichever test lists it: one patient has one value,
    /// whichever test measures it. (A confirmatory test's *report text* is revealed only by its own
    /// study; its values are measurements like any other.)
    fn listed_analyte(&self, analyte: &str) -> Option<&'a AnalyteResult> {
        self.case.analyte(analyte)
    }

    fn analyte_value(&self, definition: &AnalyteDef) -> (AnalyteValue, bool) {
        let subject = self.case.range_subject();
        let listed = self.listed_analyte(&definition.id);
        let (value, text, range) = match (&definition.kind, listed) {
            (AnalyteKind::Numeric { decimals, .. }, Some(result)) => {
                let range = result
                    .range
                    .or_else(|| definition.range_for_subject(subject));
                match (result.value, &result.text) {
                    (Some(value), _) => (Some(value), format_value(value, *decimals), range),
                    (None, text) => (None, text.clone().unwrap_or_default(), range),
                }
            }
            (
                AnalyteKind::Numeric {
                    absent_text: Some(absent),
                    ..
                },
                None,
            ) => (None, absent.clone(), definition.range_for_subject(subject)),
            (AnalyteKind::Numeric { decimals, .. }, None) => {
                let value = normal_value(definition, subject, self.seed).unwrap_or_default();
                (
                    Some(value),
                    format_value(value, *decimals),
                    definition.range_for_subject(subject),
                )
            }
            (AnalyteKind::Qualitative { normal_text }, listed) => {
                let text = listed
                    .and_then(|result| result.text.clone())
                    .unwrap_or_else(|| normal_text.clone());
                (None, text, None)
            }
        };
        let flag = computed_flag(definition, value, &text, range);
        let reference = match (&definition.kind, range) {
            // A range the case gives for this patient, unlike the catalogue's.
            (AnalyteKind::Numeric { decimals, .. }, Some(range))
                if Some(range) != definition.range_for_subject(subject) =>
            {
                reference_range(range, *decimals).into()
            }
            _ => definition.reference_text(subject),
        };
        let labels = definition.labels();
        let shown = AnalyteValue {
            analyte: Arc::clone(&labels.id),
            name: Arc::clone(&labels.name),
            value,
            text,
            unit: Arc::clone(&labels.unit),
            reference,
            flag,
        };
        (shown, listed.is_none())
    }

    fn report(
        &self,
        request: String,
        test: &TestDef,
        via: MatchKind,
        note: Option<String>,
        state: &mut DisclosureState,
    ) -> Revealed<OrderReply> {
        let listed: Option<&TestResult> = self.case.study(self.catalogue(), &test.id);
        let no_tests = self
            .case
            .import
            .as_ref()
            .is_some_and(|import| import.no_tests);
        if listed.is_none() && no_tests {
            return Revealed {
                public: OrderReply::NotRecorded {
                    request,
                    test: test.id.clone(),
                    name: test.name.clone(),
                    message: format!(
                        "{} was not recorded in the source case; nothing was charged.",
                        test.name
                    ),
                },
                synthetic: Vec::new(),
            };
        }
        let mut synthetic = Vec::new();
        let report = match &test.reporting {
            Reporting::Report(normal) => {
                let (text, abnormal) = match listed
                    .and_then(|result| result.report.as_ref().map(|r| (r, result.abnormal)))
                {
                    Some((text, abnormal)) => (text.clone(), abnormal),
                    None => {
                        synthetic.push(test.id.as_str().into());
                        (self.fill_template(normal), false)
                    }
                };
                TestReport {
                    test: test.id.clone(),
                    name: test.name.clone(),
                    values: Vec::new(),
                    text: Some(text),
                    abnormal,
                }
            }
            Reporting::Analytes(_) if listed.is_some_and(is_as_reported) => {
                let listed = listed.filter(|result| is_as_reported(result));
                TestReport {
                    test: test.id.clone(),
                    name: test.name.clone(),
                    values: Vec::new(),
                    text: listed.and_then(|result| result.report.clone()),
                    abnormal: listed.is_some_and(|result| result.abnormal),
                }
            }
            Reporting::Analytes(list) => {
                let mut values = Vec::with_capacity(list.len());
                for definition in self.catalogue().test_analytes(test) {
                    let (value, made_up) = self.analyte_value(definition);
                    if made_up {
                        synthetic.push(Arc::clone(&definition.labels().id));
                    }
                    if !state.reported_analytes.contains_key(&definition.id) {
                        state
                            .reported_analytes
                            .insert(definition.id.clone(), test.id.clone());
                    }
                    values.push(value);
                }
                TestReport {
                    test: test.id.clone(),
                    name: test.name.clone(),
                    abnormal: values.iter().any(|value| value.flag.is_abnormal()),
                    values,
                    text: None,
                }
            }
        };
        Revealed {
            public: OrderReply::Reported {
                request,
                report,
                price: test.price,
                matched: via,
                note,
            },
            synthetic,
        }
    }

    fn fill_template(&self, template: &str) -> String {
        template.replace("{heart_rate}", &self.case.vitals.heart_rate.to_string())
    }

    /// Answers an examination request ("heart and lungs"), item by item.
    pub fn examine(&self, request: &str) -> Vec<Revealed<ExamReply>> {
        let catalogue = self.catalogue();
        let system_suggestions = |systems: &[usize]| -> Vec<Suggestion> {
            systems
                .iter()
                .map(|&index| {
                    let system = &catalogue.systems()[index];
                    Suggestion {
                        id: system.id.clone(),
                        name: system.name.clone(),
                        price: None,
                    }
                })
                .collect()
        };
        self.resolver
            .resolve_exam_request(request)
            .into_iter()
            .map(|(item, outcome)| match outcome {
                ExamOutcome::System { system, .. } => self.exam_finding(item, system),
                ExamOutcome::Vague => Revealed {
                    public: ExamReply::Refused {
                        message: format!("\"{item}\" is too broad: name the systems to examine."),
                        request: item,
                        reason: Refusal::Vague,
                        suggestions: system_suggestions(
                            &(0..catalogue.systems().len()).collect::<Vec<_>>(),
                        ),
                    },
                    synthetic: Vec::new(),
                },
                ExamOutcome::Interpretation => Revealed {
                    public: ExamReply::Refused {
                        request: item,
                        reason: Refusal::Interpretation,
                        message: INTERPRETATION_MESSAGE.to_string(),
                        suggestions: Vec::new(),
                    },
                    synthetic: Vec::new(),
                },
                ExamOutcome::Unknown { nearest } => Revealed {
                    public: ExamReply::Unrecognised {
                        message: format!("\"{item}\" is not an examination I recognise."),
                        request: item,
                        suggestions: system_suggestions(&nearest),
                    },
                    synthetic: Vec::new(),
                },
            })
            .collect()
    }

    fn exam_finding(&self, request: String, system: usize) -> Revealed<ExamReply> {
        let definition = &self.catalogue().systems()[system];
        let no_exam = self
            .case
            .import
            .as_ref()
            .is_some_and(|import| import.no_exam);
        let listed = self.case.exam_finding(&definition.id);
        let (text, abnormal, synthetic) =
            if definition.id == "vitals" && !self.case.vitals.is_recorded() {
                (NOT_RECORDED.to_string(), false, Vec::new())
            } else if definition.id == "vitals" {
                (
                    format_vitals(self.case),
                    vitals_abnormal(self.case),
                    Vec::new(),
                )
            } else if let Some(finding) = listed {
                (finding.text.clone(), finding.abnormal, Vec::new())
            } else if no_exam {
                (NOT_RECORDED.to_string(), false, Vec::new())
            } else {
                (
                    definition.normal_text.clone(),
                    false,
                    vec![definition.id.as_str().into()],
                )
            };
        Revealed {
            public: ExamReply::Finding {
                request,
                system: definition.id.clone(),
                name: definition.name.clone(),
                text,
                abnormal,
            },
            synthetic,
        }
    }
}

/// What an imported case without an examination reports for a system it does not list.
const NOT_RECORDED: &str = "Not recorded: the source case has no findings for this examination.";

/// Whether a listed result of a value-reported test is kept as the source's text (an imported case).
fn is_as_reported(result: &TestResult) -> bool {
    result.results.is_empty() && result.report.is_some()
}

/// The flag a value earns against its range (numeric) or normal text (qualitative).
pub fn computed_flag(
    definition: &AnalyteDef,
    value: Option<f64>,
    text: &str,
    range: Option<[f64; 2]>,
) -> Flag {
    match (&definition.kind, value, range) {
        (AnalyteKind::Numeric { .. }, Some(value), Some([low, high])) => {
            if value < low {
                Flag::Low
            } else if value > high {
                Flag::High
            } else {
                Flag::Normal
            }
        }
        (AnalyteKind::Qualitative { normal_text }, _, _)
            if text != normal_text && normalize(text) != normalize(normal_text) =>
        {
            Flag::Abnormal
        }
        _ => Flag::Normal,
    }
}

/// The vital signs as a nurse would read them out.
///
/// A sign an imported case does not record (zero) is left out.
pub fn format_vitals(case: &Case) -> String {
    let vitals = &case.vitals;
    let mut parts = Vec::new();
    if vitals.temperature_c != 0.0 {
        parts.push(format!("Temperature {:.1} °C", vitals.temperature_c));
    }
    if vitals.heart_rate != 0 {
        parts.push(format!("heart rate {}/min", vitals.heart_rate));
    }
    if vitals.systolic_bp != 0 {
        parts.push(format!(
            "blood pressure {}/{} mmHg",
            vitals.systolic_bp, vitals.diastolic_bp
        ));
    }
    if vitals.respiratory_rate != 0 {
        parts.push(format!("respiratory rate {}/min", vitals.respiratory_rate));
    }
    if vitals.spo2 != 0 {
        parts.push(format!("SpO2 {}% on {}", vitals.spo2, vitals.oxygen));
    }
    let mut text = parts.join(", ") + ".";
    if let Some(first) = text.get(..1).map(str::to_uppercase) {
        text.replace_range(..1, &first);
    }
    if let Some(weight) = vitals.weight_kg {
        text.push_str(&format!(" Weight {weight:.1} kg."));
    }
    text
}

/// Whether any vital sign is outside the adult normal range.
fn vitals_abnormal(case: &Case) -> bool {
    let vitals = &case.vitals;
    let adult = case.presentation.age_years >= 12;
    // A sign left at zero is not recorded (imported cases), not abnormal.
    (vitals.temperature_c != 0.0 && !(36.0..=37.9).contains(&vitals.temperature_c))
        || (vitals.spo2 != 0 && vitals.spo2 < 95)
        || (vitals.systolic_bp != 0 && (vitals.systolic_bp < 90 || vitals.systolic_bp >= 160))
        || (adult && vitals.heart_rate != 0 && !(60..=100).contains(&vitals.heart_rate))
        || (adult && vitals.respiratory_rate != 0 && !(12..=20).contains(&vitals.respiratory_rate))
}

//! The systems of the step pipeline, in the order [`super::schedule`] runs them:
//! intake → route → patient → gatekeeper → billing → judge → termination → reward → record.
//!
//! Each system touches only the episodes with a [`Turn`] in flight, so many episodes advance in one
//! schedule run; each reads its randomness from the episode's own generator. The heavy stages
//! (patient, gatekeeper, billing, reward, record) work on episodes in parallel on the compute task pool: episodes share
//! nothing mutable, so the result never depends on which thread took which episode.

use bevy_ecs::prelude::*;
use dxsim_gatekeeper::Gatekeeper;
use dxsim_gatekeeper::case::{FindingTarget, KeyFinding, WorkupStep};
use dxsim_gatekeeper::disclosure::{ExamReply, OrderReply};
use dxsim_gatekeeper::resolve::OrderOutcome;

use super::components::{
    Bill, Budget, Engine, EpisodeCase, EpisodeRng, Parallelism, Patient, Revealed, Route, Settings,
    Status, Transcript, TranscriptEntry, Turn,
};
use super::model::{gatekeeper_findings, synthetic_exam_item, synthetic_report_item};
use super::options::{GatekeeperBackend, MultipleDiagnoses, PatientBackend};
use super::render;
use super::step::{BiasReport, CaseReveal, EpisodeOutcome, Finding, Info, Observation, Step};
use crate::action::Action;
use crate::judge::answer::Reading;
use crate::judge::{Reference, RuleJudge};
use crate::patient::bias;
use dxsim_gatekeeper::text::normalize;
use std::collections::BTreeMap;

/// Runs `$body` for every episode of `$query`: on the compute task pool when the world holds a batch
/// ([`Parallelism`] on), in order on this thread otherwise (one episode gains nothing from threads).
macro_rules! for_each_episode {
    ($parallel:expr, $query:ident, $body:expr) => {
        if $parallel.0 {
            $query.par_iter_mut().for_each($body);
        } else {
            $query.iter_mut().for_each($body);
        }
    };
}

/// Counts the turn.
pub(crate) fn intake(mut episodes: Query<(&Turn, &mut Budget)>) {
    for (turn, mut budget) in &mut episodes {
        if turn.action.is_some() {
            budget.turn += 1;
        }
    }
}

/// Sends the action to the stage that handles it.
pub(crate) fn route(mut episodes: Query<&mut Turn>) {
    for mut turn in &mut episodes {
        turn.route = match &turn.action {
            None => Route::Idle,
            Some(Action::Ask { .. }) => Route::Patient,
            Some(Action::Examine { .. } | Action::Order { .. }) => Route::Gatekeeper,
            Some(Action::Diagnose { .. }) => Route::Judge,
        };
    }
}

/// The patient answers questions from the history, and consents to (or, when biased, refuses) the
/// tests ordered before the gatekeeper carries them out.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn patient(
    engine: Res<Engine>,
    parallel: Res<Parallelism>,
    mut episodes: Query<(
        &mut Turn,
        &mut Patient,
        &mut Revealed,
        &mut EpisodeRng,
        &Settings,
    )>,
) {
    let engine = &*engine;
    for_each_episode!(parallel, episodes, |(
        mut turn,
        mut patient,
        mut revealed,
        mut rng,
        settings,
    )| {
        let patient = &mut *patient;
        // The action is taken out while it is answered (no copy of it) and put back, as consented to.
        let Some(action) = turn.action.take() else {
            return;
        };
        let action = match (turn.route, action) {
            (Route::Patient, Action::Ask { text }) => {
                let model_reply = turn
                    .model_reply
                    .as_ref()
                    .filter(|_| settings.options.patient_backend == PatientBackend::Llm);
                // A reason given after a refusal persuades a biased patient first.
                let persuaded = patient.bias.as_mut().and_then(|bias| bias.hear(&text));
                let mut reply = match model_reply {
                    Some(model_reply) => patient.model.answer_from_model(&text, model_reply),
                    None => patient
                        .model
                        .answer(&text, &mut rng.0, patient.bias.as_mut()),
                };
                if let Some(words) = persuaded {
                    reply.text = format!("{words} {}", reply.text);
                }
                revealed.history_items.extend(reply.items.iter().copied());
                turn.new_line().push_str(&reply.text);
                let items = patient.model.item_ids(&reply.items);
                turn.findings.push(Finding::Answer {
                    text: reply.text,
                    items,
                });
                Action::Ask { text }
            }
            (Route::Gatekeeper, Action::Order { tests }) => match patient.bias.as_mut() {
                None => Action::Order { tests },
                Some(bias) => {
                    let catalogue = engine.resolver.catalogue();
                    let mut consented = Vec::new();
                    for item in tests {
                        let refused = engine
                            .resolver
                            .resolve_order_request(&item)
                            .iter()
                            .find_map(|(_, outcome)| match outcome {
                                OrderOutcome::Test { test, .. } => {
                                    let test = &catalogue.tests()[*test];
                                    bias.refuses(&test.id, test.price.0, &mut rng.0).then(|| {
                                        // A lay name that would name this case's diagnosis
                                        // ("gout blood test") is never said.
                                        let words = if patient.model.may_say(&test.lay_name) {
                                            test.lay_name.as_str()
                                        } else {
                                            "test"
                                        };
                                        (test.id.clone(), bias.refusal(words))
                                    })
                                }
                                _ => None,
                            });
                        match refused {
                            Some((test, words)) => {
                                turn.new_line().push_str(&words);
                                turn.findings.push(Finding::Refusal { test, text: words });
                            }
                            None => consented.push(item),
                        }
                    }
                    Action::Order { tests: consented }
                }
            },
            (_, action) => action,
        };
        turn.action = Some(action);
    });
}

/// The gatekeeper answers examinations and orders.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn gatekeeper(
    engine: Res<Engine>,
    parallel: Res<Parallelism>,
    mut episodes: Query<(&mut Turn, &EpisodeCase, &Settings, &mut Revealed)>,
) {
    let engine = &*engine;
    for_each_episode!(parallel, episodes, |(
        mut turn,
        case,
        settings,
        mut revealed,
    )| {
        if turn.route != Route::Gatekeeper {
            return;
        }
        let gatekeeper = Gatekeeper::new(engine.resolver, &case.0, settings.seed);
        let written = turn
            .model_reply
            .as_ref()
            .filter(|_| settings.options.gatekeeper_backend == GatekeeperBackend::Llm)
            .map(|reply| gatekeeper_findings(&case.0, reply))
            .unwrap_or_default();
        let Some(action) = turn.action.take() else {
            return;
        };
        match &action {
            Action::Examine { system } => {
                for mut reply in gatekeeper.examine(system) {
                    write_exam_finding(&mut reply, &written);
                    if let ExamReply::Finding {
                        system, abnormal, ..
                    } = &reply.public
                    {
                        set_flag(&mut revealed.system_flags, system, *abnormal);
                    }
                    revealed.synthetic.extend(reply.synthetic);
                    render::exam(&reply.public, turn.new_line());
                    turn.findings.push(Finding::Exam {
                        reply: reply.public,
                    });
                }
            }
            Action::Order { tests } => {
                let replies = gatekeeper.order_items(tests, &mut revealed.disclosure);
                for mut reply in replies {
                    write_report(&mut reply, &written);
                    if let Some((test, price)) = reply.public.billable() {
                        turn.billable.push((test.to_string(), price));
                    }
                    if let OrderReply::Reported { report, .. } = &reply.public {
                        set_flag(&mut revealed.test_flags, &report.test, report.abnormal);
                    }
                    revealed.synthetic.extend(reply.synthetic);
                    render::order(&reply.public, turn.new_line());
                    turn.findings.push(Finding::Order {
                        reply: reply.public,
                    });
                }
            }
            Action::Ask { .. } | Action::Diagnose { .. } => {}
        }
        turn.action = Some(action);
    });
}

/// Records whether `key` was abnormal, copying the key only the first time.
fn set_flag(flags: &mut BTreeMap<String, bool>, key: &str, abnormal: bool) {
    match flags.get_mut(key) {
        Some(flag) => *flag = abnormal,
        None => {
            flags.insert(key.to_string(), abnormal);
        }
    }
}

/// Puts the LLM gatekeeper's finding for a system the case does not record in place of the
/// template (the system stays marked synthetic).
fn write_exam_finding(
    reply: &mut dxsim_gatekeeper::disclosure::Revealed<ExamReply>,
    written: &BTreeMap<String, String>,
) {
    if written.is_empty() {
        return;
    }
    let Some((id, _)) = synthetic_exam_item(reply) else {
        return;
    };
    if let (ExamReply::Finding { text, .. }, Some(finding)) =
        (&mut reply.public, written.get(&normalize(&id)))
    {
        text.clone_from(finding);
    }
}

/// Puts the LLM gatekeeper's report for a text-reported test the case does not record in place of
/// the template.
fn write_report(
    reply: &mut dxsim_gatekeeper::disclosure::Revealed<OrderReply>,
    written: &BTreeMap<String, String>,
) {
    if written.is_empty() {
        return;
    }
    let Some((id, _)) = synthetic_report_item(reply) else {
        return;
    };
    if let (OrderReply::Reported { report, .. }, Some(finding)) =
        (&mut reply.public, written.get(&normalize(&id)))
    {
        report.text = Some(finding.clone());
    }
}

/// Charges the visit fee for questions and examinations, and each test ordered.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn billing(parallel: Res<Parallelism>, mut episodes: Query<(&mut Turn, &mut Bill)>) {
    for_each_episode!(parallel, episodes, |(mut turn, mut bill)| {
        match turn.route {
            Route::Patient => turn.charges.extend(bill.0.consultation()),
            Route::Gatekeeper if matches!(turn.action, Some(Action::Examine { .. })) => {
                turn.charges.extend(bill.0.consultation());
            }
            Route::Gatekeeper => {
                let billable = std::mem::take(&mut turn.billable);
                let charges = bill
                    .0
                    .order(billable.iter().map(|(test, price)| (test.as_str(), *price)));
                turn.charges.extend(charges);
            }
            Route::Idle | Route::Judge => {}
        }
    });
}

/// Scores a diagnosis against the case's reference.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn judge(
    engine: Res<Engine>,
    mut episodes: Query<(&mut Turn, &EpisodeCase, &Settings)>,
) {
    for (mut turn, case, settings) in &mut episodes {
        if turn.route != Route::Judge {
            continue;
        }
        let Some(Action::Diagnose { diagnosis, icd10 }) = turn.action.clone() else {
            continue;
        };
        let reference = Reference::from(&case.0.diagnosis);
        // A diagnosis given with its ICD-10-CM code (a discrete table entry, a structured answer) is
        // recorded as given; the judge still gives a list 1.
        let reading =
            if icd10.is_some() || RuleJudge::names_reference_verbatim(reference, &diagnosis) {
                Reading::One(diagnosis.clone())
            } else {
                engine.judge.read_answer(&diagnosis)
            };
        let verdict = match (reading, settings.options.multiple_diagnoses) {
            (reading, MultipleDiagnoses::Refuse) if reading.is_indefinite() => {
                let reason = refusal(&reading);
                let line = turn.new_line();
                line.push_str("Not recorded: ");
                line.push_str(&reason);
                turn.findings
                    .push(Finding::DiagnosisRefused { diagnosis, reason });
                // The episode goes on: the turn is an ordinary one that the judge declined.
                turn.route = Route::Idle;
                continue;
            }
            (Reading::Several(conditions) | Reading::Hedged(conditions), policy) => {
                let mut verdicts = conditions
                    .iter()
                    .map(|condition| engine.judge.judge(reference, condition, None));
                let chosen = match policy {
                    MultipleDiagnoses::ScoreLowest => verdicts.min_by_key(|verdict| verdict.score),
                    MultipleDiagnoses::ScoreFirst | MultipleDiagnoses::Refuse => verdicts.next(),
                };
                chosen.unwrap_or_else(|| engine.judge.judge(reference, &diagnosis, None))
            }
            _ => engine.judge.judge(reference, &diagnosis, icd10.as_deref()),
        };
        let line = turn.new_line();
        line.push_str("Diagnosis recorded: ");
        line.push_str(&diagnosis);
        line.push('.');
        turn.findings.push(Finding::DiagnosisRecorded { diagnosis });
        turn.verdict = Some(verdict);
    }
}

/// What the doctor is told when an answer is not one final diagnosis.
fn refusal(reading: &Reading) -> String {
    match reading {
        Reading::Hedged(conditions) => format!(
            "\"{}\" is held open, not committed to. Name one final diagnosis (nothing was charged).",
            conditions.join("; ")
        ),
        Reading::Several(conditions) => format!(
            "this names {} diagnoses ({}). Name one final diagnosis; a cause or complication may be \
             joined with \"due to\" or \"with\" (nothing was charged).",
            conditions.len(),
            conditions.join("; ")
        ),
        Reading::One(_) | Reading::NoneAffirmed => "name one final diagnosis.".to_string(),
    }
}

/// Ends the episode on a diagnosis (terminated), or at the turn limit or budget cap (truncated).
pub(crate) fn termination(mut episodes: Query<(&Turn, &Budget, &Bill, &mut Status)>) {
    for (turn, budget, bill, mut status) in &mut episodes {
        if turn.action.is_none() || *status != Status::Running {
            continue;
        }
        if turn.route == Route::Judge {
            *status = Status::Terminated;
        } else if budget.turn >= budget.turn_limit
            || budget.cap.is_some_and(|cap| bill.0.totals().total > cap)
        {
            *status = Status::Truncated;
        }
    }
}

/// Whether this turn uncovered a key finding's source: a history item of the topic (a question), the
/// system examined (an examination), or the test, an equivalent study that reaches its result, or the analyte's
/// value on a report (an order). What an episode has uncovered grows only by the turn's own kind of
/// action, so each kind is checked only on its own turns, and a test only against this turn's reports.
fn key_finding_uncovered(
    finding: &KeyFinding,
    case: &dxsim_gatekeeper::Case,
    revealed: &Revealed,
    turn: &Turn,
    catalogue: &dxsim_gatekeeper::Catalogue,
) -> bool {
    let Some(target) = finding.target() else {
        return false;
    };
    match (&turn.action, target) {
        (Some(Action::Ask { .. }), FindingTarget::History(target)) => revealed
            .history_items
            .iter()
            .any(|&item| case.history.get(item).is_some_and(|h| h.answers(target))),
        (Some(Action::Examine { .. }), FindingTarget::Exam(system)) => {
            revealed.system_flags.contains_key(system)
        }
        (Some(Action::Examine { .. }), FindingTarget::Vitals(_)) => {
            revealed.system_flags.contains_key("vitals")
        }
        (Some(Action::Order { .. }), FindingTarget::Analyte { analyte, .. }) => {
            revealed.disclosure.has_reported(analyte)
        }
        (Some(Action::Order { .. }), FindingTarget::Test(test)) => {
            turn.findings.iter().any(|finding| match finding {
                Finding::Order {
                    reply: OrderReply::Reported { report, .. },
                } => case.report_reaches(catalogue, &report.test, test),
                _ => false,
            })
        }
        _ => false,
    }
}

/// Rewards a correct diagnosis, charges the cost weight, and (when shaping) each new key finding.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn reward(
    engine: Res<Engine>,
    parallel: Res<Parallelism>,
    mut episodes: Query<(&mut Turn, &Settings, &EpisodeCase, &mut Revealed)>,
) {
    let catalogue = engine.resolver.catalogue();
    for_each_episode!(parallel, episodes, |(
        mut turn,
        settings,
        case,
        mut revealed,
    )| {
        if turn.action.is_none() {
            return;
        }
        let before = revealed.key_findings.len();
        // Each key finding is checked until it is found.
        for (index, finding) in case.0.key_findings.iter().enumerate() {
            if !revealed.key_findings.contains(&index)
                && key_finding_uncovered(finding, &case.0, &revealed, &turn, catalogue)
            {
                revealed.key_findings.insert(index);
            }
        }
        turn.new_key_findings = revealed.key_findings.len() - before;
        let spent: f64 = turn
            .charges
            .iter()
            .map(|charge| charge.amount().dollars())
            .sum();
        let options = &settings.options;
        let mut reward = 0.0 - options.cost_weight * spent;
        if options.dense_shaping {
            reward += options.shaping_bonus * turn.new_key_findings as f64;
        }
        if turn.verdict.as_ref().is_some_and(|verdict| verdict.correct) {
            reward += 1.0;
        }
        turn.reward = reward;
    });
}

/// What the record system reads and writes for each episode.
type RecordQuery<'w, 's> = Query<
    'w,
    's,
    (
        &'static mut Turn,
        &'static mut Transcript,
        &'static EpisodeCase,
        &'static Budget,
        &'static Bill,
        &'static Status,
        &'static Revealed,
        &'static Settings,
        &'static Patient,
    ),
>;

/// Writes the transcript line and assembles the step's result.
#[expect(
    clippy::needless_pass_by_value,
    reason = "bevy systems take their parameters by value"
)]
pub(crate) fn record(parallel: Res<Parallelism>, mut episodes: RecordQuery<'_, '_>) {
    for_each_episode!(parallel, episodes, |(
        mut turn,
        mut transcript,
        case,
        budget,
        bill,
        status,
        revealed,
        settings,
        voice,
    )| {
        let Some(action) = turn.action.take() else {
            return;
        };
        // The next step's buffer starts at this one's size, so it seldom grows line by line.
        let capacity = turn.text.capacity();
        let text = std::mem::replace(&mut turn.text, String::with_capacity(capacity));
        turn.lines = 0;
        let totals = bill.0.totals();
        let ended = *status != Status::Running;
        let verdict = turn.verdict.take();
        let outcome =
            ended.then(|| outcome(&case.0, revealed, &action, verdict, voice, budget.turn));
        transcript.0.push(TranscriptEntry {
            turn: budget.turn,
            action,
            response: text.clone(),
            model_reply: turn.model_reply.take(),
        });
        let step = Step {
            observation: Observation {
                text,
                findings: std::mem::take(&mut turn.findings),
                turn: budget.turn,
            },
            reward: turn.reward,
            terminated: *status == Status::Terminated,
            truncated: *status == Status::Truncated,
            info: Info {
                case_handle: case.1.to_string(),
                turn: budget.turn,
                turn_limit: budget.turn_limit,
                cost: totals,
                charges: std::mem::take(&mut turn.charges),
                budget_left: settings
                    .options
                    .budget_cap()
                    .map(|cap| dxsim_gatekeeper::Money(cap.0.saturating_sub(totals.total.0))),
                outcome,
            },
        };
        turn.route = Route::Idle;
        turn.output = Some(step);
    });
}

/// The end-of-episode record for `info`.
pub(crate) fn outcome(
    case: &dxsim_gatekeeper::Case,
    revealed: &Revealed,
    last: &Action,
    verdict: Option<crate::judge::Verdict>,
    patient: &Patient,
    turns: u32,
) -> EpisodeOutcome {
    let (found, missed): (Vec<_>, Vec<_>) = case
        .key_findings
        .iter()
        .enumerate()
        .partition(|(index, _)| revealed.key_findings.contains(index));
    let diagnosis_given = match last {
        Action::Diagnose { diagnosis, .. } => Some(diagnosis.clone()),
        _ => None,
    };
    EpisodeOutcome {
        case: CaseReveal::of(case),
        patient: bias::metrics(patient.bias.as_ref(), diagnosis_given.as_deref(), turns),
        bias: patient.bias.as_ref().map(|bias| BiasReport {
            kind: bias.kind(),
            belief: bias.belief().map(str::to_string),
            triggered: bias.triggered(),
            refusals: bias.refusals().clone(),
        }),
        diagnosis_given,
        verdict,
        reference: case.diagnosis.clone(),
        key_findings_revealed: found
            .into_iter()
            .map(|(_, finding)| finding.finding.clone())
            .collect(),
        key_findings_missed: missed
            .into_iter()
            .map(|(_, finding)| finding.finding.clone())
            .collect(),
        synthetic: revealed.synthetic.iter().map(|id| id.to_string()).collect(),
    }
}

/// The reference work-up's actions followed by the diagnosis: the oracle's script.
pub(crate) fn oracle_script(case: &dxsim_gatekeeper::Case) -> Vec<Action> {
    case.reference_workup
        .iter()
        .map(|step| match step {
            WorkupStep::Ask { text } => Action::Ask { text: text.clone() },
            WorkupStep::Examine { system } => Action::Examine {
                system: system.clone(),
            },
            WorkupStep::Order { tests } => Action::Order {
                tests: tests.clone(),
            },
        })
        .chain(std::iter::once(Action::Diagnose {
            diagnosis: case.diagnosis.name.clone(),
            // An imported diagnosis may have no code.
            icd10: Some(case.diagnosis.icd10.clone()).filter(|code| !code.is_empty()),
        }))
        .collect()
}

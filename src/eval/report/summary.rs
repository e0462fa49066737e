//! The summary: one row per agent × patient bias — accuracy with a bootstrap interval, cost, effort
//! and the patient's view — as a CSV file and as a text table.

use std::collections::BTreeMap;
use std::io;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::ReportError;
use crate::eval::record::{EpisodeRecord, RecordStatus};

/// Resamples drawn for each accuracy interval.
const BOOTSTRAP_RESAMPLES: usize = 2_000;

/// The seed of every bootstrap: fixed, so the same records always give the same intervals.
const BOOTSTRAP_SEED: u64 = 0x0D15_EA5E;

/// The summary of one configuration: an agent under one patient bias, over every case and seed run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The agent spec.
    pub agent: String,
    /// The patient bias.
    pub bias: String,
    /// Episodes run.
    pub episodes: usize,
    /// Episodes the agent failed (scored incorrect).
    pub errors: usize,
    /// Episodes ended by the turn limit or the budget cap (scored incorrect).
    pub truncated: usize,
    /// Share of episodes diagnosed correctly, 0–1.
    pub accuracy: f64,
    /// Lower end of the 95% percentile-bootstrap interval of the accuracy.
    pub accuracy_ci_low: f64,
    /// Upper end of the 95% percentile-bootstrap interval of the accuracy.
    pub accuracy_ci_high: f64,
    /// Mean cost per episode, USD (failed episodes count with what they had spent).
    pub mean_cost_usd: f64,
    /// Median cost per episode, USD.
    pub median_cost_usd: f64,
    /// Mean visits charged per episode.
    pub mean_visits: f64,
    /// Mean tests charged per episode, repeats included.
    pub mean_tests: f64,
    /// Mean tests the patient refused per episode (a biased patient), so that refused care never
    /// reads as cheaper care.
    pub mean_tests_refused: f64,
    /// Mean tests accepted after the doctor explained, per episode.
    pub mean_tests_accepted_after_explanation: f64,
    /// Mean turns per episode.
    pub mean_turns: f64,
    /// Mean patient confidence (1–10) over the episodes that report it.
    pub mean_confidence: Option<f64>,
    /// Mean patient compliance (1–10) over the episodes that report it.
    pub mean_compliance: Option<f64>,
    /// Mean patient willingness to follow up (1–10) over the episodes that report it.
    pub mean_follow_up: Option<f64>,
}

/// Summarises records per agent × bias, rows sorted by agent then bias. Records should be merged
/// first (see [`super::merge`]): each group is sorted by key before resampling, so the intervals do
/// not depend on the order records come in.
pub(super) fn summarize(records: &[EpisodeRecord]) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<(&str, &str), Vec<&EpisodeRecord>> = BTreeMap::new();
    for record in records {
        groups
            .entry((record.agent.as_str(), record.bias.as_str()))
            .or_default()
            .push(record);
    }
    groups
        .into_iter()
        .map(|((agent, bias), mut group)| {
            group.sort_by(|a, b| {
                a.key
                    .cmp(&b.key)
                    .then(a.correct.cmp(&b.correct))
                    .then(a.cost.total_usd.total_cmp(&b.cost.total_usd))
            });
            summarize_group(agent, bias, &group)
        })
        .collect()
}

/// The row of one non-empty group, its records sorted by key.
fn summarize_group(agent: &str, bias: &str, group: &[&EpisodeRecord]) -> SummaryRow {
    let outcomes: Vec<bool> = group.iter().map(|record| record.correct).collect();
    let (accuracy_ci_low, accuracy_ci_high) = bootstrap_interval(&outcomes);
    let mut costs: Vec<f64> = group.iter().map(|record| record.cost.total_usd).collect();
    costs.sort_by(f64::total_cmp);
    let patients: Vec<_> = group.iter().filter_map(|record| record.patient).collect();
    let patient_mean = |metric: fn(&crate::patient::bias::PatientMetrics) -> u8| {
        (!patients.is_empty()).then(|| {
            mean(
                &patients
                    .iter()
                    .map(|patient| f64::from(metric(patient)))
                    .collect::<Vec<_>>(),
            )
        })
    };
    let of = |value: fn(&EpisodeRecord) -> f64| {
        mean(&group.iter().map(|record| value(record)).collect::<Vec<_>>())
    };
    SummaryRow {
        agent: agent.to_string(),
        bias: bias.to_string(),
        episodes: group.len(),
        errors: count_status(group, RecordStatus::Error),
        truncated: count_status(group, RecordStatus::Truncated),
        accuracy: share(&outcomes),
        accuracy_ci_low,
        accuracy_ci_high,
        mean_cost_usd: of(|record| record.cost.total_usd),
        median_cost_usd: quantile_sorted(&costs, 0.5),
        mean_visits: of(|record| f64::from(record.cost.visit_count)),
        mean_tests: of(|record| f64::from(record.cost.test_count)),
        mean_tests_refused: of(|record| f64::from(record.tests_refused)),
        mean_tests_accepted_after_explanation: of(|record| {
            f64::from(record.tests_accepted_after_explanation)
        }),
        mean_turns: of(|record| f64::from(record.turns)),
        mean_confidence: patient_mean(|patient| patient.confidence),
        mean_compliance: patient_mean(|patient| patient.compliance),
        mean_follow_up: patient_mean(|patient| patient.follow_up),
    }
}

fn count_status(group: &[&EpisodeRecord], status: RecordStatus) -> usize {
    group
        .iter()
        .filter(|record| record.status == status)
        .count()
}

/// The share of `true`, 0 when empty.
fn share(outcomes: &[bool]) -> f64 {
    if outcomes.is_empty() {
        return 0.0;
    }
    outcomes.iter().filter(|&&correct| correct).count() as f64 / outcomes.len() as f64
}

/// The arithmetic mean, 0 when empty.
pub(super) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `q`-quantile (0–1) of sorted values, interpolating linearly between neighbours (so the median of
/// an even count is the mean of the middle two); 0 when empty.
pub(super) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

/// The 95% percentile-bootstrap interval of the share of `true` in `outcomes`:
/// [`BOOTSTRAP_RESAMPLES`] resamples with replacement from a ChaCha8 generator with a fixed seed.
fn bootstrap_interval(outcomes: &[bool]) -> (f64, f64) {
    if outcomes.is_empty() {
        return (0.0, 0.0);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let n = outcomes.len();
    let mut estimates: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let hits = (0..n).filter(|_| outcomes[rng.random_range(0..n)]).count();
            hits as f64 / n as f64
        })
        .collect();
    estimates.sort_by(f64::total_cmp);
    (
        quantile_sorted(&estimates, 0.025),
        quantile_sorted(&estimates, 0.975),
    )
}

/// The CSV header, in column order.
const HEADER: [&str; 18] = [
    "agent",
    "bias",
    "episodes",
    "errors",
    "truncated",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "mean_cost_usd",
    "median_cost_usd",
    "mean_visits",
    "mean_tests",
    "mean_tests_refused",
    "mean_tests_accepted_after_explanation",
    "mean_turns",
    "mean_confidence",
    "mean_compliance",
    "mean_follow_up",
];

/// A number with four decimals, as every float of the CSV is written.
fn fixed(value: f64) -> String {
    format!("{value:.4}")
}

/// Writes the rows as CSV with a header; floats with four decimals, a patient metric no episode
/// reported as an empty cell.
pub(super) fn write_summary_csv(
    rows: &[SummaryRow],
    writer: impl io::Write,
) -> Result<(), ReportError> {
    let mut csv = csv::Writer::from_writer(writer);
    csv.write_record(HEADER)?;
    for row in rows {
        let optional = |value: Option<f64>| value.map(fixed).unwrap_or_default();
        csv.write_record([
            row.agent.clone(),
            row.bias.clone(),
            row.episodes.to_string(),
            row.errors.to_string(),
            row.truncated.to_string(),
            fixed(row.accuracy),
            fixed(row.accuracy_ci_low),
            fixed(row.accuracy_ci_high),
            fixed(row.mean_cost_usd),
            fixed(row.median_cost_usd),
            fixed(row.mean_visits),
            fixed(row.mean_tests),
            fixed(row.mean_tests_refused),
            fixed(row.mean_tests_accepted_after_explanation),
            fixed(row.mean_turns),
            optional(row.mean_confidence),
            optional(row.mean_compliance),
            optional(row.mean_follow_up),
        ])?;
    }
    csv.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// The summary as an aligned text table for a terminal, one line per row after a header.
pub fn format_summary_table(rows: &[SummaryRow]) -> String {
    let header = [
        "agent",
        "bias",
        "episodes",
        "accuracy [95% CI]",
        "mean $",
        "median $",
        "visits",
        "tests",
        "refused",
        "turns",
        "errors",
        "truncated",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(ToString::to_string).collect()];
    for row in rows {
        table.push(vec![
            row.agent.clone(),
            row.bias.clone(),
            row.episodes.to_string(),
            format!(
                "{:.1}% [{:.1}, {:.1}]",
                100.0 * row.accuracy,
                100.0 * row.accuracy_ci_low,
                100.0 * row.accuracy_ci_high
            ),
            format!("{:.2}", row.mean_cost_usd),
            format!("{:.2}", row.median_cost_usd),
            format!("{:.2}", row.mean_visits),
            format!("{:.2}", row.mean_tests),
            format!("{:.2}", row.mean_tests_refused),
            format!("{:.2}", row.mean_turns),
            row.errors.to_string(),
            row.truncated.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            table
                .iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for line in &table {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, &width))| {
                // Names to the left, numbers to the right.
                if column < 2 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::merge;
    use crate::eval::report::tests::record;

    fn csv_of(records: &[EpisodeRecord]) -> String {
        let mut bytes = Vec::new();
        write_summary_csv(&summarize(records), &mut bytes).expect("writes");
        String::from_utf8(bytes).expect("utf-8")
    }

    /// Forty episodes over two agents, two biases and ten cases, with varied outcomes and costs.
    fn run() -> Vec<EpisodeRecord> {
        let mut records = Vec::new();
        for (agent, skill) in [("oracle", 9), ("cmd:python3 agent.py", 5)] {
            for bias in ["none", "recency"] {
                for case in 0..10_u64 {
                    let correct = (case * 7 + bias.len() as u64) % 10 < skill;
                    let cost = 300.0 + 125.5 * ((case * 3) % 7) as f64;
                    let specialty = ["cardiology", "neurology"][(case % 2) as usize];
                    records.push(record(
                        agent,
                        &format!("case-{case}"),
                        specialty,
                        bias,
                        case,
                        correct,
                        cost,
                    ));
                }
            }
        }
        records
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(quantile_sorted(&[1.0, 5.0, 9.0], 0.5), 5.0);
        assert_eq!(quantile_sorted(&[1.0, 5.0, 9.0, 10.0], 0.5), 7.0);
        assert_eq!(quantile_sorted(&[4.0], 0.5), 4.0);
        assert_eq!(quantile_sorted(&[], 0.5), 0.0);
        assert_eq!(quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), 2.0);
    }

    #[test]
    fn the_bootstrap_is_deterministic_and_contains_the_point_estimate() {
        for n in [1, 2, 3, 7, 20, 101] {
            for hits in 0..=n {
                let outcomes: Vec<bool> = (0..n).map(|i| i < hits).collect();
                let (low, high) = bootstrap_interval(&outcomes);
                assert_eq!((low, high), bootstrap_interval(&outcomes));
                let point = share(&outcomes);
                assert!(
                    low <= point && point <= high,
                    "{hits}/{n}: {point} outside [{low}, {high}]"
                );
                assert!((0.0..=1.0).contains(&low) && (0.0..=1.0).contains(&high));
            }
        }
        // All right or all wrong: no spread at all.
        assert_eq!(bootstrap_interval(&[true; 12]), (1.0, 1.0));
        assert_eq!(bootstrap_interval(&[false; 12]), (0.0, 0.0));
        // A mixed sample has an interval of some width, narrowing as the sample grows.
        let width = |n: usize| {
            let outcomes: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
            let (low, high) = bootstrap_interval(&outcomes);
            high - low
        };
        assert!(width(20) > width(200) && width(200) > 0.0);
    }

    #[test]
    fn rows_per_agent_and_bias_with_means_medians_and_patient_metrics() {
        let mut records = vec![
            record("oracle", "case-a", "cardiology", "none", 0, true, 500.0),
            record("oracle", "case-b", "cardiology", "none", 0, false, 700.0),
            record("oracle", "case-c", "cardiology", "none", 0, true, 1000.0),
            record("oracle", "case-a", "cardiology", "recency", 0, true, 400.0),
        ];
        records[1].status = RecordStatus::Error;
        records[1].patient = None;
        records[1].turns = 1;
        records[2].status = RecordStatus::Truncated;
        records[2].patient = None;
        records[3].patient = None;
        records[3].tests_refused = 2;
        records[3].tests_accepted_after_explanation = 1;
        let rows = summarize(&records);
        assert_eq!(rows.len(), 2);
        let none = &rows[0];
        assert_eq!(
            (none.agent.as_str(), none.bias.as_str()),
            ("oracle", "none")
        );
        assert_eq!((none.episodes, none.errors, none.truncated), (3, 1, 1));
        assert!((none.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((none.mean_cost_usd - 2200.0 / 3.0).abs() < 1e-9);
        assert_eq!(none.median_cost_usd, 700.0);
        assert_eq!(none.mean_turns, 3.0);
        assert_eq!(none.mean_confidence, Some(7.0));
        assert_eq!(rows[1].bias, "recency");
        assert_eq!(rows[1].mean_confidence, None);
        assert_eq!(none.mean_tests_refused, 0.0);
        assert_eq!(rows[1].mean_tests_refused, 2.0);
        assert_eq!(rows[1].mean_tests_accepted_after_explanation, 1.0);

        let csv = csv_of(&records);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], HEADER.join(","));
        assert!(
            lines[1].starts_with(
                "oracle,none,3,1,1,0.6667,0.0000,1.0000,733.3333,700.0000,1.0000,3.0000,0.0000,0.0000,3.0000,7.0000,8.0000,6.0000"
            ),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with(",,,"), "{}", lines[2]);
    }

    #[test]
    fn the_summary_does_not_depend_on_record_order() {
        let records = run();
        let mut shuffled = records.clone();
        shuffled.reverse();
        shuffled.swap(3, 17);
        assert_eq!(csv_of(&records), csv_of(&shuffled));
    }

    #[test]
    fn merging_two_halves_gives_the_summary_of_the_whole() {
        let records = run();
        let (odd, even): (Vec<_>, Vec<_>) = records
            .iter()
            .cloned()
            .enumerate()
            .partition(|(index, _)| index % 2 == 1);
        let strip = |half: Vec<(usize, EpisodeRecord)>| -> Vec<EpisodeRecord> {
            half.into_iter().map(|(_, record)| record).collect()
        };
        let merged = merge([strip(even), strip(odd)]).expect("merges");
        assert_eq!(merged.len(), records.len());
        assert_eq!(csv_of(&merged), csv_of(&records));
    }

    #[test]
    fn the_text_table_aligns_columns() {
        let table = format_summary_table(&summarize(&run()));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("agent "), "{table}");
        let column = lines[0].find("accuracy").expect("a column");
        assert!(lines[1][column..].contains('%'), "{table}");
        assert!(lines.iter().skip(1).all(|line| line.contains('[')));
    }
}

//! Reports of evaluation runs: reading `episodes.jsonl` from one or more run directories, merging them
//! (shards of one run, or runs resumed), and writing `summary.csv` (one row per agent × bias) and a
//! self-contained `report.html` with the accuracy–cost plane and its Pareto frontier, accuracy by bias,
//! cost distributions and accuracy by specialty.
//!
//! Everything here is deterministic: the same records, in any order and however they were split into
//! shards, give byte-identical files.

mod html;
mod summary;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::io;
use std::path::{Path, PathBuf};

use html::render_html;
pub use summary::{SummaryRow, format_summary_table};
use summary::{summarize, write_summary_csv};

use crate::eval::record::EpisodeRecord;

/// The file of a run directory that holds its episodes, one JSON record per line.
pub const EPISODES_FILE: &str = "episodes.jsonl";
/// The summary table a report writes.
pub const SUMMARY_FILE: &str = "summary.csv";
/// The HTML report a report writes.
pub const REPORT_FILE: &str = "report.html";

/// Why reading, merging or writing a report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line other than the last is not an episode record: the file is damaged, not merely cut short.
    #[error("{}, line {line}: not an episode record: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line, 1-based.
        line: usize,
        /// What the JSON parser said.
        source: serde_json::Error,
    },
    /// Two records share a key but differ in more than their wall-clock duration.
    #[error("conflicting records for episode `{key}`: they differ in {fields}")]
    Conflict {
        /// The episode key.
        key: String,
        /// The top-level fields that differ, comma-separated.
        fields: String,
    },
    /// A report file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The summary CSV could not be written.
    #[error("cannot write the summary CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// The records of one run directory, and how many lines were skipped as incomplete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedRecords {
    /// The records, in file order.
    pub records: Vec<EpisodeRecord>,
    /// Lines skipped: 1 when the last line was cut short or garbled (a run killed mid-write), else 0.
    pub skipped_lines: usize,
}

/// Reads `dir/episodes.jsonl`. Blank lines are ignored; a last line that is not a record (a process
/// killed while writing it) is skipped and counted in [`LoadedRecords::skipped_lines`]; any other line
/// that is not a record is an error naming the file and line.
pub fn load_records(dir: &Path) -> Result<LoadedRecords, ReportError> {
    let path = dir.join(EPISODES_FILE);
    let bytes = std::fs::read(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    parse_records(&bytes, &path)
}

/// Parses the bytes of an `episodes.jsonl` (read as bytes: a cut-short last line may end inside a
/// UTF-8 sequence).
fn parse_records(bytes: &[u8], path: &Path) -> Result<LoadedRecords, ReportError> {
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&byte| byte == b'\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim_ascii().is_empty())
        .collect();
    let mut loaded = LoadedRecords::default();
    for (position, &(line_number, line)) in lines.iter().enumerate() {
        match serde_json::from_slice::<EpisodeRecord>(line) {
            Ok(record) => loaded.records.push(record),
            Err(_) if position + 1 == lines.len() => loaded.skipped_lines += 1,
            Err(source) => {
                return Err(ReportError::Parse {
                    path: path.to_path_buf(),
                    line: line_number,
                    source,
                });
            }
        }
    }
    Ok(loaded)
}

/// Merges the records of several runs (or shards of one run) into one list sorted by key. A record
/// given twice is kept once; two records with the same key that differ in anything but
/// `duration_ms` are a [`ReportError::Conflict`]. Of duplicates that differ only in duration, the
/// shorter is kept, so the result does not depend on the order of `runs`.
pub fn merge(
    runs: impl IntoIterator<Item = Vec<EpisodeRecord>>,
) -> Result<Vec<EpisodeRecord>, ReportError> {
    let mut merged: BTreeMap<String, EpisodeRecord> = BTreeMap::new();
    for record in runs.into_iter().flatten() {
        match merged.entry(record.key.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(record);
            }
            Entry::Occupied(mut slot) => {
                let kept = slot.get_mut();
                let fields = differing_fields(kept, &record);
                if !fields.is_empty() {
                    return Err(ReportError::Conflict {
                        key: record.key,
                        fields: fields.join(", "),
                    });
                }
                kept.duration_ms = kept.duration_ms.min(record.duration_ms);
            }
        }
    }
    Ok(merged.into_values().collect())
}

/// The top-level fields in which two records differ, `duration_ms` aside.
fn differing_fields(a: &EpisodeRecord, b: &EpisodeRecord) -> Vec<String> {
    let same_apart_from_duration = EpisodeRecord {
        duration_ms: a.duration_ms,
        ..b.clone()
    } == *a;
    if same_apart_from_duration {
        return Vec::new();
    }
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) => {
            let mut fields: Vec<String> = a
                .iter()
                .filter(|(name, value)| b.get(name.as_str()) != Some(value))
                .map(|(name, _)| name.clone())
                .chain(b.keys().filter(|name| !a.contains_key(*name)).cloned())
                .filter(|name| name != "duration_ms")
                .collect();
            fields.sort();
            fields.dedup();
            if fields.is_empty() {
                // Equal as JSON but not as values (a float that does not round-trip): still a conflict.
                fields.push("values".into());
            }
            fields
        }
        _ => vec!["values".into()],
    }
}

/// Writes `out_dir/summary.csv` and `out_dir/report.html` for `records` (creating `out_dir` if
/// needed) and returns the summary rows. This is what `dxsim eval` calls at the end of a run and what
/// `dxsim report` calls after merging directories.
pub fn write_reports(
    records: &[EpisodeRecord],
    out_dir: &Path,
    title: &str,
) -> Result<Vec<SummaryRow>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let rows = summarize(records);
    let mut csv = Vec::new();
    write_summary_csv(&rows, &mut csv)?;
    write_file(&out_dir.join(SUMMARY_FILE), &csv)?;
    write_file(
        &out_dir.join(REPORT_FILE),
        render_html(records, &rows, title).as_bytes(),
    )?;
    Ok(rows)
}

/// Writes a file whole: to a temporary name beside it, then renamed, so a reader never sees half.
fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, contents)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|source| ReportError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use dxsim_gatekeeper::case::Difficulty;

    use super::*;
    use crate::action::Action;
    use crate::eval::record::{RecordCost, RecordStatus};
    use crate::patient::bias::PatientMetrics;

    /// A record of `agent` on `case` (specialty `specialty`) under `bias`, seed `seed`.
    pub(crate) fn record(
        agent: &str,
        case: &str,
        specialty: &str,
        bias: &str,
        seed: u64,
        correct: bool,
        cost_usd: f64,
    ) -> EpisodeRecord {
        EpisodeRecord {
            key: format!("{agent}|{case}|{bias}|{seed}"),
            agent: agent.into(),
            case_id: case.into(),
            specialty: specialty.into(),
            difficulty: Difficulty::Common,
            bias: bias.into(),
            seed,
            status: RecordStatus::Diagnosed,
            error: None,
            diagnosis: Some("acute appendicitis".into()),
            reference: "Acute appendicitis".into(),
            reference_icd10: "K35.80".into(),
            score: Some(if correct { 5 } else { 2 }),
            correct,
            rationale: None,
            cost: RecordCost {
                total_usd: cost_usd,
                visits_usd: 300.0,
                tests_usd: cost_usd - 300.0,
                visit_count: 1,
                test_count: 3,
                repeat_count: 0,
            },
            turns: 4,
            patient: Some(PatientMetrics {
                confidence: 7,
                compliance: 8,
                follow_up: 6,
            }),
            bias_triggered: None,
            tests_refused: 0,
            tests_accepted_after_explanation: 0,
            key_findings_revealed: 3,
            key_findings_missed: 1,
            synthetic: Vec::new(),
            actions: vec![Action::Diagnose {
                diagnosis: "acute appendicitis".into(),
                icd10: None,
            }],
            transcript: Vec::new(),
            rule_score: None,
            jury: None,
            llm_usage: None,
            deliberation: Vec::new(),
            duration_ms: 12,
        }
    }

    fn jsonl(records: &[EpisodeRecord]) -> String {
        records
            .iter()
            .map(|record| serde_json::to_string(record).expect("serialisable") + "\n")
            .collect()
    }

    #[test]
    fn a_cut_short_last_line_is_skipped_and_counted() {
        let records = [
            record("oracle", "case-a", "cardiology", "none", 0, true, 500.0),
            record("oracle", "case-b", "cardiology", "none", 0, false, 700.0),
        ];
        let whole = jsonl(&records);
        // Cut inside the second record, and inside a multi-byte character to be sure bytes are read.
        let mut cut = whole.as_bytes()[..whole.len() - 40].to_vec();
        cut.extend_from_slice(&"é".as_bytes()[..1]);
        let loaded = parse_records(&cut, Path::new("episodes.jsonl")).expect("loads");
        assert_eq!(loaded.records, records[..1]);
        assert_eq!(loaded.skipped_lines, 1);

        let loaded = parse_records(whole.as_bytes(), Path::new("episodes.jsonl")).expect("loads");
        assert_eq!(loaded.records, records);
        assert_eq!(loaded.skipped_lines, 0);
    }

    #[test]
    fn a_garbled_line_in_the_middle_is_an_error_naming_file_and_line() {
        let records = [
            record("oracle", "case-a", "cardiology", "none", 0, true, 500.0),
            record("oracle", "case-b", "cardiology", "none", 0, false, 700.0),
        ];
        let text = format!(
            // A blank line first: line numbers count every line of the file.
            "{}\n\n{{\"key\": \"broken\n{}",
            serde_json::to_string(&records[0]).expect("json"),
            jsonl(&records[1..])
        );
        let error = parse_records(text.as_bytes(), Path::new("run/episodes.jsonl"))
            .expect_err("a damaged middle line");
        assert!(
            matches!(error, ReportError::Parse { line: 3, .. }),
            "{error}"
        );
        assert!(
            error.to_string().starts_with("run/episodes.jsonl, line 3:"),
            "{error}"
        );
    }

    #[test]
    fn load_records_reads_the_run_directory_and_names_a_missing_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let records = [record(
            "oracle",
            "case-a",
            "cardiology",
            "none",
            0,
            true,
            500.0,
        )];
        std::fs::write(dir.path().join(EPISODES_FILE), jsonl(&records)).expect("write");
        assert_eq!(
            load_records(dir.path()).expect("loads").records,
            records.to_vec()
        );
        let missing = dir.path().join("nowhere");
        let error = load_records(&missing).expect_err("no such run");
        assert!(matches!(error, ReportError::Read { .. }), "{error}");
        assert!(error.to_string().contains(EPISODES_FILE), "{error}");
    }

    #[test]
    fn merge_keeps_identical_duplicates_once_and_sorts_by_key() {
        let a = record("random", "case-b", "neurology", "none", 1, false, 900.0);
        let b = record("oracle", "case-a", "cardiology", "none", 0, true, 500.0);
        let mut slower = a.clone();
        slower.duration_ms = 99;
        let merged = merge([vec![slower, b.clone()], vec![a.clone(), a.clone()]]).expect("merges");
        assert_eq!(merged, vec![b.clone(), a.clone()]);
        let reversed = merge([vec![a.clone()], vec![b, a]]).expect("merges");
        assert_eq!(merged, reversed);
    }

    #[test]
    fn merge_rejects_conflicting_records_naming_the_key_and_fields() {
        let a = record("oracle", "case-a", "cardiology", "none", 0, true, 500.0);
        let mut other = a.clone();
        other.correct = false;
        other.score = Some(2);
        let error = merge([vec![a], vec![other]]).expect_err("a conflict");
        assert_eq!(
            error.to_string(),
            "conflicting records for episode `oracle|case-a|none|0`: they differ in correct, score"
        );
    }

    #[test]
    fn write_reports_writes_both_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("report");
        let records = [
            record("oracle", "case-a", "cardiology", "none", 0, true, 500.0),
            record("oracle", "case-b", "neurology", "none", 0, false, 800.0),
        ];
        let rows = write_reports(&records, &out, "a run").expect("writes");
        assert_eq!(rows.len(), 1);
        let csv = std::fs::read_to_string(out.join(SUMMARY_FILE)).expect("summary");
        assert!(csv.starts_with("agent,bias,episodes,"), "{csv}");
        let html = std::fs::read_to_string(out.join(REPORT_FILE)).expect("report");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(!out.join("summary.csv.tmp").exists());
    }
}

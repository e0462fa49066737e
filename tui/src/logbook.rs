//! The trainee's logbook: every finished case in a SQLite file, and the summaries the logbook screen
//! and `dxsim logbook` show — history, accuracy and mean cost by specialty and by month.
//!
//! The file lives under the user's data directory (`…/dxsim/logbook.sqlite`) unless `DXSIM_LOGBOOK` or
//! `--logbook PATH` names another; a suspended episode is saved beside it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dxsim_gatekeeper::Money;
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::driver::Debrief;

/// The environment variable that names the logbook file.
pub const LOGBOOK_ENV: &str = "DXSIM_LOGBOOK";

/// The schema version this build writes (SQLite's `user_version`).
const SCHEMA_VERSION: i64 = 1;

/// Why the logbook could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogbookError {
    /// No data directory is known and no path was given.
    #[error("cannot tell where to keep the logbook: no data directory is known")]
    NoDataDir,
    /// The folder for the file could not be made.
    #[error("cannot create the logbook folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a logbook this build can use.
    #[error("the logbook {path} cannot be used: {source}")]
    Database {
        /// The file.
        path: PathBuf,
        /// SQLite's complaint.
        source: rusqlite::Error,
    },
    /// The file was written by a newer build.
    #[error(
        "the logbook {path} has schema version {found}; this build reads version {SCHEMA_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
}

/// Where the logbook lives: `explicit` if given, else `$DXSIM_LOGBOOK`, else the user's data folder.
pub fn logbook_path(explicit: Option<&Path>) -> Result<PathBuf, LogbookError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(LOGBOOK_ENV).filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    dirs::data_dir()
        .map(|dir| dir.join("dxsim").join("logbook.sqlite"))
        .ok_or(LogbookError::NoDataDir)
}

/// One finished case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// When it finished, `YYYY-MM-DD HH:MM` (UTC).
    pub finished: String,
    /// The case id.
    pub case_id: String,
    /// Specialty.
    pub specialty: String,
    /// Difficulty tier.
    pub difficulty: String,
    /// The diagnosis given, if any.
    pub diagnosis_given: Option<String>,
    /// The true diagnosis.
    pub true_diagnosis: String,
    /// The judge's score, if a diagnosis was given.
    pub score: Option<u8>,
    /// Whether it was correct.
    pub correct: bool,
    /// What the work-up cost.
    pub total: Money,
    /// Turns taken.
    pub turns: u32,
}

/// Accuracy and mean cost of a group of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The month (`YYYY-MM`), or empty for a summary over all time.
    pub period: String,
    /// The specialty, or `all`.
    pub specialty: String,
    /// Cases finished.
    pub cases: u32,
    /// Cases diagnosed correctly.
    pub correct: u32,
    /// Mean cost per case.
    pub mean_cost: Money,
}

impl Summary {
    /// Correct cases as a percentage, rounded to the nearest whole number.
    pub fn accuracy_percent(&self) -> u32 {
        (self.correct * 100 + self.cases / 2)
            .checked_div(self.cases)
            .unwrap_or_default()
    }
}

/// Everything the logbook screen and `dxsim logbook` show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogbookView {
    /// The file read.
    pub path: String,
    /// Every case, newest first.
    pub records: Vec<LogRecord>,
    /// All cases, then one line per specialty.
    pub by_specialty: Vec<Summary>,
    /// One line per month and specialty, oldest month first.
    pub over_time: Vec<Summary>,
}

/// An open logbook file.
#[derive(Debug)]
pub struct Logbook {
    connection: Connection,
    path: PathBuf,
}

impl Logbook {
    /// Opens the logbook at `path`, creating the file and its folder if need be.
    pub fn open(path: &Path) -> Result<Logbook, LogbookError> {
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| LogbookError::Folder {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        let database = |source| LogbookError::Database {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(database)?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(database)?;
        if version > SCHEMA_VERSION {
            return Err(LogbookError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS cases (
                    id INTEGER PRIMARY KEY,
                    finished_at INTEGER NOT NULL,
                    case_id TEXT NOT NULL,
                    specialty TEXT NOT NULL,
                    difficulty TEXT NOT NULL,
                    diagnosis_given TEXT,
                    true_diagnosis TEXT NOT NULL,
                    score INTEGER,
                    correct INTEGER NOT NULL,
                    total_cents INTEGER NOT NULL,
                    turns INTEGER NOT NULL,
                    seed TEXT NOT NULL
                 );
                 PRAGMA user_version = 1;",
            )
            .map_err(database)?;
        Ok(Logbook {
            connection,
            path: path.to_path_buf(),
        })
    }

    fn database(&self, source: rusqlite::Error) -> LogbookError {
        LogbookError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a finished case, now.
    pub fn record(&self, debrief: &Debrief) -> Result<(), LogbookError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.record_at(debrief, now)
    }

    /// Records a finished case at a given time (seconds since 1970, UTC).
    pub fn record_at(&self, debrief: &Debrief, finished_at: u64) -> Result<(), LogbookError> {
        let correct = debrief
            .verdict
            .as_ref()
            .is_some_and(|verdict| verdict.correct);
        self.connection
            .execute(
                "INSERT INTO cases (finished_at, case_id, specialty, difficulty, diagnosis_given,
                    true_diagnosis, score, correct, total_cents, turns, seed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    i64::try_from(finished_at).unwrap_or(i64::MAX),
                    debrief.case_id,
                    debrief.specialty,
                    debrief.difficulty,
                    debrief.diagnosis_given,
                    debrief.true_diagnosis,
                    debrief.verdict.as_ref().map(|verdict| verdict.score),
                    correct,
                    i64::try_from(debrief.meter.total.0).unwrap_or(i64::MAX),
                    debrief.meter.turn,
                    debrief.seed.to_string(),
                ],
            )
            .map_err(|source| self.database(source))?;
        Ok(())
    }

    /// Reads every record and the summaries.
    pub fn view(&self) -> Result<LogbookView, LogbookError> {
        Ok(LogbookView {
            path: self.path.display().to_string(),
            records: self.records()?,
            by_specialty: self.summaries(
                "SELECT '', 'all', COUNT(*), SUM(correct), AVG(total_cents) FROM cases
                 HAVING COUNT(*) > 0
                 UNION ALL
                 SELECT '', specialty, COUNT(*), SUM(correct), AVG(total_cents) FROM cases
                 GROUP BY specialty",
            )?,
            over_time: self.summaries(
                "SELECT strftime('%Y-%m', finished_at, 'unixepoch') AS month, specialty, COUNT(*),
                        SUM(correct), AVG(total_cents)
                 FROM cases GROUP BY month, specialty ORDER BY month, specialty",
            )?,
        })
    }

    fn records(&self) -> Result<Vec<LogRecord>, LogbookError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT strftime('%Y-%m-%d %H:%M', finished_at, 'unixepoch'), case_id, specialty,
                        difficulty, diagnosis_given, true_diagnosis, score, correct, total_cents, turns
                 FROM cases ORDER BY finished_at DESC, id DESC",
            )
            .map_err(|source| self.database(source))?;
        let rows = statement
            .query_map([], |row| {
                Ok(LogRecord {
                    finished: row.get(0)?,
                    case_id: row.get(1)?,
                    specialty: row.get(2)?,
                    difficulty: row.get(3)?,
                    diagnosis_given: row.get(4)?,
                    true_diagnosis: row.get(5)?,
                    score: row.get(6)?,
                    correct: row.get(7)?,
                    total: Money(u64::try_from(row.get::<_, i64>(8)?).unwrap_or_default()),
                    turns: row.get(9)?,
                })
            })
            .map_err(|source| self.database(source))?;
        rows.collect::<Result<_, _>>()
            .map_err(|source| self.database(source))
    }

    fn summaries(&self, sql: &str) -> Result<Vec<Summary>, LogbookError> {
        let mut statement = self
            .connection
            .prepare(sql)
            .map_err(|source| self.database(source))?;
        let rows = statement
            .query_map([], |row| {
                let mean: Option<f64> = row.get(4)?;
                Ok(Summary {
                    period: row.get(0)?,
                    specialty: row.get(1)?,
                    cases: row.get(2)?,
                    correct: row.get::<_, Option<u32>>(3)?.unwrap_or_default(),
                    mean_cost: Money::from_dollars(mean.unwrap_or_default() / 100.0),
                })
            })
            .map_err(|source| self.database(source))?;
        rows.collect::<Result<_, _>>()
            .map_err(|source| self.database(source))
    }

    /// Where a suspended episode is saved: beside this logbook.
    pub fn suspended_path(&self) -> PathBuf {
        suspended_path(&self.path)
    }

    /// Reads the saved episode, if there is one.
    pub fn read_suspended(&self) -> io::Result<Option<(String, String)>> {
        let path = self.suspended_path();
        let Some(log) = std::fs::read_to_string(&path).map(Some).or_else(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                Ok(None)
            } else {
                Err(error)
            }
        })?
        else {
            return Ok(None);
        };
        let notes = std::fs::read_to_string(notes_path(&path)).unwrap_or_default();
        Ok(Some((log, notes)))
    }

    /// Saves a suspended episode's log and the student's notes, replacing any saved before.
    pub fn write_suspended(&self, log: &str, notes: &str) -> io::Result<PathBuf> {
        let path = self.suspended_path();
        write_atomically(&path, log)?;
        write_atomically(&notes_path(&path), notes)?;
        Ok(path)
    }

    /// Removes the saved episode (once it has been finished).
    pub fn clear_suspended(&self) -> io::Result<()> {
        let path = self.suspended_path();
        for file in [notes_path(&path), path] {
            match std::fs::remove_file(&file) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The saved episode's log file beside a logbook.
fn suspended_path(logbook: &Path) -> PathBuf {
    logbook.with_file_name("suspended-episode.jsonl")
}

fn notes_path(suspended: &Path) -> PathBuf {
    suspended.with_extension("notes.txt")
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// Writes the logbook as `dxsim logbook` prints it.
pub fn write_report(out: &mut impl Write, view: &LogbookView) -> io::Result<()> {
    writeln!(out, "logbook: {}", view.path)?;
    if view.records.is_empty() {
        writeln!(out, "no finished cases yet: play one with `dxsim play`")?;
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "by specialty")?;
    writeln!(
        out,
        "  {:<20} {:>5} {:>8} {:>12}",
        "specialty", "cases", "accuracy", "mean cost"
    )?;
    for summary in &view.by_specialty {
        writeln!(
            out,
            "  {:<20} {:>5} {:>7}% {:>12}",
            summary.specialty,
            summary.cases,
            summary.accuracy_percent(),
            summary.mean_cost.to_string()
        )?;
    }
    writeln!(out)?;
    writeln!(out, "over time")?;
    writeln!(
        out,
        "  {:<8} {:<20} {:>5} {:>8} {:>12}",
        "month", "specialty", "cases", "accuracy", "mean cost"
    )?;
    for summary in &view.over_time {
        writeln!(
            out,
            "  {:<8} {:<20} {:>5} {:>7}% {:>12}",
            summary.period,
            summary.specialty,
            summary.cases,
            summary.accuracy_percent(),
            summary.mean_cost.to_string()
        )?;
    }
    writeln!(out)?;
    writeln!(out, "history (newest first)")?;
    for record in &view.records {
        let verdict = match record.score {
            Some(score) if record.correct => format!("correct {score}/5"),
            Some(score) => format!("wrong {score}/5"),
            None => "no diagnosis".to_string(),
        };
        writeln!(
            out,
            "  {}  {:<36} {:<14} {:>10}  {} turns  {}",
            record.finished,
            record.case_id,
            verdict,
            record.total.to_string(),
            record.turns,
            record.true_diagnosis
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Ending, Meter, Verdict};

    fn debrief(specialty: &str, correct: bool, cents: u64) -> Debrief {
        Debrief {
            case_id: format!("{specialty}-case"),
            title: "A case".into(),
            specialty: specialty.into(),
            difficulty: "common".into(),
            seed: 7,
            ending: Ending::Diagnosed,
            diagnosis_given: Some("guess".into()),
            verdict: Some(Verdict {
                score: if correct { 5 } else { 1 },
                correct,
                rationale: "because".into(),
            }),
            true_diagnosis: "Truth".into(),
            icd10: "A00".into(),
            path: Vec::new(),
            meter: Meter {
                total: Money(cents),
                turn: 3,
                ..Meter::default()
            },
            reference_path: Vec::new(),
            reference_total: Money(0),
            low_yield: Vec::new(),
            key_found: Vec::new(),
            key_missed: Vec::new(),
            teaching_points: Vec::new(),
            patient_note: None,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dxsim-tui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("nested").join("logbook.sqlite")
    }

    #[test]
    fn summaries_count_accuracy_and_mean_cost_by_specialty_and_month() {
        let path = scratch("summaries");
        let logbook = Logbook::open(&path).expect("opens");
        // 2026-01-15 and 2026-02-15, UTC.
        logbook
            .record_at(&debrief("cardiology", true, 10_000), 1_768_435_200)
            .expect("records");
        logbook
            .record_at(&debrief("cardiology", false, 30_000), 1_771_113_600)
            .expect("records");
        logbook
            .record_at(&debrief("neurology", true, 5_000), 1_771_113_600)
            .expect("records");
        let view = Logbook::open(&path)
            .expect("reopens")
            .view()
            .expect("reads");
        assert_eq!(view.records.len(), 3);
        assert_eq!(view.records[2].finished, "2026-01-15 00:00");
        let all = &view.by_specialty[0];
        assert_eq!(
            (all.specialty.as_str(), all.cases, all.correct),
            ("all", 3, 2)
        );
        assert_eq!(all.mean_cost, Money(15_000));
        let cardiology = &view.by_specialty[1];
        assert_eq!(cardiology.accuracy_percent(), 50);
        assert_eq!(cardiology.mean_cost, Money(20_000));
        let months: Vec<(&str, &str, u32)> = view
            .over_time
            .iter()
            .map(|row| (row.period.as_str(), row.specialty.as_str(), row.cases))
            .collect();
        assert_eq!(
            months,
            [
                ("2026-01", "cardiology", 1),
                ("2026-02", "cardiology", 1),
                ("2026-02", "neurology", 1)
            ]
        );
    }

    #[test]
    fn a_file_that_is_not_a_logbook_is_refused_with_its_path() {
        let path = scratch("garbage");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &path,
            "this is not sqlite, just text that is long enough to matter",
        )
        .expect("write");
        let error = Logbook::open(&path).expect_err("refused");
        assert!(error.to_string().contains("logbook.sqlite"), "{error}");
    }

    #[test]
    fn a_suspended_episode_round_trips_and_clears() {
        let path = scratch("suspend");
        let logbook = Logbook::open(&path).expect("opens");
        assert_eq!(logbook.read_suspended().expect("reads"), None);
        logbook
            .write_suspended("{\"log\":1}\n", "PE?\nMI?")
            .expect("writes");
        assert_eq!(
            logbook.read_suspended().expect("reads"),
            Some(("{\"log\":1}\n".to_string(), "PE?\nMI?".to_string()))
        );
        logbook.clear_suspended().expect("clears");
        assert_eq!(logbook.read_suspended().expect("reads"), None);
    }
}

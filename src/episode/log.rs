//! The episode event log: append-only, one JSON object per line, enough to replay an episode exactly.
//!
//! The first line is the header (format version, case, seed, options); every later line is one step:
//! the action and the response it got. Replaying re-runs the actions on a fresh episode with the same
//! case, seed and options and checks that every response comes out the same.

use serde::{Deserialize, Serialize};

use super::{EnvError, EpisodeOptions, EpisodePool, TranscriptEntry};
use crate::action::Action;
use crate::library::{CaseLibrary, CaseSource, CaseStamp};

/// The log format's version; bumped when a line's shape changes.
pub const LOG_VERSION: u32 = 1;

/// The first line of a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHeader {
    /// Format version.
    pub version: u32,
    /// The case played.
    pub case_id: String,
    /// The episode seed.
    pub seed: u64,
    /// The options, with the case fixed by id.
    pub options: EpisodeOptions,
    /// The case's library and content hash, when its source records them: a replay refuses a case
    /// that has changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<CaseStamp>,
}

/// One step of a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogStep {
    /// Turn number, from 1.
    pub turn: u32,
    /// The action taken.
    pub action: Action,
    /// The observation text it got.
    pub response: String,
    /// The language model's raw reply the response was built from, if one was (an LLM patient).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_reply: Option<String>,
}

/// A whole episode log.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeLog {
    /// The header.
    pub header: LogHeader,
    /// The steps, in order.
    pub steps: Vec<LogStep>,
}

/// Why a log could not be read or replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log has no header line.
    #[error("the log is empty: its first line must be the header")]
    Empty,
    /// A line is not valid JSON of the expected shape.
    #[error("line {line}: {source}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A format this build does not read.
    #[error("log format version {0} is not supported (this build reads version {LOG_VERSION})")]
    Version(u32),
    /// Replaying failed to start or to step.
    #[error("replay failed at turn {turn}: {source}")]
    Env {
        /// The turn that failed (0 for the reset).
        turn: u32,
        /// Why.
        source: EnvError,
    },
    /// The case the log was recorded on has changed (or is missing from the library given).
    #[error(
        "the log was recorded on case `{case}` of library `{library}` (sha256 {recorded}), but {now}: replay it with the library it was recorded on"
    )]
    CaseChanged {
        /// The case id.
        case: String,
        /// The library the log names.
        library: String,
        /// The case's hash in the log.
        recorded: String,
        /// What the library given holds instead.
        now: String,
    },
    /// Replaying produced a different response.
    #[error(
        "replay diverged at turn {turn}: the log says {expected:?} but the engine now says {got:?}"
    )]
    Diverged {
        /// The turn that differs.
        turn: u32,
        /// The logged response.
        expected: String,
        /// The response now.
        got: String,
    },
}

impl EpisodeLog {
    /// The log as JSON lines.
    pub fn to_jsonl(&self) -> String {
        let mut out = serde_json::to_string(&self.header).unwrap_or_default();
        out.push('\n');
        for step in &self.steps {
            out.push_str(&serde_json::to_string(step).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Reads a log from JSON lines (blank lines are skipped).
    pub fn from_jsonl(text: &str) -> Result<EpisodeLog, LogError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        let (_, first) = lines.next().ok_or(LogError::Empty)?;
        let header: LogHeader =
            serde_json::from_str(first).map_err(|source| LogError::Line { line: 1, source })?;
        if header.version != LOG_VERSION {
            return Err(LogError::Version(header.version));
        }
        let steps = lines
            .map(|(number, line)| {
                serde_json::from_str(line).map_err(|source| LogError::Line {
                    line: number + 1,
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(EpisodeLog { header, steps })
    }

    /// Re-runs the logged actions and checks every response; returns the replayed transcript.
    pub fn replay(&self, library: &'static CaseLibrary) -> Result<Vec<TranscriptEntry>, LogError> {
        let mut pool = EpisodePool::new(library, false);
        let key = pool.replay(self)?;
        Ok(pool.transcript(key).unwrap_or_default().to_vec())
    }
}

impl LogHeader {
    /// A header for an episode started on `case_id` with `seed` and `options`.
    pub fn new(case_id: String, seed: u64, options: EpisodeOptions) -> LogHeader {
        LogHeader {
            version: LOG_VERSION,
            case_id,
            seed,
            options,
            case: None,
        }
    }

    /// A header for an episode started on `case_id` of `source`, stamped with the case's library
    /// and content hash when the source records them.
    pub fn for_case(
        source: &dyn CaseSource,
        case_id: String,
        seed: u64,
        options: EpisodeOptions,
    ) -> LogHeader {
        let case = source.case_stamp(&case_id);
        LogHeader {
            case,
            ..LogHeader::new(case_id, seed, options)
        }
    }

    /// Checks that `source` holds the case this header was recorded on, unchanged (a header
    /// without a stamp, from an older log or an unnamed source, passes).
    pub fn check_case(&self, source: &dyn CaseSource) -> Result<(), LogError> {
        let Some(recorded) = &self.case else {
            return Ok(());
        };
        let now = match source.case_stamp(&self.case_id) {
            Some(stamp) if stamp == *recorded => return Ok(()),
            Some(stamp) if stamp.library != recorded.library => format!(
                "the library given has it in library `{}` (sha256 {})",
                stamp.library, stamp.sha256
            ),
            Some(stamp) => format!(
                "the case in the library given differs from it (sha256 {})",
                stamp.sha256
            ),
            None => "the library given does not hold it".to_string(),
        };
        Err(LogError::CaseChanged {
            case: self.case_id.clone(),
            library: recorded.library.clone(),
            recorded: recorded.sha256.clone(),
            now,
        })
    }
}

impl From<&TranscriptEntry> for LogStep {
    /// The logged form of a transcript line.
    fn from(entry: &TranscriptEntry) -> LogStep {
        LogStep::new(
            entry.turn,
            entry.action.clone(),
            entry.response.clone(),
            entry.model_reply.clone(),
        )
    }
}

impl LogStep {
    /// A logged step.
    pub fn new(
        turn: u32,
        action: Action,
        response: String,
        model_reply: Option<String>,
    ) -> LogStep {
        LogStep {
            turn,
            action,
            response,
            model_reply,
        }
    }
}

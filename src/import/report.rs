//! The import report: how many records were read and imported, and for each record whatever was not
//! mapped, was repaired, or stopped it from importing.
//!
//! Notes are streamed to a [`ReportSink`] as each record finishes, so a million-record import keeps
//! only counts in memory; [`ImportReport`] is what remains at the end.

use serde::Serialize;

/// What happened to one part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Kept, but not where a catalogue name would put it (a case-specific test, an exam key filed
    /// under `general`, a differential name without a code).
    Unmapped,
    /// Changed so that the case is valid or safe to play (a clause naming the diagnosis withheld, a
    /// test marked confirmatory, an assumed value).
    Repaired,
    /// The record could not be imported; the message says why.
    Failed,
    /// The record was left out on purpose (an NEJM question that asks for no diagnosis); the
    /// message says why and which option keeps it.
    Skipped,
}

/// One note about a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    /// What kind of note.
    pub kind: NoteKind,
    /// The field of the source record (`Test_Results.Serum_Lyme_Titer`), empty for the whole record.
    pub field: String,
    /// What was done, naming the value.
    pub message: String,
}

/// The notes on one record of the source, reported when it has any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordReport {
    /// The source file's name.
    pub file: String,
    /// The record's line in the file, counting from 1.
    pub line: u64,
    /// The id of the case made from it, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// What was unmapped, repaired or fatal.
    pub notes: Vec<Note>,
}

impl RecordReport {
    /// Whether the record was imported.
    pub fn imported(&self) -> bool {
        !self
            .notes
            .iter()
            .any(|note| matches!(note.kind, NoteKind::Failed | NoteKind::Skipped))
    }

    /// Whether the record was left out on purpose rather than failing.
    pub fn skipped(&self) -> bool {
        !self.imported() && !self.notes.iter().any(|note| note.kind == NoteKind::Failed)
    }
}

impl std::fmt::Display for RecordReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let case = self.case_id.as_deref().unwrap_or("not imported");
        writeln!(f, "{} line {} ({case}):", self.file, self.line)?;
        for note in &self.notes {
            let kind = match note.kind {
                NoteKind::Unmapped => "unmapped",
                NoteKind::Repaired => "repaired",
                NoteKind::Failed => "FAILED",
                NoteKind::Skipped => "skipped",
            };
            if note.field.is_empty() {
                writeln!(f, "  {kind}: {}", note.message)?;
            } else {
                writeln!(f, "  {kind}: {}: {}", note.field, note.message)?;
            }
        }
        Ok(())
    }
}

/// Where record reports go as an import runs.
pub trait ReportSink {
    /// Receives the report of one record that has notes.
    fn record(&mut self, report: &RecordReport) -> std::io::Result<()>;
}

/// A sink that keeps every record report in memory (tests, small imports).
#[derive(Debug, Default)]
pub struct CollectSink(pub Vec<RecordReport>);

impl ReportSink for CollectSink {
    fn record(&mut self, report: &RecordReport) -> std::io::Result<()> {
        self.0.push(report.clone());
        Ok(())
    }
}

/// The totals of one import.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Records read (non-blank lines or CSV rows).
    pub read: u64,
    /// Records turned into valid cases.
    pub imported: u64,
    /// Records that could not be imported.
    pub failed: u64,
    /// Records left out on purpose (see [`NoteKind::Skipped`]).
    pub skipped: u64,
    /// Imported records that carry at least one unmapped or repaired note.
    pub with_notes: u64,
    /// Notes about the source's tables rather than one record (DDXPlus evidences and conditions).
    pub table_notes: Vec<Note>,
}

impl ImportReport {
    /// Counts one finished record and passes its report to `sink` when it has notes.
    pub(crate) fn finish(
        &mut self,
        record: &RecordReport,
        sink: &mut dyn ReportSink,
    ) -> std::io::Result<()> {
        self.read += 1;
        if record.imported() {
            self.imported += 1;
            if !record.notes.is_empty() {
                self.with_notes += 1;
            }
        } else if record.skipped() {
            self.skipped += 1;
        } else {
            self.failed += 1;
        }
        if record.notes.is_empty() {
            Ok(())
        } else {
            sink.record(record)
        }
    }
}

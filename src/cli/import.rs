//! `dxsim cases import …`: AgentClinic JSON lines and DDXPlus releases turned into case files, with
//! the import report on stdout.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use dxsim::import::agentclinic::{self, Form};
use dxsim::import::{
    CaseSink, DirectorySink, ImportError, ImportOptions, ImportReport, RecordReport, ReportSink,
    ddxplus,
};
use dxsim_gatekeeper::Case;

use super::{Outcome, UserError};

/// The public case sets dxsim imports.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// AgentClinic JSON lines (OSCE or NEJM form, detected per record) to case files.
    Agentclinic {
        /// The JSON-lines file.
        file: PathBuf,
        /// Directory to write the case files to (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Which form the records are in.
        #[arg(long, value_enum, default_value = "auto")]
        form: FormArg,
        /// Also import NEJM questions that ask for something other than a diagnosis ("Which
        /// animal…?"); skipped by default.
        #[arg(long)]
        keep_non_diagnostic: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// A DDXPlus release directory (evidence and condition tables, patient CSVs) to case files,
    /// streamed row by row.
    Ddxplus {
        /// The release directory holding release_evidences.json, release_conditions.json and the
        /// patient CSVs.
        dir: PathBuf,
        /// Directory to write the case files to (created if missing).
        #[arg(long, required_unless_present = "check", conflicts_with = "check")]
        out: Option<PathBuf>,
        /// Build and validate every case without writing any (to measure or vet a release).
        #[arg(long)]
        check: bool,
        /// Only these patient CSVs (default: every file in DIR whose name holds `patients`).
        #[arg(long = "patients")]
        patients: Vec<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Options both importers take.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// Licence recorded on the imported cases (SPDX id).
    #[arg(long, default_value = "NOASSERTION")]
    licence: String,
    /// Date recorded as the cases' creation date, YYYY-MM-DD (default: today).
    #[arg(long)]
    created: Option<String>,
    /// Print the record reports as JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FormArg {
    /// Decide per record.
    Auto,
    /// OSCE records (MedQA, MIMIC-IV).
    Osce,
    /// NEJM image-challenge records.
    Nejm,
}

impl From<FormArg> for Form {
    fn from(value: FormArg) -> Form {
        match value {
            FormArg::Auto => Form::Auto,
            FormArg::Osce => Form::Osce,
            FormArg::Nejm => Form::Nejm,
        }
    }
}

/// Record reports written to stdout as they come.
struct StdoutSink<W: Write> {
    out: W,
    json: bool,
}

impl<W: Write> ReportSink for StdoutSink<W> {
    fn record(&mut self, report: &RecordReport) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut self.out, report)?;
            writeln!(self.out)
        } else {
            write!(self.out, "{report}")
        }
    }
}

/// Counts cases without keeping or writing them (`--check`).
struct CountSink(u64);

impl CaseSink for CountSink {
    fn case(&mut self, _case: Case) -> Result<(), ImportError> {
        self.0 += 1;
        Ok(())
    }
}

fn options(common: &CommonArgs) -> anyhow::Result<ImportOptions> {
    let mut options = ImportOptions {
        licence: common.licence.clone(),
        ..ImportOptions::default()
    };
    if let Some(created) = &common.created {
        let well_formed = created.len() == 10
            && created.char_indices().all(|(at, c)| {
                if at == 4 || at == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if !well_formed {
            return Err(UserError::new(
                format!("`{created}` is not a date"),
                Some("write it YYYY-MM-DD".into()),
            )
            .into());
        }
        options.created.clone_from(created);
    }
    Ok(options)
}

/// Turns a stopping import error into a user error when the user can fix it.
fn user_facing(error: ImportError) -> anyhow::Error {
    match error {
        ImportError::Io { .. } | ImportError::BadTable { .. } | ImportError::NoPatients(_) => {
            UserError::new(error.to_string(), None).into()
        }
        other => other.into(),
    }
}

pub(crate) fn run(command: ImportCommand) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut stdout = io::stdout().lock();
    let (report, destination, json) = match command {
        ImportCommand::Agentclinic {
            file,
            out,
            form,
            keep_non_diagnostic,
            common,
        } => {
            let options = ImportOptions {
                keep_non_diagnostic,
                ..options(&common)?
            };
            let mut cases = DirectorySink::new(&out).map_err(user_facing)?;
            let mut sink = StdoutSink {
                out: &mut stdout,
                json: common.json,
            };
            let report =
                agentclinic::import_file(&file, form.into(), &options, &mut cases, &mut sink)
                    .map_err(user_facing)?;
            (report, Some(out), common.json)
        }
        ImportCommand::Ddxplus {
            dir,
            out,
            // `--check` is the absence of `--out` (clap makes them exclusive and one required).
            check: _,
            patients,
            common,
        } => {
            let options = options(&common)?;
            let mut sink = StdoutSink {
                out: &mut stdout,
                json: common.json,
            };
            let report = match &out {
                Some(out) => {
                    let mut cases = DirectorySink::new(out).map_err(user_facing)?;
                    ddxplus::import_dir(&dir, &patients, &options, &mut cases, &mut sink)
                }
                None => {
                    let mut cases = CountSink(0);
                    ddxplus::import_dir(&dir, &patients, &options, &mut cases, &mut sink)
                }
            }
            .map_err(user_facing)?;
            (report, out, common.json)
        }
    };
    summary(&mut stdout, &report, destination.as_deref(), started, json)?;
    Ok(if report.failed == 0 {
        Outcome::Success
    } else {
        Outcome::ProblemsFound
    })
}

fn summary(
    out: &mut impl Write,
    report: &ImportReport,
    destination: Option<&Path>,
    started: Instant,
    json: bool,
) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, report)?;
        return writeln!(out);
    }
    for note in &report.table_notes {
        writeln!(out, "table: {}: {}", note.field, note.message)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let rate = if seconds > 0.0 {
        report.read as f64 / seconds
    } else {
        0.0
    };
    let written = destination.map_or_else(
        || "validated only, nothing written".to_string(),
        |dir| format!("written to {}", dir.display()),
    );
    writeln!(
        out,
        "read {} record(s): {} imported ({} with notes), {} skipped, {} failed; {written}; {seconds:.2} s, {rate:.0} records/s",
        report.read, report.imported, report.with_notes, report.skipped, report.failed
    )
}

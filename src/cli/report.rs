//! `dxsim report DIR…`: rebuild `summary.csv` and `report.html` from the `episodes.jsonl` of one or
//! more evaluation runs (shards of one run, say), merged by episode key.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use dxsim::eval::report::{
    EPISODES_FILE, REPORT_FILE, ReportError, SUMMARY_FILE, format_summary_table, load_records,
    merge, write_reports,
};

use super::{Outcome, UserError};

/// Arguments of `dxsim report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Run directories, each holding the `episodes.jsonl` of a `dxsim eval` run or shard. Episodes
    /// are merged by key: an episode found in several directories counts once, and must be the same
    /// in each.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Where to write `summary.csv` and `report.html` (created if missing). Defaults to DIR when one
    /// directory is given; required with several.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
    /// The report's title; defaults to one naming the directories (their last components).
    #[arg(long)]
    title: Option<String>,
}

pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let out_dir = match (&args.out, args.dirs.as_slice()) {
        (Some(out), _) => out.clone(),
        (None, [dir]) => dir.clone(),
        (None, _) => {
            return Err(UserError::new(
                "several run directories need --out",
                Some("name a directory for the merged report: dxsim report DIR… --out OUT".into()),
            )
            .into());
        }
    };
    let mut runs = Vec::with_capacity(args.dirs.len());
    let mut stderr = io::stderr().lock();
    for dir in &args.dirs {
        let loaded = load_records(dir).map_err(|error| user_error(&error))?;
        if loaded.skipped_lines > 0 {
            writeln!(
                stderr,
                "warning: {}: skipped an incomplete last line (a run interrupted while writing?)",
                dir.join(EPISODES_FILE).display()
            )?;
        }
        runs.push(loaded.records);
    }
    drop(stderr);
    let records = merge(runs).map_err(|error| user_error(&error))?;
    if records.is_empty() {
        return Err(UserError::new(
            format!("no episodes in {}", list(&args.dirs)),
            Some(format!(
                "each directory needs the {EPISODES_FILE} a `dxsim eval` run writes"
            )),
        )
        .into());
    }
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("dxsim evaluation: {}", names(&args.dirs)));
    let rows = write_reports(&records, &out_dir, &title)?;
    let mut out = io::stdout().lock();
    write!(out, "{}", format_summary_table(&rows))?;
    writeln!(
        out,
        "{} episode(s) from {} run director{}; wrote {} and {}",
        records.len(),
        args.dirs.len(),
        if args.dirs.len() == 1 { "y" } else { "ies" },
        out_dir.join(SUMMARY_FILE).display(),
        out_dir.join(REPORT_FILE).display()
    )?;
    Ok(Outcome::Success)
}

/// The directories as a comma-separated list.
fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The directories' own names (their last components), comma-separated, each once.
fn names(dirs: &[PathBuf]) -> String {
    let mut names: Vec<String> = Vec::new();
    for dir in dirs {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|path| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| dir.display().to_string());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

/// A problem with the input directories, with a hint at what to do.
fn user_error(error: &ReportError) -> anyhow::Error {
    let hint = match error {
        ReportError::Read { .. } => Some(format!(
            "a run directory holds the {EPISODES_FILE} that `dxsim eval` writes"
        )),
        ReportError::Parse { .. } => Some(
            "only the last line of a run may be incomplete; a damaged line elsewhere needs the \
             run (or that shard) to be redone"
                .into(),
        ),
        ReportError::Conflict { .. } => Some(
            "the directories hold different runs with the same episode keys (another agent \
             version or other options?): report them separately"
                .into(),
        ),
        ReportError::Write { .. } | ReportError::Csv(_) => None,
    };
    UserError::new(error.to_string(), hint).into()
}

//! `dxsim report` over run directories as `dxsim eval` writes them: shards merged into the summary of
//! the whole run, user errors, and the HTML report laid out by a real headless Chromium.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dxsim::action::Action;
use dxsim::eval::record::{EpisodeRecord, RecordCost, RecordStatus};
use dxsim::eval::report::EPISODES_FILE;
use dxsim::library::CaseLibrary;
use dxsim::patient::bias::PatientMetrics;

const AGENTS: [&str; 3] = [
    "oracle",
    "random",
    "cmd:python3 agent.py --name '<Dr & \"Who\">'",
];
const BIASES: [&str; 3] = ["none", "recency", "gender=female"];
const SEEDS: [u64; 2] = [0, 1];
/// Cases from the built-in library played by every agent.
const CASES: usize = 12;

fn dxsim(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(args)
        .output()
        .expect("the dxsim binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A small deterministic hash, to vary outcomes and costs without a random generator.
fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0xcbf2_9ce4_8422_2325, |hash, part| {
        (hash ^ part).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A whole run: every agent on every case under every bias and seed, outcomes and costs shaped like
/// a real run (the oracle accurate and thorough, the random doctor cheap and mostly wrong), with some
/// failed and truncated episodes.
fn run_records() -> Vec<EpisodeRecord> {
    let library = CaseLibrary::builtin().expect("the built-in library");
    let mut records = Vec::new();
    for (a, agent) in AGENTS.iter().enumerate() {
        for (b, bias) in BIASES.iter().enumerate() {
            for case in library.cases().iter().step_by(7).take(CASES) {
                for seed in SEEDS {
                    let roll = mix(&[a as u64, b as u64, case.id.len() as u64, seed]) % 100;
                    let (skill, base_cost) = [(85, 1800.0), (10, 450.0), (55, 900.0)][a];
                    let status = match roll {
                        0..=3 if a == 2 => RecordStatus::Error,
                        96.. => RecordStatus::Truncated,
                        _ => RecordStatus::Diagnosed,
                    };
                    let diagnosed = status == RecordStatus::Diagnosed;
                    let correct = diagnosed && roll < skill + 10 - 5 * b as u64;
                    let tests = (roll % 9) as u32 + u32::from(a == 0) * 4;
                    let visits = 1 + (roll % 3) as u32;
                    let cost = base_cost + 85.0 * f64::from(tests) + 0.25 * roll as f64;
                    let diagnosis = if correct {
                        case.diagnosis.name.clone()
                    } else {
                        "viral syndrome".into()
                    };
                    records.push(EpisodeRecord {
                        key: format!("{agent}|{}|{bias}|{seed}", case.id),
                        agent: (*agent).into(),
                        case_id: case.id.clone(),
                        specialty: case.specialty.clone(),
                        difficulty: case.difficulty,
                        bias: (*bias).into(),
                        seed,
                        status,
                        error: (status == RecordStatus::Error)
                            .then(|| "agent printed no action".into()),
                        diagnosis: diagnosed.then(|| diagnosis.clone()),
                        reference: case.diagnosis.name.clone(),
                        reference_icd10: case.diagnosis.icd10.clone(),
                        score: diagnosed.then_some(if correct { 5 } else { 2 }),
                        correct,
                        rationale: None,
                        cost: RecordCost {
                            total_usd: cost,
                            visits_usd: 300.0 * f64::from(visits),
                            tests_usd: cost - 300.0 * f64::from(visits),
                            visit_count: visits,
                            test_count: tests,
                            repeat_count: 0,
                        },
                        turns: visits + tests + 1,
                        patient: (status != RecordStatus::Error).then_some(PatientMetrics {
                            confidence: (3 + roll % 7) as u8,
                            compliance: (4 + roll % 6) as u8,
                            follow_up: (2 + roll % 8) as u8,
                        }),
                        bias_triggered: (*bias != "none").then_some(roll % 2 == 0),
                        tests_refused: 0,
                        tests_accepted_after_explanation: 0,
                        key_findings_revealed: (roll % 4) as u32,
                        key_findings_missed: 1,
                        synthetic: Vec::new(),
                        actions: vec![Action::Diagnose {
                            diagnosis,
                            icd10: None,
                        }],
                        transcript: Vec::new(),
                        rule_score: None,
                        jury: None,
                        llm_usage: None,
                        deliberation: Vec::new(),
                        duration_ms: 20 + roll,
                    });
                }
            }
        }
    }
    records
}

fn write_run(dir: &Path, records: &[EpisodeRecord], tail: &str) {
    std::fs::create_dir_all(dir).expect("run dir");
    let mut lines: String = records
        .iter()
        .map(|record| serde_json::to_string(record).expect("json") + "\n")
        .collect();
    lines.push_str(tail);
    std::fs::write(dir.join(EPISODES_FILE), lines).expect("write episodes");
}

/// The CSV's rows by `agent|bias`, as maps from column to cell.
fn read_summary(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("summary.csv");
    let header = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|row| {
            let row = row.expect("a row");
            let cells: BTreeMap<String, String> = header
                .iter()
                .zip(row.iter())
                .map(|(column, cell)| (column.to_string(), cell.to_string()))
                .collect();
            (format!("{}|{}", cells["agent"], cells["bias"]), cells)
        })
        .collect()
}

#[test]
fn shards_merge_into_the_summary_of_the_whole_run_and_the_report_renders_in_chromium() {
    let root = tempdir("shards");
    let records = run_records();
    // The whole run in one directory, in scrambled order; and the same run as two shards, one of them
    // killed while writing an episode that never finished.
    let mut scrambled = records.clone();
    scrambled.reverse();
    write_run(&root.join("whole"), &scrambled, "");
    let (a, b): (Vec<_>, Vec<_>) = records
        .iter()
        .cloned()
        .partition(|record| mix(&[record.key.len() as u64, record.seed]) % 2 == 0);
    assert!(!a.is_empty() && !b.is_empty());
    let unfinished = serde_json::to_string(&records[0]).expect("json");
    write_run(&root.join("shard-1"), &a, "");
    write_run(
        &root.join("shard-2"),
        &b,
        &unfinished[..unfinished.len() / 2],
    );

    let merged_dir = root.join("merged");
    let merged = dxsim(&[
        Path::new("report"),
        &root.join("shard-1"),
        &root.join("shard-2"),
        // A shard given twice counts once.
        &root.join("shard-1"),
        Path::new("--out"),
        &merged_dir,
    ]);
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    assert!(
        text(&merged.stderr).contains("skipped an incomplete last line"),
        "{}",
        text(&merged.stderr)
    );
    let table = text(&merged.stdout);
    assert!(table.starts_with("agent "), "{table}");
    assert!(table.contains("gender=female"), "{table}");
    assert!(
        table.contains(&format!(
            "{} episode(s) from 3 run directories",
            records.len()
        )),
        "{table}"
    );

    let whole = dxsim(&[Path::new("report"), &root.join("whole")]);
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let merged_csv = std::fs::read(merged_dir.join("summary.csv")).expect("merged summary");
    let whole_csv = std::fs::read(root.join("whole").join("summary.csv")).expect("whole summary");
    assert_eq!(
        text(&merged_csv),
        text(&whole_csv),
        "the shards' summary is the whole run's"
    );

    // The numbers are the records' own.
    let summary = read_summary(&merged_dir.join("summary.csv"));
    assert_eq!(summary.len(), AGENTS.len() * BIASES.len());
    let mut intervals_with_width = 0;
    for agent in AGENTS {
        for bias in BIASES {
            let group: Vec<&EpisodeRecord> = records
                .iter()
                .filter(|record| record.agent == agent && record.bias == bias)
                .collect();
            let row = &summary[&format!("{agent}|{bias}")];
            let n = group.len() as f64;
            let accuracy = group.iter().filter(|record| record.correct).count() as f64 / n;
            let mean_cost = group
                .iter()
                .map(|record| record.cost.total_usd)
                .sum::<f64>()
                / n;
            let errors = group
                .iter()
                .filter(|record| record.status == RecordStatus::Error)
                .count();
            assert_eq!(row["episodes"], group.len().to_string());
            assert_eq!(row["errors"], errors.to_string());
            assert_eq!(row["accuracy"], format!("{accuracy:.4}"));
            assert_eq!(row["mean_cost_usd"], format!("{mean_cost:.4}"));
            let low: f64 = row["accuracy_ci_low"].parse().expect("a number");
            let high: f64 = row["accuracy_ci_high"].parse().expect("a number");
            assert!(
                low <= accuracy && accuracy <= high,
                "{agent}|{bias}: {accuracy} in [{low}, {high}]"
            );
            intervals_with_width += usize::from(low < high);
            assert!(!row["mean_confidence"].is_empty());
        }
    }
    assert!(intervals_with_width > AGENTS.len(), "{summary:?}");

    let report = merged_dir.join("report.html");
    let html = std::fs::read_to_string(&report).expect("report.html");
    assert!(
        !html.contains("://"),
        "the report loads nothing from outside"
    );
    assert!(html.contains("&lt;Dr &amp; &quot;Who&quot;&gt;"));
    check_in_browser(&report, AGENTS.len() * BIASES.len());
}

#[test]
fn conflicting_runs_and_a_missing_out_are_user_errors() {
    let root = tempdir("errors");
    let records = run_records();
    write_run(&root.join("one"), &records[..10], "");
    let mut changed = records[3].clone();
    changed.correct = !changed.correct;
    write_run(&root.join("two"), &[changed], "");

    let conflict = dxsim(&[
        Path::new("report"),
        &root.join("one"),
        &root.join("two"),
        Path::new("--out"),
        &root.join("out"),
    ]);
    assert_eq!(conflict.status.code(), Some(2));
    let stderr = text(&conflict.stderr);
    assert!(
        stderr.contains(&format!(
            "conflicting records for episode `{}`: they differ in correct",
            records[3].key
        )),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!root.join("out").exists());

    let no_out = dxsim(&[Path::new("report"), &root.join("one"), &root.join("two")]);
    assert_eq!(no_out.status.code(), Some(2));
    assert!(text(&no_out.stderr).contains("--out"));

    let missing = dxsim(&[Path::new("report"), &root.join("nowhere")]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains(EPISODES_FILE),
        "{}",
        text(&missing.stderr)
    );

    let damaged = root.join("damaged");
    write_run(&damaged, &records[..1], "{not json\n");
    let mut lines = std::fs::read_to_string(damaged.join(EPISODES_FILE)).expect("read");
    lines.push_str(&(serde_json::to_string(&records[1]).expect("json") + "\n"));
    std::fs::write(damaged.join(EPISODES_FILE), lines).expect("write");
    let output = dxsim(&[Path::new("report"), &damaged]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("episodes.jsonl, line 2: not an episode record"),
        "{}",
        text(&output.stderr)
    );
}

/// The headless browser to use: `DXSIM_CHROMIUM`, else Chromium or Chrome on the PATH.
fn find_browser() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DXSIM_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|name| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A `file://` URL of an absolute path, bytes outside the unreserved set percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for byte in path.to_str().expect("a UTF-8 path").bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// Loads the report in headless Chromium and checks, in the DOM after scripts ran, that all four
/// plots and every accuracy–cost point were laid out with a size.
fn check_in_browser(report: &Path, configurations: usize) {
    let Some(browser) = find_browser() else {
        if std::env::var_os("DXSIM_SKIP_BROWSER").is_some_and(|value| value == "1") {
            eprintln!("skipping the browser check: DXSIM_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "no headless browser found: install Debian's `chromium` package (apt-get install \
             chromium; .ci/run does), point DXSIM_CHROMIUM at a Chromium binary, or set \
             DXSIM_SKIP_BROWSER=1 to skip this check"
        );
    };
    let dir = report.parent().expect("the report's directory");
    let profile = dir.join("chromium-profile");
    let dom_path = dir.join("dom.html");
    let stderr_path = dir.join("chromium-stderr.txt");
    let dom_file = std::fs::File::create(&dom_path).expect("dom file");
    let stderr_file = std::fs::File::create(&stderr_path).expect("stderr file");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(file_url(report))
        .stdin(Stdio::null())
        .stdout(dom_file)
        .stderr(stderr_file)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", browser.display()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the browser") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within 120 s", browser.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(status.success(), "{} failed: {stderr}", browser.display());
    let dom = std::fs::read_to_string(&dom_path).expect("the dumped DOM");
    assert!(
        dom.contains("data-plots-rendered=\"4\""),
        "the browser did not lay out four plots; stderr: {stderr}\nDOM head: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(
        dom.contains(&format!("data-points-rendered=\"{configurations}\"")),
        "not every point was laid out"
    );
    assert_eq!(
        dom.matches("class=\"config-point\"").count(),
        configurations
    );
    assert!(dom.contains("id=\"accuracy-cost\""));
    assert!(dom.contains("class=\"frontier\""));
}

//! `dxsim eval` end to end: built-in and external agents, agent failures, kill -9 and `--resume`,
//! shards merged by `dxsim report`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dxsim::eval::record::{EpisodeRecord, RecordStatus};

fn dxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(args)
        .output()
        .expect("the dxsim binary runs")
}

fn eval(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["eval", "--out", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let output = dxsim(&all);
    assert!(
        output.status.success(),
        "dxsim {all:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn records(dir: &Path) -> Vec<EpisodeRecord> {
    std::fs::read_to_string(dir.join("episodes.jsonl"))
        .expect("episodes.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record per line"))
        .collect()
}

/// Everything about each episode that does not depend on timing, by key.
fn outcomes(records: &[EpisodeRecord]) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|record| {
            let mut record = record.clone();
            record.duration_ms = 0;
            (
                record.key.clone(),
                serde_json::to_string(&record).expect("serialises"),
            )
        })
        .collect()
}

fn agent_script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/agents/scripted_agent.py")
        .display()
        .to_string()
}

fn case_ids(selector_prefix: &str) -> Vec<String> {
    dxsim::library::CaseLibrary::builtin()
        .expect("library")
        .cases()
        .iter()
        .map(|case| case.id.clone())
        .filter(|id| id.starts_with(selector_prefix))
        .collect()
}

#[test]
fn builtin_doctors_over_the_library_and_two_biases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let output = eval(
        &out,
        &[
            "--agent",
            "oracle",
            "--agent",
            "random",
            "--patient-bias",
            "none,recency",
        ],
    );
    let library_size = case_ids("").len();
    let records = records(&out);
    assert_eq!(records.len(), 2 * 2 * library_size);
    let keys: BTreeSet<&str> = records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), records.len(), "one record per episode");
    for record in records.iter().filter(|r| r.agent == "oracle") {
        assert!(record.correct, "the oracle got {} wrong", record.key);
        assert_eq!(record.status, RecordStatus::Diagnosed);
        assert!(record.cost.total_usd > 0.0 && record.patient.is_some());
    }
    let random_correct = records
        .iter()
        .filter(|r| r.agent == "random" && r.correct)
        .count();
    assert!(random_correct < library_size / 4, "{random_correct}");
    for record in records.iter().filter(|r| r.bias == "recency") {
        assert_eq!(record.bias_triggered, Some(true), "{}", record.key);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(manifest["library_hash"].as_str().map(str::len), Some(64));
    assert_eq!(manifest["biases"], serde_json::json!(["none", "recency"]));
    assert!(String::from_utf8_lossy(&output.stdout).contains("stored"));
}

#[test]
fn a_python_agent_plays_over_the_json_lines_protocol() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let agent = format!("cmd:python3 {} good", agent_script());
    eval(
        &out,
        &[
            "--agent",
            &agent,
            "--cases",
            "split=test",
            "--seeds",
            "2",
            "--concurrency",
            "3",
        ],
    );
    let records = records(&out);
    assert_eq!(
        records.len(),
        2 * case_ids("").iter().filter(|id| is_test(id)).count()
    );
    for record in &records {
        assert_eq!(record.status, RecordStatus::Diagnosed, "{}", record.key);
        assert_eq!(record.actions.len(), 3);
        assert_eq!(record.diagnosis.as_deref(), Some("viral infection"));
        assert!(
            record.transcript[1]
                .response
                .contains("Complete blood count")
        );
    }
}

fn is_test(id: &str) -> bool {
    dxsim_gatekeeper::case::Split::of(id) == dxsim_gatekeeper::case::Split::Test
}

#[test]
fn malformed_or_dying_agents_are_recorded_errors_not_a_crashed_run() {
    // The agent misbehaves on patients whose presentation mentions the chest: three that do, two
    // that do not.
    let library = dxsim::library::CaseLibrary::builtin().expect("library");
    let mentions_chest = |id: &str| {
        library
            .get(id)
            .is_some_and(|case| case.presentation.summary.to_lowercase().contains("chest"))
    };
    let ids = case_ids("");
    let selection: Vec<String> = ids
        .iter()
        .filter(|id| mentions_chest(id))
        .take(3)
        .chain(ids.iter().filter(|id| !mentions_chest(id)).take(2))
        .cloned()
        .collect();
    assert_eq!(selection.len(), 5);
    let selection = selection.join(",");
    for mode in ["garbage", "exit"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("run");
        let agent = format!("cmd:python3 {} {mode}", agent_script());
        eval(
            &out,
            &[
                "--agent",
                &agent,
                "--cases",
                &selection,
                "--concurrency",
                "2",
                "--agent-timeout",
                "20",
                "--max-error-rate",
                "1",
            ],
        );
        let records = records(&out);
        assert_eq!(records.len(), 5);
        for record in &records {
            if mentions_chest(&record.case_id) {
                assert_eq!(record.status, RecordStatus::Error, "{mode}: {}", record.key);
                let error = record.error.as_deref().unwrap_or_default();
                let expected = if mode == "garbage" {
                    "malformed agent output"
                } else {
                    "exited"
                };
                assert!(error.contains(expected), "{mode}: {error}");
                assert!(!record.correct);
            } else {
                assert_eq!(
                    record.status,
                    RecordStatus::Diagnosed,
                    "{mode}: {}",
                    record.key
                );
            }
        }
    }
}

#[test]
fn an_agent_that_errors_fails_the_run_with_its_reasons() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let out = out.to_str().expect("utf-8 path");
    let base = [
        "eval",
        "--agent",
        "cmd:dxsim-no-such-program agent.py",
        "--agent",
        "oracle",
        "--cases",
        "cardio-chest-pressure-snow",
        "--seeds",
        "2",
        "--out",
        out,
    ];
    let output = dxsim(&base);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "agent `cmd:dxsim-no-such-program agent.py`: 2 of 2 episode(s) ended with an error"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot start `dxsim-no-such-program`"),
        "{stderr}"
    );
    assert!(!stderr.contains("agent `oracle`"), "{stderr}");
    // The run is complete and its reports written either way.
    assert_eq!(records(Path::new(out)).len(), 4);
    // A run that allows every episode to fail exits 0, still naming the failures.
    let mut resumed = base.to_vec();
    resumed.extend(["--resume", "--max-error-rate", "1"]);
    let output = dxsim(&resumed);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 of 2 episode(s) ended with an error"),
        "{stderr}"
    );
    let bad = dxsim(&[
        "eval",
        "--agent",
        "oracle",
        "--max-error-rate",
        "1.5",
        "--out",
        out,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a share from 0 to 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_agent_gets_every_message() {
    use axum::Json;
    use axum::extract::State;
    use axum::routing::post;

    type Seen = Arc<Mutex<Vec<serde_json::Value>>>;
    async fn act(
        State(seen): State<Seen>,
        Json(message): Json<serde_json::Value>,
    ) -> Json<serde_json::Value> {
        let event = message["event"].as_str().unwrap_or_default().to_string();
        let turn = message["observation"]["turn"].as_u64().unwrap_or_default();
        seen.lock().expect("lock").push(message);
        Json(match (event.as_str(), turn) {
            ("reset", _) => serde_json::json!({"type": "examine", "system": "abdomen"}),
            ("step", _) => serde_json::json!({"text": "FINAL DIAGNOSIS: gastroenteritis"}),
            _ => serde_json::json!({}),
        })
    }
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/act", post(act))
        .with_state(Arc::clone(&seen));
    let address = crate::serve_on_loopback(app).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let url = format!("http:http://{address}/act");
    let ids = case_ids("")
        .into_iter()
        .take(4)
        .collect::<Vec<_>>()
        .join(",");
    let out_arg = out.clone();
    tokio::task::spawn_blocking(move || eval(&out_arg, &["--agent", &url, "--cases", &ids]))
        .await
        .expect("eval ran");
    let records = records(&out);
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.status == RecordStatus::Diagnosed
        && r.diagnosis.as_deref() == Some("gastroenteritis")));
    let seen = seen.lock().expect("lock");
    let events: Vec<&str> = seen.iter().filter_map(|m| m["event"].as_str()).collect();
    assert_eq!(events.iter().filter(|e| **e == "reset").count(), 4);
    assert_eq!(events.iter().filter(|e| **e == "end").count(), 4);
    let end = seen
        .iter()
        .find(|m| m["event"] == "end")
        .expect("an end message");
    assert!(end["info"]["outcome"]["verdict"]["score"].is_u64(), "{end}");
    // Nothing hidden reaches the agent before the end.
    for message in seen.iter().filter(|m| m["event"] != "end") {
        assert!(message["info"].get("outcome").is_none(), "{message}");
    }
}

/// Waits until `path` has at least `lines` lines (or `limit` passes).
fn wait_for_lines(path: &Path, lines: usize, limit: Duration) -> usize {
    let start = Instant::now();
    loop {
        let count = std::fs::read_to_string(path)
            .map(|text| text.lines().count())
            .unwrap_or(0);
        if count >= lines || start.elapsed() > limit {
            return count;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn kill_nine_then_resume_gives_one_record_per_episode_and_the_same_results() {
    let dir = tempfile::tempdir().expect("temp dir");
    let killed = dir.path().join("killed");
    let whole = dir.path().join("whole");
    let args = ["--agent", "oracle", "--agent", "random", "--seeds", "3"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(["eval", "--out", killed.to_str().expect("utf-8")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("eval starts");
    let seen = wait_for_lines(
        &killed.join("episodes.jsonl"),
        100,
        Duration::from_secs(120),
    );
    assert!(
        child.try_wait().expect("status").is_none(),
        "the run ended before it could be killed ({seen} lines)"
    );
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let partial = records_lossy(&killed);
    let planned = 2 * 3 * case_ids("").len();
    assert!(partial < planned, "{partial} of {planned}");

    let output = eval(&killed, &["--resume"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from before"), "{stdout}");
    let resumed = records(&killed);
    eval(&whole, &args);
    let uninterrupted = records(&whole);
    assert_eq!(resumed.len(), planned);
    assert_eq!(outcomes(&resumed), outcomes(&uninterrupted));
    assert_eq!(summary(&killed), summary(&whole));

    // Resuming a finished run plays nothing and changes nothing.
    eval(&killed, &["--resume"]);
    assert_eq!(records(&killed).len(), planned);
}

fn summary(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("summary.csv")).expect("summary.csv")
}

#[test]
fn shards_merge_into_the_summary_of_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let whole = dir.path().join("whole");
    let args = [
        "--agent",
        "oracle",
        "--agent",
        "random",
        "--cases",
        "split=test",
        "--patient-bias",
        "none,gender",
        "--seeds",
        "2",
    ];
    eval(&whole, &args);
    let mut shard_dirs = Vec::new();
    for index in 0..3 {
        let shard = dir.path().join(format!("shard-{index}"));
        let mut with_shard = args.to_vec();
        let spec = format!("{index}/3");
        with_shard.extend(["--shard", spec.as_str()]);
        eval(&shard, &with_shard);
        shard_dirs.push(shard);
    }
    let sizes: Vec<usize> = shard_dirs.iter().map(|d| records(d).len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), records(&whole).len());
    assert!(sizes.iter().all(|&size| size > 0), "{sizes:?}");
    let merged = dir.path().join("merged");
    let mut report_args = vec!["report"];
    report_args.extend(shard_dirs.iter().map(|d| path(d)));
    report_args.extend(["--out", path(&merged)]);
    let output = dxsim(&report_args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(summary(&merged), summary(&whole));
    assert!(merged.join("report.html").exists());
    let html = std::fs::read_to_string(whole.join("report.html")).expect("report.html");
    assert!(html.contains("id=\"accuracy-cost\""));
}

/// Complete lines in a run's `episodes.jsonl` (a kill may tear the last one).
fn records_lossy(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("episodes.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|line| serde_json::from_str::<EpisodeRecord>(line).is_ok())
        .count()
}

#[test]
fn gaming_agents_run_from_the_cli_and_earn_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let cases = case_ids("cardio").join(",");
    eval(
        &out,
        &[
            "--agent",
            "gaming:specialty-list",
            "--agent",
            "gaming:negation",
            "--cases",
            &cases,
        ],
    );
    let records = records(&out);
    assert_eq!(records.len(), 2 * case_ids("cardio").len());
    for record in &records {
        assert!(!record.correct, "{} was credited", record.key);
        assert_eq!(record.cost.total_usd, 0.0, "{}", record.key);
    }
}

#[test]
fn refusing_to_mix_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let one = case_ids("").remove(0);
    eval(&out, &["--agent", "oracle", "--cases", &one]);
    let again = dxsim(&[
        "eval",
        "--out",
        path(&out),
        "--agent",
        "oracle",
        "--cases",
        &one,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
    let other = dxsim(&[
        "eval",
        "--out",
        path(&out),
        "--agent",
        "random",
        "--cases",
        &one,
        "--resume",
    ]);
    assert_eq!(other.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("agents differ"), "{stderr}");
    for (args, needle) in [
        (vec!["--agent", "gpt"], "unknown agent `gpt`"),
        (
            vec!["--agent", "oracle", "--patient-bias", "grumpy"],
            "unknown patient bias",
        ),
        (
            vec!["--agent", "oracle", "--cases", "nope"],
            "no case with id `nope`",
        ),
        (vec!["--agent", "oracle", "--shard", "2/2"], "shard `2/2`"),
        (
            vec!["--agent", "gaming:cheat"],
            "no gaming strategy `cheat`",
        ),
    ] {
        let fresh = dir.path().join("fresh");
        let mut all = vec!["eval", "--out", path(&fresh)];
        all.extend(args);
        let output = dxsim(&all);
        assert_eq!(output.status.code(), Some(2), "{all:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
    }
}

fn path(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

//! Case libraries beyond the built-in one, as a user brings them: imported AgentClinic cases played
//! by every command (`run`, `eval`, `replay`, `cases list/show/stats`, `serve`), several libraries at
//! once, a JSON-lines file played straight from the source, and changed libraries refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dxsim::episode::oracle_actions;
use dxsim::library::load_paths;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::server::Server;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn dxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(args)
        .output()
        .expect("the dxsim binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The invented OSCE fixture imported into `dir/imported` (5 of its 8 records import): imported
/// and validated once per test process, then copied, since tests change the files.
fn imported(dir: &Path) -> PathBuf {
    static SOURCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let source = SOURCE.get_or_init(|| {
        let out = tempdir("libraries-import").join("imported");
        let output = Command::new(env!("CARGO_BIN_EXE_dxsim"))
            .args(["cases", "import", "agentclinic"])
            .arg(fixture("agentclinic_osce.jsonl"))
            .arg("--out")
            .arg(&out)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let validated = dxsim(&["cases", "validate", out.to_str().expect("utf-8")]);
        assert!(validated.status.success(), "{}", text(&validated));
        out
    });
    let copy = dir.join("imported");
    std::fs::create_dir_all(&copy).expect("dir");
    for entry in std::fs::read_dir(source).expect("imported cases") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, copy.join(path.file_name().expect("a file"))).expect("copy");
    }
    copy
}

/// Changes one case file's title, which changes the case's content hash and nothing it plays.
fn retitle(file: &Path) {
    let original = std::fs::read_to_string(file).expect("case file");
    let changed: String = original
        .lines()
        .map(|line| {
            if line.starts_with("title = ") {
                "title = \"a changed title\"".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(original.trim(), changed.trim());
    std::fs::write(file, changed + "\n").expect("write");
}

#[test]
fn eval_plays_an_imported_directory_and_resume_refuses_it_once_changed() {
    let dir = tempdir("libraries-eval");
    let cases = imported(&dir);
    let out = dir.join("run");
    let cases_arg = cases.to_str().expect("utf-8");
    let out_arg = out.to_str().expect("utf-8");
    let run = dxsim(&[
        "eval", "--agent", "oracle", "--agent", "random", "--cases", cases_arg, "--out", out_arg,
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("run.json"))
            .expect("JSON");
    assert_eq!(manifest["libraries"][0]["name"], "imported");
    assert_eq!(
        manifest["libraries"][0]["cases"]
            .as_object()
            .map(serde_json::Map::len),
        Some(5)
    );
    let records: Vec<Value> = std::fs::read_to_string(out.join("episodes.jsonl"))
        .expect("episodes")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(records.len(), 10);
    for record in records.iter().filter(|record| record["agent"] == "oracle") {
        assert_eq!(record["correct"], true, "{record}");
        // The derived reference work-up: the oracle pays for what the source shows.
        assert!(
            record["cost"]["total_usd"]
                .as_f64()
                .is_some_and(|cost| cost > 0.0),
            "{record}"
        );
    }

    // Resuming reads the library from run.json and finds nothing to play.
    let resumed = dxsim(&["eval", "--out", out_arg, "--resume"]);
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        text(&resumed).contains("0 played now"),
        "{}",
        text(&resumed)
    );

    retitle(&cases.join("agentclinic-osce-2.toml"));
    let refused = dxsim(&["eval", "--out", out_arg, "--resume"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("1 case(s) changed (agentclinic-osce-2)"),
        "{}",
        text(&refused)
    );

    let unknown = dxsim(&[
        "eval",
        "--agent",
        "oracle",
        "--cases",
        "library=nope",
        "--out",
        dir.join("other").to_str().expect("utf-8"),
    ]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    assert!(text(&unknown).contains("no library is named `nope`"));
}

#[test]
fn a_json_lines_file_plays_straight_from_the_source_and_skip_invalid_loads_the_rest() {
    let file = fixture("agentclinic_osce.jsonl");
    let file = file.to_str().expect("utf-8");
    let refused = dxsim(&["cases", "list", "--cases", file]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    for line in ["line 5", "line 7", "line 8"] {
        assert!(
            text(&refused).contains(&format!("agentclinic_osce.jsonl {line}")),
            "{}",
            text(&refused)
        );
    }
    assert!(text(&refused).contains("--skip-invalid"));

    let listed = dxsim(&["cases", "list", "--cases", file, "--skip-invalid", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let cases: Vec<Value> = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(cases.len(), 5);
    assert!(
        cases
            .iter()
            .all(|case| case["library"] == "agentclinic_osce")
    );
    let played = dxsim(&[
        "run",
        "--cases",
        file,
        "--skip-invalid",
        "--case",
        "agentclinic-osce-1",
    ]);
    assert!(played.status.success(), "{}", text(&played));
    assert!(String::from_utf8_lossy(&played.stdout).contains("verdict: correct"));
}

#[test]
fn several_libraries_are_listed_shown_and_selected_by_name() {
    let dir = tempdir("libraries-several");
    let cases = imported(&dir);
    let mine = format!("mine={}", cases.display());
    let listed = dxsim(&[
        "cases",
        "list",
        "--cases",
        "builtin",
        "--cases",
        &mine,
        "--cases",
        "library=mine",
        "--json",
    ]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|case| case["library"] == "mine"));

    let all = dxsim(&["cases", "list", "--cases", "builtin", "--cases", &mine]);
    assert!(all.status.success(), "{}", text(&all));
    let builtin_count = dxsim::library::CaseLibrary::builtin()
        .expect("library")
        .cases()
        .len();
    assert!(
        String::from_utf8_lossy(&all.stdout).contains(&format!("{} case(s)", builtin_count + 5)),
        "{}",
        text(&all)
    );

    let shown = dxsim(&["cases", "show", "agentclinic-osce-1", "--cases", &mine]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(String::from_utf8_lossy(&shown.stdout).contains("id = \"agentclinic-osce-1\""));
    let stats = dxsim(&["cases", "stats", "--cases", &mine, "--json"]);
    assert!(stats.status.success(), "{}", text(&stats));

    // The same directory twice under one name is refused, naming the clash.
    let twice = dxsim(&["cases", "list", "--cases", &mine, "--cases", &mine]);
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
    assert!(text(&twice).contains("two libraries are named `mine`"));
}

#[test]
fn replay_needs_the_log_s_library_and_refuses_a_changed_case() {
    let dir = tempdir("libraries-replay");
    let cases = imported(&dir);
    let cases_arg = cases.to_str().expect("utf-8");
    let log = dir.join("episode.jsonl");
    let log_arg = log.to_str().expect("utf-8");
    let run = dxsim(&[
        "run",
        "--cases",
        cases_arg,
        "--case",
        "agentclinic-osce-1",
        "--agent",
        "random",
        "--log",
        log_arg,
    ]);
    assert!(run.status.success(), "{}", text(&run));
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(&log)
            .expect("log")
            .lines()
            .next()
            .expect("a header"),
    )
    .expect("JSON");
    assert_eq!(header["case"]["library"], "imported");

    let without = dxsim(&["replay", log_arg]);
    assert_eq!(without.status.code(), Some(2), "{}", text(&without));
    assert!(
        text(&without).contains("library `imported`"),
        "{}",
        text(&without)
    );

    let replayed = dxsim(&["replay", log_arg, "--cases", cases_arg]);
    assert!(replayed.status.success(), "{}", text(&replayed));
    assert!(text(&replayed).contains("identical to the log"));

    retitle(&cases.join("agentclinic-osce-1.toml"));
    let changed = dxsim(&["replay", log_arg, "--cases", cases_arg]);
    assert_eq!(changed.status.code(), Some(2), "{}", text(&changed));
    assert!(
        text(&changed).contains("differs from it"),
        "{}",
        text(&changed)
    );

    // A built-in case's log replays with no --cases, as before.
    let builtin_log = dir.join("builtin.jsonl");
    let builtin_log = builtin_log.to_str().expect("utf-8");
    let run = dxsim(&["run", "--log", builtin_log]);
    assert!(run.status.success(), "{}", text(&run));
    let replayed = dxsim(&["replay", builtin_log]);
    assert!(replayed.status.success(), "{}", text(&replayed));
}

async fn post(client: &Client, url: String, body: Value) -> (StatusCode, Value) {
    let response = client.post(url).json(&body).send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_server_serves_several_libraries_and_plays_an_imported_case_over_http() {
    let dir = tempdir("libraries-serve");
    let cases = imported(&dir);
    let mine = format!("mine={}", cases.display());
    let server = Server::open(
        &dir.join("store.sqlite"),
        &["--cases", "builtin", "--cases", &mine],
    );
    let client = Client::new();
    let health: Value = client
        .get(server.url("/v1/health"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let names: Vec<&str> = health["libraries"]
        .as_array()
        .expect("libraries")
        .iter()
        .filter_map(|library| library["name"].as_str())
        .collect();
    assert_eq!(names, ["builtin", "mine"], "{health}");
    assert_eq!(health["libraries"][1]["cases"], 5);

    let (status, refused) = post(
        &client,
        server.url("/v1/episodes"),
        json!({"seed": 1, "options": {"case": {"library": "nope"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");

    // The oracle's script, stepped over HTTP on the case the server drew from `mine`.
    let report = load_paths(&[cases]).expect("loads");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let (status, created) = post(
        &client,
        server.url("/v1/episodes"),
        json!({"seed": 7, "options": {"case": {"library": "mine"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let handle = created["info"]["case_handle"].as_str().expect("a handle");
    let case = report
        .cases
        .iter()
        .map(|(_, case)| case)
        .find(|case| dxsim_gatekeeper::case::case_handle(&case.id) == handle)
        .expect("the case drawn is one of mine");
    let id = created["episode_id"].as_str().expect("an id");
    let mut last = Value::Null;
    for action in oracle_actions(case) {
        let (status, stepped) = post(
            &client,
            server.url(&format!("/v1/episodes/{id}/step")),
            json!({ "action": action }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{stepped}");
        last = stepped;
    }
    assert_eq!(last["terminated"], true, "{last}");
    assert_eq!(
        last["info"]["outcome"]["verdict"]["correct"], true,
        "{last}"
    );
    assert!(
        last["info"]["cost"]["total"]
            .as_u64()
            .is_some_and(|cents| cents > 0),
        "{last}"
    );

    // A discrete vector env draws from the library its options name, imported cases included.
    let (status, vector) = post(
        &client,
        server.url("/v1/vector-envs"),
        json!({"count": 4, "seed": 2, "options": {"case": {"library": "mine"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{vector}");
    let vec_id = vector["vec_id"].as_str().expect("an id");
    let (status, stepped) = post(
        &client,
        server.url(&format!("/v1/vector-envs/{vec_id}/step")),
        json!({"actions": [0, 1, 2, 3]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stepped}");
    let (status, refused) = post(
        &client,
        server.url("/v1/vector-envs"),
        json!({"count": 2, "seed": 2, "options": {"case": {"library": "nope"}}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}

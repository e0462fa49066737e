//! The `dxsim` binary as a user runs it: exit codes, output on stdout, errors and hints on stderr.

use std::path::Path;
use std::process::{Command, Output};

use dxsim::library::CaseLibrary;

fn dxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dxsim"))
        .args(args)
        .output()
        .expect("the dxsim binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn validate_passes_on_the_builtin_library() {
    let output = dxsim(&["cases", "validate"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("0 problem(s) in all"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_lists_every_problem_and_exits_one() {
    let dir = tempdir("broken");
    let broken = crate::VALID_CASE
        .replacen("id = \"fixture-valid\"", "id = \"fixture-broken\"", 1)
        .replacen("specialty = \"cardiology\"", "specialty = \"heart\"", 1)
        .replacen("icd10 = \"I21.19\"", "icd10 = \"I2119\"", 1);
    std::fs::write(dir.join("fixture-broken.toml"), broken).expect("write");
    std::fs::write(dir.join("not-toml.toml"), "id = [unclosed").expect("write");
    let output = dxsim(&["cases", "validate", dir.to_str().expect("utf-8 path")]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("fixture-broken.toml: specialty: `heart` is not one of"),
        "{text}"
    );
    assert!(
        text.contains("fixture-broken.toml: diagnosis.icd10: `I2119` is not an ICD-10-CM code"),
        "{text}"
    );
    assert!(text.contains("not-toml.toml: line 1"), "{text}");
    assert!(
        text.contains("validated 2 file(s): 0 valid, 2 with problems"),
        "{text}"
    );
}

#[test]
fn validate_of_a_missing_path_is_a_user_error() {
    let output = dxsim(&["cases", "validate", "no/such/dir.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read no/such/dir.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn list_shows_public_fields_only() {
    let output = dxsim(&["cases", "list", "--json"]);
    assert!(output.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let library = CaseLibrary::builtin().expect("valid");
    assert_eq!(listed.as_array().map(Vec::len), Some(library.cases().len()));
    let text = stdout(&output).to_lowercase();
    for case in library.cases() {
        assert!(
            !text.contains(&case.diagnosis.name.to_lowercase()),
            "{} leaks its diagnosis",
            case.id
        );
        assert!(
            !text.contains(&format!("\"{}\"", case.diagnosis.icd10.to_lowercase())),
            "{} leaks its code",
            case.id
        );
        assert!(
            !text.contains(&case.title.to_lowercase()),
            "{} leaks its title",
            case.id
        );
    }
}

#[test]
fn show_unknown_case_is_a_user_error_with_a_hint() {
    let output = dxsim(&["cases", "show", "no-such-case"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("error: no case with id `no-such-case`"));
    assert!(stderr(&output).contains("hint:"));
}

#[test]
fn show_prints_the_hidden_record_as_toml_that_parses_back() {
    let library = CaseLibrary::builtin().expect("valid");
    let case = &library.cases()[0];
    let output = dxsim(&["cases", "show", &case.id]);
    assert!(output.status.success());
    let parsed = dxsim_gatekeeper::case::parse_case(&stdout(&output), "shown").expect("round trip");
    assert_eq!(&parsed, &**case);
}

#[test]
fn catalogue_search_resolves_each_item_with_prices() {
    let output = dxsim(&["catalogue", "search", "FBC, U&E and a chest x-ray"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("\"FBC\": test (abbreviation)"), "{text}");
    assert!(text.contains("$7.77"), "{text}");
    assert!(text.contains("chest_xray"), "{text}");
}

#[test]
fn judge_score_marks_an_abbreviation_correct() {
    let output = dxsim(&[
        "judge",
        "score",
        "--reference",
        "Diabetic ketoacidosis",
        "--icd10",
        "E10.10",
        "DKA",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("score 5 (correct)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn judge_score_rejects_a_malformed_code() {
    let output = dxsim(&[
        "judge",
        "score",
        "--reference",
        "x",
        "--icd10",
        "nonsense",
        "y",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("`nonsense` is not an ICD-10-CM code"));
}

/// A fresh directory under the target dir for one test.
fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn new_writes_a_template_that_validate_walks_through_and_never_overwrites() {
    let dir = tempdir("new");
    let dir_text = dir.to_str().expect("utf-8 path");
    let made = dxsim(&[
        "cases",
        "new",
        "gi-night-pain-older-man",
        "--specialty",
        "gastroenterology",
        "--dir",
        dir_text,
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let file = dir.join("gi-night-pain-older-man.toml");
    let text = std::fs::read_to_string(&file).expect("written");
    assert!(text.contains("id = \"gi-night-pain-older-man\""));
    let checked = dxsim(&["cases", "validate", file.to_str().expect("utf-8")]);
    assert_eq!(checked.status.code(), Some(1));
    let listing = stdout(&checked);
    assert!(listing.contains("title: is missing or empty"), "{listing}");
    assert!(
        listing.contains("diagnosis.icd10: is missing or empty"),
        "{listing}"
    );
    let again = dxsim(&[
        "cases",
        "new",
        "gi-night-pain-older-man",
        "--specialty",
        "gastroenterology",
        "--dir",
        dir_text,
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("kept"),
        text,
        "the existing file is untouched"
    );
}

#[test]
fn new_rejects_a_bad_id_or_specialty() {
    let bad_id = dxsim(&[
        "cases",
        "new",
        "Bad_ID",
        "--specialty",
        "cardiology",
        "--dir",
        ".",
    ]);
    assert_eq!(bad_id.status.code(), Some(2));
    let bad_specialty = dxsim(&[
        "cases",
        "new",
        "x-y",
        "--specialty",
        "cardiac",
        "--dir",
        ".",
    ]);
    assert_eq!(bad_specialty.status.code(), Some(2));
    assert!(stderr(&bad_specialty).contains("hint: use one of"));
}

#[test]
fn lint_passes_on_the_builtin_library() {
    let output = dxsim(&["cases", "lint"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).contains("0 finding(s)"));
}

#[test]
fn stats_json_totals_match_the_library() {
    let output = dxsim(&["cases", "stats", "--json"]);
    assert!(output.status.success());
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let library = CaseLibrary::builtin().expect("valid");
    assert_eq!(stats["cases"].as_u64(), Some(library.cases().len() as u64));
    assert!(stats["workup_cost"]["median"].as_u64().is_some());
}

#[test]
fn list_filters_by_split() {
    let all = dxsim(&["cases", "list", "--json"]);
    let test = dxsim(&["cases", "list", "--split", "test", "--json"]);
    let train = dxsim(&["cases", "list", "--split", "train", "--json"]);
    let count = |output: &Output| {
        serde_json::from_slice::<Vec<serde_json::Value>>(&output.stdout)
            .expect("json")
            .len()
    };
    assert_eq!(count(&test) + count(&train), count(&all));
    assert!(count(&test) > 0);
}

#[test]
fn run_writes_a_log_that_replay_reproduces_and_a_tampered_one_fails() {
    let dir = tempdir("replay");
    let log = dir.join("episode.jsonl");
    let case = &CaseLibrary::builtin().expect("valid").cases()[0];
    let ran = dxsim(&[
        "run",
        "--case",
        &case.id,
        "--agent",
        "random",
        "--seed",
        "3",
        "--log",
        log.to_str().expect("utf-8"),
    ]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    assert!(stdout(&ran).contains("cost: $"));
    let replayed = dxsim(&["replay", log.to_str().expect("utf-8")]);
    assert!(replayed.status.success(), "{}", stdout(&replayed));
    assert!(stdout(&replayed).contains("identical to the log"));
    let text = std::fs::read_to_string(&log).expect("log");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen("\"response\":\"", "\"response\":\"EDITED ", 1);
    std::fs::write(&log, lines.join("\n")).expect("rewrite");
    let diverged = dxsim(&["replay", log.to_str().expect("utf-8")]);
    assert_eq!(diverged.status.code(), Some(1));
    assert!(stdout(&diverged).contains("replay diverged at turn 1"));
    let missing = dxsim(&["replay", "no/such/log.jsonl"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn cases_audit_reports_what_would_reach_the_doctor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clean = dir.path().join("clean");
    let leaky = dir.path().join("leaky");
    for folder in [&clean, &leaky] {
        std::fs::create_dir_all(folder).expect("a folder");
    }
    std::fs::write(clean.join("fixture-valid.toml"), crate::VALID_CASE).expect("written");
    // A patient who names the specialty passes validation (which checks the presentation), not the
    // audit.
    let pasted = crate::VALID_CASE.replacen(
        "I smoke about fifteen a day, have done since I was a teenager.",
        "I smoke about fifteen a day. Cardiology saw me once, years ago.",
        1,
    );
    assert_ne!(pasted, crate::VALID_CASE);
    std::fs::write(leaky.join("fixture-valid.toml"), pasted).expect("written");

    let output = dxsim(&["cases", "audit", clean.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).contains("0 leak(s)"), "{}", stdout(&output));

    let output = dxsim(&["cases", "audit", "--json", leaky.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let leaks: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert!(!leaks.is_empty());
    assert!(
        leaks.iter().all(|leak| leak["case_id"] == "fixture-valid"
            && leak["what"] == "the specialty (cardiology)"),
        "{leaks:?}"
    );
    // Every patient setting heard it, in both modes.
    let surfaces: std::collections::BTreeSet<&str> = leaks
        .iter()
        .filter_map(|leak| leak["surface"].as_str())
        .collect();
    assert!(surfaces.iter().any(|surface| surface.contains("discrete")));
    assert!(
        surfaces
            .iter()
            .any(|surface| surface.contains("patient recency"))
    );
}

#[test]
fn patient_measure_prints_the_three_figures_for_each_half() {
    let output = dxsim(&["patient", "measure"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    for half in ["dev:", "test:"] {
        let line = text
            .lines()
            .find(|line| line.starts_with(half))
            .unwrap_or_else(|| panic!("no {half} line in {text}"));
        for figure in ["recall", "precision", "none-accuracy"] {
            assert!(line.contains(figure), "{line}");
        }
    }
    let json = dxsim(&["patient", "measure", "--split", "test", "--json"]);
    let halves: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(
        halves.get("test").is_some() && halves.get("dev").is_none(),
        "{halves}"
    );
}

#[test]
fn patient_measure_of_a_set_naming_an_unknown_item_is_a_user_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let set = dir.path().join("set.csv");
    std::fs::write(
        &set,
        "case,question,expect,kind\ncardio-chest-pressure-snow,Any fever?,no-such-item,specific\n",
    )
    .expect("write");
    let output = dxsim(&["patient", "measure", "--set", set.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("no-such-item"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn patient_ask_prints_the_answer_and_the_items_it_revealed() {
    let output = dxsim(&[
        "patient",
        "ask",
        "cardio-chest-pressure-snow",
        "Do you smoke? Any pets at home?",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("fifteen a day"), "{text}");
    assert!(text.contains("items: [social]"), "{text}");
    let unknown = dxsim(&["patient", "ask", "no-such-case", "Any fever?"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn a_directory_with_an_unreadable_file_and_an_impossible_value_names_both() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("binary.toml"),
        [0xff_u8, 0xfe, 0x00, 0x80, 0x81],
    )
    .expect("write");
    let impossible = crate::VALID_CASE
        .replacen("id = \"fixture-valid\"", "id = \"fixture-nan\"", 1)
        .replacen(
            "value = 168, flag = \"high\"",
            "value = nan, flag = \"high\"",
            1,
        );
    std::fs::write(dir.path().join("fixture-nan.toml"), impossible).expect("write");
    let path = dir.path().to_str().expect("utf-8 path");
    let validate = dxsim(&["cases", "validate", path]);
    let stdout = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("binary.toml: cannot read the file"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fixture-nan.toml: tests[3].results[6].value"),
        "{stdout}"
    );
    assert!(stdout.contains("validated 2 file(s)"), "{stdout}");
    let run = dxsim(&["run", "--cases", path]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("2 problem(s) in 2 case file(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("binary.toml"), "{stderr}");
    assert!(stderr.contains("not a finite number"), "{stderr}");
}

#[test]
fn the_judge_reads_its_terminology_from_the_cache_and_rebuilds_a_damaged_one() {
    let cache = tempfile::tempdir().expect("a scratch directory");
    let score = || {
        let output = Command::new(env!("CARGO_BIN_EXE_dxsim"))
            .args([
                "judge",
                "score",
                "--reference",
                "Pulmonary embolism",
                "--icd10",
                "I26.99",
            ])
            .arg("Saddle embolus of the pulmonary artery with acute cor pulmonale")
            .env("DXSIM_CACHE_DIR", cache.path())
            .output()
            .expect("dxsim runs");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let tables = || {
        let mut names: Vec<String> = std::fs::read_dir(cache.path())
            .expect("the cache directory exists")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    let built = score();
    let files = tables();
    assert_eq!(files.len(), 2, "terminology and vocabulary: {files:?}");
    assert!(files.iter().all(|name| name.ends_with(".bin")), "{files:?}");
    assert_eq!(score(), built, "read from the cache");
    // A damaged table is rebuilt, with the same verdict, and written again whole.
    let terminology = cache.path().join(&files[0]);
    let mut bytes = std::fs::read(&terminology).expect("the table");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&terminology, &bytes).expect("damaged");
    assert_eq!(score(), built, "rebuilt");
    assert_ne!(std::fs::read(&terminology).expect("the table"), bytes);
    assert_eq!(tables(), files);
}

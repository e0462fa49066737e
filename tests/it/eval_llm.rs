//! `dxsim eval` with language models: the LLM doctor and panel and the LLM patient against fake
//! OpenAI-compatible servers on loopback — per-role routing, the patient's information boundary, the
//! cache making a re-run free, usage in the records, and exact replay of an LLM-backed episode.

use std::path::Path;
use std::process::Output;

use dxsim::episode::log::{LogHeader, LogStep};
use dxsim::episode::{EpisodeLog, EpisodeOptions};
use dxsim::eval::record::{EpisodeRecord, RecordStatus};
use dxsim::library::CaseLibrary;
use dxsim::llm::Role;

use crate::fake_openai::{FakeOpenAi, Reply};

const CASE: &str = "cardio-chest-pressure-snow";

/// Writes a configuration giving each role its own endpoint on its server (`ROLE_server`, model
/// `ROLE-model`); returns its path.
fn write_config(dir: &Path, roles: &[(&str, &FakeOpenAi)]) -> String {
    let mut text = String::new();
    for (role, server) in roles {
        text.push_str(&format!(
            "[endpoints.{role}_server]\nbase_url = \"{}\"\nmodel = \"{role}-model\"\n\n",
            server.base_url()
        ));
    }
    text.push_str("[roles]\n");
    for (role, _) in roles {
        text.push_str(&format!("{role} = \"{role}_server\"\n"));
    }
    let path = dir.join("llm.toml");
    std::fs::write(&path, text).expect("config written");
    path.display().to_string()
}

/// Runs `dxsim ARGS…` off the async runtime (the fake servers live on it).
async fn dxsim(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dxsim"))
            .args(&args)
            .output()
            .expect("dxsim runs")
    })
    .await
    .expect("joined")
}

/// Runs `dxsim eval` off the async runtime (the fake servers live on it).
async fn eval(args: Vec<String>) -> Output {
    dxsim(std::iter::once("eval".to_string()).chain(args).collect()).await
}

fn records(dir: &Path) -> Vec<EpisodeRecord> {
    std::fs::read_to_string(dir.join("episodes.jsonl"))
        .expect("episodes.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_doctor_and_patient_play_route_by_role_cache_and_replay() {
    let doctor = FakeOpenAi::start().await;
    let patient = FakeOpenAi::start().await;
    doctor.script([
        Reply::Text("<question>When did the pain start?</question>".into()),
        Reply::Text("I think we should <test>troponin</test>".into()),
        Reply::Text("<diagnosis>Inferior STEMI</diagnosis>".into()),
    ]);
    // The patient's model tries to name the diagnosis: the guard drops that sentence.
    let library = CaseLibrary::builtin().expect("library");
    let case = library.get(CASE).expect("case");
    patient.script([Reply::Text(format!(
        "About an hour ago, clearing the snow. Is it an {}?",
        case.diagnosis.synonyms[0]
    ))]);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &[("doctor", &doctor), ("patient", &patient)]);
    let cache = dir.path().join("cache.sqlite").display().to_string();
    let first = dir.path().join("first");
    let args = |out: &Path| {
        vec![
            "--agent".to_string(),
            "llm".into(),
            "--cases".into(),
            CASE.into(),
            "--patient".into(),
            "llm".into(),
            "--llm-config".into(),
            config.clone(),
            "--llm-cache".into(),
            cache.clone(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    succeeded(&eval(args(&first)).await);
    let played = records(&first);
    assert_eq!(played.len(), 1);
    let record = &played[0];
    assert_eq!(record.status, RecordStatus::Diagnosed, "{:?}", record.error);
    assert!(record.correct, "{:?}", record.rationale);
    assert_eq!(
        record.transcript[0].response,
        "About an hour ago, clearing the snow."
    );
    assert!(record.transcript[1].response.contains("Troponin"));

    // Per-role routing and usage: three doctor calls, one patient call, each on its own server.
    assert_eq!(doctor.requests().len(), 3);
    assert_eq!(patient.requests().len(), 1);
    assert!(
        doctor
            .requests()
            .iter()
            .all(|request| request.body["model"] == "doctor-model")
    );
    let usage = record.llm_usage.as_ref().expect("usage recorded");
    assert_eq!(usage.roles[&Role::Doctor].calls, 3);
    assert_eq!(usage.roles[&Role::Patient].calls, 1);
    assert!(usage.total.prompt_tokens > 0);

    // The patient's prompt holds the history and nothing of the exam, tests or diagnosis.
    let prompt = patient.requests()[0].body.to_string().to_lowercase();
    assert!(prompt.contains(&case.history[0].text.to_lowercase().replace('"', "\\\"")));
    assert!(!prompt.contains(&case.diagnosis.name.to_lowercase()));
    for name in &case.diagnosis.synonyms {
        assert!(!prompt.contains(&name.to_lowercase()), "{name}");
    }
    for finding in &case.exam {
        assert!(
            !prompt.contains(&finding.text.to_lowercase()),
            "{}",
            finding.system
        );
    }
    for test in &case.tests {
        if let Some(report) = &test.report {
            assert!(
                !prompt.contains(&report.to_lowercase()),
                "{} leaked",
                test.id
            );
        }
    }
    for item in &case.differential {
        assert!(!prompt.contains(&item.name.to_lowercase()), "{}", item.name);
    }

    // The episode replays exactly from its log (the model's replies are in it).
    let log = EpisodeLog {
        header: LogHeader::new(
            CASE.into(),
            record.seed,
            EpisodeOptions {
                patient_backend: dxsim::episode::PatientBackend::Llm,
                ..EpisodeOptions::default()
            },
        ),
        steps: record.transcript.iter().map(LogStep::from).collect(),
    };
    let replayed = EpisodeLog::from_jsonl(&log.to_jsonl())
        .expect("parses")
        .replay(library)
        .expect("replays exactly");
    assert_eq!(replayed, record.transcript);

    // A second run with the same cache asks the servers nothing and plays the same episode.
    let second = dir.path().join("second");
    succeeded(&eval(args(&second)).await);
    assert_eq!(doctor.requests().len(), 3);
    assert_eq!(patient.requests().len(), 1);
    let again = &records(&second)[0];
    assert_eq!(again.transcript, record.transcript);
    let cached = again.llm_usage.as_ref().expect("usage recorded");
    assert_eq!(cached.total.cached_calls, 4);
    assert_eq!(cached.total.calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_keeps_its_deliberation_and_a_broken_model_fails_only_its_episode() {
    // The panel's model takes a while to answer: the episode waits for each reply.
    let doctor = FakeOpenAi::with_delay(std::time::Duration::from_millis(50)).await;
    let patient = FakeOpenAi::start().await;
    let panel_turn = |action: &str| {
        Reply::Slow(
            serde_json::json!({
                "hypotheses": [{"diagnosis": "acute coronary syndrome", "probability": 0.7}],
                "next_steps": ["ecg"],
                "challenge": "aortic dissection must be excluded",
                "cost": "an ECG is cheap",
                "checklist": "one action, valid test names",
                "action": action,
            })
            .to_string(),
        )
    };
    doctor.script([
        panel_turn("<test>ecg</test>"),
        panel_turn("<diagnosis>Inferior STEMI</diagnosis>"),
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &[("doctor", &doctor), ("patient", &patient)]);
    let out = dir.path().join("panel");
    succeeded(
        &eval(vec![
            "--agent".into(),
            "panel:1500".into(),
            "--cases".into(),
            CASE.into(),
            "--llm-config".into(),
            config.clone(),
            "--out".into(),
            out.display().to_string(),
        ])
        .await,
    );
    let record = &records(&out)[0];
    assert_eq!(record.status, RecordStatus::Diagnosed, "{:?}", record.error);
    assert_eq!(record.deliberation.len(), 2);
    assert_eq!(
        record.deliberation[0]["challenge"],
        "aortic dissection must be excluded"
    );
    let system = doctor.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(system.contains("$1500"), "{system}");

    // A model that never answers with an action: the episode is an error, the run goes on.
    doctor.script([
        Reply::Text("hmm".into()),
        Reply::Malformed("{not json".into()),
    ]);
    // The run completes and stores the episode; it exits 4, naming the agent that failed.
    let broken = dir.path().join("broken");
    let output = eval(vec![
        "--agent".into(),
        "panel".into(),
        "--cases".into(),
        CASE.into(),
        "--llm-config".into(),
        config,
        "--out".into(),
        broken.display().to_string(),
    ])
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("agent `panel`: 1 of 1 episode(s) ended with an error"),
        "{stderr}"
    );
    let record = &records(&broken)[0];
    assert_eq!(record.status, RecordStatus::Error);
    assert!(record.error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_agents_without_a_model_are_refused_up_front() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = eval(vec![
        "--agent".into(),
        "llm".into(),
        "--out".into(),
        dir.path().join("run").display().to_string(),
    ])
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--llm-config"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_judge_is_measured_on_a_calibration_set_next_to_the_rule_judge() {
    let judge = FakeOpenAi::start().await;
    let verdict = r#"{"score": 5, "rationale": "same disease"}"#;
    judge.script((0..4).map(|_| Reply::Text(verdict.into())));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &[("judge", &judge)]);
    let set = dir.path().join("set.csv");
    std::fs::write(
        &set,
        "reference,reference_icd10,reference_synonyms,candidate,candidate_icd10,expected_score,why\n\
         Pulmonary embolism,I26.99,PE,PE,,5,abbreviation\n\
         Pulmonary embolism,I26.99,PE,Pulmonary thromboembolism,,5,synonym\n\
         Acute appendicitis,K35.80,,Appendicitis,,5,same\n\
         Acute appendicitis,K35.80,,Migraine,,1,unrelated\n\
         Pulmonary embolism,I26.99,PE,\"PE, pneumonia\",,1,a list is not one diagnosis\n",
    )
    .expect("set");
    let args = vec![
        "judge".to_string(),
        "calibrate".into(),
        "--judge".into(),
        "llm".into(),
        "--llm-config".into(),
        config.clone(),
        "--set".into(),
        set.display().to_string(),
    ];
    let output = dxsim(args).await;
    succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("LLM judge on 5 calibration pairs"),
        "{stdout}"
    );
    // The model credits everything; the list is scored 1 by the answer reader without asking it.
    let all = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("all"))
        .expect("a line for the whole set");
    assert!(all.contains("80.0%"), "{stdout}");
    assert!(stdout.contains("rule judge on the same pairs"), "{stdout}");
    assert_eq!(judge.requests().len(), 4);
    let first = judge.requests()[0].body.clone();
    assert_eq!(first["response_format"]["type"], "json_object");
    assert_eq!(first["temperature"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_gatekeeper_writes_missing_findings_through_its_own_endpoint() {
    let doctor = FakeOpenAi::start().await;
    let gatekeeper = FakeOpenAi::start().await;
    doctor.script([
        Reply::Text("<exam>skin</exam>".into()),
        Reply::Text("<diagnosis>Inferior STEMI</diagnosis>".into()),
    ]);
    gatekeeper.script([Reply::Text("skin: Pale, cool and clammy.".into())]);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        &[("doctor", &doctor), ("gatekeeper", &gatekeeper)],
    );
    let out = dir.path().join("run");
    succeeded(
        &eval(vec![
            "--agent".into(),
            "llm".into(),
            "--cases".into(),
            CASE.into(),
            "--gatekeeper".into(),
            "llm".into(),
            "--llm-config".into(),
            config.clone(),
            "--out".into(),
            out.display().to_string(),
        ])
        .await,
    );
    let record = &records(&out)[0];
    assert_eq!(record.status, RecordStatus::Diagnosed, "{:?}", record.error);
    assert!(
        record.transcript[0]
            .response
            .contains("Pale, cool and clammy."),
        "{}",
        record.transcript[0].response
    );
    assert!(record.synthetic.contains(&"skin".to_string()));
    let usage = record.llm_usage.as_ref().expect("usage");
    assert_eq!(usage.roles[&Role::Gatekeeper].calls, 1);
    assert_eq!(gatekeeper.requests().len(), 1);
    assert_eq!(gatekeeper.requests()[0].body["model"], "gatekeeper-model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_judge_can_score_an_evaluation_with_the_rule_score_kept() {
    let doctor = FakeOpenAi::start().await;
    let judge = FakeOpenAi::start().await;
    doctor.script([Reply::Text("<diagnosis>Inferior STEMI</diagnosis>".into())]);
    judge.script([Reply::Text(
        r#"{"score": 3, "rationale": "a strict grader"}"#.into(),
    )]);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &[("doctor", &doctor), ("judge", &judge)]);
    let out = dir.path().join("run");
    succeeded(
        &eval(vec![
            "--agent".into(),
            "llm".into(),
            "--cases".into(),
            CASE.into(),
            "--judge".into(),
            "llm".into(),
            "--llm-config".into(),
            config.clone(),
            "--out".into(),
            out.display().to_string(),
        ])
        .await,
    );
    let record = &records(&out)[0];
    assert_eq!(record.score, Some(3));
    assert!(!record.correct);
    assert_eq!(record.rule_score, Some(5));
    assert_eq!(record.rationale.as_deref(), Some("a strict grader"));
    let manifest = std::fs::read_to_string(out.join("run.json")).expect("run.json");
    assert!(manifest.contains("\"llm_judge\": true"), "{manifest}");
}

/// A configuration whose jury is the given servers (`j0`, `j1`, …) and nothing else.
fn write_jury_config(dir: &Path, jurors: &[&FakeOpenAi]) -> String {
    let names: Vec<String> = (0..jurors.len())
        .map(|index| format!("\"j{index}\""))
        .collect();
    let mut text = format!("jury = [{}]\n\n", names.join(", "));
    for (index, server) in jurors.iter().enumerate() {
        text.push_str(&format!(
            "[endpoints.j{index}]\nbase_url = \"{}\"\nmodel = \"juror-{index}\"\n\n",
            server.base_url()
        ));
    }
    let path = dir.join("jury.toml");
    std::fs::write(&path, text).expect("config written");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jury_judges_by_its_median_and_every_vote_is_recorded() {
    let lenient = [FakeOpenAi::start().await, FakeOpenAi::start().await];
    let strict = FakeOpenAi::start().await;
    for server in &lenient {
        server.script((0..8).map(|_| Reply::Text(r#"{"score": 5, "rationale": "same"}"#.into())));
    }
    strict.script((0..8).map(|_| Reply::Text(r#"{"score": 2, "rationale": "no"}"#.into())));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_jury_config(dir.path(), &[&lenient[0], &lenient[1], &strict]);
    let set = dir.path().join("set.csv");
    std::fs::write(
        &set,
        "reference,reference_icd10,reference_synonyms,candidate,candidate_icd10,expected_score,why\n\
         Pulmonary embolism,I26.99,,PE,,5,abbreviation\n\
         Acute appendicitis,K35.80,,Migraine,,1,unrelated\n\
         Pulmonary embolism,I26.99,,\"PE, pneumonia\",,1,a list\n",
    )
    .expect("set");
    let args: Vec<String> = [
        "judge",
        "calibrate",
        "--judge",
        "jury",
        "--llm-config",
        &config,
        "--set",
        &set.display().to_string(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    let output = dxsim(args).await;
    succeeded(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Two jurors credit everything, one nothing: the median credits both pairs the reader lets
    // through (one right, one wrong), and the list never reaches the jury.
    let all = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("all"))
        .expect("a line for the whole set");
    assert!(all.contains("66.7%"), "{stdout}");
    for server in lenient.iter().chain([&strict]) {
        assert_eq!(server.requests().len(), 2, "{stdout}");
    }

    // In a run, the votes are kept in the record.
    let out = dir.path().join("run");
    let case = dxsim::library::CaseLibrary::builtin()
        .expect("library")
        .cases()[0]
        .id
        .clone();
    // The oracle on one case, judged by the jury of `config`, into `out`.
    let jury_eval = |config: String, out: std::path::PathBuf| {
        let args = [
            "--agent",
            "oracle",
            "--cases",
            &case,
            "--judge",
            "jury",
            "--llm-config",
            &config,
            "--out",
            &out.display().to_string(),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        eval(args)
    };
    let output = jury_eval(config.clone(), out.clone()).await;
    succeeded(&output);
    let records = records(&out);
    let votes = records[0].jury.as_ref().expect("the jury's votes");
    assert_eq!(
        votes.iter().map(|vote| vote.score).collect::<Vec<_>>(),
        vec![5, 5, 2]
    );
    assert_eq!(records[0].score, Some(5));

    // No jury in the configuration: a clear error before anything runs.
    let bare = write_config(dir.path(), &[("judge", &strict)]);
    let output = jury_eval(bare, dir.path().join("bare")).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("jury"));
}

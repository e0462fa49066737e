//! Nothing hidden reaches the doctor (DESIGN.md §3.9). The exhaustive doctor (every history topic,
//! every exam system, every catalogue test) plays every case of the library under every patient
//! setting, and every byte it receives before the end is checked with the audit's [`Secrets`]: on the
//! Rust step API in text and discrete mode, on the HTTP API (bodies and headers), through the agent
//! protocol of `dxsim eval`, and in the terminal app's frames (a unit test of the embedded driver).

use std::collections::BTreeSet;

use dxsim::episode::DiscreteTable;
use dxsim::library::CaseLibrary;
use dxsim::library::audit::{Leak, Secrets, audit_library};
use dxsim_gatekeeper::Catalogue;

fn library() -> &'static CaseLibrary {
    CaseLibrary::builtin().expect("the built-in library loads")
}

/// Leaks, one line each, for a failure message.
fn listed(leaks: &[Leak]) -> String {
    let mut seen = BTreeSet::new();
    leaks
        .iter()
        .filter(|leak| seen.insert((leak.case_id.clone(), leak.what.clone())))
        .take(60)
        .map(|leak| {
            format!(
                "{} · {} · {}: {}",
                leak.case_id, leak.surface, leak.what, leak.text
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_rust_step_api_gives_nothing_away_in_either_mode_under_any_patient() {
    let leaks: Vec<Leak> = audit_library(library())
        .into_iter()
        .flat_map(|(case_id, leaks)| {
            leaks.unwrap_or_else(|error| panic!("{case_id} could not be played: {error}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        listed(&leaks)
    );
}

/// The keys of a JSON object, sorted.
pub(crate) fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|fields| fields.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[test]
fn a_reset_shows_the_presentation_and_nothing_else_about_the_case() {
    use dxsim::episode::{CaseSelector, Env, EpisodeOptions};
    let mut env = Env::new(library());
    for case in library().cases() {
        let options = EpisodeOptions {
            case: CaseSelector {
                id: Some(case.id.clone()),
                ..CaseSelector::default()
            },
            budget_cap_usd: Some(5_000.0),
            ..EpisodeOptions::default()
        };
        let (observation, info) = env.reset(1, options).expect("reset");
        let observation = serde_json::to_value(&observation).expect("serialises");
        let info = serde_json::to_value(&info).expect("serialises");
        assert_eq!(keys(&observation), ["findings", "text", "turn"]);
        assert_eq!(
            keys(&info),
            [
                "budget_left",
                "case_handle",
                "charges",
                "cost",
                "turn",
                "turn_limit"
            ]
        );
        assert_eq!(info["case_handle"], case.handle());
        let findings = observation["findings"].as_array().expect("findings");
        assert_eq!(findings.len(), 1, "{}", case.id);
        assert_eq!(keys(&findings[0]), ["case", "kind"]);
        let shown = keys(&findings[0]["case"]);
        let expected: &[&str] = if case.presentation.age_months.is_some() {
            &["age_months", "age_years", "setting", "sex", "summary"]
        } else {
            &["age_years", "setting", "sex", "summary"]
        };
        assert_eq!(shown, expected, "{}", case.id);
        // The handle is opaque: hex digits only, and different for every case.
        assert!(case.handle().chars().all(|c| c.is_ascii_hexdigit()));
    }
    let handles: BTreeSet<String> = library().cases().iter().map(|case| case.handle()).collect();
    assert_eq!(handles.len(), library().cases().len());
}

#[test]
fn the_audit_catches_each_kind_of_leak() {
    let case = library()
        .get("ortho-night-tingling-right-hand")
        .expect("the case exists");
    let secrets = Secrets::of(case);
    let none = BTreeSet::new();
    let leaked = |text: &str| !secrets.check_text(text, &none, "test").is_empty();
    assert!(leaked("Findings of carpal tunnel syndrome."));
    assert!(leaked("code G56.01"));
    assert!(leaked("code G5601"));
    assert!(leaked("ortho-night-tingling-right-hand"));
    assert!(leaked("ortho night tingling right hand"));
    assert!(leaked("seen in orthopedics"));
    assert!(leaked("a normal template"));
    assert!(!leaked("Pins and needles in the thumb and fingers."));
    let report = case
        .tests
        .iter()
        .find(|test| test.confirmatory)
        .and_then(|test| test.report.clone())
        .expect("a confirmatory report");
    assert!(leaked(&report), "before its test was ordered");
    let opened: BTreeSet<String> = ["ncs_extensive".to_string()].into();
    assert!(secrets.check_text(&report, &opened, "test").is_empty());
    let json = serde_json::json!({"info": {"specialty": "orthopedics"}, "note": "Common"});
    // The field, its value as a label and as the specialty's name; "Common" as the difficulty.
    assert_eq!(secrets.check_json(&json, &none, "test").len(), 4);
}

/// What one HTTP answer gave the agent: its headers and its JSON body.
async fn received(response: reqwest::Response) -> (Vec<(String, String)>, serde_json::Value) {
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let bytes = response.bytes().await.expect("the body arrives");
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON")
    };
    (headers, body)
}

/// What a GET of `url` gave the agent.
async fn get(client: &reqwest::Client, url: &str) -> (Vec<(String, String)>, serde_json::Value) {
    received(client.get(url).send().await.expect("answered")).await
}

/// The leaks in an HTTP answer, headers and body.
fn http_leaks(
    secrets: &Secrets,
    (headers, body): &(Vec<(String, String)>, serde_json::Value),
    opened: &BTreeSet<String>,
    surface: &str,
) -> Vec<Leak> {
    let mut leaks = secrets.check_json(body, opened, surface);
    for (name, value) in headers {
        leaks.extend(secrets.check_text(&format!("{name}: {value}"), opened, surface));
    }
    leaks
}

/// One planned HTTP step: the batch entry and the action it takes.
type Planned = (serde_json::Value, dxsim::action::Action);

/// Fresh discrete-mode episodes that share out the discrete action list, per setting.
const DISCRETE_SLICES: usize = 10;

/// One episode of the HTTP test.
struct HttpEpisode<'a> {
    id: String,
    setting: String,
    mode: &'static str,
    plan: &'a [Planned],
    opened: BTreeSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_gives_nothing_away_in_bodies_or_headers() {
    let (_dir, store) = crate::server::store();
    let server = crate::server::Server::open(&store, &[]);
    let client = reqwest::Client::new();
    let library = library();
    let catalogue = Catalogue::builtin();
    let table = DiscreteTable::new(catalogue, library);
    let mut leaks = Vec::new();
    // The public case list: each entry is a handle and a presentation; no id anywhere in it.
    let (headers, list) = get(&client, &server.url("/v1/cases")).await;
    let entries = list["cases"].as_array().expect("cases");
    assert_eq!(entries.len(), library.cases().len());
    let whole = list.to_string();
    for case in library.cases() {
        assert!(!whole.contains(&case.id), "GET /v1/cases names {}", case.id);
        let entry = entries
            .iter()
            .find(|entry| entry["handle"] == case.handle().as_str())
            .expect("every case is listed by its handle");
        let surface = "GET /v1/cases";
        leaks.extend(http_leaks(
            &Secrets::of(case),
            &(headers.clone(), entry.clone()),
            &BTreeSet::new(),
            surface,
        ));
    }
    // Two workers, each over half the library, so the server and the checks overlap.
    let table = std::sync::Arc::new(table);
    let cases = library.cases();
    let (first, second) = cases.split_at(cases.len() / 2);
    let workers = [first, second].map(|share| {
        tokio::spawn(http_cases(
            server.url(""),
            share,
            std::sync::Arc::clone(&table),
        ))
    });
    for worker in workers {
        leaks.extend(worker.await.expect("a worker finished"));
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        listed(&leaks)
    );
}

/// Plays the exhaustive doctor over HTTP on `cases`, under every setting, and returns the leaks.
async fn http_cases(
    url: String,
    cases: &'static [std::sync::Arc<dxsim_gatekeeper::Case>],
    table: std::sync::Arc<DiscreteTable>,
) -> Vec<Leak> {
    use dxsim::library::audit::{
        audit_options, exhaustive_actions, exhaustive_discrete, ordered, patient_settings,
    };
    let client = reqwest::Client::new();
    let catalogue = Catalogue::builtin();
    let table = table.as_ref();
    let server = Url(url);
    let settings = patient_settings();
    let mut leaks = Vec::new();
    for case in cases {
        let secrets = Secrets::of(case);
        let text: Vec<Planned> = exhaustive_actions(case, &secrets, catalogue)
            .into_iter()
            .map(|action| (serde_json::json!({ "action": action }), action))
            .collect();
        let discrete: Vec<Planned> = exhaustive_discrete(table, &secrets)
            .into_iter()
            .filter_map(|index| Some((serde_json::json!({ "index": index }), table.action(index)?)))
            .collect();
        // Text mode plays the whole list in one episode per setting; discrete mode (one action per
        // request) shares its list out among DISCRETE_SLICES fresh episodes per setting, played side
        // by side, so that the door tests, last in the list, still come last in their episode.
        let slice = discrete.len().div_ceil(DISCRETE_SLICES);
        let mut episodes: Vec<HttpEpisode<'_>> = Vec::new();
        for (setting, bias, doctor) in &settings {
            // Discrete mode under no bias, a cognitive and an implicit one: its observations are the
            // text mode's, and the Rust test plays it under every setting; over HTTP the engine's
            // steps in the debug build make it the slow half.
            let discrete_here = ["none", "self_diagnosis", "gender"].contains(&setting.as_str());
            let plans = std::iter::once(("text", &text[..])).chain(
                discrete
                    .chunks(slice)
                    .filter(|_| discrete_here)
                    .map(|chunk| ("discrete", chunk)),
            );
            for (mode, plan) in plans {
                let options = audit_options(case, bias.clone(), doctor.clone());
                let body = serde_json::json!({"seed": 0, "options": options, "mode": mode});
                let answer = received(
                    client
                        .post(server.url("/v1/episodes"))
                        .body(body.to_string())
                        .send()
                        .await
                        .expect("answered"),
                )
                .await;
                let surface = format!("http {mode}, patient {setting}, reset");
                leaks.extend(http_leaks(&secrets, &answer, &BTreeSet::new(), &surface));
                episodes.push(HttpEpisode {
                    id: answer.1["episode_id"].as_str().expect("an id").to_string(),
                    setting: setting.clone(),
                    mode,
                    plan,
                    opened: BTreeSet::new(),
                });
            }
        }
        for turn in 0.. {
            let mut steps = Vec::new();
            for episode in &mut episodes {
                if let Some((entry, action)) = episode.plan.get(turn) {
                    episode.opened.extend(ordered(action).cloned());
                    let mut entry = entry.clone();
                    entry["episode_id"] = episode.id.clone().into();
                    steps.push(entry);
                }
            }
            if steps.is_empty() {
                break;
            }
            let answer = received(
                client
                    .post(server.url("/v1/episodes/step"))
                    .body(serde_json::json!({ "steps": steps }).to_string())
                    .send()
                    .await
                    .expect("answered"),
            )
            .await;
            for result in answer.1["results"].as_array().expect("results") {
                assert!(result.get("error").is_none(), "{}: {result}", case.id);
                assert!(
                    result["terminated"] == false && result["truncated"] == false,
                    "{}: the episode ended early",
                    case.id
                );
                let episode = episodes
                    .iter()
                    .find(|episode| result["episode_id"] == episode.id.as_str())
                    .expect("one of ours");
                let surface = format!(
                    "http {}, patient {}, turn {}",
                    episode.mode,
                    episode.setting,
                    turn + 1
                );
                leaks.extend(http_leaks(
                    &secrets,
                    &(answer.0.clone(), result.clone()),
                    &episode.opened,
                    &surface,
                ));
            }
        }
        // What else an agent may read about a running episode: its state, transcript and the list.
        let mut all_opened = BTreeSet::new();
        for episode in &episodes {
            all_opened.extend(episode.opened.iter().cloned());
            for path in [
                format!("/v1/episodes/{}", episode.id),
                format!("/v1/episodes/{}/transcript", episode.id),
            ] {
                let answer = get(&client, &server.url(&path)).await;
                let surface = format!(
                    "http GET {path} ({}, patient {})",
                    episode.mode, episode.setting
                );
                leaks.extend(http_leaks(&secrets, &answer, &episode.opened, &surface));
            }
        }
        let listing = get(&client, &server.url("/v1/episodes")).await;
        leaks.extend(http_leaks(
            &secrets,
            &listing,
            &all_opened,
            "http GET /v1/episodes",
        ));
        for episode in &episodes {
            let response = client
                .delete(server.url(&format!("/v1/episodes/{}", episode.id)))
                .send()
                .await
                .expect("answered");
            assert!(response.status().is_success());
        }
    }
    leaks
}

/// A server's base address.
struct Url(String);

impl Url {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// What the protocol test's agent saw: per episode handle, each message with the request's headers
/// and the tests its own actions had ordered before it.
type Heard = std::sync::Arc<
    std::sync::Mutex<
        std::collections::HashMap<String, Vec<(serde_json::Value, String, BTreeSet<String>)>>,
    >,
>;

/// The case-blind exhaustive doctor of the protocol test: the audit's consultation with every
/// catalogue test in orders of 25, then a diagnosis that ends the episode.
fn blind_actions() -> Vec<dxsim::action::Action> {
    let catalogue = Catalogue::builtin();
    let tests: Vec<String> = catalogue
        .tests()
        .iter()
        .map(|test| test.id.clone())
        .collect();
    let mut actions = dxsim::library::audit::consultation(catalogue, &tests, 25);
    actions.push(dxsim::action::Action::Diagnose {
        diagnosis: "unknown".into(),
        icd10: None,
    });
    actions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_protocol_gives_nothing_away() {
    use axum::Json;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::post;
    use dxsim::library::audit::ordered;

    async fn act(
        State(heard): State<Heard>,
        headers: HeaderMap,
        Json(message): Json<serde_json::Value>,
    ) -> Json<serde_json::Value> {
        let handle = message["episode"].as_str().unwrap_or_default().to_string();
        let headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or_default()))
            .collect();
        let actions = blind_actions();
        let mut heard = heard.lock().expect("lock");
        let seen = heard.entry(handle).or_default();
        let position = seen.len();
        let opened: BTreeSet<String> = actions[..position.min(actions.len())]
            .iter()
            .flat_map(|action| ordered(action).cloned())
            .collect();
        let ended = message["event"] == "end";
        seen.push((message, headers, opened));
        if ended {
            return Json(serde_json::json!({}));
        }
        let action = actions.get(position).unwrap_or(&actions[actions.len() - 1]);
        Json(serde_json::to_value(action).expect("an action serialises"))
    }

    let heard: Heard = std::sync::Arc::default();
    let app = axum::Router::new()
        .route("/act", post(act))
        .with_state(std::sync::Arc::clone(&heard));
    let address = crate::serve_on_loopback(app).await;

    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("run");
    let url = format!("http:http://{address}/act");
    let settings = "none,recency,frequency,false_consensus,self_diagnosis,gender=x,race=x,\
sexual_orientation=x,cultural=x,education=x,religion=x,socioeconomic=x";
    let out_arg = out.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dxsim"))
            .args([
                "eval",
                "--out",
                out_arg.to_str().expect("utf-8"),
                "--agent",
                &url,
            ])
            .args(["--patient-bias", settings, "--turn-limit", "1000"])
            .output()
            .expect("eval runs")
    })
    .await
    .expect("eval ran");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records: Vec<dxsim::eval::record::EpisodeRecord> =
        std::fs::read_to_string(out.join("episodes.jsonl"))
            .expect("episodes.jsonl")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a record"))
            .collect();
    assert_eq!(records.len(), library().cases().len() * 12);
    let heard = heard.lock().expect("lock");
    let mut leaks = Vec::new();
    for record in &records {
        let case = library().get(&record.case_id).expect("a library case");
        let secrets = Secrets::of(case);
        let handle = dxsim::eval::plan::episode_handle(&record.key);
        let messages = heard.get(&handle).expect("the agent heard the episode");
        assert_eq!(
            messages
                .last()
                .map(|(message, _, _)| message["event"].clone()),
            Some("end".into()),
            "{}",
            record.key
        );
        for (position, (message, headers, opened)) in messages.iter().enumerate() {
            if message["event"] == "end" {
                continue;
            }
            let surface = format!("agent protocol, {}, message {position}", record.bias);
            leaks.extend(secrets.check_json(message, opened, &surface));
            leaks.extend(secrets.check_text(headers, opened, &surface));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        listed(&leaks)
    );
}

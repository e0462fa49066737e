//! The HTTP server, tested as users meet it: the real `dxsim serve` binary on a loopback port, a real
//! SQLite store file, real HTTP requests; killed with SIGKILL and restarted for the crash test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const CASE: &str = "cardio-chest-pressure-snow";

/// A running `dxsim serve`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts the server with `args` (and `envs`) and waits for its address line.
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dxsim"))
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("DXSIM_TOKENS")
            .envs(envs.iter().copied())
            .env("RUST_LOG", "dxsim=warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the dxsim binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the server prints its address");
        let url = line
            .trim()
            .strip_prefix("dxsim serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, url }
    }

    pub(crate) fn open(store: &Path, extra: &[&str]) -> Server {
        let mut args = vec!["--open", "--store", store.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        Server::start(&args, &[])
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// SIGKILL: no chance to clean up.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("store.sqlite");
    (directory, path)
}

/// Sends a request and returns the status and JSON body (`null` for an empty body).
async fn call(
    client: &Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("the request is answered");
    let status = response.status();
    let bytes = response.bytes().await.expect("the body arrives");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("every answer is JSON")
    };
    (status, value)
}

async fn post(client: &Client, url: &str, body: Value) -> (StatusCode, Value) {
    call(client, reqwest::Method::POST, url, None, Some(body)).await
}

async fn get(client: &Client, url: &str) -> (StatusCode, Value) {
    call(client, reqwest::Method::GET, url, None, None).await
}

async fn create(server: &Server, client: &Client, seed: u64, mode: &str) -> String {
    let (status, body) = post(
        client,
        &server.url("/v1/episodes"),
        json!({"seed": seed, "mode": mode, "options": {"case": {"id": CASE}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["episode_id"].as_str().expect("an id").to_string()
}

async fn step(server: &Server, client: &Client, id: &str, body: Value) -> (StatusCode, Value) {
    post(
        client,
        &server.url(&format!("/v1/episodes/{id}/step")),
        body,
    )
    .await
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("(no error code)")
}

#[tokio::test]
async fn a_text_episode_runs_from_presentation_to_verdict() {
    let (_directory, path) = store();
    let server = Server::open(&path, &[]);
    let client = Client::new();
    let (status, health) = get(&client, &server.url("/v1/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");

    let (status, created) = post(
        &client,
        &server.url("/v1/episodes"),
        json!({"seed": 7, "options": {"case": {"id": CASE}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        created["observation"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("61-year-old")
    );
    assert!(created.get("discrete_observation").is_none());
    assert!(created["info"].get("outcome").is_none());
    // Nothing about the case but age, sex, setting and summary, and its opaque handle.
    assert_eq!(
        crate::surface::keys(&created),
        ["episode_id", "info", "mode", "observation", "seed"]
    );
    assert_eq!(
        crate::surface::keys(&created["info"]),
        ["case_handle", "charges", "cost", "turn", "turn_limit"]
    );
    assert_eq!(
        created["info"]["case_handle"],
        dxsim_gatekeeper::case::case_handle(CASE)
    );
    assert_eq!(
        crate::surface::keys(&created["observation"]["findings"][0]["case"]),
        ["age_years", "setting", "sex", "summary"]
    );
    let id = created["episode_id"].as_str().expect("id");

    let (status, answer) = step(
        &server,
        &client,
        id,
        json!({"action": {"type": "ask", "text": "When did the pain start?"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["terminated"], false);
    assert_eq!(answer["truncated"], false);
    assert!(answer["info"].get("outcome").is_none());
    let (_, answer) = step(
        &server,
        &client,
        id,
        json!({"action": {"type": "examine", "system": "cardiovascular"}}),
    )
    .await;
    assert_eq!(answer["observation"]["turn"], 2);
    let (_, answer) = step(
        &server,
        &client,
        id,
        json!({"text": "<test>ECG</test><test>troponin</test>"}),
    )
    .await;
    assert!(
        answer["observation"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("ST-segment elevation")
    );
    // A list is sent back unrecorded, at no cost, and the episode goes on.
    let (status, refused) = step(
        &server,
        &client,
        id,
        json!({"text": "DIAGNOSIS READY: inferior STEMI, pericarditis, aortic dissection"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refused}");
    assert_eq!(refused["terminated"], false);
    assert_eq!(refused["reward"], 0.0);
    assert_eq!(refused["info"]["charges"], json!([]));
    assert_eq!(
        refused["observation"]["findings"][0]["kind"], "diagnosis_refused",
        "{refused}"
    );
    let (status, end) = step(
        &server,
        &client,
        id,
        json!({"text": "DIAGNOSIS READY: inferior STEMI"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(end["terminated"], true);
    assert_eq!(end["reward"], 1.0);
    assert_eq!(end["info"]["outcome"]["verdict"]["correct"], true);

    let (status, again) = step(&server, &client, id, json!({"text": "anything else?"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&again), "episode_over");

    let (_, state) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(state["status"], "terminated");
    assert_eq!(state["turn"], 5);
    let (_, transcript) = get(
        &client,
        &server.url(&format!("/v1/episodes/{id}/transcript")),
    )
    .await;
    assert_eq!(transcript["entries"].as_array().map(Vec::len), Some(5));
    assert_eq!(transcript["entries"][0]["action"]["type"], "ask");

    let (status, reset) = post(
        &client,
        &server.url(&format!("/v1/episodes/{id}/reset")),
        json!({"seed": 8, "options": {"case": {"id": CASE}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reset["observation"]["turn"], 0);
    let (status, _) = step(&server, &client, id, json!({"text": "Any allergies?"})).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(
        &client,
        reqwest::Method::DELETE,
        &server.url(&format!("/v1/episodes/{id}")),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn discrete_mode_returns_the_numeric_observation() {
    let (_directory, path) = store();
    let server = Server::open(&path, &[]);
    let client = Client::new();
    let (_, table) = get(&client, &server.url("/v1/discrete")).await;
    let width = table["observation_len"].as_u64().expect("width") as usize;
    let actions = table["action_count"].as_u64().expect("count") as usize;
    assert_eq!(table["actions"].as_array().map(Vec::len), Some(actions));

    let (_, created) = post(
        &client,
        &server.url("/v1/episodes"),
        json!({"seed": 1, "mode": "discrete", "options": {"case": {"id": CASE}}}),
    )
    .await;
    let id = created["episode_id"].as_str().expect("id");
    let start = created["discrete_observation"]
        .as_array()
        .expect("discrete observation");
    assert_eq!(start.len(), width);
    assert!(start.iter().all(|value| value == 0.0));

    let (status, answer) = step(&server, &client, id, json!({"index": 0})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let observation = answer["discrete_observation"]
        .as_array()
        .expect("observation");
    assert_eq!(observation.len(), width);
    assert_eq!(observation[0], 1.0, "topic 0 is now heard");

    let (status, refused) = step(&server, &client, id, json!({"index": actions})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&refused), "invalid_action");
}

#[tokio::test]
async fn the_batch_endpoint_steps_many_episodes_and_reports_each_entry() {
    let (_directory, path) = store();
    let server = Server::open(&path, &["--shards", "2"]);
    let client = Client::new();
    let mut ids = Vec::new();
    for seed in 0..6 {
        ids.push(create(&server, &client, seed, "text").await);
    }
    let mut steps: Vec<Value> = ids
        .iter()
        .map(|id| json!({"episode_id": id, "text": "<test>CBC</test>"}))
        .collect();
    steps.push(json!({"episode_id": "ep_unknown", "text": "hello"}));
    steps.push(json!({"episode_id": ids[0], "text": "a second action for the same episode"}));
    let fresh = create(&server, &client, 9, "text").await;
    steps.push(json!({"episode_id": fresh, "text": ""}));
    let (status, answer) = post(
        &client,
        &server.url("/v1/episodes/step"),
        json!({"steps": steps}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 9);
    for (result, id) in results.iter().zip(&ids) {
        assert_eq!(result["episode_id"], id.as_str());
        assert_eq!(result["observation"]["turn"], 1, "{result}");
    }
    assert_eq!(error_code(&results[6]), "not_found");
    assert_eq!(error_code(&results[7]), "invalid_request");
    assert_eq!(error_code(&results[8]), "invalid_action");
    // The refused entries changed nothing: episode 1 is still at turn 1.
    let (_, state) = get(&client, &server.url(&format!("/v1/episodes/{}", ids[1]))).await;
    assert_eq!(state["turn"], 1);
    // Same seeds and actions give the same answers, batched or not.
    let single = create(&server, &client, 0, "text").await;
    let (_, alone) = step(
        &server,
        &client,
        &single,
        json!({"text": "<test>CBC</test>"}),
    )
    .await;
    assert_eq!(alone["observation"], results[0]["observation"]);
}

#[tokio::test]
async fn vector_env_updates_rebuild_the_observation_matrix() {
    let (_directory, path) = store();
    let server = Server::open(&path, &[]);
    let client = Client::new();
    let (status, created) = post(
        &client,
        &server.url("/v1/vector-envs"),
        json!({"count": 8, "seed": 3, "options": {"turn_limit": 3, "case": {"id": CASE}}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["vec_id"].as_str().expect("id");
    let width = created["observation_len"].as_u64().expect("width") as usize;
    let actions = created["action_count"].as_u64().expect("actions") as usize;
    let mut matrix = vec![0.0f64; 8 * width];
    let mut resets = 0;
    for turn in 0..7usize {
        let chosen: Vec<usize> = (0..8)
            .map(|episode| (episode * 37 + turn * 11) % (actions - 200))
            .collect();
        let (status, answer) = post(
            &client,
            &server.url(&format!("/v1/vector-envs/{id}/step")),
            json!({"actions": chosen}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        for row in answer["reset"].as_array().expect("reset") {
            let row = row.as_u64().expect("row") as usize;
            matrix[row * width..(row + 1) * width].fill(0.0);
            resets += 1;
        }
        let updates = &answer["updates"];
        let episodes = updates["episode"].as_array().expect("episodes");
        for (k, episode) in episodes.iter().enumerate() {
            let row = episode.as_u64().expect("row") as usize;
            let position = updates["position"][k].as_u64().expect("position") as usize;
            matrix[row * width + position] = updates["value"][k].as_f64().expect("value");
        }
    }
    assert!(resets > 0, "with a turn limit of 3, episodes were reset");
    let (_, full) = get(
        &client,
        &server.url(&format!("/v1/vector-envs/{id}/observations")),
    )
    .await;
    let observed: Vec<f64> = full["observations"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|value| value.as_f64().expect("number"))
        .collect();
    assert_eq!(observed.len(), matrix.len());
    for (got, want) in observed.iter().zip(&matrix) {
        assert!((got - want).abs() < 1e-6, "delta reconstruction differs");
    }
    let (status, refused) = post(
        &client,
        &server.url(&format!("/v1/vector-envs/{id}/step")),
        json!({"actions": [0, 1]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&refused), "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_large_vector_env_does_not_hold_up_other_episodes() {
    let (_directory, path) = store();
    // Several engine shards, so the vector env shares one with some of the episodes.
    let server = Server::open(&path, &["--shards", "2"]);
    let client = Client::new();
    let mut episodes = Vec::new();
    for seed in 0..6 {
        let (status, body) = post(
            &client,
            &server.url("/v1/episodes"),
            json!({"seed": seed, "options": {"turn_limit": 10000, "case": {"id": CASE}}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        episodes.push(body["episode_id"].as_str().expect("id").to_string());
    }
    // A specialty's cases: a fresh server learns their discrete tables before the env is made.
    let creation = {
        let client = client.clone();
        let url = server.url("/v1/vector-envs");
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let body =
                json!({"count": 280, "seed": 1, "options": {"case": {"specialty": "cardiology"}}});
            let (status, body) = post(&client, &url, body).await;
            (status, body, started.elapsed())
        })
    };
    let mut slowest = Duration::ZERO;
    let mut steps = 0;
    while !creation.is_finished() {
        for id in &episodes {
            let started = std::time::Instant::now();
            let (status, body) = step(
                &server,
                &client,
                id,
                json!({"text": "ask: any chest pain?"}),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            slowest = slowest.max(started.elapsed());
            steps += 1;
        }
        // A round every few tens of milliseconds: enough to meet a stall, few enough turns.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (status, body, creating) = creation.await.expect("joined");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eprintln!("vector env created in {creating:?}; slowest of {steps} steps meanwhile {slowest:?}");
    // Learning the tables takes seconds on a cold server; the episodes on the vector env's shard
    // must not wait for it. (Before, each step waited the whole creation: 19 s.)
    if creating > Duration::from_secs(3) {
        assert!(
            slowest < Duration::from_secs(1),
            "a step waited {slowest:?} while a vector env took {creating:?} to create ({steps} steps)"
        );
    }
}

#[tokio::test]
async fn the_contract_holds_for_clients_the_document_allows() {
    let (_directory, path) = store();
    let server = Server::start(
        &["--store", path.to_str().expect("utf-8")],
        &[("DXSIM_TOKENS", "alice=alice-secret-1")],
    );
    let client = Client::new();
    // The scheme is case-insensitive (RFC 7235).
    let response = client
        .get(server.url("/v1/episodes"))
        .header("Authorization", "bearer alice-secret-1")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    // How busy the server is shows only to a token holder.
    let (_, anonymous) = get(&client, &server.url("/v1/health")).await;
    assert!(anonymous.get("live_episodes").is_none(), "{anonymous}");
    let (_, known) = call(
        &client,
        reqwest::Method::GET,
        &server.url("/v1/health"),
        Some("alice-secret-1"),
        None,
    )
    .await;
    assert_eq!(known["live_episodes"], json!(0), "{known}");
    // An integer written with a decimal point is the integer; a real fraction is still refused.
    let (status, created) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes"),
        Some("alice-secret-1"),
        Some(json!({"seed": 3462117.0, "options": {"turn_limit": 12.0}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["seed"], json!(3462117));
    assert_eq!(created["info"]["turn_limit"], json!(12));
    let (status, refused) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes"),
        Some("alice-secret-1"),
        Some(json!({"seed": 1.5})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, refused) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes"),
        Some("alice-secret-1"),
        Some(serde_json::from_str(r#"{"seed": 18446744073709551616}"#).expect("json")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "2^64 is no seed: {refused}"
    );
    // serde would read a struct from an array of its fields; the document says object, and the
    // server holds to it, naming the field.
    for (body, field) in [
        (
            json!({"options": {"doctor": [null, null]}}),
            "`options.doctor`",
        ),
        (json!({"options": [null]}), "`options`"),
        (json!([1, {}]), "the body"),
    ] {
        let (status, refused) = call(
            &client,
            reqwest::Method::POST,
            &server.url("/v1/episodes"),
            Some("alice-secret-1"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {refused}"
        );
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field) && message.contains("not an array"),
            "{body}: {refused}"
        );
    }
    let (status, refused) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes/step"),
        Some("alice-secret-1"),
        Some(json!({"steps": [["x", null, "ask: pain?"]]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    // A batch whose entry gives two action forms, or an index past the table, is malformed as a
    // whole; an entry naming an unknown episode is answered on its own.
    for entry in [
        json!({"episode_id": "x", "text": "ask: pain?", "index": 0}),
        json!({"episode_id": "x", "index": 100000}),
    ] {
        let (status, refused) = call(
            &client,
            reqwest::Method::POST,
            &server.url("/v1/episodes/step"),
            Some("alice-secret-1"),
            Some(json!({"steps": [entry]})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    }
    let (status, answered) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes/step"),
        Some("alice-secret-1"),
        Some(json!({"steps": [{"episode_id": "x", "text": "ask: pain?"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(
        answered["results"][0]["error"]["code"],
        json!("not_found"),
        "{answered}"
    );
    // The document states the limits the server enforces and that a reset body may be empty.
    let (_, document) = get(&client, &server.url("/v1/openapi.json")).await;
    assert_eq!(document["security"], json!([{"bearer": []}]));
    assert_eq!(
        document["paths"]["/v1/episodes"]["post"]["requestBody"]["required"],
        json!(false)
    );
    let options = &document["components"]["schemas"]["EpisodeOptions"]["properties"];
    assert_eq!(options["turn_limit"]["minimum"], json!(1), "{options}");
    assert_eq!(options["turn_limit"]["maximum"], json!(10000), "{options}");
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["VectorRequest"]["properties"]["count"]["maximum"],
        json!(16384)
    );
    assert!(
        schemas["CaseSelector"]["properties"]["specialty"]["enum"]
            .as_array()
            .is_some_and(|names| names.contains(&json!("cardiology"))),
        "{}",
        schemas["CaseSelector"]
    );
    assert_eq!(
        schemas["PatientBackend"]["oneOf"].as_array().map(Vec::len),
        Some(1),
        "the server refuses the llm backend, so its document omits it"
    );
    // Under --open the document asks for no token.
    let (_open_directory, open_path) = store();
    let open = Server::open(&open_path, &[]);
    let (_, document) = get(&client, &open.url("/v1/openapi.json")).await;
    assert_eq!(document["security"], json!([]));
    assert!(
        document["paths"]["/v1/episodes"]["post"]["responses"]
            .get("401")
            .is_none()
    );
}

#[tokio::test]
async fn an_episode_reads_the_same_after_a_restart() {
    let (_directory, path) = store();
    let client = Client::new();
    let server = Server::open(&path, &[]);
    // A seeded choice of case: the options name no case.
    let (status, created) = post(&client, &server.url("/v1/episodes"), json!({"seed": 11})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["episode_id"].as_str().expect("id").to_string();
    step(
        &server,
        &client,
        &id,
        json!({"text": "ask: where is the pain?"}),
    )
    .await;
    let (_, before) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(before["options"]["case"]["id"], Value::Null, "{before}");
    server.kill();
    let server = Server::open(&path, &[]);
    let (status, after) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after, before);
}

#[tokio::test]
async fn every_error_has_its_status_and_code() {
    let (_directory, path) = store();
    let server = Server::open(
        &path,
        &[
            "--max-body-bytes",
            "4000",
            "--max-action-chars",
            "60",
            "--max-episodes-per-token",
            "2",
        ],
    );
    let client = Client::new();
    let id = create(&server, &client, 1, "text").await;
    let raw = |body: &str| {
        client
            .post(server.url(&format!("/v1/episodes/{id}/step")))
            .body(body.to_string())
            .send()
    };
    let response = raw("{not json").await.expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "bad_json");

    let (status, body) = step(&server, &client, &id, json!({"txet": "typo"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("txet")
    );

    let (status, body) = step(&server, &client, &id, json!({"text": "x".repeat(61)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "invalid_action");
    let (status, body) = step(&server, &client, &id, json!({"text": "hi", "index": 1})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_action")
    );

    let response = raw(&format!("{{\"text\": \"{}\"}}", "y".repeat(5000)))
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "payload_too_large");

    let (status, body) = post(
        &client,
        &server.url("/v1/episodes"),
        json!({"options": {"turn_limit": 0}}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_options")
    );
    let (status, body) = post(
        &client,
        &server.url("/v1/episodes"),
        json!({"options": {"case": {"id": "no-such-case"}}}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );

    let (status, body) = get(&client, &server.url("/v1/no/such/route")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = get(&client, &server.url("/v1/cases?difficulty=legendary")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    let _second = create(&server, &client, 2, "text").await;
    let (status, body) = post(&client, &server.url("/v1/episodes"), json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_episodes")
    );
    // Closing one frees a place.
    let (status, _) = call(
        &client,
        reqwest::Method::DELETE,
        &server.url(&format!("/v1/episodes/{id}")),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = post(&client, &server.url("/v1/episodes"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn tokens_own_their_episodes() {
    let (_directory, path) = store();
    let server = Server::start(
        &["--store", path.to_str().expect("utf-8")],
        &[("DXSIM_TOKENS", "alice=alice-secret-1,bob=bob-secret-22")],
    );
    let client = Client::new();
    let alice = Some("alice-secret-1");
    let bob = Some("bob-secret-22");
    let (status, body) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes"),
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (status, _) = call(
        &client,
        reqwest::Method::GET,
        &server.url("/v1/cases"),
        Some("wrong-token"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = get(&client, &server.url("/v1/health")).await;
    assert_eq!(status, StatusCode::OK, "health needs no token");

    let (status, created) = call(
        &client,
        reqwest::Method::POST,
        &server.url("/v1/episodes"),
        alice,
        Some(json!({"seed": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["episode_id"].as_str().expect("id");
    let episode = server.url(&format!("/v1/episodes/{id}"));
    let (status, _) = call(&client, reqwest::Method::GET, &episode, bob, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &client,
        reqwest::Method::POST,
        &format!("{episode}/step"),
        bob,
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&client, reqwest::Method::DELETE, &episode, bob, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = call(
        &client,
        reqwest::Method::GET,
        &server.url("/v1/episodes"),
        bob,
        None,
    )
    .await;
    assert_eq!(listed["episodes"].as_array().map(Vec::len), Some(0));
    let (_, listed) = call(
        &client,
        reqwest::Method::GET,
        &server.url("/v1/episodes"),
        alice,
        None,
    )
    .await;
    assert_eq!(listed["episodes"][0]["episode_id"], id);
    let (status, _) = call(
        &client,
        reqwest::Method::POST,
        &format!("{episode}/step"),
        alice,
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn idle_episodes_expire() {
    let (_directory, path) = store();
    let server = Server::open(&path, &["--idle-expiry", "1"]);
    let client = Client::new();
    let id = create(&server, &client, 1, "text").await;
    let (status, _) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = get(&client, &server.url(&format!("/v1/episodes/{id}"))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (_, health) = get(&client, &server.url("/v1/health")).await;
    assert_eq!(health["live_episodes"], 0);
}

/// The actions every episode of the crash test takes, in order.
fn script(turn: usize) -> Value {
    let texts = [
        "When did the pain start and what were you doing?",
        "REQUEST EXAM: cardiovascular",
        "<test>ECG</test>",
        "Any past medical problems or medicines?",
        "<test>troponin</test><test>CBC</test>",
        "DIAGNOSIS READY: inferior STEMI",
    ];
    json!({"text": texts[turn]})
}

async fn transcript_of(server: &Server, client: &Client, id: &str) -> Value {
    let (status, body) = get(
        client,
        &server.url(&format!("/v1/episodes/{id}/transcript")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].clone()
}

#[tokio::test]
async fn episodes_survive_a_sigkill_with_identical_transcripts() {
    let (_directory, path) = store();
    let client = Client::new();
    // A control run that never crashes.
    let control = Server::start(&["--open", "--memory-store"], &[]);
    let mut expected = Vec::new();
    for seed in 0..4u64 {
        let id = create(
            &control,
            &client,
            seed,
            if seed % 2 == 0 { "text" } else { "discrete" },
        )
        .await;
        for turn in 0..6 {
            step(&control, &client, &id, script(turn)).await;
        }
        expected.push(transcript_of(&control, &client, &id).await);
    }
    let (_, control_vector) = post(
        &client,
        &control.url("/v1/vector-envs"),
        json!({"count": 16, "seed": 5, "options": {"turn_limit": 4, "case": {"id": CASE}}}),
    )
    .await;
    let vector_actions = |turn: usize| -> Vec<usize> {
        (0..16)
            .map(|episode| (episode * 13 + turn * 7) % 400)
            .collect()
    };
    let control_vector = control_vector["vec_id"].as_str().expect("id").to_string();
    for turn in 0..300 {
        post(
            &client,
            &control.url(&format!("/v1/vector-envs/{control_vector}/step")),
            json!({"actions": vector_actions(turn)}),
        )
        .await;
    }
    let (_, expected_matrix) = get(
        &client,
        &control.url(&format!("/v1/vector-envs/{control_vector}/observations")),
    )
    .await;

    // The same, with a SIGKILL halfway through.
    let server = Server::open(&path, &[]);
    let mut ids = Vec::new();
    for seed in 0..4u64 {
        let id = create(
            &server,
            &client,
            seed,
            if seed % 2 == 0 { "text" } else { "discrete" },
        )
        .await;
        for turn in 0..3 {
            let (status, _) = step(&server, &client, &id, script(turn)).await;
            assert_eq!(status, StatusCode::OK);
        }
        ids.push(id);
    }
    let (_, vector) = post(
        &client,
        &server.url("/v1/vector-envs"),
        json!({"count": 16, "seed": 5, "options": {"turn_limit": 4, "case": {"id": CASE}}}),
    )
    .await;
    let vector = vector["vec_id"].as_str().expect("id").to_string();
    // Past a checkpoint (every 128 steps), so both the checkpoint and the steps after it are used.
    for turn in 0..150 {
        post(
            &client,
            &server.url(&format!("/v1/vector-envs/{vector}/step")),
            json!({"actions": vector_actions(turn)}),
        )
        .await;
    }
    let before: Vec<Value> = {
        let mut transcripts = Vec::new();
        for id in &ids {
            transcripts.push(transcript_of(&server, &client, id).await);
        }
        transcripts
    };
    server.kill();

    let server = Server::open(&path, &[]);
    for (index, id) in ids.iter().enumerate() {
        assert_eq!(
            transcript_of(&server, &client, id).await,
            before[index],
            "rebuilt as it was"
        );
        for turn in 3..6 {
            let (status, answer) = step(&server, &client, id, script(turn)).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        assert_eq!(
            transcript_of(&server, &client, id).await,
            expected[index],
            "continues identically"
        );
    }
    for turn in 150..300 {
        let (status, _) = post(
            &client,
            &server.url(&format!("/v1/vector-envs/{vector}/step")),
            json!({"actions": vector_actions(turn)}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (_, matrix) = get(
        &client,
        &server.url(&format!("/v1/vector-envs/{vector}/observations")),
    )
    .await;
    assert_eq!(matrix["observations"], expected_matrix["observations"]);
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_keeps_the_episodes() {
    let (_directory, path) = store();
    let client = Client::new();
    let mut server = Server::open(&path, &[]);
    let id = create(&server, &client, 3, "text").await;
    step(&server, &client, &id, script(0)).await;
    let before = transcript_of(&server, &client, &id).await;
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = server.child.wait().expect("the server exits");
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
    drop(server);
    let server = Server::open(&path, &[]);
    assert_eq!(transcript_of(&server, &client, &id).await, before);
}

#[tokio::test]
async fn the_api_describes_itself_and_hides_the_cases() {
    let (_directory, path) = store();
    let server = Server::open(&path, &[]);
    let client = Client::new();
    let (status, document) = get(&client, &server.url("/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/v1/episodes/{id}/step"]["post"].is_object());
    assert!(document["components"]["schemas"]["Action"].is_object());
    for name in ["action", "options", "observation", "step"] {
        let (status, schema) = get(&client, &server.url(&format!("/v1/schemas/{name}"))).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(schema.is_object());
    }
    let (_, action) = get(&client, &server.url("/v1/schemas/action")).await;
    assert!(action.to_string().contains("diagnose"));

    // The public list: a handle and the presentation, and exactly that (DESIGN.md §3.9).
    let (status, cases) = get(&client, &server.url("/v1/cases")).await;
    assert_eq!(status, StatusCode::OK);
    let cases = cases["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for case in cases {
        let keys: std::collections::BTreeSet<&str> = case
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let shown: std::collections::BTreeSet<&str> =
            ["handle", "age_years", "sex", "setting", "summary"].into();
        assert!(
            keys == shown || keys == &shown | &["age_months"].into(),
            "{keys:?}"
        );
    }
    // Filters on the authors' fields would map handles to specialties: refused here, served with
    // --case-details.
    let (status, body) = get(&client, &server.url("/v1/cases?specialty=cardiology")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("case-details"), "{body}");
    let (_, catalogue) = get(&client, &server.url("/v1/catalogue")).await;
    let cbc = catalogue["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .find(|test| test["id"] == "cbc")
        .cloned()
        .expect("cbc");
    assert!(cbc["price_usd"].as_f64().expect("price") > 0.0);
}

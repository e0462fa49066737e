//! The router and its handlers. A handler checks the caller's token and the input, then hands the
//! work to the shard that owns the episode and waits for its answer (which comes only after the
//! change is committed to the store).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dxsim_gatekeeper::Catalogue;
use dxsim_gatekeeper::case::{Difficulty, Split};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::api_doc;
use super::config::{Access, OPEN_MODE_OWNER};
use super::error::{ApiError, ApiJson, JsonBody};
use super::shard::{Command, Counts, Mode, Owner, Reply, StepAnswer, StepEntry};
use super::{AppState, shard_of};
use crate::action::{Action, parse_text};
use crate::episode::{EpisodeOptions, GatekeeperBackend, PatientBackend};
use crate::store::VectorSpec;

/// How long a handler waits for a shard before giving up.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(60);

type AppStateRef = Arc<AppState>;

/// The router over `state`.
pub(super) fn router(state: AppStateRef) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/schemas/{name}", get(schema))
        .route("/v1/cases", get(cases))
        .route("/v1/catalogue", get(catalogue))
        .route("/v1/discrete", get(discrete))
        .route("/v1/episodes", post(create_episode).get(list_episodes))
        .route("/v1/episodes/step", post(step_batch))
        .route(
            "/v1/episodes/{id}",
            get(episode_state).delete(close_episode),
        )
        .route("/v1/episodes/{id}/transcript", get(transcript))
        .route("/v1/episodes/{id}/step", post(step_one))
        .route("/v1/episodes/{id}/reset", post(reset_episode))
        .route("/v1/vector-envs", post(create_vector))
        .route("/v1/vector-envs/{id}", axum::routing::delete(close_vector))
        .route("/v1/vector-envs/{id}/step", post(step_vector))
        .route(
            "/v1/vector-envs/{id}/observations",
            get(vector_observations),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The caller, from the bearer token (or the one local user in open mode).
pub(super) struct Caller(Owner);

impl FromRequestParts<AppStateRef> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppStateRef,
    ) -> Result<Caller, ApiError> {
        authenticate(&parts.headers, state).map(Caller)
    }
}

/// The owner a request speaks for: its bearer token's (the scheme in any case, RFC 7235), or the
/// one local user in open mode.
fn authenticate(headers: &axum::http::HeaderMap, state: &AppState) -> Result<Owner, ApiError> {
    let tokens = match &state.access {
        Access::Open => return Ok(Arc::from(OPEN_MODE_OWNER)),
        Access::Tokens(tokens) => tokens,
    };
    let unauthorized = |message: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            message.to_string(),
        )
    };
    let header = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("send `Authorization: Bearer TOKEN`"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
    tokens
        .get(token)
        .map(Arc::clone)
        .ok_or_else(|| unauthorized("the token is not known to this server"))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see GET /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see GET /v1/openapi.json",
    )
}

/// Sends a command to a shard and waits for its answer.
async fn ask<T>(
    state: &AppState,
    shard: usize,
    command: impl FnOnce(oneshot::Sender<T>) -> Command,
) -> Result<T, ApiError> {
    let (sender, receiver) = oneshot::channel();
    state.shards[shard]
        .send(command(sender))
        .map_err(|_| ApiError::internal("an engine shard has stopped"))?;
    match tokio::time::timeout(ENGINE_TIMEOUT, receiver).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(ApiError::internal("an engine shard dropped a request")),
        Err(_) => Err(ApiError::internal("an engine shard did not answer in time")),
    }
}

fn shard_for(state: &AppState, id: &str) -> usize {
    shard_of(id, state.shards.len())
}

/// Reserves `count` live episodes for `owner`, or says which limit is reached.
fn reserve(state: &AppState, owner: &Owner, count: usize) -> Result<(), ApiError> {
    let mut counts = Counts::lock(&state.counts);
    let held = counts.per_owner.get(owner).copied().unwrap_or(0);
    if held + count > state.limits.max_episodes_per_token {
        return Err(ApiError::too_many(format!(
            "this token holds {held} live episodes and may hold {}; close some (DELETE) first",
            state.limits.max_episodes_per_token
        )));
    }
    if counts.total + count > state.limits.max_episodes {
        return Err(ApiError::too_many(format!(
            "the server holds {} live episodes, its limit is {}; try again later",
            counts.total, state.limits.max_episodes
        )));
    }
    counts.take(owner, count);
    Ok(())
}

/// Sends a command that creates `count` live episodes for `owner`, holding their places under the
/// limits while it runs. The places are given back here if the shard cannot be reached; when the
/// engine refuses the creation, the shard gives them back itself.
async fn ask_reserved(
    state: &AppState,
    owner: &Owner,
    count: usize,
    shard: usize,
    command: impl FnOnce(Reply) -> Command,
) -> Result<JsonBody, ApiError> {
    reserve(state, owner, count)?;
    match ask(state, shard, command).await {
        Ok(answer) => answer,
        Err(error) => {
            Counts::lock(&state.counts).release(owner, count);
            Err(error)
        }
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    cases: usize,
    /// The libraries served: an episode picks one with `options.case.library`.
    libraries: Vec<crate::library::LibrarySummary>,
    /// Live episodes server-wide; only for a caller with a valid token (or under `--open`).
    #[serde(skip_serializing_if = "Option::is_none")]
    live_episodes: Option<usize>,
}

async fn health(
    State(state): State<AppStateRef>,
    headers: axum::http::HeaderMap,
) -> Result<JsonBody, ApiError> {
    // How busy the server is is for its users, not for anyone who can reach the port.
    let live = authenticate(&headers, &state)
        .is_ok()
        .then(|| Counts::lock(&state.counts).total);
    JsonBody::ok(&Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        cases: state.library.cases().len(),
        libraries: state.library.summaries(),
        live_episodes: live,
    })
}

async fn openapi(State(state): State<AppStateRef>) -> Response {
    let served = || api_doc::Served {
        open: matches!(state.access, Access::Open),
        specialties: state.library.specialties(),
        libraries: state
            .library
            .libraries()
            .iter()
            .map(|info| info.name.clone())
            .collect(),
        max_vector_count: state.limits.max_vector_count,
        max_action_chars: state.limits.max_action_chars,
        action_count: state.table.action_count(),
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        api_doc::openapi_json(served),
    )
        .into_response()
}

async fn schema(Path(name): Path<String>) -> Result<Response, ApiError> {
    let schema = api_doc::schema_json(&name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no schema `{name}`; there are: {}",
            api_doc::SCHEMA_NAMES.join(", ")
        ))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], schema).into_response())
}

/// Filters for the case list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaseQuery {
    split: Option<Split>,
    specialty: Option<String>,
    difficulty: Option<Difficulty>,
}

async fn cases(
    State(state): State<AppStateRef>,
    _caller: Caller,
    query: Result<Query<CaseQuery>, QueryRejection>,
) -> Result<JsonBody, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let filtered = query.split.is_some() || query.specialty.is_some() || query.difficulty.is_some();
    if filtered && !state.case_details {
        return Err(ApiError::bad_request(
            "this server does not filter cases by split, specialty or difficulty: those are the \
authors' fields, hidden from agents (start it with --case-details for an operator's view); choose \
cases by them in the reset options instead",
        ));
    }
    let cases: Vec<serde_json::Value> = state
        .library
        .cases()
        .iter()
        .filter(|case| query.split.is_none_or(|split| Split::of(&case.id) == split))
        .filter(|case| {
            query
                .specialty
                .as_ref()
                .is_none_or(|specialty| &case.specialty == specialty)
        })
        .filter(|case| {
            query
                .difficulty
                .is_none_or(|difficulty| case.difficulty == difficulty)
        })
        .map(|case| {
            let mut shown = serde_json::to_value(case.public()).unwrap_or_default();
            // Which library holds a case is the operator's grouping (a library may be named for a
            // specialty), so agents see it only through the reset option that chooses one.
            if let (true, Some(fields)) = (state.case_details, shown.as_object_mut()) {
                if let Some(library) = state.library.library_of(&case.id) {
                    fields.insert("library".into(), library.into());
                }
                fields.insert("id".into(), case.id.clone().into());
                fields.insert("title".into(), case.title.clone().into());
                fields.insert("specialty".into(), case.specialty.clone().into());
                fields.insert("difficulty".into(), case.difficulty.as_str().into());
                fields.insert("split".into(), Split::of(&case.id).as_str().into());
            }
            shown
        })
        .collect();
    JsonBody::ok(&serde_json::json!({ "cases": cases }))
}

async fn catalogue(_caller: Caller) -> Result<JsonBody, ApiError> {
    let catalogue = Catalogue::builtin();
    let tests: Vec<_> = catalogue
        .tests()
        .iter()
        .map(|test| {
            serde_json::json!({
                "id": test.id,
                "name": test.name,
                "category": test.category.as_str(),
                "price_usd": test.price.dollars(),
                "synonyms": test.synonyms,
            })
        })
        .collect();
    let systems: Vec<_> = catalogue
        .systems()
        .iter()
        .map(|system| serde_json::json!({"id": system.id, "name": system.name}))
        .collect();
    JsonBody::ok(&serde_json::json!({"tests": tests, "exam_systems": systems}))
}

async fn discrete(State(state): State<AppStateRef>, _caller: Caller) -> Result<JsonBody, ApiError> {
    let table = state.table;
    let labels: Vec<String> = (0..table.action_count())
        .filter_map(|index| table.label(index))
        .collect();
    let blocks = table.blocks();
    JsonBody::ok(&serde_json::json!({
        "version": table.version(),
        "action_count": table.action_count(),
        "observation_len": table.observation_len(),
        "actions": labels,
        "blocks": {"ask": blocks[0], "examine": blocks[1], "order": blocks[2], "diagnose": blocks[3]},
    }))
}

/// Create or reset an episode.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ResetRequest {
    /// The episode seed; a random one when absent (the answer says which).
    seed: Option<u64>,
    /// Episode options.
    options: EpisodeOptions,
    /// `text` (default) or `discrete` (also returns the numeric observation).
    mode: Option<Mode>,
}

/// Checks options the server can honour: it has no language model, so an LLM patient is refused.
fn served(options: EpisodeOptions) -> Result<EpisodeOptions, ApiError> {
    if options.patient_backend == PatientBackend::Llm {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_options",
            "option `patient_backend` is llm: this server has no language model; use rule_based",
        ));
    }
    if options.gatekeeper_backend == GatekeeperBackend::Llm {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_options",
            "option `gatekeeper_backend` is llm: this server has no language model; use rule_based",
        ));
    }
    Ok(options)
}

async fn create_episode(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<JsonBody, ApiError> {
    let options = served(request.options)?;
    let id = new_id("ep");
    let seed = request.seed.unwrap_or_else(rand::random);
    let shard = shard_for(&state, &id);
    ask_reserved(&state, &owner, 1, shard, |reply| Command::Create {
        owner: Arc::clone(&owner),
        id,
        seed,
        options,
        mode: request.mode.unwrap_or_default(),
        reply,
    })
    .await
}

async fn reset_episode(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<JsonBody, ApiError> {
    let options = served(request.options)?;
    let seed = request.seed.unwrap_or_else(rand::random);
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::Reset {
        owner,
        id,
        seed,
        options,
        mode: request.mode,
        reply,
    })
    .await?
}

/// One action, given in exactly one of three forms.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(extend("oneOf" = [
    {"required": ["action"], "properties": {"action": {"not": {"enum": [null]}}}},
    {"required": ["text"], "properties": {"text": {"not": {"enum": [null]}}}},
    {"required": ["index"], "properties": {"index": {"not": {"enum": [null]}}}},
]))]
pub(super) struct StepRequest {
    /// A structured action.
    action: Option<Action>,
    /// The text protocol: SDBench tags or AgentClinic lines.
    text: Option<String>,
    /// A discrete action-table index.
    index: Option<usize>,
}

/// One entry of a batch step: the episode and one action, in exactly one of three forms.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["action"], "properties": {"action": {"not": {"enum": [null]}}}},
    {"required": ["text"], "properties": {"text": {"not": {"enum": [null]}}}},
    {"required": ["index"], "properties": {"index": {"not": {"enum": [null]}}}},
]))]
pub(super) struct BatchEntry {
    /// The episode.
    episode_id: String,
    /// A structured action.
    #[serde(default)]
    action: Option<Action>,
    /// The text protocol.
    #[serde(default)]
    text: Option<String>,
    /// A discrete action-table index.
    #[serde(default)]
    index: Option<usize>,
}

/// Many steps in one request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchRequest {
    /// One entry per episode.
    steps: Vec<BatchEntry>,
}

/// The action a request gives, checked against the limits.
fn action_of(
    state: &AppState,
    action: Option<Action>,
    text: Option<String>,
    index: Option<usize>,
) -> Result<Action, ApiError> {
    let limit = state.limits.max_action_chars;
    let too_long = |chars: usize| {
        ApiError::invalid_action(format!(
            "the action is {chars} characters long; the limit is {limit}"
        ))
    };
    match (action, text, index) {
        (Some(action), None, None) => {
            let chars = action.text_chars();
            if chars > limit {
                return Err(too_long(chars));
            }
            Ok(action)
        }
        (None, Some(text), None) => {
            let chars = text.chars().count();
            if chars > limit {
                return Err(too_long(chars));
            }
            parse_text(&text).map_err(|error| ApiError::invalid_action(error.to_string()))
        }
        (None, None, Some(index)) => state.table.checked_action(index).map_err(ApiError::from),
        _ => Err(ApiError::invalid_action(
            "give exactly one of `action` (structured), `text` (text protocol) or `index` (discrete)",
        )),
    }
}

async fn step_one(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StepRequest>,
) -> Result<Response, ApiError> {
    let action = action_of(&state, request.action, request.text, request.index)?;
    let shard = shard_for(&state, &id);
    let answers = ask(&state, shard, |reply| Command::Step {
        owner,
        entries: vec![(0, id, action)],
        reply,
    })
    .await?;
    let body = answers
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("a shard answered a step with nothing"))?
        .1?;
    Ok(JsonBody {
        status: StatusCode::OK,
        body,
    }
    .into_response())
}

async fn step_batch(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Response, ApiError> {
    // An entry that does not give exactly one action form breaks the request's shape (the
    // document says so): the whole batch is refused. What goes wrong inside a well-formed entry
    // (an unknown episode, an action the episode refuses) is answered per entry.
    if let Some(position) = request.steps.iter().position(|entry| {
        usize::from(entry.action.is_some())
            + usize::from(entry.text.is_some())
            + usize::from(entry.index.is_some())
            != 1
    }) {
        return Err(ApiError::invalid_request(format!(
            "steps[{position}] must give exactly one of `action`, `text` or `index`"
        )));
    }
    let actions = state.table.action_count();
    if let Some(position) = request
        .steps
        .iter()
        .position(|entry| entry.index.is_some_and(|index| index >= actions))
    {
        return Err(ApiError::invalid_request(format!(
            "steps[{position}].index is past the discrete table's {actions} actions"
        )));
    }
    let count = request.steps.len();
    let mut answers: Vec<Option<Result<Vec<u8>, ApiError>>> = vec![None; count];
    let mut ids = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    let mut per_shard: HashMap<usize, Vec<StepEntry>> = HashMap::new();
    for (position, entry) in request.steps.into_iter().enumerate() {
        ids.push(entry.episode_id.clone());
        if !seen.insert(entry.episode_id.clone()) {
            answers[position] = Some(Err(ApiError::from(
                crate::episode::EnvError::DuplicateInBatch,
            )));
            continue;
        }
        match action_of(&state, entry.action, entry.text, entry.index) {
            Ok(action) => per_shard
                .entry(shard_for(&state, &entry.episode_id))
                .or_default()
                .push((position, entry.episode_id, action)),
            Err(error) => answers[position] = Some(Err(error)),
        }
    }
    // Send to every shard first, then wait, so the shards work at the same time.
    let mut waiting = Vec::with_capacity(per_shard.len());
    for (shard, entries) in per_shard {
        let (reply, receiver) = oneshot::channel();
        state.shards[shard]
            .send(Command::Step {
                owner: Arc::clone(&owner),
                entries,
                reply,
            })
            .map_err(|_| ApiError::internal("an engine shard has stopped"))?;
        waiting.push(receiver);
    }
    for receiver in waiting {
        let shard_answers: Vec<StepAnswer> =
            match tokio::time::timeout(ENGINE_TIMEOUT, receiver).await {
                Ok(Ok(answers)) => answers,
                Ok(Err(_)) => return Err(ApiError::internal("an engine shard dropped a request")),
                Err(_) => return Err(ApiError::internal("an engine shard did not answer in time")),
            };
        for (position, answer) in shard_answers {
            answers[position] = Some(answer);
        }
    }
    let mut body = Vec::with_capacity(count * 1024);
    body.extend_from_slice(b"{\"results\":[");
    for (position, (answer, id)) in answers.into_iter().zip(&ids).enumerate() {
        if position > 0 {
            body.push(b',');
        }
        match answer {
            Some(Ok(step)) => body.extend_from_slice(&step),
            Some(Err(error)) => body.extend_from_slice(&entry_error(id, &error)),
            None => body.extend_from_slice(&entry_error(
                id,
                &ApiError::internal("a batch entry got no answer"),
            )),
        }
    }
    body.extend_from_slice(b"]}");
    Ok(JsonBody {
        status: StatusCode::OK,
        body,
    }
    .into_response())
}

fn entry_error(id: &str, error: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "episode_id": id,
        "error": {"code": error.code, "message": error.message},
    }))
    .unwrap_or_default()
}

async fn episode_state(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::State { owner, id, reply }).await?
}

async fn transcript(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::Transcript {
        owner,
        id,
        reply,
    })
    .await?
}

async fn close_episode(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::Close { owner, id, reply }).await?
}

async fn list_episodes(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
) -> Result<JsonBody, ApiError> {
    let mut episodes = Vec::new();
    for shard in 0..state.shards.len() {
        let owner = Arc::clone(&owner);
        episodes.extend(ask(&state, shard, |reply| Command::List { owner, reply }).await?);
    }
    episodes.sort_by(|a, b| a.episode_id.cmp(&b.episode_id));
    JsonBody::ok(&serde_json::json!({ "episodes": episodes }))
}

/// Create a vector environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VectorRequest {
    /// Number of episodes (1 to the server's `--max-vector-count`, 16,384 by default).
    #[schemars(range(min = 1))]
    count: usize,
    /// Episode `i` starts on `seed + i`; random when absent.
    #[serde(default)]
    seed: Option<u64>,
    /// Options shared by every episode (no patient bias: the discrete fast path does not model it).
    #[serde(default)]
    options: EpisodeOptions,
}

async fn create_vector(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    ApiJson(request): ApiJson<VectorRequest>,
) -> Result<JsonBody, ApiError> {
    if request.count == 0 || request.count > state.limits.max_vector_count {
        return Err(ApiError::invalid_request(format!(
            "count is {}; it must be between 1 and {}",
            request.count, state.limits.max_vector_count
        )));
    }
    let id = new_id("vec");
    let spec = VectorSpec {
        count: request.count,
        seed: request.seed.unwrap_or_else(rand::random),
        options: served(request.options)?,
    };
    // The case tables are learnt here, off the engine shard, so that no other episode waits;
    // options that would be refused are refused first.
    spec.options
        .validate()
        .map_err(|error| ApiError::from(crate::episode::EnvError::from(error)))?;
    let preparer = Arc::clone(&state);
    let selector = spec.options.case.clone();
    tokio::task::spawn_blocking(move || preparer.prepare_tables(&selector))
        .await
        .map_err(|error| ApiError::internal(format_args!("preparing the case tables: {error}")))?
        .map_err(ApiError::from)?;
    let shard = shard_for(&state, &id);
    ask_reserved(&state, &owner, request.count, shard, |reply| {
        Command::VectorCreate {
            owner: Arc::clone(&owner),
            id,
            spec,
            reply,
        }
    })
    .await
}

/// Step a vector environment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VectorStepRequest {
    /// One discrete action index per episode.
    actions: Vec<usize>,
}

async fn step_vector(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<VectorStepRequest>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::VectorStep {
        owner,
        id,
        actions: request.actions,
        reply,
    })
    .await?
}

async fn vector_observations(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::VectorObservations {
        owner,
        id,
        reply,
    })
    .await?
}

async fn close_vector(
    State(state): State<AppStateRef>,
    Caller(owner): Caller,
    Path(id): Path<String>,
) -> Result<JsonBody, ApiError> {
    let shard = shard_for(&state, &id);
    ask(&state, shard, |reply| Command::VectorClose {
        owner,
        id,
        reply,
    })
    .await?
}

//! The API's machine-readable description: JSON Schemas of the wire types (generated from the Rust
//! types with schemars, so they cannot drift from the code) and an OpenAPI 3.1 document whose paths
//! are listed here and whose components are those schemas.

use std::sync::OnceLock;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

use super::routes::{BatchRequest, ResetRequest, StepRequest, VectorRequest, VectorStepRequest};
use crate::action::Action;
use crate::episode::{EpisodeOptions, Observation, Step};
use crate::patient::bias::BiasKind;

/// The schemas served at `/v1/schemas/{name}`.
pub(super) const SCHEMA_NAMES: [&str; 4] = ["action", "options", "observation", "step"];

fn schema_of<T: JsonSchema>() -> Schema {
    schemars::schema_for!(T)
}

/// The schema called `name`, as JSON bytes.
pub(super) fn schema_json(name: &str) -> Option<Vec<u8>> {
    let schema = match name {
        "action" => schema_of::<Action>(),
        "options" => schema_of::<EpisodeOptions>(),
        "observation" => schema_of::<Observation>(),
        "step" => schema_of::<Step>(),
        _ => return None,
    };
    serde_json::to_vec_pretty(&schema).ok()
}

/// What the served document states about this server: its access mode and its limits.
#[derive(Debug)]
pub(super) struct Served {
    /// `--open`: no operation asks for a token.
    pub(super) open: bool,
    /// The specialties of the library's cases, the values a case selection may name.
    pub(super) specialties: Vec<String>,
    /// The names of the libraries served, the values `options.case.library` may name.
    pub(super) libraries: Vec<String>,
    /// The largest vector env (`--max-vector-count`).
    pub(super) max_vector_count: usize,
    /// The longest action text (`--max-action-chars`).
    pub(super) max_action_chars: usize,
    /// The size of the discrete action table.
    pub(super) action_count: usize,
}

/// The OpenAPI document for this server, built once from what `served` describes (a process serves
/// one configuration).
pub(super) fn openapi_json(served: impl FnOnce() -> Served) -> Vec<u8> {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let served = served();
            let mut document = openapi();
            state_limits(&mut document["components"]["schemas"], &served);
            if served.open {
                document["security"] = json!([]);
                strip_unauthorized(&mut document["paths"]);
            }
            serde_json::to_vec_pretty(&document).unwrap_or_default()
        })
        .clone()
}

/// Writes the limits the server enforces into the request schemas, so a client generated from the
/// document (or a fuzzer) stays inside them.
fn state_limits(schemas: &mut Value, served: &Served) {
    let last_action = served.action_count.saturating_sub(1);
    schemas["VectorRequest"]["properties"]["count"]["maximum"] = json!(served.max_vector_count);
    schemas["VectorStepRequest"]["properties"]["actions"]["items"]["maximum"] = json!(last_action);
    for request in ["StepRequest", "BatchEntry"] {
        let properties = &mut schemas[request]["properties"];
        properties["index"]["maximum"] = json!(last_action);
        properties["text"]["maxLength"] = json!(served.max_action_chars);
        // An empty message says nothing: the server refuses it.
        properties["text"]["pattern"] = json!("\\S");
    }
    schemas["EpisodeOptions"]["properties"]["budget_cap_usd"]["exclusiveMinimum"] = json!(0);
    let mut specialties: Vec<Value> = served.specialties.iter().map(|name| json!(name)).collect();
    specialties.push(Value::Null);
    schemas["CaseSelector"]["properties"]["specialty"]["enum"] = Value::Array(specialties);
    let mut libraries: Vec<Value> = served.libraries.iter().map(|name| json!(name)).collect();
    libraries.push(Value::Null);
    schemas["CaseSelector"]["properties"]["library"]["enum"] = Value::Array(libraries);
    for request in ["ResetRequest", "VectorRequest"] {
        schemas[request]["properties"]["seed"]["maximum"] = json!(u64::MAX);
    }
}

/// Removes the 401 answer from every operation (a server in open mode never gives it).
fn strip_unauthorized(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for operations in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in operations.values_mut() {
            if let Some(responses) = operation["responses"].as_object_mut() {
                responses.remove("401");
            }
        }
    }
}

/// A reference to a component schema.
fn component(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_body(schema: &Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn answer(description: &str, schema: &Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// The standard error answers of an operation.
fn errors(statuses: &[u16]) -> serde_json::Map<String, Value> {
    statuses
        .iter()
        .map(|status| {
            let description = match status {
                400 => "the body is not JSON, or a parameter is malformed",
                401 => "no token, or an unknown one",
                404 => "no such episode or vector env for this token",
                409 => "the episode is over; reset it",
                413 => "the body is too large",
                422 => "the request is well-formed but invalid",
                429 => "a live-episode limit is reached",
                _ => "error",
            };
            (status.to_string(), answer(description, &component("Error")))
        })
        .collect()
}

fn operation(summary: &str, body: Option<Value>, ok: &str, error_statuses: &[u16]) -> Value {
    let mut responses = errors(error_statuses);
    responses.insert("200".into(), answer(ok, &json!({ "type": "object" })));
    let mut operation = json!({ "summary": summary, "responses": responses });
    if let Some(body) = body {
        operation["requestBody"] = json_body(&body);
    }
    operation
}

fn id_parameter() -> Value {
    json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }])
}

/// The whole document.
fn openapi() -> Value {
    let mut generator = SchemaGenerator::new(schemars::generate::SchemaSettings::openapi3());
    let mut schemas = serde_json::Map::new();
    let mut add = |name: &str, schema: Schema| {
        schemas.insert(name.to_string(), schema.to_value());
    };
    add("Action", generator.subschema_for::<Action>());
    add(
        "EpisodeOptions",
        generator.subschema_for::<EpisodeOptions>(),
    );
    add("Observation", generator.subschema_for::<Observation>());
    add("Step", generator.subschema_for::<Step>());
    add("ResetRequest", generator.subschema_for::<ResetRequest>());
    add("StepRequest", generator.subschema_for::<StepRequest>());
    add("BatchRequest", generator.subschema_for::<BatchRequest>());
    add("VectorRequest", generator.subschema_for::<VectorRequest>());
    add(
        "VectorStepRequest",
        generator.subschema_for::<VectorStepRequest>(),
    );
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    // An implicit bias needs the group it reacts to; a cognitive one takes none.
    let cognitive: Vec<Value> = BiasKind::ALL
        .iter()
        .filter(|kind| kind.is_cognitive())
        .filter_map(|kind| serde_json::to_value(kind).ok())
        .collect();
    if let Some(bias) = schemas.get_mut("BiasSpec") {
        bias["oneOf"] = json!([
            { "properties": { "kind": { "enum": cognitive }, "target": { "enum": [null] } } },
            {
                "required": ["target"],
                "properties": {
                    "kind": { "not": { "enum": cognitive } },
                    "target": { "type": "string", "pattern": "\\S" }
                }
            }
        ]);
    }
    // The server has no language model: it refuses the `llm` backends, so its document omits them.
    for backend in ["PatientBackend", "GatekeeperBackend"] {
        if let Some(Value::Array(forms)) = schemas
            .get_mut(backend)
            .and_then(|schema| schema.get_mut("oneOf"))
        {
            forms.retain(|form| form["enum"] != json!(["llm"]));
        }
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["error"],
            "properties": { "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } }
            } }
        }),
    );
    let object = json!({ "type": "object" });
    let step = answer("the step", &component("Step"));

    let mut create = operation(
        "Create and reset an episode",
        Some(component("ResetRequest")),
        "the new episode's presentation",
        &[400, 401, 404, 413, 422, 429],
    );
    // An empty body is `{}`: every field of a reset has a default.
    create["requestBody"]["required"] = json!(false);
    create["responses"]["201"] = create["responses"]["200"].take();
    if let Some(responses) = create["responses"].as_object_mut() {
        responses.remove("200");
    }
    let mut step_one = operation(
        "Take one action",
        Some(component("StepRequest")),
        "the step",
        &[400, 401, 404, 409, 413, 422],
    );
    step_one["parameters"] = id_parameter();
    step_one["responses"]["200"] = step;
    let mut reset = operation(
        "Start a new episode in the same slot",
        Some(component("ResetRequest")),
        "the presentation",
        &[400, 401, 404, 413, 422],
    );
    reset["parameters"] = id_parameter();
    reset["requestBody"]["required"] = json!(false);
    let mut state = operation("An episode's state", None, "the state", &[401, 404]);
    state["parameters"] = id_parameter();
    let mut close = json!({ "summary": "Close an episode", "parameters": id_parameter(),
        "responses": { "204": { "description": "closed" } } });
    if let Some(responses) = close["responses"].as_object_mut() {
        responses.extend(errors(&[401, 404]));
    }
    let mut transcript = operation(
        "An episode's transcript",
        None,
        "the transcript",
        &[401, 404],
    );
    transcript["parameters"] = id_parameter();
    let mut vector_step = operation(
        "Step a vector env",
        Some(component("VectorStepRequest")),
        "rewards, flags and observation changes",
        &[400, 401, 404, 413, 422],
    );
    vector_step["parameters"] = id_parameter();
    let mut vector_observations = operation(
        "A vector env's observation matrix",
        None,
        "the observations",
        &[401, 404],
    );
    vector_observations["parameters"] = id_parameter();
    let mut vector_close = close.clone();
    vector_close["summary"] = json!("Close a vector env");
    let mut vector_create = operation(
        "Create a vector env (discrete mode)",
        Some(component("VectorRequest")),
        "the vector env",
        &[400, 401, 404, 413, 422, 429],
    );
    vector_create["responses"]["201"] = vector_create["responses"]["200"].take();
    if let Some(responses) = vector_create["responses"].as_object_mut() {
        responses.remove("200");
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "dxsim step API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Sequential-diagnosis episodes over HTTP: create, step (one or a batch), read, close. Errors are {error: {code, message}}."
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/v1/health": { "get": {
                "summary": "Liveness and the library size (no token needed); the live-episode count only for a caller with a valid token, or under --open", "security": [],
                "responses": { "200": answer("ok", &object) } } },
            "/v1/openapi.json": { "get": { "summary": "This document", "security": [],
                "responses": { "200": answer("the document", &object) } } },
            "/v1/schemas/{name}": { "get": { "summary": "A JSON Schema: action, options, observation or step",
                "security": [],
                "parameters": [{ "name": "name", "in": "path", "required": true, "schema": { "type": "string", "enum": SCHEMA_NAMES } }],
                "responses": { "200": answer("the schema", &object), "404": answer("no such schema", &component("Error")) } } },
            "/v1/cases": { "get": operation("The case library: opaque handles and presentations (filters and the authors fields need --case-details)", None, "the cases", &[400, 401]) },
            "/v1/catalogue": { "get": operation("Orderable tests with prices, and exam systems", None, "the catalogue", &[401]) },
            "/v1/discrete": { "get": operation("The discrete action table", None, "the table", &[401]) },
            "/v1/episodes": {
                "post": create,
                "get": operation("The caller's live episodes", None, "the episodes", &[401]),
            },
            "/v1/episodes/step": { "post": operation("Step many episodes in one request", Some(component("BatchRequest")), "one result per entry, in order", &[400, 401, 413, 422]) },
            "/v1/episodes/{id}": { "get": state, "delete": close },
            "/v1/episodes/{id}/transcript": { "get": transcript },
            "/v1/episodes/{id}/step": { "post": step_one },
            "/v1/episodes/{id}/reset": { "post": reset },
            "/v1/vector-envs": { "post": vector_create },
            "/v1/vector-envs/{id}": { "delete": vector_close },
            "/v1/vector-envs/{id}/step": { "post": vector_step },
            "/v1/vector-envs/{id}/observations": { "get": vector_observations },
        }
    })
}

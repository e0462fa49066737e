//! The one shape rule serde does not enforce: an object where the served document says object.
//!
//! serde's derived `Deserialize` reads a struct from a JSON array of its fields in order, so
//! `"doctor": [null, null]` would be taken for `"doctor": {"backend": null, "model": null}`. The
//! document promises objects, and a client sending an array has made a mistake it should hear about.
//! [`BodyShape`] walks a request body against its type's JSON Schema (the same schemars schema the
//! document is built from) and refuses an array wherever the schema allows only an object, naming
//! the field. Everything else about a body is left to serde.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use schemars::JsonSchema;
use serde_json::{Map, Value};

/// A request type's schema, kept for checking bodies.
#[derive(Debug)]
pub(crate) struct BodyShape {
    /// The type's JSON Schema (draft 2020-12, definitions under `$defs`).
    schema: Value,
    /// Whether an object is expected below the top level: only then must a body be read as a
    /// [`Value`] and walked; otherwise its first character settles it.
    nested_objects: bool,
}

/// Where a body has an array in place of an object, as a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError(pub(crate) String);

impl BodyShape {
    /// The shape of `T`, built once per process.
    pub(crate) fn of<T: JsonSchema + 'static>() -> &'static BodyShape {
        static SHAPES: OnceLock<RwLock<HashMap<TypeId, &'static BodyShape>>> = OnceLock::new();
        let shapes = SHAPES.get_or_init(Default::default);
        let key = TypeId::of::<T>();
        if let Some(shape) = shapes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return shape;
        }
        let mut shapes = shapes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        shapes.entry(key).or_insert_with(|| {
            Box::leak(Box::new(BodyShape::new(
                schemars::schema_for!(T).to_value(),
            )))
        })
    }

    /// The shape described by `schema`.
    fn new(schema: Value) -> BodyShape {
        let mut shape = BodyShape {
            schema,
            nested_objects: false,
        };
        let mut seen = Vec::new();
        let nested_objects = shape
            .schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|properties| {
                properties
                    .values()
                    .any(|property| shape.allows_object_within(property, &mut seen))
            });
        shape.nested_objects = nested_objects;
        shape
    }

    /// Whether `body` must be walked as a whole ([`BodyShape::check`]) rather than by its first
    /// character ([`BodyShape::check_top`]): only when the type has objects below the top level
    /// and the body has an array somewhere. A single step's body usually has none, so the hot
    /// path keeps serde's direct read.
    pub(crate) fn needs_walk(&self, body: &[u8]) -> bool {
        self.nested_objects && body.contains(&b'[')
    }

    /// Checks the top level of the raw body: an array where the type is an object is refused.
    pub(crate) fn check_top(&self, body: &[u8]) -> Result<(), ShapeError> {
        let first = body.iter().find(|byte| !byte.is_ascii_whitespace());
        if first == Some(&b'[') && only_object(self.schema.as_object()) {
            return Err(array_for_object(""));
        }
        Ok(())
    }

    /// Checks a whole body: no array where the schema allows only an object.
    pub(crate) fn check(&self, body: &Value) -> Result<(), ShapeError> {
        self.check_node(&self.schema, body, "")
    }

    fn check_node(&self, schema: &Value, value: &Value, path: &str) -> Result<(), ShapeError> {
        let Some(schema) = schema.as_object() else {
            return Ok(());
        };
        if let Some(target) = self.referenced(schema) {
            self.check_node(target, value, path)?;
        }
        for branch in list(schema, "allOf") {
            self.check_node(branch, value, path)?;
        }
        for key in ["anyOf", "oneOf"] {
            let branches = list(schema, key);
            if branches.is_empty() {
                continue;
            }
            // The branches that take a value of this JSON type decide; when none does, serde
            // reports the mismatch, unless the value is an array where only objects are allowed.
            let mut first_error = None;
            let mut fits = false;
            for branch in branches
                .iter()
                .filter(|branch| self.takes_kind(branch, value))
            {
                match self.check_node(branch, value, path) {
                    Ok(()) => fits = true,
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            if fits {
                continue;
            }
            if let Some(error) = first_error {
                return Err(error);
            }
            if value.is_array()
                && branches
                    .iter()
                    .any(|branch| self.takes_only_objects(branch))
            {
                return Err(array_for_object(path));
            }
        }
        match value {
            Value::Array(items) => {
                if only_object(Some(schema)) {
                    return Err(array_for_object(path));
                }
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check_node(item_schema, item, &format!("{path}[{index}]"))?;
                    }
                }
            }
            Value::Object(fields) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                for (name, field) in fields {
                    let field_schema = properties
                        .and_then(|properties| properties.get(name))
                        .or_else(|| schema.get("additionalProperties"));
                    if let Some(field_schema) = field_schema {
                        let field_path = if path.is_empty() {
                            name.clone()
                        } else {
                            format!("{path}.{name}")
                        };
                        self.check_node(field_schema, field, &field_path)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `schema` (through its `$ref`) admits a value of `value`'s JSON type; a schema that
    /// names no type admits any.
    fn takes_kind(&self, schema: &Value, value: &Value) -> bool {
        let Some(object) = schema.as_object() else {
            return true;
        };
        let object = self
            .referenced(object)
            .and_then(Value::as_object)
            .unwrap_or(object);
        let types = types(object);
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        types.is_empty()
            || types
                .iter()
                .any(|name| *name == kind || (kind == "number" && *name == "integer"))
    }

    /// Whether `schema` (through its `$ref`) allows objects and not arrays.
    fn takes_only_objects(&self, schema: &Value) -> bool {
        let object = schema.as_object();
        let object = object
            .and_then(|object| self.referenced(object))
            .and_then(Value::as_object)
            .or(object);
        only_object(object)
    }

    /// The definition a `$ref` names (`#/$defs/Name`), if the schema has one.
    fn referenced(&self, schema: &Map<String, Value>) -> Option<&Value> {
        let reference = schema.get("$ref")?.as_str()?;
        let name = reference.strip_prefix("#/$defs/")?;
        self.schema.get("$defs")?.get(name)
    }

    /// Whether `schema`, or anything it leads to, allows an object. `seen` holds the definitions
    /// already followed, so a recursive type ends.
    fn allows_object_within(&self, schema: &Value, seen: &mut Vec<String>) -> bool {
        let Some(object) = schema.as_object() else {
            return false;
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            if seen.iter().any(|name| name == reference) {
                return false;
            }
            seen.push(reference.to_string());
            if self
                .referenced(object)
                .is_some_and(|target| self.allows_object_within(target, seen))
            {
                return true;
            }
        }
        if types(object).contains(&"object") {
            return true;
        }
        ["allOf", "anyOf", "oneOf"]
            .into_iter()
            .flat_map(|key| list(object, key))
            .chain(object.get("items"))
            .chain(object.get("additionalProperties"))
            .chain(
                object
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|properties| properties.values()),
            )
            .any(|child| self.allows_object_within(child, seen))
    }
}

/// The message for an array where an object belongs, at `path` (empty: the whole body).
fn array_for_object(path: &str) -> ShapeError {
    if path.is_empty() {
        ShapeError("the body must be a JSON object, not an array".to_string())
    } else {
        ShapeError(format!("`{path}` must be a JSON object, not an array"))
    }
}

/// The schemas under `key` (`allOf`, `anyOf`, `oneOf`).
fn list<'s>(schema: &'s Map<String, Value>, key: &str) -> &'s [Value] {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The JSON types a schema names (`"type": "object"` or `"type": ["object", "null"]`).
fn types(schema: &Map<String, Value>) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether a schema names `object` among its types and not `array`.
fn only_object(schema: Option<&Map<String, Value>>) -> bool {
    schema.is_some_and(|schema| {
        let types = types(schema);
        types.contains(&"object") && !types.contains(&"array")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        backend: Option<String>,
        model: Option<String>,
    }

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Outer {
        seed: Option<u64>,
        doctor: Option<Inner>,
        steps: Vec<Inner>,
    }

    #[derive(serde::Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Flat {
        actions: Vec<usize>,
    }

    #[test]
    fn an_array_in_place_of_a_nested_object_is_named() {
        let shape = BodyShape::of::<Outer>();
        assert!(shape.needs_walk(b"{\"steps\": []}"));
        assert!(!shape.needs_walk(b"{\"seed\": 3}"));
        let error = shape
            .check(&json!({"doctor": [null, null], "steps": []}))
            .expect_err("an array for the doctor");
        assert_eq!(error.0, "`doctor` must be a JSON object, not an array");
        let error = shape
            .check(&json!({"steps": [{"backend": "x"}, ["x", null]]}))
            .expect_err("an array for a step");
        assert_eq!(error.0, "`steps[1]` must be a JSON object, not an array");
        assert!(shape.check(&json!([1, null, []])).is_err());
    }

    #[test]
    fn objects_nulls_and_real_arrays_pass() {
        let shape = BodyShape::of::<Outer>();
        let body = json!({"seed": 3, "doctor": null, "steps": [{"backend": null}]});
        assert_eq!(shape.check(&body), Ok(()));
        assert_eq!(
            shape.check(&json!({"doctor": {"model": "m"}, "steps": []})),
            Ok(())
        );
    }

    #[test]
    fn a_type_without_nested_objects_is_checked_by_its_first_character() {
        let shape = BodyShape::of::<Flat>();
        assert!(!shape.needs_walk(b"{\"actions\": [1, 2]}"));
        assert_eq!(shape.check_top(b"  {\"actions\": [1, 2]}"), Ok(()));
        assert!(shape.check_top(b" [[1, 2]]").is_err());
    }
}

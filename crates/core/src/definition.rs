//! Reading a definition (a rule, channel or silence, sent as JSON or written in the
//! configuration file) into its typed, `deny_unknown_fields` struct, with an error that
//! names the offending field by its path (`condition.threshold`, `to[1]`, `colour`).
//!
//! This is the first of two stages: the struct says which fields exist and what type
//! each has; the validation that follows (`Rule::from_definition`, ...) checks what
//! needs the model or relates fields to each other.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::FieldError;

/// Reads `value`, which must be an object, as a `T`. (serde would read a struct from
/// an array too, field by field in order; a definition is an object.)
pub fn from_json<T: DeserializeOwned>(value: &Value) -> Result<T, FieldError> {
    if !value.is_object() {
        return Err(FieldError::new("body", "expected a JSON object"));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|error| field_error(error.path(), &error.inner().to_string()))
}

/// The field error for a deserialization error `message` at `path`. A missing field is
/// reported by serde at its parent; it is named itself here. An error at the root is
/// about the whole `body`.
pub fn field_error(path: &serde_path_to_error::Path, message: &str) -> FieldError {
    let path = match path.to_string() {
        root if root == "." => String::new(),
        path => path,
    };
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        let field = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "is required");
    }
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        path
    };
    FieldError::new(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<u8>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        threshold: f64,
    }

    fn error(value: Value) -> FieldError {
        from_json::<Outer>(&value).unwrap_err()
    }

    #[test]
    fn errors_name_the_field_path() {
        let unknown = error(json!({"name": "a", "colour": 1}));
        assert_eq!(unknown.field, "colour");
        assert!(
            unknown.message.contains("unknown field `colour`"),
            "{unknown}"
        );
        assert_eq!(
            error(json!({"name": "a", "inner": {"threshold": "x"}})).field,
            "inner.threshold"
        );
        assert_eq!(
            error(json!({"name": "a", "inner": {"threshold": 1, "k": 2}})).field,
            "inner.k"
        );
        assert_eq!(
            error(json!({"name": "a", "list": [1, -1]})).field,
            "list[1]"
        );
        assert_eq!(error(json!({})), FieldError::new("name", "is required"));
        assert_eq!(
            error(json!({"name": "a", "inner": {}})),
            FieldError::new("inner.threshold", "is required")
        );
        assert_eq!(error(json!([1])).field, "body");
    }
}

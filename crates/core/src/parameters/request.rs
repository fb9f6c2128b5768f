//! The body of `POST /api/v1/models/{model}/parameters` read into summarised tensors.
//! Each tensor sends either raw `values` (numbers, or Python's `NaN`, `Infinity` and
//! `-Infinity` tokens, counted as `nan` and `inf`), summarised here, or a `summary` a
//! client computed, checked for consistency. Every error names its field
//! (`tensors[3].values[17]`).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::summary::{TensorSummary, summarise};
use crate::FieldError;
use crate::event::{DEFAULT_VERSION, MAX_VERSION_LEN};
use crate::non_finite;
use crate::time::{json_type_name, parse_event_timestamp};

/// Most tensors in one request.
pub const MAX_TENSORS: usize = 10_000;
/// Longest tensor name, in bytes.
pub const MAX_TENSOR_NAME_LEN: usize = 256;
/// Largest step.
pub const MAX_STEP: i64 = 1 << 53;

/// One tensor of a request, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInput {
    /// Its name (`dense_1/kernel`).
    pub name: String,
    /// Its summary.
    pub summary: TensorSummary,
}

/// A request, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ParametersRequest {
    /// Model version (`default` when absent).
    pub version: String,
    /// Training step (epoch, iteration), at least 0.
    pub step: i64,
    /// When the tensors were taken (epoch ms; the arrival time when absent).
    pub timestamp_ms: i64,
    /// The tensors, in the order sent.
    pub tensors: Vec<TensorInput>,
}

fn string_field(value: &Value, field: &str, max: usize) -> Result<String, FieldError> {
    match value {
        Value::String(s) if s.is_empty() => Err(FieldError::new(field, "must not be empty")),
        Value::String(s) if s.len() > max => {
            Err(FieldError::new(field, format!("is at most {max} bytes")))
        }
        Value::String(s) if s.chars().any(char::is_control) => Err(FieldError::new(
            field,
            "must not contain control characters",
        )),
        Value::String(s) => Ok(s.clone()),
        other => Err(FieldError::new(
            field,
            format!("expected a string, got {}", json_type_name(other)),
        )),
    }
}

/// Reads `values` (a JSON array of numbers and non-finite tokens).
fn raw_values(value: &Value, field: &str) -> Result<Vec<f64>, FieldError> {
    let Value::Array(items) = value else {
        return Err(FieldError::new(
            field,
            format!(
                "expected an array of numbers, got {}",
                json_type_name(value)
            ),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match (item, non_finite::token(item)) {
            (_, Some("NaN")) => Ok(f64::NAN),
            (_, Some("Infinity")) => Ok(f64::INFINITY),
            (_, Some(_)) => Ok(f64::NEG_INFINITY),
            (Value::Number(n), None) => n.as_f64().ok_or_else(|| {
                FieldError::new(format!("{field}[{i}]"), "is not a representable number")
            }),
            (other, None) => Err(FieldError::new(
                format!("{field}[{i}]"),
                format!(
                    "expected a number (or NaN, Infinity, -Infinity), got {}",
                    json_type_name(other)
                ),
            )),
        })
        .collect()
}

fn tensor(value: &Value, field: &str) -> Result<TensorInput, FieldError> {
    let Value::Object(object) = value else {
        return Err(FieldError::new(
            field,
            format!("expected an object, got {}", json_type_name(value)),
        ));
    };
    for key in object.keys() {
        if !matches!(key.as_str(), "name" | "values" | "summary") {
            return Err(FieldError::new(
                format!("{field}.{key}"),
                "unknown field (expected name, and values or summary)",
            ));
        }
    }
    let name = match object.get("name") {
        None => return Err(FieldError::new(format!("{field}.name"), "is required")),
        Some(name) => string_field(name, &format!("{field}.name"), MAX_TENSOR_NAME_LEN)?,
    };
    let summary = match (object.get("values"), object.get("summary")) {
        (Some(values), None) => summarise(&raw_values(values, &format!("{field}.values"))?),
        (None, Some(summary)) => {
            let prefix = format!("{field}.summary");
            let summary: TensorSummary = crate::definition::from_json(summary).map_err(|e| {
                let inner = if e.field == "body" {
                    prefix.clone()
                } else {
                    format!("{prefix}.{}", e.field)
                };
                FieldError::new(inner, e.message)
            })?;
            summary.check(&prefix)?;
            summary
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                format!("{field}.summary"),
                "send either values or summary, not both",
            ));
        }
        (None, None) => {
            return Err(FieldError::new(
                format!("{field}.values"),
                "is required (or summary)",
            ));
        }
    };
    Ok(TensorInput { name, summary })
}

/// Reads a parsed request body (after [`non_finite::replace_tokens`]); `arrival_ms`
/// stands in for an absent timestamp.
pub fn parse_request(body: &Value, arrival_ms: i64) -> Result<ParametersRequest, FieldError> {
    let Value::Object(object) = body else {
        return Err(FieldError::new("body", "expected a JSON object"));
    };
    check_keys(object)?;
    let version = match object.get("version") {
        None | Some(Value::Null) => DEFAULT_VERSION.to_string(),
        Some(v) => string_field(v, "version", MAX_VERSION_LEN)?,
    };
    let step = match object.get("step") {
        None => return Err(FieldError::new("step", "is required")),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|s| (0..=MAX_STEP).contains(s))
            .ok_or_else(|| {
                FieldError::new("step", format!("expected an integer from 0 to {MAX_STEP}"))
            })?,
        Some(other) => {
            return Err(FieldError::new(
                "step",
                format!("expected an integer, got {}", json_type_name(other)),
            ));
        }
    };
    let timestamp_ms = match object.get("timestamp") {
        None | Some(Value::Null) => arrival_ms,
        Some(t) => parse_event_timestamp(t).map_err(|m| FieldError::new("timestamp", m))?,
    };
    let items = match object.get("tensors") {
        None => return Err(FieldError::new("tensors", "is required")),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(FieldError::new(
                "tensors",
                format!("expected an array, got {}", json_type_name(other)),
            ));
        }
    };
    if items.is_empty() {
        return Err(FieldError::new("tensors", "must hold at least one tensor"));
    }
    if items.len() > MAX_TENSORS {
        return Err(FieldError::new(
            "tensors",
            format!("at most {MAX_TENSORS} tensors per request"),
        ));
    }
    let mut seen = HashSet::new();
    let mut tensors = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let input = tensor(item, &format!("tensors[{i}]"))?;
        if !seen.insert(input.name.clone()) {
            return Err(FieldError::new(
                format!("tensors[{i}].name"),
                format!("`{}` is sent twice", input.name),
            ));
        }
        tensors.push(input);
    }
    Ok(ParametersRequest {
        version,
        step,
        timestamp_ms,
        tensors,
    })
}

fn check_keys(object: &Map<String, Value>) -> Result<(), FieldError> {
    for (key, value) in object {
        if !matches!(key.as_str(), "version" | "step" | "timestamp" | "tensors") {
            return Err(FieldError::new(
                key.as_str(),
                "unknown field (expected version, step, timestamp, tensors)",
            ));
        }
        if key != "tensors"
            && let Some(token) = non_finite::token(value)
        {
            return Err(FieldError::new(
                key.as_str(),
                format!("`{token}` is not a value here"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(body: Value) -> FieldError {
        parse_request(&body, 0).unwrap_err()
    }

    #[test]
    fn non_finite_tokens_count_as_nan_and_inf() {
        let text = r#"{"step": 1, "tensors": [{"name": "w", "values": [1.0, NaN, Infinity, -Infinity, 0]}]}"#;
        let body: Value =
            serde_json::from_str(&non_finite::replace_tokens(text)).expect("valid JSON");
        let request = parse_request(&body, 5).unwrap();
        let s = &request.tensors[0].summary;
        assert_eq!((s.count, s.nan, s.inf, s.zeros), (5, 1, 2, 1));
        assert_eq!((s.min, s.max), (Some(0.0), Some(1.0)));
        assert_eq!(request.version, "default");
        assert_eq!(request.timestamp_ms, 5);
    }

    #[test]
    fn every_error_names_its_field() {
        let cases = [
            (json!({"tensors": [{"name": "w", "values": [1]}]}), "step"),
            (
                json!({"step": -1, "tensors": [{"name": "w", "values": [1]}]}),
                "step",
            ),
            (json!({"step": 1, "tensors": []}), "tensors"),
            (
                json!({"step": 1, "tensors": [{"values": [1]}]}),
                "tensors[0].name",
            ),
            (
                json!({"step": 1, "tensors": [{"name": "w", "values": [1, "x"]}]}),
                "tensors[0].values[1]",
            ),
            (
                json!({"step": 1, "tensors": [{"name": "w"}]}),
                "tensors[0].values",
            ),
            (
                json!({"step": 1, "tensors": [{"name": "w", "values": [1]}, {"name": "w", "values": [2]}]}),
                "tensors[1].name",
            ),
            (
                json!({"step": 1, "colour": 1, "tensors": [{"name": "w", "values": [1]}]}),
                "colour",
            ),
            (
                json!({"step": 1, "tensors": [{"name": "w", "summary": {"count": 1}}]}),
                "tensors[0].summary.histogram",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(error(body.clone()).field, field, "{body}");
        }
    }

    #[test]
    fn a_client_summary_must_add_up() {
        let summary = json!({"count": 3, "min": 0.0, "max": 1.0, "mean": 0.5, "std": 0.5,
            "zeros": 1, "nan": 1, "inf": 0, "l2_norm": 1.0,
            "histogram": {"edges": [0.0, 0.5, 1.0], "counts": [1, 1]}});
        let ok = json!({"step": 1, "tensors": [{"name": "b", "summary": summary.clone()}]});
        assert_eq!(parse_request(&ok, 0).unwrap().tensors[0].summary.count, 3);
        let mut bad = summary.clone();
        bad["histogram"]["counts"] = json!([2, 1]);
        let body = json!({"step": 1, "tensors": [{"name": "b", "summary": bad}]});
        assert_eq!(error(body).field, "tensors[0].summary.histogram.counts");
        let mut bad = summary;
        bad["mean"] = json!(3.0);
        let body = json!({"step": 1, "tensors": [{"name": "b", "summary": bad}]});
        assert_eq!(error(body).field, "tensors[0].summary.mean");
    }
}

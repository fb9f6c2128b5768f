//! The field checks shared by telemetry samples and log records: timestamps (epoch ms
//! or RFC 3339, at most `limits.max_event_future` ahead), versions, instance names and
//! non-negative finite numbers, each error naming its field.

use serde_json::Value;

use crate::error::FieldError;
use crate::event::{InputLimits, MAX_VERSION_LEN, bounded_string, check_not_too_far_ahead};
use crate::time::{json_type_name, parse_event_timestamp};

/// Longest instance name, in bytes.
pub const MAX_INSTANCE_LEN: usize = 256;

/// A timestamp field: epoch ms or RFC 3339, not too far ahead of `arrival_ms`.
pub fn timestamp(
    field: &str,
    value: &Value,
    arrival_ms: i64,
    limits: &InputLimits,
) -> Result<i64, FieldError> {
    let error = |message: String| FieldError::new(field, message);
    let ms = parse_event_timestamp(value).map_err(error)?;
    check_not_too_far_ahead(ms, arrival_ms, limits).map_err(error)?;
    Ok(ms)
}

/// A `version` field (as a prediction's).
pub fn version(value: &Value) -> Result<String, FieldError> {
    bounded_string(value, MAX_VERSION_LEN, "a version").map_err(|m| FieldError::new("version", m))
}

/// A non-empty string of at most `max` bytes without control characters.
pub fn name(field: &str, value: &Value, max: usize, what: &str) -> Result<String, FieldError> {
    bounded_string(value, max, what).map_err(|m| FieldError::new(field, m))
}

/// A finite number ≥ 0 (and ≤ `max` when given). Python's `NaN` and `Infinity`
/// tokens arrive as markers ([`crate::non_finite`]) and are refused by name.
pub fn non_negative(field: &str, value: &Value, max: Option<f64>) -> Result<f64, FieldError> {
    let error = |message: String| Err(FieldError::new(field, message));
    if let Some(token) = crate::non_finite::token(value) {
        return error(format!("must be a finite number, got {token}"));
    }
    let Value::Number(number) = value else {
        return error(format!("expected a number, got {}", json_type_name(value)));
    };
    match number.as_f64() {
        Some(x) if !x.is_finite() => error(format!("must be a finite number, got {number}")),
        Some(x) if x < 0.0 => error(format!("must not be negative, got {number}")),
        Some(x) if max.is_some_and(|max| x > max) => error(format!(
            "must be at most {}, got {number}",
            max.unwrap_or(0.0)
        )),
        Some(x) => Ok(x),
        None => error(format!("{number} is not a number")),
    }
}

/// The error of a field the record kind does not have.
pub fn unknown_field(name: &str, known: &str) -> FieldError {
    FieldError::new(
        crate::time::truncate(name, 60),
        format!("unknown field (expected {known})"),
    )
}

//! Splitting a request body into records: a JSON array (or a single object) or
//! NDJSON, one object per record. A record that is not an object is rejected alone;
//! a body that is not JSON at all is rejected whole. Python's `NaN`, `Infinity` and
//! `-Infinity` tokens are read as markers ([`crate::non_finite`]) that validation
//! judges field by field.

use serde_json::{Map, Value, value::RawValue};

use crate::error::FieldError;

/// How a body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// A JSON array of objects, or one object.
    Json,
    /// One JSON object per line; blank lines are skipped.
    Ndjson,
}

/// A record as parsed, or why it could not be.
pub type RecordResult = Result<Map<String, Value>, FieldError>;

fn object(raw: &str) -> RecordResult {
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(FieldError::new(
            "record",
            format!(
                "expected a JSON object, got {}",
                crate::time::json_type_name(&other)
            ),
        )),
        Err(e) => Err(FieldError::new("record", format!("invalid JSON: {e}"))),
    }
}

/// Whether text that failed to parse as JSON reads as CSV: a first line that opens
/// no JSON value and has a comma.
fn looks_like_csv(trimmed: &str) -> bool {
    let first_line = trimmed.lines().next().unwrap_or("");
    !first_line.starts_with(['[', '{', '"']) && first_line.contains(',')
}

/// Splits `body` into records, or fails when the body as a whole is unreadable.
pub fn split_records(body: &[u8], format: BodyFormat) -> Result<Vec<RecordResult>, FieldError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| FieldError::new("body", format!("is not valid UTF-8 ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = crate::non_finite::replace_tokens(text);
    let text = text.as_ref();
    match format {
        BodyFormat::Ndjson => Ok(text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(object)
            .collect()),
        BodyFormat::Json => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') {
                return object(trimmed)
                    .map(|m| vec![Ok(m)])
                    .map_err(|e| FieldError::new("body", e.message));
            }
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
                if looks_like_csv(trimmed) {
                    FieldError::new("body", "this looks like CSV: send Content-Type: text/csv")
                } else {
                    FieldError::new("body", format!("is not a JSON array of objects ({e})"))
                }
            })?;
            Ok(items.into_iter().map(|raw| object(raw.get())).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_arrays_objects_and_ndjson() {
        let records = split_records(br#"[{"a":1}, 2, {"b":2}]"#, BodyFormat::Json).unwrap();
        assert_eq!(records.len(), 3);
        assert!(records[0].is_ok() && records[1].is_err() && records[2].is_ok());
        assert_eq!(
            split_records(br#"{"a":1}"#, BodyFormat::Json)
                .unwrap()
                .len(),
            1
        );
        let lines = split_records(b"{\"a\":1}\n\n{oops\n{\"c\":3}\n", BodyFormat::Ndjson).unwrap();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].is_err());
    }

    #[test]
    fn reads_python_non_finite_tokens() {
        let records =
            split_records(br#"[{"a": NaN, "b": -Infinity}, NaN]"#, BodyFormat::Json).unwrap();
        let first = records[0].as_ref().unwrap();
        assert_eq!(crate::non_finite::token(&first["a"]), Some("NaN"));
        assert_eq!(crate::non_finite::token(&first["b"]), Some("-Infinity"));
        assert!(records[1].is_err());
        let lines = split_records(b"{\"a\": Infinity}\n", BodyFormat::Ndjson).unwrap();
        assert_eq!(
            crate::non_finite::token(&lines[0].as_ref().unwrap()["a"]),
            Some("Infinity")
        );
    }

    #[test]
    fn rejects_unreadable_bodies() {
        assert_eq!(
            split_records(b"[{\"a\":1}", BodyFormat::Json)
                .unwrap_err()
                .field,
            "body"
        );
        assert_eq!(
            split_records(b"\xff\xfe", BodyFormat::Json)
                .unwrap_err()
                .field,
            "body"
        );
        assert_eq!(
            split_records(b"[NaM]", BodyFormat::Json).unwrap_err().field,
            "body"
        );
        let csv = split_records(b"id,prediction\na,1\n", BodyFormat::Json).unwrap_err();
        assert_eq!(
            csv.message,
            "this looks like CSV: send Content-Type: text/csv"
        );
        // A number out of f64's range rejects its record alone.
        let records = split_records(b"[1e400, {}]", BodyFormat::Json).unwrap();
        assert!(
            records[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("out of range")
        );
        assert!(records[1].is_ok());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let records = split_records(deep.as_bytes(), BodyFormat::Json).unwrap();
        assert!(
            records[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("recursion limit")
        );
    }
}

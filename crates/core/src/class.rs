//! Class labels: compared as strings, normalised so that JSON `1`, `1.0` and `"1"` and
//! the text `"1.00"` are the same class `"1"` (API.md), in model definitions, events,
//! labels and CSV alike.

use serde_json::Value;

use crate::time::json_type_name;

/// Longest accepted class label or categorical value, in bytes, by default (the server's
/// `limits.max_string_bytes` changes it for categorical values).
pub const MAX_STRING_LEN: usize = 1024;

/// Normalises a class label given as text: `"1.0"` and `"1.00"` become `"1"`,
/// as JSON `1.0` does.
pub fn normalize_class_text(text: &str) -> String {
    if let Some((int, frac)) = text.split_once('.') {
        let digits = int.strip_prefix('-').unwrap_or(int);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !frac.is_empty()
            && frac.bytes().all(|b| b == b'0')
        {
            return if int == "-0" {
                "0".into()
            } else {
                int.to_string()
            };
        }
    }
    text.to_string()
}

/// A class label from JSON: a string, a number or a boolean.
pub fn class_from_json(value: &Value) -> Result<String, String> {
    let class = match value {
        Value::String(s) => normalize_class_text(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 1e15 {
                    format!("{}", f as i64)
                } else {
                    format!("{f}")
                }
            }
        }
        other => {
            return Err(format!(
                "expected a class label (string, number or boolean), got {}",
                json_type_name(other)
            ));
        }
    };
    if class.is_empty() {
        return Err("a class label must not be empty".into());
    }
    if class.len() > MAX_STRING_LEN {
        return Err(format!("a class label is at most {MAX_STRING_LEN} bytes"));
    }
    Ok(class)
}

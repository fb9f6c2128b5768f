//! The `NaN`, `Infinity` and `-Infinity` tokens that Python's `json.dumps` (and
//! pandas) write for missing or non-finite floats. They are not JSON, so before a body
//! is parsed each bare token is replaced by a marker string; validation then reads a
//! marker as missing in a feature and rejects it, naming the field, elsewhere.
//!
//! A marker starts with a NUL character, which no serializer writes into a string by
//! accident, so a string a client sends is not mistaken for one.

use std::borrow::Cow;

use serde_json::Value;

/// The tokens, longest first where one is a suffix of another.
const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// The marker string that stands for `token` once the body is parsed.
fn marker(token: &str) -> String {
    format!("\u{0}{token}")
}

/// The marker of `token` as a JSON value (for CSV fields that read as non-finite).
pub fn marker_value(token: &'static str) -> Value {
    Value::String(marker(token))
}

/// The token a parsed value stands for, when it is a marker.
pub fn token(value: &Value) -> Option<&'static str> {
    let text = value.as_str()?.strip_prefix('\u{0}')?;
    TOKENS.into_iter().find(|t| *t == text)
}

/// The token a CSV field spells (`NaN`, `nan`, `inf`, `-Infinity`...): what Python's
/// `float()` reads as non-finite.
pub fn csv_token(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let (negative, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    match magnitude.to_ascii_lowercase().as_str() {
        "nan" => Some("NaN"),
        "inf" | "infinity" if negative => Some("-Infinity"),
        "inf" | "infinity" => Some("Infinity"),
        _ => None,
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'.'
}

/// `text` with every bare `NaN`, `Infinity` and `-Infinity` outside a string replaced
/// by its marker (a JSON string); borrowed when there is none.
pub fn replace_tokens(text: &str) -> Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut copied = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let starts_word = i == 0 || !is_word_byte(bytes[i - 1]);
        let found = starts_word
            .then(|| {
                TOKENS.into_iter().find(|t| {
                    text[i..].starts_with(t)
                        && bytes.get(i + t.len()).is_none_or(|b| !is_word_byte(*b))
                })
            })
            .flatten();
        match found {
            Some(token) => {
                out.push_str(&text[copied..i]);
                out.push_str(&format!("\"\\u0000{token}\""));
                i += token.len();
                copied = i;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_bare_tokens_only() {
        let text = r#"{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN Infinity", "d": "\"NaN"}"#;
        let replaced = replace_tokens(text);
        let value: Value = serde_json::from_str(&replaced).unwrap();
        assert_eq!(token(&value["a"]), Some("NaN"));
        assert_eq!(token(&value["b"][0]), Some("Infinity"));
        assert_eq!(token(&value["b"][1]), Some("-Infinity"));
        assert_eq!(value["c"], "NaN Infinity");
        assert_eq!(value["d"], "\"NaN");
        assert_eq!(token(&value["c"]), None);
    }

    #[test]
    fn leaves_other_text_alone() {
        assert!(matches!(replace_tokens(r#"{"a": 1}"#), Cow::Borrowed(_)));
        // Not a token: part of a longer word (invalid JSON stays invalid).
        assert_eq!(replace_tokens("NaNa"), "NaNa");
        assert_eq!(replace_tokens(r#"{"NaN": 1}"#), r#"{"NaN": 1}"#);
    }

    #[test]
    fn reads_csv_spellings() {
        assert_eq!(csv_token("nan"), Some("NaN"));
        assert_eq!(csv_token(" -inf"), Some("-Infinity"));
        assert_eq!(csv_token("Infinity"), Some("Infinity"));
        assert_eq!(csv_token("1.5"), None);
        assert_eq!(csv_token("n/a"), None);
    }
}

//! Label matchers in Alertmanager's syntax: `name=value`, `name!=value`,
//! `name=~regex` and `name!~regex`, the value optionally in double quotes. A regex is
//! anchored at both ends, as Alertmanager's are, and a missing label matches as the
//! empty string.

use std::collections::BTreeMap;

use crate::error::FieldError;

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// One parsed matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label's name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value as written (unquoted).
    pub value: String,
    /// The anchored regex of `=~` and `!~`.
    regex: Option<regex::Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&other.name, other.op, &other.value)
    }
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 64
}

impl Matcher {
    /// Parses `text`; errors name `field`.
    pub fn parse(text: &str, field: &str) -> Result<Self, FieldError> {
        if text.len() > 1024 {
            return Err(FieldError::new(field, "a matcher is at most 1024 bytes"));
        }
        let at = text.find(['=', '!']).ok_or_else(|| {
            FieldError::new(
                field,
                "expected name=value, name!=value, name=~regex or name!~regex",
            )
        })?;
        let name = text[..at].trim();
        let rest = &text[at..];
        let (op, value) = if let Some(value) = rest.strip_prefix("=~") {
            (MatchOp::Regex, value)
        } else if let Some(value) = rest.strip_prefix("!~") {
            (MatchOp::NotRegex, value)
        } else if let Some(value) = rest.strip_prefix("!=") {
            (MatchOp::NotEqual, value)
        } else if let Some(value) = rest.strip_prefix('=') {
            (MatchOp::Equal, value)
        } else {
            return Err(FieldError::new(
                field,
                "expected one of the operators =, !=, =~, !~",
            ));
        };
        if !is_label_name(name) {
            return Err(FieldError::new(
                field,
                format!("`{name}` is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            ));
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted
                .strip_suffix('"')
                .ok_or_else(|| FieldError::new(field, "the value's closing quote is missing"))?
                .replace("\\\"", "\"")
                .replace("\\\\", "\\"),
            None => value.to_string(),
        };
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                regex::RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        let reason = e.to_string();
                        let last = reason.lines().last().unwrap_or("invalid").trim();
                        FieldError::new(field, format!("not a valid regex: {last}"))
                    })?,
            ),
            _ => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value,
            regex,
        })
    }

    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(regex)) => regex.is_match(value),
            (MatchOp::NotRegex, Some(regex)) => !regex.is_match(value),
            _ => false,
        }
    }
}

/// Parses a list of matchers; errors name `field[i]`.
pub fn parse_all(texts: &[String], field: &str) -> Result<Vec<Matcher>, FieldError> {
    if texts.len() > 32 {
        return Err(FieldError::new(field, "at most 32 matchers"));
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| Matcher::parse(text, &format!("{field}[{i}]")))
        .collect()
}

/// Whether every matcher holds for `labels`.
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_four_operators_match_as_alertmanagers_do() {
        let set = labels(&[("severity", "critical"), ("model", "credit-v2")]);
        let holds = |text: &str| Matcher::parse(text, "m").unwrap().matches(&set);
        assert!(holds("severity=critical"));
        assert!(holds(r#"severity="critical""#));
        assert!(!holds("severity!=critical"));
        assert!(holds("model=~credit.*"));
        // Anchored: a partial match is no match.
        assert!(!holds("model=~credit"));
        assert!(holds("model!~fraud.*"));
        // A missing label is the empty string.
        assert!(holds("team=\"\""));
        assert!(holds("team!=risk"));
        assert!(holds("team=~|risk"));
    }

    #[test]
    fn bad_matchers_name_their_field() {
        let error = |text: &str| Matcher::parse(text, "matchers[2]").unwrap_err();
        let bad_regex = error("model=~credit(");
        assert_eq!(bad_regex.field, "matchers[2]");
        assert!(
            bad_regex.message.contains("not a valid regex"),
            "{bad_regex}"
        );
        assert!(error("severity").message.contains("expected name=value"));
        assert!(error("2x=y").message.contains("not a label name"));
        assert!(error("a=\"open").message.contains("quote"));
        let many: Vec<String> = (0..33).map(|i| format!("a{i}=b")).collect();
        assert_eq!(parse_all(&many, "matchers").unwrap_err().field, "matchers");
    }
}

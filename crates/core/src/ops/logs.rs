//! Logs and crashes of the served model: the records of `POST .../logs`
//! ([`LogRecord`], [`parse_log_record`]) and their mergeable aggregate per window
//! ([`LogProfile`]): counts by level (a `fatal` record is a crash) and counts per
//! message template ([`super::template`]), bounded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::record;
use super::stable_hash;
use crate::error::FieldError;
use crate::event::{DEFAULT_VERSION, InputLimits, MAX_ID_LEN};

/// Longest message, in bytes (a stack trace fits).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;
/// Longest `attributes` object, in bytes of its JSON.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
/// Templates counted per window. Past it the templates with the smallest
/// [`stable_hash`] are kept, so that merging in any grouping keeps the same ones; the
/// records of the others are counted in [`LogProfile::other`].
pub const MAX_TEMPLATES_PER_WINDOW: usize = 128;

const FIELDS: &str = "timestamp, level, message, instance, id, version, attributes";

/// A record's severity, least severe first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info`.
    #[default]
    Info,
    /// `warn` (`warning` is read as it).
    Warn,
    /// `error`.
    Error,
    /// `fatal`: the process crashed.
    Fatal,
}

impl LogLevel {
    /// Every level, least severe first.
    pub const ALL: [LogLevel; 6] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
            LogLevel::Fatal => "fatal",
        }
    }

    /// Reads a level by name, case-insensitively (`warning` is `warn`).
    pub fn parse(text: &str) -> Option<LogLevel> {
        let lower = text.to_ascii_lowercase();
        if lower == "warning" {
            return Some(LogLevel::Warn);
        }
        LogLevel::ALL.into_iter().find(|l| l.as_str() == lower)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One log record of the served model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogRecord {
    /// Event time (epoch ms; arrival time when not given).
    pub timestamp_ms: i64,
    /// Model version (`default` when not given).
    pub version: String,
    /// Severity.
    pub level: LogLevel,
    /// The message as sent.
    pub message: String,
    /// The instance that logged it.
    pub instance: Option<String>,
    /// The id of the prediction it concerns.
    pub id: Option<String>,
    /// Further attributes, as a JSON object's text.
    pub attributes: Option<String>,
}

/// Validates one log record (a JSON object): `level` and `message` are required.
pub fn parse_log_record(
    record: &Map<String, Value>,
    arrival_ms: i64,
    limits: &InputLimits,
) -> Result<LogRecord, FieldError> {
    let mut out = LogRecord {
        timestamp_ms: arrival_ms,
        version: DEFAULT_VERSION.to_string(),
        ..LogRecord::default()
    };
    let (mut level, mut message) = (None, None);
    for (key, value) in record {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "timestamp" => out.timestamp_ms = record::timestamp(key, value, arrival_ms, limits)?,
            "version" => out.version = record::version(value)?,
            "instance" => {
                out.instance = Some(record::name(
                    key,
                    value,
                    record::MAX_INSTANCE_LEN,
                    "an instance",
                )?)
            }
            "id" => out.id = Some(record::name(key, value, MAX_ID_LEN, "an id")?),
            "level" => {
                let text = value.as_str().ok_or_else(|| {
                    FieldError::new(
                        "level",
                        format!(
                            "expected a string, got {}",
                            crate::time::json_type_name(value)
                        ),
                    )
                })?;
                level = Some(LogLevel::parse(text).ok_or_else(|| {
                    FieldError::new(
                        "level",
                        format!(
                            "unknown level `{}` (use trace, debug, info, warn, error or fatal)",
                            crate::time::truncate(text, 30)
                        ),
                    )
                })?);
            }
            "message" => match value {
                Value::String(s) if s.len() > MAX_MESSAGE_BYTES => {
                    return Err(FieldError::new(
                        "message",
                        format!("is at most {MAX_MESSAGE_BYTES} bytes"),
                    ));
                }
                Value::String(s) => message = Some(s.clone()),
                other => {
                    return Err(FieldError::new(
                        "message",
                        format!(
                            "expected a string, got {}",
                            crate::time::json_type_name(other)
                        ),
                    ));
                }
            },
            "attributes" => {
                if !value.is_object() {
                    return Err(FieldError::new(
                        "attributes",
                        format!(
                            "expected an object, got {}",
                            crate::time::json_type_name(value)
                        ),
                    ));
                }
                let text = value.to_string();
                if text.len() > MAX_ATTRIBUTES_BYTES || holds_non_finite(value) {
                    return Err(FieldError::new(
                        "attributes",
                        format!(
                            "is at most {MAX_ATTRIBUTES_BYTES} bytes of JSON, with finite numbers"
                        ),
                    ));
                }
                out.attributes = Some(text);
            }
            other => return Err(record::unknown_field(other, FIELDS)),
        }
    }
    out.level = level.ok_or_else(|| {
        FieldError::new(
            "level",
            "required (trace, debug, info, warn, error or fatal)",
        )
    })?;
    out.message = message.ok_or_else(|| FieldError::new("message", "required"))?;
    Ok(out)
}

/// Whether a value holds Python's `NaN` or `Infinity` (read as markers, see
/// [`crate::non_finite`]).
fn holds_non_finite(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(holds_non_finite),
        Value::Object(map) => map.values().any(holds_non_finite),
        other => crate::non_finite::token(other).is_some(),
    }
}

/// Counts of one template in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCount {
    /// Records with this template.
    pub count: u64,
    /// The most severe level they had.
    pub level: LogLevel,
    /// The newest record's time (epoch ms).
    pub last_ms: i64,
}

/// The logs of one window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogProfile {
    /// Records per level, in [`LogLevel::ALL`] order.
    pub levels: [u64; 6],
    /// Counts per message template (at most [`MAX_TEMPLATES_PER_WINDOW`]).
    pub templates: BTreeMap<String, TemplateCount>,
    /// Records whose template was not kept.
    pub other: u64,
}

impl LogProfile {
    /// Adds a record whose message has the template `template`.
    pub fn observe(&mut self, record: &LogRecord, template: &str) {
        self.levels[record.level.index()] += 1;
        let entry = self.templates.entry(template.to_string()).or_default();
        if entry.count == 0 {
            *entry = TemplateCount {
                count: 1,
                level: record.level,
                last_ms: record.timestamp_ms,
            };
        } else {
            entry.count += 1;
            entry.level = entry.level.max(record.level);
            entry.last_ms = entry.last_ms.max(record.timestamp_ms);
        }
        self.bound();
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &LogProfile) {
        for (mine, theirs) in self.levels.iter_mut().zip(other.levels) {
            *mine += theirs;
        }
        self.other += other.other;
        for (template, counts) in &other.templates {
            match self.templates.get_mut(template) {
                Some(mine) => {
                    mine.count += counts.count;
                    mine.level = mine.level.max(counts.level);
                    mine.last_ms = mine.last_ms.max(counts.last_ms);
                }
                None => {
                    self.templates.insert(template.clone(), *counts);
                }
            }
        }
        self.bound();
    }

    /// Keeps the [`MAX_TEMPLATES_PER_WINDOW`] templates of smallest hash: a template
    /// dropped from a part is never among the smallest of a whole that holds the part,
    /// so the kept templates and their counts do not depend on the merge order.
    fn bound(&mut self) {
        if self.templates.len() <= MAX_TEMPLATES_PER_WINDOW {
            return;
        }
        let mut hashes: Vec<(u64, String)> = self
            .templates
            .keys()
            .map(|t| (stable_hash(t), t.clone()))
            .collect();
        hashes.sort_unstable();
        for (_, template) in hashes.into_iter().skip(MAX_TEMPLATES_PER_WINDOW) {
            if let Some(dropped) = self.templates.remove(&template) {
                self.other += dropped.count;
            }
        }
    }

    /// Records of `level`.
    pub fn count(&self, level: LogLevel) -> u64 {
        self.levels[level.index()]
    }

    /// All records.
    pub fn total(&self) -> u64 {
        self.levels.iter().sum()
    }

    /// `error` and `fatal` records.
    pub fn errors(&self) -> u64 {
        self.count(LogLevel::Error) + self.count(LogLevel::Fatal)
    }

    /// Crashes: `fatal` records.
    pub fn crashes(&self) -> u64 {
        self.count(LogLevel::Fatal)
    }

    /// Whether no record was seen.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Roughly the bytes the profile holds.
    pub fn approximate_bytes(&self) -> usize {
        self.templates.keys().map(|t| t.len() + 48).sum::<usize>() + 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<LogRecord, FieldError> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        parse_log_record(&map, 1_710_000_000_000, &InputLimits::default())
    }

    #[test]
    fn errors_name_their_field() {
        for (body, field) in [
            (json!({"message": "x"}), "level"),
            (json!({"level": "loud", "message": "x"}), "level"),
            (json!({"level": 3, "message": "x"}), "level"),
            (json!({"level": "info"}), "message"),
            (json!({"level": "info", "message": 5}), "message"),
            (
                json!({"level": "info", "message": "x".repeat(MAX_MESSAGE_BYTES + 1)}),
                "message",
            ),
            (
                json!({"level": "info", "message": "x", "attributes": [1]}),
                "attributes",
            ),
            (
                json!({"level": "info", "message": "x", "attributes": {"a": ["\u{0}NaN"]}}),
                "attributes",
            ),
            (json!({"level": "info", "message": "x", "id": ""}), "id"),
            (
                json!({"level": "info", "message": "x", "timestamp": true}),
                "timestamp",
            ),
            (
                json!({"level": "info", "message": "x", "severity": "high"}),
                "severity",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
        let record = parse(json!({"level": "WARNING", "message": "disk 91% full",
            "attributes": {"disk": "/dev/sda"}, "instance": "pod-1"}))
        .unwrap();
        assert_eq!(record.level, LogLevel::Warn);
        assert_eq!(record.timestamp_ms, 1_710_000_000_000);
        assert_eq!(record.attributes.as_deref(), Some(r#"{"disk":"/dev/sda"}"#));
    }

    #[test]
    fn counts_levels_and_bounds_templates() {
        let mut profile = LogProfile::default();
        for i in 0..(MAX_TEMPLATES_PER_WINDOW + 10) {
            let record = LogRecord {
                level: if i % 2 == 0 {
                    LogLevel::Fatal
                } else {
                    LogLevel::Info
                },
                timestamp_ms: i as i64,
                ..LogRecord::default()
            };
            profile.observe(&record, &format!("template {i}"));
        }
        assert_eq!(profile.total(), (MAX_TEMPLATES_PER_WINDOW + 10) as u64);
        assert_eq!(profile.crashes(), 69);
        assert_eq!(profile.errors(), 69);
        assert_eq!(profile.templates.len(), MAX_TEMPLATES_PER_WINDOW);
        assert_eq!(profile.other, 10);
        let kept: u64 = profile.templates.values().map(|t| t.count).sum();
        assert_eq!(kept + profile.other, profile.total());
    }
}

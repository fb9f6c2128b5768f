//! Event time: parsing timestamps and durations, and aligning windows to UTC.
//!
//! All instants are epoch milliseconds (`i64`) in UTC. Windows are half-open
//! `[start, start + length)` with `start` a multiple of `length` since the epoch,
//! which makes every window UTC-aligned (days start at midnight UTC).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in milliseconds.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The earliest accepted event time: 1970-01-01T00:00:00Z.
pub const MIN_TIMESTAMP_MS: i64 = 0;
/// The latest accepted event time: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Parses an RFC 3339 string or integer epoch milliseconds into epoch milliseconds.
pub fn parse_timestamp_str(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        let ms: i64 = text
            .parse()
            .map_err(|_| format!("`{text}` is not an integer number of epoch milliseconds"))?;
        return check_range(ms);
    }
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| {
        format!(
            "`{}` is not an RFC 3339 timestamp ({e})",
            truncate(text, 40)
        )
    })?;
    check_range(parsed.timestamp_millis())
}

/// Parses a JSON timestamp: an RFC 3339 string or an integer of epoch milliseconds.
pub fn parse_timestamp_json(value: &Value) -> Result<i64, String> {
    match value {
        Value::String(s) => parse_timestamp_str(s),
        Value::Number(n) => match n.as_i64() {
            Some(ms) => check_range(ms),
            None => Err(format!(
                "{n} is not an integer number of epoch milliseconds"
            )),
        },
        other => Err(format!(
            "expected an RFC 3339 string or epoch milliseconds, got {}",
            json_type_name(other)
        )),
    }
}

fn check_range(ms: i64) -> Result<i64, String> {
    if (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(format!(
            "{ms} ms is outside the accepted range 1970-01-01 to 9999-12-31"
        ))
    }
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2024-03-11T00:00:00Z`, with
/// milliseconds only when they are not zero).
pub fn format_timestamp(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ms.to_string(),
    }
}

/// Parses a duration such as `30s`, `1m`, `15m`, `1h`, `1d` or `1w` into milliseconds.
/// `0s` is allowed (callers that need a positive duration check for it).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{}` has no unit (use s, m, h, d or w)", truncate(text, 40)))?;
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!(
            "`{}` does not start with a number",
            truncate(text, 40)
        ));
    }
    let amount: i64 = number
        .parse()
        .map_err(|_| format!("`{}` is too large", truncate(text, 40)))?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => MINUTE_MS,
        "h" => HOUR_MS,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => {
            return Err(format!(
                "`{}` has an unknown unit `{}` (use ms, s, m, h, d or w)",
                truncate(text, 40),
                truncate(unit, 10)
            ));
        }
    };
    amount
        .checked_mul(unit_ms)
        .filter(|ms| *ms <= 3650 * DAY_MS)
        .ok_or_else(|| format!("`{}` is longer than 10 years", truncate(text, 40)))
}

/// Formats a duration in milliseconds in the largest unit that divides it exactly.
pub fn format_duration(ms: i64) -> String {
    for (unit_ms, unit) in [
        (DAY_MS, "d"),
        (HOUR_MS, "h"),
        (MINUTE_MS, "m"),
        (1_000, "s"),
    ] {
        if ms != 0 && ms % unit_ms == 0 {
            return format!("{}{unit}", ms / unit_ms);
        }
    }
    format!("{ms}ms")
}

/// A duration as written in a definition or a configuration file (`"30s"`, `"5m"`,
/// `"1d"`): its length, and the text it was written as, which is what a `GET` shows
/// back. Two durations are equal when their lengths are.
#[derive(Debug, Clone)]
pub struct Duration {
    ms: i64,
    text: String,
}

impl Duration {
    /// Parses `text` with [`parse_duration`]'s rules.
    pub fn parse(text: &str) -> Result<Self, String> {
        Ok(Self {
            ms: parse_duration(text)?,
            text: text.to_string(),
        })
    }

    /// `ms` milliseconds, written canonically ([`format_duration`]).
    pub fn from_ms(ms: i64) -> Self {
        Self {
            ms,
            text: format_duration(ms),
        }
    }

    /// The length in milliseconds.
    pub fn ms(&self) -> i64 {
        self.ms
    }

    /// The text it was written as.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        self.ms == other.ms
    }
}

impl Eq for Duration {}

impl std::fmt::Display for Duration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as \"30s\", \"5m\" or \"1d\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                Duration::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// `#[serde(with = "modelwatch_core::time::duration_ms")]`: an `i64` of milliseconds
/// written as a duration (`"30d"`).
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `ms` canonically.
    pub fn serialize<S: Serializer>(ms: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_duration(*ms))
    }

    /// Reads a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        Ok(super::Duration::deserialize(deserializer)?.ms())
    }
}

/// `#[serde(with = "modelwatch_core::time::std_duration")]`: a [`std::time::Duration`]
/// written as a duration (`"10s"`), to the millisecond.
pub mod std_duration {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `duration` canonically.
    pub fn serialize<S: Serializer>(
        duration: &std::time::Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        serializer.serialize_str(&super::format_duration(ms))
    }

    /// Reads a duration (never negative).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<std::time::Duration, D::Error> {
        let ms = super::Duration::deserialize(deserializer)?.ms();
        Ok(std::time::Duration::from_millis(ms.max(0) as u64))
    }
}

/// An instant as written in a definition: an RFC 3339 string or integer epoch
/// milliseconds, within the accepted range. Written back as RFC 3339.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_timestamp(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Instant;
        impl serde::de::Visitor<'_> for Instant {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 string or epoch milliseconds")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                parse_timestamp_str(text).map(Timestamp).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, ms: i64) -> Result<Timestamp, E> {
                check_range(ms).map(Timestamp).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, ms: u64) -> Result<Timestamp, E> {
                self.visit_i64(i64::try_from(ms).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: serde::de::Error>(self, ms: f64) -> Result<Timestamp, E> {
                Err(E::custom(format!(
                    "{ms} is not an integer number of epoch milliseconds"
                )))
            }
        }
        deserializer.deserialize_any(Instant)
    }
}

/// The start of the window of length `length_ms` that holds `ms`.
pub fn align_down(ms: i64, length_ms: i64) -> i64 {
    ms - ms.rem_euclid(length_ms)
}

/// Milliseconds since the epoch, now (the one clock read in core; callers may pass their own).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A short name for a JSON value's type, for error messages.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Cuts `text` to at most `max` characters for use in an error message.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_epoch_ms() {
        assert_eq!(parse_timestamp_str("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(
            parse_timestamp_str("2024-03-11T01:00:00+01:00"),
            Ok(1_710_115_200_000)
        );
        assert_eq!(parse_timestamp_str("1710115200000"), Ok(1_710_115_200_000));
        assert_eq!(
            parse_timestamp_json(&serde_json::json!(1_710_115_200_000_i64)),
            Ok(1_710_115_200_000)
        );
        assert!(parse_timestamp_json(&serde_json::json!(1.5)).is_err());
        assert!(parse_timestamp_json(&serde_json::json!(-1)).is_err());
        assert!(parse_timestamp_str("10000-01-01T00:00:00Z").is_err());
        assert!(parse_timestamp_str("yesterday").is_err());
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_timestamp(1_710_115_200_000), "2024-03-11T00:00:00Z");
        assert_eq!(
            format_timestamp(1_710_115_200_123),
            "2024-03-11T00:00:00.123Z"
        );
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("1m"), Ok(MINUTE_MS));
        assert_eq!(parse_duration("15m"), Ok(15 * MINUTE_MS));
        assert_eq!(parse_duration("1h"), Ok(HOUR_MS));
        assert_eq!(parse_duration("1d"), Ok(DAY_MS));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert!(parse_duration("1").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(format_duration(DAY_MS), "1d");
        assert_eq!(format_duration(90 * MINUTE_MS), "90m");
    }

    #[test]
    fn a_duration_keeps_its_text_and_compares_by_length() {
        let written: Duration = serde_json::from_value(serde_json::json!("300s")).unwrap();
        assert_eq!(written.ms(), 5 * MINUTE_MS);
        assert_eq!(serde_json::to_value(&written).unwrap(), "300s");
        assert_eq!(written, Duration::from_ms(5 * MINUTE_MS));
        assert_eq!(Duration::from_ms(5 * MINUTE_MS).as_str(), "5m");
        let error = serde_json::from_value::<Duration>(serde_json::json!("5 parsecs")).unwrap_err();
        assert!(error.to_string().contains("5 parsecs"), "{error}");
        let error = serde_json::from_value::<Duration>(serde_json::json!(5)).unwrap_err();
        assert!(error.to_string().contains("a duration such as"), "{error}");
    }

    #[test]
    fn a_timestamp_reads_rfc3339_or_epoch_ms() {
        let read = |v: serde_json::Value| serde_json::from_value::<Timestamp>(v);
        assert_eq!(read(serde_json::json!(1000)).unwrap(), Timestamp(1000));
        assert_eq!(
            read(serde_json::json!("1970-01-01T00:00:01Z")).unwrap(),
            Timestamp(1000)
        );
        assert!(read(serde_json::json!(-1)).is_err());
        assert!(read(serde_json::json!(1.5)).is_err());
        assert!(read(serde_json::json!("soon")).is_err());
        assert_eq!(
            serde_json::to_value(Timestamp(1000)).unwrap(),
            "1970-01-01T00:00:01Z"
        );
    }

    #[test]
    fn aligns_to_utc() {
        assert_eq!(align_down(1_710_115_200_000 + 5, DAY_MS), 1_710_115_200_000);
        assert_eq!(align_down(-1, MINUTE_MS), -MINUTE_MS);
    }
}

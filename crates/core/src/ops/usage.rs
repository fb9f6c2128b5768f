//! Resource use of the served model: the samples of `POST .../telemetry`
//! ([`TelemetrySample`], [`parse_sample`]) and their mergeable aggregate per window
//! ([`UsageProfile`]): per resource the count, sum and maximum of the values, and the
//! distinct instances as a bounded set of hashes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::record;
use super::stable_hash;
use crate::error::FieldError;
use crate::event::{DEFAULT_VERSION, InputLimits};

/// Distinct instances counted exactly in one window; past it, the smallest hashes are
/// kept and the count is estimated from them (k minimum values).
pub const MAX_TRACKED_INSTANCES: usize = 1024;

/// The fields of a sample, for error messages.
const FIELDS: &str =
    "timestamp, instance, version, cpu_percent, memory_bytes, gpu_utilization, gpu_memory_bytes";

/// One sample of one instance's resource use.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TelemetrySample {
    /// Event time (epoch ms).
    pub timestamp_ms: i64,
    /// Model version (`default` when not given).
    pub version: String,
    /// The instance (pod, process) the sample is of; `None` counts as one unnamed one.
    pub instance: Option<String>,
    /// CPU use, percent of one core (above 100 on several cores).
    pub cpu_percent: Option<f64>,
    /// Resident memory, bytes.
    pub memory_bytes: Option<f64>,
    /// GPU utilisation, a fraction in [0, 1].
    pub gpu_utilization: Option<f64>,
    /// GPU memory in use, bytes.
    pub gpu_memory_bytes: Option<f64>,
}

/// Validates one sample (a JSON object); every field but `timestamp` is optional.
pub fn parse_sample(
    record: &Map<String, Value>,
    arrival_ms: i64,
    limits: &InputLimits,
) -> Result<TelemetrySample, FieldError> {
    let mut sample = TelemetrySample {
        version: DEFAULT_VERSION.to_string(),
        ..TelemetrySample::default()
    };
    let mut timestamp = None;
    for (key, value) in record {
        // A null is a field not sent.
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "timestamp" => {
                timestamp = Some(record::timestamp(key, value, arrival_ms, limits)?);
            }
            "version" => sample.version = record::version(value)?,
            "instance" => {
                sample.instance = Some(record::name(
                    key,
                    value,
                    record::MAX_INSTANCE_LEN,
                    "an instance",
                )?)
            }
            "cpu_percent" => sample.cpu_percent = Some(record::non_negative(key, value, None)?),
            "memory_bytes" => sample.memory_bytes = Some(record::non_negative(key, value, None)?),
            "gpu_utilization" => {
                sample.gpu_utilization = Some(record::non_negative(key, value, Some(1.0))?)
            }
            "gpu_memory_bytes" => {
                sample.gpu_memory_bytes = Some(record::non_negative(key, value, None)?)
            }
            other => return Err(record::unknown_field(other, FIELDS)),
        }
    }
    sample.timestamp_ms = timestamp
        .ok_or_else(|| FieldError::new("timestamp", "required (epoch milliseconds or RFC 3339)"))?;
    Ok(sample)
}

/// Count, sum and maximum of one resource's values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    /// Values seen.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The largest (0 when there is none).
    pub max: f64,
}

impl Gauge {
    fn observe(&mut self, value: Option<f64>) {
        if let Some(value) = value {
            self.count += 1;
            self.sum += value;
            self.max = if self.count == 1 {
                value
            } else {
                self.max.max(value)
            };
        }
    }

    fn merge(&mut self, other: &Gauge) {
        if other.count == 0 {
            return;
        }
        self.max = if self.count == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.count += other.count;
        self.sum += other.sum;
    }

    /// The mean; `None` without values.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The maximum; `None` without values.
    pub fn maximum(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
}

/// An instance name's hash for the k-minimum-values estimate, which needs hashes spread
/// uniformly: FNV-1a alone is not, for names that differ only in their last characters
/// (`pod-1`, `pod-2`; 20,000 such names were estimated as 16,062), so it is finished with
/// MurmurHash3's 64-bit mix.
fn uniform_hash(name: &str) -> u64 {
    let mut hash = stable_hash(name);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// The distinct instances of a window: the [`MAX_TRACKED_INSTANCES`] smallest hashes
/// of their names (FNV-1a, mixed), ascending. The smallest hashes of a union are the
/// smallest of the parts' smallest, so merging in any grouping gives the same set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSet {
    hashes: Vec<u64>,
}

impl InstanceSet {
    fn insert(&mut self, name: &str) {
        let hash = uniform_hash(name);
        if let Err(at) = self.hashes.binary_search(&hash) {
            self.hashes.insert(at, hash);
            self.hashes.truncate(MAX_TRACKED_INSTANCES);
        }
    }

    fn merge(&mut self, other: &InstanceSet) {
        let mut merged = Vec::with_capacity(self.hashes.len() + other.hashes.len());
        let (mut a, mut b) = (
            self.hashes.iter().peekable(),
            other.hashes.iter().peekable(),
        );
        while merged.len() < MAX_TRACKED_INSTANCES {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x < y => a.next(),
                (Some(x), Some(y)) if x > y => b.next(),
                (Some(_), Some(_)) => {
                    b.next();
                    a.next()
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => None,
            };
            match next {
                Some(hash) => merged.push(*hash),
                None => break,
            }
        }
        self.hashes = merged;
    }

    /// Distinct instances: exact below [`MAX_TRACKED_INSTANCES`], else the k-minimum-
    /// values estimate `(k − 1) / h_k` (hashes scaled to [0, 1)).
    pub fn count(&self) -> u64 {
        if self.hashes.len() < MAX_TRACKED_INSTANCES {
            return self.hashes.len() as u64;
        }
        let largest = self.hashes.last().copied().unwrap_or(u64::MAX) as f64 / 2f64.powi(64);
        ((MAX_TRACKED_INSTANCES - 1) as f64 / largest.max(f64::MIN_POSITIVE)).round() as u64
    }
}

/// Resource use over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageProfile {
    /// Samples received.
    pub samples: u64,
    /// `cpu_percent`.
    pub cpu_percent: Gauge,
    /// `memory_bytes`.
    pub memory_bytes: Gauge,
    /// `gpu_utilization`.
    pub gpu_utilization: Gauge,
    /// `gpu_memory_bytes`.
    pub gpu_memory_bytes: Gauge,
    /// The instances that sent samples.
    pub instances: InstanceSet,
}

impl UsageProfile {
    /// Adds a sample.
    pub fn observe(&mut self, sample: &TelemetrySample) {
        self.samples += 1;
        self.cpu_percent.observe(sample.cpu_percent);
        self.memory_bytes.observe(sample.memory_bytes);
        self.gpu_utilization.observe(sample.gpu_utilization);
        self.gpu_memory_bytes.observe(sample.gpu_memory_bytes);
        self.instances
            .insert(sample.instance.as_deref().unwrap_or_default());
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &UsageProfile) {
        self.samples += other.samples;
        self.cpu_percent.merge(&other.cpu_percent);
        self.memory_bytes.merge(&other.memory_bytes);
        self.gpu_utilization.merge(&other.gpu_utilization);
        self.gpu_memory_bytes.merge(&other.gpu_memory_bytes);
        self.instances.merge(&other.instances);
    }

    /// Whether no sample was seen.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<TelemetrySample, FieldError> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        parse_sample(&map, 1_710_000_000_000, &InputLimits::default())
    }

    #[test]
    fn errors_name_their_field() {
        for (body, field) in [
            (json!({"cpu_percent": 1.0}), "timestamp"),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "cpu_percent": "high"}),
                "cpu_percent",
            ),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "memory_bytes": -1}),
                "memory_bytes",
            ),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "gpu_utilization": 40}),
                "gpu_utilization",
            ),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "gpu_memory_bytes": [1]}),
                "gpu_memory_bytes",
            ),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "instance": 7}),
                "instance",
            ),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "instance": ""}),
                "instance",
            ),
            (json!({"timestamp": "yesterday"}), "timestamp"),
            (json!({"timestamp": 1_710_000_000}), "timestamp"),
            (json!({"timestamp": 1_710_000_000_000_i64, "cpu": 1}), "cpu"),
            (
                json!({"timestamp": 1_710_000_000_000_i64, "cpu_percent": "\u{0}NaN"}),
                "cpu_percent",
            ),
        ] {
            assert_eq!(parse(body.clone()).unwrap_err().field, field, "{body}");
        }
        let sample = parse(json!({"timestamp": "2024-03-10T16:00:00Z", "instance": "pod-1",
            "cpu_percent": 85.0, "memory_bytes": 1.2e9, "gpu_utilization": 0.4, "gpu_memory_bytes": 3e9, "version": null}))
        .unwrap();
        assert_eq!(sample.timestamp_ms, 1_710_086_400_000);
        assert_eq!(sample.version, "default");
        assert_eq!(sample.gpu_utilization, Some(0.4));
    }

    #[test]
    fn instances_are_exact_below_the_bound_and_estimated_above() {
        let mut small = UsageProfile::default();
        for name in ["a", "b", "a", "c"] {
            small.observe(&TelemetrySample {
                instance: Some(name.into()),
                ..TelemetrySample::default()
            });
        }
        assert_eq!(small.instances.count(), 3);
        let mut large = InstanceSet::default();
        for i in 0..20_000 {
            large.insert(&format!("pod-{i}"));
        }
        let estimate = large.count() as f64;
        // The KMV estimate's relative standard error is about 1/sqrt(k) = 3%.
        assert!((estimate - 20_000.0).abs() < 0.15 * 20_000.0, "{estimate}");
    }
}

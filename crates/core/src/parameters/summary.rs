//! [`TensorSummary`]: what is kept of one tensor at one step. Computed from raw values
//! ([`summarise`]) the way numpy computes it, or sent by a client and checked for
//! consistency ([`TensorSummary::check`]).
//!
//! `count` counts every value; `nan` and `inf` count the non-finite ones (`inf` both
//! signs). `min`, `max`, `mean`, `std` (ddof = 0), `l2_norm` and the histogram are over
//! the finite values (numpy on `x[np.isfinite(x)]`), and are `null` when there is none.

use serde::{Deserialize, Serialize};

use super::histogram::{HISTOGRAM_BINS, Histogram, min_max};
use crate::FieldError;

/// Most bins a client's histogram may have.
pub const MAX_CLIENT_BINS: usize = 1_024;

/// The summary of one tensor; field order is the wire order (alphabetical).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSummary {
    /// Values, finite or not.
    pub count: u64,
    /// Histogram of the finite values.
    pub histogram: Histogram,
    /// Values that are infinite (either sign).
    pub inf: u64,
    /// Euclidean norm of the finite values.
    pub l2_norm: Option<f64>,
    /// Largest finite value.
    pub max: Option<f64>,
    /// Mean of the finite values.
    pub mean: Option<f64>,
    /// Smallest finite value.
    pub min: Option<f64>,
    /// Values that are NaN.
    pub nan: u64,
    /// Population standard deviation (ddof = 0) of the finite values.
    pub std: Option<f64>,
    /// Values equal to zero.
    pub zeros: u64,
}

/// Neumaier's compensated sum: close to numpy's pairwise sum on any length.
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut total, mut compensation) = (0.0f64, 0.0f64);
    for x in values {
        let t = total + x;
        if total.abs() >= x.abs() {
            compensation += (total - t) + x;
        } else {
            compensation += (x - t) + total;
        }
        total = t;
    }
    total + compensation
}

/// The summary of raw values, numpy's numbers on the finite ones.
pub fn summarise(values: &[f64]) -> TensorSummary {
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let nan = values.iter().filter(|x| x.is_nan()).count() as u64;
    let inf = values.iter().filter(|x| x.is_infinite()).count() as u64;
    let zeros = finite.iter().filter(|&&x| x == 0.0).count() as u64;
    let (min, max, mean, std, l2_norm) = match min_max(&finite) {
        None => (None, None, None, None, None),
        Some((min, max)) => {
            let n = finite.len() as f64;
            let mean = sum(finite.iter().copied()) / n;
            let variance = sum(finite.iter().map(|x| (x - mean) * (x - mean))) / n;
            // Scaled by the largest magnitude, so squares of large weights do not overflow.
            let scale = min.abs().max(max.abs());
            let l2 = if scale == 0.0 {
                0.0
            } else {
                scale * sum(finite.iter().map(|x| (x / scale) * (x / scale))).sqrt()
            };
            (
                Some(min),
                Some(max),
                Some(mean),
                Some(variance.sqrt()),
                Some(l2),
            )
        }
    };
    TensorSummary {
        count: values.len() as u64,
        histogram: Histogram::of_finite(&finite, HISTOGRAM_BINS),
        inf,
        l2_norm,
        max,
        mean,
        min,
        nan,
        std,
        zeros,
    }
}

impl TensorSummary {
    /// Checks a summary a client computed: counts that add up, statistics that agree
    /// with each other, a histogram with increasing finite edges. The error names the
    /// field under `prefix` (e.g. `tensors[2].summary`).
    pub fn check(&self, prefix: &str) -> Result<(), FieldError> {
        let field = |name: &str| format!("{prefix}.{name}");
        let finite = self
            .count
            .checked_sub(self.nan)
            .and_then(|rest| rest.checked_sub(self.inf))
            .ok_or_else(|| FieldError::new(field("count"), "is less than nan + inf"))?;
        if self.zeros > finite {
            return Err(FieldError::new(
                field("zeros"),
                "is more than the finite values (count - nan - inf)",
            ));
        }
        let stats = [
            ("min", self.min),
            ("max", self.max),
            ("mean", self.mean),
            ("std", self.std),
            ("l2_norm", self.l2_norm),
        ];
        for (name, value) in stats {
            match value {
                Some(v) if !v.is_finite() => {
                    return Err(FieldError::new(field(name), "must be a finite number"));
                }
                Some(_) if finite == 0 => {
                    return Err(FieldError::new(
                        field(name),
                        "must be null when no value is finite",
                    ));
                }
                None if finite > 0 => {
                    return Err(FieldError::new(
                        field(name),
                        "is required when some value is finite",
                    ));
                }
                _ => {}
            }
        }
        if let (Some(min), Some(max), Some(mean)) = (self.min, self.max, self.mean) {
            if min > max {
                return Err(FieldError::new(field("min"), "is greater than max"));
            }
            // The mean of rounded values may step just outside [min, max].
            let slack = 1e-9 * min.abs().max(max.abs()).max(f64::MIN_POSITIVE);
            if mean < min - slack || mean > max + slack {
                return Err(FieldError::new(field("mean"), "is outside [min, max]"));
            }
        }
        for (name, value) in [("std", self.std), ("l2_norm", self.l2_norm)] {
            if value.is_some_and(|v| v < 0.0) {
                return Err(FieldError::new(field(name), "must not be negative"));
            }
        }
        self.check_histogram(&field("histogram"), finite)
    }

    fn check_histogram(&self, prefix: &str, finite: u64) -> Result<(), FieldError> {
        let Histogram { edges, counts } = &self.histogram;
        if counts.len() > MAX_CLIENT_BINS {
            return Err(FieldError::new(
                format!("{prefix}.counts"),
                format!("at most {MAX_CLIENT_BINS} bins"),
            ));
        }
        if counts.is_empty() != edges.is_empty()
            || (!edges.is_empty() && edges.len() != counts.len() + 1)
        {
            return Err(FieldError::new(
                format!("{prefix}.edges"),
                "must hold one more value than counts (both empty when no value is finite)",
            ));
        }
        if counts.is_empty() && finite > 0 {
            return Err(FieldError::new(
                format!("{prefix}.counts"),
                "is required when some value is finite",
            ));
        }
        for (i, edge) in edges.iter().enumerate() {
            if !edge.is_finite() {
                return Err(FieldError::new(
                    format!("{prefix}.edges[{i}]"),
                    "must be a finite number",
                ));
            }
            if i > 0 && *edge <= edges[i - 1] {
                return Err(FieldError::new(
                    format!("{prefix}.edges[{i}]"),
                    "edges must increase",
                ));
            }
        }
        let total = counts
            .iter()
            .try_fold(0u64, |total, &c| total.checked_add(c));
        if total != Some(finite) {
            return Err(FieldError::new(
                format!("{prefix}.counts"),
                "must add up to the finite values (count - nan - inf)",
            ));
        }
        Ok(())
    }
}

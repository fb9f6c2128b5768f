//! Turning stored window profiles into the answer of a metrics query: one merged
//! summary for the range, and one merged profile per `step`.

use std::collections::BTreeMap;

use crate::answer::metrics::{MetricsAnswer, SeriesPoint};
use crate::answer::range::AnswerRange;
use crate::estimate::Estimation;
use crate::profile::WindowProfile;
use crate::schema::Model;
use crate::time::{align_down, format_duration, format_timestamp};

/// Most points a series may have; a longer one is refused rather than built.
pub const MAX_SERIES_POINTS: i64 = 20_000;

/// A summary and an optional series of merged profiles.
#[derive(Debug, Default)]
pub struct Merged {
    /// Everything in the range, merged.
    pub summary: WindowProfile,
    /// One `(bucket start, profile)` per step from the first to the last bucket of the
    /// range, empty buckets included (as empty profiles).
    pub series: Vec<(i64, WindowProfile)>,
}

/// Merges `windows` (`(window start, profile)`, in any order) per `step` over `[from, to)`.
/// Buckets are aligned to the epoch (so `1d` buckets start at UTC midnight). Without
/// `from`/`to` the series spans the windows present.
pub fn merge_windows(
    windows: impl IntoIterator<Item = (i64, WindowProfile)>,
    step_ms: Option<i64>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Merged, String> {
    let mut merger = WindowMerger::new(step_ms);
    for (start, profile) in windows {
        merger.add(start, &profile);
    }
    merger.finish(from, to)
}

/// [`merge_windows`] one window at a time: the offline report folds windows into it as
/// it streams, in the same order of merges, so the numbers are the same.
#[derive(Debug, Clone, Default)]
pub struct WindowMerger {
    step_ms: Option<i64>,
    summary: WindowProfile,
    buckets: BTreeMap<i64, WindowProfile>,
}

impl WindowMerger {
    /// A merger with one bucket per `step_ms` (no series without a step).
    pub fn new(step_ms: Option<i64>) -> Self {
        Self {
            step_ms,
            ..Self::default()
        }
    }

    /// The step the merger buckets by.
    pub fn step_ms(&self) -> Option<i64> {
        self.step_ms
    }

    /// Adds the window starting at `start`.
    pub fn add(&mut self, start: i64, profile: &WindowProfile) {
        self.summary.merge(profile);
        if let Some(step) = self.step_ms {
            self.buckets
                .entry(align_down(start, step))
                .or_default()
                .merge(profile);
        }
    }

    /// The summary and the series over `[from, to)` (without them, the buckets present).
    pub fn finish(self, from: Option<i64>, to: Option<i64>) -> Result<Merged, String> {
        let WindowMerger {
            step_ms,
            summary,
            mut buckets,
        } = self;
        let mut merged = Merged {
            summary,
            series: Vec::new(),
        };
        let Some(step) = step_ms else {
            return Ok(merged);
        };
        let first = from
            .map(|f| align_down(f, step))
            .or_else(|| buckets.keys().next().copied());
        let end = to.or_else(|| buckets.keys().next_back().map(|last| last + step));
        if let (Some(first), Some(end)) = (first, end) {
            let points = (end - first + step - 1) / step;
            if points > MAX_SERIES_POINTS {
                return Err(format!(
                    "the range holds {points} steps; at most {MAX_SERIES_POINTS} are allowed (use a larger step or a shorter range)"
                ));
            }
            let mut start = first;
            while start < end {
                merged
                    .series
                    .push((start, buckets.remove(&start).unwrap_or_default()));
                start += step;
            }
        }
        Ok(merged)
    }
}

/// The metrics answer of `model` over `range`, from profiles merged per `step_ms` (the
/// series is there with a step), with the estimated metrics when the model's reference
/// gave an `estimation`.
pub fn metrics_answer(
    model: &Model,
    merged: &Merged,
    range: AnswerRange,
    step_ms: Option<i64>,
    estimation: Option<&Estimation>,
) -> MetricsAnswer {
    let mut summary = merged.summary.metrics_estimated(model, estimation);
    summary.set_window(range.span_ms);
    MetricsAnswer {
        from: range.from,
        model: range.model,
        series: step_ms.map(|_| {
            merged
                .series
                .iter()
                .map(|(start, profile)| {
                    let mut metrics = profile.metrics_estimated(model, estimation);
                    metrics.fill_absent_ops(&summary);
                    metrics.set_window(step_ms);
                    SeriesPoint {
                        metrics,
                        start: format_timestamp(*start),
                    }
                })
                .collect()
        }),
        step: step_ms.map(format_duration),
        summary,
        task: model.task(),
        to: range.to,
        version: range.version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(count: u64) -> WindowProfile {
        WindowProfile {
            count,
            ..WindowProfile::default()
        }
    }

    #[test]
    fn fills_empty_buckets_and_sums() {
        let merged = merge_windows(
            [(0, profile(1)), (60_000, profile(2)), (180_000, profile(4))],
            Some(120_000),
            None,
            None,
        )
        .unwrap();
        assert_eq!(merged.summary.count, 7);
        let counts: Vec<(i64, u64)> = merged.series.iter().map(|(s, p)| (*s, p.count)).collect();
        assert_eq!(counts, [(0, 3), (120_000, 4)]);
        let bounded =
            merge_windows([(0, profile(1))], Some(60_000), Some(0), Some(180_000)).unwrap();
        assert_eq!(bounded.series.len(), 3);
        assert!(merge_windows([], Some(1), Some(0), Some(1_000_000)).is_err());
    }
}

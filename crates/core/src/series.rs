//! The steps of a drift or quality series: the windows of event time a query with
//! `step` answers one by one, each with the bounds and the granularity that a query of
//! that window alone would have, so that each entry of the series equals that query's
//! answer.

use crate::query::MAX_SERIES_POINTS;
use crate::time::align_down;
use crate::window::Granularity;

/// Most entries (steps × (features + 2)) a drift or quality series may hold: every step
/// repeats every feature with its statistics (and, in drift, its distribution).
pub const MAX_SERIES_ENTRIES: usize = 100_000;

/// One step of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Start of the step's bucket, aligned to a multiple of the step since the epoch.
    pub start: i64,
    /// Start of the data it covers: the bucket's start, or the query's `from` inside it.
    pub from: i64,
    /// End of the data it covers (exclusive): the bucket's end, or the query's `to`.
    pub to: i64,
}

impl Step {
    /// The granularity a query of this step alone reads.
    pub fn granularity(self) -> Granularity {
        Granularity::for_query(None, Some(self.from), Some(self.to))
    }
}

/// The steps of width `step_ms` over `[from, to)`, by the rules of the metrics series:
/// buckets aligned to the epoch, the first holding `from` and the last the last instant
/// before `to`. An open end takes the first or last bucket with data, given as
/// `data` (the first and last window start read). More than [`MAX_SERIES_POINTS`]
/// steps, or more than [`MAX_SERIES_ENTRIES`] entries for a model with `features`
/// features, is an error.
pub fn steps(
    step_ms: i64,
    from: Option<i64>,
    to: Option<i64>,
    data: Option<(i64, i64)>,
    features: usize,
) -> Result<Vec<Step>, String> {
    let first = from
        .or(data.map(|(first, _)| first))
        .map(|f| align_down(f, step_ms));
    let end = to.or(data.map(|(_, last)| align_down(last, step_ms) + step_ms));
    let (Some(first), Some(end)) = (first, end) else {
        return Ok(Vec::new());
    };
    let points = (end - first + step_ms - 1) / step_ms;
    if points > MAX_SERIES_POINTS {
        return Err(format!(
            "the range holds {points} steps; at most {MAX_SERIES_POINTS} are allowed (use a larger step or a shorter range)"
        ));
    }
    let entries = points.max(0) as usize * (features + 2);
    if entries > MAX_SERIES_ENTRIES {
        return Err(format!(
            "the range holds {points} steps of {features} features; at most {MAX_SERIES_ENTRIES} steps × (features + 2) are allowed (use a larger step or a shorter range)"
        ));
    }
    let mut steps = Vec::with_capacity(points.max(0) as usize);
    let mut start = first;
    while start < end {
        steps.push(Step {
            start,
            from: from.map_or(start, |f| f.max(start)),
            to: to.map_or(start + step_ms, |t| t.min(start + step_ms)),
        });
        start += step_ms;
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

    #[test]
    fn steps_follow_the_metrics_series_rules() {
        // [10:30, 13:15) at 1h: 10:00 (from 10:30), 11:00, 12:00, 13:00 (to 13:15).
        let from = 10 * HOUR_MS + 30 * MINUTE_MS;
        let to = 13 * HOUR_MS + 15 * MINUTE_MS;
        let got = steps(HOUR_MS, Some(from), Some(to), None, 3).unwrap();
        let bounds: Vec<(i64, i64, i64)> = got.iter().map(|s| (s.start, s.from, s.to)).collect();
        assert_eq!(
            bounds,
            [
                (10 * HOUR_MS, from, 11 * HOUR_MS),
                (11 * HOUR_MS, 11 * HOUR_MS, 12 * HOUR_MS),
                (12 * HOUR_MS, 12 * HOUR_MS, 13 * HOUR_MS),
                (13 * HOUR_MS, 13 * HOUR_MS, to),
            ]
        );
        let grains: Vec<Granularity> = got.iter().map(|s| s.granularity()).collect();
        assert_eq!(
            grains,
            [
                Granularity::Minute,
                Granularity::Hour,
                Granularity::Hour,
                Granularity::Minute
            ]
        );
        // Open ends take the buckets with data.
        let open = steps(DAY_MS, None, None, Some((DAY_MS + 5, 3 * DAY_MS + 7)), 1).unwrap();
        let starts: Vec<i64> = open.iter().map(|s| s.start).collect();
        assert_eq!(starts, [DAY_MS, 2 * DAY_MS, 3 * DAY_MS]);
        assert_eq!(open[2].to, 4 * DAY_MS);
        assert!(steps(DAY_MS, None, None, None, 1).unwrap().is_empty());
    }

    #[test]
    fn long_series_are_refused() {
        assert!(steps(MINUTE_MS, Some(0), Some(20_001 * MINUTE_MS), None, 0).is_err());
        // 1,000 steps of 98 features: 100,000 entries, the most allowed.
        assert!(steps(MINUTE_MS, Some(0), Some(1_000 * MINUTE_MS), None, 98).is_ok());
        assert!(steps(MINUTE_MS, Some(0), Some(1_000 * MINUTE_MS), None, 99).is_err());
    }
}

//! Windows of event time: the granularities profiles are kept at, and how a query
//! range and step are mapped onto them.
//!
//! Profiles are kept at three granularities at once — minute, hour and day — each
//! aligned to UTC. A query reads the coarsest granularity that divides its step and
//! its range bounds, so a 30-day query at `step=1h` reads 720 hourly profiles rather
//! than 43,200 minute ones.

use serde::{Deserialize, Serialize};

use crate::time::{DAY_MS, HOUR_MS, MINUTE_MS};

/// A window length profiles are stored at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Granularity {
    /// One minute: the base granularity.
    Minute,
    /// One hour.
    Hour,
    /// One day (UTC midnight to midnight).
    Day,
}

impl Granularity {
    /// All granularities, finest first.
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    /// The window length in milliseconds.
    pub fn ms(self) -> i64 {
        match self {
            Granularity::Minute => MINUTE_MS,
            Granularity::Hour => HOUR_MS,
            Granularity::Day => DAY_MS,
        }
    }

    /// The start of the window that holds `ms`.
    pub fn window_start(self, ms: i64) -> i64 {
        crate::time::align_down(ms, self.ms())
    }

    /// The coarsest granularity whose windows tile `step` and start at `from` and `to`.
    pub fn for_query(step_ms: Option<i64>, from: Option<i64>, to: Option<i64>) -> Granularity {
        for granularity in [Granularity::Day, Granularity::Hour] {
            let divides = |x: Option<i64>| x.is_none_or(|x| x.rem_euclid(granularity.ms()) == 0);
            if divides(step_ms) && divides(from) && divides(to) {
                return granularity;
            }
        }
        Granularity::Minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_coarsest_fitting_granularity() {
        assert_eq!(Granularity::for_query(None, None, None), Granularity::Day);
        assert_eq!(
            Granularity::for_query(Some(HOUR_MS), None, None),
            Granularity::Hour
        );
        assert_eq!(
            Granularity::for_query(Some(DAY_MS), Some(HOUR_MS), None),
            Granularity::Hour
        );
        assert_eq!(
            Granularity::for_query(Some(15 * MINUTE_MS), None, None),
            Granularity::Minute
        );
        assert_eq!(
            Granularity::for_query(None, Some(MINUTE_MS), None),
            Granularity::Minute
        );
    }
}

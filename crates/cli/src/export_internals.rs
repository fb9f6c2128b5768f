//! Model internals in `modelwatch export tensorboard`: the answer of
//! `GET .../parameters` written as one TensorBoard run per version
//! (`DIR/MODEL/parameters/VERSION`), its step the training step and its wall time when
//! the tensors were taken. Each tensor is a histogram `parameters/<tensor>` on the
//! summary's own bins, with `sum` and `sum_squares` exact (from the finite values' mean
//! and L2 norm, not from bin midpoints); the training record's scalars
//! (`training/<metric>`) are scalars of their value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use modelwatch_core::parameters::TensorSummary;
use modelwatch_core::time::parse_timestamp_str;
use serde::Deserialize;

use crate::tensorboard::{EventWriter, HistogramProto, SummaryValue, histogram, scalar};

/// Name prefix of the training record (see docs/PYTHON.md, "Keras").
const TRAINING_PREFIX: &str = "training/";

#[derive(Deserialize)]
struct Answer {
    tensors: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    tensor: String,
    version: String,
    points: Vec<Point>,
}

#[derive(Deserialize)]
struct Point {
    step: i64,
    timestamp: String,
    summary: TensorSummary,
}

/// The histogram of a summary, `None` when no value is finite.
pub fn summary_histogram(summary: &TensorSummary) -> Option<HistogramProto> {
    let counts: Vec<f64> = summary.histogram.counts.iter().map(|&c| c as f64).collect();
    let mut histo = HistogramProto::from_bins(&summary.histogram.edges, &counts)?;
    if let (Some(mean), Some(norm)) = (summary.mean, summary.l2_norm) {
        histo.sum = mean * histo.num;
        histo.sum_squares = norm * norm;
    }
    Some(histo)
}

/// What was written: runs (versions), histograms and scalars.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Event files, one per version.
    pub runs: Vec<PathBuf>,
    /// Histogram values written.
    pub histograms: usize,
    /// Scalar values written.
    pub scalars: usize,
}

/// Writes `answer` (a parameters answer) under `dir/VERSION`, each version's directory
/// name made by `component`; `wall_now` is the file's creation time.
pub fn write(
    dir: &Path,
    answer: serde_json::Value,
    wall_now: f64,
    component: impl Fn(&str) -> String,
) -> anyhow::Result<Written> {
    let answer: Answer =
        serde_json::from_value(answer).map_err(|e| anyhow::anyhow!("parameters answer: {e}"))?;
    // version → step → (wall time, values)
    let mut runs: BTreeMap<String, BTreeMap<i64, (f64, Vec<SummaryValue>)>> = BTreeMap::new();
    let mut written = Written::default();
    for series in answer.tensors {
        let steps = runs.entry(series.version).or_default();
        for point in series.points {
            let wall = parse_timestamp_str(&point.timestamp)
                .map_err(|e| anyhow::anyhow!("parameters answer: {e}"))?
                as f64
                / 1000.0;
            let value = if let Some(metric) = series.tensor.strip_prefix(TRAINING_PREFIX) {
                match point.summary.mean {
                    Some(mean) => {
                        written.scalars += 1;
                        scalar(format!("{TRAINING_PREFIX}{metric}"), mean)
                    }
                    None => continue,
                }
            } else {
                match summary_histogram(&point.summary) {
                    Some(histo) => {
                        written.histograms += 1;
                        histogram(format!("parameters/{}", series.tensor), histo)
                    }
                    None => continue,
                }
            };
            let entry = steps.entry(point.step).or_insert((wall, Vec::new()));
            entry.0 = entry.0.min(wall);
            entry.1.push(value);
        }
    }
    for (version, steps) in runs {
        let run_dir = dir.join(component(&version));
        std::fs::create_dir_all(&run_dir)?;
        let mut writer = EventWriter::create(&run_dir, wall_now)?;
        for (step, (wall, values)) in steps {
            writer.write_summary(wall, step, values)?;
        }
        let path = writer.path().to_path_buf();
        writer.finish()?;
        written.runs.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelwatch_core::parameters::summarise;

    #[test]
    fn sums_are_exact_and_the_bins_are_the_summarys() {
        let summary = summarise(&[1.0, 2.0, 4.0, f64::NAN]);
        let histo = summary_histogram(&summary).unwrap();
        assert_eq!(histo.num, 3.0);
        assert!((histo.sum - 7.0).abs() < 1e-12);
        assert!((histo.sum_squares - 21.0).abs() < 1e-12);
        assert_eq!((histo.min, histo.max), (1.0, 4.0));
        assert_eq!(histo.bucket_limit.len(), 64);
        assert!(summary_histogram(&summarise(&[f64::NAN])).is_none());
    }
}

//! The correlations answer from merged co-moments: covariance and Pearson matrices,
//! the reference's Pearson on the same columns, and the change of every pair.

use crate::answer::correlation::{CorrelationPair, CorrelationsAnswer, Matrix, SampleAnswer};
use crate::answer::range::AnswerRange;

use super::{CoMoments, Correlations, PairMoments};

fn matrix(moments: &CoMoments, of: impl Fn(&PairMoments) -> Option<f64>) -> Matrix {
    let k = moments.columns.len();
    (0..k)
        .map(|i| (0..k).map(|j| of(&moments.pair(i, j))).collect())
        .collect()
}

/// The answer of `current` (merged window correlations of `rows` rows) against the
/// reference's co-moments, if any, with `left_out` the features past the cap.
pub fn correlations_answer(
    current: &Correlations,
    reference: Option<&CoMoments>,
    rows: u64,
    left_out: Vec<String>,
) -> CorrelationsAnswer {
    let moments = &current.moments;
    let pearson = matrix(moments, PairMoments::pearson);
    let reference_pearson =
        reference.map(|r| matrix(&r.reshaped(&moments.columns), PairMoments::pearson));
    let k = moments.columns.len();
    let mut pairs = Vec::with_capacity(k * k.saturating_sub(1) / 2);
    for i in 0..k {
        for j in i + 1..k {
            let now = pearson[i][j];
            let then = reference_pearson.as_ref().and_then(|r| r[i][j]);
            pairs.push(CorrelationPair {
                a: moments.columns[i].clone(),
                b: moments.columns[j].clone(),
                change: now.zip(then).map(|(now, then)| now - then),
                pearson: now,
                reference: then,
            });
        }
    }
    let magnitude = |pair: &CorrelationPair| pair.change.map(f64::abs);
    // Largest change first; pairs without a change last; ties in column order.
    pairs.sort_by(|x, y| match (magnitude(x), magnitude(y)) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let max_abs_change = pairs.first().and_then(magnitude);
    CorrelationsAnswer {
        covariance: matrix(moments, PairMoments::covariance),
        features: moments.columns.clone(),
        left_out,
        max_abs_change,
        pairs,
        pearson,
        reference_pearson,
        rows,
        ..CorrelationsAnswer::default()
    }
}

/// The largest |pearson − reference| over pairs of two columns (`correlation_change`).
pub fn max_abs_change(current: &CoMoments, reference: &CoMoments) -> Option<f64> {
    let reference = reference.reshaped(&current.columns);
    let k = current.columns.len();
    let mut largest: Option<f64> = None;
    for i in 0..k {
        for j in i + 1..k {
            if let (Some(now), Some(then)) =
                (current.pair(i, j).pearson(), reference.pair(i, j).pearson())
            {
                let change = (now - then).abs();
                largest = Some(largest.map_or(change, |l| l.max(change)));
            }
        }
    }
    largest
}

/// Why a sample cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleError {
    /// The named parameter (`x` or `y`) is not one of the columns.
    UnknownColumn(&'static str, String),
}

/// The sampled points of columns `x` and `y` of `current` (merged over `range`).
pub fn sample_answer(
    current: &Correlations,
    columns: &[String],
    x: &str,
    y: &str,
    range: AnswerRange,
) -> Result<SampleAnswer, SampleError> {
    let find = |field: &'static str, name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| SampleError::UnknownColumn(field, name.to_string()))
    };
    find("x", x)?;
    find("y", y)?;
    let held = |name: &str| current.moments.columns.iter().position(|c| c == name);
    let sample = current.sample.normalized();
    let points = match (held(x), held(y)) {
        (Some(i), Some(j)) => sample
            .rows
            .iter()
            .map(|row| [row.values[i], row.values[j]])
            .filter(|[a, b]| !a.is_nan() && !b.is_nan())
            .collect(),
        _ => Vec::new(),
    };
    Ok(SampleAnswer {
        capacity: u64::from(sample.capacity),
        from: range.from,
        model: range.model,
        points,
        rows: sample.offered,
        sampled: sample.rows.len() as u64,
        to: range.to,
        version: range.version,
        x: x.to_string(),
        y: y.to_string(),
    })
}

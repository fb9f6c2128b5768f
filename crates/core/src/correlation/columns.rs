//! Which columns of a model get co-moments: the numeric features in definition order,
//! then the model's numeric output (`score` for a binary classifier, `prediction` for a
//! regressor) and, for a regressor, its `label`; at most [`Limits::max_columns`] of them.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::event::{FeatureValue, PredictionEvent, Score, Target};
use crate::schema::{FeatureType, Model, Task};

/// Default of [`Limits::max_columns`].
pub const DEFAULT_MAX_COLUMNS: usize = 64;
/// Default of [`Limits::sample_size`].
pub const DEFAULT_SAMPLE_SIZE: usize = 1000;
/// The name of a regressor's label column.
pub const LABEL: &str = "label";
/// The name of a binary classifier's score column (as in the drift answer; not imported
/// from `drift`, which imports this module).
pub const SCORE: &str = "score";
/// The name of a regressor's output column (as in the drift answer).
pub const PREDICTION: &str = "prediction";

static MAX_COLUMNS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_COLUMNS);
static SAMPLE_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_SAMPLE_SIZE);

/// Largest accepted [`Limits::max_columns`]: 1,000 columns are 500,500 pairs.
pub const MAX_COLUMNS_BOUND: usize = 1000;
/// Largest accepted [`Limits::sample_size`].
pub const SAMPLE_SIZE_BOUND: usize = 100_000;

/// The process-wide bounds of correlation profiles (`[correlations]` in the config
/// file). They are read by every profile built after they are set, so the server sets
/// them once, before it opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Columns that get co-moments (the outputs first, then features in definition order).
    pub max_columns: usize,
    /// Rows kept in each window's scatter sample.
    pub sample_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_columns: DEFAULT_MAX_COLUMNS,
            sample_size: DEFAULT_SAMPLE_SIZE,
        }
    }
}

impl Limits {
    /// Checks the bounds: at least one column and at most [`MAX_COLUMNS_BOUND`], a
    /// sample of at most [`SAMPLE_SIZE_BOUND`] rows (0 keeps no sample).
    pub fn validate(&self) -> Result<(), crate::FieldError> {
        if !(1..=MAX_COLUMNS_BOUND).contains(&self.max_columns) {
            return Err(crate::FieldError::new(
                "max_columns",
                format!("must be 1 to {MAX_COLUMNS_BOUND}"),
            ));
        }
        if self.sample_size > SAMPLE_SIZE_BOUND {
            return Err(crate::FieldError::new(
                "sample_size",
                format!("must be at most {SAMPLE_SIZE_BOUND}"),
            ));
        }
        Ok(())
    }

    /// The limits in force.
    pub fn current() -> Self {
        Self {
            max_columns: MAX_COLUMNS.load(Ordering::Relaxed),
            sample_size: SAMPLE_SIZE.load(Ordering::Relaxed),
        }
    }

    /// Puts these limits in force for the whole process.
    pub fn install(self) {
        MAX_COLUMNS.store(self.max_columns, Ordering::Relaxed);
        SAMPLE_SIZE.store(self.sample_size, Ordering::Relaxed);
    }
}

/// Where a column's value comes from in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Feature(usize),
    Score,
    Prediction,
    Label,
}

/// The columns of a model under a column cap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    /// Names, in answer order: kept features in definition order, then the outputs.
    pub names: Vec<String>,
    /// Numeric features past the cap, in definition order.
    pub left_out: Vec<String>,
    sources: Vec<Source>,
}

impl Columns {
    /// The columns of `model` when at most `max_columns` are kept. The outputs are kept
    /// first (a cap below their number keeps the first of them); features fill the rest.
    pub fn of(model: &Model, max_columns: usize) -> Self {
        let outputs: &[(Source, &str)] = match model.task() {
            Task::BinaryClassification => &[(Source::Score, SCORE)],
            Task::Regression => &[(Source::Prediction, PREDICTION), (Source::Label, LABEL)],
            Task::MulticlassClassification => &[],
        };
        let outputs = &outputs[..outputs.len().min(max_columns)];
        let room = max_columns - outputs.len();
        let mut names = Vec::new();
        let mut sources = Vec::new();
        let mut left_out = Vec::new();
        for (index, spec) in model.features().iter().enumerate() {
            if spec.kind != FeatureType::Numeric {
                continue;
            }
            if names.len() < room {
                names.push(spec.name.clone());
                sources.push(Source::Feature(index));
            } else {
                left_out.push(spec.name.clone());
            }
        }
        for (source, name) in outputs {
            names.push((*name).to_string());
            sources.push(*source);
        }
        Self {
            names,
            left_out,
            sources,
        }
    }

    /// The columns of `model` under the limits in force.
    pub fn current(model: &Model) -> Self {
        Self::of(model, Limits::current().max_columns)
    }

    /// The position of the label column, if kept.
    pub fn label_index(&self) -> Option<usize> {
        self.sources.iter().position(|s| *s == Source::Label)
    }

    /// Writes the event's values into `out` (one per column; NaN where missing).
    pub fn values_into(&self, event: &PredictionEvent, out: &mut Vec<f64>) {
        out.clear();
        out.extend(self.sources.iter().map(|source| match source {
            Source::Feature(index) => match event.features.get(*index) {
                Some(FeatureValue::Number(v)) => *v,
                _ => f64::NAN,
            },
            Source::Score => match &event.score {
                Some(Score::Positive(p)) => *p,
                _ => f64::NAN,
            },
            Source::Prediction => match &event.prediction {
                Some(Target::Value(v)) => *v,
                _ => f64::NAN,
            },
            Source::Label => match &event.label {
                Some(Target::Value(v)) => *v,
                _ => f64::NAN,
            },
        }));
    }
}

//! The drift answer (`GET /api/v1/models/{model}/drift` and a report's `drift`): one
//! entry per feature, the model's prediction and (binary) score, with statistics, the
//! verdict and the distributions for plots; and [`DriftVerdict`], one feature's verdict
//! alone.

use serde::{Deserialize, Serialize};

use super::method::Method;
use super::present;
use super::range::AnswerRange;
use crate::schema::FeatureType;

/// `dataset_drift` when at least this share of features drifted.
pub const DATASET_DRIFT_SHARE: f64 = 0.5;

/// One feature's drift under its method: what alert rules and gauges read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftVerdict {
    /// The method (the feature's override or the default).
    pub method: Method,
    /// The method's statistic; `None` without data to compare.
    pub statistic: Option<f64>,
    /// The threshold the statistic is judged against.
    pub threshold: f64,
    /// Whether it drifted; `None` without a statistic.
    pub drifted: Option<bool>,
}

/// How many features got a verdict, and how many drifted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriftTally {
    /// Features with a verdict.
    pub judged: u64,
    /// Features that drifted.
    pub drifted: u64,
}

impl DriftTally {
    /// Counts one verdict.
    pub fn add(&mut self, drifted: Option<bool>) {
        if let Some(drifted) = drifted {
            self.judged += 1;
            self.drifted += drifted as u64;
        }
    }

    /// Share of judged features that drifted; `None` when none was judged.
    pub fn share(self) -> Option<f64> {
        (self.judged > 0).then(|| self.drifted as f64 / self.judged as f64)
    }

    /// Whether the data set drifted: at least [`DATASET_DRIFT_SHARE`] of the judged
    /// features did.
    pub fn dataset_drift(self) -> bool {
        self.share().is_some_and(|s| s >= DATASET_DRIFT_SHARE)
    }
}

/// Every feature's verdict and the prediction's, without statistics tables or
/// distributions: what the gauges and `drift_share` rules need.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftVerdicts {
    /// `(feature, verdict)` in the model's order.
    pub features: Vec<(String, DriftVerdict)>,
    /// The model's prediction.
    pub prediction: DriftVerdict,
    /// The features' tally (the prediction does not count).
    pub tally: DriftTally,
}

/// The statistics of a numeric feature, every method's (`None` where not finite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericDriftStats {
    /// Jensen–Shannon distance on the reference deciles.
    pub jensen_shannon: Option<f64>,
    /// Kolmogorov–Smirnov p-value.
    pub ks_p_value: Option<f64>,
    /// Kolmogorov–Smirnov statistic.
    pub ks_statistic: Option<f64>,
    /// Population stability index on the reference deciles.
    pub psi: Option<f64>,
    /// Wasserstein distance.
    pub wasserstein: Option<f64>,
    /// Wasserstein distance over the reference's standard deviation.
    pub wasserstein_norm: Option<f64>,
}

/// The statistics of a categorical feature (or of a numeric one compared by value).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoricalDriftStats {
    /// Chi-squared p-value.
    pub chi2_p_value: Option<f64>,
    /// Chi-squared statistic.
    pub chi2_statistic: Option<f64>,
    /// Jensen–Shannon distance.
    pub jensen_shannon: Option<f64>,
    /// Current categories the reference does not have.
    pub new_categories: u64,
    /// Population stability index.
    pub psi: Option<f64>,
}

/// A feature entry's `stats`: those of its type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DriftStats {
    /// A categorical feature's (tried first: only it has `new_categories`).
    Categorical(CategoricalDriftStats),
    /// A numeric feature's.
    Numeric(NumericDriftStats),
}

/// The `kind` of a [`Histogram`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistogramKind {
    /// `"histogram"`.
    #[default]
    #[serde(rename = "histogram")]
    Histogram,
}

/// The `kind` of [`Bars`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum BarsKind {
    /// `"bars"`.
    #[default]
    #[serde(rename = "bars")]
    Bars,
}

/// Counts on equal-width bins (numpy's `histogram` edges).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Current counts per bin.
    pub current: Vec<u64>,
    /// The bins' edges, one more than the bins.
    pub edges: Vec<f64>,
    /// `"histogram"`.
    pub kind: HistogramKind,
    /// Reference counts per bin.
    pub reference: Vec<u64>,
}

/// Counts per category (the most frequent, then `(other values)`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bars {
    /// The categories.
    pub categories: Vec<String>,
    /// Current counts per category.
    pub current: Vec<u64>,
    /// `"bars"`.
    pub kind: BarsKind,
    /// Reference counts per category.
    pub reference: Vec<u64>,
}

/// Reference and current counts of one feature on shared bins, for plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Distribution {
    /// A many-valued numeric feature.
    Histogram(Histogram),
    /// A categorical feature, or a numeric one with few values.
    Bars(Bars),
}

impl Distribution {
    /// The reference counts.
    pub fn reference(&self) -> &[u64] {
        match self {
            Distribution::Histogram(h) => &h.reference,
            Distribution::Bars(b) => &b.reference,
        }
    }

    /// The current counts.
    pub fn current(&self) -> &[u64] {
        match self {
            Distribution::Histogram(h) => &h.current,
            Distribution::Bars(b) => &b.current,
        }
    }
}

/// One entry of the drift answer: a feature, the prediction or the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    /// A numeric feature's statistics as categories (few values, or `chi2` asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical_stats: Option<CategoricalDriftStats>,
    /// Current values compared.
    pub current_count: u64,
    /// Counts for plots; `None` when the reference lacks the feature.
    pub distribution: Option<Distribution>,
    /// The verdict; `None` without a statistic.
    pub drifted: Option<bool>,
    /// The method.
    pub method: Method,
    /// The feature (`prediction`, `score`).
    pub name: String,
    /// Current values binned against an earlier reference, left out of the statistics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_values: Option<u64>,
    /// The method's statistic.
    pub statistic: Option<f64>,
    /// Every statistic of the feature's type; `None` without data to compare.
    pub stats: Option<DriftStats>,
    /// The threshold.
    pub threshold: f64,
    /// The feature's type.
    #[serde(rename = "type")]
    pub kind: FeatureType,
}

impl FeatureDrift {
    /// The entry's verdict.
    pub fn verdict(&self) -> DriftVerdict {
        DriftVerdict {
            method: self.method,
            statistic: self.statistic,
            threshold: self.threshold,
            drifted: self.drifted,
        }
    }
}

/// The drift answer. Over HTTP it carries its range (`from`, `model`, `to`, `version`);
/// inside a report it does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftAnswer {
    /// Current rows.
    pub current_count: u64,
    /// Whether the data set drifted.
    pub dataset_drift: bool,
    /// Share of judged features that drifted; `None` when none was judged.
    pub drift_share: Option<f64>,
    /// Features that drifted.
    pub drifted_features: u64,
    /// One entry per feature, in the model's order.
    pub features: Vec<FeatureDrift>,
    /// Features with a verdict.
    pub features_total: u64,
    /// Start of the range (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub from: Option<Option<String>>,
    /// The model (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's prediction.
    pub prediction: FeatureDrift,
    /// Reference rows.
    pub reference_count: u64,
    /// The positive class's score (binary classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<FeatureDrift>,
    /// With a step: the answer of each step's window alone, each with its `start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<DriftAnswer>>,
    /// Start of the step's window (RFC 3339), in an entry of `series`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// The step (a duration such as `1d`), with a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// End of the range (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub to: Option<Option<String>>,
    /// The version queried (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub version: Option<Option<String>>,
}

impl DriftAnswer {
    /// The answer with its range, as HTTP serves it.
    pub fn in_range(mut self, range: AnswerRange) -> Self {
        self.model = Some(range.model);
        self.from = Some(range.from);
        self.to = Some(range.to);
        self.version = Some(range.version);
        self
    }

    /// The answer with a series: `step` written as a duration, and each step's answer
    /// (without range) with the start of its window.
    pub fn with_series(mut self, step: String, series: Vec<(String, DriftAnswer)>) -> Self {
        self.step = Some(step);
        self.series = Some(
            series
                .into_iter()
                .map(|(start, mut entry)| {
                    entry.start = Some(start);
                    entry
                })
                .collect(),
        );
        self
    }

    /// The entry of feature `name`.
    pub fn feature(&self, name: &str) -> Option<&FeatureDrift> {
        self.features.iter().find(|f| f.name == name)
    }

    /// The features, then the prediction and the score: every entry.
    pub fn entries(&self) -> impl Iterator<Item = &FeatureDrift> {
        self.features
            .iter()
            .chain(std::iter::once(&self.prediction))
            .chain(&self.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_distributions_read_back_as_their_own_kind() {
        let numeric = DriftStats::Numeric(NumericDriftStats {
            ks_p_value: Some(0.5),
            ..Default::default()
        });
        let categorical = DriftStats::Categorical(CategoricalDriftStats {
            new_categories: 2,
            ..Default::default()
        });
        for stats in [numeric, categorical] {
            let text = serde_json::to_string(&stats).unwrap();
            assert_eq!(serde_json::from_str::<DriftStats>(&text).unwrap(), stats);
        }
        let bars = Distribution::Bars(Bars {
            categories: vec!["a".into()],
            current: vec![1],
            reference: vec![2],
            ..Default::default()
        });
        let text = serde_json::to_string(&bars).unwrap();
        assert_eq!(
            text,
            r#"{"categories":["a"],"current":[1],"kind":"bars","reference":[2]}"#
        );
        assert_eq!(serde_json::from_str::<Distribution>(&text).unwrap(), bars);
        let histogram = r#"{"current":[],"edges":[],"kind":"histogram","reference":[]}"#;
        let read: Distribution = serde_json::from_str(histogram).unwrap();
        assert!(matches!(read, Distribution::Histogram(_)));
        assert_eq!(serde_json::to_string(&read).unwrap(), histogram);
    }

    #[test]
    fn the_tally_needs_half_the_judged_features() {
        let mut tally = DriftTally::default();
        assert_eq!((tally.share(), tally.dataset_drift()), (None, false));
        for verdict in [Some(true), None, Some(false)] {
            tally.add(verdict);
        }
        assert_eq!(tally.share(), Some(0.5));
        assert!(tally.dataset_drift());
    }
}

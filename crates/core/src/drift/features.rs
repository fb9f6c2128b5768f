//! Per-window feature profiles: data quality (missing values, type errors, moments,
//! a quantile sketch, category counts) and the current side of every drift statistic
//! (counts and sums per reference slot, counts per reference decile), all mergeable.
//!
//! Memory per feature per window is bounded: a numeric feature holds at most
//! `2·1001 + 1` slots of (count, sum), 10 decile counts, up to 8 exact small values, up to
//! [`EXACT_VALUES`] exact values and a rank sketch (about 3,000 values at most); a
//! categorical feature at most [`MAX_CATEGORIES`] category counts plus an overflow count.
//!
//! Encoding 3 is encoding 2 followed by the correlations (co-moments and scatter
//! sample). Encoding 2 holds the rank sketch (read with no correlations). Encoding 1
//! (before it) held a relative-error sketch; such a profile is read through [`legacy`]
//! and its buckets carried into a rank sketch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::correlation::Correlations;
use crate::drift::reference::{
    NumericReference, PREDICTION, ReferenceFeature, ReferenceProfile, SCORE,
};
use crate::event::{FeatureValue, PredictionEvent, Score, Target};
use crate::schema::{FeatureType, Model};
use crate::sketch::RankSketch;

/// Most distinct categories a window keeps per feature; rarer ones are folded into
/// `other` when the cap is passed (documented in docs/STATISTICS.md).
pub const MAX_CATEGORIES: usize = 1000;
/// Exact value counts of a numeric feature are kept while it has at most this many
/// distinct values (for the categorical view of low-cardinality numeric features).
pub const MAX_SMALL_VALUES: usize = 8;
/// A numeric feature keeps its exact values while a window (or a merge of windows) has
/// at most this many; KS and Wasserstein are then computed from them exactly.
pub const EXACT_VALUES: usize = 4096;
/// The layout tag written by [`WindowFeatures::encode`].
const ENCODING_VERSION: u8 = 3;

/// Current values of a numeric feature per reference slot and decile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Binned {
    /// The reference generation the slots belong to.
    pub generation: u64,
    /// `(slot, (count, sum of values))`, sorted by slot.
    pub slots: Vec<(u32, (u64, f64))>,
    /// Counts per reference decile bin.
    pub deciles: Vec<u64>,
}

impl Binned {
    fn count(&self) -> u64 {
        self.slots.iter().map(|(_, (n, _))| n).sum()
    }
}

/// A numeric feature in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Rows where the value was null or absent.
    pub missing: u64,
    /// Rows where the value had the wrong type (also counted as missing in reports).
    pub type_errors: u64,
    /// Quantiles (a rank guarantee), exact min/max and count of the values.
    pub sketch: RankSketch,
    /// Welford mean of the values.
    pub mean: f64,
    /// Welford sum of squared deviations.
    pub m2: f64,
    /// Exact counts while there are at most [`MAX_SMALL_VALUES`] distinct values.
    pub small_values: Option<Vec<(f64, u64)>>,
    /// Every value, while there are at most [`EXACT_VALUES`] of them.
    pub exact: Option<Vec<f64>>,
    /// Values per reference slot, when a reference existed.
    pub bins: Option<Binned>,
    /// Values not binned against the newest reference generation seen.
    pub unbinned: u64,
}

impl Default for NumericProfile {
    fn default() -> Self {
        Self {
            missing: 0,
            type_errors: 0,
            sketch: RankSketch::default(),
            mean: 0.0,
            m2: 0.0,
            small_values: Some(Vec::new()),
            exact: Some(Vec::new()),
            bins: None,
            unbinned: 0,
        }
    }
}

/// A categorical feature (or the predicted class) in one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Rows where the value was null or absent.
    pub missing: u64,
    /// Rows where the value had the wrong type.
    pub type_errors: u64,
    /// Value → count.
    pub counts: BTreeMap<String, u64>,
    /// Values folded away past [`MAX_CATEGORIES`].
    pub other: u64,
}

/// One feature in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeatureProfile {
    /// Numeric.
    Numeric(NumericProfile),
    /// Categorical.
    Categorical(CategoricalProfile),
}

/// Every feature of a model in one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowFeatures {
    /// Predictions in the window.
    pub rows: u64,
    /// Values of features the model does not define (counted, never stored).
    pub unknown_features: u64,
    /// By feature name (plus `prediction` and `score`).
    pub features: BTreeMap<String, FeatureProfile>,
    /// Co-moments and the scatter sample of the numeric columns. Encoded after the
    /// other fields (see [`WindowFeatures::encode`]).
    #[serde(skip)]
    pub correlations: Correlations,
}

pub mod legacy {
    //! Encoding 1 of [`WindowFeatures`], written before numeric
    //! features had a rank sketch: the same fields, with the relative-error
    //! [`QuantileSketch`] in place of the rank sketch.
    //!
    //! [`WindowFeaturesV1::upgrade`] carries each bucket into a rank sketch with its exact
    //! count, the exact minimum and maximum as themselves. An old window therefore answers
    //! its quantiles exactly while it still has its exact values (at most 4,096), and
    //! otherwise as it did before: each value is its bucket's representative, within 0.5%
    //! of itself (the old guarantee, relative, not in rank), and ranks are as the rank
    //! sketch keeps them. Everything else (counts, moments, bins) is read unchanged.

    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::{
        Binned, CategoricalProfile, Correlations, FeatureProfile, NumericProfile, WindowFeatures,
    };
    use crate::sketch::{QuantileSketch, RankSketch};

    /// A numeric feature in encoding 1.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct NumericProfileV1 {
        missing: u64,
        type_errors: u64,
        sketch: QuantileSketch,
        mean: f64,
        m2: f64,
        small_values: Option<Vec<(f64, u64)>>,
        exact: Option<Vec<f64>>,
        bins: Option<Binned>,
        unbinned: u64,
    }

    /// A feature in encoding 1.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub enum FeatureProfileV1 {
        /// Numeric.
        Numeric(NumericProfileV1),
        /// Categorical (unchanged).
        Categorical(CategoricalProfile),
    }

    /// [`WindowFeatures`] in encoding 1.
    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct WindowFeaturesV1 {
        rows: u64,
        unknown_features: u64,
        features: BTreeMap<String, FeatureProfileV1>,
    }

    impl WindowFeaturesV1 {
        /// The profile in today's form.
        pub fn upgrade(self) -> WindowFeatures {
            let features = self
                .features
                .into_iter()
                .map(|(name, profile)| {
                    let profile = match profile {
                        FeatureProfileV1::Categorical(p) => FeatureProfile::Categorical(p),
                        FeatureProfileV1::Numeric(p) => {
                            let mut sketch = RankSketch::default();
                            match &p.exact {
                                // The exact values are the better source.
                                Some(values) if values.len() as u64 == p.sketch.count() => {
                                    values.iter().for_each(|v| sketch.insert(*v))
                                }
                                _ => {
                                    for (value, n) in p.sketch.weighted_values() {
                                        sketch.insert_weighted(value, n);
                                    }
                                }
                            }
                            FeatureProfile::Numeric(NumericProfile {
                                missing: p.missing,
                                type_errors: p.type_errors,
                                sketch,
                                mean: p.mean,
                                m2: p.m2,
                                small_values: p.small_values,
                                exact: p.exact,
                                bins: p.bins,
                                unbinned: p.unbinned,
                            })
                        }
                    };
                    (name, profile)
                })
                .collect();
            WindowFeatures {
                rows: self.rows,
                unknown_features: self.unknown_features,
                features,
                correlations: Correlations::default(),
            }
        }
    }

    impl WindowFeatures {
        /// Reads what [`Self::encode`] wrote, or what an older version wrote (encoding 1).
        pub fn decode(bytes: &[u8]) -> Result<Self, crate::profile::DecodeError> {
            match bytes.split_first() {
                Some((1, _)) => crate::profile::decode_tagged::<WindowFeaturesV1>(1, bytes)
                    .map(WindowFeaturesV1::upgrade),
                Some((&super::ENCODING_VERSION, rest)) => {
                    let (mut features, rest): (WindowFeatures, _) =
                        postcard::take_from_bytes(rest)?;
                    let (moments, sample) = postcard::from_bytes(rest)?;
                    features.correlations = Correlations::from_parts(moments, sample);
                    Ok(features)
                }
                _ => crate::profile::decode_tagged(2, bytes),
            }
        }
    }
}

fn merge_small_values(into: &mut Option<Vec<(f64, u64)>>, from: &Option<Vec<(f64, u64)>>) {
    match (into.as_mut(), from) {
        (Some(values), Some(other)) => {
            for (v, n) in other {
                match values.iter_mut().find(|(x, _)| x == v) {
                    Some((_, count)) => *count += n,
                    None => values.push((*v, *n)),
                }
            }
            if values.len() > MAX_SMALL_VALUES {
                *into = None;
            } else {
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
        }
        _ => *into = None,
    }
}

impl NumericProfile {
    fn observe(&mut self, value: f64, reference: Option<(u64, &NumericReference)>) {
        self.sketch.insert(value);
        let n = self.sketch.count() as f64;
        let delta = value - self.mean;
        self.mean += delta / n;
        self.m2 += delta * (value - self.mean);
        if let Some(values) = &mut self.small_values {
            let full = values.len() >= MAX_SMALL_VALUES;
            match values.iter_mut().find(|(v, _)| *v == value) {
                Some((_, n)) => *n += 1,
                None if !full => {
                    values.push((value, 1));
                    values.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                None => self.small_values = None,
            }
        }
        if let Some(values) = &mut self.exact {
            if values.len() < EXACT_VALUES {
                values.push(value);
            } else {
                self.exact = None;
            }
        }
        match reference {
            Some((generation, reference)) => {
                let bins = self.bins.get_or_insert_with(|| Binned {
                    generation,
                    ..Binned::default()
                });
                if bins.generation != generation {
                    // A newer reference: what was binned against the old one is stale.
                    self.unbinned += bins.count();
                    *bins = Binned {
                        generation,
                        ..Binned::default()
                    };
                }
                let slot = reference.slot_of(value) as u32;
                match bins.slots.binary_search_by_key(&slot, |s| s.0) {
                    Ok(i) => {
                        bins.slots[i].1.0 += 1;
                        bins.slots[i].1.1 += value;
                    }
                    Err(i) => bins.slots.insert(i, (slot, (1, value))),
                }
                if bins.deciles.len() != reference.decile_counts.len() {
                    bins.deciles = vec![0; reference.decile_counts.len()];
                }
                bins.deciles[reference.decile_of(value)] += 1;
            }
            None => self.unbinned += 1,
        }
    }

    fn merge(&mut self, other: &NumericProfile) {
        self.missing += other.missing;
        self.type_errors += other.type_errors;
        let (n_a, n_b) = (self.sketch.count() as f64, other.sketch.count() as f64);
        if n_b > 0.0 {
            let n = n_a + n_b;
            let delta = other.mean - self.mean;
            self.m2 += other.m2 + delta * delta * n_a * n_b / n;
            self.mean += delta * n_b / n;
        }
        self.sketch.merge(&other.sketch);
        merge_small_values(&mut self.small_values, &other.small_values);
        match (&mut self.exact, &other.exact) {
            (Some(ours), Some(theirs)) if ours.len() + theirs.len() <= EXACT_VALUES => {
                ours.extend(theirs)
            }
            _ => self.exact = None,
        }
        self.unbinned += other.unbinned;
        match (&mut self.bins, &other.bins) {
            (_, None) => {}
            (None, Some(theirs)) => self.bins = Some(theirs.clone()),
            (Some(ours), Some(theirs)) if ours.generation == theirs.generation => {
                crate::sketch::merge_sorted(&mut ours.slots, &theirs.slots, |a, b| {
                    (a.0 + b.0, a.1 + b.1)
                });
                if ours.deciles.len() < theirs.deciles.len() {
                    ours.deciles.resize(theirs.deciles.len(), 0);
                }
                for (a, b) in ours.deciles.iter_mut().zip(&theirs.deciles) {
                    *a += b;
                }
            }
            (Some(ours), Some(theirs)) => {
                // Keep the newer generation's bins; the older ones' values are stale.
                if theirs.generation > ours.generation {
                    self.unbinned += ours.count();
                    *ours = theirs.clone();
                } else {
                    self.unbinned += theirs.count();
                }
            }
        }
    }

    /// The `q`-quantiles with numpy's default (linear) interpolation: exact from the
    /// exact values while there are at most [`EXACT_VALUES`], else from the rank sketch
    /// (between the exact quantiles at `q ± 0.005`).
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        match &self.exact {
            Some(values) if !values.is_empty() && values.len() as u64 == self.sketch.count() => {
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                qs.iter()
                    .map(|q| {
                        let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
                        let lower = position.floor() as usize;
                        let fraction = position - lower as f64;
                        Some(match sorted.get(lower + 1) {
                            Some(high) if fraction > 0.0 => {
                                sorted[lower] + fraction * (high - sorted[lower])
                            }
                            _ => sorted[lower],
                        })
                    })
                    .collect()
            }
            _ => self.sketch.quantiles(qs),
        }
    }

    /// Sample standard deviation (ddof = 1, as pandas), or `None` below two values.
    pub fn std(&self) -> Option<f64> {
        let n = self.sketch.count();
        (n >= 2).then(|| (self.m2.max(0.0) / (n - 1) as f64).sqrt())
    }

    /// The bins, if they belong to `generation`.
    pub fn bins_for(&self, generation: u64) -> Option<&Binned> {
        self.bins.as_ref().filter(|b| b.generation == generation)
    }
}

impl CategoricalProfile {
    fn observe(&mut self, value: &str) {
        let full = self.counts.len() >= MAX_CATEGORIES;
        match self.counts.get_mut(value) {
            Some(n) => *n += 1,
            None if !full => {
                self.counts.insert(value.to_string(), 1);
            }
            None => self.other += 1,
        }
    }

    fn merge(&mut self, other: &CategoricalProfile) {
        self.missing += other.missing;
        self.type_errors += other.type_errors;
        self.other += other.other;
        for (value, n) in &other.counts {
            *self.counts.entry(value.clone()).or_insert(0) += n;
        }
        if self.counts.len() > MAX_CATEGORIES {
            // Keep the most frequent categories; fold the rest into `other`.
            let mut by_count: Vec<(String, u64)> =
                std::mem::take(&mut self.counts).into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            self.other += by_count[MAX_CATEGORIES..]
                .iter()
                .map(|(_, n)| n)
                .sum::<u64>();
            by_count.truncate(MAX_CATEGORIES);
            self.counts = by_count.into_iter().collect();
        }
    }

    /// Rows with a value (including folded ones).
    pub fn present(&self) -> u64 {
        self.counts.values().sum::<u64>() + self.other
    }
}

impl FeatureProfile {
    fn new(kind: FeatureType) -> Self {
        match kind {
            FeatureType::Numeric => FeatureProfile::Numeric(NumericProfile::default()),
            FeatureType::Categorical => FeatureProfile::Categorical(CategoricalProfile::default()),
        }
    }

    fn merge(&mut self, other: &FeatureProfile) {
        match (self, other) {
            (FeatureProfile::Numeric(a), FeatureProfile::Numeric(b)) => a.merge(b),
            (FeatureProfile::Categorical(a), FeatureProfile::Categorical(b)) => a.merge(b),
            // A feature's type cannot change (the schema refuses it), so kinds agree.
            _ => {}
        }
    }

    /// Rows in which the feature was missing or mistyped.
    pub fn missing(&self) -> u64 {
        match self {
            FeatureProfile::Numeric(p) => p.missing + p.type_errors,
            FeatureProfile::Categorical(p) => p.missing + p.type_errors,
        }
    }
}

fn numeric_reference<'a>(
    reference: Option<&'a ReferenceProfile>,
    name: &str,
) -> Option<(u64, &'a NumericReference)> {
    let reference = reference?;
    match reference.features.get(name)? {
        ReferenceFeature::Numeric(numeric) if !numeric.edges.is_empty() => {
            Some((reference.generation, numeric))
        }
        _ => None,
    }
}

impl WindowFeatures {
    fn profile(&mut self, name: &str, kind: FeatureType) -> &mut FeatureProfile {
        if !self.features.contains_key(name) {
            self.features
                .insert(name.to_string(), FeatureProfile::new(kind));
        }
        self.features.get_mut(name).expect("inserted above")
    }

    fn numeric(
        &mut self,
        name: &str,
        value: Option<f64>,
        type_error: bool,
        reference: Option<&ReferenceProfile>,
    ) {
        let bins = numeric_reference(reference, name);
        if let FeatureProfile::Numeric(profile) = self.profile(name, FeatureType::Numeric) {
            match value {
                Some(v) => profile.observe(v, bins),
                None if type_error => profile.type_errors += 1,
                None => profile.missing += 1,
            }
        }
    }

    fn categorical(&mut self, name: &str, value: Option<&str>, type_error: bool) {
        if let FeatureProfile::Categorical(profile) = self.profile(name, FeatureType::Categorical) {
            match value {
                Some(v) => profile.observe(v),
                None if type_error => profile.type_errors += 1,
                None => profile.missing += 1,
            }
        }
    }

    /// Adds one event's inputs, prediction and score, binning numeric values against
    /// `reference` when there is one.
    pub fn observe(
        &mut self,
        model: &Model,
        event: &PredictionEvent,
        reference: Option<&ReferenceProfile>,
    ) {
        self.rows += 1;
        self.unknown_features += event.unknown_features as u64;
        for (spec, value) in model.features().iter().zip(&event.features) {
            let type_error = matches!(value, FeatureValue::TypeError);
            match (spec.kind, value) {
                (FeatureType::Numeric, FeatureValue::Number(v)) => {
                    self.numeric(&spec.name, Some(*v), false, reference)
                }
                (FeatureType::Numeric, _) => self.numeric(&spec.name, None, type_error, reference),
                (FeatureType::Categorical, FeatureValue::Category(s)) => {
                    self.categorical(&spec.name, Some(s), false)
                }
                (FeatureType::Categorical, _) => self.categorical(&spec.name, None, type_error),
            }
        }
        match &event.prediction {
            Some(Target::Class(class)) => self.categorical(PREDICTION, Some(class), false),
            Some(Target::Value(v)) => self.numeric(PREDICTION, Some(*v), false, reference),
            None if model.task().is_classification() => self.categorical(PREDICTION, None, false),
            None => self.numeric(PREDICTION, None, false, reference),
        }
        if model.task() == crate::schema::Task::BinaryClassification {
            let score = match &event.score {
                Some(Score::Positive(p)) => Some(*p),
                _ => None,
            };
            self.numeric(SCORE, score, false, reference);
        }
        self.correlations.observe(model, event);
    }

    /// Adds the label of an event observed earlier without one (labels change only
    /// the correlations of a feature window).
    pub fn observe_late_label(&mut self, model: &Model, event: &PredictionEvent) {
        self.correlations.observe_late_label(model, event);
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &WindowFeatures) {
        self.rows += other.rows;
        self.unknown_features += other.unknown_features;
        self.correlations.merge(&other.correlations);
        for (name, profile) in &other.features {
            match self.features.get_mut(name) {
                Some(ours) => ours.merge(profile),
                None => {
                    self.features.insert(name.clone(), profile.clone());
                }
            }
        }
    }

    /// Roughly how many bytes the profile holds in memory (for cache budgets).
    pub fn approximate_bytes(&self) -> usize {
        let per_feature: usize = self
            .features
            .values()
            .map(|profile| match profile {
                FeatureProfile::Numeric(p) => {
                    256 + p.exact.as_ref().map_or(0, |e| e.len() * 8)
                        + p.bins
                            .as_ref()
                            .map_or(0, |b| b.slots.len() * 24 + b.deciles.len() * 8)
                        + p.sketch.item_count() * 8
                }
                FeatureProfile::Categorical(p) => {
                    128 + p.counts.keys().map(|k| k.len() + 48).sum::<usize>()
                }
            })
            .sum();
        64 + per_feature + self.correlations.approximate_bytes()
    }

    /// A compact encoding for the store: encoding 3 is encoding 2 (with the rank
    /// sketch) followed by the correlations, their sample normalised.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = crate::profile::encode_tagged(ENCODING_VERSION, self);
        let correlations = (
            &self.correlations.moments,
            &*self.correlations.sample.normalized(),
        );
        bytes.extend(postcard::to_stdvec(&correlations).unwrap_or_default());
        bytes
    }
}

//! The reference profile: what drift is measured against, computed exactly from the
//! reference data set once, when it is uploaded.
//!
//! For a numeric feature it keeps *fine edges* — the distinct reference values at the
//! ranks `k·(n−1)/1000`, k = 0..1000 — which cut the line into *slots*: below the
//! minimum, each edge value itself, the open interval between two edges, and above the
//! maximum. Current values are counted (and summed) per slot, which makes the
//! two-sample statistics computable from window profiles; see `stats` for the bounds.
//! It also keeps the reference deciles (the PSI and Jensen–Shannon bins of API.md) with
//! their counts, and the exact min, max, mean and population standard deviation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::correlation::{CoMoments, Columns};
use crate::estimate::{Estimation, EstimationBuilder};
use crate::event::{FeatureValue, PredictionEvent, Score, Target};
use crate::schema::{FeatureType, Model};

/// Number of fine quantile steps: each open slot holds at most about 1/1000 of the
/// reference, which bounds the KS error at 0.001.
pub const FINE_STEPS: usize = 1000;
/// Reference values at each end that are edges of their own.
pub const TAIL_EDGES: usize = 100;
/// A numeric feature whose reference has at most this many distinct values is also
/// compared as categorical (chi-squared / Jensen–Shannon), as Evidently does.
pub const LOW_CARDINALITY: usize = 5;
/// Name of the pseudo-feature holding the model's predictions.
pub const PREDICTION: &str = "prediction";
/// Name of the pseudo-feature holding a binary classifier's scores.
pub const SCORE: &str = "score";

/// The reference of one numeric feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericReference {
    /// Values present.
    pub count: u64,
    /// Rows without a usable value.
    pub missing: u64,
    /// Exact minimum (`NaN` when empty).
    pub min: f64,
    /// Exact maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation (ddof = 0).
    pub std_population: f64,
    /// The distinct values when there are at most [`LOW_CARDINALITY`] of them.
    pub few_values: Option<Vec<(f64, u64)>>,
    /// Fine edges: distinct reference values, ascending.
    pub edges: Vec<f64>,
    /// Count and sum of reference values per slot (`2·edges + 1` slots).
    pub slots: Vec<(u64, f64)>,
    /// Reference deciles (numpy's linear method), de-duplicated: the PSI bins.
    pub decile_edges: Vec<f64>,
    /// Reference counts per decile bin (`decile_edges + 1` bins, right-closed).
    pub decile_counts: Vec<u64>,
}

/// The reference of one categorical feature (or of the predicted class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalReference {
    /// Rows with a value.
    pub count: u64,
    /// Rows without a usable value.
    pub missing: u64,
    /// Value → count.
    pub counts: BTreeMap<String, u64>,
}

/// The reference of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReferenceFeature {
    /// A numeric feature.
    Numeric(NumericReference),
    /// A categorical feature.
    Categorical(CategoricalReference),
}

/// The tag of an encoded reference: encoding 1 followed by the estimation, then the
/// co-moments of the numeric columns.
const ENCODING_VERSION: u8 = 3;
/// Encoding 1 followed by the estimation (still read, with no co-moments).
const ENCODING_WITHOUT_CORRELATIONS: u8 = 2;
/// The layout before estimated performance (still read, with no estimation).
const ENCODING_WITHOUT_ESTIMATION: u8 = 1;

/// The reference data set, profiled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceProfile {
    /// Increases with every upload; window bins record the generation they used.
    pub generation: u64,
    /// Rows in the reference.
    pub rows: u64,
    /// Per feature (and `prediction`, `score`).
    pub features: BTreeMap<String, ReferenceFeature>,
    /// The calibration of estimated performance, when the reference has labels and
    /// scores (encoded after the other fields, see [`ReferenceProfile::encode`]).
    #[serde(skip)]
    pub estimation: Option<Estimation>,
    /// Pairwise-complete co-moments of the numeric columns, for the change of
    /// correlations (encoded last; empty when read from encoding 2 or 1).
    #[serde(skip)]
    pub correlations: CoMoments,
}

/// numpy's linear quantile of sorted values (including its `t ≥ 0.5` form of the lerp,
/// so that edges equal numpy's bit for bit).
pub fn numpy_quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let t = position - lower as f64;
    let (a, b) = (sorted[lower], sorted[upper]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

impl NumericReference {
    /// Profiles `values` (any order; non-finite values must not be present).
    pub fn from_values(mut values: Vec<f64>, missing: u64) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let mut reference = NumericReference {
            count: n as u64,
            missing,
            min: f64::NAN,
            max: f64::NAN,
            mean: f64::NAN,
            std_population: f64::NAN,
            few_values: None,
            edges: Vec::new(),
            slots: vec![(0, 0.0)],
            decile_edges: Vec::new(),
            decile_counts: vec![0],
        };
        if n == 0 {
            return reference;
        }
        reference.min = values[0];
        reference.max = values[n - 1];
        let mean = values.iter().sum::<f64>() / n as f64;
        reference.mean = mean;
        reference.std_population =
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        let mut distinct: Vec<(f64, u64)> = Vec::new();
        for v in &values {
            match distinct.last_mut() {
                Some((last, count)) if *last == *v => *count += 1,
                _ => {
                    distinct.push((*v, 1));
                    if distinct.len() > LOW_CARDINALITY {
                        break;
                    }
                }
            }
        }
        if distinct.len() <= LOW_CARDINALITY {
            reference.few_values = Some(distinct);
        }
        // Quantile steps, plus every value of the outer 1% (at most 100 a side): tail
        // slots are wide, and the Wasserstein error of a slot grows with its width.
        let tail = (n / 100).min(TAIL_EDGES);
        let mut edges: Vec<f64> = (0..=FINE_STEPS)
            .map(|k| values[k * (n - 1) / FINE_STEPS])
            .chain(values[..tail].iter().copied())
            .chain(values[n - tail..].iter().copied())
            .collect();
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        // A small reference gives few, wide slots; cut each gap evenly so that current
        // values are still binned finely (these extra edges hold no reference mass).
        if edges.len() > 1 && edges.len() < FINE_STEPS {
            let per_gap = FINE_STEPS / (edges.len() - 1);
            let mut finer = Vec::with_capacity(edges.len() * per_gap);
            for pair in edges.windows(2) {
                finer.push(pair[0]);
                for j in 1..per_gap {
                    let cut = pair[0] + (pair[1] - pair[0]) * j as f64 / per_gap as f64;
                    if cut > pair[0] && cut < pair[1] {
                        finer.push(cut);
                    }
                }
            }
            finer.push(edges[edges.len() - 1]);
            finer.dedup();
            edges = finer;
        }
        reference.edges = edges;
        reference.slots = vec![(0, 0.0); 2 * reference.edges.len() + 1];
        let mut deciles: Vec<f64> = (1..10)
            .map(|k| numpy_quantile(&values, k as f64 / 10.0))
            .collect();
        deciles.dedup();
        reference.decile_edges = deciles;
        reference.decile_counts = vec![0; reference.decile_edges.len() + 1];
        for v in &values {
            let slot = reference.slot_of(*v);
            reference.slots[slot].0 += 1;
            reference.slots[slot].1 += v;
            let decile = reference.decile_of(*v);
            reference.decile_counts[decile] += 1;
        }
        reference
    }

    /// The slot of `x`: `2i + 1` for `x == edges[i]`, `2i` for `x` strictly between
    /// `edges[i−1]` and `edges[i]` (0 below the minimum, `2·len` above the maximum).
    pub fn slot_of(&self, x: f64) -> usize {
        match self.edges.binary_search_by(|e| e.total_cmp(&x)) {
            Ok(i) => 2 * i + 1,
            Err(i) => 2 * i,
        }
    }

    /// The decile bin of `x` (right-closed: a value equal to an edge is in the lower bin).
    pub fn decile_of(&self, x: f64) -> usize {
        self.decile_edges.partition_point(|e| *e < x)
    }
}

/// Collects a reference data set row by row, then profiles it.
///
/// Exact deciles and fine edges need every numeric value. They are buffered in memory
/// and, with a [`ColumnSpill`] (the server gives one backed by temporary files), moved
/// out whenever [`SPILL_VALUES`] are buffered; at the end one column at a time is read
/// back and sorted. Memory then stays at about `8 × max(SPILL_VALUES, rows)` bytes,
/// not 8 bytes × rows × numeric features.
#[derive(Default)]
pub struct ReferenceBuilder {
    rows: u64,
    numeric: BTreeMap<String, (Vec<f64>, u64)>,
    categorical: BTreeMap<String, CategoricalReference>,
    buffered: usize,
    spill: Option<Box<dyn ColumnSpill>>,
    spill_error: Option<std::io::Error>,
    estimation: EstimationBuilder,
    correlation_columns: Columns,
    correlations: CoMoments,
    correlation_values: Vec<f64>,
}

/// Values buffered in memory before they are handed to the spill.
pub const SPILL_VALUES: usize = 1 << 20;

/// Somewhere to keep numeric reference columns out of memory until they are sorted.
pub trait ColumnSpill: Send {
    /// Appends values to the column `name`.
    fn append(&mut self, name: &str, values: &[f64]) -> std::io::Result<()>;
    /// Every value appended to `name` (in any order); the column may be dropped after.
    fn take(&mut self, name: &str) -> std::io::Result<Vec<f64>>;
}

impl ReferenceBuilder {
    /// A builder for `model`'s features.
    pub fn new(model: &Model) -> Self {
        let correlation_columns = Columns::current(model);
        let mut builder = Self {
            estimation: EstimationBuilder::new(model),
            correlations: CoMoments::new(correlation_columns.names.clone()),
            correlation_columns,
            ..Self::default()
        };
        for spec in model.features() {
            match spec.kind {
                FeatureType::Numeric => {
                    builder.numeric.insert(spec.name.clone(), (Vec::new(), 0));
                }
                FeatureType::Categorical => {
                    builder
                        .categorical
                        .insert(spec.name.clone(), CategoricalReference::empty());
                }
            }
        }
        builder
    }

    fn numeric_value(&mut self, name: &str, value: Option<f64>) {
        let entry = match self.numeric.get_mut(name) {
            Some(entry) => entry,
            None => self.numeric.entry(name.to_string()).or_default(),
        };
        match value {
            Some(v) => {
                entry.0.push(v);
                self.buffered += 1;
                if self.buffered >= SPILL_VALUES {
                    self.spill_buffers();
                }
            }
            None => entry.1 += 1,
        }
    }

    /// Moves the buffered values to the spill, if there is one.
    fn spill_buffers(&mut self) {
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        for (name, (values, _)) in self.numeric.iter_mut() {
            if let Err(e) = spill.append(name, values) {
                self.spill_error.get_or_insert(e);
            }
            values.clear();
        }
        self.buffered = 0;
    }

    /// Uses `spill` to keep numeric columns out of memory.
    pub fn with_spill(mut self, spill: Box<dyn ColumnSpill>) -> Self {
        self.spill = Some(spill);
        self
    }

    fn categorical_value(&mut self, name: &str, value: Option<&str>) {
        let entry = match self.categorical.get_mut(name) {
            Some(entry) => entry,
            None => self
                .categorical
                .entry(name.to_string())
                .or_insert_with(CategoricalReference::empty),
        };
        entry.observe(value);
    }

    /// Adds one reference row.
    pub fn observe(&mut self, model: &Model, event: &PredictionEvent) {
        self.rows += 1;
        for (spec, value) in model.features().iter().zip(&event.features) {
            match (spec.kind, value) {
                (FeatureType::Numeric, FeatureValue::Number(v)) => {
                    self.numeric_value(&spec.name, Some(*v))
                }
                (FeatureType::Numeric, _) => self.numeric_value(&spec.name, None),
                (FeatureType::Categorical, FeatureValue::Category(s)) => {
                    self.categorical_value(&spec.name, Some(s))
                }
                (FeatureType::Categorical, _) => self.categorical_value(&spec.name, None),
            }
        }
        match &event.prediction {
            Some(Target::Class(class)) => self.categorical_value(PREDICTION, Some(class)),
            Some(Target::Value(v)) => self.numeric_value(PREDICTION, Some(*v)),
            None => {}
        }
        if let Some(Score::Positive(p)) = &event.score {
            self.numeric_value(SCORE, Some(*p));
        }
        self.estimation.observe(model, event);
        self.correlation_columns
            .values_into(event, &mut self.correlation_values);
        self.correlations.observe(&self.correlation_values);
    }

    /// Profiles everything observed; fails only if the spill failed.
    pub fn finish(mut self, generation: u64) -> std::io::Result<ReferenceProfile> {
        if let Some(error) = self.spill_error.take() {
            return Err(error);
        }
        let mut features = BTreeMap::new();
        for (name, (mut values, missing)) in std::mem::take(&mut self.numeric) {
            if let Some(spill) = self.spill.as_mut() {
                values.extend(spill.take(&name)?);
            }
            features.insert(
                name,
                ReferenceFeature::Numeric(NumericReference::from_values(values, missing)),
            );
        }
        for (name, categorical) in std::mem::take(&mut self.categorical) {
            features.insert(name, ReferenceFeature::Categorical(categorical));
        }
        Ok(ReferenceProfile {
            generation,
            rows: self.rows,
            features,
            estimation: std::mem::take(&mut self.estimation).finish(),
            correlations: std::mem::take(&mut self.correlations),
        })
    }
}

impl CategoricalReference {
    fn empty() -> Self {
        Self {
            count: 0,
            missing: 0,
            counts: BTreeMap::new(),
        }
    }

    fn observe(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                self.count += 1;
                match self.counts.get_mut(v) {
                    Some(n) => *n += 1,
                    None => {
                        self.counts.insert(v.to_string(), 1);
                    }
                }
            }
            None => self.missing += 1,
        }
    }
}

impl ReferenceProfile {
    /// A compact encoding for the store (a version byte, then postcard).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = crate::profile::encode_tagged(ENCODING_VERSION, self);
        bytes.extend(postcard::to_stdvec(&self.estimation).unwrap_or_default());
        bytes.extend(postcard::to_stdvec(&self.correlations).unwrap_or_default());
        bytes
    }

    /// Reads what [`Self::encode`] wrote, or encodings 2 and 1.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::profile::DecodeError> {
        match bytes.split_first() {
            Some((&tag, rest))
                if tag == ENCODING_VERSION || tag == ENCODING_WITHOUT_CORRELATIONS =>
            {
                let (mut profile, rest): (ReferenceProfile, _) = postcard::take_from_bytes(rest)
                    .map_err(crate::profile::DecodeError::Corrupt)?;
                let (estimation, rest) = postcard::take_from_bytes(rest)
                    .map_err(crate::profile::DecodeError::Corrupt)?;
                profile.estimation = estimation;
                if tag == ENCODING_VERSION {
                    profile.correlations =
                        postcard::from_bytes(rest).map_err(crate::profile::DecodeError::Corrupt)?;
                }
                Ok(profile)
            }
            _ => crate::profile::decode_tagged(ENCODING_WITHOUT_ESTIMATION, bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_and_deciles() {
        let reference = NumericReference::from_values(vec![3.0, 1.0, 2.0, 2.0, 5.0], 1);
        // Every reference value is an edge; the gaps between them are cut evenly.
        assert_eq!(reference.edges.len(), 1000);
        for value in [1.0, 2.0, 3.0, 5.0] {
            assert!(reference.edges.contains(&value), "{value}");
        }
        assert!(reference.edges.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            reference.few_values,
            Some(vec![(1.0, 1), (2.0, 2), (3.0, 1), (5.0, 1)])
        );
        let last = reference.slots.len() - 1;
        assert_eq!(reference.slot_of(0.5), 0);
        assert_eq!(reference.slot_of(1.0), 1);
        assert_eq!(reference.slot_of(1.0001), 2);
        assert_eq!(reference.slot_of(5.0), last - 1);
        assert_eq!(reference.slot_of(9.0), last);
        assert_eq!(reference.slots[reference.slot_of(2.0)], (2, 4.0));
        assert_eq!(reference.slots.iter().map(|s| s.0).sum::<u64>(), 5);
        // numpy.quantile([1,2,2,3,5], [.1,...,.9]) = 1.4 1.8 2 2 2 2.4 2.8 3.4 4.2
        assert_eq!(reference.decile_edges.len(), 7);
        assert!((reference.decile_edges[0] - 1.4).abs() < 1e-12);
        assert_eq!(reference.decile_counts.iter().sum::<u64>(), 5);
        // mean 2.6; population variance 9.2 / 5
        assert!((reference.std_population - 1.84f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn empty_reference() {
        let reference = NumericReference::from_values(vec![], 3);
        assert_eq!(reference.count, 0);
        assert_eq!(reference.missing, 3);
        assert_eq!(reference.slot_of(1.0), 0);
    }
}

//! The reference baseline of learned thresholds: the reference data set cut into
//! consecutive chunks of the size of the span being judged, the metric computed on
//! each chunk, and the band mean ± k·σ of those values (NannyML's approach).
//!
//! The reference is kept as profiles of consecutive chunks of `chunk_rows` rows (in
//! upload order); a chunk of any multiple of that size is a merge of neighbours.
//! `chunk_rows` starts at 100 and doubles (neighbours merged) whenever more than
//! [`MAX_CHUNKS`] would be kept, so a reference of any size costs at most a few MiB.

use serde::{Deserialize, Serialize};

use crate::event::PredictionEvent;
use crate::profile::WindowProfile;
use crate::schema::Model;

/// Most chunk profiles kept.
pub const MAX_CHUNKS: usize = 2_000;
/// Rows per chunk to start with.
pub const FIRST_CHUNK_ROWS: u64 = 100;
/// Fewer chunks of the span's size than this and the reference cannot judge it.
pub const MIN_BASELINE_CHUNKS: usize = 2;

/// Profiles of consecutive reference chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceChunks {
    /// Rows in each full chunk.
    pub chunk_rows: u64,
    /// Full chunks, in upload order.
    pub chunks: Vec<WindowProfile>,
    /// The chunk being filled.
    partial: WindowProfile,
}

impl Default for ReferenceChunks {
    fn default() -> Self {
        Self {
            chunk_rows: FIRST_CHUNK_ROWS,
            chunks: Vec::new(),
            partial: WindowProfile::default(),
        }
    }
}

impl ReferenceChunks {
    /// Adds the next reference row.
    pub fn observe(&mut self, model: &Model, event: &PredictionEvent) {
        self.partial.observe_prediction(model, event);
        if self.partial.count >= self.chunk_rows {
            self.chunks.push(std::mem::take(&mut self.partial));
            if self.chunks.len() > MAX_CHUNKS {
                self.halve();
            }
        }
    }

    /// Merges neighbouring chunks: half as many, twice as large.
    fn halve(&mut self) {
        let mut merged = Vec::with_capacity(self.chunks.len() / 2 + 1);
        let mut chunks = std::mem::take(&mut self.chunks).into_iter();
        while let Some(mut first) = chunks.next() {
            match chunks.next() {
                Some(second) => {
                    first.merge(&second);
                    merged.push(first);
                }
                // An odd chunk out becomes the start of the partial one.
                None => {
                    first.merge(&self.partial);
                    self.partial = first;
                }
            }
        }
        self.chunks = merged;
        self.chunk_rows *= 2;
    }

    /// The values of `metric` on consecutive reference chunks of about `span_count`
    /// rows (a whole number of kept chunks, at least one), or `None` when there are
    /// fewer than [`MIN_BASELINE_CHUNKS`] of them.
    pub fn metric_values(&self, model: &Model, metric: &str, span_count: u64) -> Option<Vec<f64>> {
        let per_group = ((span_count as f64 / self.chunk_rows as f64).round() as usize).max(1);
        let groups = self.chunks.len() / per_group;
        if groups < MIN_BASELINE_CHUNKS {
            return None;
        }
        let values = self
            .chunks
            .chunks_exact(per_group)
            .filter_map(|group| {
                let mut merged = WindowProfile::default();
                for chunk in group {
                    merged.merge(chunk);
                }
                merged.metrics(model).value(metric)
            })
            .collect();
        Some(values)
    }

    /// Compact binary encoding.
    pub fn encode(&self) -> Vec<u8> {
        crate::profile::encode_tagged(1, self)
    }

    /// Decodes [`ReferenceChunks::encode`]'s output.
    pub fn decode(bytes: &[u8]) -> Result<Self, crate::profile::DecodeError> {
        crate::profile::decode_tagged(1, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Target;
    use crate::schema::ModelDefinition;
    use serde_json::json;

    fn model() -> Model {
        Model::new(
            "m",
            serde_json::from_value::<ModelDefinition>(json!({"task": "binary_classification"}))
                .unwrap(),
        )
        .unwrap()
    }

    fn event(correct: bool) -> PredictionEvent {
        PredictionEvent {
            id: String::new(),
            timestamp_ms: 0,
            version: "default".into(),
            features: Vec::new(),
            unknown_features: 0,
            prediction: Some(Target::Class("1".into())),
            score: None,
            label: Some(Target::Class(if correct { "1" } else { "0" }.into())),
            latency_ms: None,
            error: false,
        }
    }

    #[test]
    fn chunk_values_are_the_metric_on_consecutive_rows() {
        let model = model();
        let mut chunks = ReferenceChunks::default();
        // 400 rows: accuracy 1.0 in rows 0..200, 0.5 in rows 200..400.
        for i in 0..400 {
            chunks.observe(&model, &event(i < 200 || i % 2 == 0));
        }
        assert_eq!(chunks.chunks.len(), 4);
        assert_eq!(
            chunks.metric_values(&model, "accuracy", 100).unwrap(),
            [1.0, 1.0, 0.5, 0.5]
        );
        assert_eq!(
            chunks.metric_values(&model, "accuracy", 180).unwrap(),
            [1.0, 0.5]
        );
        // A span as large as the whole reference leaves one chunk: no baseline.
        assert_eq!(chunks.metric_values(&model, "accuracy", 400), None);
        let decoded = ReferenceChunks::decode(&chunks.encode()).unwrap();
        assert_eq!(decoded, chunks);
    }

    #[test]
    fn a_large_reference_keeps_a_bounded_number_of_chunks() {
        let model = model();
        let mut chunks = ReferenceChunks::default();
        let rows = 450_000;
        for i in 0..rows {
            chunks.observe(&model, &event(i % 4 != 0));
        }
        assert!(chunks.chunks.len() <= MAX_CHUNKS);
        let kept: u64 = chunks.chunks.iter().map(|c| c.count).sum::<u64>() + chunks.partial.count;
        assert_eq!(kept, rows);
        assert!(chunks.chunks.iter().all(|c| c.count == chunks.chunk_rows));
        let values = chunks.metric_values(&model, "accuracy", 10_000).unwrap();
        assert!(values.iter().all(|v| (v - 0.75).abs() < 1e-12));
    }
}

//! The server's own telemetry, exposed at `GET /metrics` in the Prometheus text
//! format. Every name is a constant here and documented in `docs/METRICS.md`; labels
//! are bounded (model names, at most `max_models` of them; no per-event labels).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Predictions stored, per model.
pub const PREDICTIONS_INGESTED: &str = "modelwatch_predictions_ingested";
/// Predictions rejected (invalid or duplicate), per model.
pub const PREDICTIONS_REJECTED: &str = "modelwatch_predictions_rejected";
/// Labels joined or kept pending, per model.
pub const LABELS_INGESTED: &str = "modelwatch_labels_ingested";
/// Commands waiting for the writer.
pub const WRITE_QUEUE_DEPTH: &str = "modelwatch_write_queue_depth";
/// Requests turned away with 503 because the write queue was full.
pub const REQUESTS_SHED: &str = "modelwatch_requests_shed";

/// The label set of per-model series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    /// The model's name.
    pub model: String,
}

/// Counters updated by the handlers.
pub struct Telemetry {
    registry: Mutex<Registry>,
    /// See [`PREDICTIONS_INGESTED`].
    pub predictions_ingested: Family<ModelLabel, Counter>,
    /// See [`PREDICTIONS_REJECTED`].
    pub predictions_rejected: Family<ModelLabel, Counter>,
    /// See [`LABELS_INGESTED`].
    pub labels_ingested: Family<ModelLabel, Counter>,
    /// See [`WRITE_QUEUE_DEPTH`].
    pub write_queue_depth: Gauge,
    /// See [`REQUESTS_SHED`].
    pub requests_shed: Counter,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::default();
        let predictions_ingested = Family::<ModelLabel, Counter>::default();
        let predictions_rejected = Family::<ModelLabel, Counter>::default();
        let labels_ingested = Family::<ModelLabel, Counter>::default();
        let write_queue_depth = Gauge::default();
        let requests_shed = Counter::default();
        registry.register(
            PREDICTIONS_INGESTED,
            "Predictions stored",
            predictions_ingested.clone(),
        );
        registry.register(
            PREDICTIONS_REJECTED,
            "Predictions rejected as invalid or duplicate",
            predictions_rejected.clone(),
        );
        registry.register(
            LABELS_INGESTED,
            "Labels joined or kept pending",
            labels_ingested.clone(),
        );
        registry.register(
            WRITE_QUEUE_DEPTH,
            "Commands waiting for the store writer",
            write_queue_depth.clone(),
        );
        registry.register(
            REQUESTS_SHED,
            "Requests answered 503 because the write queue was full",
            requests_shed.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            predictions_ingested,
            predictions_rejected,
            labels_ingested,
            write_queue_depth,
            requests_shed,
        }
    }
}

impl Telemetry {
    /// The text exposition.
    pub fn encode(&self, queue_depth: usize) -> String {
        self.write_queue_depth.set(queue_depth as i64);
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        text
    }

    /// Drops the series of a deleted model, keeping label cardinality bounded.
    pub fn forget_model(&self, model: &str) {
        let label = ModelLabel {
            model: model.to_string(),
        };
        self.predictions_ingested.remove(&label);
        self.predictions_rejected.remove(&label);
        self.labels_ingested.remove(&label);
    }
}

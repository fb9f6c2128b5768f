//! The server's own telemetry, exposed at `GET /metrics` in the Prometheus text
//! format. Every name is a constant here and documented in `docs/METRICS.md`; labels
//! are bounded (model names, at most `max_models` of them; no per-event labels).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
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

/// Rounds of the alerting engine that judged at least one rule.
pub const ALERT_ROUNDS: &str = "modelwatch_alert_rounds";
/// Rule judgements (one rule in one round, any number of spans).
pub const ALERT_RULES_JUDGED: &str = "modelwatch_alert_rules_judged";
/// Time a round of the alerting engine took, judging and committing.
pub const ALERT_ROUND_SECONDS: &str = "modelwatch_alert_round_seconds";
/// Whether a rule's alert fires (1) or not (0), per rule and model.
pub const ALERT_FIRING: &str = "modelwatch_alert_firing";
/// Notification delivery tries, per channel and outcome (`delivered`, `failed`, `abandoned`).
pub const NOTIFICATIONS: &str = "modelwatch_notifications";
/// Notifications waiting in the outbox.
pub const NOTIFICATIONS_QUEUED: &str = "modelwatch_notifications_queued";

/// The label set of a rule's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    /// The rule's name.
    pub rule: String,
    /// Its model.
    pub model: String,
}

/// The label set of notification outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabel {
    /// The channel's name.
    pub channel: String,
    /// `delivered`, `failed` or `abandoned`.
    pub outcome: String,
}

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
    /// See [`ALERT_ROUNDS`].
    pub alert_rounds: Counter,
    /// See [`ALERT_RULES_JUDGED`].
    pub alert_rules_judged: Counter,
    /// See [`ALERT_ROUND_SECONDS`].
    pub alert_round_seconds: Histogram,
    /// See [`ALERT_FIRING`].
    pub alert_firing: Family<RuleLabel, Gauge>,
    /// See [`NOTIFICATIONS`].
    pub notifications: Family<DeliveryLabel, Counter>,
    /// See [`NOTIFICATIONS_QUEUED`].
    pub notifications_queued: Gauge,
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
        let alert_rounds = Counter::default();
        let alert_rules_judged = Counter::default();
        // 1 ms to about 16 s.
        let alert_round_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let alert_firing = Family::<RuleLabel, Gauge>::default();
        let notifications = Family::<DeliveryLabel, Counter>::default();
        let notifications_queued = Gauge::default();
        registry.register(
            ALERT_ROUNDS,
            "Rounds of the alerting engine that judged rules",
            alert_rounds.clone(),
        );
        registry.register(
            ALERT_RULES_JUDGED,
            "Rule judgements by the alerting engine",
            alert_rules_judged.clone(),
        );
        registry.register(
            ALERT_ROUND_SECONDS,
            "Duration of alerting rounds (judging and committing)",
            alert_round_seconds.clone(),
        );
        registry.register(
            ALERT_FIRING,
            "Whether the rule's alert is firing",
            alert_firing.clone(),
        );
        registry.register(
            NOTIFICATIONS,
            "Notification delivery tries by outcome",
            notifications.clone(),
        );
        registry.register(
            NOTIFICATIONS_QUEUED,
            "Notifications waiting in the outbox",
            notifications_queued.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            alert_rounds,
            alert_rules_judged,
            alert_round_seconds,
            alert_firing,
            notifications,
            notifications_queued,
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

//! The series of `GET /metrics`: the server's own telemetry, the per-version ingest
//! counters and latency histogram (observed here, at ingest), and the registry that
//! also holds the scrape-time families of [`model_gauges`] and [`process`]. Every name is a constant and documented in `docs/METRICS.md`;
//! labels are bounded (model names, at most `max_models`; at most `max_versions`
//! versions per model plus `_other`; no per-event labels).
//!
//! The body is OpenMetrics when the scraper accepts it (as Prometheus does) and the
//! classic text format 0.0.4 otherwise (see [`Format`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub mod labels;
pub mod model_gauges;
pub mod process;

pub use labels::{ALL_VERSIONS, DeliveryLabel, ModelLabel, OTHER_VERSION, RuleLabel, VersionLabel};

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
/// Predictions stored, per model and version.
pub const VERSION_PREDICTIONS: &str = "modelwatch_version_predictions";
/// Labels joined to a stored prediction, per model and version.
pub const VERSION_LABELS: &str = "modelwatch_version_labels";
/// Serving latency of stored predictions (`latency_ms` / 1000), per model and version.
pub const PREDICTION_LATENCY_SECONDS: &str = "modelwatch_prediction_latency_seconds";

/// How long (wall-clock) a version's series must have seen nothing before a new
/// version may take its place.
pub const VERSION_IDLE: Duration = Duration::from_secs(3600);
/// Buckets of the latency histogram, in seconds: the Prometheus client defaults.
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The versions of each model that have series of their own: at most `max` per
/// model. A new version takes a free slot, or the slot of the least recently seen
/// version if that one has seen nothing for [`VERSION_IDLE`] (whose series are then
/// dropped); otherwise it is counted under [`OTHER_VERSION`].
struct VersionSlots {
    max: usize,
    models: Mutex<HashMap<String, Vec<(String, Instant)>>>,
}

impl VersionSlots {
    /// The `version` label for `version` of `model`, and the version evicted to make room.
    fn slot(&self, model: &str, version: &str, now: Instant) -> (String, Option<String>) {
        if version == OTHER_VERSION || version == ALL_VERSIONS {
            return (OTHER_VERSION.to_string(), None);
        }
        let mut models = self.models.lock();
        let slots = models.entry(model.to_string()).or_default();
        if let Some(slot) = slots.iter_mut().find(|(v, _)| v == version) {
            slot.1 = now;
            return (version.to_string(), None);
        }
        if slots.len() < self.max {
            slots.push((version.to_string(), now));
            return (version.to_string(), None);
        }
        let oldest = slots
            .iter_mut()
            .min_by_key(|(_, seen)| *seen)
            .filter(|(_, seen)| now.duration_since(*seen) >= VERSION_IDLE);
        match oldest {
            Some(slot) => {
                let evicted = std::mem::replace(slot, (version.to_string(), now)).0;
                (version.to_string(), Some(evicted))
            }
            None => (OTHER_VERSION.to_string(), None),
        }
    }

    fn forget(&self, model: &str) -> Vec<String> {
        self.models
            .lock()
            .remove(model)
            .map(|slots| slots.into_iter().map(|(v, _)| v).collect())
            .unwrap_or_default()
    }
}

/// What one stored event adds to the per-version series.
pub struct Observed {
    /// Its version.
    pub version: String,
    /// Its serving latency, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Whether it carried its label inline and has an output, so it counts as labelled.
    pub labelled: bool,
    /// Whether it has an output (a label that waited for it labels it only then).
    pub predicted: bool,
}

/// The body formats of `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0 (`application/openmetrics-text`), for scrapers that ask for it.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4 (`text/plain`), for everyone else
    /// (`curl`, `promtool check metrics`).
    Text,
}

impl Format {
    /// OpenMetrics when the `Accept` header lists it with a non-zero quality.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let accepts_openmetrics = accept.is_some_and(|accept| {
            accept.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or("");
                let zero = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !zero
            })
        });
        if accepts_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Rewrites prometheus-client's OpenMetrics text into the classic text format 0.0.4:
/// a counter family is named with its `_total` suffix in `# HELP` and `# TYPE` (as its
/// samples are), and the `# UNIT` and `# EOF` lines, which the classic format does not
/// have, are dropped. Histogram, gauge and sample lines are the same in both.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| line.strip_prefix(prefix).map(|rest| (prefix, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                text.push_str(prefix);
                text.push_str(name);
                text.push_str("_total ");
                text.push_str(tail);
                text.push('\n');
                continue;
            }
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Counters updated by the handlers.
pub struct Telemetry {
    registry: Mutex<Registry>,
    versions: VersionSlots,
    /// See [`VERSION_PREDICTIONS`].
    pub version_predictions: Family<VersionLabel, Counter>,
    /// See [`VERSION_LABELS`].
    pub version_labels: Family<VersionLabel, Counter>,
    /// See [`PREDICTION_LATENCY_SECONDS`].
    pub prediction_latency: Family<VersionLabel, Histogram, fn() -> Histogram>,
    /// The scrape-time model gauges.
    pub models: model_gauges::ModelGauges,
    /// The scrape-time process and store gauges.
    pub process: process::ProcessGauges,
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
        Self::new(crate::config::MetricsConfig::default().max_versions)
    }
}

impl Telemetry {
    /// Every series, with at most `max_versions` versions per model.
    pub fn new(max_versions: usize) -> Self {
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
        let version_predictions = Family::<VersionLabel, Counter>::default();
        let version_labels = Family::<VersionLabel, Counter>::default();
        let prediction_latency =
            Family::<VersionLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            VERSION_PREDICTIONS,
            "Predictions stored, by model version",
            version_predictions.clone(),
        );
        registry.register(
            VERSION_LABELS,
            "Labels joined to a stored prediction (inline or later), by model version",
            version_labels.clone(),
        );
        registry.register(
            PREDICTION_LATENCY_SECONDS,
            "Serving latency of stored predictions (their latency_ms), by model version",
            prediction_latency.clone(),
        );
        let models = model_gauges::ModelGauges::register(&mut registry);
        let process = process::ProcessGauges::register(&mut registry);
        Self {
            registry: Mutex::new(registry),
            versions: VersionSlots {
                max: max_versions,
                models: Mutex::new(HashMap::new()),
            },
            version_predictions,
            version_labels,
            prediction_latency,
            models,
            process,
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
    /// The exposition in `format`.
    pub fn encode(&self, queue_depth: usize, format: Format) -> String {
        self.write_queue_depth.set(queue_depth as i64);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry.lock());
        match format {
            Format::OpenMetrics => text,
            Format::Text => openmetrics_to_text(&text),
        }
    }

    /// Runs `f` while no scrape is encoding, so that it sees all of a change or none.
    pub fn exclusively<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.registry.lock();
        f()
    }

    /// The `version` label of `version` of `model`, dropping the series of a version
    /// evicted to make room.
    fn version_label(&self, model: &str, version: &str, now: Instant) -> VersionLabel {
        let (version, evicted) = self.versions.slot(model, version, now);
        if let Some(evicted) = evicted {
            self.forget_version(model, evicted);
        }
        VersionLabel {
            model: model.to_string(),
            version,
        }
    }

    fn forget_version(&self, model: &str, version: String) {
        let label = VersionLabel {
            model: model.to_string(),
            version,
        };
        self.version_predictions.remove(&label);
        self.version_labels.remove(&label);
        self.prediction_latency.remove(&label);
    }

    /// Counts the stored events of an ingest: `events` are those submitted, of which
    /// `not_stored` (indexes) were not stored and `labelled_from_pending` picked up a
    /// label that was waiting for them.
    pub fn observe_ingest(
        &self,
        model: &str,
        events: &[Observed],
        not_stored: &[usize],
        labelled_from_pending: &[usize],
    ) {
        let skipped: HashSet<usize> = not_stored.iter().copied().collect();
        let from_pending: HashSet<usize> = labelled_from_pending.iter().copied().collect();
        let mut by_version: BTreeMap<&str, (u64, u64, Vec<f64>)> = BTreeMap::new();
        for (index, event) in events.iter().enumerate() {
            if skipped.contains(&index) {
                continue;
            }
            let entry = by_version.entry(&event.version).or_default();
            entry.0 += 1;
            entry.1 +=
                (event.labelled || (event.predicted && from_pending.contains(&index))) as u64;
            if let Some(ms) = event.latency_ms {
                entry.2.push(ms / 1000.0);
            }
        }
        let now = Instant::now();
        for (version, (predictions, labels, latencies)) in by_version {
            let label = self.version_label(model, version, now);
            self.version_predictions
                .get_or_create(&label)
                .inc_by(predictions);
            self.version_labels.get_or_create(&label).inc_by(labels);
            let histogram = self.prediction_latency.get_or_create(&label);
            for seconds in latencies {
                histogram.observe(seconds);
            }
        }
    }

    /// Counts labels joined by a label ingest, by the version of their prediction.
    pub fn observe_labels(&self, model: &str, labelled_by_version: &BTreeMap<String, u64>) {
        let now = Instant::now();
        for (version, count) in labelled_by_version {
            let label = self.version_label(model, version, now);
            self.version_labels.get_or_create(&label).inc_by(*count);
        }
    }

    /// Drops the series of a deleted model, keeping label cardinality bounded.
    pub fn forget_model(&self, model: &str) {
        let label = ModelLabel {
            model: model.to_string(),
        };
        self.predictions_ingested.remove(&label);
        self.predictions_rejected.remove(&label);
        self.labels_ingested.remove(&label);
        for version in self
            .versions
            .forget(model)
            .into_iter()
            .chain([OTHER_VERSION.to_string()])
        {
            self.forget_version(model, version);
        }
        self.exclusively(|| self.models.forget_model(model));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_openmetrics_only_when_asked() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; q=0, text/plain")),
            Format::Text
        );
    }

    #[test]
    fn rewrites_counter_families_for_the_classic_format() {
        let openmetrics = "# HELP a_x Things.\n# TYPE a_x counter\na_x_total{m=\"1\"} 3\n# HELP b Level.\n# TYPE b gauge\n# UNIT b bytes\nb 1\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(openmetrics),
            "# HELP a_x_total Things.\n# TYPE a_x_total counter\na_x_total{m=\"1\"} 3\n# HELP b Level.\n# TYPE b gauge\nb 1\n"
        );
    }

    #[test]
    fn versions_beyond_the_bound_share_other_until_a_slot_is_idle() {
        let slots = VersionSlots {
            max: 2,
            models: Mutex::new(HashMap::new()),
        };
        let t0 = Instant::now();
        assert_eq!(slots.slot("m", "a", t0), ("a".into(), None));
        assert_eq!(slots.slot("m", "b", t0), ("b".into(), None));
        assert_eq!(slots.slot("m", "c", t0), (OTHER_VERSION.into(), None));
        assert_eq!(slots.slot("m", "_all", t0), (OTHER_VERSION.into(), None));
        assert_eq!(slots.slot("n", "c", t0), ("c".into(), None));
        let later = t0 + VERSION_IDLE;
        assert_eq!(slots.slot("m", "b", later), ("b".into(), None));
        assert_eq!(slots.slot("m", "c", later), ("c".into(), Some("a".into())));
        assert_eq!(slots.slot("m", "a", later), (OTHER_VERSION.into(), None));
    }
}

//! The label sets of the series of `/metrics` and the reserved `version` values,
//! shared by the ingest counters, the alerting series and the model gauges.

use prometheus_client::encoding::EncodeLabelSet;

/// The `version` label of events whose version has no series of its own.
pub const OTHER_VERSION: &str = "_other";
/// The `version` label of model gauges over all versions.
pub const ALL_VERSIONS: &str = "_all";
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

/// The label set of per-version series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VersionLabel {
    /// The model's name.
    pub model: String,
    /// The version, [`OTHER_VERSION`] or [`ALL_VERSIONS`].
    pub version: String,
}

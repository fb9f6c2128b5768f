//! Alerting, as pure computation: rule definitions and their validation ([`rule`]),
//! the state machine that judges completed spans of event time ([`state`]),
//! channels ([`channel`]), silences ([`silence`]), notification grouping
//! ([`group`]), and routing by urgency ([`route`], with [`matcher`] and [`inhibit`]). The server schedules evaluations and delivers notifications; the
//! numbers come from the same profiles and metric code as the API.

pub mod baseline;
pub mod channel;
pub mod group;
pub mod inhibit;
pub mod matcher;
pub mod route;
pub mod rule;
pub mod silence;
pub mod state;

pub use channel::{
    Channel, ChannelDefinition, ChannelKind, ChannelType, Recipients, SmtpSecurity, StartTls,
    TwilioMode,
};
pub use group::{AlertSnapshot, Group, Timing};
pub use inhibit::{InhibitDefinition, InhibitRule};
pub use route::{Route, RouteDefinition, Routing, RoutingDefinition};
pub use rule::{
    AutoDefinition, Baseline, Clock, Condition, ConditionDefinition, MetricRef, Op, Rule,
    RuleDefinition,
};
pub use silence::{Silence, SilenceDefinition};
pub use state::{Judgement, Phase, Raised, Replay, RuleState, SpanRecord, Transition};

/// A stable fingerprint of an alert's labels (FNV-1a, 16 hex digits, like
/// Alertmanager's).
pub fn fingerprint(labels: &std::collections::BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, value) in labels {
        for byte in name
            .bytes()
            .chain([0xff])
            .chain(value.bytes())
            .chain([0xfe])
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

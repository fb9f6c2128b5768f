//! Operations of the served model: its resource use (`POST .../telemetry`, [`usage`])
//! and its logs and crashes (`POST .../logs`, [`logs`], with message templates from
//! [`template`]). Both fold into mergeable per-window state kept inside the window
//! profile ([`crate::WindowProfile`]), so the metrics answer, alert rules and the
//! gauges read them like any other metric; the raw log records are stored apart.
//!
//! [`record`] holds the field checks both record kinds share.

pub mod logs;
pub mod record;
pub mod template;
pub mod usage;

pub use logs::{LogLevel, LogProfile, LogRecord};
pub use usage::{TelemetrySample, UsageProfile};

/// FNV-1a, 64 bits: a hash that is the same in every process and release, so a
/// selection made by hash (kept instances, kept templates) merges the same on every
/// node.
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

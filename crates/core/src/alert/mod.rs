//! Alerting, as pure computation: rule definitions and their validation ([`rule`]),
//! and the state machine that judges completed spans of event time ([`state`]).
//! The server schedules evaluations and delivers notifications; the numbers come
//! from the same profiles and metric code as the API.

pub mod rule;
pub mod state;

pub use rule::{Condition, MetricRef, Rule};
pub use state::{Judgement, Phase, Transition};

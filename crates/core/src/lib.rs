//! The engine of modelwatch: everything that computes, and nothing that does I/O.
//!
//! # Layout
//! - [`schema`]: model definitions and how they may change.
//! - [`event`]: prediction events and labels, validated field by field.
//! - [`class`]: class labels and their normalisation.
//! - [`body`] and [`csv_input`]: untrusted bytes (JSON, NDJSON, CSV) into records;
//!   [`non_finite`]: Python's `NaN` and `Infinity` tokens in them.
//! - [`sketch`]: mergeable sketches (latency quantiles, score histograms).
//! - [`performance`]: exact, mergeable classification and regression profiles and the
//!   scikit-learn metrics computed from them.
//! - [`profile`]: the window profile that combines them, and its encoding.
//! - [`window`] and [`query`]: event-time windows and the merging of profiles per step;
//!   the metrics answer. [`series`]: the steps of a drift or quality series.
//! - [`drift`]: reference profiles, per-window feature profiles, drift statistics and
//!   verdicts; the drift and quality answers.
//! - [`answer`]: the answers of the API as types (metrics, drift, quality, report).
//! - [`correlation`]: pairwise-complete co-moments and scatter samples of the numeric
//!   columns; the correlations answer.
//! - [`estimate`]: estimated performance without labels (CBPE); [`interval`]: Wilson
//!   intervals of proportions.
//! - [`report`]: the report of a model over a range, served or offline.
//! - [`offline`]: the CSV-to-profiles path of the offline report.
//! - [`parameters`]: model internals: tensor summaries and their changes.
//! - [`ops`]: resource use and logs of the served model, and message templates.
//! - [`alert`]: alert rules, their state machine, baselines, channels, silences, groups.
//! - [`time`]: timestamps, durations and UTC alignment.
//! - [`definition`]: user definitions (rules, channels, silences, configuration) read
//!   into typed structs, with errors naming the field.
//! - [`geo`]: geographic features (ISO 3166-1 country codes) for maps.
//! - [`error`]: the field error every validation returns.
//!
//! No module imports in a circle (`.ci/module-cycles`); `schema`, `class`, `geo`, `time` and
//! `error` are the leaves.
//! The server, the offline report and the alert evaluator all get their numbers from
//! here, so no statistic is implemented twice.

pub mod alert;
pub mod answer;
pub mod body;
pub mod class;
pub mod correlation;
pub mod csv_input;
pub mod definition;
pub mod drift;
pub mod error;
pub mod estimate;
pub mod event;
pub mod geo;
pub mod groups;
pub mod interval;
pub mod non_finite;
pub mod offline;
pub mod ops;
pub mod parameters;
pub mod performance;
pub mod profile;
pub mod query;
pub mod report;
pub mod schema;
pub mod series;
pub mod sketch;
pub mod time;
pub mod window;

pub use error::FieldError;
pub use event::{FeatureValue, LabelRecord, PredictionEvent, Score, Target};
pub use profile::WindowProfile;
pub use schema::{Model, ModelDefinition, Task};
pub use window::Granularity;

//! Drift and data quality against a reference data set.
//!
//! - [`mod@reference`]: the reference profile, computed exactly at upload.
//! - [`features`]: per-window, mergeable feature profiles (quality and drift bins).
//! - [`stats`]: KS, Wasserstein, PSI, Jensen–Shannon and chi-squared from them.
//! - [`special`]: the Kolmogorov and chi-squared survival functions.
//! - [`distribution`]: reference and current counts on shared bins, for plots.
//! - [`verdict`]: method selection and the verdict of one column; one feature's drift
//!   alone ([`verdict::feature_drift`]).
//! - [`report`]: the drift answer (every column, with statistics and distributions).
//! - [`quality`]: the data-quality answer.
//! - [`map`]: the map answer of a geographic feature.

pub mod distribution;
pub mod features;
pub mod map;
pub mod quality;
pub mod reference;
pub mod report;
pub mod special;
pub mod stats;
pub mod verdict;

pub use features::WindowFeatures;
pub use reference::{ReferenceBuilder, ReferenceProfile};

//! Drift and data quality against a reference data set.
//!
//! - [`mod@reference`]: the reference profile, computed exactly at upload.
//! - [`features`]: per-window, mergeable feature profiles (quality and drift bins).
//! - [`stats`]: KS, Wasserstein, PSI, Jensen–Shannon and chi-squared from them.
//! - [`special`]: the Kolmogorov and chi-squared survival functions.
//! - [`distribution`]: reference and current counts on shared bins, for plots.
//! - [`report`]: method selection, verdicts and the API answers.

pub mod distribution;
pub mod features;
pub mod reference;
pub mod report;
pub mod special;
pub mod stats;

pub use features::WindowFeatures;
pub use reference::{ReferenceBuilder, ReferenceProfile};

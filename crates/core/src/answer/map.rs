//! The map answer: how a geographic feature's values spread over countries in a range,
//! and how each country's share moved against the reference
//! (`GET /api/v1/models/{model}/map?feature=`; a report's `maps`).

use serde::{Deserialize, Serialize};

use super::present;
use crate::answer::range::AnswerRange;
use crate::geo::Geo;

/// One country of a map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryEntry {
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    /// Rows with this country in the range.
    pub count: u64,
    /// The reference's share of rows with this country (of its rows with a country);
    /// `None` without a reference.
    pub reference_share: Option<f64>,
    /// `count` over the range's rows with a country.
    pub share: f64,
    /// `share − reference_share`: where traffic moved; `None` without a reference.
    pub share_change: Option<f64>,
}

/// A geographic feature over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapAnswer {
    /// Countries seen in the range or the reference, by code.
    pub countries: Vec<CountryEntry>,
    /// The feature.
    pub feature: String,
    /// Start of the range (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub from: Option<Option<String>>,
    /// What the values name.
    pub geo: Geo,
    /// Rows without a value.
    pub missing: u64,
    /// The model (HTTP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Rows whose value is no country code (or was folded away past the feature's
    /// category bound).
    pub not_a_country: u64,
    /// End of the range, exclusive (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub to: Option<Option<String>>,
    /// The version queried (HTTP only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub version: Option<Option<String>>,
}

impl MapAnswer {
    /// The answer with its range, as HTTP serves it.
    pub fn in_range(mut self, range: AnswerRange) -> Self {
        self.model = Some(range.model);
        self.from = Some(range.from);
        self.to = Some(range.to);
        self.version = Some(range.version);
        self
    }
}

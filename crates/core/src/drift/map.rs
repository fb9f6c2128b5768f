//! The map answer of a geographic feature: its categorical profile's counts gathered by
//! ISO 3166-1 alpha-2 code (values in any case), with the reference's shares.

use std::collections::BTreeMap;

use crate::answer::map::{CountryEntry, MapAnswer};
use crate::drift::features::{FeatureProfile, WindowFeatures};
use crate::drift::reference::{ReferenceFeature, ReferenceProfile};
use crate::geo::country_code;
use crate::schema::Model;

/// Counts by country code, and the count of values that name no country.
fn by_country<'a>(
    counts: impl Iterator<Item = (&'a String, &'a u64)>,
) -> (BTreeMap<&'static str, u64>, u64) {
    let mut countries = BTreeMap::new();
    let mut not_a_country = 0;
    for (value, count) in counts {
        match country_code(value) {
            Some(code) => *countries.entry(code).or_insert(0) += count,
            None => not_a_country += count,
        }
    }
    (countries, not_a_country)
}

/// Each code's share of the rows with a country.
fn shares(countries: &BTreeMap<&'static str, u64>) -> BTreeMap<&'static str, f64> {
    let total: u64 = countries.values().sum();
    countries
        .iter()
        .map(|(code, count)| (*code, *count as f64 / total as f64))
        .collect()
}

/// The map of `feature` in `current`, against `reference` when there is one; `None`
/// when the model has no such geographic feature.
pub fn map_answer(
    model: &Model,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
    feature: &str,
) -> Option<MapAnswer> {
    let geo = model
        .features()
        .iter()
        .find(|spec| spec.name == feature)?
        .geo?;
    let (countries, not_a_country, missing) = match current.features.get(feature) {
        Some(FeatureProfile::Categorical(profile)) => {
            let (countries, not_a_country) = by_country(profile.counts.iter());
            (
                countries,
                not_a_country + profile.other + profile.type_errors,
                profile.missing,
            )
        }
        _ => (BTreeMap::new(), 0, 0),
    };
    let reference_shares = reference.map(|r| match r.features.get(feature) {
        Some(ReferenceFeature::Categorical(c)) => shares(&by_country(c.counts.iter()).0),
        _ => BTreeMap::new(),
    });
    let current_shares = shares(&countries);
    let mut codes: Vec<&'static str> = countries.keys().copied().collect();
    if let Some(reference) = &reference_shares {
        codes.extend(reference.keys().copied());
    }
    codes.sort_unstable();
    codes.dedup();
    let entries = codes
        .into_iter()
        .map(|code| {
            let share = current_shares.get(code).copied().unwrap_or(0.0);
            let reference_share = reference_shares
                .as_ref()
                .map(|r| r.get(code).copied().unwrap_or(0.0));
            CountryEntry {
                code: code.to_string(),
                count: countries.get(code).copied().unwrap_or(0),
                reference_share,
                share,
                share_change: reference_share.map(|r| share - r),
            }
        })
        .collect();
    Some(MapAnswer {
        countries: entries,
        feature: feature.to_string(),
        from: None,
        geo,
        missing,
        model: None,
        not_a_country,
        to: None,
        version: None,
    })
}

/// The maps of every geographic feature of `model`, in definition order.
pub fn maps(
    model: &Model,
    reference: Option<&ReferenceProfile>,
    current: &WindowFeatures,
) -> Vec<MapAnswer> {
    model
        .features()
        .iter()
        .filter(|spec| spec.geo.is_some())
        .filter_map(|spec| map_answer(model, reference, current, &spec.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::features::CategoricalProfile;
    use crate::drift::reference::CategoricalReference;
    use crate::schema::ModelDefinition;

    fn model() -> Model {
        let definition: ModelDefinition = serde_json::from_str(
            r#"{"task": "regression", "features": [
                {"name": "country", "type": "categorical", "geo": "country"},
                {"name": "plan", "type": "categorical"}]}"#,
        )
        .unwrap();
        Model::new("m", definition).unwrap()
    }

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(v, c)| (v.to_string(), *c)).collect()
    }

    #[test]
    fn counts_gather_by_code_in_any_case_with_the_reference_shares() {
        let mut current = WindowFeatures::default();
        current.features.insert(
            "country".into(),
            FeatureProfile::Categorical(CategoricalProfile {
                missing: 2,
                type_errors: 0,
                counts: counts(&[("FR", 3), ("fr", 1), ("DE", 2), ("xx", 1)]),
                other: 1,
            }),
        );
        let reference = ReferenceProfile {
            generation: 1,
            rows: 4,
            features: [(
                "country".to_string(),
                ReferenceFeature::Categorical(CategoricalReference {
                    count: 4,
                    missing: 0,
                    counts: counts(&[("FR", 1), ("DE", 1), ("US", 2)]),
                }),
            )]
            .into(),
            estimation: None,
            correlations: Default::default(),
        };
        let map = map_answer(&model(), Some(&reference), &current, "country").unwrap();
        // By hand: 6 rows name a country (FR 3 + fr 1 + DE 2); the reference's 4 do.
        let expected = [
            ("DE", 2, 2.0 / 6.0, 0.25),
            ("FR", 4, 4.0 / 6.0, 0.25),
            ("US", 0, 0.0, 0.5),
        ];
        assert_eq!(map.countries.len(), 3);
        for (entry, (code, count, share, reference_share)) in map.countries.iter().zip(expected) {
            assert_eq!(entry.code, code);
            assert_eq!(entry.count, count);
            assert_eq!(entry.share, share);
            assert_eq!(entry.reference_share, Some(reference_share));
            assert_eq!(entry.share_change, Some(share - reference_share));
        }
        assert_eq!(map.not_a_country, 2, "`xx` and the one folded away");
        assert_eq!(map.missing, 2);
        assert!(map_answer(&model(), None, &current, "plan").is_none());
        let without_reference = map_answer(&model(), None, &current, "country").unwrap();
        assert_eq!(without_reference.countries.len(), 2);
        assert!(without_reference.countries[0].share_change.is_none());
    }

    #[test]
    fn only_categorical_features_without_pii_may_be_geographic() {
        for (feature, field) in [
            (
                r#"{"name":"c","type":"numeric","geo":"country"}"#,
                "features[0].geo",
            ),
            (
                r#"{"name":"c","type":"categorical","pii":true,"geo":"country"}"#,
                "features[0].geo",
            ),
        ] {
            let definition: ModelDefinition = serde_json::from_str(&format!(
                r#"{{"task": "regression", "features": [{feature}]}}"#
            ))
            .unwrap();
            let error = Model::new("m", definition).unwrap_err();
            assert_eq!(error.field, field);
        }
        let unknown = serde_json::from_str::<ModelDefinition>(
            r#"{"task": "regression", "features": [{"name":"c","type":"categorical","geo":"city"}]}"#,
        );
        assert!(unknown.is_err());
    }
}

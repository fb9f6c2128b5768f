//! References: profile an uploaded data set and store it, with its chunk profiles, in
//! one transaction; show a stored one.

use std::io::Read;
use std::sync::Arc;

use modelwatch_core::drift::ReferenceProfile;
use modelwatch_core::drift::reference::ReferenceFeature;
use modelwatch_core::drift::stats::finite;
use modelwatch_core::time::{format_timestamp, now_ms};
use modelwatch_store::ModelEntry;
use serde_json::{Value, json};

use super::answers::no_reference;
use super::blocking;
use crate::error::{ApiError, ErrorCode};
use crate::state::Catalog;
use crate::upload::{ReferenceFormat, profile_reference};

/// What a reference is shown as: its rows, generation and upload time.
pub fn reference_json(reference: &ReferenceProfile, uploaded_ms: i64) -> Value {
    json!({
        "rows": reference.rows,
        "generation": reference.generation,
        "uploaded_at": format_timestamp(uploaded_ms),
    })
}

/// Profiles the reference read from `body` and replaces the model's reference with
/// it. Invalid rows refuse the whole upload unless `skip_invalid`; nothing is changed
/// then. The reference and its chunk profiles are committed together.
pub async fn upload(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    body: impl Read + Send + 'static,
    format: ReferenceFormat,
    skip_invalid: bool,
) -> Result<Value, ApiError> {
    let (model, pii) = (entry.model.clone(), catalog.pii.clone());
    let spill_dir = catalog.data_dir.clone();
    let input_limits = catalog.limits.input();
    let profiled =
        blocking(move || profile_reference(body, format, &model, &pii, &spill_dir, &input_limits))
            .await?;
    let rejected: Vec<Value> = profiled
        .rejected
        .iter()
        .take(100)
        .map(|(position, e)| json!({"row": position, "field": e.field, "error": e.to_string()}))
        .collect();
    if !profiled.rejected.is_empty() && !skip_invalid {
        let (position, first) = &profiled.rejected[0];
        return Err(ApiError::new(
            ErrorCode::InvalidReference,
            format!(
                "{} rows are invalid (row {position}: {first}); nothing was changed. Fix them, or add ?skip_invalid=true to keep the valid rows",
                profiled.rejected.len()
            ),
        )
        .field(first.field.clone()));
    }
    if profiled.accepted == 0 {
        return Err(
            ApiError::new(ErrorCode::EmptyReference, "the reference has no valid rows")
                .field("body"),
        );
    }
    let now = now_ms();
    let reference = catalog
        .store
        .set_reference(
            entry.clone(),
            profiled.profile,
            profiled.chunks.encode(),
            now,
        )
        .await?;
    catalog
        .references
        .insert(entry.id, (reference.clone(), now));
    let mut answer = reference_json(&reference, now);
    answer["accepted"] = json!(profiled.accepted);
    answer["rejected"] = Value::Array(rejected);
    Ok(answer)
}

/// A model's current reference with its per-feature summary.
pub fn describe(catalog: &Catalog, entry: &ModelEntry) -> Result<Value, ApiError> {
    let (reference, uploaded) = catalog
        .reference_with_time(entry.id)
        .ok_or_else(|| no_reference(&entry.model.name))?;
    let mut answer = reference_json(&reference, uploaded);
    answer["features"] = reference
        .features
        .iter()
        .map(|(name, feature)| match feature {
            ReferenceFeature::Numeric(n) => json!({"name": name, "type": "numeric", "count": n.count, "missing": n.missing,
                "min": finite(n.min), "max": finite(n.max), "mean": finite(n.mean), "std": finite(n.std_population),
                "deciles": n.decile_edges}),
            ReferenceFeature::Categorical(c) => categorical_json(name, c),
        })
        .collect();
    Ok(answer)
}

/// Most categories of one feature that `GET .../reference` lists; the others are
/// summed under `other_categories` (a reference of a million categories made the answer
/// 36 MB, and eight at once took 818 MB).
pub const MAX_LISTED_CATEGORIES: usize = 1_000;

/// One categorical feature of the reference answer: its most frequent categories (ties
/// by value), and, when there are more, how many others there are and their count.
fn categorical_json(
    name: &str,
    feature: &modelwatch_core::drift::reference::CategoricalReference,
) -> Value {
    let mut answer = json!({"name": name, "type": "categorical", "count": feature.count,
        "missing": feature.missing});
    if feature.counts.len() <= MAX_LISTED_CATEGORIES {
        answer["categories"] = json!(feature.counts);
        return answer;
    }
    let mut by_count: Vec<(&String, &u64)> = feature.counts.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let (listed, others) = by_count.split_at(MAX_LISTED_CATEGORIES);
    answer["categories"] = Value::Object(
        listed
            .iter()
            .map(|(value, count)| ((*value).clone(), json!(count)))
            .collect(),
    );
    answer["other_categories"] = json!({
        "distinct": others.len(),
        "count": others.iter().map(|(_, count)| **count).sum::<u64>(),
    });
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelwatch_core::drift::reference::CategoricalReference;

    #[test]
    fn a_reference_of_many_categories_lists_the_most_frequent_and_sums_the_rest() {
        // Category i has count i + 1 (1..=1,500): the 1,000 listed are 501..=1,500,
        // the other 500 sum to 1 + 2 + … + 500 = 125,250.
        let counts: std::collections::BTreeMap<String, u64> =
            (0..1_500u64).map(|i| (format!("c{i:04}"), i + 1)).collect();
        let feature = CategoricalReference {
            count: counts.values().sum(),
            missing: 0,
            counts,
        };
        let answer = categorical_json("city", &feature);
        let listed = answer["categories"].as_object().unwrap();
        assert_eq!(listed.len(), MAX_LISTED_CATEGORIES);
        assert_eq!(listed["c1499"], 1_500);
        assert_eq!(listed["c0500"], 501);
        assert!(!listed.contains_key("c0499"));
        assert_eq!(
            answer["other_categories"],
            json!({"distinct": 500, "count": 125_250})
        );
        assert_eq!(answer["count"], 1_125_750);
    }
}

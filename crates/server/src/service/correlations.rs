//! The correlations answer and the scatter sample of a range (`GET .../correlations`,
//! `GET .../correlations/sample`): the correlations of the feature windows merged over
//! the range, against the reference's co-moments.

use std::sync::Arc;

use modelwatch_core::FieldError;
use modelwatch_core::answer::{AnswerRange, CorrelationsAnswer, SampleAnswer};
use modelwatch_core::correlation::matrix::{SampleError, correlations_answer, sample_answer};
use modelwatch_core::correlation::{Columns, Correlations};
use modelwatch_store::ModelEntry;
use serde::Deserialize;

use super::blocking;
use super::ranges::{MergedRange, Range, RangeParams, flushed_features};
use crate::error::ApiError;
use crate::state::Catalog;

/// The query of `GET .../correlations`: a range and a version, no step.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorrelationsQuery {
    /// Start of the range (inclusive).
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Only this model version.
    pub version: Option<String>,
}

/// The query of `GET .../correlations/sample`: a range, a version and two columns.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleQuery {
    /// Start of the range (inclusive).
    pub from: Option<String>,
    /// End of the range (exclusive).
    pub to: Option<String>,
    /// Only this model version.
    pub version: Option<String>,
    /// The column on the horizontal axis (required).
    pub x: Option<String>,
    /// The column on the vertical axis (required).
    pub y: Option<String>,
}

fn range_of(
    from: Option<String>,
    to: Option<String>,
    version: Option<String>,
) -> Result<Range, ApiError> {
    Range::try_from(RangeParams {
        from,
        to,
        step: None,
        version,
    })
}

/// The merged correlations of `range` on the model's columns, and the range covered.
async fn merged(
    catalog: &Catalog,
    entry: &ModelEntry,
    range: &Range,
) -> Result<(Correlations, u64, Columns, AnswerRange), ApiError> {
    let MergedRange {
        merged,
        first,
        last_end,
    } = flushed_features(catalog, entry, range).await?;
    let columns = Columns::current(&entry.model);
    let bounds = AnswerRange::new(
        &entry.model.name,
        (range.from, range.to),
        (first, last_end),
        range.version.as_deref(),
    );
    let aligned = merged.correlations.aligned_to(&columns.names);
    Ok((aligned, merged.rows, columns, bounds))
}

/// The correlations answer of a range.
pub async fn correlations(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    query: CorrelationsQuery,
) -> Result<CorrelationsAnswer, ApiError> {
    let range = range_of(query.from, query.to, query.version)?;
    let (current, rows, columns, bounds) = merged(catalog, &entry, &range).await?;
    let reference = catalog.reference(entry.id);
    blocking(move || {
        let reference = reference
            .as_deref()
            .map(|r| &r.correlations)
            .filter(|c| !c.columns.is_empty());
        Ok(correlations_answer(&current, reference, rows, columns.left_out).in_range(bounds))
    })
    .await
}

/// The sampled points of two columns over a range.
pub async fn sample(
    catalog: &Catalog,
    entry: Arc<ModelEntry>,
    query: SampleQuery,
) -> Result<SampleAnswer, ApiError> {
    let required = |value: Option<String>, field: &str| {
        value.ok_or_else(|| {
            ApiError::invalid(FieldError::new(
                field,
                "is required: a column of the correlations answer",
            ))
        })
    };
    let x = required(query.x, "x")?;
    let y = required(query.y, "y")?;
    let range = range_of(query.from, query.to, query.version)?;
    let columns = Columns::current(&entry.model);
    // Check the columns before reading anything.
    for (field, name) in [("x", &x), ("y", &y)] {
        if !columns.names.contains(name) {
            return Err(unknown_column(field, name, &columns));
        }
    }
    let (current, _, columns, bounds) = merged(catalog, &entry, &range).await?;
    sample_answer(&current, &columns.names, &x, &y, bounds).map_err(|error| match error {
        SampleError::UnknownColumn(field, name) => unknown_column(field, &name, &columns),
    })
}

fn unknown_column(field: &str, name: &str, columns: &Columns) -> ApiError {
    let shown: String = name.chars().take(64).collect();
    ApiError::invalid(FieldError::new(
        field,
        format!(
            "`{shown}` is not a column of the correlations (they are: {})",
            columns.names.join(", ")
        ),
    ))
}
